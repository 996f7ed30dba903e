/* The map a network command works on, and finding a region in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "derpcheck/effective.h"

static void test_policy_file_is_merged_with_the_defaults(void **state)
{
	(void)state;
	struct dc_effective_map m;
	struct dc_error err;
	assert_int_equal(dc_effective_map_load("tests/fixtures/nat-vps-policy.hujson", NULL, &m, &err), 0);
	assert_true(m.is_merged);
	assert_ptr_equal(m.map, &m.merged);
	assert_non_null(dc_region_find(m.map, "900", "x", &err));
	assert_non_null(dc_region_find(m.map, "MYVPS", "x", &err)); /* codes match in any case */
	dc_effective_map_free(&m);
}

static void test_bare_map_is_used_as_is(void **state)
{
	(void)state;
	struct dc_effective_map m;
	struct dc_error err;
	assert_int_equal(dc_effective_map_load("embedded:", NULL, &m, &err), 0);
	assert_false(m.is_merged);
	const struct dc_derp_region *r = dc_region_find(m.map, "1", "embedded:", &err);
	assert_non_null(r);
	assert_int_equal(r->id, 1);
	dc_effective_map_free(&m);
}

static void test_unknown_region_suggests_the_closest_code(void **state)
{
	(void)state;
	struct dc_effective_map m;
	struct dc_error err;
	assert_int_equal(dc_effective_map_load("tests/fixtures/nat-vps-policy.hujson", NULL, &m, &err), 0);
	assert_null(dc_region_find(m.map, "myvsp", "policy.hujson", &err));
	assert_string_equal(err.where, "policy.hujson");
	assert_string_equal(err.what, "no region 'myvsp' in this DERP map");
	assert_string_equal(err.hint, "did you mean --region myvps?");
	dc_effective_map_free(&m);
}

static void test_broken_file_names_its_first_problem(void **state)
{
	(void)state;
	struct dc_effective_map m;
	struct dc_error err;
	assert_int_equal(dc_effective_map_load("tests/fixtures/syntax-error.hujson", NULL, &m, &err), -1);
	assert_string_equal(err.where, "tests/fixtures/syntax-error.hujson");
	assert_non_null(strstr(err.what, "not a usable DERP map: expected ',' or '}'"));
	assert_string_equal(err.hint, "run 'derpcheck validate tests/fixtures/syntax-error.hujson' to see every problem");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_file_is_merged_with_the_defaults),
		cmocka_unit_test(test_bare_map_is_used_as_is),
		cmocka_unit_test(test_unknown_region_suggests_the_closest_code),
		cmocka_unit_test(test_broken_file_names_its_first_problem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
