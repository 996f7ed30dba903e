/*
 * The exporter's HTTP/1.1 server (httpserver.h): the request parser, then one poll() loop
 * over non-blocking sockets. Every connection reads one request head, gets one response,
 * and is closed; each state has a deadline.
 */
#include "derpcheck/net/httpserver.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "derpcheck/net/netaddr.h"
#include "derpcheck/util/cursor.h"

/* ---- the request parser ------------------------------------------------------------------ */

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Where the head ends: just after its blank line; 0 when there is none yet. */
static size_t head_end(const char *buf, size_t len)
{
	struct dc_cursor c;
	dc_cursor_init(&c, buf, len);
	const uint8_t *line;
	size_t n;
	while (dc_cursor_left(&c) && dc_cursor_line(&c, &line, &n)) {
		bool terminated = c.off > 0 && buf[c.off - 1] == '\n';
		if (!terminated)
			return 0;
		if (n == 0 || (n == 1 && line[0] == '\r'))
			return c.off;
	}
	return 0;
}

/* One line without its CR (dc_cursor_line keeps a CR that is not followed by LF). */
static size_t strip_cr(const uint8_t *line, size_t n)
{
	return n && line[n - 1] == '\r' ? n - 1 : n;
}

static int refuse(const char **why, const char *text, int status)
{
	*why = text;
	return status;
}

static int parse_request_line(const uint8_t *line, size_t n, struct dc_httpd_request *req, const char **why)
{
	size_t sp1 = 0;
	while (sp1 < n && line[sp1] != ' ')
		sp1++;
	if (sp1 == 0 || sp1 == n)
		return refuse(why, "the request line is not METHOD TARGET VERSION", 400);
	for (size_t i = 0; i < sp1; i++)
		if (!is_tchar(line[i]))
			return refuse(why, "the method is not a token", 400);
	size_t sp2 = sp1 + 1;
	while (sp2 < n && line[sp2] != ' ')
		sp2++;
	if (sp2 == n || sp2 == sp1 + 1)
		return refuse(why, "the request line is not METHOD TARGET VERSION", 400);
	const uint8_t *target = line + sp1 + 1, *version = line + sp2 + 1;
	size_t tlen = sp2 - sp1 - 1, vlen = n - sp2 - 1;
	if (vlen == 8 && memcmp(version, "HTTP/1.", 7) == 0 && (version[7] == '0' || version[7] == '1'))
		req->minor = version[7] - '0';
	else if (vlen == 8 && memcmp(version, "HTTP/", 5) == 0 && version[5] >= '2' && version[5] <= '9')
		return refuse(why, "only HTTP/1.0 and HTTP/1.1 are served", 505);
	else
		return refuse(why, "the version is not HTTP/1.0 or HTTP/1.1", 400);
	if (tlen > DC_HTTPD_MAX_TARGET)
		return refuse(why, "the request target is too long", 414);
	if (target[0] != '/')
		return refuse(why, "the request target is not a path (origin form)", 400);
	for (size_t i = 0; i < tlen; i++)
		if (target[i] < 0x21 || target[i] > 0x7e)
			return refuse(why, "the request target has a byte that is not visible ASCII", 400);
	if (sp1 == 3 && memcmp(line, "GET", 3) == 0)
		req->method = DC_HTTPD_GET;
	else if (sp1 == 4 && memcmp(line, "HEAD", 4) == 0)
		req->method = DC_HTTPD_HEAD;
	else
		return refuse(why, "only GET and HEAD are served", 405);
	size_t plen = 0;
	while (plen < tlen && target[plen] != '?')
		plen++;
	memcpy(req->path, target, plen);
	req->path[plen] = '\0';
	size_t qlen = plen < tlen ? tlen - plen - 1 : 0;
	if (qlen)
		memcpy(req->query, target + plen + 1, qlen);
	req->query[qlen] = '\0';
	return 0;
}

static bool name_is(const uint8_t *line, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp((const char *)line, name, n) == 0;
}

int dc_httpd_parse(const char *buf, size_t len, struct dc_httpd_request *req, size_t *head_len, const char **why)
{
	memset(req, 0, sizeof(*req));
	*head_len = 0;
	*why = "";
	size_t end = head_end(buf, len > DC_HTTPD_MAX_HEAD ? DC_HTTPD_MAX_HEAD : len);
	if (!end) {
		if (len >= DC_HTTPD_MAX_HEAD)
			return refuse(why, "the request head is larger than 8 KiB", 431);
		return DC_HTTPD_PARSE_MORE;
	}
	struct dc_cursor c;
	dc_cursor_init(&c, buf, end);
	const uint8_t *line;
	size_t n;
	dc_cursor_line(&c, &line, &n);
	int rc = parse_request_line(line, strip_cr(line, n), req, why);
	if (rc)
		return rc;
	bool host = false;
	size_t headers = 0;
	while (dc_cursor_line(&c, &line, &n)) {
		n = strip_cr(line, n);
		if (n == 0)
			break;
		if (++headers > DC_HTTPD_MAX_HEADERS)
			return refuse(why, "more than 64 header fields", 431);
		if (line[0] == ' ' || line[0] == '\t')
			return refuse(why, "obsolete line folding in a header field", 400);
		size_t colon = 0;
		while (colon < n && is_tchar(line[colon]))
			colon++;
		if (colon == 0 || colon == n || line[colon] != ':')
			return refuse(why, "a header field is not NAME: VALUE", 400);
		const uint8_t *value = line + colon + 1;
		size_t vlen = n - colon - 1;
		for (size_t i = 0; i < vlen; i++)
			if ((value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
				return refuse(why, "a header field value has a control character", 400);
		while (vlen && (value[0] == ' ' || value[0] == '\t'))
			value++, vlen--;
		while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
			vlen--;
		if (name_is(line, colon, "Host"))
			host = true;
		else if (name_is(line, colon, "Transfer-Encoding") || (name_is(line, colon, "Content-Length") &&
									 !(vlen == 1 && value[0] == '0')))
			return refuse(why, "a request with a body (only GET and HEAD without one are served)", 400);
	}
	if (req->minor == 1 && !host)
		return refuse(why, "an HTTP/1.1 request without Host (RFC 9112 \u00a73.2)", 400);
	*head_len = end;
	return DC_HTTPD_PARSE_OK;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into out (size cap); -1 on a bad escape, a control byte or no room. */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || w + 1 >= cap)
			return -1;
		out[w++] = (char)ch;
	}
	if (cap)
		out[w] = '\0';
	return cap ? 0 : -1;
}

int dc_httpd_query_param(const char *query, const char *name, char *out, size_t n)
{
	size_t want = strlen(name);
	for (const char *p = query; p && *p;) {
		size_t len = strcspn(p, "&");
		size_t klen = strcspn(p, "=");
		if (klen > len)
			klen = len;
		if (klen == want && strncmp(p, name, want) == 0) {
			const char *v = klen < len ? p + klen + 1 : p + len;
			size_t vlen = klen < len ? len - klen - 1 : 0;
			return decode(v, vlen, out, n) < 0 ? -1 : 1;
		}
		p += len + (p[len] == '&');
	}
	return 0;
}

/* ---- responses ----------------------------------------------------------------------------- */

const char *dc_httpd_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

void dc_httpd_text(struct dc_httpd_response *resp, int status, const char *fmt, ...)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	dc_buf_printf(&resp->body, "%s\n", line);
}

/* ---- the server ------------------------------------------------------------------------------ */

enum conn_state { CS_READ, CS_WAIT, CS_WRITE };

struct conn {
	uint64_t id;
	int fd;
	enum conn_state state;
	uint64_t deadline;
	char in[DC_HTTPD_MAX_HEAD];
	size_t inlen;
	bool head_only;   /* HEAD: headers, no body */
	struct dc_buf out;
	size_t outoff;
	struct conn *next;
};

/* A deferred answer handed over by another thread, picked up by the loop. */
struct pending {
	uint64_t id;
	struct dc_httpd_response resp;
	struct pending *next;
};

struct dc_httpd {
	struct dc_httpd_opts o;
	int lfd;
	char addr[DC_ENDPOINT_STRLEN];
	struct conn *conns;
	unsigned nconns;
	uint64_t next_id;
	int wake[2];
	pthread_mutex_t lock; /* pending, stats */
	struct pending *pending;
	struct dc_httpd_stats stats;
};

int dc_httpd_open(const struct dc_httpd_opts *opts, struct dc_httpd **out, struct dc_error *err)
{
	*out = NULL;
	/* ADDR:PORT, [V6]:PORT or :PORT; port 0 picks a free one (tests read dc_httpd_address). */
	const char *text = opts->listen ? opts->listen : "";
	const char *colon = text[0] == '[' ? strstr(text, "]:") : strrchr(text, ':');
	size_t hlen = colon ? (size_t)(colon - text) : 0;
	const char *port_text = colon ? colon + (text[0] == '[' ? 2 : 1) : "";
	long long port;
	if (!colon || dc_parse_int(port_text, 0, 65535, &port) < 0) {
		dc_error_set(err, text, "--listen needs ADDRESS:PORT");
		dc_error_hint(err, "e.g. --listen 127.0.0.1:9479, [::1]:9479, or :9479 for every address");
		return -1;
	}
	char host[64] = "";
	if (text[0] == '[')
		snprintf(host, sizeof(host), "%.*s", (int)(hlen > 1 ? hlen - 1 : 0), text + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)hlen, text);
	struct dc_endpoint ep = {0};
	if (host[0] == '\0' && hlen == 0) {
		ep.family = 6; /* :: takes IPv4 too unless the system says otherwise */
	} else if (hlen >= sizeof(host) || dc_ip_parse(host, 0, &ep) < 0) {
		dc_error_set(err, text, "'%.*s' is not an IP address", (int)hlen, text);
		dc_error_hint(err, "give the address to listen on, e.g. 127.0.0.1:9479 or [::1]:9479");
		return -1;
	}
	ep.port = (uint16_t)port;
	struct sockaddr_storage ss;
	socklen_t sl = dc_endpoint_to_sockaddr(&ep, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return dc_error_set(err, opts->listen, "cannot open a TCP socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		dc_error_set(err, opts->listen, "cannot listen: %s", strerror(e));
		dc_error_hint(err, e == EADDRINUSE ? "another program uses this port: pick another with --listen"
				   : e == EADDRNOTAVAIL ? "that address is not one of this machine's"
							: "check the address and your permissions (ports under 1024 need root)");
		return -1;
	}
	struct dc_httpd *s = dc_xcalloc(1, sizeof(*s));
	s->o = *opts;
	if (!s->o.max_conns)
		s->o.max_conns = 64;
	if (s->o.read_timeout_ms <= 0)
		s->o.read_timeout_ms = 5000;
	if (s->o.write_timeout_ms <= 0)
		s->o.write_timeout_ms = 10000;
	if (s->o.wait_timeout_ms <= 0)
		s->o.wait_timeout_ms = 60000;
	s->lfd = fd;
	s->next_id = 1;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(fd);
		free(s);
		return dc_error_set(err, NULL, "cannot make a pipe: %s", strerror(errno));
	}
	pthread_mutex_init(&s->lock, NULL);
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	dc_endpoint_from_sockaddr(&ep, (struct sockaddr *)&ss, sl);
	dc_endpoint_format(&ep, s->addr, sizeof(s->addr));
	*out = s;
	return 0;
}

const char *dc_httpd_address(const struct dc_httpd *s)
{
	return s->addr;
}

static void count(struct dc_httpd *s, uint64_t *field)
{
	pthread_mutex_lock(&s->lock);
	(*field)++;
	pthread_mutex_unlock(&s->lock);
}

void dc_httpd_get_stats(struct dc_httpd *s, struct dc_httpd_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

/* Serialise resp into c's output buffer and start writing; resp's body is consumed. */
static void respond(struct dc_httpd *s, struct conn *c, struct dc_httpd_response *resp)
{
	dc_buf_printf(&c->out,
		      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
		      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
		      resp->status, dc_httpd_reason(resp->status),
		      resp->content_type ? resp->content_type : "text/plain; charset=utf-8", resp->body.len);
	if (resp->allow)
		dc_buf_printf(&c->out, "Allow: %s\r\n", resp->allow);
	if (resp->retry_after)
		dc_buf_printf(&c->out, "Retry-After: %s\r\n", resp->retry_after);
	dc_buf_append(&c->out, "\r\n", 2);
	if (!c->head_only && resp->body.len)
		dc_buf_append(&c->out, resp->body.data, resp->body.len);
	dc_buf_free(&resp->body);
	c->state = CS_WRITE;
	c->deadline = dc_now_ns() + (uint64_t)s->o.write_timeout_ms * 1000000u;
}

static void refuse_conn(struct dc_httpd *s, struct conn *c, int status, const char *why)
{
	struct dc_httpd_response r = {0};
	dc_httpd_text(&r, status, "%d %s: %s", status, dc_httpd_reason(status), why);
	if (status == 405)
		r.allow = "GET, HEAD";
	count(s, &s->stats.refused);
	respond(s, c, &r);
}

static void drop(struct dc_httpd *s, struct conn *c)
{
	struct conn **pp = &s->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	close(c->fd);
	dc_buf_free(&c->out);
	free(c);
	s->nconns--;
}

static void on_readable(struct dc_httpd *s, struct conn *c)
{
	ssize_t got = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(s, c);
		return;
	}
	if (got < 0)
		return;
	c->inlen += (size_t)got;
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	int rc = dc_httpd_parse(c->in, c->inlen, &req, &head, &why);
	if (rc == DC_HTTPD_PARSE_MORE)
		return;
	if (rc != DC_HTTPD_PARSE_OK) {
		refuse_conn(s, c, rc, why);
		return;
	}
	c->head_only = req.method == DC_HTTPD_HEAD;
	count(s, &s->stats.requests);
	struct dc_httpd_response resp = {0};
	if (s->o.handler(s->o.user, &req, c->id, &resp)) {
		respond(s, c, &resp);
	} else {
		dc_buf_free(&resp.body);
		c->state = CS_WAIT;
		c->deadline = dc_now_ns() + (uint64_t)s->o.wait_timeout_ms * 1000000u;
	}
}

static void on_writable(struct dc_httpd *s, struct conn *c)
{
	ssize_t put = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
	if (put < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (put <= 0) {
		drop(s, c);
		return;
	}
	c->outoff += (size_t)put;
	if (c->outoff == c->out.len) {
		shutdown(c->fd, SHUT_WR);
		drop(s, c);
	}
}

static void on_accept(struct dc_httpd *s)
{
	for (int k = 0; k < 16; k++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct conn *c = dc_xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->id = s->next_id++;
		c->state = CS_READ;
		c->deadline = dc_now_ns() + (uint64_t)s->o.read_timeout_ms * 1000000u;
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
		if (s->nconns > s->o.max_conns) {
			/* Over the limit: a short answer at once, so the client knows and nothing queues. */
			struct dc_httpd_response r = {.retry_after = "1"};
			dc_httpd_text(&r, 503, "503 Service Unavailable: too many connections");
			count(s, &s->stats.overloaded);
			respond(s, c, &r);
		}
	}
}

static struct conn *find_conn(struct dc_httpd *s, uint64_t id)
{
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

void dc_httpd_answer(struct dc_httpd *s, uint64_t id, struct dc_httpd_response *resp)
{
	struct pending *p = dc_xcalloc(1, sizeof(*p));
	p->id = id;
	p->resp = *resp;
	memset(&resp->body, 0, sizeof(resp->body));
	pthread_mutex_lock(&s->lock);
	p->next = s->pending;
	s->pending = p;
	pthread_mutex_unlock(&s->lock);
	char b = 1;
	ssize_t w = write(s->wake[1], &b, 1);
	(void)w; /* a full pipe already wakes the loop */
}

static void take_pending(struct dc_httpd *s)
{
	char drain[64];
	while (read(s->wake[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&s->lock);
	struct pending *p = s->pending;
	s->pending = NULL;
	pthread_mutex_unlock(&s->lock);
	while (p) {
		struct pending *next = p->next;
		struct conn *c = find_conn(s, p->id);
		if (c && c->state == CS_WAIT)
			respond(s, c, &p->resp);
		else
			dc_buf_free(&p->resp.body);
		free(p);
		p = next;
	}
}

/* Connections past their deadline: a request never finished (408), an answer never came (503). */
static void expire(struct dc_httpd *s, uint64_t now)
{
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		if (c->state == CS_READ && c->inlen) {
			refuse_conn(s, c, 408, "the request head did not arrive in time");
		} else if (c->state == CS_WAIT) {
			struct dc_httpd_response r = {.retry_after = "5"};
			dc_httpd_text(&r, 503, "503 Service Unavailable: no answer in time");
			respond(s, c, &r);
		} else {
			if (c->state == CS_READ)
				count(s, &s->stats.refused);
			drop(s, c);
		}
	}
}

int dc_httpd_run(struct dc_httpd *s, volatile sig_atomic_t *stop, struct dc_error *err)
{
	struct pollfd *pfds = NULL;
	struct conn **owners = NULL;
	size_t cap = 0;
	while (!*stop) {
		size_t need = s->nconns + 2;
		if (need > cap) {
			cap = need * 2;
			pfds = dc_xrealloc(pfds, cap * sizeof(*pfds));
			owners = dc_xrealloc(owners, cap * sizeof(*owners));
		}
		size_t n = 0;
		pfds[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		pfds[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		uint64_t now = dc_now_ns(), wake_at = now + 200000000u;
		for (struct conn *c = s->conns; c; c = c->next) {
			if (c->deadline < wake_at)
				wake_at = c->deadline;
			if (c->state == CS_WAIT)
				continue;
			owners[n] = c;
			pfds[n++] = (struct pollfd){.fd = c->fd, .events = c->state == CS_READ ? POLLIN : POLLOUT};
		}
		int ms = wake_at > now ? (int)((wake_at - now + 999999u) / 1000000u) : 0;
		int rc = poll(pfds, n, ms);
		if (rc < 0 && errno != EINTR) {
			dc_error_set(err, NULL, "poll failed: %s", strerror(errno));
			free(pfds);
			free(owners);
			return -1;
		}
		if (rc > 0) {
			/* Connections first (the list may change below), then new ones and answers. */
			for (size_t i = 2; i < n; i++) {
				if (!pfds[i].revents)
					continue;
				struct conn *c = owners[i];
				if (c->state == CS_READ)
					on_readable(s, c);
				else if (c->state == CS_WRITE)
					on_writable(s, c);
			}
			if (pfds[1].revents)
				take_pending(s);
			if (pfds[0].revents)
				on_accept(s);
		}
		expire(s, dc_now_ns());
	}
	free(pfds);
	free(owners);
	return 0;
}

void dc_httpd_close(struct dc_httpd *s)
{
	if (!s)
		return;
	while (s->conns)
		drop(s, s->conns);
	while (s->pending) {
		struct pending *p = s->pending;
		s->pending = p->next;
		dc_buf_free(&p->resp.body);
		free(p);
	}
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
