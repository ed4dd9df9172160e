/*
 * test_log.c: log lines as a reader sees them: levels, the text and JSON
 * forms, session ids, escaping, and redaction of registered secrets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

static int pipefd[2];

static int
setup(void **state)
{
	(void)state;
	if (pipe(pipefd) != 0)
		return -1;
	log_set_fd(pipefd[1]);
	log_set_level(LOG_INFO);
	log_set_format(LOG_FORMAT_TEXT);
	log_clear_secrets();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_fd(2);
	close(pipefd[0]);
	close(pipefd[1]);
	log_clear_secrets();
	return 0;
}

/* Everything written so far (one read is enough for these small lines). */
static char *
drain(void)
{
	static char buf[65536];
	ssize_t n;

	/* A marker line lets us read without blocking on an empty pipe. */
	if (write(pipefd[1], "#END\n", 5) != 5)
		return NULL;
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	assert_true(n >= 5);
	buf[n - 5] = '\0';
	return buf;
}

static void
test_levels(void **state)
{
	char *out;

	(void)state;
	log_set_level(LOG_WARN);
	log_info("test", "not shown");
	log_warnx("test", "shown %d", 42);
	out = drain();
	assert_null(strstr(out, "not shown"));
	assert_non_null(strstr(out, " warn  [test] shown 42\n"));
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("warning"), LOG_WARN);
	assert_int_equal(log_level_parse("loud"), -1);
}

static void
test_text_form(void **state)
{
	char *out;

	(void)state;
	errno = ENOENT;
	log_warn("store", "cannot open spool");
	log_sinfo("stratum", 17, "line one\nforged line");
	out = drain();
	assert_non_null(strstr(out,
	    "[store] cannot open spool: No such file or directory\n"));
	/* A peer's newline cannot start a new log line. */
	assert_non_null(strstr(out,
	    "[stratum] session=17 line one?forged line\n"));
	/* Timestamp first: 2026-11-25T18:40:00.123Z */
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[23], 'Z');
}

static void
test_json_form(void **state)
{
	json_error_t jerr;
	json_t *j;
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	log_sinfo("stratum", 99, "quote \" backslash \\ tab \t bell \a");
	out = drain();
	j = json_loads(out, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")),
	    "info");
	assert_string_equal(json_string_value(json_object_get(j,
	    "component")), "stratum");
	assert_int_equal(json_integer_value(json_object_get(j, "session")),
	    99);
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	    "quote \" backslash \\ tab \t bell \a");
	assert_non_null(json_object_get(j, "ts"));
	json_decref(j);
}

static void
test_secrets_redacted(void **state)
{
	char *out;

	(void)state;
	log_add_secret("hunter2-pool");
	log_add_secret("pw");	/* too short to redact safely: ignored */
	log_info("config", "password is hunter2-pool, twice: hunter2-pool");
	log_set_format(LOG_FORMAT_JSON);
	log_info("config", "json hunter2-pool too; pw stays");
	out = drain();
	assert_null(strstr(out, "hunter2-pool"));
	assert_non_null(strstr(out, "password is ***, twice: ***"));
	assert_non_null(strstr(out, "json *** too; pw stays"));
	log_clear_secrets();
	log_set_format(LOG_FORMAT_TEXT);
	log_info("config", "hunter2-pool");
	out = drain();
	assert_non_null(strstr(out, "hunter2-pool"));
}

static void
test_long_message_truncated(void **state)
{
	char big[5000];
	char *out;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("test", "%s", big);
	out = drain();
	assert_non_null(strstr(out, "xxx...\n"));
	assert_true(strlen(out) < 2200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_form, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_json_form, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_secrets_redacted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_message_truncated,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
