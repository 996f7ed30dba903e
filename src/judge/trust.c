/* Whether a node's certificate is really checked by clients (include/derpcheck/judge/trust.h). */
#include "derpcheck/judge/trust.h"

#include <stdio.h>
#include <string.h>

const char *dc_trust_name(enum dc_trust t)
{
	static const char *const names[] = {"verified", "rejected", "insecure", "unchecked", "unknown"};
	return (unsigned)t < DC_ARRAY_LEN(names) ? names[t] : "?";
}

bool dc_trust_checks_off(enum dc_trust t)
{
	return t == DC_TRUST_INSECURE || t == DC_TRUST_UNCHECKED;
}

/* The first line of the fix of r's first error (the one the brief names), without a trailing ':'. */
static void fix_line(const struct dc_cert_report *r, char *out, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < r->findings.count; i++) {
		const struct dc_finding *x = &r->findings.items[i];
		if (x->severity != DC_SEV_ERROR || !x->hint || (r->brief_code && strcmp(x->code, r->brief_code) != 0))
			continue;
		size_t len = strcspn(x->hint, "\n");
		while (len > 0 && (x->hint[len - 1] == ':' || x->hint[len - 1] == ' '))
			len--;
		dc_textf(out, n, "%.*s", (int)len, x->hint);
		return;
	}
}

/* What Tailscale on Linux and curl print, the texts people find in their logs. */
static void client_words(const struct dc_cert_report *r, char *out, size_t n)
{
	const struct dc_client_verdict *go = &r->clients[DC_CLIENT_TS_GO], *curl = &r->clients[DC_CLIENT_CURL];
	const char *curl_text = curl->says, *cut = strstr(curl_text, "certificate problem: ");
	if (cut)
		curl_text = cut + strlen("certificate problem: ");
	out[0] = '\0';
	if (go->checked && !go->ok && curl->checked && !curl->ok)
		dc_textf(out, n, "Tailscale on Linux: %s; curl: %s", go->says, curl_text);
	else if (go->checked && !go->ok)
		dc_textf(out, n, "Tailscale on Linux: %s", go->says);
}

void dc_trust_evidence_from_report(const struct dc_cert_report *r, struct dc_trust_evidence *e, struct dc_trust_texts *t)
{
	/* A chain captured without the name clients send (derper refused it) is not what clients get. */
	e->judged = r->conn.handshake || r->from_files || (!r->conn.attempted && r->count > 0);
	e->chain_ok = dc_cert_report_errors(r) == 0;
	e->problem = r->brief;
	e->code = r->brief_code;
	fix_line(r, t->fix, sizeof(t->fix));
	client_words(r, t->says, sizeof(t->says));
	e->fix = t->fix;
	e->says = t->says;
}

/* "node 900a in policy.hujson" */
static void where(const struct dc_trust_evidence *e, char *out, size_t n)
{
	const char *name = e->node && e->node->name ? e->node->name : "?";
	if (e->map_name)
		dc_textf(out, n, "node %s in %s", name, e->map_name);
	else
		dc_textf(out, n, "node %s", name);
}

void dc_trust_judge(const struct dc_trust_evidence *e, struct dc_trust_verdict *v)
{
	memset(v, 0, sizeof(*v));
	bool checked = !e->node || dc_node_clients_verify(e->node);
	char node[400], details[800] = "";
	where(e, node, sizeof(node));
	if (e->command && *e->command)
		dc_textf(details, sizeof(details), " (details: `%s`)", e->command);
	if (!e->judged) {
		v->state = DC_TRUST_UNKNOWN;
		dc_textf(v->summary, sizeof(v->summary), "no certificate could be judged");
		return;
	}
	if (e->chain_ok && checked) {
		v->state = DC_TRUST_VERIFIED;
		dc_textf(v->summary, sizeof(v->summary), "Tailscale clients check the certificate and accept it");
		return;
	}
	char problem[700];
	dc_textf(problem, sizeof(problem), "%s%s%s%s", e->problem && *e->problem ? e->problem : "the certificate does not verify",
	      e->says && *e->says ? " (" : "", e->says && *e->says ? e->says : "", e->says && *e->says ? ")" : "");
	const char *fix = e->fix && *e->fix ? e->fix : "fix the certificate";
	if (checked) {
		v->state = DC_TRUST_REJECTED;
		v->code = e->code ? e->code : "verify-failed";
		dc_textf(v->summary, sizeof(v->summary), "Tailscale clients reject it");
		dc_textf(v->cause, sizeof(v->cause), "%s", problem);
		dc_textf(v->fix, sizeof(v->fix), "%s%s", fix, details);
		return;
	}
	if (e->chain_ok) {
		v->state = DC_TRUST_UNCHECKED;
		v->code = "insecure-for-tests";
		dc_textf(v->summary, sizeof(v->summary), "valid, but clients do not check it: InsecureForTests is set");
		dc_textf(v->cause, sizeof(v->cause),
		      "the certificate verifies, but InsecureForTests turns certificate checks off for this node in every "
		      "Tailscale client: anyone who can intercept the connection can pose as this relay");
		dc_textf(v->fix, sizeof(v->fix), "remove InsecureForTests from %s; the certificate verifies, so clients keep working",
		      node);
		return;
	}
	v->state = DC_TRUST_INSECURE;
	v->code = e->code ? e->code : "verify-failed";
	dc_textf(v->summary, sizeof(v->summary), "clients accept it only because InsecureForTests turns verification off");
	dc_textf(v->cause, sizeof(v->cause),
	      "%s; Tailscale clients accept it only because InsecureForTests turns their certificate checks off for this "
	      "node",
	      problem);
	dc_textf(v->fix, sizeof(v->fix),
	      "1. %s%s; 2. only then remove InsecureForTests from %s (removed first, every client would refuse the node)", fix,
	      details, node);
}

void dc_trust_judge_tls(const struct dc_derp_node *node, STACK_OF(X509) *chain, const struct dc_tls_verdict *verdict,
			const struct dc_tlscheck_call *call, struct dc_trust_verdict *v)
{
	char command[700];
	dc_tlscheck_command(call, command, sizeof(command));
	struct dc_trust_evidence e = {
		.node = node, .judged = verdict != NULL, .chain_ok = verdict && verdict->ok, .command = command,
		.map_name = call->derp_map,
	};
	struct dc_trust_texts texts;
	struct dc_cert_report r;
	dc_cert_report_init(&r);
	struct dc_error err;
	struct dc_tlscheck_opts o = {
		.host_name = node->host_name, .cert_name = node->cert_name && *node->cert_name ? node->cert_name : NULL,
		.ca_file = call->ca_file, .no_aia = true, .command = command,
	};
	/* Only the failure needs words: what is wrong, what clients say, what fixes it. */
	if (verdict && !verdict->ok && chain && dc_tlscheck_chain(chain, false, &o, &r, &err) == 0) {
		bool ok = e.chain_ok;
		dc_trust_evidence_from_report(&r, &e, &texts);
		e.chain_ok = ok; /* the verdict of Tailscale's own check decides */
		e.judged = true;
	}
	dc_trust_judge(&e, v);
	dc_cert_report_free(&r);
}

void dc_trust_note(struct dc_cert_report *r, const char *node_path, const struct dc_trust_verdict *v)
{
	if (!dc_trust_checks_off(v->state))
		return;
	char path[400];
	dc_textf(path, sizeof(path), "%s.InsecureForTests", node_path ? node_path : "");
	static const struct dc_srcpos nowhere;
	struct dc_finding *x;
	if (v->state == DC_TRUST_INSECURE)
		x = dc_findings_add(&r->findings, DC_SEV_ERROR, "insecure-for-tests", path, nowhere,
				    "Tailscale clients accept this certificate only because InsecureForTests turns their "
				    "certificate checks off for this node: the problems above are hidden, not fixed, and "
				    "removing InsecureForTests now would make every client refuse the node");
	else
		x = dc_findings_add(&r->findings, DC_SEV_ERROR, "insecure-for-tests", path, nowhere, "%s", v->cause);
	dc_finding_hint(x, "%s", v->fix);
}
