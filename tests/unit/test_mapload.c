/*
 * dc_map_read and dc_map_doc_load: where a map comes from (file, stdin, URL, the embedded
 * snapshot), what goes wrong reading it, and how a bad map becomes findings. Network
 * tests only ever talk to servers of their own on 127.0.0.1.
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "derpcheck/input/mapload.h"

/* ---- temporary files ---------------------------------------------------------------- */

static char tmp_path[64];

static const char *write_temp(const void *data, size_t len)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/derpcheck-test-XXXXXX");
	int fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return tmp_path;
}

static int remove_temp(void **state)
{
	(void)state;
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
	return 0;
}

/* ---- files, stdin and the snapshot ------------------------------------------------------ */

static void test_file_is_read_whole_with_its_name(void **state)
{
	(void)state;
	const char text[] = "{\"Regions\": {}}\n";
	const char *path = write_temp(text, sizeof(text) - 1);
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(path, NULL, &t, &err), 0);
	assert_int_equal(t.source, DC_MAP_SOURCE_FILE);
	assert_string_equal(t.name, path);
	assert_int_equal(t.len, sizeof(text) - 1);
	assert_string_equal(t.text, text);
	dc_map_text_free(&t);
	assert_null(t.text);
}

static void test_empty_file_reads_as_empty_text(void **state)
{
	(void)state;
	const char *path = write_temp("", 0);
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(path, NULL, &t, &err), 0);
	assert_int_equal(t.len, 0);
	assert_non_null(t.text);
	assert_string_equal(t.text, "");
	dc_map_text_free(&t);
}

static void test_file_bytes_are_kept_exactly(void **state)
{
	(void)state;
	const char bytes[] = "\xEF\xBB\xBF{}\0tail";
	const char *path = write_temp(bytes, sizeof(bytes) - 1);
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(path, NULL, &t, &err), 0);
	assert_int_equal(t.len, sizeof(bytes) - 1);
	assert_memory_equal(t.text, bytes, sizeof(bytes) - 1);
	dc_map_text_free(&t);
}

static void test_missing_file_cannot_be_opened(void **state)
{
	(void)state;
	const char *path = "/tmp/derpcheck-test-does-not-exist/map.json";
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(path, NULL, &t, &err), -1);
	assert_contains(err.what, "cannot open");
	assert_contains(err.what, "No such file");
	assert_string_equal(err.where, path);
	assert_contains(err.hint, "check the path");
	assert_null(t.name);
	assert_null(t.text);
}

static void test_directory_is_a_read_error(void **state)
{
	(void)state;
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read("/tmp", NULL, &t, &err), -1);
	assert_string_equal(err.where, "/tmp");
	assert_true(err.what[0] != '\0');
}

static void test_file_larger_than_the_limit_is_refused(void **state)
{
	(void)state;
	size_t len = DC_MAP_MAX_BYTES + 1;
	char *big = malloc(len);
	memset(big, ' ', len);
	const char *path = write_temp(big, len);
	free(big);
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(path, NULL, &t, &err), -1);
	assert_contains(err.what, "larger than 4194304 bytes");
	assert_string_equal(err.where, path);
}

static void test_unsupported_url_scheme_is_refused(void **state)
{
	(void)state;
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read("ftp://x", NULL, &t, &err), -1);
	assert_string_equal(err.what, "unsupported URL scheme");
	assert_string_equal(err.where, "ftp://x");
	assert_contains(err.hint, "http://");
	assert_contains(err.hint, "embedded:");
	assert_null(t.name);
}

static void test_embedded_spec_gives_the_snapshot(void **state)
{
	(void)state;
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(DC_MAP_EMBEDDED_SPEC, NULL, &t, &err), 0);
	assert_int_equal(t.source, DC_MAP_SOURCE_EMBEDDED);
	assert_int_equal(strncmp(t.name, "embedded:", 9), 0);
	size_t len;
	const char *snapshot = dc_map_embedded_text(&len);
	assert_int_equal(t.len, len);
	assert_memory_equal(t.text, snapshot, len);
	assert_int_equal(t.text[len], '\0');
	assert_non_null(strstr(t.text, "\"Regions\""));
	dc_map_text_free(&t);
}

static void test_embedded_text_is_nul_terminated(void **state)
{
	(void)state;
	size_t len = 0;
	const char *text = dc_map_embedded_text(&len);
	assert_true(len > 0);
	assert_int_equal(strlen(text), len);
	assert_ptr_equal(dc_map_embedded_text(NULL), text);
}

static void test_dash_reads_standard_input(void **state)
{
	(void)state;
	const char text[] = "{\"derpMap\": null}";
	const char *path = write_temp(text, sizeof(text) - 1);
	assert_non_null(freopen(path, "rb", stdin));
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read("-", NULL, &t, &err), 0);
	assert_int_equal(t.source, DC_MAP_SOURCE_STDIN);
	assert_string_equal(t.name, "-");
	assert_string_equal(t.text, text);
	dc_map_text_free(&t);
}

static void test_source_names(void **state)
{
	(void)state;
	assert_string_equal(dc_map_source_name(DC_MAP_SOURCE_FILE), "file");
	assert_string_equal(dc_map_source_name(DC_MAP_SOURCE_STDIN), "standard input");
	assert_string_equal(dc_map_source_name(DC_MAP_SOURCE_URL), "URL");
	assert_contains(dc_map_source_name(DC_MAP_SOURCE_EMBEDDED), DC_MAP_EMBEDDED_DATE);
}

/* ---- documents -------------------------------------------------------------------------- */

static void test_syntax_error_is_exactly_one_syntax_finding(void **state)
{
	(void)state;
	const char text[] = "{\n  \"derpMap\": {\n    \"Regions\": {}\n    \"omitDefaultRegions\": true\n  }\n}\n";
	const char *path = write_temp(text, sizeof(text) - 1);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, &doc, &err), 0);
	assert_false(doc.parsed);
	assert_false(doc.decoded);
	assert_int_equal(doc.findings.count, 1);
	const struct dc_finding *f = &doc.findings.items[0];
	assert_string_equal(f->code, "syntax");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_string_equal(f->file, path);
	assert_string_equal(f->path, "");
	assert_pos(f->pos, 4, 5);
	assert_contains(f->message, "expected ',' or '}'");
	assert_string_equal(f->hint, "add a ',' at 3:18, right after the value"); /* the parser's own hint */
	dc_map_doc_free(&doc);
}

static void test_syntax_finding_without_a_parser_hint_gets_a_general_one(void **state)
{
	(void)state;
	const char text[] = "{\"derpMap\": /* unfinished";
	const char *path = write_temp(text, sizeof(text) - 1);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, &doc, &err), 0);
	assert_int_equal(doc.findings.count, 1);
	assert_pos(doc.findings.items[0].pos, 1, 13);
	assert_contains(doc.findings.items[0].hint, "HuJSON");
	dc_map_doc_free(&doc);
}

static void test_text_that_is_not_json_at_all_is_quoted_in_the_hint(void **state)
{
	(void)state;
	const char text[] = "<html><body>502 Bad Gateway</body></html>\n<p>more</p>\n";
	const char *path = write_temp(text, sizeof(text) - 1);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, &doc, &err), 0);
	assert_int_equal(doc.findings.count, 1);
	assert_string_equal(doc.findings.items[0].code, "syntax");
	assert_pos(doc.findings.items[0].pos, 1, 1);
	assert_string_equal(doc.findings.items[0].hint,
			    "this does not look like JSON at all; it starts with: <html><body>502 Bad Gateway</body></html>");
	dc_map_doc_free(&doc);
}

static void test_empty_file_is_a_syntax_finding_at_1_1(void **state)
{
	(void)state;
	const char *path = write_temp("", 0);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, &doc, &err), 0);
	assert_int_equal(doc.findings.count, 1);
	assert_string_equal(doc.findings.items[0].code, "syntax");
	assert_pos(doc.findings.items[0].pos, 1, 1);
	dc_map_doc_free(&doc);
}

static void test_valid_policy_file_is_parsed_and_decoded(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load("tests/fixtures/nat-vps-policy.hujson", NULL, &doc, &err), 0);
	assert_true(doc.parsed);
	assert_true(doc.decoded);
	assert_int_equal(doc.map.shape, DC_SHAPE_POLICY);
	assert_int_equal(doc.map.region_count, 1);
	assert_int_equal(doc.findings.count, 0);
	dc_map_doc_free(&doc);
}

static void test_decode_findings_carry_the_file_name(void **state)
{
	(void)state;
	const char text[] = "{\"Regions\": {\"900\": {\"RegionId\": 900, \"Colour\": 1}}}";
	const char *path = write_temp(text, sizeof(text) - 1);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, &doc, &err), 0);
	assert_true(doc.parsed);
	assert_true(doc.decoded);
	const struct dc_finding *f = expect_code(&doc.findings, "unknown-field");
	assert_string_equal(f->file, path);
	dc_map_doc_free(&doc);
}

static void test_json_that_is_not_a_map_is_parsed_but_not_decoded(void **state)
{
	(void)state;
	const char *path = write_temp("[1, 2, 3]", 9);
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, &doc, &err), 0);
	assert_true(doc.parsed);
	assert_false(doc.decoded);
	expect_code(&doc.findings, "not-a-derpmap");
	dc_map_doc_free(&doc);
}

static void test_doc_load_of_a_missing_file_is_an_error_not_a_finding(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load("/tmp/derpcheck-test-does-not-exist.json", NULL, &doc, &err), -1);
	assert_contains(err.what, "cannot open");
	assert_int_equal(doc.findings.count, 0);
	dc_map_doc_free(&doc); /* safe after a failed load */
}

static void test_doc_parse_works_on_text_in_memory(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	memset(&doc, 0, sizeof(doc));
	doc.text.source = DC_MAP_SOURCE_STDIN;
	doc.text.name = dc_xstrdup("-");
	doc.text.text = dc_xstrdup("{\"Regions\": {\"900\": {\"RegionID\": 900}}} x");
	doc.text.len = strlen(doc.text.text);
	dc_map_doc_parse(&doc);
	assert_false(doc.parsed);
	assert_int_equal(doc.findings.count, 1);
	assert_string_equal(doc.findings.items[0].file, "-");
	assert_pos(doc.findings.items[0].pos, 1, 41);
	dc_map_doc_free(&doc);
}

static void test_defaults_decode_from_the_snapshot(void **state)
{
	(void)state;
	struct dc_derpmap map;
	assert_int_equal(dc_map_defaults(&map), 0);
	assert_int_equal(map.shape, DC_SHAPE_DERPMAP);
	assert_int_equal(map.region_count, 28);
	dc_derpmap_free(&map);
}

/* ---- URLs (loopback only) ------------------------------------------------------------------ */

/* A TCP socket listening on 127.0.0.1 at a free port. */
static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Answer one HTTP request on fd from a child process with response (body_size spaces follow it). */
static pid_t serve_once(int fd, const char *response, size_t body_size)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	signal(SIGPIPE, SIG_IGN);
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		_exit(1);
	char req[4096];
	size_t got = 0;
	while (got < sizeof(req) - 1) {
		ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (write(c, response, strlen(response)) < 0)
		_exit(1);
	char chunk[65536];
	memset(chunk, ' ', sizeof(chunk));
	while (body_size > 0) {
		size_t n = body_size < sizeof(chunk) ? body_size : sizeof(chunk);
		ssize_t w = write(c, chunk, n);
		if (w <= 0)
			break;
		body_size -= (size_t)w;
	}
	close(c);
	_exit(0); /* not exit: no sanitizer reports for the parent's memory from here */
}

static void reap(pid_t pid)
{
	int status;
	waitpid(pid, &status, 0);
}

static void test_url_is_fetched_over_http(void **state)
{
	(void)state;
	int port;
	int fd = listen_loopback(&port);
	pid_t pid = serve_once(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
				   "Connection: close\r\n\r\n{\"Regions\": {}}", 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/derpmap/default", port);
	struct dc_fetch_opts opts = {.timeout_ms = 5000};
	struct dc_map_text t;
	struct dc_error err;
	int rc = dc_map_read(url, &opts, &t, &err);
	reap(pid);
	close(fd);
	if (rc < 0)
		fail_msg("%s: %s", err.where, err.what);
	assert_int_equal(t.source, DC_MAP_SOURCE_URL);
	assert_string_equal(t.name, url);
	assert_string_equal(t.text, "{\"Regions\": {}}");
	assert_int_equal(t.len, 15);
	dc_map_text_free(&t);
}

static void test_http_status_other_than_200_is_an_error(void **state)
{
	(void)state;
	int port;
	int fd = listen_loopback(&port);
	pid_t pid = serve_once(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found", 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
	struct dc_fetch_opts opts = {.timeout_ms = 5000};
	struct dc_map_text t;
	struct dc_error err;
	int rc = dc_map_read(url, &opts, &t, &err);
	reap(pid);
	close(fd);
	assert_int_equal(rc, -1);
	assert_string_equal(err.what, "the server answered HTTP 404, not 200");
	assert_string_equal(err.where, url);
	assert_contains(err.hint, "check the URL");
	assert_null(t.text);
}

static void test_response_larger_than_the_limit_is_refused(void **state)
{
	(void)state;
	int port;
	int fd = listen_loopback(&port);
	/* No Content-Length: the limit must hold while the body streams in. */
	pid_t pid = serve_once(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", DC_MAP_MAX_BYTES + 65536);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	struct dc_fetch_opts opts = {.timeout_ms = 10000};
	struct dc_map_text t;
	struct dc_error err;
	int rc = dc_map_read(url, &opts, &t, &err);
	close(fd);
	reap(pid);
	assert_int_equal(rc, -1);
	assert_contains(err.what, "larger than 4194304 bytes");
}

static void test_url_to_a_closed_loopback_port_fails_quickly(void **state)
{
	(void)state;
	/* A port that was just free and has no listener: the connection is refused. */
	int port;
	int fd = listen_loopback(&port);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	struct dc_fetch_opts opts = {.timeout_ms = 5000};
	struct dc_map_text t;
	struct dc_error err;
	uint64_t start = dc_now_ns();
	assert_int_equal(dc_map_read(url, &opts, &t, &err), -1);
	uint64_t elapsed_ms = (dc_now_ns() - start) / 1000000u;
	assert_true(elapsed_ms < 2000);
	assert_string_equal(err.where, url);
	assert_contains(err.what, "fetch failed");
	assert_contains(err.hint, "nothing accepted the connection");
	assert_null(t.name);
}

static void test_url_to_port_1_fails_with_an_error(void **state)
{
	(void)state;
	struct dc_fetch_opts opts = {.timeout_ms = 2000};
	struct dc_map_text t;
	struct dc_error err;
	uint64_t start = dc_now_ns();
	assert_int_equal(dc_map_read("http://127.0.0.1:1/", &opts, &t, &err), -1);
	assert_true((dc_now_ns() - start) / 1000000u < 3000);
	assert_contains(err.what, "fetch failed");
}

static void test_server_that_never_answers_times_out(void **state)
{
	(void)state;
	/* Listening but never accepting: the kernel completes the handshake, nobody replies. */
	int port;
	int fd = listen_loopback(&port);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	struct dc_fetch_opts opts = {.timeout_ms = 300};
	struct dc_map_text t;
	struct dc_error err;
	uint64_t start = dc_now_ns();
	int rc = dc_map_read(url, &opts, &t, &err);
	uint64_t elapsed_ms = (dc_now_ns() - start) / 1000000u;
	close(fd);
	assert_int_equal(rc, -1);
	assert_in_range(elapsed_ms, 250, 3000);
	assert_contains(err.what, "fetch failed");
	assert_string_equal(err.hint, "no complete answer within 300 ms; check the address or raise --timeout");
}

static void test_url_scheme_is_matched_case_insensitively(void **state)
{
	(void)state;
	int port;
	int fd = listen_loopback(&port);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "HTTP://127.0.0.1:%d/", port);
	struct dc_fetch_opts opts = {.timeout_ms = 2000};
	struct dc_map_text t;
	struct dc_error err;
	assert_int_equal(dc_map_read(url, &opts, &t, &err), -1);
	assert_contains(err.what, "fetch failed"); /* tried as a URL, not opened as a file */
}

/* The --derp-map a printed command can give to read the same map again. */
static void test_map_spec_for_command_is_the_source_when_it_can_be_read_again(void **state)
{
	(void)state;
	assert_string_equal(dc_map_spec_for_command("policy.hujson"), "policy.hujson");
	assert_string_equal(dc_map_spec_for_command("https://h.example/derp.json"), "https://h.example/derp.json");
	assert_string_equal(dc_map_spec_for_command("embedded:tailscale-default-derpmap.json"), "embedded:");
	assert_null(dc_map_spec_for_command("-"));
	assert_null(dc_map_spec_for_command("localapi:derpmap"));
	assert_null(dc_map_spec_for_command(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_spec_for_command_is_the_source_when_it_can_be_read_again),
		cmocka_unit_test_teardown(test_file_is_read_whole_with_its_name, remove_temp),
		cmocka_unit_test_teardown(test_empty_file_reads_as_empty_text, remove_temp),
		cmocka_unit_test_teardown(test_file_bytes_are_kept_exactly, remove_temp),
		cmocka_unit_test(test_missing_file_cannot_be_opened),
		cmocka_unit_test(test_directory_is_a_read_error),
		cmocka_unit_test_teardown(test_file_larger_than_the_limit_is_refused, remove_temp),
		cmocka_unit_test(test_unsupported_url_scheme_is_refused),
		cmocka_unit_test(test_embedded_spec_gives_the_snapshot),
		cmocka_unit_test(test_embedded_text_is_nul_terminated),
		cmocka_unit_test_teardown(test_dash_reads_standard_input, remove_temp),
		cmocka_unit_test(test_source_names),
		cmocka_unit_test_teardown(test_syntax_error_is_exactly_one_syntax_finding, remove_temp),
		cmocka_unit_test_teardown(test_syntax_finding_without_a_parser_hint_gets_a_general_one, remove_temp),
		cmocka_unit_test_teardown(test_text_that_is_not_json_at_all_is_quoted_in_the_hint, remove_temp),
		cmocka_unit_test_teardown(test_empty_file_is_a_syntax_finding_at_1_1, remove_temp),
		cmocka_unit_test(test_valid_policy_file_is_parsed_and_decoded),
		cmocka_unit_test_teardown(test_decode_findings_carry_the_file_name, remove_temp),
		cmocka_unit_test_teardown(test_json_that_is_not_a_map_is_parsed_but_not_decoded, remove_temp),
		cmocka_unit_test(test_doc_load_of_a_missing_file_is_an_error_not_a_finding),
		cmocka_unit_test(test_doc_parse_works_on_text_in_memory),
		cmocka_unit_test(test_defaults_decode_from_the_snapshot),
		cmocka_unit_test(test_url_is_fetched_over_http),
		cmocka_unit_test(test_http_status_other_than_200_is_an_error),
		cmocka_unit_test(test_response_larger_than_the_limit_is_refused),
		cmocka_unit_test(test_url_to_a_closed_loopback_port_fails_quickly),
		cmocka_unit_test(test_url_to_port_1_fails_with_an_error),
		cmocka_unit_test(test_server_that_never_answers_times_out),
		cmocka_unit_test(test_url_scheme_is_matched_case_insensitively),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
