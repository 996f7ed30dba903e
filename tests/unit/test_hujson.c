/*
 * dc_hujson_parse: standard JSON plus comments and trailing commas (HuJSON/JWCC), with
 * the line:col of every key and value, and errors that say exactly where and what.
 */
#include "testlib.h"

#include "derpcheck/input/hujson.h"

/* Parse text that must be valid (exact bytes, no quote conversion). */
static struct dc_json *parse(const char *text)
{
	struct dc_error err;
	struct dc_json *root = dc_hujson_parse(text, strlen(text), &err);
	if (!root)
		fail_msg("unexpected parse error at %u:%u: %s", err.pos.line, err.pos.col, err.what);
	return root;
}

/* Parse text that must be rejected; returns the error. */
static struct dc_error parse_error(const char *text)
{
	struct dc_error err;
	memset(&err, 0x55, sizeof(err));
	struct dc_json *root = dc_hujson_parse(text, strlen(text), &err);
	if (root) {
		dc_json_free(root);
		fail_msg("expected a parse error for: %s", text);
	}
	assert_true(err.what[0] != '\0');
	return err;
}

static const struct dc_json *member(const struct dc_json *obj, const char *key)
{
	assert_int_equal(obj->type, DC_JSON_OBJECT);
	for (size_t i = 0; i < obj->count; i++)
		if (strcmp(obj->items[i].key, key) == 0)
			return &obj->items[i];
	fail_msg("no member \"%s\"", key);
	return NULL;
}

/* ---- values ------------------------------------------------------------------- */

static void test_object_members_keep_document_order_and_decoded_keys(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\"b\": 1, \"a\": 2, \"k\\u00e9y\": 3}");
	assert_int_equal(root->type, DC_JSON_OBJECT);
	assert_int_equal(root->count, 3);
	assert_string_equal(root->items[0].key, "b");
	assert_string_equal(root->items[1].key, "a");
	assert_string_equal(root->items[2].key, "k\xC3\xA9y");
	assert_string_equal(root->items[1].text, "2");
	dc_json_free(root);
}

static void test_empty_object_and_empty_array_have_no_items(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\"o\": {}, \"a\": []}");
	assert_int_equal(member(root, "o")->type, DC_JSON_OBJECT);
	assert_int_equal(member(root, "o")->count, 0);
	assert_int_equal(member(root, "a")->type, DC_JSON_ARRAY);
	assert_int_equal(member(root, "a")->count, 0);
	dc_json_free(root);
}

static void test_array_elements_of_every_type(void **state)
{
	(void)state;
	struct dc_json *root = parse("[\"s\", -12, true, false, null, [1], {\"x\": 1}]");
	assert_int_equal(root->type, DC_JSON_ARRAY);
	assert_int_equal(root->count, 7);
	assert_int_equal(root->items[0].type, DC_JSON_STRING);
	assert_string_equal(root->items[0].text, "s");
	assert_int_equal(root->items[1].type, DC_JSON_NUMBER);
	assert_string_equal(root->items[1].text, "-12");
	assert_int_equal(root->items[2].type, DC_JSON_BOOL);
	assert_true(root->items[2].boolean);
	assert_int_equal(root->items[3].type, DC_JSON_BOOL);
	assert_false(root->items[3].boolean);
	assert_int_equal(root->items[4].type, DC_JSON_NULL);
	assert_int_equal(root->items[5].type, DC_JSON_ARRAY);
	assert_int_equal(root->items[5].count, 1);
	assert_int_equal(root->items[6].type, DC_JSON_OBJECT);
	assert_null(root->items[0].key); /* array elements have no key */
	dc_json_free(root);
}

static void test_top_level_value_may_be_a_scalar(void **state)
{
	(void)state;
	struct dc_json *root = parse("  \"just a string\"  ");
	assert_int_equal(root->type, DC_JSON_STRING);
	assert_string_equal(root->text, "just a string");
	dc_json_free(root);
	root = parse("42");
	assert_int_equal(root->type, DC_JSON_NUMBER);
	dc_json_free(root);
}

static void test_numbers_are_kept_as_written(void **state)
{
	(void)state;
	static const char *const numbers[] = {"0", "-0", "12", "1.50", "1e3", "1E+3", "-2.5e-10", "12345678901234567890"};
	for (size_t i = 0; i < DC_ARRAY_LEN(numbers); i++) {
		struct dc_json *root = parse(numbers[i]);
		assert_int_equal(root->type, DC_JSON_NUMBER);
		assert_string_equal(root->text, numbers[i]);
		assert_int_equal(root->text_len, strlen(numbers[i]));
		dc_json_free(root);
	}
}

static void test_string_escapes_are_decoded(void **state)
{
	(void)state;
	struct dc_json *root = parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"");
	assert_string_equal(root->text, "q\" b\\ s/ \b\f\n\r\t");
	dc_json_free(root);
}

static void test_unicode_escapes_become_utf8(void **state)
{
	(void)state;
	struct dc_json *root = parse("[\"\\u0041\", \"\\u00e9\", \"\\u20AC\", \"\\ud83d\\ude00\"]");
	assert_string_equal(root->items[0].text, "A");
	assert_string_equal(root->items[1].text, "\xC3\xA9");         /* U+00E9 */
	assert_string_equal(root->items[2].text, "\xE2\x82\xAC");     /* U+20AC */
	assert_string_equal(root->items[3].text, "\xF0\x9F\x98\x80"); /* U+1F600, a surrogate pair */
	assert_int_equal(root->items[3].text_len, 4);
	dc_json_free(root);
}

static void test_lone_surrogates_become_the_replacement_character(void **state)
{
	(void)state;
	/* Like Go: an unpaired half is U+FFFD, and whatever follows it is read normally. */
	struct dc_json *root = parse("[\"\\ud83d\", \"\\ude00x\", \"\\ud83d\\u0041\"]");
	assert_string_equal(root->items[0].text, "\xEF\xBF\xBD");
	assert_string_equal(root->items[1].text, "\xEF\xBF\xBDx");
	assert_string_equal(root->items[2].text, "\xEF\xBF\xBD" "A");
	dc_json_free(root);
}

static void test_escaped_nul_is_kept_and_counted_in_text_len(void **state)
{
	(void)state;
	struct dc_json *root = parse("\"a\\u0000b\"");
	assert_int_equal(root->text_len, 3);
	assert_memory_equal(root->text, "a\0b", 3);
	dc_json_free(root);
}

static void test_raw_utf8_in_strings_is_kept(void **state)
{
	(void)state;
	struct dc_json *root = parse("\"Z\xC3\xBCrich \xE2\x82\xAC\"");
	assert_string_equal(root->text, "Z\xC3\xBCrich \xE2\x82\xAC");
	dc_json_free(root);
}

/* ---- HuJSON extensions ---------------------------------------------------------- */

static void test_line_comments_are_ignored(void **state)
{
	(void)state;
	struct dc_json *root = parse("// leading\n{\"a\": 1, // after a member\n\"b\": 2} // trailing");
	assert_int_equal(root->count, 2);
	assert_string_equal(member(root, "b")->text, "2");
	dc_json_free(root);
}

static void test_block_comments_are_ignored_anywhere_between_tokens(void **state)
{
	(void)state;
	struct dc_json *root = parse("/* a */ {/* b */ \"a\" /* c */ : /* d\n multi-line */ [1 /* e */, 2] /* f */} /* g */");
	const struct dc_json *a = member(root, "a");
	assert_int_equal(a->count, 2);
	dc_json_free(root);
}

static void test_comment_markers_inside_strings_are_text(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\"url\": \"https://x/*y*/\"}");
	assert_string_equal(member(root, "url")->text, "https://x/*y*/");
	dc_json_free(root);
}

static void test_trailing_comma_in_object_is_accepted(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\"a\": 1, \"b\": 2,}");
	assert_int_equal(root->count, 2);
	dc_json_free(root);
}

static void test_trailing_comma_in_array_is_accepted(void **state)
{
	(void)state;
	struct dc_json *root = parse("[1, 2, ]");
	assert_int_equal(root->count, 2);
	dc_json_free(root);
}

static void test_trailing_comma_followed_by_a_comment_is_accepted(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\n  \"a\": [1,\n  // more later\n  ],\n}");
	assert_int_equal(member(root, "a")->count, 1);
	dc_json_free(root);
}

static void test_double_comma_in_object_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": 1,, \"b\": 2}");
	assert_pos(err.pos, 1, 9);
	assert_contains(err.what, "found ','");
}

static void test_double_comma_in_array_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[1,,2]");
	assert_pos(err.pos, 1, 4);
	assert_contains(err.what, "expected a value");
}

static void test_lone_comma_in_empty_containers_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[,]");
	assert_pos(err.pos, 1, 2);
	err = parse_error("{,}");
	assert_pos(err.pos, 1, 2);
}

/* ---- positions ---------------------------------------------------------------- */

static void test_positions_of_keys_and_values_are_one_based(void **state)
{
	(void)state;
	const char *text =
		"{\n"
		"  \"a\": 1,\n"
		"  \"list\": [\n"
		"    true,\n"
		"    {\"x\": null}\n"
		"  ]\n"
		"}\n";
	struct dc_json *root = parse(text);
	assert_pos(root->pos, 1, 1);
	const struct dc_json *a = member(root, "a");
	assert_pos(a->key_pos, 2, 3);
	assert_pos(a->pos, 2, 8);
	const struct dc_json *list = member(root, "list");
	assert_pos(list->key_pos, 3, 3);
	assert_pos(list->pos, 3, 11);
	assert_pos(list->items[0].pos, 4, 5);
	assert_pos(list->items[1].pos, 5, 5);
	assert_pos(list->items[1].items[0].key_pos, 5, 6);
	assert_pos(list->items[1].items[0].pos, 5, 11);
	dc_json_free(root);
}

static void test_columns_count_utf8_code_points_not_bytes(void **state)
{
	(void)state;
	/* "é" is two bytes and "€" three, each one column. */
	struct dc_json *root = parse("{\"\xC3\xA9\": \"\xE2\x82\xAC\", \"b\": 2}");
	assert_pos(root->items[1].key_pos, 1, 12);
	assert_pos(root->items[1].pos, 1, 17);
	dc_json_free(root);
}

static void test_a_tab_counts_as_one_column(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\t\"a\":\t1}");
	assert_pos(root->items[0].key_pos, 1, 3);
	assert_pos(root->items[0].pos, 1, 8);
	dc_json_free(root);
}

static void test_crlf_line_endings_start_a_new_line_at_column_one(void **state)
{
	(void)state;
	struct dc_json *root = parse("{\r\n\"a\": 1,\r\n  \"b\": 2}");
	assert_pos(root->items[0].key_pos, 2, 1);
	assert_pos(root->items[1].key_pos, 3, 3);
	dc_json_free(root);
}

static void test_comments_advance_positions(void **state)
{
	(void)state;
	struct dc_json *root = parse("/* one\n two */ // three\n  {\"a\": 1}");
	assert_pos(root->pos, 3, 3);
	assert_pos(root->items[0].key_pos, 3, 4);
	dc_json_free(root);
}

static void test_byte_order_mark_is_skipped_and_not_counted(void **state)
{
	(void)state;
	struct dc_json *root = parse("\xEF\xBB\xBF{\"a\": 1}");
	assert_int_equal(root->type, DC_JSON_OBJECT);
	assert_pos(root->pos, 1, 1);
	assert_pos(root->items[0].key_pos, 1, 2);
	dc_json_free(root);
}

static void test_byte_order_mark_after_the_start_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error(" \xEF\xBB\xBF{}");
	assert_pos(err.pos, 1, 2);
	assert_contains(err.what, "byte 0xef");
}

/* ---- errors ------------------------------------------------------------------- */

static void test_missing_comma_between_members_points_at_the_next_key(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": 1 \"b\": 2}");
	assert_pos(err.pos, 1, 9);
	assert_contains(err.what, "expected ',' or '}'");
	assert_contains(err.what, "found a string");
	assert_string_equal(err.hint, "add a ',' at 1:8, right after the value");
}

static void test_missing_comma_between_members_on_separate_lines(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\n  \"a\": {\"x\": 1}\n  \"b\": 2\n}");
	assert_pos(err.pos, 3, 3);
	assert_contains(err.what, "expected ',' or '}'");
	assert_string_equal(err.hint, "add a ',' at 2:16, right after the value");
}

static void test_missing_comma_between_array_elements(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[1 2]");
	assert_pos(err.pos, 1, 4);
	assert_contains(err.what, "expected ',' or ']'");
	assert_string_equal(err.hint, "add a ',' at 1:3, right after the value");
}

static void test_stray_character_after_a_value_gets_no_comma_hint(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[1 ;]");
	assert_pos(err.pos, 1, 4);
	assert_contains(err.what, "found ';'");
	assert_string_equal(err.hint, "");
}

static void test_missing_colon_after_key(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\" 1}");
	assert_pos(err.pos, 1, 6);
	assert_contains(err.what, "expected ':'");
}

static void test_unclosed_object_at_eof_says_where_it_was_opened(void **state)
{
	(void)state;
	struct dc_error err = parse_error("\n  {\n  \"a\": 1\n");
	assert_pos(err.pos, 4, 1); /* the end of the input */
	assert_contains(err.what, "end of input");
	assert_contains(err.what, "object opened at 2:3 is not closed");
}

static void test_unclosed_object_after_a_trailing_comma(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": 1,");
	assert_pos(err.pos, 1, 9);
	assert_contains(err.what, "object opened at 1:1 is not closed");
}

static void test_unclosed_array_at_eof_says_where_it_was_opened(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": [1, 2");
	assert_pos(err.pos, 1, 12);
	assert_contains(err.what, "array opened at 1:7 is not closed");
}

static void test_unterminated_string_is_reported_where_it_opened(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": \"abc");
	assert_pos(err.pos, 1, 7);
	assert_contains(err.what, "never closed");
}

static void test_string_running_past_the_end_of_line_is_reported_at_the_newline(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": \"abc\n\"}");
	assert_pos(err.pos, 1, 11);
	assert_contains(err.what, "string opened at 1:7 runs past the end of the line");
}

static void test_control_characters_in_strings_are_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[\"a\tb\"]");
	assert_pos(err.pos, 1, 4);
	assert_contains(err.what, "control character inside the string opened at 1:2");
	err = parse_error("[\"a\x01\"]");
	assert_pos(err.pos, 1, 4);
}

static void test_unterminated_block_comment_is_reported_where_it_opened(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\n  \"a\": 1, /* note\n  \"b\": 2\n}\n");
	assert_pos(err.pos, 2, 11);
	assert_contains(err.what, "never closed with */");
}

static void test_lone_slash_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": 1 / 2}");
	assert_pos(err.pos, 1, 9);
	assert_contains(err.what, "lone '/'");
	err = parse_error("{}/");
	assert_pos(err.pos, 1, 3);
}

static void test_single_quoted_string_value_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": 'b'}");
	assert_pos(err.pos, 1, 7);
	assert_contains(err.what, "double quotes");
}

static void test_single_quoted_key_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{'a': 1}");
	assert_pos(err.pos, 1, 2);
	assert_contains(err.what, "double quotes");
}

static void test_unquoted_key_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{a: 1}");
	assert_pos(err.pos, 1, 2);
	assert_contains(err.what, "expected a \"key\" in double quotes, found 'a'");
}

static void test_leading_zeros_are_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[01]");
	assert_pos(err.pos, 1, 3);
	assert_contains(err.what, "leading zeros");
	err = parse_error("[-007]");
	assert_contains(err.what, "leading zeros");
}

static void test_malformed_numbers_are_rejected(void **state)
{
	(void)state;
	static const char *const bad[] = {"[-]", "[1.]", "[.5]", "[1e]", "[1e+]", "[+1]", "[0x10]", "[NaN]", "[Infinity]"};
	for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++)
		parse_error(bad[i]);
	struct dc_error err = parse_error("[1.]");
	assert_contains(err.what, "a digit after the decimal point");
	err = parse_error("[1e]");
	assert_contains(err.what, "a digit in the exponent");
}

static void test_misspelled_literals_are_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[tru]");
	assert_pos(err.pos, 1, 2);
	assert_contains(err.what, "expected a value");
	parse_error("[nul]");
	parse_error("[False]");
	err = parse_error("[truex]");
	assert_pos(err.pos, 1, 6);
}

static void test_invalid_escapes_are_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("[\"a\\xb\"]");
	assert_pos(err.pos, 1, 5);
	assert_contains(err.what, "an escape");
	err = parse_error("[\"\\u12g4\"]");
	assert_pos(err.pos, 1, 7);
	assert_contains(err.what, "4 hex digits after \\u");
	err = parse_error("[\"\\ud83d\\uzzzz\"]");
	assert_contains(err.what, "4 hex digits");
}

static void test_trailing_garbage_after_the_top_level_value_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": 1}\n x");
	assert_pos(err.pos, 2, 2);
	assert_contains(err.what, "end of input after the top-level value");
	err = parse_error("{} {}");
	assert_pos(err.pos, 1, 4);
	err = parse_error("{}}");
	assert_pos(err.pos, 1, 3);
}

static void test_empty_input_is_rejected(void **state)
{
	(void)state;
	struct dc_error err = parse_error("");
	assert_pos(err.pos, 1, 1);
	assert_contains(err.what, "empty");
}

static void test_input_of_only_comments_and_space_is_empty(void **state)
{
	(void)state;
	struct dc_error err = parse_error("  // nothing here\n/* or here */\n");
	assert_pos(err.pos, 3, 1);
	assert_contains(err.what, "empty");
	err = parse_error("\xEF\xBB\xBF");
	assert_contains(err.what, "empty");
}

static void test_input_need_not_be_nul_terminated(void **state)
{
	(void)state;
	/* Only len bytes are read: the "x" after them must not be seen. */
	const char text[] = "[1, 2]x";
	struct dc_error err;
	struct dc_json *root = dc_hujson_parse(text, 6, &err);
	assert_non_null(root);
	assert_int_equal(root->count, 2);
	dc_json_free(root);
	root = dc_hujson_parse(text, 7, &err);
	assert_null(root);
}

static void test_embedded_nul_byte_outside_strings_is_rejected(void **state)
{
	(void)state;
	const char text[] = "{}\0";
	struct dc_error err;
	assert_null(dc_hujson_parse(text, 3, &err));
	assert_pos(err.pos, 1, 3);
	assert_contains(err.what, "byte 0x00");
}

static void test_first_error_is_the_one_reported(void **state)
{
	(void)state;
	struct dc_error err = parse_error("{\"a\": [1 2], \"b\" 3}");
	assert_pos(err.pos, 1, 10);
	assert_contains(err.what, "',' or ']'");
}

static void test_null_error_argument_is_allowed(void **state)
{
	(void)state;
	assert_null(dc_hujson_parse("{", 1, NULL));
	struct dc_json *root = dc_hujson_parse("{}", 2, NULL);
	assert_non_null(root);
	dc_json_free(root);
	dc_json_free(NULL);
}

/* ---- limits ------------------------------------------------------------------- */

static char *nested_arrays(size_t depth)
{
	char *s = malloc(2 * depth + 1);
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	return s;
}

static void test_nesting_up_to_the_depth_limit_is_accepted(void **state)
{
	(void)state;
	char *text = nested_arrays(DC_HUJSON_MAX_DEPTH);
	struct dc_json *root = parse(text);
	const struct dc_json *v = root;
	size_t depth = 1;
	while (v->count == 1) {
		v = &v->items[0];
		depth++;
	}
	assert_int_equal(depth, DC_HUJSON_MAX_DEPTH);
	dc_json_free(root);
	free(text);
}

/*
 * The top-level value is depth 0, so DC_HUJSON_MAX_DEPTH + 1 levels are one too many.
 */
static void test_nesting_one_level_deeper_than_the_limit_is_rejected(void **state)
{
	(void)state;
	char *text = nested_arrays(DC_HUJSON_MAX_DEPTH + 1);
	struct dc_error err;
	struct dc_json *root = dc_hujson_parse(text, strlen(text), &err);
	free(text);
	if (root) {
		dc_json_free(root);
		fail_msg("%d levels of nesting were accepted", DC_HUJSON_MAX_DEPTH + 1);
	}
	assert_contains(err.what, "nesting deeper than");
}

static void test_hostile_nesting_is_rejected_without_crashing(void **state)
{
	(void)state;
	size_t depth = 200000;
	char *text = nested_arrays(depth);
	struct dc_error err = parse_error(text);
	assert_contains(err.what, "nesting deeper than 64 levels");
	assert_int_equal(err.pos.line, 1);
	assert_in_range(err.pos.col, DC_HUJSON_MAX_DEPTH, DC_HUJSON_MAX_DEPTH + 2);
	/* Unclosed, and objects rather than arrays, fail the same way. */
	text[depth] = '\0';
	parse_error(text);
	free(text);
	struct dc_buf b = {0};
	for (int i = 0; i < 1000; i++)
		dc_buf_printf(&b, "{\"a\":");
	err = parse_error(b.data);
	assert_contains(err.what, "nesting deeper than");
	dc_buf_free(&b);
}

static void test_input_larger_than_the_size_limit_is_rejected(void **state)
{
	(void)state;
	size_t len = (size_t)DC_HUJSON_MAX_SIZE + 1;
	char *text = malloc(len);
	memset(text, ' ', len);
	text[0] = '{';
	text[len - 1] = '}';
	struct dc_error err;
	assert_null(dc_hujson_parse(text, len, &err));
	assert_contains(err.what, "limit");
	/* One byte less (whitespace padding) is fine. */
	text[len - 2] = '}';
	struct dc_json *root = dc_hujson_parse(text, len - 1, &err);
	assert_non_null(root);
	dc_json_free(root);
	free(text);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(dc_json_type_name(DC_JSON_NULL), "null");
	assert_string_equal(dc_json_type_name(DC_JSON_BOOL), "boolean");
	assert_string_equal(dc_json_type_name(DC_JSON_NUMBER), "number");
	assert_string_equal(dc_json_type_name(DC_JSON_STRING), "string");
	assert_string_equal(dc_json_type_name(DC_JSON_ARRAY), "array");
	assert_string_equal(dc_json_type_name(DC_JSON_OBJECT), "object");
}

/* Go's encoding/json (Headscale's derp.urls maps): no comments, no trailing commas. */
static void test_strict_json_rejects_comments_and_trailing_commas_where_they_are(void **state)
{
	(void)state;
	struct dc_error err;
	const char *comment = "{\"a\": 1, // note\n\"b\": 2}";
	assert_null(dc_json_parse_strict(comment, strlen(comment), &err));
	assert_int_equal(err.pos.line, 1);
	assert_int_equal(err.pos.col, 10);
	assert_non_null(strstr(err.what, "comments are not JSON"));
	const char *trailing = "{\"a\": [1, 2,]}";
	assert_null(dc_json_parse_strict(trailing, strlen(trailing), &err));
	assert_int_equal(err.pos.col, 13);
	assert_non_null(strstr(err.what, "trailing comma before ']'"));
	const char *object = "{\"a\": 1,}";
	assert_null(dc_json_parse_strict(object, strlen(object), &err));
	assert_non_null(strstr(err.what, "trailing comma before '}'"));
	const char *clean = "{\"a\": [], \"b\": {}}";
	struct dc_json *ok = dc_json_parse_strict(clean, strlen(clean), &err);
	assert_non_null(ok);
	dc_json_free(ok);
	struct dc_json *hu = dc_hujson_parse(trailing, strlen(trailing), &err);
	assert_non_null(hu);
	dc_json_free(hu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_members_keep_document_order_and_decoded_keys),
		cmocka_unit_test(test_empty_object_and_empty_array_have_no_items),
		cmocka_unit_test(test_array_elements_of_every_type),
		cmocka_unit_test(test_top_level_value_may_be_a_scalar),
		cmocka_unit_test(test_numbers_are_kept_as_written),
		cmocka_unit_test(test_string_escapes_are_decoded),
		cmocka_unit_test(test_unicode_escapes_become_utf8),
		cmocka_unit_test(test_lone_surrogates_become_the_replacement_character),
		cmocka_unit_test(test_escaped_nul_is_kept_and_counted_in_text_len),
		cmocka_unit_test(test_raw_utf8_in_strings_is_kept),
		cmocka_unit_test(test_line_comments_are_ignored),
		cmocka_unit_test(test_block_comments_are_ignored_anywhere_between_tokens),
		cmocka_unit_test(test_comment_markers_inside_strings_are_text),
		cmocka_unit_test(test_trailing_comma_in_object_is_accepted),
		cmocka_unit_test(test_trailing_comma_in_array_is_accepted),
		cmocka_unit_test(test_trailing_comma_followed_by_a_comment_is_accepted),
		cmocka_unit_test(test_double_comma_in_object_is_rejected),
		cmocka_unit_test(test_double_comma_in_array_is_rejected),
		cmocka_unit_test(test_lone_comma_in_empty_containers_is_rejected),
		cmocka_unit_test(test_positions_of_keys_and_values_are_one_based),
		cmocka_unit_test(test_columns_count_utf8_code_points_not_bytes),
		cmocka_unit_test(test_a_tab_counts_as_one_column),
		cmocka_unit_test(test_crlf_line_endings_start_a_new_line_at_column_one),
		cmocka_unit_test(test_comments_advance_positions),
		cmocka_unit_test(test_byte_order_mark_is_skipped_and_not_counted),
		cmocka_unit_test(test_byte_order_mark_after_the_start_is_rejected),
		cmocka_unit_test(test_missing_comma_between_members_points_at_the_next_key),
		cmocka_unit_test(test_missing_comma_between_members_on_separate_lines),
		cmocka_unit_test(test_missing_comma_between_array_elements),
		cmocka_unit_test(test_stray_character_after_a_value_gets_no_comma_hint),
		cmocka_unit_test(test_missing_colon_after_key),
		cmocka_unit_test(test_unclosed_object_at_eof_says_where_it_was_opened),
		cmocka_unit_test(test_unclosed_object_after_a_trailing_comma),
		cmocka_unit_test(test_unclosed_array_at_eof_says_where_it_was_opened),
		cmocka_unit_test(test_unterminated_string_is_reported_where_it_opened),
		cmocka_unit_test(test_string_running_past_the_end_of_line_is_reported_at_the_newline),
		cmocka_unit_test(test_control_characters_in_strings_are_rejected),
		cmocka_unit_test(test_unterminated_block_comment_is_reported_where_it_opened),
		cmocka_unit_test(test_lone_slash_is_rejected),
		cmocka_unit_test(test_single_quoted_string_value_is_rejected),
		cmocka_unit_test(test_single_quoted_key_is_rejected),
		cmocka_unit_test(test_unquoted_key_is_rejected),
		cmocka_unit_test(test_leading_zeros_are_rejected),
		cmocka_unit_test(test_malformed_numbers_are_rejected),
		cmocka_unit_test(test_misspelled_literals_are_rejected),
		cmocka_unit_test(test_invalid_escapes_are_rejected),
		cmocka_unit_test(test_trailing_garbage_after_the_top_level_value_is_rejected),
		cmocka_unit_test(test_empty_input_is_rejected),
		cmocka_unit_test(test_input_of_only_comments_and_space_is_empty),
		cmocka_unit_test(test_input_need_not_be_nul_terminated),
		cmocka_unit_test(test_embedded_nul_byte_outside_strings_is_rejected),
		cmocka_unit_test(test_first_error_is_the_one_reported),
		cmocka_unit_test(test_null_error_argument_is_allowed),
		cmocka_unit_test(test_nesting_up_to_the_depth_limit_is_accepted),
		cmocka_unit_test(test_nesting_one_level_deeper_than_the_limit_is_rejected),
		cmocka_unit_test(test_hostile_nesting_is_rejected_without_crashing),
		cmocka_unit_test(test_input_larger_than_the_size_limit_is_rejected),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_strict_json_rejects_comments_and_trailing_commas_where_they_are),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
