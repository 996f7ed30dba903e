/*
 * Rendering `derpcheck netcheck`: Tailscale's report block (netreport.h) unchanged, then a
 * "derpcheck:" block with what Tailscale leaves out; JSON is Tailscale's document with one
 * extra top-level key, "derpcheck" (docs/json.md).
 */
#ifndef DERPCHECK_OUTPUT_NETCHECK_H
#define DERPCHECK_OUTPUT_NETCHECK_H

#include <stdio.h>

#include "derpcheck/probe/netcheck.h"
#include "derpcheck/output/output.h"

struct dc_netcheck_view {
	const struct dc_netcheck_result *res;
	const struct dc_derpmap *map;
	const char *map_source; /* "file", "url", "localapi", "embedded", "stdin" */
	const char *map_desc;   /* dc_map_choice_describe */
	const char *map_note;   /* why earlier sources were passed over, or NULL */
	bool verbose;
};

void dc_output_netcheck_text(FILE *out, const struct dc_netcheck_view *v, const struct dc_style *st);
/* one_line: --format json-line (one compact line per report). */
void dc_output_netcheck_json(FILE *out, const struct dc_netcheck_view *v, bool one_line);

/* Three lines for `status --netcheck`: what was measured about this machine. */
void dc_output_netcheck_brief(FILE *out, const struct dc_netcheck_view *v, const struct dc_style *st);

/* The "derpcheck" object alone (status --netcheck embeds it). */
struct cJSON;
struct cJSON *dc_output_netcheck_extra_json(const struct dc_netcheck_view *v);


#endif
