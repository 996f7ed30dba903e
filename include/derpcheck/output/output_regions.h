/*
 * `diagnose --all` and `diagnose R1 R2 ...`: many regions checked at once (judge/diagpool.h)
 * rendered as one section per region (output_diagnose.h) and a summary; as one JSON
 * document (docs/json.md, "diagnose, many regions"); or as one Prometheus exposition in
 * which every family appears once with the samples of every region.
 */
#ifndef DERPCHECK_OUTPUT_REGIONS_H
#define DERPCHECK_OUTPUT_REGIONS_H

#include "derpcheck/judge/diagpool.h"
#include "derpcheck/output/output_diagnose.h"

struct dc_regions_run {
	const struct dc_diag_job *jobs;
	size_t count;
	uint64_t elapsed_ns;   /* the whole run */
	unsigned workers;      /* at most this many at once */
	const char *deadline;  /* --deadline as given, for "not started" lines; NULL: none */
};

void dc_output_regions_text(FILE *out, const struct dc_regions_run *run, const struct dc_diag_view *v);
void dc_output_regions_json(FILE *out, const struct dc_regions_run *run, const struct dc_diag_view *v);
void dc_output_regions_prometheus(FILE *out, const struct dc_regions_run *run);

/* 0 when every region was diagnosed and is healthy (dc_diag_exit_status), else 1. */
int dc_regions_exit_status(const struct dc_regions_run *run);

#endif
