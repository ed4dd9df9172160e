/*
 * proxy_metrics.c: the proxy's and the store's counters as Prometheus
 * families. Every family is a callback that sums the per-thread relaxed
 * atomics at scrape time, so nothing is added to the share path.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "config/config.h"
#include "metrics/registry.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "store/store.h"

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

static const struct labelled shares[] = {
	{ "accepted", OFF(shares_accepted) },
	{ "rejected", OFF(shares_rejected) },
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

static void
c_active(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;

	metrics_sink_value(sink, NULL, atomic_load(&p->active));
}

static void
c_accepted(struct metrics_sink *sink, void *arg)
{
	metrics_sink_value(sink, NULL, (double)stat_sum(arg, OFF(accepted)));
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
	emit_labelled(sink, arg, shares, sizeof(shares) / sizeof(*shares));
}

static void
c_upstream(struct metrics_sink *sink, void *arg)
{
	static const struct labelled ev[] = {
		{ "connect", OFF(upstream_connects) },
		{ "failure", OFF(upstream_failures) },
		{ "reconnect", OFF(upstream_reconnects) },
	};

	emit_labelled(sink, arg, ev, sizeof(ev) / sizeof(*ev));
}

static void
c_breaker(struct metrics_sink *sink, void *arg)
{
	struct proxy *p = arg;
	int64_t now = proxy_now_ms();

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const char *v[1] = { p->cfg->pools[i].name };

		metrics_sink_value(sink, v,
		    (double)router_state(p->router, (int)i, now));
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

static void
c_store_up(struct metrics_sink *sink, void *arg)
{
	const struct store_stats *st = store_stats(((struct proxy *)arg)->store);

	metrics_sink_value(sink, NULL, atomic_load(&st->db_up) ? 1 : 0);
}

void
proxy_metrics_register(struct proxy *p, struct metrics_registry *reg)
{
	static const char *const reason[] = { "reason", NULL };
	static const char *const result[] = { "result", NULL };
	static const char *const event[] = { "event", NULL };
	static const char *const pool[] = { "pool", NULL };
	static const struct {
		enum metrics_type type;
		const char *name, *help;
		const char *const *labels;
		metrics_collect_fn *fn;
	} fams[] = {
		{ METRICS_GAUGE, "loka_connections_active",
		    "Miner connections open now.", NULL, c_active },
		{ METRICS_COUNTER, "loka_connections_total",
		    "Miner connections accepted.", NULL, c_accepted },
		{ METRICS_COUNTER, "loka_connections_refused_total",
		    "Miner connections refused, by reason.", reason,
		    c_refused },
		{ METRICS_COUNTER, "loka_sessions_closed_total",
		    "Miner sessions closed by Loka, by reason.", reason,
		    c_closed },
		{ METRICS_COUNTER, "loka_shares_total",
		    "Pool verdicts on miners' shares.", result, c_shares },
		{ METRICS_COUNTER, "loka_upstream_events_total",
		    "Pool connections: connects, failures, reconnects.", event,
		    c_upstream },
		{ METRICS_GAUGE, "loka_pool_breaker_state",
		    "Circuit breaker per pool: 0 closed, 1 open, 2 half-open.",
		    pool, c_breaker },
		{ METRICS_GAUGE, "loka_store_queue_depth",
		    "Share events waiting for the store thread.", NULL,
		    c_store_queue },
		{ METRICS_GAUGE, "loka_store_journal_bytes",
		    "Bytes in the share-event journal.", NULL,
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
	};

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		metrics_callback_new(reg, fams[i].type, fams[i].name,
		    fams[i].help, fams[i].labels, fams[i].fn, p);
	metrics_register_process(reg);
}

/*
 * The health checks behind /ready, /health/pool and /health/database.
 *
 * Ready means: some enabled pool is usable (its circuit breaker is not
 * open) and the books can be kept: the database is up, or the journal
 * still has room. A database outage alone does not make an instance
 * unready: the journal keeps every share, and a fleet behind a load
 * balancer sharing one PostgreSQL would otherwise all drop out at once.
 */
int
proxy_health(enum api_check what, char **body, void *arg)
{
	struct proxy *p = arg;
	const struct store_stats *st = store_stats(p->store);
	bool db_up = atomic_load(&st->db_up);
	uint64_t journal = atomic_load(&st->journal_bytes);
	bool journal_room = journal < (uint64_t)p->cfg->database.spool_max_bytes;
	int64_t now = proxy_now_ms();
	json_t *pools = json_array(), *o = NULL;
	int usable = 0, code;
	const char *reason = NULL;

	for (size_t i = 0; i < p->cfg->npools; i++) {
		const struct cfg_pool *c = &p->cfg->pools[i];
		enum breaker_state b = router_state(p->router, (int)i, now);

		usable += c->enabled && b != BREAKER_OPEN;
		json_array_append_new(pools, json_pack("{s:s,s:s,s:b,s:s}",
		    "name", c->name, "url", c->url, "enabled", c->enabled,
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
		o = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I}", "status", db_up ?
		    "ok" : "database unavailable: shares go to the journal",
		    "up", db_up, "queue_depth",
		    (json_int_t)atomic_load(&st->queue_depth), "journal_bytes",
		    (json_int_t)journal, "committed",
		    (json_int_t)atomic_load(&st->committed), "dropped",
		    (json_int_t)atomic_load(&st->dropped));
		break;
	default:
		if (usable == 0)
			reason = p->cfg->npools == 0 ? "no pool configured" :
			    "no usable pool (all disabled or circuit breakers "
			    "open)";
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
