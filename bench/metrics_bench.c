/*
 * metrics_bench.c: what a metrics update costs the share path.
 *
 *   loka-bench-metrics [ITERATIONS]   (default 50000000)
 *
 * Prints ns per metrics_counter_add, metrics_gauge_set, metrics_gauge_add
 * and metrics_histogram_observe (8 buckets), on one thread, then on two
 * threads each updating its own series (as worker threads do). Run it on
 * an otherwise idle machine.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/registry.h"

enum op {
	OP_COUNTER = 0,
	OP_GAUGE_SET,
	OP_GAUGE_ADD,
	OP_HISTOGRAM,
	OP_MAX
};

static const char *const op_names[OP_MAX] = {
	"counter_add", "gauge_set", "gauge_add", "histogram_observe"
};

struct run {
	struct metrics_series *s[OP_MAX];
	enum op op;
	uint64_t iters;
	double ns;
};

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *
run_op(void *p)
{
	struct run *r = p;
	struct metrics_series *s = r->s[r->op];
	double t0 = now_ns();
	uint64_t i;

	switch (r->op) {
	case OP_COUNTER:
		for (i = 0; i < r->iters; i++)
			metrics_counter_add(s, 1);
		break;
	case OP_GAUGE_SET:
		for (i = 0; i < r->iters; i++)
			metrics_gauge_set(s, (double)i);
		break;
	case OP_GAUGE_ADD:
		for (i = 0; i < r->iters; i++)
			metrics_gauge_add(s, 1.0);
		break;
	case OP_HISTOGRAM:
		/* Values spread over the buckets, cheap to compute. */
		for (i = 0; i < r->iters; i++)
			metrics_histogram_observe(s, (double)(i & 15) * 0.01);
		break;
	default:
		break;
	}
	r->ns = (now_ns() - t0) / (double)r->iters;
	return NULL;
}

int
main(int argc, char **argv)
{
	static const char *const tl[] = { "thread", NULL };
	static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	    0.5, 1 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *c, *g, *h;
	struct run runs[2];
	pthread_t th[2];
	uint64_t iters = 50000000;
	int i, op;
	char *end;

	if (argc > 1) {
		iters = strtoull(argv[1], &end, 10);
		if (*end != '\0' || iters == 0) {
			fprintf(stderr, "usage: %s [ITERATIONS]\n", argv[0]);
			return 2;
		}
	}
	c = metrics_family_new(reg, METRICS_COUNTER, "loka_bench_total", "",
	    tl);
	g = metrics_family_new(reg, METRICS_GAUGE, "loka_bench_gauge", "", tl);
	h = metrics_histogram_new(reg, "loka_bench_seconds", "", tl, bounds,
	    sizeof(bounds) / sizeof(bounds[0]));
	for (i = 0; i < 2; i++) {
		const char *v[] = { i == 0 ? "0" : "1" };

		memset(&runs[i], 0, sizeof(runs[i]));
		runs[i].s[OP_COUNTER] = metrics_series(c, v);
		runs[i].s[OP_GAUGE_SET] = metrics_series(g, v);
		runs[i].s[OP_GAUGE_ADD] = runs[i].s[OP_GAUGE_SET];
		runs[i].s[OP_HISTOGRAM] = metrics_series(h, v);
		runs[i].iters = iters;
	}

	printf("%" PRIu64 " iterations per thread\n", iters);
	printf("%-20s %12s %18s\n", "operation", "1 thread", "2 threads (each)");
	for (op = 0; op < OP_MAX; op++) {
		double one;

		runs[0].op = (enum op)op;
		run_op(&runs[0]);
		one = runs[0].ns;
		for (i = 0; i < 2; i++) {
			runs[i].op = (enum op)op;
			pthread_create(&th[i], NULL, run_op, &runs[i]);
		}
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		printf("%-20s %9.2f ns %9.2f / %.2f ns\n", op_names[op], one,
		    runs[0].ns, runs[1].ns);
	}
	metrics_registry_free(reg);
	return 0;
}
