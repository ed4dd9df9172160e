/*
 * proxy_tls.c: TLS in the proxy (see docs/tls.md).
 *
 * Miners: every connection is accepted as plain TCP and sniffed (session.c).
 * A TLS ClientHello on a tls_bind port, or on a bind port with tls_detect,
 * turns the session's bufferevent into a TLS one here, the bytes already
 * read replayed to OpenSSL; the session then sniffs the decrypted stream
 * as usual (Stratum or an HTTP CONNECT tunnel). A PROXY header from a
 * trusted load balancer may come before the ClientHello. Anything else on a
 * tls_bind port is refused.
 *
 * Pools: a stratum+ssl:// pool gets a TLS bufferevent from its client
 * context (built once at start); the handshake and every certificate check
 * end before passthrough.c sees BEV_EVENT_CONNECTED, so a failed check is a
 * failed connection: counted, logged with its reason, and fed to the pool's
 * circuit breaker.
 *
 * Threading: proxy_tls_init() and proxy_tls_free() run on the main thread
 * while no worker runs; the rest on the session's worker thread.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "net/sniff.h"
#include "net/tls.h"
#include "net/worker.h"
#include "proxy/proxy_internal.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/xmalloc.h"

int
proxy_tls_init(struct proxy *p)
{
	const struct cfg *c = p->cfg;
	const struct cfg_server *srv = &c->server;
	char err[512];

	if (srv->tls_bind.n > 0 || srv->tls_detect) {
		p->tls = tls_server_new("miners", srv->tls_cert_file,
		    srv->tls_key_file, err, sizeof(err));
		if (p->tls == NULL) {
			log_errorx("tls", "[server] TLS for miners: %s", err);
			return -1;
		}
	}
	p->pool_tls = xcalloc(c->npools > 0 ? c->npools : 1,
	    sizeof(*p->pool_tls));
	for (size_t i = 0; i < c->npools; i++) {
		const struct cfg_pool *pool = &c->pools[i];

		if (!pool->tls)
			continue;
		p->pool_tls[i] = tls_client_new(pool->tls_ca_file,
		    pool->tls_verify, pool->tls_fingerprint, err, sizeof(err));
		if (p->pool_tls[i] == NULL) {
			log_errorx("tls", "pool %s: %s", pool->name, err);
			return -1;
		}
		if (!pool->tls_verify)
			log_warnx("tls", "pool %s: TLS WITHOUT VERIFICATION "
			    "(tls_verify = false)%s: for testing only",
			    pool->name, pool->tls_fingerprint[0] != '\0' ?
			    ", only the certificate's fingerprint is checked" :
			    ", anyone on the path can pose as the pool");
		else
			log_info("tls", "pool %s: TLS, certificate checked "
			    "against %s for \"%s\"%s", pool->name,
			    pool->tls_ca_file[0] != '\0' ? pool->tls_ca_file :
			    "the system's CA store", pool->host,
			    pool->tls_fingerprint[0] != '\0' ?
			    " and pinned by fingerprint" : "");
	}
	return 0;
}

void
proxy_tls_free(struct proxy *p)
{
	for (size_t i = 0; p->pool_tls != NULL && i < p->cfg->npools; i++)
		tls_client_free(p->pool_tls[i]);
	free(p->pool_tls);
	p->pool_tls = NULL;
	tls_server_free(p->tls);
	p->tls = NULL;
}

/* Plain text where TLS was expected: say so in plain text, and close. */
static int
proxy_tls_refuse_plain(struct session *s)
{
	STAT_INC(s->t, unknown_protocol);
	log_sinfo("tls", s->id, "%s: plain text on a TLS port; closing",
	    s->peer_str);
	msg_send_error(session_out(s), NULL, MSG_ERR_PARSE,
	    "Parse error: this port speaks TLS (stratum+ssl://)");
	session_close_after_flush(s, "plain text on a TLS port");
	guard_violation(s, SECURITY_V_PROTOCOL); /* a scanner, likely */
	return -1;
}

int
proxy_tls_sniff(struct session *s, int kind)
{
	struct proxy *p = s->t->proxy;
	int64_t ms = p->cfg->server.connection_timeout_ms;
	struct timeval hs = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };
	bufferevent_data_cb readcb, writecb;
	bufferevent_event_cb eventcb;
	struct bufferevent *bev;
	void *arg;

	/* Inside TLS, or a PROXY header first: the usual rules apply. */
	if (s->tls || kind == SNIFF_PROXY_V1 || kind == SNIFF_PROXY_V2 ||
	    kind == SNIFF_NEED_MORE)
		return 0;
	if (kind != SNIFF_TLS)
		return s->tls_port ? proxy_tls_refuse_plain(s) : 0;
	if ((!s->tls_port && !p->cfg->server.tls_detect) || p->tls == NULL) {
		log_sinfo("tls", s->id, "%s: TLS on a plain port and "
		    "tls_detect is off; closing (connect to a tls_bind port, "
		    "or set [server] tls_detect = true)", s->peer_str);
		return 0; /* refused like any unknown protocol */
	}
	bufferevent_getcb(s->down, &readcb, &writecb, &eventcb, &arg);
	bev = tls_server_upgrade(p->tls, s->down);
	if (bev == NULL) {
		/* s->down lost its socket: drop closes nothing twice. */
		session_drop(s, "cannot start TLS");
		return -1;
	}
	s->down = bev;
	s->tls = true;
	STAT_INC(s->t, tls_sessions);
	bufferevent_setcb(bev, readcb, writecb, eventcb, arg);
	/* The handshake counts against connection_timeout like the rest. */
	bufferevent_set_timeouts(bev, &hs, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	log_sdebug("tls", s->id, "%s: TLS handshake on a %s port", s->peer_str,
	    s->tls_port ? "TLS" : "plain");
	return 1;
}

struct bufferevent *
proxy_tls_upstream(struct session *s, const struct cfg_pool *pool)
{
	struct event_base *base = worker_base(s->t->worker);
	struct tls_client *tc = pool->tls && s->t->proxy->pool_tls != NULL ?
	    s->t->proxy->pool_tls[s->pool] : NULL;

	if (!pool->tls)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	return tc != NULL ? tls_client_bufferevent(tc, base, pool->host) : NULL;
}

const char *
proxy_tls_connect_error(struct bufferevent *bev, short what, char *buf,
    size_t size)
{
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_TIMEOUT)
		return "timed out";
	if (tls_failure(bev, buf, size) == 0)
		return buf;
	if (bufferevent_openssl_get_ssl(bev) != NULL &&
	    (what & BEV_EVENT_EOF))
		return "closed during the TLS handshake (not a TLS port?)";
	return evutil_socket_error_to_string(err);
}
