/*
 * cidr.c: CIDR block sets (see cidr.h).
 *
 * Every entry is stored as a 16-byte IPv6 prefix with its host bits cleared;
 * an IPv4 block a.b.c.d/n becomes ::ffff:a.b.c.d/(96 + n), and an IPv4 peer
 * is looked up in the same mapped form, so one comparison serves both
 * families and mapped peers match IPv4 entries. Lookup is a linear scan:
 * the lists are short (a few load balancers, a few hundred filter blocks)
 * and a scan of 17-byte entries beats a trie at that size. Built once, then
 * read-only: no locks.
 */
#include "net/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errbuf.h"
#include "util/xmalloc.h"

struct cidr_entry {
	uint8_t addr[16]; /* network order, bits past the prefix zero */
	uint8_t bits;     /* 0-128 */
};

/* The 12-byte prefix of IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2). */
static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Clear the bits of a past its first bits. */
static void
mask_bits(uint8_t a[16], unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > i * 8 ? bits - i * 8 : 0;

		if (keep < 8)
			a[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* A prefix length: 1-3 decimal digits, at most max. */
static int
parse_bits(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_entry(const char *s, struct cidr_entry *e, char *err, size_t errlen)
{
	char text[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max, bits;

	if (alen == 0 || alen >= sizeof(text))
		goto bad;
	memcpy(text, s, alen);
	text[alen] = '\0';
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, text, e->addr + 12) == 1) {
		memcpy(e->addr, v4mapped, sizeof(v4mapped));
		max = 32;
	} else if (inet_pton(AF_INET6, text, e->addr) == 1) {
		max = 128;
	} else {
		goto bad;
	}
	bits = max;
	if (slash != NULL && parse_bits(slash + 1, max, &bits) != 0) {
		errbuf_set(err, errlen, "\"%s\": prefix length must be 0-%u", s,
		    max);
		return -1;
	}
	if (max == 32)
		bits += 96;
	mask_bits(e->addr, bits);
	e->bits = (uint8_t)bits;
	return 0;
bad:
	errbuf_set(err, errlen, "\"%s\" is not an IP address or CIDR block "
	    "(like 10.0.0.0/8 or 2001:db8::/32)", s);
	return -1;
}

int
cidr_set_parse(struct cidr_set *s, const char *const *entries, size_t n,
    char *err, size_t errlen)
{
	s->v = NULL;
	s->n = 0;
	if (n == 0)
		return 0;
	s->v = xcalloc(n, sizeof(*s->v));
	for (size_t i = 0; i < n; i++) {
		if (entries[i] == NULL) {
			errbuf_set(err, errlen, "entry %zu is missing", i + 1);
			goto err0;
		}
		if (parse_entry(entries[i], &s->v[i], err, errlen) != 0)
			goto err0;
	}
	s->n = n;
	return 0;
err0:
	cidr_set_free(s);
	return -1;
}

static bool
entry_match(const struct cidr_entry *e, const uint8_t a[16])
{
	unsigned full = e->bits / 8, rest = e->bits % 8;

	if (memcmp(e->addr, a, full) != 0)
		return false;
	return rest == 0 ||
	    (a[full] & (uint8_t)(0xff00u >> rest)) == e->addr[full];
}

bool
cidr_set_contains(const struct cidr_set *s, const struct sockaddr *sa)
{
	uint8_t a[16];

	if (s == NULL || sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		memcpy(a, v4mapped, sizeof(v4mapped));
		memcpy(a + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(a, &sin6->sin6_addr, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < s->n; i++)
		if (entry_match(&s->v[i], a))
			return true;
	return false;
}

void
cidr_set_free(struct cidr_set *s)
{
	if (s == NULL)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
