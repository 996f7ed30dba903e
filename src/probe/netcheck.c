/*
 * netcheck: Tailscale's full report (protocols.md §3) over the STUN prober, plus the
 * per-node, NAT-behaviour, HTTPS, port-mapping and captive-portal details derpcheck adds.
 *
 * Probes of one run, all over the prober's one socket per family:
 *   plan  - Tailscale's: per region and family, try i = 0,1,2 to Nodes[i mod n] at
 *           i x 100 ms, one datagram each, grouped so the first reply cancels the rest.
 *           Only these fill the Tailscale report (latency, counters, GlobalV4/V6, ...).
 *   node  - derpcheck's: one Tailscale-style probe per node and family (three
 *           transmissions, 100 ms then 200 ms apart), so every node gets its own RTT and
 *           a dead node is named even when its region answered through another node.
 *           A node the plan probes at 0 ms starts its own probe 100 ms later, and not at
 *           all when the plan's probe answered first: one packet per answering node.
 *   plain - one bare RFC 5389 request, 100 ms in, to each node and family that has not
 *           answered a Tailscale-style request by then, to say "answers only plain STUN"
 *           about a node that ignores Tailscale's request.
 * Later plan tries, the own probe of a Nodes[0] the plan asked in vain, and the bare
 * requests are added 100 and 200 ms in, only when still needed (dc_prober_wake_at).
 * All probes are planned before the clock starts (t0), so planning is not STUN time, and
 * every probe due at t0 leaves in one pass (src/probe/prober.c).
 * The STUN phase ends at the first of: every plan set and node probe done (node probes
 * get at most max(2 x slowest latency, 50 ms) after the last set is done), the "enough
 * regions" timer (3 regions, 100 with measure_all; lasts 2 x the slowest latency seen),
 * or 3 s.
 *
 * What the measurements mean (the home region, the NAT, the verdict on UDP, the findings)
 * is judged in judge/netjudge.c, called at the end of the run.
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
#include "derpcheck/judge/netjudge.h"
#include "derpcheck/net/tlsconn.h"
#include "derpcheck/net/udp.h"

enum pkind { P_PLAN, P_NODE, P_PLAIN };

/* The bare RFC 5389 request goes this long after the node's first Tailscale-style one (at
 * the first retransmission): a node that answers within it costs no second packet, and a
 * node that answers only the bare request has then ignored Tailscale's for this long. */
#define PLAIN_AFTER_NS 100000000u
/* After the last probe set is done, unanswered nodes get this much longer at least: their
 * second try and the bare request (PLAIN_AFTER_NS) have to fit in. */
#define NODE_GRACE_MIN_NS 150000000u

struct pinfo {
	enum pkind kind;
	size_t set;  /* P_PLAN */
	size_t node; /* index into extra.nodes */
};

struct pset {
	const struct dc_derp_region *region;
	int family;
	bool done, ok;
	size_t count, open; /* its probes, and those not finished */
	unsigned tries;     /* of the plan's PLAN_TRIES, how many are behind it (sent or skipped) */
};

/*
 * Tailscale's plan has three tries per set, to Nodes[0], Nodes[1 mod n], Nodes[2 mod n]; a
 * try to a node without STUN is skipped when it is due. A set is over when every try is
 * behind it and none is waiting: a first try that failed at once (an ICMP error, STUN off
 * on Nodes[0]) does not end it before the others have had their turn.
 */
#define PLAN_TRIES 3u


struct run {
	const struct dc_netcheck_opts *o;
	struct dc_netcheck_result *res;
	struct dc_prober *p;
	size_t *region_node; /* per region of the map: its first node entry, SIZE_MAX when not measured */
	size_t *plan_first;  /* per node entry: the plan probe whose first try (0 ms) asks it, or SIZE_MAX */
	size_t *plan_answer; /* per node entry: the plan probe whose outcome (an answer, an ICMP error, a STUN
			      * error) settled it before it had its own probe, or SIZE_MAX */
	bool *has_probe;     /* per node entry: its own Tailscale-style probe was added (probe_id) */
	unsigned wakes;      /* dc_prober_wake_at calls delivered: 1 at 100 ms, 2 at 200 ms */
	size_t plains_open;
	struct pinfo *info;
	size_t ninfo, capinfo;
	struct pset *sets;
	size_t nsets;
	size_t sets_done;
	size_t nodes_open;
	bool all_sets_done;
	/*
	 * The slowest plan reply as Tailscale's netcheck sees it: from the send to the moment
	 * the reply is handled, not to the kernel's receive time that the report gives. Its
	 * early-stop timer runs on this (2 x the slowest); on a large map or a busy machine
	 * replies wait to be read, and timing from the kernel's stamp would stop sooner than
	 * Tailscale does and measure fewer regions than it on the same map.
	 */
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

bool dc_netcheck_region_measured(const struct dc_derp_region *rg)
{
	return !rg->removed && rg->node_count > 0 && !rg->no_measure_no_home;
}

static const struct dc_derp_node *first_derp_node(const struct dc_derp_region *rg);

/* Node entries: one per (node, family) of every measured region, then --extra-stun hosts. */
static void build_nodes(struct run *R, bool want[2])
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	/* Exactly sized: a 10,000-node map has 20,000 entries, copied by no reallocation. */
	size_t cap = 2 * o->extra_count + 1;
	for (size_t ri = 0; o->map && ri < o->map->region_count; ri++)
		if (dc_netcheck_region_measured(&o->map->regions[ri]))
			cap += 2 * o->map->regions[ri].node_count;
	x->nodes = dc_xcalloc(cap, sizeof(*x->nodes));
	R->region_node = dc_xcalloc(o->map ? o->map->region_count + 1 : 1, sizeof(*R->region_node));
	for (size_t ri = 0; o->map && ri < o->map->region_count; ri++) {
		const struct dc_derp_region *rg = &o->map->regions[ri];
		R->region_node[ri] = SIZE_MAX;
		if (!dc_netcheck_region_measured(rg))
			continue;
		R->region_node[ri] = x->node_count; /* its nodes follow: node ni, family f at + 2 ni + (f == 6) */
		for (size_t ni = 0; ni < rg->node_count; ni++)
			for (int f = 4; f <= 6; f += 2) {
				struct dc_netcheck_node *n = &x->nodes[x->node_count++];
				n->node = &rg->nodes[ni];
				n->name = rg->nodes[ni].name ? rg->nodes[ni].name : "";
				n->region_id = rg->id;
				n->family = f;
			}
	}
	for (size_t i = 0; i < o->extra_count; i++)
		for (int f = 4; f <= 6; f += 2) {
			struct dc_netcheck_node *n = &x->nodes[x->node_count++];
			n->name = o->extra_stun[i];
			n->family = f;
		}
	/*
	 * Addresses the map gives (nearly every node) are settled at once; only names go to
	 * DNS, all looked up together with one deadline. A request per node for the whole
	 * map would be 600 bytes each to fill and touch before the first probe.
	 */
	struct dc_resolve_req *dns = NULL;
	size_t *dns_entry = NULL, ndns = 0, capdns = 0;
	char **hosts = dc_xcalloc(x->node_count + 1, sizeof(*hosts)); /* --extra-stun names */
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		struct dc_resolve_req req;
		memset(&req, 0, sizeof(req));
		if (n->node) {
			int port = dc_node_stun_port(n->node);
			n->port = port < 0 ? 0 : (uint16_t)port;
			dc_resolve_node(&req, n->node, n->port, n->family);
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
			dc_resolve_host(&req, hosts[i], n->port, n->family);
		}
		if (!want[n->family == 6] && !n->skipped) {
			n->skipped = true;
			snprintf(n->skip_reason, sizeof(n->skip_reason), "IPv%d is not probed (%s)", n->family,
				 o->family ? "-4/-6" : o->bind_addr ? "--bind-address is of the other family"
								    : "no socket of this family");
		}
		if (!dc_resolve_static(&req, n->family)) {
			n->addr = *dc_resolved_family(&req, n->family);
			continue;
		}
		if (ndns == capdns) {
			capdns = capdns ? 2 * capdns : 16;
			dns = dc_xrealloc(dns, capdns * sizeof(*dns));
			dns_entry = dc_xrealloc(dns_entry, capdns * sizeof(*dns_entry));
		}
		dns[ndns] = req;
		dns_entry[ndns++] = i;
	}
	dc_resolve_run(dns, ndns, dc_now_ns() + 2000000000u);
	for (size_t k = 0; k < ndns; k++)
		x->nodes[dns_entry[k]].addr = *dc_resolved_family(&dns[k], x->nodes[dns_entry[k]].family);
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		if (!n->skipped && n->addr.origin != DC_ORIGIN_LITERAL && n->addr.origin != DC_ORIGIN_MAP &&
		    n->addr.origin != DC_ORIGIN_TEST_IP && n->addr.origin != DC_ORIGIN_DNS) {
			n->skipped = true;
			copy_text(n->skip_reason, sizeof(n->skip_reason), n->addr.note[0] ? n->addr.note : "no address");
		}
		free(hosts[i]);
	}
	free(hosts);
	free(dns);
	free(dns_entry);
}

/* Node ni of map region ri, family f (4 or 6); NULL when the region is not measured. */
static struct dc_netcheck_node *node_entry(struct run *R, size_t ri, size_t ni, int family)
{
	size_t first = R->region_node[ri];
	return first == SIZE_MAX ? NULL : &R->res->extra.nodes[first + 2 * ni + (family == 6)];
}

static bool probed(const struct dc_netcheck_node *n)
{
	return n && !n->skipped;
}

/* Tailscale's plan: per region and family, try i = 0,1,2 to Nodes[i mod n] at i x 100 ms. */
/* When a probe added now must end: the STUN phase, or sooner once the report is stopping. */
static uint64_t probe_deadline(const struct run *R, enum pkind kind)
{
	uint64_t end = R->t0 + R->o->stun_phase_ns;
	if (R->timer_armed && R->timer_at < end)
		end = R->timer_at;
	if (kind != P_PLAN && R->all_sets_done && R->grace_at < end)
		end = R->grace_at;
	return end;
}

static void set_done(struct run *R, struct pset *s)
{
	if (!s->done) {
		s->done = true;
		R->sets_done++;
	}
}

static size_t add_now(struct run *R, enum pkind kind, size_t i, enum dc_stun_style style, unsigned tries,
		      unsigned group, size_t set)
{
	uint64_t now = dc_now_ns(), end = probe_deadline(R, kind);
	struct dc_probe_spec sp = {
		.dst = R->res->extra.nodes[i].addr.addr, .style = style, .start_ns = now, .tries = tries,
		.rto_ns = kind == P_NODE ? 100000000u : R->o->stun_phase_ns, .timeout_ns = end > now ? end - now : 1,
		.group = group,
	};
	return add_probe(R, &sp, (struct pinfo){kind, set, i});
}

/* Tailscale's plan: per region and family, try i = 0,1,2 to Nodes[i mod n] at i x 100 ms. */
static void plan_try(struct run *R, size_t si, unsigned i)
{
	struct pset *s = &R->sets[si];
	const struct dc_derp_region *rg = s->region;
	size_t ri = (size_t)(rg - R->o->map->regions);
	struct dc_netcheck_node *n = node_entry(R, ri, i % rg->node_count, s->family);
	s->tries++;
	if (!probed(n)) { /* Tailscale skips it at send time */
		if (s->tries == PLAN_TRIES && s->open == 0)
			set_done(R, s);
		return;
	}
	size_t ni = (size_t)(n - R->res->extra.nodes);
	size_t id = add_now(R, P_PLAN, ni, DC_STUN_STYLE_TAILSCALE, 1, (unsigned)si + 1, si);
	s->count++;
	s->open++;
	if (i == 0)
		R->plan_first[ni] = id;
}

static void node_probe(struct run *R, size_t i)
{
	R->res->extra.nodes[i].probe_id = add_now(R, P_NODE, i, DC_STUN_STYLE_TAILSCALE, 3, 0, 0);
	R->has_probe[i] = true;
	R->nodes_open++;
}

/* Settled already (an answer, an ICMP error, a STUN error): by its own probe, or by a plan
 * probe in its place. */
static bool node_settled(struct run *R, size_t i)
{
	if (R->plan_answer[i] != SIZE_MAX)
		return true;
	if (!R->has_probe[i])
		return false;
	enum dc_probe_status st = dc_prober_result(R->p, R->res->extra.nodes[i].probe_id)->status;
	return st == DC_PROBE_OK || st == DC_PROBE_UNREACHABLE || st == DC_PROBE_ERROR_RESPONSE;
}

/*
 * 100 and 200 ms in: what is still worth sending. The plan's next try for each region
 * that has not answered (Tailscale skips a probe that would add nothing); at 100 ms also
 * the own probe of each Nodes[0] the plan asked in vain, and the bare request to every
 * node that has not answered a Tailscale-style request sent at least 100 ms ago.
 */
static void wake(struct run *R)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	unsigned k = ++R->wakes;
	for (size_t si = 0; si < R->nsets; si++)
		if (!R->sets[si].done)
			plan_try(R, si, k);
	if (k != 1)
		return;
	for (size_t i = 0; i < x->node_count; i++) {
		if (x->nodes[i].skipped || node_settled(R, i))
			continue;
		if (!R->has_probe[i])
			node_probe(R, i);
		x->nodes[i].plain_id = add_now(R, P_PLAIN, i, DC_STUN_STYLE_RFC5389, 1, 0, 0);
		x->nodes[i].has_plain = true;
		R->plains_open++;
	}
}

static void schedule(struct run *R)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_extra *x = &R->res->extra;
	size_t nregions = o->map ? o->map->region_count : 0;
	/* Planning first, with no clock running: which sets exist. */
	R->sets = dc_xcalloc(2 * nregions + 1, sizeof(*R->sets));
	R->plan_first = dc_xcalloc(x->node_count + 1, sizeof(*R->plan_first));
	R->plan_answer = dc_xcalloc(x->node_count + 1, sizeof(*R->plan_answer));
	R->has_probe = dc_xcalloc(x->node_count + 1, sizeof(*R->has_probe));
	for (size_t i = 0; i < x->node_count; i++)
		R->plan_first[i] = R->plan_answer[i] = SIZE_MAX;
	for (size_t ri = 0; ri < nregions; ri++)
		for (int f = 4; f <= 6; f += 2) {
			const struct dc_derp_region *rg = &o->map->regions[ri];
			if (R->region_node[ri] == SIZE_MAX)
				continue;
			bool any = false;
			for (size_t ni = 0; ni < rg->node_count && !any; ni++)
				any = probed(node_entry(R, ri, ni, f));
			if (any)
				R->sets[R->nsets++] = (struct pset){.region = rg, .family = f};
		}
	/* Room for what is added at once, written now: planning, not STUN time. */
	size_t at_once = R->nsets;
	for (size_t i = 0; i < x->node_count; i++)
		at_once += !x->nodes[i].skipped;
	dc_prober_reserve(R->p, at_once);
	R->capinfo = at_once + 1;
	R->info = dc_xcalloc(R->capinfo, sizeof(*R->info));
	/*
	 * The clock starts now. What is due at once: every set's first try (to Nodes[0]), and
	 * the own probe of every other node. Nodes[0] gets its own only if the plan's try
	 * has not answered 100 ms later; later tries and bare requests only when needed.
	 */
	R->t0 = dc_now_ns();
	for (size_t si = 0; si < R->nsets; si++)
		plan_try(R, si, 0);
	for (size_t i = 0; i < x->node_count; i++)
		if (!x->nodes[i].skipped && R->plan_first[i] == SIZE_MAX)
			node_probe(R, i);
	for (unsigned k = 1; k <= 2; k++)
		dc_prober_wake_at(R->p, R->t0 + (uint64_t)k * DC_NETCHECK_PROBE_SPACING_MS * 1000000u);
	/* A set none of whose tries can be sent is over at once. */
	for (size_t si = 0; si < R->nsets; si++) {
		struct pset *s = &R->sets[si];
		size_t ri = (size_t)(s->region - o->map->regions);
		bool any = false;
		for (unsigned k = 0; k < PLAN_TRIES && !any; k++)
			any = probed(node_entry(R, ri, k % s->region->node_count, s->family));
		if (!any)
			set_done(R, s);
	}
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
		if (grace < NODE_GRACE_MIN_NS)
			grace = NODE_GRACE_MIN_NS;
		R->grace_at = dc_now_ns() + grace;
		cut_all(R, R->grace_at, true);
	}
	if (R->all_sets_done && R->nodes_open == 0 && R->plains_open == 0)
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
	uint64_t handled = dc_now_ns();
	int64_t seen = handled > r->sent_ns ? (int64_t)(handled - r->sent_ns) : lat;
	if (seen > R->max_latency)
		R->max_latency = seen;
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
	if (id == DC_PROBER_WAKE) {
		wake(R);
		maybe_finish(R);
		return;
	}
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
		/* An answer, an ICMP error or a STUN error from the node settles it: an own probe it
		 * does not have yet would add nothing. (Silence is not settled until its own probe.) */
		bool settled = r->status == DC_PROBE_OK || r->status == DC_PROBE_UNREACHABLE ||
			       r->status == DC_PROBE_ERROR_RESPONSE;
		if (settled && R->plan_answer[pi.node] == SIZE_MAX && !R->has_probe[pi.node])
			R->plan_answer[pi.node] = id;
		if (--s->open == 0 && s->tries == PLAN_TRIES)
			set_done(R, s);
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
	} else {
		R->plains_open--;
	}
	maybe_finish(R);
}

/* ---- after the STUN phase ------------------------------------------------------------ */

/*
 * Evidence that a node ignores Tailscale's requests: its bare RFC 5389 request was
 * answered, while a Tailscale-style request sent at least PLAIN_AFTER_NS / 2 earlier (the
 * plan's first try, or its own) never was.
 */
static bool plain_only(struct run *R, size_t i, const struct dc_probe_result *own)
{
	const struct dc_netcheck_node *n = &R->res->extra.nodes[i];
	const struct dc_probe_result *pl = n->has_plain ? dc_prober_result(R->p, n->plain_id) : NULL;
	if (!pl || pl->status != DC_PROBE_OK || own->status == DC_PROBE_OK)
		return false;
	uint64_t asked = own->sent ? own->first_sent_ns : UINT64_MAX;
	const struct dc_probe_result *plan = R->plan_first[i] != SIZE_MAX ? dc_prober_result(R->p, R->plan_first[i]) : NULL;
	if (plan && plan->sent && plan->first_sent_ns < asked)
		asked = plan->first_sent_ns;
	return asked != UINT64_MAX && asked + PLAIN_AFTER_NS / 2 <= pl->first_sent_ns;
}

static void conclude_nodes(struct run *R)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	for (size_t i = 0; i < x->node_count; i++) {
		struct dc_netcheck_node *n = &x->nodes[i];
		if (n->skipped)
			continue;
		/* The plan's probe may have answered for it (its own was then never sent). */
		if (R->plan_answer[i] == SIZE_MAX && !R->has_probe[i]) {
			n->status = DC_PROBE_CANCELLED;
			n->stopped_early = true;
			snprintf(n->why, sizeof(n->why), "not measured: the report ended before its own probe was due%s",
				 R->timer_armed ? "; enough regions had answered, --verbose waits for all" : "");
			continue;
		}
		const struct dc_probe_result *r =
			dc_prober_result(R->p, R->plan_answer[i] != SIZE_MAX ? R->plan_answer[i] : n->probe_id);
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
		/*
		 * Not measured: cancelled, cut short by the early stop, or not every try sent. A
		 * probe still pending when the report stopped is not "no reply"; only one that
		 * waited its whole time in silence (or got an error) is evidence.
		 */
		bool unfinished = r->status == DC_PROBE_CANCELLED ||
				  (r->status == DC_PROBE_TIMEOUT && (r->cut_short || r->sent < r->spec.tries));
		n->plain_only = plain_only(R, i, r);
		if (unfinished && !n->plain_only) {
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

struct node_addr {
	const struct dc_endpoint *addr;
	size_t node;
};

/* By address (IP, then port), then node order: the first node of each address leads. */
static int compare_node_addr(const void *pa, const void *pb)
{
	const struct node_addr *a = pa, *b = pb;
	int c = dc_endpoint_compare(a->addr, b->addr, true);
	return c ? c : (a->node < b->node ? -1 : a->node > b->node);
}

static int compare_node_index(const void *pa, const void *pb)
{
	const struct node_addr *a = pa, *b = pb;
	return a->node < b->node ? -1 : a->node > b->node;
}

static void classify_nat(struct run *R)
{
	struct dc_netcheck_extra *x = &R->res->extra;
	/* Each server address once (the first node that answered from it), in node order. */
	size_t m = 0, n = 0;
	struct node_addr *answered = dc_xcalloc(x->node_count + 1, sizeof(*answered));
	for (size_t i = 0; i < x->node_count; i++) {
		const struct dc_netcheck_node *nd = &x->nodes[i];
		if (nd->family == 4 && nd->status == DC_PROBE_OK && nd->has_mapped && !nd->skipped)
			answered[m++] = (struct node_addr){&nd->addr.addr, i};
	}
	qsort(answered, m, sizeof(*answered), compare_node_addr);
	size_t keep = 0, distinct = 0;
	for (size_t k = 0; k < m; k++) {
		bool new_endpoint = k == 0 || !dc_endpoint_equal(answered[k].addr, answered[keep - 1].addr);
		if (new_endpoint) {
			distinct += keep == 0 || !dc_ip_equal(answered[k].addr, answered[keep - 1].addr);
			answered[keep++] = answered[k];
		}
	}
	qsort(answered, keep, sizeof(*answered), compare_node_index);
	struct dc_endpoint *srv = dc_xcalloc(keep + 1, sizeof(*srv));
	struct dc_endpoint *map = dc_xcalloc(keep + 1, sizeof(*map));
	for (size_t k = 0; k < keep; k++) {
		srv[n] = x->nodes[answered[k].node].addr.addr;
		map[n++] = x->nodes[answered[k].node].mapped;
	}
	free(answered);
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
		if (!dc_netcheck_region_measured(rg) || rg->avoid || !first_derp_node(rg) ||
		    dc_latency_map_get(&R->res->report.latency, rg->id, &(int64_t){0}))
			continue;
		struct dc_netcheck_icmp *it = &x->icmp_targets[x->icmp_count++];
		it->region_id = rg->id;
		it->node = &rg->nodes[0];
		it->target.payload = rg->nodes[0].name ? rg->nodes[0].name : "";
		const struct dc_netcheck_node *n4 = node_entry(R, ri, 0, 4);
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

/* --check-derp --transport: the whole DERP handshake to the node, over the transport asked for. */
static void https_derp_handshake(const struct dc_netcheck_opts *o, struct dc_netcheck_https *h, uint64_t deadline)
{
	const struct dc_derp_region *region = NULL;
	for (size_t i = 0; i < o->map->region_count && !region; i++)
		if (o->map->regions[i].id == h->region_id)
			region = &o->map->regions[i];
	uint64_t now = dc_now_ns();
	if (!region || now >= deadline)
		return;
	struct dc_derp_dial_opts d = {
		.region = region, .node = h->node->name, .family = o->family, .ca_file = o->ca_file,
		.insecure = o->insecure, .timeout_ms = (long)((deadline - now) / 1000000u) + 1, .is_prober = true,
		.app_name = "derpcheck-netcheck", .transport = o->transport,
	};
	struct dc_derp_conn conn;
	struct dc_error err;
	h->derp_tried = true;
	if (dc_derp_connect(&d, &conn, &err) == 0) {
		h->derp_ok = true;
		h->transport = dc_derp_transport_name(conn.transport);
		dc_derp_how_text(&conn, o->transport, h->transport_how, sizeof(h->transport_how));
	} else {
		copy_text(h->derp_error, sizeof(h->derp_error), err.what);
	}
	dc_derp_close(&conn);
}

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
	if (o->derp_handshake)
		https_derp_handshake(o, h, deadline);
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
		if (!dc_netcheck_region_measured(rg) || !node)
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

/* The threads beside the STUN phase: port mapping now, the captive check 200 ms in. */
struct side_threads {
	pthread_t pm, cp;
	bool pm_started, cp_started;
};

/* Port mapping starts before t0 (it is not STUN time); the captive check's clock is t0. */
static void start_side_checks(struct run *R, struct side *sd, struct side_threads *t)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_result *res = R->res;
	struct dc_netcheck_extra *x = &res->extra;
	if (!o->no_portmap) {
		res->report.portmap_checked = true;
		res->report.upnp = res->report.pmp = res->report.pcp = DC_OPT_FALSE;
		t->pm_started = pthread_create(&t->pm, NULL, portmap_thread, R) == 0;
	} else {
		snprintf(x->portmap_note, sizeof(x->portmap_note), "not checked (--no-portmap)");
	}
	R->t0 = dc_now_ns();
	sd->t0 = R->t0;
	if (!o->no_captive && o->map) {
		struct dc_captive_select sel = {.port = o->captive_port};
		/* Only DERP nodes: derpcheck never asks Tailscale's public endpoints. */
		sd->neps = dc_captive_endpoints(o->map, &sel, sd->eps);
		if (sd->neps) {
			R->captive_cancel = &sd->cancel;
			t->cp_started = pthread_create(&t->cp, NULL, captive_thread, sd) == 0;
		} else {
			snprintf(x->captive_note, sizeof(x->captive_note),
				 "not checked: no node of the map has an IPv4 address and CanPort80");
		}
	} else {
		snprintf(x->captive_note, sizeof(x->captive_note), "not checked");
	}
}

static void finish_side_checks(struct run *R, struct side *sd, struct side_threads *t)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_result *res = R->res;
	struct dc_netcheck_extra *x = &res->extra;
	if (t->pm_started) {
		pthread_join(t->pm, NULL);
		if (x->portmap_ran) {
			res->report.upnp = x->portmap.upnp ? DC_OPT_TRUE : DC_OPT_FALSE;
			res->report.pmp = x->portmap.pmp ? DC_OPT_TRUE : DC_OPT_FALSE;
			res->report.pcp = x->portmap.pcp ? DC_OPT_TRUE : DC_OPT_FALSE;
			if (!x->portmap.probed)
				copy_text(x->portmap_note, sizeof(x->portmap_note), x->portmap.skip_reason);
		}
	}
	if (t->cp_started) {
		/* Not started yet and UDP answered: Tailscale cancels it (CaptivePortal stays null). */
		if (res->report.udp && !o->measure_all)
			atomic_store(&sd->cancel, true);
		pthread_join(t->cp, NULL);
		if (x->captive_ran)
			res->report.captive_portal = x->captive.captive ? DC_OPT_TRUE : DC_OPT_FALSE;
		else if (!x->captive_note[0])
			snprintf(x->captive_note, sizeof(x->captive_note),
				 "not checked: STUN answered before the check was due (Tailscale skips it then)");
	}
}

/* The STUN phase's timings and counters, the mapping rule, and what each node's probe found. */
static void conclude_stun(struct run *R, uint64_t start)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_result *res = R->res;
	struct dc_netcheck_extra *x = &res->extra;
	x->stun_phase_ns = dc_now_ns() - R->t0;
	x->planning_ns = R->t0 - start;
	const struct dc_prober_stats *ps = dc_prober_stats(R->p);
	x->first_probe_ns = ps->first_send_ns > R->t0 ? ps->first_send_ns - R->t0 : 0;
	x->stopped_early = R->timer_armed && R->sets_done < R->nsets;
	x->enough_regions = o->measure_all ? DC_NETCHECK_ENOUGH_REGIONS_VERBOSE : DC_NETCHECK_ENOUGH_REGIONS;
	x->stats = *dc_prober_stats(R->p);
	res->report.mapping_varies_by_dest_ip = dc_netcheck_mapping_varies(R->v4maps, R->nv4maps);
	conclude_nodes(R);
	classify_nat(R);
}

/* HTTPS per region (the fallback when UDP is blocked, or --check-derp); one pass can serve both. */
static void https_phase(struct run *R, bool fallback, uint64_t deadline)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_result *res = R->res;
	struct dc_netcheck_extra *x = &res->extra;
	logf_(o, fallback ? "UDP is blocked, trying HTTPS" : "checking every region's DERP port over HTTPS");
	run_https(R, fallback && !o->check_derp, deadline);
	x->https_fallback_ran = fallback;
	x->check_derp_ran = o->check_derp;
	if (!fallback || !o->check_derp)
		return;
	for (size_t i = 0; i < x->https_count; i++) /* one pass served both: feed the report */
		if (x->https[i].ok) {
			dc_latency_map_add(&res->report.latency, x->https[i].region_id, (int64_t)x->https[i].latency_ns);
			if (x->https[i].family == 6)
				res->report.ipv6 = true;
			else
				res->report.ipv4 = true;
		}
}

/*
 * After the STUN phase, until the report's deadline: the other ports of failed nodes and
 * ICMP when UDP is blocked (threads), beside the HTTPS checks; then hairpin if asked.
 */
static void after_stun(struct run *R, uint64_t start)
{
	const struct dc_netcheck_opts *o = R->o;
	struct dc_netcheck_result *res = R->res;
	struct dc_netcheck_extra *x = &res->extra;
	uint64_t deadline = start + o->report_timeout_ns;
	bool fallback = !res->report.udp && !o->no_https_fallback && o->map;
	struct guess_job gj;
	struct icmp_job ij = {0};
	pthread_t g_th, i_th;
	bool g_started = false, i_started = false;
	plan_guesses(R, &gj, deadline);
	if (gj.n && dc_now_ns() < deadline) {
		x->guess_ran = true;
		g_started = pthread_create(&g_th, NULL, guess_thread, &gj) == 0;
		if (!g_started)
			guess_thread(&gj);
	}
	if (fallback && dc_now_ns() < deadline) {
		plan_icmp(R, &ij, deadline);
		if (ij.n) {
			i_started = pthread_create(&i_th, NULL, icmp_thread, &ij) == 0;
			if (!i_started)
				icmp_thread(&ij);
		}
	}
	if ((fallback || o->check_derp) && o->map && dc_now_ns() < deadline)
		https_phase(R, fallback, deadline);
	if (g_started)
		pthread_join(g_th, NULL);
	if (i_started)
		pthread_join(i_th, NULL);
	if (ij.n)
		apply_icmp(R, &ij);
	if (o->hairpin)
		hairpin(R);
}

static void run_free(struct run *R)
{
	dc_prober_free(R->p);
	free(R->info);
	free(R->sets);
	free(R->has_probe);
	free(R->region_node);
	free(R->plan_first);
	free(R->plan_answer);
	free(R->v4maps);
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

	struct side sd = {.R = &R};
	struct side_threads side = {0};
	start_side_checks(&R, &sd, &side);
	schedule(&R);
	logf_(&o, "full report: %zu probe sets over %zu regions, %zu node probes", R.nsets,
	      o.map ? o.map->region_count : 0, R.nodes_open);
	int rc = 0;
	if (R.nsets == 0 && R.nodes_open == 0) {
		/* nothing to probe */
	} else if (dc_prober_run(R.p, R.t0 + o.stun_phase_ns, on_done, &R, err) < 0) {
		rc = -1;
	}
	conclude_stun(&R, start);
	if (rc == 0)
		after_stun(&R, start);
	dc_netcheck_judge_udp(res, o.stun_phase_ns);
	finish_side_checks(&R, &sd, &side);
	res->report.preferred_derp = dc_netcheck_pick_home(&res->report, o.map, o.previous_home);
	clock_gettime(CLOCK_REALTIME, &res->report.now);
	dc_netcheck_judge(&o, res);
	res->extra.elapsed_ns = dc_now_ns() - start;
	run_free(&R);
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
