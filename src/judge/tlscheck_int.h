/*
 * Shared by the modules that judge a chain (tlscheck.c: the report and the order of the
 * steps; tlsaia.c; tlsverify.c; tlsexplain.c) and probe/tlsprobe.c (the connection, the
 * brief); not part of the public API in include/derpcheck/judge/tlscheck.h. The step
 * functions below are only reached through dc_tlscheck_chain, which loads OpenSSL
 * (dc_ossl_need) first.
 */
#ifndef DERPCHECK_TLSCHECK_INT_H
#define DERPCHECK_TLSCHECK_INT_H

#include "derpcheck/judge/tlscheck.h"

/* snprintf for messages: truncating an over-long name is intended, so it is said once, here. */
void dc_tlscheck_textf(char *out, size_t n, const char *fmt, ...) DC_PRINTF(3, 4);

bool dc_tlscheck_is_ip(const char *s);

/* Add a finding to r; the first error's brief becomes r->brief (dc_tlscheck_brief). */
struct dc_finding *dc_tlscheck_issue(struct dc_cert_report *r, enum dc_severity sev, const char *code, const char *path,
				     const char *brief, const char *fmt, ...) DC_PRINTF(6, 7);

/* Append cert (a new reference) to the report's listing, described at now. */
struct dc_chain_cert *dc_tlscheck_add_cert(struct dc_cert_report *r, X509 *cert, enum dc_cert_origin origin, int index,
					   const char *url, time_t now);

/* ---- one verification pass (tlsverify.c) ---------------------------------------------- */

struct problem {
	int code;
	int depth;
	X509 *cert; /* owned reference, may be NULL */
};

struct vpass {
	struct problem p[24];
	size_t count;
	STACK_OF(X509) *path; /* the chain OpenSSL built, leaf first (owned) */
	bool anchored;        /* its top came from the trust store */
	bool ran;
};

enum name_rule {
	NAME_NONE,        /* no name check (Go with an IP HostName and no CertName) */
	NAME_SAN_ONLY,    /* Go, browsers: the Common Name is never looked at */
	NAME_CN_FALLBACK, /* OpenSSL/curl: CN when there is no DNS SAN */
	NAME_IP,          /* an IP SAN must match */
};

struct vparams {
	X509_STORE *store;
	X509 *leaf;
	STACK_OF(X509) *untrusted;
	int auth_level; /* 2: OpenSSL's default (no SHA-1, RSA >= 2048), 1: Go (no SHA-1) */
	const char *name;
	enum name_rule rule;
	time_t now;
};

/* ---- the check: one chain being judged ------------------------------------------------- */

struct check {
	const struct dc_tlscheck_opts *o;
	struct dc_cert_report *r;
	time_t now;
	uint64_t deadline_ns;
	X509 *leaf;
	STACK_OF(X509) *served;    /* every served certificate after the leaf (metacert too) */
	STACK_OF(X509) *with_aia;  /* served plus everything fetched */
	X509_STORE *system;
	X509_STORE *baked;
	size_t served_real;        /* served certificates that are not the metacert */
	struct vpass pass[DC_CLIENT_COUNT]; /* the decisive pass per client */
	struct vpass complete;     /* Go rules, everything fetched: the path to serve */
	bool aia_tried;
	char aia_note[300];        /* why AIA did not complete the chain */
};

/* ---- tlscheck.c ------------------------------------------------------------------------ */

bool dc_tlscheck_is_pin(const char *cert_name); /* CertName "sha256-raw:HEX" */
/* Append text to out, ", "-separated. */
void dc_tlscheck_append_sep(char *out, size_t n, const char *text);
/* The report's entry for cert, or NULL. */
struct dc_chain_cert *dc_tlscheck_report_find(struct dc_cert_report *r, X509 *cert);
/* cert described at the check's time: the report's copy when it holds cert (describing is costly), else fresh. */
void dc_tlscheck_describe(const struct check *k, X509 *cert, struct dc_cert_info *info);
/* The name Tailscale checks: CertName unless it is a pin, else HostName. */
const char *dc_tlscheck_go_name(const struct dc_tlscheck_opts *o);
bool dc_tlscheck_in_stack(STACK_OF(X509) *sk, X509 *cert);
bool dc_tlscheck_on_complete_path(struct check *k, X509 *cert);

/* ---- tlsverify.c ----------------------------------------------------------------------- */

void dc_tlsverify_params(const struct check *k, enum dc_client c, X509_STORE *store, STACK_OF(X509) *untrusted,
			 struct vparams *vp);
void dc_tlsverify_run(const struct vparams *vp, struct vpass *v);
void dc_tlsverify_free(struct vpass *v);
X509 *dc_tlsverify_top(const struct vpass *v); /* the top of the path built, or NULL */
/* Run the passes that decide each client's verdict (k->pass, r->clients' ok/via_*). */
void dc_tlsverify_clients(struct check *k);
/* The path to serve (r->fullchain) and k->complete. */
void dc_tlsverify_fullchain(struct check *k, STACK_OF(X509) *served_real);
/* The finding code of a problem as client c meets it; NULL when another problem tells the story. */
const char *dc_tlsverify_classify(struct check *k, enum dc_client c, const struct problem *p);
/* The problem that decides client c's verdict (the one its own verifier reports). */
const struct problem *dc_tlsverify_deciding_problem(const struct vpass *v, enum dc_client c);
int dc_tlsverify_code_rank(const char *code); /* report order: the first error is the brief */
X509 *dc_tlsverify_fetched_issuer(struct check *k, X509 *cert);
bool dc_tlsverify_cn_matches(const struct dc_cert_info *info, const char *name);

/* ---- tlsaia.c -------------------------------------------------------------------------- */

void dc_tlsaia_chase(struct check *k);

/* ---- tlsexplain.c ---------------------------------------------------------------------- */

/* What each client says (r->clients' code and says). */
void dc_tlsexplain_verdicts(struct check *k);
/* A finding with cause and fix for every problem the passes met, in report order. */
void dc_tlsexplain_problems(struct check *k);
/* Findings about the chain's shape: order, a root or a stranger sent, expiry soon. */
void dc_tlsexplain_structure(struct check *k);

#endif
