/*
 * test_journal.c: the share-event journal: records survive a reopen, a
 * torn tail is cut off, replay starts after a given sequence number,
 * applied segments are released, a full journal says so, a write that
 * fails part-way loses and duplicates nothing, a replay that cannot reach
 * the end fails (a gap the caller already has does not stop it), the owner file and the lock; the record format byte for
 * byte (written and read back from fixed bytes, payloads at odd
 * addresses), so that a build for another architecture reads and writes
 * the same files.
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
#include <signal.h>
#include <sys/resource.h>
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
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 0);
	for (uint64_t seq = 1; seq <= 1000; seq++) {
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	assert_int_equal(journal_sync(j), 0);
	journal_close(j);

	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 1000);
	assert_int_equal(journal_replay(j, 990, collect, &s, NULL, err, sizeof(err)), 0);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.first, 991);
	assert_int_equal(s.last, 1000);
	assert_int_equal(s.bad, 0);
	/* Appending goes on after a reopen; replay sees old and new. */
	payload(p, 1001, sizeof(p));
	assert_int_equal(journal_append(j, 1001, p, sizeof(p)), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(journal_replay(j, 0, collect, &s, NULL, err, sizeof(err)), 0);
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
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
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
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 5);
	assert_int_equal(journal_replay(j, 0, collect, &s, NULL, err, sizeof(err)), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.bad, 0);
	journal_close(j);
	/* A flipped bit: the record and what follows are not trusted. */
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, "\xff", 1, 8 + 48 * 2 + 20), 1);
	close(fd);
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
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
	j = journal_open(dir, 40ULL * 1024 * 1024, 0, err, sizeof(err));
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
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_int_equal(journal_last_seq(j), seq);
	journal_close(j);
}

/*
 * A disk that fills up in the middle of a write: write(2) takes part of
 * the buffer and fails. Nothing may be written twice or lost; once space
 * returns the journal holds every record it accepted, readable.
 */
static void
test_partial_write(void **state)
{
	struct journal *j;
	char err[256];
	uint8_t p[40];
	struct seen s = { 0 };
	struct rlimit old, lim;
	uint64_t seq = 0, accepted;
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);

	(void)state;
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	for (int i = 0; i < 100; i++) {
		seq++;
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	assert_int_equal(journal_sync(j), 0);
	/* The file may grow by 1000 bytes more: not a record boundary. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100 * 48 + 1000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (;;) {
		payload(p, seq + 1, sizeof(p));
		if (journal_append(j, seq + 1, p, sizeof(p)) != 0)
			break;
		seq++;
		assert_true(seq < 100000);
	}
	accepted = seq;
	/* Refused: the buffer is full and the file takes nothing. */
	assert_true(accepted > 100 + 1000 / 48);
	assert_int_not_equal(journal_sync(j), 0);
	assert_true(journal_unwritten(j) > 0);
	assert_int_equal(journal_last_seq(j), accepted);
	/* A replay cannot pass for complete while records are unwritten. */
	assert_int_not_equal(journal_replay(j, 0, collect, &s, NULL, err,
	    sizeof(err)), 0);
	/* Space again. */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_unwritten(j), 0);
	payload(p, accepted + 1, sizeof(p));
	assert_int_equal(journal_append(j, accepted + 1, p, sizeof(p)), 0);
	journal_close(j);
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), accepted + 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(journal_replay(j, 0, collect, &s, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(s.n, accepted + 1);
	assert_int_equal(s.bad, 0);
	assert_int_equal(journal_bytes(j), (accepted + 1) * 48);
	journal_close(j);
}

/* Records missing in the middle, or a segment shorter than written: the
 * replay fails and says where. */
static void
test_replay_incomplete(void **state)
{
	struct journal *j;
	char err[256], path[128];
	uint8_t p[40];
	struct seen s = { 0 };
	uint64_t first = 0;

	(void)state;
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	for (uint64_t seq = 1; seq <= 5; seq++) {
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	assert_int_equal(journal_sync(j), 0);
	/* The file loses its last two records behind the journal's back. */
	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 1ULL);
	assert_int_equal(truncate(path, 3 * 48), 0);
	assert_int_not_equal(journal_replay(j, 0, collect, &s, NULL, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "readable records"));
	journal_close(j);

	/* A hole: events 4 to 9 are nowhere. */
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_int_equal(journal_last_seq(j), 3);
	payload(p, 10, sizeof(p));
	assert_int_equal(journal_append(j, 10, p, sizeof(p)), 0);
	memset(&s, 0, sizeof(s));
	assert_int_not_equal(journal_replay(j, 0, collect, &s, &first, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "missing"));
	/* After the hole was applied elsewhere, the rest replays, and the
	 * caller learns where the records it got start. */
	journal_release(j, 3);
	memset(&s, 0, sizeof(s));
	journal_close(j);
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_int_equal(journal_replay(j, 3, collect, &s, &first, err,
	    sizeof(err)), 0);
	assert_int_equal(first, 10);
	assert_int_equal(s.n, 1);
	journal_close(j);
}

/*
 * A gap the caller already has is no hole. A process killed right after a
 * database commit whose records were still in the journal's buffer leaves
 * the database ahead of the file; the next start numbers on after the
 * database's mark, in a new segment. Until a commit releases the old
 * segment, a replay after that mark must go over the gap; a gap past the
 * mark is still a hole.
 */
static void
test_replay_gap_applied(void **state)
{
	struct journal *j;
	char err[256];
	uint8_t p[40];
	struct seen s = { 0 };
	uint64_t first = 0;

	(void)state;
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	for (uint64_t seq = 1; seq <= 3; seq++) {
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	/* Flushed, not synced: written to the file all the same. */
	assert_int_equal(journal_flush(j), 0);
	assert_int_equal(journal_unwritten(j), 0);
	journal_close(j);
	/* Events 4 to 9 reached the database only; numbering goes on. */
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_int_equal(journal_last_seq(j), 3);
	for (uint64_t seq = 10; seq <= 12; seq++) {
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	assert_int_equal(journal_sync(j), 0);
	journal_close(j);
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_int_equal(journal_segments(j), 2);
	assert_int_equal(journal_replay(j, 9, collect, &s, &first, err,
	    sizeof(err)), 0);
	assert_int_equal(first, 10);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.last, 12);
	assert_int_equal(s.bad, 0);
	/* Further on too (the database has 10 already). */
	memset(&s, 0, sizeof(s));
	assert_int_equal(journal_replay(j, 10, collect, &s, &first, err,
	    sizeof(err)), 0);
	assert_int_equal(first, 11);
	assert_int_equal(s.n, 2);
	/* A mark inside the gap: events up to 9 are nowhere, a hole. */
	memset(&s, 0, sizeof(s));
	assert_int_not_equal(journal_replay(j, 6, collect, &s, &first, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "missing"));
	assert_int_equal(s.n, 0);
	journal_close(j);
}

/* A record the callback refuses stops the replay, which fails. */
static int
stop_at_3(void *arg, uint64_t seq, const void *p, size_t len)
{
	(void)arg;
	(void)p;
	(void)len;
	return seq == 3 ? -1 : 0;
}

static void
test_replay_stopped(void **state)
{
	struct journal *j;
	char err[256];
	uint8_t p[40];

	(void)state;
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	for (uint64_t seq = 1; seq <= 5; seq++) {
		payload(p, seq, sizeof(p));
		assert_int_equal(journal_append(j, seq, p, sizeof(p)), 0);
	}
	assert_int_not_equal(journal_replay(j, 0, stop_at_3, NULL, NULL, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "stopped"));
	journal_close(j);
}

static void
test_owner_and_lock(void **state)
{
	struct journal *j, *k;
	struct journal_owner o, r;
	char err[512], path[128];
	FILE *f;

	(void)state;
	assert_int_equal(journal_owner_read(dir, &r, err, sizeof(err)), 1);
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	/* One writer per journal: a second process (or open) is refused,
	 * with the holder's pid; inspecting is allowed. */
	k = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_null(k);
	assert_non_null(strstr(err, "in use"));
	k = journal_open(dir, 1 << 30, JOURNAL_READONLY, err, sizeof(err));
	assert_non_null(k);
	assert_int_not_equal(journal_append(k, 1, "12345678", 8), 0);
	journal_close(k);

	memset(&o, 0, sizeof(o));
	snprintf(o.database, sizeof(o.database), "0123abcd");
	snprintf(o.instance, sizeof(o.instance), "rig-1:3333");
	assert_int_equal(journal_owner_write(j, &o, err, sizeof(err)), 0);
	assert_int_equal(journal_owner_read(dir, &r, err, sizeof(err)), 0);
	assert_string_equal(r.database, "0123abcd");
	assert_string_equal(r.instance, "rig-1:3333");
	assert_false(r.has_drained);
	o.has_drained = true;
	o.drained = 12345678901ULL;
	assert_int_equal(journal_owner_write(j, &o, err, sizeof(err)), 0);
	assert_int_equal(journal_owner_read(dir, &r, err, sizeof(err)), 0);
	assert_true(r.has_drained);
	assert_true(r.drained == 12345678901ULL);
	/* A line break in a name would forge a line: refused. */
	snprintf(o.instance, sizeof(o.instance), "a\ndrained = 1");
	assert_int_not_equal(journal_owner_write(j, &o, err, sizeof(err)), 0);
	journal_close(j);
	/* The lock goes with the journal. */
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	journal_close(j);

	/* Garbage: an error naming the file, never a guess. */
	snprintf(path, sizeof(path), "%s/owner", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("database = abc\ndrained = twelve\n", f);
	fclose(f);
	assert_int_equal(journal_owner_read(dir, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	f = fopen(path, "w");
	fputs("instance = x\n", f);
	fclose(f);
	assert_int_equal(journal_owner_read(dir, &r, err, sizeof(err)), -1);
}

static void
test_crc(void **state)
{
	/* RFC 3720 (iSCSI) B.4 test vectors. */
	static const uint8_t ones[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t zeros[32] = { 0 }, up[32], down[32];
	uint8_t buf[9 + 8];

	(void)state;
	/* The standard check value of CRC-32C. */
	assert_int_equal(journal_crc32c("123456789", 9), 0xe3069283u);
	for (int i = 0; i < 32; i++) {
		up[i] = (uint8_t)i;
		down[i] = (uint8_t)(31 - i);
	}
	assert_int_equal(journal_crc32c(zeros, 32), 0x8a9136aau);
	assert_int_equal(journal_crc32c(ones, 32), 0x62a8ab43u);
	assert_int_equal(journal_crc32c(up, 32), 0x46dd794eu);
	assert_int_equal(journal_crc32c(down, 32), 0x113fdb5cu);
	assert_int_equal(journal_crc32c("", 0), 0);
	/* Any start address: the CRC reads bytes, never wider words. */
	for (size_t off = 0; off < 8; off++) {
		memset(buf, 0xa5, sizeof(buf));
		memcpy(buf + off, "123456789", 9);
		assert_int_equal(journal_crc32c(buf + off, 9), 0xe3069283u);
	}
}

/*
 * Two records as journal_append() must lay them out on every architecture:
 * u32 length and u32 CRC-32C, both little-endian, then the payload, whose
 * first 8 bytes are the sequence number, little-endian. The bytes were
 * computed apart from this code (Python, struct.pack('<II') and a bitwise
 * CRC-32C).
 */
static const uint8_t two_records[] =
	"\x10\x00\x00\x00" "\x9b\xe1\x91\x5e"		/* len 16, CRC */
	"\x01\x00\x00\x00\x00\x00\x00\x00"		/* seq 1 */
	"loka\x00\xff\x80\x7f"
	"\x0b\x00\x00\x00" "\xef\x7e\x8a\x10"		/* len 11, CRC */
	"\x02\x00\x00\x00\x00\x00\x00\x00"		/* seq 2 */
	"\x01\x02\x03";

static void
test_record_bytes(void **state)
{
	struct journal *j;
	char err[256], path[128];
	uint8_t src[16 + 8], got[sizeof(two_records)];
	int fd;

	(void)state;
	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	/* Payloads at odd addresses: an append copies bytes as they are. */
	memcpy(src + 1, two_records + 8, 16);
	assert_int_equal(journal_append(j, 1, src + 1, 16), 0);
	memcpy(src + 3, two_records + 32, 11);
	assert_int_equal(journal_append(j, 2, src + 3, 11), 0);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_bytes(j), sizeof(two_records) - 1);
	journal_close(j);

	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 1ULL);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), sizeof(two_records) - 1);
	close(fd);
	assert_memory_equal(got, two_records, sizeof(two_records) - 1);
}

/*
 * A segment written elsewhere, given as bytes: sequence numbers above
 * 2^32 (the high half of the u64 matters), and a second record whose
 * payload starts at an odd offset of the segment (8 + 13 + 8 = 29).
 */
static const uint8_t fixed_segment[] =
	"\x0d\x00\x00\x00" "\x39\xe7\xd3\x56"		/* len 13, CRC */
	"\x01\x00\x00\x00\x01\x00\x00\x00"		/* seq 2^32 + 1 */
	"share"
	"\x0f\x00\x00\x00" "\x9d\x74\xc2\x1b"		/* len 15, CRC */
	"\x02\x00\x00\x00\x01\x00\x00\x00"		/* seq 2^32 + 2 */
	"\xde\xad\xbe\xef\x00\x01\x02";

struct fixed_seen {
	int n;
	int bad;
};

static int
check_fixed(void *arg, uint64_t seq, const void *p, size_t len)
{
	struct fixed_seen *s = arg;

	if (s->n == 0 && (seq != 0x100000001ULL || len != 13 ||
	    memcmp(p, fixed_segment + 8, 13) != 0))
		s->bad++;
	if (s->n == 1 && (seq != 0x100000002ULL || len != 15 ||
	    memcmp(p, fixed_segment + 29, 15) != 0))
		s->bad++;
	s->n++;
	return 0;
}

static void
test_record_read_fixed(void **state)
{
	struct journal *j;
	struct fixed_seen s = { 0 };
	char err[256], path[128];
	uint8_t p[20];
	uint64_t first = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 0x100000001ULL);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(fixed_segment, 1, sizeof(fixed_segment) - 1, f),
	    sizeof(fixed_segment) - 1);
	assert_int_equal(fclose(f), 0);

	j = journal_open(dir, 1 << 30, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_first_seq(j), 0x100000001ULL);
	assert_int_equal(journal_last_seq(j), 0x100000002ULL);
	assert_int_equal(journal_bytes(j), sizeof(fixed_segment) - 1);
	assert_int_equal(journal_replay(j, 0, check_fixed, &s, &first, err,
	    sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.bad, 0);
	assert_int_equal(first, 0x100000001ULL);

	/* The next number follows on, in a segment of its own. */
	payload(p, 0x100000003ULL, sizeof(p));
	assert_int_equal(journal_append(j, 0x100000003ULL, p, sizeof(p)), 0);
	assert_int_equal(journal_last_seq(j), 0x100000003ULL);
	assert_int_equal(journal_segments(j), 2);
	journal_close(j);

	/* One bit of the second record's CRC flipped: only the first is
	 * trusted (read-only, so nothing is cut off). */
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 21 + 4, SEEK_SET), 0);
	assert_int_equal(fputc(0x9c, f), 0x9c);
	assert_int_equal(fclose(f), 0);
	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 0x100000003ULL);
	assert_int_equal(unlink(path), 0);
	j = journal_open(dir, 1 << 30, JOURNAL_READONLY, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_last_seq(j), 0x100000001ULL);
	journal_close(j);
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
		cmocka_unit_test_setup_teardown(test_partial_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_incomplete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_gap_applied, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_stopped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_owner_and_lock, setup,
		    teardown),
		cmocka_unit_test(test_crc),
		cmocka_unit_test_setup_teardown(test_record_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_record_read_fixed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
