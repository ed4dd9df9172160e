/*
 * upstream.c: a session's connection to its pool: connecting (the router
 * chooses the pool), the handshake deadline, what counts as a failure,
 * backoff and the next pool, and holding the session while no pool
 * serves it.
 *
 * A connection counts as good only once the pool answered subscribe and
 * authorize on it (the handshake), within handshake_timeout of the first
 * request it was asked. A refused or timed-out connect, an unanswered
 * handshake, a close during it (or soon after) and a protocol violation
 * (oversize or unparsable line, found by passthrough.c) are failures:
 * counted for the router's breaker, warned about at a bounded pace,
 * backed off. A session still in its handshake, or whose pool broke it,
 * goes to another pool first; one that was mining retries its pool until
 * the breaker opens. While no pool may be tried the session is held and
 * asks the router again every UP_POLL_MS, up to pool_outage_hold; then
 * it is closed so the miner's own failover acts.
 *
 * The Stratum side (replay, requests carried over, the backlog) is
 * passthrough.c's. Threading: everything runs on the session's worker
 * thread; the router is the only shared state.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "config/config.h"
#include "net/sockopt.h"
#include "net/worker.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* A connection that ends this soon after its handshake is a failure too
 * (a pool that answers, then drops or misbehaves). */
#define UP_STABLE_MS 10000
/* A session moved off a disabled pool waits this long at most for the
 * verdicts of the shares it has out there. */
#define UP_MOVE_WAIT_MS 2000
/* After a failure, a session retries at the router's backoff, but at
 * least this often: while a breaker is open only the router's trial goes
 * out, so the others just ask again. */
#define UP_RETRY_MAX_MS 1000
/* While the router lets no connection through, ask it again this often
 * (a lock, no traffic): a returning pool is used within a blink. */
#define UP_POLL_MS 250

static const struct cfg_pool *
session_pool(const struct session *s)
{
	return router_pool(s->t->proxy->router, s->pool);
}

/* Close the upstream connection; answer (or, with carry, keep) what it
 * left pending. */
void
upstream_release(struct session *s, bool carry)
{
	if (s->up_established) {
		if (s->pool >= 0)
			atomic_fetch_sub_explicit(&s->t->pools[s->pool].ready,
			    1, memory_order_relaxed);
		if (now_mono_ms() - s->up_established_ms >= UP_STABLE_MS)
			s->up_short_lived = 0;
		else
			s->up_short_lived++;
	}
	if (s->up != NULL)
		bufferevent_free(s->up);
	s->up = NULL;
	if (s->up_timer != NULL)
		evtimer_del(s->up_timer);
	passthrough_fail_pending(s, carry);
	s->up_state = UP_NONE;
	s->up_established = false;
	s->up_got_subscribe = false;
	s->up_got_authorize = false;
}

static void up_on_timer(evutil_socket_t fd, short what, void *arg);

static struct event *
up_timer_get(struct session *s)
{
	if (s->up_timer == NULL)
		s->up_timer = evtimer_new(worker_base(s->t->worker),
		    up_on_timer, s);
	return s->up_timer;
}

static struct timeval
up_tv(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* No pool serves the session from now (if none did already). */
static void
up_lost(struct session *s, int64_t now_ms)
{
	if (s->outage_ms == 0)
		s->outage_ms = now_ms;
}

void
upstream_schedule(struct session *s, int64_t delay_ms)
{
	int64_t hold = s->t->proxy->cfg->server.pool_outage_hold_ms;
	int64_t now = now_mono_ms();
	struct timeval tv;

	if (s->state == SESSION_DRAINING) {
		session_drain_check(s);
		return;
	}
	if (s->state == SESSION_CLOSING)
		return;
	if (s->outage_ms != 0 && now - s->outage_ms >= hold) {
		STAT_INC(s->t, no_pool);
		log_sinfo("stratum", s->id, "%s: no pool for %llds "
		    "(pool_outage_hold); closing so the miner's own failover "
		    "acts", s->peer_str, (long long)((now - s->outage_ms) /
		    1000));
		session_close_after_flush(s, "no pool");
		return;
	}
	/* Spread a whole farm's reconnects over time (±25%). */
	delay_ms += (int64_t)(s->id * 7919 % 50) * delay_ms / 100 -
	    delay_ms / 4;
	if (s->outage_ms != 0 && delay_ms > hold - (now - s->outage_ms))
		delay_ms = hold - (now - s->outage_ms);
	tv = up_tv(delay_ms);
	s->up_state = UP_BACKOFF;
	evtimer_add(up_timer_get(s), &tv);
}

/* 100 ms doubling per step, at most 30 s. */
static int64_t
up_backoff(int steps)
{
	int64_t ms = 100;

	for (int i = 1; i < steps && ms < 30000; i++)
		ms *= 2;
	return ms < 30000 ? ms : 30000;
}

/*
 * The connection failed (kind; fmt: why, naming the pool): count it,
 * tell the router, warn
 * (at most once per pool per ROUTER_WARN_INTERVAL_MS), let it go and try
 * again: another pool first after a broken one or while the miner's
 * handshake is not through (nothing is lost by moving then); otherwise
 * the same pool, until its breaker opens.
 */
void
upstream_fail(struct session *s, enum upstream_fail kind, const char *fmt, ...)
{
	struct proxy *p = s->t->proxy;
	int64_t now = now_mono_ms(), delay;
	uint64_t suppressed;
	char why[300], more[64] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	STAT_INC(s->t, upstream_failures);
	POOL_INC(s->t, s->pool, failures);
	if (kind == UPSTREAM_FAIL_HANDSHAKE)
		POOL_INC(s->t, s->pool, handshake_timeouts);
	if (kind == UPSTREAM_FAIL_PROTOCOL) {
		POOL_INC(s->t, s->pool, protocol_errors);
		router_violation(p->router, s->pool, now);
	} else {
		router_failure(p->router, s->pool, now);
	}
	s->up_avoid = !s->ever_established || kind == UPSTREAM_FAIL_HANDSHAKE ||
	    kind == UPSTREAM_FAIL_PROTOCOL;
	if (router_may_warn(p->router, s->pool, now, &suppressed)) {
		if (suppressed > 0)
			snprintf(more, sizeof(more), " (%" PRIu64 " more "
			    "suppressed)", suppressed);
		log_swarnx("stratum", s->id, "%s; %s%s", why, s->up_avoid ?
		    "trying another pool" : "reconnecting", more);
	} else {
		log_sdebug("stratum", s->id, "%s", why);
	}
	upstream_release(s, !s->ever_established);
	if (s->state == SESSION_CLOSING)
		return;
	delay = router_backoff_ms(p->router, s->pool);
	if (delay > UP_RETRY_MAX_MS)
		delay = UP_RETRY_MAX_MS;
	/* A pool that keeps failing right after its handshakes resets the
	 * router's count each time: this session backs off by itself. */
	if (s->up_short_lived > 0 && up_backoff(s->up_short_lived) > delay)
		delay = up_backoff(s->up_short_lived);
	up_lost(s, now);
	upstream_schedule(s, delay);
}

/* The pool answered subscribe and authorize on this connection: a good
 * connection, for the breaker and the session. */
static void
up_establish(struct session *s)
{
	int64_t now = now_mono_ms();

	s->up_established = true;
	s->up_established_ms = now;
	evtimer_del(up_timer_get(s));
	router_success(s->t->proxy->router, s->pool, now);
	atomic_fetch_add_explicit(&s->t->pools[s->pool].ready, 1,
	    memory_order_relaxed);
	if (s->outage_ms != 0)
		log_sdebug("stratum", s->id, "pool %s serves the session "
		    "again after %lld ms", session_pool(s)->name,
		    (long long)(now - s->outage_ms));
	s->outage_ms = 0;
	s->ever_established = true;
	s->up_avoid = false;
}

/* Start the pool's handshake deadline, unless it runs already. */
void
upstream_handshake_arm(struct session *s)
{
	const struct cfg_pool *pool = session_pool(s);
	struct timeval tv;

	if (s->up_established || s->up == NULL || pool == NULL ||
	    evtimer_pending(up_timer_get(s), NULL))
		return;
	tv = up_tv(pool->handshake_timeout_ms);
	evtimer_add(s->up_timer, &tv);
}

/* The pool answered a handshake request (ok: without an error). */
void
upstream_handshake_answer(struct session *s, enum pend_kind kind, int worker,
    bool ok)
{
	if (s->up_established)
		return;
	if ((kind == PEND_SUBSCRIBE || kind == PEND_REPLAY_SUBSCRIBE) && ok)
		s->up_got_subscribe = true;
	/* Any answer: a refused worker is the miner's business. */
	if (kind == PEND_AUTHORIZE || (kind == PEND_REPLAY && worker >= 0))
		s->up_got_authorize = true;
	if (s->up_got_subscribe && s->up_got_authorize) {
		up_establish(s);
		return;
	}
	/* Nothing more is asked of the pool: the miner's turn. */
	if (!passthrough_handshake_pending(s, false))
		evtimer_del(up_timer_get(s));
}

static void
up_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->move_when_idle) {
		upstream_move(s);
		return;
	}
	if (s->up == NULL) {
		upstream_connect(s);
		return;
	}
	if (s->up_state == UP_READY && !s->up_established)
		upstream_fail(s, UPSTREAM_FAIL_HANDSHAKE, "pool %s did not "
		    "answer %s within handshake_timeout (%.1fs)",
		    session_pool(s)->name, s->up_got_subscribe ?
		    "mining.authorize" : "mining.subscribe",
		    (double)session_pool(s)->handshake_timeout_ms / 1000);
}

static void
up_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	int64_t now = now_mono_ms();
	char why[256];

	if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t fd = bufferevent_getfd(bev);
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		sockopt_keepalive(fd);
		bufferevent_set_timeouts(bev, NULL, NULL);
		s->up_state = UP_READY;
		s->up_established = false;
		s->up_got_subscribe = false;
		s->up_got_authorize = false;
		log_sdebug("stratum", s->id, "connected to pool %s",
		    session_pool(s)->name);
		passthrough_pool_connected(s);
		/* Connected: from now on writes go through at once. */
		session_up_write_through(s);
		return;
	}
	if (s->up_state != UP_READY) {
		upstream_fail(s, UPSTREAM_FAIL_CONNECT, "cannot connect to "
		    "pool %s: %s", session_pool(s)->name,
		    proxy_tls_connect_error(bev, what, why, sizeof(why)));
		return;
	}
	if (!s->up_established) {
		upstream_fail(s, UPSTREAM_FAIL_CLOSED, "pool %s closed the "
		    "connection during the handshake", session_pool(s)->name);
		return;
	}
	if (now - s->up_established_ms < UP_STABLE_MS) {
		upstream_fail(s, UPSTREAM_FAIL_CLOSED, "pool %s closed the "
		    "connection %.1fs after the handshake",
		    session_pool(s)->name,
		    (double)(now - s->up_established_ms) / 1000);
		return;
	}
	log_sinfo("stratum", s->id, "pool %s closed the connection; "
	    "reconnecting", session_pool(s)->name);
	upstream_release(s, false);
	if (s->state == SESSION_CLOSING)
		return;
	up_lost(s, now);
	upstream_schedule(s, 0);
}

void
upstream_move(struct session *s)
{
	if (s->state == SESSION_CLOSING || s->pool < 0 ||
	    (s->up == NULL && s->up_state == UP_NONE)) {
		s->move_when_idle = false;
		return;
	}
	if (s->submits_pending > 0 && s->up != NULL && !s->move_when_idle) {
		/* Shares out at the pool are counted there: their verdicts
		 * first, so that the books keep equal to the pool's count
		 * (UP_MOVE_WAIT_MS at most: upstream_verdicts_done()). */
		struct timeval tv = up_tv(UP_MOVE_WAIT_MS);

		s->move_when_idle = true;
		evtimer_add(up_timer_get(s), &tv);
		return;
	}
	s->move_when_idle = false;
	if (s->pinned) {
		log_sinfo("stratum", s->id, "pool %s disabled; the session "
		    "was sent to it by CONNECT: closing", session_pool(s)->name);
		session_close_after_flush(s, "pool disabled");
		return;
	}
	log_sinfo("stratum", s->id, "pool %s disabled; moving",
	    session_pool(s)->name);
	upstream_release(s, false);
	if (s->state == SESSION_CLOSING)
		return;
	s->move_reason = "operator";
	up_lost(s, now_mono_ms());
	upstream_schedule(s, 0);
}

void
upstream_verdicts_done(struct session *s)
{
	struct timeval now = { 0, 0 };

	if (s->move_when_idle && s->submits_pending == 0)
		evtimer_add(up_timer_get(s), &now);
}

/* On each worker: move the sessions of a pool just disabled. */
static void
on_pool_disabled(struct worker *w, void *arg)
{
	int *pool = arg;
	struct proxy_thread *t;
	struct session *s, *next;

	if (w != NULL) {
		t = worker_data(w);
		for (s = TAILQ_FIRST(&t->sessions); s != NULL; s = next) {
			next = TAILQ_NEXT(s, entry);
			if (s->pool == *pool && !s->move_when_idle)
				upstream_move(s);
		}
	}
	free(pool);
}

void
upstream_pool_disabled(struct proxy *p, int pool)
{
	for (size_t i = 0; i < p->nworkers; i++) {
		int *copy;

		if (p->workers[i] == NULL)
			continue;
		copy = xmalloc(sizeof(*copy));
		*copy = pool;
		worker_post(p->workers[i], on_pool_disabled, copy);
	}
}

void
upstream_connect(struct session *s)
{
	struct proxy *p = s->t->proxy;
	const struct cfg_pool *pool;
	struct timeval tv;
	int64_t now = now_mono_ms();
	bool again = s->up_state == UP_BACKOFF;
	unsigned flags = (s->pinned ? ROUTER_PINNED : 0) |
	    (s->up_avoid ? ROUTER_AVOID : 0);
	int pick;

	if (s->state == SESSION_CLOSING || s->up != NULL)
		return;
	pick = router_choose(p->router, s->pool, flags, now);
	if (pick < 0) {
		/* Nothing may be tried now: hold the session, ask again. */
		if (s->outage_ms == 0)
			log_sdebug("stratum", s->id, "no pool usable now; "
			    "holding the session");
		up_lost(s, now);
		upstream_schedule(s, UP_POLL_MS);
		return;
	}
	if (s->pool >= 0 && pick != s->pool) {
		log_sdebug("stratum", s->id, "moving from pool %s to pool %s",
		    session_pool(s)->name, router_pool(p->router, pick)->name);
		proxy_count_switch(p, s->pool, pick, s->move_reason != NULL ?
		    s->move_reason : "failed");
	}
	s->move_reason = NULL;
	s->pool = pick;
	pool = session_pool(s);
	s->up = proxy_tls_upstream(s, pool);
	if (s->up == NULL) {
		session_drop(s, "out of resources");
		return;
	}
	bufferevent_setcb(s->up, passthrough_pool_read, session_on_drained,
	    up_on_event, s);
	/* The write timeout bounds the connect itself (and the read timeout
	 * a TLS handshake). */
	tv = up_tv(pool->connect_timeout_ms);
	bufferevent_set_timeouts(s->up, pool->tls ? &tv : NULL, &tv);
	bufferevent_enable(s->up, EV_READ | EV_WRITE);
	s->up_state = UP_CONNECTING;
	STAT_INC(s->t, upstream_connects);
	POOL_INC(s->t, s->pool, connects);
	if (again) {
		STAT_INC(s->t, upstream_reconnects);
		POOL_INC(s->t, s->pool, reconnects);
	}
	if (bufferevent_socket_connect_hostname(s->up, worker_dns(s->t->worker),
	    AF_UNSPEC, pool->host, pool->port) != 0) {
		/* The event callback has run (or will); it handles failure. */
		log_sdebug("stratum", s->id, "connect to %s failed at once",
		    pool->name);
	}
}

void
upstream_free(struct session *s)
{
	upstream_release(s, false);
	if (s->up_timer != NULL)
		event_free(s->up_timer);
	s->up_timer = NULL;
}
