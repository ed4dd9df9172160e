/*
 * test_history.c: series from the books equal what was booked. Share
 * events of two pools, three miners and several workers spread over four
 * days go through the real store (rings, journal, store thread, rollups);
 * every series (farm, pool, miner, worker; steps of a minute to a day)
 * is compared bucket by bucket with the sums computed here. On SQLite,
 * and on PostgreSQL when LOKA_TEST_PG_URL is set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "books/accounting.h"
#include "store/db.h"
#include "store/history.h"
#include "store/store.h"
#include "util/log.h"

#define T0 1764547200      /* 2025-12-01T00:00:00Z */
#define SPAN (4 * 86400)
#define NEVENTS 6000

static const char *const pools[] = { "alpha", "beta" };
static const char *const miners[] = { "m1", "m2", "m3" };
static const char *const workers[] = { "rig0", "rig1", "rig2", "rig3" };

struct ev {
	int pool, miner, worker;
	int64_t ts;
	bool accepted;
	double diff;
};

static struct ev evs[NEVENTS];
static char dir[64];

static void
make_events(void)
{
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < NEVENTS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		evs[i].pool = (int)(x % 2);
		evs[i].miner = (int)((x >> 8) % 3);
		evs[i].worker = (int)((x >> 16) % 4);
		evs[i].ts = T0 + (int64_t)((x >> 24) % SPAN);
		evs[i].accepted = (x >> 50) % 5 != 0;
		/* Difficulties that add exactly in a double: k / 1024. */
		evs[i].diff = (double)(1 + (x >> 40) % 64) / 1024.0;
	}
}

/* Book every event through a real store on this URL. */
static void
book(const char *url)
{
	char text[1024], err[512];
	struct cfg_diag errs = { 0 };
	struct cfg *c;
	struct store *s;
	struct store_ring *r;
	static int nbooks;

	/* A journal per database: one journal never serves two. */
	nbooks++;
	snprintf(text, sizeof(text), "[database]\nurl = \"%s\"\n"
	    "spool_path = \"%s/spool-%d\"\nbatch_interval = \"50ms\"\n"
	    "[[pools]]\nname = \"alpha\"\nurl = \"stratum+tcp://127.0.0.1:1\"\n"
	    "[[pools]]\nname = \"beta\"\nurl = \"stratum+tcp://127.0.0.1:2\"\n",
	    url, dir, nbooks);
	c = cfg_load_string("test", text, strlen(text), &errs, NULL);
	assert_non_null(c);
	s = store_new(c, 1, "hist", err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(store_start(s, err, sizeof(err)), 0);
	r = store_ring(s, 0);
	for (int i = 0; i < NEVENTS; i++) {
		while (store_post_share(r, pools[evs[i].pool],
		    miners[evs[i].miner], workers[evs[i].worker],
		    evs[i].accepted, ACCT_REJ_STALE, evs[i].diff,
		    evs[i].ts * 1000) != 0)
			usleep(1000);
	}
	store_stop(s);
	assert_int_equal(atomic_load(&store_stats(s)->committed), NEVENTS);
	store_free(s);
	cfg_free(c);
}

struct got {
	struct history_point p[HISTORY_POINTS_MAX];
	size_t n;
};

static int
collect(void *arg, const struct history_point *p)
{
	struct got *g = arg;

	if (g->n < HISTORY_POINTS_MAX)
		g->p[g->n++] = *p;
	return 0;
}

/* The series this filter and step must give, computed from evs. */
static void
check_series(struct db *db, int pool, int miner, int worker, int64_t since,
    int64_t until, int64_t step)
{
	static struct history_point want[HISTORY_POINTS_MAX];
	struct history_filter f = {
		pool >= 0 ? pools[pool] : NULL,
		miner >= 0 ? miners[miner] : NULL,
		worker >= 0 ? workers[worker] : NULL,
	};
	static struct got g;
	char err[512];
	int64_t base = since - since % step;
	size_t nb = (size_t)((until - base + step - 1) / step), k = 0;

	memset(want, 0, sizeof(want[0]) * nb);
	for (int i = 0; i < NEVENTS; i++) {
		const struct ev *e = &evs[i];
		int64_t minute = e->ts - e->ts % 60;
		struct history_point *w;

		if ((pool >= 0 && e->pool != pool) ||
		    (miner >= 0 && e->miner != miner) ||
		    (worker >= 0 && e->worker != worker) || minute < base ||
		    minute >= until)
			continue;
		/* Buckets hold whole minutes (or hours, for hour steps). */
		if (step % 3600 == 0 && (miner >= 0 || worker >= 0) &&
		    (minute - minute % 3600) < base)
			continue;
		w = &want[(minute - base) / step];
		if (e->accepted) {
			w->accepted++;
			w->accepted_difficulty += e->diff;
		} else {
			w->rejected++;
			w->rejected_difficulty += e->diff;
		}
	}
	g.n = 0;
	if (history_series(db, &f, since, until, step, collect, &g, err,
	    sizeof(err)) != 0)
		fail_msg("history_series: %s", err);
	for (size_t b = 0; b < nb; b++) {
		if (want[b].accepted == 0 && want[b].rejected == 0)
			continue;
		if (k >= g.n)
			fail_msg("step %" PRId64 ": bucket %zu missing", step, b);
		assert_int_equal(g.p[k].t, base + (int64_t)b * step);
		assert_int_equal(g.p[k].accepted, want[b].accepted);
		assert_int_equal(g.p[k].rejected, want[b].rejected);
		assert_true(g.p[k].accepted_difficulty ==
		    want[b].accepted_difficulty);
		assert_true(g.p[k].rejected_difficulty ==
		    want[b].rejected_difficulty);
		k++;
	}
	assert_int_equal(k, g.n);
}

static void
run_engine(const char *url)
{
	struct db *db;
	char err[512];
	static struct got g;
	struct history_filter any = { 0 };
	static const int64_t steps[] = { 60, 300, 3600, 14400, 86400 };

	book(url);
	db = db_open(url, 5000, err, sizeof(err));
	assert_non_null(db);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		int64_t step = steps[s];
		int64_t until = step < 3600 ? T0 + 86400 : T0 + SPAN;

		check_series(db, -1, -1, -1, T0, until, step);
		check_series(db, 1, -1, -1, T0, until, step);
		check_series(db, -1, 2, -1, T0, until, step);
		check_series(db, -1, 1, 3, T0, until, step);
		check_series(db, 0, 0, 0, T0 + 3600, until, step);
	}
	/* An empty range, a range with nothing in it. */
	g.n = 0;
	assert_int_equal(history_series(db, &any, T0, T0, 60, collect, &g, err,
	    sizeof(err)), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(history_series(db, &any, T0 - 86400, T0, 300,
	    collect, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 0);
	/* Refused: odd steps, too many points, until before since. */
	assert_int_equal(history_series(db, &any, T0, T0 + 3600, 61, collect,
	    &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "multiple of 60"));
	assert_int_equal(history_series(db, &any, T0, T0 + 30 * 86400, 60,
	    collect, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "points"));
	assert_int_equal(history_series(db, &any, T0 + 1, T0, 60, collect, &g,
	    err, sizeof(err)), -1);
	db_close(db);
}

static void
test_sqlite(void **state)
{
	char url[128];

	(void)state;
	snprintf(url, sizeof(url), "sqlite://%s/history.db", dir);
	run_engine(url);
}

static void
test_postgresql(void **state)
{
	const char *base = getenv("LOKA_TEST_PG_URL");
	char err[512], sql[128];
	struct db *db;

	(void)state;
	if (base == NULL || base[0] == '\0') {
		skip();
		return;
	}
	/* A schema of this test's own, dropped at the end. */
	db = db_open(base, 5000, err, sizeof(err));
	assert_non_null(db);
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS loka_hist_%d CASCADE;"
	    " CREATE SCHEMA loka_hist_%d", (int)getpid(), (int)getpid());
	assert_int_equal(db_exec(db, sql, NULL, 0, NULL, NULL, err,
	    sizeof(err)), 0);
	{
		char url[512];

		snprintf(url, sizeof(url), "%s%soptions=-c%%20search_path%%3D"
		    "loka_hist_%d", base, strchr(base, '?') ? "&" : "?",
		    (int)getpid());
		run_engine(url);
	}
	snprintf(sql, sizeof(sql), "DROP SCHEMA loka_hist_%d CASCADE",
	    (int)getpid());
	assert_int_equal(db_exec(db, sql, NULL, 0, NULL, NULL, err,
	    sizeof(err)), 0);
	db_close(db);
}

static void
test_default_step(void **state)
{
	(void)state;
	assert_int_equal(history_default_step(3600), 60);
	assert_int_equal(history_default_step(86400), 300);
	assert_int_equal(history_default_step(7 * 86400), 3600);
	assert_int_equal(history_default_step(30 * 86400), 14400);
	assert_int_equal(history_default_step(90 * 86400), 86400);
	assert_true(history_hashrate(1, 60) == 4294967296.0 / 60);
}

static int
setup(void **state)
{
	(void)state;
	log_set_level(LOG_WARN);
	snprintf(dir, sizeof(dir), "/tmp/loka-history-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	make_events();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_step),
		cmocka_unit_test(test_sqlite),
		cmocka_unit_test(test_postgresql),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
