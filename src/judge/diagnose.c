/*
 * derpcheck diagnose: one region end to end (see include/derpcheck/judge/diagnose.h). The steps
 * run in the order a client depends on them; a step that cannot run because an earlier
 * one failed is recorded as skipped with the reason, never left out silently.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "derpcheck/probe/derpping.h"
#include "derpcheck/judge/diagnose.h"
#include "derpcheck/judge/proxy.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/net/http.h"
#include "derpcheck/net/resolve.h"
#include "derpcheck/probe/stuncheck.h"
#include "derpcheck/judge/tlscheck.h"
#include "derpcheck/judge/udpverdict.h"
#include "derpcheck/judge/validate.h"

#define DEFAULT_TIMEOUT_MS 3000L
#define STUN_TIMEOUT_MS 1500L
#define ALT_STUN_TIMEOUT_MS 1000L

static struct dc_diag_check *add_check(struct dc_diag_check *arr, size_t *count, const char *id, enum dc_diag_path path)
{
	if (*count == DC_DIAG_MAX_CHECKS)
		return NULL;
	struct dc_diag_check *c = &arr[(*count)++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->path = path;
	c->ms = -1;
	return c;
}

static struct dc_diag_check *node_check(struct dc_diag_node *n, const char *id, enum dc_diag_path path)
{
	static struct dc_diag_check overflow; /* never reached: a node has fewer checks than the bound */
	struct dc_diag_check *c = add_check(n->checks, &n->count, id, path);
	return c ? c : &overflow;
}

static void set(struct dc_diag_check *c, enum dc_check_status st, const char *code) { c->status = st, c->code = code; }

/* Hints written for `derpcheck cert` span lines; a checklist line is one line. */
static void one_line(char *s, size_t n)
{
	char *copy = dc_xstrdup(s);
	size_t w = 0;
	for (const char *p = copy; *p && w + 1 < n; p++) {
		if (*p != '\n') {
			s[w++] = *p;
			continue;
		}
		if (w > 0 && s[w - 1] != ':' && s[w - 1] != ';' && w + 1 < n)
			s[w++] = ';';
		if (p[1] && w + 1 < n)
			s[w++] = ' ';
	}
	s[w] = '\0';
	free(copy);
}

/*
 * One line of evidence under a check: what was sent and what came back, for -v and JSON.
 * Lines that no longer fit are dropped whole, and the last one kept says so.
 */
static void evidence(struct dc_diag_check *c, const char *fmt, ...) DC_PRINTF(2, 3);
static void evidence(struct dc_diag_check *c, const char *fmt, ...)
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

#define SUMMARY(c, ...) dc_textf((c)->summary, sizeof((c)->summary), __VA_ARGS__)
#define CAUSE(c, ...) dc_textf((c)->cause, sizeof((c)->cause), __VA_ARGS__)
#define FIX(c, ...) dc_textf((c)->fix, sizeof((c)->fix), __VA_ARGS__)

const char *dc_check_status_name(enum dc_check_status st)
{
	static const char *const names[] = {"ok", "warn", "fail", "skip", "insecure"};
	return (unsigned)st < DC_ARRAY_LEN(names) ? names[st] : "?";
}

const char *dc_verdict_name(enum dc_verdict v)
{
	static const char *const names[] = {"ok", "degraded", "broken", "n/a", "insecure"};
	return (unsigned)v < DC_ARRAY_LEN(names) ? names[v] : "?";
}

const char *dc_diag_path_name(enum dc_diag_path p)
{
	static const char *const names[] = {"map", "stun", "derp"};
	return (unsigned)p < DC_ARRAY_LEN(names) ? names[p] : "?";
}

static bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	return path && n && strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

/* ---- 1. the map entry ------------------------------------------------------------------ */

static void judge_findings(struct dc_diag_check *c, const struct dc_findings *f, const char *prefix,
			   const char *const *exclude, size_t nexclude, const struct dc_diag_opts *o)
{
	size_t errors = 0, warnings = 0;
	const struct dc_finding *first_err = NULL, *first_warn = NULL;
	for (size_t i = 0; i < f->count; i++) {
		const struct dc_finding *x = &f->items[i];
		if (!path_under(x->path, prefix))
			continue;
		bool skip = false;
		for (size_t k = 0; k < nexclude; k++)
			skip = skip || path_under(x->path, exclude[k]);
		if (skip)
			continue;
		evidence(c, "%s %s at %s", x->severity == DC_SEV_ERROR ? "error" : "warning", x->code, x->path);
		if (x->severity == DC_SEV_ERROR) {
			errors++;
			first_err = first_err ? first_err : x;
		} else {
			warnings++;
			first_warn = first_warn ? first_warn : x;
		}
	}
	const struct dc_finding *x = first_err ? first_err : first_warn;
	if (!x) {
		set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "follows Tailscale's rules");
		return;
	}
	set(c, first_err ? DC_CHECK_FAIL : DC_CHECK_WARN, x->code);
	SUMMARY(c, "%zu %s, %zu %s", errors, errors == 1 ? "error" : "errors", warnings,
		warnings == 1 ? "warning" : "warnings");
	CAUSE(c, "%s: %s", x->path, x->message);
	if (strcmp(x->code, "insecure-for-tests") == 0 && !c->pair[0]) {
		/* The certificate check below judges the chain behind it and orders the fixes. */
		FIX(c, "the certificate check of this node says whether clients need it and what to fix first");
	} else if (x->hint) {
		FIX(c, "%s", x->hint);
	} else {
		char cmd[700];
		dc_map_validate_hint(o->map_name, o->map_format, cmd, sizeof(cmd));
		FIX(c, "%s explains every problem of the map", cmd);
	}
}

static void check_map(const struct dc_derpmap *map, const struct dc_diag_opts *o, struct dc_diag_report *r)
{
	struct dc_findings f = {.file = o->map_name, .ca_file = o->ca_file, .map_format = o->map_format};
	dc_validate(map, o->defaults, &f);
	const char **node_paths = dc_xcalloc(r->node_count + 1, sizeof(*node_paths));
	for (size_t i = 0; i < r->node_count; i++) {
		node_paths[i] = r->nodes[i].node->path;
		judge_findings(node_check(&r->nodes[i], DC_DIAG_MAP, DC_PATH_MAP), &f, r->nodes[i].node->path, NULL, 0, o);
	}
	struct dc_diag_check *c = add_check(r->region_checks, &r->region_count, DC_DIAG_MAP, DC_PATH_MAP);
	judge_findings(c, &f, r->region->path, node_paths, r->node_count, o);
	free(node_paths);
	dc_findings_free(&f);
}

/* ---- 2. DNS against the map ------------------------------------------------------------ */

/* RFC 2606/6761 names that must not be sent to DNS (test maps use them). */
static bool reserved_name(const char *host)
{
	static const char *const tlds[] = {"test", "invalid", "example"};
	const char *dot = strrchr(host, '.');
	const char *tld = dot ? dot + 1 : host;
	for (size_t i = 0; i < DC_ARRAY_LEN(tlds); i++)
		if (strcasecmp(tld, tlds[i]) == 0)
			return true;
	return false;
}

static bool is_ip_literal(const char *host)
{
	struct dc_endpoint e;
	return dc_ip_parse(host, 0, &e) == 0;
}

static const char *fam_field(int fam) { return fam == 4 ? "IPv4" : "IPv6"; }
static const char *fam_record(int fam) { return fam == 4 ? "A" : "AAAA"; }

static void check_dns(struct dc_diag_node *dn, int fam, const struct dc_resolve_req *addrs,
		      const struct dc_resolve_req *dns, const struct dc_diag_opts *o)
{
	const struct dc_derp_node *n = dn->node;
	struct dc_diag_check *c = node_check(dn, fam == 4 ? DC_DIAG_DNS4 : DC_DIAG_DNS6, DC_PATH_MAP);
	const struct dc_resolved *a = dc_resolved_family(addrs, fam);
	char ip[DC_ENDPOINT_STRLEN], other[DC_ENDPOINT_STRLEN];
	const char *value = fam == 4 ? n->ipv4 : n->ipv6;
	if (o->family && o->family != fam) {
		set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "not checked (-%d)", o->family);
		return;
	}
	switch (dc_node_addr_mode(value, fam)) {
	case DC_ADDR_DISABLED:
		set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "turned off in the map (%s \"%s\")", fam_field(fam), value ? value : "");
		return;
	case DC_ADDR_DNS: {
		if (a->origin == DC_ORIGIN_DNS)
			evidence(c, "DNS %s %s: %s", fam_record(fam), n->host_name, dc_ip_format(&a->addr, ip, sizeof(ip)));
		else
			evidence(c, "DNS %s %s: %s", fam_record(fam), n->host_name, a->note[0] ? a->note : "no answer");
		if (a->origin == DC_ORIGIN_DNS) {
			set(c, DC_CHECK_OK, NULL);
			SUMMARY(c, "%s resolves to %s (the map leaves %s empty: clients ask DNS)", n->host_name,
				dc_ip_format(&a->addr, ip, sizeof(ip)), fam_field(fam));
			return;
		}
		const struct dc_resolved *b = dc_resolved_family(addrs, fam == 4 ? 6 : 4);
		if (b->origin == DC_ORIGIN_DNS || b->origin == DC_ORIGIN_MAP || b->origin == DC_ORIGIN_LITERAL) {
			set(c, DC_CHECK_OK, NULL);
			SUMMARY(c, "no %s record for %s: clients use IPv%d only", fam_record(fam), n->host_name,
				fam == 4 ? 6 : 4);
			return;
		}
		set(c, DC_CHECK_FAIL, "dns-no-address");
		SUMMARY(c, "%s: %s", n->host_name, a->note);
		CAUSE(c, "%s has no %s record and the map gives no %s: clients cannot reach this node", n->host_name,
		      fam_record(fam), fam_field(fam));
		FIX(c, "create the DNS record for %s, or write the node's address in %s in the map", n->host_name, fam_field(fam));
		return;
	}
	case DC_ADDR_STATIC:
		break;
	}
	dc_ip_format(&a->addr, ip, sizeof(ip));
	evidence(c, "the map's %s: %s", fam_field(fam), ip);
	if (dns) {
		const struct dc_resolved *looked = dc_resolved_family(dns, fam);
		if (looked->origin == DC_ORIGIN_DNS)
			evidence(c, "DNS %s %s: %s", fam_record(fam), n->host_name, dc_ip_format(&looked->addr, other, sizeof(other)));
		else
			evidence(c, "DNS %s %s: %s", fam_record(fam), n->host_name, looked->note[0] ? looked->note : "no record");
	}
	if (is_ip_literal(n->host_name)) {
		set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s (HostName is an address: no DNS involved)", ip);
		return;
	}
	if (!dns) {
		set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s; %s is a reserved test name, not looked up", ip, n->host_name);
		return;
	}
	const struct dc_resolved *d = dc_resolved_family(dns, fam);
	if (d->origin != DC_ORIGIN_DNS) {
		set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s; %s has no %s record (clients do not need one)", ip, n->host_name, fam_record(fam));
		return;
	}
	dc_ip_format(&d->addr, other, sizeof(other));
	if (dc_ip_equal(&a->addr, &d->addr)) {
		set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s, and %s's %s record agrees", ip, n->host_name, fam_record(fam));
		return;
	}
	set(c, DC_CHECK_WARN, "dns-mismatch");
	SUMMARY(c, "the map gives %s, DNS %s", ip, other);
	CAUSE(c, "the map says %s %s but %s resolves to %s: Tailscale clients use %s, anything that uses the name "
		 "(browsers, certificate renewal, other tools) reaches %s",
	      fam_field(fam), ip, n->host_name, other, ip, other);
	FIX(c, "point the %s record of %s at %s, or correct %s in the map", fam_record(fam), n->host_name, ip, fam_field(fam));
}

/* ---- 3. STUN ---------------------------------------------------------------------------- */

static const struct dc_finding *stun_finding(const struct dc_stun_report *rep, const struct dc_stun_target *t,
					     const char *code)
{
	for (size_t i = 0; i < rep->findings.count; i++) {
		const struct dc_finding *x = &rep->findings.items[i];
		if (strcmp(x->code, code) == 0 && x->path && strcmp(x->path, t->path) == 0)
			return x;
	}
	return NULL;
}

/* Every probe to a target as the prober saw it: datagrams sent, what answered, in what time. */
static void stun_probe_evidence(struct dc_diag_check *c, const struct dc_stun_report *rep, const struct dc_stun_target *t)
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
			evidence(c, "%s: %u datagram%s%s%s, answered in %.3fms: mapped %s", what, p->sent, p->sent == 1 ? "" : "s",
				 from[0] ? " from " : "", from, (double)p->rtt_ns / 1e6, dc_endpoint_format(&p->mapped, ep, sizeof(ep)));
		else
			evidence(c, "%s: %u datagram%s%s%s: %s%s%s", what, p->sent, p->sent == 1 ? "" : "s", from[0] ? " from " : "",
				 from, dc_probe_status_name(p->status), p->detail[0] ? ", " : "", p->detail);
	}
}

/* Answered, skipped or plain-only; a silent target only gets its summary here (see stun_failure). */
static void judge_stun(struct dc_diag_check *c, const struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	char mapped[DC_ENDPOINT_STRLEN], dst[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&t->addr.addr, dst, sizeof(dst));
	if (t->skipped) {
		set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "%s", t->skip_reason);
		return;
	}
	stun_probe_evidence(c, rep, t);
	if (t->answered == 0) {
		if (t->kind == DC_STUN_KIND_PLAIN_ONLY) {
			set(c, DC_CHECK_FAIL, "stun-only-plain");
			SUMMARY(c, "%s answers plain STUN only", dst);
			CAUSE(c, "the server at %s answers plain RFC 5389 requests but not Tailscale's: clients get no "
				 "STUN replies", dst);
			FIX(c, "run derper's own STUN server on this port (derper -stun -stun-port %u), not a generic one",
			    t->port);
			return;
		}
		set(c, DC_CHECK_FAIL, "stun-no-reply");
		c->sent = t->sent;
		SUMMARY(c, "no answer from %s (%zu probes, %u datagrams sent)", dst, t->nprobes, t->sent);
		return;
	}
	char mapped_ep[DC_ENDPOINT_STRLEN];
	dc_ip_format(&t->mapped, mapped, sizeof(mapped));
	dc_endpoint_format(&t->mapped, mapped_ep, sizeof(mapped_ep));
	double ms = (double)t->rtt_median / 1e6;
	c->ms = ms;
	c->sent = t->sent;
	c->received = t->answered;
	SUMMARY(c, "%s: mapped %s, %u/%u answered, %.1fms", dst, mapped_ep, t->answered, t->sent, ms);
	const struct dc_finding *inner = stun_finding(rep, t, "stun-mapped-inner");
	if (t->mapped_class == DC_IP_DOCKER_BRIDGE || t->mapped_class == DC_IP_CGNAT ||
	    (inner && t->mapped_class != DC_IP_LOOPBACK)) {
		set(c, inner && inner->severity == DC_SEV_ERROR ? DC_CHECK_FAIL : DC_CHECK_WARN,
		    t->mapped_class == DC_IP_DOCKER_BRIDGE ? "stun-mapped-docker"
		    : t->mapped_class == DC_IP_CGNAT   ? "stun-mapped-cgnat"
						       : "stun-mapped-inner");
		CAUSE(c, "the server sees this machine as %s, a %s address: the clients it answers learn an address "
			 "nobody can reach",
		      mapped, dc_ip_class_name(t->mapped_class));
		if (inner && inner->hint)
			FIX(c, "%s", inner->hint);
		else if (t->mapped_class == DC_IP_DOCKER_BRIDGE)
			FIX(c, "run derper with host networking (network_mode: host), or disable Docker's userland proxy, "
			       "so STUN sees the clients' real addresses");
		else
			FIX(c, "a NAT between this machine and the server rewrites the source address: run derper where "
			       "clients reach it directly");
		return;
	}
	if (t->answered < t->sent) {
		set(c, DC_CHECK_WARN, "stun-loss");
		CAUSE(c, "%u of %u requests went unanswered", t->sent - t->answered, t->sent);
		FIX(c, "look for UDP rate limits or loss on the way to %s", dst);
		return;
	}
	set(c, DC_CHECK_OK, NULL);
}

/* The evidence of a target that got no answer on STUNPort (judge/udpverdict.h). */
static void stun_evidence(const struct dc_stun_report *rep, const struct dc_stun_target *t, const char *name,
			  const struct dc_stun_guess *g, struct dc_udp_evidence *e)
{
	const struct dc_probe_result *p = dc_stun_worst_failure(rep, t);
	*e = (struct dc_udp_evidence){
		.name = name, .addr = t->addr.addr, .status = p->status, .sent = t->sent,
		.waited_ns = rep->opts.timeout_ns, .port_closed = p->status == DC_PROBE_UNREACHABLE && p->icmp_port_closed,
		.icmp_from = p->icmp_from, .detail = p->detail, .guess = g && g->ran ? g : NULL,
	};
}

/* Cause, fix and the ports tried for a STUNPort that did not answer, from the evidence. */
static void stun_failure(struct dc_diag_check *c, struct dc_diag_node *dn, const struct dc_udp_evidence *e,
			 bool others_answer)
{
	const struct dc_stun_guess *g = e->guess;
	dc_udp_failure_text(e, others_answer, c->cause, sizeof(c->cause));
	if (g)
		dc_stun_guess_tried(g, c->tried, sizeof(c->tried));
	dc_udp_failure_fix(e, c->fix, sizeof(c->fix));
	if (g && g->answered >= 0) {
		c->code = "stun-wrong-port";
		dn->stun_alt_found = true;
		dn->stun_alt_port = g->ports[g->answered].port;
	} else if (e->status == DC_PROBE_UNREACHABLE) {
		c->code = "stun-unreachable";
	} else if (e->status == DC_PROBE_SEND_FAILED) {
		c->code = "stun-send-failed";
	} else {
		c->code = "stun-no-reply";
	}
}

static void check_stun(const struct dc_derpmap *map, struct dc_diag_report *r, const struct dc_diag_opts *o)
{
	struct dc_stun_opts so = {
		.style = DC_STUN_STYLE_TAILSCALE,
		.count = 3,
		.interval_ns = 50000000u,
		.timeout_ns = (uint64_t)(o->timeout_ms < STUN_TIMEOUT_MS ? o->timeout_ms : STUN_TIMEOUT_MS) * 1000000u,
		.family = o->family,
	};
	struct dc_stun_report rep;
	struct dc_error err;
	dc_stun_report_init(&rep, &so);
	dc_stun_add_region(&rep, r->region);
	bool ran = dc_stun_run(&rep, &err) == 0;

	/* Targets silent on STUNPort: which likely forwarded ports answer instead (one run for all). */
	struct failed {
		size_t node;
		int fam;
		const struct dc_stun_target *t;
		struct dc_diag_check *check;
	} *failed = dc_xcalloc(2 * r->node_count + 1, sizeof(*failed));
	size_t nfailed = 0;
	for (size_t i = 0; i < r->node_count; i++) {
		struct dc_diag_node *dn = &r->nodes[i];
		for (int fam = 4; fam <= 6; fam += 2) {
			struct dc_diag_check *c = node_check(dn, fam == 4 ? DC_DIAG_STUN4 : DC_DIAG_STUN6, DC_PATH_STUN);
			const struct dc_stun_target *t = NULL;
			for (size_t k = 0; k < rep.ntargets; k++)
				if (rep.targets[k].node == dn->node && rep.targets[k].family == fam)
					t = &rep.targets[k];
			if (!ran) {
				set(c, DC_CHECK_FAIL, "stun-send-failed");
				SUMMARY(c, "STUN could not start");
				CAUSE(c, "%s", err.what);
				FIX(c, "%s", err.hint[0] ? err.hint : "check this machine's UDP configuration");
				continue;
			}
			if (!t) {
				set(c, DC_CHECK_SKIP, NULL);
				if (o->family && o->family != fam)
					SUMMARY(c, "not checked (-%d)", o->family);
				else if (dc_node_stun_port(dn->node) < 0)
					SUMMARY(c, "STUN is turned off for this node (STUNPort -1)");
				else
					SUMMARY(c, "no IPv%d address", fam);
				continue;
			}
			judge_stun(c, &rep, t);
			if (c->status != DC_CHECK_FAIL || t->answered || t->kind == DC_STUN_KIND_PLAIN_ONLY)
				continue;
			failed[nfailed++] = (struct failed){.node = i, .fam = fam, .t = t, .check = c};
			struct dc_stun_guess *g = &dn->stun_guess[fam == 6];
			dc_stun_guess_plan(g, map, dn->node, &t->addr.addr, o->stun_port_guess, o->stun_port_guess_count);
		}
	}
	if (nfailed) {
		struct dc_stun_guess *all = dc_xcalloc(nfailed, sizeof(*all));
		for (size_t i = 0; i < nfailed; i++)
			all[i] = r->nodes[failed[i].node].stun_guess[failed[i].fam == 6];
		if (dc_stun_guess_run(all, nfailed, (uint64_t)ALT_STUN_TIMEOUT_MS * 1000000u, &err) == 0)
			for (size_t i = 0; i < nfailed; i++)
				r->nodes[failed[i].node].stun_guess[failed[i].fam == 6] = all[i];
		free(all);
	}
	for (size_t i = 0; i < nfailed; i++) {
		struct dc_diag_node *dn = &r->nodes[failed[i].node];
		struct dc_udp_evidence e;
		stun_evidence(&rep, failed[i].t, dn->node->name ? dn->node->name : "", &dn->stun_guess[failed[i].fam == 6], &e);
		/* UDP works from here when another node answers: then this one is silent on its own. */
		bool others_answer = false;
		for (size_t k = 0; k < rep.ntargets; k++)
			others_answer = others_answer || (rep.targets[k].node != dn->node && rep.targets[k].answered > 0);
		stun_failure(failed[i].check, dn, &e, others_answer);
	}
	free(failed);
	dc_stun_report_free(&rep);
}

/* ---- 4. TCP, TLS and the certificate ----------------------------------------------------- */

static const struct dc_finding *find_code(const struct dc_findings *f, const char *code)
{
	for (size_t i = 0; code && i < f->count; i++)
		if (strcmp(f->items[i].code, code) == 0)
			return &f->items[i];
	return NULL;
}

static const struct dc_finding *first_of(const struct dc_findings *f, enum dc_severity sev)
{
	for (size_t i = 0; i < f->count; i++)
		if (f->items[i].severity == sev)
			return &f->items[i];
	return NULL;
}

/* What the DERP checks after TLS need to know about this node. */
struct tls_outcome {
	bool tcp_ok;      /* TCP to DERPPort connected (addr is the address) */
	bool tls_ok;      /* a TLS handshake completed */
	bool cert_ok;     /* Tailscale clients accept the certificate (checked, or with checks off) */
	struct dc_endpoint addr;
};

static void tcp_fix(struct dc_diag_check *c, const struct dc_cert_report *rep, const struct dc_error *err, int port)
{
	switch (rep->conn.failure) {
	case DC_CONN_REFUSED:
		set(c, DC_CHECK_FAIL, "tcp-refused");
		FIX(c, "nothing listens on TCP %d: start derper with -a :%d, or fix DERPPort in the map or the port "
		       "forwarding (publish %d/tcp)", port, port, port);
		break;
	case DC_CONN_TIMEOUT:
		set(c, DC_CHECK_FAIL, "tcp-timeout");
		FIX(c, "a firewall or security group drops TCP %d: allow it from everywhere clients are", port);
		break;
	default:
		set(c, DC_CHECK_FAIL, "tcp-unreachable");
		FIX(c, "%s", err->hint[0] ? err->hint : "check routing between here and the server");
	}
	CAUSE(c, "%s", err->what);
}

struct dc_diag_region_ctx {
	const struct dc_diag_report *r;
};

/* The TLS connection as it went: the name sent, the protocol, the server's clock, any alert or plain HTTP. */
static void tls_evidence(struct dc_diag_check *c, const struct dc_cert_report *rep)
{
	const struct dc_tls_facts *f = &rep->conn;
	evidence(c, "ClientHello to %s with %s%s", f->peer, f->sni[0] ? "SNI " : "no SNI", f->sni);
	if (f->handshake)
		evidence(c, "handshake: %s, %s in %.3fms", f->version, f->cipher, f->tls_ms);
	if (f->sni_retried)
		evidence(c, "refused with the name; without SNI the handshake %s", f->no_sni_ok ? "completed" : "failed too");
	if (f->alert[0])
		evidence(c, "TLS alert: %s", f->alert);
	if (f->plain_http)
		evidence(c, "the port answered plain HTTP: %s", f->http_status);
	if (!f->handshake && f->error[0])
		evidence(c, "%s", f->error);
	if (f->have_date) {
		char date[40];
		dc_time_format(f->server_date, date, sizeof(date));
		evidence(c, "the server's clock (HTTP Date): %s, %+lld s from ours", date, f->skew_s);
	}
}

/* The chain as served and every kind of client's verdict on it. */
static void cert_evidence(struct dc_diag_check *c, const struct dc_cert_report *rep)
{
	for (size_t i = 0; i < rep->count; i++) {
		const struct dc_chain_cert *x = &rep->certs[i];
		if (x->origin != DC_ORIGIN_SERVED)
			continue;
		if (x->role == DC_ROLE_METACERT) {
			evidence(c, "[%d] derper's key certificate (protocol %d): not part of the chain", x->index,
				 x->info.derp_version);
			continue;
		}
		char until[40];
		dc_time_format(x->info.not_after, until, sizeof(until));
		evidence(c, "[%d] %s %s, issued by %s, valid until %s, sha256 %.16s…", x->index, dc_cert_role_name(x->role),
			 x->info.subject, x->info.self_signed ? "itself" : x->info.issuer, until, x->info.sha256);
	}
	for (int k = 0; k < DC_CLIENT_COUNT; k++) {
		const struct dc_client_verdict *v = &rep->clients[k];
		if (v->checked)
			evidence(c, "%s %s: %s", dc_client_label((enum dc_client)k), v->ok ? "ok" : "FAIL", v->says);
	}
}

static void check_tls(struct dc_diag_node *dn, const struct dc_resolve_req *addrs, const struct dc_diag_region_ctx *ctx,
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
		struct dc_diag_check *c = node_check(dn, fam == 4 ? DC_DIAG_TCP4 : DC_DIAG_TCP6, DC_PATH_DERP);
		const struct dc_resolved *a = dc_resolved_family(addrs, fam);
		if (a->origin != DC_ORIGIN_MAP && a->origin != DC_ORIGIN_DNS && a->origin != DC_ORIGIN_LITERAL) {
			set(c, DC_CHECK_SKIP, NULL);
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
		};
		struct dc_cert_report rep;
		struct dc_error err;
		dc_cert_report_init(&rep);
		if (dc_tlscheck_connect((struct sockaddr *)&ss, sl, &to, &rep, &err) < 0) {
			SUMMARY(c, "%s: no connection", dst);
			evidence(c, "TCP to %s (DERPPort %d of %s): %s", dst, port, fam_field(fam), err.what);
			tcp_fix(c, &rep, &err, port);
			dc_cert_report_free(&rep);
			continue;
		}
		set(c, DC_CHECK_OK, NULL);
		c->ms = rep.conn.tcp_ms;
		SUMMARY(c, "%s: connected in %.1fms", dst, rep.conn.tcp_ms);
		evidence(c, "TCP to %s (DERPPort %d of %s): connected in %.3fms", dst, port, fam_field(fam), rep.conn.tcp_ms);
		if (!have_chosen) {
			chosen = rep;
			have_chosen = true;
			out->tcp_ok = true;
			out->addr = a->addr;
		} else {
			dc_cert_report_free(&rep);
		}
	}
	struct dc_diag_check *tls = node_check(dn, DC_DIAG_TLS, DC_PATH_DERP);
	struct dc_diag_check *cert = node_check(dn, DC_DIAG_CERT, DC_PATH_DERP);
	if (!have_chosen) {
		set(tls, DC_CHECK_SKIP, NULL);
		SUMMARY(tls, "no TCP connection");
		set(cert, DC_CHECK_SKIP, NULL);
		SUMMARY(cert, "no TCP connection");
		return;
	}
	tls_evidence(tls, &chosen);
	if (!chosen.conn.handshake) {
		const struct dc_finding *x = find_code(&chosen.findings, chosen.brief_code);
		set(tls, DC_CHECK_FAIL, chosen.brief_code ? chosen.brief_code : "handshake-failed");
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
		one_line(tls->fix, sizeof(tls->fix));
		one_line(tls->cause, sizeof(tls->cause));
		set(cert, DC_CHECK_SKIP, NULL);
		SUMMARY(cert, "no TLS handshake");
		dc_cert_report_free(&chosen);
		return;
	}
	out->tls_ok = true;
	set(tls, DC_CHECK_OK, NULL);
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
	cert_evidence(cert, &chosen);
	out->cert_ok = tv.state != DC_TRUST_REJECTED;
	if (tv.state == DC_TRUST_REJECTED || tv.state == DC_TRUST_INSECURE) {
		set(cert, tv.state == DC_TRUST_REJECTED ? DC_CHECK_FAIL : DC_CHECK_INSECURE, tv.code);
		SUMMARY(cert, "%s", tv.summary);
		CAUSE(cert, "%s", tv.cause);
		FIX(cert, "%s", tv.fix);
		one_line(cert->fix, sizeof(cert->fix));
		one_line(cert->cause, sizeof(cert->cause));
		dc_cert_report_free(&chosen);
		return;
	}
	const struct dc_finding *w = first_of(&chosen.findings, DC_SEV_WARNING);
	const struct dc_cert_info *leaf = chosen.count ? &chosen.certs[0].info : NULL;
	SUMMARY(cert, "valid for %s%s%s", call.cert_name ? call.cert_name : n->host_name, leaf ? ", issued by " : "",
		leaf ? leaf->issuer : "");
	if (tv.state == DC_TRUST_UNCHECKED) {
		set(cert, DC_CHECK_WARN, tv.code);
		SUMMARY(cert, "%s", tv.summary);
		CAUSE(cert, "%s", tv.cause);
		FIX(cert, "%s", tv.fix);
	} else if (w) {
		set(cert, DC_CHECK_WARN, w->code);
		CAUSE(cert, "%s", w->message);
		FIX(cert, "%s", w->hint ? w->hint : cmd);
		one_line(cert->cause, sizeof(cert->cause));
		one_line(cert->fix, sizeof(cert->fix));
	} else {
		set(cert, DC_CHECK_OK, NULL);
	}
	dc_cert_report_free(&chosen);
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
static void http_evidence(struct dc_diag_check *c, const char *url, const struct dc_http_response *resp)
{
	if (resp->failure != DC_HTTP_OK || !resp->headers.data) {
		evidence(c, "GET %s: %s", url, resp->error.what[0] ? resp->error.what : "no response");
		return;
	}
	char line[200];
	printable(line, sizeof(line), resp->headers.data, resp->headers.len);
	evidence(c, "GET %s: \"%s\" in %.3fms, %zu bytes", url, line, (double)resp->elapsed_ns / 1e6, resp->body.len);
	static const char *const names[] = {"Server", "X-Tailscale-Response", "Location"};
	for (size_t i = 0; i < DC_ARRAY_LEN(names); i++) {
		const char *v;
		size_t vn;
		if (dc_http_header(resp, names[i], &v, &vn)) {
			printable(line, sizeof(line), v, vn);
			evidence(c, "%s: %s", names[i], line);
		}
	}
}

static void check_http(struct dc_diag_node *dn, const struct tls_outcome *tls, const struct dc_diag_opts *o)
{
	const struct dc_derp_node *n = dn->node;
	struct dc_diag_check *home = node_check(dn, DC_DIAG_HTTP_HOME, DC_PATH_DERP);
	struct dc_diag_check *probe = node_check(dn, DC_DIAG_HTTP_PROBE, DC_PATH_DERP);
	struct dc_diag_check *g204 = node_check(dn, DC_DIAG_HTTP_204, DC_PATH_DERP);
	/* Port 80 serves captive-portal checks, not relaying: a wrong CanPort80 is a map problem. */
	struct dc_diag_check *p80 = n->can_port80 ? node_check(dn, DC_DIAG_HTTP_PORT80, DC_PATH_MAP) : NULL;
	if (!tls->tls_ok) {
		struct dc_diag_check *all[] = {home, probe, g204, p80};
		for (size_t i = 0; i < DC_ARRAY_LEN(all); i++)
			if (all[i]) {
				set(all[i], DC_CHECK_SKIP, NULL);
				SUMMARY(all[i], "no TLS connection");
			}
		return;
	}
	int port = dc_node_derp_port(n);
	char ip[DC_ENDPOINT_STRLEN], hostpart[300], resolve_tls[400], resolve_80[400];
	dc_ip_format(&tls->addr, ip, sizeof(ip));
	bool literal = is_ip_literal(n->host_name);
	/* Connect to the address tested above; the name stays the TLS name and Host header. */
	if (literal)
		snprintf(hostpart, sizeof(hostpart), tls->addr.family == 6 ? "[%s]" : "%s", ip);
	else
		snprintf(hostpart, sizeof(hostpart), "%s", n->host_name);
	snprintf(resolve_tls, sizeof(resolve_tls), tls->addr.family == 6 ? "%s:%d:[%s]" : "%s:%d:%s", n->host_name, port, ip);
	snprintf(resolve_80, sizeof(resolve_80), tls->addr.family == 6 ? "%s:80:[%s]" : "%s:80:%s", n->host_name, ip);
	const char *const res_tls[] = {resolve_tls, NULL}, *const res_80[] = {resolve_80, NULL};
	uint8_t rnd[8];
	randombytes_buf(rnd, sizeof(rnd));
	char challenge[40], challenge_hdr[80];
	snprintf(challenge, sizeof(challenge), "derpcheck-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(challenge_hdr, sizeof(challenge_hdr), "X-Tailscale-Challenge: %s", challenge);
	const char *const hdrs[] = {challenge_hdr, NULL};
	/* The certificate is judged by its own check; these requests only look at what is served. */
	struct dc_http_opts ho = {.insecure = true, .timeout_ms = o->timeout_ms, .max_bytes = 64 * 1024};
	char url_home[400], url_probe[400], url_204[400], url_80[400];
	snprintf(url_home, sizeof(url_home), "https://%s:%d/", hostpart, port);
	snprintf(url_probe, sizeof(url_probe), "https://%s:%d/derp/probe", hostpart, port);
	snprintf(url_204, sizeof(url_204), "https://%s:%d/generate_204", hostpart, port);
	snprintf(url_80, sizeof(url_80), "http://%s/generate_204", hostpart);
	struct dc_http_request reqs[4] = {
		{.url = url_home, .opts = &ho, .resolve = literal ? NULL : res_tls, .no_redirects = true, .truncate_body = true},
		{.url = url_probe, .opts = &ho, .resolve = literal ? NULL : res_tls, .no_redirects = true},
		{.url = url_204, .opts = &ho, .resolve = literal ? NULL : res_tls, .headers = hdrs, .no_redirects = true},
		{.url = url_80, .opts = &ho, .resolve = literal ? NULL : res_80, .headers = hdrs, .no_redirects = true},
	};
	struct dc_http_response resps[4];
	memset(resps, 0, sizeof(resps));
	struct dc_error err;
	size_t nreq = p80 ? 4 : 3;
	if (dc_http_fetch_all(reqs, resps, nreq, &err) < 0) {
		struct dc_diag_check *all[] = {home, probe, g204, p80};
		for (size_t i = 0; i < DC_ARRAY_LEN(all); i++)
			if (all[i]) {
				set(all[i], DC_CHECK_SKIP, NULL);
				SUMMARY(all[i], "not checked: %s", err.what);
			}
		for (size_t i = 0; i < nreq; i++)
			dc_http_response_free(&resps[i]);
		return;
	}
	struct dc_diag_check *checks[] = {home, probe, g204, p80};
	const char *const urls[] = {url_home, url_probe, url_204, url_80};
	for (size_t i = 0; i < nreq; i++)
		http_evidence(checks[i], urls[i], &resps[i]);
	/* / : derper's home page */
	home->ms = (double)resps[0].elapsed_ns / 1e6;
	if (resps[0].failure != DC_HTTP_OK) {
		set(home, DC_CHECK_FAIL, "http-failed");
		SUMMARY(home, "GET / failed");
		CAUSE(home, "GET %s: %s", url_home, resps[0].error.what);
		FIX(home, "%s", resps[0].error.hint[0] ? resps[0].error.hint : "check the server's HTTP side");
	} else if (resps[0].status == 200 && resps[0].body.data && strstr(resps[0].body.data, "<h1>DERP</h1>")) {
		set(home, DC_CHECK_OK, NULL);
		SUMMARY(home, "GET / is derper's home page");
	} else {
		set(home, DC_CHECK_WARN, "http-not-derper");
		SUMMARY(home, "GET / answered %ld, not derper's home page", resps[0].status);
		CAUSE(home, "something other than derper answers on %s:%d (a reverse proxy or another web server)",
		      n->host_name, port);
		FIX(home, "let derper terminate TLS on DERPPort itself: proxies in front of it usually break the /derp "
			  "upgrade");
	}
	/* /derp/probe */
	probe->ms = (double)resps[1].elapsed_ns / 1e6;
	if (resps[1].failure == DC_HTTP_OK && resps[1].status == 200) {
		set(probe, DC_CHECK_OK, NULL);
		SUMMARY(probe, "GET /derp/probe answered 200");
	} else {
		set(probe, DC_CHECK_WARN, "http-probe");
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
		snprintf(want, sizeof(want), "response %s", challenge);
		bool answered = resp->failure == DC_HTTP_OK && resp->status == 204 &&
				dc_http_header(resp, "X-Tailscale-Response", &v, &vn) && vn == strlen(want) &&
				memcmp(v, want, vn) == 0;
		c->ms = (double)resp->elapsed_ns / 1e6;
		const char *where = k == 2 ? "/generate_204" : "port 80 /generate_204";
		if (answered) {
			set(c, DC_CHECK_OK, NULL);
			SUMMARY(c, "%s answered 204 with the challenge response", where);
			continue;
		}
		set(c, k == 2 ? DC_CHECK_WARN : DC_CHECK_FAIL, k == 2 ? "http-generate-204" : "http-port80");
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
			CAUSE(c, "the map sets CanPort80, but port 80 of %s does not answer like derper", ip);
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
static void check_proxy(struct dc_diag_node *dn, const struct tls_outcome *tls, const struct dc_diag_opts *o,
			struct dc_proxy_evidence *ev, bool *have_ev)
{
	const struct dc_derp_node *n = dn->node;
	*have_ev = false;
	if (!tls->tcp_ok) {
		for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
			struct dc_diag_check *c = node_check(dn, dc_proxy_item_id((enum dc_proxy_item)i), DC_PATH_DERP);
			set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "no TCP connection");
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
			struct dc_diag_check *c = node_check(dn, dc_proxy_item_id((enum dc_proxy_item)i), DC_PATH_DERP);
			set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "not checked: %.300s", err.what);
		}
		return;
	}
	*have_ev = true;
	dc_proxy_judge(ev, &v);
	for (int i = 0; i < DC_PROXY_ITEM_COUNT; i++) {
		const struct dc_proxy_line *l = &v.lines[i];
		struct dc_diag_check *c = node_check(dn, dc_proxy_item_id((enum dc_proxy_item)i), DC_PATH_DERP);
		set(c, l->status, l->code);
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

/* ---- 7. the DERP handshake, relaying, mesh ----------------------------------------------- */

/* A DERP connection phase by phase, and what the server said in its handshake. */
static void derp_conn_evidence(struct dc_diag_check *c, const struct dc_derp_conn *conn)
{
	evidence(c, "%s%s%.3fms TCP, %.3fms TLS, %.3fms certificate, %.3fms HTTP upgrade (%s), %.3fms DERP handshake",
		 conn->tls.peer[0] ? conn->tls.peer : "", conn->tls.peer[0] ? ": " : "", (double)conn->tcp_ns / 1e6,
		 (double)conn->tls_ns / 1e6, (double)conn->verify_ns / 1e6, (double)conn->upgrade_ns / 1e6,
		 conn->fast_start ? "fast start, no 101" : "101 Switching Protocols", (double)conn->handshake_ns / 1e6);
	if (conn->http_derp_version >= 0)
		evidence(c, "Derp-Version header: %d", conn->http_derp_version);
	if (conn->failure == DC_DERP_OK)
		evidence(c, "ServerInfo: protocol %d%s", conn->info.version, conn->metacert ? ", key also in derper's key certificate" : "");
	else
		evidence(c, "stopped at %s: %s", dc_derp_phase_name(conn->phase), dc_derp_failure_name(conn->failure));
	if (conn->health_set)
		evidence(c, "the server's health message: %s", conn->health);
}

static void check_handshake(struct dc_diag_node *dn, const struct dc_derp_region *region, const struct tls_outcome *tls,
			    const struct dc_diag_opts *o, bool *admitted, bool *insecure_used)
{
	struct dc_diag_check *c = node_check(dn, DC_DIAG_HANDSHAKE, DC_PATH_DERP);
	*admitted = false;
	if (!tls->tls_ok) {
		set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "no TLS connection");
		return;
	}
	/* The certificate is judged above; what lies behind a bad one is still worth knowing. */
	*insecure_used = dn->trust != DC_TRUST_VERIFIED;
	struct dc_derp_dial_opts d = {
		.region = region, .node = dn->node->name, .family = tls->addr.family, .ca_file = o->ca_file,
		.insecure = *insecure_used, .timeout_ms = o->timeout_ms, .app_name = "derpcheck-diagnose",
		.transport = o->transport,
	};
	struct dc_derp_conn conn;
	struct dc_error err;
	int rc = dc_derp_connect(&d, &conn, &err);
	derp_conn_evidence(c, &conn);
	if (rc < 0) {
		c->ms = (double)conn.connect_ns / 1e6;
		SUMMARY(c, "failed at %s: %s", dc_derp_phase_name(conn.phase), dc_derp_failure_name(conn.failure));
		if (conn.failure == DC_DERP_NOT_ADMITTED) {
			set(c, DC_CHECK_FAIL, "derp-not-admitted");
			CAUSE(c, "the server closed the connection after ClientInfo: it does not admit this client");
			FIX(c, "derper runs with --verify-clients and admits only nodes of its own tailnet (run this check "
			       "from one of them, or drop --verify-clients), or it rejects this client version: update derper");
		} else {
			set(c, DC_CHECK_FAIL, "derp-handshake");
			CAUSE(c, "%s", err.what);
			FIX(c, "%s", err.hint[0] ? err.hint : "check that DERPPort reaches derper itself, not a proxy");
			/* The proxy checks above have the evidence and the lines to change: point there. */
			for (size_t k = 0; k < dn->count; k++) {
				const struct dc_diag_check *p = &dn->checks[k];
				if (conn.phase == DC_DERP_PHASE_UPGRADE && p->status == DC_CHECK_FAIL &&
				    (strcmp(p->id, "derp-upgrade") == 0 || strcmp(p->id, "http-derp") == 0 || strcmp(p->id, "proxy") == 0)) {
					FIX(c, "see %s above: it names what refuses the upgrade and the lines to change", p->id);
					break;
				}
			}
		}
		dc_derp_close(&conn);
		return;
	}
	char hex[65];
	dc_derp_key_hex(conn.server_key, hex);
	snprintf(dn->server_key, sizeof(dn->server_key), "nodekey:%s", hex);
	dn->have_server_key = true;
	c->ms = (double)conn.connect_ns / 1e6;
	dn->transport = dc_derp_transport_name(conn.transport);
	snprintf(dn->transport_note, sizeof(dn->transport_note), "%s", conn.auto_note);
	char how[96] = "";
	if (o->transport != DC_DERP_TRANSPORT_DERP) {
		dc_derp_how_text(&conn, o->transport, how + 2, sizeof(how) - 2);
		how[0] = ',', how[1] = ' ';
	}
	if (conn.auto_note[0]) {
		/* Relaying over WebSocket does not help tailscaled, which has only Upgrade: DERP. */
		set(c, DC_CHECK_FAIL, "derp-websocket-only");
		CAUSE(c, "admitted over WebSocket only: %s", conn.auto_note);
		FIX(c, "tailscaled connects with Upgrade: DERP: see derp-upgrade for what refuses it and the lines to change");
	} else {
		set(c, DC_CHECK_OK, NULL);
	}
	SUMMARY(c, "admitted, server key nodekey:%.8s…, protocol %d%s%s", hex, conn.info.version, how,
		dn->trust == DC_TRUST_REJECTED ? " (certificate ignored for this check)"
		: dc_trust_checks_off(dn->trust) ? " (certificate not checked: InsecureForTests, as clients do)"
						 : "");
	*admitted = true;
	dc_derp_close(&conn);
}

/* Which node each client reached, and every packet's round trip (A to B and back). */
static void ping_evidence(struct dc_diag_check *c, const struct dc_ping_result *pr)
{
	for (int k = 0; k < 2; k++) {
		const struct dc_ping_client *cl = &pr->clients[k];
		if (cl->connected)
			evidence(c, "%c: node %s at %s, connected in %.3fms", cl->name ? cl->name : 'A' + k,
				 cl->conn.node && cl->conn.node->name ? cl->conn.node->name : "?", cl->conn.tls.peer,
				 (double)cl->conn.connect_ns / 1e6);
		else if (cl->attempted)
			evidence(c, "%c: not connected: %s", cl->name ? cl->name : 'A' + k, cl->err.what);
	}
	for (unsigned i = 0; pr->packets && i < pr->sent; i++) {
		const struct dc_ping_packet *p = &pr->packets[i];
		if (p->replied)
			evidence(c, "seq %u: %.3fms (A to B %.3fms, B to A %.3fms)", p->seq, p->rtt_ms, p->there_ms, p->back_ms);
		else
			evidence(c, "seq %u: %s", p->seq, p->corrupted ? "corrupted" : "lost");
	}
}

static void judge_ping(struct dc_diag_check *c, const struct dc_ping_result *pr, unsigned count, const char *what)
{
	bool mesh = strcmp(c->id, DC_DIAG_MESH) == 0;
	ping_evidence(c, pr);
	if (pr->stage == DC_PING_SETUP_FAILED) {
		set(c, DC_CHECK_FAIL, mesh ? "mesh-failed" : "relay-failed");
		SUMMARY(c, "client %c could not connect", pr->failed_client ? 'B' : 'A');
		CAUSE(c, "%s", pr->err.what);
		FIX(c, "%s", pr->err.hint[0] ? pr->err.hint : "see the handshake check");
		return;
	}
	c->ms = pr->received ? pr->avg_ms : -1;
	c->sent = count;
	c->received = pr->received;
	SUMMARY(c, "%s: %u/%u relayed, avg %.1fms", what, pr->received, count, pr->avg_ms);
	if (pr->received == count) {
		set(c, DC_CHECK_OK, NULL);
		return;
	}
	if (pr->received == 0) {
		set(c, DC_CHECK_FAIL, mesh ? "mesh-failed" : "relay-failed");
		SUMMARY(c, "%s: nothing relayed", what);
		if (mesh) {
			CAUSE(c, "both clients were admitted, but nothing sent through one node reached the other");
			FIX(c, "run every derper of the region with the same --mesh-psk-file and list the others in "
			       "--mesh-with, and let them reach each other on DERPPort");
		} else {
			CAUSE(c, "both clients were admitted, but no packet from A reached B");
			FIX(c, "%s", pr->err.hint[0] ? pr->err.hint : "check derper's logs for dropped packets");
		}
		return;
	}
	set(c, DC_CHECK_WARN, mesh ? "mesh-loss" : "relay-loss");
	CAUSE(c, "%u of %u relayed packets were lost", count - pr->received, count);
	FIX(c, "look at derper's load and rate limits, and at loss on the way");
}

/*
 * Every connection to one node must meet the same server key (tailscale debug derp makes
 * five to check this): different keys mean a load balancer spreads clients over several
 * derpers, and two clients on different ones cannot reach each other unless they mesh.
 */
static void judge_server_keys(struct dc_diag_check *c, struct dc_diag_node *dn, const struct dc_ping_result *pr,
			      struct dc_proxy_evidence *ev, bool have_ev, enum dc_proxy_kind kind)
{
	struct dc_proxy_evidence own = {0};
	struct dc_proxy_evidence *keys = have_ev ? ev : &own;
	size_t conns = 0;
	for (size_t i = 0; i < keys->nkeys; i++)
		conns += keys->key_hits[i];
	uint8_t k0[DC_DERP_KEY_LEN];
	if (dn->have_server_key && dc_derp_key_parse(dn->server_key, strlen(dn->server_key), k0) == 0) {
		dc_proxy_evidence_add_key(keys, k0);
		conns++;
	}
	for (int k = 0; k < 2; k++)
		if (pr->clients[k].connected) {
			dc_proxy_evidence_add_key(keys, pr->clients[k].conn.server_key);
			conns++;
		}
	dn->server_keys = keys->nkeys;
	if (keys->nkeys <= 1)
		return;
	set(c, DC_CHECK_FAIL, "derp-multiple-keys");
	dc_proxy_keys_text(conns, keys->nkeys, pr->received < pr->count, kind, c->cause, sizeof(c->cause), c->fix, sizeof(c->fix));
}

static void ping_between(const struct dc_derp_region *region, const char *node, bool mesh, const struct dc_diag_opts *o,
			 bool insecure, struct dc_ping_result *pr)
{
	struct dc_ping_opts po = {
		.region = region, .node = node, .mesh = mesh, .count = o->ping_count, .interval_ms = 20, .size = 64,
		.reply_timeout_ms = o->timeout_ms, .connect_timeout_ms = o->timeout_ms, .family = o->family,
		.ca_file = o->ca_file, .insecure = insecure, .transport = o->transport,
	};
	memset(pr, 0, sizeof(*pr));
	dc_ping_run(&po, pr);
}

/* ---- verdicts ------------------------------------------------------------------------------ */

static const struct dc_diag_check *first_fail(const struct dc_diag_node *dn, enum dc_diag_path path)
{
	for (size_t i = 0; i < dn->count; i++)
		if (dn->checks[i].path == path && dn->checks[i].status == DC_CHECK_FAIL)
			return &dn->checks[i];
	return NULL;
}

static void verdicts(struct dc_diag_report *r)
{
	size_t stun_nodes = 0, stun_ok = 0, derp_nodes = 0, derp_ok = 0, derp_off = 0;
	const struct dc_diag_check *stun_bad = NULL, *derp_bad = NULL;
	const char *stun_bad_node = NULL, *derp_bad_node = NULL;
	const struct dc_diag_node *off_node = NULL; /* relays only with certificate checks off */
	bool derp_bad_relayed = false;
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		bool any_stun = false;
		for (size_t k = 0; k < dn->count; k++)
			any_stun = any_stun || (dn->checks[k].path == DC_PATH_STUN && dn->checks[k].status != DC_CHECK_SKIP);
		if (any_stun) {
			stun_nodes++;
			const struct dc_diag_check *f = first_fail(dn, DC_PATH_STUN);
			if (!f)
				stun_ok++;
			else if (!stun_bad)
				stun_bad = f, stun_bad_node = dn->node->name;
		}
		if (!dn->node->stun_only) {
			const struct dc_diag_check *f = first_fail(dn, DC_PATH_DERP);
			bool relayed = false;
			for (size_t k = 0; k < dn->count; k++)
				relayed = relayed || (strcmp(dn->checks[k].id, DC_DIAG_RELAY) == 0 &&
						      (dn->checks[k].status == DC_CHECK_OK || dn->checks[k].status == DC_CHECK_WARN));
			/* A node nothing could be tried on (-4 with an IPv6-only node) is not counted. */
			if (!f && !relayed)
				continue;
			derp_nodes++;
			if (!f) {
				derp_ok++;
				if (dc_trust_checks_off(dn->trust)) {
					derp_off++;
					off_node = off_node ? off_node : dn;
				}
			} else if (!derp_bad) {
				derp_bad = f, derp_bad_node = dn->node->name, derp_bad_relayed = relayed;
			}
		}
	}
	const struct dc_diag_check *mesh_bad = NULL;
	for (size_t i = 0; i < r->region_count; i++)
		if (r->region_checks[i].path == DC_PATH_DERP && r->region_checks[i].status == DC_CHECK_FAIL && !mesh_bad)
			mesh_bad = &r->region_checks[i];

	bool any_stun_port = false;
	for (size_t i = 0; i < r->node_count; i++)
		any_stun_port = any_stun_port || dc_node_stun_port(r->nodes[i].node) >= 0;
	if (stun_nodes == 0) {
		r->stun = DC_VERDICT_NA;
		dc_textf(r->stun_reason, sizeof(r->stun_reason), "%s",
		      any_stun_port ? "no node could be probed: no address of the family asked for"
				    : "no node of the region serves STUN");
	} else {
		r->stun = stun_ok == stun_nodes ? DC_VERDICT_OK : stun_ok ? DC_VERDICT_DEGRADED : DC_VERDICT_BROKEN;
		if (stun_bad)
			dc_textf(r->stun_reason, sizeof(r->stun_reason), "%zu of %zu nodes answer STUN; %s: %s", stun_ok,
				 stun_nodes, stun_bad_node, stun_bad->id);
		else
			dc_textf(r->stun_reason, sizeof(r->stun_reason), "%zu of %zu nodes answer STUN", stun_ok, stun_nodes);
	}
	bool all_stun_only = true;
	for (size_t i = 0; i < r->node_count; i++)
		all_stun_only = all_stun_only && r->nodes[i].node->stun_only;
	if (derp_nodes == 0) {
		r->derp = DC_VERDICT_NA;
		dc_textf(r->derp_reason, sizeof(r->derp_reason), "%s",
		      all_stun_only ? "every node is STUNOnly: the region relays nothing"
				    : "no node could be tried: no address of the family asked for");
	} else {
		r->derp = derp_ok == 0				  ? DC_VERDICT_BROKEN
			  : derp_ok < derp_nodes || mesh_bad ? DC_VERDICT_DEGRADED
			  : derp_off			  ? DC_VERDICT_INSECURE
							  : DC_VERDICT_OK;
		char off[300] = "";
		if (off_node && dc_trust_checks_off(off_node->trust))
			dc_textf(off, sizeof(off), off_node->trust == DC_TRUST_INSECURE
				? ", %zu only because InsecureForTests turns certificate checks off; %s: certificate"
				: ", %zu with certificate checks turned off by InsecureForTests; %s: certificate (it verifies: remove "
				  "InsecureForTests)",
			      derp_off, off_node->node->name);
		/* A node whose own relay test passed but that fails clients elsewhere (its certificate). */
		const char *clients = derp_bad && derp_bad_relayed ? " for clients" : "";
		char relayed_note[120] = "";
		if (derp_bad && derp_bad_relayed)
			dc_textf(relayed_note, sizeof(relayed_note), ", although it relays when %s",
			      strcmp(derp_bad->id, DC_DIAG_CERT) == 0 ? "the certificate is not checked" : "that is ignored");
		if (derp_bad)
			dc_textf(r->derp_reason, sizeof(r->derp_reason), "%zu of %zu nodes relay%s; %s: %s%s%s", derp_ok, derp_nodes,
			      clients, derp_bad_node, derp_bad->id, relayed_note, off);
		else if (mesh_bad)
			dc_textf(r->derp_reason, sizeof(r->derp_reason), "%zu of %zu nodes relay; the mesh %s \u2194 %s fails%s",
			      derp_ok, derp_nodes, mesh_bad->pair[0], mesh_bad->pair[1], off);
		else
			dc_textf(r->derp_reason, sizeof(r->derp_reason), "%zu of %zu nodes relay%s", derp_ok, derp_nodes, off);
	}
}

/* ---- the run --------------------------------------------------------------------------------- */

void dc_diagnose_run(const struct dc_derpmap *map, const struct dc_derp_region *region, const struct dc_diag_opts *opts,
		     struct dc_diag_report *r)
{
	struct dc_diag_opts o = *opts;
	if (o.timeout_ms <= 0)
		o.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (o.ping_count == 0)
		o.ping_count = 3;
	uint64_t start = dc_now_ns();
	memset(r, 0, sizeof(*r));
	r->region = region;
	r->node_count = region->node_count;
	r->nodes = dc_xcalloc(r->node_count ? r->node_count : 1, sizeof(*r->nodes));
	for (size_t i = 0; i < r->node_count; i++) {
		r->nodes[i].node = &region->nodes[i];
		r->nodes[i].trust = DC_TRUST_UNKNOWN;
	}

	check_map(map, &o, r);

	/* Addresses as clients get them (DERPPort), and DNS answers to compare with the map. */
	struct dc_resolve_req *addrs = dc_xcalloc(r->node_count + 1, sizeof(*addrs));
	struct dc_resolve_req *dns = dc_xcalloc(r->node_count + 1, sizeof(*dns));
	bool *want_dns = dc_xcalloc(r->node_count + 1, sizeof(*want_dns));
	size_t ndns = 0;
	size_t *dns_of = dc_xcalloc(r->node_count + 1, sizeof(*dns_of));
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_derp_node *n = r->nodes[i].node;
		dc_resolve_node(&addrs[i], n, (uint16_t)dc_node_derp_port(n), o.family);
		bool statik = dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_STATIC || dc_node_addr_mode(n->ipv6, 6) == DC_ADDR_STATIC;
		if (statik && n->host_name && n->host_name[0] && !is_ip_literal(n->host_name) && !reserved_name(n->host_name)) {
			want_dns[i] = true;
			dns_of[i] = ndns;
			dc_resolve_host(&dns[ndns++], n->host_name, (uint16_t)dc_node_derp_port(n), o.family);
		}
	}
	uint64_t deadline = dc_now_ns() + (uint64_t)o.timeout_ms * 1000000u;
	dc_resolve_run(addrs, r->node_count, deadline);
	dc_resolve_run(dns, ndns, deadline);
	for (size_t i = 0; i < r->node_count; i++)
		for (int fam = 4; fam <= 6; fam += 2)
			check_dns(&r->nodes[i], fam, &addrs[i], want_dns[i] ? &dns[dns_of[i]] : NULL, &o);

	check_stun(map, r, &o);

	struct dc_diag_region_ctx ctx = {.r = r};
	bool *relays = dc_xcalloc(r->node_count + 1, sizeof(*relays));
	bool *insecure = dc_xcalloc(r->node_count + 1, sizeof(*insecure));
	for (size_t i = 0; i < r->node_count; i++) {
		struct dc_diag_node *dn = &r->nodes[i];
		if (dn->node->stun_only) {
			struct dc_diag_check *c = node_check(dn, DC_DIAG_HANDSHAKE, DC_PATH_DERP);
			set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "STUNOnly node: clients never connect to it for DERP");
			continue;
		}
		struct tls_outcome tls = {0};
		check_tls(dn, &addrs[i], &ctx, &o, &tls);
		check_http(dn, &tls, &o);
		struct dc_proxy_evidence ev;
		bool have_ev = false;
		check_proxy(dn, &tls, &o, &ev, &have_ev);
		enum dc_proxy_kind kind = DC_PROXY_UNKNOWN;
		if (have_ev && !ev.metacert) {
			char who[96], why[96];
			kind = dc_proxy_identify(&ev, who, sizeof(who), why, sizeof(why));
		}
		bool admitted = false;
		check_handshake(dn, region, &tls, &o, &admitted, &insecure[i]);
		struct dc_diag_check *c = node_check(dn, DC_DIAG_RELAY, DC_PATH_DERP);
		if (!admitted) {
			set(c, DC_CHECK_SKIP, NULL);
			SUMMARY(c, "no DERP connection");
			if (have_ev)
				dc_proxy_evidence_free(&ev);
			continue;
		}
		struct dc_ping_result pr;
		ping_between(region, dn->node->name, false, &o, insecure[i], &pr);
		judge_ping(c, &pr, o.ping_count, "A \u2192 B \u2192 A");
		judge_server_keys(c, dn, &pr, &ev, have_ev, kind);
		relays[i] = c->status != DC_CHECK_FAIL;
		dc_ping_result_free(&pr);
		if (have_ev)
			dc_proxy_evidence_free(&ev);
	}

	/* The mesh: every pair of nodes that relays on its own, A on one and B on the other. */
	for (size_t i = 0; i < r->node_count; i++)
		for (size_t j = i + 1; j < r->node_count; j++) {
			if (r->nodes[i].node->stun_only || r->nodes[j].node->stun_only)
				continue;
			struct dc_diag_check *c = add_check(r->region_checks, &r->region_count, DC_DIAG_MESH, DC_PATH_DERP);
			if (!c)
				break;
			c->pair[0] = r->nodes[i].node->name;
			c->pair[1] = r->nodes[j].node->name;
			char pair[200];
			snprintf(pair, sizeof(pair), "%s \u2194 %s", r->nodes[i].node->name, r->nodes[j].node->name);
			if (!relays[i] || !relays[j]) {
				set(c, DC_CHECK_SKIP, NULL);
				SUMMARY(c, "%s: not tested, %s does not relay", pair,
					!relays[i] ? r->nodes[i].node->name : r->nodes[j].node->name);
				continue;
			}
			struct dc_derp_region two = *region;
			struct dc_derp_node nodes[2] = {*r->nodes[i].node, *r->nodes[j].node};
			two.nodes = nodes;
			two.node_count = 2;
			struct dc_ping_result pr;
			ping_between(&two, nodes[0].name, true, &o, insecure[i] || insecure[j], &pr);
			judge_ping(c, &pr, o.ping_count, pair);
			dc_ping_result_free(&pr);
		}

	verdicts(r);
	free(relays);
	free(insecure);
	free(addrs);
	free(dns);
	free(want_dns);
	free(dns_of);
	r->elapsed_ns = dc_now_ns() - start;
	r->finished_unix = (int64_t)time(NULL);
}

size_t dc_diag_count(const struct dc_diag_report *r, enum dc_check_status st)
{
	size_t n = 0;
	for (size_t i = 0; i < r->region_count; i++)
		n += r->region_checks[i].status == st;
	for (size_t i = 0; i < r->node_count; i++)
		for (size_t k = 0; k < r->nodes[i].count; k++)
			n += r->nodes[i].checks[k].status == st;
	return n;
}

void dc_diag_report_free(struct dc_diag_report *r)
{
	free(r->nodes);
	r->nodes = NULL;
	r->node_count = 0;
}
