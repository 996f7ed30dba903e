/*
 * A tiny HTTP/1.0 file server on loopback for the cert tests: serves the AIA caIssuers
 * files (int.der, ...) and, as "/", index.html (a derper-like home page for the
 * plain-HTTP test). One request per connection, one connection at a time.
 *
 *   httpfiles DIR [--delay-ms N]
 *
 * Prints "listening 127.0.0.1:PORT" once ready; logs "GET /path STATUS" per request on
 * standard error, so tests can count fetches. Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, int status, const char *reason, const char *type, const char *body, size_t len)
{
	char date[64], head[512];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, reason, date, type, len);
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static void serve(int fd, const char *dir, long delay_ms)
{
	char req[4096];
	size_t len = 0;
	while (len < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	char method[8], path[1024];
	if (sscanf(req, "%7s %1023s", method, path) != 2) {
		reply(fd, 400, "Bad Request", "text/plain", "", 0);
		return;
	}
	if (delay_ms > 0)
		usleep((useconds_t)delay_ms * 1000);
	if (strcmp(path, "/") == 0)
		snprintf(path, sizeof(path), "/index.html");
	int status = 404;
	if (strcmp(method, "GET") == 0 && !strstr(path, "..")) {
		char file[2048];
		snprintf(file, sizeof(file), "%s%s", dir, path);
		FILE *f = fopen(file, "rb");
		if (f) {
			static char body[1 << 20];
			size_t blen = fread(body, 1, sizeof(body), f);
			fclose(f);
			const char *type = strstr(path, ".html") ? "text/html; charset=utf-8" : "application/pkix-cert";
			reply(fd, 200, "OK", type, body, blen);
			status = 200;
		}
	}
	if (status == 404)
		reply(fd, 404, "Not Found", "text/plain", "not found\n", 10);
	fprintf(stderr, "%s %s %d\n", method, path, status);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: httpfiles DIR [--delay-ms N]\n");
		return 2;
	}
	long delay_ms = argc >= 4 && strcmp(argv[2], "--delay-ms") == 0 ? atol(argv[3]) : 0;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		perror("httpfiles: bind");
		return 1;
	}
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("listening 127.0.0.1:%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		struct timeval tv = {.tv_sec = 3};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		serve(fd, argv[1], delay_ms);
		close(fd);
	}
}
