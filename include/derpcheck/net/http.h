/*
 * HTTP(S) GET through libcurl: TLS verified unless asked otherwise, a deadline, a size
 * cap and errors that say what to do. libcurl (and its ~25 dependent libraries) is
 * loaded on first use, so commands that never fetch start in about a millisecond.
 *
 * A request can also go over a Unix socket (tailscaled's LocalAPI): the URL then only
 * supplies the Host header and the path, only plain http:// is allowed, and redirects
 * are never followed.
 */
#ifndef DERPCHECK_HTTP_H
#define DERPCHECK_HTTP_H

#include "derpcheck/util/util.h"

struct dc_http_opts {
	const char *ca_file; /* NULL: the system trust store */
	bool insecure;       /* skip certificate verification (the caller warns) */
	long timeout_ms;     /* whole transfer; 0 means 10 s */
	int family;          /* 0 any, 4 or 6 */
	size_t max_bytes;    /* body size cap; 0 means 1 MiB */
	const char *unix_socket; /* connect to this socket path instead of the URL's host */
};

/*
 * GET url, following up to 5 redirects; on success *body holds the body (NUL-terminated)
 * and *status the HTTP code of the last response.
 */
int dc_http_get(const char *url, const struct dc_http_opts *opts, struct dc_buf *body, long *status,
		struct dc_error *err);

/*
 * GET url with the system trust store, within timeout_ms and max_bytes, where only a 200
 * counts (an AIA issuer, an OCSP answer): any other status is an error naming it.
 */
int dc_http_get_200(const char *url, long timeout_ms, size_t max_bytes, struct dc_buf *body, struct dc_error *err);

/*
 * One request with the extra knobs probes need. Every field's zero value behaves like
 * dc_http_get, so a request is written as a designated initializer naming only what
 * differs.
 */
struct dc_http_request {
	const char *url;
	const struct dc_http_opts *opts; /* NULL: all defaults */
	const char *const *headers;      /* extra "Name: value" lines, NULL-terminated; may be NULL */
	bool no_redirects;               /* report a 3xx as it came (Location is in the headers) */
	bool fresh_connection;           /* no connection reuse, no keep-alive */
	bool truncate_body;              /* keep the first max_bytes and drop the rest, instead of failing */
	/*
	 * "HOST:PORT:ADDR" entries, NULL-terminated (libcurl's CURLOPT_RESOLVE): connect to
	 * ADDR for HOST:PORT without asking DNS, keeping HOST as the TLS name and Host header
	 * (a DERP node whose map entry gives its address). May be NULL.
	 */
	const char *const *resolve;
};

/* Why a request got no HTTP answer, for callers that decide by kind (captive portal: "network error"). */
enum dc_http_failure {
	DC_HTTP_OK,
	DC_HTTP_TIMEOUT,
	DC_HTTP_CONNECT,  /* refused, unreachable, or the name did not resolve */
	DC_HTTP_TLS,
	DC_HTTP_TOO_BIG,
	DC_HTTP_NOT_HTTP, /* something answered, but not with HTTP */
	DC_HTTP_NO_REPLY, /* the server closed the connection without answering */
	DC_HTTP_OTHER,
};

struct dc_http_response {
	long status;             /* 0 when no HTTP response arrived */
	struct dc_buf body;      /* NUL-terminated when failure is DC_HTTP_OK */
	struct dc_buf headers;   /* the last response's header block as received, status line first */
	int64_t date;            /* its Date header in Unix seconds; -1 when absent or unparsable */
	uint64_t elapsed_ns;     /* from the start of the transfer to its end */
	enum dc_http_failure failure;
	int os_errno;            /* errno of a failed connect (ENOENT, EACCES, ECONNREFUSED...), else 0 */
	struct dc_error error;   /* filled when failure != DC_HTTP_OK (also by dc_http_fetch_all) */
};

/* One request. Returns -1 (err and resp->error filled) when no HTTP response arrived. */
int dc_http_fetch(const struct dc_http_request *req, struct dc_http_response *resp, struct dc_error *err);

/*
 * n requests at the same time (one libcurl multi handle), each bounded by its own
 * timeout. Every resps[i] is filled, its failure and error saying how it ended. Returns
 * -1 only when libcurl cannot be used at all (err says why).
 */
int dc_http_fetch_all(const struct dc_http_request *reqs, struct dc_http_response *resps, size_t n,
		      struct dc_error *err);

/*
 * The first header called name (case-insensitive) in the response's last header block,
 * with surrounding blanks trimmed; *value points into resp->headers, not NUL-terminated.
 */
bool dc_http_header(const struct dc_http_response *resp, const char *name, const char **value, size_t *len);

void dc_http_response_free(struct dc_http_response *resp);

/*
 * Load and initialise libcurl now (it is otherwise loaded on first use): a program that
 * fetches from several threads calls this once before it starts them (curl_global_init is
 * not thread-safe). Returns -1 with err when libcurl cannot be loaded.
 */
int dc_http_init(struct dc_error *err);

#endif
