#include "derpcheck/input/hujson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	const unsigned char *p;
	size_t len;
	size_t off;
	struct dc_srcpos pos;
	struct dc_srcpos value_end; /* just after the last complete value */
	struct dc_error *err;
	bool strict; /* JSON as Go's encoding/json reads it: no comments, no trailing commas */
};

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int peek(const struct reader *r)
{
	return r->off < r->len ? r->p[r->off] : -1;
}

/* Advance one byte, keeping line and column (columns count code points, not bytes). */
static void advance(struct reader *r)
{
	dc_srcpos_advance(&r->pos, (const char *)r->p, r->len, r->off++);
}

/* Describe the character at the cursor for "found ..." in messages. */
static void describe_here(const struct reader *r, char *out, size_t n)
{
	int c = peek(r);
	if (c < 0)
		snprintf(out, n, "end of input");
	else if (c == '"')
		snprintf(out, n, "a string");
	else if (c >= 0x21 && c < 0x7f)
		snprintf(out, n, "'%c'", c);
	else if (c == '\n' || c == '\r')
		snprintf(out, n, "end of line");
	else
		snprintf(out, n, "byte 0x%02x", (unsigned)c);
}

static int fail_at(struct reader *r, struct dc_srcpos pos, const char *fmt, ...) DC_PRINTF(3, 4);
static int fail_at(struct reader *r, struct dc_srcpos pos, const char *fmt, ...)
{
	if (r->err->what[0] == '\0') { /* keep the first, most precise error */
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err->what, sizeof(r->err->what), fmt, ap);
		va_end(ap);
		r->err->pos = pos;
	}
	return -1;
}

static int expected(struct reader *r, const char *what)
{
	char found[32];
	describe_here(r, found, sizeof(found));
	return fail_at(r, r->pos, "expected %s, found %s", what, found);
}

/* The classic mistake: a new member or element right after a value, without a comma. */
static int missing_comma(struct reader *r, const char *what)
{
	int c = peek(r);
	expected(r, what);
	if (c == '"' || c == '{' || c == '[' || c == '-' || is_digit(c) || c == 't' || c == 'f' || c == 'n')
		dc_error_hint(r->err, "add a ',' at %u:%u, right after the value", r->value_end.line,
			      r->value_end.col);
	return -1;
}

/* Whitespace and comments; an unterminated block comment is reported where it opened. */
static int skip_space(struct reader *r)
{
	for (;;) {
		int c = peek(r);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			advance(r);
		} else if (c == '/' && r->strict) {
			return fail_at(r, r->pos, "comments are not JSON; Go's encoding/json rejects the whole document");
		} else if (c == '/' && r->off + 1 < r->len && r->p[r->off + 1] == '/') {
			while (peek(r) >= 0 && peek(r) != '\n')
				advance(r);
		} else if (c == '/' && r->off + 1 < r->len && r->p[r->off + 1] == '*') {
			struct dc_srcpos start = r->pos;
			advance(r);
			advance(r);
			for (;;) {
				if (peek(r) < 0)
					return fail_at(r, start, "comment opened here is never closed with */");
				if (peek(r) == '*' && r->off + 1 < r->len && r->p[r->off + 1] == '/') {
					advance(r);
					advance(r);
					break;
				}
				advance(r);
			}
		} else if (c == '/') {
			return fail_at(r, r->pos, "expected // or /* to start a comment, found a lone '/'");
		} else {
			return 0;
		}
	}
}

static void utf8_put(struct dc_buf *b, uint32_t cp)
{
	unsigned char out[4];
	size_t n;
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		out[0] = (unsigned char)(0xF0 | (cp >> 18));
		out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	dc_buf_append(b, out, n);
}

static int read_hex4(struct reader *r, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int c = peek(r);
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return expected(r, "4 hex digits after \\u");
		v = v * 16 + (uint32_t)d;
		advance(r);
	}
	*out = v;
	return 0;
}

/*
 * The common string: no escape and no control character before the closing quote, all on
 * the cursor's line. Copied in one piece, exactly sized (a map holds tens of thousands of
 * short strings). Returns 0 and leaves the cursor alone when the string is not that simple.
 */
static int read_plain_string(struct reader *r, char **out, size_t *out_len)
{
	size_t from = r->off + 1, end = from;
	size_t points = 0;
	while (end < r->len && r->p[end] != '"' && r->p[end] != '\\' && r->p[end] >= 0x20) {
		points += (r->p[end] & 0xC0) != 0x80;
		end++;
	}
	if (end >= r->len || r->p[end] != '"')
		return 0;
	*out_len = end - from;
	*out = dc_xstrndup((const char *)r->p + from, *out_len);
	r->off = end + 1;
	r->pos.col += (uint32_t)points + 2; /* the text and both quotes */
	return 1;
}

/* A JSON string at the cursor (which is on the opening quote); decoded into *out. */
static int read_string(struct reader *r, char **out, size_t *out_len)
{
	if (read_plain_string(r, out, out_len))
		return 0;
	struct dc_srcpos start = r->pos;
	struct dc_buf b = {0};
	advance(r); /* opening quote */
	for (;;) {
		int c = peek(r);
		if (c < 0) {
			dc_buf_free(&b);
			return fail_at(r, start, "string opened here is never closed with '\"'");
		}
		if (c == '"') {
			advance(r);
			break;
		}
		if (c < 0x20) {
			dc_buf_free(&b);
			return fail_at(r, r->pos,
				       c == '\n' ? "string opened at %u:%u runs past the end of the line (missing '\"'?)"
						 : "control character inside the string opened at %u:%u; escape it",
				       start.line, start.col);
		}
		if (c != '\\') {
			/* A run of plain bytes at once (no line break can be in it: those fail above). */
			size_t run = r->off;
			while (run < r->len && r->p[run] != '"' && r->p[run] != '\\' && r->p[run] >= 0x20)
				run++;
			dc_buf_append(&b, r->p + r->off, run - r->off);
			for (; r->off < run; r->off++)
				r->pos.col += (r->p[r->off] & 0xC0) != 0x80; /* columns count code points */
			continue;
		}
		advance(r);
		int e = peek(r);
		const char *simple = NULL;
		switch (e) {
		case '"': simple = "\""; break;
		case '\\': simple = "\\"; break;
		case '/': simple = "/"; break;
		case 'b': simple = "\b"; break;
		case 'f': simple = "\f"; break;
		case 'n': simple = "\n"; break;
		case 'r': simple = "\r"; break;
		case 't': simple = "\t"; break;
		case 'u': break;
		default:
			dc_buf_free(&b);
			return expected(r, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) after '\\'");
		}
		advance(r);
		if (simple) {
			dc_buf_append(&b, simple, 1);
			continue;
		}
		uint32_t cp;
		if (read_hex4(r, &cp) < 0) {
			dc_buf_free(&b);
			return -1;
		}
		if (cp >= 0xD800 && cp < 0xDC00 && peek(r) == '\\' && r->off + 1 < r->len &&
		    r->p[r->off + 1] == 'u') {
			size_t save_off = r->off;
			struct dc_srcpos save_pos = r->pos;
			uint32_t lo;
			advance(r);
			advance(r);
			if (read_hex4(r, &lo) < 0) {
				dc_buf_free(&b);
				return -1;
			}
			if (lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else { /* not a pair: like Go, replace the lone half and re-read */
				cp = 0xFFFD;
				r->off = save_off;
				r->pos = save_pos;
			}
		} else if (cp >= 0xD800 && cp < 0xE000) {
			cp = 0xFFFD;
		}
		utf8_put(&b, cp);
	}
	*out = dc_xstrndup(b.data ? b.data : "", b.len); /* exactly sized, not the buffer's capacity */
	*out_len = b.len;
	dc_buf_free(&b);
	return 0;
}

/* JSON number grammar, kept as text so the decoder can insist on integers in range. */
static int read_number(struct reader *r, struct dc_json *v)
{
	size_t start = r->off;
	if (peek(r) == '-')
		advance(r);
	if (peek(r) == '0') {
		advance(r);
		if (is_digit(peek(r)))
			return fail_at(r, r->pos, "numbers must not have leading zeros");
	} else if (is_digit(peek(r))) {
		while (is_digit(peek(r)))
			advance(r);
	} else {
		return expected(r, "a digit");
	}
	if (peek(r) == '.') {
		advance(r);
		if (!is_digit(peek(r)))
			return expected(r, "a digit after the decimal point");
		while (is_digit(peek(r)))
			advance(r);
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		advance(r);
		if (peek(r) == '+' || peek(r) == '-')
			advance(r);
		if (!is_digit(peek(r)))
			return expected(r, "a digit in the exponent");
		while (is_digit(peek(r)))
			advance(r);
	}
	v->type = DC_JSON_NUMBER;
	v->text_len = r->off - start;
	v->text = dc_xstrndup((const char *)r->p + start, v->text_len);
	return 0;
}

static int read_literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);
	if (r->len - r->off < n || memcmp(r->p + r->off, word, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		advance(r);
	return 0;
}

static int read_value(struct reader *r, struct dc_json *v, int depth);
static int read_value_at(struct reader *r, struct dc_json *v, int depth);

static void push_item(struct dc_json *parent, size_t *cap, const struct dc_json *item)
{
	if (parent->count == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		parent->items = dc_xrealloc(parent->items, *cap * sizeof(*parent->items));
	}
	parent->items[parent->count++] = *item;
}

/* A closed array or object keeps exactly its items: a large map has tens of thousands. */
static int close_items(struct reader *r, struct dc_json *v, size_t cap)
{
	if (v->count && v->count < cap)
		v->items = dc_xrealloc(v->items, v->count * sizeof(*v->items));
	advance(r);
	return 0;
}

static int read_array(struct reader *r, struct dc_json *v, int depth)
{
	struct dc_srcpos open = r->pos;
	size_t cap = 0;
	v->type = DC_JSON_ARRAY;
	advance(r);
	for (;;) {
		if (skip_space(r) < 0)
			return -1;
		if (peek(r) == ']') { /* empty array, or a trailing comma (HuJSON) */
			if (r->strict && v->count)
				return fail_at(r, r->pos, "a trailing comma before ']' is not JSON; Go's encoding/json rejects it");
			return close_items(r, v, cap);
		}
		if (peek(r) < 0)
			return fail_at(r, r->pos, "expected a value or ']', found end of input (array opened at %u:%u is not closed)",
				       open.line, open.col);
		struct dc_json item = {0};
		int rc = read_value(r, &item, depth + 1);
		push_item(v, &cap, &item);
		if (rc < 0 || skip_space(r) < 0)
			return -1;
		if (peek(r) == ',') {
			advance(r);
			continue;
		}
		if (peek(r) == ']')
			return close_items(r, v, cap);
		if (peek(r) < 0)
			return fail_at(r, r->pos, "expected ',' or ']', found end of input (array opened at %u:%u is not closed)",
				       open.line, open.col);
		return missing_comma(r, "',' or ']' after an array element");
	}
}

static int read_object(struct reader *r, struct dc_json *v, int depth)
{
	struct dc_srcpos open = r->pos;
	size_t cap = 0;
	v->type = DC_JSON_OBJECT;
	advance(r);
	for (;;) {
		if (skip_space(r) < 0)
			return -1;
		if (peek(r) == '}') { /* empty object, or a trailing comma (HuJSON) */
			if (r->strict && v->count)
				return fail_at(r, r->pos, "a trailing comma before '}' is not JSON; Go's encoding/json rejects it");
			return close_items(r, v, cap);
		}
		if (peek(r) < 0)
			return fail_at(r, r->pos, "expected a \"key\" or '}', found end of input (object opened at %u:%u is not closed)",
				       open.line, open.col);
		if (peek(r) != '"')
			return expected(r, "a \"key\" in double quotes");
		struct dc_json member = {0};
		member.key_pos = r->pos;
		size_t key_len;
		if (read_string(r, &member.key, &key_len) < 0)
			return -1;
		if (skip_space(r) < 0) {
			free(member.key);
			return -1;
		}
		if (peek(r) != ':') {
			free(member.key);
			return expected(r, "':' after the key");
		}
		advance(r);
		if (skip_space(r) < 0) {
			free(member.key);
			return -1;
		}
		int rc = read_value(r, &member, depth + 1);
		push_item(v, &cap, &member);
		if (rc < 0 || skip_space(r) < 0)
			return -1;
		if (peek(r) == ',') {
			advance(r);
			continue;
		}
		if (peek(r) == '}')
			return close_items(r, v, cap);
		if (peek(r) < 0)
			return fail_at(r, r->pos, "expected ',' or '}', found end of input (object opened at %u:%u is not closed)",
				       open.line, open.col);
		return missing_comma(r, "',' or '}' after an object member");
	}
}

static int read_value(struct reader *r, struct dc_json *v, int depth)
{
	int rc = read_value_at(r, v, depth);
	if (rc == 0)
		r->value_end = r->pos;
	return rc;
}

static int read_value_at(struct reader *r, struct dc_json *v, int depth)
{
	if (depth >= DC_HUJSON_MAX_DEPTH) /* the top-level value is depth 0 */
		return fail_at(r, r->pos, "nesting deeper than %d levels", DC_HUJSON_MAX_DEPTH);
	v->pos = r->pos;
	int c = peek(r);
	switch (c) {
	case '{':
		return read_object(r, v, depth);
	case '[':
		return read_array(r, v, depth);
	case '"':
		v->type = DC_JSON_STRING;
		return read_string(r, &v->text, &v->text_len);
	case 't':
	case 'f':
		v->type = DC_JSON_BOOL;
		v->boolean = c == 't';
		if (read_literal(r, c == 't' ? "true" : "false") == 0)
			return 0;
		break;
	case 'n':
		v->type = DC_JSON_NULL;
		if (read_literal(r, "null") == 0)
			return 0;
		break;
	default:
		if (c == '-' || is_digit(c))
			return read_number(r, v);
		break;
	}
	if (c == '\'')
		return fail_at(r, r->pos, "strings must use double quotes, found '");
	return expected(r, "a value (object, array, string, number, true, false or null)");
}

static struct dc_json *parse(const char *text, size_t len, bool strict, struct dc_error *err)
{
	struct dc_error local;
	if (!err)
		err = &local;
	dc_error_clear(err);
	struct reader r = {.p = (const unsigned char *)text, .len = len, .pos = {1, 1}, .err = err, .strict = strict};
	if (len > DC_HUJSON_MAX_SIZE) {
		fail_at(&r, r.pos, "input is %zu bytes; the limit is %u", len, DC_HUJSON_MAX_SIZE);
		return NULL;
	}
	/* A UTF-8 byte order mark (some Windows editors add one) is not content. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		r.off = 3;
	struct dc_json *root = dc_xcalloc(1, sizeof(*root));
	if (skip_space(&r) < 0)
		goto fail;
	if (peek(&r) < 0) {
		fail_at(&r, r.pos, "the input is empty; expected a JSON object");
		goto fail;
	}
	if (read_value(&r, root, 0) < 0 || skip_space(&r) < 0)
		goto fail;
	if (peek(&r) >= 0) {
		expected(&r, "end of input after the top-level value");
		goto fail;
	}
	return root;
fail:
	dc_json_free(root);
	return NULL;
}

struct dc_json *dc_hujson_parse(const char *text, size_t len, struct dc_error *err)
{
	return parse(text, len, false, err);
}

struct dc_json *dc_json_parse_strict(const char *text, size_t len, struct dc_error *err)
{
	return parse(text, len, true, err);
}
