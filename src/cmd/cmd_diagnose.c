/* derpcheck diagnose REGION (and its alias `derpcheck debug derp REGION`). */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "derpcheck/input/effective.h"
#include "derpcheck/net/localapi.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/output/output_diagnose.h"
#include "derpcheck/util/file.h"
#include "derpcheck/output/output_regions.h"

enum { OPT_EVERY = 1, OPT_OUTPUT, OPT_COUNT, OPT_STUN_PORT_GUESS, OPT_ALL, OPT_PARALLEL, OPT_DEADLINE, OPT_CERT_WARN_DAYS,
       OPT_MESH_PSK_FILE, OPT_LOAD_RATE };

static const struct dc_option diagnose_options[] = {
	{"all", 0, NULL, OPT_ALL, "check every region of the map, at the same time (also: several REGIONs)"},
	{"parallel", 0, "N", OPT_PARALLEL, "check at most N regions at a time (default 32)"},
	{"deadline", 0, "DURATION", OPT_DEADLINE, "start no region after DURATION; those are reported as not checked"},
	{"cert-warn-days", 0, "DAYS", OPT_CERT_WARN_DAYS, "warn when a certificate expires within DAYS (default 14)"},
	{"count", 'c', "N", OPT_COUNT, "relayed test pings per node and per mesh pair (default 3)"},
	{"mesh-psk-file", 0, "FILE", OPT_MESH_PSK_FILE,
	 "derper's mesh key: check that every node lists the other nodes' mesh clients"},
	{"load-rate", 0, "PPS", OPT_LOAD_RATE,
	 "relay PPS packets/s of 1200 bytes for one second through each node: delivered rate, one-way delay, queuing"},
	{"every", 0, "DURATION", OPT_EVERY, "run again every DURATION (e.g. 5m) until interrupted"},
	{"output", 'o', "FILE", OPT_OUTPUT, "write each report to FILE atomically (temporary file + rename)"},
	{"stun-port-guess", 0, "PORT[,PORT...]", OPT_STUN_PORT_GUESS,
	 "also try these UDP ports when STUNPort does not answer (besides 3478, DERPPort, other nodes' STUNPorts)"},
	{0},
};

/* diagnose and its alias debug derp. */
#define DIAGNOSE_EXIT_STATUS                                                                                   \
	{                                                                                                      \
		"no check failed or is insecure, and both paths are ok (or not offered by the region)",        \
		"a check failed or is insecure, or the STUN or DERP path is not ok (with --every: the last "  \
		"run's; with --all or several REGIONs: in any region, or a region was not checked)",          \
		"a usage error, an unreadable map, an unknown region, or an --output file that cannot be "    \
		"written",                                                                                     \
	}

#define DIAGNOSE_VERBOSE                                                                                       \
	"the evidence under each check: the addresses and ports tried, every STUN probe, the chain as served, "  \
	"each client's verdict, the HTTP status lines, the DERP connection's phases and every relayed "          \
	"packet's round trip"

const struct dc_command_spec dc_diagnose_spec = {
	.name = "diagnose",
	.args = "REGION... | --all",
	.summary = "check one region end to end and give one verdict",
	.description =
		"Checks every node of a DERP region (by ID or RegionCode) the way Tailscale\n"
		"clients use it: the map entry, DNS against the map's IPv4/IPv6, STUN on STUNPort\n"
		"per family (and the likely forwarded ports when it fails, each one named), TCP\n"
		"and TLS to DERPPort with the certificate judged as Tailscale judges it, derper's\n"
		"HTTP endpoints, the DERP handshake, a relayed ping between two clients and the\n"
		"mesh between every pair of nodes. Prints a checklist with the cause and fix of each\n"
		"failure, then one verdict for the STUN path and one for the DERP path.\n"
		"Marks are \u2713 \u2717 ! - \u26a0 in a UTF-8 locale, ok/FAIL/warn/skip/insecure\n"
		"otherwise; \u26a0 insecure: clients accept the certificate only because\n"
		"InsecureForTests turns their checks off (not ok).\n"
		"--timeout bounds each network step (default 3s). Also: derpcheck debug derp REGION.\n"
		"With --all or several REGIONs the regions are checked at the same time (--parallel\n"
		"at most), one section each, then a summary line per region.",
	.shared = DC_SHARED_ALL | DC_SHARED_TRANSPORT,
	.prometheus = true,
	.options = diagnose_options,
	.exit_status = DIAGNOSE_EXIT_STATUS,
	.verbose = DIAGNOSE_VERBOSE,
};

struct diag_args {
	long long every_ms;
	const char *output;
	unsigned count;
	bool all;
	unsigned parallel;
	long long deadline_ms;
	const char *deadline;
	int cert_warn_days;
	uint16_t guess[DC_STUN_GUESS_MAX_USER];
	size_t nguess;
	const char *mesh_key_file;
	char mesh_key[DC_MESH_KEY_MAX + 1];
	unsigned load_rate_pps;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct diag_args *a = user;
	long long v;
	switch (id) {
	case OPT_EVERY:
		if (dc_parse_duration_ms(arg, 1000, 7LL * 24 * 3600 * 1000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --every '%s'", arg);
			dc_error_hint(err, "give a duration from 1s to 7 days, such as 30s, 5m or 1h");
			return -1;
		}
		a->every_ms = v;
		return 0;
	case OPT_OUTPUT:
		a->output = arg;
		return 0;
	case OPT_ALL:
		a->all = true;
		return 0;
	case OPT_PARALLEL:
		if (dc_parse_int(arg, 1, DC_DIAG_POOL_MAX_WORKERS, &v) < 0) {
			dc_error_set(err, NULL, "invalid --parallel '%s'", arg);
			dc_error_hint(err, "give a number of regions from 1 to %u", DC_DIAG_POOL_MAX_WORKERS);
			return -1;
		}
		a->parallel = (unsigned)v;
		return 0;
	case OPT_DEADLINE:
		if (dc_parse_duration_ms(arg, 1, 24LL * 3600 * 1000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --deadline '%s'", arg);
			dc_error_hint(err, "give a duration from 1ms to 24h, such as 30s or 2m");
			return -1;
		}
		a->deadline_ms = v;
		a->deadline = arg;
		return 0;
	case OPT_CERT_WARN_DAYS:
		return dc_command_cert_warn_days(arg, &a->cert_warn_days, err);
	case OPT_MESH_PSK_FILE:
		a->mesh_key_file = arg;
		return dc_command_mesh_psk_file(arg, a->mesh_key, err);
	case OPT_LOAD_RATE:
		if (dc_parse_int(arg, 10, 100000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --load-rate '%s'", arg);
			dc_error_hint(err, "give packets per second from 10 to 100000 (1000 is about 10 Mbit/s)");
			return -1;
		}
		a->load_rate_pps = (unsigned)v;
		return 0;
	case OPT_COUNT:
		if (dc_parse_int(arg, 1, 100, &v) < 0) {
			dc_error_set(err, NULL, "invalid --count '%s'", arg);
			dc_error_hint(err, "give a number of pings from 1 to 100");
			return -1;
		}
		a->count = (unsigned)v;
		return 0;
	case OPT_STUN_PORT_GUESS:
		return dc_command_stun_port_guess(arg, a->guess, &a->nguess, DC_STUN_GUESS_MAX_USER, err);
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The regions asked for: one (the classic report), or many (--all, several REGIONs). */
struct region_list {
	const struct dc_derp_region **items;
	size_t count;
	bool many;
};

static void render(FILE *mem, struct dc_cli *cli, const struct region_list *rl, struct dc_diag_job *jobs,
		   const struct dc_regions_run *run, const struct dc_diag_view *v)
{
	if (!rl->many) {
		if (cli->format == DC_FORMAT_JSON)
			dc_output_diagnose_json(mem, &jobs[0].report, v);
		else if (cli->format == DC_FORMAT_PROMETHEUS)
			dc_output_diagnose_prometheus(mem, &jobs[0].report);
		else
			dc_output_diagnose_text(mem, &jobs[0].report, v);
		return;
	}
	if (cli->format == DC_FORMAT_JSON)
		dc_output_regions_json(mem, run, v);
	else if (cli->format == DC_FORMAT_PROMETHEUS)
		dc_output_regions_prometheus(mem, run);
	else
		dc_output_regions_text(mem, run, v);
}

static int run_once(struct dc_cli *cli, const struct diag_args *a, const struct dc_map_choice *maps,
		    const struct region_list *rl, const char *map_desc, bool utf8)
{
	struct dc_diag_opts o = {
		.map_name = cli->derp_map,
		.map_format = dc_map_format_flag(cli->map_format),
		.ca_file = cli->ca_file,
		.family = cli->family,
		.timeout_ms = cli->timeout_ms,
		.ping_count = a->count,
		.transport = (enum dc_derp_transport)cli->transport,
		.defaults = &maps->defaults,
		.cert_warn_days = a->cert_warn_days,
		.stun_port_guess = a->guess,
		.stun_port_guess_count = a->nguess,
		.mesh_key = a->mesh_key_file ? a->mesh_key : NULL,
		.mesh_key_file = a->mesh_key_file,
		.load_rate_pps = a->load_rate_pps,
	};
	const struct dc_derpmap *rules_map = maps->have_doc && maps->doc.decoded ? &maps->doc.map : maps->map;
	struct dc_diag_job *jobs = dc_xcalloc(rl->count, sizeof(*jobs));
	for (size_t i = 0; i < rl->count; i++)
		jobs[i].region = rl->items[i];
	uint64_t start = dc_now_ns();
	struct dc_diag_pool_opts po = {
		.workers = a->parallel,
		.start_deadline_ns = a->deadline_ms ? start + (uint64_t)a->deadline_ms * 1000000u : 0,
	};
	unsigned used = dc_diag_pool_run(rules_map, &o, jobs, rl->count, &po);
	struct dc_regions_run run = {
		.jobs = jobs, .count = rl->count, .elapsed_ns = dc_now_ns() - start, .workers = used ? used : 1,
		.deadline = a->deadline,
	};

	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int status = DC_EXIT_USAGE;
	if (mem) {
		struct dc_diag_view v = {
			.style = {.color = !a->output && dc_cli_use_color(cli, stdout), .quiet = cli->quiet},
			.utf8 = utf8,
			.map_desc = map_desc,
			.map_note = maps->note,
			.verbose = cli->verbose > 0,
		};
		render(mem, cli, rl, jobs, &run, &v);
		fclose(mem);
		status = rl->many ? dc_regions_exit_status(&run) : dc_diag_exit_status(&jobs[0].report);
	}
	for (size_t i = 0; i < rl->count; i++)
		if (jobs[i].done)
			dc_diag_report_free(&jobs[i].report);
	free(jobs);
	if (!mem)
		return status;
	if (a->output) {
		struct dc_error err;
		if (dc_file_write_atomic(a->output, text, len, 0644, &err) < 0) {
			dc_report_error(&err);
			status = DC_EXIT_USAGE;
		}
	} else {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
	}
	free(text);
	return status;
}

/* Sleep until deadline (CLOCK_MONOTONIC ns) or a stop signal. */
static void wait_until(uint64_t deadline)
{
	while (!stop_requested) {
		uint64_t now = dc_now_ns();
		if (now >= deadline)
			return;
		uint64_t left = deadline - now;
		if (left > 200000000u)
			left = 200000000u;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
		nanosleep(&ts, NULL);
	}
}

int dc_cmd_diagnose(struct dc_cli *cli, int argc, char **argv)
{
	struct diag_args a = {0};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_diagnose_spec, argc, argv, on_option, &a, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	if (a.all ? nargs != 0 : nargs == 0) {
		if (a.all)
			dc_error_set(&err, NULL, "--all checks every region: give no REGION with it");
		else
			dc_error_set(&err, NULL, "diagnose needs a REGION (or --all)");
		dc_error_hint(&err, "e.g. derpcheck diagnose --derp-map policy.hujson 900 (a region ID or RegionCode), or "
				    "derpcheck diagnose --derp-map policy.hujson --all");
		dc_report_error(&err);
		free(args);
		return DC_EXIT_USAGE;
	}
	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: the DERP map is fetched without checking its certificate; "
				"the DERP nodes' certificates are still judged as clients judge them\n");
	struct dc_map_choice_opts mo = {
		.spec = cli->derp_map,
		.socket_path = cli->derp_map ? NULL : dc_localapi_default_socket(),
		.localapi_timeout_ms = cli->timeout_ms,
		.try_default_url = true,
		.fetch = dc_command_fetch_opts(cli),
		.want_defaults = true, /* the map rules compare with Tailscale's default regions */
	};
	struct dc_map_choice maps;
	dc_command_warn_plain_http(cli->derp_map);
	if (dc_map_choose(&mo, &maps, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		free(args);
		return DC_EXIT_USAGE;
	}
	dc_command_map_origin(cli, &maps);
	char map_desc[600];
	dc_map_choice_describe(&maps, map_desc, sizeof(map_desc));
	if (maps.note && !cli->quiet)
		fprintf(stderr, "derpcheck: DERP map: %s (%s)\n", dc_term_safe(map_desc), dc_term_safe(maps.note));
	struct region_list rl = {.many = a.all || nargs > 1};
	if (dc_command_regions(cli, &maps, args, nargs, a.all, &rl.items, &rl.count, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		free(args);
		return DC_EXIT_USAGE;
	}
	if (rl.count == 0) {
		dc_error_set(&err, NULL, "the map has no regions to check");
		dc_error_hint(&err, "check it with `derpcheck validate`");
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		free(rl.items);
		free(args);
		return DC_EXIT_USAGE;
	}
	bool utf8 = dc_command_locale_utf8();
	int status;
	if (a.every_ms) {
		struct sigaction sa = {.sa_handler = on_stop};
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		/*
		 * A signal is held back while a run is in progress: an interrupted poll() would turn
		 * into a failed check in the report. It takes effect between runs.
		 */
		sigset_t stop_set, old_set;
		sigemptyset(&stop_set);
		sigaddset(&stop_set, SIGINT);
		sigaddset(&stop_set, SIGTERM);
		do {
			uint64_t next = dc_now_ns() + (uint64_t)a.every_ms * 1000000u;
			sigprocmask(SIG_BLOCK, &stop_set, &old_set);
			status = run_once(cli, &a, &maps, &rl, map_desc, utf8);
			sigprocmask(SIG_SETMASK, &old_set, NULL);
			if (status == DC_EXIT_USAGE)
				break;
			wait_until(next);
		} while (!stop_requested);
	} else {
		status = run_once(cli, &a, &maps, &rl, map_desc, utf8);
	}
	dc_map_choice_free(&maps);
	free(rl.items);
	free(args);
	return status;
}

/* `derpcheck debug derp REGION`: the name Tailscale users know, for the same check. */
const struct dc_command_spec dc_debug_spec = {
	.name = "debug",
	.args = "derp REGION",
	.summary = "debug derp REGION: the same as diagnose REGION",
	.description = "'derpcheck debug derp REGION' is 'derpcheck diagnose REGION' under the name\n"
		       "'tailscale debug derp' users know; it takes the options of diagnose.",
	.shared = DC_SHARED_ALL | DC_SHARED_TRANSPORT,
	.prometheus = true,
	.options = diagnose_options,
	.exit_status = DIAGNOSE_EXIT_STATUS,
	.verbose = DIAGNOSE_VERBOSE,
};

int dc_cmd_debug(struct dc_cli *cli, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "derp") == 0)
		return dc_cmd_diagnose(cli, argc - 1, argv + 1);
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			dc_cli_print_command_help(stdout, &dc_debug_spec);
			return DC_EXIT_OK;
		}
	struct dc_error err;
	if (argc == 0 || argv[0][0] == '-')
		dc_error_set(&err, NULL, "debug needs a subcommand: derp");
	else
		dc_error_set(&err, NULL, "unknown debug subcommand '%s'", argv[0]);
	dc_error_hint(&err, "the only one is 'derpcheck debug derp REGION' (the same as 'derpcheck diagnose REGION')");
	dc_report_error(&err);
	return DC_EXIT_USAGE;
}
