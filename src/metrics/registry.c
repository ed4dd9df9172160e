/*
 * registry.c: the Prometheus metrics registry (see registry.h).
 *
 * Owns the families, their series and the rendering. Threading: one mutex
 * per registry guards the family list and every family's series array
 * (creation, lookup, render). Series are allocated one by one and never
 * moved or freed before the registry, so a handle stays valid without the
 * lock; their values are relaxed atomics. Each series is padded so that
 * the hot values of two series never share a cache line (two threads
 * updating their own series do not bounce a line between cores).
 */
#include "metrics/registry.h"

#include <assert.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xmalloc.h"

#ifndef LOKA_VERSION
#define LOKA_VERSION "unknown"
#endif

/* Cache line size assumed for padding (x86-64, most arm64). */
#define CACHE_LINE 64

struct metrics_series {
	struct metrics_family *f;
	char *values[METRICS_LABELS_MAX];
	_Atomic uint64_t v;        /* counter count, or gauge double bits */
	_Atomic uint64_t sum_bits; /* histogram sum, a double */
	_Atomic uint64_t buckets[]; /* histogram: nbounds + 1 (+Inf) */
};

struct metrics_family {
	struct metrics_registry *reg;
	enum metrics_type type;
	char *name;
	char *help;
	char *labels[METRICS_LABELS_MAX];
	size_t nlabels;
	double bounds[METRICS_BUCKETS_MAX];
	size_t nbounds;
	bool is_float;               /* a counter of doubles (sums) */
	metrics_collect_fn *collect; /* NULL for a family with series */
	void *arg;
	struct metrics_series **series;
	size_t nseries, cap, max_series;
	struct metrics_series *other; /* the folded series, outside the cap */
	struct metrics_family *next;
};

struct metrics_registry {
	pthread_mutex_t lock;
	struct metrics_family *head, *tail;
	struct metrics_family *dropped; /* loka_metrics_dropped_series_total */
};

/* A growable output buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

struct metrics_sink {
	struct metrics_family *f;
	struct buf *b;
};

static void
buf_reserve(struct buf *b, size_t more)
{
	size_t cap;

	if (b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->p = xreallocarray(b->p, cap, 1);
	b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/*
 * A sample value: integers (up to 2^53, where doubles stay exact) without
 * exponent or decimals, others in the shortest of %.15g / %.17g that reads
 * back exactly, specials as Prometheus spells them.
 */
static void
buf_double(struct buf *b, double v)
{
	char s[40];

	if (isnan(v)) {
		buf_str(b, "NaN");
	} else if (isinf(v)) {
		buf_str(b, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
		buf_printf(b, "%" PRId64, (int64_t)v);
	} else {
		snprintf(s, sizeof(s), "%.15g", v);
		if (strtod(s, NULL) != v)
			snprintf(s, sizeof(s), "%.17g", v);
		buf_str(b, s);
	}
}

/* Label value escaping: backslash, double quote and newline. */
static void
buf_escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_add(b, "\\\\", 2);
		else if (*s == '\n')
			buf_add(b, "\\n", 2);
		else if (*s == '"' && quote)
			buf_add(b, "\\\"", 2);
		else
			buf_add(b, s, 1);
	}
}

/* name{l1="v1",...,extra} with extra (e.g. le="1") appended if not NULL. */
static void
buf_labels(struct buf *b, const struct metrics_family *f,
    const char *const *values, const char *extra)
{
	size_t i;

	if (f->nlabels == 0 && extra == NULL)
		return;
	buf_add(b, "{", 1);
	for (i = 0; i < f->nlabels; i++) {
		if (i > 0)
			buf_add(b, ",", 1);
		buf_str(b, f->labels[i]);
		buf_add(b, "=\"", 2);
		buf_escaped(b, values[i], true);
		buf_add(b, "\"", 1);
	}
	if (extra != NULL) {
		if (f->nlabels > 0)
			buf_add(b, ",", 1);
		buf_str(b, extra);
	}
	buf_add(b, "}", 1);
}

static bool
valid_name(const char *s, bool colons)
{
	const char *p;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (p = s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' ||
		    (colons && *p == ':'))
			continue;
		return false;
	}
	return true;
}

static double
bits_to_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t
double_to_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static void
atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old,
	    double_to_bits(bits_to_double(old) + v), memory_order_relaxed,
	    memory_order_relaxed))
		;
}

static struct metrics_series *
series_alloc(struct metrics_family *f, const char *const *values)
{
	struct metrics_series *s;
	size_t nb = f->type == METRICS_HISTOGRAM ? f->nbounds + 1 : 0;
	size_t i;

	/* family_add() refuses more labels. */
	assert(f->nlabels <= METRICS_LABELS_MAX);
	/* The tail pad keeps the next allocation's head off our last line. */
	s = xcalloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]) + CACHE_LINE);
	s->f = f;
	for (i = 0; i < f->nlabels; i++)
		s->values[i] = xstrndup(values[i] ? values[i] : "",
		    METRICS_VALUE_MAX);
	atomic_init(&s->v, f->type == METRICS_GAUGE ? double_to_bits(0.0) : 0);
	atomic_init(&s->sum_bits, double_to_bits(0.0));
	for (i = 0; i < nb; i++)
		atomic_init(&s->buckets[i], 0);
	return s;
}

static void
series_free(struct metrics_series *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < METRICS_LABELS_MAX; i++)
		free(s->values[i]);
	free(s);
}

/* Values match if they agree once truncated to METRICS_VALUE_MAX. */
static bool
series_matches(const struct metrics_series *s, size_t n,
    const char *const *values)
{
	size_t i;

	assert(n <= METRICS_LABELS_MAX);
	if (values == NULL)
		return n == 0;
	for (i = 0; i < n; i++)
		if (strncmp(s->values[i], values[i] ? values[i] : "",
		    METRICS_VALUE_MAX) != 0)
			return false;
	return true;
}

/* Lookup or creation with reg->lock held. */
static struct metrics_series *
series_locked(struct metrics_family *f, const char *const *values)
{
	static const char *const other[METRICS_LABELS_MAX] =
	    { "other", "other", "other" };
	struct metrics_series *s;
	size_t i;

	for (i = 0; i < f->nseries; i++)
		if (series_matches(f->series[i], f->nlabels, values))
			return f->series[i];
	if (f->nseries >= f->max_series) {
		if (f->other == NULL)
			f->other = series_alloc(f, other);
		if (f != f->reg->dropped) {
			const char *name[METRICS_LABELS_MAX] = { f->name };

			s = series_locked(f->reg->dropped, name);
			atomic_fetch_add_explicit(&s->v, 1,
			    memory_order_relaxed);
		}
		return f->other;
	}
	if (f->nseries == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		f->series = xreallocarray(f->series, f->cap,
		    sizeof(*f->series));
	}
	s = series_alloc(f, values);
	f->series[f->nseries++] = s;
	return s;
}

struct metrics_series *
metrics_series(struct metrics_family *f, const char *const *values)
{
	struct metrics_series *s;

	if (f->collect != NULL || (f->nlabels > 0 && values == NULL))
		return NULL;
	pthread_mutex_lock(&f->reg->lock);
	s = series_locked(f, values);
	pthread_mutex_unlock(&f->reg->lock);
	return s;
}

static void
family_free(struct metrics_family *f)
{
	size_t i;

	for (i = 0; i < f->nseries; i++)
		series_free(f->series[i]);
	series_free(f->other);
	free(f->series);
	for (i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
}

static struct metrics_family *
family_add(struct metrics_registry *reg, enum metrics_type type,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t nbounds, metrics_collect_fn *fn, void *arg)
{
	struct metrics_family *f, *g;
	size_t n = 0, i;

	if (type < 0 || type >= METRICS_TYPE_MAX || !valid_name(name, true))
		return NULL;
	for (n = 0; labels != NULL && labels[n] != NULL; n++) {
		if (n == METRICS_LABELS_MAX || !valid_name(labels[n], false) ||
		    strncmp(labels[n], "__", 2) == 0 ||
		    (type == METRICS_HISTOGRAM &&
		    strcmp(labels[n], "le") == 0))
			return NULL;
		for (i = 0; i < n; i++)
			if (strcmp(labels[i], labels[n]) == 0)
				return NULL;
	}
	if (type == METRICS_HISTOGRAM) {
		if (nbounds == 0 || nbounds > METRICS_BUCKETS_MAX)
			return NULL;
		for (i = 0; i < nbounds; i++)
			if (!isfinite(bounds[i]) ||
			    (i > 0 && bounds[i] <= bounds[i - 1]))
				return NULL;
	}

	pthread_mutex_lock(&reg->lock);
	for (g = reg->head; g != NULL; g = g->next)
		if (strcmp(g->name, name) == 0)
			goto err0;
	f = xcalloc(1, sizeof(*f));
	f->reg = reg;
	f->type = type;
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	for (i = 0; i < n; i++)
		f->labels[i] = xstrdup(labels[i]);
	f->nlabels = n;
	for (i = 0; i < nbounds; i++)
		f->bounds[i] = bounds[i];
	f->nbounds = type == METRICS_HISTOGRAM ? nbounds : 0;
	f->collect = fn;
	f->arg = arg;
	f->max_series = METRICS_SERIES_MAX;
	if (fn == NULL && n == 0)
		(void)series_locked(f, NULL);
	if (reg->tail != NULL)
		reg->tail->next = f;
	else
		reg->head = f;
	reg->tail = f;
	pthread_mutex_unlock(&reg->lock);
	return f;
err0:
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

struct metrics_family *
metrics_family_new(struct metrics_registry *reg, enum metrics_type type,
    const char *name, const char *help, const char *const *labels)
{
	if (type == METRICS_HISTOGRAM)
		return NULL;
	return family_add(reg, type, name, help, labels, NULL, 0, NULL, NULL);
}

struct metrics_family *
metrics_float_counter_new(struct metrics_registry *reg, const char *name,
    const char *help, const char *const *labels)
{
	struct metrics_family *f = family_add(reg, METRICS_COUNTER, name, help,
	    labels, NULL, 0, NULL, NULL);

	/* No series of it is updated before this returns. */
	if (f != NULL)
		f->is_float = true;
	return f;
}

struct metrics_family *
metrics_histogram_new(struct metrics_registry *reg, const char *name,
    const char *help, const char *const *labels, const double *bounds,
    size_t nbounds)
{
	return family_add(reg, METRICS_HISTOGRAM, name, help, labels, bounds,
	    nbounds, NULL, NULL);
}

struct metrics_family *
metrics_callback_new(struct metrics_registry *reg, enum metrics_type type,
    const char *name, const char *help, const char *const *labels,
    metrics_collect_fn *fn, void *arg)
{
	if (type == METRICS_HISTOGRAM || fn == NULL)
		return NULL;
	return family_add(reg, type, name, help, labels, NULL, 0, fn, arg);
}

int
metrics_callbacks_register(struct metrics_registry *reg,
    const struct metrics_callback_def *defs, size_t n, void *arg)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (metrics_callback_new(reg, defs[i].type, defs[i].name,
		    defs[i].help, defs[i].labels, defs[i].fn, arg) == NULL)
			rc = -1;
	return rc;
}

void
metrics_family_set_max_series(struct metrics_family *f, size_t n)
{
	pthread_mutex_lock(&f->reg->lock);
	f->max_series = n ? n : 1;
	pthread_mutex_unlock(&f->reg->lock);
}

struct metrics_registry *
metrics_registry_new(void)
{
	static const char *const labels[] = { "family", NULL };
	struct metrics_registry *reg = xcalloc(1, sizeof(*reg));

	pthread_mutex_init(&reg->lock, NULL);
	reg->dropped = family_add(reg, METRICS_COUNTER,
	    "loka_metrics_dropped_series_total",
	    "Series lookups folded into label values \"other\" because "
	    "their family was at its series cap.",
	    labels, NULL, 0, NULL, NULL);
	/* One series per family at most: never folds itself. */
	reg->dropped->max_series = SIZE_MAX;
	return reg;
}

void
metrics_registry_free(struct metrics_registry *reg)
{
	struct metrics_family *f, *next;

	if (reg == NULL)
		return;
	for (f = reg->head; f != NULL; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

void
metrics_counter_add(struct metrics_series *s, uint64_t v)
{
	assert(s->f->type == METRICS_COUNTER && !s->f->is_float);
	atomic_fetch_add_explicit(&s->v, v, memory_order_relaxed);
}

void
metrics_counter_add_double(struct metrics_series *s, double v)
{
	assert(s->f->type == METRICS_COUNTER && s->f->is_float);
	if (v > 0)
		atomic_add_double(&s->v, v);
}

void
metrics_gauge_set(struct metrics_series *s, double v)
{
	assert(s->f->type == METRICS_GAUGE);
	atomic_store_explicit(&s->v, double_to_bits(v), memory_order_relaxed);
}

void
metrics_gauge_add(struct metrics_series *s, double v)
{
	assert(s->f->type == METRICS_GAUGE);
	atomic_add_double(&s->v, v);
}

void
metrics_histogram_observe(struct metrics_series *s, double v)
{
	const struct metrics_family *f = s->f;
	size_t i;

	assert(f->type == METRICS_HISTOGRAM);
	/* Few bounds: a linear scan beats a binary search's branches. NaN
	 * compares false everywhere and lands in +Inf. */
	for (i = 0; i < f->nbounds && !(v <= f->bounds[i]); i++)
		;
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	atomic_add_double(&s->sum_bits, v);
}

uint64_t
metrics_counter_value(const struct metrics_series *s)
{
	return atomic_load_explicit(&((struct metrics_series *)s)->v,
	    memory_order_relaxed);
}

double
metrics_gauge_value(const struct metrics_series *s)
{
	return bits_to_double(atomic_load_explicit(
	    &((struct metrics_series *)s)->v, memory_order_relaxed));
}

void
metrics_sink_value(struct metrics_sink *sink, const char *const *values,
    double v)
{
	char trunc[METRICS_LABELS_MAX][METRICS_VALUE_MAX + 1];
	const char *vals[METRICS_LABELS_MAX];
	size_t i;

	if (sink->f->nlabels > 0 && values == NULL)
		return;
	for (i = 0; i < sink->f->nlabels; i++) {
		snprintf(trunc[i], sizeof(trunc[i]), "%s",
		    values[i] ? values[i] : "");
		vals[i] = trunc[i];
	}
	buf_str(sink->b, sink->f->name);
	buf_labels(sink->b, sink->f, vals, NULL);
	buf_add(sink->b, " ", 1);
	buf_double(sink->b, v);
	buf_add(sink->b, "\n", 1);
}

static void
render_series(struct buf *b, const struct metrics_family *f,
    struct metrics_series *s)
{
	const char *const *vals = (const char *const *)s->values;
	char le[64];
	uint64_t cum = 0;
	size_t i;

	if (f->type != METRICS_HISTOGRAM) {
		uint64_t v = atomic_load_explicit(&s->v, memory_order_relaxed);

		buf_str(b, f->name);
		buf_labels(b, f, vals, NULL);
		if (f->type == METRICS_COUNTER && !f->is_float) {
			buf_printf(b, " %" PRIu64 "\n", v);
		} else {
			buf_add(b, " ", 1);
			buf_double(b, bits_to_double(v));
			buf_add(b, "\n", 1);
		}
		return;
	}
	for (i = 0; i <= f->nbounds; i++) {
		struct buf lb = { 0 };

		cum += atomic_load_explicit(&s->buckets[i],
		    memory_order_relaxed);
		if (i < f->nbounds) {
			buf_double(&lb, f->bounds[i]);
			snprintf(le, sizeof(le), "le=\"%s\"", lb.p);
		} else {
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		}
		free(lb.p);
		buf_printf(b, "%s_bucket", f->name);
		buf_labels(b, f, vals, le);
		buf_printf(b, " %" PRIu64 "\n", cum);
	}
	buf_printf(b, "%s_sum", f->name);
	buf_labels(b, f, vals, NULL);
	buf_add(b, " ", 1);
	buf_double(b, bits_to_double(atomic_load_explicit(&s->sum_bits,
	    memory_order_relaxed)));
	buf_printf(b, "\n%s_count", f->name);
	buf_labels(b, f, vals, NULL);
	buf_printf(b, " %" PRIu64 "\n", cum);
}

char *
metrics_render(struct metrics_registry *reg, size_t *len)
{
	static const char *const types[METRICS_TYPE_MAX] =
	    { "counter", "gauge", "histogram" };
	struct buf b = { 0 };
	struct metrics_family *f;
	size_t i;

	buf_reserve(&b, 0);
	b.p[0] = '\0';
	pthread_mutex_lock(&reg->lock);
	for (f = reg->head; f != NULL; f = f->next) {
		buf_printf(&b, "# HELP %s ", f->name);
		buf_escaped(&b, f->help, false);
		buf_printf(&b, "\n# TYPE %s %s\n", f->name, types[f->type]);
		if (f->collect != NULL) {
			struct metrics_sink sink = { f, &b };

			f->collect(&sink, f->arg);
			continue;
		}
		for (i = 0; i < f->nseries; i++)
			render_series(&b, f, f->series[i]);
		if (f->other != NULL)
			render_series(&b, f, f->other);
	}
	pthread_mutex_unlock(&reg->lock);
	if (len != NULL)
		*len = b.len;
	return b.p;
}

/* Process metrics, read from /proc at scrape time. */

/* Fields of /proc/self/stat after the command name: state is field 3. */
static int
proc_stat(unsigned long *utime, unsigned long *stime,
    unsigned long long *start)
{
	char line[1024], *p;
	FILE *fp = fopen("/proc/self/stat", "r");
	size_t n;

	if (fp == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the
	 * last ')'. */
	if ((p = strrchr(line, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu %*d %*d %*d %*d %*d %*d %llu", utime, stime, start) != 3)
		return -1;
	return 0;
}

static void
collect_cpu(struct metrics_sink *sink, void *arg)
{
	unsigned long ut, st;
	unsigned long long start;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz > 0 && proc_stat(&ut, &st, &start) == 0)
		metrics_sink_value(sink, NULL, (double)(ut + st) / (double)hz);
}

static void
collect_start(struct metrics_sink *sink, void *arg)
{
	unsigned long ut, st;
	unsigned long long start, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	char line[256];
	FILE *fp;
	bool found = false;

	if (hz <= 0 || proc_stat(&ut, &st, &start) != 0)
		return;
	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "btime %llu", &btime) == 1) {
			found = true;
			break;
		}
	fclose(fp);
	if (found)
		metrics_sink_value(sink, NULL,
		    (double)btime + (double)start / (double)hz);
}

static void
collect_rss(struct metrics_sink *sink, void *arg)
{
	unsigned long size, rss;
	long page = sysconf(_SC_PAGESIZE);
	FILE *fp = fopen("/proc/self/statm", "r");
	int n;

	if (fp == NULL)
		return;
	n = fscanf(fp, "%lu %lu", &size, &rss);
	fclose(fp);
	if (n == 2 && page > 0)
		metrics_sink_value(sink, NULL, (double)rss * (double)page);
}

static void
collect_fds(struct metrics_sink *sink, void *arg)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* Less the descriptor opendir() held while counting. */
	metrics_sink_value(sink, NULL, (double)(n > 0 ? n - 1 : 0));
}

static void
collect_threads(struct metrics_sink *sink, void *arg)
{
	char line[256];
	FILE *fp = fopen("/proc/self/status", "r");
	long n = -1;

	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(fp);
	if (n >= 0)
		metrics_sink_value(sink, NULL, (double)n);
}

int
metrics_register_process(struct metrics_registry *reg)
{
	static const char *const vlabel[] = { "version", NULL };
	const char *version[METRICS_LABELS_MAX] = { LOKA_VERSION };
	struct metrics_family *f;

	if (metrics_callback_new(reg, METRICS_COUNTER,
	    "process_cpu_seconds_total",
	    "Total user and system CPU time spent in seconds.", NULL,
	    collect_cpu, NULL) == NULL ||
	    metrics_callback_new(reg, METRICS_GAUGE,
	    "process_resident_memory_bytes", "Resident memory size in bytes.",
	    NULL, collect_rss, NULL) == NULL ||
	    metrics_callback_new(reg, METRICS_GAUGE, "process_open_fds",
	    "Number of open file descriptors.", NULL, collect_fds,
	    NULL) == NULL ||
	    metrics_callback_new(reg, METRICS_GAUGE, "process_threads",
	    "Number of OS threads in the process.", NULL, collect_threads,
	    NULL) == NULL ||
	    metrics_callback_new(reg, METRICS_GAUGE,
	    "process_start_time_seconds",
	    "Start time of the process since unix epoch in seconds.", NULL,
	    collect_start, NULL) == NULL)
		return -1;
	f = metrics_family_new(reg, METRICS_GAUGE, "loka_build_info",
	    "Loka's version; the value is always 1.", vlabel);
	if (f == NULL)
		return -1;
	metrics_gauge_set(metrics_series(f, version), 1);
	return 0;
}
