/*
 * What `derpcheck stun` concludes, against STUN server threads on loopback that behave
 * like derper, like a generic server, or wrongly: server kinds and findings.
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

#include "derpcheck/probe/stuncheck.h"
#include "derpcheck/net/udp.h"

enum mode { DERPER, GENERIC, PLAIN_ONLY, DOCKER, SHIFT_PORT, NMODES };

static struct server {
	int fd;
	struct dc_endpoint addr;
	pthread_t thread;
	enum mode mode;
} servers[NMODES];
static atomic_bool stopping;

static void *serve(void *arg)
{
	struct server *s = arg;
	uint8_t buf[1500], reply[256];
	while (!atomic_load(&stopping)) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		struct dc_udp_packet pkt;
		while (dc_udp_recv(s->fd, buf, sizeof(buf), &pkt) == 1) {
			struct dc_stun_msg m;
			struct dc_error err;
			if (dc_stun_parse(buf, pkt.len, &m, &err) < 0)
				continue;
			bool ts = dc_stun_is_tailscale_request(&m);
			if ((s->mode == PLAIN_ONLY && ts) || (s->mode != PLAIN_ONLY && s->mode != GENERIC && !ts))
				continue;
			struct dc_endpoint mapped = pkt.from;
			if (s->mode == DOCKER)
				dc_ip_parse("172.17.0.1", 4, &mapped), mapped.port = pkt.from.port;
			if (s->mode == SHIFT_PORT)
				mapped.port++;
			struct dc_stun_reply_opts o = {.mapped = &mapped, .software = s->mode == GENERIC ? "generic/1" : NULL};
			size_t len = dc_stun_reply(m.txid, &o, reply, sizeof(reply));
			dc_udp_send(s->fd, &pkt.from, reply, len);
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
	for (int i = 0; i < NMODES; i++) {
		servers[i].mode = (enum mode)i;
		servers[i].fd = dc_udp_open(4, &lo, 0, &err);
		if (servers[i].fd < 0)
			return -1;
		dc_udp_local(servers[i].fd, &servers[i].addr);
		pthread_create(&servers[i].thread, NULL, serve, &servers[i]);
	}
	return 0;
}

static int stop(void **state)
{
	(void)state;
	atomic_store(&stopping, true);
	for (int i = 0; i < NMODES; i++) {
		pthread_join(servers[i].thread, NULL);
		close(servers[i].fd);
	}
	return 0;
}

static struct dc_stun_opts opts(void)
{
	return (struct dc_stun_opts){.style = DC_STUN_STYLE_TAILSCALE, .count = 2, .interval_ns = 10000000u,
				     .timeout_ns = 300000000u};
}

static void run_hosts(struct dc_stun_report *rep, const struct dc_stun_opts *o, const enum mode *modes, size_t n)
{
	dc_stun_report_init(rep, o);
	for (size_t i = 0; i < n; i++)
		dc_stun_add_host(rep, "127.0.0.1", servers[modes[i]].addr.port);
	struct dc_error err;
	assert_int_equal(dc_stun_run(rep, &err), 0);
}

static const char *codes(const struct dc_stun_report *rep)
{
	static char buf[512];
	buf[0] = '\0';
	for (size_t i = 0; i < rep->findings.count; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "," : "", rep->findings.items[i].code);
	return buf;
}

static void test_derper_answers_only_tailscale_requests(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	run_hosts(&rep, &o, (enum mode[]){DERPER}, 1);
	assert_int_equal(rep.ntargets, 1); /* a literal IPv4 host has no IPv6 target */
	const struct dc_stun_target *t = &rep.targets[0];
	assert_int_equal(t->kind, DC_STUN_KIND_DERPER);
	assert_int_equal(t->answered, 2);
	assert_false(t->has_software);
	assert_false(t->nat);
	assert_int_equal(t->mapped_class, DC_IP_LOOPBACK);
	assert_string_equal(codes(&rep), "");
	dc_stun_report_free(&rep);
}

static void test_generic_server_answers_both_styles(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	run_hosts(&rep, &o, (enum mode[]){GENERIC}, 1);
	assert_int_equal(rep.targets[0].kind, DC_STUN_KIND_GENERIC);
	assert_string_equal(rep.targets[0].software, "generic/1");
	assert_string_equal(codes(&rep), "");
	dc_stun_report_free(&rep);
}

static void test_plain_only_server_is_an_error_for_tailscale(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	run_hosts(&rep, &o, (enum mode[]){PLAIN_ONLY}, 1);
	assert_int_equal(rep.targets[0].kind, DC_STUN_KIND_PLAIN_ONLY);
	assert_string_equal(codes(&rep), "stun-only-plain");
	assert_int_equal(rep.findings.items[0].severity, DC_SEV_ERROR);
	dc_stun_report_free(&rep);
}

static void test_rfc5389_style_against_derper_is_explained(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	o.style = DC_STUN_STYLE_RFC5389;
	run_hosts(&rep, &o, (enum mode[]){DERPER}, 1);
	assert_int_equal(rep.targets[0].kind, DC_STUN_KIND_DERPER);
	assert_string_equal(codes(&rep), "stun-only-tailscale");
	assert_int_equal(rep.findings.items[0].severity, DC_SEV_WARNING);
	dc_stun_report_free(&rep);
}

static void test_docker_mapping_on_a_private_path_is_a_warning(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	run_hosts(&rep, &o, (enum mode[]){DOCKER}, 1);
	assert_int_equal(rep.targets[0].mapped_class, DC_IP_DOCKER_BRIDGE);
	assert_true(rep.targets[0].nat);
	assert_string_equal(codes(&rep), "stun-mapped-inner");
	assert_int_equal(rep.findings.items[0].severity, DC_SEV_WARNING);
	assert_non_null(strstr(rep.findings.items[0].hint, "userland-proxy"));
	dc_stun_report_free(&rep);
}

static void test_mapping_that_varies_by_destination_is_found(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	run_hosts(&rep, &o, (enum mode[]){DERPER, SHIFT_PORT}, 2);
	assert_string_equal(codes(&rep), "stun-mapping-varies");
	/* One socket: both servers saw the same local port, one reports it shifted. */
	assert_int_equal(rep.targets[0].mapped.port + 1, rep.targets[1].mapped.port);
	dc_stun_report_free(&rep);
}

static void test_inner_mapping_does_not_count_as_varying(void **state)
{
	(void)state;
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	run_hosts(&rep, &o, (enum mode[]){DERPER, DOCKER}, 2);
	assert_string_equal(codes(&rep), "stun-mapped-inner");
	dc_stun_report_free(&rep);
}

static void test_region_skips_none_and_disabled_stun(void **state)
{
	(void)state;
	struct dc_derp_node nodes[2] = {
		{.name = "900a", .host_name = "a.invalid", .ipv4 = "127.0.0.1", .ipv6 = "none",
		 .stun_port = servers[DERPER].addr.port, .path = "Regions.900.Nodes[0]"},
		{.name = "900b", .host_name = "b.invalid", .ipv4 = "127.0.0.1", .ipv6 = "none", .stun_port = -1,
		 .path = "Regions.900.Nodes[1]"},
	};
	struct dc_derp_region region = {.id = 900, .code = "lab", .name = "Lab", .nodes = nodes, .node_count = 2,
					 .path = "Regions.900"};
	struct dc_stun_report rep;
	struct dc_stun_opts o = opts();
	dc_stun_report_init(&rep, &o);
	dc_stun_add_region(&rep, &region);
	struct dc_error err;
	assert_int_equal(dc_stun_run(&rep, &err), 0);
	assert_int_equal(rep.ntargets, 4);
	assert_false(rep.targets[0].skipped);
	assert_int_equal(rep.targets[0].addr.origin, DC_ORIGIN_MAP);
	assert_true(rep.targets[1].skipped);
	assert_int_equal(rep.targets[1].addr.origin, DC_ORIGIN_DISABLED);
	assert_true(rep.targets[2].skipped);
	assert_string_equal(rep.targets[2].skip_reason, "STUN is off for this node (STUNPort -1)");
	assert_string_equal(codes(&rep), "");
	char label[64];
	snprintf(label, sizeof(label), "900a 127.0.0.1:%u", servers[DERPER].addr.port);
	assert_string_equal(rep.targets[0].label, label);
	dc_stun_report_free(&rep);

	o.family = 6;
	dc_stun_report_init(&rep, &o);
	dc_stun_add_region(&rep, &region);
	assert_int_equal(dc_stun_run(&rep, &err), 0);
	assert_string_equal(codes(&rep), "stun-no-target");
	assert_string_equal(rep.findings.items[0].path, "Regions.900");
	dc_stun_report_free(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derper_answers_only_tailscale_requests),
		cmocka_unit_test(test_generic_server_answers_both_styles),
		cmocka_unit_test(test_plain_only_server_is_an_error_for_tailscale),
		cmocka_unit_test(test_rfc5389_style_against_derper_is_explained),
		cmocka_unit_test(test_docker_mapping_on_a_private_path_is_a_warning),
		cmocka_unit_test(test_mapping_that_varies_by_destination_is_found),
		cmocka_unit_test(test_inner_mapping_does_not_count_as_varying),
		cmocka_unit_test(test_region_skips_none_and_disabled_stun),
	};
	return cmocka_run_group_tests(tests, start, stop);
}
