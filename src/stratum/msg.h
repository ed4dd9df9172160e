/*
 * msg.h: Stratum V1 framing and JSON-RPC messages.
 *
 * Stratum is one JSON object per line ("\n", "\r\n" tolerated). msg_read_line()
 * takes complete lines off a libevent input buffer with a length cap;
 * msg_parse() classifies a line as a request, a notification or a response;
 * the msg_send_*() helpers append a compact JSON line to an output buffer.
 *
 * Used by the proxy and by the simulators in tools/. No global state; any
 * thread may use these on its own buffers.
 */
#ifndef LOKA_STRATUM_MSG_H
#define LOKA_STRATUM_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Default cap of one line; a longer one is a protocol error. */
#define MSG_LINE_MAX_DEFAULT (16 * 1024)

/* Error codes (protocol.md §3). */
#define MSG_ERR_OTHER 20
#define MSG_ERR_JOB_NOT_FOUND 21
#define MSG_ERR_DUPLICATE 22
#define MSG_ERR_LOW_DIFFICULTY 23
#define MSG_ERR_UNAUTHORIZED 24
#define MSG_ERR_NOT_SUBSCRIBED 25
#define MSG_ERR_PARSE (-32700)
#define MSG_ERR_INVALID_REQUEST (-32600)
#define MSG_ERR_METHOD_NOT_FOUND (-32601)
#define MSG_ERR_INVALID_PARAMS (-32602)

enum msg_kind {
	MSG_REQUEST = 0, /* method and a non-null id */
	MSG_NOTIFICATION, /* method, id null or absent */
	MSG_RESPONSE,    /* no method; id, result and/or error */
	MSG_KIND_MAX
};

/* The methods Loka tells apart (counted per method in its metrics). */
enum msg_method {
	MSG_M_SUBSCRIBE = 0,
	MSG_M_AUTHORIZE,
	MSG_M_SUBMIT,
	MSG_M_CONFIGURE,
	MSG_M_SUGGEST_DIFFICULTY,
	MSG_M_EXTRANONCE_SUBSCRIBE,
	MSG_M_NOTIFY,
	MSG_M_SET_DIFFICULTY,
	MSG_M_SET_EXTRANONCE,
	MSG_M_SET_VERSION_MASK,
	MSG_M_RECONNECT,
	MSG_M_SHOW_MESSAGE,
	MSG_M_GET_VERSION,
	MSG_M_PING,
	MSG_M_RESPONSE, /* not a method: an answer */
	MSG_M_OTHER,    /* any other method */
	MSG_M_MAX
};

struct msg {
	json_t *root;   /* owned; the other pointers borrow from it */
	enum msg_kind kind;
	json_t *id;     /* NULL when absent or JSON null */
	const char *method;
	json_t *params; /* an array, or NULL (absent params read as []) */
	json_t *result; /* responses */
	json_t *error;  /* responses: NULL when absent or null */
};

/*
 * msg_read_line(in, max, line, len): take one line off in. Returns 1 with
 * a NUL-terminated *line (caller frees; the "\n" and any "\r" removed), 0 if
 * no complete line is buffered yet and the partial one is within max, -1 if
 * the line (complete or not) is longer than max bytes.
 */
int msg_read_line(struct evbuffer *in, size_t max, char **line, size_t *len);

/*
 * msg_parse(line, len, m, err, errlen): parse one line. Returns 0 and fills
 * *m (release with msg_clear()), or -1 with the JSON-RPC error code to answer
 * (MSG_ERR_PARSE or MSG_ERR_INVALID_REQUEST) and a short reason in err. The
 * nesting depth of the JSON is bounded by jansson (2048 levels).
 */
int msg_parse(const char *line, size_t len, struct msg *m, char *err,
    size_t errlen);
void msg_clear(struct msg *m);

/* Append one message (compact JSON + "\n") to out; takes a reference to
 * nothing (msg stays the caller's). Returns 0 or -1. */
int msg_send(struct evbuffer *out, const json_t *msg);
/* {"id":id,"result":result,"error":null}; steals result. id may be NULL. */
int msg_send_result(struct evbuffer *out, const json_t *id, json_t *result);
/* {"id":id,"result":null,"error":[code,"message",null]} */
int msg_send_error(struct evbuffer *out, const json_t *id, int code,
    const char *message);
/* {"id":id,"method":method,"params":params}; steals params; id NULL means a
 * notification ("id":null). */
int msg_send_request(struct evbuffer *out, const json_t *id,
    const char *method, json_t *params);

/*
 * The usual flat message, scanned without a JSON tree (the share path's
 * submits and verdicts). Spans point into the line; msg_scan_terminate()
 * turns them into C strings in place.
 */
#define MSG_SCAN_PARAMS 8

struct msg_span {
	char *p;
	size_t len;
};

enum msg_scan_value {
	MSG_SCAN_ABSENT = 0,
	MSG_SCAN_NULL,
	MSG_SCAN_TRUE,
	MSG_SCAN_FALSE,
	MSG_SCAN_INT,
	MSG_SCAN_STRING,
	MSG_SCAN_ARRAY, /* params: strings */
	MSG_SCAN_VALUE_MAX
};

struct msg_scan {
	enum msg_scan_value id_type;     /* ABSENT, NULL, INT or STRING */
	int64_t id_int;
	struct msg_span id_str;
	enum msg_scan_value method_type; /* ABSENT or STRING */
	struct msg_span method;
	enum msg_scan_value params_type; /* ABSENT, NULL or ARRAY */
	struct msg_span params[MSG_SCAN_PARAMS];
	size_t nparams;
	enum msg_scan_value result_type; /* ABSENT, NULL, TRUE or FALSE */
	enum msg_scan_value error_type;  /* ABSENT or NULL */
};

/*
 * msg_scan(line, len, sc): 1 when line is one flat JSON object whose keys
 * are among id, method, params, result and error, each once, with plain
 * values: id an integer (at most 18 digits), a string or null; method a
 * string; params null or an array of at most MSG_SCAN_PARAMS strings;
 * result true, false or null; error null. Strings are printable ASCII
 * without escapes. Anything else (other keys, nesting, escapes, numbers
 * with a fraction, a non-null error...) is 0: the caller parses the line
 * with msg_parse(), which then reads it exactly as the scan would have.
 * line is not modified.
 */
int msg_scan(char *line, size_t len, struct msg_scan *sc);
/* NUL-terminate every span of sc in place (each ends at its quote). */
void msg_scan_terminate(struct msg_scan *sc);

/* msg_method_id(method): the method's enum value; NULL is
 * MSG_M_RESPONSE, an unknown name MSG_M_OTHER. msg_method_label(): its
 * name as a metric label ("mining.submit", "response", "other"). */
enum msg_method msg_method_id(const char *method);
const char *msg_method_label(enum msg_method m);

/* Parameter helpers: the string / number at index i of params, or NULL /
 * -1 when absent or of another type. */
const char *msg_param_str(const struct msg *m, size_t i);
int msg_param_double(const struct msg *m, size_t i, double *out);

#endif
