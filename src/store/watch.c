/*
 * watch.c: worker states from the books (see watch.h).
 */
#include "store/watch.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct watch {
	struct watch_cfg cfg;
	pthread_mutex_t lock;
	struct watch_worker *list;   /* under lock */
	size_t n;
	bool updated;
	/* store thread only: the list being built */
	struct watch_worker *next;
	size_t nnext, capnext;
	int64_t now;
};

static const char *const names[WORKER_STATE_MAX] = {
	[WORKER_ONLINE] = "online",
	[WORKER_SLOW] = "slow",
	[WORKER_OFFLINE] = "offline",
};

const char *
watch_state_name(enum worker_state s)
{
	return (unsigned)s < WORKER_STATE_MAX ? names[s] : "?";
}

int
watch_state_parse(const char *name)
{
	for (int i = 0; i < WORKER_STATE_MAX; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

struct watch *
watch_new(const struct watch_cfg *c)
{
	struct watch *w = xcalloc(1, sizeof(*w));

	w->cfg = *c;
	w->cfg.window_s -= w->cfg.window_s % 60;
	if (w->cfg.window_s < 60)
		w->cfg.window_s = 60;
	pthread_mutex_init(&w->lock, NULL);
	return w;
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	free(w->list);
	free(w->next);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static int64_t
int_of(const char *v)
{
	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* One worker's row: id, pool, miner, worker, last accepted, first seen,
 * window difficulty, 24 h difficulty. */
static int
row(void *arg, int ncols, const char *const *v, const char *const *names_)
{
	struct watch *w = arg;
	struct watch_worker *x;
	int64_t now = w->now, span, start;
	double day;

	(void)names_;
	if (ncols != 8)
		return 0;
	if (w->nnext == w->capnext) {
		w->capnext = w->capnext ? w->capnext * 2 : 256;
		w->next = xreallocarray(w->next, w->capnext, sizeof(*w->next));
	}
	x = &w->next[w->nnext++];
	memset(x, 0, sizeof(*x));
	x->id = int_of(v[0]);
	snprintf(x->pool, sizeof(x->pool), "%s", v[1] != NULL ? v[1] : "");
	snprintf(x->miner, sizeof(x->miner), "%s", v[2] != NULL ? v[2] : "");
	snprintf(x->worker, sizeof(x->worker), "%s", v[3] != NULL ? v[3] :
	    "");
	x->last_accepted = int_of(v[4]);
	x->hashrate = (v[6] != NULL ? strtod(v[6], NULL) : 0) * 4294967296.0 /
	    (double)w->cfg.window_s;
	day = v[7] != NULL ? strtod(v[7], NULL) : 0;
	/* Its day: the last 24 h, or since it first appeared (a young
	 * worker is not judged slow: it needs two windows of its own). */
	start = int_of(v[5]);
	if (start < now - 86400)
		start = now - 86400;
	span = now - start;
	x->hashrate_24h = span > 0 ? day * 4294967296.0 / (double)span : 0;
	if (x->last_accepted == 0 ||
	    now - x->last_accepted > w->cfg.offline_after_s)
		x->state = WORKER_OFFLINE;
	else if (w->cfg.slow_fraction > 0 && span >= 2 * w->cfg.window_s &&
	    x->hashrate < w->cfg.slow_fraction * x->hashrate_24h)
		x->state = WORKER_SLOW;
	else
		x->state = WORKER_ONLINE;
	x->since = x->state == WORKER_OFFLINE && x->last_accepted > 0 ?
	    x->last_accepted : now;
	return 0;
}

static const struct watch_worker *
find(const struct watch_worker *l, size_t n, int64_t id)
{
	/* Both lists come ordered by id from the query. */
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && l[lo].id == id ? &l[lo] : NULL;
}

int
watch_update(struct watch *w, struct db *db, int64_t now, char *err,
    size_t errlen)
{
	char p[4][24];
	const char *params[4];
	int64_t m0 = now - now % 60;
	uint64_t counts[WORKER_STATE_MAX] = { 0 };
	struct watch_worker *old;
	size_t nold;

	snprintf(p[0], sizeof(p[0]), "%" PRId64, m0 - w->cfg.window_s);
	snprintf(p[1], sizeof(p[1]), "%" PRId64, m0);
	snprintf(p[2], sizeof(p[2]), "%" PRId64, now - 86400);
	snprintf(p[3], sizeof(p[3]), "%" PRId64, now - WATCH_RETIRE_S);
	params[0] = p[0];
	params[1] = p[1];
	params[2] = p[2];
	params[3] = p[3];
	w->now = now;
	w->nnext = 0;
	if (db_exec(db, "SELECT w.id, p.name, m.name, w.name, w.last_accepted, "
	    "w.first_seen, COALESCE((SELECT SUM(s.accepted_difficulty) FROM "
	    "submissions s WHERE s.worker_id = w.id AND s.minute >= CAST(? AS "
	    "BIGINT) AND s.minute < CAST(? AS BIGINT)), 0), COALESCE((SELECT "
	    "SUM(h.accepted_difficulty) FROM worker_hours h WHERE h.worker_id "
	    "= w.id AND h.hour >= CAST(? AS BIGINT)), 0) FROM workers w JOIN "
	    "miners m ON m.id = w.miner_id "
	    "JOIN pools p ON p.id = w.pool_id WHERE w.last_seen >= CAST(? AS "
	    "BIGINT) ORDER BY w.id", params, 4, row, w, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&w->lock);
	old = w->list;
	nold = w->n;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < w->nnext; i++) {
		struct watch_worker *x = &w->next[i];
		const struct watch_worker *o = find(old, nold, x->id);

		counts[x->state]++;
		if (o != NULL && o->state == x->state) {
			x->since = o->since;
			continue;
		}
		if (o == NULL && !w->updated)
			continue; /* the first look: a state, not a change */
		if (x->state == WORKER_OFFLINE)
			log_warnx("workers", "%s / %s / %s: %s -> offline (no "
			    "accepted share for %" PRId64 " s)", x->pool,
			    x->miner, x->worker, o != NULL ?
			    watch_state_name(o->state) : "new", now -
			    x->last_accepted);
		else
			log_info("workers", "%s / %s / %s: %s -> %s (%.3g H/s "
			    "over %" PRId64 " min, %.3g H/s in 24 h)", x->pool,
			    x->miner, x->worker, o != NULL ?
			    watch_state_name(o->state) : "new",
			    watch_state_name(x->state), x->hashrate,
			    w->cfg.window_s / 60, x->hashrate_24h);
	}
	if (!w->updated)
		log_info("workers", "%" PRIu64 " online, %" PRIu64 " slow, %"
		    PRIu64 " offline (from the books)", counts[WORKER_ONLINE],
		    counts[WORKER_SLOW], counts[WORKER_OFFLINE]);
	pthread_mutex_lock(&w->lock);
	w->list = w->next;
	w->n = w->nnext;
	w->updated = true;
	pthread_mutex_unlock(&w->lock);
	/* The old list is the next one's buffer. */
	w->next = old;
	w->capnext = nold;
	w->nnext = 0;
	return 0;
}

bool
watch_counts(struct watch *w, uint64_t counts[WORKER_STATE_MAX])
{
	bool updated;

	memset(counts, 0, sizeof(counts[0]) * WORKER_STATE_MAX);
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n; i++)
		counts[w->list[i].state]++;
	updated = w->updated;
	pthread_mutex_unlock(&w->lock);
	return updated;
}

static int
order(const void *a, const void *b)
{
	const struct watch_worker *x = a, *y = b;

	if (x->state != y->state)
		return x->state > y->state ? -1 : 1; /* offline first */
	if (x->since != y->since)
		return x->since < y->since ? -1 : 1; /* longest first */
	return x->id < y->id ? -1 : x->id > y->id;
}

struct watch_worker *
watch_list(struct watch *w, int state, size_t *n)
{
	struct watch_worker *out = NULL;
	size_t k = 0;

	pthread_mutex_lock(&w->lock);
	if (w->n > 0)
		out = xreallocarray(NULL, w->n, sizeof(*out));
	for (size_t i = 0; i < w->n; i++)
		if (state < 0 || (int)w->list[i].state == state)
			out[k++] = w->list[i];
	pthread_mutex_unlock(&w->lock);
	if (k == 0) {
		free(out);
		*n = 0;
		return NULL;
	}
	qsort(out, k, sizeof(*out), order);
	*n = k;
	return out;
}
