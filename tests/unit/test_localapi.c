/*
 * dc_localapi_*: requests to tailscaled's LocalAPI over a Unix socket, against tiny
 * one-connection servers forked by the test, and the errors users see when it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/net/localapi.h"

static char dir[64];
static char sock[128];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/dc-localapi.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/tailscaled.sock", dir);
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	unlink(sock);
	return rmdir(dir);
}

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Read one request's headers (up to the blank line) into buf. */
static size_t read_request(int fd, char *buf, size_t size)
{
	size_t len = 0;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[len] = '\0';
	return len;
}

/*
 * Fork a server that accepts one connection and answers it with `response` (NULL:
 * never answer). The child exits 0 if the request had the LocalAPI's path and Host
 * header and no Origin or Referer, 1 otherwise.
 */
static pid_t serve_once(const char *want_path, const char *response)
{
	int lfd = listen_unix(sock);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	int fd = accept(lfd, NULL, NULL);
	char req[4096];
	read_request(fd, req, sizeof(req));
	char want[256];
	snprintf(want, sizeof(want), "GET %s HTTP/1.1\r\n", want_path);
	bool ok = strncmp(req, want, strlen(want)) == 0 && strstr(req, "\r\nHost: local-tailscaled.sock\r\n") &&
		  !strcasestr(req, "\r\nOrigin:") && !strcasestr(req, "\r\nReferer:");
	if (response) {
		ssize_t unused = write(fd, response, strlen(response));
		(void)unused;
	} else {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, 1, 10000); /* until the client gives up */
	}
	close(fd);
	_exit(ok ? 0 : 1);
}

static void reap(pid_t pid, int want_status)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), want_status);
}

static struct dc_localapi api(long timeout_ms)
{
	return (struct dc_localapi){.socket_path = sock, .timeout_ms = timeout_ms};
}

static void test_status_is_a_get_with_the_only_host_tailscaled_accepts(void **state)
{
	(void)state;
	pid_t pid = serve_once("/localapi/v0/status",
			       "HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n{\"BackendState\": \"Running\"}\n");
	struct dc_localapi a = api(5000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_status(&a, &body, &err), 0);
	assert_string_equal(body.data, "{\"BackendState\": \"Running\"}\n");
	dc_buf_free(&body);
	reap(pid, 0);
}

static void test_derpmap_is_read_as_a_map_from_the_localapi(void **state)
{
	(void)state;
	static const char map[] = "{\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": \"home\", \"Nodes\": "
				  "[{\"Name\": \"900a\", \"RegionID\": 900, \"HostName\": \"derp.example.com\"}]}}}";
	char *response = dc_xasprintf("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(map), map);
	pid_t pid = serve_once("/localapi/v0/derpmap", response);
	struct dc_localapi a = api(5000);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_localapi_derpmap(&a, &doc, &err), 0);
	assert_true(doc.decoded);
	assert_int_equal(doc.text.source, DC_MAP_SOURCE_LOCALAPI);
	assert_int_equal(doc.map.region_count, 1);
	assert_string_equal(doc.map.regions[0].code, "home");
	dc_map_doc_free(&doc);
	free(response);
	reap(pid, 0);
}

static void test_missing_socket_says_tailscaled_is_not_running_or_elsewhere(void **state)
{
	(void)state;
	unlink(sock);
	struct dc_localapi a = api(1000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_status(&a, &body, &err), DC_LOCALAPI_NOT_RUNNING);
	assert_string_equal(err.where, sock);
	assert_string_equal(err.what, "no such socket: tailscaled is not running, or its socket is elsewhere");
	assert_non_null(strstr(err.hint, "--socket PATH"));
	assert_null(body.data);
}

static void test_a_socket_nobody_listens_on_is_a_stopped_tailscaled(void **state)
{
	(void)state;
	int fd = listen_unix(sock);
	close(fd); /* the file stays, the listener is gone */
	struct dc_localapi a = api(1000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_status(&a, &body, &err), DC_LOCALAPI_NOT_RUNNING);
	assert_string_equal(err.what, "tailscaled is not running: the socket exists but nothing accepts connections");
	unlink(sock);
}

static bool permission_denied_is_explained(void)
{
	struct dc_localapi a = api(1000);
	struct dc_buf body = {0};
	struct dc_error err;
	return dc_localapi_status(&a, &body, &err) == -1 &&
	       strcmp(err.what, "permission denied opening tailscaled's socket") == 0 &&
	       strcmp(err.hint, "run derpcheck with sudo, or let your user operate Tailscale: sudo tailscale set --operator=$USER") == 0;
}

static void test_permission_denied_suggests_sudo_or_operator(void **state)
{
	(void)state;
	int fd = listen_unix(sock);
	chmod(sock, 0);
	if (geteuid() != 0) {
		assert_true(permission_denied_is_explained());
	} else {
		/* Root opens any socket: ask as nobody, who cannot even enter the test directory. */
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(setgid(65534) == 0 && setuid(65534) == 0 && permission_denied_is_explained() ? 0 : 1);
		reap(pid, 0);
	}
	close(fd);
	unlink(sock);
}

static void test_http_403_quotes_tailscaled_and_suggests_the_operator(void **state)
{
	(void)state;
	pid_t pid = serve_once("/localapi/v0/status",
			       "HTTP/1.1 403 Forbidden\r\nContent-Length: 21\r\n\r\nstatus access denied\n");
	struct dc_localapi a = api(5000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_status(&a, &body, &err), -1);
	assert_string_equal(err.what, "tailscaled refused GET /localapi/v0/status: HTTP 403 (status access denied)");
	assert_non_null(strstr(err.hint, "--operator=$USER"));
	assert_null(body.data);
	reap(pid, 0);
}

static void test_http_404_means_too_old_or_not_tailscaled(void **state)
{
	(void)state;
	pid_t pid = serve_once("/localapi/v0/derpmap",
			       "HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n");
	struct dc_localapi a = api(5000);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_localapi_derpmap(&a, &doc, &err), -1);
	assert_string_equal(err.what, "tailscaled does not serve /localapi/v0/derpmap (HTTP 404)");
	reap(pid, 0);
}

static void test_other_http_errors_show_the_first_line_of_the_body(void **state)
{
	(void)state;
	pid_t pid = serve_once("/localapi/v0/status",
			       "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 27\r\n\r\nno netmap\x01 yet\nsecond line\n");
	struct dc_localapi a = api(5000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_status(&a, &body, &err), -1);
	assert_string_equal(err.what, "tailscaled answered GET /localapi/v0/status with HTTP 500 (no netmap? yet)");
	reap(pid, 0);
}

static void test_a_silent_tailscaled_times_out_on_time(void **state)
{
	(void)state;
	pid_t pid = serve_once("/localapi/v0/status", NULL);
	struct dc_localapi a = api(300);
	struct dc_buf body = {0};
	struct dc_error err;
	uint64_t start = dc_now_ns();
	assert_int_equal(dc_localapi_status(&a, &body, &err), -1);
	uint64_t ms = (dc_now_ns() - start) / 1000000u;
	assert_true(ms >= 250 && ms < 2000);
	assert_string_equal(err.what, "tailscaled did not answer GET /localapi/v0/status within 300 ms");
	reap(pid, 0);
}

static void test_an_answer_over_the_cap_is_refused(void **state)
{
	(void)state;
	char *response = dc_xasprintf("HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n%0200d", 0);
	pid_t pid = serve_once("/localapi/v0/status", response);
	struct dc_localapi a = api(5000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_get(&a, "status", 100, &body, &err), -1);
	assert_string_equal(err.what, "the answer to GET /localapi/v0/status is larger than derpcheck's limit of 100 bytes");
	assert_null(body.data);
	free(response);
	reap(pid, 0);
}

static void test_a_server_that_is_not_http_is_named_as_such(void **state)
{
	(void)state;
	pid_t pid = serve_once("/localapi/v0/status", "SSH-2.0-OpenSSH_9.2\r\n");
	struct dc_localapi a = api(5000);
	struct dc_buf body = {0};
	struct dc_error err;
	assert_int_equal(dc_localapi_status(&a, &body, &err), -1);
	assert_non_null(strstr(err.what, "the server on this socket does not speak HTTP"));
	reap(pid, 0);
}

static void test_default_socket_is_linux_path_when_none_exists(void **state)
{
	(void)state;
	struct stat st;
	if (stat(DC_LOCALAPI_SOCKET, &st) == 0)
		skip(); /* a real tailscaled here */
	const char *path = dc_localapi_default_socket();
	assert_non_null(path);
	if (stat(path, &st) != 0) /* no other platform path exists either */
		assert_string_equal(path, DC_LOCALAPI_SOCKET);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_is_a_get_with_the_only_host_tailscaled_accepts),
		cmocka_unit_test(test_derpmap_is_read_as_a_map_from_the_localapi),
		cmocka_unit_test(test_missing_socket_says_tailscaled_is_not_running_or_elsewhere),
		cmocka_unit_test(test_a_socket_nobody_listens_on_is_a_stopped_tailscaled),
		cmocka_unit_test(test_permission_denied_suggests_sudo_or_operator),
		cmocka_unit_test(test_http_403_quotes_tailscaled_and_suggests_the_operator),
		cmocka_unit_test(test_http_404_means_too_old_or_not_tailscaled),
		cmocka_unit_test(test_other_http_errors_show_the_first_line_of_the_body),
		cmocka_unit_test(test_a_silent_tailscaled_times_out_on_time),
		cmocka_unit_test(test_an_answer_over_the_cap_is_refused),
		cmocka_unit_test(test_a_server_that_is_not_http_is_named_as_such),
		cmocka_unit_test(test_default_socket_is_linux_path_when_none_exists),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
