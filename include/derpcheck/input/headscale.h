/*
 * Headscale's config.yaml as input: the derp: section read the way Headscale reads it
 * (viper: case-insensitive keys, values converted by spf13/cast), and the DERP map it
 * builds from that section (deployments.md §3; hscontrol/derp/derp.go GetDERPMap,
 * hscontrol/derp/server/derp_server.go GenerateRegion, hscontrol/app.go):
 *
 *   1. the JSON maps of derp.urls, in order (Go's encoding/json, strict JSON);
 *   2. then the YAML maps of derp.paths, in order (yaml.v3, lower-case keys);
 *   3. merged by region ID, a later region replacing an earlier one, regions written
 *      as null removed; OmitDefaultRegions is always reset to false;
 *   4. when derp.server.enabled and automatically_add_embedded_derp_region (default
 *      true), the embedded region written over any region with its ID: region_id,
 *      region_code, region_name, host and port from server_url (443 for https, 80
 *      otherwise, when it has no port), STUN port from stun_listen_addr, ipv4, ipv6, and
 *      one node named after the region ID.
 * Headscale also shuffles each region's nodes (seeded by dns.base_domain); the map kept
 * here is in file order, and multi-node regions are judged with that in mind.
 *
 * Every source is recorded with what happened to it (read, replaced by the embedded
 * snapshot, skipped), and every region of the built map with the source it came from,
 * so commands can say which files and rules produced the map.
 */
#ifndef DERPCHECK_HEADSCALE_H
#define DERPCHECK_HEADSCALE_H

#include "derpcheck/input/mapload.h"

/* One config value: whether it was written, where, and the text as written. */
struct dc_hs_value {
	bool set;
	struct dc_srcpos key_at;
	struct dc_srcpos at;
	char *text;     /* the value as written (scalars), or NULL */
	char *string;   /* what viper's GetString returns (cast.ToString of the YAML value) */
	bool boolean;   /* GetBool */
	int64_t number; /* GetInt */
	bool plain;     /* an unquoted YAML scalar */
};

struct dc_hs_list {
	bool set;
	struct dc_srcpos key_at;
	struct dc_hs_value *items; /* GetStringSlice */
	size_t count;
};

struct dc_hs_config {
	struct dc_hs_value server_url;
	struct dc_hs_value enabled;            /* derp.server.enabled (default false) */
	struct dc_hs_value region_id;          /* derp.server.region_id */
	struct dc_hs_value region_code;
	struct dc_hs_value region_name;
	struct dc_hs_value verify_clients;     /* default true */
	struct dc_hs_value stun_listen_addr;
	struct dc_hs_value private_key_path;
	struct dc_hs_value auto_add;           /* automatically_add_embedded_derp_region, default true */
	struct dc_hs_value ipv4;
	struct dc_hs_value ipv6;
	struct dc_hs_value auto_update;        /* derp.auto_update_enabled */
	struct dc_hs_value update_frequency;
	struct dc_hs_value base_domain;        /* dns.base_domain: seeds the node shuffle */
	struct dc_hs_list urls;
	struct dc_hs_list paths;
	struct dc_srcpos derp_at;   /* the derp: key, 0:0 when absent */
	struct dc_srcpos server_at; /* derp.server: */
};

enum dc_hs_source_kind { DC_HS_URL, DC_HS_PATH, DC_HS_EMBEDDED };

enum dc_hs_source_state {
	DC_HS_READ,     /* read and decoded */
	DC_HS_SNAPSHOT, /* Tailscale's default URL, answered by the embedded snapshot */
	DC_HS_SKIPPED,  /* not read (fetch failed, not allowed, no file): its regions are missing */
	DC_HS_BROKEN,   /* read, but it does not parse: Headscale refuses it */
};

struct dc_hs_source {
	enum dc_hs_source_kind kind;
	enum dc_hs_source_state state;
	size_t index;        /* in derp.urls or derp.paths */
	char *spec;          /* as written in the config */
	char *name;          /* the URL, or the path as derpcheck opened it; findings use it */
	char *why;           /* SNAPSHOT / SKIPPED / BROKEN: the reason, for the description */
	struct dc_derpmap map;
	struct dc_srcpos at; /* the entry in config.yaml */
};

/* A region of the built map replaced by a later source (the later one won). */
struct dc_hs_replacement {
	int64_t id;
	size_t loser;  /* source index */
	size_t winner; /* source index */
	struct dc_srcpos loser_at; /* the replaced region's key in its file */
};

struct dc_headscale {
	struct dc_hs_config cfg;
	char *config_name;
	struct dc_hs_source *sources; /* Headscale's order: urls, paths, the embedded region */
	size_t source_count;
	struct dc_hs_replacement *replaced;
	size_t replaced_count;
	int64_t *origin_ids;   /* region ID -> source index (origin_src), for the built map */
	size_t *origin_src;
	size_t origin_count;
	bool embedded;         /* the embedded region was added */
	size_t embedded_source; /* its index in sources */
};

/* A Headscale config's top-level keys: enough of them, and this is not a DERP map. */
bool dc_headscale_looks_like_config(const struct dc_json *root);

/*
 * Read the config (root) and build the map into doc->map, with findings in doc->findings.
 * opts decide how URLs are fetched (and whether other sources are read at all).
 * Returns 0, or -1 when root is not a config at all.
 */
int dc_headscale_load(struct dc_map_doc *doc, const struct dc_json *root, const struct dc_fetch_opts *opts);
void dc_headscale_free(struct dc_headscale *hs);

/* The source a region of the built map came from, or NULL. */
const struct dc_hs_source *dc_headscale_region_source(const struct dc_headscale *hs, int64_t id);
/* "urls skipped (…), paths derp.yaml, embedded region 999 from server_url" (caller frees). */
char *dc_headscale_describe(const struct dc_headscale *hs);

#endif
