/*
 * Where does a node's STUN answer when its STUNPort does not? A self-hoster's usual
 * mistake is a port forwarding (Docker's `-p 3478:38893/udp`, a NAT rule, a cloud load
 * balancer) that exposes derper's STUN on another port than the map says. This module
 * plans and runs Tailscale-style binding requests to the likely ports of the node's own
 * address — 3478 (derper's default -stun-port), the node's DERPPort over UDP, the other
 * nodes' STUNPorts, and ports the user names (--stun-port-guess) — and records what
 * each one did: answered, closed (ICMP port unreachable), another ICMP error, or
 * silence. Every port tried is kept, so the report can always say which were tried.
 * Core only: the words are the judge's (judge/udpverdict.h).
 */
#ifndef DERPCHECK_STUNGUESS_H
#define DERPCHECK_STUNGUESS_H

#include "derpcheck/input/derpmap.h"
#include "derpcheck/probe/prober.h"

#define DC_STUN_GUESS_MAX_PORTS 16
#define DC_STUN_GUESS_MAX_USER 8

/* Why a port is tried (bits: one port can have several reasons). */
#define DC_GUESS_DEFAULT (1u << 0)    /* 3478, derper's default -stun-port */
#define DC_GUESS_DERP_PORT (1u << 1)  /* the node's DERPPort, over UDP */
#define DC_GUESS_OTHER_NODE (1u << 2) /* another node's STUNPort */
#define DC_GUESS_USER (1u << 3)       /* --stun-port-guess */

struct dc_stun_guess_port {
	uint16_t port;
	unsigned why;               /* DC_GUESS_* */
	const char *other_node;     /* DC_GUESS_OTHER_NODE: the first such node's Name */
	enum dc_probe_status status; /* DC_PROBE_WAITING: not run */
	uint64_t rtt_ns;
	bool port_closed;           /* ICMP port unreachable */
	struct dc_endpoint icmp_from; /* who sent the ICMP error (family 0: none) */
	char detail[200];           /* the prober's words when it failed */
};

struct dc_stun_guess {
	const struct dc_derp_node *node;
	struct dc_endpoint addr;    /* the node's address; .port is the map's STUNPort */
	struct dc_stun_guess_port ports[DC_STUN_GUESS_MAX_PORTS];
	size_t nports;
	bool ran;
	int answered;               /* index of the first port that answered, -1 none */
	size_t probe_id[DC_STUN_GUESS_MAX_PORTS]; /* internal */
};

/*
 * The ports to try for node at addr (addr.port: the port that failed), in this order:
 * 3478, the DERPPort, the STUNPorts of the region's other nodes, then of the map's other
 * regions, then user[0..nuser). Duplicates merge their reasons; the failed port itself is
 * never tried again. Another node's STUNPort is left out when that node's map address is
 * addr's own IP: an answer there would be that node's STUN server, not a forwarding.
 * user ports are always kept; the others are cut to fit DC_STUN_GUESS_MAX_PORTS.
 */
void dc_stun_guess_plan(struct dc_stun_guess *g, const struct dc_derpmap *map, const struct dc_derp_node *node,
			const struct dc_endpoint *addr, const uint16_t *user, size_t nuser);

/*
 * Probe every planned port of guesses[0..n) at once over one prober: two Tailscale-style
 * transmissions per port (at 0 and timeout/2), each port done at its first answer or
 * ICMP error, everything by timeout_ns. Returns -1 with err only when no socket could be
 * opened; then nothing ran.
 */
int dc_stun_guess_run(struct dc_stun_guess *guesses, size_t n, uint64_t timeout_ns, struct dc_error *err);

#endif
