/*
 * bench.h: loka-bench-proxy, the proxy benchmark (docs/benchmarks.md).
 *
 * loka-bench-proxy measures a Stratum proxy end to end on one machine. It
 * plays the pool (a child process) and N miners (the main process), starts
 * the proxy under test between them (Loka, or HAProxy in TCP mode as the
 * L4 floor, or nothing: miners straight to the pool) and prints tables:
 *
 *   main.c     options, the scenarios (conns, shares, fanout), the tables
 *   pool.c     the pool: a forked child with its own event loop, driven
 *              over a socketpair (notify now, notify every MS, stats, close)
 *   miners.c   the miners: connect from 127.0.0.x, handshake, submit
 *              (closed loop or paced), time submit round trips and notify
 *              arrivals
 *   target.c   start and stop the proxy under test; its RSS and CPU time
 *              from /proc
 *   util.c     clock, samples and percentiles, /proc readers, JSON tokens
 *
 * Timing: the pool puts CLOCK_MONOTONIC (ns) at the start of a broadcast
 * into the job id; a miner subtracts it from its arrival time (the two
 * processes share the clock). Submit round trips are timed by the miner
 * alone. Pool and miners are two processes so that N pool sockets and N
 * miner sockets each fit under the per-process descriptor limit.
 *
 * Everything runs on one thread per process; nothing here is thread-safe.
 */
#ifndef LOKA_BENCH_PROXY_H
#define LOKA_BENCH_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event;
struct event_base;

/* ---- util.c ---- */

/* now_ns(): CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* Latency samples in ns (clamped to 4.29 s), kept whole for exact
 * percentiles. */
struct samples {
	uint32_t	*v;
	size_t		 n, cap;
	bool		 sorted;
};

void	 samples_add(struct samples *s, uint64_t ns);
void	 samples_clear(struct samples *s);
void	 samples_free(struct samples *s);
/* samples_pct(s, p): the p-quantile (p in [0, 1], nearest rank) in ns;
 * sorts s on first use; 0 when empty. */
uint64_t samples_pct(struct samples *s, double p);

/* What /proc says about a process. */
struct proc_usage {
	double	 cpu_s;		/* utime + stime, all threads */
	long	 rss_kb;	/* VmRSS */
	long	 anon_kb;	/* RssAnon */
	long	 fds;		/* open descriptors */
};

/* proc_sample(pid, u): fill u from /proc/PID/stat and status. 0 or -1. */
int	 proc_sample(pid_t pid, struct proc_usage *u);
/* sockstat_tcp(inuse, mem_pages): the TCP line of /proc/net/sockstat
 * (whole machine). 0 or -1. */
int	 sockstat_tcp(long *inuse, long *mem_pages);
/*
 * json_token(line, len, key, vlen): the raw value of "key" in a one-line
 * JSON object (a string with its quotes, or a bare token), or NULL. Good
 * enough for the flat, known messages of this benchmark; not a parser.
 */
const char *json_token(const char *line, size_t len, const char *key,
	    size_t *vlen);
/* free_port(): a TCP port on 127.0.0.1 that was free a moment ago. */
int	 free_port(void);
/* set_nofile_max(): raise RLIMIT_NOFILE to its hard limit; returns it. */
long	 set_nofile_max(void);

/* ---- pool.c ---- */

/* The parent's handle on the pool child. */
struct pool_ctl {
	pid_t		 pid;
	int		 fd;		/* socketpair, parent's end */
	uint16_t	 port;		/* 127.0.0.1:port */
	struct event	*ev;
	char		 buf[512];
	size_t		 len;
	char		 reply[512];	/* the last complete reply line */
	bool		 replied;
};

/* Counters the pool reports ("stats"). */
struct pool_stats {
	uint64_t	 conns;		/* open now */
	uint64_t	 ready;		/* authorized, get broadcasts */
	uint64_t	 lines_in;	/* every line received */
	uint64_t	 submits;
	uint64_t	 lines_out;	/* every line sent */
};

/*
 * pool_spawn(ctl): listen on 127.0.0.1 (any port), fork the pool child
 * and return in the parent with ctl filled. Call before the parent makes
 * its event base. 0, or -1 (printed).
 */
int	 pool_spawn(struct pool_ctl *ctl);
/* pool_ctl_attach(ctl, base): watch the control socket on base. */
void	 pool_ctl_attach(struct pool_ctl *ctl, struct event_base *base);
/* pool_ctl_stop(ctl): close the control socket and reap the child. */
void	 pool_ctl_stop(struct pool_ctl *ctl);

/* ---- miners.c ---- */

enum miner_state {
	MINER_IDLE = 0,
	MINER_CONNECTING,
	MINER_HANDSHAKE,	/* subscribe and authorize sent */
	MINER_READY,		/* authorized, has a job */
	MINER_FAILED,		/* closed before or after ready */
	MINER_STATE_MAX
};

/* Submits one miner may have unanswered (the id ring's size). */
#define MINER_WINDOW_MAX	64

struct miner;

struct miners {
	struct event_base *base;
	struct miner	*m;
	uint32_t	 n;		/* miners allocated */
	uint32_t	 started;	/* connects begun */
	uint32_t	 src_count;	/* source addresses 127.0.0.2.. */
	struct sockaddr_in dst;
	double		 connect_rate;	/* connects per second */
	struct event	*start_ev;
	struct event	*tick_ev;	/* paced submits */

	/* Where miners are. */
	uint32_t	 nready;
	uint32_t	 nfailed;	/* never became ready */
	uint32_t	 nlost;		/* closed after ready */

	/* Traffic, whole run. */
	uint64_t	 submits;	/* sent */
	uint64_t	 answers;	/* submit verdicts received */
	uint64_t	 rejected;	/* verdicts other than true */
	uint64_t	 lines_in;	/* every line received */
	uint64_t	 notifies;	/* new jobs received (all miners) */
	uint64_t	 outstanding;	/* submits unanswered, all miners */
	uint64_t	 paced_late;	/* paced submits skipped: window full */

	/* Submit modes. */
	uint32_t	 window;	/* closed loop: keep this many out */
	double		 rate;		/* paced: submits per second, total */
	uint64_t	 rate_t0, rate_sent;
	uint32_t	 rr;		/* paced round robin position */

	/* Measurement. */
	bool		 record;	/* add samples */
	struct samples	 lat;		/* submit round trips */
	struct samples	 fan;		/* notify arrivals after the send */
	uint64_t	 fan_t0;	/* newest broadcast seen */
	uint32_t	 fan_got;	/* miners that got it */
	uint64_t	 fan_last;	/* latest arrival of it (ns after t0) */
};

/*
 * miners_new(base, n, dst, src_count, connect_rate): n idle miners that
 * will connect to dst from 127.0.0.2 .. 127.0.0.(1 + src_count).
 */
struct miners *miners_new(struct event_base *base, uint32_t n,
	    const struct sockaddr_in *dst, uint32_t src_count,
	    double connect_rate);
/* miners_start(ms): connect every miner, connect_rate per second. */
void	 miners_start(struct miners *ms);
/* miners_window(ms, w): closed loop, w submits out per ready miner (0:
 * stop sending). */
void	 miners_window(struct miners *ms, uint32_t w);
/* miners_pace(ms, rate): rate submits per second over the ready miners,
 * round robin (0: stop). */
void	 miners_pace(struct miners *ms, double rate);
/* miners_free(ms): close every connection (RST) and free; NULL no-op. */
void	 miners_free(struct miners *ms);

/* ---- target.c ---- */

enum target_kind {
	TARGET_DIRECT = 0,	/* no proxy: miners connect to the pool */
	TARGET_LOKA,
	TARGET_HAPROXY,
	TARGET_LOKA_B,		/* a second Loka build (--loka-b), for A/B */
	TARGET_LOKA_AGG,	/* Loka in aggregate mode: one pool
				   connection, every share checked */
	TARGET_MAX
};

struct target_opts {
	const char	*loka;		/* loka-stratum binary */
	const char	*loka_b;	/* another one, or NULL */
	/* VAR=VALUE settings for loka-b only (--loka-b-env) */
	const char	*loka_b_env[16];
	size_t		 nloka_b_env;
	const char	*haproxy;	/* haproxy binary */
	unsigned	 threads;	/* worker_threads / nbthread */
	int		 cpu;		/* pin the proxy to this CPU; -1: no */
	bool		 keep;		/* keep the temporary directory */
};

struct target {
	enum target_kind kind;
	pid_t		 pid;		/* 0 for direct */
	uint16_t	 port;		/* where miners connect */
	char		 dir[256];	/* temporary directory */
	bool		 keep;		/* keep dir at the end */
};

extern const char *const target_names[TARGET_MAX];

/*
 * target_start(t, kind, o, pool_port, max_conns): start the proxy in a
 * temporary directory and wait until it accepts connections. Direct only
 * fills t->port with pool_port. 0, or -1 (printed, nothing left running).
 */
int	 target_start(struct target *t, enum target_kind kind,
	    const struct target_opts *o, uint16_t pool_port,
	    unsigned max_conns);
/* target_stop(t): SIGTERM (SIGKILL after 10 s), reap, clean up. */
void	 target_stop(struct target *t);

/* util.c: a connection's send queue (grows by doubling). */
struct outq {
	char	*p;
	size_t	 len, off, cap;
};

void	 outq_add(struct outq *q, const char *data, size_t len);
/* Send what is queued: 1 all sent, 0 the socket is full (the rest
 * waits), -1 an error (errno set). */
int	 outq_send(struct outq *q, int fd);
size_t	 outq_pending(const struct outq *q);
void	 outq_free(struct outq *q);

#endif
