/*
 * guard.h: the proxy's side of abuse control: what a session does with the
 * shared security table (src/security/): admission at accept and after a
 * PROXY header, the per-connection message rate limit, the slow-drip
 * (partial line) deadline, failed authorizations, violations, and closing
 * the sessions of an address when it is banned.
 *
 * Threading: every guard_* function but guard_on_ban() runs on the
 * session's worker thread. guard_on_ban() runs on whichever thread placed
 * the ban and only posts a task (with a copy of the address) to every
 * worker. A proxy without a security table (p->security NULL, as in unit
 * tests) still rate-limits and times out lines but counts nothing.
 */
#ifndef LOKA_PROXY_GUARD_H
#define LOKA_PROXY_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "security/ratelimit.h"
#include "security/security.h"

struct event;
struct proxy_thread;
struct session;

/* A session's abuse-control state (embedded in struct session). */
struct guard_state {
	struct ratelimit rate;    /* miner messages */
	struct event *line_timer; /* slow-drip deadline; NULL until needed */
	int64_t line_started_ms;  /* a partial line pending since; 0: none */
	int auth_failures;        /* refused authorizations so far */
	bool ip_slot;             /* holds a slot of its address's cap */
	bool rate_logged;         /* the first rate-limit hit was logged */
};

/*
 * guard_admit(t, fd, sa, slot): may this new connection be served? Peers
 * in trusted_proxies are admitted without a per-IP slot (their PROXY
 * header will name the real address). A refused connection is answered
 * (per-IP limits: a JSON-RPC error 20 line; ban and IP filter: nothing),
 * closed and counted; returns -1. Returns 0 with *slot telling whether a
 * per-IP slot was taken (give it back with guard_unadmit() if the session
 * is not created after all).
 */
int guard_admit(struct proxy_thread *t, int fd, const struct sockaddr *sa,
    bool *slot);
void guard_unadmit(struct proxy_thread *t, const struct sockaddr *sa,
    bool slot);

/* guard_session_init(s, slot): set up s->guard (s->peer and s->t set);
 * the line timer is created by the first partial line. */
void guard_session_init(struct session *s, bool slot);
/* guard_session_fini(s): release the slot and the timer; idempotent. */
void guard_session_fini(struct session *s);

/*
 * guard_peer_changed(s): a trusted PROXY header replaced s->peer: admit
 * the real address. Returns 0, or -1 when it is refused (the session is
 * dropped).
 */
int guard_peer_changed(struct session *s);

/*
 * guard_line(s, line, len): one complete line from the miner, before it is
 * handled. Returns 0 to handle it, 1 when it is over the rate limit (it
 * was answered with error 20 if it had an id and must be skipped; a
 * violation was counted), -1 when the session was closed (banned).
 */
int guard_line(struct session *s, const char *line, size_t len);

/*
 * guard_partial(s, pending): after reading, whether an incomplete line (or
 * connection header) is waiting for more bytes. The first time it is, the
 * line_timeout deadline starts; a session still waiting at the deadline is
 * closed and a violation counted.
 */
void guard_partial(struct session *s, bool pending);

/*
 * guard_violation(s, kind): count a violation by the session's address
 * (not for trusted proxies' own addresses). Returns true when the address
 * is banned now; the session is then closed (after flushing what is
 * queued) unless it is closing already.
 */
bool guard_violation(struct session *s, enum security_kind kind);

/*
 * guard_auth_failed(s, replay): the pool refused one of s's workers.
 * Replays after a reconnect are not counted. Past [security]
 * max_auth_failures on this connection the miner gets an error, a
 * violation is counted and the session is closed.
 */
void guard_auth_failed(struct session *s, bool replay);

/*
 * guard_on_ban(addr, arg): the security_ban_fn of the proxy (arg: struct
 * proxy *): every worker closes its sessions from addr.
 */
void guard_on_ban(const uint8_t addr[16], void *arg);

#endif
