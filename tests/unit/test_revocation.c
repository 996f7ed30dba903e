/*
 * dc_ocsp_judge / dc_revocation_check: OCSP responses made in memory (testpki.h),
 * judged at a pinned time; the responder is an in-process fetcher (no network). Each
 * test is one rule of judge/revocation.h: a verdict only from a signed, current answer
 * about this certificate; anything else is "unknown" or "not checked", never "good".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ocsp.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/revocation.h"
#include "testpki.h"

#define OCSP_URL "http://ocsp.test/"

static struct tp_pki pki;

static int setup(void **state)
{
	(void)state;
	tp_pki_make(&pki, &(struct tp_opts){.sans = "DNS:derp.test", .eku = "serverAuth", .ocsp = OCSP_URL});
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_pki_free(&pki);
	return 0;
}

struct answer {
	X509 *about;          /* the certificate the response names (default: the leaf) */
	X509 *signer;         /* default: the intermediate (the leaf's issuer) */
	EVP_PKEY *signer_key;
	int status;           /* V_OCSP_CERTSTATUS_* */
	int reason;           /* -1 none */
	long this_s, next_s;  /* relative to TP_NOW; next_s 0: no nextUpdate */
	int response_status;  /* 0: successful */
};

/* A DER OCSP response as a responder would send it. */
static struct dc_buf make_response(const struct answer *a)
{
	struct dc_buf out = {0};
	OCSP_RESPONSE *resp;
	if (a->response_status) {
		resp = OCSP_response_create(a->response_status, NULL);
	} else {
		OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
		OCSP_CERTID *id = OCSP_cert_to_id(NULL, a->about ? a->about : pki.leaf, pki.inter);
		ASN1_TIME *thisu = ASN1_TIME_set(NULL, TP_NOW + a->this_s);
		ASN1_TIME *nextu = a->next_s ? ASN1_TIME_set(NULL, TP_NOW + a->next_s) : NULL;
		ASN1_TIME *rev = ASN1_TIME_set(NULL, TP_NOW - 2 * TP_DAY);
		assert_non_null(OCSP_basic_add1_status(bs, id, a->status, a->reason,
						       a->status == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL, thisu, nextu));
		assert_int_equal(OCSP_basic_sign(bs, a->signer ? a->signer : pki.inter, a->signer_key ? a->signer_key : pki.int_key,
						 EVP_sha256(), NULL, 0), 1);
		resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
		OCSP_CERTID_free(id);
		ASN1_TIME_free(thisu);
		ASN1_TIME_free(nextu);
		ASN1_TIME_free(rev);
		OCSP_BASICRESP_free(bs);
	}
	unsigned char *der = NULL;
	int len = i2d_OCSP_RESPONSE(resp, &der);
	assert_true(len > 0);
	dc_buf_append(&out, der, (size_t)len);
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	return out;
}

static struct dc_revocation judge(const struct answer *a)
{
	struct dc_buf der = make_response(a);
	struct dc_revocation v;
	memset(&v, 0, sizeof(v));
	dc_ocsp_judge((const unsigned char *)der.data, der.len, pki.leaf, pki.inter, TP_NOW, &v);
	dc_buf_free(&der);
	return v;
}

static void test_good_answer_signed_by_the_issuer_is_good(void **state)
{
	(void)state;
	struct dc_revocation v = judge(&(struct answer){.status = V_OCSP_CERTSTATUS_GOOD, .reason = -1, .this_s = -3600,
							 .next_s = 3 * TP_DAY});
	assert_int_equal(v.status, DC_REVOCATION_GOOD);
	assert_int_equal(v.this_update, TP_NOW - 3600);
	assert_int_equal(v.next_update, TP_NOW + 3 * TP_DAY);
	assert_string_equal(v.detail, "thisUpdate 2026-05-31 23:00:00 UTC, nextUpdate 2026-06-04 00:00:00 UTC");
}

static void test_revoked_answer_names_reason_and_time(void **state)
{
	(void)state;
	struct dc_revocation v = judge(&(struct answer){.status = V_OCSP_CERTSTATUS_REVOKED,
							 .reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE, .this_s = -60});
	assert_int_equal(v.status, DC_REVOCATION_REVOKED);
	assert_int_equal(v.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_string_equal(v.reason_text, "keyCompromise");
	assert_int_equal(v.revoked_at, TP_NOW - 2 * TP_DAY);
	assert_string_equal(v.detail, "on 2026-05-30 00:00:00 UTC, reason keyCompromise (thisUpdate 2026-05-31 23:59:00 UTC)");
}

static void test_unknown_status_is_unknown(void **state)
{
	(void)state;
	struct dc_revocation v = judge(&(struct answer){.status = V_OCSP_CERTSTATUS_UNKNOWN, .reason = -1, .this_s = -60});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_non_null(strstr(v.detail, "does not know this certificate"));
}

static void test_answer_signed_by_a_stranger_proves_nothing(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	X509 *other = tp_cert("Other CA", k, NULL, NULL, &(struct tp_opts){.ca = true});
	struct dc_revocation v = judge(&(struct answer){.signer = other, .signer_key = k, .status = V_OCSP_CERTSTATUS_GOOD,
							 .reason = -1, .this_s = -60});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_non_null(strstr(v.detail, "not signed by the leaf's issuer"));
	X509_free(other);
	EVP_PKEY_free(k);
}

static void test_delegated_responder_needs_ocsp_signing(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	X509 *delegate = tp_cert("OCSP responder", k, pki.inter, pki.int_key, &(struct tp_opts){.eku = "OCSPSigning"});
	struct dc_revocation v = judge(&(struct answer){.signer = delegate, .signer_key = k, .status = V_OCSP_CERTSTATUS_GOOD,
							 .reason = -1, .this_s = -60});
	assert_int_equal(v.status, DC_REVOCATION_GOOD);
	X509 *plain = tp_cert("Not a responder", k, pki.inter, pki.int_key, &(struct tp_opts){.eku = "serverAuth"});
	v = judge(&(struct answer){.signer = plain, .signer_key = k, .status = V_OCSP_CERTSTATUS_GOOD, .reason = -1,
				   .this_s = -60});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	X509_free(delegate);
	X509_free(plain);
	EVP_PKEY_free(k);
}

static void test_stale_answer_is_unknown(void **state)
{
	(void)state;
	struct dc_revocation v = judge(&(struct answer){.status = V_OCSP_CERTSTATUS_GOOD, .reason = -1,
							 .this_s = -8 * TP_DAY, .next_s = -TP_DAY});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_string_equal(v.detail, "the response is stale: its nextUpdate 2026-05-31 00:00:00 UTC has passed");
	/* Within the leeway it still counts: clocks differ by a few minutes. */
	v = judge(&(struct answer){.status = V_OCSP_CERTSTATUS_GOOD, .reason = -1, .this_s = -TP_DAY,
				   .next_s = -(DC_OCSP_LEEWAY_S - 10)});
	assert_int_equal(v.status, DC_REVOCATION_GOOD);
}

static void test_answer_from_the_future_is_unknown(void **state)
{
	(void)state;
	struct dc_revocation v = judge(&(struct answer){.status = V_OCSP_CERTSTATUS_GOOD, .reason = -1, .this_s = 3600});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_non_null(strstr(v.detail, "not valid yet"));
}

static void test_answer_about_another_certificate_is_unknown(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	X509 *sibling = tp_cert("derp.test", k, pki.inter, pki.int_key, &(struct tp_opts){.serial = 4242});
	struct dc_revocation v = judge(&(struct answer){.about = sibling, .status = V_OCSP_CERTSTATUS_GOOD, .reason = -1,
							 .this_s = -60});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_non_null(strstr(v.detail, "does not mention this certificate"));
	X509_free(sibling);
	EVP_PKEY_free(k);
}

static void test_error_response_status_is_unknown(void **state)
{
	(void)state;
	struct dc_revocation v = judge(&(struct answer){.response_status = OCSP_RESPONSE_STATUS_UNAUTHORIZED});
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_string_equal(v.detail, "the responder gave no verdict: response status \"unauthorized\" (6)");
}

static void test_bytes_that_are_not_ocsp_are_unknown(void **state)
{
	(void)state;
	struct dc_revocation v;
	memset(&v, 0, sizeof(v));
	dc_ocsp_judge((const unsigned char *)"<html>", 6, pki.leaf, pki.inter, TP_NOW, &v);
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_string_equal(v.detail, "the answer (6 bytes) is not an OCSP response");
}

/* ---- CRLs --------------------------------------------------------------------------- */

/* A DER CRL by signer/key listing revoked (may be NULL) with reason (-1: none). */
static struct dc_buf make_crl(X509 *signer, EVP_PKEY *key, X509 *revoked, int reason, long last_s, long next_s)
{
	X509_CRL *crl = X509_CRL_new();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(signer));
	ASN1_TIME *last = ASN1_TIME_set(NULL, TP_NOW + last_s), *next = ASN1_TIME_set(NULL, TP_NOW + next_s);
	X509_CRL_set1_lastUpdate(crl, last);
	X509_CRL_set1_nextUpdate(crl, next);
	if (revoked) {
		X509_REVOKED *r = X509_REVOKED_new();
		X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked));
		ASN1_TIME *when = ASN1_TIME_set(NULL, TP_NOW - 2 * TP_DAY);
		X509_REVOKED_set_revocationDate(r, when);
		ASN1_TIME_free(when);
		if (reason >= 0) {
			ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
			ASN1_ENUMERATED_set(e, reason);
			X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
			ASN1_ENUMERATED_free(e);
		}
		X509_CRL_add0_revoked(crl, r);
	}
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, key, EVP_sha256());
	unsigned char *der = NULL;
	int len = i2d_X509_CRL(crl, &der);
	assert_true(len > 0);
	struct dc_buf out = {0};
	dc_buf_append(&out, der, (size_t)len);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	return out;
}

static struct dc_revocation judge_crl(struct dc_buf crl)
{
	struct dc_revocation v;
	memset(&v, 0, sizeof(v));
	dc_crl_judge((const unsigned char *)crl.data, crl.len, pki.leaf, pki.inter, TP_NOW, &v);
	dc_buf_free(&crl);
	return v;
}

static void test_crl_without_the_leaf_is_good(void **state)
{
	(void)state;
	struct dc_revocation v = judge_crl(make_crl(pki.inter, pki.int_key, NULL, -1, -3600, 7 * TP_DAY));
	assert_int_equal(v.status, DC_REVOCATION_GOOD);
	assert_string_equal(v.detail, "not on the CRL (thisUpdate 2026-05-31 23:00:00 UTC, nextUpdate 2026-06-08 00:00:00 UTC)");
}

static void test_crl_listing_the_leaf_is_revoked_with_reason(void **state)
{
	(void)state;
	struct dc_revocation v = judge_crl(make_crl(pki.inter, pki.int_key, pki.leaf, 1 /* keyCompromise */, -60, TP_DAY));
	assert_int_equal(v.status, DC_REVOCATION_REVOKED);
	assert_string_equal(v.reason_text, "keyCompromise");
	assert_int_equal(v.revoked_at, TP_NOW - 2 * TP_DAY);
}

static void test_crl_signed_by_another_key_proves_nothing(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	struct dc_revocation v = judge_crl(make_crl(pki.inter, k, pki.leaf, -1, -60, TP_DAY)); /* right name, wrong key */
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_non_null(strstr(v.detail, "signature does not verify"));
	v = judge_crl(make_crl(pki.root, pki.root_key, NULL, -1, -60, TP_DAY)); /* another issuer's CRL */
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_string_equal(v.detail, "the CRL is not issued by the leaf's issuer: it proves nothing");
	EVP_PKEY_free(k);
}

static void test_stale_crl_is_unknown(void **state)
{
	(void)state;
	struct dc_revocation v = judge_crl(make_crl(pki.inter, pki.int_key, NULL, -1, -8 * TP_DAY, -TP_DAY));
	assert_int_equal(v.status, DC_REVOCATION_UNKNOWN);
	assert_string_equal(v.detail, "the CRL is stale: its nextUpdate 2026-05-31 00:00:00 UTC has passed");
}

static void test_crl_distribution_point_is_read_from_the_leaf(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	X509 *leaf = tp_cert("derp.test", k, pki.inter, pki.int_key, &(struct tp_opts){.serial = 555});
	tp_ext(leaf, pki.inter, NID_crl_distribution_points, "URI:ldap://x.test/crl,URI:http://crl.test/int.crl");
	X509_sign(leaf, pki.int_key, EVP_sha256());
	char url[256];
	assert_true(dc_crl_distribution_point(leaf, url, sizeof(url)));
	assert_string_equal(url, "http://crl.test/int.crl"); /* the first http(s) one */
	assert_false(dc_crl_distribution_point(pki.leaf, url, sizeof(url)));
	X509_free(leaf);
	EVP_PKEY_free(k);
}

/* ---- the whole check, with a fake responder ---------------------------------------- */

struct fake_responder {
	struct dc_buf answer; /* empty: the fetch fails */
	int calls;
	char url[1024];
};

static int fake_fetch(void *user, const char *url, long timeout_ms, struct dc_buf *body, struct dc_error *err)
{
	struct fake_responder *f = user;
	assert_true(timeout_ms > 0);
	f->calls++;
	snprintf(f->url, sizeof(f->url), "%s", url);
	if (!f->answer.len)
		return dc_error_set(err, url, "connection refused");
	dc_buf_append(body, f->answer.data, f->answer.len);
	return 0;
}

static void test_responder_is_asked_with_a_get_url(void **state)
{
	(void)state;
	struct fake_responder f = {.answer = make_response(&(struct answer){.status = V_OCSP_CERTSTATUS_GOOD, .reason = -1,
									     .this_s = -60})};
	struct dc_revocation_opts o = {.now = TP_NOW, .fetch = fake_fetch, .fetch_user = &f};
	struct dc_revocation v;
	dc_revocation_check(pki.leaf, pki.inter, NULL, 0, &o, &v);
	assert_int_equal(v.status, DC_REVOCATION_GOOD);
	assert_int_equal(v.source, DC_REVSRC_OCSP);
	assert_string_equal(v.url, OCSP_URL);
	assert_int_equal(f.calls, 1);
	/* RFC 6960 A.1: base64 after one '/', with '+', '/' and '=' escaped. */
	assert_int_equal(strncmp(f.url, OCSP_URL "M", strlen(OCSP_URL) + 1), 0);
	assert_null(strpbrk(f.url + strlen(OCSP_URL), "+/="));
	dc_buf_free(&f.answer);
}

static void test_good_staple_needs_no_responder(void **state)
{
	(void)state;
	struct dc_buf staple = make_response(&(struct answer){.status = V_OCSP_CERTSTATUS_GOOD, .reason = -1, .this_s = -60});
	struct fake_responder f = {0};
	struct dc_revocation_opts o = {.now = TP_NOW, .fetch = fake_fetch, .fetch_user = &f};
	struct dc_revocation v;
	dc_revocation_check(pki.leaf, pki.inter, (const unsigned char *)staple.data, staple.len, &o, &v);
	assert_int_equal(v.status, DC_REVOCATION_GOOD);
	assert_int_equal(v.source, DC_REVSRC_STAPLE);
	assert_true(v.stapled);
	assert_int_equal(f.calls, 0);
	dc_buf_free(&staple);
}

static void test_useless_staple_falls_back_to_the_responder(void **state)
{
	(void)state;
	struct fake_responder f = {.answer = make_response(&(struct answer){.status = V_OCSP_CERTSTATUS_REVOKED,
									     .reason = -1, .this_s = -60})};
	struct dc_revocation_opts o = {.now = TP_NOW, .fetch = fake_fetch, .fetch_user = &f};
	struct dc_revocation v;
	dc_revocation_check(pki.leaf, pki.inter, (const unsigned char *)"junk", 4, &o, &v);
	assert_int_equal(v.status, DC_REVOCATION_REVOKED);
	assert_int_equal(v.source, DC_REVSRC_OCSP);
	assert_string_equal(v.reason_text, "");
	assert_non_null(strstr(v.detail, "; the stapled response gave none: the answer (4 bytes) is not an OCSP response"));
	dc_buf_free(&f.answer);
}

static void test_unreachable_responder_is_not_checked(void **state)
{
	(void)state;
	struct fake_responder f = {0};
	struct dc_revocation_opts o = {.now = TP_NOW, .fetch = fake_fetch, .fetch_user = &f};
	struct dc_revocation v;
	dc_revocation_check(pki.leaf, pki.inter, NULL, 0, &o, &v);
	assert_int_equal(v.status, DC_REVOCATION_NOT_CHECKED);
	assert_int_equal(v.source, DC_REVSRC_NONE);
	assert_true(v.fetch_ms >= 0);
	assert_string_equal(v.detail, "the OCSP responder " OCSP_URL " gave no answer: connection refused");
}

/* A fake that answers the OCSP GET with nothing and the CRL URL with a CRL. */
struct fake_crl_server {
	struct dc_buf crl;
	int ocsp_calls, crl_calls;
};

static int fake_crl_fetch(void *user, const char *url, long timeout_ms, struct dc_buf *body, struct dc_error *err)
{
	struct fake_crl_server *f = user;
	(void)timeout_ms;
	if (strcmp(url, "http://crl.test/int.crl") == 0) {
		f->crl_calls++;
		dc_buf_append(body, f->crl.data, f->crl.len);
		return 0;
	}
	f->ocsp_calls++;
	return dc_error_set(err, url, "connection refused");
}

static void test_crl_is_asked_when_ocsp_gives_no_answer(void **state)
{
	(void)state;
	EVP_PKEY *k = tp_key();
	X509 *leaf = tp_cert("derp.test", k, pki.inter, pki.int_key, &(struct tp_opts){.serial = 556, .ocsp = OCSP_URL});
	tp_ext(leaf, pki.inter, NID_crl_distribution_points, "URI:http://crl.test/int.crl");
	X509_sign(leaf, pki.int_key, EVP_sha256());
	struct fake_crl_server f = {.crl = make_crl(pki.inter, pki.int_key, leaf, -1, -60, TP_DAY)};
	struct dc_revocation_opts o = {.now = TP_NOW, .fetch = fake_crl_fetch, .fetch_user = &f};
	struct dc_revocation v;
	dc_revocation_check(leaf, pki.inter, NULL, 0, &o, &v);
	assert_int_equal(v.status, DC_REVOCATION_REVOKED);
	assert_int_equal(v.source, DC_REVSRC_CRL);
	assert_string_equal(v.crl_url, "http://crl.test/int.crl");
	assert_int_equal(f.ocsp_calls, 1);
	assert_int_equal(f.crl_calls, 1);
	assert_non_null(strstr(v.detail, "; the OCSP responder gave none: the OCSP responder " OCSP_URL " gave no answer: connection refused"));
	assert_string_equal(dc_revocation_source_name(DC_REVSRC_CRL), "crl");
	dc_buf_free(&f.crl);
	X509_free(leaf);
	EVP_PKEY_free(k);
}

static void test_leaf_without_responder_is_not_checked(void **state)
{
	(void)state;
	struct fake_responder f = {0};
	struct dc_revocation_opts o = {.now = TP_NOW, .fetch = fake_fetch, .fetch_user = &f};
	struct dc_revocation v;
	dc_revocation_check(pki.inter, pki.root, NULL, 0, &o, &v); /* the intermediate names no OCSP URL */
	assert_int_equal(v.status, DC_REVOCATION_NOT_CHECKED);
	assert_string_equal(v.url, "");
	assert_int_equal(f.calls, 0);
	assert_true(v.fetch_ms < 0);
	dc_revocation_check(pki.leaf, NULL, NULL, 0, &o, &v); /* no issuer: no request can be built */
	assert_int_equal(v.status, DC_REVOCATION_NOT_CHECKED);
	assert_int_equal(f.calls, 0);
}

static void test_status_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(dc_revocation_status_name(DC_REVOCATION_NOT_CHECKED), "not-checked");
	assert_string_equal(dc_revocation_status_name(DC_REVOCATION_GOOD), "good");
	assert_string_equal(dc_revocation_status_name(DC_REVOCATION_REVOKED), "revoked");
	assert_string_equal(dc_revocation_status_name(DC_REVOCATION_UNKNOWN), "unknown");
	assert_string_equal(dc_revocation_source_name(DC_REVSRC_STAPLE), "staple");
	assert_string_equal(dc_revocation_source_name(DC_REVSRC_OCSP), "ocsp");
	assert_null(dc_revocation_source_name(DC_REVSRC_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_answer_signed_by_the_issuer_is_good),
		cmocka_unit_test(test_revoked_answer_names_reason_and_time),
		cmocka_unit_test(test_unknown_status_is_unknown),
		cmocka_unit_test(test_answer_signed_by_a_stranger_proves_nothing),
		cmocka_unit_test(test_delegated_responder_needs_ocsp_signing),
		cmocka_unit_test(test_stale_answer_is_unknown),
		cmocka_unit_test(test_answer_from_the_future_is_unknown),
		cmocka_unit_test(test_answer_about_another_certificate_is_unknown),
		cmocka_unit_test(test_error_response_status_is_unknown),
		cmocka_unit_test(test_bytes_that_are_not_ocsp_are_unknown),
		cmocka_unit_test(test_responder_is_asked_with_a_get_url),
		cmocka_unit_test(test_good_staple_needs_no_responder),
		cmocka_unit_test(test_useless_staple_falls_back_to_the_responder),
		cmocka_unit_test(test_unreachable_responder_is_not_checked),
		cmocka_unit_test(test_leaf_without_responder_is_not_checked),
		cmocka_unit_test(test_status_names_are_stable),
		cmocka_unit_test(test_crl_without_the_leaf_is_good),
		cmocka_unit_test(test_crl_listing_the_leaf_is_revoked_with_reason),
		cmocka_unit_test(test_crl_signed_by_another_key_proves_nothing),
		cmocka_unit_test(test_stale_crl_is_unknown),
		cmocka_unit_test(test_crl_distribution_point_is_read_from_the_leaf),
		cmocka_unit_test(test_crl_is_asked_when_ocsp_gives_no_answer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
