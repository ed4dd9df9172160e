/*
 * test_settle.c: settlement. The split: exact totals, proportions,
 * largest-remainder ties by worker id, independence from input order,
 * extreme rewards and difficulties, agreement with an exact integer
 * reference. The window: calendar checks, settlement time and offsets
 * across midnight. The database side on a temporary SQLite file (and on
 * PostgreSQL when LOKA_TEST_PG_URL is set): rows and totals written by
 * settle, settling twice, re-recording a reward, the pool's own window,
 * and the errors an operator meets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "store/settle.h"

__extension__ typedef unsigned __int128 u128;

/* ---- the split ---- */

static int64_t
split_total(const struct settle_worker *w, size_t n)
{
	int64_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += w[i].reward_sats;
	return t;
}

static void
test_split_proportional(void **state)
{
	struct settle_worker w[4] = {
		{ 1, 1, -1 }, { 2, 2, -1 }, { 3, 3, -1 }, { 4, 4, -1 },
	};
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 4, 1000, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 100);
	assert_int_equal(w[1].reward_sats, 200);
	assert_int_equal(w[2].reward_sats, 300);
	assert_int_equal(w[3].reward_sats, 400);
}

static void
test_split_remainders(void **state)
{
	/* 100001 over 3000:3000:4000 = 30000.3, 30000.3, 40000.4: the one
	 * satoshi left goes to the largest remainder (.4). */
	struct settle_worker w[3] = {
		{ 10, 3000, 0 }, { 11, 3000, 0 }, { 12, 4000, 0 },
	};
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 3, 100001, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 30000);
	assert_int_equal(w[1].reward_sats, 30000);
	assert_int_equal(w[2].reward_sats, 40001);
	/* 3 sats: .9, .9, .2 -> the two .9 get one more: 1, 1, 1. */
	assert_int_equal(settle_split(w, 3, 3, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 1);
	assert_int_equal(w[1].reward_sats, 1);
	assert_int_equal(w[2].reward_sats, 1);
}

static void
test_split_ties_by_id(void **state)
{
	/* Equal difficulties, given in an order unlike their ids. */
	struct settle_worker w[3] = {
		{ 7, 5, 0 }, { 3, 5, 0 }, { 5, 5, 0 },
	};
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 3, 100, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 33); /* id 7 */
	assert_int_equal(w[1].reward_sats, 34); /* id 3: lowest id */
	assert_int_equal(w[2].reward_sats, 33); /* id 5 */
	/* 101: two left, to ids 3 and 5. */
	assert_int_equal(settle_split(w, 3, 101, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 33);
	assert_int_equal(w[1].reward_sats, 34);
	assert_int_equal(w[2].reward_sats, 34);
}

static void
test_split_one_sat_three_workers(void **state)
{
	struct settle_worker w[3] = {
		{ 30, 1, 0 }, { 20, 1, 0 }, { 10, 1, 0 },
	};
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 3, 1, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 0);
	assert_int_equal(w[1].reward_sats, 0);
	assert_int_equal(w[2].reward_sats, 1);
	/* Unequal: the largest part wins the satoshi, not the lowest id. */
	w[0].difficulty = 2;
	assert_int_equal(settle_split(w, 3, 1, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 1);
	assert_int_equal(split_total(w, 3), 1);
}

static void
test_split_single_worker(void **state)
{
	struct settle_worker w = { 42, 0.0001, 0 };
	char err[256];

	(void)state;
	assert_int_equal(settle_split(&w, 1, 123456789, err, sizeof(err)), 0);
	assert_int_equal(w.reward_sats, 123456789);
	assert_int_equal(settle_split(&w, 1, SETTLE_MAX_REWARD, err,
	    sizeof(err)), 0);
	assert_int_equal(w.reward_sats, SETTLE_MAX_REWARD);
}

static void
test_split_zero_difficulties(void **state)
{
	struct settle_worker w[4] = {
		{ 1, 0, 9 }, { 2, 10, 9 }, { 3, 0, 9 }, { 4, 30, 9 },
	};
	struct settle_worker z[2] = { { 1, 0, 9 }, { 2, 0, 9 } };
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 4, 7, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 0);
	assert_int_equal(w[2].reward_sats, 0);
	assert_int_equal(w[1].reward_sats, 2); /* 1.75 */
	assert_int_equal(w[3].reward_sats, 5); /* 5.25 */
	/* Nobody earned anything: a reward cannot be shared... */
	assert_int_equal(settle_split(z, 2, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothing to share"));
	assert_int_equal(settle_split(NULL, 0, 5, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothing to share"));
	/* ...but a zero reward can. */
	assert_int_equal(settle_split(z, 2, 0, err, sizeof(err)), 0);
	assert_int_equal(z[0].reward_sats, 0);
	assert_int_equal(z[1].reward_sats, 0);
	assert_int_equal(settle_split(NULL, 0, 0, err, sizeof(err)), 0);
}

static void
test_split_bad_input(void **state)
{
	struct settle_worker w[2] = { { 1, 1, 0 }, { 2, 1, 0 } };
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 2, -1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(settle_split(w, 2, SETTLE_MAX_REWARD + 1, err,
	    sizeof(err)), -1);
	w[1].difficulty = -1;
	assert_int_equal(settle_split(w, 2, 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid difficulty"));
	w[1].difficulty = NAN;
	assert_int_equal(settle_split(w, 2, 10, err, sizeof(err)), -1);
	w[1].difficulty = INFINITY;
	assert_int_equal(settle_split(w, 2, 10, err, sizeof(err)), -1);
	w[1].difficulty = 1;
	w[1].worker_id = 1;
	assert_int_equal(settle_split(w, 2, 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
}

static void
test_split_extremes(void **state)
{
	/* 21 million BTC over difficulties 24 orders of magnitude apart. */
	struct settle_worker w[5] = {
		{ 1, 1e-12, 0 }, { 2, 1e12, 0 }, { 3, 3e-12, 0 },
		{ 4, 7.5e11, 0 }, { 5, 1, 0 },
	};
	long double d = 0;
	char err[256];

	(void)state;
	assert_int_equal(settle_split(w, 5, SETTLE_MAX_REWARD, err,
	    sizeof(err)), 0);
	assert_int_equal(split_total(w, 5), SETTLE_MAX_REWARD);
	assert_int_equal(w[0].reward_sats, 0);
	assert_int_equal(w[2].reward_sats, 0);
	for (size_t i = 0; i < 5; i++)
		d += w[i].difficulty;
	for (size_t i = 0; i < 5; i++) {
		long double want = (long double)SETTLE_MAX_REWARD *
		    w[i].difficulty / d;

		assert_true(fabsl(want - w[i].reward_sats) < 1);
	}
	/* Huge difficulties (sum far beyond 2^64) and one tiny. */
	w[0].difficulty = 1e300;
	w[1].difficulty = 2e300;
	w[2].difficulty = 1e-300;
	w[3].difficulty = 5e299;
	w[4].difficulty = 0;
	assert_int_equal(settle_split(w, 5, 35, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 10);
	assert_int_equal(w[1].reward_sats, 20);
	assert_int_equal(w[2].reward_sats, 0);
	assert_int_equal(w[3].reward_sats, 5);
	assert_int_equal(w[4].reward_sats, 0);
	/* Only tiny difficulties: scaling makes them as good as any. */
	w[0].difficulty = 1e-300;
	w[1].difficulty = 3e-300;
	w[2].difficulty = 0;
	w[3].difficulty = 0;
	assert_int_equal(settle_split(w, 5, 8, err, sizeof(err)), 0);
	assert_int_equal(w[0].reward_sats, 2);
	assert_int_equal(w[1].reward_sats, 6);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rng(void)
{
	/* xorshift64*: reproducible across platforms. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

/* The exact largest-remainder split of integer difficulties. */
static void
reference_split(const int64_t *id, const uint64_t *d, size_t n,
    int64_t reward, int64_t *out)
{
	u128 total = 0, *rem = calloc(n, sizeof(*rem));
	int64_t left = reward;

	assert_non_null(rem);
	for (size_t i = 0; i < n; i++)
		total += d[i];
	for (size_t i = 0; i < n; i++) {
		u128 p = (u128)reward * d[i];

		out[i] = (int64_t)(p / total);
		rem[i] = p % total;
		left -= out[i];
	}
	while (left-- > 0) {
		size_t best = n;

		for (size_t i = 0; i < n; i++) {
			if (rem[i] == (u128)-1)
				continue;
			if (best == n || rem[i] > rem[best] ||
			    (rem[i] == rem[best] && id[i] < id[best]))
				best = i;
		}
		out[best]++;
		rem[best] = (u128)-1; /* taken */
	}
	free(rem);
}

static void
test_split_matches_exact_reference(void **state)
{
	enum { N = 60 };
	struct settle_worker w[N];
	int64_t id[N], want[N];
	uint64_t d[N];
	char err[256];

	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + rng() % N;
		int64_t reward = round % 3 == 0 ? (int64_t)(rng() % 50) :
		    (int64_t)(rng() % (uint64_t)(SETTLE_MAX_REWARD + 1));
		uint64_t range = round % 2 ? 4 : (UINT64_C(1) << 40);

		for (size_t i = 0; i < n; i++) {
			id[i] = (int64_t)(i * 7 + 1);
			/* Small ranges make ties; at least one non-zero. */
			d[i] = rng() % range + (i == 0);
			w[i].worker_id = id[i];
			w[i].difficulty = (double)d[i];
		}
		reference_split(id, d, n, reward, want);
		assert_int_equal(settle_split(w, n, reward, err, sizeof(err)),
		    0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(w[i].reward_sats, want[i]);
		assert_int_equal(split_total(w, n), reward);
	}
}

static void
test_split_order_independent(void **state)
{
	enum { N = 200 };
	struct settle_worker w[N], p[N];
	char err[256];
	int64_t reward = 987654321;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		w[i].worker_id = (int64_t)(1000 - i * 3);
		/* Non-integer difficulties of very different sizes, some
		 * equal (ties). */
		w[i].difficulty = i % 10 == 0 ? 0.1 :
		    ldexp((double)(rng() % 1000000), (int)(rng() % 40) - 20);
	}
	assert_int_equal(settle_split(w, N, reward, err, sizeof(err)), 0);
	assert_int_equal(split_total(w, N), reward);
	for (int round = 0; round < 20; round++) {
		memcpy(p, w, sizeof(p));
		for (size_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
			size_t j = rng() % (i + 1);
			struct settle_worker t = p[i];

			p[i] = p[j];
			p[j] = t;
		}
		for (size_t i = 0; i < N; i++)
			p[i].reward_sats = -1;
		assert_int_equal(settle_split(p, N, reward, err, sizeof(err)),
		    0);
		for (size_t i = 0; i < N; i++)
			for (size_t j = 0; j < N; j++)
				if (p[i].worker_id == w[j].worker_id)
					assert_int_equal(p[i].reward_sats,
					    w[j].reward_sats);
	}
}

/* ---- the window ---- */

static void
test_window(void **state)
{
	const int64_t jan15 = 1768435200; /* 2026-01-15 00:00:00 UTC */
	int64_t from, to;
	char err[256];

	(void)state;
	assert_int_equal(settle_window("2026-01-15", "00:00", 0, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, jan15);
	assert_int_equal(to, jan15 + 86400);
	assert_int_equal(settle_window("2026-01-15", "08:15", 0, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, jan15 + 8 * 3600 + 15 * 60);
	/* 23:30 + 60 min crosses midnight: D+1 00:30. */
	assert_int_equal(settle_window("2026-01-15", "23:30", 60, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, jan15 + 86400 + 30 * 60);
	assert_int_equal(to, from + 86400);
	/* Negative offset: 00:00 - 90 min is D-1 22:30. */
	assert_int_equal(settle_window("2026-01-15", "00:00", -90, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, jan15 - 90 * 60);
	assert_int_equal(settle_window("2026-01-15", "12:00", 1440, &from,
	    &to, err, sizeof(err)), 0);
	assert_int_equal(from, jan15 + 86400 + 12 * 3600);
	assert_int_equal(settle_window("2026-01-15", "12:00", -1440, &from,
	    &to, err, sizeof(err)), 0);
	assert_int_equal(from, jan15 - 86400 + 12 * 3600);
	/* Year and month ends, leap days. */
	assert_int_equal(settle_window("2025-12-31", "23:59", 1, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, 1767225600); /* 2026-01-01 00:00 */
	assert_int_equal(settle_window("2024-02-29", "00:00", 0, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, 1709164800);
	assert_int_equal(settle_window("2000-02-29", "00:00", 0, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, 951782400);
	assert_int_equal(settle_window("1970-01-01", "00:00", 0, &from, &to,
	    err, sizeof(err)), 0);
	assert_int_equal(from, 0);
}

static void
test_window_matches_timegm(void **state)
{
	char day[16], err[64];
	int64_t from, to, days;
	struct tm tm;

	(void)state;
	for (int y = 1970; y <= 2400; y += 7) {
		for (int m = 1; m <= 12; m++) {
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = y - 1900;
			tm.tm_mon = m - 1;
			tm.tm_mday = 28;
			tm.tm_hour = 6;
			tm.tm_min = 45;
			snprintf(day, sizeof(day), "%04d-%02d-28", y, m);
			assert_int_equal(settle_window(day, "06:45", 0, &from,
			    &to, err, sizeof(err)), 0);
			assert_int_equal(from, (int64_t)timegm(&tm));
			assert_int_equal(settle_parse_day(day, &days), 0);
			assert_int_equal(days * 86400, from - 6 * 3600 - 45 * 60);
		}
	}
}

static void
test_window_invalid(void **state)
{
	static const char *const bad_days[] = {
		"2026-02-30", "2026-02-29", "2100-02-29", "2026-04-31",
		"2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32",
		"2026-1-15", "2026-01-5", "26-01-15", "2026/01/15",
		"2026-01-15x", " 2026-01-15", "2026-01-15 ", "", "1969-12-31",
		"+026-01-15", "2026-0a-15", "20260115",
	};
	static const char *const bad_times[] = {
		"24:00", "7:00", "07:0", "12:60", "ab:cd", "", "00:00:00",
		"-1:00", "12.30",
	};
	int64_t from = 5, to = 6, d;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_days) / sizeof(*bad_days); i++) {
		assert_int_equal(settle_window(bad_days[i], "00:00", 0, &from,
		    &to, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "invalid date"));
		assert_int_equal(settle_parse_day(bad_days[i], &d), -1);
	}
	assert_int_equal(settle_parse_day(NULL, &d), -1);
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(*bad_times); i++) {
		assert_int_equal(settle_window("2026-01-15", bad_times[i], 0,
		    &from, &to, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "invalid settlement time"));
	}
	assert_int_equal(settle_window("2026-01-15", "00:00", 1441, &from,
	    &to, err, sizeof(err)), -1);
	assert_int_equal(settle_window("2026-01-15", "00:00", -1441, &from,
	    &to, err, sizeof(err)), -1);
	assert_int_equal(from, 5); /* untouched on failure */
	assert_int_equal(to, 6);
	assert_int_equal(settle_parse_day("9999-12-31", &d), 0);
	assert_int_equal(settle_parse_day("2024-02-29", &d), 0);
}

/* ---- the database ---- */

static const int64_t D15 = 1768435200; /* 2026-01-15 00:00 UTC */

static void
sql(struct db *db, const char *q)
{
	char err[512];

	if (db_exec(db, q, NULL, 0, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("%s: %s", q, err);
}

static void
sqlf(struct db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sqlf(struct db *db, const char *fmt, ...)
{
	char q[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	sql(db, q);
}

static int64_t
query_int(struct db *db, const char *q)
{
	char err[512];
	int64_t v = -12345;

	if (db_query_int(db, q, NULL, 0, &v, err, sizeof(err)) != 0)
		fail_msg("%s: %s", q, err);
	return v;
}

static int64_t
id_of(struct db *db, const char *table, const char *name)
{
	char q[256];

	snprintf(q, sizeof(q), "SELECT id FROM %s WHERE name = '%s'", table,
	    name);
	return query_int(db, q);
}

static int64_t
worker_id(struct db *db, const char *pool, const char *miner,
    const char *name)
{
	char q[512];

	snprintf(q, sizeof(q), "SELECT w.id FROM workers w JOIN pools p ON "
	    "p.id = w.pool_id JOIN miners m ON m.id = w.miner_id WHERE "
	    "p.name = '%s' AND m.name = '%s' AND w.name = '%s'", pool, miner,
	    name);
	return query_int(db, q);
}

static void
add_pool(struct db *db, const char *name, const char *time, int offset)
{
	sqlf(db, "INSERT INTO pools (name, host, port, username, sep1, sep2, "
	    "settlement_time, settlement_offset, enabled, updated_at) VALUES "
	    "('%s', 'pool.example', 3333, 'acct', '.', '_', '%s', %d, 1, 0)",
	    name, time, offset);
}

static void
add_worker(struct db *db, const char *pool, const char *miner,
    const char *name)
{
	sqlf(db, "INSERT INTO workers (pool_id, miner_id, name, first_seen, "
	    "last_seen) VALUES (%" PRId64 ", %" PRId64 ", '%s', 0, 0)",
	    id_of(db, "pools", pool), id_of(db, "miners", miner), name);
}

static void
add_shares(struct db *db, int64_t worker, int64_t minute, double diff)
{
	sqlf(db, "INSERT INTO submissions (worker_id, minute, accepted, "
	    "accepted_difficulty) VALUES (%" PRId64 ", %" PRId64 ", 1, %.17g)",
	    worker, minute, diff);
}

struct got {
	int n;
	char miner[8][16], worker[8][16];
	double diff[8], share[8];
	int64_t sats[8], total;
};

static int
got_row(void *arg, const struct settle_row *r)
{
	struct got *g = arg;

	assert_true(g->n < 8);
	snprintf(g->miner[g->n], 16, "%s", r->miner);
	snprintf(g->worker[g->n], 16, "%s", r->worker);
	g->diff[g->n] = r->difficulty;
	g->share[g->n] = r->share;
	g->sats[g->n] = r->reward_sats;
	g->total += r->reward_sats;
	g->n++;
	return 0;
}

static void
list(struct db *db, const char *pool, const char *day, struct got *g)
{
	char err[512];
	int n;

	memset(g, 0, sizeof(*g));
	n = settle_list(db, pool, day, got_row, g, err, sizeof(err));
	if (n < 0)
		fail_msg("settle_list: %s", err);
	assert_int_equal(n, g->n);
}

/*
 * Pool "main" (day from 00:00): alice.rig1 3000, alice.rig2 3000,
 * bob.rig1 4000 in the window of 2026-01-15, plus shares outside it and a
 * worker with zero difficulty. Pool "late" (23:00 + 90 min: its
 * 2026-01-15 runs from the 16th 00:30 to the 17th 00:30).
 */
static void
fill(struct db *db)
{
	int64_t a1, a2, b1, z, l1;

	add_pool(db, "main", "00:00", 0);
	add_pool(db, "late", "23:00", 90);
	sql(db, "INSERT INTO miners (name, created_at) VALUES ('alice', 0)");
	sql(db, "INSERT INTO miners (name, created_at) VALUES ('bob', 0)");
	add_worker(db, "main", "alice", "rig1");
	add_worker(db, "main", "alice", "rig2");
	add_worker(db, "main", "bob", "rig1");
	add_worker(db, "main", "bob", "idle");
	add_worker(db, "late", "alice", "rig1");
	a1 = worker_id(db, "main", "alice", "rig1");
	a2 = worker_id(db, "main", "alice", "rig2");
	b1 = worker_id(db, "main", "bob", "rig1");
	z = worker_id(db, "main", "bob", "idle");
	l1 = worker_id(db, "late", "alice", "rig1");

	add_shares(db, a1, D15, 1000);
	add_shares(db, a1, D15 + 86340, 2000); /* the window's last minute */
	add_shares(db, a1, D15 - 60, 5000);    /* the day before */
	add_shares(db, a1, D15 + 86400, 7000); /* the day after */
	add_shares(db, a2, D15 + 3600, 3000);
	add_shares(db, b1, D15 + 7200, 1500);
	add_shares(db, b1, D15 + 7260, 2500);
	add_shares(db, z, D15 + 60, 0);

	add_shares(db, l1, D15 + 86400 + 15 * 60, 111); /* before 00:30 */
	add_shares(db, l1, D15 + 86400 + 30 * 60, 222); /* first minute */
	add_shares(db, l1, D15 + 2 * 86400 + 20 * 60, 333);
	add_shares(db, l1, D15 + 2 * 86400 + 30 * 60, 444); /* after */
}

static void
check_day15(struct db *db, int64_t a1, int64_t a2, int64_t b1)
{
	struct got g;

	list(db, "main", "2026-01-15", &g);
	assert_int_equal(g.n, 3);
	/* By miner, then worker name. */
	assert_string_equal(g.miner[0], "alice");
	assert_string_equal(g.worker[0], "rig1");
	assert_string_equal(g.miner[1], "alice");
	assert_string_equal(g.worker[1], "rig2");
	assert_string_equal(g.miner[2], "bob");
	assert_string_equal(g.worker[2], "rig1");
	assert_true(g.diff[0] == 3000 && g.diff[1] == 3000 &&
	    g.diff[2] == 4000);
	assert_true(fabs(g.share[0] - 0.3) < 1e-12);
	assert_true(fabs(g.share[2] - 0.4) < 1e-12);
	assert_int_equal(g.sats[0], a1);
	assert_int_equal(g.sats[1], a2);
	assert_int_equal(g.sats[2], b1);
	assert_int_equal(g.total, a1 + a2 + b1);
}

static void
run_db_suite(struct db *db)
{
	struct settle_summary s;
	struct got g1, g2;
	char err[512];

	fill(db);

	/* Errors before anything is recorded. */
	assert_int_equal(settle_run(db, "nope", "2026-01-15", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown pool \"nope\""));
	assert_int_equal(settle_earnings_add(db, "nope", "2026-01-15", 5, NAN,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown pool \"nope\""));
	assert_int_equal(settle_list(db, "nope", "2026-01-15", got_row, &g1,
	    err, sizeof(err)), -1);
	assert_int_equal(settle_run(db, "main", "2026-01-15", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no earnings recorded for pool \"main\" "
	    "on 2026-01-15"));
	assert_int_equal(settle_earnings_add(db, "main", "2026-02-30", 5, NAN,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid date"));
	assert_int_equal(settle_earnings_add(db, "main", "2026-01-15", -5,
	    NAN, err, sizeof(err)), -1);
	assert_int_equal(settle_run(db, "main", "2026-02-30", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid date"));

	/* Record, settle, check every row. */
	assert_int_equal(settle_earnings_add(db, "main", "2026-01-15", 100001,
	    4.5e15, err, sizeof(err)), 0);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM earnings WHERE "
	    "pool_hashrate = 4.5e15"), 1);
	list(db, "main", "2026-01-15", &g1);
	assert_int_equal(g1.n, 0); /* not settled yet */
	memset(&s, 0, sizeof(s));
	assert_int_equal(settle_run(db, "main", "2026-01-15", &s, err,
	    sizeof(err)), 0);
	assert_int_equal(s.from, D15);
	assert_int_equal(s.to, D15 + 86400);
	assert_int_equal(s.workers, 3);
	assert_true(s.total_difficulty == 10000);
	assert_int_equal(s.reward_sats, 100001);
	check_day15(db, 30000, 30000, 40001);
	assert_int_equal(query_int(db, "SELECT SUM(reward_sats) FROM "
	    "distributions"), 100001);

	/* Settling again gives the same rows, not twice as many. */
	list(db, "main", "2026-01-15", &g1);
	assert_int_equal(settle_run(db, "main", "2026-01-15", &s, err,
	    sizeof(err)), 0);
	list(db, "main", "2026-01-15", &g2);
	assert_memory_equal(&g1, &g2, sizeof(g1));
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM distributions"),
	    3);

	/* A new reward for the day replaces the old; settle shares it. */
	assert_int_equal(settle_earnings_add(db, "main", "2026-01-15", 3, NAN,
	    err, sizeof(err)), 0);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM earnings"), 1);
	assert_int_equal(query_int(db, "SELECT reward_sats FROM earnings"),
	    3);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM earnings WHERE "
	    "pool_hashrate IS NULL"), 1);
	check_day15(db, 30000, 30000, 40001); /* unchanged until settled */
	assert_int_equal(settle_run(db, "main", "2026-01-15", &s, err,
	    sizeof(err)), 0);
	check_day15(db, 1, 1, 1);
	assert_int_equal(query_int(db, "SELECT SUM(reward_sats) FROM "
	    "distributions"), 3);
	/* A zero reward is shared too: every worker gets 0. */
	assert_int_equal(settle_earnings_add(db, "main", "2026-01-15", 0, NAN,
	    err, sizeof(err)), 0);
	assert_int_equal(settle_run(db, "main", "2026-01-15", &s, err,
	    sizeof(err)), 0);
	check_day15(db, 0, 0, 0);

	/* The pool's own window: offset past midnight. */
	assert_int_equal(settle_earnings_add(db, "late", "2026-01-15", 500,
	    NAN, err, sizeof(err)), 0);
	assert_int_equal(settle_run(db, "late", "2026-01-15", &s, err,
	    sizeof(err)), 0);
	assert_int_equal(s.from, D15 + 86400 + 30 * 60);
	assert_int_equal(s.workers, 1);
	assert_true(s.total_difficulty == 222 + 333);
	list(db, "late", "2026-01-15", &g1);
	assert_int_equal(g1.n, 1);
	assert_true(g1.diff[0] == 555);
	assert_true(g1.share[0] == 1);
	assert_int_equal(g1.sats[0], 500);
	/* main's rows are its own. */
	check_day15(db, 0, 0, 0);

	/* A day with earnings but no shares: nothing changes. */
	assert_int_equal(settle_earnings_add(db, "main", "2026-03-01", 77, NAN,
	    err, sizeof(err)), 0);
	assert_int_equal(settle_run(db, "main", "2026-03-01", &s, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no accepted shares for pool \"main\""));
	assert_non_null(strstr(err, "2026-03-01 00:00 to 2026-03-02 00:00"));
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM distributions"),
	    4);

	/* settlement_basis = pool_accepted: shared by what the pool
	 * accepted (aggregate mode), not by what Loka validated. */
	add_pool(db, "agg", "00:00", 0);
	sql(db, "UPDATE pools SET settlement_basis = 'pool_accepted' WHERE "
	    "name = 'agg'");
	add_worker(db, "agg", "alice", "rig1");
	add_worker(db, "agg", "bob", "rig1");
	sqlf(db, "INSERT INTO submissions (worker_id, minute, accepted, "
	    "accepted_difficulty, pool_accepted, pool_accepted_difficulty) "
	    "VALUES (%" PRId64 ", %" PRId64 ", 10, 100, 3, 300)",
	    worker_id(db, "agg", "alice", "rig1"), D15 + 60);
	sqlf(db, "INSERT INTO submissions (worker_id, minute, accepted, "
	    "accepted_difficulty, pool_accepted, pool_accepted_difficulty) "
	    "VALUES (%" PRId64 ", %" PRId64 ", 30, 300, 1, 100)",
	    worker_id(db, "agg", "bob", "rig1"), D15 + 120);
	assert_int_equal(settle_earnings_add(db, "agg", "2026-01-15", 1000,
	    NAN, err, sizeof(err)), 0);
	assert_int_equal(settle_run(db, "agg", "2026-01-15", &s, err,
	    sizeof(err)), 0);
	list(db, "agg", "2026-01-15", &g1);
	assert_int_equal(g1.n, 2);
	assert_true(g1.diff[0] == 300 && g1.diff[1] == 100);
	assert_int_equal(g1.sats[0], 750);
	assert_int_equal(g1.sats[1], 250);
}

static struct db *
open_fresh(const char *url)
{
	char err[512];
	struct db *db = db_open(url, 5000, err, sizeof(err));

	if (db == NULL)
		fail_msg("db_open %s: %s", url, err);
	if (db_reset(db, err, sizeof(err)) != 0)
		fail_msg("db_reset: %s", err);
	if (db_migrate(db, err, sizeof(err)) < 0)
		fail_msg("db_migrate: %s", err);
	return db;
}

static void
test_db_sqlite(void **state)
{
	char dir[] = "/tmp/loka-settle-XXXXXX", url[128], path[96];
	struct db *db;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/loka.db", dir);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	db = open_fresh(url);
	run_db_suite(db);
	db_close(db);
	for (const char *const *ext = (const char *const[]){ "", "-wal",
	    "-shm", NULL }; *ext != NULL; ext++) {
		char f[128];

		snprintf(f, sizeof(f), "%s%s", path, *ext);
		unlink(f);
	}
	assert_int_equal(rmdir(dir), 0);
}

static void
test_db_postgres(void **state)
{
	const char *url = getenv("LOKA_TEST_PG_URL");
	struct db *db;

	(void)state;
	if (url == NULL || *url == '\0')
		skip();
	db = open_fresh(url);
	run_db_suite(db);
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_proportional),
		cmocka_unit_test(test_split_remainders),
		cmocka_unit_test(test_split_ties_by_id),
		cmocka_unit_test(test_split_one_sat_three_workers),
		cmocka_unit_test(test_split_single_worker),
		cmocka_unit_test(test_split_zero_difficulties),
		cmocka_unit_test(test_split_bad_input),
		cmocka_unit_test(test_split_extremes),
		cmocka_unit_test(test_split_matches_exact_reference),
		cmocka_unit_test(test_split_order_independent),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_window_matches_timegm),
		cmocka_unit_test(test_window_invalid),
		cmocka_unit_test(test_db_sqlite),
		cmocka_unit_test(test_db_postgres),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
