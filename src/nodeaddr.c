#include "derpcheck/nodeaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/derpmap.h"

/*
 * getaddrinfo() has no deadline, so lookups go through glibc's getaddrinfo_a() and wait
 * with gai_suspend(). A lookup still running at the deadline may not be cancellable; its
 * request block then stays owned by glibc's resolver thread and is parked here, reachable,
 * until the process exits.
 */
struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char host[256];
};
static struct lookup *abandoned[32];
static size_t abandoned_count;

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

static void put_found(struct dc_node_addrs *out, int family, const struct addrinfo *ai, int port)
{
	struct dc_node_addr *a = &out->addr[out->count++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->from_dns = true;
	memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
	a->len = (socklen_t)ai->ai_addrlen;
	if (family == 4)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

/* Look up the families in want[0..n) at once; results[i] is an error code or 0 with *ai[i]. */
static void lookup_all(const char *host, const int *want, size_t n, uint64_t deadline_ns, int *results,
		       struct addrinfo **ai)
{
	struct lookup *l[2];
	struct gaicb *list[2];
	for (size_t i = 0; i < n; i++) {
		l[i] = dc_xcalloc(1, sizeof(*l[i]));
		snprintf(l[i]->host, sizeof(l[i]->host), "%s", host);
		l[i]->hints.ai_family = want[i] == 4 ? AF_INET : AF_INET6;
		l[i]->hints.ai_socktype = SOCK_STREAM;
		l[i]->cb.ar_name = l[i]->host;
		l[i]->cb.ar_request = &l[i]->hints;
		list[i] = &l[i]->cb;
		results[i] = EAI_AGAIN;
		ai[i] = NULL;
	}
	if (getaddrinfo_a(GAI_NOWAIT, list, (int)n, NULL) != 0) {
		for (size_t i = 0; i < n; i++)
			free(l[i]);
		return;
	}
	for (;;) {
		bool busy = false;
		for (size_t i = 0; i < n; i++)
			busy |= gai_error(list[i]) == EAI_INPROGRESS;
		uint64_t now = dc_now_ns();
		if (!busy || now >= deadline_ns)
			break;
		uint64_t left = deadline_ns - now;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
		gai_suspend((const struct gaicb *const *)list, (int)n, &ts);
	}
	for (size_t i = 0; i < n; i++) {
		int rc = gai_error(list[i]);
		if (rc == EAI_INPROGRESS && gai_cancel(list[i]) != EAI_CANCELED) {
			results[i] = EAI_AGAIN; /* timed out */
			if (abandoned_count < DC_ARRAY_LEN(abandoned))
				abandoned[abandoned_count++] = l[i];
			continue;
		}
		if (rc == EAI_INPROGRESS || rc == EAI_CANCELED)
			rc = EAI_AGAIN;
		results[i] = rc;
		ai[i] = rc == 0 ? l[i]->cb.ar_result : NULL;
		if (rc != 0 && l[i]->cb.ar_result)
			freeaddrinfo(l[i]->cb.ar_result);
		free(l[i]);
	}
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
	int results[2];
	struct addrinfo *ai[2];
	uint64_t start = dc_now_ns();
	lookup_all(host_name, dns, ndns, deadline_ns, results, ai);
	out->dns_used = true;
	out->dns_ns = dc_now_ns() - start;
	for (size_t i = 0; i < ndns; i++) {
		if (results[i] == 0 && ai[i])
			put_found(out, dns[i], ai[i], port);
		if (ai[i])
			freeaddrinfo(ai[i]);
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
