/* derpcheck server: check a derper deployment from the machine it runs on. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "derpcheck/input/deployment.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output_server.h"

enum { OPT_COMPOSE = 1, OPT_SERVICE, OPT_INSPECT, OPT_UNIT, OPT_PID, OPT_REGION, OPT_NODE, OPT_RESOLVE };

static const struct dc_option server_options[] = {
	{"compose", 0, "FILE", OPT_COMPOSE, "read the deployment from a docker-compose.yml / compose.yaml"},
	{"service", 0, "NAME", OPT_SERVICE, "the compose service that runs derper (default: the one that names derper)"},
	{"inspect", 0, "FILE", OPT_INSPECT, "read the deployment from saved `docker inspect CONTAINER` output"},
	{"unit", 0, "FILE", OPT_UNIT, "read derper's command line from a systemd unit file (ExecStart)"},
	{"pid", 0, "PID", OPT_PID, "the running derper to look at (default: the process named derper)"},
	{"region", 0, "ID", OPT_REGION, "look for this server's node in region ID of the --derp-map"},
	{"node", 0, "NAME", OPT_NODE, "this server's node in the map (default: the node whose HostName is -hostname)"},
	{"resolve", 0, NULL, OPT_RESOLVE, "look the node's HostName up in DNS (asks your resolver; off by default)"},
	{0},
};

const struct dc_command_spec dc_server_spec = {
	.name = "server",
	.args = "",
	.summary = "check a derper deployment on the machine it runs on",
	.description =
		"Reads how derper is deployed — its flags (as derper parses them), how the container\n"
		"or host publishes its ports, its certificate files — and compares them with the\n"
		"DERP map's node (--derp-map): DERPPort, STUNPort, HostName, CanPort80. With a\n"
		"running derper (found by name, or --pid) it also reads which sockets derper holds\n"
		"(/proc/PID/net), probes its STUN and TLS ports on this machine and compares the\n"
		"served certificate with the file. --compose, --inspect or --unit describe a\n"
		"deployment from its files; add --pid to look at the running process too.\n"
		"Nothing is modified and nothing is sent off the machine (unless --resolve).",
	.shared = DC_SHARED_DERP_MAP | DC_SHARED_MAP_FORMAT | DC_SHARED_CA_FILE | DC_SHARED_TIMEOUT | DC_SHARED_FAMILY,
	.options = server_options,
	.verbose = "derper's flags as derper reads them, every one with its value and whether it was written or is derper's default",
	.exit_status = {
		"no check fails (warnings are allowed)",
		"a check fails: the deployment disagrees with the map's node or with itself (published "
		"ports, TLS mode, hostname, certificate files, sockets)",
		"a usage error, no running derper found (or several), an unreadable file, map or process, "
		"an unknown --region, or derper's flags that cannot be read from the input (variables "
		"in a compose command)",
	},
};

struct server_args {
	const char *compose, *service, *inspect, *unit, *node;
	long long pid, region;
	bool resolve;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct server_args *a = user;
	switch (id) {
	case OPT_COMPOSE: a->compose = arg; break;
	case OPT_SERVICE: a->service = arg; break;
	case OPT_INSPECT: a->inspect = arg; break;
	case OPT_UNIT: a->unit = arg; break;
	case OPT_NODE: a->node = arg; break;
	case OPT_RESOLVE: a->resolve = true; break;
	case OPT_PID:
		if (dc_parse_int(arg, 1, 4194304, &a->pid) < 0) {
			dc_error_set(err, NULL, "invalid --pid '%s'", arg);
			dc_error_hint(err, "give the process ID of a running derper (pgrep -a derper)");
			return -1;
		}
		break;
	case OPT_REGION:
		if (dc_parse_int(arg, 1, 9007199254740991LL, &a->region) < 0) {
			dc_error_set(err, NULL, "invalid --region '%s'", arg);
			dc_error_hint(err, "give a region ID, e.g. --region 900");
			return -1;
		}
		break;
	}
	return 0;
}

static int usage(const char *what, const char *hint)
{
	struct dc_error err;
	dc_error_set(&err, NULL, "%s", what);
	if (hint)
		dc_error_hint(&err, "%s", hint);
	dc_report_error(&err);
	return DC_EXIT_USAGE;
}

/* The running derper when none was named: exactly one process called derper. */
static int find_process(pid_t *pid)
{
	pid_t pids[8];
	size_t n = dc_proc_find_derpers("/proc", pids, DC_ARRAY_LEN(pids));
	if (n == 1) {
		*pid = pids[0];
		return 0;
	}
	if (n == 0)
		return usage("no running derper found on this machine",
			     "give --pid PID, or describe the deployment with --compose FILE, --inspect FILE or --unit FILE");
	char list[200] = "";
	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? ", " : "", (int)pids[i]);
	struct dc_error err;
	dc_error_set(&err, NULL, "%zu derper processes are running (pids %s)", n, list);
	dc_error_hint(&err, "pick one with --pid PID");
	dc_report_error(&err);
	return -1;
}

int dc_cmd_server(struct dc_cli *cli, int argc, char **argv)
{
	struct server_args a = {0};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_server_spec, argc, argv, on_option, &a, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	free(args);
	if (nargs)
		return usage("server takes no arguments", "describe the deployment with --compose, --inspect, --unit or --pid");
	int files = !!a.compose + !!a.inspect + !!a.unit;
	if (files > 1)
		return usage("give one of --compose, --inspect and --unit", "add --pid PID to look at the running derper as well");
	if (a.service && !a.compose)
		return usage("--service needs --compose", NULL);
	if ((a.region || a.node) && !cli->derp_map)
		return usage("--region and --node need --derp-map", "e.g. --derp-map policy.hujson --region 900");
	int64_t now;
	if (dc_command_now(&now, &err) < 0) {
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}

	static struct dc_deployment file, process;
	bool have_file = false, have_process = false;
	int rc = DC_EXIT_USAGE;
	if (files) {
		enum dc_deploy_source src = a.compose ? DC_DEPLOY_COMPOSE : a.inspect ? DC_DEPLOY_INSPECT : DC_DEPLOY_SYSTEMD;
		dc_deployment_init(&file, src);
		int lrc = a.compose ? dc_compose_load(a.compose, a.service, &file, &err)
			: a.inspect ? dc_inspect_load(a.inspect, &file, &err)
				    : dc_sysunit_load(a.unit, &file, &err);
		have_file = true;
		if (lrc < 0) {
			dc_report_error(&err);
			goto out;
		}
	}
	if (a.pid || !files) {
		pid_t pid = (pid_t)a.pid;
		if (!pid && find_process(&pid) < 0)
			goto out;
		dc_deployment_init(&process, DC_DEPLOY_PROCESS);
		have_process = true;
		if (dc_proc_read("/proc", pid, &process, &err) < 0) {
			dc_report_error(&err);
			goto out;
		}
	}

	struct dc_map_doc doc;
	bool have_doc = false;
	if (cli->derp_map) {
		struct dc_fetch_opts fetch = dc_command_fetch_opts(cli); /* server takes no --insecure: it stays false */
		if (dc_map_doc_load(cli->derp_map, &fetch, &doc, &err) < 0) {
			dc_report_error(&err);
			goto out;
		}
		have_doc = true;
		if (!doc.decoded) {
			dc_error_set(&err, cli->derp_map, "no DERP map could be read from it");
			char cmd[PATH_MAX + 64];
			dc_map_validate_hint(cli->derp_map, dc_map_format_flag(cli->map_format), cmd, sizeof(cmd));
			dc_error_hint(&err, "run %s to see why", cmd);
			dc_report_error(&err);
			goto out_doc;
		}
		if (a.region && !dc_derpmap_region(&doc.map, a.region)) {
			dc_error_set(&err, cli->derp_map, "region %lld is not in this DERP map", a.region);
			dc_report_error(&err);
			goto out_doc;
		}
	}
	struct dc_server_opts o = {
		.file = have_file ? &file : NULL,
		.process = have_process ? &process : NULL,
		.map = have_doc ? &doc.map : NULL,
		.map_name = cli->derp_map,
		.region_id = a.region,
		.node_name = a.node,
		.proc = "/proc",
		.ca_file = cli->ca_file,
		.timeout_ms = cli->timeout_ms,
		.family = cli->family,
		.resolve = a.resolve,
		.now = (time_t)now,
	};
	static struct dc_server_report r;
	dc_server_check_run(&o, &r);
	struct dc_server_view v = {
		.style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet},
		.utf8 = dc_command_locale_utf8(),
		.map_name = cli->derp_map,
		.opts = &o,
		.verbose = cli->verbose > 0,
	};
	if (cli->format == DC_FORMAT_JSON)
		dc_output_server_json(stdout, &r, &v);
	else
		dc_output_server_text(stdout, &r, &v);
	rc = dc_server_exit_status(&r);
out_doc:
	if (have_doc)
		dc_map_doc_free(&doc);
out:
	if (have_file)
		dc_deployment_free(&file);
	if (have_process)
		dc_deployment_free(&process);
	return rc;
}
