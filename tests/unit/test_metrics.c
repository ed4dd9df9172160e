/*
 * test_metrics.c: the Prometheus registry: the exact text a scrape sees
 * (labels, escaping, cumulative buckets, number formats), the series cap,
 * updates from several threads summing exactly, callback and process
 * families, and rejected registrations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/registry.h"

#define DROPPED_HEAD \
	"# HELP loka_metrics_dropped_series_total Series lookups folded " \
	"into label values \"other\" because their family was at its " \
	"series cap.\n" \
	"# TYPE loka_metrics_dropped_series_total counter\n"

static void
assert_render(struct metrics_registry *reg, const char *want)
{
	size_t len;
	char *got = metrics_render(reg, &len);

	assert_int_equal(len, strlen(got));
	if (strcmp(got, want) != 0)
		fprintf(stderr, "--- got:\n%s--- want:\n%s", got, want);
	assert_string_equal(got, want);
	free(got);
}

static void
test_render_exact(void **state)
{
	static const char *const lbl[] = { "pool", "reason", NULL };
	static const char *const wl[] = { "worker", NULL };
	static const double bounds[] = { 0.005, 0.5, 1, 2.5 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *c, *g, *h, *hl;
	struct metrics_series *s;

	c = metrics_family_new(reg, METRICS_COUNTER, "loka_shares_total",
	    "Shares by pool and verdict.\nSecond line \\ \"q\".", lbl);
	g = metrics_family_new(reg, METRICS_GAUGE, "loka_difficulty",
	    "Current difficulty.", NULL);
	h = metrics_histogram_new(reg, "loka_latency_seconds",
	    "Submit latency.", NULL, bounds, 4);
	hl = metrics_histogram_new(reg, "loka_by_worker", "By worker.", wl,
	    bounds, 1);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	assert_non_null(hl);

	s = metrics_series(c, (const char *[]){ "main", "ok" });
	metrics_counter_add(s, 41);
	metrics_counter_add(s, 1);
	/* The same label values give the same series. */
	assert_ptr_equal(s, metrics_series(c, (const char *[]){ "main",
	    "ok" }));
	s = metrics_series(c, (const char *[]){ "a\\b\"c\nd", "stale" });
	metrics_counter_add(s, 18446744073709551615ULL);

	s = metrics_series(g, NULL);
	metrics_gauge_set(s, 0.1);
	metrics_gauge_add(s, 0.2);

	s = metrics_series(h, NULL);
	metrics_histogram_observe(s, 0.001);
	metrics_histogram_observe(s, 0.005); /* on the bound: le is <= */
	metrics_histogram_observe(s, 0.7);
	metrics_histogram_observe(s, 3);
	metrics_histogram_observe(s, 2.5);
	s = metrics_series(hl, (const char *[]){ "rig\"1" });
	metrics_histogram_observe(s, 10);

	assert_render(reg, DROPPED_HEAD
	    "# HELP loka_shares_total Shares by pool and verdict.\\n"
	    "Second line \\\\ \"q\".\n"
	    "# TYPE loka_shares_total counter\n"
	    "loka_shares_total{pool=\"main\",reason=\"ok\"} 42\n"
	    "loka_shares_total{pool=\"a\\\\b\\\"c\\nd\",reason=\"stale\"} "
	    "18446744073709551615\n"
	    "# HELP loka_difficulty Current difficulty.\n"
	    "# TYPE loka_difficulty gauge\n"
	    "loka_difficulty 0.30000000000000004\n"
	    "# HELP loka_latency_seconds Submit latency.\n"
	    "# TYPE loka_latency_seconds histogram\n"
	    "loka_latency_seconds_bucket{le=\"0.005\"} 2\n"
	    "loka_latency_seconds_bucket{le=\"0.5\"} 2\n"
	    "loka_latency_seconds_bucket{le=\"1\"} 3\n"
	    "loka_latency_seconds_bucket{le=\"2.5\"} 4\n"
	    "loka_latency_seconds_bucket{le=\"+Inf\"} 5\n"
	    "loka_latency_seconds_sum 6.2059999999999995\n"
	    "loka_latency_seconds_count 5\n"
	    "# HELP loka_by_worker By worker.\n"
	    "# TYPE loka_by_worker histogram\n"
	    "loka_by_worker_bucket{worker=\"rig\\\"1\",le=\"0.005\"} 0\n"
	    "loka_by_worker_bucket{worker=\"rig\\\"1\",le=\"+Inf\"} 1\n"
	    "loka_by_worker_sum{worker=\"rig\\\"1\"} 10\n"
	    "loka_by_worker_count{worker=\"rig\\\"1\"} 1\n");
	metrics_registry_free(reg);
}

static void
test_number_formats(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f[6];
	double v[6] = { 1e15, -3, 1.5e-7, 123456789012.5, 1.0 / 0.0,
	    -1.0 / 0.0 };
	char name[32];
	int i;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "loka_g%d", i);
		f[i] = metrics_family_new(reg, METRICS_GAUGE, name, "h", NULL);
		metrics_gauge_set(metrics_series(f[i], NULL), v[i]);
	}
	assert_render(reg, DROPPED_HEAD
	    "# HELP loka_g0 h\n# TYPE loka_g0 gauge\nloka_g0 1000000000000000\n"
	    "# HELP loka_g1 h\n# TYPE loka_g1 gauge\nloka_g1 -3\n"
	    "# HELP loka_g2 h\n# TYPE loka_g2 gauge\nloka_g2 1.5e-07\n"
	    "# HELP loka_g3 h\n# TYPE loka_g3 gauge\nloka_g3 123456789012.5\n"
	    "# HELP loka_g4 h\n# TYPE loka_g4 gauge\nloka_g4 +Inf\n"
	    "# HELP loka_g5 h\n# TYPE loka_g5 gauge\nloka_g5 -Inf\n");
	metrics_registry_free(reg);
}

static void
test_series_cap(void **state)
{
	static const char *const wl[] = { "worker", NULL };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	struct metrics_series *a, *b, *o1, *o2;

	f = metrics_family_new(reg, METRICS_COUNTER, "loka_w_total", "W.", wl);
	metrics_family_set_max_series(f, 2);
	a = metrics_series(f, (const char *[]){ "a" });
	b = metrics_series(f, (const char *[]){ "b" });
	o1 = metrics_series(f, (const char *[]){ "c" });
	o2 = metrics_series(f, (const char *[]){ "d" });
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(o1, a);
	assert_ptr_not_equal(o1, b);
	assert_ptr_equal(o1, o2);
	/* Existing series are still found at the cap. */
	assert_ptr_equal(a, metrics_series(f, (const char *[]){ "a" }));
	metrics_counter_add(a, 1);
	metrics_counter_add(b, 2);
	metrics_counter_add(o1, 3);
	metrics_counter_add(o2, 4);
	assert_render(reg, DROPPED_HEAD
	    "loka_metrics_dropped_series_total{family=\"loka_w_total\"} 2\n"
	    "# HELP loka_w_total W.\n# TYPE loka_w_total counter\n"
	    "loka_w_total{worker=\"a\"} 1\n"
	    "loka_w_total{worker=\"b\"} 2\n"
	    "loka_w_total{worker=\"other\"} 7\n");
	metrics_registry_free(reg);
}

static void
test_long_label_value(void **state)
{
	static const char *const wl[] = { "worker", NULL };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;
	char lng[METRICS_VALUE_MAX + 20];
	struct metrics_series *a, *b;
	char *out;

	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	f = metrics_family_new(reg, METRICS_COUNTER, "loka_l_total", "L.", wl);
	a = metrics_series(f, (const char *[]){ lng });
	lng[METRICS_VALUE_MAX + 5] = 'y'; /* differs only past the cut */
	b = metrics_series(f, (const char *[]){ lng });
	assert_ptr_equal(a, b);
	lng[METRICS_VALUE_MAX] = '\0';
	metrics_counter_add(a, 1);
	out = metrics_render(reg, NULL);
	assert_non_null(strstr(out, lng));
	lng[METRICS_VALUE_MAX - 1] = '\0';
	assert_non_null(strstr(out, "x\"} 1\n"));
	free(out);
	metrics_registry_free(reg);
}

#define THREADS 4
#define ITERS 200000

struct worker_arg {
	struct metrics_series *shared_c, *own_c, *g, *h;
};

static void *
hammer(void *p)
{
	struct worker_arg *w = p;
	int i;

	for (i = 0; i < ITERS; i++) {
		metrics_counter_add(w->shared_c, 1);
		metrics_counter_add(w->own_c, 2);
		metrics_gauge_add(w->g, 1.0);
		metrics_histogram_observe(w->h, (double)(i % 4));
	}
	return NULL;
}

static void
test_concurrent_updates(void **state)
{
	static const char *const tl[] = { "thread", NULL };
	static const double bounds[] = { 0.5, 1.5, 2.5 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *c, *own, *g, *h;
	struct worker_arg args[THREADS];
	pthread_t th[THREADS];
	char name[THREADS][8], *out, want[512];
	int i;

	c = metrics_family_new(reg, METRICS_COUNTER, "loka_c_total", "C.",
	    NULL);
	own = metrics_family_new(reg, METRICS_COUNTER, "loka_own_total", "O.",
	    tl);
	g = metrics_family_new(reg, METRICS_GAUGE, "loka_g", "G.", NULL);
	h = metrics_histogram_new(reg, "loka_h", "H.", NULL, bounds, 3);
	for (i = 0; i < THREADS; i++) {
		snprintf(name[i], sizeof(name[i]), "t%d", i);
		args[i].shared_c = metrics_series(c, NULL);
		args[i].own_c = metrics_series(own, (const char *[]){
		    name[i] });
		args[i].g = metrics_series(g, NULL);
		args[i].h = metrics_series(h, NULL);
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer,
		    &args[i]), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);

	assert_int_equal(metrics_counter_value(args[0].shared_c),
	    (uint64_t)THREADS * ITERS);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(metrics_counter_value(args[i].own_c),
		    2 * ITERS);
	assert_true(metrics_gauge_value(args[0].g) ==
	    (double)THREADS * ITERS);
	out = metrics_render(reg, NULL);
	/* Each thread observes 0,1,2,3 evenly: sum 1.5 per observation. */
	snprintf(want, sizeof(want),
	    "loka_h_bucket{le=\"0.5\"} %d\n"
	    "loka_h_bucket{le=\"1.5\"} %d\n"
	    "loka_h_bucket{le=\"2.5\"} %d\n"
	    "loka_h_bucket{le=\"+Inf\"} %d\n"
	    "loka_h_sum %d\n"
	    "loka_h_count %d\n",
	    THREADS * ITERS / 4, THREADS * ITERS / 2, THREADS * ITERS * 3 / 4,
	    THREADS * ITERS, THREADS * ITERS * 3 / 2, THREADS * ITERS);
	assert_non_null(strstr(out, want));
	free(out);
	metrics_registry_free(reg);
}

struct fake_threads {
	int active[3];
};

static void
collect_active(struct metrics_sink *sink, void *arg)
{
	struct fake_threads *t = arg;
	int i, sum = 0;

	for (i = 0; i < 3; i++)
		sum += t->active[i];
	metrics_sink_value(sink, NULL, sum);
}

static void
collect_pools(struct metrics_sink *sink, void *arg)
{
	metrics_sink_value(sink, (const char *[]){ "main" }, 12.5);
	metrics_sink_value(sink, (const char *[]){ "back\nup" }, 0);
}

static void
test_callback_families(void **state)
{
	static const char *const pl[] = { "pool", NULL };
	struct metrics_registry *reg = metrics_registry_new();
	struct fake_threads t = { { 3, 4, 0 } };

	assert_non_null(metrics_callback_new(reg, METRICS_GAUGE,
	    "loka_active_sessions", "Open miner connections.", NULL,
	    collect_active, &t));
	assert_non_null(metrics_callback_new(reg, METRICS_COUNTER,
	    "loka_pool_seconds_total", "Time connected.", pl, collect_pools,
	    NULL));
	/* A callback family has no series of its own. */
	assert_null(metrics_callback_new(reg, METRICS_HISTOGRAM, "loka_x",
	    "", NULL, collect_active, &t));
	assert_render(reg, DROPPED_HEAD
	    "# HELP loka_active_sessions Open miner connections.\n"
	    "# TYPE loka_active_sessions gauge\n"
	    "loka_active_sessions 7\n"
	    "# HELP loka_pool_seconds_total Time connected.\n"
	    "# TYPE loka_pool_seconds_total counter\n"
	    "loka_pool_seconds_total{pool=\"main\"} 12.5\n"
	    "loka_pool_seconds_total{pool=\"back\\nup\"} 0\n");
	/* Values are computed at each scrape. */
	t.active[2] = 10;
	{
		char *out = metrics_render(reg, NULL);

		assert_non_null(strstr(out, "\nloka_active_sessions 17\n"));
		free(out);
	}
	metrics_registry_free(reg);
}

static void
test_process_metrics(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	char *out;
	char want[128];

	assert_int_equal(metrics_register_process(reg), 0);
	/* Twice: the names are taken. */
	assert_int_equal(metrics_register_process(reg), -1);
	out = metrics_render(reg, NULL);
	assert_non_null(strstr(out, "# TYPE process_cpu_seconds_total "
	    "counter\nprocess_cpu_seconds_total "));
	assert_non_null(strstr(out, "\nprocess_resident_memory_bytes "));
	assert_non_null(strstr(out, "\nprocess_open_fds "));
	assert_non_null(strstr(out, "\nprocess_start_time_seconds 1"));
	snprintf(want, sizeof(want), "\nloka_build_info{version=\"%s\"} 1\n",
	    LOKA_VERSION);
	assert_non_null(strstr(out, want));
	free(out);
	metrics_registry_free(reg);
}

static void
test_rejected_registrations(void **state)
{
	static const char *const four[] = { "a", "b", "c", "d", NULL };
	static const char *const dup[] = { "a", "a", NULL };
	static const char *const le[] = { "le", NULL };
	static const char *const reserved[] = { "__x", NULL };
	static const char *const bad[] = { "a-b", NULL };
	static const double up[] = { 1, 2 }, down[] = { 2, 1 };
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *f;

	assert_null(metrics_family_new(reg, METRICS_COUNTER, "9x", "", NULL));
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "a-b", "", NULL));
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "", "", NULL));
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "x", "", four));
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "x", "", dup));
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "x", "",
	    reserved));
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "x", "", bad));
	assert_null(metrics_family_new(reg, METRICS_HISTOGRAM, "x", "", NULL));
	assert_null(metrics_histogram_new(reg, "x", "", le, up, 2));
	assert_null(metrics_histogram_new(reg, "x", "", NULL, down, 2));
	assert_null(metrics_histogram_new(reg, "x", "", NULL, up, 0));
	assert_null(metrics_family_new(reg, METRICS_GAUGE,
	    "loka_metrics_dropped_series_total", "", NULL));
	f = metrics_family_new(reg, METRICS_GAUGE, "ns:x_1", "", four + 1);
	assert_non_null(f);
	assert_null(metrics_family_new(reg, METRICS_COUNTER, "ns:x_1", "",
	    NULL));
	/* Labels are required for a labelled family. */
	assert_null(metrics_series(f, NULL));
	metrics_registry_free(reg);
	metrics_registry_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_number_formats),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_long_label_value),
		cmocka_unit_test(test_concurrent_updates),
		cmocka_unit_test(test_callback_families),
		cmocka_unit_test(test_process_metrics),
		cmocka_unit_test(test_rejected_registrations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
