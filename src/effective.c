#include "derpcheck/effective.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int dc_effective_map_load(const char *spec, const struct dc_fetch_opts *opts, struct dc_effective_map *out,
			  struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	if (dc_map_doc_load(spec, opts, &out->doc, err) < 0)
		return -1;
	struct dc_map_doc *doc = &out->doc;
	if (!doc->parsed || !doc->decoded || doc->map.shape == DC_SHAPE_POLICY_NO_MAP) {
		size_t n = dc_findings_count(&doc->findings, DC_SEV_ERROR);
		dc_error_set(err, doc->text.name, "not a usable DERP map: %s",
			     n ? doc->findings.items[0].message : "the policy file has no derpMap");
		dc_error_hint(err, "run 'derpcheck validate %s' to see every problem", doc->text.name);
		dc_map_doc_free(doc);
		return -1;
	}
	out->map = &doc->map;
	if (doc->map.shape == DC_SHAPE_POLICY) {
		struct dc_derpmap defaults;
		struct dc_merge_summary summary;
		if (dc_map_defaults(&defaults) < 0) {
			dc_map_doc_free(doc);
			return dc_error_set(err, NULL, "internal error: the embedded default DERP map does not decode");
		}
		dc_derpmap_merge(&doc->map, &defaults, &out->merged, &summary);
		dc_merge_summary_free(&summary);
		dc_derpmap_free(&defaults);
		out->is_merged = true;
		out->map = &out->merged;
	}
	return 0;
}

void dc_effective_map_free(struct dc_effective_map *m)
{
	if (m->is_merged)
		dc_derpmap_free(&m->merged);
	dc_map_doc_free(&m->doc);
	memset(m, 0, sizeof(*m));
}

const struct dc_derp_region *dc_region_find(const struct dc_derpmap *map, const char *want, const char *mapname,
					    struct dc_error *err)
{
	long long id;
	if (dc_parse_int(want, 1, INT64_MAX, &id) == 0) {
		const struct dc_derp_region *r = dc_derpmap_region(map, id);
		if (r && !r->removed)
			return r;
	}
	const char **codes = dc_xcalloc(map->region_count + 1, sizeof(*codes));
	for (size_t i = 0; i < map->region_count; i++) {
		const struct dc_derp_region *r = &map->regions[i];
		codes[i] = r->code ? r->code : "";
		if (!r->removed && r->code && *r->code && strcasecmp(r->code, want) == 0) {
			free(codes);
			return r;
		}
	}
	dc_error_set(err, mapname, "no region '%s' in this DERP map", want);
	const char *guess = dc_closest(want, codes, map->region_count);
	if (guess)
		dc_error_hint(err, "did you mean --region %s?", guess);
	else if (map->region_count)
		dc_error_hint(err, "give a region ID or RegionCode from the map, e.g. --region %lld",
			      (long long)map->regions[0].id);
	free(codes);
	return NULL;
}
