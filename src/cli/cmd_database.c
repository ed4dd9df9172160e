/*
 * cmd_database.c: `loka-stratum database migrate | status | reset --yes |
 * backup FILE | restore FILE --yes`: the accounting database's schema, by
 * hand (start applies migrations itself when [database] auto_migrate is
 * on), and SQLite backups.
 *
 * The database URL comes from the configuration file exactly as `start`
 * reads it (-c, else loka-stratum.toml when present, else defaults and the
 * environment), or from --database. The URL is only ever shown masked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "store/db.h"
#include "store/journal.h"
#include "util/xmalloc.h"

static const char database_usage[] =
    "usage: loka-stratum database migrate [options]\n"
    "       loka-stratum database status [options]\n"
    "       loka-stratum database reset --yes [options]\n"
    "       loka-stratum database backup FILE [options]\n"
    "       loka-stratum database restore FILE --yes [options]\n"
    "\n"
    "migrate  apply the pending schema migrations (each in its own "
    "transaction;\n"
    "         instances sharing one PostgreSQL may run it together)\n"
    "status   print the engine, the database URL (password masked) and "
    "every\n"
    "         migration: applied (when) or pending\n"
    "reset    drop every Loka table and all its data; needs --yes\n"
    "backup   a consistent copy of a SQLite database in FILE, made while\n"
    "         Loka runs (PostgreSQL: use pg_dump, see docs/operations.md)\n"
    "restore  put a backup FILE in place of the SQLite database; Loka must\n"
    "         be stopped; needs --yes. The next start replays the journal's\n"
    "         events since the backup\n"
    "\n"
    "options:\n"
    "  -c, --config FILE    configuration file (default " CFG_DEFAULT_PATH
    " when it\n"
    "                       exists; else defaults and the environment)\n"
    "      --database URL   instead of [database] url: sqlite://PATH or\n"
    "                       postgresql://user@host/db\n"
    "      --yes            confirm reset\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 ok, 1 the database failed (unreachable, SQL error),\n"
    "2 usage or configuration error.\n";

struct database_opts {
	const char *config;
	const char *database;
	const char *sub;
	const char *file;
	int yes;
};

/* 0 ok, 1 help printed, -1 usage error (printed). */
static int
database_parse(int argc, char **argv, struct database_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			o->database = optarg;
			break;
		case 'y':
			o->yes = 1;
			break;
		case 'h':
			fputs(database_usage, stdout);
			return 1;
		default:
			fputs(database_usage, stderr);
			return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "loka-stratum database: which command? "
		    "(migrate, status, reset, backup or restore)\n%s",
		    database_usage);
		return -1;
	}
	o->sub = argv[optind++];
	if ((strcmp(o->sub, "backup") == 0 || strcmp(o->sub, "restore") == 0)) {
		if (optind == argc) {
			fprintf(stderr, "loka-stratum database %s: which file?\n"
			    "%s", o->sub, database_usage);
			return -1;
		}
		o->file = argv[optind++];
	} else if (strcmp(o->sub, "migrate") != 0 &&
	    strcmp(o->sub, "status") != 0 && strcmp(o->sub, "reset") != 0) {
		fprintf(stderr, "loka-stratum database: unknown command "
		    "\"%s\"\n%s", o->sub, database_usage);
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "loka-stratum database: unexpected argument "
		    "\"%s\"\n%s", argv[optind], database_usage);
		return -1;
	}
	return 0;
}

static int
database_status(struct db *db, const char *masked)
{
	struct db_migration_info *info;
	int n, pending = 0;
	char err[512];

	n = db_migration_count();
	info = xcalloc((size_t)n + 1, sizeof(*info));
	n = db_migration_status(db, info, (size_t)n, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "loka-stratum database: status of %s failed: "
		    "%s\n", masked, err);
		free(info);
		return CLI_EXIT_FAILURE;
	}
	printf("engine:   %s\n", db_kind_name(db_kind(db)));
	printf("database: %s\n", masked);
	{
		char id[DB_IDENTITY_MAX + 1];
		int irc = db_identity(db, id, sizeof(id), err, sizeof(err));

		printf("identity: %s\n", irc == 0 ? id : irc == 1 ?
		    "none yet (made by migration 2)" : err);
	}
	for (int i = 0; i < n; i++) {
		if (info[i].applied) {
			printf("  %3d  %-28s applied %s\n", info[i].version,
			    info[i].name, info[i].applied_at);
		} else {
			printf("  %3d  %-28s pending\n", info[i].version,
			    info[i].name);
			pending++;
		}
	}
	if (pending > 0)
		printf("%d of %d migration%s pending: run `loka-stratum "
		    "database migrate`\n", pending, n, n == 1 ? "" : "s");
	else
		printf("schema up to date (version %d)\n",
		    n > 0 ? info[n - 1].version : 0);
	free(info);
	return CLI_EXIT_OK;
}

/* A percentage on a terminal while pages are copied. */
static void
show_progress(void *arg, int done, int total)
{
	(void)arg;
	if (total > 0 && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%3d%% of %d pages", done * 100 / total,
		    total);
}

/* What a SQLite file holds: its identity and each instance's progress. */
static int
print_progress(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	(void)arg;
	(void)names;
	if (ncols == 2)
		printf("  instance %s: events up to %s\n",
		    values[0] != NULL ? values[0] : "?",
		    values[1] != NULL ? values[1] : "?");
	return 0;
}

static int
describe_copy(const char *file, char *id, size_t idlen)
{
	char *url = xasprintf("sqlite://%s", file), err[512];
	struct db *db = db_open_flags(url, 5000, DB_OPEN_READONLY, err,
	    sizeof(err));
	int rc = -1;

	free(url);
	if (db == NULL || db_identity(db, id, idlen, err, sizeof(err)) != 0) {
		fprintf(stderr, "loka-stratum database: %s is not a Loka "
		    "database%s%s\n", file, db != NULL ? "" : ": ",
		    db != NULL ? "" : err);
		goto out;
	}
	printf("  database identity %s\n", id);
	if (db_exec(db, "SELECT instance, last_seq FROM store_progress ORDER "
	    "BY instance", NULL, 0, print_progress, NULL, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "loka-stratum database: %s: %s\n", file, err);
		goto out;
	}
	rc = 0;
out:
	db_close(db);
	return rc;
}

static int
database_backup(const struct cfg *c, const char *file, const char *masked)
{
	char err[512], id[DB_IDENTITY_MAX + 1];

	if (strncmp(c->database.url, "sqlite://", 9) != 0) {
		fprintf(stderr, "loka-stratum database: backup copies SQLite "
		    "databases; for PostgreSQL use pg_dump --format=custom "
		    "--file=%s with the same URL (docs/operations.md)\n", file);
		return CLI_EXIT_USAGE;
	}
	if (db_backup_sqlite(c->database.url, file, show_progress, NULL, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "\nloka-stratum database: backup of %s "
		    "failed: %s\n", masked, err);
		return CLI_EXIT_FAILURE;
	}
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	printf("%s: backup of %s\n", file, masked);
	return describe_copy(file, id, sizeof(id)) == 0 ? CLI_EXIT_OK :
	    CLI_EXIT_FAILURE;
}

static int
database_restore(const struct cfg *c, const char *file, const char *masked)
{
	char err[512], id[DB_IDENTITY_MAX + 1], oerr[256];
	struct journal *j;
	struct journal_owner o;
	int rc = CLI_EXIT_FAILURE;

	if (strncmp(c->database.url, "sqlite://", 9) != 0) {
		fprintf(stderr, "loka-stratum database: restore puts SQLite "
		    "backups back; for PostgreSQL use pg_restore --clean "
		    "(docs/operations.md)\n");
		return CLI_EXIT_USAGE;
	}
	printf("%s:\n", file);
	if (describe_copy(file, id, sizeof(id)) != 0)
		return CLI_EXIT_FAILURE;
	/* The journal's lock: no Loka writes the database meanwhile. */
	j = journal_open(c->database.spool_path, UINT64_MAX, 0, err,
	    sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "loka-stratum database: %s (stop Loka before "
		    "restoring)\n", err);
		return CLI_EXIT_FAILURE;
	}
	if (db_restore_sqlite(file, c->database.url, show_progress, NULL, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "\nloka-stratum database: restore into %s "
		    "failed: %s\n", masked, err);
		goto out;
	}
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	printf("restored into %s\n", masked);
	if (journal_owner_read(c->database.spool_path, &o, oerr,
	    sizeof(oerr)) == 0 && strcmp(o.database, id) != 0)
		printf("the journal %s belongs to database %s, not this one: "
		    "start will refuse it; run `loka-stratum journal adopt` to "
		    "write its events into the restored database\n",
		    c->database.spool_path, o.database);
	else
		printf("the next start writes into it the journal's events "
		    "since the backup (journal %s)\n", c->database.spool_path);
	rc = CLI_EXIT_OK;
out:
	journal_close(j);
	return rc;
}

int
cmd_database(int argc, char **argv)
{
	struct database_opts o = { 0 };
	struct cfg *c;
	struct db *db;
	char err[512];
	char *masked;
	int rc;

	rc = database_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	c = cli_load_config(o.config, o.database);
	if (c == NULL)
		return CLI_EXIT_USAGE;
	masked = cfg_mask_url(c->database.url);
	if (strcmp(o.sub, "backup") == 0) {
		rc = database_backup(c, o.file, masked);
		goto out;
	}
	if (strcmp(o.sub, "restore") == 0) {
		if (!o.yes) {
			fprintf(stderr, "loka-stratum database: restore replaces "
			    "%s with %s; add --yes to do it\n", masked, o.file);
			rc = CLI_EXIT_USAGE;
		} else {
			rc = database_restore(c, o.file, masked);
		}
		goto out;
	}
	if (strcmp(o.sub, "reset") == 0 && !o.yes) {
		fprintf(stderr, "loka-stratum database: reset drops every Loka "
		    "table of %s and all its data; add --yes to do it\n",
		    masked);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	db = db_open(c->database.url, c->database.connection_timeout_ms, err,
	    sizeof(err));
	if (db == NULL) {
		/* err starts with the masked URL. */
		fprintf(stderr, "loka-stratum database: cannot open the "
		    "database: %s\n", err);
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	if (strcmp(o.sub, "status") == 0) {
		rc = database_status(db, masked);
	} else if (strcmp(o.sub, "migrate") == 0) {
		int n = db_migrate(db, err, sizeof(err));

		if (n < 0) {
			fprintf(stderr, "loka-stratum database: migrating %s "
			    "failed: %s\n", masked, err);
			rc = CLI_EXIT_FAILURE;
		} else if (n == 0) {
			printf("%s: schema up to date (version %d)\n", masked,
			    db_migration_count());
			rc = CLI_EXIT_OK;
		} else {
			printf("%s: applied %d migration%s (schema version "
			    "%d)\n", masked, n, n == 1 ? "" : "s",
			    db_migration_count());
			rc = CLI_EXIT_OK;
		}
	} else {
		if (db_reset(db, err, sizeof(err)) != 0) {
			fprintf(stderr, "loka-stratum database: reset of %s "
			    "failed: %s\n", masked, err);
			rc = CLI_EXIT_FAILURE;
		} else {
			printf("%s: every Loka table dropped (run "
			    "`loka-stratum database migrate` to start "
			    "afresh)\n", masked);
			rc = CLI_EXIT_OK;
		}
	}
	db_close(db);
out:
	free(masked);
	cfg_free(c);
	return rc;
}
