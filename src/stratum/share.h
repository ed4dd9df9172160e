/*
 * share.h: share validation arithmetic for Stratum V1.
 *
 * Turns a job (the fields of a mining.notify) and the fields of a
 * mining.submit into the 80-byte block header, its double-SHA-256, the
 * difficulty that hash achieves and whether it solves a block. Byte orders
 * follow docs protocol.md §4.
 *
 * No I/O, no globals, no allocation: every function is reentrant and may run
 * on any thread. A struct share_job is plain data with fixed caps; it may be
 * copied with memcpy and shared read-only between threads.
 *
 * Hashes and targets are 32 bytes in the order sha256d() produces them: read
 * as a little-endian 256-bit integer (byte 31 is the most significant), which
 * is the reverse of the hex block explorers display.
 */
#ifndef LOKA_SHARE_H
#define LOKA_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest job id we keep; pools send short hex counters, 64 is generous. */
#define SHARE_JOB_ID_MAX	64
/*
 * coinb1 + coinb2 decoded bytes. Real coinbases are a few hundred bytes;
 * 4 KiB leaves room for many outputs and witness commitments while keeping
 * struct share_job small enough to copy.
 */
#define SHARE_COINBASE_MAX	4096
/* Merkle branch entries: 32 levels cover 2^32 transactions per block. */
#define SHARE_BRANCH_MAX	32
/* extranonce1 or extranonce2 bytes; Stratum uses 4-8, 32 is generous. */
#define SHARE_EXTRANONCE_MAX	32

/* A job as received in mining.notify, decoded. */
struct share_job {
	char	 job_id[SHARE_JOB_ID_MAX + 1];	/* NUL-terminated */
	uint8_t	 prevhash[32];		/* header order (word swap undone) */
	uint8_t	 coinb[SHARE_COINBASE_MAX];	/* coinb1 then coinb2 */
	size_t	 coinb1_len;
	size_t	 coinb2_len;
	uint8_t	 branch[SHARE_BRANCH_MAX][32];	/* as sent, hex-decoded */
	size_t	 nbranch;
	uint32_t version;
	uint32_t nbits;
	uint32_t ntime;
	bool	 clean;
};

/* Why share_check() refused a submit. */
enum share_reason {
	SHARE_OK = 0,
	SHARE_BAD_EXTRANONCE2,	/* not hex, or not the expected size */
	SHARE_BAD_NTIME,	/* not exactly 8 hex digits */
	SHARE_BAD_NONCE,	/* not exactly 8 hex digits */
	SHARE_BAD_VERSION_BITS,	/* not exactly 8 hex digits */
	SHARE_VERSION_MASK,	/* version bits outside the granted mask */
	SHARE_BAD_ARGUMENT,	/* NULL job/result, extranonce1 over its cap */
	SHARE_INTERNAL,		/* the hash library failed */
	SHARE_REASON_MAX
};

/* What share_check() computed for a well-formed submit. */
struct share_result {
	enum share_reason reason;
	uint32_t version;	/* header version, after rolling */
	uint32_t ntime;
	uint32_t nonce;
	uint8_t	 header[80];
	uint8_t	 hash[32];	/* sha256d(header), little-endian integer */
	double	 difficulty;	/* share_hash_difficulty(hash) */
	bool	 is_block;	/* hash <= target from the job's nbits */
};

/*
 * share_hex_decode(hex, hexlen, out, outcap): decode hex[0..hexlen) (upper or
 * lower case digits, no prefix, no spaces; need not be NUL-terminated) into
 * out. Returns the number of bytes written (hexlen / 2), or -1 when hexlen is
 * odd, a character is not a hex digit, or the result would exceed outcap.
 * On -1, out may hold a partial result.
 */
ssize_t share_hex_decode(const char *hex, size_t hexlen, uint8_t *out,
    size_t outcap);

/*
 * share_hex_encode(in, n, out): write 2n lower-case hex digits and a NUL to
 * out, which must hold 2n + 1 chars.
 */
void share_hex_encode(const uint8_t *in, size_t n, char *out);

/*
 * share_hex_u32(s, out): parse the NUL-terminated s, exactly 8 hex digits
 * (upper or lower case, no prefix), as a big-endian 32-bit integer: the form
 * of the version, nbits, ntime, nonce and version-bits fields. Returns 0 with
 * *out set, or -1 (*out untouched) when s is NULL, shorter or longer than 8
 * digits, or holds a non-hex character. Reads at most 9 chars of s.
 */
int share_hex_u32(const char *s, uint32_t *out);

/*
 * share_hex_mask(s, out): like share_hex_u32() but accepts 1 to 8 digits,
 * for BIP 310 version-rolling masks, where leading zeros may be dropped.
 * Returns -1 for NULL, "", more than 8 digits or a non-hex character.
 */
int share_hex_mask(const char *s, uint32_t *out);

/*
 * share_sha256d(data, len, out): out = SHA-256(SHA-256(data[0..len))).
 * Returns 0, or -1 if OpenSSL fails (out of memory); out is then undefined.
 */
int share_sha256d(const void *data, size_t len, uint8_t out[32]);

/*
 * share_job_init(j, job_id, prevhash, coinb1, coinb2, branch, nbranch,
 *     version, nbits, ntime, clean): fill *j from the mining.notify params,
 * all NUL-terminated strings exactly as sent. Requires: job_id of 1 to
 * SHARE_JOB_ID_MAX chars; prevhash of 64 hex digits (word-swapped, as sent);
 * coinb1 and coinb2 hex totalling at most SHARE_COINBASE_MAX bytes; nbranch
 * <= SHARE_BRANCH_MAX entries of 64 hex digits (branch may be NULL when
 * nbranch is 0); version, nbits, ntime of exactly 8 hex digits (big-endian).
 * Returns 0, or -1 on any NULL or malformed input, leaving *j zeroed.
 * Nothing is retained from the arguments.
 */
int share_job_init(struct share_job *j, const char *job_id,
    const char *prevhash, const char *coinb1, const char *coinb2,
    const char *const *branch, size_t nbranch, const char *version,
    const char *nbits, const char *ntime, bool clean);

/*
 * share_build_header(j, en1, en1len, en2, en2len, ntime, nonce, version,
 *     header): build the 80-byte header with coinbase
 * coinb1 || en1 || en2 || coinb2, the merkle root folded over j's branch,
 * and the given ntime, nonce and (already rolled) version. en1len and en2len
 * are each at most SHARE_EXTRANONCE_MAX (either may be 0). Returns 0, or -1
 * on an over-cap extranonce or a hash failure.
 */
int share_build_header(const struct share_job *j, const uint8_t *en1,
    size_t en1len, const uint8_t *en2, size_t en2len, uint32_t ntime,
    uint32_t nonce, uint32_t version, uint8_t header[80]);

/*
 * share_rolled_version(job_version, bits, mask, out): BIP 310 version
 * rolling. Returns -1 if bits has a bit set outside mask; else 0 with
 * *out = (job_version & ~mask) | (bits & mask).
 */
int share_rolled_version(uint32_t job_version, uint32_t bits, uint32_t mask,
    uint32_t *out);

/*
 * share_hash_difficulty(hash): diff1_target / hash, as a double (for
 * display, stats and vardiff; use share_meets_difficulty() to judge). A zero
 * hash counts as 1, giving the largest finite difficulty (~2.7e67).
 */
double share_hash_difficulty(const uint8_t hash[32]);

/*
 * share_target_from_difficulty(diff, target): target = floor(diff1_target /
 * diff) computed exactly from the binary value of diff, little-endian.
 * Saturates at 2^256 - 1 for tiny diffs. Returns -1 if diff is not a
 * positive finite number.
 */
int share_target_from_difficulty(double diff, uint8_t target[32]);

/*
 * share_meets_difficulty(hash, diff): hash <= target(diff), compared exactly
 * as 256-bit integers. False for diff that is not positive and finite.
 */
bool share_meets_difficulty(const uint8_t hash[32], double diff);

/*
 * share_target_from_nbits(nbits, target): expand a compact target as Bitcoin
 * does (mantissa * 256^(exponent - 3)), little-endian. Returns -1 (target
 * zeroed) when the sign bit is set, the target is zero or it overflows
 * 256 bits, as Bitcoin Core rejects those.
 */
int share_target_from_nbits(uint32_t nbits, uint8_t target[32]);

/*
 * share_is_block(hash, nbits): hash <= the target encoded by nbits. False
 * when nbits is invalid (see share_target_from_nbits()).
 */
bool share_is_block(const uint8_t hash[32], uint32_t nbits);

/*
 * share_check(j, en1, en1len, en2size, en2hex, ntimehex, noncehex,
 *     vbitshex, mask, r): parse the mining.submit fields (NUL-terminated
 * strings as sent) against job j and the session's extranonce1 en1 and
 * extranonce2 size en2size, and fill *r. en2hex must be exactly 2 * en2size
 * hex digits, ntimehex and noncehex exactly 8 (big-endian). vbitshex is the
 * optional 6th submit field (NULL when absent: the job's version is used);
 * when present it must be 8 hex digits with no bit outside mask.
 * Returns 0 with r->reason = SHARE_OK and hash, difficulty and is_block
 * set; or -1 with r->reason saying why. Judging staleness, duplicates, the
 * ntime window and the session's difficulty is the caller's business.
 */
int share_check(const struct share_job *j, const uint8_t *en1, size_t en1len,
    size_t en2size, const char *en2hex, const char *ntimehex,
    const char *noncehex, const char *vbitshex, uint32_t mask,
    struct share_result *r);

/* share_reason_str(reason): a short English phrase for logs and replies. */
const char *share_reason_str(enum share_reason reason);

#endif
