/* derpcheck server's judgement: the three descriptions of one derper compared. */
#include "testlib.h"

#include "derpcheck/judge/serverconf.h"

static struct dc_derpmap map_of(const char *json)
{
	struct dc_json *root = parse_ok(json);
	struct dc_derpmap m;
	struct dc_findings f = {0};
	dc_derpmap_decode(root, &m, &f);
	dc_findings_free(&f);
	dc_json_free(root);
	return m;
}

static const char seed_map[] = "{'Regions':{'900':{'RegionID':900,'Nodes':[{'Name':'900a','RegionID':900,"
			       "'HostName':'derp.example.com','IPv4':'203.0.113.10','STUNPort':38893,'DERPPort':38894}]}}}";

static void compose(struct dc_deployment *d, const char *ports)
{
	char y[800];
	snprintf(y, sizeof(y),
		 "services:\n  derper:\n    command: derper -a :38894 -stun-port 38893 -certmode manual -certdir /c "
		 "-hostname derp.example.com -http-port -1\n    ports: %s\n",
		 ports);
	struct dc_error err;
	dc_deployment_init(d, DC_DEPLOY_COMPOSE);
	assert_int_equal(dc_compose_parse(y, strlen(y), "/nonexistent/c.yml", NULL, d, &err), 0);
}

static const struct dc_server_check *find(const struct dc_server_report *r, const char *id)
{
	for (size_t i = 0; i < r->count; i++)
		if (strcmp(r->checks[i].id, id) == 0)
			return &r->checks[i];
	return NULL;
}

static void run(const struct dc_deployment *d, const struct dc_derpmap *m, struct dc_server_report *r)
{
	struct dc_server_opts o = {.file = d, .map = m, .map_name = "policy.hujson", .now = 1798761600};
	dc_server_check_run(&o, r);
}

static void test_seed_stun_published_from_another_host_port(void **state)
{
	(void)state;
	struct dc_derpmap m = map_of(seed_map);
	struct dc_deployment d;
	compose(&d, "[\"38894:38894\", \"3478:38893/udp\"]");
	static struct dc_server_report r;
	run(&d, &m, &r);
	const struct dc_server_check *c = find(&r, DC_SRV_STUN_PORT);
	assert_non_null(c);
	assert_int_equal(c->status, DC_CHECK_FAIL);
	assert_string_equal(c->code, "stun-port-not-published");
	assert_string_equal(c->fix, "publish 38893/udp (`38893:38893/udp`) or set STUNPort 3478");
	assert_int_equal(find(&r, DC_SRV_DERP_PORT)->status, DC_CHECK_OK);
	assert_int_equal(dc_server_exit_status(&r), 1);
	dc_deployment_free(&d);
	dc_derpmap_free(&m);
}

static void test_published_as_the_map_says_passes(void **state)
{
	(void)state;
	struct dc_derpmap m = map_of(seed_map);
	struct dc_deployment d;
	compose(&d, "[\"38894:38894\", \"38893:38893/udp\"]");
	static struct dc_server_report r;
	run(&d, &m, &r);
	assert_int_equal(find(&r, DC_SRV_STUN_PORT)->status, DC_CHECK_OK);
	assert_int_equal(find(&r, DC_SRV_HOSTNAME)->status, DC_CHECK_OK);
	/* no volume covers -certdir: a warning (files not checked), never a pass */
	assert_int_equal(find(&r, DC_SRV_CERT)->status, DC_CHECK_WARN);
	assert_string_equal(find(&r, DC_SRV_CERT)->code, "certdir-not-mounted");
	dc_deployment_free(&d);
	dc_derpmap_free(&m);
}

static void test_host_port_to_another_container_port(void **state)
{
	(void)state;
	struct dc_derpmap m = map_of(seed_map);
	struct dc_deployment d;
	compose(&d, "[\"38894:443\", \"38893:38893/udp\"]");
	static struct dc_server_report r;
	run(&d, &m, &r);
	const struct dc_server_check *c = find(&r, DC_SRV_DERP_PORT);
	assert_string_equal(c->code, "derp-port-mismatch");
	assert_string_equal(c->fix, "publish `38894:38894` instead, or run derper with -a :443");
	dc_deployment_free(&d);
	dc_derpmap_free(&m);
}

static void test_hostname_other_than_the_map(void **state)
{
	(void)state;
	struct dc_derpmap m = map_of(seed_map);
	struct dc_deployment d;
	compose(&d, "[\"38894:38894\", \"38893:38893/udp\"]");
	static struct dc_server_report r;
	struct dc_server_opts o = {.file = &d, .map = &m, .map_name = "p", .node_name = "900a", .now = 1798761600};
	free(d.argv[d.argc - 3]);
	d.argv[d.argc - 3] = strdup("other.example.com"); /* -hostname's value */
	dc_server_check_run(&o, &r);
	assert_string_equal(find(&r, DC_SRV_HOSTNAME)->code, "hostname-mismatch");
	dc_deployment_free(&d);
	dc_derpmap_free(&m);
}

static void test_unreadable_flags_exit_two(void **state)
{
	(void)state;
	struct dc_deployment d;
	dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
	snprintf(d.argv_problem, sizeof(d.argv_problem), "variables");
	static struct dc_server_report r;
	run(&d, NULL, &r);
	assert_false(r.flags_known);
	assert_string_equal(find(&r, DC_SRV_FLAGS)->code, "flags-unreadable");
	assert_int_equal(dc_server_exit_status(&r), 2);
}

static void test_publish_fix_sentence(void **state)
{
	(void)state;
	char fix[200];
	dc_server_publish_fix(38893, 38893, 3478, true, fix, sizeof(fix));
	assert_string_equal(fix, "publish 38893/udp (`38893:38893/udp`) or set STUNPort 3478");
	dc_server_publish_fix(443, 38894, 0, false, fix, sizeof(fix));
	assert_string_equal(fix, "publish 443/tcp (`443:38894`)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_stun_published_from_another_host_port),
		cmocka_unit_test(test_published_as_the_map_says_passes),
		cmocka_unit_test(test_host_port_to_another_container_port),
		cmocka_unit_test(test_hostname_other_than_the_map),
		cmocka_unit_test(test_unreadable_flags_exit_two),
		cmocka_unit_test(test_publish_fix_sentence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
