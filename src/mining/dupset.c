/*
 * dupset.c: sets of share fingerprints for duplicate detection (see
 * dupset.h).
 *
 * An open-addressing hash set of 64-bit keys with linear probing; 0 marks
 * an empty slot (a key of 0 is stored as 1). The table doubles at half
 * load. Callers cap the number of keys; the set itself does not.
 * The fingerprint is keyed with a per-process random seed so a client
 * cannot aim for collisions between its own shares.
 */
#include "mining/dupset.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

/* First table size; a job usually sees few shares per connection. */
#define DUPSET_INITIAL	16

struct dupset {
	uint64_t	*slot;
	size_t		 cap;	/* a power of two */
	size_t		 n;
};

/* splitmix64's finalizer: a fast bijective 64-bit mix. */
static uint64_t
dupset_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t
dupset_key(uint64_t seed, const uint8_t *en2, size_t en2len, uint32_t ntime,
    uint32_t nonce, uint32_t version)
{
	uint64_t h = dupset_mix(seed ^ en2len);
	uint64_t w;
	size_t i, k;

	for (i = 0; i < en2len; i += 8) {
		w = 0;
		for (k = i; k < en2len && k < i + 8; k++)
			w = w << 8 | en2[k];
		h = dupset_mix(h ^ w) + seed;
	}
	h = dupset_mix(h ^ ((uint64_t)ntime << 32 | nonce)) + seed;
	h = dupset_mix(h ^ version);
	return h == 0 ? 1 : h;
}

struct dupset *
dupset_new(void)
{
	struct dupset *d = xcalloc(1, sizeof(*d));

	d->cap = DUPSET_INITIAL;
	d->slot = xcalloc(d->cap, sizeof(d->slot[0]));
	return d;
}

void
dupset_free(struct dupset *d)
{
	if (d == NULL)
		return;
	free(d->slot);
	free(d);
}

static size_t
dupset_find(const uint64_t *slot, size_t cap, uint64_t key)
{
	size_t i = (size_t)dupset_mix(key) & (cap - 1);

	while (slot[i] != 0 && slot[i] != key)
		i = (i + 1) & (cap - 1);
	return i;
}

static void
dupset_grow(struct dupset *d)
{
	size_t cap = d->cap * 2;
	uint64_t *slot = xcalloc(cap, sizeof(slot[0]));

	for (size_t i = 0; i < d->cap; i++)
		if (d->slot[i] != 0)
			slot[dupset_find(slot, cap, d->slot[i])] = d->slot[i];
	free(d->slot);
	d->slot = slot;
	d->cap = cap;
}

bool
dupset_has(const struct dupset *d, uint64_t key)
{
	if (key == 0)
		key = 1;
	return d->slot[dupset_find(d->slot, d->cap, key)] == key;
}

int
dupset_add(struct dupset *d, uint64_t key)
{
	size_t i;

	if (key == 0)
		key = 1;
	i = dupset_find(d->slot, d->cap, key);
	if (d->slot[i] == key)
		return 0;
	d->slot[i] = key;
	if (++d->n * 2 > d->cap)
		dupset_grow(d);
	return 1;
}

size_t
dupset_count(const struct dupset *d)
{
	return d->n;
}
