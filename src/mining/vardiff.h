/*
 * vardiff.h: per-miner variable difficulty for aggregation mode.
 *
 * Each miner gets the difficulty that makes it submit about
 * target_per_min shares a minute, whatever its hashrate: few enough to be
 * cheap to check, many enough to measure the miner and pay it smoothly.
 *
 * The estimate is the miner's work rate in difficulty-1 shares per second
 * (hashrate / 2^32), measured from the difficulty of the shares it sends
 * (each judged by the difficulty of its own job) over windows of at least
 * VARDIFF_MIN_SHARES shares, smoothed across windows: the average of
 * every window while the estimate is younger than VARDIFF_SMOOTH_S, a
 * moving average after (two windows in a row off by more than 4x on the
 * same side replace it: the miner changed). A window without
 * enough shares closes after twice the time they should have taken, and a
 * miner that went quiet is measured as if its next share were arriving
 * now: the difficulty falls geometrically instead of waiting for shares
 * that do not come. A change is made only when the ideal difficulty is off by more
 * than VARDIFF_HYSTERESIS, and not more often than retarget_ms.
 *
 * Difficulty may be fractional (small miners need 0.0001); it is rounded
 * down, never up (rounding up loses a miner's hashrate): to an integer at
 * 1 and above, to two significant digits below. It stays between the floor
 * (the configured minimum, mining.suggest_difficulty or suggest_target,
 * mining.configure's minimum-difficulty) and the ceiling (the pool's
 * difficulty: a share the pool would refuse is worthless), the ceiling
 * winning.
 *
 * Plain data, no I/O, no locks: one miner's vardiff lives on its worker
 * thread.
 */
#ifndef LOKA_MINING_VARDIFF_H
#define LOKA_MINING_VARDIFF_H

#include <stdbool.h>
#include <stdint.h>

/* Shares that make a measurement (fewer: wait, up to four intervals). */
#define VARDIFF_MIN_SHARES 6
/* Ideal/current ratio that warrants a change (and its inverse). */
#define VARDIFF_HYSTERESIS 1.5
/* Weight of the newest window in the smoothed rate, per window second
 * over this many seconds (longer windows count more). */
#define VARDIFF_SMOOTH_S 300.0
/* Nothing below this, whatever is asked (keeps the arithmetic finite). */
#define VARDIFF_ABS_MIN 1e-8

struct vardiff {
	double diff;           /* what the next job carries */
	double floor, ceiling; /* ceiling 0: none (no pool difficulty yet) */
	double min_cfg;        /* the parts of the floor: configured, */
	double suggested;      /* suggest_difficulty / suggest_target, */
	double minimum;        /* configure's minimum-difficulty (0: none) */
	double target_per_s;   /* shares per second aimed at */
	int64_t retarget_ms;   /* least time between two changes */
	double rate;           /* smoothed diff-1 shares per second, or 0 */
	double far_rate;       /* last window's, when it was 4x off (or 0) */
	double measured_s;     /* seconds of windows behind rate */
	bool has_rate;
	double sum_diff;       /* in the current window */
	uint32_t nshares;
	int64_t window_ms;     /* start of the current window */
	int64_t changed_ms;    /* last change (or start) */
};

/*
 * vardiff_init(v, start, min, target_per_min, retarget_ms, now_ms): start
 * at `start` (clamped to min), aiming at target_per_min shares a minute.
 */
void vardiff_init(struct vardiff *v, double start, double min,
    double target_per_min, int64_t retarget_ms, int64_t now_ms);

/*
 * vardiff_suggest(v, diff): mining.suggest_difficulty (or suggest_target,
 * converted): the floor from now on (a later suggestion replaces it), and
 * the difficulty to start from while the miner is not measured yet.
 * vardiff_minimum(v, diff): mining.configure's minimum-difficulty, a floor
 * of its own. Both: -1 (nothing changed) unless diff is finite and > 0.
 */
int vardiff_suggest(struct vardiff *v, double diff);
int vardiff_minimum(struct vardiff *v, double diff);

/* The pool's difficulty for the miner's upstream: the ceiling (0: none). */
void vardiff_set_ceiling(struct vardiff *v, double pool_diff);

/* A share the miner sent, valid or not, judged at job_diff. */
void vardiff_share(struct vardiff *v, double job_diff);

/*
 * vardiff_retarget(v, now_ms): close the window if it is complete and
 * decide. Returns true with v->diff changed when the miner should get a
 * new difficulty (with its next job); false when it keeps the one it has.
 * Cheap: call it on every share and on every job.
 */
bool vardiff_retarget(struct vardiff *v, int64_t now_ms);

/* vardiff_round(d): d rounded down as described above (exported for
 * tests). */
double vardiff_round(double d);

#endif
