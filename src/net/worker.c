/*
 * worker.c: worker threads, their loops and SO_REUSEPORT listeners (see
 * worker.h).
 *
 * Cross-thread calls: worker_post() appends to a mutex-protected task list
 * and activates an event on the target loop; the loop runs the tasks.
 * This is the only lock a worker takes, and never per share.
 */
#include "net/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "net/sockopt.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct worker_task {
	worker_task_fn fn;
	void *arg;
	struct worker_task *next;
};

/* A listener and where its connections go. */
struct worker_listener {
	struct worker *w;
	struct evconnlistener *l;
	worker_accept_fn accept;
	void *arg;
	int port;
};

struct worker {
	int index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct evdns_base *dns;
	struct worker_listener **listeners; /* in the order added */
	size_t nlisteners;
	pthread_mutex_t tasks_lock;
	struct worker_task *tasks, *tasks_tail;
	struct event *tasks_ev;
	void *data;
};

static void
worker_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct worker_listener *wl = arg;

	(void)l;
	wl->accept(wl->w, fd, sa, salen, wl->arg);
}

static void
worker_on_accept_error(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	(void)arg;
	/* EMFILE and friends: log, keep listening; the loop goes on. */
	log_write(LOG_WARN, "net", 0, err, "accept failed");
}

static void
worker_run_tasks(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_task *t, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->tasks_lock);
	t = w->tasks;
	w->tasks = w->tasks_tail = NULL;
	pthread_mutex_unlock(&w->tasks_lock);
	for (; t != NULL; t = next) {
		next = t->next;
		t->fn(w, t->arg);
		free(t);
	}
}

/* A numeric host ("0.0.0.0", "::") and port as a socket address. */
static int
worker_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
    int *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static int
worker_listen(struct worker *w, const char *bind, int port_override,
    worker_accept_fn accept, void *arg)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char err[256], *host, *addr;
	uint16_t port;
	struct evconnlistener *l;
	struct worker_listener *wl;
	/* SO_REUSEPORT: one listener per thread on the same address; the
	 * kernel spreads connections over them. Backlog 4096 absorbs a whole
	 * farm reconnecting at once after a restart. */
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC;

	if (cfg_split_hostport(bind, &host, &port, 0, err, sizeof(err)) != 0) {
		log_errorx("net", "bind %s: %s", bind, err);
		return -1;
	}
	if (port_override != 0)
		port = (uint16_t)port_override;
	addr = strchr(host, ':') != NULL ? xasprintf("[%s]:%u", host, port) :
	    xasprintf("%s:%u", host, port);
	memset(&ss, 0, sizeof(ss));
	if (worker_sockaddr(host, port, &ss, &sslen) != 0) {
		log_errorx("net", "bind %s: not a numeric IPv4 or IPv6 address",
		    bind);
		free(host);
		free(addr);
		return -1;
	}
	free(host);
	wl = xcalloc(1, sizeof(*wl));
	wl->w = w;
	wl->accept = accept;
	wl->arg = arg;
	l = evconnlistener_new_bind(w->base, worker_on_accept, wl, flags, 4096,
	    (struct sockaddr *)&ss, sslen);
	if (l == NULL) {
		log_error("net", "cannot listen on %s", addr);
		free(addr);
		free(wl);
		return -1;
	}
	evconnlistener_set_error_cb(l, worker_on_accept_error);
	wl->l = l;
	wl->port = sockopt_local_port(evconnlistener_get_fd(l));
	w->listeners = xreallocarray(w->listeners, w->nlisteners + 1,
	    sizeof(*w->listeners));
	w->listeners[w->nlisteners++] = wl;
	free(addr);
	return 0;
}

int
worker_add_listeners(struct worker *w, const struct cfg_list *binds,
    const int *ports, worker_accept_fn accept, void *arg)
{
	for (size_t i = 0; i < binds->n; i++)
		if (worker_listen(w, binds->v[i], ports != NULL ? ports[i] : 0,
		    accept, arg) != 0)
			return -1;
	return 0;
}

struct worker *
worker_new(int index, const struct cfg_list *binds, const int *ports,
    worker_accept_fn accept, void *arg)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->index = index;
	pthread_mutex_init(&w->tasks_lock, NULL);
	w->base = event_base_new();
	if (w->base == NULL)
		goto fail;
	/* No resolv.conf (containers) is fine: IP literals need none. */
	w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL)
		w->dns = evdns_base_new(w->base, 0);
	w->tasks_ev = event_new(w->base, -1, 0, worker_run_tasks, w);
	if (worker_add_listeners(w, binds, ports, accept, arg) != 0)
		goto fail;
	return w;
fail:
	worker_free(w);
	return NULL;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_stop_listening(w);
	for (size_t i = 0; i < w->nlisteners; i++)
		free(w->listeners[i]);
	free(w->listeners);
	if (w->tasks_ev != NULL)
		event_free(w->tasks_ev);
	while (w->tasks != NULL) {
		struct worker_task *t = w->tasks;

		/* Never run: the task only releases its argument. */
		t->fn(NULL, t->arg);

		w->tasks = t->next;
		free(t);
	}
	if (w->dns != NULL)
		evdns_base_free(w->dns, 0);
	if (w->base != NULL)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->tasks_lock);
	free(w);
}

int
worker_port(const struct worker *w, size_t i)
{
	return i < w->nlisteners ? w->listeners[i]->port : 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
worker_start(struct worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);

	if (rc != 0) {
		log_write(LOG_ERROR, "net", 0, rc, "cannot start worker %d",
		    w->index);
		return -1;
	}
	w->started = true;
	return 0;
}

void
worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}

void
worker_post(struct worker *w, worker_task_fn fn, void *arg)
{
	struct worker_task *t = xcalloc(1, sizeof(*t));

	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&w->tasks_lock);
	if (w->tasks_tail != NULL)
		w->tasks_tail->next = t;
	else
		w->tasks = t;
	w->tasks_tail = t;
	pthread_mutex_unlock(&w->tasks_lock);
	event_active(w->tasks_ev, 0, 0);
}

void
worker_stop_listening(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i]->l != NULL)
			evconnlistener_free(w->listeners[i]->l);
		w->listeners[i]->l = NULL;
	}
}

void
worker_exit(struct worker *w)
{
	event_base_loopexit(w->base, NULL);
}

int
worker_index(const struct worker *w)
{
	return w->index;
}

struct event_base *
worker_base(struct worker *w)
{
	return w->base;
}

struct evdns_base *
worker_dns(struct worker *w)
{
	return w->dns;
}

void *
worker_data(const struct worker *w)
{
	return w->data;
}

void
worker_set_data(struct worker *w, void *data)
{
	w->data = data;
}
