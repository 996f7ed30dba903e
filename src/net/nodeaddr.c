#include "derpcheck/net/nodeaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/net/resolve.h"

static void put_static(struct dc_node_addrs *out, int family, const char *text, int port)
{
	struct dc_node_addr *a = &out->addr[out->count++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	if (family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, text, &s4->sin_addr);
		a->len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, text, &s6->sin6_addr);
		a->len = sizeof(*s6);
	}
}

static void put_found(struct dc_node_addrs *out, int family, const struct dc_resolved *r, int port, bool from_dns)
{
	struct dc_node_addr *a = &out->addr[out->count++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->from_dns = from_dns;
	struct dc_endpoint e = r->addr;
	e.port = (uint16_t)port;
	a->len = dc_endpoint_to_sockaddr(&e, &a->ss);
}

static const char *family_name(int family)
{
	return family == 4 ? "IPv4" : "IPv6";
}

int dc_node_resolve(const char *host_name, const char *ipv4, const char *ipv6, int port, int family,
		    uint64_t deadline_ns, struct dc_node_addrs *out, struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	const char *fields[2] = {ipv4, ipv6};
	int families[2] = {4, 6};
	int dns[2];
	size_t ndns = 0, allowed = 0, disabled_by_map = 0;
	for (int i = 0; i < 2; i++) {
		if (family && family != families[i])
			continue;
		allowed++;
		switch (dc_node_addr_mode(fields[i], families[i])) {
		case DC_ADDR_STATIC: put_static(out, families[i], fields[i], port); break;
		case DC_ADDR_DNS: dns[ndns++] = families[i]; break;
		case DC_ADDR_DISABLED: disabled_by_map++; break;
		}
	}
	if (allowed == disabled_by_map) {
		if (family)
			dc_error_set(err, host_name, "%s is disabled for this node (%s \"%s\") and -%d rules out the other family",
				     family_name(family), family_name(family), fields[family == 4 ? 0 : 1], family);
		else
			dc_error_set(err, host_name, "both IPv4 and IPv6 are explicitly disabled for node");
		dc_error_hint(err, "write the server's address in the node's IPv4 or IPv6 field, or \"\" to use DNS");
		return -1;
	}
	if (ndns == 0)
		return 0;
	if (!host_name || !*host_name) {
		if (out->count)
			return 0;
		dc_error_set(err, NULL, "the node has no HostName to look up and no address in IPv4/IPv6");
		return -1;
	}
	/* The lookups themselves are resolve.c's: concurrent, bounded by the deadline. */
	struct dc_resolve_req req;
	dc_resolve_host(&req, host_name, (uint16_t)port, ndns == 2 ? 0 : dns[0]);
	uint64_t start = dc_now_ns();
	dc_resolve_run(&req, 1, deadline_ns);
	out->dns_used = true;
	out->dns_ns = dc_now_ns() - start;
	int results[2];
	for (size_t i = 0; i < ndns; i++) {
		const struct dc_resolved *r = dc_resolved_family(&req, dns[i]);
		if (r->origin == DC_ORIGIN_DNS || r->origin == DC_ORIGIN_LITERAL) {
			put_found(out, dns[i], r, port, r->origin == DC_ORIGIN_DNS);
			results[i] = 0;
		} else {
			results[i] = r->gai_error ? r->gai_error : EAI_NONAME;
		}
	}
	/* IPv4 first, whatever answered first. */
	if (out->count == 2 && out->addr[0].family == 6) {
		struct dc_node_addr t = out->addr[0];
		out->addr[0] = out->addr[1];
		out->addr[1] = t;
	}
	if (out->count)
		return 0;
	int rc = results[0];
	for (size_t i = 0; i < ndns; i++)
		if (results[i] != EAI_NONAME && results[i] != EAI_NODATA)
			rc = results[i];
	if (rc == EAI_AGAIN && dc_now_ns() >= deadline_ns)
		dc_error_set(err, host_name, "DNS lookup timed out");
	else
		dc_error_set(err, host_name, "DNS lookup failed: %s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	dc_error_hint(err, "the map leaves this node's %s empty, so clients resolve HostName; fix its DNS record, or write the server's address in the node's IPv4/IPv6 fields",
		      ndns == 2 ? "IPv4 and IPv6" : family_name(dns[0]));
	return -1;
}
