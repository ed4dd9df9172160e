/*
 * test_cidr.c: CIDR sets for trusted proxies and IP filters: IPv4, IPv6,
 * IPv4-mapped peers, prefix boundaries, /0, host bits and bad entries.
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
#include <sys/un.h>

#include "net/cidr.h"

/* A peer address from text: IPv4 as sockaddr_in, else sockaddr_in6. */
static struct sockaddr_storage
peer(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') == NULL) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(4028);
		assert_int_equal(inet_pton(AF_INET, text, &s->sin_addr), 1);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(4028);
		assert_int_equal(inet_pton(AF_INET6, text, &s->sin6_addr), 1);
	}
	return ss;
}

static bool
has(const struct cidr_set *s, const char *text)
{
	struct sockaddr_storage ss = peer(text);

	return cidr_set_contains(s, (const struct sockaddr *)&ss);
}

/* A set of one entry, which must parse. */
static void
one(struct cidr_set *s, const char *entry)
{
	char err[256] = "";

	if (cidr_set_parse(s, &entry, 1, err, sizeof(err)) != 0) {
		print_error("\"%s\": %s\n", entry, err);
		fail();
	}
	assert_int_equal(s->n, 1);
}

/* Each address in yes is in the one-entry set, each in no is not. */
static void
expect(const char *entry, const char *const *yes, const char *const *no)
{
	struct cidr_set s;

	one(&s, entry);
	for (; *yes != NULL; yes++)
		if (!has(&s, *yes)) {
			print_error("%s should contain %s\n", entry, *yes);
			fail();
		}
	for (; *no != NULL; no++)
		if (has(&s, *no)) {
			print_error("%s should not contain %s\n", entry, *no);
			fail();
		}
	cidr_set_free(&s);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

static void
test_ipv4(void **state)
{
	expect("10.0.0.0/8", LIST("10.0.0.0", "10.1.2.3", "10.255.255.255"),
	    LIST("9.255.255.255", "11.0.0.0", "110.0.0.1", "2001:db8::1"));
	expect("192.168.0.0/23", LIST("192.168.0.1", "192.168.1.255"),
	    LIST("192.168.2.0", "192.167.255.255"));
	expect("203.0.113.64/26", LIST("203.0.113.64", "203.0.113.127"),
	    LIST("203.0.113.63", "203.0.113.128"));
	expect("1.2.3.4/31", LIST("1.2.3.4", "1.2.3.5"),
	    LIST("1.2.3.3", "1.2.3.6"));
	expect("128.0.0.0/1", LIST("128.0.0.0", "255.255.255.255"),
	    LIST("127.255.255.255", "0.0.0.0"));
}

static void
test_ipv6(void **state)
{
	expect("2001:db8::/32",
	    LIST("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
	    LIST("2001:db9::", "2001:db7:ffff::1", "10.0.0.1", "::"));
	expect("2001:db8:0:1::/65",
	    LIST("2001:db8:0:1::1", "2001:db8:0:1:7fff:ffff:ffff:ffff"),
	    LIST("2001:db8:0:1:8000::", "2001:db8:0:2::"));
	expect("fe80::/10", LIST("fe80::1", "febf::1"),
	    LIST("fec0::1", "fe7f::1"));
	expect("2001:db8::1/127", LIST("2001:db8::", "2001:db8::1"),
	    LIST("2001:db8::2"));
}

/* A bare address is a /32 or /128. */
static void
test_bare_addresses(void **state)
{
	expect("192.0.2.1", LIST("192.0.2.1", "::ffff:192.0.2.1"),
	    LIST("192.0.2.0", "192.0.2.2", "::192.0.2.1"));
	expect("2001:db8::7", LIST("2001:db8::7"),
	    LIST("2001:db8::6", "2001:db8::8", "2001:db8::7:0"));
	expect("::1", LIST("::1"), LIST("::", "127.0.0.1", "::2"));
}

/* A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d. */
static void
test_ipv4_mapped(void **state)
{
	/* IPv4 entries match mapped peers... */
	expect("10.0.0.0/8", LIST("::ffff:10.0.0.1", "::ffff:10.255.0.0"),
	    LIST("::ffff:11.0.0.1", "::10.0.0.1", "64:ff9b::10.0.0.1"));
	/* ...and mapped entries match IPv4 peers. */
	expect("::ffff:10.0.0.0/104", LIST("10.0.0.1", "::ffff:10.9.9.9"),
	    LIST("11.0.0.1", "::10.0.0.1"));
	expect("::ffff:0:0/96", LIST("1.2.3.4", "255.255.255.255"),
	    LIST("2001:db8::1", "::1"));
}

/* /0 entries: all of IPv4, or everything. */
static void
test_zero_prefix(void **state)
{
	expect("0.0.0.0/0",
	    LIST("0.0.0.0", "1.2.3.4", "255.255.255.255", "::ffff:8.8.8.8"),
	    LIST("2001:db8::1", "::1", "::"));
	expect("::/0", LIST("::", "::1", "2001:db8::1", "1.2.3.4",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), NONE);
	/* Host bits under /0 are ignored too. */
	expect("10.1.2.3/0", LIST("200.1.1.1"), LIST("::1"));
}

/* Host bits past the prefix are accepted and masked. */
static void
test_host_bits(void **state)
{
	expect("10.0.0.1/8", LIST("10.200.0.0", "10.0.0.1"),
	    LIST("11.0.0.1"));
	expect("192.168.1.77/24", LIST("192.168.1.0", "192.168.1.255"),
	    LIST("192.168.2.1"));
	expect("2001:db8:1234::1/32", LIST("2001:db8::", "2001:db8:ffff::"),
	    LIST("2001:db9::"));
	expect("192.168.1.255/23", LIST("192.168.0.0"), LIST("192.168.2.0"));
}

static void
test_several_entries(void **state)
{
	const char *e[] = { "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" };
	struct cidr_set s;

	assert_int_equal(cidr_set_parse(&s, e, 3, NULL, 0), 0);
	assert_int_equal(s.n, 3);
	assert_true(has(&s, "10.9.8.7"));
	assert_true(has(&s, "2001:db8::5"));
	assert_true(has(&s, "192.0.2.1"));
	assert_true(has(&s, "::ffff:192.0.2.1"));
	assert_false(has(&s, "192.0.2.2"));
	assert_false(has(&s, "172.16.0.1"));
	cidr_set_free(&s);
	assert_null(s.v);
	assert_int_equal(s.n, 0);
	cidr_set_free(&s); /* twice is harmless */
}

/* A few hundred entries, as an IP filter might hold. */
static void
test_many_entries(void **state)
{
	char text[300][32];
	const char *e[300];
	struct cidr_set s;
	char addr[32];

	for (int i = 0; i < 300; i++) {
		snprintf(text[i], sizeof(text[i]), "10.%d.%d.0/24", i / 256,
		    i % 256);
		e[i] = text[i];
	}
	assert_int_equal(cidr_set_parse(&s, e, 300, NULL, 0), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.99", i / 256, i % 256);
		assert_true(has(&s, addr));
	}
	assert_false(has(&s, "10.1.44.1")); /* entry 300 would be 10.1.44 */
	assert_true(has(&s, "10.1.43.1"));
	cidr_set_free(&s);
}

static void
test_empty_and_odd_inputs(void **state)
{
	struct cidr_set s;
	struct sockaddr_un un;
	struct sockaddr_storage ss = peer("10.0.0.1");

	assert_int_equal(cidr_set_parse(&s, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 0);
	assert_false(has(&s, "10.0.0.1"));
	assert_false(has(&s, "::"));
	cidr_set_free(&s);
	cidr_set_free(NULL);

	one(&s, "::/0");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_false(cidr_set_contains(&s, (const struct sockaddr *)&un));
	assert_false(cidr_set_contains(&s, NULL));
	assert_false(cidr_set_contains(NULL, (const struct sockaddr *)&ss));
	cidr_set_free(&s);
}

static void
test_bad_entries(void **state)
{
	static const char *const bad[] = {
		"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/+8",
		"10.0.0.0/-1", "10.0.0.0/ 8", " 10.0.0.0", "10.0.0.0 ",
		"10.0.0.0/8 ", "10.0.0", "10.0.0.0.0", "256.0.0.0/8",
		"pool.example.com", "localhost", "10.0.0.0/8/8",
		"10.0.0.0/0008", "10.0.0.0/8x", "10.0.0.0/0x8",
		"fe80::1%eth0", "[::1]", "[::1]/128", "::1/", "/8", "/",
		"1::2::3", "2001:db8::/32/", "10.0.0.0\t/8",
		"0000:0000:0000:0000:0000:ffff:255.255.255.255x/128",
	};
	struct cidr_set s;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *e[] = { "10.0.0.0/8", bad[i] };

		err[0] = '\0';
		s.v = (void *)&s; /* garbage: parse must not read it */
		s.n = 99;
		if (cidr_set_parse(&s, e, 2, err, sizeof(err)) != -1) {
			print_error("\"%s\" accepted\n", bad[i]);
			fail();
		}
		/* Left empty, and the message names the entry. */
		assert_null(s.v);
		assert_int_equal(s.n, 0);
		if (bad[i][0] != '\0' && strstr(err, bad[i]) == NULL) {
			print_error("\"%s\": err \"%s\"\n", bad[i], err);
			fail();
		}
		assert_false(has(&s, "10.0.0.1"));
		/* No message buffer is fine too. */
		assert_int_equal(cidr_set_parse(&s, e, 2, NULL, 0), -1);
	}
}

static void
test_error_messages(void **state)
{
	const char *e[] = { "10.0.0.0/33" };
	const char *nul[] = { NULL };
	struct cidr_set s;
	char err[256], small[8];

	assert_int_equal(cidr_set_parse(&s, e, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "\"10.0.0.0/33\": prefix length must be 0-32");
	e[0] = "::/200";
	assert_int_equal(cidr_set_parse(&s, e, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "\"::/200\": prefix length must be 0-128");
	e[0] = "nope";
	assert_int_equal(cidr_set_parse(&s, e, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "\"nope\" is not an IP address or CIDR block "
	    "(like 10.0.0.0/8 or 2001:db8::/32)");
	/* Truncated, still terminated. */
	assert_int_equal(cidr_set_parse(&s, e, 1, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(cidr_set_parse(&s, nul, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "entry 1 is missing");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bare_addresses),
		cmocka_unit_test(test_ipv4_mapped),
		cmocka_unit_test(test_zero_prefix),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_several_entries),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_empty_and_odd_inputs),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_error_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
