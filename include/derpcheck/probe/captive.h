/*
 * Captive-portal detection as Tailscale's netcheck does it (protocols.md §3.5): GET
 * http://<node IPv4>/generate_204 on up to five DERP nodes that allow port 80, with an
 * X-Tailscale-Challenge header that only a real derper echoes back. Anything but a 204
 * carrying "X-Tailscale-Response: response ts_<host>" means something else answered in
 * the server's place; a request that gets no HTTP answer at all is not evidence of a
 * portal (Tailscale counts it as "not captive").
 *
 * Tailscale also asks controlplane.tailscale.com and login.tailscale.com; derpcheck adds
 * them only when the caller sets public_endpoints, because it never contacts public
 * hosts unless the user asks.
 */
#ifndef DERPCHECK_CAPTIVE_H
#define DERPCHECK_CAPTIVE_H

#include <netinet/in.h>

#include "derpcheck/input/derpmap.h"

#define DC_CAPTIVE_MAX_ENDPOINTS 5   /* Tailscale uses the first five */
#define DC_CAPTIVE_TIMEOUT_MS 3000   /* per request */

struct dc_captive_endpoint {
	char url[96];                /* http://<host>[:port]/generate_204, before the ?t= query */
	char host[64];               /* the URL's host without a port: the challenge is "ts_" + host */
	bool challenge;              /* a DERP node: send the challenge, require the response */
	int64_t region_id;           /* 0 for a Tailscale public endpoint */
	char node[64];               /* the node's Name ("" for public endpoints) */
};

struct dc_captive_select {
	int64_t home_region;         /* its nodes go first (0: none yet) */
	uint16_t port;               /* 0 means 80; tests point this at a loopback server */
	bool public_endpoints;       /* append Tailscale's two public URLs: only on the user's request */
};

/*
 * The endpoints Tailscale would use, in order, at most DC_CAPTIVE_MAX_ENDPOINTS: nodes with
 * an IPv4 address and CanPort80 in regions that are neither Avoid nor NoMeasureNoHome (the
 * home region's first), then the public URLs if asked for. An IPv4 field that is not an
 * address (e.g. "none") is skipped: derpcheck resolves no names here.
 */
size_t dc_captive_endpoints(const struct dc_derpmap *map, const struct dc_captive_select *sel,
			    struct dc_captive_endpoint out[DC_CAPTIVE_MAX_ENDPOINTS]);

enum dc_captive_verdict {
	DC_CAPTIVE_CLEAR,     /* 204 and, for DERP nodes, the expected challenge response */
	DC_CAPTIVE_PORTAL,    /* something answered in the server's place */
	DC_CAPTIVE_NO_ANSWER, /* no HTTP answer (refused, timeout, ...): not counted as captive */
};

/*
 * Judge one HTTP answer. response is the X-Tailscale-Response value (response_len bytes),
 * NULL when the header is absent. reason gets one sentence saying why.
 */
enum dc_captive_verdict dc_captive_judge(const struct dc_captive_endpoint *ep, long status, const char *response,
					 size_t response_len, const char *location, char *reason, size_t n);

struct dc_captive_opts {
	long timeout_ms;   /* per request; 0 means DC_CAPTIVE_TIMEOUT_MS */
	int64_t now_unix;  /* the ?t= value; 0 means the current time */
};

struct dc_captive_probe {
	struct dc_captive_endpoint endpoint;
	enum dc_captive_verdict verdict;
	long status;             /* 0 when no HTTP answer */
	bool has_response;
	char response[128];      /* X-Tailscale-Response as received (printable ASCII) */
	char location[256];      /* a redirect's Location */
	char reason[256];
	int64_t date;            /* the answer's Date header (Unix seconds), -1 when absent */
	uint64_t elapsed_ns;
};

struct dc_captive_result {
	bool captive;            /* at least one endpoint was answered by something else */
	size_t count;
	struct dc_captive_probe probes[DC_CAPTIVE_MAX_ENDPOINTS];
};

/*
 * Query all endpoints at once (3 s each by default): no redirects followed, no
 * keep-alive, Cache-Control forbidding caches, the challenge for DERP nodes. Returns -1
 * only when HTTP cannot be used at all (libcurl missing); network errors are per probe.
 */
int dc_captive_check(const struct dc_captive_endpoint *eps, size_t n, const struct dc_captive_opts *opts,
		     struct dc_captive_result *res, struct dc_error *err);

/* One endpoint's answer (or failure) as dc_captive_check reads it: its headers, then dc_captive_judge. */
struct dc_http_response;
void dc_captive_read_response(const struct dc_captive_endpoint *ep, const struct dc_http_response *r,
			      struct dc_captive_probe *p);

const char *dc_captive_verdict_name(enum dc_captive_verdict v); /* "clear", "portal", "no answer" */

#endif
