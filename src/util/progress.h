/*
 * progress.h: what a long operation has done so far, every few seconds:
 * journal replays at start, migrations, settlement, backups. A line with
 * the counts and the rate, through the log (or, for a command on a
 * terminal, one line rewritten in place on standard error). Nothing is
 * shown for an operation that ends within PROGRESS_EVERY_MS.
 */
#ifndef LOKA_UTIL_PROGRESS_H
#define LOKA_UTIL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* Between two progress lines. */
#define PROGRESS_EVERY_MS 2000

struct progress {
	const char *what;      /* "replaying the journal" */
	const char *unit;      /* "events" */
	uint64_t total;        /* 0: unknown */
	uint64_t done;
	int64_t start_ms, last_ms;
	bool bar;              /* rewrite one terminal line, not log lines */
	bool shown;
};

/* bar: on a terminal, one line on stderr rewritten in place (commands);
 * else log lines at info (the daemon). */
void progress_begin(struct progress *p, const char *what, const char *unit,
    uint64_t total, bool bar);
void progress_add(struct progress *p, uint64_t n);
/* The last line, when any was shown. */
void progress_end(struct progress *p);

#endif
