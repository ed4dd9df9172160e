/*
 * test_sniff.c: protocol sniffing of new connections: classification from
 * the first bytes, PROXY v1 and v2 headers, HTTP CONNECT requests, and the
 * fixed HTTP answers.
 *
 * Every call goes through a copy of exactly len bytes on the heap, so that
 * AddressSanitizer catches any read past len.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/sniff.h"
#include "util/xmalloc.h"

/* ---- helpers: exact-length heap copies ---- */

static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *b = xmalloc(n);

	if (n > 0)
		memcpy(b, p, n);
	return b;
}

static enum sniff_kind
classify_n(const void *p, size_t n)
{
	uint8_t *b = dup_exact(p, n);
	enum sniff_kind k = sniff_classify(b, n);

	free(b);
	return k;
}

static int
v1_n(const void *p, size_t n, struct sniff_proxy *out)
{
	uint8_t *b = dup_exact(p, n);
	int r = sniff_proxy_v1(b, n, out);

	free(b);
	return r;
}

static int
v1(const char *s, struct sniff_proxy *out)
{
	return v1_n(s, strlen(s), out);
}

static int
v2_n(const void *p, size_t n, struct sniff_proxy *out)
{
	uint8_t *b = dup_exact(p, n);
	int r = sniff_proxy_v2(b, n, out);

	free(b);
	return r;
}

static int
conn_n(const void *p, size_t n, struct sniff_connect *out)
{
	uint8_t *b = dup_exact(p, n);
	int r = sniff_http_connect(b, n, out);

	free(b);
	return r;
}

static int
conn(const char *s, struct sniff_connect *out)
{
	return conn_n(s, strlen(s), out);
}

/* An address as text plus its port, for comparisons. */
static void
addr_text(const struct sockaddr_storage *ss, socklen_t len, char *buf,
    size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		assert_int_equal(len, sizeof(*s));
		assert_non_null(inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a)));
		snprintf(buf, size, "%s %u", a, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		assert_int_equal(len, sizeof(*s));
		assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, a,
		    sizeof(a)));
		snprintf(buf, size, "[%s] %u", a, ntohs(s->sin6_port));
	} else {
		snprintf(buf, size, "family %d", ss->ss_family);
	}
}

static void
expect_addrs(const struct sniff_proxy *p, const char *src, const char *dst)
{
	char buf[80];

	assert_true(p->has_addr);
	addr_text(&p->src, p->src_len, buf, sizeof(buf));
	assert_string_equal(buf, src);
	addr_text(&p->dst, p->dst_len, buf, sizeof(buf));
	assert_string_equal(buf, dst);
}

/* ---- classify ---- */

static void
test_classify_kinds(void **state)
{
	static const struct {
		const char *in;
		size_t n; /* 0: strlen */
		enum sniff_kind want;
	} cases[] = {
		{ "{\"id\":1,\"method\":\"mining.subscribe\"}\n", 0,
		    SNIFF_STRATUM },
		{ "{", 0, SNIFF_STRATUM },
		{ " \t\r\n{", 0, SNIFF_STRATUM },
		{ "\r\n\r\n{", 0, SNIFF_STRATUM },
		{ "CONNECT pool:3333 HTTP/1.1\r\n", 0, SNIFF_HTTP_CONNECT },
		{ "CONNECT ", 0, SNIFF_HTTP_CONNECT },
		{ "GET / HTTP/1.1\r\n", 0, SNIFF_HTTP_OTHER },
		{ "POST /x", 0, SNIFF_HTTP_OTHER },
		{ "HEAD / ", 0, SNIFF_HTTP_OTHER },
		{ "PUT /", 0, SNIFF_HTTP_OTHER },
		{ "DELETE /", 0, SNIFF_HTTP_OTHER },
		{ "OPTIONS *", 0, SNIFF_HTTP_OTHER },
		{ "PATCH /", 0, SNIFF_HTTP_OTHER },
		{ "TRACE /", 0, SNIFF_HTTP_OTHER },
		{ "PROXY TCP4 ", 0, SNIFF_PROXY_V1 },
		{ "PROXY ", 0, SNIFF_PROXY_V1 },
		{ "\r\n\r\n\0\r\nQUIT\n", 12, SNIFF_PROXY_V2 },
		{ "\r\n\r\n\0\r\nQUIT\n\x21\x11", 14, SNIFF_PROXY_V2 },
		{ "\x16\x03", 0, SNIFF_TLS },
		{ "\x16\x03\x01\x02\x00\x01", 0, SNIFF_TLS },
		/* Not one of them. */
		{ "\x16\x02", 0, SNIFF_UNKNOWN },
		{ "\x16\x03", 1, SNIFF_NEED_MORE },
		{ "get / HTTP/1.1", 0, SNIFF_UNKNOWN },
		{ "GETS", 0, SNIFF_UNKNOWN },
		{ "CONNECTX", 0, SNIFF_UNKNOWN },
		{ "PROXY\r\n", 0, SNIFF_UNKNOWN },
		{ "SSH-2.0-OpenSSH", 0, SNIFF_UNKNOWN },
		{ "\0", 1, SNIFF_UNKNOWN },
		{ "[1,2]", 0, SNIFF_UNKNOWN },
		{ "  x{", 0, SNIFF_UNKNOWN },
		{ "\r\n\r\n\0\r\nQUIX", 12, SNIFF_UNKNOWN },
		{ "\r\n\r\n\0", 5, SNIFF_NEED_MORE },
		{ "", 0, SNIFF_NEED_MORE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].in);
		enum sniff_kind k = classify_n(cases[i].in, n);

		if (k != cases[i].want) {
			print_error("case %zu: got %s, want %s\n", i,
			    sniff_kind_name(k), sniff_kind_name(cases[i].want));
			fail();
		}
	}
}

/* Each proper prefix of an opening is NEED_MORE; the whole is decided. */
static void
test_classify_prefixes(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		enum sniff_kind want;
	} opens[] = {
		{ "CONNECT ", 8, SNIFF_HTTP_CONNECT },
		{ "GET ", 4, SNIFF_HTTP_OTHER },
		{ "POST ", 5, SNIFF_HTTP_OTHER },
		{ "HEAD ", 5, SNIFF_HTTP_OTHER },
		{ "PUT ", 4, SNIFF_HTTP_OTHER },
		{ "DELETE ", 7, SNIFF_HTTP_OTHER },
		{ "OPTIONS ", 8, SNIFF_HTTP_OTHER },
		{ "PATCH ", 6, SNIFF_HTTP_OTHER },
		{ "TRACE ", 6, SNIFF_HTTP_OTHER },
		{ "PROXY ", 6, SNIFF_PROXY_V1 },
		{ "\r\n\r\n\0\r\nQUIT\n", 12, SNIFF_PROXY_V2 },
		{ "\x16\x03", 2, SNIFF_TLS },
		{ "\n\n {", 4, SNIFF_STRATUM },
	};

	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
		for (size_t k = 0; k < opens[i].n; k++)
			assert_int_equal(classify_n(opens[i].s, k),
			    SNIFF_NEED_MORE);
		assert_int_equal(classify_n(opens[i].s, opens[i].n),
		    opens[i].want);
	}
}

/* Whitespace before '{' is waited through up to SNIFF_WS_MAX bytes. */
static void
test_classify_whitespace_cap(void **state)
{
	char buf[SNIFF_WS_MAX + 2];

	memset(buf, '\n', sizeof(buf));
	assert_int_equal(classify_n(buf, SNIFF_WS_MAX), SNIFF_NEED_MORE);
	buf[SNIFF_WS_MAX] = '{';
	assert_int_equal(classify_n(buf, SNIFF_WS_MAX + 1), SNIFF_STRATUM);
	buf[SNIFF_WS_MAX] = ' ';
	buf[SNIFF_WS_MAX + 1] = '{';
	assert_int_equal(classify_n(buf, SNIFF_WS_MAX + 1), SNIFF_UNKNOWN);
	assert_int_equal(classify_n(buf, SNIFF_WS_MAX + 2), SNIFF_UNKNOWN);
}

/* Once decided, more bytes never change the answer. */
static void
test_classify_stable(void **state)
{
	static const char *const ins[] = {
		"CONNECT a:1 HTTP/1.1\r\n\r\n", "GET / HTTP/1.0\r\n",
		"PROXY UNKNOWN\r\n", "  {\"id\":1}\n", "\x16\x03\x01\x00",
		"hello world", "\r\n\r\nx",
	};

	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		size_t n = strlen(ins[i]);
		enum sniff_kind final = classify_n(ins[i], n), k;
		bool decided = false;

		assert_int_not_equal(final, SNIFF_NEED_MORE);
		for (size_t j = 0; j <= n; j++) {
			k = classify_n(ins[i], j);
			if (decided)
				assert_int_equal(k, final);
			else if (k != SNIFF_NEED_MORE)
				decided = true;
		}
		assert_true(decided);
	}
}

static void
test_kind_names(void **state)
{
	for (int i = 0; i < SNIFF_KIND_MAX; i++) {
		const char *a = sniff_kind_name((enum sniff_kind)i);

		assert_non_null(a);
		assert_string_not_equal(a, "invalid");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a,
			    sniff_kind_name((enum sniff_kind)j));
	}
	assert_string_equal(sniff_kind_name(SNIFF_STRATUM), "stratum");
	assert_string_equal(sniff_kind_name(SNIFF_KIND_MAX), "invalid");
	assert_string_equal(sniff_kind_name((enum sniff_kind)-1), "invalid");
}

/* ---- PROXY v1 ---- */

static void
test_v1_tcp4(void **state)
{
	const char *h = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 3333\r\n";
	struct sniff_proxy p;

	assert_int_equal(v1(h, &p), (int)strlen(h));
	expect_addrs(&p, "192.0.2.10 56324", "198.51.100.1 3333");

	h = "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n";
	assert_int_equal(v1(h, &p), (int)strlen(h));
	expect_addrs(&p, "0.0.0.0 0", "255.255.255.255 65535");
}

static void
test_v1_tcp6(void **state)
{
	const char *h = "PROXY TCP6 2001:db8::1 2001:db8::2 40000 3333\r\n";
	struct sniff_proxy p;

	assert_int_equal(v1(h, &p), (int)strlen(h));
	expect_addrs(&p, "[2001:db8::1] 40000", "[2001:db8::2] 3333");

	h = "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n";
	assert_int_equal(v1(h, &p), (int)strlen(h));
	expect_addrs(&p, "[::ffff:192.0.2.1] 1", "[::1] 2");
}

static void
test_v1_unknown(void **state)
{
	struct sniff_proxy p;

	memset(&p, 0xaa, sizeof(p));
	assert_int_equal(v1("PROXY UNKNOWN\r\n", &p), 15);
	assert_false(p.has_addr);

	memset(&p, 0xaa, sizeof(p));
	assert_int_equal(v1("PROXY UNKNOWN whatever 1 2 3\r\n", &p), 30);
	assert_false(p.has_addr);
}

/* Each prefix of a valid header asks for more; the whole is taken. */
static void
test_v1_byte_by_byte(void **state)
{
	static const char *const hs[] = {
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 3333\r\n",
		"PROXY TCP6 2001:db8::1 2001:db8::2 40000 3333\r\n",
		"PROXY UNKNOWN\r\n",
	};
	struct sniff_proxy p;

	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		size_t n = strlen(hs[i]);

		for (size_t k = 0; k < n; k++) {
			memset(&p, 0x5a, sizeof(p));
			assert_int_equal(v1_n(hs[i], k, &p), 0);
			/* Not written while incomplete. */
			assert_int_equal(((uint8_t *)&p)[0], 0x5a);
		}
		assert_int_equal(v1_n(hs[i], n, &p), (int)n);
	}
}

/* The header's length is returned; what follows is the caller's. */
static void
test_v1_followed_by_data(void **state)
{
	const char *h = "PROXY TCP4 10.1.2.3 10.0.0.1 1234 3333\r\n"
			"{\"id\":1,\"method\":\"mining.subscribe\"}\n";
	struct sniff_proxy p;

	assert_int_equal(v1(h, &p), 40);
	expect_addrs(&p, "10.1.2.3 1234", "10.0.0.1 3333");
	/* A second header right after is not our business. */
	h = "PROXY UNKNOWN\r\nPROXY UNKNOWN\r\n";
	assert_int_equal(v1(h, &p), 15);
}

/* 107 bytes is the most the spec allows, CRLF included. */
static void
test_v1_length_limit(void **state)
{
	const char *h107 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255."
			   "255.255 ffff:ffff:ffff:ffff:ffff:ffff:ffff:1 "
			   "65535 65535\r\n";
	const char *h108 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255."
			   "255.255 ffff:ffff:ffff:ffff:ffff:ffff:ffff:12 "
			   "65535 65535\r\n";
	char u[200];
	struct sniff_proxy p;

	assert_int_equal(strlen(h107), SNIFF_PROXY_V1_MAX);
	assert_int_equal(v1(h107, &p), SNIFF_PROXY_V1_MAX);
	expect_addrs(&p, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff] 65535",
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:1] 65535");
	for (size_t k = 0; k < SNIFF_PROXY_V1_MAX; k++)
		assert_int_equal(v1_n(h107, k, &p), 0);

	assert_int_equal(strlen(h108), SNIFF_PROXY_V1_MAX + 1);
	assert_int_equal(v1(h108, &p), -1);
	/* Decided as soon as the CR can no longer fit. */
	assert_int_equal(v1_n(h108, SNIFF_PROXY_V1_MAX - 2, &p), 0);
	assert_int_equal(v1_n(h108, SNIFF_PROXY_V1_MAX - 1, &p), -1);

	/* UNKNOWN padded to exactly 107, then 108. */
	memset(u, 'x', sizeof(u));
	memcpy(u, "PROXY UNKNOWN ", 14);
	memcpy(u + SNIFF_PROXY_V1_MAX - 2, "\r\n", 2);
	assert_int_equal(v1_n(u, SNIFF_PROXY_V1_MAX, &p), SNIFF_PROXY_V1_MAX);
	assert_false(p.has_addr);
	memset(u, 'x', sizeof(u));
	memcpy(u, "PROXY UNKNOWN ", 14);
	memcpy(u + SNIFF_PROXY_V1_MAX - 1, "\r\n", 2);
	assert_int_equal(v1_n(u, SNIFF_PROXY_V1_MAX + 1, &p), -1);
	/* Garbage without a line end never waits forever. */
	assert_int_equal(v1_n(u, sizeof(u), &p), -1);
	memset(u + 14, 'x', sizeof(u) - 14);
	assert_int_equal(v1_n(u, SNIFF_PROXY_V1_MAX - 2, &p), 0);
	assert_int_equal(v1_n(u, SNIFF_PROXY_V1_MAX - 1, &p), -1);
	assert_int_equal(v1_n(u, SNIFF_PROXY_V1_MAX, &p), -1);
}

static void
test_v1_malformed(void **state)
{
	static const char *const bad[] = {
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",     /* bare LF */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx",    /* CR without LF */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",       /* family mismatch */
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
		"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		"PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",     /* missing field */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", /* extra field */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",  /* trailing space */
		"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",  /* double space */
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
		"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4\r\n",
		"PROXY \r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY UNKNOWN\n",
		"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
		"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
		"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"GET / HTTP/1.1\r\n",
		"X",
		"PROX\r\n",
	};
	struct sniff_proxy p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		memset(&p, 0x5a, sizeof(p));
		r = v1(bad[i], &p);
		if (r != -1) {
			print_error("case %zu \"%s\": got %d\n", i, bad[i], r);
			fail();
		}
		assert_int_equal(((uint8_t *)&p)[0], 0x5a);
	}
	/* A NUL inside an address. */
	assert_int_equal(v1_n("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33, &p),
	    -1);
}

/* ---- PROXY v2 ---- */

#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

/* A v2 header: signature, ver_cmd, fam, then alen bytes of body. */
static size_t
v2_build(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body,
    size_t alen)
{
	memcpy(out, V2SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(alen >> 8);
	out[15] = (uint8_t)alen;
	if (alen > 0)
		memcpy(out + 16, body, alen);
	return 16 + alen;
}

static const uint8_t v4body[12] = {
	192, 0, 2, 10,       /* src */
	198, 51, 100, 1,     /* dst */
	0xdc, 0x04,          /* 56324 */
	0x0d, 0x05,          /* 3333 */
};

static void
test_v2_inet(void **state)
{
	uint8_t h[64];
	struct sniff_proxy p;
	size_t n = v2_build(h, 0x21, 0x11, v4body, sizeof(v4body));

	assert_int_equal(n, 28);
	assert_int_equal(v2_n(h, n, &p), 28);
	expect_addrs(&p, "192.0.2.10 56324", "198.51.100.1 3333");
}

static void
test_v2_inet6(void **state)
{
	uint8_t body[36] = { 0 }, h[64];
	struct sniff_proxy p;
	size_t n;

	body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = 0xb8;
	body[15] = 1;
	body[16] = 0x20, body[17] = 0x01, body[18] = 0x0d, body[19] = 0xb8;
	body[31] = 2;
	body[32] = 0x9c, body[33] = 0x40; /* 40000 */
	body[34] = 0x0d, body[35] = 0x05;
	n = v2_build(h, 0x21, 0x21, body, sizeof(body));
	assert_int_equal(v2_n(h, n, &p), 52);
	expect_addrs(&p, "[2001:db8::1] 40000", "[2001:db8::2] 3333");
}

static void
test_v2_local_and_unspec(void **state)
{
	uint8_t h[600], junk[496];
	struct sniff_proxy p;
	size_t n;

	/* LOCAL: a balancer's health check; the family is ignored. */
	memset(&p, 0x5a, sizeof(p));
	n = v2_build(h, 0x20, 0x00, NULL, 0);
	assert_int_equal(v2_n(h, n, &p), 16);
	assert_false(p.has_addr);
	n = v2_build(h, 0x20, 0x11, v4body, sizeof(v4body));
	assert_int_equal(v2_n(h, n, &p), 28);
	assert_false(p.has_addr);
	n = v2_build(h, 0x20, 0x31, NULL, 0); /* even UNIX */
	assert_int_equal(v2_n(h, n, &p), 16);
	assert_false(p.has_addr);

	/* PROXY with AF_UNSPEC: keep the real peer. */
	memset(&p, 0x5a, sizeof(p));
	n = v2_build(h, 0x21, 0x00, NULL, 0);
	assert_int_equal(v2_n(h, n, &p), 16);
	assert_false(p.has_addr);

	/* 512 bytes in all is the most we take. */
	memset(junk, 0, sizeof(junk));
	n = v2_build(h, 0x20, 0x00, junk, sizeof(junk));
	assert_int_equal(n, SNIFF_PROXY_V2_MAX);
	assert_int_equal(v2_n(h, n, &p), SNIFF_PROXY_V2_MAX);
}

/* TLVs after the addresses are skipped, and so is what follows. */
static void
test_v2_tlvs_and_extra(void **state)
{
	uint8_t body[12 + 7], h[64];
	struct sniff_proxy p;
	size_t n;

	memcpy(body, v4body, 12);
	/* PP2_TYPE_AUTHORITY "pool" */
	memcpy(body + 12, "\x02\x00\x04pool", 7);
	n = v2_build(h, 0x21, 0x11, body, sizeof(body));
	memcpy(h + n, "{\"id\":1}\n", 9);
	assert_int_equal(v2_n(h, n + 9, &p), 35);
	expect_addrs(&p, "192.0.2.10 56324", "198.51.100.1 3333");
}

static void
test_v2_byte_by_byte(void **state)
{
	uint8_t h[64];
	struct sniff_proxy p;
	size_t n = v2_build(h, 0x21, 0x11, v4body, sizeof(v4body));

	for (size_t k = 0; k < n; k++) {
		memset(&p, 0x5a, sizeof(p));
		assert_int_equal(v2_n(h, k, &p), 0);
		assert_int_equal(((uint8_t *)&p)[0], 0x5a);
	}
	assert_int_equal(v2_n(h, n, &p), (int)n);
}

static void
test_v2_malformed(void **state)
{
	static const struct {
		uint8_t ver_cmd, fam;
		size_t alen;
		const char *why;
	} bad[] = {
		{ 0x11, 0x11, 12, "version 1" },
		{ 0x31, 0x11, 12, "version 3" },
		{ 0x01, 0x11, 12, "version 0" },
		{ 0x22, 0x11, 12, "command 2" },
		{ 0x2f, 0x11, 12, "command 15" },
		{ 0x21, 0x31, 216, "AF_UNIX" },
		{ 0x21, 0x41, 12, "family 4" },
		{ 0x21, 0x12, 12, "DGRAM" },
		{ 0x21, 0x10, 12, "INET UNSPEC protocol" },
		{ 0x21, 0x22, 36, "INET6 DGRAM" },
		{ 0x21, 0x13, 12, "protocol 3" },
		{ 0x21, 0x11, 11, "short INET block" },
		{ 0x21, 0x21, 35, "short INET6 block" },
		{ 0x21, 0x21, 12, "INET block for INET6" },
		{ 0x20, 0x00, 497, "513 bytes" },
		{ 0x21, 0x11, 65535, "64 KiB" },
	};
	uint8_t h[600];
	struct sniff_proxy p;

	memset(h, 0, sizeof(h));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(h, V2SIG, 12);
		h[12] = bad[i].ver_cmd;
		h[13] = bad[i].fam;
		h[14] = (uint8_t)(bad[i].alen >> 8);
		h[15] = (uint8_t)bad[i].alen;
		memset(&p, 0x5a, sizeof(p));
		/* Decided from the fixed part: no need to wait for more. */
		if (v2_n(h, 16, &p) != -1) {
			print_error("%s: accepted\n", bad[i].why);
			fail();
		}
		assert_int_equal(((uint8_t *)&p)[0], 0x5a);
		if (bad[i].alen + 16 <= sizeof(h))
			assert_int_equal(v2_n(h, 16 + bad[i].alen, &p), -1);
	}
	/* Any signature byte wrong is rejected as soon as it is seen. */
	for (size_t i = 0; i < 12; i++) {
		size_t n = v2_build(h, 0x21, 0x11, v4body, sizeof(v4body));

		h[i] ^= 0x40;
		assert_int_equal(v2_n(h, i + 1, &p), -1);
		assert_int_equal(v2_n(h, n, &p), -1);
	}
	/* Decided at the version byte, before the family arrives. */
	v2_build(h, 0x11, 0x11, v4body, sizeof(v4body));
	assert_int_equal(v2_n(h, 13, &p), -1);
	v2_build(h, 0x21, 0x31, v4body, sizeof(v4body));
	assert_int_equal(v2_n(h, 14, &p), -1);
	/* A v1 header is not a v2 header. */
	assert_int_equal(v2_n("PROXY UNKNOWN\r\n", 15, &p), -1);
}

/* ---- HTTP CONNECT ---- */

static void
test_connect_host_port(void **state)
{
	const char *r = "CONNECT pool.example.com:3333 HTTP/1.1\r\n"
			"Host: pool.example.com:3333\r\n"
			"Proxy-Connection: keep-alive\r\n"
			"User-Agent: cgminer/4.12\r\n"
			"\r\n";
	struct sniff_connect c;

	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.host, "pool.example.com");
	assert_int_equal(c.port, 3333);
	assert_true(c.has_port);
	assert_string_equal(c.name, "");

	/* HTTP/1.0, no headers, bare LF line ends. */
	r = "CONNECT 10.0.0.1:65535 HTTP/1.0\n\n";
	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.host, "10.0.0.1");
	assert_int_equal(c.port, 65535);
	assert_true(c.has_port);

	r = "CONNECT a_b-c.d:1 HTTP/1.1\r\n\r\n";
	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.host, "a_b-c.d");
	assert_int_equal(c.port, 1);

	/* Mixed line ends. */
	r = "CONNECT h:2 HTTP/1.1\r\nHost: h\n\r\n";
	assert_int_equal(conn(r, &c), (int)strlen(r));
	r = "CONNECT h:2 HTTP/1.1\nHost: h\r\n\n";
	assert_int_equal(conn(r, &c), (int)strlen(r));
}

static void
test_connect_ipv6(void **state)
{
	const char *r = "CONNECT [2001:db8::1]:3333 HTTP/1.1\r\n\r\n";
	struct sniff_connect c;

	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.host, "2001:db8::1");
	assert_int_equal(c.port, 3333);
	assert_true(c.has_port);
	assert_string_equal(c.name, "");

	r = "CONNECT [::ffff:192.0.2.1]:80/backup HTTP/1.1\r\n\r\n";
	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.host, "::ffff:192.0.2.1");
	assert_int_equal(c.port, 80);
	assert_string_equal(c.name, "backup");
}

static void
test_connect_by_name(void **state)
{
	const char *r = "CONNECT btc-main:0 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sniff_connect c;

	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.name, "btc-main");
	assert_string_equal(c.host, "");
	assert_int_equal(c.port, 0);
	assert_false(c.has_port);

	r = "CONNECT pool.example.com:3333/btc.backup_2 HTTP/1.1\r\n\r\n";
	assert_int_equal(conn(r, &c), (int)strlen(r));
	assert_string_equal(c.host, "pool.example.com");
	assert_int_equal(c.port, 3333);
	assert_true(c.has_port);
	assert_string_equal(c.name, "btc.backup_2");
}

/* Field limits: host 255, name 64. */
static void
test_connect_limits(void **state)
{
	char host[300], name[80], req[600];
	struct sniff_connect c;

	memset(host, 'h', sizeof(host));
	memset(name, 'n', sizeof(name));

	snprintf(req, sizeof(req), "CONNECT %.255s:1 HTTP/1.1\r\n\r\n", host);
	assert_int_equal(conn(req, &c), (int)strlen(req));
	assert_int_equal(strlen(c.host), 255);
	snprintf(req, sizeof(req), "CONNECT %.256s:1 HTTP/1.1\r\n\r\n", host);
	assert_int_equal(conn(req, &c), -1);

	snprintf(req, sizeof(req), "CONNECT h:1/%.64s HTTP/1.1\r\n\r\n", name);
	assert_int_equal(conn(req, &c), (int)strlen(req));
	assert_int_equal(strlen(c.name), 64);
	snprintf(req, sizeof(req), "CONNECT h:1/%.65s HTTP/1.1\r\n\r\n", name);
	assert_int_equal(conn(req, &c), -1);

	snprintf(req, sizeof(req), "CONNECT %.64s:0 HTTP/1.1\r\n\r\n", name);
	assert_int_equal(conn(req, &c), (int)strlen(req));
	assert_int_equal(strlen(c.name), 64);
	snprintf(req, sizeof(req), "CONNECT %.65s:0 HTTP/1.1\r\n\r\n", name);
	assert_int_equal(conn(req, &c), -1);
}

static void
test_connect_byte_by_byte(void **state)
{
	const char *r = "CONNECT [2001:db8::1]:3333/btc HTTP/1.1\r\n"
			"Host: [2001:db8::1]:3333\r\n\r\n";
	size_t n = strlen(r);
	struct sniff_connect c;

	for (size_t k = 0; k < n; k++) {
		memset(&c, 0x5a, sizeof(c));
		assert_int_equal(conn_n(r, k, &c), 0);
		assert_int_equal(((uint8_t *)&c)[0], 0x5a);
	}
	assert_int_equal(conn_n(r, n, &c), (int)n);
	assert_string_equal(c.name, "btc");
}

/* Stratum in the same packet stays with the caller. */
static void
test_connect_followed_by_stratum(void **state)
{
	const char *req = "CONNECT pool:3333 HTTP/1.1\r\nHost: pool\r\n\r\n";
	char buf[256];
	struct sniff_connect c;

	snprintf(buf, sizeof(buf), "%s%s", req,
	    "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n");
	assert_int_equal(conn(buf, &c), (int)strlen(req));
	assert_string_equal(c.host, "pool");
	/* Even if what follows looks like more headers or is binary. */
	snprintf(buf, sizeof(buf), "%s%s", req, "X: y\r\n\r\n");
	assert_int_equal(conn(buf, &c), (int)strlen(req));
	memcpy(buf + strlen(req), "\0\1\2", 3);
	assert_int_equal(conn_n(buf, strlen(req) + 3, &c), (int)strlen(req));
}

/* The whole request is capped at SNIFF_CONNECT_MAX bytes. */
static void
test_connect_oversize(void **state)
{
	const char *line = "CONNECT pool:3333 HTTP/1.1\r\nX: ";
	size_t ln = strlen(line);
	char *buf = xmalloc(SNIFF_CONNECT_MAX + 100);
	struct sniff_connect c;

	/* Exactly 4096: line, header padding, "\r\n\r\n". */
	memcpy(buf, line, ln);
	memset(buf + ln, 'a', SNIFF_CONNECT_MAX - ln - 4);
	memcpy(buf + SNIFF_CONNECT_MAX - 4, "\r\n\r\n", 4);
	assert_int_equal(conn_n(buf, SNIFF_CONNECT_MAX, &c),
	    SNIFF_CONNECT_MAX);
	assert_int_equal(conn_n(buf, SNIFF_CONNECT_MAX + 50, &c),
	    SNIFF_CONNECT_MAX);

	/* One more header byte: 4097. */
	memset(buf + ln, 'a', SNIFF_CONNECT_MAX - ln - 3);
	memcpy(buf + SNIFF_CONNECT_MAX - 3, "\r\n\r\n", 4);
	assert_int_equal(conn_n(buf, SNIFF_CONNECT_MAX + 1, &c), -1);
	/* Known as soon as 4096 bytes hold no end. */
	assert_int_equal(conn_n(buf, SNIFF_CONNECT_MAX - 1, &c), 0);
	assert_int_equal(conn_n(buf, SNIFF_CONNECT_MAX, &c), -1);

	/* Endless headers. */
	memcpy(buf, line, ln);
	for (size_t i = ln; i + 5 < SNIFF_CONNECT_MAX + 100; i += 5)
		memcpy(buf + i, "a\r\nX:", 5);
	assert_int_equal(conn_n(buf, SNIFF_CONNECT_MAX + 90, &c), -1);
	free(buf);
}

static void
test_connect_malformed(void **state)
{
	static const char *const bad[] = {
		"CONNECT pool HTTP/1.1\r\n\r\n",        /* no port */
		"CONNECT pool: HTTP/1.1\r\n\r\n",
		"CONNECT :3333 HTTP/1.1\r\n\r\n",       /* no host */
		"CONNECT pool:65536 HTTP/1.1\r\n\r\n",
		"CONNECT pool:123456 HTTP/1.1\r\n\r\n",
		"CONNECT pool:+80 HTTP/1.1\r\n\r\n",
		"CONNECT pool:-1 HTTP/1.1\r\n\r\n",
		"CONNECT pool:80a HTTP/1.1\r\n\r\n",
		"CONNECT pool:80:81 HTTP/1.1\r\n\r\n",
		"CONNECT 2001:db8::1:80 HTTP/1.1\r\n\r\n", /* unbracketed */
		"CONNECT [2001:db8::1] HTTP/1.1\r\n\r\n",
		"CONNECT [2001:db8::1]80 HTTP/1.1\r\n\r\n",
		"CONNECT [2001:db8::1:80 HTTP/1.1\r\n\r\n",
		"CONNECT [1.2.3.4]:80 HTTP/1.1\r\n\r\n",
		"CONNECT []:80 HTTP/1.1\r\n\r\n",
		"CONNECT [::1]:0 HTTP/1.1\r\n\r\n",     /* name:0 needs a name */
		"CONNECT pool:0/btc HTTP/1.1\r\n\r\n",
		"CONNECT pool:80/ HTTP/1.1\r\n\r\n",
		"CONNECT pool:80/a/b HTTP/1.1\r\n\r\n",
		"CONNECT pool:80/a:b HTTP/1.1\r\n\r\n",
		"CONNECT /btc HTTP/1.1\r\n\r\n",
		"CONNECT po ol:80 HTTP/1.1\r\n\r\n",
		"CONNECT po%6fl:80 HTTP/1.1\r\n\r\n",
		"CONNECT user@pool:80 HTTP/1.1\r\n\r\n",
		"CONNECT http://pool:80 HTTP/1.1\r\n\r\n",
		"CONNECT pool:80 HTTP/2.0\r\n\r\n",
		"CONNECT pool:80 HTTP/1.x\r\n\r\n",
		"CONNECT pool:80 HTTP/1.11\r\n\r\n",
		"CONNECT pool:80 http/1.1\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1 \r\n\r\n",
		"CONNECT pool:80\r\n\r\n",
		"CONNECT pool:80/HTTP/1.1\r\n\r\n",
		"CONNECT pool:80xHTTP/1.1\r\n\r\n",
		"CONNECT  pool:80 HTTP/1.1\r\n\r\n",
		"CONNECT pool:80  HTTP/1.1\r\n\r\n",
		"CONNECT \r\n\r\n",
		"CONNECT\r\n\r\n",
		"connect pool:80 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1\r\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1\r\nHost\r\n\r\n",   /* no colon */
		"CONNECT pool:80 HTTP/1.1\r\n: x\r\n\r\n",    /* no name */
		"CONNECT pool:80 HTTP/1.1\r\nHost : x\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1\r\n Host: x\r\n\r\n", /* folding */
		"CONNECT pool:80 HTTP/1.1\r\nHost: a\rb\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1\r\nHost: a\x01\r\n\r\n",
		"CONNECT pool:80 HTTP/1.1\r\n\r \r\n",
		"X",
		"CONNEC\r\n",
	};
	struct sniff_connect c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		memset(&c, 0x5a, sizeof(c));
		r = conn(bad[i], &c);
		if (r != -1) {
			print_error("case %zu \"%s\": got %d\n", i, bad[i], r);
			fail();
		}
		assert_int_equal(((uint8_t *)&c)[0], 0x5a);
	}
	/* A NUL in the target or in a header. */
	assert_int_equal(conn_n("CONNECT po\0l:80 HTTP/1.1\r\n\r\n", 28, &c),
	    -1);
	assert_int_equal(conn_n("CONNECT [::1\0]:80 HTTP/1.1\r\n\r\n", 30,
	    &c), -1);
	assert_int_equal(conn("CONNECT [::1]:80 HTTP/1.1\r\n\r\n", &c), 29);
	assert_int_equal(conn_n("CONNECT p:80 HTTP/1.1\r\nA: \0\r\n\r\n", 31,
	    &c), -1);
	/* Tabs are fine in a header value. */
	assert_int_equal(conn("CONNECT p:80 HTTP/1.1\r\nA:\tb\r\n\r\n", &c),
	    31);
}

/* ---- HTTP answers ---- */

/* resp is a complete response with the status line want, a correct
 * Content-Length, Connection: close and a one-line body. */
static void
check_error_response(const char *resp, const char *want)
{
	const char *body, *cl;
	unsigned long n;

	assert_non_null(resp);
	assert_int_equal(strncmp(resp, want, strlen(want)), 0);
	assert_int_equal(strncmp(resp + strlen(want), "\r\n", 2), 0);
	assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain\r\n"));
	body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	cl = strstr(resp, "\r\nContent-Length: ");
	assert_non_null(cl);
	assert_true(cl < body);
	n = strtoul(cl + 18, NULL, 10);
	assert_int_equal(n, strlen(body));
	assert_true(n > 1);
	assert_ptr_equal(strchr(body, '\n'), body + n - 1);
}

static void
test_http_answers(void **state)
{
	assert_string_equal(sniff_http_status(200),
	    "HTTP/1.1 200 Connection established\r\n\r\n");
	check_error_response(sniff_http_status(400), "HTTP/1.1 400 Bad Request");
	check_error_response(sniff_http_status(403), "HTTP/1.1 403 Forbidden");
	check_error_response(sniff_http_status(404), "HTTP/1.1 404 Not Found");
	check_error_response(sniff_http_status(503),
	    "HTTP/1.1 503 Service Unavailable");
	assert_null(sniff_http_status(0));
	assert_null(sniff_http_status(500));
	assert_null(sniff_http_status(-1));

	check_error_response(sniff_http_not_stratum(),
	    "HTTP/1.1 400 Bad Request");
	assert_non_null(strstr(sniff_http_not_stratum(), "Stratum"));
	assert_non_null(strstr(sniff_http_not_stratum(), "stratum+tcp://"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_kinds),
		cmocka_unit_test(test_classify_prefixes),
		cmocka_unit_test(test_classify_whitespace_cap),
		cmocka_unit_test(test_classify_stable),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_byte_by_byte),
		cmocka_unit_test(test_v1_followed_by_data),
		cmocka_unit_test(test_v1_length_limit),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v2_inet),
		cmocka_unit_test(test_v2_inet6),
		cmocka_unit_test(test_v2_local_and_unspec),
		cmocka_unit_test(test_v2_tlvs_and_extra),
		cmocka_unit_test(test_v2_byte_by_byte),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_connect_host_port),
		cmocka_unit_test(test_connect_ipv6),
		cmocka_unit_test(test_connect_by_name),
		cmocka_unit_test(test_connect_limits),
		cmocka_unit_test(test_connect_byte_by_byte),
		cmocka_unit_test(test_connect_followed_by_stratum),
		cmocka_unit_test(test_connect_oversize),
		cmocka_unit_test(test_connect_malformed),
		cmocka_unit_test(test_http_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
