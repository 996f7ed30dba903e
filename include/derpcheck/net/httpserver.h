/*
 * A small HTTP/1.1 server for the exporter (`derpcheck exporter`): one thread, one poll()
 * loop, non-blocking sockets, bounded everywhere. It answers GET and HEAD only (405 with
 * Allow otherwise), never reads a request body (one is refused), closes every connection
 * after its response (Connection: close: no keep-alive to hold slots open), and limits
 * what a client can take: a request head of 8 KiB within --read-timeout, a number of
 * connections (the one over the limit gets 503 at once), and the time a response may take
 * to be written.
 *
 * Answers come from a handler, called on the loop's thread with the parsed request: it
 * either fills the response at once, or keeps the connection's id and answers later from
 * any thread (dc_httpd_answer), for work that must not block the loop (a probe on demand).
 * A connection whose deferred answer does not come within wait_timeout_ms gets 503.
 *
 * The request parser is a pure function, fuzzed on its own (tests/fuzz/fuzz_httpd.c).
 */
#ifndef DERPCHECK_HTTPSERVER_H
#define DERPCHECK_HTTPSERVER_H

#include <signal.h>
#include <stdint.h>

#include "derpcheck/util/util.h"

#define DC_HTTPD_MAX_HEAD 8192u   /* request line and headers */
#define DC_HTTPD_MAX_TARGET 2048u /* the request target */
#define DC_HTTPD_MAX_HEADERS 64u

enum dc_httpd_method { DC_HTTPD_GET, DC_HTTPD_HEAD };

struct dc_httpd_request {
	enum dc_httpd_method method;
	int minor;                           /* HTTP/1.minor */
	char path[DC_HTTPD_MAX_TARGET + 1];  /* the target up to '?', as sent (not decoded) */
	char query[DC_HTTPD_MAX_TARGET + 1]; /* after '?', as sent; "" when none */
};

/* dc_httpd_parse: a whole request head was read. */
#define DC_HTTPD_PARSE_OK 0
/* dc_httpd_parse: the head is not complete yet; read more. */
#define DC_HTTPD_PARSE_MORE 1

/*
 * Parse the request head at the start of buf[0..len). Returns DC_HTTPD_PARSE_OK with
 * *head_len (bytes up to and including the blank line), DC_HTTPD_PARSE_MORE, or the HTTP
 * status that refuses it (400 malformed, 405 not GET/HEAD, 414 target too long, 431 head
 * too large, 505 not HTTP/1.x), with *why (a static text) saying what was wrong.
 * Accepts LF as well as CRLF line ends (RFC 9112 §2.2); refuses obsolete line folding,
 * whitespace before a header's colon, control characters, a missing Host in HTTP/1.1,
 * and any sign of a body (Content-Length other than 0, Transfer-Encoding).
 */
int dc_httpd_parse(const char *buf, size_t len, struct dc_httpd_request *req, size_t *head_len, const char **why);

/*
 * The value of query parameter name, percent-decoded ('+' is a space), into out (size n).
 * Returns 1 when found, 0 when absent, -1 when the query is malformed there (a bad %XX,
 * a control character, longer than n - 1).
 */
int dc_httpd_query_param(const char *query, const char *name, char *out, size_t n);

struct dc_httpd_response {
	int status;
	const char *content_type; /* NULL: text/plain; charset=utf-8 */
	struct dc_buf body;       /* taken over by the server */
	const char *allow;        /* 405: the Allow header */
	const char *retry_after;  /* 503: the Retry-After header, or NULL */
};

/* Fill resp with a short text/plain answer (status and one line). */
void dc_httpd_text(struct dc_httpd_response *resp, int status, const char *fmt, ...) DC_PRINTF(3, 4);

/*
 * Called for every well-formed request. Fill resp and return true, or return false to
 * answer later with dc_httpd_answer(server, id, ...).
 */
typedef bool (*dc_httpd_handler)(void *user, const struct dc_httpd_request *req, uint64_t id,
				  struct dc_httpd_response *resp);

struct dc_httpd_opts {
	const char *listen;       /* "127.0.0.1:9105", "[::1]:9105", ":9105" (every address) */
	unsigned max_conns;       /* 0: 64 */
	long read_timeout_ms;     /* the whole request head (0: 5 s) */
	long write_timeout_ms;    /* the whole response (0: 10 s) */
	long wait_timeout_ms;     /* a deferred answer (0: 60 s) */
	dc_httpd_handler handler;
	void *user;
};

struct dc_httpd;

/* Bind and listen. Returns -1 with err (address in use, not an address, ...). */
int dc_httpd_open(const struct dc_httpd_opts *opts, struct dc_httpd **out, struct dc_error *err);
/* The bound address ("127.0.0.1:40123": the port chosen for port 0). */
const char *dc_httpd_address(const struct dc_httpd *s);
/* Serve until *stop is set (checked at least every 200 ms). Returns 0, or -1 with err. */
int dc_httpd_run(struct dc_httpd *s, volatile sig_atomic_t *stop, struct dc_error *err);
/*
 * The deferred answer for connection id, from any thread; the body is taken over. An id
 * whose connection has gone (closed, timed out) is ignored.
 */
void dc_httpd_answer(struct dc_httpd *s, uint64_t id, struct dc_httpd_response *resp);
/* Close every connection and the listening socket; answers not sent are dropped. */
void dc_httpd_close(struct dc_httpd *s);

/* Counters for the exporter's own metrics. */
struct dc_httpd_stats {
	uint64_t requests;   /* well-formed requests handled */
	uint64_t refused;    /* malformed, wrong method, too large, timed out */
	uint64_t overloaded; /* turned away at the connection limit */
};
void dc_httpd_get_stats(struct dc_httpd *s, struct dc_httpd_stats *out);

/* Reason phrase of a status this server sends ("OK", "Not Found", ...). */
const char *dc_httpd_reason(int status);

#endif
