/*
 * api.c: evhttp on its own thread (see api.h).
 *
 * Routes: GET /metrics and /metrics/prometheus render the registry in the
 * Prometheus text format; GET /health answers 200 while the process
 * runs; /ready, /health/pool and /health/database ask the proxy's check
 * function (200 or 503 with a JSON reason); GET / and /index.html serve the
 * dashboard page compiled in from dashboard.html ([metrics] dashboard).
 * Anything else gets a JSON 404 (or 405 for another method). A request
 * whose length could be read two ways gets a JSON 400 and the connection
 * is closed (api_framing_error()). The registry is read with relaxed atomics and callbacks; nothing here locks
 * anything the worker threads use.
 */
#include "api/api.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/dashboard.h"
#include "config/config.h"
#include "config/config_internal.h"
#include "metrics/registry.h"
#include "net/sockopt.h"
#include "net/tls.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Largest request body the API reads (an earnings record is ~200 B). */
#define API_BODY_MAX 65536

struct api {
	const struct cfg *cfg;
	struct event_base *base;
	struct evhttp *http;
	struct metrics_registry *reg;
	api_check_fn check;
	api_handler_fn handler;
	void *arg;
	pthread_t thread;
	struct event *stop;
	struct tls_server *tls; /* HTTPS; NULL: plain HTTP */
};

json_t *
api_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", msg);
}

const char *
api_query(const struct api_request *req, const char *key)
{
	return req->query != NULL ? evhttp_find_header(req->query, key) :
	    NULL;
}

static const char *
api_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 503: return "Service Unavailable";
	default: return code < 500 ? "Bad Request" : "Internal Server Error";
	}
}

static void
api_json(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, code, api_reason(code), out);
	evbuffer_free(out);
}

/* Send a JSON value (consumed) with a status. */
static void
api_json_value(struct evhttp_request *req, int code, json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

	api_json(req, code, text != NULL ? text : "{}");
	free(text);
	json_decref(v);
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

/*
 * CORS: with [security] enable_cors, an allowed Origin gets
 * Access-Control-Allow-Origin. Returns true when the origin is allowed.
 */
static bool
api_cors(const struct api *a, struct evhttp_request *req)
{
	const char *origin = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Origin");
	const char *list = a->cfg->security.cors_origins;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	size_t n;
	bool ok = false;

	if (!a->cfg->security.enable_cors || origin == NULL)
		return false;
	n = strlen(origin);
	if (strcmp(list, "*") == 0) {
		ok = true;
	} else {
		for (const char *p = list; *p != '\0';) {
			size_t len;

			while (*p == ',' || *p == ' ')
				p++;
			len = strcspn(p, ", ");
			if (len > 0 && len == n && strncmp(p, origin, n) == 0)
				ok = true;
			p += len;
		}
	}
	if (!ok)
		return false;
	evhttp_add_header(h, "Access-Control-Allow-Origin",
	    strcmp(list, "*") == 0 ? "*" : origin);
	evhttp_add_header(h, "Vary", "Origin");
	return true;
}

/* Whether the request carries the configured bearer token (compared in
 * constant time). */
static bool
api_token_ok(const struct api *a, struct evhttp_request *req)
{
	const char *token = a->cfg->metrics.api_token;
	const char *auth = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	size_t n = strlen(token);

	if (n == 0 || auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return strlen(auth) == n && CRYPTO_memcmp(auth, token, n) == 0;
}

/* /api/v1/...: method, token, body, then the handler. */
static void
api_v1(struct api *a, struct evhttp_request *req, const char *path,
    const struct evhttp_uri *u)
{
	struct api_request r;
	struct evkeyvalq query;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *q = evhttp_uri_get_query(u);
	char *body = NULL;
	json_t *out = NULL;
	int code;

	memset(&r, 0, sizeof(r));
	TAILQ_INIT(&query);
	api_cors(a, req);
	if (cmd == EVHTTP_REQ_OPTIONS) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);

		if (!a->cfg->security.enable_cors) {
			api_json(req, 405, "{\"error\":\"method not allowed "
			    "(CORS is off: [security] enable_cors)\"}\n");
			return;
		}
		evhttp_add_header(h, "Access-Control-Allow-Methods",
		    "GET, POST, DELETE, OPTIONS");
		evhttp_add_header(h, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type");
		evhttp_add_header(h, "Access-Control-Max-Age", "600");
		evhttp_send_reply(req, 204, "No Content", NULL);
		return;
	}
	switch (cmd) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		r.method = API_GET;
		break;
	case EVHTTP_REQ_POST:
		r.method = API_POST;
		break;
	case EVHTTP_REQ_DELETE:
		r.method = API_DELETE;
		break;
	default:
		api_json(req, 405, "{\"error\":\"method not allowed\"}\n");
		return;
	}
	r.authorized = api_token_ok(a, req);
	if (r.method != API_GET && !r.authorized) {
		if (a->cfg->metrics.api_token[0] == '\0') {
			api_json(req, 403, "{\"error\":\"changes through the "
			    "API are disabled: set [metrics] api_token or "
			    "api_token_file\"}\n");
		} else {
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "WWW-Authenticate", "Bearer");
			api_json(req, 401, "{\"error\":\"missing or wrong "
			    "bearer token\"}\n");
		}
		return;
	}
	if (evbuffer_get_length(in) > API_BODY_MAX) {
		api_json(req, 413, "{\"error\":\"request body over 65536 "
		    "bytes\"}\n");
		return;
	}
	r.body_len = evbuffer_get_length(in);
	body = xmalloc(r.body_len + 1);
	evbuffer_copyout(in, body, r.body_len);
	body[r.body_len] = '\0';
	r.body = body;
	if (q != NULL && evhttp_parse_query_str(q, &query) != 0) {
		api_json(req, 400, "{\"error\":\"malformed query string\"}\n");
		goto out;
	}
	r.query = &query;
	r.path = path;
	if (a->handler == NULL) {
		api_json(req, 404, "{\"error\":\"not found\"}\n");
		goto out;
	}
	code = a->handler(&r, &out, a->arg);
	api_json_value(req, code, out);
out:
	evhttp_clear_headers(&query);
	free(body);
}

static void
api_metrics(struct api *a, struct evhttp_request *req)
{
	size_t len;
	char *text = metrics_render(a->reg, &len);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(out, text, len);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	free(text);
}

/*
 * The dashboard page. It only reads the API of its own origin: the policy
 * forbids loading or sending anything elsewhere and being framed (the page
 * is one file, hence inline script and style).
 */
static void
api_asset(struct evhttp_request *req, const char *type,
    const unsigned char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	/* Compiled in: it changes only with the binary. */
	evhttp_add_header(h, "Cache-Control", "max-age=86400");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evbuffer_add(out, body, len);
	} else {
		char n[32];

		snprintf(n, sizeof(n), "%zu", len);
		evhttp_add_header(h, "Content-Length", n);
	}
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
api_dashboard(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'self'; "
	    "script-src 'self' 'unsafe-inline'; style-src 'self' "
	    "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
	    "frame-ancestors 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evbuffer_add(out, api_dashboard_html, api_dashboard_html_len);
	} else {
		char len[32];

		snprintf(len, sizeof(len), "%zu", api_dashboard_html_len);
		evhttp_add_header(h, "Content-Length", len);
	}
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/*
 * Request smuggling defence. A proxy in front of the API and evhttp must
 * agree where each request ends; evhttp uses the first Content-Length,
 * ignores a header whose name has a space before the colon, reads a body on
 * some methods and not others. So a request is refused when it frames
 * its body more than one way or in a way two parsers may read apart:
 *  - more than one Content-Length, even with equal values;
 *  - Content-Length together with Transfer-Encoding, or two
 *    Transfer-Encoding (a libevent with its 2.1.13 fix refuses these
 *    itself, with its own HTML 400, before the request gets here);
 *  - a Transfer-Encoding other than exactly "chunked";
 *  - a Content-Length that is not plain digits ("+5", " 5", "5,5");
 *  - whitespace in a header name ("Content-Length : 5");
 *  - a body on a method that takes none here (GET, HEAD, DELETE, OPTIONS).
 * Returns what is wrong, or NULL when the request is framed one way.
 */
static const char *
api_framing_error(struct evhttp_request *req)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const struct evkeyval *kv;
	const char *len = NULL, *te = NULL;
	int nlen = 0, nte = 0;
	bool body;

	TAILQ_FOREACH(kv, h, next) {
		if (strpbrk(kv->key, " \t") != NULL)
			return "whitespace in a header name";
		if (strcasecmp(kv->key, "Content-Length") == 0) {
			len = kv->value;
			nlen++;
		} else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
			te = kv->value;
			nte++;
		}
	}
	if (nlen > 1)
		return "more than one Content-Length header";
	if (nlen > 0 && nte > 0)
		return "both Content-Length and Transfer-Encoding";
	if (nte > 1 || (te != NULL && strcasecmp(te, "chunked") != 0))
		return "a Transfer-Encoding other than chunked";
	if (len != NULL && (len[0] == '\0' ||
	    len[strspn(len, "0123456789")] != '\0'))
		return "a Content-Length that is not a number";
	body = te != NULL || (len != NULL && len[strspn(len, "0")] != '\0');
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
	case EVHTTP_REQ_DELETE:
	case EVHTTP_REQ_OPTIONS:
		if (body)
			return "a body on a method that takes none";
		break;
	default:
		break;
	}
	return NULL;
}

static void
api_on_request(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *raw = u != NULL ? evhttp_uri_get_path(u) : NULL;
	size_t n = 0;
	char *path = raw != NULL ? evhttp_uridecode(raw, 0, &n) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *framing = api_framing_error(req);
	int check = -1;

	if (framing != NULL) {
		/* The bytes after this request may be the rest of its body:
		 * none of them is read as a request. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		api_json_value(req, 400, api_error("request framing: %s",
		    framing));
	} else if (path == NULL || strlen(path) != n) {
		/* A decoded NUL ("%00") would cut the path short. */
		api_json(req, 400, "{\"error\":\"malformed request URI\"}\n");
	} else if (strncmp(path, "/api/v1/", 8) == 0 ||
	    strcmp(path, "/api/v1") == 0) {
		api_v1(a, req, path, u);
	} else if (a->cfg->metrics.dashboard && (strcmp(path, "/") == 0 ||
	    strcmp(path, "/index.html") == 0)) {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			api_json(req, 405,
			    "{\"error\":\"method not allowed\"}\n");
		else
			api_dashboard(req);
	} else if (a->cfg->metrics.dashboard &&
	    strcmp(path, "/assets/chart.min.js") == 0) {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			api_json(req, 405,
			    "{\"error\":\"method not allowed\"}\n");
		else
			api_asset(req, "application/javascript; charset=utf-8",
			    api_chartjs, api_chartjs_len);
	} else if ((check = api_route_check(path)) < 0 &&
	    strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/metrics/prometheus") != 0 &&
	    strcmp(path, "/health") != 0) {
		api_json(req, 404, "{\"error\":\"not found\"}\n");
	} else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		api_json(req, 405, "{\"error\":\"method not allowed\"}\n");
	} else if (strcmp(path, "/health") == 0) {
		api_json(req, 200, "{\"status\":\"ok\"}\n");
	} else if (check >= 0) {
		char *body = NULL;
		int code = a->check((enum api_check)check, &body, a->arg);

		api_json(req, code, body != NULL ? body : "{}\n");
		free(body);
	} else {
		api_metrics(a, req);
	}
	free(path);
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

/* evhttp's bufferevent for each connection: TLS when HTTPS is on. */
static struct bufferevent *
api_tls_bufferevent(struct event_base *base, void *arg)
{
	return tls_server_bufferevent(arg, base);
}

struct api *
api_start(const struct cfg *c, struct metrics_registry *reg,
    api_check_fn check, api_handler_fn handler, void *arg)
{
	struct api *a = xcalloc(1, sizeof(*a));
	struct evhttp_bound_socket *bound;
	char err[256], *host = NULL;
	uint16_t port;
	int actual = 0;

	a->cfg = c;
	a->reg = reg;
	a->check = check;
	a->handler = handler;
	a->arg = arg;
	a->base = event_base_new();
	a->http = a->base != NULL ? evhttp_new(a->base) : NULL;
	if (a->http == NULL ||
	    cfg_split_hostport(c->metrics.bind, &host, &port, 0, err,
	    sizeof(err)) != 0)
		goto fail;
	/* Bodies are small JSON; past twice the API's own limit evhttp
	 * refuses them itself. Headers stay small. */
	evhttp_set_max_body_size(a->http, 2 * API_BODY_MAX);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(a->http, 8192);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_gencb(a->http, api_on_request, a);
	if (c->metrics.tls_cert_file[0] != '\0') {
		a->tls = tls_server_new("metrics", c->metrics.tls_cert_file,
		    c->metrics.tls_key_file, err, sizeof(err));
		if (a->tls == NULL) {
			log_errorx("api", "[metrics] HTTPS: %s", err);
			goto fail;
		}
		evhttp_set_bevcb(a->http, api_tls_bufferevent, a->tls);
	}
	bound = evhttp_bind_socket_with_handle(a->http, host, port);
	if (bound == NULL) {
		log_error("api", "cannot listen on %s", c->metrics.bind);
		goto fail;
	}
	actual = sockopt_local_port(evhttp_bound_socket_get_fd(bound));
	a->stop = event_new(a->base, -1, 0, api_on_stop, a->base);
	if (a->stop == NULL || pthread_create(&a->thread, NULL, api_main, a) !=
	    0)
		goto fail;
	log_info("api", "metrics on %s://%s:%d/metrics, health on /health",
	    a->tls != NULL ? "https" : "http", host, actual);
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
	tls_server_free(a->tls);
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
	tls_server_free(a->tls);
	free(a);
}
