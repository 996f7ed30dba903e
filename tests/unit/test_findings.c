/*
 * The report model: findings keep their code, file, path, position, message and hint,
 * are counted by severity and sort stably by file and position.
 */
#include "testlib.h"

#include "derpcheck/judge/findings.h"

static struct dc_srcpos at(unsigned line, unsigned col)
{
	struct dc_srcpos p = {line, col};
	return p;
}

static void test_added_finding_keeps_everything_it_was_given(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	f.file = "policy.hujson";
	struct dc_finding *x = dc_findings_add(&f, DC_SEV_ERROR, "port-range", "derpMap.Regions.900.Nodes[0].STUNPort",
					       at(12, 7), "STUNPort %d is not a UDP port", 70000);
	assert_int_equal(f.count, 1);
	assert_ptr_equal(x, &f.items[0]);
	assert_int_equal(x->severity, DC_SEV_ERROR);
	assert_string_equal(x->code, "port-range");
	assert_string_equal(x->file, "policy.hujson");
	assert_string_equal(x->path, "derpMap.Regions.900.Nodes[0].STUNPort");
	assert_pos(x->pos, 12, 7);
	assert_string_equal(x->message, "STUNPort 70000 is not a UDP port");
	assert_null(x->hint);
	dc_finding_hint(x, "use %s", "1-65535");
	assert_string_equal(x->hint, "use 1-65535");
	dc_finding_hint(x, "replaced");
	assert_string_equal(x->hint, "replaced");
	dc_findings_free(&f);
	assert_int_equal(f.count, 0);
	assert_null(f.items);
}

static void test_file_and_path_default_to_empty_strings(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	dc_findings_add(&f, DC_SEV_WARNING, "x", NULL, at(0, 0), "m");
	assert_string_equal(f.items[0].file, "");
	assert_string_equal(f.items[0].path, "");
	dc_findings_free(&f);
}

static void test_file_applies_to_findings_added_after_it_is_set(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	f.file = "a.json";
	dc_findings_add(&f, DC_SEV_WARNING, "x", "", at(1, 1), "first");
	f.file = "b.json";
	dc_findings_add(&f, DC_SEV_WARNING, "x", "", at(1, 1), "second");
	assert_string_equal(f.items[0].file, "a.json");
	assert_string_equal(f.items[1].file, "b.json");
	dc_findings_free(&f);
}

static void test_counts_by_severity_and_lookup_by_code(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	dc_findings_add(&f, DC_SEV_ERROR, "a", "", at(1, 1), "1");
	dc_findings_add(&f, DC_SEV_WARNING, "b", "", at(1, 1), "2");
	dc_findings_add(&f, DC_SEV_ERROR, "c", "", at(1, 1), "3");
	assert_int_equal(dc_findings_count(&f, DC_SEV_ERROR), 2);
	assert_int_equal(dc_findings_count(&f, DC_SEV_WARNING), 1);
	assert_true(dc_findings_has(&f, "b"));
	assert_false(dc_findings_has(&f, "d"));
	dc_findings_add(&f, DC_SEV_ERROR, "b", "", at(2, 1), "4");
	const struct dc_finding *first_b = dc_findings_find(&f, "b");
	assert_non_null(first_b);
	assert_string_equal(first_b->message, "2"); /* the first one with the code */
	assert_null(dc_findings_find(&f, NULL));
	dc_findings_free(&f);
}

static void test_many_findings_grow_the_list(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	for (int i = 0; i < 1000; i++)
		dc_findings_add(&f, DC_SEV_WARNING, "x", "", at((unsigned)i + 1, 1), "finding %d", i);
	assert_int_equal(f.count, 1000);
	assert_string_equal(f.items[999].message, "finding 999");
	assert_int_equal(f.items[999].seq, 999);
	dc_findings_free(&f);
}

static void test_sort_orders_by_file_then_line_then_column(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	f.file = "b.json";
	dc_findings_add(&f, DC_SEV_WARNING, "b1", "", at(1, 1), "m");
	f.file = "a.json";
	dc_findings_add(&f, DC_SEV_WARNING, "a-10-2", "", at(10, 2), "m");
	dc_findings_add(&f, DC_SEV_WARNING, "a-2-30", "", at(2, 30), "m");
	dc_findings_add(&f, DC_SEV_WARNING, "a-10-1", "", at(10, 1), "m");
	dc_findings_sort(&f);
	assert_string_equal(f.items[0].code, "a-2-30");
	assert_string_equal(f.items[1].code, "a-10-1");
	assert_string_equal(f.items[2].code, "a-10-2");
	assert_string_equal(f.items[3].code, "b1");
	dc_findings_free(&f);
}

static void test_sort_keeps_insertion_order_for_the_same_position(void **state)
{
	(void)state;
	static const char *const codes[] = {"first", "second", "third", "fourth", "fifth"};
	struct dc_findings f = {0};
	dc_findings_add(&f, DC_SEV_WARNING, "later", "", at(9, 9), "m");
	for (size_t i = 0; i < DC_ARRAY_LEN(codes); i++)
		dc_findings_add(&f, i % 2 ? DC_SEV_ERROR : DC_SEV_WARNING, codes[i], "", at(3, 4), "m");
	dc_findings_sort(&f);
	for (size_t i = 0; i < DC_ARRAY_LEN(codes); i++)
		assert_string_equal(f.items[i].code, codes[i]);
	assert_string_equal(f.items[5].code, "later");
	dc_findings_free(&f);
}

static void test_severity_names(void **state)
{
	(void)state;
	assert_string_equal(dc_severity_name(DC_SEV_ERROR), "error");
	assert_string_equal(dc_severity_name(DC_SEV_WARNING), "warning");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_added_finding_keeps_everything_it_was_given),
		cmocka_unit_test(test_file_and_path_default_to_empty_strings),
		cmocka_unit_test(test_file_applies_to_findings_added_after_it_is_set),
		cmocka_unit_test(test_counts_by_severity_and_lookup_by_code),
		cmocka_unit_test(test_many_findings_grow_the_list),
		cmocka_unit_test(test_sort_orders_by_file_then_line_then_column),
		cmocka_unit_test(test_sort_keeps_insertion_order_for_the_same_position),
		cmocka_unit_test(test_severity_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
