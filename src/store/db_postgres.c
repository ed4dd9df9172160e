/*
 * db_postgres.c: the PostgreSQL backend of db.h (see db_internal.h), on
 * libpq.
 *
 * The URL goes to libpq as given (multi-host URLs and
 * target_session_attrs work), with our connect_timeout in front of it so
 * that one written in the URL wins. Statements with parameters go through
 * PQexecParams with text parameters (types inferred by the server), a
 * script without parameters through PQexec. Error messages are the
 * server's primary message and SQLSTATE only: the DETAIL of a constraint
 * violation quotes the failing row, which may hold a pool password.
 * Nothing here ever prints the connection string.
 *
 * One struct db_pg is used by one thread at a time.
 */
#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* INSERT ... ON CONFLICT needs 9.5. */
#define PG_MIN_SERVER_VERSION 90500
/* libpq's own floor for connect_timeout (seconds). */
#define PG_MIN_CONNECT_TIMEOUT 2

struct db_pg {
	PGconn *conn;
};

/* Server notices ("table exists, skipping") are for debugging only. */
static void
pg_notice(void *arg, const char *message)
{
	size_t len = strlen(message);

	(void)arg;
	while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
		len--;
	log_debug("store", "postgresql: %.*s", (int)len, message);
}

struct db_pg *
db_pg_open(const char *url, int64_t connect_timeout_ms, char *err,
    size_t errlen)
{
	/* Keywords are applied in order: the URL (dbname, expanded) last. */
	static const char *const keys[] = { "connect_timeout",
		"fallback_application_name", "dbname", NULL };
	const char *values[4];
	char secs[24];
	int64_t t = (connect_timeout_ms + 999) / 1000;
	struct db_pg *p;
	PGconn *conn;

	if (t < PG_MIN_CONNECT_TIMEOUT)
		t = PG_MIN_CONNECT_TIMEOUT;
	snprintf(secs, sizeof(secs), "%lld", (long long)t);
	values[0] = secs;
	values[1] = "loka-stratum";
	values[2] = url;
	values[3] = NULL;
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL) {
		db_errf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		db_errf(err, errlen, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	if (PQserverVersion(conn) < PG_MIN_SERVER_VERSION) {
		db_errf(err, errlen, "PostgreSQL 9.5 or later is needed (the "
		    "server is %d)", PQserverVersion(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, pg_notice, NULL);
	p = xcalloc(1, sizeof(*p));
	p->conn = conn;
	return p;
}

static void
result_error(struct db_pg *p, PGresult *res, char *err, size_t errlen)
{
	const char *msg = NULL, *state = NULL;

	if (res != NULL) {
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (msg == NULL)
		msg = res != NULL && *PQresultErrorMessage(res) != '\0' ?
		    PQresultErrorMessage(res) : PQerrorMessage(p->conn);
	if (state != NULL)
		db_errf(err, errlen, "%s (SQLSTATE %s)", msg, state);
	else
		db_errf(err, errlen, "%s", msg);
}

int
db_pg_exec(struct db_pg *p, const char *sql, const char *const *params,
    int nparams, db_row_fn fn, void *arg, char *err, size_t errlen)
{
	const char *vstack[16], *nstack[16];
	const char **values = vstack, **names = nstack;
	PGresult *res;
	int ncols, nrows, ret = 0;

	if (nparams == 0)
		res = PQexec(p->conn, sql);
	else
		res = PQexecParams(p->conn, sql, nparams, NULL, params, NULL,
		    NULL, 0);
	switch (res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		break;
	case PGRES_TUPLES_OK:
		if (fn == NULL)
			break;
		ncols = PQnfields(res);
		nrows = PQntuples(res);
		if (ncols > 16) {
			values = xcalloc((size_t)ncols, sizeof(*values));
			names = xcalloc((size_t)ncols, sizeof(*names));
		}
		for (int c = 0; c < ncols; c++)
			names[c] = PQfname(res, c);
		for (int r = 0; r < nrows; r++) {
			for (int c = 0; c < ncols; c++)
				values[c] = PQgetisnull(res, r, c) ? NULL :
				    PQgetvalue(res, r, c);
			if (fn(arg, ncols, values, names) != 0)
				break;
		}
		if (values != vstack) {
			free(values);
			free(names);
		}
		break;
	default:
		result_error(p, res, err, errlen);
		ret = -1;
		break;
	}
	PQclear(res);
	return ret;
}

bool
db_pg_healthy(struct db_pg *p)
{
	if (p == NULL)
		return false;
	if (PQstatus(p->conn) == CONNECTION_OK)
		return true;
	/* Blocks up to connect_timeout; the store thread may afford it. */
	PQreset(p->conn);
	return PQstatus(p->conn) == CONNECTION_OK;
}

bool
db_pg_connected(struct db_pg *p)
{
	return p != NULL && PQstatus(p->conn) == CONNECTION_OK;
}

void
db_pg_close(struct db_pg *p)
{
	if (p == NULL)
		return;
	PQfinish(p->conn);
	free(p);
}
