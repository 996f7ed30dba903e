/*
 * The proxy verdict (proxy.h). The facts behind the fixes: deployments.md §1-2 and the
 * sources of derper v1.34.2 (cmd/derper/derper.go, websocket.go, derp/derphttp); nginx's
 * proxy module (proxy_http_version defaults to 1.0 and Upgrade is hop-by-hop, so it is
 * dropped unless set again); Caddy's reverse_proxy (passes upgrades; over an HTTP/2
 * transport it carries WebSocket only and answers other upgrades with 502, "http2:
 * invalid Upgrade request header"); HAProxy (mode tcp with req_ssl_sni keeps derper's
 * TLS; mode http passes upgrades, `timeout tunnel` bounds them); Cloudflare: cloudflared
 * passes only "Upgrade: websocket" (cloudflare/cloudflared#990), the proxied (orange)
 * record only HTTPS ports 443, 2053, 2083, 2087, 2096 and 8443 and no UDP (so no STUN).
 */
#include "derpcheck/judge/proxy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "derpcheck/judge/certinfo.h"
#include "derpcheck/net/ossl.h"

const char *dc_proxy_front_name(enum dc_proxy_front f)
{
	static const char *const names[] = {"unknown", "derper", "proxy", "plain-http"};
	return (unsigned)f < DC_ARRAY_LEN(names) ? names[f] : "?";
}

const char *dc_proxy_kind_name(enum dc_proxy_kind k)
{
	static const char *const names[] = {"unknown", "nginx", "caddy", "haproxy", "cloudflare", "other"};
	return (unsigned)k < DC_ARRAY_LEN(names) ? names[k] : "?";
}

const char *dc_proxy_item_id(enum dc_proxy_item i)
{
	static const char *const ids[] = {"proxy", "proxy-alpn", "http-derp", "derp-upgrade", "websocket", "http-latency-check"};
	return (unsigned)i < DC_ARRAY_LEN(ids) ? ids[i] : "?";
}

/* ---- the wording: what each behaviour breaks and the lines to change, per proxy ------------ */

struct fixes {
	const char *general;
	const char *nginx, *caddy, *haproxy, *cloudflare;
};

static const struct fixes fix_strips_upgrade = {
	"pass GET /derp to derper with its Upgrade and Connection headers (derper switches protocols only when it sees "
	"Upgrade: DERP or websocket)",
	"in the location for derper: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
	"proxy_set_header Connection \"upgrade\"; proxy_set_header Host $host; proxy_buffering off; "
	"proxy_read_timeout 3600s; (nginx speaks HTTP/1.0 upstream and drops Upgrade unless told)",
	"reverse_proxy passes upgrades by itself: remove any header_up that deletes or rewrites Upgrade or Connection",
	"remove the rule that deletes Upgrade (http-request del-header Upgrade) and set timeout tunnel 1h in mode http; "
	"or use mode tcp with tcp-request inspect-delay 5s and use_backend ... if { req_ssl_sni -i {host} } so derper "
	"keeps its own TLS",
	"set the DNS record of {host} to DNS only (grey cloud): clients then reach derper itself",
};

static const struct fixes fix_websocket_only = {
	"tailscaled connects with Upgrade: DERP; only browser (wasm) clients use WebSocket: the path to derper must pass "
	"every Upgrade, not only websocket, or clients must reach derper directly",
	"proxy_set_header Upgrade $http_upgrade; (not a map that keeps only websocket) with proxy_http_version 1.1; "
	"and proxy_set_header Connection \"upgrade\";",
	"speak HTTP/1.1 to derper: reverse_proxy ... { transport http { versions 1.1 } } (over HTTP/2 or h2c there is no "
	"Upgrade: Caddy then carries WebSocket only and answers other upgrades with 502)",
	"do not speak HTTP/2 to derper (no proto h2 or alpn h2 on the server line), or use mode tcp with req_ssl_sni",
	"Cloudflare Tunnel (cloudflared) passes only Upgrade: websocket (cloudflare/cloudflared#990): serve derper outside "
	"the tunnel, on an address of its own with the DNS record of {host} set to DNS only (grey cloud)",
};

static const struct fixes fix_path = {
	"send the exact path /derp (and /derp/probe, /derp/latency-check, /generate_204) to derper unchanged: "
	"Tailscale's clients always ask for /derp and have no setting for another path",
	"proxy everything to derper: location / { proxy_pass http://DERPER; ... } (no path after the address: "
	"location /derp/ answers /derp with a 301, and proxy_pass http://DERPER/; rewrites the path)",
	"reverse_proxy DERPER with no path matcher (or the matcher /derp*, which matches /derp too), and no handle_path "
	"or uri strip_prefix in front of it",
	"route on path_beg /derp (which matches /derp itself), not on /derp/, and do not rewrite the path",
	NULL,
};

static const struct fixes fix_no_derper = {
	"point the proxy at derper's listen address (derper -a): http:// for a derper without TLS behind it, https:// "
	"with the TLS name {host} for a derper with --certmode manual",
	"proxy_pass http://DERPER; (or https://DERPER with proxy_ssl_server_name on; proxy_ssl_name {host};)",
	"reverse_proxy DERPER (for a derper that serves TLS: reverse_proxy https://DERPER { transport http { "
	"tls_server_name {host} } })",
	"server derper DERPER (for a derper that serves TLS: ssl sni str({host}) verify required ca-file ...)",
	"with the proxied (orange) record Cloudflare connects to the origin itself: the origin must answer it, or set the "
	"record to DNS only (grey cloud)",
};

static const struct fixes fix_plain_derper = {
	"derper serves TLS only when it listens on :443 or runs with --certmode manual: run it with --certmode manual "
	"--certdir DIR --hostname {host} ({host}.crt and {host}.key in DIR; any port), or with -a :443 (and publish that "
	"as port {port}), or put a TLS-terminating proxy in front of it",
	NULL, NULL, NULL, NULL,
};

static const struct fixes fix_plain_proxy = {
	"clients speak TLS to DERPPort {port}: terminate TLS on this port, or point DERPPort at the TLS port",
	"listen {port} ssl; with ssl_certificate (the full chain) and ssl_certificate_key for {host}",
	"give the site an https:// address (or the bare name {host}), not http://",
	"bind :{port} ssl crt /etc/haproxy/{host}.pem (certificate chain and key in one file)",
	"DNS only (grey cloud) for {host}, so clients reach derper's own TLS",
};

static const struct fixes fix_h2_only = {
	"let clients that offer no ALPN speak HTTP/1.1 on this port: the /derp upgrade exists only in HTTP/1.1, and "
	"Tailscale's clients offer no ALPN",
	NULL, NULL, NULL, NULL,
};

static const struct fixes fix_ws_protocol = {
	"pass the Sec-WebSocket-Protocol header to derper: without \"derp\" in it derper treats the request as a plain "
	"DERP upgrade, which a WebSocket client cannot read",
	NULL, NULL, NULL, NULL,
};

static const struct fixes fix_ws_blocked = {
	"pass Upgrade: websocket (with Sec-WebSocket-Key, -Version and -Protocol) to derper as well: browser (wasm) "
	"clients and WebSocket-only paths use it",
	"proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; proxy_http_version 1.1;",
	"reverse_proxy passes WebSocket by itself: remove header_up rules that drop Upgrade, Connection or Sec-WebSocket-*",
	"mode http passes WebSocket: remove rules that drop Upgrade or Sec-WebSocket-* headers",
	"Network > WebSockets must be on for the zone",
};

static const struct fixes fix_keys = {
	"every connection to one map node must reach the same derper: give each derper its own map node (its own "
	"HostName, or IPv4/IPv6), or mesh the derpers behind the balancer (the same --mesh-psk-file, each listed in "
	"the others' --mesh-with)",
	"one server in the upstream block (ip_hash still splits clients that come from different addresses)",
	"reverse_proxy to one derper (lb_policy ip_hash still splits clients that come from different addresses)",
	"one server per backend (balance source still splits clients that come from different addresses)",
	"a Cloudflare load-balancing pool over several derpers splits clients the same way: one origin per name",
};

/* Append text with {host} and {port} filled in. */
static void fill(char *out, size_t n, const char *text, const char *host, int port)
{
	size_t k = strlen(out);
	for (const char *p = text; *p && k + 1 < n;) {
		const char *sub = NULL;
		char portbuf[16];
		if (strncmp(p, "{host}", 6) == 0) {
			sub = host && *host ? host : "HOSTNAME";
			p += 6;
		} else if (strncmp(p, "{port}", 6) == 0) {
			snprintf(portbuf, sizeof(portbuf), "%d", port);
			sub = portbuf;
			p += 6;
		}
		if (sub) {
			for (; *sub && k + 1 < n; sub++)
				out[k++] = *sub;
			continue;
		}
		out[k++] = *p++;
	}
	out[k] = '\0';
}

/* The general change, then the line for the proxy that answered (or for each, when unknown). */
static void put_fix(char *out, size_t n, const struct fixes *f, enum dc_proxy_kind kind, const char *host, int port)
{
	out[0] = '\0';
	fill(out, n, f->general, host, port);
	const struct {
		enum dc_proxy_kind kind;
		const char *name, *text;
	} per[] = {
		{DC_PROXY_NGINX, "nginx", f->nginx},
		{DC_PROXY_CADDY, "Caddy", f->caddy},
		{DC_PROXY_HAPROXY, "HAProxy", f->haproxy},
		{DC_PROXY_CLOUDFLARE, "Cloudflare", f->cloudflare},
	};
	bool known = false;
	for (size_t i = 0; i < DC_ARRAY_LEN(per); i++)
		known = known || (per[i].kind == kind && per[i].text);
	for (size_t i = 0; i < DC_ARRAY_LEN(per); i++) {
		if (!per[i].text || (known && per[i].kind != kind))
			continue;
		fill(out, n, "\n", host, port);
		fill(out, n, per[i].name, host, port);
		fill(out, n, ": ", host, port);
		fill(out, n, per[i].text, host, port);
	}
}

void dc_proxy_keys_text(size_t conns, size_t nkeys, bool lost, enum dc_proxy_kind kind, char *cause, size_t ncause,
			char *fix, size_t nfix)
{
	snprintf(cause, ncause,
		 "%zu connections to this node met %zu different server keys: a load balancer spreads clients over several "
		 "derpers%s, so two clients on different ones cannot reach each other (tailscale#6478)",
		 conns, nkeys, lost ? ", which do not forward to each other" : "");
	put_fix(fix, nfix, &fix_keys, kind, NULL, 0);
}

/* ---- reading the answers ---------------------------------------------------------------------- */

/* The answer shows derper itself (whatever is in front of it). */
static bool from_derper(const struct dc_proxy_answer *a)
{
	return a->answered && (a->derper_426 || a->derper_home || a->derper_tls_headers || a->challenge_ok ||
			       (a->head.status == 200 && a->acao_any) || (a->head.status == 101 && a->have_key));
}

static bool header_names_lowercase(const struct dc_proxy_answer *a)
{
	return a->answered && a->head.lowercase_names;
}

enum dc_proxy_kind dc_proxy_identify(const struct dc_proxy_evidence *e, char *who, size_t n, char *why, size_t nwhy)
{
	enum dc_proxy_kind kind = DC_PROXY_UNKNOWN;
	bool lowercase = false;
	who[0] = '\0';
	for (int r = 0; r < DC_PROXY_REQ_COUNT; r++) {
		const struct dc_proxy_answer *a = &e->answers[r];
		if (!a->answered)
			continue;
		const char *server = a->head.server;
		if (a->head.cf_ray || strncasecmp(server, "cloudflare", 10) == 0) {
			dc_textf(who, n, "Cloudflare");
			dc_textf(why, nwhy, "%s", a->head.cf_ray ? "its CF-RAY header" : "its Server header");
			return DC_PROXY_CLOUDFLARE;
		}
		if (strncasecmp(server, "nginx", 5) == 0 || strncasecmp(server, "openresty", 9) == 0) {
			dc_textf(who, n, "%s", server);
			kind = DC_PROXY_NGINX;
		} else if (strncasecmp(server, "Caddy", 5) == 0) {
			dc_textf(who, n, "Caddy");
			kind = DC_PROXY_CADDY;
		} else if (server[0] && kind == DC_PROXY_UNKNOWN) {
			dc_textf(who, n, "%s", server);
			kind = DC_PROXY_OTHER;
		}
		lowercase = lowercase || (header_names_lowercase(a) && !server[0]);
	}
	if (kind == DC_PROXY_UNKNOWN && lowercase) {
		dc_textf(who, n, "HAProxy");
		dc_textf(why, nwhy, "by the look of it: no Server header, header names in lower case");
		return DC_PROXY_HAPROXY;
	}
	if (kind == DC_PROXY_UNKNOWN) {
		dc_textf(who, n, "a proxy");
		dc_textf(why, nwhy, "it does not name itself");
	} else {
		dc_textf(why, nwhy, "its Server header");
	}
	return kind;
}

/* "HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper" and the like. */
static void describe(const struct dc_proxy_answer *a, const char *proxy, char *out, size_t n)
{
	if (!a->sent) {
		dc_textf(out, n, "no connection (%s)", a->error);
		return;
	}
	if (!a->answered) {
		dc_textf(out, n, "no HTTP answer (%s)", a->error);
		return;
	}
	const struct dc_derp_upgrade *h = &a->head;
	char extra[300] = "";
	if (h->status >= 300 && h->status < 400 && h->location[0])
		dc_textf(extra, sizeof(extra), " to %s", h->location);
	else if (a->body[0] && h->status != 101)
		dc_textf(extra, sizeof(extra), " (\"%.80s%s\")", a->body, strlen(a->body) > 80 ? "…" : "");
	else if (a->empty_body && h->status == 200)
		dc_textf(extra, sizeof(extra), " with an empty body");
	dc_textf(out, n, "HTTP %d%s%s%s from %s", h->status, h->reason[0] ? " " : "", h->reason, extra,
	      from_derper(a) ? "derper" : h->server[0] ? h->server : proxy);
}

static void line(struct dc_proxy_line *l, enum dc_check_status st, const char *code)
{
	l->status = st;
	l->code = code;
}

/* HTTP/2 frames where an HTTP/1.1 answer was due: a SETTINGS frame on stream 0 (RFC 9113 §6.5). */
static bool looks_like_h2(const struct dc_proxy_answer *a)
{
	return a->raw_len >= 9 && a->raw[3] == 0x04 && (a->raw[5] | a->raw[6] | a->raw[7] | a->raw[8]) == 0;
}

/* ---- the lines ------------------------------------------------------------------------------------- */

static void judge_front(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	struct dc_proxy_line *l = &v->lines[DC_PROXY_ITEM_FRONT];
	const struct dc_proxy_answer *get = &e->answers[DC_PROXY_GET_DERP], *home = &e->answers[DC_PROXY_HOME];
	if (e->plain_http) {
		line(l, DC_CHECK_FAIL, "proxy-plain-http");
		char seen[400];
		describe(get, v->who, seen, sizeof(seen));
		if (v->derper_seen) {
			dc_textf(l->summary, sizeof(l->summary), "derper serves plain HTTP on TCP %d, not TLS", e->port);
			dc_textf(l->cause, sizeof(l->cause),
			      "GET /derp sent without TLS answered %s: derper runs on port %d without TLS, and Tailscale's "
			      "clients fail with \"tls: first record does not look like a TLS handshake\"",
			      seen, e->port);
			put_fix(l->fix, sizeof(l->fix), &fix_plain_derper, DC_PROXY_UNKNOWN, e->host_name, e->port);
		} else {
			dc_textf(l->summary, sizeof(l->summary), "TCP %d answers plain HTTP, not TLS (%s)", e->port, v->who);
			dc_textf(l->cause, sizeof(l->cause),
			      "GET /derp sent without TLS answered %s: the port speaks plain HTTP, and Tailscale's clients fail "
			      "with \"tls: first record does not look like a TLS handshake\"",
			      seen);
			put_fix(l->fix, sizeof(l->fix), &fix_plain_proxy, v->kind, e->host_name, e->port);
		}
		return;
	}
	if (!e->tls_ok) {
		line(l, DC_CHECK_SKIP, NULL);
		dc_textf(l->summary, sizeof(l->summary), "no TLS handshake to look at (%s)", e->tls_error);
		return;
	}
	char issuer[300] = "";
	if (e->chain && sk_X509_num(e->chain) > 0) {
		struct dc_cert_info info;
		dc_cert_describe(sk_X509_value(e->chain, 0), 0, &info);
		dc_textf(issuer, sizeof(issuer), ", certificate issued by %s", info.issuer);
	}
	if (e->metacert) {
		line(l, DC_CHECK_OK, NULL);
		dc_textf(l->summary, sizeof(l->summary), "derper terminates TLS itself (its derpkey certificate follows the chain), %s%s",
		      e->tls_version, issuer);
		return;
	}
	if (!v->derper_seen) {
		char seen[400], seen_home[400];
		describe(get, v->who, seen, sizeof(seen));
		describe(home, v->who, seen_home, sizeof(seen_home));
		line(l, DC_CHECK_FAIL, "proxy-no-derper");
		dc_textf(l->summary, sizeof(l->summary), "%s terminates TLS (%s); nothing behind it answers like derper", v->who, v->who_why);
		dc_textf(l->cause, sizeof(l->cause),
		      "no derpkey certificate (derper adds one when it terminates TLS), and no answer came from derper: "
		      "GET /derp: %s; GET /: %s",
		      seen, seen_home);
		put_fix(l->fix, sizeof(l->fix), &fix_no_derper, v->kind, e->host_name, e->port);
		return;
	}
	bool reencrypts = false;
	for (int r = 0; r < DC_PROXY_REQ_COUNT; r++)
		reencrypts = reencrypts || e->answers[r].derper_tls_headers;
	line(l, DC_CHECK_OK, NULL);
	dc_textf(l->summary, sizeof(l->summary), "%s terminates TLS (%s; no derpkey certificate), %s%s; derper answers behind it%s",
	      v->who, v->who_why, e->tls_version, issuer, reencrypts ? " over TLS of its own" : " in plain HTTP");
}

static void judge_alpn(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	struct dc_proxy_line *l = &v->lines[DC_PROXY_ITEM_ALPN];
	if (looks_like_h2(&e->answers[DC_PROXY_GET_DERP])) {
		line(l, DC_CHECK_FAIL, "proxy-h2-only");
		dc_textf(l->summary, sizeof(l->summary), "HTTP/1.1 requests are answered with HTTP/2 frames");
		dc_textf(l->cause, sizeof(l->cause),
		      "without ALPN (as Tailscale connects) the server still speaks HTTP/2, which has no Upgrade: the /derp "
		      "upgrade cannot happen");
		put_fix(l->fix, sizeof(l->fix), &fix_h2_only, v->kind, e->host_name, e->port);
		return;
	}
	if (!e->alpn_tried) {
		line(l, DC_CHECK_SKIP, NULL);
		dc_textf(l->summary, sizeof(l->summary), "not tried (no TLS)");
		return;
	}
	if (!e->alpn_ok) {
		line(l, DC_CHECK_WARN, "proxy-alpn-failed");
		dc_textf(l->summary, sizeof(l->summary), "a handshake offering %s failed", e->alpn_offered);
		dc_textf(l->cause, sizeof(l->cause), "offering ALPN %s (as browsers and curl do) fails: %s", e->alpn_offered,
		      e->alpn_error);
		dc_textf(l->fix, sizeof(l->fix), "let the server accept clients that offer h2 and http/1.1 (or none)");
		return;
	}
	line(l, DC_CHECK_OK, NULL);
	dc_textf(l->summary, sizeof(l->summary), "offered %s: %s chose %s; Tailscale offers none and speaks HTTP/1.1",
	      e->alpn_offered, v->front == DC_FRONT_DERPER ? "derper" : "the proxy",
	      e->alpn_chosen[0] ? e->alpn_chosen : "no protocol");
}

static void judge_path(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	struct dc_proxy_line *l = &v->lines[DC_PROXY_ITEM_PATH];
	const struct dc_proxy_answer *a = &e->answers[DC_PROXY_GET_DERP], *probe = &e->answers[DC_PROXY_PROBE];
	char seen[400];
	describe(a, v->who, seen, sizeof(seen));
	dc_textf(l->summary, sizeof(l->summary), "GET /derp: %s", seen);
	if (a->derper_426) {
		line(l, DC_CHECK_OK, NULL);
		dc_textf(l->summary, sizeof(l->summary), "GET /derp reaches derper at /derp (426 \"DERP requires connection upgrade\")");
		return;
	}
	if (!a->answered) {
		line(l, DC_CHECK_FAIL, "http-derp-no-answer");
		dc_textf(l->cause, sizeof(l->cause), "GET /derp got no HTTP answer: %s", a->error);
		put_fix(l->fix, sizeof(l->fix), &fix_no_derper, v->kind, e->host_name, e->port);
		return;
	}
	int st = a->head.status;
	bool probe_ok = from_derper(probe) && probe->head.status == 200;
	if (st == 404 && strncmp(a->body, "derp server disabled", 20) == 0) {
		line(l, DC_CHECK_FAIL, "derp-disabled");
		dc_textf(l->cause, sizeof(l->cause), "derper answers /derp with 404 \"derp server disabled\": it runs with --derp=false");
		dc_textf(l->fix, sizeof(l->fix), "start derper without --derp=false (that flag leaves only STUN and bootstrap DNS)");
		return;
	}
	if (st >= 300 && st < 400 && strstr(a->head.location, "/derp/")) {
		line(l, DC_CHECK_FAIL, "proxy-path-redirect");
		dc_textf(l->cause, sizeof(l->cause),
		      "%s redirects /derp to /derp/: its route is for /derp/ with a trailing slash, so /derp itself never "
		      "reaches derper, and Tailscale's clients do not follow redirects",
		      v->who);
	} else if (a->derper_home) {
		line(l, DC_CHECK_FAIL, "proxy-path-rewrite");
		dc_textf(l->cause, sizeof(l->cause),
		      "GET /derp answered derper's home page: the proxy rewrites the path, so derper sees another path than "
		      "/derp%s",
		      probe->derper_home ? " (GET /derp/probe also gets the home page)" : "");
	} else if (st >= 500) {
		line(l, DC_CHECK_FAIL, "proxy-bad-gateway");
		dc_textf(l->cause, sizeof(l->cause), "%s answers GET /derp with %s: it cannot reach derper%s", v->who, seen,
		      probe_ok ? ", though /derp/probe reaches it" : "");
		put_fix(l->fix, sizeof(l->fix), &fix_no_derper, v->kind, e->host_name, e->port);
		return;
	} else if (st >= 300 && st < 400) {
		line(l, DC_CHECK_FAIL, "proxy-redirect");
		dc_textf(l->cause, sizeof(l->cause), "GET /derp answered %s: Tailscale's clients do not follow redirects for /derp",
		      seen);
	} else {
		line(l, DC_CHECK_FAIL, "proxy-path");
		dc_textf(l->cause, sizeof(l->cause), "GET /derp answered %s: /derp is not routed to derper%s", seen,
		      probe_ok ? " (while /derp/probe reaches derper: the route covers /derp/... but not /derp itself)" : "");
	}
	put_fix(l->fix, sizeof(l->fix), &fix_path, v->kind, e->host_name, e->port);
}

static void judge_derp(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	struct dc_proxy_line *l = &v->lines[DC_PROXY_ITEM_DERP];
	const struct dc_proxy_answer *u = &e->answers[DC_PROXY_UPGRADE_DERP], *get = &e->answers[DC_PROXY_GET_DERP];
	char seen[400];
	describe(u, v->who, seen, sizeof(seen));
	const char *through = v->front == DC_FRONT_PROXY ? " through the proxy" : "";
	if (v->derp_ok) {
		char hex[65];
		dc_derp_key_hex(u->key, hex);
		line(l, DC_CHECK_OK, NULL);
		dc_textf(l->summary, sizeof(l->summary), "101 Switching Protocols from derper%s, server key nodekey:%.8s…", through, hex);
		return;
	}
	dc_textf(l->summary, sizeof(l->summary), "Upgrade: DERP: %s", seen);
	if (v->websocket_ok) {
		line(l, DC_CHECK_FAIL, "proxy-websocket-only");
		bool h2 = u->answered && u->head.status == 502 && get->derper_426;
		dc_textf(l->cause, sizeof(l->cause),
		      "only WebSocket upgrades pass: Upgrade: DERP (what tailscaled sends) got %s, while Upgrade: websocket "
		      "reached derper%s",
		      seen,
		      u->derper_426 ? "; the proxy forwards websocket as an upgrade and any other Upgrade value not at all"
		      : h2 ? "; plain requests reach derper too, so the proxy cannot carry this one upgrade: it speaks HTTP/2 to "
			     "derper (no Upgrade there) or knows only WebSocket upgrades"
			   : "");
		put_fix(l->fix, sizeof(l->fix), &fix_websocket_only, v->kind, e->host_name, e->port);
		return;
	}
	if (u->answered && u->derper_426) {
		line(l, DC_CHECK_FAIL, "proxy-strips-upgrade");
		dc_textf(l->cause, sizeof(l->cause),
		      "%s passes GET /derp to derper but drops its Upgrade header: derper answered %s as to a plain GET",
		      v->who, seen);
		put_fix(l->fix, sizeof(l->fix), &fix_strips_upgrade, v->kind, e->host_name, e->port);
		return;
	}
	const struct dc_proxy_line *path = &v->lines[DC_PROXY_ITEM_PATH];
	if (path->status == DC_CHECK_FAIL) {
		line(l, DC_CHECK_FAIL, path->code);
		dc_textf(l->cause, sizeof(l->cause), "the DERP upgrade got %s: /derp does not reach derper (see http-derp)", seen);
		dc_textf(l->fix, sizeof(l->fix), "%s", path->fix);
		return;
	}
	line(l, DC_CHECK_FAIL, u->answered && u->head.status >= 500 ? "proxy-bad-gateway" : "proxy-upgrade-refused");
	dc_textf(l->cause, sizeof(l->cause), "%s answers Upgrade: DERP with %s, although GET /derp reaches derper", v->who, seen);
	put_fix(l->fix, sizeof(l->fix), u->answered && u->head.status >= 500 ? &fix_websocket_only : &fix_strips_upgrade,
		v->kind, e->host_name, e->port);
}

static void judge_ws(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	struct dc_proxy_line *l = &v->lines[DC_PROXY_ITEM_WS];
	const struct dc_proxy_answer *w = &e->answers[DC_PROXY_UPGRADE_WS];
	char seen[400];
	describe(w, v->who, seen, sizeof(seen));
	if (v->websocket_ok) {
		line(l, DC_CHECK_OK, NULL);
		dc_textf(l->summary, sizeof(l->summary), "101 with the derp subprotocol; derper's ServerKey arrives in binary messages");
		return;
	}
	dc_textf(l->summary, sizeof(l->summary), "Upgrade: websocket: %s", seen);
	const struct dc_proxy_line *path = &v->lines[DC_PROXY_ITEM_PATH];
	if (path->status == DC_CHECK_FAIL && !(w->answered && w->head.status == 101)) {
		line(l, DC_CHECK_WARN, path->code);
		dc_textf(l->cause, sizeof(l->cause), "the WebSocket upgrade got %s: /derp does not reach derper (see http-derp)", seen);
		dc_textf(l->fix, sizeof(l->fix), "%s", path->fix);
		return;
	}
	if (w->answered && w->head.status == 101 && w->ws == DC_WS_ANSWER_DERP_UPGRADE && v->front == DC_FRONT_DERPER) {
		/* Nothing in between could drop a header: the server itself does not know WebSocket. */
		line(l, DC_CHECK_WARN, "websocket-unsupported");
		dc_textf(l->cause, sizeof(l->cause),
		      "the server answered the WebSocket upgrade (with the derp subprotocol) as a DERP upgrade: it does not "
		      "speak DERP over WebSocket, which derper does (cmd/derper/websocket.go); browser clients cannot use it");
		dc_textf(l->fix, sizeof(l->fix), "run a current derper on this port");
		return;
	}
	if (w->answered && w->head.status == 101 && w->ws == DC_WS_ANSWER_DERP_UPGRADE) {
		line(l, DC_CHECK_WARN, "proxy-ws-protocol-dropped");
		dc_textf(l->cause, sizeof(l->cause), "%s", w->ws_error);
		put_fix(l->fix, sizeof(l->fix), &fix_ws_protocol, v->kind, e->host_name, e->port);
		return;
	}
	if (w->answered && w->head.status == 101) {
		line(l, DC_CHECK_WARN, "websocket-broken");
		dc_textf(l->cause, sizeof(l->cause), "the WebSocket answer does not open DERP: %s", w->ws_error[0] ? w->ws_error : "no ServerKey frame arrived");
		put_fix(l->fix, sizeof(l->fix), &fix_ws_blocked, v->kind, e->host_name, e->port);
		return;
	}
	/* Tailscale's own clients do not need WebSocket: a warning, never the reason a relay fails. */
	line(l, DC_CHECK_WARN, w->derper_426 ? "proxy-strips-upgrade" : "websocket-blocked");
	dc_textf(l->cause, sizeof(l->cause), "the WebSocket upgrade got %s%s", seen,
	      w->derper_426 ? ": the Upgrade header was dropped on the way to derper" : "");
	put_fix(l->fix, sizeof(l->fix), w->derper_426 ? &fix_strips_upgrade : &fix_ws_blocked, v->kind, e->host_name, e->port);
}

static void judge_latency(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	struct dc_proxy_line *l = &v->lines[DC_PROXY_ITEM_LATENCY];
	const struct dc_proxy_answer *a = &e->answers[DC_PROXY_LATENCY];
	char seen[400];
	describe(a, v->who, seen, sizeof(seen));
	/* derper v1.34.2 serves its home page there (no handler of its own); newer ones answer like /derp/probe. */
	if (a->answered && a->head.status == 200 && from_derper(a)) {
		line(l, DC_CHECK_OK, NULL);
		dc_textf(l->summary, sizeof(l->summary), "GET /derp/latency-check answered 200 from derper");
		return;
	}
	line(l, DC_CHECK_WARN, "http-latency-check");
	dc_textf(l->summary, sizeof(l->summary), "GET /derp/latency-check: %s", seen);
	dc_textf(l->cause, sizeof(l->cause),
	      "when UDP is blocked, Tailscale's netcheck times GET /derp/latency-check to rank DERP regions (a status "
	      "above 299 counts as a failure): it does not reach derper here");
	put_fix(l->fix, sizeof(l->fix), &fix_path, v->kind, e->host_name, e->port);
}

void dc_proxy_judge(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v)
{
	dc_ossl_need();
	memset(v, 0, sizeof(*v));
	for (int r = 0; r < DC_PROXY_REQ_COUNT; r++)
		v->derper_answered = v->derper_answered || from_derper(&e->answers[r]);
	v->derper_seen = v->derper_answered || e->metacert;
	v->front = e->plain_http ? DC_FRONT_PLAIN_HTTP : !e->tls_ok ? DC_FRONT_UNKNOWN : e->metacert ? DC_FRONT_DERPER : DC_FRONT_PROXY;
	if (v->front == DC_FRONT_DERPER)
		dc_textf(v->who, sizeof(v->who), "derper itself");
	else
		v->kind = dc_proxy_identify(e, v->who, sizeof(v->who), v->who_why, sizeof(v->who_why));
	const struct dc_proxy_answer *u = &e->answers[DC_PROXY_UPGRADE_DERP], *w = &e->answers[DC_PROXY_UPGRADE_WS];
	v->derp_ok = u->answered && u->head.status == 101 && u->have_key && strcasecmp(u->head.upgrade, "derp") == 0;
	v->websocket_ok = w->answered && w->head.status == 101 && w->ws == DC_WS_ANSWER_OK && w->have_key;
	if (!e->tls_ok && !e->plain_http) {
		for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
			line(&v->lines[i], DC_CHECK_SKIP, NULL);
			dc_textf(v->lines[i].summary, sizeof(v->lines[i].summary), "no TLS connection");
		}
		return;
	}
	judge_front(e, v);
	judge_alpn(e, v);
	judge_path(e, v);
	judge_derp(e, v);
	judge_ws(e, v);
	judge_latency(e, v);
	if (e->plain_http) {
		/* Everything after the front is moot until the port speaks TLS: said once, there. */
		for (int i = DC_PROXY_ITEM_ALPN; i < DC_PROXY_ITEM_COUNT; i++) {
			struct dc_proxy_line *l = &v->lines[i];
			memset(l, 0, sizeof(*l));
			line(l, DC_CHECK_SKIP, NULL);
			dc_textf(l->summary, sizeof(l->summary), "not judged: the port speaks plain HTTP");
		}
	}
}
