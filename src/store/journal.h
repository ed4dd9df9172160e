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
 * and the payload starts with the event's 64-bit sequence number. A torn
 * or corrupt record ends a segment: what follows it is never trusted.
 * Only the store thread uses a journal; nothing here is thread-safe.
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

struct journal;

/*
 * journal_open(dir, max_bytes, err, errlen): open (creating dir if needed)
 * and scan the existing segments: torn tails are cut off, the highest
 * sequence number found is remembered. Appends go to a new segment.
 */
struct journal *journal_open(const char *dir, uint64_t max_bytes, char *err,
    size_t errlen);
void journal_close(struct journal *j); /* flushes; NULL is a no-op */

/* Highest sequence number ever written (0 for an empty journal). */
uint64_t journal_last_seq(const struct journal *j);
/* Bytes held in all segments. */
uint64_t journal_bytes(const struct journal *j);

/*
 * journal_append(j, seq, payload, len): append one record (payload must
 * begin with seq, little-endian 64-bit). Returns 0, or -1 when the journal
 * is full (max_bytes) or the disk fails (errno kept).
 */
int journal_append(struct journal *j, uint64_t seq, const void *payload,
    size_t len);
/* Push buffered records to the kernel and fdatasync them. 0 or -1. */
int journal_sync(struct journal *j);

/*
 * journal_replay(j, after, fn, arg): call fn for every record whose
 * sequence number is > after, in order, across all segments (the current
 * one included, after a flush). fn returns 0 to go on, -1 to stop (then
 * journal_replay returns -1). Returns 0 at the end.
 */
typedef int (*journal_record_fn)(void *arg, uint64_t seq, const void *payload,
    size_t len);
int journal_replay(struct journal *j, uint64_t after, journal_record_fn fn,
    void *arg);

/*
 * journal_release(j, upto): delete the segments whose records all have
 * sequence numbers <= upto (applied to the database), never the one being
 * written. Returns the number of segments removed.
 */
int journal_release(struct journal *j, uint64_t upto);

/* CRC-32C (Castagnoli) of buf, used for the records; exported for tests. */
uint32_t journal_crc32c(const void *buf, size_t len);

#endif
