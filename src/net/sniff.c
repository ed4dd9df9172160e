/*
 * sniff.c: what a new miner connection speaks, and its PROXY or CONNECT
 * header (see sniff.h).
 *
 * Pure functions over a byte range: no I/O, no allocation, no globals, safe
 * from any thread. Each call starts again from the first byte, so a session
 * just calls again with its grown buffer; the headers are small and capped
 * (107, 512, 4096 bytes), which keeps that rescanning cheap. Malformed input
 * is rejected as early as the bytes allow so that a scanner is dropped
 * without waiting for a timeout.
 */
#include "net/sniff.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* The 12-byte PROXY v2 signature; sizeof - 1 because of the trailing NUL. */
#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"
#define V2_SIG_LEN (sizeof(V2_SIG) - 1)

/* v2 fields (PROXY protocol §2.2). */
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_FAM_UNSPEC 0x0
#define V2_FAM_INET 0x1
#define V2_FAM_INET6 0x2
#define V2_PROTO_STREAM 0x1
/* Address block sizes: two addresses and two ports. */
#define V2_INET_LEN (4 + 4 + 2 + 2)
#define V2_INET6_LEN (16 + 16 + 2 + 2)

/* The longest pool name (config names have no limit of their own, but a
 * CONNECT target naming one has to fit sniff_connect.name). */
#define NAME_MAX_LEN (sizeof(((struct sniff_connect *)0)->name) - 1)
#define HOST_MAX_LEN (sizeof(((struct sniff_connect *)0)->host) - 1)

struct sniff_prefix {
	const char *s;
	size_t n;
	enum sniff_kind kind;
};

#define PREFIX(s, kind) { s, sizeof(s) - 1, kind }

/* Fixed openings; none is a prefix of another, so order does not matter. */
static const struct sniff_prefix prefixes[] = {
	PREFIX("CONNECT ", SNIFF_HTTP_CONNECT),
	PREFIX("GET ", SNIFF_HTTP_OTHER),
	PREFIX("POST ", SNIFF_HTTP_OTHER),
	PREFIX("HEAD ", SNIFF_HTTP_OTHER),
	PREFIX("PUT ", SNIFF_HTTP_OTHER),
	PREFIX("DELETE ", SNIFF_HTTP_OTHER),
	PREFIX("OPTIONS ", SNIFF_HTTP_OTHER),
	PREFIX("PATCH ", SNIFF_HTTP_OTHER),
	PREFIX("TRACE ", SNIFF_HTTP_OTHER),
	PREFIX("PROXY ", SNIFF_PROXY_V1),
	PREFIX(V2_SIG, SNIFF_PROXY_V2),
	/* Record type 22 (handshake), major version 3 (SSL 3.0 to TLS 1.3). */
	PREFIX("\x16\x03", SNIFF_TLS),
};

static bool
is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Letters, digits, '.', '-', '_': host names, IPv4 and pool names. */
static bool
is_name_char(uint8_t c)
{
	return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

/* RFC 9110 tchar, for header field names. */
static bool
is_tchar(uint8_t c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does buf[0, len) match the first min(len, n) bytes of s? */
static bool
prefix_match(const uint8_t *buf, size_t len, const char *s, size_t n)
{
	return len == 0 || memcmp(buf, s, len < n ? len : n) == 0;
}

enum sniff_kind
sniff_classify(const uint8_t *buf, size_t len)
{
	bool maybe = false;
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		const struct sniff_prefix *p = &prefixes[i];

		if (!prefix_match(buf, len, p->s, p->n))
			continue;
		if (len >= p->n)
			return p->kind;
		maybe = true;
	}
	/* Stratum: JSON, maybe after a few stray newlines. */
	for (i = 0; i < len; i++) {
		if (buf[i] == '{')
			return SNIFF_STRATUM;
		if (!is_ws(buf[i]) || i == SNIFF_WS_MAX)
			break;
	}
	if (i == len)
		maybe = true;
	return maybe ? SNIFF_NEED_MORE : SNIFF_UNKNOWN;
}

/* A decimal port: 1-5 digits, 0-65535, nothing else. */
static int
parse_port(const uint8_t *p, size_t n, uint16_t *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Text address of family af plus a port into ss; 0 or -1. */
static int
addr_from_text(int af, const uint8_t *p, size_t n, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	char text[INET6_ADDRSTRLEN];

	/* inet_pton() would stop at an embedded NUL and accept the rest. */
	if (n == 0 || n >= sizeof(text) || memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(text, p, n);
	text[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/*
 * The next v1 field at *p: non-empty, then one space (or, for the last
 * field, the end of the line). Advances *p past the separator.
 */
static int
v1_field(const uint8_t **p, const uint8_t *end, bool last, const uint8_t **f,
    size_t *fn)
{
	const uint8_t *q = *p;

	while (q < end && *q != ' ')
		q++;
	if (q == *p || (last ? q != end : q == end))
		return -1;
	*f = *p;
	*fn = (size_t)(q - *p);
	*p = last ? q : q + 1;
	return 0;
}

/* The v1 line after "PROXY " and before CRLF. */
static int
v1_parse_line(const uint8_t *p, size_t n, struct sniff_proxy *out)
{
	const uint8_t *end = p + n, *f[5];
	size_t fn[5];
	uint16_t sport, dport;
	int af;

	if (n >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (n == 7 || p[7] == ' ')) {
		/* The spec says to ignore whatever follows UNKNOWN. */
		memset(out, 0, sizeof(*out));
		out->has_addr = false;
		return 0;
	}
	for (int i = 0; i < 5; i++)
		if (v1_field(&p, end, i == 4, &f[i], &fn[i]) != 0)
			return -1;
	if (fn[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		af = AF_INET;
	else if (fn[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return -1;
	if (parse_port(f[3], fn[3], &sport) != 0 ||
	    parse_port(f[4], fn[4], &dport) != 0)
		return -1;
	memset(out, 0, sizeof(*out));
	if (addr_from_text(af, f[1], fn[1], sport, &out->src,
		&out->src_len) != 0 ||
	    addr_from_text(af, f[2], fn[2], dport, &out->dst,
		&out->dst_len) != 0)
		return -1;
	out->has_addr = true;
	return 0;
}

int
sniff_proxy_v1(const uint8_t *buf, size_t len, struct sniff_proxy *out)
{
	static const char sig[] = "PROXY ";
	struct sniff_proxy p;
	size_t i;

	if (!prefix_match(buf, len, sig, sizeof(sig) - 1))
		return -1;
	/* The CR may sit at most at index 105: CRLF then ends at byte 107. */
	for (i = 0; i < len && i < SNIFF_PROXY_V1_MAX - 1; i++) {
		if (buf[i] == '\n')
			return -1;
		if (buf[i] == '\r')
			break;
	}
	if (i == SNIFF_PROXY_V1_MAX - 1)
		return -1;
	if (i + 1 >= len)
		return 0;
	if (buf[i + 1] != '\n')
		return -1;
	/* The prefix check put "PROXY " before the CR. */
	if (v1_parse_line(buf + sizeof(sig) - 1, i - (sizeof(sig) - 1),
		&p) != 0)
		return -1;
	*out = p;
	return (int)(i + 2);
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int
sniff_proxy_v2(const uint8_t *buf, size_t len, struct sniff_proxy *out)
{
	struct sniff_proxy p;
	unsigned cmd, fam, proto;
	size_t alen, need = 0;

	if (!prefix_match(buf, len, V2_SIG, V2_SIG_LEN))
		return -1;
	if (len <= 12)
		return 0;
	cmd = buf[12] & 0x0f;
	if ((buf[12] >> 4) != 2 || (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY))
		return -1;
	if (len <= 13)
		return 0;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0f;
	/* LOCAL (a health check from the balancer) ignores the family. */
	if (cmd == V2_CMD_PROXY) {
		if (fam == V2_FAM_INET && proto == V2_PROTO_STREAM)
			need = V2_INET_LEN;
		else if (fam == V2_FAM_INET6 && proto == V2_PROTO_STREAM)
			need = V2_INET6_LEN;
		else if (fam != V2_FAM_UNSPEC)
			return -1;
	}
	if (len < SNIFF_PROXY_V2_HDR)
		return 0;
	alen = be16(buf + 14);
	if (SNIFF_PROXY_V2_HDR + alen > SNIFF_PROXY_V2_MAX || alen < need)
		return -1;
	if (len < SNIFF_PROXY_V2_HDR + alen)
		return 0;

	memset(&p, 0, sizeof(p));
	if (need == V2_INET_LEN) {
		struct sockaddr_in *s = (struct sockaddr_in *)&p.src;
		struct sockaddr_in *d = (struct sockaddr_in *)&p.dst;
		const uint8_t *a = buf + SNIFF_PROXY_V2_HDR;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2); /* both in network order */
		memcpy(&d->sin_port, a + 10, 2);
		p.src_len = p.dst_len = sizeof(*s);
		p.has_addr = true;
	} else if (need == V2_INET6_LEN) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&p.src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&p.dst;
		const uint8_t *a = buf + SNIFF_PROXY_V2_HDR;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		p.src_len = p.dst_len = sizeof(*s);
		p.has_addr = true;
	}
	*out = p;
	return (int)(SNIFF_PROXY_V2_HDR + alen);
}

/* A host or pool name: 1..max bytes of is_name_char(). */
static bool
name_ok(const uint8_t *p, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(p[i]))
			return false;
	return true;
}

/* The CONNECT target (see sniff.h for its forms). */
static int
parse_target(const uint8_t *t, size_t tn, struct sniff_connect *c)
{
	const uint8_t *slash, *h, *portp, *sep;
	size_t hn, pn;
	bool bracket = false;
	uint16_t port;

	memset(c, 0, sizeof(*c));
	slash = memchr(t, '/', tn);
	if (slash != NULL) {
		const uint8_t *name = slash + 1;
		size_t nn = (size_t)(t + tn - name);

		if (!name_ok(name, nn, NAME_MAX_LEN))
			return -1;
		memcpy(c->name, name, nn);
		tn = (size_t)(slash - t);
	}
	if (tn > 0 && t[0] == '[') {
		struct sockaddr_storage ss;
		socklen_t sslen;

		sep = memchr(t, ']', tn);
		if (sep == NULL || sep + 1 == t + tn || sep[1] != ':')
			return -1;
		h = t + 1;
		hn = (size_t)(sep - h);
		if (addr_from_text(AF_INET6, h, hn, 0, &ss, &sslen) != 0)
			return -1;
		portp = sep + 2;
		bracket = true;
	} else {
		sep = memchr(t, ':', tn);
		if (sep == NULL)
			return -1;
		h = t;
		hn = (size_t)(sep - t);
		if (!name_ok(h, hn, HOST_MAX_LEN))
			return -1;
		portp = sep + 1;
	}
	pn = (size_t)(t + tn - portp);
	if (parse_port(portp, pn, &port) != 0)
		return -1;
	if (port == 0) {
		/* "name:0" only: a pool picked by name alone. */
		if (bracket || slash != NULL || !name_ok(h, hn, NAME_MAX_LEN))
			return -1;
		memcpy(c->name, h, hn);
		return 0;
	}
	memcpy(c->host, h, hn);
	c->port = port;
	c->has_port = true;
	return 0;
}

/* "CONNECT <target> HTTP/1.<digit>" without its line end. */
static int
parse_request_line(const uint8_t *p, size_t n, struct sniff_connect *c)
{
	static const char method[] = "CONNECT ", version[] = "HTTP/1.";
	const size_t ml = sizeof(method) - 1, vl = sizeof(version) - 1;
	const uint8_t *v;

	/* Method, a target byte at least, a space, the version. */
	if (n < ml + 1 + 1 + vl + 1 || memcmp(p, method, ml) != 0)
		return -1;
	v = p + n - (vl + 1);
	if (v[-1] != ' ' || memcmp(v, version, vl) != 0 || !is_digit(v[vl]))
		return -1;
	return parse_target(p + ml, (size_t)(v - 1 - (p + ml)), c);
}

/* "name: value": a token, a colon, then no control bytes but HTAB. */
static bool
header_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && is_tchar(p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ':')
		return false;
	for (i++; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return false;
	return true;
}

int
sniff_http_connect(const uint8_t *buf, size_t len, struct sniff_connect *out)
{
	static const char method[] = "CONNECT ";
	struct sniff_connect c;
	size_t lim = len < SNIFF_CONNECT_MAX ? len : SNIFF_CONNECT_MAX;
	size_t pos = 0;

	if (!prefix_match(buf, len, method, sizeof(method) - 1))
		return -1;
	for (;;) {
		const uint8_t *nl = len == 0 ? NULL :
		    memchr(buf + pos, '\n', lim - pos);
		const uint8_t *line = buf + pos;
		size_t n;

		if (nl == NULL)
			return len >= SNIFF_CONNECT_MAX ? -1 : 0;
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (pos == 0) {
			if (parse_request_line(line, n, &c) != 0)
				return -1;
		} else if (n == 0) {
			*out = c;
			return (int)(nl - buf + 1);
		} else if (!header_ok(line, n)) {
			return -1;
		}
		pos = (size_t)(nl - buf) + 1;
	}
}

#define HTTP_ERROR(status, length, body)                                     \
	"HTTP/1.1 " status "\r\n"                                            \
	"Content-Type: text/plain\r\n"                                       \
	"Content-Length: " length "\r\n"                                     \
	"Connection: close\r\n"                                              \
	"\r\n" body

const char *
sniff_http_status(int code)
{
	switch (code) {
	case 200:
		return "HTTP/1.1 200 Connection established\r\n\r\n";
	case 400:
		return HTTP_ERROR("400 Bad Request", "26",
		    "malformed CONNECT request\n");
	case 403:
		return HTTP_ERROR("403 Forbidden", "14", "pool disabled\n");
	case 404:
		return HTTP_ERROR("404 Not Found", "13", "unknown pool\n");
	case 503:
		return HTTP_ERROR("503 Service Unavailable", "18",
		    "no pool available\n");
	default:
		return NULL;
	}
}

const char *
sniff_http_not_stratum(void)
{
	return HTTP_ERROR("400 Bad Request", "97",
	    "This is a Stratum mining port, not a web server: point your "
	    "miner at stratum+tcp://<host>:<port>\n");
}

const char *
sniff_kind_name(enum sniff_kind kind)
{
	static const char *const names[SNIFF_KIND_MAX] = {
		[SNIFF_NEED_MORE] = "need-more",
		[SNIFF_STRATUM] = "stratum",
		[SNIFF_HTTP_CONNECT] = "http-connect",
		[SNIFF_HTTP_OTHER] = "http",
		[SNIFF_PROXY_V1] = "proxy-v1",
		[SNIFF_PROXY_V2] = "proxy-v2",
		[SNIFF_TLS] = "tls",
		[SNIFF_UNKNOWN] = "unknown",
	};

	if ((unsigned)kind >= SNIFF_KIND_MAX)
		return "invalid";
	return names[kind];
}
