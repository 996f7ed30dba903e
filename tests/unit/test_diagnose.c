/* diagnose: the names and the exit rule of a report (the STUN wording: test_udpverdict.c). */
#include "testlib.h"

#include <string.h>

#include "derpcheck/judge/diagnose.h"
#include "derpcheck/output/output_diagnose.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_and_verdict_names_are_stable),
		cmocka_unit_test(test_exit_status_is_one_for_a_failed_check_or_a_bad_verdict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
