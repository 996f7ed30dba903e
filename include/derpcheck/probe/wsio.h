/*
 * The WebSocket transport of a DERP connection: a dc_derp_io that carries the DERP byte
 * stream in WebSocket messages (probe/websocket.h) over another dc_derp_io (TLS). Reads
 * decode frames, answer pings and closes; writes cut the stream into masked binary
 * messages. derpconn.c switches to it once the server accepted the WebSocket upgrade.
 */
#ifndef DERPCHECK_WSIO_H
#define DERPCHECK_WSIO_H

#include "derpcheck/probe/derpconn.h"
#include "derpcheck/probe/websocket.h"

/*
 * Make io read and write WebSocket over lower. leftover: bytes that arrived after the
 * 101 answer's header (they already belong to the WebSocket stream). io->release frees
 * what this allocates; lower is not closed by it.
 */
void dc_ws_io_attach(struct dc_derp_io *io, const struct dc_derp_io *lower, const void *leftover, size_t n);

/* The stream under io, when io is a WebSocket io (else NULL): counters and the close. */
const struct dc_ws_stream *dc_ws_io_stream(const struct dc_derp_io *io);

#endif
