/*
 * books.c: where a share's verdict goes, in either mode: the thread's
 * in-memory books (books/accounting.h), the counters and per-worker
 * series of /metrics, and the store thread's queue to the database.
 *
 * Threading: the session's worker thread.
 */
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "metrics/registry.h"
#include "proxy/proxy_internal.h"
#include "store/store.h"
#include "util/now.h"

/* Add to a double kept as its bits; this thread is the only writer. */
void
stat_add_double(_Atomic uint64_t *bits, double v)
{
	uint64_t u = atomic_load_explicit(bits, memory_order_relaxed);
	double d;

	memcpy(&d, &u, sizeof(d));
	d += v;
	memcpy(&u, &d, sizeof(u));
	atomic_store_explicit(bits, u, memory_order_relaxed);
}

/*
 * One verdict on a share of worker w (NULL: a worker the session never
 * authorized): the in-memory books, the metrics, and the store thread
 * (never waits; a full queue is counted and reported by the store).
 */
void
books_share(struct session *s, struct session_worker *w, bool accepted,
    enum acct_reject why, double diff)
{
	struct acct_worker *a = w != NULL ? w->acct : NULL;

	s->last_share = (int64_t)time(NULL);
	if (accepted) {
		STAT_INC(s->t, shares_accepted);
		if (a != NULL)
			acct_accept(s->t->acct, a, diff);
	} else {
		STAT_INC(s->t, shares_rejected);
		acct_reject(s->t->acct, a, why, diff);
	}
	if (s->pool >= 0 && s->t->pools != NULL) {
		struct proxy_pool_stats *ps = &s->t->pools[s->pool];

		if (accepted) {
			POOL_INC(s->t, s->pool, accepted);
			stat_add_double(&ps->accepted_diff, diff);
		} else {
			POOL_INC(s->t, s->pool, rejected[why]);
			stat_add_double(&ps->rejected_diff, diff);
		}
	}
	if (w != NULL && w->m_accepted != NULL) {
		metrics_counter_add(accepted ? w->m_accepted : w->m_rejected,
		    1);
		if (accepted)
			metrics_counter_add_double(w->m_diff, diff);
	}
	if (a == NULL || s->t->ring == NULL)
		return;
	/* The verdict the caller queues next waits for the journal. */
	if (store_post_share(s->t->ring, s->t->proxy->cfg->pools[a->pool].name,
	    a->user, a->worker, accepted, (int)why, diff, now_wall_ms()) == 0)
		session_hold(s);
}

