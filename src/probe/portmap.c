#include "derpcheck/probe/portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "derpcheck/util/cursor.h"
#include "derpcheck/net/http.h"

#define PMP_VERSION 0
#define PCP_VERSION 2
#define OP_REPLY 0x80     /* OR'd into the request's opcode in a reply (both protocols) */
#define PCP_OP_ANNOUNCE 0
#define PCP_MAX_LEN 1100  /* RFC 6887 §7: a PCP message is at most 1100 bytes */
#define IGD_MARK ":InternetGatewayDevice:"
#define IGD_URN "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
#define RECV_MAX 4096
#define RECV_BUDGET 256 /* datagrams per pass; then the deadline is checked again (prober.c does the same) */
#define DESC_MAX_BYTES (64u * 1024u)
/* Tailscale waits this long after the first UPnP answer for more devices to answer. */
#define UPNP_GATHER_NS (50u * 1000000u)

/* A human-readable detail into a fixed field; long texts are cut, never overflow. */
static void note(char *dst, size_t cap, const char *fmt, ...) DC_PRINTF(3, 4);
static void note(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

/* ---- encoders ---------------------------------------------------------------------- */

size_t dc_pmp_external_request(uint8_t out[DC_PMP_REQUEST_LEN])
{
	struct dc_writer w;
	dc_writer_init(&w, out, DC_PMP_REQUEST_LEN);
	dc_writer_u8(&w, PMP_VERSION);
	dc_writer_u8(&w, 0); /* opcode 0: external address */
	return w.ok ? w.off : 0;
}

size_t dc_pcp_announce_request(struct in_addr self, uint8_t out[DC_PCP_ANNOUNCE_LEN])
{
	/* RFC 6887 §7.1 request header; §11.1: an IPv4 client address is IPv4-mapped IPv6. */
	static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct dc_writer w;
	dc_writer_init(&w, out, DC_PCP_ANNOUNCE_LEN);
	dc_writer_u8(&w, PCP_VERSION);
	dc_writer_u8(&w, PCP_OP_ANNOUNCE); /* R bit clear: a request */
	dc_writer_zeros(&w, 2);            /* reserved */
	dc_writer_be32(&w, 0);             /* requested lifetime */
	dc_writer_bytes(&w, mapped_prefix, sizeof(mapped_prefix));
	dc_writer_bytes(&w, &self.s_addr, 4); /* s_addr is already in network order */
	return w.ok ? w.off : 0;
}

size_t dc_ssdp_msearch(const char *st, char *out, size_t cap)
{
	int n = snprintf(out, cap,
			 "M-SEARCH * HTTP/1.1\r\n"
			 "HOST: " DC_SSDP_GROUP ":1900\r\n"
			 "ST: %s\r\n"
			 "MAN: \"ssdp:discover\"\r\n"
			 "MX: 2\r\n\r\n",
			 st);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- decoders ---------------------------------------------------------------------- */

int dc_pmp_parse(const uint8_t *b, size_t n, struct dc_pmp_reply *r, struct dc_error *err)
{
	memset(r, 0, sizeof(*r));
	r->len = n;
	struct dc_cursor c;
	dc_cursor_init(&c, b, n);
	uint8_t version = 0;
	dc_cursor_u8(&c, &version);
	dc_cursor_u8(&c, &r->opcode);
	dc_cursor_be16(&c, &r->result);
	dc_cursor_be32(&c, &r->epoch);
	if (!c.ok)
		return dc_error_set(err, NULL, "NAT-PMP reply of %zu bytes is shorter than its 8-byte header", n);
	if (version != PMP_VERSION)
		return dc_error_set(err, NULL, "not a NAT-PMP reply: version %u, want 0", version);
	if (!(r->opcode & OP_REPLY))
		return dc_error_set(err, NULL, "NAT-PMP opcode 0x%02x is a request, not a reply", r->opcode);
	/* RFC 6886 §3.2: only a successful external-address reply carries the address. */
	if (r->opcode == (OP_REPLY | 0) && r->result == DC_PMP_SUCCESS) {
		if (!dc_cursor_bytes(&c, &r->external.s_addr, 4))
			return dc_error_set(err, NULL, "NAT-PMP external-address reply of %zu bytes lacks the address (needs 12)", n);
	}
	return 0;
}

int dc_pcp_parse(const uint8_t *b, size_t n, struct dc_pcp_reply *r, struct dc_error *err)
{
	memset(r, 0, sizeof(*r));
	r->len = n;
	struct dc_cursor c;
	dc_cursor_init(&c, b, n);
	uint8_t version = 0, op = 0, reserved = 0;
	dc_cursor_u8(&c, &version);
	dc_cursor_u8(&c, &op);
	dc_cursor_u8(&c, &reserved);
	dc_cursor_u8(&c, &r->result);
	dc_cursor_be32(&c, &r->lifetime);
	dc_cursor_be32(&c, &r->epoch);
	dc_cursor_skip(&c, 12); /* reserved (RFC 6887 §7.2) */
	if (!c.ok)
		return dc_error_set(err, NULL, "PCP reply of %zu bytes is shorter than its 24-byte header", n);
	if (version != PCP_VERSION)
		return dc_error_set(err, NULL, "not a PCP reply: version %u, want 2", version);
	if (!(op & OP_REPLY))
		return dc_error_set(err, NULL, "PCP opcode 0x%02x has the R bit clear: a request, not a reply", op);
	if (n > PCP_MAX_LEN)
		return dc_error_set(err, NULL, "PCP reply of %zu bytes is longer than the 1100 bytes RFC 6887 allows", n);
	r->opcode = op & (uint8_t)~OP_REPLY;
	return 0;
}

bool dc_pmp_reply_usable(const struct dc_pmp_reply *r)
{
	return r->opcode == OP_REPLY && r->result == DC_PMP_SUCCESS && r->len == 12;
}

bool dc_pcp_reply_usable(const struct dc_pcp_reply *r)
{
	return r->opcode == PCP_OP_ANNOUNCE && r->result == DC_PCP_SUCCESS;
}

const char *dc_pmp_result_name(uint16_t result)
{
	static const char *const names[] = {"SUCCESS", "UNSUPPORTED_VERSION", "NOT_AUTHORIZED",
					    "NETWORK_FAILURE", "OUT_OF_RESOURCES", "UNSUPPORTED_OPCODE"};
	return result < DC_ARRAY_LEN(names) ? names[result] : "unknown";
}

const char *dc_pcp_result_name(uint8_t result)
{
	static const char *const names[] = {
		"SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST", "UNSUPP_OPCODE",
		"UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES", "UNSUPP_PROTOCOL",
		"USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL", "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS"};
	return result < DC_ARRAY_LEN(names) ? names[result] : "unknown";
}

/* Copy wire text into a fixed field: printable ASCII kept, anything else shown as '?'. */
static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[k] = '\0';
}

static bool bytes_contain(const uint8_t *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* "NAME: value" with NAME compared case-insensitively; *v and *vn get the trimmed value. */
static bool header_is(const uint8_t *line, size_t n, const char *name, const uint8_t **v, size_t *vn)
{
	size_t k = strlen(name);
	if (n <= k || line[k] != ':' || strncasecmp((const char *)line, name, k) != 0)
		return false;
	*v = line + k + 1;
	*vn = n - k - 1;
	while (*vn && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*vn)--;
	}
	while (*vn && ((*v)[*vn - 1] == ' ' || (*v)[*vn - 1] == '\t'))
		(*vn)--;
	return true;
}

int dc_ssdp_parse(const uint8_t *b, size_t n, struct dc_ssdp_reply *r, struct dc_error *err)
{
	memset(r, 0, sizeof(*r));
	struct dc_cursor c;
	dc_cursor_init(&c, b, n);
	const uint8_t *line;
	size_t len;
	if (!dc_cursor_line(&c, &line, &len))
		return dc_error_set(err, NULL, "empty SSDP datagram");
	if (len >= 12 && memcmp(line, "HTTP/1.", 7) == 0 && line[8] == ' ') {
		int status = 0;
		for (size_t i = 9; i < 12; i++) {
			if (line[i] < '0' || line[i] > '9')
				return dc_error_set(err, NULL, "SSDP answer has a malformed status line");
			status = status * 10 + (line[i] - '0');
		}
		if (len > 12 && line[12] != ' ')
			return dc_error_set(err, NULL, "SSDP answer has a malformed status line");
		r->status = status;
	} else if (len >= 6 && memcmp(line, "NOTIFY", 6) == 0) {
		r->status = 0;
	} else if (len >= 8 && memcmp(line, "M-SEARCH", 8) == 0) {
		return dc_error_set(err, NULL, "an SSDP M-SEARCH request (another client's), not an answer");
	} else {
		return dc_error_set(err, NULL, "not an SSDP answer: no HTTP status line");
	}
	while (dc_cursor_line(&c, &line, &len) && len > 0) {
		const uint8_t *v;
		size_t vn;
		if (header_is(line, len, "LOCATION", &v, &vn))
			copy_text(r->location, sizeof(r->location), v, vn);
		else if (header_is(line, len, "SERVER", &v, &vn))
			copy_text(r->server, sizeof(r->server), v, vn);
		else if (header_is(line, len, "ST", &v, &vn) || header_is(line, len, "NT", &v, &vn))
			copy_text(r->st, sizeof(r->st), v, vn);
		else if (header_is(line, len, "USN", &v, &vn))
			copy_text(r->usn, sizeof(r->usn), v, vn);
	}
	r->igd = bytes_contain(b, n, IGD_MARK);
	return 0;
}

/* Offset of needle in hay[0..n), or n when absent. */
static size_t find(const char *hay, size_t n, const char *needle)
{
	const char *at = memmem(hay, n, needle, strlen(needle));
	return at ? (size_t)(at - hay) : n;
}

/* XML character data into a field: entities decoded, blanks collapsed, ASCII only. */
static void copy_xml_text(char *dst, size_t cap, const char *src, size_t n)
{
	static const struct {
		const char *entity;
		char c;
	} entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t k = 0;
	bool blank = true; /* drops leading blanks and collapses runs */
	for (size_t i = 0; i < n && k + 1 < cap;) {
		char ch = src[i];
		size_t step = 1;
		if (ch == '&') {
			ch = '?';
			for (size_t e = 0; e < DC_ARRAY_LEN(entities); e++) {
				size_t el = strlen(entities[e].entity);
				if (n - i >= el && memcmp(src + i, entities[e].entity, el) == 0) {
					ch = entities[e].c;
					step = el;
					break;
				}
			}
			if (ch == '?') { /* a numeric or unknown reference: skip it whole, bounded */
				size_t semi = find(src + i, n - i < 12 ? n - i : 12, ";");
				step = semi < 12 && semi < n - i ? semi + 1 : 1;
			}
		}
		i += step;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			if (!blank)
				dst[k++] = ' ';
			blank = true;
			continue;
		}
		dst[k++] = (unsigned char)ch >= 0x20 && (unsigned char)ch < 0x7f ? ch : '?';
		blank = false;
	}
	while (k > 0 && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

/* The text of the first <tag>...</tag> in xml[0..n) (attributes on the tag allowed). */
static bool xml_element(const char *xml, size_t n, const char *tag, char *out, size_t cap)
{
	char open[48], close[48];
	snprintf(open, sizeof(open), "<%s", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	size_t off = 0;
	while (off < n) {
		size_t at = off + find(xml + off, n - off, open);
		if (at >= n)
			return false;
		size_t after = at + strlen(open);
		if (after < n && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '\t')) {
			size_t gt = after + find(xml + after, n - after, ">");
			if (gt >= n)
				return false;
			size_t end = gt + 1 + find(xml + gt + 1, n - gt - 1, close);
			if (end >= n)
				return false;
			copy_xml_text(out, cap, xml + gt + 1, end - gt - 1);
			return true;
		}
		off = after; /* <friendlyNameX>: not our tag, keep looking */
	}
	return false;
}

int dc_igd_desc_parse(const char *xml, size_t n, struct dc_igd_desc *d, struct dc_error *err)
{
	memset(d, 0, sizeof(*d));
	/* The root device's own fields come before its embedded devices (UDA §2.3). */
	size_t root_end = find(xml, n, "<deviceList");
	size_t dev = 0;
	for (;;) { /* "<device>" or "<device attr...>", not "<deviceType>" */
		dev += find(xml + dev, root_end - dev, "<device");
		if (dev >= root_end)
			return dc_error_set(err, NULL, "no <device> element in the device description");
		size_t after = dev + 7;
		if (after < root_end && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '\t'))
			break;
		dev = after;
	}
	const char *root = xml + dev;
	size_t len = root_end - dev;
	xml_element(root, len, "deviceType", d->device_type, sizeof(d->device_type));
	xml_element(root, len, "friendlyName", d->friendly_name, sizeof(d->friendly_name));
	xml_element(root, len, "manufacturer", d->manufacturer, sizeof(d->manufacturer));
	xml_element(root, len, "modelName", d->model_name, sizeof(d->model_name));
	xml_element(root, len, "modelNumber", d->model_number, sizeof(d->model_number));
	if (!d->friendly_name[0] && !d->manufacturer[0] && !d->model_name[0])
		return dc_error_set(err, NULL, "the device description names no friendlyName, manufacturer or modelName");
	return 0;
}

/* ---- the gateway ------------------------------------------------------------------- */

/* One whitespace-separated field of a /proc/net/route line as a hex number (at most 8 digits). */
static bool route_hex(const uint8_t *tok, size_t n, uint32_t *out)
{
	if (n == 0 || n > 8)
		return false;
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = tok[i];
		uint32_t d;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10u;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10u;
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

static bool route_dec(const uint8_t *tok, size_t n, uint32_t *out)
{
	if (n == 0 || n > 9)
		return false;
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(tok[i] - '0');
	}
	*out = v;
	return true;
}

/* Split a line into at most max fields on blanks. */
static size_t split_fields(const uint8_t *line, size_t n, const uint8_t **tok, size_t *tok_len, size_t max)
{
	size_t count = 0, i = 0;
	while (i < n && count < max) {
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= n)
			break;
		size_t start = i;
		while (i < n && line[i] != ' ' && line[i] != '\t')
			i++;
		tok[count] = line + start;
		tok_len[count] = i - start;
		count++;
	}
	return count;
}

int dc_route_parse_default(const char *text, size_t n, struct dc_gateway *gw, struct dc_error *err)
{
	enum { F_IFACE, F_DEST, F_GATEWAY, F_FLAGS, F_REFCNT, F_USE, F_METRIC, F_MASK, F_MIN };
	const uint32_t rtf_up = 0x1, rtf_gateway = 0x2; /* <linux/route.h> */
	memset(gw, 0, sizeof(*gw));
	struct dc_cursor c;
	dc_cursor_init(&c, text, n);
	const uint8_t *line;
	size_t len;
	size_t routes = 0;
	bool found = false;
	while (dc_cursor_line(&c, &line, &len)) {
		const uint8_t *tok[11];
		size_t tl[11];
		size_t nf = split_fields(line, len, tok, tl, DC_ARRAY_LEN(tok));
		if (nf < F_MIN || (tl[F_IFACE] == 5 && memcmp(tok[F_IFACE], "Iface", 5) == 0))
			continue;
		uint32_t dest, gateway, flags, metric, mask;
		if (!route_hex(tok[F_DEST], tl[F_DEST], &dest) || !route_hex(tok[F_GATEWAY], tl[F_GATEWAY], &gateway) ||
		    !route_hex(tok[F_FLAGS], tl[F_FLAGS], &flags) || !route_dec(tok[F_METRIC], tl[F_METRIC], &metric) ||
		    !route_hex(tok[F_MASK], tl[F_MASK], &mask) || tl[F_IFACE] >= IF_NAMESIZE)
			continue;
		routes++;
		if (dest != 0 || mask != 0 || (flags & (rtf_up | rtf_gateway)) != (rtf_up | rtf_gateway))
			continue;
		if (found && metric >= gw->metric)
			continue;
		found = true;
		gw->gateway.s_addr = gateway; /* the kernel printed the network-order value as a host integer */
		gw->metric = metric;
		memcpy(gw->ifname, tok[F_IFACE], tl[F_IFACE]);
		gw->ifname[tl[F_IFACE]] = '\0';
	}
	if (found)
		return 0;
	if (routes == 0)
		return dc_error_set(err, NULL, "no IPv4 routes in the routing table");
	dc_error_set(err, NULL, "no IPv4 default route through a gateway");
	dc_error_hint(err, "port mapping is asked of the default gateway; this host has none (point-to-point or no network?)");
	return -1;
}

int dc_gateway_self_ipv4(struct dc_gateway *gw, struct dc_error *err)
{
	struct ifaddrs *all;
	if (getifaddrs(&all) < 0)
		return dc_error_set(err, gw->ifname, "cannot list interface addresses: %s", strerror(errno));
	bool found = false, same_subnet = false;
	for (struct ifaddrs *i = all; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, gw->ifname) != 0 ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		struct in_addr a = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
		struct in_addr m = {0};
		if (i->ifa_netmask)
			m = ((const struct sockaddr_in *)(const void *)i->ifa_netmask)->sin_addr;
		bool here = m.s_addr && (a.s_addr & m.s_addr) == (gw->gateway.s_addr & m.s_addr);
		if (!found || (here && !same_subnet)) {
			gw->self = a;
			found = true;
			same_subnet = here;
		}
	}
	freeifaddrs(all);
	if (!found)
		return dc_error_set(err, gw->ifname, "the default route's interface has no IPv4 address, or is down");
	return 0;
}

int dc_gateway_discover(const char *route_path, struct dc_gateway *gw, struct dc_error *err)
{
	const char *path = route_path ? route_path : "/proc/net/route";
	FILE *fp = fopen(path, "r");
	if (!fp)
		return dc_error_set(err, path, "cannot read the routing table: %s", strerror(errno));
	/* A routing table of a few thousand routes; cap the read so a huge one stays bounded. */
	struct dc_buf b = {0};
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0 && b.len < (1u << 20))
		dc_buf_append(&b, chunk, got);
	bool failed = ferror(fp);
	fclose(fp);
	if (failed) {
		dc_buf_free(&b);
		return dc_error_set(err, path, "cannot read the routing table: read error");
	}
	int rc = dc_route_parse_default(b.data ? b.data : "", b.len, gw, err);
	dc_buf_free(&b);
	if (rc < 0) {
		snprintf(err->where, sizeof(err->where), "%s", path);
		return -1;
	}
	return dc_gateway_self_ipv4(gw, err);
}

bool dc_ipv4_is_private(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	return (h >> 24) == 10 || (h >> 20) == ((172u << 4) | 1u) || (h >> 16) == ((192u << 8) | 168u);
}

bool dc_gateway_eligible(const struct dc_gateway *gw)
{
	return dc_ipv4_is_private(gw->gateway) && dc_ipv4_is_private(gw->self);
}

/* ---- the probe --------------------------------------------------------------------- */

struct probe {
	const struct dc_gateway *gw;
	const struct dc_portmap_opts *opts;
	struct dc_portmap_result *res;
	uint16_t pxp_port, ssdp_port;
	int fd;
	uint64_t pxp_sent_ns, ssdp_sent_ns;
	unsigned pxp_sent, pxp_answers;
	/* NAT-PMP replies, sorted out at the end: the two requests share one port. */
	bool pmp_ok, pmp_error, pmp_unsupported;
	struct dc_pmp_reply pmp_ok_reply, pmp_error_reply, pmp_unsupported_reply;
	uint64_t pmp_ok_ns, pmp_error_ns;
	bool pcp_replied;
	uint64_t first_igd_ns;
};

static void send_to(struct probe *p, struct in_addr to, uint16_t port, const void *msg, size_t n, char *errbuf,
		    size_t errcap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = to};
	if (sendto(p->fd, msg, n, 0, (const struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n)
		return;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &to, ip, sizeof(ip));
	if (!errbuf[0]) /* keep the first failure: it names the cause */
		snprintf(errbuf, errcap, "sending to %s:%u failed: %s", ip, port, strerror(errno));
}

static void send_requests(struct probe *p)
{
	struct dc_portmap_result *r = p->res;
	struct in_addr gw = p->gw->gateway;
	uint8_t msg[DC_PCP_ANNOUNCE_LEN];
	p->pxp_sent_ns = dc_now_ns();
	if (!p->opts->skip_pmp) {
		size_t n = dc_pmp_external_request(msg);
		send_to(p, gw, p->pxp_port, msg, n, r->pmp_detail.send_error, sizeof(r->pmp_detail.send_error));
		r->pmp_detail.state = r->pmp_detail.send_error[0] ? DC_PXP_NOT_SENT : DC_PXP_NO_REPLY;
		p->pxp_sent += r->pmp_detail.send_error[0] ? 0 : 1;
	}
	if (!p->opts->skip_pcp) {
		size_t n = dc_pcp_announce_request(p->gw->self, msg);
		send_to(p, gw, p->pxp_port, msg, n, r->pcp_detail.send_error, sizeof(r->pcp_detail.send_error));
		r->pcp_detail.state = r->pcp_detail.send_error[0] ? DC_PXP_NOT_SENT : DC_PXP_NO_REPLY;
		p->pxp_sent += r->pcp_detail.send_error[0] ? 0 : 1;
	}
	if (!p->opts->skip_upnp) {
		/*
		 * Unicast first so a stateful host firewall expects the gateway's answer, then
		 * multicast for devices that only answer that; the IGD-specific search too, for
		 * devices that answer ssdp:all with a single unrelated descriptor (Tailscale
		 * issues #3197, #3557).
		 */
		char all[256], igd[256];
		size_t n_all = dc_ssdp_msearch("ssdp:all", all, sizeof(all));
		size_t n_igd = dc_ssdp_msearch(IGD_URN, igd, sizeof(igd));
		struct in_addr group;
		inet_pton(AF_INET, DC_SSDP_GROUP, &group);
		char *e = r->upnp_detail.send_error;
		size_t ecap = sizeof(r->upnp_detail.send_error);
		p->ssdp_sent_ns = dc_now_ns();
		send_to(p, gw, p->ssdp_port, all, n_all, e, ecap);
		bool unicast_ok = !e[0];
		if (!p->opts->no_multicast) {
			send_to(p, group, p->ssdp_port, all, n_all, e, ecap);
			send_to(p, group, p->ssdp_port, igd, n_igd, e, ecap);
		}
		r->upnp_detail.sent = unicast_ok || !p->opts->no_multicast;
	}
}

static void on_pxp(struct probe *p, const uint8_t *b, size_t n, uint64_t now)
{
	struct dc_portmap_result *r = p->res;
	struct dc_error e;
	dc_error_clear(&e);
	p->pxp_answers++;
	if (n >= 1 && b[0] == PCP_VERSION) {
		struct dc_pcp_reply reply;
		int rc = dc_pcp_parse(b, n, &reply, &e);
		if (rc < 0 || reply.opcode != PCP_OP_ANNOUNCE) {
			if (!p->pcp_replied) {
				r->pcp_detail.state = DC_PXP_MALFORMED;
				if (rc < 0)
					note(r->pcp_detail.detail, sizeof(r->pcp_detail.detail), "%s", e.what);
				else
					note(r->pcp_detail.detail, sizeof(r->pcp_detail.detail),
						 "a PCP reply to opcode %u, not to the ANNOUNCE sent", reply.opcode);
			}
			return;
		}
		if (p->pcp_replied)
			return;
		p->pcp_replied = true;
		r->pcp_detail.state = DC_PXP_REPLIED;
		r->pcp_detail.reply = reply;
		r->pcp_detail.rtt_ns = now - p->pxp_sent_ns;
		r->pcp_detail.detail[0] = '\0';
		return;
	}
	struct dc_pmp_reply reply;
	if (dc_pmp_parse(b, n, &reply, &e) < 0) {
		if (r->pmp_detail.state != DC_PXP_REPLIED) {
			r->pmp_detail.state = DC_PXP_MALFORMED;
			note(r->pmp_detail.detail, sizeof(r->pmp_detail.detail), "%s", e.what);
		}
		return;
	}
	if (dc_pmp_reply_usable(&reply)) {
		if (!p->pmp_ok) {
			p->pmp_ok = true;
			p->pmp_ok_reply = reply;
			p->pmp_ok_ns = now;
		}
	} else if (reply.result == DC_PMP_UNSUPPORTED_VERSION) {
		p->pmp_unsupported = true;
		p->pmp_unsupported_reply = reply;
	} else if (!p->pmp_error) {
		p->pmp_error = true;
		p->pmp_error_reply = reply;
		p->pmp_error_ns = now;
	}
}

static void on_ssdp(struct probe *p, const uint8_t *b, size_t n, struct in_addr from, uint64_t now)
{
	struct dc_portmap_result *r = p->res;
	struct dc_ssdp_reply reply;
	struct dc_error e;
	if (dc_ssdp_parse(b, n, &reply, &e) < 0) {
		r->ignored++;
		return;
	}
	r->upnp_detail.replies++;
	if (!reply.igd)
		return;
	if (r->upnp_detail.igd_replies++ == 0) {
		r->upnp_detail.igd = reply;
		r->upnp_detail.igd_from = from;
		r->upnp_detail.igd_not_gateway = from.s_addr != p->gw->gateway.s_addr;
		r->upnp_detail.rtt_ns = now - p->ssdp_sent_ns;
		p->first_igd_ns = now;
	}
	r->upnp = true;
}

/* Every request answered, and the UPnP gathering window over: no reason to wait longer. */
static bool all_answered(const struct probe *p, uint64_t now)
{
	if (p->pxp_answers < p->pxp_sent)
		return false;
	if (p->opts->skip_upnp || !p->res->upnp_detail.sent)
		return true;
	return p->first_igd_ns && now - p->first_igd_ns >= UPNP_GATHER_NS;
}

static void receive_replies(struct probe *p, uint64_t deadline)
{
	uint8_t buf[RECV_MAX];
	for (;;) {
		uint64_t now = dc_now_ns();
		if (now >= deadline || all_answered(p, now))
			return;
		uint64_t wait_ns = deadline - now;
		/* NAT-PMP and PCP answered: wait only for the rest of the UPnP gathering window. */
		if (p->first_igd_ns && p->pxp_answers >= p->pxp_sent) {
			uint64_t gather_left = UPNP_GATHER_NS - (now - p->first_igd_ns);
			if (gather_left < wait_ns)
				wait_ns = gather_left;
		}
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		int ms = (int)((wait_ns + 999999u) / 1000000u);
		int rc = poll(&pfd, 1, ms > 0 ? ms : 1);
		if (rc < 0 && errno != EINTR)
			return;
		if (rc <= 0)
			continue; /* the deadline check above ends the loop */
		/* Budgeted: a device that floods the socket cannot keep the probe past its deadline. */
		for (int n = 0; n < RECV_BUDGET; n++) {
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			ssize_t got = recvfrom(p->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &flen);
			if (got < 0)
				break; /* EAGAIN, or an ICMP error queued by an earlier send */
			now = dc_now_ns();
			if ((size_t)got > sizeof(buf) || flen < sizeof(from) || from.sin_family != AF_INET) {
				p->res->ignored++;
				continue;
			}
			uint16_t port = ntohs(from.sin_port);
			bool from_gw = from.sin_addr.s_addr == p->gw->gateway.s_addr;
			if (from_gw && port == p->pxp_port)
				on_pxp(p, buf, (size_t)got, now);
			else if (bytes_contain(buf, (size_t)got, IGD_MARK) || port == p->ssdp_port)
				on_ssdp(p, buf, (size_t)got, from.sin_addr, now); /* IGDs answer from other ports too (Tailscale #7377) */
			else
				p->res->ignored++;
		}
	}
}

#define PMP_ONLY "the gateway answered the PCP request with NAT-PMP's UNSUPPORTED_VERSION: it speaks NAT-PMP only"

/* NAT-PMP and PCP share one port; settle which NAT-PMP reply answered which request. */
static void settle_pxp(struct probe *p)
{
	struct dc_portmap_result *r = p->res;
	if (p->pmp_ok || p->pmp_error) {
		r->pmp_detail.state = DC_PXP_REPLIED;
		r->pmp_detail.reply = p->pmp_ok ? p->pmp_ok_reply : p->pmp_error_reply;
		r->pmp_detail.rtt_ns = (p->pmp_ok ? p->pmp_ok_ns : p->pmp_error_ns) - p->pxp_sent_ns;
		r->pmp_detail.detail[0] = '\0';
		const struct dc_pmp_reply *e = &r->pmp_detail.reply;
		if (!p->pmp_ok && e->result == DC_PMP_SUCCESS)
			note(r->pmp_detail.detail, sizeof(r->pmp_detail.detail),
			     "a success reply of %zu bytes to opcode 0x%02x, not the 12-byte external-address answer", e->len,
			     e->opcode);
		else if (!p->pmp_ok)
			note(r->pmp_detail.detail, sizeof(r->pmp_detail.detail), "the gateway refused: result %u (%s)",
			     e->result, dc_pmp_result_name(e->result));
		/* A NAT-PMP server answers a version-2 request with UNSUPPORTED_VERSION (RFC 6886 §3.5). */
		if (p->pmp_unsupported && !p->pcp_replied && r->pcp_detail.state != DC_PXP_NOT_SENT) {
			r->pcp_detail.pmp_only_gateway = true;
			note(r->pcp_detail.detail, sizeof(r->pcp_detail.detail), "%s", PMP_ONLY);
		}
	} else if (p->pmp_unsupported) {
		if (p->pcp_replied || r->pcp_detail.state == DC_PXP_NOT_SENT) {
			/* A PCP-only server refusing the version-0 request. */
			r->pmp_detail.state = DC_PXP_REPLIED;
			r->pmp_detail.reply = p->pmp_unsupported_reply;
			note(r->pmp_detail.detail, sizeof(r->pmp_detail.detail),
				 "the gateway does not speak NAT-PMP (UNSUPPORTED_VERSION)");
		} else {
			r->pcp_detail.pmp_only_gateway = true;
			note(r->pcp_detail.detail, sizeof(r->pcp_detail.detail), "%s", PMP_ONLY);
		}
	}
	if (p->pcp_replied && !dc_pcp_reply_usable(&r->pcp_detail.reply)) {
		uint8_t rc = r->pcp_detail.reply.result;
		char *d = r->pcp_detail.detail;
		size_t cap = sizeof(r->pcp_detail.detail);
		/* RFC 6887 §7.4; Tailscale counts these two as "present but unusable". */
		if (rc == DC_PCP_NOT_AUTHORIZED)
			note(d, cap, "PCP is there but refuses mappings (NOT_AUTHORIZED)");
		else if (rc == DC_PCP_ADDRESS_MISMATCH)
			note(d, cap, "a NAT between this host and the gateway rewrote the source (ADDRESS_MISMATCH)");
		else
			note(d, cap, "the gateway refused: result %u (%s)", rc, dc_pcp_result_name(rc));
	}
	r->pmp = p->pmp_ok;
	r->pcp = p->pcp_replied && dc_pcp_reply_usable(&r->pcp_detail.reply);
}

/*
 * "http://<the answering device's IPv4>[:port]/...": nothing else is fetched. The
 * authority must be exactly that, so "http://192.168.1.1:80@elsewhere/" (userinfo)
 * cannot smuggle another host past the check.
 */
static bool location_is_device(const char *url, struct in_addr device)
{
	if (strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *host = url + 7;
	size_t authority = strcspn(host, "/?#");
	if (memchr(host, '@', authority) || memchr(host, '\\', authority))
		return false;
	size_t n = strcspn(host, ":/?#");
	if (n == 0 || n >= INET_ADDRSTRLEN)
		return false;
	if (n < authority) { /* ":port": 1 to 5 digits and nothing else */
		size_t digits = authority - n - 1;
		if (digits == 0 || digits > 5 || strspn(host + n + 1, "0123456789") != digits)
			return false;
	}
	char ip[INET_ADDRSTRLEN];
	memcpy(ip, host, n);
	ip[n] = '\0';
	struct in_addr a;
	return inet_pton(AF_INET, ip, &a) == 1 && a.s_addr == device.s_addr;
}

static void fetch_description(struct probe *p)
{
	struct dc_portmap_result *r = p->res;
	const char *url = r->upnp_detail.igd.location;
	char *why = r->upnp_detail.desc_error;
	size_t cap = sizeof(r->upnp_detail.desc_error);
	if (!url[0]) {
		note(why, cap, "the IGD's answer has no LOCATION");
		return;
	}
	if (!location_is_device(url, r->upnp_detail.igd_from)) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &r->upnp_detail.igd_from, ip, sizeof(ip));
		note(why, cap, "LOCATION %s is not an http:// URL on the device that answered (%s); not fetched", url, ip);
		return;
	}
	struct dc_http_opts hopts = {
		.timeout_ms = p->opts->description_ms > 0 ? p->opts->description_ms : 1000,
		.max_bytes = DESC_MAX_BYTES,
	};
	struct dc_http_request req = {.url = url, .opts = &hopts, .no_redirects = true, .fresh_connection = true,
				      .truncate_body = true};
	struct dc_http_response resp;
	struct dc_error e;
	if (dc_http_fetch(&req, &resp, &e) < 0) {
		note(why, cap, "%s", e.what);
	} else if (resp.status != 200) {
		note(why, cap, "fetching %s: HTTP %ld, not 200", url, resp.status);
	} else if (dc_igd_desc_parse(resp.body.data, resp.body.len, &r->upnp_detail.desc, &e) < 0) {
		note(why, cap, "%s: %s", url, e.what);
	} else {
		r->upnp_detail.desc_fetched = true;
	}
	dc_http_response_free(&resp);
}

static int open_socket(const struct dc_gateway *gw, bool multicast, struct dc_error *err)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return dc_error_set(err, NULL, "cannot open a UDP socket: %s", strerror(errno));
	struct sockaddr_in any = {.sin_family = AF_INET};
	if (bind(fd, (const struct sockaddr *)&any, sizeof(any)) < 0) {
		dc_error_set(err, NULL, "cannot bind a UDP socket: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (multicast) {
		/* Out of the gateway's interface; TTL 2 as UPnP Device Architecture 1.1 §1.1.2 says. */
		unsigned char ttl = 2, loop = 0;
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
		if (gw->self.s_addr)
			setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &gw->self, sizeof(gw->self));
	}
	return fd;
}

int dc_portmap_probe(const struct dc_gateway *gw, const struct dc_portmap_opts *opts,
		     struct dc_portmap_result *result, struct dc_error *err)
{
	static const struct dc_portmap_opts defaults;
	if (!opts)
		opts = &defaults;
	memset(result, 0, sizeof(*result));
	if (!opts->any_range && !dc_gateway_eligible(gw)) {
		char g[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &gw->gateway, g, sizeof(g));
		inet_ntop(AF_INET, &gw->self, s, sizeof(s));
		note(result->skip_reason, sizeof(result->skip_reason),
			 "skipping portmap; gateway range likely lacks support (gateway %s, this host %s: both must be RFC 1918)",
			 g, s);
		return 0;
	}
	struct probe p = {
		.gw = gw,
		.opts = opts,
		.res = result,
		.pxp_port = opts->pxp_port ? opts->pxp_port : DC_PXP_PORT,
		.ssdp_port = opts->ssdp_port ? opts->ssdp_port : DC_SSDP_PORT,
	};
	p.fd = open_socket(gw, !opts->no_multicast && !opts->skip_upnp, err);
	if (p.fd < 0)
		return -1;
	result->probed = true;
	uint64_t start = dc_now_ns();
	long wait_ms = opts->wait_ms > 0 ? opts->wait_ms : DC_PORTMAP_WAIT_MS;
	send_requests(&p);
	receive_replies(&p, start + (uint64_t)wait_ms * 1000000u);
	close(p.fd);
	settle_pxp(&p);
	result->elapsed_ns = dc_now_ns() - start;
	if (result->upnp && opts->fetch_description)
		fetch_description(&p);
	return 0;
}

void dc_portmap_summary(const struct dc_portmap_result *r, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s%s", r->upnp ? "UPnP" : "", r->upnp && (r->pmp || r->pcp) ? ", " : "",
		 r->pmp ? "NAT-PMP" : "", r->pmp && r->pcp ? ", " : "", r->pcp ? "PCP" : "");
}
