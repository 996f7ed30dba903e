/*
 * UDP verdicts from STUN evidence (see include/derpcheck/judge/udpverdict.h).
 */
#include "derpcheck/judge/udpverdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append to buf (cut at its size: every text here is one line). */
static void catf(char *buf, size_t n, const char *fmt, ...) DC_PRINTF(3, 4);
static void catf(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strnlen(buf, n);
	if (used + 1 >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

static bool answered_elsewhere(const struct dc_udp_evidence *e)
{
	return e->status != DC_PROBE_OK && e->guess && e->guess->answered >= 0;
}

static int compare_ports(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

void dc_udp_summarize(const struct dc_udp_evidence *ev, size_t n, struct dc_udp_summary *s)
{
	memset(s, 0, sizeof(*s));
	const struct dc_udp_evidence *first[8] = {0};
	enum { K_ELSEWHERE, K_CLOSED, K_OTHER, K_REJECTED, K_SEND, K_SILENT };
	uint16_t *ports = dc_xcalloc(n + 1, sizeof(*ports));
	size_t nports = 0;
	size_t other = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dc_udp_evidence *e = &ev[i];
		s->probed++;
		bool seen = false;
		for (size_t k = 0; k < nports && !seen; k++)
			seen = ports[k] == e->addr.port;
		if (!seen)
			ports[nports++] = e->addr.port;
		int kind;
		if (e->status == DC_PROBE_OK) {
			s->answered++;
			continue;
		} else if (answered_elsewhere(e)) {
			s->elsewhere++, kind = K_ELSEWHERE;
		} else if (e->status == DC_PROBE_UNREACHABLE && e->port_closed) {
			s->closed++, kind = K_CLOSED;
		} else if (e->other_reply) {
			other++, kind = K_OTHER;
		} else if (e->status == DC_PROBE_UNREACHABLE) {
			s->rejected++, kind = K_REJECTED;
		} else if (e->status == DC_PROBE_SEND_FAILED) {
			s->send_failed++, kind = K_SEND;
		} else {
			s->silent++, kind = K_SILENT;
		}
		if (!first[kind])
			first[kind] = e;
	}
	qsort(ports, nports, sizeof(*ports), compare_ports);
	for (size_t k = 0; k < nports; k++) {
		catf(s->ports, sizeof(s->ports), "%s%u", k ? ", " : "", ports[k]);
		if (s->nport_list < DC_ARRAY_LEN(s->port_list))
			s->port_list[s->nport_list++] = ports[k];
	}
	free(ports);
	/* The strongest evidence wins: an answer, then proof that UDP got through, then silence. */
	if (!s->probed)
		s->verdict = DC_UDP_NOT_PROBED;
	else if (s->answered)
		s->verdict = DC_UDP_WORKS;
	else if (s->elsewhere)
		s->verdict = DC_UDP_STUN_ELSEWHERE, s->example = first[K_ELSEWHERE];
	else if (s->closed || other)
		s->verdict = DC_UDP_STUN_CLOSED, s->example = s->closed ? first[K_CLOSED] : first[K_OTHER];
	else if (s->rejected)
		s->verdict = DC_UDP_REJECTED, s->example = first[K_REJECTED];
	else if (s->silent)
		s->verdict = DC_UDP_BLOCKED, s->example = first[K_SILENT];
	else
		s->verdict = DC_UDP_SEND_FAILED, s->example = first[K_SEND];
}

const char *dc_udp_verdict_key(enum dc_udp_verdict v)
{
	switch (v) {
	case DC_UDP_WORKS: return "works";
	case DC_UDP_STUN_ELSEWHERE: return "stun-elsewhere";
	case DC_UDP_STUN_CLOSED: return "stun-closed";
	case DC_UDP_REJECTED: return "rejected";
	case DC_UDP_SEND_FAILED: return "send-failed";
	case DC_UDP_BLOCKED: return "blocked";
	case DC_UDP_NOT_PROBED: break;
	}
	return "not-probed";
}

static bool plural(const char *list)
{
	return strchr(list, ',') != NULL;
}

void dc_udp_port_evidence(const struct dc_udp_evidence *e, char *buf, size_t n)
{
	char from[DC_ENDPOINT_STRLEN];
	buf[0] = '\0';
	if (e->status == DC_PROBE_UNREACHABLE && e->port_closed) {
		catf(buf, n, "closed, ICMP port unreachable");
		if (e->icmp_from.family && !dc_ip_equal(&e->icmp_from, &e->addr))
			catf(buf, n, " from %s", dc_ip_format(&e->icmp_from, from, sizeof(from)));
	} else if (e->status == DC_PROBE_TIMEOUT && !e->other_reply) {
		catf(buf, n, "no reply");
	} else {
		catf(buf, n, "%s", e->detail && e->detail[0] ? e->detail : dc_probe_status_name(e->status));
	}
}

void dc_udp_verdict_text(const struct dc_udp_summary *s, char *buf, size_t n)
{
	const struct dc_udp_evidence *e = s->example;
	char a[DC_ENDPOINT_STRLEN], from[DC_ENDPOINT_STRLEN], ev[240];
	buf[0] = '\0';
	if (e)
		dc_endpoint_format(&e->addr, a, sizeof(a));
	switch (s->verdict) {
	case DC_UDP_NOT_PROBED:
		catf(buf, n, "no STUN server could be asked (STUN is off, or no node has an address of a family probed)");
		return;
	case DC_UDP_WORKS:
		catf(buf, n, "UDP works: %zu of %zu STUN servers asked answered", s->answered, s->probed);
		return;
	case DC_UDP_STUN_ELSEWHERE: {
		const struct dc_stun_guess *g = e->guess;
		char ip[DC_ENDPOINT_STRLEN];
		dc_udp_port_evidence(e, ev, sizeof(ev));
		catf(buf, n,
		     "UDP works, but not on the map's STUN ports: STUN answers on %s:%u, not on %u (%s's STUNPort: %s)",
		     dc_ip_format(&g->addr, ip, sizeof(ip)), g->ports[g->answered].port, e->addr.port, e->name, ev);
		return;
	}
	case DC_UDP_STUN_CLOSED:
		if (e->port_closed)
			catf(buf, n,
			     "UDP gets through, but no STUN server answered: ICMP port unreachable from %s for %s (%s's "
			     "STUNPort), so nothing listens there",
			     e->icmp_from.family ? dc_ip_format(&e->icmp_from, from, sizeof(from)) : "the network", a, e->name);
		else
			catf(buf, n, "UDP gets through, but no STUN server answered Tailscale's request: %s (%s): %s", a, e->name,
			     e->detail ? e->detail : "");
		if (s->probed > 1) {
			catf(buf, n, " (%zu of %zu asked closed", s->closed, s->probed);
			if (s->silent)
				catf(buf, n, ", %zu silent", s->silent);
			catf(buf, n, ")");
		}
		return;
	case DC_UDP_REJECTED:
		catf(buf, n, "no STUN server answered, and ICMP errors came back instead: %s for %s (%s)",
		     e->detail ? e->detail : "an ICMP error", a, e->name);
		return;
	case DC_UDP_SEND_FAILED:
		catf(buf, n, "this machine refused to send UDP: %s", e->detail ? e->detail : "");
		return;
	case DC_UDP_BLOCKED:
		catf(buf, n,
		     "no UDP at all: none of the %zu STUN servers asked answered on UDP (port%s %s) and no ICMP error came "
		     "back",
		     s->probed, plural(s->ports) ? "s" : "", s->ports);
		return;
	}
}

void dc_udp_verdict_hint(const struct dc_udp_summary *s, char *buf, size_t n)
{
	const struct dc_udp_evidence *e = s->example;
	const char *ps = plural(s->ports) ? "s" : "";
	buf[0] = '\0';
	switch (s->verdict) {
	case DC_UDP_NOT_PROBED:
		catf(buf, n, "give the DERP map's nodes a STUNPort and an address (the validate command checks the map)");
		return;
	case DC_UDP_WORKS:
		return;
	case DC_UDP_STUN_ELSEWHERE: {
		const struct dc_stun_guess *g = e->guess;
		catf(buf, n, "set STUNPort to %u for %s in the DERP map, or publish %u/udp to derper's STUN port",
		     g->ports[g->answered].port, e->name, e->addr.port);
		return;
	}
	case DC_UDP_STUN_CLOSED:
		catf(buf, n,
		     "start derper's STUN server on the map's STUNPort (derper -stun -stun-port %u), or set STUNPort to the "
		     "port it uses (--stun-port-guess PORT tries more ports); Tailscale says UDP: false until a STUN "
		     "server answers",
		     e->addr.port);
		return;
	case DC_UDP_REJECTED:
		catf(buf, n,
		     "a firewall or router on the way rejects UDP to the STUN port%s %s: allow outbound UDP there (and to "
		     "peers; tailscaled uses 41641)",
		     ps, s->ports);
		return;
	case DC_UDP_SEND_FAILED:
		catf(buf, n,
		     "a firewall rule on this machine rejects outgoing UDP (see 'nft list ruleset' or 'iptables -S "
		     "OUTPUT'): allow UDP to the STUN port%s %s and to peers (tailscaled uses 41641)",
		     ps, s->ports);
		return;
	case DC_UDP_BLOCKED:
		catf(buf, n,
		     "allow outbound UDP to the DERP servers' STUN port%s %s and to peers (tailscaled uses 41641) in the "
		     "firewall or network you are on; if UDP is allowed here, the STUN servers are down or filtered on "
		     "their side",
		     ps, s->ports);
		return;
	}
}

void dc_udp_wrong_port_text(int answered_port, int map_port, const char *map_evidence, char *cause, size_t ncause,
			    char *fix, size_t nfix)
{
	cause[0] = fix[0] = '\0';
	catf(cause, ncause, "STUN answers on %d, not on %d", answered_port, map_port);
	if (map_evidence && map_evidence[0])
		catf(cause, ncause, " (%d: %s)", map_port, map_evidence);
	catf(cause, ncause,
	     ": clients ask the map's port and get nothing; typical of a forwarding from host port %d to container port %d",
	     answered_port, map_port);
	catf(fix, nfix, "set STUNPort to %d in the derpMap, or publish %d/udp", answered_port, map_port);
}

void dc_stun_guess_port_why(const struct dc_stun_guess_port *p, char *buf, size_t n)
{
	buf[0] = '\0';
	if (p->why & DC_GUESS_DEFAULT)
		catf(buf, n, "default STUN port");
	if (p->why & DC_GUESS_DERP_PORT)
		catf(buf, n, "%sDERPPort", buf[0] ? ", " : "");
	if (p->why & DC_GUESS_OTHER_NODE)
		catf(buf, n, "%s%s's STUNPort", buf[0] ? ", " : "", p->other_node ? p->other_node : "another node");
	if (p->why & DC_GUESS_USER)
		catf(buf, n, "%s--stun-port-guess", buf[0] ? ", " : "");
}

void dc_stun_guess_port_result(const struct dc_stun_guess *g, const struct dc_stun_guess_port *p, char *buf, size_t n)
{
	char from[DC_ENDPOINT_STRLEN];
	buf[0] = '\0';
	switch (p->status) {
	case DC_PROBE_OK:
		catf(buf, n, "STUN answers in %.3fms", (double)p->rtt_ns / 1e6);
		return;
	case DC_PROBE_UNREACHABLE:
		if (p->port_closed) {
			catf(buf, n, "closed (ICMP port unreachable");
			if (p->icmp_from.family && !dc_ip_equal(&p->icmp_from, &g->addr))
				catf(buf, n, " from %s", dc_ip_format(&p->icmp_from, from, sizeof(from)));
			catf(buf, n, ")");
		} else {
			catf(buf, n, "%s", p->detail);
		}
		return;
	case DC_PROBE_TIMEOUT:
		catf(buf, n, "no reply");
		/* Hosts rate-limit their ICMP errors (Linux: icmp_ratelimit): silence next to a
		 * port unreachable from the same host may be just that. */
		for (size_t i = 0; i < g->nports; i++)
			if (g->ports[i].port_closed && dc_ip_equal(&g->ports[i].icmp_from, &g->addr)) {
				catf(buf, n, " (perhaps ICMP rate limiting)");
				break;
			}
		return;
	case DC_PROBE_ERROR_RESPONSE:
		catf(buf, n, "a STUN error response (not derper)");
		return;
	case DC_PROBE_SEND_FAILED:
		catf(buf, n, "not sent: %s", p->detail);
		return;
	default:
		catf(buf, n, "not tried");
	}
}

void dc_stun_guess_tried(const struct dc_stun_guess *g, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; i < g->nports; i++) {
		char why[160], res[240];
		dc_stun_guess_port_why(&g->ports[i], why, sizeof(why));
		dc_stun_guess_port_result(g, &g->ports[i], res, sizeof(res));
		catf(buf, n, "%s%u (%s): %s", i ? "; " : "", g->ports[i].port, why, res);
	}
}

void dc_stun_guess_port_list(const struct dc_stun_guess *g, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; i < g->nports; i++)
		catf(buf, n, "%s%u", i == 0 ? "" : i + 1 == g->nports ? " and " : ", ", g->ports[i].port);
}

void dc_udp_failure_text(const struct dc_udp_evidence *e, bool others_answer, char *buf, size_t n)
{
	char from[DC_ENDPOINT_STRLEN], ev[240];
	buf[0] = '\0';
	if (answered_elsewhere(e)) {
		char fix[200];
		dc_udp_port_evidence(e, ev, sizeof(ev));
		dc_udp_wrong_port_text(e->guess->ports[e->guess->answered].port, e->addr.port, ev, buf, n, fix, sizeof(fix));
		return;
	}
	if (e->status == DC_PROBE_UNREACHABLE && e->port_closed) {
		if (!e->icmp_from.family || dc_ip_equal(&e->icmp_from, &e->addr))
			catf(buf, n,
			     "STUN port %u is closed: ICMP port unreachable from %s (UDP reaches the host, nothing listens "
			     "there)",
			     e->addr.port, dc_ip_format(&e->addr, from, sizeof(from)));
		else
			catf(buf, n,
			     "UDP %u is rejected on the way: ICMP port unreachable from %s, not from the node (a firewall "
			     "that rejects)",
			     e->addr.port, dc_ip_format(&e->icmp_from, from, sizeof(from)));
	} else if (e->status == DC_PROBE_TIMEOUT && !e->other_reply) {
		catf(buf, n, "no reply on UDP %u (%u request%s in %.0fms, no ICMP error)", e->addr.port, e->sent,
		     e->sent == 1 ? "" : "s", (double)e->waited_ns / 1e6);
		if (others_answer)
			catf(buf, n, " while other nodes answer: this node's STUN is down, or UDP %u is filtered on its side",
			     e->addr.port);
	} else {
		catf(buf, n, "%s", e->detail && e->detail[0] ? e->detail : dc_probe_status_name(e->status));
	}
	if (e->guess && e->guess->ran && e->guess->nports) {
		char list[120];
		dc_stun_guess_port_list(e->guess, list, sizeof(list));
		catf(buf, n, "; none of %s answered either", list);
	}
}

void dc_udp_failure_fix(const struct dc_udp_evidence *e, char *buf, size_t n)
{
	unsigned port = e->addr.port;
	buf[0] = '\0';
	if (answered_elsewhere(e)) {
		char cause[8];
		dc_udp_wrong_port_text(e->guess->ports[e->guess->answered].port, (int)port, NULL, cause, sizeof(cause), buf, n);
	} else if (e->status == DC_PROBE_UNREACHABLE && e->port_closed &&
		   (!e->icmp_from.family || dc_ip_equal(&e->icmp_from, &e->addr))) {
		catf(buf, n,
		     "start derper's STUN server on UDP %u (derper -stun -stun-port %u), or set STUNPort to the port it "
		     "listens on (--stun-port-guess PORT tries more ports)",
		     port, port);
	} else if (e->status == DC_PROBE_UNREACHABLE) {
		catf(buf, n,
		     "let UDP %u through the firewall that rejects it, and any NAT or Docker port mapping in front of "
		     "derper (publish %u/udp)",
		     port, port);
	} else if (e->status == DC_PROBE_SEND_FAILED) {
		catf(buf, n,
		     "a firewall rule on this machine rejects outgoing UDP (see 'nft list ruleset' or 'iptables -S "
		     "OUTPUT'): allow UDP to port %u",
		     port);
	} else {
		catf(buf, n,
		     "start derper's STUN server on UDP %u (derper -stun -stun-port %u) and let UDP %u through the "
		     "firewall and any NAT or Docker port mapping (publish %u/udp)",
		     port, port, port, port);
	}
}
