/*
 * sniff.h: classifying and parsing the first bytes of a miner connection.
 *
 * A listener accepts Stratum, an HTTP CONNECT tunnel carrying Stratum, a
 * PROXY protocol header (v1 text or v2 binary) from a trusted load balancer,
 * or a TLS ClientHello, all on one port. The session reads into its own
 * buffer and asks these functions what it holds; they never do I/O, never
 * allocate and keep no state, so they may be called again from the start
 * each time more bytes arrive.
 *
 * Parsers are tri-state (style.md): > 0 is the number of bytes the header
 * took (the bytes after it belong to the next layer and must be kept), 0 is
 * "need more bytes", < 0 is "malformed: drop the connection". Every function
 * reads at most len bytes of buf.
 */
#ifndef LOKA_NET_SNIFF_H
#define LOKA_NET_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

/* A v1 header is at most this long, CRLF included (PROXY protocol §2.1). */
#define SNIFF_PROXY_V1_MAX 107
/* The v2 fixed part: signature, version/command, family, length. */
#define SNIFF_PROXY_V2_HDR 16
/* The most a v2 header (fixed part, addresses and TLVs) may take here; the
 * addresses need at most 216 bytes, the rest would only be TLVs we skip. */
#define SNIFF_PROXY_V2_MAX 512
/* The most a CONNECT request may take, request line to blank line. */
#define SNIFF_CONNECT_MAX 4096
/* Leading whitespace before a Stratum '{' that classify will wait through. */
#define SNIFF_WS_MAX 128

enum sniff_kind {
	SNIFF_NEED_MORE = 0,
	SNIFF_STRATUM,
	SNIFF_HTTP_CONNECT,
	SNIFF_HTTP_OTHER,
	SNIFF_PROXY_V1,
	SNIFF_PROXY_V2,
	SNIFF_TLS,
	SNIFF_UNKNOWN,
	SNIFF_KIND_MAX
};

/* The addresses a PROXY header carries. */
struct sniff_proxy {
	bool has_addr; /* false: LOCAL, UNKNOWN or UNSPEC; keep the peer */
	struct sockaddr_storage src, dst; /* AF_INET or AF_INET6, ports set */
	socklen_t src_len, dst_len;
};

/* The target of a CONNECT request. */
struct sniff_connect {
	char host[256]; /* host name or address, IPv6 without brackets; "" for
	                 * the "name:0" form */
	uint16_t port;  /* 1-65535 when has_port, else 0 */
	char name[65];  /* pool name ("name:0", "host:port/name"), else "" */
	bool has_port;  /* true when host and port were given */
};

/*
 * sniff_classify(buf, len): what the connection speaks, from as few bytes as
 * possible:
 *   optional whitespace (at most SNIFF_WS_MAX bytes) then '{'  STRATUM
 *   "CONNECT "                                             HTTP_CONNECT
 *   "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ",
 *   "PATCH ", "TRACE "                                     HTTP_OTHER
 *   "PROXY "                                               PROXY_V1
 *   "\r\n\r\n\0\r\nQUIT\n"                                 PROXY_V2
 *   0x16 0x03 (a TLS handshake record)                     TLS
 * SNIFF_NEED_MORE while buf is a proper prefix of one of these (len 0
 * included), SNIFF_UNKNOWN otherwise. Once an answer other than NEED_MORE is
 * given, more bytes never change it. Only the prefix is checked: the
 * sniff_proxy_*() and sniff_http_connect() parsers validate the rest.
 */
enum sniff_kind sniff_classify(const uint8_t *buf, size_t len);

/*
 * sniff_proxy_v1(buf, len, out): parse a PROXY protocol v1 header:
 *   "PROXY TCP4 <src> <dst> <sport> <dport>\r\n"   (dotted quads)
 *   "PROXY TCP6 <src> <dst> <sport> <dport>\r\n"   (IPv6 text)
 *   "PROXY UNKNOWN[ <anything>]\r\n"               (out->has_addr = false)
 * Fields are separated by exactly one space; ports are 1-5 decimal digits
 * in 0-65535. Returns the header length (at most SNIFF_PROXY_V1_MAX), 0
 * while no CRLF has arrived and a valid header is still possible, or -1
 * for anything malformed. out is written only on success.
 */
int sniff_proxy_v1(const uint8_t *buf, size_t len, struct sniff_proxy *out);

/*
 * sniff_proxy_v2(buf, len, out): parse a PROXY protocol v2 header: the
 * signature, version 2, command LOCAL (out->has_addr = false) or PROXY;
 * with PROXY, family AF_INET or AF_INET6 over STREAM gives the addresses,
 * family AF_UNSPEC gives has_addr = false. UNIX and DGRAM, other versions,
 * commands and families, an address block shorter than its family needs,
 * and headers longer than SNIFF_PROXY_V2_MAX are rejected. TLVs after the
 * addresses are skipped. Returns the header length, 0 while incomplete, -1
 * when malformed (decided as early as the bytes allow). out is written only
 * on success.
 */
int sniff_proxy_v2(const uint8_t *buf, size_t len, struct sniff_proxy *out);

/*
 * sniff_http_connect(buf, len, out): parse "CONNECT <target> HTTP/1.<d>"
 * and its header lines up to the blank line. Lines end in CRLF or a bare
 * LF; header lines must look like "name: value" and are skipped. The target
 * is one of
 *   host:port            host name or IPv4 address (has_port)
 *   [v6]:port            IPv6 address (has_port; host without brackets)
 *   name:0               the configured pool called name (host "", port 0)
 *   host:port/name       host and port, and the pool called name
 * with host at most 255 bytes of letters, digits, '.', '-', '_', a pool
 * name at most 64 bytes of the same, and a port in 1-65535 (0 only in the
 * name:0 form). Returns the bytes up to and including the blank line (at
 * most SNIFF_CONNECT_MAX), 0 while incomplete, -1 when malformed. out is
 * written only on success.
 */
int sniff_http_connect(const uint8_t *buf, size_t len,
    struct sniff_connect *out);

/*
 * sniff_http_status(code): the complete HTTP/1.1 response Loka sends to a
 * CONNECT request: 200 (tunnel established, no body), 400 (malformed), 403
 * (pool disabled), 404 (unknown pool) or 503 (no pool available); the error
 * answers carry a one-line text body, Content-Length and "Connection:
 * close". NULL for any other code. Static storage; do not free.
 */
const char *sniff_http_status(int code);

/*
 * sniff_http_not_stratum(): the "400 Bad Request" answer for plain HTTP
 * (SNIFF_HTTP_OTHER), explaining this is a Stratum port (stratum+tcp://).
 * Static storage; do not free.
 */
const char *sniff_http_not_stratum(void);

/* sniff_kind_name(kind): a short lowercase name for logs ("stratum", ...);
 * "invalid" for values out of range. */
const char *sniff_kind_name(enum sniff_kind kind);

#endif
