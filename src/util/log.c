/*
 * log.c: leveled logging to stderr in text or JSON-lines form, with secret
 * redaction (see log.h).
 *
 * A line is formatted into a fixed stack buffer (long messages are cut and
 * marked with "..."), secrets are redacted, then the whole line goes out in
 * one write(2). The level and format are relaxed atomics; the secret list is
 * guarded by a mutex (logging is never on the share path at info level).
 */
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest message kept; longer ones are truncated with "...". */
#define LOG_MSG_MAX 2048
/* A JSON-escaped message can grow up to 6x (\u00XX); plus the envelope. */
#define LOG_LINE_MAX (LOG_MSG_MAX * 6 + 256)
#define LOG_SECRETS_MAX 64
/* Shorter strings would redact ordinary words ("x", "no"). */
#define LOG_SECRET_MIN 3

static atomic_int log_level = LOG_INFO;
static atomic_int log_format = LOG_FORMAT_TEXT;
static atomic_int log_fd = STDERR_FILENO;

static pthread_mutex_t log_secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_secrets[LOG_SECRETS_MAX];
static size_t log_nsecrets;

static const char *const log_level_names[LOG_LEVEL_MAX] = {
	"error", "warn", "info", "debug", "trace"
};

void
log_set_level(enum log_level level)
{
	if (level < LOG_LEVEL_MAX)
		atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
log_set_format(enum log_format format)
{
	if (format < LOG_FORMAT_MAX)
		atomic_store_explicit(&log_format, format, memory_order_relaxed);
}

void
log_set_fd(int fd)
{
	atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

int
log_level_parse(const char *name)
{
	for (int i = 0; i < LOG_LEVEL_MAX; i++)
		if (strcmp(name, log_level_names[i]) == 0)
			return i;
	if (strcmp(name, "warning") == 0)
		return LOG_WARN;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return level < LOG_LEVEL_MAX ? log_level_names[level] : "?";
}

int
log_enabled(enum log_level level)
{
	return (int)level <=
	    atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
log_add_secret(const char *s)
{
	if (s == NULL || strlen(s) < LOG_SECRET_MIN)
		return;
	pthread_mutex_lock(&log_secrets_lock);
	for (size_t i = 0; i < log_nsecrets; i++) {
		if (strcmp(log_secrets[i], s) == 0) {
			pthread_mutex_unlock(&log_secrets_lock);
			return;
		}
	}
	if (log_nsecrets == LOG_SECRETS_MAX) {
		free(log_secrets[0]);
		memmove(log_secrets, log_secrets + 1,
		    (LOG_SECRETS_MAX - 1) * sizeof(log_secrets[0]));
		log_nsecrets--;
	}
	/* strdup, not xstrdup: failing to keep a secret must not abort. */
	log_secrets[log_nsecrets] = strdup(s);
	if (log_secrets[log_nsecrets] != NULL)
		log_nsecrets++;
	pthread_mutex_unlock(&log_secrets_lock);
}

void
log_clear_secrets(void)
{
	pthread_mutex_lock(&log_secrets_lock);
	for (size_t i = 0; i < log_nsecrets; i++)
		free(log_secrets[i]);
	log_nsecrets = 0;
	pthread_mutex_unlock(&log_secrets_lock);
}

/* Replace each registered secret in msg (NUL-terminated) by "***". */
static void
log_redact(char *msg)
{
	pthread_mutex_lock(&log_secrets_lock);
	for (size_t i = 0; i < log_nsecrets; i++) {
		const char *s = log_secrets[i];
		size_t slen = strlen(s);
		char *p = msg;

		while ((p = strstr(p, s)) != NULL) {
			size_t tail = strlen(p + slen);

			/* "***" is never longer than a secret (>= 3 bytes). */
			memcpy(p, "***", 3);
			memmove(p + 3, p + slen, tail + 1);
			p += 3;
		}
	}
	pthread_mutex_unlock(&log_secrets_lock);
}

/* Append JSON-escaped s to buf at *off (bounded by cap). */
static void
log_json_escape(char *buf, size_t cap, size_t *off, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s != '\0' && *off + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[(*off)++] = '\\';
			buf[(*off)++] = (char)c;
		} else if (c == '\n') {
			buf[(*off)++] = '\\';
			buf[(*off)++] = 'n';
		} else if (c == '\t') {
			buf[(*off)++] = '\\';
			buf[(*off)++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(buf + *off, "\\u00", 4);
			buf[*off + 4] = hex[c >> 4];
			buf[*off + 5] = hex[c & 15];
			*off += 6;
		} else {
			buf[(*off)++] = (char)c;
		}
	}
}

/* Text lines: control characters from peers must not forge new lines. */
static void
log_text_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static size_t
log_timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ",
	    ts.tv_nsec / 1000000L);
	return n;
}

void
log_write(enum log_level level, const char *component, uint64_t session,
    int errnum, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	char line[LOG_LINE_MAX];
	char ts[40];
	size_t off;
	va_list ap;
	int n;
	int saved_errno = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = snprintf(msg, sizeof(msg), "(unformattable message)");
	if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	if (errnum != 0) {
		size_t len = strlen(msg);

		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(errnum));
	}
	log_redact(msg);
	log_timestamp(ts, sizeof(ts));
	if (component == NULL)
		component = "main";

	if (atomic_load_explicit(&log_format, memory_order_relaxed) ==
	    LOG_FORMAT_JSON) {
		off = (size_t)snprintf(line, sizeof(line),
		    "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
		    log_level_name(level));
		log_json_escape(line, sizeof(line), &off, component);
		if (session != 0)
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			    "\",\"session\":%llu,\"msg\":\"",
			    (unsigned long long)session);
		else
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			    "\",\"msg\":\"");
		log_json_escape(line, sizeof(line), &off, msg);
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    "\"}\n");
	} else {
		log_text_sanitize(msg);
		if (session != 0)
			n = snprintf(line, sizeof(line),
			    "%s %-5s [%s] session=%llu %s\n", ts,
			    log_level_name(level), component,
			    (unsigned long long)session, msg);
		else
			n = snprintf(line, sizeof(line), "%s %-5s [%s] %s\n",
			    ts, log_level_name(level), component, msg);
		off = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	}
	if (off >= sizeof(line))
		off = sizeof(line) - 1;

	const char *p = line;
	int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);

	while (off > 0) {
		ssize_t w = write(fd, p, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		off -= (size_t)w;
	}
	errno = saved_errno;
}
