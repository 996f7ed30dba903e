/*
 * DERP over WebSocket: the handshake values of RFC 6455 (§1.3, §4.2.2), the frame codec
 * against the RFC's own examples (§5.7) and its rules (§5.2-5.5), the stream that turns
 * frames into DERP bytes, and SHA-1 against FIPS 180-4's test vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/websocket.h"
#include "derpcheck/util/sha1.h"

static void sha1_hex(const void *p, size_t n, char out[41])
{
	uint8_t d[DC_SHA1_LEN];
	dc_sha1(p, n, d);
	for (int i = 0; i < DC_SHA1_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha1_matches_the_fips_vectors(void **state)
{
	(void)state;
	char h[41];
	sha1_hex("abc", 3, h);
	assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	sha1_hex("", 0, h);
	assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 448 bits: padding spills */
	sha1_hex(two, strlen(two), h);
	assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	char *million = malloc(1000000);
	memset(million, 'a', 1000000);
	sha1_hex(million, 1000000, h);
	assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(million);
}

/* ---- the handshake ------------------------------------------------------------------------ */

static void test_key_is_base64_of_the_nonce(void **state)
{
	(void)state;
	char key[DC_WS_KEY_LEN + 1];
	dc_ws_key_make((const uint8_t *)"the sample nonce", key);
	assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ=="); /* RFC 6455 §1.3 */
}

static void test_accept_value_is_the_rfc_example(void **state)
{
	(void)state;
	char accept[DC_WS_ACCEPT_LEN + 1];
	dc_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_request_headers_offer_derp_and_no_compression(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_ws_put_upgrade_headers(&b, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_string_equal(b.data, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: derp\r\n");
	assert_null(strstr(b.data, "Extensions"));
	dc_buf_free(&b);
}

static enum dc_ws_answer check_answer(const char *head, struct dc_error *err)
{
	struct dc_derp_upgrade u;
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)head, strlen(head), &u, err), 1);
	return dc_ws_answer_check(&u, "dGhlIHNhbXBsZSBub25jZQ==", err);
}

static void test_answer_from_derper_is_accepted(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
				      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: derp\r\nUpgrade: websocket\r\n\r\n",
				      &err),
			 DC_WS_ANSWER_OK);
}

static void test_answer_not_101_is_a_status(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(check_answer("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", &err), DC_WS_ANSWER_STATUS);
	assert_non_null(strstr(err.what, "HTTP 426"));
}

static void test_answer_with_upgrade_derp_means_the_subprotocol_was_dropped(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
				      "Derp-Version: 2\r\n\r\n", &err),
			 DC_WS_ANSWER_DERP_UPGRADE);
	assert_non_null(strstr(err.hint, "Sec-WebSocket-Protocol"));
}

static void test_answer_with_a_wrong_accept_is_refused(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				      "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nSec-WebSocket-Protocol: derp\r\n\r\n", &err),
			 DC_WS_ANSWER_BAD_ACCEPT);
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", &err),
			 DC_WS_ANSWER_NO_ACCEPT);
}

static void test_answer_without_the_derp_subprotocol_is_refused(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", &err),
			 DC_WS_ANSWER_NO_PROTOCOL);
	assert_non_null(strstr(err.hint, "1008"));
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n", &err),
			 DC_WS_ANSWER_BAD_PROTOCOL);
}

static void test_answer_with_an_extension_not_offered_is_refused(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(check_answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: derp\r\n"
				      "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", &err),
			 DC_WS_ANSWER_EXTENSION);
}

/* ---- frames (RFC 6455 §5.7's examples first) -------------------------------------------- */

static int next(const uint8_t *b, size_t n, bool from_server, struct dc_ws_frame *f, size_t *used, struct dc_error *err)
{
	return dc_ws_frame_next(b, n, DC_WS_MAX_FRAME, from_server, f, used, NULL, err);
}

static void test_rfc_unmasked_hello(void **state)
{
	(void)state;
	static const uint8_t b[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	struct dc_ws_frame f;
	size_t used;
	assert_int_equal(next(b, sizeof(b), true, &f, &used, NULL), 1);
	assert_true(f.fin);
	assert_int_equal(f.opcode, DC_WS_TEXT);
	assert_int_equal(f.len, 5);
	assert_int_equal(used, 7);
	assert_memory_equal(f.payload, "Hello", 5);
}

static void test_rfc_masked_hello_unmasks(void **state)
{
	(void)state;
	uint8_t b[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct dc_ws_frame f;
	size_t used;
	assert_int_equal(next(b, sizeof(b), false, &f, &used, NULL), 1);
	assert_true(f.masked);
	uint8_t p[5];
	memcpy(p, f.payload, 5);
	dc_ws_unmask(p, 5, f.mask, 0);
	assert_memory_equal(p, "Hello", 5);
	/* and our encoder writes exactly these bytes with that mask */
	struct dc_buf out = {0};
	dc_ws_put_frame(&out, DC_WS_TEXT, true, (const uint8_t[]){0x37, 0xfa, 0x21, 0x3d}, "Hello", 5);
	assert_int_equal(out.len, sizeof(b));
	assert_memory_equal(out.data, b, sizeof(b));
	dc_buf_free(&out);
}

static void test_length_forms_are_the_shortest(void **state)
{
	(void)state;
	uint8_t *payload = calloc(1, 65536);
	struct dc_buf b = {0};
	dc_ws_put_frame(&b, DC_WS_BINARY, true, NULL, payload, 125);
	assert_int_equal((uint8_t)b.data[1], 125);
	b.len = 0;
	dc_ws_put_frame(&b, DC_WS_BINARY, true, NULL, payload, 256);
	static const uint8_t h256[] = {0x82, 0x7e, 0x01, 0x00}; /* §5.7: 256 bytes */
	assert_memory_equal(b.data, h256, 4);
	b.len = 0;
	dc_ws_put_frame(&b, DC_WS_BINARY, true, NULL, payload, 65536);
	static const uint8_t h64k[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}; /* §5.7: 64 KiB */
	assert_memory_equal(b.data, h64k, 10);
	struct dc_ws_frame f;
	size_t used;
	assert_int_equal(next((uint8_t *)b.data, b.len, true, &f, &used, NULL), 1);
	assert_int_equal(f.len, 65536);
	dc_buf_free(&b);
	free(payload);
}

static void test_partial_frames_ask_for_the_rest(void **state)
{
	(void)state;
	static const uint8_t b[] = {0x82, 0x7e, 0x01, 0x00};
	struct dc_ws_frame f;
	size_t used, need = 0;
	assert_int_equal(dc_ws_frame_next(b, 1, DC_WS_MAX_FRAME, true, &f, &used, &need, NULL), 0);
	assert_int_equal(need, 2);
	assert_int_equal(dc_ws_frame_next(b, 3, DC_WS_MAX_FRAME, true, &f, &used, &need, NULL), 0);
	assert_int_equal(need, 4);
	assert_int_equal(dc_ws_frame_next(b, 4, DC_WS_MAX_FRAME, true, &f, &used, &need, NULL), 0);
	assert_int_equal(need, 4 + 256);
}

static void expect_violation(const uint8_t *b, size_t n, bool from_server, const char *words)
{
	struct dc_ws_frame f;
	size_t used;
	struct dc_error err;
	assert_int_equal(next(b, n, from_server, &f, &used, &err), -1);
	if (!strstr(err.what, words))
		fail_msg("\"%s\" does not say \"%s\"", err.what, words);
}

static void test_reserved_bits_without_an_extension_fail(void **state)
{
	(void)state;
	expect_violation((const uint8_t[]){0xc2, 0x00}, 2, true, "reserved bits");
}

static void test_reserved_opcodes_fail(void **state)
{
	(void)state;
	expect_violation((const uint8_t[]){0x83, 0x00}, 2, true, "reserved opcode 0x3");
	expect_violation((const uint8_t[]){0x8b, 0x00}, 2, true, "reserved opcode 0xb");
}

static void test_control_frames_are_never_fragmented_or_long(void **state)
{
	(void)state;
	expect_violation((const uint8_t[]){0x09, 0x00}, 2, true, "fragmented");
	expect_violation((const uint8_t[]){0x89, 0x7e, 0x00, 0x80}, 4, true, "more than 125");
}

static void test_a_64_bit_length_with_the_top_bit_fails(void **state)
{
	(void)state;
	expect_violation((const uint8_t[]){0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, true, "top bit");
}

static void test_masking_must_go_the_right_way(void **state)
{
	(void)state;
	expect_violation((const uint8_t[]){0x82, 0x80, 1, 2, 3, 4}, 6, true, "server masked");
	expect_violation((const uint8_t[]){0x82, 0x00}, 2, false, "unmasked");
}

static void test_an_oversized_frame_fails_from_its_header(void **state)
{
	(void)state;
	/* 2 GiB announced, only the header present: refused without waiting for the payload */
	expect_violation((const uint8_t[]){0x82, 0x7f, 0, 0, 0, 0, 0x80, 0, 0, 0}, 10, true, "accepts at most");
}

/* ---- close frames ------------------------------------------------------------------------- */

static void test_close_payload_code_and_reason(void **state)
{
	(void)state;
	struct dc_ws_close c;
	static const uint8_t p[] = {0x03, 0xf0, 'c', 'l', 'i', 'e', 'n', 't', '\n'};
	assert_int_equal(dc_ws_close_parse(p, sizeof(p), &c, NULL), 0);
	assert_int_equal(c.code, 1008);
	assert_true(c.code_valid);
	char text[200];
	dc_ws_close_describe(&c, text, sizeof(text));
	assert_string_equal(text, "1008 policy violation: \"client?\"");
	assert_int_equal(dc_ws_close_parse(p, 1, &c, NULL), -1);
	assert_int_equal(dc_ws_close_parse((const uint8_t[]){0x03, 0xee}, 2, &c, NULL), 0); /* 1006: never on the wire */
	assert_false(c.code_valid);
	assert_int_equal(dc_ws_close_parse(NULL, 0, &c, NULL), 0);
	assert_false(c.has_code);
}

/* ---- the stream ------------------------------------------------------------------------------- */

/* The frames a stream queued, parsed the way the other side would. */
static size_t frames_in(const struct dc_buf *out, bool masked, uint8_t *opcodes, size_t max)
{
	size_t off = 0, n = 0;
	while (off < out->len && n < max) {
		struct dc_ws_frame f;
		size_t used;
		assert_int_equal(next((const uint8_t *)out->data + off, out->len - off, !masked, &f, &used, NULL), 1);
		opcodes[n++] = f.opcode;
		off += used;
	}
	return n;
}

static void test_stream_binary_messages_carry_the_derp_bytes(void **state)
{
	(void)state;
	struct dc_ws_stream s;
	dc_ws_stream_init(&s, false);
	struct dc_buf in = {0};
	dc_ws_put_frame(&in, DC_WS_BINARY, true, NULL, "\x01\x00\x00", 3);
	dc_ws_put_frame(&in, DC_WS_BINARY, true, NULL, "\x00\x28", 2); /* a DERP header split across messages */
	assert_int_equal(dc_ws_stream_feed(&s, in.data, in.len, NULL), 0);
	uint8_t got[8];
	assert_int_equal(dc_ws_stream_read(&s, got, sizeof(got)), 5);
	assert_memory_equal(got, "\x01\x00\x00\x00\x28", 5);
	assert_int_equal(s.messages, 2);
	dc_buf_free(&in);
	dc_ws_stream_free(&s);
}

static void test_stream_fragmented_message_with_a_ping_inside(void **state)
{
	(void)state;
	struct dc_ws_stream s;
	dc_ws_stream_init(&s, false);
	struct dc_buf in = {0};
	dc_ws_put_frame(&in, DC_WS_BINARY, false, NULL, "Hel", 3);
	dc_ws_put_frame(&in, DC_WS_PING, true, NULL, "p1", 2); /* control frames may sit between fragments */
	dc_ws_put_frame(&in, DC_WS_CONTINUATION, true, NULL, "lo", 2);
	/* byte by byte: frames split at every position come out the same */
	for (size_t i = 0; i < in.len; i++)
		assert_int_equal(dc_ws_stream_feed(&s, in.data + i, 1, NULL), 0);
	uint8_t got[8];
	assert_int_equal(dc_ws_stream_read(&s, got, sizeof(got)), 5);
	assert_memory_equal(got, "Hello", 5);
	assert_int_equal(s.pings, 1);
	uint8_t ops[4];
	assert_int_equal(frames_in(&s.out, true, ops, 4), 1);
	assert_int_equal(ops[0], DC_WS_PONG);
	/* the pong echoes the ping's payload, masked with the key it carries */
	struct dc_ws_frame f;
	size_t used;
	assert_int_equal(next((uint8_t *)s.out.data, s.out.len, false, &f, &used, NULL), 1);
	uint8_t p[2];
	memcpy(p, f.payload, 2);
	dc_ws_unmask(p, 2, f.mask, 0);
	assert_memory_equal(p, "p1", 2);
	dc_buf_free(&in);
	dc_ws_stream_free(&s);
}

static void expect_stream_violation(const struct dc_buf *in, const char *words, uint16_t close_code)
{
	struct dc_ws_stream s;
	dc_ws_stream_init(&s, false);
	struct dc_error err;
	assert_int_equal(dc_ws_stream_feed(&s, in->data, in->len, &err), -1);
	if (!strstr(err.what, words))
		fail_msg("\"%s\" does not say \"%s\"", err.what, words);
	assert_true(dc_ws_stream_ended(&s));
	/* the peer is told why with a close frame (§7.4.1) */
	struct dc_ws_frame f;
	size_t used;
	assert_int_equal(next((uint8_t *)s.out.data, s.out.len, false, &f, &used, NULL), 1);
	assert_int_equal(f.opcode, DC_WS_CLOSE);
	uint8_t code[2];
	memcpy(code, f.payload, 2);
	dc_ws_unmask(code, 2, f.mask, 0);
	assert_int_equal(code[0] << 8 | code[1], close_code);
	dc_ws_stream_free(&s);
}

static void test_stream_continuation_without_a_message_fails(void **state)
{
	(void)state;
	struct dc_buf in = {0};
	dc_ws_put_frame(&in, DC_WS_CONTINUATION, true, NULL, "x", 1);
	expect_stream_violation(&in, "no message to continue", 1002);
	dc_buf_free(&in);
}

static void test_stream_new_message_inside_a_fragmented_one_fails(void **state)
{
	(void)state;
	struct dc_buf in = {0};
	dc_ws_put_frame(&in, DC_WS_BINARY, false, NULL, "a", 1);
	dc_ws_put_frame(&in, DC_WS_BINARY, true, NULL, "b", 1);
	expect_stream_violation(&in, "before the fragmented one ended", 1002);
	dc_buf_free(&in);
}

static void test_stream_text_messages_are_unsupported_data(void **state)
{
	(void)state;
	struct dc_buf in = {0};
	dc_ws_put_frame(&in, DC_WS_TEXT, true, NULL, "hi", 2);
	expect_stream_violation(&in, "text message", 1003);
	dc_buf_free(&in);
}

static void test_stream_oversized_frame_is_message_too_big(void **state)
{
	(void)state;
	struct dc_buf in = {0};
	dc_buf_append(&in, (const uint8_t[]){0x82, 0x7f, 0, 0, 0, 0, 0x10, 0, 0, 0}, 10);
	expect_stream_violation(&in, "accepts at most", 1009);
	dc_buf_free(&in);
}

static void test_stream_close_is_echoed_and_ends_reading(void **state)
{
	(void)state;
	struct dc_ws_stream s;
	dc_ws_stream_init(&s, false);
	struct dc_buf in = {0};
	dc_ws_put_frame(&in, DC_WS_BINARY, true, NULL, "ab", 2);
	dc_ws_put_frame(&in, DC_WS_CLOSE, true, NULL, "\x03\xe9going", 7);
	dc_ws_put_frame(&in, DC_WS_BINARY, true, NULL, "zz", 2); /* after the close: ignored */
	assert_int_equal(dc_ws_stream_feed(&s, in.data, in.len, NULL), 0);
	assert_true(dc_ws_stream_ended(&s));
	assert_true(s.peer_close.received);
	assert_int_equal(s.peer_close.code, 1001);
	assert_string_equal(s.peer_close.reason, "going");
	uint8_t got[8];
	assert_int_equal(dc_ws_stream_read(&s, got, sizeof(got)), 2); /* data before the close still counts */
	uint8_t ops[4];
	assert_int_equal(frames_in(&s.out, true, ops, 4), 1);
	assert_int_equal(ops[0], DC_WS_CLOSE);
	dc_buf_free(&in);
	dc_ws_stream_free(&s);
}

static void test_stream_sends_masked_chunks_below_derpers_read_limit(void **state)
{
	(void)state;
	struct dc_ws_stream s;
	dc_ws_stream_init(&s, false);
	size_t n = 40000;
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7);
	dc_ws_stream_send(&s, p, n);
	/* read it back as derper would: three binary messages, none over 32768 bytes */
	struct dc_ws_stream server;
	dc_ws_stream_init(&server, true);
	assert_int_equal(dc_ws_stream_feed(&server, s.out.data, s.out.len, NULL), 0);
	assert_int_equal(server.messages, 3);
	assert_int_equal(dc_ws_stream_readable(&server), n);
	uint8_t *back = malloc(n);
	assert_int_equal(dc_ws_stream_read(&server, back, n), n);
	assert_memory_equal(back, p, n);
	size_t off = 0;
	while (off < s.out.len) {
		struct dc_ws_frame f;
		size_t used;
		assert_int_equal(next((uint8_t *)s.out.data + off, s.out.len - off, false, &f, &used, NULL), 1);
		assert_true(f.len <= DC_WS_SEND_CHUNK);
		off += used;
	}
	free(p);
	free(back);
	dc_ws_stream_free(&s);
	dc_ws_stream_free(&server);
}

static void test_stream_ping_flood_is_refused(void **state)
{
	(void)state;
	struct dc_ws_stream s;
	dc_ws_stream_init(&s, false);
	struct dc_buf in = {0};
	uint8_t p[125] = {0};
	for (int i = 0; i < 3000; i++)
		dc_ws_put_frame(&in, DC_WS_PING, true, NULL, p, sizeof(p));
	struct dc_error err;
	assert_int_equal(dc_ws_stream_feed(&s, in.data, in.len, &err), -1);
	assert_non_null(strstr(err.what, "pings faster"));
	dc_buf_free(&in);
	dc_ws_stream_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_matches_the_fips_vectors),
		cmocka_unit_test(test_key_is_base64_of_the_nonce),
		cmocka_unit_test(test_accept_value_is_the_rfc_example),
		cmocka_unit_test(test_request_headers_offer_derp_and_no_compression),
		cmocka_unit_test(test_answer_from_derper_is_accepted),
		cmocka_unit_test(test_answer_not_101_is_a_status),
		cmocka_unit_test(test_answer_with_upgrade_derp_means_the_subprotocol_was_dropped),
		cmocka_unit_test(test_answer_with_a_wrong_accept_is_refused),
		cmocka_unit_test(test_answer_without_the_derp_subprotocol_is_refused),
		cmocka_unit_test(test_answer_with_an_extension_not_offered_is_refused),
		cmocka_unit_test(test_rfc_unmasked_hello),
		cmocka_unit_test(test_rfc_masked_hello_unmasks),
		cmocka_unit_test(test_length_forms_are_the_shortest),
		cmocka_unit_test(test_partial_frames_ask_for_the_rest),
		cmocka_unit_test(test_reserved_bits_without_an_extension_fail),
		cmocka_unit_test(test_reserved_opcodes_fail),
		cmocka_unit_test(test_control_frames_are_never_fragmented_or_long),
		cmocka_unit_test(test_a_64_bit_length_with_the_top_bit_fails),
		cmocka_unit_test(test_masking_must_go_the_right_way),
		cmocka_unit_test(test_an_oversized_frame_fails_from_its_header),
		cmocka_unit_test(test_close_payload_code_and_reason),
		cmocka_unit_test(test_stream_binary_messages_carry_the_derp_bytes),
		cmocka_unit_test(test_stream_fragmented_message_with_a_ping_inside),
		cmocka_unit_test(test_stream_continuation_without_a_message_fails),
		cmocka_unit_test(test_stream_new_message_inside_a_fragmented_one_fails),
		cmocka_unit_test(test_stream_text_messages_are_unsupported_data),
		cmocka_unit_test(test_stream_oversized_frame_is_message_too_big),
		cmocka_unit_test(test_stream_close_is_echoed_and_ends_reading),
		cmocka_unit_test(test_stream_sends_masked_chunks_below_derpers_read_limit),
		cmocka_unit_test(test_stream_ping_flood_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
