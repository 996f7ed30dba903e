/* The bounded reader and writer: every getter reads all it was asked for, or nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "derpcheck/cursor.h"

static void test_integers_are_big_endian(void **state)
{
	(void)state;
	static const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	struct dc_cursor c;
	dc_cursor_init(&c, buf, sizeof(buf));
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	assert_int_equal(dc_cursor_u8(&c, &u8), 0);
	assert_int_equal(u8, 0x01);
	assert_int_equal(dc_cursor_be16(&c, &u16), 0);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(dc_cursor_be32(&c, &u32), 0);
	assert_int_equal(u32, 0x04050607);
	assert_int_equal(dc_cursor_be64(&c, &u64), 0);
	assert_true(u64 == 0x08090a0b0c0d0e0full);
	assert_int_equal(dc_cursor_left(&c), 0);
}

static void test_short_reads_fail_without_moving(void **state)
{
	(void)state;
	static const uint8_t buf[] = {0xaa, 0xbb, 0xcc};
	struct dc_cursor c;
	dc_cursor_init(&c, buf, sizeof(buf));
	uint32_t u32 = 7;
	uint64_t u64 = 7;
	assert_int_equal(dc_cursor_be32(&c, &u32), -1);
	assert_int_equal(u32, 7);
	assert_int_equal(dc_cursor_be64(&c, &u64), -1);
	assert_int_equal(c.off, 0);
	uint8_t out[4];
	assert_int_equal(dc_cursor_bytes(&c, out, 4), -1);
	assert_int_equal(dc_cursor_skip(&c, 4), -1);
	assert_int_equal(dc_cursor_skip(&c, 3), 0);
	assert_int_equal(dc_cursor_skip(&c, 1), -1);
	uint8_t u8;
	assert_int_equal(dc_cursor_u8(&c, &u8), -1);
}

static void test_huge_lengths_do_not_wrap(void **state)
{
	(void)state;
	static const uint8_t buf[4] = {0};
	struct dc_cursor c;
	dc_cursor_init(&c, buf, sizeof(buf));
	assert_int_equal(dc_cursor_skip(&c, 1), 0);
	const uint8_t *p;
	assert_int_equal(dc_cursor_ref(&c, SIZE_MAX, &p), -1);
	assert_int_equal(dc_cursor_ref(&c, SIZE_MAX - 1, &p), -1);
	assert_int_equal(c.off, 1);
}

static void test_rest_borrows_everything_left(void **state)
{
	(void)state;
	static const uint8_t buf[] = "abcdef";
	struct dc_cursor c;
	dc_cursor_init(&c, buf, 6);
	dc_cursor_skip(&c, 2);
	size_t n;
	const uint8_t *p = dc_cursor_rest(&c, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "cdef", 4);
	assert_int_equal(dc_cursor_left(&c), 0);
	dc_cursor_rest(&c, &n);
	assert_int_equal(n, 0);
}

static void test_lines_end_in_crlf_only(void **state)
{
	(void)state;
	static const char text[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n\r\ntail";
	struct dc_cursor c;
	dc_cursor_init(&c, text, strlen(text));
	const char *line;
	size_t len;
	assert_int_equal(dc_cursor_line(&c, &line, &len), 0);
	assert_int_equal(len, strlen("HTTP/1.1 101 Switching Protocols"));
	assert_int_equal(dc_cursor_line(&c, &line, &len), 0);
	assert_memory_equal(line, "Upgrade: DERP", len);
	assert_int_equal(dc_cursor_line(&c, &line, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(dc_cursor_line(&c, &line, &len), -1); /* "tail" has no CRLF */
	assert_int_equal(dc_cursor_left(&c), 4);

	static const char bare_lf[] = "a\nb\r\n";
	dc_cursor_init(&c, bare_lf, strlen(bare_lf));
	assert_int_equal(dc_cursor_line(&c, &line, &len), -1);
	static const char cr_at_end[] = "abc\r";
	dc_cursor_init(&c, cr_at_end, strlen(cr_at_end));
	assert_int_equal(dc_cursor_line(&c, &line, &len), -1);
	static const char nul[] = "a\0b\r\n";
	dc_cursor_init(&c, nul, 5);
	assert_int_equal(dc_cursor_line(&c, &line, &len), -1);
}

static void test_writer_stops_at_capacity(void **state)
{
	(void)state;
	uint8_t buf[7];
	struct dc_writer w;
	dc_writer_init(&w, buf, sizeof(buf));
	dc_writer_u8(&w, 0x12);
	dc_writer_be16(&w, 0x3456);
	dc_writer_be32(&w, 0x789abcde);
	assert_false(w.overflow);
	assert_int_equal(w.len, 7);
	static const uint8_t want[] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde};
	assert_memory_equal(buf, want, 7);
	dc_writer_u8(&w, 0xff);
	assert_true(w.overflow);
	assert_int_equal(w.len, 7);
	assert_memory_equal(buf, want, 7);
}

static void test_writer_be64(void **state)
{
	(void)state;
	uint8_t buf[8];
	struct dc_writer w;
	dc_writer_init(&w, buf, sizeof(buf));
	dc_writer_be64(&w, 0x0102030405060708ull);
	static const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_memory_equal(buf, want, 8);
	assert_false(w.overflow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers_are_big_endian),
		cmocka_unit_test(test_short_reads_fail_without_moving),
		cmocka_unit_test(test_huge_lengths_do_not_wrap),
		cmocka_unit_test(test_rest_borrows_everything_left),
		cmocka_unit_test(test_lines_end_in_crlf_only),
		cmocka_unit_test(test_writer_stops_at_capacity),
		cmocka_unit_test(test_writer_be64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
