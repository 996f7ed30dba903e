#include "derpcheck/output/output_diagnose.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(v, sgr) dc_paint(&(v)->style, sgr)

/* The non-ASCII characters the core's texts use, and their ASCII spelling. */
static const struct {
	const char *utf8, *ascii;
} translit[] = {
	{"\u2192", "->"}, {"\u2194", "<->"}, {"\u2026", "..."}, {"\u2014", "--"}, {"\u26a0", "(insecure)"},
};

/* Print s, spelling the arrows in ASCII when the terminal is not UTF-8. */
static void put_text(FILE *out, const char *s, const struct dc_diag_view *v)
{
	s = dc_term_safe(s); /* names and answers from the map and the servers */
	if (v->utf8) {
		fputs(s, out);
		return;
	}
	while (*s) {
		size_t k;
		for (k = 0; k < DC_ARRAY_LEN(translit); k++) {
			size_t n = strlen(translit[k].utf8);
			if (strncmp(s, translit[k].utf8, n) == 0) {
				fputs(translit[k].ascii, out);
				s += n;
				break;
			}
		}
		if (k == DC_ARRAY_LEN(translit))
			fputc(*s++, out);
	}
}

/* The mark and how many columns it takes (the ASCII "insecure" is wider than the rest). */
static int mark(FILE *out, enum dc_check_status st, const struct dc_diag_view *v)
{
	/* ⚠: works for clients only because InsecureForTests turns certificate checks off. */
	static const char *const utf8[] = {"\u2713", "!", "\u2717", "-", "\u26a0"};
	static const char *const ascii[] = {"ok  ", "warn", "FAIL", "skip", "insecure"};
	static const char *const colors[] = {GREEN, YELLOW, RED, DIM, RED};
	fprintf(out, "%s%s%s", paint(v, colors[st]), v->utf8 ? utf8[st] : ascii[st], paint(v, RESET));
	return v->utf8 ? 1 : (int)strlen(ascii[st]);
}

/* -v: the evidence, a line each, indented under the check (before its cause and fix). */
static void evidence_lines(FILE *out, const char *evidence, const char *pad, const struct dc_diag_view *v)
{
	while (*evidence) {
		size_t n = strcspn(evidence, "\n");
		char *line = dc_xstrndup(evidence, n);
		fprintf(out, "%s  %s", pad, paint(v, DIM));
		put_text(out, line, v);
		fprintf(out, "%s\n", paint(v, RESET));
		free(line);
		evidence += n;
		evidence += *evidence == '\n';
	}
}

static void check_line(FILE *out, const struct dc_diag_check *c, const struct dc_diag_view *v)
{
	if (v->style.quiet && (c->status == DC_CHECK_OK || c->status == DC_CHECK_SKIP))
		return;
	fputs("  ", out);
	int wide = mark(out, c->status, v) - (v->utf8 ? 1 : 4);
	fprintf(out, " %-*s ", 18 - wide > 0 ? 18 - wide : 0, c->id);
	put_text(out, c->summary, v);
	fputc('\n', out);
	const char *pad = v->utf8 ? "    " : "       ";
	if (v->verbose)
		evidence_lines(out, c->evidence, pad, v);
	if (c->status != DC_CHECK_FAIL && c->status != DC_CHECK_WARN && c->status != DC_CHECK_INSECURE)
		return;
	if (c->cause[0]) {
		fprintf(out, "%scause: ", pad);
		put_text(out, c->cause, v);
		fputc('\n', out);
	}
	if (c->tried[0]) {
		fprintf(out, "%stried: ", pad);
		put_text(out, c->tried, v);
		fputc('\n', out);
	}
	if (c->fix[0]) {
		/* A proxy's fix is the general change, then one line per proxy: each under the first. */
		fprintf(out, "%sfix:   ", pad);
		for (const char *p = c->fix; *p;) {
			size_t n = strcspn(p, "\n");
			char *part = dc_xstrndup(p, n);
			put_text(out, part, v);
			free(part);
			fputc('\n', out);
			p += n;
			if (*p == '\n') {
				p++;
				fprintf(out, "%s       ", pad);
			}
		}
	}
}

static void addr_field(char *buf, size_t n, const char *value)
{
	snprintf(buf, n, "%s", value && value[0] ? dc_term_safe(value) : "DNS");
}

static void verdict_line(FILE *out, const char *name, enum dc_verdict vd, const char *reason, const struct dc_diag_view *v)
{
	const char *color = vd == DC_VERDICT_OK ? GREEN : vd == DC_VERDICT_NA ? DIM : vd == DC_VERDICT_DEGRADED ? YELLOW : RED;
	/* insecure is red: it is a security problem, not a partial outage. */
	fprintf(out, "%s path: %s%s%s (", name, paint(v, color), dc_verdict_name(vd), paint(v, RESET));
	put_text(out, reason, v);
	fputs(")\n", out);
}

void dc_output_diagnose_text(FILE *out, const struct dc_diag_report *r, const struct dc_diag_view *v)
{
	const struct dc_derp_region *rg = r->region;
	if (!v->style.quiet) {
		fprintf(out, "%sDERP region %lld (%s)%s from %s: %zu %s\n", paint(v, BOLD), (long long)rg->id,
			dc_term_safe(rg->code), paint(v, RESET), v->map_desc ? dc_term_safe(v->map_desc) : "the map", r->node_count,
			r->node_count == 1 ? "node" : "nodes");
	}
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		const struct dc_derp_node *n = dn->node;
		if (!v->style.quiet) {
			char v4[64], v6[64];
			addr_field(v4, sizeof(v4), n->ipv4);
			addr_field(v6, sizeof(v6), n->ipv6);
			int sp = dc_node_stun_port(n);
			fprintf(out, "\nnode %s (%s): IPv4 %s, IPv6 %s, ", n->name ? dc_term_safe(n->name) : "?", dc_term_safe(n->host_name),
				v4, v6);
			if (n->stun_only)
				fputs("STUNOnly, ", out);
			else
				fprintf(out, "DERPPort %d, ", dc_node_derp_port(n));
			if (sp < 0)
				fputs("STUN off\n", out);
			else
				fprintf(out, "STUNPort %d\n", sp);
		} else if (dc_diag_count(r, DC_CHECK_FAIL) || dc_diag_count(r, DC_CHECK_WARN)) {
			bool any = false;
			for (size_t k = 0; k < dn->count; k++)
				any = any || dn->checks[k].status == DC_CHECK_FAIL || dn->checks[k].status == DC_CHECK_WARN;
			if (any)
				fprintf(out, "node %s:\n", n->name ? dc_term_safe(n->name) : "?");
		}
		for (size_t k = 0; k < dn->count; k++)
			check_line(out, &dn->checks[k], v);
	}
	if (r->region_count && !v->style.quiet)
		fprintf(out, "\nregion %lld:\n", (long long)rg->id);
	for (size_t k = 0; k < r->region_count; k++)
		check_line(out, &r->region_checks[k], v);
	if (!v->style.quiet)
		fputc('\n', out);
	verdict_line(out, "STUN", r->stun, r->stun_reason, v);
	verdict_line(out, "DERP", r->derp, r->derp_reason, v);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static cJSON *json_ms(double ms)
{
	return ms < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(floor(ms * 1000.0 + 0.5) / 1000.0);
}

static cJSON *json_check(const struct dc_diag_check *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "check", c->id);
	cJSON_AddStringToObject(o, "path", dc_diag_path_name(c->path));
	cJSON_AddStringToObject(o, "status", dc_check_status_name(c->status));
	if (c->pair[0]) {
		cJSON *pair = cJSON_AddArrayToObject(o, "nodes");
		cJSON_AddItemToArray(pair, cJSON_CreateString(c->pair[0]));
		cJSON_AddItemToArray(pair, cJSON_CreateString(c->pair[1] ? c->pair[1] : ""));
	}
	cJSON_AddItemToObject(o, "code", c->code ? cJSON_CreateString(c->code) : cJSON_CreateNull());
	cJSON_AddStringToObject(o, "summary", c->summary);
	cJSON_AddItemToObject(o, "cause", c->cause[0] ? cJSON_CreateString(c->cause) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "fix", c->fix[0] ? cJSON_CreateString(c->fix) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "tried", c->tried[0] ? cJSON_CreateString(c->tried) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "ms", json_ms(c->ms));
	return o;
}

static cJSON *json_verdict(enum dc_verdict vd, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "verdict", dc_verdict_name(vd));
	cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

static cJSON *json_str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

struct cJSON *dc_output_diagnose_json_doc(const struct dc_diag_report *r, const struct dc_diag_view *v)
{
	const struct dc_derp_region *rg = r->region;
	cJSON *root = cJSON_CreateObject();
	cJSON_AddBoolToObject(root, "ok", dc_diag_exit_status(r) == 0);
	cJSON *region = cJSON_AddObjectToObject(root, "region");
	cJSON_AddNumberToObject(region, "id", (double)rg->id);
	cJSON_AddItemToObject(region, "code", json_str_or_null(rg->code));
	cJSON_AddItemToObject(region, "name", json_str_or_null(rg->name));
	cJSON_AddItemToObject(root, "map", json_str_or_null(v->map_desc));
	cJSON_AddItemToObject(root, "map_note", json_str_or_null(v->map_note));
	cJSON *verdicts = cJSON_AddObjectToObject(root, "verdicts");
	cJSON_AddItemToObject(verdicts, "stun", json_verdict(r->stun, r->stun_reason));
	cJSON_AddItemToObject(verdicts, "derp", json_verdict(r->derp, r->derp_reason));
	cJSON *counts = cJSON_AddObjectToObject(root, "counts");
	for (int st = DC_CHECK_OK; st <= DC_CHECK_INSECURE; st++)
		cJSON_AddNumberToObject(counts, dc_check_status_name((enum dc_check_status)st),
					(double)dc_diag_count(r, (enum dc_check_status)st));
	cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		const struct dc_derp_node *n = dn->node;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "name", json_str_or_null(n->name));
		cJSON_AddItemToObject(o, "host_name", json_str_or_null(n->host_name));
		cJSON_AddItemToObject(o, "ipv4", json_str_or_null(n->ipv4));
		cJSON_AddItemToObject(o, "ipv6", json_str_or_null(n->ipv6));
		cJSON_AddNumberToObject(o, "derp_port", dc_node_derp_port(n));
		cJSON_AddNumberToObject(o, "stun_port", dc_node_stun_port(n));
		cJSON_AddBoolToObject(o, "stun_only", n->stun_only);
		cJSON_AddItemToObject(o, "server_key", dn->have_server_key ? cJSON_CreateString(dn->server_key) : cJSON_CreateNull());
		cJSON_AddItemToObject(o, "stun_answers_on", dn->stun_alt_found ? cJSON_CreateNumber(dn->stun_alt_port)
									   : cJSON_CreateNull());
		cJSON_AddItemToObject(o, "certificate_trust", dn->trust == DC_TRUST_UNKNOWN
								 ? cJSON_CreateNull()
								 : cJSON_CreateString(dc_trust_name(dn->trust)));
		if (dn->load_ran) {
			const struct dc_load_step *ls = &dn->load;
			cJSON *lj = cJSON_AddObjectToObject(o, "relay_load");
			cJSON_AddNumberToObject(lj, "packet_bytes", (double)dn->load_size);
			cJSON_AddNumberToObject(lj, "offered_pps", ls->rate_pps);
			cJSON_AddNumberToObject(lj, "sent", ls->sent);
			cJSON_AddNumberToObject(lj, "delivered", ls->delivered);
			cJSON_AddNumberToObject(lj, "sent_pps", ls->sent_pps);
			cJSON_AddNumberToObject(lj, "delivered_pps", ls->delivered_pps);
			cJSON_AddNumberToObject(lj, "delivered_mbit_per_s", ls->delivered_pps * (double)dn->load_size * 8 / 1e6);
			if (ls->delivered) {
				cJSON_AddNumberToObject(lj, "delay_min_ms", ls->delay_min_ms);
				cJSON_AddNumberToObject(lj, "delay_avg_ms", ls->delay_avg_ms);
				cJSON_AddNumberToObject(lj, "delay_p99_ms", ls->delay_p99_ms);
				cJSON_AddNumberToObject(lj, "delay_max_ms", ls->delay_max_ms);
				cJSON_AddNumberToObject(lj, "queuing_p99_ms", ls->delay_p99_ms - ls->delay_min_ms);
			}
			cJSON_AddBoolToObject(lj, "sender_limited", ls->sender_behind);
			cJSON_AddNumberToObject(lj, "largest_burst", ls->largest_burst);
		} else {
			cJSON_AddNullToObject(o, "relay_load");
		}
		if (r->mesh_sees) {
			cJSON *mw = cJSON_AddObjectToObject(o, "mesh_watch");
			cJSON_AddStringToObject(mw, "result", dc_mesh_watch_result_name(dn->mesh_watch));
			cJSON_AddNumberToObject(mw, "clients", (double)dn->mesh_clients);
			cJSON *sees = cJSON_AddArrayToObject(mw, "lists_mesh_clients_of");
			for (size_t j = 0; j < r->node_count; j++)
				if (r->mesh_sees[i * r->node_count + j] == 1)
					cJSON_AddItemToArray(sees, cJSON_CreateString(r->nodes[j].node->name));
		} else {
			cJSON_AddNullToObject(o, "mesh_watch");
		}
		cJSON_AddItemToObject(o, "revocation", dn->revocation.attempted ? dc_output_revocation_json(&dn->revocation)
									      : cJSON_CreateNull());
		cJSON *tried = cJSON_AddObjectToObject(o, "stun_ports_tried");
		cJSON_AddItemToObject(tried, "ipv4", dc_output_stun_guess_json(&dn->stun_guess[0]));
		cJSON_AddItemToObject(tried, "ipv6", dc_output_stun_guess_json(&dn->stun_guess[1]));
		cJSON_AddItemToObject(o, "transport", json_str_or_null(dn->transport));
		cJSON_AddItemToObject(o, "transport_fallback", dn->transport_note[0] ? cJSON_CreateString(dn->transport_note)
										     : cJSON_CreateNull());
		if (dn->proxy_probed) {
			cJSON *px = cJSON_AddObjectToObject(o, "proxy");
			cJSON_AddStringToObject(px, "front", dn->front);
			cJSON_AddStringToObject(px, "kind", dn->proxy_kind);
			cJSON_AddStringToObject(px, "who", dn->proxy_who);
			cJSON_AddItemToObject(px, "alpn_chosen", dn->alpn_chosen[0] ? cJSON_CreateString(dn->alpn_chosen) : cJSON_CreateNull());
			cJSON_AddBoolToObject(px, "derp_upgrade", dn->derp_upgrade_ok);
			cJSON_AddBoolToObject(px, "websocket", dn->websocket_ok);
			cJSON_AddNumberToObject(px, "server_keys", (double)dn->server_keys);
		} else {
			cJSON_AddNullToObject(o, "proxy");
		}
		cJSON *checks = cJSON_AddArrayToObject(o, "checks");
		for (size_t k = 0; k < dn->count; k++)
			cJSON_AddItemToArray(checks, json_check(&dn->checks[k]));
		cJSON_AddItemToArray(nodes, o);
	}
	cJSON *rc = cJSON_AddArrayToObject(root, "region_checks");
	for (size_t k = 0; k < r->region_count; k++)
		cJSON_AddItemToArray(rc, json_check(&r->region_checks[k]));
	cJSON_AddItemToObject(root, "elapsed_ms", json_ms((double)r->elapsed_ns / 1e6));
	cJSON_AddNumberToObject(root, "finished", (double)r->finished_unix);
	return root;
}

void dc_output_diagnose_json(FILE *out, const struct dc_diag_report *r, const struct dc_diag_view *v)
{
	cJSON *root = dc_output_diagnose_json_doc(r, v);
	char *s = dc_json_text(root, true);
	fputs(s ? s : "null", out);
	fputc('\n', out);
	free(s);
	cJSON_Delete(root);
}

/* ---- Prometheus text exposition format ------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped (exposition format). */
static void label(FILE *out, const char *name, const char *value, bool comma)
{
	fprintf(out, "%s%s=\"", comma ? "," : "", name);
	for (const char *p = dc_term_safe(value); *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out), fputc(*p, out);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void region_labels(FILE *out, const struct dc_derp_region *rg)
{
	fprintf(out, "{region=\"%lld\"", (long long)rg->id);
	label(out, "region_code", rg->code, true);
}

static void check_labels(FILE *out, const struct dc_derp_region *rg, const char *node, const struct dc_diag_check *c)
{
	region_labels(out, rg);
	label(out, "node", node, true);
	if (c->pair[0])
		label(out, "peer", c->pair[1], true);
	label(out, "check", c->id, true);
	fputc('}', out);
}

static void each_check(FILE *out, const struct dc_diag_report *r, bool timing)
{
	for (size_t i = 0; i < r->node_count + 1; i++) {
		const struct dc_diag_check *checks = i < r->node_count ? r->nodes[i].checks : r->region_checks;
		size_t n = i < r->node_count ? r->nodes[i].count : r->region_count;
		for (size_t k = 0; k < n; k++) {
			const struct dc_diag_check *c = &checks[k];
			if (c->status == DC_CHECK_SKIP || (timing && c->ms < 0))
				continue;
			const char *node = i < r->node_count ? r->nodes[i].node->name : c->pair[0] ? c->pair[0] : "";
			fputs(timing ? "derpcheck_diagnose_check_seconds" : "derpcheck_diagnose_check_ok", out);
			check_labels(out, r->region, node, c);
			if (timing)
				fprintf(out, " %.6f\n", c->ms / 1000.0);
			else
				fprintf(out, " %d\n", c->status == DC_CHECK_FAIL || c->status == DC_CHECK_INSECURE ? 0 : 1);
		}
	}
}

/* One gauge per checked (not skipped) check: 1 when it has status st. */
static void each_flag(FILE *out, const struct dc_diag_report *r, enum dc_check_status st)
{
	const char *metric = st == DC_CHECK_WARN ? "derpcheck_diagnose_check_warning" : "derpcheck_diagnose_check_insecure";
	for (size_t i = 0; i < r->node_count + 1; i++) {
		const struct dc_diag_check *checks = i < r->node_count ? r->nodes[i].checks : r->region_checks;
		size_t n = i < r->node_count ? r->nodes[i].count : r->region_count;
		for (size_t k = 0; k < n; k++) {
			if (checks[k].status == DC_CHECK_SKIP)
				continue;
			const char *node = i < r->node_count ? r->nodes[i].node->name : checks[k].pair[0] ? checks[k].pair[0] : "";
			fputs(metric, out);
			check_labels(out, r->region, node, &checks[k]);
			fprintf(out, " %d\n", checks[k].status == st);
		}
	}
}

void dc_output_diagnose_prometheus(FILE *out, const struct dc_diag_report *r)
{
	fputs("# HELP derpcheck_diagnose_check_ok Whether a check passed (1; warnings included) or failed (0; also when "
	      "it passes only because InsecureForTests turns certificate checks off); skipped checks are absent.\n"
	      "# TYPE derpcheck_diagnose_check_ok gauge\n",
	      out);
	each_check(out, r, false);
	fputs("# HELP derpcheck_diagnose_check_warning Whether a passing check carries a warning.\n"
	      "# TYPE derpcheck_diagnose_check_warning gauge\n",
	      out);
	each_flag(out, r, DC_CHECK_WARN);
	fputs("# HELP derpcheck_diagnose_check_insecure Whether a check passes for clients only because InsecureForTests "
	      "turns certificate checks off.\n"
	      "# TYPE derpcheck_diagnose_check_insecure gauge\n",
	      out);
	each_flag(out, r, DC_CHECK_INSECURE);
	fputs("# HELP derpcheck_diagnose_check_seconds The check's round-trip or connect time in seconds.\n"
	      "# TYPE derpcheck_diagnose_check_seconds gauge\n",
	      out);
	each_check(out, r, true);
	fputs("# HELP derpcheck_diagnose_upgrade_ok Whether the upgrade on /derp reaches derper, per transport "
	      "(derp: what tailscaled sends; websocket: what browsers send).\n"
	      "# TYPE derpcheck_diagnose_upgrade_ok gauge\n",
	      out);
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		if (!dn->proxy_probed)
			continue;
		for (int t = 0; t < 2; t++) {
			fputs("derpcheck_diagnose_upgrade_ok", out);
			region_labels(out, r->region);
			label(out, "node", dn->node->name, true);
			fprintf(out, ",transport=\"%s\"} %d\n", t == 0 ? "derp" : "websocket",
				t == 0 ? dn->derp_upgrade_ok : dn->websocket_ok);
		}
	}
	fputs("# HELP derpcheck_diagnose_front_info What terminates TLS on DERPPort: derper, a proxy (and which), or plain HTTP.\n"
	      "# TYPE derpcheck_diagnose_front_info gauge\n",
	      out);
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		if (!dn->proxy_probed)
			continue;
		fputs("derpcheck_diagnose_front_info", out);
		region_labels(out, r->region);
		label(out, "node", dn->node->name, true);
		label(out, "front", dn->front, true);
		label(out, "proxy", dn->proxy_kind, true);
		label(out, "transport", dn->transport ? dn->transport : "", true);
		fprintf(out, ",server_keys=\"%zu\"} 1\n", dn->server_keys);
	}
	fputs("# HELP derpcheck_diagnose_path_ok Whether clients can use the region for STUN / for DERP relaying "
	      "(1 ok, 0.5 degraded or insecure, 0 broken; absent when the region does not offer it).\n"
	      "# TYPE derpcheck_diagnose_path_ok gauge\n",
	      out);
	const struct {
		const char *name;
		enum dc_verdict v;
	} paths[] = {{"stun", r->stun}, {"derp", r->derp}};
	for (size_t i = 0; i < DC_ARRAY_LEN(paths); i++) {
		if (paths[i].v == DC_VERDICT_NA)
			continue;
		fputs("derpcheck_diagnose_path_ok", out);
		region_labels(out, r->region);
		fprintf(out, ",path=\"%s\"} %s\n", paths[i].name,
			paths[i].v == DC_VERDICT_OK ? "1" : paths[i].v == DC_VERDICT_BROKEN ? "0" : "0.5");
	}
	fputs("# HELP derpcheck_diagnose_path_insecure Whether clients relay through the region only with certificate "
	      "checks off (InsecureForTests).\n"
	      "# TYPE derpcheck_diagnose_path_insecure gauge\n"
	      "derpcheck_diagnose_path_insecure",
	      out);
	region_labels(out, r->region);
	fprintf(out, ",path=\"derp\"} %d\n", r->derp == DC_VERDICT_INSECURE);
	fputs("# HELP derpcheck_diagnose_duration_seconds How long the whole diagnosis took.\n"
	      "# TYPE derpcheck_diagnose_duration_seconds gauge\n"
	      "derpcheck_diagnose_duration_seconds",
	      out);
	region_labels(out, r->region);
	fprintf(out, "} %.6f\n", (double)r->elapsed_ns / 1e9);
	fputs("# HELP derpcheck_diagnose_last_run_timestamp_seconds When the diagnosis finished (Unix time).\n"
	      "# TYPE derpcheck_diagnose_last_run_timestamp_seconds gauge\n"
	      "derpcheck_diagnose_last_run_timestamp_seconds",
	      out);
	region_labels(out, r->region);
	fprintf(out, "} %lld\n", (long long)r->finished_unix);
}

int dc_diag_exit_status(const struct dc_diag_report *r)
{
	/* insecure is not ok: a path that works only with certificate checks off is a problem (judge/trust.h). */
	bool bad_verdict = (r->stun != DC_VERDICT_OK && r->stun != DC_VERDICT_NA) ||
			   (r->derp != DC_VERDICT_OK && r->derp != DC_VERDICT_NA);
	return dc_diag_count(r, DC_CHECK_FAIL) || dc_diag_count(r, DC_CHECK_INSECURE) || bad_verdict ? 1 : 0;
}
