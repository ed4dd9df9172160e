/*
 * jobs.c: a worker thread's table of aggregation jobs (see jobs.h).
 */
#include "mining/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mining/dupset.h"
#include "util/xmalloc.h"

int
mining_coinbase_height(const uint8_t *c, size_t len, int64_t *height)
{
	/* version (4) | 1 input | prevout: 32 zero bytes, index ffffffff |
	 * script length | script: a push of 1-8 bytes, little-endian. */
	size_t off = 4, n;
	uint64_t h = 0;

	if (len < off + 1 + 36 + 2 || c[off] != 1)
		return -1;
	off += 1;
	for (size_t i = 0; i < 32; i++)
		if (c[off + i] != 0)
			return -1;
	if (memcmp(c + off + 32, "\xff\xff\xff\xff", 4) != 0)
		return -1;
	off += 36;
	if (c[off] >= 0xfd)
		off += 3; /* a long scriptSig: 2-byte length */
	else
		off += 1;
	if (off >= len)
		return -1;
	n = c[off++];
	/* A height push is a few bytes (3 until block 8,388,608); more
	 * than 5 is not a height. Little-endian, sign bit in the last. */
	if (n < 1 || n > 5 || off + n > len || (c[off + n - 1] & 0x80))
		return -1;
	for (size_t i = n; i > 0; i--)
		h = h << 8 | c[off + i - 1];
	*height = (int64_t)h;
	return 0;
}

int
mining_job_init(struct mining_job *j, uint32_t id, uint32_t upstream,
    const char *pool_en1hex, const char *pool_job_id, const char *prevhash,
    const char *coinb1, const char *coinb2, const char *const *branch,
    size_t nbranch, const char *version, const char *nbits,
    const char *ntime, bool clean, double pool_diff, uint32_t mask)
{
	char idhex[9], *cb1;
	size_t l1, le;
	int rc;

	memset(j, 0, sizeof(*j));
	if (pool_job_id == NULL || coinb1 == NULL || pool_en1hex == NULL ||
	    strlen(pool_job_id) > SHARE_JOB_ID_MAX || pool_job_id[0] == '\0')
		return -1;
	l1 = strnlen(coinb1, 2 * SHARE_COINBASE_MAX + 1);
	le = strnlen(pool_en1hex, 2 * SHARE_EXTRANONCE_MAX + 1);
	if (l1 > 2 * SHARE_COINBASE_MAX || le > 2 * SHARE_EXTRANONCE_MAX)
		return -1;
	cb1 = xmalloc(l1 + le + 1);
	memcpy(cb1, coinb1, l1);
	memcpy(cb1 + l1, pool_en1hex, le + 1);
	snprintf(idhex, sizeof(idhex), "%08x", id);
	rc = share_job_init(&j->sj, idhex, prevhash, cb1, coinb2, branch,
	    nbranch, version, nbits, ntime, clean);
	free(cb1);
	if (rc != 0) {
		memset(j, 0, sizeof(*j));
		return -1;
	}
	j->id = id;
	j->upstream = upstream;
	snprintf(j->pool_job_id, sizeof(j->pool_job_id), "%s", pool_job_id);
	if (mining_coinbase_height(j->sj.coinb, j->sj.coinb1_len +
	    j->sj.coinb2_len, &j->height) != 0)
		j->height = -1;
	j->pool_diff = pool_diff;
	j->version_mask = mask;
	return 0;
}

void
mining_jobs_init(struct mining_jobs *t)
{
	memset(t, 0, sizeof(*t));
	t->tip = -1;
}

static void
job_free(struct mining_job *j)
{
	if (j == NULL)
		return;
	dupset_free(j->dups);
	free(j);
}

void
mining_jobs_fini(struct mining_jobs *t)
{
	for (size_t i = 0; i < MINING_JOBS_KEEP; i++)
		job_free(t->ring[i]);
	mining_jobs_init(t);
}

struct mining_job *
mining_jobs_add(struct mining_jobs *t, const struct mining_job *j)
{
	struct mining_job *c = xmalloc(sizeof(*c));

	memcpy(c, j, sizeof(*c));
	c->dups = dupset_new();
	c->stale = j->height >= 0 && j->height < t->tip;
	if (j->height > t->tip)
		t->tip = j->height;
	for (size_t i = 0; i < MINING_JOBS_KEEP; i++) {
		struct mining_job *o = t->ring[i];

		if (o == NULL || o->stale)
			continue;
		if ((j->sj.clean && o->upstream == j->upstream) ||
		    (o->height >= 0 && o->height < t->tip))
			o->stale = true;
	}
	job_free(t->ring[t->next]);
	t->ring[t->next] = c;
	t->next = (t->next + 1) % MINING_JOBS_KEEP;
	return c;
}

struct mining_job *
mining_jobs_find(struct mining_jobs *t, uint32_t id)
{
	for (size_t i = 0; i < MINING_JOBS_KEEP; i++)
		if (t->ring[i] != NULL && t->ring[i]->id == id)
			return t->ring[i];
	return NULL;
}
