/*
 * dc_validate: every rule has a minimal map that makes it fire and a near-identical one
 * that does not, plus the exact path and line:col of what it reports. Inputs use
 * 'single quotes' (see dq in testlib.h).
 */
#include "testlib.h"

#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/validate.h"

/* Tailscale's default map (the embedded snapshot), decoded once for all tests. */
static struct dc_derpmap defaults;

static int setup_defaults(void **state)
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

/*
 * Parse, decode and validate text (with Tailscale's defaults when with_defaults); the
 * validator's findings go to out. The document itself must decode cleanly, so that
 * every finding a test sees comes from a validation rule.
 */
static void validate_text(const char *squoted, bool with_defaults, struct dc_findings *out)
{
	struct decoded d;
	decode_text(squoted, &d);
	if (d.findings.count) {
		dump_findings(&d.findings);
		fail_msg("the test map does not decode cleanly:\n%s", squoted);
	}
	memset(out, 0, sizeof(*out));
	dc_validate(&d.map, with_defaults ? &defaults : NULL, out);
	decoded_free(&d);
}

/* ---- building near-identical maps -------------------------------------------------- */

/*
 * Most rules are about one field of a node or region. The map below has two clean
 * regions; a test case gives overrides for region 900 or its only node, written as JSON
 * members ("'IPv4': 'none'"). An override replaces the base field of the same name.
 */
struct field {
	const char *name;
	const char *value;
};

#define BASE_NODE_IPV4 "203.0.113.10"
static const struct field base_node[] = {
	{"Name", "'900a'"},
	{"RegionID", "900"},
	{"HostName", "'derp.example.com'"},
	{"IPv4", "'" BASE_NODE_IPV4 "'"},
	{"IPv6", "'none'"},
};

#define REGION_901                                                                            \
	"'901': {'RegionID': 901, 'RegionCode': 'b', 'Nodes': [{'Name': '901a', 'RegionID': 901," \
	" 'HostName': 'derp2.example.com', 'IPv4': '203.0.113.11', 'IPv6': '2001:db8::11'}]}"

/* "{base fields not named in overrides, overrides}" */
static char *with_overrides(const struct field *base, size_t n, const char *overrides)
{
	struct dc_buf keys = {0};
	dc_buf_printf(&keys, "{%s}", overrides);
	struct dc_json *given = parse_ok(keys.data);
	dc_buf_free(&keys);
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{");
	const char *sep = "";
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t k = 0; k < given->count; k++)
			replaced |= strcmp(given->items[k].key, base[i].name) == 0;
		if (!replaced) {
			dc_buf_printf(&b, "%s'%s': %s", sep, base[i].name, base[i].value);
			sep = ", ";
		}
	}
	if (*overrides)
		dc_buf_printf(&b, "%s%s", sep, overrides);
	dc_buf_printf(&b, "}");
	dc_json_free(given);
	return b.data;
}

static char *node_with(const char *overrides)
{
	return with_overrides(base_node, DC_ARRAY_LEN(base_node), overrides);
}

static char *region_with(const char *region_overrides, const char *node_overrides)
{
	char *node = node_with(node_overrides);
	char *nodes = dc_xasprintf("[%s]", node);
	const struct field base_region[] = {
		{"RegionID", "900"},
		{"RegionCode", "'a'"},
		{"Nodes", nodes},
	};
	char *region = with_overrides(base_region, DC_ARRAY_LEN(base_region), region_overrides);
	free(node);
	free(nodes);
	return region;
}

enum scope {
	NODE,   /* overrides for the node of region 900 */
	REGION, /* overrides for region 900 itself */
	DOC,    /* the whole document */
};

static char *build_doc(enum scope scope, const char *text)
{
	if (scope == DOC)
		return dc_xstrdup(text);
	char *region = scope == NODE ? region_with("", text) : region_with(text, "");
	char *doc = dc_xasprintf("{'Regions': {'900': %s, " REGION_901 "}}", region);
	free(region);
	return doc;
}

/* Helpers for whole documents: a clean region whose one node has IPv4 203.0.113.<octet>. */
#define REGION_OF(id, octet)                                                                 \
	"'" id "': {'RegionID': " id ", 'RegionCode': 'r" id "', 'Nodes': [{'Name': 'n" id "'," \
	" 'RegionID': " id ", 'HostName': 'derp" id ".example.com', 'IPv4': '203.0.113." octet "'," \
	" 'IPv6': 'none'}]}"
#define MAP(regions) "{'Regions': {" regions "}}"
#define POLICY(members) "{'acls': [], 'derpMap': {" members "}}"
#define HEX64_LOWER "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX64_UPPER "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

struct rule_case {
	const char *code;
	enum dc_severity severity;
	enum scope scope;
	const char *fires;
	const char *silent;
};

#define E DC_SEV_ERROR
#define W DC_SEV_WARNING

static const struct rule_case rule_cases[] = {
	/* ---- regions ---- */
	{"region-id-range", E, DOC,
	 MAP(REGION_OF("9007199254740992", "50") ", " REGION_OF("901", "101")),
	 MAP(REGION_OF("9007199254740991", "50") ", " REGION_OF("901", "101"))},
	{"region-id-range", E, DOC,
	 MAP(REGION_OF("-1", "3") ", " REGION_OF("901", "101")),
	 MAP(REGION_OF("1", "1") ", " REGION_OF("901", "101"))},
	{"null-region-not-default", W, DOC,
	 POLICY("'Regions': {'950': null, " REGION_OF("900", "100") "}"),
	 POLICY("'Regions': {'5': null, " REGION_OF("900", "100") "}")},
	{"region-id-missing", E, REGION, "'RegionID': 0", "'RegionID': 900"},
	{"region-id-missing", E, REGION, "'RegionID': null", "'RegionID': 900"},
	{"region-id-mismatch", E, REGION, "'RegionID': 901", "'RegionID': 900"},
	{"region-replaces-default", W, DOC,
	 POLICY("'Regions': {" REGION_OF("2", "2") "}"),
	 POLICY("'Regions': {" REGION_OF("902", "102") "}")},
	{"region-id-not-custom-range", W, DOC,
	 POLICY("'Regions': {" REGION_OF("1000", "200") "}"),
	 POLICY("'Regions': {" REGION_OF("999", "99") "}")},
	{"region-code-missing", W, REGION, "'RegionCode': ''", "'RegionCode': 'c'"},
	{"avoid-deprecated", W, REGION, "'Avoid': true", "'NoMeasureNoHome': true"},
	{"region-no-nodes", E, REGION, "'Nodes': []", ""},
	{"region-stun-only", E, NODE, "'STUNOnly': true", "'STUNOnly': false"},
	{"region-no-stun", W, NODE, "'STUNPort': -1", "'STUNPort': 0"},
	{"region-code-duplicate", W, REGION, "'RegionCode': 'B'", "'RegionCode': 'c'"},
	/* ---- nodes ---- */
	{"node-name-missing", E, NODE, "'Name': ''", "'Name': '900b'"},
	{"node-region-id-missing", E, NODE, "'RegionID': 0", "'RegionID': 900"},
	{"node-region-id-missing", E, NODE, "'RegionID': null", "'RegionID': 900"},
	{"node-region-id-mismatch", E, NODE, "'RegionID': 901", "'RegionID': 900"},
	{"hostname-missing", E, NODE, "'HostName': ''", "'HostName': 'derp3.example.com'"},
	{"hostname-is-url", E, NODE, "'HostName': 'https://derp.example.com/'", "'HostName': 'derp.example.com'"},
	{"hostname-has-port", E, NODE, "'HostName': 'derp.example.com:8443'", "'HostName': 'derp.example.com'"},
	{"hostname-has-port", E, NODE, "'HostName': '203.0.113.10:443'", "'HostName': '2001:db8::10'"},
	{"hostname-invalid", E, NODE, "'HostName': 'derp example.com'", "'HostName': 'derp-example.com'"},
	{"ip-wrong-family", E, NODE, "'IPv4': '2001:db8::10'", "'IPv4': '203.0.113.10'"},
	{"ip-wrong-family", E, NODE, "'IPv6': '203.0.113.10'", "'IPv6': '2001:db8::10'"},
	{"ip-invalid", E, NODE, "'IPv4': '203.0.113.256'", "'IPv4': '203.0.113.25'"},
	{"ip-invalid", E, NODE, "'IPv6': '2001:db8:::10'", "'IPv6': '2001:db8::10'"},
	{"ip-disabled-nonstandard", W, NODE, "'IPv6': 'off'", "'IPv6': 'none'"},
	{"node-undialable", E, NODE, "'IPv4': 'none'", "'IPv4': 'none', 'IPv6': '2001:db8::10'"},
	{"ip-from-dns", W, NODE, "'IPv4': ''", "'IPv4': '203.0.113.20'"},
	{"ip-from-dns", W, NODE, "'IPv6': ''", "'IPv6': 'none'"},
	{"port-range", E, NODE, "'STUNPort': 65536", "'STUNPort': 65535"},
	{"port-range", E, NODE, "'STUNPort': -2", "'STUNPort': -1"},
	{"port-range", E, NODE, "'DERPPort': 65536", "'DERPPort': 65535"},
	{"port-range", E, NODE, "'DERPPort': -1", "'DERPPort': 0"},
	{"stunonly-with-derpport", W, NODE, "'STUNOnly': true, 'DERPPort': 8443", "'STUNOnly': true, 'DERPPort': 0"},
	{"stunonly-without-stun", E, NODE, "'STUNOnly': true, 'STUNPort': -1", "'STUNOnly': true, 'STUNPort': 3478"},
	{"certname-pin-case", E, NODE, "'CertName': 'sha256-raw:" HEX64_UPPER "'", "'CertName': 'sha256-raw:" HEX64_LOWER "'"},
	{"certname-pin-case", E, NODE, "'CertName': 'SHA256-RAW:" HEX64_LOWER "'", "'CertName': 'sha256-raw:" HEX64_LOWER "'"},
	{"certname-pin-invalid", E, NODE, "'CertName': 'sha256-raw:abc'", "'CertName': 'derp.example.com'"},
	{"certname-pin-invalid", E, NODE, "'CertName': 'sha256-raw:" HEX64_LOWER "0'", "'CertName': 'sha256-raw:" HEX64_LOWER "'"},
	{"insecure-for-tests", W, NODE, "'InsecureForTests': true", "'InsecureForTests': false"},
	{"stun-test-ip", W, NODE, "'STUNTestIP': '198.51.100.1'", "'STUNTestIP': ''"},
	{"canport80-without-ipv4", W, NODE, "'CanPort80': true, 'IPv4': 'none', 'IPv6': '2001:db8::10'", "'CanPort80': true"},
	/* ---- the whole map ---- */
	{"node-name-duplicate", E, NODE, "'Name': '901a'", "'Name': '900b'"},
	{"ip-duplicate", W, NODE, "'IPv4': '203.0.113.11'", "'IPv4': '203.0.113.12'"},
	{"ip-duplicate", W, NODE, "'IPv6': '2001:db8::11'", "'IPv6': '2001:db8::12'"},
	{"regions-missing", E, DOC, "{'Regions': null}", "{'Regions': {}}"},
	{"omit-defaults-without-regions", W, DOC,
	 POLICY("'omitDefaultRegions': true, 'Regions': {'1': null}"),
	 POLICY("'omitDefaultRegions': true, 'Regions': {'1': null, " REGION_OF("900", "100") ", " REGION_OF("901", "101") "}")},
	{"single-region", W, DOC, MAP(REGION_OF("900", "100")), MAP(REGION_OF("900", "100") ", " REGION_OF("901", "101"))},
	{"single-region", W, DOC,
	 POLICY("'omitDefaultRegions': true, 'Regions': {" REGION_OF("900", "100") "}"),
	 POLICY("'omitDefaultRegions': false, 'Regions': {" REGION_OF("900", "100") "}")},
	{"score-unknown-region", W, DOC,
	 "{'Regions': {" REGION_OF("900", "100") ", " REGION_OF("901", "101") "}, 'HomeParams': {'RegionScore': {'950': 2.5}}}",
	 "{'Regions': {" REGION_OF("900", "100") ", " REGION_OF("901", "101") "}, 'HomeParams': {'RegionScore': {'901': 2.5}}}"},
	{"score-unknown-region", W, DOC,
	 POLICY("'Regions': {" REGION_OF("900", "100") "}, 'HomeParams': {'RegionScore': {'950': 2.5}}"),
	 POLICY("'Regions': {" REGION_OF("900", "100") "}, 'HomeParams': {'RegionScore': {'5': 2.5}}")},
};

#undef E
#undef W

static void test_every_rule_fires_on_its_map_and_not_on_the_near_identical_one(void **state)
{
	(void)state;
	for (size_t i = 0; i < DC_ARRAY_LEN(rule_cases); i++) {
		const struct rule_case *c = &rule_cases[i];
		char *fires = build_doc(c->scope, c->fires);
		char *silent = build_doc(c->scope, c->silent);
		struct dc_findings f;

		validate_text(fires, true, &f);
		const struct dc_finding *x = find_code(&f, c->code);
		if (!x) {
			dump_findings(&f);
			fail_msg("case %zu: \"%s\" does not fire on:\n%s", i, c->code, fires);
		}
		if (x->severity != c->severity)
			fail_msg("case %zu: \"%s\" has severity %s, expected %s", i, c->code, dc_severity_name(x->severity),
				 dc_severity_name(c->severity));
		assert_non_null(x->hint);
		assert_true(*x->hint);
		assert_true(*x->message);
		assert_true(x->pos.line >= 1);
		dc_findings_free(&f);

		validate_text(silent, true, &f);
		if (find_code(&f, c->code)) {
			dump_findings(&f);
			fail_msg("case %zu: \"%s\" fires on the near-identical map:\n%s", i, c->code, silent);
		}
		dc_findings_free(&f);
		free(fires);
		free(silent);
	}
}

/* Every rule code in src/judge/validate.c appears in the table above. */
static void test_the_rule_table_covers_every_rule(void **state)
{
	(void)state;
	static const char *const codes[] = {
		"region-id-range", "null-region-not-default", "region-id-missing", "region-id-mismatch",
		"region-replaces-default", "region-id-not-custom-range", "region-code-missing", "avoid-deprecated",
		"region-no-nodes", "region-stun-only", "region-no-stun", "node-name-missing",
		"node-region-id-missing", "node-region-id-mismatch", "hostname-missing", "hostname-is-url",
		"hostname-has-port", "hostname-invalid", "ip-wrong-family", "ip-invalid",
		"ip-disabled-nonstandard", "node-undialable", "ip-from-dns", "port-range",
		"stunonly-with-derpport", "stunonly-without-stun", "certname-pin-case", "certname-pin-invalid",
		"insecure-for-tests", "stun-test-ip", "canport80-without-ipv4", "region-code-duplicate",
		"node-name-duplicate", "ip-duplicate", "regions-missing", "omit-defaults-without-regions",
		"single-region", "score-unknown-region",
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(codes); i++) {
		bool found = false;
		for (size_t k = 0; k < DC_ARRAY_LEN(rule_cases) && !found; k++)
			found = strcmp(rule_cases[k].code, codes[i]) == 0;
		if (!found)
			fail_msg("no case for rule \"%s\"", codes[i]);
	}
}

static void test_the_base_maps_of_the_table_are_clean(void **state)
{
	(void)state;
	static const enum scope scopes[] = {NODE, REGION};
	for (size_t i = 0; i < DC_ARRAY_LEN(scopes); i++) {
		char *doc = build_doc(scopes[i], "");
		struct dc_findings f;
		validate_text(doc, true, &f);
		expect_no_findings(&f);
		dc_findings_free(&f);
		free(doc);
	}
}

/* ---- what each finding points at ------------------------------------------------- */

/* Validate a document and return the one finding with code (there must be exactly one). */
static struct dc_findings found;

static const struct dc_finding *only(const char *squoted, bool with_defaults, const char *code)
{
	dc_findings_free(&found);
	validate_text(squoted, with_defaults, &found);
	if (count_code(&found, code) != 1) {
		dump_findings(&found);
		fail_msg("expected exactly one \"%s\"", code);
	}
	return find_code(&found, code);
}

static int free_found(void **state)
{
	(void)state;
	dc_findings_free(&found);
	return 0;
}

#define TWO_REGION_MAP(node900)                                                           \
	"{\n"                                                                             \
	"  'Regions': {\n"                                                                \
	"    '900': {\n"                                                                  \
	"      'RegionID': 900,\n"                                                        \
	"      'RegionCode': 'a',\n"                                                      \
	"      'Nodes': [\n"                                                              \
	"        " node900 ",\n"                                                          \
	"      ],\n"                                                                      \
	"    },\n"                                                                        \
	"    " REGION_901 ",\n"                                                           \
	"  },\n"                                                                          \
	"}\n"

static void test_hostname_is_url_points_at_the_hostname_value(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '900a', 'RegionID': 900, 'HostName': 'https://derp.example.com:8443/',"
							 " 'IPv4': '203.0.113.10', 'IPv6': 'none'}"),
					  true, "hostname-is-url");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_string_equal(f->path, "Regions.900.Nodes[0].HostName");
	assert_pos(f->pos, 7, 55);
	assert_contains(f->hint, "\"HostName\": \"derp.example.com\"");
}

static void test_hostname_has_port_hint_splits_host_and_port(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '900a', 'RegionID': 900, 'HostName': 'derp.example.com:8443',"
							 " 'IPv4': '203.0.113.10', 'IPv6': 'none'}"),
					  true, "hostname-has-port");
	assert_string_equal(f->hint, "write \"HostName\": \"derp.example.com\" and \"DERPPort\": 8443");
}

static void test_node_without_region_id_is_reported_at_the_node(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '900a', 'HostName': 'derp.example.com',"
							 " 'IPv4': '203.0.113.10', 'IPv6': 'none'}"),
					  true, "node-region-id-missing");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_string_equal(f->path, "Regions.900.Nodes[0]");
	assert_pos(f->pos, 7, 9);
	assert_string_equal(f->hint, "add \"RegionID\": 900 to the node");
}

static void test_region_id_mismatch_points_at_the_region_id_value(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{\n"
					  "  'Regions': {\n"
					  "    '900': {'RegionID': 901, 'RegionCode': 'a', 'Nodes': [{'Name': '900a', 'RegionID': 900,"
					  " 'HostName': 'derp.example.com', 'IPv4': '203.0.113.10', 'IPv6': 'none'}]},\n"
					  "    " REGION_901 ",\n"
					  "  },\n"
					  "}\n",
					  true, "region-id-mismatch");
	assert_string_equal(f->path, "Regions.900.RegionID");
	assert_pos(f->pos, 3, 25);
	assert_contains(f->message, "region key \"900\" but RegionID 901");
}

static void test_region_without_region_id_is_reported_at_the_region(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'Regions': {\n"
					  "  '900': {'RegionCode': 'a', 'Nodes': [{'Name': '900a', 'RegionID': 900,"
					  " 'HostName': 'derp.example.com', 'IPv4': '203.0.113.10', 'IPv6': 'none'}]},\n"
					  "  " REGION_901 "}}",
					  true, "region-id-missing");
	assert_string_equal(f->path, "Regions.900");
	assert_pos(f->pos, 2, 10);
	assert_string_equal(f->hint, "add \"RegionID\": 900 (it must equal the key)");
}

static void test_region_no_nodes_points_at_the_empty_nodes_array(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'Regions': {\n"
					  "  '900': {'RegionID': 900, 'RegionCode': 'a', 'Nodes': []},\n"
					  "  " REGION_901 "}}",
					  true, "region-no-nodes");
	assert_int_equal(f->severity, DC_SEV_ERROR);
	assert_string_equal(f->path, "Regions.900.Nodes");
	assert_pos(f->pos, 2, 56);
}

static void test_null_region_not_default_points_at_the_null(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'derpMap': {'Regions': {\n"
					  "  " REGION_OF("900", "100") ",\n"
					  "  '950': null,\n"
					  "}}}",
					  true, "null-region-not-default");
	assert_int_equal(f->severity, DC_SEV_WARNING);
	assert_string_equal(f->path, "derpMap.Regions.950");
	assert_pos(f->pos, 3, 10);
	assert_contains(f->hint, "(1-28)");
}

static void test_region_replaces_default_points_at_the_region_key(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'derpMap': {'Regions': {\n"
					  "   " REGION_OF("2", "2") "}}}",
					  true, "region-replaces-default");
	assert_string_equal(f->path, "derpMap.Regions.2");
	assert_pos(f->pos, 2, 4);
	assert_contains(f->message, "default region 2 (sfo,");
}

static void test_omitting_the_defaults_makes_replacing_a_default_id_fine(void **state)
{
	(void)state;
	struct dc_findings f;
	validate_text(POLICY("'omitDefaultRegions': true, 'Regions': {" REGION_OF("2", "2") ", " REGION_OF("900", "100") "}"), true, &f);
	expect_no_code(&f, "region-replaces-default");
	expect_no_code(&f, "region-id-not-custom-range");
	dc_findings_free(&f);
}

static void test_node_undialable_points_at_the_node(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '900a', 'RegionID': 900, 'HostName': 'derp.example.com',"
							 " 'IPv4': 'none', 'IPv6': 'none'}"),
					  true, "node-undialable");
	assert_string_equal(f->path, "Regions.900.Nodes[0]");
	assert_pos(f->pos, 7, 9);
}

static void test_port_range_points_at_the_port_value(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '900a', 'RegionID': 900, 'HostName': 'derp.example.com',"
							 " 'IPv4': '203.0.113.10', 'IPv6': 'none', 'STUNPort': 70000}"),
					  true, "port-range");
	assert_string_equal(f->path, "Regions.900.Nodes[0].STUNPort");
	assert_pos(f->pos, 7, 127);
	assert_contains(f->message, "STUNPort 70000");
}

static void test_certname_pin_case_hint_gives_the_lowercase_pin(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '900a', 'RegionID': 900, 'HostName': 'derp.example.com',"
							 " 'IPv4': '203.0.113.10', 'IPv6': 'none', 'CertName': 'sha256-raw:" HEX64_UPPER "'}"),
					  true, "certname-pin-case");
	assert_string_equal(f->path, "Regions.900.Nodes[0].CertName");
	assert_string_equal(f->hint, "write \"CertName\": \"sha256-raw:" HEX64_LOWER "\"");
}

static void test_node_name_duplicate_names_the_other_region(void **state)
{
	(void)state;
	const struct dc_finding *f = only(TWO_REGION_MAP("{'Name': '901a', 'RegionID': 900, 'HostName': 'derp.example.com',"
							 " 'IPv4': '203.0.113.10', 'IPv6': 'none'}"),
					  true, "node-name-duplicate");
	/* Regions are checked in ID order, so the second use (in 901) is the one reported. */
	assert_string_equal(f->path, "Regions.901.Nodes[0].Name");
	assert_contains(f->message, "already used by a node of region 900");
	assert_pos(f->pos, 10, 68);
}

static void test_region_code_duplicate_is_case_insensitive_and_reported_once(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'Regions': {" REGION_OF("900", "100") ", " REGION_OF("901", "101") ", '902': {'RegionID': 902, 'RegionCode': 'R900',"
					  " 'Nodes': [{'Name': 'n902', 'RegionID': 902, 'HostName': 'derp902.example.com', 'IPv4': '203.0.113.102', 'IPv6': 'none'}]}}}",
					  true, "region-code-duplicate");
	assert_string_equal(f->path, "Regions.902.RegionCode");
	assert_contains(f->message, "also used by region 900");
}

static void test_single_region_points_at_the_region(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'Regions': {\n  " REGION_OF("900", "100") "}}", true, "single-region");
	assert_string_equal(f->path, "Regions.900");
	assert_pos(f->pos, 2, 10);
}

static void test_omit_defaults_without_regions_points_at_the_flag(void **state)
{
	(void)state;
	const struct dc_finding *f = only("{'derpMap': {\n  'omitDefaultRegions': true,\n}}", true,
					  "omit-defaults-without-regions");
	assert_string_equal(f->path, "derpMap.omitDefaultRegions");
	assert_pos(f->pos, 2, 25);
}

static void test_score_unknown_region_path_includes_the_map_path(void **state)
{
	(void)state;
	const struct dc_finding *f = only(POLICY("'Regions': {" REGION_OF("900", "100") "},\n"
						 "  'HomeParams': {'RegionScore': {'950': 2.5}}"),
					  true, "score-unknown-region");
	assert_string_equal(f->path, "derpMap.HomeParams.RegionScore.950");
	assert_pos(f->pos, 2, 41);
}

static void test_regions_missing_points_at_the_map(void **state)
{
	(void)state;
	const struct dc_finding *f = only("\n {'Regions': null}", true, "regions-missing");
	assert_string_equal(f->path, "");
	assert_pos(f->pos, 2, 2);
}

/* ---- what is not checked ---------------------------------------------------------- */

static void test_policy_file_without_derpmap_has_nothing_to_check(void **state)
{
	(void)state;
	struct dc_findings f;
	validate_text("{'acls': []}", true, &f);
	expect_no_findings(&f);
	dc_findings_free(&f);
}

static void test_without_defaults_policy_judgements_that_need_them_are_skipped(void **state)
{
	(void)state;
	struct dc_findings f;
	validate_text(POLICY("'Regions': {'950': null, " REGION_OF("900", "100") "}"), false, &f);
	expect_no_code(&f, "null-region-not-default");
	expect_no_code(&f, "single-region"); /* the defaults would add regions */
	dc_findings_free(&f);
}

static void test_removed_regions_are_not_checked_further(void **state)
{
	(void)state;
	struct dc_findings f;
	validate_text(POLICY("'Regions': {'1': null, " REGION_OF("900", "100") "}"), true, &f);
	expect_no_code(&f, "region-no-nodes");
	expect_no_code(&f, "region-id-missing");
	expect_no_code(&f, "null-region-not-default");
	dc_findings_free(&f);
}

static void test_no_measure_no_home_silences_region_no_stun(void **state)
{
	(void)state;
	char *doc = build_doc(REGION, "'NoMeasureNoHome': true, 'Nodes': [{'Name': '900a', 'RegionID': 900,"
				      " 'HostName': 'derp.example.com', 'IPv4': '203.0.113.10', 'IPv6': 'none', 'STUNPort': -1}]");
	struct dc_findings f;
	validate_text(doc, true, &f);
	expect_no_findings(&f);
	dc_findings_free(&f);
	free(doc);
}

static void test_ipv6_literal_hostname_is_not_a_port(void **state)
{
	(void)state;
	char *doc = build_doc(NODE, "'HostName': '2001:db8::10'");
	struct dc_findings f;
	validate_text(doc, true, &f);
	expect_no_findings(&f);
	dc_findings_free(&f);
	free(doc);
}

/* ---- real maps -------------------------------------------------------------------- */

static void test_clean_nat_vps_policy_file_has_no_findings(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	struct dc_error err;
	if (dc_map_doc_load("tests/fixtures/nat-vps-policy.hujson", NULL, &doc, &err) < 0)
		fail_msg("%s: %s (run the tests from the top of the source tree)", err.where, err.what);
	assert_true(doc.parsed);
	assert_true(doc.decoded);
	assert_int_equal(doc.map.shape, DC_SHAPE_POLICY);
	dc_validate(&doc.map, &defaults, &doc.findings);
	expect_no_findings(&doc.findings);
	const struct dc_derp_region *r = dc_derpmap_region(&doc.map, 900);
	assert_non_null(r);
	assert_int_equal(dc_node_stun_port(&r->nodes[0]), 38893);
	assert_int_equal(dc_node_derp_port(&r->nodes[0]), 38894);
	dc_map_doc_free(&doc);
}

static void test_embedded_default_map_has_28_regions_and_87_nodes(void **state)
{
	(void)state;
	assert_int_equal(defaults.shape, DC_SHAPE_DERPMAP);
	assert_int_equal(defaults.region_count, 28);
	assert_int_equal(dc_derpmap_node_count(&defaults), 87);
	assert_int_equal(defaults.regions[0].id, 1);
	assert_int_equal(defaults.regions[27].id, 28);
}

static void test_embedded_default_map_decodes_and_validates_with_no_findings(void **state)
{
	(void)state;
	size_t len;
	const char *text = dc_map_embedded_text(&len);
	assert_true(len > 1000);
	struct dc_error err;
	struct dc_json *root = dc_hujson_parse(text, len, &err);
	assert_non_null(root);
	struct dc_derpmap map;
	struct dc_findings f = {0};
	assert_int_equal(dc_derpmap_decode(root, &map, &f), 0);
	dc_json_free(root);
	expect_no_findings(&f);
	dc_validate(&map, NULL, &f);
	expect_no_findings(&f);
	dc_validate(&map, &defaults, &f);
	expect_no_findings(&f);
	dc_derpmap_free(&map);
	dc_findings_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_rule_fires_on_its_map_and_not_on_the_near_identical_one),
		cmocka_unit_test(test_the_rule_table_covers_every_rule),
		cmocka_unit_test(test_the_base_maps_of_the_table_are_clean),
		cmocka_unit_test_teardown(test_hostname_is_url_points_at_the_hostname_value, free_found),
		cmocka_unit_test_teardown(test_hostname_has_port_hint_splits_host_and_port, free_found),
		cmocka_unit_test_teardown(test_node_without_region_id_is_reported_at_the_node, free_found),
		cmocka_unit_test_teardown(test_region_id_mismatch_points_at_the_region_id_value, free_found),
		cmocka_unit_test_teardown(test_region_without_region_id_is_reported_at_the_region, free_found),
		cmocka_unit_test_teardown(test_region_no_nodes_points_at_the_empty_nodes_array, free_found),
		cmocka_unit_test_teardown(test_null_region_not_default_points_at_the_null, free_found),
		cmocka_unit_test_teardown(test_region_replaces_default_points_at_the_region_key, free_found),
		cmocka_unit_test(test_omitting_the_defaults_makes_replacing_a_default_id_fine),
		cmocka_unit_test_teardown(test_node_undialable_points_at_the_node, free_found),
		cmocka_unit_test_teardown(test_port_range_points_at_the_port_value, free_found),
		cmocka_unit_test_teardown(test_certname_pin_case_hint_gives_the_lowercase_pin, free_found),
		cmocka_unit_test_teardown(test_node_name_duplicate_names_the_other_region, free_found),
		cmocka_unit_test_teardown(test_region_code_duplicate_is_case_insensitive_and_reported_once, free_found),
		cmocka_unit_test_teardown(test_single_region_points_at_the_region, free_found),
		cmocka_unit_test_teardown(test_omit_defaults_without_regions_points_at_the_flag, free_found),
		cmocka_unit_test_teardown(test_score_unknown_region_path_includes_the_map_path, free_found),
		cmocka_unit_test_teardown(test_regions_missing_points_at_the_map, free_found),
		cmocka_unit_test(test_policy_file_without_derpmap_has_nothing_to_check),
		cmocka_unit_test(test_without_defaults_policy_judgements_that_need_them_are_skipped),
		cmocka_unit_test(test_removed_regions_are_not_checked_further),
		cmocka_unit_test(test_no_measure_no_home_silences_region_no_stun),
		cmocka_unit_test(test_ipv6_literal_hostname_is_not_a_port),
		cmocka_unit_test(test_clean_nat_vps_policy_file_has_no_findings),
		cmocka_unit_test(test_embedded_default_map_has_28_regions_and_87_nodes),
		cmocka_unit_test(test_embedded_default_map_decodes_and_validates_with_no_findings),
	};
	return cmocka_run_group_tests(tests, setup_defaults, free_defaults);
}
