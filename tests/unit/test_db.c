/*
 * test_db.c: the database layer as the store and the CLI see it. The same
 * checks run on SQLite (a temporary file) and, when LOKA_TEST_PG_URL is
 * set, on PostgreSQL (in a schema of its own, dropped at the end, so that
 * other tests may share the database); without it those are skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "store/db.h"
#include "store/db_internal.h"
#include "util/xmalloc.h"

struct engine {
	const char *name;
	char *url;      /* NULL: engine not available, tests skip */
	struct db *db;  /* per test */
	char err[512];
};

static struct engine sqlite_engine = { .name = "sqlite" };
static struct engine pg_engine = { .name = "postgresql" };
static char sqlite_dir[64];
static char pg_schema[32];

/* ---- helpers */

static void
exec_ok(struct engine *e, const char *sql, const char *const *p, int n)
{
	e->err[0] = '\0';
	if (db_exec(e->db, sql, p, n, NULL, NULL, e->err,
	    sizeof(e->err)) != 0)
		fail_msg("%s: %s: %s", e->name, sql, e->err);
}

static int64_t
query_int(struct engine *e, const char *sql, const char *const *p, int n)
{
	int64_t v = -12345;
	int rc = db_query_int(e->db, sql, p, n, &v, e->err, sizeof(e->err));

	if (rc != 0)
		fail_msg("%s: %s: rc %d: %s", e->name, sql, rc, e->err);
	return v;
}

static char *
query_text(struct engine *e, const char *sql, const char *const *p, int n)
{
	char *v = NULL;
	int rc = db_query_text(e->db, sql, p, n, &v, e->err, sizeof(e->err));

	if (rc != 0)
		fail_msg("%s: %s: rc %d: %s", e->name, sql, rc, e->err);
	return v;
}

static void
assert_text(struct engine *e, const char *sql, const char *const *p, int n,
    const char *want)
{
	char *v = query_text(e, sql, p, n);

	assert_string_equal(v, want);
	free(v);
}

static int
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

/* A migrated, empty schema. */
static void
fresh(struct engine *e)
{
	if (db_reset(e->db, e->err, sizeof(e->err)) != 0)
		fail_msg("%s: reset: %s", e->name, e->err);
	if (db_migrate(e->db, e->err, sizeof(e->err)) != db_migration_count())
		fail_msg("%s: migrate: %s", e->name, e->err);
}

/* pool "p1" (id returned), miner "m1", worker "w1". */
static int64_t
add_worker(struct engine *e)
{
	exec_ok(e, "INSERT INTO pools (name, host, port, username, password, "
	    "sep1, sep2, updated_at) VALUES ('p1', 'pool.example', 3333, "
	    "'acct', NULL, '.', '_', 1)", NULL, 0);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES ('m1', 1)",
	    NULL, 0);
	exec_ok(e, "INSERT INTO workers (pool_id, miner_id, name, first_seen, "
	    "last_seen) SELECT p.id, m.id, 'w1', 1, 1 FROM pools p, miners m "
	    "WHERE p.name = 'p1' AND m.name = 'm1'", NULL, 0);
	return query_int(e, "SELECT id FROM workers WHERE name = 'w1'", NULL,
	    0);
}

/* ---- per-test setup: open, or skip when the engine is absent */

static int
engine_setup(void **state)
{
	struct engine *e = *state;

	if (e->url == NULL)
		return 0;
	e->db = db_open(e->url, 5000, e->err, sizeof(e->err));
	if (e->db == NULL) {
		print_error("%s: db_open: %s\n", e->name, e->err);
		return -1;
	}
	return 0;
}

static int
engine_teardown(void **state)
{
	struct engine *e = *state;

	db_close(e->db);
	e->db = NULL;
	return 0;
}

static struct engine *
engine(void **state)
{
	struct engine *e = *state;

	if (e->url == NULL)
		skip();
	return e;
}

/* ---- the checks, on each engine */

static void
test_migrate(void **state)
{
	struct engine *e = engine(state);
	struct db_migration_info info[8];
	static const char *const tables[] = { "pools", "miners", "workers",
		"submissions", "share_log", "earnings", "distributions",
		"store_progress" };
	char sql[128];
	int n;

	assert_int_equal(db_reset(e->db, e->err, sizeof(e->err)), 0);
	assert_int_equal(db_kind(e->db), strcmp(e->name, "sqlite") == 0 ?
	    DB_SQLITE : DB_POSTGRES);
	assert_string_equal(db_kind_name(db_kind(e->db)), e->name);

	/* Empty database: everything pending, and status creates nothing. */
	n = db_migration_status(e->db, info, 8, e->err, sizeof(e->err));
	assert_int_equal(n, db_migration_count());
	assert_int_equal(n, 4);
	assert_int_equal(info[0].version, 1);
	assert_string_equal(info[0].name, "accounting schema");
	assert_false(info[0].applied);
	assert_string_equal(info[0].applied_at, "");
	assert_int_equal(info[1].version, 2);
	assert_string_equal(info[1].name, "database identity");
	assert_int_equal(info[2].version, 3);
	assert_string_equal(info[2].name, "history rollups");
	assert_int_equal(info[3].version, 4);
	assert_string_equal(info[3].name, "pool-accepted counts");
	assert_int_equal(db_exec(e->db, "SELECT COUNT(*) FROM "
	    "schema_migrations", NULL, 0, NULL, NULL, e->err,
	    sizeof(e->err)), -1);

	assert_int_equal(db_migrate(e->db, e->err, sizeof(e->err)), 4);
	assert_int_equal(db_migrate(e->db, e->err, sizeof(e->err)), 0);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM schema_migrations",
	    NULL, 0), 4);
	assert_text(e, "SELECT name FROM schema_migrations WHERE version = 1",
	    NULL, 0, "accounting schema");

	n = db_migration_status(e->db, info, 8, e->err, sizeof(e->err));
	assert_int_equal(n, 4);
	assert_true(info[0].applied);
	assert_true(info[1].applied);
	assert_true(info[2].applied);
	assert_true(info[3].applied);
	/* 2024-05-01T12:00:00Z */
	assert_int_equal(strlen(info[0].applied_at), 20);
	assert_true(isdigit((unsigned char)info[0].applied_at[0]));
	assert_int_equal(info[0].applied_at[10], 'T');
	assert_int_equal(info[0].applied_at[19], 'Z');
	/* max bounds what is filled */
	assert_int_equal(db_migration_status(e->db, info, 0, e->err,
	    sizeof(e->err)), 0);

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s",
		    tables[i]);
		assert_int_equal(query_int(e, sql, NULL, 0), 0);
	}
}

static void
test_newer_schema_refused(void **state)
{
	struct engine *e = engine(state);

	fresh(e);
	exec_ok(e, "INSERT INTO schema_migrations (version, name, applied_at) "
	    "VALUES (999, 'from the future', 1)", NULL, 0);
	assert_int_equal(db_migrate(e->db, e->err, sizeof(e->err)), -1);
	assert_non_null(strstr(e->err, "version 999"));
}

static void
test_placeholders_and_quotes(void **state)
{
	struct engine *e = engine(state);
	const char *name = "o'brien ? \"q\" $1 -- x /* y */ \\ ;";
	const char *p[3] = { name, "42", NULL };
	int64_t n = -1;

	fresh(e);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES (?, ?)", p,
	    2);
	/* '?' inside literals, identifiers and comments are not parameters. */
	assert_text(e, "SELECT name FROM miners /* ? */ WHERE name = ? "
	    "AND 'what?' <> 'it''s ?' -- ?\n AND created_at = ?", p, 2, name);
	assert_text(e, "SELECT 'it''s ?' AS \"?\" FROM miners WHERE "
	    "created_at = ?", p + 1, 1, "it's ?");
	assert_int_equal(query_int(e, "SELECT created_at FROM miners WHERE "
	    "name = ?", p, 1), 42);

	/* The count must match, both ways. */
	assert_int_equal(db_exec(e->db, "SELECT ?", NULL, 0, NULL, NULL,
	    e->err, sizeof(e->err)), -1);
	assert_non_null(strstr(e->err, "placeholder"));
	assert_int_equal(db_exec(e->db, "SELECT '?'", p, 1, NULL, NULL,
	    e->err, sizeof(e->err)), -1);
	assert_int_equal(db_query_int(e->db, "SELECT COUNT(*) FROM miners "
	    "WHERE name = ? AND name = ?", p, 1, &n, e->err,
	    sizeof(e->err)), -1);
}

static int
collect_row(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	char *out = arg;

	for (int i = 0; i < ncols; i++) {
		size_t len = strlen(out);

		snprintf(out + len, 256 - len, "%s%s=%s", i ? "," : "",
		    names[i], values[i] != NULL ? values[i] : "(null)");
	}
	return 0;
}

static void
test_null_params(void **state)
{
	struct engine *e = engine(state);
	const char *p[8] = { "pnull", "h", "3333", "u", NULL, ".", "_", "7" };
	char row[256] = "";
	char *text = (char *)"untouched";
	int64_t v = 99;

	fresh(e);
	exec_ok(e, "INSERT INTO pools (name, host, port, username, password, "
	    "sep1, sep2, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", p, 8);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM pools WHERE "
	    "password IS NULL AND name = ?", p, 1), 1);
	assert_int_equal(db_exec(e->db, "SELECT name, password, port, enabled, "
	    "settlement_time FROM pools", NULL, 0, collect_row, row, e->err,
	    sizeof(e->err)), 0);
	assert_string_equal(row, "name=pnull,password=(null),port=3333,"
	    "enabled=1,settlement_time=00:00");
	/* NULL and no row: 1, values untouched / NULL. */
	assert_int_equal(db_query_text(e->db, "SELECT password FROM pools",
	    NULL, 0, &text, e->err, sizeof(e->err)), 1);
	assert_null(text);
	assert_int_equal(db_query_int(e->db, "SELECT id FROM pools WHERE "
	    "name = ?", (const char *[]){ "none" }, 1, &v, e->err,
	    sizeof(e->err)), 1);
	assert_int_equal(v, 99);
	assert_int_equal(db_query_int(e->db, "SELECT name FROM pools", NULL, 0,
	    &v, e->err, sizeof(e->err)), -1);
	assert_non_null(strstr(e->err, "integer"));
}

static void
test_upsert_submissions(void **state)
{
	struct engine *e = engine(state);
	static const char upsert[] = "INSERT INTO submissions (worker_id, "
	    "minute, accepted, accepted_difficulty, rejected_stale) VALUES "
	    "(?, ?, ?, ?, ?) ON CONFLICT (worker_id, minute) DO UPDATE SET "
	    "accepted = submissions.accepted + excluded.accepted, "
	    "accepted_difficulty = submissions.accepted_difficulty + "
	    "excluded.accepted_difficulty, rejected_stale = "
	    "submissions.rejected_stale + excluded.rejected_stale";
	char wid[24];
	int64_t id;

	fresh(e);
	id = add_worker(e);
	snprintf(wid, sizeof(wid), "%lld", (long long)id);
	exec_ok(e, upsert, (const char *[]){ wid, "1700000040", "3", "1.5",
	    "1" }, 5);
	exec_ok(e, upsert, (const char *[]){ wid, "1700000040", "4", "2.25",
	    "0" }, 5);
	exec_ok(e, upsert, (const char *[]){ wid, "1700000100", "1",
	    "0.1", "0" }, 5);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM submissions", NULL,
	    0), 2);
	assert_int_equal(query_int(e, "SELECT accepted FROM submissions WHERE "
	    "minute = 1700000040", NULL, 0), 7);
	assert_int_equal(query_int(e, "SELECT rejected_stale FROM submissions "
	    "WHERE minute = 1700000040", NULL, 0), 1);
	assert_text(e, "SELECT accepted_difficulty FROM submissions WHERE "
	    "minute = ?", (const char *[]){ "1700000040" }, 1, "3.75");
	/* Doubles come back exact and short on both engines. */
	assert_text(e, "SELECT accepted_difficulty FROM submissions WHERE "
	    "minute = 1700000100", NULL, 0, "0.1");
	exec_ok(e, upsert, (const char *[]){ wid, "1700000160",
	    "9007199254740993", "1e+300", "0" }, 5);
	assert_text(e, "SELECT accepted FROM submissions WHERE minute = "
	    "1700000160", NULL, 0, "9007199254740993");
	assert_text(e, "SELECT accepted_difficulty FROM submissions WHERE "
	    "minute = 1700000160", NULL, 0, "1e+300");
	assert_text(e, "SELECT rejected_other FROM submissions WHERE minute = "
	    "1700000160", NULL, 0, "0");
}

static void
test_transactions(void **state)
{
	struct engine *e = engine(state);
	const char *p[1] = { "txn" };

	fresh(e);
	assert_int_equal(db_begin(e->db, e->err, sizeof(e->err)), 0);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES (?, 1)", p,
	    1);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM miners", NULL, 0),
	    1);
	assert_int_equal(db_rollback(e->db), 0);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM miners", NULL, 0),
	    0);

	/* A failed statement inside a transaction: roll back, go on. */
	assert_int_equal(db_begin(e->db, e->err, sizeof(e->err)), 0);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES (?, 1)", p,
	    1);
	assert_int_equal(db_exec(e->db, "INSERT INTO miners (name, "
	    "created_at) VALUES (?, 1)", p, 1, NULL, NULL, e->err,
	    sizeof(e->err)), -1);
	assert_int_equal(db_rollback(e->db), 0);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM miners", NULL, 0),
	    0);

	assert_int_equal(db_begin(e->db, e->err, sizeof(e->err)), 0);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES (?, 1)", p,
	    1);
	assert_int_equal(db_commit(e->db, e->err, sizeof(e->err)), 0);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM miners", NULL, 0),
	    1);
	assert_true(db_healthy(e->db));
}

static void
expect_error(struct engine *e, const char *sql, const char *const *p, int n,
    const char *needle)
{
	e->err[0] = '\0';
	if (db_exec(e->db, sql, p, n, NULL, NULL, e->err,
	    sizeof(e->err)) != -1)
		fail_msg("%s: expected an error from: %s", e->name, sql);
	if (!contains_ci(e->err, needle))
		fail_msg("%s: error \"%s\" lacks \"%s\"", e->name, e->err,
		    needle);
}

static void
test_constraint_errors(void **state)
{
	struct engine *e = engine(state);
	const char *secret[8] = { "pbad", "h", "0", "u", "pool-pw-in-row", ".",
		"_", "1" };

	fresh(e);
	add_worker(e);
	expect_error(e, "INSERT INTO miners (name, created_at) VALUES "
	    "('m1', 2)", NULL, 0, "unique");
	expect_error(e, "INSERT INTO workers (pool_id, miner_id, name, "
	    "first_seen, last_seen) SELECT pool_id, miner_id, name, 2, 2 FROM "
	    "workers", NULL, 0, "unique");
	expect_error(e, "INSERT INTO workers (pool_id, miner_id, name, "
	    "first_seen, last_seen) VALUES (999, 999, 'w', 1, 1)", NULL, 0,
	    "foreign key");
	expect_error(e, "INSERT INTO earnings (pool_id, day, reward_sats, "
	    "recorded_at) SELECT id, '2024-01-02', -1, 1 FROM pools", NULL, 0,
	    "check");
	expect_error(e, "INSERT INTO earnings (pool_id, day, reward_sats, "
	    "recorded_at) SELECT id, '2024-1-2', 5, 1 FROM pools", NULL, 0,
	    "check");
	expect_error(e, "INSERT INTO miners (name, created_at) VALUES "
	    "(NULL, 1)", NULL, 0, "null");
	/* A failing row holding a pool password is not quoted back. */
	expect_error(e, "INSERT INTO pools (name, host, port, username, "
	    "password, sep1, sep2, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    secret, 8, "check");
	assert_null(strstr(e->err, "pool-pw-in-row"));
	exec_ok(e, "INSERT INTO earnings (pool_id, day, reward_sats, "
	    "recorded_at) SELECT id, '2024-01-02', 5, 1 FROM pools", NULL, 0);
	/* Still usable after all those errors. */
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM earnings", NULL,
	    0), 1);
}

static void
test_reset_then_migrate(void **state)
{
	struct engine *e = engine(state);
	struct db_migration_info info[4];

	fresh(e);
	add_worker(e);
	exec_ok(e, "INSERT INTO store_progress (instance, last_seq, "
	    "updated_at) VALUES ('a', 5, 1)", NULL, 0);
	assert_int_equal(db_reset(e->db, e->err, sizeof(e->err)), 0);
	assert_int_equal(db_exec(e->db, "SELECT COUNT(*) FROM workers", NULL,
	    0, NULL, NULL, e->err, sizeof(e->err)), -1);
	assert_int_equal(db_migration_status(e->db, info, 4, e->err,
	    sizeof(e->err)), 4);
	assert_false(info[0].applied);
	/* reset of an empty database is fine too */
	assert_int_equal(db_reset(e->db, e->err, sizeof(e->err)), 0);
	assert_int_equal(db_migrate(e->db, e->err, sizeof(e->err)), 4);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM workers", NULL,
	    0), 0);
	/* ids start over */
	assert_int_equal(add_worker(e), 1);
}

/* Every database made gets its own identity, made with the schema and
 * kept by it; none before the schema. */
static void
test_identity(void **state)
{
	struct engine *e = engine(state);
	char a[DB_IDENTITY_MAX + 1], b[DB_IDENTITY_MAX + 1];

	assert_int_equal(db_reset(e->db, e->err, sizeof(e->err)), 0);
	assert_int_equal(db_identity(e->db, a, sizeof(a), e->err,
	    sizeof(e->err)), 1);
	assert_int_equal(db_migrate(e->db, e->err, sizeof(e->err)),
	    db_migration_count());
	assert_int_equal(db_identity(e->db, a, sizeof(a), e->err,
	    sizeof(e->err)), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_int_equal(db_identity(e->db, b, sizeof(b), e->err,
	    sizeof(e->err)), 0);
	assert_string_equal(a, b);
	/* Only one row, ever. */
	assert_int_equal(db_exec(e->db, "INSERT INTO loka_database "
	    "(singleton, id, created_at) VALUES (2, 'x', 1)", NULL, 0, NULL,
	    NULL, e->err, sizeof(e->err)), -1);
	/* A database made anew is another database. */
	fresh(e);
	assert_int_equal(db_identity(e->db, b, sizeof(b), e->err,
	    sizeof(e->err)), 0);
	assert_string_not_equal(a, b);
}

struct stop_ctx {
	struct engine *e;
	int rows;
	int inner;
};

static int
stop_after_one(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	struct stop_ctx *s = arg;

	(void)ncols;
	(void)values;
	(void)names;
	s->rows++;
	return 1;
}

/* Runs the very statement that is being stepped through (re-entry). */
static int
reenter(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	struct stop_ctx *s = arg;

	(void)ncols;
	(void)values;
	(void)names;
	s->rows++;
	s->inner += (int)query_int(s->e, "SELECT COUNT(*) FROM miners WHERE "
	    "created_at > ?", (const char *[]){ "0" }, 1);
	return 0;
}

static void
test_row_callbacks(void **state)
{
	struct engine *e = engine(state);
	struct stop_ctx s = { e, 0, 0 };

	fresh(e);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES ('a', 1), "
	    "('b', 2), ('c', 3)", NULL, 0);
	assert_int_equal(db_exec(e->db, "SELECT name FROM miners ORDER BY "
	    "name", NULL, 0, stop_after_one, &s, e->err, sizeof(e->err)), 0);
	assert_int_equal(s.rows, 1);
	s.rows = 0;
	/* Twice, so that the second run uses a cached statement. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(db_exec(e->db, "SELECT COUNT(*) FROM miners "
		    "WHERE created_at > ?", (const char *[]){ "0" }, 1, reenter,
		    &s, e->err, sizeof(e->err)), 0);
	assert_int_equal(s.rows, 2);
	assert_int_equal(s.inner, 6);
}

static void
test_script(void **state)
{
	struct engine *e = engine(state);

	fresh(e);
	exec_ok(e, "INSERT INTO miners (name, created_at) VALUES ('s1', 1);\n"
	    "-- a comment\n"
	    "INSERT INTO miners (name, created_at) VALUES ('s2', 2);\n", NULL,
	    0);
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM miners", NULL, 0),
	    2);
	/* Parameters need a single statement. */
	assert_int_equal(db_exec(e->db, "SELECT ?; SELECT 1", (const char *[]){
	    "1" }, 1, NULL, NULL, e->err, sizeof(e->err)), -1);
	/* A failing script stops, with the engine's message. */
	assert_int_equal(db_exec(e->db, "INSERT INTO miners (name, created_at) "
	    "VALUES ('s3', 3); SELECT * FROM no_such_table;", NULL, 0, NULL,
	    NULL, e->err, sizeof(e->err)), -1);
	assert_non_null(strstr(e->err, "no_such_table"));
}

/* A lost PostgreSQL connection: the statement fails, db_healthy() mends. */
static void
test_lost_connection(void **state)
{
	struct engine *e = engine(state);

	if (db_kind(e->db) != DB_POSTGRES)
		skip(); /* SQLite has no connection to lose */
	fresh(e);
	assert_true(db_healthy(e->db));
	assert_int_equal(db_exec(e->db, "SELECT pg_terminate_backend("
	    "pg_backend_pid())", NULL, 0, NULL, NULL, e->err,
	    sizeof(e->err)), -1);
	assert_int_equal(strchr(e->err, '\n'), NULL);
	assert_int_equal(db_exec(e->db, "SELECT 1", NULL, 0, NULL, NULL,
	    e->err, sizeof(e->err)), -1);
	assert_true(db_healthy(e->db));
	assert_int_equal(query_int(e, "SELECT COUNT(*) FROM miners", NULL, 0),
	    0);
}

/* ---- engine independent: opening, error hygiene, placeholders */

static void
open_fails(const char *url, const char *want, const char *secret)
{
	char err[512] = "";
	struct db *db = db_open(url, 2000, err, sizeof(err));

	if (db != NULL) {
		db_close(db);
		fail_msg("db_open(%s) succeeded", want);
	}
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	if (secret != NULL && strstr(err, secret) != NULL)
		fail_msg("error \"%s\" shows the password", err);
	assert_int_equal(strchr(err, '\n'), NULL);
}

static void
test_open_errors(void **state)
{
	char path[128];
	FILE *f;

	(void)state;
	open_fails("mysql://loka:hunter2secret@db.example/loka",
	    "mysql://loka:***@db.example/loka", "hunter2secret");
	open_fails("mysql://x", "unsupported database URL", NULL);
	open_fails("", "no database URL", NULL);
	open_fails("sqlite://", "needs a file path", NULL);
	open_fails("sqlite:///nonexistent-dir-loka/x/loka.db",
	    "sqlite:///nonexistent-dir-loka/x/loka.db: unable to open", NULL);
	/* Nothing listens on port 1. */
	open_fails("postgresql://loka:s3cret-db-pw@127.0.0.1:1/loka",
	    "postgresql://loka:***@127.0.0.1:1/loka: ", "s3cret-db-pw");
	open_fails("postgres://loka:s3cret-db-pw@127.0.0.1:1/loka",
	    "postgres://loka:***@127.0.0.1:1/loka: ", "s3cret-db-pw");
	open_fails("postgresql://loka@127.0.0.1:1/loka?password=qsecret42",
	    "password=***", "qsecret42");
	/* libpq quotes malformed parts back: they are scrubbed too. */
	open_fails("postgresql://loka:pw%zzsecret@127.0.0.1:1/loka",
	    "postgresql://loka:***@", "zzsecret");
	open_fails("postgresql://loka:portsecret@127.0.0.1:notaport/loka",
	    "postgresql://loka:***@", "portsecret");
	open_fails("postgresql://loka:d%41tabase-pw@127.0.0.1:1/loka",
	    "postgresql://loka:***@", "dAtabase-pw");

	/* A file that is not a database. */
	snprintf(path, sizeof(path), "%s/not-a-db", sqlite_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, not at all, no. ", f);
	for (int i = 0; i < 100; i++)
		fputs("padding padding padding padding ", f);
	fclose(f);
	{
		char url[160], want[200];

		snprintf(url, sizeof(url), "sqlite://%s", path);
		snprintf(want, sizeof(want), "%s: file is not a database", url);
		open_fails(url, want, NULL);
	}
	unlink(path);
}

/* A SQLite file deleted or replaced under an open database is noticed;
 * DB_OPEN_EXISTING never makes a new file. */
static void
test_sqlite_file_checks(void **state)
{
	char path[128], other[140], url[160], err[512];
	struct db *db;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/checked.db", sqlite_dir);
	snprintf(other, sizeof(other), "%s.other", path);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	unlink(path);
	assert_null(db_open_flags(url, 1000, DB_OPEN_EXISTING, err,
	    sizeof(err)));
	assert_int_not_equal(access(path, F_OK), 0);
	db = db_open(url, 1000, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(db_check(db, err, sizeof(err)), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(db_check(db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is gone"));
	db_close(db);

	db = db_open(url, 1000, err, sizeof(err));
	assert_non_null(db);
	f = fopen(other, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(rename(other, path), 0);
	assert_int_equal(db_check(db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "replaced"));
	db_close(db);
	unlink(path);
}

static void
check_translation(const char *sql, const char *want, int count)
{
	char *out = NULL;

	assert_int_equal(db_placeholders(sql, &out), count);
	assert_string_equal(out, want);
	free(out);
	assert_int_equal(db_placeholders(sql, NULL), count);
}

static void
test_placeholder_translation(void **state)
{
	(void)state;
	check_translation("SELECT 1", "SELECT 1", 0);
	check_translation("SELECT ?, '?', \"?\", ? -- ?\nFROM t WHERE x = ?",
	    "SELECT $1, '?', \"?\", $2 -- ?\nFROM t WHERE x = $3", 3);
	check_translation("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1);
	check_translation("SELECT E'\\'?', ?", "SELECT E'\\'?', $1", 1);
	check_translation("SELECT e'a\\\\', ?", "SELECT e'a\\\\', $1", 1);
	/* not an E string: the backslash is just a character */
	check_translation("SELECT name'\\', ?", "SELECT name'\\', $1", 1);
	check_translation("/* ? */ SELECT ? /* ?", "/* ? */ SELECT $1 /* ?",
	    1);
	check_translation("SELECT $$ ? $$, $tag$ ?$ $tag$, ?",
	    "SELECT $$ ? $$, $tag$ ?$ $tag$, $1", 1);
	check_translation("SELECT x$y, ?", "SELECT x$y, $1", 1);
	check_translation("SELECT '?", "SELECT '?", 0);
	check_translation("VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
	    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)", 12);
}

static void
test_error_text(void **state)
{
	char err[16];

	(void)state;
	db_errf(err, sizeof(err), "a\n\tb  %s", "cdefghijklmnopq");
	assert_string_equal(err, "a b  cdefghijk");
	db_errf(err, sizeof(err), "line\n");
	assert_string_equal(err, "line");
	db_errf(NULL, 0, "ignored");
}

/* ---- groups */

static int
sqlite_group_setup(void **state)
{
	(void)state;
	snprintf(sqlite_dir, sizeof(sqlite_dir), "/tmp/loka-test-db.XXXXXX");
	if (mkdtemp(sqlite_dir) == NULL)
		return -1;
	sqlite_engine.url = xasprintf("sqlite://%s/test.db", sqlite_dir);
	return 0;
}

static int
sqlite_group_teardown(void **state)
{
	static const char *const files[] = { "test.db", "test.db-wal",
		"test.db-shm" };
	char path[128];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", sqlite_dir, files[i]);
		unlink(path);
	}
	rmdir(sqlite_dir);
	free(sqlite_engine.url);
	sqlite_engine.url = NULL;
	return 0;
}

static int
pg_admin(const char *base, const char *sql)
{
	char err[512];
	struct db *db = db_open(base, 5000, err, sizeof(err));
	int rc;

	if (db == NULL) {
		print_error("LOKA_TEST_PG_URL: %s\n", err);
		return -1;
	}
	rc = db_exec(db, sql, NULL, 0, NULL, NULL, err, sizeof(err));
	if (rc != 0)
		print_error("%s: %s\n", sql, err);
	db_close(db);
	return rc;
}

static int
pg_group_setup(void **state)
{
	const char *base = getenv("LOKA_TEST_PG_URL");
	char sql[160];

	(void)state;
	if (base == NULL || *base == '\0') {
		printf("[  SKIP    ] PostgreSQL checks: LOKA_TEST_PG_URL is "
		    "not set (scripts/test.sh sets it)\n");
		return 0;
	}
	/* A schema of our own: e2e tests may use the same database. */
	snprintf(pg_schema, sizeof(pg_schema), "loka_unit_%ld",
	    (long)getpid());
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; "
	    "CREATE SCHEMA %s", pg_schema, pg_schema);
	if (pg_admin(base, sql) != 0)
		return -1;
	pg_engine.url = xasprintf("%s%coptions=-c%%20search_path%%3D%s", base,
	    strchr(base, '?') != NULL ? '&' : '?', pg_schema);
	return 0;
}

static int
pg_group_teardown(void **state)
{
	char sql[128];

	(void)state;
	if (pg_engine.url == NULL)
		return 0;
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE",
	    pg_schema);
	free(pg_engine.url);
	pg_engine.url = NULL;
	return pg_admin(getenv("LOKA_TEST_PG_URL"), sql);
}

#define ENGINE_TESTS(e)                                                       \
	{                                                                     \
		cmocka_unit_test_prestate_setup_teardown(test_migrate,        \
		    engine_setup, engine_teardown, &(e)),                     \
		cmocka_unit_test_prestate_setup_teardown(                     \
		    test_newer_schema_refused, engine_setup,                  \
		    engine_teardown, &(e)),                                   \
		cmocka_unit_test_prestate_setup_teardown(                     \
		    test_placeholders_and_quotes, engine_setup,               \
		    engine_teardown, &(e)),                                   \
		cmocka_unit_test_prestate_setup_teardown(test_null_params,    \
		    engine_setup, engine_teardown, &(e)),                     \
		cmocka_unit_test_prestate_setup_teardown(                     \
		    test_upsert_submissions, engine_setup, engine_teardown,   \
		    &(e)),                                                    \
		cmocka_unit_test_prestate_setup_teardown(test_transactions,   \
		    engine_setup, engine_teardown, &(e)),                     \
		cmocka_unit_test_prestate_setup_teardown(                     \
		    test_constraint_errors, engine_setup, engine_teardown,    \
		    &(e)),                                                    \
		cmocka_unit_test_prestate_setup_teardown(                     \
		    test_reset_then_migrate, engine_setup, engine_teardown,   \
		    &(e)),                                                    \
		cmocka_unit_test_prestate_setup_teardown(test_identity,       \
		    engine_setup, engine_teardown, &(e)),                     \
		cmocka_unit_test_prestate_setup_teardown(test_row_callbacks,  \
		    engine_setup, engine_teardown, &(e)),                     \
		cmocka_unit_test_prestate_setup_teardown(test_script,         \
		    engine_setup, engine_teardown, &(e)),                     \
		cmocka_unit_test_prestate_setup_teardown(                     \
		    test_lost_connection, engine_setup, engine_teardown,      \
		    &(e)),                                                    \
	}

int
main(void)
{
	const struct CMUnitTest common[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_sqlite_file_checks),
		cmocka_unit_test(test_placeholder_translation),
		cmocka_unit_test(test_error_text),
	};
	const struct CMUnitTest on_sqlite[] = ENGINE_TESTS(sqlite_engine);
	const struct CMUnitTest on_pg[] = ENGINE_TESTS(pg_engine);
	int failed = 0;

	failed += cmocka_run_group_tests_name("sqlite", on_sqlite,
	    sqlite_group_setup, NULL);
	failed += cmocka_run_group_tests_name("common", common, NULL, NULL);
	sqlite_group_teardown(NULL);
	failed += cmocka_run_group_tests_name("postgresql", on_pg,
	    pg_group_setup, pg_group_teardown);
	return failed != 0;
}
