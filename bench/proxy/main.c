/*
 * main.c: loka-bench-proxy's options, scenarios and tables (see bench.h
 * and docs/benchmarks.md).
 *
 *   conns   N idle miners held through the proxy, a new job every few
 *           seconds: the proxy's resident memory per session beyond its
 *           baseline, and its CPU while holding them.
 *   shares  M miners submitting: the most shares per second through each
 *           target (closed loop), then the same paced rate(s) through
 *           each (half of Loka's most, unless --rate): round trips p50,
 *           p99, p99.9, the latency the proxy adds over direct, and its
 *           CPU seconds per million forwarded messages.
 *   fanout  N miners, K broadcasts: time from the pool starting a
 *           mining.notify broadcast to each miner receiving it.
 *
 * Each scenario starts each target afresh (direct, loka, haproxy), so the
 * ratios in a table come from the same run. The sequential code drives
 * the event loop with run_for() / run_until(); a 1 ms heartbeat keeps the
 * loop turning so conditions are checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "util/xmalloc.h"

#define EXIT_USAGE	2
/* Paced rates one shares run may take (--rate A,B,...). */
#define RATES_MAX	8

enum scenario {
	SCEN_CONNS = 0,
	SCEN_SHARES,
	SCEN_FANOUT,
	SCEN_MAX
};

static const char *const scen_names[SCEN_MAX] = {
	"conns", "shares", "fanout"
};

/* Default miners per scenario. */
static const uint32_t scen_miners[SCEN_MAX] = { 2000, 200, 1000 };

struct opts {
	bool		 scen[SCEN_MAX];
	bool		 targets[TARGET_MAX];
	struct target_opts t;
	uint32_t	 miners;	/* 0: the scenario's default */
	uint32_t	 src_ips;
	double		 connect_rate;
	double		 hold;		/* conns: seconds held */
	double		 interval;	/* conns: seconds between jobs */
	uint32_t	 window;	/* shares: closed loop window */
	double		 seconds;	/* shares: measured seconds a phase */
	double		 warmup;	/* shares: seconds before measuring */
	double		 rates[RATES_MAX];	/* shares: paced rates */
	size_t		 nrates;	/* 0: half of Loka's closed loop */
	uint32_t	 broadcasts;	/* fanout */
	double		 gap;		/* fanout: seconds between broadcasts */
	int		 gen_cpu;	/* pin the miners and pool; -1: no */
	const char	*perf_dir;	/* record perf profiles here */
};

static struct event_base *base;
static struct pool_ctl pool;

static const char usage_text[] =
    "usage: loka-bench-proxy [options] [conns|shares|fanout ...]\n"
    "\n"
    "Runs each scenario (default: all three) through each target and\n"
    "prints a table per scenario (docs/benchmarks.md).\n"
    "\n"
    "  --targets LIST        direct,loka,haproxy,loka-b,loka-agg (default the first\n"
    "                        three, and loka-b with --loka-b; conns skips\n"
    "                        direct: there is no proxy to measure)\n"
    "  --loka PATH           loka-stratum (default: beside this program)\n"
    "  --loka-b PATH         a second loka-stratum build, measured as\n"
    "                        \"loka-b\" in the same run (A/B comparisons)\n"
    "  --loka-b-env VAR=VAL  set VAR for loka-b only (repeatable), e.g.\n"
    "                        LOKA_DATABASE_VERDICT_WAIT=0: one build, two\n"
    "                        settings; --loka-b defaults to --loka then\n"
    "  --haproxy PATH        haproxy (default /usr/sbin/haproxy)\n"
    "  --threads N           Loka worker_threads and HAProxy nbthread\n"
    "                        (default: the number of CPUs)\n"
    "  --proxy-cpu C         pin the proxy to CPU C (default: no pinning)\n"
    "  --gen-cpu C           pin the pool and the miners to CPU C\n"
    "  --miners N            miners (default conns 2000, shares 200,\n"
    "                        fanout 1000)\n"
    "  --source-ips N        miners connect from 127.0.0.2..127.0.0.(N+1)\n"
    "                        (default 8)\n"
    "  --connect-rate R      new miner connections per second (default "
    "2000)\n"
    "  --hold S              conns: seconds held after the handshakes "
    "(default 30)\n"
    "  --notify-interval S   conns: seconds between jobs (default 5)\n"
    "  --window W            shares: submits out per miner, closed loop\n"
    "                        (default 4)\n"
    "  --seconds S           shares: seconds measured per phase (default "
    "10)\n"
    "  --warmup S            shares: seconds before measuring (default 2)\n"
    "  --rate R[,R...]       shares: paced shares/s, one phase per rate\n"
    "                        (default: half of the most Loka took in the\n"
    "                        closed loop)\n"
    "  --broadcasts K        fanout: jobs broadcast (default 20)\n"
    "  --gap S               fanout: seconds between them (default 0.2)\n"
    "  --keep                keep the proxies' temporary directories\n"
    "  --perf DIR            record a perf profile of the proxy during each\n"
    "                        measured window: DIR/perf-TARGET-PHASE.data\n"
    "  -h, --help            this text\n";

enum {
	OPT_TARGETS = 256,
	OPT_LOKA,
	OPT_LOKA_B,
	OPT_LOKA_B_ENV,
	OPT_HAPROXY,
	OPT_THREADS,
	OPT_PROXY_CPU,
	OPT_GEN_CPU,
	OPT_MINERS,
	OPT_SOURCE_IPS,
	OPT_CONNECT_RATE,
	OPT_HOLD,
	OPT_INTERVAL,
	OPT_WINDOW,
	OPT_SECONDS,
	OPT_WARMUP,
	OPT_RATE,
	OPT_BROADCASTS,
	OPT_GAP,
	OPT_KEEP,
	OPT_PERF,
};

static const struct option long_options[] = {
	{ "targets", required_argument, NULL, OPT_TARGETS },
	{ "loka", required_argument, NULL, OPT_LOKA },
	{ "loka-b", required_argument, NULL, OPT_LOKA_B },
	{ "loka-b-env", required_argument, NULL, OPT_LOKA_B_ENV },
	{ "haproxy", required_argument, NULL, OPT_HAPROXY },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "proxy-cpu", required_argument, NULL, OPT_PROXY_CPU },
	{ "gen-cpu", required_argument, NULL, OPT_GEN_CPU },
	{ "miners", required_argument, NULL, OPT_MINERS },
	{ "source-ips", required_argument, NULL, OPT_SOURCE_IPS },
	{ "connect-rate", required_argument, NULL, OPT_CONNECT_RATE },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "notify-interval", required_argument, NULL, OPT_INTERVAL },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "broadcasts", required_argument, NULL, OPT_BROADCASTS },
	{ "gap", required_argument, NULL, OPT_GAP },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "perf", required_argument, NULL, OPT_PERF },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* ---- driving the loop ---- */

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until done(arg) or timeout_s; true if done. */
static bool
run_until(bool (*done)(void *), void *arg, double timeout_s)
{
	uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);

	while (done == NULL || !done(arg)) {
		if (now_ns() >= end)
			return done == NULL;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

static void
run_for(double seconds)
{
	run_until(NULL, NULL, seconds);
}

static bool
ctl_replied(void *arg)
{
	(void)arg;
	return pool.replied;
}

/* Send a command to the pool and wait (looping) for its answer. */
static const char *
ctl_call(const char *cmd)
{
	size_t len = strlen(cmd), off = 0;

	pool.replied = false;
	while (off < len) {
		ssize_t n = write(pool.fd, cmd + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("loka-bench-proxy: pool control");
			exit(1);
		}
		off += (size_t)n;
	}
	if (!run_until(ctl_replied, NULL, 60)) {
		fprintf(stderr, "loka-bench-proxy: the pool does not answer\n");
		exit(1);
	}
	return pool.reply;
}

static void
pool_stats(struct pool_stats *st)
{
	const char *r = ctl_call("stats\n");

	memset(st, 0, sizeof(*st));
	sscanf(r, "stats %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
	    SCNu64, &st->conns, &st->ready, &st->lines_in, &st->submits,
	    &st->lines_out);
}

static void
ctl_interval(double seconds)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "interval %ld\n", (long)(seconds * 1000));
	ctl_call(cmd);
}

static bool
miners_settled(void *arg)
{
	struct miners *ms = arg;

	return ms->nready + ms->nfailed + ms->nlost >= ms->n;
}

static bool
miners_drained(void *arg)
{
	return ((struct miners *)arg)->outstanding == 0;
}

static bool
pool_empty(void *arg)
{
	struct pool_stats st;

	(void)arg;
	pool_stats(&st);
	return st.conns == 0;
}

/* Start a target, connect n miners and wait for their handshakes. */
static struct miners *
bring_up(const struct opts *o, struct target *t, enum target_kind kind,
    uint32_t n, double *ready_s, struct proc_usage *baseline)
{
	struct sockaddr_in dst;
	struct miners *ms;
	uint64_t t0;

	if (target_start(t, kind, &o->t, pool.port, n + 64) != 0)
		return NULL;
	if (baseline != NULL) {
		/* Started, configuration and database loaded, idle. */
		run_for(2.0);
		proc_sample(t->pid, baseline);
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons(t->port);
	ms = miners_new(base, n, &dst, o->src_ips, o->connect_rate);
	t0 = now_ns();
	miners_start(ms);
	run_until(miners_settled, ms, (double)n / o->connect_rate + 120);
	if (ready_s != NULL)
		*ready_s = (double)(now_ns() - t0) / 1e9;
	if (ms->nready < n)
		fprintf(stderr, "loka-bench-proxy: %s: %u of %u miners ready "
		    "(%u failed)\n", target_names[kind], ms->nready, n,
		    ms->nfailed + ms->nlost);
	return ms;
}

/* Close the miners and the pool's side, stop the target. */
static void
tear_down(struct target *t, struct miners *ms)
{
	miners_free(ms);
	ctl_call("close\n");
	/* The proxy closes its pool connections when it sees the miners
	 * go; "close" above resets the rest. */
	run_until(pool_empty, NULL, 5);
	target_stop(t);
}

static double
pct_us(struct samples *s, double p)
{
	return (double)samples_pct(s, p) / 1000.0;
}

/*
 * Ratios of one figure (v, per target; 0 = not measured): Loka/HAProxy,
 * and loka-b/Loka when a second build ran.
 */
static void
print_ratios(const char *what, const double v[TARGET_MAX], const char *unit)
{
	const double *l = &v[TARGET_LOKA], *h = &v[TARGET_HAPROXY],
	    *b = &v[TARGET_LOKA_B], *a = &v[TARGET_LOKA_AGG];

	if (*l > 0 && *h > 0)
		printf("- %s: Loka %.3g%s, HAProxy %.3g%s, Loka/HAProxy "
		    "%.2f\n", what, *l, unit, *h, unit, *l / *h);
	if (*b > 0 && *l > 0)
		printf("- %s: loka-b %.3g%s, Loka %.3g%s, loka-b/Loka %.2f\n",
		    what, *b, unit, *l, unit, *b / *l);
	if (*a > 0 && *h > 0)
		printf("- %s: loka-agg %.3g%s, HAProxy %.3g%s, "
		    "loka-agg/HAProxy %.2f\n", what, *a, unit, *h, unit,
		    *a / *h);
	if (*a > 0 && *l > 0)
		printf("- %s: loka-agg %.3g%s, Loka %.3g%s, loka-agg/Loka "
		    "%.2f\n", what, *a, unit, *l, unit, *a / *l);
}

/*
 * --perf: perf record of the proxy from now until perf_stop(). Returns
 * the perf process, or 0 when not profiling.
 */
static pid_t
perf_start(const struct opts *o, const struct target *t, const char *phase)
{
	char out[512], pid[16];
	pid_t p;

	if (o->perf_dir == NULL || t->pid <= 0)
		return 0;
	snprintf(out, sizeof(out), "%s/perf-%s-%s.data", o->perf_dir,
	    target_names[t->kind], phase);
	snprintf(pid, sizeof(pid), "%d", (int)t->pid);
	p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		/* DWARF unwinding: libc, libevent and jansson have no frame
		 * pointers. */
		execlp("perf", "perf", "record", "-q", "--call-graph",
		    "dwarf,16384", "-F", "499", "-p", pid, "-o", out,
		    (char *)NULL);
		_exit(127);
	}
	/* Let it attach before the window starts. */
	if (p > 0)
		run_for(0.5);
	return p > 0 ? p : 0;
}

static bool
child_gone(void *arg)
{
	pid_t *p = arg;

	if (*p <= 0 || waitpid(*p, NULL, WNOHANG) != 0)
		*p = 0;
	return *p == 0;
}

/* Stop perf and wait for it to write its file (the loop keeps serving
 * the miners meanwhile). */
static void
perf_stop(pid_t p)
{
	if (p <= 0)
		return;
	kill(p, SIGINT);
	run_until(child_gone, &p, 120);
}

/* ---- conns ---- */

struct conns_row {
	bool		 ran;
	uint32_t	 held, lost;
	double		 ready_s;
	double		 notifies;	/* per miner during the hold */
	struct proc_usage base, end;
	double		 cpu_hold;
	uint64_t	 msgs;
	long		 sock_kb;	/* kernel TCP memory, whole machine */
};

static void
scen_conns(const struct opts *o)
{
	uint32_t n = o->miners ? o->miners : scen_miners[SCEN_CONNS];
	struct conns_row rows[TARGET_MAX];

	printf("\n## conns: %u idle miners, a job every %.0f s, held %.0f s\n\n",
	    n, o->interval, o->hold);
	printf("| target | miners held | lost | handshakes done in | jobs per "
	    "miner | RSS before | RSS held | RSS per miner | fds | CPU while "
	    "held | CPU s per 1M jobs forwarded |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int k = TARGET_LOKA; k < TARGET_MAX; k++) {
		struct conns_row *r = &rows[k];
		struct target t;
		struct miners *ms;
		struct proc_usage c0;
		long in0 = 0, mem0 = 0, in1 = 0, mem1 = 0;
		uint64_t n0;
		pid_t perf;

		memset(r, 0, sizeof(*r));
		if (!o->targets[k])
			continue;
		sockstat_tcp(&in0, &mem0);
		ctl_interval(o->interval);
		ms = bring_up(o, &t, (enum target_kind)k, n, &r->ready_s,
		    &r->base);
		if (ms == NULL) {
			ctl_interval(0);
			continue;
		}
		run_for(1.0);
		perf = perf_start(o, &t, "conns");
		n0 = ms->notifies;
		proc_sample(t.pid, &c0);
		run_for(o->hold);
		proc_sample(t.pid, &r->end);
		perf_stop(perf);
		sockstat_tcp(&in1, &mem1);
		r->ran = true;
		r->held = ms->nready;
		r->lost = ms->nlost + ms->nfailed;
		r->msgs = ms->notifies - n0;
		r->notifies = r->held ? (double)r->msgs / r->held : 0;
		r->cpu_hold = r->end.cpu_s - c0.cpu_s;
		r->sock_kb = (mem1 - mem0) * (sysconf(_SC_PAGESIZE) / 1024);
		ctl_interval(0);
		tear_down(&t, ms);
		printf("| %s | %u | %u | %.1f s | %.1f | %.1f MiB | %.1f MiB | "
		    "%.2f KiB | %ld | %.2f s (%.1f%% of a core) | %.1f |\n",
		    target_names[k], r->held, r->lost, r->ready_s, r->notifies,
		    r->base.rss_kb / 1024.0, r->end.rss_kb / 1024.0,
		    r->held ? (double)(r->end.rss_kb - r->base.rss_kb) /
		    r->held : 0, r->end.fds, r->cpu_hold,
		    100.0 * r->cpu_hold / o->hold,
		    r->msgs ? r->cpu_hold / ((double)r->msgs / 1e6) : 0);
		fflush(stdout);
	}
	printf("\n");
	{
		double mem[TARGET_MAX] = { 0 }, cpu[TARGET_MAX] = { 0 };

		for (int k = TARGET_LOKA; k < TARGET_MAX; k++) {
			struct conns_row *r = &rows[k];

			if (!r->ran || r->held == 0)
				continue;
			mem[k] = (double)(r->end.rss_kb - r->base.rss_kb) /
			    r->held;
			cpu[k] = r->cpu_hold;
		}
		print_ratios("resident memory per miner", mem, " KiB");
		print_ratios("CPU while held", cpu, " s");
	}
	for (int k = TARGET_LOKA; k < TARGET_MAX; k++)
		if (rows[k].ran)
			printf("- kernel TCP memory (whole machine, all sockets "
			    "of the run) with %s: %+ld KiB\n", target_names[k],
			    rows[k].sock_kb);
	fflush(stdout);
}

/* ---- shares ---- */

struct phase {
	bool		 ran;
	double		 rate;		/* verdicts per second measured */
	double		 p50, p99, p999, max;	/* us */
	double		 cpu;		/* the proxy's CPU seconds */
	double		 gen_cpu;	/* miners + pool CPU seconds */
	uint64_t	 msgs;		/* lines relayed in the window */
	uint64_t	 rejected;
	uint64_t	 late;		/* paced submits that found no room */
};

struct shares_row {
	struct phase	 max;
	struct phase	 paced[RATES_MAX];
};

/* One measured window: the miners are submitting already. */
static void
measure(const struct opts *o, const struct target *t, struct miners *ms,
    const char *name, struct phase *ph)
{
	pid_t perf;
	struct proc_usage p0 = { 0 }, p1 = { 0 }, g0, g1, q0, q1;
	struct pool_stats s0, s1;
	uint64_t a0, l0, r0, late0, t0;
	double secs;

	run_for(o->warmup);
	perf = perf_start(o, t, name);
	pool_stats(&s0);
	if (t->pid > 0)
		proc_sample(t->pid, &p0);
	proc_sample(getpid(), &g0);
	proc_sample(pool.pid, &q0);
	a0 = ms->answers;
	l0 = ms->lines_in;
	r0 = ms->rejected;
	late0 = ms->paced_late;
	samples_clear(&ms->lat);
	ms->record = true;
	t0 = now_ns();
	run_for(o->seconds);
	ms->record = false;
	secs = (double)(now_ns() - t0) / 1e9;
	if (t->pid > 0)
		proc_sample(t->pid, &p1);
	proc_sample(getpid(), &g1);
	proc_sample(pool.pid, &q1);
	pool_stats(&s1);
	perf_stop(perf);
	ph->ran = true;
	ph->rate = (double)(ms->answers - a0) / secs;
	ph->p50 = pct_us(&ms->lat, 0.5);
	ph->p99 = pct_us(&ms->lat, 0.99);
	ph->p999 = pct_us(&ms->lat, 0.999);
	ph->max = pct_us(&ms->lat, 1.0);
	ph->cpu = p1.cpu_s - p0.cpu_s;
	ph->gen_cpu = (g1.cpu_s - g0.cpu_s) + (q1.cpu_s - q0.cpu_s);
	ph->msgs = (s1.lines_in - s0.lines_in) + (ms->lines_in - l0);
	ph->rejected = ms->rejected - r0;
	ph->late = ms->paced_late - late0;
}

/*
 * The paced rates: --rate's list, or (rates[0] == 0) half of the first
 * closed-loop figure measured, which is Loka's.
 */
struct rates {
	double		 v[RATES_MAX];
	size_t		 n;
};

static void
shares_one(const struct opts *o, enum target_kind kind, uint32_t n,
    struct rates *rates, struct shares_row *r)
{
	struct target t;
	struct miners *ms = bring_up(o, &t, kind, n, NULL, NULL);
	char name[32];

	memset(r, 0, sizeof(*r));
	if (ms == NULL)
		return;
	miners_window(ms, o->window);
	measure(o, &t, ms, "max", &r->max);
	miners_window(ms, 0);
	run_until(miners_drained, ms, 10);
	if (rates->v[0] <= 0)
		rates->v[0] = floor(r->max.rate / 2 / 100) * 100;
	for (size_t i = 0; i < rates->n; i++) {
		snprintf(name, sizeof(name), "paced%.0f", rates->v[i]);
		miners_pace(ms, rates->v[i]);
		measure(o, &t, ms, name, &r->paced[i]);
		miners_pace(ms, 0);
		run_until(miners_drained, ms, 10);
	}
	tear_down(&t, ms);
}

static void
print_phase(enum target_kind k, const struct phase *ph,
    const struct phase *direct, double seconds)
{
	printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |", target_names[k],
	    ph->rate, ph->p50, ph->p99, ph->p999, ph->max);
	if (k != TARGET_DIRECT && direct->ran)
		printf(" %+.0f / %+.0f / %+.0f |", ph->p50 - direct->p50,
		    ph->p99 - direct->p99, ph->p999 - direct->p999);
	else
		printf(" - |");
	if (k != TARGET_DIRECT)
		printf(" %.2f s (%.0f%%) | %.2f |", ph->cpu,
		    100 * ph->cpu / seconds,
		    ph->msgs ? ph->cpu / ((double)ph->msgs / 1e6) : 0);
	else
		printf(" - | - |");
	printf(" %.0f%% |\n", 100 * ph->gen_cpu / seconds);
}

static void
scen_shares(const struct opts *o)
{
	uint32_t n = o->miners ? o->miners : scen_miners[SCEN_SHARES];
	struct shares_row rows[TARGET_MAX];
	struct rates rates;
	static const char head[] = "| target | shares/s | p50 us | p99 us | "
	    "p99.9 us | max us | added p50 / p99 / p99.9 us | proxy CPU | "
	    "CPU s per 1M msgs | generator CPU |\n"
	    "|---|---|---|---|---|---|---|---|---|---|\n";

	memset(rows, 0, sizeof(rows));
	memcpy(rates.v, o->rates, sizeof(rates.v));
	rates.n = o->nrates > 0 ? o->nrates : 1;
	/* Loka first: its closed-loop figure may set the paced rate. */
	if (rates.v[0] <= 0 && o->targets[TARGET_LOKA])
		shares_one(o, TARGET_LOKA, n, &rates, &rows[TARGET_LOKA]);
	for (int k = 0; k < TARGET_MAX; k++)
		if (o->targets[k] && !rows[k].max.ran)
			shares_one(o, (enum target_kind)k, n, &rates, &rows[k]);
	printf("\n## shares: %u miners, %.0f s measured per phase\n\n", n,
	    o->seconds);
	printf("Closed loop, %u submits out per miner (the most each path "
	    "takes):\n\n%s", o->window, head);
	for (int k = 0; k < TARGET_MAX; k++)
		if (rows[k].max.ran)
			print_phase((enum target_kind)k, &rows[k].max,
			    &rows[TARGET_DIRECT].max, o->seconds);
	for (size_t i = 0; i < rates.n; i++) {
		printf("\nPaced at %.0f shares/s over all miners%s:\n\n%s",
		    rates.v[i], o->nrates > 0 ? "" :
		    " (half of Loka's closed-loop figure)", head);
		for (int k = 0; k < TARGET_MAX; k++)
			if (rows[k].paced[i].ran)
				print_phase((enum target_kind)k,
				    &rows[k].paced[i],
				    &rows[TARGET_DIRECT].paced[i], o->seconds);
	}
	printf("\n");
	for (int k = 0; k < TARGET_MAX; k++) {
		uint64_t rej = rows[k].max.rejected, late = 0;

		for (size_t i = 0; i < rates.n; i++) {
			rej += rows[k].paced[i].rejected;
			late += rows[k].paced[i].late;
		}
		if (rej + late > 0)
			printf("- %s: %" PRIu64 " rejected, %" PRIu64 " paced "
			    "submits found every window full\n",
			    target_names[k], rej, late);
	}
	{
		double max[TARGET_MAX] = { 0 };

		for (int k = TARGET_LOKA; k < TARGET_MAX; k++)
			max[k] = rows[k].max.rate;
		print_ratios("closed-loop shares/s", max, "");
	}
	for (size_t i = 0; i < rates.n; i++) {
		double cpu[TARGET_MAX] = { 0 }, add[TARGET_MAX] = { 0 };
		const struct phase *d = &rows[TARGET_DIRECT].paced[i];
		char what[96];

		for (int k = TARGET_LOKA; k < TARGET_MAX; k++) {
			const struct phase *p = &rows[k].paced[i];

			if (p->ran && p->msgs > 0)
				cpu[k] = p->cpu / (double)p->msgs * 1e9;
			if (p->ran && d->ran)
				add[k] = p->p50 - d->p50;
		}
		snprintf(what, sizeof(what), "at %.0f/s: CPU per forwarded "
		    "message", rates.v[i]);
		print_ratios(what, cpu, " ns");
		snprintf(what, sizeof(what), "at %.0f/s: added p50 latency",
		    rates.v[i]);
		print_ratios(what, add, " us");
	}
	fflush(stdout);
}

/* ---- fanout ---- */

struct fan_row {
	bool		 ran;
	uint32_t	 miners;
	double		 p50, p99, max;	/* us, over all arrivals */
	double		 last_p50;	/* us, last miner per broadcast */
	double		 send_p50;	/* us, the pool's write loop */
	uint32_t	 incomplete;	/* broadcasts some miner missed */
	double		 cpu;
	uint64_t	 msgs;
};

struct fan_wait {
	struct miners	*ms;
	uint64_t	 t0;
};

static bool
fan_complete(void *arg)
{
	struct fan_wait *w = arg;

	return w->ms->fan_t0 == w->t0 && w->ms->fan_got >= w->ms->nready;
}

static void
fanout_one(const struct opts *o, enum target_kind kind, uint32_t n,
    struct fan_row *r)
{
	struct target t;
	struct miners *ms = bring_up(o, &t, kind, n, NULL, NULL);
	struct samples last = { 0 }, sendt = { 0 };
	struct proc_usage p0 = { 0 }, p1 = { 0 };
	uint64_t n0;
	pid_t perf;

	memset(r, 0, sizeof(*r));
	if (ms == NULL)
		return;
	run_for(1.0);
	perf = perf_start(o, &t, "fanout");
	if (t.pid > 0)
		proc_sample(t.pid, &p0);
	n0 = ms->notifies;
	samples_clear(&ms->fan);
	ms->record = true;
	for (uint32_t k = 0; k < o->broadcasts; k++) {
		struct fan_wait w = { ms, 0 };
		const char *reply = ctl_call("notify\n");

		uint64_t send_ns = 0;

		sscanf(reply, "ok %" SCNx64 " %*u %" SCNu64, &w.t0, &send_ns);
		samples_add(&sendt, send_ns);
		if (!run_until(fan_complete, &w, 30))
			r->incomplete++;
		samples_add(&last, ms->fan_last);
		run_for(o->gap);
	}
	ms->record = false;
	if (t.pid > 0)
		proc_sample(t.pid, &p1);
	perf_stop(perf);
	r->ran = true;
	r->miners = ms->nready;
	r->p50 = pct_us(&ms->fan, 0.5);
	r->p99 = pct_us(&ms->fan, 0.99);
	r->max = pct_us(&ms->fan, 1.0);
	r->last_p50 = pct_us(&last, 0.5);
	r->send_p50 = pct_us(&sendt, 0.5);
	r->cpu = p1.cpu_s - p0.cpu_s;
	r->msgs = ms->notifies - n0;
	samples_free(&last);
	samples_free(&sendt);
	tear_down(&t, ms);
}

static void
scen_fanout(const struct opts *o)
{
	uint32_t n = o->miners ? o->miners : scen_miners[SCEN_FANOUT];
	struct fan_row rows[TARGET_MAX];

	memset(rows, 0, sizeof(rows));
	for (int k = 0; k < TARGET_MAX; k++)
		if (o->targets[k])
			fanout_one(o, (enum target_kind)k, n, &rows[k]);
	printf("\n## fanout: %u miners, %u jobs broadcast %.1f s apart\n\n", n,
	    o->broadcasts, o->gap);
	printf("| target | miners | p50 us | p99 us | max us (last miner, worst "
	    "job) | last miner, median job us | pool's write loop us | proxy "
	    "CPU s per 1M notify |\n"
	    "|---|---|---|---|---|---|---|---|\n");
	for (int k = 0; k < TARGET_MAX; k++) {
		struct fan_row *r = &rows[k];

		if (!r->ran)
			continue;
		printf("| %s | %u | %.0f | %.0f | %.0f | %.0f | %.0f |",
		    target_names[k], r->miners, r->p50, r->p99, r->max,
		    r->last_p50, r->send_p50);
		if (k != TARGET_DIRECT && r->msgs > 0)
			printf(" %.2f |\n", r->cpu / ((double)r->msgs / 1e6));
		else
			printf(" - |\n");
		if (r->incomplete > 0)
			printf("\n%s: %u jobs did not reach every miner within "
			    "30 s\n\n", target_names[k], r->incomplete);
	}
	printf("\n");
	{
		double p50[TARGET_MAX] = { 0 }, last[TARGET_MAX] = { 0 },
		    cpu[TARGET_MAX] = { 0 };

		for (int k = TARGET_LOKA; k < TARGET_MAX; k++) {
			if (!rows[k].ran)
				continue;
			p50[k] = rows[k].p50;
			last[k] = rows[k].last_p50;
			if (rows[k].msgs > 0)
				cpu[k] = rows[k].cpu / (double)rows[k].msgs *
				    1e9;
		}
		print_ratios("fan-out p50", p50, " us");
		print_ratios("fan-out to the last miner (median job)", last,
		    " us");
		print_ratios("CPU per notify forwarded", cpu, " ns");
	}
	fflush(stdout);
}

/* ---- options ---- */

static int
parse_num(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "loka-bench-proxy: --%s: expected a number in "
		    "[%g, %g], got \"%s\"\n", name, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_targets(const char *s, bool *targets)
{
	char *dup = xstrdup(s), *save = NULL, *tok;
	int rc = 0;

	memset(targets, 0, TARGET_MAX * sizeof(*targets));
	for (tok = strtok_r(dup, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		int k;

		for (k = 0; k < TARGET_MAX; k++)
			if (strcmp(tok, target_names[k]) == 0)
				break;
		if (k == TARGET_MAX) {
			fprintf(stderr, "loka-bench-proxy: --targets: unknown "
			    "target \"%s\" (direct, loka, haproxy, loka-b, "
			    "loka-agg)\n",
			    tok);
			rc = -1;
			break;
		}
		targets[k] = true;
	}
	free(dup);
	return rc;
}

static int
parse_rates(const char *s, struct opts *o)
{
	char *dup = xstrdup(s), *save = NULL, *tok;
	int rc = 0;

	o->nrates = 0;
	for (tok = strtok_r(dup, ",", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		if (o->nrates == RATES_MAX) {
			fprintf(stderr, "loka-bench-proxy: --rate: at most %d "
			    "rates\n", RATES_MAX);
			rc = -1;
			break;
		}
		rc = parse_num("rate", tok, 1, 1e8, &o->rates[o->nrates++]);
	}
	free(dup);
	return rc;
}

/* loka-stratum beside this program. */
static char *
default_loka(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return xstrdup("loka-stratum");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash != NULL)
		*slash = '\0';
	return xasprintf("%s/loka-stratum", self);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;
	bool any = false;
	double v;

	memset(o, 0, sizeof(*o));
	for (int k = 0; k < TARGET_MAX; k++)
		o->targets[k] = k != TARGET_LOKA_B;
	o->t.haproxy = "/usr/sbin/haproxy";
	o->t.threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	o->t.cpu = -1;
	o->gen_cpu = -1;
	o->src_ips = 8;
	o->connect_rate = 2000;
	o->hold = 30;
	o->interval = 5;
	o->window = 4;
	o->seconds = 10;
	o->warmup = 2;
	o->broadcasts = 20;
	o->gap = 0.2;
	while ((ch = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		int rc = 0;

		switch (ch) {
		case OPT_TARGETS:
			rc = parse_targets(optarg, o->targets);
			break;
		case OPT_LOKA:
			o->t.loka = optarg;
			break;
		case OPT_LOKA_B:
			o->t.loka_b = optarg;
			o->targets[TARGET_LOKA_B] = true;
			break;
		case OPT_LOKA_B_ENV:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=' ||
			    o->t.nloka_b_env == sizeof(o->t.loka_b_env) /
			    sizeof(o->t.loka_b_env[0])) {
				fprintf(stderr, "loka-bench-proxy: --loka-b-env "
				    "wants VAR=VALUE (16 at most): %s\n",
				    optarg);
				return -1;
			}
			o->t.loka_b_env[o->t.nloka_b_env++] = optarg;
			o->targets[TARGET_LOKA_B] = true;
			break;
		case OPT_HAPROXY:
			o->t.haproxy = optarg;
			break;
		case OPT_THREADS:
			rc = parse_num("threads", optarg, 1, 64, &v);
			o->t.threads = (unsigned)v;
			break;
		case OPT_PROXY_CPU:
			rc = parse_num("proxy-cpu", optarg, 0, 1023, &v);
			o->t.cpu = (int)v;
			break;
		case OPT_GEN_CPU:
			rc = parse_num("gen-cpu", optarg, 0, 1023, &v);
			o->gen_cpu = (int)v;
			break;
		case OPT_MINERS:
			rc = parse_num("miners", optarg, 1, 1000000, &v);
			o->miners = (uint32_t)v;
			break;
		case OPT_SOURCE_IPS:
			rc = parse_num("source-ips", optarg, 0, 250, &v);
			o->src_ips = (uint32_t)v;
			break;
		case OPT_CONNECT_RATE:
			rc = parse_num("connect-rate", optarg, 1, 1e6,
			    &o->connect_rate);
			break;
		case OPT_HOLD:
			rc = parse_num("hold", optarg, 1, 86400, &o->hold);
			break;
		case OPT_INTERVAL:
			rc = parse_num("notify-interval", optarg, 0.1, 3600,
			    &o->interval);
			break;
		case OPT_WINDOW:
			rc = parse_num("window", optarg, 1, MINER_WINDOW_MAX,
			    &v);
			o->window = (uint32_t)v;
			break;
		case OPT_SECONDS:
			rc = parse_num("seconds", optarg, 1, 86400, &o->seconds);
			break;
		case OPT_WARMUP:
			rc = parse_num("warmup", optarg, 0, 3600, &o->warmup);
			break;
		case OPT_RATE:
			rc = parse_rates(optarg, o);
			break;
		case OPT_BROADCASTS:
			rc = parse_num("broadcasts", optarg, 1, 100000, &v);
			o->broadcasts = (uint32_t)v;
			break;
		case OPT_GAP:
			rc = parse_num("gap", optarg, 0, 60, &o->gap);
			break;
		case OPT_KEEP:
			o->t.keep = true;
			break;
		case OPT_PERF:
			o->perf_dir = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return -1;
		}
		if (rc != 0)
			return -1;
	}
	for (int i = optind; i < argc; i++) {
		int s;

		for (s = 0; s < SCEN_MAX; s++)
			if (strcmp(argv[i], scen_names[s]) == 0)
				break;
		if (s == SCEN_MAX) {
			fprintf(stderr, "loka-bench-proxy: unknown scenario "
			    "\"%s\"\n%s", argv[i], usage_text);
			return -1;
		}
		o->scen[s] = any = true;
	}
	if (!any)
		for (int s = 0; s < SCEN_MAX; s++)
			o->scen[s] = true;
	return 0;
}

static void
pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("loka-bench-proxy: sched_setaffinity");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct event_config *ec;
	struct event *hb;
	struct timeval tv = { 0, 1000 };
	char *loka = NULL, *abs_loka = NULL, *abs_haproxy = NULL;
	char *abs_loka_b = NULL;
	long nofile;

	if (parse_opts(argc, argv, &o) != 0)
		return EXIT_USAGE;
	if (o.t.loka == NULL)
		o.t.loka = loka = default_loka();
	/* The proxies run in their own directories: absolute paths. */
	if ((abs_loka = realpath(o.t.loka, NULL)) != NULL)
		o.t.loka = abs_loka;
	if ((abs_haproxy = realpath(o.t.haproxy, NULL)) != NULL)
		o.t.haproxy = abs_haproxy;
	if (o.t.loka_b != NULL &&
	    (abs_loka_b = realpath(o.t.loka_b, NULL)) != NULL)
		o.t.loka_b = abs_loka_b;
	if (o.t.nloka_b_env > 0 && o.t.loka_b == NULL)
		o.t.loka_b = o.t.loka;
	if (o.targets[TARGET_LOKA_B] && o.t.loka_b == NULL) {
		fprintf(stderr, "loka-bench-proxy: target loka-b needs "
		    "--loka-b PATH\n");
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	nofile = set_nofile_max();
	/* Both processes inherit the pinning. */
	pin_self(o.gen_cpu);
	if (pool_spawn(&pool) != 0)
		return 1;
	ec = event_config_new();
	/* Paced submits tick every 250 us: timers need better than ms. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (base == NULL) {
		fprintf(stderr, "loka-bench-proxy: no event base\n");
		return 1;
	}
	pool_ctl_attach(&pool, base);
	hb = event_new(base, -1, EV_PERSIST, on_heartbeat, NULL);
	event_add(hb, &tv);
	printf("# loka-bench-proxy: proxy threads %u, open file limit %ld, "
	    "miners from %u source addresses, pool on 127.0.0.1:%u\n",
	    o.t.threads, nofile, o.src_ips, pool.port);
	printf("# loka: %s\n# haproxy: %s\n", o.t.loka, o.t.haproxy);
	if (o.t.loka_b != NULL)
		printf("# loka-b: %s\n", o.t.loka_b);
	for (size_t i = 0; i < o.t.nloka_b_env; i++)
		printf("# loka-b: %s\n", o.t.loka_b_env[i]);
	fflush(stdout);
	if (o.scen[SCEN_CONNS])
		scen_conns(&o);
	if (o.scen[SCEN_SHARES])
		scen_shares(&o);
	if (o.scen[SCEN_FANOUT])
		scen_fanout(&o);
	event_free(hb);
	pool_ctl_stop(&pool);
	event_base_free(base);
	free(loka);
	free(abs_loka);
	free(abs_haproxy);
	free(abs_loka_b);
	return 0;
}
