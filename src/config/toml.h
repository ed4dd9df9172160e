/*
 * toml.h: a TOML 1.0.0 parser.
 *
 * toml_parse() turns a whole document (in memory) into a tree of values.
 * The tree is immutable once returned and owned by the caller, who frees it
 * with toml_free(). Nothing is global: the parser is reentrant and may run on
 * any thread. Every value remembers the line and column where it was defined
 * (for a key/value pair: where its key starts; for a [table] or [[table]]: its
 * header), so configuration errors can point at the file position.
 *
 * Tables keep their keys in document order.
 */
#ifndef LOKA_TOML_H
#define LOKA_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
	TOML_STRING = 0,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,     /* 1979-05-27 */
	TOML_TIME_LOCAL,     /* 07:32:00 */
	TOML_ARRAY,
	TOML_TABLE,
	TOML_TYPE_MAX
};

struct toml_value;

/* Parse errors: 1-based line and column of the offending byte. */
struct toml_error {
	int line;
	int col;
	char msg[200];
};

/*
 * toml_parse(text, len, err): parse the TOML document text[0..len). The text
 * need not be NUL-terminated. Returns the root table, or NULL with *err
 * filled in (err may be NULL). Invalid UTF-8, control characters, and every
 * rule of TOML 1.0.0 (redefinitions included) are checked. A leading UTF-8
 * BOM is skipped. Trees deeper than 128 levels (tables, arrays and inline
 * tables counted together) are rejected. Columns count bytes.
 */
struct toml_value *toml_parse(const char *text, size_t len,
    struct toml_error *err);

/* toml_free(root): free a tree returned by toml_parse(); NULL is a no-op. */
void toml_free(struct toml_value *root);

/* The type of v; TOML_TYPE_MAX for NULL. */
enum toml_type toml_type(const struct toml_value *v);
/* Name of a type for messages: "string", "integer", "table", ... */
const char *toml_type_name(enum toml_type t);
int toml_line(const struct toml_value *v);
int toml_col(const struct toml_value *v);

/* Tables: keys in document order. Index out of range returns NULL. */
size_t toml_table_len(const struct toml_value *t);
const char *toml_table_key(const struct toml_value *t, size_t i);
/*
 * Byte length of key i: a quoted key may contain NUL (from \u0000), which
 * toml_table_key()'s C string cannot show. 0 if out of range.
 */
size_t toml_table_key_len(const struct toml_value *t, size_t i);
struct toml_value *toml_table_value(const struct toml_value *t, size_t i);
/* Look up a key (exact, case-sensitive); NULL if absent or t is no table. */
struct toml_value *toml_table_get(const struct toml_value *t, const char *key);

/* Arrays (including arrays of tables). */
size_t toml_array_len(const struct toml_value *a);
struct toml_value *toml_array_get(const struct toml_value *a, size_t i);

/*
 * Scalars. toml_string() returns the decoded UTF-8 text, NUL-terminated; a
 * string may itself contain NUL (from \u0000), so *len (if len is not NULL)
 * gives its true length. Calling an accessor on the wrong type returns
 * NULL / 0 / false.
 */
const char *toml_string(const struct toml_value *v, size_t *len);
int64_t toml_int(const struct toml_value *v);
double toml_float(const struct toml_value *v);
bool toml_bool(const struct toml_value *v);

/*
 * Date and time values (the four date/time types). Fields that the type does
 * not have are zero. nanosecond keeps up to 9 fractional digits (more are
 * truncated, as TOML allows); frac_digits says how many were written.
 * offset_minutes is the UTC offset (Z = 0) for TOML_DATETIME.
 */
struct toml_datetime {
	int year, month, day;
	int hour, minute, second;
	int nanosecond;
	int frac_digits;
	int offset_minutes;
};
/* Returns 0 and fills *out for a date/time value, -1 for any other type. */
int toml_datetime(const struct toml_value *v, struct toml_datetime *out);
/*
 * toml_datetime_format(v, buf, size): RFC 3339 text of a date/time value
 * ("1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999999-07:00",
 * "1979-05-27", "07:32:00"); the fractional part is printed with the digits
 * that were written. Returns the length (snprintf-style) or -1.
 */
int toml_datetime_format(const struct toml_value *v, char *buf, size_t size);

#endif
