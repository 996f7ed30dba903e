#include "derpcheck/probe/captive.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "derpcheck/net/http.h"

#define CACHE_CONTROL "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0"
#define BODY_KEEP 4096 /* a portal's page is not needed; keep a little, drop the rest */

/* Tailscale's public endpoints: no challenge, only the 204 is checked. */
static const char *const public_urls[][2] = {
	{"http://controlplane.tailscale.com/generate_204", "controlplane.tailscale.com"},
	{"http://login.tailscale.com/generate_204", "login.tailscale.com"},
};

static void note(char *dst, size_t cap, const char *fmt, ...) DC_PRINTF(3, 4);
static void note(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

static bool region_usable(const struct dc_derp_region *r)
{
	return !r->removed && !r->avoid && !r->no_measure_no_home;
}

static bool node_usable(const struct dc_derp_node *n)
{
	return n->can_port80 && n->ipv4 && n->ipv4[0] && dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_STATIC;
}

static bool add_node(const struct dc_derp_region *r, const struct dc_derp_node *n, const struct dc_captive_select *sel,
		     struct dc_captive_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	/* Port 80 is Tailscale's; another port only comes from tests, and never changes the challenge. */
	if (sel->port && sel->port != 80)
		note(ep->url, sizeof(ep->url), "http://%s:%u/generate_204", n->ipv4, sel->port);
	else
		note(ep->url, sizeof(ep->url), "http://%s/generate_204", n->ipv4);
	note(ep->host, sizeof(ep->host), "%s", n->ipv4);
	note(ep->node, sizeof(ep->node), "%s", n->name ? n->name : "");
	ep->challenge = true;
	ep->region_id = r->id;
	return true;
}

size_t dc_captive_endpoints(const struct dc_derpmap *map, const struct dc_captive_select *sel,
			    struct dc_captive_endpoint out[DC_CAPTIVE_MAX_ENDPOINTS])
{
	static const struct dc_captive_select defaults;
	if (!sel)
		sel = &defaults;
	size_t count = 0;
	/* Two passes: the home region's nodes, then every other region's in map order. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < map->region_count && count < DC_CAPTIVE_MAX_ENDPOINTS; i++) {
			const struct dc_derp_region *r = &map->regions[i];
			bool home = sel->home_region && r->id == sel->home_region;
			if ((pass == 0) != home || !region_usable(r))
				continue;
			for (size_t k = 0; k < r->node_count && count < DC_CAPTIVE_MAX_ENDPOINTS; k++) {
				if (node_usable(&r->nodes[k]))
					count += add_node(r, &r->nodes[k], sel, &out[count]);
			}
		}
	}
	for (size_t i = 0; sel->public_endpoints && i < DC_ARRAY_LEN(public_urls) && count < DC_CAPTIVE_MAX_ENDPOINTS; i++) {
		struct dc_captive_endpoint *ep = &out[count++];
		memset(ep, 0, sizeof(*ep));
		note(ep->url, sizeof(ep->url), "%s", public_urls[i][0]);
		note(ep->host, sizeof(ep->host), "%s", public_urls[i][1]);
	}
	return count;
}

/* Wire text for a report: printable ASCII kept, anything else shown as '?'. */
static void copy_printable(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		dst[k++] = (unsigned char)src[i] >= 0x20 && (unsigned char)src[i] < 0x7f ? src[i] : '?';
	dst[k] = '\0';
}

enum dc_captive_verdict dc_captive_judge(const struct dc_captive_endpoint *ep, long status, const char *response,
					 size_t response_len, const char *location, char *reason, size_t n)
{
	if (status != 204) {
		if (status >= 300 && status < 400 && location && location[0])
			note(reason, n, "redirected (HTTP %ld) to %s instead of answering 204", status, location);
		else if (status == 200)
			note(reason, n, "HTTP 200 instead of 204: a page was served in the server's place (a portal's login page?)");
		else
			note(reason, n, "HTTP %ld instead of 204", status);
		return DC_CAPTIVE_PORTAL;
	}
	if (!ep->challenge) {
		note(reason, n, "HTTP 204 as expected");
		return DC_CAPTIVE_CLEAR;
	}
	char want[96];
	note(want, sizeof(want), "response ts_%s", ep->host);
	if (!response) {
		note(reason, n, "HTTP 204 but no X-Tailscale-Response header: not the DERP server that answered");
		return DC_CAPTIVE_PORTAL;
	}
	if (response_len != strlen(want) || memcmp(response, want, response_len) != 0) {
		char got[96];
		copy_printable(got, sizeof(got), response, response_len);
		note(reason, n, "X-Tailscale-Response is \"%s\", want \"%s\"", got, want);
		return DC_CAPTIVE_PORTAL;
	}
	note(reason, n, "HTTP 204 with the expected X-Tailscale-Response");
	return DC_CAPTIVE_CLEAR;
}

void dc_captive_read_response(const struct dc_captive_endpoint *ep, const struct dc_http_response *r,
			      struct dc_captive_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->endpoint = *ep;
	p->status = r->status;
	p->date = r->date;
	p->elapsed_ns = r->elapsed_ns;
	if (r->failure != DC_HTTP_OK) {
		p->verdict = DC_CAPTIVE_NO_ANSWER;
		note(p->reason, sizeof(p->reason), "%s", r->error.what);
		return;
	}
	const char *v;
	size_t vn;
	if (dc_http_header(r, "Location", &v, &vn))
		copy_printable(p->location, sizeof(p->location), v, vn);
	p->has_response = dc_http_header(r, "X-Tailscale-Response", &v, &vn);
	if (p->has_response)
		copy_printable(p->response, sizeof(p->response), v, vn);
	p->verdict = dc_captive_judge(ep, r->status, p->has_response ? v : NULL, vn, p->location, p->reason, sizeof(p->reason));
}

const char *dc_captive_verdict_name(enum dc_captive_verdict v)
{
	switch (v) {
	case DC_CAPTIVE_CLEAR:
		return "clear";
	case DC_CAPTIVE_PORTAL:
		return "portal";
	case DC_CAPTIVE_NO_ANSWER:
		return "no answer";
	}
	return "unknown";
}

/* The per-endpoint request: URL with ?t=, headers, and the strings they point into. */
struct request_text {
	char url[128];
	char challenge[96];
	const char *headers[3];
};

int dc_captive_check(const struct dc_captive_endpoint *eps, size_t n, const struct dc_captive_opts *opts,
		     struct dc_captive_result *res, struct dc_error *err)
{
	static const struct dc_captive_opts defaults;
	if (!opts)
		opts = &defaults;
	memset(res, 0, sizeof(*res));
	if (n > DC_CAPTIVE_MAX_ENDPOINTS)
		n = DC_CAPTIVE_MAX_ENDPOINTS;
	if (n == 0)
		return 0;
	int64_t now = opts->now_unix ? opts->now_unix : (int64_t)time(NULL);
	struct dc_http_opts http = {
		.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DC_CAPTIVE_TIMEOUT_MS,
		.max_bytes = BODY_KEEP,
	};
	struct request_text text[DC_CAPTIVE_MAX_ENDPOINTS];
	struct dc_http_request reqs[DC_CAPTIVE_MAX_ENDPOINTS];
	struct dc_http_response resps[DC_CAPTIVE_MAX_ENDPOINTS];
	for (size_t i = 0; i < n; i++) {
		struct request_text *t = &text[i];
		note(t->url, sizeof(t->url), "%s?t=%lld", eps[i].url, (long long)now);
		size_t h = 0;
		t->headers[h++] = CACHE_CONTROL;
		if (eps[i].challenge) {
			note(t->challenge, sizeof(t->challenge), "X-Tailscale-Challenge: ts_%s", eps[i].host);
			t->headers[h++] = t->challenge;
		}
		t->headers[h] = NULL;
		reqs[i] = (struct dc_http_request){
			.url = t->url,
			.opts = &http,
			.headers = t->headers,
			.no_redirects = true,
			.fresh_connection = true,
			.truncate_body = true,
		};
	}
	if (dc_http_fetch_all(reqs, resps, n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		dc_captive_read_response(&eps[i], &resps[i], &res->probes[i]);
		res->captive |= res->probes[i].verdict == DC_CAPTIVE_PORTAL;
	}
	res->count = n;
	for (size_t i = 0; i < n; i++)
		dc_http_response_free(&resps[i]);
	return 0;
}
