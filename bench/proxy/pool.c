/*
 * pool.c: the benchmark's pool, run in a child process (see bench.h).
 *
 * A minimal Stratum V1 server in trust mode: subscribe, authorize and
 * submit are answered at once (every share accepted, nothing hashed), so
 * the pool costs little and what is measured is the path between it and
 * the miners. Jobs have a real pool's size (a coinbase in two parts, a
 * 12-entry merkle branch: about 1.3 KB per mining.notify); the job id is
 * CLOCK_MONOTONIC in ns at the start of the broadcast, in hex, so that
 * miners can time its arrival.
 *
 * The parent drives it over a socketpair, one text line per command:
 *   notify        broadcast a new job now        -> "ok T0_HEX SENT NS"
 *                 (NS: how long the pool took to write it to everyone)
 *   interval MS   a new job every MS ms (0: off) -> "ok"
 *   stats         -> "stats CONNS READY LINES_IN SUBMITS LINES_OUT"
 *   close         close every connection (RST)   -> "ok"
 * and the child exits when the parent closes its end.
 *
 * Output is queued per connection and flushed once per callback (one
 * send() for all the answers a read produced).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "util/xmalloc.h"

/* Longest line a client may send; a Stratum request is far shorter. */
#define PCONN_IN_MAX	16384
/* Output queued for a client that does not read, before it is closed. */
#define PCONN_OUT_MAX	(8 * 1024 * 1024)
/* Merkle branch entries of a job: a block of ~4,000 transactions. */
#define POOL_BRANCH	12
#define POOL_NOTIFY_MAX	2048
/* Listen backlog: a whole scenario's miners may connect at once. */
#define POOL_BACKLOG	65535

struct pconn {
	int		 fd;
	uint32_t	 slot;		/* index in pool.conns */
	bool		 ready;		/* authorized: gets broadcasts */
	struct event	*rev, *wev;
	char		*in;
	size_t		 inlen;
	struct outq	 outq;
};

struct pool;
static struct pool *the_pool;	/* the child's one pool */

struct pool {
	struct event_base *base;
	int		 lfd, ctl;
	struct event	*lev, *ctlev, *tick;
	char		 ctlbuf[512];
	size_t		 ctllen;
	struct pconn	**conns;
	size_t		 nconns, cap, nready;
	uint32_t	 next_en1;
	char		 notify[POOL_NOTIFY_MAX];
	size_t		 notify_len;
	char		 prevhash[65], coinb1[128], coinb2[256];
	char		 branch[POOL_BRANCH * 67 + 1];
	uint64_t	 lines_in, submits, lines_out;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void
hexfill(char *dst, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < nhex; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		dst[i] = hex[rng & 15];
	}
	dst[nhex] = '\0';
}

static void
pool_make_parts(struct pool *p)
{
	size_t off = 0;

	hexfill(p->prevhash, 64);
	/* coinb1: version, one input, null prevout, script length, BIP34
	 * height and tag, up to the extranonce; coinb2: the rest of the
	 * script, sequence, a payout and a witness commitment output. */
	hexfill(p->coinb1, 106);
	hexfill(p->coinb2, 190);
	for (int i = 0; i < POOL_BRANCH; i++) {
		p->branch[off++] = '"';
		hexfill(p->branch + off, 64);
		off += 64;
		p->branch[off++] = '"';
		if (i + 1 < POOL_BRANCH)
			p->branch[off++] = ',';
	}
	p->branch[off] = '\0';
}

/* The job: its id and the first 16 hex digits of coinb2 are the
 * broadcast's start (a proxy may change the id; it keeps coinb2). */
static void
pool_make_job(struct pool *p, uint64_t t0)
{
	int n = snprintf(p->notify, sizeof(p->notify),
	    "{\"id\":null,\"method\":\"mining.notify\",\"params\":["
	    "\"%016" PRIx64 "\",\"%s\",\"%s\",\"%016" PRIx64 "%s\",[%s],"
	    "\"20000000\",\"1703a30c\",\"%08x\",false]}\n", t0, p->prevhash,
	    p->coinb1, t0, p->coinb2 + 16, p->branch,
	    (unsigned)(t0 / 1000000000u));

	p->notify_len = n > 0 && (size_t)n < sizeof(p->notify) ? (size_t)n : 0;
}

/* ---- connections ---- */

static void
pconn_close(struct pool *p, struct pconn *c, bool reset)
{
	struct pconn *last = p->conns[p->nconns - 1];

	if (reset) {
		struct linger lg = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	if (c->ready)
		p->nready--;
	last->slot = c->slot;
	p->conns[c->slot] = last;
	p->nconns--;
	free(c->in);
	outq_free(&c->outq);
	free(c);
}

static void
pconn_queue(struct pconn *c, const char *data, size_t len)
{
	outq_add(&c->outq, data, len);
}

/* Send what is queued. 0, or -1 when c was closed. */
static int
pconn_flush(struct pool *p, struct pconn *c)
{
	int rc = outq_send(&c->outq, c->fd);

	if (rc < 0 || (rc == 0 && outq_pending(&c->outq) > PCONN_OUT_MAX)) {
		pconn_close(p, c, true);
		return -1;
	}
	if (rc == 0)
		event_add(c->wev, NULL);
	return 0;
}

static void
pconn_answer(struct pconn *c, const char *id, size_t idlen, const char *res)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "{\"id\":%.*s,\"result\":%s,"
	    "\"error\":null}\n", (int)idlen, id, res);

	if (n > 0 && (size_t)n < sizeof(buf))
		pconn_queue(c, buf, (size_t)n);
}

static void
pconn_line(struct pool *p, struct pconn *c, const char *line, size_t len)
{
	size_t idlen = 0, mlen = 0;
	const char *id = json_token(line, len, "\"id\"", &idlen);
	const char *method = json_token(line, len, "\"method\"", &mlen);
	char res[160];

	p->lines_in++;
	if (method == NULL || id == NULL || (idlen == 4 &&
	    memcmp(id, "null", 4) == 0))
		return;
	if (mlen == sizeof("\"mining.submit\"") - 1 &&
	    memcmp(method, "\"mining.submit\"", mlen) == 0) {
		p->submits++;
		pconn_answer(c, id, idlen, "true");
	} else if (mlen == sizeof("\"mining.subscribe\"") - 1 &&
	    memcmp(method, "\"mining.subscribe\"", mlen) == 0) {
		uint32_t en1 = ++p->next_en1;

		/* An extranonce2 of 8 bytes: room for aggregate mode's
		 * 4-byte slots (miners send 4, and the pool trusts). */
		snprintf(res, sizeof(res), "[[[\"mining.set_difficulty\","
		    "\"%08x\"],[\"mining.notify\",\"%08x\"]],\"%08x\",8]", en1,
		    en1, en1);
		pconn_answer(c, id, idlen, res);
	} else if (mlen == sizeof("\"mining.authorize\"") - 1 &&
	    memcmp(method, "\"mining.authorize\"", mlen) == 0) {
		static const char diff[] = "{\"id\":null,\"method\":"
		    "\"mining.set_difficulty\",\"params\":[65536]}\n";

		pconn_answer(c, id, idlen, "true");
		/* The job once per connection (aggregate mode authorizes
		 * every miner's worker on one). */
		if (!c->ready) {
			pconn_queue(c, diff, sizeof(diff) - 1);
			pconn_queue(c, p->notify, p->notify_len);
			p->lines_out += 2;
			p->nready++;
		}
		c->ready = true;
	} else if (mlen == sizeof("\"mining.configure\"") - 1 &&
	    memcmp(method, "\"mining.configure\"", mlen) == 0) {
		pconn_answer(c, id, idlen, "{\"version-rolling\":true,"
		    "\"version-rolling.mask\":\"1fffe000\"}");
	} else {
		pconn_answer(c, id, idlen, "true");
	}
	p->lines_out++;
}

static void
pool_read(struct pool *p, struct pconn *c)
{
	for (int reads = 0; reads < 4; reads++) {
		ssize_t n = recv(c->fd, c->in + c->inlen,
		    PCONN_IN_MAX - c->inlen, 0);
		char *start, *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)) {
			pconn_close(p, c, false);
			return;
		}
		if (n < 0)
			break;
		c->inlen += (size_t)n;
		start = c->in;
		while ((nl = memchr(start, '\n', c->inlen - (size_t)(start -
		    c->in))) != NULL) {
			pconn_line(p, c, start, (size_t)(nl - start));
			start = nl + 1;
		}
		c->inlen -= (size_t)(start - c->in);
		memmove(c->in, start, c->inlen);
		if (c->inlen == PCONN_IN_MAX) {
			pconn_close(p, c, true);
			return;
		}
		if ((size_t)n < PCONN_IN_MAX / 2)
			break;
	}
	pconn_flush(p, c);
}

static void
pconn_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;

	(void)fd;
	if (what & EV_READ)
		pool_read(the_pool, c);
	else
		pconn_flush(the_pool, c);
}

static void
pool_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct pool *p = arg;
	int one = 1;

	(void)what;
	for (int i = 0; i < 256; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct pconn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->in = xmalloc(PCONN_IN_MAX);
		c->rev = event_new(p->base, fd, EV_READ | EV_PERSIST,
		    pconn_on_event, c);
		c->wev = event_new(p->base, fd, EV_WRITE, pconn_on_event, c);
		if (p->nconns == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 1024;
			p->conns = xreallocarray(p->conns, p->cap,
			    sizeof(*p->conns));
		}
		c->slot = (uint32_t)p->nconns;
		p->conns[p->nconns++] = c;
		event_add(c->rev, NULL);
	}
}

/* A new job to every authorized connection; returns how many got it. */
static size_t
pool_broadcast(struct pool *p, uint64_t *t0)
{
	size_t sent = 0;

	*t0 = now_ns();
	pool_make_job(p, *t0);
	/* Backwards: a close moves the last connection into the slot. */
	for (size_t i = p->nconns; i-- > 0;) {
		struct pconn *c = p->conns[i];

		if (!c->ready)
			continue;
		pconn_queue(c, p->notify, p->notify_len);
		p->lines_out++;
		if (pconn_flush(p, c) == 0)
			sent++;
	}
	return sent;
}

static void
pool_on_tick(evutil_socket_t fd, short what, void *arg)
{
	uint64_t t0;

	(void)fd;
	(void)what;
	pool_broadcast(arg, &t0);
}

static void
pool_reply(struct pool *p, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(p->ctl, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

static void
pool_command(struct pool *p, const char *cmd)
{
	char out[256];

	if (strcmp(cmd, "notify") == 0) {
		uint64_t t0;
		size_t sent = pool_broadcast(p, &t0);

		snprintf(out, sizeof(out), "ok %016" PRIx64 " %zu %" PRIu64 "\n",
		    t0, sent, now_ns() - t0);
	} else if (strncmp(cmd, "interval ", 9) == 0) {
		long ms = strtol(cmd + 9, NULL, 10);

		evtimer_del(p->tick);
		if (ms > 0) {
			struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

			event_add(p->tick, &tv);
		}
		snprintf(out, sizeof(out), "ok\n");
	} else if (strcmp(cmd, "stats") == 0) {
		snprintf(out, sizeof(out), "stats %zu %zu %" PRIu64 " %" PRIu64
		    " %" PRIu64 "\n", p->nconns, p->nready, p->lines_in,
		    p->submits, p->lines_out);
	} else if (strcmp(cmd, "close") == 0) {
		while (p->nconns > 0)
			pconn_close(p, p->conns[p->nconns - 1], true);
		snprintf(out, sizeof(out), "ok\n");
	} else {
		snprintf(out, sizeof(out), "error unknown command\n");
	}
	pool_reply(p, out);
}

static void
pool_on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	ssize_t n = read(fd, p->ctlbuf + p->ctllen,
	    sizeof(p->ctlbuf) - 1 - p->ctllen);
	char *start, *nl;

	(void)what;
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		event_base_loopbreak(p->base);
		return;
	}
	p->ctllen += (size_t)n;
	start = p->ctlbuf;
	while ((nl = memchr(start, '\n', p->ctllen - (size_t)(start -
	    p->ctlbuf))) != NULL) {
		*nl = '\0';
		pool_command(p, start);
		start = nl + 1;
	}
	p->ctllen -= (size_t)(start - p->ctlbuf);
	memmove(p->ctlbuf, start, p->ctllen);
	if (p->ctllen == sizeof(p->ctlbuf) - 1)
		p->ctllen = 0;
}

static void
pool_child(int lfd, int ctl)
{
	struct pool p;
	struct event_config *ec = event_config_new();

	memset(&p, 0, sizeof(p));
	the_pool = &p;
	set_nofile_max();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent decides when we stop */
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	p.base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (p.base == NULL)
		_exit(1);
	p.lfd = lfd;
	p.ctl = ctl;
	pool_make_parts(&p);
	pool_make_job(&p, now_ns());
	p.lev = event_new(p.base, lfd, EV_READ | EV_PERSIST, pool_on_accept,
	    &p);
	p.ctlev = event_new(p.base, ctl, EV_READ | EV_PERSIST, pool_on_ctl,
	    &p);
	p.tick = event_new(p.base, -1, EV_PERSIST, pool_on_tick, &p);
	event_add(p.lev, NULL);
	event_add(p.ctlev, NULL);
	event_base_dispatch(p.base);
	while (p.nconns > 0)
		pconn_close(&p, p.conns[p.nconns - 1], true);
	_exit(0);
}

/* ---- the parent's side ---- */

int
pool_spawn(struct pool_ctl *ctl)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int sv[2], one = 1;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);

	memset(ctl, 0, sizeof(*ctl));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(lfd, (struct sockaddr *)&sin,
	    sizeof(sin)) != 0 || listen(lfd, POOL_BACKLOG) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) != 0) {
		perror("loka-bench-proxy: pool listener");
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		perror("loka-bench-proxy: socketpair");
		close(lfd);
		return -1;
	}
	ctl->port = ntohs(sin.sin_port);
	ctl->pid = fork();
	if (ctl->pid < 0) {
		perror("loka-bench-proxy: fork");
		close(lfd);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (ctl->pid == 0) {
		close(sv[0]);
		pool_child(lfd, sv[1]);
	}
	close(lfd);
	close(sv[1]);
	ctl->fd = sv[0];
	return 0;
}

static void
pool_ctl_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct pool_ctl *ctl = arg;
	ssize_t n = read(fd, ctl->buf + ctl->len, sizeof(ctl->buf) - 1 -
	    ctl->len);
	char *nl;

	(void)what;
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		fprintf(stderr, "loka-bench-proxy: the pool process is gone\n");
		exit(1);
	}
	ctl->len += (size_t)n;
	while ((nl = memchr(ctl->buf, '\n', ctl->len)) != NULL) {
		size_t l = (size_t)(nl - ctl->buf);

		memcpy(ctl->reply, ctl->buf, l);
		ctl->reply[l] = '\0';
		ctl->replied = true;
		ctl->len -= l + 1;
		memmove(ctl->buf, nl + 1, ctl->len);
	}
	if (ctl->len == sizeof(ctl->buf) - 1)
		ctl->len = 0;
}

void
pool_ctl_attach(struct pool_ctl *ctl, struct event_base *base)
{
	ctl->ev = event_new(base, ctl->fd, EV_READ | EV_PERSIST,
	    pool_ctl_on_read, ctl);
	event_add(ctl->ev, NULL);
}

void
pool_ctl_stop(struct pool_ctl *ctl)
{
	if (ctl->ev != NULL)
		event_free(ctl->ev);
	ctl->ev = NULL;
	if (ctl->fd > 0)
		close(ctl->fd);
	ctl->fd = -1;
	if (ctl->pid > 0)
		waitpid(ctl->pid, NULL, 0);
	ctl->pid = 0;
}
