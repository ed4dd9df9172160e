/*
 * toml_decode.c: toml-decode FILE -- parse FILE with Loka's TOML parser and
 * print the toml-test "tagged JSON" form of it on stdout (exit 0), or print
 * "FILE:LINE:COL: message" on stderr and exit 1. Exit 2 on usage or I/O
 * errors. This is the decoder interface the toml-test tool drives.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/toml.h"
#include "util/xmalloc.h"

static const char *const tags[TOML_TYPE_MAX] = {
	[TOML_STRING] = "string",
	[TOML_INTEGER] = "integer",
	[TOML_FLOAT] = "float",
	[TOML_BOOL] = "bool",
	[TOML_DATETIME] = "datetime",
	[TOML_DATETIME_LOCAL] = "datetime-local",
	[TOML_DATE_LOCAL] = "date-local",
	[TOML_TIME_LOCAL] = "time-local",
};

static char *
read_file(const char *path, size_t *len)
{
	FILE *f;
	char *buf = NULL;
	size_t cap = 0, got;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	*len = 0;
	do {
		if (*len + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			buf = xreallocarray(buf, cap, 1);
		}
		got = fread(buf + *len, 1, cap - *len - 1, f);
		*len += got;
	} while (got > 0);
	buf[*len] = '\0';
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void
format_float(double d, char *buf, size_t size)
{
	int prec;

	if (isnan(d)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, size, "%sinf", d < 0 ? "-" : "");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
}

static json_t *
tagged(const char *type, const char *value, size_t len)
{
	return json_pack("{s:s, s:s%}", "type", type, "value", value, len);
}

static json_t *
to_json(const struct toml_value *v)
{
	json_t *j;
	char buf[64];
	const char *s;
	size_t i, len;
	enum toml_type t = toml_type(v);

	switch (t) {
	case TOML_TABLE:
		j = json_object();
		for (i = 0; i < toml_table_len(v); i++)
			json_object_setn_new_nocheck(j, toml_table_key(v, i),
			    toml_table_key_len(v, i),
			    to_json(toml_table_value(v, i)));
		return j;
	case TOML_ARRAY:
		j = json_array();
		for (i = 0; i < toml_array_len(v); i++)
			json_array_append_new(j, to_json(toml_array_get(v, i)));
		return j;
	case TOML_STRING:
		s = toml_string(v, &len);
		return tagged(tags[t], s, len);
	case TOML_INTEGER:
		snprintf(buf, sizeof(buf), "%" PRId64, toml_int(v));
		break;
	case TOML_FLOAT:
		format_float(toml_float(v), buf, sizeof(buf));
		break;
	case TOML_BOOL:
		snprintf(buf, sizeof(buf), "%s", toml_bool(v) ? "true" : "false");
		break;
	default:
		if (toml_datetime_format(v, buf, sizeof(buf)) < 0)
			return json_null();
		break;
	}
	return tagged(tags[t], buf, strlen(buf));
}

int
main(int argc, char **argv)
{
	struct toml_error err;
	struct toml_value *root;
	json_t *j;
	char *text;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: toml-decode FILE\n");
		return 2;
	}
	if ((text = read_file(argv[1], &len)) == NULL) {
		perror(argv[1]);
		return 2;
	}
	root = toml_parse(text, len, &err);
	free(text);
	if (root == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[1], err.line, err.col,
		    err.msg);
		return 1;
	}
	j = to_json(root);
	toml_free(root);
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(j);
	return 0;
}
