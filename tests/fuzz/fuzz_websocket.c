/*
 * libFuzzer target for DERP over WebSocket (src/probe/websocket.c): the frame codec and
 * the stream a client (or, with the first byte odd, a server) feeds with what arrives,
 * in chunks of a size the input chooses, and the check of the answer to the upgrade.
 * Invariants: nothing is read past the input; a frame is never longer than what was
 * given; the stream never yields more DERP bytes than it was fed; chunked and whole
 * feeding agree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/websocket.h"

static size_t drain(struct dc_ws_stream *s, struct dc_buf *into)
{
	uint8_t buf[4096];
	size_t total = 0, n;
	while ((n = dc_ws_stream_read(s, buf, sizeof(buf))) > 0) {
		dc_buf_append(into, buf, n);
		total += n;
	}
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	bool server = data[0] & 1;
	size_t chunk = (size_t)(data[1] % 64) + 1;
	data += 2;
	size -= 2;
	uint8_t *copy = malloc(size ? size : 1);
	if (size)
		memcpy(copy, data, size);

	struct dc_ws_frame f;
	size_t used = 0, need = 0;
	if (dc_ws_frame_next(copy, size, DC_WS_MAX_FRAME, !server, &f, &used, &need, NULL) == 1 &&
	    (used > size || f.len > size || used < 2))
		abort();

	/* whole, then in chunks: the same bytes and the same end */
	struct dc_ws_stream whole, parts;
	dc_ws_stream_init(&whole, server);
	dc_ws_stream_init(&parts, server);
	struct dc_buf a = {0}, b = {0};
	int rc_whole = dc_ws_stream_feed(&whole, copy, size, NULL);
	drain(&whole, &a);
	int rc_parts = 0;
	for (size_t off = 0; off < size && rc_parts == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		rc_parts = dc_ws_stream_feed(&parts, copy + off, n, NULL);
		drain(&parts, &b);
	}
	if (a.len > size || b.len > size || rc_whole != rc_parts || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len)))
		abort();
	if (dc_ws_stream_ended(&whole) != dc_ws_stream_ended(&parts))
		abort();
	dc_buf_free(&a);
	dc_buf_free(&b);
	dc_ws_stream_free(&whole);
	dc_ws_stream_free(&parts);

	/* the answer to the upgrade, when the input is one */
	struct dc_derp_upgrade u;
	struct dc_error err;
	if (dc_derp_upgrade_parse(copy, size, &u, &err) == 1) {
		enum dc_ws_answer ans = dc_ws_answer_check(&u, "dGhlIHNhbXBsZSBub25jZQ==", &err);
		if (ans == DC_WS_ANSWER_OK && u.status != 101)
			abort();
	}
	free(copy);
	return 0;
}
