/*
 * journal.h: the append-only journal of share events (the "spool").
 *
 * Every share event is written here before the database sees it, so
 * neither a database outage nor a crash loses the books: on start, and
 * whenever the database comes back, the store replays the journal from
 * the first event the database has not applied (see store.c).
 *
 * The journal is a directory of segment files named after the sequence
 * number of their first record (%016llx.seg). A record is
 *   u32 payload length | u32 CRC-32C of the payload | payload
 * (little-endian) and the payload starts with the event's 64-bit sequence
 * number. Sequence numbers are consecutive: a replay that finds a hole,
 * or that does not reach the last number appended, fails instead of
 * passing for complete. A torn record can only be the last one of a
 * segment (a crash in the middle of a write); it is cut off at open.
 *
 * The directory also holds:
 *   owner  which database the journal belongs to (its identity, see
 *          db_identity()), the instance that writes it, and, after a
 *          clean stop, the sequence number up to which every event is in
 *          that database ("drained"). Written atomically (rename).
 *   lock   flock()ed by the process that has the journal open for
 *          writing: two processes never append to one journal.
 *
 * Only one thread uses a struct journal; nothing here is thread-safe.
 */
#ifndef LOKA_STORE_JOURNAL_H
#define LOKA_STORE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A new segment is started past this size. */
#define JOURNAL_SEGMENT_BYTES (16 * 1024 * 1024)
/* Largest payload accepted (an event is about 100 bytes). */
#define JOURNAL_PAYLOAD_MAX 1024
/* Longest database identity and instance name kept in the owner file. */
#define JOURNAL_ID_MAX 64
#define JOURNAL_INSTANCE_MAX 128

/* journal_open() flags. */
#define JOURNAL_READONLY 0x1 /* inspect only: no lock, no repair, no
                              * directory created, no append */

struct journal;

/*
 * journal_open(dir, max_bytes, flags, err, errlen): open (creating dir if
 * needed), take the lock (fails with a message naming the directory if
 * another process holds it) and scan the existing segments: a torn tail
 * is cut off (a longer damaged stretch is copied aside to
 * <segment>.damaged first, and logged as an error), the highest sequence
 * number found is remembered. Appends go to a new segment.
 */
struct journal *journal_open(const char *dir, uint64_t max_bytes, int flags,
    char *err, size_t errlen);
void journal_close(struct journal *j); /* flushes; NULL is a no-op */

const char *journal_dir(const struct journal *j);
/* Highest sequence number ever written (0 for an empty journal). */
uint64_t journal_last_seq(const struct journal *j);
/* Lowest sequence number still held (0 when none is). */
uint64_t journal_first_seq(const struct journal *j);
/* Bytes held in all segments, on disk or still buffered. */
uint64_t journal_bytes(const struct journal *j);
size_t journal_segments(const struct journal *j);
/* Bytes appended but not yet written to the file (a full disk). */
size_t journal_unwritten(const struct journal *j);

/*
 * journal_append(j, seq, payload, len): append one record (payload must
 * begin with seq, little-endian 64-bit; seq is the last one + 1). Returns
 * 0, or -1 with errno when the record was not taken: ENOSPC when the
 * journal is at max_bytes or the disk is full, EIO (or the write's own
 * errno) when the disk fails. A refused record leaves the journal as it
 * was: records taken before it are kept (in memory until they can be
 * written), and nothing is ever written twice.
 */
int journal_append(struct journal *j, uint64_t seq, const void *payload,
    size_t len);
/*
 * journal_flush(j): write the buffered records to the file (no
 * fdatasync: they survive a crash of the process, not of the machine).
 * 0, or -1 with errno, as journal_sync().
 */
int journal_flush(struct journal *j);
/*
 * journal_sync(j): write the buffered records and fdatasync them. 0, or
 * -1 with errno (what could not be written stays buffered; a later call
 * goes on from where this one stopped).
 */
int journal_sync(struct journal *j);

/*
 * journal_replay(j, after, fn, arg, first, err, errlen): call fn for every
 * record whose sequence number is > after, in order, across all segments
 * (buffered records are written first; if that fails, so does the
 * replay). fn returns 0 to go on, -1 to stop.
 * Returns 0 only when the replay went through every number from the first
 * one held to journal_last_seq() without a hole. -1 with a message in err
 * when fn stopped, a segment cannot be read, or records are missing or
 * damaged. *first (if not NULL) gets the sequence number of the first
 * record given to fn (0 if none): more than after + 1 means the journal
 * no longer holds the events in between (they were released after an
 * earlier write to the database); the caller decides what that means.
 */
typedef int (*journal_record_fn)(void *arg, uint64_t seq, const void *payload,
    size_t len);
int journal_replay(struct journal *j, uint64_t after, journal_record_fn fn,
    void *arg, uint64_t *first, char *err, size_t errlen);

/*
 * journal_release(j, upto): delete the segments whose records all have
 * sequence numbers <= upto (applied to the database), never the one being
 * written. Returns the number of segments removed.
 */
int journal_release(struct journal *j, uint64_t upto);

/* The owner file. */
struct journal_owner {
	char database[JOURNAL_ID_MAX + 1];      /* "" : none recorded */
	char instance[JOURNAL_INSTANCE_MAX + 1];
	uint64_t drained;   /* with has_drained: every event <= this is in
	                     * the database (written at a clean stop) */
	bool has_drained;
};

/*
 * journal_owner_read(dir, o, err, errlen): 0 with *o filled, 1 when the
 * directory has no owner file (*o zeroed), -1 with a message when it
 * cannot be read or makes no sense.
 */
int journal_owner_read(const char *dir, struct journal_owner *o, char *err,
    size_t errlen);
/* journal_owner_write(j, o, ...): replace the owner file (write, fsync,
 * rename). 0 or -1 with a message. */
int journal_owner_write(struct journal *j, const struct journal_owner *o,
    char *err, size_t errlen);

/* CRC-32C (Castagnoli) of buf, used for the records; exported for tests. */
uint32_t journal_crc32c(const void *buf, size_t len);

#endif
