/*
 * errbuf.h: the "char *err, size_t errlen" convention of Loka's functions
 * that explain a failure to their caller.
 */
#ifndef LOKA_ERRBUF_H
#define LOKA_ERRBUF_H

#include <stddef.h>

/* errbuf_set(err, errlen, fmt, ...): format a message into err (truncated
 * to errlen); err NULL or errlen 0 is allowed and ignored. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
