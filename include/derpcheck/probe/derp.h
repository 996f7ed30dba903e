/*
 * The DERP wire protocol (protocols.md §1): frames, their limits, the handshake messages
 * sealed with NaCl crypto_box, key text forms, and the HTTP upgrade response. Pure
 * encoding and decoding: no sockets here (derpconn.h does the I/O), so every parser can
 * be fuzzed and tested with vectors.
 */
#ifndef DERPCHECK_DERP_H
#define DERPCHECK_DERP_H

#include "derpcheck/util/util.h"

#define DC_DERP_KEY_LEN 32
#define DC_DERP_NONCE_LEN 24
#define DC_DERP_BOX_TAG_LEN 16
#define DC_DERP_MAGIC "DERP\xf0\x9f\x94\x91" /* "DERP" + U+1F511 */
#define DC_DERP_MAGIC_LEN 8
#define DC_DERP_FRAME_HEADER_LEN 5
#define DC_DERP_PROTOCOL_VERSION 2

/* §1.4: the limits Tailscale enforces. */
#define DC_DERP_MAX_PACKET (64u * 1024u)             /* relayed bytes after the key(s) */
#define DC_DERP_MAX_FRAME (1024u * 1024u)            /* Go client: larger is fatal */
#define DC_DERP_MAX_SERVER_KEY 1024u                 /* client reads ServerKey with this limit */
#define DC_DERP_MIN_CLIENT_INFO 56u                  /* server side floor */
#define DC_DERP_MAX_CLIENT_INFO (256u * 1024u)
#define DC_DERP_MIN_SERVER_INFO 24u
#define DC_DERP_MAX_PING 1000u                       /* server accepts up to this, uses 8 */
#define DC_DERP_UPGRADE_MAX 8192u                    /* our bound on the 101 response headers */

enum dc_derp_frame_type {
	DC_DERP_SERVER_KEY = 0x01,
	DC_DERP_CLIENT_INFO = 0x02,
	DC_DERP_SERVER_INFO = 0x03,
	DC_DERP_SEND_PACKET = 0x04,
	DC_DERP_RECV_PACKET = 0x05,
	DC_DERP_KEEP_ALIVE = 0x06,
	DC_DERP_NOTE_PREFERRED = 0x07,
	DC_DERP_PEER_GONE = 0x08,
	DC_DERP_PEER_PRESENT = 0x09,
	DC_DERP_FORWARD_PACKET = 0x0a,
	DC_DERP_WATCH_CONNS = 0x10,
	DC_DERP_CLOSE_PEER = 0x11,
	DC_DERP_PING = 0x12,
	DC_DERP_PONG = 0x13,
	DC_DERP_HEALTH = 0x14,
	DC_DERP_RESTARTING = 0x15,
};

/* PeerGone reasons (§1.6). */
#define DC_DERP_GONE_DISCONNECTED 0x00
#define DC_DERP_GONE_NOT_HERE 0x01

/* PeerPresent flags. */
#define DC_DERP_PRESENT_REGULAR 0x01
#define DC_DERP_PRESENT_MESH_PEER 0x02
#define DC_DERP_PRESENT_PROBER 0x04
#define DC_DERP_PRESENT_NOT_IDEAL 0x08

/* "ServerKey", "RecvPacket", ...; NULL for a type this version does not know. */
const char *dc_derp_frame_name(uint8_t type);

/* One frame as it sits in a buffer; payload points into that buffer. */
struct dc_derp_frame {
	uint8_t type;
	uint32_t len;
	const uint8_t *payload;
};

/*
 * Split the next frame off the front of buf[0..len). Returns 1 with *f and *consumed
 * when a whole frame is there; 0 when more bytes are needed (*need, if not NULL, says
 * how many the frame needs in total, header included); -1 with err when the header
 * announces a payload longer than max_len (nothing should then be read from the peer).
 */
int dc_derp_frame_next(const uint8_t *buf, size_t len, uint32_t max_len, struct dc_derp_frame *f, size_t *consumed,
		       size_t *need, struct dc_error *err);

/* A decoded frame. Pointers borrow from the frame's payload. */
struct dc_derp_msg {
	uint8_t type;
	bool known; /* false: a type this version skips, as Tailscale does */
	union {
		struct {
			uint8_t key[DC_DERP_KEY_LEN];
		} server_key;
		struct { /* SendPacket: key is the destination; RecvPacket: the source */
			uint8_t key[DC_DERP_KEY_LEN];
			const uint8_t *data;
			size_t len;
		} packet;
		struct {
			uint8_t src[DC_DERP_KEY_LEN];
			uint8_t dst[DC_DERP_KEY_LEN];
			const uint8_t *data;
			size_t len;
		} forward;
		struct {
			uint8_t key[DC_DERP_KEY_LEN];
			uint8_t reason;
		} peer_gone;
		struct {
			uint8_t key[DC_DERP_KEY_LEN];
			bool has_addr;
			uint8_t ip[16]; /* IPv4 as v4-mapped */
			uint16_t port;
			bool has_flags;
			uint8_t flags;
		} peer_present;
		struct { /* Ping and Pong */
			uint8_t data[8];
		} ping;
		struct {
			const char *text; /* not NUL-terminated */
			size_t len;
		} health;
		struct {
			uint32_t reconnect_ms;
			uint32_t try_for_ms;
		} restarting;
		struct {
			bool preferred;
		} note_preferred;
		struct {
			uint8_t key[DC_DERP_KEY_LEN];
		} close_peer;
	} u;
};

/*
 * Decode a frame's payload by type with the size rules of §1.4. Unknown types decode to
 * known = false and are to be skipped. ClientInfo and ServerInfo are sealed: use the
 * functions below. -1 with err when a known frame is malformed.
 */
int dc_derp_msg_decode(const struct dc_derp_frame *f, struct dc_derp_msg *m, struct dc_error *err);

/* ---- encoding: each appends one whole frame (header included) to b ---------------- */

void dc_derp_put_frame(struct dc_buf *b, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2);
void dc_derp_put_server_key(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN]);
void dc_derp_put_send_packet(struct dc_buf *b, const uint8_t dst[DC_DERP_KEY_LEN], const void *data, size_t n);
void dc_derp_put_recv_packet(struct dc_buf *b, const uint8_t src[DC_DERP_KEY_LEN], const void *data, size_t n);
void dc_derp_put_forward_packet(struct dc_buf *b, const uint8_t src[DC_DERP_KEY_LEN],
				const uint8_t dst[DC_DERP_KEY_LEN], const void *data, size_t n);
void dc_derp_put_keep_alive(struct dc_buf *b);
void dc_derp_put_note_preferred(struct dc_buf *b, bool preferred);
void dc_derp_put_peer_gone(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN], uint8_t reason);
void dc_derp_put_peer_present(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN], const uint8_t ip[16],
			      uint16_t port, uint8_t flags);
void dc_derp_put_watch_conns(struct dc_buf *b);
void dc_derp_put_close_peer(struct dc_buf *b, const uint8_t key[DC_DERP_KEY_LEN]);
void dc_derp_put_ping(struct dc_buf *b, uint8_t type /* PING or PONG */, const uint8_t data[8]);
void dc_derp_put_health(struct dc_buf *b, const char *text);
void dc_derp_put_restarting(struct dc_buf *b, uint32_t reconnect_ms, uint32_t try_for_ms);

/* ---- the handshake (§1.5) --------------------------------------------------------- */

/* What a client says about itself. mesh_key NULL: the key is omitted (never sent empty). */
struct dc_derp_client_info {
	int version;
	bool can_ack_pings;
	bool is_prober;
	const char *app_name; /* NULL: omitted */
	const uint8_t *mesh_key;
	/*
	 * The mesh key exactly as derper's --mesh-psk-file holds it (trimmed): derper compares
	 * the strings (derp_server.go), so case and length matter. Wins over mesh_key.
	 */
	const char *mesh_key_text;
};

/* What the server says; token bucket 0 means no client-side limit. */
struct dc_derp_server_info {
	int version;
	int64_t token_bucket_bytes_per_second;
	int64_t token_bucket_bytes_burst;
};

/* The ClientInfo JSON, as Go's client writes it ({"version":2,"CanAckPings":true,...}). */
char *dc_derp_client_info_json(const struct dc_derp_client_info *ci);

/*
 * Read ClientInfo JSON the way the server does (field names case-insensitive). A meshKey
 * that is not exactly 64 hex digits (an empty string included) fails, as on servers
 * since v1.86. has_mesh_key/mesh_key report a valid one.
 */
struct dc_derp_client_info_in {
	int version;
	bool can_ack_pings;
	bool is_prober;
	bool has_mesh_key;
	uint8_t mesh_key[DC_DERP_KEY_LEN];
};
int dc_derp_client_info_parse(const char *json, size_t len, struct dc_derp_client_info_in *out, struct dc_error *err);

/* Read ServerInfo JSON ({"version":2} from the open-source server). */
int dc_derp_server_info_parse(const char *json, size_t len, struct dc_derp_server_info *out, struct dc_error *err);

/* The ServerKey payload: magic + key. Returns -1 with err naming what is wrong. */
int dc_derp_server_key_parse(const uint8_t *payload, size_t len, uint8_t key[DC_DERP_KEY_LEN], struct dc_error *err);

/*
 * ClientInfo frame: client_pk || nonce || crypto_box_easy(msg, nonce, server_pk, client_sk).
 * Appends the whole frame to b. Returns -1 only if libsodium refuses the keys.
 */
int dc_derp_client_info_seal(struct dc_buf *b, const uint8_t client_pk[DC_DERP_KEY_LEN],
			     const uint8_t client_sk[DC_DERP_KEY_LEN], const uint8_t server_pk[DC_DERP_KEY_LEN],
			     const uint8_t nonce[DC_DERP_NONCE_LEN], const void *msg, size_t n);
/* Server side: the client's key and the opened message (caller frees *msg, NUL-terminated). */
int dc_derp_client_info_open(const uint8_t *payload, size_t len, const uint8_t server_sk[DC_DERP_KEY_LEN],
			     uint8_t client_pk[DC_DERP_KEY_LEN], char **msg, size_t *msg_len, struct dc_error *err);

/* ServerInfo frame: nonce || crypto_box_easy(msg, nonce, client_pk, server_sk). */
int dc_derp_server_info_seal(struct dc_buf *b, const uint8_t server_sk[DC_DERP_KEY_LEN],
			     const uint8_t client_pk[DC_DERP_KEY_LEN], const uint8_t nonce[DC_DERP_NONCE_LEN],
			     const void *msg, size_t n);
int dc_derp_server_info_open(const uint8_t *payload, size_t len, const uint8_t server_pk[DC_DERP_KEY_LEN],
			     const uint8_t client_sk[DC_DERP_KEY_LEN], char **msg, size_t *msg_len, struct dc_error *err);

/* ---- keys ---------------------------------------------------------------------------- */

/* 64 lowercase hex digits (the "untyped" form of §1.3). */
void dc_derp_key_hex(const uint8_t key[DC_DERP_KEY_LEN], char out[65]);
/* Exactly 64 hex digits of either case, optionally after "nodekey:". */
int dc_derp_key_parse(const char *text, size_t len, uint8_t key[DC_DERP_KEY_LEN]);
/* Tailscale's ShortString: "[" + the first 5 characters of standard base64 + "]". */
void dc_derp_key_short(const uint8_t key[DC_DERP_KEY_LEN], char out[8]);

/* Whether a relayed payload looks like a disco message ("TS💬" and at least 62 bytes). */
bool dc_derp_looks_like_disco(const uint8_t *data, size_t n);

/* ---- the HTTP/1.1 upgrade response (§1.2) --------------------------------------------- */

struct dc_derp_upgrade {
	int status;          /* e.g. 101 */
	char reason[64];     /* the status line's text, sanitised */
	char upgrade[32];    /* Upgrade header, "" if absent */
	char connection[32]; /* Connection header */
	int derp_version;    /* Derp-Version, -1 if absent or not a number */
	bool has_public_key; /* Derp-Public-Key held 64 hex digits */
	uint8_t public_key[DC_DERP_KEY_LEN];
	char location[128];  /* Location header (redirects) */
	long content_length; /* -1 if absent */
	/* the WebSocket answer (RFC 6455 §4.2.2), and who answered (proxies name themselves) */
	char ws_accept[64];     /* Sec-WebSocket-Accept */
	char ws_protocol[64];   /* Sec-WebSocket-Protocol */
	char ws_extensions[96]; /* Sec-WebSocket-Extensions */
	char server[64];        /* Server: "nginx/1.22.1", "Caddy", "cloudflare"; derper sends none */
	char via[64];           /* Via */
	char content_type[64];
	bool cf_ray;            /* a CF-RAY header: Cloudflare's edge answered */
	bool acao_any;          /* Access-Control-Allow-Origin: * */
	char ts_response[96];   /* X-Tailscale-Response (derper's /generate_204) */
	char csp[64];           /* the start of Content-Security-Policy (derper sets one when it serves TLS) */
	bool lowercase_names;   /* every header name is in lower case (HAProxy's HTX writes them so; Go, nginx, Caddy do not) */
	size_t header_len;   /* bytes up to and including the blank line */
};

/*
 * Parse the response to GET /derp from the start of buf. Returns 1 when the header is
 * complete (bytes from header_len on belong to the body or the DERP stream); 0 when more
 * bytes are needed; -1 with err when it is not an HTTP/1.x response or the header is
 * longer than DC_DERP_UPGRADE_MAX.
 */
int dc_derp_upgrade_parse(const uint8_t *buf, size_t len, struct dc_derp_upgrade *out, struct dc_error *err);

#endif
