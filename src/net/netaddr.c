#include "derpcheck/net/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int dc_ip_parse(const char *text, int family, struct dc_endpoint *out)
{
	struct dc_endpoint e = {0};
	if (!text)
		return -1;
	if ((family == 0 || family == 4) && inet_pton(AF_INET, text, e.ip) == 1) {
		e.family = 4;
	} else if ((family == 0 || family == 6) && strchr(text, ':') && inet_pton(AF_INET6, text, e.ip) == 1) {
		e.family = 6;
	} else {
		return -1;
	}
	*out = e;
	return 0;
}

const char *dc_ip_format(const struct dc_endpoint *e, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	if (e->family == 4)
		inet_ntop(AF_INET, e->ip, tmp, sizeof(tmp));
	else if (e->family == 6)
		inet_ntop(AF_INET6, e->ip, tmp, sizeof(tmp));
	else
		snprintf(tmp, sizeof(tmp), "(none)");
	snprintf(buf, len, "%s", tmp);
	return buf;
}

const char *dc_endpoint_format(const struct dc_endpoint *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN + 8];
	dc_ip_format(e, ip, sizeof(ip));
	if (e->family == 6)
		snprintf(buf, len, "[%s]:%u", ip, e->port);
	else
		snprintf(buf, len, "%s:%u", ip, e->port);
	return buf;
}

bool dc_ip_equal(const struct dc_endpoint *a, const struct dc_endpoint *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

bool dc_endpoint_equal(const struct dc_endpoint *a, const struct dc_endpoint *b)
{
	return dc_ip_equal(a, b) && a->port == b->port;
}

int dc_endpoint_compare(const struct dc_endpoint *a, const struct dc_endpoint *b, bool with_port)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16);
	if (c || !with_port)
		return c;
	return a->port < b->port ? -1 : a->port > b->port;
}

void dc_endpoint_unmap(struct dc_endpoint *e)
{
	if (e->family != 6 || memcmp(e->ip, v4_mapped_prefix, 12) != 0)
		return;
	memmove(e->ip, e->ip + 12, 4);
	memset(e->ip + 4, 0, 12);
	e->family = 4;
}

int dc_endpoint_from_sockaddr(struct dc_endpoint *e, const struct sockaddr *sa, socklen_t len)
{
	memset(e, 0, sizeof(*e));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		e->family = 4;
		memcpy(e->ip, &in->sin_addr, 4);
		e->port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		e->family = 6;
		memcpy(e->ip, &in6->sin6_addr, 16);
		e->port = ntohs(in6->sin6_port);
		dc_endpoint_unmap(e);
		return 0;
	}
	return -1;
}

socklen_t dc_endpoint_to_sockaddr(const struct dc_endpoint *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(e->port);
		memcpy(&in->sin_addr, e->ip, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(e->port);
	memcpy(&in6->sin6_addr, e->ip, 16);
	return sizeof(*in6);
}

static int parse_port(const char *text, const char *whole, struct dc_error *err)
{
	long long v;
	if (dc_parse_int(text, 1, 65535, &v) < 0) {
		dc_error_set(err, NULL, "invalid port '%s' in '%s'", text, whole);
		dc_error_hint(err, "a port is a number from 1 to 65535, as in HOST:3478");
		return -1;
	}
	return (int)v;
}

int dc_hostport_split(const char *text, char **host, int *port, struct dc_error *err)
{
	*host = NULL;
	*port = -1;
	if (!text || !*text)
		return dc_error_set(err, NULL, "empty host");
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close) {
			dc_error_set(err, NULL, "'%s': missing ']' after the IPv6 address", text);
			dc_error_hint(err, "write [2001:db8::1]:3478");
			return -1;
		}
		if (close[1] != '\0' && close[1] != ':') {
			dc_error_set(err, NULL, "'%s': unexpected text after ']'", text);
			dc_error_hint(err, "write [2001:db8::1]:3478");
			return -1;
		}
		char *h = dc_xstrndup(text + 1, (size_t)(close - text - 1));
		struct dc_endpoint e;
		if (dc_ip_parse(h, 6, &e) < 0) {
			dc_error_set(err, NULL, "'%s' is not an IPv6 address", h);
			dc_error_hint(err, "brackets are only for IPv6 literals, e.g. [2001:db8::1]:3478");
			free(h);
			return -1;
		}
		if (close[1] == ':') {
			int p = parse_port(close + 2, text, err);
			if (p < 0) {
				free(h);
				return -1;
			}
			*port = p;
		}
		*host = h;
		return 0;
	}
	const char *colon = strchr(text, ':');
	if (colon && strchr(colon + 1, ':')) {
		/* More than one colon: a bare IPv6 literal, which cannot carry a port. */
		struct dc_endpoint e;
		if (dc_ip_parse(text, 6, &e) < 0) {
			dc_error_set(err, NULL, "'%s' is not a host, host:port or IPv6 address", text);
			dc_error_hint(err, "put IPv6 addresses in brackets to add a port: [2001:db8::1]:3478");
			return -1;
		}
		*host = dc_xstrdup(text);
		return 0;
	}
	size_t hlen = colon ? (size_t)(colon - text) : strlen(text);
	if (hlen == 0) {
		dc_error_set(err, NULL, "'%s': the host is missing before ':'", text);
		return -1;
	}
	for (size_t i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_')) {
			dc_error_set(err, NULL, "'%s' is not a valid host name (character '%c')", text, ch);
			dc_error_hint(err, "give a host name or IP address, optionally with :PORT");
			return -1;
		}
	}
	if (colon) {
		int p = parse_port(colon + 1, text, err);
		if (p < 0)
			return -1;
		*port = p;
	}
	*host = dc_xstrndup(text, hlen);
	return 0;
}

static bool in_prefix(const uint8_t *ip, const uint8_t *prefix, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(ip, prefix, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (ip[full] & mask) == (prefix[full] & mask);
}

enum dc_ip_class dc_ip_classify(const struct dc_endpoint *e)
{
	struct dc_endpoint u = *e;
	dc_endpoint_unmap(&u);
	const uint8_t *a = u.ip;
	if (u.family == 4) {
		static const uint8_t zero[4], p10[] = {10}, p172[] = {172, 16}, docker[] = {172, 17},
					      p192[] = {192, 168}, cgnat[] = {100, 64}, ll[] = {169, 254},
					      lo[] = {127};
		if (memcmp(a, zero, 4) == 0)
			return DC_IP_UNSPECIFIED;
		if (in_prefix(a, lo, 8))
			return DC_IP_LOOPBACK;
		if (in_prefix(a, docker, 16))
			return DC_IP_DOCKER_BRIDGE;
		if (in_prefix(a, p10, 8) || in_prefix(a, p172, 12) || in_prefix(a, p192, 16))
			return DC_IP_PRIVATE;
		if (in_prefix(a, cgnat, 10))
			return DC_IP_CGNAT;
		if (in_prefix(a, ll, 16))
			return DC_IP_LINK_LOCAL;
		if (a[0] >= 224 && a[0] <= 239)
			return DC_IP_MULTICAST;
		return DC_IP_PUBLIC;
	}
	static const uint8_t zero16[16], lo16[16] = {[15] = 1}, ula[] = {0xfc}, ll6[] = {0xfe, 0x80};
	if (memcmp(a, zero16, 16) == 0)
		return DC_IP_UNSPECIFIED;
	if (memcmp(a, lo16, 16) == 0)
		return DC_IP_LOOPBACK;
	if (in_prefix(a, ll6, 10))
		return DC_IP_LINK_LOCAL;
	if (in_prefix(a, ula, 7))
		return DC_IP_ULA;
	if (a[0] == 0xff)
		return DC_IP_MULTICAST;
	return DC_IP_PUBLIC;
}

const char *dc_ip_class_name(enum dc_ip_class c)
{
	switch (c) {
	case DC_IP_PUBLIC: return "public";
	case DC_IP_UNSPECIFIED: return "unspecified";
	case DC_IP_LOOPBACK: return "loopback";
	case DC_IP_PRIVATE: return "private RFC 1918";
	case DC_IP_DOCKER_BRIDGE: return "Docker bridge 172.17.0.0/16";
	case DC_IP_CGNAT: return "CGNAT 100.64.0.0/10";
	case DC_IP_LINK_LOCAL: return "link-local";
	case DC_IP_ULA: return "unique local fc00::/7";
	case DC_IP_MULTICAST: return "multicast";
	}
	return "?";
}

const char *dc_ip_class_key(enum dc_ip_class c)
{
	switch (c) {
	case DC_IP_PUBLIC: return "public";
	case DC_IP_UNSPECIFIED: return "unspecified";
	case DC_IP_LOOPBACK: return "loopback";
	case DC_IP_PRIVATE: return "private";
	case DC_IP_DOCKER_BRIDGE: return "docker-bridge";
	case DC_IP_CGNAT: return "cgnat";
	case DC_IP_LINK_LOCAL: return "link-local";
	case DC_IP_ULA: return "ula";
	case DC_IP_MULTICAST: return "multicast";
	}
	return "?";
}
