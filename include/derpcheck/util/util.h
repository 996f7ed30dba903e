/* Small shared helpers: errors as data, range-checked numbers, time, strings. */
#ifndef DERPCHECK_UTIL_H
#define DERPCHECK_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define DC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DC_PRINTF(f, a)
#endif

/* A position in a text file, both 1-based; column counts characters (UTF-8 code points). */
struct dc_srcpos {
	uint32_t line;
	uint32_t col;
};

/*
 * Move pos past text[i] (text holds len bytes). A line ends at LF, at CR, or at CRLF
 * (counted once), as editors show them; a column is a UTF-8 code point.
 */
void dc_srcpos_advance(struct dc_srcpos *pos, const char *text, size_t len, size_t i);

/*
 * An error as data (STYLE §5): core modules fill this and return -1; only the command
 * layer prints it, once, as "derpcheck: WHERE: WHAT" plus "hint: HINT".
 */
struct dc_error {
	char what[512];  /* what failed, e.g. "expected ',' or '}' after object member" */
	char where[512]; /* file:line:col, host:port or URL; may be empty */
	char hint[512];  /* what to do about it; may be empty */
	struct dc_srcpos pos; /* set when the error has a text position */
};

void dc_error_clear(struct dc_error *err);
int dc_error_set(struct dc_error *err, const char *where, const char *fmt, ...) DC_PRINTF(3, 4);
void dc_error_hint(struct dc_error *err, const char *fmt, ...) DC_PRINTF(2, 3);

/* Go's strconv.ParseInt(s, 10, 64) / Atoi: an optional sign and decimal digits, in int64. */
int dc_parse_go_int(const char *text, int64_t *out);

/* The one range-checked integer parser: whole string, base 10, min <= value <= max. */
int dc_parse_int(const char *text, long long min, long long max, long long *out);

/* A duration for --timeout: "5s", "1500ms", "2m", or plain seconds "3" / "0.5". */
int dc_parse_duration_ms(const char *text, long long min_ms, long long max_ms, long long *out_ms);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t dc_now_ns(void);

/*
 * d as an int64 when it is a whole number in int64's range (*out set, true); false for a
 * fraction, NaN, an infinity or a value beyond int64, whose conversion in C would be
 * undefined. JSON numbers arrive as doubles; Go reads such a field as an integer only then.
 */
bool dc_double_to_int64(double d, int64_t *out);

/* Case-insensitive Levenshtein distance (bounded work; strings are short names). */
size_t dc_edit_distance(const char *a, const char *b);

/* The candidate closest to word, or NULL when none is plausibly meant. */
const char *dc_closest(const char *word, const char *const *candidates, size_t n);

/* Allocation that never returns NULL: running out of memory aborts with a message. */
void *dc_xmalloc(size_t n);
void *dc_xcalloc(size_t count, size_t size);
void *dc_xrealloc(void *p, size_t n);
char *dc_xstrdup(const char *s);
char *dc_xstrndup(const char *s, size_t n);
char *dc_xasprintf(const char *fmt, ...) DC_PRINTF(1, 2);

/* A growable byte buffer (always NUL-terminated for convenience). */
struct dc_buf {
	char *data;
	size_t len;
	size_t cap;
};
void dc_buf_append(struct dc_buf *b, const void *data, size_t n);
/* Append formatted text; afterwards b->data is never NULL, even for empty output. */
void dc_buf_printf(struct dc_buf *b, const char *fmt, ...) DC_PRINTF(2, 3);
void dc_buf_free(struct dc_buf *b);

/* snprintf into a fixed field: texts are cut at the field's size on purpose, never overflow. */
void dc_textf(char *out, size_t n, const char *fmt, ...) DC_PRINTF(3, 4);

/*
 * Append " ARG" to the command line in out (NUL-terminated, size n), in single quotes
 * when the shell would otherwise split or expand it: the derpcheck commands that hints
 * print must run when pasted. Never overflows; a command that does not fit is cut.
 */
void dc_shell_append(char *out, size_t n, const char *arg);

#endif
