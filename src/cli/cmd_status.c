/*
 * cmd_status.c: `loka-stratum status`, `loka-stratum workers` and
 * `loka-stratum health`: a running instance at a glance, its workers by
 * state, and its liveness or readiness as an exit status (a container's
 * HEALTHCHECK, with no curl in the image), through its JSON API (the
 * [metrics] listener; cli_api.c).
 *
 * The address comes from the configuration (-c FILE, else
 * loka-stratum.toml when present, else defaults and the environment) or
 * --url http://HOST:PORT. Plain HTTP on loopback or a trusted network;
 * an HTTPS listener is reported as such (use curl there).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "config/config.h"
#include "util/xmalloc.h"

static const char status_usage[] =
    "usage: loka-stratum status [-c FILE] [--url http://HOST:PORT] [--json]\n"
    "\n"
    "A running Loka at a glance, from its API: miners connected, hashrate,\n"
    "shares, each pool's state, the database and the journal.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  configuration file: where the API listens\n"
    "                     ([metrics] bind; default " CFG_DEFAULT_PATH
    " when it exists)\n"
    "      --url URL      the API's address instead, http://HOST:PORT\n"
    "      --json         the API's answers as they are\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 ok, 1 the instance cannot be reached or answers with an\n"
    "error, 2 usage or configuration error.\n";

static const char *
si(double v, char *buf, size_t len, const char *unit)
{
	static const char *const p[] = { "", "k", "M", "G", "T", "P", "E" };
	int i = 0;

	while (v >= 1000 && i < 6) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, "%.2f %s%s", v, p[i], unit);
	return buf;
}

static void
print_status(json_t *st, json_t *pools)
{
	json_t *conn = json_object_get(st, "connections");
	json_t *sh = json_object_get(st, "shares");
	json_t *db = json_object_get(st, "database");
	json_int_t up = json_integer_value(json_object_get(st,
	    "uptime_seconds"));
	json_int_t acc = json_integer_value(json_object_get(sh, "accepted"));
	json_int_t rej = json_integer_value(json_object_get(sh, "rejected"));
	char b[32];
	json_t *p;
	size_t i;

	printf("Loka %s, up %lldd %02lldh %02lldm\n",
	    json_string_value(json_object_get(st, "version")),
	    (long long)(up / 86400), (long long)(up / 3600 % 24),
	    (long long)(up / 60 % 60));
	if (json_string_value(json_object_get(pools, "mode")) != NULL)
		printf("mode:      %s\n", json_string_value(json_object_get(
		    pools, "mode")));
	printf("miners:    %lld connected (limit %lld)\n",
	    (long long)json_integer_value(json_object_get(conn, "active")),
	    (long long)json_integer_value(json_object_get(conn, "limit")));
	printf("hashrate:  %s\n", si(json_number_value(json_object_get(st,
	    "hashrate")), b, sizeof(b), "H/s"));
	printf("shares:    %lld accepted, %lld rejected (%.2f %%)\n",
	    (long long)acc, (long long)rej, acc + rej > 0 ?
	    100.0 * (double)rej / (double)(acc + rej) : 0.0);
	json_array_foreach(json_object_get(pools, "pools"), i, p) {
		bool pu = json_is_true(json_object_get(p, "up"));

		json_t *u = json_object_get(p, "upstream");

		printf("%-10s %s: %s, breaker %s, %lld connections, %s",
		    i == 0 ? "pools:" : "", json_string_value(
		    json_object_get(p, "name")), pu ? "up" : "DOWN",
		    json_string_value(json_object_get(p, "breaker")),
		    (long long)json_integer_value(json_object_get(p,
		    "connections")), si(json_number_value(json_object_get(p,
		    "hashrate")), b, sizeof(b), "H/s"));
		/* Aggregate mode: the shared connection. */
		if (json_is_object(u))
			printf(", shared connection %s%s",
			    json_string_value(json_object_get(u, "state")),
			    json_is_true(json_object_get(u, "active")) ?
			    " (miners work for it)" : "");
		putchar('\n');
	}
	if (json_array_size(json_object_get(pools, "pools")) == 0)
		printf("pools:     none configured\n");
	if (json_is_true(json_object_get(db, "up")))
		printf("database:  up (queue %lld, journal %s)\n",
		    (long long)json_integer_value(json_object_get(db,
		    "queue_depth")), si((double)json_integer_value(
		    json_object_get(db, "journal_bytes")), b, sizeof(b), "B"));
	else
		printf("database:  %s: %s\n", json_is_true(json_object_get(db,
		    "refused")) ? "REFUSED" : "DOWN", json_string_value(
		    json_object_get(db, "reason")) != NULL ? json_string_value(
		    json_object_get(db, "reason")) : "?");
	if (json_object_get(db, "journal_ok") != NULL &&
	    !json_is_true(json_object_get(db, "journal_ok")))
		printf("journal:   FAILING: share events wait in memory "
		    "(disk full?)\n");
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *url = NULL;
	char host[256], port[16];
	bool as_json = false;
	json_t *st, *pools;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			fputs(status_usage, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(status_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "loka-stratum status: unexpected argument "
		    "\"%s\"\n%s", argv[optind], status_usage);
		return CLI_EXIT_USAGE;
	}
	if (cli_api_address("status", config, url, host, sizeof(host), port,
	    sizeof(port)) != 0)
		return CLI_EXIT_USAGE;
	st = cli_api_get("status", host, port, "/api/v1/status");
	pools = st != NULL ? cli_api_get("status", host, port,
	    "/api/v1/pools") : NULL;
	if (st == NULL || pools == NULL) {
		json_decref(st);
		return CLI_EXIT_FAILURE;
	}
	if (as_json) {
		json_t *all = json_pack("{s:O,s:O,s:O?}", "status", st,
		    "pools", json_object_get(pools, "pools"), "mode",
		    json_object_get(pools, "mode"));

		json_dumpf(all, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(all);
	} else {
		print_status(st, pools);
	}
	json_decref(st);
	json_decref(pools);
	return CLI_EXIT_OK;
}

static const char workers_usage[] =
    "usage: loka-stratum workers [-c FILE] [--url http://HOST:PORT]\n"
    "                            [--offline | --slow | --state STATE] [--json]\n"
    "\n"
    "The workers of the books by state (online, slow, offline), offline and\n"
    "slow first, the longest in their state first: what has stopped or\n"
    "slowed down, and since when.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  configuration file: where the API listens\n"
    "      --url URL      the API's address instead, http://HOST:PORT\n"
    "      --offline      only the offline workers (--slow: the slow ones)\n"
    "      --state STATE  online, slow, offline or all (default all)\n"
    "      --json         the API's answer as it is\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 ok, 1 the instance cannot be reached or answers with an\n"
    "error, 2 usage or configuration error.\n";

static void
ago(int64_t s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s / 60 % 60));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

int
cmd_workers(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		{ "offline", no_argument, NULL, 'o' },
		{ "slow", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *url = NULL, *state = "all";
	char host[256], port[16], *path;
	bool as_json = false;
	json_t *j, *w;
	size_t i;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'o':
			state = "offline";
			break;
		case 'w':
			state = "slow";
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			fputs(workers_usage, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(workers_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc || (strcmp(state, "all") != 0 &&
	    strcmp(state, "online") != 0 && strcmp(state, "slow") != 0 &&
	    strcmp(state, "offline") != 0)) {
		fprintf(stderr, "loka-stratum workers: %s\n%s", optind != argc ?
		    "unexpected argument" : "--state is online, slow, offline "
		    "or all", workers_usage);
		return CLI_EXIT_USAGE;
	}
	if (cli_api_address("workers", config, url, host, sizeof(host), port,
	    sizeof(port)) != 0)
		return CLI_EXIT_USAGE;
	path = xasprintf("/api/v1/workers?state=%s&per_page=1000", state);
	j = cli_api_get("workers", host, port, path);
	free(path);
	if (j == NULL)
		return CLI_EXIT_FAILURE;
	if (as_json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
		return CLI_EXIT_OK;
	}
	{
		json_t *c = json_object_get(j, "counts");

		printf("%lld online, %lld slow, %lld offline\n",
		    (long long)json_integer_value(json_object_get(c, "online")),
		    (long long)json_integer_value(json_object_get(c, "slow")),
		    (long long)json_integer_value(json_object_get(c,
		    "offline")));
	}
	if (json_array_size(json_object_get(j, "workers")) > 0)
		printf("%-8s %-9s %-40s %-12s %s\n", "STATE", "FOR", "WORKER",
		    "HASHRATE", "24 H");
	json_array_foreach(json_object_get(j, "workers"), i, w) {
		char who[300], b1[32], b2[32], since[32];
		int64_t now = (int64_t)time(NULL);

		snprintf(who, sizeof(who), "%s / %s.%s", json_string_value(
		    json_object_get(w, "pool")), json_string_value(
		    json_object_get(w, "miner")), json_string_value(
		    json_object_get(w, "worker")));
		ago(now - json_integer_value(json_object_get(w, "since")), since,
		    sizeof(since));
		printf("%-8s %-9s %-40s %-12s %s\n", json_string_value(
		    json_object_get(w, "state")), since, who,
		    si(json_number_value(json_object_get(w, "hashrate")), b1,
		    sizeof(b1), "H/s"), si(json_number_value(json_object_get(w,
		    "hashrate_24h")), b2, sizeof(b2), "H/s"));
	}
	if (json_integer_value(json_object_get(j, "total")) >
	    (json_int_t)json_array_size(json_object_get(j, "workers")))
		printf("... and %lld more (--json, or the API's page and "
		    "per_page)\n", (long long)(json_integer_value(
		    json_object_get(j, "total")) - (json_int_t)json_array_size(
		    json_object_get(j, "workers"))));
	json_decref(j);
	return CLI_EXIT_OK;
}

static const char health_usage[] =
    "usage: loka-stratum health [-c FILE] [--url http://HOST:PORT] [--ready]\n"
    "\n"
    "Ask a running Loka whether it is alive (GET /health) or, with --ready,\n"
    "ready for miners (GET /ready: a usable pool, books that can be kept).\n"
    "For a container's HEALTHCHECK or a script: the answer is printed, the\n"
    "exit status says it.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  configuration file: where the API listens\n"
    "      --url URL      the API's address instead, http://HOST:PORT\n"
    "      --ready        readiness (/ready) instead of liveness (/health)\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 healthy (HTTP 200), 1 unreachable or not healthy, 2 usage\n"
    "or configuration error.\n";

int
cmd_health(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "ready", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *url = NULL, *path = "/health";
	char host[256], port[16];
	json_t *j;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'r':
			path = "/ready";
			break;
		case 'h':
			fputs(health_usage, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(health_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "loka-stratum health: unexpected argument "
		    "\"%s\"\n%s", argv[optind], health_usage);
		return CLI_EXIT_USAGE;
	}
	if (cli_api_address("health", config, url, host, sizeof(host), port,
	    sizeof(port)) != 0)
		return CLI_EXIT_USAGE;
	/* A non-200 answer is printed to stderr by cli_api_get. */
	j = cli_api_get("health", host, port, path);
	if (j == NULL)
		return CLI_EXIT_FAILURE;
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
	return CLI_EXIT_OK;
}
