/*
 * The DERP codec against byte vectors: frames of every type and their size rules, the
 * handshake sealed and opened with known keys (the NaCl crypto_box test vector, which
 * Go's nacl/box.Seal reproduces byte for byte), and the HTTP upgrade response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/derp.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void key_of(uint8_t key[32], uint8_t first)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(first + i);
}

/* ---- frames ----------------------------------------------------------------------- */

static void test_send_packet_frame_bytes(void **state)
{
	(void)state;
	uint8_t dst[32];
	key_of(dst, 0x10);
	struct dc_buf b = {0};
	dc_derp_put_send_packet(&b, dst, "hi", 2);
	assert_int_equal(b.len, 5 + 32 + 2);
	static const uint8_t hdr[] = {0x04, 0x00, 0x00, 0x00, 0x22};
	assert_memory_equal(b.data, hdr, 5);
	assert_memory_equal(b.data + 5, dst, 32);
	assert_memory_equal(b.data + 37, "hi", 2);
	dc_buf_free(&b);
}

static void test_server_key_frame_is_magic_then_key(void **state)
{
	(void)state;
	uint8_t key[32];
	key_of(key, 0xa0);
	struct dc_buf b = {0};
	dc_derp_put_server_key(&b, key);
	static const uint8_t want[] = {0x01, 0x00, 0x00, 0x00, 0x28, 0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91};
	assert_int_equal(b.len, 45);
	assert_memory_equal(b.data, want, sizeof(want));
	struct dc_derp_frame f;
	size_t used;
	assert_int_equal(dc_derp_frame_next((uint8_t *)b.data, b.len, 1024, &f, &used, NULL, NULL), 1);
	struct dc_derp_msg m;
	assert_int_equal(dc_derp_msg_decode(&f, &m, NULL), 0);
	assert_memory_equal(m.u.server_key.key, key, 32);
	dc_buf_free(&b);
}

static void test_frame_split_waits_for_whole_frame(void **state)
{
	(void)state;
	static const uint8_t two[] = {0x06, 0, 0, 0, 0, 0x13, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0xff};
	struct dc_derp_frame f;
	size_t used = 0, need = 0;
	assert_int_equal(dc_derp_frame_next(two, 3, DC_DERP_MAX_FRAME, &f, &used, &need, NULL), 0);
	assert_int_equal(need, 5);
	assert_int_equal(dc_derp_frame_next(two, sizeof(two), DC_DERP_MAX_FRAME, &f, &used, &need, NULL), 1);
	assert_int_equal(f.type, DC_DERP_KEEP_ALIVE);
	assert_int_equal(f.len, 0);
	assert_int_equal(used, 5);
	assert_int_equal(dc_derp_frame_next(two + 5, 10, DC_DERP_MAX_FRAME, &f, &used, &need, NULL), 0);
	assert_int_equal(need, 13);
	assert_int_equal(dc_derp_frame_next(two + 5, sizeof(two) - 5, DC_DERP_MAX_FRAME, &f, &used, &need, NULL), 1);
	assert_int_equal(f.type, DC_DERP_PONG);
	assert_int_equal(used, 13); /* the trailing 0xff starts the next frame */
}

static void test_oversize_frame_is_refused_from_its_header(void **state)
{
	(void)state;
	static const uint8_t hdr[] = {0x05, 0x00, 0x10, 0x00, 0x01}; /* 1 MiB + 1 */
	struct dc_derp_frame f;
	size_t used;
	struct dc_error err;
	assert_int_equal(dc_derp_frame_next(hdr, sizeof(hdr), DC_DERP_MAX_FRAME, &f, &used, NULL, &err), -1);
	assert_string_equal(err.what, "the server sent a RecvPacket (0x05) of 1048577 bytes; DERP frames here may be at most 1048576 bytes");
	static const uint8_t exact[] = {0x05, 0x00, 0x10, 0x00, 0x00};
	size_t need;
	assert_int_equal(dc_derp_frame_next(exact, sizeof(exact), DC_DERP_MAX_FRAME, &f, &used, &need, &err), 0);
	assert_int_equal(need, 5 + 1048576);
}

static int decode_bytes(const uint8_t *payload, uint32_t len, uint8_t type, struct dc_derp_msg *m, struct dc_error *err)
{
	struct dc_derp_frame f = {.type = type, .len = len, .payload = payload};
	return dc_derp_msg_decode(&f, m, err);
}

static void test_bad_magic_is_named(void **state)
{
	(void)state;
	uint8_t p[40] = "HTTP/1.1";
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(decode_bytes(p, sizeof(p), DC_DERP_SERVER_KEY, &m, &err), -1);
	assert_string_equal(err.what, "the ServerKey frame starts with 48 54 54 50 2f 31 2e 31, not the DERP magic 44 45 52 50 f0 9f 94 91 (\"DERP\xf0\x9f\x94\x91\")");
	assert_int_equal(decode_bytes(p, 39, DC_DERP_SERVER_KEY, &m, &err), -1);
	assert_string_equal(err.what, "the ServerKey frame has 39 bytes; it needs at least 40 (magic and key)");
}

static void test_server_key_tolerates_future_bytes(void **state)
{
	(void)state;
	uint8_t p[48];
	memcpy(p, DC_DERP_MAGIC, 8);
	key_of(p + 8, 1);
	memset(p + 40, 0xee, 8);
	struct dc_derp_msg m;
	assert_int_equal(decode_bytes(p, sizeof(p), DC_DERP_SERVER_KEY, &m, NULL), 0);
	assert_int_equal(m.u.server_key.key[0], 1);
	assert_int_equal(m.u.server_key.key[31], 32);
}

static void test_recv_packet_carries_source_and_bytes(void **state)
{
	(void)state;
	uint8_t src[32];
	key_of(src, 0x40);
	struct dc_buf b = {0};
	dc_derp_put_recv_packet(&b, src, "payload", 7);
	struct dc_derp_frame f;
	size_t used;
	assert_int_equal(dc_derp_frame_next((uint8_t *)b.data, b.len, DC_DERP_MAX_FRAME, &f, &used, NULL, NULL), 1);
	struct dc_derp_msg m;
	assert_int_equal(dc_derp_msg_decode(&f, &m, NULL), 0);
	assert_true(m.known);
	assert_memory_equal(m.u.packet.key, src, 32);
	assert_int_equal(m.u.packet.len, 7);
	assert_memory_equal(m.u.packet.data, "payload", 7);
	dc_buf_free(&b);
}

static void test_packet_size_limits(void **state)
{
	(void)state;
	uint8_t *p = calloc(1, 64 + 65537);
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(decode_bytes(p, 31, DC_DERP_RECV_PACKET, &m, &err), -1);
	assert_string_equal(err.what, "malformed RecvPacket (0x05): 31 bytes, but it needs a 32-byte key");
	assert_int_equal(decode_bytes(p, 32, DC_DERP_SEND_PACKET, &m, &err), 0); /* empty packet is fine */
	assert_int_equal(m.u.packet.len, 0);
	assert_int_equal(decode_bytes(p, 32 + 65536, DC_DERP_SEND_PACKET, &m, &err), 0);
	assert_int_equal(decode_bytes(p, 32 + 65537, DC_DERP_SEND_PACKET, &m, &err), -1);
	assert_string_equal(err.what, "malformed SendPacket (0x04): 65569 bytes, but a relayed packet is at most 65536 bytes");
	assert_int_equal(decode_bytes(p, 63, DC_DERP_FORWARD_PACKET, &m, &err), -1);
	assert_int_equal(decode_bytes(p, 64 + 65536, DC_DERP_FORWARD_PACKET, &m, &err), 0);
	assert_int_equal(decode_bytes(p, 64 + 65537, DC_DERP_FORWARD_PACKET, &m, &err), -1);
	free(p);
}

static void test_forward_packet_has_both_keys(void **state)
{
	(void)state;
	uint8_t src[32], dst[32];
	key_of(src, 1);
	key_of(dst, 100);
	struct dc_buf b = {0};
	dc_derp_put_forward_packet(&b, src, dst, "x", 1);
	assert_int_equal(b.len, 5 + 65);
	struct dc_derp_msg m;
	assert_int_equal(decode_bytes((uint8_t *)b.data + 5, 65, DC_DERP_FORWARD_PACKET, &m, NULL), 0);
	assert_memory_equal(m.u.forward.src, src, 32);
	assert_memory_equal(m.u.forward.dst, dst, 32);
	assert_int_equal(m.u.forward.len, 1);
	dc_buf_free(&b);
}

static void test_peer_gone_reason_defaults_to_disconnected(void **state)
{
	(void)state;
	uint8_t p[33];
	key_of(p, 7);
	p[32] = DC_DERP_GONE_NOT_HERE;
	struct dc_derp_msg m;
	assert_int_equal(decode_bytes(p, 33, DC_DERP_PEER_GONE, &m, NULL), 0);
	assert_int_equal(m.u.peer_gone.reason, DC_DERP_GONE_NOT_HERE);
	assert_int_equal(decode_bytes(p, 32, DC_DERP_PEER_GONE, &m, NULL), 0);
	assert_int_equal(m.u.peer_gone.reason, DC_DERP_GONE_DISCONNECTED);
	struct dc_error err;
	assert_int_equal(decode_bytes(p, 31, DC_DERP_PEER_GONE, &m, &err), -1);
}

static void test_peer_present_old_and_new_forms(void **state)
{
	(void)state;
	uint8_t key[32], ip[16] = {0};
	key_of(key, 9);
	ip[10] = ip[11] = 0xff;
	ip[12] = 192, ip[13] = 0, ip[14] = 2, ip[15] = 1;
	struct dc_buf b = {0};
	dc_derp_put_peer_present(&b, key, ip, 41641, DC_DERP_PRESENT_REGULAR);
	assert_int_equal(b.len, 5 + 51);
	struct dc_derp_msg m;
	assert_int_equal(decode_bytes((uint8_t *)b.data + 5, 51, DC_DERP_PEER_PRESENT, &m, NULL), 0);
	assert_true(m.u.peer_present.has_addr && m.u.peer_present.has_flags);
	assert_int_equal(m.u.peer_present.port, 41641);
	assert_int_equal(m.u.peer_present.flags, 1);
	assert_int_equal(decode_bytes((uint8_t *)b.data + 5, 50, DC_DERP_PEER_PRESENT, &m, NULL), 0);
	assert_true(m.u.peer_present.has_addr);
	assert_false(m.u.peer_present.has_flags);
	assert_int_equal(decode_bytes((uint8_t *)b.data + 5, 32, DC_DERP_PEER_PRESENT, &m, NULL), 0);
	assert_false(m.u.peer_present.has_addr);
	dc_buf_free(&b);
}

static void test_ping_accepts_8_to_1000_bytes(void **state)
{
	(void)state;
	uint8_t p[1001] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(decode_bytes(p, 8, DC_DERP_PING, &m, NULL), 0);
	assert_memory_equal(m.u.ping.data, p, 8);
	assert_int_equal(decode_bytes(p, 1000, DC_DERP_PONG, &m, NULL), 0);
	assert_int_equal(decode_bytes(p, 7, DC_DERP_PING, &m, &err), -1);
	assert_string_equal(err.what, "malformed Ping (0x12): 7 bytes, but it must hold 8 to 1000 bytes");
	assert_int_equal(decode_bytes(p, 1001, DC_DERP_PING, &m, &err), -1);
	struct dc_buf b = {0};
	dc_derp_put_ping(&b, DC_DERP_PONG, p);
	static const uint8_t want[] = {0x13, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	dc_buf_free(&b);
}

static void test_health_restarting_and_control_frames(void **state)
{
	(void)state;
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(decode_bytes((const uint8_t *)"overloaded", 10, DC_DERP_HEALTH, &m, NULL), 0);
	assert_int_equal(m.u.health.len, 10);
	assert_memory_equal(m.u.health.text, "overloaded", 10);
	assert_int_equal(decode_bytes(NULL, 0, DC_DERP_HEALTH, &m, NULL), 0); /* healthy again */
	assert_int_equal(m.u.health.len, 0);

	struct dc_buf b = {0};
	dc_derp_put_restarting(&b, 500, 10000);
	static const uint8_t want[] = {0x15, 0, 0, 0, 8, 0, 0, 0x01, 0xf4, 0, 0, 0x27, 0x10};
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(decode_bytes((uint8_t *)b.data + 5, 8, DC_DERP_RESTARTING, &m, NULL), 0);
	assert_int_equal(m.u.restarting.reconnect_ms, 500);
	assert_int_equal(m.u.restarting.try_for_ms, 10000);
	assert_int_equal(decode_bytes((uint8_t *)b.data + 5, 7, DC_DERP_RESTARTING, &m, &err), -1);
	dc_buf_free(&b);

	uint8_t one = 1;
	assert_int_equal(decode_bytes(&one, 1, DC_DERP_NOTE_PREFERRED, &m, NULL), 0);
	assert_true(m.u.note_preferred.preferred);
	assert_int_equal(decode_bytes(&one, 0, DC_DERP_NOTE_PREFERRED, &m, &err), -1);
	assert_int_equal(decode_bytes(&one, 1, DC_DERP_WATCH_CONNS, &m, &err), -1);
	assert_int_equal(decode_bytes(NULL, 0, DC_DERP_WATCH_CONNS, &m, NULL), 0);
	uint8_t key[33] = {0};
	assert_int_equal(decode_bytes(key, 32, DC_DERP_CLOSE_PEER, &m, NULL), 0);
	assert_int_equal(decode_bytes(key, 33, DC_DERP_CLOSE_PEER, &m, &err), -1);
	assert_int_equal(decode_bytes(key, 33, DC_DERP_KEEP_ALIVE, &m, NULL), 0);
}

static void test_unknown_types_are_skipped_not_errors(void **state)
{
	(void)state;
	struct dc_derp_msg m;
	uint8_t p[3] = {1, 2, 3};
	for (int t = 0; t < 256; t++) {
		if (dc_derp_frame_name((uint8_t)t))
			continue;
		assert_int_equal(decode_bytes(p, 3, (uint8_t)t, &m, NULL), 0);
		assert_false(m.known);
	}
	assert_null(dc_derp_frame_name(0x0b)); /* the gap 0x0b-0x0f */
	assert_null(dc_derp_frame_name(0x0f));
	assert_string_equal(dc_derp_frame_name(0x15), "Restarting");
}

/* ---- handshake ----------------------------------------------------------------------- */

/* RFC 7748 §6.1 keys and the NaCl crypto_box test vector (libsodium test/default/box). */
static const char alice_sk_hex[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pk_hex[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_sk_hex[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pk_hex[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char nonce_hex[] = "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37";
static const char msg_hex[] =
	"be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c6129"
	"6cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde"
	"048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705";
static const char boxed_hex[] =
	"f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186a"
	"c0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae"
	"90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74"
	"e355a5";

struct vec {
	uint8_t alice_sk[32], alice_pk[32], bob_sk[32], bob_pk[32], nonce[24], msg[131], boxed[147];
};

static void load_vec(struct vec *v)
{
	unhex(alice_sk_hex, v->alice_sk, 32);
	unhex(alice_pk_hex, v->alice_pk, 32);
	unhex(bob_sk_hex, v->bob_sk, 32);
	unhex(bob_pk_hex, v->bob_pk, 32);
	unhex(nonce_hex, v->nonce, 24);
	unhex(msg_hex, v->msg, 131);
	unhex(boxed_hex, v->boxed, 147);
}

static void test_vector_keys_are_consistent(void **state)
{
	(void)state;
	struct vec v;
	load_vec(&v);
	uint8_t pk[32];
	crypto_scalarmult_base(pk, v.alice_sk);
	assert_memory_equal(pk, v.alice_pk, 32);
	crypto_scalarmult_base(pk, v.bob_sk);
	assert_memory_equal(pk, v.bob_pk, 32);
}

static void test_client_info_seal_matches_nacl_vector(void **state)
{
	(void)state;
	struct vec v;
	load_vec(&v);
	struct dc_buf b = {0};
	/* Client = Alice, server = Bob. */
	assert_int_equal(dc_derp_client_info_seal(&b, v.alice_pk, v.alice_sk, v.bob_pk, v.nonce, v.msg, 131), 0);
	assert_int_equal(b.len, 5 + 32 + 24 + 147);
	static const uint8_t hdr[] = {0x02, 0x00, 0x00, 0x00, 203};
	assert_memory_equal(b.data, hdr, 5);
	assert_memory_equal(b.data + 5, v.alice_pk, 32);
	assert_memory_equal(b.data + 37, v.nonce, 24);
	assert_memory_equal(b.data + 61, v.boxed, 147); /* tag then ciphertext, as Go's box.Seal */

	uint8_t client_pk[32];
	char *msg = NULL;
	size_t n = 0;
	assert_int_equal(dc_derp_client_info_open((uint8_t *)b.data + 5, b.len - 5, v.bob_sk, client_pk, &msg, &n, NULL), 0);
	assert_memory_equal(client_pk, v.alice_pk, 32);
	assert_int_equal(n, 131);
	assert_memory_equal(msg, v.msg, 131);
	free(msg);

	/* One flipped bit anywhere in the box: refused. */
	b.data[100] ^= 1;
	struct dc_error err;
	assert_int_equal(dc_derp_client_info_open((uint8_t *)b.data + 5, b.len - 5, v.bob_sk, client_pk, &msg, &n, &err), -1);
	assert_string_equal(err.what, "ClientInfo does not open with the client's key and this server's key");
	assert_int_equal(dc_derp_client_info_open((uint8_t *)b.data + 5, 71, v.bob_sk, client_pk, &msg, &n, &err), -1);
	dc_buf_free(&b);
}

static void test_server_info_round_trip_and_wrong_key(void **state)
{
	(void)state;
	struct vec v;
	load_vec(&v);
	struct dc_buf b = {0};
	static const char json[] = "{\"version\":2}";
	/* Server = Bob seals to client = Alice. Same shared key as above, so same box bytes. */
	assert_int_equal(dc_derp_server_info_seal(&b, v.bob_sk, v.alice_pk, v.nonce, v.msg, 131), 0);
	assert_int_equal(b.len, 5 + 24 + 147);
	assert_memory_equal(b.data + 29, v.boxed, 147);
	dc_buf_free(&b);

	assert_int_equal(dc_derp_server_info_seal(&b, v.bob_sk, v.alice_pk, v.nonce, json, strlen(json)), 0);
	char *msg;
	size_t n;
	assert_int_equal(dc_derp_server_info_open((uint8_t *)b.data + 5, b.len - 5, v.bob_pk, v.alice_sk, &msg, &n, NULL), 0);
	assert_string_equal(msg, json);
	struct dc_derp_server_info info;
	assert_int_equal(dc_derp_server_info_parse(msg, n, &info, NULL), 0);
	assert_int_equal(info.version, 2);
	assert_int_equal(info.token_bucket_bytes_per_second, 0);
	free(msg);
	/* Opened with another server key (e.g. a different ServerKey frame): refused. */
	struct dc_error err;
	assert_int_equal(dc_derp_server_info_open((uint8_t *)b.data + 5, b.len - 5, v.alice_pk, v.alice_sk, &msg, &n, &err), -1);
	assert_int_equal(dc_derp_server_info_open((uint8_t *)b.data + 5, 39, v.bob_pk, v.alice_sk, &msg, &n, &err), -1);
	dc_buf_free(&b);
}

static void test_client_info_json_as_go_writes_it(void **state)
{
	(void)state;
	struct dc_derp_client_info ci = {.version = 2, .can_ack_pings = true};
	char *s = dc_derp_client_info_json(&ci);
	assert_string_equal(s, "{\"version\":2,\"CanAckPings\":true}");
	free(s);
	uint8_t mesh[32];
	key_of(mesh, 0);
	ci.is_prober = true;
	ci.app_name = "derpcheck";
	ci.mesh_key = mesh;
	s = dc_derp_client_info_json(&ci);
	assert_string_equal(s, "{\"version\":2,\"CanAckPings\":true,\"IsProber\":true,\"AppName\":\"derpcheck\","
			       "\"meshKey\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}");
	struct dc_derp_client_info_in in;
	assert_int_equal(dc_derp_client_info_parse(s, strlen(s), &in, NULL), 0);
	assert_int_equal(in.version, 2);
	assert_true(in.can_ack_pings && in.is_prober && in.has_mesh_key);
	assert_memory_equal(in.mesh_key, mesh, 32);
	free(s);
}

/* derper compares the meshKey text with its file's (derp_server.go): sent as the file holds it. */
static void test_client_info_sends_the_mesh_key_text_verbatim(void **state)
{
	(void)state;
	uint8_t mesh[32];
	key_of(mesh, 0);
	const char *text = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ff";
	struct dc_derp_client_info ci = {.version = 2, .can_ack_pings = true, .mesh_key = mesh, .mesh_key_text = text};
	char *s = dc_derp_client_info_json(&ci);
	assert_string_equal(s, "{\"version\":2,\"CanAckPings\":true,\"meshKey\":\"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ff\"}");
	free(s);
}

static void test_client_info_parse_rules_of_the_server(void **state)
{
	(void)state;
	struct dc_derp_client_info_in in;
	struct dc_error err;
	static const char upper[] = "{\"VERSION\":2,\"canackpings\":true}";
	assert_int_equal(dc_derp_client_info_parse(upper, strlen(upper), &in, NULL), 0);
	assert_int_equal(in.version, 2);
	assert_true(in.can_ack_pings);
	assert_false(in.has_mesh_key);
	static const char empty_key[] = "{\"version\":2,\"meshKey\":\"\"}";
	assert_int_equal(dc_derp_client_info_parse(empty_key, strlen(empty_key), &in, &err), -1);
	assert_string_equal(err.what, "meshKey is not 64 hex digits");
	static const char null_key[] = "{\"meshKey\":null}";
	assert_int_equal(dc_derp_client_info_parse(null_key, strlen(null_key), &in, &err), -1);
	static const char bad_version[] = "{\"version\":\"2\"}";
	assert_int_equal(dc_derp_client_info_parse(bad_version, strlen(bad_version), &in, &err), -1);
	assert_int_equal(dc_derp_client_info_parse("[]", 2, &in, &err), -1);
	assert_string_equal(err.what, "ClientInfo is not a JSON object");
}

static void test_server_info_token_bucket(void **state)
{
	(void)state;
	static const char json[] = "{\"version\":2,\"TokenBucketBytesPerSecond\":1000000,\"TokenBucketBytesBurst\":65568}";
	struct dc_derp_server_info info;
	assert_int_equal(dc_derp_server_info_parse(json, strlen(json), &info, NULL), 0);
	assert_int_equal(info.token_bucket_bytes_per_second, 1000000);
	assert_int_equal(info.token_bucket_bytes_burst, 65568);
	struct dc_error err;
	assert_int_equal(dc_derp_server_info_parse("{\"version\":2.5}", 15, &info, &err), -1);
	assert_string_equal(err.what, "\"version\" is not an integer");
	/* Beyond int64: refused like Go's encoding/json does, never converted (undefined in C). */
	static const char huge[] = "{\"version\":2,\"TokenBucketBytesPerSecond\":1e300}";
	assert_int_equal(dc_derp_server_info_parse(huge, strlen(huge), &info, &err), -1);
	assert_string_equal(err.what, "\"TokenBucketBytesPerSecond\" is not an integer");
	assert_int_equal(dc_derp_server_info_parse("not json", 8, &info, &err), -1);
}

/* ---- keys ----------------------------------------------------------------------------- */

static void test_key_text_forms(void **state)
{
	(void)state;
	uint8_t key[32];
	key_of(key, 0xe0);
	char hex[65];
	dc_derp_key_hex(key, hex);
	assert_string_equal(hex, "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	uint8_t back[32];
	assert_int_equal(dc_derp_key_parse(hex, 64, back), 0);
	assert_memory_equal(back, key, 32);
	char typed[80] = "nodekey:";
	strcat(typed, hex);
	for (char *p = typed + 8; *p; p++)
		*p = (char)(*p >= 'a' ? *p - 32 : *p); /* uppercase is accepted */
	assert_int_equal(dc_derp_key_parse(typed, strlen(typed), back), 0);
	assert_memory_equal(back, key, 32);
	assert_int_equal(dc_derp_key_parse(hex, 63, back), -1);
	hex[5] = 'g';
	assert_int_equal(dc_derp_key_parse(hex, 64, back), -1);

	uint8_t zero[32] = {0};
	char s[8];
	dc_derp_key_short(zero, s);
	assert_string_equal(s, "[AAAAA]");
	dc_derp_key_short(key, s);
	assert_string_equal(s, "[4OHi4]"); /* base64 of e0 e1 e2 e3 ... */
}

static void test_disco_detection(void **state)
{
	(void)state;
	uint8_t p[62] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
	assert_true(dc_derp_looks_like_disco(p, 62));
	assert_false(dc_derp_looks_like_disco(p, 61));
	p[0] = 'X';
	assert_false(dc_derp_looks_like_disco(p, 62));
}

/* ---- upgrade response ------------------------------------------------------------------- */

static void test_upgrade_101_keeps_bytes_after_the_header(void **state)
{
	(void)state;
	static const char resp[] =
		"HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: DERP\r\n"
		"Connection: Upgrade\r\n"
		"Derp-Version: 2\r\n"
		"Derp-Public-Key: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n"
		"\r\n"
		"\x01\x00\x00\x00\x28" "DERP";
	struct dc_derp_upgrade u;
	size_t len = sizeof(resp) - 1;
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)resp, len, &u, NULL), 1);
	assert_int_equal(u.status, 101);
	assert_string_equal(u.reason, "Switching Protocols");
	assert_string_equal(u.upgrade, "DERP");
	assert_string_equal(u.connection, "Upgrade");
	assert_int_equal(u.derp_version, 2);
	assert_true(u.has_public_key);
	assert_int_equal(u.public_key[31], 31);
	assert_int_equal(u.header_len, len - 9);
	assert_memory_equal(resp + u.header_len, "\x01\x00\x00\x00\x28", 5);
	/* Every strict prefix is "need more". */
	for (size_t n = 0; n < u.header_len; n++)
		assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)resp, n, &u, NULL), 0);
}

static void test_upgrade_other_status_and_headers(void **state)
{
	(void)state;
	static const char resp[] = "HTTP/1.1 404 Not Found\r\ncontent-length: 21\r\nLocation:  /x \r\n\r\nderp server disabled\n";
	struct dc_derp_upgrade u;
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)resp, sizeof(resp) - 1, &u, NULL), 1);
	assert_int_equal(u.status, 404);
	assert_string_equal(u.reason, "Not Found");
	assert_int_equal(u.content_length, 21);
	assert_string_equal(u.location, "/x");
	assert_int_equal(u.derp_version, -1);
	assert_false(u.has_public_key);
	static const char bare[] = "HTTP/1.0 426\r\n\r\n";
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)bare, sizeof(bare) - 1, &u, NULL), 1);
	assert_int_equal(u.status, 426);
	assert_string_equal(u.reason, "");
}

static void test_upgrade_garbage_fails_at_once(void **state)
{
	(void)state;
	struct dc_derp_upgrade u;
	struct dc_error err;
	static const uint8_t tls_alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50};
	assert_int_equal(dc_derp_upgrade_parse(tls_alert, sizeof(tls_alert), &u, &err), -1);
	assert_string_equal(err.what, "the answer to the DERP upgrade is not HTTP: it starts with \"??????P\"");
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2";
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)ssh, 3, &u, &err), -1);
	static const char status[] = "HTTP/1.1 2x0 OK\r\n\r\n";
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)status, sizeof(status) - 1, &u, &err), -1);
	assert_string_equal(err.what, "the answer to the DERP upgrade is not an HTTP/1.1 status line: \"HTTP/1.1 2x0 OK\"");
	static const char nocolon[] = "HTTP/1.1 101 OK\r\nUpgrade DERP\r\n\r\n";
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)nocolon, sizeof(nocolon) - 1, &u, &err), -1);
	assert_string_equal(err.what, "the answer to the DERP upgrade has a malformed header line: \"Upgrade DERP\"");
	static const char folded[] = "HTTP/1.1 101 OK\r\n folded: x\r\n\r\n";
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)folded, sizeof(folded) - 1, &u, &err), -1);
	static const char bare_lf[] = "HTTP/1.1 101 OK\r\nA: b\nC: d\r\n\r\n";
	assert_int_equal(dc_derp_upgrade_parse((const uint8_t *)bare_lf, sizeof(bare_lf) - 1, &u, &err), -1);
}

static void test_upgrade_header_has_a_size_limit(void **state)
{
	(void)state;
	size_t n = DC_DERP_UPGRADE_MAX + 10;
	uint8_t *p = malloc(n);
	memset(p, 'a', n);
	memcpy(p, "HTTP/1.1 101 OK\r\nX: ", 20);
	struct dc_derp_upgrade u;
	struct dc_error err;
	assert_int_equal(dc_derp_upgrade_parse(p, DC_DERP_UPGRADE_MAX - 1, &u, &err), 0);
	assert_int_equal(dc_derp_upgrade_parse(p, n, &u, &err), -1);
	assert_string_equal(err.what, "the answer to the DERP upgrade has no end of header within 8192 bytes");
	free(p);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_packet_frame_bytes),
		cmocka_unit_test(test_server_key_frame_is_magic_then_key),
		cmocka_unit_test(test_frame_split_waits_for_whole_frame),
		cmocka_unit_test(test_oversize_frame_is_refused_from_its_header),
		cmocka_unit_test(test_bad_magic_is_named),
		cmocka_unit_test(test_server_key_tolerates_future_bytes),
		cmocka_unit_test(test_recv_packet_carries_source_and_bytes),
		cmocka_unit_test(test_packet_size_limits),
		cmocka_unit_test(test_forward_packet_has_both_keys),
		cmocka_unit_test(test_peer_gone_reason_defaults_to_disconnected),
		cmocka_unit_test(test_peer_present_old_and_new_forms),
		cmocka_unit_test(test_ping_accepts_8_to_1000_bytes),
		cmocka_unit_test(test_health_restarting_and_control_frames),
		cmocka_unit_test(test_unknown_types_are_skipped_not_errors),
		cmocka_unit_test(test_vector_keys_are_consistent),
		cmocka_unit_test(test_client_info_seal_matches_nacl_vector),
		cmocka_unit_test(test_server_info_round_trip_and_wrong_key),
		cmocka_unit_test(test_client_info_json_as_go_writes_it),
		cmocka_unit_test(test_client_info_sends_the_mesh_key_text_verbatim),
		cmocka_unit_test(test_client_info_parse_rules_of_the_server),
		cmocka_unit_test(test_server_info_token_bucket),
		cmocka_unit_test(test_key_text_forms),
		cmocka_unit_test(test_disco_detection),
		cmocka_unit_test(test_upgrade_101_keeps_bytes_after_the_header),
		cmocka_unit_test(test_upgrade_other_status_and_headers),
		cmocka_unit_test(test_upgrade_garbage_fails_at_once),
		cmocka_unit_test(test_upgrade_header_has_a_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
