#include "derpcheck/cursor.h"

#include <string.h>

void dc_cursor_init(struct dc_cursor *c, const void *data, size_t len)
{
	c->data = data;
	c->len = data ? len : 0;
	c->off = 0;
}

size_t dc_cursor_left(const struct dc_cursor *c)
{
	return c->len - c->off;
}

int dc_cursor_bytes(struct dc_cursor *c, size_t n, const uint8_t **out)
{
	if (n > dc_cursor_left(c))
		return -1;
	if (out)
		*out = c->data + c->off;
	c->off += n;
	return 0;
}

int dc_cursor_u8(struct dc_cursor *c, uint8_t *out)
{
	const uint8_t *p;
	if (dc_cursor_bytes(c, 1, &p) < 0)
		return -1;
	*out = p[0];
	return 0;
}

int dc_cursor_be16(struct dc_cursor *c, uint16_t *out)
{
	const uint8_t *p;
	if (dc_cursor_bytes(c, 2, &p) < 0)
		return -1;
	*out = (uint16_t)((unsigned)p[0] << 8 | p[1]);
	return 0;
}

int dc_cursor_be32(struct dc_cursor *c, uint32_t *out)
{
	const uint8_t *p;
	if (dc_cursor_bytes(c, 4, &p) < 0)
		return -1;
	*out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int dc_cursor_copy(struct dc_cursor *c, void *dst, size_t n)
{
	const uint8_t *p;
	if (dc_cursor_bytes(c, n, &p) < 0)
		return -1;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

int dc_cursor_skip(struct dc_cursor *c, size_t n)
{
	return dc_cursor_bytes(c, n, NULL);
}

int dc_cursor_sub(struct dc_cursor *c, size_t n, struct dc_cursor *sub)
{
	const uint8_t *p;
	if (dc_cursor_bytes(c, n, &p) < 0)
		return -1;
	dc_cursor_init(sub, p, n);
	return 0;
}

void dc_writer_init(struct dc_writer *w, void *buf, size_t cap)
{
	w->data = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->overflow = false;
}

int dc_writer_bytes(struct dc_writer *w, const void *src, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return -1;
	}
	if (n)
		memcpy(w->data + w->len, src, n);
	w->len += n;
	return 0;
}

int dc_writer_u8(struct dc_writer *w, uint8_t v)
{
	return dc_writer_bytes(w, &v, 1);
}

int dc_writer_be16(struct dc_writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	return dc_writer_bytes(w, b, 2);
}

int dc_writer_be32(struct dc_writer *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return dc_writer_bytes(w, b, 4);
}

int dc_writer_put_be16_at(struct dc_writer *w, size_t at, uint16_t v)
{
	if (w->overflow || at > w->len || w->len - at < 2)
		return -1;
	w->data[at] = (uint8_t)(v >> 8);
	w->data[at + 1] = (uint8_t)v;
	return 0;
}
