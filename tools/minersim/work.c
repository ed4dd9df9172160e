/*
 * work.c: making shares for loka-minersim.
 *
 * Jobs: each mining.notify is decoded with share_job_init() (which caps
 * every field) and interned in a refcounted hash table, so thousands of
 * miners on the same job hold one ~5 KiB copy between them. A miner holds
 * a reference to its newest job and, while grinding, one to the job it
 * grinds.
 *
 * Real mode: miners that want a share wait in the grind queue. One
 * zero-delay timer grinds GRIND_SLICE hashes for the head miner per loop
 * turn and moves it to the tail, so the loop serves I/O between slices and
 * miners share the CPU fairly. The search walks the nonce, rolls the
 * version bits within the granted mask every VROLL_EVERY nonces, and bumps
 * extranonce2 when the nonce wraps and after every share, so no share
 * repeats. A candidate is judged again with share_check(), the path a pool
 * takes, before it is submitted.
 *
 * Random mode: extranonce2 from the counter, a random nonce and random
 * version bits; no hashing (for pools in trust mode).
 *
 * Single-threaded, like the rest of the simulator.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minersim.h"
#include "util/log.h"
#include "util/xmalloc.h"

/*
 * One loop turn grinds at most GRIND_SLICE hashes and at most
 * GRIND_BUDGET_US of wall time (the clock is read every GRIND_CLOCK_EVERY
 * hashes), so that I/O is served often and the submit latencies other
 * miners measure stay meaningful while some miners grind.
 */
#define GRIND_SLICE		20000
#define GRIND_BUDGET_US		1000
#define GRIND_CLOCK_EVERY	256
/* Nonces between two version-rolling steps (like an ASIC's midstates). */
#define VROLL_EVERY	4096

static const struct timeval zero_tv = { 0, 0 };

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
job_hash(const struct share_job *j)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t f[3] = { j->version, j->nbits, j->ntime };

	h = fnv1a(h, j->job_id, strlen(j->job_id));
	h = fnv1a(h, j->prevhash, sizeof(j->prevhash));
	h = fnv1a(h, &j->coinb1_len, sizeof(j->coinb1_len));
	h = fnv1a(h, j->coinb, j->coinb1_len + j->coinb2_len);
	h = fnv1a(h, j->branch, j->nbranch * sizeof(j->branch[0]));
	return fnv1a(h, f, sizeof(f));
}

static bool
job_equal(const struct share_job *a, const struct share_job *b)
{
	return strcmp(a->job_id, b->job_id) == 0 &&
	    memcmp(a->prevhash, b->prevhash, sizeof(a->prevhash)) == 0 &&
	    a->coinb1_len == b->coinb1_len && a->coinb2_len == b->coinb2_len &&
	    memcmp(a->coinb, b->coinb, a->coinb1_len + a->coinb2_len) == 0 &&
	    a->nbranch == b->nbranch &&
	    memcmp(a->branch, b->branch, a->nbranch * sizeof(a->branch[0])) ==
	    0 && a->version == b->version && a->nbits == b->nbits &&
	    a->ntime == b->ntime;
}

struct work_job *
work_job_intern(struct sim *sim, const struct share_job *j)
{
	uint64_t h = job_hash(j);
	size_t b = h % WORK_BUCKETS;
	struct work_job *wj;

	for (wj = sim->jobs[b]; wj != NULL; wj = wj->next) {
		if (wj->hash == h && job_equal(&wj->job, j))
			return work_job_ref(wj);
	}
	wj = xmalloc(sizeof(*wj));
	memcpy(&wj->job, j, sizeof(*j));
	wj->job.clean = false;
	wj->hash = h;
	wj->refs = 1;
	wj->next = sim->jobs[b];
	sim->jobs[b] = wj;
	sim->njobs++;
	return wj;
}

struct work_job *
work_job_ref(struct work_job *wj)
{
	wj->refs++;
	return wj;
}

void
work_job_put(struct sim *sim, struct work_job *wj)
{
	struct work_job **pp;

	if (wj == NULL || --wj->refs > 0)
		return;
	for (pp = &sim->jobs[wj->hash % WORK_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == wj) {
			*pp = wj->next;
			break;
		}
	}
	sim->njobs--;
	free(wj);
}

static void
grind_enqueue(struct sim *sim, struct miner *m)
{
	m->grind_prev = sim->grind_tail;
	m->grind_next = NULL;
	if (sim->grind_tail != NULL)
		sim->grind_tail->grind_next = m;
	else
		sim->grind_head = m;
	sim->grind_tail = m;
	if (!evtimer_pending(sim->grind_ev, NULL))
		evtimer_add(sim->grind_ev, &zero_tv);
}

static void
grind_dequeue(struct sim *sim, struct miner *m)
{
	if (m->grind_prev != NULL)
		m->grind_prev->grind_next = m->grind_next;
	else
		sim->grind_head = m->grind_next;
	if (m->grind_next != NULL)
		m->grind_next->grind_prev = m->grind_prev;
	else
		sim->grind_tail = m->grind_prev;
	m->grind_prev = m->grind_next = NULL;
}

/* The extranonce2 bytes for counter: big-endian in the low 8 bytes. */
static void
en2_bytes(uint64_t counter, uint8_t *en2, size_t size)
{
	size_t i;

	memset(en2, 0, size);
	for (i = 0; i < size && i < 8; i++)
		en2[size - 1 - i] = (uint8_t)(counter >> (8 * i));
}

static uint32_t
miner_mask(const struct miner *m)
{
	return (m->flags & MINER_ROLLING) != 0 ? m->mask : 0;
}

/* BIP 320 style: the next value of v among the subsets of mask. */
static uint32_t
next_bits(uint32_t v, uint32_t mask)
{
	return ((v | ~mask) + 1) & mask;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int
grind_header(struct miner *m, const struct share_job *j, uint8_t *en2,
    uint32_t *version, uint8_t header[80])
{
	uint32_t mask = miner_mask(m);

	en2_bytes(m->en2_counter, en2, m->en2_size);
	if (share_rolled_version(j->version, m->vbits & mask, mask,
	    version) == -1)
		return -1;
	return share_build_header(j, m->en1, m->en1_len, en2, m->en2_size,
	    j->ntime, m->nonce, *version, header);
}

/* Judge the candidate as a pool will, then submit it. 1 or -1. */
static int
grind_found(struct miner *m, const struct share_job *j, const uint8_t *en2,
    double diff)
{
	char en2hex[2 * SHARE_EXTRANONCE_MAX + 1], ntimehex[9], noncehex[9];
	char vbitshex[9];
	const char *vb = NULL;
	struct share_result r;
	uint32_t mask = miner_mask(m);

	share_hex_encode(en2, m->en2_size, en2hex);
	snprintf(ntimehex, sizeof(ntimehex), "%08x", j->ntime);
	snprintf(noncehex, sizeof(noncehex), "%08x", m->nonce);
	if ((m->flags & MINER_ROLLING) != 0) {
		snprintf(vbitshex, sizeof(vbitshex), "%08x", m->vbits & mask);
		vb = vbitshex;
	}
	if (share_check(j, m->en1, m->en1_len, m->en2_size, en2hex, ntimehex,
	    noncehex, vb, mask, &r) == -1 ||
	    !share_meets_difficulty(r.hash, diff)) {
		log_swarnx(SIM_LOG, m->index + 1,
		    "candidate share fails its own check (%s)",
		    share_reason_str(r.reason));
		return -1;
	}
	if (miner_submit(m, m->grind_job, en2hex, ntimehex, noncehex, vb) ==
	    -1)
		return -1;
	/* Never reuse this search position. */
	m->en2_counter++;
	m->nonce++;
	return 1;
}

/* One slice of at most max hashes: 1 a share was submitted, 0 not yet,
 * -1 cannot grind. */
static int
grind_slice(struct miner *m, int max)
{
	struct sim *sim = m->sim;
	const struct share_job *j = &m->grind_job->job;
	uint8_t en2[SHARE_EXTRANONCE_MAX], header[80], hash[32], target[32];
	uint32_t version, mask = miner_mask(m);
	double diff = m->diff > m->grind_diff ? m->diff : m->grind_diff;
	uint64_t deadline = sim_now_us() + GRIND_BUDGET_US;
	int i;

	if (share_target_from_difficulty(diff, target) == -1 ||
	    grind_header(m, j, en2, &version, header) == -1)
		return -1;
	for (i = 0; i < max; i++) {
		if (i % GRIND_CLOCK_EVERY == GRIND_CLOCK_EVERY - 1 &&
		    sim_now_us() >= deadline)
			break;
		put_le32(header + 76, m->nonce);
		if (share_sha256d(header, sizeof(header), hash) == -1)
			return -1;
		sim->hashes++;
		/* Cheap pre-filter on the top byte; the exact test decides. */
		if (hash[31] <= target[31] &&
		    share_meets_difficulty(hash, diff))
			return grind_found(m, j, en2, diff);
		if (++m->nonce == 0) {
			m->en2_counter++;
			if (grind_header(m, j, en2, &version, header) == -1)
				return -1;
		} else if (mask != 0 && m->nonce % VROLL_EVERY == 0) {
			m->vbits = next_bits(m->vbits, mask);
			if (grind_header(m, j, en2, &version, header) == -1)
				return -1;
		}
	}
	return 0;
}

static void
grind_stop(struct miner *m)
{
	work_job_put(m->sim, m->grind_job);
	m->grind_job = NULL;
	m->flags &= ~MINER_GRINDING;
}

static void
grind_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	struct miner *m = sim->grind_head;
	int rc, max = GRIND_SLICE;
	uint64_t before;

	if (m == NULL)
		return;
	grind_dequeue(sim, m);
	if (sim->cfg.hashrate > 0) {
		/* --hashrate: hashes are earned with time, at most a
		 * second's worth ahead: a simulator kept off the CPU that
		 * long by a busy machine catches up, so its hashrate is the
		 * one asked for. */
		uint64_t now = sim_now_us();

		if (m->credit_us == 0)
			m->credit_us = now;
		m->credit += (double)(now - m->credit_us) * sim->cfg.hashrate /
		    1e6;
		m->credit_us = now;
		if (m->credit > sim->cfg.hashrate + GRIND_SLICE)
			m->credit = sim->cfg.hashrate + GRIND_SLICE;
		if (m->credit < 1) {
			struct timeval wait = { 0, 1000 };

			grind_enqueue(sim, m);
			if (!evtimer_pending(sim->grind_ev, NULL))
				evtimer_add(sim->grind_ev, &wait);
			return;
		}
		max = m->credit < GRIND_SLICE ? (int)m->credit : GRIND_SLICE;
	}
	before = sim->hashes;
	rc = grind_slice(m, max);
	if (sim->cfg.hashrate > 0)
		m->credit -= (double)(sim->hashes - before);
	if (rc == 0) {
		grind_enqueue(sim, m);
	} else {
		grind_stop(m);
		if (rc > 0)
			miner_share_made(m);
		else
			log_swarnx(SIM_LOG, m->index + 1,
			    "cannot grind job %s; waiting for the next job",
			    m->job != NULL ? m->job->job.job_id : "-");
	}
	if (sim->grind_head != NULL && !evtimer_pending(sim->grind_ev, NULL))
		evtimer_add(sim->grind_ev, &zero_tv);
}

static int
work_random(struct miner *m)
{
	char en2hex[2 * SHARE_EXTRANONCE_MAX + 1], ntimehex[9], noncehex[9];
	char vbitshex[9];
	uint8_t en2[SHARE_EXTRANONCE_MAX];
	const char *vb = NULL;
	uint64_t r = sim_random(m->sim);

	en2_bytes(m->en2_counter++, en2, m->en2_size);
	share_hex_encode(en2, m->en2_size, en2hex);
	snprintf(ntimehex, sizeof(ntimehex), "%08x", m->job->job.ntime);
	snprintf(noncehex, sizeof(noncehex), "%08x", (uint32_t)r);
	if ((m->flags & MINER_ROLLING) != 0) {
		snprintf(vbitshex, sizeof(vbitshex), "%08x",
		    (uint32_t)(r >> 32) & m->mask);
		vb = vbitshex;
	}
	return miner_submit(m, m->job, en2hex, ntimehex, noncehex, vb);
}

int
work_start(struct miner *m)
{
	if (m->job == NULL || (m->flags & MINER_GRINDING) != 0)
		return -1;
	if (m->sim->cfg.mode == SIM_MODE_RANDOM)
		return work_random(m);
	m->grind_job = work_job_ref(m->job);
	m->grind_diff = m->job_diff;
	m->flags |= MINER_GRINDING;
	grind_enqueue(m->sim, m);
	return 0;
}

void
work_restart(struct miner *m)
{
	if ((m->flags & MINER_GRINDING) == 0 || m->job == NULL)
		return;
	work_job_put(m->sim, m->grind_job);
	m->grind_job = work_job_ref(m->job);
	m->grind_diff = m->job_diff;
}

void
work_cancel(struct miner *m)
{
	if ((m->flags & MINER_GRINDING) == 0)
		return;
	grind_dequeue(m->sim, m);
	grind_stop(m);
}

int
work_init(struct sim *sim)
{
	sim->grind_ev = evtimer_new(sim->base, grind_cb, sim);
	return sim->grind_ev != NULL ? 0 : -1;
}

void
work_free(struct sim *sim)
{
	struct work_job *wj, *next;
	size_t b;

	if (sim->grind_ev != NULL)
		event_free(sim->grind_ev);
	sim->grind_ev = NULL;
	/* Miners are freed first; anything left here is a leak to report. */
	for (b = 0; b < WORK_BUCKETS; b++) {
		for (wj = sim->jobs[b]; wj != NULL; wj = next) {
			next = wj->next;
			free(wj);
		}
		sim->jobs[b] = NULL;
	}
	if (sim->njobs != 0)
		log_warnx(SIM_LOG, "%u jobs still referenced at exit",
		    sim->njobs);
}
