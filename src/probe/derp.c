#include "derpcheck/probe/derp.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "derpcheck/util/cursor.h"

const char *dc_derp_frame_name(uint8_t type)
{
	switch (type) {
	case DC_DERP_SERVER_KEY: return "ServerKey";
	case DC_DERP_CLIENT_INFO: return "ClientInfo";
	case DC_DERP_SERVER_INFO: return "ServerInfo";
	case DC_DERP_SEND_PACKET: return "SendPacket";
	case DC_DERP_RECV_PACKET: return "RecvPacket";
	case DC_DERP_KEEP_ALIVE: return "KeepAlive";
	case DC_DERP_NOTE_PREFERRED: return "NotePreferred";
	case DC_DERP_PEER_GONE: return "PeerGone";
	case DC_DERP_PEER_PRESENT: return "PeerPresent";
	case DC_DERP_FORWARD_PACKET: return "ForwardPacket";
	case DC_DERP_WATCH_CONNS: return "WatchConns";
	case DC_DERP_CLOSE_PEER: return "ClosePeer";
	case DC_DERP_PING: return "Ping";
	case DC_DERP_PONG: return "Pong";
	case DC_DERP_HEALTH: return "Health";
	case DC_DERP_RESTARTING: return "Restarting";
	}
	return NULL;
}

/* "ServerKey (0x01)" or "unknown type 0x7f", for messages. */
static const char *frame_label(uint8_t type, char *buf, size_t n)
{
	const char *name = dc_derp_frame_name(type);
	if (name)
		snprintf(buf, n, "%s (0x%02x)", name, type);
	else
		snprintf(buf, n, "frame of unknown type 0x%02x", type);
	return buf;
}

int dc_derp_frame_next(const uint8_t *buf, size_t len, uint32_t max_len, struct dc_derp_frame *f, size_t *consumed,
		       size_t *need, struct dc_error *err)
{
	struct dc_cursor c;
	dc_cursor_init(&c, buf, len);
	uint8_t type;
	uint32_t n;
	if (!dc_cursor_u8(&c, &type) || !dc_cursor_be32(&c, &n)) {
		if (need)
			*need = DC_DERP_FRAME_HEADER_LEN;
		return 0;
	}
	if (n > max_len) {
		char label[48];
		dc_error_set(err, NULL, "the server sent a %s of %lu bytes; DERP frames here may be at most %lu bytes",
			     frame_label(type, label, sizeof(label)), (unsigned long)n, (unsigned long)max_len);
		return -1;
	}
	const uint8_t *payload;
	if (!dc_cursor_view(&c, n, &payload)) {
		if (need)
			*need = DC_DERP_FRAME_HEADER_LEN + (size_t)n;
		return 0;
	}
	f->type = type;
	f->len = n;
	f->payload = payload;
	*consumed = c.off;
	return 1;
}

static int malformed(struct dc_error *err, const struct dc_derp_frame *f, const char *rule)
{
	char label[48];
	return dc_error_set(err, NULL, "malformed %s: %lu bytes, but %s", frame_label(f->type, label, sizeof(label)),
			    (unsigned long)f->len, rule);
}

int dc_derp_server_key_parse(const uint8_t *payload, size_t len, uint8_t key[DC_DERP_KEY_LEN], struct dc_error *err)
{
	struct dc_cursor c;
	dc_cursor_init(&c, payload, len);
	const uint8_t *magic;
	if (!dc_cursor_view(&c, DC_DERP_MAGIC_LEN, &magic) || !dc_cursor_bytes(&c, key, DC_DERP_KEY_LEN))
		return dc_error_set(err, NULL, "the ServerKey frame has %zu bytes; it needs at least 40 (magic and key)", len);
	if (memcmp(magic, DC_DERP_MAGIC, DC_DERP_MAGIC_LEN) != 0) {
		char shown[8 * 3 + 1] = "";
		for (int i = 0; i < DC_DERP_MAGIC_LEN; i++)
			snprintf(shown + 3 * i, 4, "%02x%s", magic[i], i + 1 < DC_DERP_MAGIC_LEN ? " " : "");
		return dc_error_set(err, NULL, "the ServerKey frame starts with %s, not the DERP magic 44 45 52 50 f0 9f 94 91 (\"DERP\xf0\x9f\x94\x91\")",
				    shown);
	}
	return 0; /* bytes after the key are reserved for future use: tolerated */
}

static int decode_packet(struct dc_cursor *c, const struct dc_derp_frame *f, size_t keys, uint8_t *k1, uint8_t *k2,
			 const uint8_t **data, size_t *len, struct dc_error *err)
{
	if (f->len < keys * DC_DERP_KEY_LEN)
		return malformed(err, f, keys == 2 ? "it needs two 32-byte keys" : "it needs a 32-byte key");
	if (f->len - keys * DC_DERP_KEY_LEN > DC_DERP_MAX_PACKET)
		return malformed(err, f, "a relayed packet is at most 65536 bytes");
	dc_cursor_bytes(c, k1, DC_DERP_KEY_LEN);
	if (k2)
		dc_cursor_bytes(c, k2, DC_DERP_KEY_LEN);
	*data = dc_cursor_rest(c, len);
	return 0;
}

int dc_derp_msg_decode(const struct dc_derp_frame *f, struct dc_derp_msg *m, struct dc_error *err)
{
	memset(m, 0, sizeof(*m));
	m->type = f->type;
	m->known = dc_derp_frame_name(f->type) != NULL;
	struct dc_cursor c;
	dc_cursor_init(&c, f->payload, f->len);
	switch (f->type) {
	case DC_DERP_SERVER_KEY:
		return dc_derp_server_key_parse(f->payload, f->len, m->u.server_key.key, err);
	case DC_DERP_CLIENT_INFO:
	case DC_DERP_SERVER_INFO:
		return 0; /* sealed: see dc_derp_*_info_open */
	case DC_DERP_SEND_PACKET:
	case DC_DERP_RECV_PACKET:
		return decode_packet(&c, f, 1, m->u.packet.key, NULL, &m->u.packet.data, &m->u.packet.len, err);
	case DC_DERP_FORWARD_PACKET:
		return decode_packet(&c, f, 2, m->u.forward.src, m->u.forward.dst, &m->u.forward.data,
				     &m->u.forward.len, err);
	case DC_DERP_KEEP_ALIVE:
		return 0; /* no payload expected; Tailscale ignores any */
	case DC_DERP_NOTE_PREFERRED: {
		uint8_t v;
		if (f->len != 1 || !dc_cursor_u8(&c, &v))
			return malformed(err, f, "it must be exactly 1 byte");
		m->u.note_preferred.preferred = v != 0;
		return 0;
	}
	case DC_DERP_PEER_GONE:
		if (!dc_cursor_bytes(&c, m->u.peer_gone.key, DC_DERP_KEY_LEN))
			return malformed(err, f, "it needs a 32-byte key");
		/* Servers before v1.40 send only the key: reason Disconnected. */
		if (!dc_cursor_u8(&c, &m->u.peer_gone.reason))
			m->u.peer_gone.reason = DC_DERP_GONE_DISCONNECTED;
		return 0;
	case DC_DERP_PEER_PRESENT:
		if (!dc_cursor_bytes(&c, m->u.peer_present.key, DC_DERP_KEY_LEN))
			return malformed(err, f, "it needs a 32-byte key");
		if (dc_cursor_left(&c) >= 18) {
			dc_cursor_bytes(&c, m->u.peer_present.ip, 16);
			dc_cursor_be16(&c, &m->u.peer_present.port);
			m->u.peer_present.has_addr = true;
			if (dc_cursor_u8(&c, &m->u.peer_present.flags))
				m->u.peer_present.has_flags = true;
		}
		return 0;
	case DC_DERP_WATCH_CONNS:
		return f->len == 0 ? 0 : malformed(err, f, "it must be empty");
	case DC_DERP_CLOSE_PEER:
		if (f->len != DC_DERP_KEY_LEN)
			return malformed(err, f, "it must be exactly one 32-byte key");
		dc_cursor_bytes(&c, m->u.close_peer.key, DC_DERP_KEY_LEN);
		return 0;
	case DC_DERP_PING:
	case DC_DERP_PONG:
		if (f->len < 8 || f->len > DC_DERP_MAX_PING)
			return malformed(err, f, "it must hold 8 to 1000 bytes");
		dc_cursor_bytes(&c, m->u.ping.data, 8); /* the rest is reserved and ignored */
		return 0;
	case DC_DERP_HEALTH:
		m->u.health.text = (const char *)dc_cursor_rest(&c, &m->u.health.len);
		return 0;
	case DC_DERP_RESTARTING:
		if (!dc_cursor_be32(&c, &m->u.restarting.reconnect_ms) ||
		    !dc_cursor_be32(&c, &m->u.restarting.try_for_ms))
			return malformed(err, f, "it needs two 4-byte durations");
		return 0;
	}
	return 0; /* unknown: skipped by the caller */
}

/* ---- encoding ------------------------------------------------------------------------ */

void dc_derp_put_frame(struct dc_buf *b, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2)
{
	size_t n = n1 + n2;
	if (n > UINT32_MAX)
		abort(); /* callers never build frames anywhere near this size */
	uint8_t hdr[DC_DERP_FRAME_HEADER_LEN];
	struct dc_writer w;
	dc_writer_init(&w, hdr, sizeof(hdr));
	dc_writer_u8(&w, type);
	dc_writer_be32(&w, (uint32_t)n);
	dc_buf_append(b, hdr, sizeof(hdr));
	if (n1)
		dc_buf_append(b, p1, n1);
	if (n2)
		dc_buf_append(b, p2, n2);
}

void dc_derp_put_server_key(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN])
{
	dc_derp_put_frame(b, DC_DERP_SERVER_KEY, DC_DERP_MAGIC, DC_DERP_MAGIC_LEN, key, DC_DERP_KEY_LEN);
}

void dc_derp_put_send_packet(struct dc_buf *b, const uint8_t dst[DC_DERP_KEY_LEN], const void *data, size_t n)
{
	dc_derp_put_frame(b, DC_DERP_SEND_PACKET, dst, DC_DERP_KEY_LEN, data, n);
}

void dc_derp_put_recv_packet(struct dc_buf *b, const uint8_t src[DC_DERP_KEY_LEN], const void *data, size_t n)
{
	dc_derp_put_frame(b, DC_DERP_RECV_PACKET, src, DC_DERP_KEY_LEN, data, n);
}

void dc_derp_put_forward_packet(struct dc_buf *b, const uint8_t src[DC_DERP_KEY_LEN],
				const uint8_t dst[DC_DERP_KEY_LEN], const void *data, size_t n)
{
	uint8_t keys[2 * DC_DERP_KEY_LEN];
	memcpy(keys, src, DC_DERP_KEY_LEN);
	memcpy(keys + DC_DERP_KEY_LEN, dst, DC_DERP_KEY_LEN);
	dc_derp_put_frame(b, DC_DERP_FORWARD_PACKET, keys, sizeof(keys), data, n);
}

void dc_derp_put_keep_alive(struct dc_buf *b)
{
	dc_derp_put_frame(b, DC_DERP_KEEP_ALIVE, NULL, 0, NULL, 0);
}

void dc_derp_put_note_preferred(struct dc_buf *b, bool preferred)
{
	uint8_t v = preferred ? 1 : 0;
	dc_derp_put_frame(b, DC_DERP_NOTE_PREFERRED, &v, 1, NULL, 0);
}

void dc_derp_put_peer_gone(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN], uint8_t reason)
{
	dc_derp_put_frame(b, DC_DERP_PEER_GONE, key, DC_DERP_KEY_LEN, &reason, 1);
}

void dc_derp_put_peer_present(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN], const uint8_t ip[16],
			      uint16_t port, uint8_t flags)
{
	uint8_t tail[19];
	struct dc_writer w;
	dc_writer_init(&w, tail, sizeof(tail));
	dc_writer_bytes(&w, ip, 16);
	dc_writer_be16(&w, port);
	dc_writer_u8(&w, flags);
	dc_derp_put_frame(b, DC_DERP_PEER_PRESENT, key, DC_DERP_KEY_LEN, tail, w.off);
}

void dc_derp_put_watch_conns(struct dc_buf *b)
{
	dc_derp_put_frame(b, DC_DERP_WATCH_CONNS, NULL, 0, NULL, 0);
}

void dc_derp_put_close_peer(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN])
{
	dc_derp_put_frame(b, DC_DERP_CLOSE_PEER, key, DC_DERP_KEY_LEN, NULL, 0);
}

void dc_derp_put_ping(struct dc_buf *b, uint8_t type, const uint8_t data[8])
{
	dc_derp_put_frame(b, type, data, 8, NULL, 0);
}

void dc_derp_put_health(struct dc_buf *b, const char *text)
{
	dc_derp_put_frame(b, DC_DERP_HEALTH, text, strlen(text), NULL, 0);
}

void dc_derp_put_restarting(struct dc_buf *b, uint32_t reconnect_ms, uint32_t try_for_ms)
{
	uint8_t p[8];
	struct dc_writer w;
	dc_writer_init(&w, p, sizeof(p));
	dc_writer_be32(&w, reconnect_ms);
	dc_writer_be32(&w, try_for_ms);
	dc_derp_put_frame(b, DC_DERP_RESTARTING, p, sizeof(p), NULL, 0);
}

/* ---- keys ------------------------------------------------------------------------------ */

void dc_derp_key_hex(const uint8_t key[DC_DERP_KEY_LEN], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < DC_DERP_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[64] = '\0';
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int dc_derp_key_parse(const char *text, size_t len, uint8_t key[DC_DERP_KEY_LEN])
{
	static const char prefix[] = "nodekey:";
	if (len >= sizeof(prefix) - 1 && strncasecmp(text, prefix, sizeof(prefix) - 1) == 0) {
		text += sizeof(prefix) - 1;
		len -= sizeof(prefix) - 1;
	}
	if (len != 2 * DC_DERP_KEY_LEN)
		return -1;
	uint8_t out[DC_DERP_KEY_LEN];
	for (int i = 0; i < DC_DERP_KEY_LEN; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, out, sizeof(out));
	return 0;
}

void dc_derp_key_short(const uint8_t key[DC_DERP_KEY_LEN], char out[8])
{
	char b64[sodium_base64_ENCODED_LEN(DC_DERP_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), key, DC_DERP_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, 8, "[%.5s]", b64);
}

bool dc_derp_looks_like_disco(const uint8_t *data, size_t n)
{
	static const uint8_t magic[] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac}; /* "TS💬" */
	return n >= 62 && memcmp(data, magic, sizeof(magic)) == 0;
}

/* ---- handshake ------------------------------------------------------------------------- */

char *dc_derp_client_info_json(const struct dc_derp_client_info *ci)
{
	cJSON *o = cJSON_CreateObject();
	if (ci->version)
		cJSON_AddNumberToObject(o, "version", ci->version);
	cJSON_AddBoolToObject(o, "CanAckPings", ci->can_ack_pings);
	if (ci->is_prober)
		cJSON_AddBoolToObject(o, "IsProber", true);
	if (ci->app_name && *ci->app_name)
		cJSON_AddStringToObject(o, "AppName", ci->app_name);
	if (ci->mesh_key_text && *ci->mesh_key_text) {
		cJSON_AddStringToObject(o, "meshKey", ci->mesh_key_text);
	} else if (ci->mesh_key) {
		char hex[65];
		dc_derp_key_hex(ci->mesh_key, hex);
		cJSON_AddStringToObject(o, "meshKey", hex);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	char *copy = dc_xstrdup(s);
	cJSON_free(s);
	return copy;
}

/* Go's encoding/json: an integer field accepts only a JSON number without a fraction. */
static int json_int(const cJSON *o, const char *name, int64_t *out, struct dc_error *err)
{
	const cJSON *v = cJSON_GetObjectItem(o, name); /* case-insensitive, like Go */
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !dc_double_to_int64(v->valuedouble, out))
		return dc_error_set(err, NULL, "\"%s\" is not an integer", name);
	return 0;
}

static int json_bool(const cJSON *o, const char *name, bool *out, struct dc_error *err)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return dc_error_set(err, NULL, "\"%s\" is not true or false", name);
	*out = cJSON_IsTrue(v);
	return 0;
}

int dc_derp_client_info_parse(const char *json, size_t len, struct dc_derp_client_info_in *out, struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	cJSON *o = cJSON_ParseWithLength(json, len);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return dc_error_set(err, NULL, "ClientInfo is not a JSON object");
	}
	int64_t version = 0;
	int rc = json_int(o, "version", &version, err);
	if (rc == 0)
		rc = json_bool(o, "CanAckPings", &out->can_ack_pings, err);
	if (rc == 0)
		rc = json_bool(o, "IsProber", &out->is_prober, err);
	const cJSON *mk = cJSON_GetObjectItem(o, "meshKey");
	if (rc == 0 && mk) {
		/* Since v1.86 the key is a fixed 32-byte value: "" or null fail the whole ClientInfo. */
		if (!cJSON_IsString(mk) || dc_derp_key_parse(mk->valuestring, strlen(mk->valuestring), out->mesh_key) < 0)
			rc = dc_error_set(err, NULL, "meshKey is not 64 hex digits");
		else
			out->has_mesh_key = true;
	}
	if (version < INT_MIN || version > INT_MAX)
		rc = dc_error_set(err, NULL, "\"version\" is out of range");
	out->version = (int)version;
	cJSON_Delete(o);
	return rc;
}

int dc_derp_server_info_parse(const char *json, size_t len, struct dc_derp_server_info *out, struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	cJSON *o = cJSON_ParseWithLength(json, len);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return dc_error_set(err, NULL, "ServerInfo is not a JSON object");
	}
	int64_t version = 0;
	int rc = json_int(o, "version", &version, err);
	if (rc == 0)
		rc = json_int(o, "TokenBucketBytesPerSecond", &out->token_bucket_bytes_per_second, err);
	if (rc == 0)
		rc = json_int(o, "TokenBucketBytesBurst", &out->token_bucket_bytes_burst, err);
	if (rc == 0 && (version < 0 || version > INT_MAX))
		rc = dc_error_set(err, NULL, "\"version\" is out of range");
	out->version = (int)version;
	cJSON_Delete(o);
	return rc;
}

int dc_derp_client_info_seal(struct dc_buf *b, const uint8_t client_pk[DC_DERP_KEY_LEN],
			     const uint8_t client_sk[DC_DERP_KEY_LEN], const uint8_t server_pk[DC_DERP_KEY_LEN],
			     const uint8_t nonce[DC_DERP_NONCE_LEN], const void *msg, size_t n)
{
	size_t boxed = n + crypto_box_MACBYTES;
	uint8_t *p = dc_xmalloc(DC_DERP_KEY_LEN + DC_DERP_NONCE_LEN + boxed);
	memcpy(p, client_pk, DC_DERP_KEY_LEN);
	memcpy(p + DC_DERP_KEY_LEN, nonce, DC_DERP_NONCE_LEN);
	int rc = crypto_box_easy(p + DC_DERP_KEY_LEN + DC_DERP_NONCE_LEN, msg, n, nonce, server_pk, client_sk);
	if (rc == 0)
		dc_derp_put_frame(b, DC_DERP_CLIENT_INFO, p, DC_DERP_KEY_LEN + DC_DERP_NONCE_LEN + boxed, NULL, 0);
	free(p);
	return rc == 0 ? 0 : -1;
}

static int box_open(const uint8_t *nonce, const uint8_t *boxed, size_t n, const uint8_t *pk, const uint8_t *sk, char **msg,
		    size_t *msg_len)
{
	size_t plain = n - crypto_box_MACBYTES;
	char *out = dc_xmalloc(plain + 1);
	if (crypto_box_open_easy((uint8_t *)out, boxed, n, nonce, pk, sk) != 0) {
		free(out);
		return -1;
	}
	out[plain] = '\0';
	*msg = out;
	*msg_len = plain;
	return 0;
}

int dc_derp_client_info_open(const uint8_t *payload, size_t len, const uint8_t server_sk[DC_DERP_KEY_LEN],
			     uint8_t client_pk[DC_DERP_KEY_LEN], char **msg, size_t *msg_len, struct dc_error *err)
{
	struct dc_cursor c;
	dc_cursor_init(&c, payload, len);
	const uint8_t *nonce, *boxed;
	size_t n;
	if (len > DC_DERP_MAX_CLIENT_INFO || !dc_cursor_bytes(&c, client_pk, DC_DERP_KEY_LEN) ||
	    !dc_cursor_view(&c, DC_DERP_NONCE_LEN, &nonce) || dc_cursor_left(&c) < crypto_box_MACBYTES)
		return dc_error_set(err, NULL, "ClientInfo of %zu bytes: it must hold 72 to 262144", len);
	boxed = dc_cursor_rest(&c, &n);
	if (box_open(nonce, boxed, n, client_pk, server_sk, msg, msg_len) < 0)
		return dc_error_set(err, NULL, "ClientInfo does not open with the client's key and this server's key");
	return 0;
}

int dc_derp_server_info_seal(struct dc_buf *b, const uint8_t server_sk[DC_DERP_KEY_LEN],
			     const uint8_t client_pk[DC_DERP_KEY_LEN], const uint8_t nonce[DC_DERP_NONCE_LEN],
			     const void *msg, size_t n)
{
	size_t boxed = n + crypto_box_MACBYTES;
	uint8_t *p = dc_xmalloc(DC_DERP_NONCE_LEN + boxed);
	memcpy(p, nonce, DC_DERP_NONCE_LEN);
	int rc = crypto_box_easy(p + DC_DERP_NONCE_LEN, msg, n, nonce, client_pk, server_sk);
	if (rc == 0)
		dc_derp_put_frame(b, DC_DERP_SERVER_INFO, p, DC_DERP_NONCE_LEN + boxed, NULL, 0);
	free(p);
	return rc == 0 ? 0 : -1;
}

int dc_derp_server_info_open(const uint8_t *payload, size_t len, const uint8_t server_pk[DC_DERP_KEY_LEN],
			     const uint8_t client_sk[DC_DERP_KEY_LEN], char **msg, size_t *msg_len, struct dc_error *err)
{
	struct dc_cursor c;
	dc_cursor_init(&c, payload, len);
	const uint8_t *nonce, *boxed;
	size_t n;
	if (len > DC_DERP_MIN_SERVER_INFO + DC_DERP_MAX_FRAME || !dc_cursor_view(&c, DC_DERP_NONCE_LEN, &nonce) ||
	    dc_cursor_left(&c) < crypto_box_MACBYTES)
		return dc_error_set(err, NULL, "ServerInfo of %zu bytes is too short to hold a nonce and a sealed message", len);
	boxed = dc_cursor_rest(&c, &n);
	if (box_open(nonce, boxed, n, server_pk, client_sk, msg, msg_len) < 0)
		return dc_error_set(err, NULL, "ServerInfo does not open with the server's key: it was not sealed by the server that sent the ServerKey");
	return 0;
}

/* ---- HTTP upgrade response --------------------------------------------------------------- */

static void copy_value(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[k] = '\0';
}

static bool header_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* A non-negative decimal of at most 9 digits, or -1. */
static long small_number(const char *s, size_t n)
{
	if (n == 0 || n > 9)
		return -1;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int parse_status_line(const char *line, size_t n, struct dc_derp_upgrade *out, struct dc_error *err)
{
	/* "HTTP/1.1 101 Switching Protocols": version, one space, three digits, optional reason. */
	if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
	    small_number(line + 9, 3) < 100 || (n > 12 && line[12] != ' ')) {
		char shown[64];
		copy_value(shown, sizeof(shown), line, n);
		return dc_error_set(err, NULL, "the answer to the DERP upgrade is not an HTTP/1.1 status line: \"%s\"", shown);
	}
	out->status = (int)small_number(line + 9, 3);
	if (n > 13)
		copy_value(out->reason, sizeof(out->reason), line + 13, n - 13);
	return 0;
}

static void parse_header(const char *line, size_t n, struct dc_derp_upgrade *out)
{
	const char *colon = memchr(line, ':', n);
	size_t name_len = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vn = n - name_len - 1;
	while (vn && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (header_is(line, name_len, "Upgrade"))
		copy_value(out->upgrade, sizeof(out->upgrade), v, vn);
	else if (header_is(line, name_len, "Connection"))
		copy_value(out->connection, sizeof(out->connection), v, vn);
	else if (header_is(line, name_len, "Derp-Version"))
		out->derp_version = (int)small_number(v, vn);
	else if (header_is(line, name_len, "Derp-Public-Key"))
		out->has_public_key = dc_derp_key_parse(v, vn, out->public_key) == 0;
	else if (header_is(line, name_len, "Location"))
		copy_value(out->location, sizeof(out->location), v, vn);
	else if (header_is(line, name_len, "Content-Length"))
		out->content_length = small_number(v, vn);
	else if (header_is(line, name_len, "Sec-WebSocket-Accept"))
		copy_value(out->ws_accept, sizeof(out->ws_accept), v, vn);
	else if (header_is(line, name_len, "Sec-WebSocket-Protocol"))
		copy_value(out->ws_protocol, sizeof(out->ws_protocol), v, vn);
	else if (header_is(line, name_len, "Sec-WebSocket-Extensions"))
		copy_value(out->ws_extensions, sizeof(out->ws_extensions), v, vn);
	else if (header_is(line, name_len, "Server"))
		copy_value(out->server, sizeof(out->server), v, vn);
	else if (header_is(line, name_len, "Via"))
		copy_value(out->via, sizeof(out->via), v, vn);
	else if (header_is(line, name_len, "Content-Type"))
		copy_value(out->content_type, sizeof(out->content_type), v, vn);
	else if (header_is(line, name_len, "CF-RAY"))
		out->cf_ray = true;
	else if (header_is(line, name_len, "Access-Control-Allow-Origin"))
		out->acao_any = vn == 1 && v[0] == '*';
	else if (header_is(line, name_len, "X-Tailscale-Response"))
		copy_value(out->ts_response, sizeof(out->ts_response), v, vn);
	else if (header_is(line, name_len, "Content-Security-Policy"))
		copy_value(out->csp, sizeof(out->csp), v, vn);
}

static bool token_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

int dc_derp_upgrade_parse(const uint8_t *buf, size_t len, struct dc_derp_upgrade *out, struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	out->derp_version = -1;
	out->content_length = -1;
	if (len == 0)
		return 0;
	/* Fail at once on bytes that cannot begin a response, instead of waiting for more. */
	static const char http[] = "HTTP/1.";
	size_t prefix = len < sizeof(http) - 1 ? len : sizeof(http) - 1;
	if (memcmp(buf, http, prefix) != 0) {
		char shown[40];
		copy_value(shown, sizeof(shown), (const char *)buf, len < 24 ? len : 24);
		return dc_error_set(err, NULL, "the answer to the DERP upgrade is not HTTP: it starts with \"%s\"", shown);
	}
	size_t window = len < DC_DERP_UPGRADE_MAX ? len : DC_DERP_UPGRADE_MAX;
	const uint8_t *end = window >= 4 ? memmem(buf, window, "\r\n\r\n", 4) : NULL;
	if (!end) {
		if (len >= DC_DERP_UPGRADE_MAX)
			return dc_error_set(err, NULL, "the answer to the DERP upgrade has no end of header within %u bytes",
					    DC_DERP_UPGRADE_MAX);
		return 0;
	}
	size_t header_len = (size_t)(end - buf) + 4;
	struct dc_cursor c;
	dc_cursor_init(&c, buf, header_len);
	const char *line;
	size_t n;
	if (!dc_cursor_http_line(&c, &line, &n))
		return dc_error_set(err, NULL, "the answer to the DERP upgrade has a malformed status line");
	if (parse_status_line(line, n, out, err) < 0)
		return -1;
	size_t headers = 0;
	bool uppercase = false;
	for (;;) {
		if (!dc_cursor_http_line(&c, &line, &n))
			return dc_error_set(err, NULL, "the answer to the DERP upgrade has a header line that does not end in CRLF");
		if (n == 0)
			break;
		const char *colon = memchr(line, ':', n);
		if (!colon || colon == line) {
			char shown[64];
			copy_value(shown, sizeof(shown), line, n);
			return dc_error_set(err, NULL, "the answer to the DERP upgrade has a malformed header line: \"%s\"", shown);
		}
		for (const char *p = line; p < colon; p++) {
			if (!token_char((unsigned char)*p))
				return dc_error_set(err, NULL, "the answer to the DERP upgrade has an invalid header name");
			if (*p >= 'A' && *p <= 'Z')
				uppercase = true;
		}
		headers++;
		parse_header(line, n, out);
	}
	out->lowercase_names = headers > 0 && !uppercase;
	out->header_len = header_len;
	return 1;
}
