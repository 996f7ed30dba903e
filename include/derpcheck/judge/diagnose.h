/*
 * `derpcheck diagnose REGION`: one region of a DERP map checked end to end, node by node,
 * the way a Tailscale client uses it — the map entry, DNS against the map's addresses,
 * STUN on STUNPort per family, TCP and TLS to DERPPort with the certificate judged as
 * Tailscale judges it, derper's HTTP endpoints, the DERP handshake, a relayed ping
 * between two clients and the mesh between every pair of nodes — and two verdicts: can
 * clients learn their endpoints through STUN, and can they relay through DERP.
 *
 * Every check is a plain struct with a status, a one-line cause and a one-line fix, so
 * the output module renders the same result as a checklist, JSON or Prometheus gauges.
 * When STUN fails on STUNPort, the likely forwarded ports are probed (probe/stunguess.h:
 * 3478, the DERP port over UDP, the other nodes' STUNPorts, --stun-port-guess) so a NAT
 * or Docker port mapping that points elsewhere is named, and the ports tried are listed.
 * Core only: nothing is printed here.
 */
#ifndef DERPCHECK_DIAGNOSE_H
#define DERPCHECK_DIAGNOSE_H

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/findings.h"
#include "derpcheck/judge/revocation.h"
#include "derpcheck/probe/derpconn.h"
#include "derpcheck/probe/derpping.h"
#include "derpcheck/probe/meshwatch.h"
#include "derpcheck/judge/trust.h"
#include "derpcheck/probe/stunguess.h"

enum dc_check_status {
	DC_CHECK_OK,
	DC_CHECK_WARN,
	DC_CHECK_FAIL,
	DC_CHECK_SKIP, /* not applicable, or not possible after an earlier failure */
	DC_CHECK_INSECURE, /* passes for clients only because InsecureForTests turns certificate checks off */
};

/* Which verdict a check counts towards. */
enum dc_diag_path {
	DC_PATH_MAP,
	DC_PATH_STUN,
	DC_PATH_DERP,
};

/* Stable check identifiers (JSON "check", Prometheus label check=...). */
#define DC_DIAG_MAP "map"
#define DC_DIAG_DNS4 "dns-ipv4"
#define DC_DIAG_DNS6 "dns-ipv6"
#define DC_DIAG_STUN4 "stun-ipv4"
#define DC_DIAG_STUN6 "stun-ipv6"
#define DC_DIAG_TCP4 "tcp-ipv4"
#define DC_DIAG_TCP6 "tcp-ipv6"
#define DC_DIAG_TLS "tls"
#define DC_DIAG_CERT "certificate"
#define DC_DIAG_REVOCATION "revocation"
#define DC_DIAG_HTTP_HOME "http-home"
#define DC_DIAG_HTTP_PROBE "http-probe"
#define DC_DIAG_HTTP_204 "http-generate-204"
#define DC_DIAG_HTTP_PORT80 "http-port80"
#define DC_DIAG_HANDSHAKE "derp-handshake"
#define DC_DIAG_RELAY "relay"
#define DC_DIAG_MESH "mesh"
#define DC_DIAG_RELAY_LOAD "relay-load" /* with --load-rate: one second of load through the node */
#define DC_DIAG_MESH_PRESENCE "mesh-presence" /* with --mesh-psk-file: who lists whose mesh client */

struct dc_diag_check {
	const char *id;              /* DC_DIAG_* */
	enum dc_diag_path path;
	enum dc_check_status status;
	const char *code;            /* a finding code (docs/json.md) when not ok; else NULL */
	char summary[400];           /* what was seen, one line */
	char cause[700];             /* FAIL/WARN: why, one line */
	char fix[1400];              /* FAIL/WARN: what to change; a proxy's fix adds one line per proxy ('\n') */
	char tried[700];             /* STUN checks: the other ports tried and what each did, or "" */
	char evidence[1600];         /* what was sent and what came back, a line per fact ('\n' between):
					shown by -v, JSON "evidence" */
	double ms;                   /* the check's own timing (RTT, connect time); < 0: none */
	const char *pair[2];         /* mesh checks: the two nodes' Names */
	unsigned sent, received;     /* STUN requests, relayed packets: sent and answered (0, 0: not counted) */
};

#define DC_DIAG_MAX_CHECKS 32

struct dc_diag_node {
	const struct dc_derp_node *node;
	struct dc_diag_check checks[DC_DIAG_MAX_CHECKS];
	size_t count;
	/* facts that JSON and Prometheus carry besides the checks */
	bool have_server_key;
	char server_key[80];         /* "nodekey:..." */
	bool stun_alt_found;         /* STUN answered on a port other than STUNPort */
	int stun_alt_port;
	/* what is in front of derper (judge/proxy.h), when TCP to DERPPort worked */
	bool proxy_probed;
	const char *front;           /* dc_proxy_front_name */
	const char *proxy_kind;      /* dc_proxy_kind_name */
	char proxy_who[96];
	char alpn_chosen[32];        /* offered h2,http/1.1; "" none */
	bool derp_upgrade_ok, websocket_ok;
	size_t server_keys;          /* distinct server keys met on all connections */
	const char *transport;       /* the handshake's transport (dc_derp_transport_name); NULL if none */
	char transport_note[400];    /* --transport auto fell back to WebSocket: why */
	enum dc_trust trust;         /* what clients make of the certificate (unknown: not judged) */
	bool have_leaf;              /* a leaf certificate was served (monitoring: its expiry) */
	int64_t leaf_not_after;      /* its notAfter, Unix seconds */
	struct dc_revocation revocation; /* the leaf's OCSP status (attempted: a chain was captured) */
	struct dc_stun_guess stun_guess[2]; /* [0] IPv4, [1] IPv6: ports tried when STUNPort failed (nports 0: none) */
	/* with --mesh-psk-file: what WatchConns with the mesh key gave (probe/meshwatch.h) */
	enum dc_mesh_watch_result mesh_watch; /* NOT_RUN without a mesh key */
	size_t mesh_clients;         /* clients it listed, derpcheck's own excluded */
	/* with --load-rate: the load step through the node, A to B, one way (probe/derpping.h) */
	bool load_ran;
	struct dc_load_step load;    /* its steps pointer is not kept */
	size_t load_size;            /* bytes per packet */
};

enum dc_verdict {
	DC_VERDICT_OK,      /* every node works */
	DC_VERDICT_DEGRADED, /* works through some nodes or families, not all */
	DC_VERDICT_BROKEN,  /* no node works */
	DC_VERDICT_NA,      /* the region does not offer this (STUN disabled, STUNOnly) */
	DC_VERDICT_INSECURE, /* clients relay, but only with certificate checks off (InsecureForTests; judge/trust.h) */
};

struct dc_diag_opts {
	const char *map_name;        /* the map as the user named it (fix texts, cert commands) */
	const char *map_format;      /* --map-format when not auto, repeated in those commands */
	const char *ca_file;         /* replaces the system trust store */
	int family;                  /* 0 both, 4 or 6 */
	long timeout_ms;             /* per network step (default 3 s) */
	unsigned ping_count;         /* relayed pings per client pair (default 3) */
	enum dc_derp_transport transport; /* of the handshake, relay and mesh checks (default derp) */
	const struct dc_derpmap *defaults; /* Tailscale's default map for the validate rules; may be NULL */
	int cert_warn_days;          /* warn when a certificate expires within this many days (0: 14) */
	const uint16_t *stun_port_guess;   /* --stun-port-guess: more ports to try when STUNPort fails */
	size_t stun_port_guess_count;
	const char *mesh_key;        /* --mesh-psk-file's key (trimmed): watch each node's clients; NULL: not */
	const char *mesh_key_file;   /* its path, for the texts */
	unsigned load_rate_pps;      /* --load-rate: relay this many packets/s for one second per node; 0: not */
};

struct dc_diag_report {
	const struct dc_derp_region *region;
	struct dc_diag_check region_checks[DC_DIAG_MAX_CHECKS]; /* the map's region-level rules, mesh pairs */
	size_t region_count;
	struct dc_diag_node *nodes;
	size_t node_count;
	enum dc_verdict stun, derp;
	char stun_reason[300], derp_reason[300];
	uint64_t elapsed_ns;
	int64_t finished_unix;       /* wall clock when the run ended (Prometheus, JSON) */
	/*
	 * With --mesh-psk-file: mesh_sees[i * node_count + j] is 1 when node i lists node j's
	 * mesh client (j meshes into i), 0 when it does not, -1 when unknown (i or j not
	 * watched); NULL without a mesh key.
	 */
	signed char *mesh_sees;
};

/*
 * Check every node of region (map is the whole decoded map, for the validate rules).
 * Never fails: everything that goes wrong is a check's status. r must be freed.
 */
void dc_diagnose_run(const struct dc_derpmap *map, const struct dc_derp_region *region, const struct dc_diag_opts *opts,
		     struct dc_diag_report *r);
void dc_diag_report_free(struct dc_diag_report *r);

/*
 * The mesh-presence check of the pair a, b (both watched with the mesh key): ok when each
 * lists the other's mesh client; fail "mesh-key-refused" when either closed on WatchConns
 * (key_file names the key given); fail "mesh-split" naming who does not see whom; skip
 * when either could not be asked. c is a fresh check (id, path set).
 */
void dc_diag_mesh_presence_judge(const struct dc_mesh_watch *a, const struct dc_mesh_watch *b, const char *key_file,
				 struct dc_diag_check *c);

/* Checks with this status over the whole report. */
size_t dc_diag_count(const struct dc_diag_report *r, enum dc_check_status st);

/* "ok", "warn", "fail", "skip", "insecure"; "ok", "degraded", "broken", "n/a", "insecure"; "map", "stun", "derp". */
const char *dc_check_status_name(enum dc_check_status st);
const char *dc_verdict_name(enum dc_verdict v);
const char *dc_diag_path_name(enum dc_diag_path p);

#endif
