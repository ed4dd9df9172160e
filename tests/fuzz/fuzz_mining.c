/*
 * fuzz_mining.c: libFuzzer target for aggregation mode's job parsing
 * (mining_job_init) and share check (mining_check). The input is two
 * lines: the JSON params of a mining.notify (job id, prevhash, coinb1,
 * coinb2, branch, version, nbits, ntime, clean) and the JSON params of a
 * submit (extranonce2, ntime, nonce, version bits, then numbers: the
 * miner's difficulty and the granted mask). Whatever the input: no
 * crash, a verdict in range, an accepted share meets the difficulty it
 * was judged at, and the same share checked again is a duplicate.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mining/check.h"
#include "mining/jobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 16384

/* Not assert(): it must hold in every build, NDEBUG or not. */
#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const char *
str_at(json_t *a, size_t i)
{
	const char *s = json_string_value(json_array_get(a, i));

	return s != NULL ? s : "";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	static const uint8_t slot[2] = { 0x12, 0x34 };
	const char *branch[SHARE_BRANCH_MAX];
	json_t *job, *sub, *br;
	struct mining_jobs t;
	struct mining_job j, *kept;
	struct mining_share out, again;
	enum mining_verdict v;
	double diff;
	uint32_t mask;
	size_t nb;

	if (size > FUZZ_MAX || nl == NULL)
		return 0;
	job = json_loadb((const char *)data, (size_t)(nl - data), 0, NULL);
	sub = json_loadb((const char *)nl + 1, size - (size_t)(nl - data) - 1,
	    0, NULL);
	if (!json_is_array(job) || !json_is_array(sub))
		goto out;
	br = json_array_get(job, 4);
	nb = json_array_size(br);
	if (nb > SHARE_BRANCH_MAX)
		nb = SHARE_BRANCH_MAX + 1; /* refused below, as too long */
	for (size_t i = 0; i < nb && i < SHARE_BRANCH_MAX; i++)
		branch[i] = str_at(br, i);
	if (nb > SHARE_BRANCH_MAX ||
	    mining_job_init(&j, 7, 0, "a1b2c3d4", str_at(job, 0),
	    str_at(job, 1), str_at(job, 2), str_at(job, 3), branch, nb,
	    str_at(job, 5), str_at(job, 6), str_at(job, 7),
	    json_is_true(json_array_get(job, 8)), 1, 0x1fffe000) != 0)
		goto out;
	diff = json_number_value(json_array_get(sub, 4));
	if (!isfinite(diff) || diff <= 0)
		diff = 1e-6;
	mask = (uint32_t)json_integer_value(json_array_get(sub, 5));
	mining_jobs_init(&t);
	kept = mining_jobs_add(&t, &j);
	v = mining_check(kept, slot, sizeof(slot), 4, str_at(sub, 0),
	    str_at(sub, 1), str_at(sub, 2),
	    json_is_string(json_array_get(sub, 3)) ? str_at(sub, 3) : NULL,
	    mask, diff, 42, &out);
	CHECK(v >= 0 && v < MINING_VERDICT_MAX);
	CHECK(mining_verdict_code(v) >= 20 || v == MINING_OK);
	if (v == MINING_OK) {
		CHECK(out.r.difficulty >= diff * (1 - 1e-9));
		CHECK(mining_check(kept, slot, sizeof(slot), 4,
		    str_at(sub, 0), str_at(sub, 1), str_at(sub, 2),
		    json_is_string(json_array_get(sub, 3)) ? str_at(sub, 3) :
		    NULL, mask, diff, 42, &again) == MINING_DUPLICATE);
	}
	/* An unknown job is unknown, whatever the share. */
	CHECK(mining_check(mining_jobs_find(&t, 8), slot, sizeof(slot), 4,
	    str_at(sub, 0), str_at(sub, 1), str_at(sub, 2), NULL, mask, diff,
	    42, &again) == MINING_UNKNOWN_JOB);
	mining_jobs_fini(&t);
out:
	json_decref(job);
	json_decref(sub);
	return 0;
}
