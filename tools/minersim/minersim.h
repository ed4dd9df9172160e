/*
 * minersim.h: loka-minersim's shared declarations.
 *
 * loka-minersim simulates many Stratum V1 miners on one libevent loop, on a
 * single thread, for end-to-end tests and benchmarks of Loka:
 *
 *   main.c   command line, the run (start, duration, signals, drain), the
 *            summary JSON and the exit status;
 *   miner.c  one miner's connection and protocol state machine (connect,
 *            HTTP CONNECT, the dialect's handshake, server messages, submits
 *            and their verdicts, reconnects);
 *   work.c   making shares: real ones ground with share.h in bounded slices
 *            per loop turn, or random ones; jobs are interned so thousands
 *            of miners on the same job share one copy;
 *   stats.c  the submit latency histogram and the reject code table.
 *
 * Per-miner memory is kept small (a struct miner, a bufferevent, a timer and
 * a small ring of submit times) so that tens of thousands of miners fit.
 * Nothing here is thread-safe; nothing needs to be.
 */
#ifndef LOKA_MINERSIM_H
#define LOKA_MINERSIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stratum/share.h"

#define SIM_AGENT		"loka-minersim/0.1"
#define SIM_LOG			"minersim"

/* The version-rolling mask we ask for (BIP 320's general purpose bits). */
#define SIM_VR_MASK		0x1fffe000u
/* The difficulty we suggest / ask as a minimum (tests use tiny ones). */
#define SIM_SUGGEST_DIFF	0.0001

enum sim_mode {
	SIM_MODE_REAL = 0,	/* grind until a share meets the difficulty */
	SIM_MODE_RANDOM,	/* random extranonce2/nonce, no hashing */
	SIM_MODE_MAX
};

enum sim_dialect {
	SIM_DIALECT_PLAIN = 0,
	SIM_DIALECT_CONFIGURE,
	SIM_DIALECT_SUGGEST,
	SIM_DIALECT_MULTIVERSION,
	SIM_DIALECT_EXTRANONCE,
	SIM_DIALECT_MIXED,	/* miner i uses dialect i mod 5 */
	SIM_DIALECT_MAX
};

enum miner_state {
	MINER_IDLE = 0,		/* not started yet, or stopped at the end */
	MINER_CONNECTING,	/* TCP connect in progress */
	MINER_TUNNEL,		/* CONNECT sent, waiting for "HTTP/1.1 200" */
	MINER_HANDSHAKE,	/* Stratum handshake in progress */
	MINER_READY,		/* subscribed and authorized: mining */
	MINER_BACKOFF,		/* waiting to reconnect */
	MINER_STATE_MAX
};

/* struct miner flags. */
#define MINER_EVER_CONNECTED	0x0001	/* counted in sim.connected */
#define MINER_EVER_READY	0x0002	/* counted in sim.handshakes */
#define MINER_EVER_STARTED	0x0004	/* later connects are reconnects */
#define MINER_SUBSCRIBED	0x0008
#define MINER_AUTHORIZED	0x0010
#define MINER_ROLLING		0x0020	/* version rolling granted */
#define MINER_XN_SUB		0x0040	/* sent mining.extranonce.subscribe */
#define MINER_XN_PENDING	0x0080	/* a set_extranonce awaits a notify */
#define MINER_DONE		0x0100	/* --shares verdicts reached */
#define MINER_GRINDING		0x0200	/* in the grind queue */
#define MINER_SKIP_LINE		0x0400	/* discarding an over-long line */

struct event;
struct event_base;
struct bufferevent;
struct sim;

/* An interned job (work.c): one copy per distinct mining.notify. */
struct work_job {
	struct share_job job;	/* clean is always false here */
	uint64_t	 hash;
	uint32_t	 refs;
	struct work_job	*next;	/* hash bucket chain */
};

struct miner {
	struct sim	*sim;
	struct bufferevent *bev;	/* NULL when not connected */
	struct event	*timer;		/* connect/handshake timeout, backoff,
					   next share due: one at a time */
	struct work_job	*job;		/* newest job; NULL before a notify */
	struct work_job	*grind_job;	/* the job being ground */
	struct miner	*grind_prev, *grind_next;
	uint64_t	*pending;	/* ring: submit send time + 1 (us), 0
					   once answered */
	double		*pend_diff;	/* ring beside it: the difficulty of
					   the submit's job */
	double		 accepted_diff;	/* sum over accepted submits */
	double		 credit;	/* hashes it may do now (--hashrate) */
	uint64_t	 credit_us;	/* when credit was last topped up */
	uint64_t	 next_due_us;	/* when the next share is due */
	uint64_t	 en2_counter;	/* extranonce2 of the next share */
	double		 diff;		/* latest mining.set_difficulty */
	double		 job_diff;	/* diff when the newest job arrived */
	double		 grind_diff;	/* diff when grind_job arrived */
	uint32_t	 index;
	uint32_t	 next_id;	/* id of the next submit */
	uint32_t	 pend_base;	/* id of the ring's head slot */
	uint16_t	 pend_head, pend_len, pend_cap;
	uint16_t	 outstanding;	/* submits sent and not answered */
	uint32_t	 sent, accepted, rejected;
	uint32_t	 mask;		/* granted version-rolling mask */
	uint32_t	 nonce;		/* next nonce to try */
	uint32_t	 vbits;		/* version bits being rolled */
	uint16_t	 flags;
	uint16_t	 backoff_ms;
	uint8_t		 state;		/* enum miner_state */
	uint8_t		 dialect;	/* enum sim_dialect, never MIXED */
	uint8_t		 tunnel_lines;	/* HTTP response lines seen */
	uint8_t		 en1_len, en2_size;
	uint8_t		 xn_en1_len, xn_en2_size;	/* set_extranonce */
	uint8_t		 en1[SHARE_EXTRANONCE_MAX];
	uint8_t		 xn_en1[SHARE_EXTRANONCE_MAX];
};

struct sim_config {
	const char	*url;
	struct sockaddr_storage addr;	/* the pool (resolved once) */
	socklen_t	 addrlen;
	uint32_t	 miners;
	uint32_t	 src_first;	/* first source IPv4, host order */
	uint32_t	 src_count;	/* 0: let the kernel choose */
	const char	*user_fmt;
	const char	*password;
	double		 rate;		/* shares per second per miner */
	double		 hashrate;	/* real mode: hashes per second per
					   miner; 0 = unlimited */
	uint64_t	 shares;	/* per miner; 0 = unlimited */
	double		 duration;	/* seconds; 0 = unlimited */
	double		 drain_timeout;	/* seconds */
	enum sim_mode	 mode;
	enum sim_dialect dialect;
	const char	*http_connect;	/* CONNECT target, or NULL */
	const char	*summary;	/* summary file, or NULL */
	bool		 allow_failures;
};

/* Latency histogram: 8 log-spaced sub-buckets per power of two of us. */
#define STATS_SUB_BITS		3
#define STATS_BUCKETS		((64 - STATS_SUB_BITS + 1) << STATS_SUB_BITS)
/* Distinct reject codes kept; later ones are counted as "other". */
#define STATS_CODES_MAX		32
/* Reject code for a false result without an error code. */
#define STATS_CODE_NONE		INT32_MIN

struct stats {
	uint64_t	 latency[STATS_BUCKETS];
	uint64_t	 latency_count;
	uint64_t	 latency_max;
	int32_t		 codes[STATS_CODES_MAX];
	uint64_t	 code_counts[STATS_CODES_MAX];
	uint32_t	 ncodes;
	uint64_t	 code_other;
};

#define WORK_BUCKETS		256

struct sim {
	struct sim_config cfg;
	struct event_base *base;
	struct miner	*miners;	/* cfg.miners of them */
	uint32_t	 started;	/* miners started so far */
	uint32_t	 connected;	/* miners connected at least once */
	uint32_t	 handshakes;	/* miners ready at least once */
	uint32_t	 done;		/* miners that reached --shares */
	uint64_t	 reconnects;
	uint64_t	 disconnects;
	uint64_t	 version_rolled;
	uint64_t	 outstanding;	/* over all live connections */
	uint64_t	 hashes;	/* real mode: hashes computed */
	uint64_t	 rng;		/* xorshift64 state */
	uint64_t	 t_start_us;
	bool		 ending;	/* no new shares, no reconnects */
	bool		 finished;
	struct stats	 stats;
	struct miner	*grind_head, *grind_tail;
	struct event	*grind_ev;
	struct work_job	*jobs[WORK_BUCKETS];
	uint32_t	 njobs;
};

/* main.c */
/* sim_now_us(): CLOCK_MONOTONIC in microseconds. */
uint64_t sim_now_us(void);
/* sim_random(sim): the next 64 pseudo-random bits (not for secrets). */
uint64_t sim_random(struct sim *sim);
/* sim_end(sim): stop making shares and start draining; idempotent. */
void	 sim_end(struct sim *sim);
/* sim_check_drained(sim): finish the run if ending and nothing is
 * outstanding. */
void	 sim_check_drained(struct sim *sim);
/* sim_format_user(sim, index, buf, len): the login name of miner index. */
void	 sim_format_user(const struct sim *sim, uint32_t index, char *buf,
	    size_t len);

/* miner.c */
/* miner_init(m, sim, index): set up an idle miner. Returns 0 or -1. */
int	 miner_init(struct miner *m, struct sim *sim, uint32_t index);
/* miner_start(m): first connect. */
void	 miner_start(struct miner *m);
/* miner_stop_shares(m): the run is ending: make no more shares. */
void	 miner_stop_shares(struct miner *m);
/* miner_free(m): close and release everything; m stays zeroed-safe. */
void	 miner_free(struct miner *m);
/*
 * miner_submit(m, job, en2hex, ntimehex, noncehex, vbitshex): send a
 * mining.submit for job (strings as they go on the wire); vbitshex NULL
 * means no 6th field. Records the send time for the verdict's latency.
 * Returns 0, or -1 when not connected, PEND_MAX submits are outstanding or
 * the message cannot be built.
 */
int	 miner_submit(struct miner *m, const struct work_job *job,
	    const char *en2hex, const char *ntimehex, const char *noncehex,
	    const char *vbitshex);
/* miner_share_made(m): a grind ended with a submit; schedule the next. */
void	 miner_share_made(struct miner *m);
const char *miner_state_name(enum miner_state state);

/* work.c */
/*
 * work_job_intern(sim, j): the interned copy of job j (clean ignored), with
 * one reference for the caller; never NULL.
 */
struct work_job *work_job_intern(struct sim *sim, const struct share_job *j);
/* work_job_ref(wj) / work_job_put(sim, wj): take / drop a reference;
 * work_job_put(sim, NULL) is a no-op. */
struct work_job *work_job_ref(struct work_job *wj);
void	 work_job_put(struct sim *sim, struct work_job *wj);
/*
 * work_start(m): make one share on m->job. Random mode submits it now;
 * real mode queues m for grinding and submits when found. Returns 0, or -1
 * if nothing could be started.
 */
int	 work_start(struct miner *m);
/* work_restart(m): the job being ground was dropped: grind m->job. */
void	 work_restart(struct miner *m);
/* work_cancel(m): stop grinding, if m was. */
void	 work_cancel(struct miner *m);
/* work_init(sim) / work_free(sim): the grind event and the job table. */
int	 work_init(struct sim *sim);
void	 work_free(struct sim *sim);

/* stats.c */
void	 stats_latency_add(struct stats *st, uint64_t us);
/* stats_latency_percentile(st, p): p in [0, 1]; 0 when empty. */
uint64_t stats_latency_percentile(const struct stats *st, double p);
/* stats_reject_add(st, code): count one reject with code (or
 * STATS_CODE_NONE). */
void	 stats_reject_add(struct stats *st, int32_t code);
/* stats_rejects_json(st): {"21": n, ...}, a new reference. */
json_t	*stats_rejects_json(const struct stats *st);

#endif
