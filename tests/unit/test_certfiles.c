/* dc_certfiles_check: derper's manual-mode start-up, on files written to a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derpcheck/judge/certfiles.h"
#include "testpki.h"

static char root[64];
static struct tp_pki pki;
static int dirs;

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/derpcheck-certfiles.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	tp_pki_make(&pki, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_pki_free(&pki);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh certdir holding derp.test.crt (certs) and derp.test.key (key, mode 0600). */
static const char *certdir(X509 *const *certs, EVP_PKEY *key)
{
	static char dir[128];
	char path[200];
	snprintf(dir, sizeof(dir), "%s/d%d", root, ++dirs);
	mkdir(dir, 0700);
	if (certs) {
		snprintf(path, sizeof(path), "%s/derp.test.crt", dir);
		tp_write_pem(path, certs);
	}
	if (key) {
		snprintf(path, sizeof(path), "%s/derp.test.key", dir);
		tp_write_key(path, key);
		chmod(path, 0600);
	}
	return dir;
}

static void codes(const struct dc_certfiles *f, char *out, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < f->findings.count; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", f->findings.items[i].code);
}

static void check(const char *dir, const char *want, bool loadable, struct dc_certfiles *f)
{
	struct dc_error err;
	struct dc_certfiles_opts o = {.certdir = dir, .hostname = "derp.test"};
	assert_int_equal(dc_certfiles_check(&o, f, &err), 0);
	char got[300];
	codes(f, got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(f->loadable, loadable);
}

static void test_stem_drops_what_derper_drops(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(dc_derper_cert_stem("2001:db8::1", out, sizeof(out)), 3);
	assert_string_equal(out, "2001db81");
	assert_int_equal(dc_derper_cert_stem("derp.example.com", out, sizeof(out)), 0);
	assert_string_equal(out, "derp.example.com");
	assert_int_equal(dc_derper_cert_stem("we ird/name", out, sizeof(out)), 2);
	assert_string_equal(out, "weirdname");
}

static void test_fullchain_and_matching_key_load(void **state)
{
	(void)state;
	struct dc_certfiles f;
	check(certdir((X509 *[]){pki.leaf, pki.inter, NULL}, pki.leaf_key), "", true, &f);
	assert_int_equal(f.key_cert_index, 0);
	assert_int_equal(sk_X509_num(f.chain), 2);
	dc_certfiles_free(&f);
}

static void test_intermediate_first_is_leaf_not_first(void **state)
{
	(void)state;
	struct dc_certfiles f;
	check(certdir((X509 *[]){pki.inter, pki.leaf, NULL}, pki.leaf_key), "leaf-not-first", false, &f);
	assert_int_equal(f.key_cert_index, 1);
	/* The chain handed on for judging has the leaf moved first. */
	assert_int_equal(X509_cmp(sk_X509_value(f.chain, 0), pki.leaf), 0);
	dc_certfiles_free(&f);
}

static void test_foreign_key_is_a_mismatch(void **state)
{
	(void)state;
	struct dc_certfiles f;
	check(certdir((X509 *[]){pki.leaf, pki.inter, NULL}, pki.root_key), "key-mismatch", false, &f);
	assert_non_null(strstr(f.findings.items[0].message, "tls: private key does not match public key"));
	dc_certfiles_free(&f);
}

static void test_missing_files_name_what_is_there(void **state)
{
	(void)state;
	const char *dir = certdir(NULL, NULL);
	char path[200];
	snprintf(path, sizeof(path), "%s/fullchain.pem", dir);
	tp_write_pem(path, (X509 *[]){pki.leaf, pki.inter, NULL});
	struct dc_certfiles f;
	check(dir, "cert-file-missing,key-file-missing", false, &f);
	assert_non_null(strstr(f.findings.items[0].message, "open "));
	assert_non_null(strstr(f.findings.items[0].hint, "the directory has fullchain.pem"));
	dc_certfiles_free(&f);
}

static void test_der_swapped_and_encrypted_files(void **state)
{
	(void)state;
	const char *dir = certdir(NULL, pki.leaf_key);
	char path[200];
	snprintf(path, sizeof(path), "%s/derp.test.crt", dir);
	FILE *fp = fopen(path, "wb");
	i2d_X509_fp(fp, pki.leaf);
	fclose(fp);
	struct dc_certfiles f;
	check(dir, "cert-file-not-pem", false, &f);
	assert_non_null(strstr(f.findings.items[0].hint, "openssl x509 -inform DER"));
	dc_certfiles_free(&f);

	dir = certdir(NULL, NULL);
	snprintf(path, sizeof(path), "%s/derp.test.crt", dir);
	tp_write_key(path, pki.leaf_key);
	snprintf(path, sizeof(path), "%s/derp.test.key", dir);
	tp_write_pem(path, (X509 *[]){pki.leaf, NULL});
	chmod(path, 0600);
	check(dir, "cert-files-swapped,cert-files-swapped", false, &f);
	dc_certfiles_free(&f);

	dir = certdir((X509 *[]){pki.leaf, pki.inter, NULL}, NULL);
	snprintf(path, sizeof(path), "%s/derp.test.key", dir);
	fp = fopen(path, "w");
	PEM_write_PKCS8PrivateKey(fp, pki.leaf_key, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"secret");
	fclose(fp);
	chmod(path, 0600);
	check(dir, "key-encrypted", false, &f);
	dc_certfiles_free(&f);
}

static void test_readable_key_and_key_in_cert_are_warnings(void **state)
{
	(void)state;
	const char *dir = certdir((X509 *[]){pki.leaf, pki.inter, NULL}, pki.leaf_key);
	char path[200];
	snprintf(path, sizeof(path), "%s/derp.test.key", dir);
	chmod(path, 0644);
	snprintf(path, sizeof(path), "%s/derp.test.crt", dir);
	FILE *fp = fopen(path, "a");
	PEM_write_PrivateKey(fp, pki.leaf_key, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	struct dc_certfiles f;
	check(dir, "key-file-permissions,key-in-cert-file", true, &f);
	dc_certfiles_free(&f);
}

static void test_bad_directory_and_explicit_files_are_input_errors(void **state)
{
	(void)state;
	struct dc_certfiles f;
	struct dc_error err;
	struct dc_certfiles_opts o = {.certdir = "/nonexistent/certs", .hostname = "derp.test"};
	assert_int_equal(dc_certfiles_check(&o, &f, &err), -1);
	assert_string_equal(err.where, "/nonexistent/certs");
	o = (struct dc_certfiles_opts){.cert_file = "/nonexistent/x.crt"};
	assert_int_equal(dc_certfiles_check(&o, &f, &err), -1);
	assert_string_equal(err.what, "No such file or directory");
	o = (struct dc_certfiles_opts){.certdir = root, .hostname = "::"};
	assert_int_equal(dc_certfiles_check(&o, &f, &err), -1);
}

static void test_ip_hostname_without_files_is_generated_by_derper(void **state)
{
	(void)state;
	struct dc_certfiles f;
	struct dc_error err;
	struct dc_certfiles_opts o = {.certdir = certdir(NULL, NULL), .hostname = "2001:db8::1"};
	assert_int_equal(dc_certfiles_check(&o, &f, &err), 0);
	char got[200];
	codes(&f, got, sizeof(got));
	assert_string_equal(got, "ip-cert-generated");
	assert_non_null(strstr(f.cert_path, "/2001db81.crt"));
	dc_certfiles_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stem_drops_what_derper_drops),
		cmocka_unit_test(test_fullchain_and_matching_key_load),
		cmocka_unit_test(test_intermediate_first_is_leaf_not_first),
		cmocka_unit_test(test_foreign_key_is_a_mismatch),
		cmocka_unit_test(test_missing_files_name_what_is_there),
		cmocka_unit_test(test_der_swapped_and_encrypted_files),
		cmocka_unit_test(test_readable_key_and_key_in_cert_are_warnings),
		cmocka_unit_test(test_bad_directory_and_explicit_files_are_input_errors),
		cmocka_unit_test(test_ip_hostname_without_files_is_generated_by_derper),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
