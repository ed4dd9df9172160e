/*
 * test_router.c: pool choice by priority, circuit breaker transitions,
 * failed pools avoided, trials of the only pool at the backoff pace,
 * probation after a protocol violation, warning pace, backoff, CONNECT
 * target lookup, live changes (enabled, priority).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "config/config.h"
#include "proxy/router.h"

static struct cfg *
load(const char *text)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c = cfg_load_string("t.toml", text, strlen(text), &errs,
	    NULL);

	assert_non_null(c);
	return c;
}

static const char pools[] =
    "[[pools]]\nname = \"backup\"\nurl = \"stratum+tcp://b.example:3333\"\n"
    "priority = 1\nbreaker_failures = 3\nbreaker_timeout = 30\n"
    "connect_timeout = 5\n"
    "[[pools]]\nname = \"main\"\nurl = \"stratum+tcp://m.example:3333\"\n"
    "priority = 0\nbreaker_failures = 2\nbreaker_timeout = 10\n"
    "connect_timeout = 5\n"
    "[[pools]]\nname = \"off\"\nurl = \"stratum+tcp://o.example:1\"\n"
    "enabled = false\n";

static void
test_priority_and_breaker(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);
	int64_t t = 1000000;

	(void)state;
	/* main (priority 0) first, though written second. */
	assert_int_equal(router_pick(r, t), 1);
	router_failure(r, 1, t - 1000);
	/* Failures at the same moment (many sessions) count once. */
	router_failure(r, 1, t - 1000);
	router_failure(r, 1, t - 999);
	assert_int_equal(router_state(r, 1, t), BREAKER_CLOSED);
	assert_int_equal(router_backoff_ms(r, 1), 100);
	/* main failed: new sessions prefer the backup, which did not ... */
	assert_int_equal(router_pick(r, t), 0);
	/* ... while a session already on main may stay (breaker closed). */
	assert_int_equal(router_choose(r, 1, 0, t), 1);
	router_failure(r, 1, t);
	/* Two failures open main's breaker: backup takes new sessions. */
	assert_int_equal(router_state(r, 1, t), BREAKER_OPEN);
	assert_int_equal(router_pick(r, t), 0);
	assert_int_equal(router_choose(r, 1, 0, t), 0);
	assert_false(router_allow(r, 1, t + 9999));
	/* After breaker_timeout: half-open, one trial at a time. */
	assert_int_equal(router_state(r, 1, t + 10000), BREAKER_HALF_OPEN);
	assert_true(router_allow(r, 1, t + 10000));
	assert_false(router_allow(r, 1, t + 10001));
	assert_int_equal(router_pick(r, t + 10001), 0);
	/* A trial that never reports back expires after connect_timeout +
	 * handshake_timeout (5 s + 5 s by default). */
	assert_false(router_allow(r, 1, t + 19999));
	assert_true(router_allow(r, 1, t + 20000));
	/* The trial fails: open again, for another breaker_timeout. */
	router_failure(r, 1, t + 20001);
	assert_int_equal(router_state(r, 1, t + 20002), BREAKER_OPEN);
	assert_false(router_allow(r, 1, t + 25000));
	/* A trial succeeds: closed. */
	assert_true(router_allow(r, 1, t + 30001));
	router_success(r, 1, t + 30001);
	assert_int_equal(router_state(r, 1, t + 30002), BREAKER_CLOSED);
	assert_int_equal(router_pick(r, t + 30002), 1);
	/* The disabled pool is never picked or allowed. */
	assert_false(router_allow(r, 2, t));
	assert_int_equal(router_choose(r, 2, ROUTER_PINNED, t), -1);
	router_free(r);
	cfg_free(c);
}

/*
 * A pool that failed a session's handshake (a black hole): that session
 * moves on at once, new sessions go to the pool that did not fail, and
 * the failed one gets one trial per breaker_timeout until it succeeds.
 */
static void
test_failed_pool_is_avoided(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);
	int64_t t = 1000000;

	(void)state;
	assert_int_equal(router_pick(r, t), 1);
	router_failure(r, 1, t);
	assert_int_equal(router_state(r, 1, t), BREAKER_CLOSED);
	/* The session whose handshake failed: elsewhere. */
	assert_int_equal(router_choose(r, 1, ROUTER_AVOID, t + 100), 0);
	/* New sessions too, for breaker_timeout (10 s for main). */
	assert_int_equal(router_pick(r, t + 9999), 0);
	/* Then one of them is main's trial; the others keep to backup. */
	assert_int_equal(router_pick(r, t + 10000), 1);
	assert_int_equal(router_pick(r, t + 10001), 0);
	router_success(r, 1, t + 10002);
	assert_int_equal(router_pick(r, t + 10003), 1);
	/* With nowhere else to go, ROUTER_AVOID keeps the failed pool. */
	router_failure(r, 1, t + 20000);
	router_failure(r, 0, t + 20000);
	assert_int_equal(router_choose(r, 1, ROUTER_AVOID, t + 20001), 0);
	assert_int_equal(router_choose(r, 0, ROUTER_AVOID, t + 20001), 1);
	router_free(r);
	cfg_free(c);
}

static const char only_pool[] =
    "[[pools]]\nname = \"only\"\nurl = \"stratum+tcp://o.example:3333\"\n"
    "breaker_failures = 2\nbreaker_timeout = 30\n";

/*
 * The only pool is down: its breaker opens, but trials go on at the
 * backoff pace (at most a second apart), one at a time, and the first
 * success brings it back at once (not after breaker_timeout).
 */
static void
test_only_pool_trials(void **state)
{
	struct cfg *c = load(only_pool);
	struct router *r = router_new(c);
	int64_t t = 1000000, last;

	(void)state;
	router_failure(r, 0, t - 100);
	router_failure(r, 0, t);
	assert_int_equal(router_state(r, 0, t), BREAKER_OPEN);
	/* Open at t after 2 failures: the next trial 200 ms later. */
	assert_int_equal(router_pick(r, t + 199), -1);
	assert_int_equal(router_choose(r, 0, 0, t + 199), -1);
	assert_int_equal(router_choose(r, 0, 0, t + 200), 0);
	assert_int_equal(router_state(r, 0, t + 200), BREAKER_HALF_OPEN);
	/* One trial at a time. */
	assert_int_equal(router_pick(r, t + 250), -1);
	/* It fails; the pace doubles (400 ms), up to a second. */
	router_failure(r, 0, t + 300);
	assert_int_equal(router_pick(r, t + 699), -1);
	assert_int_equal(router_pick(r, t + 700), 0);
	router_failure(r, 0, t + 700);
	assert_int_equal(router_pick(r, t + 1499), -1);
	assert_int_equal(router_pick(r, t + 1500), 0);
	last = t + 1500;
	for (int i = 0; i < 20; i++) {
		router_failure(r, 0, last);
		assert_int_equal(router_pick(r, last + 999), -1);
		assert_int_equal(router_pick(r, last + 1000), 0);
		last += 1000;
	}
	/* The pool answers: closed, every session may connect. */
	router_success(r, 0, last + 10);
	assert_int_equal(router_state(r, 0, last + 10), BREAKER_CLOSED);
	assert_int_equal(router_pick(r, last + 11), 0);
	assert_int_equal(router_pick(r, last + 12), 0);
	assert_int_equal(router_backoff_ms(r, 0), 100);
	router_free(r);
	cfg_free(c);
}

/* A pinned session (HTTP CONNECT) has only its pool: it gets trials at
 * the backoff pace even while another pool is usable; others do not. */
static void
test_pinned_trials(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);
	int64_t t = 1000000;

	(void)state;
	router_failure(r, 1, t - 100);
	router_failure(r, 1, t);
	assert_int_equal(router_state(r, 1, t), BREAKER_OPEN);
	assert_int_equal(router_choose(r, 1, 0, t + 5000), 0);
	assert_int_equal(router_choose(r, 1, ROUTER_PINNED, t + 199), -1);
	assert_int_equal(router_choose(r, 1, ROUTER_PINNED, t + 200), 1);
	assert_int_equal(router_choose(r, 1, ROUTER_PINNED, t + 201), -1);
	router_free(r);
	cfg_free(c);
}

/* A protocol violation: a success within ROUTER_PROBATION_MS does not
 * forget the failures (backoff and breaker stay where they were). */
static void
test_violation_probation(void **state)
{
	struct cfg *c = load(only_pool);
	struct router *r = router_new(c);
	int64_t t = 1000000;

	(void)state;
	router_violation(r, 0, t);
	router_violation(r, 0, t + 100);
	assert_int_equal(router_state(r, 0, t + 100), BREAKER_OPEN);
	assert_int_equal(router_backoff_ms(r, 0), 200);
	assert_int_equal(router_pick(r, t + 300), 0);
	router_success(r, 0, t + 310);
	assert_int_equal(router_state(r, 0, t + 310), BREAKER_CLOSED);
	assert_int_equal(router_backoff_ms(r, 0), 200);
	/* The next failure opens the breaker again at once. */
	router_failure(r, 0, t + 500);
	assert_int_equal(router_state(r, 0, t + 500), BREAKER_OPEN);
	assert_int_equal(router_backoff_ms(r, 0), 400);
	/* Well behaved for a minute: forgotten. */
	assert_int_equal(router_pick(r, t + 100 + ROUTER_PROBATION_MS), 0);
	router_success(r, 0, t + 100 + ROUTER_PROBATION_MS);
	assert_int_equal(router_backoff_ms(r, 0), 100);
	router_free(r);
	cfg_free(c);
}

/* One warning per pool per ROUTER_WARN_INTERVAL_MS, with a count of the
 * ones held back. */
static void
test_warn_rate(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);
	int64_t t = 1000000;
	uint64_t n = 99;

	(void)state;
	assert_true(router_may_warn(r, 1, t, &n));
	assert_int_equal(n, 0);
	for (int i = 1; i <= 5; i++)
		assert_false(router_may_warn(r, 1, t + i * 1000, &n));
	/* Another pool has its own pace. */
	assert_true(router_may_warn(r, 0, t + 1, &n));
	assert_false(router_may_warn(r, 1, t + ROUTER_WARN_INTERVAL_MS - 1,
	    &n));
	assert_true(router_may_warn(r, 1, t + ROUTER_WARN_INTERVAL_MS, &n));
	assert_int_equal(n, 6);
	assert_false(router_may_warn(r, 1, t + ROUTER_WARN_INTERVAL_MS + 1,
	    &n));
	router_free(r);
	cfg_free(c);
}

/* Every pool open: no connection but the trials, at each pool's backoff
 * pace, one at a time. */
static void
test_all_open(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);

	(void)state;
	for (int i = 0; i < 3; i++) {
		router_failure(r, 0, i * 1000);
		router_failure(r, 1, i * 1000);
	}
	/* main opened at 1000 (its second failure), backup at 2000. */
	assert_int_equal(router_pick(r, 2001), 1);
	assert_int_equal(router_pick(r, 2002), -1);
	assert_int_equal(router_pick(r, 2400), 0);
	assert_int_equal(router_pick(r, 2401), -1);
	router_free(r);
	cfg_free(c);
}

static void
test_backoff(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);
	int64_t prev = 0;

	(void)state;
	assert_int_equal(router_backoff_ms(r, 0), 100);
	for (int i = 0; i < 20; i++) {
		int64_t b;

		router_failure(r, 0, (int64_t)i * 60000);
		b = router_backoff_ms(r, 0);
		assert_true(b >= prev);
		assert_true(b <= 30000);
		prev = b;
	}
	assert_int_equal(prev, 30000);
	router_success(r, 0, 20 * 60000);
	assert_int_equal(router_backoff_ms(r, 0), 100);
	router_free(r);
	cfg_free(c);
}

static void
test_find(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);

	(void)state;
	assert_int_equal(router_find(r, "", 0, "main"), 1);
	assert_int_equal(router_find(r, "M.EXAMPLE", 3333, ""), 1);
	assert_int_equal(router_find(r, "b.example", 3333, ""), 0);
	assert_int_equal(router_find(r, "b.example", 3334, ""), -1);
	assert_int_equal(router_find(r, "b.example", 3333, "nope"), -1);
	router_free(r);
	cfg_free(c);
}

/* Live changes: a disabled pool is never chosen, a new priority reorders
 * the pools, an enabled pool from the file's "enabled = false" is used. */
static void
test_live_changes(void **state)
{
	struct cfg *c = load(pools);
	struct router *r = router_new(c);
	int64_t t = 1000000;

	(void)state;
	assert_int_equal(router_pick(r, t), 1);
	assert_true(router_enabled(r, 1));
	router_set(r, 1, 0, false, 0);
	assert_false(router_enabled(r, 1));
	assert_int_equal(router_pick(r, t), 0);
	/* A session on the disabled pool moves, even when it asks to stay. */
	assert_int_equal(router_choose(r, 1, 0, t), 0);
	/* ... unless CONNECT pinned it there: then nothing. */
	assert_int_equal(router_choose(r, 1, ROUTER_PINNED, t), -1);
	assert_false(router_allow(r, 1, t));
	/* "off" (enabled = false in the file) enabled, preferred to all. */
	assert_false(router_enabled(r, 2));
	router_set(r, 2, 1, true, 0);
	router_set(r, 1, 1, true, 7);
	assert_true(router_enabled(r, 2));
	assert_int_equal(router_priority(r, 2), 0);
	assert_int_equal(router_priority(r, 1), 7);
	assert_int_equal(router_pick(r, t), 2);
	/* The order follows: off (0), backup (1), main (7). */
	router_set(r, 2, 0, false, 0);
	assert_int_equal(router_pick(r, t), 0);
	router_set(r, 0, 0, false, 0);
	assert_int_equal(router_pick(r, t), 1);
	/* Out-of-range pools change nothing and read as disabled. */
	router_set(r, 9, 1, true, 0);
	assert_false(router_enabled(r, 9));
	router_free(r);
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_and_breaker),
		cmocka_unit_test(test_failed_pool_is_avoided),
		cmocka_unit_test(test_only_pool_trials),
		cmocka_unit_test(test_pinned_trials),
		cmocka_unit_test(test_violation_probation),
		cmocka_unit_test(test_warn_rate),
		cmocka_unit_test(test_all_open),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_live_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
