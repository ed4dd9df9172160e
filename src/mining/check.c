/*
 * check.c: the local share verdict (see check.h).
 */
#include "mining/check.h"

#include <string.h>

#include "mining/dupset.h"
#include "mining/jobs.h"

static enum mining_verdict
verdict(struct mining_share *out, enum mining_verdict v)
{
	out->verdict = v;
	return v;
}

enum mining_verdict
mining_check(struct mining_job *job, const uint8_t *slot, size_t slot_len,
    size_t en2size, const char *en2hex, const char *ntimehex,
    const char *noncehex, const char *vbitshex, uint32_t mask,
    double miner_diff, uint64_t seed, struct mining_share *out)
{
	uint8_t en[2 * SHARE_EXTRANONCE_MAX];
	uint64_t key;

	memset(out, 0, sizeof(*out));
	if (job == NULL)
		return verdict(out, MINING_UNKNOWN_JOB);
	if (slot_len > SHARE_EXTRANONCE_MAX || en2size > SHARE_EXTRANONCE_MAX)
		return verdict(out, MINING_MALFORMED);
	if (share_check(&job->sj, slot, slot_len, en2size, en2hex, ntimehex,
	    noncehex, vbitshex, mask, &out->r) != 0)
		return verdict(out, out->r.reason == SHARE_VERSION_MASK ?
		    MINING_BAD_VERSION : MINING_MALFORMED);
	/* A block first: it goes to the pool whatever follows. */
	out->block = out->r.is_block;
	out->forward = out->block;
	if (job->stale)
		return verdict(out, MINING_STALE);
	if (out->r.ntime < job->sj.ntime ||
	    out->r.ntime - job->sj.ntime > MINING_NTIME_AHEAD_S)
		return verdict(out, MINING_BAD_NTIME);
	memcpy(en, slot, slot_len);
	if (share_hex_decode(en2hex, 2 * en2size, en + slot_len,
	    sizeof(en) - slot_len) != (ssize_t)en2size)
		return verdict(out, MINING_MALFORMED); /* share_check took it */
	key = dupset_key(seed, en, slot_len + en2size, out->r.ntime,
	    out->r.nonce, out->r.version);
	if (job->dups != NULL && dupset_has(job->dups, key))
		return verdict(out, MINING_DUPLICATE);
	if (!share_meets_difficulty(out->r.hash, miner_diff))
		return verdict(out, MINING_LOW_DIFFICULTY);
	if (job->dups != NULL)
		dupset_add(job->dups, key);
	out->forward = out->block ||
	    share_meets_difficulty(out->r.hash, job->pool_diff);
	return verdict(out, MINING_OK);
}

int
mining_verdict_code(enum mining_verdict v)
{
	switch (v) {
	case MINING_OK:
		return 0;
	case MINING_UNKNOWN_JOB:
	case MINING_STALE:
		return 21;
	case MINING_DUPLICATE:
		return 22;
	case MINING_LOW_DIFFICULTY:
		return 23;
	default:
		return 20;
	}
}

const char *
mining_verdict_str(enum mining_verdict v)
{
	static const char *const s[MINING_VERDICT_MAX] = {
		[MINING_OK] = "accepted",
		[MINING_UNKNOWN_JOB] = "Job not found",
		[MINING_STALE] = "Stale share",
		[MINING_DUPLICATE] = "Duplicate share",
		[MINING_LOW_DIFFICULTY] = "Low difficulty share",
		[MINING_BAD_NTIME] = "ntime out of range",
		[MINING_BAD_VERSION] = "Version bits outside the mask",
		[MINING_MALFORMED] = "Malformed share",
	};

	return (unsigned)v < MINING_VERDICT_MAX ? s[v] : "unknown";
}
