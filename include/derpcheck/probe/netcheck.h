/*
 * netcheck: the measurement behind `derpcheck netcheck` and `derpcheck status --netcheck`.
 * It runs Tailscale's full-report probe plan (protocols.md §3.2) over the STUN prober
 * (one UDP socket per family), with Tailscale's timers and early stop, and fills the
 * Tailscale-compatible dc_netreport. Beyond Tailscale it records, in struct
 * dc_netcheck_extra: every node's own result per family (one extra probe per node, so a
 * dead node is named even when its region answered), the likely forwarded ports of a
 * node whose STUNPort failed (probe/stunguess.h), a verdict on UDP from that evidence
 * (judge/udpverdict.h: no UDP at all, STUN port closed, STUN elsewhere), the NAT's
 * mapping behaviour in RFC 4787 terms, an optional hairpin test, the HTTPS/DERP-port
 * check per region, ICMP echo latency when UDP is blocked (as Tailscale, §3.4), the
 * port-mapping and captive-portal details, and findings. Nothing here prints.
 */
#ifndef DERPCHECK_NETCHECK_H
#define DERPCHECK_NETCHECK_H

#include "derpcheck/probe/captive.h"
#include "derpcheck/probe/derpconn.h"
#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/findings.h"
#include "derpcheck/judge/trust.h"
#include "derpcheck/judge/udpverdict.h"
#include "derpcheck/probe/icmp.h"
#include "derpcheck/output/netreport.h"
#include "derpcheck/probe/portmap.h"
#include "derpcheck/probe/prober.h"
#include "derpcheck/net/resolve.h"

/* Tailscale's constants (protocols.md §3.2). */
#define DC_NETCHECK_REPORT_TIMEOUT_MS 5000
#define DC_NETCHECK_STUN_PHASE_MS 3000
#define DC_NETCHECK_PROBE_SPACING_MS 100
#define DC_NETCHECK_ENOUGH_REGIONS 3
#define DC_NETCHECK_ENOUGH_REGIONS_VERBOSE 100
#define DC_NETCHECK_MAX_EXTRA 8

/* One log line (a probe sent, answered, failed, a phase started); the caller prints it. */
typedef void (*dc_netcheck_log_fn)(void *user, const char *line);

struct dc_netcheck_opts {
	const struct dc_derpmap *map;
	int family;                          /* 0 both, 4 or 6 */
	const struct dc_endpoint *bind_addr; /* NULL: the wildcard */
	uint16_t bind_port;
	bool measure_all;      /* --verbose: "enough regions" is 100, as in Tailscale */
	bool no_portmap;
	const char *route_path; /* /proc/net/route unless set (tests) */
	struct dc_portmap_opts portmap;
	bool no_captive;
	uint16_t captive_port;  /* 0: 80 */
	bool hairpin;
	bool check_derp;        /* TCP+TLS+/derp/latency-check per region even when UDP works */
	bool derp_handshake;    /* ... and the DERP handshake over transport (--transport given) */
	enum dc_derp_transport transport;
	bool no_https_fallback;
	const char *ca_file;
	bool insecure;          /* connect whatever the certificate (it is judged all the same) */
	const char *map_spec;   /* --derp-map for the commands hints print (dc_map_spec_for_command); NULL: none */
	const char *map_format; /* --map-format for them when not auto, else NULL */
	const char *extra_stun[DC_NETCHECK_MAX_EXTRA]; /* HOST[:PORT] */
	size_t extra_count;
	uint64_t stun_phase_ns;     /* 0: 3 s */
	uint64_t report_timeout_ns; /* 0: 5 s */
	int64_t previous_home;      /* --every: the last report's home (hysteresis), 0 none */
	const uint16_t *stun_port_guess; /* --stun-port-guess: more ports to try when a STUNPort fails */
	size_t stun_port_guess_count;
	struct dc_icmp_opts icmp;   /* which ICMP socket kinds may be tried (tests) */
	dc_netcheck_log_fn log;
	void *log_user;
};

/* A node (or --extra-stun host) and family: what its own probe found. */
struct dc_netcheck_node {
	const struct dc_derp_node *node; /* NULL for an --extra-stun host */
	const char *name;                /* node Name or the HOST[:PORT] text */
	int64_t region_id;               /* 0 for --extra-stun */
	int family;
	uint16_t port;
	struct dc_resolved addr;
	bool skipped;                    /* not probed: skip_reason */
	char skip_reason[160];
	enum dc_probe_status status;     /* of the Tailscale-style probe */
	bool stopped_early;              /* cancelled when the report stopped */
	uint64_t rtt_ns;
	bool has_mapped;
	struct dc_endpoint mapped;
	bool plain_only;                 /* no answer, but a bare RFC 5389 request was answered */
	unsigned sent;                   /* requests of its own probe */
	bool port_closed;                /* an ICMP port unreachable came back */
	struct dc_endpoint icmp_from;    /* who sent the ICMP error (family 0: none) */
	char detail[200];                /* the prober's words for the failure */
	struct dc_stun_guess *guess;     /* the other ports tried when this one failed, or NULL */
	char why[640];                   /* why it failed, in words ("" when it answered) */
	/* prober ids */
	size_t probe_id, plain_id;
	bool has_plain;
};

/* RFC 4787 §4.1 mapping behaviour, as far as the servers' replies can tell. */
enum dc_nat_mapping {
	DC_NAT_UNKNOWN,            /* fewer than two distinct server addresses answered */
	DC_NAT_NONE,               /* the mapped address is this machine's own: no NAT */
	DC_NAT_ENDPOINT_INDEPENDENT,
	DC_NAT_ADDRESS_DEPENDENT,  /* varies by destination IP, same for ports of one IP */
	DC_NAT_ADDRESS_PORT_DEPENDENT, /* varies by destination port of the same IP too */
	DC_NAT_DEPENDENT,          /* varies by destination IP; no two ports of one IP to tell which */
};

struct dc_netcheck_https {
	int64_t region_id;
	const struct dc_derp_node *node; /* the first non-STUNOnly node */
	bool ok;
	uint64_t latency_ns;     /* request sent to response headers (Tailscale's figure) */
	uint64_t connect_ns;     /* TCP + TLS */
	int http_status;
	int family;
	char peer[64];
	char error[320];
	bool trust_judged;          /* a TLS handshake completed: what clients make of the certificate */
	struct dc_trust_verdict trust;
	/* the DERP handshake with --check-derp --transport */
	bool derp_tried, derp_ok;
	const char *transport;      /* the transport that carried it (dc_derp_transport_name) */
	char transport_how[96];     /* "WebSocket (auto: the DERP upgrade failed)" */
	char derp_error[320];
};

/* ICMPv4 echo to a region's first node when UDP is blocked (§3.4). */
struct dc_netcheck_icmp {
	int64_t region_id;
	const struct dc_derp_node *node;
	bool pinged;                     /* false: not pinged, target.error says why */
	struct dc_icmp_target target;
};

struct dc_netcheck_extra {
	struct dc_netcheck_node *nodes;
	size_t node_count;
	enum dc_nat_mapping nat;
	char nat_detail[400];
	size_t nat_servers;       /* distinct IPv4 server addresses that answered */
	bool has_local4;
	struct dc_endpoint local4; /* this machine's address and port toward the servers */
	enum dc_optbool hairpin;  /* unset: not run */
	char hairpin_detail[200];
	/* derpcheck's UDP verdict from the evidence (Tailscale's UDP field stays as it computes it) */
	enum dc_udp_verdict udp_verdict;
	char udp_detail[500];
	char udp_hint[400];
	uint16_t stun_ports[16];  /* the STUN ports asked, ascending */
	size_t stun_port_count;
	bool guess_ran;           /* other ports were tried for failed nodes */
	struct dc_stun_guess *guesses; /* nodes[].guess point into it */
	size_t guess_count;
	bool icmp_ran;            /* the ICMP fallback was attempted (see icmp.skipped) */
	struct dc_icmp_run icmp;
	struct dc_netcheck_icmp *icmp_targets;
	size_t icmp_count;
	bool https_fallback_ran;
	bool check_derp_ran;
	struct dc_netcheck_https *https;
	size_t https_count;
	bool portmap_ran;
	char portmap_note[200];
	struct dc_gateway gateway;
	struct dc_portmap_result portmap;
	bool captive_ran;
	char captive_note[200];
	struct dc_captive_result captive;
	bool stopped_early;       /* the "enough regions" timer ended the STUN phase */
	unsigned enough_regions;
	uint64_t stun_phase_ns;   /* how long the STUN phase took */
	uint64_t planning_ns;     /* from the start of the run to the STUN phase (sockets, addresses, plan) */
	uint64_t first_probe_ns;  /* from the start of the STUN phase to the first datagram sent */
	uint64_t elapsed_ns;
	struct dc_prober_stats stats;
	struct dc_findings findings;
};

struct dc_netcheck_result {
	struct dc_netreport report;
	struct dc_netcheck_extra extra;
};

/*
 * Run one full report. Returns -1 with err only when nothing could be measured at all
 * (a --bind-address that is not ours, no UDP socket of any family and no fallback);
 * everything else is in the result.
 */
int dc_netcheck_run(const struct dc_netcheck_opts *opts, struct dc_netcheck_result *res, struct dc_error *err);
void dc_netcheck_result_free(struct dc_netcheck_result *res);

/* Whether netcheck measures a region: not removed, with nodes, and not NoMeasureNoHome. */
bool dc_netcheck_region_measured(const struct dc_derp_region *rg);

#endif
