/*
 * fake_localapi: a stand-in for tailscaled's LocalAPI on a Unix socket, for tests.
 *
 *   fake_localapi --socket PATH [--status SPEC] [--derpmap SPEC] [--log FILE]
 *   fake_localapi --socket PATH --stale
 *
 * SPEC says how to answer GET /localapi/v0/<endpoint>:
 *   FILE      200 with the file's bytes as JSON
 *   403       403 "status access denied" (as tailscaled answers a user without access)
 *   404       404 "404 page not found" (an endpoint this tailscaled lacks; also the default)
 *   500       500 with a one-line error
 *   garbage   bytes that are not HTTP at all
 *   close     close the connection without answering
 *   hang      read the request and never answer (until the client gives up)
 *   slow      200, then the body one byte every 100 ms
 *   huge      200 with a 100 MB body (Content-Length given), streamed
 *   deep      200 with 100000 nested arrays
 *
 * Like tailscaled, any Host other than local-tailscaled.sock (or none), and any Origin or
 * Referer header, gets 403 "invalid localapi request". Each request is logged to --log as
 * "METHOD PATH host=HOST". "ready" is printed on stdout once the socket listens.
 * --stale binds the socket and exits without listening: a crashed tailscaled's leftover.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 16384
#define HANG_LIMIT_MS 60000 /* a hung connection is dropped after this, whatever the client does */

static volatile sig_atomic_t stopping;
static const char *socket_path;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

struct route {
	const char *endpoint; /* after /localapi/v0/ */
	const char *spec;
};

struct request {
	char method[16];
	char path[512];
	char host[256];
	bool has_host;
	bool has_origin;
	bool has_referer;
};

static void die(const char *what)
{
	fprintf(stderr, "fake_localapi: %s: %s\n", what, strerror(errno));
	if (socket_path)
		unlink(socket_path);
	exit(1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping)
		;
}

static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read until the blank line that ends the headers, with a deadline; false on EOF/timeout. */
static bool read_headers(int fd, char *buf, size_t size, size_t *len)
{
	*len = 0;
	while (*len + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			return false;
		ssize_t n = read(fd, buf + *len, size - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		*len += (size_t)n;
		buf[*len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

/* Copy the value of header line `line` (after "Name:") into out, trimmed. */
static void header_value(const char *line, size_t name_len, char *out, size_t size)
{
	const char *v = line + name_len + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strcspn(v, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static bool parse_request(const char *buf, struct request *req)
{
	memset(req, 0, sizeof(*req));
	if (sscanf(buf, "%15s %511s HTTP/1.", req->method, req->path) != 2)
		return false;
	for (const char *line = strstr(buf, "\r\n"); line && line[2] && !(line[2] == '\r' && line[3] == '\n');
	     line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (strncasecmp(h, "Host:", 5) == 0) {
			req->has_host = true;
			header_value(h, 4, req->host, sizeof(req->host));
		} else if (strncasecmp(h, "Origin:", 7) == 0) {
			req->has_origin = true;
		} else if (strncasecmp(h, "Referer:", 8) == 0) {
			req->has_referer = true;
		}
	}
	return true;
}

static void reply(int fd, int status, const char *reason, const char *type, const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Tailscale-Version: 1.86.2-fake\r\nConnection: close\r\n\r\n",
			 status, reason, type, len);
	if (write_all(fd, head, (size_t)n))
		write_all(fd, body, len);
}

static void reply_text(int fd, int status, const char *reason, const char *text)
{
	reply(fd, status, reason, "text/plain; charset=utf-8", text, strlen(text));
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	size_t cap = 65536, n = 0, got;
	char *data = malloc(cap);
	while (data && (got = fread(data + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n < cap)
			continue;
		char *bigger = realloc(data, cap * 2);
		if (!bigger)
			free(data);
		data = bigger;
		cap *= 2;
	}
	fclose(fp);
	*len = n;
	return data;
}

/* Keep the connection open, answering nothing, until the client closes it. */
static void hang(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char sink[256];
	for (int waited = 0; waited < HANG_LIMIT_MS && !stopping; waited += 100) {
		if (poll(&p, 1, 100) > 0 && read(fd, sink, sizeof(sink)) <= 0)
			return;
	}
}

static void serve(int fd, const char *spec)
{
	if (strcmp(spec, "403") == 0) {
		reply_text(fd, 403, "Forbidden", "status access denied\n");
	} else if (strcmp(spec, "404") == 0) {
		reply_text(fd, 404, "Not Found", "404 page not found\n");
	} else if (strcmp(spec, "500") == 0) {
		reply_text(fd, 500, "Internal Server Error", "no netmap yet\n");
	} else if (strcmp(spec, "garbage") == 0) {
		static const char junk[] = "\x16\x03\x01 this is not HTTP at all\n";
		write_all(fd, junk, sizeof(junk) - 1);
	} else if (strcmp(spec, "close") == 0) {
		/* nothing */
	} else if (strcmp(spec, "hang") == 0) {
		hang(fd);
	} else if (strcmp(spec, "huge") == 0 || strcmp(spec, "deep") == 0) {
		bool huge = spec[0] == 'h';
		size_t total = huge ? 100000000u : 200000u;
		char head[256];
		int n = snprintf(head, sizeof(head),
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", total);
		if (!write_all(fd, head, (size_t)n))
			return;
		static char chunk[65536];
		for (size_t sent = 0; sent < total && !stopping;) {
			size_t k = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
			for (size_t i = 0; i < k; i++) /* deep: 100000 '[' then as many ']' */
				chunk[i] = huge ? (sent + i == 0 ? '[' : ' ') : (sent + i < total / 2 ? '[' : ']');
			if (!write_all(fd, chunk, k))
				return;
			sent += k;
		}
	} else if (strcmp(spec, "slow") == 0) {
		static const char body[] = "{\"BackendState\": \"Running\", \"Peer\": null}\n";
		char head[256];
		int n = snprintf(head, sizeof(head),
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
				 sizeof(body) - 1);
		if (!write_all(fd, head, (size_t)n))
			return;
		for (size_t i = 0; i + 1 < sizeof(body) && !stopping; i++) {
			if (!write_all(fd, body + i, 1))
				return;
			sleep_ms(100);
		}
	} else {
		size_t len;
		char *data = read_file(spec, &len);
		if (!data) {
			reply_text(fd, 500, "Internal Server Error", "fake_localapi: cannot read the fixture\n");
			return;
		}
		reply(fd, 200, "OK", "application/json", data, len);
		free(data);
	}
}

static const char *route_for(const struct route *routes, size_t n, const char *path)
{
	static const char prefix[] = "/localapi/v0/";
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return "404";
	const char *endpoint = path + sizeof(prefix) - 1;
	size_t len = strcspn(endpoint, "?");
	for (size_t i = 0; i < n; i++)
		if (strlen(routes[i].endpoint) == len && strncmp(routes[i].endpoint, endpoint, len) == 0)
			return routes[i].spec;
	return "404";
}

static void handle(int fd, const struct route *routes, size_t nroutes, FILE *log)
{
	char buf[MAX_REQUEST];
	size_t len;
	struct request req;
	if (!read_headers(fd, buf, sizeof(buf), &len) || !parse_request(buf, &req)) {
		reply_text(fd, 400, "Bad Request", "bad request\n");
		return;
	}
	if (log) {
		fprintf(log, "%s %s host=%s%s%s\n", req.method, req.path, req.has_host ? req.host : "(none)",
			req.has_origin ? " origin" : "", req.has_referer ? " referer" : "");
		fflush(log);
	}
	/* tailscaled's rule (protocols.md §5.1). */
	if ((req.has_host && strcmp(req.host, "local-tailscaled.sock") != 0 && req.host[0]) || req.has_origin ||
	    req.has_referer) {
		reply_text(fd, 403, "Forbidden", "invalid localapi request\n");
		return;
	}
	if (strcmp(req.method, "GET") != 0) {
		reply_text(fd, 405, "Method Not Allowed", "want GET\n");
		return;
	}
	serve(fd, route_for(routes, nroutes, req.path));
}

static void usage(void)
{
	fprintf(stderr, "usage: fake_localapi --socket PATH [--status SPEC] [--derpmap SPEC] [--log FILE] [--stale]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct route routes[2];
	size_t nroutes = 0;
	const char *log_path = NULL;
	bool stale = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--stale") == 0) {
			stale = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(a, "--socket") == 0)
			socket_path = argv[++i];
		else if (strcmp(a, "--status") == 0 && nroutes < 2)
			routes[nroutes++] = (struct route){"status", argv[++i]};
		else if (strcmp(a, "--derpmap") == 0 && nroutes < 2)
			routes[nroutes++] = (struct route){"derpmap", argv[++i]};
		else if (strcmp(a, "--log") == 0)
			log_path = argv[++i];
		else
			usage();
	}
	if (!socket_path)
		usage();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fake_localapi: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, socket_path);

	signal(SIGPIPE, SIG_IGN);
	struct sigaction act = {.sa_handler = on_signal};
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);

	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	unlink(socket_path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (stale) {
		/* The socket file stays behind with nobody listening: connect gets ECONNREFUSED. */
		close(lfd);
		printf("ready\n");
		return 0;
	}
	chmod(socket_path, 0666); /* as tailscaled does on Linux */
	if (listen(lfd, 16) < 0)
		die("listen");
	FILE *log = log_path ? fopen(log_path, "a") : NULL;
	if (log_path && !log)
		die(log_path);
	printf("ready\n");
	fflush(stdout);

	while (!stopping) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		handle(fd, routes, nroutes, log);
		close(fd);
	}
	close(lfd);
	unlink(socket_path);
	if (log)
		fclose(log);
	return 0;
}
