/*
 * toml_json.c: the TOML tree -> toml-test tagged JSON conversion and the
 * file reader shared by toml-decode and toml-conformance (see toml_json.h).
 * Single-threaded test code; allocation failures abort (xmalloc).
 */
#include "toml_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"
#include "util/xmalloc.h"

char *
toml_json_read_file(const char *path, size_t *len)
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

/* The shortest "%.*g" text that reads back as d (17 digits always do). */
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
tagged(enum toml_type t, const char *value, size_t len,
    toml_json_encode_fn encode)
{
	json_t *j;
	char *e;
	size_t n;

	if (encode == NULL)
		return json_pack("{s:s, s:s%}", "type", toml_type_name(t),
		    "value", value, len);
	e = encode(value, len, &n);
	j = json_pack("{s:s, s:s%}", "type", toml_type_name(t), "value", e, n);
	free(e);
	return j;
}

/*
 * Keys go in unchecked: toml_parse() has already rejected any document that
 * is not strict UTF-8, and an encoder must keep it so.
 */
static void
set_key(json_t *obj, const char *key, size_t len, json_t *value,
    toml_json_encode_fn encode)
{
	char *e;
	size_t n;

	if (encode == NULL) {
		json_object_setn_new_nocheck(obj, key, len, value);
		return;
	}
	e = encode(key, len, &n);
	json_object_setn_new_nocheck(obj, e, n, value);
	free(e);
}

json_t *
toml_json_from_toml(const struct toml_value *v, toml_json_encode_fn encode)
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
			set_key(j, toml_table_key(v, i),
			    toml_table_key_len(v, i),
			    toml_json_from_toml(toml_table_value(v, i), encode),
			    encode);
		return j;
	case TOML_ARRAY:
		j = json_array();
		for (i = 0; i < toml_array_len(v); i++)
			json_array_append_new(j,
			    toml_json_from_toml(toml_array_get(v, i), encode));
		return j;
	case TOML_STRING:
		s = toml_string(v, &len);
		return tagged(t, s, len, encode);
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
	return tagged(t, buf, strlen(buf), encode);
}
