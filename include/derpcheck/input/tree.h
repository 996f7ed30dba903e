/*
 * The positioned document tree every text reader produces: the HuJSON reader
 * (hujson.h) and the YAML reader (yaml.h) build the same nodes, so a decoder reads
 * either one and every finding can point at the line and column where a key or a
 * value was written. Scalars keep their text; how a YAML scalar was written (plain
 * or quoted) is kept too, because Go's YAML decoder types a value by the field it is
 * stored into (see dc_scalar_style).
 */
#ifndef DERPCHECK_TREE_H
#define DERPCHECK_TREE_H

#include "derpcheck/util/util.h"

enum dc_json_type {
	DC_JSON_NULL,
	DC_JSON_BOOL,
	DC_JSON_NUMBER,
	DC_JSON_STRING,
	DC_JSON_ARRAY,
	DC_JSON_OBJECT,
};

/*
 * How a scalar (or a member name) was written. JSON text is always DC_STYLE_JSON (0),
 * so JSON decoders never look at it. YAML plain scalars are typed the way Go's
 * gopkg.in/yaml.v3 resolves them (resolve.go); quoted and block scalars, and those
 * tagged !!str, are always strings.
 */
enum dc_scalar_style {
	DC_STYLE_JSON = 0,
	DC_STYLE_PLAIN,  /* YAML: unquoted, typed by resolution (900 is a number, yes is a string) */
	DC_STYLE_QUOTED, /* YAML: 'single', "double", | literal, > folded, or !!str */
};

struct dc_json {
	enum dc_json_type type;
	struct dc_srcpos pos;     /* first character of the value */
	char *key;                /* member name (decoded) when this is an object member */
	struct dc_srcpos key_pos; /* the member name (its opening quote in JSON) */
	/*
	 * STRING: decoded UTF-8. NUMBER: the literal as written. YAML also keeps the text
	 * of BOOL and NULL scalars as written ("True", "~", ""); JSON leaves them NULL.
	 */
	char *text;
	size_t text_len;
	bool boolean;
	uint8_t style;     /* enum dc_scalar_style of the value */
	uint8_t key_style; /* enum dc_scalar_style of the member name */
	struct dc_json *items; /* array elements or object members, in document order */
	size_t count;
};

void dc_json_free(struct dc_json *root);
/* Free what a node owns (children, key, text) but not the node itself. */
void dc_json_clear(struct dc_json *node);

const char *dc_json_type_name(enum dc_json_type type);

/* The last member called key (exact match), or NULL. */
const struct dc_json *dc_json_member(const struct dc_json *obj, const char *key);

#endif
