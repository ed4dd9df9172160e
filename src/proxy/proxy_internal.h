/*
 * proxy_internal.h: the structures shared by the files of src/proxy/
 * (proxy.c: start and stop; session.c: a miner connection and its
 * first bytes; passthrough.c: Stratum relayed over the session's own
 * upstream connection). Not for use outside that folder.
 *
 * Threading: a struct session and everything it points to belong to one
 * worker thread (its struct proxy_thread). struct proxy is shared
 * read-mostly; its counters are relaxed atomics.
 */
#ifndef LOKA_PROXY_INTERNAL_H
#define LOKA_PROXY_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "api/api.h"
#include "net/cidr.h"
#include "proxy/accounting.h"

struct bufferevent;
struct cfg;
struct event;
struct evbuffer;
struct router;
struct store;
struct store_ring;
struct worker;

/* Per-thread counters; relaxed atomics so other threads may read them. */
struct proxy_stats {
	_Atomic uint64_t accepted;        /* connections accepted */
	_Atomic uint64_t refused_full;    /* over max_connections */
	_Atomic uint64_t refused_proxy;   /* PROXY header from an untrusted peer */
	_Atomic uint64_t http_rejected;   /* plain HTTP on the Stratum port */
	_Atomic uint64_t unknown_protocol;
	_Atomic uint64_t tunnels;         /* HTTP CONNECT tunnels opened */
	_Atomic uint64_t tunnel_refused;  /* CONNECT answered 4xx/5xx */
	_Atomic uint64_t handshake_timeouts;
	_Atomic uint64_t idle_timeouts;
	_Atomic uint64_t line_too_long;
	_Atomic uint64_t parse_errors;
	_Atomic uint64_t slow_miners;     /* closed: output over the cap */
	_Atomic uint64_t pending_full;    /* requests refused: too many pending */
	_Atomic uint64_t upstream_connects;
	_Atomic uint64_t upstream_failures;
	_Atomic uint64_t upstream_reconnects;
	_Atomic uint64_t no_pool;         /* sessions closed: no pool usable */
	_Atomic uint64_t submits;
	_Atomic uint64_t shares_accepted; /* pool verdicts */
	_Atomic uint64_t shares_rejected;
};

#define STAT_INC(t, f) atomic_fetch_add_explicit(&(t)->stats.f, 1, \
	memory_order_relaxed)

struct proxy {
	const struct cfg *cfg;
	struct router *router;
	struct store *store;           /* the books' write path */
	struct cidr_set trusted;       /* trusted_proxies */
	atomic_int active;             /* open miner connections */
	_Atomic uint64_t next_session; /* session ids, from 1 */
	struct worker **workers;
	struct proxy_thread **threads;
	size_t nworkers;
};

enum session_state {
	SESSION_SNIFF = 0,  /* reading the first bytes */
	SESSION_STRATUM,    /* speaking Stratum, not yet authorized */
	SESSION_ACTIVE,     /* at least one worker authorized */
	SESSION_DRAINING,   /* shutting down: waiting for submit verdicts */
	SESSION_CLOSING,    /* flushing a last answer, then freed */
	SESSION_STATE_MAX
};

enum upstream_state {
	UP_NONE = 0,    /* no connection yet */
	UP_CONNECTING,  /* TCP connect (and DNS) in progress */
	UP_READY,       /* connected; requests flow */
	UP_BACKOFF,     /* lost; waiting to reconnect */
	UP_STATE_MAX
};

/* What an upstream request was, to route its response. */
enum pend_kind {
	PEND_CONFIGURE = 0,
	PEND_SUBSCRIBE,
	PEND_AUTHORIZE,
	PEND_SUBMIT,
	PEND_FORWARD,       /* any other miner request: relay the answer */
	PEND_REPLAY,        /* Loka's own re-handshake after a reconnect */
	PEND_REPLAY_SUBSCRIBE,
	PEND_KIND_MAX
};

struct pending {
	uint32_t up_id;      /* the id Loka used upstream; 0 = free slot */
	enum pend_kind kind;
	json_t *miner_id;    /* the miner's id (a reference), NULL for Loka's */
	int worker;          /* index into session workers, or -1 */
	double diff;         /* difficulty in force for a submit's job */
};

/* A worker the miner authorized on this session. */
struct session_worker {
	char *login;        /* as the miner wrote it */
	char *pool_name;    /* as the current pool sees it */
	char *password;     /* the miner's; never logged */
	struct acct_worker *acct; /* NULL until the pool said yes */
	bool authorized;
};

/* The difficulty in force when a job was sent (job id hashed: pools'
 * ids are short, but nothing bounds them). */
struct job_diff {
	uint64_t id_hash;
	double diff;
};

/* Workers one connection may authorize (rigs behind one farm proxy). */
#define SESSION_WORKERS_MAX 64
/* Recent jobs remembered per session; older ones are stale anyway. */
#define SESSION_JOBS 16

struct session {
	uint64_t id;
	struct proxy_thread *t;
	enum session_state state;
	struct bufferevent *down;
	struct sockaddr_storage peer;
	char peer_str[64];
	struct event *timer;     /* handshake deadline, drain, flush */
	struct event *resume;    /* more buffered lines to handle */
	bool counted;            /* holds a slot of proxy.active */
	TAILQ_ENTRY(session) entry;

	/* Sniffing */
	bool proxy_header_done;
	int bad_lines;           /* malformed lines so far */

	/* Pool */
	int pool;                /* index; -1 until chosen */
	bool pinned;             /* chosen by HTTP CONNECT: no failover */
	struct bufferevent *up;
	enum upstream_state up_state;
	struct event *up_timer;  /* reconnect backoff */
	uint32_t next_up_id;
	int up_attempts;         /* since the last good connection */
	struct evbuffer *backlog; /* miner lines waiting for the upstream */
	size_t backlog_lines;

	/* Requests waiting for the pool */
	struct pending *pend;    /* grown on demand, at most
	                          * max_pending_requests slots */
	size_t npend;            /* slots allocated */
	size_t submits_pending;

	/* Stratum state */
	json_t *configure_params; /* replayed after a reconnect */
	json_t *subscribe_params;
	char *extranonce1;
	int extranonce2_size;
	bool subscribed;
	bool extranonce_subscribed;
	bool answered_extranonce_locally;
	uint32_t requested_mask;  /* what the miner asked for */
	uint32_t granted_mask;    /* what the miner got (within the pool's) */
	bool version_rolling;
	double difficulty;
	struct job_diff jobs[SESSION_JOBS];
	size_t job_next;
	struct session_worker *workers; /* grown on demand, at most
	                                 * SESSION_WORKERS_MAX */
	size_t nworkers;
};

TAILQ_HEAD(session_list, session);

/* One per worker thread. */
struct proxy_thread {
	struct proxy *proxy;
	struct worker *worker;
	struct acct_table *acct;
	struct store_ring *ring;     /* this thread's queue to the store */
	struct session_list sessions;
	size_t nsessions;
	struct session_list zombies; /* closed, freed by the reap event */
	struct event *reap;
	bool draining;
	struct event *drain_timer;
	struct proxy_stats stats;
};

/* session.c */
void session_accept(struct worker *w, int fd, const struct sockaddr *sa,
    int salen, void *arg);
/* Close now (idempotent); the struct is freed from the loop later. */
void session_drop(struct session *s, const char *why);
/* Send what is queued, then close (bounded wait). */
void session_close_after_flush(struct session *s, const char *why);
/* Queue a line to the miner; enforces max_output_buffer. -1: dropped. */
int session_send_error(struct session *s, const json_t *id, int code,
    const char *message);
int session_send_result(struct session *s, const json_t *id, json_t *res);
int session_send_raw(struct session *s, const char *line, size_t len);
int session_check_output(struct session *s);
void session_set_state(struct session *s, enum session_state to);
/* The session is draining and has nothing pending: close it. */
void session_drain_check(struct session *s);
/* The first worker was authorized: handshake done, idle deadline on. */
void session_activated(struct session *s);
int64_t proxy_now_ms(void);

/* Worker thread life (session.c), on the worker's own thread. */
void session_thread_init(struct proxy_thread *t);
void session_thread_drain(struct worker *w, void *arg);
void session_thread_fini(struct proxy_thread *t);

/* proxy_metrics.c: the counters above as Prometheus families. */
struct metrics_registry;
void proxy_metrics_register(struct proxy *p, struct metrics_registry *reg);
/* The api_check_fn behind /ready, /health/pool, /health/database. */
int proxy_health(enum api_check what, char **body, void *arg);

/* passthrough.c */
/* Handle one complete line from the miner. -1: the session was closed. */
int passthrough_miner_line(struct session *s, char *line, size_t len);
/* Start (or restart) the upstream connection. */
void passthrough_connect(struct session *s);
/* Close the upstream connection; answer what it left pending. */
void passthrough_release(struct session *s);
/* Free everything passthrough keeps in the session (on session drop). */
void passthrough_free(struct session *s);

#endif
