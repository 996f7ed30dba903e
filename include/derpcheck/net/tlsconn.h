/*
 * TCP + TLS connections the way Tailscale's DERP client makes them (tls-diagnosis.md §2):
 * SNI = HostName (none for IP literals), no ALPN (so the server cannot pick h2), TLS 1.2+.
 * The handshake always completes with verification off so the served chain is captured;
 * dc_tls_verify then judges it offline exactly as Tailscale would, before any byte is sent
 * on the connection. Every step has a deadline and a named failure.
 */
#ifndef DERPCHECK_TLSCONN_H
#define DERPCHECK_TLSCONN_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "derpcheck/util/util.h"

/* Why a connection failed, for callers that explain or test failures by kind. */
enum dc_conn_failure {
	DC_CONN_OK,
	DC_CONN_REFUSED,       /* TCP RST: nothing listens, or a firewall rejects */
	DC_CONN_UNREACHABLE,   /* no route, host or network unreachable */
	DC_CONN_TIMEOUT,       /* a deadline passed (TCP, TLS, or I/O) */
	DC_CONN_NOT_TLS,       /* the port answered, but not with TLS (plain HTTP?) */
	DC_CONN_TLS_ALERT,     /* the server aborted the handshake with an alert */
	DC_CONN_TLS_FAILED,    /* another handshake failure (derpcheck refused the server's handshake: alert_sent) */
	DC_CONN_CLOSED,        /* the peer closed the connection */
	DC_CONN_IO,            /* another socket error */
};

struct dc_tls_opts {
	const char *sni;  /* HostName; not sent when it is an IP literal, like Go */
	long timeout_ms;  /* TCP connect + TLS handshake together */
	/*
	 * ALPN protocols to offer, comma-separated ("h2,http/1.1"); NULL offers none, as
	 * Tailscale's DERP client does. Only the proxy probe offers any: to see whether
	 * whatever terminates TLS picks HTTP/2, where the /derp upgrade cannot happen.
	 */
	const char *alpn;
	bool ocsp_status; /* send status_request, so the server may staple an OCSP response (RFC 6066 §8) */
};

struct dc_tls_conn {
	int fd;
	SSL_CTX *ctx; /* unused: connections share one context (dc_tls_init) */
	SSL *ssl;
	char peer[INET6_ADDRSTRLEN + 8]; /* "1.2.3.4:443" or "[::1]:443" */
	uint64_t tcp_ns;                 /* TCP connect duration */
	uint64_t tls_ns;                 /* TLS handshake duration */
	char alert[64];                  /* the first alert the server sent, if any */
	char alert_sent[64];             /* the first alert derpcheck (OpenSSL) sent: it gave up itself */
	char alpn[32];                   /* the protocol the server chose by ALPN, "" for none */
	enum dc_conn_failure failure;    /* set when connect/read/write fails */
};

void dc_sockaddr_format(const struct sockaddr *sa, char *out, size_t n);

/*
 * Load OpenSSL and make the process's one client TLS context, which every connection
 * shares. Connecting does this by itself; a caller that times connections calls it
 * first, so that OpenSSL's own start-up is not counted as the first handshake.
 */
int dc_tls_init(struct dc_error *err);

/* Connect TCP then TLS to addr. On failure err says what and where; conn->failure why. */
int dc_tls_connect(const struct sockaddr *addr, socklen_t addrlen, const struct dc_tls_opts *opts,
		   struct dc_tls_conn *conn, struct dc_error *err);

/* One address to race in dc_tls_connect_race. */
struct dc_tls_addr {
	const struct sockaddr *addr;
	socklen_t len;
};
#define DC_TLS_RACE_MAX 8

/*
 * Happy Eyeballs as Tailscale's DERP client does it: start a TCP connect to every address
 * at once (IPv4 and IPv6 of one node), keep the first that connects, then TLS on it.
 * tcp_timeout_ms bounds the TCP race (Tailscale: 1.5 s per node), opts->timeout_ms the
 * whole. Returns the index of the address used, or -1: conn->failure and err then describe
 * the first address's failure and err->what appends the others'.
 */
int dc_tls_connect_race(const struct dc_tls_addr *addrs, size_t n, long tcp_timeout_ms, const struct dc_tls_opts *opts,
			struct dc_tls_conn *conn, struct dc_error *err);

/* Write all of buf, or fail at deadline_ns (CLOCK_MONOTONIC). */
int dc_tls_write_all(struct dc_tls_conn *conn, const void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err);

/* Read up to n bytes (at least 1); 0 means the peer closed; -1 error or deadline. */
long dc_tls_read(struct dc_tls_conn *conn, void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err);

/* Bytes already decrypted and buffered (so poll() on the fd is not needed for them). */
int dc_tls_pending(const struct dc_tls_conn *conn);

void dc_tls_close(struct dc_tls_conn *conn);

/* The OCSP response the server stapled (DER, not owned; valid until close); 0 when none. */
size_t dc_tls_ocsp_staple(const struct dc_tls_conn *conn, const unsigned char **der);

/* The chain exactly as served, leaf first (derper's metacert included). Not owned. */
STACK_OF(X509) *dc_tls_peer_chain(const struct dc_tls_conn *conn);

/*
 * One verification problem, as OpenSSL's verifier or Tailscale's extra rules found it.
 * code is an X509_V_ERR_* value, or one of the DC_TLS_ERR_* values below.
 */
struct dc_tls_problem {
	int code;
	int depth;
	char subject[256];
	char text[256];
};

#define DC_TLS_ERR_PIN_MISMATCH 10001    /* sha256-raw: pin differs from the leaf */
#define DC_TLS_ERR_PIN_MULTIPLE 10002    /* pinning, but a chain was served */
#define DC_TLS_ERR_NO_CERT 10003         /* only derper's metacert (or nothing) served */

struct dc_tls_verdict {
	bool ok;
	const char *name_checked;  /* CertName or HostName; NULL for an IP literal without CertName */
	bool pinned;               /* CertName was sha256-raw: */
	struct dc_tls_problem problems[16];
	size_t count;
};

/*
 * Verify a served chain as Tailscale's client does: the leaf against host_name (or
 * cert_name when set; sha256-raw: pins the leaf), the other certificates (metacert
 * included) as untrusted intermediates, roots from ca_file or the system store, serverAuth,
 * no CN fallback. Collects every problem at every depth. Returns -1 only when the trust
 * store cannot be loaded (err says why).
 */
int dc_tls_verify(STACK_OF(X509) *chain, const char *host_name, const char *cert_name, const char *ca_file,
		  struct dc_tls_verdict *verdict, struct dc_error *err);

/*
 * The trust store for ca_file (PEM CA certificates), or the system's when NULL, with a
 * reference for the caller (X509_STORE_free it). Loaded once per process and file
 * version (path, size and modification time), then shared: a run verifies many chains
 * against the same roots (every node, every client model), and parsing the roots each
 * time was most of the cost. NULL with err when the file cannot be loaded.
 */
X509_STORE *dc_tls_trust_store(const char *ca_file, struct dc_error *err);

/* derper's meta certificate ("derpkey" + 64 hex): the server's DERP key and protocol version. */
bool dc_tls_is_metacert(X509 *cert);
int dc_tls_find_derpkey(STACK_OF(X509) *chain, uint8_t key[32], int *version);

/* Lowercase hex SHA-256 of the DER certificate: the value a sha256-raw: pin must hold. */
void dc_tls_cert_sha256_hex(X509 *cert, char out[65]);

#endif
