/*
 * What is in front of derper, as evidence (deployments.md §1-2): a handful of HTTP/1.1
 * requests, each on its own TLS connection made as Tailscale makes it (SNI = HostName,
 * no ALPN), whose answers tell derper from a proxy and say what the proxy passes:
 *
 *   TLS, no ALPN        who terminates TLS: derper appends its "derpkey" certificate
 *   TLS, ALPN h2,http/1.1  whether the front picks HTTP/2 for clients that offer it (derper
 *                       v1.34.2 itself picks h2 in both cert modes: cmd/derper/cert.go)
 *   GET /derp           derper: 426 "DERP requires connection upgrade"; a proxy: 301/404/502/HTML
 *   Upgrade: DERP       derper: 101 with its key (Tailscale's clients use this)
 *   Upgrade: websocket  derper: 101 with the derp subprotocol (browsers; WebSocket-only proxies)
 *   /derp/probe, /derp/latency-check, /generate_204, /   derper's own answers, or someone else's
 *   N more connections  the server key each one meets (a balancer over unmeshed derpers)
 *
 * When the port does not speak TLS, the same requests go in plain HTTP, so "first record
 * does not look like a TLS handshake" becomes "derper (or nginx) serves plain HTTP here".
 * Only evidence here; src/judge/proxy.c says what it means and what to change.
 */
#ifndef DERPCHECK_PROXYPROBE_H
#define DERPCHECK_PROXYPROBE_H

#include "derpcheck/net/tlsconn.h"
#include "derpcheck/probe/derp.h"
#include "derpcheck/probe/websocket.h"

enum dc_proxy_req {
	DC_PROXY_GET_DERP,     /* GET /derp, no Upgrade */
	DC_PROXY_UPGRADE_DERP, /* GET /derp, Upgrade: DERP */
	DC_PROXY_UPGRADE_WS,   /* GET /derp, Upgrade: websocket + derp subprotocol */
	DC_PROXY_PROBE,        /* GET /derp/probe */
	DC_PROXY_LATENCY,      /* GET /derp/latency-check (what netcheck asks when UDP is blocked; derper
				* v1.34.2 has no handler for it and answers its home page, 200) */
	DC_PROXY_204,          /* GET /generate_204 with X-Tailscale-Challenge */
	DC_PROXY_HOME,         /* GET / */
	DC_PROXY_REQ_COUNT
};

/* "get-derp", "upgrade-derp", ... (JSON keys) and "GET /derp with Upgrade: DERP", ... */
const char *dc_proxy_req_name(enum dc_proxy_req r);
const char *dc_proxy_req_text(enum dc_proxy_req r);

/* One request and what came back. */
struct dc_proxy_answer {
	bool sent;              /* connected, the request went out */
	bool answered;          /* an HTTP/1.x response head came back */
	char error[300];        /* why not */
	uint8_t raw[16];        /* the first bytes of an answer that is not HTTP/1.x */
	size_t raw_len;
	struct dc_derp_upgrade head;
	char body[160];         /* the body's first line, printable ASCII */
	bool derper_426;        /* derper's own "DERP requires connection upgrade" */
	bool derper_home;       /* derper's home page ("<h1>DERP</h1>") */
	bool derper_tls_headers;/* derper's Content-Security-Policy: derper itself serves TLS (behind the proxy too) */
	bool acao_any;          /* Access-Control-Allow-Origin: * (derper's /derp/probe) */
	bool challenge_ok;      /* X-Tailscale-Response: response <our challenge> */
	bool empty_body;        /* Content-Length: 0, or nothing before the close */
	/* 101 answers */
	bool have_key;          /* the server key: Derp-Public-Key, or the ServerKey frame */
	uint8_t key[DC_DERP_KEY_LEN];
	bool server_key_frame;  /* the ServerKey frame arrived through the upgraded stream */
	enum dc_ws_answer ws;   /* the WebSocket request: how its answer was judged */
	char ws_error[300];
	double ms;              /* request sent to response head */
};

#define DC_PROXY_MAX_KEYS 8

struct dc_proxy_evidence {
	char peer[INET6_ADDRSTRLEN + 8];
	char host_name[256];
	int port;
	/* the connection as Tailscale makes it */
	bool tls_ok;
	bool plain_http;        /* the port answered plain HTTP: the requests below went in plain HTTP */
	enum dc_conn_failure tls_failure;
	char tls_error[300];
	char tls_version[16];
	STACK_OF(X509) *chain;  /* as served (owned; NULL without TLS) */
	bool metacert;
	uint8_t metacert_key[DC_DERP_KEY_LEN];
	/* ALPN offered as browsers and curl do */
	bool alpn_tried, alpn_ok;
	char alpn_offered[32], alpn_chosen[32];
	char alpn_error[300];
	char challenge[40];
	/* Time left for waiting on response bodies, over the whole probe: a server that
	 * promises bodies and stalls costs it once, not once per request. */
	uint64_t body_wait_left_ns;
	struct dc_proxy_answer answers[DC_PROXY_REQ_COUNT];
	/* server keys met over several connections in a row */
	unsigned key_conns;      /* connections made for it */
	unsigned key_seen;       /* of which told a key */
	const char *key_source;  /* "derpkey certificate", "Derp-Public-Key header", "ServerKey over WebSocket" */
	uint8_t keys[DC_PROXY_MAX_KEYS][DC_DERP_KEY_LEN];
	unsigned key_hits[DC_PROXY_MAX_KEYS];
	size_t nkeys;
};

struct dc_proxy_probe_opts {
	const struct sockaddr *addr;
	socklen_t addrlen;
	const char *host_name;  /* SNI (not for an IP literal) and Host */
	int port;               /* DERPPort, for the Host header */
	long timeout_ms;        /* each connection and request (default 3 s) */
	unsigned key_conns;     /* connections that collect server keys (default 4, at most 8) */
};

/*
 * Run every probe against one address. Returns -1 with err only when TCP cannot connect
 * at all (nothing to look at); everything else is evidence in e. e must be freed.
 */
int dc_proxy_probe_run(const struct dc_proxy_probe_opts *o, struct dc_proxy_evidence *e, struct dc_error *err);
void dc_proxy_evidence_free(struct dc_proxy_evidence *e);

/*
 * GET /derp in plain HTTP (no TLS) to the address: what a port that is "not TLS" really
 * serves. Returns 0 with *a when an HTTP answer came back (derper_426 when derper itself
 * answered), -1 otherwise.
 */
int dc_proxy_plain_get_derp(const struct sockaddr *addr, socklen_t addrlen, const char *host_name, int port,
			    long timeout_ms, struct dc_proxy_answer *a);

/* Record one server key met (merging with the keys already seen). */
void dc_proxy_evidence_add_key(struct dc_proxy_evidence *e, const uint8_t key[DC_DERP_KEY_LEN]);

/* Judge what came back for one request (exposed for tests): the derper fingerprints. */
void dc_proxy_answer_classify(struct dc_proxy_answer *a, enum dc_proxy_req r, const char *challenge);

#endif
