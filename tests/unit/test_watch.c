/*
 * test_watch.c: worker states from the books: a steady worker is online,
 * one whose last window fell below half its day is slow, one without an
 * accepted share for the configured time is offline (since its last
 * share), a young worker is not judged slow, a worker gone for a week is
 * not listed; states keep their start time while they last, and change
 * when the books do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/watch.h"
#include "util/log.h"

#define T INT64_C(1800000000) /* a multiple of 3600 */
#define NOW (T + 1800)

static char dir[64];
static struct db *db;

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sql(const char *fmt, ...)
{
	char q[512], err[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (db_exec(db, q, NULL, 0, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("%s: %s", q, err);
}

/* Worker id (1-based) with `per_min` difficulty a minute over the day,
 * `recent` a minute over the last 15 minutes. */
static void
worker(int id, const char *name, int64_t last_seen, int64_t last_acc,
    int hours, double per_min, double recent)
{
	/* A day of history, or a worker that appeared ten minutes ago. */
	sql("INSERT INTO workers (id, pool_id, miner_id, name, first_seen, "
	    "last_seen, last_accepted) VALUES (%d, 1, 1, '%s', %" PRId64 ", %"
	    PRId64 ", %" PRId64 ")", id, name, hours >= 24 ? (int64_t)1 :
	    (int64_t)NOW - 600, last_seen, last_acc);
	for (int h = 0; h < hours; h++) {
		int64_t hour = T - (int64_t)h * 3600;
		double d = per_min * 60;

		if (h == 0) /* the current hour: 15 min day, 15 min recent */
			d = per_min * 15 + recent * 15;
		sql("INSERT INTO worker_hours (worker_id, hour, accepted, "
		    "accepted_difficulty, rejected, rejected_difficulty) VALUES "
		    "(%d, %" PRId64 ", 1, %.17g, 0, 0)", id, hour, d);
	}
	for (int m = 1; m <= 15 && recent > 0; m++)
		sql("INSERT INTO submissions (worker_id, minute, accepted, "
		    "accepted_difficulty) VALUES (%d, %" PRId64 ", 1, %.17g)", id,
		    NOW - NOW % 60 - (int64_t)m * 60, recent);
}

static const struct watch_worker *
get(const struct watch_worker *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].worker, name) == 0)
			return &l[i];
	return NULL;
}

static void
test_states(void **state)
{
	struct watch_cfg c = { 600, 900, 0.5 };
	struct watch *w = watch_new(&c);
	struct watch_worker *l;
	const struct watch_worker *x;
	uint64_t counts[WORKER_STATE_MAX];
	char err[512];
	size_t n;

	(void)state;
	assert_false(watch_counts(w, counts));
	worker(1, "steady", NOW - 30, NOW - 30, 24, 1.0, 1.0);
	worker(2, "throttled", NOW - 30, NOW - 30, 24, 1.0, 0.2);
	worker(3, "stopped", NOW - 700, NOW - 700, 24, 1.0, 0);
	worker(4, "young", NOW - 10, NOW - 10, 1, 0, 0.1);
	worker(5, "retired", NOW - 8 * 86400, NOW - 8 * 86400, 0, 0, 0);
	assert_int_equal(watch_update(w, db, NOW, err, sizeof(err)), 0);
	assert_true(watch_counts(w, counts));
	assert_int_equal(counts[WORKER_ONLINE], 2);
	assert_int_equal(counts[WORKER_SLOW], 1);
	assert_int_equal(counts[WORKER_OFFLINE], 1);

	l = watch_list(w, -1, &n);
	assert_int_equal(n, 4);
	assert_null(get(l, n, "retired"));
	/* Offline first, then slow, then online. */
	assert_string_equal(l[0].worker, "stopped");
	assert_int_equal(l[0].state, WORKER_OFFLINE);
	assert_int_equal(l[0].since, NOW - 700);
	assert_string_equal(l[1].worker, "throttled");
	x = get(l, n, "steady");
	assert_int_equal(x->state, WORKER_ONLINE);
	/* 1 difficulty a minute: 2^32 / 60 H/s, over the window and the day. */
	assert_true(x->hashrate > 0.99 * 4294967296.0 / 60 &&
	    x->hashrate < 1.01 * 4294967296.0 / 60);
	assert_true(x->hashrate_24h > 0.95 * 4294967296.0 / 60);
	assert_int_equal(get(l, n, "young")->state, WORKER_ONLINE);
	free(l);
	l = watch_list(w, WORKER_SLOW, &n);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].worker, "throttled");
	free(l);

	/* Ten minutes later with nothing new: everyone is offline; "stopped"
	 * keeps its start. Then "steady" comes back. */
	assert_int_equal(watch_update(w, db, NOW + 600, err, sizeof(err)), 0);
	watch_counts(w, counts);
	assert_int_equal(counts[WORKER_OFFLINE], 4);
	l = watch_list(w, WORKER_OFFLINE, &n);
	assert_int_equal(get(l, n, "stopped")->since, NOW - 700);
	assert_int_equal(get(l, n, "steady")->since, NOW - 30);
	free(l);
	sql("UPDATE workers SET last_accepted = %" PRId64 ", last_seen = %"
	    PRId64 " WHERE id = 1", (int64_t)NOW + 590, (int64_t)NOW + 590);
	for (int m = 0; m < 10; m++)
		sql("INSERT INTO submissions (worker_id, minute, accepted, "
		    "accepted_difficulty) VALUES (1, %" PRId64 ", 1, 1)",
		    (int64_t)NOW + m * 60);
	assert_int_equal(watch_update(w, db, NOW + 600, err, sizeof(err)), 0);
	l = watch_list(w, WORKER_ONLINE, &n);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].worker, "steady");
	assert_int_equal(l[0].since, NOW + 600);
	free(l);
	assert_null(watch_list(w, WORKER_SLOW, &n));
	assert_int_equal(n, 0);
	watch_free(w);

	assert_int_equal(watch_state_parse("offline"), WORKER_OFFLINE);
	assert_int_equal(watch_state_parse("gone"), -1);
}

static int
setup(void **state)
{
	char url[128], err[512];

	(void)state;
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/loka-watch-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(url, sizeof(url), "sqlite://%s/books.db", dir);
	db = db_open(url, 5000, err, sizeof(err));
	if (db == NULL || db_migrate(db, err, sizeof(err)) < 0)
		return -1;
	sql("INSERT INTO pools (name, host, port, username, sep1, sep2, "
	    "updated_at) VALUES ('main', 'h', 1, 'u', '.', '_', 1)");
	sql("INSERT INTO miners (name, created_at) VALUES ('farm', 1)");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
