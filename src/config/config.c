/*
 * config.c: loading loka-stratum.toml through the schema (config_schema.c).
 *
 * Loading is a pure function of the file text and the environment: it builds
 * a new struct cfg, collects every error (each naming file, line and key)
 * instead of stopping at the first, and returns NULL if there was any. No
 * global state is read except the environment, and none is written, so a
 * reload can load into a new object and swap it in only on success.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "config/toml.h"
#include "util/fingerprint.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* A configuration file larger than this is surely a mistake. */
#define CFG_FILE_MAX (4 * 1024 * 1024)
/* Secret files hold a password or a URL, never more. */
#define CFG_SECRET_FILE_MAX (64 * 1024)
/* Most [[pools]] entries accepted. */
#define CFG_POOLS_MAX 256

extern char **environ;

struct loader {
	const char *name; /* file name used in messages */
	struct cfg_diag *errs;
	struct cfg_diag *warns;
	int nerr;
};

static void
diag_vadd(struct cfg_diag *d, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
diag_vadd(struct cfg_diag *d, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	d->lines = xreallocarray(d->lines, d->n + 1, sizeof(*d->lines));
	d->lines[d->n++] = xstrdup(buf);
}

static void
diag_add(struct cfg_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
diag_add(struct cfg_diag *d, const char *fmt, ...)
{
	va_list ap;

	if (d == NULL)
		return;
	va_start(ap, fmt);
	diag_vadd(d, fmt, ap);
	va_end(ap);
}

void
cfg_diag_free(struct cfg_diag *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = 0;
}

/* An error at a file line: "FILE:LINE: LABEL KEY: MSG". */
static void
lerr(struct loader *L, int line, const char *label, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
lerr(struct loader *L, int line, const char *label, const char *key,
    const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char where[32] = "";
	const char *sep = label[0] != '\0' && key != NULL ? " " : "";

	L->nerr++;
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	diag_add(L->errs, "%s%s: %s%s%s: %s", L->name, where, label, sep,
	    key ? key : "", msg);
}

static int
read_file(const char *path, size_t max, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len > max) {
			snprintf(err, errlen, "%s is larger than %zu bytes",
			    path, max);
			goto fail;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

/* Secret file contents, without trailing newlines. */
static int
read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
	size_t len;

	if (read_file(path, CFG_SECRET_FILE_MAX, out, &len, err, errlen) != 0)
		return -1;
	if (memchr(*out, '\0', len) != NULL) {
		snprintf(err, errlen, "%s contains a NUL byte", path);
		free(*out);
		return -1;
	}
	while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
		(*out)[--len] = '\0';
	return 0;
}

static int
is_string_key(const struct cfg_key *k)
{
	return k->type == CFG_T_STRING || k->type == CFG_T_ADDR ||
	    k->type == CFG_T_DBURL || k->type == CFG_T_POOLURL;
}

static void
set_defaults(const struct cfg_section *s, void *base)
{
	char err[256];

	for (size_t i = 0; i < s->nkeys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k->def == NULL)
			continue;
		if (cfg_value_from_text(k, base, k->def, err, sizeof(err)) != 0)
			abort(); /* a broken default is a bug in the schema */
	}
}

static const char *
toml_kind(const struct toml_value *v)
{
	return toml_type_name(toml_type(v));
}

static const char *
expected(const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_T_INT:
		return "an integer";
	case CFG_T_DOUBLE:
		return "a number";
	case CFG_T_BOOL:
		return "true or false";
	case CFG_T_DURATION:
		return "a duration (seconds, or a string like \"30s\")";
	case CFG_T_ADDRLIST:
		return "an address or an array of addresses";
	case CFG_T_CIDRLIST:
		return "an array of strings";
	default:
		return "a string";
	}
}

/* Store one value from the TOML tree. Returns 0 or -1 (error recorded). */
static int
key_from_toml(struct loader *L, const char *label, const struct cfg_key *k,
    void *base, const struct toml_value *v)
{
	enum toml_type t = toml_type(v);
	char err[512], num[64];
	char *text = NULL;
	int rc;

	switch (t) {
	case TOML_STRING: {
		size_t len;
		const char *s = toml_string(v, &len);

		if (memchr(s, '\0', len) != NULL) {
			lerr(L, toml_line(v), label, k->name,
			    "must not contain a NUL character");
			return -1;
		}
		if (cfg_substitute(s, &text, err, sizeof(err)) != 0) {
			lerr(L, toml_line(v), label, k->name, "%s", err);
			return -1;
		}
		break;
	}
	case TOML_INTEGER:
		if (k->type != CFG_T_INT && k->type != CFG_T_DOUBLE &&
		    k->type != CFG_T_DURATION)
			goto mismatch;
		snprintf(num, sizeof(num), "%lld", (long long)toml_int(v));
		text = xstrdup(num);
		break;
	case TOML_FLOAT:
		if (k->type != CFG_T_DOUBLE && k->type != CFG_T_DURATION)
			goto mismatch;
		snprintf(num, sizeof(num), "%.17g", toml_float(v));
		text = xstrdup(num);
		break;
	case TOML_BOOL:
		if (k->type != CFG_T_BOOL)
			goto mismatch;
		text = xstrdup(toml_bool(v) ? "true" : "false");
		break;
	case TOML_ARRAY: {
		size_t n = toml_array_len(v), len = 0;

		if (k->type != CFG_T_ADDRLIST && k->type != CFG_T_CIDRLIST)
			goto mismatch;
		if (n == 0 && k->imin > 0) {
			lerr(L, toml_line(v), label, k->name,
			    "must not be empty");
			return -1;
		}
		/* Joined with commas, the text form of a list. */
		text = xstrdup("");
		for (size_t i = 0; i < n; i++) {
			const struct toml_value *e = toml_array_get(v, i);
			char *sub;
			size_t slen;

			if (toml_type(e) != TOML_STRING) {
				lerr(L, toml_line(v), label, k->name,
				    "entry %zu must be a string, got %s", i + 1,
				    toml_kind(e));
				free(text);
				return -1;
			}
			if (cfg_substitute(toml_string(e, NULL), &sub, err,
			    sizeof(err)) != 0) {
				lerr(L, toml_line(v), label, k->name, "%s",
				    err);
				free(text);
				return -1;
			}
			slen = strlen(sub);
			text = xreallocarray(text, len + slen + 2, 1);
			if (i > 0)
				text[len++] = ',';
			memcpy(text + len, sub, slen + 1);
			len += slen;
			free(sub);
		}
		break;
	}
	default:
		goto mismatch;
	}
	rc = cfg_value_from_text(k, base, text, err, sizeof(err));
	if (rc != 0)
		lerr(L, toml_line(v), label, k->name, "%s", err);
	free(text);
	return rc;
mismatch:
	lerr(L, toml_line(v), label, k->name, "must be %s, got %s",
	    expected(k), toml_kind(v));
	return -1;
}

/* "LOKA_SERVER_MAX_CONNECTIONS" */
static void
env_name(char *buf, size_t size, const char *section, const char *key,
    const char *suffix)
{
	size_t off = (size_t)snprintf(buf, size, "LOKA_%s_%s%s", section, key,
	    suffix);

	for (size_t i = 0; i < off && i < size; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
}

/* Apply LOKA_<SECTION>_<KEY> or LOKA_<SECTION>_<KEY>_FILE; 1 if applied. */
static int
key_from_env(struct loader *L, const struct cfg_section *s,
    const struct cfg_key *k, void *base, const char *label)
{
	char name[128], fname[140], err[512];
	const char *val, *path;
	char *secret;

	env_name(name, sizeof(name), s->name, k->name, "");
	env_name(fname, sizeof(fname), s->name, k->name, "_FILE");
	val = getenv(name);
	path = is_string_key(k) ? getenv(fname) : NULL;
	if (val != NULL && path != NULL) {
		L->nerr++;
		diag_add(L->errs, "environment: %s %s: both %s and %s are set; "
		    "use one", label, k->name, name, fname);
		return 1;
	}
	if (val != NULL) {
		if (cfg_value_from_text(k, base, val, err, sizeof(err)) != 0) {
			L->nerr++;
			diag_add(L->errs, "environment %s: %s %s: %s", name,
			    label, k->name, err);
		}
		return 1;
	}
	if (path != NULL) {
		if (read_secret_file(path, &secret, err, sizeof(err)) != 0) {
			L->nerr++;
			diag_add(L->errs, "environment %s: %s %s: %s", fname,
			    label, k->name, err);
			return 1;
		}
		if (cfg_value_from_text(k, base, secret, err, sizeof(err)) !=
		    0) {
			L->nerr++;
			diag_add(L->errs, "environment %s: %s %s: content of "
			    "%s: %s", fname, label, k->name, path, err);
		}
		free(secret);
		return 1;
	}
	return 0;
}

/* key = value, or key_file = "path". */
static void
key_from_file(struct loader *L, const struct cfg_key *k, void *base,
    const struct toml_value *tbl, const char *label)
{
	char fkey[80], err[512];
	const struct toml_value *v, *vf;
	char *path, *secret;

	v = toml_table_get(tbl, k->name);
	snprintf(fkey, sizeof(fkey), "%s_file", k->name);
	vf = is_string_key(k) ? toml_table_get(tbl, fkey) : NULL;
	if (v != NULL && vf != NULL) {
		lerr(L, toml_line(vf), label, fkey, "%s is set too (line %d); "
		    "use one", k->name, toml_line(v));
		return;
	}
	if (v != NULL) {
		key_from_toml(L, label, k, base, v);
		return;
	}
	if (vf == NULL)
		return;
	if (toml_type(vf) != TOML_STRING) {
		lerr(L, toml_line(vf), label, fkey, "must be a file path "
		    "(string), got %s", toml_kind(vf));
		return;
	}
	if (cfg_substitute(toml_string(vf, NULL), &path, err,
	    sizeof(err)) != 0) {
		lerr(L, toml_line(vf), label, fkey, "%s", err);
		return;
	}
	if (read_secret_file(path, &secret, err, sizeof(err)) != 0) {
		lerr(L, toml_line(vf), label, fkey, "%s", err);
		free(path);
		return;
	}
	if (cfg_value_from_text(k, base, secret, err, sizeof(err)) != 0)
		lerr(L, toml_line(vf), label, fkey, "content of %s: %s", path,
		    err);
	free(secret);
	free(path);
}

/*
 * " (did you mean X?)" for the candidate nearest to name, "" if none is
 * close; section names are shown in brackets.
 */
static void
hint(char *buf, size_t size, const char *name, const char *const *cands,
    size_t n, int brackets)
{
	size_t best = 99, bi = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t d = cfg_edit_distance(name, cands[i]);

		if (d < best) {
			best = d;
			bi = i;
		}
	}
	if (n > 0 && best <= (strlen(name) > 6 ? 3u : 2u))
		snprintf(buf, size, brackets ? " (did you mean [%s]?)" :
		    " (did you mean %s?)", cands[bi]);
}

/* Which section has a key of this name (for "it belongs in [x]"). */
static const char *
section_with_key(const char *key)
{
	for (size_t i = 0; i < cfg_nsections; i++)
		if (cfg_key_find(&cfg_sections[i], key) != NULL)
			return cfg_sections[i].name;
	return NULL;
}

static void
unknown_keys(struct loader *L, const struct cfg_section *s,
    const struct toml_value *tbl, const char *label)
{
	const char *cands[64];
	size_t nc = 0;

	for (size_t i = 0; i < s->nkeys && nc < 62; i++) {
		cands[nc++] = s->keys[i].name;
	}
	for (size_t i = 0; i < toml_table_len(tbl); i++) {
		const char *key = toml_table_key(tbl, i);
		const struct toml_value *v = toml_table_value(tbl, i);
		const char *other;
		char h[160];
		size_t klen = strlen(key);

		if (cfg_key_find(s, key) != NULL)
			continue;
		if (klen > 5 && strcmp(key + klen - 5, "_file") == 0) {
			char base[80];
			const struct cfg_key *k;

			snprintf(base, sizeof(base), "%.*s", (int)(klen - 5),
			    key);
			k = cfg_key_find(s, base);
			if (k != NULL && is_string_key(k))
				continue;
		}
		hint(h, sizeof(h), key, cands, nc, 0);
		other = section_with_key(key);
		if (h[0] == '\0' && other != NULL && strcmp(other, s->name))
			snprintf(h, sizeof(h), " (it belongs in [%s])", other);
		lerr(L, toml_line(v), label, key, "unknown key%s", h);
	}
}

static void
load_section(struct loader *L, const struct cfg_section *s,
    const struct toml_value *tbl, void *base, const char *label, int env)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (env && key_from_env(L, s, k, base, label))
			continue;
		if (tbl != NULL)
			key_from_file(L, k, base, tbl, label);
	}
	if (tbl != NULL)
		unknown_keys(L, s, tbl, label);
}

static void
pool_init(struct cfg_pool *p)
{
	memset(p, 0, sizeof(*p));
	set_defaults(cfg_section_find("pools"), p);
}

static void
pool_clear(struct cfg_pool *p)
{
	const struct cfg_section *s = cfg_section_find("pools");

	for (size_t i = 0; i < s->nkeys; i++)
		cfg_value_clear(&s->keys[i], p);
	free(p->host);
	p->host = NULL;
}

static struct cfg_pool *
pool_add(struct cfg *c)
{
	c->pools = xreallocarray(c->pools, c->npools + 1, sizeof(*c->pools));
	pool_init(&c->pools[c->npools]);
	return &c->pools[c->npools++];
}

static int
valid_pool_name(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

static int
valid_time_of_day(const char *s)
{
	return strlen(s) == 5 && isdigit((unsigned char)s[0]) &&
	    isdigit((unsigned char)s[1]) && s[2] == ':' &&
	    isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
	    (s[0] - '0') * 10 + (s[1] - '0') < 24 &&
	    (s[3] - '0') * 10 + (s[4] - '0') < 60;
}

/* A pool's TLS keys: a fingerprint that parses, and keys that apply. */
static void
pool_tls_checks(struct loader *L, const struct cfg_pool *p,
    const struct toml_value *t, const char *label)
{
	const struct toml_value *v = toml_table_get(t, "tls_fingerprint");
	uint8_t fp[FINGERPRINT_LEN];

	if (p->tls_fingerprint[0] != '\0' &&
	    fingerprint_parse(p->tls_fingerprint, fp) != 0)
		lerr(L, v != NULL ? toml_line(v) : p->line, label,
		    "tls_fingerprint", "\"%s\" is not a SHA-256 fingerprint: "
		    "expected 64 hex digits, bare or with a ':' between every "
		    "two", p->tls_fingerprint);
	if (p->url == NULL)
		return;
	if (!p->tls && (p->tls_ca_file[0] != '\0' ||
	    p->tls_fingerprint[0] != '\0' || !p->tls_verify))
		diag_add(L->warns, "%s:%d: %s: tls_ca_file, tls_fingerprint "
		    "and tls_verify apply to stratum+ssl:// pools only; they "
		    "are ignored for %s", L->name, p->line, label, p->url);
	if (p->tls && !p->tls_verify)
		diag_add(L->warns, "%s:%d: %s: tls_verify = false: the pool's "
		    "certificate is NOT checked%s. For testing only", L->name,
		    p->line, label, p->tls_fingerprint[0] != '\0' ?
		    " (only its tls_fingerprint is)" : "; anyone on the "
		    "network path can pose as the pool and take its work");
}

static void
load_pools(struct loader *L, struct cfg *c, const struct toml_value *v)
{
	const struct cfg_section *s = cfg_section_find("pools");
	size_t n;

	if (toml_type(v) != TOML_ARRAY) {
		lerr(L, toml_line(v), "[pools]", NULL, "pools are written as "
		    "[[pools]] (one entry per pool), not [pools]");
		return;
	}
	n = toml_array_len(v);
	if (n > CFG_POOLS_MAX) {
		lerr(L, toml_line(v), "[[pools]]", NULL, "at most %d pools, "
		    "got %zu", CFG_POOLS_MAX, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct toml_value *t = toml_array_get(v, i);
		struct cfg_pool *p;
		char label[48];

		snprintf(label, sizeof(label), "[[pools]] #%zu", i + 1);
		if (toml_type(t) != TOML_TABLE) {
			lerr(L, toml_line(t), label, NULL, "must be a table, "
			    "got %s", toml_kind(t));
			continue;
		}
		p = pool_add(c);
		p->line = toml_line(t);
		load_section(L, s, t, p, label, 0);
		for (size_t j = 0; j < s->nkeys; j++) {
			const struct cfg_key *k = &s->keys[j];

			char fkey[80];

			snprintf(fkey, sizeof(fkey), "%s_file", k->name);
			/* Present but invalid is reported already. */
			if ((k->flags & CFG_F_REQUIRED) &&
			    toml_table_get(t, k->name) == NULL &&
			    toml_table_get(t, fkey) == NULL)
				lerr(L, p->line, label, k->name, "is required");
		}
		if (p->settlement_time != NULL &&
		    !valid_time_of_day(p->settlement_time))
			lerr(L, p->line, label, "settlement_time", "\"%s\": "
			    "expected HH:MM (00:00 to 23:59)",
			    p->settlement_time);
		if (p->name != NULL && !valid_pool_name(p->name))
			lerr(L, p->line, label, "name", "\"%s\": use only "
			    "letters, digits, '.', '_' and '-'", p->name);
		for (size_t j = 0; p->name != NULL && j + 1 < c->npools; j++)
			if (c->pools[j].name != NULL &&
			    strcmp(c->pools[j].name, p->name) == 0)
				lerr(L, p->line, label, "name", "\"%s\" is "
				    "already used by the pool on line %d",
				    p->name, c->pools[j].line);
		pool_tls_checks(L, p, t, label);
	}
}

/* Warn about LOKA_<SECTION>_* variables that match no key (typos). */
static void
check_env_names(struct loader *L)
{
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		const char *var = *e, *eq = strchr(var, '=');
		size_t vlen = eq ? (size_t)(eq - var) : strlen(var);

		if (strncmp(var, "LOKA_", 5) != 0)
			continue;
		for (size_t i = 0; i < cfg_nsections; i++) {
			const struct cfg_section *s = &cfg_sections[i];
			char prefix[64], name[160];
			int found = 0;

			if (s->is_array)
				continue;
			env_name(prefix, sizeof(prefix), s->name, "", "");
			if (strncmp(var, prefix, strlen(prefix)) != 0)
				continue;
			for (size_t j = 0; j < s->nkeys && !found; j++) {
				env_name(name, sizeof(name), s->name,
				    s->keys[j].name, "");
				found = strlen(name) == vlen &&
				    strncmp(var, name, vlen) == 0;
				if (!found && is_string_key(&s->keys[j])) {
					env_name(name, sizeof(name), s->name,
					    s->keys[j].name, "_FILE");
					found = strlen(name) == vlen &&
					    strncmp(var, name, vlen) == 0;
				}
			}
			if (!found)
				diag_add(L->warns, "environment: %.*s matches "
				    "no setting of [%s]; it is ignored",
				    (int)vlen, var, s->name);
		}
	}
}

/*
 * The journal's default place: beside the SQLite file, or in the state
 * directory (systemd's StateDirectory=, else the usual one for root or a
 * user), never the working directory: a journal must not meet another
 * database because Loka was started from the same place.
 */
static char *
default_spool_path(const char *url)
{
	const char *state = getenv("STATE_DIRECTORY"), *home, *xdg;

	if (strncmp(url, "sqlite://", 9) == 0 && url[9] != '\0' &&
	    strcmp(url + 9, ":memory:") != 0)
		return xasprintf("%s.spool", url + 9);
	if (state != NULL && state[0] != '\0')
		/* StateDirectory=a b gives "a:b": the first is ours. */
		return xasprintf("%.*s/journal", (int)strcspn(state, ":"),
		    state);
	if (geteuid() == 0)
		return xstrdup("/var/lib/loka-stratum/journal");
	xdg = getenv("XDG_STATE_HOME");
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/loka-stratum/journal", xdg);
	home = getenv("HOME");
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.local/state/loka-stratum/journal", home);
	return xstrdup("/var/lib/loka-stratum/journal");
}

/*
 * This instance's name in the shared books: configured, or the host name
 * and the first bind address's configured port (stable across restarts,
 * unlike a port 0 resolved by the kernel).
 */
char *
cfg_instance_name(const struct cfg *c)
{
	char host[256];
	const char *bind = c->server.bind.n > 0 ? c->server.bind.v[0] : "";
	const char *colon = strrchr(bind, ':');

	if (c->database.instance[0] != '\0')
		return xstrdup(c->database.instance);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "loka");
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%s:%s", host, colon != NULL ? colon + 1 : "0");
}

void
cfg_derive(struct cfg *c)
{
	if (c->database.spool_path == NULL ||
	    c->database.spool_path[0] == '\0' ||
	    c->database.spool_path_derived) {
		free(c->database.spool_path);
		c->database.spool_path = default_spool_path(c->database.url);
		c->database.spool_path_derived = true;
	}
}

static void
cross_checks(struct loader *L, struct cfg *c, int pool_address_line)
{
	if (c->server.pool_address[0] != '\0') {
		char err[256];
		char *url;
		struct cfg_pool *p;

		if (c->npools > 0) {
			lerr(L, pool_address_line, "[server]", "pool_address",
			    "cannot be used together with [[pools]]; move it "
			    "into a [[pools]] entry");
			return;
		}
		p = pool_add(c);
		p->line = pool_address_line;
		p->name = xstrdup("default");
		url = xasprintf("stratum+tcp://%s", c->server.pool_address);
		if (cfg_parse_pool_url(p, url, 0, err, sizeof(err)) != 0)
			lerr(L, pool_address_line, "[server]", "pool_address",
			    "%s", err);
		free(url);
	}
	if (c->database.min_connections > c->database.max_connections)
		lerr(L, 0, "[database]", "min_connections", "is %lld, more "
		    "than max_connections (%lld)",
		    (long long)c->database.min_connections,
		    (long long)c->database.max_connections);
	if (c->security.ip_filter_mode == CFG_IP_FILTER_ALLOW &&
	    c->security.ip_allowlist.n == 0)
		lerr(L, 0, "[security]", "ip_allowlist", "is empty, so "
		    "ip_filter_mode = \"allow\" would refuse every miner");
	if (c->security.ip_filter_mode == CFG_IP_FILTER_DENY &&
	    c->security.ip_denylist.n == 0)
		diag_add(L->warns, "%s: [security] ip_filter_mode = \"deny\" "
		    "with an empty ip_denylist denies nobody", L->name);
	/* The same address twice cannot both listen (port 0: any two). */
	for (size_t i = 0; c->metrics.enabled && i < c->server.bind.n; i++)
		if (strcmp(c->server.bind.v[i], c->metrics.bind) == 0 &&
		    strcmp(strrchr(c->metrics.bind, ':'), ":0") != 0)
			lerr(L, 0, "[metrics]", "bind", "\"%s\" is also a "
			    "[server] bind address", c->metrics.bind);
}

/* The line of key (or key_file) in [section], 0 when not in the file. */
static int
key_line(const struct toml_value *root, const char *section, const char *key)
{
	const struct toml_value *t = root != NULL ?
	    toml_table_get(root, section) : NULL;
	const struct toml_value *v;
	char fkey[80];

	if (t == NULL || toml_type(t) != TOML_TABLE)
		return 0;
	v = toml_table_get(t, key);
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	if (v == NULL)
		v = toml_table_get(t, fkey);
	return v != NULL ? toml_line(v) : 0;
}

/* TLS listeners need a certificate and a key; both files or neither. */
static void
tls_checks(struct loader *L, const struct cfg *c,
    const struct toml_value *root)
{
	const struct cfg_server *s = &c->server;
	const struct cfg_metrics *m = &c->metrics;
	bool want = s->tls_bind.n > 0 || s->tls_detect;
	const char *why = s->tls_bind.n > 0 ? "tls_bind" : "tls_detect";
	int line = key_line(root, "server", why);

	if (want && s->tls_cert_file[0] == '\0')
		lerr(L, line, "[server]", "tls_cert_file", "is required when "
		    "%s is set", why);
	if (want && s->tls_key_file[0] == '\0')
		lerr(L, line, "[server]", "tls_key_file", "is required when "
		    "%s is set", why);
	if (!want && (s->tls_cert_file[0] != '\0' ||
	    s->tls_key_file[0] != '\0'))
		diag_add(L->warns, "%s: [server] tls_cert_file and tls_key_file "
		    "are unused without tls_bind or tls_detect", L->name);
	for (size_t i = 0; i < s->tls_bind.n; i++) {
		const char *a = s->tls_bind.v[i];

		if (strcmp(strrchr(a, ':'), ":0") == 0)
			continue; /* port 0: any two can listen */
		for (size_t j = 0; j < s->bind.n; j++)
			if (strcmp(a, s->bind.v[j]) == 0)
				lerr(L, key_line(root, "server", "tls_bind"),
				    "[server]", "tls_bind", "\"%s\" is also a "
				    "bind address", a);
		if (m->enabled && strcmp(a, m->bind) == 0)
			lerr(L, key_line(root, "server", "tls_bind"),
			    "[server]", "tls_bind", "\"%s\" is also the "
			    "[metrics] bind address", a);
	}
	if ((m->tls_cert_file[0] == '\0') != (m->tls_key_file[0] == '\0')) {
		const char *missing = m->tls_cert_file[0] == '\0' ?
		    "tls_cert_file" : "tls_key_file";
		const char *given = m->tls_cert_file[0] == '\0' ?
		    "tls_key_file" : "tls_cert_file";

		lerr(L, key_line(root, "metrics", given), "[metrics]", missing,
		    "is required with %s (HTTPS needs both)", given);
	}
}

static struct cfg *
cfg_new_defaults(const char *path)
{
	struct cfg *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	for (size_t i = 0; i < cfg_nsections; i++)
		if (!cfg_sections[i].is_array)
			set_defaults(&cfg_sections[i], c);
	return c;
}

static struct cfg *
cfg_load_tree(const char *name, const struct toml_value *root,
    struct cfg_diag *errs, struct cfg_diag *warns)
{
	struct loader L = { name, errs, warns, 0 };
	struct cfg *c = cfg_new_defaults(name);
	const char *cands[16];
	size_t nc = 0;
	int pa_line = 0;

	for (size_t i = 0; i < cfg_nsections && nc < 16; i++)
		cands[nc++] = cfg_sections[i].name;
	/* Unknown sections and keys outside any section. */
	for (size_t i = 0; root != NULL && i < toml_table_len(root); i++) {
		const char *key = toml_table_key(root, i);
		const struct toml_value *v = toml_table_value(root, i);
		const struct cfg_section *s = cfg_section_find(key);
		const char *other;
		char h[160];

		if (s != NULL && (s->is_array || toml_type(v) == TOML_TABLE))
			continue;
		if (s != NULL) {
			lerr(&L, toml_line(v), "", key, "must be a section "
			    "[%s], got %s", key, toml_kind(v));
			continue;
		}
		if (toml_type(v) == TOML_TABLE ||
		    toml_type(v) == TOML_ARRAY) {
			hint(h, sizeof(h), key, cands, nc, 1);
			lerr(&L, toml_line(v), "", key, "unknown section%s", h);
			continue;
		}
		other = section_with_key(key);
		if (other != NULL)
			snprintf(h, sizeof(h), " (it belongs in [%s])", other);
		else
			h[0] = '\0';
		lerr(&L, toml_line(v), "", key, "key outside any section%s",
		    h);
	}
	for (size_t i = 0; i < cfg_nsections; i++) {
		const struct cfg_section *s = &cfg_sections[i];
		const struct toml_value *tbl =
		    root != NULL ? toml_table_get(root, s->name) : NULL;
		char label[48];

		if (s->is_array) {
			if (tbl != NULL)
				load_pools(&L, c, tbl);
			continue;
		}
		if (tbl != NULL && toml_type(tbl) != TOML_TABLE)
			tbl = NULL;
		snprintf(label, sizeof(label), "[%s]", s->name);
		load_section(&L, s, tbl, c, label, 1);
		if (tbl != NULL && strcmp(s->name, "server") == 0 &&
		    toml_table_get(tbl, "pool_address") != NULL)
			pa_line = toml_line(toml_table_get(tbl,
			    "pool_address"));
	}
	check_env_names(&L);
	if (L.nerr == 0)
		cross_checks(&L, c, pa_line);
	if (L.nerr == 0)
		cfg_derive(c);
	if (L.nerr == 0)
		tls_checks(&L, c, root);
	if (L.nerr > 0) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

struct cfg *
cfg_load_string(const char *name, const char *text, size_t len,
    struct cfg_diag *errs, struct cfg_diag *warns)
{
	struct toml_error terr;
	struct toml_value *root;
	struct cfg *c;

	root = toml_parse(text, len, &terr);
	if (root == NULL) {
		diag_add(errs, "%s:%d:%d: %s", name, terr.line, terr.col,
		    terr.msg);
		return NULL;
	}
	c = cfg_load_tree(name, root, errs, warns);
	toml_free(root);
	return c;
}

struct cfg *
cfg_load_file(const char *path, struct cfg_diag *errs, struct cfg_diag *warns)
{
	char err[512];
	char *text;
	size_t len;
	struct cfg *c;

	if (path == NULL)
		return cfg_load_tree("(defaults)", NULL, errs, warns);
	if (read_file(path, CFG_FILE_MAX, &text, &len, err, sizeof(err)) !=
	    0) {
		diag_add(errs, "%s", err);
		return NULL;
	}
	c = cfg_load_string(path, text, len, errs, warns);
	free(text);
	return c;
}

void
cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < cfg_nsections; i++) {
		const struct cfg_section *s = &cfg_sections[i];

		if (s->is_array)
			continue;
		for (size_t j = 0; j < s->nkeys; j++)
			cfg_value_clear(&s->keys[j], c);
	}
	for (size_t i = 0; i < c->npools; i++)
		pool_clear(&c->pools[i]);
	free(c->pools);
	free(c->path);
	free(c);
}

int
cfg_override(struct cfg *c, const char *origin, const char *section,
    const char *key, const char *value, struct cfg_diag *errs)
{
	const struct cfg_section *s = cfg_section_find(section);
	const struct cfg_key *k = s != NULL && !s->is_array ?
	    cfg_key_find(s, key) : NULL;
	char err[512];

	if (k == NULL) {
		diag_add(errs, "%s: [%s] %s: no such setting", origin, section,
		    key);
		return -1;
	}
	if (strcmp(section, "database") == 0 && strcmp(key, "spool_path") == 0)
		c->database.spool_path_derived = false;
	if (cfg_value_from_text(k, c, value, err, sizeof(err)) != 0) {
		diag_add(errs, "%s: [%s] %s: %s", origin, section, key, err);
		return -1;
	}
	cfg_derive(c);
	return 0;
}

int
cfg_set_single_pool(struct cfg *c, const char *origin, const char *url,
    struct cfg_diag *errs)
{
	struct cfg_pool p;
	char err[512];

	pool_init(&p);
	p.name = xstrdup("cli");
	if (cfg_parse_pool_url(&p, url, 1, err, sizeof(err)) != 0) {
		diag_add(errs, "%s: %s", origin, err);
		pool_clear(&p);
		return -1;
	}
	for (size_t i = 0; i < c->npools; i++)
		pool_clear(&c->pools[i]);
	c->pools = xreallocarray(c->pools, 1, sizeof(*c->pools));
	c->pools[0] = p;
	c->npools = 1;
	return 0;
}

void
cfg_register_secrets(const struct cfg *c)
{
	size_t off, len;

	/* Every string key marked secret (API token, ...), not only the
	 * ones known when this was written. */
	for (size_t i = 0; i < cfg_nsections; i++) {
		const struct cfg_section *s = &cfg_sections[i];

		for (size_t j = 0; !s->is_array && j < s->nkeys; j++)
			if ((s->keys[j].flags & CFG_F_SECRET) &&
			    s->keys[j].type == CFG_T_STRING)
				log_add_secret(*(char *const *)(const void *)
				    ((const char *)c + s->keys[j].offset));
	}
	for (size_t i = 0; i < c->npools; i++)
		log_add_secret(c->pools[i].password);
	if (cfg_url_password(c->database.url, &off, &len) == 0) {
		char *secret = xstrndup(c->database.url + off, len);

		log_add_secret(secret);
		free(secret);
	}
}
