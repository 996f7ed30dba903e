/*
 * The prober against a tiny STUN server thread on loopback whose misbehaviour each test
 * chooses: matching, retransmission, deadlines, and everything that must be ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/probe/prober.h"
#include "derpcheck/net/udp.h"

enum mode { ANSWER, SILENT, WRONG_TXID, OTHER_PORT, TWICE, DROP_FIRST, ERROR_420, TRUNCATE, NOT_STUN, NO_ADDRESS };

static struct {
	int fd, other_fd;
	struct dc_endpoint addr;
	pthread_t thread;
	atomic_int mode;
	atomic_int requests;
	atomic_bool stop;
	uint64_t delay_ns;
} srv;

static void *serve(void *arg)
{
	(void)arg;
	uint8_t buf[1500], reply[256];
	while (!atomic_load(&srv.stop)) {
		struct pollfd pfd = {.fd = srv.fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		struct dc_udp_packet pkt;
		while (dc_udp_recv(srv.fd, buf, sizeof(buf), &pkt) == 1) {
			struct dc_stun_msg m;
			struct dc_error err;
			if (dc_stun_parse(buf, pkt.len, &m, &err) < 0)
				continue;
			int n = atomic_fetch_add(&srv.requests, 1) + 1;
			enum mode md = (enum mode)atomic_load(&srv.mode);
			if (md == SILENT || (md == DROP_FIRST && n == 1))
				continue;
			if (srv.delay_ns) {
				uint64_t until = pkt.rx_ns + srv.delay_ns;
				while (dc_now_ns() < until)
					usleep(100);
			}
			if (md == WRONG_TXID)
				m.txid[11] ^= 1;
			struct dc_stun_reply_opts o = {.mapped = &pkt.from, .software = "unit"};
			if (md == ERROR_420) {
				o.error_code = 420;
				o.error_reason = "Unknown Attribute";
			}
			if (md == NO_ADDRESS)
				o.mapped = NULL;
			size_t len = dc_stun_reply(m.txid, &o, reply, sizeof(reply));
			if (md == TRUNCATE)
				len = 24;
			if (md == NOT_STUN) {
				memcpy(reply, "HTTP/1.1 400 Bad Request\r\n", 26);
				len = 26;
			}
			int fd = md == OTHER_PORT ? srv.other_fd : srv.fd;
			dc_udp_send(fd, &pkt.from, reply, len);
			if (md == TWICE)
				dc_udp_send(fd, &pkt.from, reply, len);
		}
	}
	return NULL;
}

static int start(void **state)
{
	(void)state;
	struct dc_endpoint lo;
	struct dc_error err;
	dc_ip_parse("127.0.0.1", 4, &lo);
	srv.fd = dc_udp_open(4, &lo, 0, &err);
	srv.other_fd = dc_udp_open(4, &lo, 0, &err);
	if (srv.fd < 0 || srv.other_fd < 0)
		return -1;
	dc_udp_local(srv.fd, &srv.addr);
	return pthread_create(&srv.thread, NULL, serve, NULL);
}

static int stop(void **state)
{
	(void)state;
	atomic_store(&srv.stop, true);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	close(srv.other_fd);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	atomic_store(&srv.mode, ANSWER);
	atomic_store(&srv.requests, 0);
	srv.delay_ns = 0;
	return 0;
}

static struct dc_prober *new_prober(void)
{
	struct dc_prober_config cfg = {.want4 = true};
	struct dc_error err;
	struct dc_prober *p = dc_prober_new(&cfg, &err);
	assert_non_null(p);
	return p;
}

static struct dc_probe_spec spec(unsigned tries, uint64_t rto_ms, uint64_t timeout_ms)
{
	return (struct dc_probe_spec){
		.dst = srv.addr, .style = DC_STUN_STYLE_TAILSCALE, .tries = tries,
		.rto_ns = rto_ms * 1000000u, .timeout_ns = timeout_ms * 1000000u,
	};
}

static const struct dc_probe_result *run_one(struct dc_prober *p, struct dc_probe_spec s)
{
	struct dc_error err;
	size_t id = dc_prober_add(p, &s);
	assert_int_equal(dc_prober_run(p, dc_now_ns() + 5000000000u, NULL, NULL, &err), 0);
	return dc_prober_result(p, id);
}

static void test_reply_gives_mapped_address_and_rtt(void **state)
{
	(void)state;
	srv.delay_ns = 5000000;
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(1, 0, 1000));
	assert_int_equal(r->status, DC_PROBE_OK);
	struct dc_endpoint local;
	assert_int_equal(dc_prober_local(p, 4, &local), 0);
	assert_int_equal(r->mapped.port, local.port);
	assert_true(r->mapped_from_xor);
	assert_string_equal(r->software, "unit");
	assert_true(r->rtt_ns >= 5000000 && r->rtt_ns < 50000000);
	assert_int_equal(r->answered_try, 1);
	dc_prober_free(p);
}

static void test_silent_server_times_out_at_the_deadline(void **state)
{
	(void)state;
	atomic_store(&srv.mode, SILENT);
	struct dc_prober *p = new_prober();
	uint64_t t0 = dc_now_ns();
	const struct dc_probe_result *r = run_one(p, spec(3, 50, 300));
	uint64_t took = dc_now_ns() - t0;
	assert_int_equal(r->status, DC_PROBE_TIMEOUT);
	assert_int_equal(r->sent, 3); /* at 0, 50 and 150 ms */
	assert_true(took >= 300000000u && took < 400000000u);
	assert_non_null(strstr(r->detail, "no reply from 127.0.0.1:"));
	assert_non_null(strstr(r->detail, "to 3 requests in 0.3 s"));
	dc_prober_free(p);
}

static void test_retransmission_is_matched_to_its_own_try(void **state)
{
	(void)state;
	atomic_store(&srv.mode, DROP_FIRST);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(3, 50, 1000));
	assert_int_equal(r->status, DC_PROBE_OK);
	assert_int_equal(r->answered_try, 2);
	assert_int_equal(r->sent, 2);
	assert_true(r->rtt_ns < 40000000u); /* measured from the second send, not the first */
	dc_prober_free(p);
}

static void test_unknown_transaction_id_is_ignored(void **state)
{
	(void)state;
	atomic_store(&srv.mode, WRONG_TXID);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(2, 50, 200));
	assert_int_equal(r->status, DC_PROBE_TIMEOUT);
	assert_int_equal(r->unknown_txid, 2);
	assert_non_null(strstr(r->detail, "with transaction IDs we never sent"));
	assert_int_equal(dc_prober_stats(p)->unknown_txid, 2);
	dc_prober_free(p);
}

static void test_reply_from_another_port_is_ignored(void **state)
{
	(void)state;
	atomic_store(&srv.mode, OTHER_PORT);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(1, 0, 200));
	assert_int_equal(r->status, DC_PROBE_TIMEOUT);
	assert_int_equal(r->wrong_source, 1);
	assert_non_null(strstr(r->detail, "with our transaction ID came from 127.0.0.1:"));
	dc_prober_free(p);
}

static void test_duplicates_are_counted_once_answered(void **state)
{
	(void)state;
	atomic_store(&srv.mode, TWICE);
	struct dc_prober *p = new_prober();
	size_t id = dc_prober_add(p, &(struct dc_probe_spec){.dst = srv.addr, .tries = 1, .timeout_ns = 200000000u});
	/* A second, later probe keeps the loop running while the duplicate arrives. */
	struct dc_probe_spec later = spec(1, 0, 100);
	later.start_ns = dc_now_ns() + 50000000u;
	dc_prober_add(p, &later);
	struct dc_error err;
	assert_int_equal(dc_prober_run(p, dc_now_ns() + 2000000000u, NULL, NULL, &err), 0);
	const struct dc_probe_result *r = dc_prober_result(p, id);
	assert_int_equal(r->status, DC_PROBE_OK);
	assert_int_equal(r->duplicates, 1);
	dc_prober_free(p);
}

static void test_error_response_ends_the_probe(void **state)
{
	(void)state;
	atomic_store(&srv.mode, ERROR_420);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(3, 50, 1000));
	assert_int_equal(r->status, DC_PROBE_ERROR_RESPONSE);
	assert_int_equal(r->error_code, 420);
	assert_string_equal(r->detail, "STUN error 420 Unknown Attribute");
	dc_prober_free(p);
}

static void test_truncated_reply_is_reported_not_trusted(void **state)
{
	(void)state;
	atomic_store(&srv.mode, TRUNCATE);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(1, 0, 200));
	assert_int_equal(r->status, DC_PROBE_TIMEOUT);
	assert_int_equal(r->malformed, 1);
	assert_non_null(strstr(r->detail, "no usable reply; 1 undecodable from 127.0.0.1:"));
	assert_non_null(strstr(r->detail, "truncated: the header announces"));
	dc_prober_free(p);
}

static void test_non_stun_reply_is_attributed_by_source(void **state)
{
	(void)state;
	atomic_store(&srv.mode, NOT_STUN);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(1, 0, 200));
	assert_int_equal(r->status, DC_PROBE_TIMEOUT);
	assert_int_equal(r->malformed, 1);
	assert_non_null(strstr(r->malformed_reason, "not STUN"));
	dc_prober_free(p);
}

static void test_success_without_address_is_malformed(void **state)
{
	(void)state;
	atomic_store(&srv.mode, NO_ADDRESS);
	struct dc_prober *p = new_prober();
	const struct dc_probe_result *r = run_one(p, spec(1, 0, 200));
	assert_int_equal(r->status, DC_PROBE_TIMEOUT);
	assert_string_equal(r->malformed_reason, "a success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS");
	dc_prober_free(p);
}

static void test_closed_port_is_unreachable_at_once(void **state)
{
	(void)state;
	struct dc_error err;
	struct dc_endpoint lo;
	dc_ip_parse("127.0.0.1", 4, &lo);
	int fd = dc_udp_open(4, &lo, 0, &err);
	struct dc_endpoint closed;
	dc_udp_local(fd, &closed);
	close(fd); /* nothing listens there now */
	struct dc_prober *p = new_prober();
	struct dc_probe_spec s = spec(3, 100, 2000);
	s.dst = closed;
	uint64_t t0 = dc_now_ns();
	const struct dc_probe_result *r = run_one(p, s);
	assert_int_equal(r->status, DC_PROBE_UNREACHABLE);
	assert_true(dc_now_ns() - t0 < 500000000u);
	assert_string_equal(r->detail, "ICMP port unreachable from 127.0.0.1");
	/* The evidence itself, not only words: who said so, and that UDP got there. */
	assert_true(r->icmp_port_closed);
	assert_false(r->icmp_local);
	assert_int_equal(r->icmp_type, 3);
	assert_int_equal(r->icmp_code, 3);
	assert_true(dc_ip_equal(&r->icmp_from, &lo));
	dc_prober_free(p);
}

static void test_group_success_cancels_the_rest(void **state)
{
	(void)state;
	struct dc_prober *p = new_prober();
	struct dc_probe_spec s = spec(1, 0, 1000);
	s.group = 7;
	size_t first = dc_prober_add(p, &s);
	s.start_ns = dc_now_ns() + 300000000u;
	size_t second = dc_prober_add(p, &s);
	struct dc_error err;
	assert_int_equal(dc_prober_run(p, dc_now_ns() + 2000000000u, NULL, NULL, &err), 0);
	assert_int_equal(dc_prober_result(p, first)->status, DC_PROBE_OK);
	assert_int_equal(dc_prober_result(p, second)->status, DC_PROBE_CANCELLED);
	assert_int_equal(dc_prober_result(p, second)->sent, 0);
	dc_prober_free(p);
}

static void chain(struct dc_prober *p, size_t id, const struct dc_probe_result *r, void *user)
{
	(void)id;
	int *left = user;
	if (r->status == DC_PROBE_OK && --*left > 0)
		dc_prober_add(p, &(struct dc_probe_spec){.dst = srv.addr, .tries = 1, .timeout_ns = 500000000u});
}

static void test_callback_can_add_the_next_probe(void **state)
{
	(void)state;
	struct dc_prober *p = new_prober();
	int left = 5;
	dc_prober_add(p, &(struct dc_probe_spec){.dst = srv.addr, .tries = 1, .timeout_ns = 500000000u});
	struct dc_error err;
	assert_int_equal(dc_prober_run(p, dc_now_ns() + 3000000000u, chain, &left, &err), 0);
	assert_int_equal(left, 0);
	assert_int_equal(dc_prober_count(p), 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(dc_prober_result(p, i)->status, DC_PROBE_OK);
	dc_prober_free(p);
}

static void test_run_deadline_bounds_everything(void **state)
{
	(void)state;
	atomic_store(&srv.mode, SILENT);
	struct dc_prober *p = new_prober();
	size_t a = dc_prober_add(p, &(struct dc_probe_spec){.dst = srv.addr, .tries = 1, .timeout_ns = 10000000000u});
	struct dc_probe_spec s = spec(1, 0, 1000);
	s.start_ns = dc_now_ns() + 5000000000u;
	size_t b = dc_prober_add(p, &s);
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	assert_int_equal(dc_prober_run(p, t0 + 200000000u, NULL, NULL, &err), 0);
	assert_true(dc_now_ns() - t0 < 300000000u);
	assert_int_equal(dc_prober_result(p, a)->status, DC_PROBE_TIMEOUT);
	assert_int_equal(dc_prober_result(p, b)->status, DC_PROBE_CANCELLED);
	dc_prober_free(p);
}

static void test_thousand_probes_share_one_socket(void **state)
{
	(void)state;
	struct dc_prober *p = new_prober();
	for (int i = 0; i < 1000; i++)
		dc_prober_add(p, &(struct dc_probe_spec){.dst = srv.addr, .tries = 3, .rto_ns = 200000000u,
							 .timeout_ns = 2000000000u});
	struct dc_error err;
	assert_int_equal(dc_prober_run(p, dc_now_ns() + 5000000000u, NULL, NULL, &err), 0);
	struct dc_endpoint first = dc_prober_result(p, 0)->mapped;
	for (size_t i = 0; i < 1000; i++) {
		const struct dc_probe_result *r = dc_prober_result(p, i);
		assert_int_equal(r->status, DC_PROBE_OK);
		assert_true(dc_endpoint_equal(&r->mapped, &first));
	}
	assert_int_equal(dc_prober_stats(p)->peak_inflight, 1000);
	dc_prober_free(p);
}

static void test_missing_family_fails_its_probes_with_the_reason(void **state)
{
	(void)state;
	struct dc_prober *p = new_prober(); /* IPv4 only */
	struct dc_probe_spec s = spec(1, 0, 100);
	dc_ip_parse("::1", 6, &s.dst);
	s.dst.port = 3478;
	const struct dc_probe_result *r = run_one(p, s);
	assert_int_equal(r->status, DC_PROBE_SEND_FAILED);
	assert_string_equal(r->detail, "IPv6 is not in use");
	dc_prober_free(p);
}

static void test_bind_to_a_foreign_address_is_an_error(void **state)
{
	(void)state;
	struct dc_endpoint bind;
	dc_ip_parse("192.0.2.1", 4, &bind);
	struct dc_prober_config cfg = {.want4 = true, .want6 = true, .bind_addr = &bind};
	struct dc_error err;
	assert_null(dc_prober_new(&cfg, &err));
	assert_string_equal(err.where, "192.0.2.1:0");
	assert_string_equal(err.what, "cannot bind a UDP socket: Cannot assign requested address");
	assert_string_equal(err.hint, "--bind-address must be an address of this machine (see 'ip addr')");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reply_gives_mapped_address_and_rtt, reset),
		cmocka_unit_test_setup(test_silent_server_times_out_at_the_deadline, reset),
		cmocka_unit_test_setup(test_retransmission_is_matched_to_its_own_try, reset),
		cmocka_unit_test_setup(test_unknown_transaction_id_is_ignored, reset),
		cmocka_unit_test_setup(test_reply_from_another_port_is_ignored, reset),
		cmocka_unit_test_setup(test_duplicates_are_counted_once_answered, reset),
		cmocka_unit_test_setup(test_error_response_ends_the_probe, reset),
		cmocka_unit_test_setup(test_truncated_reply_is_reported_not_trusted, reset),
		cmocka_unit_test_setup(test_non_stun_reply_is_attributed_by_source, reset),
		cmocka_unit_test_setup(test_success_without_address_is_malformed, reset),
		cmocka_unit_test_setup(test_closed_port_is_unreachable_at_once, reset),
		cmocka_unit_test_setup(test_group_success_cancels_the_rest, reset),
		cmocka_unit_test_setup(test_callback_can_add_the_next_probe, reset),
		cmocka_unit_test_setup(test_run_deadline_bounds_everything, reset),
		cmocka_unit_test_setup(test_thousand_probes_share_one_socket, reset),
		cmocka_unit_test_setup(test_missing_family_fails_its_probes_with_the_reason, reset),
		cmocka_unit_test_setup(test_bind_to_a_foreign_address_is_an_error, reset),
	};
	return cmocka_run_group_tests(tests, start, stop);
}
