/*
 * dupset.h: sets of 64-bit share fingerprints, for duplicate detection:
 * the shares already accepted for one job (on one connection in the test
 * pool; from every miner of a shared upstream in aggregation mode, whose
 * extranonce then includes the miner's slot), as keyed fingerprints of
 * (extranonce, ntime, nonce, header version). A false duplicate needs a
 * 64-bit collision: ~1e-14 at the sizes used.
 *
 * One thread owns a set; nothing is locked.
 */
#ifndef LOKA_MINING_DUPSET_H
#define LOKA_MINING_DUPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dupset;

/* Fingerprint of one share; seed is a per-process random key. */
uint64_t dupset_key(uint64_t seed, const uint8_t *en2, size_t en2len,
    uint32_t ntime, uint32_t nonce, uint32_t version);
/* dupset_new(): an empty set. Never NULL. */
struct dupset *dupset_new(void);
/* dupset_free(d): NULL is a no-op. */
void dupset_free(struct dupset *d);
/* dupset_has(d, key): was key added? */
bool dupset_has(const struct dupset *d, uint64_t key);
/* dupset_add(d, key): add key; returns 1 if added, 0 if already there. */
int dupset_add(struct dupset *d, uint64_t key);
/* dupset_count(d): number of keys held. */
size_t dupset_count(const struct dupset *d);

#endif
