/*
 * msg.c: Stratum V1 line framing and JSON-RPC classification (see msg.h).
 */
#include "stratum/msg.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

int
msg_read_line(struct evbuffer *in, size_t max, char **line, size_t *len)
{
	struct evbuffer_ptr eol;
	size_t n, avail = evbuffer_get_length(in);
	char *buf;

	eol = evbuffer_search_eol(in, NULL, &n, EVBUFFER_EOL_LF);
	if (eol.pos < 0)
		return avail > max ? -1 : 0;
	if ((size_t)eol.pos > max)
		return -1;
	n = (size_t)eol.pos;
	buf = xmalloc(n + 1);
	evbuffer_remove(in, buf, n);
	evbuffer_drain(in, 1);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*line = buf;
	*len = n;
	return 1;
}

int
msg_parse(const char *line, size_t len, struct msg *m, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root, *method;

	memset(m, 0, sizeof(*m));
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "invalid JSON: %s", jerr.text);
		return MSG_ERR_PARSE;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a message must be a JSON object");
		json_decref(root);
		return MSG_ERR_INVALID_REQUEST;
	}
	m->root = root;
	m->id = json_object_get(root, "id");
	if (json_is_null(m->id))
		m->id = NULL;
	if (m->id != NULL && !json_is_integer(m->id) &&
	    !json_is_string(m->id) && !json_is_real(m->id)) {
		snprintf(err, errlen, "id must be a number, a string or null");
		goto invalid;
	}
	method = json_object_get(root, "method");
	if (method != NULL) {
		if (!json_is_string(method)) {
			snprintf(err, errlen, "method must be a string");
			goto invalid;
		}
		m->method = json_string_value(method);
		m->params = json_object_get(root, "params");
		if (json_is_null(m->params))
			m->params = NULL;
		if (m->params != NULL && !json_is_array(m->params)) {
			snprintf(err, errlen, "params must be an array");
			goto invalid;
		}
		m->kind = m->id != NULL ? MSG_REQUEST : MSG_NOTIFICATION;
		return 0;
	}
	if (m->id == NULL) {
		snprintf(err, errlen, "neither a method nor a response id");
		goto invalid;
	}
	m->kind = MSG_RESPONSE;
	m->result = json_object_get(root, "result");
	m->error = json_object_get(root, "error");
	if (json_is_null(m->error))
		m->error = NULL;
	return 0;
invalid:
	msg_clear(m);
	return MSG_ERR_INVALID_REQUEST;
}

void
msg_clear(struct msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

int
msg_send(struct evbuffer *out, const json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	int rc;

	if (s == NULL)
		return -1;
	rc = evbuffer_add(out, s, strlen(s)) == 0 &&
	    evbuffer_add(out, "\n", 1) == 0 ? 0 : -1;
	free(s);
	return rc;
}

/* Send a message built for the purpose, then release it. */
static int
send_owned(struct evbuffer *out, json_t *m)
{
	int rc;

	if (m == NULL)
		return -1;
	rc = msg_send(out, m);
	json_decref(m);
	return rc;
}

int
msg_send_result(struct evbuffer *out, const json_t *id, json_t *result)
{
	json_t *m = json_pack("{s:O?,s:o?,s:n}", "id", id, "result", result,
	    "error");

	return send_owned(out, m);
}

int
msg_send_error(struct evbuffer *out, const json_t *id, int code,
    const char *message)
{
	json_t *m = json_pack("{s:O?,s:n,s:[i,s,n]}", "id", id, "result",
	    "error", code, message);

	return send_owned(out, m);
}

int
msg_send_request(struct evbuffer *out, const json_t *id, const char *method,
    json_t *params)
{
	json_t *m = json_pack("{s:O?,s:s,s:o}", "id", id, "method", method,
	    "params", params != NULL ? params : json_array());

	return send_owned(out, m);
}

const char *
msg_param_str(const struct msg *m, size_t i)
{
	return json_string_value(json_array_get(m->params, i));
}

int
msg_param_double(const struct msg *m, size_t i, double *out)
{
	json_t *v = json_array_get(m->params, i);

	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static const char *const msg_methods[MSG_M_MAX] = {
	"mining.subscribe", "mining.authorize", "mining.submit",
	"mining.configure", "mining.suggest_difficulty",
	"mining.extranonce.subscribe", "mining.notify",
	"mining.set_difficulty", "mining.set_extranonce",
	"mining.set_version_mask", "client.reconnect", "client.show_message",
	"client.get_version", "mining.ping", "response", "other",
};

enum msg_method
msg_method_id(const char *method)
{
	if (method == NULL)
		return MSG_M_RESPONSE;
	/* Most traffic is submit and notify: try them first. */
	if (strcmp(method, "mining.submit") == 0)
		return MSG_M_SUBMIT;
	if (strcmp(method, "mining.notify") == 0)
		return MSG_M_NOTIFY;
	for (int i = 0; i < MSG_M_RESPONSE; i++)
		if (strcmp(method, msg_methods[i]) == 0)
			return (enum msg_method)i;
	if (strcmp(method, "client.ping") == 0)
		return MSG_M_PING;
	return MSG_M_OTHER;
}

const char *
msg_method_label(enum msg_method m)
{
	return m >= 0 && m < MSG_M_MAX ? msg_methods[m] : "other";
}

/* ---- the flat scan ---- */

static char *
scan_ws(char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	return p;
}

/* A plain string at p (its opening quote); the position after it. */
static char *
scan_str(char *p, const char *end, struct msg_span *out)
{
	char *q;

	if (p >= end || *p != '"')
		return NULL;
	for (q = p + 1; q < end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e ||
		    *q == '\\')
			return NULL;
	if (q >= end)
		return NULL;
	out->p = p + 1;
	out->len = (size_t)(q - p - 1);
	return q + 1;
}

/* A literal (true, false, null) at p, or NULL. */
static char *
scan_lit(char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
		return NULL;
	return p + n;
}

/* An integer of at most 18 digits, no leading zero, no fraction. */
static char *
scan_int(char *p, const char *end, int64_t *out)
{
	bool neg = false;
	int64_t v = 0;
	int digits = 0;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (++digits > 18)
			return NULL;
		v = v * 10 + (*p - '0');
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return NULL;
	*out = neg ? -v : v;
	return p;
}

static char *
scan_params(char *p, const char *end, struct msg_scan *sc)
{
	p = scan_ws(p + 1, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		if (sc->nparams == MSG_SCAN_PARAMS)
			return NULL;
		p = scan_str(p, end, &sc->params[sc->nparams]);
		if (p == NULL)
			return NULL;
		sc->nparams++;
		p = scan_ws(p, end);
		if (p < end && *p == ']')
			return p + 1;
		if (p >= end || *p != ',')
			return NULL;
		p = scan_ws(p + 1, end);
	}
}

/* One value for key k at p; the position after it, or NULL. */
static char *
scan_value(char *p, const char *end, const struct msg_span *k,
    struct msg_scan *sc)
{
#define KEY(name) (k->len == sizeof(name) - 1 && \
	memcmp(k->p, name, sizeof(name) - 1) == 0)
	char *q;

	if (KEY("id") && sc->id_type == MSG_SCAN_ABSENT) {
		if ((q = scan_lit(p, end, "null")) != NULL)
			sc->id_type = MSG_SCAN_NULL;
		else if ((q = scan_str(p, end, &sc->id_str)) != NULL)
			sc->id_type = MSG_SCAN_STRING;
		else if ((q = scan_int(p, end, &sc->id_int)) != NULL)
			sc->id_type = MSG_SCAN_INT;
		return q;
	}
	if (KEY("method") && sc->method_type == MSG_SCAN_ABSENT) {
		sc->method_type = MSG_SCAN_STRING;
		return scan_str(p, end, &sc->method);
	}
	if (KEY("params") && sc->params_type == MSG_SCAN_ABSENT) {
		if ((q = scan_lit(p, end, "null")) != NULL) {
			sc->params_type = MSG_SCAN_NULL;
			return q;
		}
		sc->params_type = MSG_SCAN_ARRAY;
		return p < end && *p == '[' ? scan_params(p, end, sc) : NULL;
	}
	if (KEY("result") && sc->result_type == MSG_SCAN_ABSENT) {
		if ((q = scan_lit(p, end, "true")) != NULL)
			sc->result_type = MSG_SCAN_TRUE;
		else if ((q = scan_lit(p, end, "false")) != NULL)
			sc->result_type = MSG_SCAN_FALSE;
		else if ((q = scan_lit(p, end, "null")) != NULL)
			sc->result_type = MSG_SCAN_NULL;
		return q;
	}
	if (KEY("error") && sc->error_type == MSG_SCAN_ABSENT) {
		sc->error_type = MSG_SCAN_NULL;
		return scan_lit(p, end, "null");
	}
	return NULL; /* another key, or one seen twice */
#undef KEY
}

int
msg_scan(char *line, size_t len, struct msg_scan *sc)
{
	const char *end = line + len;
	char *p = scan_ws(line, end);

	memset(sc, 0, sizeof(*sc));
	if (p >= end || *p != '{')
		return 0;
	p = scan_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0; /* {}: msg_parse says why it is invalid */
	for (;;) {
		struct msg_span key;

		p = scan_str(p, end, &key);
		if (p == NULL)
			return 0;
		p = scan_ws(p, end);
		if (p >= end || *p != ':')
			return 0;
		p = scan_value(scan_ws(p + 1, end), end, &key, sc);
		if (p == NULL)
			return 0;
		p = scan_ws(p, end);
		if (p < end && *p == '}')
			break;
		if (p >= end || *p != ',')
			return 0;
		p = scan_ws(p + 1, end);
	}
	return scan_ws(p + 1, end) == end ? 1 : 0;
}

void
msg_scan_terminate(struct msg_scan *sc)
{
	if (sc->id_type == MSG_SCAN_STRING)
		sc->id_str.p[sc->id_str.len] = '\0';
	if (sc->method_type == MSG_SCAN_STRING)
		sc->method.p[sc->method.len] = '\0';
	for (size_t i = 0; i < sc->nparams; i++)
		sc->params[i].p[sc->params[i].len] = '\0';
}
