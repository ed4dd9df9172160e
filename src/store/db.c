/*
 * db.c: the engine-independent half of db.h: URL dispatch, '?' placeholder
 * counting and translation ($1, $2, ... for PostgreSQL), transactions,
 * convenience queries, and the hygiene of error messages.
 *
 * Error messages from db_open() start with the masked URL and then go
 * through a last pass that replaces every password the URL carries (raw
 * and percent-decoded) by "***": an engine may quote a malformed part of
 * a URL back, and a password must never reach a log line.
 *
 * A struct db is one connection and is used by one thread at a time.
 */
#include "store/db.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "store/db_internal.h"
#include "util/xmalloc.h"

struct db {
	enum db_kind kind;
	struct db_sqlite *sqlite;
	struct db_pg *pg;
};

void
db_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t i, o;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* Fold line breaks and tabs into single spaces. */
	for (i = 0, o = 0; err[i] != '\0'; i++) {
		char c = err[i];

		if (c == '\n' || c == '\r' || c == '\t') {
			if (o == 0 || err[o - 1] == ' ')
				continue;
			c = ' ';
		}
		err[o++] = c;
	}
	while (o > 0 && err[o - 1] == ' ')
		o--;
	err[o] = '\0';
}

static int
is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/*
 * If p starts a string literal, quoted identifier or comment, the first
 * character after it (the end of sql if it is unterminated); else p.
 */
static const char *
skip_quoted(const char *sql, const char *p)
{
	const char *q;

	switch (*p) {
	case '\'': {
		/* E'...' (PostgreSQL) takes backslash escapes. */
		int esc = p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
		    (p - 1 == sql || !is_ident_char(p[-2]));

		for (q = p + 1; *q != '\0'; q++) {
			if (esc && *q == '\\' && q[1] != '\0')
				q++;
			else if (*q == '\'' && q[1] == '\'')
				q++;
			else if (*q == '\'')
				return q + 1;
		}
		return q;
	}
	case '"':
	case '`':
		q = strchr(p + 1, *p);
		return q != NULL ? q + 1 : p + strlen(p);
	case '-':
		if (p[1] != '-')
			return p;
		q = strchr(p, '\n');
		return q != NULL ? q + 1 : p + strlen(p);
	case '/':
		if (p[1] != '*')
			return p;
		q = strstr(p + 2, "*/");
		return q != NULL ? q + 2 : p + strlen(p);
	case '$': {
		/* $tag$ ... $tag$ (PostgreSQL); "$1" is not one. */
		size_t taglen;

		if (p > sql && is_ident_char(p[-1]))
			return p;
		q = p + 1;
		if (*q != '$' && !isalpha((unsigned char)*q) && *q != '_')
			return p;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		if (*q != '$')
			return p;
		taglen = (size_t)(q + 1 - p);
		for (q = q + 1; *q != '\0'; q++)
			if (*q == '$' && strncmp(q, p, taglen) == 0)
				return q + taglen;
		return q;
	}
	default:
		return p;
	}
}

/* Count placeholders; with buf, also write the translated text there. */
static int
scan_placeholders(const char *sql, char *buf, size_t buflen)
{
	const char *p = sql;
	size_t o = 0;
	int n = 0;

	while (*p != '\0') {
		const char *q = skip_quoted(sql, p);

		if (q != p) {
			if (buf != NULL) {
				memcpy(buf + o, p, (size_t)(q - p));
				o += (size_t)(q - p);
			}
			p = q;
			continue;
		}
		if (*p == '?') {
			n++;
			if (buf != NULL)
				o += (size_t)snprintf(buf + o, buflen - o,
				    "$%d", n);
		} else if (buf != NULL) {
			buf[o++] = *p;
		}
		p++;
	}
	if (buf != NULL)
		buf[o] = '\0';
	return n;
}

int
db_placeholders(const char *sql, char **out)
{
	int n = scan_placeholders(sql, NULL, 0);

	if (out != NULL) {
		/* Each '?' (1 byte) becomes '$' and at most 10 digits. */
		size_t len = strlen(sql) + (size_t)n * 10 + 1;

		*out = xmalloc(len);
		scan_placeholders(sql, *out, len);
	}
	return n;
}

/* Decode %XX escapes (an invalid one is kept as is). */
static char *
percent_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* Replace every occurrence of secret (len > 0) in err by "***". */
static void
redact(char *err, size_t errlen, const char *secret, size_t len)
{
	char *tmp;
	size_t o = 0;

	if (len == 0 || strstr(err, secret) == NULL)
		return;
	tmp = xmalloc(errlen);
	for (const char *p = err; *p != '\0' && o + 1 < errlen;) {
		if (strncmp(p, secret, len) == 0) {
			const char *r = "***";

			while (*r != '\0' && o + 1 < errlen)
				tmp[o++] = *r++;
			p += len;
		} else {
			tmp[o++] = *p++;
		}
	}
	tmp[o] = '\0';
	memcpy(err, tmp, o + 1);
	free(tmp);
}

static void
redact_span(char *err, size_t errlen, const char *s, size_t len)
{
	char *raw = xstrndup(s, len);
	char *dec = percent_decode(s, len);

	redact(err, errlen, raw, len);
	redact(err, errlen, dec, strlen(dec));
	free(raw);
	free(dec);
}

/* Remove from err every password url holds: userinfo and query. */
static void
redact_url_secrets(char *err, size_t errlen, const char *url)
{
	const char *q;
	size_t off, len;

	if (err == NULL || errlen == 0)
		return;
	if (cfg_url_password(url, &off, &len) == 0)
		redact_span(err, errlen, url + off, len);
	q = strchr(url, '?');
	while (q != NULL) {
		q++;
		if (strncmp(q, "password=", 9) == 0) {
			len = strcspn(q + 9, "&#");
			if (len > 0)
				redact_span(err, errlen, q + 9, len);
		}
		q = strchr(q, '&');
	}
}

struct db *
db_open(const char *url, int64_t connect_timeout_ms, char *err,
    size_t errlen)
{
	return db_open_flags(url, connect_timeout_ms, 0, err, errlen);
}

struct db *
db_open_flags(const char *url, int64_t connect_timeout_ms, int flags,
    char *err, size_t errlen)
{
	struct db *db;
	char msg[512];
	char *masked;
	int ok = 0;

	if (url == NULL || *url == '\0') {
		db_errf(err, errlen, "no database URL given");
		return NULL;
	}
	msg[0] = '\0';
	db = xcalloc(1, sizeof(*db));
	if (strncmp(url, "sqlite://", 9) == 0) {
		db->kind = DB_SQLITE;
		if (url[9] == '\0')
			db_errf(msg, sizeof(msg), "sqlite:// needs a file path "
			    "(sqlite://loka.db, sqlite:///var/lib/loka.db)");
		else
			db->sqlite = db_sqlite_open(url + 9,
			    connect_timeout_ms, !(flags & (DB_OPEN_EXISTING |
			    DB_OPEN_READONLY)), (flags & DB_OPEN_READONLY) != 0,
			    msg, sizeof(msg));
		ok = db->sqlite != NULL;
	} else if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0) {
		db->kind = DB_POSTGRES;
		db->pg = db_pg_open(url, connect_timeout_ms, msg, sizeof(msg));
		ok = db->pg != NULL;
	} else {
		db_errf(msg, sizeof(msg), "unsupported database URL (expected "
		    "sqlite://PATH or postgresql://user@host/db)");
	}
	if (ok)
		return db;
	masked = cfg_mask_url(url);
	db_errf(err, errlen, "%s: %s", masked, msg);
	redact_url_secrets(err, errlen, url);
	free(masked);
	free(db);
	return NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->sqlite != NULL)
		db_sqlite_close(db->sqlite);
	if (db->pg != NULL)
		db_pg_close(db->pg);
	free(db);
}

enum db_kind
db_kind(const struct db *db)
{
	return db->kind;
}

const char *
db_kind_name(enum db_kind kind)
{
	switch (kind) {
	case DB_SQLITE:
		return "sqlite";
	case DB_POSTGRES:
		return "postgresql";
	default:
		return "unknown";
	}
}

int
db_exec(struct db *db, const char *sql, const char *const *params,
    int nparams, db_row_fn fn, void *arg, char *err, size_t errlen)
{
	char *pgsql = NULL;
	int n, rc;

	if (db == NULL || sql == NULL || nparams < 0 ||
	    (nparams > 0 && params == NULL)) {
		db_errf(err, errlen, "db_exec: bad arguments");
		return -1;
	}
	n = scan_placeholders(sql, NULL, 0);
	if (n != nparams) {
		db_errf(err, errlen, "statement has %d placeholder%s but %d "
		    "parameter%s given", n, n == 1 ? "" : "s", nparams,
		    nparams == 1 ? " was" : "s were");
		return -1;
	}
	if (db->kind == DB_SQLITE)
		return db_sqlite_exec(db->sqlite, sql, params, nparams, fn,
		    arg, err, errlen);
	if (n > 0)
		db_placeholders(sql, &pgsql);
	rc = db_pg_exec(db->pg, pgsql != NULL ? pgsql : sql, params, nparams,
	    fn, arg, err, errlen);
	free(pgsql);
	return rc;
}

int
db_begin(struct db *db, char *err, size_t errlen)
{
	/*
	 * SQLite: take the write lock now. A deferred transaction that
	 * reads first and writes later can fail with SQLITE_BUSY on the
	 * upgrade without the busy timeout ever helping; every Loka
	 * transaction writes.
	 */
	return db_exec(db, db != NULL && db->kind == DB_SQLITE ?
	    "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, NULL, err, errlen);
}

int
db_commit(struct db *db, char *err, size_t errlen)
{
	return db_exec(db, "COMMIT", NULL, 0, NULL, NULL, err, errlen);
}

int
db_rollback(struct db *db)
{
	char err[256];

	return db_exec(db, "ROLLBACK", NULL, 0, NULL, NULL, err, sizeof(err));
}

bool
db_healthy(struct db *db)
{
	if (db == NULL)
		return false;
	if (db->kind == DB_POSTGRES)
		return db_pg_healthy(db->pg);
	return db->sqlite != NULL;
}

int
db_check(struct db *db, char *err, size_t errlen)
{
	if (db == NULL) {
		db_errf(err, errlen, "not connected");
		return -1;
	}
	if (db->kind == DB_SQLITE)
		return db_sqlite_check(db->sqlite, err, errlen);
	/* No reconnection here (db_healthy's): a database recreated under
	 * the same name must not pass for the one that was opened. */
	if (!db_pg_connected(db->pg)) {
		db_errf(err, errlen, "the connection to PostgreSQL was lost");
		return -1;
	}
	return 0;
}

struct first_value {
	bool row;
	bool null;
	char *text;
};

static int
first_value_row(void *arg, int ncols, const char *const *values,
    const char *const *names)
{
	struct first_value *f = arg;

	(void)names;
	f->row = true;
	if (ncols < 1 || values[0] == NULL)
		f->null = true;
	else
		f->text = xstrdup(values[0]);
	return 1;
}

static int
query_first(struct db *db, const char *sql, const char *const *params,
    int nparams, struct first_value *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (db_exec(db, sql, params, nparams, first_value_row, f, err,
	    errlen) != 0) {
		free(f->text);
		f->text = NULL;
		return -1;
	}
	return f->text != NULL ? 0 : 1;
}

/* Integer text, or a float text with an integral value ("3.0"). */
static int
parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	double d;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == 0 && end != s && *end == '\0') {
		*out = v;
		return 0;
	}
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) ||
	    d != floor(d) || d < -9223372036854775808.0 ||
	    d >= 9223372036854775808.0)
		return -1;
	*out = (int64_t)d;
	return 0;
}

int
db_query_int(struct db *db, const char *sql, const char *const *params,
    int nparams, int64_t *out, char *err, size_t errlen)
{
	struct first_value f;
	int rc;

	rc = query_first(db, sql, params, nparams, &f, err, errlen);
	if (rc != 0)
		return rc;
	if (parse_int64(f.text, out) != 0) {
		db_errf(err, errlen, "expected an integer, got \"%.40s\"",
		    f.text);
		rc = -1;
	}
	free(f.text);
	return rc;
}

int
db_query_text(struct db *db, const char *sql, const char *const *params,
    int nparams, char **out, char *err, size_t errlen)
{
	struct first_value f;
	int rc;

	*out = NULL;
	rc = query_first(db, sql, params, nparams, &f, err, errlen);
	if (rc == 0)
		*out = f.text;
	return rc;
}

static const char *
sqlite_path(const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "sqlite://", 9) != 0 || url[9] == '\0' ||
	    strcmp(url + 9, ":memory:") == 0) {
		db_errf(err, errlen, "not a SQLite database file URL "
		    "(sqlite://PATH)");
		return NULL;
	}
	return url + 9;
}

/* fsync a file, or a directory. */
static int
sync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
db_backup_sqlite(const char *url, const char *file, db_progress_fn progress,
    void *arg, char *err, size_t errlen)
{
	const char *path = sqlite_path(url, err, errlen);
	char *tmp, *dir, *slash;
	int rc = -1;

	if (path == NULL)
		return -1;
	if (access(path, F_OK) != 0) {
		db_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	tmp = xasprintf("%s.tmp", file);
	unlink(tmp);
	if (db_sqlite_copy(path, tmp, false, progress, arg, err, errlen) != 0)
		goto out;
	dir = xstrdup(file);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	if (sync_path(tmp, false) != 0 || rename(tmp, file) != 0 ||
	    sync_path(slash != NULL ? dir : ".", true) != 0)
		db_errf(err, errlen, "%s: %s", file, strerror(errno));
	else
		rc = 0;
	free(dir);
out:
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
db_restore_sqlite(const char *file, const char *url, db_progress_fn progress,
    void *arg, char *err, size_t errlen)
{
	const char *path = sqlite_path(url, err, errlen);

	if (path == NULL)
		return -1;
	if (access(file, R_OK) != 0) {
		db_errf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	return db_sqlite_copy(file, path, true, progress, arg, err, errlen);
}
