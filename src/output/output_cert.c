#include "derpcheck/output/output_cert.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"
#include "derpcheck/net/ossl.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(st, sgr) dc_paint(st, sgr)

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- text ---------------------------------------------------------------------------- */

/* -v: the extensions, each on a line of its own ("absent" when not written). */
static void print_extensions(FILE *out, const struct dc_cert_info *i)
{
	const struct {
		const char *label, *value;
	} rows[] = {
		{"serial", i->serial},
		{"key usage", i->key_usage},
		{"ext. key use", i->ext_key_usage},
		{"constraints", i->basic_constraints},
		{"subject key", i->ski},
		{"authority key", i->aki},
		{"OCSP", i->ocsp},
		{"CRL", i->crl},
	};
	for (size_t k = 0; k < DC_ARRAY_LEN(rows); k++)
		fprintf(out, "       %-13s %s\n", rows[k].label, rows[k].value[0] ? dc_term_safe(rows[k].value) : "absent");
}

static void print_cert(FILE *out, const struct dc_chain_cert *c, const char *tag, bool verbose)
{
	const struct dc_cert_info *i = &c->info;
	if (c->role == DC_ROLE_METACERT) {
		fprintf(out, "  %-4s %-13s derper's key certificate (DERP server key %.16s..., protocol %d): not part of the "
			     "chain, clients skip it%s\n",
			tag, "derper key", i->derp_key, i->derp_version, i->expired ? "; its expiry is harmless" : "");
		return;
	}
	char from[32], to[32];
	dc_time_format(i->not_before, from, sizeof(from));
	dc_time_format(i->not_after, to, sizeof(to));
	fprintf(out, "  %-4s %-13s %s\n", tag, dc_cert_role_name(c->role), dc_term_safe(i->subject));
	if (c->origin == DC_ORIGIN_AIA)
		fprintf(out, "       %-13s %s\n", "fetched from", dc_term_safe(c->url));
	fprintf(out, "       %-13s %s\n", "issuer", i->self_signed ? "itself (self-signed)" : dc_term_safe(i->issuer));
	if (c->role == DC_ROLE_LEAF || i->sans[0])
		fprintf(out, "       %-13s %s\n", "names", i->sans[0] ? dc_term_safe(i->sans) : "none (no subjectAltName)");
	char left[64];
	if (i->expired)
		snprintf(left, sizeof(left), "expired %ld day%s ago", -i->days_left, i->days_left == -1 ? "" : "s");
	else if (i->not_yet_valid)
		snprintf(left, sizeof(left), "not valid yet");
	else
		snprintf(left, sizeof(left), "%ld day%s left", i->days_left, i->days_left == 1 ? "" : "s");
	fprintf(out, "       %-13s %s to %s (%s)\n", "valid", from, to, left);
	fprintf(out, "       %-13s %s, signed with %s\n", "key", i->key, i->signature);
	fprintf(out, "       %-13s %s\n", "sha256", i->sha256);
	for (size_t k = 0; k < i->aia_count; k++)
		fprintf(out, "       %-13s %s\n", k ? "" : "issuer URL", dc_term_safe(i->aia[k]));
	if (verbose)
		print_extensions(out, i);
}

static void print_hint(FILE *out, const char *hint, const struct dc_style *st)
{
	const char *line = hint;
	bool first = true;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);
		if (first)
			fprintf(out, "    %sfix:%s %s\n", paint(st, CYAN), paint(st, RESET), dc_term_safe_n(line, (size_t)len));
		else
			fprintf(out, "      %s\n", dc_term_safe_n(line, (size_t)len));
		first = false;
		line = nl ? nl + 1 : NULL;
	}
}

static void print_findings(FILE *out, const struct dc_findings *f, const struct dc_style *st)
{
	for (size_t i = 0; i < f->count; i++) {
		const struct dc_finding *x = &f->items[i];
		const char *sevc = x->severity == DC_SEV_ERROR ? RED : YELLOW;
		fprintf(out, "  %s%s%s: %s: %s\n", paint(st, sevc), dc_severity_name(x->severity), paint(st, RESET), x->code,
			dc_term_safe(x->message));
		if (x->hint)
			print_hint(out, x->hint, st);
	}
}

static void print_clients(FILE *out, const struct dc_cert_report *r, const struct dc_trust_verdict *trust,
			  const struct dc_style *st)
{
	fprintf(out, "clients:\n");
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		const struct dc_client_verdict *v = &r->clients[c];
		fprintf(out, "  %-31s %s%-4s%s  %s\n", dc_client_label((enum dc_client)c), paint(st, v->ok ? GREEN : RED),
			v->ok ? "ok" : "FAIL", paint(st, RESET), dc_term_safe(v->says));
	}
	/* What the verdicts above do not show: this map turns the Tailscale clients' check off. */
	if (trust && dc_trust_checks_off(trust->state))
		fprintf(out, "  with this map (InsecureForTests): %s%s%s: Tailscale clients %s\n", paint(st, RED),
			dc_trust_name(trust->state), paint(st, RESET),
			trust->state == DC_TRUST_INSECURE ? "accept it only because InsecureForTests turns verification off"
							  : "do not check it, although it verifies");
}

static void print_connection(FILE *out, const struct dc_cert_target *t, const struct dc_style *st)
{
	const struct dc_cert_report *r = &t->report;
	const struct dc_tls_facts *f = &r->conn;
	fprintf(out, "%s%s%s", paint(st, BOLD), dc_term_safe(t->label), paint(st, RESET));
	if (f->handshake) {
		fprintf(out, ": %s, %s", f->version, f->cipher);
		if (f->have_date)
			fprintf(out, ", server clock %+lld s", f->skew_s);
	} else if (f->plain_http) {
		fprintf(out, ": plain HTTP (%s)", dc_term_safe(f->http_status));
	} else if (f->alert[0]) {
		fprintf(out, ": TLS alert \"%s\"", f->alert);
	} else if (f->error[0]) {
		fprintf(out, ": %s", dc_term_safe(f->error));
	}
	fprintf(out, "\n");
}

static void print_chain(FILE *out, const struct dc_cert_report *r, const char *title, bool verbose)
{
	size_t own = 0, meta = 0, fetched = 0;
	for (size_t i = 0; i < r->count; i++) {
		if (r->certs[i].origin == DC_ORIGIN_AIA)
			fetched++;
		else if (r->certs[i].role == DC_ROLE_METACERT)
			meta++;
		else
			own++;
	}
	if (!r->count)
		return;
	fprintf(out, "%s: %zu %s%s\n", title, own, plural(own, "certificate", "certificates"),
		meta ? ", then derper's key certificate" : "");
	for (size_t i = 0; i < r->count; i++) {
		if (r->certs[i].origin == DC_ORIGIN_AIA)
			continue;
		char tag[16];
		snprintf(tag, sizeof(tag), "[%d]", r->certs[i].index);
		print_cert(out, &r->certs[i], tag, verbose);
	}
	if (r->fetch_count || fetched) {
		fprintf(out, "fetched through AIA (caIssuers):\n");
		for (size_t i = 0; i < r->fetch_count; i++)
			fprintf(out, "  %s: %s%s\n", dc_term_safe(r->fetches[i].url), dc_term_safe(r->fetches[i].result),
				r->fetches[i].cached ? " (cached)" : "");
		for (size_t i = 0; i < r->count; i++)
			if (r->certs[i].origin == DC_ORIGIN_AIA)
				print_cert(out, &r->certs[i], "[+]", verbose);
	}
}

static void print_result(FILE *out, const struct dc_cert_report *r, const struct dc_style *st)
{
	size_t errors = dc_findings_count(&r->findings, DC_SEV_ERROR);
	size_t warnings = dc_findings_count(&r->findings, DC_SEV_WARNING);
	if (errors == 0) {
		fprintf(out, "result: %severy client accepts it%s", paint(st, GREEN), paint(st, RESET));
		if (warnings)
			fprintf(out, ", %zu %s", warnings, plural(warnings, "warning", "warnings"));
		fprintf(out, "\n");
		return;
	}
	char failing[300] = "";
	for (int c = 0; c < DC_CLIENT_COUNT; c++)
		if (r->clients[c].checked && !r->clients[c].ok) {
			size_t used = strlen(failing);
			snprintf(failing + used, sizeof(failing) - used, "%s%s", used ? ", " : "", dc_client_label((enum dc_client)c));
		}
	fprintf(out, "result: %s%zu %s%s", paint(st, RED), errors, plural(errors, "error", "errors"), paint(st, RESET));
	if (warnings)
		fprintf(out, ", %zu %s", warnings, plural(warnings, "warning", "warnings"));
	bool all = true;
	for (int c = 0; c < DC_CLIENT_COUNT; c++)
		all &= r->clients[c].checked && !r->clients[c].ok;
	if (all)
		fprintf(out, "; fails for every client");
	else if (failing[0])
		fprintf(out, "; fails for %s", failing);
	fprintf(out, "\n");
}

/* One line: the leaf's revocation status, where it came from, and the evidence. */
static void print_revocation(FILE *out, const struct dc_revocation *v, const struct dc_style *st)
{
	const char *colour = v->status == DC_REVOCATION_GOOD ? GREEN : v->status == DC_REVOCATION_REVOKED ? RED : YELLOW;
	fprintf(out, "revocation: %s%s%s", paint(st, colour), dc_revocation_status_name(v->status), paint(st, RESET));
	if (v->source == DC_REVSRC_STAPLE)
		fprintf(out, " (stapled OCSP response)");
	else if (v->source == DC_REVSRC_OCSP)
		fprintf(out, " (OCSP %s)", dc_term_safe(v->url));
	else if (v->source == DC_REVSRC_CRL)
		fprintf(out, " (CRL %s)", dc_term_safe(v->crl_url));
	fprintf(out, ": %s\n", dc_term_safe(v->detail));
}

static void print_report(FILE *out, const struct dc_cert_report *r, const char *chain_title, const struct dc_style *st,
			 const char *written, const struct dc_trust_verdict *trust, bool verbose)
{
	bool quiet = st && st->quiet;
	if (!quiet) {
		print_chain(out, r, chain_title, verbose);
		if (r->chain_checked || r->conn.attempted)
			print_clients(out, r, trust, st);
		if (r->revocation.attempted)
			print_revocation(out, &r->revocation, st);
	}
	if (r->findings.count) {
		fprintf(out, "problems:\n");
		print_findings(out, &r->findings, st);
	}
	if (written)
		fprintf(out, "wrote %s: %d %s, leaf first, no root%s\n", dc_term_safe(written), sk_X509_num(r->fullchain),
			plural((size_t)sk_X509_num(r->fullchain), "certificate", "certificates"),
			r->fullchain_verifies ? "; it verifies" : "; it does not verify yet (see above)");
	if (!quiet || r->findings.count)
		print_result(out, r, st);
}

static void print_files(FILE *out, const struct dc_cert_output *o, const struct dc_style *st)
{
	const struct dc_certfiles *f = o->files;
	bool quiet = st && st->quiet;
	if (!quiet) {
		fprintf(out, "%sderper's files%s\n", paint(st, BOLD), paint(st, RESET));
		int n = f->certs ? sk_X509_num(f->certs) : 0;
		fprintf(out, "  %-12s %s: %d %s\n", "certificate", dc_term_safe(f->cert_path), n, plural((size_t)n, "certificate", "certificates"));
		if (f->key_path[0]) {
			if (f->key_cert_index >= 0)
				fprintf(out, "  %-12s %s: matches certificate %d\n", "key", dc_term_safe(f->key_path), f->key_cert_index + 1);
			else
				fprintf(out, "  %-12s %s\n", "key", dc_term_safe(f->key_path));
		}
		fprintf(out, "  %-12s %s\n", "derper", f->loadable ? "would start with these files" : "would refuse to start (see below)");
	}
	if (f->findings.count) {
		fprintf(out, "problems:\n");
		print_findings(out, &f->findings, st);
	}
	if (o->files_report) {
		const char *title = f->key_cert_index > 0 ? "chain in the file, leaf moved first" : "chain in the file";
		print_report(out, o->files_report, title, st, o->files_written, NULL, o->verbose);
	} else if (!f->loadable) {
		fprintf(out, "result: %sderper would not start%s\n", paint(st, RED), paint(st, RESET));
	}
}

size_t dc_cert_proxy_problems(const struct dc_cert_target *t)
{
	size_t n = 0;
	if (!t->proxy_judged || !t->proxy.derper_answered)
		return 0;
	for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++)
		n += t->proxy.lines[i].status == DC_CHECK_FAIL;
	return n;
}

/* The proxy verdict under the certificate's: the lines diagnose prints, with their fixes. */
static void print_proxy(FILE *out, const struct dc_cert_target *t, const struct dc_style *st)
{
	const struct dc_proxy_verdict *v = &t->proxy;
	if (!t->proxy_judged || v->front == DC_FRONT_UNKNOWN)
		return;
	if (!v->derper_answered) {
		if (!(st && st->quiet))
			fprintf(out, "in front of derper: nothing on this port answers HTTP like derper (%s)\n",
				v->lines[DC_PROXY_ITEM_PATH].summary);
		return;
	}
	bool any = false;
	for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++)
		any = any || v->lines[i].status == DC_CHECK_FAIL || v->lines[i].status == DC_CHECK_WARN;
	if (st && st->quiet && !any)
		return;
	static const char *const marks[] = {"ok  ", "warn", "FAIL", "skip"};
	static const char *const colors[] = {GREEN, YELLOW, RED, ""};
	fprintf(out, "in front of derper:\n");
	for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
		const struct dc_proxy_line *l = &v->lines[i];
		if (st && st->quiet && (l->status == DC_CHECK_OK || l->status == DC_CHECK_SKIP))
			continue;
		fprintf(out, "  %s%s%s %-18s %s\n", paint(st, colors[l->status]), marks[l->status], paint(st, RESET),
			dc_proxy_item_id((enum dc_proxy_item)i), l->summary);
		if (l->status != DC_CHECK_FAIL && l->status != DC_CHECK_WARN)
			continue;
		if (l->cause[0])
			fprintf(out, "       cause: %s\n", l->cause);
		const char *p = l->fix;
		const char *lead = "       fix:   ";
		while (*p) {
			size_t n = strcspn(p, "\n");
			fprintf(out, "%s%.*s\n", lead, (int)n, p);
			lead = "              ";
			p += n + (p[n] == '\n');
		}
	}
	size_t problems = dc_cert_proxy_problems(t);
	if (problems)
		fprintf(out, "result: %s%zu %s in front of derper%s: Tailscale's clients cannot relay through this port\n",
			paint(st, RED), problems, plural(problems, "problem", "problems"), paint(st, RESET));
}

void dc_output_cert_text(FILE *out, const struct dc_cert_output *o, const struct dc_style *st)
{
	dc_ossl_need();
	if (o->files) {
		print_files(out, o, st);
		if (o->count)
			fprintf(out, "\n");
	}
	for (size_t i = 0; i < o->count; i++) {
		const struct dc_cert_target *t = &o->targets[i];
		if (i)
			fprintf(out, "\n");
		if (t->failed)
			continue; /* reported on standard error */
		if (!(st && st->quiet) || t->report.findings.count)
			print_connection(out, t, st);
		print_report(out, &t->report, "chain as served", st, t->written, t->trust_judged ? &t->trust : NULL,
			     o->verbose);
		print_proxy(out, t, st);
	}
}

/* ---- JSON ---------------------------------------------------------------------------- */

static cJSON *str_or_null(const char *s)
{
	return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *time_json(time_t t)
{
	char buf[32];
	if (t == (time_t)-1)
		return cJSON_CreateNull();
	dc_time_format_go(t, buf, sizeof(buf));
	return cJSON_CreateString(buf);
}

static cJSON *cert_json(const struct dc_chain_cert *c)
{
	const struct dc_cert_info *i = &c->info;
	cJSON *o = cJSON_CreateObject();
	if (c->index >= 0)
		cJSON_AddNumberToObject(o, "index", c->index);
	else
		cJSON_AddNullToObject(o, "index");
	cJSON_AddStringToObject(o, "role", dc_cert_role_name(c->role));
	cJSON_AddStringToObject(o, "origin", dc_cert_origin_name(c->origin));
	cJSON_AddItemToObject(o, "url", str_or_null(c->url));
	cJSON_AddStringToObject(o, "subject", i->subject);
	cJSON_AddStringToObject(o, "issuer", i->issuer);
	cJSON *sans = cJSON_AddArrayToObject(o, "sans");
	char buf[sizeof(i->sans)];
	snprintf(buf, sizeof(buf), "%s", i->sans);
	for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		cJSON_AddItemToArray(sans, cJSON_CreateString(t));
	cJSON_AddItemToObject(o, "not_before", time_json(i->not_before));
	cJSON_AddItemToObject(o, "not_after", time_json(i->not_after));
	cJSON_AddNumberToObject(o, "days_left", (double)i->days_left);
	cJSON_AddBoolToObject(o, "expired", i->expired);
	cJSON_AddBoolToObject(o, "not_yet_valid", i->not_yet_valid);
	cJSON_AddStringToObject(o, "key", i->key);
	cJSON_AddNumberToObject(o, "key_bits", i->key_bits);
	cJSON_AddStringToObject(o, "signature", i->signature);
	cJSON_AddStringToObject(o, "sha256", i->sha256);
	cJSON_AddBoolToObject(o, "ca", i->is_ca);
	cJSON_AddBoolToObject(o, "self_signed", i->self_signed);
	cJSON *aia = cJSON_AddArrayToObject(o, "issuer_urls");
	for (size_t k = 0; k < i->aia_count; k++)
		cJSON_AddItemToArray(aia, cJSON_CreateString(i->aia[k]));
	if (i->metacert) {
		cJSON_AddStringToObject(o, "derp_server_key", i->derp_key);
		cJSON_AddNumberToObject(o, "derp_protocol_version", i->derp_version);
	}
	return o;
}

static cJSON *findings_json(const struct dc_findings *f)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < f->count; i++) {
		const struct dc_finding *x = &f->items[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", x->file);
		cJSON_AddStringToObject(o, "severity", dc_severity_name(x->severity));
		cJSON_AddStringToObject(o, "code", x->code);
		cJSON_AddStringToObject(o, "path", x->path);
		cJSON_AddNumberToObject(o, "line", x->pos.line);
		cJSON_AddNumberToObject(o, "column", x->pos.col);
		cJSON_AddStringToObject(o, "message", x->message);
		cJSON_AddItemToObject(o, "hint", str_or_null(x->hint));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *connection_json(const struct dc_tls_facts *f)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "address", f->peer);
	cJSON_AddItemToObject(o, "sni", str_or_null(f->sni));
	cJSON_AddBoolToObject(o, "handshake", f->handshake);
	cJSON_AddItemToObject(o, "tls_version", str_or_null(f->version));
	cJSON_AddItemToObject(o, "cipher", str_or_null(f->cipher));
	cJSON_AddNumberToObject(o, "tcp_ms", f->tcp_ms);
	cJSON_AddNumberToObject(o, "tls_ms", f->tls_ms);
	cJSON_AddItemToObject(o, "alert", str_or_null(f->alert));
	cJSON_AddItemToObject(o, "error", str_or_null(f->handshake ? NULL : f->error));
	if (f->plain_http) {
		cJSON *p = cJSON_AddObjectToObject(o, "plain_http");
		cJSON_AddStringToObject(p, "status", f->http_status);
		cJSON_AddBoolToObject(p, "derper_home_page", f->looks_like_derper);
	} else {
		cJSON_AddNullToObject(o, "plain_http");
	}
	cJSON_AddItemToObject(o, "server_date", f->have_date ? time_json(f->server_date) : cJSON_CreateNull());
	if (f->have_date)
		cJSON_AddNumberToObject(o, "clock_skew_seconds", (double)f->skew_s);
	else
		cJSON_AddNullToObject(o, "clock_skew_seconds");
	return o;
}

static cJSON *report_json(const struct dc_cert_report *r, const char *written)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "where", r->where);
	cJSON_AddItemToObject(o, "host_name", str_or_null(r->host_name));
	cJSON_AddItemToObject(o, "cert_name", str_or_null(r->cert_name));
	cJSON_AddItemToObject(o, "connection", r->conn.attempted ? connection_json(&r->conn) : cJSON_CreateNull());
	cJSON *chain = cJSON_AddArrayToObject(o, "chain");
	for (size_t i = 0; i < r->count; i++)
		cJSON_AddItemToArray(chain, cert_json(&r->certs[i]));
	cJSON *fetches = cJSON_AddArrayToObject(o, "aia_fetches");
	for (size_t i = 0; i < r->fetch_count; i++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "url", r->fetches[i].url);
		cJSON_AddBoolToObject(x, "ok", r->fetches[i].ok);
		cJSON_AddBoolToObject(x, "cached", r->fetches[i].cached);
		cJSON_AddNumberToObject(x, "certificates", r->fetches[i].certs);
		cJSON_AddStringToObject(x, "result", r->fetches[i].result);
		cJSON_AddItemToArray(fetches, x);
	}
	cJSON_AddItemToObject(o, "revocation", r->revocation.attempted ? dc_output_revocation_json(&r->revocation) : cJSON_CreateNull());
	cJSON *clients = cJSON_AddObjectToObject(o, "clients");
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		const struct dc_client_verdict *v = &r->clients[c];
		cJSON *x = cJSON_AddObjectToObject(clients, dc_client_id((enum dc_client)c));
		cJSON_AddBoolToObject(x, "ok", v->checked && v->ok);
		cJSON_AddBoolToObject(x, "via_aia", v->via_aia);
		cJSON_AddBoolToObject(x, "via_baked_root", v->via_baked_root);
		cJSON_AddItemToObject(x, "code", str_or_null(v->code));
		cJSON_AddStringToObject(x, "says", v->says);
	}
	cJSON_AddItemToObject(o, "findings", findings_json(&r->findings));
	if (r->fullchain) {
		cJSON *fc = cJSON_AddObjectToObject(o, "fullchain");
		cJSON_AddNumberToObject(fc, "certificates", sk_X509_num(r->fullchain));
		cJSON_AddBoolToObject(fc, "differs_from_served", r->fullchain_differs);
		cJSON_AddBoolToObject(fc, "verifies", r->fullchain_verifies);
		cJSON_AddItemToObject(fc, "written_to", str_or_null(written));
	} else {
		cJSON_AddNullToObject(o, "fullchain");
	}
	cJSON_AddNumberToObject(o, "errors", (double)dc_findings_count(&r->findings, DC_SEV_ERROR));
	cJSON_AddNumberToObject(o, "warnings", (double)dc_findings_count(&r->findings, DC_SEV_WARNING));
	return o;
}

void dc_output_cert_json(FILE *out, const struct dc_cert_output *o)
{
	dc_ossl_need();
	cJSON *root = cJSON_CreateObject();
	if (o->files) {
		const struct dc_certfiles *f = o->files;
		cJSON *x = cJSON_AddObjectToObject(root, "files");
		cJSON_AddStringToObject(x, "certificate", f->cert_path);
		cJSON_AddItemToObject(x, "key", str_or_null(f->key_path));
		cJSON_AddNumberToObject(x, "certificates", f->certs ? sk_X509_num(f->certs) : 0);
		if (f->key_cert_index >= 0)
			cJSON_AddNumberToObject(x, "key_matches", f->key_cert_index);
		else
			cJSON_AddNullToObject(x, "key_matches");
		cJSON_AddBoolToObject(x, "derper_would_start", f->loadable);
		cJSON_AddItemToObject(x, "findings", findings_json(&f->findings));
		cJSON_AddItemToObject(x, "chain", o->files_report ? report_json(o->files_report, o->files_written) : cJSON_CreateNull());
	} else {
		cJSON_AddNullToObject(root, "files");
	}
	cJSON *targets = cJSON_AddArrayToObject(root, "targets");
	for (size_t i = 0; i < o->count; i++) {
		const struct dc_cert_target *t = &o->targets[i];
		cJSON *x = t->failed ? cJSON_CreateObject() : report_json(&t->report, t->written);
		cJSON_AddStringToObject(x, "label", t->label);
		if (t->in_region) {
			cJSON *reg = cJSON_AddObjectToObject(x, "region");
			cJSON_AddNumberToObject(reg, "id", (double)t->region_id);
			cJSON_AddStringToObject(reg, "node", t->node_name);
			cJSON_AddStringToObject(reg, "path", t->node_path);
		} else {
			cJSON_AddNullToObject(x, "region");
		}
		cJSON_AddItemToObject(x, "certificate_trust",
				      t->trust_judged ? cJSON_CreateString(dc_trust_name(t->trust.state)) : cJSON_CreateNull());
		if (t->proxy_judged) {
			const struct dc_proxy_verdict *v = &t->proxy;
			cJSON *px = cJSON_AddObjectToObject(x, "proxy");
			cJSON_AddStringToObject(px, "front", dc_proxy_front_name(v->front));
			cJSON_AddStringToObject(px, "kind", dc_proxy_kind_name(v->kind));
			cJSON_AddStringToObject(px, "who", v->who);
			cJSON_AddBoolToObject(px, "derper_seen", v->derper_seen);
			cJSON_AddBoolToObject(px, "derp_upgrade", v->derp_ok);
			cJSON_AddBoolToObject(px, "websocket", v->websocket_ok);
			cJSON *lines = cJSON_AddArrayToObject(px, "checks");
			for (int k = 0; k < DC_PROXY_ITEM_COUNT; k++) {
				const struct dc_proxy_line *l = &v->lines[k];
				cJSON *c = cJSON_CreateObject();
				cJSON_AddStringToObject(c, "check", dc_proxy_item_id((enum dc_proxy_item)k));
				cJSON_AddStringToObject(c, "status", dc_check_status_name(l->status));
				cJSON_AddItemToObject(c, "code", l->code ? cJSON_CreateString(l->code) : cJSON_CreateNull());
				cJSON_AddStringToObject(c, "summary", l->summary);
				cJSON_AddItemToObject(c, "cause", str_or_null(l->cause));
				cJSON_AddItemToObject(c, "fix", str_or_null(l->fix));
				cJSON_AddItemToArray(lines, c);
			}
		} else {
			cJSON_AddNullToObject(x, "proxy");
		}
		if (t->failed) {
			cJSON *e = cJSON_AddObjectToObject(x, "error");
			cJSON_AddStringToObject(e, "where", t->err.where);
			cJSON_AddStringToObject(e, "what", t->err.what);
			cJSON_AddItemToObject(e, "hint", str_or_null(t->err.hint));
		} else {
			cJSON_AddNullToObject(x, "error");
		}
		cJSON_AddItemToArray(targets, x);
	}
	char *s = dc_json_text(root, true);
	fprintf(out, "%s\n", s ? s : "{}");
	free(s);
	cJSON_Delete(root);
}
