/*
 * tls.c: TLS contexts and TLS bufferevents (see tls.h).
 *
 * Server contexts live in a small registry so that SIGHUP can reload every
 * certificate Loka serves (miners, metrics) without the caller knowing who
 * made them. Each struct tls_server guards its SSL_CTX pointer with its own
 * mutex; the registry has one more, taken only when a context is made,
 * freed or reloaded (main thread, start and SIGHUP).
 *
 * A connection whose first bytes were read before it was known to be TLS
 * (sniffing) gets a socket-based TLS bufferevent whose read BIO first
 * replays those bytes (the "replay" BIO below), then reads the socket. A
 * filter bufferevent over the plain one would also see the bytes, but its
 * writes sit in the plain bufferevent's buffer after the TLS one reports
 * them written, so a last answer before a close could be lost.
 */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/errbuf.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AEAD ciphers
 * only; Mozilla's "intermediate" list without finite-field DHE. TLS 1.3
 * suites are all AEAD: OpenSSL's defaults stay. */
#define TLS_CIPHERS_12                                                   \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"     \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"     \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* The most of a connection's first bytes tls_server_upgrade() replays; the
 * sniffer looks at fewer than this before deciding. */
#define TLS_REPLAY_MAX (64 * 1024)

struct tls_server {
	char *name;
	char *cert_file;
	char *key_file;
	pthread_mutex_t lock; /* guards ctx */
	SSL_CTX *ctx;
	struct tls_server *next; /* in the registry */
};

struct tls_client {
	SSL_CTX *ctx;
	bool verify;
	bool pinned;
	uint8_t pin[TLS_FINGERPRINT_LEN];
};

static pthread_mutex_t tls_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_server *tls_registry;

/* OpenSSL's reason for its first error (the root cause, under the ones
 * that wrap it); the error queue is cleared. */
static const char *
tls_reason(unsigned long *code)
{
	unsigned long e = ERR_peek_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (code != NULL)
		*code = e;
	ERR_clear_error();
	return r != NULL ? r : "unknown error";
}

static int
tls_readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f;

	if (path == NULL || path[0] == '\0') {
		errbuf_set(err, errlen, "no %s file configured", what);
		return -1;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		errbuf_set(err, errlen, "cannot read %s file %s: %s", what,
		    path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

/* What every context shares: versions, ciphers, options. */
static int
tls_ctx_common(SSL_CTX *ctx, char *err, size_t errlen)
{
	/*
	 * No compression (CRIME-style attacks), no renegotiation (a history
	 * of flaws, and CPU a peer could make us spend). A peer that closes
	 * without close_notify is an ordinary end of stream: Stratum lines
	 * and HTTP messages carry their own framing, so a cut stream is never
	 * taken for a whole message.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Most miners are idle most of the time: give their buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		errbuf_set(err, errlen, "cannot set TLS versions and ciphers: "
		    "%s", tls_reason(NULL));
		return -1;
	}
	return 0;
}

static SSL_CTX *
tls_server_ctx(const char *cert_file, const char *key_file, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;
	unsigned long code;
	const char *why;

	if (tls_readable("certificate", cert_file, err, errlen) != 0 ||
	    tls_readable("key", key_file, err, errlen) != 0)
		return NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		errbuf_set(err, errlen, "cannot create a TLS context: %s",
		    tls_reason(NULL));
		return NULL;
	}
	if (tls_ctx_common(ctx, err, errlen) != 0)
		goto fail;
	/* Our order of suites, not the client's. */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		errbuf_set(err, errlen, "certificate file %s: %s (expected "
		    "PEM, the server's certificate first)", cert_file,
		    tls_reason(NULL));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) !=
	    1) {
		why = tls_reason(&code);
		if (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
			errbuf_set(err, errlen, "key file %s does not match "
			    "the certificate in %s", key_file, cert_file);
		else
			errbuf_set(err, errlen, "key file %s: %s (expected an "
			    "unencrypted PEM private key)", key_file, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		errbuf_set(err, errlen, "key file %s does not match the "
		    "certificate in %s", key_file, cert_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* One line about the certificate a context serves: subject, expiry,
 * fingerprint (what a miner may pin). */
static void
tls_log_cert(const struct tls_server *ts, SSL_CTX *ctx, const char *what)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	char subject[256] = "?", fp[FINGERPRINT_TEXT] = "?";
	char until[32] = "?";
	uint8_t md[TLS_FINGERPRINT_LEN];
	const ASN1_TIME *na;
	struct tm tm;

	if (x == NULL)
		return;
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	if (tls_fingerprint_x509(x, md) == 0)
		fingerprint_format(md, fp);
	na = X509_get0_notAfter(x);
	if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info("tls", "%s: %s certificate %s: subject %s, valid until %s, "
	    "SHA-256 %s", ts->name, what, ts->cert_file, subject, until, fp);
	if (na != NULL && X509_cmp_current_time(na) < 0)
		log_warnx("tls", "%s: the certificate in %s EXPIRED on %s: "
		    "clients will refuse it", ts->name, ts->cert_file, until);
}

struct tls_server *
tls_server_new(const char *name, const char *cert_file, const char *key_file,
    char *err, size_t errlen)
{
	SSL_CTX *ctx = tls_server_ctx(cert_file, key_file, err, errlen);
	struct tls_server *ts;

	if (ctx == NULL)
		return NULL;
	ts = xcalloc(1, sizeof(*ts));
	ts->name = xstrdup(name);
	ts->cert_file = xstrdup(cert_file);
	ts->key_file = xstrdup(key_file);
	pthread_mutex_init(&ts->lock, NULL);
	ts->ctx = ctx;
	tls_log_cert(ts, ctx, "serving");
	pthread_mutex_lock(&tls_registry_lock);
	ts->next = tls_registry;
	tls_registry = ts;
	pthread_mutex_unlock(&tls_registry_lock);
	return ts;
}

void
tls_server_free(struct tls_server *ts)
{
	struct tls_server **pp;

	if (ts == NULL)
		return;
	pthread_mutex_lock(&tls_registry_lock);
	for (pp = &tls_registry; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ts) {
			*pp = ts->next;
			break;
		}
	}
	pthread_mutex_unlock(&tls_registry_lock);
	SSL_CTX_free(ts->ctx);
	pthread_mutex_destroy(&ts->lock);
	free(ts->name);
	free(ts->cert_file);
	free(ts->key_file);
	free(ts);
}

int
tls_server_reload(struct tls_server *ts, char *err, size_t errlen)
{
	SSL_CTX *ctx = tls_server_ctx(ts->cert_file, ts->key_file, err,
	    errlen);
	SSL_CTX *old;

	if (ctx == NULL)
		return -1;
	pthread_mutex_lock(&ts->lock);
	old = ts->ctx;
	ts->ctx = ctx;
	pthread_mutex_unlock(&ts->lock);
	/* Connections made from the old context hold their own reference. */
	SSL_CTX_free(old);
	tls_log_cert(ts, ctx, "reloaded");
	return 0;
}

int
tls_server_reload_all(void)
{
	struct tls_server *ts;
	char err[512];
	int failed = 0;

	pthread_mutex_lock(&tls_registry_lock);
	for (ts = tls_registry; ts != NULL; ts = ts->next) {
		if (tls_server_reload(ts, err, sizeof(err)) != 0) {
			log_errorx("tls", "%s: reload failed, the previous "
			    "certificate stays in use: %s", ts->name, err);
			failed++;
		}
	}
	pthread_mutex_unlock(&tls_registry_lock);
	return failed;
}

/* A new server-side SSL from the current context. */
static SSL *
tls_server_ssl(struct tls_server *ts)
{
	SSL_CTX *ctx;
	SSL *ssl;

	pthread_mutex_lock(&ts->lock);
	ctx = ts->ctx;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&ts->lock);
	ssl = SSL_new(ctx); /* takes its own reference */
	SSL_CTX_free(ctx);
	return ssl;
}

/* ---- the replay BIO ---- */

/*
 * A filter BIO on top of the socket BIO: reads return the bytes read before
 * the connection was known to be TLS, then whatever the socket has. It
 * never reads ahead of what OpenSSL asks for, so no byte ever waits in it
 * while the socket looks idle to the event loop.
 */
struct tls_replay {
	size_t len, off;
	uint8_t buf[];
};

static int
tls_replay_read(BIO *b, char *out, int outl)
{
	struct tls_replay *r = BIO_get_data(b);
	BIO *next = BIO_next(b);
	int n;

	BIO_clear_retry_flags(b);
	if (out == NULL || outl <= 0)
		return 0;
	if (r != NULL && r->off < r->len) {
		size_t left = r->len - r->off;

		n = (size_t)outl < left ? outl : (int)left;
		memcpy(out, r->buf + r->off, (size_t)n);
		r->off += (size_t)n;
		if (r->off == r->len) {
			/* Replayed: the connection may live for days. */
			free(r);
			BIO_set_data(b, NULL);
		}
		return n;
	}
	if (next == NULL)
		return 0;
	n = BIO_read(next, out, outl);
	BIO_copy_next_retry(b);
	return n;
}

static int
tls_replay_write(BIO *b, const char *in, int inl)
{
	BIO *next = BIO_next(b);
	int n;

	BIO_clear_retry_flags(b);
	if (next == NULL)
		return 0;
	n = BIO_write(next, in, inl);
	BIO_copy_next_retry(b);
	return n;
}

static long
tls_replay_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_replay *r = BIO_get_data(b);
	BIO *next = BIO_next(b);

	if (cmd == BIO_CTRL_PENDING && r != NULL && r->off < r->len)
		return (long)(r->len - r->off);
	return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

static int
tls_replay_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int
tls_replay_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *tls_replay_method;
static pthread_once_t tls_replay_once = PTHREAD_ONCE_INIT;

static void
tls_replay_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER,
	    "loka replay");

	if (m == NULL)
		return;
	BIO_meth_set_read(m, tls_replay_read);
	BIO_meth_set_write(m, tls_replay_write);
	BIO_meth_set_ctrl(m, tls_replay_ctrl);
	BIO_meth_set_create(m, tls_replay_create);
	BIO_meth_set_destroy(m, tls_replay_destroy);
	tls_replay_method = m; /* kept for the life of the process */
}

struct bufferevent *
tls_server_upgrade(struct tls_server *ts, struct bufferevent *plain)
{
	struct evbuffer *in = bufferevent_get_input(plain);
	size_t len = evbuffer_get_length(in);
	evutil_socket_t fd = bufferevent_getfd(plain);
	struct tls_replay *r;
	struct bufferevent *bev;
	BIO *rbio, *sock, *wbio;
	SSL *ssl;

	pthread_once(&tls_replay_once, tls_replay_init);
	if (fd < 0 || len > TLS_REPLAY_MAX || tls_replay_method == NULL)
		return NULL;
	ssl = tls_server_ssl(ts);
	if (ssl == NULL)
		return NULL;
	r = xmalloc(sizeof(*r) + len);
	r->len = len;
	r->off = 0;
	evbuffer_copyout(in, r->buf, len);
	rbio = BIO_new(tls_replay_method);
	sock = BIO_new_socket(fd, BIO_NOCLOSE);
	wbio = BIO_new_socket(fd, BIO_NOCLOSE);
	if (rbio == NULL || sock == NULL || wbio == NULL) {
		free(r);
		BIO_free(rbio);
		BIO_free(sock);
		BIO_free(wbio);
		SSL_free(ssl);
		return NULL;
	}
	BIO_set_data(rbio, r);
	BIO_push(rbio, sock);
	SSL_set_bio(ssl, rbio, wbio);
	/* From here on the socket belongs to the TLS bufferevent: take it
	 * from the plain one first, so that one never reads again. */
	bufferevent_setfd(plain, -1);
	/* libevent frees ssl if this fails. */
	bev = bufferevent_openssl_socket_new(bufferevent_get_base(plain), fd,
	    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	evbuffer_drain(in, len);
	bufferevent_free(plain);
	return bev;
}

struct bufferevent *
tls_server_bufferevent(struct tls_server *ts, struct event_base *base)
{
	SSL *ssl = tls_server_ssl(ts);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* ---- clients (pools) ---- */

/*
 * The whole certificate check of a pool connection (replaces OpenSSL's):
 * the chain and the host name when verify is on, then the pin. The host
 * name check happens inside X509_verify_cert(), from the SSL's parameters.
 */
static int
tls_client_verify(X509_STORE_CTX *xs, void *arg)
{
	struct tls_client *tc = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	uint8_t md[TLS_FINGERPRINT_LEN];

	if (tc->verify && X509_verify_cert(xs) <= 0)
		return 0; /* the reason is in xs */
	if (tc->pinned && (leaf == NULL ||
	    tls_fingerprint_x509(leaf, md) != 0 ||
	    memcmp(md, tc->pin, sizeof(md)) != 0)) {
		X509_STORE_CTX_set_error(xs,
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

struct tls_client *
tls_client_new(const char *ca_file, bool verify, const char *fingerprint,
    char *err, size_t errlen)
{
	struct tls_client *tc = xcalloc(1, sizeof(*tc));

	tc->verify = verify;
	if (fingerprint != NULL && fingerprint[0] != '\0') {
		if (fingerprint_parse(fingerprint, tc->pin) != 0) {
			errbuf_set(err, errlen, "tls_fingerprint \"%s\" is not "
			    "a SHA-256 fingerprint (64 hex digits, colons "
			    "allowed)", fingerprint);
			goto fail;
		}
		tc->pinned = true;
	}
	ERR_clear_error();
	tc->ctx = SSL_CTX_new(TLS_client_method());
	if (tc->ctx == NULL) {
		errbuf_set(err, errlen, "cannot create a TLS context: %s",
		    tls_reason(NULL));
		goto fail;
	}
	if (tls_ctx_common(tc->ctx, err, errlen) != 0)
		goto fail;
	if (verify && ca_file != NULL && ca_file[0] != '\0') {
		if (tls_readable("CA", ca_file, err, errlen) != 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(tc->ctx, ca_file, NULL) !=
		    1) {
			errbuf_set(err, errlen, "CA file %s: %s (expected PEM "
			    "certificates)", ca_file, tls_reason(NULL));
			goto fail;
		}
	} else if (verify && SSL_CTX_set_default_verify_paths(tc->ctx) != 1) {
		errbuf_set(err, errlen, "cannot load the system's CA "
		    "certificates: %s", tls_reason(NULL));
		goto fail;
	}
	/* PEER: a failed check ends the handshake (the callback decides,
	 * with or without verify, because of the pin). */
	SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(tc->ctx, tls_client_verify, tc);
	return tc;
fail:
	tls_client_free(tc);
	return NULL;
}

void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

struct bufferevent *
tls_client_bufferevent(struct tls_client *tc, struct event_base *base,
    const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(tc->ctx);

	if (ssl == NULL)
		return NULL;
	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (tc->verify) {
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

		/* "*.example.com" matches one whole label, nothing less. */
		X509_VERIFY_PARAM_set_hostflags(param,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1 :
		    X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
			goto fail;
	}
	/* libevent frees ssl if this fails. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
fail:
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}

int
tls_failure(struct bufferevent *bev, char *buf, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long v;
	unsigned long e;

	if (ssl == NULL)
		return -1;
	v = SSL_get_verify_result(ssl);
	if (v == X509_V_ERR_APPLICATION_VERIFICATION) {
		STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
		X509 *leaf = chain != NULL && sk_X509_num(chain) > 0 ?
		    sk_X509_value(chain, 0) : NULL;
		uint8_t md[TLS_FINGERPRINT_LEN];
		char fp[FINGERPRINT_TEXT];

		if (leaf != NULL && tls_fingerprint_x509(leaf, md) == 0)
			snprintf(buf, size, "certificate fingerprint %s does "
			    "not match tls_fingerprint",
			    fingerprint_format(md, fp));
		else
			snprintf(buf, size, "certificate fingerprint does not "
			    "match tls_fingerprint");
		return 0;
	}
	if (v != X509_V_OK) {
		snprintf(buf, size, "certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
		return 0;
	}
	e = bufferevent_get_openssl_error(bev);
	if (e == 0 || ERR_GET_LIB(e) == ERR_LIB_SYS)
		return -1; /* a socket error: errno tells more */
	snprintf(buf, size, "TLS handshake failed: %s",
	    ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) :
	    "unknown error");
	return 0;
}

const char *
tls_describe(struct bufferevent *bev, char *buf, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || size == 0) {
		if (size > 0)
			buf[0] = '\0';
		return buf;
	}
	snprintf(buf, size, "%s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	return buf;
}

/* ---- fingerprints ---- */

int
tls_fingerprint_x509(struct x509_st *cert, uint8_t out[TLS_FINGERPRINT_LEN])
{
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha256(), out, &n) != 1 ||
	    n != TLS_FINGERPRINT_LEN)
		return -1;
	return 0;
}
