/*
 * Where a DERP map comes from, and reading it into the model.
 *
 * Sources, in the order a command without --derp-map will consult them once the
 * network commands exist: the local tailscaled (LocalAPI), the live default URL, and
 * last the snapshot embedded in the binary. Each source is one kind below, so adding
 * one is a new enum value and a reader function; every caller reports which was used.
 */
#ifndef DERPCHECK_MAPLOAD_H
#define DERPCHECK_MAPLOAD_H

#include "derpcheck/input/derpmap.h"

enum dc_map_source {
	DC_MAP_SOURCE_FILE,
	DC_MAP_SOURCE_STDIN,
	DC_MAP_SOURCE_URL,
	DC_MAP_SOURCE_EMBEDDED,
	DC_MAP_SOURCE_LOCALAPI, /* the map the local tailscaled uses (src/net/localapi.c) */
};

/* The spelling that selects the embedded snapshot on the command line. */
#define DC_MAP_EMBEDDED_SPEC "embedded:"
#define DC_MAP_EMBEDDED_DATE "2026-03-27"
#define DC_MAP_MAX_BYTES (4u * 1024u * 1024u)

/*
 * What a map file is written in (--map-format). AUTO looks at the name (.yaml/.yml,
 * .json/.hujson) and then the text: JSON starts with '{', '[' or a comment; YAML is a
 * Headscale config when it has Headscale's top-level keys (derp:, server_url:, ...) and
 * a Headscale DERP map (derp.paths) otherwise.
 */
enum dc_map_format {
	DC_MAP_FORMAT_AUTO,
	DC_MAP_FORMAT_JSON,      /* strict JSON, as Go's encoding/json reads it */
	DC_MAP_FORMAT_HUJSON,    /* JSON with comments and trailing commas (policy files) */
	DC_MAP_FORMAT_YAML,      /* a Headscale derp.paths DERP map (yaml.v3 rules) */
	DC_MAP_FORMAT_HEADSCALE, /* a Headscale config.yaml: its derp: section builds the map */
};
#define DC_MAP_FORMAT_WORDS "auto|json|hujson|yaml|headscale"
const char *dc_map_format_name(enum dc_map_format f);
int dc_map_format_parse(const char *word, enum dc_map_format *out);

struct dc_fetch_opts {
	const char *ca_file; /* NULL: the system trust store */
	bool insecure;       /* skip TLS verification (the caller warns) */
	long timeout_ms;     /* whole transfer */
	int family;          /* 0 any, 4 or 6 */
	/* How to read what is read: the format, and (fuzzing) no other files or URLs. */
	enum dc_map_format format;
	bool no_other_sources; /* a Headscale config's urls and paths are listed, never read */
};

struct dc_map_text {
	enum dc_map_source source;
	char *name; /* as given: path, "-", URL or "embedded:" */
	char *text;
	size_t len;
};

/* Read the raw text of a map from spec ("-", http(s)://..., embedded:, or a path). */
int dc_map_read(const char *spec, const struct dc_fetch_opts *opts, struct dc_map_text *out, struct dc_error *err);
void dc_map_text_free(struct dc_map_text *t);

/* "file", "standard input", "URL", "embedded snapshot" — for "source:" lines. */
const char *dc_map_source_name(enum dc_map_source source);

/* The embedded snapshot of Tailscale's default map (NUL-terminated). */
const char *dc_map_embedded_text(size_t *len);

struct dc_headscale;

/* A map read and decoded; syntax and decode problems are findings, not errors. */
struct dc_map_doc {
	struct dc_map_text text;
	enum dc_map_format format; /* what it was read as (never AUTO once parsed) */
	bool parsed; /* the text was valid JSON/HuJSON/YAML */
	bool decoded; /* a DERP map (or policy file, or Headscale config) was found in it */
	struct dc_derpmap map; /* for a Headscale config: the map it builds */
	struct dc_findings findings; /* findings carry their own file (a config's derp.paths files) */
	struct dc_headscale *headscale; /* a Headscale config's sources (src/input/headscale.c), or NULL */
};

/* Returns -1 with err only when the text could not be read at all. */
int dc_map_doc_load(const char *spec, const struct dc_fetch_opts *opts, struct dc_map_doc *doc, struct dc_error *err);
/* Parse and decode text already in memory (used by dc_map_doc_load, fuzzing and tests). */
void dc_map_doc_parse(struct dc_map_doc *doc);
void dc_map_doc_parse_with(struct dc_map_doc *doc, const struct dc_fetch_opts *opts);
void dc_map_doc_free(struct dc_map_doc *doc);

/*
 * The --derp-map value that reads the same map again, for the commands hints print:
 * the file or URL as given, "embedded:" for the snapshot; NULL for standard input and
 * tailscaled's map, which a second command cannot read back.
 */
const char *dc_map_spec_for_command(const char *name);

/*
 * "`derpcheck validate MAP`" (backticks included: a command hints print) for the map
 * called name, or "derpcheck validate FILE" (a template) when it cannot be read again.
 */
void dc_map_validate_hint(const char *name, const char *map_format, char *out, size_t n);

/* The --map-format word a printed command must repeat: NULL for auto (the default). */
const char *dc_map_format_flag(enum dc_map_format f);

struct dc_yaml_doc;
/* What the YAML reader noticed (aliases, merges, tags, a second document), as findings. */
void dc_map_yaml_findings(struct dc_findings *findings, const struct dc_yaml_doc *y);

/* "DERP map", "policy file", "Headscale config", ... for summaries. */
const char *dc_map_doc_kind(const struct dc_map_doc *doc);
/*
 * How the document became a map, for "DERP map:" lines: NULL for a plain map, else e.g.
 * "urls skipped (offline), paths derp.yaml, embedded region 999 from server_url".
 * The caller frees it.
 */
char *dc_map_doc_origin(const struct dc_map_doc *doc);

/* Decode the embedded default map (for merging a policy file's regions into it). */
int dc_map_defaults(struct dc_derpmap *out);

#endif
