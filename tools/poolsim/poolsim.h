/*
 * poolsim.h: the modules of loka-poolsim, Loka's test pool.
 *
 * loka-poolsim is a single-threaded libevent Stratum V1 server that behaves
 * like a real pool and validates every share with src/stratum/share.h. It
 * is split into:
 *
 *   main.c    command line, signals, the event loop
 *   pool.c    listener, connections and the Stratum protocol (pool_*)
 *   jobs.c    realistic jobs and the set of live ones (jobs_*)
 *   (duplicate-share sets: src/mining/dupset.h)
 *   stats.c   counters and the JSON summary file (stats_*)
 *
 * Everything runs on the one event loop thread; nothing here is
 * thread-safe and nothing needs to be.
 */
#ifndef LOKA_POOLSIM_H
#define LOKA_POOLSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mining/dupset.h"
#include "stratum/share.h"

struct event_base;

/* Faults a pool can be told to show, for failover tests. */
enum poolsim_fault {
	POOLSIM_FAULT_NONE = 0,
	POOLSIM_FAULT_SILENT,		/* accept, read, never answer */
	POOLSIM_FAULT_NO_AUTHORIZE,	/* never answer mining.authorize */
	POOLSIM_FAULT_OVERSIZE_LINE,	/* a 10 MB line after subscribe */
	POOLSIM_FAULT_MAX
};

/* The line --oversize-line sends: far over any sane client's cap. */
#define POOLSIM_OVERSIZE_BYTES	(10 * 1024 * 1024)

/* Settings from the command line; read-only once the pool runs. */
struct poolsim_opts {
	const char	*bind;		/* "host:port" */
	const char	*port_file;	/* NULL: none */
	const char	*summary_path;	/* NULL: none */
	const char	*user_prefix;	/* NULL: every name authorizes */
	double		 difficulty;	/* initial per-connection difficulty */
	double		 notify_interval; /* seconds; 0: no periodic jobs */
	unsigned long	 clean_every;	/* every Nth periodic job is a block */
	size_t		 en1_size;	/* extranonce1 bytes */
	size_t		 en2_size;	/* extranonce2 bytes */
	uint32_t	 version_mask;	/* offered in mining.configure */
	bool		 trust;		/* skip hashing */
	bool		 reject_extranonce_subscribe;
	enum poolsim_fault fault;
};

/* Difficulty bounds for --difficulty and mining.suggest_difficulty. */
#define POOLSIM_DIFF_MIN	1e-8
#define POOLSIM_DIFF_MAX	1e12

/*
 * jobs.c: builds jobs that look like a real pool's (BIP34 height in the
 * coinbase, a payout and a witness commitment output, a merkle branch of
 * random hashes) and keeps the live set: the last JOBS_KEEP jobs since the
 * last clean one.
 */

/* Live jobs kept; an older job is stale (error 21). */
#define JOBS_KEEP	16

struct jobs_job {
	uint64_t	 seq;		/* 1, 2, ... in creation order */
	const char	*id;		/* short hex counter (sj.job_id) */
	bool		 clean;		/* a new block */
	uint32_t	 ntime;
	struct share_job sj;		/* decoded, for share_check() */
	char		*notify[2];	/* mining.notify line, [clean_jobs] */
	size_t		 notify_len[2];
};

struct jobs;

/*
 * jobs_new(en1_size, en2_size): an empty job set whose coinbases leave
 * en1_size + en2_size bytes between coinb1 and coinb2. Call jobs_next()
 * before anything else. Never NULL (aborts when out of memory).
 */
struct jobs *jobs_new(size_t en1_size, size_t en2_size);
/* jobs_free(js): free js and all its jobs; NULL is a no-op. */
void jobs_free(struct jobs *js);
/*
 * jobs_next(js, clean): make a new current job. clean starts a new block
 * (new prevhash, height + 1) and makes every earlier job stale; otherwise
 * the oldest job is dropped once JOBS_KEEP are live. Returns the job,
 * owned by js and valid until it leaves the set; NULL if the job could not
 * be built (a bug: logged).
 */
const struct jobs_job *jobs_next(struct jobs *js, bool clean);
/* jobs_current(js): the newest job, or NULL before the first jobs_next(). */
const struct jobs_job *jobs_current(const struct jobs *js);
/* jobs_find(js, id): the live job with this id, or NULL (unknown/stale). */
const struct jobs_job *jobs_find(const struct jobs *js, const char *id);
/* jobs_is_live(js, seq): is the job with this sequence number live? */
bool jobs_is_live(const struct jobs *js, uint64_t seq);

/*
 * stats.c: what the summary file reports. Worker records are created on a
 * successful mining.authorize and live as long as the stats.
 */
enum stats_reject {
	STATS_REJ_UNAUTHORIZED = 0,
	STATS_REJ_NOT_SUBSCRIBED,
	STATS_REJ_STALE,
	STATS_REJ_DUPLICATE,
	STATS_REJ_MALFORMED,
	STATS_REJ_LOW_DIFFICULTY,
	STATS_REJ_OTHER,
	STATS_REJ_MAX
};

/* Distinct authorized names kept; more are refused (memory cap). */
#define STATS_WORKERS_MAX	(1024 * 1024)

struct stats;
struct stats_worker;

/* stats_new(): zeroed counters. Never NULL. */
struct stats *stats_new(void);
/* stats_free(s): NULL is a no-op. */
void stats_free(struct stats *s);
void stats_conn_open(struct stats *s);
void stats_conn_close(struct stats *s);
void stats_subscribe(struct stats *s);
/*
 * stats_worker(s, name): the record for an authorized name, created on
 * first use (name is copied). NULL when STATS_WORKERS_MAX are held.
 */
struct stats_worker *stats_worker(struct stats *s, const char *name);
/* stats_worker_name(w): the name w was created with. */
const char *stats_worker_name(const struct stats_worker *w);
/* stats_accept(s, w, diff, rolled): count one accepted share for w. */
void stats_accept(struct stats *s, struct stats_worker *w, double diff,
    bool rolled);
/* stats_reject(s, w, why): count one rejected share; w may be NULL. */
void stats_reject(struct stats *s, struct stats_worker *w,
    enum stats_reject why);
/*
 * stats_write(s, path): write the JSON summary to path atomically (a
 * temporary file in the same directory, then rename). Returns 0 or -1
 * (logged).
 */
int stats_write(const struct stats *s, const char *path);

/*
 * pool.c: the Stratum server. Owns its listener, connections, the job set
 * and the periodic job timer; counts into a stats owned by the caller.
 */
struct pool;

/*
 * pool_new(base, o, st): a pool on base with the options o and the stats
 * st (both must outlive it). Builds the first job; does not listen yet.
 * Returns NULL (logged) on failure.
 */
struct pool *pool_new(struct event_base *base, const struct poolsim_opts *o,
    struct stats *st);
/* pool_free(p): close every connection and the listener; NULL is a no-op. */
void pool_free(struct pool *p);
/*
 * pool_listen(p, addr, addrlen): bind o->bind and listen; writes the bound
 * "host:port" to addr. Returns the bound port, or -1 (logged).
 */
int pool_listen(struct pool *p, char *addr, size_t addrlen);
/* pool_new_block(p): broadcast a clean job (a new block) now. */
void pool_new_block(struct pool *p);
/* pool_reconnect_all(p): send client.reconnect [] to every connection. */
void pool_reconnect_all(struct pool *p);

#endif
