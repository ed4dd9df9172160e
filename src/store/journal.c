/*
 * journal.c: segment files of checksummed records (see journal.h).
 *
 * Appends are buffered in memory and written with one write(2) per 64 KiB
 * or per journal_sync(); journal_sync() also fdatasync()s, which is what
 * bounds the loss of a crash to [database] fsync_interval. A new segment's
 * directory entry is fsync()ed too, or the file could vanish on power
 * loss.
 */
#include "store/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define JOURNAL_HDR 8
#define JOURNAL_BUF (64 * 1024)

struct segment {
	uint64_t first_seq;
	uint64_t last_seq;
	uint64_t bytes;
	char *path;
};

struct journal {
	char *dir;
	uint64_t max_bytes;
	struct segment *segs; /* sorted by first_seq */
	size_t nsegs;
	int fd;               /* the segment being written (the last), or -1 */
	char *buf;
	size_t buflen;
	uint64_t last_seq;
	uint64_t total;
};

static uint32_t crc_table[256];

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t
journal_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = 0xffffffffu;

	if (crc_table[1] == 0)
		crc_init();
	while (len-- > 0)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Read a whole segment; NULL on error. */
static uint8_t *
read_segment(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t off = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > 4ULL * JOURNAL_SEGMENT_BYTES) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return buf;
}

/*
 * Walk the records of buf: calls fn (if any) for each valid one and
 * returns the length of the valid prefix; *last gets the last seq.
 */
static size_t
walk(const uint8_t *buf, size_t len, uint64_t after, journal_record_fn fn,
    void *arg, uint64_t *last, int *stopped)
{
	size_t off = 0;

	while (off + JOURNAL_HDR <= len) {
		uint32_t plen = get_u32(buf + off);
		const uint8_t *payload = buf + off + JOURNAL_HDR;
		uint64_t seq;

		if (plen < 8 || plen > JOURNAL_PAYLOAD_MAX ||
		    off + JOURNAL_HDR + plen > len ||
		    journal_crc32c(payload, plen) != get_u32(buf + off + 4))
			break;
		seq = get_u64(payload);
		*last = seq;
		if (fn != NULL && seq > after && fn(arg, seq, payload, plen) !=
		    0) {
			*stopped = 1;
			return off;
		}
		off += JOURNAL_HDR + plen;
	}
	return off;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

struct journal *
journal_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct journal *j;
	DIR *d;
	struct dirent *e;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create journal directory %s: %s",
		    dir, strerror(errno));
		return NULL;
	}
	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "cannot open journal directory %s: %s",
		    dir, strerror(errno));
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->dir = xstrdup(dir);
	j->max_bytes = max_bytes;
	j->fd = -1;
	j->buf = xmalloc(JOURNAL_BUF);
	while ((e = readdir(d)) != NULL) {
		char *end;
		unsigned long long first;
		size_t nlen = strlen(e->d_name);

		if (nlen != 20 || strcmp(e->d_name + 16, ".seg") != 0)
			continue;
		first = strtoull(e->d_name, &end, 16);
		if (end != e->d_name + 16)
			continue;
		j->segs = xreallocarray(j->segs, j->nsegs + 1,
		    sizeof(*j->segs));
		memset(&j->segs[j->nsegs], 0, sizeof(j->segs[0]));
		j->segs[j->nsegs].first_seq = first;
		j->segs[j->nsegs].path = xasprintf("%s/%s", dir, e->d_name);
		j->nsegs++;
	}
	closedir(d);
	if (j->nsegs > 1)
		qsort(j->segs, j->nsegs, sizeof(*j->segs), seg_cmp);
	for (size_t i = 0; i < j->nsegs; i++) {
		struct segment *s = &j->segs[i];
		size_t len = 0, valid;
		uint64_t last = s->first_seq ? s->first_seq - 1 : 0;
		int stopped = 0;
		uint8_t *buf = read_segment(s->path, &len);

		if (buf == NULL) {
			snprintf(err, errlen, "cannot read %s: %s", s->path,
			    strerror(errno));
			journal_close(j);
			return NULL;
		}
		valid = walk(buf, len, 0, NULL, NULL, &last, &stopped);
		free(buf);
		if (valid < len) {
			/* A crash in the middle of a write: the tail was
			 * never acknowledged to anyone; cut it off. */
			log_warnx("store", "journal %s: %zu bytes of a torn "
			    "record at the end cut off", s->path, len - valid);
			if (truncate(s->path, (off_t)valid) != 0)
				log_warn("store", "truncate %s", s->path);
		}
		s->bytes = valid;
		s->last_seq = last;
		j->total += valid;
		if (last > j->last_seq)
			j->last_seq = last;
	}
	return j;
}

static int
flush_buf(struct journal *j)
{
	size_t off = 0;

	while (off < j->buflen) {
		ssize_t n = write(j->fd, j->buf + off, j->buflen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	j->buflen = 0;
	return 0;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0) {
		journal_sync(j);
		close(j->fd);
	}
	for (size_t i = 0; i < j->nsegs; i++)
		free(j->segs[i].path);
	free(j->segs);
	free(j->buf);
	free(j->dir);
	free(j);
}

uint64_t
journal_last_seq(const struct journal *j)
{
	return j->last_seq;
}

uint64_t
journal_bytes(const struct journal *j)
{
	return j->total;
}

static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Start a new segment whose first record is seq. */
static int
new_segment(struct journal *j, uint64_t seq)
{
	struct segment *s;
	char *path;
	int fd;

	if (j->fd >= 0) {
		if (journal_sync(j) != 0)
			return -1;
		close(j->fd);
		j->fd = -1;
	}
	path = xasprintf("%s/%016llx.seg", j->dir, (unsigned long long)seq);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(path);
		return -1;
	}
	sync_dir(j->dir);
	j->segs = xreallocarray(j->segs, j->nsegs + 1, sizeof(*j->segs));
	s = &j->segs[j->nsegs++];
	memset(s, 0, sizeof(*s));
	s->first_seq = seq;
	s->last_seq = seq ? seq - 1 : 0;
	s->path = path;
	j->fd = fd;
	return 0;
}

int
journal_append(struct journal *j, uint64_t seq, const void *payload,
    size_t len)
{
	uint8_t hdr[JOURNAL_HDR];
	struct segment *s;
	size_t rec = JOURNAL_HDR + len;

	if (len < 8 || len > JOURNAL_PAYLOAD_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (j->total + rec > j->max_bytes) {
		errno = ENOSPC;
		return -1;
	}
	if (j->fd < 0 || j->segs[j->nsegs - 1].bytes + rec >
	    JOURNAL_SEGMENT_BYTES) {
		if (new_segment(j, seq) != 0)
			return -1;
	}
	if (j->buflen + rec > JOURNAL_BUF && flush_buf(j) != 0)
		return -1;
	put_u32(hdr, (uint32_t)len);
	put_u32(hdr + 4, journal_crc32c(payload, len));
	memcpy(j->buf + j->buflen, hdr, JOURNAL_HDR);
	memcpy(j->buf + j->buflen + JOURNAL_HDR, payload, len);
	j->buflen += rec;
	s = &j->segs[j->nsegs - 1];
	s->bytes += rec;
	s->last_seq = seq;
	j->total += rec;
	if (seq > j->last_seq)
		j->last_seq = seq;
	return 0;
}

int
journal_sync(struct journal *j)
{
	if (j->fd < 0)
		return 0;
	if (flush_buf(j) != 0)
		return -1;
	return fdatasync(j->fd);
}

int
journal_replay(struct journal *j, uint64_t after, journal_record_fn fn,
    void *arg)
{
	if (j->fd >= 0 && flush_buf(j) != 0)
		return -1;
	for (size_t i = 0; i < j->nsegs; i++) {
		struct segment *s = &j->segs[i];
		uint64_t last = 0;
		int stopped = 0;
		size_t len;
		uint8_t *buf;

		if (s->last_seq <= after || s->bytes == 0)
			continue;
		buf = read_segment(s->path, &len);
		if (buf == NULL)
			return -1;
		walk(buf, len < s->bytes ? len : s->bytes, after, fn, arg,
		    &last, &stopped);
		free(buf);
		if (stopped)
			return -1;
	}
	return 0;
}

int
journal_release(struct journal *j, uint64_t upto)
{
	int removed = 0;
	size_t i = 0;

	/* The newest segment stays: it remembers the last sequence number
	 * across restarts, and it may be the one being written. */
	while (i + 1 < j->nsegs) {
		struct segment *s = &j->segs[i];

		if (s->last_seq > upto) {
			i++;
			continue;
		}
		if (unlink(s->path) != 0 && errno != ENOENT) {
			log_warn("store", "cannot remove %s", s->path);
			i++;
			continue;
		}
		j->total -= s->bytes;
		free(s->path);
		memmove(s, s + 1, (j->nsegs - i - 1) * sizeof(*s));
		j->nsegs--;
		removed++;
	}
	return removed;
}
