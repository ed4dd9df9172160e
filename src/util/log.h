/*
 * log.h: one line per event, human text or JSON lines, to stderr.
 *
 * Every line carries a level, a component ("config", "stratum", ...) and,
 * where there is one, a session id. Lines are written with a single write(2)
 * so concurrent threads never interleave inside a line.
 *
 * Secrets: the configuration registers every secret value it loads (pool
 * passwords, tokens, database passwords) with log_add_secret(); any
 * occurrence of one in a formatted line is replaced by "***" before the line
 * leaves the process. Callers must still never log secrets on purpose; this is
 * the safety net.
 *
 * Threading: log_write() may be called from any thread. log_set_level(),
 * log_set_format() and log_add_secret() may be called at any time.
 */
#ifndef LOKA_LOG_H
#define LOKA_LOG_H

#include <stdint.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
	LOG_LEVEL_MAX
};

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON,
	LOG_FORMAT_MAX
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(enum log_format format);
/* log_set_fd(fd): write lines to fd instead of stderr (tests). */
void log_set_fd(int fd);

/* Parse "error", "warn", "info", "debug", "trace"; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/*
 * log_add_secret(s): redact every later occurrence of s in log lines.
 * Strings shorter than 3 bytes are ignored (they would redact ordinary
 * words); at most 64 secrets are kept, the oldest dropped first.
 */
void log_add_secret(const char *s);
/* log_clear_secrets(): forget all registered secrets (tests, reload). */
void log_clear_secrets(void);

/* Is a line at this level written? Cheap; use it to skip costly formatting. */
int log_enabled(enum log_level level);

/*
 * log_write(level, component, session, errnum, fmt, ...): format and write
 * one line. session 0 means "no session". errnum != 0 appends
 * ": strerror(errnum)".
 */
void log_write(enum log_level level, const char *component, uint64_t session,
    int errnum, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* log_warn / log_error append strerror(errno); the -x forms do not. */
#define log_error(comp, ...) log_write(LOG_ERROR, comp, 0, errno, __VA_ARGS__)
#define log_errorx(comp, ...) log_write(LOG_ERROR, comp, 0, 0, __VA_ARGS__)
#define log_warn(comp, ...) log_write(LOG_WARN, comp, 0, errno, __VA_ARGS__)
#define log_warnx(comp, ...) log_write(LOG_WARN, comp, 0, 0, __VA_ARGS__)
#define log_info(comp, ...) log_write(LOG_INFO, comp, 0, 0, __VA_ARGS__)
#define log_debug(comp, ...)                                                  \
	do {                                                                  \
		if (log_enabled(LOG_DEBUG))                                   \
			log_write(LOG_DEBUG, comp, 0, 0, __VA_ARGS__);        \
	} while (0)
/* Session-scoped forms. */
#define log_sinfo(comp, sid, ...) log_write(LOG_INFO, comp, sid, 0, __VA_ARGS__)
#define log_swarnx(comp, sid, ...) log_write(LOG_WARN, comp, sid, 0, __VA_ARGS__)
#define log_sdebug(comp, sid, ...)                                            \
	do {                                                                  \
		if (log_enabled(LOG_DEBUG))                                   \
			log_write(LOG_DEBUG, comp, sid, 0, __VA_ARGS__);      \
	} while (0)

#endif
