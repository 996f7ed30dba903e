/*
 * A test HTTP server for captive-portal detection: /generate_204 answered like derper
 * (204 + X-Tailscale-Response echoing a valid X-Tailscale-Challenge), or wrongly on
 * purpose. One mode per loopback address, all on one port, so a DERP map can point
 * several nodes at different behaviours:
 *
 *   captive_server [--lifetime SECONDS] ADDR=MODE...
 *
 *   ok            204 with "X-Tailscale-Response: response <challenge>"
 *   portal        200 with a login page (what a captive portal serves)
 *   no-header     204 without X-Tailscale-Response
 *   wrong-header  204 with a response to another challenge
 *   redirect      302 to /portal-login on the same address (a test sees if it was followed)
 *   hang          reads the request and never answers
 *
 * ADDR must be in 127.0.0.0/8. Prints "listening PORT" on stdout once every address is
 * bound (the ready signal), then one line per request on stderr. Exits by itself after
 * --lifetime seconds (default 60).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "derpcheck/util/util.h"

enum mode { OK, PORTAL, NO_HEADER, WRONG_HEADER, REDIRECT, HANG };
static const char *const mode_names[] = {"ok", "portal", "no-header", "wrong-header", "redirect", "hang"};

#define MAX_LISTEN 16
#define MAX_CONN 64
#define HEAD_MAX 8192

struct listener {
	int fd;
	enum mode mode;
	char addr[INET_ADDRSTRLEN];
};

struct conn {
	int fd;
	enum mode mode;
	const char *addr;
	uint16_t port;
	char head[HEAD_MAX];
	size_t len;
	bool answered; /* hang connections stay open, unanswered, until the client leaves */
};

static int parse_listener(const char *arg, struct listener *l)
{
	const char *eq = strchr(arg, '=');
	if (!eq || (size_t)(eq - arg) >= sizeof(l->addr))
		return -1;
	memcpy(l->addr, arg, (size_t)(eq - arg));
	l->addr[eq - arg] = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, l->addr, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
		fprintf(stderr, "captive_server: %s: only 127.0.0.0/8 addresses are served\n", l->addr);
		return -1;
	}
	for (size_t m = 0; m < DC_ARRAY_LEN(mode_names); m++) {
		if (strcmp(eq + 1, mode_names[m]) == 0) {
			l->mode = (enum mode)m;
			return 0;
		}
	}
	fprintf(stderr, "captive_server: unknown mode %s\n", eq + 1);
	return -1;
}

static int listen_on(const char *addr, uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 32) < 0) {
		fprintf(stderr, "captive_server: %s:%u: %s\n", addr, *port, strerror(errno));
		close(fd);
		return -1;
	}
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* The value of header name in the request head (case-insensitive), or "" when absent. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	size_t k = strlen(name);
	for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (strncasecmp(h, name, k) != 0 || h[k] != ':')
			continue;
		const char *v = h + k + 1;
		while (*v == ' ')
			v++;
		size_t n = strcspn(v, "\r\n");
		snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
		return;
	}
}

/* derper answers only challenges of [a-zA-Z0-9._-], at most 64 bytes. */
static bool challenge_ok(const char *c)
{
	size_t n = strlen(c);
	if (n == 0 || n > 64)
		return false;
	return strspn(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void answer(struct conn *c)
{
	char path[256] = "", challenge[128], cache[160];
	sscanf(c->head, "GET %255s", path);
	header_value(c->head, "X-Tailscale-Challenge", challenge, sizeof(challenge));
	header_value(c->head, "Cache-Control", cache, sizeof(cache));
	fprintf(stderr, "captive_server: %s GET %s challenge=%s cache-control=%s\n", mode_names[c->mode], path,
		challenge[0] ? challenge : "-", cache[0] ? cache : "-");
	c->answered = true;
	if (c->mode == HANG)
		return;
	char resp[1024];
	if (strncmp(path, "/generate_204", 13) != 0) {
		snprintf(resp, sizeof(resp), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (c->mode == OK && challenge_ok(challenge)) {
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 204 No Content\r\nX-Tailscale-Response: response %s\r\nConnection: close\r\n\r\n", challenge);
	} else if (c->mode == OK || c->mode == NO_HEADER) {
		snprintf(resp, sizeof(resp), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
	} else if (c->mode == WRONG_HEADER) {
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 204 No Content\r\nX-Tailscale-Response: response ts_198.51.100.7\r\nConnection: close\r\n\r\n");
	} else if (c->mode == REDIRECT) {
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 302 Found\r\nLocation: http://%s:%u/portal-login\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n",
			 c->addr, c->port);
	} else {
		const char *page = "<html><body><h1>Welcome to Hotel WiFi</h1><a href=\"/login\">Log in</a></body></html>\n";
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(page), page);
	}
	send_all(c->fd, resp);
}

int main(int argc, char **argv)
{
	long long lifetime = 60;
	struct listener ls[MAX_LISTEN];
	size_t nl = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc) {
			if (dc_parse_int(argv[++i], 1, 3600, &lifetime) < 0) {
				fprintf(stderr, "captive_server: --lifetime takes 1..3600 seconds\n");
				return 2;
			}
		} else if (nl < MAX_LISTEN && parse_listener(argv[i], &ls[nl]) == 0) {
			nl++;
		} else {
			fprintf(stderr, "usage: captive_server [--lifetime SECONDS] ADDR=MODE...\n");
			return 2;
		}
	}
	if (nl == 0) {
		fprintf(stderr, "usage: captive_server [--lifetime SECONDS] ADDR=MODE...\n");
		return 2;
	}
	uint16_t port = 0;
	for (size_t i = 0; i < nl; i++) {
		ls[i].fd = listen_on(ls[i].addr, &port);
		if (ls[i].fd < 0)
			return 1;
	}
	printf("listening %u\n", port);
	fflush(stdout);

	struct conn *conns = calloc(MAX_CONN, sizeof(*conns));
	if (!conns)
		return 1;
	for (size_t i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	uint64_t end = dc_now_ns() + (uint64_t)lifetime * 1000000000u;
	while (dc_now_ns() < end) {
		struct pollfd pfd[MAX_LISTEN + MAX_CONN];
		size_t n = 0;
		for (size_t i = 0; i < nl; i++)
			pfd[n++] = (struct pollfd){.fd = ls[i].fd, .events = POLLIN};
		for (size_t i = 0; i < MAX_CONN; i++)
			pfd[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		if (poll(pfd, n, 200) <= 0)
			continue;
		for (size_t i = 0; i < nl; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			int fd = accept4(ls[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			size_t slot = 0;
			while (slot < MAX_CONN && conns[slot].fd >= 0)
				slot++;
			if (slot == MAX_CONN) {
				close(fd);
				continue;
			}
			conns[slot] = (struct conn){.fd = fd, .mode = ls[i].mode, .addr = ls[i].addr, .port = port};
		}
		for (size_t i = 0; i < MAX_CONN; i++) {
			struct conn *c = &conns[i];
			if (c->fd < 0 || !(pfd[nl + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char tmp[1024];
			ssize_t got = read(c->fd, tmp, sizeof(tmp));
			if (got <= 0) { /* the client left (or a hang client gave up) */
				close(c->fd);
				c->fd = -1;
				continue;
			}
			if (c->answered)
				continue; /* hang: ignore anything more */
			size_t take = (size_t)got < HEAD_MAX - 1 - c->len ? (size_t)got : HEAD_MAX - 1 - c->len;
			memcpy(c->head + c->len, tmp, take);
			c->len += take;
			c->head[c->len] = '\0';
			if (!strstr(c->head, "\r\n\r\n") && c->len < HEAD_MAX - 1)
				continue;
			answer(c);
			if (c->mode != HANG) {
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	free(conns);
	return 0;
}
