/*
 * ratelimit.h: a token bucket.
 *
 * A bucket holds at most burst tokens and gains rate tokens per second;
 * each event takes one. It is plain data with no lock: the owner (one
 * session on one worker thread, or one entry of the security table under
 * its mutex) is the only one who touches it. Times are monotonic
 * milliseconds supplied by the caller, so tests need no clock.
 */
#ifndef LOKA_SECURITY_RATELIMIT_H
#define LOKA_SECURITY_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	double tokens;   /* available now (as of last_ms) */
	int64_t last_ms; /* when tokens was last brought up to date */
};

/*
 * ratelimit_init(rl, burst, now_ms): a full bucket (burst tokens) at
 * now_ms.
 */
void ratelimit_init(struct ratelimit *rl, double burst, int64_t now_ms);

/*
 * ratelimit_take(rl, rate, burst, now_ms): refill rl for the time since its
 * last use (at most up to burst), then take one token. Returns true when a
 * token was there (the event is within the limit), false when the bucket
 * was empty (nothing taken). rate <= 0 means "no limit": always true. A
 * clock that goes backwards refills nothing.
 */
bool ratelimit_take(struct ratelimit *rl, double rate, double burst,
    int64_t now_ms);

/*
 * ratelimit_full(rl, rate, burst, now_ms): whether rl would be full at
 * now_ms (it has refilled since its last use): an entry with a full bucket
 * holds no state worth keeping.
 */
bool ratelimit_full(const struct ratelimit *rl, double rate, double burst,
    int64_t now_ms);

#endif
