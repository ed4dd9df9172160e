/*
 * security.h: abuse control shared by every worker thread: the IP
 * allow/deny filter, per-IP connection caps and connection rates, per-IP
 * violation counts, and bans.
 *
 * One struct security per running proxy. It keeps a table of peer
 * addresses (IPv4 stored as IPv4-mapped IPv6, so one key space serves both
 * families) behind one mutex. The table is touched only when a connection
 * is accepted or closed, when a peer misbehaves, and by the API: never per
 * share. It is bounded (SECURITY_IDLE_ENTRIES past max_connections): when
 * full, the entry touched least recently that holds no connection and no
 * ban is forgotten first, then the ban closest to its end.
 *
 * Violations are counted per address in a fixed window of [security]
 * violation_window that starts at the first one; max_violations within it
 * ban the address for ban_duration. A ban refuses new connections at
 * accept, and the ban callback given to security_new() is called (on the
 * thread that caused the ban, outside the lock) so that the proxy can close
 * the address's existing sessions.
 *
 * Times: now_ms arguments are CLOCK_MONOTONIC milliseconds (the proxy's
 * now_mono_ms()); the functions without one read that clock themselves.
 * Every function is thread-safe.
 */
#ifndef LOKA_SECURITY_SECURITY_H
#define LOKA_SECURITY_SECURITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cfg;
struct metrics_registry;
struct security;

/* Entries kept beyond one per allowed connection: violation history and
 * connection-rate buckets of peers that hold no connection, and bans. */
#define SECURITY_IDLE_ENTRIES 65536
/* Longest reason kept with a ban (bytes, NUL included). */
#define SECURITY_REASON_MAX 64

/* What a peer did wrong; each is counted by kind (metrics, logs). */
enum security_kind {
	SECURITY_V_RATE_LIMIT = 0, /* messages over [security] rate_limit */
	SECURITY_V_LINE_TIMEOUT,   /* a partial line older than line_timeout */
	SECURITY_V_AUTH_FAILURES,  /* over max_auth_failures on a connection */
	SECURITY_V_BAD_INPUT,      /* too many malformed lines */
	SECURITY_V_LINE_TOO_LONG,  /* a line over max_line_length */
	SECURITY_V_PROTOCOL,       /* plain HTTP, TLS on a plain port, bad
	                            * CONNECT or PROXY header, unknown bytes */
	SECURITY_V_UNTRUSTED_PROXY, /* PROXY header from an untrusted peer */
	SECURITY_V_HANDSHAKE_TIMEOUT, /* nothing recognisable sent within
	                               * connection_timeout */
	SECURITY_V_IP_CONNECTIONS, /* over max_connections_per_ip */
	SECURITY_V_IP_RATE,        /* over connection_rate_per_ip */
	SECURITY_V_MAX
};

/* The answer at accept. */
enum security_verdict {
	SECURITY_ADMIT = 0,
	SECURITY_REFUSE_FILTER,         /* ip_filter_mode said no */
	SECURITY_REFUSE_BANNED,
	SECURITY_REFUSE_IP_CONNECTIONS, /* max_connections_per_ip reached */
	SECURITY_REFUSE_IP_RATE,        /* connection_rate_per_ip exceeded */
	SECURITY_VERDICT_MAX
};

/* Why the proxy closed a session on the module's behalf (counted). */
enum security_close {
	SECURITY_CLOSE_BANNED = 0,  /* its address was banned */
	SECURITY_CLOSE_LINE_TIMEOUT,
	SECURITY_CLOSE_AUTH_FAILURES,
	SECURITY_CLOSE_MAX
};

/*
 * Called when an address is banned (automatically or by security_ban()),
 * with the 16-byte key of the address, on the banning thread, without the
 * lock held. addr is only valid during the call: copy it.
 */
typedef void (*security_ban_fn)(const uint8_t addr[16], void *arg);

/*
 * security_new(c, on_ban, arg, err, errlen): the abuse-control state for
 * configuration c (its [security] section and max_connections), which
 * must outlive it. on_ban may be NULL. Returns NULL with a message in err
 * when an ip_allowlist or ip_denylist entry does not parse.
 */
struct security *security_new(const struct cfg *c, security_ban_fn on_ban,
    void *arg, char *err, size_t errlen);
/* security_free(sec): NULL is a no-op. */
void security_free(struct security *sec);

/*
 * security_addr_key(sa, key): the 16-byte key of sa's address (AF_INET as
 * ::ffff:a.b.c.d, AF_INET6 as is). Returns 0, or -1 for other families and
 * NULL (key untouched).
 */
int security_addr_key(const struct sockaddr *sa, uint8_t key[16]);

/*
 * security_admit(sec, sa, now_ms): may a new connection from sa be served?
 * Checks, in order: the IP filter, a ban, the per-IP new-connection rate,
 * the per-IP connection cap. SECURITY_ADMIT takes one of the address's
 * connection slots: give it back with security_release() when the
 * connection ends. A refusal for rate or cap also counts a violation (and
 * may ban the address); filter and ban refusals do not. Every refusal is
 * counted by verdict. Addresses of other families than IPv4/IPv6 (a Unix
 * socket in tests) are admitted untracked.
 */
enum security_verdict security_admit(struct security *sec,
    const struct sockaddr *sa, int64_t now_ms);

/* security_release(sec, sa): give back a slot taken by security_admit(). */
void security_release(struct security *sec, const struct sockaddr *sa);

/*
 * security_violation(sec, sa, kind, now_ms): count one violation of kind by
 * sa's address. Returns true when the address is banned after it (by this
 * violation, which calls the ban callback, or already before).
 */
bool security_violation(struct security *sec, const struct sockaddr *sa,
    enum security_kind kind, int64_t now_ms);

/* security_banned(sec, key, now_ms): is this address key banned now? */
bool security_banned(struct security *sec, const uint8_t key[16],
    int64_t now_ms);

/* security_count_close(sec, why): count a session the proxy closed. */
void security_count_close(struct security *sec, enum security_close why);

/*
 * For the API (/api/v1/bans).
 *
 * security_bans_json(sec): the active bans as a new JSON array (caller
 * decrefs), oldest first, each
 *   {"ip": "192.0.2.7" | "2001:db8::1", "reason": "rate_limit" | ... |
 *    "manual" | the reason given to security_ban(),
 *    "since": "2026-11-24T10:00:00Z", "expires": "...Z",
 *    "expires_in": seconds left (integer), "violations": n}
 * violations is the count that caused the ban (0 for a manual ban).
 *
 * security_ban(sec, ip, duration_ms, reason): ban ip (IPv4 or IPv6 text,
 * no prefix length) for duration_ms (<= 0: [security] ban_duration), or
 * extend/replace an existing ban; reason may be NULL ("manual") and is
 * truncated to SECURITY_REASON_MAX - 1 bytes. Existing sessions from ip
 * are closed (ban callback). Returns 0, or -1 when ip is not an address
 * (or the table is full of connected peers: nothing could be evicted).
 *
 * security_unban(sec, ip): lift the ban on ip and forget its violations.
 * Returns 0 when a ban was lifted, 1 when ip was not banned, -1 when ip is
 * not an address.
 */
json_t *security_bans_json(struct security *sec);
int security_ban(struct security *sec, const char *ip, int64_t duration_ms,
    const char *reason);
int security_unban(struct security *sec, const char *ip);

/*
 * security_metrics_register(sec, reg): the families
 *   loka_security_violations_total{kind}   counter
 *   loka_security_refused_total{reason}    counter (connections refused at
 *                                          accept: ip_filter, banned,
 *                                          ip_connections, ip_connection_rate)
 *   loka_security_sessions_closed_total{reason} counter (banned,
 *                                          line_timeout, auth_failures)
 *   loka_bans_active                       gauge
 *   loka_bans_total                        counter (bans ever placed)
 * as callbacks reading sec at scrape time. sec must outlive reg's use.
 * Returns 0, or -1 if a name is already registered.
 */
int security_metrics_register(struct security *sec,
    struct metrics_registry *reg);

/* Short lowercase names for logs and labels ("rate_limit", ...);
 * "invalid" out of range. */
const char *security_kind_name(enum security_kind kind);
const char *security_verdict_name(enum security_verdict v);
const char *security_close_name(enum security_close why);

#endif
