/*
 * HTTP(S) GET through libcurl: TLS verified unless asked otherwise, a deadline, a size
 * cap and errors that say what to do. libcurl (and its ~25 dependent libraries) is
 * loaded on first use, so commands that never fetch start in about a millisecond.
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
};

/* GET url; on success *body holds the body (NUL-terminated) and *status the HTTP code. */
int dc_http_get(const char *url, const struct dc_http_opts *opts, struct dc_buf *body, long *status,
		struct dc_error *err);

#endif
