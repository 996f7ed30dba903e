/* output_diagnose: the checklist in UTF-8 and ASCII, quiet mode, JSON and Prometheus. */
#include "testlib.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/udpverdict.h"
#include "derpcheck/output/output_diagnose.h"

struct fixture {
	struct dc_derp_node node;
	struct dc_derp_region region;
	struct dc_diag_node dn;
	struct dc_diag_report r;
};

static void make_report(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->node = (struct dc_derp_node){.name = "900a", .host_name = "derp.example.com", .ipv4 = "203.0.113.10",
					.ipv6 = "none", .stun_port = 38893, .derp_port = 38894};
	f->region = (struct dc_derp_region){.id = 900, .code = "my\"vps", .name = "VPS", .nodes = &f->node, .node_count = 1};
	f->dn.node = &f->node;
	f->dn.checks[0] = (struct dc_diag_check){.id = DC_DIAG_STUN4, .path = DC_PATH_STUN, .status = DC_CHECK_FAIL,
						 .code = "stun-wrong-port", .ms = -1};
	strcpy(f->dn.checks[0].summary, "no answer from 203.0.113.10:38893 (3 probes, 3 datagrams sent)");
	dc_udp_wrong_port_text(3478, 38893, "no reply", f->dn.checks[0].cause, sizeof(f->dn.checks[0].cause),
			       f->dn.checks[0].fix, sizeof(f->dn.checks[0].fix));
	/* What diagnose tried besides STUNPort, for the text's tried line and JSON. */
	struct dc_stun_guess *g = &f->dn.stun_guess[0];
	dc_ip_parse("203.0.113.10", 4, &g->addr);
	g->addr.port = 38893;
	g->ran = true;
	g->nports = 2;
	g->answered = 0;
	g->ports[0] = (struct dc_stun_guess_port){.port = 3478, .why = DC_GUESS_DEFAULT, .status = DC_PROBE_OK,
						  .rtt_ns = 12300000};
	g->ports[1] = (struct dc_stun_guess_port){.port = 38894, .why = DC_GUESS_DERP_PORT, .status = DC_PROBE_UNREACHABLE,
						  .port_closed = true, .icmp_from = g->addr};
	dc_stun_guess_tried(g, f->dn.checks[0].tried, sizeof(f->dn.checks[0].tried));
	f->dn.stun_alt_found = true;
	f->dn.stun_alt_port = 3478;
	f->dn.checks[1] = (struct dc_diag_check){.id = DC_DIAG_RELAY, .path = DC_PATH_DERP, .status = DC_CHECK_OK, .ms = 12.5};
	strcpy(f->dn.checks[1].summary, "A \u2192 B \u2192 A: 3/3 relayed, avg 12.5ms");
	f->dn.count = 2;
	f->r = (struct dc_diag_report){.region = &f->region, .nodes = &f->dn, .node_count = 1, .stun = DC_VERDICT_BROKEN,
				       .derp = DC_VERDICT_OK, .elapsed_ns = 1500000000u, .finished_unix = 1790000000};
	strcpy(f->r.stun_reason, "0 of 1 nodes answer STUN; 900a: stun-ipv4");
	strcpy(f->r.derp_reason, "1 of 1 nodes relay");
}

static char *render(void (*fn)(FILE *, const struct dc_diag_report *, const struct dc_diag_view *),
		    const struct dc_diag_report *r, const struct dc_diag_view *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fn(f, r, v);
	fclose(f);
	return text;
}

static void test_text_in_utf8_uses_marks_and_arrows(void **state)
{
	(void)state;
	struct fixture f;
	make_report(&f);
	struct dc_diag_view v = {.utf8 = true, .map_desc = "file policy.hujson"};
	char *t = render(dc_output_diagnose_text, &f.r, &v);
	assert_string_equal(t,
		"DERP region 900 (my\"vps) from file policy.hujson: 1 node\n"
		"\n"
		"node 900a (derp.example.com): IPv4 203.0.113.10, IPv6 none, DERPPort 38894, STUNPort 38893\n"
		"  \u2717 stun-ipv4          no answer from 203.0.113.10:38893 (3 probes, 3 datagrams sent)\n"
		"    cause: STUN answers on 3478, not on 38893 (38893: no reply): clients ask the map's port and get nothing; "
		"typical of a forwarding from host port 3478 to container port 38893\n"
		"    tried: 3478 (default STUN port): STUN answers in 12.300ms; 38894 (DERPPort): closed (ICMP port unreachable)\n"
		"    fix:   set STUNPort to 3478 in the derpMap, or publish 38893/udp\n"
		"  \u2713 relay              A \u2192 B \u2192 A: 3/3 relayed, avg 12.5ms\n"
		"\n"
		"STUN path: broken (0 of 1 nodes answer STUN; 900a: stun-ipv4)\n"
		"DERP path: ok (1 of 1 nodes relay)\n");
	free(t);
}

static void test_text_in_ascii_uses_words_and_spells_arrows(void **state)
{
	(void)state;
	struct fixture f;
	make_report(&f);
	struct dc_diag_view v = {.utf8 = false};
	char *t = render(dc_output_diagnose_text, &f.r, &v);
	assert_non_null(strstr(t, "  FAIL stun-ipv4          no answer"));
	assert_non_null(strstr(t, "       cause: STUN answers on 3478, not on 38893 (38893: no reply): clients ask the map's port and "
				  "get nothing; typical of a forwarding from host port 3478 to container port 38893\n"));
	assert_non_null(strstr(t, "       tried: 3478 (default STUN port): STUN answers in 12.300ms; 38894 (DERPPort): closed "
				  "(ICMP port unreachable)\n"));
	assert_non_null(strstr(t, "  ok   relay              A -> B -> A: 3/3"));
	for (const char *p = t; *p; p++)
		assert_true((unsigned char)*p < 0x80);
	free(t);
}

static void test_quiet_text_keeps_problems_and_verdicts_only(void **state)
{
	(void)state;
	struct fixture f;
	make_report(&f);
	struct dc_diag_view v = {.utf8 = false, .style = {.quiet = true}};
	char *t = render(dc_output_diagnose_text, &f.r, &v);
	assert_null(strstr(t, "ok   relay"));
	assert_null(strstr(t, "DERP region"));
	assert_non_null(strstr(t, "node 900a:\n  FAIL stun-ipv4"));
	assert_non_null(strstr(t, "DERP path: ok"));
	free(t);
}

/* -v: each evidence line under its check, through the sanitiser; never in JSON (-v is for people). */
static void test_evidence_lines_only_with_verbose_and_never_in_json(void **state)
{
	(void)state;
	struct fixture f;
	make_report(&f);
	strcpy(f.dn.checks[1].evidence, "seq 1: 12.5ms\nthe server's health message: \033[2Jgone");
	struct dc_diag_view v = {.utf8 = false};
	char *t = render(dc_output_diagnose_text, &f.r, &v);
	assert_null(strstr(t, "seq 1: 12.5ms"));
	free(t);
	v.verbose = true;
	t = render(dc_output_diagnose_text, &f.r, &v);
	assert_non_null(strstr(t, "3/3 relayed, avg 12.5ms\n         seq 1: 12.5ms\n"));
	assert_non_null(strstr(t, "\n         the server's health message: \\x1b[2Jgone\n"));
	assert_null(strchr(t, '\033'));
	free(t);
	char *j = render(dc_output_diagnose_json, &f.r, &v);
	assert_null(strstr(j, "seq 1"));
	assert_null(strstr(j, "evidence"));
	free(j);
}

static void test_json_carries_every_check_with_nulls_for_what_does_not_apply(void **state)
{
	(void)state;
	struct fixture f;
	make_report(&f);
	struct dc_diag_view v = {.map_desc = "file policy.hujson"};
	char *t = render(dc_output_diagnose_json, &f.r, &v);
	cJSON *root = cJSON_Parse(t);
	assert_non_null(root);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(root, "ok")));
	cJSON *node = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "nodes"), 0);
	cJSON *checks = cJSON_GetObjectItem(node, "checks");
	assert_int_equal(cJSON_GetArraySize(checks), 2);
	cJSON *stun = cJSON_GetArrayItem(checks, 0);
	assert_string_equal(cJSON_GetObjectItem(stun, "code")->valuestring, "stun-wrong-port");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(stun, "ms")));
	assert_string_equal(cJSON_GetObjectItem(stun, "tried")->valuestring,
			    "3478 (default STUN port): STUN answers in 12.300ms; 38894 (DERPPort): closed (ICMP port unreachable)");
	assert_int_equal(cJSON_GetObjectItem(node, "stun_answers_on")->valueint, 3478);
	/* The ports tried, as data: why each was tried and what it did. */
	cJSON *tried = cJSON_GetObjectItem(node, "stun_ports_tried");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(tried, "ipv6")));
	char *v4 = cJSON_PrintUnformatted(cJSON_GetObjectItem(tried, "ipv4"));
	assert_string_equal(v4, "[{\"port\":3478,\"why\":[\"default\"],\"other_node\":null,\"result\":\"answered\",\"rtt_ms\":12.3,"
				"\"icmp_from\":null},{\"port\":38894,\"why\":[\"derp-port\"],\"other_node\":null,\"result\":"
				"\"closed\",\"rtt_ms\":null,\"icmp_from\":\"203.0.113.10\"}]");
	free(v4);
	cJSON *relay = cJSON_GetArrayItem(checks, 1);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(relay, "cause")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(relay, "tried")));
	assert_true(cJSON_GetObjectItem(relay, "ms")->valuedouble == 12.5);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "verdicts"), "stun"), "verdict")->valuestring,
			    "broken");
	cJSON_Delete(root);
	free(t);
}

static void prom(FILE *out, const struct dc_diag_report *r, const struct dc_diag_view *v)
{
	(void)v;
	dc_output_diagnose_prometheus(out, r);
}

static void test_prometheus_has_one_gauge_per_check_seconds_and_escaped_labels(void **state)
{
	(void)state;
	struct fixture f;
	make_report(&f);
	char *t = render(prom, &f.r, NULL);
	assert_non_null(strstr(t, "# TYPE derpcheck_diagnose_check_ok gauge\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_check_ok{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"stun-ipv4\"} 0\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_check_ok{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"relay\"} 1\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_check_seconds{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"relay\"} 0.012500\n"));
	assert_null(strstr(t, "check_seconds{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"stun-ipv4\"}"));
	assert_non_null(strstr(t, "derpcheck_diagnose_path_ok{region=\"900\",region_code=\"my\\\"vps\",path=\"stun\"} 0\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_duration_seconds{region=\"900\",region_code=\"my\\\"vps\"} 1.500000\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_last_run_timestamp_seconds{region=\"900\",region_code=\"my\\\"vps\"} 1790000000\n"));
	free(t);
}

/* The seed's setup: a leaf-only chain that clients accept only because of InsecureForTests. */
static void make_insecure(struct fixture *f)
{
	make_report(f);
	f->dn.checks[0] = (struct dc_diag_check){.id = DC_DIAG_CERT, .path = DC_PATH_DERP, .status = DC_CHECK_INSECURE,
						 .code = "chain-incomplete", .ms = -1};
	strcpy(f->dn.checks[0].summary, "clients accept it only because InsecureForTests turns verification off");
	strcpy(f->dn.checks[0].cause, "the server omits its intermediate certificate");
	strcpy(f->dn.checks[0].fix, "1. serve the full chain; 2. only then remove InsecureForTests");
	f->dn.trust = DC_TRUST_INSECURE;
	f->r.stun = DC_VERDICT_OK;
	f->r.derp = DC_VERDICT_INSECURE;
	strcpy(f->r.stun_reason, "1 of 1 nodes answer STUN");
	strcpy(f->r.derp_reason, "1 of 1 nodes relay, 1 only because InsecureForTests turns certificate checks off; 900a: certificate");
}

static void test_insecure_has_its_own_mark_cause_fix_and_verdict(void **state)
{
	(void)state;
	struct fixture f;
	make_insecure(&f);
	struct dc_diag_view v = {.utf8 = true};
	char *t = render(dc_output_diagnose_text, &f.r, &v);
	assert_non_null(strstr(t, "  \u26a0 certificate        clients accept it only because InsecureForTests turns verification off\n"
				  "    cause: the server omits its intermediate certificate\n"
				  "    fix:   1. serve the full chain; 2. only then remove InsecureForTests\n"));
	assert_non_null(strstr(t, "DERP path: insecure (1 of 1 nodes relay, 1 only because InsecureForTests"));
	assert_int_equal(dc_diag_exit_status(&f.r), 1);
	free(t);
}

static void test_insecure_in_ascii_keeps_the_columns(void **state)
{
	(void)state;
	struct fixture f;
	make_insecure(&f);
	struct dc_diag_view v = {.utf8 = false, .style = {.quiet = true}};
	char *t = render(dc_output_diagnose_text, &f.r, &v);
	/* quiet keeps it (a problem), and the summary starts where "ok   relay" would. */
	assert_non_null(strstr(t, "  insecure certificate    clients accept it only"));
	assert_int_equal(strlen("  insecure certificate    "), strlen("  ok   relay              "));
	free(t);
}

static void test_insecure_json_and_prometheus_say_so(void **state)
{
	(void)state;
	struct fixture f;
	make_insecure(&f);
	struct dc_diag_view v = {0};
	char *t = render(dc_output_diagnose_json, &f.r, &v);
	cJSON *root = cJSON_Parse(t);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(root, "ok")));
	cJSON *node = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "nodes"), 0);
	assert_string_equal(cJSON_GetObjectItem(node, "certificate_trust")->valuestring, "insecure");
	cJSON *cert = cJSON_GetArrayItem(cJSON_GetObjectItem(node, "checks"), 0);
	assert_string_equal(cJSON_GetObjectItem(cert, "status")->valuestring, "insecure");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "counts"), "insecure")->valueint, 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "verdicts"), "derp"), "verdict")->valuestring,
			    "insecure");
	cJSON_Delete(root);
	free(t);
	t = render(prom, &f.r, NULL);
	assert_non_null(strstr(t, "derpcheck_diagnose_check_ok{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"certificate\"} 0\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_check_insecure{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"certificate\"} 1\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_check_insecure{region=\"900\",region_code=\"my\\\"vps\",node=\"900a\",check=\"relay\"} 0\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_path_ok{region=\"900\",region_code=\"my\\\"vps\",path=\"derp\"} 0.5\n"));
	assert_non_null(strstr(t, "derpcheck_diagnose_path_insecure{region=\"900\",region_code=\"my\\\"vps\",path=\"derp\"} 1\n"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_in_utf8_uses_marks_and_arrows),
		cmocka_unit_test(test_text_in_ascii_uses_words_and_spells_arrows),
		cmocka_unit_test(test_quiet_text_keeps_problems_and_verdicts_only),
		cmocka_unit_test(test_evidence_lines_only_with_verbose_and_never_in_json),
		cmocka_unit_test(test_json_carries_every_check_with_nulls_for_what_does_not_apply),
		cmocka_unit_test(test_prometheus_has_one_gauge_per_check_seconds_and_escaped_labels),
		cmocka_unit_test(test_insecure_has_its_own_mark_cause_fix_and_verdict),
		cmocka_unit_test(test_insecure_in_ascii_keeps_the_columns),
		cmocka_unit_test(test_insecure_json_and_prometheus_say_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
