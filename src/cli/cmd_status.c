/*
 * cmd_status.c: `loka-stratum status`: a running instance at a glance,
 * through its JSON API (the [metrics] listener): miners, hashrate, shares,
 * pools, the books.
 *
 * The address comes from the configuration (-c FILE, else
 * loka-stratum.toml when present, else defaults and the environment) or
 * --url http://HOST:PORT. Plain HTTP on loopback or a trusted network;
 * an HTTPS listener is reported as such (use curl there).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "util/xmalloc.h"

/* An answer larger than this is not the status API's. */
#define STATUS_BODY_MAX (4 * 1024 * 1024)
#define STATUS_TIMEOUT_MS 5000

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

/* GET path from host:port; the body (NUL-terminated) and the status. */
static char *
http_get(const char *host, const char *port, const char *path, int *status,
    char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL, *a;
	char *req, *buf = NULL, *body;
	size_t len = 0, cap = 0;
	int fd = -1, rc;

	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s:%s: %s", host, port,
		    gai_strerror(rc));
		return NULL;
	}
	for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			snprintf(err, errlen, "cannot reach %s:%s: %s (is Loka "
			    "running, with [metrics] enabled?)", host, port,
			    strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return NULL;
	req = xasprintf("GET %s HTTP/1.0\r\nHost: %s:%s\r\nAccept: "
	    "application/json\r\nConnection: close\r\n\r\n", path, host, port);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		snprintf(err, errlen, "%s:%s: %s", host, port, strerror(errno));
		goto fail;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, STATUS_TIMEOUT_MS) <= 0) {
			snprintf(err, errlen, "%s:%s did not answer within %d s",
			    host, port, STATUS_TIMEOUT_MS / 1000);
			goto fail;
		}
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > STATUS_BODY_MAX) {
				snprintf(err, errlen, "%s:%s: answer too large",
				    host, port);
				goto fail;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	free(req);
	if (buf == NULL) {
		snprintf(err, errlen, "%s:%s closed without answering (an HTTPS "
		    "listener?)", host, port);
		return NULL;
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/%*d.%*d %d", status) != 1 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL) {
		snprintf(err, errlen, "%s:%s does not speak HTTP (an HTTPS "
		    "listener?)", host, port);
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
fail:
	close(fd);
	free(req);
	free(buf);
	return NULL;
}

/* GET an API path as JSON; NULL with a message printed. */
static json_t *
api_get(const char *host, const char *port, const char *path)
{
	char err[512], *body;
	json_error_t jerr;
	json_t *j;
	int status = 0;

	body = http_get(host, port, path, &status, err, sizeof(err));
	if (body == NULL) {
		fprintf(stderr, "loka-stratum status: %s\n", err);
		return NULL;
	}
	j = json_loads(body, 0, &jerr);
	free(body);
	if (j == NULL || status != 200) {
		fprintf(stderr, "loka-stratum status: GET %s: HTTP %d%s%s\n",
		    path, status, j != NULL ? ": " : " (not JSON)",
		    j != NULL && json_is_string(json_object_get(j, "error")) ?
		    json_string_value(json_object_get(j, "error")) : "");
		json_decref(j);
		return NULL;
	}
	return j;
}

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

		printf("%-10s %s: %s, breaker %s, %lld connections, %s\n",
		    i == 0 ? "pools:" : "", json_string_value(
		    json_object_get(p, "name")), pu ? "up" : "DOWN",
		    json_string_value(json_object_get(p, "breaker")),
		    (long long)json_integer_value(json_object_get(p,
		    "connections")), si(json_number_value(json_object_get(p,
		    "hashrate")), b, sizeof(b), "H/s"));
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

/* Split http://HOST:PORT (or HOST:PORT, [v6]:PORT). */
static int
split_url(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *h = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
	const char *end = h + strcspn(h, "/"), *colon;

	if (strncmp(url, "https://", 8) == 0)
		return -1;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (rb == NULL || rb[1] != ':')
			return -1;
		snprintf(host, hlen, "%.*s", (int)(rb - h - 1), h + 1);
		colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		if (colon == NULL)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - h), h);
	}
	snprintf(port, plen, "%.*s", (int)(end - colon - 1), colon + 1);
	if (strcmp(host, "0.0.0.0") == 0)
		snprintf(host, hlen, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, hlen, "::1");
	return host[0] != '\0' && port[0] != '\0' ? 0 : -1;
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
	struct cfg *c = NULL;
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
	if (url == NULL) {
		c = cli_load_config(config, NULL);
		if (c == NULL)
			return CLI_EXIT_USAGE;
		if (!c->metrics.enabled) {
			fprintf(stderr, "loka-stratum status: [metrics] enabled "
			    "is false in %s: the instance has no API to ask\n",
			    c->path);
			cfg_free(c);
			return CLI_EXIT_USAGE;
		}
		if (c->metrics.tls_cert_file[0] != '\0') {
			fprintf(stderr, "loka-stratum status: the API is HTTPS "
			    "(%s): use curl https://%s/api/v1/status\n",
			    c->metrics.bind, c->metrics.bind);
			cfg_free(c);
			return CLI_EXIT_USAGE;
		}
		url = c->metrics.bind;
	}
	if (split_url(url, host, sizeof(host), port, sizeof(port)) != 0) {
		fprintf(stderr, "loka-stratum status: \"%s\" is not "
		    "http://HOST:PORT\n", url);
		cfg_free(c);
		return CLI_EXIT_USAGE;
	}
	cfg_free(c);
	st = api_get(host, port, "/api/v1/status");
	pools = st != NULL ? api_get(host, port, "/api/v1/pools") : NULL;
	if (st == NULL || pools == NULL) {
		json_decref(st);
		return CLI_EXIT_FAILURE;
	}
	if (as_json) {
		json_t *all = json_pack("{s:O,s:O}", "status", st, "pools",
		    json_object_get(pools, "pools"));

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
