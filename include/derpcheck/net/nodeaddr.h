/*
 * Which addresses to dial for a DERP node, decided as Tailscale decides (protocols.md §1.1,
 * §3.1): per family, the map's IPv4/IPv6 field when it holds an address of that family;
 * nothing when it holds anything else ("none" by convention); a DNS lookup of HostName
 * only when the field is empty. The map's address is never double-checked with DNS.
 * The lookups are resolve.c's (concurrent, bounded by a deadline); this adds the shape a
 * TCP dialer wants (sockaddrs, IPv4 first) and the errors a DERP connection reports.
 */
#ifndef DERPCHECK_NODEADDR_H
#define DERPCHECK_NODEADDR_H

#include <sys/socket.h>

#include "derpcheck/util/util.h"

struct dc_node_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family; /* 4 or 6 */
	bool from_dns;
};

struct dc_node_addrs {
	struct dc_node_addr addr[2]; /* at most one per family, IPv4 first */
	size_t count;
	bool dns_used;   /* at least one family was looked up */
	uint64_t dns_ns; /* time spent in DNS */
};

/*
 * Fill out with the addresses to dial on port. family 0 allows both, 4 or 6 one (-4/-6).
 * DNS lookups run for both families at once and end at deadline_ns. Returns -1 with err
 * when nothing is left to dial: both families disabled, or DNS gave no usable address.
 * A family whose lookup fails is left out when the other one has an address (Tailscale
 * dials both and keeps whichever connects).
 */
int dc_node_resolve(const char *host_name, const char *ipv4, const char *ipv6, int port, int family,
		    uint64_t deadline_ns, struct dc_node_addrs *out, struct dc_error *err);

#endif
