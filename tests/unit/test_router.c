/*
 * test_router.c: pool choice by priority, circuit breaker transitions,
 * backoff, CONNECT target lookup.
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
	assert_int_equal(router_pick(r, t), 1);
	router_failure(r, 1, t);
	/* Two failures open main's breaker: backup takes new sessions. */
	assert_int_equal(router_state(r, 1, t), BREAKER_OPEN);
	assert_int_equal(router_pick(r, t), 0);
	assert_false(router_allow(r, 1, t + 9999));
	/* After breaker_timeout: half-open, one trial at a time. */
	assert_int_equal(router_state(r, 1, t + 10000), BREAKER_HALF_OPEN);
	assert_true(router_allow(r, 1, t + 10000));
	assert_false(router_allow(r, 1, t + 10001));
	assert_int_equal(router_pick(r, t + 10001), 0);
	/* A trial that never reports back expires after connect_timeout. */
	assert_true(router_allow(r, 1, t + 15001));
	/* The trial fails: open again, for another breaker_timeout. */
	router_failure(r, 1, t + 15002);
	assert_int_equal(router_state(r, 1, t + 15003), BREAKER_OPEN);
	assert_false(router_allow(r, 1, t + 20000));
	/* A trial succeeds: closed. */
	assert_true(router_allow(r, 1, t + 25002));
	router_success(r, 1);
	assert_int_equal(router_state(r, 1, t + 25003), BREAKER_CLOSED);
	assert_int_equal(router_pick(r, t + 25003), 1);
	/* The disabled pool is never picked or allowed. */
	assert_false(router_allow(r, 2, t));
	router_free(r);
	cfg_free(c);
}

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
	assert_int_equal(router_pick(r, 2001), -1);
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
	router_success(r, 0);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_and_breaker),
		cmocka_unit_test(test_all_open),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
