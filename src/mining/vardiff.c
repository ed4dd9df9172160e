/*
 * vardiff.c: per-miner variable difficulty (see vardiff.h).
 */
#include "mining/vardiff.h"

#include <math.h>

static double
max2(double a, double b)
{
	return a > b ? a : b;
}

/* Floor, then ceiling: the ceiling wins. */
static double
clamp(const struct vardiff *v, double d)
{
	if (d < v->floor)
		d = v->floor;
	if (v->ceiling > 0 && d > v->ceiling)
		d = v->ceiling;
	return d;
}

static void
refloor(struct vardiff *v)
{
	v->floor = max2(max2(v->min_cfg, v->suggested),
	    max2(v->minimum, VARDIFF_ABS_MIN));
}

double
vardiff_round(double d)
{
	double scale;

	if (!isfinite(d) || d < VARDIFF_ABS_MIN)
		return VARDIFF_ABS_MIN;
	if (d >= 1)
		return floor(d);
	/* Two significant digits: 0.000153 -> 0.00015. */
	scale = pow(10, floor(log10(d)) - 1);
	return floor(d / scale + 1e-9) * scale;
}

void
vardiff_init(struct vardiff *v, double start, double min,
    double target_per_min, int64_t retarget_ms, int64_t now_ms)
{
	v->min_cfg = isfinite(min) && min > 0 ? min : VARDIFF_ABS_MIN;
	v->suggested = v->minimum = 0;
	v->ceiling = 0;
	refloor(v);
	v->target_per_s = (isfinite(target_per_min) && target_per_min > 0 ?
	    target_per_min : 15) / 60.0;
	v->retarget_ms = retarget_ms > 0 ? retarget_ms : 0;
	v->rate = v->far_rate = v->measured_s = 0;
	v->has_rate = false;
	v->sum_diff = 0;
	v->nshares = 0;
	v->window_ms = now_ms;
	/* The first measurement may change it at once. */
	v->changed_ms = now_ms - v->retarget_ms;
	v->diff = clamp(v, isfinite(start) && start > 0 ? start : v->floor);
}

int
vardiff_suggest(struct vardiff *v, double diff)
{
	if (!isfinite(diff) || diff <= 0)
		return -1;
	v->suggested = diff;
	refloor(v);
	v->diff = clamp(v, v->has_rate ? v->diff : diff);
	return 0;
}

int
vardiff_minimum(struct vardiff *v, double diff)
{
	if (!isfinite(diff) || diff <= 0)
		return -1;
	v->minimum = diff;
	refloor(v);
	v->diff = clamp(v, v->diff);
	return 0;
}

void
vardiff_set_ceiling(struct vardiff *v, double pool_diff)
{
	v->ceiling = isfinite(pool_diff) && pool_diff > 0 ? pool_diff : 0;
	v->diff = clamp(v, v->diff);
}

void
vardiff_share(struct vardiff *v, double job_diff)
{
	if (isfinite(job_diff) && job_diff > 0)
		v->sum_diff += job_diff;
	v->nshares++;
}

bool
vardiff_retarget(struct vardiff *v, int64_t now_ms)
{
	double el = (double)(now_ms - v->window_ms) / 1000.0;
	double expected = 1.0 / v->target_per_s, r, ideal, next;
	bool far;

	if (el <= 0 || (v->nshares < VARDIFF_MIN_SHARES &&
	    el < 2 * VARDIFF_MIN_SHARES * expected))
		return false;
	/* Quiet: as if a share at the current difficulty came now. */
	r = v->nshares > 0 ? v->sum_diff / el : v->diff / el;
	far = v->has_rate && (r > 4 * v->rate || r < v->rate / 4);
	if (!v->has_rate || (far && v->nshares == 0)) {
		/* First measurement, or not one share in twelve expected
		 * intervals (chance: e^-12): take it. */
		v->rate = r;
		v->far_rate = 0;
		v->measured_s = el;
	} else if (far && v->far_rate > 0 &&
	    (r > v->rate) == (v->far_rate > v->rate)) {
		/* Two windows in a row far off on the same side: the miner
		 * changed. */
		v->rate = (r + v->far_rate) / 2;
		v->far_rate = 0;
		v->measured_s = el;
	} else if (far) {
		/* One window far off is chance (six shares vary a lot):
		 * remembered, and confirmed or forgotten by the next. */
		v->far_rate = r;
	} else {
		v->far_rate = 0;
		/* Young estimates are the average over everything measured
		 * (a first window of a few shares is far from exact); past
		 * VARDIFF_SMOOTH_S, a moving average. */
		double w = el / VARDIFF_SMOOTH_S;
		double young = el / (v->measured_s + el);

		if (young > w)
			w = young;
		if (w > 1)
			w = 1;
		v->rate = v->rate * (1 - w) + r * w;
		v->measured_s += el;
	}
	v->has_rate = true;
	v->sum_diff = 0;
	v->nshares = 0;
	v->window_ms = now_ms;
	ideal = v->rate / v->target_per_s;
	if (ideal < v->diff * VARDIFF_HYSTERESIS &&
	    ideal > v->diff / VARDIFF_HYSTERESIS)
		return false;
	if (now_ms - v->changed_ms < v->retarget_ms)
		return false;
	next = clamp(v, vardiff_round(clamp(v, ideal)));
	if (next == v->diff)
		return false;
	v->diff = next;
	v->changed_ms = now_ms;
	return true;
}
