/*
 * Judging a netcheck report (judge/netjudge.h): the home region and MappingVariesByDestIP
 * by Tailscale's rules, the NAT's RFC 4787 mapping behaviour, the verdict on UDP from
 * every node's evidence, and the findings with their hints. The measurements are
 * probe/netcheck.c's; nothing here sends a packet.
 */
#include "derpcheck/judge/netjudge.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/mapload.h"

/* ---- pure parts (unit-tested) -------------------------------------------------------- */

enum dc_optbool dc_netcheck_mapping_varies(const struct dc_endpoint *mapped, size_t n)
{
	if (n < 2)
		return DC_OPT_UNSET;
	for (size_t i = 1; i < n; i++)
		if (!dc_endpoint_equal(&mapped[0], &mapped[i]))
			return DC_OPT_TRUE;
	return DC_OPT_FALSE;
}

static double region_score(const struct dc_derpmap *map, int64_t id)
{
	for (size_t i = 0; map && i < map->score_count; i++)
		if (map->scores[i].region_id == id && map->scores[i].score > 0)
			return map->scores[i].score;
	return 1.0;
}

int64_t dc_netcheck_pick_home(const struct dc_netreport *r, const struct dc_derpmap *map, int64_t previous_home)
{
	int64_t best = 0;
	double best_v = 0;
	for (size_t i = 0; i < r->latency.count; i++) {
		double v = (double)r->latency.items[i].ns * region_score(map, r->latency.items[i].region_id);
		int64_t id = r->latency.items[i].region_id;
		if (!best || v < best_v || (v == best_v && id < best)) {
			best = id;
			best_v = v;
		}
	}
	if (!best || !previous_home || previous_home == best)
		return best;
	int64_t prev_ns;
	if (!dc_latency_map_get(&r->latency, previous_home, &prev_ns))
		return best;
	double prev_v = (double)prev_ns * region_score(map, previous_home);
	/* Tailscale keeps the old home unless the new one is 10 ms and a third faster. */
	if (prev_v - best_v < 10e6 || best_v > prev_v * 2.0 / 3.0)
		return previous_home;
	return best;
}

struct server_view {
	const struct dc_endpoint *servers, *mapped;
	size_t index;
};

/* By server IP, then the order given. */
static int compare_by_ip(const void *pa, const void *pb)
{
	const struct server_view *a = pa, *b = pb;
	int c = dc_endpoint_compare(&a->servers[a->index], &b->servers[b->index], false);
	return c ? c : (a->index < b->index ? -1 : a->index > b->index);
}

/* By mapping, then server port. */
static int compare_by_mapping(const void *pa, const void *pb)
{
	const struct server_view *a = pa, *b = pb;
	int c = dc_endpoint_compare(&a->mapped[a->index], &b->mapped[b->index], true);
	if (c)
		return c;
	uint16_t pa_ = a->servers[a->index].port, pb_ = b->servers[b->index].port;
	return pa_ < pb_ ? -1 : pa_ > pb_;
}

/*
 * Within one server IP (g[0..n), in the order given): a pair on two ports with different
 * mappings. The first server is paired with the first that differs in both; if it has
 * none, any pair that exists is the first server of another mapping and the first server
 * on another port than that one.
 */
static bool port_pair(const struct server_view *g, size_t n, const struct dc_endpoint *s, const struct dc_endpoint *m,
		      size_t *pi, size_t *pj)
{
	size_t i0 = g[0].index;
	for (size_t k = 1; k < n; k++)
		if (s[g[k].index].port != s[i0].port && !dc_endpoint_equal(&m[g[k].index], &m[i0])) {
			*pi = i0;
			*pj = g[k].index;
			return true;
		}
	size_t k1 = 1;
	while (k1 < n && dc_endpoint_equal(&m[g[k1].index], &m[i0]))
		k1++;
	for (size_t k = 1; k1 < n && k < n; k++)
		if (s[g[k].index].port != s[g[k1].index].port && !dc_endpoint_equal(&m[g[k].index], &m[g[k1].index])) {
			*pi = g[k < k1 ? k : k1].index;
			*pj = g[k < k1 ? k1 : k].index;
			return true;
		}
	return false;
}

enum dc_nat_mapping dc_netcheck_classify(const struct dc_endpoint *servers, const struct dc_endpoint *mapped, size_t n,
					 const struct dc_endpoint *local, char *detail, size_t dn)
{
	char a[DC_ENDPOINT_STRLEN], b[DC_ENDPOINT_STRLEN], c[DC_ENDPOINT_STRLEN], d[DC_ENDPOINT_STRLEN];
	/* Servers grouped by IP (sorted, so thousands of them stay cheap). */
	struct server_view *v = dc_xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct server_view){servers, mapped, i};
	qsort(v, n, sizeof(*v), compare_by_ip);
	size_t distinct_ip = 0;
	bool same_all = true;
	for (size_t i = 1; i < n; i++)
		same_all = same_all && dc_endpoint_equal(&mapped[0], &mapped[i]);
	/* Two ports of one server address: tells address from address-and-port dependence. */
	bool port_varies = false, port_same = false;
	size_t pi = 0, pj = 0;
	for (size_t g = 0; g < n;) {
		size_t e = g + 1;
		while (e < n && dc_ip_equal(&servers[v[g].index], &servers[v[e].index]))
			e++;
		distinct_ip++;
		size_t xi, xj;
		if (port_pair(v + g, e - g, servers, mapped, &xi, &xj) && (!port_varies || xi < pi || (xi == pi && xj < pj))) {
			port_varies = true;
			pi = xi;
			pj = xj;
		}
		/* One mapping seen on two ports of this address? */
		qsort(v + g, e - g, sizeof(*v), compare_by_mapping);
		for (size_t k = g + 1; k < e && !port_same; k++)
			port_same = dc_endpoint_equal(&mapped[v[k].index], &mapped[v[k - 1].index]) &&
				    servers[v[k].index].port != servers[v[k - 1].index].port;
		g = e;
	}
	free(v);
	if (port_varies) {
		snprintf(detail, dn, "%s saw %s but %s saw %s: the mapping changes with the destination port",
			 dc_endpoint_format(&servers[pi], a, sizeof(a)), dc_endpoint_format(&mapped[pi], b, sizeof(b)),
			 dc_endpoint_format(&servers[pj], c, sizeof(c)), dc_endpoint_format(&mapped[pj], d, sizeof(d)));
		return DC_NAT_ADDRESS_PORT_DEPENDENT;
	}
	if (n == 0 || distinct_ip < 2) {
		snprintf(detail, dn, "%s: two different server addresses are needed to tell; add one with --extra-stun HOST:PORT",
			 n == 0 ? "no IPv4 server answered" : "only one server address answered");
		return DC_NAT_UNKNOWN;
	}
	if (same_all) {
		if (local && local->family && dc_endpoint_equal(local, &mapped[0])) {
			snprintf(detail, dn, "%zu server addresses saw this machine's own address %s: no NAT on the way",
				 distinct_ip, dc_endpoint_format(&mapped[0], a, sizeof(a)));
			return DC_NAT_NONE;
		}
		snprintf(detail, dn, "%zu server addresses saw the same mapping %s", distinct_ip,
			 dc_endpoint_format(&mapped[0], a, sizeof(a)));
		return DC_NAT_ENDPOINT_INDEPENDENT;
	}
	size_t k = 1;
	while (k < n && dc_endpoint_equal(&mapped[0], &mapped[k]))
		k++;
	snprintf(detail, dn, "%s saw %s but %s saw %s", dc_endpoint_format(&servers[0], a, sizeof(a)),
		 dc_endpoint_format(&mapped[0], b, sizeof(b)), dc_endpoint_format(&servers[k], c, sizeof(c)),
		 dc_endpoint_format(&mapped[k], d, sizeof(d)));
	return port_same ? DC_NAT_ADDRESS_DEPENDENT : DC_NAT_DEPENDENT;
}

const char *dc_nat_mapping_key(enum dc_nat_mapping m)
{
	switch (m) {
	case DC_NAT_NONE: return "no-nat";
	case DC_NAT_ENDPOINT_INDEPENDENT: return "endpoint-independent";
	case DC_NAT_ADDRESS_DEPENDENT: return "address-dependent";
	case DC_NAT_ADDRESS_PORT_DEPENDENT: return "address-and-port-dependent";
	case DC_NAT_DEPENDENT: return "destination-dependent";
	case DC_NAT_UNKNOWN: break;
	}
	return "unknown";
}

const char *dc_nat_mapping_text(enum dc_nat_mapping m)
{
	switch (m) {
	case DC_NAT_NONE: return "no NAT (the servers see this machine's own address)";
	case DC_NAT_ENDPOINT_INDEPENDENT:
		return "endpoint-independent (RFC 4787 \"easy NAT\"): peers can reach this machine directly";
	case DC_NAT_ADDRESS_DEPENDENT:
		return "address-dependent (RFC 4787 \"hard NAT\"): peers behind this NAT can only reach each other through DERP "
		       "unless the other side has an easy NAT or port mapping";
	case DC_NAT_ADDRESS_PORT_DEPENDENT:
		return "address-and-port-dependent (RFC 4787 \"hard NAT\"): peers behind this NAT can only reach each other "
		       "through DERP unless the other side has an easy NAT or port mapping";
	case DC_NAT_DEPENDENT:
		return "address- or address-and-port-dependent (RFC 4787 \"hard NAT\"): peers behind this NAT can only reach "
		       "each other through DERP unless the other side has an easy NAT or port mapping";
	case DC_NAT_UNKNOWN: break;
	}
	return "cannot be decided";
}

static void evidence_of(const struct dc_netcheck_node *n, struct dc_udp_evidence *e)
{
	*e = (struct dc_udp_evidence){
		.name = n->name, .addr = n->addr.addr, .status = n->status, .sent = n->sent,
		.waited_ns = 0, .port_closed = n->port_closed, .icmp_from = n->icmp_from,
		.detail = n->plain_only ? n->why : n->detail, .other_reply = n->plain_only || n->status == DC_PROBE_ERROR_RESPONSE,
		.guess = n->guess && n->guess->ran ? n->guess : NULL,
	};
}

/* The nodes' failure words from the evidence, then derpcheck's verdict on UDP. */
void dc_netcheck_judge_udp(struct dc_netcheck_result *res, uint64_t phase_ns)
{
	struct dc_netcheck_extra *x = &res->extra;
	struct dc_udp_evidence *ev = dc_xcalloc(x->node_count + 1, sizeof(*ev));
	size_t n = 0;
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *nd = &x->nodes[i];
		if (nd->skipped || nd->stopped_early || !nd->node)
			continue;
		evidence_of(nd, &ev[n]);
		ev[n].waited_ns = phase_ns;
		if (nd->status == DC_PROBE_TIMEOUT || nd->status == DC_PROBE_UNREACHABLE || nd->status == DC_PROBE_SEND_FAILED)
			if (!nd->plain_only)
				dc_udp_failure_text(&ev[n], res->report.udp, nd->why, sizeof(nd->why));
		n++;
	}
	struct dc_udp_summary sum;
	dc_udp_summarize(ev, n, &sum);
	x->udp_verdict = sum.verdict;
	dc_udp_verdict_text(&sum, x->udp_detail, sizeof(x->udp_detail));
	dc_udp_verdict_hint(&sum, x->udp_hint, sizeof(x->udp_hint));
	memcpy(x->stun_ports, sum.port_list, sizeof(x->stun_ports));
	x->stun_port_count = sum.nport_list;
	free(ev);
}

/* ---- findings ------------------------------------------------------------------------ */

static const struct dc_srcpos nopos;

static const char *validate_hint(const struct dc_netcheck_opts *o, char *out, size_t n)
{
	dc_map_validate_hint(o->map_spec, o->map_format, out, n);
	return out;
}

/* The map as the commands in hints name it: a shell-quoted path, URL or embedded:, and its format. */
static const char *map_arg(const struct dc_netcheck_opts *o, char *out, size_t n)
{
	out[0] = '\0';
	if (o->map_spec)
		dc_shell_append(out, n, o->map_spec);
	if (o->map_spec && o->map_format) {
		dc_shell_append(out, n, "--map-format");
		dc_shell_append(out, n, o->map_format);
	}
	return out;
}

/*
 * A region's DERP port (--check-derp, or the HTTPS fallback): a certificate clients
 * reject, or accept only with checks off, is an error (judge/trust.h); another failure
 * while STUN answers is a warning, as before.
 */
static void derp_port_finding(const struct dc_netcheck_opts *o, struct dc_netcheck_result *res, const struct dc_netcheck_https *h)
{
	struct dc_netcheck_extra *x = &res->extra;
	const char *node = h->node->name ? h->node->name : "";
	struct dc_finding *fd;
	if (h->trust_judged && h->trust.state != DC_TRUST_VERIFIED && h->trust.state != DC_TRUST_UNKNOWN) {
		fd = dc_findings_add(&x->findings, DC_SEV_ERROR,
				     h->trust.state == DC_TRUST_REJECTED ? "netcheck-derp-certificate" : "netcheck-derp-insecure",
				     h->node->path ? h->node->path : "", nopos, "region %lld node %s: certificate %s: %s: %s",
				     (long long)h->region_id, node, dc_trust_name(h->trust.state), h->trust.summary, h->trust.cause);
		dc_finding_hint(fd, "%s", h->trust.fix);
		return;
	}
	if (x->check_derp_ran && h->derp_ok && o->transport == DC_DERP_TRANSPORT_AUTO && h->transport &&
	    strcmp(h->transport, "websocket") == 0) {
		fd = dc_findings_add(&x->findings, DC_SEV_WARNING, "netcheck-derp-websocket-only", h->node->path ? h->node->path : "",
				     nopos, "region %lld node %s relays only over WebSocket: the DERP upgrade tailscaled uses fails there",
				     (long long)h->region_id, node);
		dc_finding_hint(fd, "a proxy in front of derper passes only WebSocket upgrades: diagnose this region with the same "
				    "map for what it does and the lines to change");
		return;
	}
	if (x->check_derp_ran && h->ok && h->derp_tried && !h->derp_ok) {
		fd = dc_findings_add(&x->findings, DC_SEV_WARNING, "netcheck-derp-handshake", h->node->path ? h->node->path : "",
				     nopos, "region %lld node %s: TLS and /derp/latency-check work, but the DERP handshake over %s fails: %s",
				     (long long)h->region_id, node, dc_derp_transport_name(o->transport), h->derp_error);
		dc_finding_hint(fd, "a proxy in front of derper that refuses the upgrade is the usual cause: diagnose this region "
				    "with the same map for what it does and the lines to change");
		return;
	}
	if (!x->check_derp_ran || h->ok || !dc_latency_map_get(&res->report.latency, h->region_id, &(int64_t){0}))
		return;
	fd = dc_findings_add(&x->findings, DC_SEV_WARNING, "netcheck-derp-port", "", nopos,
			     "region %lld answers STUN but its DERP port does not work (%s): %s", (long long)h->region_id, node,
			     h->error);
	/* ping names every DERP failure, TCP to handshake, and the cert command for a certificate. */
	if (o->map_spec) {
		char ca[PATH_MAX + 16] = "";
		if (o->ca_file) {
			dc_shell_append(ca, sizeof(ca), "--ca-file");
			dc_shell_append(ca, sizeof(ca), o->ca_file);
		}
		dc_finding_hint(fd, "`derpcheck ping --derp-map%s%s %lld` says where the connection fails and what to do",
				map_arg(o, (char[600]){0}, 600), ca, (long long)h->region_id);
	} else {
		dc_finding_hint(fd, "derpcheck ping --derp-map FILE %lld says where the connection fails and what to do",
				(long long)h->region_id);
	}
}

void dc_netcheck_judge(const struct dc_netcheck_opts *o, struct dc_netcheck_result *res)
{
	struct dc_netreport *rep = &res->report;
	struct dc_netcheck_extra *x = &res->extra;
	struct dc_findings *f = &x->findings;
	struct dc_finding *fd;
	if (!rep->udp) {
		/* Tailscale only says "UDP: false"; the evidence says which of these it is. */
		static const char *const codes[] = {
			[DC_UDP_NOT_PROBED] = "netcheck-no-stun", [DC_UDP_WORKS] = "netcheck-udp-loss",
			[DC_UDP_STUN_ELSEWHERE] = "netcheck-stun-wrong-port", [DC_UDP_STUN_CLOSED] = "netcheck-stun-closed",
			[DC_UDP_REJECTED] = "netcheck-udp-rejected", [DC_UDP_SEND_FAILED] = "netcheck-udp-send-failed",
			[DC_UDP_BLOCKED] = "netcheck-udp-blocked",
		};
		fd = dc_findings_add(f, DC_SEV_ERROR, codes[x->udp_verdict], "", nopos,
				     "%s; Tailscale reports UDP: false, so peers will only talk through DERP relays", x->udp_detail);
		if (x->udp_verdict == DC_UDP_WORKS) /* our retransmitted node probes got through, its single ones did not */
			dc_finding_hint(fd, "Tailscale's single-shot probes were lost while derpcheck's retransmitted ones got "
					    "answers: UDP is lossy or rate-limited here; run netcheck again to see whether it lasts");
		else if (x->udp_hint[0])
			dc_finding_hint(fd, "%s", x->udp_hint);
		if (x->icmp_ran && x->icmp.socket == DC_ICMP_SOCKET_NONE && x->icmp.skipped[0]) {
			fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-icmp-skipped", "", nopos,
					     "ICMP latency was not measured: %s", x->icmp.skipped);
			dc_finding_hint(fd, "Tailscale running as root measures it and may pick another home region; run as "
					    "root, or let this user's group use ICMP sockets (sysctl net.ipv4.ping_group_range)");
		}
	}
	if (!rep->latency.count) {
		fd = dc_findings_add(f, DC_SEV_ERROR, "netcheck-no-region", "", nopos,
				     "no DERP region could be reached (neither STUN nor HTTPS): Tailscale cannot pick a home "
				     "region");
		dc_finding_hint(fd, "check the DERP map (%s) and that the nodes are reachable from here",
				validate_hint(o, (char[700]){0}, 700));
	}
	if (rep->mapping_varies_by_dest_ip == DC_OPT_TRUE || x->nat == DC_NAT_ADDRESS_DEPENDENT ||
	    x->nat == DC_NAT_ADDRESS_PORT_DEPENDENT || x->nat == DC_NAT_DEPENDENT) {
		fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-hard-nat", "", nopos,
				     "this machine's NAT maps per destination (hard NAT): %s", x->nat_detail);
		dc_finding_hint(fd, "enable UPnP, NAT-PMP or PCP on the router, or give the machine a static port forward "
				    "(UDP 41641) so peers can connect directly");
	}
	if (rep->global_v4[0]) {
		struct dc_endpoint g;
		char *colon = strrchr(rep->global_v4, ':');
		char ip[64];
		snprintf(ip, sizeof(ip), "%.*s", colon ? (int)(colon - rep->global_v4) : 0, rep->global_v4);
		if (dc_ip_parse(ip, 4, &g) == 0) {
			enum dc_ip_class c = dc_ip_classify(&g);
			if (c == DC_IP_PRIVATE || c == DC_IP_CGNAT || c == DC_IP_DOCKER_BRIDGE) {
				fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-mapped-inner", "", nopos,
						     "the STUN servers see this machine as %s (%s): a server on the same "
						     "inner network, or a further NAT (CGNAT, Docker) behind which peers "
						     "cannot reach this address",
						     rep->global_v4, dc_ip_class_name(c));
				dc_finding_hint(fd, "run the STUN server on the public side, or expect relayed paths");
			}
		}
	}
	/* Regions that answered no STUN while others did, and nodes that failed in regions that answered. */
	size_t first = 0; /* the region's first node entry (dc_netcheck_extra.nodes: measured regions in map order) */
	for (size_t ri = 0; rep->udp && rep->latency.count && ri < o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &o->map->regions[ri];
		if (!dc_netcheck_region_measured(rg))
			continue;
		size_t region_node = first;
		first += 2 * rg->node_count;
		if (dc_latency_map_get(&rep->latency, rg->id, &(int64_t){0}))
			continue;
		/* Evidence only: every node of the region asked and none answered, none cut short. */
		bool early = false, probed = false, answered = false;
		for (size_t i = region_node; i < region_node + 2 * rg->node_count; i++)
			if (!x->nodes[i].skipped) {
				probed = true;
				early = early || x->nodes[i].stopped_early;
				answered = answered || x->nodes[i].status == DC_PROBE_OK;
			}
		if (!probed || early || answered)
			continue;
		fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-region-unreachable", rg->path ? rg->path : "", nopos,
				     "region %lld (%s) did not answer while others did", (long long)rg->id,
				     rg->code ? rg->code : "");
		dc_finding_hint(fd, "see the node lines for why; %s%s --region %lld%s probes it alone",
				o->map_spec ? "`derpcheck stun --derp-map" : "derpcheck stun --derp-map FILE",
				o->map_spec ? map_arg(o, (char[600]){0}, 600) : "", (long long)rg->id,
				o->map_spec ? "`" : "");
	}
	for (size_t i = 0; rep->udp && i < x->node_count; i++) {
		const struct dc_netcheck_node *n = &x->nodes[i];
		if (n->skipped || n->stopped_early || n->status == DC_PROBE_OK)
			continue;
		bool elsewhere = n->guess && n->guess->ran && n->guess->answered >= 0 && !n->plain_only;
		bool closed = !elsewhere && !n->plain_only && n->port_closed &&
			      (!n->icmp_from.family || dc_ip_equal(&n->icmp_from, &n->addr.addr));
		bool silent = !elsewhere && !n->plain_only && n->status == DC_PROBE_TIMEOUT;
		const char *code = elsewhere ? "netcheck-stun-wrong-port"
				   : closed  ? "netcheck-stun-closed"
				   : silent  ? "netcheck-node-silent"
					     : "netcheck-node-failed";
		fd = dc_findings_add(f, DC_SEV_WARNING, code, n->node && n->node->path ? n->node->path : "", nopos,
				     "%s (IPv%d, %s): %s", n->name, n->family,
				     dc_endpoint_format(&n->addr.addr, (char[DC_ENDPOINT_STRLEN]){0}, DC_ENDPOINT_STRLEN),
				     n->why);
		if (n->plain_only)
			dc_finding_hint(fd, "Tailscale clients only get answers from derper's STUN server (or one that "
					    "answers any binding request): run derper's STUN on this port");
		else {
			struct dc_udp_evidence e;
			char fix[400];
			evidence_of(n, &e);
			dc_udp_failure_fix(&e, fix, sizeof(fix));
			dc_finding_hint(fd, "%s", fix);
		}
	}
	for (size_t i = 0; i < x->https_count; i++)
		derp_port_finding(o, res, &x->https[i]);
	if (rep->captive_portal == DC_OPT_TRUE) {
		fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-captive-portal", "", nopos,
				     "a captive portal answers in the DERP servers' place: %s",
				     x->captive.count ? x->captive.probes[0].reason : "");
		dc_finding_hint(fd, "log in to the network's portal in a browser, then run netcheck again");
	}
}
