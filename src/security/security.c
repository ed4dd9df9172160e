/*
 * security.c: the shared table of peer addresses: connection slots,
 * connection-rate buckets, violation counts and bans (see security.h).
 *
 * Threading: one mutex guards the table. It is taken at accept, at close,
 * on a violation and by the API, never on the share path. Counters read
 * by the metrics are relaxed atomics, outside the lock.
 *
 * Layout: a chained hash table keyed by the 16-byte address, with a random
 * seed so that an attacker choosing IPv6 addresses cannot aim at one
 * chain. Each entry is on at most one list:
 *   bans   entries banned now (perhaps still holding connections until the
 *          workers have closed them), oldest ban first;
 *   idle   entries with no connection and no ban, least recently touched
 *          first: what is evicted when the table is full;
 *   none   entries holding connections and not banned (never evicted: the
 *          table has room for max_connections of them).
 * Bans end lazily: an expired ban is noticed when its entry is looked at,
 * and by the sweeps that listing, scraping and eviction run over the bans
 * list.
 */
#include "security/security.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>

#include "config/config.h"
#include "metrics/registry.h"
#include "net/cidr.h"
#include "security/ratelimit.h"
#include "util/errbuf.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

enum entry_list {
	LIST_NONE = 0,
	LIST_IDLE,
	LIST_BANS,
	LIST_MAX
};

struct sec_entry {
	uint8_t addr[16];
	struct sec_entry *next;       /* hash chain */
	TAILQ_ENTRY(sec_entry) link;  /* idle or bans list */
	enum entry_list list;
	uint32_t conns;               /* connection slots held */
	struct ratelimit conn_rate;   /* new connections */
	uint32_t violations;          /* within the current window */
	int64_t window_start_ms;
	int64_t last_ms;              /* last touched */
	int64_t ban_since_ms;         /* 0: not banned */
	int64_t ban_until_ms;
	uint32_t ban_violations;
	char ban_reason[SECURITY_REASON_MAX];
};

TAILQ_HEAD(entry_list_head, sec_entry);

struct security {
	const struct cfg *cfg;
	security_ban_fn on_ban;
	void *on_ban_arg;
	struct cidr_set allow, deny;
	pthread_mutex_t lock;
	struct sec_entry **buckets;
	size_t nbuckets;            /* a power of two */
	uint64_t seed;
	size_t count, cap;
	struct entry_list_head idle, bans;
	size_t nbans;
	_Atomic uint64_t violations[SECURITY_V_MAX];
	_Atomic uint64_t refused[SECURITY_VERDICT_MAX];
	_Atomic uint64_t closed[SECURITY_CLOSE_MAX];
	_Atomic uint64_t bans_total;
};

static const char *const kind_names[SECURITY_V_MAX] = {
	[SECURITY_V_RATE_LIMIT] = "rate_limit",
	[SECURITY_V_LINE_TIMEOUT] = "line_timeout",
	[SECURITY_V_AUTH_FAILURES] = "auth_failures",
	[SECURITY_V_BAD_INPUT] = "bad_input",
	[SECURITY_V_LINE_TOO_LONG] = "line_too_long",
	[SECURITY_V_PROTOCOL] = "protocol",
	[SECURITY_V_UNTRUSTED_PROXY] = "untrusted_proxy",
	[SECURITY_V_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[SECURITY_V_IP_CONNECTIONS] = "ip_connections",
	[SECURITY_V_IP_RATE] = "ip_connection_rate",
};

static const char *const verdict_names[SECURITY_VERDICT_MAX] = {
	[SECURITY_ADMIT] = "admitted",
	[SECURITY_REFUSE_FILTER] = "ip_filter",
	[SECURITY_REFUSE_BANNED] = "banned",
	[SECURITY_REFUSE_IP_CONNECTIONS] = "ip_connections",
	[SECURITY_REFUSE_IP_RATE] = "ip_connection_rate",
};

static const char *const close_names[SECURITY_CLOSE_MAX] = {
	[SECURITY_CLOSE_BANNED] = "banned",
	[SECURITY_CLOSE_LINE_TIMEOUT] = "line_timeout",
	[SECURITY_CLOSE_AUTH_FAILURES] = "auth_failures",
};

/* The 12-byte prefix of IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2). */
static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

const char *
security_kind_name(enum security_kind kind)
{
	return (unsigned)kind < SECURITY_V_MAX ? kind_names[kind] : "invalid";
}

const char *
security_verdict_name(enum security_verdict v)
{
	return (unsigned)v < SECURITY_VERDICT_MAX ? verdict_names[v] :
	    "invalid";
}

const char *
security_close_name(enum security_close why)
{
	return (unsigned)why < SECURITY_CLOSE_MAX ? close_names[why] :
	    "invalid";
}

int
security_addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(key, v4mapped, sizeof(v4mapped));
		memcpy(key + 12, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

/* Text ("192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7") to a key. */
static int
key_from_text(const char *ip, uint8_t key[16])
{
	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, key + 12) == 1) {
		memcpy(key, v4mapped, sizeof(v4mapped));
		return 0;
	}
	return inet_pton(AF_INET6, ip, key) == 1 ? 0 : -1;
}

static void
key_to_text(const uint8_t key[16], char *buf, size_t size)
{
	if (memcmp(key, v4mapped, sizeof(v4mapped)) == 0)
		inet_ntop(AF_INET, key + 12, buf, (socklen_t)size);
	else
		inet_ntop(AF_INET6, key, buf, (socklen_t)size);
}

/* FNV-1a over the seed and the address. */
static size_t
bucket_of(const struct security *sec, const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ULL ^ sec->seed;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	h ^= h >> 29;
	return (size_t)h & (sec->nbuckets - 1);
}

static struct sec_entry *
entry_find(struct security *sec, const uint8_t key[16])
{
	struct sec_entry *e = sec->buckets[bucket_of(sec, key)];

	while (e != NULL && memcmp(e->addr, key, 16) != 0)
		e = e->next;
	return e;
}

static void
list_remove(struct security *sec, struct sec_entry *e)
{
	if (e->list == LIST_IDLE)
		TAILQ_REMOVE(&sec->idle, e, link);
	else if (e->list == LIST_BANS) {
		TAILQ_REMOVE(&sec->bans, e, link);
		sec->nbans--;
	}
	e->list = LIST_NONE;
}

/* Put e on the list its state calls for (idle entries go to the tail). */
static void
entry_relist(struct security *sec, struct sec_entry *e)
{
	enum entry_list want = e->ban_until_ms != 0 ? LIST_BANS :
	    e->conns == 0 ? LIST_IDLE : LIST_NONE;

	if (e->list == want && want != LIST_IDLE)
		return;
	list_remove(sec, e);
	if (want == LIST_IDLE)
		TAILQ_INSERT_TAIL(&sec->idle, e, link);
	else if (want == LIST_BANS) {
		TAILQ_INSERT_TAIL(&sec->bans, e, link);
		sec->nbans++;
	}
	e->list = want;
}

static void
entry_delete(struct security *sec, struct sec_entry *e)
{
	struct sec_entry **pp = &sec->buckets[bucket_of(sec, e->addr)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	list_remove(sec, e);
	sec->count--;
	free(e);
}

static void
ban_end(struct security *sec, struct sec_entry *e)
{
	e->ban_since_ms = e->ban_until_ms = 0;
	e->ban_violations = 0;
	e->ban_reason[0] = '\0';
	e->violations = 0;
	entry_relist(sec, e);
}

/* End the bans that have run out (the bans list is short). */
static void
bans_expire(struct security *sec, int64_t now)
{
	struct sec_entry *e, *next;

	for (e = TAILQ_FIRST(&sec->bans); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		if (e->ban_until_ms <= now)
			ban_end(sec, e);
	}
}

/* Make room for one entry; false when nothing may be evicted. */
static bool
make_room(struct security *sec, int64_t now)
{
	struct sec_entry *e, *soonest = NULL;

	if (sec->count < sec->cap)
		return true;
	bans_expire(sec, now);
	if ((e = TAILQ_FIRST(&sec->idle)) != NULL) {
		entry_delete(sec, e);
		return true;
	}
	TAILQ_FOREACH(e, &sec->bans, link)
		if (e->conns == 0 && (soonest == NULL ||
		    e->ban_until_ms < soonest->ban_until_ms))
			soonest = e;
	if (soonest == NULL)
		return false;
	entry_delete(sec, soonest);
	return true;
}

/* The entry of key, created when create is set; NULL if none (or full). */
static struct sec_entry *
entry_get(struct security *sec, const uint8_t key[16], bool create,
    int64_t now)
{
	struct sec_entry *e = entry_find(sec, key);
	size_t b;

	if (e != NULL) {
		if (e->ban_until_ms != 0 && e->ban_until_ms <= now)
			ban_end(sec, e);
		e->last_ms = now;
		if (e->list == LIST_IDLE)
			entry_relist(sec, e); /* to the tail */
		return e;
	}
	if (!create || !make_room(sec, now))
		return NULL;
	e = xcalloc(1, sizeof(*e));
	memcpy(e->addr, key, 16);
	ratelimit_init(&e->conn_rate,
	    (double)sec->cfg->security.connection_burst_per_ip, now);
	e->last_ms = now;
	b = bucket_of(sec, key);
	e->next = sec->buckets[b];
	sec->buckets[b] = e;
	sec->count++;
	entry_relist(sec, e);
	return e;
}

struct security *
security_new(const struct cfg *c, security_ban_fn on_ban, void *arg,
    char *err, size_t errlen)
{
	struct security *sec = xcalloc(1, sizeof(*sec));
	char why[256];

	sec->cfg = c;
	sec->on_ban = on_ban;
	sec->on_ban_arg = arg;
	if (cidr_set_parse(&sec->allow,
	    (const char *const *)c->security.ip_allowlist.v,
	    c->security.ip_allowlist.n, why, sizeof(why)) != 0) {
		errbuf_set(err, errlen, "[security] ip_allowlist: %s", why);
		goto err0;
	}
	if (cidr_set_parse(&sec->deny,
	    (const char *const *)c->security.ip_denylist.v,
	    c->security.ip_denylist.n, why, sizeof(why)) != 0) {
		errbuf_set(err, errlen, "[security] ip_denylist: %s", why);
		goto err1;
	}
	pthread_mutex_init(&sec->lock, NULL);
	sec->cap = (size_t)c->server.max_connections + SECURITY_IDLE_ENTRIES;
	/* About two entries per chain when full. */
	for (sec->nbuckets = 1024; sec->nbuckets < sec->cap / 2;)
		sec->nbuckets *= 2;
	sec->buckets = xcalloc(sec->nbuckets, sizeof(*sec->buckets));
	if (getrandom(&sec->seed, sizeof(sec->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(sec->seed))
		sec->seed = (uint64_t)now_wall_ms() ^ (uint64_t)(uintptr_t)sec;
	TAILQ_INIT(&sec->idle);
	TAILQ_INIT(&sec->bans);
	return sec;
err1:
	cidr_set_free(&sec->allow);
err0:
	free(sec);
	return NULL;
}

void
security_free(struct security *sec)
{
	if (sec == NULL)
		return;
	for (size_t i = 0; i < sec->nbuckets; i++) {
		struct sec_entry *e = sec->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(sec->buckets);
	cidr_set_free(&sec->allow);
	cidr_set_free(&sec->deny);
	pthread_mutex_destroy(&sec->lock);
	free(sec);
}

/* Place a ban on e (lock held). */
static void
ban_place(struct security *sec, struct sec_entry *e, int64_t now,
    int64_t duration_ms, const char *reason, uint32_t violations)
{
	bool fresh = e->ban_until_ms == 0;

	if (fresh)
		e->ban_since_ms = now;
	e->ban_until_ms = now + duration_ms;
	e->ban_violations = violations;
	snprintf(e->ban_reason, sizeof(e->ban_reason), "%s", reason);
	e->violations = 0;
	entry_relist(sec, e);
	if (fresh)
		atomic_fetch_add_explicit(&sec->bans_total, 1,
		    memory_order_relaxed);
}

/* Count a violation by e (lock held); true when it banned e just now. */
static bool
violation_locked(struct security *sec, struct sec_entry *e,
    enum security_kind kind, int64_t now)
{
	const struct cfg_security *cs = &sec->cfg->security;

	if (e->ban_until_ms != 0)
		return false;
	if (e->violations == 0 ||
	    now - e->window_start_ms >= cs->violation_window_ms) {
		e->violations = 0;
		e->window_start_ms = now;
	}
	if (++e->violations < (uint64_t)cs->max_violations)
		return false;
	ban_place(sec, e, now, cs->ban_duration_ms, security_kind_name(kind),
	    e->violations);
	return true;
}

static void
announce_ban(struct security *sec, const uint8_t key[16], const char *why,
    uint32_t violations, int64_t duration_ms)
{
	char text[INET6_ADDRSTRLEN];

	key_to_text(key, text, sizeof(text));
	log_warnx("security", "banned %s for %llds: %s (%u violations)", text,
	    (long long)(duration_ms / 1000), why, violations);
	if (sec->on_ban != NULL)
		sec->on_ban(key, sec->on_ban_arg);
}

static enum security_verdict
refuse(struct security *sec, enum security_verdict v)
{
	atomic_fetch_add_explicit(&sec->refused[v], 1, memory_order_relaxed);
	return v;
}

enum security_verdict
security_admit(struct security *sec, const struct sockaddr *sa,
    int64_t now_ms)
{
	const struct cfg_security *cs = &sec->cfg->security;
	enum security_verdict v = SECURITY_ADMIT;
	enum security_kind kind = SECURITY_V_MAX;
	struct sec_entry *e;
	uint8_t key[16];
	bool banned = false;
	uint32_t nviol = 0;

	if (security_addr_key(sa, key) != 0)
		return SECURITY_ADMIT;
	if ((cs->ip_filter_mode == CFG_IP_FILTER_ALLOW &&
	    !cidr_set_contains(&sec->allow, sa)) ||
	    (cs->ip_filter_mode == CFG_IP_FILTER_DENY &&
	    cidr_set_contains(&sec->deny, sa)))
		return refuse(sec, SECURITY_REFUSE_FILTER);
	pthread_mutex_lock(&sec->lock);
	e = entry_get(sec, key, true, now_ms);
	if (e == NULL) {
		/* Cannot happen: the table has room for max_connections
		 * connected peers and more. Should it, max_connections still
		 * bounds them. */
		pthread_mutex_unlock(&sec->lock);
		return SECURITY_ADMIT;
	}
	if (e->ban_until_ms != 0) {
		v = SECURITY_REFUSE_BANNED;
	} else if (!ratelimit_take(&e->conn_rate, cs->connection_rate_per_ip,
	    (double)cs->connection_burst_per_ip, now_ms)) {
		v = SECURITY_REFUSE_IP_RATE;
		kind = SECURITY_V_IP_RATE;
	} else if (cs->max_connections_per_ip > 0 &&
	    e->conns >= (uint64_t)cs->max_connections_per_ip) {
		v = SECURITY_REFUSE_IP_CONNECTIONS;
		kind = SECURITY_V_IP_CONNECTIONS;
	} else {
		e->conns++;
		entry_relist(sec, e);
	}
	if (kind != SECURITY_V_MAX) {
		atomic_fetch_add_explicit(&sec->violations[kind], 1,
		    memory_order_relaxed);
		banned = violation_locked(sec, e, kind, now_ms);
		nviol = e->ban_violations;
	}
	pthread_mutex_unlock(&sec->lock);
	if (banned)
		announce_ban(sec, key, security_kind_name(kind), nviol,
		    cs->ban_duration_ms);
	return v == SECURITY_ADMIT ? v : refuse(sec, v);
}

void
security_release(struct security *sec, const struct sockaddr *sa)
{
	struct sec_entry *e;
	uint8_t key[16];

	if (security_addr_key(sa, key) != 0)
		return;
	pthread_mutex_lock(&sec->lock);
	e = entry_find(sec, key);
	if (e != NULL && e->conns > 0) {
		e->conns--;
		entry_relist(sec, e);
	}
	pthread_mutex_unlock(&sec->lock);
}

bool
security_violation(struct security *sec, const struct sockaddr *sa,
    enum security_kind kind, int64_t now_ms)
{
	struct sec_entry *e;
	uint8_t key[16];
	bool banned = false, now_banned = false;
	uint32_t nviol = 0;

	if ((unsigned)kind >= SECURITY_V_MAX)
		return false;
	atomic_fetch_add_explicit(&sec->violations[kind], 1,
	    memory_order_relaxed);
	if (security_addr_key(sa, key) != 0)
		return false;
	pthread_mutex_lock(&sec->lock);
	e = entry_get(sec, key, true, now_ms);
	if (e != NULL) {
		banned = e->ban_until_ms != 0;
		if (!banned) {
			now_banned = violation_locked(sec, e, kind, now_ms);
			nviol = e->ban_violations;
		}
	}
	pthread_mutex_unlock(&sec->lock);
	if (now_banned)
		announce_ban(sec, key, security_kind_name(kind), nviol,
		    sec->cfg->security.ban_duration_ms);
	return banned || now_banned;
}

bool
security_banned(struct security *sec, const uint8_t key[16], int64_t now_ms)
{
	struct sec_entry *e;
	bool banned;

	pthread_mutex_lock(&sec->lock);
	e = entry_find(sec, key);
	banned = e != NULL && e->ban_until_ms > now_ms;
	pthread_mutex_unlock(&sec->lock);
	return banned;
}

void
security_count_close(struct security *sec, enum security_close why)
{
	if ((unsigned)why < SECURITY_CLOSE_MAX)
		atomic_fetch_add_explicit(&sec->closed[why], 1,
		    memory_order_relaxed);
}

/* A monotonic time as RFC 3339 UTC text, through the wall clock now. */
static void
format_time(int64_t mono, int64_t now_mono, int64_t now_wall, char *buf,
    size_t size)
{
	time_t t = (time_t)((now_wall + (mono - now_mono)) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *
security_bans_json(struct security *sec)
{
	json_t *a = json_array();
	int64_t now = now_mono_ms(), wall = now_wall_ms();
	struct sec_entry *e;

	pthread_mutex_lock(&sec->lock);
	bans_expire(sec, now);
	TAILQ_FOREACH(e, &sec->bans, link) {
		char ip[INET6_ADDRSTRLEN], since[32], until[32];

		key_to_text(e->addr, ip, sizeof(ip));
		format_time(e->ban_since_ms, now, wall, since, sizeof(since));
		format_time(e->ban_until_ms, now, wall, until, sizeof(until));
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}",
		    "ip", ip, "reason", e->ban_reason, "since", since,
		    "expires", until, "expires_in",
		    (json_int_t)((e->ban_until_ms - now + 999) / 1000),
		    "violations", (json_int_t)e->ban_violations));
	}
	pthread_mutex_unlock(&sec->lock);
	return a;
}

int
security_ban(struct security *sec, const char *ip, int64_t duration_ms,
    const char *reason)
{
	struct sec_entry *e;
	uint8_t key[16];
	int64_t now = now_mono_ms();

	if (key_from_text(ip, key) != 0)
		return -1;
	if (duration_ms <= 0)
		duration_ms = sec->cfg->security.ban_duration_ms;
	if (reason == NULL || reason[0] == '\0')
		reason = "manual";
	pthread_mutex_lock(&sec->lock);
	e = entry_get(sec, key, true, now);
	if (e != NULL)
		ban_place(sec, e, now, duration_ms, reason, 0);
	pthread_mutex_unlock(&sec->lock);
	if (e == NULL)
		return -1;
	announce_ban(sec, key, reason, 0, duration_ms);
	return 0;
}

int
security_unban(struct security *sec, const char *ip)
{
	struct sec_entry *e;
	uint8_t key[16];
	int64_t now = now_mono_ms();
	int rc = 1;

	if (key_from_text(ip, key) != 0)
		return -1;
	pthread_mutex_lock(&sec->lock);
	e = entry_find(sec, key);
	if (e != NULL && e->ban_until_ms > now) {
		ban_end(sec, e);
		rc = 0;
	} else if (e != NULL) {
		e->violations = 0;
	}
	pthread_mutex_unlock(&sec->lock);
	return rc; /* the caller (the API) logs who lifted it */
}

/* ---- metrics ---- */

static void
c_violations(struct metrics_sink *sink, void *arg)
{
	struct security *sec = arg;

	for (int k = 0; k < SECURITY_V_MAX; k++) {
		const char *v[1] = { kind_names[k] };

		metrics_sink_value(sink, v, (double)atomic_load_explicit(
		    &sec->violations[k], memory_order_relaxed));
	}
}

static void
c_refused(struct metrics_sink *sink, void *arg)
{
	struct security *sec = arg;

	for (int r = SECURITY_ADMIT + 1; r < SECURITY_VERDICT_MAX; r++) {
		const char *v[1] = { verdict_names[r] };

		metrics_sink_value(sink, v, (double)atomic_load_explicit(
		    &sec->refused[r], memory_order_relaxed));
	}
}

static void
c_closed(struct metrics_sink *sink, void *arg)
{
	struct security *sec = arg;

	for (int r = 0; r < SECURITY_CLOSE_MAX; r++) {
		const char *v[1] = { close_names[r] };

		metrics_sink_value(sink, v, (double)atomic_load_explicit(
		    &sec->closed[r], memory_order_relaxed));
	}
}

/* Runs with the registry mutex held; takes only the table's own lock. */
static void
c_bans_active(struct metrics_sink *sink, void *arg)
{
	struct security *sec = arg;
	size_t n;

	pthread_mutex_lock(&sec->lock);
	bans_expire(sec, now_mono_ms());
	n = sec->nbans;
	pthread_mutex_unlock(&sec->lock);
	metrics_sink_value(sink, NULL, (double)n);
}

static void
c_bans_total(struct metrics_sink *sink, void *arg)
{
	struct security *sec = arg;

	metrics_sink_value(sink, NULL, (double)atomic_load_explicit(
	    &sec->bans_total, memory_order_relaxed));
}

int
security_metrics_register(struct security *sec, struct metrics_registry *reg)
{
	static const char *const kind[] = { "kind", NULL };
	static const char *const reason[] = { "reason", NULL };
	static const struct metrics_callback_def fams[] = {
		{ METRICS_COUNTER, "loka_security_violations_total",
		    "Violations by miners' addresses, by kind (they lead to "
		    "bans).", kind, c_violations },
		{ METRICS_COUNTER, "loka_security_refused_total",
		    "Connections refused at accept by the IP filter, a ban or "
		    "a per-IP limit.", reason, c_refused },
		{ METRICS_COUNTER, "loka_security_sessions_closed_total",
		    "Sessions closed for abuse, by reason.", reason, c_closed },
		{ METRICS_GAUGE, "loka_bans_active",
		    "IP addresses banned now.", NULL, c_bans_active },
		{ METRICS_COUNTER, "loka_bans_total",
		    "Bans placed (automatic and manual).", NULL,
		    c_bans_total },
	};

	return metrics_callbacks_register(reg, fams, sizeof(fams) /
	    sizeof(fams[0]), sec);
}
