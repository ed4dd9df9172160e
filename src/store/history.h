/*
 * history.h: the books over time, for charts and the hashrate API.
 *
 * A series is a list of buckets of `step` seconds (a multiple of 60,
 * aligned to the Unix epoch, so days start at 00:00 UTC) between since
 * and until, each with the accepted and rejected shares and their
 * difficulty; hashrate = accepted difficulty * 2^32 / step. Only buckets
 * holding something are returned: a gap is no work.
 *
 * The farm or a pool is read from pool_minutes (one row per pool and
 * minute), a miner or a worker from submissions (per worker and minute)
 * or, for steps of whole hours, worker_hours: every query reads rows in
 * proportion to what it shows, through a primary key or an index.
 */
#ifndef LOKA_STORE_HISTORY_H
#define LOKA_STORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* Points a series may have at most (a chart wider than this is noise). */
#define HISTORY_POINTS_MAX 1500
#define HISTORY_STEP_MAX (7 * 86400)

struct history_filter {
	const char *pool;   /* NULL or "": any */
	const char *miner;
	const char *worker;
};

struct history_point {
	int64_t t;          /* the bucket's start, Unix seconds */
	uint64_t accepted, rejected;
	double accepted_difficulty, rejected_difficulty;
	/* Aggregate mode: what the pool accepted of it (0 otherwise). */
	uint64_t pool_accepted;
	double pool_accepted_difficulty;
};

typedef int (*history_fn)(void *arg, const struct history_point *p);

/*
 * history_series(db, f, since, until, step, fn, arg, err, errlen): call fn
 * for each bucket with shares, oldest first. since is rounded down to a
 * multiple of step; until is exclusive. 0, or -1 with a message (a bad
 * step, too many points, a database error). fn returns 0 to go on.
 */
int history_series(struct db *db, const struct history_filter *f,
    int64_t since, int64_t until, int64_t step, history_fn fn, void *arg,
    char *err, size_t errlen);

/* The step for a span when none is asked: 1 h -> 60 s, 24 h -> 5 min,
 * 7 d -> 1 h, 30 d -> 4 h; in between, the first of those steps (or a
 * whole day) that keeps the series within 400 points. */
int64_t history_default_step(int64_t span);

/* Hashes per second for a bucket's accepted difficulty. */
double history_hashrate(double accepted_difficulty, int64_t step);

#endif
