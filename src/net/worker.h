/*
 * worker.h: network worker threads.
 *
 * Each worker thread runs its own libevent loop with its own SO_REUSEPORT
 * listener on every bind address, so the kernel spreads new connections
 * over the threads and a connection stays on the thread that accepted it.
 * A worker owns everything created on its loop; other threads reach it
 * only through worker_post() (a queued function call run on its loop).
 */
#ifndef LOKA_NET_WORKER_H
#define LOKA_NET_WORKER_H

#include <event2/util.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct evdns_base;
struct worker;
struct cfg_list;

/* Called on the worker's thread for each accepted connection. */
typedef void (*worker_accept_fn)(struct worker *w, evutil_socket_t fd,
    const struct sockaddr *sa, int salen, void *arg);
/* A function queued to run on a worker's thread. */
typedef void (*worker_task_fn)(struct worker *w, void *arg);

/*
 * worker_new(index, binds, ports, accept, arg): a loop with listeners on
 * each address of binds ("host:port"). ports[i], when not 0, replaces the
 * port of binds[i] (lets port 0 resolve once, then every thread share the
 * port the first one got). Returns NULL (logged) if a listener fails.
 */
struct worker *worker_new(int index, const struct cfg_list *binds,
    const int *ports, worker_accept_fn accept, void *arg);
void worker_free(struct worker *w);

/*
 * worker_add_listeners(w, binds, ports, accept, arg): more listeners, as in
 * worker_new(), whose connections go to accept with this arg (the tls_bind
 * listeners). Before worker_start(). Returns 0, or -1 (logged).
 */
int worker_add_listeners(struct worker *w, const struct cfg_list *binds,
    const int *ports, worker_accept_fn accept, void *arg);

/* The port listener i is bound to (after port 0 resolved); listeners are
 * numbered in the order they were added, worker_new()'s first. */
int worker_port(const struct worker *w, size_t i);

int worker_start(struct worker *w);   /* spawn the thread */
void worker_join(struct worker *w);

/*
 * worker_post(w, fn, arg): run fn(w, arg) on w's thread soon. Any thread.
 * A task still queued when the worker is freed (its loop has ended) is
 * called once with w == NULL, on the freeing thread: it must then only
 * release arg.
 */
void worker_post(struct worker *w, worker_task_fn fn, void *arg);

/* Stop accepting (on the worker's thread). */
void worker_stop_listening(struct worker *w);
/* End the loop once it has nothing left (on the worker's thread). */
void worker_exit(struct worker *w);

int worker_index(const struct worker *w);
struct event_base *worker_base(struct worker *w);
struct evdns_base *worker_dns(struct worker *w);
/* The opaque per-thread state the proxy keeps with the worker. */
void *worker_data(const struct worker *w);
void worker_set_data(struct worker *w, void *data);

#endif
