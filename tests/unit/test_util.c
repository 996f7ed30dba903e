/*
 * The shared helpers: the one integer parser, durations for --timeout, edit distance
 * and did-you-mean, errors as data, and the growable buffer.
 */
#include "testlib.h"

#include <limits.h>
#include <math.h>

#include "derpcheck/util/util.h"

/* ---- dc_parse_int ------------------------------------------------------------------- */

static void test_parse_int_reads_a_whole_decimal_string(void **state)
{
	(void)state;
	long long v = 0;
	assert_int_equal(dc_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(dc_parse_int("-7", -10, 10, &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(dc_parse_int("0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(dc_parse_int("007", 0, 10, &v), 0); /* base 10, not octal */
	assert_int_equal(v, 7);
}

static void test_parse_int_bounds_are_inclusive(void **state)
{
	(void)state;
	long long v = 0;
	assert_int_equal(dc_parse_int("1", 1, 65535, &v), 0);
	assert_int_equal(dc_parse_int("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(dc_parse_int("0", 1, 65535, &v), -1);
	assert_int_equal(dc_parse_int("65536", 1, 65535, &v), -1);
	assert_int_equal(dc_parse_int("-1", 0, 10, &v), -1);
}

static void test_parse_int_covers_the_full_64_bit_range(void **state)
{
	(void)state;
	long long v = 0;
	assert_int_equal(dc_parse_int("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MAX);
	assert_int_equal(dc_parse_int("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MIN);
	assert_int_equal(dc_parse_int("9223372036854775808", LLONG_MIN, LLONG_MAX, &v), -1);
	assert_int_equal(dc_parse_int("-9223372036854775809", LLONG_MIN, LLONG_MAX, &v), -1);
}

static void test_parse_int_rejects_anything_but_digits(void **state)
{
	(void)state;
	static const char *const bad[] = {"", " 1", "1 ", "1x", "x1", "0x10", "1.0", "1e3", "--1", "-", "+", "\t5", "5\n"};
	for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++) {
		long long v = 12345;
		if (dc_parse_int(bad[i], LLONG_MIN, LLONG_MAX, &v) != -1)
			fail_msg("\"%s\" was accepted as %lld", bad[i], v);
		assert_int_equal(v, 12345); /* untouched on failure */
	}
	long long v = 0;
	assert_int_equal(dc_parse_int(NULL, 0, 10, &v), -1);
}

/* ---- dc_parse_duration_ms ----------------------------------------------------------- */

static void test_duration_units(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		long long ms;
	} cases[] = {
		{"5s", 5000}, {"500ms", 500}, {"2m", 120000}, {"3", 3000}, {"0.5", 500}, {".5", 500},
		{"1.5s", 1500}, {"1500ms", 1500}, {"0.25m", 15000}, {"0", 0}, {"1h", 3600000}, {"0.5h", 1800000},
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		long long ms = -1;
		if (dc_parse_duration_ms(cases[i].text, 0, 3600000, &ms) != 0)
			fail_msg("\"%s\" was rejected", cases[i].text);
		if (ms != cases[i].ms)
			fail_msg("\"%s\": expected %lld ms, got %lld", cases[i].text, cases[i].ms, ms);
	}
}

static void test_duration_rounds_to_the_nearest_millisecond(void **state)
{
	(void)state;
	long long ms = 0;
	assert_int_equal(dc_parse_duration_ms("1.4ms", 1, 1000, &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(dc_parse_duration_ms("1.6ms", 1, 1000, &ms), 0);
	assert_int_equal(ms, 2);
	assert_int_equal(dc_parse_duration_ms("0.0015", 1, 1000, &ms), 0);
	assert_int_equal(ms, 2);
}

static void test_duration_bounds_are_inclusive(void **state)
{
	(void)state;
	long long ms = 0;
	assert_int_equal(dc_parse_duration_ms("1ms", 1, 600000, &ms), 0);
	assert_int_equal(dc_parse_duration_ms("10m", 1, 600000, &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(dc_parse_duration_ms("0", 1, 600000, &ms), -1);
	assert_int_equal(dc_parse_duration_ms("0.5ms", 1, 600000, &ms), -1);
	assert_int_equal(dc_parse_duration_ms("600001ms", 1, 600000, &ms), -1);
}

static void test_duration_rejects_unknown_units_and_junk(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "abc", "s", "ms", "h", "5H", "5S", "5 s", " 5s", "5s ", "-1s", "+1s",
					  "1e400", "nan", "inf", "5sec", "5m5s"};
	for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++) {
		long long ms = 777;
		if (dc_parse_duration_ms(bad[i], 0, 3600000, &ms) != -1)
			fail_msg("\"%s\" was accepted as %lld ms", bad[i], ms);
		assert_int_equal(ms, 777);
	}
	long long ms = 0;
	assert_int_equal(dc_parse_duration_ms(NULL, 0, 10, &ms), -1);
}

/* ---- dc_double_to_int64 ----------------------------------------------------------------- */

static void test_double_to_int64_takes_only_whole_numbers_in_range(void **state)
{
	(void)state;
	int64_t v = 7;
	assert_true(dc_double_to_int64(0.0, &v));
	assert_int_equal(v, 0);
	assert_true(dc_double_to_int64(-9223372036854775808.0, &v));
	assert_true(v == INT64_MIN);
	assert_true(dc_double_to_int64(9007199254740993.0, &v)); /* rounds to 2^53 as a double */
	assert_true(v == 9007199254740992LL);
	v = 7;
	assert_false(dc_double_to_int64(9223372036854775808.0, &v)); /* 2^63: one beyond */
	assert_false(dc_double_to_int64(1e300, &v));
	assert_false(dc_double_to_int64(-1e19, &v));
	assert_false(dc_double_to_int64(0.5, &v));
	assert_false(dc_double_to_int64(NAN, &v));
	assert_false(dc_double_to_int64(INFINITY, &v));
	assert_int_equal(v, 7); /* untouched when false */
}

/* ---- dc_edit_distance / dc_closest -------------------------------------------------- */

static void test_edit_distance_counts_insertions_deletions_and_substitutions(void **state)
{
	(void)state;
	assert_int_equal(dc_edit_distance("", ""), 0);
	assert_int_equal(dc_edit_distance("abc", "abc"), 0);
	assert_int_equal(dc_edit_distance("", "abc"), 3);
	assert_int_equal(dc_edit_distance("abc", ""), 3);
	assert_int_equal(dc_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(dc_edit_distance("formt", "format"), 1);
	assert_int_equal(dc_edit_distance("HostNmae", "HostName"), 2);
}

static void test_edit_distance_is_symmetric(void **state)
{
	(void)state;
	assert_int_equal(dc_edit_distance("sitting", "kitten"), dc_edit_distance("kitten", "sitting"));
	assert_int_equal(dc_edit_distance("derpport", "DERPPort1"), dc_edit_distance("DERPPort1", "derpport"));
}

static void test_edit_distance_ignores_case(void **state)
{
	(void)state;
	assert_int_equal(dc_edit_distance("DERPPort", "derpport"), 0);
	assert_int_equal(dc_edit_distance("RegionID", "regionid"), 0);
}

static void test_edit_distance_gives_up_on_long_strings(void **state)
{
	(void)state;
	char longer[66];
	memset(longer, 'a', 65);
	longer[65] = '\0';
	assert_int_equal(dc_edit_distance(longer, "a"), (size_t)-1);
	assert_int_equal(dc_edit_distance("a", longer), (size_t)-1);
	longer[64] = '\0'; /* 64 characters is still fine */
	assert_int_equal(dc_edit_distance(longer, longer), 0);
	assert_int_equal(dc_edit_distance(longer, ""), 64);
}

static const char *const fields[] = {"Name", "RegionID", "HostName", "CertName", "IPv4", "IPv6",
				     "STUNPort", "STUNOnly", "DERPPort", "InsecureForTests"};

static void test_closest_finds_a_typo(void **state)
{
	(void)state;
	assert_string_equal(dc_closest("HostNmae", fields, DC_ARRAY_LEN(fields)), "HostName");
	assert_string_equal(dc_closest("DERPport", fields, DC_ARRAY_LEN(fields)), "DERPPort");
	assert_string_equal(dc_closest("STUNPrt", fields, DC_ARRAY_LEN(fields)), "STUNPort");
}

static void test_closest_picks_the_nearest_and_the_first_of_equals(void **state)
{
	(void)state;
	static const char *const words[] = {"text", "json"};
	assert_string_equal(dc_closest("jsn", words, 2), "json");
	assert_string_equal(dc_closest("txt", words, 2), "text");
	static const char *const ipv[] = {"IPv4", "IPv6"};
	assert_string_equal(dc_closest("IPv5", ipv, 2), "IPv4"); /* a tie: the first */
}

static void test_closest_returns_null_when_nothing_is_plausible(void **state)
{
	(void)state;
	assert_null(dc_closest("Colour", fields, DC_ARRAY_LEN(fields)));
	assert_null(dc_closest("xyzzy", fields, DC_ARRAY_LEN(fields)));
	assert_null(dc_closest("anything", fields, 0));
	static const char *const words[] = {"ab"};
	assert_null(dc_closest("xy", words, 1)); /* as far as the word is long */
}

static void test_closest_allows_more_typos_in_longer_words(void **state)
{
	(void)state;
	/* Three letters missing from a sixteen-letter word: still the same word. */
	assert_string_equal(dc_closest("InsecurFrTsts", fields, DC_ARRAY_LEN(fields)), "InsecureForTests");
	/* Three edits in a four-letter word is not. */
	assert_null(dc_closest("Nxyz", fields, DC_ARRAY_LEN(fields)));
}

/* dc_closest skips candidates whose length alone rules them out; the answer must be the
 * one a full scan gives (the rule as it stood before the skip). */
static const char *closest_by_full_scan(const char *word, const char *const *c, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, wl = strlen(word), limit = wl / 3 > 2 ? wl / 3 : 2;
	for (size_t i = 0; i < n; i++)
		if (dc_edit_distance(word, c[i]) < best_d)
			best_d = dc_edit_distance(word, c[i]), best = c[i];
	if (best && best_d <= limit && best_d < wl)
		return best;
	for (size_t i = 0; i < n && wl >= 3; i++)
		if (strncasecmp(c[i], word, wl) == 0)
			return c[i];
	return NULL;
}

static void test_closest_skips_only_candidates_it_could_never_take(void **state)
{
	(void)state;
	static const char *const words[] = {"", "H", "Ho", "Hst", "HostNam", "HostNameX", "STUN", "STUNOnlyPort",
					    "InsecureForTest", "InsecureForTestsAndMore", "DERP", "Port", "Nodes",
					    "IPv", "IPv44", "RegionIDs", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
	for (size_t i = 0; i < DC_ARRAY_LEN(words); i++) {
		const char *want = closest_by_full_scan(words[i], fields, DC_ARRAY_LEN(fields));
		const char *got = dc_closest(words[i], fields, DC_ARRAY_LEN(fields));
		if (want)
			assert_string_equal(got, want);
		else
			assert_null(got);
	}
}

static void test_closest_accepts_a_prefix_of_three_or_more_characters(void **state)
{
	(void)state;
	static const char *const options[] = {"--ca-file", "--insecure", "--timeout"};
	assert_string_equal(dc_closest("--insec", options, 3), "--insecure");
	assert_string_equal(dc_closest("time", (const char *const[]){"timeout"}, 1), "timeout");
	assert_null(dc_closest("ti", (const char *const[]){"timeout"}, 1));
}

/* ---- errors as data ------------------------------------------------------------------- */

static void test_error_set_fills_what_and_where_and_returns_minus_one(void **state)
{
	(void)state;
	struct dc_error err;
	memset(&err, 'x', sizeof(err));
	assert_int_equal(dc_error_set(&err, "map.json:3:4", "expected %s", "','"), -1);
	assert_string_equal(err.what, "expected ','");
	assert_string_equal(err.where, "map.json:3:4");
	assert_string_equal(err.hint, ""); /* cleared */
	assert_int_equal(err.pos.line, 0);
	dc_error_hint(&err, "add a %s", "comma");
	assert_string_equal(err.hint, "add a comma");
	dc_error_clear(&err);
	assert_string_equal(err.what, "");
	assert_string_equal(err.where, "");
	assert_string_equal(err.hint, "");
}

static void test_error_set_without_where_or_error_is_safe(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_error_set(&err, NULL, "no place"), -1);
	assert_string_equal(err.where, "");
	assert_int_equal(dc_error_set(NULL, "x", "nowhere to put it"), -1);
	dc_error_hint(NULL, "ignored");
	dc_error_clear(NULL);
}

static void test_error_messages_are_truncated_not_overflowed(void **state)
{
	(void)state;
	char big[2000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct dc_error err;
	dc_error_set(&err, big, "%s", big);
	dc_error_hint(&err, "%s", big);
	assert_int_equal(strlen(err.what), sizeof(err.what) - 1);
	assert_int_equal(strlen(err.where), sizeof(err.where) - 1);
	assert_int_equal(strlen(err.hint), sizeof(err.hint) - 1);
}

/* ---- strings and buffers --------------------------------------------------------------- */

static void test_buffer_appends_and_stays_nul_terminated(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_append(&b, "ab", 2);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.data, "ab");
	dc_buf_printf(&b, "-%d-", 42);
	assert_string_equal(b.data, "ab-42-");
	for (int i = 0; i < 1000; i++)
		dc_buf_append(&b, "xyz", 3);
	assert_int_equal(b.len, 6 + 3000);
	assert_int_equal(b.data[b.len], '\0');
	assert_true(b.cap > b.len);
	dc_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_buffer_append_of_nothing_still_gives_a_string(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_append(&b, "", 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	dc_buf_printf(&b, "%s", "");
	assert_int_equal(b.len, 0);
	dc_buf_free(&b);
}

static void test_buffer_keeps_embedded_nul_bytes(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	dc_buf_free(&b);
}

static void test_string_helpers_copy(void **state)
{
	(void)state;
	char *s = dc_xasprintf("%s:%d", "host", 443);
	assert_string_equal(s, "host:443");
	free(s);
	s = dc_xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = dc_xstrdup("");
	assert_string_equal(s, "");
	free(s);
	int *zeros = dc_xcalloc(4, sizeof(int));
	assert_int_equal(zeros[0] | zeros[1] | zeros[2] | zeros[3], 0);
	free(zeros);
}

static void test_monotonic_clock_does_not_go_backwards(void **state)
{
	(void)state;
	uint64_t a = dc_now_ns();
	uint64_t b = dc_now_ns();
	assert_true(a > 0);
	assert_true(b >= a);
}

static void test_buf_printf_of_nothing_still_gives_a_string(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	const char *empty = "";
	dc_buf_printf(&b, "%s", empty);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	dc_buf_free(&b);
}

/* Hints print derpcheck commands that must run when pasted into a shell. */
static void test_shell_append_quotes_only_what_the_shell_would_split(void **state)
{
	(void)state;
	char cmd[200] = "derpcheck cert";
	dc_shell_append(cmd, sizeof(cmd), "--derp-map");
	dc_shell_append(cmd, sizeof(cmd), "my map.json");
	dc_shell_append(cmd, sizeof(cmd), "it's");
	dc_shell_append(cmd, sizeof(cmd), "[::1]:443");
	dc_shell_append(cmd, sizeof(cmd), "");
	assert_string_equal(cmd, "derpcheck cert --derp-map 'my map.json' 'it'\\''s' [::1]:443 ''");
	char small[16] = "derpcheck";
	dc_shell_append(small, sizeof(small), "a-very-long-argument");
	assert_int_equal(strlen(small), sizeof(small) - 1); /* cut, never past the end */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shell_append_quotes_only_what_the_shell_would_split),
		cmocka_unit_test(test_parse_int_reads_a_whole_decimal_string),
		cmocka_unit_test(test_parse_int_bounds_are_inclusive),
		cmocka_unit_test(test_parse_int_covers_the_full_64_bit_range),
		cmocka_unit_test(test_parse_int_rejects_anything_but_digits),
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_rounds_to_the_nearest_millisecond),
		cmocka_unit_test(test_duration_bounds_are_inclusive),
		cmocka_unit_test(test_duration_rejects_unknown_units_and_junk),
		cmocka_unit_test(test_edit_distance_counts_insertions_deletions_and_substitutions),
		cmocka_unit_test(test_edit_distance_is_symmetric),
		cmocka_unit_test(test_edit_distance_ignores_case),
		cmocka_unit_test(test_edit_distance_gives_up_on_long_strings),
		cmocka_unit_test(test_double_to_int64_takes_only_whole_numbers_in_range),
		cmocka_unit_test(test_closest_finds_a_typo),
		cmocka_unit_test(test_closest_picks_the_nearest_and_the_first_of_equals),
		cmocka_unit_test(test_closest_returns_null_when_nothing_is_plausible),
		cmocka_unit_test(test_closest_allows_more_typos_in_longer_words),
		cmocka_unit_test(test_closest_skips_only_candidates_it_could_never_take),
		cmocka_unit_test(test_closest_accepts_a_prefix_of_three_or_more_characters),
		cmocka_unit_test(test_error_set_fills_what_and_where_and_returns_minus_one),
		cmocka_unit_test(test_error_set_without_where_or_error_is_safe),
		cmocka_unit_test(test_error_messages_are_truncated_not_overflowed),
		cmocka_unit_test(test_buffer_appends_and_stays_nul_terminated),
		cmocka_unit_test(test_buffer_append_of_nothing_still_gives_a_string),
		cmocka_unit_test(test_buffer_keeps_embedded_nul_bytes),
		cmocka_unit_test(test_string_helpers_copy),
		cmocka_unit_test(test_monotonic_clock_does_not_go_backwards),
		cmocka_unit_test(test_buf_printf_of_nothing_still_gives_a_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
