/*
 * Which ports a silent STUNPort leads derpcheck to try (src/probe/stunguess.c), and a live
 * run on loopback: a port where STUN answers, a closed port, and the map's port skipped.
 */
#include "testlib.h"

#include "derpcheck/net/udp.h"
#include "derpcheck/probe/stun.h"
#include "derpcheck/probe/stunguess.h"

static const char *map_text =
	"{'Regions':{"
	"'900':{'RegionID':900,'RegionCode':'a','Nodes':["
	"{'Name':'900a','RegionID':900,'HostName':'derp.test','IPv4':'127.0.0.42','STUNPort':38893,'DERPPort':33657},"
	"{'Name':'900b','RegionID':900,'HostName':'derp.test','IPv4':'127.0.0.43','STUNPort':38894,'DERPPort':33657}]},"
	"'901':{'RegionID':901,'RegionCode':'b','Nodes':["
	"{'Name':'901a','RegionID':901,'HostName':'b.test','IPv4':'127.0.0.42','STUNPort':40000},"
	"{'Name':'901b','RegionID':901,'HostName':'c.test','IPv4':'127.0.0.50','STUNPort':0},"
	"{'Name':'901c','RegionID':901,'HostName':'d.test','IPv4':'127.0.0.51','STUNPort':38894}]}}}";

static void test_plan_order_reasons_and_exclusions(void **state)
{
	(void)state;
	struct decoded d;
	decode_text(map_text, &d);
	struct dc_stun_guess g;
	struct dc_endpoint a = endpoint_of("127.0.0.42", 38893);
	uint16_t user[] = {5000, 3478};
	dc_stun_guess_plan(&g, &d.map, &d.map.regions[0].nodes[0], &a, user, 2);
	/* 3478 (default, 901b's, and the user's), the DERP port, 900b's 38894 (also 901c's),
	 * then the user's 5000; 40000 is 901a's own STUN on this very address: not a guess. */
	assert_int_equal(g.nports, 4);
	assert_int_equal(g.ports[0].port, 3478);
	assert_int_equal(g.ports[0].why, DC_GUESS_DEFAULT | DC_GUESS_OTHER_NODE | DC_GUESS_USER);
	assert_string_equal(g.ports[0].other_node, "901b");
	assert_int_equal(g.ports[1].port, 33657);
	assert_int_equal(g.ports[1].why, DC_GUESS_DERP_PORT);
	assert_int_equal(g.ports[2].port, 38894);
	assert_int_equal(g.ports[2].why, DC_GUESS_OTHER_NODE);
	assert_string_equal(g.ports[2].other_node, "900b"); /* the own region's node first */
	assert_int_equal(g.ports[3].port, 5000);
	assert_int_equal(g.ports[3].why, DC_GUESS_USER);
	assert_int_equal(g.answered, -1);
	assert_false(g.ran);
	decoded_free(&d);
}

static void test_the_failed_port_is_never_a_guess(void **state)
{
	(void)state;
	struct decoded d;
	decode_text(map_text, &d);
	struct dc_stun_guess g;
	struct dc_endpoint a = endpoint_of("127.0.0.43", 3478); /* as if 900b's STUNPort were 3478 */
	uint16_t user[] = {3478};
	dc_stun_guess_plan(&g, &d.map, &d.map.regions[0].nodes[1], &a, user, 1);
	for (size_t i = 0; i < g.nports; i++)
		assert_int_not_equal(g.ports[i].port, 3478);
	decoded_free(&d);
}

static void test_user_ports_survive_the_cap(void **state)
{
	(void)state;
	/* 20 nodes with 20 different STUN ports: the map's guesses are cut, the user's kept. */
	char text[8192] = "{'Regions':{'900':{'RegionID':900,'RegionCode':'a','Nodes':[";
	for (int i = 0; i < 20; i++) {
		char node[200];
		snprintf(node, sizeof(node), "%s{'Name':'n%d','RegionID':900,'HostName':'h%d.test','IPv4':'127.0.1.%d','STUNPort':%d}",
			 i ? "," : "", i, i, i + 1, 10000 + i);
		strcat(text, node);
	}
	strcat(text, "]}}}");
	struct decoded d;
	decode_text(text, &d);
	struct dc_stun_guess g;
	struct dc_endpoint a = endpoint_of("127.0.1.1", 10000);
	uint16_t user[DC_STUN_GUESS_MAX_USER] = {1, 2, 3, 4, 5, 6, 7, 8};
	dc_stun_guess_plan(&g, &d.map, &d.map.regions[0].nodes[0], &a, user, DC_STUN_GUESS_MAX_USER);
	assert_int_equal(g.nports, DC_STUN_GUESS_MAX_PORTS);
	for (int i = 0; i < DC_STUN_GUESS_MAX_USER; i++)
		assert_int_equal(g.ports[DC_STUN_GUESS_MAX_PORTS - DC_STUN_GUESS_MAX_USER + i].port, i + 1);
	decoded_free(&d);
}

/* A Tailscale-style STUN answerer on a loopback port, in a child process. */
static pid_t serve_stun(struct dc_endpoint *where)
{
	struct dc_error err;
	struct dc_endpoint lo = endpoint_of("127.0.0.1", 0);
	int fd = dc_udp_open(4, &lo, 0, &err);
	assert_true(fd >= 0);
	dc_udp_local(fd, where);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10); /* never outlive a failed test */
		uint8_t buf[1500], reply[512];
		for (int served = 0; served < 50;) {
			struct dc_udp_packet pkt;
			struct dc_stun_msg m;
			if (dc_udp_recv(fd, buf, sizeof(buf), &pkt) != 1) {
				usleep(1000);
				continue;
			}
			if (dc_stun_parse(buf, pkt.len, &m, &err) < 0)
				continue;
			struct dc_stun_reply_opts ro = {.mapped = &pkt.from};
			size_t len = dc_stun_reply(m.txid, &ro, reply, sizeof(reply));
			dc_udp_send(fd, &pkt.from, reply, len);
			served++;
		}
		_exit(0);
	}
	close(fd);
	return pid;
}

static void test_run_names_what_each_port_did(void **state)
{
	(void)state;
	struct dc_endpoint live;
	pid_t pid = serve_stun(&live);
	struct dc_error err;
	struct dc_endpoint lo = endpoint_of("127.0.0.1", 0);
	int closed_fd = dc_udp_open(4, &lo, 0, &err);
	struct dc_endpoint closed;
	dc_udp_local(closed_fd, &closed);
	close(closed_fd);
	struct dc_stun_guess g;
	struct dc_endpoint a = endpoint_of("127.0.0.1", 1); /* the map's (failed) port */
	uint16_t user[] = {closed.port, live.port};
	dc_stun_guess_plan(&g, NULL, NULL, &a, user, 2);
	/* Without a map only 3478 and the user's ports; keep the test off 3478. */
	g.ports[0] = g.ports[1];
	g.ports[1] = g.ports[2];
	g.nports = 2;
	assert_int_equal(dc_stun_guess_run(&g, 1, 1000000000u, &err), 0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	assert_true(g.ran);
	assert_int_equal(g.ports[0].status, DC_PROBE_UNREACHABLE);
	assert_true(g.ports[0].port_closed);
	assert_true(dc_ip_equal(&g.ports[0].icmp_from, &a));
	assert_int_equal(g.ports[1].status, DC_PROBE_OK);
	assert_int_equal(g.answered, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_order_reasons_and_exclusions),
		cmocka_unit_test(test_the_failed_port_is_never_a_guess),
		cmocka_unit_test(test_user_ports_survive_the_cap),
		cmocka_unit_test(test_run_names_what_each_port_did),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
