/*
 * toml_conformance.c: toml-conformance DIR -- run Loka's TOML parser over
 * the toml-test suite at DIR (the toml-test root) for TOML 1.0.0.
 *
 * Every valid/ file must parse and, turned into toml-test's tagged JSON,
 * equal the .json beside it as data; every invalid/ file must be rejected.
 * Prints one "FAIL ..." line per failure and a summary line; exit 0 iff all
 * passed, 1 otherwise, 77 (skip) if the suite is not there.
 *
 * jansson cannot hold NUL in object keys, and one test has a "\u0000" key,
 * so both sides map every string through the same injective encoding
 * first: U+0001 becomes U+0001 U+0001 and U+0000 becomes U+0001 U+0002
 * (in the expected file this is done on the JSON escapes).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config/toml.h"
#include "toml_json.h"
#include "util/xmalloc.h"

#define LIST "tests/files-toml-1.0.0"

/* The NUL encoding (see the top) of s[0, len), as a new string. */
static char *
encode_nul(const char *s, size_t len, size_t *outlen)
{
	char *o = xmalloc(2 * len + 1);
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] == '\1') {
			o[n++] = '\1';
			o[n++] = s[i] == '\0' ? '\2' : '\1';
		} else
			o[n++] = s[i];
	}
	o[n] = '\0';
	*outlen = n;
	return o;
}

/* The same encoding on the \u0000 and \u0001 escapes of JSON text. */
static char *
encode_nul_json(const char *s, size_t len)
{
	char *o = xmalloc(2 * len + 1);
	size_t i = 0, n = 0;
	int in_str = 0;

	while (i < len) {
		if (s[i] == '"') {
			in_str = !in_str;
		} else if (in_str && s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'u' && i + 6 <= len &&
			    strncasecmp(s + i + 2, "000", 3) == 0 &&
			    (s[i + 5] == '0' || s[i + 5] == '1')) {
				memcpy(o + n, "\\u0001", 6);
				memcpy(o + n + 6, s[i + 5] == '0' ?
				    "\\u0002" : "\\u0001", 6);
				n += 12;
				i += 6;
				continue;
			}
			o[n++] = s[i++];
		}
		o[n++] = s[i++];
	}
	o[n] = '\0';
	return o;
}

/* {"type": string, "value": string} */
static int
is_tagged(json_t *j)
{
	return json_is_object(j) && json_object_size(j) == 2 &&
	    json_is_string(json_object_get(j, "type")) &&
	    json_is_string(json_object_get(j, "value"));
}

static double
float_value(const char *s)
{
	const char *t = (*s == '+' || *s == '-') ? s + 1 : s;
	double sign = *s == '-' ? -1.0 : 1.0;

	if (strcmp(t, "inf") == 0)
		return sign * INFINITY;
	if (strcmp(t, "nan") == 0)
		return NAN;
	return strtod(s, NULL);
}

/* RFC 3339 text in one form: 'T', 'Z', no "+00:00", no trailing zeros. */
static void
normalize_datetime(const char *s, char *out, size_t size)
{
	size_t i, n = 0, dot = 0;
	int in_frac = 0;

	for (i = 0; s[i] != '\0' && n + 1 < size; i++) {
		char c = s[i];

		if (c == 't' || (c == ' ' && i == 10))
			c = 'T';
		else if (c == 'z')
			c = 'Z';
		if (c == '.') {
			in_frac = 1;
			dot = n;
		} else if (in_frac && (c < '0' || c > '9')) {
			in_frac = 0;
			while (n > dot + 1 && out[n - 1] == '0')
				n--;
			if (n == dot + 1)
				n = dot;
		}
		out[n++] = c;
	}
	if (in_frac) {
		while (n > dot + 1 && out[n - 1] == '0')
			n--;
		if (n == dot + 1)
			n = dot;
	}
	out[n] = '\0';
	if (n >= 6 && (strcmp(out + n - 6, "+00:00") == 0 ||
	    strcmp(out + n - 6, "-00:00") == 0)) {
		out[n - 6] = 'Z';
		out[n - 5] = '\0';
	}
}

static int
scalar_equal(const char *type, const char *a, size_t alen, const char *b,
    size_t blen)
{
	char na[128], nb[128];
	double fa, fb;

	if (strcmp(type, "float") == 0) {
		fa = float_value(a);
		fb = float_value(b);
		return (isnan(fa) && isnan(fb)) || fa == fb;
	}
	if (strcmp(type, "integer") == 0)
		return strtoll(a, NULL, 10) == strtoll(b, NULL, 10);
	if (strncmp(type, "date", 4) == 0 || strcmp(type, "time-local") == 0) {
		normalize_datetime(a, na, sizeof(na));
		normalize_datetime(b, nb, sizeof(nb));
		return strcmp(na, nb) == 0;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Compare expected exp with got; on a difference fill why and return 0. */
static int
equal(json_t *exp, json_t *got, const char *path, char *why, size_t size)
{
	const char *key, *et, *gt, *ev, *gv;
	char sub[512];
	json_t *ej, *gj;
	size_t i, klen;
	void *tmp;

	if (is_tagged(exp) || is_tagged(got)) {
		if (!is_tagged(exp) || !is_tagged(got)) {
			snprintf(why, size, "at %s: expected %s, got %s", path,
			    is_tagged(exp) ? "a scalar" : "a table",
			    is_tagged(got) ? "a scalar" : "a table");
			return 0;
		}
		et = json_string_value(json_object_get(exp, "type"));
		gt = json_string_value(json_object_get(got, "type"));
		ev = json_string_value(json_object_get(exp, "value"));
		gv = json_string_value(json_object_get(got, "value"));
		if (strcmp(et, gt) != 0 || !scalar_equal(et, ev,
		    json_string_length(json_object_get(exp, "value")), gv,
		    json_string_length(json_object_get(got, "value")))) {
			snprintf(why, size, "at %s: expected %s %s, got %s %s",
			    path, et, ev, gt, gv);
			return 0;
		}
		return 1;
	}
	if (json_is_object(exp) && json_is_object(got)) {
		if (json_object_size(exp) != json_object_size(got)) {
			snprintf(why, size, "at %s: expected %zu keys, got %zu",
			    path, json_object_size(exp), json_object_size(got));
			return 0;
		}
		json_object_keylen_foreach_safe(exp, tmp, key, klen, ej) {
			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			gj = json_object_getn(got, key, klen);
			if (gj == NULL) {
				snprintf(why, size, "at %s: key missing", sub);
				return 0;
			}
			if (!equal(ej, gj, sub, why, size))
				return 0;
		}
		return 1;
	}
	if (json_is_array(exp) && json_is_array(got)) {
		if (json_array_size(exp) != json_array_size(got)) {
			snprintf(why, size, "at %s: expected %zu elements, got "
			    "%zu", path, json_array_size(exp),
			    json_array_size(got));
			return 0;
		}
		for (i = 0; i < json_array_size(exp); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!equal(json_array_get(exp, i),
			    json_array_get(got, i), sub, why, size))
				return 0;
		}
		return 1;
	}
	snprintf(why, size, "at %s: expected %s, got %s", path,
	    json_is_array(exp) ? "an array" : "a table",
	    json_is_array(got) ? "an array" : "a table");
	return 0;
}

/* One valid/ file: 1 if it passed, else 0 with a FAIL line printed. */
static int
run_valid(const char *dir, const char *name)
{
	char path[4096], why[1024];
	struct toml_error err;
	struct toml_value *root;
	json_t *exp, *got;
	json_error_t jerr;
	char *text, *enc;
	size_t len;
	int ok;

	if ((size_t)snprintf(path, sizeof(path), "%s/tests/%s", dir, name) >=
	    sizeof(path) || (text = toml_json_read_file(path, &len)) == NULL) {
		printf("FAIL %s: cannot read file\n", name);
		return 0;
	}
	root = toml_parse(text, len, &err);
	free(text);
	if (root == NULL) {
		printf("FAIL %s: rejected: %d:%d: %s\n", name, err.line,
		    err.col, err.msg);
		return 0;
	}
	got = toml_json_from_toml(root, encode_nul);
	toml_free(root);
	snprintf(path + strlen(path) - 5, 6, ".json");
	if ((text = toml_json_read_file(path, &len)) == NULL) {
		printf("FAIL %s: cannot read expected JSON\n", name);
		json_decref(got);
		return 0;
	}
	enc = encode_nul_json(text, len);
	free(text);
	exp = json_loads(enc, 0, &jerr);
	free(enc);
	if (exp == NULL) {
		printf("FAIL %s: bad expected JSON: %s\n", name, jerr.text);
		json_decref(got);
		return 0;
	}
	ok = equal(exp, got, "$", why, sizeof(why));
	if (!ok)
		printf("FAIL %s: %s\n", name, why);
	json_decref(exp);
	json_decref(got);
	return ok;
}

/* One invalid/ file: 1 if it was rejected. */
static int
run_invalid(const char *dir, const char *name)
{
	char path[4096];
	struct toml_error err;
	struct toml_value *root;
	char *text;
	size_t len;

	if ((size_t)snprintf(path, sizeof(path), "%s/tests/%s", dir, name) >=
	    sizeof(path) || (text = toml_json_read_file(path, &len)) == NULL) {
		printf("FAIL %s: cannot read file\n", name);
		return 0;
	}
	root = toml_parse(text, len, &err);
	free(text);
	if (root != NULL) {
		printf("FAIL %s: accepted (should be rejected)\n", name);
		toml_free(root);
		return 0;
	}
	if (err.line < 1 || err.col < 1 || err.msg[0] == '\0') {
		printf("FAIL %s: rejected without a position or message\n",
		    name);
		return 0;
	}
	return 1;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int
main(int argc, char **argv)
{
	char path[4096], line[4096];
	int valid = 0, valid_ok = 0, invalid = 0, invalid_ok = 0;
	size_t n;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: toml-conformance DIR\n");
		return 2;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", argv[1], LIST) >=
	    sizeof(path) || (f = fopen(path, "r")) == NULL) {
		printf("toml-test data not found at %s: skipping\n", argv[1]);
		return 77;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (!ends_with(line, ".toml"))
			continue;
		if (strncmp(line, "valid/", 6) == 0) {
			valid++;
			valid_ok += run_valid(argv[1], line);
		} else if (strncmp(line, "invalid/", 8) == 0) {
			invalid++;
			invalid_ok += run_invalid(argv[1], line);
		}
	}
	fclose(f);
	printf("toml-test 1.0.0: valid %d/%d passed, invalid %d/%d rejected\n",
	    valid_ok, valid, invalid_ok, invalid);
	return valid_ok == valid && invalid_ok == invalid && valid > 0 ? 0 : 1;
}
