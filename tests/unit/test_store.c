/*
 * test_store.c: journal before verdict. A producer that posts an event
 * and asks (store_ring_wait()) is told by the store thread once the
 * event is in the journal's file: with fsync_interval and batch_interval
 * far away, the record is readable from the segment by then, and
 * store_ring_journaled() agrees. Nothing is told after the producer
 * unregisters. (A journal that cannot be written tells nothing: the
 * verdicts' deadline is tested end to end, tests/e2e/diskfull.py.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "books/accounting.h"
#include "config/config.h"
#include "store/journal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/now.h"

static char dir[64];

struct told {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
};

static void
notify(void *arg)
{
	struct told *t = arg;

	pthread_mutex_lock(&t->lock);
	t->calls++;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* Wait until t->calls > n, at most ms; the calls then. */
static int
wait_told(struct told *t, int n, int ms)
{
	struct timespec ts;
	int calls;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&t->lock);
	while (t->calls <= n &&
	    pthread_cond_timedwait(&t->cond, &t->lock, &ts) == 0)
		;
	calls = t->calls;
	pthread_mutex_unlock(&t->lock);
	return calls;
}

/* Records readable from the journal's files right now. */
static uint64_t
journal_on_disk(const char *spool)
{
	char err[256];
	struct journal *j = journal_open(spool, UINT64_C(1) << 30,
	    JOURNAL_READONLY, err, sizeof(err));
	uint64_t last;

	assert_non_null(j);
	last = journal_last_seq(j);
	journal_close(j);
	return last;
}

static struct store *
start_store(struct cfg **c, const char *spool)
{
	char text[1024], err[512];
	struct cfg_diag errs = { 0 };
	struct store *s;

	snprintf(text, sizeof(text), "[database]\nurl = \"sqlite://%s/db\"\n"
	    "spool_path = \"%s\"\nbatch_interval = \"60s\"\n"
	    "fsync_interval = \"10s\"\n"
	    "[[pools]]\nname = \"p\"\nurl = \"stratum+tcp://127.0.0.1:1\"\n",
	    dir, spool);
	*c = cfg_load_string("test", text, strlen(text), &errs, NULL);
	assert_non_null(*c);
	s = store_new(*c, 1, "unit", err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(store_start(s, err, sizeof(err)), 0);
	return s;
}

static void
test_told_once_written(void **state)
{
	char spool[128];
	struct cfg *c;
	struct store *s;
	struct store_ring *r;
	struct told t = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    0 };
	uint64_t pos;
	int64_t t0;

	(void)state;
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	s = start_store(&c, spool);
	r = store_ring(s, 0);
	store_ring_set_notify(r, notify, &t);
	assert_true(store_ring_journaled(r, store_ring_posted(r)));

	for (int i = 1; i <= 20; i++) {
		int before = t.calls;

		assert_int_equal(store_post_share(r, "p", "miner", "rig", true,
		    ACCT_REJ_MAX, 1.0, now_wall_ms()), 0);
		pos = store_ring_posted(r);
		t0 = now_mono_ms();
		store_ring_wait(r, pos);
		store_ring_wait(r, pos); /* twice before the answer: one */
		while (!store_ring_journaled(r, pos)) {
			wait_told(&t, before, 2000);
			before = t.calls;
			if (now_mono_ms() - t0 > 5000)
				fail_msg("event %d not journaled in 5 s", i);
			if (!store_ring_journaled(r, pos))
				store_ring_wait(r, pos);
		}
		/* Told in milliseconds, not after fsync_interval (10 s) or
		 * batch_interval (60 s); and the record is in the file. */
		assert_true(now_mono_ms() - t0 < 2000);
		assert_int_equal(journal_on_disk(spool), (uint64_t)i);
	}
	assert_true(t.calls >= 1 && t.calls <= 40);

	/* Unregistered: no call any more, even when asked. */
	store_ring_set_notify(r, NULL, NULL);
	pos = (uint64_t)t.calls;
	assert_int_equal(store_post_share(r, "p", "miner", "rig", true,
	    ACCT_REJ_MAX, 1.0, now_wall_ms()), 0);
	store_ring_wait(r, store_ring_posted(r));
	usleep(100 * 1000);
	assert_int_equal((uint64_t)t.calls, pos);
	assert_true(store_ring_journaled(r, store_ring_posted(r)));

	store_stop(s);
	store_free(s);
	cfg_free(c);
}

static int
setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/loka-test-store.XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_told_once_written),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
