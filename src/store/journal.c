/*
 * journal.c: segment files of checksummed records (see journal.h).
 *
 * Appends are buffered in memory and written with one write(2) per 64 KiB
 * or per journal_sync(); journal_sync() also fdatasync()s, which is what
 * bounds the loss of a crash to [database] fsync_interval. A new segment's
 * directory entry is fsync()ed too, or the file could vanish on power
 * loss.
 *
 * A full disk: write(2) may take part of the buffer and then fail. The
 * buffer remembers how much of it is in the file, so the next attempt
 * goes on from the first byte not written (never the whole buffer again,
 * which would put a copy of a record's start in the middle of the file
 * and make everything after it unreadable). While the buffer cannot be
 * written and has no room, appends are refused and the caller keeps the
 * events (the store leaves them in its rings).
 */
#include "store/journal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define JOURNAL_HDR 8
#define JOURNAL_BUF (64 * 1024)
/* Past this, what follows the last good record of a segment is more than
 * one torn record can be: damage, kept aside before it is cut off. */
#define JOURNAL_TORN_MAX (JOURNAL_HDR + JOURNAL_PAYLOAD_MAX)
/* The owner file is a few lines. */
#define JOURNAL_OWNER_MAX 4096

struct segment {
	uint64_t first_seq;
	uint64_t last_seq;
	uint64_t bytes;
	char *path;
};

struct journal {
	char *dir;
	uint64_t max_bytes;
	int flags;
	struct segment *segs; /* sorted by first_seq */
	size_t nsegs;
	int fd;               /* the segment being written (the last), or -1 */
	int lockfd;
	char *buf;
	size_t buflen;        /* bytes of records in buf */
	size_t written;       /* of which already in the file */
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

/* Read a whole file of at most max bytes; NULL (errno set) on error. */
static uint8_t *
read_file(const char *path, uint64_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t off = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > max) {
		if (errno == 0 || (uint64_t)st.st_size > max)
			errno = EFBIG;
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			free(buf);
			close(fd);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return buf;
}

static uint8_t *
read_segment(const char *path, size_t *len)
{
	return read_file(path, 4ULL * JOURNAL_SEGMENT_BYTES, len);
}

/* Where a walk over records is: what it hands to fn, what it has seen. */
struct walk {
	uint64_t after;
	journal_record_fn fn;
	void *arg;
	uint64_t last;   /* last sequence number seen (0: none yet) */
	uint64_t first;  /* first one given to fn (0: none yet) */
	bool stopped;    /* fn asked to stop */
	bool hole;       /* a number was skipped */
};

/*
 * Walk the records of buf: calls w->fn (if any) for each valid one after
 * w->after and returns the length of the valid prefix. Stops at a hole
 * in the numbering after w->after when w->fn is set (a replay must not
 * skip one). A gap that ends at or below w->after is no hole: the caller
 * has those events (a database that got ahead of the journal's file
 * before a crash, numbering going on after its mark: store.c).
 */
static size_t
walk(const uint8_t *buf, size_t len, struct walk *w)
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
		if (w->fn != NULL && w->last != 0 && seq != w->last + 1 &&
		    (w->last >= w->after || seq > w->after + 1)) {
			w->hole = true;
			return off;
		}
		w->last = seq;
		if (w->fn != NULL && seq > w->after) {
			if (w->first == 0)
				w->first = seq;
			if (w->fn(w->arg, seq, payload, plen) != 0) {
				w->stopped = true;
				return off;
			}
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

/* Keep a damaged tail of a segment beside it before it is cut off. */
static void
save_damaged(const char *path, const uint8_t *tail, size_t len)
{
	char *aside = xasprintf("%s.damaged", path);
	int fd = open(aside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	while (fd >= 0 && off < len) {
		ssize_t n = write(fd, tail + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (fd < 0 || off < len || fsync(fd) != 0)
		log_warn("store", "cannot keep the damaged part in %s", aside);
	if (fd >= 0)
		close(fd);
	free(aside);
}

/* Scan segment s: its valid length and last sequence number; cut a torn
 * tail off unless read-only. */
static int
scan_segment(struct journal *j, struct segment *s, char *err, size_t errlen)
{
	size_t len = 0, valid;
	struct walk w = { 0 };
	uint8_t *buf = read_segment(s->path, &len);

	if (buf == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", s->path,
		    strerror(errno));
		return -1;
	}
	w.last = s->first_seq ? s->first_seq - 1 : 0;
	valid = walk(buf, len, &w);
	if (valid < len && !(j->flags & JOURNAL_READONLY)) {
		if (len - valid > JOURNAL_TORN_MAX) {
			/* Not one record torn by a crash: damage. Keep it. */
			save_damaged(s->path, buf + valid, len - valid);
			log_errorx("store", "journal %s: %zu bytes after the "
			    "last readable record are damaged; kept in "
			    "%s.damaged and cut off", s->path, len - valid,
			    s->path);
		} else {
			/* A crash in the middle of a write: the tail was
			 * never acknowledged to anyone. */
			log_warnx("store", "journal %s: %zu bytes of a torn "
			    "record at the end cut off", s->path, len - valid);
		}
		if (truncate(s->path, (off_t)valid) != 0)
			log_warn("store", "truncate %s", s->path);
	}
	free(buf);
	s->bytes = valid;
	s->last_seq = w.last;
	j->total += valid;
	if (w.last > j->last_seq)
		j->last_seq = w.last;
	return 0;
}

/* Take the journal's lock; -1 with a message naming who holds it. */
static int
take_lock(struct journal *j, char *err, size_t errlen)
{
	char *path = xasprintf("%s/lock", j->dir);
	char pid[32];
	int n;

	j->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lockfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) != 0) {
		n = (int)pread(j->lockfd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "the journal %s is in use by another "
		    "loka-stratum process%s%s%s: two processes must never share "
		    "a journal (stop it, or give this one its own [database] "
		    "spool_path)", j->dir, pid[0] != '\0' ? " (pid " : "",
		    pid[0] != '\0' ? pid : "", pid[0] != '\0' ? ")" : "");
		free(path);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(j->lockfd, 0) != 0 ||
	    pwrite(j->lockfd, pid, (size_t)n, 0) != n)
		log_debug("store", "cannot note the pid in %s", path);
	free(path);
	return 0;
}

/* mkdir -p, private: the journal names miners and workers. */
static int
make_dirs(const char *dir)
{
	char *path = xstrdup(dir);
	int rc = 0;

	for (char *p = path + 1; rc == 0 && *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(path, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(path);
	return rc;
}

struct journal *
journal_open(const char *dir, uint64_t max_bytes, int flags, char *err,
    size_t errlen)
{
	struct journal *j;
	DIR *d;
	struct dirent *e;

	if (!(flags & JOURNAL_READONLY) && make_dirs(dir) != 0) {
		snprintf(err, errlen, "cannot create journal directory %s: %s "
		    "(set [database] spool_path to a directory Loka may "
		    "write)", dir, strerror(errno));
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
	j->flags = flags;
	j->fd = -1;
	j->lockfd = -1;
	j->buf = xmalloc(JOURNAL_BUF);
	if (!(flags & JOURNAL_READONLY) && take_lock(j, err, errlen) != 0) {
		closedir(d);
		journal_close(j);
		return NULL;
	}
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
		if (scan_segment(j, &j->segs[i], err, errlen) != 0) {
			journal_close(j);
			return NULL;
		}
	}
	return j;
}

/* Write what the buffer holds past `written`; keeps the rest on error. */
static int
flush_buf(struct journal *j)
{
	int rc = 0;

	while (j->written < j->buflen) {
		ssize_t n = write(j->fd, j->buf + j->written,
		    j->buflen - j->written);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			rc = -1;
			break;
		}
		j->written += (size_t)n;
	}
	/* Make room: drop what is in the file, keep the rest in order. */
	if (j->written > 0) {
		int saved = errno;

		memmove(j->buf, j->buf + j->written, j->buflen - j->written);
		j->buflen -= j->written;
		j->written = 0;
		errno = saved;
	}
	return rc;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0) {
		if (journal_sync(j) != 0 && j->buflen > 0)
			log_errorx("store", "journal %s: %zu bytes of records "
			    "could not be written at close (%s)", j->dir,
			    j->buflen, strerror(errno));
		close(j->fd);
	}
	if (j->lockfd >= 0)
		close(j->lockfd); /* releases the lock */
	for (size_t i = 0; i < j->nsegs; i++)
		free(j->segs[i].path);
	free(j->segs);
	free(j->buf);
	free(j->dir);
	free(j);
}

const char *
journal_dir(const struct journal *j)
{
	return j->dir;
}

uint64_t
journal_last_seq(const struct journal *j)
{
	return j->last_seq;
}

uint64_t
journal_first_seq(const struct journal *j)
{
	for (size_t i = 0; i < j->nsegs; i++)
		if (j->segs[i].bytes > 0)
			return j->segs[i].first_seq;
	return 0;
}

uint64_t
journal_bytes(const struct journal *j)
{
	return j->total;
}

size_t
journal_segments(const struct journal *j)
{
	return j->nsegs;
}

size_t
journal_unwritten(const struct journal *j)
{
	return j->buflen - j->written;
}

static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Start a new segment whose first record is seq. The previous one must
 * be entirely in its file first. */
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

	if (len < 8 || len > JOURNAL_PAYLOAD_MAX ||
	    (j->flags & JOURNAL_READONLY)) {
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
	if (j->buflen + rec > JOURNAL_BUF && flush_buf(j) != 0 &&
	    j->buflen + rec > JOURNAL_BUF)
		return -1; /* no room, and the disk takes nothing */
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
journal_flush(struct journal *j)
{
	if (j->fd < 0)
		return 0;
	return flush_buf(j);
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
    void *arg, uint64_t *first, char *err, size_t errlen)
{
	struct walk w = { 0 };

	w.after = after;
	w.fn = fn;
	w.arg = arg;
	if (first != NULL)
		*first = 0;
	if (j->fd >= 0 && flush_buf(j) != 0) {
		snprintf(err, errlen, "journal %s: %zu bytes of records cannot "
		    "be written yet: %s", j->dir, j->buflen, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < j->nsegs; i++) {
		struct segment *s = &j->segs[i];
		size_t len, valid;
		uint8_t *buf;

		if (s->bytes == 0)
			continue;
		if (s->last_seq <= after) {
			w.last = s->last_seq; /* read at open */
			continue;
		}
		buf = read_segment(s->path, &len);
		if (buf == NULL) {
			snprintf(err, errlen, "cannot read %s: %s", s->path,
			    strerror(errno));
			return -1;
		}
		valid = walk(buf, len < s->bytes ? len : s->bytes, &w);
		free(buf);
		if (w.stopped) {
			snprintf(err, errlen, "replay stopped at event %" PRIu64,
			    w.last + 1);
			return -1;
		}
		if (w.hole) {
			snprintf(err, errlen, "journal %s: events after %"
			    PRIu64 " are missing from %s", j->dir, w.last,
			    s->path);
			return -1;
		}
		if (valid < s->bytes) {
			snprintf(err, errlen, "journal %s: %s holds %zu bytes of "
			    "readable records where %" PRIu64 " were written",
			    j->dir, s->path, valid, s->bytes);
			return -1;
		}
	}
	if (first != NULL)
		*first = w.first;
	if (w.last != j->last_seq) {
		snprintf(err, errlen, "journal %s: replay ended at event %"
		    PRIu64 " but events up to %" PRIu64 " were written",
		    j->dir, w.last, j->last_seq);
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

/* ---- the owner file ---- */

static bool
plain_text(const char *v, size_t max)
{
	size_t n = 0;

	for (; *v != '\0'; v++, n++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return n <= max;
}

int
journal_owner_read(const char *dir, struct journal_owner *o, char *err,
    size_t errlen)
{
	char *path = xasprintf("%s/owner", dir);
	size_t len;
	char *text = (char *)read_file(path, JOURNAL_OWNER_MAX, &len);
	char *line, *save = NULL;
	int rc = 0, lineno = 0;

	memset(o, 0, sizeof(*o));
	if (text == NULL) {
		rc = errno == ENOENT ? 1 : -1;
		if (rc < 0)
			snprintf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
		free(path);
		return rc;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL && rc == 0;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *key = line, *val, *end;

		lineno++;
		while (isspace((unsigned char)*key))
			key++;
		if (*key == '\0' || *key == '#')
			continue;
		if (eq == NULL) {
			rc = -1;
			break;
		}
		*eq = '\0';
		val = eq + 1;
		for (end = eq; end > key && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		while (isspace((unsigned char)*val))
			val++;
		for (end = val + strlen(val); end > val &&
		    isspace((unsigned char)end[-1]);)
			*--end = '\0';
		if (strcmp(key, "database") == 0 &&
		    plain_text(val, JOURNAL_ID_MAX)) {
			snprintf(o->database, sizeof(o->database), "%s", val);
		} else if (strcmp(key, "instance") == 0 &&
		    plain_text(val, JOURNAL_INSTANCE_MAX)) {
			snprintf(o->instance, sizeof(o->instance), "%s", val);
		} else if (strcmp(key, "drained") == 0) {
			errno = 0;
			o->drained = strtoull(val, &end, 10);
			o->has_drained = true;
			if (errno != 0 || end == val || *end != '\0')
				rc = -1;
		} else if (strcmp(key, "database") == 0 ||
		    strcmp(key, "instance") == 0) {
			rc = -1;
		}
		/* Other keys: from a later version; ignored. */
	}
	if (rc == 0 && o->database[0] == '\0')
		rc = -1;
	if (rc != 0) {
		snprintf(err, errlen, "%s: line %d is not what Loka writes "
		    "(database = ID, instance = NAME, drained = N)", path,
		    lineno);
		memset(o, 0, sizeof(*o));
	}
	free(text);
	free(path);
	return rc;
}

int
journal_owner_write(struct journal *j, const struct journal_owner *o,
    char *err, size_t errlen)
{
	char *path = xasprintf("%s/owner", j->dir);
	char *tmp = xasprintf("%s/owner.tmp", j->dir);
	char *text;
	int fd, rc = -1;
	size_t off = 0, len;

	if ((j->flags & JOURNAL_READONLY) || o->database[0] == '\0' ||
	    !plain_text(o->database, JOURNAL_ID_MAX) ||
	    !plain_text(o->instance, JOURNAL_INSTANCE_MAX)) {
		snprintf(err, errlen, "journal %s: cannot record owner "
		    "\"%s\" (read-only, or not a plain name)", j->dir,
		    o->database);
		goto out;
	}
	if (o->has_drained)
		text = xasprintf("# The database this share-event journal "
		    "belongs to. Written by loka-stratum;\n# see `loka-stratum "
		    "journal --help` before changing anything here.\n"
		    "database = %s\ninstance = %s\ndrained = %" PRIu64 "\n",
		    o->database, o->instance, o->drained);
	else
		text = xasprintf("# The database this share-event journal "
		    "belongs to. Written by loka-stratum;\n# see `loka-stratum "
		    "journal --help` before changing anything here.\n"
		    "database = %s\ninstance = %s\n", o->database,
		    o->instance);
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		while (off < len) {
			ssize_t n = write(fd, text + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					errno = ENOSPC;
				break;
			}
			off += (size_t)n;
		}
		if (off == len && fsync(fd) == 0)
			rc = 0;
		if (close(fd) != 0)
			rc = -1;
	}
	if (rc == 0 && (rename(tmp, path) != 0 || sync_dir(j->dir) != 0))
		rc = -1;
	if (rc != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		unlink(tmp);
	}
	free(text);
out:
	free(path);
	free(tmp);
	return rc;
}
