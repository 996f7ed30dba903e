/*
 * derper's --certmode=manual start-up, repeated with clear messages (tls-diagnosis.md
 * §1.4): the file names it derives from --hostname, PEM parsing as Go's
 * tls.LoadX509KeyPair does it (CERTIFICATE blocks in file order, other blocks skipped;
 * unencrypted PKCS#8, SEC1 or PKCS#1 key), the key matching the FIRST certificate, and
 * the leaf valid for --hostname by SAN only. Problems are findings; the certificates
 * read are handed to dc_tlscheck_chain for the per-client verdicts.
 */
#ifndef DERPCHECK_CERTFILES_H
#define DERPCHECK_CERTFILES_H

#include <limits.h>
#include <openssl/x509.h>

#include "derpcheck/judge/findings.h"

/*
 * derper's file stem for a hostname: every character that is not an ASCII letter, a
 * digit, '-' or '.' is deleted ("2001:db8::1" -> "2001db81"). Returns how many were.
 */
size_t dc_derper_cert_stem(const char *hostname, char *out, size_t n);

struct dc_certfiles_opts {
	const char *certdir;  /* with hostname: <certdir>/<stem>.crt and .key */
	const char *hostname; /* derper's --hostname: the name the leaf must carry */
	const char *cert_file; /* or explicit paths */
	const char *key_file;
	time_t now;           /* 0: the real clock */
};

struct dc_certfiles {
	char cert_path[PATH_MAX];
	char key_path[PATH_MAX];
	STACK_OF(X509) *certs; /* CERTIFICATE blocks in file order (owned); NULL if none */
	STACK_OF(X509) *chain; /* what derper would serve, leaf first: certs, or certs with the
				  key's certificate moved first when it is not (for judging) */
	bool loadable;         /* derper would start with these files (names included: the
				  name finding itself comes from judging the chain) */
	int key_cert_index;    /* the certificate the key belongs to; -1 when none */
	struct dc_findings findings;
};

/*
 * Check the files. Returns -1 with err only for an input error (certdir is not a
 * directory, an explicit --cert-file/--key-file does not exist); everything derper
 * would trip over is a finding. out must be freed.
 */
int dc_certfiles_check(const struct dc_certfiles_opts *opts, struct dc_certfiles *out, struct dc_error *err);
void dc_certfiles_free(struct dc_certfiles *f);

/*
 * The same judgement for contents already in memory (key NULL: no key file), named
 * o->cert_file and o->key_file in findings. For tests and fuzzing; always 0.
 */
int dc_certfiles_check_text(const struct dc_certfiles_opts *o, const void *crt, size_t crt_len, const void *key,
			    size_t key_len, struct dc_certfiles *f);

#endif
