/* The bounded reader and writer: every getter fails at the end instead of over-reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "derpcheck/cursor.h"

static void test_big_endian_fields_are_read_in_order(void **state)
{
	(void)state;
	const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	struct dc_cursor c;
	dc_cursor_init(&c, b, sizeof(b));
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	assert_true(dc_cursor_u8(&c, &u8));
	assert_true(dc_cursor_be16(&c, &u16));
	assert_true(dc_cursor_be32(&c, &u32));
	assert_int_equal(u8, 0x01);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(u32, 0x04050607);
	assert_int_equal(dc_cursor_left(&c), 0);
	assert_true(c.ok);
}

static void test_reading_past_the_end_fails_and_stays_failed(void **state)
{
	(void)state;
	const uint8_t b[] = {0xaa, 0xbb, 0xcc};
	struct dc_cursor c;
	dc_cursor_init(&c, b, sizeof(b));
	uint32_t u32 = 1;
	assert_false(dc_cursor_be32(&c, &u32));
	assert_int_equal(u32, 0);
	/* Sticky: a later read that would fit still fails, so one check at the end suffices. */
	uint8_t u8 = 1;
	assert_false(dc_cursor_u8(&c, &u8));
	assert_int_equal(u8, 0);
	assert_false(c.ok);
	assert_int_equal(dc_cursor_left(&c), 0);
}

static void test_bytes_view_and_skip_are_bounded(void **state)
{
	(void)state;
	const uint8_t b[] = {1, 2, 3, 4, 5};
	struct dc_cursor c;
	dc_cursor_init(&c, b, sizeof(b));
	uint8_t out[2];
	assert_true(dc_cursor_bytes(&c, out, 2));
	assert_memory_equal(out, b, 2);
	const uint8_t *view;
	assert_true(dc_cursor_view(&c, 2, &view));
	assert_ptr_equal(view, b + 2);
	assert_false(dc_cursor_skip(&c, 2)); /* only 1 left */
	assert_false(c.ok);
}

static void test_a_huge_length_cannot_wrap_around(void **state)
{
	(void)state;
	const uint8_t b[] = {1, 2, 3};
	struct dc_cursor c;
	dc_cursor_init(&c, b, sizeof(b));
	assert_true(dc_cursor_skip(&c, 1));
	assert_false(dc_cursor_skip(&c, SIZE_MAX));
}

static void test_empty_buffer_allows_only_zero_length_reads(void **state)
{
	(void)state;
	struct dc_cursor c;
	dc_cursor_init(&c, NULL, 10); /* a NULL buffer has no bytes whatever len says */
	assert_int_equal(dc_cursor_left(&c), 0);
	assert_true(dc_cursor_skip(&c, 0));
	uint8_t u8;
	assert_false(dc_cursor_u8(&c, &u8));
}

static void test_lines_split_on_lf_and_crlf_and_keep_a_last_partial_line(void **state)
{
	(void)state;
	const char text[] = "HTTP/1.1 200 OK\r\nST: x\nlast";
	struct dc_cursor c;
	dc_cursor_init(&c, text, strlen(text));
	const uint8_t *line;
	size_t n;
	assert_true(dc_cursor_line(&c, &line, &n));
	assert_int_equal(n, 15);
	assert_memory_equal(line, "HTTP/1.1 200 OK", 15);
	assert_true(dc_cursor_line(&c, &line, &n));
	assert_int_equal(n, 5);
	assert_true(dc_cursor_line(&c, &line, &n));
	assert_int_equal(n, 4);
	assert_memory_equal(line, "last", 4);
	assert_false(dc_cursor_line(&c, &line, &n));
	assert_true(c.ok); /* the end of the text is not an error */
}

static void test_writer_fills_exactly_and_refuses_overflow(void **state)
{
	(void)state;
	uint8_t out[7];
	struct dc_writer w;
	dc_writer_init(&w, out, sizeof(out));
	assert_true(dc_writer_u8(&w, 0x01));
	assert_true(dc_writer_be16(&w, 0x0203));
	assert_true(dc_writer_be32(&w, 0x04050607));
	const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7};
	assert_memory_equal(out, want, sizeof(want));
	assert_false(dc_writer_u8(&w, 8));
	assert_false(w.ok);
	assert_int_equal(w.off, 7);
}

static void test_writer_bytes_and_zeros(void **state)
{
	(void)state;
	uint8_t out[6];
	memset(out, 0xee, sizeof(out));
	struct dc_writer w;
	dc_writer_init(&w, out, sizeof(out));
	assert_true(dc_writer_bytes(&w, "ab", 2));
	assert_true(dc_writer_zeros(&w, 3));
	assert_false(dc_writer_bytes(&w, "cd", 2));
	const uint8_t want[] = {'a', 'b', 0, 0, 0, 0xee};
	assert_memory_equal(out, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_endian_fields_are_read_in_order),
		cmocka_unit_test(test_reading_past_the_end_fails_and_stays_failed),
		cmocka_unit_test(test_bytes_view_and_skip_are_bounded),
		cmocka_unit_test(test_a_huge_length_cannot_wrap_around),
		cmocka_unit_test(test_empty_buffer_allows_only_zero_length_reads),
		cmocka_unit_test(test_lines_split_on_lf_and_crlf_and_keep_a_last_partial_line),
		cmocka_unit_test(test_writer_fills_exactly_and_refuses_overflow),
		cmocka_unit_test(test_writer_bytes_and_zeros),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
