/*
 * test_config.c: loading loka-stratum.toml: defaults, errors with file, line
 * and key, hints, substitution, environment overrides, secret files and
 * masking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"

static struct cfg *
load(const char *text, struct cfg_diag *errs)
{
	return cfg_load_string("t.toml", text, strlen(text), errs, NULL);
}

/* The single error expected from text, which must fail to load. */
static void
expect_error(const char *text, const char *want)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c = load(text, &errs);

	if (c != NULL || errs.n != 1 || strcmp(errs.lines[0], want) != 0) {
		print_error("text:\n%s\nwant: %s\n", text, want);
		for (size_t i = 0; i < errs.n; i++)
			print_error("got:  %s\n", errs.lines[i]);
		fail();
	}
	cfg_diag_free(&errs);
}

/* text must fail with an error containing want. */
static void
expect_error_part(const char *text, const char *want)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c = load(text, &errs);

	assert_null(c);
	assert_true(errs.n >= 1);
	if (strstr(errs.lines[0], want) == NULL) {
		print_error("want part: %s\ngot: %s\n", want, errs.lines[0]);
		fail();
	}
	cfg_diag_free(&errs);
}

static char *
print_to_string(const struct cfg *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cfg_print(c, f);
	fclose(f);
	return buf;
}

static void
test_defaults(void **state)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c = cfg_load_file(NULL, &errs, NULL);

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->server.bind.n, 1);
	assert_string_equal(c->server.bind.v[0], "0.0.0.0:3333");
	assert_int_equal(c->server.max_connections, 1000);
	assert_int_equal(c->server.connection_timeout_ms, 30000);
	assert_string_equal(c->database.url, "sqlite://loka.db");
	assert_true(c->metrics.enabled);
	assert_string_equal(c->metrics.bind, "127.0.0.1:9090");
	assert_int_equal(c->logging.level, LOG_INFO);
	assert_int_equal(c->logging.format, LOG_FORMAT_TEXT);
	assert_int_equal(c->security.ban_duration_ms, 300000);
	assert_int_equal(c->security.ip_filter_mode, CFG_IP_FILTER_NONE);
	assert_true(c->monitoring.cpu_threshold == 80.0);
	assert_int_equal(c->npools, 0);
	cfg_free(c);
}

static void
test_full_file(void **state)
{
	static const char text[] =
	    "[server]\n"
	    "bind = [\"0.0.0.0:3333\", \"[::]:3334\"]\n"
	    "max_connections = 5000\n"
	    "connection_timeout = \"45s\"\n"
	    "\n"
	    "[[pools]]\n"
	    "name = \"main\"\n"
	    "url = \"stratum+tcp://pool.example.com:3333\"\n"
	    "username = \"acct\"\n"
	    "password = \"hunter22\"\n"
	    "priority = 0\n"
	    "\n"
	    "[[pools]]\n"
	    "name = \"backup\"\n"
	    "url = \"stratum+tcp://[2001:db8::1]:443\"\n"
	    "username = \"acct2\"\n"
	    "sep1 = \"+\"\n"
	    "sep2 = \"-\"\n"
	    "priority = 1\n"
	    "enabled = false\n"
	    "\n"
	    "[database]\n"
	    "url = \"postgresql://loka:pw@db1,db2/loka\"\n"
	    "[logging]\n"
	    "level = \"debug\"\n"
	    "format = \"json\"\n"
	    "[security]\n"
	    "ip_filter_mode = \"allow\"\n"
	    "ip_allowlist = [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"]\n"
	    "ban_duration = 600\n"
	    "rate_limit = 12.5\n";
	struct cfg_diag errs = { 0 };
	struct cfg *c = load(text, &errs);

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->server.bind.n, 2);
	assert_string_equal(c->server.bind.v[1], "[::]:3334");
	assert_int_equal(c->server.max_connections, 5000);
	assert_int_equal(c->server.connection_timeout_ms, 45000);
	assert_int_equal(c->npools, 2);
	assert_string_equal(c->pools[0].name, "main");
	assert_string_equal(c->pools[0].host, "pool.example.com");
	assert_int_equal(c->pools[0].port, 3333);
	assert_string_equal(c->pools[0].username, "acct");
	assert_string_equal(c->pools[0].password, "hunter22");
	assert_string_equal(c->pools[0].sep1, ".");
	assert_string_equal(c->pools[0].sep2, "_");
	assert_true(c->pools[0].enabled);
	assert_int_equal(c->pools[0].line, 6);
	assert_string_equal(c->pools[1].host, "2001:db8::1");
	assert_int_equal(c->pools[1].port, 443);
	assert_string_equal(c->pools[1].sep1, "+");
	assert_string_equal(c->pools[1].sep2, "-");
	assert_false(c->pools[1].enabled);
	assert_int_equal(c->pools[1].priority, 1);
	assert_int_equal(c->logging.level, LOG_DEBUG);
	assert_int_equal(c->logging.format, LOG_FORMAT_JSON);
	assert_int_equal(c->security.ip_filter_mode, CFG_IP_FILTER_ALLOW);
	assert_int_equal(c->security.ip_allowlist.n, 3);
	assert_int_equal(c->security.ban_duration_ms, 600000);
	assert_true(c->security.rate_limit == 12.5);
	cfg_free(c);
}

static void
test_error_names_file_line_key(void **state)
{
	(void)state;
	expect_error("[server]\nbind = \"0.0.0.0:3333\"\nmax_connections = 0\n",
	    "t.toml:3: [server] max_connections: must be between 1 and "
	    "1000000, got 0");
	expect_error("[server]\nmax_connections = true\n",
	    "t.toml:2: [server] max_connections: must be an integer, got "
	    "bool");
	expect_error("[logging]\nlevel = \"loud\"\n",
	    "t.toml:2: [logging] level: must be one of \"error\", \"warn\", "
	    "\"info\", \"debug\", \"trace\", got \"loud\"");
	expect_error("[server]\nconnection_timeout = \"soon\"\n",
	    "t.toml:2: [server] connection_timeout: must be a duration "
	    "(seconds, or a number with ms, s, m, h or d), got \"soon\"");
	expect_error("[server]\nconnection_timeout = \"2h\"\n",
	    "t.toml:2: [server] connection_timeout: must be between 1s and "
	    "1h, got \"2h\"");
	expect_error("\n\n[security]\nip_denylist = [\"10.0.0.0/33\"]\n",
	    "t.toml:4: [security] ip_denylist: \"10.0.0.0/33\": prefix "
	    "length must be 0-32");
	expect_error("[metrics]\nbind = \"localhost\"\n",
	    "t.toml:2: [metrics] bind: expected \"host:port\", got "
	    "\"localhost\" (no port)");
	expect_error("[database]\nurl = \"mysql://x\"\n",
	    "t.toml:2: [database] url: unsupported database URL (expected "
	    "sqlite://PATH or postgresql://user@host/db)");
}

static void
test_toml_syntax_error(void **state)
{
	struct cfg_diag errs = { 0 };

	(void)state;
	assert_null(load("[server]\nbind = \"0.0.0.0:3333\n", &errs));
	assert_int_equal(errs.n, 1);
	/* file:line:col: message from the TOML parser */
	assert_true(strncmp(errs.lines[0], "t.toml:2:", 9) == 0);
	cfg_diag_free(&errs);
}

static void
test_hints(void **state)
{
	(void)state;
	expect_error("[server]\nmax_conections = 5\n",
	    "t.toml:2: [server] max_conections: unknown key (did you mean "
	    "max_connections?)");
	expect_error("[sever]\nbind = \"0.0.0.0:1\"\n",
	    "t.toml:1: sever: unknown section (did you mean [server]?)");
	expect_error("[server]\nlevel = \"debug\"\n",
	    "t.toml:2: [server] level: unknown key (it belongs in "
	    "[logging])");
	expect_error("max_connections = 5\n",
	    "t.toml:1: max_connections: key outside any section (it belongs "
	    "in [server])");
	expect_error("[pools]\nname = \"x\"\n",
	    "t.toml:1: [pools]: pools are written as [[pools]] (one entry per "
	    "pool), not [pools]");
	expect_error("[[pools]]\nname = \"a\"\nurl = \"stratum+tcp://h:1\"\n"
	    "pasword = \"x\"\n",
	    "t.toml:4: [[pools]] #1 pasword: unknown key (did you mean "
	    "password?)");
}

static void
test_all_errors_reported(void **state)
{
	struct cfg_diag errs = { 0 };

	(void)state;
	assert_null(load("[server]\nmax_connections = -1\n"
	    "[logging]\nformat = \"xml\"\n[metrics]\nenabled = 3\n", &errs));
	assert_int_equal(errs.n, 3);
	cfg_diag_free(&errs);
}

static void
test_substitution(void **state)
{
	static const char text[] =
	    "[server]\nmax_connections = \"${LOKA_T_MAXC:-1000}\"\n"
	    "[metrics]\nenabled = \"${LOKA_T_METRICS:-false}\"\n"
	    "bind = \"${LOKA_T_HOST:-127.0.0.1}:${LOKA_T_PORT}\"\n";
	struct cfg_diag errs = { 0 };
	struct cfg *c;

	(void)state;
	setenv("LOKA_T_PORT", "9191", 1);
	unsetenv("LOKA_T_MAXC");
	c = load(text, &errs);
	assert_non_null(c);
	assert_int_equal(c->server.max_connections, 1000);
	assert_false(c->metrics.enabled);
	assert_string_equal(c->metrics.bind, "127.0.0.1:9191");
	cfg_free(c);

	setenv("LOKA_T_MAXC", "1234", 1);
	setenv("LOKA_T_METRICS", "true", 1);
	c = load(text, &errs);
	assert_non_null(c);
	assert_int_equal(c->server.max_connections, 1234);
	assert_true(c->metrics.enabled);
	cfg_free(c);

	setenv("LOKA_T_MAXC", "lots", 1);
	expect_error(text, "t.toml:2: [server] max_connections: must be an "
	    "integer, got \"lots\"");
	unsetenv("LOKA_T_MAXC");
	unsetenv("LOKA_T_METRICS");

	unsetenv("LOKA_T_PORT");
	expect_error(text, "t.toml:5: [metrics] bind: environment variable "
	    "LOKA_T_PORT is not set (write ${LOKA_T_PORT:-default} to give a "
	    "default)");
	expect_error("[[pools]]\nname = \"${oops\"\nurl = \"stratum+tcp://h:1\"\n",
	    "t.toml:2: [[pools]] #1 name: unterminated '${' (expected "
	    "${NAME} or ${NAME:-default})");

	/* $${ is a literal ${ */
	c = load("[[pools]]\nname = \"p\"\nurl = \"stratum+tcp://h:1\"\n"
	    "password = \"a$${b}\"\n", &errs);
	assert_non_null(c);
	assert_string_equal(c->pools[0].password, "a${b}");
	cfg_free(c);
}

static void
test_env_override(void **state)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c;

	(void)state;
	setenv("LOKA_SERVER_MAX_CONNECTIONS", "777", 1);
	setenv("LOKA_LOGGING_FORMAT", "json", 1);
	setenv("LOKA_SERVER_BIND", "127.0.0.1:1, 127.0.0.2:2", 1);
	c = load("[server]\nmax_connections = 5\n", &errs);
	assert_non_null(c);
	assert_int_equal(c->server.max_connections, 777);
	assert_int_equal(c->logging.format, LOG_FORMAT_JSON);
	assert_int_equal(c->server.bind.n, 2);
	assert_string_equal(c->server.bind.v[1], "127.0.0.2:2");
	cfg_free(c);

	setenv("LOKA_SERVER_MAX_CONNECTIONS", "0", 1);
	expect_error("", "environment LOKA_SERVER_MAX_CONNECTIONS: [server] "
	    "max_connections: must be between 1 and 1000000, got 0");
	unsetenv("LOKA_SERVER_MAX_CONNECTIONS");
	unsetenv("LOKA_LOGGING_FORMAT");
	unsetenv("LOKA_SERVER_BIND");
}

static void
test_env_typo_warns(void **state)
{
	struct cfg_diag errs = { 0 }, warns = { 0 };
	struct cfg *c;
	int found = 0;

	(void)state;
	setenv("LOKA_SERVER_MAX_CONNECTION", "5", 1);
	c = cfg_load_string("t.toml", "", 0, &errs, &warns);
	assert_non_null(c);
	for (size_t i = 0; i < warns.n; i++)
		found |= strstr(warns.lines[i], "LOKA_SERVER_MAX_CONNECTION "
		    "matches no setting of [server]") != NULL;
	assert_true(found);
	unsetenv("LOKA_SERVER_MAX_CONNECTION");
	cfg_free(c);
	cfg_diag_free(&warns);
}

static char *
write_temp(const char *content)
{
	char *path = strdup("/tmp/loka-test-secret-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void
test_secret_files(void **state)
{
	char *path = write_temp("s3cret-pass\r\n\n");
	char text[512];
	struct cfg_diag errs = { 0 };
	struct cfg *c;

	(void)state;
	snprintf(text, sizeof(text), "[[pools]]\nname = \"p\"\n"
	    "url = \"stratum+tcp://h:1\"\npassword_file = \"%s\"\n", path);
	c = load(text, &errs);
	assert_non_null(c);
	assert_string_equal(c->pools[0].password, "s3cret-pass");
	cfg_free(c);

	snprintf(text, sizeof(text), "[[pools]]\nname = \"p\"\n"
	    "url = \"stratum+tcp://h:1\"\npassword = \"x\"\n"
	    "password_file = \"%s\"\n", path);
	expect_error(text, "t.toml:5: [[pools]] #1 password_file: password "
	    "is set too (line 4); use one");

	expect_error_part("[database]\nurl_file = \"/nonexistent/loka-db\"\n",
	    "t.toml:2: [database] url_file: cannot read /nonexistent/loka-db: "
	    "No such file or directory");

	/* The environment form, for any string setting. */
	unlink(path);
	free(path);
	path = write_temp("postgresql://loka:dbpw@h/loka\n");
	setenv("LOKA_DATABASE_URL_FILE", path, 1);
	c = load("", &errs);
	assert_non_null(c);
	assert_string_equal(c->database.url, "postgresql://loka:dbpw@h/loka");
	cfg_free(c);
	unsetenv("LOKA_DATABASE_URL_FILE");
	unlink(path);
	free(path);
}

static void
test_show_masks_secrets(void **state)
{
	static const char text[] =
	    "[[pools]]\nname = \"p\"\nurl = \"stratum+tcp://h:1\"\n"
	    "password = \"pool-secret-1\"\n"
	    "[database]\nurl = \"postgresql://loka:db-secret-2@h/loka\"\n";
	struct cfg_diag errs = { 0 };
	struct cfg *c = load(text, &errs);
	char *out;
	struct cfg *again;

	(void)state;
	assert_non_null(c);
	out = print_to_string(c);
	assert_null(strstr(out, "pool-secret-1"));
	assert_null(strstr(out, "db-secret-2"));
	assert_non_null(strstr(out, "password = \"***\""));
	assert_non_null(strstr(out,
	    "url = \"postgresql://loka:***@h/loka\""));
	/* What show prints is itself a valid configuration. */
	again = load(out, &errs);
	assert_non_null(again);
	assert_int_equal(again->npools, 1);
	cfg_free(again);
	free(out);
	cfg_free(c);
}

static void
test_mask_url(void **state)
{
	static const char *const cases[][2] = {
		{ "postgresql://u:pw@h/db", "postgresql://u:***@h/db" },
		{ "postgresql://u@h/db", "postgresql://u@h/db" },
		{ "postgresql://h/db?user=u&password=pw&x=1",
		    "postgresql://h/db?user=u&password=***&x=1" },
		{ "postgresql://u:p@ss@h:5432,h2/db",
		    "postgresql://u:***@h:5432,h2/db" },
		{ "sqlite://loka.db", "sqlite://loka.db" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *m = cfg_mask_url(cases[i][0]);

		assert_string_equal(m, cases[i][1]);
		free(m);
	}
}

/* TLS settings: pool URLs, pool keys, listeners that need a certificate. */
static void
test_tls(void **state)
{
	struct cfg_diag errs = { 0 }, warns = { 0 };
	const char *text;
	struct cfg *c;

	(void)state;
	c = load("[[pools]]\nname = \"a\"\nurl = \"stratum+ssl://h:1\"\n"
	    "tls_fingerprint = \"AB:cd:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:"
	    "dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd\"\n"
	    "[[pools]]\nname = \"b\"\nurl = \"STRATUM+TLS://h:2\"\n"
	    "tls_ca_file = \"/etc/ca.pem\"\n", &errs);
	assert_non_null(c);
	assert_true(c->pools[0].tls);
	assert_true(c->pools[0].tls_verify);
	assert_string_equal(c->pools[0].url, "stratum+ssl://h:1");
	assert_string_equal(c->pools[0].tls_ca_file, "");
	assert_true(c->pools[1].tls);
	assert_string_equal(c->pools[1].url, "stratum+tls://h:2");
	assert_string_equal(c->pools[1].tls_ca_file, "/etc/ca.pem");
	cfg_free(c);
	c = load("[[pools]]\nname = \"a\"\nurl = \"stratum+tcp://h:1\"\n",
	    &errs);
	assert_non_null(c);
	assert_false(c->pools[0].tls);
	cfg_free(c);

	expect_error("[[pools]]\nname = \"a\"\nurl = \"stratum+ssl://h:1\"\n"
	    "tls_fingerprint = \"AB:CD\"\n",
	    "t.toml:4: [[pools]] #1 tls_fingerprint: \"AB:CD\" is not a "
	    "SHA-256 fingerprint: expected 64 hex digits, bare or with a ':' "
	    "between every two");
	expect_error("[server]\ntls_bind = \"127.0.0.1:3334\"\n"
	    "tls_key_file = \"k.pem\"\n",
	    "t.toml:2: [server] tls_cert_file: is required when tls_bind is "
	    "set");
	expect_error("[server]\ntls_detect = true\n"
	    "tls_cert_file = \"c.pem\"\n",
	    "t.toml:2: [server] tls_key_file: is required when tls_detect is "
	    "set");
	expect_error("[server]\nbind = \"127.0.0.1:3333\"\n"
	    "tls_bind = [\"127.0.0.1:3333\"]\ntls_cert_file = \"c\"\n"
	    "tls_key_file = \"k\"\n",
	    "t.toml:3: [server] tls_bind: \"127.0.0.1:3333\" is also a bind "
	    "address");
	expect_error("[metrics]\ntls_key_file = \"k.pem\"\n",
	    "t.toml:2: [metrics] tls_cert_file: is required with tls_key_file "
	    "(HTTPS needs both)");

	/* Warnings: keys that do nothing, and an unverified pool. */
	text = "[server]\ntls_cert_file = \"c\"\n"
	    "[[pools]]\nname = \"a\"\nurl = \"stratum+tcp://h:1\"\n"
	    "tls_verify = false\n"
	    "[[pools]]\nname = \"b\"\nurl = \"stratum+ssl://h:1\"\n"
	    "tls_verify = false\n";
	c = cfg_load_string("t.toml", text, strlen(text), &errs, &warns);
	assert_non_null(c);
	assert_int_equal(warns.n, 3);
	assert_non_null(strstr(warns.lines[0], "[[pools]] #1: tls_ca_file, "
	    "tls_fingerprint and tls_verify apply to stratum+ssl:// pools "
	    "only"));
	assert_non_null(strstr(warns.lines[1], "t.toml:7: [[pools]] #2: "
	    "tls_verify = false: the pool's certificate is NOT checked"));
	assert_non_null(strstr(warns.lines[2], "[server] tls_cert_file and "
	    "tls_key_file are unused"));
	cfg_free(c);
	cfg_diag_free(&warns);
	cfg_diag_free(&errs);
}

static void
test_pools(void **state)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c;

	(void)state;
	expect_error("[[pools]]\nname = \"a\"\n",
	    "t.toml:1: [[pools]] #1 url: is required");
	expect_error("[[pools]]\nname = \"a\"\nurl = \"stratum+tcp://h:1\"\n"
	    "[[pools]]\nname = \"a\"\nurl = \"stratum+tcp://h:2\"\n",
	    "t.toml:4: [[pools]] #2 name: \"a\" is already used by the pool "
	    "on line 1");
	expect_error("[[pools]]\nname = \"a b\"\nurl = \"stratum+tcp://h:1\"\n",
	    "t.toml:1: [[pools]] #1 name: \"a b\": use only letters, digits, "
	    "'.', '_' and '-'");
	expect_error("[[pools]]\nname = \"a\"\nurl = \"http://h:1\"\n",
	    "t.toml:3: [[pools]] #1 url: expected stratum+tcp://host:port (or "
	    "stratum+ssl://host:port), got \"http://h:1\"");
	expect_error("[[pools]]\nname = \"a\"\nurl = \"stratum+tcp://h:0\"\n",
	    "t.toml:3: [[pools]] #1 url: port must be a number between 1 and "
	    "65535, got \"0\"");
	expect_error("[[pools]]\nname = \"a\"\n"
	    "url = \"stratum+tcp://u:p@h:1\"\n",
	    "t.toml:3: [[pools]] #1 url: credentials in the URL are not "
	    "accepted here; use username and password (or password_file)");

	/* The pool_address shorthand. */
	c = load("[server]\npool_address = \"pool.example.com:3333\"\n", &errs);
	assert_non_null(c);
	assert_int_equal(c->npools, 1);
	assert_string_equal(c->pools[0].name, "default");
	assert_string_equal(c->pools[0].url,
	    "stratum+tcp://pool.example.com:3333");
	assert_int_equal(c->pools[0].port, 3333);
	cfg_free(c);
	expect_error("[server]\npool_address = \"h:1\"\n[[pools]]\n"
	    "name = \"a\"\nurl = \"stratum+tcp://h:2\"\n",
	    "t.toml:2: [server] pool_address: cannot be used together with "
	    "[[pools]]; move it into a [[pools]] entry");
}

static void
test_cross_checks(void **state)
{
	(void)state;
	expect_error("[security]\nip_filter_mode = \"allow\"\n",
	    "t.toml: [security] ip_allowlist: is empty, so ip_filter_mode = "
	    "\"allow\" would refuse every miner");
	expect_error("[database]\nmin_connections = 20\n",
	    "t.toml: [database] min_connections: is 20, more than "
	    "max_connections (10)");
}

static void
test_overrides(void **state)
{
	struct cfg_diag errs = { 0 };
	struct cfg *c = load("", &errs);

	(void)state;
	assert_non_null(c);
	assert_int_equal(cfg_override(c, "--bind", "server", "bind",
	    "127.0.0.1:4444,127.0.0.1:4445", &errs), 0);
	assert_int_equal(c->server.bind.n, 2);
	assert_int_equal(cfg_override(c, "--bind", "server", "bind", "nope",
	    &errs), -1);
	assert_string_equal(errs.lines[0], "--bind: [server] bind: expected "
	    "\"host:port\", got \"nope\" (no port)");
	assert_int_equal(cfg_set_single_pool(c, "--pool",
	    "stratum+tcp://acct:pw@127.0.0.1:3334", &errs), 0);
	assert_int_equal(c->npools, 1);
	assert_string_equal(c->pools[0].name, "cli");
	assert_string_equal(c->pools[0].username, "acct");
	assert_string_equal(c->pools[0].password, "pw");
	assert_string_equal(c->pools[0].url, "stratum+tcp://127.0.0.1:3334");
	cfg_diag_free(&errs);
	cfg_free(c);
}

static void
test_example_passes_check(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct cfg_diag errs = { 0 };
	struct cfg *c;

	(void)state;
	cfg_write_example(f);
	fclose(f);
	c = cfg_load_string("example", buf, len, &errs, NULL);
	for (size_t i = 0; i < errs.n; i++)
		print_error("%s\n", errs.lines[i]);
	assert_non_null(c);
	cfg_free(c);
	free(buf);
}

static void
test_load_touches_nothing_global(void **state)
{
	struct cfg_diag errs = { 0 };

	(void)state;
	log_set_level(LOG_WARN);
	log_set_format(LOG_FORMAT_TEXT);
	assert_null(load("[logging]\nlevel = \"trace\"\nformat = \"json\"\n"
	    "[server]\nmax_connections = 0\n", &errs));
	assert_int_equal(log_get_level(), LOG_WARN);
	cfg_diag_free(&errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_error_names_file_line_key),
		cmocka_unit_test(test_toml_syntax_error),
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_substitution),
		cmocka_unit_test(test_env_override),
		cmocka_unit_test(test_env_typo_warns),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_show_masks_secrets),
		cmocka_unit_test(test_mask_url),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_example_passes_check),
		cmocka_unit_test(test_load_touches_nothing_global),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
