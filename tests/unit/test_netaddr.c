/* Addresses and endpoints: parsing, formatting, unmapping and range classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/net/netaddr.h"

static const char *fmt(const struct dc_endpoint *e)
{
	static char buf[DC_ENDPOINT_STRLEN];
	return dc_endpoint_format(e, buf, sizeof(buf));
}

static enum dc_ip_class class_of(const char *ip)
{
	struct dc_endpoint e;
	assert_int_equal(dc_ip_parse(ip, 0, &e), 0);
	return dc_ip_classify(&e);
}

static void test_ipv6_endpoint_is_bracketed(void **state)
{
	(void)state;
	struct dc_endpoint e;
	assert_int_equal(dc_ip_parse("2001:db8::1", 0, &e), 0);
	e.port = 41641;
	assert_string_equal(fmt(&e), "[2001:db8::1]:41641");
	assert_int_equal(dc_ip_parse("198.51.100.7", 0, &e), 0);
	e.port = 3478;
	assert_string_equal(fmt(&e), "198.51.100.7:3478");
}

static void test_parse_respects_the_family(void **state)
{
	(void)state;
	struct dc_endpoint e;
	assert_int_equal(dc_ip_parse("192.0.2.1", 6, &e), -1);
	assert_int_equal(dc_ip_parse("::1", 4, &e), -1);
	assert_int_equal(dc_ip_parse("none", 0, &e), -1);
	assert_int_equal(dc_ip_parse("fe80::1%eth0", 6, &e), -1);
}

static void test_v4_mapped_sockaddr_is_unmapped(void **state)
{
	(void)state;
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(3478)};
	const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 9};
	memcpy(&in6.sin6_addr, mapped, 16);
	struct dc_endpoint e;
	assert_int_equal(dc_endpoint_from_sockaddr(&e, (struct sockaddr *)&in6, sizeof(in6)), 0);
	assert_int_equal(e.family, 4);
	assert_string_equal(fmt(&e), "192.0.2.9:3478");
}

static void test_sockaddr_round_trip(void **state)
{
	(void)state;
	struct dc_endpoint e, back;
	struct sockaddr_storage ss;
	assert_int_equal(dc_ip_parse("2001:db8::7", 6, &e), 0);
	e.port = 65535;
	socklen_t len = dc_endpoint_to_sockaddr(&e, &ss);
	assert_int_equal(dc_endpoint_from_sockaddr(&back, (struct sockaddr *)&ss, len), 0);
	assert_true(dc_endpoint_equal(&e, &back));
}

static void test_hostport_forms(void **state)
{
	(void)state;
	struct dc_error err;
	char *host;
	int port;
	assert_int_equal(dc_hostport_split("derp.example.com", &host, &port, &err), 0);
	assert_string_equal(host, "derp.example.com");
	assert_int_equal(port, -1);
	free(host);
	assert_int_equal(dc_hostport_split("127.0.0.1:3478", &host, &port, &err), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 3478);
	free(host);
	assert_int_equal(dc_hostport_split("[::1]:40000", &host, &port, &err), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 40000);
	free(host);
	assert_int_equal(dc_hostport_split("2001:db8::1", &host, &port, &err), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, -1);
	free(host);
}

static void test_hostport_errors_name_the_text(void **state)
{
	(void)state;
	struct dc_error err;
	char *host;
	int port;
	assert_int_equal(dc_hostport_split("127.0.0.1:99999", &host, &port, &err), -1);
	assert_string_equal(err.what, "invalid port '99999' in '127.0.0.1:99999'");
	assert_int_equal(dc_hostport_split("[::1", &host, &port, &err), -1);
	assert_string_equal(err.what, "'[::1': missing ']' after the IPv6 address");
	assert_int_equal(dc_hostport_split("[example.com]:1", &host, &port, &err), -1);
	assert_int_equal(dc_hostport_split("http://x", &host, &port, &err), -1);
	assert_int_equal(dc_hostport_split(":3478", &host, &port, &err), -1);
	assert_int_equal(dc_hostport_split("", &host, &port, &err), -1);
}

static void test_ranges_that_mean_an_inner_address(void **state)
{
	(void)state;
	assert_int_equal(class_of("10.1.2.3"), DC_IP_PRIVATE);
	assert_int_equal(class_of("172.16.0.1"), DC_IP_PRIVATE);
	assert_int_equal(class_of("172.31.255.255"), DC_IP_PRIVATE);
	assert_int_equal(class_of("172.17.0.1"), DC_IP_DOCKER_BRIDGE);
	assert_int_equal(class_of("192.168.1.1"), DC_IP_PRIVATE);
	assert_int_equal(class_of("100.64.0.1"), DC_IP_CGNAT);
	assert_int_equal(class_of("100.127.255.255"), DC_IP_CGNAT);
	assert_int_equal(class_of("100.128.0.1"), DC_IP_PUBLIC);
	assert_int_equal(class_of("172.32.0.1"), DC_IP_PUBLIC);
	assert_int_equal(class_of("127.0.0.1"), DC_IP_LOOPBACK);
	assert_int_equal(class_of("169.254.1.1"), DC_IP_LINK_LOCAL);
	assert_int_equal(class_of("203.0.113.5"), DC_IP_PUBLIC);
	assert_int_equal(class_of("::1"), DC_IP_LOOPBACK);
	assert_int_equal(class_of("fd7a:115c:a1e0::1"), DC_IP_ULA);
	assert_int_equal(class_of("fe80::1"), DC_IP_LINK_LOCAL);
	assert_int_equal(class_of("2001:db8::1"), DC_IP_PUBLIC);
	assert_int_equal(class_of("::ffff:10.0.0.1"), DC_IP_PRIVATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv6_endpoint_is_bracketed),
		cmocka_unit_test(test_parse_respects_the_family),
		cmocka_unit_test(test_v4_mapped_sockaddr_is_unmapped),
		cmocka_unit_test(test_sockaddr_round_trip),
		cmocka_unit_test(test_hostport_forms),
		cmocka_unit_test(test_hostport_errors_name_the_text),
		cmocka_unit_test(test_ranges_that_mean_an_inner_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
