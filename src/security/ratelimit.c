/*
 * ratelimit.c: token buckets (see ratelimit.h). No state of its own, no
 * lock: the caller owns each bucket.
 */
#include "security/ratelimit.h"

void
ratelimit_init(struct ratelimit *rl, double burst, int64_t now_ms)
{
	rl->tokens = burst;
	rl->last_ms = now_ms;
}

static double
refilled(const struct ratelimit *rl, double rate, double burst,
    int64_t now_ms)
{
	double t = rl->tokens;

	if (now_ms > rl->last_ms)
		t += (double)(now_ms - rl->last_ms) * rate / 1000.0;
	return t > burst ? burst : t;
}

bool
ratelimit_take(struct ratelimit *rl, double rate, double burst,
    int64_t now_ms)
{
	if (rate <= 0)
		return true;
	rl->tokens = refilled(rl, rate, burst, now_ms);
	if (now_ms > rl->last_ms)
		rl->last_ms = now_ms;
	if (rl->tokens < 1.0)
		return false;
	rl->tokens -= 1.0;
	return true;
}

bool
ratelimit_full(const struct ratelimit *rl, double rate, double burst,
    int64_t now_ms)
{
	return rate <= 0 || refilled(rl, rate, burst, now_ms) >= burst;
}
