/*
 * migrations.c: the versioned schema of the accounting database.
 *
 * Each version has one SQL script per engine, identical in meaning (SQLite
 * and PostgreSQL differ in id columns and type names only). A version is
 * applied in its own transaction together with its row in
 * schema_migrations, so a failure leaves the previous version intact. On
 * PostgreSQL every migration transaction first takes a transaction-scoped
 * advisory lock, so instances of a fleet starting together apply each
 * version once; on SQLite, BEGIN IMMEDIATE serialises them.
 *
 * Versions are never edited once released: a change is a new version.
 * A database whose schema is newer than this build is refused.
 *
 * Conventions on both engines: times are BIGINT unix seconds, days TEXT
 * 'YYYY-MM-DD' (UTC or the pool's settlement day), booleans SMALLINT 0/1,
 * hash work as floating-point difficulty sums.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "store/db_internal.h"
#include "util/log.h"
#include "util/now.h"
#include "util/xmalloc.h"

/* pg_advisory_xact_lock() key: "lokamigr" as a big-endian int64. */
#define MIG_LOCK_SQL "SELECT pg_advisory_xact_lock(7813581944702723954)"

#define MIG_TABLE_SQL                                                        \
	"CREATE TABLE IF NOT EXISTS schema_migrations (\n"                   \
	"	version INTEGER PRIMARY KEY,\n"                              \
	"	name TEXT NOT NULL,\n"                                       \
	"	applied_at BIGINT NOT NULL\n"                                \
	")"

/*
 * Migration 1, the same for both engines but for the spelling of an
 * auto-increment id, a double and a pattern check on days.
 */
#define M1(ID, REAL, DAY_CHECK) \
    "CREATE TABLE pools (\n" \
    "	id " ID ",\n" \
    "	name TEXT NOT NULL UNIQUE,\n" \
    "	host TEXT NOT NULL,\n" \
    "	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n" \
    "	username TEXT NOT NULL,\n" \
    "	password TEXT NULL,\n" \
    "	sep1 TEXT NOT NULL,\n" \
    "	sep2 TEXT NOT NULL,\n" \
    "	settlement_time TEXT NOT NULL DEFAULT '00:00',\n" \
    "	settlement_offset INTEGER NOT NULL DEFAULT 0,\n" \
    "	enabled SMALLINT NOT NULL DEFAULT 1,\n" \
    "	updated_at BIGINT NOT NULL\n" \
    ");\n" \
    "CREATE TABLE miners (\n" \
    "	id " ID ",\n" \
    "	name TEXT NOT NULL UNIQUE,\n" \
    "	created_at BIGINT NOT NULL\n" \
    ");\n" \
    "CREATE TABLE workers (\n" \
    "	id " ID ",\n" \
    "	pool_id BIGINT NOT NULL REFERENCES pools (id),\n" \
    "	miner_id BIGINT NOT NULL REFERENCES miners (id),\n" \
    "	name TEXT NOT NULL,\n" \
    "	first_seen BIGINT NOT NULL,\n" \
    "	last_seen BIGINT NOT NULL,\n" \
    "	UNIQUE (pool_id, miner_id, name)\n" \
    ");\n" \
    "CREATE TABLE submissions (\n" \
    "	worker_id BIGINT NOT NULL REFERENCES workers (id),\n" \
    "	minute BIGINT NOT NULL,\n" \
    "	accepted BIGINT NOT NULL DEFAULT 0,\n" \
    "	accepted_difficulty " REAL " NOT NULL DEFAULT 0,\n" \
    "	rejected_stale BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_duplicate BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_low_difficulty BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_unauthorized BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_other BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_difficulty " REAL " NOT NULL DEFAULT 0,\n" \
    "	PRIMARY KEY (worker_id, minute)\n" \
    ");\n" \
    "CREATE INDEX submissions_minute ON submissions (minute);\n" \
    "CREATE TABLE share_log (\n" \
    "	id " ID ",\n" \
    "	worker_id BIGINT NOT NULL REFERENCES workers (id),\n" \
    "	ts_ms BIGINT NOT NULL,\n" \
    "	difficulty " REAL " NOT NULL,\n" \
    "	accepted SMALLINT NOT NULL,\n" \
    "	reason TEXT NULL,\n" \
    "	instance TEXT NOT NULL,\n" \
    "	seq BIGINT NOT NULL,\n" \
    "	UNIQUE (instance, seq)\n" \
    ");\n" \
    "CREATE TABLE earnings (\n" \
    "	pool_id BIGINT NOT NULL REFERENCES pools (id),\n" \
    "	day TEXT NOT NULL CHECK (" DAY_CHECK "),\n" \
    "	reward_sats BIGINT NOT NULL CHECK (reward_sats >= 0),\n" \
    "	pool_hashrate " REAL " NULL,\n" \
    "	recorded_at BIGINT NOT NULL,\n" \
    "	PRIMARY KEY (pool_id, day)\n" \
    ");\n" \
    "CREATE TABLE distributions (\n" \
    "	pool_id BIGINT NOT NULL REFERENCES pools (id),\n" \
    "	day TEXT NOT NULL CHECK (" DAY_CHECK "),\n" \
    "	miner_id BIGINT NOT NULL REFERENCES miners (id),\n" \
    "	worker_id BIGINT NOT NULL REFERENCES workers (id),\n" \
    "	reward_sats BIGINT NOT NULL,\n" \
    "	accepted_difficulty " REAL " NOT NULL,\n" \
    "	share " REAL " NOT NULL,\n" \
    "	PRIMARY KEY (pool_id, day, worker_id)\n" \
    ");\n" \
    "CREATE TABLE store_progress (\n" \
    "	instance TEXT NOT NULL PRIMARY KEY,\n" \
    "	last_seq BIGINT NOT NULL,\n" \
    "	updated_at BIGINT NOT NULL\n" \
    ");\n"

static const char m1_sqlite[] = M1("INTEGER PRIMARY KEY AUTOINCREMENT",
    "REAL", "day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'");

static const char m1_postgres[] = M1("BIGSERIAL PRIMARY KEY",
    "DOUBLE PRECISION", "day ~ '^[0-9]{4}-[01][0-9]-[0-3][0-9]$'");

/*
 * Migration 2: the database's identity, a random id made once, with the
 * schema. The journal records the id of the database it belongs to, so
 * that its events are never replayed into another one (store.c).
 */
#define M2(RANDOM_ID, NOW) \
    "CREATE TABLE loka_database (\n" \
    "	singleton SMALLINT NOT NULL PRIMARY KEY CHECK (singleton = 1),\n" \
    "	id TEXT NOT NULL,\n" \
    "	created_at BIGINT NOT NULL\n" \
    ");\n" \
    "INSERT INTO loka_database (singleton, id, created_at) VALUES (1, " \
    RANDOM_ID ", " NOW ");\n"

static const char m2_sqlite[] = M2("lower(hex(randomblob(16)))",
    "CAST(strftime('%s', 'now') AS INTEGER)");

/* md5() of a random number, the clock and the backend: 32 hex digits
 * (gen_random_uuid() needs PostgreSQL 13). */
static const char m2_postgres[] = M2("md5(random()::text || "
    "clock_timestamp()::text || pg_backend_pid()::text)",
    "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)");

/*
 * Migration 3: rollups for history (the hashrate API and charts): per pool
 * and minute, per worker and hour, kept by the store with the per-minute
 * buckets, so that a farm over 30 days reads ~43,000 rows per pool, not
 * one row per worker and minute; and each worker's last accepted share
 * (workers that stopped). Filled from what the books hold.
 */
#define M3(REAL, SUMS) \
    "CREATE TABLE pool_minutes (\n" \
    "	pool_id BIGINT NOT NULL REFERENCES pools (id),\n" \
    "	minute BIGINT NOT NULL,\n" \
    "	accepted BIGINT NOT NULL DEFAULT 0,\n" \
    "	accepted_difficulty " REAL " NOT NULL DEFAULT 0,\n" \
    "	rejected BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_difficulty " REAL " NOT NULL DEFAULT 0,\n" \
    "	PRIMARY KEY (pool_id, minute)\n" \
    ");\n" \
    "CREATE TABLE worker_hours (\n" \
    "	worker_id BIGINT NOT NULL REFERENCES workers (id),\n" \
    "	hour BIGINT NOT NULL,\n" \
    "	accepted BIGINT NOT NULL DEFAULT 0,\n" \
    "	accepted_difficulty " REAL " NOT NULL DEFAULT 0,\n" \
    "	rejected BIGINT NOT NULL DEFAULT 0,\n" \
    "	rejected_difficulty " REAL " NOT NULL DEFAULT 0,\n" \
    "	PRIMARY KEY (worker_id, hour)\n" \
    ");\n" \
    "CREATE INDEX worker_hours_hour ON worker_hours (hour);\n" \
    "ALTER TABLE workers ADD COLUMN last_accepted BIGINT NOT NULL " \
    "DEFAULT 0;\n" \
    "UPDATE workers SET last_accepted = COALESCE((SELECT MAX(s.minute) " \
    "FROM submissions s WHERE s.worker_id = workers.id AND s.accepted > " \
    "0), 0);\n" \
    "INSERT INTO pool_minutes (pool_id, minute, accepted, " \
    "accepted_difficulty, rejected, rejected_difficulty) SELECT " \
    "w.pool_id, s.minute, " SUMS " FROM submissions s JOIN workers w ON " \
    "w.id = s.worker_id GROUP BY w.pool_id, s.minute;\n" \
    "INSERT INTO worker_hours (worker_id, hour, accepted, " \
    "accepted_difficulty, rejected, rejected_difficulty) SELECT " \
    "s.worker_id, s.minute - s.minute % 3600, " SUMS " FROM submissions s " \
    "GROUP BY s.worker_id, s.minute - s.minute % 3600;\n"
#define M3_SUMS "SUM(s.accepted), SUM(s.accepted_difficulty), " \
    "SUM(s.rejected_stale + s.rejected_duplicate + " \
    "s.rejected_low_difficulty + s.rejected_unauthorized + " \
    "s.rejected_other), SUM(s.rejected_difficulty)"

static const char m3_sqlite[] = M3("REAL", M3_SUMS);
static const char m3_postgres[] = M3("DOUBLE PRECISION", M3_SUMS);

/*
 * Migration 4: aggregate mode's second count. Beside the difficulty Loka
 * validated (accepted_difficulty, what a miner is credited with), what
 * the pool said of the shares forwarded to it (each at the pool's
 * difficulty): per worker and minute, per worker and hour, per pool and
 * minute. Zero in passthrough mode, where the pool's verdict is the only
 * one and already in accepted. And which of the two a pool's day is
 * settled by ([[pools]] settlement_basis).
 */
#define M4_TABLE(T, REAL) \
    "ALTER TABLE " T " ADD COLUMN pool_accepted BIGINT NOT NULL DEFAULT " \
    "0;\n" \
    "ALTER TABLE " T " ADD COLUMN pool_accepted_difficulty " REAL " NOT " \
    "NULL DEFAULT 0;\n" \
    "ALTER TABLE " T " ADD COLUMN pool_rejected BIGINT NOT NULL DEFAULT " \
    "0;\n" \
    "ALTER TABLE " T " ADD COLUMN pool_rejected_difficulty " REAL " NOT " \
    "NULL DEFAULT 0;\n"
#define M4(REAL) M4_TABLE("submissions", REAL) \
    M4_TABLE("worker_hours", REAL) M4_TABLE("pool_minutes", REAL) \
    "ALTER TABLE pools ADD COLUMN settlement_basis TEXT NOT NULL DEFAULT " \
    "'validated';\n"

static const char m4_sqlite[] = M4("REAL");
static const char m4_postgres[] = M4("DOUBLE PRECISION");

struct migration {
	int version;
	const char *name;
	const char *sql[DB_KIND_MAX];
};

static const struct migration migrations[] = {
	{ 1, "accounting schema", { m1_sqlite, m1_postgres } },
	{ 2, "database identity", { m2_sqlite, m2_postgres } },
	{ 3, "history rollups", { m3_sqlite, m3_postgres } },
	{ 4, "pool-accepted counts", { m4_sqlite, m4_postgres } },
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/*
 * Every table the migrations create, children before their parents (the
 * order db_reset drops them in). A new version adds its tables here.
 */
static const char *const loka_tables[] = {
	"distributions", "earnings", "share_log", "pool_minutes",
	"worker_hours", "submissions", "workers",
	"miners", "pools", "store_progress", "loka_database",
	"schema_migrations",
};

int
db_migration_count(void)
{
	return NMIGRATIONS;
}

/* BEGIN, take the migration lock (PostgreSQL), ensure the version table. */
static int
mig_begin(struct db *db, char *err, size_t errlen)
{
	if (db_begin(db, err, errlen) != 0)
		return -1;
	if ((db_kind(db) == DB_POSTGRES && db_exec(db, MIG_LOCK_SQL, NULL, 0,
	    NULL, NULL, err, errlen) != 0) ||
	    db_exec(db, MIG_TABLE_SQL, NULL, 0, NULL, NULL, err, errlen) != 0) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* Fails if the database holds a version this build does not know. */
static int
mig_check_newer(struct db *db, char *err, size_t errlen)
{
	int64_t max = 0;

	if (db_query_int(db, "SELECT MAX(version) FROM schema_migrations",
	    NULL, 0, &max, err, errlen) < 0)
		return -1;
	if (max > NMIGRATIONS) {
		db_errf(err, errlen, "the database schema is at version "
		    "%" PRId64 " but this loka-stratum knows versions up to "
		    "%d: upgrade loka-stratum", max, NMIGRATIONS);
		return -1;
	}
	return 0;
}

static int
mig_apply(struct db *db, const struct migration *m, char *err,
    size_t errlen)
{
	char version[16], now[24], msg[512];
	const char *p[3] = { version, m->name, now };
	int64_t have = 0, t0;

	snprintf(version, sizeof(version), "%d", m->version);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (mig_begin(db, err, errlen) != 0)
		return -1;
	if (mig_check_newer(db, err, errlen) != 0 ||
	    db_query_int(db, "SELECT COUNT(*) FROM schema_migrations WHERE "
	    "version = ?", p, 1, &have, err, errlen) < 0)
		goto fail;
	if (have > 0) /* another instance was first */
		return db_commit(db, err, errlen) == 0 ? 0 : -1;
	/* A migration that fills tables from big books takes a while: a
	 * line before and after. */
	t0 = now_mono_ms();
	log_info("store", "applying migration %d (%s)", m->version, m->name);
	if (db_exec(db, m->sql[db_kind(db)], NULL, 0, NULL, NULL, msg,
	    sizeof(msg)) != 0) {
		db_errf(err, errlen, "migration %d (%s): %s", m->version,
		    m->name, msg);
		goto fail;
	}
	if (db_exec(db, "INSERT INTO schema_migrations (version, name, "
	    "applied_at) VALUES (?, ?, ?)", p, 3, NULL, NULL, err,
	    errlen) != 0 ||
	    db_commit(db, err, errlen) != 0)
		goto fail;
	log_info("store", "migration %d (%s) applied in %.1f s", m->version,
	    m->name, (double)(now_mono_ms() - t0) / 1000.0);
	return 1;
fail:
	db_rollback(db);
	return -1;
}

int
db_migrate(struct db *db, char *err, size_t errlen)
{
	int applied = 0;

	for (int i = 0; i < NMIGRATIONS; i++) {
		int rc = mig_apply(db, &migrations[i], err, errlen);

		if (rc < 0)
			return -1;
		applied += rc;
	}
	return applied;
}

static int
table_exists(struct db *db, const char *name, bool *exists, char *err,
    size_t errlen)
{
	const char *p[1] = { name };
	int64_t n = 0;

	/* information_schema: where an unqualified CREATE TABLE lands. */
	if (db_query_int(db, db_kind(db) == DB_SQLITE ?
	    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
	    "name = ?" :
	    "SELECT COUNT(*) FROM information_schema.tables WHERE "
	    "table_schema = current_schema() AND table_name = ?", p, 1, &n,
	    err, errlen) < 0)
		return -1;
	*exists = n > 0;
	return 0;
}

int
db_identity(struct db *db, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char *id = NULL;
	bool exists;
	int rc;

	if (table_exists(db, "loka_database", &exists, err, errlen) != 0)
		return -1;
	if (!exists)
		return 1;
	rc = db_query_text(db, "SELECT id FROM loka_database WHERE "
	    "singleton = 1", NULL, 0, &id, err, errlen);
	if (rc != 0)
		return rc;
	if (id[0] == '\0' || strlen(id) >= outlen) {
		db_errf(err, errlen, "the database identity \"%.40s\" is not "
		    "one Loka made", id);
		free(id);
		return -1;
	}
	snprintf(out, outlen, "%s", id);
	free(id);
	return 0;
}

struct status_ctx {
	struct db_migration_info *out;
	size_t n;
};

static int
status_row(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	struct status_ctx *s = arg;
	long long version, at;
	time_t t;
	struct tm tm;

	(void)names;
	if (ncols < 2 || values[0] == NULL || values[1] == NULL)
		return 0;
	version = strtoll(values[0], NULL, 10);
	at = strtoll(values[1], NULL, 10);
	for (size_t i = 0; i < s->n; i++) {
		struct db_migration_info *mi = &s->out[i];

		if (mi->version != version)
			continue;
		mi->applied = true;
		t = (time_t)at;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(mi->applied_at, sizeof(mi->applied_at),
		    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(mi->applied_at, sizeof(mi->applied_at), "%lld",
			    at);
	}
	return 0;
}

int
db_migration_status(struct db *db, struct db_migration_info *out,
    size_t max, char *err, size_t errlen)
{
	struct status_ctx s = { out, 0 };
	bool exists;

	for (int i = 0; i < NMIGRATIONS && s.n < max; i++, s.n++) {
		out[s.n].version = migrations[i].version;
		out[s.n].name = migrations[i].name;
		out[s.n].applied = false;
		out[s.n].applied_at[0] = '\0';
	}
	/* Read only: a status never creates the version table. */
	if (table_exists(db, "schema_migrations", &exists, err, errlen) != 0)
		return -1;
	if (exists && db_exec(db, "SELECT version, applied_at FROM "
	    "schema_migrations ORDER BY version", NULL, 0, status_row, &s,
	    err, errlen) != 0)
		return -1;
	return (int)s.n;
}

int
db_reset(struct db *db, char *err, size_t errlen)
{
	char sql[128], msg[512];

	if (db_begin(db, err, errlen) != 0)
		return -1;
	if (db_kind(db) == DB_POSTGRES && db_exec(db, MIG_LOCK_SQL, NULL, 0,
	    NULL, NULL, err, errlen) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof(loka_tables) / sizeof(loka_tables[0]);
	    i++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s",
		    loka_tables[i]);
		if (db_exec(db, sql, NULL, 0, NULL, NULL, msg,
		    sizeof(msg)) != 0) {
			db_errf(err, errlen, "dropping %s: %s", loka_tables[i],
			    msg);
			goto fail;
		}
	}
	return db_commit(db, err, errlen);
fail:
	db_rollback(db);
	return -1;
}
