/* The bounded reader and writer every wire parser goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "derpcheck/cursor.h"

static void test_getters_read_big_endian_and_advance(void **state)
{
	(void)state;
	const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	struct dc_cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	dc_cursor_init(&c, b, sizeof(b));
	assert_int_equal(dc_cursor_u8(&c, &u8), 0);
	assert_int_equal(u8, 0x01);
	assert_int_equal(dc_cursor_be16(&c, &u16), 0);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(dc_cursor_be32(&c, &u32), 0);
	assert_int_equal(u32, 0x04050607);
	assert_int_equal(dc_cursor_left(&c), 0);
}

static void test_short_read_fails_and_consumes_nothing(void **state)
{
	(void)state;
	const uint8_t b[] = {0xaa, 0xbb, 0xcc};
	struct dc_cursor c;
	uint32_t u32;
	uint16_t u16;
	dc_cursor_init(&c, b, sizeof(b));
	assert_int_equal(dc_cursor_be32(&c, &u32), -1);
	assert_int_equal(c.off, 0);
	assert_int_equal(dc_cursor_skip(&c, 2), 0);
	assert_int_equal(dc_cursor_be16(&c, &u16), -1);
	assert_int_equal(dc_cursor_left(&c), 1);
}

static void test_bytes_never_point_past_the_end(void **state)
{
	(void)state;
	const uint8_t b[] = {1, 2, 3, 4};
	struct dc_cursor c;
	const uint8_t *p = NULL;
	dc_cursor_init(&c, b, sizeof(b));
	assert_int_equal(dc_cursor_bytes(&c, 5, &p), -1);
	assert_null(p);
	assert_int_equal(dc_cursor_bytes(&c, (size_t)-1, &p), -1);
	assert_int_equal(dc_cursor_bytes(&c, 4, &p), 0);
	assert_ptr_equal(p, b);
}

static void test_sub_cursor_is_limited_to_its_slice(void **state)
{
	(void)state;
	const uint8_t b[] = {1, 2, 3, 4, 5, 6};
	struct dc_cursor c, sub;
	uint32_t u32;
	dc_cursor_init(&c, b, sizeof(b));
	assert_int_equal(dc_cursor_sub(&c, 3, &sub), 0);
	assert_int_equal(dc_cursor_be32(&sub, &u32), -1);
	assert_int_equal(dc_cursor_left(&sub), 3);
	assert_int_equal(dc_cursor_left(&c), 3);
	assert_int_equal(dc_cursor_sub(&c, 4, &sub), -1);
}

static void test_empty_cursor_reads_nothing(void **state)
{
	(void)state;
	struct dc_cursor c;
	uint8_t u8;
	dc_cursor_init(&c, NULL, 10);
	assert_int_equal(dc_cursor_left(&c), 0);
	assert_int_equal(dc_cursor_u8(&c, &u8), -1);
}

static void test_writer_overflow_is_sticky(void **state)
{
	(void)state;
	uint8_t buf[5];
	struct dc_writer w;
	dc_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(dc_writer_be32(&w, 0x01020304), 0);
	assert_int_equal(dc_writer_be16(&w, 0x0506), -1);
	assert_true(w.overflow);
	assert_int_equal(dc_writer_u8(&w, 7), -1); /* would fit, but the message is already broken */
	assert_int_equal(w.len, 4);
	assert_memory_equal(buf, ((uint8_t[]){1, 2, 3, 4}), 4);
}

static void test_writer_patches_a_length_field(void **state)
{
	(void)state;
	uint8_t buf[8];
	struct dc_writer w;
	dc_writer_init(&w, buf, sizeof(buf));
	dc_writer_be16(&w, 0);
	dc_writer_be16(&w, 0xffff);
	assert_int_equal(dc_writer_put_be16_at(&w, 0, 0x1234), 0);
	assert_int_equal(dc_writer_put_be16_at(&w, 3, 1), -1);
	assert_memory_equal(buf, ((uint8_t[]){0x12, 0x34, 0xff, 0xff}), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getters_read_big_endian_and_advance),
		cmocka_unit_test(test_short_read_fails_and_consumes_nothing),
		cmocka_unit_test(test_bytes_never_point_past_the_end),
		cmocka_unit_test(test_sub_cursor_is_limited_to_its_slice),
		cmocka_unit_test(test_empty_cursor_reads_nothing),
		cmocka_unit_test(test_writer_overflow_is_sticky),
		cmocka_unit_test(test_writer_patches_a_length_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
