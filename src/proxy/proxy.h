/*
 * proxy.h: the running proxy: worker threads, sessions, shutdown.
 */
#ifndef LOKA_PROXY_PROXY_H
#define LOKA_PROXY_PROXY_H

struct cfg;

/*
 * proxy_run(c): listen, relay miners to pools, and return when SIGTERM or
 * SIGINT has been handled (in-flight submits answered, sessions closed).
 * Returns 0, or 1 when the proxy could not start (logged). c must stay
 * valid until it returns.
 */
int proxy_run(const struct cfg *c);

#endif
