/* httpserver: the request parser's rules and the query parameters (src/net/httpserver.c). */
#include "testlib.h"

#include "derpcheck/net/httpserver.h"

static int parse(const char *text, struct dc_httpd_request *req, size_t *head, const char **why)
{
	return dc_httpd_parse(text, strlen(text), req, head, why);
}

static void test_get_with_host_is_parsed_with_path_and_query(void **state)
{
	(void)state;
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	const char *t = "GET /probe?region=900 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\nextra";
	assert_int_equal(parse(t, &req, &head, &why), DC_HTTPD_PARSE_OK);
	assert_int_equal(req.method, DC_HTTPD_GET);
	assert_int_equal(req.minor, 1);
	assert_string_equal(req.path, "/probe");
	assert_string_equal(req.query, "region=900");
	assert_int_equal(head, strlen(t) - strlen("extra"));
}

static void test_head_over_http10_needs_no_host_and_accepts_bare_lf(void **state)
{
	(void)state;
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	assert_int_equal(parse("HEAD /metrics HTTP/1.0\n\n", &req, &head, &why), DC_HTTPD_PARSE_OK);
	assert_int_equal(req.method, DC_HTTPD_HEAD);
	assert_string_equal(req.query, "");
}

static void test_an_incomplete_head_asks_for_more(void **state)
{
	(void)state;
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &req, &head, &why), DC_HTTPD_PARSE_MORE);
	assert_int_equal(parse("GET /metr", &req, &head, &why), DC_HTTPD_PARSE_MORE);
	assert_int_equal(parse("", &req, &head, &why), DC_HTTPD_PARSE_MORE);
}

static void test_refusals_carry_their_status(void **state)
{
	(void)state;
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	static const struct {
		const char *text;
		int status;
	} cases[] = {
		{"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		{"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		{"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"GET /metrics HTTP/1.1\r\n\r\n", 400},                               /* no Host */
		{"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400},                   /* space before the colon */
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},         /* obsolete folding */
		{"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", 400}, /* a body */
		{"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400},            /* not origin form */
		{"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400},                   /* two spaces */
		{"GET /metrics HTTP/1.1\r\nHost: x\001y\r\n\r\n", 400},               /* a control character */
		{"GET /metrics FTP/1.1\r\nHost: x\r\n\r\n", 400},
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		int rc = parse(cases[i].text, &req, &head, &why);
		if (rc != cases[i].status)
			fail_msg("case %zu: %d, want %d", i, rc, cases[i].status);
		assert_true(why[0] != '\0');
	}
	/* Content-Length: 0 is no body. */
	assert_int_equal(parse("GET /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &req, &head, &why),
			 DC_HTTPD_PARSE_OK);
}

static void test_limits_are_414_and_431(void **state)
{
	(void)state;
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	char *t = dc_xasprintf("GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", (int)DC_HTTPD_MAX_TARGET + 1, 0);
	assert_int_equal(parse(t, &req, &head, &why), 414);
	free(t);
	char big[DC_HTTPD_MAX_HEAD + 10];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(dc_httpd_parse(big, sizeof(big), &req, &head, &why), 431);
	struct dc_buf many = {0};
	dc_buf_printf(&many, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 70; i++)
		dc_buf_printf(&many, "X-%d: y\r\n", i);
	dc_buf_printf(&many, "\r\n");
	assert_int_equal(dc_httpd_parse(many.data, many.len, &req, &head, &why), 431);
	dc_buf_free(&many);
}

static void test_query_params_are_percent_decoded_and_bounded(void **state)
{
	(void)state;
	char v[16];
	assert_int_equal(dc_httpd_query_param("module=x&region=my%20vps", "region", v, sizeof(v)), 1);
	assert_string_equal(v, "my vps");
	assert_int_equal(dc_httpd_query_param("region=a+b", "region", v, sizeof(v)), 1);
	assert_string_equal(v, "a b");
	assert_int_equal(dc_httpd_query_param("regionx=1&region", "region", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(dc_httpd_query_param("reg=1", "region", v, sizeof(v)), 0);
	assert_int_equal(dc_httpd_query_param("region=%zz", "region", v, sizeof(v)), -1);
	assert_int_equal(dc_httpd_query_param("region=%4", "region", v, sizeof(v)), -1);
	assert_int_equal(dc_httpd_query_param("region=%0a", "region", v, sizeof(v)), -1); /* a control character */
	assert_int_equal(dc_httpd_query_param("region=0123456789abcdefX", "region", v, sizeof(v)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_with_host_is_parsed_with_path_and_query),
		cmocka_unit_test(test_head_over_http10_needs_no_host_and_accepts_bare_lf),
		cmocka_unit_test(test_an_incomplete_head_asks_for_more),
		cmocka_unit_test(test_refusals_carry_their_status),
		cmocka_unit_test(test_limits_are_414_and_431),
		cmocka_unit_test(test_query_params_are_percent_decoded_and_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
