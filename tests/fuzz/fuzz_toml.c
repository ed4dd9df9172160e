/*
 * fuzz_toml.c: libFuzzer target for the TOML parser. Parses the input,
 * walks the whole tree through the public API (checking a few invariants
 * on the way), formats every date/time, and frees the tree. On a parse
 * error it checks the error carries a position and a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct toml_value *v)
{
	struct toml_datetime dt;
	const char *s, *k;
	char buf[64];
	size_t i, n, len;
	int r;

	if (toml_line(v) < 1 || toml_col(v) < 1)
		abort();
	switch (toml_type(v)) {
	case TOML_TABLE:
		n = toml_table_len(v);
		for (i = 0; i < n; i++) {
			k = toml_table_key(v, i);
			len = toml_table_key_len(v, i);
			if (k == NULL || toml_table_value(v, i) == NULL)
				abort();
			/* Lookup must find the same value (if no NUL). */
			if (strlen(k) == len &&
			    toml_table_get(v, k) != toml_table_value(v, i))
				abort();
			walk(toml_table_value(v, i));
		}
		if (toml_table_key(v, n) != NULL ||
		    toml_table_value(v, n) != NULL)
			abort();
		break;
	case TOML_ARRAY:
		n = toml_array_len(v);
		for (i = 0; i < n; i++) {
			if (toml_array_get(v, i) == NULL)
				abort();
			walk(toml_array_get(v, i));
		}
		if (toml_array_get(v, n) != NULL)
			abort();
		break;
	case TOML_STRING:
		s = toml_string(v, &len);
		if (s == NULL || s[len] != '\0')
			abort();
		break;
	case TOML_INTEGER:
		(void)toml_int(v);
		break;
	case TOML_FLOAT:
		(void)toml_float(v);
		break;
	case TOML_BOOL:
		(void)toml_bool(v);
		break;
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		if (toml_datetime(v, &dt) != 0)
			abort();
		r = toml_datetime_format(v, buf, sizeof(buf));
		if (r < 0 || (size_t)r >= sizeof(buf))
			abort();
		(void)toml_datetime_format(v, buf, 4);
		break;
	default:
		abort();
	}
	/* Wrong-type accessors stay harmless. */
	(void)toml_string(v, NULL);
	(void)toml_table_get(v, "a");
	(void)toml_array_get(v, 0);
	(void)toml_type_name(toml_type(v));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_error err;
	struct toml_value *root;

	root = toml_parse((const char *)data, size, &err);
	if (root == NULL) {
		if (err.line < 1 || err.col < 1 || err.msg[0] == '\0' ||
		    memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		return 0;
	}
	if (toml_type(root) != TOML_TABLE)
		abort();
	walk(root);
	toml_free(root);
	return 0;
}
