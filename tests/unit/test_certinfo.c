/* dc_cert_describe and dc_certs_parse: what a certificate says, in whatever form it comes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pkcs7.h>
#include <string.h>

#include "derpcheck/judge/certinfo.h"
#include "derpcheck/net/tlsconn.h"
#include "testpki.h"

static struct tp_pki pki;

static int setup(void **state)
{
	(void)state;
	tp_pki_make(&pki, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_pki_free(&pki);
	return 0;
}

static void test_leaf_is_described_as_openssl_prints_it(void **state)
{
	(void)state;
	struct dc_cert_info i;
	dc_cert_describe(pki.leaf, TP_NOW, &i);
	assert_string_equal(i.subject, "CN = derp.test");
	assert_string_equal(i.issuer, "CN = Test Intermediate");
	assert_string_equal(i.common_name, "derp.test");
	assert_string_equal(i.sans, "DNS:derp.test, IP:127.0.0.1");
	assert_int_equal(i.dns_sans, 1);
	assert_int_equal(i.ip_sans, 1);
	assert_int_equal(i.days_left, 90);
	assert_false(i.expired || i.not_yet_valid);
	assert_string_equal(i.key, "EC P-256");
	assert_string_equal(i.signature, "ecdsa-with-SHA256");
	assert_string_equal(i.go_signature, "ECDSA-SHA256");
	assert_false(i.weak_signature);
	assert_false(i.is_ca || i.self_signed || i.metacert);
	assert_true(i.has_eku && i.server_auth);
	assert_int_equal(i.aia_count, 1);
	assert_string_equal(i.aia[0], "http://aia.test/int.der");
	char hex[65];
	dc_tls_cert_sha256_hex(pki.leaf, hex);
	assert_string_equal(i.sha256, hex);
}

static void test_validity_and_days_at_a_given_time(void **state)
{
	(void)state;
	struct dc_cert_info i;
	dc_cert_describe(pki.leaf, TP_NOW + 100 * TP_DAY, &i);
	assert_true(i.expired);
	assert_int_equal(i.days_left, -10);
	dc_cert_describe(pki.leaf, TP_NOW - 2 * TP_DAY, &i);
	assert_true(i.not_yet_valid);
	char text[40];
	dc_time_format(TP_NOW, text, sizeof(text));
	assert_string_equal(text, "2026-06-01 00:00:00 UTC");
	dc_time_format_go(TP_NOW, text, sizeof(text));
	assert_string_equal(text, "2026-06-01T00:00:00Z");
}

static void test_root_rsa_and_sha1_are_recognised(void **state)
{
	(void)state;
	struct dc_cert_info i;
	dc_cert_describe(pki.root, TP_NOW, &i);
	assert_true(i.is_ca && i.self_signed);
	assert_false(i.has_eku);
	assert_true(i.server_auth); /* no EKU at all allows every purpose */
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	X509 *weak = tp_cert("derp.test", rsa, pki.inter, pki.int_key, &(struct tp_opts){.eku = "clientAuth"});
	dc_cert_describe(weak, TP_NOW, &i);
	assert_string_equal(i.key, "RSA 1024");
	assert_false(i.server_auth);
	assert_string_equal(i.sans, "");
	X509 *sha1 = tp_cert("derp.test", rsa, NULL, NULL, &(struct tp_opts){.md = EVP_sha1()});
	dc_cert_describe(sha1, TP_NOW, &i);
	assert_true(i.weak_signature);
	assert_string_equal(i.go_signature, "SHA1-RSA");
	X509_free(weak);
	X509_free(sha1);
	EVP_PKEY_free(rsa);
}

static void test_metacert_is_labelled_with_key_and_version(void **state)
{
	(void)state;
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char cn[80] = "derpkey";
	for (int k = 0; k < 32; k++)
		snprintf(cn + 7 + 2 * k, 3, "%02x", 0xa0 + k);
	X509 *meta = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(meta), 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(meta), "CN", V_ASN1_UTF8STRING, (unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(meta, X509_get_subject_name(meta));
	X509_gmtime_adj(X509_getm_notBefore(meta), 0);
	X509_gmtime_adj(X509_getm_notAfter(meta), 60);
	X509_set_pubkey(meta, ed);
	X509_sign(meta, ed, NULL);
	struct dc_cert_info i;
	dc_cert_describe(meta, time(NULL), &i);
	assert_true(i.metacert);
	assert_int_equal(i.derp_version, 2);
	assert_int_equal(strncmp(i.derp_key, "a0a1a2a3", 8), 0);
	assert_string_equal(i.key, "Ed25519");
	X509_free(meta);
	EVP_PKEY_free(ed);
}

static void test_der_pem_and_pkcs7_all_parse(void **state)
{
	(void)state;
	STACK_OF(X509) *out;
	enum dc_cert_format fmt;
	struct dc_error err;
	unsigned char *der = NULL;
	int len = i2d_X509(pki.inter, &der);
	assert_int_equal(dc_certs_parse(der, (size_t)len, 8, &out, &fmt, &err), 1);
	assert_int_equal(fmt, DC_CERT_DER);
	assert_int_equal(X509_cmp(sk_X509_value(out, 0), pki.inter), 0);
	dc_certs_free(out);
	/* DER with trailing bytes is not taken as DER. */
	assert_int_equal(dc_certs_parse(der, (size_t)len - 1, 8, &out, &fmt, &err), -1);
	OPENSSL_free(der);

	BIO *b = BIO_new(BIO_s_mem());
	BIO_puts(b, "junk before\n");
	PEM_write_bio_X509(b, pki.leaf);
	PEM_write_bio_PrivateKey(b, pki.leaf_key, NULL, NULL, 0, NULL, NULL);
	PEM_write_bio_X509(b, pki.inter);
	char *data;
	long dlen = BIO_get_mem_data(b, &data);
	assert_int_equal(dc_certs_parse(data, (size_t)dlen, 8, &out, &fmt, &err), 2);
	assert_int_equal(fmt, DC_CERT_PEM);
	assert_int_equal(X509_cmp(sk_X509_value(out, 1), pki.inter), 0);
	dc_certs_free(out);
	assert_int_equal(dc_certs_parse(data, (size_t)dlen, 1, &out, &fmt, &err), 1); /* capped */
	dc_certs_free(out);
	BIO_free(b);

	PKCS7 *p7 = PKCS7_new();
	PKCS7_set_type(p7, NID_pkcs7_signed);
	PKCS7_content_new(p7, NID_pkcs7_data);
	PKCS7_add_certificate(p7, pki.inter);
	PKCS7_add_certificate(p7, pki.root);
	der = NULL;
	len = i2d_PKCS7(p7, &der);
	assert_int_equal(dc_certs_parse(der, (size_t)len, 8, &out, &fmt, &err), 2);
	assert_int_equal(fmt, DC_CERT_PKCS7);
	dc_certs_free(out);
	OPENSSL_free(der);
	PKCS7_free(p7);

	assert_int_equal(dc_certs_parse("<html>not found</html>", 22, 8, &out, &fmt, &err), -1);
	assert_string_equal(err.what, "not a certificate in DER, PEM or PKCS#7 form");
	assert_int_equal(dc_certs_parse("", 0, 8, &out, &fmt, &err), -1);
}

static void test_control_characters_in_names_are_replaced(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	X509 *evil = tp_cert("bad\nname", k, NULL, NULL, &(struct tp_opts){.sans = "DNS:a\001b.test"});
	struct dc_cert_info i;
	dc_cert_describe(evil, TP_NOW, &i);
	assert_null(strchr(i.subject, '\n'));
	assert_string_equal(i.common_name, "bad?name");
	assert_string_equal(i.sans, "DNS:a?b.test");
	X509_free(evil);
	/* UTF-8 names are kept as they are; bytes that are not UTF-8 are replaced. */
	X509 *utf8 = tp_cert("Z\xc3\xbcrich CA \xc3\xa9", k, NULL, NULL, &(struct tp_opts){0});
	dc_cert_describe(utf8, TP_NOW, &i);
	assert_string_equal(i.subject, "CN = Z\xc3\xbcrich CA \xc3\xa9");
	X509_free(utf8);
	X509 *latin1 = X509_new();
	X509_NAME_add_entry_by_txt(X509_get_subject_name(latin1), "O", V_ASN1_T61STRING, (const unsigned char *)"Z\xfcrich", -1, -1, 0);
	dc_cert_describe(latin1, TP_NOW, &i);
	assert_null(strchr(i.subject, '\xfc'));
	X509_free(latin1);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_is_described_as_openssl_prints_it),
		cmocka_unit_test(test_validity_and_days_at_a_given_time),
		cmocka_unit_test(test_root_rsa_and_sha1_are_recognised),
		cmocka_unit_test(test_metacert_is_labelled_with_key_and_version),
		cmocka_unit_test(test_der_pem_and_pkcs7_all_parse),
		cmocka_unit_test(test_control_characters_in_names_are_replaced),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
