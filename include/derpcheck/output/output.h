/*
 * The one printer: renders findings and reports as text (for people) or JSON (for
 * scripts, schema in docs/json.md). Commands never format findings themselves.
 */
#ifndef DERPCHECK_OUTPUT_H
#define DERPCHECK_OUTPUT_H

#include <stdio.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/findings.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/term.h"
#include "derpcheck/probe/stunguess.h"


/* "FILE:LINE:COL: error: PATH: MESSAGE" and an indented "hint:" line per finding. */
void dc_output_findings_text(FILE *out, const struct dc_findings *f, const struct dc_style *st);

/* A JSON array of finding objects (docs/json.md, "findings"). */
void dc_output_findings_json(FILE *out, const struct dc_findings *f);
/* One finding as a cJSON object (the same keys), for commands that build one document. */
struct cJSON;
struct cJSON *dc_output_finding_json(const struct dc_finding *x);

/*
 * The other STUN ports tried for a node (docs/json.md, "ports tried"): an array of
 * {port, why, other_node, result, rtt_ms, icmp_from}, or null when none were tried.
 */
struct cJSON *dc_output_stun_guess_json(const struct dc_stun_guess *g);

/*
 * The served leaf's revocation status (docs/json.md, "revocation"): {status, source,
 * stapled, ocsp_url, reason, revoked_at, this_update, next_update, fetch_ms, detail}.
 */
struct dc_revocation;
struct cJSON *dc_output_revocation_json(const struct dc_revocation *v);

/* What `derpcheck validate` knows about one input once it has been checked. */
struct dc_validate_result {
	const struct dc_map_doc *doc;
	const struct dc_derpmap *effective; /* what clients use; NULL if not computed */
	const struct dc_merge_summary *merge; /* policy files only, else NULL */
	const struct dc_derpmap *defaults;
	size_t errors;
	size_t warnings;
};

/* The per-file summary after the findings: counts, and for a clean map what clients get. */
void dc_output_validate_summary(FILE *out, const struct dc_validate_result *r, const struct dc_style *st);

#endif
