/*
 * test_worker.c: worker threads' task queue (src/net/worker.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>

#include "config/config.h"
#include "net/worker.h"

struct seen {
	int ran;       /* called on the worker */
	int cancelled; /* called with w == NULL */
};

static void
task(struct worker *w, void *arg)
{
	struct seen *s = arg;

	if (w == NULL)
		s->cancelled++;
	else
		s->ran++;
}

static void
stop(struct worker *w, void *arg)
{
	(void)arg;
	if (w != NULL)
		worker_exit(w);
}

/* Tasks run on the loop, in order; the loop ends on request. */
static void
test_tasks_run(void **state)
{
	struct cfg_list none = { NULL, 0 };
	struct worker *w = worker_new(0, &none, NULL, NULL, NULL);
	struct seen s = { 0, 0 };

	(void)state;
	assert_non_null(w);
	worker_post(w, task, &s);
	worker_post(w, task, &s);
	worker_post(w, stop, NULL);
	assert_int_equal(worker_start(w), 0);
	worker_join(w);
	assert_int_equal(s.ran, 2);
	assert_int_equal(s.cancelled, 0);
	worker_free(w);
	assert_int_equal(s.cancelled, 0);
}

/* A task the loop never ran is called once with NULL when freed, so it
 * can release its argument. */
static void
test_tasks_cancelled_at_free(void **state)
{
	struct cfg_list none = { NULL, 0 };
	struct worker *w = worker_new(0, &none, NULL, NULL, NULL);
	struct seen s = { 0, 0 };

	(void)state;
	assert_non_null(w);
	worker_post(w, task, &s);
	worker_post(w, task, &s);
	worker_free(w);
	assert_int_equal(s.ran, 0);
	assert_int_equal(s.cancelled, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tasks_run),
		cmocka_unit_test(test_tasks_cancelled_at_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
