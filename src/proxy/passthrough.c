/*
 * passthrough.c: Stratum relayed over one upstream connection per miner
 * (the original Loka model).
 *
 * The miner sees the pool's own extranonce1, jobs and difficulty. Loka
 * rewrites identities (authorize and every submit), maps request ids so
 * every answer reaches the request that caused it, answers what the pool
 * must not see (ping, multi_version, extranonce.subscribe unless the pool
 * allows it), counts every submit's verdict, and when the pool connection
 * drops reconnects it, replays configure/subscribe/authorize and tells the
 * miner about a new extranonce (or closes it so it reconnects).
 *
 * The connection itself (connect, handshake deadline, failures, backoff,
 * holding a session through an outage) is upstream.c's. Here: what a
 * failed pool leaves behind. The miner's unanswered handshake requests
 * are kept and sent again on the next connection (another pool, often);
 * other pending requests are answered with error 20. While no pool
 * serves the session its requests wait in the backlog; when it gives up,
 * each is answered with error 20 and its submits booked as rejected
 * "other".
 *
 * Threading: everything here runs on the session's worker thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "metrics/registry.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "stratum/identity.h"
#include "stratum/msg.h"
#include "store/store.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* Pool lines can carry long merkle branches; still, bounded. */
#define UP_LINE_MAX (256 * 1024)
#define UP_LINES_PER_WAKEUP 256
/* Malformed lines a miner may send before it is closed. */
#define MINER_BAD_LINES_MAX 16
/* client.reconnect waits at most this long. */
#define UP_RECONNECT_WAIT_MAX_S 60

static const struct cfg_pool *
session_pool(const struct session *s)
{
	return router_pool(s->t->proxy->router, s->pool);
}

static uint64_t
job_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h;
}

static void
job_remember(struct session *s, const char *id)
{
	s->jobs[s->job_next].id_hash = job_hash(id);
	s->jobs[s->job_next].diff = s->difficulty;
	s->job_next = (s->job_next + 1) % SESSION_JOBS;
}

/* The difficulty in force when this job was sent (current if unknown). */
static double
job_difficulty(const struct session *s, const char *id)
{
	uint64_t h = job_hash(id);

	for (size_t i = 0; i < SESSION_JOBS; i++)
		if (s->jobs[i].id_hash == h && s->jobs[i].diff > 0)
			return s->jobs[i].diff;
	return s->difficulty;
}

/* ---- pending requests ---- */

/* A free slot, or NULL when max_pending_requests are waiting already. */
static struct pending *
pend_alloc(struct session *s)
{
	size_t cap = (size_t)s->t->proxy->cfg->server.max_pending_requests;
	size_t old = s->npend;

	for (size_t i = 0; i < s->npend; i++)
		if (s->pend[i].up_id == 0)
			return &s->pend[i];
	if (s->npend >= cap)
		return NULL;
	s->npend = s->npend ? s->npend * 2 : 4;
	if (s->npend > cap)
		s->npend = cap;
	s->pend = xreallocarray(s->pend, s->npend, sizeof(*s->pend));
	memset(s->pend + old, 0, (s->npend - old) * sizeof(*s->pend));
	return &s->pend[old];
}

static void
pend_free(struct pending *p)
{
	json_decref(p->miner_id);
	memset(p, 0, sizeof(*p));
}

static struct pending *
pend_find(struct session *s, json_t *id)
{
	json_int_t v;

	if (!json_is_integer(id))
		return NULL;
	v = json_integer_value(id);
	if (v <= 0 || v > UINT32_MAX)
		return NULL;
	for (size_t i = 0; i < s->npend; i++)
		if (s->pend[i].up_id == (uint32_t)v && !s->pend[i].resend)
			return &s->pend[i];
	return NULL;
}

/* Requests of the handshake: the pool must answer them in time. */
static bool
pend_is_handshake(enum pend_kind kind)
{
	return kind == PEND_CONFIGURE || kind == PEND_SUBSCRIBE ||
	    kind == PEND_AUTHORIZE || kind == PEND_REPLAY ||
	    kind == PEND_REPLAY_SUBSCRIBE;
}

/* A pending slot under a fresh upstream id, or NULL when full. */
static struct pending *
up_pending(struct session *s, enum pend_kind kind, const json_t *miner_id)
{
	struct pending *p = pend_alloc(s);

	if (p == NULL)
		return NULL;
	if (++s->next_up_id == 0)
		s->next_up_id = 1;
	p->up_id = s->next_up_id;
	p->kind = kind;
	p->miner_id = miner_id != NULL ? json_incref((json_t *)miner_id) :
	    NULL;
	p->worker = -1;
	return p;
}

/* Send p's request upstream (steals params); a handshake request starts
 * the pool's handshake deadline if it is not running. */
static void
up_send(struct session *s, struct pending *p, const char *method,
    json_t *params)
{
	json_t *id = json_integer(p->up_id);

	msg_send_request(session_up_out(s), id, method, params);
	json_decref(id);
	STAT_MSG(s->t, PROXY_DIR_TO_POOL, msg_method_id(method));
	if (pend_is_handshake(p->kind))
		upstream_handshake_arm(s);
}

/*
 * Send a request upstream under a fresh id of Loka's own (so ids never
 * collide, whatever the miner uses). Steals params. Returns the pending
 * slot, or NULL (params released) when too many are waiting.
 */
static struct pending *
up_request(struct session *s, enum pend_kind kind, const json_t *miner_id,
    const char *method, json_t *params)
{
	struct pending *p = up_pending(s, kind, miner_id);

	if (p == NULL) {
		json_decref(params);
		return NULL;
	}
	up_send(s, p, method, params);
	return p;
}

/* ---- answers to the miner ---- */

static int
relay_response(struct session *s, const json_t *miner_id, json_t *result,
    json_t *error)
{
	json_t *m;

	if (s->down == NULL)
		return -1;
	/* A share's verdict, the most common answer: no JSON tree. */
	if (error == NULL && json_is_boolean(result) &&
	    json_is_integer(miner_id)) {
		char buf[80];
		int n = snprintf(buf, sizeof(buf), "{\"id\":%" JSON_INTEGER_FORMAT
		    ",\"result\":%s,\"error\":null}\n",
		    json_integer_value(miner_id),
		    json_is_true(result) ? "true" : "false");

		evbuffer_add(session_out(s), buf, (size_t)n);
		STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_RESPONSE);
		return session_check_output(s);
	}
	m = json_pack("{s:O?,s:O?,s:O?}", "id", miner_id, "result",
	    result != NULL ? result : json_null(), "error",
	    error != NULL ? error : json_null());
	if (m == NULL)
		return -1;
	msg_send(session_out(s), m);
	json_decref(m);
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_RESPONSE);
	return session_check_output(s);
}

/* Error code and message of a pool's error value ([code, "msg", ...] or
 * {"code":..,"message":..}). */
static void
error_parts(json_t *error, int *code, const char **message)
{
	*code = 20;
	*message = NULL;
	if (json_is_array(error)) {
		if (json_is_integer(json_array_get(error, 0)))
			*code = (int)json_integer_value(json_array_get(error,
			    0));
		*message = json_string_value(json_array_get(error, 1));
	} else if (json_is_object(error)) {
		if (json_is_integer(json_object_get(error, "code")))
			*code = (int)json_integer_value(json_object_get(error,
			    "code"));
		*message = json_string_value(json_object_get(error,
		    "message"));
	}
}

/* ---- worker identities ---- */

static int
worker_find(const struct session *s, const char *login)
{
	for (size_t i = 0; i < s->nworkers; i++)
		if (strcmp(s->workers[i].login, login) == 0)
			return (int)i;
	return -1;
}

/* (Re)compute the pool-side name of a worker for the current pool. */
static int
worker_identity(struct session *s, struct session_worker *w,
    struct identity *id)
{
	const struct cfg_pool *p = session_pool(s);

	if (identity_rewrite(w->login, p->sep1, p->sep2, p->username, id) != 0)
		return -1;
	free(w->pool_name);
	w->pool_name = xstrdup(id->pool_name);
	return 0;
}

static json_t *
authorize_params(const struct session *s, const struct session_worker *w)
{
	const struct cfg_pool *p = session_pool(s);
	const char *password = p->password[0] != '\0' ? p->password :
	    w->password;

	return json_pack("[s,s]", w->pool_name, password);
}

/* ---- miner requests ---- */

static int
miner_subscribe(struct session *s, struct msg *m)
{
	json_t *params = m->params != NULL ? json_deep_copy(m->params) :
	    json_array();

	/* Kept for the re-subscribe after a reconnect. */
	free(s->subscribe_params);
	s->subscribe_params = json_dumps(params, JSON_COMPACT);
	if (up_request(s, PEND_SUBSCRIBE, m->id, "mining.subscribe",
	    params) == NULL)
		return session_send_error(s, m->id, MSG_ERR_OTHER,
		    "Too many pending requests");
	return 0;
}

static uint32_t
parse_mask(const char *hex)
{
	char *end;
	unsigned long v;

	if (hex == NULL)
		return 0;
	errno = 0;
	v = strtoul(hex, &end, 16);
	if (errno != 0 || *end != '\0' || end == hex || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

static int
miner_configure(struct session *s, struct msg *m)
{
	json_t *exts = json_array_get(m->params, 0);
	json_t *opts = json_array_get(m->params, 1);

	if (!json_is_array(exts))
		return session_send_error(s, m->id, MSG_ERR_INVALID_PARAMS,
		    "Invalid params: expected [[extensions], {options}]");
	s->requested_mask = parse_mask(json_string_value(json_object_get(opts,
	    "version-rolling.mask")));
	json_decref(s->configure_params);
	s->configure_params = json_deep_copy(m->params);
	if (up_request(s, PEND_CONFIGURE, m->id, "mining.configure",
	    json_incref(s->configure_params)) == NULL)
		return session_send_error(s, m->id, MSG_ERR_OTHER,
		    "Too many pending requests");
	return 0;
}

static int
miner_authorize(struct session *s, struct msg *m)
{
	const char *login = msg_param_str(m, 0);
	const char *password = msg_param_str(m, 1);
	struct session_worker *w;
	struct identity id;
	struct pending *p;
	int i;

	if (login == NULL)
		return session_send_error(s, m->id, MSG_ERR_INVALID_PARAMS,
		    "Invalid params: expected [\"user.worker\", \"password\"]");
	i = worker_find(s, login);
	if (i < 0) {
		if (s->nworkers >= SESSION_WORKERS_MAX)
			return session_send_error(s, m->id,
			    MSG_ERR_UNAUTHORIZED,
			    "Too many workers on one connection");
		s->workers = xreallocarray(s->workers, s->nworkers + 1,
		    sizeof(*s->workers));
		w = &s->workers[s->nworkers];
		memset(w, 0, sizeof(*w));
		w->login = xstrdup(login);
		w->password = xstrdup(password != NULL ? password : "");
		i = (int)s->nworkers++;
	}
	w = &s->workers[i];
	if (worker_identity(s, w, &id) != 0)
		return session_send_error(s, m->id, MSG_ERR_UNAUTHORIZED,
		    "Invalid worker name");
	p = up_request(s, PEND_AUTHORIZE, m->id, "mining.authorize",
	    authorize_params(s, w));
	if (p == NULL)
		return session_send_error(s, m->id, MSG_ERR_OTHER,
		    "Too many pending requests");
	p->worker = i;
	return 0;
}

/* Whether v can go between quotes in JSON as it is. */
static bool
json_plain(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e ||
		    *v == '"' || *v == '\\')
			return false;
	return true;
}

/*
 * The pool's mining.submit line, printed without a JSON tree: 5 or 6
 * parameters, every one a plain string (hex and names), the first
 * replaced by the worker's name at the pool. -1 (nothing written) when
 * the submit is not of that usual form.
 */
static int
submit_line(struct session *s, uint32_t id, const char *worker,
    const char *const *vals, size_t np)
{
	char buf[1024];
	size_t n;
	int k;

	if (np < 5 || np > 6)
		return -1;
	k = snprintf(buf, sizeof(buf), "{\"id\":%" PRIu32 ",\"method\":"
	    "\"mining.submit\",\"params\":[", id);
	n = (size_t)k;
	for (size_t i = 0; i < np; i++) {
		const char *v = i == 0 ? worker : vals[i];
		size_t len;

		if (v == NULL || !json_plain(v) ||
		    (len = strlen(v)) + n + 8 > sizeof(buf))
			return -1;
		buf[n++] = i > 0 ? ',' : '"';
		if (i > 0)
			buf[n++] = '"';
		memcpy(buf + n, v, len);
		n += len;
		buf[n++] = '"';
	}
	memcpy(buf + n, "]}\n", 3);
	evbuffer_add(session_up_out(s), buf, n + 3);
	return 0;
}

/*
 * A miner's mining.submit with id: its np parameters as strings in vals
 * (NULL for one that is not a string; at most MSG_SCAN_PARAMS of them
 * are looked at), and the JSON array params when it was parsed (NULL when
 * scanned: then every parameter is a string in vals). Checks, a pending
 * slot, the line to the pool.
 */
static int
submit_forward(struct session *s, const json_t *id, const char *const *vals,
    size_t np, const json_t *params)
{
	const char *login = np > 0 ? vals[0] : NULL;
	const char *job = np > 1 ? vals[1] : NULL;
	struct pending *p;
	int i;

	STAT_INC(s->t, submits);
	if (login == NULL || job == NULL || np < 5)
		return session_send_error(s, id, MSG_ERR_INVALID_PARAMS,
		    "Invalid params: expected [worker, job_id, extranonce2, "
		    "ntime, nonce(, version_bits)]");
	if (!s->subscribed)
		return session_send_error(s, id, MSG_ERR_NOT_SUBSCRIBED,
		    "Not subscribed");
	i = worker_find(s, login);
	if (i < 0 || !s->workers[i].authorized)
		return session_send_error(s, id, MSG_ERR_UNAUTHORIZED,
		    "Unauthorized worker");
	p = up_pending(s, PEND_SUBMIT, id);
	if (p == NULL) {
		STAT_INC(s->t, pending_full);
		return session_send_error(s, id, MSG_ERR_OTHER,
		    "Too many pending requests");
	}
	/* The usual submit (plain strings) is printed directly; anything
	 * else goes through a JSON tree. */
	if (submit_line(s, p->up_id, s->workers[i].pool_name, vals, np) != 0) {
		json_t *copy = params != NULL ? json_deep_copy(params) :
		    json_array(), *up_id;

		for (size_t k = 0; params == NULL && k < np; k++)
			json_array_append_new(copy, json_string(vals[k]));
		json_array_set_new(copy, 0,
		    json_string(s->workers[i].pool_name));
		up_id = json_integer(p->up_id);
		msg_send_request(session_up_out(s), up_id, "mining.submit",
		    copy);
		json_decref(up_id);
	}
	STAT_MSG(s->t, PROXY_DIR_TO_POOL, MSG_M_SUBMIT);
	p->worker = i;
	p->diff = job_difficulty(s, job);
	p->sent_us = now_mono_us();
	s->submits_pending++;
	return 0;
}

static int
miner_submit(struct session *s, struct msg *m)
{
	const char *vals[MSG_SCAN_PARAMS] = { NULL };
	size_t np = json_array_size(m->params);

	/* Past the usual six, submit_line declines: the JSON path. */
	for (size_t i = 0; i < np && i < MSG_SCAN_PARAMS; i++)
		vals[i] = msg_param_str(m, i);
	return submit_forward(s, m->id, vals, np, m->params);
}

/* The usual submit, scanned (msg_scan) instead of parsed. */
static int
miner_submit_scanned(struct session *s, struct msg_scan *sc)
{
	const char *vals[MSG_SCAN_PARAMS];
	json_t *id = sc->id_type == MSG_SCAN_INT ? json_integer(sc->id_int) :
	    json_stringn(sc->id_str.p, sc->id_str.len);
	int rc;

	msg_scan_terminate(sc);
	for (size_t i = 0; i < sc->nparams; i++)
		vals[i] = sc->params[i].p;
	rc = submit_forward(s, id, vals, sc->nparams, NULL);
	json_decref(id);
	return rc;
}

static int
miner_forward(struct session *s, struct msg *m)
{
	json_t *params = m->params != NULL ? json_deep_copy(m->params) :
	    json_array();

	if (m->kind == MSG_NOTIFICATION) {
		msg_send_request(session_up_out(s), NULL,
		    m->method, params);
		STAT_MSG(s->t, PROXY_DIR_TO_POOL, msg_method_id(m->method));
		return 0;
	}
	if (up_request(s, PEND_FORWARD, m->id, m->method, params) == NULL) {
		STAT_INC(s->t, pending_full);
		return session_send_error(s, m->id, MSG_ERR_OTHER,
		    "Too many pending requests");
	}
	return 0;
}

/* Methods that need the pool: queue them until it is connected. */
static bool
needs_upstream(const char *method)
{
	static const char *const methods[] = {
		"mining.subscribe", "mining.configure", "mining.authorize",
		"mining.submit", "mining.suggest_difficulty",
		"mining.suggest_target", "mining.extranonce.subscribe",
		"mining.get_transactions",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i]) == 0)
			return true;
	return false;
}

static int
backlog_add(struct session *s, const char *line, size_t len, json_t *id)
{
	if (s->backlog_lines >=
	    (size_t)s->t->proxy->cfg->server.max_pending_requests) {
		STAT_INC(s->t, pending_full);
		return id != NULL ? session_send_error(s, id, MSG_ERR_OTHER,
		    "Too many pending requests") : 0;
	}
	if (s->backlog == NULL)
		s->backlog = evbuffer_new();
	evbuffer_add(s->backlog, line, len);
	evbuffer_add(s->backlog, "\n", 1);
	s->backlog_lines++;
	return 0;
}

static int
miner_request(struct session *s, struct msg *m, const char *line, size_t len)
{
	const char *method = m->method;
	const struct cfg_pool *pool;

	/* Answered by Loka itself. */
	if (strcmp(method, "mining.ping") == 0 ||
	    strcmp(method, "client.ping") == 0)
		return m->id != NULL ?
		    session_send_result(s, m->id, json_string("pong")) : 0;
	if (strcmp(method, "mining.multi_version") == 0)
		return m->id != NULL ?
		    session_send_result(s, m->id, json_true()) : 0;
	if (!needs_upstream(method)) {
		if (m->id == NULL)
			return 0; /* unknown notification: ignored */
		return session_send_error(s, m->id, MSG_ERR_METHOD_NOT_FOUND,
		    "Method not found");
	}
	if (s->up == NULL && s->up_state == UP_NONE) {
		upstream_connect(s);
		if (s->state == SESSION_CLOSING)
			return -1;
	}
	pool = session_pool(s);
	if (strcmp(method, "mining.extranonce.subscribe") == 0) {
		s->extranonce_subscribed = true;
		if (pool == NULL || !pool->extranonce_subscribe)
			return m->id != NULL ?
			    session_send_result(s, m->id, json_true()) : 0;
	}
	if (s->up_state != UP_READY)
		return backlog_add(s, line, len, m->id);
	if (m->kind == MSG_NOTIFICATION)
		return miner_forward(s, m);
	if (strcmp(method, "mining.submit") == 0)
		return miner_submit(s, m);
	if (strcmp(method, "mining.authorize") == 0)
		return miner_authorize(s, m);
	if (strcmp(method, "mining.subscribe") == 0)
		return miner_subscribe(s, m);
	if (strcmp(method, "mining.configure") == 0)
		return miner_configure(s, m);
	return miner_forward(s, m);
}

static int miner_line(struct session *s, char *line, size_t len,
    bool fresh);

static int
passthrough_miner_line(struct session *s, char *line, size_t len)
{
	return miner_line(s, line, len, true);
}

/* A line from the miner: fresh, or queued while the pool connected (then
 * already counted). */
static int
miner_line(struct session *s, char *line, size_t len, bool fresh)
{
	char err[200];
	struct msg_scan sc;
	struct msg m;
	int rc;

	if (len == 0)
		return 0;
	/* The usual submit on a connected upstream: scanned, no JSON tree
	 * (anything else, and every other message, is parsed). */
	if (s->up_state == UP_READY && msg_scan(line, len, &sc) == 1 &&
	    sc.method_type == MSG_SCAN_STRING &&
	    sc.method.len == sizeof("mining.submit") - 1 &&
	    memcmp(sc.method.p, "mining.submit", sc.method.len) == 0 &&
	    (sc.id_type == MSG_SCAN_INT || sc.id_type == MSG_SCAN_STRING) &&
	    sc.params_type == MSG_SCAN_ARRAY &&
	    sc.result_type == MSG_SCAN_ABSENT &&
	    sc.error_type == MSG_SCAN_ABSENT) {
		if (fresh)
			STAT_MSG(s->t, PROXY_DIR_FROM_MINER, MSG_M_SUBMIT);
		rc = miner_submit_scanned(s, &sc);
		return rc < 0 || s->state == SESSION_CLOSING ? -1 : 0;
	}
	rc = msg_parse(line, len, &m, err, sizeof(err));
	if (rc != 0) {
		STAT_INC(s->t, parse_errors);
		log_sdebug("stratum", s->id, "bad line from %s: %s",
		    s->peer_str, err);
		if (session_send_error(s, NULL, rc, rc == MSG_ERR_PARSE ?
		    "Parse error" : "Invalid request") != 0)
			return -1;
		if (++s->bad_lines > MINER_BAD_LINES_MAX) {
			session_close_after_flush(s, "too many bad lines");
			guard_violation(s, SECURITY_V_BAD_INPUT);
			return -1;
		}
		return 0;
	}
	if (fresh)
		STAT_MSG(s->t, PROXY_DIR_FROM_MINER, m.kind == MSG_RESPONSE ?
		    MSG_M_RESPONSE : msg_method_id(m.method));
	if (m.kind == MSG_RESPONSE) {
		/* Loka sends the miner no requests that need an answer. */
		msg_clear(&m);
		return 0;
	}
	rc = miner_request(s, &m, line, len);
	msg_clear(&m);
	return rc < 0 || s->state == SESSION_CLOSING ? -1 : 0;
}

/* ---- pool responses ---- */

/* The miner's answer to configure: every extension it asked for. */
static json_t *
configure_answer(struct session *s, json_t *pool_result)
{
	json_t *exts = json_array_get(s->configure_params, 0);
	json_t *res = json_object();
	size_t i;
	json_t *e;

	s->version_rolling = false;
	json_array_foreach(exts, i, e) {
		const char *name = json_string_value(e);
		json_t *v;

		if (name == NULL)
			continue;
		v = json_object_get(pool_result, name);
		if (strcmp(name, "version-rolling") == 0) {
			uint32_t pool_mask = parse_mask(json_string_value(
			    json_object_get(pool_result,
			    "version-rolling.mask")));
			char hex[9];

			/* Never wider than the pool's grant, nor than the
			 * miner's request. */
			s->granted_mask = pool_mask & s->requested_mask;
			s->version_rolling = json_is_true(v) &&
			    s->granted_mask != 0;
			json_object_set_new(res, name,
			    json_boolean(s->version_rolling));
			snprintf(hex, sizeof(hex), "%08x", s->granted_mask);
			if (s->version_rolling)
				json_object_set_new(res,
				    "version-rolling.mask", json_string(hex));
			continue;
		}
		json_object_set(res, name, json_is_boolean(v) ? v :
		    json_false());
		/* Carry the pool's "<ext>.<param>" answers along. */
		{
			const char *key;
			json_t *val;
			size_t nlen = strlen(name);

			json_object_foreach(pool_result, key, val)
				if (strncmp(key, name, nlen) == 0 &&
				    key[nlen] == '.')
					json_object_set(res, key, val);
		}
	}
	return res;
}

static void
on_subscribed(struct session *s, json_t *result, bool replay)
{
	const char *en1 = json_string_value(json_array_get(result, 1));
	json_t *size = json_array_get(result, 2);
	int en2 = json_is_integer(size) ? (int)json_integer_value(size) : -1;
	bool changed;

	if (en1 == NULL || en2 < 0 || en2 > 32) {
		log_swarnx("stratum", s->id, "pool %s: malformed subscribe "
		    "answer", session_pool(s)->name);
		return;
	}
	changed = s->extranonce1 == NULL || strcmp(s->extranonce1, en1) != 0 ||
	    s->extranonce2_size != en2;
	free(s->extranonce1);
	s->extranonce1 = xstrdup(en1);
	s->extranonce2_size = en2;
	s->subscribed = true;
	if (!replay || !changed)
		return;
	if (s->extranonce_subscribed) {
		json_t *params = json_pack("[s,i]", en1, en2);

		log_sdebug("stratum", s->id, "new extranonce after reconnect: "
		    "sending mining.set_extranonce");
		msg_send_request(session_out(s), NULL,
		    "mining.set_extranonce", params);
		session_check_output(s);
		return;
	}
	log_sinfo("stratum", s->id, "%s: the pool gave a new extranonce and "
	    "the miner cannot take one; closing so it reconnects",
	    s->peer_str);
	session_close_after_flush(s, "extranonce changed");
}

static void
on_authorized(struct session *s, int worker, json_t *result, bool replay)
{
	struct session_worker *w;
	struct identity id;

	if (worker < 0 || (size_t)worker >= s->nworkers)
		return;
	w = &s->workers[worker];
	if (!json_is_true(result)) {
		if (replay)
			log_swarnx("stratum", s->id, "pool %s refused worker "
			    "%s after reconnecting", session_pool(s)->name,
			    w->pool_name);
		w->authorized = false;
		guard_auth_failed(s, replay);
		return;
	}
	if (identity_rewrite(w->login, session_pool(s)->sep1,
	    session_pool(s)->sep2, session_pool(s)->username, &id) != 0)
		return;
	w->acct = acct_worker_get(s->t->acct, s->pool, id.user, id.worker);
	if (w->acct == NULL) {
		log_swarnx("stratum", s->id, "worker table full; refusing %s",
		    w->pool_name);
		return;
	}
	w->authorized = true;
	proxy_metrics_worker(s->t->proxy, w, session_pool(s)->name, id.user,
	    id.worker);
	if (s->t->ring != NULL)
		store_post_seen(s->t->ring, session_pool(s)->name, id.user,
		    id.worker, now_wall_ms());
	if (!replay)
		log_sinfo("stratum", s->id, "%s authorized %s as %s on pool %s",
		    s->peer_str, w->login, w->pool_name, session_pool(s)->name);
	if (s->state == SESSION_STRATUM && s->subscribed)
		session_activated(s);
}

static void
on_submit_verdict(struct session *s, int worker, double diff,
    int64_t sent_us, json_t *result, json_t *error)
{
	struct session_worker *w = worker >= 0 &&
	    (size_t)worker < s->nworkers ? &s->workers[worker] : NULL;
	struct proxy *p = s->t->proxy;

	if (s->submits_pending > 0)
		s->submits_pending--;
	upstream_verdicts_done(s);
	if (p->submit_rtt != NULL && s->pool >= 0 && sent_us > 0)
		metrics_histogram_observe(p->submit_rtt[s->pool],
		    (double)(now_mono_us() - sent_us) / 1e6);
	if (json_is_true(result) && error == NULL) {
		books_share(s, w, true, ACCT_REJ_MAX, diff);
	} else {
		int code;
		const char *message;

		error_parts(error, &code, &message);
		books_share(s, w, false, acct_reason(code, message), diff);
	}
}

static void
up_response(struct session *s, struct msg *m)
{
	struct pending *slot = pend_find(s, m->id);
	struct pending p;
	json_t *answer;

	if (slot == NULL) {
		log_sdebug("stratum", s->id, "pool answered an unknown id");
		return;
	}
	/* Take the request out first: answering may close the session,
	 * which releases the pending table. */
	p = *slot;
	memset(slot, 0, sizeof(*slot));
	switch (p.kind) {
	case PEND_CONFIGURE:
		answer = configure_answer(s, m->error == NULL &&
		    json_is_object(m->result) ? m->result : NULL);
		relay_response(s, p.miner_id, answer, NULL);
		json_decref(answer);
		break;
	case PEND_SUBSCRIBE:
		if (m->error == NULL)
			on_subscribed(s, m->result, false);
		if (relay_response(s, p.miner_id, m->result, m->error) != 0)
			break;
		if (s->state == SESSION_STRATUM && s->subscribed)
			for (size_t i = 0; i < s->nworkers; i++)
				if (s->workers[i].authorized) {
					session_activated(s);
					break;
				}
		break;
	case PEND_AUTHORIZE:
		on_authorized(s, p.worker, m->error == NULL ? m->result : NULL,
		    false);
		relay_response(s, p.miner_id, m->result, m->error);
		break;
	case PEND_SUBMIT:
		on_submit_verdict(s, p.worker, p.diff, p.sent_us, m->result,
		    m->error);
		if (relay_response(s, p.miner_id, m->result, m->error) == 0)
			session_drain_check(s);
		break;
	case PEND_FORWARD:
		relay_response(s, p.miner_id, m->result, m->error);
		break;
	case PEND_REPLAY_SUBSCRIBE:
		if (m->error == NULL)
			on_subscribed(s, m->result, true);
		break;
	case PEND_REPLAY:
		if (p.worker >= 0)
			on_authorized(s, p.worker, m->error == NULL ?
			    m->result : NULL, true);
		break;
	case PEND_KIND_MAX:
		break;
	}
	json_decref(p.miner_id);
	if (s->state != SESSION_CLOSING && s->up != NULL &&
	    pend_is_handshake(p.kind))
		upstream_handshake_answer(s, p.kind, p.worker,
		    m->error == NULL && !json_is_null(m->result));
}

/* ---- pool requests and notifications ---- */

static void
up_request_in(struct session *s, struct msg *m, const char *line, size_t len)
{
	const char *method = m->method;
	double d;

	if (strcmp(method, "mining.notify") == 0) {
		const char *job = msg_param_str(m, 0);

		if (job != NULL)
			job_remember(s, job);
		POOL_INC(s->t, s->pool, notifies);
		STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_NOTIFY);
		session_send_raw(s, line, len);
	} else if (strcmp(method, "mining.set_difficulty") == 0) {
		if (msg_param_double(m, 0, &d) == 0 && d > 0)
			s->difficulty = d;
		STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_SET_DIFFICULTY);
		session_send_raw(s, line, len);
	} else if (strcmp(method, "mining.set_extranonce") == 0) {
		const char *en1 = msg_param_str(m, 0);
		json_t *size = json_array_get(m->params, 1);

		if (en1 == NULL || !json_is_integer(size))
			return;
		free(s->extranonce1);
		s->extranonce1 = xstrdup(en1);
		s->extranonce2_size = (int)json_integer_value(size);
		if (s->extranonce_subscribed) {
			STAT_MSG(s->t, PROXY_DIR_TO_MINER,
			    MSG_M_SET_EXTRANONCE);
			session_send_raw(s, line, len);
		} else
			session_close_after_flush(s, "pool changed the "
			    "extranonce of a miner that cannot take it");
	} else if (strcmp(method, "mining.set_version_mask") == 0) {
		char hex[9];

		s->granted_mask = parse_mask(msg_param_str(m, 0)) &
		    s->requested_mask;
		snprintf(hex, sizeof(hex), "%08x", s->granted_mask);
		if (s->version_rolling) {
			msg_send_request(session_out(s), NULL,
			    "mining.set_version_mask",
			    json_pack("[s]", hex));
			STAT_MSG(s->t, PROXY_DIR_TO_MINER,
			    MSG_M_SET_VERSION_MASK);
		}
		session_check_output(s);
	} else if (strcmp(method, "client.reconnect") == 0) {
		double wait = 0;

		msg_param_double(m, 2, &wait);
		if (wait < 0 || wait > UP_RECONNECT_WAIT_MAX_S)
			wait = wait < 0 ? 0 : UP_RECONNECT_WAIT_MAX_S;
		log_sinfo("stratum", s->id, "pool %s asked to reconnect; "
		    "reconnecting in %.0fs", session_pool(s)->name, wait);
		upstream_release(s, !s->ever_established);
		upstream_schedule(s, (int64_t)(wait * 1000));
	} else if (strcmp(method, "client.show_message") == 0) {
		const char *text = msg_param_str(m, 0);

		log_sinfo("stratum", s->id, "pool %s says: %s",
		    session_pool(s)->name, text != NULL ? text : "");
	} else if (m->id == NULL) {
		/* another notification: nothing to answer */
	} else if (strcmp(method, "client.get_version") == 0) {
		msg_send_result(session_up_out(s), m->id,
		    json_string("loka-stratum/" LOKA_VERSION));
		STAT_MSG(s->t, PROXY_DIR_TO_POOL, MSG_M_RESPONSE);
	} else if (strcmp(method, "mining.ping") == 0 ||
	    strcmp(method, "client.ping") == 0) {
		msg_send_result(session_up_out(s), m->id,
		    json_string("pong"));
		STAT_MSG(s->t, PROXY_DIR_TO_POOL, MSG_M_RESPONSE);
	} else {
		msg_send_error(session_up_out(s), m->id,
		    MSG_ERR_METHOD_NOT_FOUND, "Method not found");
		STAT_MSG(s->t, PROXY_DIR_TO_POOL, MSG_M_RESPONSE);
	}
}

/*
 * mining.notify is most of what a pool sends (~1 KB each) and is relayed
 * byte for byte: find its job id (the first parameter) by a scan instead
 * of a JSON tree. Only a flat object qualifies (no '{' after the first
 * byte: then "method" and "params" are top-level keys); anything unusual
 * (spaces, escapes, another key order inside) takes the full parse.
 * Returns true when the line was relayed.
 */
static bool
up_fast_notify(struct session *s, const char *line, size_t len)
{
	static const char method[] = "\"method\":\"mining.notify\"";
	static const char params[] = "\"params\":[\"";
	const char *p, *q;
	char job[128];

	if (len < 2 || line[0] != '{' || line[len - 1] != '}' ||
	    memchr(line + 1, '{', len - 1) != NULL ||
	    memmem(line, len, method, sizeof(method) - 1) == NULL ||
	    (p = memmem(line, len, params, sizeof(params) - 1)) == NULL)
		return false;
	p += sizeof(params) - 1;
	q = memchr(p, '"', (size_t)(line + len - p));
	if (q == NULL || (size_t)(q - p) >= sizeof(job) ||
	    memchr(p, '\\', (size_t)(q - p)) != NULL)
		return false;
	memcpy(job, p, (size_t)(q - p));
	job[q - p] = '\0';
	job_remember(s, job);
	POOL_INC(s->t, s->pool, notifies);
	STAT_MSG(s->t, PROXY_DIR_FROM_POOL, MSG_M_NOTIFY);
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_NOTIFY);
	session_send_raw(s, line, len);
	return true;
}

/*
 * A response of the usual flat form (an integer id, result true, false or
 * null, no error: most are share verdicts), scanned instead of parsed.
 * Returns true when it was handled.
 */
static bool
up_fast_response(struct session *s, char *line, size_t len)
{
	struct msg_scan sc;
	struct msg m;

	if (msg_scan(line, len, &sc) != 1 ||
	    sc.method_type != MSG_SCAN_ABSENT ||
	    sc.params_type != MSG_SCAN_ABSENT ||
	    sc.id_type != MSG_SCAN_INT || sc.result_type == MSG_SCAN_ABSENT)
		return false;
	memset(&m, 0, sizeof(m));
	m.kind = MSG_RESPONSE;
	m.id = json_integer(sc.id_int);
	m.result = sc.result_type == MSG_SCAN_TRUE ? json_true() :
	    sc.result_type == MSG_SCAN_FALSE ? json_false() : json_null();
	STAT_MSG(s->t, PROXY_DIR_FROM_POOL, MSG_M_RESPONSE);
	up_response(s, &m);
	json_decref(m.id);
	return true;
}

void
passthrough_pool_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	for (int i = 0; i < UP_LINES_PER_WAKEUP; i++) {
		char err[200], *line;
		size_t len;
		struct msg m;
		int rc;

		if (s->up == NULL || s->state == SESSION_CLOSING)
			return;
		rc = msg_read_line(bufferevent_get_input(s->up), UP_LINE_MAX,
		    &line, &len);
		if (rc == 0)
			return;
		if (rc < 0) {
			STAT_INC(s->t, pool_bad_lines);
			upstream_fail(s, UPSTREAM_FAIL_PROTOCOL, "pool %s sent "
			    "a line over %d bytes", session_pool(s)->name,
			    UP_LINE_MAX);
			return;
		}
		if (len > 0 && (up_fast_notify(s, line, len) ||
		    up_fast_response(s, line, len))) {
			/* handled without a JSON tree */
		} else if (len > 0 &&
		    msg_parse(line, len, &m, err, sizeof(err)) == 0) {
			STAT_MSG(s->t, PROXY_DIR_FROM_POOL,
			    msg_method_id(m.kind == MSG_RESPONSE ? NULL :
			    m.method));
			if (m.kind == MSG_RESPONSE)
				up_response(s, &m);
			else
				up_request_in(s, &m, line, len);
			msg_clear(&m);
		} else if (len > 0) {
			/* The stream cannot be trusted any more. */
			STAT_INC(s->t, pool_bad_lines);
			free(line);
			upstream_fail(s, UPSTREAM_FAIL_PROTOCOL, "pool %s sent "
			    "an unparsable line (%s)", session_pool(s)->name,
			    err);
			return;
		}
		free(line);
	}
	if (s->up != NULL &&
	    evbuffer_get_length(bufferevent_get_input(s->up)) > 0)
		bufferevent_trigger(s->up, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* ---- what a failed or lost pool leaves behind ---- */

/* The worker a pending slot is for, or NULL. */
static struct session_worker *
pend_worker(struct session *s, const struct pending *p)
{
	return p->worker >= 0 && (size_t)p->worker < s->nworkers ?
	    &s->workers[p->worker] : NULL;
}

/* Is a handshake request waiting for the pool's answer? */
bool
passthrough_handshake_pending(const struct session *s, bool carried)
{
	for (size_t i = 0; i < s->npend; i++)
		if (s->pend[i].up_id != 0 &&
		    pend_is_handshake(s->pend[i].kind) &&
		    (carried || !s->pend[i].resend))
			return true;
	return false;
}

/*
 * Answer what the lost connection left unanswered (error 20; a submit
 * among them is booked as rejected "other"). With carry, the miner's own
 * handshake requests (configure, subscribe, authorize) are kept instead,
 * to go to the next connection.
 */
void
passthrough_fail_pending(struct session *s, bool carry)
{
	for (size_t i = 0; i < s->npend; i++) {
		struct pending *p = &s->pend[i];

		if (p->up_id == 0)
			continue;
		if (carry && p->miner_id != NULL &&
		    (p->kind == PEND_CONFIGURE || p->kind == PEND_SUBSCRIBE ||
		    p->kind == PEND_AUTHORIZE)) {
			p->resend = true;
			continue;
		}
		if (p->kind == PEND_SUBMIT) {
			if (s->submits_pending > 0)
				s->submits_pending--;
			books_share(s, pend_worker(s, p), false, ACCT_REJ_OTHER,
			    p->diff);
		}
		if (p->miner_id != NULL && s->down != NULL) {
			msg_send_error(session_out(s), p->miner_id,
			    MSG_ERR_OTHER, p->resend ? "No pool available" :
			    "Pool connection lost; request not answered");
			STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_RESPONSE);
		}
		pend_free(p);
	}
}

/* A submit that waited in the backlog and never went out: booked as
 * rejected "other" (for a worker the session authorized). */
static void
backlog_book_submit(struct session *s, struct msg *m)
{
	const char *login = msg_param_str(m, 0);
	const char *job = msg_param_str(m, 1);
	int i = login != NULL ? worker_find(s, login) : -1;

	STAT_INC(s->t, submits);
	if (i < 0 || !s->workers[i].authorized)
		return;
	books_share(s, &s->workers[i], false, ACCT_REJ_OTHER,
	    job_difficulty(s, job != NULL ? job : ""));
}

/* The session gives up: answer the miner's requests that waited for a
 * pool (error 20), book the submits among them. */
static void
backlog_fail(struct session *s)
{
	char err[200], *line;
	size_t len;
	struct msg m;

	while (s->backlog != NULL && s->backlog_lines > 0 &&
	    msg_read_line(s->backlog, UP_LINE_MAX, &line, &len) == 1) {
		s->backlog_lines--;
		if (len > 0 &&
		    msg_parse(line, len, &m, err, sizeof(err)) == 0) {
			if (m.kind == MSG_REQUEST) {
				if (strcmp(m.method, "mining.submit") == 0)
					backlog_book_submit(s, &m);
				if (s->down != NULL) {
					msg_send_error(session_out(s), m.id,
					    MSG_ERR_OTHER, "No pool available; "
					    "request not sent");
					STAT_MSG(s->t, PROXY_DIR_TO_MINER,
					    MSG_M_RESPONSE);
				}
			}
			msg_clear(&m);
		}
		free(line);
	}
	if (s->backlog != NULL)
		evbuffer_free(s->backlog);
	s->backlog = NULL;
	s->backlog_lines = 0;
}

static void
passthrough_give_up(struct session *s)
{
	upstream_release(s, false);
	backlog_fail(s);
}

static bool
passthrough_waiting_for_pool(const struct session *s)
{
	return s->outage_ms != 0 || s->up_state == UP_CONNECTING ||
	    s->up_state == UP_BACKOFF || s->backlog_lines > 0 ||
	    passthrough_handshake_pending(s, true);
}

static void
passthrough_free(struct session *s)
{
	passthrough_give_up(s);
	upstream_free(s);
	free(s->pend);
	s->pend = NULL;
	s->npend = 0;
	json_decref(s->configure_params);
	free(s->subscribe_params);
	s->configure_params = NULL;
	s->subscribe_params = NULL;
	free(s->extranonce1);
	s->extranonce1 = NULL;
}

/* Is a request of this kind waiting to be sent again? */
static bool
pend_resend_has(const struct session *s, enum pend_kind kind)
{
	for (size_t i = 0; i < s->npend; i++)
		if (s->pend[i].up_id != 0 && s->pend[i].resend &&
		    s->pend[i].kind == kind)
			return true;
	return false;
}

/* After a reconnect: configure, subscribe, authorize again, in order. */
static void
up_replay(struct session *s)
{
	struct identity id;

	if (s->configure_params != NULL &&
	    !pend_resend_has(s, PEND_CONFIGURE))
		up_request(s, PEND_REPLAY, NULL, "mining.configure",
		    json_incref(s->configure_params));
	if (s->subscribed && !pend_resend_has(s, PEND_SUBSCRIBE)) {
		json_t *params = s->subscribe_params != NULL ?
		    json_loads(s->subscribe_params, 0, NULL) : NULL;

		up_request(s, PEND_REPLAY_SUBSCRIBE, NULL, "mining.subscribe",
		    params != NULL ? params : json_array());
	}
	for (size_t i = 0; i < s->nworkers; i++) {
		struct session_worker *w = &s->workers[i];
		struct pending *p;

		if (!w->authorized || worker_identity(s, w, &id) != 0)
			continue;
		p = up_request(s, PEND_REPLAY, NULL, "mining.authorize",
		    authorize_params(s, w));
		if (p != NULL)
			p->worker = (int)i;
	}
}

/* Send again, in their order, the miner's handshake requests that a
 * failed pool left unanswered; the answers go to the miner. */
static void
up_resend(struct session *s)
{
	static const enum pend_kind order[] = {
		PEND_CONFIGURE, PEND_SUBSCRIBE, PEND_AUTHORIZE
	};
	struct identity id;

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (size_t i = 0; i < s->npend; i++) {
			struct pending *p = &s->pend[i];
			struct session_worker *w;
			json_t *params;

			if (p->up_id == 0 || !p->resend || p->kind != order[k])
				continue;
			p->resend = false;
			if (++s->next_up_id == 0)
				s->next_up_id = 1;
			p->up_id = s->next_up_id;
			if (p->kind == PEND_CONFIGURE) {
				up_send(s, p, "mining.configure",
				    s->configure_params != NULL ?
				    json_incref(s->configure_params) :
				    json_array());
				continue;
			}
			if (p->kind == PEND_SUBSCRIBE) {
				params = s->subscribe_params != NULL ?
				    json_loads(s->subscribe_params, 0, NULL) :
				    NULL;
				up_send(s, p, "mining.subscribe",
				    params != NULL ? params : json_array());
				continue;
			}
			/* The name at the pool depends on the pool. */
			w = pend_worker(s, p);
			if (w == NULL || worker_identity(s, w, &id) != 0) {
				if (s->down != NULL)
					msg_send_error(session_out(s),
					    p->miner_id, MSG_ERR_UNAUTHORIZED,
					    "Invalid worker name");
				pend_free(p);
				continue;
			}
			up_send(s, p, "mining.authorize",
			    authorize_params(s, w));
		}
}

/* Feed queued miner lines now that the pool is connected. */
static void
up_drain_backlog(struct session *s)
{
	while (s->backlog != NULL && s->up_state == UP_READY &&
	    s->state != SESSION_CLOSING && s->backlog_lines > 0) {
		char *line;
		size_t len;

		if (msg_read_line(s->backlog, UP_LINE_MAX, &line, &len) != 1)
			break;
		s->backlog_lines--;
		if (miner_line(s, line, len, false) < 0) {
			free(line);
			return;
		}
		free(line);
	}
	/* The handshake is through: give the buffer back (most sessions
	 * never need it again). */
	if (s->backlog != NULL && s->backlog_lines == 0 &&
	    evbuffer_get_length(s->backlog) == 0) {
		evbuffer_free(s->backlog);
		s->backlog = NULL;
	}
}

void
passthrough_pool_connected(struct session *s)
{
	if (s->subscribed)
		up_replay(s);
	up_resend(s);
	up_drain_backlog(s);
}

const struct proxy_mode passthrough_mode = {
	.name = "passthrough",
	.miner_line = passthrough_miner_line,
	.waiting_for_pool = passthrough_waiting_for_pool,
	.give_up = passthrough_give_up,
	.free = passthrough_free,
};
