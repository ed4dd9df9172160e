/*
 * stats.c: loka-poolsim's counters and its JSON summary file (see
 * poolsim.h).
 *
 * Workers are kept in an open-addressing hash table keyed by name (FNV-1a,
 * linear probing, doubled at half load) and in an array in creation order
 * for the summary, which sorts a copy. The table's size is capped by
 * STATS_WORKERS_MAX; names are capped by the caller (pool.c).
 *
 * The summary is written on the event loop thread: it is a test tool's
 * occasional, small write, asked for by a signal.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "poolsim.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define STATS_TABLE_INITIAL	64

struct stats_worker {
	char		*name;
	uint64_t	 accepted;
	uint64_t	 rejected;
	double		 accepted_difficulty;
};

struct stats {
	uint64_t	 connections_total;
	uint64_t	 connections_open;
	uint64_t	 subscribes;
	uint64_t	 accepted;
	uint64_t	 rejected;
	double		 accepted_difficulty;
	uint64_t	 reasons[STATS_REJ_MAX];
	uint64_t	 version_rolled_accepted;

	struct stats_worker **table;	/* hash table, NULL = empty slot */
	size_t		 table_cap;	/* a power of two */
	struct stats_worker **workers;	/* creation order */
	size_t		 nworkers;
	size_t		 workers_cap;
};

/* The summary's names for enum stats_reject. */
static const char *const stats_reject_names[STATS_REJ_MAX] = {
	[STATS_REJ_UNAUTHORIZED] = "unauthorized",
	[STATS_REJ_NOT_SUBSCRIBED] = "not_subscribed",
	[STATS_REJ_STALE] = "stale",
	[STATS_REJ_DUPLICATE] = "duplicate",
	[STATS_REJ_MALFORMED] = "malformed",
	[STATS_REJ_LOW_DIFFICULTY] = "low_difficulty",
	[STATS_REJ_OTHER] = "other",
};

static size_t
stats_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ h >> 32);
}

/* The slot holding name, or the empty slot where it would go. */
static size_t
stats_slot(struct stats_worker *const *table, size_t cap, const char *name)
{
	size_t i = stats_hash(name) & (cap - 1);

	while (table[i] != NULL && strcmp(table[i]->name, name) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static void
stats_grow(struct stats *s)
{
	size_t cap = s->table_cap * 2;
	struct stats_worker **t = xcalloc(cap, sizeof(t[0]));

	for (size_t i = 0; i < s->nworkers; i++)
		t[stats_slot(t, cap, s->workers[i]->name)] = s->workers[i];
	free(s->table);
	s->table = t;
	s->table_cap = cap;
}

struct stats *
stats_new(void)
{
	struct stats *s = xcalloc(1, sizeof(*s));

	s->table_cap = STATS_TABLE_INITIAL;
	s->table = xcalloc(s->table_cap, sizeof(s->table[0]));
	return s;
}

void
stats_free(struct stats *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nworkers; i++) {
		free(s->workers[i]->name);
		free(s->workers[i]);
	}
	free(s->workers);
	free(s->table);
	free(s);
}

void
stats_conn_open(struct stats *s)
{
	s->connections_total++;
	s->connections_open++;
}

void
stats_conn_close(struct stats *s)
{
	s->connections_open--;
}

void
stats_subscribe(struct stats *s)
{
	s->subscribes++;
}

struct stats_worker *
stats_worker(struct stats *s, const char *name)
{
	struct stats_worker *w;
	size_t i = stats_slot(s->table, s->table_cap, name);

	if (s->table[i] != NULL)
		return s->table[i];
	if (s->nworkers >= STATS_WORKERS_MAX)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->name = xstrdup(name);
	s->table[i] = w;
	if (s->nworkers == s->workers_cap) {
		s->workers_cap = s->workers_cap ? 2 * s->workers_cap : 64;
		s->workers = xreallocarray(s->workers, s->workers_cap,
		    sizeof(s->workers[0]));
	}
	s->workers[s->nworkers++] = w;
	if (s->nworkers * 2 > s->table_cap)
		stats_grow(s);
	return w;
}

const char *
stats_worker_name(const struct stats_worker *w)
{
	return w->name;
}

void
stats_accept(struct stats *s, struct stats_worker *w, double diff,
    bool rolled)
{
	s->accepted++;
	s->accepted_difficulty += diff;
	if (rolled)
		s->version_rolled_accepted++;
	if (w != NULL) {
		w->accepted++;
		w->accepted_difficulty += diff;
	}
}

void
stats_reject(struct stats *s, struct stats_worker *w, enum stats_reject why)
{
	if ((unsigned)why >= STATS_REJ_MAX)
		why = STATS_REJ_OTHER;
	s->rejected++;
	s->reasons[why]++;
	if (w != NULL)
		w->rejected++;
}

static int
stats_cmp_name(const void *a, const void *b)
{
	const struct stats_worker *const *wa = a, *const *wb = b;

	return strcmp((*wa)->name, (*wb)->name);
}

static json_t *
stats_json(const struct stats *s)
{
	struct stats_worker **sorted;
	json_t *root, *names, *reasons, *workers;

	sorted = xreallocarray(NULL, s->nworkers ? s->nworkers : 1,
	    sizeof(sorted[0]));
	if (s->nworkers > 0)
		memcpy(sorted, s->workers, s->nworkers * sizeof(sorted[0]));
	qsort(sorted, s->nworkers, sizeof(sorted[0]), stats_cmp_name);

	names = json_array();
	workers = json_object();
	reasons = json_object();
	for (size_t i = 0; i < s->nworkers; i++) {
		const struct stats_worker *w = sorted[i];

		json_array_append_new(names, json_string(w->name));
		json_object_set_new(workers, w->name, json_pack("{s:I,s:I,s:f}",
		    "accepted", (json_int_t)w->accepted,
		    "rejected", (json_int_t)w->rejected,
		    "accepted_difficulty", w->accepted_difficulty));
	}
	for (size_t i = 0; i < STATS_REJ_MAX; i++)
		json_object_set_new(reasons, stats_reject_names[i],
		    json_integer((json_int_t)s->reasons[i]));
	free(sorted);

	root = json_pack("{s:I,s:I,s:I,s:o,s:I,s:I,s:f,s:o,s:I,s:o}",
	    "connections_total", (json_int_t)s->connections_total,
	    "connections_open", (json_int_t)s->connections_open,
	    "subscribes", (json_int_t)s->subscribes,
	    "authorize_names", names,
	    "accepted", (json_int_t)s->accepted,
	    "rejected", (json_int_t)s->rejected,
	    "accepted_difficulty", s->accepted_difficulty,
	    "rejected_reasons", reasons,
	    "version_rolled_accepted", (json_int_t)s->version_rolled_accepted,
	    "workers", workers);
	return root;
}

int
stats_write(const struct stats *s, const char *path)
{
	json_t *root = stats_json(s);
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = NULL;
	int rc = -1;
	struct stat st;

	/* Not a regular file (a pipe, /dev/stdout): write it in place; a
	 * rename would replace the device node. */
	if (root != NULL && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		rc = json_dump_file(root, path, JSON_INDENT(2)) == -1 ? -1 : 0;
		goto out;
	}
	if (root == NULL) {
		log_errorx("poolsim", "cannot build the summary");
		goto out;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		log_error("poolsim", "summary %s", tmp);
		goto out;
	}
	if (json_dumpf(root, f, JSON_INDENT(2)) == -1 || fputc('\n', f) == EOF
	    || fflush(f) == EOF || fsync(fileno(f)) == -1) {
		log_error("poolsim", "summary %s", tmp);
		goto out;
	}
	if (fclose(f) == EOF) {
		f = NULL;
		log_error("poolsim", "summary %s", tmp);
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) == -1) {
		log_error("poolsim", "summary: rename to %s", path);
		goto out;
	}
	log_info("poolsim", "summary written to %s: %llu accepted, "
	    "%llu rejected", path, (unsigned long long)s->accepted,
	    (unsigned long long)s->rejected);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (rc == -1)
		unlink(tmp);
	free(tmp);
	json_decref(root);
	return rc;
}
