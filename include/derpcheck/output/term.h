/*
 * The terminal, in one place for every renderer: the colour table and paint(), the
 * decision whether to colour at all (--color, NO_COLOR, TERM=dumb, a TTY), and the one
 * sanitiser for untrusted text.
 *
 * Untrusted means anything a server or a file chose: DERP map names and codes, the DERP
 * Health text, HTTP headers and bodies, tailscaled's peer names and OS, excerpts of input
 * in error messages. Printed raw, an escape sequence in such a string can clear the
 * screen, retitle the window or forge a line of the report. So:
 *   - text: dc_term_safe() shows control characters, C1 controls, DEL, bidirectional
 *     overrides and bytes that are not UTF-8 as visible escapes (\x1b, \n, \u009b,
 *     \u202e, \xff); everything else, UTF-8 included, is kept;
 *   - JSON: dc_json_text() prints a document that is always valid UTF-8 (bytes that are
 *     not UTF-8 become U+FFFD) with C1 controls, DEL and bidi overrides as \u escapes
 *     (cJSON already escapes the C0 controls).
 */
#ifndef DERPCHECK_TERM_H
#define DERPCHECK_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "derpcheck/cli.h"

struct dc_style {
	bool color;
	bool quiet;
};

/* The colour table (SGR sequences). Print them only through paint, so --color never leaks. */
#define BOLD "\033[1m"
#define RED "\033[1;31m"
#define YELLOW "\033[1;33m"
#define GREEN "\033[1;32m"
#define CYAN "\033[36m"
#define DIM "\033[2m"
#define RESET "\033[0m"

/* sgr when st says colour, else "". st may be NULL (no colour). */
const char *dc_paint(const struct dc_style *st, const char *sgr);

/* Whether to colour stream: --color always/never, else not with NO_COLOR or TERM=dumb, and only on a TTY. */
bool dc_term_use_color(enum dc_color_mode mode, FILE *stream);

/* Append the visible form of n untrusted bytes to out (see above). */
void dc_term_escape(struct dc_buf *out, const char *s, size_t n);

/*
 * The visible form of an untrusted string, for a printf argument: valid until 16 more
 * calls on this thread (enough for one line of output). NULL gives "".
 */
const char *dc_term_safe(const char *s);
const char *dc_term_safe_n(const char *s, size_t n);

/*
 * A cJSON document as text (formatted: indented, as cJSON_Print; else one line), always
 * valid UTF-8 as described above. Free with free(). NULL only if cJSON fails.
 */
struct cJSON;
char *dc_json_text(const struct cJSON *doc, bool formatted);
/* The same cleaning for JSON text built elsewhere, in place of s (n bytes); returns the new text. */
char *dc_json_clean(const char *s, size_t n);

#endif
