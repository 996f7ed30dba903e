/*
 * Bounded byte reading and writing (STYLE §3). A cursor is a pointer, a length and an
 * offset; every getter either returns the whole value it was asked for and advances, or
 * fails and leaves the cursor where it was. Nothing read from the network is touched
 * any other way.
 */
#ifndef DERPCHECK_CURSOR_H
#define DERPCHECK_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dc_cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void dc_cursor_init(struct dc_cursor *c, const void *p, size_t len);
size_t dc_cursor_left(const struct dc_cursor *c);

/* Each returns 0 and advances, or -1 (too few bytes left) without moving. */
int dc_cursor_u8(struct dc_cursor *c, uint8_t *v);
int dc_cursor_be16(struct dc_cursor *c, uint16_t *v);
int dc_cursor_be32(struct dc_cursor *c, uint32_t *v);
int dc_cursor_be64(struct dc_cursor *c, uint64_t *v);
int dc_cursor_bytes(struct dc_cursor *c, void *out, size_t n);          /* copy n bytes */
int dc_cursor_ref(struct dc_cursor *c, size_t n, const uint8_t **out);  /* borrow n bytes */
int dc_cursor_skip(struct dc_cursor *c, size_t n);
/* Borrow everything that is left (possibly nothing); the cursor ends empty. */
const uint8_t *dc_cursor_rest(struct dc_cursor *c, size_t *n);

/*
 * Text protocols (HTTP): borrow the next line ending in CRLF, without the CRLF.
 * Fails when no CRLF is left in the buffer, or when the line holds a NUL or a bare CR/LF.
 */
int dc_cursor_line(struct dc_cursor *c, const char **line, size_t *len);

/* The writing side: fills a caller's buffer and remembers an overflow instead of writing past it. */
struct dc_writer {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

void dc_writer_init(struct dc_writer *w, void *buf, size_t cap);
void dc_writer_u8(struct dc_writer *w, uint8_t v);
void dc_writer_be16(struct dc_writer *w, uint16_t v);
void dc_writer_be32(struct dc_writer *w, uint32_t v);
void dc_writer_be64(struct dc_writer *w, uint64_t v);
void dc_writer_bytes(struct dc_writer *w, const void *data, size_t n);

#endif
