/*
 * toml_json.h: helpers shared by the TOML test programs (toml-decode and
 * toml-conformance): read a whole file, and turn a parsed TOML tree into
 * toml-test's "tagged JSON" form, where every scalar becomes
 * {"type": "<toml type>", "value": "<text>"} and tables and arrays become
 * JSON objects and arrays.
 */
#ifndef LOKA_TOML_JSON_H
#define LOKA_TOML_JSON_H

#include <stddef.h>

#include <jansson.h>

struct toml_value;

/*
 * A string mapping applied to every key and string value before it goes into
 * the JSON tree: returns a new NUL-terminated string (freed by the caller)
 * and its length in *outlen. The output must stay valid UTF-8.
 */
typedef char *(*toml_json_encode_fn)(const char *s, size_t len,
    size_t *outlen);

/*
 * toml_json_read_file(path, len): read the whole file at path into a new
 * NUL-terminated buffer (freed by the caller) and store its length, not
 * counting the added NUL, in *len. Returns NULL with errno set when the file
 * cannot be opened or read.
 */
char *toml_json_read_file(const char *path, size_t *len);

/*
 * toml_json_from_toml(v, encode): the tagged JSON of the tree v (a new
 * reference). Integers are printed in decimal, floats in the shortest form
 * that reads back as the same double ("nan", "inf", "-inf" for the special
 * values), datetimes as toml_datetime_format() writes them. When encode is
 * not NULL, every key and every value text is passed through it first (the
 * conformance runner uses this to keep NUL bytes out of jansson's keys); with
 * NULL they are copied as they are.
 */
json_t *toml_json_from_toml(const struct toml_value *v,
    toml_json_encode_fn encode);

#endif
