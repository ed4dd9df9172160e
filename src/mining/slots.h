/*
 * slots.h: the extranonce space of one shared upstream connection.
 *
 * In aggregation mode many miners share one pool connection. The pool's
 * extranonce2 (n bytes) is split into P bytes that Loka gives each miner
 * as its own extranonce1 (its slot) and M bytes the miner rolls itself:
 * coinbase = coinb1 | pool extranonce1 | slot (P) | miner's extranonce2
 * (M) | coinb2, so two miners never do the same work.
 *
 * slots_split() decides P and M from n (docs/internals/aggregation.md):
 * M = 4 where it can be, never below 3 (some firmware repeats work) nor
 * above 8 (cgminer-based firmware fails); P = 1 for n = 4-5, 2 for 6-7, 4
 * for 8; above 8, M = 4 and the rest is P. A miner that may move between
 * pools is sized from the smallest n among them, so a move never changes
 * its sizes.
 *
 * A struct slots is a bitmap of the slot numbers in use. A slot given back
 * is not reused before the next clean job (slots_clean_job()): until then
 * a new miner in it could redo, for a job still current, the work its
 * previous holder already submitted.
 *
 * One thread owns a struct slots (the upstream's); nothing is locked.
 */
#ifndef LOKA_MINING_SLOTS_H
#define LOKA_MINING_SLOTS_H

#include <stddef.h>
#include <stdint.h>

/* Slots per upstream connection at most, whatever P allows: past this,
 * another connection to the same pool is opened. */
#define SLOTS_MAX 65536

struct slots_split {
	int slot_bytes;   /* P: 0 when the pool leaves nothing to share */
	int miner_bytes;  /* M: the miner's extranonce2 size */
	uint32_t nslots;  /* usable slot numbers: min(256^P, SLOTS_MAX) */
};

/*
 * slots_split(pool_en2, out): split a pool extranonce2 size (1..32). 0;
 * -1 when the miners would get fewer than 3 bytes even alone (out then
 * says P = 0, M = pool_en2: one miner per connection, as in passthrough).
 */
int slots_split(int pool_en2, struct slots_split *out);

struct slots {
	uint32_t n;
	uint32_t used;       /* taken, plus given back and not yet free */
	uint32_t hint;       /* where the next search starts */
	uint64_t *taken;     /* bit set: not free (taken or pending) */
	uint64_t *pending;   /* bit set: given back, free at a clean job */
};

/* slots_init(s, n): n slot numbers (1..SLOTS_MAX), all free. 0 or -1. */
int slots_init(struct slots *s, uint32_t n);
void slots_fini(struct slots *s);

/* slots_take(s): a free slot number, or -1 when every one is taken or
 * waiting for a clean job. */
int64_t slots_take(struct slots *s);
/* slots_release(s, i): give slot i back; free again at the next clean
 * job. A slot not taken is ignored. */
void slots_release(struct slots *s, uint32_t i);
/* slots_clean_job(s): a job with clean_jobs arrived: given-back slots are
 * free. Returns how many. */
uint32_t slots_clean_job(struct slots *s);
/* Slots taken or waiting. */
uint32_t slots_in_use(const struct slots *s);

/* slots_encode(i, bytes, out): slot i as the miner's extranonce1, big
 * endian over `bytes` bytes (so slots sort like their hex). */
void slots_encode(uint32_t i, int bytes, uint8_t *out);

#endif
