/*
 * accounting.h: every share verdict, counted in memory per worker and per
 * pool.
 *
 * Each worker thread owns one struct acct_table and is its only writer, so
 * counting a share takes no lock. Entries are never removed while the
 * table lives, so a session may keep a pointer to its workers' entries.
 * Readers on other threads must not touch a live table; they ask the owning
 * thread for a copy (or read it after the thread has stopped).
 */
#ifndef LOKA_PROXY_ACCOUNTING_H
#define LOKA_PROXY_ACCOUNTING_H

#include <stddef.h>
#include <stdint.h>

enum acct_reject {
	ACCT_REJ_STALE = 0,     /* job not found / stale (21) */
	ACCT_REJ_DUPLICATE,     /* 22 */
	ACCT_REJ_LOW_DIFF,      /* 23 */
	ACCT_REJ_UNAUTHORIZED,  /* 24, or a worker the session never authorized */
	ACCT_REJ_OTHER,         /* anything else, or no verdict (pool lost) */
	ACCT_REJ_MAX
};

struct acct_counts {
	uint64_t accepted;
	double accepted_diff; /* sum of the difficulty in force per share */
	uint64_t rejected[ACCT_REJ_MAX];
	double rejected_diff;
};

struct acct_worker {
	int pool;          /* index into the configured pools */
	char *user;        /* miner account (often a BTC address) */
	char *worker;      /* the miner's machine */
	struct acct_counts c;
	int64_t first_seen; /* unix seconds */
	int64_t last_share;
	struct acct_worker *next; /* hash chain */
};

struct acct_table;

/* acct_table_new(npools): an empty table; acct_table_free(NULL) is a no-op. */
struct acct_table *acct_table_new(size_t npools);
void acct_table_free(struct acct_table *t);

/*
 * acct_worker_get(t, pool, user, worker): the entry for this worker,
 * created if needed. Returns NULL when the table is full (ACCT_WORKERS_MAX
 * distinct workers): the caller refuses the worker.
 */
#define ACCT_WORKERS_MAX 1000000
struct acct_worker *acct_worker_get(struct acct_table *t, int pool,
    const char *user, const char *worker);

/* Count one verdict for w (and its pool). */
void acct_accept(struct acct_table *t, struct acct_worker *w, double diff);
void acct_reject(struct acct_table *t, struct acct_worker *w,
    enum acct_reject why, double diff);

/* Map a pool's error code and message to a reason. */
enum acct_reject acct_reason(int code, const char *message);
const char *acct_reason_name(enum acct_reject why);

/* Iteration and totals (owner thread, or after it stopped). */
size_t acct_worker_count(const struct acct_table *t);
void acct_foreach(const struct acct_table *t,
    void (*fn)(const struct acct_worker *w, void *arg), void *arg);
const struct acct_counts *acct_pool_counts(const struct acct_table *t,
    int pool);
/* dst += src */
void acct_counts_add(struct acct_counts *dst, const struct acct_counts *src);

#endif
