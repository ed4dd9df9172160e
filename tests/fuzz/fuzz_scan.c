/*
 * fuzz_scan.c: libFuzzer target for msg_scan(), the share path's scan of
 * flat Stratum messages. Differential: whenever the scan accepts a line,
 * jansson (msg_parse) must read the same line to the same id, method,
 * params, result and error; the scan never writes to the line; and after
 * msg_scan_terminate() every span is the same C string.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stratum/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 4096

/* Not CHECK(): it must hold in every build, NDEBUG or not. */
#define CHECK(c) do { if (!(c)) abort(); } while (0)

static bool
span_is(const struct msg_span *sp, const char *s)
{
	return s != NULL && strlen(s) == sp->len &&
	    memcmp(sp->p, s, sp->len) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, *copy;
	struct msg_scan sc;
	struct msg m;
	char err[200];
	int rc;

	if (size > FUZZ_MAX)
		return 0;
	line = malloc(size + 1);
	copy = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	memcpy(copy, line, size + 1);
	rc = msg_scan(line, size, &sc);
	CHECK(memcmp(line, copy, size + 1) == 0);
	if (rc != 1)
		goto out;
	rc = msg_parse(copy, size, &m, err, sizeof(err));
	if (rc != 0) {
		/* Only a message that is neither request nor response. */
		CHECK(sc.method_type == MSG_SCAN_ABSENT &&
		    (sc.id_type == MSG_SCAN_ABSENT ||
		    sc.id_type == MSG_SCAN_NULL));
		goto out;
	}
	switch (sc.id_type) {
	case MSG_SCAN_INT:
		CHECK(json_is_integer(m.id) &&
		    json_integer_value(m.id) == sc.id_int);
		break;
	case MSG_SCAN_STRING:
		CHECK(json_is_string(m.id) &&
		    span_is(&sc.id_str, json_string_value(m.id)));
		break;
	default:
		CHECK(m.id == NULL);
		break;
	}
	if (sc.method_type == MSG_SCAN_STRING) {
		CHECK(span_is(&sc.method, m.method));
		if (sc.params_type == MSG_SCAN_ARRAY) {
			CHECK(json_array_size(m.params) == sc.nparams);
			for (size_t i = 0; i < sc.nparams; i++)
				CHECK(span_is(&sc.params[i], json_string_value(
				    json_array_get(m.params, i))));
		} else {
			CHECK(m.params == NULL);
		}
	} else {
		CHECK(m.method == NULL && m.kind == MSG_RESPONSE);
		CHECK(sc.result_type == MSG_SCAN_TRUE ?
		    json_is_true(m.result) : sc.result_type == MSG_SCAN_FALSE ?
		    json_is_false(m.result) : sc.result_type == MSG_SCAN_NULL ?
		    json_is_null(m.result) : m.result == NULL);
		CHECK(m.error == NULL);
	}
	msg_scan_terminate(&sc);
	if (sc.method_type == MSG_SCAN_STRING)
		CHECK(strcmp(sc.method.p, m.method) == 0);
	for (size_t i = 0; i < sc.nparams; i++)
		CHECK(strlen(sc.params[i].p) == sc.params[i].len);
	msg_clear(&m);
out:
	free(line);
	free(copy);
	return 0;
}
