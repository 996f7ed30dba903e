/*
 * Shared by the modules of `derpcheck diagnose` (include/derpcheck/judge/diagnose.h):
 * diagnose.c (the run and the checklist helpers), diagstun.c (steps 1-3: the map entry,
 * DNS, STUN), diagtls.c (steps 4-6: TCP, TLS, the certificate, derper's HTTP endpoints,
 * what is in front of derper), diagrelay.c (step 7: the DERP handshake, relaying, the
 * mesh), diagevidence.c (the evidence lines -v shows) and diagverdict.c (the region's
 * STUN and DERP verdicts). Not part of the public API.
 */
#ifndef DERPCHECK_DIAGNOSE_INT_H
#define DERPCHECK_DIAGNOSE_INT_H

#include <pthread.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/diagnose.h"
#include "derpcheck/judge/proxy.h"
#include "derpcheck/judge/tlscheck.h"
#include "derpcheck/net/http.h"
#include "derpcheck/net/resolve.h"
#include "derpcheck/probe/derpping.h"
#include "derpcheck/probe/stuncheck.h"

#define DEFAULT_TIMEOUT_MS 3000L
#define STUN_TIMEOUT_MS 1500L
#define ALT_STUN_TIMEOUT_MS 1000L

#define SUMMARY(c, ...) dc_textf((c)->summary, sizeof((c)->summary), __VA_ARGS__)
#define CAUSE(c, ...) dc_textf((c)->cause, sizeof((c)->cause), __VA_ARGS__)
#define FIX(c, ...) dc_textf((c)->fix, sizeof((c)->fix), __VA_ARGS__)

struct tls_outcome {
	bool tcp_ok;      /* TCP to DERPPort connected (addr is the address) */
	bool tls_ok;      /* a TLS handshake completed */
	bool not_tls;     /* ... or the port answered something that is not TLS (plain HTTP?) */
	bool cert_ok;     /* Tailscale clients accept the certificate (checked, or with checks off) */
	bool chain_too_long; /* the server sends far more certificates than a chain needs (chain-too-long) */
	struct dc_endpoint addr;
};

struct dc_diag_region_ctx {
	const struct dc_diag_report *r;
};

/* ---- diagnose.c ---- */

struct dc_diag_check *dc_diag_add_check(struct dc_diag_check *arr, size_t *count, const char *id, enum dc_diag_path path);
const char *dc_diag_fam_field(int fam);
const char *dc_diag_fam_record(int fam);
/* Hints written for `derpcheck cert` span lines; a checklist line is one line. */
void dc_diag_one_line(char *s, size_t n);
const struct dc_finding *dc_diag_first_of(const struct dc_findings *f, enum dc_severity sev);
bool dc_diag_is_ip_literal(const char *host);
struct dc_diag_check *dc_diag_node_check(struct dc_diag_node *n, const char *id, enum dc_diag_path path);
void dc_diag_set(struct dc_diag_check *c, enum dc_check_status st, const char *code);

/* ---- diagstun.c ---- */

void dc_diag_check_dns(struct dc_diag_node *dn, int fam, const struct dc_resolve_req *addrs,
		      const struct dc_resolve_req *dns, const struct dc_diag_opts *o);
void dc_diag_check_map(const struct dc_derpmap *map, const struct dc_diag_opts *o, struct dc_diag_report *r);
void dc_diag_check_stun(const struct dc_derpmap *map, struct dc_diag_report *r, const struct dc_diag_opts *o);

/* ---- diagtls.c ---- */

/* The HTTP checks (/, /derp/probe, /generate_204, port 80): requests in flight between start and finish. */
struct dc_diag_http_run {
	struct dc_diag_check *home, *probe, *g204, *p80;
	bool started, threaded;
	pthread_t thread;
	int port;
	char ip[DC_ENDPOINT_STRLEN], hostpart[300], resolve_tls[400], resolve_80[400];
	const char *res_tls[2], *res_80[2], *hdrs[2];
	char challenge[40], challenge_hdr[80];
	char urls[4][400];
	struct dc_http_opts ho;
	struct dc_http_request reqs[4];
	struct dc_http_response resps[4];
	size_t nreq;
	int rc;
	struct dc_error err;
};
void dc_diag_http_start(struct dc_diag_node *dn, const struct tls_outcome *tls, const struct dc_diag_opts *o,
			struct dc_diag_http_run *run);
void dc_diag_http_finish(struct dc_diag_node *dn, struct dc_diag_http_run *run);
void dc_diag_check_proxy(struct dc_diag_node *dn, const struct tls_outcome *tls, const struct dc_diag_opts *o,
			struct dc_proxy_evidence *ev, bool *have_ev);
void dc_diag_check_tls(struct dc_diag_node *dn, const struct dc_resolve_req *addrs, const struct dc_diag_region_ctx *ctx,
		      const struct dc_diag_opts *o, struct tls_outcome *out);

/* ---- diagrelay.c ---- */

void dc_diag_check_handshake(struct dc_diag_node *dn, const struct dc_derp_region *region, const struct tls_outcome *tls,
			    const struct dc_diag_opts *o, bool *admitted, bool *insecure_used);
void dc_diag_judge_ping(struct dc_diag_check *c, const struct dc_ping_result *pr, unsigned count, const char *what);
void dc_diag_judge_server_keys(struct dc_diag_check *c, struct dc_diag_node *dn, const struct dc_ping_result *pr,
			      struct dc_proxy_evidence *ev, bool have_ev, enum dc_proxy_kind kind);
void dc_diag_ping_between(const struct dc_derp_region *region, const char *node, bool mesh, const struct dc_diag_opts *o,
			 bool insecure, struct dc_ping_result *pr);

/* ---- diagevidence.c ---- */

void dc_diag_cert_evidence(struct dc_diag_check *c, const struct dc_cert_report *rep);
void dc_diag_derp_conn_evidence(struct dc_diag_check *c, const struct dc_derp_conn *conn);
void dc_diag_evidence(struct dc_diag_check *c, const char *fmt, ...) DC_PRINTF(2, 3);
void dc_diag_http_evidence(struct dc_diag_check *c, const char *url, const struct dc_http_response *resp);
void dc_diag_ping_evidence(struct dc_diag_check *c, const struct dc_ping_result *pr);
void dc_diag_stun_probe_evidence(struct dc_diag_check *c, const struct dc_stun_report *rep, const struct dc_stun_target *t);
void dc_diag_tls_evidence(struct dc_diag_check *c, const struct dc_cert_report *rep);

/* ---- diagverdict.c ---- */

void dc_diag_verdicts(struct dc_diag_report *r);

/* Step 7 too (--load-rate, --mesh-psk-file): load through a node, and who lists whom with the mesh key. */
void dc_diag_check_load(struct dc_diag_node *dn, const struct dc_derp_region *region, const struct dc_diag_opts *o,
		       bool insecure);
void dc_diag_check_mesh_presence(const struct dc_derp_region *region, struct dc_diag_report *r, const struct dc_diag_opts *o,
				const bool *insecure);

#endif
