/*
 * A decoded DERP map as text: every region and node with the values Tailscale's clients
 * use (DERPPort 0 is 443, STUNPort 0 is 3478, an address that is not one turns the family
 * off), so `derpcheck validate -v` shows what the file means, not only what it says.
 */
#ifndef DERPCHECK_OUTPUT_MAP_H
#define DERPCHECK_OUTPUT_MAP_H

#include <stdio.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/output/output.h"

void dc_output_derpmap_text(FILE *out, const struct dc_derpmap *map, const struct dc_style *st);

#endif
