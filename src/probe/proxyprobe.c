/*
 * The evidence for the proxy verdict (proxyprobe.h): raw HTTP/1.1 requests over TLS (or
 * plain TCP when the port does not speak TLS), each on a fresh connection, read with a
 * deadline and a size bound through the same response parser as the DERP upgrade.
 */
#include "derpcheck/probe/proxyprobe.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "derpcheck/net/ossl.h"

#define DEFAULT_TIMEOUT_MS 3000L
#define DEFAULT_KEY_CONNS 4u
#define HEAD_MAX DC_DERP_UPGRADE_MAX
#define BODY_MAX 2048u
#define BODY_WAIT_MS 300u /* for all the bodies of one probe (body_wait_left_ns) */
#define ALPN_OFFER "h2,http/1.1"

const char *dc_proxy_req_name(enum dc_proxy_req r)
{
	static const char *const names[] = {"get-derp", "upgrade-derp", "upgrade-websocket", "derp-probe",
					    "latency-check", "generate-204", "home"};
	return (unsigned)r < DC_ARRAY_LEN(names) ? names[r] : "?";
}

const char *dc_proxy_req_text(enum dc_proxy_req r)
{
	static const char *const texts[] = {"GET /derp", "GET /derp with Upgrade: DERP",
					    "GET /derp with Upgrade: websocket", "GET /derp/probe",
					    "GET /derp/latency-check", "GET /generate_204", "GET /"};
	return (unsigned)r < DC_ARRAY_LEN(texts) ? texts[r] : "?";
}

/* Copy text, cut at the field's size (messages are one line each). */
static void text_copy(char *dst, size_t n, const char *src)
{
	size_t k = strlen(src);
	if (k >= n)
		k = n - 1;
	memcpy(dst, src, k);
	dst[k] = '\0';
}

static const char *const paths[] = {"/derp", "/derp", "/derp", "/derp/probe", "/derp/latency-check", "/generate_204", "/"};

/* ---- one connection, TLS or plain ------------------------------------------------------- */

struct stream {
	bool tls;
	struct dc_tls_conn t;
	int fd;
};

static uint64_t after_ms(long ms)
{
	return dc_now_ns() + (uint64_t)ms * 1000000u;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = dc_now_ns();
		if (now >= deadline)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc > 0;
	}
}

static int plain_connect(const struct dc_proxy_probe_opts *o, struct stream *s, uint64_t deadline, char *why, size_t n)
{
	s->tls = false;
	s->fd = socket(o->addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(why, n, "socket: %s", strerror(errno));
		return -1;
	}
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if ((connect(s->fd, o->addr, o->addrlen) < 0 && errno != EINPROGRESS) || wait_fd(s->fd, POLLOUT, deadline) <= 0 ||
	    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
		snprintf(why, n, "TCP connection failed: %s", soerr ? strerror(soerr) : "timed out");
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	return 0;
}

/* Open a connection as Tailscale does (TLS unless the port is plain HTTP); alpn: NULL for none. */
static int open_stream(const struct dc_proxy_probe_opts *o, const struct dc_proxy_evidence *e, const char *alpn,
		       struct stream *s, long timeout_ms, char *why, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (e->plain_http)
		return plain_connect(o, s, after_ms(timeout_ms), why, n);
	s->tls = true;
	struct dc_tls_opts to = {.sni = o->host_name, .timeout_ms = timeout_ms, .alpn = alpn};
	struct dc_error err;
	if (dc_tls_connect(o->addr, o->addrlen, &to, &s->t, &err) < 0) {
		text_copy(why, n, err.what);
		return -1;
	}
	return 0;
}

static int s_write(struct stream *s, const void *p, size_t n, uint64_t deadline)
{
	if (s->tls) {
		struct dc_error err;
		return dc_tls_write_all(&s->t, p, n, deadline, &err);
	}
	const char *b = p;
	while (n > 0) {
		ssize_t k = send(s->fd, b, n, MSG_NOSIGNAL);
		if (k > 0) {
			b += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(s->fd, POLLOUT, deadline) <= 0)
			return -1;
	}
	return 0;
}

/* > 0 bytes read, 0 closed, -1 error or deadline. */
static long s_read(struct stream *s, void *p, size_t n, uint64_t deadline)
{
	if (s->tls) {
		struct dc_error err;
		long k = dc_tls_read(&s->t, p, n, deadline, &err);
		ERR_clear_error();
		return k;
	}
	for (;;) {
		ssize_t k = recv(s->fd, p, n, 0);
		if (k >= 0)
			return (long)k;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(s->fd, POLLIN, deadline) <= 0)
			return -1;
	}
}

static void s_close(struct stream *s)
{
	if (s->tls)
		dc_tls_close(&s->t);
	else if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* ---- keys -------------------------------------------------------------------------------- */

void dc_proxy_evidence_add_key(struct dc_proxy_evidence *e, const uint8_t key[DC_DERP_KEY_LEN])
{
	for (size_t i = 0; i < e->nkeys; i++)
		if (memcmp(e->keys[i], key, DC_DERP_KEY_LEN) == 0) {
			e->key_hits[i]++;
			return;
		}
	if (e->nkeys == DC_PROXY_MAX_KEYS)
		return;
	memcpy(e->keys[e->nkeys], key, DC_DERP_KEY_LEN);
	e->key_hits[e->nkeys++] = 1;
}

/* ---- a request ------------------------------------------------------------------------------ */

static void write_request(struct dc_buf *b, const struct dc_proxy_probe_opts *o, enum dc_proxy_req r, const char *ws_key,
			  const char *challenge)
{
	dc_buf_printf(b, "GET %s HTTP/1.1\r\nHost: %s", paths[r], o->host_name);
	if (o->port != 443)
		dc_buf_printf(b, ":%d", o->port);
	dc_buf_printf(b, "\r\nUser-Agent: derpcheck/%s\r\n", DERPCHECK_VERSION);
	switch (r) {
	case DC_PROXY_UPGRADE_DERP:
		dc_buf_printf(b, "Connection: Upgrade\r\nUpgrade: DERP\r\n");
		break;
	case DC_PROXY_UPGRADE_WS:
		dc_ws_put_upgrade_headers(b, ws_key);
		break;
	case DC_PROXY_204:
		dc_buf_printf(b, "X-Tailscale-Challenge: %s\r\nConnection: close\r\n", challenge);
		break;
	default:
		dc_buf_printf(b, "Connection: close\r\n");
	}
	dc_buf_printf(b, "\r\n");
}

void dc_proxy_answer_classify(struct dc_proxy_answer *a, enum dc_proxy_req r, const char *challenge)
{
	const struct dc_derp_upgrade *h = &a->head;
	a->derper_426 = h->status == 426 && strncmp(a->body, "DERP requires connection upgrade", 32) == 0;
	a->derper_home = h->status == 200 && strstr(a->body, "<h1>DERP</h1>") != NULL;
	/* derper's handler sets this policy on every answer when it serves TLS itself (cmd/derper/derper.go) */
	a->derper_tls_headers = strncmp(h->csp, "default-src 'none'; frame-ancestors 'none'", 42) == 0;
	a->acao_any = h->acao_any;
	char want[96];
	snprintf(want, sizeof(want), "response %s", challenge ? challenge : "");
	a->challenge_ok = r == DC_PROXY_204 && challenge && strcmp(h->ts_response, want) == 0;
}

/* The body's start: up to its length (capped), or what comes before the close or a short wait. */
static void read_body(struct dc_proxy_evidence *e, struct stream *s, struct dc_proxy_answer *a, const uint8_t *have,
		      size_t have_len, uint64_t deadline)
{
	uint8_t buf[BODY_MAX];
	size_t len = have_len < sizeof(buf) ? have_len : sizeof(buf);
	memcpy(buf, have, len);
	size_t want = a->head.content_length >= 0 ? (size_t)a->head.content_length : sizeof(buf);
	if (want > sizeof(buf))
		want = sizeof(buf);
	uint64_t start = dc_now_ns();
	uint64_t until = start + e->body_wait_left_ns;
	if (until > deadline)
		until = deadline;
	bool closed = false;
	while (len < want) {
		long k = s_read(s, buf + len, want - len, until);
		if (k <= 0) {
			closed = k == 0;
			break;
		}
		len += (size_t)k;
	}
	uint64_t spent = dc_now_ns() - start;
	e->body_wait_left_ns = spent < e->body_wait_left_ns ? e->body_wait_left_ns - spent : 0;
	a->empty_body = a->head.content_length == 0 || (len == 0 && closed);
	/* the first line that has text (HTML pages start with tags on their own lines) */
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < sizeof(a->body); i++) {
		uint8_t ch = buf[i];
		if (ch == '\r' || ch == '\n') {
			if (k > 0 && a->body[k - 1] != ' ')
				a->body[k++] = ' ';
			continue;
		}
		a->body[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	while (k > 0 && a->body[k - 1] == ' ')
		k--;
	a->body[k] = '\0';
}

/* After a 101 to Upgrade: DERP: the ServerKey frame, from the bytes that follow. */
static void read_server_key_derp(struct stream *s, struct dc_proxy_answer *a, struct dc_buf *rest, uint64_t deadline)
{
	uint64_t until = after_ms(1000);
	if (until > deadline)
		until = deadline;
	for (;;) {
		struct dc_derp_frame f;
		size_t used, need;
		int rc = dc_derp_frame_next((const uint8_t *)rest->data, rest->len, DC_DERP_MAX_SERVER_KEY, &f, &used, &need, NULL);
		if (rc < 0)
			return;
		if (rc == 1) {
			uint8_t key[DC_DERP_KEY_LEN];
			if (f.type == DC_DERP_SERVER_KEY && dc_derp_server_key_parse(f.payload, f.len, key, NULL) == 0) {
				a->server_key_frame = true;
				if (!a->have_key)
					memcpy(a->key, key, sizeof(key));
				a->have_key = true;
			}
			return;
		}
		uint8_t buf[256];
		long k = s_read(s, buf, sizeof(buf), until);
		if (k <= 0)
			return;
		dc_buf_append(rest, buf, (size_t)k);
	}
}

/* After a 101 to the WebSocket request: the ServerKey frame inside the first messages. */
static void read_server_key_ws(struct stream *s, struct dc_proxy_answer *a, const struct dc_buf *rest, uint64_t deadline)
{
	struct dc_ws_stream ws;
	dc_ws_stream_init(&ws, false);
	struct dc_buf derp = {0};
	struct dc_error err;
	uint64_t until = after_ms(1000);
	if (until > deadline)
		until = deadline;
	int rc = dc_ws_stream_feed(&ws, rest->data, rest->len, &err);
	while (rc == 0) {
		uint8_t buf[512];
		size_t n;
		while ((n = dc_ws_stream_read(&ws, buf, sizeof(buf))) > 0)
			dc_buf_append(&derp, buf, n);
		struct dc_derp_frame f;
		size_t used, need;
		int fr = dc_derp_frame_next((const uint8_t *)derp.data, derp.len, DC_DERP_MAX_SERVER_KEY, &f, &used, &need, NULL);
		if (fr == 1) {
			uint8_t key[DC_DERP_KEY_LEN];
			if (f.type == DC_DERP_SERVER_KEY && dc_derp_server_key_parse(f.payload, f.len, key, NULL) == 0) {
				memcpy(a->key, key, sizeof(key));
				a->have_key = a->server_key_frame = true;
			}
			break;
		}
		if (fr < 0 || dc_ws_stream_ended(&ws))
			break;
		long k = s_read(s, buf, sizeof(buf), until);
		if (k <= 0)
			break;
		rc = dc_ws_stream_feed(&ws, buf, (size_t)k, &err);
	}
	if (rc < 0)
		snprintf(a->ws_error, sizeof(a->ws_error), "after the 101: %.200s", err.what);
	/* a polite close: derper logs the others as errors */
	dc_ws_stream_send_close(&ws, 1000, NULL);
	s_write(s, ws.out.data, ws.out.len, after_ms(200));
	dc_buf_free(&derp);
	dc_ws_stream_free(&ws);
}

static void request(const struct dc_proxy_probe_opts *o, struct dc_proxy_evidence *e, enum dc_proxy_req r, long timeout_ms,
		    struct dc_proxy_answer *a)
{
	memset(a, 0, sizeof(*a));
	struct stream s;
	if (open_stream(o, e, NULL, &s, timeout_ms, a->error, sizeof(a->error)) < 0)
		return;
	if (s.tls) {
		uint8_t key[DC_DERP_KEY_LEN];
		int version;
		if (dc_tls_find_derpkey(dc_tls_peer_chain(&s.t), key, &version) == 0)
			dc_proxy_evidence_add_key(e, key);
	}
	uint64_t deadline = after_ms(timeout_ms);
	uint8_t nonce[16];
	char ws_key[DC_WS_KEY_LEN + 1];
	randombytes_buf(nonce, sizeof(nonce));
	dc_ws_key_make(nonce, ws_key);
	struct dc_buf req = {0}, in = {0};
	write_request(&req, o, r, ws_key, e->challenge);
	uint64_t t0 = dc_now_ns();
	if (s_write(&s, req.data, req.len, deadline) < 0) {
		snprintf(a->error, sizeof(a->error), "the request could not be sent");
		goto out;
	}
	a->sent = true;
	for (;;) {
		struct dc_error err;
		int rc = dc_derp_upgrade_parse((const uint8_t *)in.data, in.len, &a->head, &err);
		if (rc < 0) {
			text_copy(a->error, sizeof(a->error), err.what);
			a->raw_len = in.len < sizeof(a->raw) ? in.len : sizeof(a->raw);
			memcpy(a->raw, in.data, a->raw_len);
			goto out;
		}
		if (rc == 1)
			break;
		uint8_t buf[2048];
		long k = s_read(&s, buf, sizeof(buf), deadline);
		if (k <= 0) {
			snprintf(a->error, sizeof(a->error), k == 0 ? "the connection was closed without an answer"
								    : "no answer within %ld ms", timeout_ms);
			goto out;
		}
		dc_buf_append(&in, buf, (size_t)k);
	}
	a->answered = true;
	a->ms = (double)(dc_now_ns() - t0) / 1e6;
	struct dc_buf rest = {0};
	dc_buf_append(&rest, in.data + a->head.header_len, in.len - a->head.header_len);
	if (a->head.status == 101 && r == DC_PROXY_UPGRADE_WS) {
		struct dc_error err;
		a->ws = dc_ws_answer_check(&a->head, ws_key, &err);
		if (a->ws != DC_WS_ANSWER_OK)
			text_copy(a->ws_error, sizeof(a->ws_error), err.what);
		if (a->ws == DC_WS_ANSWER_OK)
			read_server_key_ws(&s, a, &rest, deadline);
		else if (a->ws == DC_WS_ANSWER_DERP_UPGRADE)
			read_server_key_derp(&s, a, &rest, deadline);
	} else if (a->head.status == 101) {
		if (a->head.has_public_key) {
			memcpy(a->key, a->head.public_key, DC_DERP_KEY_LEN);
			a->have_key = true;
		}
		read_server_key_derp(&s, a, &rest, deadline);
	} else {
		if (r == DC_PROXY_UPGRADE_WS)
			a->ws = DC_WS_ANSWER_STATUS;
		read_body(e, &s, a, (const uint8_t *)rest.data, rest.len, deadline);
	}
	dc_buf_free(&rest);
	dc_proxy_answer_classify(a, r, e->challenge);
	if (a->have_key)
		dc_proxy_evidence_add_key(e, a->key);
out:
	dc_buf_free(&req);
	dc_buf_free(&in);
	s_close(&s);
}

int dc_proxy_plain_get_derp(const struct sockaddr *addr, socklen_t addrlen, const char *host_name, int port,
			    long timeout_ms, struct dc_proxy_answer *a)
{
	struct dc_proxy_probe_opts o = {.addr = addr, .addrlen = addrlen, .host_name = host_name, .port = port};
	struct dc_proxy_evidence *e = dc_xcalloc(1, sizeof(*e));
	e->plain_http = true;
	request(&o, e, DC_PROXY_GET_DERP, timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS, a);
	free(e);
	return a->answered ? 0 : -1;
}

/* ---- the run -------------------------------------------------------------------------------- */

static void copy_chain(struct dc_proxy_evidence *e, struct dc_tls_conn *c)
{
	STACK_OF(X509) *peer = dc_tls_peer_chain(c);
	e->chain = sk_X509_new_null();
	for (int i = 0; peer && i < sk_X509_num(peer); i++) {
		X509_up_ref(sk_X509_value(peer, i));
		sk_X509_push(e->chain, sk_X509_value(peer, i));
	}
}

int dc_proxy_probe_run(const struct dc_proxy_probe_opts *o, struct dc_proxy_evidence *e, struct dc_error *err)
{
	dc_ossl_need();
	memset(e, 0, sizeof(*e));
	long timeout = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	dc_sockaddr_format(o->addr, e->peer, sizeof(e->peer));
	text_copy(e->host_name, sizeof(e->host_name), o->host_name ? o->host_name : "");
	e->port = o->port;
	e->body_wait_left_ns = (uint64_t)BODY_WAIT_MS * 1000000u;
	uint8_t rnd[8];
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(e->challenge, sizeof(e->challenge), "derpcheck-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);

	/* 1. TLS as Tailscale dials it */
	struct dc_tls_opts to = {.sni = o->host_name, .timeout_ms = timeout};
	struct dc_tls_conn c;
	struct dc_error cerr;
	if (dc_tls_connect(o->addr, o->addrlen, &to, &c, &cerr) < 0) {
		if (c.tcp_ns == 0 && c.failure != DC_CONN_NOT_TLS) {
			*err = cerr;
			return -1;
		}
		e->tls_failure = c.failure;
		text_copy(e->tls_error, sizeof(e->tls_error), cerr.what);
		if (c.failure != DC_CONN_NOT_TLS)
			return 0; /* an alert, a closed handshake: the TLS checks explain it */
		e->plain_http = true;
	} else {
		e->tls_ok = true;
		text_copy(e->tls_version, sizeof(e->tls_version), SSL_get_version(c.ssl));
		copy_chain(e, &c);
		int version;
		e->metacert = dc_tls_find_derpkey(e->chain, e->metacert_key, &version) == 0;
		if (e->metacert)
			dc_proxy_evidence_add_key(e, e->metacert_key);
		dc_tls_close(&c);

		/* 2. the same, offering h2 as browsers and curl do */
		e->alpn_tried = true;
		text_copy(e->alpn_offered, sizeof(e->alpn_offered), ALPN_OFFER);
		struct stream s;
		if (open_stream(o, e, ALPN_OFFER, &s, timeout, e->alpn_error, sizeof(e->alpn_error)) == 0) {
			e->alpn_ok = true;
			text_copy(e->alpn_chosen, sizeof(e->alpn_chosen), s.t.alpn);
			s_close(&s);
		}
	}

	/* 3. the requests */
	for (int r = 0; r < DC_PROXY_REQ_COUNT; r++)
		request(o, e, (enum dc_proxy_req)r, timeout, &e->answers[r]);

	/* 4. more connections in a row, each telling the server key it meets */
	if (e->plain_http)
		return 0;
	unsigned conns = o->key_conns ? o->key_conns : DEFAULT_KEY_CONNS;
	if (conns > DC_PROXY_MAX_KEYS)
		conns = DC_PROXY_MAX_KEYS;
	const struct dc_proxy_answer *up = &e->answers[DC_PROXY_UPGRADE_DERP], *ws = &e->answers[DC_PROXY_UPGRADE_WS];
	enum dc_proxy_req how = up->have_key ? DC_PROXY_UPGRADE_DERP : DC_PROXY_UPGRADE_WS;
	e->key_source = e->metacert ? "derpkey certificate"
		      : up->have_key ? "Derp-Public-Key header"
		      : ws->have_key ? "ServerKey over WebSocket"
				     : NULL;
	for (unsigned i = 0; e->key_source && i < conns; i++) {
		size_t before = 0;
		for (size_t k = 0; k < e->nkeys; k++)
			before += e->key_hits[k];
		e->key_conns++;
		if (e->metacert) {
			struct stream s;
			char why[200];
			if (open_stream(o, e, NULL, &s, timeout, why, sizeof(why)) < 0)
				continue;
			uint8_t key[DC_DERP_KEY_LEN];
			int version;
			if (dc_tls_find_derpkey(dc_tls_peer_chain(&s.t), key, &version) == 0)
				dc_proxy_evidence_add_key(e, key);
			s_close(&s);
		} else {
			struct dc_proxy_answer a;
			request(o, e, how, timeout, &a);
		}
		size_t after = 0;
		for (size_t k = 0; k < e->nkeys; k++)
			after += e->key_hits[k];
		e->key_seen += after > before;
	}
	return 0;
}

void dc_proxy_evidence_free(struct dc_proxy_evidence *e)
{
	if (e->chain)
		sk_X509_pop_free(e->chain, X509_free);
	e->chain = NULL;
}
