/*
 * Headscale's config.yaml: the map it builds (derp.go GetDERPMap, derp_server.go
 * GenerateRegion, app.go) and every Headscale rule, each firing on its config and
 * quiet on the corrected one. Files live in a scratch folder; the only URL is Tailscale's
 * default, answered by the embedded snapshot (DERPCHECK_DEFAULT_MAP_URL is empty), or a
 * closed loopback port.
 */
#include "testlib.h"

#include "derpcheck/input/headscale.h"
#include "derpcheck/judge/hscheck.h"
#include "derpcheck/judge/validate.h"

#include <sys/stat.h>

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	setenv("DERPCHECK_DEFAULT_MAP_URL", "", 1);
	snprintf(dir, sizeof(dir), "/tmp/derpcheck-hs.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text)
{
	char *path = dc_xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Write config.yaml (and the derp files named in files: name, text, ..., NULL), load it, judge it. */
static void load_config(struct dc_map_doc *doc, const char *config, ...)
{
	va_list ap;
	va_start(ap, config);
	const char *name;
	while ((name = va_arg(ap, const char *)) != NULL)
		free(write_file(name, va_arg(ap, const char *)));
	va_end(ap);
	char *path = write_file("config.yaml", config);
	struct dc_fetch_opts opts = {.timeout_ms = 2000};
	struct dc_error err;
	if (dc_map_doc_load(path, &opts, doc, &err) < 0)
		fail_msg("%s: %s", err.where, err.what);
	free(path);
	assert_int_equal(doc->format, DC_MAP_FORMAT_HEADSCALE);
	if (doc->decoded) {
		dc_validate(&doc->map, NULL, &doc->findings);
		dc_headscale_check(doc->headscale, &doc->map, &doc->findings);
	}
}

static const struct dc_finding *with_code(const struct dc_map_doc *doc, const char *code)
{
	for (size_t i = 0; i < doc->findings.count; i++)
		if (strcmp(doc->findings.items[i].code, code) == 0)
			return &doc->findings.items[i];
	return NULL;
}

#define URLS_DEFAULT "  urls:\n    - https://controlplane.tailscale.com/derpmap/default\n"
#define SERVER(extra)                                                                             \
	"server_url: https://headscale.example.com\nderp:\n  server:\n    enabled: true\n"           \
	"    region_id: 999\n    region_code: headscale\n    stun_listen_addr: 0.0.0.0:3478\n" extra \
	URLS_DEFAULT
#define ADDRS "    ipv4: 5.6.7.8\n    ipv6: none\n"
#define DERP_900                                                                                       \
	"regions:\n  900:\n    regionid: 900\n    regioncode: myvps\n    nodes:\n      - name: 900a\n" \
	"        regionid: 900\n        hostname: derp.example.com\n        ipv4: 5.6.7.9\n        ipv6: none\n"

/* ---- the map Headscale builds --------------------------------------------------------- */

static void test_embedded_region_comes_from_server_url_and_stun_listen_addr(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_config(&doc, SERVER(ADDRS), NULL);
	const struct dc_derp_region *r = dc_derpmap_region(&doc.map, 999);
	assert_non_null(r);
	assert_int_equal(doc.map.region_count, 29); /* 28 from the snapshot + the embedded one */
	assert_string_equal(r->code, "headscale");
	assert_int_equal(r->node_count, 1);
	assert_string_equal(r->nodes[0].name, "999");
	assert_int_equal(r->nodes[0].region_id, 999);
	assert_string_equal(r->nodes[0].host_name, "headscale.example.com");
	assert_int_equal(r->nodes[0].derp_port, 443);
	assert_int_equal(r->nodes[0].stun_port, 3478);
	assert_string_equal(r->nodes[0].ipv4, "5.6.7.8");
	assert_int_equal(r->dialect, DC_DIALECT_HEADSCALE);
	assert_int_equal(dc_headscale_region_source(doc.headscale, 999)->kind, DC_HS_EMBEDDED);
	assert_int_equal(dc_headscale_region_source(doc.headscale, 1)->state, DC_HS_SNAPSHOT);
	assert_int_equal(doc.findings.count, 0);
	dc_map_doc_free(&doc);
}

static void test_server_url_port_is_443_for_https_80_for_http_or_as_written(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		const char *host;
		int64_t port;
	} cases[] = {
		{"https://hs.example.com", "hs.example.com", 443},
		{"http://hs.example.com/", "hs.example.com", 80},
		{"HTTPS://hs.example.com:8443/path", "hs.example.com", 8443},
		{"https://[2001:db8::5]:444", "2001:db8::5", 444},
		{"https://user@hs.example.com", "hs.example.com", 443},
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		char *config = dc_xasprintf("server_url: %s\nderp:\n  server:\n    enabled: true\n    region_id: 999\n"
					    "    stun_listen_addr: \":3479\"\n",
					    cases[i].url);
		struct dc_map_doc doc;
		load_config(&doc, config, NULL);
		const struct dc_derp_region *r = dc_derpmap_region(&doc.map, 999);
		assert_non_null(r);
		assert_string_equal(r->nodes[0].host_name, cases[i].host);
		assert_int_equal(r->nodes[0].derp_port, cases[i].port);
		assert_int_equal(r->nodes[0].stun_port, 3479);
		dc_map_doc_free(&doc);
		free(config);
	}
}

static void test_urls_then_paths_merged_by_region_id_last_wins(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_config(&doc, "server_url: https://headscale.example.com\nderp:\n" URLS_DEFAULT "  paths:\n    - a.yaml\n    - b.yaml\n",
		    "a.yaml", "regions:\n  1:\n    regionid: 1\n    regioncode: mine\n    nodes: []\n  2: null\n",
		    "b.yaml", "regions:\n  1:\n    regionid: 1\n    regioncode: second\n    nodes: []\n", NULL);
	const struct dc_derp_region *r1 = dc_derpmap_region(&doc.map, 1);
	assert_non_null(r1);
	assert_string_equal(r1->code, "second");
	assert_null(dc_derpmap_region(&doc.map, 2)); /* 2: null removes Tailscale's region 2 */
	assert_int_equal(doc.map.region_count, 27);
	const struct dc_hs_source *src = dc_headscale_region_source(doc.headscale, 1);
	assert_int_equal(src->kind, DC_HS_PATH);
	assert_int_equal(src->index, 1);
	dc_map_doc_free(&doc);
}

static void test_omit_default_regions_is_reset(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_config(&doc, "server_url: https://headscale.example.com\nderp:\n" URLS_DEFAULT "  paths:\n    - a.yaml\n",
		    "a.yaml", "omitdefaultregions: true\n" DERP_900, NULL);
	assert_false(doc.map.omit_default_regions);
	assert_int_equal(doc.map.region_count, 29);
	dc_map_doc_free(&doc);
}

static void test_viper_keys_ignore_case_and_null_means_default(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_config(&doc, "SERVER_URL: https://headscale.example.com\nDERP:\n  Server:\n    Enabled: true\n    Region_ID: 999\n"
			  "    STUN_listen_addr: 0.0.0.0:3478\n    automatically_add_embedded_derp_region:\n" URLS_DEFAULT,
		    NULL);
	assert_non_null(dc_derpmap_region(&doc.map, 999)); /* a null auto-add keeps the default, true */
	assert_null(with_code(&doc, "headscale-camelcase-key"));
	assert_null(with_code(&doc, "headscale-unknown-key"));
	dc_map_doc_free(&doc);
}

static void test_urls_written_as_one_string_are_split_at_spaces(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_config(&doc, "server_url: https://headscale.example.com\nderp:\n  urls: https://controlplane.tailscale.com/derpmap/default\n", NULL);
	assert_int_equal(doc.headscale->cfg.urls.count, 1);
	assert_int_equal(doc.map.region_count, 28);
	dc_map_doc_free(&doc);
}

static void test_no_urls_means_no_tailscale_regions(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load_config(&doc, "server_url: https://headscale.example.com\nderp:\n  urls: []\n  paths:\n    - a.yaml\n", "a.yaml", DERP_900, NULL);
	assert_int_equal(doc.map.region_count, 1);
	char *d = dc_headscale_describe(doc.headscale);
	assert_non_null(strstr(d, "urls none; paths "));
	assert_non_null(strstr(d, "a.yaml (1 region); no embedded region (derp.server.enabled is false)"));
	free(d);
	dc_map_doc_free(&doc);
}

static void test_auto_detection_tells_a_config_from_a_derp_map(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	struct dc_error err;
	char *p = write_file("derp.yaml", DERP_900);
	assert_int_equal(dc_map_doc_load(p, NULL, &doc, &err), 0);
	assert_int_equal(doc.format, DC_MAP_FORMAT_YAML);
	assert_int_equal(doc.map.shape, DC_SHAPE_YAML);
	dc_map_doc_free(&doc);
	free(p);
	p = write_file("map", "{\"Regions\": {}}");
	assert_int_equal(dc_map_doc_load(p, NULL, &doc, &err), 0);
	assert_int_equal(doc.format, DC_MAP_FORMAT_HUJSON);
	dc_map_doc_free(&doc);
	free(p);
	p = write_file("services.yaml", "services:\n  derper:\n    image: x\n");
	assert_int_equal(dc_map_doc_load(p, NULL, &doc, &err), 0);
	assert_non_null(with_code(&doc, "not-a-derpmap"));
	dc_map_doc_free(&doc);
	free(p);
}

/* ---- every Headscale rule: fires, and stays quiet once fixed ----------------------------- */

struct hs_case {
	const char *code;
	const char *fires;
	const char *quiet;
	const char *file_name; /* a derp.paths file both configs may name, or NULL */
	const char *file_text;
	const char *hint;
};

static const struct hs_case cases[] = {
	{"headscale-region-collision", SERVER(ADDRS) "  paths:\n    - %s/d.yaml\n",
	 SERVER(ADDRS) "  paths:\n    - %s/e.yaml\n", "d.yaml", NULL, "its own derp.server.region_id"},
	{"headscale-server-url-http",
	 "server_url: http://headscale.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    region_code: h\n    stun_listen_addr: 0.0.0.0:3478\n" ADDRS,
	 "server_url: https://headscale.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    region_code: h\n    stun_listen_addr: 0.0.0.0:3478\n" ADDRS,
	 NULL, NULL, "server_url: https://headscale.example.com"},
	{"headscale-server-url-loopback",
	 "server_url: https://localhost:8443\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    region_code: h\n    stun_listen_addr: 0.0.0.0:3478\n",
	 "server_url: https://hs.example.com:8443\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    region_code: h\n    stun_listen_addr: 0.0.0.0:3478\n",
	 NULL, NULL, "the public name"},
	{"headscale-server-url-private",
	 "server_url: https://10.1.2.3\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    region_code: h\n    stun_listen_addr: 0.0.0.0:3478\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    region_code: h\n    stun_listen_addr: 0.0.0.0:3478\n",
	 NULL, NULL, "public name or address"},
	{"headscale-stun-listen-missing",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: 0.0.0.0:3478\n",
	 NULL, NULL, "stun_listen_addr: \"0.0.0.0:3478\""},
	{"headscale-stun-listen-unreachable",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: \"[::1]:3478\"\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: \"[::]:3478\"\n",
	 NULL, NULL, "0.0.0.0:3478"},
	{"headscale-stun-listen-invalid",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: 3478\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: :3478\n",
	 NULL, NULL, "0.0.0.0:3478"},
	{"headscale-documentation-address", SERVER("    ipv4: 203.0.113.7\n"), SERVER("    ipv4: 5.6.7.8\n"), NULL, NULL,
	 "public IPv4 address"},
	{"headscale-documentation-address", SERVER("    ipv6: 2001:db8::1\n"), SERVER("    ipv6: 2a01:4f8::1\n"), NULL, NULL,
	 "public IPv6 address"},
	{"headscale-embedded-region-missing",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    stun_listen_addr: :3478\n    automatically_add_embedded_derp_region: false\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    stun_listen_addr: :3478\n    automatically_add_embedded_derp_region: false\n  paths:\n    - %s/d.yaml\n",
	 "d.yaml", DERP_900, "automatically_add_embedded_derp_region: true"},
	{"headscale-omit-default-regions",
	 "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT "  paths:\n    - %s/d.yaml\n",
	 "server_url: https://hs.example.com\nderp:\n  urls: []\n  paths:\n    - %s/e.yaml\n", "d.yaml",
	 "omitdefaultregions: true\n" DERP_900, "derp.urls: []"},
	{"headscale-multi-node-region",
	 "server_url: https://hs.example.com\nderp:\n  paths:\n    - %s/d.yaml\n",
	 "server_url: https://hs.example.com\nderp:\n  paths:\n    - %s/e.yaml\n", "d.yaml",
	 DERP_900 "      - name: 900b\n        regionid: 900\n        hostname: derp2.example.com\n        ipv4: 5.6.7.10\n        ipv6: none\n",
	 "--mesh-with"},
	{"headscale-empty-map", "server_url: https://hs.example.com\nderp:\n  urls: []\n",
	 "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT, NULL, NULL, "derp.urls"},
	{"headscale-camelcase-key", "serverUrl: https://hs.example.com\nderp:\n" URLS_DEFAULT,
	 "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT, NULL, NULL, "write server_url: https://hs.example.com"},
	{"headscale-verify-clients-spelling",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    verify_client: false\n" URLS_DEFAULT,
	 "server_url: https://hs.example.com\nderp:\n  server:\n    verify_clients: false\n" URLS_DEFAULT, NULL, NULL,
	 "write verify_clients: false"},
	{"headscale-unknown-key", "server_url: https://hs.example.com\nderp:\n  auto_update: true\n" URLS_DEFAULT,
	 "server_url: https://hs.example.com\nderp:\n  auto_update_enabled: true\n" URLS_DEFAULT, NULL, NULL,
	 "did you mean auto_update_enabled?"},
	{"headscale-relative-path", "server_url: https://hs.example.com\nderp:\n  paths:\n    - d.yaml\n",
	 "server_url: https://hs.example.com\nderp:\n  paths:\n    - %s/d.yaml\n", "d.yaml", DERP_900, "absolute path"},
	{"headscale-path-unreadable", "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT "  paths:\n    - %s/missing.yaml\n",
	 "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT "  paths:\n    - %s/d.yaml\n", "d.yaml", DERP_900,
	 "fix the path"},
	{"headscale-source-misplaced", "server_url: https://hs.example.com\nderp:\n  urls:\n    - /etc/headscale/derp.yaml\n" "  paths:\n    - %s/d.yaml\n",
	 "server_url: https://hs.example.com\nderp:\n  paths:\n    - %s/d.yaml\n", "d.yaml", DERP_900, "derp.paths"},
	{"headscale-url-not-fetched", "server_url: https://hs.example.com\nderp:\n  urls:\n    - http://127.0.0.1:9/map.json\n",
	 "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT, NULL, NULL, "nothing accepted the connection"},
	{"headscale-server-url-invalid",
	 "server_url: hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: :3478\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: :3478\n",
	 NULL, NULL, "server_url: https://"},
	{"yaml-implicit-type", "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: yes\n" URLS_DEFAULT,
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: false\n" URLS_DEFAULT, NULL, NULL,
	 "write enabled: true"},
	/* Found by fuzz_yaml: a region ID beyond int64 is a YAML float, and converting it was undefined. */
	{"out-of-range",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 99999999999999999999999\n    stun_listen_addr: :3478\n",
	 "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    region_id: 999\n    stun_listen_addr: :3478\n",
	 NULL, NULL, "region_id as a whole number between"},
	{"yaml-duplicate-key", "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT URLS_DEFAULT,
	 "server_url: https://hs.example.com\nderp:\n" URLS_DEFAULT, NULL, NULL, "delete one"},
};

static void run_case(const struct hs_case *c, const char *config_fmt, struct dc_map_doc *doc)
{
	if (c->file_name) {
		char *text = c->file_text ? dc_xstrdup(c->file_text) : dc_xstrdup(DERP_900);
		/* The collision case: the paths file defines the embedded server's region ID. */
		if (strcmp(c->code, "headscale-region-collision") == 0 && config_fmt == c->fires) {
			free(text);
			text = dc_xstrdup("regions:\n  999:\n    regionid: 999\n    regioncode: mine\n    nodes:\n      - name: 999a\n"
					  "        regionid: 999\n        hostname: derp.example.com\n        ipv4: 5.6.7.9\n        ipv6: none\n");
		}
		free(write_file(c->file_name, text));
		free(write_file("e.yaml", DERP_900));
		free(text);
	}
	char *config = dc_xasprintf(config_fmt, dir, dir);
	load_config(doc, config, NULL);
	free(config);
}

static void test_every_headscale_rule_fires_on_its_config_and_not_on_the_fixed_one(void **state)
{
	(void)state;
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		const struct hs_case *c = &cases[i];
		struct dc_map_doc doc;
		run_case(c, c->fires, &doc);
		const struct dc_finding *f = with_code(&doc, c->code);
		if (!f) {
			dump_findings(&doc.findings);
			fail_msg("case %zu: %s did not fire", i, c->code);
		}
		if (f->pos.line == 0)
			fail_msg("case %zu: %s has no position", i, c->code);
		if (!f->hint || !strstr(f->hint, c->hint))
			fail_msg("case %zu: %s hint \"%s\" lacks \"%s\"", i, c->code, f->hint ? f->hint : "(none)", c->hint);
		dc_map_doc_free(&doc);
		run_case(c, c->quiet, &doc);
		if (with_code(&doc, c->code)) {
			dump_findings(&doc.findings);
			fail_msg("case %zu: %s fired on the fixed config", i, c->code);
		}
		dc_map_doc_free(&doc);
	}
}

static void test_collision_points_at_region_id_and_names_the_lost_region(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	run_case(&cases[0], cases[0].fires, &doc);
	const struct dc_finding *f = with_code(&doc, "headscale-region-collision");
	assert_non_null(f);
	assert_int_equal(f->pos.line, 5);
	assert_int_equal(f->pos.col, 16);
	assert_non_null(strstr(f->message, "d.yaml:2:3 (\"mine\", node derp.example.com)"));
	assert_non_null(strstr(f->message, "the embedded region 999 (\"headscale\", node headscale.example.com)"));
	assert_string_equal(dc_derpmap_region(&doc.map, 999)->code, "headscale");
	dc_map_doc_free(&doc);
}

static void test_every_rule_code_has_a_case(void **state)
{
	(void)state;
	static const char *const codes[] = {
		"headscale-region-collision", "headscale-server-url-http", "headscale-server-url-loopback",
		"headscale-server-url-private", "headscale-stun-listen-missing", "headscale-stun-listen-unreachable",
		"headscale-stun-listen-invalid", "headscale-documentation-address", "headscale-embedded-region-missing",
		"headscale-omit-default-regions", "headscale-multi-node-region", "headscale-empty-map",
		"headscale-camelcase-key", "headscale-verify-clients-spelling", "headscale-unknown-key",
		"headscale-relative-path", "headscale-path-unreadable", "headscale-source-misplaced",
		"headscale-url-not-fetched", "headscale-server-url-invalid",
	};
	for (size_t k = 0; k < DC_ARRAY_LEN(codes); k++) {
		bool found = false;
		for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++)
			found |= strcmp(cases[i].code, codes[k]) == 0;
		if (!found)
			fail_msg("no case for %s", codes[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_region_comes_from_server_url_and_stun_listen_addr),
		cmocka_unit_test(test_server_url_port_is_443_for_https_80_for_http_or_as_written),
		cmocka_unit_test(test_urls_then_paths_merged_by_region_id_last_wins),
		cmocka_unit_test(test_omit_default_regions_is_reset),
		cmocka_unit_test(test_viper_keys_ignore_case_and_null_means_default),
		cmocka_unit_test(test_urls_written_as_one_string_are_split_at_spaces),
		cmocka_unit_test(test_no_urls_means_no_tailscale_regions),
		cmocka_unit_test(test_auto_detection_tells_a_config_from_a_derp_map),
		cmocka_unit_test(test_every_headscale_rule_fires_on_its_config_and_not_on_the_fixed_one),
		cmocka_unit_test(test_collision_points_at_region_id_and_names_the_lost_region),
		cmocka_unit_test(test_every_rule_code_has_a_case),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
