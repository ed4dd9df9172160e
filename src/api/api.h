/*
 * api.h: the HTTP listener on [metrics] bind: /metrics (also
 * /metrics/prometheus), /health (liveness), /ready, /health/pool,
 * /health/database, the JSON API under /api/v1/ and the dashboard page
 * at / (dashboard.h). It runs its own thread and event loop; the share
 * path never waits for it.
 *
 * The listener owns HTTP: methods, the bearer token, CORS, body limits,
 * JSON errors. What the API says comes from a handler (the proxy's).
 */
#ifndef LOKA_API_API_H
#define LOKA_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct api;
struct cfg;
struct evkeyvalq;
struct metrics_registry;

enum api_method {
	API_GET = 0, /* HEAD is answered as GET without the body */
	API_POST,
	API_DELETE,
	API_METHOD_MAX
};

/* A request under /api/v1/, as the handler sees it. */
struct api_request {
	enum api_method method;
	const char *path;         /* decoded, e.g. "/api/v1/miners/bc1q..." */
	const char *body;         /* NUL-terminated; "" when none */
	size_t body_len;
	bool authorized;          /* carried the configured bearer token */
	const struct evkeyvalq *query;
};

/* The value of a query parameter (decoded), or NULL. */
const char *api_query(const struct api_request *req, const char *key);

/*
 * A handler answers one /api/v1/ request: returns the HTTP status and
 * puts a JSON body (the API frees it) in *out. Changes (POST, DELETE)
 * reach it only when authorized. Runs on the API thread.
 */
typedef int (*api_handler_fn)(const struct api_request *req, json_t **out,
    void *arg);

/* {"error": message}, for handlers' error answers. */
json_t *api_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

enum api_check {
	API_CHECK_READY = 0, /* /ready */
	API_CHECK_POOL,      /* /health/pool */
	API_CHECK_DATABASE,  /* /health/database */
	API_CHECK_MAX
};

/*
 * Answers a health check: returns the HTTP status (200 or 503) and puts a
 * JSON body (allocated, the API frees it) in *body. Runs on the API thread.
 */
typedef int (*api_check_fn)(enum api_check what, char **body, void *arg);

/*
 * api_start(c, reg, check, handler, arg): listen on c->metrics.bind and
 * serve reg, the health checks and the handler's /api/v1/ (handler NULL:
 * 404 there). Returns NULL (logged) if the address cannot be bound. c,
 * reg and arg must outlive the api.
 */
struct api *api_start(const struct cfg *c, struct metrics_registry *reg,
    api_check_fn check, api_handler_fn handler, void *arg);
/* Stop serving and join the thread; NULL is a no-op. */
void api_stop(struct api *a);

#endif
