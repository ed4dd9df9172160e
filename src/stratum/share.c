/*
 * share.c: share validation arithmetic (see share.h and protocol.md §4).
 *
 * Owns nothing and keeps no state: every function works on its arguments and
 * the caller's buffers, so any thread may call any function at any time.
 * Coinbases are assembled in a bounded stack buffer; nothing is allocated
 * per share. SHA-256 is OpenSSL's, fetched once per process and hashed
 * with one digest context per thread: EVP_Digest(EVP_sha256()) fetches
 * the algorithm on every call, under a lock that aggregation mode's
 * share checks (a dozen hashes each) would spend a third of their time
 * in.
 *
 * Difficulty judgements are exact: a target is computed as a 256-bit integer
 * from the binary value of the double, never by comparing doubles, so a hash
 * exactly on the target of a pool's difficulty is accepted the way the pool
 * will accept it.
 */
#include "stratum/share.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

/* diff1 target = 0xFFFF * 2^208 (protocol.md §4). */
#define DIFF1_MANTISSA	0xFFFFu
#define DIFF1_SHIFT	208

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t
share_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outcap)
{
	size_t i;
	int hi, lo;

	if (hex == NULL || hexlen % 2 != 0 || hexlen / 2 > outcap)
		return -1;
	if (hexlen > 0 && out == NULL)
		return -1;
	for (i = 0; i < hexlen / 2; i++) {
		hi = hex_value(hex[2 * i]);
		lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)(hexlen / 2);
}

void
share_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/* strnlen(), which strict C11 does not declare. */
static size_t
bounded_strlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

/*
 * Decode the NUL-terminated hex string s into exactly n bytes. Reads at most
 * 2n + 1 chars of s, so an over-long string costs nothing.
 */
static int
hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
	size_t len;

	if (s == NULL)
		return -1;
	len = bounded_strlen(s, 2 * n + 1);
	if (len != 2 * n || share_hex_decode(s, len, out, n) != (ssize_t)n)
		return -1;
	return 0;
}

/*
 * Parse min to 8 hex digits (a big-endian 32-bit integer) then a NUL. Reads
 * at most 9 chars of s, so an over-long string costs nothing.
 */
static int
hex_u32(const char *s, int min, uint32_t *out)
{
	uint32_t v = 0;
	int d, i;

	if (s == NULL)
		return -1;
	for (i = 0; i < 8 && s[i] != '\0'; i++) {
		if ((d = hex_value(s[i])) < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	if (i < min || s[i] != '\0')
		return -1;
	*out = v;
	return 0;
}

int
share_hex_u32(const char *s, uint32_t *out)
{
	return hex_u32(s, 8, out);
}

int
share_hex_mask(const char *s, uint32_t *out)
{
	return hex_u32(s, 1, out);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Compare two little-endian 256-bit integers: <0, 0, >0 like memcmp. */
static int
cmp256(const uint8_t a[32], const uint8_t b[32])
{
	int i;

	for (i = 31; i >= 0; i--) {
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return 0;
}

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;        /* fetched once, never freed */
static pthread_key_t sha_key; /* the thread's EVP_MD_CTX */

static void
sha_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
sha_init(void)
{
	sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&sha_key, sha_ctx_free) != 0)
		sha_md = NULL;
}

static EVP_MD_CTX *
sha_ctx(void)
{
	EVP_MD_CTX *ctx;

	if (pthread_once(&sha_once, sha_init) != 0 || sha_md == NULL)
		return NULL;
	ctx = pthread_getspecific(sha_key);
	if (ctx == NULL) {
		ctx = EVP_MD_CTX_new();
		if (ctx == NULL || pthread_setspecific(sha_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

static int
sha256(EVP_MD_CTX *ctx, const void *data, size_t len, uint8_t *out)
{
	unsigned int n;

	return EVP_DigestInit_ex2(ctx, sha_md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, data, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32 ? 0 : -1;
}

int
share_sha256d(const void *data, size_t len, uint8_t out[32])
{
	uint8_t first[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = sha_ctx();

	if (ctx == NULL || sha256(ctx, data, len, first) != 0 ||
	    sha256(ctx, first, 32, out) != 0)
		return -1;
	return 0;
}

int
share_job_init(struct share_job *j, const char *job_id, const char *prevhash,
    const char *coinb1, const char *coinb2, const char *const *branch,
    size_t nbranch, const char *version, const char *nbits, const char *ntime,
    bool clean)
{
	uint8_t swapped[32];
	size_t len, i;
	ssize_t n;

	if (j == NULL)
		return -1;
	memset(j, 0, sizeof(*j));
	if (job_id == NULL || coinb1 == NULL || coinb2 == NULL)
		goto err;
	if (nbranch > SHARE_BRANCH_MAX || (nbranch > 0 && branch == NULL))
		goto err;

	len = bounded_strlen(job_id, SHARE_JOB_ID_MAX + 1);
	if (len == 0 || len > SHARE_JOB_ID_MAX)
		goto err;
	memcpy(j->job_id, job_id, len);

	/* notify sends each 4-byte word of the header's prevhash reversed. */
	if (hex_decode_exact(prevhash, swapped, sizeof(swapped)) == -1)
		goto err;
	for (i = 0; i < 32; i += 4) {
		j->prevhash[i] = swapped[i + 3];
		j->prevhash[i + 1] = swapped[i + 2];
		j->prevhash[i + 2] = swapped[i + 1];
		j->prevhash[i + 3] = swapped[i];
	}

	/* Bound the scans: a string longer than the cap is rejected anyway. */
	len = bounded_strlen(coinb1, 2 * SHARE_COINBASE_MAX + 1);
	n = share_hex_decode(coinb1, len, j->coinb, SHARE_COINBASE_MAX);
	if (n < 0)
		goto err;
	j->coinb1_len = (size_t)n;
	len = bounded_strlen(coinb2, 2 * SHARE_COINBASE_MAX + 1);
	n = share_hex_decode(coinb2, len, j->coinb + j->coinb1_len,
	    SHARE_COINBASE_MAX - j->coinb1_len);
	if (n < 0)
		goto err;
	j->coinb2_len = (size_t)n;

	for (i = 0; i < nbranch; i++) {
		if (hex_decode_exact(branch[i], j->branch[i], 32) == -1)
			goto err;
	}
	j->nbranch = nbranch;

	if (share_hex_u32(version, &j->version) == -1 ||
	    share_hex_u32(nbits, &j->nbits) == -1 ||
	    share_hex_u32(ntime, &j->ntime) == -1)
		goto err;
	j->clean = clean;
	return 0;

err:
	memset(j, 0, sizeof(*j));
	return -1;
}

int
share_build_header(const struct share_job *j, const uint8_t *en1,
    size_t en1len, const uint8_t *en2, size_t en2len, uint32_t ntime,
    uint32_t nonce, uint32_t version, uint8_t header[80])
{
	uint8_t cb[SHARE_COINBASE_MAX + 2 * SHARE_EXTRANONCE_MAX];
	uint8_t pair[64];
	size_t len = 0, i;

	if (j == NULL || en1len > SHARE_EXTRANONCE_MAX ||
	    en2len > SHARE_EXTRANONCE_MAX ||
	    j->coinb1_len + j->coinb2_len > SHARE_COINBASE_MAX ||
	    j->nbranch > SHARE_BRANCH_MAX)
		return -1;
	if ((en1len > 0 && en1 == NULL) || (en2len > 0 && en2 == NULL))
		return -1;

	memcpy(cb, j->coinb, j->coinb1_len);
	len = j->coinb1_len;
	if (en1len > 0)
		memcpy(cb + len, en1, en1len);
	len += en1len;
	if (en2len > 0)
		memcpy(cb + len, en2, en2len);
	len += en2len;
	memcpy(cb + len, j->coinb + j->coinb1_len, j->coinb2_len);
	len += j->coinb2_len;

	/* The merkle root is built in place in pair[0..32). */
	if (share_sha256d(cb, len, pair) == -1)
		return -1;
	for (i = 0; i < j->nbranch; i++) {
		memcpy(pair + 32, j->branch[i], 32);
		if (share_sha256d(pair, sizeof(pair), pair) == -1)
			return -1;
	}

	put_le32(header, version);
	memcpy(header + 4, j->prevhash, 32);
	memcpy(header + 36, pair, 32);
	put_le32(header + 68, ntime);
	put_le32(header + 72, j->nbits);
	put_le32(header + 76, nonce);
	return 0;
}

int
share_rolled_version(uint32_t job_version, uint32_t bits, uint32_t mask,
    uint32_t *out)
{
	if ((bits & ~mask) != 0)
		return -1;
	*out = (job_version & ~mask) | (bits & mask);
	return 0;
}

double
share_hash_difficulty(const uint8_t hash[32])
{
	double h = 0.0;
	int i;

	for (i = 31; i >= 0; i--)
		h = h * 256.0 + hash[i];
	if (h == 0.0)
		h = 1.0;
	return ldexp((double)DIFF1_MANTISSA, DIFF1_SHIFT) / h;
}

/*
 * diff = m * 2^e exactly, with m < 2^53. Then
 *   target = floor(0xFFFF * 2^208 / (m * 2^e)) = floor(0xFFFF * 2^s / m)
 * with s = 208 - e. The numerator is laid out big-endian in 512 bits and
 * divided by m one byte at a time: the remainder stays below m < 2^53, so
 * remainder * 256 + byte fits in 64 bits.
 */
int
share_target_from_difficulty(double diff, uint8_t target[32])
{
	uint8_t num[64], quot[64];
	uint64_t m, rem, cur;
	int exp, s, b, pos, i;

	memset(target, 0, 32);
	if (!(diff > 0.0) || !isfinite(diff))
		return -1;
	/* frexp: diff = f * 2^exp with 0.5 <= f < 1; f * 2^53 is an integer. */
	m = (uint64_t)ldexp(frexp(diff, &exp), 53);
	s = DIFF1_SHIFT - (exp - 53);

	/*
	 * The quotient exceeds 0xFFFF * 2^s / 2^53 >= 2^(s - 38): from s = 294
	 * on it no longer fits in 256 bits.
	 */
	if (s >= 294) {
		memset(target, 0xff, 32);
		return 0;
	}
	/* s < 0 means diff >= 2^261, far past diff1_target: the target is 0. */
	if (s < 0)
		return 0;
	memset(num, 0, sizeof(num));
	for (b = 0; b < 16; b++) {
		if (DIFF1_MANTISSA & (1u << b)) {
			pos = b + s;	/* < 310, inside 512 bits */
			num[63 - pos / 8] |= (uint8_t)(1u << (pos % 8));
		}
	}

	rem = 0;
	for (i = 0; i < 64; i++) {
		cur = rem << 8 | num[i];
		quot[i] = (uint8_t)(cur / m);
		rem = cur % m;
	}
	for (i = 0; i < 32; i++) {
		if (quot[i] != 0) {
			memset(target, 0xff, 32);
			return 0;
		}
	}
	for (i = 0; i < 32; i++)
		target[i] = quot[63 - i];
	return 0;
}

bool
share_meets_difficulty(const uint8_t hash[32], double diff)
{
	uint8_t target[32];

	if (share_target_from_difficulty(diff, target) == -1)
		return false;
	return cmp256(hash, target) <= 0;
}

int
share_target_from_nbits(uint32_t nbits, uint8_t target[32])
{
	uint32_t exp = nbits >> 24;
	uint32_t mant = nbits & 0x007fffff;
	uint32_t k, pos;
	uint8_t byte;

	memset(target, 0, 32);
	/* Bit 23 is a sign in Bitcoin's compact form; negative is invalid. */
	if ((nbits & 0x00800000) != 0 && mant != 0)
		return -1;
	if (exp <= 3) {
		mant >>= 8 * (3 - exp);
		exp = 3;
	}
	if (mant == 0)
		return -1;
	for (k = 0; k < 3; k++) {
		byte = (uint8_t)(mant >> (8 * k));
		pos = exp - 3 + k;
		if (byte == 0)
			continue;
		if (pos >= 32) {
			memset(target, 0, 32);
			return -1;
		}
		target[pos] = byte;
	}
	return 0;
}

bool
share_is_block(const uint8_t hash[32], uint32_t nbits)
{
	uint8_t target[32];

	if (share_target_from_nbits(nbits, target) == -1)
		return false;
	return cmp256(hash, target) <= 0;
}

static int
check_fail(struct share_result *r, enum share_reason reason)
{
	r->reason = reason;
	return -1;
}

int
share_check(const struct share_job *j, const uint8_t *en1, size_t en1len,
    size_t en2size, const char *en2hex, const char *ntimehex,
    const char *noncehex, const char *vbitshex, uint32_t mask,
    struct share_result *r)
{
	uint8_t en2[SHARE_EXTRANONCE_MAX];
	uint32_t vbits;

	if (r == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	if (j == NULL || en1len > SHARE_EXTRANONCE_MAX ||
	    (en1len > 0 && en1 == NULL) || en2size > SHARE_EXTRANONCE_MAX)
		return check_fail(r, SHARE_BAD_ARGUMENT);
	if (hex_decode_exact(en2hex, en2, en2size) == -1)
		return check_fail(r, SHARE_BAD_EXTRANONCE2);
	if (share_hex_u32(ntimehex, &r->ntime) == -1)
		return check_fail(r, SHARE_BAD_NTIME);
	if (share_hex_u32(noncehex, &r->nonce) == -1)
		return check_fail(r, SHARE_BAD_NONCE);
	r->version = j->version;
	if (vbitshex != NULL) {
		if (share_hex_u32(vbitshex, &vbits) == -1)
			return check_fail(r, SHARE_BAD_VERSION_BITS);
		if (share_rolled_version(j->version, vbits, mask,
		    &r->version) == -1)
			return check_fail(r, SHARE_VERSION_MASK);
	}

	if (share_build_header(j, en1, en1len, en2, en2size, r->ntime,
	    r->nonce, r->version, r->header) == -1 ||
	    share_sha256d(r->header, sizeof(r->header), r->hash) == -1)
		return check_fail(r, SHARE_INTERNAL);
	r->difficulty = share_hash_difficulty(r->hash);
	r->is_block = share_is_block(r->hash, j->nbits);
	r->reason = SHARE_OK;
	return 0;
}

const char *
share_reason_str(enum share_reason reason)
{
	static const char *const names[SHARE_REASON_MAX] = {
		[SHARE_OK] = "ok",
		[SHARE_BAD_EXTRANONCE2] = "malformed extranonce2",
		[SHARE_BAD_NTIME] = "malformed ntime",
		[SHARE_BAD_NONCE] = "malformed nonce",
		[SHARE_BAD_VERSION_BITS] = "malformed version bits",
		[SHARE_VERSION_MASK] = "version bits outside mask",
		[SHARE_BAD_ARGUMENT] = "bad argument",
		[SHARE_INTERNAL] = "internal error",
	};

	if ((unsigned)reason >= SHARE_REASON_MAX)
		return "unknown";
	return names[reason];
}
