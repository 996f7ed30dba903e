/*
 * HuJSON (JWCC) reader: standard JSON plus // and block comments and trailing commas,
 * parsed into a small tree that remembers where every key and value started, so
 * findings can point at the exact line and column of the original text.
 */
#ifndef DERPCHECK_HUJSON_H
#define DERPCHECK_HUJSON_H

#include "derpcheck/util/util.h"

enum dc_json_type {
	DC_JSON_NULL,
	DC_JSON_BOOL,
	DC_JSON_NUMBER,
	DC_JSON_STRING,
	DC_JSON_ARRAY,
	DC_JSON_OBJECT,
};

struct dc_json {
	enum dc_json_type type;
	struct dc_srcpos pos;     /* first character of the value */
	char *key;                /* member name (decoded) when this is an object member */
	struct dc_srcpos key_pos; /* the opening quote of the member name */
	char *text;               /* STRING: decoded UTF-8; NUMBER: the literal as written */
	size_t text_len;
	bool boolean;
	struct dc_json *items; /* array elements or object members, in document order */
	size_t count;
};

/* Limits that keep hostile input cheap: nesting depth and total size. */
#define DC_HUJSON_MAX_DEPTH 64
#define DC_HUJSON_MAX_SIZE (16u * 1024u * 1024u)

/*
 * Parse text (need not be NUL-terminated). Returns the root or NULL with err filled:
 * err->pos is the position of the problem, err->what says what was expected.
 */
struct dc_json *dc_hujson_parse(const char *text, size_t len, struct dc_error *err);
void dc_json_free(struct dc_json *root);

const char *dc_json_type_name(enum dc_json_type type);

#endif
