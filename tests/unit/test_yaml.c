/*
 * dc_yaml_parse and dc_yaml_number: the positioned tree built from YAML, typed the way
 * Go's gopkg.in/yaml.v3 resolves plain scalars (resolve.go), with aliases, merge keys,
 * the errors people make (tabs) and the limits that keep hostile input cheap.
 */
#include "testlib.h"

#include "derpcheck/input/yaml.h"

static struct dc_yaml_doc parse_yaml_ok(const char *text)
{
	struct dc_yaml_doc doc;
	struct dc_error err;
	if (dc_yaml_parse(text, strlen(text), &doc, &err) < 0)
		fail_msg("YAML does not parse: %u:%u: %s\n%s", err.pos.line, err.pos.col, err.what, text);
	return doc;
}

static const struct dc_json *member(const struct dc_json *obj, const char *key)
{
	const struct dc_json *m = dc_json_member(obj, key);
	if (!m)
		fail_msg("no member %s", key);
	return m;
}

static void test_block_mapping_keeps_line_and_column_of_keys_and_values(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("regions:\n  900:\n    regioncode: \"myvps\"\n    nodes:\n      - name: 900a\n");
	const struct dc_json *regions = member(doc.root, "regions");
	assert_int_equal(regions->key_pos.line, 1);
	assert_int_equal(regions->key_pos.col, 1);
	const struct dc_json *r = member(regions, "900");
	assert_int_equal(r->key_pos.line, 2);
	assert_int_equal(r->key_pos.col, 3);
	assert_int_equal(r->key_style, DC_STYLE_PLAIN);
	const struct dc_json *code = member(r, "regioncode");
	assert_int_equal(code->pos.line, 3);
	assert_int_equal(code->pos.col, 17); /* the opening quote */
	assert_int_equal(code->style, DC_STYLE_QUOTED);
	assert_string_equal(code->text, "myvps");
	const struct dc_json *nodes = member(r, "nodes");
	assert_int_equal(nodes->type, DC_JSON_ARRAY);
	assert_int_equal(nodes->count, 1);
	const struct dc_json *name = member(&nodes->items[0], "name");
	assert_int_equal(name->pos.line, 5);
	assert_int_equal(name->pos.col, 15);
	assert_int_equal(name->type, DC_JSON_STRING);
	dc_yaml_doc_free(&doc);
}

static void test_columns_count_characters_not_bytes(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("a: \xc3\xbc\xc3\xbc\nb: [\xc3\xbc, 7]\n");
	const struct dc_json *b = member(doc.root, "b");
	assert_int_equal(b->items[1].pos.line, 2);
	assert_int_equal(b->items[1].pos.col, 8);
	dc_yaml_doc_free(&doc);
}

/* yaml.v3 resolve.go: which plain scalars are numbers, booleans, nulls or strings. */
static void test_plain_scalars_are_typed_like_yaml_v3(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum dc_json_type type;
	} cases[] = {
		{"900", DC_JSON_NUMBER},     {"0x384", DC_JSON_NUMBER},   {"0o1604", DC_JSON_NUMBER},
		{"01604", DC_JSON_NUMBER},   {"0900", DC_JSON_NUMBER},    {"1e3", DC_JSON_NUMBER},
		{"3_478", DC_JSON_NUMBER},   {".5", DC_JSON_NUMBER},      {".inf", DC_JSON_NUMBER},
		{"-1", DC_JSON_NUMBER},      {"true", DC_JSON_BOOL},      {"False", DC_JSON_BOOL},
		{"yes", DC_JSON_STRING},     {"on", DC_JSON_STRING},      {"no", DC_JSON_STRING},
		{"~", DC_JSON_NULL},         {"null", DC_JSON_NULL},      {"2001:db8::1", DC_JSON_STRING},
		{"198.51.100.1", DC_JSON_STRING}, {"2024-01-02", DC_JSON_STRING}, {"0x", DC_JSON_STRING},
		{"1e999", DC_JSON_STRING},   {"900a", DC_JSON_STRING},    {"TRUE", DC_JSON_BOOL},
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		char text[64];
		snprintf(text, sizeof(text), "v: %s\n", cases[i].text);
		struct dc_yaml_doc doc = parse_yaml_ok(text);
		const struct dc_json *v = member(doc.root, "v");
		if (v->type != cases[i].type)
			fail_msg("%s: typed %s, want %s", cases[i].text, dc_json_type_name(v->type),
				 dc_json_type_name(cases[i].type));
		assert_string_equal(v->text, cases[i].text);
		assert_int_equal(v->style, DC_STYLE_PLAIN);
		dc_yaml_doc_free(&doc);
	}
}

static void test_quoted_and_tagged_str_scalars_are_strings(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("a: '900'\nb: \"true\"\nc: !!str 900\nd: |\n  900\n");
	assert_int_equal(member(doc.root, "a")->type, DC_JSON_STRING);
	assert_int_equal(member(doc.root, "b")->type, DC_JSON_STRING);
	assert_int_equal(member(doc.root, "c")->type, DC_JSON_STRING);
	assert_int_equal(member(doc.root, "c")->style, DC_STYLE_QUOTED);
	assert_string_equal(member(doc.root, "d")->text, "900\n");
	dc_yaml_doc_free(&doc);
}

static void test_numbers_resolve_like_go_parseint_base_0(void **state)
{
	(void)state;
	struct dc_yaml_number n;
	assert_int_equal(dc_yaml_number("0443", &n), 0);
	assert_true(n.is_int);
	assert_int_equal(n.form, DC_YAML_LEGACY_OCTAL);
	assert_int_equal(n.i, 291);
	assert_int_equal(dc_yaml_number("0x0D96", &n), 0);
	assert_int_equal(n.form, DC_YAML_HEX);
	assert_int_equal(n.i, 3478);
	assert_int_equal(dc_yaml_number("0b11", &n), 0);
	assert_int_equal(n.i, 3);
	assert_int_equal(dc_yaml_number("0o17", &n), 0);
	assert_int_equal(n.i, 15);
	/* 0900 is not octal (9 is no octal digit): the float pattern makes it 900. */
	assert_int_equal(dc_yaml_number("0900", &n), 0);
	assert_false(n.is_int);
	assert_int_equal(n.form, DC_YAML_FLOAT);
	assert_true(n.f == 900.0);
	assert_int_equal(dc_yaml_number("3_478", &n), 0);
	assert_true(n.is_int && n.underscores);
	assert_int_equal(n.i, 3478);
	assert_int_equal(dc_yaml_number("-9223372036854775808", &n), 0);
	assert_true(n.is_int && n.i == INT64_MIN);
	assert_int_equal(dc_yaml_number("18446744073709551615", &n), 0);
	assert_true(n.is_unsigned && n.u == UINT64_MAX);
	assert_int_equal(dc_yaml_number("18446744073709551616", &n), 0);
	assert_false(n.is_int);
	assert_int_equal(dc_yaml_number("+0x10", &n), 0);
	assert_int_equal(n.i, 16);
	assert_int_equal(dc_yaml_number("0", &n), 0);
	assert_true(n.is_int && n.i == 0 && n.form == DC_YAML_DECIMAL);
	assert_int_equal(dc_yaml_number("1.5.6", &n), -1);
	assert_int_equal(dc_yaml_number("abc", &n), -1);
	assert_int_equal(dc_yaml_number("", &n), -1);
}

static void test_alias_copies_the_anchored_node_and_is_noted(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("base: &n\n  hostname: derp.example.com\n  derpport: 443\nother: *n\n");
	const struct dc_json *other = member(doc.root, "other");
	assert_int_equal(other->type, DC_JSON_OBJECT);
	assert_string_equal(member(other, "hostname")->text, "derp.example.com");
	assert_int_equal(member(other, "hostname")->pos.line, 2); /* where the text is */
	assert_int_equal(doc.note_count, 1);
	assert_int_equal(doc.notes[0].kind, DC_YAML_NOTE_ALIAS);
	assert_int_equal(doc.notes[0].pos.line, 4);
	assert_int_equal(doc.notes[0].pos.col, 8);
	assert_int_equal(doc.notes[0].target.line, 1); /* the &n that opens it */
	assert_int_equal(doc.notes[0].target.col, 7);
	assert_string_equal(doc.notes[0].name, "n");
	dc_yaml_doc_free(&doc);
}

static void test_merge_key_adds_only_keys_the_mapping_does_not_set(void **state)
{
	(void)state;
	struct dc_yaml_doc doc =
		parse_yaml_ok("d: &d {stunport: 3478, derpport: 443}\nn:\n  derpport: 8443\n  <<: *d\n  name: 900a\n");
	const struct dc_json *n = member(doc.root, "n");
	assert_int_equal(n->count, 3);
	assert_string_equal(member(n, "derpport")->text, "8443");
	assert_string_equal(member(n, "stunport")->text, "3478");
	assert_null(dc_json_member(n, "<<"));
	bool merge_noted = false;
	for (size_t i = 0; i < doc.note_count; i++)
		merge_noted |= doc.notes[i].kind == DC_YAML_NOTE_MERGE && doc.notes[i].pos.line == 4;
	assert_true(merge_noted);
	dc_yaml_doc_free(&doc);
}

static void test_tab_indentation_is_named_with_its_position(void **state)
{
	(void)state;
	const char *text = "regions:\n\t900:\n";
	struct dc_yaml_doc doc;
	struct dc_error err;
	assert_int_equal(dc_yaml_parse(text, strlen(text), &doc, &err), -1);
	assert_int_equal(err.pos.line, 2);
	assert_int_equal(err.pos.col, 1);
	assert_string_equal(err.what, "a tab character indents this line; YAML allows only spaces for indentation");
	assert_non_null(strstr(err.hint, "replace the tab at 2:1 with spaces"));
	dc_yaml_doc_free(&doc);
}

static void test_syntax_error_says_where_and_how_to_fix(void **state)
{
	(void)state;
	const char *text = "derp:\n  urls: a: b\n";
	struct dc_yaml_doc doc;
	struct dc_error err;
	assert_int_equal(dc_yaml_parse(text, strlen(text), &doc, &err), -1);
	assert_int_equal(err.pos.line, 2);
	assert_int_equal(err.pos.col, 10);
	assert_string_equal(err.what, "mapping values are not allowed in this context");
	assert_non_null(strstr(err.hint, "must be quoted"));
	dc_yaml_doc_free(&doc);
}

static void test_duplicate_keys_are_kept_for_the_decoder(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("a: 1\na: 2\n");
	assert_int_equal(doc.root->count, 2);
	assert_int_equal(doc.root->items[1].key_pos.line, 2);
	dc_yaml_doc_free(&doc);
}

static void test_unknown_alias_and_self_reference_are_errors(void **state)
{
	(void)state;
	struct dc_yaml_doc doc;
	struct dc_error err;
	const char *text = "a: *nope\n";
	assert_int_equal(dc_yaml_parse(text, strlen(text), &doc, &err), -1);
	assert_string_equal(err.what, "*nope refers to no anchor &nope defined before it");
	dc_yaml_doc_free(&doc);
	text = "a: &x [1, *x]\n";
	assert_int_equal(dc_yaml_parse(text, strlen(text), &doc, &err), -1);
	assert_int_equal(err.pos.line, 1);
	dc_yaml_doc_free(&doc);
}

static void test_billion_laughs_stops_at_the_node_limit(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_printf(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		dc_buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1,
			      i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	struct dc_yaml_doc doc;
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	assert_int_equal(dc_yaml_parse(b.data, b.len, &doc, &err), -1);
	assert_true(dc_now_ns() - t0 < 5000000000ull);
	assert_non_null(strstr(err.what, "expands to more than"));
	dc_yaml_doc_free(&doc);
	dc_buf_free(&b);
}

static void test_deep_nesting_is_refused(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	for (int i = 0; i < 100; i++)
		dc_buf_printf(&b, "[");
	struct dc_yaml_doc doc;
	struct dc_error err;
	assert_int_equal(dc_yaml_parse(b.data, b.len, &doc, &err), -1);
	assert_non_null(strstr(err.what, "nesting deeper than 64"));
	dc_yaml_doc_free(&doc);
	dc_buf_free(&b);
}

static void test_empty_document_has_no_root_and_second_document_is_noted(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("# only a comment\n");
	assert_null(doc.root);
	dc_yaml_doc_free(&doc);
	doc = parse_yaml_ok("");
	assert_null(doc.root);
	dc_yaml_doc_free(&doc);
	doc = parse_yaml_ok("a: 1\n---\nb: 2\n");
	assert_int_equal(doc.root->count, 1);
	assert_int_equal(doc.note_count, 1);
	assert_int_equal(doc.notes[0].kind, DC_YAML_NOTE_MORE_DOCUMENTS);
	assert_int_equal(doc.notes[0].pos.line, 2);
	dc_yaml_doc_free(&doc);
}

static void test_bom_and_crlf_keep_positions(void **state)
{
	(void)state;
	struct dc_yaml_doc doc = parse_yaml_ok("\xEF\xBB\xBF" "a: 1\r\nb: x\r\n");
	assert_int_equal(member(doc.root, "a")->key_pos.col, 1);
	assert_int_equal(member(doc.root, "b")->pos.line, 2);
	assert_int_equal(member(doc.root, "b")->pos.col, 4);
	dc_yaml_doc_free(&doc);
}

static void test_complex_key_is_an_error(void **state)
{
	(void)state;
	const char *text = "? [a, b]\n: 1\n";
	struct dc_yaml_doc doc;
	struct dc_error err;
	assert_int_equal(dc_yaml_parse(text, strlen(text), &doc, &err), -1);
	assert_string_equal(err.what, "a mapping key must be a single value, not a list");
	dc_yaml_doc_free(&doc);
}

static void test_nul_and_control_bytes_are_errors_not_crashes(void **state)
{
	(void)state;
	const char text[] = "a: b\0c\n";
	struct dc_yaml_doc doc;
	struct dc_error err;
	assert_int_equal(dc_yaml_parse(text, sizeof(text) - 1, &doc, &err), -1);
	assert_int_equal(err.pos.line, 1);
	dc_yaml_doc_free(&doc);
	/* An escaped NUL in a double-quoted string is text, kept with its length. */
	doc = parse_yaml_ok("a: \"b\\0c\"\n");
	assert_int_equal(member(doc.root, "a")->text_len, 3);
	dc_yaml_doc_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_mapping_keeps_line_and_column_of_keys_and_values),
		cmocka_unit_test(test_columns_count_characters_not_bytes),
		cmocka_unit_test(test_plain_scalars_are_typed_like_yaml_v3),
		cmocka_unit_test(test_quoted_and_tagged_str_scalars_are_strings),
		cmocka_unit_test(test_numbers_resolve_like_go_parseint_base_0),
		cmocka_unit_test(test_alias_copies_the_anchored_node_and_is_noted),
		cmocka_unit_test(test_merge_key_adds_only_keys_the_mapping_does_not_set),
		cmocka_unit_test(test_tab_indentation_is_named_with_its_position),
		cmocka_unit_test(test_syntax_error_says_where_and_how_to_fix),
		cmocka_unit_test(test_duplicate_keys_are_kept_for_the_decoder),
		cmocka_unit_test(test_unknown_alias_and_self_reference_are_errors),
		cmocka_unit_test(test_billion_laughs_stops_at_the_node_limit),
		cmocka_unit_test(test_deep_nesting_is_refused),
		cmocka_unit_test(test_empty_document_has_no_root_and_second_document_is_noted),
		cmocka_unit_test(test_bom_and_crlf_keep_positions),
		cmocka_unit_test(test_complex_key_is_an_error),
		cmocka_unit_test(test_nul_and_control_bytes_are_errors_not_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
