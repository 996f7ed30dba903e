/*
 * Which addresses a node or host gives, and that the map's IPv4/IPv6 fields are used
 * without DNS. (Only /etc/hosts names are looked up here: tests never query DNS.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "derpcheck/net/resolve.h"

static const char *addr_of(const struct dc_resolve_req *r, int family)
{
	static char buf[DC_ENDPOINT_STRLEN];
	return dc_endpoint_format(&dc_resolved_family(r, family)->addr, buf, sizeof(buf));
}

static struct dc_derp_node node(const char *host, const char *v4, const char *v6)
{
	return (struct dc_derp_node){.name = "900a", .host_name = (char *)host, .ipv4 = (char *)v4, .ipv6 = (char *)v6};
}

static void test_map_addresses_skip_dns(void **state)
{
	(void)state;
	/* The host name does not exist: any DNS lookup would fail. */
	struct dc_derp_node n = node("derp.does-not-exist.invalid", "203.0.113.10", "2001:db8::10");
	struct dc_resolve_req r;
	dc_resolve_node(&r, &n, 3478, 0);
	dc_resolve_run(&r, 1, dc_now_ns() + 1000000000u);
	assert_int_equal(dc_resolved_family(&r, 4)->origin, DC_ORIGIN_MAP);
	assert_string_equal(addr_of(&r, 4), "203.0.113.10:3478");
	assert_int_equal(dc_resolved_family(&r, 6)->origin, DC_ORIGIN_MAP);
	assert_string_equal(addr_of(&r, 6), "[2001:db8::10]:3478");
}

static void test_none_disables_the_family(void **state)
{
	(void)state;
	struct dc_derp_node n = node("derp.does-not-exist.invalid", "203.0.113.10", "none");
	struct dc_resolve_req r;
	dc_resolve_node(&r, &n, 3478, 0);
	dc_resolve_run(&r, 1, dc_now_ns() + 1000000000u);
	assert_int_equal(dc_resolved_family(&r, 6)->origin, DC_ORIGIN_DISABLED);
	assert_string_equal(dc_resolved_family(&r, 6)->note, "IPv6 is \"none\" in the map: Tailscale does not use it");
}

static void test_family_flag_limits_the_lookup(void **state)
{
	(void)state;
	struct dc_derp_node n = node("derp.does-not-exist.invalid", "203.0.113.10", "2001:db8::10");
	struct dc_resolve_req r;
	dc_resolve_node(&r, &n, 3478, 6);
	dc_resolve_run(&r, 1, dc_now_ns() + 1000000000u);
	assert_int_equal(dc_resolved_family(&r, 4)->origin, DC_ORIGIN_NOT_WANTED);
	assert_int_equal(dc_resolved_family(&r, 6)->origin, DC_ORIGIN_MAP);
}

static void test_literal_host_has_only_its_family(void **state)
{
	(void)state;
	struct dc_resolve_req r;
	dc_resolve_host(&r, "::1", 3478, 0);
	dc_resolve_run(&r, 1, dc_now_ns() + 1000000000u);
	assert_int_equal(dc_resolved_family(&r, 6)->origin, DC_ORIGIN_LITERAL);
	assert_string_equal(addr_of(&r, 6), "[::1]:3478");
	assert_int_equal(dc_resolved_family(&r, 4)->origin, DC_ORIGIN_NOT_WANTED);
	assert_string_equal(dc_resolved_family(&r, 4)->note, "::1 is an IPv6 address");
}

static void test_stun_test_ip_overrides(void **state)
{
	(void)state;
	struct dc_derp_node n = node("derp.does-not-exist.invalid", "203.0.113.10", "none");
	n.stun_test_ip = "127.0.0.1";
	struct dc_resolve_req r;
	dc_resolve_node(&r, &n, 3478, 4);
	dc_resolve_run(&r, 1, dc_now_ns() + 1000000000u);
	assert_int_equal(dc_resolved_family(&r, 4)->origin, DC_ORIGIN_TEST_IP);
	assert_string_equal(addr_of(&r, 4), "127.0.0.1:3478");
}

static void test_hosts_file_name_resolves_concurrently(void **state)
{
	(void)state;
	struct dc_resolve_req r[3];
	for (int i = 0; i < 3; i++)
		dc_resolve_host(&r[i], "localhost", (uint16_t)(3478 + i), 4);
	dc_resolve_run(r, 3, dc_now_ns() + 2000000000u);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(dc_resolved_family(&r[i], 4)->origin, DC_ORIGIN_DNS);
		assert_int_equal(dc_resolved_family(&r[i], 4)->addr.ip[0], 127);
		assert_int_equal(dc_resolved_family(&r[i], 4)->addr.port, 3478 + i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_addresses_skip_dns),
		cmocka_unit_test(test_none_disables_the_family),
		cmocka_unit_test(test_family_flag_limits_the_lookup),
		cmocka_unit_test(test_literal_host_has_only_its_family),
		cmocka_unit_test(test_stun_test_ip_overrides),
		cmocka_unit_test(test_hosts_file_name_resolves_concurrently),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
