/*
 * proxy_internal.h: the structures shared by the files of src/proxy/
 * (proxy.c: start and stop; session.c: a miner connection and its
 * first bytes; passthrough.c: Stratum relayed over the session's own
 * upstream connection; upstream.c: that connection's life, failures and
 * outages). Not for use outside that folder.
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
#include <netinet/in.h>
#include <sys/socket.h>

#include "api/api.h"
#include "net/cidr.h"
#include "books/accounting.h"
#include "proxy/guard.h"
#include "stratum/msg.h"

struct bufferevent;
struct cfg;
struct db;
struct event;
struct evbuffer;
struct router;
struct hub;
struct agg_session;
struct agg_thread;
struct store;
struct store_ring;
struct worker;
struct tls_client;
struct tls_server;
struct cfg_pool;

/* Which way a Stratum message went, for loka_messages_total. */
enum proxy_dir {
	PROXY_DIR_FROM_MINER = 0,
	PROXY_DIR_TO_MINER,
	PROXY_DIR_FROM_POOL,
	PROXY_DIR_TO_POOL,
	PROXY_DIR_MAX
};

/* Per-thread counters; relaxed atomics so other threads may read them. */
struct proxy_stats {
	_Atomic uint64_t accepted;        /* connections accepted */
	_Atomic uint64_t refused_full;    /* over max_connections */
	_Atomic uint64_t refused_proxy;   /* PROXY header from an untrusted peer */
	_Atomic uint64_t http_rejected;   /* plain HTTP on the Stratum port */
	_Atomic uint64_t unknown_protocol;
	_Atomic uint64_t tunnels;         /* HTTP CONNECT tunnels opened */
	_Atomic uint64_t tunnel_refused;  /* CONNECT answered 4xx/5xx */
	_Atomic uint64_t tls_sessions;    /* miner sessions that started TLS */
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
	_Atomic uint64_t pool_bad_lines;  /* unparsable or oversize from pools */
	_Atomic uint64_t verdicts_unjournaled; /* sent past verdict_wait */
	_Atomic uint64_t messages[PROXY_DIR_MAX][MSG_M_MAX];
};

/* Per thread and per configured pool. The owning thread is the only
 * writer; difficulty sums are doubles stored as their bits. */
struct proxy_pool_stats {
	_Atomic uint64_t accepted;
	_Atomic uint64_t rejected[ACCT_REJ_MAX];
	_Atomic uint64_t accepted_diff; /* double bits */
	_Atomic uint64_t rejected_diff; /* double bits */
	_Atomic uint64_t notifies;
	_Atomic uint64_t connects;
	_Atomic uint64_t failures;
	_Atomic uint64_t reconnects;
	_Atomic uint64_t handshake_timeouts; /* of those failures */
	_Atomic uint64_t protocol_errors;    /* of those failures */
	_Atomic int64_t ready;          /* upstream connections that
	                                 * completed their handshake */
};

#define STAT_INC(t, f) atomic_fetch_add_explicit(&(t)->stats.f, 1, \
	memory_order_relaxed)
#define STAT_MSG(t, dir, m) atomic_fetch_add_explicit( \
	&(t)->stats.messages[dir][m], 1, memory_order_relaxed)
#define POOL_INC(t, pool, f) atomic_fetch_add_explicit( \
	&(t)->pools[pool].f, 1, memory_order_relaxed)

struct proxy {
	const struct cfg *cfg;
	const struct proxy_mode *mode; /* [server] mode */
	struct hub *hub;               /* aggregate: the pool side; else NULL */
	struct router *router;
	struct store *store;           /* the books' write path */
	struct cidr_set trusted;       /* trusted_proxies */
	struct security *security;     /* bans, limits (src/security/);
	                                * NULL: none (unit tests) */
	atomic_int active;             /* open miner connections */
	_Atomic uint64_t next_session; /* session ids, from 1 */
	struct worker **workers;
	struct proxy_thread **threads;
	size_t nworkers;
	struct tls_server *tls;        /* miners' TLS (proxy_tls.c); NULL: off */
	struct tls_client **pool_tls;  /* per pool; NULL for stratum+tcp */
	/* Metrics the share path updates itself (proxy_metrics.c); NULL
	 * when [metrics] is disabled. */
	struct metrics_series **submit_rtt;   /* per pool, seconds */
	struct metrics_family *worker_shares; /* [metrics] per_worker */
	struct metrics_family *worker_diff;
	struct metrics_family *pool_switches; /* {from,to,reason} */
	struct proxy_rates *rates;            /* hashrate estimate */
	int64_t started_at;                   /* unix seconds */
	struct db *api_db;                    /* the API thread's own */
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
	UP_READY,       /* connected; requests flow (the handshake may still
	                 * be under way: see session.up_established) */
	UP_BACKOFF,     /* lost; waiting to reconnect (or for a pool) */
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
	int64_t sent_us;     /* monotonic, when sent: submit round trip */
	bool resend;         /* the miner's handshake request, unanswered by
	                      * a pool that failed: sent again on the next
	                      * connection */
};

/* A worker the miner authorized on this session. */
struct session_worker {
	char *login;        /* as the miner wrote it */
	char *pool_name;    /* as the current pool sees it */
	char *password;     /* the miner's; never logged */
	struct acct_worker *acct; /* NULL until the pool said yes */
	/* [metrics] per_worker series; NULL when off */
	struct metrics_series *m_accepted, *m_rejected, *m_diff;
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
	union {                  /* the miner (or its PROXY header source) */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	char peer_str[64];
	struct event *timer;     /* handshake deadline, drain, flush */
	struct event *resume;    /* more buffered lines to handle */
	bool counted;            /* holds a slot of proxy.active */
	bool dirty;              /* in t->dirty: output to write */
	TAILQ_ENTRY(session) dirty_entry;
	int64_t connected_at;    /* unix seconds */
	int64_t last_share;      /* unix seconds of the last verdict; 0: none */
	TAILQ_ENTRY(session) entry;

	/* Sniffing */
	bool proxy_header_done;
	bool tls_port;           /* accepted on a tls_bind listener */
	bool tls;                /* down speaks TLS (proxy_tls.c) */
	int bad_lines;           /* malformed lines so far */
	struct guard_state guard; /* abuse control (guard.c) */

	/* Pool */
	int pool;                /* index; -1 until chosen */
	bool pinned;             /* chosen by HTTP CONNECT: no failover */
	struct bufferevent *up;
	enum upstream_state up_state;
	struct event *up_timer;  /* reconnect backoff; handshake deadline */
	uint32_t next_up_id;
	bool up_got_subscribe;   /* answers on this connection ... */
	bool up_got_authorize;
	bool up_established;     /* ... both: the handshake is complete */
	bool ever_established;   /* some connection of this session was */
	bool up_avoid;           /* the last pool failed us: another first */
	const char *move_reason; /* the next move's, for the switch count
	                          * (NULL: "failed") */
	bool move_when_idle;     /* upstream_move() once no verdict is due */
	int64_t up_established_ms; /* monotonic */
	int up_short_lived;      /* connections in a row that failed soon
	                          * after their handshake */
	int64_t outage_ms;       /* monotonic: since when no pool serves
	                          * the session; 0: one does */
	struct evbuffer *backlog; /* miner lines waiting for the upstream */
	size_t backlog_lines;

	/* Requests waiting for the pool */
	struct pending *pend;    /* grown on demand, at most
	                          * max_pending_requests slots */
	size_t npend;            /* slots allocated */
	size_t submits_pending;

	/* Stratum state */
	json_t *configure_params; /* replayed after a reconnect */
	char *subscribe_params;   /* the miner's, as compact JSON text (a
	                           * tree costs ~200 bytes per session) */
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
	struct agg_session *agg;  /* aggregate mode's state (aggregate.c) */
	/* Journal before verdict (session_hold()): while holding, output
	 * goes to held, moved to the socket once the store has journaled
	 * the ring up to held_need. */
	bool holding;
	struct evbuffer *held;
	uint64_t held_need;
	int64_t held_since_ms;
	uint64_t held_verdicts;
	TAILQ_ENTRY(session) held_entry;
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
	/* Sessions with output queued in this loop turn, written at its end
	 * (see session_out()). */
	TAILQ_HEAD(, session) dirty;
	struct event *flush;
	/* Sessions holding verdicts until the journal has their shares,
	 * oldest first; journaled is activated by the store thread. */
	TAILQ_HEAD(, session) held;
	struct event *journaled;
	struct event *held_timer;
	bool draining;
	struct event *drain_timer;
	struct proxy_stats stats;
	struct proxy_pool_stats *pools; /* one per configured pool */
	struct agg_thread *agg;      /* aggregate mode (aggregate.c) */
};

/* session.c */
void session_accept(struct worker *w, int fd, const struct sockaddr *sa,
    int salen, void *arg);
/* Close now (idempotent); the struct is freed from the loop later. */
void session_drop(struct session *s, const char *why);
/* Send what is queued, then close (bounded wait). */
void session_close_after_flush(struct session *s, const char *why);
/*
 * The output buffers of the miner's and the pool's connection, for
 * queuing lines. Write-through: a plain socket's bufferevent keeps
 * EV_WRITE off while its output is empty; what a loop turn queued is
 * written at its end in one write per connection, and EV_WRITE is turned
 * on only when the socket would block. Going through these marks the
 * session for that write.
 */
struct evbuffer *session_out(struct session *s);
struct evbuffer *session_up_out(struct session *s);
/*
 * Journal before verdict: called once a verdict's event is in the
 * thread's ring (books_share()). Until the store has written that event
 * to the journal's file, everything queued for the miner (the verdict
 * next, and whatever follows, in order) waits in the session; it goes out
 * once the store says so, or after [database] verdict_wait at most.
 */
void session_hold(struct session *s);
/* A bufferevent's write callback under write-through (both sides). */
void session_on_drained(struct bufferevent *bev, void *arg);
/* After the upstream connected: its writes go through as well. */
void session_up_write_through(struct session *s);

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

/* Worker thread life (session.c), on the worker's own thread. */
void session_thread_init(struct proxy_thread *t);
/* The thread's ring to the store (after session_thread_init()). */
void session_thread_store(struct proxy_thread *t, struct store_ring *ring);
void session_thread_drain(struct worker *w, void *arg);
void session_thread_fini(struct proxy_thread *t);

/* proxy_metrics.c: the counters above as Prometheus families. */
struct metrics_registry;
void proxy_metrics_register(struct proxy *p, struct metrics_registry *reg);
void proxy_metrics_free(struct proxy *p);
/* Take a sample for the hashrate estimate (main thread, every few s). */
void proxy_metrics_sample(struct proxy *p);
/* Estimated hashes per second of a pool (-1: all pools), over the last
 * few minutes. */
double proxy_hashrate(struct proxy *p, int pool);
/* A worker was authorized / got a verdict: its per-worker series. */
void proxy_metrics_worker(struct proxy *p, struct session_worker *w,
    const char *pool, const char *user, const char *worker);

/* The api_check_fn behind /ready, /health/pool, /health/database. */
int proxy_health(enum api_check what, char **body, void *arg);
/*
 * proxy_count_switch(p, from, to, reason): one routing decision in
 * loka_pool_switches_total (from/to: pool indexes, -1 for none). Any
 * thread; takes the registry's lock (decisions are rare).
 */
void proxy_count_switch(struct proxy *p, int from, int to,
    const char *reason);
/* Pool stats summed over the threads (proxy_metrics.c). */
uint64_t proxy_pool_sum(const struct proxy *p, int pool, size_t off);
double proxy_pool_sum_double(const struct proxy *p, int pool, size_t off);

/* proxy_api.c: the api_handler_fn behind /api/v1/. */
int proxy_api(const struct api_request *req, json_t **out, void *arg);

/* proxy_tls.c: miners over TLS, pools over TLS. */
/* The miners' server context and the pools' client contexts, from the
 * configuration (main thread, before the workers). -1: logged. */
int proxy_tls_init(struct proxy *p);
void proxy_tls_free(struct proxy *p);
/*
 * The first bytes of a session are kind (an enum sniff_kind): a ClientHello
 * on a TLS port (or with tls_detect) starts TLS. Returns 0 when the session
 * goes on as before, 1 when it became TLS (decrypted bytes come next), -1
 * when it was refused (plain text on a TLS port) or dropped.
 */
int proxy_tls_sniff(struct session *s, int kind);
/* A new bufferevent for the session's pool: TLS or plain. NULL: failed. */
struct bufferevent *proxy_tls_upstream(struct session *s,
    const struct cfg_pool *pool);
/* Why connecting to a pool failed, for the log line (TLS or socket). */
const char *proxy_tls_connect_error(struct bufferevent *bev, short what,
    char *buf, size_t size);

/*
 * A session's mode: what the miner's lines become, the one interface
 * between the session (session.c: connection, first bytes, deadlines,
 * abuse control, the ordered drop) and the pool side.
 *
 * passthrough.c: one pool connection per miner, relayed.
 * aggregate.c: shared pool connections (hub.c), shares checked locally.
 */
struct proxy_mode {
	const char *name;
	/* One complete line from the miner. -1: the session was closed. */
	int (*miner_line)(struct session *s, char *line, size_t len);
	/* Is the session waiting for a pool (not for its miner)? Then the
	 * miner's connection_timeout does not apply. */
	bool (*waiting_for_pool)(const struct session *s);
	/* The session is closing: answer (error 20) the requests still
	 * waiting for a pool, and book the submits among them as rejected
	 * "other". */
	void (*give_up)(struct session *s);
	/* Free everything the mode keeps in the session (on its drop, before
	 * the miner's connection is closed: answers may still be queued). */
	void (*free)(struct session *s);
};

extern const struct proxy_mode passthrough_mode;
extern const struct proxy_mode aggregate_mode;

/* The session's mode (passthrough where none was set: unit tests). */
static inline const struct proxy_mode *
session_mode(const struct session *s)
{
	return s->t->proxy->mode != NULL ? s->t->proxy->mode :
	    &passthrough_mode;
}

/* books.c */
/*
 * One verdict on a share of worker w (NULL: a worker the session never
 * authorized), for the session's pool (s->pool): the in-memory books, the
 * metrics, and the store thread (never waits; a full queue is counted
 * and reported by the store).
 */
void books_share(struct session *s, struct session_worker *w, bool accepted,
    enum acct_reject why, double diff);
/* Add to a double kept as its bits; the calling thread is the only
 * writer. */
void stat_add_double(_Atomic uint64_t *bits, double v);

/* aggregate.c: the miner's extranonce1 (its slot, hex; "" before
 * subscribe). */
const char *aggregate_session_slot(const struct session *s);

/* passthrough.c */
/* The pool connection's read callback (arg: the session). */
void passthrough_pool_read(struct bufferevent *bev, void *arg);
/* The pool is connected: replay the session's handshake (after a
 * reconnect), send the requests a failed pool left unanswered, feed the
 * backlog. */
void passthrough_pool_connected(struct session *s);
/*
 * The connection is gone: answer what it left pending (error 20; a
 * submit among them booked as rejected "other"). With carry, the miner's
 * own configure, subscribe and authorize are kept, for the next
 * connection.
 */
void passthrough_fail_pending(struct session *s, bool carry);
/* Is a handshake request waiting for the pool? With carried, also one
 * kept for the next connection. */
bool passthrough_handshake_pending(const struct session *s, bool carried);

/* upstream.c */
/* How a pool connection failed. */
enum upstream_fail {
	UPSTREAM_FAIL_CONNECT = 0, /* refused, unreachable, timed out, TLS */
	UPSTREAM_FAIL_CLOSED,      /* closed during (or soon after) the
	                            * handshake */
	UPSTREAM_FAIL_HANDSHAKE,   /* subscribe or authorize unanswered */
	UPSTREAM_FAIL_PROTOCOL,    /* an oversize or unparsable line */
	UPSTREAM_FAIL_MAX
};
/* Connect the session to the pool the router chooses now; with none,
 * hold it and ask again shortly (up to pool_outage_hold). */
void upstream_connect(struct session *s);
/* Close the connection; passthrough_fail_pending(s, carry). */
void upstream_release(struct session *s, bool carry);
/* Connect again after delay_ms (or close the session once it has been
 * without a pool for pool_outage_hold). */
void upstream_schedule(struct session *s, int64_t delay_ms);
/* The connection failed (fmt: why, naming the pool, for the log): count
 * it for the pool and its breaker, release it, try again (upstream.c). */
void upstream_fail(struct session *s, enum upstream_fail kind,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A handshake request went out: start the pool's handshake_timeout
 * unless it runs already (or the handshake is through). */
void upstream_handshake_arm(struct session *s);
/* The pool answered a handshake request of kind (ok: no error);
 * subscribe and authorize answered complete the handshake. */
void upstream_handshake_answer(struct session *s, enum pend_kind kind,
    int worker, bool ok);
/* Release the connection and its timer (on session drop). */
void upstream_free(struct session *s);
/* The session's pool was disabled through the API: to another pool, as
 * on a failure but without blaming the pool, once the shares it has out
 * there are answered (a session that CONNECT pinned to it is closed). */
void upstream_move(struct session *s);
/* A verdict came back: a move waiting for the last one goes ahead. */
void upstream_verdicts_done(struct session *s);
/* upstream_move() for every session of the pool, on every worker thread
 * (passthrough mode). Any thread. */
void upstream_pool_disabled(struct proxy *p, int pool);

#endif
