/*
 * store.h: the books' write path. Worker threads post share verdicts and
 * worker sightings; one store thread journals them (journal.c), sums them
 * into per-worker per-minute buckets and writes them to the database in
 * batched transactions. The share path never waits for the database:
 * posting copies the event into the worker thread's own lock-free ring
 * (one producer, one consumer) and returns.
 *
 * Exactly once: every event gets a sequence number and is journaled before
 * the database sees it; each transaction also records, per instance, the
 * last sequence number it applied (store_progress). After an outage or a
 * crash the journal is replayed from there, so nothing is counted twice
 * and at most [database] fsync_interval of events can be lost (to a crash,
 * never to an outage).
 */
#ifndef LOKA_STORE_H
#define LOKA_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct store;
struct store_ring;

struct store_stats {
	_Atomic uint64_t posted;          /* events accepted into rings */
	_Atomic uint64_t dropped;         /* refused: ring or journal full */
	_Atomic uint64_t journaled;
	_Atomic uint64_t committed;       /* events applied to the database */
	_Atomic uint64_t replayed;        /* of which from the journal */
	_Atomic uint64_t batches;
	_Atomic uint64_t db_errors;
	_Atomic uint64_t journal_errors;  /* appends or syncs that failed */
	_Atomic uint64_t journal_bytes;
	_Atomic uint64_t queue_depth;     /* events waiting in rings */
	_Atomic uint64_t last_batch_us;   /* duration of the last commit */
	atomic_bool db_up;
	/* false while the journal refuses events (disk full, spool_max_bytes
	 * reached, I/O errors): they wait in the rings, which hold only
	 * [database] queue_size; past that they are lost (dropped). */
	atomic_bool journal_ok;
	/* The database is refused (it is not the one the journal belongs to,
	 * or it was replaced under a running Loka): no event goes to it until
	 * an operator acts; see store_db_reason(). */
	atomic_bool db_refused;
};

/*
 * store_new(c, nproducers, instance, err, errlen): open the journal
 * ([database] spool_path) and size one ring per producer (worker thread)
 * from [database] queue_size. Nothing touches the database yet. instance
 * names this process in store_progress.
 */
struct store *store_new(const struct cfg *c, size_t nproducers,
    const char *instance, char *err, size_t errlen);
/*
 * store_start(s, err, errlen): connect and migrate (auto_migrate), check
 * that the journal belongs to this database (see docs/internals/store.md,
 * "Whose journal"), then start the store thread, which replays the journal
 * and writes as events come. -1 with a message when the thread cannot
 * start or the journal belongs to another database (the start must stop:
 * the message says what the operator can do). A database that cannot be
 * reached is not an error: the thread keeps trying, events are journaled.
 */
int store_start(struct store *s, char *err, size_t errlen);
/*
 * store_stop(s): to call once no producer posts any more: write what is
 * queued (to the database if it is up, else it stays journaled), sync the
 * journal, join the thread.
 */
void store_stop(struct store *s);
void store_free(struct store *s);

/* Producer i's ring: only worker thread i posts to it. */
struct store_ring *store_ring(struct store *s, size_t i);

/*
 * store_post_share(r, pool, user, worker, accepted, reason, diff, ts_ms):
 * queue one share verdict (reason: enum acct_reject, ignored when
 * accepted). Never blocks; -1 when the ring is full (counted in
 * stats.dropped and logged by the store thread).
 */
int store_post_share(struct store_ring *r, const char *pool,
    const char *user, const char *worker, bool accepted, int reason,
    double diff, int64_t ts_ms);
/* store_post_pool(r, pool, user, worker, accepted, diff, ts_ms): in
 * aggregate mode, the pool's verdict on a share Loka forwarded (diff:
 * the pool's difficulty), kept beside the validated count. */
int store_post_pool(struct store_ring *r, const char *pool, const char *user,
    const char *worker, bool accepted, double diff, int64_t ts_ms);
/* store_post_seen(r, pool, user, worker, ts_ms): a worker authorized. */
int store_post_seen(struct store_ring *r, const char *pool, const char *user,
    const char *worker, int64_t ts_ms);

/*
 * Journal before verdict (docs/internals/store.md). The store thread
 * write(2)s every event it takes from a ring to the journal's file at
 * once (the fdatasync that survives a power cut stays every
 * fsync_interval), so a producer can hold a miner's verdict until the
 * event behind it is safe from a killed process:
 *   store_ring_posted(r)        the ring's position after the producer's
 *                               last post (producer thread);
 *   store_ring_journaled(r, p)  every event posted up to p is in the
 *                               journal's file (any thread);
 *   store_ring_wait(r, p)       wake the store thread, and have it call the
 *                               ring's notify function once every event
 *                               up to p is journaled (calls before that
 *                               are one, for the highest p); never blocks;
 *   store_ring_set_notify(r, fn, arg)  fn(arg) runs on the store thread;
 *                               NULL unregisters, returning only once no
 *                               call is running.
 * While the journal fails (a full disk) no notify comes: the producer's
 * own deadline decides.
 */
uint64_t store_ring_posted(const struct store_ring *r);
bool store_ring_journaled(const struct store_ring *r, uint64_t pos);
void store_ring_wait(struct store_ring *r, uint64_t pos);
void store_ring_set_notify(struct store_ring *r, void (*fn)(void *),
    void *arg);

const struct store_stats *store_stats(const struct store *s);
/* Why the database is down or refused ("" while it is up). Any thread. */
void store_db_reason(struct store *s, char *out, size_t outlen);
/* Worker states from the books (watch.h), updated by the store thread. */
struct watch;
struct watch *store_watch(struct store *s);
/* The journal's directory. */
const char *store_journal_dir(const struct store *s);

/*
 * What a store decides about a journal and a database, also used by
 * `loka-stratum journal status`: the owner file, the database's identity
 * and this instance's progress in it.
 */
enum store_claim {
	STORE_CLAIM_OURS,      /* the journal belongs to this database */
	STORE_CLAIM_NEW,       /* an empty journal: it becomes this one's */
	STORE_CLAIM_LEGACY,    /* no owner recorded, but the database has
	                        * this instance's progress: an older Loka's */
	STORE_CLAIM_DRAINED,   /* another database's, but every event of it
	                        * is there: it moves to this one */
	STORE_CLAIM_FOREIGN,   /* another database's, events not known to be
	                        * in it: refused */
	STORE_CLAIM_UNKNOWN,   /* no owner, events, and a database that never
	                        * saw this instance: refused */
};
struct journal;
struct journal_owner;
enum store_claim store_judge(const struct journal *j,
    const struct journal_owner *o, bool has_owner, const char *dbid,
    const char *instance, uint64_t progress);
const char *store_claim_name(enum store_claim c);

/* store_observe_batches(s, hist): observe each commit's duration (seconds)
 * in this histogram series. Call before store_start(). */
struct metrics_series;
void store_observe_batches(struct store *s, struct metrics_series *hist);

#endif
