/*
 * db.h: the accounting database behind one small interface: SQLite
 * (embedded, the default) or PostgreSQL (shared by a fleet).
 *
 * All SQL Loka runs is written once, with '?' placeholders and syntax both
 * engines accept (INSERT ... ON CONFLICT ... DO UPDATE, CTEs, standard
 * types); db_exec() translates placeholders for PostgreSQL ($1, $2, ...).
 * In ON CONFLICT ... DO UPDATE SET, qualify the target's columns
 * (x = submissions.x + excluded.x): PostgreSQL rejects a bare x as
 * ambiguous.
 * Parameters and result values travel as text (NULL for SQL NULL), so a
 * backend is only: open, exec, close. Schema differences between the
 * engines live in the migrations (migrations.c), one SQL text per engine
 * per version, identical in meaning.
 *
 * A struct db is one connection; it is not thread-safe. The store thread
 * owns the one the proxy uses; CLI commands open their own.
 */
#ifndef LOKA_STORE_DB_H
#define LOKA_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_kind {
	DB_SQLITE = 0,
	DB_POSTGRES,
	DB_KIND_MAX
};

struct db;

/*
 * Called once per result row with the column values as text (NULL for SQL
 * NULL) and the column names. Return 0 to go on, non-zero to stop (db_exec
 * then returns 0: stopping early is not an error).
 */
typedef int (*db_row_fn)(void *arg, int ncols, const char *const *values,
    const char *const *names);

/*
 * db_open(url, connect_timeout_ms, err, errlen): connect.
 *   sqlite://PATH     (relative to the working directory; sqlite:///abs)
 *                     opened in WAL mode with a busy timeout; the file is
 *                     created if missing.
 *   postgresql://...  or postgres://..., handed to libpq (multi-host URLs
 *                     with target_session_attrs=read-write give failover
 *                     to a standby); connect_timeout applied.
 * Returns NULL with a message in err. The message never contains the
 * password (URLs are shown masked).
 */
struct db *db_open(const char *url, int64_t connect_timeout_ms, char *err,
    size_t errlen);
void db_close(struct db *db); /* NULL is a no-op */
/* db_open with flags: DB_OPEN_EXISTING never creates a SQLite file (a
 * database that vanished under a running Loka is not made anew). */
#define DB_OPEN_EXISTING 0x1
/* SQLite only: read, never write, journal mode untouched (a backup). */
#define DB_OPEN_READONLY 0x2
struct db *db_open_flags(const char *url, int64_t connect_timeout_ms,
    int flags, char *err, size_t errlen);

enum db_kind db_kind(const struct db *db);
const char *db_kind_name(enum db_kind kind); /* "sqlite", "postgresql" */

/*
 * db_exec(db, sql, params, nparams, fn, arg, err, errlen): run one
 * statement with nparams text parameters bound to its '?' placeholders
 * (none inside string literals, please). fn (may be NULL) sees each row.
 * Returns 0, or -1 with the engine's message in err. A placeholder count
 * that differs from nparams is an error. Without parameters, sql may be a
 * script of several ';'-separated statements (migrations); pass fn NULL
 * then. Floating-point values come back as the shortest text that reads
 * back as the same double, on both engines.
 */
int db_exec(struct db *db, const char *sql, const char *const *params,
    int nparams, db_row_fn fn, void *arg, char *err, size_t errlen);

/* Transactions: BEGIN / COMMIT / ROLLBACK. 0 or -1. */
int db_begin(struct db *db, char *err, size_t errlen);
int db_commit(struct db *db, char *err, size_t errlen);
int db_rollback(struct db *db);

/*
 * db_healthy(db): whether the connection still works (PostgreSQL: the
 * connection status; a lost one is reset). Cheap; for the store thread to
 * decide between writing and spooling.
 */
bool db_healthy(struct db *db);

/*
 * db_check(db, err, errlen): whether this is still the database that was
 * opened: SQLite, the path names the same file (not removed or replaced);
 * PostgreSQL, the connection works. 0, or -1 with a message. Cheap (a
 * stat, or the connection status); the store runs it every second.
 */
int db_check(struct db *db, char *err, size_t errlen);

/*
 * Convenience: the first column of the first row as int64 / text.
 * Returns 0 with the value in *out; 1 when there is no row or the value
 * is SQL NULL (*out untouched by db_query_int, NULL from db_query_text);
 * -1 with a message in err when the statement fails or (db_query_int) the
 * value is not an integer ("3.0" counts as 3). db_query_text's *out is the
 * caller's to free.
 */
int db_query_int(struct db *db, const char *sql, const char *const *params,
    int nparams, int64_t *out, char *err, size_t errlen);
int db_query_text(struct db *db, const char *sql, const char *const *params,
    int nparams, char **out, char *err, size_t errlen);

/*
 * Migrations (migrations.c). Versions are applied in order, each in its own
 * transaction together with its row in schema_migrations(version, name,
 * applied_at). db_migrate() applies the pending ones and returns how many
 * (>= 0), or -1. Safe to run concurrently from several instances on one
 * PostgreSQL (an advisory lock serialises them).
 */
int db_migrate(struct db *db, char *err, size_t errlen);

struct db_migration_info {
	int version;
	const char *name;
	bool applied;
	char applied_at[32]; /* "" when pending */
};
/* Fills up to max entries (all known versions, applied or not); returns the
 * count, or -1. */
int db_migration_status(struct db *db, struct db_migration_info *out,
    size_t max, char *err, size_t errlen);
/* The number of migrations this build knows. */
int db_migration_count(void);
/*
 * db_identity(db, out, outlen, err, errlen): the database's identity, a
 * random id made by migration 2 with the schema (it travels with a
 * backup and a dump, and differs for every database created). 0 with the
 * id in out; 1 when the schema has none (not migrated); -1 with a message.
 */
#define DB_IDENTITY_MAX 64
int db_identity(struct db *db, char *out, size_t outlen, char *err,
    size_t errlen);
/*
 * db_backup_sqlite(url, file, progress, arg, err, errlen): a consistent
 * copy of the SQLite database at url (sqlite://PATH) in file, made while
 * Loka may be writing it (SQLite's online backup), written to file.tmp
 * and renamed when complete. db_restore_sqlite(file, url, ...): the
 * reverse, into the database at url (created if missing); the caller
 * makes sure nothing writes it meanwhile. 0, or -1 with a message (also
 * when url is not SQLite). progress (may be NULL) gets pages done/total.
 */
typedef void (*db_progress_fn)(void *arg, int done, int total);
int db_backup_sqlite(const char *url, const char *file, db_progress_fn
    progress, void *arg, char *err, size_t errlen);
int db_restore_sqlite(const char *file, const char *url, db_progress_fn
    progress, void *arg, char *err, size_t errlen);

/* Drop every Loka table (database reset --yes). */
int db_reset(struct db *db, char *err, size_t errlen);

#endif
