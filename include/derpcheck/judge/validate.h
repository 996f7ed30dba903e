/*
 * DERP map rules (protocols.md §4.3): what breaks Tailscale clients (errors) and what
 * works but hurts (warnings). Every finding carries a path, a position and a fix.
 */
#ifndef DERPCHECK_VALIDATE_H
#define DERPCHECK_VALIDATE_H

#include "derpcheck/input/derpmap.h"

/*
 * Check map (already decoded; decode findings are separate). defaults is Tailscale's
 * default map, used to judge policy-file maps that add to it; it may be NULL.
 */
void dc_validate(const struct dc_derpmap *map, const struct dc_derpmap *defaults, struct dc_findings *findings);

#endif
