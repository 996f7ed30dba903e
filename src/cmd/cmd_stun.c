/* derpcheck stun: STUN binding requests to a host or to every node of a DERP region. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/input/effective.h"
#include "derpcheck/output/output_stun.h"
#include "derpcheck/probe/stuncheck.h"

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
	.verbose = "the prober's counters, on standard error: requests sent, datagrams received, and why any were ignored",
	.exit_status = {
		"every address answered (warnings, such as a lost probe, are allowed)",
		"an address did not answer, answered wrongly or only to plain RFC 5389 requests, or saw "
		"this machine at an address clients cannot use; or a node of --region cannot be probed",
		"a usage error, an unreadable --derp-map, an unknown --region, or a HOST given on the "
		"command line that does not resolve",
	},
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
		if (dc_command_bind_address(arg, &a->bind, err) < 0)
			return -1;
		a->have_bind = true;
		return 0;
	case OPT_BIND_PORT:
		return dc_command_bind_port(arg, &a->opts.bind_port, err);
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
	int start = dc_command_start(cli, &dc_stun_spec, argc, argv, on_option, &a, &hosts, &nhosts);
	if (start != DC_COMMAND_GO)
		return start;
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
	/* A bound address has one family: probe only that one, as netcheck does. */
	a.opts.family = cli->family ? cli->family : a.have_bind ? a.bind.family : 0;
	a.opts.bind_addr = a.have_bind ? &a.bind : NULL;

	struct dc_stun_report rep;
	struct dc_map_choice map;
	bool have_map = false;
	dc_stun_report_init(&rep, &a.opts);
	if (a.region) {
		if (dc_command_map(cli, &map) < 0) {
			dc_stun_report_free(&rep);
			free(hosts);
			return DC_EXIT_USAGE;
		}
		have_map = true;
		const struct dc_derp_region *region = dc_region_find(map.map, a.region, map.name, "--region", NULL, &err);
		if (!region) {
			dc_map_choice_free(&map);
			dc_stun_report_free(&rep);
			return usage_error(&err, hosts);
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
		int fam = a.opts.family;
		if (fam && dc_ip_parse(host, 0, &lit) == 0 && lit.family != fam) {
			if (cli->family)
				dc_error_set(&err, NULL, "%s is an IPv%d address, but -%d asks for IPv%d", host, lit.family,
					     fam, fam);
			else
				dc_error_set(&err, NULL, "%s is an IPv%d address, but --bind-address is an IPv%d address",
					     host, lit.family, fam);
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
	const struct dc_stun_target *lost = a.region ? NULL : dc_stun_unresolved_host(&rep);
	if (lost) {
		dc_error_set(&err, lost->host, "cannot resolve: %s", lost->addr.note);
		dc_error_hint(&err, "check the name, or give an IP address");
		dc_report_error(&err);
		status = DC_EXIT_USAGE;
		goto out;
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
	if (have_map)
		dc_map_choice_free(&map);
	free(hosts);
	return status;
}
