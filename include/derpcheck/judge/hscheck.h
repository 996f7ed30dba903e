/*
 * Headscale's DERP rules (deployments.md §3): what in a config.yaml, and in the files
 * it names, makes the map Headscale sends different from what its author meant, or
 * keeps Headscale from starting. The map's own rules (protocols.md §4.3) are
 * dc_validate's; these are the ones only a Headscale config can break. Each finding
 * points at the config key (or the derp.paths file line) and carries the fix.
 */
#ifndef DERPCHECK_HSCHECK_H
#define DERPCHECK_HSCHECK_H

#include "derpcheck/input/headscale.h"

/* hs and the map it built (the document's map); findings go to findings. */
void dc_headscale_check(const struct dc_headscale *hs, const struct dc_derpmap *built, struct dc_findings *findings);

#endif
