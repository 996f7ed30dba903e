/* judge/trust: what clients make of a node's certificate; InsecureForTests hides nothing. */
#include "testlib.h"

#include <string.h>

#include "derpcheck/judge/trust.h"

static struct dc_derp_node node(bool insecure, const char *cert_name)
{
	return (struct dc_derp_node){.name = "900a", .host_name = "derp.test", .cert_name = (char *)cert_name,
				     .insecure_for_tests = insecure};
}

/* A leaf-only chain as diagnose and ping see it. */
static struct dc_trust_evidence leaf_only(const struct dc_derp_node *n)
{
	return (struct dc_trust_evidence){
		.node = n, .judged = true, .chain_ok = false, .code = "chain-incomplete",
		.problem = "the server omits its intermediate certificate",
		.says = "Tailscale on Linux: x509: certificate signed by unknown authority; curl: unable to get local issuer certificate",
		.fix = "serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper",
		.command = "derpcheck cert --derp-map policy.hujson --region 900", .map_name = "policy.hujson",
	};
}

static void test_a_chain_clients_check_and_accept_is_verified(void **state)
{
	(void)state;
	struct dc_derp_node n = node(false, "");
	struct dc_trust_evidence e = {.node = &n, .judged = true, .chain_ok = true};
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	assert_int_equal(v.state, DC_TRUST_VERIFIED);
	assert_null(v.code);
	assert_false(dc_trust_checks_off(v.state));
}

static void test_a_failing_chain_clients_check_is_rejected_with_its_fix(void **state)
{
	(void)state;
	struct dc_derp_node n = node(false, "");
	struct dc_trust_evidence e = leaf_only(&n);
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	assert_int_equal(v.state, DC_TRUST_REJECTED);
	assert_string_equal(v.code, "chain-incomplete");
	assert_string_equal(v.cause, "the server omits its intermediate certificate (Tailscale on Linux: x509: certificate "
				     "signed by unknown authority; curl: unable to get local issuer certificate)");
	assert_string_equal(v.fix, "serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper "
				   "(details: `derpcheck cert --derp-map policy.hujson --region 900`)");
}

static void test_insecure_for_tests_over_a_failing_chain_is_insecure_and_orders_the_fixes(void **state)
{
	(void)state;
	struct dc_derp_node n = node(true, "");
	struct dc_trust_evidence e = leaf_only(&n);
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	assert_int_equal(v.state, DC_TRUST_INSECURE);
	assert_string_equal(dc_trust_name(v.state), "insecure");
	assert_true(dc_trust_checks_off(v.state));
	assert_string_equal(v.code, "chain-incomplete"); /* the real problem, not the flag */
	assert_string_equal(v.summary, "clients accept it only because InsecureForTests turns verification off");
	assert_non_null(strstr(v.cause, "unable to get local issuer certificate"));
	assert_non_null(strstr(v.cause, "accept it only because InsecureForTests turns their certificate checks off"));
	/* The chain first: removing the flag first would break every client. */
	assert_string_equal(v.fix,
		"1. serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (details: "
		"`derpcheck cert --derp-map policy.hujson --region 900`); 2. only then remove InsecureForTests from node "
		"900a in policy.hujson (removed first, every client would refuse the node)");
}

static void test_insecure_for_tests_over_a_valid_chain_is_unchecked_remove_the_flag(void **state)
{
	(void)state;
	struct dc_derp_node n = node(true, "");
	struct dc_trust_evidence e = {.node = &n, .judged = true, .chain_ok = true, .map_name = "policy.hujson"};
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	assert_int_equal(v.state, DC_TRUST_UNCHECKED);
	assert_true(dc_trust_checks_off(v.state));
	assert_string_equal(v.code, "insecure-for-tests");
	assert_string_equal(v.fix, "remove InsecureForTests from node 900a in policy.hujson; the certificate verifies, so "
				   "clients keep working");
}

/* derphttp_client.go: SetConfigExpectedCert installs its own check after InsecureForTests. */
static void test_a_cert_name_of_its_own_turns_the_check_back_on(void **state)
{
	(void)state;
	struct dc_derp_node pinned = node(true, "sha256-raw:00"), other = node(true, "cert.example"),
			    same = node(true, "derp.test");
	assert_true(dc_node_clients_verify(&pinned));
	assert_true(dc_node_clients_verify(&other));
	assert_false(dc_node_clients_verify(&same)); /* returns early: the name is the TLS name */
	struct dc_trust_evidence e = leaf_only(&pinned);
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	assert_int_equal(v.state, DC_TRUST_REJECTED);
}

static void test_nothing_captured_is_unknown_not_verified(void **state)
{
	(void)state;
	struct dc_derp_node n = node(true, "");
	struct dc_trust_evidence e = {.node = &n};
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	assert_int_equal(v.state, DC_TRUST_UNKNOWN);
	assert_false(dc_trust_checks_off(v.state));
}

static void test_the_note_for_cert_is_an_error_at_the_flag(void **state)
{
	(void)state;
	struct dc_derp_node n = node(true, "");
	struct dc_trust_evidence e = {.node = &n, .judged = true, .chain_ok = true};
	struct dc_trust_verdict v;
	dc_trust_judge(&e, &v);
	struct dc_cert_report r;
	dc_cert_report_init(&r);
	dc_trust_note(&r, "derpMap.Regions.900.Nodes[0]", &v);
	assert_int_equal(r.findings.count, 1);
	assert_int_equal(r.findings.items[0].severity, DC_SEV_ERROR);
	assert_string_equal(r.findings.items[0].path, "derpMap.Regions.900.Nodes[0].InsecureForTests");
	assert_string_equal(r.findings.items[0].hint, v.fix);
	dc_cert_report_free(&r);

	struct dc_trust_verdict ok = {.state = DC_TRUST_VERIFIED};
	dc_cert_report_init(&r);
	dc_trust_note(&r, "x", &ok);
	assert_int_equal(r.findings.count, 0);
	dc_cert_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_chain_clients_check_and_accept_is_verified),
		cmocka_unit_test(test_a_failing_chain_clients_check_is_rejected_with_its_fix),
		cmocka_unit_test(test_insecure_for_tests_over_a_failing_chain_is_insecure_and_orders_the_fixes),
		cmocka_unit_test(test_insecure_for_tests_over_a_valid_chain_is_unchecked_remove_the_flag),
		cmocka_unit_test(test_a_cert_name_of_its_own_turns_the_check_back_on),
		cmocka_unit_test(test_nothing_captured_is_unknown_not_verified),
		cmocka_unit_test(test_the_note_for_cert_is_an_error_at_the_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
