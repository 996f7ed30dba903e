/*
 * Is a DERP node's certificate really checked, and what does that make of a relay that
 * works? (tls-diagnosis.md §2.5) InsecureForTests in the map turns certificate checks off
 * in every Tailscale client for that node, so a relay can work only because of it, and
 * removing the flag first would break every client. derpcheck therefore always captures
 * and judges the chain, whatever the map or --insecure say, and gives the result one of
 * four states:
 *
 *   verified   clients check the certificate and accept it
 *   rejected   clients check it and refuse it: they cannot use the node
 *   insecure   clients accept it only because InsecureForTests turns their check off;
 *              the chain itself fails. Fix the chain first, then remove the flag.
 *   unchecked  InsecureForTests turns the check off although the chain verifies:
 *              remove it.
 *
 * Rule for every command (diagnose, ping, netcheck --check-derp, cert --region): only
 * "verified" is healthy. "insecure" and "unchecked" are problems (exit status 1) even
 * though relaying works: the map turns certificate checks off for every client, so
 * anyone who can intercept the connection can pose as the relay. derpcheck's own
 * --insecure only lets it connect through a bad certificate to look further; it never
 * changes the judgement. One judgement here; output/ renders it.
 */
#ifndef DERPCHECK_TRUST_H
#define DERPCHECK_TRUST_H

#include <openssl/x509.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/tlscheck.h"

enum dc_trust {
	DC_TRUST_VERIFIED,
	DC_TRUST_REJECTED,
	DC_TRUST_INSECURE,
	DC_TRUST_UNCHECKED,
	DC_TRUST_UNKNOWN, /* no certificate could be judged (nothing captured, no trust store) */
};

/* What was seen of one node's certificate. */
struct dc_trust_evidence {
	const struct dc_derp_node *node; /* InsecureForTests, CertName, Name */
	bool judged;                     /* a chain was captured and judged */
	bool chain_ok;                   /* it verifies the way Tailscale on Linux checks it */
	const char *problem;             /* !chain_ok: the first problem, one line */
	const char *says;                /* !chain_ok: what the clients' own errors say; may be NULL */
	const char *code;                /* !chain_ok: its finding code (docs/json.md) */
	const char *fix;                 /* !chain_ok: what fixes it, one line; may be NULL */
	const char *command;             /* the `derpcheck cert ...` that explains it in full; may be NULL */
	const char *map_name;            /* the map that sets InsecureForTests, for the fix; may be NULL */
};

struct dc_trust_verdict {
	enum dc_trust state;
	const char *code;  /* NULL when verified; the chain's code when rejected or insecure; "insecure-for-tests" when unchecked */
	char summary[300]; /* one line: what clients make of it */
	char cause[800];
	char fix[1000];    /* insecure: the fixes in order ("1. ...; 2. then remove InsecureForTests ...") */
};

/* "verified", "rejected", "insecure", "unchecked", "unknown" (JSON, tests). */
const char *dc_trust_name(enum dc_trust t);

/* insecure and unchecked: relaying works, but only with certificate checks off. */
bool dc_trust_checks_off(enum dc_trust t);

void dc_trust_judge(const struct dc_trust_evidence *e, struct dc_trust_verdict *v);

/*
 * The same for a connection (ping, netcheck --check-derp): verdict is what
 * dc_tls_verify found on chain (NULL when it could not run: unknown). A chain that
 * fails is explained offline with the rules of `derpcheck cert` (no AIA, no network).
 * call names the node and the map for the `derpcheck cert` command in the fix.
 */
void dc_trust_judge_tls(const struct dc_derp_node *node, STACK_OF(X509) *chain, const struct dc_tls_verdict *verdict,
			const struct dc_tlscheck_call *call, struct dc_trust_verdict *v);

/*
 * Add v to r's findings when clients do not check the certificate (insecure, unchecked):
 * an error "insecure-for-tests" at node_path.InsecureForTests with the fixes in order.
 */
void dc_trust_note(struct dc_cert_report *r, const char *node_path, const struct dc_trust_verdict *v);

/* Room for the texts dc_trust_evidence_from_report points the evidence at. */
struct dc_trust_texts {
	char fix[600];
	char says[600];
};

/*
 * Evidence from a judged report (diagnose, cert --region, and the chain judged above):
 * the brief as the problem, the clients' own error texts, the first line of the fix.
 * node, command and map_name are left to the caller.
 */
void dc_trust_evidence_from_report(const struct dc_cert_report *r, struct dc_trust_evidence *e, struct dc_trust_texts *t);

#endif
