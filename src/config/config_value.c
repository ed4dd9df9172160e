/*
 * config_value.c: converting configuration text into typed values.
 *
 * Defaults, environment variables, command-line flags and string values from
 * the file all pass through cfg_value_from_text(), so a key accepts the same
 * syntax wherever it comes from. Conversions check syntax and bounds and
 * explain what was expected; they never touch global state.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "util/errbuf.h"
#include "util/xmalloc.h"

/* A substituted value may not grow past this (a peer never sets it, but a
 * runaway environment variable should not eat memory either). */
#define CFG_VALUE_MAX (64 * 1024)

static void *
field(void *base, const struct cfg_key *k)
{
	return (char *)base + k->offset;
}

static void
list_free(struct cfg_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
list_push(struct cfg_list *l, const char *s, size_t len)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrndup(s, len);
}

static bool
is_string_type(enum cfg_type t)
{
	return t == CFG_T_STRING || t == CFG_T_ADDR || t == CFG_T_DBURL ||
	    t == CFG_T_POOLURL;
}

static bool
is_list_type(enum cfg_type t)
{
	return t == CFG_T_ADDRLIST || t == CFG_T_CIDRLIST;
}

void
cfg_value_clear(const struct cfg_key *k, void *base)
{
	if (is_string_type(k->type)) {
		char **p = field(base, k);

		free(*p);
		*p = NULL;
	} else if (is_list_type(k->type)) {
		list_free(field(base, k));
	}
}

void
cfg_value_copy(const struct cfg_key *k, void *dst, const void *src)
{
	const void *from = (const char *)src + k->offset;
	void *to = field(dst, k);

	cfg_value_clear(k, dst);
	switch (k->type) {
	case CFG_T_STRING:
	case CFG_T_ADDR:
	case CFG_T_DBURL:
	case CFG_T_POOLURL: {
		const char *s = *(char *const *)from;

		*(char **)to = s != NULL ? xstrdup(s) : NULL;
		break;
	}
	case CFG_T_ADDRLIST:
	case CFG_T_CIDRLIST: {
		const struct cfg_list *l = from;

		for (size_t i = 0; i < l->n; i++)
			list_push(to, l->v[i], strlen(l->v[i]));
		break;
	}
	case CFG_T_INT:
	case CFG_T_DURATION:
		*(int64_t *)to = *(const int64_t *)from;
		break;
	case CFG_T_DOUBLE:
		*(double *)to = *(const double *)from;
		break;
	case CFG_T_BOOL:
		*(bool *)to = *(const bool *)from;
		break;
	case CFG_T_ENUM:
		*(int *)to = *(const int *)from;
		break;
	case CFG_T_MAX:
		break;
	}
}

size_t
cfg_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	/* Names are short; longer ones are simply "far". */
	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

int
cfg_substitute(const char *in, char **out, char *err, size_t errlen)
{
	size_t cap = strlen(in) + 1, len = 0;
	char *buf = xmalloc(cap);
	const char *p = in;

	while (*p != '\0') {
		const char *chunk;
		size_t clen;

		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			chunk = "${";
			clen = 2;
			p += 3;
		} else if (p[0] == '$' && p[1] == '{') {
			const char *name = p + 2, *end = name, *def = NULL;
			size_t nlen, dlen = 0;
			char var[128];

			while (isalnum((unsigned char)*end) || *end == '_')
				end++;
			nlen = (size_t)(end - name);
			if (nlen == 0 || isdigit((unsigned char)*name)) {
				errbuf_set(err, errlen, "bad variable name after "
				    "'${' (expected ${NAME} or ${NAME:-default})");
				goto fail;
			}
			if (nlen >= sizeof(var)) {
				errbuf_set(err, errlen, "variable name too long");
				goto fail;
			}
			if (end[0] == ':' && end[1] == '-') {
				def = end + 2;
				end = strchr(def, '}');
				if (end != NULL)
					dlen = (size_t)(end - def);
			}
			if (end == NULL || *end != '}') {
				errbuf_set(err, errlen, "unterminated '${' (expected "
				    "${NAME} or ${NAME:-default})");
				goto fail;
			}
			memcpy(var, name, nlen);
			var[nlen] = '\0';
			chunk = getenv(var);
			if (chunk != NULL && chunk[0] != '\0') {
				clen = strlen(chunk);
			} else if (def != NULL) {
				chunk = def;
				clen = dlen;
			} else {
				errbuf_set(err, errlen, "environment variable %s is "
				    "not set (write ${%s:-default} to give a "
				    "default)", var, var);
				goto fail;
			}
			p = end + 1;
		} else {
			chunk = p;
			clen = 1;
			p++;
		}
		if (len + clen + 1 > CFG_VALUE_MAX) {
			errbuf_set(err, errlen, "value longer than %d bytes after "
			    "substitution", CFG_VALUE_MAX);
			goto fail;
		}
		if (len + clen + 1 > cap) {
			cap = (len + clen + 1) * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		memcpy(buf + len, chunk, clen);
		len += clen;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
fail:
	free(buf);
	return -1;
}

static int
parse_int(const char *s, int64_t *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE ||
	    isspace((unsigned char)*s))
		return -1;
	*v = n;
	return 0;
}

static int
parse_double(const char *s, double *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(d) ||
	    isspace((unsigned char)*s))
		return -1;
	*v = d;
	return 0;
}

static int
parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = false;
			return 0;
		}
	}
	return -1;
}

/* "30", "30s", "1.5s", "100ms", "5m", "1h", "1d" -> milliseconds. */
static int
parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(d) || d < 0 ||
	    isspace((unsigned char)*s) || *s == '+' || *s == '-')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double v = d * units[i].ms;

			if (v > 9.2e18)
				return -1;
			*ms = (int64_t)llround(v);
			return 0;
		}
	}
	return -1;
}

void
cfg_format_duration(int64_t ms, char *buf, size_t size)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, size, "%lldd", (long long)(ms / 86400000));
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
}

static bool
valid_hostname(const char *h)
{
	size_t len = strlen(h);

	if (len == 0 || len > 253)
		return false;
	for (const char *p = h; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return false;
	return true;
}

int
cfg_split_hostport(const char *s, char **host, uint16_t *port, int port_min,
    char *err, size_t errlen)
{
	const char *colon, *hstart = s, *hend;
	struct in6_addr a6;
	char *h;
	int64_t pv;

	if (s[0] == '[') {
		hstart = s + 1;
		hend = strchr(s, ']');
		if (hend == NULL || hend[1] != ':') {
			errbuf_set(err, errlen, "expected \"[IPv6]:port\", got "
			    "\"%s\"", s);
			return -1;
		}
		colon = hend + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			errbuf_set(err, errlen, "expected \"host:port\", got "
			    "\"%s\" (no port)", s);
			return -1;
		}
		hend = colon;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			errbuf_set(err, errlen, "IPv6 addresses need brackets: "
			    "\"[addr]:port\", got \"%s\"", s);
			return -1;
		}
	}
	if (parse_int(colon + 1, &pv) != 0 || pv < port_min || pv > 65535) {
		errbuf_set(err, errlen, "port must be a number between %d and "
		    "65535, got \"%s\"", port_min, colon + 1);
		return -1;
	}
	h = xstrndup(hstart, (size_t)(hend - hstart));
	if (s[0] == '[' ? inet_pton(AF_INET6, h, &a6) != 1 :
	    !valid_hostname(h)) {
		errbuf_set(err, errlen, "invalid host \"%s\"", h);
		free(h);
		return -1;
	}
	*host = h;
	*port = (uint16_t)pv;
	return 0;
}

static int
check_addr(const char *s, char *err, size_t errlen)
{
	char *host;
	uint16_t port;

	if (cfg_split_hostport(s, &host, &port, 0, err, errlen) != 0)
		return -1;
	free(host);
	return 0;
}

static int
check_cidr(const char *s, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned char buf[16];
	int64_t bits;
	int maxbits;

	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1)
		maxbits = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		maxbits = 128;
	else
		goto bad;
	if (slash != NULL &&
	    (parse_int(slash + 1, &bits) != 0 || bits < 0 || bits > maxbits)) {
		errbuf_set(err, errlen, "\"%s\": prefix length must be 0-%d", s,
		    maxbits);
		return -1;
	}
	return 0;
bad:
	errbuf_set(err, errlen, "\"%s\" is not an IP address or CIDR block "
	    "(like 10.0.0.0/8 or 2001:db8::/32)", s);
	return -1;
}

static int
check_dburl(const char *s, char *err, size_t errlen)
{
	if (strncmp(s, "sqlite://", 9) == 0) {
		if (s[9] == '\0') {
			errbuf_set(err, errlen, "sqlite:// needs a file path, "
			    "like sqlite://loka.db or sqlite:///var/lib/loka/"
			    "loka.db");
			return -1;
		}
		return 0;
	}
	if (strncmp(s, "postgresql://", 13) == 0 ||
	    strncmp(s, "postgres://", 11) == 0)
		return 0;
	errbuf_set(err, errlen, "unsupported database URL (expected sqlite://PATH "
	    "or postgresql://user@host/db)");
	return -1;
}

int
cfg_parse_pool_url(struct cfg_pool *p, const char *url, int allow_userinfo,
    char *err, size_t errlen)
{
	static const struct {
		const char *scheme;
		bool tls;
	} schemes[] = {
		{ "stratum+tcp://", false },
		{ "stratum+ssl://", true },
		{ "stratum+tls://", true },
	};
	const char *rest = NULL, *scheme = NULL, *at, *end;
	char *hostport, *host, *user = NULL, *pass = NULL;
	uint16_t port;
	bool tls = false;
	size_t hlen;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);

		if (strncasecmp(url, schemes[i].scheme, n) == 0) {
			rest = url + n;
			scheme = schemes[i].scheme;
			tls = schemes[i].tls;
		}
	}
	if (rest == NULL) {
		errbuf_set(err, errlen, "expected stratum+tcp://host:port (or "
		    "stratum+ssl://host:port), got \"%s\"", url);
		return -1;
	}
	end = rest + strcspn(rest, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0) {
		errbuf_set(err, errlen, "unexpected path \"%s\" after host:port",
		    end);
		return -1;
	}
	at = memchr(rest, '@', (size_t)(end - rest));
	if (at != NULL) {
		const char *colon;

		if (!allow_userinfo) {
			errbuf_set(err, errlen, "credentials in the URL are not "
			    "accepted here; use username and password "
			    "(or password_file)");
			return -1;
		}
		colon = memchr(rest, ':', (size_t)(at - rest));
		if (colon != NULL) {
			user = xstrndup(rest, (size_t)(colon - rest));
			pass = xstrndup(colon + 1, (size_t)(at - colon - 1));
		} else {
			user = xstrndup(rest, (size_t)(at - rest));
		}
		rest = at + 1;
	}
	hlen = (size_t)(end - rest);
	hostport = xstrndup(rest, hlen);
	if (cfg_split_hostport(hostport, &host, &port, 1, err, errlen) != 0) {
		free(hostport);
		free(user);
		free(pass);
		return -1;
	}
	free(p->url);
	free(p->host);
	p->url = xasprintf("%s%s", scheme, hostport);
	p->host = host;
	p->port = port;
	p->tls = tls;
	free(hostport);
	if (user != NULL) {
		free(p->username);
		p->username = user;
	}
	if (pass != NULL) {
		free(p->password);
		p->password = pass;
	}
	return 0;
}

static int
set_list(const struct cfg_key *k, struct cfg_list *l, const char *text,
    char *err, size_t errlen)
{
	struct cfg_list n = { NULL, 0 };
	const char *p = text;

	/* Text form: entries separated by commas and/or spaces. */
	while (*p != '\0') {
		size_t len;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		len = strcspn(p, ", \t\n");
		if (len == 0)
			break;
		list_push(&n, p, len);
		p += len;
	}
	if ((int64_t)n.n < k->imin || (int64_t)n.n > k->imax) {
		errbuf_set(err, errlen, "must have between %lld and %lld entries, "
		    "got %zu", (long long)k->imin, (long long)k->imax, n.n);
		goto fail;
	}
	for (size_t i = 0; i < n.n; i++) {
		int rc = k->type == CFG_T_CIDRLIST ?
		    check_cidr(n.v[i], err, errlen) :
		    check_addr(n.v[i], err, errlen);

		if (rc != 0)
			goto fail;
	}
	list_free(l);
	*l = n;
	return 0;
fail:
	list_free(&n);
	return -1;
}

int
cfg_value_from_text(const struct cfg_key *k, void *base, const char *text,
    char *err, size_t errlen)
{
	void *f = field(base, k);
	int64_t iv;
	double dv;
	bool bv;

	switch (k->type) {
	case CFG_T_INT:
		if (parse_int(text, &iv) != 0) {
			errbuf_set(err, errlen, "must be an integer, got \"%s\"",
			    text);
			return -1;
		}
		if (iv < k->imin || iv > k->imax) {
			errbuf_set(err, errlen, "must be between %lld and %lld, "
			    "got %lld", (long long)k->imin, (long long)k->imax,
			    (long long)iv);
			return -1;
		}
		*(int64_t *)f = iv;
		return 0;
	case CFG_T_DOUBLE:
		if (parse_double(text, &dv) != 0) {
			errbuf_set(err, errlen, "must be a number, got \"%s\"",
			    text);
			return -1;
		}
		if (dv < k->dmin || dv > k->dmax) {
			errbuf_set(err, errlen, "must be between %g and %g, got "
			    "%g", k->dmin, k->dmax, dv);
			return -1;
		}
		*(double *)f = dv;
		return 0;
	case CFG_T_BOOL:
		if (parse_bool(text, &bv) != 0) {
			errbuf_set(err, errlen, "must be true or false, got "
			    "\"%s\"", text);
			return -1;
		}
		*(bool *)f = bv;
		return 0;
	case CFG_T_DURATION: {
		char lo[32], hi[32];

		cfg_format_duration(k->imin, lo, sizeof(lo));
		cfg_format_duration(k->imax, hi, sizeof(hi));
		if (parse_duration(text, &iv) != 0) {
			errbuf_set(err, errlen, "must be a duration (seconds, or "
			    "a number with ms, s, m, h or d), got \"%s\"",
			    text);
			return -1;
		}
		if (iv < k->imin || iv > k->imax) {
			errbuf_set(err, errlen, "must be between %s and %s, got "
			    "\"%s\"", lo, hi, text);
			return -1;
		}
		*(int64_t *)f = iv;
		return 0;
	}
	case CFG_T_ENUM:
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(text, k->choices[i]) == 0) {
				*(int *)f = i;
				return 0;
			}
		}
		{
			char list[256];
			size_t off = 0;

			list[0] = '\0';
			for (int i = 0; k->choices[i] != NULL; i++)
				off += (size_t)snprintf(list + off,
				    off < sizeof(list) ? sizeof(list) - off : 0,
				    "%s\"%s\"", i ? ", " : "", k->choices[i]);
			errbuf_set(err, errlen, "must be one of %s, got \"%s\"",
			    list, text);
		}
		return -1;
	case CFG_T_ADDRLIST:
	case CFG_T_CIDRLIST:
		return set_list(k, f, text, err, errlen);
	case CFG_T_STRING:
	case CFG_T_ADDR:
	case CFG_T_DBURL:
	case CFG_T_POOLURL:
		break;
	case CFG_T_MAX:
		return -1;
	}

	size_t len = strlen(text);

	if ((k->flags & CFG_F_NONEMPTY) && len == 0) {
		errbuf_set(err, errlen, "must not be empty");
		return -1;
	}
	if ((int64_t)len > k->imax) {
		errbuf_set(err, errlen, "must be at most %lld characters, got %zu",
		    (long long)k->imax, len);
		return -1;
	}
	if (k->type == CFG_T_ADDR && check_addr(text, err, errlen) != 0)
		return -1;
	if (k->type == CFG_T_DBURL && check_dburl(text, err, errlen) != 0)
		return -1;
	if (k->type == CFG_T_POOLURL)
		return cfg_parse_pool_url(base, text, 0, err, errlen);
	free(*(char **)f);
	*(char **)f = xstrdup(text);
	return 0;
}
