/*
 * UDP verdicts from evidence (src/judge/udpverdict.c): silence, ICMP port unreachable, an
 * answer on another port and a node silent among answering ones are told apart, and
 * every sentence names the evidence and the map's port, never an assumed 3478.
 */
#include "testlib.h"

#include "derpcheck/judge/udpverdict.h"

static struct dc_udp_evidence silent(const char *name, const char *ip, uint16_t port)
{
	return (struct dc_udp_evidence){.name = name, .addr = endpoint_of(ip, port), .status = DC_PROBE_TIMEOUT, .sent = 3,
					.waited_ns = 3000000000u};
}

static struct dc_udp_evidence closed(const char *name, const char *ip, uint16_t port)
{
	struct dc_udp_evidence e = {.name = name, .addr = endpoint_of(ip, port), .status = DC_PROBE_UNREACHABLE, .sent = 1,
				    .port_closed = true, .detail = "ICMP port unreachable from X"};
	e.icmp_from = endpoint_of(ip, 0);
	return e;
}

static void text_of(const struct dc_udp_evidence *ev, size_t n, char *text, size_t tn, char *hint, size_t hn,
		    struct dc_udp_summary *s)
{
	dc_udp_summarize(ev, n, s);
	dc_udp_verdict_text(s, text, tn);
	dc_udp_verdict_hint(s, hint, hn);
}

static void test_nothing_back_anywhere_is_no_udp_with_the_maps_ports(void **state)
{
	(void)state;
	struct dc_udp_evidence ev[] = {silent("1a", "192.0.2.1", 38893), silent("2a", "192.0.2.2", 3478),
				       silent("2b", "192.0.2.3", 38893)};
	struct dc_udp_summary s;
	char text[400], hint[400];
	text_of(ev, 3, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_BLOCKED);
	assert_string_equal(dc_udp_verdict_key(s.verdict), "blocked");
	assert_string_equal(s.ports, "3478, 38893");
	assert_string_equal(text, "no UDP at all: none of the 3 STUN servers asked answered on UDP (ports 3478, 38893) and "
				  "no ICMP error came back");
	assert_string_equal(hint, "allow outbound UDP to the DERP servers' STUN ports 3478, 38893 and to peers (tailscaled "
				  "uses 41641) in the firewall or network you are on; if UDP is allowed here, the STUN "
				  "servers are down or filtered on their side");
}

static void test_port_unreachable_means_udp_gets_through(void **state)
{
	(void)state;
	struct dc_udp_evidence ev[] = {silent("1a", "192.0.2.1", 38893), closed("2a", "192.0.2.2", 38894)};
	struct dc_udp_summary s;
	char text[400], hint[400];
	text_of(ev, 2, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_STUN_CLOSED);
	assert_ptr_equal(s.example, &ev[1]);
	assert_string_equal(text, "UDP gets through, but no STUN server answered: ICMP port unreachable from 192.0.2.2 "
				  "for 192.0.2.2:38894 (2a's STUNPort), so nothing listens there (1 of 2 asked closed, "
				  "1 silent)");
	assert_string_equal(hint, "start derper's STUN server on the map's STUNPort (derper -stun -stun-port 38894), or "
				  "set STUNPort to the port it uses (--stun-port-guess PORT tries more ports); Tailscale "
				  "says UDP: false until a STUN server answers");
}

static void test_an_answer_on_another_port_beats_everything_but_an_answer(void **state)
{
	(void)state;
	struct dc_stun_guess g = {.addr = endpoint_of("192.0.2.2", 38893), .nports = 2, .ran = true, .answered = 0};
	g.ports[0] = (struct dc_stun_guess_port){.port = 3478, .why = DC_GUESS_DEFAULT, .status = DC_PROBE_OK,
						 .rtt_ns = 300000};
	g.ports[1] = (struct dc_stun_guess_port){.port = 33657, .why = DC_GUESS_DERP_PORT, .status = DC_PROBE_TIMEOUT};
	struct dc_udp_evidence ev[] = {closed("1a", "192.0.2.1", 38893), closed("900b", "192.0.2.2", 38893)};
	ev[1].guess = &g;
	struct dc_udp_summary s;
	char text[400], hint[400];
	text_of(ev, 2, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_STUN_ELSEWHERE);
	assert_string_equal(text, "UDP works, but not on the map's STUN ports: STUN answers on 192.0.2.2:3478, not on "
				  "38893 (900b's STUNPort: closed, ICMP port unreachable)");
	assert_string_equal(hint, "set STUNPort to 3478 for 900b in the DERP map, or publish 38893/udp to derper's STUN port");
	char why[600];
	dc_udp_failure_text(&ev[1], false, why, sizeof(why));
	assert_string_equal(why, "STUN answers on 3478, not on 38893 (38893: closed, ICMP port unreachable): clients ask "
				 "the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893");
	char tried[600];
	dc_stun_guess_tried(&g, tried, sizeof(tried));
	assert_string_equal(tried, "3478 (default STUN port): STUN answers in 0.300ms; 33657 (DERPPort): no reply");
}

static void test_one_answer_means_udp_works(void **state)
{
	(void)state;
	struct dc_udp_evidence ev[] = {silent("1a", "192.0.2.1", 3478), {.name = "2a", .addr = endpoint_of("192.0.2.2", 3478),
									 .status = DC_PROBE_OK}};
	struct dc_udp_summary s;
	char text[400], hint[400];
	text_of(ev, 2, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_WORKS);
	assert_string_equal(text, "UDP works: 1 of 2 STUN servers asked answered");
	assert_string_equal(hint, "");
}

static void test_silent_node_among_answering_ones_is_named_so(void **state)
{
	(void)state;
	struct dc_udp_evidence e = silent("900b", "192.0.2.2", 38893);
	char why[600];
	dc_udp_failure_text(&e, true, why, sizeof(why));
	assert_string_equal(why, "no reply on UDP 38893 (3 requests in 3000ms, no ICMP error) while other nodes answer: "
				 "this node's STUN is down, or UDP 38893 is filtered on its side");
	dc_udp_failure_text(&e, false, why, sizeof(why));
	assert_string_equal(why, "no reply on UDP 38893 (3 requests in 3000ms, no ICMP error)");
}

static void test_closed_port_says_who_answered_and_which_ports_were_tried(void **state)
{
	(void)state;
	struct dc_stun_guess g = {.addr = endpoint_of("192.0.2.2", 38893), .nports = 3, .ran = true, .answered = -1};
	g.ports[0] = (struct dc_stun_guess_port){.port = 3478, .why = DC_GUESS_DEFAULT, .status = DC_PROBE_UNREACHABLE,
						 .port_closed = true, .icmp_from = endpoint_of("192.0.2.2", 0)};
	g.ports[1] = (struct dc_stun_guess_port){.port = 443, .why = DC_GUESS_DERP_PORT, .status = DC_PROBE_UNREACHABLE,
						 .port_closed = true, .icmp_from = endpoint_of("198.51.100.1", 0)};
	g.ports[2] = (struct dc_stun_guess_port){.port = 38894, .why = DC_GUESS_OTHER_NODE | DC_GUESS_USER,
						 .other_node = "900a", .status = DC_PROBE_TIMEOUT};
	struct dc_udp_evidence e = closed("900b", "192.0.2.2", 38893);
	e.guess = &g;
	char why[600], tried[600];
	dc_udp_failure_text(&e, true, why, sizeof(why));
	assert_string_equal(why, "STUN port 38893 is closed: ICMP port unreachable from 192.0.2.2 (UDP reaches the host, "
				 "nothing listens there); none of 3478, 443 and 38894 answered either");
	dc_stun_guess_tried(&g, tried, sizeof(tried));
	assert_string_equal(tried, "3478 (default STUN port): closed (ICMP port unreachable); 443 (DERPPort): closed (ICMP "
				   "port unreachable from 198.51.100.1); 38894 (900a's STUNPort, --stun-port-guess): no reply "
				   "(perhaps ICMP rate limiting)");
}

static void test_port_unreachable_from_a_middlebox_is_a_rejecting_firewall(void **state)
{
	(void)state;
	struct dc_udp_evidence e = closed("900b", "192.0.2.2", 38893);
	e.icmp_from = endpoint_of("198.51.100.1", 0);
	char why[600];
	dc_udp_failure_text(&e, false, why, sizeof(why));
	assert_string_equal(why, "UDP 38893 is rejected on the way: ICMP port unreachable from 198.51.100.1, not from the "
				 "node (a firewall that rejects)");
}

static void test_other_icmp_errors_and_local_refusals(void **state)
{
	(void)state;
	struct dc_udp_evidence e = {.name = "1a", .addr = endpoint_of("192.0.2.1", 3478), .status = DC_PROBE_UNREACHABLE,
				    .detail = "ICMP administratively prohibited (a firewall rejected it) from 192.0.2.254"};
	struct dc_udp_summary s;
	char text[400], hint[400];
	text_of(&e, 1, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_REJECTED);
	assert_string_equal(text, "no STUN server answered, and ICMP errors came back instead: ICMP administratively "
				  "prohibited (a firewall rejected it) from 192.0.2.254 for 192.0.2.1:3478 (1a)");
	assert_string_equal(hint, "a firewall or router on the way rejects UDP to the STUN port 3478: allow outbound UDP "
				  "there (and to peers; tailscaled uses 41641)");
	e = (struct dc_udp_evidence){.name = "1a", .addr = endpoint_of("192.0.2.1", 3478), .status = DC_PROBE_SEND_FAILED,
				     .detail = "sending to 192.0.2.1:3478 failed: Operation not permitted"};
	text_of(&e, 1, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_SEND_FAILED);
	assert_string_equal(text, "this machine refused to send UDP: sending to 192.0.2.1:3478 failed: Operation not "
				  "permitted");
	assert_string_equal(hint, "a firewall rule on this machine rejects outgoing UDP (see 'nft list ruleset' or "
				  "'iptables -S OUTPUT'): allow UDP to the STUN port 3478 and to peers (tailscaled uses "
				  "41641)");
	text_of(NULL, 0, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(s.verdict, DC_UDP_NOT_PROBED);
}

static void test_wrong_port_names_both_ports_and_both_fixes(void **state)
{
	(void)state;
	char cause[300], fix[300];
	dc_udp_wrong_port_text(3478, 38893, "no reply", cause, sizeof(cause), fix, sizeof(fix));
	assert_string_equal(cause, "STUN answers on 3478, not on 38893 (38893: no reply): clients ask the map's port and get "
				   "nothing; typical of a forwarding from host port 3478 to container port 38893");
	assert_string_equal(fix, "set STUNPort to 3478 in the derpMap, or publish 38893/udp");
}

static void test_texts_are_cut_not_overflowed(void **state)
{
	(void)state;
	char cause[16], fix[8];
	dc_udp_wrong_port_text(3478, 38893, "no reply", cause, sizeof(cause), fix, sizeof(fix));
	assert_int_equal(strlen(cause), 15);
	assert_int_equal(strlen(fix), 7);
	struct dc_udp_evidence ev[] = {silent("1a", "192.0.2.1", 38893)};
	struct dc_udp_summary s;
	char text[20], hint[10];
	text_of(ev, 1, text, sizeof(text), hint, sizeof(hint), &s);
	assert_int_equal(strlen(text), 19);
	assert_int_equal(strlen(hint), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_back_anywhere_is_no_udp_with_the_maps_ports),
		cmocka_unit_test(test_port_unreachable_means_udp_gets_through),
		cmocka_unit_test(test_an_answer_on_another_port_beats_everything_but_an_answer),
		cmocka_unit_test(test_one_answer_means_udp_works),
		cmocka_unit_test(test_silent_node_among_answering_ones_is_named_so),
		cmocka_unit_test(test_closed_port_says_who_answered_and_which_ports_were_tried),
		cmocka_unit_test(test_port_unreachable_from_a_middlebox_is_a_rejecting_firewall),
		cmocka_unit_test(test_other_icmp_errors_and_local_refusals),
		cmocka_unit_test(test_wrong_port_names_both_ports_and_both_fixes),
		cmocka_unit_test(test_texts_are_cut_not_overflowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
