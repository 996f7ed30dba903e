/* The bounded reader and writer: every getter fails at the end instead of over-reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "derpcheck/util/cursor.h"

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

static void test_be64_and_rest(void **state)
{
	(void)state;
	static const uint8_t buf[] = {1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb};
	struct dc_cursor c;
	dc_cursor_init(&c, buf, sizeof(buf));
	uint64_t v;
	assert_true(dc_cursor_be64(&c, &v));
	assert_true(v == 0x0102030405060708ull);
	size_t n;
	const uint8_t *rest = dc_cursor_rest(&c, &n);
	assert_int_equal(n, 2);
	assert_int_equal(rest[0], 0xaa);
	assert_int_equal(dc_cursor_left(&c), 0);
	assert_false(dc_cursor_be64(&c, &v)); /* nothing left: fails and reads zero */
	assert_true(v == 0);
}

static void test_http_line_needs_crlf_and_rejects_nul_and_bare_lf(void **state)
{
	(void)state;
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n\r\n";
	struct dc_cursor c;
	dc_cursor_init(&c, ok, sizeof(ok) - 1);
	const char *line;
	size_t n;
	assert_true(dc_cursor_http_line(&c, &line, &n));
	assert_int_equal(n, strlen("HTTP/1.1 101 Switching Protocols"));
	assert_true(dc_cursor_http_line(&c, &line, &n));
	assert_memory_equal(line, "Upgrade: DERP", n);
	assert_true(dc_cursor_http_line(&c, &line, &n));
	assert_int_equal(n, 0);
	static const char bare_lf[] = "HTTP/1.1 200 OK\nX: y\r\n";
	dc_cursor_init(&c, bare_lf, sizeof(bare_lf) - 1);
	assert_false(dc_cursor_http_line(&c, &line, &n));
	static const char nul[] = "HTTP/1.1 200\0 OK\r\n";
	dc_cursor_init(&c, nul, sizeof(nul) - 1);
	assert_false(dc_cursor_http_line(&c, &line, &n));
	static const char unterminated[] = "HTTP/1.1 200 OK";
	dc_cursor_init(&c, unterminated, sizeof(unterminated) - 1);
	assert_false(dc_cursor_http_line(&c, &line, &n));
}

static void test_writer_be64(void **state)
{
	(void)state;
	uint8_t buf[9];
	struct dc_writer w;
	dc_writer_init(&w, buf, sizeof(buf));
	assert_true(dc_writer_be64(&w, 0x0102030405060708ull));
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[7], 8);
	assert_false(dc_writer_be64(&w, 1)); /* only one byte of room left */
	assert_false(w.ok);
}

static void test_sub_cursor_is_bounded_by_its_length(void **state)
{
	(void)state;
	static const uint8_t buf[] = {0, 4, 1, 2, 3, 4, 9};
	struct dc_cursor c, sub;
	dc_cursor_init(&c, buf, sizeof(buf));
	uint16_t n;
	assert_true(dc_cursor_be16(&c, &n));
	assert_true(dc_cursor_sub(&c, n, &sub));
	uint32_t v;
	assert_true(dc_cursor_be32(&sub, &v));
	assert_int_equal(v, 0x01020304);
	uint8_t b;
	assert_false(dc_cursor_u8(&sub, &b)); /* the 9 belongs to the outer cursor */
	assert_true(dc_cursor_u8(&c, &b));
	assert_int_equal(b, 9);
	assert_false(dc_cursor_sub(&c, 1, &sub));
	assert_false(sub.ok);
}

static void test_put_be16_at_patches_only_written_bytes(void **state)
{
	(void)state;
	uint8_t buf[4];
	struct dc_writer w;
	dc_writer_init(&w, buf, sizeof(buf));
	assert_true(dc_writer_be16(&w, 0));
	assert_true(dc_writer_put_be16_at(&w, 0, 0x1234));
	assert_int_equal(buf[0], 0x12);
	assert_int_equal(buf[1], 0x34);
	assert_false(dc_writer_put_be16_at(&w, 1, 1)); /* byte 2 was never written */
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
		cmocka_unit_test(test_be64_and_rest),
		cmocka_unit_test(test_http_line_needs_crlf_and_rejects_nul_and_bare_lf),
		cmocka_unit_test(test_writer_be64),
		cmocka_unit_test(test_sub_cursor_is_bounded_by_its_length),
		cmocka_unit_test(test_put_be16_at_patches_only_written_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
