/*
 * check.h: Loka's own verdict on a miner's share, in aggregation mode.
 *
 * Every share is checked on the worker thread against the job it names
 * (jobs.h): the header is rebuilt with the miner's slot and extranonce2,
 * hashed (sha256d) and compared with the difficulty the miner had for that
 * job. Only shares that also meet the pool's difficulty go upstream; a
 * block candidate always does, whatever else is wrong with it (stale,
 * duplicate), because a block found is worth more than any rule.
 *
 * Order of the checks: the job is known, the fields parse, the version
 * bits are inside the mask granted to the miner, then (after the block
 * test) the job is not stale, ntime is not before the job's nor more than
 * MINING_NTIME_AHEAD_S ahead, the share was not accepted before, and the
 * hash meets the miner's difficulty.
 */
#ifndef LOKA_MINING_CHECK_H
#define LOKA_MINING_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stratum/share.h"

/* Bitcoin refuses blocks more than 2 hours ahead of network time; a
 * little less leaves room for the pool's clock. */
#define MINING_NTIME_AHEAD_S 7000

enum mining_verdict {
	MINING_OK = 0,
	MINING_UNKNOWN_JOB,   /* never seen, or no longer kept */
	MINING_STALE,         /* a newer block or a clean job since */
	MINING_DUPLICATE,
	MINING_LOW_DIFFICULTY,
	MINING_BAD_NTIME,
	MINING_BAD_VERSION,   /* bits outside the granted mask */
	MINING_MALFORMED,     /* a field that does not parse */
	MINING_VERDICT_MAX
};

struct mining_share {
	enum mining_verdict verdict;
	bool forward;              /* goes to the pool (meets its difficulty,
	                            * or is a block candidate) */
	bool block;                /* solves a block at the job's nbits */
	struct share_result r;     /* header, hash, difficulty (when parsed) */
};

struct mining_job;

/*
 * mining_check(job, slot, slot_len, en2size, en2hex, ntimehex, noncehex,
 *     vbitshex, mask, miner_diff, seed, out): judge one mining.submit of a
 * miner whose extranonce1 is slot[0..slot_len), extranonce2 size en2size,
 * granted version mask `mask`, for `job` (NULL: unknown) at the
 * difficulty it had for that job. An accepted share is remembered in the
 * job's duplicate set (keyed with seed). Fills *out; returns out->verdict.
 */
enum mining_verdict mining_check(struct mining_job *job, const uint8_t *slot,
    size_t slot_len, size_t en2size, const char *en2hex,
    const char *ntimehex, const char *noncehex, const char *vbitshex,
    uint32_t mask, double miner_diff, uint64_t seed,
    struct mining_share *out);

/* The Stratum error code (20 other, 21 job not found / stale, 22
 * duplicate, 23 low difficulty) and message a miner gets for a verdict. */
int mining_verdict_code(enum mining_verdict v);
const char *mining_verdict_str(enum mining_verdict v);

#endif
