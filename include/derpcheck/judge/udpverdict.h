/*
 * What STUN evidence says about UDP, in words that name the evidence. Silence, an ICMP
 * port unreachable and an answer on another port are three different facts:
 *   - nothing came back from anywhere, no ICMP error: no UDP at all (or every server down);
 *   - an ICMP port unreachable came back: UDP got through to that host, and nothing
 *     listens on the map's STUN port there;
 *   - derper's STUN answers on another port than the map's (a forwarding mistake);
 *   - one node is silent while others answer: UDP works here, that node does not.
 * Tailscale's own report only says "UDP: false" for all of them; netcheck, diagnose and
 * stun use these verdicts beside it. The port named is always the map's (or the one
 * asked), never an assumed 3478. Core only: nothing is printed here.
 */
#ifndef DERPCHECK_UDPVERDICT_H
#define DERPCHECK_UDPVERDICT_H

#include "derpcheck/probe/prober.h"
#include "derpcheck/probe/stunguess.h"

enum dc_udp_verdict {
	DC_UDP_NOT_PROBED,     /* no STUN server could be asked */
	DC_UDP_WORKS,          /* a STUN server answered on the port asked */
	DC_UDP_STUN_ELSEWHERE, /* none on the map's ports, but derper's STUN answered on another port */
	DC_UDP_STUN_CLOSED,    /* no answer, but an ICMP port unreachable proves UDP got through */
	DC_UDP_REJECTED,       /* no answer; other ICMP errors (a firewall rejects, no route) */
	DC_UDP_SEND_FAILED,    /* this machine refused to send */
	DC_UDP_BLOCKED,        /* nothing came back from anywhere: no UDP */
};

/* One STUN destination (a node and family, or a host) as the verdicts need it. */
struct dc_udp_evidence {
	const char *name;            /* node Name, or the host as given */
	struct dc_endpoint addr;     /* ip:port asked (the map's STUNPort) */
	enum dc_probe_status status; /* of its Tailscale-style probe(s) */
	unsigned sent;               /* requests sent */
	uint64_t waited_ns;          /* how long it was given */
	bool port_closed;            /* ICMP port unreachable */
	struct dc_endpoint icmp_from; /* who sent the ICMP error (family 0: none) */
	const char *detail;          /* the prober's words for a failure */
	bool other_reply;            /* something answered but not usably (plain STUN only, error response) */
	const struct dc_stun_guess *guess; /* the other ports tried, or NULL */
};

struct dc_udp_summary {
	enum dc_udp_verdict verdict;
	size_t probed, answered, closed, rejected, send_failed, silent, elsewhere;
	const struct dc_udp_evidence *example; /* the destination the verdict names (NULL for works) */
	char ports[120];                      /* the STUN ports asked, ascending: "3478, 38893" */
	uint16_t port_list[16];               /* the same as numbers (the first 16) */
	size_t nport_list;
};

/* Counts and the verdict over every destination asked. */
void dc_udp_summarize(const struct dc_udp_evidence *ev, size_t n, struct dc_udp_summary *out);

/* "works", "stun-elsewhere", "stun-closed", "rejected", "send-failed", "blocked", "not-probed". */
const char *dc_udp_verdict_key(enum dc_udp_verdict v);

/* One sentence on the whole run, and what to do (both name the evidence and the ports). */
void dc_udp_verdict_text(const struct dc_udp_summary *s, char *buf, size_t n);
void dc_udp_verdict_hint(const struct dc_udp_summary *s, char *buf, size_t n);

/*
 * Why one destination failed, from its evidence: "STUN port 38893 is closed: ICMP port
 * unreachable from 127.0.0.1 (UDP reaches the host, nothing listens there)", "no reply on
 * UDP 38893 (3 requests in 3000ms, no ICMP error) while other nodes answer: ...", and with
 * a guess that answered, "STUN answers on 3478, not on 38893 (...)". others_answer: some
 * other destination of the run answered STUN.
 */
void dc_udp_failure_text(const struct dc_udp_evidence *e, bool others_answer, char *buf, size_t n);

/* What to change for a destination that failed, matching dc_udp_failure_text's cause. */
void dc_udp_failure_fix(const struct dc_udp_evidence *e, char *buf, size_t n);

/* "closed (ICMP port unreachable)", "no reply", "STUN answers in 0.3ms", ... for one port. */
void dc_stun_guess_port_result(const struct dc_stun_guess *g, const struct dc_stun_guess_port *p, char *buf,
			       size_t n);
/* Why the port was tried: "default STUN port", "DERPPort", "900b's STUNPort", "--stun-port-guess". */
void dc_stun_guess_port_why(const struct dc_stun_guess_port *p, char *buf, size_t n);
/* Every port tried and what it did: "3478 (default STUN port): closed (ICMP port unreachable); ..." */
void dc_stun_guess_tried(const struct dc_stun_guess *g, char *buf, size_t n);
/* "3478, 33657 and 40000" (for "none of ... answered"). */
void dc_stun_guess_port_list(const struct dc_stun_guess *g, char *buf, size_t n);

/*
 * STUN answers on another port than the map's: the cause ("STUN answers on 3478, not on
 * 38893 (38893: closed, ICMP port unreachable): ...") and the fix ("set STUNPort to 3478
 * in the derpMap, or publish 38893/udp"). map_evidence says what the map's port did.
 */
void dc_udp_wrong_port_text(int answered_port, int map_port, const char *map_evidence, char *cause, size_t ncause,
			    char *fix, size_t nfix);

/* What the map's port did, short: "closed, ICMP port unreachable", "no reply", the ICMP text. */
void dc_udp_port_evidence(const struct dc_udp_evidence *e, char *buf, size_t n);

#endif
