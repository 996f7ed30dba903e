/*
 * IP addresses and UDP endpoints as plain values: parsing HOST[:PORT], formatting
 * ("192.0.2.1:3478", "[2001:db8::1]:3478"), conversion to and from sockaddr (IPv4-mapped
 * IPv6 is always unmapped), and classifying an address by the range it is in, which is
 * what tells a real public mapping from one that only exists behind some NAT.
 */
#ifndef DERPCHECK_NETADDR_H
#define DERPCHECK_NETADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "derpcheck/util/util.h"

struct dc_endpoint {
	int family;     /* 4 or 6; 0 = not set */
	uint8_t ip[16]; /* IPv4 in ip[0..3] */
	uint16_t port;
};

/* Long enough for "[IPv6]:65535" and then some. */
#define DC_ENDPOINT_STRLEN 64

/* A literal address of family (4, 6, or 0 for either); no zone, no port. */
int dc_ip_parse(const char *text, int family, struct dc_endpoint *out);
/* "192.0.2.1" / "2001:db8::1" and "192.0.2.1:3478" / "[2001:db8::1]:3478"; return buf. */
const char *dc_ip_format(const struct dc_endpoint *e, char *buf, size_t len);
const char *dc_endpoint_format(const struct dc_endpoint *e, char *buf, size_t len);

bool dc_ip_equal(const struct dc_endpoint *a, const struct dc_endpoint *b);
bool dc_endpoint_equal(const struct dc_endpoint *a, const struct dc_endpoint *b);
/* Order of addresses (family, IP, then port when with_port), for sorting large sets instead of comparing pairs. */
int dc_endpoint_compare(const struct dc_endpoint *a, const struct dc_endpoint *b, bool with_port);

/* ::ffff:a.b.c.d becomes the IPv4 address a.b.c.d (protocols.md §2.2). */
void dc_endpoint_unmap(struct dc_endpoint *e);

/* sockaddr conversions; from_sockaddr returns -1 for families other than IPv4/IPv6. */
int dc_endpoint_from_sockaddr(struct dc_endpoint *e, const struct sockaddr *sa, socklen_t len);
socklen_t dc_endpoint_to_sockaddr(const struct dc_endpoint *e, struct sockaddr_storage *ss);

/*
 * Split "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal. *host is
 * allocated; *port is -1 when none was written. Errors name the offending text.
 */
int dc_hostport_split(const char *text, char **host, int *port, struct dc_error *err);

enum dc_ip_class {
	DC_IP_PUBLIC,
	DC_IP_UNSPECIFIED,   /* 0.0.0.0, :: */
	DC_IP_LOOPBACK,      /* 127/8, ::1 */
	DC_IP_PRIVATE,       /* RFC 1918: 10/8, 172.16/12 (outside Docker's bridge), 192.168/16 */
	DC_IP_DOCKER_BRIDGE, /* 172.17.0.0/16, Docker's default bridge network */
	DC_IP_CGNAT,         /* 100.64.0.0/10, RFC 6598 shared space (also Tailscale's addresses) */
	DC_IP_LINK_LOCAL,    /* 169.254/16, fe80::/10 */
	DC_IP_ULA,           /* fc00::/7 (Tailscale's fd7a:115c:a1e0::/48 included) */
	DC_IP_MULTICAST,
};

enum dc_ip_class dc_ip_classify(const struct dc_endpoint *e);
/* "private RFC 1918", "CGNAT 100.64.0.0/10", ... (no parentheses: it goes inside some) */
const char *dc_ip_class_name(enum dc_ip_class c);
/* A stable word for JSON: "public", "private", "docker-bridge", "cgnat", ... */
const char *dc_ip_class_key(enum dc_ip_class c);

#endif
