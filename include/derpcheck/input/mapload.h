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

struct dc_fetch_opts {
	const char *ca_file; /* NULL: the system trust store */
	bool insecure;       /* skip TLS verification (the caller warns) */
	long timeout_ms;     /* whole transfer */
	int family;          /* 0 any, 4 or 6 */
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

/* A map read and decoded; syntax and decode problems are findings, not errors. */
struct dc_map_doc {
	struct dc_map_text text;
	bool parsed; /* the text was valid HuJSON */
	bool decoded; /* a DERP map (or policy file) was found in it */
	struct dc_derpmap map;
	struct dc_findings findings;
};

/* Returns -1 with err only when the text could not be read at all. */
int dc_map_doc_load(const char *spec, const struct dc_fetch_opts *opts, struct dc_map_doc *doc, struct dc_error *err);
/* Parse and decode text already in memory (used by dc_map_doc_load, fuzzing and tests). */
void dc_map_doc_parse(struct dc_map_doc *doc);
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
void dc_map_validate_hint(const char *name, char *out, size_t n);

/* Decode the embedded default map (for merging a policy file's regions into it). */
int dc_map_defaults(struct dc_derpmap *out);

#endif
