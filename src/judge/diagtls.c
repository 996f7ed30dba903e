/*
 * diagnose, steps 4-6: TCP to DERPPort, the TLS handshake and the certificate as each kind
 * of client judges it (judge/tlscheck.h, judge/trust.h), derper's HTTP endpoints, and what
 * is in front of derper (judge/proxy.c words it).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "derpcheck/input/mapload.h"
#include "diagnose_int.h"

static void tcp_fix(struct dc_diag_check *c, const struct dc_cert_report *rep, const struct dc_error *err, int port)
{
	switch (rep->conn.failure) {
	case DC_CONN_REFUSED:
		dc_diag_set(c, DC_CHECK_FAIL, "tcp-refused");
		FIX(c, "nothing listens on TCP %d: start derper with -a :%d, or fix DERPPort in the map or the port "
		       "forwarding (publish %d/tcp)", port, port, port);
		break;
	case DC_CONN_TIMEOUT:
		dc_diag_set(c, DC_CHECK_FAIL, "tcp-timeout");
		FIX(c, "a firewall or security group drops TCP %d: allow it from everywhere clients are", port);
		break;
	default:
		dc_diag_set(c, DC_CHECK_FAIL, "tcp-unreachable");
		FIX(c, "%s", err->hint[0] ? err->hint : "check routing between here and the server");
	}
	CAUSE(c, "%s", err->what);
}

/*
 * The served leaf's revocation status (judge/revocation.h). Counted with the map's checks,
 * not the DERP verdict: Tailscale on Linux relays through a revoked leaf all the same,
 * but a revoked certificate is a fault to fix (FAIL), an unknown status a warning, and
 * no evidence (no responder, no answer) a skip, never a pass.
 */
static void check_revocation(struct dc_diag_node *dn, const struct dc_cert_report *rep, const char *cmd, const char *skip)
{
	struct dc_diag_check *c = dc_diag_node_check(dn, DC_DIAG_REVOCATION, DC_PATH_MAP);
	const struct dc_revocation *v = &rep->revocation;
	if (!v->attempted) {
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "%s", skip);
		return;
	}
	dn->revocation = *v;
	char src[300];
	if (v->source == DC_REVSRC_STAPLE)
		dc_textf(src, sizeof(src), "the server's stapled OCSP response");
	else if (v->source == DC_REVSRC_CRL)
		dc_textf(src, sizeof(src), "the CRL %s", v->crl_url);
	else
		dc_textf(src, sizeof(src), "OCSP %s", v->url);
	switch (v->status) {
	case DC_REVOCATION_GOOD:
		dc_diag_set(c, DC_CHECK_OK, NULL);
		c->ms = v->fetch_ms;
		SUMMARY(c, "good, says %s (%s)", src, v->detail);
		return;
	case DC_REVOCATION_REVOKED:
		dc_diag_set(c, DC_CHECK_FAIL, "cert-revoked");
		SUMMARY(c, "revoked, says %s", src);
		CAUSE(c, "the CA revoked the served certificate %s", v->detail);
		FIX(c, "get a new certificate (and key, after keyCompromise), install it and restart derper; Tailscale on "
		       "Linux still connects, macOS, iOS and Windows clients may refuse it; details: `%s`", cmd);
		return;
	case DC_REVOCATION_UNKNOWN:
		dc_diag_set(c, DC_CHECK_WARN, "revocation-unknown");
		SUMMARY(c, "unknown, from %s", src);
		CAUSE(c, "%s", v->detail);
		FIX(c, "ask the CA why its revocation service has no verdict for this certificate; details: `%s`", cmd);
		return;
	case DC_REVOCATION_NOT_CHECKED:
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "not checked: %s", v->detail);
		return;
	}
}

void dc_diag_check_tls(struct dc_diag_node *dn, const struct dc_resolve_req *addrs, const struct dc_diag_region_ctx *ctx,
		      const struct dc_diag_opts *o, struct tls_outcome *out)
{
	const struct dc_derp_node *n = dn->node;
	int port = dc_node_derp_port(n);
	char cmd[700], addr[300];
	struct dc_tlscheck_call call;
	dc_tlscheck_node_call(n, ctx->r->region->id, dc_map_spec_for_command(o->map_name), o->map_format, o->ca_file, &call,
			      addr, sizeof(addr));
	dc_tlscheck_command(&call, cmd, sizeof(cmd));
	struct dc_cert_report chosen;
	bool have_chosen = false;
	dc_cert_report_init(&chosen);
	for (int fam = 4; fam <= 6; fam += 2) {
		struct dc_diag_check *c = dc_diag_node_check(dn, fam == 4 ? DC_DIAG_TCP4 : DC_DIAG_TCP6, DC_PATH_DERP);
		const struct dc_resolved *a = dc_resolved_family(addrs, fam);
		if (a->origin != DC_ORIGIN_MAP && a->origin != DC_ORIGIN_DNS && a->origin != DC_ORIGIN_LITERAL) {
			dc_diag_set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "%s", a->note[0] ? a->note : "no address");
			continue;
		}
		char dst[DC_ENDPOINT_STRLEN];
		dc_endpoint_format(&a->addr, dst, sizeof(dst));
		struct sockaddr_storage ss;
		socklen_t sl = dc_endpoint_to_sockaddr(&a->addr, &ss);
		struct dc_tlscheck_opts to = {
			.host_name = n->host_name, .cert_name = call.cert_name, .ca_file = o->ca_file, .no_aia = true,
			.timeout_ms = o->timeout_ms, .command = cmd, .soon_days = o->cert_warn_days,
			.revocation = !have_chosen, /* only the report kept below is shown: one OCSP request per node */
		};
		struct dc_cert_report rep;
		struct dc_error err;
		dc_cert_report_init(&rep);
		if (dc_tlscheck_connect((struct sockaddr *)&ss, sl, &to, &rep, &err) < 0) {
			SUMMARY(c, "%s: no connection", dst);
			dc_diag_evidence(c, "TCP to %s (DERPPort %d of %s): %s", dst, port, dc_diag_fam_field(fam), err.what);
			tcp_fix(c, &rep, &err, port);
			dc_cert_report_free(&rep);
			continue;
		}
		dc_diag_set(c, DC_CHECK_OK, NULL);
		c->ms = rep.conn.tcp_ms;
		SUMMARY(c, "%s: connected in %.1fms", dst, rep.conn.tcp_ms);
		dc_diag_evidence(c, "TCP to %s (DERPPort %d of %s): connected in %.3fms", dst, port, dc_diag_fam_field(fam), rep.conn.tcp_ms);
		if (!have_chosen) {
			chosen = rep;
			have_chosen = true;
			out->tcp_ok = true;
			out->addr = a->addr;
		} else {
			dc_cert_report_free(&rep);
		}
	}
	struct dc_diag_check *tls = dc_diag_node_check(dn, DC_DIAG_TLS, DC_PATH_DERP);
	struct dc_diag_check *cert = dc_diag_node_check(dn, DC_DIAG_CERT, DC_PATH_DERP);
	if (!have_chosen) {
		dc_diag_set(tls, DC_CHECK_SKIP, NULL);
		SUMMARY(tls, "no TCP connection");
		dc_diag_set(cert, DC_CHECK_SKIP, NULL);
		SUMMARY(cert, "no TCP connection");
		check_revocation(dn, &chosen, cmd, "no TCP connection");
		return;
	}
	dc_diag_tls_evidence(tls, &chosen);
	if (!chosen.conn.handshake) {
		out->not_tls = chosen.conn.failure == DC_CONN_NOT_TLS;
		const struct dc_finding *x = dc_findings_find(&chosen.findings, chosen.brief_code);
		dc_diag_set(tls, DC_CHECK_FAIL, chosen.brief_code ? chosen.brief_code : "handshake-failed");
		SUMMARY(tls, "%s: no TLS handshake", chosen.where);
		if (chosen.conn.plain_http)
			CAUSE(tls, "TCP %d speaks plain HTTP (%s), not TLS%s", port, chosen.conn.http_status,
			      chosen.conn.looks_like_derper ? ": derper runs there without TLS" : "");
		else
			CAUSE(tls, "%s", chosen.brief[0] ? chosen.brief : chosen.conn.error);
		if (chosen.conn.plain_http)
			FIX(tls, "clients only speak TLS to DERPPort: run derper with -certmode letsencrypt or manual "
				 "(not behind a proxy that strips TLS), or point DERPPort at the TLS port");
		else if (x && x->hint)
			FIX(tls, "%s", x->hint);
		else
			FIX(tls, "run `%s` for the details", cmd);
		dc_diag_one_line(tls->fix, sizeof(tls->fix));
		dc_diag_one_line(tls->cause, sizeof(tls->cause));
		dc_diag_set(cert, DC_CHECK_SKIP, NULL);
		SUMMARY(cert, "no TLS handshake");
		check_revocation(dn, &chosen, cmd, "no TLS handshake");
		dc_cert_report_free(&chosen);
		return;
	}
	out->tls_ok = true;
	out->chain_too_long = dc_findings_has(&chosen.findings, "chain-too-long");
	dc_diag_set(tls, DC_CHECK_OK, NULL);
	tls->ms = chosen.conn.tls_ms;
	SUMMARY(tls, "%s, %s, %s%s in %.1fms", chosen.conn.version, chosen.conn.cipher,
		chosen.conn.sni[0] ? "SNI " : "no SNI (HostName is an address)", chosen.conn.sni, chosen.conn.tls_ms);
	/* The chain is judged whatever the map says: InsecureForTests hides nothing (judge/trust.h). */
	struct dc_trust_evidence ev = {.node = n, .command = cmd, .map_name = o->map_name};
	struct dc_trust_texts texts;
	dc_trust_evidence_from_report(&chosen, &ev, &texts);
	struct dc_trust_verdict tv;
	dc_trust_judge(&ev, &tv);
	dn->trust = tv.state;
	if (chosen.count && !chosen.certs[0].info.metacert) {
		dn->have_leaf = true;
		dn->leaf_not_after = (int64_t)chosen.certs[0].info.not_after;
	}
	check_revocation(dn, &chosen, cmd, "no leaf certificate was served");
	dc_diag_cert_evidence(cert, &chosen);
	out->cert_ok = tv.state != DC_TRUST_REJECTED;
	if (tv.state == DC_TRUST_REJECTED || tv.state == DC_TRUST_INSECURE) {
		dc_diag_set(cert, tv.state == DC_TRUST_REJECTED ? DC_CHECK_FAIL : DC_CHECK_INSECURE, tv.code);
		SUMMARY(cert, "%s", tv.summary);
		CAUSE(cert, "%s", tv.cause);
		FIX(cert, "%s", tv.fix);
		dc_diag_one_line(cert->fix, sizeof(cert->fix));
		dc_diag_one_line(cert->cause, sizeof(cert->cause));
		dc_cert_report_free(&chosen);
		return;
	}
	const struct dc_finding *w = dc_diag_first_of(&chosen.findings, DC_SEV_WARNING);
	const struct dc_cert_info *leaf = chosen.count ? &chosen.certs[0].info : NULL;
	SUMMARY(cert, "valid for %s%s%s", call.cert_name ? call.cert_name : n->host_name, leaf ? ", issued by " : "",
		leaf ? leaf->issuer : "");
	if (tv.state == DC_TRUST_UNCHECKED) {
		dc_diag_set(cert, DC_CHECK_WARN, tv.code);
		SUMMARY(cert, "%s", tv.summary);
		CAUSE(cert, "%s", tv.cause);
		FIX(cert, "%s", tv.fix);
	} else if (w) {
		dc_diag_set(cert, DC_CHECK_WARN, w->code);
		CAUSE(cert, "%s", w->message);
		FIX(cert, "%s", w->hint ? w->hint : cmd);
		dc_diag_one_line(cert->cause, sizeof(cert->cause));
		dc_diag_one_line(cert->fix, sizeof(cert->fix));
	} else {
		dc_diag_set(cert, DC_CHECK_OK, NULL);
	}
	dc_cert_report_free(&chosen);
}

static void *http_fetch_thread(void *arg)
{
	struct dc_diag_http_run *run = arg;
	run->rc = dc_http_fetch_all(run->reqs, run->resps, run->nreq, &run->err);
	return NULL;
}

/*
 * The checks are created here, in the checklist's order, and the requests go out on a
 * thread of their own: a server that holds them to --timeout (a body shorter than its
 * Content-Length) then costs no time on top of the proxy and handshake checks, which run
 * meanwhile on other connections. Only the thread's own request and response structs are
 * touched until dc_diag_http_finish joins it.
 */
void dc_diag_http_start(struct dc_diag_node *dn, const struct tls_outcome *tls, const struct dc_diag_opts *o,
			struct dc_diag_http_run *run)
{
	memset(run, 0, sizeof(*run));
	const struct dc_derp_node *n = dn->node;
	run->home = dc_diag_node_check(dn, DC_DIAG_HTTP_HOME, DC_PATH_DERP);
	run->probe = dc_diag_node_check(dn, DC_DIAG_HTTP_PROBE, DC_PATH_DERP);
	run->g204 = dc_diag_node_check(dn, DC_DIAG_HTTP_204, DC_PATH_DERP);
	/* Port 80 serves captive-portal checks, not relaying: a wrong CanPort80 is a map problem. */
	run->p80 = n->can_port80 ? dc_diag_node_check(dn, DC_DIAG_HTTP_PORT80, DC_PATH_MAP) : NULL;
	if (!tls->tls_ok) {
		struct dc_diag_check *all[] = {run->home, run->probe, run->g204, run->p80};
		for (size_t i = 0; i < DC_ARRAY_LEN(all); i++)
			if (all[i]) {
				dc_diag_set(all[i], DC_CHECK_SKIP, NULL);
				SUMMARY(all[i], "no TLS connection");
			}
		return;
	}
	run->port = dc_node_derp_port(n);
	dc_ip_format(&tls->addr, run->ip, sizeof(run->ip));
	bool literal = dc_diag_is_ip_literal(n->host_name);
	/* Connect to the address tested above; the name stays the TLS name and Host header. */
	if (literal)
		snprintf(run->hostpart, sizeof(run->hostpart), tls->addr.family == 6 ? "[%s]" : "%s", run->ip);
	else
		snprintf(run->hostpart, sizeof(run->hostpart), "%s", n->host_name);
	snprintf(run->resolve_tls, sizeof(run->resolve_tls), tls->addr.family == 6 ? "%s:%d:[%s]" : "%s:%d:%s",
		 n->host_name, run->port, run->ip);
	snprintf(run->resolve_80, sizeof(run->resolve_80), tls->addr.family == 6 ? "%s:80:[%s]" : "%s:80:%s", n->host_name,
		 run->ip);
	run->res_tls[0] = run->resolve_tls;
	run->res_80[0] = run->resolve_80;
	uint8_t rnd[8];
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(run->challenge, sizeof(run->challenge), "derpcheck-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(run->challenge_hdr, sizeof(run->challenge_hdr), "X-Tailscale-Challenge: %s", run->challenge);
	run->hdrs[0] = run->challenge_hdr;
	/* The certificate is judged by its own check; these requests only look at what is served. */
	run->ho = (struct dc_http_opts){.insecure = true, .timeout_ms = o->timeout_ms, .max_bytes = 64 * 1024};
	snprintf(run->urls[0], sizeof(run->urls[0]), "https://%s:%d/", run->hostpart, run->port);
	snprintf(run->urls[1], sizeof(run->urls[1]), "https://%s:%d/derp/probe", run->hostpart, run->port);
	snprintf(run->urls[2], sizeof(run->urls[2]), "https://%s:%d/generate_204", run->hostpart, run->port);
	snprintf(run->urls[3], sizeof(run->urls[3]), "http://%s/generate_204", run->hostpart);
	const char *const *res_tls = literal ? NULL : run->res_tls, *const *res_80 = literal ? NULL : run->res_80;
	run->reqs[0] = (struct dc_http_request){.url = run->urls[0], .opts = &run->ho, .resolve = res_tls,
						.no_redirects = true, .truncate_body = true};
	run->reqs[1] = (struct dc_http_request){.url = run->urls[1], .opts = &run->ho, .resolve = res_tls, .no_redirects = true};
	run->reqs[2] = (struct dc_http_request){.url = run->urls[2], .opts = &run->ho, .resolve = res_tls, .headers = run->hdrs,
						.no_redirects = true};
	run->reqs[3] = (struct dc_http_request){.url = run->urls[3], .opts = &run->ho, .resolve = res_80, .headers = run->hdrs,
						.no_redirects = true};
	run->nreq = run->p80 ? 4 : 3;
	run->started = true;
	if (pthread_create(&run->thread, NULL, http_fetch_thread, run) != 0) {
		run->threaded = false;
		http_fetch_thread(run); /* no thread to be had: the requests go out now, in turn */
	} else {
		run->threaded = true;
	}
}

/* Joins the requests of dc_diag_http_start and judges what came back. */
void dc_diag_http_finish(struct dc_diag_node *dn, struct dc_diag_http_run *run)
{
	const struct dc_derp_node *n = dn->node;
	if (!run->started)
		return;
	if (run->threaded)
		pthread_join(run->thread, NULL);
	struct dc_diag_check *home = run->home, *probe = run->probe, *g204 = run->g204, *p80 = run->p80;
	struct dc_http_response *resps = run->resps;
	size_t nreq = run->nreq;
	if (run->rc < 0) {
		struct dc_diag_check *all[] = {home, probe, g204, p80};
		for (size_t i = 0; i < DC_ARRAY_LEN(all); i++)
			if (all[i]) {
				dc_diag_set(all[i], DC_CHECK_SKIP, NULL);
				SUMMARY(all[i], "not checked: %s", run->err.what);
			}
		for (size_t i = 0; i < nreq; i++)
			dc_http_response_free(&resps[i]);
		return;
	}
	struct dc_diag_check *checks[] = {home, probe, g204, p80};
	for (size_t i = 0; i < nreq; i++)
		dc_diag_http_evidence(checks[i], run->urls[i], &resps[i]);
	/* / : derper's home page */
	home->ms = (double)resps[0].elapsed_ns / 1e6;
	if (resps[0].failure != DC_HTTP_OK) {
		dc_diag_set(home, DC_CHECK_FAIL, "http-failed");
		SUMMARY(home, "GET / failed");
		CAUSE(home, "GET %s: %s", run->urls[0], resps[0].error.what);
		FIX(home, "%s", resps[0].error.hint[0] ? resps[0].error.hint : "check the server's HTTP side");
	} else if (resps[0].status == 200 && resps[0].body.data && strstr(resps[0].body.data, "<h1>DERP</h1>")) {
		dc_diag_set(home, DC_CHECK_OK, NULL);
		SUMMARY(home, "GET / is derper's home page");
	} else {
		dc_diag_set(home, DC_CHECK_WARN, "http-not-derper");
		SUMMARY(home, "GET / answered %ld, not derper's home page", resps[0].status);
		CAUSE(home, "something other than derper answers on %s:%d (a reverse proxy or another web server)",
		      n->host_name, run->port);
		FIX(home, "let derper terminate TLS on DERPPort itself: proxies in front of it usually break the /derp "
			  "upgrade");
	}
	/* /derp/probe */
	probe->ms = (double)resps[1].elapsed_ns / 1e6;
	if (resps[1].failure == DC_HTTP_OK && resps[1].status == 200) {
		dc_diag_set(probe, DC_CHECK_OK, NULL);
		SUMMARY(probe, "GET /derp/probe answered 200");
	} else {
		dc_diag_set(probe, DC_CHECK_WARN, "http-probe");
		if (resps[1].failure != DC_HTTP_OK)
			SUMMARY(probe, "GET /derp/probe failed: %s", resps[1].error.what);
		else
			SUMMARY(probe, "GET /derp/probe answered %ld", resps[1].status);
		CAUSE(probe, "/derp/probe does not answer 200: derpprobe and HTTPS latency checks fail against this node");
		FIX(probe, "run a current derper directly on DERPPort");
	}
	/* /generate_204 with the challenge, and the same over port 80 */
	for (size_t k = 2; k < nreq; k++) {
		struct dc_diag_check *c = k == 2 ? g204 : p80;
		const struct dc_http_response *resp = &resps[k];
		const char *v;
		size_t vn;
		char want[64];
		snprintf(want, sizeof(want), "response %s", run->challenge);
		bool answered = resp->failure == DC_HTTP_OK && resp->status == 204 &&
				dc_http_header(resp, "X-Tailscale-Response", &v, &vn) && vn == strlen(want) &&
				memcmp(v, want, vn) == 0;
		c->ms = (double)resp->elapsed_ns / 1e6;
		const char *where = k == 2 ? "/generate_204" : "port 80 /generate_204";
		if (answered) {
			dc_diag_set(c, DC_CHECK_OK, NULL);
			SUMMARY(c, "%s answered 204 with the challenge response", where);
			continue;
		}
		dc_diag_set(c, k == 2 ? DC_CHECK_WARN : DC_CHECK_FAIL, k == 2 ? "http-generate-204" : "http-port80");
		if (resp->failure != DC_HTTP_OK)
			SUMMARY(c, "%s failed: %s", where, resp->error.what);
		else
			SUMMARY(c, "%s answered %ld%s", where, resp->status,
				resp->status == 204 ? " without the X-Tailscale-Response challenge answer" : "");
		if (k == 2) {
			CAUSE(c, "/generate_204 does not answer Tailscale's challenge: clients may believe they are behind a "
				 "captive portal");
			FIX(c, "run a current derper directly on DERPPort (it answers the challenge itself)");
		} else {
			CAUSE(c, "the map sets CanPort80, but port 80 of %s does not answer like derper", run->ip);
			FIX(c, "serve derper's HTTP on port 80 (derper -http-port 80) or remove CanPort80 from the map");
		}
	}
	for (size_t i = 0; i < nreq; i++)
		dc_http_response_free(&resps[i]);
}

/* ---- 6. what is in front of derper ---------------------------------------------------------- */

/*
 * The proxy verdict's lines as checks (judge/proxy.c words them). Runs whenever TCP to
 * DERPPort worked: plain HTTP on the TLS port is exactly when it has most to say. The
 * server keys it met join the relay check's (judge_server_keys).
 */
void dc_diag_check_proxy(struct dc_diag_node *dn, const struct tls_outcome *tls, const struct dc_diag_opts *o,
			struct dc_proxy_evidence *ev, bool *have_ev)
{
	const struct dc_derp_node *n = dn->node;
	*have_ev = false;
	/*
	 * A handshake that failed (timeout, alert, closed) leaves the proxy probe nothing to
	 * learn, and a second wait on a silent port would double the time: only a port that
	 * answers something else than TLS (plain HTTP) is asked further.
	 */
	const char *skip = !tls->tcp_ok ? "no TCP connection"
			 : !tls->tls_ok && !tls->not_tls ? "no TLS handshake (see tls)"
			 : tls->chain_too_long ? "not probed: the server sends far more certificates than a chain needs "
						 "(see certificate), and the probe's dozen connections would each receive "
						 "and parse them all again"
							  : NULL;
	if (skip) {
		for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
			struct dc_diag_check *c = dc_diag_node_check(dn, dc_proxy_item_id((enum dc_proxy_item)i), DC_PATH_DERP);
			dc_diag_set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "%s", skip);
		}
		return;
	}
	struct sockaddr_storage ss;
	socklen_t sl = dc_endpoint_to_sockaddr(&tls->addr, &ss);
	struct dc_proxy_probe_opts po = {
		.addr = (struct sockaddr *)&ss, .addrlen = sl, .host_name = n->host_name, .port = dc_node_derp_port(n),
		.timeout_ms = o->timeout_ms,
	};
	struct dc_error err;
	struct dc_proxy_verdict v;
	if (dc_proxy_probe_run(&po, ev, &err) < 0) {
		for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
			struct dc_diag_check *c = dc_diag_node_check(dn, dc_proxy_item_id((enum dc_proxy_item)i), DC_PATH_DERP);
			dc_diag_set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "not checked: %.300s", err.what);
		}
		return;
	}
	*have_ev = true;
	dc_proxy_judge(ev, &v);
	for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
		const struct dc_proxy_line *l = &v.lines[i];
		struct dc_diag_check *c = dc_diag_node_check(dn, dc_proxy_item_id((enum dc_proxy_item)i), DC_PATH_DERP);
		dc_diag_set(c, l->status, l->code);
		SUMMARY(c, "%s", l->summary);
		CAUSE(c, "%s", l->cause);
		FIX(c, "%s", l->fix);
		c->ms = i == DC_PROXY_ITEM_DERP && ev->answers[DC_PROXY_UPGRADE_DERP].answered ? ev->answers[DC_PROXY_UPGRADE_DERP].ms : -1;
	}
	dn->proxy_probed = true;
	dn->front = dc_proxy_front_name(v.front);
	dn->proxy_kind = dc_proxy_kind_name(v.kind);
	snprintf(dn->proxy_who, sizeof(dn->proxy_who), "%s", v.who);
	snprintf(dn->alpn_chosen, sizeof(dn->alpn_chosen), "%s", ev->alpn_chosen);
	dn->derp_upgrade_ok = v.derp_ok;
	dn->websocket_ok = v.websocket_ok;
	dn->server_keys = ev->nkeys;
}
