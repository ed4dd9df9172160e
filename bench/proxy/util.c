/*
 * util.c: loka-bench-proxy's small helpers: the clock, latency samples,
 * /proc readers, a JSON token finder for flat known messages, ports and
 * descriptor limits (see bench.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "util/xmalloc.h"

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
samples_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 65536;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	s->sorted = false;
}

void
samples_clear(struct samples *s)
{
	s->n = 0;
	s->sorted = false;
}

void
samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t
samples_pct(struct samples *s, double p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
		s->sorted = true;
	}
	/* Nearest rank: the smallest value with at least p of them <= it. */
	i = (size_t)(p * (double)s->n + 0.999999);
	if (i > 0)
		i--;
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

static long
count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
proc_sample(pid_t pid, struct proc_usage *u)
{
	char path[64], buf[4096], *p;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	memset(u, 0, sizeof(*u));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields restart after ')'. Then
	 * state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &utime, &stime) != 2)
		return -1;
	u->cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (strncmp(buf, "VmRSS:", 6) == 0)
			u->rss_kb = strtol(buf + 6, NULL, 10);
		else if (strncmp(buf, "RssAnon:", 8) == 0)
			u->anon_kb = strtol(buf + 8, NULL, 10);
	}
	fclose(f);
	u->fds = count_fds(pid);
	return 0;
}

int
sockstat_tcp(long *inuse, long *mem_pages)
{
	char line[256];
	FILE *f = fopen("/proc/net/sockstat", "r");
	int rc = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1 */
		if (sscanf(line, "TCP: inuse %ld orphan %*d tw %*d alloc %*d "
		    "mem %ld", inuse, mem_pages) == 2) {
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

const char *
json_token(const char *line, size_t len, const char *key, size_t *vlen)
{
	size_t klen = strlen(key);
	const char *p = line, *end = line + len;

	while ((size_t)(end - p) >= klen &&
	    (p = memmem(p, (size_t)(end - p), key, klen)) != NULL) {
		const char *q = p + klen, *t;

		p += klen;
		while (q < end && *q == ' ')
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && *q == ' ')
			q++;
		t = q;
		if (q < end && *q == '"') {
			const char *e = memchr(q + 1, '"', (size_t)(end - q - 1));

			if (e == NULL)
				return NULL;
			*vlen = (size_t)(e + 1 - t);
			return t;
		}
		while (q < end && *q != ',' && *q != '}' && *q != ']' &&
		    *q != ' ')
			q++;
		*vlen = (size_t)(q - t);
		return t;
	}
	return NULL;
}

int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

long
set_nofile_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

void
outq_add(struct outq *q, const char *data, size_t len)
{
	if (q->off > 0 && q->off == q->len)
		q->off = q->len = 0;
	if (q->len + len > q->cap) {
		size_t cap = q->cap ? q->cap : 1024;

		while (cap < q->len + len)
			cap *= 2;
		q->p = xreallocarray(q->p, cap, 1);
		q->cap = cap;
	}
	memcpy(q->p + q->len, data, len);
	q->len += len;
}

int
outq_send(struct outq *q, int fd)
{
	while (q->off < q->len) {
		ssize_t n = send(fd, q->p + q->off, q->len - q->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q->off += (size_t)n;
	}
	q->off = q->len = 0;
	return 1;
}

size_t
outq_pending(const struct outq *q)
{
	return q->len - q->off;
}

void
outq_free(struct outq *q)
{
	free(q->p);
	q->p = NULL;
	q->len = q->off = q->cap = 0;
}
