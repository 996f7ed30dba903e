/*
 * The proxy verdict (deployments.md §1-2): from the evidence of probe/proxyprobe.h, what
 * is in front of derper (derper itself, a TLS-terminating proxy and which one, plain
 * HTTP), what it breaks (the Upgrade dropped, only WebSocket passed, the path moved,
 * derper unreachable behind it, several derpers behind one name), and the lines to
 * change in nginx, Caddy, HAProxy or Cloudflare. Every text a user reads about proxies
 * is written here, once; diagnose and cert only place it.
 */
#ifndef DERPCHECK_PROXY_H
#define DERPCHECK_PROXY_H

#include "derpcheck/judge/diagnose.h"
#include "derpcheck/probe/proxyprobe.h"

enum dc_proxy_front {
	DC_FRONT_UNKNOWN,    /* no TLS handshake to look at */
	DC_FRONT_DERPER,     /* derper terminates TLS: its derpkey certificate is there */
	DC_FRONT_PROXY,      /* something else terminates TLS */
	DC_FRONT_PLAIN_HTTP, /* the port speaks plain HTTP */
};

enum dc_proxy_kind {
	DC_PROXY_UNKNOWN,
	DC_PROXY_NGINX,
	DC_PROXY_CADDY,
	DC_PROXY_HAPROXY,    /* no Server header, header names in lower case (HAProxy's HTX) */
	DC_PROXY_CLOUDFLARE, /* Server: cloudflare, CF-RAY */
	DC_PROXY_OTHER,      /* a Server header we do not know */
};

/* "derper", "proxy", "plain-http", "unknown"; "nginx", "caddy", "haproxy", "cloudflare", "other", "unknown". */
const char *dc_proxy_front_name(enum dc_proxy_front f);
const char *dc_proxy_kind_name(enum dc_proxy_kind k);

/* The lines of the verdict, in checklist order; their ids are diagnose's check ids. */
enum dc_proxy_item {
	DC_PROXY_ITEM_FRONT,   /* "proxy": who terminates TLS */
	DC_PROXY_ITEM_ALPN,    /* "proxy-alpn" */
	DC_PROXY_ITEM_PATH,    /* "http-derp": does GET /derp reach derper, at /derp */
	DC_PROXY_ITEM_DERP,    /* "derp-upgrade": Upgrade: DERP, what Tailscale's clients send */
	DC_PROXY_ITEM_WS,      /* "websocket" */
	DC_PROXY_ITEM_LATENCY, /* "http-latency-check" */
	DC_PROXY_ITEM_COUNT
};
const char *dc_proxy_item_id(enum dc_proxy_item i);

struct dc_proxy_line {
	enum dc_check_status status;
	const char *code;    /* a finding code (docs/json.md) when not ok */
	char summary[400];
	char cause[700];
	char fix[1400];      /* lines separated by '\n': the general change, then per proxy */
};

struct dc_proxy_verdict {
	enum dc_proxy_front front;
	enum dc_proxy_kind kind;
	char who[96];        /* "nginx/1.22.1", "Caddy", "HAProxy", "a proxy", "derper itself" */
	char who_why[96];    /* how we know: "its Server header", ... */
	bool derper_seen;    /* derper's certificate, or some answer from derper itself */
	bool derper_answered; /* some HTTP answer came from derper itself */
	bool derp_ok;        /* Upgrade: DERP reached derper (101 with its key) */
	bool websocket_ok;   /* the WebSocket upgrade reached derper */
	struct dc_proxy_line lines[DC_PROXY_ITEM_COUNT];
};

/* Judge the evidence. Never fails; lines that cannot be judged are skipped with the reason. */
void dc_proxy_judge(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v);

/* Which proxy answered, from the answers' headers, and how we know. */
enum dc_proxy_kind dc_proxy_identify(const struct dc_proxy_evidence *e, char *who, size_t n, char *why, size_t nwhy);

/*
 * The multiple-keys finding (tailscale#6478): connections to one name met nkeys different
 * server keys in conns connections. lost: relayed packets were lost. Fills cause and fix.
 */
void dc_proxy_keys_text(size_t conns, size_t nkeys, bool lost, enum dc_proxy_kind kind, char *cause, size_t ncause,
			char *fix, size_t nfix);

#endif
