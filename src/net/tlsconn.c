#include "derpcheck/net/tlsconn.h"

#include "derpcheck/probe/derp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derpcheck/net/ossl.h"

void dc_sockaddr_format(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
}

static int remaining_ms(uint64_t deadline_ns)
{
	uint64_t now = dc_now_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999) / 1000000;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* Wait until fd is ready for events or the deadline passes; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		int ms = remaining_ms(deadline_ns);
		if (ms == 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc > 0;
	}
}

static int fail(struct dc_tls_conn *c, enum dc_conn_failure why, struct dc_error *err, const char *fmt, ...)
	DC_PRINTF(4, 5);
static int fail(struct dc_tls_conn *c, enum dc_conn_failure why, struct dc_error *err, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	c->failure = why;
	dc_error_set(err, c->peer, "%s", what);
	return -1;
}

/* Name a failed TCP connect (errno value errnum) with the hint that goes with it. */
static int tcp_failed(struct dc_tls_conn *c, int errnum, struct dc_error *err)
{
	if (errnum == 0) {
		fail(c, DC_CONN_TIMEOUT, err, "TCP connect timed out");
		dc_error_hint(err, "no answer at all: a firewall or the VPS provider drops the port, or the address is wrong");
	} else if (errnum == ECONNREFUSED) {
		fail(c, DC_CONN_REFUSED, err, "TCP connection refused");
		dc_error_hint(err, "nothing listens on this port: is derper running, listening on this port (-a), and is the port forwarded to it?");
	} else if (errnum == ENETUNREACH || errnum == EHOSTUNREACH || errnum == EADDRNOTAVAIL) {
		fail(c, DC_CONN_UNREACHABLE, err, "TCP connect failed: %s", strerror(errnum));
		dc_error_hint(err, "this machine has no route to that address; check the IPv4/IPv6 fields of the map, or use -4/-6");
	} else {
		fail(c, DC_CONN_IO, err, "TCP connect failed: %s", strerror(errnum));
	}
	return -1;
}

/* A non-blocking TCP socket with TCP_NODELAY, connecting; -1 with errno on failure. */
static int tcp_start(const struct sockaddr *addr, socklen_t len)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	/* DERP frames are small and latency matters; Tailscale's client sets this too. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, addr, len) < 0 && errno != EINPROGRESS) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int tcp_connect(struct dc_tls_conn *c, const struct sockaddr *addr, socklen_t len, uint64_t deadline,
		       struct dc_error *err)
{
	uint64_t start = dc_now_ns();
	c->fd = tcp_start(addr, len);
	if (c->fd < 0)
		return tcp_failed(c, errno, err);
	int ready = wait_fd(c->fd, POLLOUT, deadline);
	if (ready == 0)
		return tcp_failed(c, 0, err);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (ready < 0 || soerr)
		return tcp_failed(c, soerr ? soerr : errno, err);
	c->tcp_ns = dc_now_ns() - start;
	return 0;
}

/*
 * Alerts both ways. SSL_CB_READ_ALERT is SSL_CB_ALERT|SSL_CB_READ, so "where &
 * SSL_CB_READ_ALERT" also matches an alert OpenSSL writes: the direction is the READ or
 * WRITE bit, and it decides who gave up.
 */
static void on_info(const SSL *ssl, int where, int ret)
{
	if (!(where & SSL_CB_ALERT))
		return;
	struct dc_tls_conn *c = SSL_get_app_data(ssl);
	if (!c)
		return;
	char *slot = where & SSL_CB_READ ? c->alert : c->alert_sent;
	if (!slot[0])
		snprintf(slot, sizeof(c->alert), "%s", SSL_alert_desc_string_long(ret));
}

/* OpenSSL itself refused what the server sent, and said so with an alert: name the reason. */
static int refused_locally(struct dc_tls_conn *c, int reason, const char *detail, struct dc_error *err)
{
	if (reason == SSL_R_EXCESSIVE_MESSAGE_SIZE) {
		fail(c, DC_CONN_TLS_FAILED, err,
		     "derpcheck gave up the TLS handshake: the server's certificate message is larger than the 100 KiB OpenSSL "
		     "accepts (excessive message size); derpcheck sent the alert \"%s\"", c->alert_sent);
		dc_error_hint(err, "Tailscale's client refuses it too (Go's TLS takes handshake messages up to 64 KiB, a certificate "
				   "message up to 256 KiB since Go 1.21): serve the leaf and its intermediates only, a few KiB");
		return -1;
	}
	fail(c, DC_CONN_TLS_FAILED, err, "derpcheck gave up the TLS handshake (%s) and sent the alert \"%s\"",
	     detail[0] ? detail : "no reason given", c->alert_sent);
	dc_error_hint(err, "the server's handshake is malformed or unacceptable to OpenSSL; Tailscale's Go client most likely refuses it as well");
	return -1;
}

/* Classify a failed handshake into a named failure with a hint. */
static int handshake_failed(struct dc_tls_conn *c, int ssl_error, struct dc_error *err)
{
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);
	char detail[200] = "";
	if (e) {
		OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
		ERR_error_string_n(e, detail, sizeof(detail));
	}
	ERR_clear_error();
	if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
	    reason == SSL_R_HTTP_REQUEST || reason == SSL_R_RECORD_LENGTH_MISMATCH) {
		fail(c, DC_CONN_NOT_TLS, err, "the first record does not look like a TLS handshake (the port speaks something else, probably plain HTTP)");
		dc_error_hint(err, "derper serves plain HTTP here: with --certmode=letsencrypt it only does TLS on port 443; use --certmode=manual with a certificate for a custom DERPPort, or fix the port forwarding");
		return -1;
	}
	if (c->alert_sent[0] && !c->alert[0])
		return refused_locally(c, reason, detail, err);
	if (c->alert[0]) {
		fail(c, DC_CONN_TLS_ALERT, err, "the server aborted the TLS handshake with alert \"%s\"", c->alert);
		if (strstr(c->alert, "unrecognized name") || strstr(c->alert, "internal error"))
			dc_error_hint(err, "derper refuses a TLS name (SNI) that is not its --hostname: the map's HostName must equal derper's --hostname");
		else if (strstr(c->alert, "protocol version"))
			dc_error_hint(err, "the server and derpcheck share no TLS version; derper needs TLS 1.2 or newer");
		return -1;
	}
	if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN ||
	    (ssl_error == SSL_ERROR_SSL && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		fail(c, DC_CONN_CLOSED, err, "the server closed the connection during the TLS handshake");
		dc_error_hint(err, "the port accepts TCP but hangs up on TLS: a proxy or another service on this port, or derper refusing this TLS name (SNI)");
		return -1;
	}
	return fail(c, DC_CONN_TLS_FAILED, err, "TLS handshake failed: %s", detail[0] ? detail : "unknown error");
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* One client context for the whole process: every connection has the same settings. */
static SSL_CTX *client_ctx;
static pthread_once_t client_ctx_once = PTHREAD_ONCE_INIT;

static void make_client_ctx(void)
{
	/*
	 * No openssl.cnf: Tailscale's Go client reads no OpenSSL configuration, and a system
	 * policy (Debian's SECLEVEL=2) must not change what derpcheck can connect to and name.
	 * No error strings either until an error is described (handshake_failed): loading
	 * them all costs memory on every connection that works.
	 */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
			 NULL);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Complete the handshake whatever the certificate; dc_tls_verify judges it afterwards. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Level 0 so weak keys still complete the handshake and can be reported by name. */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_info_callback(ctx, on_info);
	client_ctx = ctx;
}

int dc_tls_init(struct dc_error *err)
{
	dc_ossl_need();
	pthread_once(&client_ctx_once, make_client_ctx);
	if (!client_ctx) {
		ERR_clear_error();
		return dc_error_set(err, NULL, "OpenSSL could not create a TLS context");
	}
	return 0;
}

/* Offer "a,b" as ALPN: each name with its length byte in front (RFC 7301 §3.1). */
static int set_alpn(SSL *ssl, const char *list)
{
	unsigned char wire[128];
	size_t n = 0;
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		if (k == 0 || k > 255 || n + 1 + k > sizeof(wire))
			return -1;
		wire[n++] = (unsigned char)k;
		memcpy(wire + n, p, k);
		n += k;
		p += k + (p[k] == ',');
	}
	/* OpenSSL's one inverted return value: 0 is success here. */
	return n && SSL_set_alpn_protos(ssl, wire, (unsigned)n) == 0 ? 0 : -1;
}

/* The TLS handshake on c->fd, already connected; closes c on failure. */
static int tls_handshake(struct dc_tls_conn *c, const struct dc_tls_opts *opts, uint64_t deadline, struct dc_error *err)
{
	if (dc_tls_init(err) < 0) {
		c->failure = DC_CONN_TLS_FAILED;
		goto fail;
	}
	uint64_t start = dc_now_ns();
	c->ssl = SSL_new(client_ctx);
	if (!c->ssl) {
		fail(c, DC_CONN_TLS_FAILED, err, "OpenSSL could not create a TLS session");
		goto fail;
	}
	SSL_set_app_data(c->ssl, c);
	SSL_set_fd(c->ssl, c->fd);
	if (opts->sni && *opts->sni && !is_ip_literal(opts->sni))
		SSL_set_tlsext_host_name(c->ssl, opts->sni);
	if (opts->ocsp_status)
		SSL_set_tlsext_status_type(c->ssl, TLSEXT_STATUSTYPE_ocsp);
	if (opts->alpn && set_alpn(c->ssl, opts->alpn) < 0) {
		fail(c, DC_CONN_TLS_FAILED, err, "the ALPN list \"%s\" cannot be offered", opts->alpn);
		goto fail;
	}
	for (;;) {
		ERR_clear_error();
		int rc = SSL_connect(c->ssl);
		if (rc == 1)
			break;
		int e = SSL_get_error(c->ssl, rc);
		short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (!want) {
			handshake_failed(c, e, err);
			goto fail;
		}
		int ready = wait_fd(c->fd, want, deadline);
		if (ready <= 0) {
			fail(c, DC_CONN_TIMEOUT, err, "TLS handshake timed out");
			dc_error_hint(err, "TCP connected but the TLS handshake never finished: something other than a TLS server holds the port");
			goto fail;
		}
	}
	c->tls_ns = dc_now_ns() - start;
	const unsigned char *chosen = NULL;
	unsigned int chosen_len = 0;
	SSL_get0_alpn_selected(c->ssl, &chosen, &chosen_len);
	if (chosen && chosen_len < sizeof(c->alpn)) {
		for (unsigned i = 0; i < chosen_len; i++)
			c->alpn[i] = chosen[i] >= 0x20 && chosen[i] < 0x7f ? (char)chosen[i] : '?';
		c->alpn[chosen_len] = '\0';
	}
	return 0;
fail:
	{
		enum dc_conn_failure why = c->failure;
		char peer[sizeof(c->peer)];
		memcpy(peer, c->peer, sizeof(peer));
		dc_tls_close(c);
		c->failure = why;
		memcpy(c->peer, peer, sizeof(peer));
	}
	return -1;
}

static uint64_t deadline_after(long timeout_ms)
{
	return dc_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000) * 1000000u;
}

int dc_tls_connect(const struct sockaddr *addr, socklen_t addrlen, const struct dc_tls_opts *opts,
		   struct dc_tls_conn *c, struct dc_error *err)
{
	dc_ossl_need();
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	dc_sockaddr_format(addr, c->peer, sizeof(c->peer));
	uint64_t deadline = deadline_after(opts->timeout_ms);
	if (tcp_connect(c, addr, addrlen, deadline, err) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	return tls_handshake(c, opts, deadline, err);
}

int dc_tls_connect_race(const struct dc_tls_addr *addrs, size_t n, long tcp_timeout_ms, const struct dc_tls_opts *opts,
			struct dc_tls_conn *c, struct dc_error *err)
{
	dc_ossl_need();
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (n == 0 || n > DC_TLS_RACE_MAX)
		return dc_error_set(err, NULL, "internal error: %zu addresses to race", n);
	uint64_t start = dc_now_ns();
	uint64_t deadline = deadline_after(opts->timeout_ms);
	uint64_t tcp_deadline = tcp_timeout_ms > 0 ? start + (uint64_t)tcp_timeout_ms * 1000000u : deadline;
	if (tcp_deadline > deadline)
		tcp_deadline = deadline;
	int fds[DC_TLS_RACE_MAX], errs[DC_TLS_RACE_MAX];
	size_t pending = 0;
	int winner = -1;
	for (size_t i = 0; i < n; i++) {
		fds[i] = tcp_start(addrs[i].addr, addrs[i].len);
		errs[i] = fds[i] < 0 ? errno : 0;
		pending += fds[i] >= 0;
	}
	while (pending > 0 && winner < 0) {
		int ms = remaining_ms(tcp_deadline);
		if (ms == 0)
			break;
		struct pollfd p[DC_TLS_RACE_MAX];
		for (size_t i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = fds[i], .events = POLLOUT}; /* fd -1 is ignored by poll */
		int rc = poll(p, n, ms);
		if (rc < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n && rc > 0; i++) {
			if (fds[i] < 0 || !p[i].revents)
				continue;
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr == 0 && winner < 0) {
				winner = (int)i;
				continue;
			}
			errs[i] = soerr ? soerr : EIO;
			close(fds[i]);
			fds[i] = -1;
			pending--;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && (int)i != winner)
			close(fds[i]);
	if (winner < 0) {
		/* Name the first address's failure; the others follow in parentheses. */
		dc_sockaddr_format(addrs[0].addr, c->peer, sizeof(c->peer));
		tcp_failed(c, errs[0], err);
		for (size_t i = 1; i < n && err; i++) {
			char other[sizeof(c->peer)];
			dc_sockaddr_format(addrs[i].addr, other, sizeof(other));
			size_t used = strlen(err->what);
			snprintf(err->what + used, sizeof(err->what) - used, "; %s: %s", other,
				 errs[i] == 0 ? "timed out" : strerror(errs[i]));
		}
		return -1;
	}
	c->fd = fds[winner];
	c->tcp_ns = dc_now_ns() - start;
	dc_sockaddr_format(addrs[winner].addr, c->peer, sizeof(c->peer));
	if (tls_handshake(c, opts, deadline, err) < 0)
		return -1;
	return winner;
}

int dc_tls_write_all(struct dc_tls_conn *c, const void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err)
{
	dc_ossl_need();
	const unsigned char *p = buf;
	while (n > 0) {
		ERR_clear_error();
		int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
		int rc = SSL_write(c->ssl, p, chunk);
		if (rc > 0) {
			p += rc;
			n -= (size_t)rc;
			continue;
		}
		int e = SSL_get_error(c->ssl, rc);
		short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (!want)
			return fail(c, e == SSL_ERROR_ZERO_RETURN ? DC_CONN_CLOSED : DC_CONN_IO, err,
				    "writing to the server failed (the connection is gone)");
		int ready = wait_fd(c->fd, want, deadline_ns);
		if (ready <= 0)
			return fail(c, DC_CONN_TIMEOUT, err, "the server did not accept data before the deadline");
	}
	return 0;
}

long dc_tls_read(struct dc_tls_conn *c, void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err)
{
	dc_ossl_need();
	for (;;) {
		ERR_clear_error();
		int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
		int rc = SSL_read(c->ssl, buf, chunk);
		if (rc > 0)
			return rc;
		int e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_ZERO_RETURN) {
			c->failure = DC_CONN_CLOSED;
			return 0;
		}
		if (e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL &&
					       ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
			ERR_clear_error();
			c->failure = DC_CONN_CLOSED;
			return 0; /* the peer closed without close_notify: still the end of the stream */
		}
		short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (!want)
			return fail(c, DC_CONN_IO, err, "reading from the server failed");
		int ready = wait_fd(c->fd, want, deadline_ns);
		if (ready <= 0)
			return fail(c, DC_CONN_TIMEOUT, err, "no data from the server before the deadline");
	}
}

int dc_tls_pending(const struct dc_tls_conn *c)
{
	dc_ossl_need();
	return c->ssl ? SSL_pending(c->ssl) : 0;
}

void dc_tls_close(struct dc_tls_conn *c)
{
	dc_ossl_need();
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ctx) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

STACK_OF(X509) *dc_tls_peer_chain(const struct dc_tls_conn *c)
{
	dc_ossl_need();
	return c->ssl ? SSL_get_peer_cert_chain(c->ssl) : NULL;
}

size_t dc_tls_ocsp_staple(const struct dc_tls_conn *c, const unsigned char **der)
{
	dc_ossl_need();
	*der = NULL;
	if (!c->ssl)
		return 0;
	unsigned char *p = NULL;
	long n = SSL_get_tlsext_status_ocsp_resp(c->ssl, &p);
	if (n <= 0 || !p)
		return 0;
	*der = p;
	return (size_t)n;
}

/* ---- verification ------------------------------------------------------------ */

bool dc_tls_is_metacert(X509 *cert)
{
	dc_ossl_need();
	char cn[128] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	return strncmp(cn, "derpkey", 7) == 0 && strlen(cn) == 7 + 64;
}

int dc_tls_find_derpkey(STACK_OF(X509) *chain, uint8_t key[32], int *version)
{
	dc_ossl_need();
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *cert = sk_X509_value(chain, i);
		if (!dc_tls_is_metacert(cert))
			continue;
		char cn[128] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
		bool ok = dc_derp_key_parse(cn + 7, 64, key) == 0;
		long serial = ASN1_INTEGER_get(X509_get0_serialNumber(cert));
		if (!ok || serial < 0 || serial > 255)
			continue; /* the Go client ignores a metacert it cannot use */
		if (version)
			*version = (int)serial;
		return 0;
	}
	return -1;
}

void dc_tls_cert_sha256_hex(X509 *cert, char out[65])
{
	dc_ossl_need();
	unsigned char md[32];
	unsigned int len = 0;
	X509_digest(cert, EVP_sha256(), md, &len);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

static void add_problem(struct dc_tls_verdict *v, int code, int depth, X509 *cert, const char *text)
{
	for (size_t i = 0; i < v->count; i++) /* OpenSSL may report the same error twice */
		if (v->problems[i].code == code && v->problems[i].depth == depth)
			return;
	if (v->count == DC_ARRAY_LEN(v->problems))
		return;
	struct dc_tls_problem *p = &v->problems[v->count++];
	p->code = code;
	p->depth = depth;
	p->subject[0] = '\0';
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), p->subject, sizeof(p->subject));
	snprintf(p->text, sizeof(p->text), "%s", text);
}

static int collect_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok) {
		struct dc_tls_verdict *v = X509_STORE_CTX_get_app_data(ctx);
		int code = X509_STORE_CTX_get_error(ctx);
		add_problem(v, code, X509_STORE_CTX_get_error_depth(ctx), X509_STORE_CTX_get_current_cert(ctx),
			    X509_verify_cert_error_string(code));
	}
	return 1; /* keep going: we want every problem, not just the first */
}

static int verify_pin(STACK_OF(X509) *chain, const char *pin, const char *host_name, struct dc_tls_verdict *v)
{
	X509 *leaf = NULL;
	int real = 0;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *cert = sk_X509_value(chain, i);
		if (dc_tls_is_metacert(cert))
			continue;
		if (!leaf)
			leaf = cert;
		real++;
	}
	if (!leaf) {
		add_problem(v, DC_TLS_ERR_NO_CERT, 0, NULL, "expected cert not presented");
		return 0;
	}
	if (real > 1)
		add_problem(v, DC_TLS_ERR_PIN_MULTIPLE, 0, leaf, "unexpected multiple certs presented");
	char hex[65];
	dc_tls_cert_sha256_hex(leaf, hex);
	if (strcmp(hex, pin) != 0)
		add_problem(v, DC_TLS_ERR_PIN_MISMATCH, 0, leaf, "cert hash does not match expected cert hash");
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
		add_problem(v, X509_V_ERR_CERT_HAS_EXPIRED, 0, leaf, "cert expired");
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
		add_problem(v, X509_V_ERR_CERT_NOT_YET_VALID, 0, leaf, "cert not yet valid; is your clock correct?");
	/* With a non-empty SNI the pinned certificate must still carry the name. */
	if (host_name && *host_name && !is_ip_literal(host_name) &&
	    X509_check_host(leaf, host_name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
		add_problem(v, X509_V_ERR_HOSTNAME_MISMATCH, 0, leaf, "hostname mismatch");
	return 0;
}

/* The stores loaded so far: few (the system's, one --ca-file), kept for the process. */
static struct {
	pthread_mutex_t lock;
	struct cached_store {
		char *path; /* NULL: the system store */
		off_t size;
		struct timespec mtime;
		X509_STORE *store;
	} items[8];
	size_t count;
} trust_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

X509_STORE *dc_tls_trust_store(const char *ca_file, struct dc_error *err)
{
	struct stat st = {0};
	if (ca_file && stat(ca_file, &st) < 0) {
		dc_error_set(err, ca_file, "cannot load CA certificates: %s", strerror(errno));
		dc_error_hint(err, "--ca-file needs a readable PEM file with one or more CA certificates");
		return NULL;
	}
	pthread_mutex_lock(&trust_cache.lock);
	X509_STORE *found = NULL;
	for (size_t i = 0; i < trust_cache.count && !found; i++) {
		struct cached_store *c = &trust_cache.items[i];
		if ((!ca_file && !c->path) || (ca_file && c->path && strcmp(ca_file, c->path) == 0 && c->size == st.st_size &&
					       c->mtime.tv_sec == st.st_mtim.tv_sec && c->mtime.tv_nsec == st.st_mtim.tv_nsec))
			found = c->store;
	}
	if (found) {
		X509_STORE_up_ref(found);
		pthread_mutex_unlock(&trust_cache.lock);
		return found;
	}
	X509_STORE *store = X509_STORE_new();
	int loaded = ca_file ? X509_STORE_load_file(store, ca_file) : X509_STORE_set_default_paths(store);
	ERR_clear_error();
	if (loaded != 1) {
		pthread_mutex_unlock(&trust_cache.lock);
		X509_STORE_free(store);
		dc_error_set(err, ca_file ? ca_file : "system trust store", "cannot load CA certificates");
		dc_error_hint(err, ca_file ? "--ca-file needs a readable PEM file with one or more CA certificates"
					   : "install the ca-certificates package, or pass --ca-file");
		return NULL;
	}
	if (trust_cache.count < DC_ARRAY_LEN(trust_cache.items)) {
		trust_cache.items[trust_cache.count++] = (struct cached_store){
			.path = ca_file ? dc_xstrdup(ca_file) : NULL, .size = st.st_size, .mtime = st.st_mtim, .store = store};
		X509_STORE_up_ref(store); /* one reference for the cache, one for the caller */
	}
	pthread_mutex_unlock(&trust_cache.lock);
	return store;
}

int dc_tls_verify(STACK_OF(X509) *chain, const char *host_name, const char *cert_name, const char *ca_file,
		  struct dc_tls_verdict *v, struct dc_error *err)
{
	dc_ossl_need();
	memset(v, 0, sizeof(*v));
	static const char pin_prefix[] = "sha256-raw:";
	if (cert_name && strncmp(cert_name, pin_prefix, sizeof(pin_prefix) - 1) == 0) {
		v->pinned = true;
		v->name_checked = host_name;
		verify_pin(chain, cert_name + sizeof(pin_prefix) - 1, host_name, v);
		v->ok = v->count == 0;
		return 0;
	}
	X509 *leaf = NULL;
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *cert = sk_X509_value(chain, i);
		if (!leaf && !dc_tls_is_metacert(cert))
			leaf = cert;
		else
			sk_X509_push(untrusted, cert); /* Go puts every other cert, metacert included, in the pool */
	}
	if (!leaf) {
		sk_X509_free(untrusted);
		add_problem(v, DC_TLS_ERR_NO_CERT, 0, NULL, "the server presented no certificate");
		return 0;
	}
	X509_STORE *store = dc_tls_trust_store(ca_file, err);
	if (!store) {
		sk_X509_free(untrusted);
		return -1;
	}
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, store, leaf, untrusted);
	X509_STORE_CTX_set_app_data(ctx, v);
	X509_STORE_CTX_set_verify_cb(ctx, collect_cb);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	/* Go rejects SHA-1 signatures but accepts RSA-1024; level 1 matches that. */
	X509_VERIFY_PARAM_set_auth_level(param, 1);
	const char *name = cert_name && *cert_name ? cert_name : host_name;
	if (name && *name) {
		if (is_ip_literal(name)) {
			/* Go sends no SNI for an IP HostName and then checks no name at all (§2.2). */
			if (cert_name && *cert_name)
				X509_VERIFY_PARAM_set1_ip_asc(param, name);
		} else {
			X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
								X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			X509_VERIFY_PARAM_set1_host(param, name, 0);
		}
		v->name_checked = is_ip_literal(name) && !(cert_name && *cert_name) ? NULL : name;
	}
	X509_verify_cert(ctx);
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	v->ok = v->count == 0;
	return 0;
}
