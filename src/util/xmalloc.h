/*
 * xmalloc.h: allocation wrappers that abort on failure.
 *
 * Small internal allocations go through these so callers need no error path
 * for out-of-memory. In exchange, nothing a network peer or a file sends may
 * choose an allocation size without a cap checked first.
 */
#ifndef LOKA_XMALLOC_H
#define LOKA_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
/* xreallocarray(p, nmemb, size): resize, aborting on overflow or failure. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf(fmt, ...): a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
