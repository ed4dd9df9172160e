/*
 * main.c: loka-poolsim's command line, signals and event loop.
 *
 * Parses the options into a struct poolsim_opts, starts the pool (pool.c),
 * announces the bound port on stdout (and in --port-file) and runs the
 * loop until SIGTERM or SIGINT. Signals are libevent signal events, so
 * their handlers run on the loop like everything else:
 *   SIGTERM, SIGINT  write the summary, exit 0
 *   SIGUSR1          write the summary, keep running
 *   SIGHUP           broadcast a new block (a clean job) now
 *   SIGUSR2          send client.reconnect [] to every connection
 *
 * Fault modes (--silent, --no-authorize, --oversize-line) make it a pool
 * that misbehaves, for Loka's failover tests.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolsim.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define EXIT_USAGE	2

static const char poolsim_usage[] =
    "usage: loka-poolsim [options]\n"
    "\n"
    "A Stratum V1 test pool that validates every share.\n"
    "\n"
    "options:\n"
    "  --bind HOST:PORT          listen address (default 127.0.0.1:3334;\n"
    "                            port 0: any free port)\n"
    "  --port-file FILE          write the bound port number to FILE\n"
    "  --difficulty D            share difficulty sent after subscribe\n"
    "                            (default 0.001; fractional allowed)\n"
    "  --notify-interval SECONDS new job every SECONDS (default 30;\n"
    "                            0: never)\n"
    "  --clean-every N           every Nth periodic job is a new block\n"
    "                            (default 0: never)\n"
    "  --trust                   accept well-formed shares without hashing\n"
    "  --extranonce1-size N      extranonce1 bytes (default 4)\n"
    "  --extranonce2-size N      extranonce2 bytes (default 4)\n"
    "  --version-mask HEX        version-rolling mask offered (default\n"
    "                            1fffe000)\n"
    "  --summary FILE            JSON summary, written on SIGTERM/SIGINT\n"
    "                            (then exit) and SIGUSR1\n"
    "  --user-prefix PREFIX      refuse mining.authorize of other names\n"
    "  --reject-extranonce-subscribe\n"
    "                            close connections that send\n"
    "                            mining.extranonce.subscribe\n"
    "  --silent                  fault: accept connections, read them,\n"
    "                            never answer anything\n"
    "  --no-authorize            fault: answer everything but\n"
    "                            mining.authorize\n"
    "  --oversize-line           fault: after answering mining.subscribe,\n"
    "                            send one 10 MB line\n"
    "  --log-level LEVEL         error, warn, info (default), debug, trace\n"
    "  -h, --help                this text\n"
    "\n"
    "Signals: SIGUSR1 writes the summary, SIGHUP sends a new block,\n"
    "SIGUSR2 sends client.reconnect to every connection.\n";

static const char *const fault_names[POOLSIM_FAULT_MAX] = {
	[POOLSIM_FAULT_NONE] = "",
	[POOLSIM_FAULT_SILENT] = ", fault: silent",
	[POOLSIM_FAULT_NO_AUTHORIZE] = ", fault: no authorize",
	[POOLSIM_FAULT_OVERSIZE_LINE] = ", fault: oversize line",
};

struct poolsim_loop {
	struct event_base	*base;
	struct pool		*pool;
	struct stats		*stats;
	const struct poolsim_opts *o;
	int			 stop_signal;
};

static int
parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(*out))
		return -1;
	return 0;
}

static int
parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (*end != '\0' || errno != 0 || *out > max)
		return -1;
	return 0;
}

static int
parse_mask(const char *s, uint32_t *out)
{
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		s += 2;
	if (strlen(s) < 1 || strlen(s) > 8 ||
	    strspn(s, "0123456789abcdefABCDEF") != strlen(s))
		return -1;
	*out = (uint32_t)strtoul(s, NULL, 16);
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 on bad usage (printed). */
static int
poolsim_parse(int argc, char **argv, struct poolsim_opts *o, int *level)
{
	enum {
		OPT_BIND = 256, OPT_PORT_FILE, OPT_DIFFICULTY,
		OPT_NOTIFY_INTERVAL, OPT_CLEAN_EVERY, OPT_TRUST, OPT_EN1,
		OPT_EN2, OPT_MASK, OPT_SUMMARY, OPT_LOG_LEVEL, OPT_PREFIX,
		OPT_REJECT_XSUB, OPT_SILENT, OPT_NO_AUTHORIZE,
		OPT_OVERSIZE_LINE
	};
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "difficulty", required_argument, NULL, OPT_DIFFICULTY },
		{ "notify-interval", required_argument, NULL,
		    OPT_NOTIFY_INTERVAL },
		{ "clean-every", required_argument, NULL, OPT_CLEAN_EVERY },
		{ "trust", no_argument, NULL, OPT_TRUST },
		{ "extranonce1-size", required_argument, NULL, OPT_EN1 },
		{ "extranonce2-size", required_argument, NULL, OPT_EN2 },
		{ "version-mask", required_argument, NULL, OPT_MASK },
		{ "summary", required_argument, NULL, OPT_SUMMARY },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "user-prefix", required_argument, NULL, OPT_PREFIX },
		{ "reject-extranonce-subscribe", no_argument, NULL,
		    OPT_REJECT_XSUB },
		{ "silent", no_argument, NULL, OPT_SILENT },
		{ "no-authorize", no_argument, NULL, OPT_NO_AUTHORIZE },
		{ "oversize-line", no_argument, NULL, OPT_OVERSIZE_LINE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long n;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_BIND: {
			const char *port = strrchr(optarg, ':');

			if (port == NULL || parse_ulong(port + 1, 65535,
			    &n) == -1) {
				fprintf(stderr, "loka-poolsim: --bind: expected "
				    "HOST:PORT\n");
				return -1;
			}
			o->bind = optarg;
			break;
		}
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_DIFFICULTY:
			if (parse_double(optarg, &o->difficulty) == -1 ||
			    o->difficulty < POOLSIM_DIFF_MIN ||
			    o->difficulty > POOLSIM_DIFF_MAX) {
				fprintf(stderr, "loka-poolsim: --difficulty: "
				    "expected a number in [%g, %g]\n",
				    POOLSIM_DIFF_MIN, POOLSIM_DIFF_MAX);
				return -1;
			}
			break;
		case OPT_NOTIFY_INTERVAL:
			/* Up to a year: keeps the timeval conversion sane. */
			if (parse_double(optarg, &o->notify_interval) == -1 ||
			    o->notify_interval < 0 ||
			    o->notify_interval > 31536000) {
				fprintf(stderr, "loka-poolsim: "
				    "--notify-interval: expected seconds >= 0\n");
				return -1;
			}
			break;
		case OPT_CLEAN_EVERY:
			if (parse_ulong(optarg, 1000000000UL,
			    &o->clean_every) == -1) {
				fprintf(stderr, "loka-poolsim: --clean-every: "
				    "expected a count\n");
				return -1;
			}
			break;
		case OPT_TRUST:
			o->trust = true;
			break;
		case OPT_EN1:
		case OPT_EN2:
			if (parse_ulong(optarg, SHARE_EXTRANONCE_MAX, &n) == -1
			    || n == 0) {
				fprintf(stderr, "loka-poolsim: --%s: expected "
				    "1 to %d bytes\n", ch == OPT_EN1 ?
				    "extranonce1-size" : "extranonce2-size",
				    SHARE_EXTRANONCE_MAX);
				return -1;
			}
			if (ch == OPT_EN1)
				o->en1_size = n;
			else
				o->en2_size = n;
			break;
		case OPT_MASK:
			if (parse_mask(optarg, &o->version_mask) == -1) {
				fprintf(stderr, "loka-poolsim: --version-mask: "
				    "expected up to 8 hex digits\n");
				return -1;
			}
			break;
		case OPT_SUMMARY:
			o->summary_path = optarg;
			break;
		case OPT_LOG_LEVEL:
			if ((*level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "loka-poolsim: --log-level: "
				    "unknown level \"%s\"\n", optarg);
				return -1;
			}
			break;
		case OPT_PREFIX:
			o->user_prefix = optarg;
			break;
		case OPT_REJECT_XSUB:
			o->reject_extranonce_subscribe = true;
			break;
		case OPT_SILENT:
			o->fault = POOLSIM_FAULT_SILENT;
			break;
		case OPT_NO_AUTHORIZE:
			o->fault = POOLSIM_FAULT_NO_AUTHORIZE;
			break;
		case OPT_OVERSIZE_LINE:
			o->fault = POOLSIM_FAULT_OVERSIZE_LINE;
			break;
		case 'h':
			fputs(poolsim_usage, stdout);
			return 1;
		default:
			fputs(poolsim_usage, stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "loka-poolsim: unexpected argument \"%s\"\n%s",
		    argv[optind], poolsim_usage);
		return -1;
	}
	return 0;
}

/* Write "port\n" to path atomically (tests poll for the file). */
static int
write_port_file(const char *path, int port)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (f == NULL) {
		log_error("poolsim", "--port-file %s", tmp);
		goto out;
	}
	if (fprintf(f, "%d\n", port) < 0 || fclose(f) == EOF) {
		log_error("poolsim", "--port-file %s", tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) == -1) {
		log_error("poolsim", "--port-file: rename to %s", path);
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static void
poolsim_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct poolsim_loop *l = arg;

	switch (sig) {
	case SIGUSR1:
		log_info("poolsim", "SIGUSR1: writing the summary");
		if (l->o->summary_path != NULL)
			stats_write(l->stats, l->o->summary_path);
		break;
	case SIGHUP:
		log_info("poolsim", "SIGHUP: new block");
		pool_new_block(l->pool);
		break;
	case SIGUSR2:
		log_info("poolsim", "SIGUSR2: asking every client to "
		    "reconnect");
		pool_reconnect_all(l->pool);
		break;
	default:
		l->stop_signal = (int)sig;
		event_base_loopbreak(l->base);
		break;
	}
}

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2,
		SIGHUP };
	struct event *ev[sizeof(sigs) / sizeof(sigs[0])] = { NULL };
	struct poolsim_opts o = {
		.bind = "127.0.0.1:3334",
		.difficulty = 0.001,
		.notify_interval = 30,
		.en1_size = 4,
		.en2_size = 4,
		.version_mask = 0x1fffe000,
	};
	struct poolsim_loop l = { .o = &o };
	char addr[128];
	int level = LOG_INFO, port, rc = 1;

	switch (poolsim_parse(argc, argv, &o, &level)) {
	case 1:
		return 0;
	case -1:
		return EXIT_USAGE;
	}
	log_set_level((enum log_level)level);
	/* A client that goes away must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if ((l.base = event_base_new()) == NULL) {
		log_errorx("poolsim", "cannot create the event loop");
		return 1;
	}
	l.stats = stats_new();
	if ((l.pool = pool_new(l.base, &o, l.stats)) == NULL)
		goto out;
	if ((port = pool_listen(l.pool, addr, sizeof(addr))) == -1)
		goto out;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev[i] = evsignal_new(l.base, sigs[i], poolsim_on_signal, &l);
		if (ev[i] == NULL || evsignal_add(ev[i], NULL) != 0) {
			log_errorx("poolsim", "cannot watch signal %d",
			    sigs[i]);
			goto out;
		}
	}
	if (o.port_file != NULL && write_port_file(o.port_file, port) == -1)
		goto out;
	printf("loka-poolsim listening on %s\n", addr);
	fflush(stdout);
	log_info("poolsim", "listening on %s (pid %ld): difficulty %g, "
	    "extranonce %zu+%zu, version mask %08x%s%s", addr, (long)getpid(),
	    o.difficulty, o.en1_size, o.en2_size, (unsigned)o.version_mask,
	    o.trust ? ", trusting shares" : "", fault_names[o.fault]);

	if (event_base_dispatch(l.base) < 0) {
		log_errorx("poolsim", "event loop failed");
		goto out;
	}
	log_info("poolsim", "%s received, stopping",
	    l.stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
	if (o.summary_path != NULL && stats_write(l.stats, o.summary_path)
	    == -1)
		rc = 1;
out:
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (ev[i] != NULL)
			event_free(ev[i]);
	pool_free(l.pool);
	stats_free(l.stats);
	event_base_free(l.base);
	return rc;
}
