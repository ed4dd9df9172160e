/*
 * proxy.c: starting and stopping the proxy.
 *
 * The main thread raises the descriptor limit, creates one worker per
 * thread (each with its SO_REUSEPORT listeners), then only waits for
 * signals. SIGTERM/SIGINT: every worker stops accepting, waits (up to
 * [server] shutdown_timeout) for the pool's verdict on submits in flight,
 * closes its sessions and ends; the main thread joins them, lets the
 * store thread write what it holds, and logs the share accounting. SIGHUP
 * reloads the TLS certificates (proxy_tls.c); other settings are read at
 * start only.
 */
#include "proxy/proxy.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config/config.h"
#include "net/tls.h"
#include "net/worker.h"
#include "proxy/hub.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "api/api.h"
#include "metrics/registry.h"
#include "security/privdrop.h"
#include "security/security.h"
#include "store/db.h"
#include "store/store.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Seconds between samples of the hashrate estimate. */
#define PROXY_SAMPLE_S 5

/* Workers listed one by one in the final accounting; more are summed. */
#define PROXY_LOG_WORKERS_MAX 1000

/* Raise RLIMIT_NOFILE to the hard limit; say so if it is still short. */
static void
proxy_raise_nofile(const struct cfg *c)
{
	struct rlimit rl;
	/* Passthrough: one socket to the miner, one to the pool, plus the
	 * listeners, DNS and the database. */
	rlim_t need = (rlim_t)c->server.max_connections * 2 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("main", "cannot raise the open file limit");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need)
		log_warnx("main", "open file limit is %llu but max_connections "
		    "= %lld needs about %llu: miners past ~%llu will be "
		    "refused. Raise it (ulimit -n, LimitNOFILE= in systemd)",
		    (unsigned long long)rl.rlim_cur,
		    (long long)c->server.max_connections,
		    (unsigned long long)need,
		    (unsigned long long)(rl.rlim_cur > 256 ?
		    (rl.rlim_cur - 256) / 2 : 0));
}

static size_t
proxy_thread_count(const struct cfg *c)
{
	long n = c->performance.worker_threads;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

struct proxy_signals {
	struct event_base *base;
	int signal;
	struct proxy *p;
	uint64_t accepted, rejected; /* at the last summary line */
};

/* The periodic summary line: what an operator glances at in the log. */
static void
proxy_on_stats(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_signals *ps = arg;
	struct proxy *p = ps->p;
	uint64_t acc = 0, rej = 0;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < p->nworkers; i++) {
		acc += atomic_load_explicit(&p->threads[i]->stats.shares_accepted,
		    memory_order_relaxed);
		rej += atomic_load_explicit(&p->threads[i]->stats.shares_rejected,
		    memory_order_relaxed);
	}
	log_info("main", "%d miners connected; shares since the last line: "
	    "%llu accepted, %llu rejected; books: %s",
	    atomic_load(&p->active), (unsigned long long)(acc - ps->accepted),
	    (unsigned long long)(rej - ps->rejected),
	    atomic_load(&store_stats(p->store)->db_up) ? "database up" :
	    "database DOWN, journaling");
	ps->accepted = acc;
	ps->rejected = rej;
}

/* A sample for the hashrate estimate. */
static void
proxy_on_sample(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_signals *ps = arg;

	(void)fd;
	(void)what;
	proxy_metrics_sample(ps->p);
}

static void
proxy_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct proxy_signals *ps = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* New handshakes get the new certificates; sessions stay. */
		log_info("main", "SIGHUP received: reloading TLS certificates "
		    "(other settings are read at start only)");
		tls_server_reload_all();
		return;
	}
	ps->signal = (int)sig;
	event_base_loopbreak(ps->base);
}

/* Wait in the main thread for SIGTERM or SIGINT. */
static int
proxy_wait_signal(struct proxy *p)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct proxy_signals ps = { event_base_new(), 0, p, 0, 0 };
	struct event *ev[3] = { NULL, NULL, NULL };
	struct event *stats = NULL, *sample = NULL;
	int64_t ms = p->cfg->logging.stats_interval_ms;
	struct timeval every = { PROXY_SAMPLE_S, 0 };

	if (ps.base == NULL)
		return -1;
	sample = event_new(ps.base, -1, EV_PERSIST, proxy_on_sample, &ps);
	if (sample != NULL)
		event_add(sample, &every);
	if (ms > 0) {
		struct timeval tv = { (time_t)(ms / 1000),
		    (suseconds_t)(ms % 1000) * 1000 };

		stats = event_new(ps.base, -1, EV_PERSIST, proxy_on_stats, &ps);
		if (stats != NULL)
			event_add(stats, &tv);
	}
	for (size_t i = 0; i < 3; i++) {
		ev[i] = evsignal_new(ps.base, sigs[i], proxy_on_signal, &ps);
		if (ev[i] != NULL)
			evsignal_add(ev[i], NULL);
	}
	event_base_dispatch(ps.base);
	if (sample != NULL)
		event_free(sample);
	if (stats != NULL)
		event_free(stats);
	for (size_t i = 0; i < 3; i++)
		if (ev[i] != NULL)
			event_free(ev[i]);
	event_base_free(ps.base);
	return ps.signal;
}

struct merge {
	struct acct_table *into;
};

static void
merge_worker(const struct acct_worker *w, void *arg)
{
	struct merge *m = arg;
	struct acct_worker *to = acct_worker_get(m->into, w->pool, w->user,
	    w->worker);

	if (to != NULL)
		acct_counts_add(&to->c, &w->c);
}

struct log_state {
	const struct cfg *cfg;
	size_t listed;
};

static void
log_counts(const char *what, const struct acct_counts *c)
{
	log_info("accounting", "%s: accepted %llu (difficulty %.8g), "
	    "rejected %llu stale, %llu duplicate, %llu low_difficulty, "
	    "%llu unauthorized, %llu other", what,
	    (unsigned long long)c->accepted, c->accepted_diff,
	    (unsigned long long)c->rejected[ACCT_REJ_STALE],
	    (unsigned long long)c->rejected[ACCT_REJ_DUPLICATE],
	    (unsigned long long)c->rejected[ACCT_REJ_LOW_DIFF],
	    (unsigned long long)c->rejected[ACCT_REJ_UNAUTHORIZED],
	    (unsigned long long)c->rejected[ACCT_REJ_OTHER]);
}

static void
log_worker(const struct acct_worker *w, void *arg)
{
	struct log_state *ls = arg;
	char what[512];

	if (ls->listed++ >= PROXY_LOG_WORKERS_MAX)
		return;
	snprintf(what, sizeof(what), "worker %s / %s / %s",
	    ls->cfg->pools[w->pool].name, w->user, w->worker);
	log_counts(what, &w->c);
}

/* The books as they stand at shutdown, merged over the threads. */
static void
proxy_log_accounting(struct proxy *p)
{
	struct merge m = { acct_table_new(p->cfg->npools) };
	struct log_state ls = { p->cfg, 0 };
	uint64_t accepted = 0, refused = 0;

	for (size_t i = 0; i < p->nworkers; i++) {
		acct_foreach(p->threads[i]->acct, merge_worker, &m);
		accepted += atomic_load(&p->threads[i]->stats.accepted);
		refused += atomic_load(&p->threads[i]->stats.refused_full);
	}
	log_info("accounting", "connections: %llu accepted, %llu refused "
	    "(max_connections)", (unsigned long long)accepted,
	    (unsigned long long)refused);
	for (size_t pool = 0; pool < p->cfg->npools; pool++) {
		struct acct_counts total = { 0 };
		char what[128];

		for (size_t i = 0; i < p->nworkers; i++)
			acct_counts_add(&total,
			    acct_pool_counts(p->threads[i]->acct, (int)pool));
		snprintf(what, sizeof(what), "pool %s",
		    p->cfg->pools[pool].name);
		log_counts(what, &total);
	}
	acct_foreach(m.into, log_worker, &ls);
	if (ls.listed > PROXY_LOG_WORKERS_MAX)
		log_info("accounting", "... and %zu more workers",
		    ls.listed - PROXY_LOG_WORKERS_MAX);
	acct_table_free(m.into);
}

static const char *
db_kind_label(const char *url)
{
	return strncmp(url, "sqlite:", 7) == 0 ? "SQLite" : "PostgreSQL";
}

static void
proxy_free(struct proxy *p)
{
	for (size_t i = 0; i < p->nworkers; i++) {
		if (p->threads[i] != NULL) {
			if (p->workers[i] != NULL)
				session_thread_fini(p->threads[i]);
			aggregate_thread_fini(p->threads[i]);
			acct_table_free(p->threads[i]->acct);
			free(p->threads[i]->pools);
			free(p->threads[i]);
		}
		worker_free(p->workers[i]);
	}
	free(p->workers);
	free(p->threads);
	hub_free(p->hub);
	cidr_set_free(&p->trusted);
	security_free(p->security);
	db_close(p->api_db);
	router_free(p->router);
	proxy_tls_free(p);
	store_free(p->store);
}

int
proxy_run(const struct cfg *c)
{
	struct proxy p;
	char err[2048];
	int *ports = NULL, *tls_ports = NULL;
	char *instance = NULL;
	struct metrics_registry *reg = NULL;
	struct api *api = NULL;
	struct privdrop pd;
	int rc = 1, sig;
	size_t started = 0;

	memset(&p, 0, sizeof(p));
	atomic_init(&p.active, 0);
	atomic_init(&p.next_session, 1);
	if (evthread_use_pthreads() != 0) {
		log_errorx("main", "libevent has no thread support");
		return 1;
	}
	/* A miner that goes away must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	proxy_raise_nofile(c);
	p.cfg = c;
	p.mode = c->server.mode == CFG_MODE_AGGREGATE ? &aggregate_mode :
	    &passthrough_mode;
	p.started_at = (int64_t)time(NULL);
	p.router = router_new(c);
	if (cidr_set_parse(&p.trusted,
	    (const char *const *)c->server.trusted_proxies.v,
	    c->server.trusted_proxies.n, err, sizeof(err)) != 0) {
		log_errorx("main", "[server] trusted_proxies: %s", err);
		goto out;
	}
	p.security = security_new(c, guard_on_ban, &p, err, sizeof(err));
	if (p.security == NULL ||
	    privdrop_prepare(c->server.user, c->server.group, &pd, err,
	    sizeof(err)) != 0) {
		log_errorx("main", "%s", err);
		goto out;
	}
	if (proxy_tls_init(&p) != 0)
		goto out;
	p.nworkers = proxy_thread_count(c);
	p.workers = xcalloc(p.nworkers, sizeof(*p.workers));
	p.threads = xcalloc(p.nworkers, sizeof(*p.threads));
	for (size_t i = 0; i < p.nworkers; i++) {
		struct proxy_thread *t = xcalloc(1, sizeof(*t));

		p.threads[i] = t;
		t->proxy = &p;
		t->acct = acct_table_new(c->npools);
		t->pools = xcalloc(c->npools > 0 ? c->npools : 1,
		    sizeof(*t->pools));
		p.workers[i] = worker_new((int)i, &c->server.bind, ports,
		    session_accept, NULL);
		if (p.workers[i] == NULL)
			goto out;
		t->worker = p.workers[i];
		worker_set_data(t->worker, t);
		session_thread_init(t);
		if (p.mode == &aggregate_mode)
			aggregate_thread_init(t);
		/* tls_bind: the same accept, told by its arg (p.tls). */
		if (worker_add_listeners(t->worker, &c->server.tls_bind,
		    tls_ports, session_accept, p.tls) != 0)
			goto out;
		if (ports == NULL) {
			/* Every thread listens on the ports the first got. */
			ports = xcalloc(c->server.bind.n, sizeof(*ports));
			for (size_t b = 0; b < c->server.bind.n; b++)
				ports[b] = worker_port(p.workers[0], b);
			tls_ports = xcalloc(c->server.tls_bind.n > 0 ?
			    c->server.tls_bind.n : 1, sizeof(*tls_ports));
			for (size_t b = 0; b < c->server.tls_bind.n; b++)
				tls_ports[b] = worker_port(p.workers[0],
				    c->server.bind.n + b);
		}
	}
	/* Listeners bound: give up root before any file is written. */
	if (privdrop_apply(&pd) != 0)
		goto out;
	instance = cfg_instance_name(c);
	/* One queue per worker thread, and the hub's (aggregate mode: the
	 * pools' verdicts). */
	p.store = store_new(c, p.nworkers + (p.mode == &aggregate_mode ? 1 :
	    0), instance, err, sizeof(err));
	if (p.store == NULL) {
		log_errorx("store", "%s", err);
		goto out;
	}
	for (size_t i = 0; i < p.nworkers; i++)
		session_thread_store(p.threads[i], store_ring(p.store, i));
	/* Metrics first: the store observes its commits in a histogram. */
	if (c->metrics.enabled) {
		reg = metrics_registry_new();
		proxy_metrics_register(&p, reg);
		security_metrics_register(p.security, reg);
	}
	if (store_start(p.store, err, sizeof(err)) != 0) {
		log_errorx("store", "%s", err);
		goto out;
	}
	log_info("store", "books in %s as instance \"%s\"; journal in %s",
	    db_kind_label(c->database.url), instance,
	    store_journal_dir(p.store));
	if (c->metrics.enabled) {
		api = api_start(c, reg, proxy_health, proxy_api, &p);
		if (api == NULL)
			goto out;
	}
	for (size_t b = 0; b < c->server.bind.n; b++)
		log_info("main", "listening for miners on %s (port %d), %zu "
		    "threads", c->server.bind.v[b], ports[b], p.nworkers);
	for (size_t b = 0; b < c->server.tls_bind.n; b++)
		log_info("main", "listening for TLS miners on %s (port %d)",
		    c->server.tls_bind.v[b], tls_ports[b]);
	if (c->server.tls_detect)
		log_info("main", "TLS handshakes on the plain ports are "
		    "accepted (tls_detect)");
	if (p.mode == &aggregate_mode) {
		p.hub = hub_new(&p);
		if (p.hub == NULL || hub_start(p.hub) != 0)
			goto out;
		log_info("main", "aggregate mode: miners share one connection "
		    "per pool; shares are checked by Loka");
	}
	for (started = 0; started < p.nworkers; started++)
		if (worker_start(p.workers[started]) != 0)
			break;
	if (started == p.nworkers) {
		log_info("main", "ready (pid %ld); stop with SIGTERM or "
		    "SIGINT", (long)getpid());
		sig = proxy_wait_signal(&p);
		log_info("main", "%s received: no new miners; waiting up to "
		    "%llds for shares in flight", sig == SIGINT ? "SIGINT" :
		    "SIGTERM",
		    (long long)(c->server.shutdown_timeout_ms / 1000));
		rc = sig > 0 ? 0 : 1;
	}
	for (size_t i = 0; i < started; i++)
		worker_post(p.workers[i], session_thread_drain, NULL);
	for (size_t i = 0; i < started; i++)
		worker_join(p.workers[i]);
	/* The pool side last: the sessions' verdicts came through it. */
	hub_stop(p.hub);
	/* No producer is left: the store writes what it holds and stops. */
	store_stop(p.store);
	if (started == p.nworkers)
		proxy_log_accounting(&p);
out:
	api_stop(api);
	metrics_registry_free(reg);
	proxy_metrics_free(&p);
	free(instance);
	free(ports);
	free(tls_ports);
	proxy_free(&p);
	return rc;
}
