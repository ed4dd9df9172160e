/*
 * pool.c: loka-poolsim's Stratum V1 server (see poolsim.h).
 *
 * One bufferevent per connection on the single event loop. Lines are taken
 * with msg_read_line() (16 KiB cap) and parsed with msg_parse(); at most
 * POOL_LINES_PER_WAKEUP lines are handled per wakeup, the rest after the
 * other connections had their turn (a per-connection "resume" event).
 *
 * Lifetimes: a connection is never freed inside its own callback. Its
 * callbacks run between conn_enter() and conn_leave(); conn_drop() marks it
 * CONN_CLOSED and conn_leave() frees it. Outside its callbacks (broadcasts
 * from the timer or a signal) conn_drop() frees at once, so broadcasts
 * iterate with the next pointer taken first. A close that must deliver a
 * last reply goes through CONN_FLUSHING (reading stopped until the output
 * is written, at most POOL_FLUSH_TIMEOUT) then CONN_LINGER (our side shut
 * down, input discarded until the client closes, at most
 * POOL_LINGER_TIMEOUT): closing with unread input would send a reset that
 * can destroy the last reply before the client reads it.
 *
 * Share judging (mining.submit), in this order: subscribed (25), fields
 * well-typed (20), name authorized on this connection (24), job live and
 * sent to this connection (21), fields well-formed (20), version bits in
 * the granted mask (20), ntime window (20), duplicate (22), hash at the
 * difficulty in force when the job was sent to this connection (23). A
 * connection remembers, per live job it was sent, that difficulty and the
 * fingerprints of the shares it accepted (dupset.c).
 *
 * Peer-controlled sizes are capped: line length, input buffered, output
 * pending (a client that stops reading is closed), names and their number,
 * duplicate fingerprints per connection and in total.
 *
 * Fault modes (o->fault): --silent reads and discards everything;
 * --no-authorize leaves mining.authorize unanswered; --oversize-line,
 * after answering mining.subscribe, streams one POOLSIM_OVERSIZE_BYTES
 * line in OVERSIZE_CHUNK pieces from the write callback (so the output
 * cap still holds), reading nothing meanwhile (so no reply lands inside
 * the line).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "poolsim.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define POOL_LINE_MAX		MSG_LINE_MAX_DEFAULT
/* Input buffered per connection: a few maximal lines. */
#define POOL_IN_MAX		(4 * POOL_LINE_MAX)
/* Output pending per connection before a non-reading client is closed. */
#define POOL_OUT_MAX		(1024 * 1024)
/* Lines handled per wakeup, so one flooding client cannot starve others. */
#define POOL_LINES_PER_WAKEUP	64
/* Unparsable lines tolerated per connection. */
#define POOL_BAD_LINES_MAX	3
/* Longest worker name, in bytes. */
#define POOL_NAME_MAX		256
/* Names one connection may authorize (a proxy that aggregates
 * authorizes each of its miners' workers on one connection). */
#define CONN_NAMES_MAX		65536
/* Accepted-share fingerprints kept per connection (across its live jobs)
 * and in total: 8 bytes each, tables at most half full. */
#define CONN_DUPS_MAX		(256 * 1024)
#define POOL_DUPS_MAX		(4 * 1024 * 1024)
/* A share's ntime may run this far ahead of its job's (as pools allow). */
#define POOL_NTIME_WINDOW	7200
/* Seconds a closing connection gets to take its last reply. */
#define POOL_FLUSH_TIMEOUT	5
/* Seconds a closing connection's unread input is discarded for. */
#define POOL_LINGER_TIMEOUT	2
/* Pending connections in the kernel: load tests connect in bursts. */
#define POOL_BACKLOG		1024
/* Rejections logged at info per connection; later ones at debug, so a
 * load test full of stale shares does not drown the log. */
#define CONN_REJECTS_LOGGED	20
/* Extensions of one mining.configure answered; the rest are ignored. */
#define POOL_CONFIGURE_MAX	32
/* --oversize-line writes its line this much at a time. */
#define OVERSIZE_CHUNK		(64 * 1024)

enum conn_state {
	CONN_CONNECTED = 0,	/* before mining.subscribe */
	CONN_SUBSCRIBED,	/* gets difficulty and jobs */
	CONN_FLUSHING,		/* closes once its output is written */
	CONN_LINGER,		/* shut down; waits for the client's close */
	CONN_CLOSED,		/* freed when its callback returns */
	CONN_STATE_MAX
};

static const char *const conn_state_names[CONN_STATE_MAX] = {
	"connected", "subscribed", "flushing", "linger", "closed"
};

/* A live job as sent to one connection. */
struct conn_job {
	uint64_t	 seq;
	double		 diff;		/* in force when the job was sent */
	struct dupset	*dups;		/* accepted shares; NULL until one */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct pool	*pool;
	uint64_t	 id;		/* log session id */
	enum conn_state	 state;
	struct bufferevent *bev;
	struct event	*resume;	/* more lines after the budget */
	bool		 in_cb;
	bool		 eof;		/* the client shut down its side */
	char		 peer[80];
	unsigned	 bad_lines;
	uint64_t	 rejects;	/* shares rejected */
	uint8_t		 en1[SHARE_EXTRANONCE_MAX];
	char		 en1_hex[2 * SHARE_EXTRANONCE_MAX + 1];
	uint32_t	 mask;		/* granted version-rolling mask */
	double		 diff;		/* for jobs sent from now on */
	struct stats_worker **names;	/* grown on demand */
	size_t		 nnames, names_cap;
	struct conn_job	 jobs[JOBS_KEEP];	/* oldest first */
	size_t		 njobs;
	size_t		 ndups;		/* fingerprints held, all jobs */
	size_t		 oversize_left;	/* --oversize-line bytes to send */
};

struct pool {
	struct event_base *base;
	const struct poolsim_opts *o;
	struct stats	*st;
	struct jobs	*jobs;
	struct evconnlistener *listener;
	struct event	*tick;		/* periodic jobs */
	struct event	*relisten;	/* after accept() failed */
	TAILQ_HEAD(, conn) conns;
	uint64_t	 next_id;
	uint64_t	 en1_next;	/* extranonce1 counter */
	uint64_t	 dup_seed;
	size_t		 ndups;		/* fingerprints held, all conns */
	unsigned long	 periodic;	/* periodic jobs made */
};

static void conn_free(struct conn *c);

static void
conn_set_state(struct conn *c, enum conn_state to)
{
	log_sdebug("poolsim", c->id, "%s -> %s", conn_state_names[c->state],
	    conn_state_names[to]);
	c->state = to;
}

static struct evbuffer *
conn_out(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

/* Tear c down now, or when its running callback returns. Idempotent. */
static void
conn_drop(struct conn *c, const char *why)
{
	if (c->state == CONN_CLOSED)
		return;
	if (c->state < CONN_FLUSHING)
		log_sinfo("poolsim", c->id, "closing %s: %s", c->peer, why);
	else
		log_sdebug("poolsim", c->id, "closed: %s", why);
	conn_set_state(c, CONN_CLOSED);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (!c->in_cb)
		conn_free(c);
}

/* Output written: shut our side down and wait for the client's close. */
static void
conn_linger(struct conn *c)
{
	struct timeval tv = { POOL_LINGER_TIMEOUT, 0 };

	if (c->eof || shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		conn_drop(c, "last reply sent");
		return;
	}
	conn_set_state(c, CONN_LINGER);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

/* Stop reading and close once the pending output is written. */
static void
conn_flush_close(struct conn *c, const char *why)
{
	struct timeval tv = { POOL_FLUSH_TIMEOUT, 0 };

	if (c->state >= CONN_FLUSHING)
		return;
	log_sinfo("poolsim", c->id, "closing %s: %s", c->peer, why);
	conn_set_state(c, CONN_FLUSHING);
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(conn_out(c)) == 0) {
		conn_linger(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

/* Close a client whose pending output passed the cap. */
static void
conn_check_out(struct conn *c)
{
	if (c->state != CONN_CLOSED &&
	    evbuffer_get_length(conn_out(c)) > POOL_OUT_MAX)
		conn_drop(c, "output buffer over its cap (client not reading)");
}

static void
conn_enter(struct conn *c)
{
	c->in_cb = true;
}

static void
conn_leave(struct conn *c)
{
	c->in_cb = false;
	if (c->state == CONN_CLOSED)
		conn_free(c);
}

/* Forget the connection's record of a job, giving back its fingerprints. */
static void
conn_job_clear(struct conn *c, struct conn_job *cj)
{
	if (cj->dups != NULL) {
		size_t n = dupset_count(cj->dups);

		c->ndups -= n;
		c->pool->ndups -= n;
		dupset_free(cj->dups);
	}
	memset(cj, 0, sizeof(*cj));
}

static void
conn_jobs_clear(struct conn *c)
{
	for (size_t i = 0; i < c->njobs; i++)
		conn_job_clear(c, &c->jobs[i]);
	c->njobs = 0;
}

static struct conn_job *
conn_job_find(struct conn *c, uint64_t seq)
{
	for (size_t i = 0; i < c->njobs; i++)
		if (c->jobs[i].seq == seq)
			return &c->jobs[i];
	return NULL;
}

/* Drop the oldest records until those left are live and one is free. */
static void
conn_jobs_prune(struct conn *c)
{
	size_t keep = 0;

	for (size_t i = 0; i < c->njobs; i++) {
		if (jobs_is_live(c->pool->jobs, c->jobs[i].seq) &&
		    c->njobs - i < JOBS_KEEP)
			c->jobs[keep++] = c->jobs[i];
		else
			conn_job_clear(c, &c->jobs[i]);
	}
	c->njobs = keep;
}

static void
conn_send_difficulty(struct conn *c)
{
	msg_send_request(conn_out(c), NULL, "mining.set_difficulty",
	    json_pack("[f]", c->diff));
}

/* Send job j; the connection's current difficulty applies to it. */
static void
conn_send_job(struct conn *c, const struct jobs_job *j, bool clean)
{
	struct conn_job *cj;

	if (clean)
		conn_jobs_clear(c);
	else
		conn_jobs_prune(c);
	cj = &c->jobs[c->njobs++];
	cj->seq = j->seq;
	cj->diff = c->diff;
	cj->dups = NULL;
	evbuffer_add(conn_out(c), j->notify[clean], j->notify_len[clean]);
}

/* --oversize-line: the next piece of the line; its end has a newline. */
static void
conn_send_oversize(struct conn *c)
{
	static const char head[] = "{\"id\":null,\"method\":\"mining.notify\","
	    "\"params\":[\"";
	static const char tail[] = "\"]}\n";
	char buf[OVERSIZE_CHUNK];
	size_t n, fill;

	if (c->oversize_left == 0)
		return;
	if (c->oversize_left == POOLSIM_OVERSIZE_BYTES) {
		evbuffer_add(conn_out(c), head, sizeof(head) - 1);
		c->oversize_left -= sizeof(head) - 1;
	}
	n = c->oversize_left < sizeof(buf) ? c->oversize_left : sizeof(buf);
	fill = c->oversize_left == n ? n - (sizeof(tail) - 1) : n;
	memset(buf, 'a', fill);
	if (fill < n)
		memcpy(buf + fill, tail, sizeof(tail) - 1);
	evbuffer_add(conn_out(c), buf, n);
	c->oversize_left -= n;
	/* Nothing else may land inside the line: requests wait. */
	if (c->oversize_left > 0) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	log_sinfo("poolsim", c->id, "oversize line sent (%d bytes)",
	    POOLSIM_OVERSIZE_BYTES);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->resume, EV_READ, 0);
}

/* The connection's record of an authorized name, or NULL. */
static struct stats_worker *
conn_worker(const struct conn *c, const char *name)
{
	for (size_t i = 0; i < c->nnames; i++)
		if (strcmp(stats_worker_name(c->names[i]), name) == 0)
			return c->names[i];
	return NULL;
}

/* Reply to a request; notifications (no id) get no reply. */
static void
conn_result(struct conn *c, const struct msg *m, json_t *result)
{
	if (m->id == NULL) {
		json_decref(result);
		return;
	}
	msg_send_result(conn_out(c), m->id, result);
}

static void
conn_error(struct conn *c, const struct msg *m, int code, const char *text)
{
	if (m->id != NULL)
		msg_send_error(conn_out(c), m->id, code, text);
}

/* params[i] as a C string: NULL if absent, not a string or holding NUL. */
static const char *
param_str(const struct msg *m, size_t i)
{
	json_t *v = json_array_get(m->params, i);
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

static void
conn_configure(struct conn *c, const struct msg *m)
{
	json_t *exts = json_array_get(m->params, 0);
	json_t *opts = json_array_get(m->params, 1);
	json_t *result, *v;
	const char *ext, *reqhex;
	uint32_t req, granted;
	char hex[9];
	size_t i;

	if (!json_is_array(exts) || (opts != NULL && !json_is_object(opts) &&
	    !json_is_null(opts))) {
		conn_error(c, m, MSG_ERR_INVALID_PARAMS, "Invalid params");
		return;
	}
	result = json_object();
	json_array_foreach(exts, i, v) {
		if (i == POOL_CONFIGURE_MAX)
			break;
		if ((ext = json_string_value(v)) == NULL ||
		    strlen(ext) != json_string_length(v))
			continue;
		if (strcmp(ext, "version-rolling") != 0) {
			json_object_set_new(result, ext, json_false());
			continue;
		}
		/* BIP 310: no mask means "any bits"; a bad one, none. */
		req = 0xffffffff;
		reqhex = json_string_value(json_object_get(opts,
		    "version-rolling.mask"));
		if (reqhex != NULL && share_hex_mask(reqhex, &req) == -1)
			req = 0;
		granted = req & c->pool->o->version_mask;
		if (granted == 0) {
			json_object_set_new(result, ext, json_false());
			continue;
		}
		c->mask = granted;
		snprintf(hex, sizeof(hex), "%08" PRIx32, granted);
		json_object_set_new(result, ext, json_true());
		json_object_set_new(result, "version-rolling.mask",
		    json_string(hex));
		log_sdebug("poolsim", c->id, "version rolling granted, mask %s",
		    hex);
	}
	conn_result(c, m, result);
}

static void
conn_subscribe(struct conn *c, const struct msg *m)
{
	struct pool *p = c->pool;
	char subid[17];

	snprintf(subid, sizeof(subid), "%" PRIx64, c->id);
	if (c->state == CONN_CONNECTED)
		conn_set_state(c, CONN_SUBSCRIBED);
	stats_subscribe(p->st);
	conn_result(c, m, json_pack("[[[s,s],[s,s]],s,I]",
	    "mining.set_difficulty", subid, "mining.notify", subid,
	    c->en1_hex, (json_int_t)p->o->en2_size));
	conn_send_difficulty(c);
	conn_send_job(c, jobs_current(p->jobs), true);
	log_sdebug("poolsim", c->id, "subscribed, extranonce1 %s",
	    c->en1_hex);
	if (p->o->fault == POOLSIM_FAULT_OVERSIZE_LINE &&
	    c->oversize_left == 0) {
		log_sinfo("poolsim", c->id, "sending an oversize line "
		    "(--oversize-line)");
		c->oversize_left = POOLSIM_OVERSIZE_BYTES;
		conn_send_oversize(c);
	}
}

static void
conn_authorize(struct conn *c, const struct msg *m)
{
	const char *prefix = c->pool->o->user_prefix;
	const char *name = param_str(m, 0);
	struct stats_worker *w = NULL;
	size_t len = name != NULL ? strlen(name) : 0;

	if (c->pool->o->fault == POOLSIM_FAULT_NO_AUTHORIZE) {
		log_sinfo("poolsim", c->id, "authorize of \"%s\" left "
		    "unanswered (--no-authorize)", name != NULL ? name : "-");
		return;
	}
	if (len == 0 || len > POOL_NAME_MAX) {
		log_swarnx("poolsim", c->id, "authorize refused: bad name");
	} else if (prefix != NULL && strncmp(name, prefix,
	    strlen(prefix)) != 0) {
		log_sinfo("poolsim", c->id, "authorize refused: \"%s\" does "
		    "not start with \"%s\"", name, prefix);
	} else if ((w = conn_worker(c, name)) != NULL) {
		/* authorized again: fine */
	} else if (c->nnames == CONN_NAMES_MAX) {
		log_swarnx("poolsim", c->id, "authorize refused: over %d "
		    "names on one connection", CONN_NAMES_MAX);
	} else if ((w = stats_worker(c->pool->st, name)) == NULL) {
		log_swarnx("poolsim", c->id, "authorize refused: over %d "
		    "distinct names", STATS_WORKERS_MAX);
	} else {
		if (c->nnames == c->names_cap) {
			c->names_cap = c->names_cap ? c->names_cap * 2 : 4;
			c->names = xreallocarray(c->names, c->names_cap,
			    sizeof(*c->names));
		}
		c->names[c->nnames++] = w;
		log_sinfo("poolsim", c->id, "authorized \"%s\"", name);
	}
	conn_result(c, m, json_boolean(w != NULL));
}

static void
conn_suggest_difficulty(struct conn *c, const struct msg *m)
{
	const char *s = param_str(m, 0);
	char *end;
	double d;

	/* A number; some firmware sends it as a string. */
	if (s != NULL) {
		d = strtod(s, &end);
		if (end == s || *end != '\0')
			d = NAN;
	} else if (msg_param_double(m, 0, &d) == -1) {
		d = NAN;
	}
	if (!isfinite(d)) {
		conn_error(c, m, MSG_ERR_INVALID_PARAMS, "Invalid params");
		return;
	}
	if (!(d >= POOLSIM_DIFF_MIN))
		d = POOLSIM_DIFF_MIN;
	if (d > POOLSIM_DIFF_MAX)
		d = POOLSIM_DIFF_MAX;
	c->diff = d;
	log_sdebug("poolsim", c->id, "difficulty %g suggested", d);
	conn_result(c, m, json_true());
	/* Before mining.subscribe, the subscribe sends it. */
	if (c->state == CONN_SUBSCRIBED)
		conn_send_difficulty(c);
}

static void
conn_extranonce_subscribe(struct conn *c, const struct msg *m)
{
	if (c->pool->o->reject_extranonce_subscribe) {
		conn_flush_close(c, "mining.extranonce.subscribe refused");
		return;
	}
	conn_result(c, m, json_true());
}

static void
conn_ping(struct conn *c, const struct msg *m)
{
	conn_result(c, m, json_string("pong"));
}

static void
conn_multi_version(struct conn *c, const struct msg *m)
{
	conn_result(c, m, json_true());
}

static void
conn_reject(struct conn *c, const struct msg *m, struct stats_worker *w,
    enum stats_reject why, int code, const char *text)
{
	stats_reject(c->pool->st, w, why);
	if (++c->rejects <= CONN_REJECTS_LOGGED || log_enabled(LOG_DEBUG))
		log_write(c->rejects <= CONN_REJECTS_LOGGED ? LOG_INFO :
		    LOG_DEBUG, "poolsim", c->id, 0, "share rejected (%s): "
		    "%d %s%s", w != NULL ? stats_worker_name(w) : "-", code,
		    text, c->rejects == CONN_REJECTS_LOGGED ?
		    " (further rejections at debug level)" : "");
	conn_error(c, m, code, text);
}

static void
conn_submit(struct conn *c, const struct msg *m)
{
	struct pool *p = c->pool;
	const struct poolsim_opts *o = p->o;
	const char *name, *jid, *en2hex, *ntimehex, *noncehex;
	const char *vbitshex = NULL;
	struct stats_worker *w = NULL;
	const struct jobs_job *job;
	struct conn_job *cj = NULL;
	struct share_result r;
	uint8_t en2[SHARE_EXTRANONCE_MAX];
	uint32_t ntime, nonce, vbits = 0, version;
	json_t *v6;
	uint64_t key;

	if ((name = param_str(m, 0)) != NULL)
		w = conn_worker(c, name);
	if (c->state != CONN_SUBSCRIBED) {
		conn_reject(c, m, w, STATS_REJ_NOT_SUBSCRIBED,
		    MSG_ERR_NOT_SUBSCRIBED, "Not subscribed");
		return;
	}
	jid = param_str(m, 1);
	en2hex = param_str(m, 2);
	ntimehex = param_str(m, 3);
	noncehex = param_str(m, 4);
	v6 = json_array_get(m->params, 5);
	if (v6 != NULL && !json_is_null(v6) &&
	    (vbitshex = param_str(m, 5)) == NULL)
		goto malformed;
	if (name == NULL || jid == NULL || en2hex == NULL ||
	    ntimehex == NULL || noncehex == NULL)
		goto malformed;
	if (w == NULL) {
		conn_reject(c, m, NULL, STATS_REJ_UNAUTHORIZED,
		    MSG_ERR_UNAUTHORIZED, "Unauthorized worker");
		return;
	}
	if ((job = jobs_find(p->jobs, jid)) != NULL)
		cj = conn_job_find(c, job->seq);
	if (cj == NULL) {
		conn_reject(c, m, w, STATS_REJ_STALE, MSG_ERR_JOB_NOT_FOUND,
		    "Job not found");
		return;
	}
	if (strlen(en2hex) != 2 * o->en2_size ||
	    share_hex_decode(en2hex, 2 * o->en2_size, en2, sizeof(en2)) !=
	    (ssize_t)o->en2_size || share_hex_u32(ntimehex, &ntime) == -1 ||
	    share_hex_u32(noncehex, &nonce) == -1 ||
	    (vbitshex != NULL && share_hex_u32(vbitshex, &vbits) == -1))
		goto malformed;
	version = job->sj.version;
	if (vbitshex != NULL && share_rolled_version(job->sj.version, vbits,
	    c->mask, &version) == -1) {
		conn_reject(c, m, w, STATS_REJ_OTHER, MSG_ERR_OTHER,
		    "Invalid version bits");
		return;
	}
	if (ntime < job->ntime || ntime - job->ntime > POOL_NTIME_WINDOW) {
		conn_reject(c, m, w, STATS_REJ_OTHER, MSG_ERR_OTHER,
		    "Ntime out of range");
		return;
	}
	key = dupset_key(p->dup_seed, en2, o->en2_size, ntime, nonce,
	    version);
	if (cj->dups != NULL && dupset_has(cj->dups, key)) {
		conn_reject(c, m, w, STATS_REJ_DUPLICATE, MSG_ERR_DUPLICATE,
		    "Duplicate share");
		return;
	}
	if (c->ndups >= CONN_DUPS_MAX || p->ndups >= POOL_DUPS_MAX) {
		conn_reject(c, m, w, STATS_REJ_OTHER, MSG_ERR_OTHER,
		    "Too many shares for this job");
		return;
	}
	if (!o->trust) {
		if (share_check(&job->sj, c->en1, o->en1_size, o->en2_size,
		    en2hex, ntimehex, noncehex, vbitshex, c->mask, &r) == -1) {
			/* The fields were checked above: a bug if reached. */
			conn_reject(c, m, w, STATS_REJ_OTHER, MSG_ERR_OTHER,
			    share_reason_str(r.reason));
			return;
		}
		if (!share_meets_difficulty(r.hash, cj->diff)) {
			conn_reject(c, m, w, STATS_REJ_LOW_DIFFICULTY,
			    MSG_ERR_LOW_DIFFICULTY, "Low difficulty share");
			return;
		}
		if (r.is_block)
			log_sinfo("poolsim", c->id, "share of \"%s\" solves "
			    "a block (difficulty %g)", name, r.difficulty);
	}
	if (cj->dups == NULL)
		cj->dups = dupset_new();
	dupset_add(cj->dups, key);
	c->ndups++;
	p->ndups++;
	stats_accept(p->st, w, cj->diff, vbits != 0);
	log_sdebug("poolsim", c->id, "share accepted (%s), job %s, "
	    "difficulty %g", name, jid, cj->diff);
	conn_result(c, m, json_true());
	return;
malformed:
	conn_reject(c, m, w, STATS_REJ_MALFORMED, MSG_ERR_OTHER,
	    "Malformed share");
}

static const struct {
	const char	*method;
	void		(*fn)(struct conn *, const struct msg *);
} conn_methods[] = {
	{ "mining.submit", conn_submit },
	{ "mining.configure", conn_configure },
	{ "mining.subscribe", conn_subscribe },
	{ "mining.authorize", conn_authorize },
	{ "mining.suggest_difficulty", conn_suggest_difficulty },
	{ "mining.extranonce.subscribe", conn_extranonce_subscribe },
	{ "mining.ping", conn_ping },
	{ "client.ping", conn_ping },
	{ "mining.multi_version", conn_multi_version },
};

static void
conn_line(struct conn *c, const char *line, size_t len)
{
	struct msg m;
	char err[160];
	size_t i;
	int rc;

	if (len == 0 || (len == strspn(line, " \t")))
		return;		/* blank lines are harmless */
	rc = msg_parse(line, len, &m, err, sizeof(err));
	if (rc != 0) {
		if (rc != MSG_ERR_INVALID_REQUEST)
			rc = MSG_ERR_PARSE;
		log_swarnx("poolsim", c->id, "bad line from %s: %s", c->peer,
		    err);
		msg_send_error(conn_out(c), NULL, rc, err);
		if (++c->bad_lines >= POOL_BAD_LINES_MAX)
			conn_flush_close(c, "too many bad lines");
		return;
	}
	if (m.kind == MSG_RESPONSE) {
		/* We send no requests with ids: nothing to match. */
		msg_clear(&m);
		return;
	}
	for (i = 0; i < sizeof(conn_methods) / sizeof(conn_methods[0]); i++)
		if (strcmp(m.method, conn_methods[i].method) == 0)
			break;
	if (i < sizeof(conn_methods) / sizeof(conn_methods[0])) {
		conn_methods[i].fn(c, &m);
	} else {
		log_sdebug("poolsim", c->id, "unknown method \"%s\"",
		    m.method);
		conn_error(c, &m, MSG_ERR_METHOD_NOT_FOUND,
		    "Method not found");
	}
	msg_clear(&m);
}

/* Handle up to budget buffered lines; reschedule itself if more remain. */
static void
conn_process(struct conn *c, size_t budget)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	char *line;
	size_t len;
	int rc;

	if (c->pool->o->fault == POOLSIM_FAULT_SILENT) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (c->state < CONN_FLUSHING && c->oversize_left == 0) {
		if (budget-- == 0) {
			event_active(c->resume, EV_READ, 0);
			return;
		}
		rc = msg_read_line(in, POOL_LINE_MAX, &line, &len);
		if (rc == 0)
			return;
		if (rc < 0) {
			msg_send_error(conn_out(c), NULL, MSG_ERR_PARSE,
			    "Line too long");
			conn_flush_close(c, "line over 16 KiB");
			return;
		}
		conn_line(c, line, len);
		free(line);
		conn_check_out(c);
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	conn_enter(c);
	if (c->state == CONN_LINGER)
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
	else
		conn_process(c, POOL_LINES_PER_WAKEUP);
	conn_leave(c);
}

static void
conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_enter(c);
	conn_process(c, POOL_LINES_PER_WAKEUP);
	conn_leave(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	conn_enter(c);
	if (c->state == CONN_FLUSHING &&
	    evbuffer_get_length(conn_out(c)) == 0)
		conn_linger(c);
	else if (c->state == CONN_SUBSCRIBED && c->oversize_left > 0)
		conn_send_oversize(c);
	conn_leave(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	conn_enter(c);
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		if (c->state == CONN_LINGER) {
			conn_drop(c, "client closed");
		} else if (c->state < CONN_FLUSHING) {
			/* Answer what it sent before hanging up (printf|nc). */
			conn_process(c, SIZE_MAX);
			conn_flush_close(c, "client closed");
		}
	} else if (what & BEV_EVENT_ERROR) {
		conn_drop(c, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	} else if (what & BEV_EVENT_TIMEOUT) {
		conn_drop(c, c->state == CONN_LINGER ? "client did not close" :
		    "timed out flushing its last reply");
	}
	conn_leave(c);
}

static void
conn_free(struct conn *c)
{
	struct pool *p = c->pool;

	TAILQ_REMOVE(&p->conns, c, entry);
	stats_conn_close(p->st);
	conn_jobs_clear(c);
	event_free(c->resume);
	bufferevent_free(c->bev);
	free(c->names);
	free(c);
}

static void
pool_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct pool *p = arg;
	struct conn *c;
	char host[64], serv[8];
	uint64_t v;
	int one = 1;

	/* Replies are small and latency matters more than packet count. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->resume = event_new(p->base, -1, 0, conn_resume_cb, c);
	if (c->bev == NULL || c->resume == NULL) {
		log_errorx("poolsim", "cannot set up a connection");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->resume != NULL)
			event_free(c->resume);
		free(c);
		return;
	}
	c->pool = p;
	c->id = ++p->next_id;
	c->diff = p->o->difficulty;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, serv);
	else
		snprintf(c->peer, sizeof(c->peer), "?");
	/* extranonce1: a counter, big-endian, unique per connection. */
	v = p->en1_next++;
	for (size_t i = p->o->en1_size; i-- > 0;) {
		c->en1[i] = v & 0xff;
		v >>= 8;
	}
	share_hex_encode(c->en1, p->o->en1_size, c->en1_hex);
	TAILQ_INSERT_TAIL(&p->conns, c, entry);
	stats_conn_open(p->st);

	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, POOL_IN_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_sinfo("poolsim", c->id, "connection from %s", c->peer);
}

static void
pool_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;

	evconnlistener_enable(p->listener);
}

static void
pool_accept_error(struct evconnlistener *l, void *arg)
{
	struct pool *p = arg;
	struct timeval tv = { 1, 0 };

	/* EMFILE and friends: pause rather than spin on a readable socket. */
	log_warn("poolsim", "accept");
	evconnlistener_disable(l);
	evtimer_add(p->relisten, &tv);
}

/* Send job j to every subscribed connection. */
static void
pool_broadcast(struct pool *p, const struct jobs_job *j)
{
	struct conn *c, *next;
	size_t n = 0;

	for (c = TAILQ_FIRST(&p->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CONN_SUBSCRIBED)
			continue;
		conn_send_job(c, j, j->clean);
		conn_check_out(c);
		n++;
	}
	log_info("poolsim", "job %s%s sent to %zu connection%s", j->id,
	    j->clean ? " (new block)" : "", n, n == 1 ? "" : "s");
}

static void
pool_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	const struct jobs_job *j;
	bool clean;

	p->periodic++;
	clean = p->o->clean_every > 0 && p->periodic % p->o->clean_every == 0;
	if ((j = jobs_next(p->jobs, clean)) != NULL)
		pool_broadcast(p, j);
}

void
pool_new_block(struct pool *p)
{
	const struct jobs_job *j = jobs_next(p->jobs, true);

	if (j != NULL)
		pool_broadcast(p, j);
}

void
pool_reconnect_all(struct pool *p)
{
	struct conn *c, *next;
	size_t n = 0;

	for (c = TAILQ_FIRST(&p->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state >= CONN_FLUSHING)
			continue;
		msg_send_request(conn_out(c), NULL, "client.reconnect",
		    json_array());
		conn_check_out(c);
		n++;
	}
	log_info("poolsim", "client.reconnect sent to %zu connection%s", n,
	    n == 1 ? "" : "s");
}

struct pool *
pool_new(struct event_base *base, const struct poolsim_opts *o,
    struct stats *st)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	uint32_t r;

	p->base = base;
	p->o = o;
	p->st = st;
	TAILQ_INIT(&p->conns);
	if (RAND_bytes((unsigned char *)&p->dup_seed,
	    sizeof(p->dup_seed)) != 1 ||
	    RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) {
		log_errorx("poolsim", "the random number generator failed");
		goto err;
	}
	/* Start extranonce1 anywhere, so two runs hand out different ones. */
	p->en1_next = r;
	p->jobs = jobs_new(o->en1_size, o->en2_size);
	if (jobs_next(p->jobs, true) == NULL)
		goto err;
	p->relisten = evtimer_new(base, pool_relisten_cb, p);
	if (p->relisten == NULL)
		goto err;
	if (o->notify_interval > 0) {
		struct timeval tv;
		double whole = floor(o->notify_interval);

		tv.tv_sec = (time_t)whole;
		tv.tv_usec = (suseconds_t)((o->notify_interval - whole) * 1e6);
		if (tv.tv_sec == 0 && tv.tv_usec < 1000)
			tv.tv_usec = 1000;
		p->tick = event_new(base, -1, EV_PERSIST, pool_tick_cb, p);
		if (p->tick == NULL || event_add(p->tick, &tv) == -1)
			goto err;
	}
	return p;
err:
	log_errorx("poolsim", "cannot set up the pool");
	pool_free(p);
	return NULL;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	while (!TAILQ_EMPTY(&p->conns))
		conn_free(TAILQ_FIRST(&p->conns));
	if (p->listener != NULL)
		evconnlistener_free(p->listener);
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->relisten != NULL)
		event_free(p->relisten);
	jobs_free(p->jobs);
	free(p);
}

/* Resolve "host:port" (IPv4, [IPv6], a name, or "*" / "" for any). */
static int
pool_resolve(const char *bind, struct sockaddr_storage *ss, int *sslen)
{
	struct addrinfo hints, *res = NULL;
	const char *colon = strrchr(bind, ':'), *host = bind;
	size_t hostlen;
	char *h;
	int rc;

	if (colon == NULL || colon[1] == '\0') {
		log_errorx("poolsim", "--bind %s: expected HOST:PORT", bind);
		return -1;
	}
	hostlen = (size_t)(colon - bind);
	if (hostlen >= 2 && bind[0] == '[' && bind[hostlen - 1] == ']') {
		host++;
		hostlen -= 2;
	}
	h = xstrndup(host, hostlen);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(h[0] == '\0' || strcmp(h, "*") == 0 ? NULL : h,
	    colon + 1, &hints, &res);
	free(h);
	if (rc != 0) {
		log_errorx("poolsim", "--bind %s: %s", bind, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
pool_listen(struct pool *p, char *addr, size_t addrlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int sslen, port;

	if (pool_resolve(p->o->bind, &ss, &sslen) == -1)
		return -1;
	p->listener = evconnlistener_new_bind(p->base, pool_accept, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    POOL_BACKLOG, (struct sockaddr *)&ss, sslen);
	if (p->listener == NULL) {
		log_error("poolsim", "cannot listen on %s", p->o->bind);
		return -1;
	}
	evconnlistener_set_error_cb(p->listener, pool_accept_error);
	if (getsockname(evconnlistener_get_fd(p->listener),
	    (struct sockaddr *)&ss, &len) == -1) {
		log_error("poolsim", "getsockname");
		return -1;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(addr, addrlen, "[%s]:%d", host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(addr, addrlen, "%s:%d", host, port);
	}
	return port;
}
