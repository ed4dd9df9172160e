/*
 * jobs.h: the jobs a worker thread can judge shares against, in
 * aggregation mode.
 *
 * Upstream connections receive the pools' jobs; each is given a Loka job
 * id (unique across upstreams, what miners see and submit), its coinb1
 * extended with the pool's extranonce1 (so a miner's extranonce1 is only
 * its slot, see slots.h), and copied to every worker thread, which keeps
 * the last MINING_JOBS_KEEP of them here.
 *
 * A job is stale once a later job of the same upstream said clean_jobs,
 * or once any upstream sent a job for a higher block (BIP34 height, read
 * from the coinbase): pools on one chain agree on what the tip is, and a
 * share for an older block is worth nothing anywhere. A job evicted from
 * the table is unknown.
 *
 * Each job carries its own duplicate set (freed with the job). One thread
 * owns a struct mining_jobs; nothing is locked.
 */
#ifndef LOKA_MINING_JOBS_H
#define LOKA_MINING_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stratum/share.h"

/* Jobs kept per worker thread: a few per upstream connection (up to 8 to
 * the pool miners work for; a pool sends a job every 30-60 s, and a share
 * for a job older than a few minutes is stale anyway). */
#define MINING_JOBS_KEEP 64

struct dupset;

struct mining_job {
	uint32_t id;              /* Loka's job id (8 hex digits on the wire) */
	uint32_t upstream;        /* the connection that issued it */
	char pool_job_id[SHARE_JOB_ID_MAX + 1];
	struct share_job sj;      /* as miners hash it (job_id = Loka's) */
	int64_t height;           /* BIP34 height, -1 when unreadable */
	double pool_diff;         /* the upstream's difficulty when issued */
	uint32_t version_mask;    /* rolling granted upstream, 0: none */
	bool stale;
	struct dupset *dups;      /* shares accepted for it (this thread) */
};

/*
 * mining_job_init(j, id, upstream, pool_en1hex, params, pool_diff, mask):
 * fill j from the pool's mining.notify params (job_id, prevhash, coinb1,
 * coinb2, branch[], version, nbits, ntime, clean, as NUL-terminated
 * strings) with coinb1 followed by the pool's extranonce1. 0, or -1 when
 * a field is malformed or over its cap (share_job_init's rules).
 */
int mining_job_init(struct mining_job *j, uint32_t id, uint32_t upstream,
    const char *pool_en1hex, const char *pool_job_id, const char *prevhash,
    const char *coinb1, const char *coinb2, const char *const *branch,
    size_t nbranch, const char *version, const char *nbits,
    const char *ntime, bool clean, double pool_diff, uint32_t mask);

/*
 * mining_coinbase_height(coinb, len, height): the BIP34 block height at
 * the start of the coinbase scriptSig. 0, or -1 when the bytes are not
 * a coinbase with a height push.
 */
int mining_coinbase_height(const uint8_t *coinb, size_t len,
    int64_t *height);

struct mining_jobs {
	struct mining_job *ring[MINING_JOBS_KEEP]; /* NULL: empty */
	size_t next;              /* the slot the next job takes */
	int64_t tip;              /* highest height seen, -1: none */
};

void mining_jobs_init(struct mining_jobs *t);
void mining_jobs_fini(struct mining_jobs *t);

/*
 * mining_jobs_add(t, j): keep a copy of j (its dups ignored: the copy
 * starts with an empty set), evicting the oldest job; mark what j makes
 * stale. Returns the copy, owned by t.
 */
struct mining_job *mining_jobs_add(struct mining_jobs *t,
    const struct mining_job *j);

/* mining_jobs_find(t, id): the job with Loka id `id`, or NULL when it is
 * unknown (never seen, or evicted). Check ->stale. */
struct mining_job *mining_jobs_find(struct mining_jobs *t, uint32_t id);

#endif
