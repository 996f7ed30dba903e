/*
 * The DERP map a network command works on: read from --derp-map (or the embedded
 * snapshot), and for a tailnet policy file merged with Tailscale's default regions the
 * way clients see it (protocols.md §4.2). Plus finding a region by ID or RegionCode.
 */
#ifndef DERPCHECK_EFFECTIVE_H
#define DERPCHECK_EFFECTIVE_H

#include "derpcheck/mapload.h"

struct dc_effective_map {
	struct dc_map_doc doc;
	struct dc_derpmap merged; /* used when the document is a policy file */
	bool is_merged;
	const struct dc_derpmap *map; /* what clients use: &doc.map or &merged */
};

/*
 * Load spec ("-", a path, an http(s) URL or "embedded:"). A document that is not a
 * usable DERP map is an error naming its first problem (and suggesting validate).
 */
int dc_effective_map_load(const char *spec, const struct dc_fetch_opts *opts, struct dc_effective_map *out,
			  struct dc_error *err);
void dc_effective_map_free(struct dc_effective_map *m);

/* A region by ID, or by RegionCode (case-insensitive); NULL with a did-you-mean otherwise. */
const struct dc_derp_region *dc_region_find(const struct dc_derpmap *map, const char *id_or_code,
					    const char *mapname, struct dc_error *err);

#endif
