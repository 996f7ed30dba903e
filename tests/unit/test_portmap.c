/*
 * Port-mapping detection (protocols.md §3.6): the NAT-PMP, PCP and SSDP codecs, the
 * device description, the routing table, and the probe itself against a fake gateway
 * on loopback (a forked child answering on ephemeral ports). Nothing here sends to a
 * real gateway: every probe names 127.0.0.1 explicitly and multicast is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/probe/portmap.h"

static struct in_addr ip4(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static const char *ntop(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];
	return inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

/* ---- encoders ---------------------------------------------------------------------- */

static void test_pmp_request_is_version_0_opcode_0(void **state)
{
	(void)state;
	uint8_t b[DC_PMP_REQUEST_LEN];
	assert_int_equal(dc_pmp_external_request(b), 2);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 0);
}

static void test_pcp_announce_carries_self_as_v4_mapped_ipv6(void **state)
{
	(void)state;
	uint8_t b[DC_PCP_ANNOUNCE_LEN];
	assert_int_equal(dc_pcp_announce_request(ip4("192.168.77.2"), b), 24);
	const uint8_t want[24] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 77, 2};
	assert_memory_equal(b, want, sizeof(want));
}

static void test_msearch_is_tailscales_text(void **state)
{
	(void)state;
	char b[256];
	size_t n = dc_ssdp_msearch("ssdp:all", b, sizeof(b));
	const char *want = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: ssdp:all\r\n"
			   "MAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n";
	assert_int_equal(n, strlen(want));
	assert_string_equal(b, want);
	assert_int_equal(dc_ssdp_msearch("ssdp:all", b, 20), 0); /* too small: refused, not cut */
}

/* ---- NAT-PMP ----------------------------------------------------------------------- */

/* What miniupnpd 2.3.1 answered in the lab, with 100.128.77.1 on its WAN interface. */
static const uint8_t pmp_ok[] = {0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x80, 0x4d, 0x01};
/* ...and with a private WAN address: NETWORK_FAILURE. */
static const uint8_t pmp_network_failure[] = {0x00, 0x80, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0e, 0, 0, 0, 0};

static void test_pmp_success_reply_gives_the_external_address(void **state)
{
	(void)state;
	struct dc_pmp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pmp_parse(pmp_ok, sizeof(pmp_ok), &r, &err), 0);
	assert_int_equal(r.opcode, 0x80);
	assert_int_equal(r.result, DC_PMP_SUCCESS);
	assert_int_equal(r.epoch, 1);
	assert_string_equal(ntop(r.external), "100.128.77.1");
	assert_true(dc_pmp_reply_usable(&r));
}

static void test_pmp_error_reply_parses_but_is_not_usable(void **state)
{
	(void)state;
	struct dc_pmp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pmp_parse(pmp_network_failure, sizeof(pmp_network_failure), &r, &err), 0);
	assert_int_equal(r.result, DC_PMP_NETWORK_FAILURE);
	assert_string_equal(dc_pmp_result_name(r.result), "NETWORK_FAILURE");
	assert_int_equal(r.external.s_addr, 0);
	assert_false(dc_pmp_reply_usable(&r));
}

static void test_pmp_eight_byte_error_reply_is_well_formed(void **state)
{
	(void)state;
	/* RFC 6886 §3.5: UNSUPPORTED_VERSION replies may stop after the epoch. */
	const uint8_t b[] = {0x00, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05};
	struct dc_pmp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pmp_parse(b, sizeof(b), &r, &err), 0);
	assert_int_equal(r.result, DC_PMP_UNSUPPORTED_VERSION);
}

static void test_pmp_success_without_the_address_is_malformed(void **state)
{
	(void)state;
	struct dc_pmp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pmp_parse(pmp_ok, 8, &r, &err), -1);
	assert_string_equal(err.what, "NAT-PMP external-address reply of 8 bytes lacks the address (needs 12)");
}

static void test_pmp_reply_longer_than_12_is_not_usable_like_tailscale(void **state)
{
	(void)state;
	uint8_t b[13];
	memcpy(b, pmp_ok, sizeof(pmp_ok));
	b[12] = 0;
	struct dc_pmp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pmp_parse(b, sizeof(b), &r, &err), 0);
	assert_false(dc_pmp_reply_usable(&r));
}

static void test_pmp_short_wrong_version_and_request_are_rejected(void **state)
{
	(void)state;
	struct dc_pmp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pmp_parse(pmp_ok, 7, &r, &err), -1);
	assert_string_equal(err.what, "NAT-PMP reply of 7 bytes is shorter than its 8-byte header");
	const uint8_t v1[] = {0x01, 0x80, 0, 0, 0, 0, 0, 0};
	assert_int_equal(dc_pmp_parse(v1, sizeof(v1), &r, &err), -1);
	assert_string_equal(err.what, "not a NAT-PMP reply: version 1, want 0");
	const uint8_t req[] = {0x00, 0x00, 0, 0, 0, 0, 0, 0};
	assert_int_equal(dc_pmp_parse(req, sizeof(req), &r, &err), -1);
	assert_string_equal(err.what, "NAT-PMP opcode 0x00 is a request, not a reply");
	assert_int_equal(dc_pmp_parse(NULL, 0, &r, &err), -1);
}

/* ---- PCP --------------------------------------------------------------------------- */

static void pcp_reply(uint8_t b[24], uint8_t op, uint8_t result, uint32_t epoch)
{
	memset(b, 0, 24);
	b[0] = 2;
	b[1] = op;
	b[3] = result;
	b[8] = (uint8_t)(epoch >> 24);
	b[9] = (uint8_t)(epoch >> 16);
	b[10] = (uint8_t)(epoch >> 8);
	b[11] = (uint8_t)epoch;
}

static void test_pcp_announce_success_is_usable(void **state)
{
	(void)state;
	uint8_t b[24];
	pcp_reply(b, 0x80, 0, 1);
	struct dc_pcp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pcp_parse(b, sizeof(b), &r, &err), 0);
	assert_int_equal(r.opcode, 0);
	assert_int_equal(r.epoch, 1);
	assert_true(dc_pcp_reply_usable(&r));
}

static void test_pcp_not_authorized_and_address_mismatch_are_present_but_unusable(void **state)
{
	(void)state;
	uint8_t b[24];
	struct dc_pcp_reply r;
	struct dc_error err;
	pcp_reply(b, 0x80, DC_PCP_NOT_AUTHORIZED, 7);
	assert_int_equal(dc_pcp_parse(b, sizeof(b), &r, &err), 0);
	assert_false(dc_pcp_reply_usable(&r));
	assert_string_equal(dc_pcp_result_name(r.result), "NOT_AUTHORIZED");
	pcp_reply(b, 0x80, DC_PCP_ADDRESS_MISMATCH, 7);
	assert_int_equal(dc_pcp_parse(b, sizeof(b), &r, &err), 0);
	assert_false(dc_pcp_reply_usable(&r));
	assert_string_equal(dc_pcp_result_name(r.result), "ADDRESS_MISMATCH");
	assert_string_equal(dc_pcp_result_name(200), "unknown");
}

static void test_pcp_map_reply_is_not_an_announce_answer(void **state)
{
	(void)state;
	uint8_t b[60] = {0};
	pcp_reply(b, 0x81, 0, 1);
	struct dc_pcp_reply r;
	struct dc_error err;
	assert_int_equal(dc_pcp_parse(b, sizeof(b), &r, &err), 0);
	assert_int_equal(r.opcode, 1);
	assert_false(dc_pcp_reply_usable(&r));
}

static void test_pcp_short_long_request_and_wrong_version_are_rejected(void **state)
{
	(void)state;
	uint8_t b[1200] = {0};
	struct dc_pcp_reply r;
	struct dc_error err;
	pcp_reply(b, 0x80, 0, 1);
	assert_int_equal(dc_pcp_parse(b, 23, &r, &err), -1);
	assert_string_equal(err.what, "PCP reply of 23 bytes is shorter than its 24-byte header");
	assert_int_equal(dc_pcp_parse(b, 1104, &r, &err), -1);
	assert_string_equal(err.what, "PCP reply of 1104 bytes is longer than the 1100 bytes RFC 6887 allows");
	b[1] = 0x00;
	assert_int_equal(dc_pcp_parse(b, 24, &r, &err), -1);
	assert_string_equal(err.what, "PCP opcode 0x00 has the R bit clear: a request, not a reply");
	b[0] = 1;
	assert_int_equal(dc_pcp_parse(b, 24, &r, &err), -1);
	assert_string_equal(err.what, "not a PCP reply: version 1, want 2");
}

/* ---- SSDP -------------------------------------------------------------------------- */

static const char ssdp_igd[] =
	"HTTP/1.1 200 OK\r\n"
	"CACHE-CONTROL: max-age=120\r\n"
	"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
	"USN: uuid:6f2b1c3a-0d1e-4a5b-9c8d-7e6f5a4b3c2d::urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
	"EXT:\r\n"
	"SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
	"LOCATION: http://192.168.77.1:5000/rootDesc.xml\r\n"
	"OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
	"\r\n";

static void test_ssdp_igd_answer_gives_location_server_and_st(void **state)
{
	(void)state;
	struct dc_ssdp_reply r;
	struct dc_error err;
	assert_int_equal(dc_ssdp_parse((const uint8_t *)ssdp_igd, strlen(ssdp_igd), &r, &err), 0);
	assert_true(r.igd);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.location, "http://192.168.77.1:5000/rootDesc.xml");
	assert_string_equal(r.server, "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1");
	assert_string_equal(r.st, "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
}

static void test_ssdp_answer_for_another_device_is_not_an_igd(void **state)
{
	(void)state;
	const char text[] = "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:WANDevice:2\r\n"
			    "LOCATION: http://192.168.77.1:5000/rootDesc.xml\r\n\r\n";
	struct dc_ssdp_reply r;
	struct dc_error err;
	assert_int_equal(dc_ssdp_parse((const uint8_t *)text, strlen(text), &r, &err), 0);
	assert_false(r.igd);
}

static void test_ssdp_header_names_are_case_insensitive_and_lf_is_enough(void **state)
{
	(void)state;
	const char text[] = "HTTP/1.1 200 OK\nlocation:   http://10.0.0.1/igd.xml  \nst:upnp:rootdevice\n"
			    "Usn: uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1\n\n";
	struct dc_ssdp_reply r;
	struct dc_error err;
	assert_int_equal(dc_ssdp_parse((const uint8_t *)text, strlen(text), &r, &err), 0);
	assert_string_equal(r.location, "http://10.0.0.1/igd.xml");
	assert_string_equal(r.st, "upnp:rootdevice");
	assert_true(r.igd); /* Tailscale's test is on the whole datagram, not on ST */
}

static void test_ssdp_notify_is_accepted_and_requests_are_not(void **state)
{
	(void)state;
	struct dc_ssdp_reply r;
	struct dc_error err;
	const char notify[] = "NOTIFY * HTTP/1.1\r\nNT: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n";
	assert_int_equal(dc_ssdp_parse((const uint8_t *)notify, strlen(notify), &r, &err), 0);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.st, "urn:schemas-upnp-org:device:InternetGatewayDevice:1");
	char search[256];
	size_t n = dc_ssdp_msearch("urn:schemas-upnp-org:device:InternetGatewayDevice:1", search, sizeof(search));
	assert_int_equal(dc_ssdp_parse((const uint8_t *)search, n, &r, &err), -1);
	assert_string_equal(err.what, "an SSDP M-SEARCH request (another client's), not an answer");
}

static void test_ssdp_garbage_and_bad_status_lines_are_rejected(void **state)
{
	(void)state;
	struct dc_ssdp_reply r;
	struct dc_error err;
	assert_int_equal(dc_ssdp_parse((const uint8_t *)"\x00\x80", 2, &r, &err), -1);
	assert_string_equal(err.what, "not an SSDP answer: no HTTP status line");
	assert_int_equal(dc_ssdp_parse((const uint8_t *)"HTTP/1.1 2x0 OK\r\n", 17, &r, &err), -1);
	assert_string_equal(err.what, "SSDP answer has a malformed status line");
	assert_int_equal(dc_ssdp_parse(NULL, 0, &r, &err), -1);
	assert_string_equal(err.what, "empty SSDP datagram");
}

static void test_ssdp_control_bytes_and_long_values_are_contained(void **state)
{
	(void)state;
	char text[1024];
	char longloc[600];
	memset(longloc, 'a', sizeof(longloc) - 1);
	longloc[sizeof(longloc) - 1] = '\0';
	int n = snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nSERVER: evil\x1b[31m\r\nLOCATION: http://%s\r\n\r\n", longloc);
	struct dc_ssdp_reply r;
	struct dc_error err;
	assert_int_equal(dc_ssdp_parse((const uint8_t *)text, (size_t)n, &r, &err), 0);
	assert_string_equal(r.server, "evil?[31m");
	assert_int_equal(strlen(r.location), sizeof(r.location) - 1);
}

/* ---- device description ------------------------------------------------------------ */

static const char desc_xml[] =
	"<?xml version=\"1.0\"?>\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\"><specVersion><major>1</major></specVersion>"
	"<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>"
	"<friendlyName>derpcheck lab router</friendlyName><manufacturer>Bits &amp; Bytes</manufacturer>"
	"<modelName>\n  lab-igd  \n</modelName><modelNumber>1</modelNumber>"
	"<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>"
	"<friendlyName>WANDevice</friendlyName><manufacturer>MiniUPnP</manufacturer></device></deviceList>"
	"</device></root>";

static void test_description_names_the_root_device_not_embedded_ones(void **state)
{
	(void)state;
	struct dc_igd_desc d;
	struct dc_error err;
	assert_int_equal(dc_igd_desc_parse(desc_xml, strlen(desc_xml), &d, &err), 0);
	assert_string_equal(d.device_type, "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
	assert_string_equal(d.friendly_name, "derpcheck lab router");
	assert_string_equal(d.manufacturer, "Bits & Bytes");
	assert_string_equal(d.model_name, "lab-igd");
	assert_string_equal(d.model_number, "1");
}

static void test_description_fields_missing_from_the_root_stay_empty(void **state)
{
	(void)state;
	const char xml[] = "<root><device><friendlyName lang=\"en\">Box</friendlyName>"
			   "<deviceList><device><manufacturer>Sub</manufacturer></device></deviceList></device></root>";
	struct dc_igd_desc d;
	struct dc_error err;
	assert_int_equal(dc_igd_desc_parse(xml, strlen(xml), &d, &err), 0);
	assert_string_equal(d.friendly_name, "Box");
	assert_string_equal(d.manufacturer, "");
}

static void test_description_without_names_or_device_is_an_error(void **state)
{
	(void)state;
	struct dc_igd_desc d;
	struct dc_error err;
	const char nodev[] = "<html><body>router login</body></html>";
	assert_int_equal(dc_igd_desc_parse(nodev, strlen(nodev), &d, &err), -1);
	assert_string_equal(err.what, "no <device> element in the device description");
	const char unterminated[] = "<root><device><friendlyName>never closed";
	assert_int_equal(dc_igd_desc_parse(unterminated, strlen(unterminated), &d, &err), -1);
	assert_string_equal(err.what, "the device description names no friendlyName, manufacturer or modelName");
}

/* ---- routing table ----------------------------------------------------------------- */

/* /proc/net/route as written by a little-endian kernel (x86-64, arm64). */
static const char route_text[] =
	"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	"wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
	"eth0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	"eth0\t004DA8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
	"docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

static bool little_endian(void)
{
	const uint16_t one = 1;
	return *(const uint8_t *)&one == 1;
}

static void test_default_route_with_the_lowest_metric_wins(void **state)
{
	(void)state;
	if (!little_endian())
		skip(); /* the fixture holds a little-endian kernel's numbers */
	struct dc_gateway gw;
	struct dc_error err;
	assert_int_equal(dc_route_parse_default(route_text, strlen(route_text), &gw, &err), 0);
	assert_string_equal(ntop(gw.gateway), "192.168.77.1");
	assert_string_equal(gw.ifname, "eth0");
	assert_int_equal(gw.metric, 100);
}

static void test_default_route_without_a_gateway_is_not_used(void **state)
{
	(void)state;
	const char text[] = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
			    "ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
			    "ppp0\t0100000A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n";
	struct dc_gateway gw;
	struct dc_error err;
	assert_int_equal(dc_route_parse_default(text, strlen(text), &gw, &err), -1);
	assert_string_equal(err.what, "no IPv4 default route through a gateway");
	assert_true(err.hint[0] != '\0');
}

static void test_routing_table_garbage_is_an_error_not_a_crash(void **state)
{
	(void)state;
	struct dc_gateway gw;
	struct dc_error err;
	const char text[] = "Iface\tDestination\n eth0 zz 00 \n\n\t\t\nthis is not a table at all\n";
	assert_int_equal(dc_route_parse_default(text, strlen(text), &gw, &err), -1);
	assert_string_equal(err.what, "no IPv4 routes in the routing table");
	const char longname[] = "averyveryverylongifname\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n";
	assert_int_equal(dc_route_parse_default(longname, strlen(longname), &gw, &err), -1);
	assert_int_equal(dc_route_parse_default("", 0, &gw, &err), -1);
}

static void test_discover_reads_a_route_file_and_names_it_on_error(void **state)
{
	(void)state;
	char path[] = "/tmp/derpcheck-route.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct dc_gateway gw;
	struct dc_error err;
	assert_int_equal(dc_gateway_discover(path, &gw, &err), -1);
	assert_string_equal(err.where, path);
	unlink(path);
	assert_int_equal(dc_gateway_discover("/nonexistent/route", &gw, &err), -1);
	assert_string_equal(err.what, "cannot read the routing table: No such file or directory");
}

static void test_self_address_comes_from_the_named_interface(void **state)
{
	(void)state;
	struct dc_gateway gw = {.gateway = ip4("127.0.0.1")};
	snprintf(gw.ifname, sizeof(gw.ifname), "lo");
	struct dc_error err;
	assert_int_equal(dc_gateway_self_ipv4(&gw, &err), 0);
	assert_string_equal(ntop(gw.self), "127.0.0.1");
	snprintf(gw.ifname, sizeof(gw.ifname), "nosuchif0");
	assert_int_equal(dc_gateway_self_ipv4(&gw, &err), -1);
	assert_string_equal(err.where, "nosuchif0");
}

static void test_private_ranges_are_rfc1918_only(void **state)
{
	(void)state;
	assert_true(dc_ipv4_is_private(ip4("10.1.2.3")));
	assert_true(dc_ipv4_is_private(ip4("172.16.0.1")));
	assert_true(dc_ipv4_is_private(ip4("172.31.255.254")));
	assert_true(dc_ipv4_is_private(ip4("192.168.77.1")));
	assert_false(dc_ipv4_is_private(ip4("172.32.0.1")));
	assert_false(dc_ipv4_is_private(ip4("100.64.0.1"))); /* CGNAT is not RFC 1918 */
	assert_false(dc_ipv4_is_private(ip4("127.0.0.1")));
	assert_false(dc_ipv4_is_private(ip4("192.169.0.1")));
	struct dc_gateway gw = {.gateway = ip4("192.168.1.1"), .self = ip4("192.168.1.20")};
	assert_true(dc_gateway_eligible(&gw));
	gw.self = ip4("100.100.1.2");
	assert_false(dc_gateway_eligible(&gw));
}

/* ---- the probe against a fake gateway on loopback --------------------------------- */

enum pcp_answer { PCP_OK, PCP_NOT_AUTHORIZED, PCP_AS_PMP_ONLY, PCP_SILENT };

struct fake {
	bool pmp;               /* answer NAT-PMP */
	bool pmp_unsupported;   /* answer NAT-PMP like a PCP-only server: UNSUPPORTED_VERSION */
	enum pcp_answer pcp;
	bool ssdp;              /* answer M-SEARCH */
	const char *location_ip; /* LOCATION host; default 127.0.0.1 (the device itself) */
	bool answer_once;       /* answer the first request with one junk datagram (to wake the probe) */
};

struct fake_gw {
	pid_t pid;
	uint16_t pxp_port, ssdp_port, http_port;
};

static int bound(int type, uint16_t *port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void fake_run(const struct fake *f, int pxp, int ssdp, int http, uint16_t http_port)
{
	/* Serve for at most 5 s, then exit on our own. */
	for (int rounds = 0; rounds < 500; rounds++) {
		struct pollfd pfd[3] = {{pxp, POLLIN, 0}, {ssdp, POLLIN, 0}, {http, POLLIN, 0}};
		if (poll(pfd, 3, 10) <= 0)
			continue;
		uint8_t b[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		if (pfd[0].revents & POLLIN) {
			ssize_t n = recvfrom(pxp, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
			if (f->answer_once && n > 0) {
				static const uint8_t junk[4] = {0xff};
				sendto(pxp, junk, sizeof(junk), 0, (struct sockaddr *)&from, fl);
				continue;
			}
			if (n == 2 && b[0] == 0 && f->pmp) {
				sendto(pxp, pmp_ok, sizeof(pmp_ok), 0, (struct sockaddr *)&from, fl);
			} else if (n == 2 && b[0] == 0 && f->pmp_unsupported) {
				const uint8_t unsupp[] = {0x00, 0x80, 0x00, 0x01, 0, 0, 0, 3};
				sendto(pxp, unsupp, sizeof(unsupp), 0, (struct sockaddr *)&from, fl);
			} else if (n == 24 && b[0] == 2) {
				uint8_t r[24];
				if (f->pcp == PCP_OK || f->pcp == PCP_NOT_AUTHORIZED) {
					pcp_reply(r, 0x80, f->pcp == PCP_OK ? 0 : DC_PCP_NOT_AUTHORIZED, 42);
					sendto(pxp, r, 24, 0, (struct sockaddr *)&from, fl);
				} else if (f->pcp == PCP_AS_PMP_ONLY) {
					const uint8_t unsupp[] = {0x00, 0x80, 0x00, 0x01, 0, 0, 0, 9};
					sendto(pxp, unsupp, sizeof(unsupp), 0, (struct sockaddr *)&from, fl);
				}
			}
		}
		if (pfd[1].revents & POLLIN) {
			ssize_t n = recvfrom(ssdp, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
			if (n > 8 && memcmp(b, "M-SEARCH", 8) == 0 && f->ssdp) {
				const char other[] = "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:WANDevice:2\r\n\r\n";
				sendto(ssdp, other, strlen(other), 0, (struct sockaddr *)&from, fl);
				char igd[512];
				int len = snprintf(igd, sizeof(igd),
						   "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
						   "SERVER: fake/1\r\nLOCATION: http://%s:%u/rootDesc.xml\r\n\r\n",
						   f->location_ip ? f->location_ip : "127.0.0.1", http_port);
				sendto(ssdp, igd, (size_t)len, 0, (struct sockaddr *)&from, fl);
			}
		}
		if (pfd[2].revents & POLLIN) {
			int c = accept(http, NULL, NULL);
			if (c >= 0) {
				char req[2048];
				if (read(c, req, sizeof(req)) > 0) {
					char resp[2048];
					int len = snprintf(resp, sizeof(resp),
							   "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\n"
							   "Connection: close\r\n\r\n%s",
							   strlen(desc_xml), desc_xml);
					if (write(c, resp, (size_t)len) < 0)
						break;
				}
				close(c);
			}
		}
	}
}

static struct fake_gw fake_start(const struct fake *f)
{
	struct fake_gw g;
	int pxp = bound(SOCK_DGRAM, &g.pxp_port);
	int ssdp = bound(SOCK_DGRAM, &g.ssdp_port);
	int http = bound(SOCK_STREAM, &g.http_port);
	g.pid = fork();
	assert_true(g.pid >= 0);
	if (g.pid == 0) {
		fake_run(f, pxp, ssdp, http, g.http_port);
		_exit(0);
	}
	close(pxp);
	close(ssdp);
	close(http);
	return g;
}

static void fake_stop(struct fake_gw *g)
{
	kill(g->pid, SIGKILL);
	waitpid(g->pid, NULL, 0);
}

static struct dc_portmap_result probe(const struct fake_gw *g, long wait_ms, bool describe)
{
	struct dc_gateway gw = {.ifname = "lo"};
	gw.gateway.s_addr = htonl(INADDR_LOOPBACK);
	gw.self.s_addr = htonl(INADDR_LOOPBACK);
	struct dc_portmap_opts opts = {
		.wait_ms = wait_ms,
		.pxp_port = g->pxp_port,
		.ssdp_port = g->ssdp_port,
		.no_multicast = true,
		.any_range = true, /* 127.0.0.1 is not RFC 1918 */
		.fetch_description = describe,
	};
	struct dc_portmap_result r;
	struct dc_error err;
	assert_int_equal(dc_portmap_probe(&gw, &opts, &r, &err), 0);
	return r;
}

static void test_probe_finds_all_three_and_returns_early(void **state)
{
	(void)state;
	struct fake f = {.pmp = true, .pcp = PCP_OK, .ssdp = true};
	struct fake_gw g = fake_start(&f);
	struct dc_portmap_result r = probe(&g, 2000, true);
	fake_stop(&g);
	assert_true(r.probed);
	assert_true(r.upnp);
	assert_true(r.pmp);
	assert_true(r.pcp);
	char summary[64];
	dc_portmap_summary(&r, summary, sizeof(summary));
	assert_string_equal(summary, "UPnP, NAT-PMP, PCP");
	assert_string_equal(ntop(r.pmp_detail.reply.external), "100.128.77.1");
	assert_int_equal(r.pcp_detail.reply.epoch, 42);
	assert_int_equal(r.upnp_detail.replies, 2);
	assert_int_equal(r.upnp_detail.igd_replies, 1);
	assert_string_equal(r.upnp_detail.igd.server, "fake/1");
	assert_false(r.upnp_detail.igd_not_gateway);
	/* Every request answered: done about 50 ms after the IGD, far before the 2 s wait. */
	assert_true(r.elapsed_ns < 1000000000u);
	assert_true(r.upnp_detail.desc_fetched);
	assert_string_equal(r.upnp_detail.desc.friendly_name, "derpcheck lab router");
	assert_string_equal(r.upnp_detail.desc.model_name, "lab-igd");
}

static void test_probe_of_a_silent_gateway_ends_at_the_deadline(void **state)
{
	(void)state;
	struct fake f = {.pcp = PCP_SILENT};
	struct fake_gw g = fake_start(&f);
	uint64_t t0 = dc_now_ns();
	struct dc_portmap_result r = probe(&g, 200, true);
	uint64_t took = dc_now_ns() - t0;
	fake_stop(&g);
	assert_true(r.probed);
	assert_false(r.upnp || r.pmp || r.pcp);
	assert_int_equal(r.pmp_detail.state, DC_PXP_NO_REPLY);
	assert_int_equal(r.pcp_detail.state, DC_PXP_NO_REPLY);
	assert_true(r.upnp_detail.sent);
	assert_true(took >= 200000000u);
	assert_true(took < 400000000u);
	char summary[8] = "x";
	dc_portmap_summary(&r, summary, sizeof(summary));
	assert_string_equal(summary, "");
}

/*
 * A flood that never lets the socket run dry, made exact: while endless_flood is set, this
 * process's recvfrom (it interposes libc's) always has another junk datagram, as if the
 * network delivered them faster than any reader. The fake gateway runs in a child, before
 * the flag is set, and reads normally.
 */
static volatile bool endless_flood;
static uint64_t flood_datagrams;

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *flen)
{
	static ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	if (!real)
		*(void **)(&real) = dlsym(RTLD_NEXT, "recvfrom");
	if (!endless_flood)
		return real(fd, buf, n, flags, from, flen);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (from && flen && *flen >= sizeof(sa)) {
		memcpy(from, &sa, sizeof(sa));
		*flen = sizeof(sa);
	}
	memset(buf, 0xee, n < 8 ? n : 8);
	flood_datagrams++;
	return 8;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_portmap: the receive loop ran past its deadline (killed after 10 s)\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static void test_probe_ends_at_the_deadline_while_a_gateway_floods_it(void **state)
{
	(void)state;
	struct fake f = {.answer_once = true};
	struct fake_gw g = fake_start(&f);
	signal(SIGALRM, on_alarm);
	alarm(10);
	endless_flood = true;
	uint64_t t0 = dc_now_ns();
	struct dc_portmap_result r = probe(&g, 200, false);
	uint64_t took = dc_now_ns() - t0;
	endless_flood = false;
	alarm(0);
	fake_stop(&g);
	assert_true(r.probed);
	assert_true(flood_datagrams > 1000);
	assert_int_equal(r.ignored, flood_datagrams);
	if (took >= 700000000u)
		fail_msg("the probe took %llu ms with a 200 ms wait", (unsigned long long)(took / 1000000u));
}

static void test_probe_sees_a_nat_pmp_only_gateway_refuse_pcp(void **state)
{
	(void)state;
	struct fake f = {.pmp = true, .pcp = PCP_AS_PMP_ONLY};
	struct fake_gw g = fake_start(&f);
	struct dc_portmap_result r = probe(&g, 300, false);
	fake_stop(&g);
	assert_true(r.pmp);
	assert_false(r.pcp);
	assert_true(r.pcp_detail.pmp_only_gateway);
	assert_int_equal(r.pmp_detail.reply.result, DC_PMP_SUCCESS); /* not overwritten by the refusal */
	assert_string_equal(r.pcp_detail.detail,
			    "the gateway answered the PCP request with NAT-PMP's UNSUPPORTED_VERSION: it speaks NAT-PMP only");
}

static void test_probe_sees_a_pcp_only_gateway_refuse_nat_pmp(void **state)
{
	(void)state;
	struct fake f = {.pmp_unsupported = true, .pcp = PCP_OK};
	struct fake_gw g = fake_start(&f);
	struct dc_portmap_result r = probe(&g, 300, false);
	fake_stop(&g);
	assert_false(r.pmp);
	assert_true(r.pcp);
	assert_false(r.pcp_detail.pmp_only_gateway);
	assert_int_equal(r.pmp_detail.state, DC_PXP_REPLIED);
	assert_string_equal(r.pmp_detail.detail, "the gateway does not speak NAT-PMP (UNSUPPORTED_VERSION)");
}

static void test_probe_reports_pcp_not_authorized_as_present_but_unusable(void **state)
{
	(void)state;
	struct fake f = {.pcp = PCP_NOT_AUTHORIZED};
	struct fake_gw g = fake_start(&f);
	struct dc_portmap_result r = probe(&g, 300, false);
	fake_stop(&g);
	assert_false(r.pcp);
	assert_int_equal(r.pcp_detail.state, DC_PXP_REPLIED);
	assert_int_equal(r.pcp_detail.reply.result, DC_PCP_NOT_AUTHORIZED);
	assert_string_equal(r.pcp_detail.detail, "PCP is there but refuses mappings (NOT_AUTHORIZED)");
	assert_int_equal(r.pmp_detail.state, DC_PXP_NO_REPLY);
}

static void test_probe_fetches_no_description_from_another_host(void **state)
{
	(void)state;
	struct fake f = {.ssdp = true, .location_ip = "127.0.0.2"};
	struct fake_gw g = fake_start(&f);
	struct dc_portmap_result r = probe(&g, 300, true);
	fake_stop(&g);
	assert_true(r.upnp);
	assert_false(r.upnp_detail.desc_fetched);
	assert_non_null(strstr(r.upnp_detail.desc_error, "is not an http:// URL on the device that answered (127.0.0.1)"));
}

static void test_probe_fetches_nothing_when_userinfo_hides_another_host(void **state)
{
	(void)state;
	/* http://127.0.0.1:1@127.0.0.2:PORT/...: libcurl would connect to 127.0.0.2. */
	struct fake f = {.ssdp = true, .location_ip = "127.0.0.1:1@127.0.0.2"};
	struct fake_gw g = fake_start(&f);
	struct dc_portmap_result r = probe(&g, 300, true);
	fake_stop(&g);
	assert_true(r.upnp);
	assert_false(r.upnp_detail.desc_fetched);
	assert_non_null(strstr(r.upnp_detail.desc_error, "not fetched"));
}

static void test_probe_skips_a_gateway_outside_private_ranges_without_sending(void **state)
{
	(void)state;
	struct dc_gateway gw = {.gateway = ip4("127.0.0.1"), .self = ip4("127.0.0.1")};
	struct dc_portmap_result r;
	struct dc_error err;
	assert_int_equal(dc_portmap_probe(&gw, NULL, &r, &err), 0);
	assert_false(r.probed);
	assert_false(r.upnp || r.pmp || r.pcp);
	assert_string_equal(r.skip_reason, "skipping portmap; gateway range likely lacks support "
					   "(gateway 127.0.0.1, this host 127.0.0.1: both must be RFC 1918)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pmp_request_is_version_0_opcode_0),
		cmocka_unit_test(test_pcp_announce_carries_self_as_v4_mapped_ipv6),
		cmocka_unit_test(test_msearch_is_tailscales_text),
		cmocka_unit_test(test_pmp_success_reply_gives_the_external_address),
		cmocka_unit_test(test_pmp_error_reply_parses_but_is_not_usable),
		cmocka_unit_test(test_pmp_eight_byte_error_reply_is_well_formed),
		cmocka_unit_test(test_pmp_success_without_the_address_is_malformed),
		cmocka_unit_test(test_pmp_reply_longer_than_12_is_not_usable_like_tailscale),
		cmocka_unit_test(test_pmp_short_wrong_version_and_request_are_rejected),
		cmocka_unit_test(test_pcp_announce_success_is_usable),
		cmocka_unit_test(test_pcp_not_authorized_and_address_mismatch_are_present_but_unusable),
		cmocka_unit_test(test_pcp_map_reply_is_not_an_announce_answer),
		cmocka_unit_test(test_pcp_short_long_request_and_wrong_version_are_rejected),
		cmocka_unit_test(test_ssdp_igd_answer_gives_location_server_and_st),
		cmocka_unit_test(test_ssdp_answer_for_another_device_is_not_an_igd),
		cmocka_unit_test(test_ssdp_header_names_are_case_insensitive_and_lf_is_enough),
		cmocka_unit_test(test_ssdp_notify_is_accepted_and_requests_are_not),
		cmocka_unit_test(test_ssdp_garbage_and_bad_status_lines_are_rejected),
		cmocka_unit_test(test_ssdp_control_bytes_and_long_values_are_contained),
		cmocka_unit_test(test_description_names_the_root_device_not_embedded_ones),
		cmocka_unit_test(test_description_fields_missing_from_the_root_stay_empty),
		cmocka_unit_test(test_description_without_names_or_device_is_an_error),
		cmocka_unit_test(test_default_route_with_the_lowest_metric_wins),
		cmocka_unit_test(test_default_route_without_a_gateway_is_not_used),
		cmocka_unit_test(test_routing_table_garbage_is_an_error_not_a_crash),
		cmocka_unit_test(test_discover_reads_a_route_file_and_names_it_on_error),
		cmocka_unit_test(test_self_address_comes_from_the_named_interface),
		cmocka_unit_test(test_private_ranges_are_rfc1918_only),
		cmocka_unit_test(test_probe_finds_all_three_and_returns_early),
		cmocka_unit_test(test_probe_of_a_silent_gateway_ends_at_the_deadline),
		cmocka_unit_test(test_probe_ends_at_the_deadline_while_a_gateway_floods_it),
		cmocka_unit_test(test_probe_sees_a_nat_pmp_only_gateway_refuse_pcp),
		cmocka_unit_test(test_probe_sees_a_pcp_only_gateway_refuse_nat_pmp),
		cmocka_unit_test(test_probe_reports_pcp_not_authorized_as_present_but_unusable),
		cmocka_unit_test(test_probe_fetches_no_description_from_another_host),
		cmocka_unit_test(test_probe_fetches_nothing_when_userinfo_hides_another_host),
		cmocka_unit_test(test_probe_skips_a_gateway_outside_private_ranges_without_sending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
