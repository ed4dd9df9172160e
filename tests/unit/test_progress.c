/*
 * test_progress.c: long operations say how far they are: nothing for one
 * that ends at once, a line with the counts and the rate every
 * PROGRESS_EVERY_MS, a last line when any was shown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/progress.h"

static char *
read_all(FILE *f)
{
	static char buf[8192];
	size_t n;

	fflush(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void
test_progress(void **state)
{
	struct progress p;
	FILE *f = tmpfile();
	struct timespec ms = { 0, 1000000 };
	char *out;

	(void)state;
	assert_non_null(f);
	log_set_fd(fileno(f));
	log_set_level(LOG_INFO);
	/* Quick: nothing at all. */
	progress_begin(&p, "quick job", "items", 10, false);
	for (int i = 0; i < 10; i++)
		progress_add(&p, 1);
	progress_end(&p);
	assert_null(strstr(read_all(f), "quick job"));

	/* Slow: a line every PROGRESS_EVERY_MS, then the last one. */
	progress_begin(&p, "replaying the journal", "events", 5000, false);
	for (int i = 0; i < 5000; i++) {
		if (i % 1024 == 1023)
			for (int k = 0; k < 1100; k++)
				nanosleep(&ms, NULL); /* ~1.1 s a step */
		progress_add(&p, 1);
	}
	progress_end(&p);
	out = read_all(f);
	assert_non_null(strstr(out, "[progress] replaying the journal: 2048 "
	    "of 5000 events (41 %)"));
	assert_non_null(strstr(out, "/s\n"));
	assert_non_null(strstr(out, "5000 of 5000 events (100 %)"));
	assert_non_null(strstr(out, ", done"));
	log_set_fd(2);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
