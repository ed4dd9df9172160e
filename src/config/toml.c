/*
 * toml.c: the TOML 1.0.0 parser (see toml.h).
 *
 * Design: one pass of hand-written recursive descent over the bytes, after
 * a first pass that checks the whole document is strict UTF-8 (so later code
 * may copy any byte >= 0x80 as is). Values are inserted into the tree as
 * soon as they are parsed; the flags kept on tables and arrays (see
 * toml_internal.h) enforce the redefinition rules:
 *   - a [header] may define a table that only existed as the parent of an
 *     earlier header (IMPLICIT), never one defined by a header, by dotted
 *     keys (DOTTED) or inline (INLINE);
 *   - header paths may pass through any table but an inline one, and
 *     through an array only if it came from [[...]] (its last element);
 *   - dotted keys may only pass through tables that dotted keys created,
 *     or that so far only exist as the parent of a header (these then
 *     count as created by dotted keys: "[a.b.c] [a] b.d = 1" is allowed,
 *     as in the spec's wording and other parsers, "[a.b]" after it is not).
 * Recursion (arrays, inline tables) is bounded by TOML_MAX_DEPTH, which
 * caps the depth of the whole tree. Line and column are computed lazily
 * from byte offsets with a forward-moving cache, so only values and errors
 * pay for them. The first error stops the parse; the tree built so far is
 * freed.
 */
#include "config/toml_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

struct keypart {
	char *s;        /* malloc'd, NUL-terminated; NULL once given away */
	size_t len;
};

struct keypath {
	struct keypart *parts;
	size_t n, cap;
	size_t pos;     /* where the key starts */
	int line, col;
};

struct parser {
	const char *s;
	size_t len, pos;
	size_t start;           /* after a BOM */
	struct toml_error *err;
	bool failed;
	size_t lc_pos;          /* line/column cache */
	size_t lc_bol;
	int lc_line;
	struct toml_value *root;
	struct toml_value *cur; /* table the key/values go into */
	char *buf;              /* string scratch buffer */
	size_t buflen, bufcap;
};

static struct toml_value *parse_value(struct parser *, int);
static int parse_keyval(struct parser *, struct toml_value *);

static void
linecol(struct parser *p, size_t pos, int *line, int *col)
{
	size_t c;

	if (pos > p->len)
		pos = p->len;
	if (p->lc_line != 0 && pos < p->lc_pos && pos >= p->lc_bol) {
		/* Back on the cached line: no need to move. */
		c = pos - p->lc_bol + 1;
		*line = p->lc_line;
		*col = c > INT_MAX ? INT_MAX : (int)c;
		return;
	}
	if (pos < p->lc_pos || p->lc_line == 0) {
		p->lc_pos = p->start;
		p->lc_bol = p->start;
		p->lc_line = 1;
		if (pos < p->start)
			pos = p->start;
	}
	for (; p->lc_pos < pos; p->lc_pos++) {
		if (p->s[p->lc_pos] == '\n') {
			if (p->lc_line < INT_MAX)
				p->lc_line++;
			p->lc_bol = p->lc_pos + 1;
		}
	}
	c = pos - p->lc_bol + 1;
	*line = p->lc_line;
	*col = c > INT_MAX ? INT_MAX : (int)c;
}

static int
error_at(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
error_at(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;
	int line, col;

	if (p->failed)
		return -1;
	p->failed = true;
	if (p->err == NULL)
		return -1;
	linecol(p, pos, &line, &col);
	p->err->line = line;
	p->err->col = col;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A printable description of the byte at pos, for messages. */
static const char *
describe(struct parser *p, size_t pos, char *buf, size_t size)
{
	unsigned char c;

	if (pos >= p->len)
		return "end of file";
	c = (unsigned char)p->s[pos];
	if (c == '\n' || c == '\r')
		return "end of line";
	if (c > 0x20 && c < 0x7f && c != '\'')
		snprintf(buf, size, "'%c'", c);
	else if (c == '\'')
		snprintf(buf, size, "\"'\"");
	else if (c == ' ')
		snprintf(buf, size, "space");
	else if (c < 0x80)
		snprintf(buf, size, "control character U+%04X", c);
	else
		snprintf(buf, size, "non-ASCII character");
	return buf;
}

static int
unexpected(struct parser *p, const char *what)
{
	char d[40];

	return error_at(p, p->pos, "expected %s, found %s", what,
	    describe(p, p->pos, d, sizeof(d)));
}

/* Copy a key for a message: control bytes shown as '?', long keys cut. */
static void
key_text(const char *k, size_t len, char *buf, size_t size)
{
	size_t i, o = 0, max = 48;
	bool cut = false;

	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)k[len] & 0xc0) == 0x80)
			len--;
		cut = true;
	}
	for (i = 0; i < len && o + 4 < size; i++) {
		unsigned char c = (unsigned char)k[i];

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* The dotted key parts [0, upto] as text for messages. */
static const char *
path_text(const struct keypath *kp, size_t upto, char *buf, size_t size)
{
	char part[64];
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i <= upto && i < kp->n; i++) {
		key_text(kp->parts[i].s, kp->parts[i].len, part, sizeof(part));
		n = snprintf(buf + o, size - o, "%s%s", i ? "." : "", part);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	return buf;
}

static void
keypath_free(struct keypath *kp)
{
	size_t i;

	for (i = 0; i < kp->n; i++)
		free(kp->parts[i].s);
	free(kp->parts);
	memset(kp, 0, sizeof(*kp));
}

/* Scratch buffer. */

static void
buf_grow(struct parser *p, size_t more)
{
	size_t cap = p->bufcap ? p->bufcap : 64;

	if (p->buflen + more + 1 <= p->bufcap)
		return;
	while (cap < p->buflen + more + 1)
		cap *= 2;
	p->buf = xreallocarray(p->buf, cap, 1);
	p->bufcap = cap;
}

static void
buf_add(struct parser *p, const char *s, size_t n)
{
	buf_grow(p, n);
	memcpy(p->buf + p->buflen, s, n);
	p->buflen += n;
	p->buf[p->buflen] = '\0';
}

static void
buf_addc(struct parser *p, char c)
{
	buf_add(p, &c, 1);
}

/* The scratch buffer as a new string. */
static char *
buf_dup(struct parser *p)
{
	char *s = xmalloc(p->buflen + 1);

	if (p->buflen > 0)
		memcpy(s, p->buf, p->buflen);
	s[p->buflen] = '\0';
	return s;
}

/* Characters. */

static int
peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int
peek_at(const struct parser *p, size_t off)
{
	return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_bare(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    is_digit(c) || c == '_' || c == '-';
}

/* A byte that TOML never allows raw in strings or comments. */
static bool
is_bad_control(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

/* At '#': skip the comment up to (not over) the end of line. */
static int
skip_comment(struct parser *p)
{
	int c;

	for (p->pos++; (c = peek(p)) != -1 && c != '\n'; p->pos++) {
		if (c == '\r' && peek_at(p, 1) == '\n')
			break;
		if (c == '\r')
			return error_at(p, p->pos, "bare carriage return");
		if (is_bad_control(c))
			return error_at(p, p->pos,
			    "control character U+%04X in comment", c);
	}
	return 0;
}

/* Consume one newline (LF or CRLF); 1 if none there, -1 on a bare CR. */
static int
eat_newline(struct parser *p)
{
	if (peek(p) == '\n') {
		p->pos++;
		return 0;
	}
	if (peek(p) == '\r') {
		if (peek_at(p, 1) == '\n') {
			p->pos += 2;
			return 0;
		}
		return error_at(p, p->pos, "bare carriage return");
	}
	return 1;
}

/* Whitespace, newlines and comments (inside arrays). */
static int
skip_ws_nl(struct parser *p)
{
	int r;

	for (;;) {
		skip_ws(p);
		if (peek(p) == '#' && skip_comment(p) == -1)
			return -1;
		if ((r = eat_newline(p)) == -1)
			return -1;
		if (r == 1)
			return 0;
	}
}

static int
check_utf8(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t i = p->start, n, k;
	unsigned char c, lo, hi;

	while (i < p->len) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;      /* overlong */
			else if (c == 0xed)
				hi = 0x9f;      /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;      /* overlong */
			else if (c == 0xf4)
				hi = 0x8f;      /* > U+10FFFF */
		} else
			return error_at(p, i, "invalid UTF-8");
		if (n > p->len - i)
			return error_at(p, i, "invalid UTF-8 (truncated)");
		if (s[i + 1] < lo || s[i + 1] > hi)
			return error_at(p, i, "invalid UTF-8");
		for (k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return error_at(p, i, "invalid UTF-8");
		i += n;
	}
	return 0;
}

/* Strings. */

static void
buf_add_utf8(struct parser *p, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		buf_addc(p, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(p, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(p, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(p, u, 4);
	}
}

/* At '\\' in a basic string: decode one escape into the buffer. */
static int
parse_escape(struct parser *p, bool ml)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	const char *e;
	size_t at = p->pos, n, i;
	uint32_t cp = 0;
	int c = peek_at(p, 1), h;

	p->pos += 2;
	if (c > 0 && (e = strchr(from, c)) != NULL) {
		buf_addc(p, to[e - from]);
		return 0;
	}
	switch (c) {
	case 'u':
	case 'U':
		n = c == 'u' ? 4 : 8;
		for (i = 0; i < n; i++) {
			h = peek(p);
			if (is_digit(h))
				h -= '0';
			else if (h >= 'a' && h <= 'f')
				h -= 'a' - 10;
			else if (h >= 'A' && h <= 'F')
				h -= 'A' - 10;
			else
				return error_at(p, at, "invalid escape: \\%c "
				    "needs %zu hex digits", c, n);
			cp = cp << 4 | (uint32_t)h;
			p->pos++;
		}
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return error_at(p, at, "invalid escape: U+%04lX is not "
			    "a Unicode scalar value", (unsigned long)cp);
		buf_add_utf8(p, cp);
		return 0;
	case ' ':
	case '\t':
	case '\n':
	case '\r':
		if (!ml)
			break;
		/* Line-ending backslash: only whitespace up to the newline. */
		p->pos--;
		skip_ws(p);
		if (peek(p) != '\n' && peek(p) != '\r')
			break;
		for (;;) {
			skip_ws(p);
			if ((h = eat_newline(p)) == -1)
				return -1;
			if (h == 1)
				return 0;
		}
	case -1:
		return error_at(p, at, "unterminated string");
	default:
		break;
	}
	if (c > 0x20 && c < 0x7f)
		return error_at(p, at, "invalid escape '\\%c'", c);
	return error_at(p, at, "invalid escape: backslash followed by %s",
	    c == ' ' ? "space" : c == '\t' ? "tab" : "a control character or "
	    "non-ASCII character");
}

/*
 * At the opening quote of any string: decode it into the buffer.
 * Multi-line forms only if allow_ml (not in keys).
 */
static int
parse_string(struct parser *p, bool allow_ml)
{
	size_t start = p->pos, n;
	int q = peek(p), c;
	bool ml;

	ml = allow_ml && peek_at(p, 1) == q && peek_at(p, 2) == q;
	p->buflen = 0;
	buf_grow(p, 0);
	p->buf[0] = '\0';
	p->pos += ml ? 3 : 1;
	if (ml) {
		if (peek(p) == '\n')
			p->pos++;
		else if (peek(p) == '\r' && peek_at(p, 1) == '\n')
			p->pos += 2;
	}
	for (;;) {
		c = peek(p);
		if (c == -1)
			return error_at(p, start, "unterminated string");
		if (c == q) {
			if (!ml) {
				p->pos++;
				return 0;
			}
			for (n = 0; peek_at(p, n) == q; n++)
				;
			if (n >= 3) {
				if (n > 5)
					return error_at(p, p->pos + 5, "too many "
					    "quotes at the end of a multi-line "
					    "string");
				buf_add(p, p->s + p->pos, n - 3);
				p->pos += n;
				return 0;
			}
			buf_add(p, p->s + p->pos, n);
			p->pos += n;
			continue;
		}
		if (c == '\\' && q == '"') {
			if (parse_escape(p, ml) == -1)
				return -1;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if (!ml)
				return error_at(p, start, "unterminated string");
			if (eat_newline(p) == -1)
				return -1;
			buf_addc(p, '\n');
			continue;
		}
		if (is_bad_control(c))
			return error_at(p, p->pos,
			    "control character U+%04X in string", c);
		for (n = 1; p->pos + n < p->len; n++) {
			c = (unsigned char)p->s[p->pos + n];
			if (c == q || c == '\\' || is_bad_control(c))
				break;
		}
		buf_add(p, p->s + p->pos, n);
		p->pos += n;
	}
}

/* Keys. */

static int
parse_simple_key(struct parser *p, struct keypath *kp)
{
	struct keypart *kpt;
	size_t start = p->pos;
	int c = peek(p);

	if (kp->n >= TOML_MAX_DEPTH)
		return error_at(p, p->pos, "key has too many parts "
		    "(limit %d)", TOML_MAX_DEPTH);
	if (kp->n == kp->cap) {
		kp->cap = kp->cap ? kp->cap * 2 : 4;
		kp->parts = xreallocarray(kp->parts, kp->cap,
		    sizeof(*kp->parts));
	}
	if (c == '"' || c == '\'') {
		if (parse_string(p, false) == -1)
			return -1;
	} else if (is_bare(c)) {
		while (is_bare(peek(p)))
			p->pos++;
		p->buflen = 0;
		buf_add(p, p->s + start, p->pos - start);
	} else
		return unexpected(p, "a key");
	kpt = &kp->parts[kp->n++];
	kpt->s = buf_dup(p);
	kpt->len = p->buflen;
	return 0;
}

/* A dotted key, with whitespace skipped on both sides. */
static int
parse_key(struct parser *p, struct keypath *kp)
{
	skip_ws(p);
	kp->pos = p->pos;
	linecol(p, p->pos, &kp->line, &kp->col);
	for (;;) {
		skip_ws(p);
		if (parse_simple_key(p, kp) == -1)
			return -1;
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		p->pos++;
	}
}

/* Numbers, dates and times. */

static int
days_in_month(int year, int month)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* n decimal digits at pos + off, or -1. */
static int
fixed_digits(const struct parser *p, size_t off, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(peek_at(p, off + i)))
			return -1;
		v = v * 10 + (peek_at(p, off + i) - '0');
	}
	return v;
}

/* HH:MM:SS[.frac] at p->pos. */
static int
parse_time(struct parser *p, struct toml_datetime *dt)
{
	size_t start = p->pos;
	int c;

	dt->hour = fixed_digits(p, 0, 2);
	dt->minute = fixed_digits(p, 3, 2);
	dt->second = fixed_digits(p, 6, 2);
	if (dt->hour < 0 || peek_at(p, 2) != ':' || dt->minute < 0 ||
	    peek_at(p, 5) != ':' || dt->second < 0)
		return error_at(p, start, "invalid time (expected HH:MM:SS)");
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return error_at(p, start, "time out of range");
	p->pos += 8;
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p)))
			return error_at(p, p->pos, "expected digits after "
			    "'.' in time");
		while (is_digit(c = peek(p))) {
			if (dt->frac_digits < 9) {
				dt->nanosecond = dt->nanosecond * 10 + (c - '0');
				dt->frac_digits++;
			}
			p->pos++;
		}
		for (c = dt->frac_digits; c < 9; c++)
			dt->nanosecond *= 10;
	}
	return 0;
}

static struct toml_value *
parse_datetime(struct parser *p, int line, int col)
{
	struct toml_datetime dt;
	struct toml_value *v;
	enum toml_type type = TOML_TIME_LOCAL;
	size_t start = p->pos;
	int c, oh, om;

	memset(&dt, 0, sizeof(dt));
	if (peek_at(p, 2) == ':') {
		if (parse_time(p, &dt) == -1)
			return NULL;
		goto done;
	}
	dt.year = fixed_digits(p, 0, 4);
	dt.month = fixed_digits(p, 5, 2);
	dt.day = fixed_digits(p, 8, 2);
	if (dt.year < 0 || peek_at(p, 4) != '-' || dt.month < 0 ||
	    peek_at(p, 7) != '-' || dt.day < 0) {
		error_at(p, start, "invalid date (expected YYYY-MM-DD)");
		return NULL;
	}
	if (dt.month < 1 || dt.month > 12 || dt.day < 1 ||
	    dt.day > days_in_month(dt.year, dt.month)) {
		error_at(p, start, "date out of range");
		return NULL;
	}
	p->pos += 10;
	type = TOML_DATE_LOCAL;
	c = peek(p);
	if (c == 'T' || c == 't' || (c == ' ' && is_digit(peek_at(p, 1)))) {
		p->pos++;
		if (parse_time(p, &dt) == -1)
			return NULL;
		type = TOML_DATETIME_LOCAL;
		c = peek(p);
		if (c == 'Z' || c == 'z') {
			p->pos++;
			type = TOML_DATETIME;
		} else if (c == '+' || c == '-') {
			oh = fixed_digits(p, 1, 2);
			om = fixed_digits(p, 4, 2);
			if (oh < 0 || peek_at(p, 3) != ':' || om < 0) {
				error_at(p, p->pos, "invalid UTC offset "
				    "(expected +HH:MM)");
				return NULL;
			}
			if (oh > 23 || om > 59) {
				error_at(p, p->pos, "UTC offset out of range");
				return NULL;
			}
			dt.offset_minutes = (oh * 60 + om) * (c == '-' ? -1 : 1);
			p->pos += 6;
			type = TOML_DATETIME;
		}
	}
done:
	c = peek(p);
	if (is_bare(c) || c == '.' || c == ':' || c == '+') {
		error_at(p, start, "invalid date or time");
		return NULL;
	}
	v = toml_value_new(type, line, col);
	v->u.dt = dt;
	return v;
}

/*
 * Digits of the given base with single underscores between them, the whole
 * of t[0, n). Sets *out (saturated) and *overflow. -1 if malformed.
 */
static int
scan_uint(const char *t, size_t n, int base, uint64_t *out, bool *overflow)
{
	uint64_t v = 0;
	bool prev_us = true;
	size_t i;
	int d;

	*overflow = false;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (t[i] == '_') {
			if (prev_us)
				return -1;
			prev_us = true;
			continue;
		}
		if (is_digit(t[i]))
			d = t[i] - '0';
		else if (t[i] >= 'a' && t[i] <= 'f')
			d = t[i] - 'a' + 10;
		else if (t[i] >= 'A' && t[i] <= 'F')
			d = t[i] - 'A' + 10;
		else
			return -1;
		if (d >= base)
			return -1;
		prev_us = false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			*overflow = true;
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (prev_us)
		return -1;
	*out = v;
	return 0;
}

/* Add the digits of t[0, n) to the buffer, dropping underscores. */
static void
buf_add_digits(struct parser *p, const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] != '_')
			buf_addc(p, t[i]);
}

/* A float with its sign stripped: t[0, n). */
static int
parse_float(struct parser *p, size_t start, const char *t, size_t n,
    double *out)
{
	size_t i = 0, j;
	uint64_t dummy;
	bool ovf;
	char *end;

	p->buflen = 0;
	while (i < n && t[i] != '.' && t[i] != 'e' && t[i] != 'E')
		i++;
	if (scan_uint(t, i, 10, &dummy, &ovf) == -1)
		return error_at(p, start, "invalid float");
	if (t[0] == '0' && i > 1)
		return error_at(p, start, "leading zeros are not allowed");
	buf_add_digits(p, t, i);
	if (i < n && t[i] == '.') {
		for (j = ++i; j < n && t[j] != 'e' && t[j] != 'E'; j++)
			;
		if (scan_uint(t + i, j - i, 10, &dummy, &ovf) == -1)
			return error_at(p, start, "invalid float: expected "
			    "digits after '.'");
		buf_addc(p, '.');
		buf_add_digits(p, t + i, j - i);
		i = j;
	}
	if (i < n) {            /* at 'e' or 'E' */
		buf_addc(p, 'e');
		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			buf_addc(p, t[i++]);
		if (scan_uint(t + i, n - i, 10, &dummy, &ovf) == -1)
			return error_at(p, start, "invalid float exponent");
		buf_add_digits(p, t + i, n - i);
	}
	errno = 0;
	*out = strtod(p->buf, &end);
	if (end != p->buf + p->buflen)
		return error_at(p, start, "invalid float");
	if (errno == ERANGE && isinf(*out))
		return error_at(p, start, "float out of range");
	return 0;
}

static struct toml_value *
parse_number(struct parser *p, int line, int col)
{
	struct toml_value *v;
	size_t start = p->pos, n, i = 0;
	const char *t = p->s + start;
	uint64_t u = 0;
	bool neg = false, ovf;
	int base = 10, c;
	double f = 0.0;

	while ((c = peek(p)) != -1 && (is_bare(c) || c == '.' || c == '+'))
		p->pos++;
	n = p->pos - start;
	if (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-';
		i = 1;
	}
	if (n - i == 3 && (memcmp(t + i, "inf", 3) == 0 ||
	    memcmp(t + i, "nan", 3) == 0)) {
		f = t[i] == 'i' ? INFINITY : NAN;
		goto is_float;
	}
	if (i == 0 && n > 2 && t[0] == '0' &&
	    (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
		base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
		i = 2;
	} else if (memchr(t + i, '.', n - i) != NULL ||
	    memchr(t + i, 'e', n - i) != NULL ||
	    memchr(t + i, 'E', n - i) != NULL) {
		if (parse_float(p, start, t + i, n - i, &f) == -1)
			return NULL;
		goto is_float;
	}
	if (scan_uint(t + i, n - i, base, &u, &ovf) == -1) {
		error_at(p, start, "invalid %s", base == 10 ? "number" :
		    "integer");
		return NULL;
	}
	if (base == 10 && t[i] == '0' && n - i > 1) {
		error_at(p, start, "leading zeros are not allowed");
		return NULL;
	}
	if (ovf || u > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
		error_at(p, start, "integer out of range");
		return NULL;
	}
	v = toml_value_new(TOML_INTEGER, line, col);
	if (neg)
		v->u.i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	else
		v->u.i = (int64_t)u;
	return v;
is_float:
	if (neg)
		f = -f;
	v = toml_value_new(TOML_FLOAT, line, col);
	v->u.f = f;
	return v;
}

/* Arrays and inline tables. */

static struct toml_value *
parse_array(struct parser *p, int depth, int line, int col)
{
	struct toml_value *a, *v;
	size_t start = p->pos;

	a = toml_value_new(TOML_ARRAY, line, col);
	a->depth = depth;
	p->pos++;
	for (;;) {
		if (skip_ws_nl(p) == -1)
			goto fail;
		if (peek(p) == ']')
			break;
		if (peek(p) == -1) {
			error_at(p, start, "unterminated array");
			goto fail;
		}
		if ((v = parse_value(p, depth + 1)) == NULL)
			goto fail;
		toml_array_push(a, v);
		if (skip_ws_nl(p) == -1)
			goto fail;
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']')
			break;
		if (peek(p) == -1)
			error_at(p, start, "unterminated array");
		else
			unexpected(p, "',' or ']' in array");
		goto fail;
	}
	p->pos++;
	return a;
fail:
	toml_free(a);
	return NULL;
}

static struct toml_value *
parse_inline_table(struct parser *p, int depth, int line, int col)
{
	struct toml_value *t;
	size_t start = p->pos;

	t = toml_value_new(TOML_TABLE, line, col);
	t->depth = depth;
	p->pos++;
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		goto done;
	}
	for (;;) {
		skip_ws(p);
		if (peek(p) == '}') {
			error_at(p, p->pos, "trailing comma not allowed in "
			    "inline table");
			goto fail;
		}
		if (peek(p) == '\n' || peek(p) == '\r') {
			error_at(p, p->pos, "newline not allowed in inline "
			    "table");
			goto fail;
		}
		if (parse_keyval(p, t) == -1)
			goto fail;
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == '}') {
			p->pos++;
			break;
		}
		if (peek(p) == -1)
			error_at(p, start, "unterminated inline table");
		else if (peek(p) == '\n' || peek(p) == '\r')
			error_at(p, p->pos, "newline not allowed in inline "
			    "table");
		else
			unexpected(p, "',' or '}' in inline table");
		goto fail;
	}
done:
	t->flags |= TOML_F_INLINE;
	return t;
fail:
	toml_free(t);
	return NULL;
}

static struct toml_value *
parse_value(struct parser *p, int depth)
{
	struct toml_value *v;
	int line, col, c = peek(p);
	size_t n;

	if (depth > TOML_MAX_DEPTH) {
		error_at(p, p->pos, "nesting too deep (limit %d)",
		    TOML_MAX_DEPTH);
		return NULL;
	}
	linecol(p, p->pos, &line, &col);
	switch (c) {
	case '"':
	case '\'':
		if (parse_string(p, true) == -1)
			return NULL;
		v = toml_value_new(TOML_STRING, line, col);
		v->u.str.ptr = buf_dup(p);
		v->u.str.len = p->buflen;
		return v;
	case '[':
		return parse_array(p, depth, line, col);
	case '{':
		return parse_inline_table(p, depth, line, col);
	case 't':
	case 'f':
		n = c == 't' ? 4 : 5;
		if (p->len - p->pos < n || memcmp(p->s + p->pos,
		    c == 't' ? "true" : "false", n) != 0 ||
		    is_bare(peek_at(p, n)))
			break;
		p->pos += n;
		v = toml_value_new(TOML_BOOL, line, col);
		v->u.b = c == 't';
		return v;
	default:
		if (is_digit(c) && is_digit(peek_at(p, 1)) &&
		    (peek_at(p, 2) == ':' || (is_digit(peek_at(p, 2)) &&
		    is_digit(peek_at(p, 3)) && peek_at(p, 4) == '-')))
			return parse_datetime(p, line, col);
		if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
			return parse_number(p, line, col);
		break;
	}
	if (c == -1 || c == '\n' || c == '\r' || c == '#')
		unexpected(p, "a value");
	else
		error_at(p, p->pos, "invalid value");
	return NULL;
}

/* Tables. */

static int
redefined(struct parser *p, const struct keypath *kp, size_t i,
    const struct toml_value *old, const char *prefix, const char *suffix)
{
	char path[200];

	return error_at(p, kp->pos, "%s '%s'%s (first defined on line %d)",
	    prefix, path_text(kp, i, path, sizeof(path)), suffix, old->line);
}

/* Make a table or array and insert it under key part i (given away). */
static struct toml_value *
attach(struct parser *p, struct toml_value *parent, struct keypath *kp,
    size_t i, enum toml_type type, unsigned flags)
{
	struct toml_value *v;

	if (parent->depth + 1 > TOML_MAX_DEPTH) {
		error_at(p, kp->pos, "nesting too deep (limit %d)",
		    TOML_MAX_DEPTH);
		return NULL;
	}
	v = toml_value_new(type, kp->line, kp->col);
	v->flags = flags;
	v->depth = parent->depth + 1;
	toml_table_insert(parent, kp->parts[i].s, kp->parts[i].len, v);
	kp->parts[i].s = NULL;
	return v;
}

/* key = value, into table t (a section's table or an inline table). */
static int
parse_keyval(struct parser *p, struct toml_value *t)
{
	struct keypath kp;
	struct toml_value *v;
	size_t i, last;

	memset(&kp, 0, sizeof(kp));
	if (parse_key(p, &kp) == -1)
		goto fail;
	if (peek(p) != '=') {
		unexpected(p, "'=' after key");
		goto fail;
	}
	p->pos++;
	skip_ws(p);
	last = kp.n - 1;
	for (i = 0; i < last; i++) {
		v = toml_table_find(t, kp.parts[i].s, kp.parts[i].len);
		if (v == NULL) {
			v = attach(p, t, &kp, i, TOML_TABLE, TOML_F_DOTTED);
			if (v == NULL)
				goto fail;
		} else if (v->type != TOML_TABLE) {
			redefined(p, &kp, i, v, "key", " is not a table");
			goto fail;
		} else if (v->flags & TOML_F_INLINE) {
			redefined(p, &kp, i, v, "cannot extend inline table",
			    "");
			goto fail;
		} else if (v->flags == TOML_F_IMPLICIT) {
			/* Never defined, only named by a header: take it. */
			v->flags = TOML_F_DOTTED;
		} else if (!(v->flags & TOML_F_DOTTED)) {
			redefined(p, &kp, i, v, "dotted key cannot extend "
			    "table", "");
			goto fail;
		}
		t = v;
	}
	if ((v = toml_table_find(t, kp.parts[last].s,
	    kp.parts[last].len)) != NULL) {
		redefined(p, &kp, last, v, "duplicate key", "");
		goto fail;
	}
	if ((v = parse_value(p, t->depth + 1)) == NULL)
		goto fail;
	v->line = kp.line;
	v->col = kp.col;
	toml_table_insert(t, kp.parts[last].s, kp.parts[last].len, v);
	kp.parts[last].s = NULL;
	keypath_free(&kp);
	return 0;
fail:
	keypath_free(&kp);
	return -1;
}

/* The last key of a [header]: the table it defines, or NULL. */
static struct toml_value *
header_table(struct parser *p, struct toml_value *t, struct keypath *kp)
{
	size_t last = kp->n - 1;
	struct toml_value *v;

	v = toml_table_find(t, kp->parts[last].s, kp->parts[last].len);
	if (v == NULL)
		return attach(p, t, kp, last, TOML_TABLE, TOML_F_DEFINED);
	if (v->type == TOML_TABLE && v->flags == TOML_F_IMPLICIT) {
		v->flags = TOML_F_DEFINED;
		v->line = kp->line;
		v->col = kp->col;
		return v;
	}
	if (v->type == TOML_ARRAY && (v->flags & TOML_F_AOT))
		redefined(p, kp, last, v, "table", " is already an array of "
		    "tables");
	else if (v->type != TOML_TABLE)
		redefined(p, kp, last, v, "duplicate key", "");
	else if (v->flags & TOML_F_INLINE)
		redefined(p, kp, last, v, "table", " already defined inline");
	else if (v->flags & TOML_F_DOTTED)
		redefined(p, kp, last, v, "table", " already defined by dotted "
		    "keys");
	else
		redefined(p, kp, last, v, "table", " defined twice");
	return NULL;
}

/* The last key of a [[header]]: the new element table, or NULL. */
static struct toml_value *
header_array_table(struct parser *p, struct toml_value *t,
    struct keypath *kp)
{
	size_t last = kp->n - 1;
	struct toml_value *v, *e;

	v = toml_table_find(t, kp->parts[last].s, kp->parts[last].len);
	if (v != NULL && (v->type != TOML_ARRAY || !(v->flags & TOML_F_AOT))) {
		if (v->type == TOML_ARRAY)
			redefined(p, kp, last, v, "cannot append to static "
			    "array", "");
		else
			redefined(p, kp, last, v, "duplicate key", "");
		return NULL;
	}
	if (t->depth + 2 > TOML_MAX_DEPTH) {
		error_at(p, kp->pos, "nesting too deep (limit %d)",
		    TOML_MAX_DEPTH);
		return NULL;
	}
	if (v == NULL)
		v = attach(p, t, kp, last, TOML_ARRAY, TOML_F_AOT);
	e = toml_value_new(TOML_TABLE, kp->line, kp->col);
	e->flags = TOML_F_DEFINED;
	e->depth = v->depth + 1;
	toml_array_push(v, e);
	return e;
}

/* [a.b.c] or [[a.b.c]]: make p->cur the table the header names. */
static int
parse_header(struct parser *p)
{
	struct keypath kp;
	struct toml_value *t = p->root, *v;
	bool aot = peek_at(p, 1) == '[';
	size_t i, hpos = p->pos;
	int line, col;

	memset(&kp, 0, sizeof(kp));
	linecol(p, hpos, &line, &col);
	p->pos += aot ? 2 : 1;
	if (parse_key(p, &kp) == -1)
		goto fail;
	if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
		unexpected(p, aot ? "']]' to close the table header" :
		    "']' to close the table header");
		goto fail;
	}
	p->pos += aot ? 2 : 1;
	kp.pos = hpos;
	kp.line = line;
	kp.col = col;
	for (i = 0; i + 1 < kp.n; i++) {
		v = toml_table_find(t, kp.parts[i].s, kp.parts[i].len);
		if (v == NULL) {
			v = attach(p, t, &kp, i, TOML_TABLE, TOML_F_IMPLICIT);
			if (v == NULL)
				goto fail;
		} else if (v->type == TOML_ARRAY && (v->flags & TOML_F_AOT)) {
			v = v->u.arr.items[v->u.arr.len - 1];
		} else if (v->type == TOML_ARRAY) {
			redefined(p, &kp, i, v, "cannot extend static array",
			    "");
			goto fail;
		} else if (v->type != TOML_TABLE) {
			redefined(p, &kp, i, v, "key", " is not a table");
			goto fail;
		} else if (v->flags & TOML_F_INLINE) {
			redefined(p, &kp, i, v, "cannot extend inline table",
			    "");
			goto fail;
		}
		t = v;
	}
	v = aot ? header_array_table(p, t, &kp) : header_table(p, t, &kp);
	if (v == NULL)
		goto fail;
	p->cur = v;
	keypath_free(&kp);
	return 0;
fail:
	keypath_free(&kp);
	return -1;
}

static int
parse_document(struct parser *p)
{
	int c, r;

	for (;;) {
		skip_ws(p);
		c = peek(p);
		if (c == -1)
			return 0;
		if (c == '[') {
			if (parse_header(p) == -1)
				return -1;
		} else if (c != '#' && c != '\n' && c != '\r') {
			if (parse_keyval(p, p->cur) == -1)
				return -1;
		}
		skip_ws(p);
		if (peek(p) == '#' && skip_comment(p) == -1)
			return -1;
		if ((r = eat_newline(p)) == -1)
			return -1;
		if (r == 1 && peek(p) != -1)
			return unexpected(p, c == '[' ? "end of line after "
			    "table header" : "end of line after value");
	}
}

struct toml_value *
toml_parse(const char *text, size_t len, struct toml_error *err)
{
	struct parser p;
	int r;

	memset(&p, 0, sizeof(p));
	p.s = text != NULL ? text : "";
	p.len = text != NULL ? len : 0;
	p.err = err;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (p.len >= 3 && memcmp(p.s, "\xef\xbb\xbf", 3) == 0)
		p.start = p.pos = 3;
	p.root = toml_value_new(TOML_TABLE, 1, 1);
	p.root->flags = TOML_F_DEFINED;
	p.cur = p.root;
	r = check_utf8(&p);
	if (r == 0)
		r = parse_document(&p);
	free(p.buf);
	if (r == -1) {
		toml_free(p.root);
		return NULL;
	}
	return p.root;
}
