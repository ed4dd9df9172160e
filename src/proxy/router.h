/*
 * router.h: which pool a session connects to; per-pool circuit breakers and
 * reconnect backoff.
 *
 * One router is shared by all worker threads. Its functions lock a mutex,
 * but they run only when an upstream connection opens or fails, never on
 * the share path.
 *
 * Breaker: CLOSED lets every connection through. After breaker_failures
 * consecutive failures it OPENs: no connection for breaker_timeout. Then it
 * is HALF_OPEN: one trial connection at a time (another only after
 * connect_timeout); a success closes it, a failure opens it again.
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

struct router;

/* router_new(c): routes over c's pools; c must outlive the router. */
struct router *router_new(const struct cfg *c);
void router_free(struct router *r);

size_t router_npools(const struct router *r);
const struct cfg_pool *router_pool(const struct router *r, int pool);

/*
 * router_pick(r, now_ms): the most preferred enabled pool (lowest priority
 * number, then file order) whose breaker lets a connection through now, and
 * take that permission. -1 when none does.
 */
int router_pick(struct router *r, int64_t now_ms);

/* router_allow(r, pool, now_ms): may a connection to this pool start now?
 * (A pinned session, or a reconnect.) Takes the half-open trial if so. */
bool router_allow(struct router *r, int pool, int64_t now_ms);

/* Report how a connection attempt ended. */
void router_success(struct router *r, int pool);
void router_failure(struct router *r, int pool, int64_t now_ms);

/* Delay before the next attempt: 100 ms doubling per consecutive failure,
 * at most 30 s. */
int64_t router_backoff_ms(struct router *r, int pool);

enum breaker_state router_state(struct router *r, int pool, int64_t now_ms);
const char *router_state_name(enum breaker_state s);

/*
 * router_find(r, host, port, name): the pool a CONNECT target names: by
 * name when name is not empty, else by host (case-insensitive) and port.
 * -1 if none.
 */
int router_find(const struct router *r, const char *host, uint16_t port,
    const char *name);

#endif
