/*
 * progress.c: progress lines for long operations (see progress.h).
 */
#include "util/progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "util/log.h"
#include "util/now.h"

void
progress_begin(struct progress *p, const char *what, const char *unit,
    uint64_t total, bool bar)
{
	p->what = what;
	p->unit = unit;
	p->total = total;
	p->done = 0;
	p->start_ms = p->last_ms = now_mono_ms();
	p->bar = bar && isatty(STDERR_FILENO);
	p->shown = false;
}

static void
show(struct progress *p, int64_t t, bool last)
{
	double s = (double)(t - p->start_ms) / 1000.0;
	double rate = s > 0 ? (double)p->done / s : 0;
	char line[256];

	if (p->total > 0)
		snprintf(line, sizeof(line), "%s: %" PRIu64 " of %" PRIu64
		    " %s (%.0f %%), %.0f/s%s", p->what, p->done, p->total,
		    p->unit, 100.0 * (double)p->done / (double)p->total, rate,
		    last ? ", done" : "");
	else
		snprintf(line, sizeof(line), "%s: %" PRIu64 " %s, %.0f/s%s",
		    p->what, p->done, p->unit, rate, last ? ", done" : "");
	if (p->bar)
		fprintf(stderr, "\r%s%s", line, last ? "\n" : "");
	else
		log_info("progress", "%s", line);
	p->shown = true;
	p->last_ms = t;
}

void
progress_add(struct progress *p, uint64_t n)
{
	int64_t t;

	p->done += n;
	/* The clock only every 1024 steps: this runs per record. */
	if ((p->done & 1023) != 0 && n == 1)
		return;
	t = now_mono_ms();
	if (t - p->last_ms >= PROGRESS_EVERY_MS)
		show(p, t, false);
}

void
progress_end(struct progress *p)
{
	if (p->shown)
		show(p, now_mono_ms(), true);
}
