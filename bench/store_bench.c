/*
 * store_bench.c: how many share events per second the store absorbs into
 * a database, and what posting one costs the share path.
 *
 *   loka-bench-store [--database URL] [--seconds S] [--producers P]
 *                    [--workers W] [--rate EVENTS_PER_S]
 *
 * P threads (worker threads in the proxy) post share events for S
 * seconds at the given total rate (or as fast as they can), spread over W
 * distinct workers; the store thread
 * journals them and writes them to the database in batches. Printed: the
 * posting rate and its cost in ns per event, the rate at which events
 * reached the database, and how many were refused (queue full). Run it on
 * an otherwise idle machine; compare backends in the same run. The SQLite
 * database and the journal live in a temporary directory ($TMPDIR or
 * /tmp), removed at the end.
 */
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "store/store.h"
#include "util/log.h"

struct producer {
	struct store_ring *ring;
	int index, workers;
	double seconds;
	double rate; /* events/s for this producer; 0 = as fast as it can */
	uint64_t posted, refused;
	double ns_per_post;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
produce(void *arg)
{
	struct producer *p = arg;
	char names[64][16];
	double start = now_s(), end = start + p->seconds, spent = 0;
	struct timespec wall;

	for (int i = 0; i < 64; i++)
		snprintf(names[i], sizeof(names[i]), "rig%d", i);
	while (now_s() < end) {
		/* A burst of 1000, then the clock: keeps timing overhead out. */
		double t0 = now_s();

		clock_gettime(CLOCK_REALTIME, &wall);
		for (int i = 0; i < 1000; i++) {
			int w = (int)((p->posted + (uint64_t)i) %
			    (uint64_t)p->workers);
			char user[32];

			snprintf(user, sizeof(user), "bc1qBench%d_%d", p->index,
			    w / 64);
			if (store_post_share(p->ring, "bench", user,
			    names[w % 64], true, 0, 1.0,
			    (int64_t)wall.tv_sec * 1000) == 0)
				p->posted++;
			else
				p->refused++;
		}
		spent += now_s() - t0;
		/* Paced: wait until the schedule catches up with us. */
		while (p->rate > 0 &&
		    (double)(p->posted + p->refused) / p->rate >
		    now_s() - start)
			usleep(200);
	}
	p->ns_per_post = spent * 1e9 / (double)(p->posted + p->refused);
	return NULL;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "database", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "producers", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL;
	double seconds = 10, rate = 0;
	int producers = 2, workers = 1000, ch, n;
	const char *tmp = getenv("TMPDIR");
	char dir[256], text[1024], err[512];
	char dburl[600];
	struct cfg_diag errs = { 0 };
	struct cfg *c;
	struct store *s;
	struct producer *p;
	pthread_t *th;
	const struct store_stats *st;
	uint64_t posted = 0, refused = 0;
	double t0, t_posted, t_done, ns = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			url = optarg;
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'p':
			producers = (int)strtol(optarg, NULL, 10);
			break;
		case 'w':
			workers = (int)strtol(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr, "usage: loka-bench-store [--database URL] "
			    "[--seconds S] [--producers P] [--workers W] "
			    "[--rate R]\n");
			return 2;
		}
	}
	/* $TMPDIR when set: bench/compare.sh keeps everything in its own. */
	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	n = snprintf(dir, sizeof(dir), "%s/loka-bench-XXXXXX", tmp);
	if (producers < 1 || workers < 1 || seconds <= 0 || n < 0 ||
	    (size_t)n >= sizeof(dir) || mkdtemp(dir) == NULL)
		return 2;
	if (url == NULL) {
		snprintf(dburl, sizeof(dburl), "sqlite://%s/bench.db", dir);
		url = dburl;
	}
	snprintf(text, sizeof(text), "[database]\nurl = \"%s\"\nspool_path = \"%s/spool\"\n"
	    "[[pools]]\nname = \"bench\"\nurl = \"stratum+tcp://127.0.0.1:1\"\n",
	    url, dir);
	log_set_level(LOG_WARN);
	c = cfg_load_string("bench", text, strlen(text), &errs, NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", errs.n ? errs.lines[0] : "bad config");
		return 2;
	}
	s = store_new(c, (size_t)producers, "bench", err, sizeof(err));
	if (s == NULL || store_start(s, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	st = store_stats(s);
	while (!atomic_load(&st->db_up))
		usleep(10000);
	p = calloc((size_t)producers, sizeof(*p));
	th = calloc((size_t)producers, sizeof(*th));
	t0 = now_s();
	for (int i = 0; i < producers; i++) {
		p[i].ring = store_ring(s, (size_t)i);
		p[i].index = i;
		p[i].workers = workers;
		p[i].seconds = seconds;
		p[i].rate = rate / producers;
		pthread_create(&th[i], NULL, produce, &p[i]);
	}
	for (int i = 0; i < producers; i++) {
		pthread_join(th[i], NULL);
		posted += p[i].posted;
		refused += p[i].refused;
		ns += p[i].ns_per_post / producers;
	}
	t_posted = now_s();
	while (atomic_load(&st->committed) < atomic_load(&st->journaled) ||
	    atomic_load(&st->journaled) < posted)
		usleep(10000);
	t_done = now_s();
	printf("backend            %s\n", strncmp(url, "sqlite", 6) == 0 ?
	    "sqlite" : "postgresql");
	printf("producers          %d (workers %d)\n", producers, workers);
	printf("events posted      %" PRIu64 " in %.1f s = %.0f events/s\n",
	    posted, t_posted - t0, posted / (t_posted - t0));
	printf("post cost          %.0f ns per event (share path)\n", ns);
	printf("events refused     %" PRIu64 " (queue full)\n", refused);
	printf("into the database  %" PRIu64 " in %.1f s = %.0f events/s "
	    "(%" PRIu64 " batches)\n", (uint64_t)atomic_load(&st->committed),
	    t_done - t0, atomic_load(&st->committed) / (t_done - t0),
	    (uint64_t)atomic_load(&st->batches));
	store_free(s);
	cfg_free(c);
	free(p);
	free(th);
	/* The database and the journal go with the run. */
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
