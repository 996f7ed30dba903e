/*
 * One certificate as people need to see it (subject, issuer, names, validity, key,
 * signature, fingerprint, where to fetch its issuer), and reading certificates from
 * the forms they come in: DER, PEM and PKCS#7 "certs-only" (RFC 5280 §4.2.2.1 allows
 * DER or PKCS#7 at a caIssuers URL; PEM occurs in the wild).
 */
#ifndef DERPCHECK_CERTINFO_H
#define DERPCHECK_CERTINFO_H

#include <openssl/x509.h>
#include <time.h>

#include "derpcheck/util/util.h"

#define DC_CERT_MAX_AIA 4

struct dc_cert_info {
	char subject[256];   /* one line, as openssl prints it: "O = x, CN = derp.test" */
	char issuer[256];
	char common_name[128];
	char sans[512];      /* "DNS:derp.test, IP:127.0.0.1"; "" when there is no SAN */
	size_t dns_sans;
	size_t ip_sans;
	time_t not_before;
	time_t not_after;
	bool expired;        /* at the time given to dc_cert_describe */
	bool not_yet_valid;
	long days_left;      /* whole days to notAfter, negative once expired */
	char key[80];        /* "EC P-256", "RSA 2048", "Ed25519" */
	int key_bits;
	int key_security_bits;
	char signature[64];  /* "ecdsa-with-SHA256", "sha1WithRSAEncryption" */
	char go_signature[64]; /* Go's name for it ("SHA1-RSA", "ECDSA-SHA256") */
	bool weak_signature; /* MD5 or SHA-1: under 80 bits of security */
	char sha256[65];     /* lowercase hex of the DER: the value of a sha256-raw: pin */
	bool is_ca;
	bool self_signed;
	bool has_eku;
	bool server_auth;    /* EKU absent or includes serverAuth */
	char aia[DC_CERT_MAX_AIA][256]; /* caIssuers URIs */
	size_t aia_count;
	/* the extensions as written (derpcheck cert -v); "" when absent */
	char serial[72];     /* hex */
	char key_usage[160]; /* "digitalSignature, keyCertSign" */
	char ext_key_usage[160]; /* "serverAuth, clientAuth" */
	char basic_constraints[48]; /* "CA, pathlen 0", "not a CA" */
	char ski[100];       /* subject key identifier, hex with colons */
	char aki[100];       /* authority key identifier */
	char ocsp[256];      /* the first OCSP responder URL */
	char crl[256];       /* the first CRL distribution point URL */
	bool metacert;       /* derper's "derpkey<hex>" certificate */
	char derp_key[65];   /* its DERP server public key (hex) */
	int derp_version;    /* and the DERP protocol version (its serial) */
};

/* Fill info from cert, judging validity at now. Never fails: unknown fields stay empty. */
void dc_cert_describe(X509 *cert, time_t now, struct dc_cert_info *info);

enum dc_cert_format { DC_CERT_DER, DC_CERT_PEM, DC_CERT_PKCS7 };
const char *dc_cert_format_name(enum dc_cert_format f);

/*
 * Read every certificate in data (DER, PEM with any number of CERTIFICATE blocks, or
 * PKCS#7 in DER or PEM), at most max of them. Returns the count (>= 1) with *out owning
 * them, or -1 with err saying what the bytes are not.
 */
int dc_certs_parse(const void *data, size_t len, size_t max, STACK_OF(X509) **out, enum dc_cert_format *format,
		   struct dc_error *err);

/* An X509 time as seconds since the epoch; -1 if it cannot be read. */
time_t dc_asn1_time_epoch(const ASN1_TIME *t);

/* "2026-11-25 10:00:00 UTC" and Go's "2026-11-25T10:00:00Z". */
void dc_time_format(time_t t, char *out, size_t n);
void dc_time_format_go(time_t t, char *out, size_t n);

void dc_certs_free(STACK_OF(X509) *certs);

#endif
