/*
 * cmd_earnings.c: `earnings add`, `settle` and `distributions`: record a
 * pool's daily reward, share it among the workers, show the shares.
 *
 * Each command reads the configuration like `start` (-c FILE, else
 * loka-stratum.toml if present, else defaults and the environment) only
 * for the database URL, which --database replaces, opens its own
 * connection, does one thing (store/settle.c) and exits. Input is checked
 * before the database is touched, so a usage error (exit 2) never depends
 * on the database; anything the database says is a runtime error (exit 1).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "config/config.h"
#include "store/db.h"
#include "store/settle.h"
#include "util/xmalloc.h"

#define COMMON_OPTIONS \
    "  -c, --config FILE   configuration file for [database] url (default\n" \
    "                      " CFG_DEFAULT_PATH "; without one, defaults and "  \
    "the\n"                                                                   \
    "                      environment are used)\n"                          \
    "      --database URL  instead of [database] url\n"                      \
    "  -h, --help          this text\n"

static const char earnings_usage[] =
    "usage: loka-stratum earnings add --pool NAME --date YYYY-MM-DD "
    "--reward SATS\n"
    "                                 [--hashrate H] [-c FILE] "
    "[--database URL]\n"
    "\n"
    "Record what the pool paid for its day DATE: SATS satoshis (a whole "
    "number,\n"
    "0 to 2100000000000000). Recording a day again replaces it; run "
    "`settle`\n"
    "again afterwards to share the new amount.\n"
    "\n"
    "options:\n"
    "      --pool NAME     the pool, by its [[pools]] name\n"
    "      --date DATE     the pool's day, YYYY-MM-DD\n"
    "      --reward SATS   the reward in satoshis\n"
    "      --hashrate H    the hashrate the pool reported for the day "
    "(H/s;\n"
    "                      k, M, G, T, P, E suffixes allowed), for the "
    "record\n"
    COMMON_OPTIONS;

static const char settle_usage[] =
    "usage: loka-stratum settle --pool NAME --date YYYY-MM-DD [-c FILE] "
    "[--database URL]\n"
    "\n"
    "Share the pool's recorded reward for DATE among its workers in "
    "proportion\n"
    "to their accepted difficulty during the pool's day (DATE at the "
    "pool's\n"
    "settlement_time plus settlement_offset minutes, UTC, for 24 hours). "
    "The\n"
    "result replaces that day's distributions: settling again is "
    "harmless.\n"
    "\n"
    "options:\n"
    "      --pool NAME     the pool, by its [[pools]] name\n"
    "      --date DATE     the pool's day, YYYY-MM-DD\n"
    COMMON_OPTIONS;

static const char distributions_usage[] =
    "usage: loka-stratum distributions --pool NAME --date YYYY-MM-DD "
    "[--json]\n"
    "                                  [-c FILE] [--database URL]\n"
    "\n"
    "Print the pool's distributions for DATE (as written by `settle`): "
    "miner,\n"
    "worker, accepted difficulty, share and reward of each worker, and "
    "the total.\n"
    "\n"
    "options:\n"
    "      --pool NAME     the pool, by its [[pools]] name\n"
    "      --date DATE     the pool's day, YYYY-MM-DD\n"
    "      --json          a JSON array instead of a table\n"
    COMMON_OPTIONS;

enum earn_cmd {
	EARN_ADD = 0,
	EARN_SETTLE,
	EARN_DISTRIBUTIONS,
	EARN_CMD_MAX
};

struct earn_opts {
	enum earn_cmd cmd;
	const char *name;  /* for messages: "earnings add", "settle", ... */
	const char *usage;
	const char *config;
	const char *database;
	const char *pool;
	const char *date;
	const char *reward;
	const char *hashrate;
	int json;
	int64_t reward_sats;
	double hashrate_hs;
};

static int usage_error(const struct earn_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "loka-stratum CMD: message" and a pointer to --help; -1. */
static int
usage_error(const struct earn_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loka-stratum %s: ", o->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see `loka-stratum %s --help`)\n", o->name);
	return -1;
}

/* A whole number of satoshis: digits only, at most SETTLE_MAX_REWARD. */
static int
parse_reward(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > SETTLE_MAX_REWARD)
		return -1;
	*out = v;
	return 0;
}

/* A non-negative number of H/s with an optional k/M/G/T/P/E suffix. */
static int
parse_hashrate(const char *s, double *out)
{
	static const char suffixes[] = "kMGTPE";
	const char *p;
	char *end;
	double v, mul = 1;

	if ((s[0] < '0' || s[0] > '9') && s[0] != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		return -1;
	if (*end != '\0') {
		p = strchr(suffixes, *end);
		if (p == NULL || end[1] != '\0')
			return -1;
		for (const char *q = suffixes; q <= p; q++)
			mul *= 1000;
	}
	v *= mul;
	if (!isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* 0 ok, 1 --help printed, -1 usage error printed. */
static int
earn_parse(int argc, char **argv, struct earn_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "pool", required_argument, NULL, 'p' },
		{ "date", required_argument, NULL, 'D' },
		{ "reward", required_argument, NULL, 'r' },
		{ "hashrate", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t day;
	int ch;

	if (cli_wants_help(argc, argv)) {
		fputs(o->usage, stdout);
		return 1;
	}
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			o->database = optarg;
			break;
		case 'p':
			o->pool = optarg;
			break;
		case 'D':
			o->date = optarg;
			break;
		case 'r':
			if (o->cmd != EARN_ADD)
				return usage_error(o, "unknown option %s",
				    "--reward");
			o->reward = optarg;
			break;
		case 'H':
			if (o->cmd != EARN_ADD)
				return usage_error(o, "unknown option %s",
				    "--hashrate");
			o->hashrate = optarg;
			break;
		case 'j':
			if (o->cmd != EARN_DISTRIBUTIONS)
				return usage_error(o, "unknown option %s",
				    "--json");
			o->json = 1;
			break;
		case 'h':
			fputs(o->usage, stdout);
			return 1;
		case ':':
			return usage_error(o, "option %s needs a value",
			    argv[optind - 1]);
		default:
			return usage_error(o, "unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error(o, "unexpected argument \"%s\"",
		    argv[optind]);
	if (o->pool == NULL || o->pool[0] == '\0')
		return usage_error(o, "%s is required", "--pool NAME");
	if (o->date == NULL)
		return usage_error(o, "%s is required", "--date YYYY-MM-DD");
	if (settle_parse_day(o->date, &day) != 0)
		return usage_error(o, "invalid --date \"%s\": want YYYY-MM-DD, "
		    "a real calendar date from 1970", o->date);
	if (o->cmd == EARN_ADD) {
		if (o->reward == NULL)
			return usage_error(o, "%s is required",
			    "--reward SATS");
		if (parse_reward(o->reward, &o->reward_sats) != 0)
			return usage_error(o, "invalid --reward \"%s\": want a "
			    "whole number of satoshis from 0 to "
			    "2100000000000000", o->reward);
		o->hashrate_hs = NAN;
		if (o->hashrate != NULL &&
		    parse_hashrate(o->hashrate, &o->hashrate_hs) != 0)
			return usage_error(o, "invalid --hashrate \"%s\": want "
			    "a number of H/s >= 0 (suffix k, M, G, T, P or E "
			    "allowed)", o->hashrate);
	}
	return 0;
}

/*
 * Open the database named by the configuration or --database. Returns
 * NULL with *code set (2: configuration error, 1: cannot connect).
 */
static struct db *
earn_open_db(const struct earn_opts *o, int *code)
{
	struct db_migration_info *mig = NULL;
	struct db *db = NULL;
	struct cfg *c;
	char err[512];
	int n, applied = 0;

	*code = CLI_EXIT_USAGE;
	c = cli_load_config(o->config, o->database);
	if (c == NULL)
		goto out;
	*code = CLI_EXIT_FAILURE;
	db = db_open(c->database.url, c->database.connection_timeout_ms, err,
	    sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "loka-stratum %s: cannot open the database: "
		    "%s\n", o->name, err);
		goto out;
	}
	/* A database the proxy never ran on has no tables: say what to do
	 * instead of "no such table". */
	mig = xcalloc((size_t)db_migration_count() + 1, sizeof(*mig));
	n = db_migration_status(db, mig, (size_t)db_migration_count() + 1,
	    err, sizeof(err));
	for (int i = 0; i < n; i++)
		applied += mig[i].applied;
	if (n < 0 || applied == 0) {
		if (n < 0)
			fprintf(stderr, "loka-stratum %s: %s\n", o->name, err);
		else
			fprintf(stderr, "loka-stratum %s: the database has no "
			    "Loka schema yet: run `loka-stratum database "
			    "migrate` (or start the proxy) first\n", o->name);
		db_close(db);
		db = NULL;
		goto out;
	}
	*code = CLI_EXIT_OK;
out:
	free(mig);
	cfg_free(c);
	return db;
}

static void
fmt_utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

static int
run_add(const struct earn_opts *o, struct db *db)
{
	char err[512];

	if (settle_earnings_add(db, o->pool, o->date, o->reward_sats,
	    o->hashrate_hs, err, sizeof(err)) != 0) {
		fprintf(stderr, "loka-stratum earnings add: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	printf("recorded pool \"%s\", %s: %" PRId64 " sats", o->pool,
	    o->date, o->reward_sats);
	if (!isnan(o->hashrate_hs))
		printf(", hashrate %.6g H/s", o->hashrate_hs);
	printf("\n");
	return CLI_EXIT_OK;
}

static int
run_settle(const struct earn_opts *o, struct db *db)
{
	struct settle_summary s;
	char err[512], from[24], to[24];

	if (settle_run(db, o->pool, o->date, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "loka-stratum settle: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	fmt_utc(s.from, from, sizeof(from));
	fmt_utc(s.to, to, sizeof(to));
	printf("settled pool \"%s\", %s (%s to %s UTC): %zu worker%s, total "
	    "difficulty %.15g, %" PRId64 " sats distributed\n", o->pool,
	    o->date, from, to, s.workers, s.workers == 1 ? "" : "s",
	    s.total_difficulty, s.reward_sats);
	if (s.to > (int64_t)time(NULL))
		fprintf(stderr, "warning: the pool's day ends at %s UTC: shares "
		    "until then are not counted yet; settle again after it\n",
		    to);
	return CLI_EXIT_OK;
}

struct dist_row {
	char *miner;
	char *worker;
	double difficulty;
	double share;
	int64_t reward_sats;
};

struct dist_rows {
	struct dist_row *v;
	size_t n, cap;
};

static int
collect_row(void *arg, const struct settle_row *r)
{
	struct dist_rows *d = arg;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
	}
	d->v[d->n].miner = xstrdup(r->miner);
	d->v[d->n].worker = xstrdup(r->worker);
	d->v[d->n].difficulty = r->difficulty;
	d->v[d->n].share = r->share;
	d->v[d->n].reward_sats = r->reward_sats;
	d->n++;
	return 0;
}

static int
print_json(const struct dist_rows *d)
{
	json_t *a = json_array();
	int rc;

	for (size_t i = 0; i < d->n; i++) {
		const struct dist_row *r = &d->v[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:f, s:I}",
		    "miner", r->miner, "worker", r->worker,
		    "accepted_difficulty", r->difficulty, "share", r->share,
		    "reward_sats", (json_int_t)r->reward_sats));
	}
	rc = json_dumpf(a, stdout, JSON_INDENT(2));
	json_decref(a);
	printf("\n");
	return rc == 0 ? 0 : -1;
}

static void
print_table(const struct dist_rows *d)
{
	size_t wm = strlen("MINER"), ww = strlen("WORKER");
	long double diff = 0, share = 0;
	int64_t sats = 0;
	char total[32];

	snprintf(total, sizeof(total), "%zu worker%s", d->n,
	    d->n == 1 ? "" : "s");
	ww = strlen(total) > ww ? strlen(total) : ww;
	for (size_t i = 0; i < d->n; i++) {
		size_t m = strlen(d->v[i].miner), w = strlen(d->v[i].worker);

		wm = m > wm ? m : wm;
		ww = w > ww ? w : ww;
	}
	printf("%-*s  %-*s  %20s  %9s  %17s\n", (int)wm, "MINER", (int)ww,
	    "WORKER", "ACCEPTED DIFFICULTY", "SHARE", "REWARD (SATS)");
	for (size_t i = 0; i < d->n; i++) {
		const struct dist_row *r = &d->v[i];

		printf("%-*s  %-*s  %20.15g  %8.4f%%  %17" PRId64 "\n",
		    (int)wm, r->miner, (int)ww, r->worker, r->difficulty,
		    r->share * 100, r->reward_sats);
		diff += r->difficulty;
		share += r->share;
		sats += r->reward_sats;
	}
	printf("%-*s  %-*s  %20.15g  %8.4f%%  %17" PRId64 "\n", (int)wm,
	    "TOTAL", (int)ww, total, (double)diff, (double)share * 100,
	    sats);
}

static int
run_distributions(const struct earn_opts *o, struct db *db)
{
	struct dist_rows d = { 0 };
	char err[512];
	int rc = CLI_EXIT_OK;

	if (settle_list(db, o->pool, o->date, collect_row, &d, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "loka-stratum distributions: %s\n", err);
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	if (d.n == 0)
		fprintf(stderr, "loka-stratum distributions: pool \"%s\" has "
		    "no distributions for %s (run `loka-stratum settle --pool "
		    "%s --date %s`)\n", o->pool, o->date, o->pool, o->date);
	if (o->json) {
		if (print_json(&d) != 0)
			rc = CLI_EXIT_FAILURE;
	} else if (d.n > 0) {
		print_table(&d);
	}
out:
	for (size_t i = 0; i < d.n; i++) {
		free(d.v[i].miner);
		free(d.v[i].worker);
	}
	free(d.v);
	return rc;
}

static int
earn_main(struct earn_opts *o, int argc, char **argv)
{
	struct db *db;
	int rc;

	rc = earn_parse(argc, argv, o);
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	db = earn_open_db(o, &rc);
	if (db == NULL)
		return rc;
	switch (o->cmd) {
	case EARN_ADD:
		rc = run_add(o, db);
		break;
	case EARN_SETTLE:
		rc = run_settle(o, db);
		break;
	default:
		rc = run_distributions(o, db);
		break;
	}
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
		rc = CLI_EXIT_FAILURE;
	db_close(db);
	return rc;
}

int
cmd_earnings(int argc, char **argv)
{
	struct earn_opts o = { .cmd = EARN_ADD, .name = "earnings add",
		.usage = earnings_usage };

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--help") == 0)) {
			fputs(earnings_usage, stdout);
			return CLI_EXIT_OK;
		}
		if (argc >= 2)
			fprintf(stderr, "loka-stratum earnings: unknown "
			    "subcommand \"%s\"\n", argv[1]);
		fputs(earnings_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	return earn_main(&o, argc - 1, argv + 1);
}

int
cmd_settle(int argc, char **argv)
{
	struct earn_opts o = { .cmd = EARN_SETTLE, .name = "settle",
		.usage = settle_usage };

	return earn_main(&o, argc, argv);
}

int
cmd_distributions(int argc, char **argv)
{
	struct earn_opts o = { .cmd = EARN_DISTRIBUTIONS,
		.name = "distributions", .usage = distributions_usage };

	return earn_main(&o, argc, argv);
}
