/* The deployment readers: compose, docker inspect, systemd units, /proc cmdline and /proc/net. */
#include "testlib.h"

#include "derpcheck/input/deployment.h"
#include "derpcheck/probe/listeners.h"

static void test_port_short_syntax_and_udp(void **state)
{
	(void)state;
	struct dc_port_publish p[8];
	size_t n = 0;
	struct dc_error err;
	assert_int_equal(dc_port_spec_parse("3478:38893/udp", p, 8, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].host_port, 3478);
	assert_int_equal(p[0].container_port, 38893);
	assert_true(p[0].udp);
	assert_int_equal(dc_port_spec_parse("127.0.0.1:8443:443", p, 8, &n, &err), 0);
	assert_string_equal(p[1].host_ip, "127.0.0.1");
	assert_int_equal(dc_port_spec_parse("[::1]:80:80/tcp", p, 8, &n, &err), 0);
	assert_string_equal(p[2].host_ip, "::1");
	assert_false(p[2].udp);
	assert_int_equal(dc_port_spec_parse("3478", p, 8, &n, &err), 0);
	assert_int_equal(p[3].host_port, 0); /* docker picks the host port */
}

static void test_port_ranges_expand(void **state)
{
	(void)state;
	struct dc_port_publish p[8];
	size_t n = 0;
	struct dc_error err;
	assert_int_equal(dc_port_spec_parse("38890-38892:38890-38892/udp", p, 8, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[2].host_port, 38892);
	assert_int_equal(p[2].container_port, 38892);
	n = 0;
	assert_int_equal(dc_port_spec_parse("1-3:1-2", p, 8, &n, &err), -1);
	assert_int_equal(dc_port_spec_parse("1-9:1-9", p, 4, &n, &err), -1); /* more than fit */
}

static void test_port_errors(void **state)
{
	(void)state;
	struct dc_port_publish p[4];
	size_t n = 0;
	struct dc_error err;
	assert_int_equal(dc_port_spec_parse("80:80/quic", p, 4, &n, &err), -1);
	assert_int_equal(dc_port_spec_parse("a:b", p, 4, &n, &err), -1);
	assert_int_equal(dc_port_spec_parse("1:2:3:4", p, 4, &n, &err), -1);
	assert_int_equal(dc_port_spec_parse("80:0", p, 4, &n, &err), -1);
	assert_int_equal(n, 0);
}

static void test_words_split_like_a_shell(void **state)
{
	(void)state;
	char *w[8];
	int n = dc_split_words("derper -hostname 'derp x' \"a\\\"b\" c\\ d", w, 8);
	assert_int_equal(n, 5);
	assert_string_equal(w[2], "derp x");
	assert_string_equal(w[3], "a\"b");
	assert_string_equal(w[4], "c d");
	for (int i = 0; i < n; i++)
		free(w[i]);
	assert_int_equal(dc_split_words("derper 'open", w, 8), -1);
}

static void test_command_names_derper_or_only_flags(void **state)
{
	(void)state;
	struct dc_deployment d;
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	char *a[] = {"/app/derper", "-a", ":1"};
	dc_deployment_set_command(&d, a, 3);
	assert_true(d.argv_known);
	assert_string_equal(d.program, "/app/derper");
	assert_int_equal(d.argc, 2);
	char *b[] = {"-a", ":1"};
	dc_deployment_set_command(&d, b, 2);
	assert_true(d.argv_known);
	assert_int_equal(d.argc, 2);
	char *c[] = {"/entrypoint.sh"};
	dc_deployment_set_command(&d, c, 1);
	assert_false(d.argv_known);
	char *e[] = {"sh", "-c", "exec /app/derper -a $ADDR"};
	dc_deployment_set_command(&d, e, 3);
	assert_false(d.argv_known);
	assert_non_null(strstr(d.argv_problem, "$ADDR"));
	char *f[] = {"sh", "-c", "exec /app/derper -a :9"};
	dc_deployment_set_command(&d, f, 3);
	assert_true(d.argv_known);
	assert_string_equal(d.argv[1], ":9");
	dc_deployment_free(&d);
}

static const char compose_seed[] =
	"services:\n"
	"  derper:\n"
	"    image: derper:1.34.2\n"
	"    command: [/app/derper, -a, \":38894\", -stun-port, \"38893\"]\n"
	"    ports:\n"
	"      - \"38894:38894\"\n"
	"      - \"3478:38893/udp\"\n"
	"      - target: 80\n"
	"        published: 8080\n"
	"    volumes:\n"
	"      - ./certs:/app/certs:ro\n"
	"      - data:/var/lib/derper\n";

static void test_compose_reads_the_seed(void **state)
{
	(void)state;
	struct dc_deployment d;
	struct dc_error err;
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(compose_seed, strlen(compose_seed), "/srv/derp/docker-compose.yml", NULL, &d, &err), 0);
	assert_string_equal(d.name, "derper");
	assert_true(d.argv_known && d.in_container && !d.host_network);
	assert_int_equal(d.argc, 4);
	assert_int_equal(d.port_count, 3);
	assert_int_equal(d.ports[1].host_port, 3478);
	assert_true(d.ports[1].udp);
	assert_int_equal(d.ports[1].pos.line, 7);
	assert_int_equal(d.ports[2].host_port, 8080);
	assert_int_equal(d.ports[2].container_port, 80);
	assert_int_equal(d.mount_count, 2);
	assert_string_equal(d.mounts[0].source, "/srv/derp/certs");
	assert_true(d.mounts[1].named_volume);
	char path[PATH_MAX];
	const struct dc_mount *m;
	assert_true(dc_deployment_host_path(&d, "/app/certs/x.crt", path, sizeof(path), &m));
	assert_string_equal(path, "/srv/derp/certs/x.crt");
	assert_false(dc_deployment_host_path(&d, "/etc/x", path, sizeof(path), &m));
	assert_false(dc_deployment_host_path(&d, "/var/lib/derper/k", path, sizeof(path), &m));
	assert_non_null(m); /* the named volume covers it, but its files are not at a host path */
	dc_deployment_free(&d);
}

static void test_compose_variables_make_flags_unreadable(void **state)
{
	(void)state;
	const char *y = "services:\n  derp:\n    image: x/derper\n    environment:\n      DERP_DOMAIN: a.test\n"
			"    command: derper -hostname ${DERP_DOMAIN}\n";
	struct dc_deployment d;
	struct dc_error err;
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(y, strlen(y), "c.yml", NULL, &d, &err), 0);
	assert_false(d.argv_known);
	assert_non_null(strstr(d.argv_problem, "${DERP_DOMAIN}"));
	assert_non_null(strstr(d.argv_problem, "DERP_DOMAIN"));
	dc_deployment_free(&d);
}

static void test_compose_errors_name_the_place(void **state)
{
	(void)state;
	struct dc_deployment d;
	struct dc_error err;
	const char *two = "services:\n  a:\n    image: derper\n  b:\n    image: derper2\n";
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(two, strlen(two), "c.yml", NULL, &d, &err), -1);
	assert_string_equal(err.where, "c.yml:2:3");
	dc_deployment_free(&d);
	const char *badport = "services:\n  a:\n    ports: [\"x:y\"]\n";
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(badport, strlen(badport), "c.yml", NULL, &d, &err), -1);
	assert_string_equal(err.where, "c.yml:3:13");
	dc_deployment_free(&d);
	const char *tab = "services:\n\ta: 1\n";
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(tab, strlen(tab), "c.yml", NULL, &d, &err), -1);
	dc_deployment_free(&d);
}

static void test_compose_host_network_ignores_ports(void **state)
{
	(void)state;
	const char *y = "services:\n  d:\n    network_mode: host\n    command: derper\n    ports: [\"1:1\"]\n";
	struct dc_deployment d;
	struct dc_error err;
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(y, strlen(y), "c.yml", NULL, &d, &err), 0);
	assert_true(d.host_network && d.ports_ignored);
	dc_deployment_free(&d);
}

static void test_inspect_expands_a_shell_command_from_env(void **state)
{
	(void)state;
	const char *j = "[{\"Name\":\"/derper\",\"Config\":{\"Env\":[\"D=derp.test\"],\"Cmd\":[\"/bin/sh\",\"-c\","
			"\"/app/derper --hostname=$D --a=:1\"],\"Entrypoint\":null},"
			"\"HostConfig\":{\"NetworkMode\":\"bridge\",\"PortBindings\":{\"3478/udp\":[{\"HostIp\":\"\",\"HostPort\":\"3478\"}]}},"
			"\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv/certs\",\"Destination\":\"/app/certs\"}]}]";
	struct dc_deployment d;
	struct dc_error err;
	dc_deployment_init(&d, DC_DEPLOY_INSPECT);
	assert_int_equal(dc_inspect_parse(j, strlen(j), "i.json", &d, &err), 0);
	assert_true(d.argv_known);
	assert_string_equal(d.argv[0], "--hostname=derp.test");
	assert_int_equal(d.port_count, 1);
	assert_true(d.ports[0].udp);
	assert_string_equal(d.mounts[0].target, "/app/certs");
	dc_deployment_free(&d);
	dc_deployment_init(&d, DC_DEPLOY_INSPECT);
	assert_int_equal(dc_inspect_parse("[1,2]", 5, "i.json", &d, &err), -1);
	assert_int_equal(dc_inspect_parse("{", 1, "i.json", &d, &err), -1);
	assert_int_equal(dc_inspect_parse("{}", 2, "i.json", &d, &err), -1);
	dc_deployment_free(&d);
}

static void test_systemd_last_execstart_prefixes_and_continuations(void **state)
{
	(void)state;
	const char *u = "[Unit]\nExecStart=/bin/false\n[Service]\nEnvironment=\"H=derp.test\" X=1\n"
			"ExecStart=/usr/bin/derper -a :1\nExecStart=\nExecStart=-@/usr/bin/derper derper -hostname $H \\\n"
			"  -a :38894\n# ExecStart=/bin/true\nWorkingDirectory=-/var/lib/derper\n";
	struct dc_deployment d;
	struct dc_error err;
	dc_deployment_init(&d, DC_DEPLOY_SYSTEMD);
	assert_int_equal(dc_sysunit_parse(u, strlen(u), "derper.service", &d, &err), 0);
	assert_true(d.argv_known);
	assert_int_equal(d.argc, 4);
	assert_string_equal(d.argv[1], "derp.test");
	assert_string_equal(d.argv[3], ":38894");
	assert_string_equal(d.workdir, "/var/lib/derper");
	dc_deployment_free(&d);
	dc_deployment_init(&d, DC_DEPLOY_SYSTEMD);
	assert_int_equal(dc_sysunit_parse("[Service]\nType=simple\n", 22, "x.service", &d, &err), -1);
	assert_int_equal(dc_sysunit_parse("a\0b", 3, "x.service", &d, &err), -1);
	dc_deployment_free(&d);
}

static void test_proc_cmdline_is_nul_separated(void **state)
{
	(void)state;
	struct dc_deployment d;
	struct dc_error err;
	dc_deployment_init(&d, DC_DEPLOY_PROCESS);
	const char buf[] = "/usr/bin/derper\0-a\0:443";
	assert_int_equal(dc_proc_parse_cmdline(buf, sizeof(buf) - 1, &d, &err), 0);
	assert_string_equal(d.program, "/usr/bin/derper");
	assert_int_equal(d.argc, 2);
	assert_string_equal(d.argv[1], ":443");
	assert_int_equal(dc_proc_parse_cmdline("", 0, &d, &err), -1);
	dc_deployment_free(&d);
}

static void test_proc_net_keeps_listeners_and_unconnected_udp(void **state)
{
	(void)state;
	const char tcp[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0100007F:97EE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n"
		"   1: 0100007F:97EE 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n";
	const char udp6[] =
		"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
		"  1: 00000000000000000000000000000000:0D96 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 777 2 0 0\n";
	struct dc_listeners l = {0};
	struct dc_error err;
	assert_int_equal(dc_proc_net_parse(tcp, sizeof(tcp) - 1, false, false, &l, &err), 0);
	assert_int_equal(dc_proc_net_parse(udp6, sizeof(udp6) - 1, true, true, &l, &err), 0);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].local.port, 38894);
	assert_int_equal(l.items[0].local.ip[0], 127);
	assert_int_equal(l.items[0].inode, 4242);
	assert_int_equal(l.items[1].local.port, 3478);
	assert_int_equal(l.items[1].local.family, 6);
	const struct dc_socket_entry *e[2];
	assert_int_equal(dc_listeners_on(&l, true, 3478, e, 2), 1);
	assert_int_equal(dc_listeners_on(&l, false, 3478, e, 2), 0);
	const char bad[] = "header\n   0: 0100007F:97EE 00000000:0000 0A\n";
	assert_int_equal(dc_proc_net_parse(bad, sizeof(bad) - 1, false, false, &l, &err), -1);
	dc_listeners_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_short_syntax_and_udp),
		cmocka_unit_test(test_port_ranges_expand),
		cmocka_unit_test(test_port_errors),
		cmocka_unit_test(test_words_split_like_a_shell),
		cmocka_unit_test(test_command_names_derper_or_only_flags),
		cmocka_unit_test(test_compose_reads_the_seed),
		cmocka_unit_test(test_compose_variables_make_flags_unreadable),
		cmocka_unit_test(test_compose_errors_name_the_place),
		cmocka_unit_test(test_compose_host_network_ignores_ports),
		cmocka_unit_test(test_inspect_expands_a_shell_command_from_env),
		cmocka_unit_test(test_systemd_last_execstart_prefixes_and_continuations),
		cmocka_unit_test(test_proc_cmdline_is_nul_separated),
		cmocka_unit_test(test_proc_net_keeps_listeners_and_unconnected_udp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
