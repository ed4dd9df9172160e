/*
 * aggregate.c: the miner's side of aggregation mode, on the session's
 * worker thread.
 *
 * Loka answers the miner's handshake itself: mining.subscribe gets the
 * miner's slot as its extranonce1 and the split's extranonce2 size
 * (hub.h, mining/slots.h), mining.configure the version-rolling mask the
 * pool granted intersected with the miner's, mining.authorize the pool's
 * answer for the worker's name on the shared connection. Jobs come from
 * the hub, one line for every miner of the thread; before each, a miner
 * whose difficulty changed (mining/vardiff.h) gets mining.set_difficulty.
 *
 * Every share is checked here (mining/check.h) against the job it names
 * at the difficulty the miner had for that job, answered at once and
 * booked (books.c); the ones that meet the pool's difficulty go to the
 * hub. With verdict = "pool", those wait for the pool's answer, which
 * then is the miner's and the books'.
 *
 * Lines a miner sends before the first pool has subscribed (the split is
 * not known yet) wait in the session and are handled when it is.
 *
 * Threading: everything here runs on the session's worker thread; the
 * hub's messages arrive through worker_post().
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "books/accounting.h"
#include "config/config.h"
#include "mining/check.h"
#include "mining/jobs.h"
#include "mining/slots.h"
#include "mining/vardiff.h"
#include "metrics/registry.h"
#include "net/worker.h"
#include "proxy/hub.h"
#include "proxy/proxy_internal.h"
#include "store/store.h"
#include "stratum/identity.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* Malformed lines a miner may send before it is closed. */
#define AGG_BAD_LINES_MAX 16

struct agg_session {
	struct session *s;
	struct agg_session *map_next;  /* the thread's id map */
	int64_t slot_local;            /* index in the thread's slots, -1 */
	int conn;                      /* the pool connection its slot is on */
	uint8_t slot[4];
	char en1[9];
	struct vardiff vd;
	bool vd_started;
	struct evbuffer *early;        /* lines before the split was known */
	size_t nearly;
	uint32_t next_token;
	size_t auth_pending;           /* authorizes waiting for the hub */
	uint32_t mask_sent;            /* version mask the miner was told */
};

struct agg_thread {
	struct mining_jobs jobs;
	struct slots slots;
	bool split_known;
	struct hub_split split;
	int index, nthreads;
	struct hub_job *current[HUB_CONNS_MAX]; /* the latest job of each
	                                          * connection (references) */
	uint64_t seed;                 /* duplicate fingerprints' key */
	struct agg_session **map;      /* session id -> session */
	size_t map_cap, map_n;
};

/* ---- the thread's sessions by id (the hub's answers name them) ---- */

static void
map_add(struct agg_thread *at, struct agg_session *a)
{
	size_t b;

	if (at->map_n + 1 > at->map_cap) {
		size_t cap = at->map_cap ? at->map_cap * 2 : 256;
		struct agg_session **nm = xcalloc(cap, sizeof(*nm));

		for (size_t i = 0; i < at->map_cap; i++)
			while (at->map[i] != NULL) {
				struct agg_session *x = at->map[i];

				at->map[i] = x->map_next;
				b = x->s->id % cap;
				x->map_next = nm[b];
				nm[b] = x;
			}
		free(at->map);
		at->map = nm;
		at->map_cap = cap;
	}
	b = a->s->id % at->map_cap;
	a->map_next = at->map[b];
	at->map[b] = a;
	at->map_n++;
}

static void
map_del(struct agg_thread *at, struct agg_session *a)
{
	struct agg_session **pp;

	if (at->map_cap == 0)
		return;
	for (pp = &at->map[a->s->id % at->map_cap]; *pp != NULL;
	    pp = &(*pp)->map_next)
		if (*pp == a) {
			*pp = a->map_next;
			at->map_n--;
			return;
		}
}

static struct session *
map_find(struct agg_thread *at, uint64_t id)
{
	if (at->map_cap == 0)
		return NULL;
	for (struct agg_session *a = at->map[id % at->map_cap]; a != NULL;
	    a = a->map_next)
		if (a->s->id == id)
			return a->s->state == SESSION_CLOSING ? NULL : a->s;
	return NULL;
}

/* ---- state ---- */

static struct agg_session *
agg_of(struct session *s)
{
	struct agg_thread *at = s->t->agg;
	const struct cfg_aggregate *ca = &s->t->proxy->cfg->aggregate;
	struct agg_session *a = s->agg;

	if (a != NULL)
		return a;
	a = xcalloc(1, sizeof(*a));
	a->s = s;
	a->slot_local = -1;
	vardiff_init(&a->vd, ca->start_difficulty, ca->min_difficulty,
	    ca->share_rate, ca->retarget_interval_ms, now_mono_ms());
	s->agg = a;
	s->difficulty = 0;
	map_add(at, a);
	return a;
}

static const struct cfg_pool *
pool_cfg(const struct session *s, int pool)
{
	return &s->t->proxy->cfg->pools[pool];
}

/* ---- answers to the miner ---- */

static int
send_difficulty(struct session *s, double d)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "{\"id\":null,\"method\":"
	    "\"mining.set_difficulty\",\"params\":[%.17g]}", d);

	s->difficulty = d;
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_SET_DIFFICULTY);
	return session_send_raw(s, buf, (size_t)n);
}

static void
job_line_done(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	hub_job_unref(arg);
}

/* Job j to one miner: its difficulty first when that changed, the
 * version mask when the pool's changed. */
static int
send_job(struct session *s, struct hub_job *j)
{
	struct agg_session *a = s->agg;
	uint32_t mask = s->requested_mask & j->job.version_mask;

	vardiff_set_ceiling(&a->vd, j->job.pool_diff);
	vardiff_retarget(&a->vd, now_mono_ms());
	if (a->vd.diff != s->difficulty && send_difficulty(s, a->vd.diff) != 0)
		return -1;
	if (s->version_rolling && mask != s->granted_mask) {
		char hex[9];

		s->granted_mask = mask;
		snprintf(hex, sizeof(hex), "%08" PRIx32, mask);
		msg_send_request(session_out(s), NULL,
		    "mining.set_version_mask", json_pack("[s]", hex));
		STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_SET_VERSION_MASK);
	}
	s->jobs[s->job_next].id_hash = j->job.id;
	s->jobs[s->job_next].diff = s->difficulty;
	s->job_next = (s->job_next + 1) % SESSION_JOBS;
	s->pool = j->pool;
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_NOTIFY);
	/* Every miner's output refers to the one line (no copy per miner):
	 * the job lives until the last of them has written it. */
	if (s->down == NULL)
		return -1;
	atomic_fetch_add(&j->refs, 1);
	if (evbuffer_add_reference(session_out(s), j->line, j->len,
	    job_line_done, j) != 0) {
		hub_job_unref(j);
		return -1;
	}
	return session_check_output(s);
}

/* The difficulty the miner had for Loka job id (its current one when the
 * job is no longer remembered). */
static double
job_difficulty(const struct session *s, uint32_t id)
{
	for (size_t i = 0; i < SESSION_JOBS; i++)
		if (s->jobs[i].id_hash == id && s->jobs[i].diff > 0)
			return s->jobs[i].diff;
	return s->difficulty;
}

/* ---- miner requests ---- */

static int
miner_subscribe(struct session *s, struct msg *m)
{
	struct agg_thread *at = s->t->agg;
	struct agg_session *a = agg_of(s);
	char sid[17];
	json_t *res;

	if (a->slot_local < 0) {
		int64_t local = slots_take(&at->slots);
		uint64_t slot;

		if (local < 0) {
			log_swarnx("stratum", s->id, "%s: every extranonce "
			    "slot of this thread is taken", s->peer_str);
			session_send_error(s, m->id, MSG_ERR_OTHER,
			    "No free extranonce slot");
			session_close_after_flush(s, "no free slot");
			return -1;
		}
		/* The farm's slot numbers: this thread's are those equal to
		 * its index modulo the threads; each names a connection and
		 * a slot on it. */
		slot = (uint64_t)local * (uint64_t)at->nthreads +
		    (uint64_t)at->index;
		a->slot_local = local;
		a->conn = (int)(slot / at->split.nslots);
		slots_encode((uint32_t)(slot % at->split.nslots),
		    at->split.slot_bytes, a->slot);
		for (int i = 0; i < at->split.slot_bytes; i++)
			snprintf(a->en1 + 2 * i, 3, "%02x", a->slot[i]);
	}
	free(s->subscribe_params);
	s->subscribe_params = m->params != NULL ? json_dumps(m->params,
	    JSON_COMPACT) : NULL;
	snprintf(sid, sizeof(sid), "%016" PRIx64, s->id);
	res = json_pack("[[[s,s],[s,s]],s,i]", "mining.set_difficulty", sid,
	    "mining.notify", sid, a->en1, at->split.miner_bytes);
	if (session_send_result(s, m->id, res) != 0)
		return -1;
	s->subscribed = true;
	s->up_state = UP_READY;
	if (!a->vd_started) {
		a->vd_started = true;
		a->vd.changed_ms = now_mono_ms();
	}
	if (at->current[a->conn] != NULL &&
	    send_job(s, at->current[a->conn]) != 0)
		return -1;
	for (size_t i = 0; i < s->nworkers; i++)
		if (s->workers[i].authorized) {
			if (s->state == SESSION_STRATUM)
				session_activated(s);
			break;
		}
	return 0;
}

static uint32_t
parse_hex32(const char *hex, bool *ok)
{
	char *end;
	unsigned long v;

	*ok = false;
	if (hex == NULL || *hex == '\0' || strlen(hex) > 8)
		return 0;
	errno = 0;
	v = strtoul(hex, &end, 16);
	if (errno != 0 || *end != '\0')
		return 0;
	*ok = true;
	return (uint32_t)v;
}

static int
miner_configure(struct session *s, struct msg *m)
{
	struct agg_session *a = agg_of(s);
	json_t *exts = json_array_get(m->params, 0);
	json_t *opts = json_array_get(m->params, 1);
	json_t *res = json_object();
	struct hub_split sp;
	struct hub_channel_view v;
	uint32_t pool_mask = 0;
	size_t i;
	json_t *e;
	bool ok;

	if (!json_is_array(exts)) {
		json_decref(res);
		return session_send_error(s, m->id, MSG_ERR_INVALID_PARAMS,
		    "Invalid params: expected [[extensions], {options}]");
	}
	if (hub_split_get(s->t->proxy->hub, &sp) &&
	    hub_channel_view(s->t->proxy->hub,
	    hub_active_pool(s->t->proxy->hub), &v))
		pool_mask = v.version_mask;
	if (s->t->agg->current[a->conn] != NULL)
		pool_mask = s->t->agg->current[a->conn]->job.version_mask;
	json_array_foreach(exts, i, e) {
		const char *name = json_string_value(e);

		if (name == NULL)
			continue;
		if (strcmp(name, "version-rolling") == 0) {
			uint32_t want = parse_hex32(json_string_value(
			    json_object_get(opts, "version-rolling.mask")), &ok);
			char hex[9];

			s->requested_mask = ok ? want : 0x1fffe000;
			s->granted_mask = s->requested_mask & pool_mask;
			s->version_rolling = s->granted_mask != 0;
			snprintf(hex, sizeof(hex), "%08" PRIx32,
			    s->granted_mask);
			json_object_set_new(res, "version-rolling",
			    json_boolean(s->version_rolling));
			json_object_set_new(res, "version-rolling.mask",
			    json_string(hex));
		} else if (strcmp(name, "minimum-difficulty") == 0) {
			json_t *jv = json_object_get(opts,
			    "minimum-difficulty.value");
			double d = json_is_number(jv) ? json_number_value(jv) :
			    0;

			json_object_set_new(res, "minimum-difficulty",
			    json_boolean(vardiff_minimum(&a->vd, d) == 0));
		} else {
			json_object_set_new(res, name, json_false());
		}
	}
	return session_send_result(s, m->id, res);
}

static int
miner_suggest(struct session *s, struct msg *m, bool target)
{
	struct agg_session *a = agg_of(s);
	double d = 0;

	if (target) {
		const char *hex = msg_param_str(m, 0);
		uint8_t t[32];
		double tv = 0;

		/* difficulty = diff-1 target / target; the target as a
		 * 256-bit big-endian hex number. */
		if (hex != NULL && strlen(hex) <= 64 &&
		    share_hex_decode(hex, strlen(hex), t, sizeof(t)) > 0) {
			size_t n = strlen(hex) / 2;

			for (size_t i = 0; i < n; i++)
				tv = tv * 256 + t[i];
			if (tv > 0)
				d = 0xffff * pow(2, 208) / tv;
		}
	} else if (msg_param_double(m, 0, &d) != 0)
		d = 0;
	if (vardiff_suggest(&a->vd, d) != 0) {
		if (m->id != NULL)
			return session_send_error(s, m->id,
			    MSG_ERR_INVALID_PARAMS, "Invalid difficulty");
		return 0;
	}
	if (m->id != NULL)
		return session_send_result(s, m->id, json_true());
	return 0;
}

static int
worker_find(const struct session *s, const char *login)
{
	for (size_t i = 0; i < s->nworkers; i++)
		if (strcmp(s->workers[i].login, login) == 0)
			return (int)i;
	return -1;
}

static int
miner_authorize(struct session *s, struct msg *m)
{
	struct agg_session *a = agg_of(s);
	const char *login = msg_param_str(m, 0);
	const char *password = msg_param_str(m, 1);
	struct session_worker *w;
	struct hub_auth *ha;
	struct identity id;
	int i;

	if (login == NULL)
		return session_send_error(s, m->id, MSG_ERR_INVALID_PARAMS,
		    "Invalid params: expected [\"user.worker\", \"password\"]");
	if (identity_rewrite(login, ".", "_", "", &id) != 0)
		return session_send_error(s, m->id, MSG_ERR_UNAUTHORIZED,
		    "Invalid worker name");
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
	ha = xcalloc(1, sizeof(*ha));
	ha->session = s->id;
	ha->thread = worker_index(s->t->worker);
	ha->worker = i;
	ha->miner_id = m->id != NULL ? json_dumps(m->id,
	    JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	ha->login = xstrdup(login);
	ha->password = xstrdup(password != NULL ? password : "");
	a->auth_pending++;
	hub_authorize(s->t->proxy->hub, ha);
	return 0;
}

/* The worker's entry in the books for pool (the pool its job came
 * from). */
static struct acct_worker *
worker_acct(struct session *s, struct session_worker *w, int pool)
{
	if (w->acct != NULL && w->acct->pool == pool)
		return w->acct;
	if (w->acct == NULL)
		return NULL;
	w->acct = acct_worker_get(s->t->acct, pool, w->acct->user,
	    w->acct->worker);
	return w->acct;
}

/* A share's answer: true, or the verdict's error; for the usual integer
 * id a line printed directly (no JSON tree). */
static int
answer_share(struct session *s, json_t *id, enum mining_verdict v)
{
	char buf[160];
	int n;

	if (!json_is_integer(id) || s->down == NULL)
		return v == MINING_OK ? session_send_result(s, id,
		    json_true()) : session_send_error(s, id,
		    mining_verdict_code(v), mining_verdict_str(v));
	if (v == MINING_OK)
		n = snprintf(buf, sizeof(buf), "{\"id\":%" JSON_INTEGER_FORMAT
		    ",\"result\":true,\"error\":null}\n",
		    json_integer_value(id));
	else
		n = snprintf(buf, sizeof(buf), "{\"id\":%" JSON_INTEGER_FORMAT
		    ",\"result\":null,\"error\":[%d,\"%s\",null]}\n",
		    json_integer_value(id), mining_verdict_code(v),
		    mining_verdict_str(v));
	evbuffer_add(session_out(s), buf, (size_t)n);
	STAT_MSG(s->t, PROXY_DIR_TO_MINER, MSG_M_RESPONSE);
	return session_check_output(s);
}

/* mining.submit with id and its np parameters as strings (NULL: absent
 * or not a string). */
static int
submit(struct session *s, json_t *id, const char *const *f, size_t np)
{
	struct agg_thread *at = s->t->agg;
	struct agg_session *a = agg_of(s);
	const struct cfg_pool *pc;
	const char *login = f[0], *jobhex = f[1], *en2 = f[2];
	const char *ntime = f[3], *nonce = f[4];
	const char *vbits = np > 5 ? f[5] : NULL;
	struct session_worker *w;
	struct mining_job *job;
	struct mining_share out;
	enum mining_verdict v;
	double diff;
	uint32_t jid;
	bool ok, wait;
	int wi;

	STAT_INC(s->t, submits);
	if (login == NULL || jobhex == NULL || en2 == NULL || ntime == NULL ||
	    nonce == NULL)
		return session_send_error(s, id, MSG_ERR_INVALID_PARAMS,
		    "Invalid params: expected [worker, job_id, extranonce2, "
		    "ntime, nonce(, version_bits)]");
	wi = worker_find(s, login);
	w = wi >= 0 ? &s->workers[wi] : NULL;
	if (w == NULL || !w->authorized || w->acct == NULL) {
		books_share(s, NULL, false, ACCT_REJ_UNAUTHORIZED,
		    s->difficulty);
		return session_send_error(s, id, MSG_ERR_UNAUTHORIZED,
		    "Unauthorized worker");
	}
	if (a->slot_local < 0)
		return session_send_error(s, id, MSG_ERR_NOT_SUBSCRIBED,
		    "Not subscribed");
	jid = parse_hex32(jobhex, &ok);
	job = ok ? mining_jobs_find(&at->jobs, jid) : NULL;
	diff = job != NULL ? job_difficulty(s, jid) : s->difficulty;
	v = mining_check(job, a->slot, (size_t)at->split.slot_bytes,
	    (size_t)at->split.miner_bytes, en2, ntime, nonce,
	    s->version_rolling ? vbits : NULL, s->granted_mask, diff,
	    at->seed, &out);
	vardiff_share(&a->vd, diff);
	if (job != NULL)
		s->pool = HUB_CHANNEL_POOL(job->upstream);
	pc = job != NULL ? pool_cfg(s, HUB_CHANNEL_POOL(job->upstream)) :
	    NULL;
	wait = v == MINING_OK && out.forward && pc != NULL &&
	    pc->verdict == CFG_VERDICT_POOL;
	if (out.forward && job != NULL) {
		struct hub_share *sh = xcalloc(1, sizeof(*sh));

		sh->session = s->id;
		sh->thread = worker_index(s->t->worker);
		sh->channel = job->upstream;
		sh->pool = HUB_CHANNEL_POOL(job->upstream);
		snprintf(sh->pool_job_id, sizeof(sh->pool_job_id), "%s",
		    job->pool_job_id);
		snprintf(sh->login, sizeof(sh->login), "%s", login);
		snprintf(sh->en2, sizeof(sh->en2), "%s%s", a->en1, en2);
		snprintf(sh->ntime, sizeof(sh->ntime), "%s", ntime);
		snprintf(sh->nonce, sizeof(sh->nonce), "%s", nonce);
		/* The miner's rolled bits, as it sent them (within the
		 * mask it was granted, itself within the pool's). */
		if (s->version_rolling && vbits != NULL &&
		    job->version_mask != 0)
			snprintf(sh->vbits, sizeof(sh->vbits), "%s", vbits);
		sh->diff = diff;
		sh->pool_diff = job->pool_diff;
		sh->block = out.block;
		sh->worker = wi;
		if (wait) {
			struct pending *p = NULL;

			for (size_t i = 0; i < s->npend; i++)
				if (s->pend[i].up_id == 0) {
					p = &s->pend[i];
					break;
				}
			if (p == NULL && s->npend < (size_t)s->t->proxy->cfg->
			    server.max_pending_requests) {
				size_t old = s->npend;

				s->npend = s->npend ? s->npend * 2 : 4;
				if (s->npend > (size_t)s->t->proxy->cfg->
				    server.max_pending_requests)
					s->npend = (size_t)s->t->proxy->cfg->
					    server.max_pending_requests;
				s->pend = xreallocarray(s->pend, s->npend,
				    sizeof(*s->pend));
				memset(s->pend + old, 0, (s->npend - old) *
				    sizeof(*s->pend));
				p = &s->pend[old];
			}
			if (p == NULL) {
				free(sh);
				return session_send_error(s, id,
				    MSG_ERR_OTHER, "Too many pending requests");
			}
			if (++a->next_token == 0)
				a->next_token = 1;
			p->up_id = a->next_token;
			p->kind = PEND_SUBMIT;
			p->miner_id = id != NULL ? json_incref(id) :
			    NULL;
			p->worker = wi;
			p->diff = diff;
			p->sent_us = now_mono_us();
			sh->wait = true;
			sh->token = p->up_id;
			s->submits_pending++;
		}
		hub_submit(s->t->proxy->hub, sh);
	}
	if (out.block)
		log_sinfo("stratum", s->id, "%s: block candidate from %s "
		    "(forwarded; local verdict %s)", s->peer_str, login,
		    mining_verdict_str(v));
	if (wait)
		return 0;
	if (worker_acct(s, w, s->pool) == NULL) {
		books_share(s, NULL, false, ACCT_REJ_OTHER, diff);
		return session_send_error(s, id, MSG_ERR_OTHER,
		    "Worker table full");
	}
	if (v == MINING_OK)
		books_share(s, w, true, ACCT_REJ_MAX, diff);
	else
		books_share(s, w, false, acct_reason(mining_verdict_code(v),
		    mining_verdict_str(v)), diff);
	return answer_share(s, id, v);
}

static int
miner_submit(struct session *s, struct msg *m)
{
	const char *p[6];

	for (size_t i = 0; i < 6; i++)
		p[i] = msg_param_str(m, i);
	return submit(s, m->id, p, 6);
}

static int
miner_request(struct session *s, struct msg *m)
{
	const char *method = m->method;

	STAT_MSG(s->t, PROXY_DIR_FROM_MINER, msg_method_id(method));
	if (strcmp(method, "mining.submit") == 0)
		return miner_submit(s, m);
	if (strcmp(method, "mining.subscribe") == 0)
		return miner_subscribe(s, m);
	if (strcmp(method, "mining.authorize") == 0)
		return miner_authorize(s, m);
	if (strcmp(method, "mining.configure") == 0)
		return miner_configure(s, m);
	if (strcmp(method, "mining.suggest_difficulty") == 0)
		return miner_suggest(s, m, false);
	if (strcmp(method, "mining.suggest_target") == 0)
		return miner_suggest(s, m, true);
	if (m->id == NULL)
		return 0; /* other notifications: nothing to answer */
	if (strcmp(method, "mining.extranonce.subscribe") == 0)
		return session_send_result(s, m->id, json_true());
	if (strcmp(method, "mining.ping") == 0 ||
	    strcmp(method, "client.ping") == 0)
		return session_send_result(s, m->id, json_string("pong"));
	if (strcmp(method, "mining.multi_version") == 0)
		return session_send_result(s, m->id, json_true());
	if (strcmp(method, "client.get_version") == 0)
		return session_send_result(s, m->id,
		    json_string("loka-stratum/" LOKA_VERSION));
	return session_send_error(s, m->id, MSG_ERR_METHOD_NOT_FOUND,
	    "Method not found");
}

static int
miner_line(struct session *s, char *line, size_t len)
{
	struct agg_thread *at = s->t->agg;
	struct agg_session *a = agg_of(s);
	struct msg_scan sc;
	struct msg m;
	char err[128];
	int rc;

	if (!at->split_known) {
		/* No pool has subscribed yet: the line waits. */
		if (a->nearly >= (size_t)s->t->proxy->cfg->server.
		    max_pending_requests)
			return session_send_error(s, NULL, MSG_ERR_OTHER,
			    "Too many pending requests");
		if (a->early == NULL)
			a->early = evbuffer_new();
		evbuffer_add(a->early, line, len);
		evbuffer_add(a->early, "\n", 1);
		a->nearly++;
		return 0;
	}
	/* The usual submit: scanned, no JSON tree (as in passthrough). */
	if (msg_scan(line, len, &sc) == 1 && sc.method_type ==
	    MSG_SCAN_STRING && sc.method.len == sizeof("mining.submit") - 1 &&
	    memcmp(sc.method.p, "mining.submit", sc.method.len) == 0 &&
	    sc.params_type == MSG_SCAN_ARRAY && sc.nparams >= 5 &&
	    sc.nparams <= 6 && (sc.id_type == MSG_SCAN_INT ||
	    sc.id_type == MSG_SCAN_STRING)) {
		const char *p[6] = { NULL };
		json_t *id;

		msg_scan_terminate(&sc);
		for (size_t i = 0; i < sc.nparams; i++)
			p[i] = sc.params[i].p;
		id = sc.id_type == MSG_SCAN_INT ? json_integer(sc.id_int) :
		    json_stringn(sc.id_str.p, sc.id_str.len);
		STAT_MSG(s->t, PROXY_DIR_FROM_MINER, MSG_M_SUBMIT);
		rc = submit(s, id, p, sc.nparams);
		json_decref(id);
		return rc;
	}
	if (msg_parse(line, len, &m, err, sizeof(err)) != 0) {
		STAT_INC(s->t, parse_errors);
		if (++s->bad_lines > AGG_BAD_LINES_MAX) {
			session_close_after_flush(s, "too many bad lines");
			return -1;
		}
		return session_send_error(s, NULL, MSG_ERR_PARSE, err);
	}
	if (m.kind == MSG_RESPONSE) {
		msg_clear(&m);
		return 0; /* answers to Loka's notifications: none expected */
	}
	rc = miner_request(s, &m);
	msg_clear(&m);
	return rc;
}

/* ---- the hub's messages ---- */

static void
replay_early(struct session *s)
{
	struct agg_session *a = s->agg;
	char *line;
	size_t len;

	if (a == NULL || a->early == NULL)
		return;
	while (s->state != SESSION_CLOSING &&
	    msg_read_line(a->early, SIZE_MAX, &line, &len) == 1) {
		int rc;

		a->nearly--;
		rc = miner_line(s, line, len);
		free(line);
		if (rc < 0)
			return;
	}
}

void
aggregate_on_split(struct proxy_thread *t, const struct hub_split *sp)
{
	struct agg_thread *at = t->agg;
	uint64_t total;
	uint32_t n;
	struct session *s, *next;

	if (at->split_known)
		return;
	at->split = *sp;
	total = (uint64_t)sp->nslots * (uint64_t)sp->conns;
	n = total > (uint64_t)at->index ? (uint32_t)((total - 1 -
	    (uint64_t)at->index) / (uint64_t)at->nthreads + 1) : 0;
	if (n > SLOTS_MAX)
		n = SLOTS_MAX;
	if (n == 0 || slots_init(&at->slots, n) != 0)
		log_warnx("stratum", "thread %d: no extranonce slots for its "
		    "miners (%" PRIu32 " slots for %d threads)", at->index,
		    sp->nslots, at->nthreads);
	at->split_known = true;
	for (s = TAILQ_FIRST(&t->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		replay_early(s);
	}
}

void
aggregate_on_job(struct proxy_thread *t, struct hub_job *j)
{
	struct agg_thread *at = t->agg;
	struct session *s, *next;

	/* Another pool: its chain tip is the one that counts now (a share
	 * for the old pool's jobs is stale, whatever their heights). */
	if (j->switched)
		at->jobs.tip = -1;
	if (j->switched)
		for (size_t i = 0; i < MINING_JOBS_KEEP; i++) {
			struct mining_job *o = at->jobs.ring[i];

			if (o != NULL && HUB_CHANNEL_POOL(o->upstream) !=
			    j->pool)
				o->stale = true;
		}
	mining_jobs_add(&at->jobs, &j->job);
	if (j->job.sj.clean && at->slots.n > 0)
		slots_clean_job(&at->slots);
	atomic_fetch_add(&j->refs, 1);
	hub_job_unref(at->current[j->conn]);
	at->current[j->conn] = j;
	for (s = TAILQ_FIRST(&t->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->agg == NULL || !s->subscribed ||
		    s->agg->conn != j->conn ||
		    (s->state != SESSION_STRATUM &&
		    s->state != SESSION_ACTIVE))
			continue;
		send_job(s, j);
	}
}

void
aggregate_on_no_work(struct proxy_thread *t)
{
	struct agg_thread *at = t->agg;

	for (size_t i = 0; i < MINING_JOBS_KEEP; i++)
		if (at->jobs.ring[i] != NULL)
			at->jobs.ring[i]->stale = true;
}

static int
send_json_answer(struct session *s, const char *idtext, json_t *result,
    int code, const char *message)
{
	json_t *id = idtext != NULL ? json_loads(idtext, JSON_DECODE_ANY,
	    NULL) : NULL;
	int rc;

	if (result != NULL)
		rc = session_send_result(s, id, result);
	else
		rc = session_send_error(s, id, code, message);
	json_decref(id);
	return rc;
}

void
aggregate_on_auth(struct proxy_thread *t, struct hub_auth *a)
{
	struct session *s = map_find(t->agg, a->session);
	struct session_worker *w;
	struct identity id;
	const struct cfg_pool *pc;

	if (s == NULL || a->worker < 0 || (size_t)a->worker >= s->nworkers ||
	    strcmp(s->workers[a->worker].login, a->login) != 0) {
		hub_auth_free(a);
		return;
	}
	s->agg->auth_pending--;
	w = &s->workers[a->worker];
	if (!a->ok || a->pool < 0) {
		w->authorized = false;
		log_sinfo("stratum", s->id, "%s: worker %s refused: %s",
		    s->peer_str, a->login, a->message);
		if (a->code == MSG_ERR_UNAUTHORIZED)
			guard_auth_failed(s, false);
		if (s->state != SESSION_CLOSING)
			send_json_answer(s, a->miner_id, NULL,
			    a->code != 0 ? a->code : MSG_ERR_OTHER,
			    a->message);
		hub_auth_free(a);
		return;
	}
	pc = pool_cfg(s, a->pool);
	if (identity_rewrite(w->login, pc->sep1, pc->sep2, pc->username,
	    &id) != 0 || (w->acct = acct_worker_get(t->acct, a->pool,
	    id.user, id.worker)) == NULL) {
		send_json_answer(s, a->miner_id, NULL, MSG_ERR_UNAUTHORIZED,
		    "Worker table full");
		hub_auth_free(a);
		return;
	}
	free(w->pool_name);
	w->pool_name = xstrdup(id.pool_name);
	w->authorized = true;
	proxy_metrics_worker(t->proxy, w, pc->name, id.user, id.worker);
	if (t->ring != NULL)
		store_post_seen(t->ring, pc->name, id.user, id.worker,
		    now_wall_ms());
	log_sinfo("stratum", s->id, "%s authorized %s as %s on pool %s",
	    s->peer_str, w->login, w->pool_name, pc->name);
	if (send_json_answer(s, a->miner_id, json_true(), 0, NULL) == 0 &&
	    s->state == SESSION_STRATUM && s->subscribed)
		session_activated(s);
	hub_auth_free(a);
}

void
aggregate_on_verdict(struct proxy_thread *t, struct hub_share *sh)
{
	struct session *s = map_find(t->agg, sh->session);
	struct pending *p = NULL;
	struct session_worker *w;

	if (s == NULL) {
		hub_share_free(sh);
		return;
	}
	for (size_t i = 0; i < s->npend; i++)
		if (s->pend[i].up_id == sh->token &&
		    s->pend[i].kind == PEND_SUBMIT) {
			p = &s->pend[i];
			break;
		}
	if (p == NULL) {
		hub_share_free(sh);
		return;
	}
	if (s->submits_pending > 0)
		s->submits_pending--;
	w = p->worker >= 0 && (size_t)p->worker < s->nworkers ?
	    &s->workers[p->worker] : NULL;
	s->pool = sh->pool;
	if (w != NULL && worker_acct(s, w, sh->pool) == NULL)
		w = NULL;
	if (s->t->proxy->submit_rtt != NULL)
		metrics_histogram_observe(s->t->proxy->submit_rtt[sh->pool],
		    (double)(now_mono_us() - p->sent_us) / 1e6);
	if (sh->accepted) {
		books_share(s, w, true, ACCT_REJ_MAX, p->diff);
		if (session_send_result(s, p->miner_id, json_true()) == 0)
			session_drain_check(s);
	} else {
		books_share(s, w, false, acct_reason(sh->code, NULL), p->diff);
		if (session_send_error(s, p->miner_id, sh->code,
		    sh->code == MSG_ERR_OTHER ? "Rejected by the pool" :
		    "Rejected") == 0)
			session_drain_check(s);
	}
	json_decref(p->miner_id);
	memset(p, 0, sizeof(*p));
	hub_share_free(sh);
}

const char *
aggregate_session_slot(const struct session *s)
{
	return s->agg != NULL ? s->agg->en1 : "";
}

/* ---- the mode's interface (proxy_internal.h) ---- */

static bool
aggregate_waiting_for_pool(const struct session *s)
{
	const struct agg_session *a = s->agg;

	return a != NULL && (a->auth_pending > 0 || a->nearly > 0 ||
	    s->submits_pending > 0);
}

static void
aggregate_give_up(struct session *s)
{
	for (size_t i = 0; i < s->npend; i++) {
		struct pending *p = &s->pend[i];
		struct session_worker *w;

		if (p->up_id == 0)
			continue;
		w = p->worker >= 0 && (size_t)p->worker < s->nworkers ?
		    &s->workers[p->worker] : NULL;
		books_share(s, w, false, ACCT_REJ_OTHER, p->diff);
		if (s->down != NULL)
			session_send_error(s, p->miner_id, MSG_ERR_OTHER,
			    "No verdict from the pool");
		json_decref(p->miner_id);
		memset(p, 0, sizeof(*p));
	}
	s->submits_pending = 0;
}

static void
aggregate_free(struct session *s)
{
	struct agg_session *a = s->agg;

	aggregate_give_up(s);
	free(s->pend);
	s->pend = NULL;
	s->npend = 0;
	free(s->subscribe_params);
	s->subscribe_params = NULL;
	if (a == NULL)
		return;
	if (a->slot_local >= 0)
		slots_release(&s->t->agg->slots, (uint32_t)a->slot_local);
	map_del(s->t->agg, a);
	if (a->early != NULL)
		evbuffer_free(a->early);
	free(a);
	s->agg = NULL;
}

const struct proxy_mode aggregate_mode = {
	.name = "aggregate",
	.miner_line = miner_line,
	.waiting_for_pool = aggregate_waiting_for_pool,
	.give_up = aggregate_give_up,
	.free = aggregate_free,
};

/* ---- the thread ---- */

void
aggregate_thread_init(struct proxy_thread *t)
{
	struct agg_thread *at = xcalloc(1, sizeof(*at));

	mining_jobs_init(&at->jobs);
	at->index = worker_index(t->worker);
	at->nthreads = (int)t->proxy->nworkers;
	if (RAND_bytes((unsigned char *)&at->seed, sizeof(at->seed)) != 1)
		at->seed = (uint64_t)now_mono_us() * 0x9e3779b97f4a7c15ULL;
	t->agg = at;
}

void
aggregate_thread_fini(struct proxy_thread *t)
{
	struct agg_thread *at = t->agg;

	if (at == NULL)
		return;
	mining_jobs_fini(&at->jobs);
	if (at->slots.n > 0)
		slots_fini(&at->slots);
	for (int k = 0; k < HUB_CONNS_MAX; k++)
		hub_job_unref(at->current[k]);
	free(at->map);
	free(at);
	t->agg = NULL;
}
