/*
 * DERP over WebSocket: the handshake, the frame codec and the stream (websocket.h).
 * Every byte from the peer is read through util/cursor; nothing trusts a length field.
 */
#include "derpcheck/probe/websocket.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "derpcheck/util/cursor.h"
#include "derpcheck/util/sha1.h"

const char *dc_ws_opcode_name(uint8_t opcode)
{
	switch (opcode) {
	case DC_WS_CONTINUATION: return "continuation";
	case DC_WS_TEXT: return "text";
	case DC_WS_BINARY: return "binary";
	case DC_WS_CLOSE: return "close";
	case DC_WS_PING: return "ping";
	case DC_WS_PONG: return "pong";
	}
	return NULL;
}

/* ---- the opening handshake -------------------------------------------------------------- */

void dc_ws_key_make(const uint8_t nonce[16], char out[DC_WS_KEY_LEN + 1])
{
	sodium_bin2base64(out, DC_WS_KEY_LEN + 1, nonce, 16, sodium_base64_VARIANT_ORIGINAL);
}

void dc_ws_accept_for(const char *key, char out[DC_WS_ACCEPT_LEN + 1])
{
	char joined[DC_WS_KEY_LEN + sizeof(DC_WS_GUID) + 8];
	int n = snprintf(joined, sizeof(joined), "%.*s%s", DC_WS_KEY_LEN + 4, key, DC_WS_GUID);
	uint8_t digest[DC_SHA1_LEN];
	dc_sha1(joined, (size_t)n, digest);
	sodium_bin2base64(out, DC_WS_ACCEPT_LEN + 1, digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);
}

void dc_ws_put_upgrade_headers(struct dc_buf *b, const char *key)
{
	dc_buf_printf(b,
		      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		      "Sec-WebSocket-Protocol: " DC_WS_SUBPROTOCOL "\r\n",
		      key);
}

const char *dc_ws_answer_name(enum dc_ws_answer a)
{
	switch (a) {
	case DC_WS_ANSWER_OK: return "ok";
	case DC_WS_ANSWER_STATUS: return "status";
	case DC_WS_ANSWER_DERP_UPGRADE: return "derp-upgrade";
	case DC_WS_ANSWER_NOT_WEBSOCKET: return "not-websocket";
	case DC_WS_ANSWER_NO_ACCEPT: return "no-accept";
	case DC_WS_ANSWER_BAD_ACCEPT: return "bad-accept";
	case DC_WS_ANSWER_NO_PROTOCOL: return "no-protocol";
	case DC_WS_ANSWER_BAD_PROTOCOL: return "bad-protocol";
	case DC_WS_ANSWER_EXTENSION: return "extension";
	}
	return "?";
}

/* Whether a comma-separated header value holds token (case-insensitive), as §4.2.2 reads Connection. */
static bool has_token(const char *value, const char *token)
{
	size_t tn = strlen(token);
	const char *p = value;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == tn && strncasecmp(start, token, tn) == 0)
			return true;
	}
	return false;
}

enum dc_ws_answer dc_ws_answer_check(const struct dc_derp_upgrade *u, const char *key, struct dc_error *err)
{
	if (u->status != 101) {
		dc_error_set(err, NULL, "the server answered the WebSocket upgrade with HTTP %d%s%s, not 101 Switching Protocols",
			     u->status, u->reason[0] ? " " : "", u->reason);
		return DC_WS_ANSWER_STATUS;
	}
	if (strcasecmp(u->upgrade, "derp") == 0) {
		/* derper treats "Upgrade: websocket" without the derp subprotocol as a DERP upgrade
		 * (cmd/derper/websocket.go falls through to derphttp.Handler, which accepts both). */
		dc_error_set(err, NULL, "the server answered the WebSocket upgrade with \"Upgrade: DERP\": derper did not see "
					"\"Sec-WebSocket-Protocol: derp\" and switched to plain DERP framing");
		dc_error_hint(err, "something between derpcheck and derper dropped the Sec-WebSocket-Protocol header; a proxy must pass it through");
		return DC_WS_ANSWER_DERP_UPGRADE;
	}
	if (strcasecmp(u->upgrade, "websocket") != 0) {
		dc_error_set(err, NULL, "the 101 answer to the WebSocket upgrade says \"Upgrade: %s\", not websocket",
			     u->upgrade[0] ? u->upgrade : "(none)");
		return DC_WS_ANSWER_NOT_WEBSOCKET;
	}
	if (!has_token(u->connection, "upgrade")) {
		dc_error_set(err, NULL, "the 101 answer to the WebSocket upgrade says \"Connection: %s\", without the Upgrade token",
			     u->connection[0] ? u->connection : "(none)");
		return DC_WS_ANSWER_NOT_WEBSOCKET;
	}
	if (!u->ws_accept[0]) {
		dc_error_set(err, NULL, "the 101 answer to the WebSocket upgrade has no Sec-WebSocket-Accept header");
		return DC_WS_ANSWER_NO_ACCEPT;
	}
	char want[DC_WS_ACCEPT_LEN + 1];
	dc_ws_accept_for(key, want);
	if (strcmp(u->ws_accept, want) != 0) {
		dc_error_set(err, NULL, "Sec-WebSocket-Accept is \"%s\", not \"%s\" (the value for our key)", u->ws_accept, want);
		dc_error_hint(err, "the answer was not computed for this request: a cache or a broken proxy answered");
		return DC_WS_ANSWER_BAD_ACCEPT;
	}
	if (u->ws_extensions[0]) {
		dc_error_set(err, NULL, "the server enabled the WebSocket extension \"%s\", which was not offered", u->ws_extensions);
		return DC_WS_ANSWER_EXTENSION;
	}
	if (!u->ws_protocol[0]) {
		dc_error_set(err, NULL, "the WebSocket was opened without the derp subprotocol (no Sec-WebSocket-Protocol in the answer)");
		dc_error_hint(err, "derper closes such a connection with 1008 \"client must speak the derp subprotocol\": the server is not derper, or a proxy dropped the header");
		return DC_WS_ANSWER_NO_PROTOCOL;
	}
	if (strcmp(u->ws_protocol, DC_WS_SUBPROTOCOL) != 0) {
		dc_error_set(err, NULL, "the server chose the WebSocket subprotocol \"%s\"; only \"derp\" was offered", u->ws_protocol);
		return DC_WS_ANSWER_BAD_PROTOCOL;
	}
	return DC_WS_ANSWER_OK;
}

/* ---- frames ------------------------------------------------------------------------------ */

int dc_ws_frame_next(const uint8_t *buf, size_t len, uint64_t max_payload, bool from_server, struct dc_ws_frame *f,
		     size_t *consumed, size_t *need, struct dc_error *err)
{
	struct dc_cursor c;
	dc_cursor_init(&c, buf, len);
	uint8_t b0 = 0, b1 = 0;
	if (need)
		*need = 2;
	if (!dc_cursor_u8(&c, &b0) || !dc_cursor_u8(&c, &b1))
		return 0;
	memset(f, 0, sizeof(*f));
	f->fin = (b0 & 0x80) != 0;
	f->rsv = (uint8_t)((b0 >> 4) & 0x7);
	f->opcode = b0 & 0x0f;
	f->masked = (b1 & 0x80) != 0;
	uint8_t len7 = b1 & 0x7f;
	/* Everything the first two bytes can tell is checked before waiting for more (§5.2, §5.5). */
	if (f->rsv)
		return dc_error_set(err, NULL, "a WebSocket frame has reserved bits set (0x%x) although no extension was agreed", f->rsv);
	const char *name = dc_ws_opcode_name(f->opcode);
	if (!name)
		return dc_error_set(err, NULL, "a WebSocket frame has the reserved opcode 0x%x", f->opcode);
	bool control = f->opcode >= DC_WS_CLOSE;
	if (control && !f->fin)
		return dc_error_set(err, NULL, "a WebSocket %s frame is fragmented; control frames must not be", name);
	if (control && len7 > DC_WS_MAX_CONTROL)
		return dc_error_set(err, NULL, "a WebSocket %s frame announces more than %u bytes", name, DC_WS_MAX_CONTROL);
	if (from_server && f->masked)
		return dc_error_set(err, NULL, "the server masked a WebSocket frame; servers must not (RFC 6455 §5.1)");
	if (!from_server && !f->masked)
		return dc_error_set(err, NULL, "the client sent an unmasked WebSocket frame; clients must mask (RFC 6455 §5.1)");
	size_t head = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (f->masked ? 4 : 0);
	if (need)
		*need = head;
	if (len7 == 126) {
		uint16_t v = 0;
		if (!dc_cursor_be16(&c, &v))
			return 0;
		f->len = v;
	} else if (len7 == 127) {
		uint64_t v = 0;
		if (!dc_cursor_be64(&c, &v))
			return 0;
		if (v >> 63)
			return dc_error_set(err, NULL, "a WebSocket frame's 64-bit length has its top bit set");
		f->len = v;
	} else {
		f->len = len7;
	}
	if (f->len > max_payload)
		return dc_error_set(err, NULL, "a WebSocket %s frame announces %llu bytes; derpcheck accepts at most %llu",
				    name, (unsigned long long)f->len, (unsigned long long)max_payload);
	if (need)
		*need = head + (size_t)f->len;
	if (f->masked && !dc_cursor_bytes(&c, f->mask, 4))
		return 0;
	if (!dc_cursor_view(&c, (size_t)f->len, &f->payload))
		return 0;
	*consumed = c.off;
	return 1;
}

void dc_ws_unmask(uint8_t *data, size_t n, const uint8_t mask[4], size_t at)
{
	for (size_t i = 0; i < n; i++)
		data[i] ^= mask[(at + i) & 3];
}

void dc_ws_put_frame(struct dc_buf *b, uint8_t opcode, bool fin, const uint8_t *mask, const void *payload, size_t n)
{
	uint8_t head[DC_WS_MAX_HEADER];
	struct dc_writer w;
	dc_writer_init(&w, head, sizeof(head));
	dc_writer_u8(&w, (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f)));
	uint8_t m = mask ? 0x80 : 0;
	/* The shortest length form (§5.2: "the minimal number of bytes MUST be used"). */
	if (n < 126) {
		dc_writer_u8(&w, (uint8_t)(m | n));
	} else if (n <= 0xffff) {
		dc_writer_u8(&w, m | 126);
		dc_writer_be16(&w, (uint16_t)n);
	} else {
		dc_writer_u8(&w, m | 127);
		dc_writer_be64(&w, (uint64_t)n);
	}
	if (mask)
		dc_writer_bytes(&w, mask, 4);
	dc_buf_append(b, head, w.off);
	size_t at = b->len;
	dc_buf_append(b, payload, n);
	if (mask)
		dc_ws_unmask((uint8_t *)b->data + at, n, mask, 0);
}

/* ---- close frames ------------------------------------------------------------------------ */

const char *dc_ws_close_code_name(uint16_t code)
{
	switch (code) {
	case 1000: return "normal closure";
	case 1001: return "going away";
	case 1002: return "protocol error";
	case 1003: return "unsupported data";
	case 1005: return "no status";
	case 1006: return "abnormal closure";
	case 1007: return "invalid payload";
	case 1008: return "policy violation";
	case 1009: return "message too big";
	case 1010: return "extension required";
	case 1011: return "internal error";
	case 1012: return "service restart";
	case 1013: return "try again later";
	case 1014: return "bad gateway";
	case 1015: return "TLS handshake";
	}
	return code >= 3000 && code <= 4999 ? "application code" : "unknown code";
}

/* §7.4.1 and the IANA registry: the codes an endpoint may put on the wire. */
static bool close_code_valid(uint16_t code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

int dc_ws_close_parse(const uint8_t *payload, size_t n, struct dc_ws_close *out, struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	out->received = true;
	if (n == 0)
		return 0;
	struct dc_cursor c;
	dc_cursor_init(&c, payload, n);
	if (!dc_cursor_be16(&c, &out->code))
		return dc_error_set(err, NULL, "a WebSocket close frame has a 1-byte payload; a status code needs 2");
	out->has_code = true;
	out->code_valid = close_code_valid(out->code);
	size_t rn;
	const uint8_t *reason = dc_cursor_rest(&c, &rn);
	size_t k = 0;
	for (size_t i = 0; i < rn && k + 1 < sizeof(out->reason); i++)
		out->reason[k++] = reason[i] >= 0x20 && reason[i] < 0x7f ? (char)reason[i] : '?';
	out->reason[k] = '\0';
	return 0;
}

void dc_ws_close_describe(const struct dc_ws_close *c, char *out, size_t n)
{
	if (!c->has_code) {
		snprintf(out, n, "no status code");
		return;
	}
	snprintf(out, n, "%u %s%s%s%s", c->code, dc_ws_close_code_name(c->code), c->reason[0] ? ": \"" : "", c->reason,
		 c->reason[0] ? "\"" : "");
}

/* ---- the stream -------------------------------------------------------------------------- */

void dc_ws_stream_init(struct dc_ws_stream *s, bool server)
{
	memset(s, 0, sizeof(*s));
	s->server = server;
}

void dc_ws_stream_free(struct dc_ws_stream *s)
{
	dc_buf_free(&s->in);
	dc_buf_free(&s->data);
	dc_buf_free(&s->out);
	memset(s, 0, sizeof(*s));
}

static void put(struct dc_ws_stream *s, uint8_t opcode, bool fin, const void *p, size_t n)
{
	uint8_t mask[4];
	if (!s->server)
		randombytes_buf(mask, sizeof(mask)); /* a fresh key per frame (§5.3) */
	dc_ws_put_frame(&s->out, opcode, fin, s->server ? NULL : mask, p, n);
}

void dc_ws_stream_send(struct dc_ws_stream *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0 && !s->close_sent) {
		size_t k = n < DC_WS_SEND_CHUNK ? n : DC_WS_SEND_CHUNK;
		put(s, DC_WS_BINARY, true, b, k);
		b += k;
		n -= k;
	}
}

void dc_ws_stream_send_close(struct dc_ws_stream *s, uint16_t code, const char *reason)
{
	if (s->close_sent)
		return;
	uint8_t p[DC_WS_MAX_CONTROL];
	size_t rn = reason ? strlen(reason) : 0;
	if (rn > sizeof(p) - 2)
		rn = sizeof(p) - 2;
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	if (rn)
		memcpy(p + 2, reason, rn);
	put(s, DC_WS_CLOSE, true, p, 2 + rn);
	s->close_sent = true;
}

/* A violation (err already says which): tell the peer with code (§7.4.1), end the stream. */
static int violation(struct dc_ws_stream *s, uint16_t code)
{
	s->failed = true;
	dc_ws_stream_send_close(s, code, NULL);
	return -1;
}

static int on_frame(struct dc_ws_stream *s, struct dc_ws_frame *f, struct dc_error *err)
{
	s->frames++;
	const uint8_t *payload = f->payload;
	if (f->masked) {
		/* Unmask in place: the frame's bytes belong to s->in and are consumed now. */
		dc_ws_unmask((uint8_t *)(uintptr_t)f->payload, (size_t)f->len, f->mask, 0);
	}
	switch (f->opcode) {
	case DC_WS_PING:
		s->pings++;
		put(s, DC_WS_PONG, true, payload, (size_t)f->len);
		if (s->out.len > DC_WS_MAX_PENDING) {
			dc_error_set(err, NULL, "the %s sent pings faster than their pongs could be written (%zu bytes queued)",
				     s->server ? "client" : "server", s->out.len);
			return violation(s, 1008);
		}
		return 0;
	case DC_WS_PONG:
		s->pongs++; /* unsolicited pongs are allowed (§5.5.3) and mean nothing */
		return 0;
	case DC_WS_CLOSE:
		if (dc_ws_close_parse(payload, (size_t)f->len, &s->peer_close, err) < 0)
			return violation(s, 1002);
		/* Echo the code (§5.5.1); the stream has ended for reading either way. */
		dc_ws_stream_send_close(s, s->peer_close.has_code && s->peer_close.code_valid ? s->peer_close.code : 1000, NULL);
		return 0;
	case DC_WS_TEXT:
		dc_error_set(err, NULL, "the %s sent a WebSocket text message; DERP travels in binary messages only",
			     s->server ? "client" : "server");
		return violation(s, 1003);
	case DC_WS_BINARY:
		if (s->in_message) {
			dc_error_set(err, NULL, "a new WebSocket message began before the fragmented one ended");
			return violation(s, 1002);
		}
		s->in_message = !f->fin;
		break;
	case DC_WS_CONTINUATION:
		if (!s->in_message) {
			dc_error_set(err, NULL, "a WebSocket continuation frame arrived with no message to continue");
			return violation(s, 1002);
		}
		s->in_message = !f->fin;
		break;
	}
	if (f->fin)
		s->messages++;
	dc_buf_append(&s->data, payload, (size_t)f->len);
	return 0;
}

int dc_ws_stream_feed(struct dc_ws_stream *s, const void *bytes, size_t n, struct dc_error *err)
{
	if (dc_ws_stream_ended(s))
		return s->failed ? dc_error_set(err, NULL, "the WebSocket stream has already failed") : 0;
	/* Drop consumed input before appending, so the buffer holds at most one frame and a read. */
	if (s->in_off > 0) {
		memmove(s->in.data, s->in.data + s->in_off, s->in.len - s->in_off);
		s->in.len -= s->in_off;
		s->in_off = 0;
	}
	dc_buf_append(&s->in, bytes, n);
	/* Keep data compact too: what the reader has taken is released. */
	if (s->data_off > 0 && s->data_off == s->data.len)
		s->data.len = s->data_off = 0;
	while (!dc_ws_stream_ended(s)) {
		struct dc_ws_frame f = {0};
		size_t used = 0;
		int rc = dc_ws_frame_next((const uint8_t *)s->in.data + s->in_off, s->in.len - s->in_off, DC_WS_MAX_FRAME,
					  !s->server, &f, &used, NULL, err);
		if (rc < 0)
			return violation(s, f.len > DC_WS_MAX_FRAME ? 1009 : 1002);
		if (rc == 0)
			break;
		s->in_off += used;
		if (on_frame(s, &f, err) < 0)
			return -1;
	}
	return 0;
}

size_t dc_ws_stream_readable(const struct dc_ws_stream *s)
{
	return s->data.len - s->data_off;
}

size_t dc_ws_stream_read(struct dc_ws_stream *s, void *buf, size_t n)
{
	size_t have = dc_ws_stream_readable(s);
	size_t k = n < have ? n : have;
	if (k)
		memcpy(buf, s->data.data + s->data_off, k);
	s->data_off += k;
	if (s->data_off == s->data.len)
		s->data.len = s->data_off = 0;
	return k;
}

bool dc_ws_stream_ended(const struct dc_ws_stream *s)
{
	return s->failed || s->peer_close.received;
}
