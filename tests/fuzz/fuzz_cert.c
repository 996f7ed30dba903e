/*
 * libFuzzer target for the certificate-explanation path: bytes as they come from an
 * AIA URL or a certificate file (DER, PEM, PKCS#7, or junk) -> dc_certs_parse ->
 * dc_cert_describe for each -> dc_tlscheck_chain offline (no AIA, a one-certificate
 * trust store) -> the JSON and text renderers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/output/output_cert.h"
#include "derpcheck/judge/tlscheck.h"

static char ca_file[64];

/* A trust store that loads fast: one throw-away self-signed root. */
static void make_ca_file(void)
{
	snprintf(ca_file, sizeof(ca_file), "/tmp/derpcheck-fuzz-ca.%d.pem", (int)getpid());
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *cert = X509_new();
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)"fuzz root", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_sign(cert, key, EVP_sha256());
	FILE *f = fopen(ca_file, "w");
	PEM_write_X509(f, cert);
	fclose(f);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void remove_ca_file(void)
{
	unlink(ca_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink) {
		make_ca_file();
		atexit(remove_ca_file);
		sink = fopen("/dev/null", "w");
	}
	STACK_OF(X509) *certs = NULL;
	struct dc_error err;
	if (dc_certs_parse(data, size, 8, &certs, NULL, &err) < 0)
		return 0;
	/* dc_tlscheck_chain describes every certificate (dc_cert_describe) at o.now. */
	struct dc_tlscheck_opts o = {.host_name = "derp.test", .ca_file = ca_file, .no_aia = true, .now = 1780272000};
	struct dc_cert_target t = {.label = "fuzz"};
	dc_cert_report_init(&t.report);
	if (dc_tlscheck_chain(certs, false, &o, &t.report, &err) == 0) {
		struct dc_cert_output out = {.targets = &t, .count = 1};
		struct dc_style style = {0};
		dc_output_cert_text(sink, &out, &style);
		dc_output_cert_json(sink, &out);
	}
	dc_cert_report_free(&t.report);
	dc_certs_free(certs);
	return 0;
}
