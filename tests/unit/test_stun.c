/*
 * The STUN codec against the test vectors of protocols.md §2 (verified with Tailscale's
 * own net/stun), and the decoder's rules for everything malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "derpcheck/probe/stun.h"

static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (; hex[0] && hex[1] && n < cap; hex += 2) {
		unsigned v;
		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static const char *mapped_of(const uint8_t *b, size_t len)
{
	static char buf[DC_ENDPOINT_STRLEN];
	static struct dc_error err;
	struct dc_stun_msg m;
	if (dc_stun_parse(b, len, &m, &err) < 0)
		return err.what;
	const struct dc_endpoint *e = dc_stun_msg_mapped(&m);
	return e ? dc_endpoint_format(e, buf, sizeof(buf)) : "(none)";
}

/* Parse hex and return the error text ("" when it parsed). */
static const char *parse_error(const char *hex)
{
	static struct dc_error err;
	uint8_t b[512];
	struct dc_stun_msg m;
	size_t n = unhex(hex, b, sizeof(b));
	memset(&err, 0, sizeof(err));
	return dc_stun_parse(b, n, &m, &err) < 0 ? err.what : "";
}

static void test_tailscale_request_matches_the_reference_bytes(void **state)
{
	(void)state;
	uint8_t want[40], got[64];
	unhex("000100142112a4420102030405060708090a0b0c802200087461696c6e6f646580280004b32c370f", want, sizeof(want));
	assert_int_equal(dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, got, sizeof(got)), 40);
	assert_memory_equal(got, want, 40);
}

static void test_plain_request_is_a_bare_header(void **state)
{
	(void)state;
	uint8_t want[20], got[64];
	unhex("000100002112a4420102030405060708090a0b0c", want, sizeof(want));
	assert_int_equal(dc_stun_request(DC_STUN_STYLE_RFC5389, txid, got, sizeof(got)), 20);
	assert_memory_equal(got, want, 20);
}

static void test_request_needs_room(void **state)
{
	(void)state;
	uint8_t buf[39];
	assert_int_equal(dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, buf, sizeof(buf)), 0);
}

static void test_crc32_is_zlibs(void **state)
{
	(void)state;
	uint8_t req[40];
	dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, req, sizeof(req));
	assert_int_equal(dc_crc32(req, 32), 0xe0786241u);
	assert_int_equal(dc_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
}

static void test_our_request_is_one_derper_answers(void **state)
{
	(void)state;
	uint8_t req[40];
	struct dc_stun_msg m;
	struct dc_error err;
	dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, req, sizeof(req));
	assert_int_equal(dc_stun_parse(req, sizeof(req), &m, &err), 0);
	assert_true(dc_stun_is_tailscale_request(&m));
	assert_int_equal(m.cls, DC_STUN_CLASS_REQUEST);
	dc_stun_request(DC_STUN_STYLE_RFC5389, txid, req, sizeof(req));
	assert_int_equal(dc_stun_parse(req, 20, &m, &err), 0);
	assert_false(dc_stun_is_tailscale_request(&m));
}

static void test_xor_mapped_ipv4_reply(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = unhex("0101000c2112a4420102030405060708090a0b0c00200008000183bbe721c045", b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_int_equal(m.cls, DC_STUN_CLASS_SUCCESS);
	assert_memory_equal(m.txid, txid, 12);
	assert_string_equal(mapped_of(b, n), "198.51.100.7:41641");
	assert_false(m.has_software);
	assert_false(m.has_fingerprint);
}

static void test_xor_mapped_ipv6_unmaps_v4(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = unhex("010100182112a4420102030405060708090a0b0c00200014000283bb2112a442010203040506f8f7cf396f0b", b,
			 sizeof(b));
	assert_string_equal(mapped_of(b, n), "198.51.100.7:41641");
}

static void test_xor_mapped_ipv6_reply(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = unhex("010100182112a4420102030405060708090a0b0c00200014000283bb0113a9fa0102030405060708090a0b0d", b,
			 sizeof(b));
	assert_string_equal(mapped_of(b, n), "[2001:db8::1]:41641");
}

static void test_reply_encoder_reproduces_the_vectors(void **state)
{
	(void)state;
	struct dc_endpoint e;
	dc_ip_parse("198.51.100.7", 4, &e);
	e.port = 41641;
	uint8_t got[64], want[64];
	struct dc_stun_reply_opts o = {.mapped = &e};
	size_t n = dc_stun_reply(txid, &o, got, sizeof(got));
	assert_int_equal(n, unhex("0101000c2112a4420102030405060708090a0b0c00200008000183bbe721c045", want, sizeof(want)));
	assert_memory_equal(got, want, n);
	o.v4_as_mapped_v6 = true;
	n = dc_stun_reply(txid, &o, got, sizeof(got));
	assert_int_equal(n, unhex("010100182112a4420102030405060708090a0b0c00200014000283bb2112a442010203040506f8f7cf396f0b",
				  want, sizeof(want)));
	assert_memory_equal(got, want, n);
}

static void test_mapped_address_is_the_fallback(void **state)
{
	(void)state;
	/* MAPPED-ADDRESS 10.0.0.1:5000 only. */
	assert_string_equal(mapped_of((uint8_t[]){0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9,
						10, 11, 12, 0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x13, 0x88, 10, 0, 0, 1},
				  32),
			    "10.0.0.1:5000");
}

static void test_xor_mapped_wins_over_mapped(void **state)
{
	(void)state;
	/* stund-like: MAPPED-ADDRESS 127.0.0.1:51441 first, then XOR-MAPPED 127.0.0.1:51441, SOFTWARE with NUL. */
	uint8_t b[128];
	size_t n = unhex("0101002c2112a4420102030405060708090a0b0c000100080001c8f17f000001"
			 "002000080001e9e35e12a443"
			 "80220010566f766964612e6f726720302e393700",
			 b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_true(m.has_mapped);
	assert_true(m.has_xor_mapped);
	assert_string_equal(mapped_of(b, n), "127.0.0.1:51441");
	assert_string_equal(m.software, "Vovida.org 0.97");
}

static void test_legacy_0x8020_is_accepted(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = unhex("0101000c2112a4420102030405060708090a0b0c80200008000183bbe721c045", b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_true(m.xor_mapped_alt);
	assert_string_equal(mapped_of(b, n), "198.51.100.7:41641");
}

static void test_software_and_fingerprint_are_read(void **state)
{
	(void)state;
	struct dc_endpoint e;
	dc_ip_parse("203.0.113.9", 4, &e);
	e.port = 1;
	uint8_t b[128];
	struct dc_stun_reply_opts o = {.mapped = &e, .software = "Coturn-4.6.1 'Gorst'", .fingerprint = true};
	size_t n = dc_stun_reply(txid, &o, b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_true(m.has_software);
	assert_string_equal(m.software, "Coturn-4.6.1 'Gorst'");
	assert_true(m.has_fingerprint);
	b[n - 1] ^= 1;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), -1);
	assert_non_null(strstr(err.what, "FINGERPRINT attribute at offset"));
	assert_non_null(strstr(err.what, "but the message computes to"));
}

static void test_error_response_code_and_reason(void **state)
{
	(void)state;
	uint8_t b[128];
	struct dc_stun_reply_opts o = {.error_code = 420, .error_reason = "Unknown Attribute"};
	size_t n = dc_stun_reply(txid, &o, b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_int_equal(m.cls, DC_STUN_CLASS_ERROR);
	assert_int_equal(m.error_code, 420);
	assert_string_equal(m.error_reason, "Unknown Attribute");
	assert_null(dc_stun_msg_mapped(&m));
}

static void test_header_errors_are_precise(void **state)
{
	(void)state;
	assert_string_equal(parse_error("0101000c2112a442"), "8 bytes is shorter than the 20-byte STUN header");
	assert_string_equal(parse_error("c101000c2112a4420102030405060708090a0b0c"),
			    "not STUN: the first two bits of the message type 0xc101 are not zero");
	assert_string_equal(parse_error("010100002112a4430102030405060708090a0b0c"),
			    "not STUN (RFC 5389): magic cookie is 0x2112a443, want 0x2112a442");
	assert_string_equal(parse_error("010300002112a4420102030405060708090a0b0c"),
			    "message type 0x0103 is method 0x003, not Binding (0x001)");
	assert_string_equal(parse_error("010100062112a4420102030405060708090a0b0c000000000000"),
			    "header length 6 is not a multiple of 4");
	assert_string_equal(parse_error("0101000c2112a4420102030405060708090a0b0c00200008"),
			    "truncated: the header announces 12 bytes of attributes but only 4 follow");
}

static void test_attribute_errors_name_the_offset(void **state)
{
	(void)state;
	/* XOR-MAPPED-ADDRESS claims 12 bytes but the message only has 8 of value. */
	assert_string_equal(parse_error("0101000c2112a4420102030405060708090a0b0c0020000c000183bbe721c045"),
			    "XOR-MAPPED-ADDRESS attribute at offset 20: length 12 (padded to 12) runs past the end of the message (8 bytes left)");
	/* IPv4 family with a 4-byte value, and a 2-byte value with no family at all. */
	assert_string_equal(parse_error("010100082112a4420102030405060708090a0b0c0020000400010000"),
			    "XOR-MAPPED-ADDRESS attribute at offset 20: IPv4 value must be 8 bytes, got 4");
	assert_string_equal(parse_error("010100082112a4420102030405060708090a0b0c0001000200010000"),
			    "MAPPED-ADDRESS attribute at offset 20: value is 2 bytes, an address needs at least 8");
	/* IPv6 family with an IPv4-sized value. */
	assert_string_equal(parse_error("0101000c2112a4420102030405060708090a0b0c00200008000283bbe721c045"),
			    "XOR-MAPPED-ADDRESS attribute at offset 20: IPv6 value must be 20 bytes, got 8");
	assert_string_equal(parse_error("0101000c2112a4420102030405060708090a0b0c00010008000383bbe721c045"),
			    "MAPPED-ADDRESS attribute at offset 20: unknown address family 0x03 (want 0x01 IPv4 or 0x02 IPv6)");
	/* An empty SOFTWARE, then garbage read as an attribute header. */
	assert_string_equal(parse_error("0101000c2112a4420102030405060708090a0b0c8022000061626364ffff0000"),
			    "attribute 0x6162 at offset 24: length 25444 (padded to 25444) runs past the end of the message (4 bytes left)");
	assert_string_equal(parse_error("010100042112a4420102030405060708090a0b0c0020"),
			    "truncated: the header announces 4 bytes of attributes but only 2 follow");
	assert_string_equal(parse_error("010100082112a4420102030405060708090a0b0c0009000400000464"),
			    "ERROR-CODE attribute at offset 20: invalid code: class 4, number 100 (want 300-699)");
}

static void test_fingerprint_must_be_last(void **state)
{
	(void)state;
	/* A correct FINGERPRINT (over the final header length) followed by SOFTWARE "test". */
	uint8_t b[36];
	size_t n = unhex("010100102112a4420102030405060708090a0b0c", b, sizeof(b));
	uint32_t fp = dc_crc32(b, n) ^ DC_STUN_FINGERPRINT_XOR;
	memcpy(b + n, (uint8_t[]){0x80, 0x28, 0x00, 0x04, (uint8_t)(fp >> 24), (uint8_t)(fp >> 16), (uint8_t)(fp >> 8),
				  (uint8_t)fp, 0x80, 0x22, 0x00, 0x04, 't', 'e', 's', 't'},
	       16);
	n += 16;
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), -1);
	assert_string_equal(err.what, "SOFTWARE attribute at offset 28: follows FINGERPRINT, which must be the last attribute");
}

static void test_padding_is_skipped_whatever_it_holds(void **state)
{
	(void)state;
	/* SOFTWARE "abc" (3 bytes + 1 pad byte 0xff), then XOR-MAPPED-ADDRESS. */
	assert_string_equal(mapped_of((uint8_t[]){0x01, 0x01, 0x00, 0x14, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
						9, 10, 11, 12, 0x80, 0x22, 0x00, 0x03, 'a', 'b', 'c', 0xff, 0x00,
						0x20, 0x00, 0x08, 0x00, 0x01, 0x83, 0xbb, 0xe7, 0x21, 0xc0, 0x45},
				  40),
			    "198.51.100.7:41641");
}

static void test_trailing_bytes_are_counted_not_parsed(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = unhex("0101000c2112a4420102030405060708090a0b0c00200008000183bbe721c045deadbeef", b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_int_equal(m.trailing, 4);
}

static void test_unknown_required_attributes_are_noted(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = unhex("010100082112a4420102030405060708090a0b0c0077000401020304", b, sizeof(b));
	struct dc_stun_msg m;
	struct dc_error err;
	assert_int_equal(dc_stun_parse(b, n, &m, &err), 0);
	assert_int_equal(m.unknown_required_count, 1);
	assert_int_equal(m.unknown_required[0], 0x0077);
}

static void test_is_stun_is_tailscales_test(void **state)
{
	(void)state;
	uint8_t b[40];
	dc_stun_request(DC_STUN_STYLE_TAILSCALE, txid, b, sizeof(b));
	assert_true(dc_stun_is_stun(b, 40));
	assert_false(dc_stun_is_stun(b, 19));
	b[4] = 0;
	assert_false(dc_stun_is_stun(b, 40));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tailscale_request_matches_the_reference_bytes),
		cmocka_unit_test(test_plain_request_is_a_bare_header),
		cmocka_unit_test(test_request_needs_room),
		cmocka_unit_test(test_crc32_is_zlibs),
		cmocka_unit_test(test_our_request_is_one_derper_answers),
		cmocka_unit_test(test_xor_mapped_ipv4_reply),
		cmocka_unit_test(test_xor_mapped_ipv6_unmaps_v4),
		cmocka_unit_test(test_xor_mapped_ipv6_reply),
		cmocka_unit_test(test_reply_encoder_reproduces_the_vectors),
		cmocka_unit_test(test_mapped_address_is_the_fallback),
		cmocka_unit_test(test_xor_mapped_wins_over_mapped),
		cmocka_unit_test(test_legacy_0x8020_is_accepted),
		cmocka_unit_test(test_software_and_fingerprint_are_read),
		cmocka_unit_test(test_error_response_code_and_reason),
		cmocka_unit_test(test_header_errors_are_precise),
		cmocka_unit_test(test_attribute_errors_name_the_offset),
		cmocka_unit_test(test_fingerprint_must_be_last),
		cmocka_unit_test(test_padding_is_skipped_whatever_it_holds),
		cmocka_unit_test(test_trailing_bytes_are_counted_not_parsed),
		cmocka_unit_test(test_unknown_required_attributes_are_noted),
		cmocka_unit_test(test_is_stun_is_tailscales_test),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
