/*
 * hostile_http: an HTTP and HTTPS server for --derp-map URLs that misbehave, for the
 * hostile-server suite (tests/integration/hostile_http.sh, issue #13). Loopback only.
 *
 *   hostile_http --cert FILE --key FILE [--gzip-file FILE]
 *
 * Listens twice on 127.0.0.1: plain HTTP and HTTPS (the certificate must be valid for
 * 127.0.0.1), and prints "ready HTTP_PORT HTTPS_PORT". The path picks the behaviour, the
 * same on both ports:
 *   /map.json       a small valid DERP map
 *   /big            100 MB of JSON-looking bytes, Content-Length given
 *   /chunked        an endless chunked body
 *   /gzip-bomb      Content-Encoding: gzip, the bytes of --gzip-file (the test: 10 MB of zeros, gzipped)
 *   /trickle        200 and a map, one byte every 200 ms
 *   /loop           302 to itself
 *   /to-http        302 to http://127.0.0.1:HTTP_PORT/map.json
 *   /to-https       302 to https://127.0.0.1:HTTPS_PORT/map.json
 *   /to-file        302 to file:///etc/passwd
 *   /to-ftp         302 to ftp://127.0.0.1:HTTP_PORT/map.json
 *   /to-gopher      302 to gopher://127.0.0.1:HTTP_PORT/1
 *   /to-scheme      302 to javascript:alert(1)
 *   /html           200 with an HTML error page full of escape sequences
 * Each connection is served by a child process; it never outlives 120 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>

static int http_port, https_port;

static const char map_json[] =
	"{\"Regions\":{\"900\":{\"RegionID\":900,\"RegionCode\":\"test\",\"RegionName\":\"Test\",\"Nodes\":"
	"[{\"Name\":\"900a\",\"RegionID\":900,\"HostName\":\"derp.test\",\"IPv4\":\"127.0.0.1\",\"IPv6\":\"none\"}]}}}\n";

struct conn {
	int fd;
	SSL *ssl;
};

static void out(struct conn *c, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		long w = c->ssl ? SSL_write(c->ssl, b, (int)(n > 65536 ? 65536 : n)) : (long)send(c->fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			_exit(0); /* the client gave up: that is the point */
		b += w;
		n -= (size_t)w;
	}
}

static void outf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct conn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out(c, buf, (size_t)n);
}

static void redirect(struct conn *c, const char *location)
{
	outf(c, "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", location);
}

static const char *gzip_file;

/* A file of gzip bytes (the test makes it: 10 MB of zeros, gzip -9), served as is. */
static void gzip_bomb(struct conn *c)
{
	FILE *f = gzip_file ? fopen(gzip_file, "rb") : NULL;
	static char body[1 << 20];
	size_t n = f ? fread(body, 1, sizeof(body), f) : 0;
	if (f)
		fclose(f);
	outf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", n);
	out(c, body, n);
}

static void serve(struct conn *c)
{
	char req[8192];
	size_t len = 0;
	while (len < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		long n = c->ssl ? SSL_read(c->ssl, req + len, (int)(sizeof(req) - 1 - len))
				: (long)recv(c->fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
	}
	char path[256] = "";
	if (sscanf(req, "GET %255s ", path) != 1)
		return;
	char url[512];
	if (strcmp(path, "/map.json") == 0) {
		outf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", strlen(map_json));
		out(c, map_json, strlen(map_json));
	} else if (strcmp(path, "/big") == 0) {
		static char chunk[1 << 16];
		memset(chunk, ' ', sizeof(chunk));
		chunk[0] = '[';
		outf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n");
		for (long sent = 0; sent < 100000000; sent += (long)sizeof(chunk))
			out(c, chunk, sizeof(chunk));
	} else if (strcmp(path, "/chunked") == 0) {
		outf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
		for (;;)
			outf(c, "400\r\n%01024d\r\n", 0);
	} else if (strcmp(path, "/gzip-bomb") == 0) {
		gzip_bomb(c);
	} else if (strcmp(path, "/trickle") == 0) {
		outf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", strlen(map_json));
		for (size_t i = 0; i < strlen(map_json); i++) {
			out(c, map_json + i, 1);
			usleep(200000);
		}
	} else if (strcmp(path, "/loop") == 0) {
		redirect(c, "/loop");
	} else if (strcmp(path, "/to-http") == 0) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/map.json", http_port);
		redirect(c, url);
	} else if (strcmp(path, "/to-https") == 0) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%d/map.json", https_port);
		redirect(c, url);
	} else if (strcmp(path, "/to-file") == 0) {
		redirect(c, "file:///etc/passwd");
	} else if (strcmp(path, "/to-ftp") == 0) {
		snprintf(url, sizeof(url), "ftp://127.0.0.1:%d/map.json", http_port);
		redirect(c, url);
	} else if (strcmp(path, "/to-gopher") == 0) {
		snprintf(url, sizeof(url), "gopher://127.0.0.1:%d/1", http_port);
		redirect(c, url);
	} else if (strcmp(path, "/to-scheme") == 0) {
		redirect(c, "javascript:alert(1)");
	} else if (strcmp(path, "/html") == 0) {
		static const char page[] = "\033[2J\033[H\033]0;pwned\a<html><body>\r\nderpcheck: all good\xc2\x9b" "31m \xff\xfe</body></html>\n";
		outf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n\r\n", sizeof(page) - 1);
		out(c, page, sizeof(page) - 1);
	} else {
		outf(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
}

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		perror("hostile_http: listen");
		exit(1);
	}
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--cert") == 0)
			cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[i + 1];
		else if (strcmp(argv[i], "--gzip-file") == 0)
			gzip_file = argv[i + 1];
	}
	if (!cert || !key) {
		fprintf(stderr, "usage: hostile_http --cert FILE --key FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "hostile_http: cannot load %s / %s\n", cert, key);
		return 1;
	}
	int plain = listen_loopback(&http_port), tls = listen_loopback(&https_port);
	printf("ready %d %d\n", http_port, https_port);
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {{plain, POLLIN, 0}, {tls, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int k = 0; k < 2; k++) {
			if (!(p[k].revents & POLLIN))
				continue;
			int fd = accept(p[k].fd, NULL, NULL);
			if (fd < 0)
				continue;
			if (fork() == 0) {
				alarm(120);
				struct conn c = {.fd = fd};
				if (k == 1) {
					c.ssl = SSL_new(ctx);
					SSL_set_fd(c.ssl, fd);
					if (SSL_accept(c.ssl) != 1)
						_exit(0);
				}
				serve(&c);
				if (c.ssl)
					SSL_shutdown(c.ssl);
				_exit(0);
			}
			close(fd);
		}
	}
}
