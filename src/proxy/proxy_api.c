/*
 * proxy_api.c: what /api/v1/ says (api.c owns the HTTP around it).
 *
 *   GET    /api/v1/status              the instance at a glance
 *   GET    /api/v1/pools               each pool: state, shares, hashrate
 *   POST   /api/v1/pools/{name}        {"enabled"?, "priority"?}: a live
 *                                      change until the process ends
 *                                      (token)
 *   GET    /api/v1/workers             workers seen since start, merged
 *                                      over the threads; page, per_page,
 *                                      sort, order, name, pool; or with
 *                                      state (online, slow, offline, all)
 *                                      every worker of the books by state
 *   GET    /api/v1/miners/{name}       one miner account: its workers and
 *                                      its recent distributions
 *   GET    /api/v1/sessions            connected miners; page, per_page,
 *                                      name
 *   GET    /api/v1/bans                banned addresses
 *   POST   /api/v1/bans                {"ip", "duration"?}: ban (token)
 *   DELETE /api/v1/bans/{ip}           lift a ban (token)
 *   GET    /api/v1/earnings            recorded pool rewards; pool, from,
 *                                      to, limit
 *   POST   /api/v1/earnings            {"pool", "day", "reward_sats",
 *                                      "pool_hashrate"?, "settle"?} (token)
 *   GET    /api/v1/distributions       a settled day; pool, day
 *   GET    /api/v1/hashrate            series from the books; pool,
 *                                      miner, worker, range or since and
 *                                      until, step
 *
 * Workers and sessions belong to the worker threads: each thread is asked
 * (worker_post) for a copy of its part, in JSON it builds itself, and the
 * API thread waits a bounded time for all of them. Earnings and
 * distributions are read from the database through a connection of the
 * API thread's own (the store thread's is never shared).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "config/config.h"
#include "net/worker.h"
#include "proxy/hub.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "security/security.h"
#include "store/db.h"
#include "store/history.h"
#include "store/settle.h"
#include "store/store.h"
#include "store/watch.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* How long the API waits for the worker threads' copies. */
#define API_SNAPSHOT_WAIT_MS 2000
#define API_PER_PAGE_DEFAULT 100
#define API_PER_PAGE_MAX 1000
/* Distributions listed on a miner's page. */
#define API_MINER_DISTRIBUTIONS 100

static const char *const reject_names[ACCT_REJ_MAX] = {
	"stale", "duplicate", "low_difficulty", "unauthorized", "other"
};

/* ---- snapshots from the worker threads ---- */

enum snap_kind {
	SNAP_WORKERS = 0,
	SNAP_SESSIONS,
	SNAP_KIND_MAX
};

struct snap {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int refs;         /* the API thread's and each task's, under lock */
	size_t waiting;   /* tasks not yet run */
	enum snap_kind kind;
	json_t *rows;     /* appended to under lock */
};

static void
snap_unref_locked(struct snap *sn)
{
	bool last = --sn->refs == 0;

	pthread_mutex_unlock(&sn->lock);
	if (last) {
		json_decref(sn->rows);
		pthread_cond_destroy(&sn->done);
		pthread_mutex_destroy(&sn->lock);
		free(sn);
	}
}

static json_t *
worker_row(const struct proxy *p, const struct acct_worker *w)
{
	json_t *rej = json_object();
	uint64_t total = 0;

	for (int r = 0; r < ACCT_REJ_MAX; r++) {
		json_object_set_new(rej, reject_names[r],
		    json_integer((json_int_t)w->c.rejected[r]));
		total += w->c.rejected[r];
	}
	return json_pack("{s:s,s:s,s:s,s:I,s:f,s:I,s:o,s:f,s:I,s:I,s:i}",
	    "pool", p->cfg->pools[w->pool].name, "miner", w->user,
	    "worker", w->worker, "accepted", (json_int_t)w->c.accepted,
	    "accepted_difficulty", w->c.accepted_diff,
	    "rejected", (json_int_t)total, "rejected_by_reason", rej,
	    "rejected_difficulty", w->c.rejected_diff,
	    "first_seen", (json_int_t)w->first_seen,
	    "last_share", (json_int_t)w->last_share, "connections", 0);
}

struct worker_collect {
	const struct proxy *p;
	json_t *byptr; /* "%p" of the acct entry -> row */
};

static void
collect_worker(const struct acct_worker *w, void *arg)
{
	struct worker_collect *wc = arg;
	char key[32];

	snprintf(key, sizeof(key), "%p", (const void *)w);
	json_object_set_new(wc->byptr, key, worker_row(wc->p, w));
}

/* On a worker thread: its workers, with how many of its sessions each
 * is connected through. */
static void
snap_workers(struct proxy_thread *t, json_t *rows)
{
	struct worker_collect wc = { t->proxy, json_object() };
	struct session *s;
	const char *key;
	json_t *row;

	acct_foreach(t->acct, collect_worker, &wc);
	TAILQ_FOREACH(s, &t->sessions, entry) {
		for (size_t i = 0; i < s->nworkers; i++) {
			char k[32];

			if (!s->workers[i].authorized ||
			    s->workers[i].acct == NULL)
				continue;
			snprintf(k, sizeof(k), "%p",
			    (const void *)s->workers[i].acct);
			row = json_object_get(wc.byptr, k);
			if (row != NULL)
				json_object_set_new(row, "connections",
				    json_integer(json_integer_value(
				    json_object_get(row, "connections")) + 1));
		}
	}
	json_object_foreach(wc.byptr, key, row)
		json_array_append(rows, row);
	json_decref(wc.byptr);
}

static const char *
state_name(enum session_state st)
{
	static const char *const names[SESSION_STATE_MAX] = {
		"connecting", "handshake", "active", "draining", "closing"
	};

	return st >= 0 && st < SESSION_STATE_MAX ? names[st] : "?";
}

/* On a worker thread: its connected miners. */
static void
snap_sessions(struct proxy_thread *t, json_t *rows)
{
	const struct proxy *p = t->proxy;
	struct session *s;

	TAILQ_FOREACH(s, &t->sessions, entry) {
		json_t *workers, *sub, *agent;

		if (s->state == SESSION_CLOSING)
			continue;
		workers = json_array();
		sub = s->subscribe_params != NULL ?
		    json_loads(s->subscribe_params, 0, NULL) : NULL;
		agent = json_array_get(sub, 0);
		for (size_t i = 0; i < s->nworkers; i++)
			json_array_append_new(workers, json_pack("{s:s,s:b}",
			    "name", s->workers[i].login, "authorized",
			    s->workers[i].authorized));
		json_array_append_new(rows, json_pack(
		    "{s:I,s:s,s:s?,s:s,s:s?,s:o,s:f,s:b,s:I,s:I}",
		    "id", (json_int_t)s->id, "address", s->peer_str,
		    "agent", json_is_string(agent) ? json_string_value(agent) :
		    NULL, "state", state_name(s->state),
		    "pool", s->pool >= 0 ? p->cfg->pools[s->pool].name : NULL,
		    "workers", workers, "difficulty", s->difficulty,
		    "version_rolling", s->version_rolling,
		    "connected_at", (json_int_t)s->connected_at,
		    "last_share", (json_int_t)s->last_share));
		if (s->agg != NULL)
			json_object_set_new(json_array_get(rows,
			    json_array_size(rows) - 1), "extranonce1",
			    json_string(aggregate_session_slot(s)));
		json_decref(sub);
	}
}

static void
snap_task(struct worker *w, void *arg)
{
	struct snap *sn = arg;
	json_t *rows = json_array();

	/* w == NULL: the worker ended first; the API has stopped waiting. */
	if (w != NULL && sn->kind == SNAP_WORKERS)
		snap_workers(worker_data(w), rows);
	else if (w != NULL)
		snap_sessions(worker_data(w), rows);
	pthread_mutex_lock(&sn->lock);
	json_array_extend(sn->rows, rows);
	json_decref(rows);
	sn->waiting--;
	pthread_cond_signal(&sn->done);
	snap_unref_locked(sn);
}

/*
 * Every thread's rows, or NULL when a thread did not answer in time (the
 * proxy is shutting down or badly overloaded).
 */
static json_t *
snapshot(struct proxy *p, enum snap_kind kind)
{
	struct snap *sn = xcalloc(1, sizeof(*sn));
	struct timespec until;
	json_t *rows = NULL;

	pthread_mutex_init(&sn->lock, NULL);
	pthread_cond_init(&sn->done, NULL);
	sn->kind = kind;
	sn->rows = json_array();
	sn->refs = 1 + (int)p->nworkers;
	sn->waiting = p->nworkers;
	for (size_t i = 0; i < p->nworkers; i++)
		worker_post(p->workers[i], snap_task, sn);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += API_SNAPSHOT_WAIT_MS / 1000;
	pthread_mutex_lock(&sn->lock);
	while (sn->waiting > 0)
		if (pthread_cond_timedwait(&sn->done, &sn->lock, &until) ==
		    ETIMEDOUT)
			break;
	if (sn->waiting == 0)
		rows = json_incref(sn->rows);
	snap_unref_locked(sn);
	return rows;
}

/* ---- request helpers ---- */

/* A positive integer query parameter within [1, max], or def. -1: bad. */
static int
query_int(const struct api_request *req, const char *key, long def,
    long max, long *out)
{
	const char *v = api_query(req, key);
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

static int
bad_param(json_t **out, const char *key, const char *want)
{
	*out = api_error("bad query parameter \"%s\": %s", key, want);
	return 400;
}

/* Workers merged over the threads, keyed by pool, miner and worker. */
static json_t *
merge_workers(json_t *rows)
{
	json_t *by = json_object(), *list = json_array(), *row;
	size_t i;

	json_array_foreach(rows, i, row) {
		char *key = xasprintf("%s\x1f%s\x1f%s",
		    json_string_value(json_object_get(row, "pool")),
		    json_string_value(json_object_get(row, "miner")),
		    json_string_value(json_object_get(row, "worker")));
		json_t *to = json_object_get(by, key);

		if (to == NULL) {
			json_object_set(by, key, row);
			json_array_append(list, row);
		} else {
			static const char *const sum[] = { "accepted",
			    "rejected", "connections" };
			static const char *const fsum[] = {
			    "accepted_difficulty", "rejected_difficulty" };
			json_t *ra = json_object_get(to, "rejected_by_reason");
			json_t *rb = json_object_get(row, "rejected_by_reason");
			const char *k;
			json_t *v;
			json_int_t a, b;

			for (size_t j = 0; j < 3; j++)
				json_object_set_new(to, sum[j], json_integer(
				    json_integer_value(json_object_get(to,
				    sum[j])) + json_integer_value(
				    json_object_get(row, sum[j]))));
			for (size_t j = 0; j < 2; j++)
				json_object_set_new(to, fsum[j], json_real(
				    json_number_value(json_object_get(to,
				    fsum[j])) + json_number_value(
				    json_object_get(row, fsum[j]))));
			json_object_foreach(rb, k, v)
				json_object_set_new(ra, k, json_integer(
				    json_integer_value(json_object_get(ra, k)) +
				    json_integer_value(v)));
			a = json_integer_value(json_object_get(to,
			    "first_seen"));
			b = json_integer_value(json_object_get(row,
			    "first_seen"));
			if (b > 0 && (a == 0 || b < a))
				json_object_set_new(to, "first_seen",
				    json_integer(b));
			a = json_integer_value(json_object_get(to,
			    "last_share"));
			b = json_integer_value(json_object_get(row,
			    "last_share"));
			if (b > a)
				json_object_set_new(to, "last_share",
				    json_integer(b));
		}
		free(key);
	}
	json_decref(by);
	return list;
}

/* The average hashrate of a worker row since it was first seen. */
static void
add_hashrate(json_t *row, int64_t now)
{
	int64_t since = json_integer_value(json_object_get(row, "first_seen"));
	double diff = json_number_value(json_object_get(row,
	    "accepted_difficulty"));
	double secs = since > 0 && now - since > 60 ? (double)(now - since) :
	    60;

	json_object_set_new(row, "hashrate", json_real(diff * 4294967296.0 /
	    secs));
}

enum sort_key {
	SORT_NAME = 0,
	SORT_ACCEPTED,
	SORT_REJECTED,
	SORT_DIFFICULTY,
	SORT_HASHRATE,
	SORT_LAST_SHARE,
	SORT_KEY_MAX
};

static const char *const sort_names[SORT_KEY_MAX] = {
	"name", "accepted", "rejected", "difficulty", "hashrate", "last_share"
};

struct sort_spec {
	enum sort_key key;
	bool desc;
};

static int
cmp_name(const json_t *a, const json_t *b)
{
	int c = strcmp(json_string_value(json_object_get(a, "miner")),
	    json_string_value(json_object_get(b, "miner")));

	if (c == 0)
		c = strcmp(json_string_value(json_object_get(a, "worker")),
		    json_string_value(json_object_get(b, "worker")));
	if (c == 0)
		c = strcmp(json_string_value(json_object_get(a, "pool")),
		    json_string_value(json_object_get(b, "pool")));
	return c;
}

static int
cmp_rows(const void *x, const void *y, void *arg)
{
	static const char *const field[SORT_KEY_MAX] = { NULL, "accepted",
	    "rejected", "accepted_difficulty", "hashrate", "last_share" };
	const struct sort_spec *sp = arg;
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = 0;

	if (sp->key != SORT_NAME) {
		double va = json_number_value(json_object_get(a,
		    field[sp->key]));
		double vb = json_number_value(json_object_get(b,
		    field[sp->key]));

		c = va < vb ? -1 : va > vb ? 1 : 0;
	}
	if (sp->desc)
		c = -c;
	/* Ties (and name sorts) by name: a stable order for paging. */
	if (c == 0)
		c = sp->desc && sp->key == SORT_NAME ? -cmp_name(a, b) :
		    cmp_name(a, b);
	return c;
}

/* Sort rows (an array) and cut one page out of it as the answer. */
static json_t *
page_of(json_t *rows, const char *what, const struct sort_spec *sp,
    long page, long per_page)
{
	size_t n = json_array_size(rows), first, i;
	json_t **v = xcalloc(n > 0 ? n : 1, sizeof(*v));
	json_t *items = json_array();

	for (i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	if (sp != NULL)
		qsort_r(v, n, sizeof(*v), cmp_rows, (void *)sp);
	first = (size_t)(page - 1) * (size_t)per_page;
	for (i = first; i < n && i < first + (size_t)per_page; i++)
		json_array_append(items, v[i]);
	free(v);
	return json_pack("{s:I,s:i,s:i,s:o}", "total", (json_int_t)n, "page",
	    (int)page, "per_page", (int)per_page, what, items);
}

/* ---- routes ---- */

static int
route_status(struct proxy *p, json_t **out)
{
	const struct store_stats *st = store_stats(p->store);
	int64_t now = now_mono_ms();
	uint64_t acc = 0, rej = 0;
	int usable = 0;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		acc += proxy_pool_sum(p, (int)i,
		    offsetof(struct proxy_pool_stats, accepted));
		for (int r = 0; r < ACCT_REJ_MAX; r++)
			rej += proxy_pool_sum(p, (int)i,
			    offsetof(struct proxy_pool_stats, rejected[r]));
		usable += router_enabled(p->router, (int)i) &&
		    router_state(p->router, (int)i, now) != BREAKER_OPEN;
	}
	*out = json_pack("{s:s,s:I,s:I,s:{s:i,s:I},s:f,s:{s:I,s:I},"
	    "s:{s:i,s:i},s:{s:b,s:I,s:I}}",
	    "version", LOKA_VERSION,
	    "started_at", (json_int_t)p->started_at,
	    "uptime_seconds", (json_int_t)((int64_t)time(NULL) -
	    p->started_at),
	    "connections", "active", atomic_load(&p->active), "limit",
	    (json_int_t)p->cfg->server.max_connections,
	    "hashrate", proxy_hashrate(p, -1),
	    "shares", "accepted", (json_int_t)acc, "rejected",
	    (json_int_t)rej,
	    "pools", "configured", (int)p->cfg->npools, "usable", usable,
	    "database", "up", (int)atomic_load(&st->db_up), "queue_depth",
	    (json_int_t)atomic_load(&st->queue_depth), "journal_bytes",
	    (json_int_t)atomic_load(&st->journal_bytes));
	{
		json_t *d = json_object_get(*out, "database");
		char why[512];

		store_db_reason(p->store, why, sizeof(why));
		json_object_set_new(d, "reason", json_string(why));
		json_object_set_new(d, "refused",
		    json_boolean(atomic_load(&st->db_refused)));
		json_object_set_new(d, "journal_ok",
		    json_boolean(atomic_load(&st->journal_ok)));
	}
	return 200;
}

/* Aggregate mode: pool i's shared connection, and what the pool said
 * of the shares Loka validated (validated vs pool-accepted). */
static json_t *
upstream_json(struct proxy *p, int i)
{
	struct hub_channel_view v;
	struct hub_split sp;
	double validated = proxy_pool_sum_double(p, i,
	    offsetof(struct proxy_pool_stats, accepted_diff));
	char mask[9];

	if (!hub_channel_view(p->hub, i, &v))
		return json_null();
	snprintf(mask, sizeof(mask), "%08" PRIx32, v.version_mask);
	return json_pack("{s:s,s:b,s:i,s:f,s:i,s:s,s:I,s:I,s:I,s:I,s:I,s:f,"
	    "s:f,s:I,s:o,s:o}",
	    "state", v.state, "active", v.active, "connections", v.connections,
	    "difficulty", v.difficulty,
	    "extranonce2_size", v.en2_size, "version_mask", mask,
	    "jobs", (json_int_t)v.jobs, "submitted", (json_int_t)v.submitted,
	    "pool_accepted", (json_int_t)v.accepted,
	    "pool_rejected", (json_int_t)v.rejected,
	    "lost", (json_int_t)v.lost,
	    "pool_accepted_difficulty", v.accepted_diff,
	    "pool_rejected_difficulty", v.rejected_diff,
	    "workers", (json_int_t)v.workers,
	    "pool_accepted_ratio", validated > 0 ?
	    json_real(v.accepted_diff / validated) : json_null(),
	    "split", hub_split_get(p->hub, &sp) ? json_pack("{s:i,s:i,s:I,s:i}",
	    "slot_bytes", sp.slot_bytes, "miner_bytes", sp.miner_bytes,
	    "slots", (json_int_t)sp.nslots, "connections_per_pool",
	    sp.conns) : json_null());
}

static int
route_pools(struct proxy *p, json_t **out)
{
	json_t *pools = json_array();
	int64_t now = now_mono_ms();

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const struct cfg_pool *c = &p->cfg->pools[i];
		enum breaker_state b = router_state(p->router, (int)i, now);
		bool on = router_enabled(p->router, (int)i);
		json_t *rej = json_object();
		int64_t conns = 0;
		uint64_t total = 0;

		for (int r = 0; r < ACCT_REJ_MAX; r++) {
			uint64_t n = proxy_pool_sum(p, (int)i,
			    offsetof(struct proxy_pool_stats, rejected[r]));

			json_object_set_new(rej, reject_names[r],
			    json_integer((json_int_t)n));
			total += n;
		}
		for (size_t t = 0; t < p->nworkers; t++)
			conns += atomic_load_explicit(
			    &p->threads[t]->pools[i].ready,
			    memory_order_relaxed);
		{
			struct hub_channel_view hv;

			/* Aggregate mode: the shared connections. */
			if (hub_channel_view(p->hub, (int)i, &hv))
				conns = hv.connections;
		}
		json_array_append_new(pools, json_pack("{s:s,s:s,s:I,s:b,"
		    "s:s,s:b,s:I,s:I,s:f,s:I,s:o,s:f,s:I}",
		    "name", c->name, "url", c->url,
		    "priority", (json_int_t)router_priority(p->router, (int)i),
		    "enabled", on, "breaker", router_state_name(b),
		    "up", on && b != BREAKER_OPEN,
		    "connections", (json_int_t)conns,
		    "accepted", (json_int_t)proxy_pool_sum(p, (int)i,
		    offsetof(struct proxy_pool_stats, accepted)),
		    "accepted_difficulty", proxy_pool_sum_double(p, (int)i,
		    offsetof(struct proxy_pool_stats, accepted_diff)),
		    "rejected", (json_int_t)total, "rejected_by_reason", rej,
		    "hashrate", proxy_hashrate(p, (int)i),
		    "notifies", (json_int_t)proxy_pool_sum(p, (int)i,
		    offsetof(struct proxy_pool_stats, notifies))));
		if (p->hub != NULL)
			json_object_set_new(json_array_get(pools,
			    json_array_size(pools) - 1), "upstream",
			    upstream_json(p, (int)i));
	}
	*out = json_pack("{s:s,s:o}", "mode", p->mode != NULL ?
	    p->mode->name : "passthrough", "pools", pools);
	return 200;
}

/* Workers, filtered by name (a substring of "miner.worker") and pool. */
static json_t *
live_workers(struct proxy *p, const char *name, const char *miner,
    const char *pool)
{
	json_t *rows = snapshot(p, SNAP_WORKERS), *all, *keep, *row;
	int64_t now = (int64_t)time(NULL);
	size_t i;

	if (rows == NULL)
		return NULL;
	all = merge_workers(rows);
	json_decref(rows);
	keep = json_array();
	json_array_foreach(all, i, row) {
		const char *m = json_string_value(json_object_get(row,
		    "miner"));
		char *full = xasprintf("%s.%s", m, json_string_value(
		    json_object_get(row, "worker")));
		bool ok = (name == NULL || strstr(full, name) != NULL) &&
		    (miner == NULL || strcmp(m, miner) == 0) &&
		    (pool == NULL || strcmp(json_string_value(
		    json_object_get(row, "pool")), pool) == 0);

		free(full);
		if (!ok)
			continue;
		add_hashrate(row, now);
		json_array_append(keep, row);
	}
	json_decref(all);
	return keep;
}

/* GET /api/v1/workers?state=...: workers by state, from the books
 * (store/watch.h): offline first, then slow, the longest first. */
static int
route_worker_states(struct proxy *p, const char *state, long page,
    long per_page, json_t **out)
{
	int want = strcmp(state, "all") == 0 ? -1 : watch_state_parse(state);
	struct watch *w = store_watch(p->store);
	uint64_t counts[WORKER_STATE_MAX];
	struct watch_worker *l;
	json_t *rows = json_array();
	size_t n, first = (size_t)(page - 1) * (size_t)per_page;

	if (want < 0 && strcmp(state, "all") != 0) {
		json_decref(rows);
		return bad_param(out, "state", "online, slow, offline or all");
	}
	if (!watch_counts(w, counts)) {
		json_decref(rows);
		*out = api_error("worker states are not known yet (the first "
		    "look at the books comes once the database is up)");
		return 503;
	}
	l = watch_list(w, want, &n);
	for (size_t i = first; i < n && i < first + (size_t)per_page; i++)
		json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:I,"
		    "s:I,s:f,s:f}", "pool", l[i].pool, "miner", l[i].miner,
		    "worker", l[i].worker, "state",
		    watch_state_name(l[i].state), "since",
		    (json_int_t)l[i].since, "last_share",
		    (json_int_t)l[i].last_accepted, "hashrate", l[i].hashrate,
		    "hashrate_24h", l[i].hashrate_24h));
	free(l);
	*out = json_pack("{s:I,s:i,s:i,s:{s:I,s:I,s:I},s:o}", "total",
	    (json_int_t)n, "page", (int)page, "per_page", (int)per_page,
	    "counts", "online", (json_int_t)counts[WORKER_ONLINE], "slow",
	    (json_int_t)counts[WORKER_SLOW], "offline",
	    (json_int_t)counts[WORKER_OFFLINE], "workers", rows);
	return 200;
}

static int
route_workers(struct proxy *p, const struct api_request *req, json_t **out)
{
	struct sort_spec sp = { SORT_NAME, false };
	const char *sort = api_query(req, "sort");
	const char *order = api_query(req, "order");
	long page, per_page;
	json_t *rows;

	if (query_int(req, "page", 1, 1000000, &page) != 0)
		return bad_param(out, "page", "an integer from 1");
	if (query_int(req, "per_page", API_PER_PAGE_DEFAULT,
	    API_PER_PAGE_MAX, &per_page) != 0)
		return bad_param(out, "per_page", "an integer from 1 to 1000");
	if (api_query(req, "state") != NULL)
		return route_worker_states(p, api_query(req, "state"), page,
		    per_page, out);
	if (sort != NULL) {
		int k;

		for (k = 0; k < SORT_KEY_MAX; k++)
			if (strcmp(sort, sort_names[k]) == 0)
				break;
		if (k == SORT_KEY_MAX)
			return bad_param(out, "sort", "one of name, accepted, "
			    "rejected, difficulty, hashrate, last_share");
		sp.key = (enum sort_key)k;
		sp.desc = k != SORT_NAME;
	}
	if (order != NULL) {
		if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
			return bad_param(out, "order", "asc or desc");
		sp.desc = strcmp(order, "desc") == 0;
	}
	rows = live_workers(p, api_query(req, "name"), NULL,
	    api_query(req, "pool"));
	if (rows == NULL) {
		*out = api_error("the worker threads did not answer in time");
		return 503;
	}
	*out = page_of(rows, "workers", &sp, page, per_page);
	json_decref(rows);
	return 200;
}

static int
route_sessions(struct proxy *p, const struct api_request *req, json_t **out)
{
	const char *name = api_query(req, "name");
	long page, per_page;
	json_t *rows, *keep, *row;
	size_t i;

	if (query_int(req, "page", 1, 1000000, &page) != 0)
		return bad_param(out, "page", "an integer from 1");
	if (query_int(req, "per_page", API_PER_PAGE_DEFAULT,
	    API_PER_PAGE_MAX, &per_page) != 0)
		return bad_param(out, "per_page", "an integer from 1 to 1000");
	rows = snapshot(p, SNAP_SESSIONS);
	if (rows == NULL) {
		*out = api_error("the worker threads did not answer in time");
		return 503;
	}
	keep = json_array();
	json_array_foreach(rows, i, row) {
		bool ok = name == NULL || strstr(json_string_value(
		    json_object_get(row, "address")), name) != NULL;
		json_t *w;
		size_t j;

		json_array_foreach(json_object_get(row, "workers"), j, w)
			ok = ok || strstr(json_string_value(json_object_get(w,
			    "name")), name) != NULL;
		if (ok)
			json_array_append(keep, row);
	}
	json_decref(rows);
	/* Oldest connection first: a stable order for paging. */
	*out = page_of(keep, "sessions", NULL, page, per_page);
	json_decref(keep);
	return 200;
}

/* The API thread's database connection, opened on first use. */
static struct db *
api_db(struct proxy *p, json_t **out)
{
	const struct store_stats *st = store_stats(p->store);
	char err[512];

	/* Only the database the store writes to: while it is down or
	 * refused (replaced, recreated, another journal's), no answer from
	 * whatever the URL reaches now, and no new SQLite file made. */
	if (!atomic_load(&st->db_up)) {
		db_close(p->api_db);
		p->api_db = NULL;
		store_db_reason(p->store, err, sizeof(err));
		*out = api_error("database unavailable: %s", err[0] != '\0' ?
		    err : "not connected");
		return NULL;
	}
	if (p->api_db != NULL && db_check(p->api_db, err, sizeof(err)) == 0 &&
	    db_healthy(p->api_db))
		return p->api_db;
	db_close(p->api_db);
	p->api_db = db_open_flags(p->cfg->database.url,
	    p->cfg->database.connection_timeout_ms, DB_OPEN_EXISTING, err,
	    sizeof(err));
	if (p->api_db == NULL)
		*out = api_error("database unavailable: %s", err);
	return p->api_db;
}

static int
db_failed(struct proxy *p, json_t **out, const char *err)
{
	db_close(p->api_db);
	p->api_db = NULL;
	*out = api_error("database error: %s", err);
	return 503;
}

static int
dist_row(void *arg, const struct settle_row *r)
{
	json_array_append_new(arg, json_pack("{s:s,s:s,s:f,s:f,s:I}", "miner",
	    r->miner, "worker", r->worker, "accepted_difficulty",
	    r->difficulty, "share", r->share, "reward_sats",
	    (json_int_t)r->reward_sats));
	return 0;
}

/* Rows of a query as objects named by its columns; numbers stay text
 * unless listed in ints / reals. */
struct rows_out {
	json_t *rows;
	const char *const *ints;
	const char *const *reals;
};

static bool
listed(const char *const *l, const char *name)
{
	for (; l != NULL && *l != NULL; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return false;
}

static int
collect_rows(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	struct rows_out *ro = arg;
	json_t *o = json_object();

	for (int i = 0; i < ncols; i++) {
		json_t *v;

		if (values[i] == NULL)
			v = json_null();
		else if (listed(ro->ints, names[i]))
			v = json_integer(strtoll(values[i], NULL, 10));
		else if (listed(ro->reals, names[i]))
			v = json_real(strtod(values[i], NULL));
		else
			v = json_string(values[i]);
		json_object_set_new(o, names[i], v);
	}
	json_array_append_new(ro->rows, o);
	return 0;
}

static int
route_miner(struct proxy *p, const char *name, json_t **out)
{
	static const char *const ints[] = { "reward_sats", NULL };
	static const char *const reals[] = { "accepted_difficulty", "share",
	    NULL };
	struct rows_out ro = { json_array(), ints, reals };
	json_t *workers = live_workers(p, NULL, name, NULL);
	struct db *db;
	char err[512], limit[160];
	const char *params[1] = { name };
	json_int_t sats = 0;
	json_t *row;
	size_t i;

	if (workers == NULL) {
		json_decref(ro.rows);
		*out = api_error("the worker threads did not answer in time");
		return 503;
	}
	db = api_db(p, out);
	if (db == NULL) {
		json_decref(ro.rows);
		json_decref(workers);
		return 503;
	}
	snprintf(limit, sizeof(limit), " ORDER BY d.day DESC, p.name, w.name "
	    "LIMIT %d", API_MINER_DISTRIBUTIONS);
	{
		char *sql = xasprintf("SELECT p.name AS pool, d.day, w.name AS "
		    "worker, d.accepted_difficulty, d.share, d.reward_sats "
		    "FROM distributions d JOIN miners m ON m.id = d.miner_id "
		    "JOIN workers w ON w.id = d.worker_id JOIN pools p ON "
		    "p.id = d.pool_id WHERE m.name = ?%s", limit);
		int rc = db_exec(db, sql, params, 1, collect_rows, &ro, err,
		    sizeof(err));

		free(sql);
		if (rc != 0) {
			json_decref(ro.rows);
			json_decref(workers);
			return db_failed(p, out, err);
		}
	}
	if (json_array_size(workers) == 0 && json_array_size(ro.rows) == 0) {
		json_decref(ro.rows);
		json_decref(workers);
		*out = api_error("no miner \"%s\" (no worker since start, no "
		    "distribution)", name);
		return 404;
	}
	json_array_foreach(ro.rows, i, row)
		sats += json_integer_value(json_object_get(row, "reward_sats"));
	*out = json_pack("{s:s,s:o,s:o,s:I}", "miner", name, "workers",
	    workers, "distributions", ro.rows, "distributed_sats", sats);
	return 200;
}

/* A day parameter: "YYYY-MM-DD" or absent. */
static bool
day_ok(const char *day)
{
	int64_t d;

	return day == NULL || settle_parse_day(day, &d) == 0;
}

static int
route_earnings_get(struct proxy *p, const struct api_request *req,
    json_t **out)
{
	static const char *const ints[] = { "reward_sats", "recorded_at",
	    NULL };
	static const char *const reals[] = { "pool_hashrate", NULL };
	struct rows_out ro = { json_array(), ints, reals };
	const char *pool = api_query(req, "pool");
	const char *from = api_query(req, "from");
	const char *to = api_query(req, "to");
	const char *params[4];
	char err[512], *sql;
	struct db *db;
	long limit;
	int rc;

	if (!day_ok(from) || !day_ok(to)) {
		json_decref(ro.rows);
		return bad_param(out, from != NULL && !day_ok(from) ? "from" :
		    "to", "a date YYYY-MM-DD");
	}
	if (query_int(req, "limit", 100, 10000, &limit) != 0) {
		json_decref(ro.rows);
		return bad_param(out, "limit", "an integer from 1 to 10000");
	}
	if ((db = api_db(p, out)) == NULL) {
		json_decref(ro.rows);
		return 503;
	}
	params[0] = pool != NULL ? pool : "";
	params[1] = params[0];
	params[2] = from != NULL ? from : "0000-00-00";
	params[3] = to != NULL ? to : "9999-99-99";
	sql = xasprintf("SELECT p.name AS pool, e.day, e.reward_sats, "
	    "e.pool_hashrate, e.recorded_at FROM earnings e JOIN pools p ON "
	    "p.id = e.pool_id WHERE (? = '' OR p.name = ?) AND e.day >= ? AND "
	    "e.day <= ? ORDER BY e.day DESC, p.name LIMIT %ld", limit);
	rc = db_exec(db, sql, params, 4, collect_rows, &ro, err, sizeof(err));
	free(sql);
	if (rc != 0) {
		json_decref(ro.rows);
		return db_failed(p, out, err);
	}
	*out = json_pack("{s:o}", "earnings", ro.rows);
	return 200;
}

static int
route_earnings_post(struct proxy *p, const struct api_request *req,
    json_t **out)
{
	json_error_t jerr;
	json_t *in = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
	    &jerr);
	json_t *pool, *day, *reward, *hashrate, *settle;
	struct settle_summary sum;
	char err[512];
	struct db *db;
	int code = 400;

	if (in == NULL) {
		*out = api_error("bad JSON body: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
		return 400;
	}
	pool = json_object_get(in, "pool");
	day = json_object_get(in, "day");
	reward = json_object_get(in, "reward_sats");
	hashrate = json_object_get(in, "pool_hashrate");
	settle = json_object_get(in, "settle");
	if (!json_is_object(in)) {
		*out = api_error("the body must be a JSON object");
	} else if (!json_is_string(pool)) {
		*out = api_error("\"pool\": a pool name (string) is required");
	} else if (!json_is_string(day) ||
	    !day_ok(json_string_value(day))) {
		*out = api_error("\"day\": a date \"YYYY-MM-DD\" is required");
	} else if (!json_is_integer(reward) || json_integer_value(reward) < 0 ||
	    json_integer_value(reward) > SETTLE_MAX_REWARD) {
		*out = api_error("\"reward_sats\": an integer from 0 to %" PRId64
		    " is required", SETTLE_MAX_REWARD);
	} else if (hashrate != NULL && !json_is_null(hashrate) &&
	    (!json_is_number(hashrate) || !(json_number_value(hashrate) >= 0) ||
	    !isfinite(json_number_value(hashrate)))) {
		*out = api_error("\"pool_hashrate\": a number >= 0 (H/s)");
	} else if (settle != NULL && !json_is_boolean(settle)) {
		*out = api_error("\"settle\": true or false");
	} else if ((db = api_db(p, out)) == NULL) {
		code = 503;
	} else if (settle_earnings_add(db, json_string_value(pool),
	    json_string_value(day), json_integer_value(reward),
	    json_is_number(hashrate) ? json_number_value(hashrate) : NAN, err,
	    sizeof(err)) != 0) {
		/* An unknown pool or a refused value: the caller's to fix. */
		*out = api_error("%s", err);
		code = 422;
	} else {
		log_info("api", "earnings recorded: pool %s, %s, %" PRId64
		    " sats", json_string_value(pool), json_string_value(day),
		    (int64_t)json_integer_value(reward));
		*out = json_pack("{s:O,s:O,s:O}", "pool", pool, "day", day,
		    "reward_sats", reward);
		code = 201;
		if (json_is_true(settle)) {
			if (settle_run(db, json_string_value(pool),
			    json_string_value(day), &sum, err,
			    sizeof(err)) != 0) {
				json_object_set_new(*out, "settle_error",
				    json_string(err));
			} else {
				json_object_set_new(*out, "settled", json_pack(
				    "{s:I,s:I,s:I,s:f,s:I}", "from",
				    (json_int_t)sum.from, "to",
				    (json_int_t)sum.to, "workers",
				    (json_int_t)sum.workers,
				    "total_difficulty", sum.total_difficulty,
				    "reward_sats",
				    (json_int_t)sum.reward_sats));
			}
		}
	}
	json_decref(in);
	return code;
}

static int
route_distributions(struct proxy *p, const struct api_request *req,
    json_t **out)
{
	const char *pool = api_query(req, "pool");
	const char *day = api_query(req, "day");
	char err[512], *latest = NULL;
	json_t *rows;
	json_int_t sats = 0;
	json_t *row;
	struct db *db;
	size_t i;
	int n;

	if (pool == NULL && p->cfg->npools == 1)
		pool = p->cfg->pools[0].name;
	if (pool == NULL)
		return bad_param(out, "pool", "a pool name (required when more "
		    "than one pool is configured)");
	if (!day_ok(day))
		return bad_param(out, "day", "a date YYYY-MM-DD");
	if ((db = api_db(p, out)) == NULL)
		return 503;
	if (day == NULL) {
		const char *params[1] = { pool };

		n = db_query_text(db, "SELECT MAX(d.day) FROM distributions d "
		    "JOIN pools p ON p.id = d.pool_id WHERE p.name = ?", params,
		    1, &latest, err, sizeof(err));
		if (n < 0)
			return db_failed(p, out, err);
		if (latest == NULL) {
			*out = api_error("pool \"%s\" has no distributions yet",
			    pool);
			return 404;
		}
		day = latest;
	}
	rows = json_array();
	n = settle_list(db, pool, day, dist_row, rows, err, sizeof(err));
	if (n < 0) {
		json_decref(rows);
		*out = api_error("%s", err);
		free(latest);
		return strstr(err, "unknown pool") != NULL ? 404 : 422;
	}
	json_array_foreach(rows, i, row)
		sats += json_integer_value(json_object_get(row, "reward_sats"));
	*out = json_pack("{s:s,s:s,s:I,s:o}", "pool", pool, "day", day,
	    "total_sats", sats, "distributions", rows);
	free(latest);
	return 200;
}

static int
route_bans(struct proxy *p, const struct api_request *req, const char *ip,
    json_t **out)
{
	if (req->method == API_GET && ip == NULL) {
		*out = json_pack("{s:o}", "bans",
		    security_bans_json(p->security));
		return 200;
	}
	if (req->method == API_DELETE && ip != NULL) {
		int rc = security_unban(p->security, ip);

		if (rc < 0) {
			*out = api_error("not an IP address: %s", ip);
			return 400;
		}
		if (rc == 1) {
			*out = api_error("%s is not banned", ip);
			return 404;
		}
		log_info("api", "ban on %s lifted", ip);
		*out = json_pack("{s:s,s:b}", "ip", ip, "banned", 0);
		return 200;
	}
	if (req->method == API_POST && ip == NULL) {
		json_error_t jerr;
		json_t *in = json_loadb(req->body, req->body_len, 0, &jerr);
		json_t *addr = json_object_get(in, "ip");
		json_t *dur = json_object_get(in, "duration");
		json_t *why = json_object_get(in, "reason");
		int code = 400;

		if (in == NULL)
			*out = api_error("bad JSON body: %s", jerr.text);
		else if (!json_is_string(addr))
			*out = api_error("\"ip\": an address is required");
		else if (dur != NULL && (!json_is_integer(dur) ||
		    json_integer_value(dur) < 1 ||
		    json_integer_value(dur) > 365 * 86400))
			*out = api_error("\"duration\": seconds, 1 to 31536000");
		else if (why != NULL && !json_is_string(why))
			*out = api_error("\"reason\": a string");
		else if (security_ban(p->security, json_string_value(addr),
		    dur != NULL ? json_integer_value(dur) * 1000 : 0,
		    why != NULL ? json_string_value(why) : NULL) != 0)
			*out = api_error("cannot ban \"%s\": not an IP address "
			    "(or the ban table is full)",
			    json_string_value(addr));
		else {
			log_info("api", "%s banned through the API",
			    json_string_value(addr));
			*out = json_pack("{s:O,s:b}", "ip", addr, "banned", 1);
			code = 201;
		}
		json_decref(in);
		return code;
	}
	*out = api_error("method not allowed on %s", req->path);
	return 405;
}

/* A Unix time parameter: digits only. */
static int
query_time(const struct api_request *req, const char *key, int64_t def,
    int64_t *out)
{
	const char *v = api_query(req, key);
	char *end;
	long long n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0 ||
	    n > INT64_C(253402300799)) /* 9999-12-31 */
		return -1;
	*out = n;
	return 0;
}

struct hashrate_out {
	json_t *points;
	int64_t step;
	bool aggregate;
};

static int
hashrate_point(void *arg, const struct history_point *pt)
{
	struct hashrate_out *h = arg;

	json_t *o = json_pack("{s:I,s:f,s:I,s:f,s:I,s:f}",
	    "t", (json_int_t)pt->t, "hashrate",
	    history_hashrate(pt->accepted_difficulty, h->step), "accepted",
	    (json_int_t)pt->accepted, "accepted_difficulty",
	    pt->accepted_difficulty, "rejected", (json_int_t)pt->rejected,
	    "rejected_difficulty", pt->rejected_difficulty);

	/* Aggregate mode: the pool-accepted series beside the validated
	 * one. */
	if (h->aggregate) {
		json_object_set_new(o, "pool_hashrate", json_real(
		    history_hashrate(pt->pool_accepted_difficulty, h->step)));
		json_object_set_new(o, "pool_accepted",
		    json_integer((json_int_t)pt->pool_accepted));
		json_object_set_new(o, "pool_accepted_difficulty",
		    json_real(pt->pool_accepted_difficulty));
	}
	json_array_append_new(h->points, o);
	return 0;
}

/*
 * GET /api/v1/hashrate: the books over time (store/history.h). range
 * (1h, 24h, 7d, 30d) or since/until (Unix seconds; until defaults to now,
 * since to until - 24 h); step in seconds (a multiple of 60; by default
 * one that suits the span).
 */
static int
route_hashrate(struct proxy *p, const struct api_request *req, json_t **out)
{
	static const struct {
		const char *name;
		int64_t span;
	} ranges[] = { { "1h", 3600 }, { "24h", 86400 }, { "7d", 604800 },
	    { "30d", 2592000 } };
	struct history_filter f = { api_query(req, "pool"),
	    api_query(req, "miner"), api_query(req, "worker") };
	const char *range = api_query(req, "range");
	int64_t now = (int64_t)time(NULL), since, until, step, span = 86400;
	struct hashrate_out h;
	char err[512];
	struct db *db;

	if (range != NULL) {
		size_t i;

		for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
			if (strcmp(range, ranges[i].name) == 0)
				break;
		if (i == sizeof(ranges) / sizeof(ranges[0]))
			return bad_param(out, "range", "1h, 24h, 7d or 30d");
		if (api_query(req, "since") != NULL)
			return bad_param(out, "since", "not with range");
		span = ranges[i].span;
	}
	if (query_time(req, "until", now, &until) != 0)
		return bad_param(out, "until", "Unix seconds");
	if (query_time(req, "since", until > span ? until - span : 0,
	    &since) != 0)
		return bad_param(out, "since", "Unix seconds");
	if (since > until)
		return bad_param(out, "since", "not after until");
	if (query_time(req, "step", history_default_step(until - since),
	    &step) != 0 || step < 60 || step % 60 != 0 ||
	    step > HISTORY_STEP_MAX)
		return bad_param(out, "step", "seconds, a multiple of 60 up to "
		    "604800");
	if ((until - (since - since % step) + step - 1) / step >
	    HISTORY_POINTS_MAX)
		return bad_param(out, "step", "larger: the series would have "
		    "more than 1500 points");
	if ((db = api_db(p, out)) == NULL)
		return 503;
	h.points = json_array();
	h.step = step;
	h.aggregate = p->hub != NULL;
	if (history_series(db, &f, since, until, step, hashrate_point, &h, err,
	    sizeof(err)) != 0) {
		json_decref(h.points);
		return db_failed(p, out, err);
	}
	*out = json_pack("{s:{s:s?,s:s?,s:s?},s:I,s:I,s:I,s:o}", "scope",
	    "pool", f.pool, "miner", f.miner, "worker", f.worker, "since",
	    (json_int_t)(since - since % step), "until", (json_int_t)until,
	    "step", (json_int_t)step, "points", h.points);
	return 200;
}

/* POST /api/v1/pools/{name} {"enabled"?, "priority"?}: a live change,
 * kept until the process ends. */
static int
route_pool_post(struct proxy *p, const struct api_request *req,
    const char *name, json_t **out)
{
	json_error_t jerr;
	json_t *in, *en, *prio, *v;
	const char *key;
	int idx = -1, code = 400;

	for (size_t i = 0; i < p->cfg->npools; i++)
		if (strcmp(p->cfg->pools[i].name, name) == 0)
			idx = (int)i;
	if (idx < 0) {
		*out = api_error("no pool named \"%s\"", name);
		return 404;
	}
	in = json_loadb(req->body, req->body_len, 0, &jerr);
	en = json_object_get(in, "enabled");
	prio = json_object_get(in, "priority");
	if (in == NULL) {
		*out = api_error("bad JSON body: %s", jerr.text);
		return 400;
	}
	json_object_foreach(in, key, v) {
		if (strcmp(key, "enabled") != 0 &&
		    strcmp(key, "priority") != 0) {
			*out = api_error("unknown field \"%s\" (enabled, "
			    "priority)", key);
			goto done;
		}
	}
	if (!json_is_object(in) || (en == NULL && prio == NULL))
		*out = api_error("give \"enabled\" (true or false), "
		    "\"priority\" (0 to 1000), or both");
	else if (en != NULL && !json_is_boolean(en))
		*out = api_error("\"enabled\": true or false");
	else if (prio != NULL && (!json_is_integer(prio) ||
	    json_integer_value(prio) < 0 || json_integer_value(prio) > 1000))
		*out = api_error("\"priority\": an integer, 0 to 1000");
	else {
		router_set(p->router, idx, en != NULL ? json_is_true(en) : -1,
		    prio != NULL, prio != NULL ? json_integer_value(prio) : 0);
		log_warnx("api", "pool %s changed through the API: %s, "
		    "priority %" PRId64, name, router_enabled(p->router, idx) ?
		    "enabled" : "disabled", router_priority(p->router, idx));
		if (p->hub != NULL)
			hub_pool_changed(p->hub);
		else if (!router_enabled(p->router, idx))
			upstream_pool_disabled(p, idx);
		*out = json_pack("{s:s,s:b,s:I}", "name", name, "enabled",
		    router_enabled(p->router, idx), "priority",
		    (json_int_t)router_priority(p->router, idx));
		code = 200;
	}
done:
	json_decref(in);
	return code;
}

int
proxy_api(const struct api_request *req, json_t **out, void *arg)
{
	struct proxy *p = arg;
	const char *path = req->path + strlen("/api/v1");
	bool get = req->method == API_GET;

	if (strcmp(path, "/bans") == 0)
		return route_bans(p, req, NULL, out);
	if (strncmp(path, "/bans/", 6) == 0 && path[6] != '\0')
		return route_bans(p, req, path + 6, out);
	if (strncmp(path, "/pools/", 7) == 0 && path[7] != '\0' &&
	    strchr(path + 7, '/') == NULL) {
		if (req->method != API_POST)
			goto not_allowed;
		return route_pool_post(p, req, path + 7, out);
	}
	if (strcmp(path, "/earnings") == 0) {
		if (req->method == API_POST)
			return route_earnings_post(p, req, out);
		if (get)
			return route_earnings_get(p, req, out);
	} else if (strcmp(path, "/status") == 0 ||
	    strcmp(path, "/pools") == 0 || strcmp(path, "/workers") == 0 ||
	    strcmp(path, "/sessions") == 0 ||
	    strcmp(path, "/distributions") == 0 ||
	    strcmp(path, "/hashrate") == 0 ||
	    (strncmp(path, "/miners/", 8) == 0 && path[8] != '\0' &&
	    strchr(path + 8, '/') == NULL)) {
		if (!get)
			goto not_allowed;
		if (strcmp(path, "/status") == 0)
			return route_status(p, out);
		if (strcmp(path, "/pools") == 0)
			return route_pools(p, out);
		if (strcmp(path, "/workers") == 0)
			return route_workers(p, req, out);
		if (strcmp(path, "/sessions") == 0)
			return route_sessions(p, req, out);
		if (strcmp(path, "/distributions") == 0)
			return route_distributions(p, req, out);
		if (strcmp(path, "/hashrate") == 0)
			return route_hashrate(p, req, out);
		return route_miner(p, path + 8, out);
	} else {
		*out = api_error("no such route: %s", req->path);
		return 404;
	}
not_allowed:
	*out = api_error("method not allowed on %s", req->path);
	return 405;
}
