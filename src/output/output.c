#include "derpcheck/output/output.h"

#include "derpcheck/input/headscale.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/certinfo.h"
#include "derpcheck/judge/revocation.h"
#include "derpcheck/output/term.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(st, sgr) dc_paint(st, sgr)

void dc_output_findings_text(FILE *out, const struct dc_findings *f, const struct dc_style *st)
{
	for (size_t i = 0; i < f->count; i++) {
		const struct dc_finding *x = &f->items[i];
		const char *sevc = x->severity == DC_SEV_ERROR ? RED : YELLOW;
		fprintf(out, "%s%s", paint(st, BOLD), dc_term_safe(x->file));
		if (x->pos.line)
			fprintf(out, ":%u:%u", x->pos.line, x->pos.col);
		fprintf(out, ":%s %s%s%s: ", paint(st, RESET), paint(st, sevc), dc_severity_name(x->severity),
			paint(st, RESET));
		if (*x->path)
			fprintf(out, "%s: ", dc_term_safe(x->path));
		fprintf(out, "%s\n", dc_term_safe(x->message));
		if (x->hint)
			fprintf(out, "  %shint:%s %s\n", paint(st, CYAN), paint(st, RESET), dc_term_safe(x->hint));
	}
}

cJSON *dc_output_finding_json(const struct dc_finding *x)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "file", x->file);
	cJSON_AddStringToObject(o, "severity", dc_severity_name(x->severity));
	cJSON_AddStringToObject(o, "code", x->code);
	cJSON_AddStringToObject(o, "path", x->path);
	cJSON_AddNumberToObject(o, "line", x->pos.line);
	cJSON_AddNumberToObject(o, "column", x->pos.col);
	cJSON_AddStringToObject(o, "message", x->message);
	if (x->hint)
		cJSON_AddStringToObject(o, "hint", x->hint);
	else
		cJSON_AddNullToObject(o, "hint");
	return o;
}

/* One finding per line: readable, diff-friendly and still one JSON document. */
void dc_output_findings_json(FILE *out, const struct dc_findings *f)
{
	fprintf(out, "[");
	for (size_t i = 0; i < f->count; i++) {
		cJSON *o = dc_output_finding_json(&f->items[i]);
		char *s = dc_json_text(o, false);
		fprintf(out, "%s\n  %s", i ? "," : "", s ? s : "{}");
		free(s);
		cJSON_Delete(o);
	}
	fprintf(out, "%s]\n", f->count ? "\n" : "");
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_id_list(FILE *out, const int64_t *ids, size_t n, const struct dc_derpmap *defaults)
{
	for (size_t i = 0; i < n; i++) {
		const struct dc_derp_region *r = defaults ? dc_derpmap_region(defaults, ids[i]) : NULL;
		fprintf(out, "%s%lld", i ? ", " : "", (long long)ids[i]);
		if (r && *r->code)
			fprintf(out, " (%s)", dc_term_safe(r->code));
	}
}

static void print_addr(FILE *out, const char *label, const char *value, int family)
{
	switch (dc_node_addr_mode(value, family)) {
	case DC_ADDR_STATIC: fprintf(out, " %s %s", label, dc_term_safe(value)); break;
	case DC_ADDR_DNS: fprintf(out, " %s from DNS", label); break;
	case DC_ADDR_DISABLED: fprintf(out, " %s off", label); break;
	}
}

static void print_region(FILE *out, const struct dc_derp_region *r)
{
	fprintf(out, "    %lld %s", (long long)r->id, *r->code ? dc_term_safe(r->code) : "(no code)");
	if (*r->name)
		fprintf(out, " \"%s\"", dc_term_safe(r->name));
	fprintf(out, ": %zu %s\n", r->node_count, plural(r->node_count, "node", "nodes"));
	for (size_t k = 0; k < r->node_count; k++) {
		const struct dc_derp_node *n = &r->nodes[k];
		fprintf(out, "      %s %s", *n->name ? dc_term_safe(n->name) : "(no name)", dc_term_safe(n->host_name));
		print_addr(out, "IPv4", n->ipv4, 4);
		print_addr(out, "IPv6", n->ipv6, 6);
		if (!n->stun_only)
			fprintf(out, ", DERP tcp/%d", dc_node_derp_port(n));
		if (dc_node_stun_port(n) >= 0)
			fprintf(out, ", STUN udp/%d", dc_node_stun_port(n));
		else
			fprintf(out, ", no STUN");
		fprintf(out, "\n");
	}
}

void dc_output_validate_summary(FILE *out, const struct dc_validate_result *r, const struct dc_style *st)
{
	const struct dc_map_doc *doc = r->doc;
	const char *name = dc_term_safe(doc->text.name);
	const char *kind = dc_map_doc_kind(doc);
	char *origin = dc_map_doc_origin(doc);
	if (r->errors || r->warnings) {
		fprintf(out, "%s%s:%s %s%zu %s%s, %s%zu %s%s\n", paint(st, BOLD), name, paint(st, RESET),
			r->errors ? paint(st, RED) : "", r->errors, plural(r->errors, "error", "errors"),
			r->errors ? paint(st, RESET) : "", r->warnings ? paint(st, YELLOW) : "", r->warnings,
			plural(r->warnings, "warning", "warnings"), r->warnings ? paint(st, RESET) : "");
		if (origin && !(st && st->quiet))
			fprintf(out, "  map: %s\n", dc_term_safe(origin));
		free(origin);
		if (r->errors || !r->effective || (st && st->quiet))
			return;
	} else {
		if (st && st->quiet) {
			free(origin);
			return;
		}
		fprintf(out, "%s%s:%s %svalid%s %s, no problems found\n", paint(st, BOLD), name, paint(st, RESET),
			paint(st, GREEN), paint(st, RESET), kind);
		fprintf(out, "  source: %s\n", dc_map_source_name(doc->text.source));
		if (origin)
			fprintf(out, "  map: %s\n", dc_term_safe(origin));
		free(origin);
	}
	if (!r->effective) {
		if (doc->map.shape == DC_SHAPE_POLICY_NO_MAP)
			fprintf(out, "  clients use Tailscale's default DERP map\n");
		return;
	}
	const struct dc_derpmap *eff = r->effective;
	/* A derp.paths file is one of several sources: it defines regions, clients get the merge. */
	fprintf(out, "  %s %zu %s with %zu %s\n", eff->shape == DC_SHAPE_YAML ? "the file defines" : "clients use",
		eff->region_count, plural(eff->region_count, "region", "regions"), dc_derpmap_node_count(eff),
		plural(dc_derpmap_node_count(eff), "node", "nodes"));
	if (r->merge) {
		const struct dc_merge_summary *m = r->merge;
		if (m->defaults_omitted)
			fprintf(out, "  Tailscale's default regions: all omitted (omitDefaultRegions)\n");
		else
			fprintf(out, "  Tailscale's default regions: %zu kept\n", m->defaults_kept);
		if (m->removed_count) {
			fprintf(out, "  removed with null: ");
			print_id_list(out, m->removed, m->removed_count, r->defaults);
			fprintf(out, "\n");
		}
		if (m->replaced_count) {
			fprintf(out, "  replaced by your regions: ");
			print_id_list(out, m->replaced, m->replaced_count, r->defaults);
			fprintf(out, "\n");
		}
		size_t own = m->custom_count + m->replaced_count;
		fprintf(out, "  your regions: %zu\n", own);
		for (size_t i = 0; i < eff->region_count; i++) {
			const struct dc_derp_region *reg = &eff->regions[i];
			if (dc_derpmap_region(&doc->map, reg->id))
				print_region(out, reg);
		}
	} else if (doc->headscale) {
		/* Regions from derp.urls (Tailscale's default map) are counted; the others are shown. */
		size_t from_urls = 0, own = 0;
		for (size_t i = 0; i < eff->region_count; i++) {
			const struct dc_hs_source *src = dc_headscale_region_source(doc->headscale, eff->regions[i].id);
			if (src && src->kind == DC_HS_URL)
				from_urls++;
			else
				own++;
		}
		fprintf(out, "  from derp.urls: %zu %s\n", from_urls, plural(from_urls, "region", "regions"));
		fprintf(out, "  from derp.paths and the embedded server: %zu %s\n", own, plural(own, "region", "regions"));
		for (size_t i = 0; i < eff->region_count; i++) {
			const struct dc_hs_source *src = dc_headscale_region_source(doc->headscale, eff->regions[i].id);
			if (src && src->kind == DC_HS_URL)
				continue;
			print_region(out, &eff->regions[i]);
			if (src)
				fprintf(out, "      from %s\n", src->kind == DC_HS_EMBEDDED ? "the embedded server (derp.server, server_url)" : dc_term_safe(src->name));
		}
	} else if (eff->region_count <= 10) {
		for (size_t i = 0; i < eff->region_count; i++)
			print_region(out, &eff->regions[i]);
	}
}

static const char *guess_result_key(const struct dc_stun_guess_port *p)
{
	switch (p->status) {
	case DC_PROBE_OK: return "answered";
	case DC_PROBE_UNREACHABLE: return p->port_closed ? "closed" : "unreachable";
	case DC_PROBE_TIMEOUT: return "no-reply";
	case DC_PROBE_ERROR_RESPONSE: return "error-response";
	case DC_PROBE_SEND_FAILED: return "send-failed";
	default: return "not-tried";
	}
}

cJSON *dc_output_stun_guess_json(const struct dc_stun_guess *g)
{
	if (!g || !g->ran || !g->nports)
		return cJSON_CreateNull();
	static const struct {
		unsigned bit;
		const char *key;
	} whys[] = {{DC_GUESS_DEFAULT, "default"}, {DC_GUESS_DERP_PORT, "derp-port"},
		    {DC_GUESS_OTHER_NODE, "other-node"}, {DC_GUESS_USER, "stun-port-guess"}};
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < g->nports; i++) {
		const struct dc_stun_guess_port *p = &g->ports[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "port", p->port);
		cJSON *why = cJSON_AddArrayToObject(o, "why");
		for (size_t k = 0; k < sizeof(whys) / sizeof(whys[0]); k++)
			if (p->why & whys[k].bit)
				cJSON_AddItemToArray(why, cJSON_CreateString(whys[k].key));
		cJSON_AddItemToObject(o, "other_node", p->why & DC_GUESS_OTHER_NODE && p->other_node
							       ? cJSON_CreateString(p->other_node)
							       : cJSON_CreateNull());
		cJSON_AddStringToObject(o, "result", guess_result_key(p));
		cJSON_AddItemToObject(o, "rtt_ms", p->status == DC_PROBE_OK
							   ? cJSON_CreateNumber((double)(p->rtt_ns / 1000) / 1000.0)
							   : cJSON_CreateNull());
		char from[DC_ENDPOINT_STRLEN];
		cJSON_AddItemToObject(o, "icmp_from", p->icmp_from.family
							      ? cJSON_CreateString(dc_ip_format(&p->icmp_from, from, sizeof(from)))
							      : cJSON_CreateNull());
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *revocation_str(const char *s)
{
	return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *epoch_json(int64_t t)
{
	char buf[32];
	if (!t)
		return cJSON_CreateNull();
	dc_time_format_go((time_t)t, buf, sizeof(buf));
	return cJSON_CreateString(buf);
}

cJSON *dc_output_revocation_json(const struct dc_revocation *v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", dc_revocation_status_name(v->status));
	cJSON_AddItemToObject(o, "source", revocation_str(dc_revocation_source_name(v->source)));
	cJSON_AddBoolToObject(o, "stapled", v->stapled);
	cJSON_AddItemToObject(o, "ocsp_url", revocation_str(v->url));
	cJSON_AddItemToObject(o, "crl_url", revocation_str(v->crl_url));
	cJSON_AddItemToObject(o, "reason", revocation_str(v->status == DC_REVOCATION_REVOKED ? v->reason_text : NULL));
	cJSON_AddItemToObject(o, "revoked_at", epoch_json(v->status == DC_REVOCATION_REVOKED ? v->revoked_at : 0));
	cJSON_AddItemToObject(o, "this_update", epoch_json(v->this_update));
	cJSON_AddItemToObject(o, "next_update", epoch_json(v->next_update));
	if (v->fetch_ms >= 0)
		cJSON_AddNumberToObject(o, "fetch_ms", v->fetch_ms);
	else
		cJSON_AddNullToObject(o, "fetch_ms");
	cJSON_AddStringToObject(o, "detail", v->detail);
	return o;
}
