/*
 * Rendering for `derpcheck ping`: the live lines (one per reply, in the spirit of
 * `tailscale ping`), the summary in the spirit of ping(8), the failure lines, and the
 * JSON document (docs/json.md). The command only decides what to show.
 */
#ifndef DERPCHECK_OUTPUT_PING_H
#define DERPCHECK_OUTPUT_PING_H

#include <stdio.h>

#include "derpcheck/probe/derpping.h"
#include "derpcheck/output/output.h"

struct dc_ping_report {
	const struct dc_ping_opts *opts;
	const struct dc_ping_result *result;
	const struct dc_derp_region *region;
	bool host_target;      /* HOST[:PORT] given instead of a region */
	const char *target;    /* as typed */
	const char *map_name;  /* NULL for a HOST target without a map */
	const char *map_source;
	const char *ca_file;   /* repeated in the `derpcheck cert` suggestion */
	const struct dc_style *style;
	int verbose;
};

void dc_output_ping_header(FILE *out, const struct dc_ping_report *rep);
void dc_output_ping_event(FILE *out, const struct dc_ping_report *rep, const struct dc_ping_event *ev);
void dc_output_ping_summary(FILE *out, const struct dc_ping_report *rep);
/* --transport auto had to use WebSocket: the relay works, but not for tailscaled. */
bool dc_ping_websocket_only(const struct dc_ping_result *r);
/* Why the run failed, as "derpcheck: ..." lines with hints (standard error). */
void dc_output_ping_failure(FILE *out, const struct dc_ping_report *rep);
void dc_output_ping_json(FILE *out, const struct dc_ping_report *rep);

/*
 * The short certificate diagnosis for a failed connection: the "hint:" line that sends
 * the user to `derpcheck cert` with the exact arguments. Kept in one place so the cert
 * module's own short form can replace it.
 */
void dc_output_ping_cert_hint(FILE *out, const struct dc_derp_attempt *a, const struct dc_derp_node *node,
			      const char *ca_file);

#endif
