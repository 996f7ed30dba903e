/*
 * diagnose, steps 1-3: the map entry (validate's findings for the region and its nodes),
 * DNS against the map, and STUN to every node and family the way clients send it, with
 * the other ports tried when the map's STUNPort stays silent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/udpverdict.h"
#include "derpcheck/judge/validate.h"
#include "diagnose_int.h"

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
		dc_diag_evidence(c, "%s %s at %s", x->severity == DC_SEV_ERROR ? "error" : "warning", x->code, x->path);
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
		dc_diag_set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "follows Tailscale's rules");
		return;
	}
	dc_diag_set(c, first_err ? DC_CHECK_FAIL : DC_CHECK_WARN, x->code);
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

void dc_diag_check_map(const struct dc_derpmap *map, const struct dc_diag_opts *o, struct dc_diag_report *r)
{
	struct dc_findings f = {.file = o->map_name, .ca_file = o->ca_file, .map_format = o->map_format};
	dc_validate(map, o->defaults, &f);
	const char **node_paths = dc_xcalloc(r->node_count + 1, sizeof(*node_paths));
	for (size_t i = 0; i < r->node_count; i++) {
		node_paths[i] = r->nodes[i].node->path;
		judge_findings(dc_diag_node_check(&r->nodes[i], DC_DIAG_MAP, DC_PATH_MAP), &f, r->nodes[i].node->path, NULL, 0, o);
	}
	struct dc_diag_check *c = dc_diag_add_check(r->region_checks, &r->region_count, DC_DIAG_MAP, DC_PATH_MAP);
	judge_findings(c, &f, r->region->path, node_paths, r->node_count, o);
	free(node_paths);
	dc_findings_free(&f);
}

void dc_diag_check_dns(struct dc_diag_node *dn, int fam, const struct dc_resolve_req *addrs,
		      const struct dc_resolve_req *dns, const struct dc_diag_opts *o)
{
	const struct dc_derp_node *n = dn->node;
	struct dc_diag_check *c = dc_diag_node_check(dn, fam == 4 ? DC_DIAG_DNS4 : DC_DIAG_DNS6, DC_PATH_MAP);
	const struct dc_resolved *a = dc_resolved_family(addrs, fam);
	char ip[DC_ENDPOINT_STRLEN], other[DC_ENDPOINT_STRLEN];
	const char *value = fam == 4 ? n->ipv4 : n->ipv6;
	if (o->family && o->family != fam) {
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "not checked (-%d)", o->family);
		return;
	}
	switch (dc_node_addr_mode(value, fam)) {
	case DC_ADDR_DISABLED:
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "turned off in the map (%s \"%s\")", dc_diag_fam_field(fam), value ? value : "");
		return;
	case DC_ADDR_DNS: {
		if (a->origin == DC_ORIGIN_DNS)
			dc_diag_evidence(c, "DNS %s %s: %s", dc_diag_fam_record(fam), n->host_name, dc_ip_format(&a->addr, ip, sizeof(ip)));
		else
			dc_diag_evidence(c, "DNS %s %s: %s", dc_diag_fam_record(fam), n->host_name, a->note[0] ? a->note : "no answer");
		if (a->origin == DC_ORIGIN_DNS) {
			dc_diag_set(c, DC_CHECK_OK, NULL);
			SUMMARY(c, "%s resolves to %s (the map leaves %s empty: clients ask DNS)", n->host_name,
				dc_ip_format(&a->addr, ip, sizeof(ip)), dc_diag_fam_field(fam));
			return;
		}
		const struct dc_resolved *b = dc_resolved_family(addrs, fam == 4 ? 6 : 4);
		if (b->origin == DC_ORIGIN_DNS || b->origin == DC_ORIGIN_MAP || b->origin == DC_ORIGIN_LITERAL) {
			dc_diag_set(c, DC_CHECK_OK, NULL);
			SUMMARY(c, "no %s record for %s: clients use IPv%d only", dc_diag_fam_record(fam), n->host_name,
				fam == 4 ? 6 : 4);
			return;
		}
		dc_diag_set(c, DC_CHECK_FAIL, "dns-no-address");
		SUMMARY(c, "%s: %s", n->host_name, a->note);
		CAUSE(c, "%s has no %s record and the map gives no %s: clients cannot reach this node", n->host_name,
		      dc_diag_fam_record(fam), dc_diag_fam_field(fam));
		FIX(c, "create the DNS record for %s, or write the node's address in %s in the map", n->host_name, dc_diag_fam_field(fam));
		return;
	}
	case DC_ADDR_STATIC:
		break;
	}
	dc_ip_format(&a->addr, ip, sizeof(ip));
	dc_diag_evidence(c, "the map's %s: %s", dc_diag_fam_field(fam), ip);
	if (dns) {
		const struct dc_resolved *looked = dc_resolved_family(dns, fam);
		if (looked->origin == DC_ORIGIN_DNS)
			dc_diag_evidence(c, "DNS %s %s: %s", dc_diag_fam_record(fam), n->host_name, dc_ip_format(&looked->addr, other, sizeof(other)));
		else
			dc_diag_evidence(c, "DNS %s %s: %s", dc_diag_fam_record(fam), n->host_name, looked->note[0] ? looked->note : "no record");
	}
	if (dc_diag_is_ip_literal(n->host_name)) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s (HostName is an address: no DNS involved)", ip);
		return;
	}
	if (!dns) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s; %s is a reserved test name, not looked up", ip, n->host_name);
		return;
	}
	const struct dc_resolved *d = dc_resolved_family(dns, fam);
	if (d->origin != DC_ORIGIN_DNS) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s; %s has no %s record (clients do not need one)", ip, n->host_name, dc_diag_fam_record(fam));
		return;
	}
	dc_ip_format(&d->addr, other, sizeof(other));
	if (dc_ip_equal(&a->addr, &d->addr)) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "the map gives %s, and %s's %s record agrees", ip, n->host_name, dc_diag_fam_record(fam));
		return;
	}
	dc_diag_set(c, DC_CHECK_WARN, "dns-mismatch");
	SUMMARY(c, "the map gives %s, DNS %s", ip, other);
	CAUSE(c, "the map says %s %s but %s resolves to %s: Tailscale clients use %s, anything that uses the name "
		 "(browsers, certificate renewal, other tools) reaches %s",
	      dc_diag_fam_field(fam), ip, n->host_name, other, ip, other);
	FIX(c, "point the %s record of %s at %s, or correct %s in the map", dc_diag_fam_record(fam), n->host_name, ip, dc_diag_fam_field(fam));
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

/* Answered, skipped or plain-only; a silent target only gets its summary here (see stun_failure). */
static void judge_stun(struct dc_diag_check *c, const struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	char mapped[DC_ENDPOINT_STRLEN], dst[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&t->addr.addr, dst, sizeof(dst));
	if (t->skipped) {
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "%s", t->skip_reason);
		return;
	}
	dc_diag_stun_probe_evidence(c, rep, t);
	if (t->answered == 0) {
		if (t->kind == DC_STUN_KIND_PLAIN_ONLY) {
			dc_diag_set(c, DC_CHECK_FAIL, "stun-only-plain");
			SUMMARY(c, "%s answers plain STUN only", dst);
			CAUSE(c, "the server at %s answers plain RFC 5389 requests but not Tailscale's: clients get no "
				 "STUN replies", dst);
			FIX(c, "run derper's own STUN server on this port (derper -stun -stun-port %u), not a generic one",
			    t->port);
			return;
		}
		dc_diag_set(c, DC_CHECK_FAIL, "stun-no-reply");
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
		dc_diag_set(c, inner && inner->severity == DC_SEV_ERROR ? DC_CHECK_FAIL : DC_CHECK_WARN,
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
		dc_diag_set(c, DC_CHECK_WARN, "stun-loss");
		CAUSE(c, "%u of %u requests went unanswered", t->sent - t->answered, t->sent);
		FIX(c, "look for UDP rate limits or loss on the way to %s", dst);
		return;
	}
	dc_diag_set(c, DC_CHECK_OK, NULL);
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

void dc_diag_check_stun(const struct dc_derpmap *map, struct dc_diag_report *r, const struct dc_diag_opts *o)
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
			struct dc_diag_check *c = dc_diag_node_check(dn, fam == 4 ? DC_DIAG_STUN4 : DC_DIAG_STUN6, DC_PATH_STUN);
			const struct dc_stun_target *t = NULL;
			for (size_t k = 0; k < rep.ntargets; k++)
				if (rep.targets[k].node == dn->node && rep.targets[k].family == fam)
					t = &rep.targets[k];
			if (!ran) {
				dc_diag_set(c, DC_CHECK_FAIL, "stun-send-failed");
				SUMMARY(c, "STUN could not start");
				CAUSE(c, "%s", err.what);
				FIX(c, "%s", err.hint[0] ? err.hint : "check this machine's UDP configuration");
				continue;
			}
			if (!t) {
				dc_diag_set(c, DC_CHECK_SKIP, NULL);
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
