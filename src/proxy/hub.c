/*
 * hub.c: aggregation mode's shared pool connections, on their own thread
 * (see hub.h).
 *
 * One channel per enabled pool. A channel connects, sends
 * mining.configure (version rolling), mining.subscribe and the pool
 * account's mining.authorize, then relays jobs: each mining.notify of the
 * active channel becomes a struct hub_job (Loka's job id, coinb1 followed
 * by the pool's extranonce1) posted to every worker thread, with the
 * mining.notify line miners get already printed. Shares the worker
 * threads found good enough for the pool come back here and go out under
 * the worker's name (identity = "worker": authorized on the channel
 * first) or the account's; the pool's verdicts are counted per channel
 * and per worker, and sent back when the miner waits for them.
 *
 * The active channel is the most preferred one (the priority in force,
 * router_priority(), then file order) that is enabled, ready and
 * healthy: it has sent a job within 2.5 of its own job intervals. A change of active channel sends its latest job to
 * every miner as a clean one; shares for the old channel's jobs are stale
 * from then on (the worker threads see `switched`).
 *
 * Threading: everything here runs on the hub's thread except
 * hub_authorize(), hub_submit(), the views (locked) and start/stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>

#include "books/accounting.h"
#include "config/config.h"
#include "mining/slots.h"
#include "net/sockopt.h"
#include "net/tls.h"
#include "net/worker.h"
#include "proxy/hub.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "store/store.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* Requests in flight per channel (a ring: ids wrap onto older slots). */
#define HUB_PEND 8192
/* Lines handled per wakeup of one channel. */
#define HUB_LINES_PER_WAKEUP 256
/* A channel with no job for this many of its own job intervals is
 * unhealthy (and never less than HUB_SILENCE_MIN_MS). */
#define HUB_SILENCE_INTERVALS 2.5
#define HUB_SILENCE_MIN_MS 3000
/* Before two jobs have been seen: the interval assumed. */
#define HUB_INTERVAL_DEFAULT_MS 60000
/* A pool that leaves a share unanswered this long has stopped: its
 * connection is failed (miners move at once, not after its silence). */
#define HUB_SUBMIT_TIMEOUT_MS 5000
/* A preferred pool's first job is waited for this long at start. */
#define HUB_FIRST_JOB_WAIT_MS 2000
/* The split waits this long for every pool to subscribe or fail. */
#define HUB_SPLIT_WAIT_MS 10000
/* Extranonce1 bytes accepted from a pool. */
#define HUB_EN1_MAX 16
/* Extranonce2 sizes accepted from a pool. */
#define HUB_EN2_MIN 3
#define HUB_EN2_MAX 16

enum ch_state {
	CH_DISABLED = 0,
	CH_IDLE,
	CH_CONNECTING,
	CH_HANDSHAKE,
	CH_READY,
	CH_BACKOFF,
	CH_UNUSABLE,     /* its extranonce sizes cannot serve the split */
	CH_STATE_MAX
};

static const char *const ch_state_names[CH_STATE_MAX] = {
	"disabled", "idle", "connecting", "handshake", "ready", "backoff",
	"unusable"
};

enum hpend_kind {
	HP_NONE = 0,
	HP_CONFIGURE,
	HP_SUBSCRIBE,
	HP_ACCOUNT,     /* the pool account's authorize */
	HP_WORKER,      /* a worker's authorize (payload: hub_auth or NULL) */
	HP_SUBMIT       /* payload: hub_share */
};

struct hpend {
	uint32_t id;
	enum hpend_kind kind;
	void *payload;
	char *name;     /* HP_WORKER: the name authorized */
	int64_t sent_ms;
};

/* The names authorized on a channel. */
enum name_state { NAME_PENDING = 1, NAME_OK, NAME_REFUSED };

struct name {
	char *name;     /* as the pool sees it */
	char *login;    /* as the miner wrote it */
	enum name_state state;
	struct name *next;
};

struct channel {
	struct hub *h;
	int pool;
	int k;                      /* which connection to the pool */
	const struct cfg_pool *cfg;
	enum ch_state state;
	struct bufferevent *bev;
	struct event *timer;        /* backoff; handshake deadline */
	uint32_t next_id;
	struct hpend pend[HUB_PEND];
	size_t submits_pending;
	char en1[2 * HUB_EN1_MAX + 1];
	int en2_size;
	int pad;                    /* pool en2 bytes beyond the split's */
	double diff;
	uint32_t mask;              /* version rolling granted; 0: none */
	bool subscribed, account_ok, configured;
	int64_t connected_ms;
	int64_t last_job_ms;
	double interval_ms;         /* smoothed time between jobs; 0: unknown */
	int64_t burst_start_ms;
	int burst;
	struct hub_job *last;       /* its latest job */
	json_t *early;              /* a job's params that came before the
	                             * split was decided */
	bool tried;                 /* subscribed or failed at least once */
	bool failed;                /* failed since the hub started */
	int64_t ready_ms;           /* when it last became ready */
	struct name **names;
	size_t nnames, names_cap;
	uint64_t jobs, submitted, accepted, rejected, lost;
	double accepted_diff, rejected_diff;
	struct hub_channel_view view; /* what other threads read (view_lock),
	                               * published by ch_publish() */
};

struct waiting {
	struct hub_auth *a;
	struct waiting *next;
};

struct hub {
	struct proxy *p;
	struct worker *w;
	struct channel *ch;         /* HUB_CONNS_MAX per configured pool,
	                             * HUB_CHANNEL(pool, k); those past the
	                             * split's conns are disabled */
	size_t nch;
	size_t npools;
	int active;                 /* the pool miners work for, -1: none */
	bool had_work;              /* active was >= 0 once */
	bool operator_change;       /* hub_choose() for POST /api/v1/pools */
	struct hub_split split;
	bool split_known;
	uint32_t next_job_id;
	struct event *tick;
	int64_t started_ms;
	struct event *stop_timer;
	bool stopping;
	struct waiting *waiting, **waiting_tail;
	size_t nwaiting;
	struct acct_table *pool_acct; /* the pools' verdicts per worker */
	struct store_ring *ring;      /* the books: the pools' verdicts */
	pthread_mutex_t view_lock;
	pthread_t thread_id;
};

static void ch_connect(struct channel *c);
static void ch_notify(struct channel *c, struct msg *m);
static void ch_release(struct channel *c);
static void share_done(struct channel *c, struct hub_share *sh,
    bool answered, bool accepted, int code, const char *message);

static struct channel *
ch_of(struct hub *h, int pool, int k)
{
	return &h->ch[HUB_CHANNEL(pool, k)];
}
static void ch_fail(struct channel *c, bool violation, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hub_choose(struct hub *h, const char *why);
static bool ch_healthy(const struct channel *c, int64_t now);
static void channels_update(struct hub *h);
static void auth_answer(struct hub *h, struct hub_auth *a, bool ok,
    int pool, int code, const char *message);

/* ---- small helpers ---- */

void
hub_job_unref(struct hub_job *j)
{
	if (j != NULL && atomic_fetch_sub(&j->refs, 1) == 1) {
		free(j);
	}
}

void
hub_auth_free(struct hub_auth *a)
{
	if (a == NULL)
		return;
	free(a->miner_id);
	free(a->login);
	if (a->password != NULL) {
		explicit_bzero(a->password, strlen(a->password));
		free(a->password);
	}
	free(a);
}

void
hub_share_free(struct hub_share *sh)
{
	if (sh == NULL)
		return;
	free(sh);
}

static struct proxy_thread *
thread_of(struct hub *h, int i)
{
	return h->p->threads[i];
}

/* Copy what the API and the metrics show of c (hub thread). */
static void
ch_publish(struct channel *c)
{
	struct hub_channel_view v = {
		.state = ch_state_names[c->state],
		.active = c->h->active == c->pool,
		.difficulty = c->diff,
		.en2_size = c->en2_size,
		.version_mask = c->mask,
		.jobs = c->jobs,
		.submitted = c->submitted,
		.accepted = c->accepted,
		.rejected = c->rejected,
		.lost = c->lost,
		.accepted_diff = c->accepted_diff,
		.rejected_diff = c->rejected_diff,
		.workers = c->nnames,
	};

	pthread_mutex_lock(&c->h->view_lock);
	c->view = v;
	pthread_mutex_unlock(&c->h->view_lock);
}

static void
ch_set_state(struct channel *c, enum ch_state st)
{
	c->state = st;
	ch_publish(c);
}

static bool
hex_ok(const char *s, size_t maxlen)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'a' && s[n] <= 'f') ||
		    (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	return n % 2 == 0 && n <= maxlen;
}

static uint64_t
name_hash(const char *s)
{
	uint64_t x = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ULL;
	return x;
}

static struct name *
name_find(struct channel *c, const char *name)
{
	if (c->names_cap == 0)
		return NULL;
	for (struct name *n = c->names[name_hash(name) % c->names_cap];
	    n != NULL; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static struct name *
name_add(struct channel *c, const char *name)
{
	struct name *n = name_find(c, name);
	size_t b;

	if (n != NULL)
		return n;
	if (c->nnames + 1 > c->names_cap) {
		size_t cap = c->names_cap ? c->names_cap * 2 : 64;
		struct name **nb = xcalloc(cap, sizeof(*nb));

		for (size_t i = 0; i < c->names_cap; i++)
			while (c->names[i] != NULL) {
				struct name *m = c->names[i];

				c->names[i] = m->next;
				b = name_hash(m->name) % cap;
				m->next = nb[b];
				nb[b] = m;
			}
		free(c->names);
		c->names = nb;
		c->names_cap = cap;
	}
	n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	b = name_hash(name) % c->names_cap;
	n->next = c->names[b];
	c->names[b] = n;
	c->nnames++;
	return n;
}

static void
names_clear(struct channel *c)
{
	for (size_t i = 0; i < c->names_cap; i++)
		while (c->names[i] != NULL) {
			struct name *n = c->names[i];

			c->names[i] = n->next;
			free(n->name);
			free(n->login);
			free(n);
		}
	free(c->names);
	c->names = NULL;
	c->names_cap = c->nnames = 0;
}

/* Does the channel's handshake authorize the pool account? With
 * identity = "account" (every share goes under that name); with
 * "worker", each worker is authorized under its own name instead. */
static bool
ch_account_login(const struct channel *c)
{
	return c->cfg->identity == CFG_IDENTITY_ACCOUNT &&
	    c->cfg->username[0] != '\0';
}

/* The pool-side name of a login on channel c; -1 when it is refused. */
static int
ch_name(const struct channel *c, const char *login, struct identity *id)
{
	return identity_rewrite(login, c->cfg->sep1, c->cfg->sep2,
	    c->cfg->username, id);
}

/* ---- requests to the pool ---- */

static struct hpend *
ch_pend_new(struct channel *c, enum hpend_kind kind, void *payload)
{
	struct hpend *p;

	if (++c->next_id == 0)
		c->next_id = 1;
	p = &c->pend[c->next_id % HUB_PEND];
	if (p->kind == HP_SUBMIT) {
		/* Unanswered for HUB_PEND requests: lost. */
		c->submits_pending--;
		share_done(c, p->payload, false, false, MSG_ERR_OTHER, NULL);
	} else if (p->kind == HP_WORKER && p->payload != NULL) {
		auth_answer(c->h, p->payload, false, c->pool, MSG_ERR_OTHER,
		    "The pool did not answer");
	}
	free(p->name);
	memset(p, 0, sizeof(*p));
	p->id = c->next_id;
	p->kind = kind;
	p->payload = payload;
	p->sent_ms = now_mono_ms();
	return p;
}

static void
ch_send(struct channel *c, uint32_t id, const char *method, json_t *params)
{
	json_t *jid = json_integer(id);

	msg_send_request(bufferevent_get_output(c->bev), jid, method, params);
	json_decref(jid);
}

/* Authorize login's name on c (waiter: the worker thread's request to
 * answer, or NULL). -1: the name is refused (waiter not answered). */
static int
ch_authorize(struct channel *c, const char *login, const char *password,
    struct hub_auth *waiter)
{
	struct identity id;
	struct hpend *p;
	struct name *n;

	if (ch_name(c, login, &id) != 0)
		return -1;
	p = ch_pend_new(c, HP_WORKER, waiter);
	n = name_add(c, id.pool_name);
	if (n->login == NULL)
		n->login = xstrdup(login);
	n->state = NAME_PENDING;
	p->name = xstrdup(id.pool_name);
	ch_send(c, p->id, "mining.authorize", json_pack("[s,s]", id.pool_name,
	    c->cfg->password[0] != '\0' ? c->cfg->password : password));
	return 0;
}

/* ---- answers to the worker threads ---- */

static void
post_auth(struct worker *w, void *arg)
{
	struct hub_auth *a = arg;

	if (w == NULL) {
		hub_auth_free(a);
		return;
	}
	aggregate_on_auth(worker_data(w), a);
}

static void
auth_answer(struct hub *h, struct hub_auth *a, bool ok, int pool, int code,
    const char *message)
{
	a->ok = ok;
	a->pool = pool;
	a->code = code;
	snprintf(a->message, sizeof(a->message), "%s",
	    message != NULL ? message : "");
	worker_post(thread_of(h, a->thread)->worker, post_auth, a);
}

static void
post_verdict(struct worker *w, void *arg)
{
	struct hub_share *sh = arg;

	if (w == NULL) {
		hub_share_free(sh);
		return;
	}
	aggregate_on_verdict(worker_data(w), sh);
}

/* The pool's verdict on a share (or none: lost, accepted false, code 20):
 * counted, and sent to the miner's thread when the miner waits. */
static void
share_done(struct channel *c, struct hub_share *sh, bool answered,
    bool accepted, int code, const char *message)
{
	struct hub *h = c->h;
	struct identity id;

	if (!answered)
		c->lost++;
	else if (accepted) {
		c->accepted++;
		c->accepted_diff += sh->pool_diff;
	} else {
		c->rejected++;
		c->rejected_diff += sh->pool_diff;
	}
	if (answered && identity_rewrite(sh->login, c->cfg->sep1,
	    c->cfg->sep2, "", &id) == 0) {
		struct acct_worker *aw = acct_worker_get(h->pool_acct, c->pool,
		    id.user, id.worker);

		if (aw != NULL) {
			if (accepted)
				acct_accept(h->pool_acct, aw, sh->pool_diff);
			else
				acct_reject(h->pool_acct, aw,
				    acct_reason(code, message), sh->pool_diff);
		}
		if (h->ring != NULL)
			store_post_pool(h->ring, c->cfg->name, id.user,
			    id.worker, accepted, sh->pool_diff, now_wall_ms());
	}
	if (!accepted && answered)
		log_debug("hub", "pool %s rejected a share of %s (%d %s)",
		    c->cfg->name, sh->login, code,
		    message != NULL ? message : "");
	if (sh->block)
		log_info("hub", "block candidate of %s %s by pool %s",
		    sh->login, accepted ? "accepted" : "NOT accepted",
		    c->cfg->name);
	if (sh->wait) {
		sh->accepted = accepted;
		sh->code = answered ? code : MSG_ERR_OTHER;
		worker_post(thread_of(h, sh->thread)->worker, post_verdict, sh);
	} else
		hub_share_free(sh);
}

/* ---- jobs ---- */

struct job_post {
	struct hub_job *j;
};

static void
post_job(struct worker *w, void *arg)
{
	struct hub_job *j = arg;

	if (w != NULL)
		aggregate_on_job(worker_data(w), j);
	hub_job_unref(j);
}

static void
post_no_work(struct worker *w, void *arg)
{
	(void)arg;
	if (w != NULL)
		aggregate_on_no_work(worker_data(w));
}

static void
broadcast_job(struct hub *h, struct hub_job *j)
{
	atomic_fetch_add(&j->refs, (int)h->p->nworkers);
	for (size_t i = 0; i < h->p->nworkers; i++)
		worker_post(h->p->workers[i], post_job, j);
}

/* The mining.notify line miners get for job j (clean forced when the
 * miners come from another pool). NULL: out of memory. */
static char *
job_line(const struct mining_job *j, json_t *branch, const char *prevhash,
    const char *coinb1, const char *coinb2, const char *version,
    const char *nbits, const char *ntime, bool clean, size_t *len)
{
	char id[9];
	json_t *m;
	char *s;

	snprintf(id, sizeof(id), "%08" PRIx32, j->id);
	m = json_pack("{s:n,s:s,s:[s,s,s,s,O,s,s,s,b]}", "id", "method",
	    "mining.notify", "params", id, prevhash, coinb1, coinb2, branch,
	    version, nbits, ntime, clean);
	if (m == NULL)
		return NULL;
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

static struct hub_job *
hub_job_new(const char *line, size_t len)
{
	struct hub_job *j = xcalloc(1, sizeof(*j) + len + 2);

	atomic_init(&j->refs, 1);
	memcpy(j->line, line, len);
	j->line[len] = '\n';
	j->len = len + 1;
	return j;
}

/* A copy of c's latest job with clean_jobs set (for miners arriving from
 * another pool). */
static struct hub_job *
job_switched(struct channel *c)
{
	struct hub_job *o = c->last, *j;
	const char *tail = ",false]}\n";
	size_t tl = strlen(tail);

	if (o == NULL)
		return NULL;
	if (o->len > tl && memcmp(o->line + o->len - tl, tail, tl) == 0) {
		j = xcalloc(1, sizeof(*j) + o->len + 2);
		memcpy(j->line, o->line, o->len - tl);
		memcpy(j->line + o->len - tl, ",true]}\n", 8);
		j->len = o->len - tl + 8;
	} else {
		j = xcalloc(1, sizeof(*j) + o->len + 1);
		memcpy(j->line, o->line, o->len);
		j->len = o->len;
	}
	atomic_init(&j->refs, 1);
	j->job = o->job;
	j->job.sj.clean = true;
	j->pool = o->pool;
	j->conn = o->conn;
	j->active = true;
	j->switched = true;
	return j;
}

/* Does job j carry this ntime (hex, as the pool sent it)? */
static bool
ntime_same(const struct hub_job *j, const char *ntime)
{
	char hex[9];

	snprintf(hex, sizeof(hex), "%08" PRIx32, j->job.sj.ntime);
	return strcasecmp(hex, ntime) == 0;
}

static void
ch_notify(struct channel *c, struct msg *m)
{
	struct hub *h = c->h;
	const char *f[8];
	json_t *branch = json_array_get(m->params, 4);
	json_t *clean = json_array_get(m->params, 8);
	const char *br[SHARE_BRANCH_MAX];
	size_t nb;
	char en1pad[2 * (HUB_EN1_MAX + HUB_EN2_MAX) + 1];
	char *coinb1, *line;
	struct mining_job job;
	struct hub_job *j;
	size_t len;
	int64_t now = now_mono_ms();
	static const int idx[8] = { 0, 1, 2, 3, 5, 6, 7, -1 };

	for (int i = 0; i < 7; i++)
		f[i] = msg_param_str(m, (size_t)idx[i]);
	for (int i = 0; i < 7; i++)
		if (f[i] == NULL) {
			ch_fail(c, true, "pool %s sent a mining.notify with "
			    "missing or mistyped fields", c->cfg->name);
			return;
		}
	if (!json_is_array(branch) ||
	    json_array_size(branch) > SHARE_BRANCH_MAX) {
		ch_fail(c, true, "pool %s sent a merkle branch of %zu entries "
		    "(at most %d)", c->cfg->name, json_array_size(branch),
		    SHARE_BRANCH_MAX);
		return;
	}
	nb = json_array_size(branch);
	for (size_t i = 0; i < nb; i++)
		if ((br[i] = json_string_value(json_array_get(branch, i))) ==
		    NULL) {
			ch_fail(c, true, "pool %s sent a merkle branch that is "
			    "not strings", c->cfg->name);
			return;
		}
	/* The same job again (pools resend the current job after each
	 * worker's authorize): nothing new for the miners. */
	if (c->last != NULL && !json_is_true(clean) &&
	    strcmp(c->last->job.pool_job_id, f[0]) == 0 &&
	    ntime_same(c->last, f[6]))
		return;
	if (now - c->burst_start_ms >= 1000) {
		c->burst_start_ms = now;
		c->burst = 0;
	}
	if (++c->burst > HUB_NOTIFY_BURST) {
		ch_fail(c, true, "pool %s sent more than %d jobs within a "
		    "second", c->cfg->name, HUB_NOTIFY_BURST);
		return;
	}
	if (!c->subscribed)
		return; /* before its subscribe answer: nothing to build on */
	if (!h->split_known) {
		/* Built once every pool has answered (split_decide()). */
		json_decref(c->early);
		c->early = json_incref(m->params);
		return;
	}
	/* The pool's extranonce1, then the bytes its extranonce2 has
	 * beyond the split's (zeros): the miner's part comes after. */
	snprintf(en1pad, sizeof(en1pad), "%s", c->en1);
	for (int i = 0; i < c->pad; i++)
		strncat(en1pad, "00", sizeof(en1pad) - strlen(en1pad) - 1);
	if (++h->next_job_id == 0)
		h->next_job_id = 1;
	if (mining_job_init(&job, h->next_job_id, HUB_CHANNEL(c->pool, c->k),
	    en1pad,
	    f[0], f[1], f[2], f[3], br, nb, f[4], f[5], f[6],
	    json_is_true(clean), c->diff, c->mask) != 0) {
		ch_fail(c, true, "pool %s sent a job that does not parse or is "
		    "over its bounds (coinbase at most %d bytes)",
		    c->cfg->name, SHARE_COINBASE_MAX);
		return;
	}
	coinb1 = xmalloc(strlen(f[2]) + strlen(en1pad) + 1);
	memcpy(coinb1, f[2], strlen(f[2]));
	memcpy(coinb1 + strlen(f[2]), en1pad, strlen(en1pad) + 1);
	line = job_line(&job, branch, f[1], coinb1, f[3], f[4], f[5], f[6],
	    json_is_true(clean), &len);
	free(coinb1);
	if (line == NULL)
		return;
	j = hub_job_new(line, len);
	free(line);
	j->job = job;
	j->job.dups = NULL;
	j->pool = c->pool;
	j->conn = c->k;
	if (c->last != NULL && !ch_healthy(c, now)) {
		/* The first job after a silence: the pool failed (quietly)
		 * and is healthy from now on, failback_delay counting; the
		 * silence says nothing of its job interval. */
		log_warnx("hub", "pool %s sends jobs again after %.1f s of "
		    "silence", c->cfg->name,
		    (double)(now - c->last_job_ms) / 1000);
		c->failed = true;
		c->ready_ms = now;
	} else if (c->last_job_ms > 0) {
		double gap = (double)(now - c->last_job_ms);

		c->interval_ms = c->interval_ms > 0 ?
		    0.7 * c->interval_ms + 0.3 * gap : gap;
	}
	c->last_job_ms = now;
	c->jobs++;
	hub_job_unref(c->last);
	c->last = j;
	if (h->active == c->pool) {
		j->active = true;
		broadcast_job(h, j);
	} else
		hub_choose(h, "a pool became healthy");
}

/* ---- the split ---- */

static void
post_split(struct worker *w, void *arg)
{
	if (w != NULL)
		aggregate_on_split(worker_data(w), arg);
	/* arg is the hub's own split: nothing to free */
}

/* Can subscribed channel c serve the split? Its padding if so. */
static int
ch_fit_split(struct channel *c)
{
	struct hub *h = c->h;

	if (c->en2_size < h->split.slot_bytes + h->split.miner_bytes) {
		log_warnx("hub", "pool %s: extranonce2 of %d bytes is smaller "
		    "than the miners' split (%d + %d): it gets no miners",
		    c->cfg->name, c->en2_size, h->split.slot_bytes,
		    h->split.miner_bytes);
		return -1;
	}
	c->pad = c->en2_size - h->split.slot_bytes - h->split.miner_bytes;
	return 0;
}

static void ch_ready_check(struct channel *c);

/*
 * Decide the split once every enabled pool has subscribed or failed (or
 * with force, from those that subscribed): sized from the smallest
 * extranonce2 among them, so that miners can move to any of them.
 */
static void
split_decide(struct hub *h, bool force)
{
	struct slots_split sp;
	int n = 0;
	int64_t conns;
	const char *from = NULL;

	if (h->split_known)
		return;
	for (size_t i = 0; i < h->nch; i++) {
		struct channel *c = &h->ch[i];

		if (c->state == CH_DISABLED || c->state == CH_UNUSABLE)
			continue;
		if (!c->subscribed && !c->tried && !force)
			return; /* not every pool has answered yet */
		if (c->subscribed && (n == 0 || c->en2_size < n)) {
			n = c->en2_size;
			from = c->cfg->name;
		}
	}
	if (n == 0 || slots_split(n, &sp) != 0)
		return;
	/* Enough connections per pool for max_connections miners. */
	conns = (h->p->cfg->server.max_connections + (int64_t)sp.nslots - 1) /
	    (int64_t)sp.nslots;
	if (conns < 1)
		conns = 1;
	if (conns > HUB_CONNS_MAX) {
		log_warnx("hub", "%" PRIu32 " miners per pool connection and at "
		    "most %d connections per pool: miners past %" PRIu64 " are "
		    "refused ([server] max_connections is %" PRId64 ")",
		    sp.nslots, HUB_CONNS_MAX, (uint64_t)sp.nslots *
		    HUB_CONNS_MAX, h->p->cfg->server.max_connections);
		conns = HUB_CONNS_MAX;
	}
	pthread_mutex_lock(&h->view_lock);
	h->split.slot_bytes = sp.slot_bytes;
	h->split.miner_bytes = sp.miner_bytes;
	h->split.nslots = sp.nslots;
	h->split.conns = (int)conns;
	h->split_known = true;
	pthread_mutex_unlock(&h->view_lock);
	log_info("hub", "extranonce split from pool %s (extranonce2 of %d "
	    "bytes, the smallest): %d byte slot per miner, %d bytes for the "
	    "miner, %" PRIu32 " miners per pool connection, %d connection%s "
	    "per pool", from, n, sp.slot_bytes, sp.miner_bytes, sp.nslots,
	    (int)conns, conns > 1 ? "s" : "");
	for (size_t i = 0; i < h->p->nworkers; i++)
		worker_post(h->p->workers[i], post_split, &h->split);
	for (size_t i = 0; i < h->nch; i++) {
		struct channel *c = &h->ch[i];
		json_t *early = c->early;

		if (!c->subscribed)
			continue;
		if (ch_fit_split(c) != 0) {
			ch_release(c);
			ch_set_state(c, CH_UNUSABLE);
			continue;
		}
		c->early = NULL;
		if (early != NULL) {
			struct msg m = { .params = early };

			ch_notify(c, &m);
			json_decref(early);
		}
		ch_ready_check(c);
	}
	/* The other connections to every pool that is in use. */
	for (size_t pl = 0; pl < h->npools; pl++)
		for (int k = 1; k < h->split.conns; k++) {
			struct channel *c = ch_of(h, (int)pl, k);

			if (!router_enabled(h->p->router, (int)pl) ||
			    ch_of(h, (int)pl, 0)->state == CH_UNUSABLE)
				continue;
			c->state = CH_IDLE;
			ch_connect(c);
		}
}

/* ---- answers from the pool ---- */

static void
error_parts(json_t *error, int *code, const char **message)
{
	*code = MSG_ERR_OTHER;
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

/* A worker authorized on c is authorized on every other ready channel
 * too, so that a failover finds it there (and the pool's jobs flow). */
static void
mirror_name(struct channel *c, const char *login)
{
	struct hub *h = c->h;
	struct identity id;

	for (size_t i = 0; i < h->nch; i++) {
		struct channel *o = &h->ch[i];

		if (o == c || o->state != CH_READY ||
		    o->cfg->identity != CFG_IDENTITY_WORKER)
			continue;
		if (ch_name(o, login, &id) == 0 &&
		    name_find(o, id.pool_name) == NULL)
			ch_authorize(o, login, "x", NULL);
	}
}

/* A channel that just became ready gets the names the active one has. */
static void
copy_names(struct channel *to, const struct channel *from)
{
	struct identity id;

	if (to->cfg->identity != CFG_IDENTITY_WORKER)
		return;
	for (size_t b = 0; b < from->names_cap; b++)
		for (struct name *n = from->names[b]; n != NULL; n = n->next)
			if (n->state == NAME_OK && n->login != NULL &&
			    ch_name(to, n->login, &id) == 0 &&
			    name_find(to, id.pool_name) == NULL)
				ch_authorize(to, n->login, "x", NULL);
}

static void
ch_ready_check(struct channel *c)
{
	struct hub *h = c->h;

	if (c->state != CH_HANDSHAKE || !c->subscribed ||
	    (ch_account_login(c) && !c->account_ok))
		return;
	ch_set_state(c, CH_READY);
	c->ready_ms = now_mono_ms();
	evtimer_del(c->timer);
	router_success(h->p->router, c->pool, now_mono_ms());
	log_info("hub", "pool %s ready: extranonce2 %d bytes, difficulty %g, "
	    "version rolling %s", c->cfg->name, c->en2_size, c->diff,
	    c->mask != 0 ? "granted" : "not granted");
	if (h->active >= 0 && c != ch_of(h, h->active, 0))
		copy_names(c, ch_of(h, h->active, 0));
	/* Workers that waited for a pool. */
	if (h->active < 0)
		hub_choose(h, "a pool is ready");
}

static void
ch_response(struct channel *c, struct msg *m)
{
	struct hpend *p = NULL, taken;
	int code;
	const char *message;
	bool ok;

	if (json_is_integer(m->id)) {
		json_int_t v = json_integer_value(m->id);

		if (v > 0 && v <= UINT32_MAX &&
		    c->pend[(uint32_t)v % HUB_PEND].id == (uint32_t)v &&
		    c->pend[(uint32_t)v % HUB_PEND].kind != HP_NONE)
			p = &c->pend[(uint32_t)v % HUB_PEND];
	}
	if (p == NULL) {
		ch_fail(c, true, "pool %s answered a request never sent",
		    c->cfg->name);
		return;
	}
	taken = *p;
	memset(p, 0, sizeof(*p));
	ok = m->error == NULL && json_is_true(m->result);
	error_parts(m->error, &code, &message);
	switch (taken.kind) {
	case HP_CONFIGURE:
		c->configured = true;
		if (m->error == NULL && json_is_object(m->result) &&
		    json_is_true(json_object_get(m->result,
		    "version-rolling"))) {
			const char *mk = json_string_value(json_object_get(
			    m->result, "version-rolling.mask"));

			c->mask = mk != NULL ? (uint32_t)strtoul(mk, NULL, 16) :
			    0;
		}
		break;
	case HP_SUBSCRIBE: {
		const char *en1 = json_string_value(json_array_get(m->result,
		    1));
		json_t *n2 = json_array_get(m->result, 2);

		if (m->error != NULL || en1 == NULL || !json_is_integer(n2)) {
			ch_fail(c, false, "pool %s refused mining.subscribe",
			    c->cfg->name);
			break;
		}
		if (!hex_ok(en1, 2 * HUB_EN1_MAX) ||
		    json_integer_value(n2) < HUB_EN2_MIN ||
		    json_integer_value(n2) > HUB_EN2_MAX) {
			ch_fail(c, true, "pool %s gave extranonce sizes Loka "
			    "cannot use (extranonce1 \"%.40s\", extranonce2 "
			    "%" JSON_INTEGER_FORMAT " bytes; %d to %d)",
			    c->cfg->name, en1, json_integer_value(n2),
			    HUB_EN2_MIN, HUB_EN2_MAX);
			break;
		}
		snprintf(c->en1, sizeof(c->en1), "%s", en1);
		c->en2_size = (int)json_integer_value(n2);
		c->subscribed = true;
		c->tried = true;
		if (!c->h->split_known) {
			split_decide(c->h, false);
			break;
		}
		if (ch_fit_split(c) != 0) {
			ch_release(c);
			ch_set_state(c, CH_UNUSABLE);
			break;
		}
		ch_ready_check(c);
		break;
	}
	case HP_ACCOUNT:
		if (!ok) {
			ch_fail(c, false, "pool %s refused the account's "
			    "mining.authorize (%s)", c->cfg->name,
			    message != NULL ? message : "no reason given");
			break;
		}
		c->account_ok = true;
		ch_ready_check(c);
		break;
	case HP_WORKER: {
		struct name *n = taken.name != NULL ?
		    name_find(c, taken.name) : NULL;

		if (n != NULL)
			n->state = ok ? NAME_OK : NAME_REFUSED;
		if (ok && n != NULL && n->login != NULL)
			mirror_name(c, n->login);
		if (taken.payload != NULL)
			auth_answer(c->h, taken.payload, ok, c->pool,
			    ok ? 0 : MSG_ERR_UNAUTHORIZED, ok ? NULL :
			    message != NULL ? message : "Refused by the pool");
		free(taken.name);
		break;
	}
	case HP_SUBMIT:
		c->submits_pending--;
		share_done(c, taken.payload, true, ok, code, message);
		break;
	case HP_NONE:
		break;
	}
}

static void
ch_request(struct channel *c, struct msg *m)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	double d;

	if (strcmp(m->method, "mining.notify") == 0) {
		ch_notify(c, m);
	} else if (strcmp(m->method, "mining.set_difficulty") == 0) {
		if (msg_param_double(m, 0, &d) == 0 && d > 0 && isfinite(d))
			c->diff = d;
	} else if (strcmp(m->method, "mining.set_extranonce") == 0) {
		const char *en1 = msg_param_str(m, 0);
		json_t *n2 = json_array_get(m->params, 1);

		if (!hex_ok(en1, 2 * HUB_EN1_MAX) || !json_is_integer(n2) ||
		    json_integer_value(n2) < c->h->split.slot_bytes +
		    c->h->split.miner_bytes ||
		    json_integer_value(n2) > HUB_EN2_MAX) {
			ch_fail(c, true, "pool %s set an extranonce the split "
			    "cannot use", c->cfg->name);
			return;
		}
		snprintf(c->en1, sizeof(c->en1), "%s", en1);
		c->en2_size = (int)json_integer_value(n2);
		c->pad = c->en2_size - c->h->split.slot_bytes -
		    c->h->split.miner_bytes;
	} else if (strcmp(m->method, "mining.set_version_mask") == 0) {
		const char *mk = msg_param_str(m, 0);

		if (mk != NULL)
			c->mask = (uint32_t)strtoul(mk, NULL, 16);
	} else if (strcmp(m->method, "client.reconnect") == 0) {
		ch_fail(c, false, "pool %s asked to reconnect", c->cfg->name);
	} else if (strcmp(m->method, "client.show_message") == 0) {
		const char *text = msg_param_str(m, 0);

		log_info("hub", "pool %s says: %.200s", c->cfg->name,
		    text != NULL ? text : "");
	} else if (m->id == NULL) {
		/* another notification: nothing to answer */
	} else if (strcmp(m->method, "client.get_version") == 0) {
		msg_send_result(out, m->id, json_string("loka-stratum/"
		    LOKA_VERSION));
	} else if (strcmp(m->method, "mining.ping") == 0 ||
	    strcmp(m->method, "client.ping") == 0) {
		msg_send_result(out, m->id, json_string("pong"));
	} else {
		msg_send_error(out, m->id, MSG_ERR_METHOD_NOT_FOUND,
		    "Method not found");
	}
}

static void
ch_on_read(struct bufferevent *bev, void *arg)
{
	struct channel *c = arg;

	for (int i = 0; i < HUB_LINES_PER_WAKEUP && c->bev == bev; i++) {
		char *line, err[128];
		size_t len;
		struct msg m;
		int rc = msg_read_line(bufferevent_get_input(bev),
		    HUB_LINE_MAX, &line, &len);

		if (rc == 0)
			return;
		if (rc < 0) {
			ch_fail(c, true, "pool %s sent a line over %d bytes",
			    c->cfg->name, HUB_LINE_MAX);
			return;
		}
		if (len == 0) {
			free(line);
			continue;
		}
		if (msg_parse(line, len, &m, err, sizeof(err)) != 0) {
			free(line);
			ch_fail(c, true, "pool %s sent an unparsable line (%s)",
			    c->cfg->name, err);
			return;
		}
		free(line);
		if (m.kind == MSG_RESPONSE)
			ch_response(c, &m);
		else
			ch_request(c, &m);
		msg_clear(&m);
	}
	if (c->bev == bev &&
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* ---- a channel's life ---- */

static void
ch_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct channel *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CH_HANDSHAKE)
		ch_fail(c, false, "pool %s did not answer the handshake "
		    "within handshake_timeout", c->cfg->name);
	else if (c->state == CH_BACKOFF || c->state == CH_IDLE)
		ch_connect(c);
}

static void
ch_release(struct channel *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	for (size_t i = 0; i < HUB_PEND; i++) {
		struct hpend *p = &c->pend[i];

		if (p->kind == HP_SUBMIT) {
			c->submits_pending--;
			share_done(c, p->payload, false, false, MSG_ERR_OTHER,
			    NULL);
		} else if (p->kind == HP_WORKER && p->payload != NULL)
			auth_answer(c->h, p->payload, false, c->pool,
			    MSG_ERR_OTHER, "Pool connection lost");
		free(p->name);
		memset(p, 0, sizeof(*p));
	}
	names_clear(c);
	c->subscribed = c->account_ok = c->configured = false;
	c->mask = 0;
	c->last_job_ms = 0;
	c->interval_ms = 0;
	hub_job_unref(c->last);
	c->last = NULL;
	json_decref(c->early);
	c->early = NULL;
}

static void
ch_fail(struct channel *c, bool violation, const char *fmt, ...)
{
	struct hub *h = c->h;
	int64_t now = now_mono_ms();
	int64_t delay;
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (violation)
		router_violation(h->p->router, c->pool, now);
	else
		router_failure(h->p->router, c->pool, now);
	delay = router_backoff_ms(h->p->router, c->pool);
	log_warnx("hub", "%s; connecting again in %" PRId64 " ms", why, delay);
	ch_release(c);
	ch_set_state(c, CH_BACKOFF);
	c->tried = true;
	c->failed = true;
	split_decide(h, false);
	if (!h->stopping) {
		struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };

		evtimer_add(c->timer, &tv);
	}
	if (h->active == c->pool)
		hub_choose(h, why);
}

static void
ch_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct channel *c = arg;
	char buf[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		struct timeval hs = {
			c->cfg->handshake_timeout_ms / 1000,
			(c->cfg->handshake_timeout_ms % 1000) * 1000
		};
		struct hpend *p;

		sockopt_keepalive(bufferevent_getfd(bev));
		bufferevent_set_timeouts(bev, NULL, NULL);
		ch_set_state(c, CH_HANDSHAKE);
		c->connected_ms = now_mono_ms();
		p = ch_pend_new(c, HP_CONFIGURE, NULL);
		ch_send(c, p->id, "mining.configure",
		    json_pack("[[s],{s:s,s:i}]", "version-rolling",
		    "version-rolling.mask", "ffffffff",
		    "version-rolling.min-bit-count", 2));
		p = ch_pend_new(c, HP_SUBSCRIBE, NULL);
		ch_send(c, p->id, "mining.subscribe",
		    json_pack("[s]", "loka-stratum/" LOKA_VERSION));
		if (ch_account_login(c)) {
			p = ch_pend_new(c, HP_ACCOUNT, NULL);
			ch_send(c, p->id, "mining.authorize", json_pack(
			    "[s,s]", c->cfg->username, c->cfg->password));
		}
		evtimer_add(c->timer, &hs);
		return;
	}
	if (what & BEV_EVENT_EOF)
		ch_fail(c, false, "pool %s closed the connection",
		    c->cfg->name);
	else if (c->state == CH_CONNECTING)
		ch_fail(c, false, "connecting to pool %s (%s) failed: %s",
		    c->cfg->name, c->cfg->url,
		    proxy_tls_connect_error(bev, what, buf, sizeof(buf)));
	else
		ch_fail(c, false, "connection to pool %s lost: %s",
		    c->cfg->name,
		    proxy_tls_connect_error(bev, what, buf, sizeof(buf)));
}

static void
ch_connect(struct channel *c)
{
	struct hub *h = c->h;
	struct event_base *base = worker_base(h->w);
	struct timeval ct = {
		c->cfg->connect_timeout_ms / 1000,
		(c->cfg->connect_timeout_ms % 1000) * 1000
	};
	struct tls_client *tc;

	if (h->stopping || c->state == CH_DISABLED)
		return;
	if (!router_allow(h->p->router, c->pool, now_mono_ms())) {
		struct timeval tv = { 1, 0 };

		ch_set_state(c, CH_BACKOFF);
		evtimer_add(c->timer, &tv);
		return;
	}
	tc = c->cfg->tls && h->p->pool_tls != NULL ? h->p->pool_tls[c->pool] :
	    NULL;
	c->bev = c->cfg->tls ? (tc != NULL ? tls_client_bufferevent(tc, base,
	    c->cfg->host) : NULL) : bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		ch_fail(c, false, "pool %s: cannot create a connection",
		    c->cfg->name);
		return;
	}
	bufferevent_setcb(c->bev, ch_on_read, NULL, ch_on_event, c);
	bufferevent_set_timeouts(c->bev, &ct, &ct);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	ch_set_state(c, CH_CONNECTING);
	if (bufferevent_socket_connect_hostname(c->bev, worker_dns(h->w),
	    AF_UNSPEC, c->cfg->host, c->cfg->port) != 0 && c->bev != NULL &&
	    c->state == CH_CONNECTING)
		ch_fail(c, false, "connecting to pool %s failed at once",
		    c->cfg->name);
}

/* ---- which pool miners work for ---- */

static bool
ch_healthy(const struct channel *c, int64_t now)
{
	double interval;

	if (c->state != CH_READY)
		return false;
	/* Some pools send jobs only once a worker is authorized: one that
	 * has none to authorize yet may still get the miners. */
	if (c->last == NULL)
		return c->cfg->identity == CFG_IDENTITY_WORKER &&
		    c->nnames == 0 && now - c->ready_ms >=
		    HUB_FIRST_JOB_WAIT_MS;
	interval = c->interval_ms > 0 ? c->interval_ms :
	    HUB_INTERVAL_DEFAULT_MS;
	return (double)(now - c->last_job_ms) <=
	    fmax(HUB_SILENCE_INTERVALS * interval, HUB_SILENCE_MIN_MS);
}

static void
flush_waiting(struct hub *h)
{
	struct waiting *wt;

	while ((wt = h->waiting) != NULL) {
		h->waiting = wt->next;
		h->nwaiting--;
		hub_authorize(h, wt->a);
		free(wt);
	}
	h->waiting_tail = &h->waiting;
}

/* A pool is healthy when every connection miners use is. */
static bool
pool_healthy(struct hub *h, int pool, int64_t now)
{
	int n = h->split_known ? h->split.conns : 1;

	if (!router_enabled(h->p->router, pool))
		return false;
	for (int k = 0; k < n; k++)
		if (!ch_healthy(ch_of(h, pool, k), now))
			return false;
	return true;
}

/* Did one of the pool's connections fail since start? *ready_ms: since
 * when they have all been ready. */
static bool
pool_failed(struct hub *h, int pool, int64_t *ready_ms)
{
	int n = h->split_known ? h->split.conns : 1;
	bool failed = false;

	*ready_ms = 0;
	for (int k = 0; k < n; k++) {
		struct channel *c = ch_of(h, pool, k);

		failed = failed || c->failed;
		if (c->ready_ms > *ready_ms)
			*ready_ms = c->ready_ms;
	}
	return failed;
}

/* Why the active pool changes (loka_pool_switches_total's reason). */
static const char *
switch_reason(struct hub *h, int best, int64_t now)
{
	int n = h->split_known ? h->split.conns : 1;
	int64_t ready;

	if (h->operator_change)
		return "operator";
	if (h->active < 0)
		return "recovered";
	/* The active pool works: a more preferred one is usable, back
	 * from a failure or (at start) ready later than a backup. */
	if (pool_healthy(h, h->active, now))
		return best >= 0 && pool_failed(h, best, &ready) ? "failback" :
		    "preferred";
	for (int k = 0; k < n; k++)
		if (ch_of(h, h->active, k)->state != CH_READY)
			return "failed";
	return "silent";
}

/* What a switch is logged with: the caller's words for a failure (they
 * name what failed), the state's for the rest (the caller may be a job
 * from another pool). */
static const char *
switch_words(struct hub *h, const char *reason, int best, const char *why,
    char *buf, size_t len)
{
	const char *from = h->active >= 0 ? h->p->cfg->pools[h->active].name :
	    "", *to = best >= 0 ? h->p->cfg->pools[best].name : "";

	if (strcmp(reason, "silent") == 0)
		snprintf(buf, len, "no new job from pool %s within 2.5 job "
		    "intervals", from);
	else if (strcmp(reason, "failback") == 0)
		snprintf(buf, len, "pool %s has been healthy again for "
		    "[routing] failback_delay", to);
	else if (strcmp(reason, "preferred") == 0)
		snprintf(buf, len, "pool %s, more preferred, is ready", to);
	else
		return why;
	return buf;
}

static void
hub_choose(struct hub *h, const char *why)
{
	int64_t now = now_mono_ms(), ready;
	int best = -1;
	bool active_ok = h->active >= 0 && pool_healthy(h, h->active, now);
	int64_t best_prio = 0;
	const char *reason;
	char words[256];

	for (size_t i = 0; i < h->npools; i++) {
		int64_t prio = router_priority(h->p->router, (int)i);

		if (!pool_healthy(h, (int)i, now))
			continue;
		/* Failback: while the active pool works, one that failed
		 * takes over only after failback_delay of good behaviour. */
		if (active_ok && (int)i != h->active &&
		    pool_failed(h, (int)i, &ready) &&
		    now - ready < h->p->cfg->routing.failback_delay_ms)
			continue;
		if (best < 0 || prio < best_prio) {
			best = (int)i;
			best_prio = prio;
		}
	}
	if (best == h->active)
		return;
	/* Starting: a more preferred pool that is ready and has not sent
	 * its first job yet gets a moment, rather than a switch at once; so
	 * does one still connecting at start (the miners would go to the
	 * backup first and move a moment later). */
	if (h->active < 0 && best >= 0)
		for (size_t i = 0; i < h->npools; i++) {
			if (router_priority(h->p->router, (int)i) >= best_prio)
				continue;
			/* Every connection of it counts (the pool is
			 * healthy only when all are). */
			for (int k = 0; k < (h->split_known ? h->split.conns :
			    1); k++) {
				struct channel *c = ch_of(h, (int)i, k);
				bool early = !h->had_work &&
				    (c->state == CH_CONNECTING ||
				    c->state == CH_HANDSHAKE) &&
				    now - h->started_ms < HUB_FIRST_JOB_WAIT_MS;

				if (early || (c->state == CH_READY &&
				    c->last == NULL && now - c->ready_ms <
				    HUB_FIRST_JOB_WAIT_MS))
					return;
			}
		}
	reason = switch_reason(h, best, now);
	if (best < 0) {
		log_warnx("hub", "no pool can give miners work (%s): miners "
		    "keep their connections and wait; shares for the old jobs "
		    "are stale", switch_words(h, reason, best, why, words,
		    sizeof(words)));
		proxy_count_switch(h->p, h->active, -1, reason);
		pthread_mutex_lock(&h->view_lock);
		h->active = -1;
		pthread_mutex_unlock(&h->view_lock);
		/* Work for a pool that is gone is worth nothing: no share of
		 * it is credited. */
		for (size_t i = 0; i < h->p->nworkers; i++)
			worker_post(h->p->workers[i], post_no_work, NULL);
		channels_update(h);
		return;
	}
	if (h->active >= 0)
		log_warnx("hub", "miners move from pool %s to pool %s: %s",
		    h->p->cfg->pools[h->active].name,
		    h->p->cfg->pools[best].name, switch_words(h, reason, best,
		    why, words, sizeof(words)));
	else if (h->had_work)
		log_warnx("hub", "miners work for pool %s again",
		    h->p->cfg->pools[best].name);
	else
		log_info("hub", "miners work for pool %s",
		    h->p->cfg->pools[best].name);
	if (h->had_work)
		proxy_count_switch(h->p, h->active, best, reason);
	pthread_mutex_lock(&h->view_lock);
	h->active = best;
	h->had_work = true;
	pthread_mutex_unlock(&h->view_lock);
	for (int k = 0; k < (h->split_known ? h->split.conns : 1); k++) {
		struct hub_job *j = job_switched(ch_of(h, best, k));

		if (j != NULL) {
			broadcast_job(h, j);
			hub_job_unref(j);
		}
	}
	flush_waiting(h);
	channels_update(h);
}

/*
 * Which connections are kept: none to a pool disabled (in the file or
 * through the API); with [aggregate] standby = false, only the pools
 * miners work for or may go back to. Once the split is known (every pool
 * subscribed once, for its extranonce sizes), a pool less preferred than
 * the active one is let go as soon as no share waits for its verdict;
 * when no pool can give work, every enabled pool connects again, and the
 * first ready takes the miners (a failover then costs a connection and a
 * handshake instead of nothing). A pool enabled again connects.
 */
static void
channels_update(struct hub *h)
{
	int conns = h->split_known ? h->split.conns : 1;
	int64_t active_prio = h->active >= 0 ?
	    router_priority(h->p->router, h->active) : 0;

	if (h->stopping)
		return;
	for (size_t pl = 0; pl < h->npools; pl++) {
		int64_t prio = router_priority(h->p->router, (int)pl);
		bool on = router_enabled(h->p->router, (int)pl);
		bool want = on && (h->p->cfg->aggregate.standby ||
		    !h->split_known || h->active < 0 || (int)pl == h->active ||
		    prio < active_prio || (prio == active_prio &&
		    (int)pl < h->active));
		enum ch_state rest = on ? CH_IDLE : CH_DISABLED;

		for (int k = 0; k < conns; k++) {
			struct channel *c = ch_of(h, (int)pl, k);

			if (c->state == CH_UNUSABLE)
				continue;
			if (want && (c->state == CH_IDLE ||
			    c->state == CH_DISABLED)) {
				if (k == 0 && c->state == CH_DISABLED)
					log_info("hub", "pool %s enabled: "
					    "connecting", c->cfg->name);
				ch_set_state(c, CH_IDLE);
				ch_connect(c);
			} else if (!want && c->state != rest &&
			    c->submits_pending == 0) {
				if (k == 0 && c->state != CH_BACKOFF &&
				    c->state != CH_IDLE &&
				    c->state != CH_DISABLED)
					log_info("hub", "pool %s disconnected: "
					    "%s", c->cfg->name, on ? "not in "
					    "use ([aggregate] standby = false)" :
					    "disabled");
				evtimer_del(c->timer);
				ch_release(c);
				ch_set_state(c, rest);
			}
		}
	}
}

/* A live change of a pool (hub_pool_changed()), on the hub's thread. */
static void
on_pool_changed(struct worker *w, void *arg)
{
	struct hub *h;

	(void)arg;
	if (w == NULL)
		return;
	h = worker_data(w);
	h->operator_change = true;
	hub_choose(h, "changed through the API");
	h->operator_change = false;
	channels_update(h);
}

void
hub_pool_changed(struct hub *h)
{
	worker_post(h->w, on_pool_changed, NULL);
}

/* A share unanswered for HUB_SUBMIT_TIMEOUT_MS: the pool hangs. */
static void
ch_check_answers(struct channel *c, int64_t now)
{
	if (c->state != CH_READY || c->submits_pending == 0)
		return;
	for (size_t i = 0; i < HUB_PEND; i++)
		if (c->pend[i].kind == HP_SUBMIT &&
		    now - c->pend[i].sent_ms > HUB_SUBMIT_TIMEOUT_MS) {
			ch_fail(c, false, "pool %s left a share unanswered for "
			    "%d s", c->cfg->name, HUB_SUBMIT_TIMEOUT_MS / 1000);
			return;
		}
}

static void
hub_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct hub *h = arg;
	int64_t now = now_mono_ms();

	(void)fd;
	(void)what;
	for (size_t i = 0; i < h->nch; i++) {
		ch_publish(&h->ch[i]);
		ch_check_answers(&h->ch[i], now);
	}
	/* A pool that neither answers nor fails: decide without it. */
	if (!h->split_known && now - h->started_ms > HUB_SPLIT_WAIT_MS)
		split_decide(h, true);
	if (h->active >= 0 && !pool_healthy(h, h->active, now))
		hub_choose(h, "no new job within 2.5 job intervals");
	else
		hub_choose(h, "a more preferred pool is healthy again");
	channels_update(h);
	/* Workers that waited too long for any pool. */
	while (h->waiting != NULL && now - h->waiting->a->asked_ms >
	    h->p->cfg->server.pool_outage_hold_ms +
	    h->p->cfg->server.connection_timeout_ms) {
		struct waiting *wt = h->waiting;

		h->waiting = wt->next;
		if (h->waiting == NULL)
			h->waiting_tail = &h->waiting;
		h->nwaiting--;
		auth_answer(h, wt->a, false, -1, MSG_ERR_OTHER,
		    "No pool available");
		free(wt);
	}
}

/* ---- requests from the worker threads (posted to the hub thread) ---- */

static void
on_authorize(struct worker *w, void *arg)
{
	struct hub_auth *a = arg;
	struct hub *h;
	struct channel *c;
	struct identity id;
	struct name *n;

	if (w == NULL) {
		hub_auth_free(a);
		return;
	}
	h = worker_data(w);
	if (h->active < 0) {
		struct waiting *wt;

		if (h->nwaiting >= HUB_WAITING_MAX || h->stopping) {
			auth_answer(h, a, false, -1, MSG_ERR_OTHER,
			    "No pool available");
			return;
		}
		wt = xcalloc(1, sizeof(*wt));
		wt->a = a;
		*h->waiting_tail = wt;
		h->waiting_tail = &wt->next;
		h->nwaiting++;
		return;
	}
	c = ch_of(h, h->active, 0);
	if (ch_name(c, a->login, &id) != 0) {
		auth_answer(h, a, false, c->pool, MSG_ERR_UNAUTHORIZED,
		    "Invalid worker name");
		return;
	}
	if (c->cfg->identity == CFG_IDENTITY_ACCOUNT) {
		auth_answer(h, a, true, c->pool, 0, NULL);
		return;
	}
	n = name_find(c, id.pool_name);
	if (n != NULL && n->state == NAME_OK) {
		auth_answer(h, a, true, c->pool, 0, NULL);
		return;
	}
	ch_authorize(c, a->login, a->password, a);
}

void
hub_authorize(struct hub *h, struct hub_auth *a)
{
	if (a->asked_ms == 0)
		a->asked_ms = now_mono_ms();
	worker_post(h->w, on_authorize, a);
}

static void
on_submit(struct worker *w, void *arg)
{
	struct hub_share *sh = arg;
	struct hub *h;
	struct channel *c;
	struct identity id;
	struct hpend *p;
	static const char zeros[2 * HUB_EN2_MAX + 1] =
	    "00000000000000000000000000000000";
	const char *name;
	char buf[1024];
	int n;

	if (w == NULL) {
		hub_share_free(sh);
		return;
	}
	h = worker_data(w);
	if (sh->channel >= h->nch) {
		hub_share_free(sh);
		return;
	}
	c = &h->ch[sh->channel];
	if (c->state != CH_READY || ch_name(c, sh->login, &id) != 0) {
		share_done(c, sh, false, false, MSG_ERR_OTHER, NULL);
		return;
	}
	if (c->cfg->identity == CFG_IDENTITY_ACCOUNT &&
	    c->cfg->username[0] != '\0')
		name = c->cfg->username;
	else {
		struct name *nm = name_find(c, id.pool_name);

		name = id.pool_name;
		/* Moved here from another pool: authorize it first (the
		 * pool answers in order). */
		if (nm == NULL || nm->state == NAME_REFUSED)
			ch_authorize(c, sh->login, "x", NULL);
	}
	p = ch_pend_new(c, HP_SUBMIT, sh);
	/* The pool's extranonce2: its bytes beyond the split's (zeros,
	 * see ch_notify()), the miner's slot, the miner's own. */
	n = snprintf(buf, sizeof(buf), "{\"id\":%" PRIu32 ",\"method\":"
	    "\"mining.submit\",\"params\":[\"%s\",\"%s\",\"%.*s%s\","
	    "\"%s\",\"%s\"%s%s%s]}\n", p->id, name, sh->pool_job_id,
	    2 * c->pad, zeros, sh->en2,
	    sh->ntime, sh->nonce, sh->vbits[0] != '\0' ? ",\"" : "",
	    sh->vbits, sh->vbits[0] != '\0' ? "\"" : "");
	if (n <= 0 || (size_t)n >= sizeof(buf)) {
		memset(p, 0, sizeof(*p));
		share_done(c, sh, false, false, MSG_ERR_OTHER, NULL);
		return;
	}
	evbuffer_add(bufferevent_get_output(c->bev), buf, (size_t)n);
	c->submits_pending++;
	c->submitted++;
}

void
hub_submit(struct hub *h, struct hub_share *sh)
{
	worker_post(h->w, on_submit, sh);
}

/* ---- start and stop ---- */

static void
on_start(struct worker *w, void *arg)
{
	struct hub *h = arg;
	struct timeval tv = { 1, 0 };

	if (w == NULL)
		return;
	h->started_ms = now_mono_ms();
	h->tick = event_new(worker_base(w), -1, EV_PERSIST, hub_on_tick, h);
	evtimer_add(h->tick, &tv);
	for (size_t i = 0; i < h->nch; i++) {
		struct channel *c = &h->ch[i];

		c->timer = evtimer_new(worker_base(w), ch_on_timer, c);
		/* Every enabled pool connects at start: the split needs
		 * their extranonce sizes (without standbys, those not in use
		 * are let go once it is known: channels_update()). */
		if (c->state == CH_IDLE)
			ch_connect(c);
	}
}

struct hub *
hub_new(struct proxy *p)
{
	static const struct cfg_list none = { NULL, 0 };
	struct hub *h = xcalloc(1, sizeof(*h));

	h->p = p;
	h->active = -1;
	h->waiting_tail = &h->waiting;
	pthread_mutex_init(&h->view_lock, NULL);
	h->npools = p->cfg->npools;
	h->nch = h->npools * HUB_CONNS_MAX;
	h->ch = xcalloc(h->nch > 0 ? h->nch : 1, sizeof(*h->ch));
	for (size_t i = 0; i < h->nch; i++) {
		struct channel *c = &h->ch[i];

		c->h = h;
		c->pool = HUB_CHANNEL_POOL(i);
		c->k = (int)(i % HUB_CONNS_MAX);
		c->cfg = &p->cfg->pools[c->pool];
		/* More connections than the first open once the split says
		 * how many miners one holds. */
		c->state = c->cfg->enabled && c->k == 0 ? CH_IDLE :
		    CH_DISABLED;
		c->diff = 1;
	}
	h->pool_acct = acct_table_new(h->npools);
	h->ring = p->store != NULL ? store_ring(p->store, p->nworkers) : NULL;
	h->w = worker_new((int)p->nworkers, &none, NULL, NULL, NULL);
	if (h->w == NULL) {
		hub_free(h);
		return NULL;
	}
	worker_set_data(h->w, h);
	return h;
}

int
hub_start(struct hub *h)
{
	worker_post(h->w, on_start, h);
	return worker_start(h->w);
}

static size_t
hub_pending(const struct hub *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->nch; i++)
		n += h->ch[i].submits_pending;
	return n;
}

static void
hub_close_all(struct hub *h)
{
	for (size_t i = 0; i < h->nch; i++) {
		ch_release(&h->ch[i]);
		if (h->ch[i].timer != NULL)
			evtimer_del(h->ch[i].timer);
	}
	while (h->waiting != NULL) {
		struct waiting *wt = h->waiting;

		h->waiting = wt->next;
		hub_auth_free(wt->a);
		free(wt);
	}
	h->waiting_tail = &h->waiting;
	if (h->tick != NULL)
		evtimer_del(h->tick);
	worker_exit(h->w);
}

static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hub *h = arg;

	(void)fd;
	(void)what;
	if (hub_pending(h) > 0)
		log_warnx("hub", "%zu forwarded shares left without the pool's "
		    "verdict at shutdown", hub_pending(h));
	hub_close_all(h);
}

static void
on_stop(struct worker *w, void *arg)
{
	struct hub *h = arg;
	struct timeval tv = { 2, 0 };

	if (w == NULL)
		return;
	h->stopping = true;
	if (hub_pending(h) == 0) {
		hub_close_all(h);
		return;
	}
	/* Verdicts still coming: a short wait, bounded. */
	h->stop_timer = evtimer_new(worker_base(w), on_stop_timer, h);
	evtimer_add(h->stop_timer, &tv);
}

void
hub_stop(struct hub *h)
{
	if (h == NULL || h->w == NULL)
		return;
	worker_post(h->w, on_stop, h);
	worker_join(h->w);
}

void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->nch; i++) {
		ch_release(&h->ch[i]);
		if (h->ch[i].timer != NULL)
			event_free(h->ch[i].timer);
	}
	if (h->tick != NULL)
		event_free(h->tick);
	if (h->stop_timer != NULL)
		event_free(h->stop_timer);
	worker_free(h->w);
	while (h->waiting != NULL) {
		struct waiting *wt = h->waiting;

		h->waiting = wt->next;
		hub_auth_free(wt->a);
		free(wt);
	}
	acct_table_free(h->pool_acct);
	pthread_mutex_destroy(&h->view_lock);
	free(h->ch);
	free(h);
}

/* ---- views ---- */

bool
hub_channel_view(struct hub *h, int i, struct hub_channel_view *out)
{
	if (h == NULL || i < 0 || (size_t)i >= h->npools)
		return false;
	pthread_mutex_lock(&h->view_lock);
	*out = ch_of(h, i, 0)->view;
	if (out->state == NULL)
		out->state = ch_state_names[CH_IDLE];
	out->active = h->active == i;
	out->connections = 0;
	for (int k = 0; k < HUB_CONNS_MAX; k++) {
		const struct hub_channel_view *v = &ch_of(h, i, k)->view;

		out->connections += v->state != NULL &&
		    strcmp(v->state, "ready") == 0;
		if (k == 0)
			continue;
		out->jobs += v->jobs;
		out->submitted += v->submitted;
		out->accepted += v->accepted;
		out->rejected += v->rejected;
		out->lost += v->lost;
		out->accepted_diff += v->accepted_diff;
		out->rejected_diff += v->rejected_diff;
	}
	pthread_mutex_unlock(&h->view_lock);
	return true;
}

int
hub_active_pool(struct hub *h)
{
	int a;

	if (h == NULL)
		return -1;
	pthread_mutex_lock(&h->view_lock);
	a = h->active;
	pthread_mutex_unlock(&h->view_lock);
	return a;
}

bool
hub_split_get(struct hub *h, struct hub_split *out)
{
	bool known;

	if (h == NULL)
		return false;
	pthread_mutex_lock(&h->view_lock);
	known = h->split_known;
	*out = h->split;
	pthread_mutex_unlock(&h->view_lock);
	return known;
}
