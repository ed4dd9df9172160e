/*
 * cmd_start.c: `loka-stratum start`: load the configuration, apply the
 * command-line overrides, set up logging, and run until SIGTERM/SIGINT.
 *
 * The main thread owns configuration and signals; the proxy's worker
 * threads hang off this loop as they are built.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "proxy/proxy.h"
#include "util/log.h"
#include "util/xmalloc.h"

static const char start_usage[] =
    "usage: loka-stratum start [options]\n"
    "\n"
    "Run the proxy until SIGTERM or SIGINT.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE     configuration file (default " CFG_DEFAULT_PATH
    "; without\n"
    "                        one, defaults and the environment are used)\n"
    "      --bind ADDR       listen on ADDR (host:port) instead of [server] "
    "bind;\n"
    "                        repeat for several addresses\n"
    "      --pool URL        use this one pool instead of [[pools]]:\n"
    "                        stratum+tcp://[user[:password]@]host:port\n"
    "                        (stratum+ssl:// for TLS)\n"
    "      --database URL    instead of [database] url\n"
    "      --no-migrate      do not apply pending database migrations\n"
    "      --log-format FMT  text or json, instead of [logging] format\n"
    "  -v, --verbose         more log detail (-v debug, -vv trace)\n"
    "  -h, --help            this text\n";

struct start_opts {
	const char *config;
	char *bind; /* comma-joined --bind values */
	const char *pool;
	const char *database;
	const char *log_format;
	int verbose;
	int no_migrate;
};

static int
start_parse(int argc, char **argv, struct start_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "bind", required_argument, NULL, 'b' },
		{ "pool", required_argument, NULL, 'p' },
		{ "database", required_argument, NULL, 'd' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "no-migrate", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'b': {
			char *n = o->bind == NULL ? xstrdup(optarg) :
			    xasprintf("%s,%s", o->bind, optarg);

			free(o->bind);
			o->bind = n;
			break;
		}
		case 'p':
			o->pool = optarg;
			break;
		case 'd':
			o->database = optarg;
			break;
		case 'f':
			o->log_format = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'M':
			o->no_migrate = 1;
			break;
		case 'h':
			fputs(start_usage, stdout);
			return 1;
		default:
			fputs(start_usage, stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "loka-stratum start: unexpected argument "
		    "\"%s\"\n%s", argv[optind], start_usage);
		return -1;
	}
	return 0;
}

/*
 * Load the file and apply flags. Returns NULL (errors printed) on failure;
 * warnings are left in *warns for the caller to log once logging is set up.
 */
static struct cfg *
start_config(const struct start_opts *o, struct cfg_diag *warns)
{
	struct cfg_diag errs = { 0 };
	const char *path = o->config;
	struct cfg *c;
	int bad = 0;

	if (path == NULL && access(CFG_DEFAULT_PATH, F_OK) == 0)
		path = CFG_DEFAULT_PATH;
	c = cfg_load_file(path, &errs, warns);
	if (c != NULL) {
		if (o->bind != NULL)
			bad |= cfg_override(c, "--bind", "server", "bind",
			    o->bind, &errs);
		if (o->database != NULL)
			bad |= cfg_override(c, "--database", "database", "url",
			    o->database, &errs);
		if (o->log_format != NULL)
			bad |= cfg_override(c, "--log-format", "logging",
			    "format", o->log_format, &errs);
		if (o->pool != NULL)
			bad |= cfg_set_single_pool(c, "--pool", o->pool, &errs);
		if (o->no_migrate)
			bad |= cfg_override(c, "--no-migrate", "database",
			    "auto_migrate", "false", &errs);
	}
	/* Secrets first, so that nothing below can print them. */
	if (c != NULL)
		cfg_register_secrets(c);
	if (c == NULL || bad) {
		cli_print_diag(&errs, "error: ");
		cfg_free(c);
		c = NULL;
	}
	cfg_diag_free(&errs);
	return c;
}

static void
start_log_config(const struct cfg *c)
{
	char *db = cfg_mask_url(c->database.url);
	char binds[512];
	size_t off = 0;

	binds[0] = '\0';
	for (size_t i = 0; i < c->server.bind.n && off < sizeof(binds); i++)
		off += (size_t)snprintf(binds + off, sizeof(binds) - off,
		    "%s%s", i ? "," : "", c->server.bind.v[i]);
	log_info("main", "loka-stratum %s starting: config %s", LOKA_VERSION,
	    c->path);
	log_info("config", "bind %s, max_connections %lld, "
	    "connection_timeout %llds, worker_threads %lld%s", binds,
	    (long long)c->server.max_connections,
	    (long long)(c->server.connection_timeout_ms / 1000),
	    (long long)c->performance.worker_threads,
	    c->performance.worker_threads == 0 ? " (one per core)" : "");
	for (size_t i = 0; i < c->npools; i++) {
		const struct cfg_pool *p = &c->pools[i];

		log_info("config", "pool %s: %s, account \"%s\", password %s, "
		    "priority %lld%s", p->name, p->url, p->username,
		    p->password[0] ? "set" : "from miners",
		    (long long)p->priority, p->enabled ? "" : ", disabled");
	}
	log_info("config", "database %s", db);
	if (c->metrics.enabled)
		log_info("config", "metrics and API on %s", c->metrics.bind);
	else
		log_info("config", "metrics and API disabled");
	free(db);
}

int
cmd_start(int argc, char **argv)
{
	struct start_opts o = { 0 };
	struct cfg_diag warns = { 0 };
	struct cfg *c;
	int rc, level;

	rc = start_parse(argc, argv, &o);
	if (rc != 0) {
		free(o.bind);
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	c = start_config(&o, &warns);
	free(o.bind);
	if (c == NULL) {
		cli_print_diag(&warns, "warning: ");
		cfg_diag_free(&warns);
		return CLI_EXIT_USAGE;
	}
	level = c->logging.level + o.verbose;
	log_set_level(level < LOG_LEVEL_MAX ? level : LOG_TRACE);
	log_set_format(c->logging.format);
	for (size_t i = 0; i < warns.n; i++)
		log_warnx("config", "%s", warns.lines[i]);
	cfg_diag_free(&warns);
	if (c->npools == 0)
		log_warnx("config", "no pool configured: add a [[pools]] entry "
		    "to %s, or pass --pool URL", c->path);
	start_log_config(c);
	rc = proxy_run(c);
	log_info("main", "stopped");
	cfg_free(c);
	return rc;
}
