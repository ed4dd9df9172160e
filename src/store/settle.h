/*
 * settle.h: settlement, the pool's daily reward shared among the workers
 * that earned it.
 *
 * A pool pays the operator's account a reward per day (recorded by hand or
 * by a script: settle_earnings_add). The pool's day D is a window of 24
 * hours that starts on D at the pool's settlement_time plus
 * settlement_offset minutes (UTC). settle_run() sums each worker's
 * accepted difficulty over the submissions of that window and splits the
 * reward proportionally, in whole satoshis, by the largest remainder
 * method: the rows always add up to the reward exactly, and the same data
 * always gives the same rows. The result replaces that day's
 * distributions in one transaction, so settling again is harmless.
 *
 * The split and the window are pure functions; the rest works on any
 * struct db (db.h) through db_exec only. Nothing here runs on the proxy's
 * threads: the commands `earnings add`, `settle` and `distributions` call
 * it with their own connection.
 */
#ifndef LOKA_STORE_SETTLE_H
#define LOKA_STORE_SETTLE_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* All the bitcoin there will ever be, in satoshis: the largest reward. */
#define SETTLE_MAX_REWARD INT64_C(2100000000000000)

struct settle_worker {
	int64_t worker_id;   /* in: unique within one split */
	double difficulty;   /* in: accepted difficulty, finite, >= 0 */
	int64_t reward_sats; /* out */
};

/*
 * settle_split(w, n, reward, err, errlen): give each of the n workers its
 * whole-satoshi part of reward (0 <= reward <= SETTLE_MAX_REWARD),
 * proportional to its difficulty; w is filled in place and keeps its order.
 *
 * Every worker first gets floor(reward * d / D); the satoshis left (fewer
 * than n) go one each to the largest remainders, ties to the lower worker
 * id. The parts add up to reward exactly and do not depend on the order of
 * w. A worker with difficulty 0 gets 0.
 *
 * Exactness: the difficulties are scaled by one power of two so that
 * their total is about 2^74 and truncated to integer weights; the split of
 * those weights is then exact (128-bit integers, remainders compared
 * exactly). Each truncation moves less than 2^-23 satoshi, so a part
 * differs from the ideal split of the real numbers by less than
 * (n + 1) * 2^-23 satoshi (0.012 for 100,000 workers): only a near tie
 * in rounding can go the other way. A worker worth less than 2^-74 of the
 * total counts as 0.
 *
 * Fails (-1, message in err) on reward out of range, a negative, NaN or
 * infinite difficulty, duplicate worker ids, or reward > 0 with nothing to
 * share it by (no worker, or every difficulty 0).
 */
int settle_split(struct settle_worker *w, size_t n, int64_t reward,
    char *err, size_t errlen);

/*
 * settle_parse_day(day, out): days since 1970-01-01 of a strict
 * "YYYY-MM-DD" (a real calendar date, years 1970 to 9999). 0 or -1.
 */
int settle_parse_day(const char *day, int64_t *out);

/*
 * settle_window(day, time, offset_min, from, to, err, errlen): the pool's
 * day as unix seconds [from, to): day ("YYYY-MM-DD") at time ("HH:MM",
 * UTC) plus offset_min minutes (-1440 to 1440), for 24 hours. Fails on an
 * invalid date, time or offset.
 */
int settle_window(const char *day, const char *time, int64_t offset_min,
    int64_t *from, int64_t *to, char *err, size_t errlen);

/*
 * settle_earnings_add(db, pool, day, reward, hashrate, err, errlen):
 * record the reward (satoshis) the pool named pool paid for day, and its
 * reported hashrate (NaN: unknown). Recording a day again replaces it;
 * run settle_run() again to share the new amount. Fails on an unknown
 * pool, a bad day or reward, or a database error.
 */
int settle_earnings_add(struct db *db, const char *pool, const char *day,
    int64_t reward_sats, double hashrate, char *err, size_t errlen);

struct settle_summary {
	int64_t from, to;       /* the window, unix seconds [from, to) */
	size_t workers;         /* rows written: workers with shares */
	double total_difficulty;
	int64_t reward_sats;    /* the day's reward, distributed in full */
};

/*
 * settle_run(db, pool, day, sum, err, errlen): share the recorded reward of
 * the pool's day among its workers by their accepted difficulty in the
 * day's window, and replace that day's distributions with the result in
 * one transaction. sum (may be NULL) receives what was done. Fails
 * without changing anything on an unknown pool, a day with no earnings
 * recorded, a window without accepted shares, or a database error.
 * Workers without accepted difficulty in the window get no row.
 */
int settle_run(struct db *db, const char *pool, const char *day,
    struct settle_summary *sum, char *err, size_t errlen);

struct settle_row {
	const char *miner;
	const char *worker;
	int64_t worker_id;
	double difficulty;
	double share;        /* 0..1 of the day's difficulty */
	int64_t reward_sats;
};

/* Called once per distribution row; return non-zero to stop. */
typedef int (*settle_row_fn)(void *arg, const struct settle_row *row);

/*
 * settle_list(db, pool, day, fn, arg, err, errlen): the stored
 * distributions of the pool's day, by miner then worker name. Returns the
 * number of rows seen (0 if the day was never settled), or -1 on an
 * unknown pool, a bad day or a database error (fn is then not called
 * again).
 */
int settle_list(struct db *db, const char *pool, const char *day,
    settle_row_fn fn, void *arg, char *err, size_t errlen);

#endif
