/*
 * DERP over WebSocket (RFC 6455), as derper serves it (cmd/derper/websocket.go on
 * nhooyr.io/websocket) and Tailscale's browser and wasm clients speak it
 * (derp/derphttp/websocket.go, net/wsconn): GET /derp with "Upgrade: websocket" and
 * "Sec-WebSocket-Protocol: derp", then the DERP byte stream in binary messages whose
 * boundaries mean nothing (a DERP frame may span messages, a message may hold several),
 * no compression. Proxies that pass only WebSocket upgrades (Cloudflare's proxy,
 * cloudflared) carry this where they drop "Upgrade: DERP".
 *
 * Pure encoding and decoding, no sockets: the handshake (key, accept value, the answer
 * judged), the frame codec on a bounded cursor, and a stream that turns received bytes
 * into the DERP bytes they carry, answering pings and closes. derpconn.c moves the bytes.
 */
#ifndef DERPCHECK_WEBSOCKET_H
#define DERPCHECK_WEBSOCKET_H

#include "derpcheck/probe/derp.h"
#include "derpcheck/util/util.h"

#define DC_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 §1.3 */
#define DC_WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define DC_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define DC_WS_SUBPROTOCOL "derp"
#define DC_WS_MAX_CONTROL 125u /* RFC 6455 §5.5 */
#define DC_WS_MAX_HEADER 14u   /* 2 + 8 (length) + 4 (mask) */
/*
 * Our bound on one frame's payload: a whole DERP frame of Tailscale's largest size with
 * its header. derper never sends more in one message (its writer flushes at most one
 * frame past a 4 KiB buffer); anything longer is refused before it is buffered.
 */
#define DC_WS_MAX_FRAME ((uint64_t)DC_DERP_MAX_FRAME + DC_DERP_FRAME_HEADER_LEN)
/*
 * What we send in one message: derper reads at most 32768 bytes per message (nhooyr's
 * default read limit, which derper does not raise) and closes with 1009 past that, so the
 * DERP stream is cut into messages well below it.
 */
#define DC_WS_SEND_CHUNK 16384u
/* Control replies (pongs, the close echo) not yet written: past this the server floods. */
#define DC_WS_MAX_PENDING (256u * 1024u)

enum dc_ws_opcode {
	DC_WS_CONTINUATION = 0x0,
	DC_WS_TEXT = 0x1,
	DC_WS_BINARY = 0x2,
	DC_WS_CLOSE = 0x8,
	DC_WS_PING = 0x9,
	DC_WS_PONG = 0xa,
};

/* "binary", "ping", ...; NULL for a reserved opcode. */
const char *dc_ws_opcode_name(uint8_t opcode);

/* ---- the opening handshake (RFC 6455 §4) ----------------------------------------------- */

/* Sec-WebSocket-Key: the base64 of 16 random bytes (the caller's nonce). */
void dc_ws_key_make(const uint8_t nonce[16], char out[DC_WS_KEY_LEN + 1]);
/* Sec-WebSocket-Accept the server must answer for key: base64(SHA-1(key + GUID)). */
void dc_ws_accept_for(const char *key, char out[DC_WS_ACCEPT_LEN + 1]);

/*
 * The request's upgrade headers, after "GET /derp HTTP/1.1" and Host: what Tailscale's
 * WebSocket client sends (Upgrade, Connection, the key, version 13, the derp
 * subprotocol), without its permessage-deflate offer, which derper refuses anyway.
 */
void dc_ws_put_upgrade_headers(struct dc_buf *b, const char *key);

/* Why an answer to the WebSocket upgrade does not open a WebSocket for DERP. */
enum dc_ws_answer {
	DC_WS_ANSWER_OK,
	DC_WS_ANSWER_STATUS,        /* not 101 */
	DC_WS_ANSWER_DERP_UPGRADE,  /* 101 "Upgrade: DERP": derper never saw the derp subprotocol */
	DC_WS_ANSWER_NOT_WEBSOCKET, /* 101 with another Upgrade value, or none; or no Connection: Upgrade */
	DC_WS_ANSWER_NO_ACCEPT,     /* Sec-WebSocket-Accept missing */
	DC_WS_ANSWER_BAD_ACCEPT,    /* ... or not the value for our key */
	DC_WS_ANSWER_NO_PROTOCOL,   /* no Sec-WebSocket-Protocol: derper closes with 1008 */
	DC_WS_ANSWER_BAD_PROTOCOL,  /* a subprotocol we did not offer */
	DC_WS_ANSWER_EXTENSION,     /* an extension we did not offer */
};
const char *dc_ws_answer_name(enum dc_ws_answer a); /* "ok", "status", "derp-upgrade", ... */

/* Judge u (the parsed response head) against key. Fills err (what and hint) unless OK. */
enum dc_ws_answer dc_ws_answer_check(const struct dc_derp_upgrade *u, const char *key, struct dc_error *err);

/* ---- frames (RFC 6455 §5.2) ------------------------------------------------------------ */

struct dc_ws_frame {
	bool fin;
	uint8_t rsv;    /* RSV1-3 as the low three bits */
	uint8_t opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t len;
	const uint8_t *payload; /* into the caller's buffer, still masked when masked */
};

/*
 * Split the next frame off buf[0..len). from_server: the rules a client applies (frames
 * must not be masked); otherwise a server's (they must be). Returns 1 with *f and
 * *consumed; 0 when more bytes are needed (*need: the frame's whole size when known);
 * -1 with err for a violation: RSV bits, a reserved opcode, a fragmented or long control
 * frame, a 64-bit length with the top bit set, masking the wrong way, or a payload over
 * max_payload (checked from the header alone, before the payload is waited for).
 */
int dc_ws_frame_next(const uint8_t *buf, size_t len, uint64_t max_payload, bool from_server, struct dc_ws_frame *f,
		     size_t *consumed, size_t *need, struct dc_error *err);

/* Append one frame; mask: 4 bytes (a client always masks, §5.3) or NULL (a server). */
void dc_ws_put_frame(struct dc_buf *b, uint8_t opcode, bool fin, const uint8_t *mask, const void *payload, size_t n);

/* XOR data with the mask, starting at byte offset at of the payload (§5.3). */
void dc_ws_unmask(uint8_t *data, size_t n, const uint8_t mask[4], size_t at);

/* A close frame's payload (§5.5.1, §7.4). */
struct dc_ws_close {
	bool received;
	bool has_code;
	uint16_t code;
	bool code_valid; /* a code an endpoint may send (1000-1003, 1007-1014, 3000-4999) */
	char reason[DC_WS_MAX_CONTROL + 1]; /* printable ASCII; anything else shown as '?' */
};
int dc_ws_close_parse(const uint8_t *payload, size_t n, struct dc_ws_close *out, struct dc_error *err);
/* "normal closure", "going away", "protocol error", "policy violation", "message too big", ... */
const char *dc_ws_close_code_name(uint16_t code);
/* "1008 policy violation: \"client must speak the derp subprotocol\"" */
void dc_ws_close_describe(const struct dc_ws_close *c, char *out, size_t n);

/* ---- the stream: WebSocket frames in, DERP bytes out ------------------------------------ */

struct dc_ws_stream {
	bool server;         /* the server's side (test servers, fuzzing): masked frames in, unmasked out */
	struct dc_buf in;    /* received bytes that are not yet a whole frame */
	size_t in_off;
	struct dc_buf data;  /* the payload of binary messages, for the DERP reader */
	size_t data_off;
	struct dc_buf out;   /* frames to write: data, pongs, the close */
	bool in_message;     /* a fragmented binary message is open */
	bool failed;         /* a protocol violation ended the stream */
	struct dc_ws_close peer_close; /* the close frame the peer sent */
	bool close_sent;
	uint64_t frames, messages, pings, pongs;
};

void dc_ws_stream_init(struct dc_ws_stream *s, bool server);
void dc_ws_stream_free(struct dc_ws_stream *s);

/*
 * Take n received bytes: whole frames are decoded, binary payload is appended to data,
 * a ping queues its pong, a close queues the echo and ends the stream (peer_close).
 * Returns 0, or -1 with err on a protocol violation (a close with 1002, 1003 or 1009 is
 * then queued for the peer and the stream is failed). Bytes after a close are ignored.
 */
int dc_ws_stream_feed(struct dc_ws_stream *s, const void *bytes, size_t n, struct dc_error *err);

/* Queue p as binary messages of at most DC_WS_SEND_CHUNK bytes, masked unless server. */
void dc_ws_stream_send(struct dc_ws_stream *s, const void *p, size_t n);
/* Queue a close frame (once). */
void dc_ws_stream_send_close(struct dc_ws_stream *s, uint16_t code, const char *reason);

/* DERP bytes ready, and taking up to n of them. */
size_t dc_ws_stream_readable(const struct dc_ws_stream *s);
size_t dc_ws_stream_read(struct dc_ws_stream *s, void *buf, size_t n);
/* The stream has ended: the peer closed, or it failed; no more data will come. */
bool dc_ws_stream_ended(const struct dc_ws_stream *s);

#endif
