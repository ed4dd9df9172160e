/*
 * miners.c: the benchmark's miners, all on the main process's loop (see
 * bench.h).
 *
 * A miner connects from 127.0.0.x (round robin over --source-ips, so that
 * tens of thousands of connections do not exhaust one address's ports),
 * sends mining.subscribe and mining.authorize at once, and is ready when
 * authorized with a job. Then it submits random shares (the pool trusts
 * them): a closed loop keeps `window` submits out per miner; pacing sends
 * `rate` per second over all ready miners in turn from a 250 us tick.
 * Each submit's send time sits in a ring by id; its answer's arrival gives
 * the round trip. Each mining.notify carries its broadcast time in the job
 * id; its arrival gives the fan-out latency.
 *
 * Output is queued and flushed once per callback: the answers a read
 * produced leave in one send().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "util/xmalloc.h"

/* Longest line from the pool: a notify is ~1.3 KB. */
#define MINER_IN_MAX	8192
/* Ids below this are the handshake's; submits count up from it. */
#define SUBMIT_ID0	16
#define ID_SUBSCRIBE	1
#define ID_AUTHORIZE	2
/* Connects started per START_TICK_MS. */
#define START_TICK_MS	10
/* Paced submits: one tick every TICK_US. */
#define TICK_US		250
/* Job ids are 16 hex digits (the broadcast's ns). */
#define JOB_ID_LEN	16

struct miner {
	struct miners	*ms;
	int		 fd;
	uint32_t	 index;
	uint8_t		 state;		/* enum miner_state */
	bool		 authorized;
	bool		 has_job;
	uint16_t	 out_n;		/* submits unanswered */
	uint32_t	 next_id;
	uint32_t	 nonce;
	uint64_t	 job_t0;	/* newest job (its broadcast time) */
	struct event	*rev, *wev;
	char		*in;		/* MINER_IN_MAX, while connected */
	size_t		 inlen;
	struct outq	 outq;
	uint64_t	 sent_at[MINER_WINDOW_MAX];	/* by id */
	char		 job[JOB_ID_LEN + 1];
};

static void miner_on_event(evutil_socket_t fd, short what, void *arg);

static void
miner_close(struct miner *m, bool reset)
{
	struct miners *ms = m->ms;

	if (m->fd < 0)
		return;
	if (reset) {
		/* RST: no TIME_WAIT left on the miners' side of loopback. */
		struct linger lg = { 1, 0 };

		setsockopt(m->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	event_free(m->rev);
	event_free(m->wev);
	m->rev = m->wev = NULL;
	close(m->fd);
	m->fd = -1;
	if (m->state == MINER_READY) {
		ms->nready--;
		if (!reset)
			ms->nlost++;
	} else if (!reset) {
		ms->nfailed++;
	}
	ms->outstanding -= m->out_n;
	m->out_n = 0;
	m->state = MINER_FAILED;
	free(m->in);
	outq_free(&m->outq);
	m->in = NULL;
	m->inlen = 0;
}

static void
miner_queue(struct miner *m, const char *data, size_t len)
{
	outq_add(&m->outq, data, len);
}

static void
miner_flush(struct miner *m)
{
	int rc = outq_send(&m->outq, m->fd);

	if (rc == 0)
		event_add(m->wev, NULL);
	else if (rc < 0)
		miner_close(m, false);
}

static void
miner_submit(struct miner *m, uint64_t now)
{
	struct miners *ms = m->ms;
	char buf[256];
	uint32_t id = m->next_id++;
	int n = snprintf(buf, sizeof(buf), "{\"id\":%u,\"method\":"
	    "\"mining.submit\",\"params\":[\"bc1qbenchminer%u.rig1\",\"%s\","
	    "\"%08x\",\"%08x\",\"%08x\"]}\n", id, m->index, m->job, id,
	    (unsigned)(m->job_t0 / 1000000000u), m->nonce++);

	if (n <= 0 || (size_t)n >= sizeof(buf))
		return;
	m->sent_at[id % MINER_WINDOW_MAX] = now;
	m->out_n++;
	ms->outstanding++;
	ms->submits++;
	miner_queue(m, buf, (size_t)n);
}

/* Closed loop: top the miner up to the window. */
static void
miner_fill(struct miner *m, uint64_t now)
{
	uint32_t w = m->ms->window;

	if (m->state != MINER_READY)
		return;
	while (m->out_n < w && m->out_n < MINER_WINDOW_MAX)
		miner_submit(m, now);
}

static void
miner_ready(struct miner *m)
{
	if (m->state == MINER_READY || !m->authorized || !m->has_job)
		return;
	m->state = MINER_READY;
	m->ms->nready++;
}

static void
miner_notify(struct miner *m, const char *line, size_t len, uint64_t now)
{
	struct miners *ms = m->ms;
	static const char key[] = "\"params\":[\"";
	const char *p = memmem(line, len, key, sizeof(key) - 1), *q;
	char t0hex[17], *end;
	uint64_t t0;
	int field;

	if (p == NULL)
		return;
	p += sizeof(key) - 1;
	q = memchr(p, '"', (size_t)(line + len - p));
	if (q == NULL || q - p > JOB_ID_LEN)
		return;
	memcpy(m->job, p, (size_t)(q - p));
	m->job[q - p] = '\0';
	/* The broadcast's time: coinb2's first 16 hex digits (the 4th
	 * field), which a proxy relays as they are. */
	for (field = 0; field < 2 && q != NULL; field++) {
		q = memchr(q + 1, '"', (size_t)(line + len - q - 1));
		if (q != NULL)
			q = memchr(q + 1, '"', (size_t)(line + len - q - 1));
	}
	/* q: coinb1's closing quote, then ',"' and coinb2. */
	if (q == NULL || line + len - q < 19 || q[1] != ',' || q[2] != '"')
		return;
	memcpy(t0hex, q + 3, 16);
	t0hex[16] = '\0';
	t0 = strtoull(t0hex, &end, 16);
	if (*end != '\0' || t0 <= m->job_t0)
		return;
	m->job_t0 = t0;
	m->has_job = true;
	ms->notifies++;
	if (t0 > ms->fan_t0) {
		ms->fan_t0 = t0;
		ms->fan_got = 0;
		ms->fan_last = 0;
	}
	if (t0 == ms->fan_t0) {
		uint64_t lat = now > t0 ? now - t0 : 0;

		ms->fan_got++;
		if (lat > ms->fan_last)
			ms->fan_last = lat;
		if (ms->record)
			samples_add(&ms->fan, lat);
	}
	miner_ready(m);
}

static void
miner_answer(struct miner *m, const char *line, size_t len, uint64_t now)
{
	struct miners *ms = m->ms;
	size_t idlen, rlen;
	const char *id = json_token(line, len, "\"id\"", &idlen);
	const char *res = json_token(line, len, "\"result\"", &rlen);
	bool yes = res != NULL && rlen == 4 && memcmp(res, "true", 4) == 0;
	unsigned long v;

	if (id == NULL)
		return;
	v = strtoul(id, NULL, 10);
	if (v == ID_AUTHORIZE) {
		m->authorized = yes;
		if (!yes)
			miner_close(m, false);
		else
			miner_ready(m);
		return;
	}
	if (v < SUBMIT_ID0 || m->out_n == 0)
		return;
	m->out_n--;
	ms->outstanding--;
	ms->answers++;
	if (!yes)
		ms->rejected++;
	if (ms->record)
		samples_add(&ms->lat, now - m->sent_at[v % MINER_WINDOW_MAX]);
}

static void
miner_line(struct miner *m, const char *line, size_t len, uint64_t now)
{
	static const char notify[] = "\"mining.notify\"";

	m->ms->lines_in++;
	if (memmem(line, len, "\"method\"", 8) != NULL) {
		if (memmem(line, len, notify, sizeof(notify) - 1) != NULL)
			miner_notify(m, line, len, now);
		return;
	}
	miner_answer(m, line, len, now);
}

static void
miner_read(struct miner *m)
{
	for (int reads = 0; reads < 4 && m->fd >= 0; reads++) {
		ssize_t n = recv(m->fd, m->in + m->inlen,
		    MINER_IN_MAX - m->inlen, 0);
		uint64_t now = now_ns();
		char *start, *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)) {
			miner_close(m, false);
			return;
		}
		if (n < 0)
			break;
		m->inlen += (size_t)n;
		start = m->in;
		while (m->fd >= 0 && (nl = memchr(start, '\n', m->inlen -
		    (size_t)(start - m->in))) != NULL) {
			miner_line(m, start, (size_t)(nl - start), now);
			start = nl + 1;
		}
		if (m->fd < 0 || m->in == NULL)
			return; /* closed (or reconnecting) while answering */
		m->inlen -= (size_t)(start - m->in);
		memmove(m->in, start, m->inlen);
		if (m->inlen == MINER_IN_MAX) {
			miner_close(m, false);
			return;
		}
		if ((size_t)n < MINER_IN_MAX / 2)
			break;
	}
	if (m->fd < 0)
		return;
	if (m->ms->window > 0)
		miner_fill(m, now_ns());
	miner_flush(m);
}

static void
miner_connected(struct miner *m)
{
	char buf[512];
	int err = 0, n;
	socklen_t len = sizeof(err);

	if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0) {
		miner_close(m, false);
		return;
	}
	m->state = MINER_HANDSHAKE;
	m->in = xmalloc(MINER_IN_MAX);
	n = snprintf(buf, sizeof(buf),
	    "{\"id\":%d,\"method\":\"mining.subscribe\",\"params\":"
	    "[\"loka-bench/0.1\"]}\n"
	    "{\"id\":%d,\"method\":\"mining.authorize\",\"params\":"
	    "[\"bc1qbenchminer%u.rig1\",\"x\"]}\n", ID_SUBSCRIBE, ID_AUTHORIZE,
	    m->index);
	event_add(m->rev, NULL);
	miner_queue(m, buf, (size_t)n);
	miner_flush(m);
}

static void
miner_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct miner *m = arg;

	(void)fd;
	if (what & EV_READ) {
		miner_read(m);
		return;
	}
	if (m->state == MINER_CONNECTING)
		miner_connected(m);
	else
		miner_flush(m);
}

static void
miner_connect(struct miners *ms, struct miner *m)
{
	struct sockaddr_in src;
	int one = 1;

	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0) {
		m->state = MINER_FAILED;
		ms->nfailed++;
		return;
	}
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ms->src_count > 0) {
		/* The port is picked at connect(), per 4-tuple: each source
		 * address has the whole ephemeral range to itself. */
		setsockopt(m->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 +
		    m->index % ms->src_count);
		if (bind(m->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			close(m->fd);
			m->fd = -1;
			m->state = MINER_FAILED;
			ms->nfailed++;
			return;
		}
	}
	m->rev = event_new(ms->base, m->fd, EV_READ | EV_PERSIST,
	    miner_on_event, m);
	m->wev = event_new(ms->base, m->fd, EV_WRITE, miner_on_event, m);
	m->state = MINER_CONNECTING;
	if (connect(m->fd, (struct sockaddr *)&ms->dst, sizeof(ms->dst)) != 0 &&
	    errno != EINPROGRESS) {
		miner_close(m, false);
		return;
	}
	event_add(m->wev, NULL);
}

static void
miners_on_start(evutil_socket_t fd, short what, void *arg)
{
	struct miners *ms = arg;
	uint32_t batch = (uint32_t)(ms->connect_rate * START_TICK_MS / 1000);

	(void)fd;
	(void)what;
	if (batch == 0)
		batch = 1;
	for (uint32_t i = 0; i < batch && ms->started < ms->n; i++)
		miner_connect(ms, &ms->m[ms->started++]);
	if (ms->started == ms->n)
		event_del(ms->start_ev);
}

static void
miners_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct miners *ms = arg;
	uint64_t now = now_ns();
	uint64_t due = (uint64_t)((double)(now - ms->rate_t0) * ms->rate /
	    1e9);

	(void)fd;
	(void)what;
	if (ms->nready == 0)
		return;
	while (ms->rate_sent < due) {
		struct miner *m = NULL;

		/* The next ready miner with room in its window. */
		for (uint32_t tries = 0; tries < ms->n; tries++) {
			struct miner *c = &ms->m[ms->rr];

			ms->rr = (ms->rr + 1) % ms->n;
			if (c->state == MINER_READY &&
			    c->out_n < MINER_WINDOW_MAX) {
				m = c;
				break;
			}
		}
		ms->rate_sent++;
		if (m == NULL) {
			ms->paced_late++;
			continue;
		}
		miner_submit(m, now);
		miner_flush(m);
	}
}

struct miners *
miners_new(struct event_base *base, uint32_t n, const struct sockaddr_in *dst,
    uint32_t src_count, double connect_rate)
{
	struct miners *ms = xcalloc(1, sizeof(*ms));

	ms->base = base;
	ms->n = n;
	ms->dst = *dst;
	ms->src_count = src_count;
	ms->connect_rate = connect_rate > 0 ? connect_rate : 1000;
	ms->m = xcalloc(n, sizeof(*ms->m));
	for (uint32_t i = 0; i < n; i++) {
		ms->m[i].ms = ms;
		ms->m[i].fd = -1;
		ms->m[i].index = i;
		ms->m[i].next_id = SUBMIT_ID0;
	}
	ms->start_ev = event_new(base, -1, EV_PERSIST, miners_on_start, ms);
	ms->tick_ev = event_new(base, -1, EV_PERSIST, miners_on_tick, ms);
	return ms;
}

void
miners_start(struct miners *ms)
{
	struct timeval tv = { 0, START_TICK_MS * 1000 };

	event_add(ms->start_ev, &tv);
	miners_on_start(-1, 0, ms);
}

void
miners_window(struct miners *ms, uint32_t w)
{
	uint64_t now = now_ns();

	ms->window = w > MINER_WINDOW_MAX ? MINER_WINDOW_MAX : w;
	if (w == 0)
		return;
	for (uint32_t i = 0; i < ms->n; i++) {
		struct miner *m = &ms->m[i];

		if (m->state != MINER_READY)
			continue;
		miner_fill(m, now);
		miner_flush(m);
	}
}

void
miners_pace(struct miners *ms, double rate)
{
	struct timeval tv = { 0, TICK_US };

	ms->rate = rate;
	event_del(ms->tick_ev);
	if (rate <= 0)
		return;
	ms->rate_t0 = now_ns();
	ms->rate_sent = 0;
	event_add(ms->tick_ev, &tv);
}

void
miners_free(struct miners *ms)
{
	if (ms == NULL)
		return;
	for (uint32_t i = 0; i < ms->n; i++)
		miner_close(&ms->m[i], true);
	event_free(ms->start_ev);
	event_free(ms->tick_ev);
	samples_free(&ms->lat);
	samples_free(&ms->fan);
	free(ms->m);
	free(ms);
}
