/*
 * Rendering a `derpcheck server` report (serverconf.h): the checklist for people (the
 * style of diagnose: a mark, the check, what was seen, then cause and fix), and one JSON
 * document for scripts (docs/json.md, "server").
 */
#ifndef DERPCHECK_OUTPUT_SERVER_H
#define DERPCHECK_OUTPUT_SERVER_H

#include <stdio.h>

#include "derpcheck/judge/serverconf.h"
#include "derpcheck/output/output.h"

struct dc_server_view {
	struct dc_style style;
	bool utf8;               /* ✓ ✗ ! and arrows; else ok/FAIL/warn/skip */
	const char *map_name;    /* --derp-map as given, or NULL */
	const struct dc_server_opts *opts;
	bool verbose;            /* -v: every derper flag as derper reads it, written or default */
};

void dc_output_server_text(FILE *out, const struct dc_server_report *r, const struct dc_server_view *v);
void dc_output_server_json(FILE *out, const struct dc_server_report *r, const struct dc_server_view *v);

#endif
