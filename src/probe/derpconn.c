#include "derpcheck/probe/derpconn.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "derpcheck/net/nodeaddr.h"
#include "derpcheck/probe/proxyprobe.h"
#include "derpcheck/probe/wsio.h"

#include "derpcheck/net/ossl.h"

#define RBUF_INITIAL (64u * 1024u)
#define DEFAULT_TIMEOUT_MS 10000 /* Tailscale: the whole connect */
#define DEFAULT_NODE_MS 1500     /* Tailscale: TCP per node */

const char *dc_derp_failure_name(enum dc_derp_failure f)
{
	switch (f) {
	case DC_DERP_OK: return "ok";
	case DC_DERP_NO_NODE: return "no-node";
	case DC_DERP_DNS: return "dns";
	case DC_DERP_TCP_REFUSED: return "tcp-refused";
	case DC_DERP_TCP_TIMEOUT: return "tcp-timeout";
	case DC_DERP_UNREACHABLE: return "unreachable";
	case DC_DERP_NOT_TLS: return "not-tls";
	case DC_DERP_TLS_ALERT: return "tls-alert";
	case DC_DERP_TLS_FAILED: return "tls-failed";
	case DC_DERP_TRUST_STORE: return "trust-store";
	case DC_DERP_CERT: return "certificate";
	case DC_DERP_HTTP_STATUS: return "http-status";
	case DC_DERP_BAD_UPGRADE: return "bad-upgrade";
	case DC_DERP_BAD_MAGIC: return "bad-magic";
	case DC_DERP_FRAME_TOO_LARGE: return "frame-too-large";
	case DC_DERP_PROTOCOL: return "protocol";
	case DC_DERP_NOT_ADMITTED: return "not-admitted";
	case DC_DERP_BAD_SERVER_INFO: return "bad-server-info";
	case DC_DERP_TIMEOUT: return "timeout";
	case DC_DERP_CLOSED: return "closed";
	case DC_DERP_IO: return "io";
	}
	return "?";
}

const char *dc_derp_phase_name(enum dc_derp_phase p)
{
	switch (p) {
	case DC_DERP_PHASE_DNS: return "dns";
	case DC_DERP_PHASE_TCP: return "tcp";
	case DC_DERP_PHASE_TLS: return "tls";
	case DC_DERP_PHASE_VERIFY: return "verify";
	case DC_DERP_PHASE_UPGRADE: return "upgrade";
	case DC_DERP_PHASE_HANDSHAKE: return "handshake";
	case DC_DERP_PHASE_CONNECTED: return "connected";
	}
	return "?";
}

const char *dc_derp_transport_name(enum dc_derp_transport t)
{
	switch (t) {
	case DC_DERP_TRANSPORT_DERP: return "derp";
	case DC_DERP_TRANSPORT_WEBSOCKET: return "websocket";
	case DC_DERP_TRANSPORT_AUTO: return "auto";
	}
	return "?";
}

int dc_derp_transport_parse(const char *text, enum dc_derp_transport *out)
{
	for (int t = DC_DERP_TRANSPORT_DERP; t <= DC_DERP_TRANSPORT_AUTO; t++)
		if (strcmp(text, dc_derp_transport_name((enum dc_derp_transport)t)) == 0) {
			*out = (enum dc_derp_transport)t;
			return 0;
		}
	return -1;
}

static int remaining_ms(uint64_t deadline_ns)
{
	uint64_t now = dc_now_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* 1 ready, 0 deadline passed (deadline 0: only a look), -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, remaining_ms(deadline_ns));
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc > 0;
	}
}

/* ---- the read side ------------------------------------------------------------------------ */

/* Room for need bytes from roff on, and at least a few KiB to read into. */
static void rbuf_prepare(struct dc_derp_conn *c, size_t need)
{
	if (c->roff == c->rlen)
		c->roff = c->rlen = 0;
	if (c->roff > 0 && (c->rcap - c->rlen < 16384 || c->rcap - c->roff < need)) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	size_t want = need > c->rlen + 16384 ? need : c->rlen + 16384;
	if (want > c->rcap) {
		size_t cap = c->rcap * 2 > want ? c->rcap * 2 : want;
		c->rbuf = dc_xrealloc(c->rbuf, cap);
		c->rcap = cap;
	}
}

enum { FILL_GOT = 1, FILL_CLOSED = 0, FILL_ERROR = -1, FILL_WAIT = -2 };

/* ---- the byte stream over TLS ------------------------------------------------------------- */

static long tls_io_read(void *ctx, void *buf, size_t n)
{
	struct dc_tls_conn *t = ctx;
	ERR_clear_error();
	int rc = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (rc > 0)
		return rc;
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ||
	    (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		ERR_clear_error();
		return 0; /* with or without close_notify, the stream ended */
	}
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ ? DC_DERP_IO_WANT_READ : e == SSL_ERROR_WANT_WRITE ? DC_DERP_IO_WANT_WRITE : -1;
}

static int tls_io_write(void *ctx, const void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err)
{
	struct dc_tls_conn *t = ctx;
	if (dc_tls_write_all(t, buf, n, deadline_ns, err) == 0)
		return 0;
	return t->failure == DC_CONN_TIMEOUT ? DC_DERP_IO_TIMEOUT : -1;
}

static size_t tls_io_pending(void *ctx)
{
	struct dc_tls_conn *t = ctx;
	return t->ssl && SSL_pending(t->ssl) > 0 ? (size_t)SSL_pending(t->ssl) : 0;
}

static void attach_tls(struct dc_derp_conn *c)
{
	c->io = (struct dc_derp_io){.read = tls_io_read, .write = tls_io_write, .pending = tls_io_pending,
				    .fd = c->tls.fd, .ctx = &c->tls};
}

/* The stream is gone (failed or closed): nothing is read or written any more. */
static void detach(struct dc_derp_conn *c)
{
	if (c->io.release)
		c->io.release(c->io.ctx);
	dc_tls_close(&c->tls);
	memset(&c->io, 0, sizeof(c->io));
	c->io.fd = -1;
}

/* " (the server closed the WebSocket (1008 policy violation: ...))", or "". */
static void end_note(const struct dc_derp_conn *c, char *out, size_t n)
{
	char note[300] = "";
	if (c->io.end_note)
		c->io.end_note(c->io.ctx, note, sizeof(note));
	snprintf(out, n, "%s%s%s", note[0] ? ": " : "", note, "");
}

/* Read what the server has sent; waits until deadline_ns (0: not at all). */
static int fill(struct dc_derp_conn *c, size_t need, uint64_t deadline_ns)
{
	rbuf_prepare(c, need);
	for (;;) {
		if (!c->io.read)
			return FILL_CLOSED;
		long rc = c->io.read(c->io.ctx, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (rc > 0) {
			c->rlen += (size_t)rc;
			return FILL_GOT;
		}
		if (rc == 0)
			return FILL_CLOSED;
		if (rc != DC_DERP_IO_WANT_READ && rc != DC_DERP_IO_WANT_WRITE)
			return FILL_ERROR;
		int ready = wait_fd(c->io.fd, rc == DC_DERP_IO_WANT_WRITE ? POLLOUT : POLLIN, deadline_ns);
		if (ready == 0)
			return FILL_WAIT;
		if (ready < 0)
			return FILL_ERROR;
	}
}

/* The next frame: 1; 0 the server closed; FILL_WAIT at the deadline; -1 with err. */
static int next_frame(struct dc_derp_conn *c, uint32_t max, uint64_t deadline_ns, struct dc_derp_frame *f,
		      size_t *need, struct dc_error *err)
{
	for (;;) {
		size_t consumed = 0;
		*need = DC_DERP_FRAME_HEADER_LEN;
		int rc = dc_derp_frame_next(c->rbuf + c->roff, c->rlen - c->roff, max, f, &consumed, need, err);
		if (rc == 1) {
			c->roff += consumed;
			return 1;
		}
		if (rc < 0) {
			c->failure = DC_DERP_FRAME_TOO_LARGE;
			if (err)
				snprintf(err->where, sizeof(err->where), "%s", c->tls.peer);
			dc_error_hint(err, "Tailscale clients drop the connection on such a frame too: this is not a compatible DERP server, or something corrupts the stream");
			return -1;
		}
		rc = fill(c, *need, deadline_ns);
		if (rc == FILL_GOT)
			continue;
		if (rc == FILL_ERROR) {
			char note[320];
			end_note(c, note, sizeof(note));
			c->failure = DC_DERP_IO;
			return dc_error_set(err, c->tls.peer, "reading from the server failed%s", note);
		}
		return rc; /* FILL_CLOSED or FILL_WAIT */
	}
}

/* "(received 20 of 45 bytes of a ServerKey frame)" for timeouts, or "". */
static void partial_note(const struct dc_derp_conn *c, size_t need, char *out, size_t n)
{
	size_t have = c->rlen - c->roff;
	out[0] = '\0';
	if (have == 0)
		return;
	const char *name = dc_derp_frame_name(c->rbuf[c->roff]);
	snprintf(out, n, " (received %zu of the %zu bytes of a %s frame)", have, need, name ? name : "DERP");
}

/* ---- writing ----------------------------------------------------------------------------- */

void dc_derp_queue_packet(struct dc_derp_conn *c, const uint8_t dst[DC_DERP_KEY_LEN], const void *data, size_t n)
{
	dc_derp_put_send_packet(&c->wbuf, dst, data, n);
}

void dc_derp_queue_ping(struct dc_derp_conn *c, const uint8_t data[8])
{
	dc_derp_put_ping(&c->wbuf, DC_DERP_PING, data);
}

void dc_derp_queue_note_preferred(struct dc_derp_conn *c, bool preferred)
{
	dc_derp_put_note_preferred(&c->wbuf, preferred);
}

void dc_derp_queue_watch_conns(struct dc_derp_conn *c)
{
	dc_derp_put_watch_conns(&c->wbuf);
}

int dc_derp_flush(struct dc_derp_conn *c, uint64_t deadline_ns, struct dc_error *err)
{
	if (c->wbuf.len == 0)
		return 0;
	if (!c->io.write) {
		c->failure = DC_DERP_CLOSED;
		return dc_error_set(err, c->tls.peer, "the connection is closed");
	}
	int rc = c->io.write(c->io.ctx, c->wbuf.data, c->wbuf.len, deadline_ns, err);
	c->wbuf.len = 0;
	if (rc < 0) {
		c->failure = rc == DC_DERP_IO_TIMEOUT ? DC_DERP_TIMEOUT : DC_DERP_CLOSED;
		return -1;
	}
	return 0;
}

/* ---- connecting ----------------------------------------------------------------------------- */

/* Set the attempt's failure; err is the attempt's own error. Always -1. */
static int failed(struct dc_derp_conn *c, struct dc_derp_attempt *a, enum dc_derp_failure why, enum dc_derp_phase phase)
{
	a->failure = why;
	a->phase = phase;
	c->failure = why;
	c->phase = phase;
	if (c->tls.peer[0] && !a->addr[0])
		snprintf(a->addr, sizeof(a->addr), "%s", c->tls.peer);
	detach(c);
	return -1;
}

static enum dc_derp_failure from_tls(enum dc_conn_failure f)
{
	switch (f) {
	case DC_CONN_REFUSED: return DC_DERP_TCP_REFUSED;
	case DC_CONN_UNREACHABLE: return DC_DERP_UNREACHABLE;
	case DC_CONN_TIMEOUT: return DC_DERP_TCP_TIMEOUT;
	case DC_CONN_NOT_TLS: return DC_DERP_NOT_TLS;
	case DC_CONN_TLS_ALERT: return DC_DERP_TLS_ALERT;
	case DC_CONN_TLS_FAILED:
	case DC_CONN_CLOSED: return DC_DERP_TLS_FAILED;
	default: return DC_DERP_IO;
	}
}

/* One line on why the certificate fails, the way Tailscale would refuse it. */
static void cert_cause(const struct dc_tls_verdict *v, char *out, size_t n)
{
	if (v->count == 0) {
		snprintf(out, n, "the certificate does not verify");
		return;
	}
	const struct dc_tls_problem *p = &v->problems[0];
	/* Prefer the problem a person can act on first: a name mismatch says the most. */
	for (size_t i = 0; i < v->count; i++)
		if (v->problems[i].code == X509_V_ERR_HOSTNAME_MISMATCH || v->problems[i].code == DC_TLS_ERR_PIN_MISMATCH)
			p = &v->problems[i];
	char subject[sizeof(p->subject) + 2] = "";
	if (p->subject[0])
		snprintf(subject, sizeof(subject), ", %s", p->subject);
	if (v->pinned)
		snprintf(out, n, "the certificate does not match the sha256-raw: pin in CertName: %s (depth %d%s)", p->text,
			 p->depth, subject);
	else if (v->name_checked)
		snprintf(out, n, "the certificate does not verify for %s: %s (depth %d%s)", v->name_checked, p->text, p->depth,
			 subject);
	else
		snprintf(out, n, "the certificate does not verify: %s (depth %d%s)", p->text, p->depth, subject);
}

static void upgrade_status_hint(struct dc_error *err, const struct dc_derp_upgrade *u)
{
	if (u->status == 404)
		dc_error_hint(err, "derper answers 404 on /derp when it runs with --derp=false; otherwise a reverse proxy in front of it does not route /derp to derper");
	else if (u->status == 426)
		dc_error_hint(err, "something between derpcheck and derper dropped the Upgrade header: a reverse proxy must pass Upgrade and Connection through");
	else if (u->status >= 300 && u->status < 400)
		dc_error_hint(err, "the server redirects /derp%s%s: derper's plain-HTTP port redirects to HTTPS, so DERPPort points at the wrong port",
			      u->location[0] ? " to " : "", u->location);
	else if (u->status >= 200 && u->status < 300)
		dc_error_hint(err, "a web server answered /derp as a page: derper is not what listens on this port");
	else if (u->status == 401 || u->status == 403)
		dc_error_hint(err, "a proxy or access rule in front of derper refuses /derp");
	else if (u->status >= 500)
		dc_error_hint(err, "a reverse proxy in front of derper could not reach it, or derper failed");
	else
		dc_error_hint(err, "derper answers GET /derp with 101 Switching Protocols; something else answered here");
}

/* The first line of the body, if it arrives within a short wait, for the error message. */
static void upgrade_body(struct dc_derp_conn *c, const struct dc_derp_upgrade *u, uint64_t deadline, char *out, size_t n)
{
	size_t want = u->content_length >= 0 ? (size_t)u->content_length : 256;
	if (want > 256)
		want = 256;
	uint64_t until = dc_now_ns() + 300000000u;
	if (until > deadline)
		until = deadline;
	while (c->rlen - c->roff - u->header_len < want && fill(c, u->header_len + want, until) == FILL_GOT)
		;
	const char *body = (const char *)c->rbuf + c->roff + u->header_len;
	size_t have = c->rlen - c->roff - u->header_len;
	if (have > want)
		have = want;
	size_t k = 0;
	for (size_t i = 0; i < have && k + 1 < n && body[i] != '\n' && body[i] != '\r'; i++)
		out[k++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '?';
	out[k] = '\0';
}

static void write_request(struct dc_derp_conn *c, const struct dc_derp_node *node, bool fast)
{
	int port = dc_node_derp_port(node);
	dc_buf_printf(&c->wbuf, "GET /derp HTTP/1.1\r\nHost: %s", node->host_name);
	if (port != 443)
		dc_buf_printf(&c->wbuf, ":%d", port);
	dc_buf_printf(&c->wbuf, "\r\nUser-Agent: derpcheck/%s\r\n", DERPCHECK_VERSION);
	if (c->transport == DC_DERP_TRANSPORT_WEBSOCKET) {
		/* What Tailscale's WebSocket client sends (derp/derphttp/websocket.go): no fast start there. */
		uint8_t nonce[16];
		randombytes_buf(nonce, sizeof(nonce));
		dc_ws_key_make(nonce, c->ws_key);
		dc_ws_put_upgrade_headers(&c->wbuf, c->ws_key);
		dc_buf_printf(&c->wbuf, "\r\n");
		return;
	}
	dc_buf_printf(&c->wbuf, "Connection: Upgrade\r\n");
	if (fast)
		dc_buf_printf(&c->wbuf, "Derp-Fast-Start: 1\r\n");
	/* Stats only: tells the server the client would rather be on the region's first node. */
	if (c->region && c->region->node_count && node != &c->region->nodes[0])
		dc_buf_printf(&c->wbuf, "Ideal-Node: %s\r\n", c->region->nodes[0].name);
	dc_buf_printf(&c->wbuf, "Upgrade: DERP\r\n\r\n");
}

static int send_client_info(struct dc_derp_conn *c, const struct dc_derp_dial_opts *o)
{
	struct dc_derp_client_info ci = {
		.version = DC_DERP_PROTOCOL_VERSION,
		.can_ack_pings = true,
		.is_prober = o->is_prober,
		.app_name = o->app_name,
		.mesh_key = o->mesh_key,
		.mesh_key_text = o->mesh_key_text,
	};
	char *json = dc_derp_client_info_json(&ci);
	uint8_t nonce[DC_DERP_NONCE_LEN];
	randombytes_buf(nonce, sizeof(nonce));
	int rc = dc_derp_client_info_seal(&c->wbuf, c->public_key, c->private_key, c->server_key, nonce, json, strlen(json));
	free(json);
	return rc;
}

/* Read and check the answer to GET /derp; on success roff is past the header. */
static int read_upgrade(struct dc_derp_conn *c, struct dc_derp_attempt *a, uint64_t deadline)
{
	struct dc_derp_upgrade u;
	for (;;) {
		int rc = dc_derp_upgrade_parse(c->rbuf + c->roff, c->rlen - c->roff, &u, &a->err);
		if (rc < 0) {
			snprintf(a->err.where, sizeof(a->err.where), "%s", c->tls.peer);
			dc_error_hint(&a->err, "something other than derper answers on this port (another web server, or a proxy that does not speak HTTP/1.1 upgrades)");
			return failed(c, a, DC_DERP_BAD_UPGRADE, DC_DERP_PHASE_UPGRADE);
		}
		if (rc == 1)
			break;
		int r = fill(c, DC_DERP_UPGRADE_MAX, deadline);
		if (r == FILL_GOT)
			continue;
		if (r == FILL_WAIT) {
			dc_error_set(&a->err, c->tls.peer, "no answer to the DERP upgrade (GET /derp) before the deadline");
			dc_error_hint(&a->err, "TLS works but nothing answers HTTP: a wedged derper, or a proxy that holds the request");
			return failed(c, a, DC_DERP_TIMEOUT, DC_DERP_PHASE_UPGRADE);
		}
		if (r == FILL_CLOSED) {
			dc_error_set(&a->err, c->tls.peer, "the server closed the connection instead of answering the DERP upgrade (GET /derp)");
			dc_error_hint(&a->err, "something other than derper holds this port, or a proxy refuses the upgrade");
			return failed(c, a, DC_DERP_BAD_UPGRADE, DC_DERP_PHASE_UPGRADE);
		}
		dc_error_set(&a->err, c->tls.peer, "reading the answer to the DERP upgrade failed");
		return failed(c, a, DC_DERP_IO, DC_DERP_PHASE_UPGRADE);
	}
	bool ws = c->transport == DC_DERP_TRANSPORT_WEBSOCKET;
	if (u.status != 101) {
		char body[160];
		upgrade_body(c, &u, deadline, body, sizeof(body));
		dc_error_set(&a->err, c->tls.peer, "the server answered the %s upgrade with HTTP %d%s%s, not 101 Switching Protocols%s%s%s",
			     ws ? "WebSocket" : "DERP", u.status, u.reason[0] ? " " : "", u.reason, body[0] ? ": \"" : "", body,
			     body[0] ? "\"" : "");
		upgrade_status_hint(&a->err, &u);
		return failed(c, a, DC_DERP_HTTP_STATUS, DC_DERP_PHASE_UPGRADE);
	}
	if (ws) {
		if (dc_ws_answer_check(&u, c->ws_key, &a->err) != DC_WS_ANSWER_OK) {
			snprintf(a->err.where, sizeof(a->err.where), "%s", c->tls.peer);
			return failed(c, a, DC_DERP_BAD_UPGRADE, DC_DERP_PHASE_UPGRADE);
		}
		/* From here on the bytes are WebSocket frames: what already arrived is their start. */
		c->roff += u.header_len;
		struct dc_derp_io lower = c->io;
		dc_ws_io_attach(&c->io, &lower, c->rbuf + c->roff, c->rlen - c->roff);
		c->roff = c->rlen = 0;
		return 0;
	}
	c->http_derp_version = u.derp_version;
	if (u.has_public_key) {
		memcpy(c->server_key, u.public_key, DC_DERP_KEY_LEN);
	}
	c->roff += u.header_len; /* what follows already belongs to the DERP stream (§1.2) */
	return 0;
}

static int handshake_wait_failed(struct dc_derp_conn *c, struct dc_derp_attempt *a, int rc, size_t need, const char *waiting)
{
	if (rc == FILL_WAIT) {
		char note[120];
		partial_note(c, need, note, sizeof(note));
		dc_error_set(&a->err, c->tls.peer, "timed out waiting for %s%s", waiting, note);
		dc_error_hint(&a->err, "the server stopped in the middle of the DERP handshake: a wedged or overloaded derper, or a proxy that buffers the upgraded stream");
		return failed(c, a, DC_DERP_TIMEOUT, DC_DERP_PHASE_HANDSHAKE);
	}
	if (rc == FILL_CLOSED) {
		char note[320];
		end_note(c, note, sizeof(note));
		dc_error_set(&a->err, c->tls.peer, "the server closed the connection while we waited for %s%s", waiting, note);
		dc_error_hint(&a->err, "this is not a DERP server, or it failed before the handshake");
		return failed(c, a, DC_DERP_PROTOCOL, DC_DERP_PHASE_HANDSHAKE);
	}
	return failed(c, a, c->failure, DC_DERP_PHASE_HANDSHAKE); /* err set by next_frame */
}

static int handshake(struct dc_derp_conn *c, const struct dc_derp_dial_opts *o, struct dc_derp_attempt *a,
		     uint64_t deadline)
{
	struct dc_derp_frame f;
	size_t need;
	int rc;
	if (!c->fast_start) {
		uint8_t header_key[DC_DERP_KEY_LEN];
		bool had_header_key = !sodium_is_zero(c->server_key, DC_DERP_KEY_LEN);
		memcpy(header_key, c->server_key, sizeof(header_key));
		rc = next_frame(c, DC_DERP_MAX_FRAME, deadline, &f, &need, &a->err);
		if (rc != 1)
			return handshake_wait_failed(c, a, rc, need, "the ServerKey frame");
		if (f.type != DC_DERP_SERVER_KEY) {
			const char *name = dc_derp_frame_name(f.type);
			dc_error_set(&a->err, c->tls.peer, "the first DERP frame is %s (0x%02x), not ServerKey",
				     name ? name : "of an unknown type", f.type);
			dc_error_hint(&a->err, "the server does not start the DERP handshake as derper does: an incompatible or broken server");
			return failed(c, a, DC_DERP_PROTOCOL, DC_DERP_PHASE_HANDSHAKE);
		}
		if (f.len > DC_DERP_MAX_SERVER_KEY) {
			dc_error_set(&a->err, c->tls.peer, "the ServerKey frame has %lu bytes; Tailscale reads at most %u",
				     (unsigned long)f.len, DC_DERP_MAX_SERVER_KEY);
			dc_error_hint(&a->err, "this is not a compatible DERP server");
			return failed(c, a, DC_DERP_FRAME_TOO_LARGE, DC_DERP_PHASE_HANDSHAKE);
		}
		if (dc_derp_server_key_parse(f.payload, f.len, c->server_key, &a->err) < 0) {
			snprintf(a->err.where, sizeof(a->err.where), "%s", c->tls.peer);
			bool magic = f.len >= DC_DERP_MAGIC_LEN + DC_DERP_KEY_LEN;
			dc_error_hint(&a->err, "the port completes the DERP upgrade but does not speak DERP: an incompatible server, or something rewriting the stream");
			return failed(c, a, magic ? DC_DERP_BAD_MAGIC : DC_DERP_PROTOCOL, DC_DERP_PHASE_HANDSHAKE);
		}
		if (had_header_key && memcmp(header_key, c->server_key, DC_DERP_KEY_LEN) != 0)
			c->key_mismatch = true;
		if (c->metacert && memcmp(c->metacert_key, c->server_key, DC_DERP_KEY_LEN) != 0)
			c->key_mismatch = true;
		if (send_client_info(c, o) < 0) {
			dc_error_set(&a->err, c->tls.peer, "the server's key cannot be used to seal ClientInfo (a weak Curve25519 key)");
			return failed(c, a, DC_DERP_PROTOCOL, DC_DERP_PHASE_HANDSHAKE);
		}
		if (dc_derp_flush(c, deadline, &a->err) < 0) {
			c->failure = c->failure == DC_DERP_TIMEOUT ? DC_DERP_TIMEOUT : DC_DERP_NOT_ADMITTED;
			if (c->failure == DC_DERP_NOT_ADMITTED)
				dc_error_set(&a->err, c->tls.peer, "the server closed the connection before it read ClientInfo");
			return failed(c, a, c->failure, DC_DERP_PHASE_HANDSHAKE);
		}
	}
	uint64_t skipped_keep_alives = 0, skipped_unknown = 0;
	for (;;) {
		/* A server that sends anything but ServerInfo, fast enough that no read ever waits,
		 * must still meet the deadline: the clock is checked for every frame. */
		if ((skipped_keep_alives || skipped_unknown) && dc_now_ns() >= deadline) {
			if (skipped_unknown)
				dc_error_set(&a->err, c->tls.peer,
					     "timed out waiting for ServerInfo: the server sent %llu KeepAlive and %llu unknown frames instead",
					     (unsigned long long)skipped_keep_alives, (unsigned long long)skipped_unknown);
			else
				dc_error_set(&a->err, c->tls.peer, "timed out waiting for ServerInfo: the server sent %llu KeepAlive frames instead",
					     (unsigned long long)skipped_keep_alives);
			dc_error_hint(&a->err, "a DERP server admits a client with ServerInfo right after ClientInfo; this one stalls the handshake with filler frames: a broken or hostile server");
			return failed(c, a, DC_DERP_TIMEOUT, DC_DERP_PHASE_HANDSHAKE);
		}
		rc = next_frame(c, DC_DERP_MAX_FRAME, deadline, &f, &need, &a->err);
		if (rc == FILL_CLOSED) {
			dc_error_set(&a->err, c->tls.peer, "the server closed the connection after ClientInfo without sending ServerInfo: it did not admit this client");
			dc_error_hint(&a->err, "derper run with --verify-clients or --verify-client-url admits only nodes of its tailnet, and derpcheck's throwaway key is not one; otherwise the server could not read ClientInfo (a protocol version it does not know)");
			return failed(c, a, DC_DERP_NOT_ADMITTED, DC_DERP_PHASE_HANDSHAKE);
		}
		if (rc != 1)
			return handshake_wait_failed(c, a, rc, need, "ServerInfo");
		if (f.type == DC_DERP_SERVER_INFO)
			break;
		if (f.type == DC_DERP_SERVER_KEY && c->fast_start) {
			/* Fast start: the server still sends ServerKey first; Go skips it. */
			uint8_t k[DC_DERP_KEY_LEN];
			if (dc_derp_server_key_parse(f.payload, f.len, k, NULL) == 0 && memcmp(k, c->server_key, DC_DERP_KEY_LEN) != 0)
				c->key_mismatch = true;
			continue;
		}
		if (f.type == DC_DERP_KEEP_ALIVE) {
			c->keep_alives++;
			skipped_keep_alives++;
			continue;
		}
		if (!dc_derp_frame_name(f.type)) {
			c->unknown_frames++;
			skipped_unknown++;
			continue;
		}
		dc_error_set(&a->err, c->tls.peer, "the server sent %s before ServerInfo", dc_derp_frame_name(f.type));
		dc_error_hint(&a->err, "an incompatible DERP server: ServerInfo must come first once the client is admitted");
		return failed(c, a, DC_DERP_PROTOCOL, DC_DERP_PHASE_HANDSHAKE);
	}
	char *json = NULL;
	size_t n = 0;
	if (dc_derp_server_info_open(f.payload, f.len, c->server_key, c->private_key, &json, &n, &a->err) < 0 ||
	    dc_derp_server_info_parse(json, n, &c->info, &a->err) < 0) {
		free(json);
		snprintf(a->err.where, sizeof(a->err.where), "%s", c->tls.peer);
		dc_error_hint(&a->err, c->key_mismatch
			? "the server's key changed between the certificate, the header and the handshake: two servers behind one load balancer, or not a real DERP server"
			: "the server is not a compatible DERP server");
		return failed(c, a, DC_DERP_BAD_SERVER_INFO, DC_DERP_PHASE_HANDSHAKE);
	}
	free(json);
	return 0;
}

/* Fast start expects DERP frames at once; an HTTP status line instead is an answer to read. */
static bool answered_with_http(struct dc_derp_conn *c, uint64_t deadline)
{
	while (c->rlen - c->roff < 5)
		if (fill(c, 5, deadline) != FILL_GOT)
			return false; /* the frame loop reports the timeout or the close */
	return memcmp(c->rbuf + c->roff, "HTTP/", 5) == 0;
}

static int derp_session(struct dc_derp_conn *c, const struct dc_derp_dial_opts *o, const struct dc_derp_node *node,
			bool can_fast_start, uint64_t deadline, struct dc_derp_attempt *a);
/*
 * "Not TLS" becomes what the port serves: GET /derp in plain HTTP, so derper without TLS
 * (letsencrypt mode off port 443) is named as such, instead of the bare "first record
 * does not look like a TLS handshake" that Tailscale's clients log.
 */
static void say_plain_http(struct dc_derp_conn *c, const struct dc_derp_node *node, const struct dc_tls_addr *list,
			   size_t n, uint64_t deadline, struct dc_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char peer[sizeof(c->tls.peer)];
		dc_sockaddr_format(list[i].addr, peer, sizeof(peer));
		if (strcmp(peer, c->tls.peer) != 0)
			continue;
		struct dc_proxy_answer ans;
		long ms = remaining_ms(deadline);
		if (dc_proxy_plain_get_derp(list[i].addr, list[i].len, node->host_name, dc_node_derp_port(node),
					    ms > 0 && ms < 2000 ? ms : 2000, &ans) < 0)
			return;
		int port = dc_node_derp_port(node);
		if (ans.derper_426) {
			dc_error_set(err, c->tls.peer, "the port serves plain HTTP, not TLS: GET /derp without TLS got derper's own "
						       "\"426 DERP requires connection upgrade\" (Tailscale's clients fail with \"tls: first "
						       "record does not look like a TLS handshake\")");
			dc_error_hint(err, "derper serves TLS only on :443 or with --certmode manual: run it with --certmode manual "
					   "--certdir DIR --hostname %s, or -a :443, or put a TLS-terminating proxy in front of it",
				      node->host_name);
		} else {
			dc_error_set(err, c->tls.peer, "the port serves plain HTTP, not TLS: GET /derp without TLS got HTTP %d%s%s%s%s",
				     ans.head.status, ans.head.reason[0] ? " " : "", ans.head.reason,
				     ans.head.server[0] ? " from " : "", ans.head.server);
			dc_error_hint(err, "clients speak TLS to DERPPort %d: terminate TLS there (a proxy's HTTP listener needs TLS), "
					   "or point DERPPort at the TLS port", port);
		}
		return;
	}
}

static int dial_node(struct dc_derp_conn *c, const struct dc_derp_dial_opts *o, const struct dc_derp_node *node,
		     uint64_t deadline, struct dc_derp_attempt *a)
{
	c->node = node;
	c->dns_used = false;
	c->dns_ns = c->tcp_ns = c->tls_ns = c->verify_ns = c->upgrade_ns = c->handshake_ns = 0;
	c->roff = c->rlen = 0;
	c->wbuf.len = 0;
	memset(c->server_key, 0, sizeof(c->server_key));
	c->metacert = c->fast_start = c->key_mismatch = c->insecure = c->verified = false;
	snprintf(a->node, sizeof(a->node), "%s", node->name);
	snprintf(a->host, sizeof(a->host), "%s", node->host_name);

	struct dc_node_addrs addrs;
	int port = dc_node_derp_port(node);
	if (dc_node_resolve(node->host_name, node->ipv4, node->ipv6, port, o->family, deadline, &addrs, &a->err) < 0) {
		c->dns_used = addrs.dns_used;
		c->dns_ns = addrs.dns_ns;
		return failed(c, a, addrs.dns_used ? DC_DERP_DNS : DC_DERP_NO_NODE, DC_DERP_PHASE_DNS);
	}
	c->dns_used = addrs.dns_used;
	c->dns_ns = addrs.dns_ns;

	struct dc_tls_addr list[2];
	for (size_t i = 0; i < addrs.count; i++)
		list[i] = (struct dc_tls_addr){(const struct sockaddr *)&addrs.addr[i].ss, addrs.addr[i].len};
	struct dc_tls_opts tls_opts = {.sni = node->host_name, .timeout_ms = remaining_ms(deadline)};
	if (tls_opts.timeout_ms == 0)
		tls_opts.timeout_ms = 1;
	int used = dc_tls_connect_race(list, addrs.count, o->node_timeout_ms > 0 ? o->node_timeout_ms : DEFAULT_NODE_MS,
				       &tls_opts, &c->tls, &a->err);
	if (used < 0) {
		if (c->tls.failure == DC_CONN_NOT_TLS)
			say_plain_http(c, node, list, addrs.count, deadline, &a->err);
		return failed(c, a, from_tls(c->tls.failure), c->tls.tcp_ns ? DC_DERP_PHASE_TLS : DC_DERP_PHASE_TCP);
	}
	snprintf(a->addr, sizeof(a->addr), "%s", c->tls.peer);
	c->family = addrs.addr[used].family;
	c->tcp_ns = c->tls.tcp_ns;
	c->tls_ns = c->tls.tls_ns;
	snprintf(c->tls_version, sizeof(c->tls_version), "%s", SSL_get_version(c->tls.ssl));

	STACK_OF(X509) *chain = dc_tls_peer_chain(&c->tls);
	c->metacert = dc_tls_find_derpkey(chain, c->metacert_key, &c->metacert_version) == 0;
	/*
	 * The certificate is always judged; InsecureForTests (as clients do) and --insecure
	 * only let the connection go on past a bad one (judge/trust.h).
	 */
	c->insecure = o->insecure || !dc_node_clients_verify(node);
	uint64_t t0 = dc_now_ns();
	struct dc_error verr;
	int rc = dc_tls_verify(chain, node->host_name, node->cert_name, o->ca_file, &c->verdict, &verr);
	c->verify_ns = dc_now_ns() - t0;
	c->verified = rc == 0;
	if (!c->insecure) {
		if (rc < 0) {
			a->err = verr;
			return failed(c, a, DC_DERP_TRUST_STORE, DC_DERP_PHASE_VERIFY);
		}
		if (!c->verdict.ok) {
			char cause[1024];
			cert_cause(&c->verdict, cause, sizeof(cause));
			dc_error_set(&a->err, c->tls.peer, "%s", cause);
			dc_error_hint(&a->err, "Tailscale clients refuse this certificate too, so they cannot use this relay");
			return failed(c, a, DC_DERP_CERT, DC_DERP_PHASE_VERIFY);
		}
	}

	/* Fast start needs the server key before any DERP byte: only from the metacert, and
	 * only under TLS 1.3, where the certificates travel encrypted (Go's rule). */
	attach_tls(c);
	return derp_session(c, o, node,
			    c->transport == DC_DERP_TRANSPORT_DERP && c->metacert && SSL_version(c->tls.ssl) >= TLS1_3_VERSION,
			    deadline, a);
}

/* From the GET /derp upgrade (or fast start) to ServerInfo, over c->io. */
static int derp_session(struct dc_derp_conn *c, const struct dc_derp_dial_opts *o, const struct dc_derp_node *node,
			bool can_fast_start, uint64_t deadline, struct dc_derp_attempt *a)
{
	c->fast_start = !o->no_fast_start && can_fast_start;
	uint64_t t_up = dc_now_ns();
	write_request(c, node, c->fast_start);
	if (c->fast_start) {
		memcpy(c->server_key, c->metacert_key, DC_DERP_KEY_LEN);
		if (send_client_info(c, o) < 0) {
			dc_error_set(&a->err, c->tls.peer, "the key in derper's meta certificate cannot be used to seal ClientInfo (a weak Curve25519 key)");
			return failed(c, a, DC_DERP_PROTOCOL, DC_DERP_PHASE_UPGRADE);
		}
	}
	if (dc_derp_flush(c, deadline, &a->err) < 0)
		return failed(c, a, c->failure, DC_DERP_PHASE_UPGRADE);
	if (c->fast_start && answered_with_http(c, deadline)) {
		/* A proxy or a refusal (404 with --derp=false) answers even a fast start. */
		c->fast_start = false;
		if (read_upgrade(c, a, deadline) < 0)
			return -1;
		/* Our ClientInfo went out before the ServerKey: only ServerInfo is still to come. */
		c->fast_start = true;
	} else if (!c->fast_start && read_upgrade(c, a, deadline) < 0) {
		return -1;
	}
	uint64_t t_hs = dc_now_ns();
	c->upgrade_ns = t_hs - t_up;
	if (handshake(c, o, a, deadline) < 0)
		return -1;
	c->handshake_ns = dc_now_ns() - t_hs;
	c->phase = DC_DERP_PHASE_CONNECTED;
	c->failure = DC_DERP_OK;
	return 0;
}

/* A connection with no stream yet, its buffers and this run's key pair. */
static int conn_init(struct dc_derp_conn *c, const struct dc_derp_dial_opts *o, struct dc_error *err)
{
	dc_ossl_need();
	memset(c, 0, sizeof(*c));
	c->tls.fd = -1;
	c->io.fd = -1;
	c->http_derp_version = -1;
	c->region = o->region;
	c->rcap = RBUF_INITIAL;
	c->rbuf = dc_xmalloc(c->rcap);
	if (sodium_init() < 0) {
		c->failure = DC_DERP_IO;
		return dc_error_set(err, NULL, "libsodium could not initialise (no source of randomness?)");
	}
	if (o->private_key) {
		memcpy(c->private_key, o->private_key, DC_DERP_KEY_LEN);
		crypto_scalarmult_base(c->public_key, c->private_key);
	} else {
		crypto_box_keypair(c->public_key, c->private_key);
	}
	return 0;
}

int dc_derp_connect_over(const struct dc_derp_dial_opts *o, const struct dc_derp_node *node, const struct dc_derp_io *io,
			 const char *peer, const uint8_t *fast_start_key, struct dc_derp_conn *c, struct dc_error *err)
{
	if (conn_init(c, o, err) < 0)
		return -1;
	uint64_t start = dc_now_ns();
	uint64_t deadline = start + (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS) * 1000000u;
	c->io = *io;
	c->node = node;
	snprintf(c->tls.peer, sizeof(c->tls.peer), "%s", peer ? peer : "");
	if (fast_start_key) {
		c->metacert = true;
		memcpy(c->metacert_key, fast_start_key, DC_DERP_KEY_LEN);
	}
	struct dc_derp_attempt *a = &c->attempts[c->attempt_count++];
	memset(a, 0, sizeof(*a));
	snprintf(a->node, sizeof(a->node), "%s", node->name);
	snprintf(a->host, sizeof(a->host), "%s", node->host_name);
	snprintf(a->addr, sizeof(a->addr), "%s", c->tls.peer);
	if (derp_session(c, o, node, fast_start_key != NULL, deadline, a) < 0) {
		if (err)
			*err = a->err;
		return -1;
	}
	a->failure = DC_DERP_OK;
	a->phase = DC_DERP_PHASE_CONNECTED;
	c->connect_ns = dc_now_ns() - start;
	return 0;
}

int dc_derp_connect(const struct dc_derp_dial_opts *o, struct dc_derp_conn *c, struct dc_error *err)
{
	if (conn_init(c, o, err) < 0)
		return -1;
	uint64_t start = dc_now_ns();
	uint64_t deadline = start + (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS) * 1000000u;
	const struct dc_derp_region *r = o->region;
	for (size_t i = 0; r && i < r->node_count && c->attempt_count < DC_DERP_MAX_ATTEMPTS; i++) {
		const struct dc_derp_node *node = &r->nodes[i];
		if (node->stun_only)
			continue; /* STUN only: never a DERP connection */
		if (o->node && strcmp(node->name, o->node) != 0)
			continue;
		if (o->skip_node && strcmp(node->name, o->skip_node) == 0)
			continue;
		if (c->attempt_count > 0 && dc_now_ns() >= deadline)
			break;
		struct dc_derp_attempt *a = &c->attempts[c->attempt_count++];
		memset(a, 0, sizeof(*a));
		c->transport = o->transport == DC_DERP_TRANSPORT_AUTO ? DC_DERP_TRANSPORT_DERP : o->transport;
		int rc = dial_node(c, o, node, deadline, a);
		if (rc < 0 && o->transport == DC_DERP_TRANSPORT_AUTO && a->phase == DC_DERP_PHASE_UPGRADE &&
		    (a->failure == DC_DERP_HTTP_STATUS || a->failure == DC_DERP_BAD_UPGRADE)) {
			/* The DERP upgrade was refused: the same node over WebSocket, as a browser would. */
			struct dc_derp_attempt derp = *a;
			snprintf(c->auto_note, sizeof(c->auto_note), "%.399s", derp.err.what);
			memset(a, 0, sizeof(*a));
			c->transport = DC_DERP_TRANSPORT_WEBSOCKET;
			rc = dial_node(c, o, node, deadline, a);
			if (rc < 0) {
				/* Report the DERP failure (tailscaled's), saying that WebSocket failed too. */
				struct dc_error ws = a->err;
				*a = derp;
				c->transport = DC_DERP_TRANSPORT_DERP;
				c->failure = a->failure;
				c->phase = a->phase;
				char hint[sizeof(a->err.hint)];
				snprintf(hint, sizeof(hint), "%s", a->err.hint);
				dc_error_hint(&a->err, "%.200s%sover WebSocket: %.200s", hint, hint[0] ? "; " : "", ws.what);
				c->auto_note[0] = '\0';
			}
		}
		if (rc == 0) {
			a->failure = DC_DERP_OK;
			a->phase = DC_DERP_PHASE_CONNECTED;
			c->connect_ns = dc_now_ns() - start;
			return 0;
		}
		/* Tailscale moves to the next node only when DNS or TCP failed. */
		if (a->phase > DC_DERP_PHASE_TCP)
			break;
	}
	if (c->attempt_count == 0) {
		c->failure = DC_DERP_NO_NODE;
		c->phase = DC_DERP_PHASE_DNS;
		if (o->node)
			dc_error_set(err, NULL, "region %lld has no DERP node named \"%s\"", r ? (long long)r->id : 0LL, o->node);
		else
			dc_error_set(err, NULL, "region %lld has no %snode that relays (every node is STUNOnly or there are none)",
				     r ? (long long)r->id : 0LL, o->skip_node ? "other " : "");
		dc_error_hint(err, "a region needs at least one node without \"STUNOnly\": true to relay");
		return -1;
	}
	const struct dc_derp_attempt *first = &c->attempts[0];
	c->failure = first->failure;
	c->phase = first->phase;
	if (err)
		*err = first->err;
	return -1;
}

void dc_derp_close(struct dc_derp_conn *c)
{
	detach(c);
	free(c->rbuf);
	c->rbuf = NULL;
	c->rcap = c->rlen = c->roff = 0;
	dc_buf_free(&c->wbuf);
	sodium_memzero(c->private_key, sizeof(c->private_key));
}

/* ---- after the handshake ------------------------------------------------------------------ */

void dc_derp_how_text(const struct dc_derp_conn *c, enum dc_derp_transport requested, char *out, size_t n)
{
	const char *how = c->transport == DC_DERP_TRANSPORT_WEBSOCKET ? "WebSocket" : c->fast_start ? "fast start" : "HTTP upgrade";
	if (requested != DC_DERP_TRANSPORT_AUTO)
		snprintf(out, n, "%s", how);
	else if (c->transport == DC_DERP_TRANSPORT_WEBSOCKET)
		snprintf(out, n, "%s (auto: the DERP upgrade failed)", how);
	else
		snprintf(out, n, "%s (auto: DERP worked)", how);
}

int dc_derp_fd(const struct dc_derp_conn *c)
{
	return c->io.fd;
}

bool dc_derp_readable_now(const struct dc_derp_conn *c)
{
	dc_ossl_need();
	if (!c->io.read)
		return false;
	struct dc_derp_frame f;
	size_t used;
	if (c->rlen > c->roff && dc_derp_frame_next(c->rbuf + c->roff, c->rlen - c->roff, DC_DERP_MAX_FRAME, &f, &used, NULL, NULL) != 0)
		return true; /* a whole frame, or an oversize header to fail on */
	return c->io.pending && c->io.pending(c->io.ctx) > 0;
}

int dc_derp_recv(struct dc_derp_conn *c, uint64_t deadline_ns, struct dc_derp_msg *m, struct dc_error *err)
{
	dc_ossl_need();
	if (!c->io.read) {
		c->failure = c->failure ? c->failure : DC_DERP_CLOSED;
		return dc_error_set(err, c->tls.peer, "the connection is closed");
	}
	/* Skipped frames are budgeted and the clock checked for each (like the STUN prober's
	 * receive budget): a flood of them cannot hold the caller past its deadline. */
	for (unsigned skipped = 0;; skipped++) {
		if (skipped >= DC_DERP_SKIP_BUDGET || (skipped && deadline_ns && dc_now_ns() >= deadline_ns))
			return 0;
		struct dc_derp_frame f;
		size_t need;
		int rc = next_frame(c, DC_DERP_MAX_FRAME, deadline_ns, &f, &need, err);
		if (rc == FILL_WAIT)
			return 0;
		if (rc == FILL_CLOSED) {
			char note[320];
			end_note(c, note, sizeof(note));
			c->failure = DC_DERP_CLOSED;
			dc_error_set(err, c->tls.peer, "the server closed the connection%s", note);
			if (c->restarting)
				dc_error_hint(err, "it announced a restart (Restarting frame) before closing");
			return -1;
		}
		if (rc < 0)
			return -1;
		struct dc_error bad;
		if (dc_derp_msg_decode(&f, m, &bad) < 0) {
			/* Tailscale's client logs and drops a malformed frame; it does not hang up. */
			c->malformed_frames++;
			snprintf(c->last_malformed, sizeof(c->last_malformed), "%.*s", (int)sizeof(c->last_malformed) - 1, bad.what);
			continue;
		}
		switch (m->type) {
		case DC_DERP_KEEP_ALIVE:
			c->keep_alives++;
			continue;
		case DC_DERP_PING:
			/* We said CanAckPings: answer at once, echoing the 8 bytes. */
			dc_derp_put_ping(&c->wbuf, DC_DERP_PONG, m->u.ping.data);
			if (dc_derp_flush(c, dc_now_ns() + 2000000000u, err) < 0)
				return -1;
			c->pings_answered++;
			return 1;
		case DC_DERP_HEALTH: {
			size_t n = m->u.health.len < sizeof(c->health) - 1 ? m->u.health.len : sizeof(c->health) - 1;
			memcpy(c->health, m->u.health.text, n);
			c->health[n] = '\0';
			c->health_set = n > 0;
			return 1;
		}
		case DC_DERP_RESTARTING:
			c->restarting = true;
			c->reconnect_ms = m->u.restarting.reconnect_ms;
			c->try_for_ms = m->u.restarting.try_for_ms;
			return 1;
		case DC_DERP_RECV_PACKET:
		case DC_DERP_PONG:
		case DC_DERP_PEER_GONE:
		case DC_DERP_PEER_PRESENT:
			return 1;
		default:
			if (!m->known)
				c->unknown_frames++;
			continue; /* unknown, or a type a server should not send now: skipped */
		}
	}
}
