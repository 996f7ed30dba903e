/*
 * Turning DERP nodes and command-line hosts into the addresses to probe, the way
 * Tailscale does (protocols.md §3.1): a node's IPv4/IPv6 field is used as is when it is
 * an address (no DNS), "none" (or any other text) turns the family off, and only an
 * empty field sends HostName to DNS. All lookups of a run are started together and
 * waited for with one deadline, so resolution never blocks the probe loop.
 */
#ifndef DERPCHECK_RESOLVE_H
#define DERPCHECK_RESOLVE_H

#include "derpcheck/input/derpmap.h"
#include "derpcheck/net/netaddr.h"

enum dc_addr_origin {
	DC_ORIGIN_UNSET,
	DC_ORIGIN_LITERAL,    /* the host itself is an address */
	DC_ORIGIN_MAP,        /* the node's IPv4/IPv6 field */
	DC_ORIGIN_TEST_IP,    /* the node's STUNTestIP (tests only) */
	DC_ORIGIN_DNS,
	DC_ORIGIN_DISABLED,   /* the map turns the family off ("none") */
	DC_ORIGIN_NOT_WANTED, /* -4 / -6, or a literal of the other family */
	DC_ORIGIN_FAILED,     /* DNS gave no address of this family */
};

struct dc_resolved {
	enum dc_addr_origin origin;
	struct dc_endpoint addr; /* valid for LITERAL, MAP, TEST_IP, DNS; port set */
	char note[256];          /* why there is no address, in words */
	int gai_error;           /* FAILED by DNS: getaddrinfo's code (EAI_AGAIN when it timed out) */
	bool timed_out;          /* FAILED because the lookup did not finish by the deadline */
};

struct dc_resolve_req {
	/* input */
	const char *host;
	const char *map_ipv4, *map_ipv6; /* NULL when the host is not a map node */
	const char *stun_test_ip;
	uint16_t port;
	int family; /* 0 both, 4 or 6 */
	/* output: [0] IPv4, [1] IPv6 */
	struct dc_resolved out[2];
};

void dc_resolve_host(struct dc_resolve_req *req, const char *host, uint16_t port, int family);
void dc_resolve_node(struct dc_resolve_req *req, const struct dc_derp_node *node, uint16_t port, int family);

/*
 * Resolve every request: static answers at once, DNS lookups concurrently, all bounded
 * by deadline_ns (CLOCK_MONOTONIC). Failures are per request and family (out[].note).
 */
void dc_resolve_run(struct dc_resolve_req *reqs, size_t n, uint64_t deadline_ns);

/* Settle one family of a request without DNS when the map or the host itself gives the
 * address (or turns the family off); true when it needs dc_resolve_run's DNS lookup. */
bool dc_resolve_static(struct dc_resolve_req *req, int family);

const struct dc_resolved *dc_resolved_family(const struct dc_resolve_req *req, int family);
/* "literal", "map", "dns", ... (stable words for JSON). */
const char *dc_addr_origin_name(enum dc_addr_origin o);

#endif
