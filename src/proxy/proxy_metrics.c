/*
 * proxy_metrics.c: the proxy's and the store's counters as Prometheus
 * families. Every family is a callback that sums the per-thread relaxed
 * atomics at scrape time, so nothing is added to the share path.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "config/config.h"
#include "metrics/registry.h"
#include "proxy/hub.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "store/store.h"
#include "store/watch.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* Offset of a counter in struct proxy_stats, summed over the threads. */
static uint64_t
stat_sum(const struct proxy *p, size_t off)
{
	uint64_t v = 0;

	for (size_t i = 0; i < p->nworkers; i++)
		v += atomic_load_explicit((_Atomic uint64_t *)(void *)
		    ((char *)&p->threads[i]->stats + off),
		    memory_order_relaxed);
	return v;
}

#define OFF(f) offsetof(struct proxy_stats, f)

struct labelled {
	const char *label;
	size_t off;
};

static const struct labelled refused[] = {
	{ "max_connections", OFF(refused_full) },
	{ "untrusted_proxy", OFF(refused_proxy) },
	{ "plain_http", OFF(http_rejected) },
	{ "unknown_protocol", OFF(unknown_protocol) },
	{ "tunnel_refused", OFF(tunnel_refused) },
};

static const struct labelled closed[] = {
	{ "handshake_timeout", OFF(handshake_timeouts) },
	{ "idle_timeout", OFF(idle_timeouts) },
	{ "line_too_long", OFF(line_too_long) },
	{ "slow_miner", OFF(slow_miners) },
	{ "no_pool", OFF(no_pool) },
};

static const char *const reject_names[ACCT_REJ_MAX] = {
	"stale", "duplicate", "low_difficulty", "unauthorized", "other"
};

static void
emit_labelled(struct metrics_sink *sink, const struct proxy *p,
    const struct labelled *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v[1] = { l[i].label };

		metrics_sink_value(sink, v, (double)stat_sum(p, l[i].off));
	}
}

/* A field of struct proxy_pool_stats for one pool, over the threads. */
uint64_t
proxy_pool_sum(const struct proxy *p, int pool, size_t off)
{
	uint64_t v = 0;

	for (size_t i = 0; i < p->nworkers; i++)
		v += atomic_load_explicit((_Atomic uint64_t *)(void *)
		    ((char *)&p->threads[i]->pools[pool] + off),
		    memory_order_relaxed);
	return v;
}

/* The same for a double kept as its bits. */
double
proxy_pool_sum_double(const struct proxy *p, int pool, size_t off)
{
	double v = 0;

	for (size_t i = 0; i < p->nworkers; i++) {
		uint64_t u = atomic_load_explicit((_Atomic uint64_t *)(void *)
		    ((char *)&p->threads[i]->pools[pool] + off),
		    memory_order_relaxed);
		double d;

		memcpy(&d, &u, sizeof(d));
		v += d;
	}
	return v;
}

#define POFF(f) offsetof(struct proxy_pool_stats, f)

/* Accepted difficulty of a pool, or of all pools (-1), since start. */
static double
accepted_diff(const struct proxy *p, int pool)
{
	double v = 0;

	for (size_t i = 0; i < p->cfg->npools; i++)
		if (pool < 0 || (int)i == pool)
			v += proxy_pool_sum_double(p, (int)i, POFF(accepted_diff));
	return v;
}

static void
c_active(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	metrics_sink_value(sink, NULL, atomic_load(&p->active));
}

static void
c_limit(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	metrics_sink_value(sink, NULL, (double)p->cfg->server.max_connections);
}

static void
c_accepted(struct metrics_sink *sink, void *arg)
{
	metrics_sink_value(sink, NULL, (double)stat_sum(arg, OFF(accepted)));
}

static void
c_tls_sessions(struct metrics_sink *sink, void *arg)
{
	metrics_sink_value(sink, NULL,
	    (double)stat_sum(arg, OFF(tls_sessions)));
}

static void
c_unjournaled(struct metrics_sink *sink, void *arg)
{
	metrics_sink_value(sink, NULL,
	    (double)stat_sum(arg, OFF(verdicts_unjournaled)));
}

static void
c_refused(struct metrics_sink *sink, void *arg)
{
	emit_labelled(sink, arg, refused, sizeof(refused) / sizeof(*refused));
}

static void
c_closed(struct metrics_sink *sink, void *arg)
{
	emit_labelled(sink, arg, closed, sizeof(closed) / sizeof(*closed));
}

static void
c_shares(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		uint64_t rej = 0;
		const char *acc[2] = { p->cfg->pools[i].name, "accepted" };
		const char *rv[2] = { p->cfg->pools[i].name, "rejected" };

		for (int r = 0; r < ACCT_REJ_MAX; r++)
			rej += proxy_pool_sum(p, (int)i, POFF(rejected[r]));
		metrics_sink_value(sink, acc,
		    (double)proxy_pool_sum(p, (int)i, POFF(accepted)));
		metrics_sink_value(sink, rv, (double)rej);
	}
}

static void
c_rejected(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++)
		for (int r = 0; r < ACCT_REJ_MAX; r++) {
			const char *v[2] = { p->cfg->pools[i].name,
			    reject_names[r] };

			metrics_sink_value(sink, v, (double)proxy_pool_sum(p, (int)i,
			    POFF(rejected[r])));
		}
}

static void
c_difficulty(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *acc[2] = { p->cfg->pools[i].name, "accepted" };
		const char *rej[2] = { p->cfg->pools[i].name, "rejected" };

		metrics_sink_value(sink, acc, proxy_pool_sum_double(p, (int)i,
		    POFF(accepted_diff)));
		metrics_sink_value(sink, rej, proxy_pool_sum_double(p, (int)i,
		    POFF(rejected_diff)));
	}
}

static void
c_upstream(struct metrics_sink *sink, void *arg)
{
	static const struct {
		const char *event;
		size_t off;
	} ev[] = {
		{ "connect", POFF(connects) },
		{ "failure", POFF(failures) },
		{ "reconnect", POFF(reconnects) },
		{ "handshake_timeout", POFF(handshake_timeouts) },
		{ "protocol_error", POFF(protocol_errors) },
	};
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++)
		for (size_t e = 0; e < sizeof(ev) / sizeof(ev[0]); e++) {
			const char *v[2] = { p->cfg->pools[i].name,
			    ev[e].event };

			metrics_sink_value(sink, v,
			    (double)proxy_pool_sum(p, (int)i, ev[e].off));
		}
}

static void
c_pool_notifies(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };
		struct hub_channel_view hv;

		if (hub_channel_view(p->hub, (int)i, &hv))
			metrics_sink_value(sink, v, (double)hv.jobs);
		else
			metrics_sink_value(sink, v, (double)proxy_pool_sum(p,
			    (int)i, POFF(notifies)));
	}
}

/* Aggregate mode: what each pool said of the shares Loka forwarded. */
static void
c_pool_verdicts(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		struct hub_channel_view hv;
		const char *v[2] = { p->cfg->pools[i].name, NULL };

		if (!hub_channel_view(p->hub, (int)i, &hv))
			continue;
		v[1] = "accepted";
		metrics_sink_value(sink, v, (double)hv.accepted);
		v[1] = "rejected";
		metrics_sink_value(sink, v, (double)hv.rejected);
		v[1] = "lost";
		metrics_sink_value(sink, v, (double)hv.lost);
	}
}

static void
c_pool_accepted_diff(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		struct hub_channel_view hv;
		const char *v[1] = { p->cfg->pools[i].name };

		if (hub_channel_view(p->hub, (int)i, &hv))
			metrics_sink_value(sink, v, hv.accepted_diff);
	}
}

/* Pool-accepted over validated difficulty (1 when the pool credits what
 * Loka does, on average; no sample before the first share). */
static void
c_pool_ratio(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		struct hub_channel_view hv;
		const char *v[1] = { p->cfg->pools[i].name };
		double validated = proxy_pool_sum_double(p, (int)i,
		    POFF(accepted_diff));

		if (hub_channel_view(p->hub, (int)i, &hv) && validated > 0)
			metrics_sink_value(sink, v, hv.accepted_diff /
			    validated);
	}
}

static void
c_pool_connections(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };
		struct hub_channel_view hv;
		int64_t n = 0;

		if (hub_channel_view(p->hub, (int)i, &hv)) {
			/* Aggregate mode: the pool's shared connections. */
			metrics_sink_value(sink, v, (double)hv.connections);
			continue;
		}
		for (size_t t = 0; t < p->nworkers; t++)
			n += atomic_load_explicit(&p->threads[t]->pools[i].ready,
			    memory_order_relaxed);
		metrics_sink_value(sink, v, (double)n);
	}
}

static void
c_breaker(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;
	int64_t now = now_mono_ms();

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };

		metrics_sink_value(sink, v,
		    (double)router_state(p->router, (int)i, now));
	}
}

static void
c_pool_up(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;
	int64_t now = now_mono_ms();

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };
		bool up = router_enabled(p->router, (int)i) &&
		    router_state(p->router, (int)i, now) != BREAKER_OPEN;

		metrics_sink_value(sink, v, up ? 1 : 0);
	}
}

static void
c_pool_hashrate(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };

		metrics_sink_value(sink, v, proxy_hashrate(p, (int)i));
	}
}

static void
c_hashrate(struct metrics_sink *sink, void *arg)
{
	metrics_sink_value(sink, NULL, proxy_hashrate(arg, -1));
}

static void
c_messages(struct metrics_sink *sink, void *arg)
{
	static const char *const dirs[PROXY_DIR_MAX] = {
		"from_miner", "to_miner", "from_pool", "to_pool"
	};
	struct proxy *p = arg;

	for (int d = 0; d < PROXY_DIR_MAX; d++)
		for (int m = 0; m < MSG_M_MAX; m++) {
			const char *v[2] = { dirs[d],
			    msg_method_label((enum msg_method)m) };
			uint64_t n = stat_sum(p, OFF(messages[d][m]));

			/* Kinds that never went this way stay out. */
			if (n > 0)
				metrics_sink_value(sink, v, (double)n);
		}
}

/*
 * Errors by category: what an operator's error-rate alert watches. Each
 * is also counted in a more specific family.
 */
static void
c_errors(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;
	const struct store_stats *st = store_stats(p->store);
	uint64_t upstream = 0;
	struct {
		const char *category;
		uint64_t n;
	} e[] = {
		{ "miner_protocol", stat_sum(p, OFF(parse_errors)) +
		    stat_sum(p, OFF(line_too_long)) },
		{ "pool_protocol", stat_sum(p, OFF(pool_bad_lines)) },
		{ "upstream", 0 },
		{ "overload", stat_sum(p, OFF(pending_full)) +
		    stat_sum(p, OFF(slow_miners)) +
		    stat_sum(p, OFF(refused_full)) },
		{ "store", atomic_load(&st->db_errors) +
		    atomic_load(&st->dropped) },
	};

	for (size_t i = 0; i < p->cfg->npools; i++)
		upstream += proxy_pool_sum(p, (int)i, POFF(failures));
	e[2].n = upstream;
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		const char *v[1] = { e[i].category };

		metrics_sink_value(sink, v, (double)e[i].n);
	}
}

static void
c_store(struct metrics_sink *sink, void *arg, size_t off)
{
	const struct store_stats *st = store_stats(((struct proxy *)arg)->store);

	metrics_sink_value(sink, NULL, (double)atomic_load_explicit(
	    (_Atomic uint64_t *)(void *)((char *)st + off),
	    memory_order_relaxed));
}

#define STORE_FAMILY(fn, field)                                              \
	static void fn(struct metrics_sink *sink, void *arg)                 \
	{                                                                     \
		c_store(sink, arg, offsetof(struct store_stats, field));      \
	}

STORE_FAMILY(c_store_queue, queue_depth)
STORE_FAMILY(c_store_journal, journal_bytes)
STORE_FAMILY(c_store_committed, committed)
STORE_FAMILY(c_store_replayed, replayed)
STORE_FAMILY(c_store_dropped, dropped)
STORE_FAMILY(c_store_batches, batches)
STORE_FAMILY(c_store_errors, db_errors)
STORE_FAMILY(c_store_journal_errors, journal_errors)

static void
c_workers(struct metrics_sink *sink, void *arg)
{
	uint64_t counts[WORKER_STATE_MAX];

	if (!watch_counts(store_watch(((struct proxy *)arg)->store), counts))
		return; /* not known yet: no series rather than zeros */
	for (int i = 0; i < WORKER_STATE_MAX; i++) {
		const char *v[1] = { watch_state_name((enum worker_state)i) };

		metrics_sink_value(sink, v, (double)counts[i]);
	}
}

static void
c_store_flag(struct metrics_sink *sink, void *arg, size_t off)
{
	const struct store_stats *st = store_stats(((struct proxy *)arg)->store);

	metrics_sink_value(sink, NULL, atomic_load((const atomic_bool *)
	    (const void *)((const char *)st + off)) ? 1 : 0);
}

static void
c_store_journal_ok(struct metrics_sink *sink, void *arg)
{
	c_store_flag(sink, arg, offsetof(struct store_stats, journal_ok));
}

static void
c_store_refused(struct metrics_sink *sink, void *arg)
{
	c_store_flag(sink, arg, offsetof(struct store_stats, db_refused));
}

static void
c_store_up(struct metrics_sink *sink, void *arg)
{
	c_store_flag(sink, arg, offsetof(struct store_stats, db_up));
}

/* ---- the hashrate estimate ---- */

/* Accepted difficulty sampled every PROXY_RATE_STEP_MS; the estimate
 * spans the last PROXY_RATE_WINDOW_MS (or the time since start). */
#define PROXY_RATE_WINDOW_MS (5 * 60 * 1000)
#define PROXY_RATE_SAMPLES 64

struct proxy_rate_sample {
	int64_t t_ms;
	double *diff; /* per pool */
};

struct proxy_rates {
	pthread_mutex_t lock;
	struct proxy_rate_sample s[PROXY_RATE_SAMPLES];
	size_t next, n;
};

void
proxy_metrics_sample(struct proxy *p)
{
	struct proxy_rates *r = p->rates;
	struct proxy_rate_sample *x;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	x = &r->s[r->next];
	x->t_ms = now_mono_ms();
	for (size_t i = 0; i < p->cfg->npools; i++)
		x->diff[i] = accepted_diff(p, (int)i);
	r->next = (r->next + 1) % PROXY_RATE_SAMPLES;
	if (r->n < PROXY_RATE_SAMPLES)
		r->n++;
	pthread_mutex_unlock(&r->lock);
}

double
proxy_hashrate(struct proxy *p, int pool)
{
	struct proxy_rates *r = p->rates;
	int64_t now = now_mono_ms();
	double now_diff = accepted_diff(p, pool), then = 0, rate = 0;
	int64_t t = 0;

	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->lock);
	/* The oldest sample still inside the window. */
	for (size_t k = r->n; k > 0; k--) {
		const struct proxy_rate_sample *x = &r->s[(r->next +
		    PROXY_RATE_SAMPLES - k) % PROXY_RATE_SAMPLES];

		if (now - x->t_ms > PROXY_RATE_WINDOW_MS)
			continue;
		t = x->t_ms;
		for (size_t i = 0; i < p->cfg->npools; i++)
			if (pool < 0 || (int)i == pool)
				then += x->diff[i];
		break;
	}
	pthread_mutex_unlock(&r->lock);
	/* Difficulty 1 is 2^32 hashes on average; over at least a second
	 * (just after start the window is shorter). */
	if (t > 0 && now_diff > then)
		rate = (now_diff - then) * 4294967296.0 /
		    ((double)(now - t > 1000 ? now - t : 1000) / 1000.0);
	return rate;
}

/* ---- per-worker series ---- */

void
proxy_metrics_worker(struct proxy *p, struct session_worker *w,
    const char *pool, const char *user, const char *worker)
{
	char name[METRICS_VALUE_MAX + 1];
	const char *acc[3], *rej[3], *diff[2];

	if (p->worker_shares == NULL)
		return;
	snprintf(name, sizeof(name), "%s.%s", user, worker);
	acc[0] = rej[0] = diff[0] = pool;
	acc[1] = rej[1] = diff[1] = name;
	acc[2] = "accepted";
	rej[2] = "rejected";
	w->m_accepted = metrics_series(p->worker_shares, acc);
	w->m_rejected = metrics_series(p->worker_shares, rej);
	w->m_diff = metrics_series(p->worker_diff, diff);
}

void
proxy_count_switch(struct proxy *p, int from, int to, const char *reason)
{
	const char *v[3];

	if (p->pool_switches == NULL)
		return;
	v[0] = from >= 0 ? p->cfg->pools[from].name : "none";
	v[1] = to >= 0 ? p->cfg->pools[to].name : "none";
	v[2] = reason;
	metrics_counter_add(metrics_series(p->pool_switches, v), 1);
}

void
proxy_metrics_register(struct proxy *p, struct metrics_registry *reg)
{
	static const char *const reason[] = { "reason", NULL };
	static const char *const pool[] = { "pool", NULL };
	static const char *const switch_labels[] = { "from", "to", "reason",
		NULL };
	static const char *const pool_result[] = { "pool", "result", NULL };
	static const char *const pool_reason[] = { "pool", "reason", NULL };
	static const char *const pool_event[] = { "pool", "event", NULL };
	static const char *const dir_method[] = { "direction", "method", NULL };
	static const char *const category[] = { "category", NULL };
	static const char *const state[] = { "state", NULL };
	static const char *const worker_result[] = { "pool", "worker",
	    "result", NULL };
	static const char *const pool_worker[] = { "pool", "worker", NULL };
	/* Pool round trips: 1 ms to 10 s. Commits: 100 µs to 10 s. */
	static const double rtt_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
	    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
	static const double batch_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001,
	    0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10 };
	static const struct metrics_callback_def fams[] = {
		{ METRICS_GAUGE, "loka_connections_active",
		    "Miner connections open now.", NULL, c_active },
		{ METRICS_GAUGE, "loka_connections_limit",
		    "Most miner connections held at once ([server] "
		    "max_connections).", NULL, c_limit },
		{ METRICS_COUNTER, "loka_connections_total",
		    "Miner connections accepted.", NULL, c_accepted },
		{ METRICS_COUNTER, "loka_tls_sessions_total",
		    "Miner sessions that started TLS (on tls_bind, or detected "
		    "on bind).", NULL, c_tls_sessions },
		{ METRICS_COUNTER, "loka_connections_refused_total",
		    "Miner connections refused, by reason.", reason,
		    c_refused },
		{ METRICS_COUNTER, "loka_sessions_closed_total",
		    "Miner sessions closed by Loka, by reason.", reason,
		    c_closed },
		{ METRICS_COUNTER, "loka_messages_total",
		    "Stratum messages by direction and method (\"response\": "
		    "answers).", dir_method, c_messages },
		{ METRICS_COUNTER, "loka_shares_total",
		    "Pool verdicts on miners' shares.", pool_result,
		    c_shares },
		{ METRICS_COUNTER, "loka_shares_rejected_total",
		    "Rejected shares by reason (\"other\" includes shares "
		    "whose pool connection was lost).", pool_reason,
		    c_rejected },
		{ METRICS_COUNTER, "loka_share_difficulty_total",
		    "Sum of the difficulty of shares, by verdict.",
		    pool_result, c_difficulty },
		{ METRICS_GAUGE, "loka_hashrate_hashes_per_second",
		    "Estimated hashrate of all miners (accepted difficulty "
		    "over the last 5 minutes).", NULL, c_hashrate },
		{ METRICS_GAUGE, "loka_pool_hashrate_hashes_per_second",
		    "Estimated hashrate sent to each pool.", pool,
		    c_pool_hashrate },
		{ METRICS_GAUGE, "loka_pool_up",
		    "1 when the pool is enabled and its circuit breaker is not "
		    "open.", pool, c_pool_up },
		{ METRICS_GAUGE, "loka_pool_connections",
		    "Upstream connections open to each pool.", pool,
		    c_pool_connections },
		{ METRICS_COUNTER, "loka_pool_notifies_total",
		    "Jobs (mining.notify) received from each pool, over all "
		    "connections.", pool, c_pool_notifies },
		{ METRICS_COUNTER, "loka_pool_verdicts_total",
		    "Aggregate mode: the pool's verdicts on the shares Loka "
		    "validated and forwarded (lost: no answer).", pool_result,
		    c_pool_verdicts },
		{ METRICS_COUNTER, "loka_pool_accepted_difficulty_total",
		    "Aggregate mode: difficulty the pool accepted (at its own "
		    "difficulty), beside loka_share_difficulty_total (what Loka "
		    "validated).", pool, c_pool_accepted_diff },
		{ METRICS_GAUGE, "loka_pool_accepted_ratio",
		    "Aggregate mode: pool-accepted over validated difficulty; "
		    "about 1 when the pool credits what Loka does.", pool,
		    c_pool_ratio },
		{ METRICS_COUNTER, "loka_upstream_events_total",
		    "Pool connections: connects, failures (of which "
		    "handshake_timeout and protocol_error), reconnects.",
		    pool_event, c_upstream },
		{ METRICS_GAUGE, "loka_pool_breaker_state",
		    "Circuit breaker per pool: 0 closed, 1 open, 2 half-open.",
		    pool, c_breaker },
		{ METRICS_COUNTER, "loka_errors_total",
		    "Errors by category: miner_protocol, pool_protocol, "
		    "upstream, overload, store.", category, c_errors },
		{ METRICS_GAUGE, "loka_store_queue_depth",
		    "Share events waiting for the store thread.", NULL,
		    c_store_queue },
		{ METRICS_GAUGE, "loka_store_journal_bytes",
		    "Bytes in the share-event journal (the spool).", NULL,
		    c_store_journal },
		{ METRICS_COUNTER, "loka_store_events_committed_total",
		    "Share events written to the database.", NULL,
		    c_store_committed },
		{ METRICS_COUNTER, "loka_store_events_replayed_total",
		    "Share events written from the journal after an outage or "
		    "a crash.", NULL, c_store_replayed },
		{ METRICS_COUNTER, "loka_store_events_dropped_total",
		    "Share events refused: queue or journal full.", NULL,
		    c_store_dropped },
		{ METRICS_COUNTER, "loka_store_batches_total",
		    "Database transactions written.", NULL, c_store_batches },
		{ METRICS_COUNTER, "loka_store_errors_total",
		    "Database failures (each starts an outage).", NULL,
		    c_store_errors },
		{ METRICS_GAUGE, "loka_store_database_up",
		    "1 when the books are being written to the database.",
		    NULL, c_store_up },
		{ METRICS_GAUGE, "loka_store_database_refused",
		    "1 when the database is not the journal's (replaced, "
		    "recreated, or another journal's): nothing is written to "
		    "it until an operator acts.", NULL, c_store_refused },
		{ METRICS_GAUGE, "loka_store_journal_ok",
		    "1 while the journal takes every share event; 0 while it "
		    "cannot (disk full, spool_max_bytes): events wait in "
		    "memory.", NULL, c_store_journal_ok },
		{ METRICS_GAUGE, "loka_workers",
		    "Workers of the books by state (online, slow, offline), "
		    "recomputed every [monitoring] worker_check_interval.",
		    state, c_workers },
		{ METRICS_COUNTER, "loka_store_journal_errors_total",
		    "Journal appends and syncs that failed.", NULL,
		    c_store_journal_errors },
		{ METRICS_COUNTER, "loka_verdicts_unjournaled_total",
		    "Verdicts sent to miners before their share reached the "
		    "journal's file ([database] verdict_wait passed: a full or "
		    "hanging disk). Each is a share a killed process could "
		    "lose.", NULL, c_unjournaled },
	};
	struct metrics_family *rtt, *batch;

	metrics_callbacks_register(reg, fams, sizeof(fams) / sizeof(fams[0]),
	    p);
	rtt = metrics_histogram_new(reg, "loka_pool_submit_rtt_seconds",
	    "Time from forwarding a share to the pool's verdict.", pool,
	    rtt_bounds, sizeof(rtt_bounds) / sizeof(rtt_bounds[0]));
	p->submit_rtt = xcalloc(p->cfg->npools > 0 ? p->cfg->npools : 1,
	    sizeof(*p->submit_rtt));
	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };

		p->submit_rtt[i] = metrics_series(rtt, v);
	}
	batch = metrics_histogram_new(reg, "loka_store_batch_seconds",
	    "Time to write one batch of share events to the database.", NULL,
	    batch_bounds, sizeof(batch_bounds) / sizeof(batch_bounds[0]));
	store_observe_batches(p->store, metrics_series(batch, NULL));
	p->pool_switches = metrics_family_new(reg, METRICS_COUNTER,
	    "loka_pool_switches_total",
	    "Routing decisions: aggregate mode's miners moved from one pool "
	    "to another (all at once), or a passthrough session moved; "
	    "none: no pool could give work. reason: failed (connection "
	    "lost or broken), silent (no job for 2.5 job intervals), "
	    "failback (a more preferred pool healthy again), preferred "
	    "(a more preferred pool usable for the first time), recovered "
	    "(work again after none), operator (POST /api/v1/pools).",
	    switch_labels);
	if (p->cfg->metrics.per_worker) {
		p->worker_shares = metrics_family_new(reg, METRICS_COUNTER,
		    "loka_worker_shares_total",
		    "Pool verdicts per worker ([metrics] per_worker).",
		    worker_result);
		p->worker_diff = metrics_float_counter_new(reg,
		    "loka_worker_difficulty_total",
		    "Accepted difficulty per worker ([metrics] per_worker).",
		    pool_worker);
		/* Two series per worker in the shares family. */
		metrics_family_set_max_series(p->worker_shares,
		    (size_t)p->cfg->metrics.per_worker_max * 2);
		metrics_family_set_max_series(p->worker_diff,
		    (size_t)p->cfg->metrics.per_worker_max);
	}
	p->rates = xcalloc(1, sizeof(*p->rates));
	pthread_mutex_init(&p->rates->lock, NULL);
	for (size_t k = 0; k < PROXY_RATE_SAMPLES; k++)
		p->rates->s[k].diff = xcalloc(p->cfg->npools > 0 ?
		    p->cfg->npools : 1, sizeof(double));
	proxy_metrics_sample(p);
	metrics_register_process(reg);
}

void
proxy_metrics_free(struct proxy *p)
{
	if (p->rates != NULL) {
		for (size_t k = 0; k < PROXY_RATE_SAMPLES; k++)
			free(p->rates->s[k].diff);
		pthread_mutex_destroy(&p->rates->lock);
		free(p->rates);
	}
	free(p->submit_rtt);
	p->rates = NULL;
	p->submit_rtt = NULL;
}

/*
 * The health checks behind /ready, /health/pool and /health/database.
 *
 * Ready means: some enabled pool is usable (its circuit breaker is not
 * open) and the books can be kept: the journal takes events, and the
 * database is up or the journal still has room. A database outage alone does not make an instance
 * unready: the journal keeps every share, and a fleet behind a load
 * balancer sharing one PostgreSQL would otherwise all drop out at once.
 */
int
proxy_health(enum api_check what, char **body, void *arg)
{
	struct proxy *p = arg;
	const struct store_stats *st = store_stats(p->store);
	bool db_up = atomic_load(&st->db_up);
	bool db_refused = atomic_load(&st->db_refused);
	bool journal_ok = atomic_load(&st->journal_ok);
	char why[512];
	uint64_t journal = atomic_load(&st->journal_bytes);
	bool journal_room = journal < (uint64_t)p->cfg->database.spool_max_bytes;
	int64_t now = now_mono_ms();
	json_t *pools = json_array(), *o = NULL;
	int usable = 0, code;
	const char *reason = NULL;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const struct cfg_pool *c = &p->cfg->pools[i];
		enum breaker_state b = router_state(p->router, (int)i, now);

		bool on = router_enabled(p->router, (int)i);

		usable += on && b != BREAKER_OPEN;
		json_array_append_new(pools, json_pack("{s:s,s:s,s:b,s:s}",
		    "name", c->name, "url", c->url, "enabled", on,
		    "breaker", router_state_name(b)));
	}
	switch (what) {
	case API_CHECK_POOL:
		code = usable > 0 ? 200 : 503;
		o = json_pack("{s:s,s:o}", "status", code == 200 ? "ok" :
		    "no usable pool", "pools", pools);
		pools = NULL;
		break;
	case API_CHECK_DATABASE:
		code = db_up ? 200 : 503;
		store_db_reason(p->store, why, sizeof(why));
		o = json_pack("{s:s,s:b,s:b,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:s}",
		    "status", db_up ? "ok" : db_refused ? "database refused: "
		    "shares go to the journal until an operator acts" :
		    "database unavailable: shares go to the journal",
		    "up", db_up, "refused", db_refused, "reason", why,
		    "journal_ok", journal_ok, "queue_depth",
		    (json_int_t)atomic_load(&st->queue_depth), "journal_bytes",
		    (json_int_t)journal, "journal_errors",
		    (json_int_t)atomic_load(&st->journal_errors), "committed",
		    (json_int_t)atomic_load(&st->committed), "dropped",
		    (json_int_t)atomic_load(&st->dropped), "journal",
		    store_journal_dir(p->store));
		break;
	default:
		if (usable == 0)
			reason = p->cfg->npools == 0 ? "no pool configured" :
			    "no usable pool (all disabled or circuit breakers "
			    "open)";
		else if (!journal_ok)
			reason = "the journal takes no share events (disk "
			    "full, or spool_max_bytes reached): they wait in "
			    "memory";
		else if (!db_up && !journal_room)
			reason = "database unavailable and journal full";
		code = reason == NULL ? 200 : 503;
		o = json_pack("{s:s,s:b,s:i}", "status", reason != NULL ?
		    reason : "ready", "database_up", db_up, "usable_pools",
		    usable);
		break;
	}
	json_decref(pools);
	*body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return code;
}
