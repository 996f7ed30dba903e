/*
 * HuJSON (JWCC) reader: standard JSON plus // and block comments and trailing commas,
 * parsed into a small tree that remembers where every key and value started, so
 * findings can point at the exact line and column of the original text.
 */
#ifndef DERPCHECK_HUJSON_H
#define DERPCHECK_HUJSON_H

#include "derpcheck/input/tree.h"

/* Limits that keep hostile input cheap: nesting depth and total size. */
#define DC_HUJSON_MAX_DEPTH 64
#define DC_HUJSON_MAX_SIZE (16u * 1024u * 1024u)

/*
 * Parse text (need not be NUL-terminated). Returns the root or NULL with err filled:
 * err->pos is the position of the problem, err->what says what was expected.
 */
struct dc_json *dc_hujson_parse(const char *text, size_t len, struct dc_error *err);
/*
 * The same for strict JSON, as Go's encoding/json reads it (Headscale's derp.urls maps):
 * comments and trailing commas are errors.
 */
struct dc_json *dc_json_parse_strict(const char *text, size_t len, struct dc_error *err);

#endif
