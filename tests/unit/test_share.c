/*
 * test_share.c: unit tests for stratum/share.c.
 *
 * Vectors are Bitcoin's genesis block and block 1 (public), plus a synthetic
 * three-transaction job and difficulty targets computed independently with
 * Python (hashlib, fractions.Fraction for exact floor(diff1 / diff)). Hashes
 * and targets written as big-endian "display" hex are reversed into the
 * little-endian order share.c uses by be_hex(). Header and hash bytes are
 * also checked one by one, and every function that takes a byte array is
 * run at each offset 0..7 of a buffer: the arm64 stage of scripts/test.sh
 * runs these on another architecture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "stratum/share.h"

/* Genesis and block 1 share these notify fields. */
#define BTC_VERSION	"00000001"
#define BTC_NBITS	"1d00ffff"

/* Genesis coinbase, split around an 8-byte extranonce in its scriptSig. */
#define GENESIS_COINB1 \
	"01000000010000000000000000000000000000000000000000000000000000000000" \
	"000000ffffffff4d04"
#define GENESIS_EN1	"ffff001d"
#define GENESIS_EN2	"01044554"
#define GENESIS_COINB2 \
	"68652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f" \
	"6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e" \
	"6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7" \
	"105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de" \
	"5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
#define GENESIS_HASH \
	"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
#define GENESIS_MERKLE \
	"4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
/* diff1 / genesis hash, from Python. */
#define GENESIS_DIFF	2536.4262984453103

/* Block 1: prevhash is the genesis hash in header order, word-swapped. */
#define BLOCK1_PREVHASH \
	"0a8ce26f72b3f1b646a2a6c14ff763ae65831e939c085ae10019d66800000000"
#define BLOCK1_COINB1 \
	"01000000010000000000000000000000000000000000000000000000000000000000" \
	"000000ffffffff0704"
#define BLOCK1_EN1	"ffff001d"
#define BLOCK1_EN2	"0104ffff"
#define BLOCK1_COINB2 \
	"ffff0100f2052a0100000043410496b538e853519c726a2c91e61ec11600ae1390" \
	"813a627c66fb8be7947be63c52da7589379515d4e0a604f8141781e62294721166" \
	"bf621e73a82cbf2342c858eeac00000000"
#define BLOCK1_NTIME	"4966bc61"	/* 1231469665 */
#define BLOCK1_NONCE	"9962e301"	/* 2573394689 */
#define BLOCK1_HASH \
	"00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
#define BLOCK1_DIFF	1.9452038562555845
/* Block 1's 80-byte header as the network has it (version, prevhash,
 * merkle root, time, bits, nonce; integers little-endian). */
#define BLOCK1_HEADER \
	"010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000" \
	"000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e85723" \
	"3e0e61bc6649ffff001d01e36299"

/*
 * Synthetic job with three transactions (coinbase, t1, t2). The expected
 * header was built in Python from the full merkle tree, not from the branch.
 */
#define M3_PREVHASH \
	"9deeb3ab2ed726510b68f2029c94bbad8939b2e68a44d8a5d74376fffe8017d9"
#define M3_COINB1 \
	"01000000010000000000000000000000000000000000000000000000000000000000" \
	"000000ffffffff0803a08601"
#define M3_EN1		"f0000001"
#define M3_EN2		"0000002a"
#define M3_COINB2 \
	"ffffffff0100f2052a010000001976a91400000000000000000000000000000000" \
	"0000000088ac00000000"
#define M3_BRANCH0 \
	"1ff42cc154cbd08f730c20d96eb3df11e3978a13484a2715dd0f7e29b5b73b69"
#define M3_BRANCH1 \
	"fd0649d104fbe8ca73d6c774c0be19069c5a1ebbd9f10255de0cbaa05731aa65"
#define M3_VERSION	"20000000"
#define M3_NBITS	"1703a30c"
#define M3_NTIME	"65a0b1c2"
#define M3_NONCE	"deadbeef"
#define M3_HEADER \
	"00000020abb3ee9d5126d72e02f2680badbb949ce6b23989a5d8448aff7643d7d9" \
	"1780fe1db2d0dd6b87203fc9a2e892385ab2532c8e7b3de10994be929e57494619" \
	"087dc2b1a0650ca30317efbeadde"
/* sha256d(M3_HEADER) in digest order (not display order). */
#define M3_HASH_RAW \
	"9d0c47bf1dcb938a34e4956d61d6b8c394957a6767a881591fb98a17cec95bf8"
#define M3_DIFF		2.3999067375984096e-10
/* The same job rolled with version bits 0x00402000 under mask 0x1fffe000. */
#define M3_ROLLED_HASH_RAW \
	"e71cbb789cb8cff1ee8f39cfb08ed250eb84dfea8633a1bd06caeef3b3c1fbbf"
#define M3_ROLLED_DIFF	3.1046292386980005e-10

#define DIFF1_TARGET \
	"00000000ffff0000000000000000000000000000000000000000000000000000"

/* Decode hex in digest order; fails the test on malformed input. */
static void
raw_hex(const char *hex, uint8_t *out, size_t n)
{
	assert_int_equal(share_hex_decode(hex, strlen(hex), out, n), n);
}

/* Decode big-endian display hex of a 256-bit number into little-endian. */
static void
be_hex(const char *hex, uint8_t out[32])
{
	uint8_t tmp[32];
	int i;

	raw_hex(hex, tmp, 32);
	for (i = 0; i < 32; i++)
		out[i] = tmp[31 - i];
}

static void
add_le256(uint8_t v[32], int delta)
{
	int i, carry = delta;

	for (i = 0; i < 32 && carry != 0; i++) {
		int t = v[i] + carry;

		v[i] = (uint8_t)t;
		carry = t < 0 ? -1 : t >> 8;
	}
}

static void
assert_close(double got, double want)
{
	assert_true(fabs(got - want) <= fabs(want) * 1e-12);
}

static void
init_genesis(struct share_job *j)
{
	char zeros[65];

	memset(zeros, '0', 64);
	zeros[64] = '\0';
	assert_int_equal(share_job_init(j, "1", zeros, GENESIS_COINB1,
	    GENESIS_COINB2, NULL, 0, BTC_VERSION, BTC_NBITS, "495fab29", true),
	    0);
}

static void
init_block1(struct share_job *j)
{
	assert_int_equal(share_job_init(j, "b1", BLOCK1_PREVHASH,
	    BLOCK1_COINB1, BLOCK1_COINB2, NULL, 0, BTC_VERSION, BTC_NBITS,
	    BLOCK1_NTIME, false), 0);
}

static void
init_m3(struct share_job *j)
{
	const char *branch[] = { M3_BRANCH0, M3_BRANCH1 };

	assert_int_equal(share_job_init(j, "m3", M3_PREVHASH, M3_COINB1,
	    M3_COINB2, branch, 2, M3_VERSION, M3_NBITS, M3_NTIME, true), 0);
}

static void
test_hex_roundtrip(void **state)
{
	uint8_t in[256], out[256];
	char hex[513];
	int i;

	(void)state;
	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	share_hex_encode(in, sizeof(in), hex);
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 500, "fafbfcfdfeff");
	assert_int_equal(share_hex_decode(hex, 512, out, sizeof(out)), 256);
	assert_memory_equal(in, out, 256);

	assert_int_equal(share_hex_decode("ABcdEf09", 8, out, 4), 4);
	assert_memory_equal(out, "\xab\xcd\xef\x09", 4);
	assert_int_equal(share_hex_decode("", 0, out, 0), 0);
	share_hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
}

static void
test_hex_reject(void **state)
{
	uint8_t out[8];

	(void)state;
	assert_int_equal(share_hex_decode("abc", 3, out, sizeof(out)), -1);
	assert_int_equal(share_hex_decode("0g", 2, out, sizeof(out)), -1);
	assert_int_equal(share_hex_decode("g0", 2, out, sizeof(out)), -1);
	assert_int_equal(share_hex_decode(" 0", 2, out, sizeof(out)), -1);
	assert_int_equal(share_hex_decode("0x12", 4, out, sizeof(out)), -1);
	/* An embedded NUL is not a digit. */
	assert_int_equal(share_hex_decode("00\0" "0", 4, out, sizeof(out)), -1);
	/* Too long for the output: 3 bytes into 2. */
	assert_int_equal(share_hex_decode("aabbcc", 6, out, 2), -1);
	assert_int_equal(share_hex_decode("aabb", 4, out, 2), 2);
	assert_int_equal(share_hex_decode(NULL, 0, out, 2), -1);
}

static void
test_sha256d_known(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} v[] = {
		{ "", "5df6e0e2761359d30a8275058e299fcc"
		    "0381534545f55cf43e41983f5d4c9456" },
		{ "abc", "4f8b42c22dd3729b519ba6f68d2da7cc"
		    "5b2d606d05daed5ad5128cc03e6c6358" },
		{ "hello", "9595c9df90075148eb06860365df3358"
		    "4b75bff782a510c6cd4883a419833d50" },
	};
	uint8_t got[32];
	char hex[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(share_sha256d(v[i].in, strlen(v[i].in), got),
		    0);
		share_hex_encode(got, 32, hex);
		assert_string_equal(hex, v[i].out);
	}
}

/* The genesis header assembled field by field, without a job. */
static void
test_genesis_raw_header(void **state)
{
	uint8_t header[80], hash[32], want[32];

	(void)state;
	memset(header, 0, sizeof(header));
	header[0] = 1;				/* version 1, LE */
	be_hex(GENESIS_MERKLE, header + 36);	/* prevhash stays zero */
	memcpy(header + 68, "\x29\xab\x5f\x49", 4);	/* 1231006505 */
	memcpy(header + 72, "\xff\xff\x00\x1d", 4);	/* 0x1d00ffff */
	memcpy(header + 76, "\x1d\xac\x2b\x7c", 4);	/* 2083236893 */
	assert_int_equal(share_sha256d(header, 80, hash), 0);
	be_hex(GENESIS_HASH, want);
	assert_memory_equal(hash, want, 32);
	assert_true(share_is_block(hash, 0x1d00ffff));
	assert_close(share_hash_difficulty(hash), GENESIS_DIFF);
}

static void
test_genesis_job(void **state)
{
	struct share_job j;
	struct share_result r;
	uint8_t en1[4], want[32];

	(void)state;
	init_genesis(&j);
	assert_string_equal(j.job_id, "1");
	assert_int_equal(j.version, 1);
	assert_int_equal(j.nbits, 0x1d00ffff);
	assert_int_equal(j.ntime, 1231006505);
	assert_true(j.clean);
	raw_hex(GENESIS_EN1, en1, 4);
	assert_int_equal(share_check(&j, en1, 4, 4, GENESIS_EN2, "495fab29",
	    "7c2bac1d", NULL, 0, &r), 0);
	assert_int_equal(r.reason, SHARE_OK);
	assert_int_equal(r.nonce, 2083236893u);
	be_hex(GENESIS_HASH, want);
	assert_memory_equal(r.hash, want, 32);
	be_hex(GENESIS_MERKLE, want);
	assert_memory_equal(r.header + 36, want, 32);
	assert_true(r.is_block);
	assert_close(r.difficulty, GENESIS_DIFF);
	assert_true(share_meets_difficulty(r.hash, 2536.0));
	assert_false(share_meets_difficulty(r.hash, 2537.0));
}

static void
test_block1_job(void **state)
{
	struct share_job j;
	struct share_result r;
	uint8_t en1[4], want[32], genesis[32];

	(void)state;
	init_block1(&j);
	/* The word swap is undone: the header holds the genesis hash. */
	be_hex(GENESIS_HASH, genesis);
	assert_memory_equal(j.prevhash, genesis, 32);
	raw_hex(BLOCK1_EN1, en1, 4);
	assert_int_equal(share_check(&j, en1, 4, 4, BLOCK1_EN2, BLOCK1_NTIME,
	    BLOCK1_NONCE, NULL, 0, &r), 0);
	be_hex(BLOCK1_HASH, want);
	assert_memory_equal(r.hash, want, 32);
	assert_true(r.is_block);
	assert_true(r.difficulty >= 1.0);
	assert_close(r.difficulty, BLOCK1_DIFF);
	/* Block 1 would not have met a later, harder network target. */
	assert_false(share_is_block(r.hash, 0x1b0404cb));

	/* One wrong extranonce2 byte gives another hash. */
	assert_int_equal(share_check(&j, en1, 4, 4, "0104fffe", BLOCK1_NTIME,
	    BLOCK1_NONCE, NULL, 0, &r), 0);
	assert_memory_not_equal(r.hash, want, 32);
	assert_false(r.is_block);
}

/*
 * Block 1 byte by byte: the header share_check() builds is the network's,
 * each integer field little-endian whatever the host's order, and the
 * hash comes out in digest order (display order reversed).
 */
static void
test_block1_header_bytes(void **state)
{
	struct share_job j;
	struct share_result r;
	uint8_t en1[4], want[80];

	(void)state;
	init_block1(&j);
	raw_hex(BLOCK1_EN1, en1, 4);
	assert_int_equal(share_check(&j, en1, 4, 4, BLOCK1_EN2, BLOCK1_NTIME,
	    BLOCK1_NONCE, NULL, 0, &r), 0);
	raw_hex(BLOCK1_HEADER, want, 80);
	assert_memory_equal(r.header, want, 80);

	/* The submit's big-endian hex fields become host integers... */
	assert_int_equal(r.version, 1);
	assert_int_equal(r.ntime, 0x4966bc61u);
	assert_int_equal(r.nonce, 0x9962e301u);
	/* ...and little-endian bytes in the header. */
	assert_memory_equal(r.header, "\x01\x00\x00\x00", 4);
	assert_memory_equal(r.header + 4, "\x6f\xe2\x8c\x0a", 4);
	assert_memory_equal(r.header + 32, "\x00\x00\x00\x00", 4);
	assert_memory_equal(r.header + 36, "\x98\x20\x51\xfd", 4);
	assert_memory_equal(r.header + 64, "\x57\x23\x3e\x0e", 4);
	assert_memory_equal(r.header + 68, "\x61\xbc\x66\x49", 4);
	assert_memory_equal(r.header + 72, "\xff\xff\x00\x1d", 4);
	assert_memory_equal(r.header + 76, "\x01\xe3\x62\x99", 4);
	/* Digest order: the display hash 00000000839a...6048 reversed. */
	assert_memory_equal(r.hash, "\x48\x60\xeb\x18", 4);
	assert_memory_equal(r.hash + 28, "\x00\x00\x00\x00", 4);
	assert_int_equal(r.hash[27], 0x83);

	/* The hash of the fixed header bytes, without a job, is the same. */
	assert_int_equal(share_sha256d(want, 80, want), 0);
	assert_memory_equal(want, r.hash, 32);

	/* A rolled version is written little-endian too. */
	init_m3(&j);
	raw_hex(M3_EN1, en1, 4);
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    "00402000", 0x1fffe000, &r), 0);
	assert_memory_equal(r.header, "\x00\x20\x40\x20", 4);
	assert_memory_equal(r.header + 76, "\xef\xbe\xad\xde", 4);
}

/*
 * Hashes and targets compare as little-endian 256-bit integers: byte 31
 * first. A compare from byte 0 (memcmp) would judge both of these wrong.
 */
static void
test_target_compare_order(void **state)
{
	uint8_t h[32], t[32];

	(void)state;
	assert_int_equal(share_target_from_nbits(0x1d00ffff, t), 0);
	/* diff1: 0xffff at bytes 26 and 27, zeros elsewhere. */
	for (int i = 0; i < 32; i++)
		assert_int_equal(t[i], i == 26 || i == 27 ? 0xff : 0);

	/* Below the target although its low bytes are all larger. */
	memset(h, 0xff, 32);
	h[27] = 0xfe;
	memset(h + 28, 0, 4);
	assert_true(share_is_block(h, 0x1d00ffff));
	assert_true(share_meets_difficulty(h, 1.0));
	assert_true(share_hash_difficulty(h) > 1.0);

	/* Above it although its low bytes are all smaller. */
	memset(h, 0, 32);
	h[28] = 0x01;
	assert_false(share_is_block(h, 0x1d00ffff));
	assert_false(share_meets_difficulty(h, 1.0));
	assert_true(share_hash_difficulty(h) < 1.0);
}

/*
 * Nothing in share.c may assume aligned buffers: the miner's bytes, the
 * header and the hashes are byte arrays, here at every offset 0..7 of a
 * larger buffer (a build that read them as wider words would fault or
 * differ on a strict-alignment machine).
 */
static void
test_unaligned_buffers(void **state)
{
	struct share_job j;
	uint8_t header[80 + 8], hash[32 + 8], target[32 + 8], want[80];
	uint8_t en[4 + 4 + 8], block1[32], m3[80];
	double d;

	(void)state;
	raw_hex(BLOCK1_HEADER, want, 80);
	be_hex(BLOCK1_HASH, block1);
	d = share_hash_difficulty(block1);
	raw_hex(M3_HEADER, m3, 80);
	init_m3(&j);
	for (size_t off = 0; off < 8; off++) {
		memset(header, 0x5a, sizeof(header));
		memcpy(header + off, want, 80);
		assert_int_equal(share_sha256d(header + off, 80, hash + off),
		    0);
		assert_memory_equal(hash + off, block1, 32);
		assert_true(share_hash_difficulty(hash + off) == d);
		assert_true(share_is_block(hash + off, 0x1d00ffff));
		assert_true(share_meets_difficulty(hash + off, 1.0));
		assert_false(share_meets_difficulty(hash + off, 2.0));

		assert_int_equal(share_target_from_nbits(0x1d00ffff,
		    target + off), 0);
		assert_int_equal(target[off + 26], 0xff);
		assert_int_equal(target[off + 28], 0);
		assert_int_equal(share_target_from_difficulty(1.0,
		    target + off), 0);
		assert_int_equal(target[off + 27], 0xff);

		assert_int_equal(share_hex_decode(M3_EN1 M3_EN2, 16, en + off,
		    8), 8);
		assert_int_equal(share_build_header(&j, en + off, 4,
		    en + off + 4, 4, 0x65a0b1c2, 0xdeadbeef, 0x20000000,
		    header + off), 0);
		assert_memory_equal(header + off, m3, 80);
	}
}

static void
test_merkle_three_tx(void **state)
{
	struct share_job j;
	struct share_result r;
	uint8_t en1[4], en2[4], header[80], want[80];

	(void)state;
	init_m3(&j);
	assert_int_equal(j.nbranch, 2);
	raw_hex(M3_EN1, en1, 4);
	raw_hex(M3_EN2, en2, 4);
	assert_int_equal(share_build_header(&j, en1, 4, en2, 4, 0x65a0b1c2,
	    0xdeadbeef, 0x20000000, header), 0);
	raw_hex(M3_HEADER, want, 80);
	assert_memory_equal(header, want, 80);

	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    NULL, 0, &r), 0);
	assert_memory_equal(r.header, want, 80);
	raw_hex(M3_HASH_RAW, want, 32);
	assert_memory_equal(r.hash, want, 32);
	assert_close(r.difficulty, M3_DIFF);
	assert_false(r.is_block);

	/* Over-cap extranonces are refused. */
	assert_int_equal(share_build_header(&j, en1, SHARE_EXTRANONCE_MAX + 1,
	    en2, 4, 0, 0, 0, header), -1);
	assert_int_equal(share_build_header(&j, en1, 4, en2,
	    SHARE_EXTRANONCE_MAX + 1, 0, 0, 0, header), -1);
	assert_int_equal(share_build_header(NULL, en1, 4, en2, 4, 0, 0, 0,
	    header), -1);
}

static void
test_version_rolling(void **state)
{
	struct share_job j;
	struct share_result r;
	uint32_t v;
	uint8_t en1[4], want[32];

	(void)state;
	assert_int_equal(share_rolled_version(0x20000000, 0x00402000,
	    0x1fffe000, &v), 0);
	assert_int_equal(v, 0x20402000);
	/* Job bits under the mask are replaced, not ORed. */
	assert_int_equal(share_rolled_version(0x3fffffff, 0, 0x1fffe000, &v),
	    0);
	assert_int_equal(v, 0x20001fff);
	v = 7;
	assert_int_equal(share_rolled_version(0x20000000, 0x00001000,
	    0x1fffe000, &v), -1);
	assert_int_equal(v, 7);
	assert_int_equal(share_rolled_version(0x20000000, 1, 0, &v), -1);

	init_m3(&j);
	raw_hex(M3_EN1, en1, 4);
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    "00402000", 0x1fffe000, &r), 0);
	assert_int_equal(r.version, 0x20402000);
	raw_hex(M3_ROLLED_HASH_RAW, want, 32);
	assert_memory_equal(r.hash, want, 32);
	assert_close(r.difficulty, M3_ROLLED_DIFF);

	/* Bit 12 is just below the mask; bit 29 just above. */
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    "00001000", 0x1fffe000, &r), -1);
	assert_int_equal(r.reason, SHARE_VERSION_MASK);
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    "20000000", 0x1fffe000, &r), -1);
	assert_int_equal(r.reason, SHARE_VERSION_MASK);
	/* No mask granted: only zero bits pass, and change nothing. */
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    "00000000", 0, &r), 0);
	raw_hex(M3_HASH_RAW, want, 32);
	assert_memory_equal(r.hash, want, 32);
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME, M3_NONCE,
	    "0040200g", 0x1fffe000, &r), -1);
	assert_int_equal(r.reason, SHARE_BAD_VERSION_BITS);
}

static void
test_hash_difficulty(void **state)
{
	uint8_t h[32];

	(void)state;
	be_hex(DIFF1_TARGET, h);
	assert_true(share_hash_difficulty(h) == 1.0);
	be_hex(GENESIS_HASH, h);
	assert_close(share_hash_difficulty(h), GENESIS_DIFF);
	be_hex(BLOCK1_HASH, h);
	assert_close(share_hash_difficulty(h), BLOCK1_DIFF);
	/* Half the diff1 target doubles the difficulty. */
	be_hex("000000007fff80000000000000000000"
	    "00000000000000000000000000000000", h);
	assert_true(share_hash_difficulty(h) == 2.0);

	memset(h, 0, 32);
	assert_true(isfinite(share_hash_difficulty(h)));
	assert_close(share_hash_difficulty(h), 2.695953529101131e+67);
	memset(h, 0xff, 32);
	assert_true(share_hash_difficulty(h) > 0.0);
	assert_true(share_hash_difficulty(h) < 1e-9);
}

/* floor(diff1 / diff) for the exact double diff, from Python Fraction. */
static const struct {
	double diff;
	const char *target;
} targets[] = {
	{ 0.0001,
	  "0000270fd8efffffff791d46e3400001d1c6e73746fff9b79d29951ed415b1f5" },
	{ 1.0, DIFF1_TARGET },
	{ 1.5,
	  "00000000aaaa0000000000000000000000000000000000000000000000000000" },
	{ 3.0,
	  "0000000055550000000000000000000000000000000000000000000000000000" },
	{ 1000.0,
	  "00000000004188f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28" },
	{ 1e12,
	  "00000000000000000119787e99468e32f6e0e71cef78ee034b5f8a0944d68076" },
	/* Near the top: diff1 * 2^32 still fits in 256 bits. */
	{ 0x1p-32,
	  "ffff000000000000000000000000000000000000000000000000000000000000" },
	{ 0x1.8p-32,
	  "aaaa000000000000000000000000000000000000000000000000000000000000" },
	/* One ulp above 0xFFFF * 2^-48, whose target would be 2^256. */
	{ 0x1.fffe000000001p-33,
	  "fffffffffffff7fff7fff7fff83ff87ff8bff8fdf939f973f9ac09e23a169a49" },
};

static void
test_target_from_difficulty(void **state)
{
	uint8_t got[32], want[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		assert_int_equal(share_target_from_difficulty(targets[i].diff,
		    got), 0);
		be_hex(targets[i].target, want);
		assert_memory_equal(got, want, 32);
	}

	/*
	 * At and below 0xFFFF * 2^-48 (~2^-32) the target no longer fits: it
	 * saturates at 2^256 - 1.
	 */
	memset(want, 0xff, 32);
	assert_int_equal(share_target_from_difficulty(0x1.fffep-33, got), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(share_target_from_difficulty(0x1.fffdfffffffffp-33,
	    got), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(share_target_from_difficulty(0x1p-33, got), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(share_target_from_difficulty(1e-20, got), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(share_target_from_difficulty(4.9e-324, got), 0);
	assert_memory_equal(got, want, 32);
	/* Past diff1_target itself (~2.7e67) only a zero hash would do. */
	assert_int_equal(share_target_from_difficulty(1e80, got), 0);
	memset(want, 0, 32);
	assert_memory_equal(got, want, 32);
	assert_int_equal(share_target_from_difficulty(1.7e308, got), 0);
	assert_memory_equal(got, want, 32);

	assert_int_equal(share_target_from_difficulty(0.0, got), -1);
	assert_int_equal(share_target_from_difficulty(-1.0, got), -1);
	assert_int_equal(share_target_from_difficulty(NAN, got), -1);
	assert_int_equal(share_target_from_difficulty(INFINITY, got), -1);
}

static void
test_meets_difficulty_boundaries(void **state)
{
	uint8_t h[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		be_hex(targets[i].target, h);
		assert_true(share_meets_difficulty(h, targets[i].diff));
		add_le256(h, 1);
		assert_false(share_meets_difficulty(h, targets[i].diff));
		add_le256(h, -2);
		assert_true(share_meets_difficulty(h, targets[i].diff));
	}

	/*
	 * target(1000) + 1 has a double difficulty that rounds to 1000: a
	 * judgement by doubles would accept it, the exact one does not.
	 */
	be_hex(targets[4].target, h);
	add_le256(h, 1);
	assert_true(share_hash_difficulty(h) == 1000.0);
	assert_false(share_meets_difficulty(h, 1000.0));

	/* Fractional difficulty: genesis easily, 0x0000270f... not quite. */
	be_hex(GENESIS_HASH, h);
	assert_true(share_meets_difficulty(h, 0.0001));
	be_hex("00002710000000000000000000000000"
	    "00000000000000000000000000000000", h);
	assert_false(share_meets_difficulty(h, 0.0001));
	be_hex("0000270f000000000000000000000000"
	    "00000000000000000000000000000000", h);
	assert_true(share_meets_difficulty(h, 0.0001));

	memset(h, 0xff, 32);
	assert_true(share_meets_difficulty(h, 1e-20));
	assert_false(share_meets_difficulty(h, 0.0));
	assert_false(share_meets_difficulty(h, NAN));
	memset(h, 0, 32);
	assert_true(share_meets_difficulty(h, 1e80));
	assert_false(share_meets_difficulty(h, -1.0));
}

static void
test_target_from_nbits(void **state)
{
	static const struct {
		uint32_t nbits;
		const char *target;
	} v[] = {
		{ 0x1d00ffff, DIFF1_TARGET },
		{ 0x1703a30c, "00000000000000000003a30c00000000"
		    "00000000000000000000000000000000" },
		{ 0x2100ffff, "ffff0000000000000000000000000000"
		    "00000000000000000000000000000000" },
		{ 0x03123456, "00000000000000000000000000000000"
		    "00000000000000000000000000123456" },
		{ 0x02123456, "00000000000000000000000000000000"
		    "00000000000000000000000000001234" },
	};
	static const uint32_t bad[] = {
		0x1d80ffff,	/* negative */
		0x1d000000,	/* zero */
		0x01003456,	/* shifted down to zero */
		0x2200ffff,	/* 0xff at byte 32: overflow */
		0x2300ffff,
		0xff7fffff,
	};
	uint8_t got[32], want[32], h[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(share_target_from_nbits(v[i].nbits, got), 0);
		be_hex(v[i].target, want);
		assert_memory_equal(got, want, 32);
	}
	memset(want, 0, 32);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(share_target_from_nbits(bad[i], got), -1);
		assert_memory_equal(got, want, 32);
		memset(h, 0, 32);
		assert_false(share_is_block(h, bad[i]));
	}

	/* is_block is inclusive at the target. */
	be_hex(DIFF1_TARGET, h);
	assert_true(share_is_block(h, 0x1d00ffff));
	add_le256(h, 1);
	assert_false(share_is_block(h, 0x1d00ffff));
}

static void
test_job_init_malformed(void **state)
{
	static char big[2 * SHARE_COINBASE_MAX + 3];
	static const char zero_job[sizeof(struct share_job)];
	const char *branch[SHARE_BRANCH_MAX + 1];
	char id[SHARE_JOB_ID_MAX + 2];
	struct share_job j;
	size_t i;

	(void)state;
	for (i = 0; i < SHARE_BRANCH_MAX + 1; i++)
		branch[i] = M3_BRANCH0;

#define INIT(id_, prev, c1, c2, br, nbr, ver, bits, time) \
	share_job_init(&j, id_, prev, c1, c2, br, nbr, ver, bits, time, false)

	/* The limits themselves are accepted. */
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, branch,
	    SHARE_BRANCH_MAX, M3_VERSION, M3_NBITS, M3_NTIME), 0);
	assert_int_equal(j.nbranch, SHARE_BRANCH_MAX);
	memset(id, 'a', SHARE_JOB_ID_MAX);
	id[SHARE_JOB_ID_MAX] = '\0';
	assert_int_equal(INIT(id, M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), 0);
	assert_string_equal(j.job_id, id);
	memset(big, 'a', 2 * SHARE_COINBASE_MAX);
	big[2 * SHARE_COINBASE_MAX] = '\0';
	assert_int_equal(INIT("x", M3_PREVHASH, big, "", NULL, 0, M3_VERSION,
	    M3_NBITS, M3_NTIME), 0);
	assert_int_equal(j.coinb1_len, SHARE_COINBASE_MAX);
	assert_int_equal(j.coinb2_len, 0);

	/* Over the caps. */
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, branch,
	    SHARE_BRANCH_MAX + 1, M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_memory_equal(&j, zero_job, sizeof(j));
	id[SHARE_JOB_ID_MAX] = 'a';
	id[SHARE_JOB_ID_MAX + 1] = '\0';
	assert_int_equal(INIT(id, M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, big, "00", NULL, 0, M3_VERSION,
	    M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, "00", big, NULL, 0, M3_VERSION,
	    M3_NBITS, M3_NTIME), -1);
	big[2 * SHARE_COINBASE_MAX] = 'a';
	big[2 * SHARE_COINBASE_MAX + 1] = 'a';
	assert_int_equal(INIT("x", M3_PREVHASH, big, "", NULL, 0, M3_VERSION,
	    M3_NBITS, M3_NTIME), -1);

	/* Malformed fields. */
	assert_int_equal(INIT("", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, "abc", M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, "0z", NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", &M3_PREVHASH[2], M3_COINB1, M3_COINB2, NULL,
	    0, M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH "00", M3_COINB1, M3_COINB2,
	    NULL, 0, M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x",
	    "9deeb3ab2ed726510b68f2029c94bbad8939b2e68a44d8a5d74376fffe8017dx",
	    M3_COINB1, M3_COINB2, NULL, 0, M3_VERSION, M3_NBITS, M3_NTIME), -1);
	branch[1] = M3_BRANCH1 "0";
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, branch,
	    2, M3_VERSION, M3_NBITS, M3_NTIME), -1);
	branch[1] = NULL;
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, branch,
	    2, M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 1,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    "2000000", M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    "200000000", M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, "1703a30g", M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, "0x65a0b1"), -1);
	assert_memory_equal(&j, zero_job, sizeof(j));

	/* NULL anywhere. */
	assert_int_equal(INIT(NULL, M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", NULL, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, NULL, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, NULL, NULL, 0,
	    M3_VERSION, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    NULL, M3_NBITS, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, NULL, M3_NTIME), -1);
	assert_int_equal(INIT("x", M3_PREVHASH, M3_COINB1, M3_COINB2, NULL, 0,
	    M3_VERSION, M3_NBITS, NULL), -1);
	assert_int_equal(share_job_init(NULL, "x", M3_PREVHASH, M3_COINB1,
	    M3_COINB2, NULL, 0, M3_VERSION, M3_NBITS, M3_NTIME, false), -1);
#undef INIT
}

static void
test_check_malformed(void **state)
{
	static const struct {
		size_t en2size;
		const char *en2;
		const char *ntime;
		const char *nonce;
		enum share_reason reason;
	} v[] = {
		{ 4, "0000002", M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 4, "000000", M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 4, "0000002a00", M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 4, "0000002x", M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 4, "", M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 4, NULL, M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 8, M3_EN2, M3_NTIME, M3_NONCE, SHARE_BAD_EXTRANONCE2 },
		{ 4, M3_EN2, "65a0b1c", M3_NONCE, SHARE_BAD_NTIME },
		{ 4, M3_EN2, "65a0b1c20", M3_NONCE, SHARE_BAD_NTIME },
		{ 4, M3_EN2, "65a0b1cz", M3_NONCE, SHARE_BAD_NTIME },
		{ 4, M3_EN2, NULL, M3_NONCE, SHARE_BAD_NTIME },
		{ 4, M3_EN2, M3_NTIME, "zzzzzzzz", SHARE_BAD_NONCE },
		{ 4, M3_EN2, M3_NTIME, "-0000001", SHARE_BAD_NONCE },
		{ 4, M3_EN2, M3_NTIME, "deadbeef0", SHARE_BAD_NONCE },
		{ 4, M3_EN2, M3_NTIME, "", SHARE_BAD_NONCE },
		{ 4, M3_EN2, M3_NTIME, NULL, SHARE_BAD_NONCE },
		{ SHARE_EXTRANONCE_MAX + 1, M3_EN2, M3_NTIME, M3_NONCE,
		    SHARE_BAD_ARGUMENT },
	};
	struct share_job j;
	struct share_result r;
	uint8_t en1[SHARE_EXTRANONCE_MAX + 1];
	size_t i;

	(void)state;
	init_m3(&j);
	raw_hex(M3_EN1, en1, 4);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		r.reason = SHARE_OK;
		assert_int_equal(share_check(&j, en1, 4, v[i].en2size, v[i].en2,
		    v[i].ntime, v[i].nonce, NULL, 0, &r), -1);
		assert_int_equal(r.reason, v[i].reason);
	}
	/* Upper-case hex is still hex. */
	assert_int_equal(share_check(&j, en1, 4, 4, "0000002A", "65A0B1C2",
	    "DEADBEEF", NULL, 0, &r), 0);

	assert_int_equal(share_check(&j, en1, SHARE_EXTRANONCE_MAX + 1, 4,
	    M3_EN2, M3_NTIME, M3_NONCE, NULL, 0, &r), -1);
	assert_int_equal(r.reason, SHARE_BAD_ARGUMENT);
	assert_int_equal(share_check(&j, NULL, 4, 4, M3_EN2, M3_NTIME,
	    M3_NONCE, NULL, 0, &r), -1);
	assert_int_equal(r.reason, SHARE_BAD_ARGUMENT);
	assert_int_equal(share_check(NULL, en1, 4, 4, M3_EN2, M3_NTIME,
	    M3_NONCE, NULL, 0, &r), -1);
	assert_int_equal(r.reason, SHARE_BAD_ARGUMENT);
	assert_int_equal(share_check(&j, en1, 4, 4, M3_EN2, M3_NTIME,
	    M3_NONCE, NULL, 0, NULL), -1);
}

static void
test_reason_str(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < SHARE_REASON_MAX; i++) {
		assert_non_null(share_reason_str((enum share_reason)i));
		assert_string_not_equal(share_reason_str((enum share_reason)i),
		    "unknown");
	}
	assert_string_equal(share_reason_str(SHARE_OK), "ok");
	assert_string_equal(share_reason_str(SHARE_REASON_MAX), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_roundtrip),
		cmocka_unit_test(test_hex_reject),
		cmocka_unit_test(test_sha256d_known),
		cmocka_unit_test(test_genesis_raw_header),
		cmocka_unit_test(test_genesis_job),
		cmocka_unit_test(test_block1_job),
		cmocka_unit_test(test_block1_header_bytes),
		cmocka_unit_test(test_target_compare_order),
		cmocka_unit_test(test_unaligned_buffers),
		cmocka_unit_test(test_merkle_three_tx),
		cmocka_unit_test(test_version_rolling),
		cmocka_unit_test(test_hash_difficulty),
		cmocka_unit_test(test_target_from_difficulty),
		cmocka_unit_test(test_meets_difficulty_boundaries),
		cmocka_unit_test(test_target_from_nbits),
		cmocka_unit_test(test_job_init_malformed),
		cmocka_unit_test(test_check_malformed),
		cmocka_unit_test(test_reason_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
