/*
 * The ICMPv4 echo codec and parser (src/probe/icmp.c): the Internet checksum, echo
 * requests and replies as Tailscale's net/ping builds them, IPv4 headers in front (raw
 * sockets) or not (ping sockets), quoted requests in ICMP errors, and every way a
 * message can be cut short or lie about its lengths. Plus one live run with no socket
 * allowed, which must say why nothing was measured.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/probe/icmp.h"

/* A 20-byte IPv4 header for an ICMP payload of n bytes, 10.0.0.1 -> 10.0.0.2. */
static size_t ip_header(uint8_t *out, size_t payload, uint8_t proto)
{
	uint8_t h[20] = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
	size_t total = 20 + payload;
	h[2] = (uint8_t)(total >> 8);
	h[3] = (uint8_t)total;
	memcpy(out, h, sizeof(h));
	return sizeof(h);
}

static void test_checksum_is_rfc1071(void **state)
{
	(void)state;
	/* RFC 1071 §3's example: the one's complement sum is 0xddf2, so the checksum is 0x220d. */
	const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(dc_icmp_checksum(b, sizeof(b)), 0x220d);
	/* An odd length pads with a zero byte. */
	const uint8_t odd[] = {0x01};
	assert_int_equal(dc_icmp_checksum(odd, 1), 0xfeff);
}

static void test_echo_request_is_tailscales_layout(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = dc_icmp_echo_request(0x1234, 7, "900a", 4, b, sizeof(b));
	assert_int_equal(n, 12);
	const uint8_t want[] = {8, 0, 0, 0, 0x12, 0x34, 0, 7, '9', '0', '0', 'a'};
	assert_memory_equal(b + 4, want + 4, 8);
	assert_int_equal(b[0], 8);
	assert_int_equal(b[1], 0);
	assert_int_equal(dc_icmp_checksum(b, n), 0); /* a correct checksum sums to zero */
}

static void test_echo_that_does_not_fit_is_refused(void **state)
{
	(void)state;
	uint8_t b[10];
	assert_int_equal(dc_icmp_echo_request(1, 1, "too long", 8, b, sizeof(b)), 0);
}

static void test_reply_without_ip_header_parses(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = dc_icmp_echo_reply(0xbeef, 3, "node", 4, b, sizeof(b));
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, n, false, &m, &err), 0);
	assert_false(m.has_ip);
	assert_int_equal(m.type, DC_ICMP_ECHO_REPLY);
	assert_true(m.checksum_ok);
	assert_int_equal(m.id, 0xbeef);
	assert_int_equal(m.seq, 3);
	assert_int_equal(m.data_len, 4);
	assert_memory_equal(m.data, "node", 4);
}

static void test_reply_with_ip_header_gives_the_addresses(void **state)
{
	(void)state;
	uint8_t b[128];
	size_t icmp = dc_icmp_echo_reply(1, 2, "x", 1, b + 20, sizeof(b) - 20);
	ip_header(b, icmp, 1);
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, 20 + icmp, true, &m, &err), 0);
	assert_true(m.has_ip);
	char a[DC_ENDPOINT_STRLEN];
	assert_string_equal(dc_ip_format(&m.ip_src, a, sizeof(a)), "10.0.0.1");
	assert_string_equal(dc_ip_format(&m.ip_dst, a, sizeof(a)), "10.0.0.2");
	assert_int_equal(m.seq, 2);
	assert_true(m.checksum_ok);
}

static void test_ip_options_are_skipped(void **state)
{
	(void)state;
	uint8_t b[128];
	size_t icmp = dc_icmp_echo_reply(1, 2, "x", 1, b + 24, sizeof(b) - 24);
	ip_header(b, icmp + 4, 1);
	b[0] = 0x46; /* IHL 6: four bytes of options */
	memset(b + 20, 1, 4); /* NOPs */
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, 24 + icmp, true, &m, &err), 0);
	assert_int_equal(m.seq, 2);
}

static void test_bad_checksum_is_reported_not_trusted(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = dc_icmp_echo_reply(1, 1, "abc", 3, b, sizeof(b));
	b[n - 1] ^= 0xff;
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, n, false, &m, &err), 0);
	assert_false(m.checksum_ok);
}

static const char *parse_error(const uint8_t *b, size_t n, bool with_ip)
{
	static struct dc_error err;
	struct dc_icmp_msg m;
	memset(&err, 0, sizeof(err));
	return dc_icmp_parse(b, n, with_ip, &m, &err) < 0 ? err.what : "";
}

static void test_truncated_messages_are_refused(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = dc_icmp_echo_reply(1, 1, "", 0, b, sizeof(b));
	assert_string_equal(parse_error(b, n - 1, false), "ICMP message of 7 bytes, shorter than its 8-byte header");
	assert_string_equal(parse_error(b, 0, false), "ICMP message of 0 bytes, shorter than its 8-byte header");
	uint8_t ip[40];
	ip_header(ip, 8, 1);
	assert_string_equal(parse_error(ip, 19, true), "IPv4 header cut short");
}

static void test_lying_ip_lengths_are_refused(void **state)
{
	(void)state;
	uint8_t b[64] = {0};
	ip_header(b, 8, 1);
	b[0] = 0x4f; /* IHL 15 = 60 bytes, but only 28 are there */
	assert_string_equal(parse_error(b, 28, true), "IPv4 header length 60 does not fit");
	ip_header(b, 8, 1);
	b[0] = 0x44; /* IHL 4 = 16 bytes: less than the fixed header */
	assert_string_equal(parse_error(b, 28, true), "IPv4 header length 16 does not fit");
	ip_header(b, 200, 1); /* Total Length 220 for 28 bytes read */
	assert_string_equal(parse_error(b, 28, true), "IPv4 total length 220 does not fit the 28 bytes read");
	ip_header(b, 8, 1);
	b[0] = 0x65;
	assert_string_equal(parse_error(b, 28, true), "IP version 6, not 4");
	ip_header(b, 8, 17);
	assert_string_equal(parse_error(b, 28, true), "IP protocol 17, not ICMP");
}

static void test_padding_after_total_length_is_ignored(void **state)
{
	(void)state;
	uint8_t b[64] = {0};
	size_t icmp = dc_icmp_echo_reply(5, 6, "ab", 2, b + 20, sizeof(b) - 20);
	ip_header(b, icmp, 1);
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, 20 + icmp + 6, true, &m, &err), 0); /* Ethernet padding */
	assert_int_equal(m.data_len, 2);
	assert_true(m.checksum_ok);
}

static void test_unreachable_quotes_our_echo(void **state)
{
	(void)state;
	/* outer IPv4 | type 3 code 1 | unused | quoted IPv4 (to 10.0.0.2) | first 8 bytes of our echo */
	uint8_t b[128] = {0};
	size_t off = 20;
	uint8_t *icmp = b + off;
	icmp[0] = DC_ICMP_DEST_UNREACH;
	icmp[1] = 1;
	ip_header(icmp + 8, 8, 1);
	dc_icmp_echo_request(0x4242, 9, "", 0, icmp + 28, 8);
	size_t icmp_len = 8 + 20 + 8;
	icmp[2] = 0, icmp[3] = 0;
	uint16_t c = dc_icmp_checksum(icmp, icmp_len);
	icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
	ip_header(b, icmp_len, 1);
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, off + icmp_len, true, &m, &err), 0);
	assert_int_equal(m.type, DC_ICMP_DEST_UNREACH);
	assert_int_equal(m.code, 1);
	assert_true(m.checksum_ok);
	assert_true(m.quotes_echo);
	assert_int_equal(m.quoted_id, 0x4242);
	assert_int_equal(m.quoted_seq, 9);
	char a[DC_ENDPOINT_STRLEN];
	assert_string_equal(dc_ip_format(&m.quoted_dst, a, sizeof(a)), "10.0.0.2");
	/* Cut inside the quoted echo: still a valid error, but nothing of ours to match. */
	ip_header(b, icmp_len - 4, 1);
	assert_int_equal(dc_icmp_parse(b, off + icmp_len - 4, true, &m, &err), 0);
	assert_false(m.quotes_echo);
}

static void test_unknown_types_parse_without_fields(void **state)
{
	(void)state;
	uint8_t b[8] = {13, 0, 0, 0, 0, 0, 0, 0}; /* timestamp request */
	struct dc_icmp_msg m;
	struct dc_error err;
	assert_int_equal(dc_icmp_parse(b, sizeof(b), false, &m, &err), 0);
	assert_int_equal(m.type, 13);
	assert_false(m.quotes_echo);
	assert_int_equal(m.data_len, 0);
}

static void test_no_socket_allowed_says_why_and_sends_nothing(void **state)
{
	(void)state;
	struct dc_icmp_target t = {.payload = "900a"};
	dc_ip_parse("127.0.0.1", 4, &t.addr);
	struct dc_icmp_opts o = {.no_dgram = true, .no_raw = true};
	struct dc_icmp_run run;
	dc_icmp_ping(&t, 1, dc_now_ns() + 100000000u, &o, &run);
	assert_int_equal(run.socket, DC_ICMP_SOCKET_NONE);
	assert_string_equal(run.skipped, "no ICMP socket: unprivileged ICMP sockets: not tried; raw sockets: not tried");
	assert_false(t.sent);
	assert_false(t.ok);
	assert_string_equal(t.error, "not sent: no ICMP socket: unprivileged ICMP sockets: not tried; raw sockets: not tried");
}

static void test_loopback_echo_is_measured_when_a_socket_opens(void **state)
{
	(void)state;
	struct dc_icmp_target t[2] = {{.payload = "900a"}, {.payload = "900b"}};
	dc_ip_parse("127.0.0.1", 4, &t[0].addr);
	dc_ip_parse("127.0.0.2", 4, &t[1].addr);
	struct dc_icmp_run run;
	dc_icmp_ping(t, 2, dc_now_ns() + 1000000000u, NULL, &run);
	if (run.socket == DC_ICMP_SOCKET_NONE) {
		/* Root (CI) always gets a raw socket; elsewhere the reason must be there, nothing sent. */
		assert_int_not_equal(geteuid(), 0);
		assert_true(strstr(run.skipped, "no ICMP socket: ") == run.skipped);
		assert_false(t[0].sent);
		fprintf(stderr, "SKIPPED: no ICMP socket for this user (%s); root runs this test\n", run.skipped);
		skip();
	}
	for (int i = 0; i < 2; i++) {
		assert_true(t[i].ok);
		assert_true(t[i].kernel_ts);
		assert_true(t[i].rtt_ns > 0 && t[i].rtt_ns < 100000000u);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_is_rfc1071),
		cmocka_unit_test(test_echo_request_is_tailscales_layout),
		cmocka_unit_test(test_echo_that_does_not_fit_is_refused),
		cmocka_unit_test(test_reply_without_ip_header_parses),
		cmocka_unit_test(test_reply_with_ip_header_gives_the_addresses),
		cmocka_unit_test(test_ip_options_are_skipped),
		cmocka_unit_test(test_bad_checksum_is_reported_not_trusted),
		cmocka_unit_test(test_truncated_messages_are_refused),
		cmocka_unit_test(test_lying_ip_lengths_are_refused),
		cmocka_unit_test(test_padding_after_total_length_is_ignored),
		cmocka_unit_test(test_unreachable_quotes_our_echo),
		cmocka_unit_test(test_unknown_types_parse_without_fields),
		cmocka_unit_test(test_no_socket_allowed_says_why_and_sends_nothing),
		cmocka_unit_test(test_loopback_echo_is_measured_when_a_socket_opens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
