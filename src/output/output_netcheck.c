#include "derpcheck/output/output_netcheck.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/netjudge.h"
#include "derpcheck/output/term.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(st, sgr) dc_paint(st, sgr)

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static const struct dc_derp_region *region_of(const struct dc_derpmap *map, int64_t id)
{
	return map ? dc_derpmap_region(map, id) : NULL;
}

static const char *code_of(const struct dc_derpmap *map, int64_t id)
{
	const struct dc_derp_region *rg = region_of(map, id);
	return rg && rg->code ? dc_term_safe(rg->code) : "?";
}

static void portmap_text(FILE *out, const struct dc_netcheck_extra *x)
{
	if (!x->portmap_ran) {
		fprintf(out, "\t* Port mapping: %s\n", x->portmap_note);
		return;
	}
	char gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &x->gateway.gateway, gw, sizeof(gw));
	const struct dc_portmap_result *p = &x->portmap;
	if (!p->probed) {
		fprintf(out, "\t* Port mapping: gateway %s (%s): not probed: %s\n", gw, x->gateway.ifname, p->skip_reason);
		return;
	}
	fprintf(out, "\t* Port mapping: gateway %s (%s), %.0fms\n", gw, x->gateway.ifname, ms(p->elapsed_ns));
	if (p->upnp)
		fprintf(out, "\t\t- UPnP: yes, %s%s%s\n", p->upnp_detail.igd.server[0] ? dc_term_safe(p->upnp_detail.igd.server) : "an IGD",
			p->upnp_detail.igd.location[0] ? " at " : "", dc_term_safe(p->upnp_detail.igd.location));
	else
		fprintf(out, "\t\t- UPnP: no%s\n", p->upnp_detail.sent ? " IGD answered" : " (not asked)");
	if (p->pmp) {
		char ext[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &p->pmp_detail.reply.external, ext, sizeof(ext));
		fprintf(out, "\t\t- NAT-PMP: yes, external address %s\n", ext);
	} else {
		fprintf(out, "\t\t- NAT-PMP: no%s%s\n", p->pmp_detail.detail[0] ? ": " : "", p->pmp_detail.detail);
	}
	if (p->pcp)
		fprintf(out, "\t\t- PCP: yes (epoch %u)\n", (unsigned)p->pcp_detail.reply.epoch);
	else
		fprintf(out, "\t\t- PCP: no%s%s\n", p->pcp_detail.detail[0] ? ": " : "", p->pcp_detail.detail);
}

/* The ICMP fallback (UDP blocked): which socket, each region's echo, or why none was sent. */
static void icmp_text(FILE *out, const struct dc_netcheck_view *v)
{
	const struct dc_netcheck_extra *x = &v->res->extra;
	if (!x->icmp_ran)
		return;
	if (x->icmp.socket == DC_ICMP_SOCKET_NONE && x->icmp.skipped[0]) {
		fprintf(out, "\t* ICMP latency (UDP blocked): not measured: %s\n", x->icmp.skipped);
		return;
	}
	size_t ok = 0, pinged = 0;
	for (size_t i = 0; i < x->icmp_count; i++) {
		pinged += x->icmp_targets[i].pinged;
		ok += x->icmp_targets[i].target.ok;
	}
	fprintf(out, "\t* ICMP latency (UDP blocked): %s, %zu of %zu echoes answered\n", dc_icmp_socket_name(x->icmp.socket),
		ok, pinged);
	for (size_t i = 0; i < x->icmp_count; i++) {
		const struct dc_netcheck_icmp *it = &x->icmp_targets[i];
		char a[DC_ENDPOINT_STRLEN];
		const char *name = dc_term_safe(it->node->name);
		if (it->target.ok)
			fprintf(out, "\t\t- %s %s %s: %.3fms\n", code_of(v->map, it->region_id), name,
				dc_ip_format(&it->target.addr, a, sizeof(a)), ms(it->target.rtt_ns));
		else if (it->pinged)
			fprintf(out, "\t\t- %s %s %s: %s\n", code_of(v->map, it->region_id), name,
				dc_ip_format(&it->target.addr, a, sizeof(a)), dc_term_safe(it->target.error));
		else
			fprintf(out, "\t\t- %s %s: %s\n", code_of(v->map, it->region_id), name, dc_term_safe(it->target.error));
	}
}

static void findings_text(FILE *out, const struct dc_findings *f, const struct dc_style *st)
{
	for (size_t i = 0; i < f->count; i++) {
		const struct dc_finding *x = &f->items[i];
		fprintf(out, "%s%s:%s %s\n", paint(st, x->severity == DC_SEV_ERROR ? RED : YELLOW),
			dc_severity_name(x->severity), paint(st, RESET), dc_term_safe(x->message));
		if (x->hint)
			fprintf(out, "  hint: %s\n", dc_term_safe(x->hint));
	}
}

void dc_output_netcheck_text(FILE *out, const struct dc_netcheck_view *v, const struct dc_style *st)
{
	const struct dc_netcheck_result *res = v->res;
	const struct dc_netcheck_extra *x = &res->extra;
	dc_netreport_print_text(out, &res->report, v->map, v->verbose);
	if (st && st->quiet) {
		findings_text(out, &x->findings, st);
		return;
	}
	fprintf(out, "\n%sderpcheck:%s\n", paint(st, BOLD), paint(st, RESET));
	fprintf(out, "\t* DERP map: %s\n", v->map_desc ? dc_term_safe(v->map_desc) : "?");
	if (v->map_note)
		fprintf(out, "\t  (%s)\n", dc_term_safe(v->map_note));
	fprintf(out, "\t* STUN phase: %.0fms, %s\n", ms(x->stun_phase_ns),
		x->stopped_early ? "stopped once enough regions had answered (--verbose measures all)" : "every region done");
	if (x->udp_detail[0])
		fprintf(out, "\t* UDP verdict: %s\n", dc_term_safe(x->udp_detail));
	fprintf(out, "\t* NAT mapping: %s\n", dc_nat_mapping_text(x->nat));
	if (x->nat_detail[0])
		fprintf(out, "\t  (%s)\n", x->nat_detail);
	if (x->hairpin != DC_OPT_UNSET || x->hairpin_detail[0])
		fprintf(out, "\t* Hairpin: %s%s%s\n",
			x->hairpin == DC_OPT_TRUE ? "yes, " : x->hairpin == DC_OPT_FALSE ? "no, " : "", x->hairpin_detail, "");
	portmap_text(out, x);
	if (x->captive_ran) {
		fprintf(out, "\t* Captive portal: %s\n", x->captive.captive ? "yes" : "no");
		for (size_t i = 0; i < x->captive.count; i++) {
			const struct dc_captive_probe *p = &x->captive.probes[i];
			fprintf(out, "\t\t- %s: %s: %s\n", p->endpoint.url, dc_captive_verdict_name(p->verdict), dc_term_safe(p->reason));
		}
	} else {
		fprintf(out, "\t* Captive portal: %s\n", x->captive_note);
	}
	fprintf(out, "\t* Nodes:\n");
	for (size_t i = 0; i < x->node_count; i++) {
		const struct dc_netcheck_node *n = &x->nodes[i];
		char a[DC_ENDPOINT_STRLEN], m[DC_ENDPOINT_STRLEN];
		const char *code = n->node ? code_of(v->map, n->region_id) : "extra";
		if (n->skipped) {
			/* A family the map turns off is the usual case: only say so with -v. */
			if (v->verbose || (n->addr.origin != DC_ORIGIN_DISABLED && n->addr.origin != DC_ORIGIN_NOT_WANTED))
				fprintf(out, "\t\t- %s %s IPv%d: skipped: %s\n", code, dc_term_safe(n->name), n->family, n->skip_reason);
			continue;
		}
		dc_endpoint_format(&n->addr.addr, a, sizeof(a));
		if (n->status == DC_PROBE_OK)
			fprintf(out, "\t\t- %s %s IPv%d %s: %.1fms, mapped %s\n", code, dc_term_safe(n->name), n->family, a, ms(n->rtt_ns),
				n->has_mapped ? dc_endpoint_format(&n->mapped, m, sizeof(m)) : "nothing");
		else
			fprintf(out, "\t\t- %s %s IPv%d %s: %s\n", code, dc_term_safe(n->name), n->family, a, dc_term_safe(n->why));
		if (n->guess && n->guess->ran && n->guess->nports) {
			char tried[1200];
			dc_stun_guess_tried(n->guess, tried, sizeof(tried));
			fprintf(out, "\t\t  tried: %s\n", dc_term_safe(tried));
		}
	}
	icmp_text(out, v);
	if (x->https_count) {
		fprintf(out, "\t* %s:\n", x->https_fallback_ran && !x->check_derp_ran ? "HTTPS latency (UDP blocked)"
											: "DERP port (TLS + /derp/latency-check)");
		for (size_t i = 0; i < x->https_count; i++) {
			const struct dc_netcheck_https *h = &x->https[i];
			if (h->ok)
				fprintf(out, "\t\t- %s %s %s: %.1fms (connect %.1fms)%s%s\n", code_of(v->map, h->region_id),
					dc_term_safe(h->node->name), h->peer, ms(h->latency_ns), ms(h->connect_ns),
					h->trust_judged && h->trust.state != DC_TRUST_VERIFIED ? ", certificate " : "",
					h->trust_judged && h->trust.state != DC_TRUST_VERIFIED ? dc_trust_name(h->trust.state) : "");
			else
				fprintf(out, "\t\t- %s %s: %s\n", code_of(v->map, h->region_id), dc_term_safe(h->node->name),
					dc_term_safe(h->error));
			if (h->derp_ok)
				fprintf(out, "\t\t  DERP handshake: admitted, %s\n", dc_term_safe(h->transport_how));
			else if (h->derp_tried)
				fprintf(out, "\t\t  DERP handshake: %s\n", dc_term_safe(h->derp_error));
		}
	}
	if (x->findings.count) {
		fputc('\n', out);
		findings_text(out, &x->findings, st);
	}
}

void dc_output_netcheck_brief(FILE *out, const struct dc_netcheck_view *v, const struct dc_style *st)
{
	const struct dc_netreport *r = &v->res->report;
	const struct dc_netcheck_extra *x = &v->res->extra;
	char near[160] = "none";
	if (r->preferred_derp) {
		const struct dc_derp_region *rg = region_of(v->map, r->preferred_derp);
		snprintf(near, sizeof(near), "%s", rg && rg->name ? dc_term_safe(rg->name) : code_of(v->map, r->preferred_derp));
	}
	fprintf(out, "%sMeasured now (netcheck):%s UDP %s, IPv4 %s, MappingVariesByDestIP %s, nearest DERP %s\n",
		paint(st, BOLD), paint(st, RESET), r->udp ? "works" : "blocked", r->global_v4[0] ? r->global_v4 : "none",
		r->mapping_varies_by_dest_ip == DC_OPT_UNSET ? "unknown"
		: r->mapping_varies_by_dest_ip == DC_OPT_TRUE ? "true" : "false",
		near);
	fprintf(out, "  NAT mapping: %s\n", dc_nat_mapping_text(x->nat));
	if (x->nat_detail[0])
		fprintf(out, "  (%s)\n", x->nat_detail);
	fputc('\n', out);
}

static cJSON *str_or_null(const char *s)
{
	return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *optbool(enum dc_optbool b)
{
	return b == DC_OPT_UNSET ? cJSON_CreateNull() : cJSON_CreateBool(b == DC_OPT_TRUE);
}

static cJSON *portmap_json(const struct dc_netcheck_extra *x)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "checked", x->portmap_ran && x->portmap.probed);
	cJSON_AddItemToObject(o, "note", str_or_null(x->portmap_ran ? x->portmap.skip_reason : x->portmap_note));
	if (!x->portmap_ran)
		return o;
	char gw[INET_ADDRSTRLEN], self[INET_ADDRSTRLEN], ext[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &x->gateway.gateway, gw, sizeof(gw));
	inet_ntop(AF_INET, &x->gateway.self, self, sizeof(self));
	cJSON_AddStringToObject(o, "gateway", gw);
	cJSON_AddStringToObject(o, "self", self);
	cJSON_AddStringToObject(o, "interface", x->gateway.ifname);
	const struct dc_portmap_result *p = &x->portmap;
	cJSON *u = cJSON_AddObjectToObject(o, "upnp");
	cJSON_AddBoolToObject(u, "available", p->upnp);
	cJSON_AddItemToObject(u, "server", str_or_null(p->upnp_detail.igd.server));
	cJSON_AddItemToObject(u, "location", str_or_null(p->upnp_detail.igd.location));
	cJSON *m = cJSON_AddObjectToObject(o, "pmp");
	cJSON_AddBoolToObject(m, "available", p->pmp);
	inet_ntop(AF_INET, &p->pmp_detail.reply.external, ext, sizeof(ext));
	cJSON_AddItemToObject(m, "external", p->pmp ? cJSON_CreateString(ext) : cJSON_CreateNull());
	cJSON_AddItemToObject(m, "detail", str_or_null(p->pmp_detail.detail));
	cJSON *c = cJSON_AddObjectToObject(o, "pcp");
	cJSON_AddBoolToObject(c, "available", p->pcp);
	cJSON_AddItemToObject(c, "detail", str_or_null(p->pcp_detail.detail));
	cJSON_AddNumberToObject(o, "elapsed_ns", (double)p->elapsed_ns);
	return o;
}

static cJSON *icmp_json(const struct dc_netcheck_extra *x)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "attempted", x->icmp_ran);
	cJSON_AddItemToObject(o, "socket", x->icmp.socket == DC_ICMP_SOCKET_DGRAM ? cJSON_CreateString("unprivileged")
					   : x->icmp.socket == DC_ICMP_SOCKET_RAW   ? cJSON_CreateString("raw")
										    : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "skipped", str_or_null(x->icmp.skipped));
	cJSON_AddNumberToObject(o, "elapsed_ns", (double)x->icmp.elapsed_ns);
	cJSON *arr = cJSON_AddArrayToObject(o, "targets");
	for (size_t i = 0; i < x->icmp_count; i++) {
		const struct dc_netcheck_icmp *it = &x->icmp_targets[i];
		cJSON *j = cJSON_CreateObject();
		char a[DC_ENDPOINT_STRLEN];
		cJSON_AddNumberToObject(j, "region", (double)it->region_id);
		cJSON_AddStringToObject(j, "node", it->node->name ? it->node->name : "");
		cJSON_AddItemToObject(j, "address", it->pinged ? cJSON_CreateString(dc_ip_format(&it->target.addr, a, sizeof(a)))
							      : cJSON_CreateNull());
		cJSON_AddBoolToObject(j, "ok", it->target.ok);
		cJSON_AddItemToObject(j, "rtt_ns", it->target.ok ? cJSON_CreateNumber((double)it->target.rtt_ns) : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "error", str_or_null(it->target.error));
		cJSON_AddItemToArray(arr, j);
	}
	return o;
}

cJSON *dc_output_netcheck_extra_json(const struct dc_netcheck_view *v)
{
	const struct dc_netcheck_extra *x = &v->res->extra;
	cJSON *o = cJSON_CreateObject();
	cJSON *map = cJSON_AddObjectToObject(o, "map");
	cJSON_AddItemToObject(map, "source", str_or_null(v->map_source));
	cJSON_AddItemToObject(map, "description", str_or_null(v->map_desc));
	cJSON_AddItemToObject(map, "note", str_or_null(v->map_note));
	cJSON *nat = cJSON_AddObjectToObject(o, "nat");
	cJSON_AddStringToObject(nat, "mapping", dc_nat_mapping_key(x->nat));
	cJSON_AddStringToObject(nat, "detail", x->nat_detail);
	cJSON_AddNumberToObject(nat, "server_addresses", (double)x->nat_servers);
	char a[DC_ENDPOINT_STRLEN], m[DC_ENDPOINT_STRLEN];
	cJSON_AddItemToObject(nat, "local", x->has_local4 ? cJSON_CreateString(dc_endpoint_format(&x->local4, a, sizeof(a)))
							  : cJSON_CreateNull());
	cJSON *udp = cJSON_AddObjectToObject(o, "udp");
	cJSON_AddStringToObject(udp, "verdict", dc_udp_verdict_key(x->udp_verdict));
	cJSON_AddItemToObject(udp, "detail", str_or_null(x->udp_detail));
	cJSON_AddItemToObject(udp, "hint", str_or_null(x->udp_hint));
	cJSON *ports = cJSON_AddArrayToObject(udp, "stun_ports");
	for (size_t i = 0; i < x->stun_port_count; i++)
		cJSON_AddItemToArray(ports, cJSON_CreateNumber(x->stun_ports[i]));
	cJSON_AddItemToObject(o, "hairpin", optbool(x->hairpin));
	cJSON_AddItemToObject(o, "hairpin_detail", str_or_null(x->hairpin_detail));
	cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
	for (size_t i = 0; i < x->node_count; i++) {
		const struct dc_netcheck_node *n = &x->nodes[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "region", (double)n->region_id);
		cJSON_AddStringToObject(j, "node", n->name);
		cJSON_AddNumberToObject(j, "family", n->family);
		bool has_addr = !n->skipped || n->addr.addr.family;
		cJSON_AddItemToObject(j, "address", has_addr && n->addr.addr.family
							   ? cJSON_CreateString(dc_endpoint_format(&n->addr.addr, a, sizeof(a)))
							   : cJSON_CreateNull());
		cJSON_AddStringToObject(j, "address_origin", dc_addr_origin_name(n->addr.origin));
		const char *status = n->skipped ? "skipped" : n->stopped_early ? "not-measured" : dc_probe_status_name(n->status);
		if (!n->skipped && n->plain_only)
			status = "plain-only";
		cJSON_AddStringToObject(j, "status", status);
		cJSON_AddItemToObject(j, "rtt_ns", !n->skipped && n->status == DC_PROBE_OK ? cJSON_CreateNumber((double)n->rtt_ns)
										 : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "mapped", !n->skipped && n->has_mapped
							  ? cJSON_CreateString(dc_endpoint_format(&n->mapped, m, sizeof(m)))
							  : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "error", str_or_null(n->skipped ? n->skip_reason : n->why));
		cJSON_AddBoolToObject(j, "port_closed", !n->skipped && n->port_closed);
		char from[DC_ENDPOINT_STRLEN];
		cJSON_AddItemToObject(j, "icmp_from", !n->skipped && n->icmp_from.family
							      ? cJSON_CreateString(dc_ip_format(&n->icmp_from, from, sizeof(from)))
							      : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "ports_tried", dc_output_stun_guess_json(n->guess));
		cJSON_AddItemToArray(nodes, j);
	}
	cJSON *https = cJSON_AddArrayToObject(o, "https");
	for (size_t i = 0; i < x->https_count; i++) {
		const struct dc_netcheck_https *h = &x->https[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "region", (double)h->region_id);
		cJSON_AddStringToObject(j, "node", h->node->name ? h->node->name : "");
		cJSON_AddBoolToObject(j, "ok", h->ok);
		cJSON_AddItemToObject(j, "latency_ns", h->ok ? cJSON_CreateNumber((double)h->latency_ns) : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "connect_ns", h->connect_ns ? cJSON_CreateNumber((double)h->connect_ns) : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "http_status", h->http_status ? cJSON_CreateNumber(h->http_status) : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "peer", str_or_null(h->peer));
		cJSON_AddItemToObject(j, "error", str_or_null(h->error));
		cJSON_AddItemToObject(j, "certificate_trust",
				      h->trust_judged ? cJSON_CreateString(dc_trust_name(h->trust.state)) : cJSON_CreateNull());
		if (h->derp_tried) {
			cJSON *d = cJSON_AddObjectToObject(j, "derp_handshake");
			cJSON_AddBoolToObject(d, "ok", h->derp_ok);
			cJSON_AddItemToObject(d, "transport", str_or_null(h->transport));
			cJSON_AddItemToObject(d, "error", str_or_null(h->derp_error));
		} else {
			cJSON_AddNullToObject(j, "derp_handshake");
		}
		cJSON_AddItemToArray(https, j);
	}
	cJSON_AddBoolToObject(o, "https_fallback", x->https_fallback_ran);
	cJSON_AddItemToObject(o, "icmp", icmp_json(x));
	cJSON_AddItemToObject(o, "portmap", portmap_json(x));
	cJSON *cap = cJSON_AddObjectToObject(o, "captive");
	cJSON_AddBoolToObject(cap, "checked", x->captive_ran);
	cJSON_AddItemToObject(cap, "note", str_or_null(x->captive_note));
	cJSON *probes = cJSON_AddArrayToObject(cap, "probes");
	for (size_t i = 0; x->captive_ran && i < x->captive.count; i++) {
		const struct dc_captive_probe *p = &x->captive.probes[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "url", p->endpoint.url);
		cJSON_AddStringToObject(j, "verdict", dc_captive_verdict_name(p->verdict));
		cJSON_AddNumberToObject(j, "status", (double)p->status);
		cJSON_AddStringToObject(j, "reason", p->reason);
		cJSON_AddItemToArray(probes, j);
	}
	cJSON_AddNumberToObject(o, "stun_phase_ns", (double)x->stun_phase_ns);
	cJSON_AddNumberToObject(o, "planning_ns", (double)x->planning_ns);
	cJSON_AddNumberToObject(o, "first_probe_ns", (double)x->first_probe_ns);
	cJSON_AddBoolToObject(o, "stopped_early", x->stopped_early);
	cJSON_AddNumberToObject(o, "elapsed_ns", (double)x->elapsed_ns);
	cJSON *st = cJSON_AddObjectToObject(o, "packets");
	cJSON_AddNumberToObject(st, "sent", (double)x->stats.sent);
	cJSON_AddNumberToObject(st, "received", (double)x->stats.received);
	cJSON_AddNumberToObject(st, "icmp_errors", (double)x->stats.icmp_errors);
	cJSON *f = cJSON_AddArrayToObject(o, "findings");
	for (size_t i = 0; i < x->findings.count; i++)
		cJSON_AddItemToArray(f, dc_output_finding_json(&x->findings.items[i]));
	return o;
}

void dc_output_netcheck_json(FILE *out, const struct dc_netcheck_view *v, bool one_line)
{
	cJSON *o = dc_netreport_json_object(&v->res->report);
	cJSON_AddItemToObject(o, "derpcheck", dc_output_netcheck_extra_json(v));
	char *s = dc_json_text(o, !one_line);
	fprintf(out, "%s\n", s ? s : "{}");
	free(s);
	cJSON_Delete(o);
}
