/* derpcheck ping: prove that a DERP region relays, and measure it (protocols.md §1.9). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/probe/derpping.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output.h"
#include "derpcheck/output/output_ping.h"

enum { OPT_NODE = 1, OPT_MESH, OPT_COUNT, OPT_INTERVAL, OPT_SIZE, OPT_RATE, OPT_FLOOD };

#define DEFAULT_COUNT 5
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_SIZE 64
#define DEFAULT_CONNECT_MS 10000 /* Tailscale's budget for a whole DERP connection */
#define DEFAULT_REPLY_MS 5000
#define MAX_RATE_PPS 1000000
#define RATE_DEFAULT_SECONDS 2 /* --rate without -c: two seconds of packets */

static const struct dc_option ping_options[] = {
	{"node", 0, "NAME", OPT_NODE, "use this node of the region (default: the first that answers, in map order)"},
	{"mesh", 0, NULL, OPT_MESH, "put B on another node of the region than A, to test that the nodes forward to each other"},
	{"count", 'c', "N", OPT_COUNT, "send N packets (default 5)"},
	{"interval", 'i', "DURATION", OPT_INTERVAL, "wait DURATION between packets (default 1s)"},
	{"size", 0, "BYTES", OPT_SIZE, "bytes per relayed packet, 33 to 65536 (default 64)"},
	{"rate", 0, "PPS", OPT_RATE, "load test: A sends -c packets (default 2 seconds' worth) to B at PPS packets/s, nothing echoed; reports the rate delivered, loss and one-way delay"},
	{"flood", 0, NULL, OPT_FLOOD, "load test: from 1,000 packets/s, double the rate every half second until the relay drops packets; reports the highest rate delivered without loss"},
	{0},
};

const struct dc_command_spec dc_ping_spec = {
	.name = "ping",
	.args = "REGION|HOST[:PORT]",
	.summary = "relay test packets through a DERP region and report RTT, loss and jitter",
	.description =
		"Connects two clients with throwaway keys, A and B, to the region as Tailscale\n"
		"does (TLS checked like Tailscale, HTTP upgrade, DERP handshake). A sends numbered\n"
		"packets to B every interval and B echoes each one back through the relay; a line\n"
		"is printed per reply, then loss, round-trip times, the server's own ping time and\n"
		"each connection's phases. REGION is a region ID or code from --derp-map; HOST[:PORT]\n"
		"pings one server directly.\n"
		"--rate and --flood load the relay instead: A sends and B only counts (the relay\n"
		"carries each packet once).",
	.shared = DC_SHARED_ALL | DC_SHARED_TRANSPORT,
	.options = ping_options,
	.verbose = "the map used, which node forwards to which, and the server's own frames (pings answered, peers gone, keep-alives)",
	.exit_status = {
		"every packet came back through the relay and every certificate is verified (--rate: "
		"the rate was delivered without loss; --flood: some rate was)",
		"a packet was lost, a connection failed (DNS, TCP, TLS, HTTP upgrade, DERP handshake, "
		"admission), or a certificate is not verified (rejected, or InsecureForTests on the node)",
		"a usage error, an unreadable map, an unknown region, or a --ca-file that cannot be loaded",
	},
};

struct ping_args {
	const char *node;
	bool mesh;
	unsigned count;
	long interval_ms;
	size_t size;
	unsigned rate_pps;
	bool flood;
	bool count_given, interval_given;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct ping_args *a = user;
	long long v;
	switch (id) {
	case OPT_NODE:
		a->node = arg;
		return 0;
	case OPT_MESH:
		a->mesh = true;
		return 0;
	case OPT_COUNT:
		if (dc_parse_int(arg, 1, 100000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --count '%s'", arg);
			dc_error_hint(err, "give a number of packets from 1 to 100000");
			return -1;
		}
		a->count = (unsigned)v;
		a->count_given = true;
		return 0;
	case OPT_INTERVAL:
		if (dc_parse_duration_ms(arg, 1, 60000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --interval '%s'", arg);
			dc_error_hint(err, "give a duration from 1ms to 60s, such as 1s, 200ms or 0.5");
			return -1;
		}
		a->interval_ms = (long)v;
		a->interval_given = true;
		return 0;
	case OPT_SIZE:
		if (dc_parse_int(arg, DC_PING_MIN_SIZE, DC_PING_MAX_SIZE, &v) < 0) {
			dc_error_set(err, NULL, "invalid --size '%s'", arg);
			dc_error_hint(err, "give %u to %u bytes: a packet carries a sequence number and two timestamps, and DERP relays at most 64 KiB",
				      DC_PING_MIN_SIZE, DC_PING_MAX_SIZE);
			return -1;
		}
		a->size = (size_t)v;
		return 0;
	case OPT_RATE:
		if (dc_parse_int(arg, 1, MAX_RATE_PPS, &v) < 0) {
			dc_error_set(err, NULL, "invalid --rate '%s'", arg);
			dc_error_hint(err, "give packets per second, from 1 to %d", MAX_RATE_PPS);
			return -1;
		}
		a->rate_pps = (unsigned)v;
		return 0;
	case OPT_FLOOD:
		a->flood = true;
		return 0;
	}
	return dc_error_set(err, NULL, "option %d is not handled", id);
}

/* What the positional argument named. */
struct target {
	const struct dc_derp_region *region;
	bool host;
	/* a HOST[:PORT] target is a one-node region of its own */
	struct dc_derp_region own_region;
	struct dc_derp_node own_node;
	bool port_given;
	char host_name[256], ipv4[256], ipv6[256];
};

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool looks_like_host(const char *s)
{
	return strchr(s, '.') || strchr(s, ':') || strcasecmp(s, "localhost") == 0;
}

/* HOST, HOST:PORT, [V6]:PORT or a bare IPv6 literal. */
static int parse_host(const char *arg, struct target *t, struct dc_error *err)
{
	char host[256];
	long long port = 443;
	const char *colon = strrchr(arg, ':');
	unsigned char ip[16];
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (!close || (close[1] && (close[1] != ':' || dc_parse_int(close + 2, 1, 65535, &port) < 0)))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - arg - 1), arg + 1);
		t->port_given = close[1] != '\0';
	} else if (colon && strchr(arg, ':') == colon) {
		if (dc_parse_int(colon + 1, 1, 65535, &port) < 0)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
		t->port_given = true;
	} else {
		snprintf(host, sizeof(host), "%s", arg); /* a bare IPv6 literal has several colons */
	}
	if (!*host)
		goto bad;
	snprintf(t->host_name, sizeof(t->host_name), "%s", host);
	if (inet_pton(AF_INET, host, ip) == 1)
		snprintf(t->ipv4, sizeof(t->ipv4), "%s", host);
	else if (inet_pton(AF_INET6, host, ip) == 1)
		snprintf(t->ipv6, sizeof(t->ipv6), "%s", host);
	else if (strchr(host, ':'))
		goto bad;
	/* An address given directly is dialled directly; the other family is off. */
	if (t->ipv4[0] && !t->ipv6[0])
		snprintf(t->ipv6, sizeof(t->ipv6), "none");
	if (t->ipv6[0] && strcmp(t->ipv6, "none") != 0)
		snprintf(t->ipv4, sizeof(t->ipv4), "none");
	t->own_node = (struct dc_derp_node){
		.name = t->host_name, .host_name = t->host_name, .cert_name = "", .ipv4 = t->ipv4, .ipv6 = t->ipv6,
		.stun_test_ip = "", .derp_port = port,
	};
	t->own_region = (struct dc_derp_region){.code = t->host_name, .name = "", .nodes = &t->own_node, .node_count = 1};
	t->region = &t->own_region;
	t->host = true;
	return 0;
bad:
	dc_error_set(err, NULL, "'%s' is neither a region nor HOST[:PORT]", arg);
	dc_error_hint(err, "give a region ID or code from --derp-map, or a server as derp.example.com:443, 203.0.113.10:8443 or [2001:db8::1]:443");
	return -1;
}

static const struct dc_derp_region *find_region(const struct dc_derpmap *map, const char *arg)
{
	if (all_digits(arg)) {
		long long id;
		if (dc_parse_int(arg, 0, INT64_MAX, &id) == 0)
			return dc_derpmap_region(map, id);
		return NULL;
	}
	for (size_t i = 0; i < map->region_count; i++)
		if (!map->regions[i].removed && strcmp(map->regions[i].code, arg) == 0)
			return &map->regions[i];
	for (size_t i = 0; i < map->region_count; i++)
		if (!map->regions[i].removed && strcasecmp(map->regions[i].code, arg) == 0)
			return &map->regions[i];
	return NULL;
}

/* A HOST that is some node's HostName (and DERPPort, if a port was given): that node, with
 * the map's addresses and CertName. */
static const struct dc_derp_region *find_host(const struct dc_derpmap *map, const struct target *t, const char **node)
{
	for (size_t i = 0; i < map->region_count; i++)
		for (size_t k = 0; k < map->regions[i].node_count; k++) {
			const struct dc_derp_node *n = &map->regions[i].nodes[k];
			if (!n->stun_only && strcasecmp(n->host_name, t->host_name) == 0 &&
			    (!t->port_given || dc_node_derp_port(n) == dc_node_derp_port(&t->own_node))) {
				*node = n->name;
				return &map->regions[i];
			}
		}
	return NULL;
}

static void unknown_region(const struct dc_derpmap *map, const char *arg, const char *map_name, struct dc_error *err)
{
	const char *codes[64];
	size_t n = 0;
	for (size_t i = 0; i < map->region_count && n < DC_ARRAY_LEN(codes); i++)
		if (!map->regions[i].removed && *map->regions[i].code)
			codes[n++] = map->regions[i].code;
	dc_error_set(err, map_name, "no region '%s' in this map", arg);
	const char *guess = dc_closest(arg, codes, n);
	if (guess)
		dc_error_hint(err, "did you mean %s?", guess);
	else
		dc_error_hint(err, "give a region ID or code of the map (derpcheck validate lists them), or HOST[:PORT]");
}

static size_t relaying_nodes(const struct dc_derp_region *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->node_count; i++)
		n += !r->nodes[i].stun_only;
	return n;
}

static int check_node_choice(const struct dc_derp_region *r, const struct ping_args *a, bool host, struct dc_error *err)
{
	if (a->node && !host) {
		const struct dc_derp_node *found = NULL;
		for (size_t i = 0; i < r->node_count; i++)
			if (strcmp(r->nodes[i].name, a->node) == 0)
				found = &r->nodes[i];
		if (!found) {
			const char *names[64];
			size_t n = 0;
			for (size_t i = 0; i < r->node_count && n < DC_ARRAY_LEN(names); i++)
				names[n++] = r->nodes[i].name;
			dc_error_set(err, NULL, "region %lld has no node named '%s'", (long long)r->id, a->node);
			const char *guess = dc_closest(a->node, names, n);
			if (guess)
				dc_error_hint(err, "did you mean --node %s?", guess);
			else if (n)
				dc_error_hint(err, "its first node is %s", names[0]);
			return -1;
		}
		if (found->stun_only) {
			dc_error_set(err, NULL, "node %s is STUNOnly: it answers STUN but relays nothing", a->node);
			dc_error_hint(err, "pick a node without \"STUNOnly\": true");
			return -1;
		}
	}
	if (a->mesh && relaying_nodes(r) < 2) {
		dc_error_set(err, NULL, "--mesh needs two DERP nodes in the region; %s has %zu", host ? "a single HOST" : "this region",
			     relaying_nodes(r));
		dc_error_hint(err, "--mesh checks that the nodes of one region forward to each other; without it A and B share one node");
		return -1;
	}
	return 0;
}

/* --rate and --flood set their own pace; -i and (for --flood) -c would be ignored. */
static int check_load_args(struct ping_args *a, struct dc_error *err)
{
	if (a->rate_pps && a->flood) {
		dc_error_set(err, NULL, "--rate and --flood cannot be combined");
		dc_error_hint(err, "--rate holds one rate; --flood finds the highest the relay delivers");
		return -1;
	}
	if ((a->rate_pps || a->flood) && a->interval_given) {
		dc_error_set(err, NULL, "-i sets the ping interval; %s sets its own pace", a->flood ? "--flood" : "--rate");
		dc_error_hint(err, "drop -i, or drop %s to ping", a->flood ? "--flood" : "--rate");
		return -1;
	}
	if (a->flood && a->count_given) {
		dc_error_set(err, NULL, "--flood sends as many packets as its steps need; -c does not apply");
		dc_error_hint(err, "drop -c, or use --rate PPS -c N for a fixed number of packets");
		return -1;
	}
	if (a->rate_pps && !a->count_given)
		a->count = a->rate_pps * RATE_DEFAULT_SECONDS;
	return 0;
}

struct event_ctx {
	struct dc_ping_report *rep;
	bool quiet;
};

static void on_event(void *user, const struct dc_ping_event *ev)
{
	struct event_ctx *ctx = user;
	if (ctx->quiet && ev->kind != DC_PING_EV_LOST && ev->kind != DC_PING_EV_HEALTH && ev->kind != DC_PING_EV_RESTARTING)
		return;
	dc_output_ping_event(stdout, ctx->rep, ev);
}

/*
 * What clients make of each connected client's certificate (judge/trust.h): a relay that
 * works only with checks off, or only because of --insecure, is a problem. False then.
 */
static bool judge_certificates(struct dc_ping_report *rep)
{
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		const struct dc_ping_client *c = &rep->result->clients[i];
		if (!c->connected)
			continue;
		struct dc_tlscheck_call call;
		char hostport[300];
		dc_output_ping_cert_call(rep, c->conn.node, c->conn.tls.peer, &call, hostport, sizeof(hostport));
		dc_trust_judge_tls(c->conn.node, dc_tls_peer_chain(&c->conn.tls), c->conn.verified ? &c->conn.verdict : NULL,
				   &call, &rep->trust[i]);
		rep->trust_judged[i] = true;
		/* Unknown only with --insecure and a trust store that would not load: not a finding about the server. */
		ok = ok && (rep->trust[i].state == DC_TRUST_VERIFIED || rep->trust[i].state == DC_TRUST_UNKNOWN);
	}
	return ok;
}

int dc_cmd_ping(struct dc_cli *cli, int argc, char **argv)
{
	struct ping_args a = {.count = DEFAULT_COUNT, .interval_ms = DEFAULT_INTERVAL_MS, .size = DEFAULT_SIZE};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_ping_spec, argc, argv, on_option, &a, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	if (nargs != 1) {
		dc_error_set(&err, NULL, nargs ? "ping takes one REGION or HOST[:PORT], not %d" : "ping needs a REGION or HOST[:PORT]", nargs);
		dc_error_hint(&err, "e.g. derpcheck ping --derp-map policy.hujson 900, or derpcheck ping derp.example.com:443");
		dc_report_error(&err);
		free(args);
		return DC_EXIT_USAGE;
	}
	const char *given = args[0];
	free(args);
	if (check_load_args(&a, &err) < 0) {
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}

	struct target t;
	memset(&t, 0, sizeof(t));
	struct dc_map_choice choice;
	bool have_choice = false;
	int status = DC_EXIT_USAGE;
	const char *node = a.node;

	/* A HOST target needs no map; a region always does (the embedded one if none is given). */
	if (!cli->derp_map && !all_digits(given) && looks_like_host(given)) {
		if (parse_host(given, &t, &err) < 0)
			goto usage;
	} else {
		if (dc_command_map(cli, &choice) < 0)
			return DC_EXIT_USAGE;
		have_choice = true;
		const struct dc_derpmap *map = choice.map;
		t.region = find_region(map, given);
		if (!t.region && looks_like_host(given)) {
			if (parse_host(given, &t, &err) < 0)
				goto usage;
			const char *host_node = NULL;
			const struct dc_derp_region *r = find_host(map, &t, &host_node);
			if (r) {
				t.region = r;
				t.host = false;
				if (!node)
					node = host_node;
			}
		}
		if (!t.region) {
			unknown_region(map, given, choice.name, &err);
			goto usage;
		}
	}
	a.node = node;
	if (check_node_choice(t.region, &a, t.host, &err) < 0)
		goto usage;

	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: derpcheck connects whatever the certificate; it is still judged as Tailscale clients judge it, and a problem still fails the ping\n");

	struct dc_ping_opts opts = {
		.region = t.region, .node = a.node, .mesh = a.mesh, .count = a.count, .interval_ms = a.interval_ms,
		.size = a.size, .reply_timeout_ms = cli->timeout_ms ? cli->timeout_ms : DEFAULT_REPLY_MS,
		.connect_timeout_ms = cli->timeout_ms ? cli->timeout_ms : DEFAULT_CONNECT_MS, .family = cli->family,
		.ca_file = cli->ca_file, .insecure = cli->insecure, .rate_pps = a.rate_pps, .flood = a.flood,
		.transport = (enum dc_derp_transport)cli->transport,
	};
	struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
	struct dc_ping_result result;
	struct dc_ping_report rep = {
		.opts = &opts, .result = &result, .region = t.region, .host_target = t.host, .target = given,
		.map_name = have_choice ? choice.name : NULL, .map_source = have_choice ? dc_map_source_name(choice.source) : NULL,
		.ca_file = cli->ca_file, .style = &style, .verbose = cli->verbose,
		.map_spec = have_choice ? dc_map_spec_for_command(cli->derp_map ? cli->derp_map : choice.name) : NULL,
		.map_format = cli->derp_map ? dc_map_format_flag(cli->map_format) : NULL,
	};
	struct event_ctx ctx = {.rep = &rep, .quiet = cli->quiet};
	if (cli->format == DC_FORMAT_TEXT) {
		opts.on_event = on_event;
		opts.user = &ctx;
		if (!cli->quiet) {
			dc_output_ping_header(stdout, &rep);
			fflush(stdout);
		}
	}
	int rc = dc_ping_run(&opts, &result);
	bool trusted = judge_certificates(&rep);
	if (cli->format == DC_FORMAT_JSON) {
		dc_output_ping_json(stdout, &rep);
	} else if (!cli->quiet || rc < 0) {
		dc_output_ping_summary(stdout, &rep);
	}
	fflush(stdout);
	dc_output_ping_failure(stderr, &rep);
	dc_output_ping_trust(stderr, &rep);
	bool local_problem = result.stage == DC_PING_SETUP_FAILED && result.clients[result.failed_client].conn.failure == DC_DERP_TRUST_STORE;
	status = rc == 0 && trusted && !dc_ping_websocket_only(&result) ? DC_EXIT_OK : local_problem ? DC_EXIT_USAGE : DC_EXIT_PROBLEMS;
	dc_ping_result_free(&result);
	goto out;
usage:
	dc_report_error(&err);
out:
	if (have_choice)
		dc_map_choice_free(&choice);
	return status;
}
