/*
 * accounting.c: per-thread share counters (see accounting.h).
 *
 * A chained hash table keyed by (pool, user, worker), grown by doubling so
 * lookups stay O(1) for farms of any size; entries live until the table is
 * freed.
 */
#include "books/accounting.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/xmalloc.h"

struct acct_table {
	struct acct_worker **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
	struct acct_counts *pools;
	size_t npools;
};

static uint64_t
acct_hash(int pool, const char *user, const char *worker)
{
	/* FNV-1a: fast and good enough for names chosen by our own miners. */
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)pool;

	for (const char *p = user; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = worker; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

struct acct_table *
acct_table_new(size_t npools)
{
	struct acct_table *t = xcalloc(1, sizeof(*t));

	t->nbuckets = 256;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	t->npools = npools;
	t->pools = xcalloc(npools ? npools : 1, sizeof(*t->pools));
	return t;
}

void
acct_table_free(struct acct_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct acct_worker *w = t->buckets[i], *next;

		for (; w != NULL; w = next) {
			next = w->next;
			free(w->user);
			free(w->worker);
			free(w);
		}
	}
	free(t->buckets);
	free(t->pools);
	free(t);
}

static void
acct_grow(struct acct_table *t)
{
	size_t n = t->nbuckets * 2;
	struct acct_worker **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < t->nbuckets; i++) {
		struct acct_worker *w = t->buckets[i], *next;

		for (; w != NULL; w = next) {
			size_t j = acct_hash(w->pool, w->user, w->worker) &
			    (n - 1);

			next = w->next;
			w->next = b[j];
			b[j] = w;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

struct acct_worker *
acct_worker_get(struct acct_table *t, int pool, const char *user,
    const char *worker)
{
	size_t i = acct_hash(pool, user, worker) & (t->nbuckets - 1);
	struct acct_worker *w;

	for (w = t->buckets[i]; w != NULL; w = w->next)
		if (w->pool == pool && strcmp(w->user, user) == 0 &&
		    strcmp(w->worker, worker) == 0)
			return w;
	if (t->n >= ACCT_WORKERS_MAX)
		return NULL;
	if (t->n >= t->nbuckets) {
		acct_grow(t);
		i = acct_hash(pool, user, worker) & (t->nbuckets - 1);
	}
	w = xcalloc(1, sizeof(*w));
	w->pool = pool;
	w->user = xstrdup(user);
	w->worker = xstrdup(worker);
	w->first_seen = (int64_t)time(NULL);
	w->next = t->buckets[i];
	t->buckets[i] = w;
	t->n++;
	return w;
}

static struct acct_counts *
pool_counts(struct acct_table *t, int pool)
{
	return pool >= 0 && (size_t)pool < t->npools ? &t->pools[pool] : NULL;
}

void
acct_accept(struct acct_table *t, struct acct_worker *w, double diff)
{
	struct acct_counts *p = pool_counts(t, w->pool);

	w->c.accepted++;
	w->c.accepted_diff += diff;
	w->last_share = (int64_t)time(NULL);
	if (p != NULL) {
		p->accepted++;
		p->accepted_diff += diff;
	}
}

void
acct_reject(struct acct_table *t, struct acct_worker *w,
    enum acct_reject why, double diff)
{
	struct acct_counts *p = w != NULL ? pool_counts(t, w->pool) : NULL;

	if (why >= ACCT_REJ_MAX)
		why = ACCT_REJ_OTHER;
	if (w != NULL) {
		w->c.rejected[why]++;
		w->c.rejected_diff += diff;
		w->last_share = (int64_t)time(NULL);
	}
	if (p != NULL) {
		p->rejected[why]++;
		p->rejected_diff += diff;
	}
}

enum acct_reject
acct_reason(int code, const char *message)
{
	switch (code) {
	case 21:
		return ACCT_REJ_STALE;
	case 22:
		return ACCT_REJ_DUPLICATE;
	case 23:
		return ACCT_REJ_LOW_DIFF;
	case 24:
		return ACCT_REJ_UNAUTHORIZED;
	default:
		break;
	}
	/* Pools that use other codes still say what they mean. */
	if (message != NULL) {
		if (strcasestr(message, "stale") != NULL ||
		    strcasestr(message, "job not found") != NULL)
			return ACCT_REJ_STALE;
		if (strcasestr(message, "duplicate") != NULL)
			return ACCT_REJ_DUPLICATE;
		if (strcasestr(message, "low difficulty") != NULL ||
		    strcasestr(message, "above target") != NULL)
			return ACCT_REJ_LOW_DIFF;
		if (strcasestr(message, "unauthorized") != NULL)
			return ACCT_REJ_UNAUTHORIZED;
	}
	return ACCT_REJ_OTHER;
}

const char *
acct_reason_name(enum acct_reject why)
{
	static const char *const names[ACCT_REJ_MAX] = {
		"stale", "duplicate", "low_difficulty", "unauthorized", "other"
	};

	return why < ACCT_REJ_MAX ? names[why] : "other";
}

size_t
acct_worker_count(const struct acct_table *t)
{
	return t->n;
}

void
acct_foreach(const struct acct_table *t,
    void (*fn)(const struct acct_worker *w, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (const struct acct_worker *w = t->buckets[i]; w != NULL;
		    w = w->next)
			fn(w, arg);
}

const struct acct_counts *
acct_pool_counts(const struct acct_table *t, int pool)
{
	return pool >= 0 && (size_t)pool < t->npools ? &t->pools[pool] : NULL;
}

void
acct_counts_add(struct acct_counts *dst, const struct acct_counts *src)
{
	dst->accepted += src->accepted;
	dst->accepted_diff += src->accepted_diff;
	for (int i = 0; i < ACCT_REJ_MAX; i++)
		dst->rejected[i] += src->rejected[i];
	dst->rejected_diff += src->rejected_diff;
}
