/* diagnose: the names and the exit rule of a report (the STUN wording: test_udpverdict.c). */
#include "testlib.h"

#include <string.h>

#include "derpcheck/judge/diagnose.h"
#include "derpcheck/output/output_diagnose.h"
#include "judge/diagnose_int.h"

static void test_status_and_verdict_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(dc_check_status_name(DC_CHECK_OK), "ok");
	assert_string_equal(dc_check_status_name(DC_CHECK_WARN), "warn");
	assert_string_equal(dc_check_status_name(DC_CHECK_FAIL), "fail");
	assert_string_equal(dc_check_status_name(DC_CHECK_SKIP), "skip");
	assert_string_equal(dc_verdict_name(DC_VERDICT_DEGRADED), "degraded");
	assert_string_equal(dc_verdict_name(DC_VERDICT_NA), "n/a");
	assert_string_equal(dc_diag_path_name(DC_PATH_STUN), "stun");
}

static void test_exit_status_is_one_for_a_failed_check_or_a_bad_verdict(void **state)
{
	(void)state;
	struct dc_derp_region region = {.id = 900};
	struct dc_diag_report r = {.region = &region, .stun = DC_VERDICT_OK, .derp = DC_VERDICT_NA};
	r.region_count = 1;
	r.region_checks[0] = (struct dc_diag_check){.id = DC_DIAG_MAP, .status = DC_CHECK_WARN};
	assert_int_equal(dc_diag_exit_status(&r), 0);
	r.derp = DC_VERDICT_DEGRADED;
	assert_int_equal(dc_diag_exit_status(&r), 1);
	r.derp = DC_VERDICT_OK;
	r.region_checks[0].status = DC_CHECK_FAIL;
	assert_int_equal(dc_diag_exit_status(&r), 1);
	assert_int_equal(dc_diag_count(&r, DC_CHECK_FAIL), 1);
}

/* ---- mesh-presence: WatchConns lists with the mesh key, judged per pair ------------------------ */

static struct dc_derp_node node_a = {.name = "900a", .host_name = "derp.test"};
static struct dc_derp_node node_b = {.name = "900b", .host_name = "derp2.test"};
static uint8_t key_a[DC_DERP_KEY_LEN] = {0xaa}, key_b[DC_DERP_KEY_LEN] = {0xbb}, key_x[DC_DERP_KEY_LEN] = {0x11};

/* A node that answered WatchConns with these keys listed (NULL-terminated). */
static struct dc_mesh_watch listed(const struct dc_derp_node *n, const uint8_t *own, const uint8_t *k1, const uint8_t *k2)
{
	struct dc_mesh_watch w = {.node = n, .result = DC_MESH_WATCH_OK, .have_server_key = true};
	memcpy(w.server_key, own, DC_DERP_KEY_LEN);
	const uint8_t *keys[] = {k1, k2};
	for (int i = 0; i < 2; i++)
		if (keys[i]) {
			w.present = realloc(w.present, (w.present_count + 1) * sizeof(*w.present));
			memcpy(w.present[w.present_count++], keys[i], DC_DERP_KEY_LEN);
		}
	return w;
}

static struct dc_diag_check judge_pair(struct dc_mesh_watch *a, struct dc_mesh_watch *b)
{
	struct dc_diag_check c = {.id = DC_DIAG_MESH_PRESENCE, .path = DC_PATH_MAP, .ms = -1};
	dc_diag_mesh_presence_judge(a, b, "mesh.key", &c);
	dc_mesh_watch_free(a);
	dc_mesh_watch_free(b);
	return c;
}

static void test_mesh_presence_ok_when_each_lists_the_other(void **state)
{
	(void)state;
	struct dc_mesh_watch a = listed(&node_a, key_a, key_x, key_b), b = listed(&node_b, key_b, key_a, NULL);
	struct dc_diag_check c = judge_pair(&a, &b);
	assert_int_equal(c.status, DC_CHECK_OK);
	assert_string_equal(c.summary, "900a \u2194 900b: each lists the other's mesh client (900a: 2 clients, 900b: 1)");
	assert_string_equal(c.pair[0], "900a");
	assert_string_equal(c.pair[1], "900b");
}

static void test_mesh_presence_names_the_node_that_does_not_list_the_other(void **state)
{
	(void)state;
	struct dc_mesh_watch a = listed(&node_a, key_a, key_b, NULL), b = listed(&node_b, key_b, key_x, NULL);
	struct dc_diag_check c = judge_pair(&a, &b);
	assert_int_equal(c.status, DC_CHECK_FAIL);
	assert_string_equal(c.code, "mesh-split");
	assert_string_equal(c.summary, "900a \u2194 900b: 900b does not list 900a's mesh client (900a lists 900b's)");
	assert_string_equal(c.cause, "WatchConns on 900b lists 1 client, none with 900a's server key nodekey:aa000000\u2026: "
				     "900a's derper is not connected to 900b as a mesh client, so 900b cannot forward to clients on 900a");
	assert_string_equal(c.fix, "run 900a's derper with --mesh-with naming 900b (derp2.test) and the same --mesh-psk-file, "
				   "and let it reach 900b on DERPPort (derper logs mesh(\"derp2.test\") errors)");
}

static void test_mesh_presence_split_both_ways(void **state)
{
	(void)state;
	struct dc_mesh_watch a = listed(&node_a, key_a, NULL, NULL), b = listed(&node_b, key_b, NULL, NULL);
	struct dc_diag_check c = judge_pair(&a, &b);
	assert_int_equal(c.status, DC_CHECK_FAIL);
	assert_string_equal(c.summary, "900a \u2194 900b: neither lists the other's mesh client");
	assert_non_null(strstr(c.fix, "run 900b's derper with --mesh-with naming 900a (derp.test)"));
	assert_non_null(strstr(c.fix, "; and run 900a's derper with --mesh-with naming 900b (derp2.test)"));
}

static void test_mesh_presence_names_a_refused_key(void **state)
{
	(void)state;
	struct dc_mesh_watch a = {.node = &node_a, .result = DC_MESH_WATCH_REFUSED, .error = "the server closed the connection"};
	struct dc_mesh_watch b = listed(&node_b, key_b, NULL, NULL);
	struct dc_diag_check c = judge_pair(&a, &b);
	assert_int_equal(c.status, DC_CHECK_FAIL);
	assert_string_equal(c.code, "mesh-key-refused");
	assert_string_equal(c.summary, "900a \u2194 900b: the mesh key was refused by 900a");
	assert_string_equal(c.cause, "900a closed the connection on WatchConns (the server closed the connection): it runs "
				     "with another --mesh-psk-file than mesh.key, or with none");
}

static void test_mesh_presence_skips_a_node_it_could_not_ask(void **state)
{
	(void)state;
	struct dc_mesh_watch a = listed(&node_a, key_a, key_b, NULL);
	struct dc_mesh_watch b = {.node = &node_b, .result = DC_MESH_WATCH_NO_CONNECTION, .error = "TCP connection refused"};
	struct dc_diag_check c = judge_pair(&a, &b);
	assert_int_equal(c.status, DC_CHECK_SKIP);
	assert_null(c.code);
	assert_string_equal(c.summary, "900a \u2194 900b: not asked, 900b: TCP connection refused");
}

/* A line of evidence is one line: a newline a server put in its text cannot start another. */
static void test_evidence_keeps_a_servers_newline_inside_its_line(void **state)
{
	(void)state;
	struct dc_diag_check c = {0};
	dc_diag_evidence(&c, "first: %s", "ok");
	dc_diag_evidence(&c, "the server's health message: %s", "up\nseq 9: 0.1ms");
	assert_string_equal(c.evidence, "first: ok\nthe server's health message: up seq 9: 0.1ms");
}

/* Lines that no longer fit are dropped whole, and the last one kept says so. */
static void test_evidence_that_does_not_fit_says_it_was_left_out(void **state)
{
	(void)state;
	struct dc_diag_check c = {0};
	for (int i = 0; i < 200; i++)
		dc_diag_evidence(&c, "seq %d: 0.123ms (A to B 0.100ms, B to A 0.023ms)", i);
	size_t n = strlen(c.evidence);
	assert_true(n < sizeof(c.evidence));
	assert_string_equal(c.evidence + n - strlen("(more evidence left out)"), "(more evidence left out)");
	assert_non_null(strstr(c.evidence, "\nseq 1: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_and_verdict_names_are_stable),
		cmocka_unit_test(test_evidence_keeps_a_servers_newline_inside_its_line),
		cmocka_unit_test(test_evidence_that_does_not_fit_says_it_was_left_out),
		cmocka_unit_test(test_exit_status_is_one_for_a_failed_check_or_a_bad_verdict),
		cmocka_unit_test(test_mesh_presence_ok_when_each_lists_the_other),
		cmocka_unit_test(test_mesh_presence_names_the_node_that_does_not_list_the_other),
		cmocka_unit_test(test_mesh_presence_split_both_ways),
		cmocka_unit_test(test_mesh_presence_names_a_refused_key),
		cmocka_unit_test(test_mesh_presence_skips_a_node_it_could_not_ask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
