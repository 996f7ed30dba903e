/*
 * Probing the likely forwarded STUN ports of a node whose STUNPort failed (see
 * include/derpcheck/probe/stunguess.h).
 */
#include "derpcheck/probe/stunguess.h"

#include <stdio.h>
#include <string.h>

/* Another node's STUN server listens at (its map address, its port): not a forwarding. */
static bool belongs_to_other_node(const struct dc_derp_node *other, const struct dc_endpoint *addr)
{
	struct dc_endpoint ip;
	const char *field = addr->family == 6 ? other->ipv6 : other->ipv4;
	return field && dc_ip_parse(field, addr->family, &ip) == 0 && dc_ip_equal(&ip, addr);
}

static void add_port(struct dc_stun_guess *g, int port, unsigned why, const char *other, size_t limit)
{
	if (port <= 0 || port > 65535 || port == g->addr.port)
		return;
	for (size_t i = 0; i < g->nports; i++)
		if (g->ports[i].port == port) {
			if ((why & DC_GUESS_OTHER_NODE) && !(g->ports[i].why & DC_GUESS_OTHER_NODE))
				g->ports[i].other_node = other;
			g->ports[i].why |= why;
			return;
		}
	if (g->nports >= limit)
		return;
	struct dc_stun_guess_port *p = &g->ports[g->nports++];
	memset(p, 0, sizeof(*p));
	p->port = (uint16_t)port;
	p->why = why;
	p->other_node = other;
	p->status = DC_PROBE_WAITING;
}

static void add_region_ports(struct dc_stun_guess *g, const struct dc_derp_region *rg, const struct dc_derp_node *node,
			     size_t limit)
{
	for (size_t i = 0; i < rg->node_count; i++) {
		const struct dc_derp_node *o = &rg->nodes[i];
		if (o == node || belongs_to_other_node(o, &g->addr))
			continue;
		add_port(g, dc_node_stun_port(o), DC_GUESS_OTHER_NODE, o->name ? o->name : "", limit);
	}
}

void dc_stun_guess_plan(struct dc_stun_guess *g, const struct dc_derpmap *map, const struct dc_derp_node *node,
			const struct dc_endpoint *addr, const uint16_t *user, size_t nuser)
{
	memset(g, 0, sizeof(*g));
	g->node = node;
	g->addr = *addr;
	g->answered = -1;
	if (nuser > DC_STUN_GUESS_MAX_USER)
		nuser = DC_STUN_GUESS_MAX_USER;
	/* Room is kept for every user port; the map's guesses fill the rest. */
	size_t limit = DC_STUN_GUESS_MAX_PORTS - nuser;
	add_port(g, DC_STUN_DEFAULT_PORT, DC_GUESS_DEFAULT, NULL, limit);
	if (node && !node->stun_only)
		add_port(g, dc_node_derp_port(node), DC_GUESS_DERP_PORT, NULL, limit);
	const struct dc_derp_region *own = NULL;
	for (size_t r = 0; map && node && r < map->region_count && !own; r++)
		for (size_t i = 0; i < map->regions[r].node_count; i++)
			if (&map->regions[r].nodes[i] == node)
				own = &map->regions[r];
	if (own)
		add_region_ports(g, own, node, limit);
	for (size_t r = 0; map && r < map->region_count; r++)
		if (&map->regions[r] != own && !map->regions[r].removed)
			add_region_ports(g, &map->regions[r], node, limit);
	for (size_t i = 0; i < nuser; i++)
		add_port(g, user[i], DC_GUESS_USER, NULL, DC_STUN_GUESS_MAX_PORTS);
}

int dc_stun_guess_run(struct dc_stun_guess *gs, size_t n, uint64_t timeout_ns, struct dc_error *err)
{
	bool want[2] = {false, false};
	for (size_t i = 0; i < n; i++)
		if (gs[i].nports)
			want[gs[i].addr.family == 6] = true;
	if (!want[0] && !want[1])
		return 0;
	struct dc_prober_config cfg = {.want4 = want[0], .want6 = want[1]};
	struct dc_prober *p = dc_prober_new(&cfg, err);
	if (!p)
		return -1;
	uint64_t t0 = dc_now_ns();
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < gs[i].nports; k++) {
			struct dc_probe_spec sp = {
				.dst = gs[i].addr, .style = DC_STUN_STYLE_TAILSCALE, .start_ns = t0, .tries = 2,
				.rto_ns = timeout_ns / 2, .timeout_ns = timeout_ns,
			};
			sp.dst.port = gs[i].ports[k].port;
			gs[i].probe_id[k] = dc_prober_add(p, &sp);
		}
	int rc = dc_prober_run(p, t0 + timeout_ns + 1000000u, NULL, NULL, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct dc_stun_guess *g = &gs[i];
		g->ran = g->nports > 0;
		for (size_t k = 0; k < g->nports; k++) {
			const struct dc_probe_result *r = dc_prober_result(p, g->probe_id[k]);
			struct dc_stun_guess_port *gp = &g->ports[k];
			gp->status = r->status;
			gp->rtt_ns = r->rtt_ns;
			gp->port_closed = r->status == DC_PROBE_UNREACHABLE && r->icmp_port_closed;
			gp->icmp_from = r->status == DC_PROBE_UNREACHABLE ? r->icmp_from : (struct dc_endpoint){0};
			snprintf(gp->detail, sizeof(gp->detail), "%.190s", r->detail);
			if (r->status == DC_PROBE_OK && g->answered < 0)
				g->answered = (int)k;
		}
	}
	dc_prober_free(p);
	return rc;
}
