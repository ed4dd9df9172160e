/*
 * api.h: the HTTP listener on [metrics] bind: /metrics (also
 * /metrics/prometheus), /health (liveness), /ready, /health/pool and
 * /health/database. It runs its own thread and event
 * loop; the share path never waits for it.
 */
#ifndef LOKA_API_API_H
#define LOKA_API_API_H

struct api;
struct cfg;
struct metrics_registry;

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
 * api_start(c, reg, check, arg): listen on c->metrics.bind and serve reg
 * and the health checks. Returns NULL (logged) if the address cannot be
 * bound. reg and arg must outlive the api.
 */
struct api *api_start(const struct cfg *c, struct metrics_registry *reg,
    api_check_fn check, void *arg);
/* Stop serving and join the thread; NULL is a no-op. */
void api_stop(struct api *a);

#endif
