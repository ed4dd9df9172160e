/*
 * slots.c: extranonce split and slot bitmap (see slots.h).
 */
#include "mining/slots.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

int
slots_split(int n, struct slots_split *out)
{
	int p;

	if (n >= 4 && n <= 5)
		p = 1;
	else if (n >= 6 && n <= 7)
		p = 2;
	else if (n == 8)
		p = 4;
	else if (n > 8)
		p = n - 4;
	else
		p = 0;
	out->slot_bytes = p;
	out->miner_bytes = n - p;
	out->nslots = p == 0 ? 1 : p >= 2 ? SLOTS_MAX : 256;
	if (p == 0 && n < 3)
		return -1;
	return n >= 1 && n <= 32 ? 0 : -1;
}

int
slots_init(struct slots *s, uint32_t n)
{
	size_t words = ((size_t)n + 63) / 64;

	memset(s, 0, sizeof(*s));
	if (n == 0 || n > SLOTS_MAX)
		return -1;
	s->n = n;
	s->taken = xcalloc(words, sizeof(*s->taken));
	s->pending = xcalloc(words, sizeof(*s->pending));
	return 0;
}

void
slots_fini(struct slots *s)
{
	free(s->taken);
	free(s->pending);
	memset(s, 0, sizeof(*s));
}

static bool
bit(const uint64_t *b, uint32_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

int64_t
slots_take(struct slots *s)
{
	size_t words = ((size_t)s->n + 63) / 64;

	if (s->used >= s->n)
		return -1;
	for (size_t k = 0; k < words; k++) {
		size_t w = (s->hint / 64 + k) % words;
		uint64_t freebits = ~s->taken[w];
		uint32_t i;

		if (freebits == 0)
			continue;
		i = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(freebits);
		if (i >= s->n)
			continue; /* the last word's unused tail */
		s->taken[w] |= UINT64_C(1) << (i % 64);
		s->used++;
		s->hint = i + 1 < s->n ? i + 1 : 0;
		return i;
	}
	return -1;
}

void
slots_release(struct slots *s, uint32_t i)
{
	if (i >= s->n || !bit(s->taken, i) || bit(s->pending, i))
		return;
	s->pending[i / 64] |= UINT64_C(1) << (i % 64);
}

uint32_t
slots_clean_job(struct slots *s)
{
	size_t words = ((size_t)s->n + 63) / 64;
	uint32_t freed = 0;

	for (size_t w = 0; w < words; w++) {
		if (s->pending[w] == 0)
			continue;
		freed += (uint32_t)__builtin_popcountll(s->pending[w]);
		s->taken[w] &= ~s->pending[w];
		s->pending[w] = 0;
	}
	s->used -= freed;
	return freed;
}

uint32_t
slots_in_use(const struct slots *s)
{
	return s->used;
}

void
slots_encode(uint32_t i, int bytes, uint8_t *out)
{
	for (int k = bytes - 1; k >= 0; k--) {
		out[k] = (uint8_t)(k >= bytes - 4 ? i >> (8 * (bytes - 1 - k)) :
		    0);
	}
}
