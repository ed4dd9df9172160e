/*
 * registry.h: a Prometheus metrics registry (text exposition format 0.0.4).
 *
 * Families are registered at start-up, before worker threads run. Each has a
 * name (loka_*), help text, a type and at most METRICS_LABELS_MAX label
 * names. A series is one combination of label values; a caller looks it up
 * once (metrics_series(), may take the registry mutex) and keeps the
 * returned handle. Updating through a handle takes no lock: relaxed atomics
 * on memory no other series shares a cache line with.
 *
 * Value representation:
 *   counter    uint64_t, atomic fetch-add (integers only: counts, bytes).
 *   gauge      a double stored as its 64 bits; set is a store, add is a
 *              compare-exchange loop.
 *   histogram  one uint64_t per bucket (not cumulative: observe touches one
 *              bucket; render accumulates), the sum a double as bits added
 *              by compare-exchange. _count is the sum of the buckets, so it
 *              always equals the +Inf bucket in one scrape.
 *
 * A family holds at most max_series series (METRICS_SERIES_MAX by default).
 * Past it, a lookup of new label values returns one shared series whose
 * values are all "other", and adds 1 to
 * loka_metrics_dropped_series_total{family="<name>"} (lookups folded, not
 * distinct label sets: the registry does not remember what it refused).
 * Label values longer than METRICS_VALUE_MAX bytes are truncated.
 *
 * Callback families have no series: at scrape time their callback emits
 * values through metrics_sink_value(). The callback runs on the rendering
 * thread with the registry mutex held: it must not call metrics_* functions
 * other than metrics_sink_value().
 *
 * Rendering emits families in registration order, series in creation
 * order.
 */
#ifndef LOKA_METRICS_REGISTRY_H
#define LOKA_METRICS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct metrics_registry;
struct metrics_family;
struct metrics_series;
struct metrics_sink;

enum metrics_type {
	METRICS_COUNTER = 0,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
	METRICS_TYPE_MAX
};

/* Label names per family; enough for {pool, worker, reason}. */
#define METRICS_LABELS_MAX 3
/* Series per family by default: bounds the scrape size and memory when
 * label values come from miners (worker names). */
#define METRICS_SERIES_MAX 1000
/* Histogram bucket bounds, +Inf not counted. */
#define METRICS_BUCKETS_MAX 32
/* Bytes kept of a label value. */
#define METRICS_VALUE_MAX 128

/* A callback family's collector: emits zero or more values into sink. */
typedef void metrics_collect_fn(struct metrics_sink *sink, void *arg);

/*
 * metrics_registry_new(): an empty registry holding only the
 * loka_metrics_dropped_series_total family. Never NULL.
 */
struct metrics_registry *metrics_registry_new(void);

/* metrics_registry_free(reg): frees reg, its families and series; series
 * handles become invalid. NULL is a no-op. */
void metrics_registry_free(struct metrics_registry *reg);

/*
 * metrics_family_new(reg, type, name, help, labels): registers a counter or
 * gauge family (histograms: metrics_histogram_new()). labels is a
 * NULL-terminated array of label names, or NULL for none. Returns NULL if
 * the name or a label name is invalid, a name is duplicated, there are more
 * than METRICS_LABELS_MAX labels or type is METRICS_HISTOGRAM. Strings are
 * copied. A family without labels has its one series from the start (0).
 */
struct metrics_family *metrics_family_new(struct metrics_registry *reg,
    enum metrics_type type, const char *name, const char *help,
    const char *const *labels);

/*
 * metrics_float_counter_new(reg, name, help, labels): a counter whose
 * values are doubles (difficulty sums), updated with
 * metrics_counter_add_double() (a compare-exchange loop).
 */
struct metrics_family *metrics_float_counter_new(struct metrics_registry *reg,
    const char *name, const char *help, const char *const *labels);

/*
 * metrics_histogram_new(reg, name, help, labels, bounds, nbounds): as
 * metrics_family_new() for a histogram with the given upper bounds, which
 * must be finite and strictly increasing, 1 to METRICS_BUCKETS_MAX of them
 * (+Inf is implied). "le" is not allowed as a label name.
 */
struct metrics_family *metrics_histogram_new(struct metrics_registry *reg,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t nbounds);

/*
 * metrics_callback_new(reg, type, name, help, labels, fn, arg): a counter
 * or gauge family whose values fn emits at each render. Same checks as
 * metrics_family_new(); fn must not be NULL. arg is not owned.
 */
struct metrics_family *metrics_callback_new(struct metrics_registry *reg,
    enum metrics_type type, const char *name, const char *help,
    const char *const *labels, metrics_collect_fn *fn, void *arg);

/* One callback family of a table (see metrics_callbacks_register()). */
struct metrics_callback_def {
	enum metrics_type type;
	const char *name, *help;
	const char *const *labels;
	metrics_collect_fn *fn;
};

/*
 * metrics_callbacks_register(reg, defs, n, arg): metrics_callback_new()
 * for each of the n definitions, all with arg. Returns 0, or -1 if one
 * failed (the others are registered).
 */
int metrics_callbacks_register(struct metrics_registry *reg,
    const struct metrics_callback_def *defs, size_t n, void *arg);

/* metrics_family_set_max_series(f, n): the series cap of f (n >= 1); call
 * before any series is created past it. */
void metrics_family_set_max_series(struct metrics_family *f, size_t n);

/*
 * metrics_series(f, values): the series of f with these label values
 * (exactly as many as f has label names; NULL when it has none), created
 * at 0 if new, or the "other" series past the cap. NULL values are taken
 * as "". Returns NULL for a callback family. Thread-safe; takes the
 * registry mutex. The handle lives as long as the registry.
 */
struct metrics_series *metrics_series(struct metrics_family *f,
    const char *const *values);

/* Lock-free updates; a handle of the wrong type is a caller bug (assert). */
void metrics_counter_add(struct metrics_series *s, uint64_t v);
/* Float counters only; v <= 0 (and NaN) is ignored: counters only grow. */
void metrics_counter_add_double(struct metrics_series *s, double v);
void metrics_gauge_set(struct metrics_series *s, double v);
void metrics_gauge_add(struct metrics_series *s, double v);
void metrics_histogram_observe(struct metrics_series *s, double v);

/* Current values, for tests and for code that reads its own metrics. */
uint64_t metrics_counter_value(const struct metrics_series *s);
double metrics_gauge_value(const struct metrics_series *s);

/*
 * metrics_sink_value(sink, values, v): inside a collector, emits one sample
 * of the family with these label values (as in metrics_series()).
 */
void metrics_sink_value(struct metrics_sink *sink, const char *const *values,
    double v);

/*
 * metrics_render(reg, len): the whole registry in the text format 0.0.4,
 * as a NUL-terminated string the caller frees; its length in *len if len
 * is not NULL. Never NULL. Takes the registry mutex; runs the collectors.
 */
char *metrics_render(struct metrics_registry *reg, size_t *len);

/*
 * metrics_register_process(reg): the standard process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds,
 * process_start_time_seconds (read from /proc at scrape time; a value that
 * cannot be read is left out) and loka_build_info{version="..."} 1.
 * Returns 0, or -1 if a name is already registered.
 */
int metrics_register_process(struct metrics_registry *reg);

#endif
