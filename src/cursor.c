#include "derpcheck/cursor.h"

#include <string.h>

void dc_cursor_init(struct dc_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
}

size_t dc_cursor_left(const struct dc_cursor *c)
{
	return c->len - c->off;
}

int dc_cursor_ref(struct dc_cursor *c, size_t n, const uint8_t **out)
{
	if (n > dc_cursor_left(c))
		return -1;
	*out = c->p + c->off;
	c->off += n;
	return 0;
}

int dc_cursor_bytes(struct dc_cursor *c, void *out, size_t n)
{
	const uint8_t *p;
	if (dc_cursor_ref(c, n, &p) < 0)
		return -1;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int dc_cursor_skip(struct dc_cursor *c, size_t n)
{
	const uint8_t *p;
	return dc_cursor_ref(c, n, &p);
}

int dc_cursor_u8(struct dc_cursor *c, uint8_t *v)
{
	return dc_cursor_bytes(c, v, 1);
}

int dc_cursor_be16(struct dc_cursor *c, uint16_t *v)
{
	const uint8_t *p;
	if (dc_cursor_ref(c, 2, &p) < 0)
		return -1;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

int dc_cursor_be32(struct dc_cursor *c, uint32_t *v)
{
	const uint8_t *p;
	if (dc_cursor_ref(c, 4, &p) < 0)
		return -1;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int dc_cursor_be64(struct dc_cursor *c, uint64_t *v)
{
	uint32_t hi, lo;
	size_t start = c->off;
	if (dc_cursor_be32(c, &hi) < 0 || dc_cursor_be32(c, &lo) < 0) {
		c->off = start;
		return -1;
	}
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

const uint8_t *dc_cursor_rest(struct dc_cursor *c, size_t *n)
{
	const uint8_t *p = c->p + c->off;
	*n = dc_cursor_left(c);
	c->off = c->len;
	return p;
}

int dc_cursor_line(struct dc_cursor *c, const char **line, size_t *len)
{
	size_t left = dc_cursor_left(c);
	const uint8_t *start = c->p + c->off;
	for (size_t i = 0; i < left; i++) {
		uint8_t ch = start[i];
		if (ch == '\r') {
			if (i + 1 >= left || start[i + 1] != '\n')
				return -1;
			*line = (const char *)start;
			*len = i;
			c->off += i + 2;
			return 0;
		}
		if (ch == '\n' || ch == '\0')
			return -1;
	}
	return -1;
}

void dc_writer_init(struct dc_writer *w, void *buf, size_t cap)
{
	w->p = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->overflow = false;
}

void dc_writer_bytes(struct dc_writer *w, const void *data, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, data, n);
	w->len += n;
}

void dc_writer_u8(struct dc_writer *w, uint8_t v)
{
	dc_writer_bytes(w, &v, 1);
}

void dc_writer_be16(struct dc_writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	dc_writer_bytes(w, b, 2);
}

void dc_writer_be32(struct dc_writer *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	dc_writer_bytes(w, b, 4);
}

void dc_writer_be64(struct dc_writer *w, uint64_t v)
{
	dc_writer_be32(w, (uint32_t)(v >> 32));
	dc_writer_be32(w, (uint32_t)v);
}
