/*
 * tls.h: TLS for Loka's three uses, on OpenSSL and libevent's
 * bufferevent_openssl.
 *
 *   - miners over TLS: a server context (struct tls_server) for [server]
 *     tls_bind and tls_detect. A connection is accepted as plain TCP, its
 *     first bytes are sniffed, and a ClientHello turns it into a TLS
 *     bufferevent with tls_server_upgrade(), the bytes already read included.
 *   - the HTTPS metrics listener: another server context, handed to evhttp
 *     through tls_server_bufferevent().
 *   - pools over TLS: one client context per pool (struct tls_client):
 *     system CA store or a given CA file, the host name checked and sent as
 *     SNI, optional SHA-256 pinning of the pool's certificate.
 *
 * Every context speaks TLS 1.2 and 1.3 only; TLS 1.2 only with ECDHE key
 * exchange and AEAD ciphers; no compression, no renegotiation.
 *
 * Threading: a struct tls_server is shared by all threads. Worker threads
 * take SSL objects from it; tls_server_reload() (main thread, on SIGHUP)
 * builds a new SSL_CTX and swaps it in under a mutex held only for the swap
 * and while a new connection takes a reference, never on the share path.
 * An SSL object keeps a reference to the context it was made from, so a
 * session that began before a reload keeps its certificate until it ends;
 * new handshakes get the new one. A struct tls_client is read-only once
 * made and may be used from any thread.
 */
#ifndef LOKA_NET_TLS_H
#define LOKA_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/fingerprint.h"

struct bufferevent;
struct event_base;
struct tls_client;
struct tls_server;
struct x509_st; /* OpenSSL's X509 */

/* A SHA-256 certificate fingerprint (parsed and printed by
 * util/fingerprint.h). */
#define TLS_FINGERPRINT_LEN FINGERPRINT_LEN

/*
 * tls_server_new(name, cert_file, key_file, err, errlen): a server context
 * from a PEM certificate chain (leaf first) and its PEM private key. name
 * ("miners", "metrics") labels it in logs. Returns NULL with the reason in
 * err (unreadable file, no certificate, a key that does not match). The
 * context is registered for tls_server_reload_all() until freed; the paths
 * are kept and read again on reload.
 */
struct tls_server *tls_server_new(const char *name, const char *cert_file,
    const char *key_file, char *err, size_t errlen);

/* tls_server_free(ts): unregister and release (connections made from it
 * keep their own reference). NULL is a no-op. */
void tls_server_free(struct tls_server *ts);

/*
 * tls_server_reload(ts, err, errlen): read the certificate and key files
 * again; on success new handshakes use them. On failure the old context
 * stays in use and err says why. Returns 0 or -1.
 */
int tls_server_reload(struct tls_server *ts, char *err, size_t errlen);

/*
 * tls_server_reload_all(): tls_server_reload() every registered context,
 * logging the outcome of each (the new certificate's subject, expiry and
 * fingerprint, or why the old one is kept). Returns how many failed.
 */
int tls_server_reload_all(void);

/*
 * tls_server_upgrade(ts, plain): turn a plain socket bufferevent whose input
 * holds the start of a TLS ClientHello (and whatever followed it) into a
 * server-side TLS bufferevent on the same socket. The bytes already read are
 * fed to OpenSSL before the socket, so nothing is lost. On success plain is
 * freed (the socket now belongs to the returned bufferevent, closed when it
 * is freed) and the caller sets callbacks, timeouts and enables it; the
 * handshake runs by itself and BEV_EVENT_CONNECTED reports its end. On
 * failure NULL is returned and the caller drops the connection by freeing
 * plain (which may have lost its socket already: libevent failing after it
 * took the socket, only short of memory, leaks the descriptor rather than
 * risk closing it twice).
 */
struct bufferevent *tls_server_upgrade(struct tls_server *ts,
    struct bufferevent *plain);

/*
 * tls_server_bufferevent(ts, base): a server-side TLS bufferevent without a
 * socket yet (evhttp's bufferevent callback: it sets the socket itself).
 * NULL on failure.
 */
struct bufferevent *tls_server_bufferevent(struct tls_server *ts,
    struct event_base *base);

/*
 * tls_client_new(ca_file, verify, fingerprint, err, errlen): a client
 * context for one pool. With verify, the pool's chain is checked against
 * ca_file (PEM, one or more CA certificates) or, when ca_file is NULL or "",
 * the system store, and its name against the host (see
 * tls_client_bufferevent). fingerprint (NULL or "" for none) is the SHA-256
 * of the certificate the pool must present, in the form fingerprint_parse
 * takes; it is checked with or without verify. Returns NULL with the reason
 * in err (unreadable CA file, bad fingerprint).
 */
struct tls_client *tls_client_new(const char *ca_file, bool verify,
    const char *fingerprint, char *err, size_t errlen);

/* tls_client_free(tc): NULL is a no-op. */
void tls_client_free(struct tls_client *tc);

/*
 * tls_client_bufferevent(tc, base, host): a client-side TLS bufferevent
 * without a socket, ready for bufferevent_socket_connect_hostname(). host
 * is sent as SNI (names only: RFC 6066 has no SNI for addresses) and is the
 * name (or IP address) the certificate must carry. The handshake starts
 * once connected; BEV_EVENT_CONNECTED means it succeeded and the pool's
 * certificate passed every check. NULL on failure.
 */
struct bufferevent *tls_client_bufferevent(struct tls_client *tc,
    struct event_base *base, const char *host);

/*
 * tls_failure(bev, buf, size): why a TLS bufferevent failed, for a log line:
 * "certificate verification failed: <X509 reason>", "certificate
 * fingerprint <fp> does not match tls_fingerprint" or "TLS handshake failed:
 * <OpenSSL reason>". Returns 0 with the text in buf, or -1 when bev is not a
 * TLS bufferevent or OpenSSL recorded nothing (a plain socket error).
 */
int tls_failure(struct bufferevent *bev, char *buf, size_t size);

/*
 * tls_describe(bev, buf, size): "TLSv1.3 TLS_AES_256_GCM_SHA384" for an
 * established TLS bufferevent; "" otherwise. Returns buf.
 */
const char *tls_describe(struct bufferevent *bev, char *buf, size_t size);

/* tls_fingerprint_x509(cert, out): SHA-256 of cert's DER. 0 or -1. */
int tls_fingerprint_x509(struct x509_st *cert,
    uint8_t out[TLS_FINGERPRINT_LEN]);

#endif
