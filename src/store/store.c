/*
 * store.c: rings, the store thread, batching, replay (see store.h).
 *
 * Modes of the store thread:
 *   DOWN  no database: events are only journaled; reconnect every second.
 *   LIVE  the database holds every event up to `applied`; the events since
 *         then are journaled and summed in memory (the batch), written
 *         every batch_interval or batch_size events.
 * A failed write drops the in-memory batch (the journal has it) and goes
 * DOWN; on reconnect the journal is replayed from the database's own
 * record of what it applied, and the thread is LIVE again only when the
 * database holds every event the journal has.
 *
 * The journal belongs to one database (its identity, db_identity()): the
 * first connection decides whether this database may receive the
 * journal's events (store_judge()); later connections must reach the same
 * database, or the store stays down and keeps journaling. While LIVE the
 * database is checked every second (a SQLite file deleted or replaced, a
 * PostgreSQL connection lost) and its identity every few seconds (a
 * database dropped and recreated under the same name).
 *
 * An event leaves its ring only once the journal has taken it: while the
 * journal refuses appends (a full disk), events wait in the rings.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "metrics/registry.h"
#include "books/accounting.h"
#include "store/db.h"
#include "store/journal.h"
#include "store/watch.h"
#include "util/log.h"
#include "util/now.h"
#include "util/progress.h"
#include "util/xmalloc.h"

/* Names longer than these are cut (identity.h caps them lower anyway). */
#define EV_NAME_MAX 255
/* Fixed part of an event: seq, ts, pool/user/worker lengths, kind,
 * accepted, reason, pad, diff. */
#define EV_FIXED 32
#define EV_MAX (EV_FIXED + 3 * EV_NAME_MAX)
/* How long the store thread sleeps when there is nothing to do. */
#define STORE_IDLE_MS 5
/* Between reconnection attempts while the database is away. */
#define STORE_RETRY_MS 1000
/* While LIVE: is the database still there, still the same one. */
#define STORE_CHECK_MS 1000
#define STORE_IDENTITY_MS 3000
/* After the journal refused an event, the next attempt. */
#define STORE_JOURNAL_RETRY_MS 100
/* The first connection to PostgreSQL, made before the miners are served. */
#define STORE_FIRST_CONNECT_MS 2000

enum ev_kind {
	EV_SHARE = 1,
	EV_SEEN = 2,
	EV_POOL = 3,    /* aggregate mode: the pool's verdict on a share */
};

struct store_ring {
	_Atomic uint64_t head; /* producer */
	atomic_bool want;      /* producer: call notify once journaled */
	_Atomic uint64_t want_pos; /* ... up to here */
	char pad1[40];
	_Atomic uint64_t tail; /* consumer */
	/* consumer: every event before this is in the journal's file */
	_Atomic uint64_t journaled;
	char pad2[48];
	uint8_t *buf;
	size_t mask;
	struct store_stats *stats;
	int wake_fd;           /* the store thread's (eventfd) */
	pthread_mutex_t notify_lock;
	void (*notify)(void *);
	void *notify_arg;
};

/* One decoded event. */
struct event {
	uint64_t seq;
	int64_t ts_ms;
	int kind;
	bool accepted;
	int reason;
	double diff;
	char pool[EV_NAME_MAX + 1];
	char user[EV_NAME_MAX + 1];
	char worker[EV_NAME_MAX + 1];
};

/* What a batch sums for one worker and minute (minute -1: seen only). */
struct agg {
	uint64_t hash;
	char *pool, *user, *worker;
	int64_t minute;
	int64_t last_ts;
	int64_t last_accepted_ts; /* of an accepted share, 0: none */
	uint64_t accepted;
	double accepted_diff;
	uint64_t rejected[ACCT_REJ_MAX];
	double rejected_diff;
	uint64_t pool_accepted, pool_rejected;  /* EV_POOL */
	double pool_accepted_diff, pool_rejected_diff;
	struct agg *next;
};

struct share_row {
	struct agg *who;
	int64_t ts_ms;
	double diff;
	bool accepted;
	int reason;
	uint64_t seq;
};

/* A pool's minute, summed over a batch (the pool_minutes rollup). */
struct pool_minute {
	const char *pool;      /* an agg's, valid while the batch is */
	int64_t minute;
	uint64_t accepted, rejected;
	double accepted_diff, rejected_diff;
	uint64_t pool_accepted, pool_rejected;
	double pool_accepted_diff, pool_rejected_diff;
};

struct batch {
	struct agg **buckets;
	size_t nbuckets;
	size_t nentries;
	uint64_t events;
	uint64_t first_seq, last_seq;
	struct share_row *rows; /* share_log only */
	size_t nrows;
	struct pool_minute *pm;
	size_t npm;
};

/* Worker ids already in the database. */
struct wid {
	uint64_t hash;
	char *pool, *user, *worker;
	int64_t id;
	struct wid *next;
};

struct store {
	const struct cfg *cfg;
	char *instance;
	struct journal *journal;
	struct store_ring *rings;
	size_t nrings;
	struct store_stats stats;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	struct metrics_series *batch_seconds; /* histogram, or NULL */

	/* store thread only */
	struct db *db;
	bool live;
	uint64_t seq;      /* last sequence number given */
	uint64_t applied;  /* last one the database has */
	struct batch batch;
	struct wid **wids;
	size_t nwids;
	int64_t last_commit_ms, last_sync_ms, last_retry_ms;
	uint64_t dropped_logged;
	int64_t dropped_log_ms;
	bool outage_logged;
	char dbid[DB_IDENTITY_MAX + 1]; /* the journal's database, once known */
	bool refused;
	bool clash;                     /* another writer as this instance */
	int64_t last_check_ms, last_identity_ms;
	int64_t journal_retry_ms;       /* no append before this (mono ms) */
	int append_errno, sync_errno;   /* the last failure's, 0: none */
	int64_t journal_log_ms;

	pthread_mutex_t reason_lock;
	char reason[2048];               /* under reason_lock */

	struct progress replay_progress;
	struct watch *watch;            /* worker states, from the books */
	int64_t last_watch_ms;
	int wake_fd;                    /* eventfd: store_ring_wait() */
};

static uint64_t
name_hash(const char *pool, const char *user, const char *worker,
    int64_t minute)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)minute;
	const char *parts[3] = { pool, user, worker };

	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i]; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h;
}

/* ---- rings (any worker thread posts; the store thread takes) ---- */

static void
ring_copy_in(struct store_ring *r, uint64_t pos, const void *src, size_t n)
{
	size_t off = (size_t)pos & r->mask, first = r->mask + 1 - off;

	if (first > n)
		first = n;
	memcpy(r->buf + off, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, n - first);
}

static void
ring_copy_out(struct store_ring *r, uint64_t pos, void *dst, size_t n)
{
	size_t off = (size_t)pos & r->mask, first = r->mask + 1 - off;

	if (first > n)
		first = n;
	memcpy(dst, r->buf + off, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

static void
put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Encode an event (seq 0: the store thread numbers it). */
static size_t
ev_encode(uint8_t *out, int kind, const char *pool, const char *user,
    const char *worker, bool accepted, int reason, double diff,
    int64_t ts_ms)
{
	size_t pl = strnlen(pool, EV_NAME_MAX), ul = strnlen(user, EV_NAME_MAX);
	size_t wl = strnlen(worker, EV_NAME_MAX);
	uint64_t bits;

	memset(out, 0, EV_FIXED);
	put_le(out + 8, (uint64_t)ts_ms, 8);
	out[16] = (uint8_t)pl;
	out[17] = (uint8_t)ul;
	out[18] = (uint8_t)wl;
	out[19] = (uint8_t)kind;
	out[20] = accepted;
	out[21] = (uint8_t)reason;
	memcpy(&bits, &diff, sizeof(bits));
	put_le(out + 24, bits, 8);
	memcpy(out + EV_FIXED, pool, pl);
	memcpy(out + EV_FIXED + pl, user, ul);
	memcpy(out + EV_FIXED + pl + ul, worker, wl);
	return EV_FIXED + pl + ul + wl;
}

static int
ev_decode(const uint8_t *p, size_t len, struct event *e)
{
	size_t pl, ul, wl;
	uint64_t bits;

	if (len < EV_FIXED)
		return -1;
	pl = p[16];
	ul = p[17];
	wl = p[18];
	if (EV_FIXED + pl + ul + wl != len)
		return -1;
	e->seq = get_le(p, 8);
	e->ts_ms = (int64_t)get_le(p + 8, 8);
	e->kind = p[19];
	e->accepted = p[20] != 0;
	e->reason = p[21] < ACCT_REJ_MAX ? p[21] : ACCT_REJ_OTHER;
	bits = get_le(p + 24, 8);
	memcpy(&e->diff, &bits, sizeof(bits));
	if (!isfinite(e->diff) || e->diff < 0)
		e->diff = 0;
	memcpy(e->pool, p + EV_FIXED, pl);
	e->pool[pl] = '\0';
	memcpy(e->user, p + EV_FIXED + pl, ul);
	e->user[ul] = '\0';
	memcpy(e->worker, p + EV_FIXED + pl + ul, wl);
	e->worker[wl] = '\0';
	return e->kind == EV_SHARE || e->kind == EV_SEEN || e->kind == EV_POOL ?
	    0 : -1;
}

static int
ring_post(struct store_ring *r, const uint8_t *ev, size_t len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t need = (4 + len + 7) & ~(size_t)7;
	uint8_t hdr[4];

	if (r->mask + 1 - (head - tail) < need) {
		atomic_fetch_add_explicit(&r->stats->dropped, 1,
		    memory_order_relaxed);
		return -1;
	}
	put_le(hdr, len, 4);
	ring_copy_in(r, head, hdr, 4);
	ring_copy_in(r, head + 4, ev, len);
	atomic_store_explicit(&r->head, head + need, memory_order_release);
	atomic_fetch_add_explicit(&r->stats->posted, 1, memory_order_relaxed);
	return 0;
}

int
store_post_share(struct store_ring *r, const char *pool, const char *user,
    const char *worker, bool accepted, int reason, double diff,
    int64_t ts_ms)
{
	uint8_t ev[EV_MAX];
	size_t len = ev_encode(ev, EV_SHARE, pool, user, worker, accepted,
	    reason, diff, ts_ms);

	return ring_post(r, ev, len);
}

int
store_post_pool(struct store_ring *r, const char *pool, const char *user,
    const char *worker, bool accepted, double diff, int64_t ts_ms)
{
	uint8_t ev[EV_MAX];
	size_t len = ev_encode(ev, EV_POOL, pool, user, worker, accepted, 0,
	    diff, ts_ms);

	return ring_post(r, ev, len);
}

int
store_post_seen(struct store_ring *r, const char *pool, const char *user,
    const char *worker, int64_t ts_ms)
{
	uint8_t ev[EV_MAX];
	size_t len = ev_encode(ev, EV_SEEN, pool, user, worker, false, 0, 0,
	    ts_ms);

	return ring_post(r, ev, len);
}

/* ---- journal before verdict ---- */

uint64_t
store_ring_posted(const struct store_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_relaxed);
}

bool
store_ring_journaled(const struct store_ring *r, uint64_t pos)
{
	return atomic_load_explicit(&r->journaled, memory_order_acquire) >=
	    pos;
}

void
store_ring_wait(struct store_ring *r, uint64_t pos)
{
	uint64_t one = 1;

	if (pos > atomic_load_explicit(&r->want_pos, memory_order_relaxed))
		atomic_store_explicit(&r->want_pos, pos, memory_order_release);
	if (atomic_exchange(&r->want, true))
		return; /* asked already, not answered yet */
	/* The store thread may be asleep: wake it (an eventfd keeps the
	 * count, so a wake before it sleeps is not lost). */
	if (r->wake_fd >= 0 && write(r->wake_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		atomic_store(&r->want, false);
}

void
store_ring_set_notify(struct store_ring *r, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&r->notify_lock);
	r->notify = fn;
	r->notify_arg = arg;
	pthread_mutex_unlock(&r->notify_lock);
}

/*
 * Once the journal's buffer is in its file: every ring's events taken so
 * far are journaled, and the producers that asked for a position now
 * reached are told. Nothing is told while the journal fails (a full
 * disk) or while it refuses the events asked for: the producers' own
 * deadline decides then.
 */
static void
mark_journaled(struct store *s)
{
	if (s->sync_errno != 0 || journal_unwritten(s->journal) > 0)
		return;
	for (size_t i = 0; i < s->nrings; i++) {
		struct store_ring *r = &s->rings[i];
		uint64_t tail = atomic_load_explicit(&r->tail,
		    memory_order_relaxed);

		atomic_store_explicit(&r->journaled, tail,
		    memory_order_release);
		if (!atomic_load_explicit(&r->want, memory_order_acquire) ||
		    atomic_load_explicit(&r->want_pos, memory_order_acquire) >
		    tail || !atomic_exchange(&r->want, false))
			continue;
		pthread_mutex_lock(&r->notify_lock);
		if (r->notify != NULL)
			r->notify(r->notify_arg);
		pthread_mutex_unlock(&r->notify_lock);
	}
}

/* Idle: sleep up to ms, or until a producer asks (store_ring_wait()). */
static void
idle_wait(struct store *s, int ms)
{
	struct pollfd pfd = { s->wake_fd, POLLIN, 0 };
	uint64_t n;

	if (s->wake_fd < 0) {
		struct timespec ts = { 0, ms * 1000000L };

		nanosleep(&ts, NULL);
		return;
	}
	if (poll(&pfd, 1, ms) > 0)
		(void)read(s->wake_fd, &n, sizeof(n));
}

/* ---- the batch ---- */

static void
batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	b->nbuckets = 1024;
	b->buckets = xcalloc(b->nbuckets, sizeof(*b->buckets));
}

static void
batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->nbuckets; i++) {
		struct agg *a = b->buckets[i], *next;

		for (; a != NULL; a = next) {
			next = a->next;
			free(a->pool);
			free(a->user);
			free(a->worker);
			free(a);
		}
		b->buckets[i] = NULL;
	}
	free(b->rows);
	b->rows = NULL;
	b->nrows = 0;
	free(b->pm);
	b->pm = NULL;
	b->npm = 0;
	b->nentries = 0;
	b->events = 0;
	b->first_seq = b->last_seq = 0;
}

static struct agg *
batch_entry(struct batch *b, const struct event *e, int64_t minute)
{
	uint64_t h = name_hash(e->pool, e->user, e->worker, minute);
	size_t i = h & (b->nbuckets - 1);
	struct agg *a;

	for (a = b->buckets[i]; a != NULL; a = a->next)
		if (a->hash == h && a->minute == minute &&
		    strcmp(a->pool, e->pool) == 0 &&
		    strcmp(a->user, e->user) == 0 &&
		    strcmp(a->worker, e->worker) == 0)
			return a;
	a = xcalloc(1, sizeof(*a));
	a->hash = h;
	a->pool = xstrdup(e->pool);
	a->user = xstrdup(e->user);
	a->worker = xstrdup(e->worker);
	a->minute = minute;
	a->next = b->buckets[i];
	b->buckets[i] = a;
	b->nentries++;
	return a;
}

static void
batch_add(struct store *s, const struct event *e)
{
	struct batch *b = &s->batch;
	int64_t minute = e->kind == EV_SHARE || e->kind == EV_POOL ?
	    (e->ts_ms / 1000) - (e->ts_ms / 1000) % 60 : -1;
	struct agg *a = batch_entry(b, e, minute);

	if (b->events == 0)
		b->first_seq = e->seq;
	b->last_seq = e->seq;
	b->events++;
	if (e->ts_ms / 1000 > a->last_ts)
		a->last_ts = e->ts_ms / 1000;
	if (e->kind == EV_POOL) {
		if (e->accepted) {
			a->pool_accepted++;
			a->pool_accepted_diff += e->diff;
		} else {
			a->pool_rejected++;
			a->pool_rejected_diff += e->diff;
		}
		return;
	}
	if (e->kind != EV_SHARE)
		return;
	if (e->accepted) {
		a->accepted++;
		a->accepted_diff += e->diff;
		if (e->ts_ms / 1000 > a->last_accepted_ts)
			a->last_accepted_ts = e->ts_ms / 1000;
	} else {
		a->rejected[e->reason]++;
		a->rejected_diff += e->diff;
	}
	if (s->cfg->database.share_log) {
		struct share_row *r;

		b->rows = xreallocarray(b->rows, b->nrows + 1,
		    sizeof(*b->rows));
		r = &b->rows[b->nrows++];
		r->who = a;
		r->ts_ms = e->ts_ms;
		r->diff = e->diff;
		r->accepted = e->accepted;
		r->reason = e->reason;
		r->seq = e->seq;
	}
}

/* ---- writing a batch ---- */

static void
wids_clear(struct store *s)
{
	for (size_t i = 0; i < s->nwids; i++) {
		struct wid *w = s->wids[i], *next;

		for (; w != NULL; w = next) {
			next = w->next;
			free(w->pool);
			free(w->user);
			free(w->worker);
			free(w);
		}
		s->wids[i] = NULL;
	}
}

static int
row_int(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	(void)names;
	if (ncols > 0 && values[0] != NULL)
		*(int64_t *)arg = strtoll(values[0], NULL, 10);
	return 1;
}

/* The database id of a worker, created (with its miner) if needed. */
static int
worker_id(struct store *s, const struct agg *a, int64_t *id, char *err,
    size_t errlen)
{
	uint64_t h = name_hash(a->pool, a->user, a->worker, 0);
	size_t i = h % s->nwids;
	struct wid *w;
	char ts[24];
	const char *p[2];
	int64_t pool_id = -1, miner_id = -1;

	snprintf(ts, sizeof(ts), "%" PRId64, a->last_ts);
	for (w = s->wids[i]; w != NULL; w = w->next) {
		char idtext[24];

		if (w->hash != h || strcmp(w->pool, a->pool) != 0 ||
		    strcmp(w->user, a->user) != 0 ||
		    strcmp(w->worker, a->worker) != 0)
			continue;
		*id = w->id;
		snprintf(idtext, sizeof(idtext), "%" PRId64, w->id);
		return db_exec(s->db, "UPDATE workers SET last_seen = ? WHERE "
		    "id = ? AND last_seen < ?", (const char *[]){ ts, idtext,
		    ts }, 3, NULL, NULL, err, errlen);
	}
	p[0] = a->pool;
	if (db_exec(s->db, "SELECT id FROM pools WHERE name = ?", p, 1,
	    row_int, &pool_id, err, errlen) != 0)
		return -1;
	if (pool_id < 0) {
		snprintf(err, errlen, "pool \"%s\" is not in the database",
		    a->pool);
		return -2;
	}
	p[0] = a->user;
	p[1] = ts;
	if (db_exec(s->db, "INSERT INTO miners (name, created_at) VALUES "
	    "(?, ?) ON CONFLICT (name) DO NOTHING", p, 2, NULL, NULL, err,
	    errlen) != 0 ||
	    db_exec(s->db, "SELECT id FROM miners WHERE name = ?", p, 1,
	    row_int, &miner_id, err, errlen) != 0)
		return -1;
	{
		char pid[24], mid[24];
		const char *q[5] = { pid, mid, a->worker, ts, ts };

		snprintf(pid, sizeof(pid), "%" PRId64, pool_id);
		snprintf(mid, sizeof(mid), "%" PRId64, miner_id);
		if (db_exec(s->db, "INSERT INTO workers (pool_id, miner_id, "
		    "name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
		    "ON CONFLICT (pool_id, miner_id, name) DO UPDATE SET "
		    "last_seen = CASE WHEN excluded.last_seen > "
		    "workers.last_seen THEN excluded.last_seen ELSE "
		    "workers.last_seen END", q, 5, NULL, NULL, err,
		    errlen) != 0)
			return -1;
		*id = -1;
		if (db_exec(s->db, "SELECT id FROM workers WHERE pool_id = ? "
		    "AND miner_id = ? AND name = ?", q, 3, row_int, id, err,
		    errlen) != 0)
			return -1;
	}
	w = xcalloc(1, sizeof(*w));
	w->hash = h;
	w->pool = xstrdup(a->pool);
	w->user = xstrdup(a->user);
	w->worker = xstrdup(a->worker);
	w->id = *id;
	w->next = s->wids[i];
	s->wids[i] = w;
	return 0;
}

static int
write_bucket(struct store *s, const struct agg *a, int64_t wid, char *err,
    size_t errlen)
{
	char v[14][32];
	const char *p[14];

	snprintf(v[0], 32, "%" PRId64, wid);
	snprintf(v[1], 32, "%" PRId64, a->minute);
	snprintf(v[2], 32, "%" PRIu64, a->accepted);
	snprintf(v[3], 32, "%.17g", a->accepted_diff);
	for (int i = 0; i < ACCT_REJ_MAX; i++)
		snprintf(v[4 + i], 32, "%" PRIu64, a->rejected[i]);
	snprintf(v[9], 32, "%.17g", a->rejected_diff);
	snprintf(v[10], 32, "%" PRIu64, a->pool_accepted);
	snprintf(v[11], 32, "%.17g", a->pool_accepted_diff);
	snprintf(v[12], 32, "%" PRIu64, a->pool_rejected);
	snprintf(v[13], 32, "%.17g", a->pool_rejected_diff);
	for (int i = 0; i < 14; i++)
		p[i] = v[i];
	return db_exec(s->db, "INSERT INTO submissions (worker_id, minute, "
	    "accepted, accepted_difficulty, rejected_stale, "
	    "rejected_duplicate, rejected_low_difficulty, "
	    "rejected_unauthorized, rejected_other, rejected_difficulty, "
	    "pool_accepted, pool_accepted_difficulty, pool_rejected, "
	    "pool_rejected_difficulty) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (worker_id, minute) DO UPDATE SET "
	    "accepted = submissions.accepted + excluded.accepted, "
	    "accepted_difficulty = submissions.accepted_difficulty + "
	    "excluded.accepted_difficulty, "
	    "rejected_stale = submissions.rejected_stale + "
	    "excluded.rejected_stale, "
	    "rejected_duplicate = submissions.rejected_duplicate + "
	    "excluded.rejected_duplicate, "
	    "rejected_low_difficulty = submissions.rejected_low_difficulty + "
	    "excluded.rejected_low_difficulty, "
	    "rejected_unauthorized = submissions.rejected_unauthorized + "
	    "excluded.rejected_unauthorized, "
	    "rejected_other = submissions.rejected_other + "
	    "excluded.rejected_other, "
	    "rejected_difficulty = submissions.rejected_difficulty + "
	    "excluded.rejected_difficulty, "
	    "pool_accepted = submissions.pool_accepted + "
	    "excluded.pool_accepted, "
	    "pool_accepted_difficulty = submissions.pool_accepted_difficulty + "
	    "excluded.pool_accepted_difficulty, "
	    "pool_rejected = submissions.pool_rejected + "
	    "excluded.pool_rejected, "
	    "pool_rejected_difficulty = submissions.pool_rejected_difficulty + "
	    "excluded.pool_rejected_difficulty", p, 14, NULL, NULL, err,
	    errlen);
}

static uint64_t
agg_rejected(const struct agg *a)
{
	uint64_t n = 0;

	for (int i = 0; i < ACCT_REJ_MAX; i++)
		n += a->rejected[i];
	return n;
}

/*
 * The history rollups (migration 3): the worker's hour now, the pool's
 * minute summed over the batch (one row per pool and minute, written by
 * write_pool_minutes()).
 */
static int
write_rollups(struct store *s, const struct agg *a, int64_t wid, char *err,
    size_t errlen)
{
	struct batch *b = &s->batch;
	char v[10][32];
	const char *p[10];
	size_t i;

	if (a->last_accepted_ts > 0) {
		char ts[24], id[24];

		snprintf(ts, sizeof(ts), "%" PRId64, a->last_accepted_ts);
		snprintf(id, sizeof(id), "%" PRId64, wid);
		if (db_exec(s->db, "UPDATE workers SET last_accepted = ? WHERE "
		    "id = ? AND last_accepted < ?", (const char *[]){ ts, id,
		    ts }, 3, NULL, NULL, err, errlen) != 0)
			return -1;
	}
	snprintf(v[0], 32, "%" PRId64, wid);
	snprintf(v[1], 32, "%" PRId64, a->minute - a->minute % 3600);
	snprintf(v[2], 32, "%" PRIu64, a->accepted);
	snprintf(v[3], 32, "%.17g", a->accepted_diff);
	snprintf(v[4], 32, "%" PRIu64, agg_rejected(a));
	snprintf(v[5], 32, "%.17g", a->rejected_diff);
	snprintf(v[6], 32, "%" PRIu64, a->pool_accepted);
	snprintf(v[7], 32, "%.17g", a->pool_accepted_diff);
	snprintf(v[8], 32, "%" PRIu64, a->pool_rejected);
	snprintf(v[9], 32, "%.17g", a->pool_rejected_diff);
	for (i = 0; i < 10; i++)
		p[i] = v[i];
	if (db_exec(s->db, "INSERT INTO worker_hours (worker_id, hour, "
	    "accepted, accepted_difficulty, rejected, rejected_difficulty, "
	    "pool_accepted, pool_accepted_difficulty, pool_rejected, "
	    "pool_rejected_difficulty) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (worker_id, "
	    "hour) DO "
	    "UPDATE SET accepted = worker_hours.accepted + excluded.accepted, "
	    "accepted_difficulty = worker_hours.accepted_difficulty + "
	    "excluded.accepted_difficulty, rejected = worker_hours.rejected + "
	    "excluded.rejected, rejected_difficulty = "
	    "worker_hours.rejected_difficulty + excluded.rejected_difficulty, "
	    "pool_accepted = worker_hours.pool_accepted + "
	    "excluded.pool_accepted, pool_accepted_difficulty = "
	    "worker_hours.pool_accepted_difficulty + "
	    "excluded.pool_accepted_difficulty, pool_rejected = "
	    "worker_hours.pool_rejected + excluded.pool_rejected, "
	    "pool_rejected_difficulty = worker_hours.pool_rejected_difficulty "
	    "+ excluded.pool_rejected_difficulty",
	    p, 10, NULL, NULL, err, errlen) != 0)
		return -1;
	for (i = 0; i < b->npm; i++)
		if (b->pm[i].minute == a->minute &&
		    strcmp(b->pm[i].pool, a->pool) == 0)
			break;
	if (i == b->npm) {
		b->pm = xreallocarray(b->pm, b->npm + 1, sizeof(*b->pm));
		memset(&b->pm[i], 0, sizeof(b->pm[i]));
		b->pm[i].pool = a->pool;
		b->pm[i].minute = a->minute;
		b->npm++;
	}
	b->pm[i].accepted += a->accepted;
	b->pm[i].accepted_diff += a->accepted_diff;
	b->pm[i].rejected += agg_rejected(a);
	b->pm[i].rejected_diff += a->rejected_diff;
	b->pm[i].pool_accepted += a->pool_accepted;
	b->pm[i].pool_accepted_diff += a->pool_accepted_diff;
	b->pm[i].pool_rejected += a->pool_rejected;
	b->pm[i].pool_rejected_diff += a->pool_rejected_diff;
	return 0;
}

static int
write_pool_minutes(struct store *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->batch.npm; i++) {
		const struct pool_minute *m = &s->batch.pm[i];
		char v[9][32];
		const char *p[10];

		snprintf(v[0], 32, "%" PRId64, m->minute);
		snprintf(v[1], 32, "%" PRIu64, m->accepted);
		snprintf(v[2], 32, "%.17g", m->accepted_diff);
		snprintf(v[3], 32, "%" PRIu64, m->rejected);
		snprintf(v[4], 32, "%.17g", m->rejected_diff);
		snprintf(v[5], 32, "%" PRIu64, m->pool_accepted);
		snprintf(v[6], 32, "%.17g", m->pool_accepted_diff);
		snprintf(v[7], 32, "%" PRIu64, m->pool_rejected);
		snprintf(v[8], 32, "%.17g", m->pool_rejected_diff);
		for (int k = 0; k < 9; k++)
			p[k] = v[k];
		p[9] = m->pool;
		if (db_exec(s->db, "INSERT INTO pool_minutes (pool_id, minute, "
		    "accepted, accepted_difficulty, rejected, "
		    "rejected_difficulty, pool_accepted, "
		    "pool_accepted_difficulty, pool_rejected, "
		    "pool_rejected_difficulty) SELECT id, ?, ?, ?, ?, ?, ?, ?, "
		    "?, ? FROM pools "
		    "WHERE name = ? ON CONFLICT (pool_id, minute) DO UPDATE SET "
		    "accepted = pool_minutes.accepted + excluded.accepted, "
		    "accepted_difficulty = pool_minutes.accepted_difficulty + "
		    "excluded.accepted_difficulty, rejected = "
		    "pool_minutes.rejected + excluded.rejected, "
		    "rejected_difficulty = pool_minutes.rejected_difficulty + "
		    "excluded.rejected_difficulty, pool_accepted = "
		    "pool_minutes.pool_accepted + excluded.pool_accepted, "
		    "pool_accepted_difficulty = "
		    "pool_minutes.pool_accepted_difficulty + "
		    "excluded.pool_accepted_difficulty, pool_rejected = "
		    "pool_minutes.pool_rejected + excluded.pool_rejected, "
		    "pool_rejected_difficulty = "
		    "pool_minutes.pool_rejected_difficulty + "
		    "excluded.pool_rejected_difficulty", p, 10, NULL, NULL, err,
		    errlen) != 0)
			return -1;
	}
	return 0;
}

static int
write_share_rows(struct store *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->batch.nrows; i++) {
		const struct share_row *r = &s->batch.rows[i];
		char v[5][32];
		const char *p[7];
		int64_t wid;

		if (worker_id(s, r->who, &wid, err, errlen) != 0)
			return -1;
		snprintf(v[0], 32, "%" PRId64, wid);
		snprintf(v[1], 32, "%" PRId64, r->ts_ms);
		snprintf(v[2], 32, "%.17g", r->diff);
		snprintf(v[3], 32, "%d", r->accepted ? 1 : 0);
		snprintf(v[4], 32, "%" PRIu64, r->seq);
		p[0] = v[0];
		p[1] = v[1];
		p[2] = v[2];
		p[3] = v[3];
		p[4] = r->accepted ? NULL : acct_reason_name(r->reason);
		p[5] = s->instance;
		p[6] = v[4];
		if (db_exec(s->db, "INSERT INTO share_log (worker_id, ts_ms, "
		    "difficulty, accepted, reason, instance, seq) VALUES "
		    "(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance, seq) DO "
		    "NOTHING", p, 7, NULL, NULL, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static void
set_reason(struct store *s, const char *why)
{
	pthread_mutex_lock(&s->reason_lock);
	snprintf(s->reason, sizeof(s->reason), "%s", why);
	pthread_mutex_unlock(&s->reason_lock);
}

static void
go_down(struct store *s, const char *why)
{
	set_reason(s, why);
	if (!s->outage_logged)
		log_warnx("store", "database unavailable (%s): share events "
		    "are kept in the journal and will be written when it is "
		    "back", why);
	s->outage_logged = true;
	atomic_fetch_add_explicit(&s->stats.db_errors, 1,
	    memory_order_relaxed);
	atomic_store(&s->stats.db_up, false);
	db_close(s->db);
	s->db = NULL;
	s->live = false;
	batch_clear(&s->batch);
	wids_clear(s);
	s->last_retry_ms = now_mono_ms();
}

/* The database must not receive the journal's events: an error (once per
 * reason), then down until an operator acts. */
static void
refuse_db(struct store *s, const char *why)
{
	char was[sizeof(s->reason)];

	store_db_reason(s, was, sizeof(was));
	if (!s->refused || strncmp(was, why, sizeof(was) - 1) != 0)
		log_errorx("store", "%s", why);
	s->refused = true;
	s->outage_logged = true;
	atomic_store(&s->stats.db_refused, true);
	go_down(s, why);
}

/* This instance's progress mark: every event up to seq is applied. */
static int
write_progress(struct store *s, uint64_t seq, char *err, size_t errlen)
{
	char v[24], now[24];

	snprintf(v, sizeof(v), "%" PRIu64, seq);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	return db_exec(s->db, "INSERT INTO store_progress (instance, last_seq, "
	    "updated_at) VALUES (?, ?, ?) ON CONFLICT (instance) DO UPDATE "
	    "SET last_seq = excluded.last_seq, updated_at = "
	    "excluded.updated_at", (const char *[]){ s->instance, v, now },
	    3, NULL, NULL, err, errlen);
}

static void
clash_message(const struct store *s, uint64_t progress, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "the database has instance %s's events up to %"
	    PRIu64 ", beyond this Loka's %" PRIu64 ": another process writes "
	    "under the same [database] instance; nothing more is written "
	    "until that is fixed (give each instance its own name, then "
	    "restart)", s->instance, progress, s->applied);
}

/*
 * Does the database still hold exactly what this Loka wrote? Less means
 * it went back in time under Loka (a backup restored into it): down, and
 * the journal is replayed from what it holds at once. More means another
 * process writes under this instance's name: refused. 0 when it does;
 * else -1, the store down.
 */
static int
check_progress(struct store *s, char *err, size_t errlen)
{
	int64_t progress = 0;

	if (db_query_int(s->db, "SELECT last_seq FROM store_progress WHERE "
	    "instance = ?", (const char *[]){ s->instance }, 1, &progress,
	    err, errlen) < 0) {
		go_down(s, err);
		return -1;
	}
	if ((uint64_t)progress == s->applied)
		return 0;
	if ((uint64_t)progress < s->applied) {
		snprintf(err, errlen, "the database holds instance %s's events "
		    "only up to %" PRId64 ", not %" PRIu64 " (restored from a "
		    "backup under this Loka?): the journal is replayed from "
		    "there", s->instance, progress, s->applied);
		log_warnx("store", "%s", err);
		go_down(s, err);
		s->last_retry_ms = 0; /* reconnect and replay at once */
		return -1;
	}
	clash_message(s, (uint64_t)progress, err, errlen);
	s->clash = true;
	refuse_db(s, err);
	return -1;
}

/* Write the batch in one transaction with its progress mark. */
static int
commit_batch(struct store *s, bool replaying)
{
	char err[512];
	int64_t t0 = now_mono_us();
	int rc;

	if (s->batch.events == 0)
		return 0;
	if (db_begin(s->db, err, sizeof(err)) != 0)
		goto fail;
	/* In the transaction: the database still holds exactly what this
	 * Loka wrote (not restored, not written by another process). */
	if (check_progress(s, err, sizeof(err)) != 0)
		return -1; /* closed: the transaction is gone with it */
	for (size_t i = 0; i < s->batch.nbuckets; i++) {
		for (struct agg *a = s->batch.buckets[i]; a != NULL;
		    a = a->next) {
			int64_t wid;

			rc = worker_id(s, a, &wid, err, sizeof(err));
			if (rc == -2) {
				/* A pool no longer configured: its events
				 * cannot be placed; say so, keep the rest. */
				log_warnx("store", "%s; dropping its events",
				    err);
				continue;
			}
			if (rc != 0)
				goto fail_rollback;
			if (a->minute >= 0 && (write_bucket(s, a, wid, err,
			    sizeof(err)) != 0 || write_rollups(s, a, wid, err,
			    sizeof(err)) != 0))
				goto fail_rollback;
		}
	}
	if (write_pool_minutes(s, err, sizeof(err)) != 0 ||
	    write_share_rows(s, err, sizeof(err)) != 0)
		goto fail_rollback;
	if (write_progress(s, s->batch.last_seq, err, sizeof(err)) != 0)
		goto fail_rollback;
	if (db_commit(s->db, err, sizeof(err)) != 0)
		goto fail_rollback;
	s->applied = s->batch.last_seq;
	atomic_fetch_add_explicit(&s->stats.committed, s->batch.events,
	    memory_order_relaxed);
	if (replaying)
		atomic_fetch_add_explicit(&s->stats.replayed, s->batch.events,
		    memory_order_relaxed);
	atomic_fetch_add_explicit(&s->stats.batches, 1, memory_order_relaxed);
	t0 = now_mono_us() - t0;
	atomic_store(&s->stats.last_batch_us, (uint64_t)t0);
	if (s->batch_seconds != NULL)
		metrics_histogram_observe(s->batch_seconds, (double)t0 / 1e6);
	batch_clear(&s->batch);
	journal_release(s->journal, s->applied);
	atomic_store(&s->stats.journal_bytes, journal_bytes(s->journal));
	s->last_commit_ms = now_mono_ms();
	return 0;
fail_rollback:
	db_rollback(s->db);
fail:
	go_down(s, err);
	return -1;
}

/* ---- replay ---- */

static int
replay_one(void *arg, uint64_t seq, const void *payload, size_t len)
{
	struct store *s = arg;
	struct event e;

	if (ev_decode(payload, len, &e) != 0) {
		/* Counted as handled, so the progress mark passes it. */
		log_errorx("store", "journal record %" PRIu64 " is not an "
		    "event this version can read; skipped", seq);
		if (s->batch.events == 0)
			s->batch.first_seq = seq;
		s->batch.last_seq = seq;
		s->batch.events++;
		return 0;
	}
	e.seq = seq;
	progress_add(&s->replay_progress, 1);
	batch_add(s, &e);
	if (s->batch.events >= (uint64_t)s->cfg->database.batch_size)
		return commit_batch(s, true);
	return 0;
}

static int
sync_pools(struct store *s, char *err, size_t errlen)
{
	const struct cfg *c = s->cfg;
	char now[24];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	for (size_t i = 0; i < c->npools; i++) {
		const struct cfg_pool *p = &c->pools[i];
		char port[8], off[16];
		const char *v[12];

		snprintf(port, sizeof(port), "%u", p->port);
		snprintf(off, sizeof(off), "%lld",
		    (long long)p->settlement_offset);
		v[0] = p->name;
		v[1] = p->host;
		v[2] = port;
		v[3] = p->username;
		v[4] = c->database.store_pool_passwords &&
		    p->password[0] != '\0' ? p->password : NULL;
		v[5] = p->sep1;
		v[6] = p->sep2;
		v[7] = p->settlement_time;
		v[8] = off;
		v[9] = p->enabled ? "1" : "0";
		v[10] = now;
		v[11] = p->settlement_basis == CFG_BASIS_POOL_ACCEPTED ?
		    "pool_accepted" : "validated";
		if (db_exec(s->db, "INSERT INTO pools (name, host, port, "
		    "username, password, sep1, sep2, settlement_time, "
		    "settlement_offset, enabled, updated_at, settlement_basis) "
		    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
		    "(name) DO "
		    "UPDATE SET host = excluded.host, port = excluded.port, "
		    "username = excluded.username, password = "
		    "excluded.password, sep1 = excluded.sep1, sep2 = "
		    "excluded.sep2, settlement_time = "
		    "excluded.settlement_time, settlement_offset = "
		    "excluded.settlement_offset, enabled = excluded.enabled, "
		    "updated_at = excluded.updated_at, settlement_basis = "
		    "excluded.settlement_basis", v, 12, NULL, NULL, err,
		    errlen) != 0)
			return -1;
	}
	return 0;
}

/* ---- whose journal ---- */

enum store_claim
store_judge(const struct journal *j, const struct journal_owner *o,
    bool has_owner, const char *dbid, const char *instance,
    uint64_t progress)
{
	uint64_t last = journal_last_seq(j);

	if (has_owner) {
		if (strcmp(o->database, dbid) == 0 &&
		    strcmp(o->instance, instance) == 0)
			return STORE_CLAIM_OURS;
		if (o->has_drained && o->drained >= last)
			return STORE_CLAIM_DRAINED;
		return STORE_CLAIM_FOREIGN;
	}
	if (last == 0)
		return STORE_CLAIM_NEW;
	if (progress > 0)
		return STORE_CLAIM_LEGACY;
	return STORE_CLAIM_UNKNOWN;
}

const char *
store_claim_name(enum store_claim c)
{
	switch (c) {
	case STORE_CLAIM_OURS:
		return "ours";
	case STORE_CLAIM_NEW:
		return "new";
	case STORE_CLAIM_LEGACY:
		return "legacy";
	case STORE_CLAIM_DRAINED:
		return "drained";
	case STORE_CLAIM_FOREIGN:
		return "foreign";
	case STORE_CLAIM_UNKNOWN:
		return "unknown";
	}
	return "?";
}

/* What the operator can do about a journal that is not this database's,
 * after the message in err. */
static void
add_advice(const struct store *s, char *err, size_t errlen)
{
	size_t n = strlen(err);

	snprintf(err + n, errlen - n, " Point [database] url back at the "
	    "database the journal belongs to; or, if this database is a "
	    "restore of it or is to receive its events, run `loka-stratum "
	    "journal adopt --instance %s` with the same configuration; or run "
	    "`loka-stratum journal set-aside` to keep the journal aside "
	    "(renamed) and start a new one. `loka-stratum journal status` "
	    "shows both sides.", s->instance);
}

/* Record this database as the journal's owner (running: not drained). */
static int
claim_journal(struct store *s, char *err, size_t errlen)
{
	struct journal_owner o;

	memset(&o, 0, sizeof(o));
	snprintf(o.database, sizeof(o.database), "%s", s->dbid);
	snprintf(o.instance, sizeof(o.instance), "%s", s->instance);
	return journal_owner_write(s->journal, &o, err, errlen);
}

/*
 * The first connection: may this database receive the journal's events?
 * 0 (the owner file says so now), or -1 with the refusal in err, and
 * *refused set when it is the journal's ownership (not an I/O error).
 */
static int
settle_owner(struct store *s, uint64_t progress, bool *refused, char *err,
    size_t errlen)
{
	struct journal_owner o;
	char oerr[256];
	const char *dir = journal_dir(s->journal);
	uint64_t last = journal_last_seq(s->journal);
	int rc = journal_owner_read(dir, &o, oerr, sizeof(oerr));
	enum store_claim c;

	*refused = false;
	if (rc < 0) {
		snprintf(err, errlen, "%s", oerr);
		*refused = true;
		return -1;
	}
	c = store_judge(s->journal, &o, rc == 0, s->dbid, s->instance,
	    progress);
	switch (c) {
	case STORE_CLAIM_OURS:
		if (!o.has_drained)
			return 0; /* as it should be: nothing to write */
		break;
	case STORE_CLAIM_NEW:
		break;
	case STORE_CLAIM_LEGACY:
		log_info("store", "the journal %s names no database (an older "
		    "Loka wrote it); this database has instance %s's events "
		    "up to %" PRIu64 ", so it is the journal's", dir,
		    s->instance, progress);
		break;
	case STORE_CLAIM_DRAINED:
		/* Every event of it is in its old database: none goes to
		 * this one, numbering goes on after them. */
		log_warnx("store", "the journal %s belonged to database %s "
		    "(instance %s), which holds all of its %" PRIu64 " events; "
		    "it now belongs to this database (%s) and none of them is "
		    "written here", dir, o.database, o.instance, last,
		    s->dbid);
		if (progress < last && write_progress(s, last, err,
		    errlen) != 0)
			return -1;
		break;
	case STORE_CLAIM_FOREIGN:
		snprintf(err, errlen, "the journal %s belongs to database %s "
		    "(instance %s) and holds events up to %" PRIu64 " that "
		    "are not known to be in it; this is database %s (instance "
		    "%s), so none of them is written here.", dir, o.database,
		    o.instance, last, s->dbid, s->instance);
		add_advice(s, err, errlen);
		*refused = true;
		return -1;
	case STORE_CLAIM_UNKNOWN:
		snprintf(err, errlen, "the journal %s holds events up to %"
		    PRIu64 " but names no database, and this database (%s) "
		    "has none of instance %s's: they may belong to another "
		    "database, so none of them is written here.", dir, last,
		    s->dbid, s->instance);
		add_advice(s, err, errlen);
		*refused = true;
		return -1;
	}
	return claim_journal(s, err, errlen);
}

/*
 * Open the database, migrate it (first connection, auto_migrate), make
 * sure it is the journal's, sync the pools and read this instance's
 * progress into s->applied. 0 with s->db open; -1 with s->db closed and
 * the reason in err (*refused: the database must not be used).
 */
static int
connect_db(struct store *s, int64_t timeout_ms, bool *refused, char *err,
    size_t errlen)
{
	const struct cfg_database *dc = &s->cfg->database;
	bool first = s->dbid[0] == '\0';
	char id[DB_IDENTITY_MAX + 1];
	int64_t progress = 0;
	int n;

	*refused = false;
	s->last_retry_ms = now_mono_ms();
	/* A SQLite file that vanished is not made anew (a new database
	 * would not be the journal's): only the first connection creates. */
	s->db = db_open_flags(dc->url, timeout_ms,
	    first ? 0 : DB_OPEN_EXISTING, err, errlen);
	if (s->db == NULL)
		return -1;
	if (first && dc->auto_migrate) {
		n = db_migrate(s->db, err, errlen);
		if (n < 0)
			goto fail;
		if (n > 0)
			log_info("store", "applied %d schema migration%s", n,
			    n == 1 ? "" : "s");
	}
	n = db_identity(s->db, id, sizeof(id), err, errlen);
	if (n < 0)
		goto fail;
	if (n == 1) {
		snprintf(err, errlen, "the database has no Loka schema%s",
		    first ? " (run `loka-stratum database migrate`, or set "
		    "[database] auto_migrate = true)" : ": it was emptied or "
		    "recreated under this Loka; events stay in the journal");
		*refused = !first;
		goto fail;
	}
	if (!first && strcmp(id, s->dbid) != 0) {
		snprintf(err, errlen, "the database is not the one this Loka "
		    "writes to (its identity is %s, the journal's database is "
		    "%s): it was replaced or recreated; events stay in the "
		    "journal. Restore the database, or restart Loka to decide "
		    "(it will say what to do)", id, s->dbid);
		*refused = true;
		goto fail;
	}
	if (db_query_int(s->db, "SELECT last_seq FROM store_progress WHERE "
	    "instance = ?", (const char *[]){ s->instance }, 1, &progress,
	    err, errlen) < 0)
		goto fail;
	if (first) {
		snprintf(s->dbid, sizeof(s->dbid), "%s", id);
		if (settle_owner(s, (uint64_t)progress, refused, err,
		    errlen) != 0) {
			s->dbid[0] = '\0';
			goto fail;
		}
		/* A drained journal moved here: progress was set to it. */
		if (db_query_int(s->db, "SELECT last_seq FROM store_progress "
		    "WHERE instance = ?", (const char *[]){ s->instance }, 1,
		    &progress, err, errlen) < 0)
			goto fail;
	}
	if (s->clash && (uint64_t)progress > s->applied) {
		clash_message(s, (uint64_t)progress, err, errlen);
		*refused = true;
		goto fail;
	}
	s->clash = false;
	if (sync_pools(s, err, errlen) != 0)
		goto fail;
	s->applied = (uint64_t)progress;
	s->last_check_ms = s->last_identity_ms = now_mono_ms();
	return 0;
fail:
	db_close(s->db);
	s->db = NULL;
	return -1;
}

/* Replay what the database misses; LIVE only when it holds everything. */
static void
catch_up(struct store *s)
{
	char err[512];
	uint64_t first = 0, before = s->applied;
	int rc;

	if (s->applied > s->seq) {
		if (journal_last_seq(s->journal) == 0)
			log_info("store", "a new journal: numbering goes on "
			    "after the database's event %" PRIu64 " for "
			    "instance %s", s->applied, s->instance);
		else
			log_errorx("store", "the database has applied events "
			    "up to %" PRIu64 " for instance %s but the journal "
			    "only reaches %" PRIu64 ": was the journal (%s) "
			    "lost, or left behind by a power cut, or is another "
			    "instance using the same name? "
			    "New events continue after %" PRIu64, s->applied,
			    s->instance, s->seq, journal_dir(s->journal),
			    s->applied);
		s->seq = s->applied;
	}
	batch_clear(&s->batch);
	if (s->seq > s->applied) {
		log_info("store", "replaying journal events %" PRIu64 " to "
		    "%" PRIu64, before + 1, s->seq);
		progress_begin(&s->replay_progress, "replaying the journal",
		    "events", s->seq - before, false);
		rc = journal_replay(s->journal, s->applied, replay_one, s,
		    &first, err, sizeof(err));
		progress_end(&s->replay_progress);
		if (rc != 0 || commit_batch(s, true) != 0) {
			if (s->db != NULL)
				go_down(s, err);
			return;
		}
		if (first > before + 1)
			log_errorx("store", "the journal no longer holds events "
			    "%" PRIu64 " to %" PRIu64 " that the database never "
			    "received (a database restored from an older "
			    "backup?): the books miss them", before + 1,
			    first - 1);
		if (s->applied != s->seq) {
			snprintf(err, sizeof(err), "journal replay ended at "
			    "event %" PRIu64 " of %" PRIu64, s->applied, s->seq);
			go_down(s, err);
			return;
		}
		log_info("store", "journal replayed: %" PRIu64 " events now "
		    "in the database", s->applied - before);
	}
	s->live = true;
	atomic_store(&s->stats.db_up, true);
	atomic_store(&s->stats.db_refused, false);
	s->refused = false;
	set_reason(s, "");
	if (s->outage_logged)
		log_info("store", "database is back: it holds every journaled "
		    "event (up to %" PRIu64 ")", s->applied);
	s->outage_logged = false;
	s->last_commit_ms = now_mono_ms();
}

/* DOWN -> LIVE, if the database is there and is the journal's. */
static void
try_connect(struct store *s)
{
	char err[2048];
	bool refused;

	if (s->db == NULL && connect_db(s, s->cfg->database.connection_timeout_ms,
	    &refused, err, sizeof(err)) != 0) {
		if (refused)
			refuse_db(s, err);
		else
			go_down(s, err);
		return;
	}
	catch_up(s);
}

/* While LIVE: is it still the same database? */
static void
check_db(struct store *s, int64_t t)
{
	char err[512], id[DB_IDENTITY_MAX + 1];
	int rc;

	if (t - s->last_check_ms < STORE_CHECK_MS)
		return;
	s->last_check_ms = t;
	if (db_check(s->db, err, sizeof(err)) != 0) {
		go_down(s, err);
		return;
	}
	if (t - s->last_identity_ms < STORE_IDENTITY_MS)
		return;
	s->last_identity_ms = t;
	rc = db_identity(s->db, id, sizeof(id), err, sizeof(err));
	if (rc < 0) {
		go_down(s, err);
		return;
	}
	if (rc == 1 || strcmp(id, s->dbid) != 0) {
		snprintf(err, sizeof(err), "the database %s under this Loka "
		    "(%s%s): events stay in the journal. Restore it, or restart "
		    "Loka to decide (it will say what to do)", rc == 1 ?
		    "lost its Loka schema" : "was replaced", rc == 1 ?
		    "emptied or recreated" : "its identity is now ",
		    rc == 1 ? "" : id);
		refuse_db(s, err);
		return;
	}
	(void)check_progress(s, err, sizeof(err));
}

/* ---- the thread ---- */

/*
 * The journal's state after an append (slot: append_errno) or a sync
 * (sync_errno); err 0: it worked. A failure is an error line (again when
 * the cause changes, and every 10 s while it lasts), the recovery an
 * info line; journal_ok is false while either fails.
 */
static void
journal_state(struct store *s, int *slot, int err)
{
	bool was_ok = s->append_errno == 0 && s->sync_errno == 0, ok;
	int64_t t = now_mono_ms();

	if (err != 0) {
		atomic_fetch_add_explicit(&s->stats.journal_errors, 1,
		    memory_order_relaxed);
		s->journal_retry_ms = t + STORE_JOURNAL_RETRY_MS;
		if (*slot != err || t - s->journal_log_ms >= 10000) {
			if (slot == &s->append_errno)
				log_write(LOG_ERROR, "store", 0, err, "the "
				    "journal %s takes no more events (%" PRIu64
				    " bytes of [database] spool_max_bytes %"
				    PRId64 "); they wait in memory, up to "
				    "[database] queue_size, and are lost past "
				    "that", journal_dir(s->journal),
				    journal_bytes(s->journal),
				    s->cfg->database.spool_max_bytes);
			else
				log_write(LOG_ERROR, "store", 0, err, "the "
				    "journal %s cannot be written: %zu bytes of "
				    "events wait in memory",
				    journal_dir(s->journal),
				    journal_unwritten(s->journal));
			s->journal_log_ms = t;
		}
	}
	*slot = err;
	ok = s->append_errno == 0 && s->sync_errno == 0;
	if (ok && !was_ok)
		log_info("store", "the journal %s takes events again",
		    journal_dir(s->journal));
	atomic_store(&s->stats.journal_ok, ok);
}

/* Move events from the rings to the journal (and the batch when live). */
static size_t
drain(struct store *s)
{
	size_t n = 0;
	uint64_t depth = 0;
	bool blocked = now_mono_ms() < s->journal_retry_ms;

	for (size_t i = 0; i < s->nrings; i++) {
		struct store_ring *r = &s->rings[i];
		uint64_t tail = atomic_load_explicit(&r->tail,
		    memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&r->head,
		    memory_order_acquire);

		while (!blocked && tail < head) {
			uint8_t hdr[4], ev[EV_MAX];
			size_t len;
			struct event e;

			ring_copy_out(r, tail, hdr, 4);
			len = (size_t)get_le(hdr, 4);
			if (len > EV_MAX)
				abort(); /* our own producer wrote it */
			ring_copy_out(r, tail + 4, ev, len);
			put_le(ev, s->seq + 1, 8);
			if (journal_append(s->journal, s->seq + 1, ev,
			    len) != 0) {
				/* The event stays in the ring. */
				journal_state(s, &s->append_errno, errno);
				blocked = true;
				break;
			}
			s->seq++;
			tail += (4 + len + 7) & ~(uint64_t)7;
			if (s->append_errno != 0)
				journal_state(s, &s->append_errno, 0);
			atomic_fetch_add_explicit(&s->stats.journaled, 1,
			    memory_order_relaxed);
			if (s->live && ev_decode(ev, len, &e) == 0)
				batch_add(s, &e);
			n++;
		}
		atomic_store_explicit(&r->tail, tail, memory_order_release);
		depth += (atomic_load(&r->head) - tail) / 64;
	}
	atomic_store(&s->stats.queue_depth, depth);
	return n;
}

/* Refused events: an error line at most once a second while it lasts. */
static void
report_drops(struct store *s)
{
	uint64_t d = atomic_load(&s->stats.dropped);
	int64_t t = now_mono_ms();

	if (d > s->dropped_logged && t - s->dropped_log_ms >= 1000) {
		s->dropped_log_ms = t;
		log_errorx("store", "%" PRIu64 " share events could not be "
		    "kept (the queue is full: [database] queue_size%s); the "
		    "books miss them", d - s->dropped_logged,
		    atomic_load(&s->stats.journal_ok) ? "" : ", and the "
		    "journal takes nothing");
		s->dropped_logged = d;
	}
}

/* Write the journal out; a failure keeps the records in memory. */
static void
sync_journal(struct store *s)
{
	if (journal_sync(s->journal) != 0)
		journal_state(s, &s->sync_errno, errno);
	else if (s->sync_errno != 0)
		journal_state(s, &s->sync_errno, 0);
	atomic_store(&s->stats.journal_bytes, journal_bytes(s->journal));
}

/*
 * Journal first, before a commit too: the batch's records go to the
 * journal's file (write(2); the fdatasync stays every fsync_interval), so
 * a crash of the process right after the commit never leaves the database
 * ahead of the journal (the next start would find events it never wrote
 * and number on after them). A failing journal is retried by
 * sync_journal() on its own schedule.
 */
static void
flush_journal(struct store *s)
{
	if (s->sync_errno == 0 && journal_flush(s->journal) != 0)
		journal_state(s, &s->sync_errno, errno);
}

/* A clean stop with every event in the database: the owner file says so,
 * and the journal may follow the books to another database. */
static void
note_drained(struct store *s)
{
	struct journal_owner o;
	char err[256];

	if (!s->live || s->dbid[0] == '\0' || s->applied != s->seq ||
	    journal_unwritten(s->journal) > 0)
		return;
	memset(&o, 0, sizeof(o));
	snprintf(o.database, sizeof(o.database), "%s", s->dbid);
	snprintf(o.instance, sizeof(o.instance), "%s", s->instance);
	o.drained = s->applied;
	o.has_drained = true;
	if (journal_owner_write(s->journal, &o, err, sizeof(err)) != 0)
		log_warnx("store", "%s", err);
}

/* Events in the rings (the store thread only). */
static uint64_t
rings_hold(struct store *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->nrings; i++) {
		struct store_ring *r = &s->rings[i];
		uint64_t tail = atomic_load(&r->tail);

		while (tail < atomic_load(&r->head)) {
			uint8_t hdr[4];

			ring_copy_out(r, tail, hdr, 4);
			tail += (4 + get_le(hdr, 4) + 7) & ~(uint64_t)7;
			n++;
		}
	}
	return n;
}

static void *
store_main(void *arg)
{
	struct store *s = arg;
	const struct cfg_database *dc = &s->cfg->database;

	try_connect(s);
	for (;;) {
		bool stopping = atomic_load(&s->stop);
		size_t n = drain(s);
		int64_t t = now_mono_ms();

		/* Every event taken goes to the journal's file at once
		 * (write(2): a killed process loses none of them), and the
		 * workers holding verdicts for them are told. */
		if (n > 0)
			flush_journal(s);
		mark_journaled(s);

		if (t - s->last_sync_ms >= dc->fsync_interval_ms || stopping) {
			sync_journal(s);
			s->last_sync_ms = t;
		}
		if (s->live)
			check_db(s, t);
		if (s->live && t - s->last_watch_ms >=
		    s->cfg->monitoring.worker_check_interval_ms) {
			char err[512];

			s->last_watch_ms = t;
			if (watch_update(s->watch, s->db, (int64_t)time(NULL),
			    err, sizeof(err)) != 0)
				log_warnx("workers", "worker states not updated: "
				    "%s", err);
		}
		if (!s->live && s->db == NULL &&
		    t - s->last_retry_ms >= STORE_RETRY_MS)
			try_connect(s);
		if (s->live && (s->batch.events >= (uint64_t)dc->batch_size ||
		    t - s->last_commit_ms >= dc->batch_interval_ms ||
		    stopping)) {
			flush_journal(s);
			commit_batch(s, false);
		}
		report_drops(s);
		/* Stopping: done once the rings are empty, or the journal
		 * takes nothing more (what is left is lost, and said so). */
		if (stopping && (n == 0 || s->append_errno != 0))
			break;
		if (n == 0)
			idle_wait(s, STORE_IDLE_MS);
	}
	s->journal_retry_ms = 0;
	drain(s);
	sync_journal(s);
	if (s->live && s->batch.events > 0)
		commit_batch(s, false);
	note_drained(s);
	s->dropped_log_ms = 0;
	report_drops(s);
	if (rings_hold(s) > 0)
		log_errorx("store", "%" PRIu64 " share events still queued at "
		    "stop could not be journaled (%s): the books miss them",
		    rings_hold(s), strerror(s->append_errno));
	if (s->seq > s->applied)
		log_info("store", "%" PRIu64 " share events stay in the journal "
		    "for the next start", s->seq - s->applied);
	return NULL;
}

/* ---- life ---- */

/* Loka used to keep the journal in ./loka.spool: one left there may hold
 * events its database never received. Say so once. */
static void
warn_old_default(const struct cfg *c)
{
	struct journal *old;
	char err[256], *here, *ours;

	if (!c->database.spool_path_derived || access("loka.spool", F_OK) != 0)
		return;
	here = realpath("loka.spool", NULL);
	ours = realpath(c->database.spool_path, NULL);
	old = here != NULL && (ours == NULL || strcmp(here, ours) != 0) ?
	    journal_open("loka.spool", UINT64_MAX, JOURNAL_READONLY, err,
	    sizeof(err)) : NULL;
	if (old != NULL && journal_last_seq(old) > 0)
		log_warnx("store", "%s holds a journal (events up to %" PRIu64
		    ") in the place earlier versions used; this Loka keeps its "
		    "journal in %s. If those events never reached the "
		    "database, set [database] spool_path = \"%s\" for one "
		    "start", here, journal_last_seq(old),
		    c->database.spool_path, here);
	journal_close(old);
	free(here);
	free(ours);
}

struct store *
store_new(const struct cfg *c, size_t nproducers, const char *instance,
    char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	size_t per = (size_t)c->database.queue_size / (nproducers ? nproducers :
	    1);
	size_t cap = 4096;

	/* ~64 bytes per event in a ring; a power of two for the mask. */
	while (cap < per * 64 && cap < ((size_t)1 << 34))
		cap <<= 1;
	s->cfg = c;
	warn_old_default(c);
	s->instance = xstrdup(instance);
	s->journal = journal_open(c->database.spool_path,
	    (uint64_t)c->database.spool_max_bytes, 0, err, errlen);
	if (s->journal == NULL) {
		free(s->instance);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->reason_lock, NULL);
	{
		struct watch_cfg wc = {
			c->monitoring.worker_offline_after_ms / 1000,
			c->monitoring.worker_slow_window_ms / 1000,
			c->monitoring.worker_slow_fraction,
		};

		s->watch = watch_new(&wc);
	}
	snprintf(s->reason, sizeof(s->reason), "not connected yet");
	s->seq = journal_last_seq(s->journal);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0)
		log_warnx("store", "no eventfd (%s): the store thread polls "
		    "every %d ms", strerror(errno), STORE_IDLE_MS);
	s->nrings = nproducers;
	s->rings = xcalloc(nproducers ? nproducers : 1, sizeof(*s->rings));
	for (size_t i = 0; i < nproducers; i++) {
		/* Touched now: the memory a ring takes is resident from the
		 * start (a growing RSS then means a leak), and its first lap
		 * takes no page faults on the share path. */
		s->rings[i].buf = xmalloc(cap);
		memset(s->rings[i].buf, 0, cap);
		s->rings[i].mask = cap - 1;
		s->rings[i].stats = &s->stats;
		s->rings[i].wake_fd = s->wake_fd;
		pthread_mutex_init(&s->rings[i].notify_lock, NULL);
	}
	s->nwids = 4096;
	s->wids = xcalloc(s->nwids, sizeof(*s->wids));
	batch_init(&s->batch);
	atomic_store(&s->stats.journal_bytes, journal_bytes(s->journal));
	atomic_store(&s->stats.journal_ok, true);
	return s;
}

void
store_observe_batches(struct store *s, struct metrics_series *hist)
{
	s->batch_seconds = hist;
}

int
store_start(struct store *s, char *err, size_t errlen)
{
	char why[2048];
	bool refused;
	int rc;
	int64_t first_timeout = s->cfg->database.connection_timeout_ms;

	if (strncmp(s->cfg->database.url, "sqlite:", 7) != 0 &&
	    first_timeout > STORE_FIRST_CONNECT_MS)
		first_timeout = STORE_FIRST_CONNECT_MS;

	/* The first connection here, so that a journal that is not this
	 * database's stops the start; the thread replays. A PostgreSQL that
	 * does not answer at once does not hold the miners up: the thread
	 * keeps trying (and judges the journal then, refusing at run time).
	 * SQLite's timeout is its lock wait, kept for the connection's life:
	 * the configured one. */
	if (connect_db(s, first_timeout, &refused, why, sizeof(why)) != 0) {
		if (refused) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		go_down(s, why);
	}
	rc = pthread_create(&s->thread, NULL, store_main, s);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the store thread: %s",
		    strerror(rc));
		return -1;
	}
	s->started = true;
	return 0;
}

void
store_stop(struct store *s)
{
	if (s == NULL || !s->started)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	s->started = false;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_stop(s);
	db_close(s->db);
	journal_close(s->journal);
	for (size_t i = 0; i < s->nrings; i++) {
		free(s->rings[i].buf);
		pthread_mutex_destroy(&s->rings[i].notify_lock);
	}
	free(s->rings);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	batch_clear(&s->batch);
	free(s->batch.buckets);
	wids_clear(s);
	free(s->wids);
	free(s->instance);
	pthread_mutex_destroy(&s->reason_lock);
	watch_free(s->watch);
	free(s);
}

struct store_ring *
store_ring(struct store *s, size_t i)
{
	return i < s->nrings ? &s->rings[i] : NULL;
}

const struct store_stats *
store_stats(const struct store *s)
{
	return &s->stats;
}

void
store_db_reason(struct store *s, char *out, size_t outlen)
{
	pthread_mutex_lock(&s->reason_lock);
	snprintf(out, outlen, "%s", s->reason);
	pthread_mutex_unlock(&s->reason_lock);
}

struct watch *
store_watch(struct store *s)
{
	return s->watch;
}

const char *
store_journal_dir(const struct store *s)
{
	return journal_dir(s->journal);
}
