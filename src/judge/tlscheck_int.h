/*
 * Shared by tlscheck.c (judging a chain) and tlsprobe.c (the connection, the brief);
 * not part of the public API in include/derpcheck/judge/tlscheck.h.
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

#endif
