/*
 * A DERP client connection made the way Tailscale's client makes it (protocols.md §1.1-1.7,
 * tls-diagnosis.md §2): the region's nodes in map order (STUNOnly skipped), the map's
 * IPv4/IPv6 instead of DNS, IPv4 and IPv6 raced, 1.5 s per node for TCP and one budget for
 * everything; TLS with SNI = HostName and Tailscale's certificate rules; the HTTP/1.1
 * upgrade on /derp (or fast start with derper's meta certificate under TLS 1.3); then
 * ServerKey, ClientInfo and ServerInfo. Each failure has a name, a phase and a hint.
 */
#ifndef DERPCHECK_DERPCONN_H
#define DERPCHECK_DERPCONN_H

#include "derpcheck/probe/derp.h"
#include "derpcheck/input/derpmap.h"
#include "derpcheck/net/tlsconn.h"

enum dc_derp_failure {
	DC_DERP_OK,
	DC_DERP_NO_NODE,         /* no node of the region can be dialled */
	DC_DERP_DNS,             /* HostName did not resolve */
	DC_DERP_TCP_REFUSED,
	DC_DERP_TCP_TIMEOUT,
	DC_DERP_UNREACHABLE,
	DC_DERP_NOT_TLS,         /* plain HTTP (or anything else) on the TLS port */
	DC_DERP_TLS_ALERT,       /* e.g. derper refusing an SNI that is not its hostname */
	DC_DERP_TLS_FAILED,
	DC_DERP_TRUST_STORE,     /* the CA file or system store could not be loaded (local) */
	DC_DERP_CERT,            /* the certificate does not verify as Tailscale verifies it */
	DC_DERP_HTTP_STATUS,     /* the upgrade was answered with a status other than 101 */
	DC_DERP_BAD_UPGRADE,     /* the answer to the upgrade is not HTTP/1.1 */
	DC_DERP_BAD_MAGIC,       /* the first frame is not a ServerKey with the magic */
	DC_DERP_FRAME_TOO_LARGE, /* a frame longer than Tailscale accepts */
	DC_DERP_PROTOCOL,        /* another protocol violation */
	DC_DERP_NOT_ADMITTED,    /* closed after ClientInfo, before ServerInfo */
	DC_DERP_BAD_SERVER_INFO, /* ServerInfo does not open or parse */
	DC_DERP_TIMEOUT,         /* a deadline passed after TCP and TLS */
	DC_DERP_CLOSED,          /* the server closed an established connection */
	DC_DERP_IO,
};

enum dc_derp_phase {
	DC_DERP_PHASE_DNS,
	DC_DERP_PHASE_TCP,
	DC_DERP_PHASE_TLS,
	DC_DERP_PHASE_VERIFY,
	DC_DERP_PHASE_UPGRADE,
	DC_DERP_PHASE_HANDSHAKE,
	DC_DERP_PHASE_CONNECTED,
};

/* Stable names for JSON and tests: "dns", "tcp-refused", "certificate", ... */
const char *dc_derp_failure_name(enum dc_derp_failure f);
const char *dc_derp_phase_name(enum dc_derp_phase p);

/*
 * How the DERP byte stream travels after TLS (protocols.md §1.1-1.2): the HTTP/1.1
 * "Upgrade: DERP" that tailscaled uses, or WebSocket (RFC 6455, binary messages, the
 * "derp" subprotocol) that Tailscale's browser clients use and that WebSocket-only
 * proxies carry. auto tries DERP first and WebSocket when the DERP upgrade is refused.
 */
enum dc_derp_transport {
	DC_DERP_TRANSPORT_DERP,
	DC_DERP_TRANSPORT_WEBSOCKET,
	DC_DERP_TRANSPORT_AUTO,
};
const char *dc_derp_transport_name(enum dc_derp_transport t); /* "derp", "websocket", "auto" */
int dc_derp_transport_parse(const char *text, enum dc_derp_transport *out);

/*
 * The byte stream under the DERP frames: TLS, or WebSocket messages over TLS. derpconn
 * reads and writes only through this, so a transport is one implementation of it. Tests
 * and fuzzers give their own (dc_derp_connect_over) to feed the upgrade, the handshake
 * and the receive loop any bytes, without a server.
 */
#define DC_DERP_IO_WANT_READ (-2)  /* nothing to read yet: wait until fd is readable */
#define DC_DERP_IO_WANT_WRITE (-3) /* wait until fd is writable, then read again */
#define DC_DERP_IO_TIMEOUT (-4)
struct dc_derp_io {
	/* Up to n bytes into buf: the count, 0 at the end of the stream, -1 on error, or WANT_*. */
	long (*read)(void *ctx, void *buf, size_t n);
	/* All n bytes by deadline_ns: 0, DC_DERP_IO_TIMEOUT, or -1 (err says why). */
	int (*write)(void *ctx, const void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err);
	/* Bytes the stream holds that poll() on fd would not show (TLS records already decrypted). */
	size_t (*pending)(void *ctx);
	/* Why the stream ended or failed, in words ("" when there is nothing to add); may be NULL. */
	void (*end_note)(void *ctx, char *out, size_t n);
	/* Free ctx (the layer below stays open); may be NULL. */
	void (*release)(void *ctx);
	int fd;    /* what to poll; -1 when reads never wait */
	void *ctx;
};

struct dc_derp_dial_opts {
	const struct dc_derp_region *region;
	const char *node;           /* only this node (its Name); NULL: every node in map order */
	const char *skip_node;      /* every node but this one (for a second client on another node) */
	int family;                 /* 0 both, 4 or 6 */
	const char *ca_file;        /* NULL: the system trust store */
	bool insecure;              /* skip certificate checks (the caller warns) */
	bool no_fast_start;         /* always wait for the 101 response */
	long timeout_ms;            /* the whole connection (default 10 s, as Tailscale) */
	long node_timeout_ms;       /* TCP per node (default 1.5 s, as Tailscale) */
	const uint8_t *mesh_key;    /* 32 bytes, or NULL: omitted (never sent empty) */
	const char *mesh_key_text;  /* the key as --mesh-psk-file holds it; wins over mesh_key */
	const uint8_t *private_key; /* NULL: a fresh key pair, never written anywhere */
	bool is_prober;
	const char *app_name;
	enum dc_derp_transport transport; /* default DERP, as tailscaled */
};

/*
 * Every receive loop stops after this many frames it skips (KeepAlive, unknown, malformed)
 * in one call, so a server sending nothing else cannot keep derpcheck from its deadline.
 */
#define DC_DERP_SKIP_BUDGET 256

/* One node tried, for reports ("node 900a: TCP connection refused"). */
struct dc_derp_attempt {
	char node[64];
	char host[256];
	char addr[INET6_ADDRSTRLEN + 8]; /* "" when no address was reached */
	enum dc_derp_failure failure;
	enum dc_derp_phase phase;
	struct dc_error err;
};
#define DC_DERP_MAX_ATTEMPTS 8

struct dc_derp_conn {
	struct dc_tls_conn tls;
	struct dc_derp_io io;            /* over tls: TLS itself, or WebSocket over it */
	enum dc_derp_transport transport; /* the one that carries this connection (never auto) */
	char auto_note[400];             /* auto fell back to WebSocket: why the DERP upgrade failed */
	char ws_key[32];                 /* Sec-WebSocket-Key of the upgrade request */
	const struct dc_derp_region *region;
	const struct dc_derp_node *node; /* the node connected to */
	int family;                      /* 4 or 6 */
	uint8_t public_key[DC_DERP_KEY_LEN];
	uint8_t private_key[DC_DERP_KEY_LEN]; /* wiped by dc_derp_close */
	uint8_t server_key[DC_DERP_KEY_LEN];
	char tls_version[16];
	bool insecure;                   /* connected whatever the certificate (--insecure, or InsecureForTests as clients do) */
	bool verified;                   /* verdict holds the certificate's judgement (also when insecure) */
	struct dc_tls_verdict verdict;
	bool metacert;                   /* derper's derpkey certificate was served */
	uint8_t metacert_key[DC_DERP_KEY_LEN];
	int metacert_version;
	bool fast_start;                 /* no 101: ClientInfo went with the request */
	int http_derp_version;           /* Derp-Version header, -1 if none */
	bool key_mismatch;               /* header, metacert and ServerKey disagree */
	struct dc_derp_server_info info;

	/* connection phases, nanoseconds */
	bool dns_used;
	uint64_t dns_ns, tcp_ns, tls_ns, verify_ns, upgrade_ns, handshake_ns, connect_ns;

	enum dc_derp_failure failure;
	enum dc_derp_phase phase;
	struct dc_derp_attempt attempts[DC_DERP_MAX_ATTEMPTS];
	size_t attempt_count;

	/* the frame stream */
	uint8_t *rbuf;
	size_t rcap, rlen, roff;
	struct dc_buf wbuf;

	/* what the server sent besides packets */
	uint64_t keep_alives, pings_answered, unknown_frames, malformed_frames;
	char last_malformed[200];
	bool health_set;
	char health[256];
	bool restarting;
	uint32_t reconnect_ms, try_for_ms;
};

/*
 * Connect to the region as Tailscale does. Only DNS and TCP failures move on to the next
 * node (as in Tailscale's dialRegion); anything after TCP fails the connection. On failure
 * conn->failure, conn->phase and err describe the first node's failure, and
 * conn->attempts lists every node tried. conn is always safe to dc_derp_close.
 */
int dc_derp_connect(const struct dc_derp_dial_opts *opts, struct dc_derp_conn *conn, struct dc_error *err);

/*
 * What dc_derp_connect does once TLS is up and the certificate judged — the GET /derp
 * upgrade (or fast start, when fast_start_key stands for the key in derper's meta
 * certificate), ServerKey, ClientInfo, ServerInfo — over io, to node (peer names it in
 * messages). For tests and fuzzing. conn is always safe to dc_derp_close.
 */
int dc_derp_connect_over(const struct dc_derp_dial_opts *opts, const struct dc_derp_node *node, const struct dc_derp_io *io,
			 const char *peer, const uint8_t *fast_start_key, struct dc_derp_conn *conn, struct dc_error *err);
void dc_derp_close(struct dc_derp_conn *conn);

/* ---- after the handshake ------------------------------------------------------------- */

/* Queue frames (nothing is written until dc_derp_flush). */
void dc_derp_queue_packet(struct dc_derp_conn *c, const uint8_t dst[DC_DERP_KEY_LEN], const void *data, size_t n);
void dc_derp_queue_ping(struct dc_derp_conn *c, const uint8_t data[8]);
void dc_derp_queue_note_preferred(struct dc_derp_conn *c, bool preferred);
/* WatchConns (mesh clients only): the server then sends PeerPresent for every client it has. */
void dc_derp_queue_watch_conns(struct dc_derp_conn *c);
/* Write everything queued, or fail at deadline_ns. */
int dc_derp_flush(struct dc_derp_conn *c, uint64_t deadline_ns, struct dc_error *err);

/*
 * The next frame for the caller: RecvPacket, Pong, PeerGone, PeerPresent, Health,
 * Restarting, or a server Ping (already answered with a Pong). KeepAlive, unknown and
 * malformed frames are counted and skipped, as Tailscale's client does, but at most
 * DC_DERP_SKIP_BUDGET of them per call and never past deadline_ns. m borrows from the
 * connection until the next call. Returns 1 with m; 0 when deadline_ns passed (0: do not
 * wait at all) or the skip budget is spent (dc_derp_readable_now then says whether more
 * is buffered); -1 when the connection failed (c->failure, err).
 */
int dc_derp_recv(struct dc_derp_conn *c, uint64_t deadline_ns, struct dc_derp_msg *m, struct dc_error *err);

/*
 * How the connection was made, for a report line: "HTTP upgrade", "fast start",
 * "WebSocket", and with --transport auto which one worked ("WebSocket (auto: the DERP
 * upgrade failed)", "HTTP upgrade (auto: DERP worked)").
 */
void dc_derp_how_text(const struct dc_derp_conn *c, enum dc_derp_transport requested, char *out, size_t n);

/* The socket to poll, and whether dc_derp_recv has bytes to work on without polling. */
int dc_derp_fd(const struct dc_derp_conn *c);
bool dc_derp_readable_now(const struct dc_derp_conn *c);

#endif
