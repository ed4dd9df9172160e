/*
 * cmd_journal.c: `loka-stratum journal status | adopt | set-aside`: the
 * share-event journal and the database it belongs to.
 *
 * A journal replays only into its own database (docs/internals/store.md,
 * "Whose journal"). When start refuses a journal, these commands are what
 * the operator does about it: look at both sides (status), declare the
 * configured database the journal's (adopt: after restoring a backup, or
 * to put the journal's events into a new database), or keep the journal
 * aside and let the next start begin a new one (set-aside). adopt and
 * set-aside take the journal's lock: Loka must not be running on it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "store/db.h"
#include "store/journal.h"
#include "store/store.h"
#include "util/xmalloc.h"

static const char journal_usage[] =
    "usage: loka-stratum journal status [options]\n"
    "       loka-stratum journal adopt [options]\n"
    "       loka-stratum journal set-aside [options]\n"
    "\n"
    "status     the journal (directory, events, owner) and the database\n"
    "           (identity, this instance's progress), and what start will do\n"
    "adopt      make the configured database the journal's owner: the next\n"
    "           start writes into it every journaled event it has not\n"
    "           applied (after restoring a backup, or to move the events\n"
    "           to a new database); migrates the database if needed\n"
    "set-aside  rename the journal directory to DIR.set-aside-TIMESTAMP,\n"
    "           events kept, so that the next start begins a new journal\n"
    "\n"
    "adopt and set-aside need the journal to themselves: stop Loka first.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE    configuration file (default " CFG_DEFAULT_PATH
    " when it\n"
    "                       exists; else defaults and the environment)\n"
    "      --database URL   instead of [database] url\n"
    "      --journal DIR    instead of [database] spool_path\n"
    "      --instance NAME  instead of [database] instance (start names\n"
    "                       it in its refusal when it is not configured)\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 ok, 1 failure (journal in use, database unreachable),\n"
    "2 usage or configuration error.\n";

struct journal_opts {
	const char *config;
	const char *database;
	const char *journal;
	const char *instance;
	const char *sub;
};

/* 0 ok, 1 help printed, -1 usage error (printed). */
static int
journal_parse(int argc, char **argv, struct journal_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "journal", required_argument, NULL, 'j' },
		{ "instance", required_argument, NULL, 'i' },
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
		case 'j':
			o->journal = optarg;
			break;
		case 'i':
			o->instance = optarg;
			break;
		case 'h':
			fputs(journal_usage, stdout);
			return 1;
		default:
			fputs(journal_usage, stderr);
			return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "loka-stratum journal: which command? (status, "
		    "adopt or set-aside)\n%s", journal_usage);
		return -1;
	}
	o->sub = argv[optind++];
	if (strcmp(o->sub, "status") != 0 && strcmp(o->sub, "adopt") != 0 &&
	    strcmp(o->sub, "set-aside") != 0) {
		fprintf(stderr, "loka-stratum journal: unknown command \"%s\"\n"
		    "%s", o->sub, journal_usage);
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "loka-stratum journal: unexpected argument "
		    "\"%s\"\n%s", argv[optind], journal_usage);
		return -1;
	}
	return 0;
}

/* The database side: identity (rc of db_identity) and progress. */
struct db_side {
	int identity_rc;          /* 0 id, 1 no schema, -1 error */
	char id[DB_IDENTITY_MAX + 1];
	int64_t progress;
	char err[512];
};

static void
read_db_side(struct db *db, const char *instance, struct db_side *d)
{
	d->progress = 0;
	d->identity_rc = db_identity(db, d->id, sizeof(d->id), d->err,
	    sizeof(d->err));
	if (d->identity_rc == 0 && db_query_int(db, "SELECT last_seq FROM "
	    "store_progress WHERE instance = ?", (const char *[]){ instance },
	    1, &d->progress, d->err, sizeof(d->err)) < 0)
		d->identity_rc = -1;
}

static void
print_journal(const struct journal *j, const struct journal_owner *o,
    int owner_rc, const char *owner_err)
{
	printf("journal:   %s\n", journal_dir(j));
	if (journal_last_seq(j) == 0)
		printf("events:    none yet\n");
	else if (journal_first_seq(j) == 0)
		printf("events:    none held (numbering at %" PRIu64 ")\n",
		    journal_last_seq(j));
	else
		printf("events:    %" PRIu64 " to %" PRIu64 " (%zu segment%s, "
		    "%" PRIu64 " bytes)\n", journal_first_seq(j),
		    journal_last_seq(j), journal_segments(j),
		    journal_segments(j) == 1 ? "" : "s", journal_bytes(j));
	if (owner_rc == 1)
		printf("owner:     none recorded\n");
	else if (owner_rc < 0)
		printf("owner:     unreadable: %s\n", owner_err);
	else if (o->has_drained)
		printf("owner:     database %s, instance %s; stopped cleanly "
		    "with every event up to %" PRIu64 " in it\n", o->database,
		    o->instance, o->drained);
	else
		printf("owner:     database %s, instance %s\n", o->database,
		    o->instance);
}

static void
print_verdict(const struct journal *j, const struct journal_owner *o,
    int owner_rc, const struct db_side *d, const char *instance)
{
	enum store_claim c;
	uint64_t last = journal_last_seq(j);

	if (owner_rc < 0 || d->identity_rc != 0) {
		printf("start:     cannot tell (%s)\n", owner_rc < 0 ?
		    "the owner file is unreadable" : "the database cannot be "
		    "read");
		return;
	}
	c = store_judge(j, o, owner_rc == 0, d->id, instance,
	    (uint64_t)d->progress);
	switch (c) {
	case STORE_CLAIM_OURS:
	case STORE_CLAIM_LEGACY:
		if ((uint64_t)d->progress >= last)
			printf("start:     the journal is this database's; "
			    "nothing to replay\n");
		else
			printf("start:     the journal is this database's; "
			    "replays events %" PRId64 " to %" PRIu64 "\n",
			    d->progress + 1, last);
		break;
	case STORE_CLAIM_NEW:
		printf("start:     a new journal: it becomes this "
		    "database's\n");
		break;
	case STORE_CLAIM_DRAINED:
		printf("start:     every event is in the journal's old "
		    "database; the journal moves to this one, nothing is "
		    "replayed\n");
		break;
	case STORE_CLAIM_FOREIGN:
	case STORE_CLAIM_UNKNOWN:
		printf("start:     REFUSED: the journal's events may belong to "
		    "another database. Point [database] url at it, or run "
		    "`loka-stratum journal adopt` (this database receives "
		    "them) or `loka-stratum journal set-aside`\n");
		break;
	}
}

static int
journal_status(const struct cfg *c, const char *dir, const char *instance)
{
	struct journal *j;
	struct journal_owner o;
	struct db_side d = { .identity_rc = -1 };
	struct db *db;
	char err[512], oerr[512];
	char *masked = cfg_mask_url(c->database.url);
	int orc;

	if (access(dir, F_OK) != 0 && errno == ENOENT) {
		printf("journal:   %s\nevents:    none yet (no journal there: "
		    "start makes it)\ndatabase:  %s\n", dir, masked);
		free(masked);
		return CLI_EXIT_OK;
	}
	j = journal_open(dir, UINT64_MAX, JOURNAL_READONLY, err, sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "loka-stratum journal: %s\n", err);
		free(masked);
		return CLI_EXIT_FAILURE;
	}
	orc = journal_owner_read(dir, &o, oerr, sizeof(oerr));
	print_journal(j, &o, orc, oerr);
	printf("database:  %s\n", masked);
	db = db_open_flags(c->database.url, c->database.connection_timeout_ms,
	    DB_OPEN_EXISTING, d.err, sizeof(d.err));
	if (db != NULL)
		read_db_side(db, instance, &d);
	if (db == NULL || d.identity_rc < 0)
		printf("identity:  unknown (%s)\n", d.err);
	else if (d.identity_rc == 1)
		printf("identity:  none (no Loka schema yet)\n");
	else
		printf("identity:  %s\nprogress:  instance %s: events up to %"
		    PRId64 " applied\n", d.id, instance, d.progress);
	if (db != NULL && d.identity_rc == 1) {
		/* A database start would create and migrate. */
		printf("start:     migrates the database; the journal is %s\n",
		    journal_last_seq(j) == 0 ? "new and becomes its own" :
		    "then refused unless adopted");
	} else {
		print_verdict(j, &o, orc, &d, instance);
	}
	db_close(db);
	journal_close(j);
	free(masked);
	return CLI_EXIT_OK;
}

static int
journal_adopt(const struct cfg *c, const char *dir, const char *instance)
{
	struct journal *j;
	struct journal_owner o;
	struct db_side d;
	struct db *db;
	char err[512];
	int rc = CLI_EXIT_FAILURE;

	j = journal_open(dir, UINT64_MAX, 0, err, sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "loka-stratum journal: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	db = db_open(c->database.url, c->database.connection_timeout_ms, err,
	    sizeof(err));
	if (db == NULL || db_migrate(db, err, sizeof(err)) < 0) {
		fprintf(stderr, "loka-stratum journal: the database: %s\n",
		    err);
		goto out;
	}
	read_db_side(db, instance, &d);
	if (d.identity_rc != 0) {
		fprintf(stderr, "loka-stratum journal: the database: %s\n",
		    d.identity_rc < 0 ? d.err : "no identity after migrating");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	snprintf(o.database, sizeof(o.database), "%s", d.id);
	snprintf(o.instance, sizeof(o.instance), "%s", instance);
	if (journal_owner_write(j, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "loka-stratum journal: %s\n", err);
		goto out;
	}
	printf("the journal %s now belongs to database %s (instance %s)\n",
	    dir, d.id, instance);
	if ((uint64_t)d.progress >= journal_last_seq(j))
		printf("the database already has every event of it (up to %"
		    PRId64 "): nothing will be replayed\n", d.progress);
	else
		printf("the next start writes events %" PRId64 " to %" PRIu64
		    " into it\n", d.progress + 1, journal_last_seq(j));
	if (journal_first_seq(j) > (uint64_t)d.progress + 1)
		printf("warning: the journal no longer holds events %" PRId64
		    " to %" PRIu64 ": the database will not receive them\n",
		    d.progress + 1, journal_first_seq(j) - 1);
	rc = CLI_EXIT_OK;
out:
	db_close(db);
	journal_close(j);
	return rc;
}

static int
journal_set_aside(const char *dir)
{
	struct journal *j;
	char err[512], stamp[32], *aside;
	time_t now = time(NULL);
	struct tm tm;
	uint64_t last;

	if (access(dir, F_OK) != 0) {
		fprintf(stderr, "loka-stratum journal: there is no journal at "
		    "%s\n", dir);
		return CLI_EXIT_FAILURE;
	}
	/* The lock: nobody writes while it moves. */
	j = journal_open(dir, UINT64_MAX, 0, err, sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "loka-stratum journal: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	last = journal_last_seq(j);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	aside = xasprintf("%s.set-aside-%s", dir, stamp);
	if (rename(dir, aside) != 0) {
		fprintf(stderr, "loka-stratum journal: cannot rename %s to %s: "
		    "%s\n", dir, aside, strerror(errno));
		journal_close(j);
		free(aside);
		return CLI_EXIT_FAILURE;
	}
	journal_close(j);
	printf("the journal %s (events up to %" PRIu64 ") is now %s; the next "
	    "start begins a new journal in %s\n", dir, last, aside, dir);
	free(aside);
	return CLI_EXIT_OK;
}

int
cmd_journal(int argc, char **argv)
{
	struct journal_opts o = { 0 };
	struct cfg *c;
	char *instance;
	const char *dir;
	int rc;

	rc = journal_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	c = cli_load_config(o.config, o.database);
	if (c == NULL)
		return CLI_EXIT_USAGE;
	dir = o.journal != NULL ? o.journal : c->database.spool_path;
	instance = o.instance != NULL ? xstrdup(o.instance) :
	    cfg_instance_name(c);
	if (strcmp(o.sub, "status") == 0)
		rc = journal_status(c, dir, instance);
	else if (strcmp(o.sub, "adopt") == 0)
		rc = journal_adopt(c, dir, instance);
	else
		rc = journal_set_aside(dir);
	free(instance);
	cfg_free(c);
	return rc;
}
