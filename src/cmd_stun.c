/* derpcheck stun: STUN binding requests to a host or to every node of a DERP region. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "derpcheck/mapload.h"
#include "derpcheck/output_stun.h"
#include "derpcheck/stuncheck.h"

enum { OPT_COUNT = 1, OPT_INTERVAL, OPT_STYLE, OPT_REGION, OPT_BIND_ADDRESS, OPT_BIND_PORT };

static const struct dc_option stun_options[] = {
	{"count", 'c', "N", OPT_COUNT, "probes per address (default 3)"},
	{"interval", 'i', "DURATION", OPT_INTERVAL, "time between the probes to one address (default 200ms)"},
	{"style", 0, "tailscale|rfc5389", OPT_STYLE, "request style (default tailscale: what derper answers)"},
	{"region", 0, "ID|CODE", OPT_REGION, "probe every node of this region of the DERP map"},
	{"bind-address", 0, "IP", OPT_BIND_ADDRESS, "send from this local address"},
	{"bind-port", 0, "PORT", OPT_BIND_PORT, "send from this local UDP port (default any)"},
	{0},
};

const struct dc_command_spec dc_stun_spec = {
	.name = "stun",
	.args = "HOST[:PORT]... | --region ID",
	.summary = "send STUN binding requests and show the mapped address",
	.description =
		"Sends STUN binding requests from one UDP socket per address family and shows\n"
		"what each server sees (the mapped address), the round-trip time of every probe\n"
		"and min/avg/max. One extra request of the other style tells derper (which only\n"
		"answers Tailscale's requests) from generic STUN servers. A mapped address in a\n"
		"private, CGNAT or Docker range is flagged and explained. PORT defaults to 3478;\n"
		"--timeout is the wait per probe, retransmissions included (default 2s).",
	.shared = DC_SHARED_ALL,
	.options = stun_options,
};

struct stun_args {
	struct dc_stun_opts opts;
	const char *region;
	bool have_bind;
	struct dc_endpoint bind;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct stun_args *a = user;
	long long v;
	switch (id) {
	case OPT_COUNT:
		if (dc_parse_int(arg, 1, 10000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --count '%s'", arg);
			dc_error_hint(err, "give a number of probes from 1 to 10000");
			return -1;
		}
		a->opts.count = (unsigned)v;
		return 0;
	case OPT_INTERVAL:
		if (dc_parse_duration_ms(arg, 0, 60000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --interval '%s'", arg);
			dc_error_hint(err, "give a duration from 0 to 1m, such as 200ms or 1s");
			return -1;
		}
		a->opts.interval_ns = (uint64_t)v * 1000000u;
		return 0;
	case OPT_STYLE:
		if (strcmp(arg, "tailscale") == 0) {
			a->opts.style = DC_STUN_STYLE_TAILSCALE;
		} else if (strcmp(arg, "rfc5389") == 0 || strcmp(arg, "plain") == 0) {
			a->opts.style = DC_STUN_STYLE_RFC5389;
		} else {
			dc_error_set(err, NULL, "invalid value '%s' for --style", arg);
			dc_error_hint(err, "use --style tailscale (what derper answers) or --style rfc5389 (a bare request)");
			return -1;
		}
		return 0;
	case OPT_REGION:
		a->region = arg;
		return 0;
	case OPT_BIND_ADDRESS:
		if (dc_ip_parse(arg, 0, &a->bind) < 0) {
			dc_error_set(err, NULL, "invalid --bind-address '%s'", arg);
			dc_error_hint(err, "give an IPv4 or IPv6 address of this machine, without a port (see --bind-port)");
			return -1;
		}
		a->have_bind = true;
		return 0;
	case OPT_BIND_PORT:
		if (dc_parse_int(arg, 0, 65535, &v) < 0) {
			dc_error_set(err, NULL, "invalid --bind-port '%s'", arg);
			dc_error_hint(err, "give a UDP port from 0 (any) to 65535");
			return -1;
		}
		a->opts.bind_port = (uint16_t)v;
		return 0;
	}
	return 0;
}

/* The region by ID or RegionCode (case-insensitive), or a usage error naming the choices. */
static const struct dc_derp_region *find_region(const struct dc_derpmap *map, const char *want, const char *mapname,
						struct dc_error *err)
{
	long long id;
	if (dc_parse_int(want, 1, INT64_MAX, &id) == 0) {
		const struct dc_derp_region *r = dc_derpmap_region(map, id);
		if (r)
			return r;
	}
	const char **codes = dc_xcalloc(map->region_count + 1, sizeof(*codes));
	for (size_t i = 0; i < map->region_count; i++) {
		codes[i] = map->regions[i].code;
		if (*map->regions[i].code && strcasecmp(map->regions[i].code, want) == 0) {
			free(codes);
			return &map->regions[i];
		}
	}
	dc_error_set(err, mapname, "no region '%s' in this DERP map", want);
	const char *guess = dc_closest(want, codes, map->region_count);
	if (guess)
		dc_error_hint(err, "did you mean --region %s?", guess);
	else if (map->region_count)
		dc_error_hint(err, "give a region ID or code from the map, e.g. --region %lld", (long long)map->regions[0].id);
	free(codes);
	return NULL;
}

/* Load the map and pick what clients would use: a policy file's regions merged with the defaults. */
static int load_map(const struct dc_cli *cli, struct dc_map_doc *doc, struct dc_derpmap *merged, bool *use_merged,
		    struct dc_error *err)
{
	const char *spec = cli->derp_map ? cli->derp_map : DC_MAP_EMBEDDED_SPEC;
	struct dc_fetch_opts fetch = {
		.ca_file = cli->ca_file, .insecure = cli->insecure, .timeout_ms = cli->timeout_ms, .family = cli->family,
	};
	if (dc_map_doc_load(spec, &fetch, doc, err) < 0)
		return -1;
	if (!doc->parsed || !doc->decoded || doc->map.shape == DC_SHAPE_POLICY_NO_MAP) {
		size_t n = dc_findings_count(&doc->findings, DC_SEV_ERROR);
		dc_error_set(err, doc->text.name, "%s", n ? doc->findings.items[0].message : "no DERP map in this file");
		dc_error_hint(err, "run 'derpcheck validate %s' for every problem", doc->text.name);
		dc_map_doc_free(doc);
		return -1;
	}
	*use_merged = false;
	if (doc->map.shape == DC_SHAPE_POLICY) {
		struct dc_derpmap defaults;
		struct dc_merge_summary summary;
		if (dc_map_defaults(&defaults) < 0) {
			dc_map_doc_free(doc);
			return dc_error_set(err, NULL, "internal error: the embedded default DERP map does not decode");
		}
		dc_derpmap_merge(&doc->map, &defaults, merged, &summary);
		dc_merge_summary_free(&summary);
		dc_derpmap_free(&defaults);
		*use_merged = true;
	}
	return 0;
}

static int usage_error(struct dc_error *err, char **hosts)
{
	dc_report_error(err);
	free(hosts);
	return DC_EXIT_USAGE;
}

int dc_cmd_stun(struct dc_cli *cli, int argc, char **argv)
{
	struct stun_args a = {.opts = {.style = DC_STUN_STYLE_TAILSCALE, .count = 3, .interval_ns = 200000000u}};
	struct dc_error err;
	char **hosts;
	int nhosts;
	if (dc_cli_parse(cli, &dc_stun_spec, argc, argv, on_option, &a, &hosts, &nhosts, NULL, &err) < 0) {
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	if (cli->help) {
		dc_cli_print_command_help(stdout, &dc_stun_spec);
		free(hosts);
		return DC_EXIT_OK;
	}
	if (nhosts == 0 && !a.region) {
		dc_error_set(&err, NULL, "stun needs a HOST[:PORT] or --region ID");
		dc_error_hint(&err, "e.g. derpcheck stun derp.example.com, or derpcheck stun --derp-map policy.hujson --region 900");
		return usage_error(&err, hosts);
	}
	if (nhosts && a.region) {
		dc_error_set(&err, NULL, "give either HOST[:PORT] or --region, not both");
		return usage_error(&err, hosts);
	}
	if (cli->derp_map && !a.region) {
		dc_error_set(&err, NULL, "--derp-map is only used with --region");
		dc_error_hint(&err, "add --region ID to probe the nodes of a region of that map");
		return usage_error(&err, hosts);
	}
	if (a.have_bind && cli->family && cli->family != a.bind.family) {
		dc_error_set(&err, NULL, "--bind-address is an IPv%d address but -%d asks for IPv%d", a.bind.family,
			     cli->family, cli->family);
		return usage_error(&err, hosts);
	}
	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: TLS certificates are not checked when fetching the DERP map; "
				"anyone on the path could serve a forged map\n");
	a.opts.timeout_ns = (uint64_t)(cli->timeout_ms ? cli->timeout_ms : 2000) * 1000000u;
	a.opts.family = cli->family;
	a.opts.bind_addr = a.have_bind ? &a.bind : NULL;

	struct dc_stun_report rep;
	struct dc_map_doc doc;
	struct dc_derpmap merged;
	bool have_map = false, use_merged = false;
	dc_stun_report_init(&rep, &a.opts);
	if (a.region) {
		if (!cli->derp_map)
			fprintf(stderr, "derpcheck: no --derp-map given: using the embedded snapshot of Tailscale's default "
					"map (" DC_MAP_EMBEDDED_DATE ")\n");
		if (load_map(cli, &doc, &merged, &use_merged, &err) < 0)
			return usage_error(&err, hosts);
		have_map = true;
		const struct dc_derp_region *region =
			find_region(use_merged ? &merged : &doc.map, a.region, doc.text.name, &err);
		if (!region) {
			dc_report_error(&err);
			if (use_merged)
				dc_derpmap_free(&merged);
			dc_map_doc_free(&doc);
			free(hosts);
			return DC_EXIT_USAGE;
		}
		dc_stun_add_region(&rep, region);
	}
	for (int i = 0; i < nhosts; i++) {
		char *host;
		int port;
		if (dc_hostport_split(hosts[i], &host, &port, &err) < 0) {
			dc_stun_report_free(&rep);
			return usage_error(&err, hosts);
		}
		struct dc_endpoint lit;
		if (cli->family && dc_ip_parse(host, 0, &lit) == 0 && lit.family != cli->family) {
			dc_error_set(&err, NULL, "%s is an IPv%d address, but -%d asks for IPv%d", host, lit.family,
				     cli->family, cli->family);
			free(host);
			dc_stun_report_free(&rep);
			return usage_error(&err, hosts);
		}
		dc_stun_add_host(&rep, host, port > 0 ? (uint16_t)port : DC_STUN_DEFAULT_PORT);
		free(host);
	}

	int status = DC_EXIT_OK;
	if (dc_stun_run(&rep, &err) < 0) {
		dc_report_error(&err);
		status = DC_EXIT_USAGE;
		goto out;
	}
	/* A host on the command line that does not resolve is an input error, like a bad file. */
	for (size_t i = 0; i < rep.ntargets && !a.region; i++) {
		bool resolved = false;
		for (size_t k = 0; k < rep.ntargets; k++)
			resolved |= strcmp(rep.targets[k].host, rep.targets[i].host) == 0 &&
				    rep.targets[k].addr.origin != DC_ORIGIN_FAILED;
		if (!resolved) {
			dc_error_set(&err, rep.targets[i].host, "cannot resolve: %s", rep.targets[i].addr.note);
			dc_error_hint(&err, "check the name, or give an IP address");
			dc_report_error(&err);
			status = DC_EXIT_USAGE;
			goto out;
		}
	}
	struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
	if (cli->format == DC_FORMAT_JSON)
		dc_output_stun_json(stdout, &rep);
	else
		dc_output_stun_text(stdout, &rep, &style);
	if (cli->verbose)
		dc_output_stun_stats(stderr, &rep);
	status = dc_findings_count(&rep.findings, DC_SEV_ERROR) ? DC_EXIT_PROBLEMS : DC_EXIT_OK;
out:
	dc_stun_report_free(&rep);
	if (have_map) {
		if (use_merged)
			dc_derpmap_free(&merged);
		dc_map_doc_free(&doc);
	}
	free(hosts);
	return status;
}
