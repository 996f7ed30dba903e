/*
 * Which path each peer takes (direct, peer relay, DERP), and why a peer is not direct.
 *
 * Rules (protocols.md §5.4, wgengine/magicsock): a path is only meaningful for an
 * Active peer (sent to within 45 s). Then CurAddr set = direct; PeerRelay set = peer
 * relay (1.86+); neither = DERP through the peer's home region (Relay). The reason for
 * a relayed peer is inferred only from facts the Status carries, and says so when it
 * cannot tell: this node's own endpoints (Self.Addrs: all private means STUN found no
 * public address, i.e. UDP is blocked here), the peer's advertised endpoints (only old
 * daemons report them), its handshake, key expiry and online state.
 */
#ifndef DERPCHECK_PEERPATH_H
#define DERPCHECK_PEERPATH_H

#include "derpcheck/input/derpmap.h"
#include "derpcheck/input/status.h"

/* tailscaled calls a peer active when it sent to it this recently (magicsock). */
#define DC_ACTIVE_WINDOW_S 45
/* Daemons without "Active": a handshake this recent means traffic (WireGuard rekeys every 2 min). */
#define DC_INFERRED_ACTIVE_S 180

enum dc_peer_state {
	DC_PEER_DIRECT,
	DC_PEER_RELAYED, /* through DERP or a peer relay */
	DC_PEER_NO_PATH, /* active, yet neither a direct address, a peer relay nor a DERP region */
	DC_PEER_IDLE,
	DC_PEER_OFFLINE,
};

enum dc_path_kind {
	DC_PATH_NONE,
	DC_PATH_DIRECT,
	DC_PATH_PEER_RELAY,
	DC_PATH_DERP,
};

/* Stable codes (docs/json.md, "status"). */
enum dc_reason {
	DC_REASON_NONE,
	DC_REASON_PEER_OFFLINE,
	DC_REASON_PEER_IDLE,
	DC_REASON_KEY_EXPIRED,
	DC_REASON_NO_HANDSHAKE,
	DC_REASON_NO_DERP_HOME,
	DC_REASON_NO_ENDPOINTS_HERE,
	DC_REASON_OUR_UDP_BLOCKED,
	DC_REASON_PEER_NO_ENDPOINTS,
	DC_REASON_PEER_UDP_BLOCKED,
	DC_REASON_HARD_NAT_LIKELY,
	DC_REASON_PEER_UDP_OR_HARD_NAT,
	DC_REASON_UNKNOWN,
	/* Only with a NAT measurement (status --netcheck): */
	DC_REASON_OUR_HARD_NAT,      /* measured: this machine's NAT maps per destination */
	DC_REASON_PEER_HARD_NAT_LIKELY, /* measured: ours is easy, so the hard NAT is on the peer's side */
};

/* A DERP region named by its code in the Status, looked up in the DERP map. */
struct dc_region_ref {
	const char *code; /* "" when the node has no home region */
	int64_t id;       /* 0 when the map does not know the code */
	const char *name; /* RegionName, "" if unknown */
	bool custom;      /* 900–999, the range for your own regions */
};

struct dc_peer_view {
	const struct dc_peer_status *st;
	char *name; /* MagicDNS name without the tailnet suffix, else HostName */
	enum dc_peer_state state;
	enum dc_path_kind path;
	bool active;
	bool active_inferred; /* the daemon does not report Active: from the handshake */
	struct dc_region_ref home; /* its home DERP region (Relay) */
	char *relay_endpoint; /* peer relay ip:port, NULL unless DC_PATH_PEER_RELAY */
	int64_t relay_vni;    /* the relay's VNI, -1 if not given */
	enum dc_reason reason;
	char *message; /* the reason for this peer, in words; NULL with DC_REASON_NONE */
	char *fix;
};

struct dc_tailnet_report {
	const struct dc_status *status;
	bool running; /* BackendState is Running */
	char *state_message; /* why the backend is not running, and the fix; NULL when running */
	char *state_fix;
	char *self_name;
	struct dc_region_ref self_home;
	bool self_endpoints_reported;
	size_t self_endpoints;
	size_t self_public;
	const char *self_public_example; /* first public endpoint, or NULL */
	struct dc_peer_view *peers; /* shown peers, sorted by name */
	size_t count;
	size_t direct, relayed, derp, peer_relay, no_path, idle, offline;
	size_t hidden; /* shared-in nodes and Mullvad exit nodes, hidden like `tailscale status` does */
	bool activity_inferred; /* some peer's Active was inferred */
};

/*
 * Classify every peer of st and explain each that is not direct. map (may be NULL)
 * names the DERP regions; now is the current Unix time, for "last seen" and for
 * daemons that do not report Active. The report points into st and map: keep them.
 */
void dc_tailnet_analyze(const struct dc_status *st, const struct dc_derpmap *map, int64_t now,
			struct dc_tailnet_report *out);
void dc_tailnet_report_free(struct dc_tailnet_report *r);

/*
 * The peer a user means by query: its name, MagicDNS name (with or without the final
 * dot), host name, a Tailscale IP, node key or stable ID (names case-insensitively).
 * NULL when none matches; *second is set when two different peers match.
 */
const struct dc_peer_view *dc_tailnet_find_peer(const struct dc_tailnet_report *r, const char *query,
						const struct dc_peer_view **second);

/*
 * What `status --netcheck` measured about this machine (netcheck.h), to turn the guessed
 * reasons of relayed peers into measured ones.
 */
struct dc_nat_measurement {
	bool udp;                 /* a STUN server answered */
	int mapping_varies;       /* -1 unknown, 0 endpoint-independent, 1 varies by destination */
	const char *global_v4;    /* "" when none */
	const char *detail;       /* the RFC 4787 evidence, in words */
	const char *udp_detail;   /* netcheck's UDP verdict when no STUN server answered (judge/udpverdict.h), or NULL */
	const char *udp_hint;     /* ... and what to do about it */
};

/* Re-explain every relayed peer with the measured facts (their messages say "measured:"). */
void dc_tailnet_apply_measurement(struct dc_tailnet_report *r, const struct dc_nat_measurement *m);

/* An active peer whose traffic is not direct (relayed, or no path at all): a problem. */
bool dc_peer_not_direct(const struct dc_peer_view *v);

const char *dc_reason_code(enum dc_reason reason);
const char *dc_peer_state_name(enum dc_peer_state state);
const char *dc_path_kind_name(enum dc_path_kind path);

/* An "ip:port" / "[ip6]:port" endpoint on a public address (not private, CGNAT, ULA, ...). */
bool dc_endpoint_is_public(const char *endpoint);

/* "12s", "5m", "3h", "4d": a short age for "ago" columns (negative ages are "0s"). */
void dc_format_age(int64_t seconds, char *out, size_t size);

#endif
