/*
 * hub.h: aggregation mode's pool side.
 *
 * The hub runs on a thread of its own (a struct worker without
 * listeners) and holds one shared connection per configured pool (a
 * channel): mining.configure (version rolling), subscribe, and the pool
 * account's authorize. The most preferred channel that is ready and
 * healthy is the active one; the others stay subscribed as standbys
 * ([aggregate] standby), so a failover is a new job, not a reconnect.
 *
 * Everything between the hub and the worker threads travels as copied
 * messages (worker_post): each job once per thread (struct hub_job,
 * shared read-only, reference counted), requests from the threads to the
 * hub (authorize a worker, forward a share) and their answers back.
 *
 * A channel is dropped, with a logged reason, when the pool breaks a
 * bound: a line over HUB_LINE_MAX, a merkle branch or coinbase over
 * share.h's caps, extranonce sizes the split cannot use, more than
 * HUB_NOTIFY_BURST jobs within a second, or an answer to an id never
 * sent. It counts as a failure of the pool (router.h).
 */
#ifndef LOKA_PROXY_HUB_H
#define LOKA_PROXY_HUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mining/jobs.h"
#include "stratum/identity.h"
#include "stratum/share.h"

struct proxy;
struct hub;

/* A pool line longer than this is a protocol violation. */
#define HUB_LINE_MAX (64 * 1024)
/* Jobs a pool may send within one second before it is a flood. */
#define HUB_NOTIFY_BURST 20
/* Connections to one pool at most: a split whose slots cannot hold
 * [server] max_connections miners on one opens more (the same number to
 * every pool, so that miners can move). */
#define HUB_CONNS_MAX 8
/* A channel's number: pool and connection. */
#define HUB_CHANNEL(pool, k) ((uint32_t)(pool) * HUB_CONNS_MAX + (uint32_t)(k))
#define HUB_CHANNEL_POOL(ch) ((int)((ch) / HUB_CONNS_MAX))
/* Authorize requests held while no pool is ready (then refused). */
#define HUB_WAITING_MAX 65536

/* The extranonce split of every miner (slots.h), fixed at the first
 * pool that subscribed. */
struct hub_split {
	int slot_bytes;
	int miner_bytes;
	uint32_t nslots;          /* per connection */
	int conns;                /* connections per pool */
};

/* A job, as every worker thread gets it. */
struct hub_job {
	_Atomic int refs;
	struct mining_job job;    /* job.upstream: the channel */
	int pool;                 /* the configured pool */
	int conn;                 /* which of its connections */
	bool active;              /* from the channel miners work for */
	bool switched;            /* the first job after a change of pool:
	                           * every older job is stale */
	size_t len;
	char line[];              /* the mining.notify miners get, "\n" at
	                           * the end */
};

void hub_job_unref(struct hub_job *j);

/* A worker to authorize (thread -> hub), answered with the same struct
 * (hub -> thread). */
struct hub_auth {
	uint64_t session;
	int thread;
	int worker;               /* index in the session */
	char *miner_id;           /* the request's id, as JSON text */
	char *login;
	char *password;           /* never logged */
	int64_t asked_ms;
	/* the answer */
	bool ok;
	int pool;                 /* where it was authorized */
	int code;                 /* when refused */
	char message[128];
};

void hub_auth_free(struct hub_auth *a);

/* A share that goes to the pool (thread -> hub), and its verdict back
 * when the miner waits for it (verdict = "pool"). */
struct hub_share {
	uint64_t session;
	int thread;
	uint32_t channel;
	int pool;
	char pool_job_id[SHARE_JOB_ID_MAX + 1];
	char login[IDENTITY_USER_MAX + IDENTITY_WORKER_MAX + 16];
	char en2[2 * SHARE_EXTRANONCE_MAX + 1]; /* slot and the miner's */
	char ntime[9], nonce[9], vbits[9];      /* vbits "": none */
	double diff;              /* the miner's, for the books */
	double pool_diff;
	bool block;
	bool wait;                /* the miner waits for this verdict */
	uint32_t token;           /* with wait: the session's pending slot */
	int worker;               /* index in the session */
	/* the verdict */
	bool accepted;
	int code;
};

void hub_share_free(struct hub_share *sh);

/* What /api/v1/pools and /metrics show of a channel (any thread). */
struct hub_channel_view {
	const char *state;        /* "connecting", "ready", "backoff", ... */
	bool active;
	double difficulty;
	int en2_size;
	uint32_t version_mask;
	uint64_t jobs;
	uint64_t submitted, accepted, rejected, lost;
	double accepted_diff, rejected_diff;
	uint64_t workers;         /* names authorized on it */
	int connections;          /* ready connections to the pool */
};

/* hub_new(p): the hub of p's pools (main thread, before the workers
 * start). NULL: logged. */
struct hub *hub_new(struct proxy *p);
int hub_start(struct hub *h);
/* After the worker threads ended: waits (up to the shutdown timeout) for
 * the verdicts of forwarded shares, then closes the channels and the
 * thread. */
void hub_stop(struct hub *h);
void hub_free(struct hub *h);

/* Requests from a worker thread; the hub owns them from here. */
void hub_authorize(struct hub *h, struct hub_auth *a);
void hub_submit(struct hub *h, struct hub_share *sh);
/* A pool was enabled, disabled or given another priority (router_set()):
 * the hub moves the miners and opens or closes connections to match.
 * Any thread. */
void hub_pool_changed(struct hub *h);

/* A snapshot of pool i's shared connections (state, difficulty, sizes
 * and mask of the first; counters summed); false when there is none. */
bool hub_channel_view(struct hub *h, int i, struct hub_channel_view *out);
/* The pool miners work for now, or -1. */
int hub_active_pool(struct hub *h);
/* The split (false until a pool subscribed). */
bool hub_split_get(struct hub *h, struct hub_split *out);

/*
 * On the worker thread (aggregate.c), called by the hub's messages.
 */
struct proxy_thread;
void aggregate_on_split(struct proxy_thread *t, const struct hub_split *sp);
void aggregate_on_job(struct proxy_thread *t, struct hub_job *j);
void aggregate_on_auth(struct proxy_thread *t, struct hub_auth *a);
void aggregate_on_verdict(struct proxy_thread *t, struct hub_share *sh);
/* No pool can take shares: every job is stale. */
void aggregate_on_no_work(struct proxy_thread *t);
void aggregate_thread_init(struct proxy_thread *t);
void aggregate_thread_fini(struct proxy_thread *t);

#endif
