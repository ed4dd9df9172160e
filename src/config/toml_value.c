/*
 * toml_value.c: the TOML value tree (see toml.h): building it, reading it,
 * freeing it.
 *
 * Tables keep their entries in an array in document order. Small tables
 * are searched linearly; once a table holds TABLE_INDEX_MIN keys it also
 * gets an open-addressing hash index (FNV-1a, linear probing, load <= 1/2)
 * of positions into that array, so huge tables stay linear to build.
 * The tree depth is capped by the parser (TOML_MAX_DEPTH), so the recursive
 * free below is bounded.
 */
#include "config/toml_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define TABLE_INDEX_MIN 16

static const char *const type_names[TOML_TYPE_MAX] = {
	[TOML_STRING] = "string",
	[TOML_INTEGER] = "integer",
	[TOML_FLOAT] = "float",
	[TOML_BOOL] = "bool",
	[TOML_DATETIME] = "datetime",
	[TOML_DATETIME_LOCAL] = "datetime-local",
	[TOML_DATE_LOCAL] = "date-local",
	[TOML_TIME_LOCAL] = "time-local",
	[TOML_ARRAY] = "array",
	[TOML_TABLE] = "table",
};

static uint32_t
key_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

struct toml_value *
toml_value_new(enum toml_type type, int line, int col)
{
	struct toml_value *v = xcalloc(1, sizeof(*v));

	v->type = type;
	v->line = line;
	v->col = col;
	return v;
}

static void
index_put(struct toml_value *t, size_t pos)
{
	size_t mask = t->u.tab.idxcap - 1;
	size_t i = t->u.tab.kv[pos].hash & mask;

	while (t->u.tab.idx[i] != 0)
		i = (i + 1) & mask;
	t->u.tab.idx[i] = pos + 1;
}

static void
index_rebuild(struct toml_value *t)
{
	size_t cap = 64, i;

	while (cap < t->u.tab.len * 4)
		cap *= 2;
	free(t->u.tab.idx);
	t->u.tab.idx = xcalloc(cap, sizeof(*t->u.tab.idx));
	t->u.tab.idxcap = cap;
	for (i = 0; i < t->u.tab.len; i++)
		index_put(t, i);
}

struct toml_value *
toml_table_find(const struct toml_value *t, const char *key, size_t keylen)
{
	const struct toml_kv *kv;
	uint32_t h;
	size_t i, mask;

	if (t == NULL || t->type != TOML_TABLE)
		return NULL;
	if (t->u.tab.idxcap == 0) {
		for (i = 0; i < t->u.tab.len; i++) {
			kv = &t->u.tab.kv[i];
			if (kv->keylen == keylen &&
			    memcmp(kv->key, key, keylen) == 0)
				return kv->val;
		}
		return NULL;
	}
	h = key_hash(key, keylen);
	mask = t->u.tab.idxcap - 1;
	for (i = h & mask; t->u.tab.idx[i] != 0; i = (i + 1) & mask) {
		kv = &t->u.tab.kv[t->u.tab.idx[i] - 1];
		if (kv->hash == h && kv->keylen == keylen &&
		    memcmp(kv->key, key, keylen) == 0)
			return kv->val;
	}
	return NULL;
}

void
toml_table_insert(struct toml_value *t, char *key, size_t keylen,
    struct toml_value *v)
{
	struct toml_kv *kv;

	if (t->u.tab.len == t->u.tab.cap) {
		t->u.tab.cap = t->u.tab.cap ? t->u.tab.cap * 2 : 4;
		t->u.tab.kv = xreallocarray(t->u.tab.kv, t->u.tab.cap,
		    sizeof(*t->u.tab.kv));
	}
	kv = &t->u.tab.kv[t->u.tab.len++];
	kv->key = key;
	kv->keylen = keylen;
	kv->hash = key_hash(key, keylen);
	kv->val = v;
	if (t->u.tab.len < TABLE_INDEX_MIN)
		return;
	if (t->u.tab.idxcap == 0 || t->u.tab.len * 2 > t->u.tab.idxcap)
		index_rebuild(t);
	else
		index_put(t, t->u.tab.len - 1);
}

void
toml_array_push(struct toml_value *a, struct toml_value *v)
{
	if (a->u.arr.len == a->u.arr.cap) {
		a->u.arr.cap = a->u.arr.cap ? a->u.arr.cap * 2 : 4;
		a->u.arr.items = xreallocarray(a->u.arr.items, a->u.arr.cap,
		    sizeof(*a->u.arr.items));
	}
	a->u.arr.items[a->u.arr.len++] = v;
}

void
toml_free(struct toml_value *v)
{
	size_t i;

	if (v == NULL)
		return;
	switch (v->type) {
	case TOML_STRING:
		free(v->u.str.ptr);
		break;
	case TOML_ARRAY:
		for (i = 0; i < v->u.arr.len; i++)
			toml_free(v->u.arr.items[i]);
		free(v->u.arr.items);
		break;
	case TOML_TABLE:
		for (i = 0; i < v->u.tab.len; i++) {
			free(v->u.tab.kv[i].key);
			toml_free(v->u.tab.kv[i].val);
		}
		free(v->u.tab.kv);
		free(v->u.tab.idx);
		break;
	default:
		break;
	}
	free(v);
}

enum toml_type
toml_type(const struct toml_value *v)
{
	return v != NULL ? v->type : TOML_TYPE_MAX;
}

const char *
toml_type_name(enum toml_type t)
{
	if ((int)t < 0 || t >= TOML_TYPE_MAX)
		return "invalid";
	return type_names[t];
}

int
toml_line(const struct toml_value *v)
{
	return v != NULL ? v->line : 0;
}

int
toml_col(const struct toml_value *v)
{
	return v != NULL ? v->col : 0;
}

size_t
toml_table_len(const struct toml_value *t)
{
	if (t == NULL || t->type != TOML_TABLE)
		return 0;
	return t->u.tab.len;
}

const char *
toml_table_key(const struct toml_value *t, size_t i)
{
	if (t == NULL || t->type != TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	return t->u.tab.kv[i].key;
}

size_t
toml_table_key_len(const struct toml_value *t, size_t i)
{
	if (t == NULL || t->type != TOML_TABLE || i >= t->u.tab.len)
		return 0;
	return t->u.tab.kv[i].keylen;
}

struct toml_value *
toml_table_value(const struct toml_value *t, size_t i)
{
	if (t == NULL || t->type != TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	return t->u.tab.kv[i].val;
}

struct toml_value *
toml_table_get(const struct toml_value *t, const char *key)
{
	if (key == NULL)
		return NULL;
	return toml_table_find(t, key, strlen(key));
}

size_t
toml_array_len(const struct toml_value *a)
{
	if (a == NULL || a->type != TOML_ARRAY)
		return 0;
	return a->u.arr.len;
}

struct toml_value *
toml_array_get(const struct toml_value *a, size_t i)
{
	if (a == NULL || a->type != TOML_ARRAY || i >= a->u.arr.len)
		return NULL;
	return a->u.arr.items[i];
}

const char *
toml_string(const struct toml_value *v, size_t *len)
{
	if (v == NULL || v->type != TOML_STRING) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = v->u.str.len;
	return v->u.str.ptr;
}

int64_t
toml_int(const struct toml_value *v)
{
	return v != NULL && v->type == TOML_INTEGER ? v->u.i : 0;
}

double
toml_float(const struct toml_value *v)
{
	return v != NULL && v->type == TOML_FLOAT ? v->u.f : 0.0;
}

bool
toml_bool(const struct toml_value *v)
{
	return v != NULL && v->type == TOML_BOOL ? v->u.b : false;
}

static bool
is_datetime_type(const struct toml_value *v)
{
	return v != NULL && (v->type == TOML_DATETIME ||
	    v->type == TOML_DATETIME_LOCAL || v->type == TOML_DATE_LOCAL ||
	    v->type == TOML_TIME_LOCAL);
}

int
toml_datetime(const struct toml_value *v, struct toml_datetime *out)
{
	if (!is_datetime_type(v))
		return -1;
	*out = v->u.dt;
	return 0;
}

int
toml_datetime_format(const struct toml_value *v, char *buf, size_t size)
{
	const struct toml_datetime *dt;
	char date[16] = "", time[40] = "", off[8] = "", frac[16] = "";
	const char *sep = "";
	int n, digits, mins;

	if (!is_datetime_type(v))
		return -1;
	dt = &v->u.dt;
	if (v->type != TOML_TIME_LOCAL)
		snprintf(date, sizeof(date), "%04d-%02d-%02d", dt->year % 10000,
		    dt->month % 100, dt->day % 100);
	if (v->type != TOML_DATE_LOCAL) {
		digits = dt->frac_digits;
		if (digits > 0) {
			if (digits > 9)
				digits = 9;
			snprintf(frac, sizeof(frac), ".%09d",
			    dt->nanosecond % 1000000000);
			frac[digits + 1] = '\0';
		}
		snprintf(time, sizeof(time), "%02d:%02d:%02d%s", dt->hour % 100,
		    dt->minute % 100, dt->second % 100, frac);
	}
	if (v->type == TOML_DATETIME || v->type == TOML_DATETIME_LOCAL)
		sep = "T";
	if (v->type == TOML_DATETIME) {
		mins = dt->offset_minutes;
		if (mins == 0)
			snprintf(off, sizeof(off), "Z");
		else
			snprintf(off, sizeof(off), "%c%02d:%02d",
			    mins < 0 ? '-' : '+', (abs(mins) / 60) % 100,
			    abs(mins) % 60);
	}
	n = snprintf(buf, size, "%s%s%s%s", date, sep, time, off);
	return n < 0 ? -1 : n;
}
