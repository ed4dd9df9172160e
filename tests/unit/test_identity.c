/*
 * test_identity.c: miner logins rewritten onto the pool account.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "stratum/identity.h"

static void
check(const char *login, const char *sep1, const char *sep2,
    const char *pool_user, const char *user, const char *worker,
    const char *pool_name)
{
	struct identity id;

	assert_int_equal(identity_rewrite(login, sep1, sep2, pool_user, &id),
	    0);
	assert_string_equal(id.user, user);
	assert_string_equal(id.worker, worker);
	assert_string_equal(id.pool_name, pool_name);
}

static void
test_rewrite(void **state)
{
	(void)state;
	/* The example of the specification. */
	check("bc1qTestAddr.rig1", ".", "_", "acct", "bc1qTestAddr", "rig1",
	    "acct.bc1qTestAddr_rig1");
	/* Case is preserved (Base58). */
	check("1BoatSLRHtKNngkdXEeobR76b53LETtpyT.Rig-A", ".", "_", "Acct",
	    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "Rig-A",
	    "Acct.1BoatSLRHtKNngkdXEeobR76b53LETtpyT_Rig-A");
	/* No worker -> default; empty worker -> default. */
	check("alice", ".", "_", "acct", "alice", "default",
	    "acct.alice_default");
	check("alice.", ".", "_", "acct", "alice", "default",
	    "acct.alice_default");
	/* Split at the first sep1; the rest is the worker, filtered. */
	check("alice.rack.7", ".", "_", "acct", "alice", "rack7",
	    "acct.alice_rack7");
	check("alice.r@ck #1!", ".", "_", "acct", "alice", "rck1",
	    "acct.alice_rck1");
	check("alice.@@@", ".", "_", "acct", "alice", "default",
	    "acct.alice_default");
	/* Other separators, multi-character ones too. */
	check("bob+s9", "+", "-", "acct", "bob", "s9", "acct.bob-s9");
	check("bob::s9", "::", "", "acct", "bob", "s9", "acct.bobs9");
	/* No pool account: the login goes through unchanged. */
	check("bc1qTestAddr.rig1", ".", "_", "", "bc1qTestAddr", "rig1",
	    "bc1qTestAddr.rig1");
}

static void
test_refused(void **state)
{
	struct identity id;
	char big[600];

	(void)state;
	assert_int_equal(identity_rewrite("", ".", "_", "a", &id), -1);
	assert_int_equal(identity_rewrite(".rig", ".", "_", "a", &id), -1);
	assert_int_equal(identity_rewrite("a b.rig", ".", "_", "a", &id), -1);
	assert_int_equal(identity_rewrite("a\nb", ".", "_", "a", &id), -1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(identity_rewrite(big, ".", "_", "a", &id), -1);
	big[IDENTITY_USER_MAX + 1] = '\0';
	assert_int_equal(identity_rewrite(big, ".", "_", "a", &id), -1);
	big[IDENTITY_USER_MAX] = '\0';
	assert_int_equal(identity_rewrite(big, ".", "_", "a", &id), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
