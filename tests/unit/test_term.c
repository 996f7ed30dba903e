/* src/output/term.c: untrusted text reaches the terminal only as visible escapes; JSON stays valid UTF-8. */
#include "testlib.h"

#include <cjson/cJSON.h>

#include "derpcheck/output/term.h"
#include "derpcheck/util/utf8.h"

static void test_plain_text_and_utf8_are_kept(void **state)
{
	(void)state;
	assert_string_equal(dc_term_safe("derp.example.com"), "derp.example.com");
	assert_string_equal(dc_term_safe("Zürich ✓ 東京 DERP🔑"), "Zürich ✓ 東京 DERP🔑");
	assert_string_equal(dc_term_safe(""), "");
	assert_string_equal(dc_term_safe(NULL), "");
}

static void test_escape_sequences_become_visible(void **state)
{
	(void)state;
	assert_string_equal(dc_term_safe("\033]0;pwned\a"), "\\x1b]0;pwned\\x07");
	assert_string_equal(dc_term_safe("\033[2J\033[H"), "\\x1b[2J\\x1b[H");
	assert_string_equal(dc_term_safe("a\x7f" "b"), "a\\x7fb");
}

static void test_line_breaks_cannot_forge_lines(void **state)
{
	(void)state;
	assert_string_equal(dc_term_safe("900a\nderpcheck: all good\r"), "900a\\nderpcheck: all good\\r");
	assert_string_equal(dc_term_safe("a\tb"), "a\\tb");
}

static void test_c1_controls_and_bidi_overrides_are_escaped(void **state)
{
	(void)state;
	assert_string_equal(dc_term_safe("x\xc2\x9b" "31m"), "x\\u009b31m");
	assert_string_equal(dc_term_safe("abc\xe2\x80\xae" "def"), "abc\\u202edef");
	assert_string_equal(dc_term_safe("\xe2\x81\xa6" "x"), "\\u2066x");
}

static void test_bytes_that_are_not_utf8_are_shown_as_hex(void **state)
{
	(void)state;
	assert_string_equal(dc_term_safe("Caf\xc3"), "Caf\\xc3");
	assert_string_equal(dc_term_safe("\xff\xfe"), "\\xff\\xfe");
	assert_string_equal(dc_term_safe("\xc0\xaf"), "\\xc0\\xaf");             /* overlong '/' */
	assert_string_equal(dc_term_safe("\xed\xa0\x80"), "\\xed\\xa0\\x80");   /* a surrogate */
	assert_string_equal(dc_term_safe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
}

static void test_safe_n_stops_at_the_length_and_shows_nul(void **state)
{
	(void)state;
	assert_string_equal(dc_term_safe_n("ab\0cd", 5), "ab\\x00cd");
	assert_string_equal(dc_term_safe_n("abcdef", 3), "abc");
}

static void test_sixteen_results_stay_valid_together(void **state)
{
	(void)state;
	const char *r[16];
	char in[16][16];
	for (int i = 0; i < 16; i++) {
		snprintf(in[i], sizeof(in[i]), "\033%d", i);
		r[i] = dc_term_safe(in[i]);
	}
	for (int i = 0; i < 16; i++) {
		char want[16];
		snprintf(want, sizeof(want), "\\x1b%d", i);
		assert_string_equal(r[i], want);
	}
}

static void test_json_replaces_invalid_utf8_and_escapes_terminal_controls(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", "Caf\xc3 \xff x\xc2\x9b y\xe2\x80\xae \033[2J ok ✓");
	char *s = dc_json_text(o, false);
	assert_string_equal(s, "{\"name\":\"Caf\xef\xbf\xbd \xef\xbf\xbd x\\u009b y\\u202e \\u001b[2J ok ✓\"}");
	free(s);
	cJSON_Delete(o);
}

/* Runs are copied at once: what is replaced may sit at the start, the end, or between runs. */
static void test_json_clean_at_the_edges_of_runs(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{"", 0, ""},
		{"plain", 5, "plain"},
		{"\xffstart", 6, "\xef\xbf\xbdstart"},
		{"end\xe2\x82", 5, "end\xef\xbf\xbd\xef\xbf\xbd"}, /* a sequence cut short: one U+FFFD per byte */
		{"\x7f\x7f", 2, "\\u007f\\u007f"},
		{"a\xc2\x85" "b\xf0\x9f\x98\x80" "c", 9, "a\\u0085b\xf0\x9f\x98\x80" "c"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = dc_json_clean(cases[i].in, cases[i].len);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	char *nul = dc_json_clean("nul\0in", 6); /* the NUL is kept: compare the bytes, not the C string */
	assert_memory_equal(nul, "nul\0in", 7);
	free(nul);
	char *empty = dc_json_clean(NULL, 0);
	assert_string_equal(empty, "");
	free(empty);

	char *u = dc_utf8_replace_invalid("ok\xc0\xafok\xed\xa0\x80", 9); /* overlong '/', a surrogate */
	assert_string_equal(u, "ok\xef\xbf\xbd\xef\xbf\xbdok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(u);
	char *v = dc_utf8_replace_invalid(NULL, 0);
	assert_string_equal(v, "");
	free(v);
}

static void test_json_keeps_formatting_whitespace(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "n", 1);
	char *s = dc_json_text(o, true);
	assert_string_equal(s, "{\n\t\"n\":\t1\n}");
	free(s);
	cJSON_Delete(o);
}

static void test_paint_only_with_colour(void **state)
{
	(void)state;
	struct dc_style on = {.color = true}, off = {0};
	assert_string_equal(dc_paint(&on, RED), "\033[1;31m");
	assert_string_equal(dc_paint(&off, RED), "");
	assert_string_equal(dc_paint(NULL, RED), "");
}

static void test_colour_decision_follows_flag_no_color_and_tty(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_true(dc_term_use_color(DC_COLOR_ALWAYS, f));
	assert_false(dc_term_use_color(DC_COLOR_NEVER, f));
	assert_false(dc_term_use_color(DC_COLOR_AUTO, f)); /* not a TTY */
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_and_utf8_are_kept),
		cmocka_unit_test(test_escape_sequences_become_visible),
		cmocka_unit_test(test_line_breaks_cannot_forge_lines),
		cmocka_unit_test(test_c1_controls_and_bidi_overrides_are_escaped),
		cmocka_unit_test(test_bytes_that_are_not_utf8_are_shown_as_hex),
		cmocka_unit_test(test_safe_n_stops_at_the_length_and_shows_nul),
		cmocka_unit_test(test_sixteen_results_stay_valid_together),
		cmocka_unit_test(test_json_replaces_invalid_utf8_and_escapes_terminal_controls),
		cmocka_unit_test(test_json_clean_at_the_edges_of_runs),
		cmocka_unit_test(test_json_keeps_formatting_whitespace),
		cmocka_unit_test(test_paint_only_with_colour),
		cmocka_unit_test(test_colour_decision_follows_flag_no_color_and_tty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
