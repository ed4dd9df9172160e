/*
 * config_internal.h: the schema table and value conversions shared by the
 * files of src/config/. Not for use outside that folder.
 */
#ifndef LOKA_CONFIG_INTERNAL_H
#define LOKA_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum cfg_type {
	CFG_T_STRING = 0,
	CFG_T_INT,
	CFG_T_DOUBLE,
	CFG_T_BOOL,
	CFG_T_DURATION, /* stored in ms; seconds or "100ms", "30s", "5m", "1h", "1d" */
	CFG_T_ENUM,     /* stored as int index into choices */
	CFG_T_ADDR,     /* "host:port", "[v6]:port" */
	CFG_T_ADDRLIST, /* one address or an array of them */
	CFG_T_CIDRLIST, /* array of "a.b.c.d/n", "v6/n" or bare addresses */
	CFG_T_DBURL,    /* sqlite://PATH or postgresql://... */
	CFG_T_POOLURL,  /* stratum+tcp://host:port (pools only) */
	CFG_T_MAX
};

/* Printed as "***"; registered with the logger. */
#define CFG_F_SECRET 0x1
/* Must be set (pools only). */
#define CFG_F_REQUIRED 0x2
/* An empty string is an error. */
#define CFG_F_NONEMPTY 0x4
/* A URL that may hold a password: printed through cfg_mask_url(). */
#define CFG_F_MASKURL 0x8
/* Also accepts `<key>_file = "path"` (any string key may). */

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	unsigned flags;
	int64_t imin, imax; /* int; duration (ms); string length */
	double dmin, dmax;  /* double */
	const char *def;    /* default as text (same syntax as the environment) */
	const char *const *choices; /* CFG_T_ENUM, NULL-terminated */
	const char *help;
};

struct cfg_section {
	const char *name;
	const struct cfg_key *keys;
	size_t nkeys;
	int is_array; /* [[pools]] */
	const char *help;
};

extern const struct cfg_section cfg_sections[];
extern const size_t cfg_nsections;

const struct cfg_section *cfg_section_find(const char *name);
const struct cfg_key *cfg_key_find(const struct cfg_section *s,
    const char *name);

/*
 * cfg_value_from_text(k, base, text, err, errlen): convert text to k's type,
 * check bounds and syntax, and store it at base + k->offset (freeing what was
 * there). Returns 0, or -1 with a message (without the key name) in err.
 */
int cfg_value_from_text(const struct cfg_key *k, void *base, const char *text,
    char *err, size_t errlen);

/* Frees the storage a key owns at base (strings, lists) and zeroes it. */
void cfg_value_clear(const struct cfg_key *k, void *base);

/* Deep copy of one key's value from src base to dst base. */
void cfg_value_copy(const struct cfg_key *k, void *dst, const void *src);

/*
 * cfg_substitute(in, out, err, errlen): expand ${VAR} and ${VAR:-default}
 * ("$${" is a literal "${"). Returns a new string in *out, or -1.
 */
int cfg_substitute(const char *in, char **out, char *err, size_t errlen);

/* Split "host:port" / "[v6]:port"; *host is allocated. port_min lets bind
 * addresses use 0. Returns 0 or -1 with a message. */
int cfg_split_hostport(const char *s, char **host, uint16_t *port,
    int port_min, char *err, size_t errlen);

/* Parse stratum URLs into a pool; userinfo only when allow_userinfo. */
int cfg_parse_pool_url(struct cfg_pool *p, const char *url,
    int allow_userinfo, char *err, size_t errlen);

/* Edit distance, capped: used for "did you mean" hints. */
size_t cfg_edit_distance(const char *a, const char *b);

/*
 * cfg_url_password(url, off, len): where the password sits in a URL
 * ("user:PASS@host" or a "password=PASS" query parameter). Returns 0 and the
 * span, or -1 if the URL holds none.
 */
int cfg_url_password(const char *url, size_t *off, size_t *len);

/* Format a duration in ms as the shortest exact text ("30s", "1500ms"). */
void cfg_format_duration(int64_t ms, char *buf, size_t size);

#endif
