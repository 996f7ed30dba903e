/*
 * diagnose's evidence: what was sent and what came back, a line per fact under a check
 * (shown by -v). Only words from results the steps already have; nothing is probed here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose_int.h"

/*
 * One line of evidence under a check: what was sent and what came back, for -v and JSON.
 * Lines that no longer fit are dropped whole, and the last one kept says so.
 */
void dc_diag_evidence(struct dc_diag_check *c, const char *fmt, ...)
{
	static const char more[] = "(more evidence left out)";
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; (p = strchr(p, '\n')) != NULL;)
		*p = ' '; /* '\n' separates the lines: one a server sent cannot forge a line of evidence */
	size_t used = strlen(c->evidence), room = sizeof(c->evidence) - sizeof(more) - 1;
	if (used && strstr(c->evidence, more))
		return;
	if (used + 1 + strlen(line) > room) {
		snprintf(c->evidence + used, sizeof(c->evidence) - used, "%s%s", used ? "\n" : "", more);
		return;
	}
	snprintf(c->evidence + used, sizeof(c->evidence) - used, "%s%s", used ? "\n" : "", line);
}

/* Every probe to a target as the prober saw it: datagrams sent, what answered, in what time. */
void dc_diag_stun_probe_evidence(struct dc_diag_check *c, const struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	char ep[DC_ENDPOINT_STRLEN], from[DC_ENDPOINT_STRLEN] = "";
	if (t->has_local)
		dc_endpoint_format(&t->local, from, sizeof(from));
	for (size_t k = 0; k <= t->nprobes; k++) {
		const struct dc_probe_result *p = k < t->nprobes ? dc_stun_probe(rep, t, k) : t->has_cross ? dc_stun_cross(rep, t) : NULL;
		if (!p)
			break;
		char what[48];
		if (k < t->nprobes)
			snprintf(what, sizeof(what), "probe %zu", k + 1);
		else
			snprintf(what, sizeof(what), "cross-check (the other request style)");
		if (p->status == DC_PROBE_OK)
			dc_diag_evidence(c, "%s: %u datagram%s%s%s, answered in %.3fms: mapped %s", what, p->sent, p->sent == 1 ? "" : "s",
				 from[0] ? " from " : "", from, (double)p->rtt_ns / 1e6, dc_endpoint_format(&p->mapped, ep, sizeof(ep)));
		else
			dc_diag_evidence(c, "%s: %u datagram%s%s%s: %s%s%s", what, p->sent, p->sent == 1 ? "" : "s", from[0] ? " from " : "",
				 from, dc_probe_status_name(p->status), p->detail[0] ? ", " : "", p->detail);
	}
}

/* The TLS connection as it went: the name sent, the protocol, the server's clock, any alert or plain HTTP. */
void dc_diag_tls_evidence(struct dc_diag_check *c, const struct dc_cert_report *rep)
{
	const struct dc_tls_facts *f = &rep->conn;
	dc_diag_evidence(c, "ClientHello to %s with %s%s", f->peer, f->sni[0] ? "SNI " : "no SNI", f->sni);
	if (f->handshake)
		dc_diag_evidence(c, "handshake: %s, %s in %.3fms", f->version, f->cipher, f->tls_ms);
	if (f->sni_retried)
		dc_diag_evidence(c, "refused with the name; without SNI the handshake %s", f->no_sni_ok ? "completed" : "failed too");
	if (f->alert[0])
		dc_diag_evidence(c, "TLS alert: %s", f->alert);
	if (f->plain_http)
		dc_diag_evidence(c, "the port answered plain HTTP: %s", f->http_status);
	if (!f->handshake && f->error[0])
		dc_diag_evidence(c, "%s", f->error);
	if (f->have_date) {
		char date[40];
		dc_time_format(f->server_date, date, sizeof(date));
		dc_diag_evidence(c, "the server's clock (HTTP Date): %s, %+lld s from ours", date, f->skew_s);
	}
}

/* The chain as served and every kind of client's verdict on it. */
void dc_diag_cert_evidence(struct dc_diag_check *c, const struct dc_cert_report *rep)
{
	for (size_t i = 0; i < rep->count; i++) {
		const struct dc_chain_cert *x = &rep->certs[i];
		if (x->origin != DC_ORIGIN_SERVED)
			continue;
		if (x->role == DC_ROLE_METACERT) {
			dc_diag_evidence(c, "[%d] derper's key certificate (protocol %d): not part of the chain", x->index,
				 x->info.derp_version);
			continue;
		}
		char until[40];
		dc_time_format(x->info.not_after, until, sizeof(until));
		dc_diag_evidence(c, "[%d] %s %s, issued by %s, valid until %s, sha256 %.16s…", x->index, dc_cert_role_name(x->role),
			 x->info.subject, x->info.self_signed ? "itself" : x->info.issuer, until, x->info.sha256);
	}
	for (int k = 0; k < DC_CLIENT_COUNT; k++) {
		const struct dc_client_verdict *v = &rep->clients[k];
		if (v->checked)
			dc_diag_evidence(c, "%s %s: %s", dc_client_label((enum dc_client)k), v->ok ? "ok" : "FAIL", v->says);
	}
}

/* ---- 5. derper's HTTP endpoints ---------------------------------------------------------- */

/* Up to n-1 bytes of a header line, printable ASCII only (it comes from the server). */
static void printable(char *out, size_t n, const char *s, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < n && s[i] != '\r' && s[i] != '\n'; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[k] = '\0';
}

/* The request and the server's status line as received, with the headers that identify it. */
void dc_diag_http_evidence(struct dc_diag_check *c, const char *url, const struct dc_http_response *resp)
{
	if (resp->failure != DC_HTTP_OK || !resp->headers.data) {
		dc_diag_evidence(c, "GET %s: %s", url, resp->error.what[0] ? resp->error.what : "no response");
		return;
	}
	char line[200];
	printable(line, sizeof(line), resp->headers.data, resp->headers.len);
	dc_diag_evidence(c, "GET %s: \"%s\" in %.3fms, %zu bytes", url, line, (double)resp->elapsed_ns / 1e6, resp->body.len);
	static const char *const names[] = {"Server", "X-Tailscale-Response", "Location"};
	for (size_t i = 0; i < DC_ARRAY_LEN(names); i++) {
		const char *v;
		size_t vn;
		if (dc_http_header(resp, names[i], &v, &vn)) {
			printable(line, sizeof(line), v, vn);
			dc_diag_evidence(c, "%s: %s", names[i], line);
		}
	}
}

/* ---- 7. the DERP handshake, relaying, mesh ----------------------------------------------- */

/* A DERP connection phase by phase, and what the server said in its handshake. */
void dc_diag_derp_conn_evidence(struct dc_diag_check *c, const struct dc_derp_conn *conn)
{
	dc_diag_evidence(c, "%s%s%.3fms TCP, %.3fms TLS, %.3fms certificate, %.3fms HTTP upgrade (%s), %.3fms DERP handshake",
		 conn->tls.peer[0] ? conn->tls.peer : "", conn->tls.peer[0] ? ": " : "", (double)conn->tcp_ns / 1e6,
		 (double)conn->tls_ns / 1e6, (double)conn->verify_ns / 1e6, (double)conn->upgrade_ns / 1e6,
		 conn->fast_start ? "fast start, no 101" : "101 Switching Protocols", (double)conn->handshake_ns / 1e6);
	if (conn->http_derp_version >= 0)
		dc_diag_evidence(c, "Derp-Version header: %d", conn->http_derp_version);
	if (conn->failure == DC_DERP_OK)
		dc_diag_evidence(c, "ServerInfo: protocol %d%s", conn->info.version, conn->metacert ? ", key also in derper's key certificate" : "");
	else
		dc_diag_evidence(c, "stopped at %s: %s", dc_derp_phase_name(conn->phase), dc_derp_failure_name(conn->failure));
	if (conn->health_set)
		dc_diag_evidence(c, "the server's health message: %s", conn->health);
}

/* Which node each client reached, and every packet's round trip (A to B and back). */
void dc_diag_ping_evidence(struct dc_diag_check *c, const struct dc_ping_result *pr)
{
	for (int k = 0; k < 2; k++) {
		const struct dc_ping_client *cl = &pr->clients[k];
		if (cl->connected)
			dc_diag_evidence(c, "%c: node %s at %s, connected in %.3fms", cl->name ? cl->name : 'A' + k,
				 cl->conn.node && cl->conn.node->name ? cl->conn.node->name : "?", cl->conn.tls.peer,
				 (double)cl->conn.connect_ns / 1e6);
		else if (cl->attempted)
			dc_diag_evidence(c, "%c: not connected: %s", cl->name ? cl->name : 'A' + k, cl->err.what);
	}
	for (unsigned i = 0; pr->packets && i < pr->sent; i++) {
		const struct dc_ping_packet *p = &pr->packets[i];
		if (p->replied)
			dc_diag_evidence(c, "seq %u: %.3fms (A to B %.3fms, B to A %.3fms)", p->seq, p->rtt_ms, p->there_ms, p->back_ms);
		else
			dc_diag_evidence(c, "seq %u: %s", p->seq, p->corrupted ? "corrupted" : "lost");
	}
}
