/*
 * router.h: which pool a session connects to; per-pool circuit breakers,
 * reconnect backoff, and the pace of warnings about a failing pool.
 *
 * One router is shared by all worker threads. Its functions lock a mutex,
 * but they run only when an upstream connection opens or fails, never on
 * the share path.
 *
 * A failure is a connection attempt that did not end in a completed
 * handshake (refused, timed out, subscribe or authorize left unanswered,
 * closed early) or a protocol violation (an oversize or unparsable line);
 * a success is a completed handshake (subscribe and authorize answered).
 * Failures of many sessions at the same moment count as one.
 *
 * Breaker: CLOSED lets every connection through. After breaker_failures
 * consecutive failures it OPENs: no connection for breaker_timeout. Then it
 * is HALF_OPEN: one trial connection at a time (another only after
 * connect_timeout + handshake_timeout); a success closes it, a failure
 * opens it again. While no other pool is usable, an open breaker does not
 * keep a pool out: trials go on at the backoff pace (at most a second
 * apart), so the only pool is back as soon as it answers.
 *
 * A CLOSED pool that failed since its last success is suspect: new
 * sessions and sessions moving away from a failed pool prefer a pool that
 * did not fail, and try a suspect one again (one trial) only after
 * breaker_timeout. A success after a protocol violation forgets the
 * failures only once the pool has behaved for ROUTER_PROBATION_MS.
 */
#ifndef LOKA_PROXY_ROUTER_H
#define LOKA_PROXY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct cfg_pool;

enum breaker_state {
	BREAKER_CLOSED = 0,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN,
	BREAKER_STATE_MAX
};

/* A violation keeps the failure count through successes this long. */
#define ROUTER_PROBATION_MS 60000
/* At most one warning per pool this often (the rest are counted). */
#define ROUTER_WARN_INTERVAL_MS 10000

/* router_choose() flags. */
#define ROUTER_PINNED 0x1 /* only current will do (an HTTP CONNECT tunnel) */
#define ROUTER_AVOID  0x2 /* current just failed: any other pool first */

struct router;

/* router_new(c): routes over c's pools; c must outlive the router. */
struct router *router_new(const struct cfg *c);
void router_free(struct router *r);

size_t router_npools(const struct router *r);
const struct cfg_pool *router_pool(const struct router *r, int pool);

/*
 * router_choose(r, current, flags, now_ms): the pool a session connects
 * to now, taking the permission (a trial, if that is what it is); -1 when
 * none may be tried now (ask again later). current is the session's pool
 * (-1: none yet). Order: current, unless ROUTER_AVOID; then, most
 * preferred first (lowest priority number, then file order), a pool that
 * did not fail, then any pool whose breaker lets a connection through;
 * with ROUTER_AVOID, current after every other; last, while nothing else
 * is usable, a trial of an open pool at the backoff pace. ROUTER_PINNED:
 * current or nothing.
 */
int router_choose(struct router *r, int current, unsigned flags,
    int64_t now_ms);

/* router_pick(r, now_ms): router_choose(r, -1, 0, now_ms), for a new
 * session. */
int router_pick(struct router *r, int64_t now_ms);

/* router_allow(r, pool, now_ms): does this pool's breaker let a
 * connection start now? Takes the half-open trial if so. */
bool router_allow(struct router *r, int pool, int64_t now_ms);

/* Report how a connection attempt ended: a completed handshake, a
 * failure, or a protocol violation (a failure that also puts the pool on
 * probation). */
void router_success(struct router *r, int pool, int64_t now_ms);
void router_failure(struct router *r, int pool, int64_t now_ms);
void router_violation(struct router *r, int pool, int64_t now_ms);

/* Delay before the next attempt: 100 ms doubling per consecutive failure,
 * at most 30 s. */
int64_t router_backoff_ms(struct router *r, int pool);

/*
 * router_may_warn(r, pool, now_ms, suppressed): may a warning about this
 * pool be logged now? At most one per ROUTER_WARN_INTERVAL_MS; when true,
 * *suppressed is how many were held back since the last one.
 */
bool router_may_warn(struct router *r, int pool, int64_t now_ms,
    uint64_t *suppressed);

enum breaker_state router_state(struct router *r, int pool, int64_t now_ms);
const char *router_state_name(enum breaker_state s);

/*
 * Live changes (POST /api/v1/pools/{name}), until the process ends:
 * router_set(r, pool, enabled, priority) sets whether the pool may be
 * used (enabled: 0 or 1; -1 keeps it) and its priority (when set_priority)
 * and orders the pools again. router_enabled() and router_priority() are
 * what is in force (the file's values until a change). Any thread.
 */
void router_set(struct router *r, int pool, int enabled, bool set_priority,
    int64_t priority);
bool router_enabled(struct router *r, int pool);
int64_t router_priority(struct router *r, int pool);

/*
 * router_find(r, host, port, name): the pool a CONNECT target names: by
 * name when name is not empty, else by host (case-insensitive) and port.
 * -1 if none.
 */
int router_find(const struct router *r, const char *host, uint16_t port,
    const char *name);

#endif
