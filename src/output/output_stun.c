#include "derpcheck/output/output_stun.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(st, sgr) dc_paint(st, sgr)

static double ms(uint64_t ns)
{
	return floor((double)ns / 1000.0 + 0.5) / 1000.0; /* microsecond resolution (ns is never negative) */
}

static const char *ordinal(unsigned n)
{
	static char buf[16];
	const char *sfx = n % 100 >= 11 && n % 100 <= 13 ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
	snprintf(buf, sizeof(buf), "%u%s", n, sfx);
	return buf;
}

static const char *origin_text(enum dc_addr_origin o)
{
	switch (o) {
	case DC_ORIGIN_LITERAL: return "address given";
	case DC_ORIGIN_MAP: return "from the map";
	case DC_ORIGIN_TEST_IP: return "STUNTestIP from the map";
	case DC_ORIGIN_DNS: return "from DNS";
	default: return "";
	}
}

static const char *style_text(enum dc_stun_style s)
{
	return s == DC_STUN_STYLE_TAILSCALE ? "Tailscale-style" : "plain RFC 5389";
}

static void print_probe(FILE *out, size_t k, const struct dc_probe_result *r, const struct dc_style *st)
{
	char ep[DC_ENDPOINT_STRLEN];
	fprintf(out, "  probe %zu: ", k + 1);
	switch (r->status) {
	case DC_PROBE_OK:
		fprintf(out, "mapped %s, rtt %.3f ms", dc_endpoint_format(&r->mapped, ep, sizeof(ep)), ms(r->rtt_ns));
		if (r->answered_try > 1)
			fprintf(out, " (answer to the %s try)", ordinal(r->answered_try));
		fprintf(out, "\n");
		return;
	case DC_PROBE_ERROR_RESPONSE:
		fprintf(out, "%s%s%s, rtt %.3f ms\n", paint(st, RED), dc_term_safe(r->detail), paint(st, RESET), ms(r->rtt_ns));
		return;
	default:
		fprintf(out, "%s%s%s: %s\n", paint(st, RED), dc_probe_status_name(r->status), paint(st, RESET), dc_term_safe(r->detail));
		return;
	}
}

static void print_kind(FILE *out, const struct dc_stun_target *t)
{
	switch (t->kind) {
	case DC_STUN_KIND_DERPER:
		fprintf(out, "  server: answers only Tailscale-style requests, like derper\n");
		break;
	case DC_STUN_KIND_GENERIC:
		fprintf(out, "  server: answers Tailscale-style and plain requests: a generic STUN server, usable by Tailscale\n");
		break;
	case DC_STUN_KIND_PLAIN_ONLY:
		fprintf(out, "  server: answers only plain RFC 5389 requests: not derper, Tailscale gets no reply\n");
		break;
	case DC_STUN_KIND_SILENT:
		fprintf(out, "  server: answered neither Tailscale-style nor plain requests\n");
		break;
	case DC_STUN_KIND_UNKNOWN:
		break;
	}
	if (t->has_software)
		fprintf(out, "  software: %s\n", dc_term_safe(t->software));
}

static void print_mapping(FILE *out, const struct dc_stun_target *t)
{
	char mapped[DC_ENDPOINT_STRLEN], local[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&t->mapped, mapped, sizeof(mapped));
	fprintf(out, "  mapped address: %s (%s)", mapped, dc_ip_class_name(t->mapped_class));
	if (!t->has_local) {
		fprintf(out, "\n");
		return;
	}
	dc_endpoint_format(&t->local, local, sizeof(local));
	if (!t->nat)
		fprintf(out, ", this machine's own %s: no NAT on the way\n", local);
	else if (dc_ip_equal(&t->local, &t->mapped))
		fprintf(out, ", from %s: same address, port translated\n", local);
	else
		fprintf(out, ", from %s: NAT, port %s\n", local, t->local.port == t->mapped.port ? "preserved" : "translated");
}

static void print_target(FILE *out, const struct dc_stun_report *rep, const struct dc_stun_target *t,
			 const struct dc_style *st)
{
	if (t->skipped) {
		fprintf(out, "%s%s%s: skipped: %s\n", paint(st, BOLD), dc_term_safe(t->label), paint(st, RESET),
			dc_term_safe(t->skip_reason));
		return;
	}
	fprintf(out, "%s%s%s (IPv%d, %s)\n", paint(st, BOLD), dc_term_safe(t->label), paint(st, RESET), t->family,
		origin_text(t->addr.origin));
	for (size_t k = 0; k < t->nprobes; k++)
		print_probe(out, k, dc_stun_probe(rep, t, k), st);
	if (t->answered) {
		fprintf(out, "  answered %u of %zu, rtt min/avg/max %.3f/%.3f/%.3f ms\n", t->answered, t->nprobes,
			ms(t->rtt_min), ms(t->rtt_avg), ms(t->rtt_max));
	} else {
		fprintf(out, "  answered 0 of %zu\n", t->nprobes);
	}
	if (t->has_mapped)
		print_mapping(out, t);
	print_kind(out, t);
}

void dc_output_stun_text(FILE *out, const struct dc_stun_report *rep, const struct dc_style *st)
{
	bool quiet = st && st->quiet;
	if (!quiet) {
		if (rep->region) {
			const struct dc_derp_region *r = rep->region;
			fprintf(out, "region %lld", (long long)r->id);
			if (*r->code)
				fprintf(out, " %s", dc_term_safe(r->code));
			if (*r->name)
				fprintf(out, " (%s)", dc_term_safe(r->name));
			fprintf(out, ": %zu %s, ", r->node_count, r->node_count == 1 ? "node" : "nodes");
		}
		fprintf(out, "%s binding requests, %u %s per address", style_text(rep->opts.style), rep->opts.count,
			rep->opts.count == 1 ? "probe" : "probes");
		for (int f = 0; f < 2; f++)
			if (rep->have_local[f]) {
				char ep[DC_ENDPOINT_STRLEN];
				fprintf(out, "%s %s", f == 0 || !rep->have_local[0] ? ", from" : " and",
					dc_endpoint_format(&rep->local[f], ep, sizeof(ep)));
			}
		fprintf(out, "\n");
		for (size_t i = 0; i < rep->ntargets; i++)
			print_target(out, rep, &rep->targets[i], st);
	}
	for (size_t i = 0; i < rep->findings.count; i++) {
		const struct dc_finding *x = &rep->findings.items[i];
		fprintf(out, "%s%s%s: ", paint(st, x->severity == DC_SEV_ERROR ? RED : YELLOW), dc_severity_name(x->severity),
			paint(st, RESET));
		if (*x->file)
			fprintf(out, "%s: ", dc_term_safe(x->file));
		fprintf(out, "%s\n", dc_term_safe(x->message));
		if (x->hint)
			fprintf(out, "  %shint:%s %s\n", paint(st, CYAN), paint(st, RESET), dc_term_safe(x->hint));
	}
	if (quiet)
		return;
	size_t errors = dc_findings_count(&rep->findings, DC_SEV_ERROR);
	size_t warnings = dc_findings_count(&rep->findings, DC_SEV_WARNING);
	if (errors || warnings)
		fprintf(out, "%s%zu %s%s, %s%zu %s%s\n", errors ? paint(st, RED) : "", errors, errors == 1 ? "error" : "errors",
			errors ? paint(st, RESET) : "", warnings ? paint(st, YELLOW) : "", warnings,
			warnings == 1 ? "warning" : "warnings", warnings ? paint(st, RESET) : "");
	else
		fprintf(out, "%sok%s: no problems found\n", paint(st, GREEN), paint(st, RESET));
}

/* ---- JSON ------------------------------------------------------------------------ */

static void add_endpoint(cJSON *o, const char *key, const struct dc_endpoint *e, bool present)
{
	char buf[DC_ENDPOINT_STRLEN];
	if (present && e->family)
		cJSON_AddStringToObject(o, key, dc_endpoint_format(e, buf, sizeof(buf)));
	else
		cJSON_AddNullToObject(o, key);
}

static void add_text(cJSON *o, const char *key, const char *text, bool present)
{
	if (present)
		cJSON_AddStringToObject(o, key, text);
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *probe_json(const struct dc_probe_result *r)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "style", dc_stun_style_name(r->spec.style));
	cJSON_AddStringToObject(p, "status", dc_probe_status_name(r->status));
	cJSON_AddNumberToObject(p, "sent", r->sent);
	bool ok = r->status == DC_PROBE_OK || r->status == DC_PROBE_ERROR_RESPONSE;
	if (ok) {
		cJSON_AddNumberToObject(p, "answered_try", r->answered_try);
		cJSON_AddNumberToObject(p, "rtt_ms", ms(r->rtt_ns));
		cJSON_AddBoolToObject(p, "kernel_timestamp", r->kernel_timestamp);
	} else {
		cJSON_AddNullToObject(p, "answered_try");
		cJSON_AddNullToObject(p, "rtt_ms");
		cJSON_AddNullToObject(p, "kernel_timestamp");
	}
	add_endpoint(p, "mapped", &r->mapped, r->has_mapped);
	if (r->status == DC_PROBE_ERROR_RESPONSE)
		cJSON_AddNumberToObject(p, "error_code", r->error_code);
	else
		cJSON_AddNullToObject(p, "error_code");
	add_text(p, "detail", r->detail, r->status != DC_PROBE_OK && r->detail[0]);
	return p;
}

static cJSON *target_json(const struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "label", t->label);
	add_text(o, "node", t->node ? t->node->name : NULL, t->node != NULL);
	cJSON_AddStringToObject(o, "host", t->host);
	cJSON_AddNumberToObject(o, "family", t->family);
	add_endpoint(o, "address", &t->addr.addr, !t->skipped);
	cJSON_AddStringToObject(o, "address_source", dc_addr_origin_name(t->addr.origin));
	add_text(o, "skipped", t->skip_reason, t->skipped);
	cJSON *probes = cJSON_AddArrayToObject(o, "probes");
	for (size_t k = 0; k < t->nprobes; k++)
		cJSON_AddItemToArray(probes, probe_json(dc_stun_probe(rep, t, k)));
	const struct dc_probe_result *cross = dc_stun_cross(rep, t);
	if (cross)
		cJSON_AddItemToObject(o, "other_style", probe_json(cross));
	else
		cJSON_AddNullToObject(o, "other_style");
	cJSON_AddNumberToObject(o, "answered", t->answered);
	if (t->answered) {
		cJSON *rtt = cJSON_AddObjectToObject(o, "rtt_ms");
		cJSON_AddNumberToObject(rtt, "min", ms(t->rtt_min));
		cJSON_AddNumberToObject(rtt, "avg", ms(t->rtt_avg));
		cJSON_AddNumberToObject(rtt, "median", ms(t->rtt_median));
		cJSON_AddNumberToObject(rtt, "max", ms(t->rtt_max));
	} else {
		cJSON_AddNullToObject(o, "rtt_ms");
	}
	add_endpoint(o, "mapped", &t->mapped, t->has_mapped);
	add_text(o, "mapped_class", dc_ip_class_key(t->mapped_class), t->has_mapped);
	add_endpoint(o, "local", &t->local, t->has_local);
	if (t->has_local)
		cJSON_AddBoolToObject(o, "nat", t->nat);
	else
		cJSON_AddNullToObject(o, "nat");
	cJSON_AddBoolToObject(o, "mapping_changed", t->mapping_changed);
	add_text(o, "software", t->software, t->has_software);
	cJSON_AddStringToObject(o, "server_kind", dc_stun_kind_name(t->kind));
	cJSON *ign = cJSON_AddObjectToObject(o, "ignored_replies");
	cJSON_AddNumberToObject(ign, "duplicates", t->duplicates);
	cJSON_AddNumberToObject(ign, "late", t->late);
	cJSON_AddNumberToObject(ign, "wrong_source", t->wrong_source);
	cJSON_AddNumberToObject(ign, "unknown_txid", t->unknown_txid);
	cJSON_AddNumberToObject(ign, "malformed", t->malformed);
	cJSON_AddNumberToObject(o, "replies_with_trailing_bytes", t->trailing_bytes);
	return o;
}

/* Print one cJSON value compactly and free it. */
static void emit(FILE *out, cJSON *v)
{
	char *s = dc_json_text(v, false);
	fputs(s ? s : "null", out);
	free(s);
	cJSON_Delete(v);
}

/*
 * One object, written member by member with one target or finding per line: readable,
 * diff-friendly, and memory stays flat however many targets a run has.
 */
void dc_output_stun_json(FILE *out, const struct dc_stun_report *rep)
{
	fprintf(out, "{\"style\":\"%s\",\"count\":%u,\"region\":", dc_stun_style_name(rep->opts.style), rep->opts.count);
	if (rep->region) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "id", (double)rep->region->id);
		cJSON_AddStringToObject(r, "code", rep->region->code);
		cJSON_AddStringToObject(r, "name", rep->region->name);
		emit(out, r);
	} else {
		fputs("null", out);
	}
	fputs(",\"local\":", out);
	cJSON *local = cJSON_CreateObject();
	add_endpoint(local, "ipv4", &rep->local[0], rep->have_local[0]);
	add_endpoint(local, "ipv6", &rep->local[1], rep->have_local[1]);
	emit(out, local);
	fputs(",\n \"targets\":[", out);
	for (size_t i = 0; i < rep->ntargets; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		emit(out, target_json(rep, &rep->targets[i]));
	}
	fputs(rep->ntargets ? "\n ],\n \"findings\":[" : "],\n \"findings\":[", out);
	for (size_t i = 0; i < rep->findings.count; i++) {
		const struct dc_finding *x = &rep->findings.items[i];
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "severity", dc_severity_name(x->severity));
		cJSON_AddStringToObject(f, "code", x->code);
		cJSON_AddStringToObject(f, "target", x->file);
		cJSON_AddStringToObject(f, "path", x->path);
		cJSON_AddStringToObject(f, "message", x->message);
		add_text(f, "hint", x->hint, x->hint != NULL);
		fputs(i ? ",\n  " : "\n  ", out);
		emit(out, f);
	}
	fprintf(out, "%s],\n \"elapsed_ms\":%.3f}\n", rep->findings.count ? "\n " : "", ms(rep->elapsed_ns));
}

void dc_output_stun_stats(FILE *out, const struct dc_stun_report *rep)
{
	const struct dc_prober_stats *s = &rep->stats;
	fprintf(out,
		"derpcheck: stun: %llu requests sent (%llu send errors), %llu datagrams received, %llu accepted; "
		"ignored: %llu not STUN, %llu malformed, %llu unknown transaction IDs, %llu from a wrong source, "
		"%llu duplicates, %llu late, %llu requests, %llu oversized; %llu ICMP errors; at most %zu probes open; "
		"%.3f ms in all\n",
		(unsigned long long)s->sent, (unsigned long long)s->send_errors, (unsigned long long)s->received,
		(unsigned long long)s->accepted, (unsigned long long)s->not_stun, (unsigned long long)s->malformed,
		(unsigned long long)s->unknown_txid, (unsigned long long)s->wrong_source,
		(unsigned long long)s->duplicates, (unsigned long long)s->late, (unsigned long long)s->requests,
		(unsigned long long)s->oversized, (unsigned long long)s->icmp_errors, s->peak_inflight,
		ms(rep->elapsed_ns));
}
