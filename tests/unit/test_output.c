/*
 * The one printer: findings as "FILE:LINE:COL: severity: PATH: message" plus a hint line,
 * as a JSON array for scripts, and the per-file summary of `derpcheck validate`.
 */
#include "testlib.h"

#include <cjson/cJSON.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output.h"
#include "derpcheck/judge/validate.h"

/* Capture what a printer writes. */
struct capture {
	FILE *out;
	char *text;
	size_t len;
};

static void capture_start(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->out = open_memstream(&c->text, &c->len);
	assert_non_null(c->out);
}

static char *capture_end(struct capture *c)
{
	fclose(c->out);
	return c->text;
}

static void two_findings(struct dc_findings *f)
{
	memset(f, 0, sizeof(*f));
	f->file = "policy.hujson";
	struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "hostname-has-port", "derpMap.Regions.900.Nodes[0].HostName",
					       (struct dc_srcpos){12, 21}, "HostName \"a:1\" includes a port");
	dc_finding_hint(x, "write \"HostName\": \"a\"");
	dc_findings_add(f, DC_SEV_WARNING, "single-region", "", (struct dc_srcpos){0, 0}, "one region");
}

static void test_text_findings_have_file_position_severity_path_message_and_hint(void **state)
{
	(void)state;
	struct dc_findings f;
	two_findings(&f);
	struct capture c;
	capture_start(&c);
	struct dc_style plain = {.color = false};
	dc_output_findings_text(c.out, &f, &plain);
	char *text = capture_end(&c);
	assert_string_equal(text,
			    "policy.hujson:12:21: error: derpMap.Regions.900.Nodes[0].HostName: HostName \"a:1\" includes a port\n"
			    "  hint: write \"HostName\": \"a\"\n"
			    "policy.hujson: warning: one region\n");
	free(text);
	dc_findings_free(&f);
}

static void test_text_findings_in_colour_use_ansi_escapes(void **state)
{
	(void)state;
	struct dc_findings f;
	two_findings(&f);
	struct capture c;
	capture_start(&c);
	struct dc_style color = {.color = true};
	dc_output_findings_text(c.out, &f, &color);
	char *text = capture_end(&c);
	assert_contains(text, "\033[1;31merror\033[0m");
	assert_contains(text, "\033[1;33mwarning\033[0m");
	assert_contains(text, "\033[36mhint:\033[0m");
	free(text);
	dc_findings_free(&f);
}

static void test_text_findings_without_a_style_are_plain(void **state)
{
	(void)state;
	struct dc_findings f;
	two_findings(&f);
	struct capture c;
	capture_start(&c);
	dc_output_findings_text(c.out, &f, NULL);
	char *text = capture_end(&c);
	assert_null(strchr(text, '\033'));
	free(text);
	dc_findings_free(&f);
}

static void test_json_findings_are_an_array_of_objects(void **state)
{
	(void)state;
	struct dc_findings f;
	two_findings(&f);
	struct capture c;
	capture_start(&c);
	dc_output_findings_json(c.out, &f);
	char *text = capture_end(&c);
	cJSON *arr = cJSON_Parse(text);
	assert_non_null(arr);
	assert_true(cJSON_IsArray(arr));
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	cJSON *o = cJSON_GetArrayItem(arr, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "file")->valuestring, "policy.hujson");
	assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "error");
	assert_string_equal(cJSON_GetObjectItem(o, "code")->valuestring, "hostname-has-port");
	assert_string_equal(cJSON_GetObjectItem(o, "path")->valuestring, "derpMap.Regions.900.Nodes[0].HostName");
	assert_int_equal(cJSON_GetObjectItem(o, "line")->valueint, 12);
	assert_int_equal(cJSON_GetObjectItem(o, "column")->valueint, 21);
	assert_string_equal(cJSON_GetObjectItem(o, "message")->valuestring, "HostName \"a:1\" includes a port");
	assert_string_equal(cJSON_GetObjectItem(o, "hint")->valuestring, "write \"HostName\": \"a\"");
	o = cJSON_GetArrayItem(arr, 1);
	assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "warning");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "hint")));
	assert_int_equal(cJSON_GetObjectItem(o, "line")->valueint, 0);
	cJSON_Delete(arr);
	free(text);
	dc_findings_free(&f);
}

static void test_json_of_no_findings_is_an_empty_array(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	struct capture c;
	capture_start(&c);
	dc_output_findings_json(c.out, &f);
	char *text = capture_end(&c);
	cJSON *arr = cJSON_Parse(text);
	assert_non_null(arr);
	assert_int_equal(cJSON_GetArraySize(arr), 0);
	cJSON_Delete(arr);
	free(text);
}

static void test_json_escapes_control_characters_and_quotes(void **state)
{
	(void)state;
	struct dc_findings f = {0};
	dc_findings_add(&f, DC_SEV_ERROR, "x", "a\"b", (struct dc_srcpos){1, 1}, "tab\there\nnewline \\ \x01");
	struct capture c;
	capture_start(&c);
	dc_output_findings_json(c.out, &f);
	char *text = capture_end(&c);
	cJSON *arr = cJSON_Parse(text);
	assert_non_null(arr);
	cJSON *o = cJSON_GetArrayItem(arr, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "message")->valuestring, "tab\there\nnewline \\ \x01");
	assert_string_equal(cJSON_GetObjectItem(o, "path")->valuestring, "a\"b");
	cJSON_Delete(arr);
	free(text);
	dc_findings_free(&f);
}

/* ---- the validate summary ---------------------------------------------------------------- */

static char *summary_of(const char *squoted_text, const struct dc_style *st)
{
	char *text = dq(squoted_text);
	struct dc_map_doc doc;
	memset(&doc, 0, sizeof(doc));
	doc.text.name = dc_xstrdup("map.json");
	doc.text.text = text;
	doc.text.len = strlen(text);
	doc.text.source = DC_MAP_SOURCE_FILE;
	dc_map_doc_parse(&doc);
	struct dc_derpmap defaults;
	assert_int_equal(dc_map_defaults(&defaults), 0);
	struct dc_derpmap effective = {0};
	struct dc_merge_summary merge = {0};
	bool merged = false;
	if (doc.decoded) {
		dc_validate(&doc.map, &defaults, &doc.findings);
		if (doc.map.shape == DC_SHAPE_POLICY) {
			dc_derpmap_merge(&doc.map, &defaults, &effective, &merge);
			merged = true;
		}
	}
	struct dc_validate_result r = {
		.doc = &doc,
		.effective = merged ? &effective : doc.decoded && doc.map.shape == DC_SHAPE_DERPMAP ? &doc.map : NULL,
		.merge = merged ? &merge : NULL,
		.defaults = &defaults,
		.errors = dc_findings_count(&doc.findings, DC_SEV_ERROR),
		.warnings = dc_findings_count(&doc.findings, DC_SEV_WARNING),
	};
	struct capture c;
	capture_start(&c);
	dc_output_validate_summary(c.out, &r, st);
	char *out = capture_end(&c);
	if (merged) {
		dc_derpmap_free(&effective);
		dc_merge_summary_free(&merge);
	}
	dc_derpmap_free(&defaults);
	dc_map_doc_free(&doc);
	return out;
}

#define CLEAN_900                                                                                      \
	"'900': {'RegionID': 900, 'RegionCode': 'home', 'RegionName': 'Home', 'Nodes': [{'Name': '900a'," \
	" 'RegionID': 900, 'HostName': 'derp.example.com', 'IPv4': '203.0.113.10', 'IPv6': 'none', 'DERPPort': 8443}]}"

static void test_summary_of_a_clean_policy_says_what_clients_get(void **state)
{
	(void)state;
	struct dc_style plain = {0};
	char *out = summary_of("{'derpMap': {'Regions': {'1': null, " CLEAN_900 "}}}", &plain);
	assert_contains(out, "map.json:");
	assert_contains(out, "valid policy file");
	assert_contains(out, "no problems found\n");
	assert_contains(out, "  clients use 28 regions with 84 nodes\n");
	assert_contains(out, "  Tailscale's default regions: 27 kept\n");
	assert_contains(out, "  removed with null: 1 (nyc)\n");
	assert_contains(out, "  your regions: 1\n");
	assert_contains(out, "    900 home \"Home\": 1 node\n");
	assert_contains(out, "      900a derp.example.com IPv4 203.0.113.10 IPv6 off, DERP tcp/8443, STUN udp/3478\n");
	free(out);
}

static void test_summary_with_errors_gives_the_counts_only(void **state)
{
	(void)state;
	struct dc_style plain = {0};
	char *out = summary_of("{'Regions': {'900': {'RegionID': 901}}}", &plain);
	assert_contains(out, "map.json: 2 errors, 2 warnings\n");
	assert_null(strstr(out, "clients use"));
	free(out);
}

static void test_summary_of_a_policy_without_derpmap_mentions_the_defaults(void **state)
{
	(void)state;
	struct dc_style plain = {0};
	char *out = summary_of("{'acls': []}", &plain);
	assert_contains(out, "valid policy file without derpMap");
	assert_contains(out, "  clients use Tailscale's default DERP map\n");
	assert_null(strstr(out, "regions with"));
	free(out);
}

static void test_quiet_summary_of_a_clean_map_is_silent(void **state)
{
	(void)state;
	struct dc_style quiet = {.quiet = true};
	char *out = summary_of("{'derpMap': {'Regions': {" CLEAN_900 "}}}", &quiet);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_findings_have_file_position_severity_path_message_and_hint),
		cmocka_unit_test(test_text_findings_in_colour_use_ansi_escapes),
		cmocka_unit_test(test_text_findings_without_a_style_are_plain),
		cmocka_unit_test(test_json_findings_are_an_array_of_objects),
		cmocka_unit_test(test_json_of_no_findings_is_an_empty_array),
		cmocka_unit_test(test_json_escapes_control_characters_and_quotes),
		cmocka_unit_test(test_summary_of_a_clean_policy_says_what_clients_get),
		cmocka_unit_test(test_summary_with_errors_gives_the_counts_only),
		cmocka_unit_test(test_summary_of_a_policy_without_derpmap_mentions_the_defaults),
		cmocka_unit_test(test_quiet_summary_of_a_clean_map_is_silent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
