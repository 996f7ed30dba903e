/*
 * libFuzzer target for the Status reader (src/input/status.c) and everything downstream of
 * it: path analysis, peer lookup, and both renderings. Any input must either be
 * refused with an error or be read, analysed and printed without a fault or a leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output_status.h"
#include "derpcheck/judge/peerpath.h"
#include "derpcheck/input/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dc_derpmap map;
	static FILE *sink;
	if (!sink) {
		if (dc_map_defaults(&map) < 0)
			return 0;
		sink = fopen("/dev/null", "w");
		if (!sink)
			return 0;
	}
	struct dc_status st;
	struct dc_error err;
	if (dc_status_parse((const char *)data, size, "fuzz", &st, &err) < 0)
		return 0;
	struct dc_tailnet_report r;
	dc_tailnet_analyze(&st, &map, 1787400000, &r);
	struct dc_status_context ctx = {
		.source = DC_STATUS_FROM_FILE,
		.source_name = "fuzz",
		.map_source = DC_MAP_SOURCE_EMBEDDED,
		.map_name = DC_MAP_EMBEDDED_SPEC,
		.now = 1787400000,
	};
	struct dc_style style = {.color = true};
	dc_output_status_text(sink, &r, &ctx, &style);
	dc_output_status_json(sink, &r, &ctx);
	if (r.count) {
		/* Look every peer up by its own name, and show it in detail. */
		const struct dc_peer_view *second;
		ctx.only = dc_tailnet_find_peer(&r, r.peers[r.count - 1].name, &second);
		if (ctx.only) {
			dc_output_status_text(sink, &r, &ctx, &style);
			dc_output_status_json(sink, &r, &ctx);
		}
	}
	dc_tailnet_report_free(&r);
	dc_status_free(&st);
	return 0;
}
