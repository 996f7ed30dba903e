/* DERP over WebSocket as a dc_derp_io (wsio.h). */
#include "derpcheck/probe/wsio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ws_io {
	struct dc_derp_io lower;
	struct dc_ws_stream ws;
	struct dc_error err;  /* the violation that failed the stream */
	bool failed_write;    /* the pong or close could not be written */
};

/* Write what the stream has queued (pongs, the close echo) with a short bound of its own. */
static int flush_control(struct ws_io *w)
{
	if (w->ws.out.len == 0)
		return 0;
	struct dc_error err;
	int rc = w->lower.write(w->lower.ctx, w->ws.out.data, w->ws.out.len, dc_now_ns() + 2000000000u, &err);
	w->ws.out.len = 0;
	if (rc < 0)
		w->failed_write = true;
	return rc;
}

static long ws_read(void *ctx, void *buf, size_t n)
{
	struct ws_io *w = ctx;
	for (;;) {
		size_t k = dc_ws_stream_read(&w->ws, buf, n);
		if (k > 0)
			return (long)k;
		if (w->ws.failed)
			return -1;
		if (w->ws.peer_close.received)
			return 0;
		uint8_t raw[16384];
		long rc = w->lower.read(w->lower.ctx, raw, sizeof(raw));
		if (rc <= 0)
			return rc; /* closed below us, an error, or WANT_*: the caller waits on the same fd */
		int fed = dc_ws_stream_feed(&w->ws, raw, (size_t)rc, &w->err);
		flush_control(w);
		if (fed < 0)
			return -1;
	}
}

static int ws_write(void *ctx, const void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err)
{
	struct ws_io *w = ctx;
	if (w->ws.close_sent || w->ws.failed)
		return dc_error_set(err, NULL, "the WebSocket is closed");
	dc_ws_stream_send(&w->ws, buf, n);
	int rc = w->lower.write(w->lower.ctx, w->ws.out.data, w->ws.out.len, deadline_ns, err);
	w->ws.out.len = 0;
	return rc;
}

static size_t ws_pending(void *ctx)
{
	struct ws_io *w = ctx;
	size_t below = w->lower.pending ? w->lower.pending(w->lower.ctx) : 0;
	/* Undecoded bytes of a partial frame are not counted: they cannot be read before more arrive. */
	return dc_ws_stream_readable(&w->ws) + below;
}

static void ws_end_note(void *ctx, char *out, size_t n)
{
	struct ws_io *w = ctx;
	out[0] = '\0';
	if (w->ws.failed) {
		snprintf(out, n, "WebSocket protocol error: %s", w->err.what);
	} else if (w->ws.peer_close.received) {
		char close[200];
		dc_ws_close_describe(&w->ws.peer_close, close, sizeof(close));
		snprintf(out, n, "the server closed the WebSocket (%s)", close);
	}
}

static void ws_release(void *ctx)
{
	struct ws_io *w = ctx;
	dc_ws_stream_free(&w->ws);
	free(w);
}

void dc_ws_io_attach(struct dc_derp_io *io, const struct dc_derp_io *lower, const void *leftover, size_t n)
{
	struct ws_io *w = dc_xcalloc(1, sizeof(*w));
	w->lower = *lower;
	dc_ws_stream_init(&w->ws, false);
	if (n > 0) {
		dc_ws_stream_feed(&w->ws, leftover, n, &w->err);
		flush_control(w);
	}
	*io = (struct dc_derp_io){.read = ws_read, .write = ws_write, .pending = ws_pending, .end_note = ws_end_note,
				  .release = ws_release, .fd = lower->fd, .ctx = w};
}

const struct dc_ws_stream *dc_ws_io_stream(const struct dc_derp_io *io)
{
	return io->read == ws_read ? &((const struct ws_io *)io->ctx)->ws : NULL;
}
