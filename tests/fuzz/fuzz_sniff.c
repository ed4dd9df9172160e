/*
 * fuzz_sniff.c: libFuzzer target for protocol sniffing. Runs the classifier
 * and the PROXY v1, PROXY v2 and HTTP CONNECT parsers on the input and
 * checks their promises: results within bounds and caps, output written only
 * on success and well formed, answers that do not depend on the bytes after
 * a header, every prefix of an accepted header asking for more, a classifier
 * that never changes its mind, and parsers that agree with it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "net/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The headers are capped well below this; longer inputs add nothing. */
#define FUZZ_MAX 8192

typedef int (*parse_fn)(const uint8_t *, size_t, void *);

static int
v1(const uint8_t *b, size_t n, void *out)
{
	return sniff_proxy_v1(b, n, out);
}

static int
v2(const uint8_t *b, size_t n, void *out)
{
	return sniff_proxy_v2(b, n, out);
}

static int
connect_(const uint8_t *b, size_t n, void *out)
{
	return sniff_http_connect(b, n, out);
}

static void
check_proxy(const struct sniff_proxy *p)
{
	if (!p->has_addr)
		return;
	if (p->src.ss_family != p->dst.ss_family)
		abort();
	if (p->src.ss_family == AF_INET) {
		if (p->src_len != sizeof(struct sockaddr_in) ||
		    p->dst_len != sizeof(struct sockaddr_in))
			abort();
	} else if (p->src.ss_family == AF_INET6) {
		if (p->src_len != sizeof(struct sockaddr_in6) ||
		    p->dst_len != sizeof(struct sockaddr_in6))
			abort();
	} else {
		abort();
	}
}

static void
check_connect(const struct sniff_connect *c)
{
	if (memchr(c->host, '\0', sizeof(c->host)) == NULL ||
	    memchr(c->name, '\0', sizeof(c->name)) == NULL)
		abort();
	if (c->has_port) {
		if (c->port == 0 || c->host[0] == '\0')
			abort();
	} else if (c->port != 0 || c->host[0] != '\0' || c->name[0] == '\0') {
		abort();
	}
}

/*
 * Run parse on data and check the tri-state contract; returns its result.
 * out must be large enough for either output struct.
 */
static int
run(parse_fn parse, const uint8_t *data, size_t size, size_t cap,
    void *out, size_t outlen)
{
	unsigned char before[sizeof(struct sniff_connect) +
	    sizeof(struct sniff_proxy)];
	unsigned char again[sizeof(before)];
	int r, r2;

	memset(out, 0xa5, outlen);
	memcpy(before, out, outlen);
	r = parse(data, size, out);
	if (r > 0) {
		if ((size_t)r > size || (size_t)r > cap)
			abort();
		/* The same header alone gives the same answer... */
		r2 = parse(data, (size_t)r, again);
		if (r2 != r || memcmp(again, out, outlen) != 0)
			abort();
		/* ...and one byte less of it is never enough nor an error. */
		if (parse(data, (size_t)r - 1, again) != 0)
			abort();
	} else {
		if (memcmp(before, out, outlen) != 0)
			abort();
		/* Rejection is final: more bytes do not help; a wait
		 * means the shorter input was waiting too. */
		if (r < 0 && size > 0 && parse(data, size - 1, again) > 0)
			abort();
		if (r == 0 && (size >= cap ||
		    (size > 0 && parse(data, size - 1, again) != 0)))
			abort();
	}
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union {
		struct sniff_proxy p;
		struct sniff_connect c;
	} out;
	enum sniff_kind kind, k;
	bool decided = false;
	int r;

	if (size > FUZZ_MAX)
		size = FUZZ_MAX;
	kind = sniff_classify(data, size);
	if ((unsigned)kind >= SNIFF_KIND_MAX)
		abort();
	/* Once decided, every longer prefix gives the same answer. */
	for (size_t n = 0; n <= size && n <= 2 * SNIFF_WS_MAX; n++) {
		k = sniff_classify(data, n);
		if (decided && k != kind)
			abort();
		if (k != SNIFF_NEED_MORE)
			decided = true;
	}

	r = run(v1, data, size, SNIFF_PROXY_V1_MAX, &out.p, sizeof(out.p));
	if (r > 0) {
		check_proxy(&out.p);
		if (kind != SNIFF_PROXY_V1)
			abort();
	}
	r = run(v2, data, size, SNIFF_PROXY_V2_MAX, &out.p, sizeof(out.p));
	if (r > 0) {
		check_proxy(&out.p);
		if (kind != SNIFF_PROXY_V2 || r < SNIFF_PROXY_V2_HDR)
			abort();
	}
	r = run(connect_, data, size, SNIFF_CONNECT_MAX, &out.c,
	    sizeof(out.c));
	if (r > 0) {
		check_connect(&out.c);
		if (kind != SNIFF_HTTP_CONNECT)
			abort();
	}
	return 0;
}
