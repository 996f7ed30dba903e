/*
 * Bounded access to wire bytes (STYLE §3). A reader is a pointer, a length and an
 * offset; every getter checks the bytes are there first and fails instead of reading
 * past the end, leaving the offset unchanged. A writer fills a fixed buffer and
 * remembers (sticky) that something did not fit, so encoders check once at the end.
 */
#ifndef DERPCHECK_CURSOR_H
#define DERPCHECK_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dc_cursor {
	const uint8_t *data;
	size_t len;
	size_t off;
};

void dc_cursor_init(struct dc_cursor *c, const void *data, size_t len);
size_t dc_cursor_left(const struct dc_cursor *c);

/* Each returns 0, or -1 (nothing consumed) when fewer bytes are left than needed. */
int dc_cursor_u8(struct dc_cursor *c, uint8_t *out);
int dc_cursor_be16(struct dc_cursor *c, uint16_t *out);
int dc_cursor_be32(struct dc_cursor *c, uint32_t *out);
/* Point *out at the next n bytes (inside the buffer) and consume them. */
int dc_cursor_bytes(struct dc_cursor *c, size_t n, const uint8_t **out);
int dc_cursor_copy(struct dc_cursor *c, void *dst, size_t n);
int dc_cursor_skip(struct dc_cursor *c, size_t n);
/* A cursor over the next n bytes only; consumes them from c. */
int dc_cursor_sub(struct dc_cursor *c, size_t n, struct dc_cursor *sub);

struct dc_writer {
	uint8_t *data;
	size_t cap;
	size_t len;
	bool overflow; /* something did not fit; nothing after it was written */
};

void dc_writer_init(struct dc_writer *w, void *buf, size_t cap);
int dc_writer_u8(struct dc_writer *w, uint8_t v);
int dc_writer_be16(struct dc_writer *w, uint16_t v);
int dc_writer_be32(struct dc_writer *w, uint32_t v);
int dc_writer_bytes(struct dc_writer *w, const void *src, size_t n);
/* Overwrite a big-endian 16-bit value already written at offset at (a length field). */
int dc_writer_put_be16_at(struct dc_writer *w, size_t at, uint16_t v);

#endif
