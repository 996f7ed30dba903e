/*
 * dc_http_get (unchanged behaviour) and the request/response API next to it, against a
 * small forked HTTP server on loopback: extra headers, no redirects, response headers,
 * the Date header, body truncation, timeouts, and concurrent requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/net/http.h"

static pid_t server_pid;
static int server_port;

static void reply(int c, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(c, buf, (size_t)n) < 0)
		return;
}

/* One connection: read the request head, answer by path. */
static void serve(int c)
{
	char req[4096];
	size_t len = 0;
	while (len < sizeof(req) - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
		ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
	}
	req[len] = '\0';
	if (strncmp(req, "GET /redirect ", 14) == 0) {
		reply(c, "HTTP/1.1 302 Found\r\nLocation: /hello\r\nContent-Length: 0\r\n\r\n");
	} else if (strncmp(req, "GET /hello ", 11) == 0) {
		reply(c, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nX-Spaced:   padded value  \r\n"
			 "Content-Length: 5\r\n\r\nhello");
	} else if (strncmp(req, "GET /echo ", 10) == 0) {
		reply(c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", len, req);
	} else if (strncmp(req, "GET /big ", 9) == 0) {
		reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n");
		char chunk[3000];
		memset(chunk, 'x', sizeof(chunk));
		if (write(c, chunk, sizeof(chunk)) < 0)
			return;
	} else if (strncmp(req, "GET /slow ", 10) == 0) {
		usleep(300 * 1000);
		reply(c, "HTTP/1.1 204 No Content\r\n\r\n");
	} else if (strncmp(req, "GET /hang ", 10) == 0) {
		sleep(5);
	} else {
		reply(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
}

static int start_server(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		return -1;
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	server_port = ntohs(sa.sin_port);
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		setpgid(0, 0);            /* one group: stop_server ends the connection children too */
		signal(SIGCHLD, SIG_IGN); /* no zombies from the per-connection children */
		alarm(60);                /* never outlive the test run */
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			if (fork() == 0) {
				serve(c);
				close(c);
				_exit(0);
			}
			close(c);
		}
	}
	close(fd);
	return 0;
}

static int stop_server(void **state)
{
	(void)state;
	kill(-server_pid, SIGKILL);
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	return 0;
}

static const char *url(const char *path)
{
	static char buf[4][128];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof(buf[0]), "http://127.0.0.1:%d%s", server_port, path);
	return b;
}

static void test_get_still_follows_redirects(void **state)
{
	(void)state;
	struct dc_http_opts opts = {.timeout_ms = 2000};
	struct dc_buf body = {0};
	long status;
	struct dc_error err;
	assert_int_equal(dc_http_get(url("/redirect"), &opts, &body, &status, &err), 0);
	assert_int_equal(status, 200);
	assert_string_equal(body.data, "hello");
	dc_buf_free(&body);
}

static void test_get_size_cap_fails_as_before(void **state)
{
	(void)state;
	struct dc_http_opts opts = {.timeout_ms = 2000, .max_bytes = 1000};
	struct dc_buf body = {0};
	long status;
	struct dc_error err;
	assert_int_equal(dc_http_get(url("/big"), &opts, &body, &status, &err), -1);
	assert_string_equal(err.what, "the response is larger than 1000 bytes");
	dc_buf_free(&body);
}

static void test_fetch_without_redirects_reports_the_3xx_and_its_location(void **state)
{
	(void)state;
	struct dc_http_opts opts = {.timeout_ms = 2000};
	struct dc_http_request req = {.url = url("/redirect"), .opts = &opts, .no_redirects = true};
	struct dc_http_response resp;
	struct dc_error err;
	assert_int_equal(dc_http_fetch(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 302);
	const char *v;
	size_t n;
	assert_true(dc_http_header(&resp, "location", &v, &n));
	assert_int_equal(n, 6);
	assert_memory_equal(v, "/hello", 6);
	dc_http_response_free(&resp);
}

static void test_fetch_sends_extra_headers(void **state)
{
	(void)state;
	const char *headers[] = {"X-Tailscale-Challenge: ts_127.0.0.1", "Cache-Control: no-cache", NULL};
	struct dc_http_request req = {.url = url("/echo"), .headers = headers, .fresh_connection = true};
	struct dc_http_response resp;
	struct dc_error err;
	assert_int_equal(dc_http_fetch(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.body.data, "\r\nX-Tailscale-Challenge: ts_127.0.0.1\r\n"));
	assert_non_null(strstr(resp.body.data, "\r\nCache-Control: no-cache\r\n"));
	dc_http_response_free(&resp);
}

static void test_response_headers_are_trimmed_and_date_is_parsed(void **state)
{
	(void)state;
	struct dc_http_request req = {.url = url("/hello")};
	struct dc_http_response resp;
	struct dc_error err;
	assert_int_equal(dc_http_fetch(&req, &resp, &err), 0);
	const char *v;
	size_t n;
	assert_true(dc_http_header(&resp, "X-SPACED", &v, &n));
	assert_int_equal(n, 12);
	assert_memory_equal(v, "padded value", 12);
	assert_false(dc_http_header(&resp, "X-Spaced-Not", &v, &n));
	assert_false(dc_http_header(&resp, "HTTP/1.1 200 OK", &v, &n)); /* the status line is no header */
	assert_int_equal(resp.date, 784111777);
	assert_true(resp.elapsed_ns > 0);
	dc_http_response_free(&resp);
}

static void test_missing_date_is_minus_one(void **state)
{
	(void)state;
	struct dc_http_request req = {.url = url("/echo")};
	struct dc_http_response resp;
	struct dc_error err;
	assert_int_equal(dc_http_fetch(&req, &resp, &err), 0);
	assert_int_equal(resp.date, -1);
	dc_http_response_free(&resp);
}

static void test_truncated_body_keeps_the_status(void **state)
{
	(void)state;
	struct dc_http_opts opts = {.max_bytes = 100};
	struct dc_http_request req = {.url = url("/big"), .opts = &opts, .truncate_body = true};
	struct dc_http_response resp;
	struct dc_error err;
	assert_int_equal(dc_http_fetch(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.len, 100);
	dc_http_response_free(&resp);
}

static void test_a_hanging_server_is_a_timeout(void **state)
{
	(void)state;
	struct dc_http_opts opts = {.timeout_ms = 200};
	struct dc_http_request req = {.url = url("/hang"), .opts = &opts};
	struct dc_http_response resp;
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	assert_int_equal(dc_http_fetch(&req, &resp, &err), -1);
	assert_true(dc_now_ns() - t0 < 1000000000u);
	assert_int_equal(resp.failure, DC_HTTP_TIMEOUT);
	assert_int_equal(resp.status, 0);
	assert_non_null(strstr(err.hint, "200 ms"));
	dc_http_response_free(&resp);
}

static void test_a_closed_port_is_a_connect_failure(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd); /* the port is now free: nothing listens there */
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/", ntohs(sa.sin_port));
	struct dc_http_request req = {.url = u};
	struct dc_http_response resp;
	struct dc_error err;
	assert_int_equal(dc_http_fetch(&req, &resp, &err), -1);
	assert_int_equal(resp.failure, DC_HTTP_CONNECT);
	assert_string_equal(resp.error.where, u);
	dc_http_response_free(&resp);
}

static void test_fetch_all_runs_requests_at_the_same_time(void **state)
{
	(void)state;
	struct dc_http_opts quick = {.timeout_ms = 200};
	struct dc_http_request reqs[4] = {
		{.url = url("/slow")},
		{.url = url("/slow")},
		{.url = url("/slow")},
		{.url = url("/hang"), .opts = &quick},
	};
	struct dc_http_response resps[4];
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	assert_int_equal(dc_http_fetch_all(reqs, resps, 4, &err), 0);
	uint64_t took = dc_now_ns() - t0;
	/* Three 300 ms answers in sequence would take 900 ms. */
	assert_true(took < 750000000u);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(resps[i].failure, DC_HTTP_OK);
		assert_int_equal(resps[i].status, 204);
	}
	assert_int_equal(resps[3].failure, DC_HTTP_TIMEOUT);
	for (int i = 0; i < 4; i++)
		dc_http_response_free(&resps[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_still_follows_redirects),
		cmocka_unit_test(test_get_size_cap_fails_as_before),
		cmocka_unit_test(test_fetch_without_redirects_reports_the_3xx_and_its_location),
		cmocka_unit_test(test_fetch_sends_extra_headers),
		cmocka_unit_test(test_response_headers_are_trimmed_and_date_is_parsed),
		cmocka_unit_test(test_missing_date_is_minus_one),
		cmocka_unit_test(test_truncated_body_keeps_the_status),
		cmocka_unit_test(test_a_hanging_server_is_a_timeout),
		cmocka_unit_test(test_a_closed_port_is_a_connect_failure),
		cmocka_unit_test(test_fetch_all_runs_requests_at_the_same_time),
	};
	return cmocka_run_group_tests(tests, start_server, stop_server);
}
