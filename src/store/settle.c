/*
 * settle.c: the reward split, the settlement window, and the database
 * side of settlement (see settle.h).
 *
 * The split works on integers: the difficulties (doubles) are scaled by
 * one power of two 2^k chosen so that their total is in [2^74, 2^75), and
 * truncated to 128-bit integer weights w_i. With W = sum(w_i) and the
 * reward R < 2^51, R * w_i < 2^127, so floor(R * w_i / W) and the
 * remainder (R * w_i) mod W are exact; sum(floor) = R - L with
 * 0 <= L < n, and the L largest remainders (exact integers over the same
 * W, ties to the lower worker id) get one satoshi more. Truncating a
 * weight loses less than one unit of 2^74, i.e. less than
 * R / 2^74 < 2^-23 satoshi, so the split differs from the ideal one of
 * the real numbers by less than (n + 1) * 2^-23 satoshi per worker.
 * Determinism: k comes from the total summed in worker-id order, and
 * everything after it is integer arithmetic, so the input order does not
 * matter.
 *
 * Database side: plain db_exec() statements, '?' parameters as text, so
 * SQLite and PostgreSQL run the same SQL. settle_run() reads first and
 * writes last (a short write transaction: the live proxy keeps writing
 * submissions on the same database).
 *
 * Not thread-safe per struct db, like db.h; no global state.
 */
#include "store/settle.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "util/errbuf.h"
#include "util/progress.h"
#include "util/xmalloc.h"

#ifndef __SIZEOF_INT128__
#error "settle.c needs a compiler with unsigned __int128 (gcc or clang, 64-bit)"
#endif
__extension__ typedef unsigned __int128 u128;

/* The scaled total is in [2^SCALE_BITS, 2^(SCALE_BITS + 1)): with
 * R < 2^51, R * W stays below 2^127 even with rounding slack. */
#define SCALE_BITS 74
/* Rows per INSERT statement when writing distributions. */
#define INSERT_BATCH 64
/* Columns of one distributions row. */
#define INSERT_COLS 7
/* Text of an int64 or a %.17g double, with its NUL. */
#define NUM_LEN 32

/* ---- the split ---- */

/* One worker as the split sorts it. */
struct split_ent {
	int64_t id;
	u128 weight;
	u128 rem;
	size_t idx; /* into the caller's array */
};

static int
cmp_id(const void *a, const void *b)
{
	const struct split_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Largest remainder first, then the lower worker id. */
static int
cmp_rem(const void *a, const void *b)
{
	const struct split_ent *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return cmp_id(a, b);
}

int
settle_split(struct settle_worker *w, size_t n, int64_t reward, char *err,
    size_t errlen)
{
	struct split_ent *e = NULL;
	u128 total = 0, r = (u128)reward;
	long double sum = 0;
	int64_t given = 0, left;
	int k, rc = -1;

	if (reward < 0 || reward > SETTLE_MAX_REWARD) {
		errbuf_set(err, errlen, "reward %" PRId64 " is out of range "
		    "(0 to %" PRId64 " satoshis)", reward, SETTLE_MAX_REWARD);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(w[i].difficulty) || w[i].difficulty < 0) {
			errbuf_set(err, errlen, "worker %" PRId64 ": invalid "
			    "difficulty %g", w[i].worker_id, w[i].difficulty);
			return -1;
		}
	}
	if (n == 0) {
		if (reward == 0)
			return 0;
		errbuf_set(err, errlen, "nothing to share the reward by: no "
		    "workers");
		return -1;
	}

	e = xcalloc(n, sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		e[i].id = w[i].worker_id;
		e[i].idx = i;
	}
	qsort(e, n, sizeof(*e), cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && e[i].id == e[i - 1].id) {
			errbuf_set(err, errlen, "worker %" PRId64 " appears "
			    "twice", e[i].id);
			goto out;
		}
		sum += w[e[i].idx].difficulty; /* in worker-id order */
	}
	if (!isfinite(sum)) {
		errbuf_set(err, errlen, "total difficulty is too large");
		goto out;
	}
	if (sum == 0 && reward > 0) {
		errbuf_set(err, errlen, "nothing to share the reward by: no "
		    "accepted difficulty");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		w[i].reward_sats = 0;
	if (sum == 0 || reward == 0) {
		rc = 0;
		goto out;
	}

	/* sum * 2^k in [2^SCALE_BITS, 2^(SCALE_BITS + 1)). */
	k = SCALE_BITS - ilogbl(sum);
	for (size_t i = 0; i < n; i++) {
		/* Exact (a power of two) unless it underflows, and then
		 * the weight is 0 anyway; below 2^76, so the cast fits. */
		long double x = ldexpl(w[e[i].idx].difficulty, k);

		e[i].weight = (u128)x; /* truncates */
		total += e[i].weight;
	}
	if (total == 0) { /* cannot happen: the largest is >= 2^74 / n */
		errbuf_set(err, errlen, "nothing to share the reward by");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		u128 p = r * e[i].weight;
		int64_t sats = (int64_t)(p / total);

		w[e[i].idx].reward_sats = sats;
		e[i].rem = p % total;
		given += sats;
	}
	/* sum(rem) = left * total with every rem < total: 0 <= left < n. */
	left = reward - given;
	if (left < 0 || (uint64_t)left >= n) {
		errbuf_set(err, errlen, "internal error: %" PRId64
		    " satoshis left over", left);
		goto out;
	}
	qsort(e, n, sizeof(*e), cmp_rem);
	for (int64_t i = 0; i < left; i++)
		w[e[i].idx].reward_sats++;
	rc = 0;
out:
	free(e);
	return rc;
}

/* ---- days and windows ---- */

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n decimal digits at s, nothing else. */
static int
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
settle_parse_day(const char *day, int64_t *out)
{
	int y, m, d;

	if (day == NULL || strlen(day) != 10 || day[4] != '-' ||
	    day[7] != '-' || digits(day, 4, &y) != 0 ||
	    digits(day + 5, 2, &m) != 0 || digits(day + 8, 2, &d) != 0)
		return -1;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return -1;
	*out = days_from_civil(y, m, d);
	return 0;
}

static int
parse_hhmm(const char *s, int *minutes)
{
	int h, m;

	if (s == NULL || strlen(s) != 5 || s[2] != ':' ||
	    digits(s, 2, &h) != 0 || digits(s + 3, 2, &m) != 0 || h > 23 ||
	    m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

int
settle_window(const char *day, const char *time, int64_t offset_min,
    int64_t *from, int64_t *to, char *err, size_t errlen)
{
	int64_t days;
	int minutes;

	if (settle_parse_day(day, &days) != 0) {
		errbuf_set(err, errlen, "invalid date \"%s\" (want YYYY-MM-DD, "
		    "a real date from 1970)", day != NULL ? day : "");
		return -1;
	}
	if (parse_hhmm(time, &minutes) != 0) {
		errbuf_set(err, errlen, "invalid settlement time \"%s\" (want "
		    "HH:MM, 00:00 to 23:59)", time != NULL ? time : "");
		return -1;
	}
	if (offset_min < -1440 || offset_min > 1440) {
		errbuf_set(err, errlen, "settlement offset %" PRId64 " out of "
		    "range (-1440 to 1440 minutes)", offset_min);
		return -1;
	}
	*from = days * 86400 + ((int64_t)minutes + offset_min) * 60;
	*to = *from + 86400;
	return 0;
}

/* ---- database ---- */

static int
parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* "2026-01-02 00:00" (UTC) for messages. */
static void
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

struct pool_info {
	bool found, bad;
	char id[NUM_LEN];
	char time[8];
	int64_t offset;
	bool pool_accepted;  /* settlement_basis: the pool's count */
};

static int
pool_row(void *arg, int ncols, const char *const *v, const char *const *names)
{
	struct pool_info *p = arg;

	if (ncols < 3 || v[0] == NULL || strlen(v[0]) >= sizeof(p->id)) {
		p->bad = true;
		return 1;
	}
	p->found = true;
	snprintf(p->id, sizeof(p->id), "%s", v[0]);
	snprintf(p->time, sizeof(p->time), "%s", v[1] != NULL ? v[1] : "");
	if (v[2] == NULL)
		p->offset = 0;
	else if (parse_i64(v[2], &p->offset) != 0)
		p->bad = true;
	p->pool_accepted = ncols > 3 && v[3] != NULL &&
	    strcmp(v[3], "pool_accepted") == 0;
	return 1;
}

/* Find the pool by name: 0, or -1 with a message (unknown pool too). */
static int
pool_lookup(struct db *db, const char *name, struct pool_info *p, char *err,
    size_t errlen)
{
	const char *params[1] = { name };

	memset(p, 0, sizeof(*p));
	if (db_exec(db, "SELECT id, settlement_time, settlement_offset, "
	    "settlement_basis FROM pools WHERE name = ?", params, 1, pool_row,
	    p, err, errlen) != 0)
		return -1;
	if (p->bad) {
		errbuf_set(err, errlen, "pool \"%s\": unreadable row in "
		    "pools", name);
		return -1;
	}
	if (!p->found) {
		errbuf_set(err, errlen, "unknown pool \"%s\" (a pool is "
		    "recorded when the proxy first runs with it configured)",
		    name);
		return -1;
	}
	return 0;
}

static int
check_day(const char *day, char *err, size_t errlen)
{
	int64_t d;

	if (settle_parse_day(day, &d) == 0)
		return 0;
	errbuf_set(err, errlen, "invalid date \"%s\" (want YYYY-MM-DD, a "
	    "real date from 1970)", day != NULL ? day : "");
	return -1;
}

int
settle_earnings_add(struct db *db, const char *pool, const char *day,
    int64_t reward_sats, double hashrate, char *err, size_t errlen)
{
	struct pool_info p;
	char reward[NUM_LEN], rate[NUM_LEN], now[NUM_LEN];
	const char *params[5];

	if (check_day(day, err, errlen) != 0)
		return -1;
	if (reward_sats < 0 || reward_sats > SETTLE_MAX_REWARD) {
		errbuf_set(err, errlen, "reward %" PRId64 " is out of range "
		    "(0 to %" PRId64 " satoshis)", reward_sats,
		    SETTLE_MAX_REWARD);
		return -1;
	}
	if (!isnan(hashrate) && (!isfinite(hashrate) || hashrate < 0)) {
		errbuf_set(err, errlen, "invalid hashrate %g", hashrate);
		return -1;
	}
	if (pool_lookup(db, pool, &p, err, errlen) != 0)
		return -1;
	snprintf(reward, sizeof(reward), "%" PRId64, reward_sats);
	snprintf(rate, sizeof(rate), "%.17g", hashrate);
	snprintf(now, sizeof(now), "%" PRId64, (int64_t)time(NULL));
	params[0] = p.id;
	params[1] = day;
	params[2] = reward;
	params[3] = isnan(hashrate) ? NULL : rate;
	params[4] = now;
	return db_exec(db, "INSERT INTO earnings (pool_id, day, reward_sats, "
	    "pool_hashrate, recorded_at) VALUES (?, ?, ?, ?, ?) "
	    "ON CONFLICT (pool_id, day) DO UPDATE SET "
	    "reward_sats = excluded.reward_sats, "
	    "pool_hashrate = excluded.pool_hashrate, "
	    "recorded_at = excluded.recorded_at",
	    params, 5, NULL, NULL, err, errlen);
}

struct earn_info {
	bool found, bad;
	int64_t reward;
};

static int
earn_row(void *arg, int ncols, const char *const *v, const char *const *names)
{
	struct earn_info *e = arg;

	e->found = true;
	if (ncols < 1 || parse_i64(v[0], &e->reward) != 0 || e->reward < 0 ||
	    e->reward > SETTLE_MAX_REWARD)
		e->bad = true;
	return 1;
}

/* One worker's accepted difficulty in the window. */
struct share_row {
	char worker[NUM_LEN];
	char miner[NUM_LEN];
	double difficulty;
};

struct share_rows {
	struct share_row *v;
	size_t n, cap;
	bool bad;
};

static int
share_row(void *arg, int ncols, const char *const *v,
    const char *const *names)
{
	struct share_rows *s = arg;
	struct share_row *r;

	if (ncols < 3 || v[0] == NULL || v[1] == NULL ||
	    strlen(v[0]) >= NUM_LEN || strlen(v[1]) >= NUM_LEN) {
		s->bad = true;
		return 1;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	r = &s->v[s->n];
	snprintf(r->worker, sizeof(r->worker), "%s", v[0]);
	snprintf(r->miner, sizeof(r->miner), "%s", v[1]);
	if (parse_double(v[2], &r->difficulty) != 0 || r->difficulty < 0) {
		s->bad = true;
		return 1;
	}
	s->n++;
	return 0;
}

/* Delete the day's distributions and insert the new ones: one
 * transaction. */
static int
write_distributions(struct db *db, const struct pool_info *p,
    const char *day, const struct share_rows *rows,
    const struct settle_worker *w, long double total, char *err,
    size_t errlen)
{
	static const char head[] = "INSERT INTO distributions (pool_id, day, "
	    "miner_id, worker_id, reward_sats, accepted_difficulty, share) "
	    "VALUES ";
	static const char tuple[] = "(?, ?, ?, ?, ?, ?, ?)";
	const char *del[2] = { p->id, day };
	const char **params;
	char (*num)[3][NUM_LEN];
	char *sql = NULL;
	size_t sql_batch = 0;
	struct progress pr;
	int rc = -1;

	params = xcalloc(INSERT_BATCH * INSERT_COLS, sizeof(*params));
	num = xcalloc(INSERT_BATCH, sizeof(*num));
	if (db_begin(db, err, errlen) != 0)
		goto out;
	/* Instances of a fleet may settle the same day at once: one after
	 * the other, the last one's rows stand (SQLite: its write lock). */
	if (db_kind(db) == DB_POSTGRES && db_exec(db, "SELECT "
	    "pg_advisory_xact_lock(hashtext('loka-settle:' || ? || ':' || ?))",
	    del, 2, NULL, NULL, err, errlen) != 0)
		goto fail;
	if (db_exec(db, "DELETE FROM distributions WHERE pool_id = ? AND "
	    "day = ?", del, 2, NULL, NULL, err, errlen) != 0)
		goto fail;
	progress_begin(&pr, "writing distributions", "workers", rows->n,
	    true);
	for (size_t at = 0; at < rows->n; at += INSERT_BATCH) {
		size_t b = rows->n - at < INSERT_BATCH ? rows->n - at :
		    INSERT_BATCH;

		progress_add(&pr, b);
		if (b != sql_batch) {
			size_t len = sizeof(head) + b * (sizeof(tuple) + 2);
			size_t off;

			free(sql);
			sql = xmalloc(len);
			off = (size_t)snprintf(sql, len, "%s", head);
			for (size_t i = 0; i < b; i++)
				off += (size_t)snprintf(sql + off, len - off,
				    "%s%s", i ? ", " : "", tuple);
			sql_batch = b;
		}
		for (size_t i = 0; i < b; i++) {
			const struct share_row *r = &rows->v[at + i];
			const char **q = params + i * INSERT_COLS;

			snprintf(num[i][0], NUM_LEN, "%" PRId64,
			    w[at + i].reward_sats);
			snprintf(num[i][1], NUM_LEN, "%.17g", r->difficulty);
			snprintf(num[i][2], NUM_LEN, "%.17g",
			    (double)(r->difficulty / total));
			q[0] = p->id;
			q[1] = day;
			q[2] = r->miner;
			q[3] = r->worker;
			q[4] = num[i][0];
			q[5] = num[i][1];
			q[6] = num[i][2];
		}
		if (db_exec(db, sql, params, (int)(b * INSERT_COLS), NULL,
		    NULL, err, errlen) != 0)
			goto fail;
	}
	progress_end(&pr);
	if (db_commit(db, err, errlen) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	db_rollback(db);
out:
	free(sql);
	free(num);
	free(params);
	return rc;
}

int
settle_run(struct db *db, const char *pool, const char *day,
    struct settle_summary *sum, char *err, size_t errlen)
{
	struct pool_info p;
	struct earn_info e = { 0 };
	struct share_rows rows = { 0 };
	struct settle_worker *w = NULL;
	char from_s[NUM_LEN], to_s[NUM_LEN], a[24], b[24], q[400];
	const char *params[3], *col;
	int64_t from, to;
	long double total = 0;
	int rc = -1;

	if (check_day(day, err, errlen) != 0)
		return -1;
	if (pool_lookup(db, pool, &p, err, errlen) != 0)
		return -1;
	if (settle_window(day, p.time, p.offset, &from, &to, err,
	    errlen) != 0) {
		char why[200];

		snprintf(why, sizeof(why), "%s", err != NULL ? err : "");
		errbuf_set(err, errlen, "pool \"%s\": %s", pool, why);
		return -1;
	}

	params[0] = p.id;
	params[1] = day;
	if (db_exec(db, "SELECT reward_sats FROM earnings WHERE pool_id = ? "
	    "AND day = ?", params, 2, earn_row, &e, err, errlen) != 0)
		return -1;
	if (!e.found) {
		errbuf_set(err, errlen, "no earnings recorded for pool \"%s\" "
		    "on %s (record them with `loka-stratum earnings add`)",
		    pool, day);
		return -1;
	}
	if (e.bad) {
		errbuf_set(err, errlen, "pool \"%s\" on %s: unreadable "
		    "reward in earnings", pool, day);
		return -1;
	}

	snprintf(from_s, sizeof(from_s), "%" PRId64, from);
	snprintf(to_s, sizeof(to_s), "%" PRId64, to);
	params[1] = from_s;
	params[2] = to_s;
	/* The pool's settlement_basis: what Loka validated, or what the
	 * pool accepted (aggregate mode's second count). */
	col = p.pool_accepted ? "pool_accepted_difficulty" :
	    "accepted_difficulty";
	snprintf(q, sizeof(q), "SELECT s.worker_id, w.miner_id, SUM(s.%s) "
	    "FROM submissions s JOIN workers w ON w.id = s.worker_id "
	    "WHERE w.pool_id = ? AND s.minute >= ? AND s.minute < ? "
	    "GROUP BY s.worker_id, w.miner_id HAVING SUM(s.%s) > 0 "
	    "ORDER BY s.worker_id", col, col);
	if (db_exec(db, q, params, 3, share_row, &rows, err, errlen) != 0)
		goto out;
	if (rows.bad) {
		errbuf_set(err, errlen, "pool \"%s\" on %s: unreadable "
		    "difficulty in submissions", pool, day);
		goto out;
	}
	fmt_time(from, a, sizeof(a));
	fmt_time(to, b, sizeof(b));
	if (rows.n == 0) {
		errbuf_set(err, errlen, "no accepted shares for pool \"%s\" "
		    "in its day %s (%s to %s UTC): nothing to share the reward "
		    "by", pool, day, a, b);
		goto out;
	}

	w = xcalloc(rows.n, sizeof(*w));
	for (size_t i = 0; i < rows.n; i++) {
		if (parse_i64(rows.v[i].worker, &w[i].worker_id) != 0) {
			errbuf_set(err, errlen, "unreadable worker id \"%s\"",
			    rows.v[i].worker);
			goto out;
		}
		w[i].difficulty = rows.v[i].difficulty;
		total += rows.v[i].difficulty; /* in worker-id order */
	}
	if (settle_split(w, rows.n, e.reward, err, errlen) != 0)
		goto out;
	if (write_distributions(db, &p, day, &rows, w, total, err,
	    errlen) != 0)
		goto out;
	if (sum != NULL) {
		sum->from = from;
		sum->to = to;
		sum->workers = rows.n;
		sum->total_difficulty = (double)total;
		sum->reward_sats = e.reward;
	}
	rc = 0;
out:
	free(w);
	free(rows.v);
	return rc;
}

struct list_ctx {
	settle_row_fn fn;
	void *arg;
	int n;
	bool bad, stopped;
};

static int
list_row(void *arg, int ncols, const char *const *v, const char *const *names)
{
	struct list_ctx *l = arg;
	struct settle_row r;

	if (ncols < 6 || parse_i64(v[2], &r.worker_id) != 0 ||
	    parse_double(v[3], &r.difficulty) != 0 ||
	    parse_double(v[4], &r.share) != 0 ||
	    parse_i64(v[5], &r.reward_sats) != 0) {
		l->bad = true;
		return 1;
	}
	r.miner = v[0] != NULL ? v[0] : "";
	r.worker = v[1] != NULL ? v[1] : "";
	l->n++;
	if (l->fn != NULL && l->fn(l->arg, &r) != 0) {
		l->stopped = true;
		return 1;
	}
	return 0;
}

int
settle_list(struct db *db, const char *pool, const char *day,
    settle_row_fn fn, void *arg, char *err, size_t errlen)
{
	struct pool_info p;
	struct list_ctx l = { .fn = fn, .arg = arg };
	const char *params[2];

	if (check_day(day, err, errlen) != 0)
		return -1;
	if (pool_lookup(db, pool, &p, err, errlen) != 0)
		return -1;
	params[0] = p.id;
	params[1] = day;
	if (db_exec(db, "SELECT m.name, w.name, d.worker_id, "
	    "d.accepted_difficulty, d.share, d.reward_sats "
	    "FROM distributions d "
	    "JOIN workers w ON w.id = d.worker_id "
	    "JOIN miners m ON m.id = d.miner_id "
	    "WHERE d.pool_id = ? AND d.day = ? "
	    "ORDER BY m.name, w.name, d.worker_id", params, 2, list_row, &l,
	    err, errlen) != 0)
		return -1;
	if (l.bad) {
		errbuf_set(err, errlen, "pool \"%s\" on %s: unreadable row in "
		    "distributions", pool, day);
		return -1;
	}
	return l.n;
}
