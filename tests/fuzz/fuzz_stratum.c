/*
 * fuzz_stratum.c: libFuzzer target for what a miner can send: the Stratum
 * line parser (src/stratum/msg.c), the identity rewrite, and a real
 * session (session.c, guard.c, passthrough.c, the security table) fed the
 * input as the miner's byte stream against a scripted pool.
 *
 * Set-up, once: a worker loop without listeners, a proxy with one pool on a
 * loopback listener, a security table with tight limits (rate limit,
 * max_auth_failures, bans) so that those paths run too. Per input: a
 * socketpair is accepted as a new session from its own address (10.x.y.z,
 * so bans of one input do not refuse the next); the input is written to
 * the miner's end; the loop runs while the scripted pool answers every
 * request (subscribe, authorize refused for logins containing "bad",
 * submit rejected for nonces starting with 'f', configure, anything else
 * true) and sends a difficulty and a job after subscribe; what Loka sends
 * the miner is read and checked to be JSON lines (or the HTTP answer of
 * the sniffer); then the miner hangs up and the session must be gone.
 * Leaks and memory errors are the sanitizers' to find.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "net/worker.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "security/security.h"
#include "stratum/identity.h"
#include "stratum/msg.h"
#include "util/log.h"
#include "util/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer inputs only repeat what shorter ones reach. */
#define FUZZ_MAX (64 * 1024)
/* Loop turns per input: enough for every answer to travel. */
#define FUZZ_TURNS 64

struct rig {
	struct cfg *cfg;
	struct proxy p;
	struct proxy_thread *t;
	struct worker *w;
	struct worker *workers[1];
	struct proxy_thread *threads[1];
	int listen_fd;
	int pool;                /* the upstream connection, -1 if none */
	char pbuf[1 << 20];      /* pool side: bytes not yet a line */
	size_t plen;
	uint32_t next_addr;
};

static struct rig *rig;

static void
set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
rig_init(void)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	struct cfg_diag errs = { 0 };
	struct cfg_list none = { NULL, 0 };
	char text[1024], err[256];
	int devnull = open("/dev/null", O_WRONLY);

	rig = xcalloc(1, sizeof(*rig));
	if (devnull >= 0)
		log_set_fd(devnull);
	log_set_level(LOG_ERROR);
	evthread_use_pthreads();
	rig->pool = -1;
	rig->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rig->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(rig->listen_fd, 64) != 0)
		abort();
	getsockname(rig->listen_fd, (struct sockaddr *)&sin, &sl);
	set_nonblock(rig->listen_fd);
	snprintf(text, sizeof(text),
	    "[server]\nmax_line_length = 4096\nmax_pending_requests = 8\n"
	    "[security]\nrate_limit = 50\nrate_limit_burst = 40\n"
	    "max_violations = 3\nmax_auth_failures = 2\n"
	    "max_connections_per_ip = 4\n"
	    "[[pools]]\nname = \"p\"\n"
	    "url = \"stratum+tcp://127.0.0.1:%d\"\nusername = \"acct\"\n",
	    ntohs(sin.sin_port));
	rig->cfg = cfg_load_string("fuzz.toml", text, strlen(text), &errs,
	    NULL);
	if (rig->cfg == NULL)
		abort();
	atomic_init(&rig->p.active, 0);
	atomic_init(&rig->p.next_session, 1);
	rig->p.cfg = rig->cfg;
	rig->p.router = router_new(rig->cfg);
	rig->p.security = security_new(rig->cfg, guard_on_ban, &rig->p, err,
	    sizeof(err));
	if (rig->p.security == NULL)
		abort();
	rig->w = worker_new(0, &none, NULL, session_accept, &rig->p);
	if (rig->w == NULL)
		abort();
	rig->t = xcalloc(1, sizeof(*rig->t));
	rig->t->proxy = &rig->p;
	rig->t->worker = rig->w;
	rig->t->acct = acct_table_new(1);
	rig->t->pools = xcalloc(1, sizeof(*rig->t->pools));
	rig->workers[0] = rig->w;
	rig->threads[0] = rig->t;
	rig->p.workers = rig->workers;
	rig->p.threads = rig->threads;
	rig->p.nworkers = 1;
	worker_set_data(rig->w, rig->t);
	session_thread_init(rig->t);
}

static void
pool_send(const char *s)
{
	size_t n = strlen(s);

	/* Small lines into an empty socket: they fit. */
	(void)!send(rig->pool, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Answer one request line the way a plain pool would. */
static void
pool_answer(const char *line, size_t len)
{
	json_t *req = json_loadb(line, len, 0, NULL);
	const char *method = json_string_value(json_object_get(req, "method"));
	json_t *params = json_object_get(req, "params");
	const char *p0 = json_string_value(json_array_get(params, 0));
	const char *p4 = json_string_value(json_array_get(params, 4));
	char *id, out[1024];
	const char *result = "true", *error = "null";

	if (req == NULL || method == NULL) {
		json_decref(req);
		return;
	}
	if (strcmp(method, "mining.subscribe") == 0) {
		result = "[[[\"mining.set_difficulty\",\"1\"],"
		    "[\"mining.notify\",\"1\"]],\"f000000d\",4]";
	} else if (strcmp(method, "mining.authorize") == 0) {
		if (p0 != NULL && strstr(p0, "bad") != NULL)
			result = "false";
	} else if (strcmp(method, "mining.submit") == 0) {
		if (p4 != NULL && p4[0] == 'f') {
			result = "null";
			error = "[23,\"Low difficulty share\",null]";
		}
	} else if (strcmp(method, "mining.configure") == 0) {
		result = "{\"version-rolling\":true,"
		    "\"version-rolling.mask\":\"1fffe000\"}";
	}
	id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
	snprintf(out, sizeof(out), "{\"id\":%s,\"result\":%s,\"error\":%s}\n",
	    id != NULL ? id : "null", result, error);
	free(id);
	pool_send(out);
	if (strcmp(method, "mining.subscribe") == 0) {
		pool_send("{\"id\":null,\"method\":\"mining.set_difficulty\","
		    "\"params\":[0.5]}\n");
		pool_send("{\"id\":null,\"method\":\"mining.notify\",\"params\":"
		    "[\"j1\",\"00\",\"00\",\"00\",[],\"20000000\",\"1d00ffff\","
		    "\"5f000000\",true]}\n");
	}
	json_decref(req);
}

/* The pool's side: accept Loka's connection, answer its lines. */
static void
pool_turn(void)
{
	ssize_t n;
	char *nl;

	if (rig->pool < 0) {
		rig->pool = accept(rig->listen_fd, NULL, NULL);
		if (rig->pool < 0)
			return;
		set_nonblock(rig->pool);
		rig->plen = 0;
	}
	while ((n = recv(rig->pool, rig->pbuf + rig->plen,
	    sizeof(rig->pbuf) - rig->plen, 0)) > 0)
		rig->plen += (size_t)n;
	if (n == 0 || rig->plen == sizeof(rig->pbuf)) {
		close(rig->pool);
		rig->pool = -1;
		return;
	}
	while ((nl = memchr(rig->pbuf, '\n', rig->plen)) != NULL) {
		size_t used = (size_t)(nl - rig->pbuf) + 1;

		pool_answer(rig->pbuf, used - 1);
		memmove(rig->pbuf, nl + 1, rig->plen - used);
		rig->plen -= used;
	}
}

/* What Loka sends the miner: JSON lines, or an HTTP answer. */
static void
miner_drain(int fd, char *buf, size_t *len, bool *http)
{
	ssize_t n;
	char *nl;

	for (;;) {
		n = recv(fd, buf + *len, 65536 - *len, 0);
		if (n <= 0)
			return;
		*len += (size_t)n;
		if (*len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
			*http = true;
		if (*http) {
			*len = 0;
			continue;
		}
		while ((nl = memchr(buf, '\n', *len)) != NULL) {
			size_t used = (size_t)(nl - buf) + 1;
			json_t *j = json_loadb(buf, used - 1, 0, NULL);

			/* Every line Loka writes is a JSON object. */
			if (!json_is_object(j))
				abort();
			json_decref(j);
			memmove(buf, nl + 1, *len - used);
			*len -= used;
		}
		if (*len == 65536)
			abort(); /* a line longer than anything Loka writes */
	}
}

static void
turn(int miner, char *buf, size_t *len, bool *http)
{
	event_base_loop(worker_base(rig->w), EVLOOP_NONBLOCK);
	pool_turn();
	if (miner >= 0)
		miner_drain(miner, buf, len, http);
}

/* The parser and the identity rewrite on each line, directly. */
static void
parse_lines(const uint8_t *data, size_t size)
{
	size_t start = 0;

	for (size_t i = 0; i <= size; i++) {
		char err[200];
		struct identity id;
		struct msg m;
		char *line;

		if (i < size && data[i] != '\n')
			continue;
		line = xmalloc(i - start + 1);
		memcpy(line, data + start, i - start);
		line[i - start] = '\0';
		if (msg_parse(line, i - start, &m, err, sizeof(err)) == 0) {
			const char *login = msg_param_str(&m, 0);
			double d;

			if (m.kind == MSG_RESPONSE && m.id == NULL)
				abort();
			if (m.params != NULL && !json_is_array(m.params))
				abort();
			if (login != NULL && identity_rewrite(login, ".", "_",
			    "acct", &id) == 0) {
				if (strlen(id.pool_name) > IDENTITY_NAME_MAX ||
				    strchr(id.pool_name, ' ') != NULL)
					abort();
			}
			(void)msg_param_double(&m, 0, &d);
			msg_clear(&m);
		} else if (memchr(err, '\0', sizeof(err)) == NULL) {
			abort();
		}
		free(line);
		start = i + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char mbuf[65536 + 1];
	struct sockaddr_in sin = { 0 };
	size_t mlen = 0, off = 0;
	bool http = false;
	int sv[2];

	if (rig == NULL)
		rig_init();
	if (size > FUZZ_MAX)
		size = FUZZ_MAX;
	parse_lines(data, size);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	set_nonblock(sv[0]);
	/* Each input is its own miner address: 10.0.0.0/8 wraps after
	 * 16M inputs, long after any ban has ended. */
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(0x0a000000u |
	    (++rig->next_addr & 0xffffffu));
	session_accept(rig->w, sv[1], (struct sockaddr *)&sin, sizeof(sin),
	    NULL);
	for (int i = 0; i < FUZZ_TURNS; i++) {
		if (off < size) {
			ssize_t n = send(sv[0], data + off, size - off,
			    MSG_NOSIGNAL);

			if (n > 0)
				off += (size_t)n;
		}
		turn(sv[0], mbuf, &mlen, &http);
	}
	/* The miner hangs up: the session must go. */
	shutdown(sv[0], SHUT_WR);
	for (int i = 0; i < FUZZ_TURNS && rig->t->nsessions > 0; i++)
		turn(sv[0], mbuf, &mlen, &http);
	close(sv[0]);
	for (int i = 0; i < 4; i++)
		turn(-1, NULL, NULL, NULL);
	if (rig->t->nsessions != 0)
		abort();
	if (atomic_load(&rig->p.active) != 0)
		abort();
	if (rig->pool >= 0) {
		close(rig->pool);
		rig->pool = -1;
	}
	return 0;
}
