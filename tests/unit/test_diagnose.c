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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
