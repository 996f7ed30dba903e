/*
 * tailscaled's LocalAPI (protocols.md §5.1): HTTP/1.1 over tailscaled's Unix socket,
 * URLs of the form http://local-tailscaled.sock/localapi/v0/NAME. tailscaled answers
 * 403 to any other Host header and to any Origin or Referer header; libcurl sends the
 * right Host when given that URL and never sends the other two.
 *
 * Failures become errors that say what to do: the socket is missing (tailscaled not
 * running, or elsewhere), not ours to open (sudo or --operator), or tailscaled refused
 * or failed the request.
 */
#ifndef DERPCHECK_LOCALAPI_H
#define DERPCHECK_LOCALAPI_H

#include "derpcheck/input/mapload.h"
#include "derpcheck/util/util.h"

/* tailscaled's socket on Linux when /var/run exists (its default). */
#define DC_LOCALAPI_SOCKET "/var/run/tailscale/tailscaled.sock"
/* The only Host tailscaled accepts (besides none). */
#define DC_LOCALAPI_HOST "local-tailscaled.sock"
#define DC_LOCALAPI_TIMEOUT_MS 10000
/* A Status document grows by 1–3 KB per peer; this allows tailnets of many thousands. */
#define DC_LOCALAPI_MAX_BYTES (64u * 1024u * 1024u)

struct dc_localapi {
	const char *socket_path; /* required: see dc_localapi_default_socket */
	long timeout_ms;         /* each request, whole transfer; 0: DC_LOCALAPI_TIMEOUT_MS */
};

/*
 * The socket to use when none is given: the first that exists of tailscaled's
 * platform paths (Linux, macOS open-source tailscaled, Synology DSM 7 and 6, QNAP,
 * gokrazy), else the Linux default.
 */
const char *dc_localapi_default_socket(void);

/* dc_localapi_get's result when no tailscaled listens: no socket there, or a stale one. */
#define DC_LOCALAPI_NOT_RUNNING (-2)

/*
 * GET /localapi/v0/<endpoint> (endpoint like "status" or "derpmap"). On HTTP 200 the
 * body is in *body (NUL-terminated, at most max_bytes). Any other outcome is negative
 * with err explaining it: DC_LOCALAPI_NOT_RUNNING when nothing listens on the socket,
 * -1 otherwise; *body is then empty.
 */
int dc_localapi_get(const struct dc_localapi *api, const char *endpoint, size_t max_bytes, struct dc_buf *body,
		    struct dc_error *err);

/* GET /localapi/v0/status: the Status JSON (parse it with dc_status_parse). */
int dc_localapi_status(const struct dc_localapi *api, struct dc_buf *body, struct dc_error *err);

/*
 * GET /localapi/v0/derpmap: the DERP map this tailscaled uses right now, read into doc
 * like any other map (source DC_MAP_SOURCE_LOCALAPI). Returns -1 only when the map
 * could not be fetched; a map that does not decode is doc->decoded == false.
 */
int dc_localapi_derpmap(const struct dc_localapi *api, struct dc_map_doc *doc, struct dc_error *err);

#endif
