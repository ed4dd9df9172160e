/*
 * cli_api.c: the commands that ask a running instance (status, workers)
 * talk to its JSON API: a plain HTTP/1.0 GET with a timeout, no library.
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "util/xmalloc.h"

/* An answer larger than this is not the API's. */
#define CLI_API_BODY_MAX (16 * 1024 * 1024)
#define CLI_API_TIMEOUT_MS 5000

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

		if (poll(&pfd, 1, CLI_API_TIMEOUT_MS) <= 0) {
			snprintf(err, errlen, "%s:%s did not answer within %d s",
			    host, port, CLI_API_TIMEOUT_MS / 1000);
			goto fail;
		}
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > CLI_API_BODY_MAX) {
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

json_t *
cli_api_get(const char *prog, const char *host, const char *port,
    const char *path)
{
	char err[512], *body;
	json_error_t jerr;
	json_t *j;
	int status = 0;

	body = http_get(host, port, path, &status, err, sizeof(err));
	if (body == NULL) {
		fprintf(stderr, "loka-stratum %s: %s\n", prog, err);
		return NULL;
	}
	j = json_loads(body, 0, &jerr);
	free(body);
	if (j == NULL || status != 200) {
		fprintf(stderr, "loka-stratum %s: GET %s: HTTP %d%s%s\n",
		    prog, path, status, j != NULL ? ": " : " (not JSON)",
		    j != NULL && json_is_string(json_object_get(j, "error")) ?
		    json_string_value(json_object_get(j, "error")) : "");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Split http://HOST:PORT (or HOST:PORT, [v6]:PORT). */
int
cli_split_url(const char *url, char *host, size_t hlen, char *port, size_t plen)
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
cli_api_address(const char *prog, const char *config, const char *url,
    char *host, size_t hlen, char *port, size_t plen)
{
	struct cfg *c = NULL;
	int rc = 0;

	if (url == NULL) {
		c = cli_load_config(config, NULL);
		if (c == NULL)
			return -1;
		if (!c->metrics.enabled) {
			fprintf(stderr, "loka-stratum %s: [metrics] enabled is "
			    "false in %s: the instance has no API to ask\n",
			    prog, c->path);
			rc = -1;
		} else if (c->metrics.tls_cert_file[0] != '\0') {
			fprintf(stderr, "loka-stratum %s: the API is HTTPS "
			    "(%s): use curl https://%s/api/v1/\n", prog,
			    c->metrics.bind, c->metrics.bind);
			rc = -1;
		}
		url = c->metrics.bind;
	}
	if (rc == 0 && cli_split_url(url, host, hlen, port, plen) != 0) {
		fprintf(stderr, "loka-stratum %s: \"%s\" is not "
		    "http://HOST:PORT\n", prog, url);
		rc = -1;
	}
	cfg_free(c);
	return rc;
}
