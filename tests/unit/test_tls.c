/*
 * test_tls.c: TLS contexts (src/net/tls.c): server contexts from PEM files
 * and what their errors say, reload (the new certificate for new
 * connections, the old one kept when the new files are bad), fingerprints,
 * and real handshakes over a socket pair: a server upgraded from a plain
 * bufferevent that already read the ClientHello, against a client that
 * checks the chain, the host name or a pinned fingerprint.
 *
 * Certificates are made here, by OpenSSL, in a temporary folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls.h"
#include "util/log.h"
#include "util/xmalloc.h"

static char dir[] = "/tmp/loka-test-tls-XXXXXX";

/* A self-signed certificate for 127.0.0.1 and its key, as PEM files. */
struct pair {
	char cert[128], key[128];
	X509 *x;
};

static struct pair one, two;

static void
make_pair(struct pair *p, const char *name)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *subject;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), name[0]);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	subject = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, subject);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "IP:127.0.0.1");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	snprintf(p->cert, sizeof(p->cert), "%s/%s.pem", dir, name);
	snprintf(p->key, sizeof(p->key), "%s/%s.key", dir, name);
	f = fopen(p->cert, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(p->key, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(key);
	p->x = x;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
}

static int
setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	if (mkdtemp(dir) == NULL)
		return -1;
	make_pair(&one, "one");
	make_pair(&two, "two");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	X509_free(one.x);
	X509_free(two.x);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
hex_of(const struct pair *p, char *out, bool with_colons)
{
	uint8_t md[TLS_FINGERPRINT_LEN];
	char text[FINGERPRINT_TEXT];
	size_t o = 0;

	assert_int_equal(tls_fingerprint_x509(p->x, md), 0);
	fingerprint_format(md, text);
	for (size_t i = 0; text[i] != '\0'; i++)
		if (with_colons || text[i] != ':')
			out[o++] = text[i];
	out[o] = '\0';
}

/* ---- fingerprints ---- */

static void
test_fingerprint_parse(void **state)
{
	uint8_t md[TLS_FINGERPRINT_LEN], got[TLS_FINGERPRINT_LEN];
	char bare[FINGERPRINT_TEXT], colon[FINGERPRINT_TEXT];
	char bad[FINGERPRINT_TEXT + 4];

	(void)state;
	assert_int_equal(tls_fingerprint_x509(one.x, md), 0);
	hex_of(&one, bare, false);
	hex_of(&one, colon, true);
	assert_int_equal(strlen(bare), 64);
	assert_int_equal(strlen(colon), 95);
	assert_int_equal(fingerprint_parse(bare, got), 0);
	assert_memory_equal(got, md, sizeof(md));
	memset(got, 0, sizeof(got));
	assert_int_equal(fingerprint_parse(colon, got), 0);
	assert_memory_equal(got, md, sizeof(md));
	for (size_t i = 0; bare[i] != '\0'; i++)
		if (bare[i] >= 'A' && bare[i] <= 'F')
			bare[i] = (char)(bare[i] - 'A' + 'a');
	assert_int_equal(fingerprint_parse(bare, got), 0);
	assert_memory_equal(got, md, sizeof(md));

	/* Malformed: nothing written. */
	memset(got, 0x5a, sizeof(got));
	assert_int_equal(fingerprint_parse("", got), -1);
	assert_int_equal(fingerprint_parse("AB:CD", got), -1);
	snprintf(bad, sizeof(bad), "%.63s", bare);          /* one short */
	assert_int_equal(fingerprint_parse(bad, got), -1);
	snprintf(bad, sizeof(bad), "%s0", bare);            /* one long */
	assert_int_equal(fingerprint_parse(bad, got), -1);
	snprintf(bad, sizeof(bad), "%s", bare);
	bad[10] = 'g';                                      /* not hex */
	assert_int_equal(fingerprint_parse(bad, got), -1);
	snprintf(bad, sizeof(bad), "%s", colon);
	bad[2] = bad[3];                                    /* colon moved */
	bad[3] = ':';
	assert_int_equal(fingerprint_parse(bad, got), -1);
	snprintf(bad, sizeof(bad), "%s", colon);
	bad[5] = '-';                                       /* other sep */
	assert_int_equal(fingerprint_parse(bad, got), -1);
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 0x5a);
}

/* ---- server contexts ---- */

/* The fingerprint of the certificate a new connection of ts would get. */
static void
served_fingerprint(struct tls_server *ts, uint8_t out[TLS_FINGERPRINT_LEN])
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = tls_server_bufferevent(ts, base);
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	assert_non_null(ssl);
	assert_int_equal(tls_fingerprint_x509(SSL_get_certificate(ssl), out),
	    0);
	bufferevent_free(bev);
	event_base_free(base);
}

static void
expect_server_error(const char *cert, const char *key, const char *want)
{
	char err[512] = "";
	struct tls_server *ts = tls_server_new("test", cert, key, err,
	    sizeof(err));

	if (ts != NULL || strstr(err, want) == NULL) {
		print_error("want an error with: %s\ngot: %s\n", want, err);
		tls_server_free(ts);
		fail();
	}
}

static void
test_server_errors(void **state)
{
	char garbage[160], msg[400];

	(void)state;
	snprintf(garbage, sizeof(garbage), "%s/garbage.pem", dir);
	write_file(garbage, "-----BEGIN NOTHING-----\nxx\n");
	expect_server_error("/nonexistent/cert.pem", one.key,
	    "cannot read certificate file /nonexistent/cert.pem: No such file "
	    "or directory");
	expect_server_error(one.cert, "/nonexistent/key.pem",
	    "cannot read key file /nonexistent/key.pem");
	expect_server_error("", one.key, "no certificate file configured");
	snprintf(msg, sizeof(msg), "certificate file %s:", garbage);
	expect_server_error(garbage, one.key, msg);
	snprintf(msg, sizeof(msg), "key file %s:", garbage);
	expect_server_error(one.cert, garbage, msg);
	/* A certificate is no key. */
	snprintf(msg, sizeof(msg), "key file %s:", one.cert);
	expect_server_error(one.cert, one.cert, msg);
	snprintf(msg, sizeof(msg), "key file %s does not match the "
	    "certificate in %s", two.key, one.cert);
	expect_server_error(one.cert, two.key, msg);
}

static void
test_server_reload(void **state)
{
	char cert[160], key[160], err[512];
	uint8_t want_one[TLS_FINGERPRINT_LEN], want_two[TLS_FINGERPRINT_LEN];
	uint8_t got[TLS_FINGERPRINT_LEN];
	struct tls_server *ts;

	(void)state;
	assert_int_equal(tls_fingerprint_x509(one.x, want_one), 0);
	assert_int_equal(tls_fingerprint_x509(two.x, want_two), 0);
	snprintf(cert, sizeof(cert), "%s/live.pem", dir);
	snprintf(key, sizeof(key), "%s/live.key", dir);
	copy_file(one.cert, cert);
	copy_file(one.key, key);
	ts = tls_server_new("test", cert, key, err, sizeof(err));
	assert_non_null(ts);
	served_fingerprint(ts, got);
	assert_memory_equal(got, want_one, sizeof(got));

	copy_file(two.cert, cert);
	copy_file(two.key, key);
	assert_int_equal(tls_server_reload(ts, err, sizeof(err)), 0);
	served_fingerprint(ts, got);
	assert_memory_equal(got, want_two, sizeof(got));

	/* A bad file: the reload fails, the old certificate stays. */
	write_file(key, "not a key\n");
	assert_int_equal(tls_server_reload(ts, err, sizeof(err)), -1);
	assert_non_null(strstr(err, key));
	assert_int_equal(tls_server_reload_all(), 1);
	served_fingerprint(ts, got);
	assert_memory_equal(got, want_two, sizeof(got));
	tls_server_free(ts);
	assert_int_equal(tls_server_reload_all(), 0); /* unregistered */
	tls_server_free(NULL);
}

static void
test_client_errors(void **state)
{
	char err[512] = "";
	struct tls_client *tc;

	(void)state;
	tc = tls_client_new("/nonexistent/ca.pem", true, NULL, err,
	    sizeof(err));
	assert_null(tc);
	assert_non_null(strstr(err, "cannot read CA file /nonexistent/ca.pem"));
	tc = tls_client_new(NULL, true, "12:34", err, sizeof(err));
	assert_null(tc);
	assert_non_null(strstr(err, "tls_fingerprint \"12:34\" is not a "
	    "SHA-256 fingerprint"));
	tc = tls_client_new(one.cert, true, NULL, err, sizeof(err));
	assert_non_null(tc);
	tls_client_free(tc);
	tc = tls_client_new(NULL, false, NULL, err, sizeof(err));
	assert_non_null(tc);
	tls_client_free(tc);
	tls_client_free(NULL);
}

/* ---- handshakes over a socket pair ---- */

struct duel {
	struct event_base *base;
	struct tls_server *ts;
	struct bufferevent *server, *client;
	size_t first_bytes;  /* what the plain server side read first */
	bool upgraded;
	bool echoed;         /* the client got its line back */
	bool failed;
	char why[512];
	char version[64];
};

static void
server_on_tls_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	/* Echo everything back. */
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void
server_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	(void)arg;
}

/* The plain side saw the first bytes: like session.c, turn it into TLS. */
static void
server_on_plain_read(struct bufferevent *bev, void *arg)
{
	struct duel *d = arg;

	d->first_bytes = evbuffer_get_length(bufferevent_get_input(bev));
	d->server = tls_server_upgrade(d->ts, bev);
	assert_non_null(d->server);
	d->upgraded = true;
	bufferevent_setcb(d->server, server_on_tls_read, NULL,
	    server_on_event, d);
	bufferevent_enable(d->server, EV_READ | EV_WRITE);
}

static void
client_on_read(struct bufferevent *bev, void *arg)
{
	struct duel *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (evbuffer_get_length(in) >= 6) {
		char line[7] = "";

		evbuffer_remove(in, line, 6);
		d->echoed = strcmp(line, "hello\n") == 0;
		event_base_loopbreak(d->base);
	}
}

static void
client_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct duel *d = arg;

	if (what & BEV_EVENT_CONNECTED) {
		tls_describe(bev, d->version, sizeof(d->version));
		bufferevent_write(bev, "hello\n", 6);
		return;
	}
	d->failed = true;
	if (tls_failure(bev, d->why, sizeof(d->why)) != 0)
		snprintf(d->why, sizeof(d->why), "no TLS reason (events 0x%x)",
		    what);
	event_base_loopbreak(d->base);
}

/* One connection: server with one.cert; client as given. */
static void
duel(struct duel *d, const char *ca, bool verify, const char *pin,
    const char *host)
{
	char err[512];
	int sv[2];
	struct tls_client *tc;
	struct bufferevent *plain;
	struct timeval limit = { 5, 0 };

	memset(d, 0, sizeof(*d));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[1]), 0);
	d->base = event_base_new();
	d->ts = tls_server_new("test", one.cert, one.key, err, sizeof(err));
	assert_non_null(d->ts);
	tc = tls_client_new(ca, verify, pin, err, sizeof(err));
	assert_non_null(tc);
	plain = bufferevent_socket_new(d->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(plain, server_on_plain_read, NULL, server_on_event,
	    d);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	d->client = tls_client_bufferevent(tc, d->base, host);
	assert_non_null(d->client);
	bufferevent_setcb(d->client, client_on_read, NULL, client_on_event, d);
	assert_int_equal(bufferevent_setfd(d->client, sv[0]), 0);
	bufferevent_enable(d->client, EV_READ | EV_WRITE);
	event_base_loopexit(d->base, &limit);
	event_base_dispatch(d->base);
	bufferevent_free(d->client);
	if (d->upgraded)
		bufferevent_free(d->server);
	else
		bufferevent_free(plain);
	tls_client_free(tc);
	tls_server_free(d->ts);
	event_base_free(d->base);
}

static void
test_handshake_verified(void **state)
{
	struct duel d;

	(void)state;
	duel(&d, one.cert, true, NULL, "127.0.0.1");
	if (!d.echoed)
		print_error("failed: %s\n", d.why);
	assert_true(d.upgraded);
	assert_true(d.first_bytes > 0); /* the ClientHello was replayed */
	assert_true(d.echoed);
	assert_false(d.failed);
	assert_true(strncmp(d.version, "TLSv1.3 ", 8) == 0);
}

static void
test_handshake_pinned(void **state)
{
	char fp[FINGERPRINT_TEXT], other[FINGERPRINT_TEXT];
	char want[300];
	struct duel d;

	(void)state;
	hex_of(&one, fp, true);
	hex_of(&two, other, false);
	/* Pinned, unverified: the pin alone decides. */
	duel(&d, NULL, false, fp, "127.0.0.1");
	assert_true(d.echoed);
	duel(&d, NULL, false, other, "127.0.0.1");
	assert_true(d.failed);
	assert_false(d.echoed);
	snprintf(want, sizeof(want), "certificate fingerprint %s does not "
	    "match tls_fingerprint", fp);
	assert_string_equal(d.why, want);
	/* Verified and pinned: both must hold. */
	duel(&d, one.cert, true, other, "127.0.0.1");
	assert_true(d.failed);
	assert_string_equal(d.why, want);
}

static void
test_handshake_refused(void **state)
{
	struct duel d;

	(void)state;
	/* A certificate no CA we know signed. */
	duel(&d, two.cert, true, NULL, "127.0.0.1");
	assert_true(d.failed);
	assert_false(d.echoed);
	assert_true(strncmp(d.why, "certificate verification failed: ",
	    33) == 0);
	/* The system store does not know our test certificate either. */
	duel(&d, NULL, true, NULL, "127.0.0.1");
	assert_true(d.failed);
	assert_true(strncmp(d.why, "certificate verification failed: ",
	    33) == 0);
	/* The right CA, another name. */
	duel(&d, one.cert, true, NULL, "pool.example.com");
	assert_true(d.failed);
	assert_string_equal(d.why, "certificate verification failed: "
	    "hostname mismatch");
	duel(&d, one.cert, true, NULL, "127.0.0.2");
	assert_true(d.failed);
	assert_string_equal(d.why, "certificate verification failed: "
	    "IP address mismatch");
	/* No verification and no pin: anything goes (testing only). */
	duel(&d, NULL, false, NULL, "pool.example.com");
	assert_true(d.echoed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint_parse),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_server_reload),
		cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_handshake_verified),
		cmocka_unit_test(test_handshake_pinned),
		cmocka_unit_test(test_handshake_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
