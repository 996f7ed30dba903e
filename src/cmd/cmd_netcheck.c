/* derpcheck netcheck: Tailscale's netcheck report, and what it leaves out. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "derpcheck/net/localapi.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/output/output_netcheck.h"

enum {
	OPT_EVERY = 1, OPT_BIND_ADDRESS, OPT_BIND_PORT, OPT_NO_PORTMAP, OPT_HAIRPIN, OPT_CHECK_DERP, OPT_EXTRA_STUN,
	OPT_SOCKET, OPT_STUN_PORT_GUESS,
};

static const struct dc_option netcheck_options[] = {
	{"every", 0, "DURATION", OPT_EVERY, "repeat the report, sleeping DURATION in between (until interrupted)"},
	{"bind-address", 0, "IP", OPT_BIND_ADDRESS, "send the STUN probes from this local address (its family only)"},
	{"bind-port", 0, "PORT", OPT_BIND_PORT, "send the STUN probes from this local UDP port (default any)"},
	{"no-portmap", 0, NULL, OPT_NO_PORTMAP, "do not ask the default gateway for UPnP, NAT-PMP or PCP"},
	{"hairpin", 0, NULL, OPT_HAIRPIN, "also test whether the NAT loops packets to its own public address back"},
	{"check-derp", 0, NULL, OPT_CHECK_DERP, "also connect to every region's DERP port (TLS + /derp/latency-check)"},
	{"extra-stun", 0, "HOST[:PORT]", OPT_EXTRA_STUN, "one more STUN server for the NAT mapping test (repeatable, up to 8)"},
	{"stun-port-guess", 0, "PORT[,PORT...]", OPT_STUN_PORT_GUESS,
	 "also try these UDP ports on a node whose STUNPort fails (besides 3478, DERPPort, other nodes' STUNPorts)"},
	{"socket", 0, "PATH", OPT_SOCKET, "tailscaled's socket, asked for its DERP map (default " DC_LOCALAPI_SOCKET ")"},
	{0},
};

const struct dc_command_spec dc_netcheck_spec = {
	.name = "netcheck",
	.args = "",
	.summary = "measure UDP, NAT behaviour and latency to every DERP region",
	.description =
		"Runs the report `tailscale netcheck` prints (same probe plan, timers and output;\n"
		"--format json and json-line use Tailscale's field names), then what Tailscale\n"
		"leaves out: every node's own STUN result and why a node failed (silent, STUN\n"
		"port closed, STUN answering on another port: the likely ports are tried and\n"
		"named), a UDP verdict from that evidence, the NAT's mapping behaviour in RFC\n"
		"4787 terms, the ICMP, port-mapping and captive-portal details, and optionally\n"
		"hairpinning and each region's DERP port. The DERP map is\n"
		"--derp-map, else tailscaled's, else Tailscale's default URL, else the embedded\n"
		"snapshot; the report says which. --timeout bounds the report (default 5s).",
	.shared = DC_SHARED_ALL | DC_SHARED_TRANSPORT,
	.options = netcheck_options,
	.verbose = "every probe as it is sent and answered, on standard error; the report waits for every region (Tailscale stops once enough have answered) and names regions derpID as tailscale netcheck -v does",
	.exit_status = {
		"UDP works and a home region was found (a hard NAT is only a warning)",
		"UDP does not work here (no STUN server answered), no region could be reached, or a DERP "
		"node's certificate is rejected or accepted only because of InsecureForTests",
		"a usage error, an unreadable map, or the measurement could not start",
	},
	.json_line = true,
};

struct netcheck_args {
	struct dc_netcheck_opts o;
	long long every_ms;
	bool have_bind;
	struct dc_endpoint bind;
	const char *socket;
	uint16_t guess[DC_STUN_GUESS_MAX_USER];
	size_t nguess;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct netcheck_args *a = user;
	long long v;
	switch (id) {
	case OPT_EVERY:
		if (dc_parse_duration_ms(arg, 0, 86400000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --every '%s'", arg);
			dc_error_hint(err, "give a duration such as 30s or 5m (0: once)");
			return -1;
		}
		a->every_ms = v;
		return 0;
	case OPT_BIND_ADDRESS:
		if (dc_command_bind_address(arg, &a->bind, err) < 0)
			return -1;
		a->have_bind = true;
		return 0;
	case OPT_BIND_PORT:
		return dc_command_bind_port(arg, &a->o.bind_port, err);
	case OPT_NO_PORTMAP: a->o.no_portmap = true; return 0;
	case OPT_HAIRPIN: a->o.hairpin = true; return 0;
	case OPT_CHECK_DERP: a->o.check_derp = true; return 0;
	case OPT_SOCKET: a->socket = arg; return 0;
	case OPT_STUN_PORT_GUESS:
		return dc_command_stun_port_guess(arg, a->guess, &a->nguess, DC_STUN_GUESS_MAX_USER, err);
	case OPT_EXTRA_STUN:
		if (a->o.extra_count == DC_NETCHECK_MAX_EXTRA) {
			dc_error_set(err, NULL, "at most %d --extra-stun servers", DC_NETCHECK_MAX_EXTRA);
			return -1;
		}
		a->o.extra_stun[a->o.extra_count++] = arg;
		return 0;
	}
	return 0;
}

static void log_line(void *user, const char *line)
{
	(void)user;
	fprintf(stderr, "netcheck: %s\n", dc_term_safe(line));
}

static const char *source_key(enum dc_map_source s)
{
	switch (s) {
	case DC_MAP_SOURCE_FILE: return "file";
	case DC_MAP_SOURCE_STDIN: return "stdin";
	case DC_MAP_SOURCE_URL: return "url";
	case DC_MAP_SOURCE_EMBEDDED: return "embedded";
	case DC_MAP_SOURCE_LOCALAPI: return "localapi";
	}
	return "?";
}

int dc_cmd_netcheck(struct dc_cli *cli, int argc, char **argv)
{
	struct netcheck_args a = {0};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_netcheck_spec, argc, argv, on_option, &a, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	free(args);
	if (nargs) {
		dc_error_set(&err, NULL, "netcheck takes no arguments");
		dc_error_hint(&err, "to probe one STUN server: derpcheck stun HOST; to add one to the NAT test: --extra-stun HOST");
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	if (a.have_bind && cli->family && cli->family != a.bind.family) {
		dc_error_set(&err, NULL, "--bind-address is an IPv%d address but -%d asks for IPv%d", a.bind.family,
			     cli->family, cli->family);
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: the DERP map is fetched without checking its certificate, and "
				"HTTPS latency and --check-derp connect whatever the certificate; the DERP nodes' certificates "
				"are still judged as Tailscale clients judge them\n");

	struct dc_map_choice_opts mo = {
		.spec = cli->derp_map,
		.socket_path = a.socket ? a.socket : dc_localapi_default_socket(),
		.localapi_timeout_ms = cli->timeout_ms,
		.try_default_url = true,
		.fetch = dc_command_fetch_opts(cli),
	};
	struct dc_map_choice maps;
	dc_command_warn_plain_http(cli->derp_map);
	if (dc_map_choose(&mo, &maps, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		return DC_EXIT_USAGE;
	}
	dc_command_map_origin(cli, &maps);
	char desc[512];
	dc_map_choice_describe(&maps, desc, sizeof(desc));

	a.o.map = maps.map;
	a.o.stun_port_guess = a.guess;
	a.o.stun_port_guess_count = a.nguess;
	a.o.family = cli->family;
	a.o.bind_addr = a.have_bind ? &a.bind : NULL;
	a.o.measure_all = cli->verbose > 0;
	a.o.ca_file = cli->ca_file;
	a.o.derp_handshake = cli->transport_given && a.o.check_derp;
	a.o.transport = (enum dc_derp_transport)cli->transport;
	a.o.insecure = cli->insecure;
	a.o.map_spec = dc_map_spec_for_command(cli->derp_map ? cli->derp_map : maps.name);
	a.o.map_format = cli->derp_map ? dc_map_format_flag(cli->map_format) : NULL;
	if (cli->timeout_ms) {
		a.o.report_timeout_ns = (uint64_t)cli->timeout_ms * 1000000u;
		if (cli->timeout_ms < DC_NETCHECK_STUN_PHASE_MS)
			a.o.stun_phase_ns = a.o.report_timeout_ns;
	}
	/* Tests point the captive check at a loopback server's port (the URL is the node's IPv4). */
	const char *cp = getenv("DERPCHECK_CAPTIVE_PORT");
	long long cpv;
	if (cp && *cp && dc_parse_int(cp, 1, 65535, &cpv) == 0)
		a.o.captive_port = (uint16_t)cpv;
	/* Tests on a loaded machine give the gateway longer than Tailscale's 250 ms (the probe
	 * still ends at the last answer). */
	const char *pw = getenv("DERPCHECK_PORTMAP_WAIT_MS");
	if (pw && *pw && dc_parse_int(pw, 1, 10000, &cpv) == 0)
		a.o.portmap.wait_ms = (long)cpv;
	if (cli->verbose) {
		a.o.log = log_line;
		fprintf(stderr, "netcheck: DERP map: %s\n", dc_term_safe(desc));
	}
	struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
	int status = DC_EXIT_OK;
	for (;;) {
		struct dc_netcheck_result res;
		if (dc_netcheck_run(&a.o, &res, &err) < 0) {
			dc_report_error(&err);
			status = DC_EXIT_USAGE;
			break;
		}
		struct dc_netcheck_view v = {
			.res = &res, .map = maps.map, .map_source = source_key(maps.source), .map_desc = desc,
			.map_note = maps.note, .verbose = cli->verbose > 0,
		};
		if (cli->format == DC_FORMAT_TEXT)
			dc_output_netcheck_text(stdout, &v, &style);
		else
			dc_output_netcheck_json(stdout, &v, cli->format == DC_FORMAT_JSON_LINE);
		fflush(stdout);
		status = dc_findings_count(&res.extra.findings, DC_SEV_ERROR) || !res.report.preferred_derp ? DC_EXIT_PROBLEMS
													    : DC_EXIT_OK;
		/* --every: the next report keeps this home unless another is clearly better (§3.7). */
		a.o.previous_home = res.report.preferred_derp;
		dc_netcheck_result_free(&res);
		if (!a.every_ms)
			break;
		struct timespec ts = {a.every_ms / 1000, (a.every_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	dc_map_choice_free(&maps);
	return status;
}
