/* output_exporter: states as 0/1 gauges, freshness, the probe page, the escaped status page. */
#include "testlib.h"

#include "derpcheck/output/output_exporter.h"

struct fixture {
	struct dc_derp_node node;
	struct dc_derp_region region;
	struct dc_diag_node dn;
	struct dc_watch_region wr;
};

/* Node 900a relays only because InsecureForTests turns certificate checks off. */
static void make(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->node = (struct dc_derp_node){.name = "900a", .host_name = "derp.test", .ipv4 = "127.0.0.1", .ipv6 = "none"};
	f->region = (struct dc_derp_region){.id = 900, .code = "<b>vps", .nodes = &f->node, .node_count = 1};
	f->dn.node = &f->node;
	f->dn.trust = DC_TRUST_INSECURE;
	f->dn.have_leaf = true;
	f->dn.leaf_not_after = 1804279994;
	struct dc_diag_check *c = f->dn.checks;
	c[0] = (struct dc_diag_check){.id = DC_DIAG_TLS, .path = DC_PATH_DERP, .status = DC_CHECK_OK, .ms = 12.5};
	c[1] = (struct dc_diag_check){.id = DC_DIAG_CERT, .path = DC_PATH_DERP, .status = DC_CHECK_INSECURE, .ms = -1};
	strcpy(c[1].summary, "clients accept it only because <InsecureForTests> & co");
	c[2] = (struct dc_diag_check){.id = DC_DIAG_HANDSHAKE, .path = DC_PATH_DERP, .status = DC_CHECK_OK, .ms = 3};
	c[3] = (struct dc_diag_check){.id = DC_DIAG_RELAY, .path = DC_PATH_DERP, .status = DC_CHECK_WARN, .ms = 2,
				      .sent = 4, .received = 3};
	c[4] = (struct dc_diag_check){.id = DC_DIAG_STUN4, .path = DC_PATH_STUN, .status = DC_CHECK_SKIP, .ms = -1};
	f->dn.count = 5;
	f->wr.region = &f->region;
	f->wr.have = true;
	f->wr.finished_ns = 1000000000ull;
	f->wr.report = (struct dc_diag_report){.region = &f->region, .nodes = &f->dn, .node_count = 1,
					       .stun = DC_VERDICT_NA, .derp = DC_VERDICT_INSECURE};
}

static const struct dc_exporter_view view = {
	.now_ns = 31000000000ull, .interval_ns = 60000000000ull, .stale_after_ns = 120000000000ull, .map_desc = "file <m>.json",
};

static void has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing: %s", line);
}

static void test_states_are_one_gauge_each_and_only_the_held_one_is_1(void **state)
{
	(void)state;
	struct fixture f;
	make(&f);
	struct dc_buf b = {0};
	dc_output_exporter_metrics(&b, &f.wr, 1, &view);
	const char *r = "{region=\"900\",region_code=\"<b>vps\"";
	char line[300];
	static const char *const verdicts[] = {"ok", "degraded", "broken", "n/a"};
	for (size_t i = 0; i < DC_ARRAY_LEN(verdicts); i++) {
		snprintf(line, sizeof(line), "derpcheck_region_verdict%s,path=\"derp\",verdict=\"%s\"} 0\n", r, verdicts[i]);
		has(b.data, line);
	}
	snprintf(line, sizeof(line), "derpcheck_region_verdict%s,path=\"derp\",verdict=\"insecure\"} 1\n", r);
	has(b.data, line);
	snprintf(line, sizeof(line), "derpcheck_cert_trust%s,node=\"900a\",state=\"insecure\"} 1\n", r);
	has(b.data, line);
	snprintf(line, sizeof(line), "derpcheck_cert_trust%s,node=\"900a\",state=\"verified\"} 0\n", r);
	has(b.data, line);
	snprintf(line, sizeof(line), "derpcheck_cert_chain_ok%s,node=\"900a\"} 0\n", r);
	has(b.data, line);
	/* Relaying works, but only with checks off: not ok. */
	snprintf(line, sizeof(line), "derpcheck_node_derp_ok%s,node=\"900a\"} 0\n", r);
	has(b.data, line);
	snprintf(line, sizeof(line), "derpcheck_relay_loss_ratio%s,node=\"900a\"} 0.25\n", r);
	has(b.data, line);
	snprintf(line, sizeof(line), "derpcheck_tls_handshake_seconds%s,node=\"900a\"} 0.0125\n", r);
	has(b.data, line);
	snprintf(line, sizeof(line), "derpcheck_cert_not_after_seconds%s,node=\"900a\"} 1804279994\n", r);
	has(b.data, line);
	/* A skipped STUN check has no series. */
	assert_null(strstr(b.data, "derpcheck_node_stun_ok{"));
	/* Each family is described once. */
	const char *first = strstr(b.data, "# HELP derpcheck_region_verdict ");
	assert_non_null(first);
	assert_null(strstr(first + 1, "# HELP derpcheck_region_verdict "));
	dc_buf_free(&b);
}

static void test_freshness_says_age_and_stale(void **state)
{
	(void)state;
	struct fixture f;
	make(&f);
	struct dc_buf b = {0};
	dc_output_exporter_metrics(&b, &f.wr, 1, &view);
	has(b.data, "derpcheck_result_age_seconds{region=\"900\",region_code=\"<b>vps\"} 30\n");
	has(b.data, "derpcheck_result_stale{region=\"900\",region_code=\"<b>vps\"} 0\n");
	dc_buf_free(&b);
	struct dc_exporter_view late = view;
	late.now_ns = 200000000000ull; /* 199 s after the result, interval 60 s */
	dc_output_exporter_metrics(&b, &f.wr, 1, &late);
	has(b.data, "derpcheck_result_stale{region=\"900\",region_code=\"<b>vps\"} 1\n");
	dc_buf_free(&b);
	f.wr.have = false; /* before the first result: stale, no age, no other series */
	dc_output_exporter_metrics(&b, &f.wr, 1, &view);
	has(b.data, "derpcheck_result_stale{region=\"900\",region_code=\"<b>vps\"} 1\n");
	assert_null(strstr(b.data, "derpcheck_result_age_seconds{"));
	assert_null(strstr(b.data, "derpcheck_region_verdict{"));
	dc_buf_free(&b);
}

static void test_probe_page_starts_with_probe_success(void **state)
{
	(void)state;
	struct fixture f;
	make(&f);
	struct dc_buf b = {0};
	dc_output_exporter_probe(&b, &f.wr.report, 0.25);
	assert_true(strncmp(b.data, "# HELP probe_success ", 21) == 0);
	has(b.data, "\nprobe_success 0\n");
	has(b.data, "\nprobe_duration_seconds 0.25\n");
	has(b.data, "derpcheck_diagnose_check_ok{");
	dc_buf_free(&b);
}

static void test_status_page_escapes_every_text(void **state)
{
	(void)state;
	struct fixture f;
	make(&f);
	struct dc_buf b = {0};
	dc_output_exporter_status(&b, &f.wr, 1, &view);
	has(b.data, "<td class=\"\">&lt;b&gt;vps</td>");
	has(b.data, "file &lt;m&gt;.json");
	has(b.data, "clients accept it only because &lt;InsecureForTests&gt; &amp; co");
	assert_null(strstr(b.data, "<b>vps"));
	dc_buf_free(&b);
	dc_html_escape(&b, "a\"b'c\001d");
	assert_string_equal(b.data, "a&quot;b&#39;cd");
	dc_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states_are_one_gauge_each_and_only_the_held_one_is_1),
		cmocka_unit_test(test_freshness_says_age_and_stale),
		cmocka_unit_test(test_probe_page_starts_with_probe_success),
		cmocka_unit_test(test_status_page_escapes_every_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
