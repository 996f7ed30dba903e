/* derper's command line read as derper v1.34.2 reads it with Go's flag package. */
#include "testlib.h"

#include "derpcheck/input/derperflags.h"

static void parse(struct dc_derper_flags *f, const char *const *argv, int argc)
{
	dc_derper_flags_parse(argc, (char *const *)argv, "/root", NULL, f);
}

static void test_defaults_are_derpers(void **state)
{
	(void)state;
	struct dc_derper_flags f;
	parse(&f, NULL, 0);
	assert_string_equal(f.addr, ":443");
	assert_int_equal(f.listen_port, 443);
	assert_int_equal(f.stun_port, 3478);
	assert_int_equal(f.http_port, 80);
	assert_true(f.stun && f.derp && !f.verify_clients);
	assert_string_equal(f.certmode, "letsencrypt");
	assert_string_equal(f.hostname, "derp.tailscale.com");
	assert_string_equal(f.certdir, "/root/.cache/tailscale/derper-certs");
	assert_true(f.serve_tls && f.http_listener);
	assert_int_equal(f.stop, DC_FLAGS_STOP_END);
}

static void test_xdg_cache_home_moves_the_default_certdir(void **state)
{
	(void)state;
	struct dc_derper_flags f;
	dc_derper_flags_parse(0, NULL, "/root", "/var/cache", &f);
	assert_string_equal(f.certdir, "/var/cache/tailscale/derper-certs");
}

static void test_one_or_two_dashes_equals_or_space(void **state)
{
	(void)state;
	const char *argv[] = {"--a=:38894", "-stun-port", "38893", "--certmode", "manual", "-hostname=derp.example.com"};
	struct dc_derper_flags f;
	parse(&f, argv, 6);
	assert_int_equal(f.listen_port, 38894);
	assert_int_equal(f.stun_port, 38893);
	assert_string_equal(f.certmode, "manual");
	assert_string_equal(f.hostname, "derp.example.com");
	assert_true(f.serve_tls); /* manual mode serves TLS on any port */
	assert_true(DC_DF_IS_SET(&f, DC_DF_HOSTNAME));
	assert_int_equal(f.index[DC_DF_STUN_PORT], 1);
}

static void test_bare_boolean_value_ends_parsing(void **state)
{
	(void)state;
	const char *argv[] = {"-stun", "false", "-a", ":38894"};
	struct dc_derper_flags f;
	parse(&f, argv, 4);
	assert_true(f.stun); /* "-stun false" is -stun=true, then a positional "false" */
	assert_int_equal(f.stop, DC_FLAGS_STOP_POSITIONAL);
	assert_int_equal(f.stop_index, 1);
	assert_int_equal(f.ignored, 2);
	assert_string_equal(f.bad_bool, "stun");
	assert_string_equal(f.addr, ":443"); /* -a never read */
}

static void test_boolean_with_equals_is_read(void **state)
{
	(void)state;
	const char *argv[] = {"-stun=false", "-derp=0", "-verify-clients"};
	struct dc_derper_flags f;
	parse(&f, argv, 3);
	assert_false(f.stun);
	assert_false(f.derp);
	assert_true(f.verify_clients);
}

static void test_double_dash_ends_parsing(void **state)
{
	(void)state;
	const char *argv[] = {"-a", ":1", "--", "-a", ":2"};
	struct dc_derper_flags f;
	parse(&f, argv, 5);
	assert_int_equal(f.stop, DC_FLAGS_STOP_DASHDASH);
	assert_int_equal(f.listen_port, 1);
}

static void test_value_flag_takes_next_word_even_with_a_dash(void **state)
{
	(void)state;
	const char *argv[] = {"-http-port", "-1"};
	struct dc_derper_flags f;
	parse(&f, argv, 2);
	assert_int_equal(f.http_port, -1);
	assert_false(f.http_listener);
}

static void test_unknown_flag_is_derpers_error(void **state)
{
	(void)state;
	const char *argv[] = {"-a", ":443", "-port", "1"};
	struct dc_derper_flags f;
	parse(&f, argv, 4);
	assert_int_equal(f.stop, DC_FLAGS_STOP_ERROR);
	assert_string_equal(f.error, "flag provided but not defined: -port");
}

static void test_bad_values_are_derpers_errors(void **state)
{
	(void)state;
	const char *a[] = {"-stun-port", "abc"};
	const char *b[] = {"-stun=maybe"};
	const char *c[] = {"-hostname"};
	const char *d[] = {"---a=1"};
	struct dc_derper_flags f;
	parse(&f, a, 2);
	assert_string_equal(f.error, "invalid value \"abc\" for flag -stun-port: parse error");
	parse(&f, b, 1);
	assert_string_equal(f.error, "invalid boolean value \"maybe\" for -stun");
	parse(&f, c, 1);
	assert_string_equal(f.error, "flag needs an argument: -hostname");
	parse(&f, d, 1);
	assert_string_equal(f.error, "bad flag syntax: ---a=1");
}

static void test_newer_flags_are_accepted_and_named(void **state)
{
	(void)state;
	const char *argv[] = {"-verify-client-url", "http://x/verify", "-socket=/run/ts.sock"};
	struct dc_derper_flags f;
	parse(&f, argv, 3);
	assert_int_equal(f.stop, DC_FLAGS_STOP_END);
	assert_string_equal(f.newer, "-verify-client-url -socket");
}

static void test_plain_http_on_a_custom_port_without_manual(void **state)
{
	(void)state;
	const char *argv[] = {"-a", ":38894"};
	struct dc_derper_flags f;
	parse(&f, argv, 2);
	assert_false(f.serve_tls);
	const char *https[] = {"-a", "127.0.0.1:https"};
	parse(&f, https, 2);
	assert_true(f.serve_tls);
	assert_int_equal(f.listen_port, 443);
	assert_string_equal(f.listen_host, "127.0.0.1");
}

static void test_dev_moves_the_listener(void **state)
{
	(void)state;
	const char *argv[] = {"-dev", "-a", ":443"};
	struct dc_derper_flags f;
	parse(&f, argv, 3);
	assert_int_equal(f.listen_port, 3340);
}

static void test_go_integer_forms(void **state)
{
	(void)state;
	long long v;
	assert_int_equal(dc_go_parse_int("0x1bb", &v), 0);
	assert_int_equal(v, 443);
	assert_int_equal(dc_go_parse_int("0o17", &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(dc_go_parse_int("017", &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(dc_go_parse_int("3_478", &v), 0);
	assert_int_equal(v, 3478);
	assert_int_equal(dc_go_parse_int("-1", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(dc_go_parse_int("1__0", &v), -1);
	assert_int_equal(dc_go_parse_int("_1", &v), -1);
	assert_int_equal(dc_go_parse_int("09", &v), -1);
	assert_int_equal(dc_go_parse_int("9223372036854775808", &v), -1);
	assert_int_equal(dc_go_parse_int("", &v), -1);
}

static void test_split_host_port_like_go(void **state)
{
	(void)state;
	char h[64], p[16];
	assert_int_equal(dc_go_split_host_port("[::1]:443", h, sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "::1");
	assert_string_equal(p, "443");
	assert_int_equal(dc_go_split_host_port("::1:443", h, sizeof(h), p, sizeof(p)), -1);
	assert_int_equal(dc_go_split_host_port("443", h, sizeof(h), p, sizeof(p)), -1);
	assert_int_equal(dc_go_split_host_port(":443", h, sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "");
}

static void test_invalid_listen_address(void **state)
{
	(void)state;
	const char *argv[] = {"-a", "38894"};
	struct dc_derper_flags f;
	parse(&f, argv, 2);
	assert_int_equal(f.listen_port, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_derpers),
		cmocka_unit_test(test_xdg_cache_home_moves_the_default_certdir),
		cmocka_unit_test(test_one_or_two_dashes_equals_or_space),
		cmocka_unit_test(test_bare_boolean_value_ends_parsing),
		cmocka_unit_test(test_boolean_with_equals_is_read),
		cmocka_unit_test(test_double_dash_ends_parsing),
		cmocka_unit_test(test_value_flag_takes_next_word_even_with_a_dash),
		cmocka_unit_test(test_unknown_flag_is_derpers_error),
		cmocka_unit_test(test_bad_values_are_derpers_errors),
		cmocka_unit_test(test_newer_flags_are_accepted_and_named),
		cmocka_unit_test(test_plain_http_on_a_custom_port_without_manual),
		cmocka_unit_test(test_dev_moves_the_listener),
		cmocka_unit_test(test_go_integer_forms),
		cmocka_unit_test(test_split_host_port_like_go),
		cmocka_unit_test(test_invalid_listen_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
