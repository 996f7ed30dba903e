/*
 * The proxy verdict (judge/proxy.c) on evidence built by hand: each rule of what is in
 * front of derper, what it breaks and which lines to change, one test each; and the
 * derper fingerprints of one answer (probe/proxyprobe.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "derpcheck/judge/proxy.h"

#define CHALLENGE "derpcheck-0011223344556677"

/* An answer with status, Server header and body; from_derper adds derper's own marks. */
static void answer(struct dc_proxy_evidence *e, enum dc_proxy_req r, int status, const char *server, const char *body)
{
	struct dc_proxy_answer *a = &e->answers[r];
	memset(a, 0, sizeof(*a));
	a->sent = a->answered = true;
	a->head.status = status;
	a->head.content_length = body ? (long)strlen(body) : 0;
	snprintf(a->head.server, sizeof(a->head.server), "%s", server ? server : "");
	snprintf(a->body, sizeof(a->body), "%s", body ? body : "");
	a->empty_body = !body || !*body;
	a->ws = r == DC_PROXY_UPGRADE_WS ? DC_WS_ANSWER_STATUS : DC_WS_ANSWER_OK;
	dc_proxy_answer_classify(a, r, CHALLENGE);
}

static void upgraded(struct dc_proxy_evidence *e, enum dc_proxy_req r, const char *server)
{
	struct dc_proxy_answer *a = &e->answers[r];
	answer(e, r, 101, server, NULL);
	snprintf(a->head.upgrade, sizeof(a->head.upgrade), "%s", r == DC_PROXY_UPGRADE_WS ? "websocket" : "DERP");
	a->have_key = true;
	memset(a->key, 0x42, sizeof(a->key));
	a->ws = DC_WS_ANSWER_OK;
}

/* derper's answers to everything, as seen through a TLS-terminating proxy named server. */
static void derper_behind(struct dc_proxy_evidence *e, const char *server)
{
	memset(e, 0, sizeof(*e));
	e->tls_ok = true;
	snprintf(e->tls_version, sizeof(e->tls_version), "TLSv1.3");
	snprintf(e->host_name, sizeof(e->host_name), "derp.example.com");
	e->port = 443;
	e->alpn_tried = e->alpn_ok = true;
	snprintf(e->alpn_offered, sizeof(e->alpn_offered), "h2,http/1.1");
	snprintf(e->alpn_chosen, sizeof(e->alpn_chosen), "h2");
	snprintf(e->challenge, sizeof(e->challenge), CHALLENGE);
	answer(e, DC_PROXY_GET_DERP, 426, server, "DERP requires connection upgrade");
	upgraded(e, DC_PROXY_UPGRADE_DERP, server);
	upgraded(e, DC_PROXY_UPGRADE_WS, server);
	answer(e, DC_PROXY_PROBE, 200, server, NULL);
	e->answers[DC_PROXY_PROBE].head.acao_any = true;
	dc_proxy_answer_classify(&e->answers[DC_PROXY_PROBE], DC_PROXY_PROBE, CHALLENGE);
	answer(e, DC_PROXY_LATENCY, 200, server, "<html><body> <h1>DERP</h1>");
	answer(e, DC_PROXY_204, 204, server, NULL);
	snprintf(e->answers[DC_PROXY_204].head.ts_response, sizeof(e->answers[DC_PROXY_204].head.ts_response), "response %s", CHALLENGE);
	dc_proxy_answer_classify(&e->answers[DC_PROXY_204], DC_PROXY_204, CHALLENGE);
	answer(e, DC_PROXY_HOME, 200, server, "<html><body> <h1>DERP</h1>");
}

static const struct dc_proxy_line *judge(const struct dc_proxy_evidence *e, struct dc_proxy_verdict *v, enum dc_proxy_item i)
{
	dc_proxy_judge(e, v);
	return &v->lines[i];
}

static void expect_has(const char *text, const char *words)
{
	if (!strstr(text, words))
		fail_msg("\"%s\" does not say \"%s\"", text, words);
}

static void test_derpkey_certificate_means_derper_terminates_tls(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	e.metacert = true;
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_int_equal(v.front, DC_FRONT_DERPER);
	assert_int_equal(l->status, DC_CHECK_OK);
	expect_has(l->summary, "derper terminates TLS itself");
	assert_true(v.derp_ok && v.websocket_ok);
}

static void test_server_header_names_nginx_and_caddy(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "nginx/1.22.1");
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_int_equal(v.front, DC_FRONT_PROXY);
	assert_int_equal(v.kind, DC_PROXY_NGINX);
	expect_has(l->summary, "nginx/1.22.1 terminates TLS (its Server header");
	derper_behind(&e, "Caddy");
	judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_int_equal(v.kind, DC_PROXY_CADDY);
}

static void test_cf_ray_names_cloudflare(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	e.answers[DC_PROXY_HOME].head.cf_ray = true;
	judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_int_equal(v.kind, DC_PROXY_CLOUDFLARE);
}

static void test_lowercase_header_names_without_server_look_like_haproxy(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	e.answers[DC_PROXY_GET_DERP].head.lowercase_names = true;
	judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_int_equal(v.kind, DC_PROXY_HAPROXY);
	expect_has(v.who_why, "header names in lower case");
}

static void test_upgrade_answered_426_by_derper_means_the_proxy_strips_it(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "nginx/1.22.1");
	answer(&e, DC_PROXY_UPGRADE_DERP, 426, "nginx/1.22.1", "DERP requires connection upgrade");
	answer(&e, DC_PROXY_UPGRADE_WS, 426, "nginx/1.22.1", "DERP requires connection upgrade");
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_DERP);
	assert_int_equal(l->status, DC_CHECK_FAIL);
	assert_string_equal(l->code, "proxy-strips-upgrade");
	expect_has(l->fix, "\nnginx: in the location for derper: proxy_http_version 1.1;");
	assert_null(strstr(l->fix, "Caddy:")); /* the proxy is known: only its lines */
	assert_int_equal(v.lines[DC_PROXY_ITEM_WS].status, DC_CHECK_WARN);
}

static void test_only_websocket_passing_fails_derp_and_names_http2(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "Caddy");
	answer(&e, DC_PROXY_UPGRADE_DERP, 502, "Caddy", NULL);
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_DERP);
	assert_string_equal(l->code, "proxy-websocket-only");
	expect_has(l->cause, "it speaks HTTP/2 to derper");
	expect_has(l->fix, "\nCaddy: speak HTTP/1.1 to derper: reverse_proxy ... { transport http { versions 1.1 } }");
	assert_int_equal(v.lines[DC_PROXY_ITEM_WS].status, DC_CHECK_OK);
}

static void test_redirect_to_derp_slash_is_a_trailing_slash_route(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "nginx/1.22.1");
	answer(&e, DC_PROXY_GET_DERP, 301, "nginx/1.22.1", "<html>");
	snprintf(e.answers[DC_PROXY_GET_DERP].head.location, sizeof(e.answers[0].head.location), "https://derp.example.com/derp/");
	e.answers[DC_PROXY_UPGRADE_DERP] = e.answers[DC_PROXY_GET_DERP];
	e.answers[DC_PROXY_UPGRADE_WS] = e.answers[DC_PROXY_GET_DERP];
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_PATH);
	assert_string_equal(l->code, "proxy-path-redirect");
	expect_has(l->fix, "location /derp/ answers /derp with a 301");
	/* the upgrade fails for the same reason, and says so */
	assert_string_equal(v.lines[DC_PROXY_ITEM_DERP].code, "proxy-path-redirect");
	expect_has(v.lines[DC_PROXY_ITEM_DERP].cause, "see http-derp");
}

static void test_home_page_on_derp_means_the_path_is_rewritten(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "nginx/1.22.1");
	answer(&e, DC_PROXY_GET_DERP, 200, "nginx/1.22.1", "<html><body> <h1>DERP</h1>");
	assert_string_equal(judge(&e, &v, DC_PROXY_ITEM_PATH)->code, "proxy-path-rewrite");
}

static void test_unrouted_derp_with_a_routed_probe_names_the_route(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "Caddy");
	answer(&e, DC_PROXY_GET_DERP, 200, "Caddy", NULL);
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_PATH);
	assert_string_equal(l->code, "proxy-path");
	expect_has(l->cause, "HTTP 200 with an empty body from Caddy");
	expect_has(l->cause, "the route covers /derp/... but not /derp itself");
}

static void test_no_derper_behind_the_proxy_fails_the_front(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "nginx/1.22.1");
	for (int r = 0; r < DC_PROXY_REQ_COUNT; r++)
		answer(&e, (enum dc_proxy_req)r, 502, "nginx/1.22.1", "<html>");
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_false(v.derper_seen);
	assert_string_equal(l->code, "proxy-no-derper");
	expect_has(l->fix, "\nnginx: proxy_pass http://DERPER;");
}

static void test_plain_http_from_derper_gets_derpers_tls_fix(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	e.tls_ok = false;
	e.plain_http = true;
	e.port = 38894;
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_FRONT);
	assert_int_equal(v.front, DC_FRONT_PLAIN_HTTP);
	assert_string_equal(l->code, "proxy-plain-http");
	expect_has(l->cause, "tls: first record does not look like a TLS handshake");
	expect_has(l->fix, "--certmode manual --certdir DIR --hostname derp.example.com");
	expect_has(l->fix, "publish that as port 38894");
	assert_int_equal(v.lines[DC_PROXY_ITEM_DERP].status, DC_CHECK_SKIP); /* said once, at the front */
}

static void test_http2_frames_to_an_http11_request_are_h2_only(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	struct dc_proxy_answer *a = &e.answers[DC_PROXY_GET_DERP];
	memset(a, 0, sizeof(*a));
	a->sent = true;
	static const uint8_t settings[] = {0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00};
	memcpy(a->raw, settings, sizeof(settings));
	a->raw_len = sizeof(settings);
	assert_string_equal(judge(&e, &v, DC_PROXY_ITEM_ALPN)->code, "proxy-h2-only");
}

static void test_unknown_proxy_gets_every_proxys_lines(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	answer(&e, DC_PROXY_UPGRADE_DERP, 426, NULL, "DERP requires connection upgrade");
	answer(&e, DC_PROXY_UPGRADE_WS, 426, NULL, "DERP requires connection upgrade");
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_DERP);
	assert_int_equal(v.kind, DC_PROXY_UNKNOWN);
	assert_string_equal(l->code, "proxy-strips-upgrade");
	expect_has(l->fix, "\nnginx: ");
	expect_has(l->fix, "\nCaddy: ");
	expect_has(l->fix, "\nHAProxy: ");
	expect_has(l->fix, "\nCloudflare: set the DNS record of derp.example.com to DNS only (grey cloud)");
}

static void test_latency_check_home_page_is_derper_and_404_warns(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, "nginx/1.22.1");
	assert_int_equal(judge(&e, &v, DC_PROXY_ITEM_LATENCY)->status, DC_CHECK_OK);
	answer(&e, DC_PROXY_LATENCY, 404, "nginx/1.22.1", "<html>");
	const struct dc_proxy_line *l = judge(&e, &v, DC_PROXY_ITEM_LATENCY);
	assert_int_equal(l->status, DC_CHECK_WARN);
	assert_string_equal(l->code, "http-latency-check");
}

static void test_websocket_answered_as_derp_depends_on_who_is_in_front(void **state)
{
	(void)state;
	struct dc_proxy_evidence e;
	struct dc_proxy_verdict v;
	derper_behind(&e, NULL);
	upgraded(&e, DC_PROXY_UPGRADE_WS, NULL);
	e.answers[DC_PROXY_UPGRADE_WS].ws = DC_WS_ANSWER_DERP_UPGRADE;
	e.metacert = true;
	assert_string_equal(judge(&e, &v, DC_PROXY_ITEM_WS)->code, "websocket-unsupported");
	e.metacert = false;
	assert_string_equal(judge(&e, &v, DC_PROXY_ITEM_WS)->code, "proxy-ws-protocol-dropped");
}

static void test_multiple_keys_text_names_the_split(void **state)
{
	(void)state;
	char cause[700], fix[1400];
	dc_proxy_keys_text(6, 2, true, DC_PROXY_HAPROXY, cause, sizeof(cause), fix, sizeof(fix));
	assert_string_equal(cause, "6 connections to this node met 2 different server keys: a load balancer spreads clients over "
				   "several derpers, which do not forward to each other, so two clients on different ones cannot "
				   "reach each other (tailscale#6478)");
	expect_has(fix, "\nHAProxy: one server per backend");
	assert_null(strstr(fix, "nginx:"));
}

static void test_answer_fingerprints(void **state)
{
	(void)state;
	struct dc_proxy_answer a;
	memset(&a, 0, sizeof(a));
	a.answered = true;
	a.head.status = 204;
	snprintf(a.head.ts_response, sizeof(a.head.ts_response), "response %s", CHALLENGE);
	snprintf(a.head.csp, sizeof(a.head.csp), "default-src 'none'; frame-ancestors 'none'; form-action");
	dc_proxy_answer_classify(&a, DC_PROXY_204, CHALLENGE);
	assert_true(a.challenge_ok);
	assert_true(a.derper_tls_headers);
	dc_proxy_answer_classify(&a, DC_PROXY_204, "derpcheck-other");
	assert_false(a.challenge_ok);
	a.head.status = 426;
	snprintf(a.body, sizeof(a.body), "DERP requires connection upgrade");
	dc_proxy_answer_classify(&a, DC_PROXY_GET_DERP, CHALLENGE);
	assert_true(a.derper_426);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derpkey_certificate_means_derper_terminates_tls),
		cmocka_unit_test(test_server_header_names_nginx_and_caddy),
		cmocka_unit_test(test_cf_ray_names_cloudflare),
		cmocka_unit_test(test_lowercase_header_names_without_server_look_like_haproxy),
		cmocka_unit_test(test_upgrade_answered_426_by_derper_means_the_proxy_strips_it),
		cmocka_unit_test(test_only_websocket_passing_fails_derp_and_names_http2),
		cmocka_unit_test(test_redirect_to_derp_slash_is_a_trailing_slash_route),
		cmocka_unit_test(test_home_page_on_derp_means_the_path_is_rewritten),
		cmocka_unit_test(test_unrouted_derp_with_a_routed_probe_names_the_route),
		cmocka_unit_test(test_no_derper_behind_the_proxy_fails_the_front),
		cmocka_unit_test(test_plain_http_from_derper_gets_derpers_tls_fix),
		cmocka_unit_test(test_http2_frames_to_an_http11_request_are_h2_only),
		cmocka_unit_test(test_unknown_proxy_gets_every_proxys_lines),
		cmocka_unit_test(test_latency_check_home_page_is_derper_and_404_warns),
		cmocka_unit_test(test_websocket_answered_as_derp_depends_on_who_is_in_front),
		cmocka_unit_test(test_multiple_keys_text_names_the_split),
		cmocka_unit_test(test_answer_fingerprints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
