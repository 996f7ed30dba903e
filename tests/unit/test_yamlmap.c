/*
 * A Headscale derp.paths file decoded the way Headscale's yaml.v3 reads it into
 * tailcfg.DERPMap: every rule of the YAML dialect fires on its file and stays quiet on
 * the near-identical one, at the exact line:col, with a fix in YAML syntax.
 */
#include "testlib.h"

#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/validate.h"

/* Parse text as a YAML DERP map (the derp.paths format) and validate it. */
static void load_yaml_map(const char *text, struct dc_map_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	doc->text.source = DC_MAP_SOURCE_FILE;
	doc->text.name = dc_xstrdup("derp.yaml");
	doc->text.text = dc_xstrdup(text);
	doc->text.len = strlen(text);
	struct dc_fetch_opts opts = {.format = DC_MAP_FORMAT_YAML, .no_other_sources = true};
	dc_map_doc_parse_with(doc, &opts);
	if (doc->decoded)
		dc_validate(&doc->map, NULL, &doc->findings);
}

static const struct dc_finding *doc_finding(const struct dc_map_doc *doc, const char *code)
{
	for (size_t i = 0; i < doc->findings.count; i++)
		if (strcmp(doc->findings.items[i].code, code) == 0)
			return &doc->findings.items[i];
	return NULL;
}

#define NODE_OK "        regionid: 900\n        hostname: derp.example.com\n        ipv4: 5.6.7.9\n        ipv6: none\n"
#define REGION_HEAD "regions:\n  900:\n    regionid: 900\n    regioncode: myvps\n    nodes:\n      - name: 900a\n"

struct rule_case {
	const char *code;
	const char *fires;  /* YAML that makes the rule fire */
	const char *quiet;  /* the same file, corrected */
	unsigned line, col; /* where the finding points in fires */
	const char *hint;   /* a part of the fix */
};

static const struct rule_case cases[] = {
	{"headscale-yaml-key-case", REGION_HEAD "        RegionID: 900\n        hostname: derp.example.com\n        ipv4: 5.6.7.9\n        ipv6: none\n",
	 REGION_HEAD NODE_OK, 7, 9, "write regionid: 900"},
	{"headscale-yaml-key-case", "regions:\n  900:\n    regionid: 900\n    RegionCode: myvps\n    nodes:\n      - name: 900a\n" NODE_OK,
	 REGION_HEAD NODE_OK, 4, 5, "write regioncode: myvps"},
	{"yaml-duplicate-key", REGION_HEAD NODE_OK "        ipv4: 5.6.7.10\n", REGION_HEAD NODE_OK, 11, 9,
	 "delete one of the two entries"},
	{"yaml-implicit-type", REGION_HEAD NODE_OK "        derpport: 0443\n", REGION_HEAD NODE_OK "        derpport: 443\n",
	 11, 19, "drop the leading zero"},
	{"yaml-implicit-type", REGION_HEAD NODE_OK "        stunport: 3478.5\n", REGION_HEAD NODE_OK "        stunport: 3478\n",
	 11, 19, "whole number"},
	{"yaml-implicit-type", REGION_HEAD NODE_OK "        canport80: yes\n", REGION_HEAD NODE_OK "        canport80: true\n",
	 11, 20, "write true"},
	{"wrong-type", REGION_HEAD NODE_OK "        stunport: \"3478\"\n", REGION_HEAD NODE_OK "        stunport: 3478\n", 11, 19,
	 "write the number without quotes: 3478"},
	{"wrong-type", REGION_HEAD NODE_OK "        stunonly: \"false\"\n", REGION_HEAD NODE_OK "        stunonly: false\n", 11, 19,
	 "without quotes"},
	{"region-key-not-integer", "regions:\n  \"900\":\n    regionid: 900\n    regioncode: myvps\n    nodes:\n      - name: 900a\n" NODE_OK,
	 REGION_HEAD NODE_OK, 2, 3, "write the region ID without quotes: 900:"},
	{"not-a-derpmap", "derpMap:\n  regions:\n    900:\n      regionid: 900\n", REGION_HEAD NODE_OK, 1, 1,
	 "remove the derpMap: level"},
	{"unknown-field", REGION_HEAD NODE_OK "        derport: 443\n", REGION_HEAD NODE_OK "        derpport: 443\n", 11, 9,
	 "did you mean \"derpport\"?"},
	{"hostname-is-url", "regions:\n  900:\n    regionid: 900\n    regioncode: myvps\n    nodes:\n      - name: 900a\n        regionid: 900\n        hostname: https://derp.example.com:8443\n        ipv4: 5.6.7.9\n        ipv6: none\n",
	 REGION_HEAD NODE_OK "        derpport: 8443\n", 8, 19, "write hostname: derp.example.com and derpport: 8443"},
	{"node-region-id-missing", REGION_HEAD "        hostname: derp.example.com\n        ipv4: 5.6.7.9\n        ipv6: none\n", REGION_HEAD NODE_OK,
	 6, 9, "add regionid: 900 to the node"},
	{"yaml-alias", "n: &n {regionid: 900, ipv6: none}\n" REGION_HEAD "        <<: *n\n        hostname: derp.example.com\n        ipv4: 5.6.7.9\n",
	 "n: {regionid: 900, ipv6: none}\n" REGION_HEAD NODE_OK, 8, 13, "write the value out where it must differ"},
	{"yaml-extra-document", REGION_HEAD NODE_OK "---\nregions: {}\n", REGION_HEAD NODE_OK, 11, 1, "remove the --- line"},
	{"yaml-tag", REGION_HEAD NODE_OK "        derpport: !!int 443\n", REGION_HEAD NODE_OK "        derpport: 443\n", 11, 19,
	 "remove the tag"},
	{"yaml-tab", "regions:\n  900:\n\tregionid: 900\n", REGION_HEAD NODE_OK, 3, 1, "replace the tab at 3:1 with spaces"},
};

static void test_every_yaml_rule_fires_on_its_file_and_not_on_the_corrected_one(void **state)
{
	(void)state;
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		const struct rule_case *rc = &cases[i];
		struct dc_map_doc doc;
		load_yaml_map(rc->fires, &doc);
		const struct dc_finding *f = doc_finding(&doc, rc->code);
		if (!f) {
			dump_findings(&doc.findings);
			fail_msg("case %zu: %s did not fire on:\n%s", i, rc->code, rc->fires);
		}
		if (f->pos.line != rc->line || f->pos.col != rc->col)
			fail_msg("case %zu: %s at %u:%u, want %u:%u", i, rc->code, f->pos.line, f->pos.col, rc->line, rc->col);
		if (!f->hint || !strstr(f->hint, rc->hint))
			fail_msg("case %zu: %s hint \"%s\" lacks \"%s\"", i, rc->code, f->hint ? f->hint : "(none)", rc->hint);
		dc_map_doc_free(&doc);
		load_yaml_map(rc->quiet, &doc);
		if (doc_finding(&doc, rc->code)) {
			dump_findings(&doc.findings);
			fail_msg("case %zu: %s fired on the corrected file:\n%s", i, rc->code, rc->quiet);
		}
		dc_map_doc_free(&doc);
	}
}

static void test_lower_case_keys_decode_every_field(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_yaml_map("regions:\n  900:\n    regionid: 900\n    regioncode: myvps\n    regionname: My VPS\n"
		      "    latitude: 1.5\n    nomeasurenohome: false\n    nodes:\n      - name: 900a\n        regionid: 900\n"
		      "        hostname: derp.example.com\n        certname: derp.example.com\n        ipv4: 5.6.7.9\n"
		      "        ipv6: none\n        stunport: 38893\n        stunonly: false\n        derpport: 38894\n"
		      "        canport80: true\n",
		      &doc);
	assert_true(doc.decoded);
	assert_int_equal(doc.map.shape, DC_SHAPE_YAML);
	const struct dc_derp_region *r = dc_derpmap_region(&doc.map, 900);
	assert_non_null(r);
	assert_string_equal(r->code, "myvps");
	assert_string_equal(r->name, "My VPS");
	assert_true(r->latitude == 1.5);
	assert_int_equal(r->dialect, DC_DIALECT_YAML);
	assert_int_equal(r->node_count, 1);
	assert_int_equal(r->nodes[0].stun_port, 38893);
	assert_int_equal(r->nodes[0].derp_port, 38894);
	assert_true(r->nodes[0].can_port80);
	assert_string_equal(r->nodes[0].path, "regions.900.nodes[0]");
	dc_map_doc_free(&doc);
}

/* yaml.v3 stores a plain scalar's text as written into a string field: 0900 stays "0900". */
static void test_string_fields_keep_plain_numbers_as_written(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_yaml_map(REGION_HEAD NODE_OK "        certname: 0900\n", &doc);
	const struct dc_derp_region *r = dc_derpmap_region(&doc.map, 900);
	assert_string_equal(r->nodes[0].cert_name, "0900");
	assert_null(doc_finding(&doc, "wrong-type"));
	dc_map_doc_free(&doc);
}

static void test_null_region_is_removed_and_empty_file_has_no_regions(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_yaml_map("regions:\n  1: null\n", &doc);
	const struct dc_derp_region *r = dc_derpmap_region(&doc.map, 1);
	assert_non_null(r);
	assert_true(r->removed);
	dc_map_doc_free(&doc);
	load_yaml_map("# nothing yet\n", &doc);
	assert_true(doc.decoded);
	assert_int_equal(doc.map.region_count, 0);
	dc_map_doc_free(&doc);
}

static void test_octal_region_key_is_named(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_yaml_map("regions:\n  01604:\n    regionid: 900\n", &doc);
	/* 01604 is octal 900: the key resolves to 900, and the spelling is reported. */
	assert_non_null(dc_derpmap_region(&doc.map, 900));
	const struct dc_finding *f = doc_finding(&doc, "yaml-implicit-type");
	assert_non_null(f);
	assert_int_equal(f->pos.line, 2);
	assert_int_equal(f->pos.col, 3);
	dc_map_doc_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_yaml_rule_fires_on_its_file_and_not_on_the_corrected_one),
		cmocka_unit_test(test_lower_case_keys_decode_every_field),
		cmocka_unit_test(test_string_fields_keep_plain_numbers_as_written),
		cmocka_unit_test(test_null_region_is_removed_and_empty_file_has_no_regions),
		cmocka_unit_test(test_octal_region_key_is_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
