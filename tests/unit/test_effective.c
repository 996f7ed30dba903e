/* dc_region_find: a region by ID or RegionCode, with a did-you-mean when it is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "derpcheck/input/effective.h"
#include "derpcheck/input/mapchoice.h"

static void load(struct dc_map_choice *c, const char *spec)
{
	struct dc_map_choice_opts opts = {.spec = spec};
	struct dc_error err;
	assert_int_equal(dc_map_choose(&opts, c, &err), 0);
}

static void test_region_is_found_by_id_and_by_code(void **state)
{
	(void)state;
	struct dc_map_choice c;
	struct dc_error err;
	load(&c, "tests/fixtures/nat-vps-policy.hujson");
	const struct dc_derp_region *r = dc_region_find(c.map, "900", "policy.hujson", "--region", NULL, &err);
	assert_non_null(r);
	assert_int_equal(r->id, 900);
	assert_ptr_equal(dc_region_find(c.map, "myvps", "policy.hujson", "--region", NULL, &err), r);
	assert_non_null(dc_region_find(c.map, "1", "policy.hujson", "--region", NULL, &err)); /* a default region, merged in */
	dc_map_choice_free(&c);
}

static void test_unknown_region_suggests_the_closest_code(void **state)
{
	(void)state;
	struct dc_map_choice c;
	struct dc_error err;
	load(&c, "tests/fixtures/nat-vps-policy.hujson");
	assert_null(dc_region_find(c.map, "myvsp", "policy.hujson", "--region", NULL, &err));
	assert_string_equal(err.where, "policy.hujson");
	assert_string_equal(err.what, "no region 'myvsp' in this DERP map");
	assert_string_equal(err.hint, "did you mean --region myvps?");
	dc_map_choice_free(&c);
}

/* diagnose takes REGION, not --region: the hint must not name a flag it does not have. */
static void test_positional_region_guess_names_no_flag(void **state)
{
	(void)state;
	struct dc_map_choice c;
	struct dc_error err;
	const char *guess = "unset";
	load(&c, "tests/fixtures/nat-vps-policy.hujson");
	assert_null(dc_region_find(c.map, "myvsp", "policy.hujson", NULL, &guess, &err));
	assert_string_equal(guess, "myvps");
	assert_string_equal(err.hint, "did you mean myvps?");
	dc_map_choice_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_is_found_by_id_and_by_code),
		cmocka_unit_test(test_unknown_region_suggests_the_closest_code),
		cmocka_unit_test(test_positional_region_guess_names_no_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
