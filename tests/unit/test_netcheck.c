/* netcheck's pure decisions: MappingVariesByDestIP, the home region, the RFC 4787 class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "derpcheck/judge/netjudge.h"
#include "derpcheck/probe/netcheck.h"

static void test_mapping_varies_needs_two_replies_and_compares_with_the_first(void **state)
{
	(void)state;
	struct dc_endpoint m[3] = {endpoint_of("203.0.113.1", 1000), endpoint_of("203.0.113.1", 1000), endpoint_of("203.0.113.1", 2000)};
	assert_int_equal(dc_netcheck_mapping_varies(m, 0), DC_OPT_UNSET);
	assert_int_equal(dc_netcheck_mapping_varies(m, 1), DC_OPT_UNSET);
	assert_int_equal(dc_netcheck_mapping_varies(m, 2), DC_OPT_FALSE);
	assert_int_equal(dc_netcheck_mapping_varies(m, 3), DC_OPT_TRUE);
}

static void report_with(struct dc_netreport *r, int64_t a_ns, int64_t b_ns)
{
	dc_netreport_init(r);
	dc_latency_map_add(&r->latency, 1, a_ns);
	dc_latency_map_add(&r->latency, 2, b_ns);
}

static void test_home_is_the_lowest_latency_and_ties_go_to_the_lower_id(void **state)
{
	(void)state;
	struct dc_netreport r;
	report_with(&r, 30000000, 10000000);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 0), 2);
	dc_netreport_free(&r);
	report_with(&r, 10000000, 10000000);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 0), 1);
	dc_netreport_free(&r);
	dc_netreport_init(&r);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 0), 0);
	dc_netreport_free(&r);
}

static void test_region_scores_scale_latency(void **state)
{
	(void)state;
	struct dc_region_score scores[1] = {{.region_id = 2, .score = 4.0}};
	struct dc_derpmap map = {.scores = scores, .score_count = 1};
	struct dc_netreport r;
	report_with(&r, 30000000, 10000000); /* 2 scaled: 40 ms */
	assert_int_equal(dc_netcheck_pick_home(&r, &map, 0), 1);
	dc_netreport_free(&r);
}

static void test_hysteresis_keeps_the_old_home_unless_clearly_better(void **state)
{
	(void)state;
	struct dc_netreport r;
	/* 2 is 8 ms faster: under 10 ms, keep 1 */
	report_with(&r, 20000000, 12000000);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 1), 1);
	dc_netreport_free(&r);
	/* 2 is 15 ms but only 25 % faster: keep 1 */
	report_with(&r, 60000000, 45000000);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 1), 1);
	dc_netreport_free(&r);
	/* 2 is 30 ms and half: switch */
	report_with(&r, 60000000, 30000000);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 1), 2);
	dc_netreport_free(&r);
	/* the old home was not measured: the best wins */
	dc_netreport_init(&r);
	dc_latency_map_add(&r.latency, 2, 50000000);
	assert_int_equal(dc_netcheck_pick_home(&r, NULL, 1), 2);
	dc_netreport_free(&r);
}

static void test_one_server_address_cannot_decide(void **state)
{
	(void)state;
	char d[400];
	struct dc_endpoint s[1] = {endpoint_of("203.0.113.10", 3478)}, m[1] = {endpoint_of("203.0.113.1", 5000)};
	assert_int_equal(dc_netcheck_classify(s, m, 1, NULL, d, sizeof(d)), DC_NAT_UNKNOWN);
	assert_non_null(strstr(d, "--extra-stun HOST:PORT"));
	assert_int_equal(dc_netcheck_classify(s, m, 0, NULL, d, sizeof(d)), DC_NAT_UNKNOWN);
}

static void test_same_mapping_for_two_addresses_is_endpoint_independent(void **state)
{
	(void)state;
	char d[400];
	struct dc_endpoint s[2] = {endpoint_of("203.0.113.10", 3478), endpoint_of("203.0.113.11", 3478)};
	struct dc_endpoint m[2] = {endpoint_of("203.0.113.1", 5000), endpoint_of("203.0.113.1", 5000)};
	assert_int_equal(dc_netcheck_classify(s, m, 2, NULL, d, sizeof(d)), DC_NAT_ENDPOINT_INDEPENDENT);
	assert_string_equal(d, "2 server addresses saw the same mapping 203.0.113.1:5000");
	struct dc_endpoint local = endpoint_of("203.0.113.1", 5000);
	assert_int_equal(dc_netcheck_classify(s, m, 2, &local, d, sizeof(d)), DC_NAT_NONE);
}

static void test_port_dependence_needs_two_ports_of_one_address(void **state)
{
	(void)state;
	char d[400];
	/* two addresses differ, no second port: dependent, but which kind is unknown */
	struct dc_endpoint s[3] = {endpoint_of("203.0.113.10", 3478), endpoint_of("203.0.113.11", 3478), endpoint_of("203.0.113.10", 3479)};
	struct dc_endpoint m[3] = {endpoint_of("203.0.113.1", 5000), endpoint_of("203.0.113.1", 5001), endpoint_of("203.0.113.1", 5000)};
	assert_int_equal(dc_netcheck_classify(s, m, 2, NULL, d, sizeof(d)), DC_NAT_DEPENDENT);
	assert_string_equal(d, "203.0.113.10:3478 saw 203.0.113.1:5000 but 203.0.113.11:3478 saw 203.0.113.1:5001");
	/* same mapping for two ports of one address: address-dependent */
	assert_int_equal(dc_netcheck_classify(s, m, 3, NULL, d, sizeof(d)), DC_NAT_ADDRESS_DEPENDENT);
	/* another mapping for the other port: address-and-port-dependent */
	m[2] = endpoint_of("203.0.113.1", 5002);
	assert_int_equal(dc_netcheck_classify(s, m, 3, NULL, d, sizeof(d)), DC_NAT_ADDRESS_PORT_DEPENDENT);
	assert_string_equal(d, "203.0.113.10:3478 saw 203.0.113.1:5000 but 203.0.113.10:3479 saw 203.0.113.1:5002: the "
			       "mapping changes with the destination port");
	assert_string_equal(dc_nat_mapping_key(DC_NAT_ADDRESS_PORT_DEPENDENT), "address-and-port-dependent");
}

/* The pair that shows port dependence need not include the first server of the address. */
static void test_port_pair_without_the_first_server_of_the_address(void **state)
{
	(void)state;
	char d[400];
	struct dc_endpoint s[4] = {endpoint_of("203.0.113.10", 3478), endpoint_of("203.0.113.10", 3479), endpoint_of("203.0.113.10", 3478),
				   endpoint_of("203.0.113.11", 3478)};
	struct dc_endpoint m[4] = {endpoint_of("203.0.113.1", 5000), endpoint_of("203.0.113.1", 5000), endpoint_of("203.0.113.1", 5001),
				   endpoint_of("203.0.113.1", 5000)};
	assert_int_equal(dc_netcheck_classify(s, m, 4, NULL, d, sizeof(d)), DC_NAT_ADDRESS_PORT_DEPENDENT);
	assert_string_equal(d, "203.0.113.10:3479 saw 203.0.113.1:5000 but 203.0.113.10:3478 saw 203.0.113.1:5001: the "
			       "mapping changes with the destination port");
}

/* Thousands of servers (a 10,000-node map) are grouped by sorting, with the same answers. */
static void test_classify_many_servers_of_a_few_addresses(void **state)
{
	(void)state;
	enum { N = 20000 };
	struct dc_endpoint *s = calloc(N, sizeof(*s)), *m = calloc(N, sizeof(*m));
	char d[400];
	for (int i = 0; i < N; i++) {
		s[i] = endpoint_of(i % 2 ? "203.0.113.10" : "203.0.113.11", (uint16_t)(1000 + i / 2));
		m[i] = endpoint_of("203.0.113.1", 5000);
	}
	assert_int_equal(dc_netcheck_classify(s, m, N, NULL, d, sizeof(d)), DC_NAT_ENDPOINT_INDEPENDENT);
	assert_string_equal(d, "2 server addresses saw the same mapping 203.0.113.1:5000");
	m[N - 1] = endpoint_of("203.0.113.1", 5001); /* the last server (203.0.113.10, port 10999) sees another */
	assert_int_equal(dc_netcheck_classify(s, m, N, NULL, d, sizeof(d)), DC_NAT_ADDRESS_PORT_DEPENDENT);
	assert_string_equal(d, "203.0.113.10:1000 saw 203.0.113.1:5000 but 203.0.113.10:10999 saw 203.0.113.1:5001: the "
			       "mapping changes with the destination port");
	free(s);
	free(m);
}

static void test_an_empty_map_runs_and_reports_nothing(void **state)
{
	(void)state;
	struct dc_derpmap map = {0};
	struct dc_netcheck_opts o = {.map = &map, .no_portmap = true, .family = 4};
	struct dc_netcheck_result res;
	struct dc_error err;
	assert_int_equal(dc_netcheck_run(&o, &res, &err), 0);
	assert_false(res.report.udp);
	assert_int_equal(res.report.preferred_derp, 0);
	assert_int_equal(res.extra.node_count, 0);
	assert_true(dc_findings_has(&res.extra.findings, "netcheck-no-stun"));
	assert_true(dc_findings_has(&res.extra.findings, "netcheck-no-region"));
	dc_netcheck_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping_varies_needs_two_replies_and_compares_with_the_first),
		cmocka_unit_test(test_home_is_the_lowest_latency_and_ties_go_to_the_lower_id),
		cmocka_unit_test(test_region_scores_scale_latency),
		cmocka_unit_test(test_hysteresis_keeps_the_old_home_unless_clearly_better),
		cmocka_unit_test(test_one_server_address_cannot_decide),
		cmocka_unit_test(test_same_mapping_for_two_addresses_is_endpoint_independent),
		cmocka_unit_test(test_port_dependence_needs_two_ports_of_one_address),
		cmocka_unit_test(test_port_pair_without_the_first_server_of_the_address),
		cmocka_unit_test(test_classify_many_servers_of_a_few_addresses),
		cmocka_unit_test(test_an_empty_map_runs_and_reports_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
