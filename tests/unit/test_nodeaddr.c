/*
 * Which addresses a node is dialled on: the map's IPv4/IPv6 without DNS, "none" (or any
 * other text) turning a family off, -4/-6, and DNS only for an empty field. The only
 * lookup here is "localhost" over IPv4, which /etc/hosts answers without any network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "derpcheck/net/nodeaddr.h"

static uint64_t soon(void)
{
	return dc_now_ns() + 2000000000ull;
}

static void addr_text(const struct dc_node_addr *a, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN];
	if (a->family == 4) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	}
}

static void test_map_addresses_are_used_without_dns(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	/* No HostName at all: a lookup, if one were made, could only fail. */
	assert_int_equal(dc_node_resolve("", "192.0.2.10", "2001:db8::10", 8443, 0, soon(), &out, &err), 0);
	assert_int_equal(out.count, 2);
	assert_false(out.dns_used);
	char text[64];
	addr_text(&out.addr[0], text, sizeof(text));
	assert_string_equal(text, "192.0.2.10:8443");
	addr_text(&out.addr[1], text, sizeof(text));
	assert_string_equal(text, "[2001:db8::10]:8443");
	assert_false(out.addr[0].from_dns);
}

static void test_none_turns_a_family_off(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	assert_int_equal(dc_node_resolve("", "192.0.2.10", "none", 443, 0, soon(), &out, &err), 0);
	assert_int_equal(out.count, 1);
	assert_int_equal(out.addr[0].family, 4);
	/* Anything that is not an address disables it too, as in Tailscale ("00000"). */
	assert_int_equal(dc_node_resolve("", "00000", "2001:db8::1", 443, 0, soon(), &out, &err), 0);
	assert_int_equal(out.count, 1);
	assert_int_equal(out.addr[0].family, 6);
}

static void test_both_disabled_is_an_error(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	assert_int_equal(dc_node_resolve("derp.test", "none", "none", 443, 0, soon(), &out, &err), -1);
	assert_string_equal(err.what, "both IPv4 and IPv6 are explicitly disabled for node");
	assert_false(out.dns_used);
}

static void test_family_option_filters(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	assert_int_equal(dc_node_resolve("", "192.0.2.10", "2001:db8::10", 443, 6, soon(), &out, &err), 0);
	assert_int_equal(out.count, 1);
	assert_int_equal(out.addr[0].family, 6);
	assert_int_equal(dc_node_resolve("derp.test", "192.0.2.10", "none", 443, 6, soon(), &out, &err), -1);
	assert_string_equal(err.what, "IPv6 is disabled for this node (IPv6 \"none\") and -6 rules out the other family");
}

static void test_ipv6_in_the_ipv4_field_disables_ipv4(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	assert_int_equal(dc_node_resolve("", "2001:db8::1", "none", 443, 0, soon(), &out, &err), -1);
}

static void test_empty_field_is_looked_up(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	/* /etc/hosts has localhost for IPv4; IPv6 is off so nothing else is asked. */
	assert_int_equal(dc_node_resolve("localhost", "", "none", 443, 0, soon(), &out, &err), 0);
	assert_true(out.dns_used);
	assert_int_equal(out.count, 1);
	assert_true(out.addr[0].from_dns);
	char text[64];
	addr_text(&out.addr[0], text, sizeof(text));
	assert_string_equal(text, "127.0.0.1:443");
}

static void test_empty_field_without_hostname(void **state)
{
	(void)state;
	struct dc_node_addrs out;
	struct dc_error err;
	assert_int_equal(dc_node_resolve("", "", "none", 443, 0, soon(), &out, &err), -1);
	assert_string_equal(err.what, "the node has no HostName to look up and no address in IPv4/IPv6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_addresses_are_used_without_dns),
		cmocka_unit_test(test_none_turns_a_family_off),
		cmocka_unit_test(test_both_disabled_is_an_error),
		cmocka_unit_test(test_family_option_filters),
		cmocka_unit_test(test_ipv6_in_the_ipv4_field_disables_ipv4),
		cmocka_unit_test(test_empty_field_is_looked_up),
		cmocka_unit_test(test_empty_field_without_hostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
