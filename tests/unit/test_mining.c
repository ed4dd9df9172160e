/*
 * test_mining.c: the aggregation building blocks in src/mining/: vardiff
 * converges on a miner's hashrate whatever it starts from, falls when the
 * miner goes quiet, honours its floor and the pool's ceiling, rounds down;
 * the extranonce split follows the firmware limits; slots are not reused
 * before a clean job; duplicate sets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mining/dupset.h"
#include "mining/slots.h"
#include "mining/vardiff.h"

/*
 * A miner doing `rate` difficulty-1 shares per second: at difficulty d it
 * finds a share every d / rate seconds (deterministically). Runs for
 * `seconds` from *now, retargeting as the proxy would (on every share);
 * returns the number of difficulty changes.
 */
static int
mine(struct vardiff *v, double rate, double seconds, int64_t *now)
{
	double t = (double)*now / 1000.0, end = t + seconds;
	int changes = 0;

	while (t < end) {
		double job_diff = v->diff;

		t += job_diff / rate;
		*now = (int64_t)(t * 1000.0);
		vardiff_share(v, job_diff);
		changes += vardiff_retarget(v, *now);
	}
	return changes;
}

/* Within the hysteresis band (and rounding) of the ideal. */
static void
assert_near(double diff, double ideal)
{
	if (diff > ideal * VARDIFF_HYSTERESIS * 1.01 ||
	    diff < ideal / VARDIFF_HYSTERESIS / 1.01)
		fail_msg("difficulty %g, ideal %g", diff, ideal);
}

static void
test_vardiff_converges(void **state)
{
	/* 100 TH/s: 100e12 / 2^32 diff-1 shares per second. */
	double big = 100e12 / 4294967296.0, tiny = 50e3 / 4294967296.0;
	struct vardiff v;
	int64_t now = 1000000;

	(void)state;
	/* From difficulty 1 to ~93,000 for 15 shares a minute. */
	vardiff_init(&v, 1, 0.0001, 15, 30000, now);
	mine(&v, big, 600, &now);
	assert_near(v.diff, big * 4);
	assert_true(v.diff == floor(v.diff)); /* integer above 1 */
	/* Held there: few changes over the next half hour. */
	assert_true(mine(&v, big, 1800, &now) <= 2);
	assert_near(v.diff, big * 4);

	/* A 50 kH/s hobby miner: fractional difficulty, two digits. */
	now = 1000000;
	vardiff_init(&v, 16, 0.00001, 15, 30000, now);
	mine(&v, tiny, 3600, &now);
	assert_near(v.diff, tiny * 4);
	assert_true(v.diff < 1);
	/* Already rounded: two significant digits. */
	assert_true(fabs(vardiff_round(v.diff) - v.diff) < 1e-15);
}

static void
test_vardiff_quiet_and_limits(void **state)
{
	struct vardiff v;
	int64_t now = 0;
	double before;

	(void)state;
	vardiff_init(&v, 1024, 1, 15, 0, now);
	/* No share at all: falls at least 4x per window (48 s: six
	 * shares' time, twice). */
	before = v.diff;
	now += 47000;
	assert_false(vardiff_retarget(&v, now));
	now += 1000;
	assert_true(vardiff_retarget(&v, now));
	assert_true(v.diff <= before / 4);
	for (int i = 0; i < 20; i++) {
		now += 48000;
		vardiff_retarget(&v, now);
	}
	assert_true(v.diff == 1); /* the floor */

	/* The pool's difficulty is the ceiling, and wins over the floor. */
	vardiff_init(&v, 1, 1, 15, 0, now);
	vardiff_set_ceiling(&v, 500);
	mine(&v, 1e6, 120, &now);
	assert_true(v.diff == 500);
	assert_int_equal(vardiff_suggest(&v, 2000), 0);
	assert_true(v.diff == 500);
	vardiff_set_ceiling(&v, 0);
	assert_true(v.diff >= 2000);

	/* Suggestions: the start while unmeasured, the floor always; a
	 * later one replaces an earlier one; nonsense is ignored. */
	vardiff_init(&v, 1, 0.001, 15, 0, now);
	assert_int_equal(vardiff_suggest(&v, 64), 0);
	assert_true(v.diff == 64);
	assert_int_equal(vardiff_suggest(&v, NAN), -1);
	assert_int_equal(vardiff_suggest(&v, -3), -1);
	assert_int_equal(vardiff_suggest(&v, INFINITY), -1);
	mine(&v, 0.01, 600, &now); /* ideal 0.04: held at 64 */
	assert_true(v.diff == 64);
	assert_int_equal(vardiff_suggest(&v, 0.5), 0);
	mine(&v, 0.01, 900, &now);
	assert_true(v.diff == 0.5);
	/* configure's minimum-difficulty is a floor of its own. */
	assert_int_equal(vardiff_minimum(&v, 2), 0);
	assert_true(v.diff == 2);
	assert_int_equal(vardiff_suggest(&v, 0.1), 0);
	assert_true(v.diff == 2);
}

/* Real shares come as a Poisson process: over an hour the miner sends
 * about the share rate aimed at, with few changes. */
static void
test_vardiff_poisson(void **state)
{
	double rate = 2e12 / 4294967296.0, t = 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	struct vardiff v;
	int changes = 0, shares = 0;

	(void)state;
	vardiff_init(&v, 1, 0.001, 15, 30000, 0);
	while (t < 4200) {
		double u, d = v.diff;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
		t += -log(u) * d / rate;
		vardiff_share(&v, d);
		if (t >= 600)
			shares++;
		if (vardiff_retarget(&v, (int64_t)(t * 1000)) && t >= 600)
			changes++;
	}
	/* After the first 10 minutes: 60 minutes at ~15 a minute. */
	assert_true(shares > 60 * 15 * 0.8 && shares < 60 * 15 * 1.2);
	assert_true(changes <= 12);
	assert_near(v.diff, rate * 4);
}

static void
test_vardiff_retarget_pace(void **state)
{
	struct vardiff v;
	int64_t now = 0, last = -1;
	double prev;

	(void)state;
	vardiff_init(&v, 1, 0.001, 15, 60000, now);
	prev = v.diff;
	/* A miner whose speed keeps changing: changes are >= 60 s apart
	 * (the first one may come at once). */
	for (int i = 0; i < 40; i++) {
		double rate = i % 2 ? 5.0 : 500.0;
		double t = (double)now / 1000.0 + 0.5;

		while ((double)now / 1000.0 < t + 30) {
			double d = v.diff;

			now += (int64_t)(d / rate * 1000.0) + 1;
			vardiff_share(&v, d);
			if (vardiff_retarget(&v, now)) {
				if (last >= 0)
					assert_true(now - last >= 60000);
				last = now;
				assert_true(v.diff != prev);
				prev = v.diff;
			}
		}
	}
	assert_true(last >= 0);
}

static void
test_vardiff_round(void **state)
{
	(void)state;
	assert_true(vardiff_round(153.7) == 153);
	assert_true(vardiff_round(1.0) == 1);
	assert_true(fabs(vardiff_round(0.000153) - 0.00015) < 1e-12);
	assert_true(fabs(vardiff_round(0.99) - 0.99) < 1e-12);
	assert_true(fabs(vardiff_round(0.5) - 0.5) < 1e-12);
	assert_true(vardiff_round(1e-12) == VARDIFF_ABS_MIN);
	assert_true(vardiff_round(NAN) == VARDIFF_ABS_MIN);
	/* Never up. */
	for (double d = 0.0001; d < 100000; d *= 1.37)
		assert_true(vardiff_round(d) <= d);
}

static void
test_split(void **state)
{
	struct slots_split sp;
	static const int want[][3] = {
		/* n, P, M */
		{ 3, 0, 3 }, { 4, 1, 3 }, { 5, 1, 4 }, { 6, 2, 4 },
		{ 7, 2, 5 }, { 8, 4, 4 }, { 12, 8, 4 }, { 16, 12, 4 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(slots_split(want[i][0], &sp), 0);
		assert_int_equal(sp.slot_bytes, want[i][1]);
		assert_int_equal(sp.miner_bytes, want[i][2]);
		/* Firmware limits: the miner's part is 3..8 bytes. */
		assert_true(sp.miner_bytes >= 3 && sp.miner_bytes <= 8);
	}
	assert_int_equal(slots_split(4, &sp), 0);
	assert_int_equal(sp.nslots, 256);
	assert_int_equal(slots_split(8, &sp), 0);
	assert_int_equal(sp.nslots, SLOTS_MAX);
	assert_int_equal(slots_split(2, &sp), -1);
	assert_int_equal(slots_split(0, &sp), -1);
	assert_int_equal(slots_split(33, &sp), -1);
}

static void
test_slots(void **state)
{
	struct slots s;
	uint8_t en[4];
	int64_t i;

	(void)state;
	assert_int_equal(slots_init(&s, 0), -1);
	assert_int_equal(slots_init(&s, SLOTS_MAX + 1), -1);
	assert_int_equal(slots_init(&s, 256), 0);
	for (int k = 0; k < 256; k++)
		assert_int_equal(slots_take(&s), k);
	assert_int_equal(slots_take(&s), -1);
	/* Given back: not reusable before a clean job. */
	slots_release(&s, 17);
	slots_release(&s, 17);   /* twice: once */
	assert_int_equal(slots_take(&s), -1);
	assert_int_equal(slots_in_use(&s), 256);
	assert_int_equal(slots_clean_job(&s), 1);
	assert_int_equal(slots_in_use(&s), 255);
	assert_int_equal(slots_take(&s), 17);
	assert_int_equal(slots_clean_job(&s), 0);
	slots_fini(&s);

	/* Not a multiple of 64: the tail is never handed out. */
	assert_int_equal(slots_init(&s, 70), 0);
	for (int k = 0; k < 70; k++)
		assert_true(slots_take(&s) >= 0);
	assert_int_equal(slots_take(&s), -1);
	slots_release(&s, 69);
	slots_release(&s, 70); /* out of range: ignored */
	slots_release(&s, 500);
	assert_int_equal(slots_clean_job(&s), 1);
	i = slots_take(&s);
	assert_int_equal(i, 69);
	slots_fini(&s);

	slots_encode(0x0102, 2, en);
	assert_int_equal(en[0], 0x01);
	assert_int_equal(en[1], 0x02);
	slots_encode(0xa1b2c3d4u, 4, en);
	assert_memory_equal(en, "\xa1\xb2\xc3\xd4", 4);
	{
		uint8_t wide[8];

		slots_encode(5, 8, wide);
		assert_memory_equal(wide, "\0\0\0\0\0\0\0\x05", 8);
	}
}

static void
test_dupset(void **state)
{
	struct dupset *d = dupset_new();
	uint8_t en[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t k1 = dupset_key(42, en, 8, 100, 7, 0x20000000);
	uint64_t k2 = dupset_key(42, en, 8, 100, 8, 0x20000000);

	(void)state;
	assert_true(k1 != k2);
	/* The slot is part of the extranonce: another miner, another key. */
	en[0] = 9;
	assert_true(dupset_key(42, en, 8, 100, 7, 0x20000000) != k1);
	assert_true(dupset_key(43, en, 8, 100, 7, 0x20000000) !=
	    dupset_key(42, en, 8, 100, 7, 0x20000000));
	assert_int_equal(dupset_add(d, k1), 1);
	assert_int_equal(dupset_add(d, k1), 0);
	assert_true(dupset_has(d, k1));
	assert_false(dupset_has(d, k2));
	for (uint32_t n = 0; n < 10000; n++)
		dupset_add(d, dupset_key(1, en, 8, 0, n, 0));
	assert_int_equal(dupset_count(d), 10001);
	assert_true(dupset_has(d, k1));
	dupset_free(d);
	dupset_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vardiff_converges),
		cmocka_unit_test(test_vardiff_quiet_and_limits),
		cmocka_unit_test(test_vardiff_poisson),
		cmocka_unit_test(test_vardiff_retarget_pace),
		cmocka_unit_test(test_vardiff_round),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_dupset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
