/*
 * test_journal.c: the share-event journal: records survive a reopen, a
 * torn tail is cut off, replay starts after a given sequence number,
 * applied segments are released, a full journal says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/loka-journal-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
payload(uint8_t *p, uint64_t seq, size_t len)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(seq >> (8 * i));
	for (size_t i = 8; i < len; i++)
		p[i] = (uint8_t)(seq + i);
}

struct seen {
	uint64_t first, last, n;
	int bad;
};

static int
collect(void *arg, uint64_t seq, const void *p, size_t len)
{
	struct seen *s = arg;
	uint8_t want[64];

	payload(want, seq, len);
	if (len != 40 || memcmp(want, p, len) != 0)
		s->bad++;
	if (s->n == 0)
		s->first = seq;
	else if (seq != s->last + 1)
		s->bad++;
	s->last = seq;
	s->n++;
	return 0;
}

static void
test_append_reopen_replay(void **state)
{
	struct journal *j;
	char err[256];
	uint8_t p[40];
	struct seen s = { 0 };

	(void)state;
	j = journal_open(dir, 1 << 30, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 0);
	for (uint64_t seq = 1; seq <= 1000; seq++) {
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	assert_int_equal(journal_sync(j), 0);
	journal_close(j);

	j = journal_open(dir, 1 << 30, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 1000);
	assert_int_equal(journal_replay(j, 990, collect, &s), 0);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.first, 991);
	assert_int_equal(s.last, 1000);
	assert_int_equal(s.bad, 0);
	/* Appending goes on after a reopen; replay sees old and new. */
	payload(p, 1001, sizeof(p));
	assert_int_equal(journal_append(j, 1001, p, sizeof(p)), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(journal_replay(j, 0, collect, &s), 0);
	assert_int_equal(s.n, 1001);
	assert_int_equal(s.bad, 0);
	journal_close(j);
}

static void
test_torn_tail(void **state)
{
	struct journal *j;
	char err[256], path[128];
	uint8_t p[40];
	struct seen s = { 0 };
	int fd;

	(void)state;
	j = journal_open(dir, 1 << 30, err, sizeof(err));
	for (uint64_t seq = 1; seq <= 5; seq++) {
		payload(p, seq, sizeof(p));
		journal_append(j, seq, p, sizeof(p));
	}
	journal_close(j);
	/* A crash in the middle of the 6th record. */
	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 1ULL);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x28\x00\x00\x00\x01\x02", 6), 6);
	close(fd);
	j = journal_open(dir, 1 << 30, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 5);
	assert_int_equal(journal_replay(j, 0, collect, &s), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.bad, 0);
	journal_close(j);
	/* A flipped bit: the record and what follows are not trusted. */
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, "\xff", 1, 8 + 48 * 2 + 20), 1);
	close(fd);
	j = journal_open(dir, 1 << 30, err, sizeof(err));
	assert_int_equal(journal_last_seq(j), 2);
	journal_close(j);
}

static void
test_release_and_full(void **state)
{
	struct journal *j;
	char err[256];
	uint8_t p[1000];
	uint64_t seq = 0;
	struct stat st;
	char path[128];

	(void)state;
	j = journal_open(dir, 40ULL * 1024 * 1024, err, sizeof(err));
	assert_non_null(j);
	/* ~35 MB: three segments of 16 MB. */
	for (int i = 0; i < 35000; i++) {
		seq++;
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	/* The cap: past max_bytes appends are refused, loudly. */
	for (;;) {
		payload(p, seq + 1, sizeof(p));
		if (journal_append(j, seq + 1, p, sizeof(p)) != 0)
			break;
		seq++;
	}
	assert_int_equal(errno, ENOSPC);
	assert_true(journal_bytes(j) <= 40ULL * 1024 * 1024);
	journal_sync(j);
	/* Everything applied: all but the newest segment go. */
	assert_int_equal(journal_release(j, seq), 2);
	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 1ULL);
	assert_int_not_equal(stat(path, &st), 0);
	assert_true(journal_bytes(j) < 16ULL * 1024 * 1024);
	journal_close(j);
	j = journal_open(dir, 1 << 30, err, sizeof(err));
	assert_int_equal(journal_last_seq(j), seq);
	journal_close(j);
}

static void
test_crc(void **state)
{
	(void)state;
	/* The standard check value of CRC-32C. */
	assert_int_equal(journal_crc32c("123456789", 9), 0xe3069283u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_reopen_replay,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_release_and_full, setup,
		    teardown),
		cmocka_unit_test(test_crc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
