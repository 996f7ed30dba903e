/*
 * Rendering for `derpcheck ping`: the live lines (one per reply, in the spirit of
 * `tailscale ping`), the summary in the spirit of ping(8), the failure lines, and the
 * JSON document (docs/json.md). The command only decides what to show.
 */
#ifndef DERPCHECK_OUTPUT_PING_H
#define DERPCHECK_OUTPUT_PING_H

#include <stdio.h>

#include "derpcheck/judge/trust.h"
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
	const char *map_spec;  /* --derp-map for the `derpcheck cert` suggestion, NULL if none can be given */
	const char *map_format; /* its --map-format when not auto */
	const struct dc_style *style;
	int verbose;
	/* What clients make of each connected client's certificate (judge/trust.h). */
	bool trust_judged[2];
	struct dc_trust_verdict trust[2];
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
 * The `derpcheck cert` call that explains node's certificate: the map and region when
 * the map can be named again, else the address connected to (addr, "IP:PORT") with the
 * node's name. hostport is room for the address.
 */
void dc_output_ping_cert_call(const struct dc_ping_report *rep, const struct dc_derp_node *node, const char *addr,
			      struct dc_tlscheck_call *call, char *hostport, size_t n);

/* The certificate problems of the connected clients (rep->trust), one per node, with fixes. */
void dc_output_ping_trust(FILE *out, const struct dc_ping_report *rep);

#endif
