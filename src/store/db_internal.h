/*
 * db_internal.h: what db.c shares with its two backends (db_sqlite.c,
 * db_postgres.c) and with the unit test. Nothing outside src/store/db*.c
 * includes this.
 *
 * db.c owns the URL dispatch, placeholder handling and error hygiene; a
 * backend only opens, runs one statement (or, without parameters, a script)
 * with text parameters, and closes.
 */
#ifndef LOKA_STORE_DB_INTERNAL_H
#define LOKA_STORE_DB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

struct db_sqlite;
struct db_pg;

/*
 * db_errf(err, errlen, fmt, ...): format a message into err (NULL or
 * errlen 0: ignored), cut to fit, with newlines and tabs folded into
 * spaces and trailing white space removed (engine messages are
 * multi-line; log lines are not).
 */
void db_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * db_placeholders(sql, out): count the '?' placeholders of sql outside
 * string literals ('...', E'...', $tag$...$tag$), quoted identifiers and
 * comments. If out is not NULL, *out receives a new copy of sql with them
 * numbered $1, $2, ... (PostgreSQL); the caller frees it. Returns the
 * count.
 */
int db_placeholders(const char *sql, char **out);

/* SQLite (db_sqlite.c). path is a file name or ":memory:"; create: make
 * the file when it is missing; readonly: only read it, and leave its
 * journal mode alone (a backup file stays one file). */
struct db_sqlite *db_sqlite_open(const char *path, int64_t busy_timeout_ms,
    bool create, bool readonly, char *err, size_t errlen);
/* 0 while path still names the file that was opened; -1 with a message
 * when it was removed or replaced. */
int db_sqlite_check(struct db_sqlite *s, char *err, size_t errlen);
/* Without parameters sql may hold several statements (a script). */
int db_sqlite_exec(struct db_sqlite *s, const char *sql,
    const char *const *params, int nparams, db_row_fn fn, void *arg,
    char *err, size_t errlen);
void db_sqlite_close(struct db_sqlite *s);
/* Copy the SQLite database `from` into `to` with SQLite's online backup
 * (consistent while another process writes `from`); to_live: `to` is a
 * database in use (a restore), else a standalone file (no WAL). */
int db_sqlite_copy(const char *from, const char *to, bool to_live,
    db_progress_fn progress, void *arg, char *err, size_t errlen);

/* PostgreSQL (db_postgres.c). sql already uses $n placeholders. */
struct db_pg *db_pg_open(const char *url, int64_t connect_timeout_ms,
    char *err, size_t errlen);
int db_pg_exec(struct db_pg *p, const char *sql, const char *const *params,
    int nparams, db_row_fn fn, void *arg, char *err, size_t errlen);
bool db_pg_healthy(struct db_pg *p);
/* Whether the connection is up, without trying to reconnect. */
bool db_pg_connected(struct db_pg *p);
void db_pg_close(struct db_pg *p);

#endif
