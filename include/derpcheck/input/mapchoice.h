/*
 * Which DERP map a command uses, and why (never a silent fallback). In order:
 *   1. the map given with --derp-map (a policy file is merged with the defaults);
 *   2. the map the local tailscaled uses (LocalAPI GET /localapi/v0/derpmap);
 *   3. Tailscale's default map from DC_MAP_DEFAULT_URL (when the caller allows it);
 *   4. the snapshot embedded in the binary.
 * A source that fails is recorded in the note, and the next one is tried; only a map
 * given explicitly is an error when it cannot be used.
 */
#ifndef DERPCHECK_MAPCHOICE_H
#define DERPCHECK_MAPCHOICE_H

#include "derpcheck/input/mapload.h"

#define DC_MAP_DEFAULT_URL "https://controlplane.tailscale.com/derpmap/default"
/* Overrides the default URL (tests point it at loopback); set but empty skips step 3. */
#define DC_MAP_DEFAULT_URL_ENV "DERPCHECK_DEFAULT_MAP_URL"

struct dc_map_choice_opts {
	const char *spec;          /* --derp-map, or NULL */
	const char *socket_path;   /* tailscaled's LocalAPI socket; NULL skips step 2 */
	long localapi_timeout_ms;  /* 0: the LocalAPI default */
	bool try_default_url;      /* step 3 */
	struct dc_fetch_opts fetch; /* for URLs (--derp-map URL and step 3) */
	bool want_defaults;         /* decode the embedded map even when the chosen one does not need it */
};

struct dc_map_choice {
	const struct dc_derpmap *map; /* the regions to use (merged for policy files) */
	enum dc_map_source source;
	char *name;                   /* the file, URL, socket or embedded: name */
	char *note;                   /* why earlier sources were passed over; NULL if none */
	struct dc_derpmap defaults;   /* the embedded map, decoded when a policy file is merged with it,
					 it is the map used, or want_defaults asked for it; else empty */
	bool have_defaults;
	struct dc_map_doc doc;        /* the document read, when one was */
	bool have_doc;
	struct dc_derpmap merged;
	struct dc_merge_summary merge;
	bool have_merged;
};

int dc_map_choose(const struct dc_map_choice_opts *opts, struct dc_map_choice *choice, struct dc_error *err);
void dc_map_choice_free(struct dc_map_choice *choice);

/* "the local tailscaled (LocalAPI) at /var/run/...", for "DERP map:" lines. */
void dc_map_choice_describe(const struct dc_map_choice *choice, char *out, size_t n);

#endif
