/*
 * miner.c: one simulated miner's connection and Stratum V1 state machine.
 *
 *   IDLE -> CONNECTING -> [TUNNEL] -> HANDSHAKE -> READY
 *
 * and from any connected state, on a drop, -> BACKOFF -> CONNECTING again
 * (100 ms doubling to 2 s, reset once READY) unless the run is ending, when
 * the miner goes back to IDLE. Every change goes through miner_set_state().
 * One timer per miner serves what the state needs: the connect or handshake
 * timeout, the backoff, or the time the next share is due.
 *
 * The handshake follows the miner's dialect with fixed request ids (ID_*).
 * Submits use ids from SUBMIT_ID_BASE up; their send times sit in a ring
 * indexed by id, so a verdict finds its latency in O(1) and at most
 * PEND_MAX submits are outstanding per miner. Submits lost with a
 * connection stay counted as sent and never answered.
 *
 * Input is bounded: a line is at most MSG_LINE_MAX_DEFAULT bytes (longer
 * ones are skipped up to their newline), and the bufferevent stops reading
 * past READ_HIGH_WATER bytes, which bounds the work of one wakeup. A
 * malformed message is logged and ignored. Output is bounded too: no share
 * is sent while more than OUT_MAX bytes wait to be written.
 *
 * A miner's bufferevent may be freed inside its own callbacks (libevent
 * holds a reference until the callback returns); the read loop checks that
 * m->bev is still the one it was called for. The struct miner itself lives
 * in the sim's array until the end of the run.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "minersim.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Request ids of the handshake; submits count up from SUBMIT_ID_BASE. */
#define ID_CONFIGURE		1
#define ID_MULTIVERSION		2
#define ID_SUBSCRIBE		3
#define ID_SUGGEST		4
#define ID_XNSUB		5
#define ID_AUTHORIZE		6
#define SUBMIT_ID_BASE		100

/* Outstanding submits per miner: the ring starts small and doubles. */
#define PEND_INIT		4
#define PEND_MAX		1024

#define CONNECT_TIMEOUT_MS	10000
/* Generous: a proxy may wait for its own pool before answering. */
#define HANDSHAKE_TIMEOUT_MS	30000
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		2000
/* client.reconnect's wait is honoured up to this. */
#define RECONNECT_WAIT_MAX_MS	2000
/* Read at most this much per wakeup (a few long lines' worth). */
#define READ_HIGH_WATER		(64 * 1024)
/* Stop making shares while this much output waits (a stalled pool). */
#define OUT_MAX			(256 * 1024)
/* Re-check a full output buffer after this long. */
#define OUT_RETRY_MS		10
/* HTTP CONNECT answer: line cap and number of header lines. */
#define TUNNEL_LINE_MAX		8192
#define TUNNEL_LINES_MAX	64
/* Random-mode shares sent per timer wakeup when behind schedule. */
#define BURST_MAX		64
/* Long enough for any login FORMAT main.c accepts plus an index. */
#define USER_MAX		256

static const char *const state_names[MINER_STATE_MAX] = {
	[MINER_IDLE] = "idle",
	[MINER_CONNECTING] = "connecting",
	[MINER_TUNNEL] = "tunnel",
	[MINER_HANDSHAKE] = "handshake",
	[MINER_READY] = "ready",
	[MINER_BACKOFF] = "backoff",
};

static void miner_connect(struct miner *);
static void miner_schedule(struct miner *);

const char *
miner_state_name(enum miner_state state)
{
	if ((unsigned)state >= MINER_STATE_MAX)
		return "?";
	return state_names[state];
}

static uint64_t
sid(const struct miner *m)
{
	return (uint64_t)m->index + 1;
}

static void
miner_set_state(struct miner *m, enum miner_state state)
{
	log_sdebug(SIM_LOG, sid(m), "%s -> %s",
	    miner_state_name((enum miner_state)m->state),
	    miner_state_name(state));
	m->state = (uint8_t)state;
}

static void
timer_in_us(struct miner *m, uint64_t us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(m->timer, &tv);
}

static void
timer_in_ms(struct miner *m, uint32_t ms)
{
	timer_in_us(m, (uint64_t)ms * 1000);
}

static uint64_t
interval_us(const struct sim *sim)
{
	double us = 1e6 / sim->cfg.rate;

	if (!(us >= 1.0))
		return 1;
	if (us > 1e15)
		return (uint64_t)1e15;
	return (uint64_t)us;
}

/*
 * Close the connection and forget everything tied to it. Submits still
 * outstanding are lost: they stay sent and unanswered.
 */
static void
miner_close(struct miner *m)
{
	struct sim *sim = m->sim;

	if (m->bev != NULL) {
		bufferevent_free(m->bev);
		m->bev = NULL;
	}
	if (m->timer != NULL)
		evtimer_del(m->timer);
	work_cancel(m);
	work_job_put(sim, m->job);
	m->job = NULL;
	sim->outstanding -= m->outstanding;
	m->outstanding = 0;
	m->pend_len = 0;
	m->pend_head = 0;
	m->flags &= ~(MINER_SUBSCRIBED | MINER_AUTHORIZED | MINER_ROLLING |
	    MINER_XN_SUB | MINER_XN_PENDING | MINER_SKIP_LINE);
	m->mask = 0;
	m->diff = m->job_diff = 1.0;
	m->en1_len = m->en2_size = 0;
	m->tunnel_lines = 0;
}

/* Close, then reconnect after delay_ms unless the run is ending. */
static void
miner_drop(struct miner *m, uint32_t delay_ms)
{
	struct sim *sim = m->sim;

	miner_close(m);
	if (sim->ending) {
		miner_set_state(m, MINER_IDLE);
		sim_check_drained(sim);
		return;
	}
	miner_set_state(m, MINER_BACKOFF);
	timer_in_ms(m, delay_ms);
}

/* The connection failed or was lost: count it, back off, reconnect. */
static void
miner_fail(struct miner *m, const char *why)
{
	uint32_t delay = m->backoff_ms;

	m->sim->disconnects++;
	log_sdebug(SIM_LOG, sid(m), "connection lost in state %s: %s",
	    miner_state_name((enum miner_state)m->state), why);
	m->backoff_ms = (uint16_t)(delay * 2 > BACKOFF_MAX_MS ?
	    BACKOFF_MAX_MS : delay * 2);
	miner_drop(m, delay);
}

static int
send_request(struct miner *m, int id, const char *method, json_t *params)
{
	json_t *jid = json_integer(id);
	int rc;

	rc = msg_send_request(bufferevent_get_output(m->bev), jid, method,
	    params);
	json_decref(jid);
	return rc;
}

static void
send_user_request(struct miner *m, int id, const char *method)
{
	char user[USER_MAX];

	sim_format_user(m->sim, m->index, user, sizeof(user));
	send_request(m, id, method, json_pack("[s,s]", user,
	    m->sim->cfg.password));
}

static void
miner_handshake(struct miner *m)
{
	miner_set_state(m, MINER_HANDSHAKE);
	timer_in_ms(m, HANDSHAKE_TIMEOUT_MS);
	switch (m->dialect) {
	case SIM_DIALECT_CONFIGURE:
		/* cgminer / bmminer: configure first, subscribe right after. */
		send_request(m, ID_CONFIGURE, "mining.configure",
		    json_pack("[[s,s,s,s],{s:s,s:i,s:f}]", "version-rolling",
		    "minimum-difficulty", "subscribe-extranonce", "info",
		    "version-rolling.mask", "1fffe000",
		    "version-rolling.min-bit-count", 2,
		    "minimum-difficulty.value", SIM_SUGGEST_DIFF));
		break;
	case SIM_DIALECT_MULTIVERSION:
		send_request(m, ID_MULTIVERSION, "mining.multi_version",
		    json_pack("[i]", 1));
		break;
	default:
		break;
	}
	send_request(m, ID_SUBSCRIBE, "mining.subscribe",
	    json_pack("[s]", SIM_AGENT));
}

static void
miner_ready(struct miner *m)
{
	struct sim *sim = m->sim;

	evtimer_del(m->timer);
	miner_set_state(m, MINER_READY);
	m->backoff_ms = BACKOFF_MIN_MS;
	if ((m->flags & MINER_EVER_READY) == 0) {
		m->flags |= MINER_EVER_READY;
		sim->handshakes++;
	}
	/* A random phase, so that N miners do not submit in lockstep. */
	m->next_due_us = sim_now_us() + sim_random(sim) % interval_us(sim);
	miner_schedule(m);
}

static void
on_configure(struct miner *m, const struct msg *msg)
{
	const char *mhex;
	uint32_t mask;

	if (!json_is_object(msg->result)) {
		log_sdebug(SIM_LOG, sid(m), "mining.configure not supported");
		return;
	}
	if (!json_is_true(json_object_get(msg->result, "version-rolling")))
		return;
	mhex = json_string_value(json_object_get(msg->result,
	    "version-rolling.mask"));
	if (share_hex_mask(mhex, &mask) == -1) {
		log_swarnx(SIM_LOG, sid(m),
		    "mining.configure: bad version-rolling.mask; not rolling");
		return;
	}
	/* Roll only bits we asked for and the server granted. */
	m->mask = mask & SIM_VR_MASK;
	m->flags |= MINER_ROLLING;
}

static void
on_subscribe(struct miner *m, const struct msg *msg)
{
	const char *en1hex;
	json_t *n2;
	ssize_t n;

	if ((m->flags & MINER_SUBSCRIBED) != 0 ||
	    m->state != MINER_HANDSHAKE)
		return;
	if (msg->error != NULL || !json_is_array(msg->result) ||
	    json_array_size(msg->result) < 3)
		goto bad;
	en1hex = json_string_value(json_array_get(msg->result, 1));
	n2 = json_array_get(msg->result, 2);
	if (en1hex == NULL || !json_is_integer(n2) ||
	    json_integer_value(n2) < 0 ||
	    json_integer_value(n2) > SHARE_EXTRANONCE_MAX)
		goto bad;
	n = share_hex_decode(en1hex, strlen(en1hex), m->en1,
	    SHARE_EXTRANONCE_MAX);
	if (n < 0)
		goto bad;
	m->en1_len = (uint8_t)n;
	m->en2_size = (uint8_t)json_integer_value(n2);
	m->flags |= MINER_SUBSCRIBED;

	switch (m->dialect) {
	case SIM_DIALECT_SUGGEST:
		/* Bitaxe / NerdMiner: suggest before authorize, no reply
		 * needed. */
		send_request(m, ID_SUGGEST, "mining.suggest_difficulty",
		    json_pack("[f]", SIM_SUGGEST_DIFF));
		break;
	case SIM_DIALECT_EXTRANONCE:
		send_request(m, ID_XNSUB, "mining.extranonce.subscribe",
		    json_array());
		m->flags |= MINER_XN_SUB;
		break;
	default:
		break;
	}
	send_user_request(m, ID_AUTHORIZE, "mining.authorize");
	return;
bad:
	log_swarnx(SIM_LOG, sid(m), "mining.subscribe failed or malformed");
	miner_fail(m, "subscribe failed");
}

static void
on_authorize(struct miner *m, const struct msg *msg)
{
	if (m->state != MINER_HANDSHAKE)
		return;
	if (msg->error != NULL || !json_is_true(msg->result)) {
		/* Stay put; the handshake timeout retries later. */
		log_swarnx(SIM_LOG, sid(m), "mining.authorize refused");
		return;
	}
	m->flags |= MINER_AUTHORIZED;
	if ((m->flags & MINER_SUBSCRIBED) != 0)
		miner_ready(m);
}

/* The reject code of a response's error: [code, ...] or {"code": n}. */
static int32_t
error_code(const json_t *error)
{
	const json_t *c = NULL;
	json_int_t v;

	if (json_is_array(error))
		c = json_array_get(error, 0);
	else if (json_is_object(error))
		c = json_object_get(error, "code");
	if (!json_is_integer(c))
		return STATS_CODE_NONE;
	v = json_integer_value(c);
	if (v <= INT32_MIN || v > INT32_MAX)
		return STATS_CODE_NONE;
	return (int32_t)v;
}

static void
on_verdict(struct miner *m, json_int_t id, const struct msg *msg)
{
	struct sim *sim = m->sim;
	uint64_t t0, now;
	uint32_t slot;

	if (id < (json_int_t)m->pend_base ||
	    id - (json_int_t)m->pend_base >= (json_int_t)m->pend_len) {
		log_sdebug(SIM_LOG, sid(m), "response to unknown id %lld",
		    (long long)id);
		return;
	}
	slot = (m->pend_head + (uint32_t)(id - (json_int_t)m->pend_base)) %
	    m->pend_cap;
	if ((t0 = m->pending[slot]) == 0) {
		log_sdebug(SIM_LOG, sid(m), "second response to id %lld",
		    (long long)id);
		return;
	}
	m->pending[slot] = 0;
	now = sim_now_us();
	stats_latency_add(&sim->stats, now >= t0 - 1 ? now - (t0 - 1) : 0);
	m->outstanding--;
	sim->outstanding--;
	while (m->pend_len > 0 && m->pending[m->pend_head] == 0) {
		m->pend_head = (uint16_t)((m->pend_head + 1) % m->pend_cap);
		m->pend_len--;
		m->pend_base++;
	}

	if (msg->error == NULL && json_is_true(msg->result)) {
		m->accepted++;
		m->accepted_diff += m->pend_diff[slot];
	} else {
		m->rejected++;
		stats_reject_add(&sim->stats, error_code(msg->error));
	}
	if (sim->cfg.shares > 0 && (m->flags & MINER_DONE) == 0 &&
	    (uint64_t)m->accepted + m->rejected >= sim->cfg.shares) {
		m->flags |= MINER_DONE;
		if (++sim->done == sim->cfg.miners)
			sim_end(sim);
	}
	if (sim->ending)
		sim_check_drained(sim);
	else
		miner_schedule(m);
}

static void
on_response(struct miner *m, const struct msg *msg)
{
	json_int_t id;

	if (!json_is_integer(msg->id)) {
		log_sdebug(SIM_LOG, sid(m), "response with a foreign id");
		return;
	}
	id = json_integer_value(msg->id);
	if (id >= SUBMIT_ID_BASE) {
		on_verdict(m, id, msg);
		return;
	}
	switch (id) {
	case ID_CONFIGURE:
		on_configure(m, msg);
		break;
	case ID_SUBSCRIBE:
		on_subscribe(m, msg);
		break;
	case ID_AUTHORIZE:
		on_authorize(m, msg);
		break;
	case ID_XNSUB:
		if (msg->error != NULL || !json_is_true(msg->result)) {
			log_sdebug(SIM_LOG, sid(m),
			    "mining.extranonce.subscribe refused");
			m->flags &= ~MINER_XN_SUB;
		}
		break;
	default:
		/* suggest_difficulty, multi_version: any answer will do. */
		break;
	}
}

static void
on_notify(struct miner *m, const struct msg *msg)
{
	const char *branch[SHARE_BRANCH_MAX];
	struct share_job j;
	struct work_job *wj;
	json_t *jb, *clean;
	bool en1_changed = false;
	size_t nb, i;

	jb = json_array_get(msg->params, 4);
	clean = json_array_get(msg->params, 8);
	if (!json_is_array(jb) || (nb = json_array_size(jb)) >
	    SHARE_BRANCH_MAX || !json_is_boolean(clean))
		goto bad;
	for (i = 0; i < nb; i++) {
		if ((branch[i] = json_string_value(json_array_get(jb, i))) ==
		    NULL)
			goto bad;
	}
	if (share_job_init(&j, msg_param_str(msg, 0), msg_param_str(msg, 1),
	    msg_param_str(msg, 2), msg_param_str(msg, 3), branch, nb,
	    msg_param_str(msg, 5), msg_param_str(msg, 6),
	    msg_param_str(msg, 7), json_is_true(clean)) == -1)
		goto bad;

	wj = work_job_intern(m->sim, &j);
	if ((m->flags & MINER_XN_PENDING) != 0) {
		memcpy(m->en1, m->xn_en1, m->xn_en1_len);
		m->en1_len = m->xn_en1_len;
		m->en2_size = m->xn_en2_size;
		m->flags &= ~MINER_XN_PENDING;
		en1_changed = true;
	}
	work_job_put(m->sim, m->job);
	m->job = wj;
	m->job_diff = m->diff;
	/* A dropped job (or a new extranonce1) ends the current search. */
	if (j.clean || en1_changed)
		work_restart(m);
	miner_schedule(m);
	return;
bad:
	log_swarnx(SIM_LOG, sid(m), "malformed mining.notify ignored");
}

static void
on_set_difficulty(struct miner *m, const struct msg *msg)
{
	double d;

	if (msg_param_double(msg, 0, &d) == -1 || !isfinite(d) || d <= 0.0) {
		log_swarnx(SIM_LOG, sid(m),
		    "malformed mining.set_difficulty ignored");
		return;
	}
	m->diff = d;
}

static void
on_set_extranonce(struct miner *m, const struct msg *msg)
{
	const char *en1hex = msg_param_str(msg, 0);
	json_t *n2 = json_array_get(msg->params, 1);
	ssize_t n;

	if ((m->flags & MINER_XN_SUB) == 0) {
		log_sdebug(SIM_LOG, sid(m),
		    "mining.set_extranonce without subscription ignored");
		return;
	}
	if (en1hex == NULL || !json_is_integer(n2) ||
	    json_integer_value(n2) < 0 ||
	    json_integer_value(n2) > SHARE_EXTRANONCE_MAX)
		goto bad;
	n = share_hex_decode(en1hex, strlen(en1hex), m->xn_en1,
	    SHARE_EXTRANONCE_MAX);
	if (n < 0)
		goto bad;
	/* Takes effect with the next mining.notify (protocol.md §2). */
	m->xn_en1_len = (uint8_t)n;
	m->xn_en2_size = (uint8_t)json_integer_value(n2);
	m->flags |= MINER_XN_PENDING;
	return;
bad:
	log_swarnx(SIM_LOG, sid(m), "malformed mining.set_extranonce ignored");
}

static void
on_set_version_mask(struct miner *m, const struct msg *msg)
{
	uint32_t mask;

	if (share_hex_mask(msg_param_str(msg, 0), &mask) == -1) {
		log_swarnx(SIM_LOG, sid(m),
		    "malformed mining.set_version_mask ignored");
		return;
	}
	if ((m->flags & MINER_ROLLING) != 0)
		m->mask = mask & SIM_VR_MASK;
}

static void
on_reconnect(struct miner *m, const struct msg *msg)
{
	double wait = 0.0;
	uint32_t ms;

	/* Always the same URL: this tool only talks to what it was given. */
	if (msg_param_double(msg, 2, &wait) == -1 || !isfinite(wait) ||
	    wait < 0.0)
		wait = 0.0;
	ms = wait * 1000.0 > RECONNECT_WAIT_MAX_MS ? RECONNECT_WAIT_MAX_MS :
	    (uint32_t)(wait * 1000.0);
	log_sdebug(SIM_LOG, sid(m), "client.reconnect: again in %u ms", ms);
	miner_drop(m, ms);
}

static void
reply(struct miner *m, const struct msg *msg, json_t *result)
{
	msg_send_result(bufferevent_get_output(m->bev), msg->id, result);
}

static void
on_method(struct miner *m, const struct msg *msg)
{
	const char *meth = msg->method;

	if (strcmp(meth, "mining.notify") == 0) {
		on_notify(m, msg);
	} else if (strcmp(meth, "mining.set_difficulty") == 0) {
		on_set_difficulty(m, msg);
	} else if (strcmp(meth, "mining.set_extranonce") == 0) {
		on_set_extranonce(m, msg);
	} else if (strcmp(meth, "mining.set_version_mask") == 0) {
		on_set_version_mask(m, msg);
	} else if (strcmp(meth, "client.reconnect") == 0) {
		on_reconnect(m, msg);
	} else if (strcmp(meth, "client.show_message") == 0) {
		log_sdebug(SIM_LOG, sid(m), "client.show_message ignored");
	} else if (msg->kind != MSG_REQUEST) {
		log_sdebug(SIM_LOG, sid(m), "notification %.64s ignored",
		    meth);
	} else if (strcmp(meth, "client.get_version") == 0) {
		reply(m, msg, json_string(SIM_AGENT));
	} else if (strcmp(meth, "mining.ping") == 0 ||
	    strcmp(meth, "client.ping") == 0) {
		reply(m, msg, json_string("pong"));
	} else {
		msg_send_error(bufferevent_get_output(m->bev), msg->id,
		    MSG_ERR_METHOD_NOT_FOUND, "method not found");
	}
}

static void
miner_line(struct miner *m, const char *line, size_t len)
{
	struct msg msg;
	char err[128];

	if (len == 0)
		return;
	if (msg_parse(line, len, &msg, err, sizeof(err)) != 0) {
		log_swarnx(SIM_LOG, sid(m), "malformed message ignored (%s)",
		    err);
		return;
	}
	if (msg.kind == MSG_RESPONSE)
		on_response(m, &msg);
	else
		on_method(m, &msg);
	msg_clear(&msg);
}

/* One line of the HTTP CONNECT answer. */
static void
tunnel_line(struct miner *m, const char *line)
{
	if (m->tunnel_lines++ == 0) {
		if (strncmp(line, "HTTP/1.1 200", 12) != 0 ||
		    (line[12] != '\0' && line[12] != ' ')) {
			log_swarnx(SIM_LOG, sid(m), "CONNECT refused: %.80s",
			    line);
			miner_fail(m, "CONNECT refused");
		}
		return;
	}
	if (line[0] == '\0') {
		miner_handshake(m);
		return;
	}
	if (m->tunnel_lines > TUNNEL_LINES_MAX)
		miner_fail(m, "CONNECT answer has too many header lines");
}

static void
miner_read_cb(struct bufferevent *bev, void *arg)
{
	struct miner *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t len, max;
	char *line;
	int rc;

	while (m->bev == bev) {
		if ((m->flags & MINER_SKIP_LINE) != 0) {
			eol = evbuffer_search_eol(in, NULL, NULL,
			    EVBUFFER_EOL_LF);
			if (eol.pos < 0) {
				evbuffer_drain(in, evbuffer_get_length(in));
				return;
			}
			evbuffer_drain(in, (size_t)eol.pos + 1);
			m->flags &= ~MINER_SKIP_LINE;
		}
		max = m->state == MINER_TUNNEL ? TUNNEL_LINE_MAX :
		    MSG_LINE_MAX_DEFAULT;
		rc = msg_read_line(in, max, &line, &len);
		if (rc == 0)
			return;
		if (rc < 0) {
			if (m->state == MINER_TUNNEL) {
				miner_fail(m, "CONNECT answer line too long");
				return;
			}
			log_swarnx(SIM_LOG, sid(m),
			    "line over %zu bytes from the server skipped", max);
			m->flags |= MINER_SKIP_LINE;
			continue;
		}
		if (m->state == MINER_TUNNEL)
			tunnel_line(m, line);
		else
			miner_line(m, line, len);
		free(line);
	}
}

static void
miner_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct miner *m = arg;
	struct sim *sim = m->sim;
	const char *target = sim->cfg.http_connect;

	if ((what & BEV_EVENT_CONNECTED) != 0) {
		if ((m->flags & MINER_EVER_CONNECTED) == 0) {
			m->flags |= MINER_EVER_CONNECTED;
			sim->connected++;
		}
		if (target == NULL) {
			miner_handshake(m);
			return;
		}
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
		miner_set_state(m, MINER_TUNNEL);
		timer_in_ms(m, HANDSHAKE_TIMEOUT_MS);
		return;
	}
	if ((what & BEV_EVENT_ERROR) != 0)
		miner_fail(m, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	else if ((what & BEV_EVENT_EOF) != 0)
		miner_fail(m, "closed by the server");
	else
		miner_fail(m, "timeout");
}

static void
miner_connect(struct miner *m)
{
	struct sim *sim = m->sim;
	const struct sim_config *cfg = &sim->cfg;
	struct sockaddr_in src;
	int fd, one = 1;

	if ((m->flags & MINER_EVER_STARTED) != 0)
		sim->reconnects++;
	m->flags |= MINER_EVER_STARTED;
	miner_set_state(m, MINER_CONNECTING);

	fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_swarnx(SIM_LOG, sid(m), "socket: %s", strerror(errno));
		miner_fail(m, "socket failed");
		return;
	}
	/* Submits are small and latency is measured: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->src_count > 0) {
#ifdef IP_BIND_ADDRESS_NO_PORT
		/*
		 * Pick the port at connect() time, per destination, so each
		 * source address gives ~28K connections to one pool instead
		 * of sharing the ephemeral range with every bound socket.
		 */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
#endif
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(cfg->src_first +
		    m->index % cfg->src_count);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			log_swarnx(SIM_LOG, sid(m), "bind: %s",
			    strerror(errno));
			close(fd);
			miner_fail(m, "bind failed");
			return;
		}
	}
	m->bev = bufferevent_socket_new(sim->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (m->bev == NULL) {
		close(fd);
		miner_fail(m, "bufferevent_socket_new failed");
		return;
	}
	bufferevent_setcb(m->bev, miner_read_cb, NULL, miner_event_cb, m);
	bufferevent_setwatermark(m->bev, EV_READ, 0, READ_HIGH_WATER);
	timer_in_ms(m, CONNECT_TIMEOUT_MS);
	if (bufferevent_socket_connect(m->bev,
	    (const struct sockaddr *)&cfg->addr, (int)cfg->addrlen) == -1) {
		miner_fail(m, "connect failed");
		return;
	}
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
}

static bool
may_submit(const struct miner *m)
{
	const struct sim *sim = m->sim;

	if (m->state != MINER_READY || sim->ending || m->job == NULL ||
	    !(sim->cfg.rate > 0.0) ||
	    (m->flags & (MINER_DONE | MINER_GRINDING)) != 0 ||
	    m->pend_len >= PEND_MAX)
		return false;
	if (sim->cfg.shares > 0 && (uint64_t)m->accepted + m->rejected +
	    m->outstanding >= sim->cfg.shares)
		return false;
	return true;
}

static bool
output_full(const struct miner *m)
{
	return evbuffer_get_length(bufferevent_get_output(m->bev)) > OUT_MAX;
}

/* Arm the timer for the next share, if one may be made. */
static void
miner_schedule(struct miner *m)
{
	uint64_t now;

	if (!may_submit(m))
		return;
	if (output_full(m)) {
		timer_in_ms(m, OUT_RETRY_MS);
		return;
	}
	now = sim_now_us();
	timer_in_us(m, m->next_due_us > now ? m->next_due_us - now : 0);
}

/* One share made: the next is due one interval later (at most one
 * interval of backlog is kept, so a slow stretch is not made up in a
 * burst). */
static void
advance_due(struct miner *m, uint64_t now)
{
	uint64_t iv = interval_us(m->sim);

	m->next_due_us += iv;
	if (m->next_due_us + iv < now)
		m->next_due_us = now;
}

static void
miner_tick(struct miner *m)
{
	uint64_t now = sim_now_us();
	int burst;

	for (burst = 0; burst < BURST_MAX; burst++) {
		if (!may_submit(m) || output_full(m) || m->next_due_us > now)
			break;
		if (work_start(m) == -1)
			return;
		if (m->sim->cfg.mode != SIM_MODE_RANDOM)
			return;	/* grinding; miner_share_made() follows */
		advance_due(m, now);
	}
	miner_schedule(m);
}

void
miner_share_made(struct miner *m)
{
	advance_due(m, sim_now_us());
	miner_schedule(m);
}

static void
miner_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct miner *m = arg;

	switch (m->state) {
	case MINER_CONNECTING:
		miner_fail(m, "connect timeout");
		break;
	case MINER_TUNNEL:
	case MINER_HANDSHAKE:
		miner_fail(m, "handshake timeout");
		break;
	case MINER_BACKOFF:
		if (!m->sim->ending)
			miner_connect(m);
		break;
	case MINER_READY:
		miner_tick(m);
		break;
	default:
		break;
	}
}

static void
pend_grow(struct miner *m)
{
	uint16_t cap = m->pend_cap == 0 ? PEND_INIT : m->pend_cap * 2;
	uint64_t *ring = xcalloc(cap, sizeof(*ring));
	double *dring = xcalloc(cap, sizeof(*dring));
	uint16_t i;

	for (i = 0; i < m->pend_len; i++) {
		ring[i] = m->pending[(m->pend_head + i) % m->pend_cap];
		dring[i] = m->pend_diff[(m->pend_head + i) % m->pend_cap];
	}
	free(m->pending);
	free(m->pend_diff);
	m->pending = ring;
	m->pend_diff = dring;
	m->pend_cap = cap;
	m->pend_head = 0;
}

int
miner_submit(struct miner *m, const struct work_job *job,
    const char *en2hex, const char *ntimehex, const char *noncehex,
    const char *vbitshex)
{
	struct sim *sim = m->sim;
	char user[USER_MAX];
	json_t *params;

	if (m->bev == NULL || m->pend_len >= PEND_MAX)
		return -1;
	if (m->pend_len == m->pend_cap)
		pend_grow(m);
	sim_format_user(sim, m->index, user, sizeof(user));
	if (vbitshex != NULL)
		params = json_pack("[s,s,s,s,s,s]", user, job->job.job_id,
		    en2hex, ntimehex, noncehex, vbitshex);
	else
		params = json_pack("[s,s,s,s,s]", user, job->job.job_id,
		    en2hex, ntimehex, noncehex);
	if (params == NULL)
		return -1;
	if (m->pend_len == 0)
		m->pend_base = m->next_id;
	if (send_request(m, (int)m->next_id, "mining.submit", params) == -1)
		return -1;
	m->pending[(m->pend_head + m->pend_len) % m->pend_cap] =
	    sim_now_us() + 1;
	/* A difficulty applies from the next job on: the share counts at
	 * its own job's. */
	m->pend_diff[(m->pend_head + m->pend_len) % m->pend_cap] =
	    m->grind_job == job ? m->grind_diff : m->job_diff;
	m->pend_len++;
	m->next_id++;
	m->outstanding++;
	sim->outstanding++;
	m->sent++;
	if (vbitshex != NULL)
		sim->version_rolled++;
	return 0;
}

int
miner_init(struct miner *m, struct sim *sim, uint32_t index)
{
	uint64_t r;

	memset(m, 0, sizeof(*m));
	m->sim = sim;
	m->index = index;
	m->dialect = (uint8_t)(sim->cfg.dialect == SIM_DIALECT_MIXED ?
	    index % SIM_DIALECT_MIXED : sim->cfg.dialect);
	m->timer = evtimer_new(sim->base, miner_timer_cb, m);
	if (m->timer == NULL)
		return -1;
	m->backoff_ms = BACKOFF_MIN_MS;
	m->diff = m->job_diff = 1.0;
	m->next_id = SUBMIT_ID_BASE;
	/* Random search starts, so miners never overlap. */
	r = sim_random(sim);
	m->en2_counter = sim_random(sim);
	m->nonce = (uint32_t)r;
	m->vbits = (uint32_t)(r >> 32);
	return 0;
}

void
miner_start(struct miner *m)
{
	miner_connect(m);
}

void
miner_stop_shares(struct miner *m)
{
	work_cancel(m);
	if (m->state == MINER_READY)
		evtimer_del(m->timer);
}

void
miner_free(struct miner *m)
{
	if (m->sim == NULL)
		return;
	miner_close(m);
	if (m->timer != NULL)
		event_free(m->timer);
	m->timer = NULL;
	free(m->pending);
	free(m->pend_diff);
	m->pending = NULL;
	m->pend_diff = NULL;
	m->pend_cap = 0;
}
