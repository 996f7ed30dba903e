/* Rendering a `derpcheck stun` report: text for people, JSON for scripts (docs/json.md). */
#ifndef DERPCHECK_OUTPUT_STUN_H
#define DERPCHECK_OUTPUT_STUN_H

#include <stdio.h>

#include "derpcheck/output/output.h"
#include "derpcheck/probe/stuncheck.h"

void dc_output_stun_text(FILE *out, const struct dc_stun_report *rep, const struct dc_style *st);
void dc_output_stun_json(FILE *out, const struct dc_stun_report *rep);
/* The prober's counters, for --verbose. */
void dc_output_stun_stats(FILE *out, const struct dc_stun_report *rep);

#endif
