/*
 * dc_tls_connect / dc_tls_verify against real peers on loopback: openssl s_server with a
 * throw-away PKI (tests/tools/mkpki.sh), and tiny in-process servers for the failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/net/tlsconn.h"

static char pki[64];
static pid_t server_pid;
static int server_port;

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* A listening socket on an ephemeral loopback port. */
static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = loopback(0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = loopback(port);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int start_s_server(void **state)
{
	(void)state;
	snprintf(pki, sizeof(pki), "/tmp/derpcheck-tls.XXXXXX");
	if (!mkdtemp(pki))
		return -1;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "tests/tools/mkpki.sh %s", pki);
	if (system(cmd) != 0)
		return -1;
	/* Pick a free port by binding, then hand it to s_server. */
	int fd = listen_any(&server_port);
	close(fd);
	char accept_arg[32], cert[128], key[128];
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%d", server_port);
	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server.key", pki);
	server_pid = fork();
	if (server_pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept_arg, "-cert", cert, "-key", key,
		       "-www", (char *)NULL);
		_exit(127);
	}
	/* Ready when the port accepts, within 5 s. */
	uint64_t deadline = dc_now_ns() + 5000000000ull;
	while (dc_now_ns() < deadline) {
		if (port_answers(server_port))
			return 0;
		usleep(20000);
	}
	return -1;
}

static int stop_s_server(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	return system(cmd) == 0 ? 0 : -1;
}

static void connect_ok(struct dc_tls_conn *c, const char *sni)
{
	struct sockaddr_in sa = loopback(server_port);
	struct dc_tls_opts opts = {.sni = sni, .timeout_ms = 3000};
	struct dc_error err;
	int rc = dc_tls_connect((struct sockaddr *)&sa, sizeof(sa), &opts, c, &err);
	if (rc != 0)
		fail_msg("connect: %s: %s", err.where, err.what);
}

static void test_chain_verifies_with_the_issuing_ca(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "localhost");
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(dc_tls_peer_chain(&c), "localhost", "", ca, &v, &err), 0);
	assert_true(v.ok);
	assert_string_equal(v.name_checked, "localhost");
	assert_true(c.tcp_ns > 0 && c.tls_ns > 0);
	assert_int_equal(strncmp(c.peer, "127.0.0.1:", 10), 0);
	dc_tls_close(&c);
}

static void test_private_ca_unknown_to_the_system_store(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "localhost");
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(dc_tls_peer_chain(&c), "localhost", "", NULL, &v, &err), 0);
	assert_false(v.ok);
	bool issuer_missing = false;
	for (size_t i = 0; i < v.count; i++)
		issuer_missing |= v.problems[i].code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
				  v.problems[i].code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
	assert_true(issuer_missing);
	dc_tls_close(&c);
}

static void test_wrong_name_is_a_hostname_mismatch(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "derp.example.com");
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(dc_tls_peer_chain(&c), "derp.example.com", "", ca, &v, &err), 0);
	assert_false(v.ok);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.problems[0].code, X509_V_ERR_HOSTNAME_MISMATCH);
	dc_tls_close(&c);
}

static void test_certname_overrides_the_name_checked(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "derp.example.com");
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(dc_tls_peer_chain(&c), "derp.example.com", "localhost", ca, &v, &err), 0);
	assert_true(v.ok);
	assert_string_equal(v.name_checked, "localhost");
	dc_tls_close(&c);
}

static void test_ip_hostname_checks_no_name_like_go(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "127.0.0.2");
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	struct dc_tls_verdict v;
	struct dc_error err;
	/* 127.0.0.2 is not in the certificate, but Go checks no name for an IP HostName. */
	assert_int_equal(dc_tls_verify(dc_tls_peer_chain(&c), "127.0.0.2", "", ca, &v, &err), 0);
	assert_true(v.ok);
	assert_null(v.name_checked);
	dc_tls_close(&c);
}

static void test_sha256_raw_pin_matches_the_leaf_only(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "localhost");
	STACK_OF(X509) *chain = dc_tls_peer_chain(&c);
	char hex[65], pin[80];
	dc_tls_cert_sha256_hex(sk_X509_value(chain, 0), hex);
	assert_int_equal(strlen(hex), 64);
	snprintf(pin, sizeof(pin), "sha256-raw:%s", hex);
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(chain, "localhost", pin, NULL, &v, &err), 0);
	assert_true(v.pinned);
	assert_true(v.ok);
	pin[11] = pin[11] == '0' ? '1' : '0';
	assert_int_equal(dc_tls_verify(chain, "localhost", pin, NULL, &v, &err), 0);
	assert_false(v.ok);
	assert_int_equal(v.problems[0].code, DC_TLS_ERR_PIN_MISMATCH);
	dc_tls_close(&c);
}

static void test_bad_ca_file_is_an_error_naming_it(void **state)
{
	(void)state;
	struct dc_tls_conn c;
	connect_ok(&c, "localhost");
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(dc_tls_peer_chain(&c), "localhost", "", "/nonexistent/ca.pem", &v, &err), -1);
	assert_string_equal(err.where, "/nonexistent/ca.pem");
	assert_non_null(strstr(err.hint, "--ca-file"));
	dc_tls_close(&c);
}

static void test_closed_port_is_refused_with_a_hint(void **state)
{
	(void)state;
	int port;
	int fd = listen_any(&port);
	close(fd); /* nothing listens there now */
	struct sockaddr_in sa = loopback(port);
	struct dc_tls_opts opts = {.sni = "localhost", .timeout_ms = 2000};
	struct dc_tls_conn c;
	struct dc_error err;
	assert_int_equal(dc_tls_connect((struct sockaddr *)&sa, sizeof(sa), &opts, &c, &err), -1);
	assert_int_equal(c.failure, DC_CONN_REFUSED);
	assert_non_null(strstr(err.what, "refused"));
	assert_non_null(strstr(err.hint, "derper"));
	char want[32];
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	assert_string_equal(err.where, want);
}

static void test_plain_http_on_the_port_is_not_tls(void **state)
{
	(void)state;
	int port;
	int lfd = listen_any(&port);
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = accept(lfd, NULL, NULL);
		char buf[512];
		(void)!read(cfd, buf, sizeof(buf));
		static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		(void)!write(cfd, reply, sizeof(reply) - 1);
		close(cfd);
		_exit(0);
	}
	close(lfd);
	struct sockaddr_in sa = loopback(port);
	struct dc_tls_opts opts = {.sni = "localhost", .timeout_ms = 3000};
	struct dc_tls_conn c;
	struct dc_error err;
	assert_int_equal(dc_tls_connect((struct sockaddr *)&sa, sizeof(sa), &opts, &c, &err), -1);
	assert_int_equal(c.failure, DC_CONN_NOT_TLS);
	assert_non_null(strstr(err.what, "does not look like a TLS handshake"));
	waitpid(pid, NULL, 0);
}

static void test_silent_server_times_out_on_time(void **state)
{
	(void)state;
	int port;
	int lfd = listen_any(&port); /* the kernel completes TCP; nobody ever speaks TLS */
	struct sockaddr_in sa = loopback(port);
	struct dc_tls_opts opts = {.sni = "localhost", .timeout_ms = 300};
	struct dc_tls_conn c;
	struct dc_error err;
	uint64_t start = dc_now_ns();
	assert_int_equal(dc_tls_connect((struct sockaddr *)&sa, sizeof(sa), &opts, &c, &err), -1);
	uint64_t elapsed_ms = (dc_now_ns() - start) / 1000000;
	assert_int_equal(c.failure, DC_CONN_TIMEOUT);
	assert_non_null(strstr(err.what, "TLS handshake timed out"));
	assert_true(elapsed_ms >= 290 && elapsed_ms < 1500);
	close(lfd);
}

static void test_metacert_key_and_version_are_read(void **state)
{
	(void)state;
	/* Build a derper-style meta certificate in memory: CN derpkey<hex>, serial 2. */
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *cert = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 2);
	char cn[80] = "derpkey";
	for (int i = 0; i < 32; i++)
		snprintf(cn + 7 + 2 * i, 3, "%02x", i);
	X509_NAME *name = X509_get_subject_name(cert);
	/* 71 characters: longer than X.509's 64-character CN bound, as derper writes it. */
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING, (unsigned char *)cn, -1, -1, 0), 1);
	X509_set_issuer_name(cert, name);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, pkey);
	X509_sign(cert, pkey, NULL);
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, cert);
	assert_true(dc_tls_is_metacert(cert));
	uint8_t key[32];
	int version = -1;
	assert_int_equal(dc_tls_find_derpkey(chain, key, &version), 0);
	assert_int_equal(version, 2);
	for (int i = 0; i < 32; i++)
		assert_int_equal(key[i], i);
	/* A chain of only the metacert presents no real certificate. */
	struct dc_tls_verdict v;
	struct dc_error err;
	assert_int_equal(dc_tls_verify(chain, "derp.test", "", NULL, &v, &err), 0);
	assert_false(v.ok);
	assert_int_equal(v.problems[0].code, DC_TLS_ERR_NO_CERT);
	sk_X509_free(chain);
	X509_free(cert);
	EVP_PKEY_free(pkey);
}

static void test_race_keeps_the_address_that_connects(void **state)
{
	(void)state;
	int dead_port;
	int fd = listen_any(&dead_port);
	close(fd);
	struct sockaddr_in dead = loopback(dead_port), live = loopback(server_port);
	struct dc_tls_addr addrs[] = {
		{(struct sockaddr *)&dead, sizeof(dead)},
		{(struct sockaddr *)&live, sizeof(live)},
	};
	struct dc_tls_opts opts = {.sni = "localhost", .timeout_ms = 3000};
	struct dc_tls_conn c;
	struct dc_error err;
	int used = dc_tls_connect_race(addrs, 2, 1500, &opts, &c, &err);
	if (used < 0)
		fail_msg("race: %s: %s", err.where, err.what);
	assert_int_equal(used, 1);
	char want[32];
	snprintf(want, sizeof(want), "127.0.0.1:%d", server_port);
	assert_string_equal(c.peer, want);
	assert_non_null(dc_tls_peer_chain(&c));
	dc_tls_close(&c);
}

static void test_race_names_every_failed_address(void **state)
{
	(void)state;
	int p1, p2;
	int f1 = listen_any(&p1), f2 = listen_any(&p2);
	close(f1);
	close(f2);
	struct sockaddr_in a = loopback(p1), b = loopback(p2);
	struct dc_tls_addr addrs[] = {{(struct sockaddr *)&a, sizeof(a)}, {(struct sockaddr *)&b, sizeof(b)}};
	struct dc_tls_opts opts = {.sni = "localhost", .timeout_ms = 2000};
	struct dc_tls_conn c;
	struct dc_error err;
	assert_int_equal(dc_tls_connect_race(addrs, 2, 1500, &opts, &c, &err), -1);
	assert_int_equal(c.failure, DC_CONN_REFUSED);
	char want[160];
	snprintf(want, sizeof(want), "TCP connection refused; 127.0.0.1:%d: Connection refused", p2);
	assert_string_equal(err.what, want);
	snprintf(want, sizeof(want), "127.0.0.1:%d", p1);
	assert_string_equal(err.where, want);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_verifies_with_the_issuing_ca),
		cmocka_unit_test(test_private_ca_unknown_to_the_system_store),
		cmocka_unit_test(test_wrong_name_is_a_hostname_mismatch),
		cmocka_unit_test(test_certname_overrides_the_name_checked),
		cmocka_unit_test(test_ip_hostname_checks_no_name_like_go),
		cmocka_unit_test(test_sha256_raw_pin_matches_the_leaf_only),
		cmocka_unit_test(test_bad_ca_file_is_an_error_naming_it),
		cmocka_unit_test(test_closed_port_is_refused_with_a_hint),
		cmocka_unit_test(test_plain_http_on_the_port_is_not_tls),
		cmocka_unit_test(test_silent_server_times_out_on_time),
		cmocka_unit_test(test_metacert_key_and_version_are_read),
		cmocka_unit_test(test_race_keeps_the_address_that_connects),
		cmocka_unit_test(test_race_names_every_failed_address),
	};
	return cmocka_run_group_tests(tests, start_s_server, stop_s_server);
}
