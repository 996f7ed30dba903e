/*
 * libFuzzer target for the revocation judgement: bytes as they come from an OCSP
 * responder, a server's stapled status or a CRL distribution point (DER, PEM, junk) ->
 * dc_ocsp_judge and dc_crl_judge against a fixed leaf and issuer made at start-up -> the
 * JSON renderer of each result.
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/revocation.h"
#include "derpcheck/output/output.h"

static X509 *issuer, *leaf;

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *by, EVP_PKEY *by_key, long serial)
{
	X509 *cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(by ? by : cert));
	X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400 * 365);
	X509_set_pubkey(cert, key);
	X509_sign(cert, by_key ? by_key : key, EVP_sha256());
	return cert;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!issuer) {
		EVP_PKEY *ik = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		EVP_PKEY *lk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		issuer = make_cert("fuzz issuer", ik, NULL, NULL, 1);
		leaf = make_cert("derp.test", lk, issuer, ik, 2000);
		EVP_PKEY_free(ik);
		EVP_PKEY_free(lk);
	}
	for (int crl = 0; crl < 2; crl++) {
		struct dc_revocation v;
		memset(&v, 0, sizeof(v));
		v.attempted = true;
		if (crl)
			dc_crl_judge(data, size, leaf, issuer, time(NULL), &v);
		else
			dc_ocsp_judge(data, size, leaf, issuer, time(NULL), &v);
		cJSON *j = dc_output_revocation_json(&v);
		char *text = cJSON_PrintUnformatted(j);
		free(text);
		cJSON_Delete(j);
	}
	return 0;
}
