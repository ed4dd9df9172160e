/*
 * db_sqlite.c: the SQLite backend of db.h (see db_internal.h).
 *
 * Opened in WAL mode (readers never wait for the writer), synchronous =
 * NORMAL (a commit survives a crash of Loka; a power cut may lose the last
 * transactions, which the journal replays), foreign keys enforced, and a
 * busy timeout so that a CLI command and the proxy can share the file.
 *
 * The store thread runs the same few statements thousands of times a
 * minute, so single statements stay prepared in a small cache keyed by
 * their SQL text (least recently used one evicted). A statement is always
 * reset after use, so a cached one holds no lock and no snapshot.
 *
 * One struct db_sqlite is used by one thread at a time (opened NOMUTEX).
 */
#include <sqlite3.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/db_internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Enough for every statement the store thread and settlement repeat. */
#define SQ_CACHE_SIZE 32
/* Result columns handled without an allocation. */
#define SQ_STACK_COLS 16
/* Room for the shortest round-trip text of a double ("%.17g"). */
#define SQ_DOUBLE_LEN 32
/* Busy timeout when the caller gives none. */
#define SQ_DEFAULT_BUSY_MS 5000

struct sq_cached {
	char *sql; /* NULL: free slot */
	uint64_t hash;
	sqlite3_stmt *stmt;
	uint64_t used; /* LRU clock */
	bool busy;     /* running now (a row callback may re-enter) */
};

struct db_sqlite {
	sqlite3 *db;
	char *path;
	bool has_file;   /* a file (not :memory:): dev and ino below */
	dev_t dev;
	ino_t ino;
	struct sq_cached cache[SQ_CACHE_SIZE];
	uint64_t clock;
};

static uint64_t
sq_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct sq_cached *
cache_find(struct db_sqlite *s, const char *sql, uint64_t hash)
{
	for (size_t i = 0; i < SQ_CACHE_SIZE; i++) {
		struct sq_cached *c = &s->cache[i];

		if (c->sql != NULL && c->hash == hash && !c->busy &&
		    strcmp(c->sql, sql) == 0) {
			c->used = ++s->clock;
			return c;
		}
	}
	return NULL;
}

/* Keep stmt for sql; finalizes it instead when every slot is running. */
static void
cache_put(struct db_sqlite *s, const char *sql, uint64_t hash,
    sqlite3_stmt *stmt)
{
	struct sq_cached *victim = NULL;

	for (size_t i = 0; i < SQ_CACHE_SIZE; i++) {
		struct sq_cached *c = &s->cache[i];

		if (c->busy)
			continue;
		if (c->sql == NULL) {
			victim = c;
			break;
		}
		if (victim == NULL || c->used < victim->used)
			victim = c;
	}
	if (victim == NULL) {
		sqlite3_finalize(stmt);
		return;
	}
	if (victim->sql != NULL) {
		sqlite3_finalize(victim->stmt);
		free(victim->sql);
	}
	victim->sql = xstrdup(sql);
	victim->hash = hash;
	victim->stmt = stmt;
	victim->used = ++s->clock;
	victim->busy = false;
}

/* The shortest text that reads back as d (what PostgreSQL prints too). */
static void
format_double(char *buf, size_t len, double d)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (!isfinite(d) || strtod(buf, NULL) == d)
			return;
	}
}

/*
 * Bind, step through the rows, reset. *stop is set when fn asked to stop.
 * Returns 0 or -1 (message in err).
 */
static int
sq_run(struct db_sqlite *s, sqlite3_stmt *st, const char *const *params,
    int nparams, db_row_fn fn, void *arg, bool *stop, char *err,
    size_t errlen)
{
	const char *vstack[SQ_STACK_COLS], *nstack[SQ_STACK_COLS];
	char dstack[SQ_STACK_COLS][SQ_DOUBLE_LEN];
	const char **values = vstack, **names = nstack;
	char (*dbuf)[SQ_DOUBLE_LEN] = dstack;
	int ncols, rc, ret = 0;

	if (sqlite3_bind_parameter_count(st) != nparams) {
		db_errf(err, errlen, "statement has %d parameters, %d given",
		    sqlite3_bind_parameter_count(st), nparams);
		return -1;
	}
	for (int i = 0; i < nparams; i++) {
		/* SQLITE_STATIC: params outlive the statement's use here. */
		rc = params[i] == NULL ? sqlite3_bind_null(st, i + 1) :
		    sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			db_errf(err, errlen, "%s", sqlite3_errmsg(s->db));
			ret = -1;
			goto out;
		}
	}
	ncols = sqlite3_column_count(st);
	if (ncols > SQ_STACK_COLS) {
		values = xcalloc((size_t)ncols, sizeof(*values));
		names = xcalloc((size_t)ncols, sizeof(*names));
		dbuf = xcalloc((size_t)ncols, sizeof(*dbuf));
	}
	for (;;) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			db_errf(err, errlen, "%s", sqlite3_errmsg(s->db));
			ret = -1;
			break;
		}
		if (fn == NULL || *stop)
			continue;
		for (int i = 0; i < ncols; i++) {
			names[i] = sqlite3_column_name(st, i);
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				values[i] = NULL;
				break;
			case SQLITE_FLOAT:
				format_double(dbuf[i], SQ_DOUBLE_LEN,
				    sqlite3_column_double(st, i));
				values[i] = dbuf[i];
				break;
			default:
				values[i] = (const char *)
				    sqlite3_column_text(st, i);
				if (values[i] == NULL) {
					db_errf(err, errlen, "out of memory "
					    "reading a column");
					ret = -1;
					goto out;
				}
				break;
			}
		}
		if (fn(arg, ncols, values, names) != 0) {
			*stop = true;
			break;
		}
	}
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (values != vstack) {
		free(values);
		free(names);
		free(dbuf);
	}
	return ret;
}

/* Whether p holds nothing but white space, ';' and comments. */
static bool
only_blank(const char *p)
{
	while (*p != '\0') {
		if (strchr(" \t\n\r;", *p) != NULL) {
			p++;
		} else if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");

			if (e == NULL)
				return false; /* let SQLite report it */
			p = e + 2;
		} else {
			return false;
		}
	}
	return true;
}

int
db_sqlite_exec(struct db_sqlite *s, const char *sql,
    const char *const *params, int nparams, db_row_fn fn, void *arg,
    char *err, size_t errlen)
{
	uint64_t hash = sq_hash(sql);
	struct sq_cached *c = cache_find(s, sql, hash);
	const char *p = sql, *tail;
	bool stop = false, first = true;
	int rc;

	if (c != NULL) {
		c->busy = true;
		rc = sq_run(s, c->stmt, params, nparams, fn, arg, &stop, err,
		    errlen);
		c->busy = false;
		return rc;
	}
	while (!only_blank(p)) {
		sqlite3_stmt *st = NULL;
		bool single;

		if (sqlite3_prepare_v2(s->db, p, -1, &st, &tail) !=
		    SQLITE_OK) {
			db_errf(err, errlen, "%s", sqlite3_errmsg(s->db));
			return -1;
		}
		if (st == NULL) { /* a comment */
			p = tail;
			continue;
		}
		single = first && only_blank(tail);
		if (!single && nparams > 0) {
			sqlite3_finalize(st);
			db_errf(err, errlen, "parameters need a single "
			    "statement");
			return -1;
		}
		/* A script's later statements see no rows once fn stopped. */
		rc = sq_run(s, st, params, nparams, stop ? NULL : fn, arg,
		    &stop, err, errlen);
		if (single)
			cache_put(s, sql, hash, st);
		else
			sqlite3_finalize(st);
		if (rc != 0)
			return -1;
		first = false;
		p = tail;
	}
	return 0;
}

struct pragma_value {
	char text[32];
};

static int
pragma_row(void *arg, int ncols, char **values, char **names)
{
	struct pragma_value *v = arg;

	(void)names;
	if (ncols > 0 && values[0] != NULL)
		snprintf(v->text, sizeof(v->text), "%s", values[0]);
	return 0;
}

static int
pragma(sqlite3 *h, const char *sql, struct pragma_value *v, char *err,
    size_t errlen)
{
	char *msg = NULL;

	if (v != NULL)
		v->text[0] = '\0';
	if (sqlite3_exec(h, sql, v != NULL ? pragma_row : NULL, v, &msg) !=
	    SQLITE_OK) {
		db_errf(err, errlen, "%s", msg != NULL ? msg :
		    sqlite3_errmsg(h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct db_sqlite *
db_sqlite_open(const char *path, int64_t busy_timeout_ms, bool create,
    bool readonly, char *err, size_t errlen)
{
	struct db_sqlite *s;
	struct pragma_value v;
	struct stat st;
	sqlite3 *h = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &h, (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)) |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_errf(err, errlen, "%s", h != NULL ? sqlite3_errmsg(h) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(h, 1);
	if (busy_timeout_ms <= 0)
		busy_timeout_ms = SQ_DEFAULT_BUSY_MS;
	if (busy_timeout_ms > INT32_MAX)
		busy_timeout_ms = INT32_MAX;
	sqlite3_busy_timeout(h, (int)busy_timeout_ms);
	/* The first read: a file that is not a database fails here. */
	if (readonly) {
		if (pragma(h, "PRAGMA schema_version", &v, err, errlen) != 0)
			goto fail;
		goto opened;
	}
	if (pragma(h, "PRAGMA journal_mode = WAL", &v, err, errlen) != 0)
		goto fail;
	if (strcmp(v.text, "wal") != 0 && strcmp(v.text, "memory") != 0)
		log_warnx("store", "sqlite: %s: WAL journal mode refused "
		    "(got \"%s\"): readers will wait for writers", path,
		    v.text);
	if (pragma(h, "PRAGMA synchronous = NORMAL", NULL, err, errlen) != 0 ||
	    pragma(h, "PRAGMA foreign_keys = ON", NULL, err, errlen) != 0 ||
	    pragma(h, "PRAGMA foreign_keys", &v, err, errlen) != 0)
		goto fail;
	if (strcmp(v.text, "1") != 0) {
		db_errf(err, errlen, "this SQLite cannot enforce foreign keys");
		goto fail;
	}
opened:
	s = xcalloc(1, sizeof(*s));
	s->db = h;
	s->path = xstrdup(path);
	/* The file as it is now: a later check tells whether the path still
	 * names it (an operator may delete or replace it under Loka). */
	if (strcmp(path, ":memory:") != 0 && path[0] != '\0' &&
	    stat(path, &st) == 0) {
		s->has_file = true;
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	return s;
fail:
	sqlite3_close_v2(h);
	return NULL;
}

void
db_sqlite_close(struct db_sqlite *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < SQ_CACHE_SIZE; i++) {
		if (s->cache[i].sql == NULL)
			continue;
		sqlite3_finalize(s->cache[i].stmt);
		free(s->cache[i].sql);
	}
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

int
db_sqlite_check(struct db_sqlite *s, char *err, size_t errlen)
{
	struct stat st;

	if (!s->has_file)
		return 0;
	if (stat(s->path, &st) != 0) {
		db_errf(err, errlen, "the database file %s is gone (%s)",
		    s->path, strerror(errno));
		return -1;
	}
	if (st.st_dev != s->dev || st.st_ino != s->ino) {
		db_errf(err, errlen, "the database file %s was replaced by "
		    "another file", s->path);
		return -1;
	}
	return 0;
}

/* Pages copied per step: small steps let Loka's writes in between. */
#define SQ_BACKUP_PAGES 256

int
db_sqlite_copy(const char *from, const char *to, bool to_live,
    db_progress_fn progress, void *arg, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		db_errf(err, errlen, "%s: %s", from, src != NULL ?
		    sqlite3_errmsg(src) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(src, SQ_DEFAULT_BUSY_MS);
	if (sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		db_errf(err, errlen, "%s: %s", to, dst != NULL ?
		    sqlite3_errmsg(dst) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(dst, SQ_DEFAULT_BUSY_MS);
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL) {
		db_errf(err, errlen, "%s", sqlite3_errmsg(dst));
		goto fail;
	}
	do {
		rc = sqlite3_backup_step(b, SQ_BACKUP_PAGES);
		if (progress != NULL)
			progress(arg, sqlite3_backup_pagecount(b) -
			    sqlite3_backup_remaining(b),
			    sqlite3_backup_pagecount(b));
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(10);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		db_errf(err, errlen, "copying %s to %s: %s", from, to,
		    sqlite3_errstr(rc));
		goto fail;
	}
	/* A backup file stands alone: no -wal beside it. */
	if (!to_live && sqlite3_exec(dst, "PRAGMA journal_mode = DELETE",
	    NULL, NULL, NULL) != SQLITE_OK) {
		db_errf(err, errlen, "%s: %s", to, sqlite3_errmsg(dst));
		goto fail;
	}
	sqlite3_close_v2(src);
	if (sqlite3_close_v2(dst) != SQLITE_OK) {
		db_errf(err, errlen, "%s: cannot close", to);
		return -1;
	}
	return 0;
fail:
	sqlite3_close_v2(src);
	sqlite3_close_v2(dst);
	return -1;
}
