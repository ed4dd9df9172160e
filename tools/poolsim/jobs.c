/*
 * jobs.c: loka-poolsim's jobs (see poolsim.h).
 *
 * A job looks like a real pool's: the coinbase is a version-1 transaction
 * whose scriptSig starts with the BIP34 height push, then a push of the
 * extranonce placeholder (the gap between coinb1 and coinb2), then a pool
 * tag; its outputs pay the block reward to a P2WPKH script and carry a
 * witness commitment. The merkle branch is a few random hashes, as if the
 * block held other transactions. version 0x20000000, nbits 0x1d00ffff
 * (difficulty 1: shares of a fractional difficulty never solve blocks),
 * ntime the wall clock, prevhash random per block.
 *
 * Each job is built once as the mining.notify strings, decoded back with
 * share_job_init() (so the pool judges exactly what miners hash), and
 * serialized as two ready notify lines (clean_jobs false and true) that
 * broadcasts copy to every connection.
 *
 * The live set is the last JOBS_KEEP jobs since the last clean one, oldest
 * first. Single-threaded (the event loop's).
 */
#include <event2/buffer.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolsim.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Merkle branch length: a block of 5-8 transactions. */
#define JOBS_BRANCH		3
/* Block reward in satoshis (3.125 BTC, the 2024 subsidy). */
#define JOBS_REWARD		312500000ULL
/* Coinbase scriptSig tag, as pools sign their blocks. */
#define JOBS_TAG		"/loka-poolsim/"
/* First block height: around mainnet's, chosen at random per run. */
#define JOBS_HEIGHT_BASE	850000
#define JOBS_HEIGHT_SPREAD	100000
#define JOBS_VERSION		"20000000"
#define JOBS_NBITS		"1d00ffff"
/* Longest coinb1 or coinb2 we build, in bytes (they are ~60 and ~90). */
#define JOBS_COINB_MAX		256

struct jobs {
	struct jobs_job	*live[JOBS_KEEP];	/* oldest first */
	size_t		 nlive;
	uint64_t	 seq;		/* last job's sequence number */
	uint64_t	 id_base;	/* job id = hex(id_base + seq) */
	uint32_t	 height;	/* current block's height */
	uint32_t	 last_ntime;
	uint8_t		 prevhash[32];	/* current block's, header order */
	uint8_t		 payout[20];	/* P2WPKH key hash of the reward */
	size_t		 en_size;	/* extranonce1 + extranonce2 bytes */
};

/* A small append-only byte buffer with a fixed cap. */
struct jobs_buf {
	uint8_t	 b[JOBS_COINB_MAX];
	size_t	 n;
};

static void
jobs_random(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1) {
		log_errorx("poolsim", "the random number generator failed");
		abort();
	}
}

static void
buf_put(struct jobs_buf *b, const void *p, size_t n)
{
	/* Sizes are ours and small: overflowing is a bug, not input. */
	if (n > sizeof(b->b) - b->n)
		abort();
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
buf_byte(struct jobs_buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

static void
buf_le32(struct jobs_buf *b, uint32_t v)
{
	uint8_t le[4] = { v & 0xff, v >> 8 & 0xff, v >> 16 & 0xff, v >> 24 };

	buf_put(b, le, sizeof(le));
}

static void
buf_le64(struct jobs_buf *b, uint64_t v)
{
	buf_le32(b, (uint32_t)v);
	buf_le32(b, (uint32_t)(v >> 32));
}

/* Append the script push of a BIP34 height (a minimal CScriptNum). */
static void
buf_height(struct jobs_buf *b, uint32_t height)
{
	uint8_t num[5];
	size_t n = 0;

	while (height > 0) {
		num[n++] = height & 0xff;
		height >>= 8;
	}
	if (n > 0 && num[n - 1] & 0x80)
		num[n++] = 0;	/* keep the number positive */
	buf_byte(b, (uint8_t)n);
	buf_put(b, num, n);
}

/* Hex of b, newly allocated. */
static char *
buf_hex(const struct jobs_buf *b)
{
	char *hex = xmalloc(2 * b->n + 1);

	share_hex_encode(b->b, b->n, hex);
	return hex;
}

/*
 * Build coinb1 and coinb2 for the current block; the witness commitment is
 * random per job, as a new job carries new transactions.
 */
static void
jobs_coinbase(const struct jobs *js, char **coinb1, char **coinb2)
{
	static const uint8_t null_prevout[32];
	static const uint8_t commit_head[] = { 0x6a, 0x24, 0xaa, 0x21, 0xa9,
		0xed };
	struct jobs_buf height = { .n = 0 }, c1 = { .n = 0 }, c2 = { .n = 0 };
	uint8_t commitment[32];
	size_t taglen = strlen(JOBS_TAG);

	buf_height(&height, js->height);
	jobs_random(commitment, sizeof(commitment));

	buf_le32(&c1, 1);			/* tx version */
	buf_byte(&c1, 1);			/* one input */
	buf_put(&c1, null_prevout, sizeof(null_prevout));
	buf_le32(&c1, 0xffffffff);		/* prevout index */
	/* scriptSig: height push, extranonce push, tag push (< 100 bytes) */
	buf_byte(&c1, (uint8_t)(height.n + 1 + js->en_size + 1 + taglen));
	buf_put(&c1, height.b, height.n);
	buf_byte(&c1, (uint8_t)js->en_size);	/* push of the extranonces */

	buf_byte(&c2, (uint8_t)taglen);
	buf_put(&c2, JOBS_TAG, taglen);
	buf_le32(&c2, 0xffffffff);		/* sequence */
	buf_byte(&c2, 2);			/* two outputs */
	buf_le64(&c2, JOBS_REWARD);
	buf_byte(&c2, 22);			/* OP_0 <20 bytes>: P2WPKH */
	buf_byte(&c2, 0x00);
	buf_byte(&c2, 20);
	buf_put(&c2, js->payout, sizeof(js->payout));
	buf_le64(&c2, 0);
	buf_byte(&c2, (uint8_t)(sizeof(commit_head) + sizeof(commitment)));
	buf_put(&c2, commit_head, sizeof(commit_head));
	buf_put(&c2, commitment, sizeof(commitment));
	buf_le32(&c2, 0);			/* lock time */

	*coinb1 = buf_hex(&c1);
	*coinb2 = buf_hex(&c2);
}

/* Serialize the mining.notify line of j's params with clean_jobs set. */
static void
jobs_serialize(struct jobs_job *j, json_t *params, bool clean)
{
	struct evbuffer *eb = evbuffer_new();
	size_t n;

	if (eb == NULL) {
		log_errorx("poolsim", "out of memory");
		abort();
	}
	json_array_set_new(params, 8, json_boolean(clean));
	if (msg_send_request(eb, NULL, "mining.notify", json_incref(params))
	    == -1) {
		log_errorx("poolsim", "cannot serialize a job");
		abort();
	}
	n = evbuffer_get_length(eb);
	j->notify[clean] = xmalloc(n + 1);
	evbuffer_remove(eb, j->notify[clean], n);
	j->notify[clean][n] = '\0';
	j->notify_len[clean] = n;
	evbuffer_free(eb);
}

static void
jobs_job_free(struct jobs_job *j)
{
	if (j == NULL)
		return;
	free(j->notify[0]);
	free(j->notify[1]);
	free(j);
}

/* Build the next job of the current block; NULL if it does not decode. */
static struct jobs_job *
jobs_build(struct jobs *js, bool clean)
{
	struct jobs_job *j = xcalloc(1, sizeof(*j));
	uint8_t swapped[32], hash[32];
	char id[SHARE_JOB_ID_MAX + 1], prevhash[65], ntime[9];
	char branch_hex[JOBS_BRANCH][65];
	const char *branch[JOBS_BRANCH];
	char *coinb1, *coinb2;
	json_t *params, *jbranch;
	uint32_t now = (uint32_t)time(NULL);

	j->seq = ++js->seq;
	j->clean = clean;
	/* ntime never goes back, even if the clock does. */
	j->ntime = now > js->last_ntime ? now : js->last_ntime;
	js->last_ntime = j->ntime;
	snprintf(id, sizeof(id), "%" PRIx64, js->id_base + j->seq);
	snprintf(ntime, sizeof(ntime), "%08" PRIx32, j->ntime);
	/* notify sends prevhash with each 4-byte word reversed. */
	for (size_t i = 0; i < 32; i += 4)
		for (size_t k = 0; k < 4; k++)
			swapped[i + k] = js->prevhash[i + 3 - k];
	share_hex_encode(swapped, sizeof(swapped), prevhash);
	jbranch = json_array();
	for (size_t i = 0; i < JOBS_BRANCH; i++) {
		jobs_random(hash, sizeof(hash));
		share_hex_encode(hash, sizeof(hash), branch_hex[i]);
		branch[i] = branch_hex[i];
		json_array_append_new(jbranch, json_string(branch_hex[i]));
	}
	jobs_coinbase(js, &coinb1, &coinb2);

	if (share_job_init(&j->sj, id, prevhash, coinb1, coinb2, branch,
	    JOBS_BRANCH, JOBS_VERSION, JOBS_NBITS, ntime, clean) == -1) {
		log_errorx("poolsim", "job %s does not decode", id);
		json_decref(jbranch);
		free(coinb1);
		free(coinb2);
		free(j);
		return NULL;
	}
	j->id = j->sj.job_id;
	params = json_pack("[s,s,s,s,o,s,s,s,b]", id, prevhash, coinb1,
	    coinb2, jbranch, JOBS_VERSION, JOBS_NBITS, ntime, clean);
	free(coinb1);
	free(coinb2);
	if (params == NULL) {
		log_errorx("poolsim", "cannot build job %s", id);
		abort();
	}
	jobs_serialize(j, params, false);
	jobs_serialize(j, params, true);
	json_decref(params);
	return j;
}

struct jobs *
jobs_new(size_t en1_size, size_t en2_size)
{
	struct jobs *js = xcalloc(1, sizeof(*js));
	uint32_t r;

	js->en_size = en1_size + en2_size;
	jobs_random(&r, sizeof(r));
	js->id_base = r & 0xffff;
	js->height = JOBS_HEIGHT_BASE + r % JOBS_HEIGHT_SPREAD;
	jobs_random(js->payout, sizeof(js->payout));
	jobs_random(js->prevhash, sizeof(js->prevhash));
	return js;
}

void
jobs_free(struct jobs *js)
{
	if (js == NULL)
		return;
	for (size_t i = 0; i < js->nlive; i++)
		jobs_job_free(js->live[i]);
	free(js);
}

const struct jobs_job *
jobs_next(struct jobs *js, bool clean)
{
	struct jobs_job *j;

	/* The first job of a run is a new block too. */
	clean = clean || js->nlive == 0;
	if (clean && js->seq > 0) {
		js->height++;
		jobs_random(js->prevhash, sizeof(js->prevhash));
	}
	j = jobs_build(js, clean);
	if (j == NULL)
		return NULL;
	if (clean) {
		for (size_t i = 0; i < js->nlive; i++)
			jobs_job_free(js->live[i]);
		js->nlive = 0;
	} else if (js->nlive == JOBS_KEEP) {
		jobs_job_free(js->live[0]);
		memmove(&js->live[0], &js->live[1],
		    (JOBS_KEEP - 1) * sizeof(js->live[0]));
		js->nlive--;
	}
	js->live[js->nlive++] = j;
	log_debug("poolsim", "job %s: height %" PRIu32 "%s, %zu live", j->id,
	    js->height, clean ? ", new block" : "", js->nlive);
	return j;
}

const struct jobs_job *
jobs_current(const struct jobs *js)
{
	return js->nlive > 0 ? js->live[js->nlive - 1] : NULL;
}

const struct jobs_job *
jobs_find(const struct jobs *js, const char *id)
{
	for (size_t i = js->nlive; i-- > 0;)
		if (strcmp(js->live[i]->id, id) == 0)
			return js->live[i];
	return NULL;
}

bool
jobs_is_live(const struct jobs *js, uint64_t seq)
{
	return js->nlive > 0 && seq >= js->live[0]->seq &&
	    seq <= js->live[js->nlive - 1]->seq;
}
