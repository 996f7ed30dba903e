/* UDP sockets: kernel receive timestamps on the monotonic clock, truncation, ICMP errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/net/udp.h"

static struct dc_endpoint loopback(void)
{
	struct dc_endpoint lo;
	dc_ip_parse("127.0.0.1", 4, &lo);
	return lo;
}

static int open_lo(struct dc_endpoint *addr)
{
	struct dc_error err;
	struct dc_endpoint lo = loopback();
	int fd = dc_udp_open(4, &lo, 0, &err);
	assert_true(fd >= 0);
	assert_int_equal(dc_udp_local(fd, addr), 0);
	return fd;
}

static void wait_readable(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	assert_int_equal(poll(&pfd, 1, 1000), 1);
}

static void test_realtime_now_converts_to_monotonic_now(void **state)
{
	(void)state;
	struct timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	uint64_t mono = dc_realtime_to_monotonic(real.tv_sec, real.tv_nsec);
	uint64_t now = dc_now_ns();
	assert_true(mono <= now && now - mono < 5000000u);
}

/*
 * Linux switches receive timestamping on through deferred work when the first socket
 * asks for it; until then a datagram is stamped when it is read. Wait (bounded) until a
 * datagram that sat in the socket for 2 ms carries its arrival time.
 */
static void wait_for_kernel_timestamps(int fa, const struct dc_endpoint *b, int fb)
{
	uint64_t deadline = dc_now_ns() + 1000000000u;
	while (dc_now_ns() < deadline) {
		assert_int_equal(dc_udp_send(fa, b, "warm", 4), 0);
		usleep(2000);
		uint8_t buf[16];
		struct dc_udp_packet pkt;
		wait_readable(fb, POLLIN);
		assert_int_equal(dc_udp_recv(fb, buf, sizeof(buf), &pkt), 1);
		if (pkt.kernel_ts && dc_now_ns() - pkt.rx_ns >= 1000000u)
			return;
	}
	fail_msg("the kernel never stamped datagrams on arrival within 1 s");
}

static void test_receive_time_comes_from_the_kernel(void **state)
{
	(void)state;
	struct dc_endpoint a, b;
	int fa = open_lo(&a), fb = open_lo(&b);
	wait_for_kernel_timestamps(fa, &b, fb);
	uint64_t before = dc_now_ns();
	assert_int_equal(dc_udp_send(fa, &b, "ping", 4), 0);
	uint64_t sent = dc_now_ns(); /* on loopback the datagram has arrived when send returns */
	usleep(20000); /* the datagram waits in the socket; its timestamp must not */
	wait_readable(fb, POLLIN);
	uint8_t buf[16];
	struct dc_udp_packet pkt;
	assert_int_equal(dc_udp_recv(fb, buf, sizeof(buf), &pkt), 1);
	uint64_t after = dc_now_ns();
	assert_true(pkt.kernel_ts);
	if (!(pkt.rx_ns + 1000000u >= before && pkt.rx_ns <= sent + 1000000u))
		fail_msg("receive time %llu ns is not between the send (%llu .. %llu ns)", (unsigned long long)pkt.rx_ns,
			 (unsigned long long)before, (unsigned long long)sent);
	assert_true(after - pkt.rx_ns >= 20000000u);
	assert_true(dc_endpoint_equal(&pkt.from, &a));
	assert_int_equal(pkt.len, 4);
	assert_int_equal(dc_udp_recv(fb, buf, sizeof(buf), &pkt), 0);
	close(fa);
	close(fb);
}

static void test_datagram_larger_than_the_buffer_says_so(void **state)
{
	(void)state;
	struct dc_endpoint a, b;
	int fa = open_lo(&a), fb = open_lo(&b);
	uint8_t big[3000] = {0}, buf[100];
	assert_int_equal(dc_udp_send(fa, &b, big, sizeof(big)), 0);
	wait_readable(fb, POLLIN);
	struct dc_udp_packet pkt;
	assert_int_equal(dc_udp_recv(fb, buf, sizeof(buf), &pkt), 1);
	assert_int_equal(pkt.len, 100);
	assert_int_equal(pkt.wire_len, 3000);
	close(fa);
	close(fb);
}

static void test_port_unreachable_is_read_from_the_error_queue(void **state)
{
	(void)state;
	struct dc_endpoint a, closed;
	int fa = open_lo(&a), fc = open_lo(&closed);
	close(fc);
	assert_int_equal(dc_udp_send(fa, &closed, "STUNSTUNSTUNSTUN", 16), 0);
	wait_readable(fa, 0); /* POLLERR is always reported */
	struct dc_udp_icmp e;
	assert_int_equal(dc_udp_recv_error(fa, &e), 1);
	assert_int_equal(e.err, ECONNREFUSED);
	assert_false(e.local);
	assert_true(dc_endpoint_equal(&e.dst, &closed));
	assert_string_equal(dc_udp_icmp_text(&e), "port unreachable");
	assert_true(dc_udp_icmp_port_closed(&e));
	assert_int_equal(e.payload_len, 16);
	assert_memory_equal(e.payload, "STUNSTUNSTUNSTUN", 16);
	assert_int_equal(dc_udp_recv_error(fa, &e), 0);
	close(fa);
}

static void test_only_port_unreachable_proves_a_closed_port(void **state)
{
	(void)state;
	struct dc_udp_icmp e = {.type = 3, .code = 3};
	assert_true(dc_udp_icmp_port_closed(&e));
	e.code = 1; /* host unreachable: nothing reached a host */
	assert_false(dc_udp_icmp_port_closed(&e));
	e.code = 13; /* administratively prohibited */
	assert_false(dc_udp_icmp_port_closed(&e));
	e = (struct dc_udp_icmp){.v6 = true, .type = 1, .code = 4};
	assert_true(dc_udp_icmp_port_closed(&e));
	e.code = 1;
	assert_false(dc_udp_icmp_port_closed(&e));
	e = (struct dc_udp_icmp){.local = true, .type = 3, .code = 3};
	assert_false(dc_udp_icmp_port_closed(&e));
}

static void test_port_in_use_is_explained(void **state)
{
	(void)state;
	struct dc_endpoint a;
	int fa = open_lo(&a);
	struct dc_error err;
	struct dc_endpoint lo = loopback();
	assert_int_equal(dc_udp_open(4, &lo, a.port, &err), -1);
	assert_string_equal(err.what, "cannot bind a UDP socket: Address already in use");
	assert_non_null(strstr(err.hint, "another program uses UDP port"));
	close(fa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realtime_now_converts_to_monotonic_now),
		cmocka_unit_test(test_receive_time_comes_from_the_kernel),
		cmocka_unit_test(test_datagram_larger_than_the_buffer_says_so),
		cmocka_unit_test(test_port_unreachable_is_read_from_the_error_queue),
		cmocka_unit_test(test_only_port_unreachable_proves_a_closed_port),
		cmocka_unit_test(test_port_in_use_is_explained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
