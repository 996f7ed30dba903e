/*
 * dc_derpmap_decode reads a parsed document the way Tailscale's Go code does, and
 * reports what Go would silently accept or reject. Plus the effective-value helpers and
 * dc_derpmap_merge. Inputs use 'single quotes' (see dq in testlib.h).
 */
#include "testlib.h"

#include "derpcheck/input/derpmap.h"

/* One well-formed node and region, to vary one field at a time. */
#define NODE_900A "{'Name': '900a', 'RegionID': 900, 'HostName': 'derp.example.com', 'IPv4': '203.0.113.10', 'IPv6': 'none'}"
#define REGION_900 "{'RegionID': 900, 'RegionCode': 'home', 'Nodes': [" NODE_900A "]}"

static const struct dc_derp_node *node0(const struct decoded *d)
{
	const struct dc_derp_region *r = dc_derpmap_region(&d->map, 900);
	assert_non_null(r);
	assert_true(r->node_count >= 1);
	return &r->nodes[0];
}

/* A bare map whose region 900 has one node with these fields. */
static void decode_node(const char *node_fields, struct decoded *d)
{
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{'Regions': {'900': {'RegionID': 900, 'Nodes': [{%s}]}}}", node_fields);
	decode_text(b.data, d);
	dc_buf_free(&b);
}

/* ---- shapes ------------------------------------------------------------------- */

static void test_bare_map_has_derpmap_shape(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': " REGION_900 "}}", &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.map.shape, DC_SHAPE_DERPMAP);
	assert_string_equal(d.map.path, "");
	assert_true(d.map.has_regions);
	assert_int_equal(d.map.region_count, 1);
	assert_string_equal(d.map.regions[0].path, "Regions.900");
	assert_string_equal(d.map.regions[0].nodes[0].path, "Regions.900.Nodes[0]");
	expect_no_findings(&d.findings);
	decoded_free(&d);
}

static void test_policy_file_with_derpmap_has_policy_shape(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'acls': [], 'derpMap': {'Regions': {'900': " REGION_900 "}}}", &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.map.shape, DC_SHAPE_POLICY);
	assert_string_equal(d.map.path, "derpMap");
	assert_int_equal(d.map.region_count, 1);
	assert_string_equal(d.map.regions[0].path, "derpMap.Regions.900");
	assert_string_equal(d.map.regions[0].nodes[0].path, "derpMap.Regions.900.Nodes[0]");
	expect_no_findings(&d.findings);
	decoded_free(&d);
}

static void test_policy_file_without_derpmap_uses_the_defaults(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'acls': [{'action': 'accept', 'src': ['*'], 'dst': ['*:*']}], 'tagOwners': {}}", &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.map.shape, DC_SHAPE_POLICY_NO_MAP);
	assert_int_equal(d.map.region_count, 0);
	expect_no_findings(&d.findings);
	decoded_free(&d);
}

static void test_policy_keys_are_recognised_case_insensitively(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'ACLs': []}", &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.map.shape, DC_SHAPE_POLICY_NO_MAP);
	decoded_free(&d);
}

static void test_policy_file_with_null_derpmap_uses_the_defaults(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpMap': null}", &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.map.shape, DC_SHAPE_POLICY_NO_MAP);
	decoded_free(&d);
}

static void test_object_that_is_neither_map_nor_policy_is_not_a_derpmap(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'hello': 'world'}", &d);
	assert_int_equal(d.rc, -1);
	assert_int_equal(d.findings.count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "not-a-derpmap");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_pos(f->pos, 1, 1);
	assert_non_null(f->hint);
	assert_non_null(d.map.path); /* always safe to free and print */
	decoded_free(&d);
}

static void test_non_object_document_is_not_a_derpmap(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("\n  [1, 2]", &d);
	assert_int_equal(d.rc, -1);
	const struct dc_finding *f = expect_code(&d.findings, "not-a-derpmap");
	assert_contains(f->message, "found array");
	assert_pos(f->pos, 2, 3);
	decoded_free(&d);
}

static void test_derpmap_that_is_not_an_object_is_a_type_error(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpMap': ['Regions']}", &d);
	assert_int_equal(d.rc, -1);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "derpMap");
	assert_pos(f->pos, 1, 13);
	decoded_free(&d);
}

static void test_derpmap_key_in_other_case_works_with_a_warning(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpmap': {'Regions': {'900': " REGION_900 "}}}", &d);
	assert_int_equal(d.map.shape, DC_SHAPE_POLICY);
	assert_int_equal(d.map.region_count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "noncanonical-case");
	assert_string_equal(f->path, "derpMap");
	assert_pos(f->pos, 1, 2);
	decoded_free(&d);

	decode_text("{'DERPMap': {'Regions': {}}}", &d);
	assert_int_equal(d.map.shape, DC_SHAPE_POLICY);
	expect_no_findings(&d.findings);
	decoded_free(&d);
}

/* ---- field names ---------------------------------------------------------------- */

static void test_fields_are_read_into_the_model(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': {'RegionID': 900, 'RegionCode': 'home', 'RegionName': 'Home VPS',"
		    " 'Latitude': 52.5, 'Longitude': -13.25, 'Avoid': true, 'NoMeasureNoHome': true,"
		    " 'Nodes': [{'Name': '900a', 'RegionID': 900, 'HostName': 'derp.example.com',"
		    " 'CertName': 'derp.example.com', 'IPv4': '203.0.113.10', 'IPv6': '2001:db8::10',"
		    " 'STUNPort': 3479, 'STUNOnly': true, 'DERPPort': 8443, 'InsecureForTests': true,"
		    " 'STUNTestIP': '198.51.100.1', 'CanPort80': true}]}}}",
		    &d);
	expect_no_findings(&d.findings);
	const struct dc_derp_region *r = &d.map.regions[0];
	assert_int_equal(r->id, 900);
	assert_int_equal(r->region_id, 900);
	assert_string_equal(r->code, "home");
	assert_string_equal(r->name, "Home VPS");
	assert_true(r->latitude == 52.5);
	assert_true(r->longitude == -13.25);
	assert_true(r->avoid);
	assert_true(r->no_measure_no_home);
	assert_int_equal(r->node_count, 1);
	const struct dc_derp_node *n = &r->nodes[0];
	assert_string_equal(n->name, "900a");
	assert_int_equal(n->region_id, 900);
	assert_string_equal(n->host_name, "derp.example.com");
	assert_string_equal(n->cert_name, "derp.example.com");
	assert_string_equal(n->ipv4, "203.0.113.10");
	assert_string_equal(n->ipv6, "2001:db8::10");
	assert_int_equal(n->stun_port, 3479);
	assert_true(n->stun_only);
	assert_int_equal(n->derp_port, 8443);
	assert_true(n->insecure_for_tests);
	assert_string_equal(n->stun_test_ip, "198.51.100.1");
	assert_true(n->can_port80);
	assert_int_equal(n->present, (1u << DC_NODE_NFIELDS) - 1);
	assert_int_equal(r->present, (1u << DC_REGION_NFIELDS) - 1);
	decoded_free(&d);
}

static void test_absent_fields_are_empty_strings_and_zero(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': {'Nodes': [{}]}}}", &d);
	const struct dc_derp_region *r = &d.map.regions[0];
	assert_string_equal(r->code, "");
	assert_string_equal(r->name, "");
	assert_int_equal(r->region_id, 0);
	assert_int_equal(r->present, 1u << DC_REGION_NODES);
	const struct dc_derp_node *n = &r->nodes[0];
	assert_string_equal(n->name, "");
	assert_string_equal(n->host_name, "");
	assert_string_equal(n->cert_name, "");
	assert_string_equal(n->ipv4, "");
	assert_string_equal(n->ipv6, "");
	assert_string_equal(n->stun_test_ip, "");
	assert_int_equal(n->stun_port, 0);
	assert_int_equal(n->derp_port, 0);
	assert_false(n->stun_only);
	assert_int_equal(n->present, 0);
	decoded_free(&d);
}

static void test_field_names_match_case_insensitively_with_a_noncanonical_case_warning(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': '900a', 'derpport': 8443", &d);
	const struct dc_derp_node *n = node0(&d);
	assert_int_equal(n->derp_port, 8443);
	assert_true(DC_NODE_HAS(n, DC_NODE_DERPPORT));
	assert_int_equal(d.findings.count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "noncanonical-case");
	assert_int_equal(f->severity, DC_SEV_WARNING);
	assert_string_equal(f->path, "Regions.900.Nodes[0].DERPPort");
	assert_pos(f->pos, 1, 66); /* the key */
	assert_contains(f->message, "\"derpport\"");
	assert_contains(f->hint, "\"DERPPort\"");
	decoded_free(&d);
}

static void test_noncanonical_case_is_reported_for_region_and_map_fields(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'REGIONS': {'900': {'regionid': 900, 'NODES': []}}}", &d);
	assert_int_equal(d.map.shape, DC_SHAPE_DERPMAP);
	assert_int_equal(d.map.regions[0].region_id, 900);
	assert_int_equal(count_code(&d.findings, "noncanonical-case"), 3);
	assert_string_equal(d.findings.items[0].path, "Regions");
	decoded_free(&d);
}

static void test_camelcase_api_spellings_give_no_warning(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'regions': {'900': {'regionId': 900, 'regionCode': 'home', 'regionName': 'Home',"
		    " 'noMeasureNoHome': false, 'nodes': [{'name': '900a', 'regionId': 900, 'ipv4': '203.0.113.10',"
		    " 'ipv6': 'none', 'stunPort': 3478, 'stunOnly': false, 'derpPort': 443,"
		    " 'insecureForTests': false, 'stunTestIP': '', 'canPort80': false}]}},"
		    " 'homeParams': {'regionScore': {}}, 'OmitDefaultRegions': false}",
		    &d);
	expect_no_findings(&d.findings);
	const struct dc_derp_node *n = node0(&d);
	assert_int_equal(n->region_id, 900);
	assert_int_equal(n->stun_port, 3478);
	assert_string_equal(n->ipv4, "203.0.113.10");
	decoded_free(&d);
}

/* The public API's camelCase spellings "hostName" and "certName" are not warned about. */
static void test_camelcase_hostname_and_certname_give_no_warning(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': '900a', 'hostName': 'derp.example.com', 'certName': 'derp.example.com'", &d);
	assert_string_equal(node0(&d)->host_name, "derp.example.com");
	assert_string_equal(node0(&d)->cert_name, "derp.example.com");
	expect_no_findings(&d.findings);
	decoded_free(&d);
}

static void test_unknown_field_is_a_warning_with_a_did_you_mean_hint(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': '900a', 'HostNmae': 'derp.example.com'", &d);
	assert_string_equal(node0(&d)->host_name, ""); /* ignored, as Go does */
	assert_int_equal(d.findings.count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "unknown-field");
	assert_int_equal(f->severity, DC_SEV_WARNING);
	assert_string_equal(f->path, "Regions.900.Nodes[0].HostNmae");
	assert_pos(f->pos, 1, 66);
	assert_contains(f->message, "unknown node field \"HostNmae\"");
	assert_string_equal(f->hint, "did you mean \"HostName\"?");
	decoded_free(&d);
}

static void test_unknown_field_without_a_close_match_lists_the_fields(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': {'RegionID': 900, 'Colour': 'blue'}}}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "unknown-field");
	assert_string_equal(f->path, "Regions.900.Colour");
	assert_contains(f->message, "unknown region field");
	assert_contains(f->hint, "RegionID, RegionCode, RegionName");
	decoded_free(&d);
}

static void test_unknown_map_field_suggests_the_map_field(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpMap': {'Regions': {}, 'OmitDefaultRegion': true}}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "unknown-field");
	assert_string_equal(f->path, "derpMap.OmitDefaultRegion");
	assert_string_equal(f->hint, "did you mean \"omitDefaultRegions\"?");
	assert_false(d.map.omit_default_regions);
	decoded_free(&d);
}

static void test_mesh_key_in_a_node_is_a_secret_in_map_error(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': '900a', 'meshKey': 'abc'", &d);
	assert_int_equal(d.findings.count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "secret-in-map");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_string_equal(f->path, "Regions.900.Nodes[0].meshKey");
	assert_pos(f->pos, 1, 66);
	assert_contains(f->hint, "rotate the key");
	decoded_free(&d);
}

static void test_mesh_key_spellings_and_places_are_all_secrets(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpMap': {'mesh_key': 'a', 'Regions': {'900': {'MeshPSK': 'b', 'Nodes': [{'mesh-key': 'c'}]}}}}",
		    &d);
	assert_int_equal(count_code(&d.findings, "secret-in-map"), 3);
	expect_no_code(&d.findings, "unknown-field");
	decoded_free(&d);
}

/* ---- regions ------------------------------------------------------------------ */

static void test_null_region_marks_a_default_region_removed(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpMap': {'Regions': {'1': null, '900': " REGION_900 "}}}", &d);
	expect_no_findings(&d.findings);
	assert_int_equal(d.map.region_count, 2);
	const struct dc_derp_region *r = dc_derpmap_region(&d.map, 1);
	assert_non_null(r);
	assert_true(r->removed);
	assert_int_equal(r->node_count, 0);
	assert_string_equal(r->path, "derpMap.Regions.1");
	assert_pos(r->key_at, 1, 26);
	assert_pos(r->at, 1, 31);
	assert_false(dc_derpmap_region(&d.map, 900)->removed);
	decoded_free(&d);
}

static void test_region_keys_that_are_not_integers_are_errors(void **state)
{
	(void)state;
	static const char *const keys[] = {"abc", "9x", "", "1.5", " 900", "0x10", "-"};
	for (size_t i = 0; i < DC_ARRAY_LEN(keys); i++) {
		struct decoded d;
		struct dc_buf b = {0};
		dc_buf_printf(&b, "{'Regions': {'%s': {'RegionID': 1}, '900': " REGION_900 "}}", keys[i]);
		decode_text(b.data, &d);
		dc_buf_free(&b);
		const struct dc_finding *f = expect_code(&d.findings, "region-key-not-integer");
		assert_int_equal(f->severity, DC_SEV_ERROR);
		assert_pos(f->pos, 1, 14);
		assert_int_equal(d.map.region_count, 1); /* skipped; the rest still decodes */
		assert_int_equal(d.map.regions[0].id, 900);
		decoded_free(&d);
	}
}

static void test_region_keys_parse_like_go_strconv(void **state)
{
	(void)state;
	/* strconv.ParseInt accepts a sign and leading zeros. */
	struct decoded d;
	decode_text("{'Regions': {'+901': {}, '0902': {}, '-3': {}}}", &d);
	expect_no_code(&d.findings, "region-key-not-integer");
	assert_int_equal(d.map.region_count, 3);
	assert_int_equal(d.map.regions[0].id, -3);
	assert_int_equal(d.map.regions[1].id, 901);
	assert_int_equal(d.map.regions[2].id, 902);
	decoded_free(&d);
}

static void test_region_key_too_large_for_64_bits_is_an_error(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'99999999999999999999': {}}}", &d);
	expect_code(&d.findings, "region-key-not-integer");
	assert_int_equal(d.map.region_count, 0);
	decoded_free(&d);
}

static void test_regions_are_sorted_by_numeric_id(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': {}, '10': {}, '2': null, '1': {}, '100': {}}}", &d);
	assert_int_equal(d.map.region_count, 5);
	static const int64_t want[] = {1, 2, 10, 100, 900};
	for (size_t i = 0; i < DC_ARRAY_LEN(want); i++)
		assert_int_equal(d.map.regions[i].id, want[i]);
	assert_non_null(dc_derpmap_region(&d.map, 100));
	assert_null(dc_derpmap_region(&d.map, 3));
	decoded_free(&d);
}

static void test_region_that_is_not_an_object_is_a_type_error_and_kept_as_removed(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': 'home'}}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "Regions.900");
	assert_contains(f->message, "a region object or null");
	assert_int_equal(d.map.region_count, 1);
	assert_true(d.map.regions[0].removed);
	decoded_free(&d);
}

static void test_regions_that_is_not_an_object_is_a_type_error(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': [" REGION_900 "]}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "Regions");
	assert_int_equal(d.map.region_count, 0);
	decoded_free(&d);
}

static void test_null_regions_means_no_regions_were_written(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': null}", &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.map.shape, DC_SHAPE_DERPMAP);
	assert_false(d.map.has_regions);
	expect_no_findings(&d.findings);
	decoded_free(&d);
}

static void test_nodes_that_is_not_an_array_is_a_type_error(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': {'RegionID': 900, 'Nodes': {'Name': '900a'}}}}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "Regions.900.Nodes");
	assert_contains(f->message, "an array of nodes");
	assert_false(DC_REGION_HAS(&d.map.regions[0], DC_REGION_NODES));
	decoded_free(&d);
}

static void test_node_that_is_not_an_object_is_a_type_error(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'900': {'Nodes': ['derp.example.com']}}}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "Regions.900.Nodes[0]");
	assert_contains(f->message, "a node object");
	assert_int_equal(d.map.regions[0].node_count, 1);
	assert_string_equal(d.map.regions[0].nodes[0].host_name, "");
	decoded_free(&d);
}

/* ---- types -------------------------------------------------------------------- */

static void test_quoted_number_is_wrong_type_with_a_hint_to_remove_the_quotes(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': '900a', 'STUNPort': '3478'", &d);
	const struct dc_derp_node *n = node0(&d);
	assert_int_equal(n->stun_port, 0);
	assert_false(DC_NODE_HAS(n, DC_NODE_STUNPORT));
	assert_int_equal(d.findings.count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_string_equal(f->path, "Regions.900.Nodes[0].STUNPort");
	assert_pos(f->pos, 1, 78); /* the value */
	assert_string_equal(f->message, "expected an integer, found the string \"3478\"");
	assert_string_equal(f->hint, "write the number without quotes: 3478");
	decoded_free(&d);
}

static void test_quoted_bool_is_wrong_type_with_a_hint_to_remove_the_quotes(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': '900a', 'STUNOnly': 'true'", &d);
	assert_false(node0(&d)->stun_only);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "Regions.900.Nodes[0].STUNOnly");
	assert_string_equal(f->hint, "write true or false without quotes");
	decoded_free(&d);
}

static void test_number_for_a_string_field_is_wrong_type(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': 900", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "Regions.900.Nodes[0].Name");
	assert_string_equal(f->message, "expected a string, found the number 900");
	assert_contains(f->hint, "make it a string");
	assert_string_equal(node0(&d)->name, "");
	decoded_free(&d);
}

static void test_quoted_non_number_for_an_int_field_gets_the_generic_hint(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'DERPPort': 'https'", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_contains(f->hint, "make it an integer");
	decoded_free(&d);
}

static void test_fraction_or_exponent_in_an_int_field_is_not_integer(void **state)
{
	(void)state;
	static const char *const values[] = {"1.5", "1e3", "443.0", "4E2"};
	for (size_t i = 0; i < DC_ARRAY_LEN(values); i++) {
		struct decoded d;
		struct dc_buf b = {0};
		dc_buf_printf(&b, "'DERPPort': %s", values[i]);
		decode_node(b.data, &d);
		dc_buf_free(&b);
		assert_int_equal(d.findings.count, 1);
		const struct dc_finding *f = expect_code(&d.findings, "not-integer");
		assert_int_equal(f->severity, DC_SEV_ERROR);
		assert_string_equal(f->path, "Regions.900.Nodes[0].DERPPort");
		assert_contains(f->message, values[i]);
		assert_false(DC_NODE_HAS(node0(&d), DC_NODE_DERPPORT));
		assert_int_equal(node0(&d)->derp_port, 0);
		decoded_free(&d);
	}
}

static void test_integer_beyond_64_bits_is_out_of_range(void **state)
{
	(void)state;
	static const char *const values[] = {"9223372036854775808", "-9223372036854775809", "99999999999999999999999"};
	for (size_t i = 0; i < DC_ARRAY_LEN(values); i++) {
		struct decoded d;
		struct dc_buf b = {0};
		dc_buf_printf(&b, "'STUNPort': %s", values[i]);
		decode_node(b.data, &d);
		dc_buf_free(&b);
		const struct dc_finding *f = expect_code(&d.findings, "out-of-range");
		assert_int_equal(f->severity, DC_SEV_ERROR);
		assert_string_equal(f->path, "Regions.900.Nodes[0].STUNPort");
		assert_false(DC_NODE_HAS(node0(&d), DC_NODE_STUNPORT));
		decoded_free(&d);
	}
}

static void test_64_bit_extremes_are_in_range(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'STUNPort': -9223372036854775808, 'DERPPort': 9223372036854775807", &d);
	expect_no_findings(&d.findings);
	assert_true(node0(&d)->stun_port == INT64_MIN);
	assert_true(node0(&d)->derp_port == INT64_MAX);
	decoded_free(&d);
}

static void test_string_with_nul_character_is_rejected(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'HostName': 'derp\\u0000.example.com'", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_contains(f->message, "NUL");
	assert_string_equal(node0(&d)->host_name, "");
	decoded_free(&d);
}

static void test_omit_default_regions_must_be_a_bool(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'derpMap': {'omitDefaultRegions': 'yes', 'Regions': {}}}", &d);
	const struct dc_finding *f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "derpMap.omitDefaultRegions");
	assert_false(d.map.omit_default_regions);
	decoded_free(&d);

	decode_text("{'derpMap': {'omitDefaultRegions': true, 'Regions': {}}}", &d);
	expect_no_findings(&d.findings);
	assert_true(d.map.omit_default_regions);
	assert_pos(d.map.omit_at, 1, 36);
	decoded_free(&d);
}

static void test_null_field_values_leave_the_defaults(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'Name': null, 'STUNPort': null, 'STUNOnly': null, 'HostName': null", &d);
	expect_no_findings(&d.findings);
	const struct dc_derp_node *n = node0(&d);
	assert_string_equal(n->name, "");
	assert_string_equal(n->host_name, "");
	assert_int_equal(n->stun_port, 0);
	assert_false(n->stun_only);
	assert_int_equal(n->present, 0);
	decoded_free(&d);
}

static void test_null_does_not_undo_an_earlier_value(void **state)
{
	(void)state;
	/* Go leaves the field as it was; the duplicate is still worth a warning. */
	struct decoded d;
	decode_node("'DERPPort': 8443, 'DERPPort': null", &d);
	assert_int_equal(node0(&d)->derp_port, 8443);
	expect_code(&d.findings, "duplicate-key");
	decoded_free(&d);
}

/* ---- duplicate keys ------------------------------------------------------------- */

static void test_duplicate_field_warns_and_the_last_one_wins(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'HostName': 'a.example.com',\n'HostName': 'b.example.com'", &d);
	assert_string_equal(node0(&d)->host_name, "b.example.com");
	assert_pos(node0(&d)->field_at[DC_NODE_HOSTNAME], 2, 13);
	assert_int_equal(d.findings.count, 1);
	const struct dc_finding *f = expect_code(&d.findings, "duplicate-key");
	assert_int_equal(f->severity, DC_SEV_WARNING);
	assert_string_equal(f->path, "Regions.900.Nodes[0].HostName");
	assert_pos(f->pos, 2, 1);
	assert_contains(f->message, "also set at 1:50");
	decoded_free(&d);
}

static void test_duplicate_field_in_other_case_is_also_a_duplicate(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'DERPPort': 1, 'derpport': 2", &d);
	assert_int_equal(node0(&d)->derp_port, 2);
	expect_code(&d.findings, "duplicate-key");
	expect_code(&d.findings, "noncanonical-case");
	decoded_free(&d);
}

/*
 * Regions of a large map: duplicates are found by sorting, not pairwise, and must still be
 * reported once each, in document order, against the first copy; "0950" is the same
 * region as "950" but not the same text, so it gets the region wording.
 */
static void test_duplicate_region_keys_in_a_large_map_are_each_reported_once_in_order(void **state)
{
	(void)state;
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{'Regions': {");
	for (int id = 900; id < 1000; id++)
		dc_buf_printf(&b, "'%d': {'RegionCode': 'r%d'}, ", id, id);
	dc_buf_printf(&b, "'905': {'RegionCode': 'again'}, '0950': {'RegionCode': 'zero'}, '905': {'RegionCode': 'last'}}}");
	struct decoded d;
	decode_text(b.data, &d);
	dc_buf_free(&b);
	assert_int_equal(d.map.region_count, 100);
	assert_string_equal(dc_derpmap_region(&d.map, 905)->code, "last");
	assert_string_equal(dc_derpmap_region(&d.map, 950)->code, "zero");
	size_t seen = 0;
	const char *messages[3] = {0};
	for (size_t i = 0; i < d.findings.count; i++)
		if (strcmp(d.findings.items[i].code, "duplicate-key") == 0 && seen < 3)
			messages[seen++] = d.findings.items[i].message;
	assert_int_equal(seen, 3);
	assert_contains(messages[0], "\"905\" is also set at 1:");
	assert_contains(messages[1], "\"905\" is also set at 1:");
	assert_contains(messages[2], "region 950 is also defined at 1:");
	decoded_free(&d);
}

/* A repeated region key replaces the earlier region entirely (and frees all of it). */
static bool duplicate_region_key_last_wins(void)
{
	struct decoded d;
	decode_text("{'Regions': {'900': {'RegionCode': 'old', 'Nodes': [{'Name': 'old', 'HostName': 'old.example.com'}]},"
		    " '900': " REGION_900 "}}",
		    &d);
	CHILD_CHECK(d.map.region_count == 1);
	CHILD_CHECK(strcmp(d.map.regions[0].code, "home") == 0);
	CHILD_CHECK(d.map.regions[0].node_count == 1);
	CHILD_CHECK(strcmp(d.map.regions[0].nodes[0].name, "900a") == 0);
	CHILD_CHECK(find_code(&d.findings, "duplicate-key") != NULL);
	CHILD_CHECK(strcmp(find_code(&d.findings, "duplicate-key")->path, "Regions.900") == 0);
	decoded_free(&d);
	return true;
}

static void test_duplicate_region_key_warns_and_the_last_one_wins(void **state)
{
	(void)state;
	run_isolated(duplicate_region_key_last_wins);
}

/* A repeated "Nodes" replaces the earlier nodes (and frees all of them). */
static bool duplicate_nodes_last_wins(void)
{
	struct decoded d;
	decode_text("{'Regions': {'900': {'Nodes': [{'Name': 'old', 'HostName': 'old.example.com'}],"
		    " 'Nodes': [{'Name': 'new'}, {'Name': 'newer'}]}}}",
		    &d);
	CHILD_CHECK(d.map.region_count == 1);
	CHILD_CHECK(d.map.regions[0].node_count == 2);
	CHILD_CHECK(strcmp(d.map.regions[0].nodes[0].name, "new") == 0);
	CHILD_CHECK(strcmp(d.map.regions[0].nodes[1].path, "Regions.900.Nodes[1]") == 0);
	CHILD_CHECK(find_code(&d.findings, "duplicate-key") != NULL);
	decoded_free(&d);
	return true;
}

static void test_duplicate_nodes_warns_and_the_last_one_wins(void **state)
{
	(void)state;
	run_isolated(duplicate_nodes_last_wins);
}

/*
 * A repeated "Regions" key (any case) adds to the regions read so far, because Go's
 * decoder reuses the existing map (it once overflowed the regions array here).
 */
static bool duplicate_regions_last_wins(void)
{
	struct decoded d;
	decode_text("{'Regions': {'1': {}, '3': {}}, 'Regions': {'2': {}, '3': {'RegionCode': 'new'}}}", &d);
	CHILD_CHECK(find_code(&d.findings, "duplicate-key") != NULL);
	CHILD_CHECK(d.map.region_count == 3);
	CHILD_CHECK(d.map.regions[0].id == 1);
	CHILD_CHECK(d.map.regions[1].id == 2);
	CHILD_CHECK(d.map.regions[2].id == 3);
	CHILD_CHECK(strcmp(d.map.regions[2].code, "new") == 0);
	decoded_free(&d);
	return true;
}

static void test_duplicate_regions_key_merges_like_go(void **state)
{
	(void)state;
	run_isolated(duplicate_regions_last_wins);
}

/* ---- positions ------------------------------------------------------------------ */

static void test_positions_of_regions_nodes_and_fields_are_recorded(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{\n"
		    "  'Regions': {\n"
		    "    '900': {\n"
		    "      'RegionID': 900,\n"
		    "      'Nodes': [\n"
		    "        {'Name': '900a', 'HostName': 'derp.example.com'},\n"
		    "      ],\n"
		    "    },\n"
		    "  },\n"
		    "}\n",
		    &d);
	const struct dc_derp_region *r = &d.map.regions[0];
	assert_pos(d.map.at, 1, 1);
	assert_pos(r->key_at, 3, 5);
	assert_pos(r->at, 3, 12);
	assert_pos(r->field_at[DC_REGION_REGIONID], 4, 19);
	assert_pos(r->field_at[DC_REGION_NODES], 5, 16);
	assert_true(DC_REGION_HAS(r, DC_REGION_REGIONID));
	assert_false(DC_REGION_HAS(r, DC_REGION_CODE));
	const struct dc_derp_node *n = &r->nodes[0];
	assert_pos(n->at, 6, 9);
	assert_pos(n->field_at[DC_NODE_NAME], 6, 18);
	assert_pos(n->field_at[DC_NODE_HOSTNAME], 6, 38);
	assert_true(DC_NODE_HAS(n, DC_NODE_NAME));
	assert_true(DC_NODE_HAS(n, DC_NODE_HOSTNAME));
	assert_false(DC_NODE_HAS(n, DC_NODE_IPV4));
	assert_pos(n->field_at[DC_NODE_IPV4], 0, 0);
	decoded_free(&d);
}

static void test_field_with_a_type_error_is_not_present(void **state)
{
	(void)state;
	struct decoded d;
	decode_node("'RegionID': '900'", &d);
	assert_false(DC_NODE_HAS(node0(&d), DC_NODE_REGIONID));
	assert_int_equal(node0(&d)->region_id, 0);
	decoded_free(&d);
}

/* ---- HomeParams ------------------------------------------------------------------ */

static void test_home_params_region_scores_are_read(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {}, 'HomeParams': {'RegionScore': {'1': 0.5, '900': 2}}}", &d);
	expect_no_findings(&d.findings);
	assert_int_equal(d.map.score_count, 2);
	assert_int_equal(d.map.scores[0].region_id, 1);
	assert_true(d.map.scores[0].score == 0.5);
	assert_int_equal(d.map.scores[1].region_id, 900);
	assert_true(d.map.scores[1].score == 2.0);
	assert_pos(d.map.scores[1].at, 1, 65);
	decoded_free(&d);
}

static void test_home_params_bad_scores_are_reported(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {}, 'HomeParams': {'RegionScore': {'x': 1, '2': 'high', '3': 1.5}, 'Bogus': 1}}", &d);
	assert_int_equal(d.map.score_count, 1);
	assert_int_equal(d.map.scores[0].region_id, 3);
	const struct dc_finding *f = expect_code(&d.findings, "region-key-not-integer");
	assert_string_equal(f->path, "HomeParams.RegionScore.x");
	f = expect_code(&d.findings, "wrong-type");
	assert_string_equal(f->path, "HomeParams.RegionScore.2");
	f = expect_code(&d.findings, "unknown-field");
	assert_string_equal(f->path, "HomeParams.Bogus");
	decoded_free(&d);
}

/* ---- effective values ---------------------------------------------------------- */

static void test_stun_port_zero_means_3478(void **state)
{
	(void)state;
	struct dc_derp_node n = {.stun_port = 0};
	assert_int_equal(dc_node_stun_port(&n), 3478);
	n.stun_port = 38893;
	assert_int_equal(dc_node_stun_port(&n), 38893);
	n.stun_port = 65535;
	assert_int_equal(dc_node_stun_port(&n), 65535);
}

static void test_stun_port_negative_or_too_large_disables_stun(void **state)
{
	(void)state;
	struct dc_derp_node n = {.stun_port = -1};
	assert_int_equal(dc_node_stun_port(&n), -1);
	n.stun_port = -2;
	assert_int_equal(dc_node_stun_port(&n), -1);
	n.stun_port = 70000;
	assert_int_equal(dc_node_stun_port(&n), -1);
	n.stun_port = 65536;
	assert_int_equal(dc_node_stun_port(&n), -1);
	n.stun_port = INT64_MAX;
	assert_int_equal(dc_node_stun_port(&n), -1);
}

static void test_derp_port_zero_means_443(void **state)
{
	(void)state;
	struct dc_derp_node n = {.derp_port = 0};
	assert_int_equal(dc_node_derp_port(&n), 443);
	n.derp_port = 8443;
	assert_int_equal(dc_node_derp_port(&n), 8443);
}

static void test_address_mode_empty_is_dns(void **state)
{
	(void)state;
	assert_int_equal(dc_node_addr_mode("", 4), DC_ADDR_DNS);
	assert_int_equal(dc_node_addr_mode("", 6), DC_ADDR_DNS);
	assert_int_equal(dc_node_addr_mode(NULL, 4), DC_ADDR_DNS);
}

static void test_address_mode_valid_address_of_the_family_is_static(void **state)
{
	(void)state;
	assert_int_equal(dc_node_addr_mode("203.0.113.10", 4), DC_ADDR_STATIC);
	assert_int_equal(dc_node_addr_mode("2001:db8::10", 6), DC_ADDR_STATIC);
	assert_int_equal(dc_node_addr_mode("::ffff:203.0.113.10", 6), DC_ADDR_STATIC);
}

static void test_address_mode_anything_else_is_disabled(void **state)
{
	(void)state;
	assert_int_equal(dc_node_addr_mode("none", 4), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode("none", 6), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode("2001:db8::10", 4), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode("203.0.113.10", 6), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode("203.0.113.256", 4), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode(" 203.0.113.10", 4), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode("fe80::1%eth0", 6), DC_ADDR_DISABLED);
	assert_int_equal(dc_node_addr_mode("derp.example.com", 4), DC_ADDR_DISABLED);
}

static void test_field_names_are_the_canonical_go_names(void **state)
{
	(void)state;
	assert_string_equal(dc_node_field_name(DC_NODE_HOSTNAME), "HostName");
	assert_string_equal(dc_node_field_name(DC_NODE_STUNPORT), "STUNPort");
	assert_string_equal(dc_node_field_name(DC_NODE_IPV6), "IPv6");
	assert_string_equal(dc_node_field_name(DC_NODE_CANPORT80), "CanPort80");
	assert_string_equal(dc_region_field_name(DC_REGION_CODE), "RegionCode");
	assert_string_equal(dc_region_field_name(DC_REGION_NOMEASURE), "NoMeasureNoHome");
	assert_string_equal(dc_region_field_name(DC_REGION_NODES), "Nodes");
}

static void test_node_count_skips_removed_regions(void **state)
{
	(void)state;
	struct decoded d;
	decode_text("{'Regions': {'1': null, '2': {'Nodes': [{}, {}]}, '3': {'Nodes': [{}]}}}", &d);
	assert_int_equal(dc_derpmap_node_count(&d.map), 3);
	decoded_free(&d);
}

/* ---- merge -------------------------------------------------------------------- */

/* Three default regions, each with one node. */
#define DEFAULTS                                                                    \
	"{'Regions': {"                                                             \
	"'1': {'RegionID': 1, 'RegionCode': 'nyc', 'Nodes': [{'Name': '1a', 'RegionID': 1}]}," \
	"'2': {'RegionID': 2, 'RegionCode': 'sfo', 'Nodes': [{'Name': '2a', 'RegionID': 2}]}," \
	"'3': {'RegionID': 3, 'RegionCode': 'sin', 'Nodes': [{'Name': '3a', 'RegionID': 3}]}}}"

struct merged {
	struct decoded defaults;
	struct decoded policy;
	struct dc_derpmap out;
	struct dc_merge_summary s;
};

static void merge_policy(const char *policy, struct merged *m)
{
	decode_text(DEFAULTS, &m->defaults);
	decode_text(policy, &m->policy);
	dc_derpmap_merge(&m->policy.map, &m->defaults.map, &m->out, &m->s);
}

static void merged_free(struct merged *m)
{
	dc_derpmap_free(&m->out);
	dc_merge_summary_free(&m->s);
	decoded_free(&m->policy);
	decoded_free(&m->defaults);
}

static void assert_region_ids(const struct dc_derpmap *map, const int64_t *ids, size_t n)
{
	assert_int_equal(map->region_count, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(map->regions[i].id, ids[i]);
}

static void test_merge_keeps_the_defaults_and_adds_custom_regions(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'Regions': {'900': " REGION_900 "}}}", &m);
	static const int64_t want[] = {1, 2, 3, 900};
	assert_region_ids(&m.out, want, DC_ARRAY_LEN(want));
	assert_int_equal(m.s.defaults_kept, 3);
	assert_int_equal(m.s.custom_count, 1);
	assert_int_equal(m.s.custom[0], 900);
	assert_int_equal(m.s.removed_count, 0);
	assert_int_equal(m.s.replaced_count, 0);
	assert_false(m.s.defaults_omitted);
	assert_int_equal(dc_derpmap_node_count(&m.out), 4);
	merged_free(&m);
}

static void test_merge_null_region_removes_a_default(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'Regions': {'2': null, '900': " REGION_900 "}}}", &m);
	static const int64_t want[] = {1, 3, 900};
	assert_region_ids(&m.out, want, DC_ARRAY_LEN(want));
	assert_int_equal(m.s.defaults_kept, 2);
	assert_int_equal(m.s.removed_count, 1);
	assert_int_equal(m.s.removed[0], 2);
	merged_free(&m);
}

static void test_merge_null_for_a_non_default_region_changes_nothing(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'Regions': {'950': null}}}", &m);
	static const int64_t want[] = {1, 2, 3};
	assert_region_ids(&m.out, want, DC_ARRAY_LEN(want));
	assert_int_equal(m.s.removed_count, 0);
	assert_int_equal(m.s.custom_count, 0);
	merged_free(&m);
}

static void test_merge_policy_region_replaces_the_default_with_the_same_id(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'Regions': {'2': {'RegionID': 2, 'RegionCode': 'mine', 'Nodes': [{}, {}]}}}}", &m);
	static const int64_t want[] = {1, 2, 3};
	assert_region_ids(&m.out, want, DC_ARRAY_LEN(want));
	assert_string_equal(m.out.regions[1].code, "mine");
	assert_int_equal(m.out.regions[1].node_count, 2);
	assert_int_equal(m.s.replaced_count, 1);
	assert_int_equal(m.s.replaced[0], 2);
	assert_int_equal(m.s.defaults_kept, 2);
	assert_int_equal(m.s.custom_count, 0);
	merged_free(&m);
}

static void test_merge_omit_default_regions_keeps_only_custom_regions(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'omitDefaultRegions': true, 'Regions': {'901': {}, '900': " REGION_900 "}}}", &m);
	static const int64_t want[] = {900, 901};
	assert_region_ids(&m.out, want, DC_ARRAY_LEN(want));
	assert_true(m.s.defaults_omitted);
	assert_int_equal(m.s.defaults_kept, 0);
	assert_int_equal(m.s.custom_count, 2);
	merged_free(&m);
}

static void test_merge_omit_default_regions_without_custom_regions_keeps_the_defaults(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'omitDefaultRegions': true, 'Regions': {'1': null}}}", &m);
	static const int64_t want[] = {2, 3};
	assert_region_ids(&m.out, want, DC_ARRAY_LEN(want));
	assert_false(m.s.defaults_omitted);
	assert_int_equal(m.s.defaults_kept, 2);
	assert_int_equal(m.s.removed_count, 1);
	merged_free(&m);
}

static void test_merge_result_is_a_deep_copy(void **state)
{
	(void)state;
	struct merged m;
	merge_policy("{'derpMap': {'Regions': {'900': " REGION_900 "}}}", &m);
	decoded_free(&m.policy);
	decoded_free(&m.defaults);
	memset(&m.policy, 0, sizeof(m.policy));
	memset(&m.defaults, 0, sizeof(m.defaults));
	assert_string_equal(m.out.regions[0].code, "nyc");
	assert_string_equal(m.out.regions[3].code, "home");
	assert_string_equal(m.out.regions[3].nodes[0].host_name, "derp.example.com");
	assert_string_equal(m.out.regions[3].nodes[0].path, "derpMap.Regions.900.Nodes[0]");
	assert_int_equal(m.out.shape, DC_SHAPE_DERPMAP);
	merged_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/*
		 * First: these run in a forked child whose leak check would also see memory
		 * orphaned by any earlier test that failed (a failing test cannot free).
		 */
		cmocka_unit_test(test_duplicate_region_key_warns_and_the_last_one_wins),
		cmocka_unit_test(test_duplicate_region_keys_in_a_large_map_are_each_reported_once_in_order),
		cmocka_unit_test(test_duplicate_nodes_warns_and_the_last_one_wins),
		cmocka_unit_test(test_duplicate_regions_key_merges_like_go),
		cmocka_unit_test(test_bare_map_has_derpmap_shape),
		cmocka_unit_test(test_policy_file_with_derpmap_has_policy_shape),
		cmocka_unit_test(test_policy_file_without_derpmap_uses_the_defaults),
		cmocka_unit_test(test_policy_keys_are_recognised_case_insensitively),
		cmocka_unit_test(test_policy_file_with_null_derpmap_uses_the_defaults),
		cmocka_unit_test(test_object_that_is_neither_map_nor_policy_is_not_a_derpmap),
		cmocka_unit_test(test_non_object_document_is_not_a_derpmap),
		cmocka_unit_test(test_derpmap_that_is_not_an_object_is_a_type_error),
		cmocka_unit_test(test_derpmap_key_in_other_case_works_with_a_warning),
		cmocka_unit_test(test_fields_are_read_into_the_model),
		cmocka_unit_test(test_absent_fields_are_empty_strings_and_zero),
		cmocka_unit_test(test_field_names_match_case_insensitively_with_a_noncanonical_case_warning),
		cmocka_unit_test(test_noncanonical_case_is_reported_for_region_and_map_fields),
		cmocka_unit_test(test_camelcase_api_spellings_give_no_warning),
		cmocka_unit_test(test_camelcase_hostname_and_certname_give_no_warning),
		cmocka_unit_test(test_unknown_field_is_a_warning_with_a_did_you_mean_hint),
		cmocka_unit_test(test_unknown_field_without_a_close_match_lists_the_fields),
		cmocka_unit_test(test_unknown_map_field_suggests_the_map_field),
		cmocka_unit_test(test_mesh_key_in_a_node_is_a_secret_in_map_error),
		cmocka_unit_test(test_mesh_key_spellings_and_places_are_all_secrets),
		cmocka_unit_test(test_null_region_marks_a_default_region_removed),
		cmocka_unit_test(test_region_keys_that_are_not_integers_are_errors),
		cmocka_unit_test(test_region_keys_parse_like_go_strconv),
		cmocka_unit_test(test_region_key_too_large_for_64_bits_is_an_error),
		cmocka_unit_test(test_regions_are_sorted_by_numeric_id),
		cmocka_unit_test(test_region_that_is_not_an_object_is_a_type_error_and_kept_as_removed),
		cmocka_unit_test(test_regions_that_is_not_an_object_is_a_type_error),
		cmocka_unit_test(test_null_regions_means_no_regions_were_written),
		cmocka_unit_test(test_nodes_that_is_not_an_array_is_a_type_error),
		cmocka_unit_test(test_node_that_is_not_an_object_is_a_type_error),
		cmocka_unit_test(test_quoted_number_is_wrong_type_with_a_hint_to_remove_the_quotes),
		cmocka_unit_test(test_quoted_bool_is_wrong_type_with_a_hint_to_remove_the_quotes),
		cmocka_unit_test(test_number_for_a_string_field_is_wrong_type),
		cmocka_unit_test(test_quoted_non_number_for_an_int_field_gets_the_generic_hint),
		cmocka_unit_test(test_fraction_or_exponent_in_an_int_field_is_not_integer),
		cmocka_unit_test(test_integer_beyond_64_bits_is_out_of_range),
		cmocka_unit_test(test_64_bit_extremes_are_in_range),
		cmocka_unit_test(test_string_with_nul_character_is_rejected),
		cmocka_unit_test(test_omit_default_regions_must_be_a_bool),
		cmocka_unit_test(test_null_field_values_leave_the_defaults),
		cmocka_unit_test(test_null_does_not_undo_an_earlier_value),
		cmocka_unit_test(test_duplicate_field_warns_and_the_last_one_wins),
		cmocka_unit_test(test_duplicate_field_in_other_case_is_also_a_duplicate),
		cmocka_unit_test(test_positions_of_regions_nodes_and_fields_are_recorded),
		cmocka_unit_test(test_field_with_a_type_error_is_not_present),
		cmocka_unit_test(test_home_params_region_scores_are_read),
		cmocka_unit_test(test_home_params_bad_scores_are_reported),
		cmocka_unit_test(test_stun_port_zero_means_3478),
		cmocka_unit_test(test_stun_port_negative_or_too_large_disables_stun),
		cmocka_unit_test(test_derp_port_zero_means_443),
		cmocka_unit_test(test_address_mode_empty_is_dns),
		cmocka_unit_test(test_address_mode_valid_address_of_the_family_is_static),
		cmocka_unit_test(test_address_mode_anything_else_is_disabled),
		cmocka_unit_test(test_field_names_are_the_canonical_go_names),
		cmocka_unit_test(test_node_count_skips_removed_regions),
		cmocka_unit_test(test_merge_keeps_the_defaults_and_adds_custom_regions),
		cmocka_unit_test(test_merge_null_region_removes_a_default),
		cmocka_unit_test(test_merge_null_for_a_non_default_region_changes_nothing),
		cmocka_unit_test(test_merge_policy_region_replaces_the_default_with_the_same_id),
		cmocka_unit_test(test_merge_omit_default_regions_keeps_only_custom_regions),
		cmocka_unit_test(test_merge_omit_default_regions_without_custom_regions_keeps_the_defaults),
		cmocka_unit_test(test_merge_result_is_a_deep_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
