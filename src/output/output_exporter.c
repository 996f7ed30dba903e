/* The exporter's pages (output_exporter.h; names and labels in docs/metrics.md). */
#include "derpcheck/output/output_exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "derpcheck/output/output_diagnose.h"
#include "derpcheck/output/promtext.h"

/* A string literal, its length counted by the compiler. */
#define PUT(b, lit) dc_buf_append((b), (lit), sizeof(lit) - 1)

/* ---- one region's monitoring series ---------------------------------------------------------- */

/* name{region="..",region_code=".."[,node=".."] (the caller adds more labels and "} value"). */
static void series(struct dc_buf *b, const char *name, const struct dc_derp_region *rg, const char *node)
{
	dc_buf_printf(b, "%s{region=\"%lld\"", name, (long long)rg->id);
	dc_prom_label(b, "region_code", rg->code, false);
	if (node)
		dc_prom_label(b, "node", node, false);
}

static void value(struct dc_buf *b, double v)
{
	PUT(b, "} ");
	dc_prom_value(b, v);
	PUT(b, "\n");
}

static const struct dc_diag_check *find_check(const struct dc_diag_node *dn, const char *id)
{
	for (size_t k = 0; k < dn->count; k++)
		if (strcmp(dn->checks[k].id, id) == 0)
			return &dn->checks[k];
	return NULL;
}

static bool ran(const struct dc_diag_check *c)
{
	return c && c->status != DC_CHECK_SKIP;
}

static bool passed(const struct dc_diag_check *c)
{
	return c->status == DC_CHECK_OK || c->status == DC_CHECK_WARN;
}

/* Families of one region, each introduced by its HELP and TYPE (dc_prom_merge keeps the first). */
static void region_series(struct dc_buf *b, const struct dc_diag_report *r)
{
	const struct dc_derp_region *rg = r->region;
	static const enum dc_verdict verdicts[] = {DC_VERDICT_OK, DC_VERDICT_DEGRADED, DC_VERDICT_INSECURE,
						   DC_VERDICT_BROKEN, DC_VERDICT_NA};
	dc_prom_family(b, "derpcheck_region_verdict", "gauge",
		       "The region's verdict for STUN and for DERP relaying: 1 for the verdict it has, 0 for the others "
		       "(ok, degraded, insecure, broken, n/a).");
	for (int p = 0; p < 2; p++) {
		enum dc_verdict have = p == 0 ? r->stun : r->derp;
		for (size_t i = 0; i < DC_ARRAY_LEN(verdicts); i++) {
			series(b, "derpcheck_region_verdict", rg, NULL);
			dc_prom_label(b, "path", p == 0 ? "stun" : "derp", false);
			dc_prom_label(b, "verdict", dc_verdict_name(verdicts[i]), false);
			value(b, have == verdicts[i]);
		}
	}
	dc_prom_family(b, "derpcheck_node_derp_ok", "gauge",
		       "1 when clients can relay through the node (every DERP check passed, relay included), 0 when a "
		       "check failed or passes only with certificate checks off; absent for STUNOnly nodes.");
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		if (dn->node->stun_only)
			continue;
		const struct dc_diag_check *relay = find_check(dn, DC_DIAG_RELAY);
		bool ok = relay && passed(relay);
		for (size_t k = 0; k < dn->count; k++)
			if (dn->checks[k].path == DC_PATH_DERP &&
			    (dn->checks[k].status == DC_CHECK_FAIL || dn->checks[k].status == DC_CHECK_INSECURE))
				ok = false;
		series(b, "derpcheck_node_derp_ok", rg, dn->node->name);
		value(b, ok);
	}
	dc_prom_family(b, "derpcheck_node_stun_ok", "gauge",
		       "1 when the node answered Tailscale's STUN requests on STUNPort over that family, 0 when not; absent "
		       "when not probed (no address, STUN off, -4/-6).");
	dc_prom_family(b, "derpcheck_stun_rtt_seconds", "gauge", "Median STUN round trip to the node, per family.");
	dc_prom_family(b, "derpcheck_tls_handshake_seconds", "gauge", "Time of the TLS handshake with the node.");
	dc_prom_family(b, "derpcheck_relay_rtt_seconds", "gauge",
		       "Average round trip of packets relayed A to B and back through the node.");
	dc_prom_family(b, "derpcheck_relay_loss_ratio", "gauge",
		       "Share of relayed test packets that did not come back (0 to 1).");
	dc_prom_family(b, "derpcheck_admission_ok", "gauge",
		       "1 when the node admitted derpcheck's client (ServerInfo came back), 0 when it refused or the "
		       "handshake failed; absent when no TLS connection was made.");
	dc_prom_family(b, "derpcheck_cert_not_after_seconds", "gauge",
		       "Expiry (notAfter, Unix time) of the leaf certificate the node serves.");
	dc_prom_family(b, "derpcheck_cert_chain_ok", "gauge",
		       "1 when the chain the node serves verifies as Tailscale on Linux checks it (leaf, intermediates, "
		       "name, dates, trust store), 0 when it does not; absent when no chain was captured.");
	dc_prom_family(b, "derpcheck_cert_trust", "gauge",
		       "What clients make of the node's certificate: 1 for its state, 0 for the others (verified, rejected, "
		       "insecure: accepted only because InsecureForTests turns checks off, unchecked: InsecureForTests over "
		       "a good chain, unknown: not judged).");
	dc_prom_family(b, "derpcheck_cert_revocation", "gauge",
		       "The served leaf's revocation status (stapled OCSP, else the leaf's OCSP responder, else its CRL): 1 for "
		       "its status, "
		       "0 for the others (good, revoked, unknown: an answer without a verdict, not-checked: no responder or "
		       "CRL, no issuer or no answer); absent when no leaf was served.");
	static const enum dc_revocation_status revocations[] = {DC_REVOCATION_GOOD, DC_REVOCATION_REVOKED,
								 DC_REVOCATION_UNKNOWN, DC_REVOCATION_NOT_CHECKED};
	static const enum dc_trust trusts[] = {DC_TRUST_VERIFIED, DC_TRUST_REJECTED, DC_TRUST_INSECURE,
					       DC_TRUST_UNCHECKED, DC_TRUST_UNKNOWN};
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		const char *name = dn->node->name;
		for (int fam = 4; fam <= 6; fam += 2) {
			const struct dc_diag_check *c = find_check(dn, fam == 4 ? DC_DIAG_STUN4 : DC_DIAG_STUN6);
			if (!ran(c))
				continue;
			series(b, "derpcheck_node_stun_ok", rg, name);
			dc_prom_label(b, "family", fam == 4 ? "ipv4" : "ipv6", false);
			value(b, passed(c));
			if (c->ms >= 0) {
				series(b, "derpcheck_stun_rtt_seconds", rg, name);
				dc_prom_label(b, "family", fam == 4 ? "ipv4" : "ipv6", false);
				value(b, c->ms / 1000.0);
			}
		}
		const struct dc_diag_check *tls = find_check(dn, DC_DIAG_TLS);
		if (ran(tls) && tls->ms >= 0 && tls->status == DC_CHECK_OK) {
			series(b, "derpcheck_tls_handshake_seconds", rg, name);
			value(b, tls->ms / 1000.0);
		}
		const struct dc_diag_check *relay = find_check(dn, DC_DIAG_RELAY);
		if (ran(relay) && relay->sent) {
			if (relay->ms >= 0) {
				series(b, "derpcheck_relay_rtt_seconds", rg, name);
				value(b, relay->ms / 1000.0);
			}
			series(b, "derpcheck_relay_loss_ratio", rg, name);
			value(b, (double)(relay->sent - relay->received) / relay->sent);
		}
		const struct dc_diag_check *hs = find_check(dn, DC_DIAG_HANDSHAKE);
		if (ran(hs)) {
			series(b, "derpcheck_admission_ok", rg, name);
			value(b, hs->status == DC_CHECK_OK);
		}
		if (dn->have_leaf) {
			series(b, "derpcheck_cert_not_after_seconds", rg, name);
			value(b, (double)dn->leaf_not_after);
		}
		if (dn->trust != DC_TRUST_UNKNOWN) {
			series(b, "derpcheck_cert_chain_ok", rg, name);
			value(b, dn->trust == DC_TRUST_VERIFIED || dn->trust == DC_TRUST_UNCHECKED);
		}
		if (!dn->node->stun_only)
			for (size_t t = 0; t < DC_ARRAY_LEN(trusts); t++) {
				series(b, "derpcheck_cert_trust", rg, name);
				dc_prom_label(b, "state", dc_trust_name(trusts[t]), false);
				value(b, dn->trust == trusts[t]);
			}
		if (dn->revocation.attempted)
			for (size_t k = 0; k < DC_ARRAY_LEN(revocations); k++) {
				series(b, "derpcheck_cert_revocation", rg, name);
				dc_prom_label(b, "status", dc_revocation_status_name(revocations[k]), false);
				value(b, dn->revocation.status == revocations[k]);
			}
		/*
		 * Extension point: the transport a node was reached over (DERP upgrade or WebSocket)
		 * becomes derpcheck_node_transport_info{...,transport="derp|websocket"} 1 here once
		 * diagnose records it per node (docs/metrics.md, "reserved").
		 */
	}
	dc_prom_family(b, "derpcheck_mesh_ok", "gauge",
		       "1 when a packet sent through one node reached a client on the other (the pair forwards), 0 when "
		       "not; absent when a node of the pair does not relay on its own.");
	dc_prom_family(b, "derpcheck_mesh_rtt_seconds", "gauge", "Average round trip relayed across the pair of nodes.");
	for (size_t k = 0; k < r->region_count; k++) {
		const struct dc_diag_check *c = &r->region_checks[k];
		if (strcmp(c->id, DC_DIAG_MESH) != 0 || !ran(c))
			continue;
		series(b, "derpcheck_mesh_ok", rg, c->pair[0]);
		dc_prom_label(b, "peer", c->pair[1], false);
		value(b, passed(c));
		if (c->ms >= 0) {
			series(b, "derpcheck_mesh_rtt_seconds", rg, c->pair[0]);
			dc_prom_label(b, "peer", c->pair[1], false);
			value(b, c->ms / 1000.0);
		}
	}
	if (!r->mesh_sees)
		return;
	/* --mesh-psk-file: n * (n - 1) series per region, like derpcheck_mesh_ok's pairs both ways. */
	dc_prom_family(b, "derpcheck_mesh_key_ok", "gauge",
		       "With --mesh-psk-file: 1 when the node accepted the mesh key (it answered WatchConns), 0 when it "
		       "closed the connection on it; absent when it could not be asked.");
	dc_prom_family(b, "derpcheck_mesh_sees", "gauge",
		       "With --mesh-psk-file: 1 when the node lists the peer's mesh client among its clients (the peer "
		       "meshes into it), 0 when not; absent when either was not watched.");
	size_t n = r->node_count;
	for (size_t i = 0; i < n; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		if (dn->mesh_watch == DC_MESH_WATCH_OK || dn->mesh_watch == DC_MESH_WATCH_REFUSED) {
			series(b, "derpcheck_mesh_key_ok", rg, dn->node->name);
			value(b, dn->mesh_watch == DC_MESH_WATCH_OK);
		}
		for (size_t j = 0; j < n; j++) {
			if (r->mesh_sees[i * n + j] < 0)
				continue;
			series(b, "derpcheck_mesh_sees", rg, dn->node->name);
			dc_prom_label(b, "peer", r->nodes[j].node->name, false);
			value(b, r->mesh_sees[i * n + j] == 1);
		}
	}
}

/* The region's `diagnose --format prometheus` exposition, then its monitoring series. */
static char *region_text(const struct dc_diag_report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem)
		return dc_xstrdup("");
	dc_output_diagnose_prometheus(mem, r);
	fclose(mem);
	struct dc_buf b = {0};
	dc_buf_append(&b, text, len);
	free(text);
	region_series(&b, r);
	return b.data;
}

static void freshness(struct dc_buf *b, const struct dc_watch_region *wr, const struct dc_exporter_view *v)
{
	dc_prom_family(b, "derpcheck_result_age_seconds", "gauge",
		       "Seconds since the region's latest diagnosis finished; absent before the first.");
	dc_prom_family(b, "derpcheck_result_stale", "gauge",
		       "1 when the region has no result yet or its latest is older than twice the interval (the series "
		       "above then describe the past), else 0.");
	uint64_t age = wr->have && v->now_ns > wr->finished_ns ? v->now_ns - wr->finished_ns : 0;
	if (wr->have) {
		series(b, "derpcheck_result_age_seconds", wr->region, NULL);
		value(b, (double)(age / 1000000u) / 1000.0);
	}
	series(b, "derpcheck_result_stale", wr->region, NULL);
	value(b, !wr->have || age > v->stale_after_ns);
}

static void exporter_series(struct dc_buf *b, size_t nregions, const struct dc_exporter_view *v)
{
	dc_prom_family(b, "derpcheck_exporter_build_info", "gauge", "Always 1; the version of derpcheck serving these.");
	dc_buf_printf(b, "derpcheck_exporter_build_info{version=\"%s\"} 1\n", DERPCHECK_VERSION);
	dc_prom_family(b, "derpcheck_exporter_regions", "gauge", "Regions watched.");
	dc_buf_printf(b, "derpcheck_exporter_regions %zu\n", nregions);
	dc_prom_family(b, "derpcheck_exporter_interval_seconds", "gauge", "How often every region is diagnosed.");
	PUT(b, "derpcheck_exporter_interval_seconds ");
	dc_prom_value(b, (double)(v->interval_ns / 1000000u) / 1000.0);
	PUT(b, "\n");
	dc_prom_family(b, "derpcheck_exporter_rounds_total", "counter", "Rounds of the schedule finished.");
	dc_buf_printf(b, "derpcheck_exporter_rounds_total %llu\n", (unsigned long long)v->rounds);
	dc_prom_family(b, "derpcheck_exporter_probes_total", "counter",
		       "Probes on demand (/probe): run, or refused at the concurrency limit.");
	dc_buf_printf(b, "derpcheck_exporter_probes_total{result=\"run\"} %llu\n", (unsigned long long)v->probes_run);
	dc_buf_printf(b, "derpcheck_exporter_probes_total{result=\"refused\"} %llu\n",
		      (unsigned long long)v->probes_refused);
	dc_prom_family(b, "derpcheck_exporter_probes_running", "gauge", "Probes on demand in progress.");
	dc_buf_printf(b, "derpcheck_exporter_probes_running %u\n", v->probes_running);
	if (v->http) {
		dc_prom_family(b, "derpcheck_exporter_http_requests_total", "counter",
			       "HTTP requests: answered, refused (malformed, wrong method, too large, too slow), or turned "
			       "away at the connection limit.");
		dc_buf_printf(b, "derpcheck_exporter_http_requests_total{result=\"answered\"} %llu\n",
			      (unsigned long long)v->http->requests);
		dc_buf_printf(b, "derpcheck_exporter_http_requests_total{result=\"refused\"} %llu\n",
			      (unsigned long long)v->http->refused);
		dc_buf_printf(b, "derpcheck_exporter_http_requests_total{result=\"overloaded\"} %llu\n",
			      (unsigned long long)v->http->overloaded);
	}
}

void dc_output_exporter_metrics(struct dc_buf *out, const struct dc_watch_region *regions, size_t n,
				const struct dc_exporter_view *v)
{
	char **texts = dc_xcalloc(n * 2 + 1, sizeof(*texts));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (regions[i].have)
			texts[k++] = region_text(&regions[i].report);
	for (size_t i = 0; i < n; i++) {
		struct dc_buf b = {0};
		freshness(&b, &regions[i], v);
		texts[k++] = b.data;
	}
	struct dc_buf own = {0};
	exporter_series(&own, n, v);
	texts[k++] = own.data;
	dc_prom_merge((const char *const *)texts, k, out);
	for (size_t i = 0; i < k; i++)
		free(texts[i]);
	free(texts);
}

void dc_output_exporter_probe(struct dc_buf *out, const struct dc_diag_report *r, double duration_s)
{
	dc_prom_family(out, "probe_success", "gauge",
		       "1 when the region is healthy (what diagnose exits 0 for), else 0 (blackbox exporter convention).");
	dc_buf_printf(out, "probe_success %d\n", dc_diag_exit_status(r) == 0);
	dc_prom_family(out, "probe_duration_seconds", "gauge", "How long the probe took.");
	PUT(out, "probe_duration_seconds ");
	dc_prom_value(out, duration_s);
	PUT(out, "\n");
	char *text = region_text(r);
	const char *const texts[] = {text};
	dc_prom_merge(texts, 1, out);
	free(text);
}

/* ---- the status page ----------------------------------------------------------------------------- */

void dc_html_escape(struct dc_buf *out, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
		switch (*p) {
		case '&': PUT(out, "&amp;"); break;
		case '<': PUT(out, "&lt;"); break;
		case '>': PUT(out, "&gt;"); break;
		case '"': PUT(out, "&quot;"); break;
		case '\'': PUT(out, "&#39;"); break;
		default:
			if (*p >= 0x20 && *p != 0x7f)
				dc_buf_append(out, p, 1);
		}
	}
}

static void cell(struct dc_buf *b, const char *cls, const char *text)
{
	dc_buf_printf(b, "<td class=\"%s\">", cls);
	dc_html_escape(b, text);
	PUT(b, "</td>");
}

static const char *verdict_class(enum dc_verdict vd)
{
	return vd == DC_VERDICT_OK ? "ok" : vd == DC_VERDICT_NA ? "na" : vd == DC_VERDICT_DEGRADED ? "warn" : "bad";
}

void dc_output_exporter_status(struct dc_buf *b, const struct dc_watch_region *regions, size_t n,
			       const struct dc_exporter_view *v)
{
	dc_buf_printf(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>derpcheck exporter</title>\n"
			 "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left;vertical-align:top}"
			 ".ok{color:#070}.warn{color:#a60}.bad{color:#c00}.na,.stale{color:#777}</style></head>\n"
			 "<body><h1>derpcheck exporter</h1>\n<p>");
	dc_html_escape(b, v->map_desc);
	dc_buf_printf(b, ": %zu regions, every %.0fs; %llu rounds done. <a href=\"/metrics\">/metrics</a></p>\n", n,
		      (double)v->interval_ns / 1e9, (unsigned long long)v->rounds);
	PUT(b, "<table>\n<tr><th>region</th><th>code</th><th>STUN</th><th>DERP</th><th>result</th>"
			 "<th>problems</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		const struct dc_watch_region *wr = &regions[i];
		char id[32], age[64];
		snprintf(id, sizeof(id), "%lld", (long long)wr->region->id);
		PUT(b, "<tr>");
		cell(b, "", id);
		cell(b, "", wr->region->code);
		if (!wr->have) {
			cell(b, "na", "-");
			cell(b, "na", "-");
			cell(b, "stale", "not checked yet");
			cell(b, "", "");
			PUT(b, "</tr>\n");
			continue;
		}
		const struct dc_diag_report *r = &wr->report;
		cell(b, verdict_class(r->stun), dc_verdict_name(r->stun));
		cell(b, verdict_class(r->derp), dc_verdict_name(r->derp));
		uint64_t ns = v->now_ns > wr->finished_ns ? v->now_ns - wr->finished_ns : 0;
		snprintf(age, sizeof(age), "%.0fs ago%s", (double)ns / 1e9, ns > v->stale_after_ns ? " (stale)" : "");
		cell(b, ns > v->stale_after_ns ? "stale" : "", age);
		PUT(b, "<td>");
		for (size_t k = 0; k < r->node_count; k++)
			for (size_t j = 0; j < r->nodes[k].count; j++) {
				const struct dc_diag_check *c = &r->nodes[k].checks[j];
				if (c->status != DC_CHECK_FAIL && c->status != DC_CHECK_INSECURE)
					continue;
				PUT(b, "<div class=\"bad\">");
				dc_html_escape(b, r->nodes[k].node->name);
				PUT(b, " ");
				dc_html_escape(b, c->id);
				PUT(b, ": ");
				dc_html_escape(b, c->summary);
				PUT(b, "</div>");
			}
		for (size_t j = 0; j < r->region_count; j++) {
			const struct dc_diag_check *c = &r->region_checks[j];
			if (c->status != DC_CHECK_FAIL)
				continue;
			PUT(b, "<div class=\"bad\">");
			dc_html_escape(b, c->id);
			PUT(b, ": ");
			dc_html_escape(b, c->summary);
			PUT(b, "</div>");
		}
		PUT(b, "</td></tr>\n");
	}
	PUT(b, "</table>\n</body></html>\n");
}
