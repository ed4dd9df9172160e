/*
 * stats.c: loka-minersim's submit latency histogram and reject code table.
 *
 * The histogram has a fixed size whatever the run's length: values (in
 * microseconds) below 8 have a bucket each; above, each power of two is cut
 * into 8 sub-buckets, so a percentile is off by at most 1/8 of its value
 * (it is reported as the bucket's upper bound, clamped to the exact max).
 * The reject table keeps the first STATS_CODES_MAX distinct codes.
 */
#include <stdio.h>

#include "minersim.h"

static unsigned
bucket_of(uint64_t v)
{
	unsigned e;

	if (v < (1u << STATS_SUB_BITS))
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* e >= STATS_SUB_BITS */
	return ((e - STATS_SUB_BITS + 1) << STATS_SUB_BITS) |
	    (unsigned)((v >> (e - STATS_SUB_BITS)) &
	    ((1u << STATS_SUB_BITS) - 1));
}

/* The largest value that falls into bucket b. */
static uint64_t
bucket_upper(unsigned b)
{
	unsigned e, sub;
	uint64_t lower;

	if (b < (1u << STATS_SUB_BITS))
		return b;
	e = (b >> STATS_SUB_BITS) + STATS_SUB_BITS - 1;
	sub = b & ((1u << STATS_SUB_BITS) - 1);
	lower = ((uint64_t)((1u << STATS_SUB_BITS) | sub)) <<
	    (e - STATS_SUB_BITS);
	return lower + (((uint64_t)1 << (e - STATS_SUB_BITS)) - 1);
}

void
stats_latency_add(struct stats *st, uint64_t us)
{
	st->latency[bucket_of(us)]++;
	st->latency_count++;
	if (us > st->latency_max)
		st->latency_max = us;
}

uint64_t
stats_latency_percentile(const struct stats *st, double p)
{
	uint64_t rank, seen = 0, v;
	unsigned b;

	if (st->latency_count == 0)
		return 0;
	if (p < 0.0)
		p = 0.0;
	if (p > 1.0)
		p = 1.0;
	/* The smallest value with at least p of the samples at or below. */
	rank = (uint64_t)(p * (double)st->latency_count);
	if ((double)rank < p * (double)st->latency_count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (b = 0; b < STATS_BUCKETS; b++) {
		seen += st->latency[b];
		if (seen >= rank) {
			v = bucket_upper(b);
			return v < st->latency_max ? v : st->latency_max;
		}
	}
	return st->latency_max;
}

void
stats_reject_add(struct stats *st, int32_t code)
{
	uint32_t i;

	for (i = 0; i < st->ncodes; i++) {
		if (st->codes[i] == code) {
			st->code_counts[i]++;
			return;
		}
	}
	if (st->ncodes == STATS_CODES_MAX) {
		st->code_other++;
		return;
	}
	st->codes[st->ncodes] = code;
	st->code_counts[st->ncodes] = 1;
	st->ncodes++;
}

json_t *
stats_rejects_json(const struct stats *st)
{
	json_t *o = json_object();
	char key[16];
	uint32_t i;

	for (i = 0; i < st->ncodes; i++) {
		if (st->codes[i] == STATS_CODE_NONE)
			snprintf(key, sizeof(key), "none");
		else
			snprintf(key, sizeof(key), "%d", (int)st->codes[i]);
		json_object_set_new(o, key,
		    json_integer((json_int_t)st->code_counts[i]));
	}
	if (st->code_other > 0)
		json_object_set_new(o, "other",
		    json_integer((json_int_t)st->code_other));
	return o;
}
