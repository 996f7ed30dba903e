/*
 * HTTP(S) GET through libcurl: TLS verified unless asked otherwise, a deadline, a size
 * cap and errors that say what to do. libcurl (and its ~25 dependent libraries) is
 * loaded on first use, so commands that never fetch start in about a millisecond.
 *
 * A request can also go over a Unix socket (tailscaled's LocalAPI): the URL then only
 * supplies the Host header and the path, and only plain http:// is allowed.
 */
#ifndef DERPCHECK_HTTP_H
#define DERPCHECK_HTTP_H

#include "derpcheck/util.h"

struct dc_http_opts {
	const char *ca_file; /* NULL: the system trust store */
	bool insecure;       /* skip certificate verification (the caller warns) */
	long timeout_ms;     /* whole transfer; 0 means 10 s */
	int family;          /* 0 any, 4 or 6 */
	size_t max_bytes;    /* body size cap */
	const char *unix_socket; /* connect to this socket path instead of the URL's host */
};

/* What happened, beyond the body: for callers that explain failures themselves. */
struct dc_http_result {
	long status;    /* HTTP status code; 0 when no response arrived */
	int os_errno;   /* errno of a failed connect (ENOENT, EACCES, ECONNREFUSED...), else 0 */
	bool timed_out; /* the deadline passed before the transfer completed */
	bool too_big;   /* the body exceeded max_bytes */
	bool not_http;  /* something answered, but not with HTTP */
	bool no_reply;  /* the server closed the connection without answering */
};

/*
 * GET url. Returns 0 when a complete response arrived (any status: check res->status),
 * with the body in *body (NUL-terminated). Returns -1 with err and res filled otherwise;
 * *body may then hold a partial body and must still be freed.
 */
int dc_http_fetch(const char *url, const struct dc_http_opts *opts, struct dc_buf *body,
		  struct dc_http_result *res, struct dc_error *err);

/* GET url; on success *body holds the body (NUL-terminated) and *status the HTTP code. */
int dc_http_get(const char *url, const struct dc_http_opts *opts, struct dc_buf *body, long *status,
		struct dc_error *err);

#endif
