/*
 * session.c: one miner connection: accepting it within the limits, telling
 * what it speaks from its first bytes (Stratum, an HTTP CONNECT tunnel, a
 * PROXY header from a trusted load balancer), reading its lines, its
 * deadlines, and closing it.
 *
 * Lifetime: a session is created on accept and belongs to the accepting
 * worker thread. session_drop() releases its connections at once and moves
 * it to the thread's zombie list; the reap event frees it after the current
 * callback has returned, so no callback ever touches freed memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "net/sniff.h"
#include "net/sockopt.h"
#include "net/worker.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "store/store.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* Lines handled per wakeup, so one flooding miner cannot starve others. */
#define SESSION_LINES_PER_WAKEUP 64
/* How long a last answer may take to leave before the socket is closed. */
#define SESSION_FLUSH_TIMEOUT_S 5
/* Bytes of a connection's start we look at before giving up on it. */
#define SESSION_SNIFF_MAX (SNIFF_CONNECT_MAX + SNIFF_PROXY_V2_MAX)

static void session_on_read(struct bufferevent *bev, void *arg);
static void session_on_resume(evutil_socket_t fd, short what, void *arg);
static void session_on_event(struct bufferevent *bev, short what, void *arg);
static void session_arm_timer(struct session *s, int64_t ms);

static const char *const session_state_names[SESSION_STATE_MAX] = {
	"sniff", "stratum", "active", "draining", "closing"
};

static struct timeval
ms_to_tv(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) *
	    1000 };

	return tv;
}

void
session_set_state(struct session *s, enum session_state to)
{
	if (s->state == to)
		return;
	log_sdebug("session", s->id, "%s -> %s", session_state_names[s->state],
	    session_state_names[to]);
	s->state = to;
}

static void
format_peer(struct session *s)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (s->peer.sa.sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&s->peer;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(s->peer_str, sizeof(s->peer_str), "%s:%d", host,
		    port);
	} else if (s->peer.sa.sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s->peer;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(s->peer_str, sizeof(s->peer_str), "[%s]:%d", host,
		    port);
	} else {
		snprintf(s->peer_str, sizeof(s->peer_str), "?");
	}
}

static void
session_reap(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_thread *t = arg;
	struct session *s;

	(void)fd;
	(void)what;
	while ((s = TAILQ_FIRST(&t->zombies)) != NULL) {
		TAILQ_REMOVE(&t->zombies, s, entry);
		free(s);
	}
}

/* ---- write-through (see session_out() in proxy_internal.h) ---- */

static bool
bev_is_tls(struct bufferevent *bev)
{
	return bufferevent_openssl_get_ssl(bev) != NULL;
}

static void
session_mark(struct session *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	TAILQ_INSERT_TAIL(&s->t->dirty, s, dirty_entry);
	if (s->t->flush != NULL)
		event_active(s->t->flush, 0, 0);
}

struct evbuffer *
session_out(struct session *s)
{
	if (s->holding)
		return s->held;
	session_mark(s);
	return bufferevent_get_output(s->down);
}

struct evbuffer *
session_up_out(struct session *s)
{
	session_mark(s);
	return bufferevent_get_output(s->up);
}

/* Write what bev queued, when that is ours to do (EV_WRITE off). */
static void
bev_flush(struct bufferevent *bev)
{
	struct evbuffer *out;

	if (bev == NULL || (bufferevent_get_enabled(bev) & EV_WRITE))
		return;
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) == 0)
		return;
	if (!bev_is_tls(bev))
		(void)evbuffer_write(out, bufferevent_getfd(bev));
	/* Would block (or failed): libevent takes over, and reports a
	 * failure through the event callback. */
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(bev, EV_WRITE);
}

/* ---- journal before verdict (see session_hold()) ---- */

/* What the session held goes to the socket, in order. */
static void
session_release(struct session *s)
{
	if (!s->holding)
		return;
	s->holding = false;
	s->held_verdicts = 0;
	TAILQ_REMOVE(&s->t->held, s, held_entry);
	if (s->down != NULL && evbuffer_get_length(s->held) > 0)
		evbuffer_add_buffer(session_out(s), s->held);
}

/* The timer at the oldest hold's deadline (the list is oldest first). */
static void
session_arm_held_timer(struct proxy_thread *t)
{
	struct session *first = TAILQ_FIRST(&t->held);
	struct timeval tv;
	int64_t left;

	if (first == NULL)
		return;
	left = first->held_since_ms + t->proxy->cfg->database.verdict_wait_ms -
	    now_mono_ms();
	tv = ms_to_tv(left > 0 ? left : 0);
	evtimer_add(t->held_timer, &tv);
}

/* The store wrote the journal (or a session's deadline passed). */
static void
session_on_journaled(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_thread *t = arg;
	int64_t now = now_mono_ms();
	int64_t wait = t->proxy->cfg->database.verdict_wait_ms;
	struct session *s, *next;

	(void)fd;
	(void)what;
	for (s = TAILQ_FIRST(&t->held); s != NULL; s = next) {
		next = TAILQ_NEXT(s, held_entry);
		if (store_ring_journaled(t->ring, s->held_need)) {
			session_release(s);
		} else if (now - s->held_since_ms >= wait) {
			atomic_fetch_add_explicit(
			    &t->stats.verdicts_unjournaled, s->held_verdicts,
			    memory_order_relaxed);
			session_release(s);
		}
	}
	if (TAILQ_EMPTY(&t->held)) {
		evtimer_del(t->held_timer);
		return;
	}
	store_ring_wait(t->ring, store_ring_posted(t->ring));
	session_arm_held_timer(t);
}

/* On the store thread: wake the worker's loop. */
static void
session_journal_notify(void *arg)
{
	struct proxy_thread *t = arg;

	event_active(t->journaled, 0, 0);
}

void
session_hold(struct session *s)
{
	struct proxy_thread *t = s->t;

	if (t->ring == NULL || t->journaled == NULL || s->down == NULL ||
	    s->state == SESSION_CLOSING ||
	    t->proxy->cfg->database.verdict_wait_ms <= 0)
		return;
	s->held_need = store_ring_posted(t->ring);
	s->held_verdicts++;
	if (s->holding)
		return;
	if (s->held == NULL)
		s->held = evbuffer_new();
	s->holding = true;
	s->held_since_ms = now_mono_ms();
	TAILQ_INSERT_TAIL(&t->held, s, held_entry);
	store_ring_wait(t->ring, s->held_need);
	if (!evtimer_pending(t->held_timer, NULL))
		session_arm_held_timer(t);
}

void
session_thread_store(struct proxy_thread *t, struct store_ring *ring)
{
	t->ring = ring;
	if (ring != NULL)
		store_ring_set_notify(ring, session_journal_notify, t);
}

/* End of a loop turn: write what the sessions queued. */
static void
session_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_thread *t = arg;
	struct session *s;

	(void)fd;
	(void)what;
	while ((s = TAILQ_FIRST(&t->dirty)) != NULL) {
		TAILQ_REMOVE(&t->dirty, s, dirty_entry);
		s->dirty = false;
		bev_flush(s->down);
		bev_flush(s->up);
	}
}

void
session_on_drained(struct bufferevent *bev, void *arg)
{
	(void)arg;
	/* TLS bufferevents keep libevent's own write path. */
	if (!bev_is_tls(bev))
		bufferevent_disable(bev, EV_WRITE);
}

void
session_up_write_through(struct session *s)
{
	if (s->up == NULL || bev_is_tls(s->up))
		return;
	bufferevent_disable(s->up, EV_WRITE);
	session_mark(s);
}

void
session_drop(struct session *s, const char *why)
{
	struct proxy_thread *t = s->t;

	if (s->down == NULL && s->state == SESSION_CLOSING)
		return; /* already dropped */
	if (why != NULL)
		log_sdebug("session", s->id, "closed (%s): %s", s->peer_str,
		    why);
	s->state = SESSION_CLOSING;
	session_mode(s)->free(s);
	guard_session_fini(s);
	/* After anything that may queue output (answers to what was
	 * pending): a freed session must not stay on the dirty list. */
	if (s->dirty) {
		TAILQ_REMOVE(&t->dirty, s, dirty_entry);
		s->dirty = false;
	}
	if (s->holding) {
		TAILQ_REMOVE(&t->held, s, held_entry);
		s->holding = false;
	}
	if (s->held != NULL)
		evbuffer_free(s->held);
	s->held = NULL;
	if (s->down != NULL)
		bufferevent_free(s->down);
	s->down = NULL;
	if (s->timer != NULL)
		event_free(s->timer);
	s->timer = NULL;
	if (s->resume != NULL)
		event_free(s->resume);
	s->resume = NULL;
	for (size_t i = 0; i < s->nworkers; i++) {
		free(s->workers[i].login);
		free(s->workers[i].pool_name);
		if (s->workers[i].password != NULL) {
			explicit_bzero(s->workers[i].password,
			    strlen(s->workers[i].password));
			free(s->workers[i].password);
		}
	}
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
	if (s->counted)
		atomic_fetch_sub_explicit(&t->proxy->active, 1,
		    memory_order_relaxed);
	s->counted = false;
	s->state = SESSION_CLOSING;
	TAILQ_REMOVE(&t->sessions, s, entry);
	t->nsessions--;
	TAILQ_INSERT_TAIL(&t->zombies, s, entry);
	event_active(t->reap, 0, 0);
	if (t->draining && t->nsessions == 0)
		worker_exit(t->worker);
}

static void
session_on_flushed(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (evbuffer_get_length(bufferevent_get_output(s->down)) == 0)
		session_drop(s, NULL);
}

static void
session_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	const struct cfg_server *cfg = &s->t->proxy->cfg->server;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SESSION_STRATUM:
		/* The miner asked; the pool has not answered (yet): its
		 * handshake_timeout and pool_outage_hold cover that (and
		 * bound the wait, with this as a last resort). */
		if (session_mode(s)->waiting_for_pool(s) &&
		    (int64_t)time(NULL) - s->connected_at <
		    (cfg->connection_timeout_ms +
		    cfg->pool_outage_hold_ms) / 1000) {
			log_sdebug("session", s->id, "%s: still waiting for "
			    "the pool; connection_timeout restarted",
			    s->peer_str);
			session_arm_timer(s, cfg->connection_timeout_ms);
			/* A read timeout stopped reading: start again. Only
			 * then: adding a read event that libevent has just
			 * timed out (taken out of the poll set, not yet run)
			 * would leave it in the timer heap only, deaf to
			 * data. */
			if (!(bufferevent_get_enabled(s->down) & EV_READ))
				bufferevent_enable(s->down, EV_READ);
			break;
		}
		/* FALLTHROUGH */
	case SESSION_SNIFF:
		STAT_INC(s->t, handshake_timeouts);
		log_sinfo("session", s->id, "%s: no subscribe and authorize "
		    "within connection_timeout; closing", s->peer_str);
		/* Only a peer that never spoke: a slow pool must not get
		 * miners banned. */
		if (s->state == SESSION_SNIFF)
			guard_violation(s, SECURITY_V_HANDSHAKE_TIMEOUT);
		session_drop(s, "handshake timeout");
		break;
	case SESSION_DRAINING:
		session_drop(s, "shutdown timeout");
		break;
	case SESSION_CLOSING:
		session_drop(s, "flush timeout");
		break;
	default:
		break;
	}
}

static void
session_arm_timer(struct session *s, int64_t ms)
{
	struct timeval tv = ms_to_tv(ms);

	evtimer_add(s->timer, &tv);
}

void
session_close_after_flush(struct session *s, const char *why)
{
	if (s->state == SESSION_CLOSING)
		return;
	if (why != NULL)
		log_sdebug("session", s->id, "closing (%s): %s", s->peer_str,
		    why);
	session_set_state(s, SESSION_CLOSING);
	session_mode(s)->give_up(s);
	/* A last answer does not wait for the journal: the store still
	 * takes the event (it runs until every worker has stopped). */
	session_release(s);
	if (s->down == NULL)
		return;
	bufferevent_disable(s->down, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->down)) == 0) {
		session_drop(s, NULL);
		return;
	}
	bufferevent_setwatermark(s->down, EV_WRITE, 0, 0);
	bufferevent_setcb(s->down, NULL, session_on_flushed, session_on_event,
	    s);
	bufferevent_enable(s->down, EV_WRITE);
	session_arm_timer(s, SESSION_FLUSH_TIMEOUT_S * 1000);
}

int
session_check_output(struct session *s)
{
	size_t queued;

	if (s->down == NULL)
		return -1;
	queued = evbuffer_get_length(bufferevent_get_output(s->down));
	if (queued > (size_t)s->t->proxy->cfg->server.max_output_buffer) {
		STAT_INC(s->t, slow_miners);
		log_sinfo("session", s->id, "%s: %zu bytes unsent (over "
		    "max_output_buffer): the miner does not keep up; closing",
		    s->peer_str, queued);
		session_drop(s, "slow miner");
		return -1;
	}
	return 0;
}

int
session_send_error(struct session *s, const json_t *id, int code,
    const char *message)
{
	if (s->down == NULL)
		return -1;
	msg_send_error(session_out(s), id, code, message);
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_RESPONSE);
	return session_check_output(s);
}

int
session_send_result(struct session *s, const json_t *id, json_t *res)
{
	if (s->down == NULL) {
		json_decref(res);
		return -1;
	}
	msg_send_result(session_out(s), id, res);
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_RESPONSE);
	return session_check_output(s);
}

int
session_send_raw(struct session *s, const char *line, size_t len)
{
	struct evbuffer *out;

	if (s->down == NULL)
		return -1;
	out = session_out(s);
	evbuffer_add(out, line, len);
	evbuffer_add(out, "\n", 1);
	return session_check_output(s);
}

void
session_drain_check(struct session *s)
{
	if (s->state == SESSION_DRAINING && s->submits_pending == 0)
		session_close_after_flush(s, "shutdown");
}

/* Answer a CONNECT request; 0 if the tunnel is open, -1 if refused. */
static int
session_tunnel(struct session *s, const struct sniff_connect *c)
{
	struct proxy *p = s->t->proxy;
	int idx = router_find(p->router, c->host, c->port, c->name);
	int code = 200;
	struct evbuffer *out = session_out(s);
	const char *answer;

	if (idx < 0) {
		code = 404;
	} else if (!router_enabled(p->router, idx)) {
		code = 403;
	} else if (router_state(p->router, idx, now_mono_ms()) ==
	    BREAKER_OPEN) {
		code = 503;
	}
	answer = sniff_http_status(code);
	evbuffer_add(out, answer, strlen(answer));
	if (code != 200) {
		STAT_INC(s->t, tunnel_refused);
		log_sinfo("session", s->id, "%s: CONNECT %s%s%s:%u refused "
		    "with %d", s->peer_str, c->name, c->name[0] ? " " : "",
		    c->host, c->port, code);
		session_close_after_flush(s, "tunnel refused");
		if (code == 404) /* open-proxy scanners probe targets */
			guard_violation(s, SECURITY_V_PROTOCOL);
		return -1;
	}
	STAT_INC(s->t, tunnels);
	s->pool = idx;
	s->pinned = true;
	log_sdebug("session", s->id, "tunnel to pool %s",
	    router_pool(p->router, idx)->name);
	return 0;
}

static void
session_refuse(struct session *s, const char *answer, const char *why)
{
	if (answer != NULL)
		evbuffer_add(session_out(s), answer,
		    strlen(answer));
	session_close_after_flush(s, why);
}

/*
 * Look at the first bytes. Returns 1 when Stratum may be read, 0 when more
 * bytes are needed, -1 when the session was refused.
 */
static int
session_sniff(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->down);
	struct proxy *p = s->t->proxy;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		size_t look = len < SESSION_SNIFF_MAX ? len : SESSION_SNIFF_MAX;
		const uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)look);
		enum sniff_kind kind = sniff_classify(buf, look);
		struct sniff_proxy px;
		struct sniff_connect cn;
		int n;

		/* TLS ports, and TLS on plain ports (proxy_tls.c). */
		n = proxy_tls_sniff(s, kind);
		if (n != 0)
			return n > 0 ? 0 : -1;
		switch (kind) {
		case SNIFF_NEED_MORE:
			return 0;
		case SNIFF_STRATUM:
			session_set_state(s, SESSION_STRATUM);
			return 1;
		case SNIFF_PROXY_V1:
		case SNIFF_PROXY_V2:
			if (s->proxy_header_done ||
			    !cidr_set_contains(&p->trusted,
			    (struct sockaddr *)&s->peer)) {
				STAT_INC(s->t, refused_proxy);
				log_sinfo("session", s->id, "%s: PROXY header "
				    "from a peer not in trusted_proxies; "
				    "closing", s->peer_str);
				session_drop(s, "untrusted PROXY header");
				guard_violation(s, SECURITY_V_UNTRUSTED_PROXY);
				return -1;
			}
			n = kind == SNIFF_PROXY_V1 ?
			    sniff_proxy_v1(buf, look, &px) :
			    sniff_proxy_v2(buf, look, &px);
			if (n == 0)
				return 0;
			if (n < 0) {
				STAT_INC(s->t, refused_proxy);
				session_drop(s, "malformed PROXY header");
				guard_violation(s, SECURITY_V_PROTOCOL);
				return -1;
			}
			evbuffer_drain(in, (size_t)n);
			s->proxy_header_done = true;
			if (px.has_addr) {
				char was[64];

				memcpy(was, s->peer_str, sizeof(was));
				if (px.src_len <= sizeof(s->peer))
					memcpy(&s->peer, &px.src,
					    px.src_len);
				format_peer(s);
				log_sdebug("session", s->id, "%s is %s (PROXY "
				    "header)", was, s->peer_str);
				if (guard_peer_changed(s) != 0)
					return -1;
			}
			continue;
		case SNIFF_HTTP_CONNECT:
			n = sniff_http_connect(buf, look, &cn);
			if (n == 0 && look < SNIFF_CONNECT_MAX)
				return 0;
			if (n <= 0) {
				STAT_INC(s->t, tunnel_refused);
				session_refuse(s, sniff_http_status(400),
				    "malformed CONNECT");
				guard_violation(s, SECURITY_V_PROTOCOL);
				return -1;
			}
			evbuffer_drain(in, (size_t)n);
			if (session_tunnel(s, &cn) != 0)
				return -1;
			/* What follows the tunnel's opening is Stratum. */
			session_set_state(s, SESSION_STRATUM);
			return 1;
		case SNIFF_HTTP_OTHER:
			STAT_INC(s->t, http_rejected);
			session_refuse(s, sniff_http_not_stratum(),
			    "plain HTTP");
			guard_violation(s, SECURITY_V_PROTOCOL);
			return -1;
		case SNIFF_TLS:
		case SNIFF_UNKNOWN:
		default:
			STAT_INC(s->t, unknown_protocol);
			msg_send_error(session_out(s), NULL,
			    MSG_ERR_PARSE, "Parse error: this is a Stratum "
			    "(JSON-RPC) port");
			session_close_after_flush(s, kind == SNIFF_TLS ?
			    "TLS on a plain port" : "unknown protocol");
			guard_violation(s, SECURITY_V_PROTOCOL);
			return -1;
		}
	}
}

/* Handle buffered lines, at most a budget of them. */
static void
session_read_lines(struct session *s)
{
	struct proxy *p = s->t->proxy;
	size_t max = (size_t)p->cfg->server.max_line_length;

	for (int i = 0; i < SESSION_LINES_PER_WAKEUP; i++) {
		char *line;
		size_t len;
		int rc;

		if (s->down == NULL || (s->state != SESSION_STRATUM &&
		    s->state != SESSION_ACTIVE))
			return;
		rc = msg_read_line(bufferevent_get_input(s->down), max, &line,
		    &len);
		if (rc == 0) {
			guard_partial(s, evbuffer_get_length(
			    bufferevent_get_input(s->down)) > 0);
			return;
		}
		if (rc < 0) {
			STAT_INC(s->t, line_too_long);
			log_sinfo("session", s->id, "%s: line longer than %zu "
			    "bytes; closing", s->peer_str, max);
			msg_send_error(session_out(s), NULL,
			    MSG_ERR_INVALID_REQUEST, "Line too long");
			session_close_after_flush(s, "line too long");
			guard_violation(s, SECURITY_V_LINE_TOO_LONG);
			return;
		}
		rc = guard_line(s, line, len);
		if (rc == 0)
			rc = session_mode(s)->miner_line(s, line, len);
		free(line);
		if (rc < 0)
			return;
	}
	/* Budget spent: let other sessions run, then come back. */
	if (s->down != NULL &&
	    evbuffer_get_length(bufferevent_get_input(s->down)) > 0) {
		/* Created on first need: most sessions never spend it. */
		if (s->resume == NULL)
			s->resume = event_new(worker_base(s->t->worker), -1,
			    0, session_on_resume, s);
		if (s->resume != NULL)
			event_active(s->resume, 0, 0);
	}
}

static void
session_on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_read_lines(arg);
}

static void
session_on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (s->state == SESSION_SNIFF) {
		if (session_sniff(s) <= 0) {
			if (s->state == SESSION_SNIFF && s->down != NULL &&
			    evbuffer_get_length(bufferevent_get_input(
			    s->down)) >= SESSION_SNIFF_MAX) {
				STAT_INC(s->t, unknown_protocol);
				session_drop(s, "unrecognised first bytes");
				guard_violation(s, SECURITY_V_PROTOCOL);
			} else if (s->state == SESSION_SNIFF &&
			    s->down != NULL) {
				guard_partial(s, evbuffer_get_length(
				    bufferevent_get_input(s->down)) > 0);
			}
			return;
		}
	}
	session_read_lines(s);
}

static void
session_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == SESSION_ACTIVE) {
			STAT_INC(s->t, idle_timeouts);
			log_sinfo("session", s->id, "%s: idle for "
			    "idle_timeout; closing", s->peer_str);
			session_drop(s, "idle timeout");
		} else {
			session_on_timer(-1, 0, s);
		}
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		session_drop(s, (what & BEV_EVENT_EOF) ? "miner closed" :
		    "miner connection error");
}

/* Refuse a connection over max_connections with a one-line answer. */
static void
session_refuse_full(int fd)
{
	static const char answer[] = "{\"id\":null,\"result\":null,\"error\":"
	    "[20,\"Server full: too many connections, try again later\","
	    "null]}\n";

	/* The answer fits any socket buffer; if it does not go, so be it. */
	(void)!send(fd, answer, sizeof(answer) - 1, MSG_DONTWAIT |
	    MSG_NOSIGNAL);
	close(fd);
}

void
session_accept(struct worker *w, int fd, const struct sockaddr *sa,
    int salen, void *arg)
{
	struct proxy_thread *t = worker_data(w);
	struct proxy *p = t->proxy;
	struct session *s;
	int one = 1;
	struct timeval hs;
	bool slot;

	STAT_INC(t, accepted);
	if (t->draining) {
		close(fd);
		return;
	}
	if (guard_admit(t, fd, sa, &slot) != 0)
		return;
	if (atomic_fetch_add_explicit(&p->active, 1, memory_order_relaxed) >=
	    p->cfg->server.max_connections) {
		atomic_fetch_sub_explicit(&p->active, 1, memory_order_relaxed);
		STAT_INC(t, refused_full);
		guard_unadmit(t, sa, slot);
		session_refuse_full(fd);
		return;
	}
	/* Stratum is small request/response traffic: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockopt_keepalive(fd);
	s = xcalloc(1, sizeof(*s));
	s->connected_at = (int64_t)time(NULL);
	s->id = atomic_fetch_add_explicit(&p->next_session, 1,
	    memory_order_relaxed);
	s->t = t;
	s->counted = true;
	s->pool = -1;
	s->difficulty = 0;
	if ((size_t)salen <= sizeof(s->peer))
		memcpy(&s->peer, sa, (size_t)salen);
	format_peer(s);
	/* arg: the TLS context of a tls_bind listener, NULL for bind. */
	s->tls_port = arg != NULL;
	guard_session_init(s, slot);
	TAILQ_INSERT_TAIL(&t->sessions, s, entry);
	t->nsessions++;
	s->down = bufferevent_socket_new(worker_base(w), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(worker_base(w), session_on_timer, s);
	if (s->down == NULL || s->timer == NULL) {
		if (s->down == NULL)
			close(fd);
		session_drop(s, "out of resources");
		return;
	}
	bufferevent_setcb(s->down, session_on_read, session_on_drained,
	    session_on_event, s);
	/* Until authorized, the handshake deadline also bounds silence. */
	hs = ms_to_tv(p->cfg->server.connection_timeout_ms);
	bufferevent_set_timeouts(s->down, &hs, NULL);
	/* EV_WRITE only when a write would block (write-through). */
	bufferevent_enable(s->down, EV_READ);
	session_arm_timer(s, p->cfg->server.connection_timeout_ms);
	log_sdebug("session", s->id, "connection from %s", s->peer_str);
}

void
session_activated(struct session *s)
{
	struct timeval idle =
	    ms_to_tv(s->t->proxy->cfg->server.idle_timeout_ms);

	evtimer_del(s->timer);
	session_set_state(s, SESSION_ACTIVE);
	bufferevent_set_timeouts(s->down, &idle, NULL);
}

void
session_thread_init(struct proxy_thread *t)
{
	TAILQ_INIT(&t->sessions);
	TAILQ_INIT(&t->zombies);
	TAILQ_INIT(&t->dirty);
	TAILQ_INIT(&t->held);
	t->journaled = event_new(worker_base(t->worker), -1, 0,
	    session_on_journaled, t);
	t->held_timer = evtimer_new(worker_base(t->worker),
	    session_on_journaled, t);
	t->reap = event_new(worker_base(t->worker), -1, 0, session_reap, t);
	t->flush = event_new(worker_base(t->worker), -1, 0, session_on_flush,
	    t);
}

static void
session_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_thread *t = arg;
	struct session *s;

	(void)fd;
	(void)what;
	while ((s = TAILQ_FIRST(&t->sessions)) != NULL)
		session_drop(s, "shutdown timeout");
	worker_exit(t->worker);
}

void
session_thread_drain(struct worker *w, void *arg)
{
	struct proxy_thread *t;
	struct session *s, *next;
	struct timeval tv;

	(void)arg;
	if (w == NULL)
		return; /* the worker ended first: nothing to drain */
	t = worker_data(w);
	tv = ms_to_tv(t->proxy->cfg->server.shutdown_timeout_ms);
	t->draining = true;
	worker_stop_listening(w);
	for (s = TAILQ_FIRST(&t->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == SESSION_CLOSING)
			continue;
		if (s->submits_pending == 0 || s->up_state != UP_READY) {
			session_close_after_flush(s, "shutdown");
			continue;
		}
		/* Wait for the pool's verdicts; take no new requests. */
		session_set_state(s, SESSION_DRAINING);
		bufferevent_disable(s->down, EV_READ);
	}
	if (t->nsessions == 0) {
		worker_exit(w);
		return;
	}
	t->drain_timer = evtimer_new(worker_base(w), session_on_drain_timeout,
	    t);
	evtimer_add(t->drain_timer, &tv);
}

void
session_thread_fini(struct proxy_thread *t)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&t->sessions)) != NULL)
		session_drop(s, NULL);
	session_reap(-1, 0, t);
	if (t->ring != NULL)
		store_ring_set_notify(t->ring, NULL, NULL);
	if (t->journaled != NULL)
		event_free(t->journaled);
	if (t->held_timer != NULL)
		event_free(t->held_timer);
	if (t->reap != NULL)
		event_free(t->reap);
	if (t->flush != NULL)
		event_free(t->flush);
	if (t->drain_timer != NULL)
		event_free(t->drain_timer);
}
