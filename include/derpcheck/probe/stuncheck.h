/*
 * What `derpcheck stun` measures and concludes: the targets (a host, or every node of a
 * DERP region, per address family), the probe plan, and the findings drawn from the
 * results — which request style the server answers (derper answers only Tailscale's),
 * whether the mapped address is one that only exists behind a NAT (Docker, CGNAT,
 * private networks), loss, and every kind of bad reply. No printing here.
 */
#ifndef DERPCHECK_STUNCHECK_H
#define DERPCHECK_STUNCHECK_H

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/findings.h"
#include "derpcheck/probe/prober.h"
#include "derpcheck/net/resolve.h"

struct dc_stun_opts {
	enum dc_stun_style style;
	unsigned count;          /* probes per target */
	uint64_t interval_ns;    /* between the starts of successive probes to a target */
	uint64_t timeout_ns;     /* per probe, retransmissions included */
	int family;              /* 0 both, 4 or 6 */
	const struct dc_endpoint *bind_addr;
	uint16_t bind_port;
	bool no_cross_check;     /* skip the one probe of the other style */
};

/* How the server reacts to the two request styles. */
enum dc_stun_kind {
	DC_STUN_KIND_UNKNOWN,   /* not enough answers to tell */
	DC_STUN_KIND_DERPER,    /* answers Tailscale-style requests only */
	DC_STUN_KIND_GENERIC,   /* answers both (coturn, stund, ...) */
	DC_STUN_KIND_PLAIN_ONLY,/* answers plain requests only: Tailscale gets nothing */
	DC_STUN_KIND_SILENT,    /* answers neither */
};

struct dc_stun_target {
	char *label;     /* "127.0.0.1:3478", "derp.example.com (IPv6)", "900a (IPv4)" */
	char *host;
	const struct dc_derp_node *node; /* NULL for a host given on the command line */
	char *path;      /* the node's JSON path in the map, or "" */
	int family;
	uint16_t port;
	struct dc_resolved addr;
	bool skipped;
	char skip_reason[256];

	size_t first_probe; /* ids in the prober: count main probes, then the cross-check */
	size_t nprobes;
	bool has_cross;
	size_t cross_probe;

	/* conclusions */
	unsigned sent, answered;
	uint64_t rtt_min, rtt_max, rtt_avg, rtt_median; /* ns, over answered probes */
	bool has_mapped;
	struct dc_endpoint mapped;  /* from the first answer */
	bool mapping_changed;       /* a later answer reported another mapping ... */
	struct dc_endpoint mapped_other; /* ... this one */
	enum dc_ip_class mapped_class;
	bool has_local;
	struct dc_endpoint local;   /* this host's address toward the server (port: our socket's) */
	bool nat;                   /* mapped differs from local */
	bool has_software;
	char software[DC_STUN_SOFTWARE_MAX + 4];
	enum dc_stun_kind kind;
	/* what came back besides good answers, each datagram counted once */
	unsigned duplicates, late, wrong_source, unknown_txid, malformed;
	unsigned trailing_bytes; /* accepted replies with bytes after the message */
	struct dc_endpoint wrong_source_addr;
	char malformed_reason[200];
};

struct dc_stun_report {
	struct dc_stun_opts opts;
	const struct dc_derp_region *region; /* --region, else NULL */
	struct dc_stun_target *targets;
	size_t ntargets;
	struct dc_prober *prober; /* owns the probe results */
	bool have_local[2];
	struct dc_endpoint local[2]; /* socket addresses, [0] IPv4 [1] IPv6 */
	struct dc_findings findings;
	struct dc_prober_stats stats;
	uint64_t elapsed_ns;
};

void dc_stun_report_init(struct dc_stun_report *rep, const struct dc_stun_opts *opts);
/* A host (name or literal) from the command line; one target per family it has. */
void dc_stun_add_host(struct dc_stun_report *rep, const char *host, uint16_t port);
/* Every node of a region, per family, honouring IPv4/IPv6 "none" and STUNPort -1. */
void dc_stun_add_region(struct dc_stun_report *rep, const struct dc_derp_region *region);

/*
 * Resolve, probe and conclude. Returns -1 with err only when probing could not start
 * (a --bind-address that is not ours, no UDP at all); everything about the servers
 * is in rep->targets and rep->findings.
 */
int dc_stun_run(struct dc_stun_report *rep, struct dc_error *err);

const struct dc_probe_result *dc_stun_probe(const struct dc_stun_report *rep, const struct dc_stun_target *t, size_t k);
const struct dc_probe_result *dc_stun_cross(const struct dc_stun_report *rep, const struct dc_stun_target *t);
/* The most telling failed probe of a target: send failure, then ICMP error, error response, timeout. */
const struct dc_probe_result *dc_stun_worst_failure(const struct dc_stun_report *rep, const struct dc_stun_target *t);
const char *dc_stun_kind_name(enum dc_stun_kind k);
/* A host none of whose families resolved (its first target), or NULL. */
const struct dc_stun_target *dc_stun_unresolved_host(const struct dc_stun_report *rep);

void dc_stun_report_free(struct dc_stun_report *rep);

#endif
