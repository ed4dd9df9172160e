/*
 * guard.c: abuse control as sessions see it (see guard.h): the glue
 * between session.c / passthrough.c and the shared security table.
 *
 * Threading: everything runs on the session's worker thread except
 * guard_on_ban(), which copies the banned address into one task per
 * worker; each worker then closes its own sessions from that address.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "net/worker.h"
#include "proxy/proxy_internal.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* Trusted load balancers answer for many miners: never count or ban
 * them, and only their PROXY header's address is checked. */
static bool
guard_trusted(const struct proxy *p, const struct sockaddr *sa)
{
	return cidr_set_contains(&p->trusted, sa);
}

static void
guard_refuse(int fd, enum security_verdict v)
{
	static const char answer[] = "{\"id\":null,\"result\":null,\"error\":"
	    "[20,\"Too many connections from your address, try again "
	    "later\",null]}\n";

	/* Per-IP limits may hit a real farm behind one address: say why.
	 * Banned and filtered peers learn nothing. */
	if (v == SECURITY_REFUSE_IP_CONNECTIONS || v == SECURITY_REFUSE_IP_RATE)
		(void)!send(fd, answer, sizeof(answer) - 1, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
	close(fd);
}

int
guard_admit(struct proxy_thread *t, int fd, const struct sockaddr *sa,
    bool *slot)
{
	struct proxy *p = t->proxy;
	enum security_verdict v;

	*slot = false;
	if (p->security == NULL || guard_trusted(p, sa))
		return 0;
	v = security_admit(p->security, sa, now_mono_ms());
	if (v == SECURITY_ADMIT) {
		*slot = true;
		return 0;
	}
	if (log_enabled(LOG_DEBUG)) {
		char host[64] = "?";

		if (sa->sa_family == AF_INET)
			evutil_inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    sa)->sin_addr, host, sizeof(host));
		else if (sa->sa_family == AF_INET6)
			evutil_inet_ntop(AF_INET6, &((const struct
			    sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
		log_debug("security", "connection from %s refused: %s", host,
		    security_verdict_name(v));
	}
	guard_refuse(fd, v);
	return -1;
}

void
guard_unadmit(struct proxy_thread *t, const struct sockaddr *sa, bool slot)
{
	if (slot && t->proxy->security != NULL)
		security_release(t->proxy->security, sa);
}

static void
guard_on_line_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int64_t timeout = s->t->proxy->cfg->security.line_timeout_ms;
	int64_t left;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (s->guard.line_started_ms == 0 || s->state == SESSION_CLOSING)
		return;
	left = s->guard.line_started_ms + timeout - now_mono_ms();
	if (left > 0) {
		/* The partial line we timed is done; a later one is
		 * pending: wait for its own deadline. */
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
		evtimer_add(s->guard.line_timer, &tv);
		return;
	}
	log_sinfo("security", s->id, "%s: a line was not completed within "
	    "line_timeout (%llds): slow sender; closing", s->peer_str,
	    (long long)(timeout / 1000));
	if (s->t->proxy->security != NULL)
		security_count_close(s->t->proxy->security,
		    SECURITY_CLOSE_LINE_TIMEOUT);
	guard_violation(s, SECURITY_V_LINE_TIMEOUT);
	session_drop(s, "line timeout");
}

void
guard_session_init(struct session *s, bool slot)
{
	const struct cfg_security *cs = &s->t->proxy->cfg->security;

	memset(&s->guard, 0, sizeof(s->guard));
	s->guard.ip_slot = slot;
	ratelimit_init(&s->guard.rate, (double)cs->rate_limit_burst,
	    now_mono_ms());
	/* line_timer: created by the first partial line (most sessions
	 * never leave one waiting: a timer less per miner). */
}

void
guard_session_fini(struct session *s)
{
	if (s->guard.ip_slot && s->t->proxy->security != NULL)
		security_release(s->t->proxy->security,
		    (struct sockaddr *)&s->peer);
	s->guard.ip_slot = false;
	if (s->guard.line_timer != NULL)
		event_free(s->guard.line_timer);
	s->guard.line_timer = NULL;
}

int
guard_peer_changed(struct session *s)
{
	struct proxy *p = s->t->proxy;
	enum security_verdict v;

	if (p->security == NULL || s->guard.ip_slot ||
	    guard_trusted(p, (struct sockaddr *)&s->peer))
		return 0;
	v = security_admit(p->security, (struct sockaddr *)&s->peer,
	    now_mono_ms());
	if (v == SECURITY_ADMIT) {
		s->guard.ip_slot = true;
		return 0;
	}
	log_sdebug("security", s->id, "%s (PROXY header) refused: %s",
	    s->peer_str, security_verdict_name(v));
	if (v == SECURITY_REFUSE_IP_CONNECTIONS || v == SECURITY_REFUSE_IP_RATE)
		msg_send_error(session_out(s), NULL,
		    MSG_ERR_OTHER, "Too many connections from your address, "
		    "try again later");
	session_close_after_flush(s, security_verdict_name(v));
	return -1;
}

bool
guard_violation(struct session *s, enum security_kind kind)
{
	struct proxy *p = s->t->proxy;
	bool banned;

	if (p->security == NULL)
		return false;
	if (guard_trusted(p, (struct sockaddr *)&s->peer)) {
		/* Counted by kind, never against the balancer itself. */
		security_violation(p->security, NULL, kind, now_mono_ms());
		return false;
	}
	banned = security_violation(p->security, (struct sockaddr *)&s->peer,
	    kind, now_mono_ms());
	log_sdebug("security", s->id, "%s: violation: %s%s", s->peer_str,
	    security_kind_name(kind), banned ? " (address banned)" : "");
	if (banned && s->state != SESSION_CLOSING) {
		security_count_close(p->security, SECURITY_CLOSE_BANNED);
		log_sinfo("security", s->id, "%s is banned; closing",
		    s->peer_str);
		session_close_after_flush(s, "banned");
	}
	return banned;
}

int
guard_line(struct session *s, const char *line, size_t len)
{
	const struct cfg_security *cs = &s->t->proxy->cfg->security;
	char err[64];
	struct msg m;

	/* A complete line: whatever was pending is done. */
	s->guard.line_started_ms = 0;
	if (ratelimit_take(&s->guard.rate, cs->rate_limit,
	    (double)cs->rate_limit_burst, now_mono_ms()))
		return 0;
	if (!s->guard.rate_logged)
		log_sinfo("security", s->id, "%s: over rate_limit (%g messages "
		    "per second); refusing messages", s->peer_str,
		    cs->rate_limit);
	s->guard.rate_logged = true;
	if (len > 0 && msg_parse(line, len, &m, err, sizeof(err)) == 0) {
		if (m.id != NULL && m.kind == MSG_REQUEST)
			session_send_error(s, m.id, MSG_ERR_OTHER,
			    "Rate limit exceeded");
		msg_clear(&m);
	}
	if (guard_violation(s, SECURITY_V_RATE_LIMIT) ||
	    s->state == SESSION_CLOSING)
		return -1;
	return 1;
}

void
guard_partial(struct session *s, bool pending)
{
	int64_t timeout = s->t->proxy->cfg->security.line_timeout_ms;
	struct timeval tv;

	if (!pending) {
		s->guard.line_started_ms = 0;
		return;
	}
	if (s->guard.line_started_ms != 0)
		return;
	if (s->guard.line_timer == NULL)
		s->guard.line_timer = evtimer_new(worker_base(s->t->worker),
		    guard_on_line_timer, s);
	if (s->guard.line_timer == NULL)
		return;
	s->guard.line_started_ms = now_mono_ms();
	/* An earlier deadline still armed re-arms itself when it fires. */
	if (evtimer_pending(s->guard.line_timer, NULL))
		return;
	tv.tv_sec = (time_t)(timeout / 1000);
	tv.tv_usec = (suseconds_t)(timeout % 1000) * 1000;
	evtimer_add(s->guard.line_timer, &tv);
}

void
guard_auth_failed(struct session *s, bool replay)
{
	int64_t max = s->t->proxy->cfg->security.max_auth_failures;

	if (replay || max <= 0 || ++s->guard.auth_failures <= max ||
	    s->state == SESSION_CLOSING)
		return;
	log_sinfo("security", s->id, "%s: %d authorizations refused (over "
	    "max_auth_failures); closing", s->peer_str, s->guard.auth_failures);
	if (s->t->proxy->security != NULL)
		security_count_close(s->t->proxy->security,
		    SECURITY_CLOSE_AUTH_FAILURES);
	if (s->down != NULL)
		msg_send_error(session_out(s), NULL,
		    MSG_ERR_UNAUTHORIZED, "Too many failed authorizations");
	if (!guard_violation(s, SECURITY_V_AUTH_FAILURES))
		session_close_after_flush(s, "too many failed authorizations");
}

/* On each worker: close the sessions from a banned address. */
static void
guard_close_banned(struct worker *w, void *arg)
{
	struct proxy_thread *t;
	uint8_t *addr = arg;
	struct session *s, *next;

	if (w == NULL) { /* the worker ended first */
		free(addr);
		return;
	}
	t = worker_data(w);
	for (s = TAILQ_FIRST(&t->sessions); s != NULL; s = next) {
		uint8_t key[16];

		next = TAILQ_NEXT(s, entry);
		if (s->state == SESSION_CLOSING ||
		    security_addr_key((struct sockaddr *)&s->peer, key) != 0 ||
		    memcmp(key, addr, sizeof(key)) != 0)
			continue;
		if (t->proxy->security != NULL)
			security_count_close(t->proxy->security,
			    SECURITY_CLOSE_BANNED);
		log_sinfo("security", s->id, "%s is banned; closing",
		    s->peer_str);
		session_drop(s, "banned");
	}
	free(addr);
}

void
guard_on_ban(const uint8_t addr[16], void *arg)
{
	struct proxy *p = arg;

	for (size_t i = 0; i < p->nworkers; i++) {
		uint8_t *copy;

		if (p->workers[i] == NULL)
			continue;
		copy = xmalloc(16);
		memcpy(copy, addr, 16);
		worker_post(p->workers[i], guard_close_banned, copy);
	}
}
