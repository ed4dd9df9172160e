/*
 * api.h: the HTTP listener on [metrics] bind: /metrics (also
 * /metrics/prometheus) and /health. It runs its own thread and event
 * loop; the share path never waits for it.
 */
#ifndef LOKA_API_API_H
#define LOKA_API_API_H

struct api;
struct cfg;
struct metrics_registry;

/*
 * api_start(c, reg): listen on c->metrics.bind and serve reg. Returns NULL
 * (logged) if the address cannot be bound. reg must outlive the api.
 */
struct api *api_start(const struct cfg *c, struct metrics_registry *reg);
/* Stop serving and join the thread; NULL is a no-op. */
void api_stop(struct api *a);

#endif
