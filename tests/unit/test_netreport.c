/* The netcheck report renders exactly like `tailscale netcheck` (protocols.md §3.3, §3.8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/output/netreport.h"

static void duration(int64_t ns, const char *want)
{
	char got[32];
	dc_duration_string(ns, got, sizeof(got));
	assert_string_equal(got, want);
}

static void test_latencies_print_like_go_rounded_to_a_tenth_of_a_millisecond(void **state)
{
	(void)state;
	duration(5234567, "5.2ms");
	duration(11400000, "11.4ms");
	duration(20000000, "20ms");
	duration(849999, "800µs");
	duration(850000, "900µs");
	duration(1500000000, "1.5s");
	duration(20000, "0s");
}

static void test_latency_map_keeps_the_minimum(void **state)
{
	(void)state;
	struct dc_latency_map m = {0};
	dc_latency_map_add(&m, 900, 30);
	dc_latency_map_add(&m, 900, 20);
	dc_latency_map_add(&m, 900, 25);
	int64_t ns;
	assert_true(dc_latency_map_get(&m, 900, &ns));
	assert_int_equal(ns, 20);
	assert_false(dc_latency_map_get(&m, 901, NULL));
	free(m.items);
}

/* Three regions: two measured, one not; codes padded to 3 columns. */
static const char map_text[] =
	"{\"Regions\": {"
	"\"1\": {\"RegionID\": 1, \"RegionCode\": \"fra\", \"RegionName\": \"Frankfurt\", \"Nodes\": []},"
	"\"2\": {\"RegionID\": 2, \"RegionCode\": \"ams\", \"RegionName\": \"Amsterdam\", \"Nodes\": []},"
	"\"10\": {\"RegionID\": 10, \"RegionCode\": \"ny\", \"RegionName\": \"New York City\", \"Nodes\": []}}}";

static void load_map(struct dc_map_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	doc->text.name = dc_xstrdup("test");
	doc->text.text = dc_xstrdup(map_text);
	doc->text.len = strlen(map_text);
	dc_map_doc_parse(doc);
	assert_true(doc->decoded);
}

static struct dc_netreport sample(void)
{
	struct dc_netreport r;
	dc_netreport_init(&r);
	r.now.tv_sec = 1787411045; /* 2026-08-22 15:04:05 UTC */
	r.now.tv_nsec = 120000000;
	r.udp = r.ipv4 = r.ipv4_can_send = true;
	r.os_has_ipv6 = true;
	r.mapping_varies_by_dest_ip = DC_OPT_FALSE;
	r.portmap_checked = true;
	r.upnp = DC_OPT_TRUE;
	r.pmp = DC_OPT_TRUE;
	r.pcp = DC_OPT_FALSE;
	r.captive_portal = DC_OPT_FALSE;
	r.preferred_derp = 1;
	dc_latency_map_add(&r.latency, 1, 5234567);
	dc_latency_map_add(&r.latency, 2, 11400000);
	dc_latency_map_add(&r.v4_latency, 1, 5234567);
	dc_latency_map_add(&r.v4_latency, 2, 11400000);
	dc_mapping_counts_add(&r.v4_counts, "203.0.113.5:41641");
	dc_mapping_counts_add(&r.v4_counts, "203.0.113.5:41641");
	snprintf(r.global_v4, sizeof(r.global_v4), "203.0.113.5:41641");
	return r;
}

static char *render_text(const struct dc_netreport *r, const struct dc_derpmap *map, bool verbose)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	dc_netreport_print_text(out, r, map, verbose);
	fclose(out);
	return buf;
}

static void test_text_report_matches_tailscale_netcheck(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	struct dc_map_doc doc;
	load_map(&doc);
	struct dc_netreport r = sample();
	char *text = render_text(&r, &doc.map, false);
	assert_string_equal(text, "\nReport:\n"
				  "\t* Time: 2026-08-22 15:04:05.12Z\n"
				  "\t* UDP: true\n"
				  "\t* IPv4: yes, 203.0.113.5:41641\n"
				  "\t* IPv6: no, but OS has support\n"
				  "\t* MappingVariesByDestIP: false\n"
				  "\t* PortMapping: UPnP, NAT-PMP\n"
				  "\t* CaptivePortal: false\n"
				  "\t* Nearest DERP: Frankfurt\n"
				  "\t* DERP latency:\n"
				  "\t\t- fra: 5.2ms   (Frankfurt)\n"
				  "\t\t- ams: 11.4ms  (Amsterdam)\n"
				  "\t\t-  ny:         (New York City)\n");
	free(text);
	text = render_text(&r, &doc.map, true);
	assert_non_null(strstr(text, "\t\t- fra: 5.2ms   (derp1, Frankfurt)\n"));
	free(text);
	dc_netreport_free(&r);
	dc_map_doc_free(&doc);
}

static void test_text_report_without_latency_or_checks(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	struct dc_map_doc doc;
	load_map(&doc);
	struct dc_netreport r;
	dc_netreport_init(&r);
	r.now.tv_sec = 1787411045;
	r.now.tv_nsec = 0;
	char *text = render_text(&r, &doc.map, false);
	assert_string_equal(text, "\nReport:\n"
				  "\t* Time: 2026-08-22 15:04:05Z\n"
				  "\t* UDP: false\n"
				  "\t* IPv4: (no addr found)\n"
				  "\t* IPv6: no, unavailable in OS\n"
				  "\t* MappingVariesByDestIP: \n"
				  "\t* PortMapping: not checked\n"
				  "\t* Nearest DERP: unknown (no response to latency probes)\n");
	free(text);
	/* A home region that is not in the map is named by ID (tailscale#17564). */
	dc_latency_map_add(&r.latency, 77, 1000000);
	r.preferred_derp = 77;
	text = render_text(&r, &doc.map, false);
	assert_non_null(strstr(text, "\t* Nearest DERP: 77 (region not found in map)\n"));
	free(text);
	dc_netreport_free(&r);
	dc_map_doc_free(&doc);
}

static void test_json_uses_go_field_order_and_string_sorted_keys(void **state)
{
	(void)state;
	struct dc_netreport r = sample();
	dc_latency_map_add(&r.latency, 10, 30000000);
	char *json = dc_netreport_json(&r, true);
	assert_string_equal(json,
			    "{\"Now\":\"2026-08-22T15:04:05.12Z\",\"UDP\":true,\"IPv6\":false,\"IPv4\":true,"
			    "\"IPv6CanSend\":false,\"IPv4CanSend\":true,\"OSHasIPv6\":true,\"ICMPv4\":false,"
			    "\"MappingVariesByDestIP\":false,\"UPnP\":true,\"PMP\":true,\"PCP\":false,\"PreferredDERP\":1,"
			    "\"RegionLatency\":{\"1\":5234567,\"10\":30000000,\"2\":11400000},"
			    "\"RegionV4Latency\":{\"1\":5234567,\"2\":11400000},\"RegionV6Latency\":{},"
			    "\"GlobalV4Counters\":{\"203.0.113.5:41641\":2},\"GlobalV6Counters\":null,"
			    "\"GlobalV4\":\"203.0.113.5:41641\",\"GlobalV6\":\"\",\"CaptivePortal\":false}");
	free(json);
	dc_netreport_free(&r);
}

static void test_json_unknown_checks_are_null(void **state)
{
	(void)state;
	struct dc_netreport r;
	dc_netreport_init(&r);
	char *json = dc_netreport_json(&r, false);
	assert_non_null(strstr(json, "\"MappingVariesByDestIP\":\tnull"));
	assert_non_null(strstr(json, "\"UPnP\":\tnull"));
	assert_non_null(strstr(json, "\"CaptivePortal\":\tnull"));
	free(json);
	dc_netreport_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latencies_print_like_go_rounded_to_a_tenth_of_a_millisecond),
		cmocka_unit_test(test_latency_map_keeps_the_minimum),
		cmocka_unit_test(test_text_report_matches_tailscale_netcheck),
		cmocka_unit_test(test_text_report_without_latency_or_checks),
		cmocka_unit_test(test_json_uses_go_field_order_and_string_sorted_keys),
		cmocka_unit_test(test_json_unknown_checks_are_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
