/*
 * Test driver for the captive-portal module until `derpcheck netcheck` wires it in:
 * endpoints from a DERP map file, the check, one line per endpoint.
 *
 *   captive_probe --map FILE [--port N] [--home REGION] [--timeout-ms N]
 *
 * Prints "REGION/NODE VERDICT: REASON" per endpoint, then "CaptivePortal: true|false".
 * Exit 0 not captive, 1 captive, 2 usage or input error. Tailscale's public endpoints
 * are never used here.
 */
#include <stdio.h>
#include <string.h>

#include "derpcheck/probe/captive.h"
#include "derpcheck/input/mapload.h"

static int usage(void)
{
	fprintf(stderr, "usage: captive_probe --map FILE [--port N] [--home REGION] [--timeout-ms N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *map_path = NULL;
	long long port = 0, home = 0, timeout_ms = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (strcmp(argv[i], "--map") == 0)
			map_path = v;
		else if (strcmp(argv[i], "--port") == 0 && dc_parse_int(v, 1, 65535, &port) == 0)
			;
		else if (strcmp(argv[i], "--home") == 0 && dc_parse_int(v, 1, 1000000, &home) == 0)
			;
		else if (strcmp(argv[i], "--timeout-ms") == 0 && dc_parse_int(v, 1, 60000, &timeout_ms) == 0)
			;
		else
			return usage();
		i++;
	}
	if (!map_path)
		return usage();
	struct dc_map_doc doc;
	struct dc_error err;
	if (dc_map_doc_load(map_path, NULL, &doc, &err) < 0 || !doc.decoded) {
		fprintf(stderr, "captive_probe: %s: %s\n", map_path, doc.decoded ? err.what : "not a usable DERP map");
		dc_map_doc_free(&doc);
		return 2;
	}
	struct dc_captive_select sel = {.home_region = home, .port = (uint16_t)port};
	struct dc_captive_endpoint eps[DC_CAPTIVE_MAX_ENDPOINTS];
	size_t n = dc_captive_endpoints(&doc.map, &sel, eps);
	struct dc_captive_opts opts = {.timeout_ms = timeout_ms};
	struct dc_captive_result res;
	if (dc_captive_check(eps, n, &opts, &res, &err) < 0) {
		fprintf(stderr, "captive_probe: %s\n", err.what);
		dc_map_doc_free(&doc);
		return 2;
	}
	printf("endpoints: %zu\n", res.count);
	for (size_t i = 0; i < res.count; i++) {
		const struct dc_captive_probe *p = &res.probes[i];
		printf("%lld/%s %s: %s\n", (long long)p->endpoint.region_id, p->endpoint.node,
		       dc_captive_verdict_name(p->verdict), p->reason);
	}
	printf("CaptivePortal: %s\n", res.captive ? "true" : "false");
	dc_map_doc_free(&doc);
	return res.captive ? 1 : 0;
}
