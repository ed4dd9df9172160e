/*
 * history.c: series from the books (see history.h).
 */
#include "store/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

/* Columns every query selects: bucket, accepted, accepted difficulty,
 * rejected, rejected difficulty. */
#define H_REJ_MINUTE "SUM(s.rejected_stale + s.rejected_duplicate + " \
	"s.rejected_low_difficulty + s.rejected_unauthorized + " \
	"s.rejected_other)"

/* The workers a miner or worker filter names: the rows are then read
 * through the primary key (worker_id, minute or hour), one range per
 * worker, not by scanning every worker's rows in the time range. */
#define H_WORKERS "(SELECT w.id FROM workers w JOIN miners m ON m.id = " \
	"w.miner_id JOIN pools p ON p.id = w.pool_id WHERE (? = '' OR " \
	"p.name = ?) AND (? = '' OR m.name = ?) AND (? = '' OR w.name = ?))"

struct h_ctx {
	history_fn fn;
	void *arg;
	int64_t since, step;
};

static int
h_row(void *arg, int ncols, const char *const *v, const char *const *names)
{
	struct h_ctx *c = arg;
	struct history_point p;

	(void)names;
	if (ncols != 7 || v[0] == NULL)
		return 0;
	p.t = c->since + strtoll(v[0], NULL, 10) * c->step;
	p.accepted = v[1] != NULL ? strtoull(v[1], NULL, 10) : 0;
	p.accepted_difficulty = v[2] != NULL ? strtod(v[2], NULL) : 0;
	p.rejected = v[3] != NULL ? strtoull(v[3], NULL, 10) : 0;
	p.rejected_difficulty = v[4] != NULL ? strtod(v[4], NULL) : 0;
	p.pool_accepted = v[5] != NULL ? strtoull(v[5], NULL, 10) : 0;
	p.pool_accepted_difficulty = v[6] != NULL ? strtod(v[6], NULL) : 0;
	return c->fn(c->arg, &p) != 0;
}

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

int
history_series(struct db *db, const struct history_filter *f,
    int64_t since, int64_t until, int64_t step, history_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct h_ctx c = { fn, arg, 0, step };
	char vsince[24], vuntil[24], vstep[24];
	const char *p[9];
	const char *sql;
	int n;

	if (step < 60 || step % 60 != 0 || step > HISTORY_STEP_MAX) {
		snprintf(err, errlen, "step must be a multiple of 60 seconds, "
		    "from 60 to %d", HISTORY_STEP_MAX);
		return -1;
	}
	if (since < 0 || until < since) {
		snprintf(err, errlen, "the range must have since <= until, "
		    "both Unix seconds");
		return -1;
	}
	since -= since % step;
	if ((until - since + step - 1) / step > HISTORY_POINTS_MAX) {
		snprintf(err, errlen, "%" PRId64 " points: more than %d; use a "
		    "larger step or a shorter range",
		    (until - since + step - 1) / step, HISTORY_POINTS_MAX);
		return -1;
	}
	c.since = since;
	snprintf(vsince, sizeof(vsince), "%" PRId64, since);
	snprintf(vuntil, sizeof(vuntil), "%" PRId64, until);
	snprintf(vstep, sizeof(vstep), "%" PRId64, step);
	p[0] = vsince;
	p[1] = vstep;
	p[2] = vsince;
	p[3] = vuntil;
	p[4] = or_empty(f->pool);
	p[5] = or_empty(f->pool);
	if (or_empty(f->miner)[0] == '\0' && or_empty(f->worker)[0] == '\0') {
		sql = "SELECT (r.minute - CAST(? AS BIGINT)) / CAST(? AS BIGINT) "
		    "AS b, SUM(r.accepted), SUM(r.accepted_difficulty), "
		    "SUM(r.rejected), SUM(r.rejected_difficulty), "
		    "SUM(r.pool_accepted), SUM(r.pool_accepted_difficulty) FROM "
		    "pool_minutes r JOIN pools p ON p.id = r.pool_id WHERE "
		    "r.minute >= CAST(? AS BIGINT) AND r.minute < CAST(? AS "
		    "BIGINT) AND (? = '' OR p.name = ?) GROUP BY b ORDER BY b";
		n = 6;
	} else {
		p[6] = or_empty(f->miner);
		p[7] = or_empty(f->miner);
		p[8] = or_empty(f->worker);
		n = 9;
		if (step % 3600 == 0)
			sql = "SELECT (s.hour - CAST(? AS BIGINT)) / CAST(? AS "
			    "BIGINT) AS b, SUM(s.accepted), "
			    "SUM(s.accepted_difficulty), SUM(s.rejected), "
			    "SUM(s.rejected_difficulty), SUM(s.pool_accepted), "
			    "SUM(s.pool_accepted_difficulty) FROM worker_hours s "
			    "WHERE s.hour >= CAST(? AS BIGINT) AND s.hour < "
			    "CAST(? AS BIGINT) AND s.worker_id IN " H_WORKERS
			    " GROUP BY b ORDER BY b";
		else
			sql = "SELECT (s.minute - CAST(? AS BIGINT)) / CAST(? AS "
			    "BIGINT) AS b, SUM(s.accepted), "
			    "SUM(s.accepted_difficulty), " H_REJ_MINUTE ", "
			    "SUM(s.rejected_difficulty), SUM(s.pool_accepted), "
			    "SUM(s.pool_accepted_difficulty) FROM submissions s "
			    "WHERE s.minute >= CAST(? AS BIGINT) AND s.minute < "
			    "CAST(? AS BIGINT) AND s.worker_id IN " H_WORKERS
			    " GROUP BY b ORDER BY b";
	}
	{
		/* The worker's pair of placeholders follows the miner's. */
		const char *q[10];

		memcpy(q, p, sizeof(p[0]) * (size_t)n);
		if (n == 9) {
			q[9] = q[8];
			n = 10;
		}
		return db_exec(db, sql, q, n, h_row, &c, err, errlen);
	}
}

int64_t
history_default_step(int64_t span)
{
	static const int64_t steps[] = { 60, 300, 900, 3600, 14400, 86400 };

	if (span <= 3600)
		return 60;
	if (span <= 86400)
		return 300;
	if (span <= 7 * 86400)
		return 3600;
	if (span <= 30 * 86400)
		return 14400;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / steps[i] <= 400)
			return steps[i];
	return HISTORY_STEP_MAX;
}

double
history_hashrate(double accepted_difficulty, int64_t step)
{
	return step > 0 ? accepted_difficulty * 4294967296.0 / (double)step :
	    0;
}
