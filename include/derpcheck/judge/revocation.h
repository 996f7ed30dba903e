/*
 * Is the served leaf revoked? Asked the way a client that checks would ask: the OCSP
 * response the server stapled to the handshake (status_request, RFC 6066 §8) when there
 * is one, else the responder named in the leaf's Authority Information Access (RFC 6960,
 * sent as an HTTP GET, RFC 6960 Appendix A.1 / RFC 5019), else the CRL at the leaf's CRL
 * distribution point (RFC 5280 §5; Let's Encrypt's only revocation service since 2025).
 *
 * A verdict needs evidence: "good" and "revoked" come only from a response that parses,
 * is signed by the leaf's issuer (or a responder it delegated to, id-kp-OCSPSigning),
 * names this certificate and is current. A responder that answers without such a verdict
 * gives "unknown"; no responder URL, no issuer to build the request from, or no answer at
 * all give "not checked". Neither of those two is ever reported as fine.
 *
 * Tailscale's Go client does not check revocation (crypto/tls never asks for OCSP), so a
 * revoked leaf still relays for Linux clients; the platform verifiers of macOS, iOS and
 * Windows and browsers may refuse it. Core only: nothing is printed.
 */
#ifndef DERPCHECK_REVOCATION_H
#define DERPCHECK_REVOCATION_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "derpcheck/util/util.h"

enum dc_revocation_status {
	DC_REVOCATION_NOT_CHECKED, /* no URL, no issuer, no answer: no evidence either way */
	DC_REVOCATION_GOOD,
	DC_REVOCATION_REVOKED,
	DC_REVOCATION_UNKNOWN,     /* a responder answered, but with no usable verdict */
};

/* Where the verdict came from. */
enum dc_revocation_source {
	DC_REVSRC_NONE,
	DC_REVSRC_STAPLE, /* the OCSP response stapled to the TLS handshake */
	DC_REVSRC_OCSP,   /* the leaf's OCSP responder, asked over HTTP */
	DC_REVSRC_CRL,    /* the CRL at the leaf's distribution point */
};

struct dc_revocation {
	bool attempted;            /* the check ran (false: not asked for, or no leaf) */
	enum dc_revocation_status status;
	enum dc_revocation_source source;
	bool stapled;              /* the server stapled a response (whatever it said) */
	char url[256];             /* the leaf's OCSP URL; "" when it names none */
	char crl_url[256];         /* the leaf's CRL distribution point (http/https); "" when none */
	int reason;                /* revoked: the CRL reason code (RFC 5280 §5.3.1), -1 when none given */
	char reason_text[40];      /* "keyCompromise", "superseded", ...; "" when none */
	int64_t revoked_at;        /* revoked: revocationTime, Unix seconds */
	int64_t this_update;       /* the response's thisUpdate / nextUpdate; 0 when absent */
	int64_t next_update;
	double fetch_ms;           /* the HTTP request to the responder; < 0 when none was made */
	char detail[400];          /* one line: the evidence (what was asked, what came back) */
};

/* "not-checked", "good", "revoked", "unknown" (JSON, Prometheus label status=...). */
const char *dc_revocation_status_name(enum dc_revocation_status st);
/* "staple", "ocsp", "crl", or NULL. */
const char *dc_revocation_source_name(enum dc_revocation_source src);

/* How much a response may be off its thisUpdate/nextUpdate window: clocks differ (seconds). */
#define DC_OCSP_LEEWAY_S 300
#define DC_OCSP_MAX_BYTES (64u * 1024u)
#define DC_CRL_MAX_BYTES (4u * 1024u * 1024u)

/*
 * Judge one DER OCSP response about leaf (issued by issuer) at now: fills status,
 * reason, times and detail of out (source, url and fetch facts are the caller's). The
 * response must be signed by issuer or by a responder certificate issuer signed for
 * OCSP; the issuer itself is the only trust anchor (whether it chains to a root is the
 * certificate check's question, not this one's).
 */
void dc_ocsp_judge(const unsigned char *der, size_t len, X509 *leaf, X509 *issuer, time_t now,
		   struct dc_revocation *out);

/*
 * The GET URL of an OCSP request for leaf at responder (RFC 6960 Appendix A.1: the
 * base64 of the DER request, URL-encoded, after a '/'). 0, or -1 with err.
 */
int dc_ocsp_get_url(const char *responder, X509 *leaf, X509 *issuer, char **url, struct dc_error *err);

/*
 * Judge a CRL (DER or PEM) for leaf at now: it must be issued and signed by issuer and
 * current; then the leaf's serial on it is "revoked" (with its reason and date), absent
 * is "good". Delta CRLs and indirect CRLs are not followed.
 */
void dc_crl_judge(const unsigned char *data, size_t len, X509 *leaf, X509 *issuer, time_t now,
		  struct dc_revocation *out);

/* The leaf's first http(s) CRL distribution point into out; false when it names none. */
bool dc_crl_distribution_point(X509 *leaf, char *out, size_t n);

/* The leaf's first OCSP responder URL (AIA id-ad-ocsp) into out; false when it names none. */
bool dc_ocsp_responder(X509 *leaf, char *out, size_t n);

/* Fetch url into body within timeout_ms (the same contract as dc_aia_fetch_fn). */
typedef int (*dc_ocsp_fetch_fn)(void *user, const char *url, long timeout_ms, struct dc_buf *body,
				struct dc_error *err);

struct dc_revocation_opts {
	time_t now;               /* 0: the real clock */
	long timeout_ms;          /* the HTTP request (0: 5 s) */
	dc_ocsp_fetch_fn fetch;   /* NULL: libcurl, 64 KiB cap for OCSP, 4 MiB for a CRL */
	void *fetch_user;
};

/*
 * The whole check: the staple (der/len, may be NULL/0) first; when it gives no verdict
 * (none, or unusable), the leaf's responder; when that gives none either, the CRL. issuer may be NULL (not served and not
 * found): then only a staple could be judged... and not even that, so "not checked".
 */
void dc_revocation_check(X509 *leaf, X509 *issuer, const unsigned char *staple, size_t staple_len,
			 const struct dc_revocation_opts *opts, struct dc_revocation *out);

#endif
