/*
 * Finding the region a user named on the command line, by region ID or RegionCode
 * (which map to use is src/input/mapchoice.c's job).
 */
#ifndef DERPCHECK_EFFECTIVE_H
#define DERPCHECK_EFFECTIVE_H

#include "derpcheck/input/mapload.h"

/* The region, or NULL with err naming mapname and suggesting the closest code. */
const struct dc_derp_region *dc_region_find(const struct dc_derpmap *map, const char *id_or_code,
					    const char *mapname, struct dc_error *err);

#endif
