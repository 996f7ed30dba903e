/*
 * derpcheck diagnose: one region end to end (see include/derpcheck/judge/diagnose.h). The steps
 * run in the order a client depends on them; a step that cannot run because an earlier
 * one failed is recorded as skipped with the reason, never left out silently.
 * This file holds the run and the checklist's helpers; the steps are diagstun.c (1-3),
 * diagtls.c (4-6) and diagrelay.c (7), the -v evidence diagevidence.c, the verdicts
 * diagverdict.c (diagnose_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose_int.h"

struct dc_diag_check *dc_diag_add_check(struct dc_diag_check *arr, size_t *count, const char *id, enum dc_diag_path path)
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

struct dc_diag_check *dc_diag_node_check(struct dc_diag_node *n, const char *id, enum dc_diag_path path)
{
	static struct dc_diag_check overflow; /* never reached: a node has fewer checks than the bound */
	struct dc_diag_check *c = dc_diag_add_check(n->checks, &n->count, id, path);
	return c ? c : &overflow;
}

void dc_diag_set(struct dc_diag_check *c, enum dc_check_status st, const char *code) { c->status = st, c->code = code; }

/* Hints written for `derpcheck cert` span lines; a checklist line is one line. */
void dc_diag_one_line(char *s, size_t n)
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

bool dc_diag_is_ip_literal(const char *host)
{
	struct dc_endpoint e;
	return dc_ip_parse(host, 0, &e) == 0;
}

const char *dc_diag_fam_field(int fam) { return fam == 4 ? "IPv4" : "IPv6"; }
const char *dc_diag_fam_record(int fam) { return fam == 4 ? "A" : "AAAA"; }

/* ---- 4. TCP, TLS and the certificate ----------------------------------------------------- */

const struct dc_finding *dc_diag_first_of(const struct dc_findings *f, enum dc_severity sev)
{
	for (size_t i = 0; i < f->count; i++)
		if (f->items[i].severity == sev)
			return &f->items[i];
	return NULL;
}

/* ---- the run --------------------------------------------------------------------------------- */

/*
 * Step 2: the addresses clients get for each node (at DERPPort), and DNS answers for the
 * HostNames the map also gives an address for, to compare the two (dc_diag_check_dns).
 */
static void resolve_nodes(struct dc_diag_report *r, const struct dc_diag_opts *o, struct dc_resolve_req *addrs)
{
	struct dc_resolve_req *dns = dc_xcalloc(r->node_count + 1, sizeof(*dns));
	bool *want_dns = dc_xcalloc(r->node_count + 1, sizeof(*want_dns));
	size_t ndns = 0;
	size_t *dns_of = dc_xcalloc(r->node_count + 1, sizeof(*dns_of));
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_derp_node *n = r->nodes[i].node;
		dc_resolve_node(&addrs[i], n, (uint16_t)dc_node_derp_port(n), o->family);
		bool statik = dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_STATIC || dc_node_addr_mode(n->ipv6, 6) == DC_ADDR_STATIC;
		if (statik && n->host_name && n->host_name[0] && !dc_diag_is_ip_literal(n->host_name) && !reserved_name(n->host_name)) {
			want_dns[i] = true;
			dns_of[i] = ndns;
			dc_resolve_host(&dns[ndns++], n->host_name, (uint16_t)dc_node_derp_port(n), o->family);
		}
	}
	uint64_t deadline = dc_now_ns() + (uint64_t)o->timeout_ms * 1000000u;
	dc_resolve_run(addrs, r->node_count, deadline);
	dc_resolve_run(dns, ndns, deadline);
	for (size_t i = 0; i < r->node_count; i++)
		for (int fam = 4; fam <= 6; fam += 2)
			dc_diag_check_dns(&r->nodes[i], fam, &addrs[i], want_dns[i] ? &dns[dns_of[i]] : NULL, o);
	free(dns);
	free(want_dns);
	free(dns_of);
}

/*
 * Steps 4-7 for one node: TCP, TLS, the certificate, HTTP, what is in front of derper, the
 * DERP handshake and packets relayed through it. Whether it relays (for the mesh), and in
 * *insecure whether its connections needed certificate checks off.
 */
static bool check_node_derp(const struct dc_derp_region *region, struct dc_diag_node *dn, const struct dc_resolve_req *addrs,
			    const struct dc_diag_region_ctx *ctx, const struct dc_diag_opts *o, bool *insecure)
{
	if (dn->node->stun_only) {
		struct dc_diag_check *c = dc_diag_node_check(dn, DC_DIAG_HANDSHAKE, DC_PATH_DERP);
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "STUNOnly node: clients never connect to it for DERP");
		return false;
	}
	struct tls_outcome tls = {0};
	dc_diag_check_tls(dn, addrs, ctx, o, &tls);
	/* The HTTP requests run while the proxy and handshake checks use their own connections. */
	struct dc_diag_http_run *http = dc_xmalloc(sizeof(*http));
	dc_diag_http_start(dn, &tls, o, http);
	struct dc_proxy_evidence ev;
	bool have_ev = false;
	dc_diag_check_proxy(dn, &tls, o, &ev, &have_ev);
	enum dc_proxy_kind kind = DC_PROXY_UNKNOWN;
	if (have_ev && !ev.metacert) {
		char who[96], why[96];
		kind = dc_proxy_identify(&ev, who, sizeof(who), why, sizeof(why));
	}
	bool admitted = false;
	dc_diag_check_handshake(dn, region, &tls, o, &admitted, insecure);
	dc_diag_http_finish(dn, http);
	free(http);
	struct dc_diag_check *c = dc_diag_node_check(dn, DC_DIAG_RELAY, DC_PATH_DERP);
	if (!admitted) {
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "no DERP connection");
		if (have_ev)
			dc_proxy_evidence_free(&ev);
		return false;
	}
	struct dc_ping_result pr;
	dc_diag_ping_between(region, dn->node->name, false, o, *insecure, &pr);
	dc_diag_judge_ping(c, &pr, o->ping_count, "A \u2192 B \u2192 A");
	dc_diag_judge_server_keys(c, dn, &pr, &ev, have_ev, kind);
	bool relays = c->status != DC_CHECK_FAIL;
	dc_ping_result_free(&pr);
	if (o->load_rate_pps && relays)
		dc_diag_check_load(dn, region, o, *insecure);
	if (have_ev)
		dc_proxy_evidence_free(&ev);
	return relays;
}

/* The mesh: every pair of nodes that relays on its own, A on one and B on the other. */
static void check_mesh(const struct dc_derp_region *region, struct dc_diag_report *r, const struct dc_diag_opts *o,
		       const bool *relays, const bool *insecure)
{
	for (size_t i = 0; i < r->node_count; i++)
		for (size_t j = i + 1; j < r->node_count; j++) {
			if (r->nodes[i].node->stun_only || r->nodes[j].node->stun_only)
				continue;
			struct dc_diag_check *c = dc_diag_add_check(r->region_checks, &r->region_count, DC_DIAG_MESH, DC_PATH_DERP);
			if (!c)
				return;
			c->pair[0] = r->nodes[i].node->name;
			c->pair[1] = r->nodes[j].node->name;
			char pair[200];
			snprintf(pair, sizeof(pair), "%s \u2194 %s", r->nodes[i].node->name, r->nodes[j].node->name);
			if (!relays[i] || !relays[j]) {
				dc_diag_set(c, DC_CHECK_SKIP, NULL);
				SUMMARY(c, "%s: not tested, %s does not relay", pair,
					!relays[i] ? r->nodes[i].node->name : r->nodes[j].node->name);
				continue;
			}
			struct dc_derp_region two = *region;
			struct dc_derp_node nodes[2] = {*r->nodes[i].node, *r->nodes[j].node};
			two.nodes = nodes;
			two.node_count = 2;
			struct dc_ping_result pr;
			dc_diag_ping_between(&two, nodes[0].name, true, o, insecure[i] || insecure[j], &pr);
			dc_diag_judge_ping(c, &pr, o->ping_count, pair);
			dc_ping_result_free(&pr);
		}
}

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
	dc_diag_check_map(map, &o, r);
	struct dc_resolve_req *addrs = dc_xcalloc(r->node_count + 1, sizeof(*addrs));
	resolve_nodes(r, &o, addrs);
	dc_diag_check_stun(map, r, &o);
	struct dc_diag_region_ctx ctx = {.r = r};
	bool *relays = dc_xcalloc(r->node_count + 1, sizeof(*relays));
	bool *insecure = dc_xcalloc(r->node_count + 1, sizeof(*insecure));
	for (size_t i = 0; i < r->node_count; i++)
		relays[i] = check_node_derp(region, &r->nodes[i], &addrs[i], &ctx, &o, &insecure[i]);
	check_mesh(region, r, &o, relays, insecure);
	if (o.mesh_key)
		dc_diag_check_mesh_presence(region, r, &o, insecure);
	dc_diag_verdicts(r);
	free(relays);
	free(insecure);
	free(addrs);
	r->elapsed_ns = dc_now_ns() - start;
	r->finished_unix = (int64_t)time(NULL);
}

void dc_diag_report_free(struct dc_diag_report *r)
{
	free(r->mesh_sees);
	r->mesh_sees = NULL;
	free(r->nodes);
	r->nodes = NULL;
	r->node_count = 0;
}
