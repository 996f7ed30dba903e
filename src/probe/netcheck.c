/*
 * netcheck: Tailscale's full report (protocols.md §3) over the STUN prober, plus the
 * per-node, NAT-behaviour, HTTPS, port-mapping and captive-portal details derpcheck adds.
 *
 * Probes of one run, all over the prober's one socket per family:
 *   plan  - Tailscale's: per region and family, try i = 0,1,2 to Nodes[i mod n] at
 *           i x 100 ms, one datagram each, grouped so the first reply cancels the rest.
 *           Only these fill the Tailscale report (latency, counters, GlobalV4/V6, ...).
 *   node  - derpcheck's: one Tailscale-style probe per node and family at 0 ms (three
 *           transmissions, 100 ms then 200 ms apart), so every node gets its own RTT and
 *           a dead node is named even when its region answered through another node.
 *   plain - one bare RFC 5389 request per node and family, to say "answers only plain
 *           STUN" about a node that ignores Tailscale's request. Never waited for.
 * The STUN phase ends at the first of: every plan set and node probe done (node probes
 * get at most max(2 x slowest latency, 50 ms) after the last set is done), the "enough
 * regions" timer (3 regions, 100 with measure_all; lasts 2 x the slowest latency seen),
 * or 3 s.
 */
#include "derpcheck/probe/netcheck.h"

#include "derpcheck/probe/derp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/net/tlsconn.h"
#include "derpcheck/net/udp.h"

enum pkind { P_PLAN, P_NODE, P_PLAIN };

struct pinfo {
	enum pkind kind;
	size_t set;  /* P_PLAN */
	size_t node; /* index into extra.nodes */
};

struct pset {
	const struct dc_derp_region *region;
	int family;
	bool done, ok;
	size_t first, count; /* prober ids */
};

struct run {
	const struct dc_netcheck_opts *o;
	struct dc_netcheck_result *res;
	struct dc_prober *p;
	struct pinfo *info;
	size_t ninfo, capinfo;
	struct pset *sets;
	size_t nsets;
	size_t sets_done;
	size_t nodes_open;
	bool all_sets_done;
	int64_t max_latency;
	unsigned regions_with_latency;
	bool timer_armed;
	uint64_t timer_at, grace_at;
	uint64_t t0;
	/* IPv4 mappings of the plan replies, in arrival order (MappingVariesByDestIP) */
	struct dc_endpoint *v4maps;
	size_t nv4maps;
	atomic_bool *captive_cancel;
};

static void logf_(const struct dc_netcheck_opts *o, const char *fmt, ...) DC_PRINTF(2, 3);
static void logf_(const struct dc_netcheck_opts *o, const char *fmt, ...)
{
	if (!o->log)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->log(o->log_user, line);
}

static void copy_text(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

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

enum dc_nat_mapping dc_netcheck_classify(const struct dc_endpoint *servers, const struct dc_endpoint *mapped, size_t n,
					 const struct dc_endpoint *local, char *detail, size_t dn)
{
	char a[DC_ENDPOINT_STRLEN], b[DC_ENDPOINT_STRLEN], c[DC_ENDPOINT_STRLEN], d[DC_ENDPOINT_STRLEN];
	size_t distinct_ip = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = dc_ip_equal(&servers[i], &servers[j]);
		distinct_ip += !seen;
	}
	bool same_all = true;
	for (size_t i = 1; i < n; i++)
		same_all = same_all && dc_endpoint_equal(&mapped[0], &mapped[i]);
	/* Two ports of one server address: tells address from address-and-port dependence. */
	bool port_varies = false, port_same = false;
	size_t pi = 0, pj = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (dc_ip_equal(&servers[i], &servers[j]) && servers[i].port != servers[j].port) {
				if (dc_endpoint_equal(&mapped[i], &mapped[j])) {
					port_same = true;
				} else if (!port_varies) {
					port_varies = true;
					pi = i;
					pj = j;
				}
			}
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

/* ---- probe plan ---------------------------------------------------------------------- */

static size_t add_probe(struct run *R, const struct dc_probe_spec *s, struct pinfo pi)
{
	size_t id = dc_prober_add(R->p, s);
	if (id >= R->capinfo) {
		R->capinfo = R->capinfo ? R->capinfo * 2 : 256;
		while (R->capinfo <= id)
			R->capinfo *= 2;
		R->info = dc_xrealloc(R->info, R->capinfo * sizeof(*R->info));
	}
	R->info[id] = pi;
	if (id >= R->ninfo)
		R->ninfo = id + 1;
	return id;
}

static bool region_measured(const struct dc_derp_region *rg)
{
	return !rg->removed && rg->node_count > 0 && !rg->no_measure_no_home;
}

static const struct dc_derp_node *first_derp_node(const struct dc_derp_region *rg);

/* Node entries: one per (node, family) of every measured region, then --extra-stun hosts. */
static void build_nodes(struct run *R, bool want[2])
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	size_t cap = 16;
	x->nodes = dc_xcalloc(cap, sizeof(*x->nodes));
	for (size_t ri = 0; o->map && ri < o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &o->map->regions[ri];
		if (!region_measured(rg))
			continue;
		for (size_t ni = 0; ni < rg->node_count; ni++)
			for (int f = 4; f <= 6; f += 2) {
				if (x->node_count == cap) {
					cap *= 2;
					x->nodes = dc_xrealloc(x->nodes, cap * sizeof(*x->nodes));
				}
				struct dc_netcheck_node *n = &x->nodes[x->node_count++];
				memset(n, 0, sizeof(*n));
				n->node = &rg->nodes[ni];
				n->name = rg->nodes[ni].name ? rg->nodes[ni].name : "";
				n->region_id = rg->id;
				n->family = f;
			}
	}
	for (size_t i = 0; i < o->extra_count; i++)
		for (int f = 4; f <= 6; f += 2) {
			if (x->node_count == cap) {
				cap *= 2;
				x->nodes = dc_xrealloc(x->nodes, cap * sizeof(*x->nodes));
			}
			struct dc_netcheck_node *n = &x->nodes[x->node_count++];
			memset(n, 0, sizeof(*n));
			n->name = o->extra_stun[i];
			n->family = f;
		}
	/* Resolve everything at once: map addresses at once, names by DNS with one deadline. */
	struct dc_resolve_req *reqs = dc_xcalloc(x->node_count + 1, sizeof(*reqs));
	char **hosts = dc_xcalloc(x->node_count + 1, sizeof(*hosts));
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		if (n->node) {
			int port = dc_node_stun_port(n->node);
			n->port = port < 0 ? 0 : (uint16_t)port;
			dc_resolve_node(&reqs[i], n->node, n->port, n->family);
			if (port < 0) {
				n->skipped = true;
				snprintf(n->skip_reason, sizeof(n->skip_reason), "STUNPort is %lld: STUN is off for this node",
					 (long long)n->node->stun_port);
			}
		} else {
			int port = -1;
			struct dc_error e;
			if (dc_hostport_split(n->name, &hosts[i], &port, &e) < 0) {
				n->skipped = true;
				copy_text(n->skip_reason, sizeof(n->skip_reason), e.what);
				hosts[i] = dc_xstrdup(n->name);
			}
			n->port = port > 0 ? (uint16_t)port : DC_STUN_DEFAULT_PORT;
			dc_resolve_host(&reqs[i], hosts[i], n->port, n->family);
		}
		if (!want[n->family == 6] && !n->skipped) {
			n->skipped = true;
			snprintf(n->skip_reason, sizeof(n->skip_reason), "IPv%d is not probed (%s)", n->family,
				 o->family ? "-4/-6" : o->bind_addr ? "--bind-address is of the other family"
								    : "no socket of this family");
		}
	}
	dc_resolve_run(reqs, x->node_count, dc_now_ns() + 2000000000u);
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		n->addr = *dc_resolved_family(&reqs[i], n->family);
		if (!n->skipped && n->addr.origin != DC_ORIGIN_LITERAL && n->addr.origin != DC_ORIGIN_MAP &&
		    n->addr.origin != DC_ORIGIN_TEST_IP && n->addr.origin != DC_ORIGIN_DNS) {
			n->skipped = true;
			copy_text(n->skip_reason, sizeof(n->skip_reason), n->addr.note[0] ? n->addr.note : "no address");
		}
		free(hosts[i]);
	}
	free(hosts);
	free(reqs);
}

static struct dc_netcheck_node *find_node(struct dc_netcheck_extra *x, const struct dc_derp_node *node, int family)
{
	for (size_t i = 0; i < x->node_count; i++)
		if (x->nodes[i].node == node && x->nodes[i].family == family)
			return &x->nodes[i];
	return NULL;
}

static void schedule(struct run *R)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	uint64_t phase = o->stun_phase_ns;
	size_t capsets = 16;
	R->sets = dc_xcalloc(capsets, sizeof(*R->sets));
	for (size_t ri = 0; o->map && ri < o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &o->map->regions[ri];
		if (!region_measured(rg))
			continue;
		for (int f = 4; f <= 6; f += 2) {
			bool any = false;
			for (size_t ni = 0; ni < rg->node_count && !any; ni++) {
				struct dc_netcheck_node *n = find_node(x, &rg->nodes[ni], f);
				any = n && !n->skipped;
			}
			if (!any)
				continue;
			if (R->nsets == capsets) {
				capsets *= 2;
				R->sets = dc_xrealloc(R->sets, capsets * sizeof(*R->sets));
			}
			size_t si = R->nsets++;
			struct pset *s = &R->sets[si];
			memset(s, 0, sizeof(*s));
			s->region = rg;
			s->family = f;
			s->first = dc_prober_count(R->p);
			for (unsigned i = 0; i < 3; i++) {
				struct dc_netcheck_node *n = find_node(x, &rg->nodes[i % rg->node_count], f);
				if (!n || n->skipped) /* Tailscale skips it at send time */
					continue;
				uint64_t start = R->t0 + (uint64_t)i * DC_NETCHECK_PROBE_SPACING_MS * 1000000u;
				struct dc_probe_spec sp = {
					.dst = n->addr.addr, .style = DC_STUN_STYLE_TAILSCALE, .start_ns = start, .tries = 1,
					.rto_ns = phase, .timeout_ns = R->t0 + phase - start, .group = (unsigned)si + 1,
				};
				add_probe(R, &sp, (struct pinfo){P_PLAN, si, (size_t)(n - x->nodes)});
				s->count++;
			}
			if (!s->count)
				s->done = true;
		}
	}
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		if (n->skipped)
			continue;
		struct dc_probe_spec sp = {
			.dst = n->addr.addr, .style = DC_STUN_STYLE_TAILSCALE, .start_ns = R->t0, .tries = 3,
			.rto_ns = 100000000u, .timeout_ns = phase,
		};
		n->probe_id = add_probe(R, &sp, (struct pinfo){P_NODE, 0, i});
		R->nodes_open++;
		sp.style = DC_STUN_STYLE_RFC5389;
		sp.tries = 1;
		n->plain_id = add_probe(R, &sp, (struct pinfo){P_PLAIN, 0, i});
		n->has_plain = true;
	}
	for (size_t si = 0; si < R->nsets; si++)
		if (R->sets[si].done)
			R->sets_done++;
}

/* Move every open probe's deadline to at (only ever earlier). */
static void cut_all(struct run *R, uint64_t at, bool nodes_only)
{
	size_t n = dc_prober_count(R->p);
	for (size_t id = 0; id < n; id++) {
		if (nodes_only && R->info[id].kind == P_PLAN)
			continue;
		const struct dc_probe_result *r = dc_prober_result(R->p, id);
		if (r->status != DC_PROBE_WAITING && r->status != DC_PROBE_INFLIGHT)
			continue;
		if (r->spec.start_ns + r->spec.timeout_ns > at)
			dc_prober_set_deadline(R->p, id, at);
	}
}

static void maybe_finish(struct run *R)
{
	if (R->sets_done == R->nsets && !R->all_sets_done) {
		R->all_sets_done = true;
		if (R->captive_cancel && !R->o->measure_all && R->regions_with_latency > 0)
			atomic_store(R->captive_cancel, true);
		uint64_t grace = (uint64_t)R->max_latency * 2;
		if (grace < 50000000u)
			grace = 50000000u;
		R->grace_at = dc_now_ns() + grace;
		cut_all(R, R->grace_at, true);
	}
	if (R->all_sets_done && R->nodes_open == 0)
		dc_prober_stop(R->p);
}

static void plan_reply(struct run *R, struct pset *s, const struct dc_probe_result *r)
{
	struct dc_netreport *rep = &R->res->report;
	int64_t lat = (int64_t)r->rtt_ns;
	char m[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&r->mapped, m, sizeof(m));
	bool had = dc_latency_map_get(&rep->latency, s->region->id, &(int64_t){0});
	dc_latency_map_add(&rep->latency, s->region->id, lat);
	rep->udp = true;
	if (s->family == 4) {
		dc_latency_map_add(&rep->v4_latency, s->region->id, lat);
		rep->ipv4 = true;
		if (r->has_mapped) {
			dc_mapping_counts_add(&rep->v4_counts, m);
			if (!rep->global_v4[0])
				copy_text(rep->global_v4, sizeof(rep->global_v4), m);
			R->v4maps = dc_xrealloc(R->v4maps, (R->nv4maps + 1) * sizeof(*R->v4maps));
			R->v4maps[R->nv4maps++] = r->mapped;
		}
	} else {
		dc_latency_map_add(&rep->v6_latency, s->region->id, lat);
		rep->ipv6 = true;
		if (r->has_mapped) {
			dc_mapping_counts_add(&rep->v6_counts, m);
			copy_text(rep->global_v6, sizeof(rep->global_v6), m);
		}
	}
	if (lat > R->max_latency)
		R->max_latency = lat;
	if (!had)
		R->regions_with_latency++;
	unsigned enough = R->o->measure_all ? DC_NETCHECK_ENOUGH_REGIONS_VERBOSE : DC_NETCHECK_ENOUGH_REGIONS;
	R->res->extra.enough_regions = enough;
	if (!R->timer_armed && R->regions_with_latency >= enough) {
		R->timer_armed = true;
		R->timer_at = dc_now_ns() + (uint64_t)R->max_latency * 2;
		logf_(R->o, "%u regions answered: waiting %.1fms (2 x the slowest) for the rest", enough,
		      ms((uint64_t)R->max_latency * 2));
		if (R->captive_cancel && !R->o->measure_all)
			atomic_store(R->captive_cancel, true);
		cut_all(R, R->timer_at, false);
	}
}

static void on_done(struct dc_prober *p, size_t id, const struct dc_probe_result *r, void *user)
{
	(void)p;
	struct run *R = user;
	struct dc_netcheck_extra *x = &R->res->extra;
	struct pinfo pi = R->info[id];
	struct dc_netcheck_node *n = &x->nodes[pi.node];
	char a[DC_ENDPOINT_STRLEN], m[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&r->spec.dst, a, sizeof(a));
	if (pi.kind == P_PLAN) {
		struct pset *s = &R->sets[pi.set];
		if (r->sent && r->status != DC_PROBE_SEND_FAILED) {
			if (s->family == 4)
				R->res->report.ipv4_can_send = true;
			else
				R->res->report.ipv6_can_send = true;
		}
		if (r->status == DC_PROBE_OK) {
			logf_(R->o, "region %lld (%s) IPv%d: %s answered in %.3fms, mapped %s", (long long)s->region->id,
			      s->region->code ? s->region->code : "", s->family, a, ms(r->rtt_ns),
			      r->has_mapped ? dc_endpoint_format(&r->mapped, m, sizeof(m)) : "nothing");
			if (!s->done) {
				s->done = s->ok = true;
				R->sets_done++;
				plan_reply(R, s, r);
			}
		} else if (r->status != DC_PROBE_CANCELLED || r->sent) {
			if (r->status != DC_PROBE_CANCELLED)
				logf_(R->o, "region %lld IPv%d: %s: %s", (long long)s->region->id, s->family, a,
				      r->detail[0] ? r->detail : dc_probe_status_name(r->status));
		}
		if (!s->done) {
			bool open = false;
			for (size_t k = s->first; k < s->first + s->count; k++) {
				const struct dc_probe_result *q = dc_prober_result(R->p, k);
				open = open || q->status == DC_PROBE_WAITING || q->status == DC_PROBE_INFLIGHT;
			}
			if (!open) {
				s->done = true;
				R->sets_done++;
			}
		}
	} else if (pi.kind == P_NODE) {
		R->nodes_open--;
		if (r->status == DC_PROBE_OK)
			logf_(R->o, "node %s IPv%d %s: %.3fms, mapped %s", n->name, n->family, a, ms(r->rtt_ns),
			      r->has_mapped ? dc_endpoint_format(&r->mapped, m, sizeof(m)) : "nothing");
		else
			logf_(R->o, "node %s IPv%d %s: %s", n->name, n->family, a,
			      r->detail[0] ? r->detail : dc_probe_status_name(r->status));
		/* The bare request had the same time to come back. */
		if (n->has_plain)
			dc_prober_cancel(R->p, n->plain_id);
	}
	maybe_finish(R);
}

/* ---- after the STUN phase ------------------------------------------------------------ */

static void conclude_nodes(struct run *R)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		if (n->skipped)
			continue;
		const struct dc_probe_result *r = dc_prober_result(R->p, n->probe_id);
		n->status = r->status;
		if (r->status == DC_PROBE_OK) {
			n->rtt_ns = r->rtt_ns;
			n->has_mapped = r->has_mapped;
			n->mapped = r->mapped;
			continue;
		}
		n->sent = r->sent;
		n->port_closed = r->status == DC_PROBE_UNREACHABLE && r->icmp_port_closed;
		n->icmp_from = r->status == DC_PROBE_UNREACHABLE ? r->icmp_from : (struct dc_endpoint){0};
		copy_text(n->detail, sizeof(n->detail), r->detail);
		uint64_t end = r->spec.start_ns + r->spec.timeout_ns;
		const struct dc_probe_result *pl = n->has_plain ? dc_prober_result(R->p, n->plain_id) : NULL;
		n->plain_only = pl && pl->status == DC_PROBE_OK;
		/*
		 * Cut short: its deadline was moved before the end of the STUN phase (enough
		 * regions, or the grace after the last set), or it was cancelled. A probe that
		 * waited the whole phase in silence is evidence, not "not measured".
		 */
		bool cut = r->spec.timeout_ns < R->o->stun_phase_ns &&
			   ((R->timer_armed && end <= R->timer_at) || (R->all_sets_done && end <= R->grace_at));
		if (!n->plain_only && ((r->status == DC_PROBE_TIMEOUT && cut) || r->status == DC_PROBE_CANCELLED)) {
			n->stopped_early = true;
			snprintf(n->why, sizeof(n->why), "not measured: no reply before the report ended (%.0fms in)%s",
				 ms(end > R->t0 ? end - R->t0 : 0),
				 R->timer_armed ? "; enough regions had answered, --verbose waits for all" : "");
			continue;
		}
		if (n->plain_only) {
			snprintf(n->why, sizeof(n->why),
				 "no reply to Tailscale's request on UDP port %u, but a bare RFC 5389 request was answered "
				 "(a STUN server that ignores Tailscale's requests)",
				 n->port);
			continue;
		}
		switch (r->status) {
		case DC_PROBE_TIMEOUT:
			snprintf(n->why, sizeof(n->why), "no reply on UDP port %u (%u requests in %.0fms)", n->port,
					 r->sent, ms(r->spec.timeout_ns));
			break;
		case DC_PROBE_UNREACHABLE:
			snprintf(n->why, sizeof(n->why), "ICMP unreachable: %.250s", r->detail);
			break;
		case DC_PROBE_ERROR_RESPONSE:
			snprintf(n->why, sizeof(n->why), "STUN error response %d %s", r->error_code, r->error_reason);
			break;
		default:
			copy_text(n->why, sizeof(n->why), r->detail[0] ? r->detail : dc_probe_status_name(r->status));
		}
	}
}

static void classify_nat(struct run *R)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	size_t n = 0;
	struct dc_endpoint *srv = dc_xcalloc(x->node_count + 1, sizeof(*srv));
	struct dc_endpoint *map = dc_xcalloc(x->node_count + 1, sizeof(*map));
	for (size_t i = 0; i < x->node_count; i++) {
		const struct dc_netcheck_node *nd = &x->nodes[i];
		if (nd->family != 4 || nd->status != DC_PROBE_OK || !nd->has_mapped || nd->skipped)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = dc_endpoint_equal(&srv[k], &nd->addr.addr);
		if (dup)
			continue;
		srv[n] = nd->addr.addr;
		map[n++] = nd->mapped;
	}
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = dc_ip_equal(&srv[i], &srv[j]);
		distinct += !seen;
	}
	x->nat_servers = distinct;
	struct dc_endpoint sock;
	if (n && dc_udp_local_toward(&srv[0], R->o->bind_addr, &x->local4) && dc_prober_local(R->p, 4, &sock) == 0) {
		x->local4.port = sock.port;
		x->has_local4 = true;
	}
	x->nat = dc_netcheck_classify(srv, map, n, x->has_local4 ? &x->local4 : NULL, x->nat_detail, sizeof(x->nat_detail));
	free(srv);
	free(map);
}

/* ---- where a failed STUNPort answers instead, and what UDP does (issue #12) ----------- */

/* A node whose own probe failed and is worth a guess: not cut short, not answering plain STUN. */
static bool node_failed(const struct dc_netcheck_node *n)
{
	return !n->skipped && !n->stopped_early && !n->plain_only && n->node &&
	       (n->status == DC_PROBE_TIMEOUT || n->status == DC_PROBE_UNREACHABLE);
}

struct guess_job {
	struct run *R;
	uint64_t timeout_ns;
	struct dc_stun_guess *all;
	size_t n;
};

static void *guess_thread(void *arg)
{
	struct guess_job *j = arg;
	struct dc_error err;
	if (dc_stun_guess_run(j->all, j->n, j->timeout_ns, &err) < 0)
		logf_(j->R->o, "trying other STUN ports failed: %s", err.what);
	return NULL;
}

/* Plan the other ports of every failed node (all run at once, beside HTTPS and ICMP). */
static void plan_guesses(struct run *R, struct guess_job *j, uint64_t deadline)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	memset(j, 0, sizeof(*j));
	j->R = R;
	for (size_t i = 0; i < x->node_count; i++)
		j->n += node_failed(&x->nodes[i]);
	if (!j->n)
		return;
	j->all = dc_xcalloc(j->n, sizeof(*j->all));
	x->guesses = j->all; /* the nodes point into it; freed with the result */
	x->guess_count = j->n;
	size_t k = 0;
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		if (!node_failed(n))
			continue;
		dc_stun_guess_plan(&j->all[k], R->o->map, n->node, &n->addr.addr, R->o->stun_port_guess,
				   R->o->stun_port_guess_count);
		n->guess = &j->all[k++];
	}
	/* A forwarded port answers like the others: a few RTTs, at least 500 ms, at most 1 s. */
	uint64_t t = (uint64_t)R->max_latency * 3;
	if (t < 500000000u)
		t = 500000000u;
	if (t > 1000000000u)
		t = 1000000000u;
	uint64_t now = dc_now_ns();
	if (now + t > deadline)
		t = deadline > now + 50000000u ? deadline - now : 50000000u;
	j->timeout_ns = t;
	logf_(R->o, "STUN failed on %zu node address%s: trying the likely forwarded ports for %.0fms", j->n,
	      j->n == 1 ? "" : "es", ms(t));
}

struct icmp_job {
	struct run *R;
	uint64_t deadline;
	struct dc_icmp_target *targets; /* the pinged ones, in order */
	size_t n;
};

static void *icmp_thread(void *arg)
{
	struct icmp_job *j = arg;
	dc_icmp_ping(j->targets, j->n, j->deadline, &j->R->o->icmp, &j->R->res->extra.icmp);
	return NULL;
}

/*
 * Tailscale's ICMP fallback (§3.4, netcheck.go measureAllICMPLatency): every region
 * without a latency that has a DERP node gets one echo to Nodes[0]'s IPv4 (the address
 * STUN would use; none when its STUNPort is negative), payload its Name, 1 s in all.
 */
static void plan_icmp(struct run *R, struct icmp_job *j, uint64_t deadline)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	memset(j, 0, sizeof(*j));
	j->R = R;
	x->icmp_targets = dc_xcalloc(o->map->region_count + 1, sizeof(*x->icmp_targets));
	for (size_t ri = 0; ri < o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &o->map->regions[ri];
		if (!region_measured(rg) || rg->avoid || !first_derp_node(rg) ||
		    dc_latency_map_get(&R->res->report.latency, rg->id, &(int64_t){0}))
			continue;
		struct dc_netcheck_icmp *it = &x->icmp_targets[x->icmp_count++];
		it->region_id = rg->id;
		it->node = &rg->nodes[0];
		it->target.payload = rg->nodes[0].name ? rg->nodes[0].name : "";
		const struct dc_netcheck_node *n4 = find_node(x, it->node, 4);
		if (o->family == 6)
			snprintf(it->target.error, sizeof(it->target.error), "not pinged: -6 (ICMP echo is IPv4 only, as in "
									      "Tailscale)");
		else if (dc_node_stun_port(it->node) < 0)
			snprintf(it->target.error, sizeof(it->target.error),
				 "not pinged: STUNPort is negative, so Tailscale has no address for it");
		else if (!n4 || n4->addr.addr.family != 4)
			snprintf(it->target.error, sizeof(it->target.error), "not pinged: no IPv4 address%s%.150s",
				 n4 && n4->addr.note[0] ? ": " : "", n4 ? n4->addr.note : "");
		else {
			it->pinged = true;
			it->target.addr = n4->addr.addr;
		}
	}
	for (size_t i = 0; i < x->icmp_count; i++)
		j->n += x->icmp_targets[i].pinged;
	x->icmp_ran = x->icmp_count > 0;
	if (!j->n)
		return;
	j->targets = dc_xcalloc(j->n, sizeof(*j->targets));
	size_t k = 0;
	for (size_t i = 0; i < x->icmp_count; i++)
		if (x->icmp_targets[i].pinged)
			j->targets[k++] = x->icmp_targets[i].target;
	uint64_t end = dc_now_ns() + (uint64_t)DC_ICMP_BUDGET_MS * 1000000u;
	j->deadline = end < deadline ? end : deadline;
	logf_(o, "UDP is blocked, trying ICMP");
}

/* ICMP latencies join the report as Tailscale's do: the minimum per region, IPv4 and ICMPv4 set. */
static void apply_icmp(struct run *R, struct icmp_job *j)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	size_t k = 0;
	for (size_t i = 0; i < x->icmp_count; i++) {
		struct dc_netcheck_icmp *it = &x->icmp_targets[i];
		if (!it->pinged)
			continue;
		it->target = j->targets[k++];
		it->target.payload = NULL; /* pointed into the map; not needed any more */
		logf_(R->o, "ICMP region %lld %s: %s", (long long)it->region_id, it->node->name ? it->node->name : "",
		      it->target.ok ? "answered" : it->target.error);
		if (!it->target.ok)
			continue;
		dc_latency_map_add(&R->res->report.latency, it->region_id, (int64_t)it->target.rtt_ns);
		R->res->report.ipv4 = true;
		R->res->report.icmpv4 = true;
	}
	free(j->targets);
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
static void udp_verdict(struct run *R, uint64_t phase_ns)
{
	struct dc_netcheck_extra *x = &R->res->extra;
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
				dc_udp_failure_text(&ev[n], R->res->report.udp, nd->why, sizeof(nd->why));
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

/* ---- hairpin (opt-in) ---------------------------------------------------------------- */

static int udp4_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool wait_datagram(int fd, uint64_t deadline, uint8_t *buf, size_t cap, ssize_t *got)
{
	for (;;) {
		uint64_t now = dc_now_ns();
		if (now >= deadline)
			return false;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int rc = poll(&pf, 1, (int)((deadline - now) / 1000000u) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return false;
		*got = recv(fd, buf, cap, 0);
		if (*got >= 0)
			return true;
	}
}

/*
 * What Tailscale did until v1.68: learn socket A's public mapping, send a STUN request to
 * it from socket B, and see whether the NAT loops it back to A within 100 ms.
 */
static void hairpin(struct run *R)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	const struct dc_netcheck_node *srv = NULL;
	for (size_t i = 0; i < x->node_count && !srv; i++)
		if (x->nodes[i].family == 4 && x->nodes[i].status == DC_PROBE_OK && !x->nodes[i].skipped)
			srv = &x->nodes[i];
	if (!srv) {
		snprintf(x->hairpin_detail, sizeof(x->hairpin_detail), "not tested: no IPv4 STUN server answered");
		return;
	}
	int a = udp4_socket(), b = udp4_socket();
	uint8_t txid[DC_STUN_TXID_LEN], buf[1500];
	ssize_t got = 0;
	struct sockaddr_storage ss;
	socklen_t sl = dc_endpoint_to_sockaddr(&srv->addr.addr, &ss);
	if (a < 0 || b < 0 || getrandom(txid, sizeof(txid), 0) != (ssize_t)sizeof(txid)) {
		snprintf(x->hairpin_detail, sizeof(x->hairpin_detail), "not tested: %s", strerror(errno));
		goto out;
	}
	size_t len = dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, buf, sizeof(buf));
	struct dc_endpoint mapped = {0};
	uint64_t deadline = dc_now_ns() + 500000000u;
	sendto(a, buf, len, 0, (struct sockaddr *)&ss, sl);
	while (!mapped.family && wait_datagram(a, deadline, buf, sizeof(buf), &got)) {
		struct dc_stun_msg msg;
		struct dc_error e;
		if (dc_stun_parse(buf, (size_t)got, &msg, &e) == 0 && !memcmp(msg.txid, txid, sizeof(txid)) &&
		    dc_stun_msg_mapped(&msg)) {
			mapped = *dc_stun_msg_mapped(&msg);
			dc_endpoint_unmap(&mapped);
		}
	}
	if (mapped.family != 4) {
		snprintf(x->hairpin_detail, sizeof(x->hairpin_detail), "not tested: the second socket got no mapping");
		goto out;
	}
	getrandom(txid, sizeof(txid), 0);
	len = dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, buf, sizeof(buf));
	sl = dc_endpoint_to_sockaddr(&mapped, &ss);
	sendto(b, buf, len, 0, (struct sockaddr *)&ss, sl);
	deadline = dc_now_ns() + 100000000u;
	bool back = false;
	while (!back && wait_datagram(a, deadline, buf, sizeof(buf), &got)) {
		struct dc_stun_msg msg;
		struct dc_error e;
		back = dc_stun_parse(buf, (size_t)got, &msg, &e) == 0 && !memcmp(msg.txid, txid, sizeof(txid));
	}
	char m[DC_ENDPOINT_STRLEN];
	x->hairpin = back ? DC_OPT_TRUE : DC_OPT_FALSE;
	snprintf(x->hairpin_detail, sizeof(x->hairpin_detail), "%s %s",
		 back ? "a packet to this machine's public address" : "no packet to this machine's public address",
		 back ? "came back through the NAT" : "came back within 100ms (the NAT does not hairpin)");
	(void)m;
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

/* ---- HTTPS latency and the DERP port check ------------------------------------------ */

struct https_job {
	const struct dc_netcheck_opts *o;
	struct dc_netcheck_https *h;
	uint64_t deadline;
};

static void https_one(const struct dc_netcheck_opts *o, struct dc_netcheck_https *h, uint64_t deadline)
{
	const struct dc_derp_node *node = h->node;
	int port = dc_node_derp_port(node);
	struct dc_resolve_req req;
	memset(&req, 0, sizeof(req));
	dc_resolve_node(&req, node, (uint16_t)port, o->family);
	dc_resolve_run(&req, 1, deadline);
	struct sockaddr_storage ss[2];
	struct dc_tls_addr addrs[2];
	size_t na = 0;
	for (int f = 0; f < 2; f++) {
		const struct dc_resolved *rs = &req.out[f];
		if (rs->origin == DC_ORIGIN_LITERAL || rs->origin == DC_ORIGIN_MAP || rs->origin == DC_ORIGIN_DNS ||
		    rs->origin == DC_ORIGIN_TEST_IP) {
			addrs[na].len = dc_endpoint_to_sockaddr(&rs->addr, &ss[na]);
			addrs[na].addr = (struct sockaddr *)&ss[na];
			na++;
		}
	}
	if (!na) {
		snprintf(h->error, sizeof(h->error), "%s: no address: %s", node->name ? node->name : "",
			 req.out[0].note[0] ? req.out[0].note : req.out[1].note);
		return;
	}
	uint64_t now = dc_now_ns();
	long budget = now < deadline ? (long)((deadline - now) / 1000000u) : 1;
	struct dc_tls_opts to = {.sni = node->host_name, .timeout_ms = budget};
	struct dc_tls_conn c;
	struct dc_error e;
	uint64_t t0 = dc_now_ns();
	int idx = dc_tls_connect_race(addrs, na, budget < 1500 ? budget : 1500, &to, &c, &e);
	if (idx < 0) {
		copy_text(h->error, sizeof(h->error), e.what);
		return;
	}
	h->connect_ns = dc_now_ns() - t0;
	h->family = addrs[idx].addr->sa_family == AF_INET6 ? 6 : 4;
	copy_text(h->peer, sizeof(h->peer), c.peer);
	/* Judged whatever the map or --insecure say: InsecureForTests hides nothing (judge/trust.h). */
	struct dc_tls_verdict v;
	bool verified = dc_tls_verify(dc_tls_peer_chain(&c), node->host_name, node->cert_name, o->ca_file, &v, &e) == 0;
	struct dc_tlscheck_call call = {
		.derp_map = o->map_spec, .map_format = o->map_format, .region_id = h->region_id, .host_name = node->host_name,
		.cert_name = node->cert_name && *node->cert_name ? node->cert_name : NULL, .addr = h->peer, .ca_file = o->ca_file,
	};
	dc_trust_judge_tls(node, dc_tls_peer_chain(&c), verified ? &v : NULL, &call, &h->trust);
	h->trust_judged = true;
	if (!o->insecure && dc_node_clients_verify(node)) {
		if (!verified) {
			copy_text(h->error, sizeof(h->error), e.what);
			goto out;
		}
		if (!v.ok) {
			snprintf(h->error, sizeof(h->error), "TLS certificate not accepted: %s",
				 v.count ? v.problems[0].text : "verification failed");
			goto out;
		}
	}
	char req_text[512];
	int rl = snprintf(req_text, sizeof(req_text),
			  "GET /derp/latency-check HTTP/1.1\r\nHost: %s\r\nUser-Agent: derpcheck\r\nConnection: close\r\n\r\n",
			  node->host_name ? node->host_name : "");
	uint64_t sent = dc_now_ns();
	if (dc_tls_write_all(&c, req_text, (size_t)rl, deadline, &e) < 0) {
		copy_text(h->error, sizeof(h->error), e.what);
		goto out;
	}
	char buf[8192];
	size_t have = 0;
	for (;;) {
		long r = dc_tls_read(&c, buf + have, sizeof(buf) - 1 - have, deadline, &e);
		if (r <= 0) {
			copy_text(h->error, sizeof(h->error), r == 0 ? "the server closed before answering" : e.what);
			goto out;
		}
		have += (size_t)r;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
		if (have == sizeof(buf) - 1) {
			snprintf(h->error, sizeof(h->error), "response headers larger than 8 KiB");
			goto out;
		}
	}
	h->latency_ns = dc_now_ns() - sent;
	/* The same bounded (and fuzzed) HTTP/1.1 response-head parser the DERP upgrade uses. */
	struct dc_derp_upgrade head;
	if (dc_derp_upgrade_parse((const uint8_t *)buf, have, &head, &e) != 1) {
		snprintf(h->error, sizeof(h->error), "not an HTTP response");
		goto out;
	}
	int status = head.status;
	h->http_status = status;
	if (status > 299) {
		snprintf(h->error, sizeof(h->error), "GET /derp/latency-check answered %d (a proxy in the way?)", status);
		goto out;
	}
	h->ok = true;
out:
	dc_tls_close(&c);
}

struct https_pool {
	const struct dc_netcheck_opts *o;
	struct dc_netcheck_https *items;
	size_t n, next;
	uint64_t deadline;
	pthread_mutex_t mu;
};

static void *https_worker(void *arg)
{
	struct https_pool *pl = arg;
	for (;;) {
		pthread_mutex_lock(&pl->mu);
		size_t i = pl->next++;
		pthread_mutex_unlock(&pl->mu);
		if (i >= pl->n)
			return NULL;
		https_one(pl->o, &pl->items[i], pl->deadline);
	}
}

static const struct dc_derp_node *first_derp_node(const struct dc_derp_region *rg)
{
	for (size_t i = 0; i < rg->node_count; i++)
		if (!rg->nodes[i].stun_only)
			return &rg->nodes[i];
	return NULL;
}

/* fallback: only regions without latency (Tailscale); else every region with a DERP node. */
static void run_https(struct run *R, bool fallback, uint64_t deadline)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	x->https = dc_xcalloc(o->map->region_count + 1, sizeof(*x->https));
	for (size_t ri = 0; ri < o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &o->map->regions[ri];
		const struct dc_derp_node *node = first_derp_node(rg);
		if (!region_measured(rg) || !node)
			continue;
		if (fallback && (rg->avoid || dc_latency_map_get(&R->res->report.latency, rg->id, &(int64_t){0})))
			continue;
		x->https[x->https_count].region_id = rg->id;
		x->https[x->https_count++].node = node;
	}
	struct https_pool pl = {.o = o, .items = x->https, .n = x->https_count, .deadline = deadline};
	pthread_mutex_init(&pl.mu, NULL);
	pthread_t th[16];
	size_t nth = x->https_count < 16 ? x->https_count : 16, started = 0;
	for (size_t i = 0; i < nth; i++)
		if (pthread_create(&th[started], NULL, https_worker, &pl) == 0)
			started++;
	if (!started)
		https_worker(&pl);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pl.mu);
	for (size_t i = 0; i < x->https_count; i++) {
		struct dc_netcheck_https *h = &x->https[i];
		logf_(o, "https region %lld %s: %s", (long long)h->region_id, h->node->name ? h->node->name : "",
		      h->ok ? "ok" : h->error);
		if (!fallback || !h->ok)
			continue;
		dc_latency_map_add(&R->res->report.latency, h->region_id, (int64_t)h->latency_ns);
		if (h->family == 6)
			R->res->report.ipv6 = true;
		else
			R->res->report.ipv4 = true;
	}
}

/* ---- port mapping and captive portal (threads beside the STUN phase) ---------------- */

struct side {
	struct run *R;
	uint64_t t0;
	atomic_bool cancel;
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	size_t neps;
	bool started;
};

static void *portmap_thread(void *arg)
{
	struct run *R = arg;
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	struct dc_error e;
	if (dc_gateway_discover(o->route_path, &x->gateway, &e) < 0) {
		snprintf(x->portmap_note, sizeof(x->portmap_note), "no default gateway: %.150s", e.what);
		return NULL;
	}
	if (dc_portmap_probe(&x->gateway, &o->portmap, &x->portmap, &e) < 0) {
		copy_text(x->portmap_note, sizeof(x->portmap_note), e.what);
		return NULL;
	}
	x->portmap_ran = true;
	return NULL;
}

static void *captive_thread(void *arg)
{
	struct side *sd = arg;
	uint64_t start = sd->t0 + 200000000u; /* Tailscale starts it 200 ms in */
	while (dc_now_ns() < start) {
		if (atomic_load(&sd->cancel))
			return NULL;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&sd->cancel))
		return NULL;
	sd->started = true;
	struct dc_netcheck_extra *x = &sd->R->res->extra;
	struct dc_captive_opts co = {0};
	struct dc_error e;
	if (dc_captive_check(sd->eps, sd->neps, &co, &x->captive, &e) < 0)
		copy_text(x->captive_note, sizeof(x->captive_note), e.what);
	else
		x->captive_ran = true;
	return NULL;
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
static void derp_port_finding(struct run *R, const struct dc_netcheck_https *h)
{
	struct dc_netcheck_extra *x = &R->res->extra;
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
	if (!x->check_derp_ran || h->ok || !dc_latency_map_get(&R->res->report.latency, h->region_id, &(int64_t){0}))
		return;
	fd = dc_findings_add(&x->findings, DC_SEV_WARNING, "netcheck-derp-port", "", nopos,
			     "region %lld answers STUN but its DERP port does not work (%s): %s", (long long)h->region_id, node,
			     h->error);
	/* ping names every DERP failure, TCP to handshake, and the cert command for a certificate. */
	if (R->o->map_spec) {
		char ca[PATH_MAX + 16] = "";
		if (R->o->ca_file) {
			dc_shell_append(ca, sizeof(ca), "--ca-file");
			dc_shell_append(ca, sizeof(ca), R->o->ca_file);
		}
		dc_finding_hint(fd, "`derpcheck ping --derp-map%s%s %lld` says where the connection fails and what to do",
				map_arg(R->o, (char[600]){0}, 600), ca, (long long)h->region_id);
	} else {
		dc_finding_hint(fd, "derpcheck ping --derp-map FILE %lld says where the connection fails and what to do",
				(long long)h->region_id);
	}
}

static void findings(struct run *R)
{
	struct dc_netreport *rep = &R->res->report;
	struct dc_netcheck_extra *x = &R->res->extra;
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
				validate_hint(R->o, (char[700]){0}, 700));
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
	for (size_t ri = 0; rep->udp && rep->latency.count && ri < R->o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &R->o->map->regions[ri];
		if (!region_measured(rg) || dc_latency_map_get(&rep->latency, rg->id, &(int64_t){0}))
			continue;
		bool early = false, probed = false;
		for (size_t i = 0; i < x->node_count; i++)
			if (x->nodes[i].region_id == rg->id && !x->nodes[i].skipped) {
				probed = true;
				early = early || x->nodes[i].stopped_early;
			}
		if (!probed || early)
			continue;
		fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-region-unreachable", rg->path ? rg->path : "", nopos,
				     "region %lld (%s) did not answer while others did", (long long)rg->id,
				     rg->code ? rg->code : "");
		dc_finding_hint(fd, "see the node lines for why; %s%s --region %lld%s probes it alone",
				R->o->map_spec ? "`derpcheck stun --derp-map" : "derpcheck stun --derp-map FILE",
				R->o->map_spec ? map_arg(R->o, (char[600]){0}, 600) : "", (long long)rg->id,
				R->o->map_spec ? "`" : "");
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
		derp_port_finding(R, &x->https[i]);
	if (rep->captive_portal == DC_OPT_TRUE) {
		fd = dc_findings_add(f, DC_SEV_WARNING, "netcheck-captive-portal", "", nopos,
				     "a captive portal answers in the DERP servers' place: %s",
				     x->captive.count ? x->captive.probes[0].reason : "");
		dc_finding_hint(fd, "log in to the network's portal in a browser, then run netcheck again");
	}
}

/* ---- the run ------------------------------------------------------------------------- */

static bool os_has_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int dc_netcheck_run(const struct dc_netcheck_opts *opts, struct dc_netcheck_result *res, struct dc_error *err)
{
	struct dc_netcheck_opts o = *opts;
	if (!o.stun_phase_ns)
		o.stun_phase_ns = (uint64_t)DC_NETCHECK_STUN_PHASE_MS * 1000000u;
	if (!o.report_timeout_ns)
		o.report_timeout_ns = (uint64_t)DC_NETCHECK_REPORT_TIMEOUT_MS * 1000000u;
	memset(res, 0, sizeof(*res));
	dc_netreport_init(&res->report);
	res->extra.hairpin = DC_OPT_UNSET;
	struct run R = {.o = &o, .res = res};
	struct dc_netcheck_extra *x = &res->extra;
	uint64_t start = dc_now_ns();
	res->report.os_has_ipv6 = os_has_ipv6();

	bool want[2] = {o.family != 6, o.family != 4};
	if (o.bind_addr) {
		want[0] = want[0] && o.bind_addr->family == 4;
		want[1] = want[1] && o.bind_addr->family == 6;
	}
	struct dc_prober_config cfg = {.want4 = want[0], .want6 = want[1], .bind_addr = o.bind_addr, .bind_port = o.bind_port};
	R.p = dc_prober_new(&cfg, err);
	if (!R.p) {
		dc_netcheck_result_free(res);
		return -1;
	}
	want[0] = want[0] && !dc_prober_family_error(R.p, 4);
	want[1] = want[1] && !dc_prober_family_error(R.p, 6);
	build_nodes(&R, want);

	/* Beside the STUN phase: port mapping now, the captive check 200 ms in. */
	pthread_t pm_th, cp_th;
	bool pm_started = false, cp_started = false;
	struct side sd = {.R = &R};
	if (!o.no_portmap) {
		res->report.portmap_checked = true;
		res->report.upnp = res->report.pmp = res->report.pcp = DC_OPT_FALSE;
		pm_started = pthread_create(&pm_th, NULL, portmap_thread, &R) == 0;
	} else {
		snprintf(x->portmap_note, sizeof(x->portmap_note), "not checked (--no-portmap)");
	}
	R.t0 = dc_now_ns();
	sd.t0 = R.t0;
	if (!o.no_captive && o.map) {
		struct dc_captive_select sel = {.port = o.captive_port};
		/* Only DERP nodes: derpcheck never asks Tailscale's public endpoints. */
		sd.neps = dc_captive_endpoints(o.map, &sel, sd.eps);
		if (sd.neps) {
			R.captive_cancel = &sd.cancel;
			cp_started = pthread_create(&cp_th, NULL, captive_thread, &sd) == 0;
		} else {
			snprintf(x->captive_note, sizeof(x->captive_note),
				 "not checked: no node of the map has an IPv4 address and CanPort80");
		}
	} else {
		snprintf(x->captive_note, sizeof(x->captive_note), "not checked");
	}

	schedule(&R);
	logf_(&o, "full report: %zu probe sets over %zu regions, %zu node probes", R.nsets,
	      o.map ? o.map->region_count : 0, R.nodes_open);
	int rc = 0;
	if (R.nsets == 0 && R.nodes_open == 0) {
		/* nothing to probe */
	} else if (dc_prober_run(R.p, R.t0 + o.stun_phase_ns, on_done, &R, err) < 0) {
		rc = -1;
	}
	x->stun_phase_ns = dc_now_ns() - R.t0;
	x->stopped_early = R.timer_armed && R.sets_done < R.nsets;
	x->enough_regions = o.measure_all ? DC_NETCHECK_ENOUGH_REGIONS_VERBOSE : DC_NETCHECK_ENOUGH_REGIONS;
	x->stats = *dc_prober_stats(R.p);
	res->report.mapping_varies_by_dest_ip = dc_netcheck_mapping_varies(R.v4maps, R.nv4maps);
	conclude_nodes(&R);
	classify_nat(&R);
	if (rc == 0) {
		uint64_t deadline = start + o.report_timeout_ns;
		bool fallback = !res->report.udp && !o.no_https_fallback && o.map;
		/* Beside the HTTPS checks: the other ports of failed nodes, and ICMP when UDP is blocked. */
		struct guess_job gj;
		struct icmp_job ij = {0};
		pthread_t g_th, i_th;
		bool g_started = false, i_started = false;
		plan_guesses(&R, &gj, deadline);
		if (gj.n && dc_now_ns() < deadline) {
			x->guess_ran = true;
			g_started = pthread_create(&g_th, NULL, guess_thread, &gj) == 0;
			if (!g_started)
				guess_thread(&gj);
		}
		if (fallback && dc_now_ns() < deadline) {
			plan_icmp(&R, &ij, deadline);
			if (ij.n) {
				i_started = pthread_create(&i_th, NULL, icmp_thread, &ij) == 0;
				if (!i_started)
					icmp_thread(&ij);
			}
		}
		if ((fallback || o.check_derp) && o.map && dc_now_ns() < deadline) {
			logf_(&o, fallback ? "UDP is blocked, trying HTTPS" : "checking every region's DERP port over HTTPS");
			run_https(&R, fallback && !o.check_derp, deadline);
			x->https_fallback_ran = fallback;
			x->check_derp_ran = o.check_derp;
			if (fallback && o.check_derp) /* one pass served both: feed the report */
				for (size_t i = 0; i < x->https_count; i++)
					if (x->https[i].ok) {
						dc_latency_map_add(&res->report.latency, x->https[i].region_id,
								   (int64_t)x->https[i].latency_ns);
						if (x->https[i].family == 6)
							res->report.ipv6 = true;
						else
							res->report.ipv4 = true;
					}
		}
		if (g_started)
			pthread_join(g_th, NULL);
		if (i_started)
			pthread_join(i_th, NULL);
		if (ij.n)
			apply_icmp(&R, &ij);
		if (o.hairpin)
			hairpin(&R);
	}
	udp_verdict(&R, o.stun_phase_ns);
	if (pm_started) {
		pthread_join(pm_th, NULL);
		if (x->portmap_ran) {
			res->report.upnp = x->portmap.upnp ? DC_OPT_TRUE : DC_OPT_FALSE;
			res->report.pmp = x->portmap.pmp ? DC_OPT_TRUE : DC_OPT_FALSE;
			res->report.pcp = x->portmap.pcp ? DC_OPT_TRUE : DC_OPT_FALSE;
			if (!x->portmap.probed)
				copy_text(x->portmap_note, sizeof(x->portmap_note), x->portmap.skip_reason);
		}
	}
	if (cp_started) {
		/* Not started yet and UDP answered: Tailscale cancels it (CaptivePortal stays null). */
		if (res->report.udp && !o.measure_all)
			atomic_store(&sd.cancel, true);
		pthread_join(cp_th, NULL);
		if (x->captive_ran)
			res->report.captive_portal = x->captive.captive ? DC_OPT_TRUE : DC_OPT_FALSE;
		else if (!x->captive_note[0])
			snprintf(x->captive_note, sizeof(x->captive_note),
				 "not checked: STUN answered before the check was due (Tailscale skips it then)");
	}
	res->report.preferred_derp = dc_netcheck_pick_home(&res->report, o.map, o.previous_home);
	clock_gettime(CLOCK_REALTIME, &res->report.now);
	findings(&R);
	x->elapsed_ns = dc_now_ns() - start;
	dc_prober_free(R.p);
	free(R.info);
	free(R.sets);
	free(R.v4maps);
	if (rc < 0) {
		dc_netcheck_result_free(res);
		return -1;
	}
	return 0;
}

void dc_netcheck_result_free(struct dc_netcheck_result *res)
{
	if (!res)
		return;
	dc_netreport_free(&res->report);
	free(res->extra.guesses);
	free(res->extra.nodes);
	free(res->extra.https);
	free(res->extra.icmp_targets);
	dc_findings_free(&res->extra.findings);
	memset(&res->extra, 0, sizeof(res->extra));
}
