/*
 * dc_tailnet_analyze: each peer's path the way `tailscale status` decides it, and the
 * most likely reason a peer is not direct, inferred only from what the Status carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/peerpath.h"

#define NOW 1787400000 /* 2026-08-22T12:00:00Z */
#define RECENT "2026-08-22T11:59:30Z"

static struct dc_derpmap defaults;

static int load_defaults(void **state)
{
	(void)state;
	return dc_map_defaults(&defaults);
}

static int free_defaults(void **state)
{
	(void)state;
	dc_derpmap_free(&defaults);
	return 0;
}

struct fixture {
	struct dc_status st;
	struct dc_tailnet_report r;
};

/* Analyze a Status whose Self is self_json (or none) and whose peers are peers_json. */
static struct fixture *analyze(const char *self_json, const char *peers_json)
{
	struct fixture *f = dc_xcalloc(1, sizeof(*f));
	char *doc = dc_xasprintf("{\"BackendState\": \"Running\", \"MagicDNSSuffix\": \"tail1.ts.net\"%s%s, \"Peer\": {%s}}",
				 self_json ? ", \"Self\": " : "", self_json ? self_json : "", peers_json);
	struct dc_error err;
	if (dc_status_parse(doc, strlen(doc), "t", &f->st, &err) < 0)
		fail_msg("%s: %s in %s", err.where, err.what, doc);
	free(doc);
	dc_tailnet_analyze(&f->st, &defaults, NOW, &f->r);
	return f;
}

static void done(struct fixture *f)
{
	dc_tailnet_report_free(&f->r);
	dc_status_free(&f->st);
	free(f);
}

#define SELF_PUBLIC "{\"Relay\": \"fra\", \"Addrs\": [\"203.0.113.7:41641\", \"192.168.1.2:41641\"]}"
#define ACTIVE "\"Online\": true, \"Active\": true, \"LastHandshake\": \"" RECENT "\""

static const struct dc_peer_view *only_peer(struct fixture *f)
{
	assert_int_equal(f->r.count, 1);
	return &f->r.peers[0];
}

static void test_cur_addr_means_direct(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"CurAddr\": \"192.0.2.10:41641\", \"Relay\": \"nyc\"}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->state, DC_PEER_DIRECT);
	assert_int_equal(v->path, DC_PATH_DIRECT);
	assert_int_equal(v->reason, DC_REASON_NONE);
	assert_null(v->message);
	assert_int_equal(f->r.direct, 1);
	done(f);
}

static void test_relay_code_alone_means_derp_named_from_the_map(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->state, DC_PEER_RELAYED);
	assert_int_equal(v->path, DC_PATH_DERP);
	assert_int_equal(v->home.id, 1);
	assert_string_equal(v->home.name, "New York City");
	assert_false(v->home.custom);
	assert_int_equal(f->r.derp, 1);
	done(f);
}

static void test_peer_relay_wins_and_its_vni_is_split_off(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\", \"PeerRelay\": \"[2001:db8::9]:7777:vni:12\"}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->state, DC_PEER_RELAYED);
	assert_int_equal(v->path, DC_PATH_PEER_RELAY);
	assert_string_equal(v->relay_endpoint, "[2001:db8::9]:7777");
	assert_int_equal(v->relay_vni, 12);
	/* UDP demonstrably works on both sides, so the NAT is the suspect. */
	assert_int_equal(v->reason, DC_REASON_HARD_NAT_LIKELY);
	assert_int_equal(f->r.peer_relay, 1);
	done(f);
}

static void test_inactive_online_peer_is_idle_with_no_path_to_judge(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {\"Online\": true, \"Active\": false, \"CurAddr\": \"192.0.2.1:1\", \"Relay\": \"nyc\"}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->state, DC_PEER_IDLE);
	assert_int_equal(v->path, DC_PATH_NONE);
	assert_int_equal(v->reason, DC_REASON_PEER_IDLE);
	done(f);
}

static void test_offline_peer_says_when_it_was_last_seen(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {\"DNSName\": \"pi.tail1.ts.net.\", \"Online\": false,"
						 " \"LastSeen\": \"2026-08-19T11:50:00Z\"}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->state, DC_PEER_OFFLINE);
	assert_int_equal(v->reason, DC_REASON_PEER_OFFLINE);
	assert_string_equal(v->message, "the control server reports pi offline (last seen 3d ago)");
	assert_int_equal(f->r.offline, 1);
	done(f);
}

static void test_active_without_any_path_has_no_derp_home(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE "}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->state, DC_PEER_NO_PATH);
	assert_int_equal(v->reason, DC_REASON_NO_DERP_HOME);
	assert_int_equal(f->r.no_path, 1);
	done(f);
}

static void test_all_private_endpoints_here_means_our_udp_is_blocked(void **state)
{
	(void)state;
	struct fixture *f = analyze("{\"Addrs\": [\"192.168.1.2:41641\", \"[fd00::2]:41641\", \"100.90.0.1:41641\"]}",
				    "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->reason, DC_REASON_OUR_UDP_BLOCKED);
	assert_string_equal(v->message, "this node's 3 endpoints are all private: STUN found no public address, so outbound UDP is probably blocked on this network");
	done(f);
}

static void test_no_endpoints_here_at_all(void **state)
{
	(void)state;
	struct fixture *f = analyze("{\"Addrs\": []}", "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	assert_int_equal(only_peer(f)->reason, DC_REASON_NO_ENDPOINTS_HERE);
	done(f);
}

static void test_peer_with_only_private_endpoints_has_udp_blocked(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\", \"Addrs\": [\"10.1.2.3:41641\", \"[fe80::1]:41641\"]}");
	assert_int_equal(only_peer(f)->reason, DC_REASON_PEER_UDP_BLOCKED);
	done(f);
}

static void test_peer_advertising_no_endpoints(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\", \"Addrs\": []}");
	assert_int_equal(only_peer(f)->reason, DC_REASON_PEER_NO_ENDPOINTS);
	done(f);
}

static void test_both_sides_public_yet_relayed_points_at_hard_nat(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\", \"Addrs\": [\"198.51.100.4:62001\"]}");
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->reason, DC_REASON_HARD_NAT_LIKELY);
	assert_non_null(strstr(v->message, "here 203.0.113.7:41641"));
	done(f);
}

static void test_a_measured_hard_nat_here_replaces_the_guess(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\", \"Addrs\": [\"198.51.100.4:62001\"]}");
	struct dc_nat_measurement m = {.udp = true, .mapping_varies = 1, .global_v4 = "203.0.113.7:1", .detail = "a saw b"};
	dc_tailnet_apply_measurement(&f->r, &m);
	const struct dc_peer_view *v = only_peer(f);
	assert_int_equal(v->reason, DC_REASON_OUR_HARD_NAT);
	assert_string_equal(dc_reason_code(v->reason), "our-hard-nat");
	assert_non_null(strstr(v->message, "measured: this machine's NAT maps per destination (hard NAT) (a saw b)"));
	done(f);
}

static void test_a_measured_easy_nat_here_points_at_the_peer(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	struct dc_nat_measurement m = {.udp = true, .mapping_varies = 0, .global_v4 = "203.0.113.7:41641", .detail = ""};
	dc_tailnet_apply_measurement(&f->r, &m);
	assert_int_equal(only_peer(f)->reason, DC_REASON_PEER_HARD_NAT_LIKELY);
	assert_non_null(strstr(only_peer(f)->message, "(203.0.113.7:41641), so the obstacle is on"));
	done(f);
}

static void test_measured_udp_blocked_and_untouched_reasons(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	struct dc_nat_measurement m = {.udp = false, .mapping_varies = -1, .global_v4 = "", .detail = ""};
	dc_tailnet_apply_measurement(&f->r, &m);
	assert_int_equal(only_peer(f)->reason, DC_REASON_OUR_UDP_BLOCKED);
	assert_non_null(strstr(only_peer(f)->message, "measured: UDP is blocked on this network"));
	assert_null(strstr(only_peer(f)->fix, "3478")); /* the port is the map's, never an assumed one */
	done(f);
	/* With netcheck's verdict, the evidence is the message and its hint the fix. */
	f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	struct dc_nat_measurement closed = {.udp = false, .mapping_varies = -1, .global_v4 = "", .detail = "",
					    .udp_detail = "UDP gets through, but no STUN server answered: ICMP port unreachable",
					    .udp_hint = "start derper's STUN server on the map's STUNPort"};
	dc_tailnet_apply_measurement(&f->r, &closed);
	assert_int_equal(only_peer(f)->reason, DC_REASON_OUR_UDP_BLOCKED);
	assert_non_null(strstr(only_peer(f)->message, "measured: no STUN server answered this machine (UDP gets through, "
						      "but no STUN server answered: ICMP port unreachable), so it learns no "
						      "public endpoint and "));
	assert_string_equal(only_peer(f)->fix, "start derper's STUN server on the map's STUNPort");
	done(f);
	/* an offline peer keeps its reason: the measurement says nothing about it */
	f = analyze(SELF_PUBLIC, "\"k\": {\"Online\": false, \"Relay\": \"nyc\"}");
	enum dc_reason before = only_peer(f)->reason;
	dc_tailnet_apply_measurement(&f->r, &m);
	assert_int_equal(only_peer(f)->reason, before);
	done(f);
}

static void test_peer_endpoints_unknown_leaves_two_candidates(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	assert_int_equal(only_peer(f)->reason, DC_REASON_PEER_UDP_OR_HARD_NAT);
	done(f);
}

static void test_without_any_endpoints_reported_the_reason_is_unknown(void **state)
{
	(void)state;
	struct fixture *f = analyze(NULL, "\"k\": {" ACTIVE ", \"Relay\": \"nyc\"}");
	assert_int_equal(only_peer(f)->reason, DC_REASON_UNKNOWN);
	done(f);
}

static void test_expired_key_and_offline_come_before_endpoint_guesses(void **state)
{
	(void)state;
	struct fixture *f = analyze("{\"Addrs\": []}", "\"a\": {" ACTIVE ", \"Relay\": \"nyc\", \"Expired\": true},"
						       " \"b\": {\"Online\": false, \"Active\": true, \"Relay\": \"nyc\","
						       " \"LastHandshake\": \"" RECENT "\"}");
	assert_int_equal(f->r.count, 2);
	assert_int_equal(f->r.peers[0].reason, DC_REASON_KEY_EXPIRED);
	/* Sent to, but offline: still relayed, and the reason is that it is offline. */
	assert_int_equal(f->r.peers[1].state, DC_PEER_RELAYED);
	assert_int_equal(f->r.peers[1].reason, DC_REASON_PEER_OFFLINE);
	done(f);
}

static void test_active_without_a_handshake_is_not_blamed_on_udp(void **state)
{
	(void)state;
	struct fixture *f = analyze("{\"Addrs\": []}", "\"k\": {\"Online\": true, \"Active\": true, \"Relay\": \"nyc\"}");
	assert_int_equal(only_peer(f)->reason, DC_REASON_NO_HANDSHAKE);
	done(f);
}

static void test_old_daemon_activity_is_inferred_from_the_handshake(void **state)
{
	(void)state;
	struct fixture *f = analyze(NULL, "\"a\": {\"HostName\": \"recent\", \"CurAddr\": \"192.0.2.1:41641\","
					  " \"LastHandshake\": \"2026-08-22T11:57:30Z\"},"
					  " \"b\": {\"HostName\": \"stale\", \"LastHandshake\": \"2026-08-22T11:56:59Z\"}");
	assert_true(f->r.activity_inferred);
	assert_string_equal(f->r.peers[0].name, "recent");
	assert_int_equal(f->r.peers[0].state, DC_PEER_DIRECT);
	assert_true(f->r.peers[0].active_inferred);
	assert_int_equal(f->r.peers[1].state, DC_PEER_IDLE); /* 181 s: just past the window */
	done(f);
}

static void test_shared_in_and_mullvad_nodes_are_hidden_like_tailscale_status(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"a\": {\"ShareeNode\": true}, \"b\": {\"DNSName\": \"se-sto-wg-001.mullvad.ts.net.\"},"
						 " \"c\": {\"HostName\": \"kept\"}");
	assert_int_equal(f->r.count, 1);
	assert_int_equal(f->r.hidden, 2);
	done(f);
}

static void test_names_drop_the_tailnet_suffix_and_sort(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"a\": {\"DNSName\": \"zed.tail1.ts.net.\"},"
						 " \"b\": {\"DNSName\": \"alpha.other-tailnet.ts.net.\"},"
						 " \"c\": {\"HostName\": \"no-dns\"}");
	assert_string_equal(f->r.peers[0].name, "alpha.other-tailnet.ts.net");
	assert_string_equal(f->r.peers[1].name, "no-dns");
	assert_string_equal(f->r.peers[2].name, "zed");
	done(f);
}

static void test_find_peer_by_any_of_its_names(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"nodekey:aa\": {\"DNSName\": \"nas.tail1.ts.net.\", \"HostName\": \"NAS-Box\","
						 " \"TailscaleIPs\": [\"100.64.0.2\"], \"ID\": \"nStable\"},"
						 " \"nodekey:bb\": {\"DNSName\": \"phone.tail1.ts.net.\", \"HostName\": \"phone\"}");
	const struct dc_peer_view *second;
	const char *queries[] = {"nas", "NAS", "nas.tail1.ts.net", "nas.tail1.ts.net.", "nas-box", "100.64.0.2",
				 "nodekey:aa", "nStable"};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		const struct dc_peer_view *v = dc_tailnet_find_peer(&f->r, queries[i], &second);
		if (!v || strcmp(v->name, "nas") != 0 || second)
			fail_msg("'%s' did not find nas alone", queries[i]);
	}
	assert_null(dc_tailnet_find_peer(&f->r, "na", &second));
	done(f);
}

static void test_two_peers_with_one_host_name_are_ambiguous(void **state)
{
	(void)state;
	struct fixture *f = analyze(SELF_PUBLIC, "\"a\": {\"DNSName\": \"pi.tail1.ts.net.\", \"HostName\": \"raspberrypi\"},"
						 " \"b\": {\"DNSName\": \"pi-1.tail1.ts.net.\", \"HostName\": \"raspberrypi\"}");
	const struct dc_peer_view *second;
	assert_non_null(dc_tailnet_find_peer(&f->r, "raspberrypi", &second));
	assert_non_null(second);
	assert_non_null(dc_tailnet_find_peer(&f->r, "pi-1", &second));
	assert_null(second);
	done(f);
}

static void test_custom_regions_are_flagged(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	struct dc_error err;
	assert_int_equal(dc_map_doc_load("tests/fixtures/nat-vps-policy.hujson", NULL, &doc, &err), 0);
	struct dc_derpmap merged;
	struct dc_merge_summary sum;
	dc_derpmap_merge(&doc.map, &defaults, &merged, &sum);
	const char *json = "{\"BackendState\": \"Running\", \"Self\": {\"Relay\": \"myvps\"}, \"Peer\": null}";
	struct dc_status st;
	assert_int_equal(dc_status_parse(json, strlen(json), "t", &st, &err), 0);
	struct dc_tailnet_report r;
	dc_tailnet_analyze(&st, &merged, NOW, &r);
	assert_int_equal(r.self_home.id, 900);
	assert_true(r.self_home.custom);
	assert_string_equal(r.self_home.name, "My NAT VPS");
	dc_tailnet_report_free(&r);
	dc_status_free(&st);
	dc_derpmap_free(&merged);
	dc_merge_summary_free(&sum);
	dc_map_doc_free(&doc);
}

static void test_a_backend_that_is_not_running_is_explained(void **state)
{
	(void)state;
	const char *json = "{\"BackendState\": \"NeedsLogin\", \"AuthURL\": \"https://login.example/a/1\", \"Peer\": null}";
	struct dc_status st;
	struct dc_error err;
	assert_int_equal(dc_status_parse(json, strlen(json), "t", &st, &err), 0);
	struct dc_tailnet_report r;
	dc_tailnet_analyze(&st, NULL, NOW, &r);
	assert_false(r.running);
	assert_string_equal(r.state_message, "this node is logged out");
	assert_string_equal(r.state_fix, "log in at https://login.example/a/1");
	dc_tailnet_report_free(&r);
	dc_status_free(&st);
}

static void test_public_endpoints_exclude_private_cgnat_and_link_local(void **state)
{
	(void)state;
	const char *pub[] = {"203.0.113.7:41641", "8.8.8.8:1", "[2001:db8::1]:41641", "[::ffff:198.51.100.1]:9",
			     "172.32.0.1:1", "100.128.0.1:1"};
	const char *priv[] = {"10.0.0.1:41641", "172.16.5.5:1", "192.168.0.1:1", "100.64.0.1:1", "100.127.255.255:1",
			      "127.0.0.1:1", "169.254.1.1:1", "0.0.0.0:1", "224.0.0.1:1", "[fd7a:115c:a1e0::1]:1",
			      "[fe80::1]:1", "[::1]:1", "[::ffff:10.0.0.1]:1", "fe80::1", "nonsense", "", "[2001:db8::1"};
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		if (!dc_endpoint_is_public(pub[i]))
			fail_msg("%s should be public", pub[i]);
	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		if (dc_endpoint_is_public(priv[i]))
			fail_msg("%s should not be public", priv[i]);
}

static void test_ages_are_short(void **state)
{
	(void)state;
	char buf[16];
	dc_format_age(-5, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	dc_format_age(59, buf, sizeof(buf));
	assert_string_equal(buf, "59s");
	dc_format_age(60, buf, sizeof(buf));
	assert_string_equal(buf, "1m");
	dc_format_age(3 * 3600 + 59 * 60, buf, sizeof(buf));
	assert_string_equal(buf, "3h");
	dc_format_age(86400 * 400, buf, sizeof(buf));
	assert_string_equal(buf, "400d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cur_addr_means_direct),
		cmocka_unit_test(test_relay_code_alone_means_derp_named_from_the_map),
		cmocka_unit_test(test_peer_relay_wins_and_its_vni_is_split_off),
		cmocka_unit_test(test_inactive_online_peer_is_idle_with_no_path_to_judge),
		cmocka_unit_test(test_offline_peer_says_when_it_was_last_seen),
		cmocka_unit_test(test_active_without_any_path_has_no_derp_home),
		cmocka_unit_test(test_all_private_endpoints_here_means_our_udp_is_blocked),
		cmocka_unit_test(test_no_endpoints_here_at_all),
		cmocka_unit_test(test_peer_with_only_private_endpoints_has_udp_blocked),
		cmocka_unit_test(test_peer_advertising_no_endpoints),
		cmocka_unit_test(test_both_sides_public_yet_relayed_points_at_hard_nat),
		cmocka_unit_test(test_peer_endpoints_unknown_leaves_two_candidates),
		cmocka_unit_test(test_a_measured_hard_nat_here_replaces_the_guess),
		cmocka_unit_test(test_a_measured_easy_nat_here_points_at_the_peer),
		cmocka_unit_test(test_measured_udp_blocked_and_untouched_reasons),
		cmocka_unit_test(test_without_any_endpoints_reported_the_reason_is_unknown),
		cmocka_unit_test(test_expired_key_and_offline_come_before_endpoint_guesses),
		cmocka_unit_test(test_active_without_a_handshake_is_not_blamed_on_udp),
		cmocka_unit_test(test_old_daemon_activity_is_inferred_from_the_handshake),
		cmocka_unit_test(test_shared_in_and_mullvad_nodes_are_hidden_like_tailscale_status),
		cmocka_unit_test(test_names_drop_the_tailnet_suffix_and_sort),
		cmocka_unit_test(test_find_peer_by_any_of_its_names),
		cmocka_unit_test(test_two_peers_with_one_host_name_are_ambiguous),
		cmocka_unit_test(test_custom_regions_are_flagged),
		cmocka_unit_test(test_a_backend_that_is_not_running_is_explained),
		cmocka_unit_test(test_public_endpoints_exclude_private_cgnat_and_link_local),
		cmocka_unit_test(test_ages_are_short),
	};
	return cmocka_run_group_tests(tests, load_defaults, free_defaults);
}
