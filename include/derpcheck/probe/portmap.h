/*
 * Port-mapping services on the LAN gateway, found the way Tailscale's netcheck looks for
 * them (protocols.md §3.6): from one UDP socket, a NAT-PMP external-address request
 * (RFC 6886) and a PCP ANNOUNCE (RFC 6887) to gateway:5351, and SSDP M-SEARCHes for an
 * Internet Gateway Device to gateway:1900 and 239.255.255.250:1900; then a bounded wait
 * (250 ms by default) for replies. Beyond Tailscale, the NAT-PMP external address, the
 * PCP epoch and result, and the IGD's device description are reported too.
 *
 * Only the default gateway (or an address the caller names) is ever contacted, plus the
 * SSDP multicast group on the gateway's LAN (which callers can turn off).
 */
#ifndef DERPCHECK_PORTMAP_H
#define DERPCHECK_PORTMAP_H

#include <net/if.h>
#include <netinet/in.h>

#include "derpcheck/util/util.h"

#define DC_PXP_PORT 5351  /* NAT-PMP and PCP */
#define DC_SSDP_PORT 1900
#define DC_SSDP_GROUP "239.255.255.250"
#define DC_PORTMAP_WAIT_MS 250 /* Tailscale's total wait for replies */

/* ---- wire formats ------------------------------------------------------------------ */

#define DC_PMP_REQUEST_LEN 2
#define DC_PCP_ANNOUNCE_LEN 24

/* NAT-PMP result codes (RFC 6886 §3.5). */
enum {
	DC_PMP_SUCCESS = 0,
	DC_PMP_UNSUPPORTED_VERSION = 1,
	DC_PMP_NOT_AUTHORIZED = 2,
	DC_PMP_NETWORK_FAILURE = 3,
	DC_PMP_OUT_OF_RESOURCES = 4,
	DC_PMP_UNSUPPORTED_OPCODE = 5,
};

/* PCP result codes (RFC 6887 §7.4). */
enum {
	DC_PCP_SUCCESS = 0,
	DC_PCP_UNSUPP_VERSION = 1,
	DC_PCP_NOT_AUTHORIZED = 2,
	DC_PCP_MALFORMED_REQUEST = 3,
	DC_PCP_UNSUPP_OPCODE = 4,
	DC_PCP_UNSUPP_OPTION = 5,
	DC_PCP_MALFORMED_OPTION = 6,
	DC_PCP_NETWORK_FAILURE = 7,
	DC_PCP_NO_RESOURCES = 8,
	DC_PCP_UNSUPP_PROTOCOL = 9,
	DC_PCP_USER_EX_QUOTA = 10,
	DC_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	DC_PCP_ADDRESS_MISMATCH = 12,
	DC_PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* A NAT-PMP reply (version 0): any opcode, so error replies are described too. */
struct dc_pmp_reply {
	uint8_t opcode;        /* 0x80 answers the external-address request */
	uint16_t result;
	uint32_t epoch;        /* seconds since the gateway's port-mapping table started */
	struct in_addr external; /* from a successful external-address reply (opcode 0x80, result 0) */
	size_t len;
};

/* A PCP reply (version 2): the 24-byte common response header. */
struct dc_pcp_reply {
	uint8_t opcode;   /* without the R bit; 0 = ANNOUNCE */
	uint8_t result;
	uint32_t lifetime;
	uint32_t epoch;
	size_t len;
};

/* An SSDP answer (HTTP/1.1 200 OK to an M-SEARCH, or a NOTIFY). Fields are truncated, NUL-terminated. */
struct dc_ssdp_reply {
	bool igd;            /* the datagram contains ":InternetGatewayDevice:" (Tailscale's test) */
	int status;          /* 200, or 0 for a NOTIFY */
	char location[256];  /* LOCATION: the device description URL */
	char server[128];
	char st[128];        /* ST (or NT in a NOTIFY) */
	char usn[160];
};

/* The device description's root device (UPnP Device Architecture §2.3). */
struct dc_igd_desc {
	char device_type[128];
	char friendly_name[128];
	char manufacturer[128];
	char model_name[128];
	char model_number[64];
};

/* 00 00: version 0, opcode 0, "what is my external address". */
size_t dc_pmp_external_request(uint8_t out[DC_PMP_REQUEST_LEN]);
/* Version 2, opcode 0 (ANNOUNCE), lifetime 0, self as an IPv4-mapped IPv6 address at 8..23. */
size_t dc_pcp_announce_request(struct in_addr self, uint8_t out[DC_PCP_ANNOUNCE_LEN]);
/* The M-SEARCH Tailscale sends, for search target st ("ssdp:all" or an IGD URN). */
size_t dc_ssdp_msearch(const char *st, char *out, size_t cap);

/* 0 and *r filled for a well-formed reply, -1 (why in err) otherwise. */
int dc_pmp_parse(const uint8_t *b, size_t n, struct dc_pmp_reply *r, struct dc_error *err);
int dc_pcp_parse(const uint8_t *b, size_t n, struct dc_pcp_reply *r, struct dc_error *err);
int dc_ssdp_parse(const uint8_t *b, size_t n, struct dc_ssdp_reply *r, struct dc_error *err);
/* The first friendlyName, manufacturer, modelName, ... in a description; -1 when none. */
int dc_igd_desc_parse(const char *xml, size_t n, struct dc_igd_desc *d, struct dc_error *err);

/* Tailscale's success rules (§3.6): NAT-PMP opcode 0x80, result 0, 12 bytes; PCP ANNOUNCE result 0. */
bool dc_pmp_reply_usable(const struct dc_pmp_reply *r);
bool dc_pcp_reply_usable(const struct dc_pcp_reply *r);

const char *dc_pmp_result_name(uint16_t result); /* "NETWORK_FAILURE", ..., "unknown" */
const char *dc_pcp_result_name(uint8_t result);  /* "NOT_AUTHORIZED", ..., "unknown" */

/* ---- the gateway ------------------------------------------------------------------ */

struct dc_gateway {
	struct in_addr gateway;
	struct in_addr self;         /* this host's IPv4 on the gateway's interface */
	char ifname[IF_NAMESIZE];
	uint32_t metric;
};

/*
 * The default route in the text of /proc/net/route: destination and mask 0, flags UP and
 * GATEWAY, lowest metric. Addresses in that file are the kernel's network-order values
 * printed as host integers, so the text is only meaningful on the machine that wrote it.
 * Fills gateway, ifname and metric; -1 (err says why) when there is no default route.
 */
int dc_route_parse_default(const char *text, size_t n, struct dc_gateway *gw, struct dc_error *err);

/* gw->self: the IPv4 address of the up interface gw->ifname, the one whose subnet holds the gateway first. */
int dc_gateway_self_ipv4(struct dc_gateway *gw, struct dc_error *err);

/* Both of the above; route_path NULL means /proc/net/route. */
int dc_gateway_discover(const char *route_path, struct dc_gateway *gw, struct dc_error *err);

/* RFC 1918: 10/8, 172.16/12, 192.168/16. */
bool dc_ipv4_is_private(struct in_addr a);

/* Tailscale probes only when the gateway and this host are both in private ranges. */
bool dc_gateway_eligible(const struct dc_gateway *gw);

/* ---- the probe -------------------------------------------------------------------- */

struct dc_portmap_opts {
	long wait_ms;             /* total wait for replies; 0 means DC_PORTMAP_WAIT_MS */
	uint16_t pxp_port;        /* 0 means 5351; tests use other ports */
	uint16_t ssdp_port;       /* 0 means 1900 */
	bool no_multicast;        /* only the unicast M-SEARCH to the gateway (loopback tests) */
	bool any_range;           /* probe even when dc_gateway_eligible is false (tests) */
	bool skip_pmp, skip_pcp, skip_upnp;
	bool fetch_description;   /* GET the IGD's LOCATION (only from the device that answered) */
	long description_ms;      /* deadline for that GET; 0 means 1000 */
};

enum dc_pxp_state {
	DC_PXP_NOT_SENT,   /* skipped, or sending failed (see send_error) */
	DC_PXP_NO_REPLY,   /* sent, nothing came back within the wait */
	DC_PXP_REPLIED,    /* a well-formed reply arrived; see its result */
	DC_PXP_MALFORMED,  /* only unparsable replies arrived (see detail) */
};

struct dc_portmap_result {
	/*
	 * false (with skip_reason) when the probe did not run: Tailscale then reports all
	 * three services as false, not as unknown ("PortMapping: " and nothing after it).
	 */
	bool probed;
	char skip_reason[160];
	bool upnp, pmp, pcp;     /* Tailscale's three answers (usable services) */

	struct {
		enum dc_pxp_state state;
		struct dc_pmp_reply reply; /* the usable reply, else the first error reply */
		uint64_t rtt_ns;
		char send_error[128];
		char detail[160];
	} pmp_detail;

	struct {
		enum dc_pxp_state state;
		struct dc_pcp_reply reply;
		uint64_t rtt_ns;
		/* The gateway answered the PCP request as a NAT-PMP-only server (v0, UNSUPPORTED_VERSION). */
		bool pmp_only_gateway;
		char send_error[128];
		char detail[160];
	} pcp_detail;

	struct {
		bool sent;
		size_t replies;      /* SSDP datagrams that parsed */
		size_t igd_replies;
		struct dc_ssdp_reply igd; /* the first IGD answer */
		struct in_addr igd_from;
		bool igd_not_gateway;   /* the IGD answered from another address than the gateway */
		uint64_t rtt_ns;
		char send_error[128];
		/* Device description (opts.fetch_description). */
		bool desc_fetched;
		struct dc_igd_desc desc;
		char desc_error[256];
	} upnp_detail;

	size_t ignored;          /* datagrams that were none of the above */
	uint64_t elapsed_ns;     /* the UDP phase */
};

/*
 * Probe gw (from dc_gateway_discover, or made by the caller; gw->self is needed for PCP).
 * Returns 0 with result filled, also when nothing answered or the gateway range was not
 * eligible (result->probed false); -1 with err only when the socket cannot be used.
 */
int dc_portmap_probe(const struct dc_gateway *gw, const struct dc_portmap_opts *opts,
		     struct dc_portmap_result *result, struct dc_error *err);

/* "UPnP, NAT-PMP, PCP" as Tailscale prints it: the usable ones, in that order, or "". */
void dc_portmap_summary(const struct dc_portmap_result *r, char *out, size_t n);

#endif
