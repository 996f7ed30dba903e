/*
 * derpserver: the project's test DERP server, for loopback tests and benchmarks only.
 *
 * It speaks the server side of protocols.md §1 the way derper does: TLS (TLS 1.2+, the
 * configured chain followed by the "derpkey" meta certificate, an SNI other than
 * --hostname refused with an internal_error alert), the HTTP endpoints /, /derp,
 * /derp/probe, /derp/latency-check, /generate_204 (with the challenge header) and
 * /robots.txt, fast start, the ServerKey/ClientInfo/ServerInfo handshake, relaying,
 * Ping/Pong, KeepAlive, PeerGone, DERP over WebSocket (GET /derp with Upgrade: websocket and
 * the derp subprotocol, as cmd/derper/websocket.go; --no-websocket answers it with the DERP
 * upgrade instead, as servers without that support do), and meshing: each --listen is one
 * server instance with its own key, and with --mesh-key every instance dials every other
 * one as a mesh client (WatchConns, PeerPresent/PeerGone, ForwardPacket), over real TLS on
 * loopback.
 *
 * Misbehaviour on demand (--misbehave, --refuse-clients, --plain, --delay, --drop-every)
 * lets tests check that the client names each failure. Prints "ready ADDR..." on stdout
 * once every listener (and mesh link) is up; logs go to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/util/cursor.h"
#include "derpcheck/probe/derp.h"
#include "derpcheck/probe/derpconn.h"
#include "derpcheck/probe/websocket.h"
#include "derpcheck/util/util.h"

#define MAX_INSTANCES 4
#define HANDSHAKE_NS (10ull * 1000000000ull) /* derper: 10 s for ServerKey..ClientInfo */
#define HTTP_NS (30ull * 1000000000ull)
#define OUT_HIGH (4u * 1024u * 1024u) /* stop reading senders while a receiver lags this much */

enum misbehave {
	MB_NONE,
	MB_OVERSIZE_FRAME,        /* a frame header announcing 2 MiB */
	MB_BAD_MAGIC,             /* ServerKey without the DERP magic */
	MB_STALL_MID_FRAME,       /* half a ServerKey frame, then silence */
	MB_CLOSE_BEFORE_SERVERINFO,
	MB_DERP_DISABLED,         /* /derp answers 404, as derper --derp=false */
	MB_STALL_UPGRADE,         /* TLS works, HTTP never answered */
	MB_BAD_SERVER_INFO,       /* ServerInfo sealed with another key */
	MB_CHATTY,                /* Health, Ping, Restarting, unknown frames after ServerInfo */
	MB_KEEPALIVE_FLOOD,       /* after ServerInfo, KeepAlive frames as fast as the client reads */
	MB_UNKNOWN_FLOOD,         /* after ServerInfo, frames of an unknown type as fast as the client reads */
	MB_FLOOD_BEFORE_INFO,     /* after ClientInfo, KeepAlive frames forever instead of ServerInfo */
	MB_CLOSE_MID_FRAME,       /* half a ServerKey frame, then the connection is closed */
	MB_NO_SERVER_INFO,        /* ClientInfo read, then silence: ServerInfo never comes */
	MB_HOSTILE_HEALTH,        /* after ServerInfo, a Health message full of escape sequences */
};

static const char *const misbehave_names[] = {
	"none", "oversize-frame", "bad-magic", "stall-mid-frame", "close-before-serverinfo",
	"derp-disabled", "stall-upgrade", "bad-server-info", "chatty", "keepalive-flood", "unknown-flood",
	"flood-before-serverinfo", "close-mid-frame", "no-server-info", "hostile-health",
};

static struct {
	const char *cert_file, *key_file, *ca_file;
	const char *hostname;
	bool any_sni, plain, tls12, no_metacert, refuse_clients, tls_echo, no_websocket;
	bool have_mesh_key;
	uint8_t mesh_key[32];
	enum misbehave misbehave;
	uint64_t delay_ns, keepalive_ns;
	unsigned drop_every;
} cfg = {.hostname = "derp.test", .keepalive_ns = 60ull * 1000000000ull};

struct outq {
	struct dc_buf b;
	size_t off;
	size_t inflight; /* length of an SSL_write to repeat after WANT_WRITE */
	size_t framed;   /* WebSocket clients: b[0..framed) is wire bytes, the rest DERP bytes to frame */
};

struct meshlink {
	int to;                     /* instance index of the peer */
	struct dc_derp_conn *conn;  /* NULL until the dial thread hands it over */
	struct outq out;
	uint8_t (*present)[32];     /* keys connected to the peer (PeerPresent) */
	size_t npresent, cap;
};

struct instance {
	int idx;
	int lfd;
	char addr[64];
	uint8_t pk[32], sk[32];
	SSL_CTX *ctx;
	struct meshlink links[MAX_INSTANCES];
};

enum cstate { CS_TLS, CS_HTTP, CS_WAIT_INFO, CS_DERP, CS_STALL, CS_ECHO };

struct client {
	uint64_t id;
	struct instance *inst;
	int fd;
	SSL *ssl;
	enum cstate st;
	uint8_t *in;
	size_t inlen, incap;
	struct outq out;
	struct dc_ws_stream *ws; /* after a WebSocket upgrade: what is read and written travels in frames */
	bool close_after_flush, dead;
	bool flood; /* --misbehave *-flood: keep the output queue topped up */
	uint64_t deadline, next_keepalive;
	uint8_t key[32];
	bool registered, can_mesh, watcher;
	char peer[64];
	uint8_t ip16[16];
	uint16_t port;
	uint8_t sent_to[16][32];
	size_t nsent_to;
	uint64_t sendpackets; /* for --drop-every, counted per sender */
	struct client *next;
};

struct delayed {
	uint64_t due;
	uint64_t client_id; /* 0: forward through a mesh link */
	struct instance *inst;
	int link;
	uint8_t src[32], dst[32];
	size_t len;
	struct delayed *next;
	uint8_t data[];
};

static struct instance inst[MAX_INSTANCES];
static int ninst;
static struct client *clients;
static uint64_t next_client_id = 1;
static struct delayed *dq_head, *dq_tail;
static int wake_pipe[2];
static int links_expected, links_up;
static volatile sig_atomic_t stop;

static void logf_(const struct instance *in, const char *fmt, ...) DC_PRINTF(2, 3);
static void logf_(const struct instance *in, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "derpserver[%d]: %s\n", in ? in->idx : -1, msg);
}

static void die(const char *fmt, ...) DC_PRINTF(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "derpserver: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---- TLS set-up ------------------------------------------------------------------------- */

static bool is_ip(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* derper refuses any SNI but its hostname (unless the hostname is an IP), with alert 80. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct instance *in = arg;
	if (cfg.any_sni || is_ip(cfg.hostname))
		return SSL_TLSEXT_ERR_OK;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name && strcmp(name, cfg.hostname) == 0)
		return SSL_TLSEXT_ERR_OK;
	logf_(in, "http: TLS handshake error: cert mismatch with hostname: \"%s\"", name ? name : "");
	*alert = SSL_AD_INTERNAL_ERROR;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* derper's meta certificate: Ed25519, CN derpkey<hex>, serial = protocol version, ±30 days. */
static X509 *make_metacert(const uint8_t pk[32])
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), DC_DERP_PROTOCOL_VERSION);
	char cn[80] = "derpkey";
	dc_derp_key_hex(pk, cn + 7);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING, (unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), -30L * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
	X509_set_pubkey(x, key);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "CA:FALSE");
	X509_add_ext(x, bc, -1);
	X509_EXTENSION_free(bc);
	if (!X509_sign(x, key, NULL))
		die("cannot sign the meta certificate");
	EVP_PKEY_free(key);
	return x;
}

static SSL_CTX *make_ctx(struct instance *in)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (cfg.tls12)
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg.cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg.key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		die("cannot load %s / %s", cfg.cert_file, cfg.key_file);
	if (!cfg.no_metacert) {
		X509 *meta = make_metacert(in->pk);
		SSL_CTX_add1_chain_cert(ctx, meta); /* after the configured chain, as derper does */
		X509_free(meta);
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(ctx, in);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

/* ---- output queues ------------------------------------------------------------------------ */

static size_t outq_pending(const struct outq *q)
{
	return q->b.len - q->off;
}

/* Write what can be written now; -1 when the connection is dead. */
static int outq_flush(SSL *ssl, int fd, struct outq *q)
{
	while (q->off < q->b.len) {
		size_t n = q->inflight ? q->inflight : q->b.len - q->off;
		if (n > (1u << 20))
			n = 1u << 20;
		int rc;
		if (ssl) {
			ERR_clear_error();
			rc = SSL_write(ssl, q->b.data + q->off, (int)n);
			if (rc <= 0) {
				int e = SSL_get_error(ssl, rc);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					q->inflight = n;
					return 0;
				}
				ERR_clear_error();
				return -1;
			}
		} else {
			rc = (int)write(fd, q->b.data + q->off, n);
			if (rc < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
		}
		q->off += (size_t)rc;
		q->inflight = 0;
	}
	q->b.len = q->off = q->framed = 0;
	return 0;
}

/* ---- clients ------------------------------------------------------------------------------ */

static struct client *find_local(const struct instance *in, const uint8_t key[32])
{
	struct client *found = NULL;
	for (struct client *c = clients; c; c = c->next)
		if (c->inst == in && c->registered && !c->dead && memcmp(c->key, key, 32) == 0)
			found = c; /* the newest connection with the key wins */
	return found;
}

static struct client *find_by_id(uint64_t id)
{
	for (struct client *c = clients; c; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

static void kill_client(struct client *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	char short_key[8] = "";
	if (c->registered)
		dc_derp_key_short(c->key, short_key);
	logf_(c->inst, "%s%s%s: closing: %s", c->peer, short_key[0] ? " " : "", short_key, why);
}

/* ---- DERP over WebSocket ------------------------------------------------------------------- */

/*
 * Every writer (the handshake, relaying, PeerGone, KeepAlive, the misbehaviours) appends
 * DERP bytes to c->out.b; for a WebSocket client they are cut into unmasked binary
 * messages here, just before they are written, with the stream's pongs and close. So no
 * writer needs to know the transport, as derper's Server.Accept gets a net.Conn either way.
 */
static void ws_frame_output(struct client *c)
{
	struct outq *q = &c->out;
	if (!c->ws)
		return;
	if (q->b.len > q->framed) {
		dc_ws_stream_send(c->ws, q->b.data + q->framed, q->b.len - q->framed);
		q->b.len = q->framed;
	}
	if (c->ws->out.len) {
		dc_buf_append(&q->b, c->ws->out.data, c->ws->out.len);
		c->ws->out.len = 0;
	}
	q->framed = q->b.len;
}

/* Make room for n more bytes in c->in. */
static void reserve_input(struct client *c, size_t n)
{
	if (c->incap - c->inlen >= n)
		return;
	size_t cap = c->incap ? c->incap : 131072;
	while (cap - c->inlen < n)
		cap *= 2;
	c->in = dc_xrealloc(c->in, cap);
	c->incap = cap;
}

/*
 * n bytes received from a WebSocket client (at c->in + c->inlen, not yet counted): the DERP
 * bytes their binary messages carry replace them. The stream keeps a partial frame (at most
 * DC_WS_MAX_FRAME, refused from its header beyond that) until the rest arrives.
 */
static void ws_unwrap_input(struct client *c, size_t n)
{
	struct dc_error err;
	if (dc_ws_stream_ended(c->ws))
		return; /* nothing after the close is read (RFC 6455 §5.5.1) */
	if (dc_ws_stream_feed(c->ws, c->in + c->inlen, n, &err) < 0)
		logf_(c->inst, "%s: websocket: %s", c->peer, err.what); /* the stream queued its close */
	size_t have = dc_ws_stream_readable(c->ws);
	reserve_input(c, have);
	c->inlen += dc_ws_stream_read(c->ws, c->in + c->inlen, have);
}

/*
 * After the DERP bytes read so far were handled: a violation, a text message or the
 * client's close frame ends the connection once the close (or its echo) is written.
 */
static void ws_close_if_ended(struct client *c)
{
	if (c->ws && dc_ws_stream_ended(c->ws) && !c->close_after_flush) {
		if (c->ws->peer_close.received) {
			char why[200];
			dc_ws_close_describe(&c->ws->peer_close, why, sizeof(why));
			logf_(c->inst, "%s: websocket closed by the client: %s", c->peer, why);
		}
		c->close_after_flush = true;
	}
}

static void note_sent_to(struct client *c, const uint8_t dst[32])
{
	for (size_t i = 0; i < c->nsent_to; i++)
		if (memcmp(c->sent_to[i], dst, 32) == 0)
			return;
	if (c->nsent_to < DC_ARRAY_LEN(c->sent_to))
		memcpy(c->sent_to[c->nsent_to++], dst, 32);
}

/* Tell mesh watchers of this instance that key came or went. */
static void tell_watchers(struct instance *in, const struct client *who, bool present)
{
	for (struct client *w = clients; w; w = w->next) {
		if (w->inst != in || !w->watcher || w->dead || w == who)
			continue;
		if (present)
			dc_derp_put_peer_present(&w->out.b, who->key, who->ip16, who->port,
						 who->can_mesh ? DC_DERP_PRESENT_MESH_PEER : DC_DERP_PRESENT_REGULAR);
		else
			dc_derp_put_peer_gone(&w->out.b, who->key, DC_DERP_GONE_DISCONNECTED);
	}
}

static void free_client(struct client *c)
{
	if (c->registered) {
		tell_watchers(c->inst, c, false);
		/* PeerGone(Disconnected) to those it sent to, if the key is gone from here. */
		if (!find_local(c->inst, c->key))
			for (size_t i = 0; i < c->nsent_to; i++) {
				struct client *d = find_local(c->inst, c->sent_to[i]);
				if (d)
					dc_derp_put_peer_gone(&d->out.b, c->key, DC_DERP_GONE_DISCONNECTED);
			}
	}
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	free(c->in);
	dc_buf_free(&c->out.b);
	if (c->ws) {
		dc_ws_stream_free(c->ws);
		free(c->ws);
	}
	free(c);
}

/* ---- relaying ----------------------------------------------------------------------------- */

static void deliver_now(struct instance *in, uint64_t client_id, int link, const uint8_t src[32], const uint8_t dst[32],
			const uint8_t *data, size_t n)
{
	if (client_id) {
		struct client *d = find_by_id(client_id);
		if (d)
			dc_derp_put_recv_packet(&d->out.b, src, data, n);
		return;
	}
	struct meshlink *l = &in->links[link];
	if (l->conn)
		dc_derp_put_forward_packet(&l->out.b, src, dst, data, n);
}

static void deliver(struct instance *in, uint64_t client_id, int link, const uint8_t src[32], const uint8_t dst[32],
		    const uint8_t *data, size_t n)
{
	if (!cfg.delay_ns) {
		deliver_now(in, client_id, link, src, dst, data, n);
		return;
	}
	struct delayed *d = dc_xmalloc(sizeof(*d) + n);
	d->due = dc_now_ns() + cfg.delay_ns;
	d->client_id = client_id;
	d->inst = in;
	d->link = link;
	memcpy(d->src, src, 32);
	memcpy(d->dst, dst, 32);
	d->len = n;
	if (n)
		memcpy(d->data, data, n);
	d->next = NULL;
	if (dq_tail)
		dq_tail->next = d;
	else
		dq_head = d;
	dq_tail = d;
}

static void run_delayed(uint64_t now)
{
	while (dq_head && dq_head->due <= now) {
		struct delayed *d = dq_head;
		dq_head = d->next;
		if (!dq_head)
			dq_tail = NULL;
		deliver_now(d->inst, d->client_id, d->link, d->src, d->dst, d->data, d->len);
		free(d);
	}
}

static bool link_has(const struct meshlink *l, const uint8_t key[32])
{
	for (size_t i = 0; i < l->npresent; i++)
		if (memcmp(l->present[i], key, 32) == 0)
			return true;
	return false;
}

/* A packet from src (connected here, or forwarded by a mesh peer) for dst. */
static void route(struct instance *in, struct client *from, const uint8_t src[32], const uint8_t dst[32],
		  const uint8_t *data, size_t n, bool forwarded)
{
	struct client *d = find_local(in, dst);
	if (d) {
		if (from)
			note_sent_to(from, dst);
		deliver(in, d->id, -1, src, dst, data, n);
		return;
	}
	if (!forwarded)
		for (int i = 0; i < ninst; i++)
			if (i != in->idx && in->links[i].conn && link_has(&in->links[i], dst)) {
				deliver(in, 0, i, src, dst, data, n);
				return;
			}
	/* Dropped. A disco-looking packet gets PeerGone(NotHere), as derper replies. */
	if (from && dc_derp_looks_like_disco(data, n))
		dc_derp_put_peer_gone(&from->out.b, dst, DC_DERP_GONE_NOT_HERE);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static void http_date(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void respond(struct client *c, int status, const char *reason, const char *headers, const char *body, bool head)
{
	char date[64];
	http_date(date, sizeof(date));
	size_t blen = body ? strlen(body) : 0;
	dc_buf_printf(&c->out.b, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
		      reason, date, blen, headers ? headers : "");
	if (blen && !head)
		dc_buf_append(&c->out.b, body, blen);
	c->close_after_flush = true;
}

static const char home_page[] =
	"<html><body>\n<h1>DERP</h1>\n<p>\n  This is a <a href=\"https://tailscale.com/\">Tailscale</a> DERP server.\n</p>\n"
	"<p>\n  It provides STUN, interactive connectivity establishment, and relaying of end-to-end encrypted traffic\n"
	"  for Tailscale clients.\n</p>\n<p>derpcheck test server.</p>\n</body></html>\n";

static bool valid_challenge(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("._:-", ch)))
			return false;
	}
	return true;
}

static void start_derp(struct client *c, bool fast);

/* The headers of a WebSocket upgrade request (RFC 6455 §4.2.1). */
struct ws_request {
	char connection[128], key[64], version[16], protocol[128];
};

/* Whether the comma-separated list holds token, in any case (RFC 7230 §7). */
static bool has_token(const char *list, const char *token)
{
	size_t tn = strlen(token);
	for (const char *p = list; *p;) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, ",");
		size_t k = n;
		while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
			k--;
		if (k == tn && strncasecmp(p, token, tn) == 0)
			return true;
		p += n;
	}
	return false;
}

/*
 * GET /derp with Upgrade: websocket and "derp" among the subprotocols: derper hands it to
 * its WebSocket library (cmd/derper/websocket.go), which checks the request, answers 101
 * with the accept value and the subprotocol, and then carries the DERP stream (fast start:
 * ServerKey comes at once) in binary messages. Without the derp token it closes with 1008.
 */
static void start_websocket(struct client *c, const char *method, const struct ws_request *r)
{
	static const char text[] = "Content-Type: text/plain; charset=utf-8\r\n";
	if (!has_token(r->connection, "upgrade")) {
		respond(c, 426, "Upgrade Required", text,
			"WebSocket protocol violation: Connection header does not contain Upgrade\n", false);
		return;
	}
	if (strcmp(method, "GET") != 0) {
		respond(c, 405, "Method Not Allowed", text, "WebSocket protocol violation: handshake request method is not GET\n",
			false);
		return;
	}
	if (strcmp(r->version, "13") != 0) {
		respond(c, 400, "Bad Request", "Sec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\n",
			"unsupported WebSocket protocol version (only 13 is supported)\n", false);
		return;
	}
	if (!r->key[0]) {
		respond(c, 400, "Bad Request", text, "WebSocket protocol violation: missing Sec-WebSocket-Key\n", false);
		return;
	}
	bool derp = has_token(r->protocol, DC_WS_SUBPROTOCOL);
	char accept[DC_WS_ACCEPT_LEN + 1];
	dc_ws_accept_for(r->key, accept);
	dc_buf_printf(&c->out.b, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s"
				 "Upgrade: websocket\r\n\r\n",
		      accept, derp ? "Sec-WebSocket-Protocol: " DC_WS_SUBPROTOCOL "\r\n" : "");
	c->ws = dc_xmalloc(sizeof(*c->ws));
	dc_ws_stream_init(c->ws, true);
	c->out.framed = c->out.b.len; /* the 101 goes out as it is; all after it in frames */
	if (!derp) {
		dc_ws_stream_send_close(c->ws, 1008, "client must speak the derp subprotocol");
		c->close_after_flush = true;
		return;
	}
	/* Bytes after the request already belong to the WebSocket stream. */
	size_t early = c->inlen;
	c->inlen = 0;
	ws_unwrap_input(c, early);
	start_derp(c, true);
}

/* Parse one request from c->in; false while incomplete. */
static bool handle_http(struct client *c)
{
	size_t window = c->inlen < 8192 ? c->inlen : 8192;
	const uint8_t *end = window >= 4 ? memmem(c->in, window, "\r\n\r\n", 4) : NULL;
	if (!end) {
		if (c->inlen >= 8192)
			respond(c, 431, "Request Header Fields Too Large", NULL, NULL, false);
		else if (window >= 3 && (c->in[0] == 0x16 || c->in[0] < 0x20))
			respond(c, 400, "Bad Request", NULL, "Client sent an HTTP request to an HTTPS server.\n", false);
		return c->close_after_flush;
	}
	size_t hlen = (size_t)(end - c->in) + 4;
	struct dc_cursor cur;
	dc_cursor_init(&cur, c->in, hlen);
	const char *line;
	size_t n;
	char method[16] = "", path[256] = "";
	if (!dc_cursor_http_line(&cur, &line, &n) || sscanf(line, "%15s %255s", method, path) != 2) {
		respond(c, 400, "Bad Request", NULL, NULL, false);
		return true;
	}
	char upgrade[64] = "", challenge[80] = "";
	struct ws_request ws = {0};
	bool fast = false, have_challenge = false;
	while (dc_cursor_http_line(&cur, &line, &n) && n > 0) {
		const char *colon = memchr(line, ':', n);
		if (!colon)
			continue;
		size_t name_len = (size_t)(colon - line);
		const char *v = colon + 1;
		size_t vn = n - name_len - 1;
		while (vn && *v == ' ') {
			v++;
			vn--;
		}
		if (name_len == 7 && strncasecmp(line, "Upgrade", 7) == 0)
			snprintf(upgrade, sizeof(upgrade), "%.*s", (int)vn, v);
		else if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0)
			snprintf(ws.connection, sizeof(ws.connection), "%.*s", (int)vn, v);
		else if (name_len == 17 && strncasecmp(line, "Sec-WebSocket-Key", 17) == 0)
			snprintf(ws.key, sizeof(ws.key), "%.*s", (int)vn, v);
		else if (name_len == 21 && strncasecmp(line, "Sec-WebSocket-Version", 21) == 0)
			snprintf(ws.version, sizeof(ws.version), "%.*s", (int)vn, v);
		else if (name_len == 22 && strncasecmp(line, "Sec-WebSocket-Protocol", 22) == 0)
			snprintf(ws.protocol, sizeof(ws.protocol), "%.*s", (int)vn, v);
		else if (name_len == 15 && strncasecmp(line, "Derp-Fast-Start", 15) == 0)
			fast = vn == 1 && v[0] == '1';
		else if (name_len == 21 && strncasecmp(line, "X-Tailscale-Challenge", 21) == 0) {
			have_challenge = valid_challenge(v, vn);
			if (have_challenge)
				snprintf(challenge, sizeof(challenge), "%.*s", (int)vn, v);
		}
	}
	memmove(c->in, c->in + hlen, c->inlen - hlen); /* what follows may be a fast-start ClientInfo */
	c->inlen -= hlen;
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	bool head = strcmp(method, "HEAD") == 0;
	if (strcmp(path, "/derp") == 0) {
		if (cfg.misbehave == MB_DERP_DISABLED) {
			respond(c, 404, "Not Found", "Content-Type: text/plain; charset=utf-8\r\n", "derp server disabled\n", head);
		} else if (strcasecmp(upgrade, "websocket") == 0 && strstr(ws.protocol, DC_WS_SUBPROTOCOL) && !cfg.no_websocket) {
			/* derper looks for "derp" anywhere in the header: early clients said websocket but spoke DERP. */
			start_websocket(c, method, &ws);
		} else if (strcasecmp(upgrade, "derp") != 0 && strcasecmp(upgrade, "websocket") != 0) {
			respond(c, 426, "Upgrade Required", "Content-Type: text/plain; charset=utf-8\r\n",
				"DERP requires connection upgrade\n", head);
		} else {
			start_derp(c, fast);
		}
	} else if (strcmp(path, "/derp/probe") == 0 || strcmp(path, "/derp/latency-check") == 0) {
		if (strcmp(method, "GET") == 0 || head)
			respond(c, 200, "OK", "Access-Control-Allow-Origin: *\r\n", NULL, head);
		else
			respond(c, 405, "Method Not Allowed", NULL, "bogus probe method\n", false);
	} else if (strcmp(path, "/generate_204") == 0) {
		char hdrs[200] = "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0\r\n";
		if (have_challenge)
			snprintf(hdrs + strlen(hdrs), sizeof(hdrs) - strlen(hdrs), "X-Tailscale-Response: response %s\r\n", challenge);
		respond(c, 204, "No Content", hdrs, NULL, head);
	} else if (strcmp(path, "/robots.txt") == 0) {
		respond(c, 200, "OK", "Content-Type: text/plain; charset=utf-8\r\n", "User-agent: *\nDisallow: /\n", head);
	} else {
		respond(c, 200, "OK", "Content-Type: text/html; charset=utf-8\r\n", home_page, head);
	}
	return true;
}

/* ---- the DERP server side -------------------------------------------------------------------- */

static void start_derp(struct client *c, bool fast)
{
	struct instance *in = c->inst;
	char hex[65];
	dc_derp_key_hex(in->pk, hex);
	if (!fast)
		dc_buf_printf(&c->out.b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
					 "Derp-Version: %d\r\nDerp-Public-Key: %s\r\n\r\n", DC_DERP_PROTOCOL_VERSION, hex);
	c->st = CS_WAIT_INFO;
	c->deadline = dc_now_ns() + HANDSHAKE_NS;
	uint8_t hdr[5] = {DC_DERP_SERVER_KEY, 0, 0, 0, 40};
	switch (cfg.misbehave) {
	case MB_OVERSIZE_FRAME: {
		static const uint8_t big[5] = {DC_DERP_SERVER_KEY, 0x00, 0x20, 0x00, 0x00}; /* 2 MiB */
		dc_buf_append(&c->out.b, big, sizeof(big));
		dc_buf_append(&c->out.b, DC_DERP_MAGIC, DC_DERP_MAGIC_LEN);
		c->st = CS_STALL;
		return;
	}
	case MB_BAD_MAGIC:
		dc_buf_append(&c->out.b, hdr, sizeof(hdr));
		dc_buf_append(&c->out.b, "NOTDERP!", 8);
		dc_buf_append(&c->out.b, in->pk, 32);
		return;
	case MB_STALL_MID_FRAME:
	case MB_CLOSE_MID_FRAME:
		dc_buf_append(&c->out.b, hdr, sizeof(hdr));
		dc_buf_append(&c->out.b, DC_DERP_MAGIC, DC_DERP_MAGIC_LEN);
		dc_buf_append(&c->out.b, in->pk, 12);
		c->st = CS_STALL;
		c->close_after_flush = cfg.misbehave == MB_CLOSE_MID_FRAME;
		return;
	default:
		dc_derp_put_server_key(&c->out.b, in->pk);
	}
}

static void send_server_info(struct client *c)
{
	static const char json[] = "{\"version\":2}";
	uint8_t nonce[DC_DERP_NONCE_LEN], sk[32];
	randombytes_buf(nonce, sizeof(nonce));
	memcpy(sk, c->inst->sk, 32);
	if (cfg.misbehave == MB_BAD_SERVER_INFO)
		randombytes_buf(sk, sizeof(sk));
	dc_derp_server_info_seal(&c->out.b, sk, c->key, nonce, json, strlen(json));
	sodium_memzero(sk, sizeof(sk));
}

static void send_chatter(struct client *c)
{
	static const uint8_t ping[8] = {'d', 'e', 'r', 'p', 't', 'e', 's', 't'};
	static const uint8_t odd[3] = {1, 2, 3};
	dc_derp_put_health(&c->out.b, "derpserver: injected health problem");
	dc_derp_put_ping(&c->out.b, DC_DERP_PING, ping);
	dc_derp_put_frame(&c->out.b, 0x7e, odd, sizeof(odd), NULL, 0); /* a type from the future */
	dc_derp_put_keep_alive(&c->out.b);
	dc_derp_put_restarting(&c->out.b, 500, 10000);
}

/* Another MiB of frames a client must skip (--misbehave *-flood): more than it can read. */
static void add_flood(struct client *c)
{
	static const uint8_t junk[3] = {0xde, 0xad, 0x00};
	for (int i = 0; i < 262144; i++) {
		if (cfg.misbehave == MB_UNKNOWN_FLOOD)
			dc_derp_put_frame(&c->out.b, 0x7f, junk, sizeof(junk), NULL, 0); /* a type no version defines */
		else
			dc_derp_put_keep_alive(&c->out.b);
	}
}

static void handle_client_info(struct client *c, const struct dc_derp_frame *f)
{
	struct instance *in = c->inst;
	if (f->type != DC_DERP_CLIENT_INFO) {
		kill_client(c, "first frame is not ClientInfo");
		return;
	}
	char *json = NULL;
	size_t n = 0;
	struct dc_error err;
	struct dc_derp_client_info_in info;
	if (f->len < DC_DERP_MIN_CLIENT_INFO ||
	    dc_derp_client_info_open(f->payload, f->len, in->sk, c->key, &json, &n, &err) < 0 ||
	    dc_derp_client_info_parse(json, n, &info, &err) < 0) {
		free(json);
		kill_client(c, "receive client key: bad ClientInfo");
		return;
	}
	free(json);
	c->can_mesh = info.has_mesh_key && cfg.have_mesh_key && sodium_memcmp(info.mesh_key, cfg.mesh_key, 32) == 0;
	char short_key[8];
	dc_derp_key_short(c->key, short_key);
	if (cfg.misbehave == MB_CLOSE_BEFORE_SERVERINFO) {
		kill_client(c, "misbehaving: closing before ServerInfo");
		return;
	}
	if (cfg.misbehave == MB_NO_SERVER_INFO || cfg.misbehave == MB_FLOOD_BEFORE_INFO) {
		c->st = CS_STALL; /* never admitted, never refused */
		c->flood = cfg.misbehave == MB_FLOOD_BEFORE_INFO;
		return;
	}
	if (cfg.refuse_clients && !c->can_mesh) {
		logf_(in, "client %s rejected: not a node of this tailnet (--refuse-clients)", short_key);
		kill_client(c, "rejected");
		return;
	}
	c->registered = true;
	c->st = CS_DERP;
	c->next_keepalive = dc_now_ns() + cfg.keepalive_ns;
	tell_watchers(in, c, true);
	send_server_info(c);
	if (cfg.misbehave == MB_CHATTY)
		send_chatter(c);
	if (cfg.misbehave == MB_HOSTILE_HEALTH)
		dc_derp_put_health(&c->out.b, "\033[2J\033[H\033]0;pwned\a\r\nderpcheck: all good\xc2\x9b" "31m \xff");
	c->flood = cfg.misbehave == MB_KEEPALIVE_FLOOD || cfg.misbehave == MB_UNKNOWN_FLOOD;
	logf_(in, "%s %s connected%s%s", c->peer, short_key, c->can_mesh ? " (mesh peer)" : "", info.is_prober ? " (prober)" : "");
}

static void handle_frame(struct client *c, const struct dc_derp_frame *f)
{
	struct instance *in = c->inst;
	struct dc_derp_msg m;
	struct dc_error err;
	if (dc_derp_msg_decode(f, &m, &err) < 0) {
		kill_client(c, err.what);
		return;
	}
	switch (f->type) {
	case DC_DERP_SEND_PACKET:
		c->sendpackets++;
		if (cfg.drop_every && c->sendpackets % cfg.drop_every == 0)
			return; /* injected loss */
		route(in, c, c->key, m.u.packet.key, m.u.packet.data, m.u.packet.len, false);
		return;
	case DC_DERP_FORWARD_PACKET:
		if (!c->can_mesh) {
			kill_client(c, "ForwardPacket: insufficient permissions");
			return;
		}
		route(in, NULL, m.u.forward.src, m.u.forward.dst, m.u.forward.data, m.u.forward.len, true);
		return;
	case DC_DERP_PING:
		dc_derp_put_ping(&c->out.b, DC_DERP_PONG, m.u.ping.data);
		return;
	case DC_DERP_WATCH_CONNS:
		if (!c->can_mesh) {
			kill_client(c, "WatchConns: insufficient permissions");
			return;
		}
		c->watcher = true;
		for (struct client *o = clients; o; o = o->next)
			if (o->inst == in && o->registered && !o->dead && o != c)
				dc_derp_put_peer_present(&c->out.b, o->key, o->ip16, o->port,
							 o->can_mesh ? DC_DERP_PRESENT_MESH_PEER : DC_DERP_PRESENT_REGULAR);
		return;
	case DC_DERP_CLOSE_PEER:
		if (!c->can_mesh) {
			kill_client(c, "ClosePeer: insufficient permissions");
			return;
		}
		for (struct client *o = clients; o; o = o->next)
			if (o->inst == in && o->registered && memcmp(o->key, m.u.close_peer.key, 32) == 0)
				kill_client(o, "ClosePeer from a mesh peer");
		return;
	default:
		return; /* NotePreferred, Pong, unknown: nothing to do */
	}
}

static void process_input(struct client *c)
{
	if (c->st == CS_ECHO) {
		dc_buf_append(&c->out.b, c->in, c->inlen);
		c->inlen = 0;
		return;
	}
	if (c->st == CS_HTTP) {
		if (!handle_http(c))
			return;
	}
	size_t off = 0;
	while (!c->dead && (c->st == CS_WAIT_INFO || c->st == CS_DERP)) {
		struct dc_derp_frame f;
		size_t used, need;
		struct dc_error err;
		int rc = dc_derp_frame_next(c->in + off, c->inlen - off, DC_DERP_MAX_FRAME, &f, &used, &need, &err);
		if (rc < 0) {
			kill_client(c, err.what);
			break;
		}
		if (rc == 0)
			break;
		off += used;
		if (c->st == CS_WAIT_INFO)
			handle_client_info(c, &f);
		else
			handle_frame(c, &f);
	}
	if (c->st == CS_STALL || c->close_after_flush)
		off = c->inlen; /* nothing more is read from it */
	if (off) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

static void read_client(struct client *c)
{
	for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
		/* Bounded: a frame over 1 MiB or a request header over 8 KiB ends the connection. */
		reserve_input(c, 65536);
		size_t room = c->incap - c->inlen;
		int rc;
		if (c->ssl) {
			ERR_clear_error();
			rc = SSL_read(c->ssl, c->in + c->inlen, (int)(room > (1u << 30) ? 1u << 30 : room));
			if (rc <= 0) {
				int e = SSL_get_error(c->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				ERR_clear_error();
				kill_client(c, e == SSL_ERROR_ZERO_RETURN ? "closed by the client" : "read error or EOF");
				return;
			}
		} else {
			rc = (int)read(c->fd, c->in + c->inlen, room);
			if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EINTR)) {
				kill_client(c, "closed by the client");
				return;
			}
			if (rc < 0)
				return;
		}
		if (c->ws)
			ws_unwrap_input(c, (size_t)rc);
		else
			c->inlen += (size_t)rc;
		if (c->st != CS_STALL && cfg.misbehave != MB_STALL_UPGRADE)
			process_input(c);
		else
			c->inlen = 0;
		ws_close_if_ended(c);
		if (c->ssl && SSL_pending(c->ssl) == 0 && (size_t)rc < room)
			return;
	}
}

static void do_tls_accept(struct client *c)
{
	ERR_clear_error();
	int rc = SSL_accept(c->ssl);
	if (rc == 1) {
		c->st = cfg.tls_echo ? CS_ECHO : CS_HTTP;
		read_client(c); /* bytes may already be buffered */
		return;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	char buf[160] = "";
	ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
	ERR_clear_error();
	kill_client(c, buf[0] ? buf : "TLS handshake failed");
}

static void accept_clients(struct instance *in)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(in->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct client *c = dc_xcalloc(1, sizeof(*c));
		c->id = next_client_id++;
		c->inst = in;
		c->fd = fd;
		c->deadline = dc_now_ns() + HTTP_NS;
		dc_sockaddr_format((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			c->ip16[10] = c->ip16[11] = 0xff;
			memcpy(c->ip16 + 12, &s4->sin_addr, 4);
			c->port = ntohs(s4->sin_port);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			memcpy(c->ip16, &s6->sin6_addr, 16);
			c->port = ntohs(s6->sin6_port);
		}
		if (cfg.plain) {
			c->st = CS_HTTP;
		} else {
			c->ssl = SSL_new(in->ctx);
			SSL_set_fd(c->ssl, fd);
			SSL_set_accept_state(c->ssl);
			c->st = CS_TLS;
		}
		c->next = clients;
		clients = c;
	}
}

/* ---- mesh links ------------------------------------------------------------------------------ */

struct dial_job {
	int from, to;
};

struct dial_done {
	int from, to;
	struct dc_derp_conn *conn;
};

static void *dial_thread(void *arg)
{
	struct dial_job job = *(struct dial_job *)arg;
	free(arg);
	struct instance *from = &inst[job.from], *to = &inst[job.to];
	/* The peer's listener as a one-node region; derper meshes with its own key pair. */
	char host[64], port[16];
	snprintf(host, sizeof(host), "%s", to->addr);
	char *colon = strrchr(host, ':');
	snprintf(port, sizeof(port), "%s", colon + 1);
	*colon = '\0';
	char *ip = host;
	if (ip[0] == '[') {
		ip++;
		ip[strlen(ip) - 1] = '\0';
	}
	bool v6 = strchr(ip, ':') != NULL;
	struct dc_derp_node node = {
		.name = "mesh", .host_name = (char *)cfg.hostname, .cert_name = "",
		.ipv4 = v6 ? "none" : ip, .ipv6 = v6 ? ip : "none", .stun_test_ip = "", .derp_port = atoi(port),
	};
	struct dc_derp_region region = {.id = 0, .code = "mesh", .name = "", .nodes = &node, .node_count = 1};
	struct dc_derp_dial_opts opts = {
		.region = &region, .mesh_key = cfg.mesh_key, .private_key = from->sk, .timeout_ms = 5000,
		.ca_file = cfg.ca_file, .insecure = cfg.ca_file == NULL, .is_prober = false,
	};
	uint64_t give_up = dc_now_ns() + 20ull * 1000000000ull;
	for (;;) {
		struct dc_derp_conn *conn = dc_xcalloc(1, sizeof(*conn));
		struct dc_error err;
		if (dc_derp_connect(&opts, conn, &err) == 0) {
			dc_derp_put_watch_conns(&conn->wbuf);
			if (dc_derp_flush(conn, dc_now_ns() + 5000000000ull, &err) == 0) {
				struct dial_done done = {job.from, job.to, conn};
				if (write(wake_pipe[1], &done, sizeof(done)) != (ssize_t)sizeof(done))
					abort();
				return NULL;
			}
		}
		logf_(from, "mesh link to %s: %s", to->addr, err.what);
		dc_derp_close(conn);
		free(conn);
		if (dc_now_ns() > give_up)
			die("mesh link to %s never came up", to->addr);
		usleep(100000); /* a retry interval, like derper's mesh client */
	}
}

static void link_add(struct meshlink *l, const uint8_t key[32])
{
	if (link_has(l, key))
		return;
	if (l->npresent == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->present = dc_xrealloc(l->present, l->cap * 32);
	}
	memcpy(l->present[l->npresent++], key, 32);
}

static void link_remove(struct meshlink *l, const uint8_t key[32])
{
	for (size_t i = 0; i < l->npresent; i++)
		if (memcmp(l->present[i], key, 32) == 0) {
			memmove(l->present[i], l->present[i + 1], (l->npresent - i - 1) * 32);
			l->npresent--;
			return;
		}
}

static void read_link(struct instance *in, struct meshlink *l)
{
	struct dc_derp_msg m;
	struct dc_error err;
	int rc;
	/* 0 with bytes still buffered is dc_derp_recv's skip budget, not an empty stream. */
	while ((rc = dc_derp_recv(l->conn, 0, &m, &err)) == 1 || (rc == 0 && dc_derp_readable_now(l->conn))) {
		if (rc == 0)
			continue;
		if (m.type == DC_DERP_PEER_PRESENT && memcmp(m.u.peer_present.key, in->pk, 32) != 0)
			link_add(l, m.u.peer_present.key);
		else if (m.type == DC_DERP_PEER_GONE)
			link_remove(l, m.u.peer_gone.key);
	}
	if (rc < 0)
		die("mesh link from %s to %s broke: %s", in->addr, inst[l->to].addr, err.what);
}

/* ---- main loop ---------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_on(const char *spec, char *bound, size_t n)
{
	char host[64];
	snprintf(host, sizeof(host), "%s", spec);
	char *colon = strrchr(host, ':');
	if (!colon)
		die("--listen wants ADDR:PORT, got %s", spec);
	*colon = '\0';
	int port = atoi(colon + 1);
	char *ip = host;
	if (ip[0] == '[') {
		ip++;
		ip[strlen(ip) - 1] = '\0';
	}
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			die("bad address %s", ip);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			die("bad address %s", ip);
		sl = sizeof(*s4);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0)
		die("cannot listen on %s: %s", spec, strerror(errno));
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	dc_sockaddr_format((struct sockaddr *)&ss, bound, n);
	return fd;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: derpserver --cert FILE --key FILE [--listen ADDR:PORT]... [--hostname NAME]\n"
		"       [--mesh-key HEX] [--ca-file FILE] [--any-sni] [--plain] [--tls12] [--no-metacert]\n"
		"       [--refuse-clients] [--misbehave MODE] [--delay MS] [--drop-every N]\n"
		"       [--keepalive MS] [--tls-echo] [--no-websocket]\n"
		"MODE: oversize-frame bad-magic stall-mid-frame close-before-serverinfo derp-disabled\n"
		"      stall-upgrade bad-server-info chatty\n");
	exit(2);
}

static void ready_line(void)
{
	printf("ready");
	for (int i = 0; i < ninst; i++)
		printf(" %s", inst[i].addr);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cert", 1, 0, 'c'}, {"key", 1, 0, 'k'}, {"listen", 1, 0, 'l'}, {"hostname", 1, 0, 'H'},
		{"mesh-key", 1, 0, 'm'}, {"ca-file", 1, 0, 'C'}, {"any-sni", 0, 0, 'A'}, {"plain", 0, 0, 'P'},
		{"tls12", 0, 0, '2'}, {"no-metacert", 0, 0, 'N'}, {"refuse-clients", 0, 0, 'R'},
		{"misbehave", 1, 0, 'M'}, {"delay", 1, 0, 'd'}, {"drop-every", 1, 0, 'D'}, {"keepalive", 1, 0, 'K'},
		{"tls-echo", 0, 0, 'E'}, {"no-websocket", 0, 0, 'W'}, {0, 0, 0, 0},
	};
	const char *listens[MAX_INSTANCES];
	int nlisten = 0, opt;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'l':
			if (nlisten == MAX_INSTANCES)
				die("at most %d --listen", MAX_INSTANCES);
			listens[nlisten++] = optarg;
			break;
		case 'H': cfg.hostname = optarg; break;
		case 'm':
			if (dc_derp_key_parse(optarg, strlen(optarg), cfg.mesh_key) < 0)
				die("--mesh-key wants 64 hex digits");
			cfg.have_mesh_key = true;
			break;
		case 'C': cfg.ca_file = optarg; break;
		case 'A': cfg.any_sni = true; break;
		case 'P': cfg.plain = true; break;
		case '2': cfg.tls12 = true; break;
		case 'N': cfg.no_metacert = true; break;
		case 'R': cfg.refuse_clients = true; break;
		case 'E': cfg.tls_echo = true; break;
		case 'W': cfg.no_websocket = true; break;
		case 'M': {
			size_t i;
			for (i = 0; i < DC_ARRAY_LEN(misbehave_names); i++)
				if (strcmp(optarg, misbehave_names[i]) == 0)
					break;
			if (i == DC_ARRAY_LEN(misbehave_names))
				usage();
			cfg.misbehave = (enum misbehave)i;
			break;
		}
		case 'd': cfg.delay_ns = (uint64_t)atol(optarg) * 1000000u; break;
		case 'D': cfg.drop_every = (unsigned)atoi(optarg); break;
		case 'K': cfg.keepalive_ns = (uint64_t)atol(optarg) * 1000000u; break;
		default: usage();
		}
	}
	if (optind != argc || (!cfg.plain && (!cfg.cert_file || !cfg.key_file)))
		usage();
	if (nlisten == 0)
		listens[nlisten++] = "127.0.0.1:0";
	if (sodium_init() < 0)
		die("libsodium failed to initialise");
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		die("pipe: %s", strerror(errno));

	ninst = nlisten;
	for (int i = 0; i < ninst; i++) {
		struct instance *in = &inst[i];
		in->idx = i;
		crypto_box_keypair(in->pk, in->sk);
		in->lfd = listen_on(listens[i], in->addr, sizeof(in->addr));
		if (!cfg.plain)
			in->ctx = make_ctx(in);
		char hex[65];
		dc_derp_key_hex(in->pk, hex);
		logf_(in, "listening on %s%s, server key %s", in->addr, cfg.plain ? " (plain HTTP)" : " with TLS", hex);
	}
	if (cfg.have_mesh_key && ninst > 1 && !cfg.plain) {
		for (int i = 0; i < ninst; i++)
			for (int j = 0; j < ninst; j++) {
				inst[i].links[j].to = j;
				if (i == j)
					continue;
				struct dial_job *job = dc_xmalloc(sizeof(*job));
				*job = (struct dial_job){i, j};
				pthread_t t;
				if (pthread_create(&t, NULL, dial_thread, job) != 0)
					die("pthread_create failed");
				pthread_detach(t);
				links_expected++;
			}
	} else {
		ready_line();
	}

	struct pollfd *pfd = NULL;
	size_t pcap = 0;
	while (!stop) {
		uint64_t now = dc_now_ns();
		run_delayed(now);
		bool congested = false;
		for (struct client *c = clients; c; c = c->next)
			congested |= outq_pending(&c->out) > OUT_HIGH;
		for (int i = 0; i < ninst; i++)
			for (int j = 0; j < ninst; j++)
				congested |= outq_pending(&inst[i].links[j].out) > OUT_HIGH;

		/* Flush, expire, and drop the dead. */
		for (struct client **pp = &clients; *pp;) {
			struct client *c = *pp;
			if (!c->dead)
			ws_frame_output(c);
		if (!c->dead && outq_pending(&c->out) && outq_flush(c->ssl, c->fd, &c->out) < 0)
				kill_client(c, "write failed");
			if (!c->dead && c->close_after_flush && !outq_pending(&c->out))
				kill_client(c, "response sent");
			if (!c->dead && c->flood && outq_pending(&c->out) < (1u << 20))
				add_flood(c);
			if (!c->dead && c->st == CS_DERP && now >= c->next_keepalive) {
				dc_derp_put_keep_alive(&c->out.b);
				c->next_keepalive = now + cfg.keepalive_ns;
			}
			if (!c->dead && (c->st == CS_TLS || c->st == CS_HTTP || c->st == CS_WAIT_INFO) && now >= c->deadline &&
			    cfg.misbehave != MB_STALL_UPGRADE)
				kill_client(c, "handshake deadline");
			if (c->dead) {
				*pp = c->next;
				free_client(c);
				continue;
			}
			pp = &c->next;
		}
		for (int i = 0; i < ninst; i++)
			for (int j = 0; j < ninst; j++) {
				struct meshlink *l = &inst[i].links[j];
				if (l->conn && outq_pending(&l->out) && outq_flush(l->conn->tls.ssl, l->conn->tls.fd, &l->out) < 0)
					die("mesh link from %s to %s: write failed", inst[i].addr, inst[j].addr);
			}

		size_t n = 0, want = (size_t)ninst * (1 + (size_t)ninst) + 1;
		for (struct client *c = clients; c; c = c->next)
			want++;
		if (want > pcap) {
			pcap = want * 2;
			pfd = dc_xrealloc(pfd, pcap * sizeof(*pfd));
		}
		pfd[n++] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
		for (int i = 0; i < ninst; i++)
			pfd[n++] = (struct pollfd){.fd = inst[i].lfd, .events = POLLIN};
		for (int i = 0; i < ninst; i++)
			for (int j = 0; j < ninst; j++) {
				struct meshlink *l = &inst[i].links[j];
				if (l->conn)
					pfd[n++] = (struct pollfd){.fd = l->conn->tls.fd,
								   .events = (short)(POLLIN | (outq_pending(&l->out) ? POLLOUT : 0))};
			}
		size_t first_client = n;
		for (struct client *c = clients; c; c = c->next) {
			short ev = outq_pending(&c->out) ? POLLOUT : 0;
			if (!(congested && c->st == CS_DERP && !c->can_mesh) && c->st != CS_STALL)
				ev |= POLLIN;
			if (c->st == CS_TLS)
				ev |= POLLIN;
			pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		/* ppoll: injected delays are kept to the microsecond, not rounded up to a millisecond. */
		uint64_t wait_ns = 1000000000u;
		if (dq_head) {
			uint64_t t = dc_now_ns();
			uint64_t left = dq_head->due > t ? dq_head->due - t : 0;
			if (left < wait_ns)
				wait_ns = left;
		}
		struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000u), .tv_nsec = (long)(wait_ns % 1000000000u)};
		int rc = ppoll(pfd, n, &ts, NULL);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[0].revents) {
			struct dial_done done;
			while (read(wake_pipe[0], &done, sizeof(done)) == (ssize_t)sizeof(done)) {
				struct meshlink *l = &inst[done.from].links[done.to];
				l->conn = done.conn;
				SSL_set_mode(l->conn->tls.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
				logf_(&inst[done.from], "mesh link to %s up", inst[done.to].addr);
				read_link(&inst[done.from], l); /* PeerPresent frames may be buffered already */
				if (++links_up == links_expected)
					ready_line();
			}
		}
		for (int i = 0; i < ninst; i++)
			for (int j = 0; j < ninst; j++)
				if (inst[i].links[j].conn)
					read_link(&inst[i], &inst[i].links[j]);
		size_t k = first_client;
		for (struct client *c = clients; c && k < n; c = c->next) {
			short re = pfd[k++].revents;
			if (!re || c->dead)
				continue;
			if (c->st == CS_TLS)
				do_tls_accept(c);
			else if (re & (POLLIN | POLLHUP | POLLERR))
				read_client(c);
		}
		/* Last, so that the client list still matches the poll set above. */
		for (int i = 0; i < ninst; i++)
			if (pfd[1 + i].revents)
				accept_clients(&inst[i]);
	}
	for (struct client *c = clients; c;) {
		struct client *next = c->next;
		c->registered = false;
		free_client(c);
		c = next;
	}
	while (dq_head) {
		struct delayed *d = dq_head;
		dq_head = d->next;
		free(d);
	}
	for (int i = 0; i < ninst; i++) {
		for (int j = 0; j < ninst; j++) {
			struct meshlink *l = &inst[i].links[j];
			if (l->conn) {
				dc_derp_close(l->conn);
				free(l->conn);
			}
			dc_buf_free(&l->out.b);
			free(l->present);
		}
		if (inst[i].ctx)
			SSL_CTX_free(inst[i].ctx);
		close(inst[i].lfd);
		sodium_memzero(inst[i].sk, sizeof(inst[i].sk));
	}
	free(pfd);
	return 0;
}
