/*
 * Which map a command uses: --derp-map, then tailscaled, then the default URL, then the
 * embedded snapshot, each fallback explained. Servers are forked children on a Unix
 * socket in /tmp and on 127.0.0.1.
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/input/mapchoice.h"

static const char one_region[] =
	"{\"Regions\": {\"901\": {\"RegionID\": 901, \"RegionCode\": \"lab\", \"Nodes\": [{\"Name\": \"901a\", "
	"\"RegionID\": 901, \"HostName\": \"derp.lab.test\", \"IPv4\": \"127.0.0.1\", \"IPv6\": \"none\"}]}}}";

/* Answer one HTTP request on lfd with body, then exit. */
static pid_t serve_once(int lfd, const char *body)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = accept(lfd, NULL, NULL);
		char req[2048];
		(void)!read(fd, req, sizeof(req));
		char head[256];
		int n = snprintf(head, sizeof(head),
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
				 strlen(body));
		(void)!write(fd, head, (size_t)n);
		(void)!write(fd, body, strlen(body));
		close(fd);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static int unix_listener(char *path, size_t n)
{
	snprintf(path, n, "/tmp/derpcheck-mapchoice-%d.sock", (int)getpid());
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int tcp_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_explicit_policy_file_is_merged_with_the_defaults(void **state)
{
	(void)state;
	struct dc_map_choice_opts opts = {.spec = "tests/fixtures/nat-vps-policy.hujson", .socket_path = "/nonexistent"};
	struct dc_map_choice c;
	struct dc_error err;
	assert_int_equal(dc_map_choose(&opts, &c, &err), 0);
	assert_int_equal(c.source, DC_MAP_SOURCE_FILE);
	assert_int_equal(c.map->region_count, 29);
	assert_non_null(dc_derpmap_region(c.map, 900));
	assert_null(c.note);
	dc_map_choice_free(&c);
}

static void test_explicit_map_with_errors_is_refused_with_the_validate_hint(void **state)
{
	(void)state;
	struct dc_map_choice_opts opts = {.spec = "tests/fixtures/broken-policy.hujson"};
	struct dc_map_choice c;
	struct dc_error err;
	assert_int_equal(dc_map_choose(&opts, &c, &err), -1);
	assert_string_equal(err.where, "tests/fixtures/broken-policy.hujson");
	assert_non_null(strstr(err.what, "cannot use this DERP map"));
	assert_non_null(strstr(err.hint, "derpcheck validate tests/fixtures/broken-policy.hujson"));
	dc_map_choice_free(&c);
}

static void test_without_tailscaled_or_url_the_snapshot_is_used_and_said_why(void **state)
{
	(void)state;
	setenv(DC_MAP_DEFAULT_URL_ENV, "", 1);
	struct dc_map_choice_opts opts = {.socket_path = "/nonexistent/tailscaled.sock", .try_default_url = true};
	struct dc_map_choice c;
	struct dc_error err;
	assert_int_equal(dc_map_choose(&opts, &c, &err), 0);
	assert_int_equal(c.source, DC_MAP_SOURCE_EMBEDDED);
	assert_int_equal(c.map->region_count, 28);
	assert_non_null(c.note);
	assert_non_null(strstr(c.note, "tailscaled's own map was not available"));
	dc_map_choice_free(&c);
}

static void test_tailscaled_map_comes_first(void **state)
{
	(void)state;
	char path[108];
	pid_t pid = serve_once(unix_listener(path, sizeof(path)), one_region);
	struct dc_map_choice_opts opts = {.socket_path = path, .localapi_timeout_ms = 3000, .try_default_url = true};
	struct dc_map_choice c;
	struct dc_error err;
	int rc = dc_map_choose(&opts, &c, &err);
	waitpid(pid, NULL, 0);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(c.source, DC_MAP_SOURCE_LOCALAPI);
	assert_int_equal(c.map->region_count, 1);
	assert_int_equal(c.map->regions[0].id, 901);
	assert_null(c.note);
	dc_map_choice_free(&c);
}

static void test_default_url_is_next_when_tailscaled_is_absent(void **state)
{
	(void)state;
	int port;
	pid_t pid = serve_once(tcp_listener(&port), one_region);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/derpmap/default", port);
	setenv(DC_MAP_DEFAULT_URL_ENV, url, 1);
	struct dc_map_choice_opts opts = {.socket_path = "/nonexistent/tailscaled.sock", .try_default_url = true,
					  .fetch = {.timeout_ms = 3000}};
	struct dc_map_choice c;
	struct dc_error err;
	int rc = dc_map_choose(&opts, &c, &err);
	waitpid(pid, NULL, 0);
	setenv(DC_MAP_DEFAULT_URL_ENV, "", 1);
	assert_int_equal(rc, 0);
	assert_int_equal(c.source, DC_MAP_SOURCE_URL);
	assert_string_equal(c.name, url);
	assert_int_equal(c.map->region_count, 1);
	assert_non_null(strstr(c.note, "tailscaled's own map was not available"));
	char line[256];
	dc_map_choice_describe(&c, line, sizeof(line));
	assert_non_null(strstr(line, url));
	dc_map_choice_free(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explicit_policy_file_is_merged_with_the_defaults),
		cmocka_unit_test(test_explicit_map_with_errors_is_refused_with_the_validate_hint),
		cmocka_unit_test(test_without_tailscaled_or_url_the_snapshot_is_used_and_said_why),
		cmocka_unit_test(test_tailscaled_map_comes_first),
		cmocka_unit_test(test_default_url_is_next_when_tailscaled_is_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
