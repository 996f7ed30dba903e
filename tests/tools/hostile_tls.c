/*
 * hostile_tls: a TCP/TLS server that misbehaves on purpose, for the hostile-server suite
 * (tests/integration/hostile_derp.sh, issue #13). Loopback tests only.
 *
 *   hostile_tls --mode MODE [--listen ADDR:PORT] [--hostname NAME] [--count N] [--bytes N]
 *
 * Transport modes (before or instead of TLS):
 *   silent          accept the connection and never send a byte
 *   garbage         send 4 KiB of random bytes with escape sequences, then wait
 *   trickle         send a TLS record header, then one byte every 200 ms, forever
 * TLS modes (a generated certificate for --hostname, default derp.test):
 *   long-chain      serve a chain of --count certificates (default 200), leaf first
 *   huge-cert       serve one certificate carrying --bytes of extension data (default 1 MiB)
 * HTTP upgrade modes (after a normal TLS handshake, answering GET /derp):
 *   http-garbage    binary garbage with escape sequences instead of an HTTP answer
 *   http-no-end     "HTTP/1.1 101" and header lines without end, as fast as the client reads
 *   http-404        404 with an escape sequence in the reason phrase and the body
 *   http-101-silence  a correct 101 Switching Protocols, then nothing
 *   http-trickle    a correct 101 Switching Protocols sent one byte every 200 ms
 *
 * Each connection is served by its own child process (the client may open several);
 * prints "ready ADDR:PORT" on stdout once listening.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *mode = NULL;
static const char *hostname = "derp.test";
static long count = 200;
static long huge_bytes = 1 << 20;

static void die(const char *what)
{
	fprintf(stderr, "hostile_tls: %s\n", what);
	exit(2);
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k)
		die("key generation failed");
	return k;
}

static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, bool ca, long serial)
{
	X509 *c = X509_new();
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(c));
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 30L * 86400);
	X509_set_pubkey(c, key);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer ? issuer : c, c, NULL, NULL, 0);
	char san[300];
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	if (!ca) {
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(c, e, -1);
		X509_EXTENSION_free(e);
	}
	return c;
}

static void sign(X509 *c, EVP_PKEY *key)
{
	if (!X509_sign(c, key, EVP_sha256()))
		die("signing failed");
}

/* A certificate with a private extension of n bytes: far above what TLS clients accept. */
static void add_bulk(X509 *c, long n)
{
	ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
	unsigned char *buf = malloc((size_t)n);
	memset(buf, 'A', (size_t)n);
	ASN1_OCTET_STRING_set(data, buf, (int)n);
	free(buf);
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
	X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, data);
	X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(data);
}

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_max_cert_list(ctx, 64L << 20);
	EVP_PKEY *leaf_key = new_key();
	if (strcmp(mode, "long-chain") == 0) {
		/* root -> count-2 intermediates -> leaf, served leaf first (the root too). */
		EVP_PKEY *keys[1024];
		X509 *certs[1024];
		long n = count < 2 ? 2 : count > 1024 ? 1024 : count;
		for (long i = 0; i < n; i++) {
			keys[i] = i == n - 1 ? leaf_key : new_key();
			char cn[64] = "hostile root";
			if (i == n - 1)
				snprintf(cn, sizeof(cn), "%s", hostname);
			else if (i > 0)
				snprintf(cn, sizeof(cn), "hostile intermediate %ld", i);
			certs[i] = new_cert(cn, keys[i], i ? certs[i - 1] : NULL, i < n - 1, i + 1);
			sign(certs[i], i ? keys[i - 1] : keys[i]);
		}
		SSL_CTX_use_certificate(ctx, certs[n - 1]);
		for (long i = n - 2; i >= 0; i--)
			SSL_CTX_add1_chain_cert(ctx, certs[i]);
		for (long i = 0; i < n; i++) {
			X509_free(certs[i]);
			if (i != n - 1)
				EVP_PKEY_free(keys[i]);
		}
	} else {
		X509 *leaf = new_cert(hostname, leaf_key, NULL, false, 1);
		if (strcmp(mode, "huge-cert") == 0)
			add_bulk(leaf, huge_bytes);
		sign(leaf, leaf_key);
		SSL_CTX_use_certificate(ctx, leaf);
		X509_free(leaf);
	}
	if (SSL_CTX_use_PrivateKey(ctx, leaf_key) != 1)
		die("the key does not match the certificate");
	EVP_PKEY_free(leaf_key);
	return ctx;
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w <= 0)
			exit(0);
		b += w;
		n -= (size_t)w;
	}
}

static void ssl_write_all(SSL *ssl, const void *p, size_t n)
{
	if (n && SSL_write(ssl, p, (int)n) <= 0)
		exit(0);
}

/* Bytes a terminal would act on, mixed with binary noise. */
static size_t garbage(unsigned char *buf, size_t n)
{
	static const char esc[] = "\033[2J\033[H\033]0;pwned\a\r\nderpcheck: all good\r\n\xc2\x9b" "31m";
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(rand() & 0xff);
	memcpy(buf, esc, sizeof(esc) - 1 < n ? sizeof(esc) - 1 : n);
	return n;
}

static void wait_forever(int fd)
{
	char buf[4096];
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, -1) <= 0 || read(fd, buf, sizeof(buf)) <= 0)
			exit(0);
	}
}

static void read_request(SSL *ssl)
{
	char buf[8192];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		int n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		if (n <= 0)
			exit(0);
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return;
	}
}

static void serve(int fd, SSL_CTX *ctx)
{
	unsigned char buf[4096];
	if (strcmp(mode, "silent") == 0)
		wait_forever(fd);
	if (strcmp(mode, "garbage") == 0) {
		write_all(fd, buf, garbage(buf, sizeof(buf)));
		wait_forever(fd);
	}
	if (strcmp(mode, "trickle") == 0) {
		/* A handshake record header announcing 16 KiB, then the body at 5 bytes a second. */
		static const unsigned char hdr[] = {0x16, 0x03, 0x03, 0x40, 0x00};
		write_all(fd, hdr, sizeof(hdr));
		for (;;) {
			usleep(200000);
			write_all(fd, "\x02", 1);
		}
	}
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		exit(0);
	if (strcmp(mode, "long-chain") == 0 || strcmp(mode, "huge-cert") == 0) {
		read_request(ssl);
		static const char no[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		ssl_write_all(ssl, no, sizeof(no) - 1);
		exit(0);
	}
	read_request(ssl);
	static const char ok101[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
				    "Derp-Version: 2\r\n\r\n";
	if (strcmp(mode, "http-garbage") == 0) {
		ssl_write_all(ssl, buf, garbage(buf, sizeof(buf)));
	} else if (strcmp(mode, "http-no-end") == 0) {
		static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n";
		ssl_write_all(ssl, head, sizeof(head) - 1);
		static const char line[] = "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
		for (;;)
			ssl_write_all(ssl, line, sizeof(line) - 1);
	} else if (strcmp(mode, "http-404") == 0) {
		static const char nf[] = "HTTP/1.1 404 Not \033[2JFound\033]0;x\a\r\nContent-Type: text/html\r\n"
					 "Content-Length: 40\r\n\r\n<h1>\033[2J\033[Hgone\xc2\x9b" "31m \xff\xfe</h1>........";
		ssl_write_all(ssl, nf, sizeof(nf) - 1);
	} else if (strcmp(mode, "http-101-silence") == 0) {
		ssl_write_all(ssl, ok101, sizeof(ok101) - 1);
	} else if (strcmp(mode, "http-trickle") == 0) {
		for (size_t i = 0; i < sizeof(ok101) - 1; i++) {
			ssl_write_all(ssl, ok101 + i, 1);
			usleep(200000);
		}
	}
	wait_forever(fd);
}

int main(int argc, char **argv)
{
	const char *listen_on = "127.0.0.1:0";
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--mode") == 0)
			mode = argv[i + 1];
		else if (strcmp(argv[i], "--listen") == 0)
			listen_on = argv[i + 1];
		else if (strcmp(argv[i], "--hostname") == 0)
			hostname = argv[i + 1];
		else if (strcmp(argv[i], "--count") == 0)
			count = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--bytes") == 0)
			huge_bytes = atol(argv[i + 1]);
		else
			die("usage: hostile_tls --mode MODE [--listen ADDR:PORT] [--hostname NAME] [--count N] [--bytes N]");
	}
	static const char *const modes[] = {"silent", "garbage", "trickle", "long-chain", "huge-cert", "http-garbage",
					    "http-no-end", "http-404", "http-101-silence", "http-trickle"};
	bool known = false;
	for (size_t i = 0; mode && i < sizeof(modes) / sizeof(modes[0]); i++)
		known = known || strcmp(mode, modes[i]) == 0;
	if (!known)
		die("unknown or missing --mode");
	srand((unsigned)time(NULL));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	SSL_CTX *ctx = make_ctx();

	char host[64];
	snprintf(host, sizeof(host), "%s", listen_on);
	char *colon = strrchr(host, ':');
	if (!colon)
		die("--listen wants ADDR:PORT");
	*colon = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("--listen wants an IPv4 address");
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0)
		die("cannot listen");
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("ready %s:%d\n", host, ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			alarm(120); /* never outlive a test run */
			serve(fd, ctx);
			_exit(0);
		}
		close(fd);
	}
}
