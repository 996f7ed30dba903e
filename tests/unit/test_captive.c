/*
 * Captive-portal detection (protocols.md §3.5): which nodes are asked, and how an answer
 * is judged. The HTTP exchanges themselves run against tests/tools/captive_server in
 * tests/integration/captive_loopback.sh; here only a refused loopback port is used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "derpcheck/probe/captive.h"
#include "derpcheck/input/mapload.h"

static struct dc_map_doc load(const char *json)
{
	struct dc_map_doc doc;
	memset(&doc, 0, sizeof(doc));
	doc.text.name = strdup("test.json");
	doc.text.text = strdup(json);
	doc.text.len = strlen(json);
	dc_map_doc_parse(&doc);
	assert_true(doc.decoded);
	return doc;
}

/* Regions 1..3 plus an Avoid and a NoMeasureNoHome region; 9 usable nodes in all. */
static const char map_json[] = "{\"Regions\": {"
	"\"1\": {\"RegionID\": 1, \"RegionCode\": \"a\", \"Nodes\": ["
	"  {\"Name\": \"1a\", \"RegionID\": 1, \"HostName\": \"a.example\", \"IPv4\": \"127.0.0.11\", \"CanPort80\": true},"
	"  {\"Name\": \"1b\", \"RegionID\": 1, \"HostName\": \"b.example\", \"IPv4\": \"127.0.0.12\"},"
	"  {\"Name\": \"1c\", \"RegionID\": 1, \"HostName\": \"c.example\", \"IPv4\": \"\", \"CanPort80\": true},"
	"  {\"Name\": \"1d\", \"RegionID\": 1, \"HostName\": \"d.example\", \"IPv4\": \"none\", \"CanPort80\": true}]},"
	"\"2\": {\"RegionID\": 2, \"RegionCode\": \"b\", \"Nodes\": ["
	"  {\"Name\": \"2a\", \"RegionID\": 2, \"HostName\": \"e.example\", \"IPv4\": \"127.0.0.21\", \"CanPort80\": true},"
	"  {\"Name\": \"2b\", \"RegionID\": 2, \"HostName\": \"f.example\", \"IPv4\": \"127.0.0.22\", \"CanPort80\": true}]},"
	"\"3\": {\"RegionID\": 3, \"RegionCode\": \"c\", \"Nodes\": ["
	"  {\"Name\": \"3a\", \"RegionID\": 3, \"HostName\": \"g.example\", \"IPv4\": \"127.0.0.31\", \"CanPort80\": true},"
	"  {\"Name\": \"3b\", \"RegionID\": 3, \"HostName\": \"h.example\", \"IPv4\": \"127.0.0.32\", \"CanPort80\": true},"
	"  {\"Name\": \"3c\", \"RegionID\": 3, \"HostName\": \"i.example\", \"IPv4\": \"127.0.0.33\", \"CanPort80\": true}]},"
	"\"4\": {\"RegionID\": 4, \"RegionCode\": \"av\", \"Avoid\": true, \"Nodes\": ["
	"  {\"Name\": \"4a\", \"RegionID\": 4, \"HostName\": \"j.example\", \"IPv4\": \"127.0.0.41\", \"CanPort80\": true}]},"
	"\"5\": {\"RegionID\": 5, \"RegionCode\": \"nm\", \"NoMeasureNoHome\": true, \"Nodes\": ["
	"  {\"Name\": \"5a\", \"RegionID\": 5, \"HostName\": \"k.example\", \"IPv4\": \"127.0.0.51\", \"CanPort80\": true}]}"
	"}}";

static void test_endpoints_need_an_ipv4_and_canport80(void **state)
{
	(void)state;
	struct dc_map_doc doc = load(map_json);
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	size_t n = dc_captive_endpoints(&doc.map, NULL, eps);
	assert_int_equal(n, 5);
	/* 1b lacks CanPort80, 1c has no IPv4, 1d says "none"; capped at five. */
	const char *want[] = {"1a", "2a", "2b", "3a", "3b"};
	for (size_t i = 0; i < n; i++)
		assert_string_equal(eps[i].node, want[i]);
	assert_string_equal(eps[0].url, "http://127.0.0.11/generate_204");
	assert_string_equal(eps[0].host, "127.0.0.11");
	assert_true(eps[0].challenge);
	assert_int_equal(eps[0].region_id, 1);
	dc_map_doc_free(&doc);
}

static void test_avoid_and_no_measure_regions_are_never_asked(void **state)
{
	(void)state;
	struct dc_map_doc doc = load(map_json);
	struct dc_captive_select sel = {.home_region = 4};
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	size_t n = dc_captive_endpoints(&doc.map, &sel, eps);
	for (size_t i = 0; i < n; i++) {
		assert_true(eps[i].region_id != 4);
		assert_true(eps[i].region_id != 5);
	}
	dc_map_doc_free(&doc);
}

static void test_home_region_nodes_come_first(void **state)
{
	(void)state;
	struct dc_map_doc doc = load(map_json);
	struct dc_captive_select sel = {.home_region = 3};
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	size_t n = dc_captive_endpoints(&doc.map, &sel, eps);
	assert_int_equal(n, 5);
	const char *want[] = {"3a", "3b", "3c", "1a", "2a"};
	for (size_t i = 0; i < n; i++)
		assert_string_equal(eps[i].node, want[i]);
	dc_map_doc_free(&doc);
}

static void test_test_port_changes_the_url_but_not_the_challenge_host(void **state)
{
	(void)state;
	struct dc_map_doc doc = load(map_json);
	struct dc_captive_select sel = {.port = 8080};
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	dc_captive_endpoints(&doc.map, &sel, eps);
	assert_string_equal(eps[0].url, "http://127.0.0.11:8080/generate_204");
	assert_string_equal(eps[0].host, "127.0.0.11");
	dc_map_doc_free(&doc);
}

static void test_public_endpoints_only_when_asked(void **state)
{
	(void)state;
	struct dc_map_doc doc = load("{\"Regions\": {\"1\": {\"RegionID\": 1, \"RegionCode\": \"a\", \"Nodes\": ["
				     "{\"Name\": \"1a\", \"RegionID\": 1, \"HostName\": \"a.example\", \"IPv4\": \"127.0.0.11\","
				     " \"CanPort80\": true}]}}}");
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	assert_int_equal(dc_captive_endpoints(&doc.map, NULL, eps), 1);
	struct dc_captive_select sel = {.public_endpoints = true};
	assert_int_equal(dc_captive_endpoints(&doc.map, &sel, eps), 3);
	assert_string_equal(eps[1].url, "http://controlplane.tailscale.com/generate_204");
	assert_false(eps[1].challenge);
	assert_string_equal(eps[2].url, "http://login.tailscale.com/generate_204");
	dc_map_doc_free(&doc);
}

static const struct dc_captive_endpoint derp_ep = {
	.url = "http://127.0.0.11/generate_204", .host = "127.0.0.11", .challenge = true, .region_id = 1};

static void test_204_with_the_echoed_challenge_is_clear(void **state)
{
	(void)state;
	char reason[256];
	const char *resp = "response ts_127.0.0.11";
	assert_int_equal(dc_captive_judge(&derp_ep, 204, resp, strlen(resp), NULL, reason, sizeof(reason)),
			 DC_CAPTIVE_CLEAR);
	assert_string_equal(reason, "HTTP 204 with the expected X-Tailscale-Response");
}

static void test_204_without_the_response_header_is_a_portal(void **state)
{
	(void)state;
	char reason[256];
	assert_int_equal(dc_captive_judge(&derp_ep, 204, NULL, 0, NULL, reason, sizeof(reason)), DC_CAPTIVE_PORTAL);
	assert_string_equal(reason, "HTTP 204 but no X-Tailscale-Response header: not the DERP server that answered");
}

static void test_a_wrong_response_value_is_a_portal(void **state)
{
	(void)state;
	char reason[256];
	const char *resp = "response ts_10.0.0.1\x01";
	assert_int_equal(dc_captive_judge(&derp_ep, 204, resp, strlen(resp), NULL, reason, sizeof(reason)),
			 DC_CAPTIVE_PORTAL);
	assert_string_equal(reason, "X-Tailscale-Response is \"response ts_10.0.0.1?\", want \"response ts_127.0.0.11\"");
	/* A prefix of the right value is still wrong. */
	assert_int_equal(dc_captive_judge(&derp_ep, 204, "response ts_127.0.0.1", 21, NULL, reason, sizeof(reason)),
			 DC_CAPTIVE_PORTAL);
}

static void test_any_status_but_204_is_a_portal(void **state)
{
	(void)state;
	char reason[256];
	const char *resp = "response ts_127.0.0.11";
	assert_int_equal(dc_captive_judge(&derp_ep, 200, resp, strlen(resp), NULL, reason, sizeof(reason)),
			 DC_CAPTIVE_PORTAL);
	assert_string_equal(reason, "HTTP 200 instead of 204: a page was served in the server's place (a portal's login page?)");
	assert_int_equal(dc_captive_judge(&derp_ep, 302, NULL, 0, "http://portal.example/login", reason, sizeof(reason)),
			 DC_CAPTIVE_PORTAL);
	assert_string_equal(reason, "redirected (HTTP 302) to http://portal.example/login instead of answering 204");
	assert_int_equal(dc_captive_judge(&derp_ep, 503, NULL, 0, NULL, reason, sizeof(reason)), DC_CAPTIVE_PORTAL);
	assert_string_equal(reason, "HTTP 503 instead of 204");
}

static void test_public_endpoints_need_only_the_204(void **state)
{
	(void)state;
	struct dc_captive_endpoint ep = {.url = "http://login.tailscale.com/generate_204", .host = "login.tailscale.com"};
	char reason[256];
	assert_int_equal(dc_captive_judge(&ep, 204, NULL, 0, NULL, reason, sizeof(reason)), DC_CAPTIVE_CLEAR);
	assert_int_equal(dc_captive_judge(&ep, 200, NULL, 0, NULL, reason, sizeof(reason)), DC_CAPTIVE_PORTAL);
}

static void test_no_answer_is_not_captive(void **state)
{
	(void)state;
	/* A loopback port nobody listens on: refused at once. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	struct dc_captive_endpoint ep = derp_ep;
	snprintf(ep.url, sizeof(ep.url), "http://127.0.0.1:%u/generate_204", ntohs(sa.sin_port));
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	struct dc_captive_opts opts = {.timeout_ms = 500, .now_unix = 1700000000};
	struct dc_captive_result res;
	struct dc_error err;
	assert_int_equal(dc_captive_check(&ep, 1, &opts, &res, &err), 0);
	assert_int_equal(res.count, 1);
	assert_false(res.captive);
	assert_int_equal(res.probes[0].verdict, DC_CAPTIVE_NO_ANSWER);
	assert_string_equal(dc_captive_verdict_name(res.probes[0].verdict), "no answer");
	assert_non_null(strstr(res.probes[0].reason, "fetch failed"));
}

static void test_no_endpoints_means_nothing_to_do(void **state)
{
	(void)state;
	struct dc_captive_result res;
	struct dc_error err;
	assert_int_equal(dc_captive_check(NULL, 0, NULL, &res, &err), 0);
	assert_int_equal(res.count, 0);
	assert_false(res.captive);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints_need_an_ipv4_and_canport80),
		cmocka_unit_test(test_avoid_and_no_measure_regions_are_never_asked),
		cmocka_unit_test(test_home_region_nodes_come_first),
		cmocka_unit_test(test_test_port_changes_the_url_but_not_the_challenge_host),
		cmocka_unit_test(test_public_endpoints_only_when_asked),
		cmocka_unit_test(test_204_with_the_echoed_challenge_is_clear),
		cmocka_unit_test(test_204_without_the_response_header_is_a_portal),
		cmocka_unit_test(test_a_wrong_response_value_is_a_portal),
		cmocka_unit_test(test_any_status_but_204_is_a_portal),
		cmocka_unit_test(test_public_endpoints_need_only_the_204),
		cmocka_unit_test(test_no_answer_is_not_captive),
		cmocka_unit_test(test_no_endpoints_means_nothing_to_do),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
