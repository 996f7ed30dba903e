/* derpcheck status: which tailnet peers are direct, which are relayed, and why. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "derpcheck/net/localapi.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/probe/netcheck.h"
#include "derpcheck/output/output_netcheck.h"
#include "derpcheck/output/output_status.h"
#include <cjson/cJSON.h>
#include "derpcheck/judge/peerpath.h"
#include "derpcheck/input/status.h"

enum { OPT_SOCKET = 1, OPT_FILE, OPT_PEER, OPT_ACTIVE, OPT_NETCHECK, OPT_NO_PORTMAP };

static const struct dc_option status_options[] = {
	{"socket", 0, "PATH", OPT_SOCKET, "tailscaled's socket (default " DC_LOCALAPI_SOCKET ")"},
	{"file", 0, "FILE|-", OPT_FILE, "read saved `tailscale status --json` output instead"},
	{"peer", 0, "NAME", OPT_PEER, "show one peer in detail (name, Tailscale IP or node key)"},
	{"active", 0, NULL, OPT_ACTIVE, "list only active peers (traffic in the last 45 s)"},
	{"netcheck", 0, NULL, OPT_NETCHECK, "measure this machine's UDP and NAT now (netcheck) and use it for the reasons"},
	{"no-portmap", 0, NULL, OPT_NO_PORTMAP, "with --netcheck: do not ask the gateway for UPnP, NAT-PMP or PCP"},
	{0},
};

const struct dc_command_spec dc_status_spec = {
	.name = "status",
	.args = NULL,
	.summary = "show which tailnet peers are direct or relayed, and why",
	.description =
		"Asks the local tailscaled over its LocalAPI socket (or reads saved `tailscale status\n"
		"--json` output) and shows for every peer whether traffic goes direct, through a peer\n"
		"relay or through a DERP region, and for each active peer that is not direct the most\n"
		"likely reason and the fix. DERP regions are named from tailscaled's own map, else\n"
		"from --derp-map or the embedded snapshot. --netcheck measures this machine's\n"
		"UDP and NAT mapping in the same run, so the reasons say what was measured.",
	.shared = DC_SHARED_DERP_MAP | DC_SHARED_MAP_FORMAT | DC_SHARED_CA_FILE | DC_SHARED_INSECURE | DC_SHARED_TIMEOUT,
	.options = status_options,
	.verbose = "the LocalAPI requests sent to tailscaled, on standard error",
	.exit_status = {
		"tailscaled runs a session and every active peer shown goes direct (idle and offline "
		"peers do not count)",
		"tailscaled is not running (no socket at the default paths, or nothing accepts on it) or "
		"has no session, or an active peer shown is relayed or has no path",
		"a usage error, a --socket nobody listens on, a socket this user may not use, a LocalAPI "
		"error, a --file that cannot be read or is not a status, or a --peer that matches no peer "
		"or several",
	},
};

struct status_opts {
	const char *socket;
	const char *file;
	const char *peer;
	bool active;
	bool netcheck, no_portmap;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	(void)err;
	struct status_opts *o = user;
	switch (id) {
	case OPT_SOCKET: o->socket = arg; break;
	case OPT_FILE: o->file = arg; break;
	case OPT_PEER: o->peer = arg; break;
	case OPT_ACTIVE: o->active = true; break;
	case OPT_NETCHECK: o->netcheck = true; break;
	case OPT_NO_PORTMAP: o->no_portmap = true; break;
	}
	return 0;
}

static int peer_lookup_failed(const struct dc_tailnet_report *r, const struct status_opts *opts,
			      const struct dc_peer_view *first, const struct dc_peer_view *second)
{
	const char *query = opts->peer;
	struct dc_error err;
	if (first) {
		dc_error_set(&err, NULL, "'%s' matches more than one peer: %s (%s) and %s (%s)", query, first->name,
			     first->st->ip_count ? first->st->ips[0] : "no IP", second->name,
			     second->st->ip_count ? second->st->ips[0] : "no IP");
		dc_error_hint(&err, "give its full MagicDNS name or a Tailscale IP");
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	const char **names = dc_xcalloc(r->count ? r->count : 1, sizeof(*names));
	for (size_t i = 0; i < r->count; i++)
		names[i] = r->peers[i].name;
	const char *guess = dc_closest(query, names, r->count);
	dc_error_set(&err, NULL, "no peer matches '%s'", query);
	if (guess)
		dc_error_hint(&err, "did you mean --peer %s?", guess);
	else {
		/* The command that lists them, from the same status (printed commands run as printed). */
		char cmd[PATH_MAX + 64] = "derpcheck status";
		if (opts->file || opts->socket) {
			dc_shell_append(cmd, sizeof(cmd), opts->file ? "--file" : "--socket");
			dc_shell_append(cmd, sizeof(cmd), opts->file ? opts->file : opts->socket);
		}
		dc_error_hint(&err, "run `%s` to list the peers", cmd);
	}
	free((void *)names);
	dc_report_error(&err);
	return DC_EXIT_USAGE;
}

/* Print the report (or the one peer asked for) and judge it: the exit status. */
static int render(struct dc_cli *cli, const struct status_opts *opts, const struct dc_tailnet_report *report,
		  struct dc_status_context *ctx)
{
	if (opts->peer) {
		const struct dc_peer_view *second;
		ctx->only = dc_tailnet_find_peer(report, opts->peer, &second);
		if (!ctx->only || second)
			return peer_lookup_failed(report, opts, ctx->only, second);
	}
	struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
	if (cli->format == DC_FORMAT_JSON)
		dc_output_status_json(stdout, report, ctx);
	else
		dc_output_status_text(stdout, report, ctx, &style);
	bool problems = !report->running;
	for (size_t i = 0; i < report->count; i++)
		problems |= dc_status_peer_shown(&report->peers[i], ctx) && dc_peer_not_direct(&report->peers[i]);
	return problems ? DC_EXIT_PROBLEMS : DC_EXIT_OK;
}

static int load_status(const struct status_opts *opts, const struct dc_localapi *api, int verbose, struct dc_buf *text,
		       struct dc_error *err)
{
	if (opts->file)
		return dc_status_read_file(opts->file, text, err);
	if (verbose)
		fprintf(stderr, "derpcheck: GET /localapi/v0/status over %s\n", api->socket_path);
	return dc_localapi_status(api, text, err);
}

int dc_cmd_status(struct dc_cli *cli, int argc, char **argv)
{
	struct status_opts opts = {0};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_status_spec, argc, argv, on_option, &opts, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	free(args);
	if (nargs > 0) {
		dc_error_set(&err, NULL, "status takes no arguments");
		dc_error_hint(&err, "to show one peer: derpcheck status --peer NAME");
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	if (opts.socket && opts.file) {
		dc_error_set(&err, NULL, "--socket and --file cannot be used together");
		dc_error_hint(&err, "--socket asks a running tailscaled; --file reads saved `tailscale status --json` output");
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	int64_t now;
	if (dc_command_now(&now, &err) < 0) {
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: TLS certificates are not checked when fetching the DERP map; anyone on the path could serve a forged map\n");

	struct dc_localapi api = {
		.socket_path = opts.socket ? opts.socket : dc_localapi_default_socket(),
		.timeout_ms = cli->timeout_ms,
	};
	struct dc_buf text = {0};
	int loaded = load_status(&opts, &api, cli->verbose, &text, &err);
	if (loaded < 0) {
		dc_report_error(&err);
		/*
		 * No tailscaled where it runs by default is what status found (1). Nothing at a
		 * --socket given on the command line is an input error (2), as for any address given.
		 */
		return loaded == DC_LOCALAPI_NOT_RUNNING && !opts.socket ? DC_EXIT_PROBLEMS : DC_EXIT_USAGE;
	}
	const char *doc_name = opts.file ? (strcmp(opts.file, "-") == 0 ? "standard input" : opts.file) : "localapi:status";
	struct dc_status st;
	if (dc_status_parse(text.data, text.len, doc_name, &st, &err) < 0) {
		if (!opts.file)
			dc_error_hint(&err, "this is not what tailscaled sends; check that --socket names tailscaled's socket");
		dc_buf_free(&text);
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	dc_buf_free(&text);

	/* Names for DERP regions: --derp-map, else tailscaled's own map, else the snapshot. */
	struct dc_map_choice_opts map_opts = {
		.spec = cli->derp_map,
		.socket_path = opts.file ? NULL : api.socket_path,
		.localapi_timeout_ms = cli->timeout_ms,
		.fetch = dc_command_fetch_opts(cli),
	};
	struct dc_map_choice maps;
	if (cli->verbose && !cli->derp_map && !opts.file)
		fprintf(stderr, "derpcheck: GET /localapi/v0/derpmap over %s\n", api.socket_path);
	dc_command_warn_plain_http(cli->derp_map);
	if (dc_map_choose(&map_opts, &maps, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		dc_status_free(&st);
		return DC_EXIT_USAGE;
	}
	dc_command_map_origin(cli, &maps);
	struct dc_tailnet_report report;
	dc_tailnet_analyze(&st, maps.map, now, &report);
	/* --netcheck: measure UDP and the NAT mapping now, with the map chosen above. */
	struct dc_netcheck_result nres;
	bool have_nc = false;
	cJSON *nc_json = NULL;
	char desc[512];
	dc_map_choice_describe(&maps, desc, sizeof(desc));
	if (opts.netcheck) {
		struct dc_netcheck_opts no = {
			.map = maps.map, .no_portmap = opts.no_portmap, .ca_file = cli->ca_file, .insecure = cli->insecure,
		};
		if (dc_netcheck_run(&no, &nres, &err) < 0) {
			dc_report_error(&err);
		} else {
			have_nc = true;
			/*
			 * Easy only when the RFC 4787 test saw two server addresses agree (Tailscale's
			 * "false" needs just two replies, possibly from one address); hard when either
			 * test saw the mapping change.
			 */
			enum dc_nat_mapping nat = nres.extra.nat;
			int varies = -1;
			if (nres.report.mapping_varies_by_dest_ip == DC_OPT_TRUE || nat == DC_NAT_ADDRESS_DEPENDENT ||
			    nat == DC_NAT_ADDRESS_PORT_DEPENDENT || nat == DC_NAT_DEPENDENT)
				varies = 1;
			else if (nat == DC_NAT_ENDPOINT_INDEPENDENT || nat == DC_NAT_NONE)
				varies = 0;
			struct dc_nat_measurement m = {
				.udp = nres.report.udp,
				.mapping_varies = varies,
				.global_v4 = nres.report.global_v4,
				.detail = nres.extra.nat_detail,
				.udp_detail = nres.extra.udp_detail,
				.udp_hint = nres.extra.udp_hint,
			};
			dc_tailnet_apply_measurement(&report, &m);
		}
	}
	struct dc_netcheck_view nview = {.res = &nres, .map = maps.map, .map_desc = desc, .map_note = maps.note};
	if (have_nc && cli->format == DC_FORMAT_JSON) {
		nc_json = dc_netreport_json_object(&nres.report);
		cJSON_AddItemToObject(nc_json, "derpcheck", dc_output_netcheck_extra_json(&nview));
	}
	struct dc_status_context ctx = {
		.source = !opts.file ? DC_STATUS_FROM_SOCKET : strcmp(opts.file, "-") == 0 ? DC_STATUS_FROM_STDIN
											: DC_STATUS_FROM_FILE,
		.source_name = opts.file ? opts.file : api.socket_path,
		.map_source = maps.source,
		.map_name = maps.name,
		.map_note = maps.note,
		.now = now,
		.active_only = opts.active,
		.netcheck = nc_json,
	};
	if (have_nc && cli->format != DC_FORMAT_JSON) {
		struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
		dc_output_netcheck_brief(stdout, &nview, &style);
	}
	int rc = render(cli, &opts, &report, &ctx);
	if (nc_json)
		cJSON_Delete(nc_json);
	if (have_nc)
		dc_netcheck_result_free(&nres);
	dc_tailnet_report_free(&report);
	dc_map_choice_free(&maps);
	dc_status_free(&st);
	return rc;
}
