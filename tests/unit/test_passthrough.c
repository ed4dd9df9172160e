/*
 * test_passthrough.c: one session driven through its real code (session.c,
 * passthrough.c) with a scripted miner on a socketpair and a scripted pool
 * on a loopback listener: id mapping (reused ids, answers out of order),
 * identity rewrite in authorize and submit, configure mask intersection,
 * the handshake states, share accounting, a black-hole pool's handshake
 * moved to the next pool, submits queued at give-up, and a session dropped
 * with a submit in flight (off the write list before it is freed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "net/worker.h"
#include "proxy/proxy_internal.h"
#include "proxy/router.h"
#include "util/xmalloc.h"

struct rig {
	struct cfg *cfg;
	struct proxy p;
	struct proxy_thread *t;
	struct worker *w;
	int listen_fd;
	int black_fd; /* a second pool's listener (setup_black), or -1 */
	int miner; /* the test's end of the miner socketpair */
	int pool;  /* the accepted upstream connection */
	char mbuf[65536], pbuf[65536];
	size_t mlen, plen;
};

static void
pump(struct rig *r)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(worker_base(r->w), EVLOOP_NONBLOCK);
}

/* Read one line from fd (buffered in buf), pumping Loka's loop. */
static json_t *
read_json(struct rig *r, int fd, char *buf, size_t *len)
{
	for (int tries = 0; tries < 400; tries++) {
		char *nl = memchr(buf, '\n', *len);

		if (nl != NULL) {
			json_t *j = json_loadb(buf, (size_t)(nl - buf), 0,
			    NULL);
			size_t used = (size_t)(nl - buf) + 1;

			memmove(buf, nl + 1, *len - used);
			*len -= used;
			assert_non_null(j);
			return j;
		}
		pump(r);
		{
			struct pollfd pfd = { fd, POLLIN, 0 };

			if (poll(&pfd, 1, 5) == 1) {
				ssize_t n = read(fd, buf + *len,
				    65536 - *len - 1);

				assert_true(n > 0);
				*len += (size_t)n;
			}
		}
	}
	fail_msg("no line arrived");
	return NULL;
}

static json_t *
from_miner_side(struct rig *r)
{
	return read_json(r, r->miner, r->mbuf, &r->mlen);
}

static json_t *
at_pool(struct rig *r)
{
	if (r->pool < 0) {
		struct pollfd pfd = { r->listen_fd, POLLIN, 0 };

		for (int i = 0; i < 400 && poll(&pfd, 1, 5) != 1; i++)
			pump(r);
		r->pool = accept(r->listen_fd, NULL, NULL);
		assert_true(r->pool >= 0);
	}
	return read_json(r, r->pool, r->pbuf, &r->plen);
}

static void
send_line(struct rig *r, int fd, const char *line)
{
	size_t n = strlen(line);

	assert_int_equal(write(fd, line, n), (ssize_t)n);
	assert_int_equal(write(fd, "\n", 1), 1);
	pump(r);
}

static void
pool_reply(struct rig *r, json_t *req, const char *result_json)
{
	char line[4096];
	char *id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);

	snprintf(line, sizeof(line), "{\"id\":%s,\"result\":%s,\"error\":null}",
	    id, result_json);
	free(id);
	send_line(r, r->pool, line);
}

/* A loopback listener; its port in *port. */
static int
listener(int *port)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * The rig: head (configuration text, e.g. a [server] section), pool "p"
 * on listen_fd, and with black a pool "black" before it by priority on
 * black_fd (accepts; the test never answers).
 */
static int
rig_setup(void **state, const char *head, bool black)
{
	struct rig *r = xcalloc(1, sizeof(*r));
	struct sockaddr_in sin = { 0 };
	struct cfg_diag errs = { 0 };
	struct cfg_list none = { NULL, 0 };
	char text[1024], tail[512] = "";
	int sv[2], port, bport;

	evthread_use_pthreads();
	r->pool = -1;
	r->black_fd = -1;
	if (black) {
		r->black_fd = listener(&bport);
		snprintf(tail, sizeof(tail), "[[pools]]\nname = \"black\"\n"
		    "url = \"stratum+tcp://127.0.0.1:%d\"\n"
		    "username = \"acct\"\npriority = 0\n"
		    "handshake_timeout = \"1s\"\n", bport);
	}
	r->listen_fd = listener(&port);
	snprintf(text, sizeof(text), "%s[[pools]]\nname = \"p\"\n"
	    "url = \"stratum+tcp://127.0.0.1:%d\"\nusername = \"acct\"\n"
	    "priority = 1\n%s", head, port, tail);
	r->cfg = cfg_load_string("t.toml", text, strlen(text), &errs, NULL);
	assert_non_null(r->cfg);
	atomic_init(&r->p.active, 0);
	atomic_init(&r->p.next_session, 1);
	r->p.cfg = r->cfg;
	r->p.router = router_new(r->cfg);
	r->w = worker_new(0, &none, NULL, session_accept, &r->p);
	assert_non_null(r->w);
	r->t = xcalloc(1, sizeof(*r->t));
	r->t->proxy = &r->p;
	r->t->worker = r->w;
	r->t->acct = acct_table_new(r->cfg->npools);
	r->t->pools = xcalloc(r->cfg->npools, sizeof(*r->t->pools));
	worker_set_data(r->w, r->t);
	session_thread_init(r->t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r->miner = sv[0];
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	session_accept(r->w, sv[1], (struct sockaddr *)&sin, sizeof(sin),
	    NULL);
	*state = r;
	return 0;
}

static int
setup(void **state)
{
	return rig_setup(state, "", false);
}

/* Pool "black" first (accepts, the test never answers), "p" second. */
static int
setup_black(void **state)
{
	return rig_setup(state, "", true);
}

/* Sessions held at most a second while no pool is there. */
static int
setup_short_hold(void **state)
{
	return rig_setup(state, "[server]\npool_outage_hold = \"1s\"\n",
	    false);
}

static int
teardown(void **state)
{
	struct rig *r = *state;

	session_thread_fini(r->t);
	acct_table_free(r->t->acct);
	free(r->t->pools);
	free(r->t);
	worker_free(r->w);
	router_free(r->p.router);
	cfg_free(r->cfg);
	close(r->miner);
	if (r->pool >= 0)
		close(r->pool);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->black_fd >= 0)
		close(r->black_fd);
	free(r);
	return 0;
}

static struct session *
the_session(struct rig *r)
{
	return TAILQ_FIRST(&r->t->sessions);
}

/* subscribe + authorize, the pool answering; returns nothing. */
static void
handshake(struct rig *r)
{
	json_t *req, *ans;

	send_line(r, r->miner, "{\"id\":1,\"method\":\"mining.subscribe\","
	    "\"params\":[\"test/1\"]}");
	req = at_pool(r);
	assert_string_equal(json_string_value(json_object_get(req, "method")),
	    "mining.subscribe");
	pool_reply(r, req, "[[[\"mining.notify\",\"1\"]],\"f000000d\",4]");
	json_decref(req);
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_object_get(ans, "id")), 1);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(ans, "result"), 1)), "f000000d");
	json_decref(ans);
	assert_int_equal(the_session(r)->state, SESSION_STRATUM);

	send_line(r, r->miner, "{\"id\":2,\"method\":\"mining.authorize\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"minerpw\"]}");
	req = at_pool(r);
	/* The rewritten identity; the miner's password (pool has none). */
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 0)), "acct.bc1qCaseKept_rig1");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 1)), "minerpw");
	pool_reply(r, req, "true");
	json_decref(req);
	ans = from_miner_side(r);
	assert_true(json_is_true(json_object_get(ans, "result")));
	json_decref(ans);
	assert_int_equal(the_session(r)->state, SESSION_ACTIVE);
}

static void
test_handshake_and_identity(void **state)
{
	handshake(*state);
}

static void
test_reused_ids_out_of_order(void **state)
{
	struct rig *r = *state;
	json_t *a, *b, *x, *y;

	handshake(r);
	send_line(r, r->miner, "{\"id\":5,\"method\":\"mining.suggest_"
	    "difficulty\",\"params\":[0.5]}");
	send_line(r, r->miner, "{\"id\":5,\"method\":\"mining.suggest_"
	    "difficulty\",\"params\":[0.25]}");
	a = at_pool(r);
	b = at_pool(r);
	/* Loka's ids upstream are its own and distinct. */
	assert_false(json_equal(json_object_get(a, "id"),
	    json_object_get(b, "id")));
	/* The pool answers the second first. */
	pool_reply(r, b, "\"second\"");
	pool_reply(r, a, "\"first\"");
	x = from_miner_side(r);
	y = from_miner_side(r);
	assert_int_equal(json_integer_value(json_object_get(x, "id")), 5);
	assert_string_equal(json_string_value(json_object_get(x, "result")),
	    "second");
	assert_int_equal(json_integer_value(json_object_get(y, "id")), 5);
	assert_string_equal(json_string_value(json_object_get(y, "result")),
	    "first");
	json_decref(a);
	json_decref(b);
	json_decref(x);
	json_decref(y);
}

static void
test_submit_rewritten_and_counted(void **state)
{
	struct rig *r = *state;
	json_t *req, *ans;
	const struct acct_counts *c;

	handshake(r);
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.set_"
	    "difficulty\",\"params\":[0.125]}");
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.notify\","
	    "\"params\":[\"j1\",\"00\",\"00\",\"00\",[],\"20000000\","
	    "\"1d00ffff\",\"5f000000\",true]}");
	json_decref(from_miner_side(r));
	json_decref(from_miner_side(r));
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.set_"
	    "difficulty\",\"params\":[4]}");
	json_decref(from_miner_side(r));
	send_line(r, r->miner, "{\"id\":\"s1\",\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j1\",\"00000001\","
	    "\"5f000001\",\"12345678\",\"00002000\"]}");
	req = at_pool(r);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 0)), "acct.bc1qCaseKept_rig1");
	/* The version bits travel upstream. */
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 5)), "00002000");
	pool_reply(r, req, "true");
	json_decref(req);
	ans = from_miner_side(r);
	assert_string_equal(json_string_value(json_object_get(ans, "id")),
	    "s1");
	json_decref(ans);
	c = acct_pool_counts(r->t->acct, 0);
	assert_int_equal(c->accepted, 1);
	/* The difficulty in force when j1 was sent, not the later one. */
	assert_true(c->accepted_diff == 0.125);

	/* A reject is counted by its reason. */
	send_line(r, r->miner, "{\"id\":7,\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j1\",\"00000002\","
	    "\"5f000001\",\"12345678\"]}");
	req = at_pool(r);
	{
		char line[256];
		char *id = json_dumps(json_object_get(req, "id"),
		    JSON_ENCODE_ANY);

		snprintf(line, sizeof(line), "{\"id\":%s,\"result\":null,"
		    "\"error\":[22,\"Duplicate share\",null]}", id);
		free(id);
		send_line(r, r->pool, line);
	}
	json_decref(req);
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(ans,
	    "error"), 0)), 22);
	json_decref(ans);
	assert_int_equal(c->rejected[ACCT_REJ_DUPLICATE], 1);
}

/* The scanned paths (notify, submit, verdict) and their fallbacks. */
static void
test_fast_paths_and_fallbacks(void **state)
{
	struct rig *r = *state;
	json_t *req, *ans;
	const struct acct_counts *c;

	handshake(r);
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.set_"
	    "difficulty\",\"params\":[0.5]}");
	/* Spaces: not the flat form the scan takes; parsed instead. */
	send_line(r, r->pool, "{\"id\": null, \"method\": \"mining.notify\", "
	    "\"params\": [\"j2\",\"00\",\"00\",\"00\",[],\"20000000\","
	    "\"1d00ffff\",\"5f000000\",true]}");
	/* Flat: scanned. */
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.notify\","
	    "\"params\":[\"j3\",\"00\",\"00\",\"00\",[],\"20000000\","
	    "\"1d00ffff\",\"5f000000\",false]}");
	json_decref(from_miner_side(r));
	ans = from_miner_side(r);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    ans, "params"), 0)), "j2");
	json_decref(ans);
	ans = from_miner_side(r);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    ans, "params"), 0)), "j3");
	json_decref(ans);
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.set_"
	    "difficulty\",\"params\":[8]}");
	json_decref(from_miner_side(r));

	/* A usual submit for j2: printed directly; the verdict too. */
	send_line(r, r->miner, "{\"id\":9,\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j2\",\"00000001\","
	    "\"5f000001\",\"12345678\"]}");
	req = at_pool(r);
	assert_int_equal(json_array_size(json_object_get(req, "params")), 5);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 0)), "acct.bc1qCaseKept_rig1");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 4)), "12345678");
	pool_reply(r, req, "true");
	json_decref(req);
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_object_get(ans, "id")), 9);
	assert_true(json_is_true(json_object_get(ans, "result")));
	assert_true(json_is_null(json_object_get(ans, "error")));
	json_decref(ans);
	c = acct_pool_counts(r->t->acct, 0);
	/* j2 was found though it came through the full parse. */
	assert_true(c->accepted_diff == 0.5);

	/* An escaped character: through a JSON tree, forwarded intact. */
	send_line(r, r->miner, "{\"id\":10,\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j3\",\"00\\\"01\","
	    "\"5f000001\",\"12345678\"]}");
	req = at_pool(r);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 2)), "00\"01");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 0)), "acct.bc1qCaseKept_rig1");
	pool_reply(r, req, "false");
	json_decref(req);
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_object_get(ans, "id")), 10);
	assert_true(json_is_false(json_object_get(ans, "result")));
	json_decref(ans);
	/* j3's difficulty (0.5, from the scan) on the rejected share. */
	assert_true(c->rejected_diff == 0.5);
}

static void
test_configure_mask(void **state)
{
	struct rig *r = *state;
	json_t *req, *ans, *res;

	send_line(r, r->miner, "{\"id\":1,\"method\":\"mining.configure\","
	    "\"params\":[[\"version-rolling\",\"minimum-difficulty\"],"
	    "{\"version-rolling.mask\":\"1fffe000\","
	    "\"version-rolling.min-bit-count\":2,"
	    "\"minimum-difficulty.value\":2048}]}");
	req = at_pool(r);
	/* The pool grants more than asked and says nothing of the rest. */
	pool_reply(r, req, "{\"version-rolling\":true,"
	    "\"version-rolling.mask\":\"ffffffff\"}");
	json_decref(req);
	ans = from_miner_side(r);
	res = json_object_get(ans, "result");
	assert_true(json_is_true(json_object_get(res, "version-rolling")));
	assert_string_equal(json_string_value(json_object_get(res,
	    "version-rolling.mask")), "1fffe000");
	/* Every requested extension is answered. */
	assert_true(json_is_false(json_object_get(res,
	    "minimum-difficulty")));
	json_decref(ans);
	handshake(r);
	send_line(r, r->pool, "{\"id\":null,\"method\":\"mining.set_version_"
	    "mask\",\"params\":[\"00ffff00\"]}");
	ans = from_miner_side(r);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    ans, "params"), 0)), "00ffe000");
	json_decref(ans);
}

static void
test_local_answers(void **state)
{
	struct rig *r = *state;
	json_t *ans;

	send_line(r, r->miner, "{\"id\":1,\"method\":\"mining.ping\"}");
	ans = from_miner_side(r);
	assert_string_equal(json_string_value(json_object_get(ans, "result")),
	    "pong");
	json_decref(ans);
	send_line(r, r->miner, "{\"id\":2,\"method\":\"x.y\",\"params\":[]}");
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(ans,
	    "error"), 0)), -32601);
	json_decref(ans);
	send_line(r, r->miner, "{\"id\":3,\"method\":\"mining.submit\","
	    "\"params\":[\"a.b\",\"j\",\"00\",\"00\",\"00\"]}");
	ans = from_miner_side(r);
	/* No pool yet: nothing subscribed, so 25 (or it waited: 24/25). */
	assert_true(json_integer_value(json_array_get(json_object_get(ans,
	    "error"), 0)) == 25);
	json_decref(ans);
}

/*
 * A pool that accepts and never answers: after its handshake_timeout the
 * miner's subscribe and authorize go to the next pool, whose answers the
 * miner gets; the black hole's failure is counted, the miner not closed.
 */
static void
test_black_hole_moves_on(void **state)
{
	struct rig *r = *state;
	struct pollfd pfd = { r->black_fd, POLLIN, 0 };
	json_t *req, *ans;
	int black = -1;

	send_line(r, r->miner, "{\"id\":1,\"method\":\"mining.subscribe\","
	    "\"params\":[\"test/1\"]}");
	send_line(r, r->miner, "{\"id\":2,\"method\":\"mining.authorize\","
	    "\"params\":[\"bc1qHole.rig1\",\"x\"]}");
	for (int i = 0; i < 400 && poll(&pfd, 1, 5) != 1; i++)
		pump(r);
	black = accept(r->black_fd, NULL, NULL);
	assert_true(black >= 0);
	/* Nothing from "black"; "p" gets the same handshake, in order. */
	req = at_pool(r);
	assert_string_equal(json_string_value(json_object_get(req, "method")),
	    "mining.subscribe");
	pool_reply(r, req, "[[[\"mining.notify\",\"1\"]],\"0000beef\",4]");
	json_decref(req);
	req = at_pool(r);
	assert_string_equal(json_string_value(json_object_get(req, "method")),
	    "mining.authorize");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(req, "params"), 0)), "acct.bc1qHole_rig1");
	pool_reply(r, req, "true");
	json_decref(req);
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_object_get(ans, "id")), 1);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(ans, "result"), 1)), "0000beef");
	json_decref(ans);
	ans = from_miner_side(r);
	assert_int_equal(json_integer_value(json_object_get(ans, "id")), 2);
	assert_true(json_is_true(json_object_get(ans, "result")));
	json_decref(ans);
	assert_int_equal(the_session(r)->state, SESSION_ACTIVE);
	assert_int_equal(the_session(r)->pool, 0);
	/* Pool 1 is "black" (second in the file). */
	assert_int_equal(r->t->pools[1].failures, 1);
	assert_int_equal(r->t->pools[1].handshake_timeouts, 1);
	assert_int_equal(r->t->pools[0].ready, 1);
	assert_int_equal(r->t->pools[1].ready, 0);
	close(black);
}

/* Answer 20 expected for id, from the miner's side. */
static void
expect_error_20(struct rig *r, int id)
{
	json_t *ans = from_miner_side(r);

	assert_int_equal(json_integer_value(json_object_get(ans, "id")), id);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(ans,
	    "error"), 0)), 20);
	json_decref(ans);
}

/*
 * The pool goes away for good: submits sent meanwhile wait, and when
 * pool_outage_hold runs out they are answered with error 20 and booked
 * as rejected "other"; then the miner is closed.
 */
static void
test_queued_submits_at_give_up(void **state)
{
	struct rig *r = *state;
	const struct acct_counts *c;
	char buf[256];

	handshake(r);
	close(r->pool);
	r->pool = -1;
	close(r->listen_fd);
	r->listen_fd = -1;
	for (int i = 0; i < 20; i++) {
		pump(r);
		usleep(5000);
	}
	assert_int_equal(the_session(r)->up_state, UP_BACKOFF);
	send_line(r, r->miner, "{\"id\":3,\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j1\",\"00000001\","
	    "\"5f000001\",\"12345678\"]}");
	send_line(r, r->miner, "{\"id\":4,\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j1\",\"00000002\","
	    "\"5f000001\",\"12345678\"]}");
	/* Held, not answered yet. */
	assert_int_equal(the_session(r)->backlog_lines, 2);
	expect_error_20(r, 3);
	expect_error_20(r, 4);
	c = acct_pool_counts(r->t->acct, 0);
	assert_int_equal(c->accepted, 0);
	assert_int_equal(c->rejected[ACCT_REJ_OTHER], 2);
	assert_int_equal(r->t->pools[0].rejected[ACCT_REJ_OTHER], 2);
	/* Then the miner is closed. */
	for (int i = 0; i < 100 && !TAILQ_EMPTY(&r->t->sessions); i++) {
		pump(r);
		usleep(5000);
	}
	assert_true(TAILQ_EMPTY(&r->t->sessions));
	assert_int_equal(read(r->miner, buf, sizeof(buf)), 0);
}

/*
 * Dropped with a submit in flight (two miners closing in one batch, a
 * ban closing several sessions): the drop answers the submit, which
 * queues output and puts the session on the thread's write list. It must
 * come off that list before it is freed: the reaper may run before the
 * flush in the same loop turn, and the flush would read freed memory
 * (ASan's use-after-free in the sanitizer build).
 */
static void
test_drop_with_submit_in_flight(void **state)
{
	struct rig *r = *state;
	struct session *s;
	json_t *req;

	handshake(r);
	send_line(r, r->miner, "{\"id\":3,\"method\":\"mining.submit\","
	    "\"params\":[\"bc1qCaseKept.rig#1\",\"j1\",\"00000001\","
	    "\"5f000001\",\"12345678\"]}");
	req = at_pool(r);
	assert_string_equal(json_string_value(json_object_get(req, "method")),
	    "mining.submit");
	json_decref(req);
	s = the_session(r);
	assert_true(s->submits_pending > 0);
	session_drop(s, "test: dropped with a submit in flight");
	assert_false(s->dirty);
	assert_true(TAILQ_EMPTY(&r->t->dirty));
	/* The reaper and the flush, in whatever order the loop runs them. */
	pump(r);
	assert_true(TAILQ_EMPTY(&r->t->sessions));
	/* The unanswered submit is in the books as rejected "other". */
	assert_int_equal(acct_pool_counts(r->t->acct, 0)->rejected[
	    ACCT_REJ_OTHER], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_identity,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reused_ids_out_of_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_submit_rewritten_and_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_paths_and_fallbacks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_configure_mask, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_local_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drop_with_submit_in_flight,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_black_hole_moves_on,
		    setup_black, teardown),
		cmocka_unit_test_setup_teardown(
		    test_queued_submits_at_give_up, setup_short_hold,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
