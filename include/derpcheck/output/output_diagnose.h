/*
 * Rendering a diagnose report (diagnose.h): a checklist for people, one JSON document for
 * scripts (docs/json.md, "diagnose"), and the Prometheus text exposition format for a
 * cron job or node_exporter's textfile collector. One report, three views.
 */
#ifndef DERPCHECK_OUTPUT_DIAGNOSE_H
#define DERPCHECK_OUTPUT_DIAGNOSE_H

#include <stdio.h>

#include "derpcheck/judge/diagnose.h"
#include "derpcheck/output/output.h"

struct dc_diag_view {
	struct dc_style style;
	bool utf8;            /* ✓ ✗ ! and arrows; else ASCII words (ok/FAIL/warn/skip) */
	const char *map_desc; /* "file map.json", for the header line */
	const char *map_note; /* why other map sources were passed over, or NULL */
	bool verbose;         /* -v: each check's evidence under it */
};

void dc_output_diagnose_text(FILE *out, const struct dc_diag_report *r, const struct dc_diag_view *v);
void dc_output_diagnose_json(FILE *out, const struct dc_diag_report *r, const struct dc_diag_view *v);
void dc_output_diagnose_prometheus(FILE *out, const struct dc_diag_report *r);
/* The JSON document of dc_output_diagnose_json, for a caller that embeds it (cJSON_Delete it). */
struct cJSON;
struct cJSON *dc_output_diagnose_json_doc(const struct dc_diag_report *r, const struct dc_diag_view *v);

/* 0: no check failed and both verdicts are ok or n/a; 1 otherwise. */
int dc_diag_exit_status(const struct dc_diag_report *r);

#endif
