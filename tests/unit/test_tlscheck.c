/*
 * dc_tlscheck_*: chains built in memory (testpki.h), judged at a pinned time, with the
 * CA given as --ca-file and AIA answered by an in-process fetcher (no network).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derpcheck/judge/bakedroots.h"
#include "derpcheck/judge/tlscheck.h"
#include "testpki.h"

static char dir[64];
static char ca_file[128];
static struct tp_pki pki;

/* The AIA "server": URL -> certificate (DER), and how often each was asked. */
struct fake_aia {
	const char *url[4];
	X509 *cert[4];
	int calls;
};

static int fake_fetch(void *user, const char *url, long timeout_ms, struct dc_buf *body, struct dc_error *err)
{
	struct fake_aia *f = user;
	assert_true(timeout_ms > 0 && timeout_ms <= DC_AIA_FETCH_MS);
	f->calls++;
	for (int i = 0; i < 4 && f->url[i]; i++)
		if (strcmp(f->url[i], url) == 0) {
			unsigned char *der = NULL;
			int len = i2d_X509(f->cert[i], &der);
			dc_buf_append(body, der, (size_t)len);
			OPENSSL_free(der);
			return 0;
		}
	return dc_error_set(err, url, "HTTP status 404");
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/derpcheck-tlscheck.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	tp_pki_make(&pki, NULL);
	snprintf(ca_file, sizeof(ca_file), "%s/root.pem", dir);
	tp_write_pem(ca_file, (X509 *[]){pki.root, NULL});
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_pki_free(&pki);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct dc_tlscheck_opts base_opts(struct fake_aia *aia)
{
	return (struct dc_tlscheck_opts){
		.host_name = "derp.test", .ca_file = ca_file, .now = TP_NOW, .timeout_ms = 5000,
		.command = "derpcheck cert derp.test", .fetch = fake_fetch, .fetch_user = aia,
	};
}

/* "code,code | ok FAIL ok ok" like the integration test's summary. */
static void summary(const struct dc_cert_report *r, char *out, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < r->findings.count; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", r->findings.items[i].code);
	snprintf(out + strlen(out), n - strlen(out), " |");
	for (int c = 0; c < DC_CLIENT_COUNT; c++)
		snprintf(out + strlen(out), n - strlen(out), " %s", r->clients[c].ok ? "ok" : "FAIL");
}

static void judge(STACK_OF(X509) *chain, const struct dc_tlscheck_opts *o, struct dc_cert_report *r, const char *want)
{
	struct dc_error err;
	dc_cert_report_init(r);
	assert_int_equal(dc_tlscheck_chain(chain, false, o, r, &err), 0);
	char got[400];
	summary(r, got, sizeof(got));
	assert_string_equal(got, want);
}

static void test_full_chain_is_accepted_by_every_client(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	STACK_OF(X509) *chain = tp_chain(pki.leaf, pki.inter, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, " | ok ok ok ok");
	assert_int_equal(aia.calls, 0); /* nothing is fetched when nothing is missing */
	assert_string_equal(r.clients[DC_CLIENT_CURL].says, "accepts");
	assert_non_null(r.fullchain);
	assert_false(r.fullchain_differs);
	assert_int_equal(r.certs[1].role, DC_ROLE_INTERMEDIATE);
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

/* Files on disk are what derper will serve: worded as the file, never as "the server". */
static void test_leaf_only_file_is_worded_as_the_file(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	o.no_aia = true;
	STACK_OF(X509) *chain = tp_chain(pki.leaf, NULL, NULL);
	struct dc_cert_report r;
	struct dc_error err;
	dc_cert_report_init(&r);
	assert_int_equal(dc_tlscheck_chain(chain, true, &o, &r, &err), 0);
	assert_string_equal(r.brief, "the certificate file lacks its intermediate certificate: curl and Tailscale on "
				     "Linux/Android reject the chain derper serves from it");
	const struct dc_finding *f = NULL;
	for (size_t i = 0; i < r.findings.count && !f; i++)
		if (strcmp(r.findings.items[i].code, "chain-incomplete") == 0)
			f = &r.findings.items[i];
	assert_non_null(f);
	assert_non_null(strstr(f->message, "the certificate file holds the certificate without the intermediate"));
	assert_non_null(strstr(f->message, "AIA was not followed (not for files)"));
	assert_null(strstr(f->message, "--no-aia"));
	assert_null(strstr(f->message, "the server"));
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_leaf_only_completes_through_aia_once_per_url(void **state)
{
	(void)state;
	struct fake_aia aia = {.url = {"http://aia.test/int.der"}, .cert = {pki.inter}};
	struct dc_tlscheck_opts o = base_opts(&aia);
	o.cache = dc_aia_cache_new();
	STACK_OF(X509) *chain = tp_chain(pki.leaf, NULL, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "chain-incomplete | FAIL FAIL ok ok");
	assert_true(r.clients[DC_CLIENT_TS_PLATFORM].via_aia);
	assert_string_equal(r.clients[DC_CLIENT_TS_GO].says, "x509: certificate signed by unknown authority");
	assert_string_equal(r.clients[DC_CLIENT_CURL].says,
			    "curl: (60) SSL certificate problem: unable to get local issuer certificate");
	assert_string_equal(r.brief, "the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain");
	assert_int_equal(sk_X509_num(r.fullchain), 2);
	assert_true(r.fullchain_differs && r.fullchain_verifies);
	assert_int_equal(r.fetch_count, 1);
	assert_false(r.fetches[0].cached);
	assert_string_equal(r.fetches[0].result, "DER, 1 certificate");
	assert_int_equal(r.certs[r.count - 1].origin, DC_ORIGIN_AIA);
	dc_cert_report_free(&r);
	/* The same URL again in this run comes from the cache. */
	judge(chain, &o, &r, "chain-incomplete | FAIL FAIL ok ok");
	assert_int_equal(aia.calls, 1);
	assert_true(r.fetches[0].cached);
	dc_cert_report_free(&r);
	dc_aia_cache_free(o.cache);
	sk_X509_free(chain);
}

static void test_no_aia_fetches_nothing(void **state)
{
	(void)state;
	struct fake_aia aia = {.url = {"http://aia.test/int.der"}, .cert = {pki.inter}};
	struct dc_tlscheck_opts o = base_opts(&aia);
	o.no_aia = true;
	STACK_OF(X509) *chain = tp_chain(pki.leaf, NULL, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "chain-incomplete | FAIL FAIL FAIL FAIL");
	assert_int_equal(aia.calls, 0);
	assert_null(r.fullchain);
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_unrelated_intermediate_is_the_wrong_one(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	EVP_PKEY *k = tp_key();
	X509 *other = tp_cert("Other Intermediate", k, pki.root, pki.root_key, &(struct tp_opts){.ca = true});
	STACK_OF(X509) *chain = tp_chain(pki.leaf, other, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "wrong-intermediate | FAIL FAIL FAIL FAIL");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
	X509_free(other);
	EVP_PKEY_free(k);
}

static void test_expired_leaf_counts_days_at_the_given_time(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	EVP_PKEY *k = tp_key();
	X509 *old = tp_cert("derp.test", k, pki.inter, pki.int_key,
			    &(struct tp_opts){.sans = "DNS:derp.test", .from_days = -100, .to_days = -10});
	STACK_OF(X509) *chain = tp_chain(old, pki.inter, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "expired | FAIL FAIL FAIL FAIL");
	assert_non_null(strstr(r.findings.items[0].message, "the certificate expired on 2026-05-22 00:00:00 UTC, 10 days ago"));
	assert_string_equal(r.clients[DC_CLIENT_TS_GO].says,
			    "x509: certificate has expired or is not yet valid: current time 2026-06-01T00:00:00Z is after 2026-05-22T00:00:00Z");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
	X509_free(old);
	EVP_PKEY_free(k);
}

static void test_common_name_only_passes_curl_and_fails_go(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	EVP_PKEY *k = tp_key();
	X509 *cn = tp_cert("derp.test", k, pki.inter, pki.int_key, &(struct tp_opts){.eku = "serverAuth"});
	STACK_OF(X509) *chain = tp_chain(cn, pki.inter, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "cn-only | ok FAIL FAIL FAIL");
	assert_string_equal(r.clients[DC_CLIENT_TS_GO].says, "x509: certificate relies on legacy Common Name field, use SANs instead");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
	X509_free(cn);
	EVP_PKEY_free(k);
}

static void test_names_go_lists_the_sans_it_has(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	o.host_name = "relay.derp.test";
	STACK_OF(X509) *chain = tp_chain(pki.leaf, pki.inter, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "name-mismatch | FAIL FAIL FAIL FAIL");
	assert_string_equal(r.clients[DC_CLIENT_TS_GO].says, "x509: certificate is valid for derp.test, not relay.derp.test");
	dc_cert_report_free(&r);
	o.host_name = "other.example";
	judge(chain, &o, &r, "wrong-domain | FAIL FAIL FAIL FAIL");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_ip_hostname_is_not_name_checked_by_tailscale(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	o.host_name = "192.0.2.7";
	STACK_OF(X509) *chain = tp_chain(pki.leaf, pki.inter, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "ip-san-missing | FAIL ok ok FAIL");
	assert_int_equal(r.findings.items[0].severity, DC_SEV_WARNING);
	dc_cert_report_free(&r);
	o.host_name = "127.0.0.1"; /* the certificate has this IP SAN */
	judge(chain, &o, &r, " | ok ok ok ok");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_sha256_raw_pin_of_a_self_signed_leaf(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	EVP_PKEY *k = tp_key();
	X509 *ss = tp_cert("derp.test", k, NULL, NULL, &(struct tp_opts){.sans = "DNS:derp.test", .eku = "serverAuth"});
	char pin[80], hex[65];
	dc_tls_cert_sha256_hex(ss, hex);
	snprintf(pin, sizeof(pin), "sha256-raw:%s", hex);
	o.cert_name = pin;
	STACK_OF(X509) *chain = tp_chain(ss, NULL, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "self-signed | FAIL ok ok FAIL");
	dc_cert_report_free(&r);
	pin[11] = pin[11] == 'a' ? 'b' : 'a';
	judge(chain, &o, &r, "pin-mismatch,self-signed | FAIL FAIL FAIL FAIL");
	assert_string_equal(r.clients[DC_CLIENT_TS_GO].says, "cert hash does not match expected cert hash");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
	X509_free(ss);
	EVP_PKEY_free(k);
}

static void test_client_auth_only_and_sha1_are_named(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	EVP_PKEY *k = tp_key();
	X509 *client = tp_cert("derp.test", k, pki.inter, pki.int_key, &(struct tp_opts){.sans = "DNS:derp.test", .eku = "clientAuth"});
	X509 *sha1 = tp_cert("derp.test", k, pki.inter, pki.int_key, &(struct tp_opts){.sans = "DNS:derp.test", .md = EVP_sha1()});
	STACK_OF(X509) *chain = tp_chain(client, pki.inter, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "no-server-auth | FAIL FAIL FAIL FAIL");
	dc_cert_report_free(&r);
	sk_X509_set(chain, 0, sha1);
	judge(chain, &o, &r, "weak-signature | FAIL FAIL FAIL FAIL");
	assert_string_equal(r.clients[DC_CLIENT_TS_GO].says,
			    "x509: certificate signed by unknown authority (possibly because of \"x509: cannot verify signature: "
			    "insecure algorithm ECDSA-SHA1\" while trying to verify candidate authority certificate \"Test Intermediate\")");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
	X509_free(client);
	X509_free(sha1);
	EVP_PKEY_free(k);
}

static void test_reversed_tail_and_root_are_warnings(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	STACK_OF(X509) *chain = tp_chain(pki.leaf, pki.root, pki.inter);
	struct dc_cert_report r;
	judge(chain, &o, &r, "chain-order,chain-sends-root | ok ok ok ok");
	assert_int_equal(dc_cert_report_errors(&r), 0);
	assert_int_equal(sk_X509_num(r.fullchain), 2); /* leaf, intermediate: the root is never written */
	assert_true(r.fullchain_differs);
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_write_fullchain_is_pem_leaf_first(void **state)
{
	(void)state;
	struct fake_aia aia = {.url = {"http://aia.test/int.der"}, .cert = {pki.inter}};
	struct dc_tlscheck_opts o = base_opts(&aia);
	STACK_OF(X509) *chain = tp_chain(pki.leaf, NULL, NULL);
	struct dc_cert_report r;
	judge(chain, &o, &r, "chain-incomplete | FAIL FAIL ok ok");
	char path[160];
	snprintf(path, sizeof(path), "%s/derp.test.crt", dir);
	struct dc_error err;
	assert_int_equal(dc_tlscheck_write_fullchain(&r, path, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	FILE *f = fopen(path, "r");
	X509 *first = PEM_read_X509(f, NULL, NULL, NULL);
	X509 *second = PEM_read_X509(f, NULL, NULL, NULL);
	X509 *third = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_int_equal(X509_cmp(first, pki.leaf), 0);
	assert_int_equal(X509_cmp(second, pki.inter), 0);
	assert_null(third);
	X509_free(first);
	X509_free(second);
	dc_cert_report_free(&r);
	/* Without a complete chain there is nothing to write, and it says why. */
	o.no_aia = true;
	judge(chain, &o, &r, "chain-incomplete | FAIL FAIL FAIL FAIL");
	assert_int_equal(dc_tlscheck_write_fullchain(&r, path, &err), -1);
	assert_non_null(strstr(err.what, "not written"));
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_unreadable_ca_file_is_an_input_error(void **state)
{
	(void)state;
	struct fake_aia aia = {0};
	struct dc_tlscheck_opts o = base_opts(&aia);
	o.ca_file = "/nonexistent/ca.pem";
	STACK_OF(X509) *chain = tp_chain(pki.leaf, pki.inter, NULL);
	struct dc_cert_report r;
	struct dc_error err;
	dc_cert_report_init(&r);
	assert_int_equal(dc_tlscheck_chain(chain, false, &o, &r, &err), -1);
	assert_string_equal(err.where, "/nonexistent/ca.pem");
	dc_cert_report_free(&r);
	sk_X509_free(chain);
}

static void test_baked_roots_are_the_four_isrg_roots(void **state)
{
	(void)state;
	X509_STORE *store = X509_STORE_new();
	assert_int_equal(dc_baked_roots_add(store), 4);
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	assert_int_equal(sk_X509_OBJECT_num(objs), 4);
	X509_STORE_free(store);
	assert_false(dc_baked_roots_contains(pki.root));
	FILE *f = fopen("/etc/ssl/certs/ISRG_Root_X1.pem", "r");
	if (f) { /* Debian's ca-certificates carries X1: it must be the same certificate */
		X509 *x1 = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		assert_true(dc_baked_roots_contains(x1));
		X509_free(x1);
	}
}

static void test_http_date_header_is_parsed_strictly(void **state)
{
	(void)state;
	time_t t = 0;
	const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\ndate:  Mon, 01 Jun 2026 00:00:05 GMT\r\n\r\nDate: junk";
	assert_int_equal(dc_http_response_date(ok, sizeof(ok) - 1, &t), 0);
	assert_int_equal(t, TP_NOW + 5);
	const char after_head[] = "HTTP/1.1 200 OK\r\n\r\nDate: Mon, 01 Jun 2026 00:00:05 GMT\r\n";
	assert_int_equal(dc_http_response_date(after_head, sizeof(after_head) - 1, &t), -1);
	const char bad_month[] = "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jux 2026 00:00:05 GMT\r\n\r\n";
	assert_int_equal(dc_http_response_date(bad_month, sizeof(bad_month) - 1, &t), -1);
	const char not_gmt[] = "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jun 2026 00:00:05 CET\r\n\r\n";
	assert_int_equal(dc_http_response_date(not_gmt, sizeof(not_gmt) - 1, &t), -1);
	/* Not NUL-terminated: the parser must stop at len. */
	char cut[40];
	memcpy(cut, "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jun 20", 37);
	assert_int_equal(dc_http_response_date(cut, 37, &t), -1);
}

static void test_command_quotes_what_the_shell_would_split(void **state)
{
	(void)state;
	char out[300];
	dc_tlscheck_command(&(struct dc_tlscheck_call){.derp_map = "my policy.hujson", .region_id = 900, .ca_file = "it's.pem"},
			    out, sizeof(out));
	assert_string_equal(out, "derpcheck cert --derp-map 'my policy.hujson' --region 900 --ca-file 'it'\\''s.pem'");
	dc_tlscheck_command(&(struct dc_tlscheck_call){.host_name = "derp.test", .addr = "[::1]:8443"}, out, sizeof(out));
	assert_string_equal(out, "derpcheck cert --servername derp.test [::1]:8443");
	dc_tlscheck_command(&(struct dc_tlscheck_call){.host_name = "192.0.2.7", .addr = "192.0.2.7:443"}, out, sizeof(out));
	assert_string_equal(out, "derpcheck cert 192.0.2.7:443");
}

static void test_brief_for_a_chain_and_for_connection_failures(void **state)
{
	(void)state;
	struct dc_tlscheck_call call = {.derp_map = "policy.hujson", .region_id = 900, .host_name = "derp.test", .ca_file = ca_file};
	struct dc_tlscheck_brief b;
	STACK_OF(X509) *chain = tp_chain(pki.leaf, NULL, NULL);
	dc_tlscheck_brief(NULL, NULL, chain, &call, &b);
	assert_string_equal(b.code, "chain-incomplete");
	assert_string_equal(b.cause, "the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain");
	assert_non_null(strstr(b.command, "derpcheck cert --derp-map policy.hujson --region 900 --ca-file "));
	sk_X509_free(chain);

	struct dc_tls_conn conn = {.failure = DC_CONN_NOT_TLS, .tcp_ns = 1};
	dc_tlscheck_brief(&conn, NULL, NULL, &call, &b);
	assert_string_equal(b.code, "plain-http");
	conn = (struct dc_tls_conn){.failure = DC_CONN_TLS_ALERT, .tcp_ns = 1, .alert = "internal error"};
	dc_tlscheck_brief(&conn, NULL, NULL, &call, &b);
	assert_string_equal(b.code, "sni-refused");
	assert_string_equal(b.cause, "the server refused the TLS name \"derp.test\" (alert \"internal error\"): the DERP map's HostName must equal derper's --hostname");
	struct dc_error refused;
	dc_error_set(&refused, "127.0.0.1:443", "TCP connection refused");
	conn = (struct dc_tls_conn){.failure = DC_CONN_REFUSED};
	dc_tlscheck_brief(&conn, &refused, NULL, &call, &b);
	assert_null(b.code); /* not a TLS problem: ping says so itself */
	assert_string_equal(b.cause, "TCP connection refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_chain_is_accepted_by_every_client),
		cmocka_unit_test(test_leaf_only_completes_through_aia_once_per_url),
		cmocka_unit_test(test_no_aia_fetches_nothing),
		cmocka_unit_test(test_unrelated_intermediate_is_the_wrong_one),
		cmocka_unit_test(test_expired_leaf_counts_days_at_the_given_time),
		cmocka_unit_test(test_common_name_only_passes_curl_and_fails_go),
		cmocka_unit_test(test_names_go_lists_the_sans_it_has),
		cmocka_unit_test(test_ip_hostname_is_not_name_checked_by_tailscale),
		cmocka_unit_test(test_sha256_raw_pin_of_a_self_signed_leaf),
		cmocka_unit_test(test_client_auth_only_and_sha1_are_named),
		cmocka_unit_test(test_reversed_tail_and_root_are_warnings),
		cmocka_unit_test(test_write_fullchain_is_pem_leaf_first),
		cmocka_unit_test(test_unreadable_ca_file_is_an_input_error),
		cmocka_unit_test(test_baked_roots_are_the_four_isrg_roots),
		cmocka_unit_test(test_http_date_header_is_parsed_strictly),
		cmocka_unit_test(test_command_quotes_what_the_shell_would_split),
		cmocka_unit_test(test_brief_for_a_chain_and_for_connection_failures),
		cmocka_unit_test(test_leaf_only_file_is_worded_as_the_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
