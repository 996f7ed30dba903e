/*
 * dc_status_parse: tailscaled's Status document (`tailscale status --json`) read the
 * way Go decodes it, tolerant of old and new field sets, bounded on hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/status.h"

static int parse(const char *json, struct dc_status *st, struct dc_error *err)
{
	return dc_status_parse(json, strlen(json), "test.json", st, err);
}

static void parse_ok(const char *json, struct dc_status *st)
{
	struct dc_error err;
	int rc = parse(json, st, &err);
	if (rc != 0)
		fail_msg("parse failed: %s: %s", err.where, err.what);
}

static void test_new_field_set_reads_every_peer_field(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"Version\": \"1.86.2\", \"BackendState\": \"Running\", \"TUN\": true,"
		 " \"CurrentTailnet\": {\"Name\": \"alice@example.com\", \"MagicDNSSuffix\": \"tail1.ts.net\"},"
		 " \"Health\": [\"not connected to home DERP region 900\"],"
		 " \"Self\": {\"HostName\": \"laptop\", \"Relay\": \"fra\", \"Addrs\": [\"203.0.113.7:41641\"]},"
		 " \"Peer\": {\"nodekey:aa\": {\"PublicKey\": \"nodekey:aa\", \"ID\": \"nX\", \"HostName\": \"nas\","
		 "   \"DNSName\": \"nas.tail1.ts.net.\", \"OS\": \"linux\", \"UserID\": 7,"
		 "   \"TailscaleIPs\": [\"100.64.0.2\", \"fd7a:115c:a1e0::2\"], \"Addrs\": null,"
		 "   \"CurAddr\": \"192.0.2.10:41641\", \"Relay\": \"nyc\", \"PeerRelay\": \"\","
		 "   \"RxBytes\": 1288490, \"TxBytes\": 348160, \"LastHandshake\": \"2026-08-22T11:59:56.5Z\","
		 "   \"LastSeen\": \"0001-01-01T00:00:00Z\", \"Online\": true, \"Active\": true,"
		 "   \"ExitNodeOption\": true, \"KeyExpiry\": \"2027-02-18T12:00:00Z\"}}}",
		 &st);
	assert_string_equal(st.version, "1.86.2");
	assert_string_equal(st.backend_state, "Running");
	assert_int_equal(st.tun, DC_YES);
	assert_string_equal(st.tailnet_name, "alice@example.com");
	assert_string_equal(st.magic_dns_suffix, "tail1.ts.net");
	assert_int_equal(st.health_count, 1);
	assert_true(st.have_self);
	assert_string_equal(st.self.relay, "fra");
	assert_true(st.self.addrs_reported);
	assert_int_equal(st.peer_count, 1);
	const struct dc_peer_status *p = &st.peers[0];
	assert_string_equal(p->key, "nodekey:aa");
	assert_string_equal(p->id, "nX");
	assert_string_equal(p->dns_name, "nas.tail1.ts.net.");
	assert_int_equal(p->user_id, 7);
	assert_int_equal(p->ip_count, 2);
	assert_string_equal(p->ips[1], "fd7a:115c:a1e0::2");
	assert_false(p->addrs_reported);
	assert_string_equal(p->cur_addr, "192.0.2.10:41641");
	assert_int_equal(p->rx_bytes, 1288490);
	assert_int_equal(p->last_handshake, 1787399996);
	assert_int_equal(p->last_seen, 0);
	assert_int_equal(p->online, DC_YES);
	assert_int_equal(p->active, DC_YES);
	assert_true(p->exit_node_option);
	assert_int_equal(st.ignored_count, 0);
	dc_status_free(&st);
}

static void test_old_tailaddr_becomes_the_one_tailscale_ip(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"BackendState\": \"Running\", \"Peer\": {\"k\": {\"TailAddr\": \"100.64.0.9\"}}}", &st);
	assert_int_equal(st.peers[0].ip_count, 1);
	assert_string_equal(st.peers[0].ips[0], "100.64.0.9");
	dc_status_free(&st);
}

static void test_absent_active_and_online_are_unknown_not_false(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"BackendState\": \"Running\", \"Peer\": {\"k\": {\"HostName\": \"old\"}}}", &st);
	assert_false(st.have_self);
	assert_int_equal(st.peers[0].active, DC_UNKNOWN);
	assert_int_equal(st.peers[0].online, DC_UNKNOWN);
	assert_string_equal(st.peers[0].peer_relay, "");
	dc_status_free(&st);
}

static void test_field_names_match_in_any_case_and_the_last_wins(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"backendstate\": \"Stopped\", \"BACKENDSTATE\": \"Running\","
		 " \"Peer\": {\"k\": {\"curaddr\": \"192.0.2.1:1\", \"RXBYTES\": 5}}}",
		 &st);
	assert_string_equal(st.backend_state, "Running");
	assert_string_equal(st.peers[0].cur_addr, "192.0.2.1:1");
	assert_int_equal(st.peers[0].rx_bytes, 5);
	dc_status_free(&st);
}

static void test_a_field_of_the_wrong_type_is_skipped_and_counted_with_its_path(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"BackendState\": \"Running\", \"Peer\": {\"nodekey:0123456789abcdef0123\": "
		 "{\"RxBytes\": \"12\", \"TxBytes\": 1.5, \"Online\": \"yes\", \"HostName\": \"h\"}}}",
		 &st);
	const struct dc_peer_status *p = &st.peers[0];
	assert_int_equal(p->rx_bytes, 0);
	assert_int_equal(p->tx_bytes, 0);
	assert_int_equal(p->online, DC_UNKNOWN);
	assert_string_equal(p->host_name, "h");
	assert_int_equal(st.ignored_count, 3);
	assert_string_equal(st.first_ignored, "Peer[\"nodekey:0123456789ab…\"].RxBytes");
	dc_status_free(&st);
}

static void test_peer_null_means_no_peers(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"BackendState\": \"NeedsLogin\", \"Peer\": null, \"Self\": null}", &st);
	assert_int_equal(st.peer_count, 0);
	assert_false(st.have_self);
	dc_status_free(&st);
}

static void test_addrs_empty_array_is_reported_but_null_is_not(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"Self\": {\"Addrs\": []}, \"Peer\": {\"a\": {\"Addrs\": null}, \"b\": {}}}", &st);
	assert_true(st.self.addrs_reported);
	assert_int_equal(st.self.addr_count, 0);
	assert_false(st.peers[0].addrs_reported);
	assert_false(st.peers[1].addrs_reported);
	dc_status_free(&st);
}

static void test_lists_over_their_cap_are_dropped_and_counted(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{\"Peer\": {\"k\": {\"TailscaleIPs\": [");
	for (int i = 0; i < DC_STATUS_MAX_IPS + 5; i++)
		dc_buf_printf(&b, "%s\"100.64.0.%d\"", i ? "," : "", i);
	dc_buf_printf(&b, "]}}}");
	struct dc_status st;
	parse_ok(b.data, &st);
	assert_int_equal(st.peers[0].ip_count, DC_STATUS_MAX_IPS);
	assert_int_equal(st.dropped_count, 5);
	dc_status_free(&st);
	dc_buf_free(&b);
}

static void test_long_strings_are_cut_on_a_character_boundary(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{\"Peer\": {\"k\": {\"HostName\": \"x");
	for (int i = 0; i < DC_STATUS_MAX_STRING; i++)
		dc_buf_printf(&b, "é"); /* two bytes each: byte 1024 falls inside one */
	dc_buf_printf(&b, "\"}}}");
	struct dc_status st;
	parse_ok(b.data, &st);
	size_t n = strlen(st.peers[0].host_name);
	assert_true(n <= DC_STATUS_MAX_STRING);
	assert_true(n >= DC_STATUS_MAX_STRING - 1);
	assert_int_equal(((unsigned char)st.peers[0].host_name[n - 1] & 0xC0), 0x80); /* ends after a whole é */
	dc_status_free(&st);
	dc_buf_free(&b);
}

static void test_users_give_login_names(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"Peer\": null, \"User\": {\"1001\": {\"ID\": 1001, \"LoginName\": \"alice@example.com\"},"
		 " \"1002\": {\"LoginName\": \"bob@example.com\"}}}",
		 &st);
	assert_string_equal(dc_status_login_name(&st, 1001), "alice@example.com");
	assert_string_equal(dc_status_login_name(&st, 1002), "bob@example.com"); /* ID from the key */
	assert_null(dc_status_login_name(&st, 1003));
	dc_status_free(&st);
}

static void test_magic_dns_suffix_falls_back_to_the_old_top_level_field(void **state)
{
	(void)state;
	struct dc_status st;
	parse_ok("{\"MagicDNSSuffix\": \"old.beta.tailscale.net\", \"CurrentTailnet\": null, \"Peer\": null}", &st);
	assert_string_equal(st.magic_dns_suffix, "old.beta.tailscale.net");
	dc_status_free(&st);
}

static void test_invalid_json_reports_line_and_column(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("{\n  \"BackendState\": \"Running\",\n  \"Peer\": {,}\n}", &st, &err), -1);
	assert_string_equal(err.where, "test.json:3:12");
	assert_string_equal(err.what, "not valid JSON: expected a \"key\" in double quotes, found ','");
	assert_int_equal(err.pos.line, 3);
	assert_string_equal(err.hint, "give the output of `tailscale status --json`, unchanged");
}

static void test_truncated_json_says_where_it_ends(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("{\"BackendState\": \"Running\", \"Peer\": {", &st, &err), -1);
	assert_string_equal(err.what, "not valid JSON: expected a \"key\" or '}', found end of input (object opened at 1:37 is not closed)");
}

static void test_text_output_of_tailscale_status_gets_its_own_hint(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("100.64.0.1  laptop  alice@  linux  -\n", &st, &err), -1);
	assert_string_equal(err.hint, "this looks like the text output of `tailscale status`; save `tailscale status --json` instead");
}

static void test_text_after_the_document_is_an_error(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("{\"Peer\": null}\n{\"Peer\": null}\n", &st, &err), -1);
	assert_string_equal(err.where, "test.json:2:1");
	assert_string_equal(err.what, "not valid JSON: expected end of input after the top-level value, found '{'");
}

static void test_error_positions_count_cr_only_line_endings(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("{\"Version\": \"1.0\",\r\"Peer\": {\r  \"x\": [}\r}", &st, &err), -1);
	assert_string_equal(err.where, "test.json:3:9");
}

static void test_comments_are_valid_hujson_but_not_json(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("{\"Peer\": null, // no peers\n}", &st, &err), -1);
	assert_string_equal(err.what, "not valid JSON: comments or a trailing comma, which JSON does not allow");
}

static void test_documents_that_are_not_a_status_are_refused(void **state)
{
	(void)state;
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(parse("[1, 2]", &st, &err), -1);
	assert_string_equal(err.what, "not a Status document: the top level is not a JSON object");
	assert_int_equal(parse("{\"Regions\": {}}", &st, &err), -1);
	assert_string_equal(err.what, "not a Status document: it has none of BackendState, Self and Peer");
	assert_string_equal(err.hint, "this is a DERP map or policy file; give it with --derp-map");
	assert_int_equal(parse(" \n\t", &st, &err), -1);
	assert_string_equal(err.what, "empty: no Status document");
}

static void test_rfc3339_times_with_offsets_and_fractions(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(dc_parse_rfc3339("2026-08-22T12:00:00Z", &t), 0);
	assert_int_equal(t, 1787400000);
	assert_int_equal(dc_parse_rfc3339("2026-08-22T14:00:00.123456789+02:00", &t), 0);
	assert_int_equal(t, 1787400000);
	assert_int_equal(dc_parse_rfc3339("2026-08-22T07:30:00-04:30", &t), 0);
	assert_int_equal(t, 1787400000);
	assert_int_equal(dc_parse_rfc3339("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(t, 1709164800);
	assert_int_equal(dc_parse_rfc3339("0001-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0); /* Go's zero time: never */
}

static void test_rfc3339_rejects_what_go_would_not_write(void **state)
{
	(void)state;
	int64_t t;
	const char *bad[] = {"", "2026-08-22", "2026-08-22 12:00:00Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
			     "2026-08-22T12:00:00", "2026-08-22T12:00:00.Z", "2026-08-22T12:00:00+0200", "2026-08-22T24:00:00Z",
			     "2026-08-22T12:00:00Zjunk"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dc_parse_rfc3339(bad[i], &t) != -1)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_fixture_files_of_old_and_new_daemons_read_cleanly(void **state)
{
	(void)state;
	const char *files[] = {"tests/fixtures/status/mixed.json", "tests/fixtures/status/old-1.2.json",
			       "tests/fixtures/status/stopped.json", "tests/fixtures/status/needs-login.json"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct dc_buf b = {0};
		struct dc_error err;
		struct dc_status st;
		assert_int_equal(dc_status_read_file(files[i], &b, &err), 0);
		assert_int_equal(dc_status_parse(b.data, b.len, files[i], &st, &err), 0);
		assert_int_equal(st.ignored_count, 0);
		dc_status_free(&st);
		dc_buf_free(&b);
	}
}

static void test_missing_file_suggests_how_to_save_one(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	struct dc_error err;
	assert_int_equal(dc_status_read_file("tests/fixtures/status/nope.json", &b, &err), -1);
	assert_string_equal(err.what, "cannot open: No such file or directory");
	assert_string_equal(err.hint, "save it first: tailscale status --json > tests/fixtures/status/nope.json (or read standard input with --file -)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_field_set_reads_every_peer_field),
		cmocka_unit_test(test_old_tailaddr_becomes_the_one_tailscale_ip),
		cmocka_unit_test(test_absent_active_and_online_are_unknown_not_false),
		cmocka_unit_test(test_field_names_match_in_any_case_and_the_last_wins),
		cmocka_unit_test(test_a_field_of_the_wrong_type_is_skipped_and_counted_with_its_path),
		cmocka_unit_test(test_peer_null_means_no_peers),
		cmocka_unit_test(test_addrs_empty_array_is_reported_but_null_is_not),
		cmocka_unit_test(test_lists_over_their_cap_are_dropped_and_counted),
		cmocka_unit_test(test_long_strings_are_cut_on_a_character_boundary),
		cmocka_unit_test(test_users_give_login_names),
		cmocka_unit_test(test_magic_dns_suffix_falls_back_to_the_old_top_level_field),
		cmocka_unit_test(test_invalid_json_reports_line_and_column),
		cmocka_unit_test(test_truncated_json_says_where_it_ends),
		cmocka_unit_test(test_text_output_of_tailscale_status_gets_its_own_hint),
		cmocka_unit_test(test_text_after_the_document_is_an_error),
		cmocka_unit_test(test_error_positions_count_cr_only_line_endings),
		cmocka_unit_test(test_comments_are_valid_hujson_but_not_json),
		cmocka_unit_test(test_documents_that_are_not_a_status_are_refused),
		cmocka_unit_test(test_rfc3339_times_with_offsets_and_fractions),
		cmocka_unit_test(test_rfc3339_rejects_what_go_would_not_write),
		cmocka_unit_test(test_fixture_files_of_old_and_new_daemons_read_cleanly),
		cmocka_unit_test(test_missing_file_suggests_how_to_save_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
