/*
 * Finding the region a user named on the command line, by region ID or RegionCode
 * (which map to use is src/input/mapchoice.c's job).
 */
#ifndef DERPCHECK_EFFECTIVE_H
#define DERPCHECK_EFFECTIVE_H

#include "derpcheck/input/mapload.h"

/*
 * The region, or NULL with err naming mapname. *guess (when guess is not NULL) is the
 * closest RegionCode or NULL; the hint suggests it as flag ("--region") gives it, or as
 * the bare code when flag is NULL (a positional REGION). Callers may replace the hint.
 */
const struct dc_derp_region *dc_region_find(const struct dc_derpmap *map, const char *id_or_code,
					    const char *mapname, const char *flag, const char **guess,
					    struct dc_error *err);

#endif
