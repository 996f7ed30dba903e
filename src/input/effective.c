#include "derpcheck/input/effective.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct dc_derp_region *dc_region_find(const struct dc_derpmap *map, const char *want, const char *mapname,
					    const char *flag, const char **guess_out, struct dc_error *err)
{
	if (guess_out)
		*guess_out = NULL;
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
	if (guess_out)
		*guess_out = guess;
	if (guess)
		dc_error_hint(err, "did you mean %s%s%s?", flag ? flag : "", flag ? " " : "", guess);
	else if (map->region_count)
		dc_error_hint(err, "give a region ID or RegionCode from the map, e.g. %s%s%lld", flag ? flag : "",
			      flag ? " " : "", (long long)map->regions[0].id);
	free(codes);
	return NULL;
}
