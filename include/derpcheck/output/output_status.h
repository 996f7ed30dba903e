/*
 * Rendering of `derpcheck status`: the tailnet report as an aligned table with the
 * reasons for every peer that is not direct (text), or one JSON document (schema in
 * docs/json.md, "status"). Both come from the same dc_tailnet_report.
 */
#ifndef DERPCHECK_OUTPUT_STATUS_H
#define DERPCHECK_OUTPUT_STATUS_H

#include <stdio.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output.h"
#include "derpcheck/judge/peerpath.h"

struct cJSON;

enum dc_status_source { DC_STATUS_FROM_SOCKET, DC_STATUS_FROM_FILE, DC_STATUS_FROM_STDIN };

/* Where the report came from and what to show of it. */
struct dc_status_context {
	enum dc_status_source source;
	const char *source_name;       /* the socket path or file name */
	enum dc_map_source map_source; /* which DERP map named the regions */
	const char *map_name;
	const char *map_note;          /* why this map was used instead of tailscaled's, or NULL */
	int64_t now;                   /* Unix time, for ages */
	bool active_only;              /* --active: show only active peers */
	const struct dc_peer_view *only; /* --peer: show this peer in detail */
	struct cJSON *netcheck;        /* --netcheck: the netcheck document, added as "netcheck" */
};

/* Whether a peer is shown under ctx (--active, --peer). */
bool dc_status_peer_shown(const struct dc_peer_view *v, const struct dc_status_context *ctx);

void dc_output_status_text(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx,
			   const struct dc_style *st);
void dc_output_status_json(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx);

#endif
