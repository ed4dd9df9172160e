/*
 * xmalloc.c: allocation wrappers that abort on failure (see xmalloc.h).
 */
#include "util/xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
xmalloc_die(const char *what, size_t size)
{
	fprintf(stderr, "loka: out of memory (%s of %zu bytes)\n", what, size);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		xmalloc_die("malloc", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		xmalloc_die("calloc", nmemb * size);
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	size_t total;
	void *n;

	if (size != 0 && nmemb > SIZE_MAX / size)
		xmalloc_die("reallocarray overflow", SIZE_MAX);
	total = nmemb * size;
	n = realloc(p, total != 0 ? total : 1);
	if (n == NULL)
		xmalloc_die("realloc", total);
	return n;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	int len;
	char *p;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		xmalloc_die("asprintf", 0);
	p = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return p;
}
