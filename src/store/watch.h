/*
 * watch.h: workers that stopped or slowed down, judged from the books.
 *
 * Every worker seen in the last week is online, slow (its hashrate over
 * the last window is below a fraction of its own 24-hour average) or
 * offline (no accepted share for a configured time). The store thread
 * recomputes the states every [monitoring] worker_check_interval from the
 * books (one query: each worker's last accepted share, its window and its
 * day, read through primary keys), so they are off the share path and
 * survive a restart. Each change of state is logged once.
 *
 * The store thread writes; any thread reads a copy (a mutex around the
 * list, held only to copy).
 */
#ifndef LOKA_STORE_WATCH_H
#define LOKA_STORE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

enum worker_state {
	WORKER_ONLINE = 0,
	WORKER_SLOW,
	WORKER_OFFLINE,
	WORKER_STATE_MAX
};

struct watch_cfg {
	int64_t offline_after_s;
	int64_t window_s;        /* whole minutes */
	double slow_fraction;    /* 0: never slow */
};

/* Workers not seen for this long are no longer listed. */
#define WATCH_RETIRE_S (7 * 86400)

struct watch_worker {
	int64_t id;
	char pool[64], miner[256], worker[256];
	enum worker_state state;
	int64_t since;           /* when the state began (Unix seconds) */
	int64_t last_accepted;   /* 0: never */
	double hashrate;         /* over the window, H/s */
	double hashrate_24h;     /* its 24-hour average (or since it began) */
};

struct watch;

struct watch *watch_new(const struct watch_cfg *c);
void watch_free(struct watch *w);

/*
 * watch_update(w, db, now): recompute every state from the books at time
 * now (Unix seconds), log the changes. 0, or -1 with a message.
 */
int watch_update(struct watch *w, struct db *db, int64_t now, char *err,
    size_t errlen);

/* Any thread: how many workers are in each state (all 0 before the first
 * update); whether an update has run. */
bool watch_counts(struct watch *w, uint64_t counts[WORKER_STATE_MAX]);

/*
 * watch_list(w, state, n): a copy of the workers in `state` (or all, for
 * -1): offline first, then slow, then online, each the longest in its
 * state first. Free it. NULL with *n = 0 when there are none.
 */
struct watch_worker *watch_list(struct watch *w, int state, size_t *n);

const char *watch_state_name(enum worker_state s);
/* -1 for a name that is not a state. */
int watch_state_parse(const char *name);

#endif
