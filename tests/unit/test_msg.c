/*
 * test_msg.c: Stratum framing (line caps, CRLF) and JSON-RPC
 * classification.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "stratum/msg.h"

static void
test_framing(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char *line;
	size_t len;

	(void)state;
	evbuffer_add_printf(in, "{\"a\":1}\r\n{\"b\"");
	assert_int_equal(msg_read_line(in, 100, &line, &len), 1);
	assert_string_equal(line, "{\"a\":1}");
	assert_int_equal(len, 7);
	free(line);
	/* A partial line waits for more. */
	assert_int_equal(msg_read_line(in, 100, &line, &len), 0);
	evbuffer_add_printf(in, ":2}\n\n");
	assert_int_equal(msg_read_line(in, 100, &line, &len), 1);
	assert_string_equal(line, "{\"b\":2}");
	free(line);
	/* An empty line is a line. */
	assert_int_equal(msg_read_line(in, 100, &line, &len), 1);
	assert_int_equal(len, 0);
	free(line);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}

static void
test_line_cap(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char big[300];
	char *line;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* An incomplete line past the cap is refused before it ends. */
	evbuffer_add(in, big, sizeof(big));
	assert_int_equal(msg_read_line(in, 256, &line, &len), -1);
	/* So is a complete one. */
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, big, 257);
	evbuffer_add(in, "\n", 1);
	assert_int_equal(msg_read_line(in, 256, &line, &len), -1);
	/* Exactly at the cap is fine. */
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, big, 256);
	evbuffer_add(in, "\n", 1);
	assert_int_equal(msg_read_line(in, 256, &line, &len), 1);
	assert_int_equal(len, 256);
	free(line);
	evbuffer_free(in);
}

static int
parse(const char *s, struct msg *m)
{
	char err[200];

	return msg_parse(s, strlen(s), m, err, sizeof(err));
}

static void
test_classify(void **state)
{
	struct msg m;

	(void)state;
	assert_int_equal(parse("{\"id\":1,\"method\":\"mining.subscribe\","
	    "\"params\":[\"a\"]}", &m), 0);
	assert_int_equal(m.kind, MSG_REQUEST);
	assert_string_equal(m.method, "mining.subscribe");
	assert_string_equal(msg_param_str(&m, 0), "a");
	assert_null(msg_param_str(&m, 1));
	msg_clear(&m);

	assert_int_equal(parse("{\"id\":null,\"method\":\"mining.notify\","
	    "\"params\":[]}", &m), 0);
	assert_int_equal(m.kind, MSG_NOTIFICATION);
	assert_null(m.id);
	msg_clear(&m);

	assert_int_equal(parse("{\"method\":\"mining.set_difficulty\","
	    "\"params\":[0.5]}", &m), 0);
	assert_int_equal(m.kind, MSG_NOTIFICATION);
	{
		double d;

		assert_int_equal(msg_param_double(&m, 0, &d), 0);
		assert_true(d == 0.5);
	}
	msg_clear(&m);

	assert_int_equal(parse("{\"id\":\"x\",\"result\":true,\"error\":null}",
	    &m), 0);
	assert_int_equal(m.kind, MSG_RESPONSE);
	assert_true(json_is_true(m.result));
	assert_null(m.error);
	msg_clear(&m);
}

static void
test_bad_input(void **state)
{
	struct msg m;

	(void)state;
	assert_int_equal(parse("not json", &m), MSG_ERR_PARSE);
	assert_int_equal(parse("[1,2]", &m), MSG_ERR_INVALID_REQUEST);
	assert_int_equal(parse("{\"id\":1,\"method\":5}", &m),
	    MSG_ERR_INVALID_REQUEST);
	assert_int_equal(parse("{\"id\":1,\"method\":\"a\",\"params\":{}}",
	    &m), MSG_ERR_INVALID_REQUEST);
	assert_int_equal(parse("{\"id\":[1],\"method\":\"a\"}", &m),
	    MSG_ERR_INVALID_REQUEST);
	assert_int_equal(parse("{\"result\":true}", &m),
	    MSG_ERR_INVALID_REQUEST);
	assert_int_equal(parse("{\"id\":1,\"id\":2,\"method\":\"a\"}", &m),
	    MSG_ERR_PARSE);
	/* NUL inside the line. */
	assert_int_not_equal(msg_parse("{\"id\":1}\0x", 10, &m, (char[64]){ 0 },
	    64), 0);
}

static void
test_send(void **state)
{
	struct evbuffer *out = evbuffer_new();
	json_t *id = json_integer(7);
	char buf[256];
	size_t n;

	(void)state;
	msg_send_result(out, id, json_true());
	msg_send_error(out, NULL, 21, "Job not found");
	msg_send_request(out, NULL, "mining.set_difficulty",
	    json_pack("[f]", 0.25));
	n = evbuffer_remove(out, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	assert_string_equal(buf,
	    "{\"id\":7,\"result\":true,\"error\":null}\n"
	    "{\"id\":null,\"result\":null,\"error\":[21,\"Job not found\","
	    "null]}\n"
	    "{\"id\":null,\"method\":\"mining.set_difficulty\","
	    "\"params\":[0.25]}\n");
	json_decref(id);
	evbuffer_free(out);
}

/* The flat scan: what it takes, and that it declines the rest. */
static int
scan(const char *text, struct msg_scan *sc, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", text);
	return msg_scan(buf, strlen(buf), sc);
}

static void
test_scan(void **state)
{
	static const char *const declined[] = {
		"",
		"{}",
		"[1]",
		"{\"id\":1,\"method\":\"m\",\"params\":[1]}",       /* a number */
		"{\"id\":1,\"method\":\"m\",\"params\":[\"a\\\"b\"]}",/* escape */
		"{\"id\":1.5,\"method\":\"m\"}",                    /* fraction */
		"{\"id\":1e3,\"method\":\"m\"}",
		"{\"id\":0123,\"method\":\"m\"}",                   /* leading 0 */
		"{\"id\":1234567890123456789,\"method\":\"m\"}",    /* 19 digits */
		"{\"id\":1,\"id\":2,\"method\":\"m\"}",             /* twice */
		"{\"id\":1,\"result\":true,\"error\":[21,\"x\",null]}",
		"{\"id\":1,\"result\":{\"a\":1},\"error\":null}",
		"{\"id\":1,\"method\":\"m\",\"extra\":1}",          /* other key */
		"{\"id\":1,\"method\":\"m\"} x",                    /* trailing */
		"{\"id\":1,\"method\":\"m\",}",
		"{\"id\":1,\"method\":\"m\"",
		"{\"id\":1,\"method\":\"caf\xc3\xa9\"}",            /* not ASCII */
		("{\"id\":1,\"method\":\"m\",\"params\":[\"1\",\"2\",\"3\",\"4\","
		    "\"5\",\"6\",\"7\",\"8\",\"9\"]}"),             /* 9 params */
	};
	struct msg_scan sc;
	char buf[512];

	(void)state;
	assert_int_equal(scan("{\"params\": [\"w.1\", \"j\", \"01\", \"5f\", "
	    "\"ab\"], \"id\": 4, \"method\": \"mining.submit\"}\r\n", &sc,
	    buf, sizeof(buf)), 1);
	assert_int_equal(sc.id_type, MSG_SCAN_INT);
	assert_int_equal(sc.id_int, 4);
	assert_int_equal(sc.nparams, 5);
	msg_scan_terminate(&sc);
	assert_string_equal(sc.method.p, "mining.submit");
	assert_string_equal(sc.params[0].p, "w.1");
	assert_string_equal(sc.params[4].p, "ab");

	assert_int_equal(scan("{\"id\":\"s-1\",\"result\":false,\"error\":null}",
	    &sc, buf, sizeof(buf)), 1);
	assert_int_equal(sc.id_type, MSG_SCAN_STRING);
	assert_int_equal(sc.result_type, MSG_SCAN_FALSE);
	assert_int_equal(sc.error_type, MSG_SCAN_NULL);
	assert_int_equal(sc.method_type, MSG_SCAN_ABSENT);
	assert_int_equal(scan("{\"id\":-7,\"method\":\"x\",\"params\":[]}", &sc,
	    buf, sizeof(buf)), 1);
	assert_int_equal(sc.id_int, -7);
	assert_int_equal(sc.params_type, MSG_SCAN_ARRAY);
	assert_int_equal(sc.nparams, 0);
	for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
		char before[512];

		snprintf(before, sizeof(before), "%s", declined[i]);
		if (scan(declined[i], &sc, buf, sizeof(buf)) != 0)
			fail_msg("scanned: %s", declined[i]);
		/* Declining leaves the line as it was, for msg_parse. */
		assert_string_equal(buf, before);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_line_cap),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
