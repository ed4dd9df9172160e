/*
 * toml_internal.h: the value tree shared by toml.c (the parser) and
 * toml_value.c (tree building, accessors). Not for use outside those files.
 */
#ifndef LOKA_TOML_INTERNAL_H
#define LOKA_TOML_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config/toml.h"

/* Deepest tree allowed (tables, arrays, inline tables together). */
#define TOML_MAX_DEPTH 128

/* Flags for the redefinition rules, kept on tables and arrays. */
#define TOML_F_IMPLICIT 0x01 /* table created as the parent of a [header] */
#define TOML_F_DEFINED  0x02 /* table defined by its own header (or root) */
#define TOML_F_DOTTED   0x04 /* table created by a dotted key */
#define TOML_F_INLINE   0x08 /* inline table: closed for good */
#define TOML_F_AOT      0x10 /* array created by [[header]] */

struct toml_kv {
	char *key;      /* NUL-terminated, may hold NUL itself */
	size_t keylen;
	uint32_t hash;
	struct toml_value *val;
};

struct toml_value {
	enum toml_type type;
	int line, col;
	unsigned flags;
	int depth;      /* root is 0 */
	union {
		struct {
			char *ptr;
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
		struct toml_datetime dt;
		struct {
			struct toml_value **items;
			size_t len, cap;
		} arr;
		struct {
			struct toml_kv *kv;
			size_t len, cap;
			size_t *idx;    /* hash index: kv position + 1, 0 = free */
			size_t idxcap;  /* power of two, 0 = no index yet */
		} tab;
	} u;
};

/* A new zeroed value of the given type and position. */
struct toml_value *toml_value_new(enum toml_type type, int line, int col);
/* Key lookup by bytes; NULL if absent. */
struct toml_value *toml_table_find(const struct toml_value *t,
    const char *key, size_t keylen);
/*
 * Append key (taking ownership of the malloc'd, NUL-terminated key) with
 * value v. The caller has checked the key is absent.
 */
void toml_table_insert(struct toml_value *t, char *key, size_t keylen,
    struct toml_value *v);
void toml_array_push(struct toml_value *a, struct toml_value *v);

#endif
