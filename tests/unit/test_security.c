/*
 * test_security.c: the token bucket, the shared security table (IP filter,
 * per-IP caps and rates, violations in a window, bans, their end, the ban
 * callback, the API functions, the size bound) and privilege-drop
 * resolution.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "metrics/registry.h"
#include "security/privdrop.h"
#include "security/ratelimit.h"
#include "security/security.h"
#include "util/log.h"

static struct cfg *
load(const char *text)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c = cfg_load_string("t.toml", text, strlen(text), &errs,
	    NULL);

	if (c == NULL)
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
	cfg_diag_free(&errs);
	assert_non_null(c);
	return c;
}

static struct sockaddr_in
v4(const char *ip)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1234);
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6
v6(const char *ip)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(1234);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define SA(x) ((struct sockaddr *)&(x))

static int bans_seen;
static uint8_t last_banned[16];

static void
on_ban(const uint8_t addr[16], void *arg)
{
	(void)arg;
	bans_seen++;
	memcpy(last_banned, addr, 16);
}

static void
test_ratelimit(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 3, 1000);
	/* A full bucket of 3, then empty. */
	assert_true(ratelimit_take(&rl, 10, 3, 1000));
	assert_true(ratelimit_take(&rl, 10, 3, 1000));
	assert_true(ratelimit_take(&rl, 10, 3, 1000));
	assert_false(ratelimit_take(&rl, 10, 3, 1000));
	/* 10/s: one token per 100 ms. */
	assert_false(ratelimit_take(&rl, 10, 3, 1050));
	assert_true(ratelimit_take(&rl, 10, 3, 1100));
	assert_false(ratelimit_take(&rl, 10, 3, 1100));
	/* Never more than the burst, however long the pause. */
	assert_true(ratelimit_full(&rl, 10, 3, 100000));
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(&rl, 10, 3, 100000));
	assert_false(ratelimit_take(&rl, 10, 3, 100000));
	/* A clock going backwards gives nothing. */
	assert_false(ratelimit_take(&rl, 10, 3, 50000));
	/* Rate 0: no limit. */
	assert_true(ratelimit_take(&rl, 0, 3, 0));
}

static void
test_config_defaults(void **state)
{
	struct cfg *c = load("");

	(void)state;
	assert_true(c->security.rate_limit == 100);
	assert_int_equal(c->security.rate_limit_burst, 200);
	assert_int_equal(c->security.max_violations, 10);
	assert_int_equal(c->security.violation_window_ms, 60000);
	assert_int_equal(c->security.ban_duration_ms, 300000);
	assert_int_equal(c->security.max_connections_per_ip, 0);
	assert_true(c->security.connection_rate_per_ip == 0);
	assert_int_equal(c->security.max_auth_failures, 5);
	assert_int_equal(c->security.line_timeout_ms, 30000);
	assert_string_equal(c->server.user, "");
	assert_string_equal(c->server.group, "");
	cfg_free(c);
}

static void
test_ip_cap_and_release(void **state)
{
	struct cfg *c = load("[security]\nmax_connections_per_ip = 2\n"
	    "max_violations = 100\n");
	struct security *sec = security_new(c, on_ban, NULL, NULL, 0);
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
	int64_t t = now_ms();

	(void)state;
	assert_non_null(sec);
	assert_int_equal(security_admit(sec, SA(a), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(a), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(a), t),
	    SECURITY_REFUSE_IP_CONNECTIONS);
	/* Another address is not affected. */
	assert_int_equal(security_admit(sec, SA(b), t), SECURITY_ADMIT);
	security_release(sec, SA(a));
	assert_int_equal(security_admit(sec, SA(a), t), SECURITY_ADMIT);
	/* Releasing more than was taken never underflows. */
	for (int i = 0; i < 5; i++)
		security_release(sec, SA(b));
	assert_int_equal(security_admit(sec, SA(b), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(b), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(b), t),
	    SECURITY_REFUSE_IP_CONNECTIONS);
	security_free(sec);
	cfg_free(c);
}

static void
test_ip_rate(void **state)
{
	struct cfg *c = load("[security]\nconnection_rate_per_ip = 2\n"
	    "connection_burst_per_ip = 3\nmax_violations = 100\n");
	struct security *sec = security_new(c, on_ban, NULL, NULL, 0);
	struct sockaddr_in6 a = v6("2001:db8::5");
	int64_t t = now_ms();

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(security_admit(sec, SA(a), t), SECURITY_ADMIT);
		security_release(sec, SA(a));
	}
	assert_int_equal(security_admit(sec, SA(a), t),
	    SECURITY_REFUSE_IP_RATE);
	/* 2 per second: one more after 500 ms. */
	assert_int_equal(security_admit(sec, SA(a), t + 500), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(a), t + 500),
	    SECURITY_REFUSE_IP_RATE);
	security_free(sec);
	cfg_free(c);
}

static void
test_violations_ban_and_expiry(void **state)
{
	struct cfg *c = load("[security]\nmax_violations = 3\n"
	    "violation_window = \"10s\"\nban_duration = \"2s\"\n");
	struct security *sec = security_new(c, on_ban, NULL, NULL, 0);
	struct sockaddr_in a = v4("198.51.100.7");
	struct sockaddr_in6 mapped = v6("::ffff:198.51.100.7");
	uint8_t key[16];
	int64_t t = now_ms();

	(void)state;
	bans_seen = 0;
	assert_false(security_violation(sec, SA(a), SECURITY_V_RATE_LIMIT,
	    t));
	assert_false(security_violation(sec, SA(a), SECURITY_V_RATE_LIMIT,
	    t + 1));
	/* The window ran out: counting starts again. */
	assert_false(security_violation(sec, SA(a), SECURITY_V_BAD_INPUT,
	    t + 10001));
	assert_false(security_violation(sec, SA(a), SECURITY_V_BAD_INPUT,
	    t + 10002));
	assert_int_equal(bans_seen, 0);
	assert_true(security_violation(sec, SA(a), SECURITY_V_LINE_TIMEOUT,
	    t + 10003));
	assert_int_equal(bans_seen, 1);
	assert_int_equal(security_addr_key(SA(a), key), 0);
	assert_memory_equal(key, last_banned, 16);
	/* The IPv4-mapped form of the same address is the same peer. */
	assert_int_equal(security_admit(sec, SA(mapped), t + 10004),
	    SECURITY_REFUSE_BANNED);
	assert_int_equal(security_admit(sec, SA(a), t + 10004),
	    SECURITY_REFUSE_BANNED);
	/* A banned address stays banned; no second callback. */
	assert_true(security_violation(sec, SA(a), SECURITY_V_RATE_LIMIT,
	    t + 10005));
	assert_int_equal(bans_seen, 1);
	/* ban_duration later it is let in, with a clean slate. */
	assert_int_equal(security_admit(sec, SA(a), t + 12004),
	    SECURITY_ADMIT);
	assert_false(security_violation(sec, SA(a), SECURITY_V_RATE_LIMIT,
	    t + 12005));
	security_free(sec);
	cfg_free(c);
}

static void
test_filter(void **state)
{
	struct cfg *c = load("[security]\nip_filter_mode = \"allow\"\n"
	    "ip_allowlist = [\"10.0.0.0/8\", \"2001:db8::/32\"]\n");
	struct security *sec = security_new(c, NULL, NULL, NULL, 0);
	struct sockaddr_in in = v4("10.1.2.3"), out = v4("192.0.2.1");
	struct sockaddr_in6 in6 = v6("2001:db8::1"), out6 = v6("2001:db9::1");
	int64_t t = now_ms();

	(void)state;
	assert_int_equal(security_admit(sec, SA(in), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(in6), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(out), t),
	    SECURITY_REFUSE_FILTER);
	assert_int_equal(security_admit(sec, SA(out6), t),
	    SECURITY_REFUSE_FILTER);
	security_free(sec);
	cfg_free(c);

	c = load("[security]\nip_filter_mode = \"deny\"\n"
	    "ip_denylist = [\"192.0.2.0/24\", \"2001:db9::/32\"]\n");
	sec = security_new(c, NULL, NULL, NULL, 0);
	assert_int_equal(security_admit(sec, SA(in), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(in6), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(out), t),
	    SECURITY_REFUSE_FILTER);
	assert_int_equal(security_admit(sec, SA(out6), t),
	    SECURITY_REFUSE_FILTER);
	security_free(sec);
	cfg_free(c);
}

static void
test_api_functions(void **state)
{
	struct cfg *c = load("[security]\nban_duration = \"1h\"\n");
	struct security *sec = security_new(c, on_ban, NULL, NULL, 0);
	struct sockaddr_in6 a = v6("2001:db8::42");
	struct sockaddr_in b = v4("203.0.113.9");
	json_t *bans, *e;

	(void)state;
	bans_seen = 0;
	assert_int_equal(security_ban(sec, "not an ip", 0, NULL), -1);
	assert_int_equal(security_ban(sec, "10.0.0.0/8", 0, NULL), -1);
	assert_int_equal(security_ban(sec, "2001:db8::42", 0, NULL), 0);
	assert_int_equal(security_ban(sec, "203.0.113.9", 5000, "abuse desk"),
	    0);
	assert_int_equal(bans_seen, 2);
	assert_int_equal(security_admit(sec, SA(a), now_ms()),
	    SECURITY_REFUSE_BANNED);
	assert_int_equal(security_admit(sec, SA(b), now_ms()),
	    SECURITY_REFUSE_BANNED);
	bans = security_bans_json(sec);
	assert_int_equal(json_array_size(bans), 2);
	e = json_array_get(bans, 0);
	assert_string_equal(json_string_value(json_object_get(e, "ip")),
	    "2001:db8::42");
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
	    "manual");
	assert_int_equal(json_integer_value(json_object_get(e, "expires_in")),
	    3600);
	assert_int_equal(json_integer_value(json_object_get(e, "violations")),
	    0);
	assert_int_equal(strlen(json_string_value(json_object_get(e,
	    "since"))), 20);
	e = json_array_get(bans, 1);
	assert_string_equal(json_string_value(json_object_get(e, "ip")),
	    "203.0.113.9");
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
	    "abuse desk");
	assert_int_equal(json_integer_value(json_object_get(e, "expires_in")),
	    5);
	json_decref(bans);
	assert_int_equal(security_unban(sec, "203.0.113.9"), 0);
	assert_int_equal(security_unban(sec, "203.0.113.9"), 1);
	assert_int_equal(security_unban(sec, "::ffff:203.0.113.9"), 1);
	assert_int_equal(security_unban(sec, "bogus"), -1);
	assert_int_equal(security_admit(sec, SA(b), now_ms()),
	    SECURITY_ADMIT);
	bans = security_bans_json(sec);
	assert_int_equal(json_array_size(bans), 1);
	json_decref(bans);
	security_free(sec);
	cfg_free(c);
}

static void
test_metrics(void **state)
{
	struct cfg *c = load("[security]\nmax_violations = 2\n"
	    "max_connections_per_ip = 1\n");
	struct security *sec = security_new(c, NULL, NULL, NULL, 0);
	struct metrics_registry *reg = metrics_registry_new();
	struct sockaddr_in a = v4("192.0.2.9");
	int64_t t = now_ms();
	char *text;

	(void)state;
	assert_int_equal(security_metrics_register(sec, reg), 0);
	assert_int_equal(security_admit(sec, SA(a), t), SECURITY_ADMIT);
	assert_int_equal(security_admit(sec, SA(a), t),
	    SECURITY_REFUSE_IP_CONNECTIONS);
	assert_true(security_violation(sec, SA(a), SECURITY_V_PROTOCOL, t));
	assert_int_equal(security_admit(sec, SA(a), t),
	    SECURITY_REFUSE_BANNED);
	security_count_close(sec, SECURITY_CLOSE_BANNED);
	text = metrics_render(reg, NULL);
	assert_non_null(strstr(text,
	    "loka_security_violations_total{kind=\"protocol\"} 1\n"));
	assert_non_null(strstr(text,
	    "loka_security_violations_total{kind=\"ip_connections\"} 1\n"));
	assert_non_null(strstr(text,
	    "loka_security_refused_total{reason=\"banned\"} 1\n"));
	assert_non_null(strstr(text,
	    "loka_security_refused_total{reason=\"ip_connections\"} 1\n"));
	assert_non_null(strstr(text,
	    "loka_security_sessions_closed_total{reason=\"banned\"} 1\n"));
	assert_non_null(strstr(text, "loka_bans_active 1\n"));
	assert_non_null(strstr(text, "loka_bans_total 1\n"));
	free(text);
	metrics_registry_free(reg);
	security_free(sec);
	cfg_free(c);
}

/* The table never grows past its bound, and bans survive eviction of
 * idle entries. */
static void
test_bounded(void **state)
{
	struct cfg *c = load("[server]\nmax_connections = 1\n"
	    "[security]\nmax_violations = 1000\n");
	struct security *sec = security_new(c, NULL, NULL, NULL, 0);
	int64_t t = now_ms();
	struct sockaddr_in6 a;
	char ip[64];
	json_t *bans;

	(void)state;
	assert_int_equal(security_ban(sec, "2001:db8:ffff::1", 0, NULL), 0);
	for (unsigned i = 0; i < SECURITY_IDLE_ENTRIES * 2; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", i >> 16,
		    i & 0xffff);
		a = v6(ip);
		security_violation(sec, SA(a), SECURITY_V_PROTOCOL, t);
	}
	bans = security_bans_json(sec);
	assert_int_equal(json_array_size(bans), 1);
	json_decref(bans);
	security_free(sec);
	cfg_free(c);
}

static void
test_privdrop_prepare(void **state)
{
	struct privdrop pd;
	char err[256];

	(void)state;
	assert_int_equal(privdrop_prepare("", "", &pd, err, sizeof(err)), 0);
	assert_false(pd.wanted);
	assert_int_equal(privdrop_prepare("root", "", &pd, err, sizeof(err)),
	    0);
	assert_true(pd.wanted);
	assert_int_equal(pd.uid, 0);
	assert_int_equal(privdrop_prepare("no-such-user-loka", "", &pd, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "[server] user \"no-such-user-loka\""));
	assert_int_equal(privdrop_prepare("root", "no-such-group-loka", &pd,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such group"));
	assert_int_equal(privdrop_prepare("", "root", &pd, err, sizeof(err)),
	    -1);
	/* Not root: nothing to drop, and no failure. */
	if (geteuid() != 0) {
		assert_int_equal(privdrop_prepare("root", "", &pd, err,
		    sizeof(err)), 0);
		assert_int_equal(privdrop_apply(&pd), 0);
	}
}

/* Every secret string key of a section is redacted from the logs, not
 * only the pool passwords cfg_register_secrets() started with. */
static void
test_secrets_redacted(void **state)
{
	char text[256], buf[1024];
	const char *section = NULL, *key = NULL;
	struct cfg *c;
	int fds[2];
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < cfg_nsections && key == NULL; i++)
		for (size_t j = 0; j < cfg_sections[i].nkeys; j++)
			if (!cfg_sections[i].is_array &&
			    (cfg_sections[i].keys[j].flags & CFG_F_SECRET) &&
			    cfg_sections[i].keys[j].type == CFG_T_STRING) {
				section = cfg_sections[i].name;
				key = cfg_sections[i].keys[j].name;
				break;
			}
	if (key == NULL)
		skip();
	snprintf(text, sizeof(text), "[%s]\n%s = \"Zq9-secret-value\"\n",
	    section, key);
	c = load(text);
	cfg_register_secrets(c);
	assert_int_equal(pipe(fds), 0);
	log_set_fd(fds[1]);
	log_info("test", "the value is Zq9-secret-value, really");
	log_set_fd(2);
	n = read(fds[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_null(strstr(buf, "Zq9-secret-value"));
	assert_non_null(strstr(buf, "***"));
	close(fds[0]);
	close(fds[1]);
	log_clear_secrets();
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_ip_cap_and_release),
		cmocka_unit_test(test_ip_rate),
		cmocka_unit_test(test_violations_ban_and_expiry),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_api_functions),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_privdrop_prepare),
		cmocka_unit_test(test_secrets_redacted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
