/*
 * api.c: evhttp on its own thread (see api.h).
 *
 * Routes: GET /metrics and /metrics/prometheus render the registry in the
 * Prometheus text format; GET /health answers 200 while the process
 * runs; /ready, /health/pool and /health/database ask the proxy's check
 * function (200 or 503 with a JSON reason). Anything else gets a JSON 404 (or 405 for another method). The
 * registry is read with relaxed atomics and callbacks; nothing here locks
 * anything the worker threads use.
 */
#include "api/api.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "metrics/registry.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct api {
	struct event_base *base;
	struct evhttp *http;
	struct metrics_registry *reg;
	api_check_fn check;
	void *check_arg;
	pthread_t thread;
	struct event *stop;
};

static void
api_json(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

/* The health check a path names, or -1. */
static int
api_route_check(const char *path)
{
	static const char *const paths[API_CHECK_MAX] = {
		"/ready", "/health/pool", "/health/database"
	};

	for (int i = 0; i < API_CHECK_MAX; i++)
		if (strcmp(path, paths[i]) == 0)
			return i;
	return -1;
}

static void
api_on_request(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	int check = -1;

	if (path == NULL) {
		api_json(req, 400, "Bad Request",
		    "{\"error\":\"malformed request URI\"}\n");
	} else if ((check = api_route_check(path)) >= 0 ||
	    strcmp(path, "/metrics") == 0 ||
	    strcmp(path, "/metrics/prometheus") == 0 ||
	    strcmp(path, "/health") == 0) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
		    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
			api_json(req, 405, "Method Not Allowed",
			    "{\"error\":\"method not allowed\"}\n");
		} else if (strcmp(path, "/health") == 0) {
			api_json(req, 200, "OK", "{\"status\":\"ok\"}\n");
		} else if (check >= 0) {
			char *body = NULL;
			int code = a->check((enum api_check)check, &body,
			    a->check_arg);

			api_json(req, code, code == 200 ? "OK" :
			    "Service Unavailable", body != NULL ? body : "{}\n");
			free(body);
		} else {
			size_t len;
			char *text = metrics_render(a->reg, &len);
			struct evbuffer *out = evbuffer_new();

			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Content-Type",
			    "text/plain; version=0.0.4; charset=utf-8");
			evbuffer_add(out, text, len);
			evhttp_send_reply(req, 200, "OK", out);
			evbuffer_free(out);
			free(text);
		}
	} else {
		api_json(req, 404, "Not Found", "{\"error\":\"not found\"}\n");
	}
	if (u != NULL)
		evhttp_uri_free(u);
}

static void *
api_main(void *arg)
{
	struct api *a = arg;

	event_base_dispatch(a->base);
	return NULL;
}

static void
api_on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

struct api *
api_start(const struct cfg *c, struct metrics_registry *reg,
    api_check_fn check, void *arg)
{
	struct api *a = xcalloc(1, sizeof(*a));
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char err[256], *host = NULL;
	uint16_t port;
	int actual = 0;

	a->reg = reg;
	a->check = check;
	a->check_arg = arg;
	a->base = event_base_new();
	a->http = a->base != NULL ? evhttp_new(a->base) : NULL;
	if (a->http == NULL ||
	    cfg_split_hostport(c->metrics.bind, &host, &port, 0, err,
	    sizeof(err)) != 0)
		goto fail;
	/* Bodies are never needed; headers stay small. */
	evhttp_set_max_body_size(a->http, 4096);
	evhttp_set_max_headers_size(a->http, 8192);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_gencb(a->http, api_on_request, a);
	bound = evhttp_bind_socket_with_handle(a->http, host, port);
	if (bound == NULL) {
		log_error("api", "cannot listen on %s", c->metrics.bind);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&ss, &sl) == 0)
		actual = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	a->stop = event_new(a->base, -1, 0, api_on_stop, a->base);
	if (a->stop == NULL || pthread_create(&a->thread, NULL, api_main, a) !=
	    0)
		goto fail;
	log_info("api", "metrics on http://%s:%d/metrics, health on /health",
	    host, actual);
	free(host);
	return a;
fail:
	free(host);
	if (a->stop != NULL)
		event_free(a->stop);
	if (a->http != NULL)
		evhttp_free(a->http);
	if (a->base != NULL)
		event_base_free(a->base);
	free(a);
	return NULL;
}

void
api_stop(struct api *a)
{
	if (a == NULL)
		return;
	event_active(a->stop, 0, 0);
	pthread_join(a->thread, NULL);
	event_free(a->stop);
	evhttp_free(a->http);
	event_base_free(a->base);
	free(a);
}
