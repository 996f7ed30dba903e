/*
 * Bounded access to wire bytes (STYLE §3): a reader and a writer over a caller's buffer,
 * each a pointer, a length and an offset. Every getter and putter checks the remaining
 * length first and fails instead of reading or writing past the end. A failure is
 * sticky (ok becomes false and stays so), so a parser may read a whole fixed header and
 * check once at the end; values read after a failure are zero.
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
	bool ok;
};

void dc_cursor_init(struct dc_cursor *c, const void *p, size_t len);

/* Bytes not yet consumed (0 once the cursor has failed). */
size_t dc_cursor_left(const struct dc_cursor *c);

bool dc_cursor_u8(struct dc_cursor *c, uint8_t *out);
bool dc_cursor_be16(struct dc_cursor *c, uint16_t *out);
bool dc_cursor_be32(struct dc_cursor *c, uint32_t *out);
bool dc_cursor_be64(struct dc_cursor *c, uint64_t *out);
/* Copy n bytes into out. */
bool dc_cursor_bytes(struct dc_cursor *c, void *out, size_t n);
/* Borrow the next n bytes without copying; *out points into the cursor's buffer. */
bool dc_cursor_view(struct dc_cursor *c, size_t n, const uint8_t **out);
bool dc_cursor_skip(struct dc_cursor *c, size_t n);

/* The next n bytes as a cursor of their own (a length-delimited field), or fail. */
bool dc_cursor_sub(struct dc_cursor *c, size_t n, struct dc_cursor *sub);

/* Borrow everything that is left (possibly nothing); the cursor ends empty. */
const uint8_t *dc_cursor_rest(struct dc_cursor *c, size_t *n);

/*
 * Text protocols (SSDP, HTTP headers, /proc files): the next line, without its "\n" or
 * "\r\n". The last line may end without a newline. Fails only at the end of the buffer.
 */
bool dc_cursor_line(struct dc_cursor *c, const uint8_t **line, size_t *len);

/*
 * HTTP/1.1 headers (RFC 9112 §2.2 as senders must write them): the next line ending in
 * CRLF, without it. Fails on a bare CR or LF, a NUL, or when no CRLF is left.
 */
bool dc_cursor_http_line(struct dc_cursor *c, const char **line, size_t *len);

struct dc_writer {
	uint8_t *p;
	size_t cap;
	size_t off;
	bool ok;
};

void dc_writer_init(struct dc_writer *w, void *p, size_t cap);
bool dc_writer_u8(struct dc_writer *w, uint8_t v);
bool dc_writer_be16(struct dc_writer *w, uint16_t v);
bool dc_writer_be32(struct dc_writer *w, uint32_t v);
bool dc_writer_be64(struct dc_writer *w, uint64_t v);
bool dc_writer_bytes(struct dc_writer *w, const void *src, size_t n);
bool dc_writer_zeros(struct dc_writer *w, size_t n);
/* Overwrite a big-endian 16-bit value already written at offset at (a length field). */
bool dc_writer_put_be16_at(struct dc_writer *w, size_t at, uint16_t v);

#endif
