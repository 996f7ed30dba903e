#include "derpcheck/util/cursor.h"

#include <string.h>

void dc_cursor_init(struct dc_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
	c->ok = true;
}

size_t dc_cursor_left(const struct dc_cursor *c)
{
	return c->ok ? c->len - c->off : 0;
}

/* The single bounds check every getter goes through. */
static const uint8_t *take(struct dc_cursor *c, size_t n)
{
	if (!c->ok || n > c->len - c->off) {
		c->ok = false;
		return NULL;
	}
	/* A zero-length take from an empty (NULL) buffer still succeeds. */
	const uint8_t *at = c->p ? c->p + c->off : (const uint8_t *)"";
	c->off += n;
	return at;
}

bool dc_cursor_u8(struct dc_cursor *c, uint8_t *out)
{
	const uint8_t *b = take(c, 1);
	*out = b ? b[0] : 0;
	return b != NULL;
}

bool dc_cursor_be16(struct dc_cursor *c, uint16_t *out)
{
	const uint8_t *b = take(c, 2);
	*out = b ? (uint16_t)((b[0] << 8) | b[1]) : 0;
	return b != NULL;
}

bool dc_cursor_be32(struct dc_cursor *c, uint32_t *out)
{
	const uint8_t *b = take(c, 4);
	*out = b ? ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3] : 0;
	return b != NULL;
}

bool dc_cursor_be64(struct dc_cursor *c, uint64_t *out)
{
	uint32_t hi, lo;
	bool ok = dc_cursor_be32(c, &hi) && dc_cursor_be32(c, &lo);
	*out = ok ? (uint64_t)hi << 32 | lo : 0;
	return ok;
}

bool dc_cursor_bytes(struct dc_cursor *c, void *out, size_t n)
{
	const uint8_t *b = take(c, n);
	if (b && n)
		memcpy(out, b, n);
	else if (!b && n)
		memset(out, 0, n);
	return b != NULL;
}

bool dc_cursor_view(struct dc_cursor *c, size_t n, const uint8_t **out)
{
	*out = take(c, n);
	return *out != NULL;
}

bool dc_cursor_skip(struct dc_cursor *c, size_t n)
{
	return take(c, n) != NULL;
}

bool dc_cursor_line(struct dc_cursor *c, const uint8_t **line, size_t *len)
{
	*line = NULL;
	*len = 0;
	size_t left = dc_cursor_left(c);
	if (left == 0)
		return false; /* the end, not an error: the cursor stays usable */
	const uint8_t *start = c->p + c->off;
	const uint8_t *nl = memchr(start, '\n', left);
	size_t n = nl ? (size_t)(nl - start) : left;
	c->off += nl ? n + 1 : n;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*line = start;
	*len = n;
	return true;
}

void dc_writer_init(struct dc_writer *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = p ? cap : 0;
	w->off = 0;
	w->ok = true;
}

static uint8_t *room(struct dc_writer *w, size_t n)
{
	if (!w->ok || n > w->cap - w->off) {
		w->ok = false;
		return NULL;
	}
	static uint8_t none;
	uint8_t *at = w->p ? w->p + w->off : &none;
	w->off += n;
	return at;
}

bool dc_writer_u8(struct dc_writer *w, uint8_t v)
{
	uint8_t *b = room(w, 1);
	if (b)
		b[0] = v;
	return b != NULL;
}

bool dc_writer_be16(struct dc_writer *w, uint16_t v)
{
	uint8_t *b = room(w, 2);
	if (b) {
		b[0] = (uint8_t)(v >> 8);
		b[1] = (uint8_t)v;
	}
	return b != NULL;
}

bool dc_writer_be32(struct dc_writer *w, uint32_t v)
{
	uint8_t *b = room(w, 4);
	if (b) {
		b[0] = (uint8_t)(v >> 24);
		b[1] = (uint8_t)(v >> 16);
		b[2] = (uint8_t)(v >> 8);
		b[3] = (uint8_t)v;
	}
	return b != NULL;
}

bool dc_writer_be64(struct dc_writer *w, uint64_t v)
{
	return dc_writer_be32(w, (uint32_t)(v >> 32)) && dc_writer_be32(w, (uint32_t)v);
}

bool dc_writer_bytes(struct dc_writer *w, const void *src, size_t n)
{
	uint8_t *b = room(w, n);
	if (b && n)
		memcpy(b, src, n);
	return b != NULL;
}

bool dc_writer_zeros(struct dc_writer *w, size_t n)
{
	uint8_t *b = room(w, n);
	if (b && n)
		memset(b, 0, n);
	return b != NULL;
}

const uint8_t *dc_cursor_rest(struct dc_cursor *c, size_t *n)
{
	*n = dc_cursor_left(c);
	const uint8_t *p = c->p + (c->ok ? c->off : c->len);
	if (c->ok)
		c->off = c->len;
	return p;
}

bool dc_cursor_http_line(struct dc_cursor *c, const char **line, size_t *len)
{
	size_t left = dc_cursor_left(c);
	const uint8_t *start = c->p + c->off;
	for (size_t i = 0; i < left; i++) {
		uint8_t ch = start[i];
		if (ch == '\r' && i + 1 < left && start[i + 1] == '\n') {
			*line = (const char *)start;
			*len = i;
			c->off += i + 2;
			return true;
		}
		if (ch == '\r' || ch == '\n' || ch == '\0')
			break;
	}
	c->ok = false;
	*line = NULL;
	*len = 0;
	return false;
}

bool dc_cursor_sub(struct dc_cursor *c, size_t n, struct dc_cursor *sub)
{
	const uint8_t *p;
	bool ok = dc_cursor_view(c, n, &p);
	dc_cursor_init(sub, ok ? p : NULL, ok ? n : 0);
	if (!ok)
		sub->ok = false;
	return ok;
}

bool dc_writer_put_be16_at(struct dc_writer *w, size_t at, uint16_t v)
{
	if (!w->ok || at > w->off || w->off - at < 2)
		return false;
	w->p[at] = (uint8_t)(v >> 8);
	w->p[at + 1] = (uint8_t)v;
	return true;
}
