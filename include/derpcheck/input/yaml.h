/*
 * YAML reader (Debian's libyaml): the first document of a YAML stream into the
 * positioned tree of tree.h, the same nodes the HuJSON reader builds, with the exact
 * line:column of every key and value. Any input that wants YAML (Headscale's
 * config.yaml and derp.paths maps, docker-compose files) reads it here and decodes the
 * tree with its own rules.
 *
 * What the tree holds, and why (Go's gopkg.in/yaml.v3 is what Headscale, viper and
 * docker compose read YAML with, so its rules are the ones that matter):
 *   - mappings are DC_JSON_OBJECT (members in document order, duplicates kept: yaml.v3
 *     rejects them, which is for the decoder to report), sequences DC_JSON_ARRAY;
 *   - plain scalars are typed as yaml.v3 resolves them (resolve.go): "", ~, null → NULL;
 *     true/True/TRUE/false/… → BOOL; decimal, 0x, 0o, 0b, legacy 0777 octal and
 *     underscores → NUMBER; floats (1e3, .5, .inf) → NUMBER; everything else, including
 *     yes/no/on/off and timestamps, → STRING. text keeps the scalar as written.
 *   - quoted and block scalars, and !!str, are STRING with style DC_STYLE_QUOTED;
 *   - aliases are expanded into copies of the anchored node (positions stay those of
 *     the anchor's text), and `<<` merge keys add the members of the merged mappings
 *     that the mapping does not set itself, as yaml.v3 does;
 *   - what a reader of the file may not expect (an alias, a merge, an explicit tag, a
 *     second document that Go's yaml.Unmarshal ignores) is listed in notes.
 * Limits keep hostile input cheap: nesting depth, and the number of nodes including
 * alias copies (a "billion laughs" document stops with an error, not a hang).
 */
#ifndef DERPCHECK_YAML_H
#define DERPCHECK_YAML_H

#include "derpcheck/input/tree.h"

#define DC_YAML_MAX_DEPTH 64
#define DC_YAML_MAX_NODES 200000u
#define DC_YAML_MAX_SIZE (16u * 1024u * 1024u)

enum dc_yaml_note_kind {
	DC_YAML_NOTE_ALIAS,          /* *name at pos repeats the node anchored at target */
	DC_YAML_NOTE_MERGE,          /* <<: at pos merged the mapping at target */
	DC_YAML_NOTE_TAG,            /* an explicit tag (name) at pos */
	DC_YAML_NOTE_MORE_DOCUMENTS, /* a second document starts at pos; only the first is read */
};

struct dc_yaml_note {
	enum dc_yaml_note_kind kind;
	struct dc_srcpos pos;
	struct dc_srcpos target;
	char *name; /* anchor or tag */
};

struct dc_yaml_doc {
	struct dc_json *root; /* NULL when the document is empty (only comments, or nothing) */
	struct dc_yaml_note *notes;
	size_t note_count;
};

/*
 * Parse text (need not be NUL-terminated). Returns 0, or -1 with err->pos at the problem
 * and err->what/err->hint saying what is wrong (a tab used for indentation is named as
 * such). doc is always safe to free afterwards.
 */
int dc_yaml_parse(const char *text, size_t len, struct dc_yaml_doc *doc, struct dc_error *err);
void dc_yaml_doc_free(struct dc_yaml_doc *doc);

/* How a YAML number was spelled (so a decoder can say "0443 is octal: 291"). */
enum dc_yaml_number_form {
	DC_YAML_DECIMAL,
	DC_YAML_LEGACY_OCTAL, /* 0777: YAML 1.1 octal, which yaml.v3 still reads as octal */
	DC_YAML_OCTAL,        /* 0o777 */
	DC_YAML_HEX,          /* 0x1F */
	DC_YAML_BINARY,       /* 0b101 */
	DC_YAML_FLOAT,        /* has a fraction or an exponent, or .inf/.nan */
};

struct dc_yaml_number {
	enum dc_yaml_number_form form;
	bool is_int;      /* resolved to !!int (in int64 or uint64), else !!float */
	bool is_unsigned; /* only fits in uint64 (u holds it) */
	bool underscores; /* written with _ separators, which yaml.v3 drops */
	int64_t i;
	uint64_t u;
	double f; /* the value as a float, for every number */
};

/*
 * Resolve a plain scalar as a number the way yaml.v3 does (underscores removed, then
 * Go's strconv.ParseInt/ParseUint with base 0, then the YAML float pattern). Returns 0
 * and fills out, or -1 when the text is not a YAML number.
 */
int dc_yaml_number(const char *text, struct dc_yaml_number *out);

#endif
