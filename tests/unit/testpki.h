/*
 * Certificates made in memory for the unit tests (tls-diagnosis.md §7.1: building them
 * in C keeps the tests independent of the openssl CLI and lets them pin the clock).
 * Header-only; every test file that includes it gets its own static copies.
 */
#ifndef DERPCHECK_TESTPKI_H
#define DERPCHECK_TESTPKI_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

/* A fixed "now" for every test: 2026-06-01 00:00:00 UTC. */
#define TP_NOW ((time_t)1780272000)
#define TP_DAY 86400L

struct tp_opts {
	bool ca;
	const char *sans;  /* "DNS:derp.test,IP:127.0.0.1"; NULL: no SAN extension */
	const char *eku;   /* "serverAuth", "clientAuth"; NULL: no EKU */
	const char *aia;   /* caIssuers URL or NULL */
	const char *ocsp;  /* OCSP responder URL (AIA id-ad-ocsp) or NULL */
	long from_days;    /* notBefore relative to TP_NOW (default -1) */
	long to_days;      /* notAfter relative to TP_NOW (default 90) */
	const EVP_MD *md;  /* default SHA-256 */
	long serial;
};

static inline EVP_PKEY *tp_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static inline void tp_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext) {
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
}

/* A certificate for cn with key, signed by issuer/issuer_key (self-signed when NULL). */
static inline X509 *tp_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const struct tp_opts *o)
{
	static long serial = 100;
	X509 *cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), o->serial ? o->serial : ++serial);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	X509_time_adj_ex(X509_getm_notBefore(cert), o->from_days ? (int)o->from_days : -1, 0, &(time_t){TP_NOW});
	X509_time_adj_ex(X509_getm_notAfter(cert), o->to_days ? (int)o->to_days : 90, 0, &(time_t){TP_NOW});
	X509_set_pubkey(cert, key);
	X509 *signer = issuer ? issuer : cert;
	tp_ext(cert, signer, NID_basic_constraints, o->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	tp_ext(cert, signer, NID_key_usage, o->ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	tp_ext(cert, signer, NID_subject_key_identifier, "hash");
	if (issuer)
		tp_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
	if (o->sans)
		tp_ext(cert, signer, NID_subject_alt_name, o->sans);
	if (o->eku)
		tp_ext(cert, signer, NID_ext_key_usage, o->eku);
	if (o->aia || o->ocsp) {
		char value[600];
		snprintf(value, sizeof(value), "%s%s%s%s%s", o->aia ? "caIssuers;URI:" : "", o->aia ? o->aia : "",
			 o->aia && o->ocsp ? "," : "", o->ocsp ? "OCSP;URI:" : "", o->ocsp ? o->ocsp : "");
		tp_ext(cert, signer, NID_info_access, value);
	}
	X509_sign(cert, issuer_key ? issuer_key : key, o->md ? o->md : EVP_sha256());
	return cert;
}

/* root -> intermediate -> leaf for derp.test, as most tests want it. */
struct tp_pki {
	EVP_PKEY *root_key, *int_key, *leaf_key;
	X509 *root, *inter, *leaf;
};

static inline void tp_pki_make(struct tp_pki *p, const struct tp_opts *leaf_opts)
{
	p->root_key = tp_key();
	p->int_key = tp_key();
	p->leaf_key = tp_key();
	p->root = tp_cert("Test Root", p->root_key, NULL, NULL, &(struct tp_opts){.ca = true, .to_days = 3650});
	p->inter = tp_cert("Test Intermediate", p->int_key, p->root, p->root_key,
			   &(struct tp_opts){.ca = true, .to_days = 1825, .aia = "http://aia.test/root.der"});
	struct tp_opts lo = {.sans = "DNS:derp.test,IP:127.0.0.1", .eku = "serverAuth", .aia = "http://aia.test/int.der"};
	p->leaf = tp_cert("derp.test", p->leaf_key, p->inter, p->int_key, leaf_opts ? leaf_opts : &lo);
}

static inline void tp_pki_free(struct tp_pki *p)
{
	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->leaf);
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->int_key);
	EVP_PKEY_free(p->leaf_key);
}

/* Write certs (NULL-terminated) as PEM to path. */
static inline void tp_write_pem(const char *path, X509 *const *certs)
{
	FILE *f = fopen(path, "w");
	for (; f && *certs; certs++)
		PEM_write_X509(f, *certs);
	if (f)
		fclose(f);
}

static inline void tp_write_key(const char *path, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	if (f) {
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
}

static inline STACK_OF(X509) *tp_chain(X509 *a, X509 *b, X509 *c)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *list[] = {a, b, c};
	for (int i = 0; i < 3; i++)
		if (list[i])
			sk_X509_push(sk, list[i]);
	return sk;
}

#endif
