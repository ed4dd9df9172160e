/*
 * test_toml.c: unit tests for the TOML parser API (src/config/toml.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

static struct toml_value *
parse_ok(const char *text)
{
	struct toml_error err;
	struct toml_value *root = toml_parse(text, strlen(text), &err);

	if (root == NULL)
		fail_msg("unexpected parse error %d:%d: %s", err.line, err.col,
		    err.msg);
	return root;
}

/* Parse must fail; returns the error. */
static struct toml_error
parse_bad(const char *text)
{
	struct toml_error err;
	struct toml_value *root = toml_parse(text, strlen(text), &err);

	if (root != NULL) {
		toml_free(root);
		fail_msg("parse of \"%s\" should have failed", text);
	}
	assert_true(err.line >= 1);
	assert_true(err.col >= 1);
	assert_true(err.msg[0] != '\0');
	return err;
}

static void
test_scalars(void **state)
{
	struct toml_value *root, *v;
	struct toml_datetime dt;
	const char *s;
	size_t len;

	(void)state;
	root = parse_ok(
	    "s = \"hi\\tthere\"\n"
	    "l = 'C:\\path'\n"
	    "i = -42\n"
	    "h = 0xff\n"
	    "f = 6.5e-1\n"
	    "b = true\n"
	    "odt = 1979-05-27T07:32:00.5-07:30\n"
	    "ldt = 1979-05-27 07:32:00\n"
	    "ld = 1979-05-27\n"
	    "lt = 07:32:01.123\n");
	assert_int_equal(toml_type(root), TOML_TABLE);
	assert_int_equal(toml_table_len(root), 10);

	v = toml_table_get(root, "s");
	assert_int_equal(toml_type(v), TOML_STRING);
	s = toml_string(v, &len);
	assert_string_equal(s, "hi\tthere");
	assert_int_equal(len, 8);
	assert_string_equal(toml_string(toml_table_get(root, "l"), NULL),
	    "C:\\path");

	v = toml_table_get(root, "i");
	assert_int_equal(toml_type(v), TOML_INTEGER);
	assert_true(toml_int(v) == -42);
	assert_true(toml_int(toml_table_get(root, "h")) == 255);

	v = toml_table_get(root, "f");
	assert_int_equal(toml_type(v), TOML_FLOAT);
	assert_true(toml_float(v) == 0.65);

	v = toml_table_get(root, "b");
	assert_int_equal(toml_type(v), TOML_BOOL);
	assert_true(toml_bool(v));

	v = toml_table_get(root, "odt");
	assert_int_equal(toml_type(v), TOML_DATETIME);
	assert_int_equal(toml_datetime(v, &dt), 0);
	assert_int_equal(dt.year, 1979);
	assert_int_equal(dt.month, 5);
	assert_int_equal(dt.day, 27);
	assert_int_equal(dt.hour, 7);
	assert_int_equal(dt.minute, 32);
	assert_int_equal(dt.second, 0);
	assert_int_equal(dt.nanosecond, 500000000);
	assert_int_equal(dt.frac_digits, 1);
	assert_int_equal(dt.offset_minutes, -450);

	v = toml_table_get(root, "ldt");
	assert_int_equal(toml_type(v), TOML_DATETIME_LOCAL);
	assert_int_equal(toml_datetime(v, &dt), 0);
	assert_int_equal(dt.hour, 7);
	assert_int_equal(dt.offset_minutes, 0);

	v = toml_table_get(root, "ld");
	assert_int_equal(toml_type(v), TOML_DATE_LOCAL);
	assert_int_equal(toml_datetime(v, &dt), 0);
	assert_int_equal(dt.day, 27);
	assert_int_equal(dt.hour, 0);

	v = toml_table_get(root, "lt");
	assert_int_equal(toml_type(v), TOML_TIME_LOCAL);
	assert_int_equal(toml_datetime(v, &dt), 0);
	assert_int_equal(dt.year, 0);
	assert_int_equal(dt.second, 1);
	assert_int_equal(dt.nanosecond, 123000000);
	assert_int_equal(dt.frac_digits, 3);

	assert_null(toml_table_get(root, "missing"));
	toml_free(root);
}

static void
test_floats(void **state)
{
	struct toml_value *root;

	(void)state;
	root = parse_ok("a = inf\nb = -inf\nc = nan\nd = -0.0\n"
	    "e = 1_000.5\nf = 1e3\n");
	assert_true(isinf(toml_float(toml_table_get(root, "a"))));
	assert_true(toml_float(toml_table_get(root, "a")) > 0);
	assert_true(toml_float(toml_table_get(root, "b")) < 0);
	assert_true(isnan(toml_float(toml_table_get(root, "c"))));
	assert_true(signbit(toml_float(toml_table_get(root, "d"))));
	assert_true(toml_float(toml_table_get(root, "e")) == 1000.5);
	assert_true(toml_float(toml_table_get(root, "f")) == 1000.0);
	toml_free(root);

	parse_bad("a = .5\n");
	parse_bad("a = 5.\n");
	parse_bad("a = 1e\n");
	parse_bad("a = 01.5\n");
	parse_bad("a = 1__0.0\n");
	parse_bad("a = 1.0_\n");
	parse_bad("a = infinity\n");
	parse_bad("a = 1e400\n");      /* would be inf: out of range */
}

static void
test_arrays_and_tables(void **state)
{
	struct toml_value *root, *a, *t;

	(void)state;
	root = parse_ok(
	    "a = [1, \"two\", [3], {x = 4},]\n"
	    "[[p]]\nn = 1\n[[p]]\nn = 2\n"
	    "[t.u]\nv = {w.x = 5}\n");
	a = toml_table_get(root, "a");
	assert_int_equal(toml_type(a), TOML_ARRAY);
	assert_int_equal(toml_array_len(a), 4);
	assert_true(toml_int(toml_array_get(a, 0)) == 1);
	assert_string_equal(toml_string(toml_array_get(a, 1), NULL), "two");
	assert_int_equal(toml_type(toml_array_get(a, 2)), TOML_ARRAY);
	assert_true(toml_int(toml_table_get(toml_array_get(a, 3), "x")) == 4);
	assert_null(toml_array_get(a, 4));

	a = toml_table_get(root, "p");
	assert_int_equal(toml_type(a), TOML_ARRAY);
	assert_int_equal(toml_array_len(a), 2);
	assert_true(toml_int(toml_table_get(toml_array_get(a, 1), "n")) == 2);

	t = toml_table_get(toml_table_get(root, "t"), "u");
	assert_int_equal(toml_type(t), TOML_TABLE);
	t = toml_table_get(toml_table_get(t, "v"), "w");
	assert_true(toml_int(toml_table_get(t, "x")) == 5);
	toml_free(root);
}

static void
test_key_order(void **state)
{
	static const char *const want[] = {
		"zeta", "alpha", "m", "quoted key", "b", "a"
	};
	struct toml_value *root;
	size_t i;

	(void)state;
	root = parse_ok("zeta = 1\nalpha = 2\nm.n = 3\n\"quoted key\" = 4\n"
	    "[b]\n[a]\n");
	assert_int_equal(toml_table_len(root), 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(toml_table_key(root, i), want[i]);
	assert_null(toml_table_key(root, 6));
	assert_null(toml_table_value(root, 6));
	assert_true(toml_int(toml_table_value(root, 1)) == 2);
	toml_free(root);
}

static void
test_positions(void **state)
{
	struct toml_value *root, *v, *a;

	(void)state;
	root = parse_ok(
	    "# comment\n"
	    "name = \"x\"\n"
	    "  indented = 1\n"
	    "arr = [\n"
	    "  10,\n"
	    "     20 ]\n"
	    "\n"
	    "  [server.tls]\n"
	    "cert = 'c'\n"
	    "[[pool]]\n"
	    "url = 'u'\n");
	assert_int_equal(toml_line(root), 1);
	v = toml_table_get(root, "name");
	assert_int_equal(toml_line(v), 2);
	assert_int_equal(toml_col(v), 1);
	v = toml_table_get(root, "indented");
	assert_int_equal(toml_line(v), 3);
	assert_int_equal(toml_col(v), 3);
	a = toml_table_get(root, "arr");
	assert_int_equal(toml_line(a), 4);
	assert_int_equal(toml_line(toml_array_get(a, 0)), 5);
	assert_int_equal(toml_col(toml_array_get(a, 0)), 3);
	assert_int_equal(toml_line(toml_array_get(a, 1)), 6);
	assert_int_equal(toml_col(toml_array_get(a, 1)), 6);
	/* A table: its header. */
	v = toml_table_get(toml_table_get(root, "server"), "tls");
	assert_int_equal(toml_line(v), 8);
	assert_int_equal(toml_col(v), 3);
	assert_int_equal(toml_line(toml_table_get(v, "cert")), 9);
	a = toml_table_get(root, "pool");
	assert_int_equal(toml_line(toml_array_get(a, 0)), 10);
	assert_int_equal(toml_col(toml_array_get(a, 0)), 1);
	assert_int_equal(toml_line(toml_table_get(toml_array_get(a, 0),
	    "url")), 11);
	toml_free(root);

	/* An implicit table takes the position of its later header. */
	root = parse_ok("[a.b]\nx = 1\n\n[a]\n");
	assert_int_equal(toml_line(toml_table_get(root, "a")), 4);
	toml_free(root);

	/* CRLF counts as one line; a BOM is not a column. */
	root = parse_ok("\xef\xbb\xbf" "a = 1\r\nb = 2\r\n");
	assert_int_equal(toml_col(toml_table_get(root, "a")), 1);
	assert_int_equal(toml_line(toml_table_get(root, "b")), 2);
	assert_int_equal(toml_col(toml_table_get(root, "b")), 1);
	toml_free(root);
}

static void
test_errors(void **state)
{
	struct toml_error err;

	(void)state;
	err = parse_bad("a = 1\nb = \"abc\nc = 2\n");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 5);
	assert_string_equal(err.msg, "unterminated string");

	err = parse_bad("x = 1\ny = 2\n\n\nx = 3\n");
	assert_int_equal(err.line, 5);
	assert_int_equal(err.col, 1);
	assert_non_null(strstr(err.msg, "duplicate key 'x'"));
	assert_non_null(strstr(err.msg, "line 1"));

	err = parse_bad("[t]\na = 1\n[t]\n");
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.msg, "'t'"));
	assert_non_null(strstr(err.msg, "line 1"));

	err = parse_bad("s = \"ok\\q\"\n");
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 8);
	assert_string_equal(err.msg, "invalid escape '\\q'");

	err = parse_bad("a = 1\nb = 2\r");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 6);

	err = parse_bad("a = \"x\xc0\xafy\"\n");
	assert_int_equal(err.col, 7);
	assert_non_null(strstr(err.msg, "UTF-8"));

	err = parse_bad("a = {b = 1,\n}\n");
	assert_int_equal(err.line, 1);

	err = parse_bad("a = [1,\n2\n");
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 5);

	/* A NULL error pointer is allowed. */
	assert_null(toml_parse("a = ", 4, NULL));
}

static void
test_wrong_type(void **state)
{
	struct toml_value *root, *s, *i;
	struct toml_datetime dt;
	char buf[32];
	size_t len = 99;

	(void)state;
	root = parse_ok("s = \"x\"\ni = 1\n");
	s = toml_table_get(root, "s");
	i = toml_table_get(root, "i");
	assert_null(toml_string(i, &len));
	assert_int_equal(len, 0);
	assert_true(toml_int(s) == 0);
	assert_true(toml_float(i) == 0.0);
	assert_false(toml_bool(i));
	assert_int_equal(toml_datetime(i, &dt), -1);
	assert_int_equal(toml_datetime_format(s, buf, sizeof(buf)), -1);
	assert_int_equal(toml_table_len(s), 0);
	assert_null(toml_table_key(s, 0));
	assert_null(toml_table_value(i, 0));
	assert_null(toml_table_get(s, "x"));
	assert_int_equal(toml_array_len(root), 0);
	assert_null(toml_array_get(root, 0));
	assert_null(toml_string(NULL, NULL));
	assert_int_equal(toml_line(NULL), 0);
	assert_int_equal(toml_type(NULL), TOML_TYPE_MAX);
	assert_null(toml_table_get(NULL, "s"));
	assert_string_equal(toml_type_name(TOML_TABLE), "table");
	assert_string_equal(toml_type_name(TOML_DATETIME_LOCAL),
	    "datetime-local");
	toml_free(root);
	toml_free(NULL);
}

static void
test_nul_in_strings(void **state)
{
	struct toml_value *root, *v;
	const char *s;
	size_t len;

	(void)state;
	root = parse_ok("a = \"x\\u0000y\"\n\"k\\u0000\" = 1\n");
	v = toml_table_get(root, "a");
	s = toml_string(v, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "x\0y", 4);
	assert_int_equal(toml_table_key_len(root, 1), 2);
	assert_memory_equal(toml_table_key(root, 1), "k\0", 3);
	toml_free(root);

	/* A raw NUL byte is a control character, never allowed. */
	{
		static const char raw[] = "a = \"x\0y\"\n";
		struct toml_error err;

		assert_null(toml_parse(raw, sizeof(raw) - 1, &err));
		assert_int_equal(err.col, 7);
	}
}

static void
test_escapes(void **state)
{
	struct toml_value *root;

	(void)state;
	root = parse_ok("a = \"\\b\\t\\n\\f\\r\\\"\\\\\\u00e9\\U0001F600\"\n"
	    "b = \"\"\"\\\n   x \\\n\n  y\"\"\"\n");
	assert_string_equal(toml_string(toml_table_get(root, "a"), NULL),
	    "\b\t\n\f\r\"\\\xc3\xa9\xf0\x9f\x98\x80");
	assert_string_equal(toml_string(toml_table_get(root, "b"), NULL),
	    "x y");
	toml_free(root);
	parse_bad("a = \"\\uD800\"\n");
	parse_bad("a = \"\\U00110000\"\n");
	parse_bad("a = \"\\u12\"\n");
	parse_bad("a = \"\\e\"\n");
	parse_bad("a = \"\\ \"\n");
	/* Up to two quotes may touch the closing delimiter. */
	root = parse_ok("a = \"\"\"x\"\"\"\"\"\nb = '''y''''\n");
	assert_string_equal(toml_string(toml_table_get(root, "a"), NULL),
	    "x\"\"");
	assert_string_equal(toml_string(toml_table_get(root, "b"), NULL),
	    "y'");
	toml_free(root);
	parse_bad("a = \"\"\"x\"\"\"\"\"\"\n");
}

static void
test_int_limits(void **state)
{
	struct toml_value *root;
	struct toml_error err;

	(void)state;
	root = parse_ok("max = 9223372036854775807\n"
	    "min = -9223372036854775808\n"
	    "hex = 0x7fffffffffffffff\n");
	assert_true(toml_int(toml_table_get(root, "max")) == INT64_MAX);
	assert_true(toml_int(toml_table_get(root, "min")) == INT64_MIN);
	assert_true(toml_int(toml_table_get(root, "hex")) == INT64_MAX);
	toml_free(root);

	err = parse_bad("x = 9223372036854775808\n");
	assert_int_equal(err.col, 5);
	assert_non_null(strstr(err.msg, "out of range"));
	parse_bad("x = -9223372036854775809\n");
	parse_bad("x = 0x8000000000000000\n");
	parse_bad("x = 99999999999999999999999\n");
	parse_bad("x = 012\n");
	parse_bad("x = 1_\n");
	parse_bad("x = _1\n");
	parse_bad("x = +0x1\n");
}

static void
test_datetime_format(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "1979-05-27T07:32:00Z", "1979-05-27T07:32:00Z" },
		{ "1979-05-27t07:32:00z", "1979-05-27T07:32:00Z" },
		{ "1979-05-27 07:32:00+00:00", "1979-05-27T07:32:00Z" },
		{ "1979-05-27T00:32:00.999999-07:00",
		  "1979-05-27T00:32:00.999999-07:00" },
		{ "1979-05-27T00:32:00.600+05:30",
		  "1979-05-27T00:32:00.600+05:30" },
		{ "1979-05-27T07:32:00", "1979-05-27T07:32:00" },
		{ "1979-05-27", "1979-05-27" },
		{ "07:32:00", "07:32:00" },
		{ "00:00:00.1234567891234", "00:00:00.123456789" },
		{ "2000-02-29", "2000-02-29" },
		{ "1990-12-31T23:59:60Z", "1990-12-31T23:59:60Z" },
	};
	struct toml_value *root;
	char text[128], buf[64];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "d = %s\n", cases[i].in);
		root = parse_ok(text);
		n = toml_datetime_format(toml_table_get(root, "d"), buf,
		    sizeof(buf));
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
		/* snprintf-style truncation. */
		n = toml_datetime_format(toml_table_get(root, "d"), buf, 5);
		assert_int_equal(n, strlen(cases[i].out));
		assert_int_equal(strlen(buf), 4);
		toml_free(root);
	}
	parse_bad("d = 2001-02-29\n");
	parse_bad("d = 1900-02-29\n");
	parse_bad("d = 2000-04-31\n");
	parse_bad("d = 2000-13-01\n");
	parse_bad("d = 24:00:00\n");
	parse_bad("d = 23:60:00\n");
	parse_bad("d = 23:59:61\n");
	parse_bad("d = 07:32\n");
	parse_bad("d = 1979-05-27T07:32:00+24:00\n");
	parse_bad("d = 07:32:00Z\n");
}

static void
test_redefinitions(void **state)
{
	struct toml_value *root;

	(void)state;
	parse_bad("a = 1\na = 2\n");
	parse_bad("[a]\n[a]\n");
	parse_bad("a = {b = 1}\na.c = 2\n");
	parse_bad("a = {b = 1}\n[a.c]\n");
	parse_bad("a = [1]\n[[a]]\n");
	parse_bad("[[a]]\n[a]\n");
	parse_bad("[a]\nb.c = 1\n[a.b]\n");
	parse_bad("[a.b.c]\n[a]\nb.c.d = 1\n");
	parse_bad("a.b = 1\na = 2\n");
	parse_bad("a = {x = 1, x = 2}\n");
	/* Allowed: */
	root = parse_ok("[a.b.c]\n[a]\nd = 1\n");
	toml_free(root);
	root = parse_ok("[a]\nb.c = 1\n[a.b.d]\ne = 2\n");
	toml_free(root);
	/* Dotted keys may extend a table that only a header implied... */
	root = parse_ok("[a.b.c]\n[a]\nb.d = 1\n");
	assert_true(toml_int(toml_table_get(toml_table_get(toml_table_get(
	    root, "a"), "b"), "d")) == 1);
	toml_free(root);
	/* ...which a header cannot define afterwards. */
	parse_bad("[a.b.c]\n[a]\nb.d = 1\n[a.b]\n");
	root = parse_ok("[[a]]\n[a.b]\n[[a]]\n[a.b]\n");
	assert_int_equal(toml_array_len(toml_table_get(root, "a")), 2);
	toml_free(root);
}

static void
test_syntax(void **state)
{
	struct toml_value *root;
	static const char partial[] = "a = 1\nb = 2";

	(void)state;
	parse_bad("a = {\nb = 1}\n");
	parse_bad("a = {b = 1,}\n");
	parse_bad("a = [1,,2]\n");
	parse_bad("a = 1 b = 2\n");
	parse_bad("[a]x = 1\n");
	parse_bad("a = 1 # bad \x7f\n");
	parse_bad("a = \"tab\x01\"\n");
	parse_bad("= 1\n");
	parse_bad("a =\n");
	parse_bad("\"\"\"a\"\"\" = 1\n");
	root = parse_ok("a = [\n  1, # c\n  2,\n]\n\"\" = 'empty key'\n");
	assert_int_equal(toml_array_len(toml_table_get(root, "a")), 2);
	assert_non_null(toml_table_get(root, ""));
	toml_free(root);
	/* The text need not be NUL-terminated: only len bytes count. */
	root = toml_parse(partial, 5, NULL);
	assert_non_null(root);
	assert_int_equal(toml_table_len(root), 1);
	toml_free(root);
	root = toml_parse("", 0, NULL);
	assert_non_null(root);
	assert_int_equal(toml_table_len(root), 0);
	toml_free(root);
}

static void
test_nesting_limit(void **state)
{
	char text[1024];
	struct toml_value *root;
	struct toml_error err;
	int n;

	(void)state;
	/* 128 nested arrays below the root: fine; 129: an error. */
	n = snprintf(text, sizeof(text), "a = ");
	memset(text + n, '[', 128);
	memset(text + n + 128, ']', 128);
	text[n + 256] = '\0';
	root = parse_ok(text);
	toml_free(root);
	n = snprintf(text, sizeof(text), "a = ");
	memset(text + n, '[', 129);
	memset(text + n + 129, ']', 129);
	text[n + 258] = '\0';
	err = parse_bad(text);
	assert_int_equal(err.col, n + 129);
	assert_non_null(strstr(err.msg, "too deep"));
	/* Tables count too: a header path, then an inline table. */
	n = snprintf(text, sizeof(text), "[a");
	while (n < 2 + 2 * 127)
		n += snprintf(text + n, sizeof(text) - (size_t)n, ".a");
	snprintf(text + n, sizeof(text) - (size_t)n, "]\nb = {}\n");
	err = parse_bad(text);
	assert_int_equal(err.line, 2);
}

static void
test_big_table(void **state)
{
	enum { N = 100000 };
	struct toml_value *root;
	char *text, key[32];
	size_t len = 0, cap = (size_t)N * 32;
	int i;

	(void)state;
	text = malloc(cap);
	assert_non_null(text);
	for (i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "k%d = %d\n",
		    i, i);
	root = toml_parse(text, len, NULL);
	assert_non_null(root);
	assert_int_equal(toml_table_len(root), N);
	for (i = 0; i < N; i += 997) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(toml_int(toml_table_get(root, key)) == i);
	}
	assert_null(toml_table_get(root, "k100000"));
	toml_free(root);
	/* A duplicate far into a big table is still found. */
	len += (size_t)snprintf(text + len, cap - len, "k5 = 0\n");
	assert_null(toml_parse(text, len, NULL));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_arrays_and_tables),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_int_limits),
		cmocka_unit_test(test_datetime_format),
		cmocka_unit_test(test_redefinitions),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_big_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
