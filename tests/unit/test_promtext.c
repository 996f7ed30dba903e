/* promtext: expositions merged family by family, label escaping, sample values. */
#include "testlib.h"

#include <math.h>

#include "derpcheck/output/promtext.h"

static void test_merge_keeps_one_head_per_family_and_every_sample(void **state)
{
	(void)state;
	const char *const texts[] = {
		"# HELP a_ok A.\n# TYPE a_ok gauge\na_ok{region=\"1\"} 1\n# HELP b_s B.\n# TYPE b_s gauge\nb_s{region=\"1\"} 0.5\n",
		"# HELP a_ok A.\n# TYPE a_ok gauge\na_ok{region=\"2\"} 0\n# HELP c C.\n# TYPE c gauge\nc 3\n",
		"# HELP b_s B.\n# TYPE b_s gauge\n",
	};
	struct dc_buf out = {0};
	dc_prom_merge(texts, 3, &out);
	assert_string_equal(out.data, "# HELP a_ok A.\n# TYPE a_ok gauge\na_ok{region=\"1\"} 1\na_ok{region=\"2\"} 0\n"
				      "# HELP b_s B.\n# TYPE b_s gauge\nb_s{region=\"1\"} 0.5\n"
				      "# HELP c C.\n# TYPE c gauge\nc 3\n");
	dc_buf_free(&out);
}

static void test_merge_of_nothing_is_empty(void **state)
{
	(void)state;
	struct dc_buf out = {0};
	dc_prom_merge(NULL, 0, &out);
	assert_non_null(out.data);
	assert_int_equal(out.len, 0);
	dc_buf_free(&out);
}

static void test_label_values_escape_backslash_quote_and_newline(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_prom_label(&b, "node", "a\\b\"c\nd", true);
	dc_prom_label(&b, "x", NULL, false);
	assert_string_equal(b.data, "node=\"a\\\\b\\\"c\\nd\",x=\"\"");
	dc_buf_free(&b);
}

static void test_values_are_integers_fractions_and_specials(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_prom_value(&b, 1804279994);
	dc_buf_printf(&b, " ");
	dc_prom_value(&b, 0.0125);
	dc_buf_printf(&b, " ");
	dc_prom_value(&b, NAN);
	dc_buf_printf(&b, " ");
	dc_prom_value(&b, -INFINITY);
	assert_string_equal(b.data, "1804279994 0.0125 NaN -Inf");
	dc_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_keeps_one_head_per_family_and_every_sample),
		cmocka_unit_test(test_merge_of_nothing_is_empty),
		cmocka_unit_test(test_label_values_escape_backslash_quote_and_newline),
		cmocka_unit_test(test_values_are_integers_fractions_and_specials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
