/*
 * history_bench.c: how long the hashrate API's queries take on a big
 * farm's books.
 *
 *   loka-bench-history [--workers N] [--days D] [--minute-days M] [--db URL]
 *
 * Generates a database (SQLite in a temporary directory unless --db is
 * given): N workers over 2 pools and N/10 miners, D days of history in the
 * rollups (pool_minutes, worker_hours: what a farm's D days leave there)
 * and the last M days of per-minute buckets (the books keep every minute;
 * a worker's minutes are read through the primary key (worker_id,
 * minute), so their cost does not depend on how many other rows the table
 * holds). Then times each query the API and the dashboard make, several
 * times, and prints the median and the worst.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "store/history.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "loka-bench-history: %s: %s\n", what, err);
	exit(1);
}

static void
exec(struct db *db, const char *sql, const char *const *p, int n)
{
	char err[512];

	if (db_exec(db, sql, p, n, NULL, NULL, err, sizeof(err)) != 0)
		die(sql, err);
}

static int
count(void *arg, const struct history_point *pt)
{
	(void)pt;
	(*(size_t *)arg)++;
	return 0;
}

/* A positive integer argument, or exit 2. */
static int
arg_int(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < 0 || v > 10000000) {
		fprintf(stderr, "loka-bench-history: \"%s\" is not a count\n",
		    s);
		exit(2);
	}
	return (int)v;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Time one series query `runs` times: median and worst, in ms. */
static void
timed(struct db *db, const char *label, const struct history_filter *f,
    int64_t since, int64_t until, int64_t step)
{
	enum { RUNS = 7 };
	double t[RUNS];
	size_t points = 0;
	char err[512];

	for (int i = 0; i < RUNS; i++) {
		double t0 = now_s();

		points = 0;
		if (history_series(db, f, since, until, step, count, &points,
		    err, sizeof(err)) != 0)
			die(label, err);
		t[i] = (now_s() - t0) * 1000;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp);
	printf("| %-34s | %6" PRId64 " | %6zu | %9.1f | %9.1f |\n", label,
	    step, points, t[RUNS / 2], t[RUNS - 1]);
}

int
main(int argc, char **argv)
{
	int workers = 10000, days = 30, minute_days = 1;
	const char *url = NULL;
	char dburl[256], dir[] = "/tmp/loka-bench-history-XXXXXX", err[512];
	struct db *db;
	int64_t end, t0m;
	double t0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			workers = arg_int(argv[++i]);
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc)
			days = arg_int(argv[++i]);
		else if (strcmp(argv[i], "--minute-days") == 0 && i + 1 < argc)
			minute_days = arg_int(argv[++i]);
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			url = argv[++i];
		else {
			fprintf(stderr, "usage: loka-bench-history [--workers N] "
			    "[--days D] [--minute-days M] [--db URL]\n");
			return 2;
		}
	}
	if (workers < 10 || days < 1 || minute_days < 0 || minute_days > days)
		die("arguments", "workers >= 10, days >= 1, minute-days <= days");
	if (url == NULL) {
		if (mkdtemp(dir) == NULL)
			die("mkdtemp", "failed");
		snprintf(dburl, sizeof(dburl), "sqlite://%s/history.db", dir);
		url = dburl;
	}
	db = db_open(url, 10000, err, sizeof(err));
	if (db == NULL || db_reset(db, err, sizeof(err)) != 0 ||
	    db_migrate(db, err, sizeof(err)) < 0)
		die("database", err);
	end = (int64_t)time(NULL);
	end -= end % 3600;
	t0m = end - (int64_t)days * 86400;

	printf("# generating %d workers, %d days of rollups, %d of minutes "
	    "(%s)\n", workers, days, minute_days, db_kind_name(db_kind(db)));
	t0 = now_s();
	if (db_begin(db, err, sizeof(err)) != 0)
		die("begin", err);
	exec(db, "INSERT INTO pools (name, host, port, username, sep1, sep2, "
	    "updated_at) VALUES ('alpha', 'a', 1, 'u', '.', '_', 1), "
	    "('beta', 'b', 1, 'u', '.', '_', 1)", NULL, 0);
	for (int m = 0; m < workers / 10; m++) {
		char name[32];
		const char *p[1] = { name };

		snprintf(name, sizeof(name), "miner%d", m);
		exec(db, "INSERT INTO miners (name, created_at) VALUES (?, 1)",
		    p, 1);
	}
	for (int w = 0; w < workers; w++) {
		char pid[8], mid[16], name[16];
		const char *p[3] = { pid, mid, name };

		snprintf(pid, sizeof(pid), "%d", 1 + w % 2);
		snprintf(mid, sizeof(mid), "%d", 1 + w / 10);
		snprintf(name, sizeof(name), "rig%d", w % 10);
		exec(db, "INSERT INTO workers (pool_id, miner_id, name, "
		    "first_seen, last_seen) VALUES (?, ?, ?, 1, 1)", p, 3);
	}
	/* Every worker every hour; every pool every minute. */
	for (int64_t h = t0m; h < end; h += 3600) {
		char hour[24];

		snprintf(hour, sizeof(hour), "%" PRId64, h);
		for (int w = 1; w <= workers; w++) {
			char wid[16];
			const char *p[2] = { wid, hour };

			snprintf(wid, sizeof(wid), "%d", w);
			exec(db, "INSERT INTO worker_hours (worker_id, hour, "
			    "accepted, accepted_difficulty, rejected, "
			    "rejected_difficulty) VALUES (?, ?, 900, 921600, 9, "
			    "9216)", p, 2);
		}
	}
	for (int64_t m = t0m; m < end; m += 60) {
		char minute[24];
		const char *p[1] = { minute };

		snprintf(minute, sizeof(minute), "%" PRId64, m);
		exec(db, "INSERT INTO pool_minutes (pool_id, minute, accepted, "
		    "accepted_difficulty, rejected, rejected_difficulty) "
		    "SELECT id, ?, 75000, 76800000, 750, 768000 FROM pools",
		    p, 1);
	}
	for (int64_t m = end - (int64_t)minute_days * 86400; m < end;
	    m += 60) {
		char minute[24];

		snprintf(minute, sizeof(minute), "%" PRId64, m);
		for (int w = 1; w <= workers; w++) {
			char wid[16];
			const char *p[2] = { wid, minute };

			snprintf(wid, sizeof(wid), "%d", w);
			exec(db, "INSERT INTO submissions (worker_id, minute, "
			    "accepted, accepted_difficulty, rejected_stale) "
			    "VALUES (?, ?, 15, 15360, 0)", p, 2);
		}
	}
	if (db_commit(db, err, sizeof(err)) != 0)
		die("commit", err);
	printf("# generated in %.0f s\n\n", now_s() - t0);

	printf("| query | step s | points | median ms | worst ms |\n");
	printf("|---|---|---|---|---|\n");
	{
		struct history_filter farm = { 0 }, pool = { "alpha", 0, 0 };
		struct history_filter miner = { NULL, "miner42", NULL };
		struct history_filter worker = { NULL, "miner42", "rig3" };

		timed(db, "farm, 1 h", &farm, end - 3600, end, 60);
		timed(db, "farm, 24 h", &farm, end - 86400, end, 300);
		timed(db, "farm, 7 d", &farm, end - 7 * 86400, end, 3600);
		timed(db, "farm, 30 d", &farm, end - 30 * 86400, end, 14400);
		timed(db, "pool, 30 d", &pool, end - 30 * 86400, end, 14400);
		timed(db, "miner (10 workers), 24 h", &miner, end - 86400, end,
		    300);
		timed(db, "miner (10 workers), 30 d", &miner, end - 30 * 86400,
		    end, 14400);
		timed(db, "worker, 1 h", &worker, end - 3600, end, 60);
		timed(db, "worker, 24 h", &worker, end - 86400, end, 300);
		timed(db, "worker, 30 d", &worker, end - 30 * 86400, end,
		    14400);
	}
	db_close(db);
	if (url == dburl) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return 0;
}
