/*
 * cidr.h: matching peer addresses against lists of CIDR blocks, for the
 * trusted PROXY-protocol senders and the IP allow and deny lists.
 *
 * A set is built once from configuration strings and then only read, so one
 * set may be shared by any number of threads without locks. IPv4 and IPv6
 * live in one address space: an IPv4 entry also matches the IPv4-mapped
 * IPv6 form of its addresses (::ffff:a.b.c.d, which a dual-stack listener
 * reports), and "::/0" matches every peer while "0.0.0.0/0" matches every
 * IPv4 peer.
 */
#ifndef LOKA_NET_CIDR_H
#define LOKA_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

struct cidr_entry;

struct cidr_set {
	struct cidr_entry *v; /* owned; n entries */
	size_t n;
};

/*
 * cidr_set_parse(s, entries, n, err, errlen): build s from n strings, each
 * "a.b.c.d/len" (len 0-32), "ipv6/len" (len 0-128) or a bare address (/32
 * or /128). Host bits past the prefix are accepted and ignored
 * ("10.0.0.1/8" is 10.0.0.0/8). No spaces, signs or zone ids. s need not be
 * initialised; n may be 0 (an empty set matches nothing). Returns 0, or -1
 * with a message naming the bad entry in err (when err is not NULL) and s
 * left empty. Free s with cidr_set_free().
 */
int cidr_set_parse(struct cidr_set *s, const char *const *entries, size_t n,
    char *err, size_t errlen);

/*
 * cidr_set_contains(s, sa): whether the address of sa (AF_INET or AF_INET6;
 * the port is ignored) lies in any block of s. False for other families,
 * for a NULL sa and for an empty set.
 */
bool cidr_set_contains(const struct cidr_set *s, const struct sockaddr *sa);

/* cidr_set_free(s): release the entries and leave s empty; s may be NULL. */
void cidr_set_free(struct cidr_set *s);

#endif
