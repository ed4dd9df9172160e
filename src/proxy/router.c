/*
 * router.c: pool choice, circuit breakers and backoff (see router.h).
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

struct router_pool {
	const struct cfg_pool *cfg;
	enum breaker_state state;
	int failures;          /* consecutive */
	int64_t failed_ms;     /* when the last counted failure happened */
	int64_t opened_ms;     /* when the breaker last opened */
	int64_t trial_ms;      /* when the last half-open trial started */
};

struct router {
	pthread_mutex_t lock;
	struct router_pool *pools;
	int *order; /* pool indices, most preferred first */
	size_t n;
};

static const struct cfg *router_sort_cfg;

static int
router_cmp(const void *a, const void *b)
{
	int ia = *(const int *)a, ib = *(const int *)b;
	int64_t pa = router_sort_cfg->pools[ia].priority;
	int64_t pb = router_sort_cfg->pools[ib].priority;

	if (pa != pb)
		return pa < pb ? -1 : 1;
	return ia - ib;
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
		r->order[i] = (int)i;
	}
	/* Only at start-up, before any thread exists. */
	router_sort_cfg = c;
	qsort(r->order, r->n, sizeof(*r->order), router_cmp);
	router_sort_cfg = NULL;
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

/* Called with the lock held. */
static bool
allow_locked(struct router_pool *p, int64_t now_ms)
{
	int64_t timeout = p->cfg->breaker_timeout_ms;

	if (!p->cfg->enabled)
		return false;
	switch (p->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		if (now_ms - p->opened_ms < timeout)
			return false;
		p->state = BREAKER_HALF_OPEN;
		p->trial_ms = now_ms;
		return true;
	case BREAKER_HALF_OPEN:
		/* One trial at a time; a trial that never reported back
		 * (its session vanished) expires after connect_timeout. */
		if (now_ms - p->trial_ms < p->cfg->connect_timeout_ms)
			return false;
		p->trial_ms = now_ms;
		return true;
	case BREAKER_STATE_MAX:
		break;
	}
	return false;
}

int
router_pick(struct router *r, int64_t now_ms)
{
	int pick = -1;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n && pick < 0; i++)
		if (allow_locked(&r->pools[r->order[i]], now_ms))
			pick = r->order[i];
	pthread_mutex_unlock(&r->lock);
	return pick;
}

bool
router_allow(struct router *r, int pool, int64_t now_ms)
{
	bool ok;

	if (pool < 0 || (size_t)pool >= r->n)
		return false;
	pthread_mutex_lock(&r->lock);
	ok = allow_locked(&r->pools[pool], now_ms);
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void
router_success(struct router *r, int pool)
{
	struct router_pool *p;

	if (pool < 0 || (size_t)pool >= r->n)
		return;
	p = &r->pools[pool];
	pthread_mutex_lock(&r->lock);
	if (p->state != BREAKER_CLOSED)
		log_info("router", "pool %s: circuit breaker closed (pool is "
		    "back)", p->cfg->name);
	p->state = BREAKER_CLOSED;
	p->failures = 0;
	pthread_mutex_unlock(&r->lock);
}

static int64_t
backoff_for(int failures)
{
	int64_t ms = ROUTER_BACKOFF_MIN_MS;

	for (int i = 1; i < failures && ms < ROUTER_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < ROUTER_BACKOFF_MAX_MS ? ms : ROUTER_BACKOFF_MAX_MS;
}

void
router_failure(struct router *r, int pool, int64_t now_ms)
{
	struct router_pool *p;

	if (pool < 0 || (size_t)pool >= r->n)
		return;
	p = &r->pools[pool];
	pthread_mutex_lock(&r->lock);
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
			    "after %d failures; retrying in %llds",
			    p->cfg->name, p->failures,
			    (long long)(p->cfg->breaker_timeout_ms / 1000));
		p->state = BREAKER_OPEN;
		p->opened_ms = now_ms;
	}
	pthread_mutex_unlock(&r->lock);
}

int64_t
router_backoff_ms(struct router *r, int pool)
{
	int failures;

	if (pool < 0 || (size_t)pool >= r->n)
		return ROUTER_BACKOFF_MAX_MS;
	pthread_mutex_lock(&r->lock);
	failures = r->pools[pool].failures;
	pthread_mutex_unlock(&r->lock);
	return backoff_for(failures);
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
