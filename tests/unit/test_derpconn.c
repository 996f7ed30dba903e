/*
 * dc_derp_connect against real peers on loopback that are not DERP servers: closed ports,
 * a plain-HTTP port, openssl s_server serving files (-WWW) and one that never answers
 * HTTP. The DERP-speaking cases (fast start, handshake failures, relaying) run against
 * the test DERP server in tests/integration/ping.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/probe/derpconn.h"
#include "fakederp.h"

static char pki[64];
static pid_t www_pid, mute_pid;
static int www_port, mute_port;
static int quiet_stdin[2]; /* s_server reads stdin: keep it open and silent */

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = loopback(0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0)
		return -1;
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static int free_port(void)
{
	int port;
	int fd = listen_any(&port);
	close(fd);
	return port;
}

static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = loopback(port);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static pid_t s_server(int port, bool www)
{
	char accept_arg[32], cert[128], key[128];
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%d", port);
	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server.key", pki);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(quiet_stdin[0], 0) < 0 || !freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr) ||
		    chdir(pki) != 0)
			_exit(127);
		execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept_arg, "-cert", cert, "-key", key,
		       www ? "-WWW" : "-ign_eof", (char *)NULL);
		_exit(127);
	}
	uint64_t deadline = dc_now_ns() + 5000000000ull;
	while (dc_now_ns() < deadline && !port_answers(port))
		usleep(20000);
	return pid;
}

static int setup(void **state)
{
	(void)state;
	snprintf(pki, sizeof(pki), "/tmp/derpcheck-derpconn.XXXXXX");
	if (!mkdtemp(pki))
		return -1;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "tests/tools/mkpki.sh %s", pki);
	if (system(cmd) != 0 || pipe(quiet_stdin) != 0)
		return -1;
	www_port = free_port();
	www_pid = s_server(www_port, true);
	mute_port = free_port();
	mute_pid = s_server(mute_port, false);
	return port_answers(www_port) && port_answers(mute_port) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	kill(www_pid, SIGTERM);
	kill(mute_pid, SIGTERM);
	waitpid(www_pid, NULL, 0);
	waitpid(mute_pid, NULL, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	return system(cmd) == 0 ? 0 : -1;
}

/* A one-region map of up to three nodes on loopback. */
struct map {
	struct dc_derp_node nodes[3];
	struct dc_derp_region region;
	char names[3][24];
};

static void make_map(struct map *m, const int *ports, size_t n, const char *host)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		snprintf(m->names[i], sizeof(m->names[i]), "90%zu", i);
		m->nodes[i] = (struct dc_derp_node){
			.name = m->names[i], .region_id = 900, .host_name = (char *)host, .cert_name = "", .ipv4 = "127.0.0.1",
			.ipv6 = "none", .stun_test_ip = "", .derp_port = ports[i], .stun_port = -1,
		};
	}
	m->region = (struct dc_derp_region){.id = 900, .region_id = 900, .code = "test", .name = "", .nodes = m->nodes, .node_count = n};
}

static void test_failure_names_are_stable(void **state)
{
	(void)state;
	/* These strings are part of the JSON interface (docs/json.md). */
	static const char *const want[] = {
		"ok", "no-node", "dns", "tcp-refused", "tcp-timeout", "unreachable", "not-tls", "tls-alert", "tls-failed",
		"trust-store", "certificate", "http-status", "bad-upgrade", "bad-magic", "frame-too-large", "protocol",
		"not-admitted", "bad-server-info", "timeout", "closed", "io",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(dc_derp_failure_name((enum dc_derp_failure)i), want[i]);
	assert_string_equal(dc_derp_phase_name(DC_DERP_PHASE_HANDSHAKE), "handshake");
}

static void test_stun_only_region_has_no_node_to_dial(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {1};
	make_map(&m, ports, 1, "localhost");
	m.nodes[0].stun_only = true;
	struct dc_derp_dial_opts o = {.region = &m.region, .timeout_ms = 1000};
	struct dc_derp_conn c;
	struct dc_error err;
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	assert_int_equal(c.failure, DC_DERP_NO_NODE);
	assert_int_equal(c.attempt_count, 0);
	assert_string_equal(err.what, "region 900 has no node that relays (every node is STUNOnly or there are none)");
	dc_derp_close(&c);
}

static void test_refused_nodes_are_tried_in_order(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {free_port(), free_port()};
	make_map(&m, ports, 2, "localhost");
	struct dc_derp_dial_opts o = {.region = &m.region, .timeout_ms = 2000};
	struct dc_derp_conn c;
	struct dc_error err;
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	assert_int_equal(c.attempt_count, 2);
	assert_string_equal(c.attempts[0].node, "900");
	assert_string_equal(c.attempts[1].node, "901");
	assert_int_equal(c.attempts[1].failure, DC_DERP_TCP_REFUSED);
	assert_int_equal(c.failure, DC_DERP_TCP_REFUSED);
	assert_int_equal(c.phase, DC_DERP_PHASE_TCP);
	assert_string_equal(err.what, "TCP connection refused");
	dc_derp_close(&c);
}

static void test_skip_node_leaves_it_out(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {free_port(), free_port()};
	make_map(&m, ports, 2, "localhost");
	struct dc_derp_dial_opts o = {.region = &m.region, .skip_node = "900", .timeout_ms = 2000};
	struct dc_derp_conn c;
	struct dc_error err;
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	assert_int_equal(c.attempt_count, 1);
	assert_string_equal(c.attempts[0].node, "901");
	dc_derp_close(&c);
}

static void test_plain_http_stops_at_the_first_node(void **state)
{
	(void)state;
	int port;
	int lfd = listen_any(&port);
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = accept(lfd, NULL, NULL);
		char buf[512];
		(void)!read(cfd, buf, sizeof(buf));
		static const char reply[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
		(void)!write(cfd, reply, sizeof(reply) - 1);
		close(cfd);
		_exit(0);
	}
	close(lfd);
	struct map m;
	int ports[] = {port, www_port};
	make_map(&m, ports, 2, "localhost");
	struct dc_derp_dial_opts o = {.region = &m.region, .timeout_ms = 3000};
	struct dc_derp_conn c;
	struct dc_error err;
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	/* Like Tailscale: only DNS and TCP failures move on to the next node. */
	assert_int_equal(c.attempt_count, 1);
	assert_int_equal(c.failure, DC_DERP_NOT_TLS);
	assert_int_equal(c.phase, DC_DERP_PHASE_TLS);
	dc_derp_close(&c);
	waitpid(pid, NULL, 0);
}

static void test_untrusted_certificate_fails_before_any_http(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {www_port};
	make_map(&m, ports, 1, "localhost");
	struct dc_derp_dial_opts o = {.region = &m.region, .timeout_ms = 3000};
	struct dc_derp_conn c;
	struct dc_error err;
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	assert_int_equal(c.failure, DC_DERP_CERT);
	assert_int_equal(c.phase, DC_DERP_PHASE_VERIFY);
	assert_false(c.verdict.ok);
	assert_non_null(strstr(err.what, "the certificate does not verify for localhost: "));
	dc_derp_close(&c);
}

static void test_web_server_answer_is_an_http_status_failure(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {www_port};
	make_map(&m, ports, 1, "localhost");
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	struct dc_derp_dial_opts o = {.region = &m.region, .ca_file = ca, .timeout_ms = 3000};
	struct dc_derp_conn c;
	struct dc_error err;
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	assert_int_equal(c.failure, DC_DERP_HTTP_STATUS);
	assert_int_equal(c.phase, DC_DERP_PHASE_UPGRADE);
	assert_non_null(strstr(err.what, "the server answered the DERP upgrade with HTTP 200 ok, not 101 Switching Protocols"));
	assert_string_equal(err.hint, "a web server answered /derp as a page: derper is not what listens on this port");
	assert_true(c.tcp_ns > 0 && c.tls_ns > 0 && c.verify_ns > 0);
	assert_false(c.metacert);
	dc_derp_close(&c);
}

static void test_silent_tls_server_times_out_in_the_upgrade(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {mute_port};
	make_map(&m, ports, 1, "localhost");
	struct dc_derp_dial_opts o = {.region = &m.region, .insecure = true, .timeout_ms = 400};
	struct dc_derp_conn c;
	struct dc_error err;
	uint64_t start = dc_now_ns();
	assert_int_equal(dc_derp_connect(&o, &c, &err), -1);
	uint64_t ms = (dc_now_ns() - start) / 1000000;
	if (c.failure != DC_DERP_TIMEOUT)
		fail_msg("%s: %s", dc_derp_failure_name(c.failure), err.what);
	assert_int_equal(c.phase, DC_DERP_PHASE_UPGRADE);
	assert_true(c.insecure);
	assert_true(ms >= 390 && ms < 1500);
	assert_string_equal(err.what, "no answer to the DERP upgrade (GET /derp) before the deadline");
	dc_derp_close(&c);
}

static void test_each_connection_has_a_fresh_key_wiped_on_close(void **state)
{
	(void)state;
	struct map m;
	int ports[] = {free_port()};
	make_map(&m, ports, 1, "localhost");
	struct dc_derp_dial_opts o = {.region = &m.region, .timeout_ms = 1000};
	struct dc_derp_conn a, b;
	struct dc_error err;
	dc_derp_connect(&o, &a, &err);
	dc_derp_connect(&o, &b, &err);
	assert_memory_not_equal(a.public_key, b.public_key, 32);
	dc_derp_close(&a);
	uint8_t zero[32] = {0};
	assert_memory_equal(a.private_key, zero, 32);
	dc_derp_close(&b);
}

/* ---- over a scripted stream (fakederp.h): floods and deadlines (issue #13, fault 2) ---- */

static struct dc_derp_node fake_node = {.name = "900a", .host_name = "derp.test", .ipv4 = "127.0.0.1", .ipv6 = "none"};

/* Fails the test, instead of hanging the suite, if a receive loop ignores its deadline. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_derpconn: a receive loop ran past its deadline (killed after 10 s)\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static long ms_since(uint64_t t0)
{
	return (long)((dc_now_ns() - t0) / 1000000u);
}

/* A connection admitted over the fake stream, which then continues with tail. */
static void connect_fake(struct fake_derp *f, enum fake_tail tail, struct dc_derp_conn *c)
{
	fake_derp_init(f, tail);
	fake_derp_handshake(f, true);
	struct dc_derp_dial_opts o = {.timeout_ms = 2000, .private_key = f->client_sk};
	struct dc_derp_io io = fake_derp_io(f);
	struct dc_error err;
	int rc = dc_derp_connect_over(&o, &fake_node, &io, "fake:443", NULL, c, &err);
	if (rc != 0)
		fail_msg("connect over the fake stream failed: %s", err.what);
	assert_int_equal(c->failure, DC_DERP_OK);
	assert_memory_equal(c->server_key, f->server_pk, 32);
}

static void test_handshake_over_a_scripted_stream_is_admitted(void **state)
{
	(void)state;
	struct fake_derp f;
	struct dc_derp_conn c;
	connect_fake(&f, FAKE_END, &c);
	assert_int_equal(c.info.version, 2);
	/* What the client sent: the upgrade request, then its sealed ClientInfo. */
	assert_non_null(memmem(f.written.data, f.written.len, "GET /derp HTTP/1.1\r\n", 20));
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(dc_derp_recv(&c, dc_now_ns() + 1000000000u, &m, &err), -1);
	assert_int_equal(c.failure, DC_DERP_CLOSED);
	dc_derp_close(&c);
	fake_derp_free(&f);
}

static void test_recv_returns_at_its_deadline_during_a_keepalive_flood(void **state)
{
	(void)state;
	struct fake_derp f;
	struct dc_derp_conn c;
	connect_fake(&f, FAKE_KEEPALIVES, &c);
	signal(SIGALRM, on_alarm);
	alarm(10);
	struct dc_derp_msg m;
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	int rc;
	do
		rc = dc_derp_recv(&c, t0 + 200000000u, &m, &err);
	while (rc == 0 && dc_now_ns() < t0 + 200000000u);
	alarm(0);
	assert_int_equal(rc, 0);
	long ms = ms_since(t0);
	assert_true(ms >= 200 && ms < 1200);
	assert_true(c.keep_alives > 1000);
	dc_derp_close(&c);
	fake_derp_free(&f);
}

static void test_recv_without_waiting_skips_at_most_the_budget(void **state)
{
	(void)state;
	struct fake_derp f;
	struct dc_derp_conn c;
	connect_fake(&f, FAKE_KEEPALIVES, &c);
	signal(SIGALRM, on_alarm);
	alarm(10);
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(dc_derp_recv(&c, 0, &m, &err), 0);
	alarm(0);
	assert_int_equal(c.keep_alives, DC_DERP_SKIP_BUDGET);
	assert_true(dc_derp_readable_now(&c)); /* more is buffered: the caller comes back without polling */
	dc_derp_close(&c);
	fake_derp_free(&f);
}

static void test_unknown_frame_flood_is_bounded_the_same_way(void **state)
{
	(void)state;
	struct fake_derp f;
	struct dc_derp_conn c;
	connect_fake(&f, FAKE_UNKNOWN, &c);
	signal(SIGALRM, on_alarm);
	alarm(10);
	struct dc_derp_msg m;
	struct dc_error err;
	assert_int_equal(dc_derp_recv(&c, 0, &m, &err), 0);
	assert_int_equal(c.unknown_frames, DC_DERP_SKIP_BUDGET);
	uint64_t t0 = dc_now_ns();
	while (dc_derp_recv(&c, t0 + 100000000u, &m, &err) == 0 && dc_now_ns() < t0 + 100000000u)
		;
	alarm(0);
	assert_true(ms_since(t0) < 1100);
	dc_derp_close(&c);
	fake_derp_free(&f);
}

static void test_keepalive_flood_instead_of_serverinfo_times_out_the_handshake(void **state)
{
	(void)state;
	struct fake_derp f;
	fake_derp_init(&f, FAKE_KEEPALIVES);
	fake_derp_handshake(&f, false);
	signal(SIGALRM, on_alarm);
	alarm(10);
	struct dc_derp_dial_opts o = {.timeout_ms = 300, .private_key = f.client_sk};
	struct dc_derp_io io = fake_derp_io(&f);
	struct dc_derp_conn c;
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	assert_int_equal(dc_derp_connect_over(&o, &fake_node, &io, "fake:443", NULL, &c, &err), -1);
	alarm(0);
	long ms = ms_since(t0);
	assert_true(ms >= 300 && ms < 1300);
	assert_int_equal(c.failure, DC_DERP_TIMEOUT);
	assert_int_equal(c.phase, DC_DERP_PHASE_HANDSHAKE);
	assert_non_null(strstr(err.what, "timed out waiting for ServerInfo: the server sent "));
	assert_non_null(strstr(err.what, " KeepAlive frames instead"));
	dc_derp_close(&c);
	fake_derp_free(&f);
}

static void test_silence_instead_of_serverinfo_times_out_the_handshake(void **state)
{
	(void)state;
	struct fake_derp f;
	fake_derp_init(&f, FAKE_SILENT);
	fake_derp_handshake(&f, false);
	struct dc_derp_dial_opts o = {.timeout_ms = 200, .private_key = f.client_sk};
	struct dc_derp_io io = fake_derp_io(&f);
	struct dc_derp_conn c;
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	assert_int_equal(dc_derp_connect_over(&o, &fake_node, &io, "fake:443", NULL, &c, &err), -1);
	assert_true(ms_since(t0) < 1200);
	assert_int_equal(c.failure, DC_DERP_TIMEOUT);
	assert_string_equal(err.what, "timed out waiting for ServerInfo");
	dc_derp_close(&c);
	fake_derp_free(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_names_are_stable),
		cmocka_unit_test(test_stun_only_region_has_no_node_to_dial),
		cmocka_unit_test(test_refused_nodes_are_tried_in_order),
		cmocka_unit_test(test_skip_node_leaves_it_out),
		cmocka_unit_test(test_plain_http_stops_at_the_first_node),
		cmocka_unit_test(test_untrusted_certificate_fails_before_any_http),
		cmocka_unit_test(test_web_server_answer_is_an_http_status_failure),
		cmocka_unit_test(test_silent_tls_server_times_out_in_the_upgrade),
		cmocka_unit_test(test_each_connection_has_a_fresh_key_wiped_on_close),
		cmocka_unit_test(test_handshake_over_a_scripted_stream_is_admitted),
		cmocka_unit_test(test_recv_returns_at_its_deadline_during_a_keepalive_flood),
		cmocka_unit_test(test_recv_without_waiting_skips_at_most_the_budget),
		cmocka_unit_test(test_unknown_frame_flood_is_bounded_the_same_way),
		cmocka_unit_test(test_keepalive_flood_instead_of_serverinfo_times_out_the_handshake),
		cmocka_unit_test(test_silence_instead_of_serverinfo_times_out_the_handshake),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
