/*
 * The DERP map model (protocols.md §4) and its decoder, which reads a parsed document
 * tree (tree.h) the way the program that reads the file does. How field names match and
 * how values are typed is a property of the input format, a dialect:
 *   - JSON (Tailscale's clients and control plane, policy files, Headscale's derp.urls):
 *     Go's encoding/json — case-insensitive field names, JSON types;
 *   - YAML (Headscale's derp.paths files): gopkg.in/yaml.v3 into tailcfg structs without
 *     yaml tags — keys are the lower-cased Go field names and match case-sensitively
 *     (RegionID is silently ignored), duplicate keys reject the file, plain scalars are
 *     typed by the field they are stored into (0443 is octal, yes is true for a bool);
 *   - HEADSCALE: the region Headscale builds from config.yaml's derp.server, whose
 *     "fields" are config keys (server_url, derp.server.stun_listen_addr, ...).
 * Unknown fields are ignored by Go (we report them), null regions remove a region.
 * Every field remembers where it was written, and every region which file and dialect it
 * came from, so findings and fixes name the key as that file spells it.
 */
#ifndef DERPCHECK_DERPMAP_H
#define DERPCHECK_DERPMAP_H

#include "derpcheck/judge/findings.h"
#include "derpcheck/input/tree.h"

enum dc_node_field {
	DC_NODE_NAME,
	DC_NODE_REGIONID,
	DC_NODE_HOSTNAME,
	DC_NODE_CERTNAME,
	DC_NODE_IPV4,
	DC_NODE_IPV6,
	DC_NODE_STUNPORT,
	DC_NODE_STUNONLY,
	DC_NODE_DERPPORT,
	DC_NODE_INSECURE,
	DC_NODE_STUNTESTIP,
	DC_NODE_CANPORT80,
	DC_NODE_NFIELDS
};

enum dc_region_field {
	DC_REGION_REGIONID,
	DC_REGION_CODE,
	DC_REGION_NAME,
	DC_REGION_LATITUDE,
	DC_REGION_LONGITUDE,
	DC_REGION_AVOID,
	DC_REGION_NOMEASURE,
	DC_REGION_NODES,
	DC_REGION_NFIELDS
};

struct dc_derp_node {
	char *name;
	int64_t region_id;
	char *host_name;
	char *cert_name;
	char *ipv4; /* "" = DNS, an address = use it, anything else = family disabled */
	char *ipv6;
	int64_t stun_port; /* 0 = 3478, -1 = STUN disabled */
	bool stun_only;
	int64_t derp_port; /* 0 = 443 */
	bool insecure_for_tests;
	char *stun_test_ip;
	bool can_port80;

	uint32_t present; /* bit (1 << dc_node_field) when the field was written */
	char *path;       /* JSON path of this node, e.g. derpMap.Regions.900.Nodes[0] */
	struct dc_srcpos at;
	struct dc_srcpos field_at[DC_NODE_NFIELDS];
};

enum dc_map_dialect {
	DC_DIALECT_JSON,
	DC_DIALECT_YAML,
	DC_DIALECT_HEADSCALE,
};

struct dc_derp_region {
	int64_t id; /* the map key */
	bool removed; /* written as "ID": null */
	int64_t region_id;
	char *code;
	char *name;
	double latitude;
	double longitude;
	bool avoid;
	bool no_measure_no_home;
	struct dc_derp_node *nodes;
	size_t node_count;

	uint32_t present;
	char *path;
	struct dc_srcpos at;     /* the region's value */
	struct dc_srcpos key_at; /* its key in Regions */
	struct dc_srcpos field_at[DC_REGION_NFIELDS];
	enum dc_map_dialect dialect; /* how its file spells fields (paths and fixes use it) */
	const char *file; /* the file it came from when not the document's own (Headscale maps) */
};

struct dc_region_score {
	int64_t region_id;
	double score;
	struct dc_srcpos at;
};

enum dc_map_shape {
	DC_SHAPE_DERPMAP,        /* {"Regions": ...} as served by the control plane or tailscaled */
	DC_SHAPE_POLICY,         /* a tailnet policy file with a "derpMap" key */
	DC_SHAPE_POLICY_NO_MAP,  /* a policy file without "derpMap": clients use the defaults */
	DC_SHAPE_YAML,           /* a Headscale derp.paths file: merged with the config's other sources */
	DC_SHAPE_HEADSCALE,      /* the map a Headscale config.yaml builds (src/input/headscale.c) */
};

struct dc_derpmap {
	enum dc_map_shape shape;
	struct dc_derp_region *regions; /* sorted by id */
	size_t region_count;
	bool omit_default_regions;
	bool has_regions; /* "Regions" was written */
	struct dc_region_score *scores;
	size_t score_count;
	char *path; /* "derpMap" or "" */
	struct dc_srcpos at;
	struct dc_srcpos omit_at;
	enum dc_map_dialect dialect;
};

#define DC_NODE_HAS(n, f) (((n)->present >> (f)) & 1u)
#define DC_REGION_HAS(r, f) (((r)->present >> (f)) & 1u)

/* Canonical (Go) field names, for messages. */
const char *dc_node_field_name(enum dc_node_field f);
const char *dc_region_field_name(enum dc_region_field f);
/* The key as a file of that dialect spells it: "RegionID", "regionid", "derp.server.region_id". */
const char *dc_node_field_key(enum dc_map_dialect d, enum dc_node_field f);
const char *dc_region_field_key(enum dc_map_dialect d, enum dc_region_field f);
const char *dc_map_regions_key(enum dc_map_dialect d);
/* "key": value (JSON) or key: value (YAML), for fixes; value is written as given. */
char *dc_field_member(enum dc_map_dialect d, const char *key, const char *value);

/*
 * Decode a parsed document (any supported shape) into map. Problems with the document's
 * shape, types and field names become findings; returns -1 only when nothing usable
 * could be read (no DERP map at all). map is always safe to free afterwards.
 */
int dc_derpmap_decode(const struct dc_json *root, struct dc_derpmap *map, struct dc_findings *findings);
/*
 * The same in a given dialect. DC_DIALECT_YAML decodes a Headscale derp.paths file (the
 * map itself, never a policy file): root may be NULL for an empty file.
 */
int dc_derpmap_decode_as(const struct dc_json *root, enum dc_map_dialect dialect, struct dc_derpmap *map,
			 struct dc_findings *findings);

void dc_derpmap_free(struct dc_derpmap *map);

const struct dc_derp_region *dc_derpmap_region(const struct dc_derpmap *map, int64_t id);

/* Effective values, with Tailscale's defaults applied. */
int dc_node_stun_port(const struct dc_derp_node *n); /* -1 when STUN is disabled */
int dc_node_derp_port(const struct dc_derp_node *n);
/*
 * Whether Tailscale clients check this node's certificate: not when InsecureForTests is
 * set (derphttp_client.go tlsClient turns verification off), unless CertName names
 * another name or a sha256-raw: pin, whose check tlsdial.SetConfigExpectedCert installs
 * afterwards (tls-diagnosis.md §2.5).
 */
bool dc_node_clients_verify(const struct dc_derp_node *n);

enum dc_addr_mode {
	DC_ADDR_DNS,      /* empty: resolve HostName */
	DC_ADDR_STATIC,   /* a valid address of the family */
	DC_ADDR_DISABLED, /* anything else ("none" by convention) */
};
enum dc_addr_mode dc_node_addr_mode(const char *value, int family);

/*
 * What clients end up with when a policy file's map is combined with Tailscale's
 * defaults (protocols.md §4.2): custom regions are added, regions written as null
 * are removed, and omitDefaultRegions drops the defaults when custom regions exist.
 */
struct dc_merge_summary {
	size_t defaults_kept;
	int64_t *removed; /* default IDs removed with null */
	size_t removed_count;
	int64_t *replaced; /* default IDs redefined by the policy file */
	size_t replaced_count;
	int64_t *custom; /* IDs that are not default regions */
	size_t custom_count;
	bool defaults_omitted;
};

void dc_derpmap_merge(const struct dc_derpmap *policy, const struct dc_derpmap *defaults,
		      struct dc_derpmap *out, struct dc_merge_summary *summary);
void dc_merge_summary_free(struct dc_merge_summary *s);

size_t dc_derpmap_node_count(const struct dc_derpmap *map);

/* A deep copy of a region (strings duplicated; file points at the same name). */
void dc_derp_region_clone(const struct dc_derp_region *src, struct dc_derp_region *dst);
void dc_derp_region_free(struct dc_derp_region *r);

#endif
