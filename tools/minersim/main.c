/*
 * main.c: loka-minersim's command line, run and summary.
 *
 * Parses the options, resolves the pool's address once (before the loop:
 * no DNS on the loop), starts the miners in batches so that tens of
 * thousands of connects do not land in one loop turn, and ends the run on
 * --duration, on every miner reaching --shares, or on SIGTERM / SIGINT. The
 * end stops new shares and waits up to --drain-timeout for the verdicts
 * still outstanding (a second signal cuts the wait short); then the summary
 * is written (temp file + rename) and one human line printed.
 *
 * Exit status: 0 when every miner connected, completed its handshake and
 * no submit went unanswered (or with --allow-failures), 1 otherwise, 2 on
 * bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "minersim.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define EXIT_USAGE	2
/* Miners started per START_TICK_MS: 100K connects/s at most. */
#define START_BATCH	500
#define START_TICK_MS	5
/* Sanity cap on --miners (each costs a socket). */
#define MINERS_MAX	1000000
/* The login FORMAT's cap (miner.c's USER_MAX leaves room for an index). */
#define USER_FMT_MAX	200
/* File descriptors kept beyond one per miner (log, summary, libevent). */
#define FD_SPARE	64

static const char usage_text[] =
    "usage: loka-minersim --url stratum+tcp://HOST:PORT [options]\n"
    "\n"
    "Simulates Stratum V1 miners on one event loop (tests, benchmarks).\n"
    "\n"
    "  --url URL              pool or proxy: stratum+tcp://HOST:PORT "
    "(required)\n"
    "  --miners N             miners to simulate (default 1)\n"
    "  --source-ips A-B       bind each connection's source address, round-"
    "robin\n"
    "                         over A..B (IPv4, within 127.0.0.0/8 only)\n"
    "  --user FORMAT          login, %d = miner index from 0 (default\n"
    "                         bc1qTestAddr.rig%d)\n"
    "  --password P           password (default x)\n"
    "  --rate R               shares per second per miner (default 1; 0 = "
    "none)\n"
    "  --hashrate H           real mode: at most H hashes per second per "
    "miner\n"
    "                         (default 0 = as fast as the CPU allows)\n"
    "  --shares N             stop after N verdicts per miner (default 0 = "
    "no limit)\n"
    "  --duration S           stop after S seconds (default 0 = no limit)\n"
    "  --drain-timeout S      at the end, wait up to S seconds for "
    "verdicts\n"
    "                         (default 10)\n"
    "  --mode real|random     real: grind shares meeting the difficulty;\n"
    "                         random: random nonces, no hashing (default "
    "real)\n"
    "  --dialect D            plain, configure, suggest, multiversion,\n"
    "                         extranonce, or mixed (miner i: i mod 5); "
    "default plain\n"
    "  --http-connect TARGET  open each connection with CONNECT TARGET "
    "HTTP/1.1\n"
    "  --summary FILE         write the JSON summary to FILE\n"
    "  --allow-failures       exit 0 even if miners failed\n"
    "  --log-level LEVEL      error, warn, info, debug, trace (default "
    "info)\n"
    "  -h, --help             this text\n"
    "\n"
    "Summary counts: connected / handshakes = miners that connected / "
    "completed\n"
    "the handshake at least once; reconnects = connection attempts after "
    "each\n"
    "miner's first; disconnects = connections that failed or were lost "
    "(not\n"
    "client.reconnect); unanswered = sent - accepted - rejected (submits "
    "lost\n"
    "with a connection included); rejected_codes keyed by error code "
    "(\"none\"\n"
    "for a false result without one).\n"
    "Exit status: 0 all miners connected and handshook and no submit went\n"
    "unanswered; 1 otherwise; 2 bad usage.\n";

enum {
	OPT_URL = 256,
	OPT_MINERS,
	OPT_SOURCE_IPS,
	OPT_USER,
	OPT_PASSWORD,
	OPT_RATE,
	OPT_HASHRATE,
	OPT_SHARES,
	OPT_DURATION,
	OPT_DRAIN_TIMEOUT,
	OPT_MODE,
	OPT_DIALECT,
	OPT_HTTP_CONNECT,
	OPT_SUMMARY,
	OPT_ALLOW_FAILURES,
	OPT_LOG_LEVEL,
};

static const struct option long_options[] = {
	{ "url", required_argument, NULL, OPT_URL },
	{ "miners", required_argument, NULL, OPT_MINERS },
	{ "source-ips", required_argument, NULL, OPT_SOURCE_IPS },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "hashrate", required_argument, NULL, OPT_HASHRATE },
	{ "shares", required_argument, NULL, OPT_SHARES },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "dialect", required_argument, NULL, OPT_DIALECT },
	{ "http-connect", required_argument, NULL, OPT_HTTP_CONNECT },
	{ "summary", required_argument, NULL, OPT_SUMMARY },
	{ "allow-failures", no_argument, NULL, OPT_ALLOW_FAILURES },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *const dialect_names[SIM_DIALECT_MAX] = {
	[SIM_DIALECT_PLAIN] = "plain",
	[SIM_DIALECT_CONFIGURE] = "configure",
	[SIM_DIALECT_SUGGEST] = "suggest",
	[SIM_DIALECT_MULTIVERSION] = "multiversion",
	[SIM_DIALECT_EXTRANONCE] = "extranonce",
	[SIM_DIALECT_MIXED] = "mixed",
};

/* The run's events, owned here. */
struct run {
	struct sim	*sim;
	struct event	*start_ev;
	struct event	*duration_ev;
	struct event	*drain_ev;
	struct event	*sigint_ev;
	struct event	*sigterm_ev;
};

static struct run run;

uint64_t
sim_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
sim_random(struct sim *sim)
{
	/* xorshift64*: plenty for nonces and phases. */
	uint64_t x = sim->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sim->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void
sim_format_user(const struct sim *sim, uint32_t index, char *buf, size_t len)
{
	const char *fmt = sim->cfg.user_fmt;
	const char *p = strstr(fmt, "%d");

	if (p == NULL)
		snprintf(buf, len, "%s", fmt);
	else
		snprintf(buf, len, "%.*s%u%s", (int)(p - fmt), fmt, index,
		    p + 2);
}

static void
tv_from_seconds(double s, struct timeval *tv)
{
	tv->tv_sec = (time_t)s;
	tv->tv_usec = (suseconds_t)((s - (double)tv->tv_sec) * 1e6);
}

static void
sim_finish(struct sim *sim)
{
	if (sim->finished)
		return;
	sim->finished = true;
	event_base_loopbreak(sim->base);
}

void
sim_check_drained(struct sim *sim)
{
	if (sim->ending && sim->outstanding == 0)
		sim_finish(sim);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;

	log_warnx(SIM_LOG, "drain timeout: %llu submits still unanswered",
	    (unsigned long long)sim->outstanding);
	sim_finish(sim);
}

void
sim_end(struct sim *sim)
{
	struct timeval tv;
	uint32_t i;

	if (sim->ending)
		return;
	sim->ending = true;
	if (run.start_ev != NULL)
		evtimer_del(run.start_ev);
	for (i = 0; i < sim->started; i++)
		miner_stop_shares(&sim->miners[i]);
	if (sim->outstanding > 0) {
		log_info(SIM_LOG, "ending: waiting up to %.1f s for %llu "
		    "verdicts", sim->cfg.drain_timeout,
		    (unsigned long long)sim->outstanding);
		tv_from_seconds(sim->cfg.drain_timeout, &tv);
		evtimer_add(run.drain_ev, &tv);
	}
	sim_check_drained(sim);
}

static void
duration_cb(evutil_socket_t fd, short what, void *arg)
{
	sim_end(arg);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;

	if (sim->ending) {
		log_info(SIM_LOG, "second signal: stopping now");
		sim_finish(sim);
		return;
	}
	log_info(SIM_LOG, "signal %d: ending the run", (int)sig);
	sim_end(sim);
}

static void
start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	struct timeval tv = { 0, START_TICK_MS * 1000 };
	uint32_t n = 0;

	while (sim->started < sim->cfg.miners && n++ < START_BATCH &&
	    !sim->ending)
		miner_start(&sim->miners[sim->started++]);
	if (sim->started < sim->cfg.miners && !sim->ending)
		evtimer_add(run.start_ev, &tv);
}

/* Parsing helpers: 0 or -1, with nothing left over. */
static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_seconds(const char *s, double *out)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0.0)
		return -1;
	*out = v;
	return 0;
}

static int
parse_source_ips(const char *arg, struct sim_config *cfg)
{
	char first[INET_ADDRSTRLEN], *dash;
	struct in_addr a, b;
	uint32_t lo, hi;
	size_t n;

	dash = strchr(arg, '-');
	n = dash != NULL ? (size_t)(dash - arg) : strlen(arg);
	if (n >= sizeof(first))
		return -1;
	memcpy(first, arg, n);
	first[n] = '\0';
	if (inet_pton(AF_INET, first, &a) != 1 ||
	    inet_pton(AF_INET, dash != NULL ? dash + 1 : first, &b) != 1)
		return -1;
	lo = ntohl(a.s_addr);
	hi = ntohl(b.s_addr);
	if (lo > hi)
		return -1;
	/* Loopback only: this tool never sends traffic off the machine. */
	if ((lo >> 24) != 127 || (hi >> 24) != 127) {
		fprintf(stderr, "loka-minersim: --source-ips must lie within "
		    "127.0.0.0/8\n");
		return -1;
	}
	cfg->src_first = lo;
	cfg->src_count = hi - lo + 1;
	return 0;
}

/* stratum+tcp://HOST:PORT (or tcp://, or bare HOST:PORT), resolved. */
static int
parse_url(const char *url, struct sim_config *cfg)
{
	char host[256], port[8];
	const char *p = url, *colon, *hend;
	struct addrinfo hints, *res;
	size_t hlen;
	uint64_t portnum;
	int rc;

	if (strncmp(p, "stratum+tcp://", 14) == 0)
		p += 14;
	else if (strncmp(p, "tcp://", 6) == 0)
		p += 6;
	else if (strstr(p, "://") != NULL) {
		fprintf(stderr, "loka-minersim: only stratum+tcp:// URLs are "
		    "supported: %s\n", url);
		return -1;
	}
	if (p[0] == '[') {
		if ((hend = strchr(p, ']')) == NULL || hend[1] != ':')
			goto bad;
		p++;
		colon = hend + 1;
	} else {
		if ((colon = strrchr(p, ':')) == NULL)
			goto bad;
		hend = colon;
	}
	hlen = (size_t)(hend - p);
	if (hlen == 0 || hlen >= sizeof(host) ||
	    parse_u64(colon + 1, 65535, &portnum) == -1 || portnum == 0)
		goto bad;
	memcpy(host, p, hlen);
	host[hlen] = '\0';
	snprintf(port, sizeof(port), "%u", (unsigned)portnum);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = cfg->src_count > 0 ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "loka-minersim: cannot resolve %s: %s\n", host,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
	cfg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	fprintf(stderr, "loka-minersim: bad --url %s (want "
	    "stratum+tcp://HOST:PORT)\n", url);
	return -1;
}

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "loka-minersim: bad %s: %s\n\n%s", what, arg,
	    usage_text);
	return -1;
}

/* parse_args(): 0 to run, 1 after --help, -1 on bad usage. */
static int
parse_args(int argc, char **argv, struct sim_config *cfg)
{
	const char *source_ips = NULL;
	uint64_t v;
	int c, i, level;

	memset(cfg, 0, sizeof(*cfg));
	cfg->miners = 1;
	cfg->user_fmt = "bc1qTestAddr.rig%d";
	cfg->password = "x";
	cfg->rate = 1.0;
	cfg->drain_timeout = 10.0;
	cfg->mode = SIM_MODE_REAL;
	cfg->dialect = SIM_DIALECT_PLAIN;

	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			cfg->url = optarg;
			break;
		case OPT_MINERS:
			if (parse_u64(optarg, MINERS_MAX, &v) == -1 || v == 0)
				return usage_error("--miners", optarg);
			cfg->miners = (uint32_t)v;
			break;
		case OPT_SOURCE_IPS:
			source_ips = optarg;
			break;
		case OPT_USER:
			if (strlen(optarg) > USER_FMT_MAX || optarg[0] == '\0')
				return usage_error("--user", optarg);
			cfg->user_fmt = optarg;
			break;
		case OPT_PASSWORD:
			cfg->password = optarg;
			break;
		case OPT_RATE:
			if (parse_seconds(optarg, &cfg->rate) == -1)
				return usage_error("--rate", optarg);
			break;
		case OPT_HASHRATE:
			if (parse_seconds(optarg, &cfg->hashrate) == -1)
				return usage_error("--hashrate", optarg);
			break;
		case OPT_SHARES:
			if (parse_u64(optarg, UINT32_MAX, &cfg->shares) == -1)
				return usage_error("--shares", optarg);
			break;
		case OPT_DURATION:
			if (parse_seconds(optarg, &cfg->duration) == -1)
				return usage_error("--duration", optarg);
			break;
		case OPT_DRAIN_TIMEOUT:
			if (parse_seconds(optarg, &cfg->drain_timeout) == -1)
				return usage_error("--drain-timeout", optarg);
			break;
		case OPT_MODE:
			if (strcmp(optarg, "real") == 0)
				cfg->mode = SIM_MODE_REAL;
			else if (strcmp(optarg, "random") == 0)
				cfg->mode = SIM_MODE_RANDOM;
			else
				return usage_error("--mode", optarg);
			break;
		case OPT_DIALECT:
			for (i = 0; i < SIM_DIALECT_MAX; i++) {
				if (strcmp(optarg, dialect_names[i]) == 0)
					break;
			}
			if (i == SIM_DIALECT_MAX)
				return usage_error("--dialect", optarg);
			cfg->dialect = (enum sim_dialect)i;
			break;
		case OPT_HTTP_CONNECT:
			/* Goes into a request line: no spaces or controls. */
			if (optarg[0] == '\0' || strlen(optarg) > 255 ||
			    strpbrk(optarg, " \t\r\n") != NULL)
				return usage_error("--http-connect", optarg);
			cfg->http_connect = optarg;
			break;
		case OPT_SUMMARY:
			cfg->summary = optarg;
			break;
		case OPT_ALLOW_FAILURES:
			cfg->allow_failures = true;
			break;
		case OPT_LOG_LEVEL:
			if ((level = log_level_parse(optarg)) < 0)
				return usage_error("--log-level", optarg);
			log_set_level((enum log_level)level);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind < argc)
		return usage_error("argument", argv[optind]);
	if (cfg->url == NULL) {
		fprintf(stderr, "loka-minersim: --url is required\n\n%s",
		    usage_text);
		return -1;
	}
	if (source_ips != NULL && parse_source_ips(source_ips, cfg) == -1)
		return usage_error("--source-ips", source_ips);
	if (parse_url(cfg->url, cfg) == -1)
		return -1;
	return 0;
}

/* Make room for one descriptor per miner if the hard limit allows. */
static void
raise_fd_limit(uint32_t miners)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)miners + FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < want)
		log_warnx(SIM_LOG, "open files limited to %llu: not every one "
		    "of %u miners can connect (raise ulimit -n)",
		    (unsigned long long)rl.rlim_cur, miners);
}

/* o[key] += n, for an integer member. */
static void
json_add(json_t *o, const char *key, uint64_t n)
{
	json_object_set_new(o, key, json_integer(json_integer_value(
	    json_object_get(o, key)) + (json_int_t)n));
}

static json_t *
summary_json(struct sim *sim, uint64_t sent, uint64_t accepted,
    uint64_t rejected)
{
	const struct stats *st = &sim->stats;
	json_t *o = json_object(), *workers = json_object(), *w;
	char user[256];
	uint32_t i;

	json_object_set_new(o, "miners", json_integer(sim->cfg.miners));
	json_object_set_new(o, "connected", json_integer(sim->connected));
	json_object_set_new(o, "handshakes", json_integer(sim->handshakes));
	json_object_set_new(o, "reconnects",
	    json_integer((json_int_t)sim->reconnects));
	json_object_set_new(o, "disconnects",
	    json_integer((json_int_t)sim->disconnects));
	json_object_set_new(o, "sent", json_integer((json_int_t)sent));
	json_object_set_new(o, "accepted", json_integer((json_int_t)accepted));
	json_object_set_new(o, "rejected", json_integer((json_int_t)rejected));
	json_object_set_new(o, "unanswered",
	    json_integer((json_int_t)(sent - accepted - rejected)));
	json_object_set_new(o, "rejected_codes", stats_rejects_json(st));
	json_object_set_new(o, "latency_us", json_pack("{s:I,s:I,s:I,s:I}",
	    "p50", (json_int_t)stats_latency_percentile(st, 0.50),
	    "p99", (json_int_t)stats_latency_percentile(st, 0.99),
	    "p999", (json_int_t)stats_latency_percentile(st, 0.999),
	    "max", (json_int_t)st->latency_max));
	for (i = 0; i < sim->cfg.miners; i++) {
		const struct miner *m = &sim->miners[i];

		sim_format_user(sim, i, user, sizeof(user));
		if ((w = json_object_get(workers, user)) == NULL) {
			w = json_pack("{s:i,s:i,s:i,s:f}", "sent", 0,
			    "accepted", 0, "rejected", 0,
			    "accepted_difficulty", 0.0);
			json_object_set_new(workers, user, w);
		}
		json_add(w, "sent", m->sent);
		json_add(w, "accepted", m->accepted);
		json_add(w, "rejected", m->rejected);
		json_object_set_new(w, "accepted_difficulty", json_real(
		    json_real_value(json_object_get(w,
		    "accepted_difficulty")) + m->accepted_diff));
	}
	json_object_set_new(o, "workers", workers);
	json_object_set_new(o, "version_rolled",
	    json_integer((json_int_t)sim->version_rolled));
	return o;
}

static int
write_summary(const char *path, json_t *o)
{
	char *tmp;
	int rc = 0;
	struct stat st;

	/* Not a regular file (a pipe, /dev/stdout): write it in place; a
	 * rename would replace the device node. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return json_dump_file(o, path, JSON_INDENT(2)) == -1 ? -1 : 0;
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	if (json_dump_file(o, tmp, JSON_INDENT(2)) == -1) {
		log_errorx(SIM_LOG, "cannot write %s", tmp);
		rc = -1;
	} else if (rename(tmp, path) == -1) {
		log_error(SIM_LOG, "rename %s -> %s", tmp, path);
		unlink(tmp);
		rc = -1;
	}
	free(tmp);
	return rc;
}

/* Summary line, summary file and exit status. */
static int
report(struct sim *sim, double elapsed)
{
	const struct sim_config *cfg = &sim->cfg;
	uint64_t sent = 0, accepted = 0, rejected = 0, unanswered;
	bool failed = false;
	json_t *o;
	uint32_t i;

	for (i = 0; i < cfg->miners; i++) {
		sent += sim->miners[i].sent;
		accepted += sim->miners[i].accepted;
		rejected += sim->miners[i].rejected;
	}
	unanswered = sent - accepted - rejected;
	printf("loka-minersim: %u miners, %u connected, %u handshakes, "
	    "%llu sent, %llu accepted, %llu rejected, %llu unanswered, "
	    "%llu reconnects, %llu disconnects; latency p50 %.3f ms p99 "
	    "%.3f ms max %.3f ms; %.2f s, %.1f shares/s",
	    cfg->miners, sim->connected, sim->handshakes,
	    (unsigned long long)sent, (unsigned long long)accepted,
	    (unsigned long long)rejected, (unsigned long long)unanswered,
	    (unsigned long long)sim->reconnects,
	    (unsigned long long)sim->disconnects,
	    (double)stats_latency_percentile(&sim->stats, 0.5) / 1e3,
	    (double)stats_latency_percentile(&sim->stats, 0.99) / 1e3,
	    (double)sim->stats.latency_max / 1e3, elapsed,
	    elapsed > 0 ? (double)(accepted + rejected) / elapsed : 0.0);
	if (cfg->mode == SIM_MODE_REAL)
		printf(", %.2f MH/s", elapsed > 0 ?
		    (double)sim->hashes / elapsed / 1e6 : 0.0);
	printf("\n");
	fflush(stdout);

	if (cfg->summary != NULL) {
		o = summary_json(sim, sent, accepted, rejected);
		if (write_summary(cfg->summary, o) == -1)
			failed = true;
		json_decref(o);
	}
	if (sim->connected < cfg->miners) {
		fprintf(stderr, "loka-minersim: %u of %u miners never "
		    "connected\n", cfg->miners - sim->connected, cfg->miners);
		failed = true;
	}
	if (sim->handshakes < cfg->miners) {
		fprintf(stderr, "loka-minersim: %u of %u miners never "
		    "completed the handshake\n",
		    cfg->miners - sim->handshakes, cfg->miners);
		failed = true;
	}
	if (unanswered > 0) {
		fprintf(stderr, "loka-minersim: %llu submits went "
		    "unanswered\n", (unsigned long long)unanswered);
		failed = true;
	}
	if (failed && cfg->allow_failures) {
		fprintf(stderr, "loka-minersim: failures allowed "
		    "(--allow-failures)\n");
		return 0;
	}
	return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct sim *sim = xcalloc(1, sizeof(*sim));
	struct timeval tv = { 0, 0 };
	uint32_t i;
	int status = 1;

	run.sim = sim;
	if ((status = parse_args(argc, argv, &sim->cfg)) != 0) {
		free(sim);
		return status > 0 ? 0 : EXIT_USAGE;
	}
	status = 1;
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(sim->cfg.miners);
	sim->rng = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)getpid() << 32 ^ sim_now_us();
	if (sim->rng == 0)
		sim->rng = 1;

	if ((sim->base = event_base_new()) == NULL) {
		log_errorx(SIM_LOG, "event_base_new failed");
		goto out;
	}
	run.start_ev = evtimer_new(sim->base, start_cb, sim);
	run.duration_ev = evtimer_new(sim->base, duration_cb, sim);
	run.drain_ev = evtimer_new(sim->base, drain_cb, sim);
	run.sigint_ev = evsignal_new(sim->base, SIGINT, signal_cb, sim);
	run.sigterm_ev = evsignal_new(sim->base, SIGTERM, signal_cb, sim);
	if (run.start_ev == NULL || run.duration_ev == NULL ||
	    run.drain_ev == NULL || run.sigint_ev == NULL ||
	    run.sigterm_ev == NULL || work_init(sim) == -1) {
		log_errorx(SIM_LOG, "cannot create events");
		goto out;
	}
	sim->miners = xcalloc(sim->cfg.miners, sizeof(*sim->miners));
	for (i = 0; i < sim->cfg.miners; i++) {
		if (miner_init(&sim->miners[i], sim, i) == -1) {
			log_errorx(SIM_LOG, "cannot set up miner %u", i);
			goto out;
		}
	}
	evsignal_add(run.sigint_ev, NULL);
	evsignal_add(run.sigterm_ev, NULL);
	if (sim->cfg.duration > 0.0) {
		tv_from_seconds(sim->cfg.duration, &tv);
		evtimer_add(run.duration_ev, &tv);
	}
	tv.tv_sec = tv.tv_usec = 0;
	evtimer_add(run.start_ev, &tv);

	log_info(SIM_LOG, "%u miners -> %s, %s mode, %s dialect, %.3g "
	    "shares/s each", sim->cfg.miners, sim->cfg.url,
	    sim->cfg.mode == SIM_MODE_REAL ? "real" : "random",
	    dialect_names[sim->cfg.dialect], sim->cfg.rate);
	sim->t_start_us = sim_now_us();
	event_base_dispatch(sim->base);
	status = report(sim, (double)(sim_now_us() - sim->t_start_us) / 1e6);

out:
	if (sim->miners != NULL) {
		for (i = 0; i < sim->cfg.miners; i++)
			miner_free(&sim->miners[i]);
		free(sim->miners);
	}
	work_free(sim);
	if (run.start_ev != NULL)
		event_free(run.start_ev);
	if (run.duration_ev != NULL)
		event_free(run.duration_ev);
	if (run.drain_ev != NULL)
		event_free(run.drain_ev);
	if (run.sigint_ev != NULL)
		event_free(run.sigint_ev);
	if (run.sigterm_ev != NULL)
		event_free(run.sigterm_ev);
	if (sim->base != NULL)
		event_base_free(sim->base);
	free(sim);
	return status;
}
