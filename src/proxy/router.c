/*
 * router.c: pool choice, circuit breakers, backoff and the pace of
 * warnings about failing pools (see router.h).
 */
#include "proxy/router.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* First reconnect delay, and the cap of the doubling. */
#define ROUTER_BACKOFF_MIN_MS 100
#define ROUTER_BACKOFF_MAX_MS 30000
/* While no other pool is usable, an open pool is tried at the backoff
 * pace but at least this often: one connection a second costs a pool
 * nothing, and a pool that is back is found within a second. */
#define ROUTER_LAST_RESORT_MAX_MS 1000

struct router_pool {
	const struct cfg_pool *cfg;
	bool enabled;          /* in force: the file's, or the API's */
	int64_t priority;
	enum breaker_state state;
	int failures;          /* consecutive */
	int64_t failed_ms;     /* when the last counted failure happened */
	int64_t opened_ms;     /* when the breaker last opened */
	int64_t trial_ms;      /* when the last trial started */
	bool trial;            /* a trial is out, not reported yet */
	bool violated;         /* on probation since violation_ms */
	int64_t violation_ms;
	bool warned;           /* a warning was logged at warned_ms */
	int64_t warned_ms;
	uint64_t suppressed;   /* warnings held back since */
};

struct router {
	pthread_mutex_t lock;
	struct router_pool *pools;
	int *order; /* pool indices, most preferred first */
	size_t n;
};

/* How hard router_choose() is looking. */
enum pick_mode {
	PICK_HEALTHY = 0, /* closed and not failed since its last success */
	PICK_ANY,         /* whatever the breaker lets through */
	PICK_LAST_RESORT, /* nothing else is usable: trial at backoff pace */
	PICK_MODE_MAX
};

/* Most preferred first: lowest priority, then file order (an insertion
 * sort: a handful of pools). Called with the lock held, or before any
 * other thread exists. */
static void
sort_locked(struct router *r)
{
	for (size_t i = 0; i < r->n; i++)
		r->order[i] = (int)i;
	for (size_t i = 1; i < r->n; i++) {
		int v = r->order[i];
		size_t j = i;

		while (j > 0 && r->pools[r->order[j - 1]].priority >
		    r->pools[v].priority) {
			r->order[j] = r->order[j - 1];
			j--;
		}
		r->order[j] = v;
	}
}

struct router *
router_new(const struct cfg *c)
{
	struct router *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->lock, NULL);
	r->n = c->npools;
	r->pools = xcalloc(r->n ? r->n : 1, sizeof(*r->pools));
	r->order = xcalloc(r->n ? r->n : 1, sizeof(*r->order));
	for (size_t i = 0; i < r->n; i++) {
		r->pools[i].cfg = &c->pools[i];
		r->pools[i].enabled = c->pools[i].enabled;
		r->pools[i].priority = c->pools[i].priority;
	}
	sort_locked(r);
	return r;
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->pools);
	free(r->order);
	free(r);
}

size_t
router_npools(const struct router *r)
{
	return r->n;
}

const struct cfg_pool *
router_pool(const struct router *r, int pool)
{
	return pool >= 0 && (size_t)pool < r->n ? r->pools[pool].cfg : NULL;
}

static int64_t
backoff_for(int failures)
{
	int64_t ms = ROUTER_BACKOFF_MIN_MS;

	for (int i = 1; i < failures && ms < ROUTER_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < ROUTER_BACKOFF_MAX_MS ? ms : ROUTER_BACKOFF_MAX_MS;
}

/* A trial that never reported back (its session vanished) is given up
 * after the longest a connection and its handshake may take. */
static bool
trial_free(const struct router_pool *p, int64_t now_ms)
{
	return !p->trial || now_ms - p->trial_ms >=
	    p->cfg->connect_timeout_ms + p->cfg->handshake_timeout_ms;
}

static void
trial_take(struct router_pool *p, int64_t now_ms)
{
	p->trial = true;
	p->trial_ms = now_ms;
}

/* Called with the lock held. */
static bool
allow_locked(struct router_pool *p, enum pick_mode mode, int64_t now_ms)
{
	int64_t timeout = p->cfg->breaker_timeout_ms;
	int64_t pace;

	if (!p->enabled)
		return false;
	switch (p->state) {
	case BREAKER_CLOSED:
		if (mode != PICK_HEALTHY || p->failures == 0)
			return true;
		/* Suspect: one trial per breaker_timeout. */
		if (now_ms - p->failed_ms < timeout || !trial_free(p, now_ms))
			return false;
		trial_take(p, now_ms);
		return true;
	case BREAKER_OPEN:
		pace = backoff_for(p->failures);
		if (pace > ROUTER_LAST_RESORT_MAX_MS)
			pace = ROUTER_LAST_RESORT_MAX_MS;
		if (now_ms - p->opened_ms < timeout &&
		    (mode != PICK_LAST_RESORT || now_ms - p->opened_ms < pace))
			return false;
		p->state = BREAKER_HALF_OPEN;
		trial_take(p, now_ms);
		return true;
	case BREAKER_HALF_OPEN:
		/* One trial at a time. */
		if (!trial_free(p, now_ms))
			return false;
		trial_take(p, now_ms);
		return true;
	case BREAKER_STATE_MAX:
		break;
	}
	return false;
}

static bool
valid(const struct router *r, int pool)
{
	return pool >= 0 && (size_t)pool < r->n;
}

int
router_choose(struct router *r, int current, unsigned flags, int64_t now_ms)
{
	bool cur = valid(r, current);
	int pick = -1;

	pthread_mutex_lock(&r->lock);
	if (flags & ROUTER_PINNED) {
		if (cur && (allow_locked(&r->pools[current], PICK_ANY,
		    now_ms) || allow_locked(&r->pools[current],
		    PICK_LAST_RESORT, now_ms)))
			pick = current;
		goto out;
	}
	if (cur && !(flags & ROUTER_AVOID) &&
	    allow_locked(&r->pools[current], PICK_ANY, now_ms)) {
		pick = current;
		goto out;
	}
	for (int mode = PICK_HEALTHY; mode <= PICK_ANY; mode++)
		for (size_t i = 0; i < r->n; i++)
			if (r->order[i] != current &&
			    allow_locked(&r->pools[r->order[i]],
			    (enum pick_mode)mode, now_ms)) {
				pick = r->order[i];
				goto out;
			}
	if (cur && (flags & ROUTER_AVOID) &&
	    allow_locked(&r->pools[current], PICK_ANY, now_ms)) {
		pick = current;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++)
		if (allow_locked(&r->pools[r->order[i]], PICK_LAST_RESORT,
		    now_ms)) {
			pick = r->order[i];
			goto out;
		}
out:
	pthread_mutex_unlock(&r->lock);
	return pick;
}

void
router_set(struct router *r, int pool, int enabled, bool set_priority,
    int64_t priority)
{
	if (!valid(r, pool))
		return;
	pthread_mutex_lock(&r->lock);
	if (enabled >= 0)
		r->pools[pool].enabled = enabled != 0;
	if (set_priority) {
		r->pools[pool].priority = priority;
		sort_locked(r);
	}
	pthread_mutex_unlock(&r->lock);
}

bool
router_enabled(struct router *r, int pool)
{
	bool on;

	if (!valid(r, pool))
		return false;
	pthread_mutex_lock(&r->lock);
	on = r->pools[pool].enabled;
	pthread_mutex_unlock(&r->lock);
	return on;
}

int64_t
router_priority(struct router *r, int pool)
{
	int64_t prio;

	if (!valid(r, pool))
		return 0;
	pthread_mutex_lock(&r->lock);
	prio = r->pools[pool].priority;
	pthread_mutex_unlock(&r->lock);
	return prio;
}

int
router_pick(struct router *r, int64_t now_ms)
{
	return router_choose(r, -1, 0, now_ms);
}

bool
router_allow(struct router *r, int pool, int64_t now_ms)
{
	bool ok;

	if (!valid(r, pool))
		return false;
	pthread_mutex_lock(&r->lock);
	ok = allow_locked(&r->pools[pool], PICK_ANY, now_ms);
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void
router_success(struct router *r, int pool, int64_t now_ms)
{
	struct router_pool *p;

	if (!valid(r, pool))
		return;
	p = &r->pools[pool];
	pthread_mutex_lock(&r->lock);
	if (p->state != BREAKER_CLOSED)
		log_info("router", "pool %s: circuit breaker closed (pool is "
		    "back)", p->cfg->name);
	p->state = BREAKER_CLOSED;
	p->trial = false;
	/* After a protocol violation, one good handshake is not enough to
	 * forget: a pool that answers and then sends garbage again must
	 * keep backing off. */
	if (!p->violated || now_ms - p->violation_ms >= ROUTER_PROBATION_MS) {
		p->violated = false;
		p->failures = 0;
	}
	pthread_mutex_unlock(&r->lock);
}

static void
failure_locked(struct router_pool *p, int64_t now_ms)
{
	p->trial = false;
	/* Sessions that fail together (a pool restart drops them all at
	 * once) count as one failure: only one per backoff window counts. */
	if (p->failures == 0 ||
	    now_ms - p->failed_ms >= backoff_for(p->failures) / 2) {
		p->failures++;
		p->failed_ms = now_ms;
	}
	if (p->state == BREAKER_HALF_OPEN ||
	    (p->state == BREAKER_CLOSED &&
	    p->failures >= p->cfg->breaker_failures)) {
		if (p->state == BREAKER_CLOSED)
			log_warnx("router", "pool %s: circuit breaker open "
			    "after %d failures; next trial in %llds (sooner "
			    "while no other pool is usable)", p->cfg->name,
			    p->failures,
			    (long long)(p->cfg->breaker_timeout_ms / 1000));
		p->state = BREAKER_OPEN;
		p->opened_ms = now_ms;
	}
}

void
router_failure(struct router *r, int pool, int64_t now_ms)
{
	if (!valid(r, pool))
		return;
	pthread_mutex_lock(&r->lock);
	failure_locked(&r->pools[pool], now_ms);
	pthread_mutex_unlock(&r->lock);
}

void
router_violation(struct router *r, int pool, int64_t now_ms)
{
	struct router_pool *p;

	if (!valid(r, pool))
		return;
	p = &r->pools[pool];
	pthread_mutex_lock(&r->lock);
	failure_locked(p, now_ms);
	p->violated = true;
	p->violation_ms = now_ms;
	pthread_mutex_unlock(&r->lock);
}

int64_t
router_backoff_ms(struct router *r, int pool)
{
	int failures;

	if (!valid(r, pool))
		return ROUTER_BACKOFF_MAX_MS;
	pthread_mutex_lock(&r->lock);
	failures = r->pools[pool].failures;
	pthread_mutex_unlock(&r->lock);
	return backoff_for(failures);
}

bool
router_may_warn(struct router *r, int pool, int64_t now_ms,
    uint64_t *suppressed)
{
	struct router_pool *p;
	bool ok = false;

	*suppressed = 0;
	if (!valid(r, pool))
		return true;
	p = &r->pools[pool];
	pthread_mutex_lock(&r->lock);
	if (!p->warned || now_ms - p->warned_ms >= ROUTER_WARN_INTERVAL_MS) {
		*suppressed = p->suppressed;
		p->suppressed = 0;
		p->warned = true;
		p->warned_ms = now_ms;
		ok = true;
	} else {
		p->suppressed++;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

enum breaker_state
router_state(struct router *r, int pool, int64_t now_ms)
{
	enum breaker_state s;
	struct router_pool *p;

	if (pool < 0 || (size_t)pool >= r->n)
		return BREAKER_OPEN;
	p = &r->pools[pool];
	pthread_mutex_lock(&r->lock);
	s = p->state;
	if (s == BREAKER_OPEN && now_ms - p->opened_ms >=
	    p->cfg->breaker_timeout_ms)
		s = BREAKER_HALF_OPEN;
	pthread_mutex_unlock(&r->lock);
	return s;
}

const char *
router_state_name(enum breaker_state s)
{
	static const char *const names[BREAKER_STATE_MAX] = {
		"closed", "open", "half-open"
	};

	return s < BREAKER_STATE_MAX ? names[s] : "?";
}

int
router_find(const struct router *r, const char *host, uint16_t port,
    const char *name)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct cfg_pool *p = r->pools[i].cfg;

		if (name[0] != '\0') {
			if (strcmp(p->name, name) == 0)
				return (int)i;
		} else if (strcasecmp(p->host, host) == 0 && p->port == port) {
			return (int)i;
		}
	}
	return -1;
}
