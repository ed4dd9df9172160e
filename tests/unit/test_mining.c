/*
 * test_mining.c: the aggregation building blocks in src/mining/: vardiff
 * converges on a miner's hashrate whatever it starts from, falls when the
 * miner goes quiet, honours its floor and the pool's ceiling, rounds down;
 * the extranonce split follows the firmware limits; slots are not reused
 * before a clean job; duplicate sets; the job table and the local share
 * verdict on real hashes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mining/check.h"
#include "mining/dupset.h"
#include "mining/jobs.h"
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

/* A new miner is near its difficulty within three minutes: early
 * windows are averaged, not trusted one by one (eight seeds, starting
 * 100x too low). */
static void
test_vardiff_converges_poisson(void **state)
{
	double rate = 2e12 / 4294967296.0, ideal = rate * 4;

	(void)state;
	for (uint64_t seed = 1; seed <= 8; seed++) {
		uint64_t x = seed * 0x9e3779b97f4a7c15ULL;
		struct vardiff v;
		double t = 0;

		vardiff_init(&v, ideal / 100, 0.001, 15, 5000, 0);
		while (t < 180) {
			double u, d = v.diff;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
			t += -log(u) * d / rate;
			vardiff_share(&v, d);
			vardiff_retarget(&v, (int64_t)(t * 1000));
		}
		assert_true(v.diff > ideal / 1.6 && v.diff < ideal * 1.6);
	}
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

/* ---- jobs and the local verdict ---- */

/* A coinbase's first half, BIP34 height `h` (3 bytes), as a pool sends. */
static void
coinb1_hex(char *out, size_t len, uint32_t h)
{
	snprintf(out, len, "01000000" "01"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "ffffffff" "20" "03%02x%02x%02x" "0c", h & 0xff, (h >> 8) & 0xff,
	    (h >> 16) & 0xff);
}

static const char *const branch[] = {
	"3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a",
	"0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098",
};
#define PREVHASH \
	"00000000000000000001a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
#define COINB2 "2f6c6f6b612fffffffff0100f2052a01000000160014" \
	"0000000000000000000000000000000000000000" "00000000"

static void
make_job(struct mining_job *j, uint32_t id, uint32_t upstream, uint32_t h,
    bool clean, const char *nbits)
{
	char cb1[256];

	coinb1_hex(cb1, sizeof(cb1), h);
	assert_int_equal(mining_job_init(j, id, upstream, "f000000d", "pj-7",
	    PREVHASH, cb1, COINB2, branch, 2, "20000000", nbits, "65000000",
	    clean, 1e-5, 0x1fffe000), 0);
}

/* The first nonce from `from` whose share meets (or, want_low, misses)
 * miner_diff: real hashing. */
static uint32_t
grind(const struct mining_job *j, const uint8_t *slot, const char *en2,
    uint32_t from, double diff, bool want_low)
{
	for (uint32_t n = from;; n++) {
		struct share_result r;
		char nonce[9];

		snprintf(nonce, sizeof(nonce), "%08x", n);
		assert_int_equal(share_check(&j->sj, slot, 2, 4, en2,
		    "65000000", nonce, NULL, 0, &r), 0);
		if (share_meets_difficulty(r.hash, diff) != want_low)
			return n;
	}
}

static void
test_coinbase_height(void **state)
{
	struct mining_job j;
	uint8_t bad[64] = { 0 };
	int64_t h;

	(void)state;
	make_job(&j, 1, 0, 900000, true, "1d00ffff");
	assert_int_equal(j.height, 900000);
	/* The pool's extranonce1 follows coinb1 in what miners hash. */
	assert_memory_equal(j.sj.coinb + j.sj.coinb1_len - 4,
	    "\xf0\x00\x00\x0d", 4);
	assert_string_equal(j.sj.job_id, "00000001");
	assert_string_equal(j.pool_job_id, "pj-7");
	assert_int_equal(mining_coinbase_height(bad, sizeof(bad), &h), -1);
	/* An input with an 8-byte push, the top bit set: not a height (the
	 * fuzzer's find: it overflowed the sum). */
	{
		uint8_t cb[64] = { 1, 0, 0, 0, 1 };

		memset(cb + 37, 0xff, 4);
		cb[41] = 20;
		cb[42] = 8;
		memset(cb + 43, 0xff, 8);
		assert_int_equal(mining_coinbase_height(cb, sizeof(cb), &h),
		    -1);
		cb[42] = 3;
		cb[43] = 0xa0, cb[44] = 0xbb, cb[45] = 0x0d;
		assert_int_equal(mining_coinbase_height(cb, sizeof(cb), &h),
		    0);
		assert_int_equal(h, 900000);
	}
	assert_int_not_equal(mining_job_init(&j, 2, 0, "zz", "pj", PREVHASH,
	    "00", COINB2, NULL, 0, "20000000", "1d00ffff", "65000000", false,
	    1, 0), 0);
}

static void
test_jobs_stale_and_evicted(void **state)
{
	struct mining_jobs t;
	struct mining_job j;
	struct mining_job *a, *b, *c;

	(void)state;
	mining_jobs_init(&t);
	make_job(&j, 1, 0, 900000, true, "1d00ffff");
	a = mining_jobs_add(&t, &j);
	make_job(&j, 2, 1, 900000, true, "1d00ffff");
	b = mining_jobs_add(&t, &j);
	assert_false(a->stale); /* another upstream's clean job */
	make_job(&j, 3, 0, 900000, false, "1d00ffff");
	mining_jobs_add(&t, &j);
	assert_false(a->stale);
	make_job(&j, 4, 0, 900000, true, "1d00ffff");
	mining_jobs_add(&t, &j);
	assert_true(a->stale);  /* its upstream said clean */
	assert_false(b->stale);
	/* A new block on upstream 0: upstream 1's jobs are stale too. */
	make_job(&j, 5, 0, 900001, true, "1d00ffff");
	c = mining_jobs_add(&t, &j);
	assert_true(b->stale);
	/* A job for the old block arriving late is stale at once. */
	make_job(&j, 6, 1, 900000, false, "1d00ffff");
	assert_true(mining_jobs_add(&t, &j)->stale);
	assert_ptr_equal(mining_jobs_find(&t, 5), c);
	assert_null(mining_jobs_find(&t, 99));
	for (uint32_t id = 100; id < 100 + MINING_JOBS_KEEP; id++) {
		make_job(&j, id, 2, 900001, false, "1d00ffff");
		mining_jobs_add(&t, &j);
	}
	assert_null(mining_jobs_find(&t, 5)); /* evicted: unknown */
	assert_non_null(mining_jobs_find(&t, 100));
	mining_jobs_fini(&t);
}

static void
test_check(void **state)
{
	static const uint8_t slot[2] = { 0x00, 0x2a };
	struct mining_jobs t;
	struct mining_job j, *job;
	struct mining_share s;
	char nonce[9];
	uint32_t ok, low, fwd;
	double md = 1e-6;

	(void)state;
	mining_jobs_init(&t);
	make_job(&j, 1, 0, 900000, true, "1d00ffff");
	job = mining_jobs_add(&t, &j);
	assert_int_equal(mining_check(NULL, slot, 2, 4, "00000001",
	    "65000000", "00000000", NULL, 0, md, 7, &s), MINING_UNKNOWN_JOB);
	assert_int_equal(mining_verdict_code(s.verdict), 21);

	/* Meets the miner's difficulty, not the pool's: accepted here,
	 * not forwarded. */
	ok = 0;
	for (;;) {
		ok = grind(job, slot, "00000001", ok, md, false);
		snprintf(nonce, sizeof(nonce), "%08x", ok);
		if (mining_check(job, slot, 2, 4, "00000001", "65000000",
		    nonce, NULL, 0, md, 7, &s) == MINING_OK && !s.forward)
			break;
		ok++;
	}
	assert_true(s.r.difficulty >= md && s.r.difficulty < 1e-5);
	/* Again: a duplicate. */
	assert_int_equal(mining_check(job, slot, 2, 4, "00000001", "65000000",
	    nonce, NULL, 0, md, 7, &s), MINING_DUPLICATE);
	assert_int_equal(mining_verdict_code(s.verdict), 22);
	/* The same nonce from another miner (slot) is another share. */
	assert_int_not_equal(mining_check(job, (const uint8_t *)"\x00\x2b", 2,
	    4, "00000001", "65000000", nonce, NULL, 0, 1e-300, 7, &s),
	    MINING_DUPLICATE);

	/* Below the miner's difficulty. */
	low = grind(job, slot, "00000002", 0, md, true);
	snprintf(nonce, sizeof(nonce), "%08x", low);
	assert_int_equal(mining_check(job, slot, 2, 4, "00000002", "65000000",
	    nonce, NULL, 0, md, 7, &s), MINING_LOW_DIFFICULTY);
	assert_int_equal(mining_verdict_code(s.verdict), 23);
	assert_false(s.forward);

	/* Meets the pool's difficulty: forwarded. */
	fwd = grind(job, slot, "00000003", 0, 1e-5, false);
	snprintf(nonce, sizeof(nonce), "%08x", fwd);
	assert_int_equal(mining_check(job, slot, 2, 4, "00000003", "65000000",
	    nonce, NULL, 0, md, 7, &s), MINING_OK);
	assert_true(s.forward);
	assert_false(s.block);

	/* ntime before the job's, or too far ahead. */
	assert_int_equal(mining_check(job, slot, 2, 4, "00000004", "64ffffff",
	    "00000000", NULL, 0, md, 7, &s), MINING_BAD_NTIME);
	assert_int_equal(mining_check(job, slot, 2, 4, "00000004", "65001b59",
	    "00000000", NULL, 0, md, 7, &s), MINING_BAD_NTIME);
	assert_int_not_equal(mining_check(job, slot, 2, 4, "00000004",
	    "65001b58", "00000000", NULL, 0, md, 7, &s), MINING_BAD_NTIME);
	/* Version bits outside the mask; fields that do not parse. */
	assert_int_equal(mining_check(job, slot, 2, 4, "00000004", "65000000",
	    "00000000", "00000001", 0x1fffe000, md, 7, &s),
	    MINING_BAD_VERSION);
	assert_int_equal(mining_check(job, slot, 2, 4, "0004", "65000000",
	    "00000000", NULL, 0, md, 7, &s), MINING_MALFORMED);
	assert_int_equal(mining_check(job, slot, 2, 4, "00000004", "65000000",
	    "nonce!!!", NULL, 0, md, 7, &s), MINING_MALFORMED);
	assert_int_equal(mining_verdict_code(s.verdict), 20);

	/* Stale once the upstream says clean. */
	make_job(&j, 2, 0, 900000, true, "1d00ffff");
	mining_jobs_add(&t, &j);
	snprintf(nonce, sizeof(nonce), "%08x", fwd);
	assert_int_equal(mining_check(job, slot, 2, 4, "00000003", "65000000",
	    nonce, NULL, 0, md, 7, &s), MINING_STALE);
	assert_false(s.forward);
	mining_jobs_fini(&t);

	/* A block candidate goes to the pool even when stale. With regtest's
	 * nbits half of all hashes are blocks. */
	mining_jobs_init(&t);
	make_job(&j, 9, 0, 900000, true, "207fffff");
	job = mining_jobs_add(&t, &j);
	make_job(&j, 10, 0, 900001, true, "207fffff");
	mining_jobs_add(&t, &j);
	for (uint32_t n = 0; n < 64; n++) {
		snprintf(nonce, sizeof(nonce), "%08x", n);
		assert_int_equal(mining_check(job, slot, 2, 4, "00000005",
		    "65000000", nonce, NULL, 0, md, 7, &s), MINING_STALE);
		assert_true(s.forward == s.block);
		if (s.block)
			break;
	}
	assert_true(s.block);
	mining_jobs_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vardiff_converges),
		cmocka_unit_test(test_vardiff_quiet_and_limits),
		cmocka_unit_test(test_vardiff_poisson),
		cmocka_unit_test(test_vardiff_converges_poisson),
		cmocka_unit_test(test_vardiff_retarget_pace),
		cmocka_unit_test(test_vardiff_round),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_dupset),
		cmocka_unit_test(test_coinbase_height),
		cmocka_unit_test(test_jobs_stale_and_evicted),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
