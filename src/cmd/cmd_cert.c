/* derpcheck cert: why a DERP server's TLS certificate fails, for which clients, and the fix. */
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "derpcheck/judge/certfiles.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output_cert.h"
#include "derpcheck/judge/tlscheck.h"
#include "derpcheck/judge/trust.h"
#include "derpcheck/judge/validate.h"

#include "derpcheck/net/ossl.h"

enum {
	OPT_SERVERNAME = 1,
	OPT_REGION,
	OPT_NO_AIA,
	OPT_WRITE_FULLCHAIN,
	OPT_CERTDIR,
	OPT_HOSTNAME,
	OPT_CERT_FILE,
	OPT_KEY_FILE,
};

static const struct dc_option cert_options[] = {
	{"servername", 0, "NAME", OPT_SERVERNAME, "TLS name to send and check (the node's HostName; default: HOST)"},
	{"region", 0, "ID", OPT_REGION, "check every DERP node of region ID in the --derp-map"},
	{"no-aia", 0, NULL, OPT_NO_AIA, "do not fetch missing intermediates from caIssuers (AIA) URLs"},
	{"write-fullchain", 0, "FILE", OPT_WRITE_FULLCHAIN, "write the corrected chain (leaf, intermediates) as PEM to FILE"},
	{"certdir", 0, "DIR", OPT_CERTDIR, "check derper's manual-mode files <DIR>/<hostname>.crt and .key"},
	{"hostname", 0, "NAME", OPT_HOSTNAME, "derper's --hostname (names the files; the TLS name it accepts)"},
	{"cert-file", 0, "FILE", OPT_CERT_FILE, "check this certificate file instead of --certdir's"},
	{"key-file", 0, "FILE", OPT_KEY_FILE, "check this key file instead of --certdir's"},
	{0},
};

const struct dc_command_spec dc_cert_spec = {
	.name = "cert",
	.args = "HOST[:PORT] | --region ID | --certdir DIR --hostname NAME",
	.summary = "explain TLS certificate problems of a DERP server and how to fix them",
	.description =
		"Captures the chain the server sends (any certificate), then judges it as curl,\n"
		"Tailscale on Linux/Android, Tailscale on macOS/iOS/Windows and browsers do,\n"
		"explains every problem with its fix, and can write the corrected chain.\n"
		"With --certdir (or --cert-file/--key-file) it repeats derper's start-up checks\n"
		"on the files, and with a HOST or --region too compares the served leaf with the\n"
		"file's (with --region, the nodes' HostName names the files).\n"
		"--insecure only affects fetching a --derp-map URL; the certificate under test\n"
		"is always checked in full.",
	.shared = DC_SHARED_ALL,
	.options = cert_options,
	.verbose = "each certificate's serial number, key usage, extended key usage, basic constraints, key identifiers and issuer URLs; each connection's address and TLS name, on standard error",
	.exit_status = {
		"every client accepts the chain and the files pass derper's checks (warnings are allowed)",
		"a problem was found: a client rejects the chain, the port speaks plain HTTP or refuses "
		"the TLS name, a node of --region does not answer, a node has InsecureForTests, or the "
		"files fail derper's checks",
		"a usage or input error: an unreadable map, file or directory, an unknown region, "
		"nothing answering at a HOST given on the command line (name resolution or TCP failed), "
		"or --write-fullchain that could not write",
	},
};

struct cert_opts {
	const char *servername;
	const char *region;
	bool no_aia;
	const char *write_fullchain;
	const char *certdir;
	const char *hostname;
	const char *cert_file;
	const char *key_file;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	(void)err;
	struct cert_opts *o = user;
	switch (id) {
	case OPT_SERVERNAME: o->servername = arg; break;
	case OPT_REGION: o->region = arg; break;
	case OPT_NO_AIA: o->no_aia = true; break;
	case OPT_WRITE_FULLCHAIN: o->write_fullchain = arg; break;
	case OPT_CERTDIR: o->certdir = arg; break;
	case OPT_HOSTNAME: o->hostname = arg; break;
	case OPT_CERT_FILE: o->cert_file = arg; break;
	case OPT_KEY_FILE: o->key_file = arg; break;
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

/* "host", "host:port", "[v6]:port", or a bare IPv6 address. */
static int split_host_port(const char *spec, char *host, size_t hn, int *port, struct dc_error *err)
{
	*port = 443;
	if (strstr(spec, "://")) {
		dc_error_set(err, NULL, "'%s' is a URL; give HOST or HOST:PORT", spec);
		dc_error_hint(err, "e.g. derpcheck cert derp.example.com:443");
		return -1;
	}
	const char *colon = NULL;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || (end[1] && end[1] != ':'))
			return dc_error_set(err, NULL, "'%s' is not [IPv6]:PORT", spec);
		snprintf(host, hn, "%.*s", (int)(end - spec - 1), spec + 1);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		snprintf(host, hn, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	}
	if (colon) {
		long long p;
		if (dc_parse_int(colon + 1, 1, 65535, &p) < 0) {
			dc_error_set(err, NULL, "invalid port in '%s'", spec);
			dc_error_hint(err, "the port is a number from 1 to 65535, e.g. derp.example.com:8443");
			return -1;
		}
		*port = (int)p;
	}
	if (!*host)
		return dc_error_set(err, NULL, "no host in '%s'", spec);
	return 0;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Resolve and check one server; target->failed with err when nothing answered. */
static void check_server(const char *host, int port, int family, struct dc_tlscheck_opts *topts, struct dc_cert_target *t,
			 int verbose)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%d", port);
	unsigned char buf[16];
	int literal = inet_pton(AF_INET, host, buf) == 1 ? 4 : inet_pton(AF_INET6, host, buf) == 1 ? 6 : 0;
	if (literal && family && literal != family) {
		t->failed = true;
		dc_error_set(&t->err, host, "an IPv%d address, but -%d asks for IPv%d only", literal, family, family);
		dc_error_hint(&t->err, "drop -%d, or give an IPv%d address", family, family);
		return;
	}
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		t->failed = true;
		dc_error_set(&t->err, host, "cannot resolve: %s", gai_strerror(rc));
		dc_error_hint(&t->err, family ? "check the name, or drop -4/-6" : "check the name and DNS, or give the IP address with --servername NAME");
		return;
	}
	int tried = 0;
	for (struct addrinfo *ai = res; ai && tried < 4; ai = ai->ai_next, tried++) {
		dc_cert_report_init(&t->report);
		char peer[INET6_ADDRSTRLEN + 8];
		dc_sockaddr_format(ai->ai_addr, peer, sizeof(peer));
		if (topts->host_name && strcmp(topts->host_name, host) != 0 && !is_ip(topts->host_name))
			snprintf(t->label, sizeof(t->label), "%s at %s", topts->host_name, peer);
		else if (!is_ip(host))
			snprintf(t->label, sizeof(t->label), "%s at %s", host, peer);
		else
			snprintf(t->label, sizeof(t->label), "%s", peer);
		if (verbose)
			fprintf(stderr, "derpcheck: connecting to %s, TLS name %s\n", peer,
				topts->host_name && !is_ip(topts->host_name) ? topts->host_name : "(none: an IP address)");
		if (dc_tlscheck_connect(ai->ai_addr, ai->ai_addrlen, topts, &t->report, &t->err) == 0) {
			t->failed = false;
			/* A failed handshake leaves the proxy probe nothing to learn (and a silent
			 * port would be waited for twice); plain HTTP on the port is worth asking. */
			const struct dc_tls_facts *f = &t->report.conn;
			if (!f->handshake && f->failure != DC_CONN_NOT_TLS)
				break;
			/* Nor a server that sends far more certificates than a chain needs (chain-too-long):
			 * the probe's dozen connections would each receive and parse them all again. */
			if (dc_findings_has(&t->report.findings, "chain-too-long")) {
				if (verbose)
					fprintf(stderr, "derpcheck: %s: what is in front of derper is not probed: the chain is too long\n", peer);
				break;
			}
			/* What is in front of derper on this port: the same address, the same TLS name. */
			struct dc_proxy_probe_opts po = {
				.addr = ai->ai_addr, .addrlen = ai->ai_addrlen, .host_name = topts->host_name ? topts->host_name : host,
				.port = port, .timeout_ms = topts->timeout_ms > 0 && topts->timeout_ms < 3000 ? topts->timeout_ms : 3000,
			};
			struct dc_proxy_evidence ev;
			struct dc_error perr;
			if (dc_proxy_probe_run(&po, &ev, &perr) == 0) {
				dc_proxy_judge(&ev, &t->proxy);
				t->proxy_judged = true;
				dc_proxy_evidence_free(&ev);
			}
			break;
		}
		t->failed = true;
		dc_cert_report_free(&t->report);
	}
	freeaddrinfo(res);
}

/* The address a node is dialled at, as Tailscale picks it (IPv4/IPv6 fields, else DNS). */
static const char *node_address(const struct dc_derp_node *n, int family, int *fam_out)
{
	if (family != 6 && dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_STATIC) {
		*fam_out = 4;
		return n->ipv4;
	}
	if (family != 4 && dc_node_addr_mode(n->ipv6, 6) == DC_ADDR_STATIC) {
		*fam_out = 6;
		return n->ipv6;
	}
	bool v4dns = family != 6 && dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_DNS;
	bool v6dns = family != 4 && dc_node_addr_mode(n->ipv6, 6) == DC_ADDR_DNS;
	*fam_out = v4dns && v6dns ? 0 : v4dns ? 4 : v6dns ? 6 : -1;
	return *fam_out < 0 ? NULL : n->host_name;
}

/*
 * What the map's clients make of the certificate: InsecureForTests hides nothing
 * (judge/trust.h). The fixes name the map; the command is this one, so not repeated.
 */
static void judge_trust(struct dc_cert_target *t, const struct dc_derp_node *n, const char *map_name)
{
	struct dc_trust_evidence e = {.node = n, .map_name = map_name};
	struct dc_trust_texts texts;
	dc_trust_evidence_from_report(&t->report, &e, &texts);
	dc_trust_judge(&e, &t->trust);
	t->trust_judged = true;
	dc_trust_note(&t->report, n->path, &t->trust);
}

/* The HostName every relaying node of the region shares, or NULL. */
static const char *region_host_name(const struct dc_derp_region *region)
{
	const char *name = NULL;
	for (size_t i = 0; i < region->node_count; i++) {
		const struct dc_derp_node *n = &region->nodes[i];
		if (n->stun_only)
			continue;
		if (name && strcasecmp(name, n->host_name) != 0)
			return NULL;
		name = n->host_name;
	}
	return name && *name ? name : NULL;
}

struct region_run {
	struct dc_map_doc doc;
	struct dc_derpmap defaults;
	struct dc_derpmap merged;
	bool have_doc, have_defaults, have_merged;
};

static void region_run_free(struct region_run *rr)
{
	if (rr->have_merged)
		dc_derpmap_free(&rr->merged);
	if (rr->have_defaults)
		dc_derpmap_free(&rr->defaults);
	if (rr->have_doc)
		dc_map_doc_free(&rr->doc);
}

/* Load the map and find the region; nodes that relay (not STUNOnly) are the targets. */
static const struct dc_derp_region *load_region(struct dc_cli *cli, const char *region_arg, struct region_run *rr)
{
	struct dc_error err;
	long long id;
	if (dc_parse_int(region_arg, 1, 9007199254740991LL, &id) < 0) {
		usage("--region needs a region ID (a positive integer), e.g. --region 900", NULL);
		return NULL;
	}
	struct dc_fetch_opts fetch = dc_command_fetch_opts(cli);
	dc_command_warn_plain_http(cli->derp_map);
	if (dc_map_doc_load(cli->derp_map, &fetch, &rr->doc, &err) < 0) {
		dc_report_error(&err);
		return NULL;
	}
	rr->have_doc = true;
	char *origin = dc_map_doc_origin(&rr->doc);
	if (origin && !cli->quiet)
		fprintf(stderr, "derpcheck: DERP map: %s %s: %s\n", dc_map_doc_kind(&rr->doc), rr->doc.text.name, origin);
	free(origin);
	if (!rr->doc.decoded) {
		dc_error_set(&err, cli->derp_map, "no DERP map could be read from it");
		char cmd[PATH_MAX + 64];
		dc_map_validate_hint(cli->derp_map, dc_map_format_flag(cli->map_format), cmd, sizeof(cmd));
		dc_error_hint(&err, "run %s to see why", cmd);
		dc_report_error(&err);
		return NULL;
	}
	const struct dc_derpmap *map = &rr->doc.map;
	if (dc_map_defaults(&rr->defaults) == 0)
		rr->have_defaults = true;
	if (map->shape == DC_SHAPE_POLICY && rr->have_defaults) {
		struct dc_merge_summary summary;
		dc_derpmap_merge(map, &rr->defaults, &rr->merged, &summary);
		dc_merge_summary_free(&summary);
		rr->have_merged = true;
		map = &rr->merged;
	}
	rr->doc.findings.ca_file = cli->ca_file;
	rr->doc.findings.map_format = dc_map_format_flag(cli->map_format);
	dc_validate(&rr->doc.map, rr->have_defaults ? &rr->defaults : NULL, &rr->doc.findings);
	size_t errors = dc_findings_count(&rr->doc.findings, DC_SEV_ERROR);
	if (errors) {
		char cmd[PATH_MAX + 64];
		dc_map_validate_hint(cli->derp_map, dc_map_format_flag(cli->map_format), cmd, sizeof(cmd));
		fprintf(stderr, "derpcheck: note: %s has %zu %s (see %s); checking region %lld anyway\n", cli->derp_map,
			errors, errors == 1 ? "error" : "errors", cmd, id);
	}
	const struct dc_derp_region *region = dc_derpmap_region(map, (int64_t)id);
	if (!region || region->removed) {
		char ids[200] = "";
		for (size_t i = 0; i < map->region_count && strlen(ids) < sizeof(ids) - 24; i++)
			snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%lld", i ? ", " : "",
				 (long long)map->regions[i].id);
		dc_error_set(&err, cli->derp_map, "region %lld is not in this DERP map", id);
		dc_error_hint(&err, "its regions are: %s", ids[0] ? ids : "none");
		dc_report_error(&err);
		return NULL;
	}
	return region;
}

int dc_cmd_cert(struct dc_cli *cli, int argc, char **argv)
{
	dc_ossl_need();
	struct cert_opts opts = {0};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_cert_spec, argc, argv, on_option, &opts, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	const char *host_arg = nargs > 0 ? args[0] : NULL;
	int rc = DC_EXIT_USAGE;
	bool files_mode = opts.certdir || opts.cert_file || opts.key_file;
	if (nargs > 1) {
		rc = usage("cert takes one HOST[:PORT]", "check several servers with --region ID, or run cert once per server");
		goto out_args;
	}
	if (opts.region && host_arg) {
		rc = usage("give either HOST[:PORT] or --region ID, not both", NULL);
		goto out_args;
	}
	if (opts.region && !cli->derp_map) {
		rc = usage("--region needs --derp-map", "e.g. --derp-map policy.hujson --region 900 (or --derp-map embedded: for Tailscale's default map)");
		goto out_args;
	}
	if (cli->derp_map && !opts.region) {
		rc = usage("--derp-map is only used with --region ID", NULL);
		goto out_args;
	}
	if (opts.region && opts.servername) {
		rc = usage("--servername cannot be used with --region: the nodes' HostName is the TLS name", NULL);
		goto out_args;
	}
	if (opts.certdir && (opts.cert_file || opts.key_file)) {
		rc = usage("give --certdir with --hostname, or --cert-file/--key-file, not both", NULL);
		goto out_args;
	}
	if (opts.certdir && !opts.hostname && !opts.region) {
		rc = usage("--certdir needs --hostname (derper's --hostname names the files)", "e.g. --certdir /certs --hostname derp.example.com");
		goto out_args;
	}
	if (opts.key_file && !opts.cert_file) {
		rc = usage("--key-file needs --cert-file", NULL);
		goto out_args;
	}
	if (!host_arg && !opts.region && !files_mode) {
		rc = usage("cert needs HOST[:PORT], --region ID, or --certdir DIR --hostname NAME",
			   "e.g. derpcheck cert derp.example.com, or derpcheck cert --servername derp.example.com 203.0.113.10:443");
		goto out_args;
	}
	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: the --derp-map URL is fetched without checking its certificate; "
				"the certificate under test is still checked in full\n");

	char host[256] = "";
	int port = 443;
	if (host_arg && split_host_port(host_arg, host, sizeof(host), &port, &err) < 0) {
		dc_report_error(&err);
		goto out_args;
	}
	struct region_run rr = {0};
	const struct dc_derp_region *region = NULL;
	if (opts.region) {
		region = load_region(cli, opts.region, &rr);
		if (!region)
			goto out_region;
		/* --certdir with --region: the files are named after the nodes' HostName (derper's --hostname). */
		if (files_mode && !opts.hostname && !(opts.hostname = region_host_name(region))) {
			rc = usage("the nodes of this region have different HostNames: give --hostname NAME to say whose files "
				   "--certdir holds", NULL);
			goto out_region;
		}
	}

	/* The command that reproduces this check, for the fixes' text. */
	struct dc_tlscheck_call call = {.ca_file = cli->ca_file};
	char addr[300], command[800];
	if (region) {
		call.derp_map = cli->derp_map;
		call.map_format = dc_map_format_flag(cli->map_format);
		call.region_id = region->id;
	} else if (host_arg) {
		call.host_name = opts.servername ? opts.servername : opts.hostname ? opts.hostname : host;
		snprintf(addr, sizeof(addr), "%s", host_arg);
		call.addr = addr;
	}
	if (region || host_arg) {
		dc_tlscheck_command(&call, command, sizeof(command));
	} else {
		/* Files only: the command that reads the same files. */
		snprintf(command, sizeof(command), "derpcheck cert");
		const char *const files_args[][2] = {{"--certdir", opts.certdir}, {"--hostname", opts.hostname},
					       {"--cert-file", opts.cert_file}, {"--key-file", opts.key_file},
					       {"--ca-file", cli->ca_file}};
		for (size_t i = 0; i < DC_ARRAY_LEN(files_args); i++)
			if (files_args[i][1]) {
				dc_shell_append(command, sizeof(command), files_args[i][0]);
				dc_shell_append(command, sizeof(command), files_args[i][1]);
			}
	}

	struct dc_aia_cache *cache = dc_aia_cache_new();
	struct dc_tlscheck_opts base = {
		.derper_hostname = opts.hostname, .certdir = opts.certdir, .ca_file = cli->ca_file, .no_aia = opts.no_aia,
		.timeout_ms = cli->timeout_ms, .command = command, .cache = cache,
		.revocation = true, .revocation_findings = true,
	};
	struct dc_cert_output out = {.verbose = cli->verbose > 0};
	struct dc_certfiles files;
	struct dc_cert_report files_report;
	bool have_files = false, have_files_report = false, input_error = false;
	dc_cert_report_init(&files_report);

	if (files_mode) {
		struct dc_certfiles_opts fo = {.certdir = opts.certdir, .hostname = opts.hostname, .cert_file = opts.cert_file,
					       .key_file = opts.key_file};
		if (dc_certfiles_check(&fo, &files, &err) < 0) {
			dc_report_error(&err);
			input_error = true;
			goto out_cache;
		}
		have_files = true;
		out.files = &files;
		if (files.chain) {
			struct dc_tlscheck_opts fopts = base;
			fopts.host_name = opts.hostname ? opts.hostname : opts.servername ? opts.servername : host[0] ? host : NULL;
			size_t wl = strlen(files.cert_path);
			if (wl >= sizeof(files_report.where))
				wl = sizeof(files_report.where) - 1;
			memcpy(files_report.where, files.cert_path, wl);
			files_report.where[wl] = '\0';
			if (dc_tlscheck_chain(files.chain, true, &fopts, &files_report, &err) < 0) {
				dc_report_error(&err);
				input_error = true;
				goto out_cache;
			}
			have_files_report = true;
			out.files_report = &files_report;
		}
	}

	if (region) {
		out.targets = dc_xcalloc(region->node_count ? region->node_count : 1, sizeof(*out.targets));
		for (size_t i = 0; i < region->node_count; i++) {
			const struct dc_derp_node *n = &region->nodes[i];
			if (n->stun_only)
				continue;
			struct dc_cert_target *t = &out.targets[out.count++];
			t->in_region = true;
			t->region_id = region->id;
			snprintf(t->node_name, sizeof(t->node_name), "%s", n->name ? n->name : "");
			snprintf(t->node_path, sizeof(t->node_path), "%s", n->path ? n->path : "");
			struct dc_tlscheck_opts topts = base;
			topts.host_name = n->host_name;
			topts.cert_name = n->cert_name && *n->cert_name ? n->cert_name : NULL;
			int fam = 0;
			const char *a = node_address(n, cli->family, &fam);
			if (!a) {
				t->failed = true;
				dc_error_set(&t->err, n->path, "node %s has no address %s", n->name,
					     cli->family ? "in the family asked for (-4/-6)" : "(IPv4 and IPv6 are both disabled)");
				continue;
			}
			check_server(a, dc_node_derp_port(n), fam, &topts, t, cli->verbose);
			char label[sizeof(t->label) + 200];
			snprintf(label, sizeof(label), "region %lld node %s: %s", (long long)region->id, n->name, t->label);
			memcpy(t->label, label, sizeof(t->label) - 1);
			t->label[sizeof(t->label) - 1] = '\0';
			if (!t->failed && have_files && files.chain && strcasecmp(n->host_name, opts.hostname) == 0)
				dc_tlscheck_compare_disk(&t->report, sk_X509_value(files.chain, 0), files.cert_path, 0);
			if (!t->failed)
				judge_trust(t, n, cli->derp_map);
		}
		if (out.count == 0) {
			dc_error_set(&err, cli->derp_map, "region %lld has no node that relays (all are STUNOnly)", (long long)region->id);
			dc_report_error(&err);
			input_error = true;
		}
	} else if (host_arg) {
		out.targets = dc_xcalloc(1, sizeof(*out.targets));
		out.count = 1;
		struct dc_tlscheck_opts topts = base;
		topts.host_name = call.host_name;
		check_server(host, port, cli->family, &topts, &out.targets[0], cli->verbose);
		if (have_files && files.chain && !out.targets[0].failed)
			dc_tlscheck_compare_disk(&out.targets[0].report, sk_X509_value(files.chain, 0), files.cert_path, 0);
	}
	/*
	 * Nothing answering at a HOST given on the command line is an input error (2); a node
	 * of the map that does not answer is a problem found (1), like any other of its faults.
	 */
	size_t unreachable = 0;
	for (size_t i = 0; i < out.count; i++)
		if (out.targets[i].failed) {
			dc_report_error(&out.targets[i].err);
			if (region)
				unreachable++;
			else
				input_error = true;
		}

	/* --write-fullchain: from the server's chain when one was checked, else from the files. */
	bool write_failed = false;
	if (opts.write_fullchain) {
		struct dc_cert_report *src = NULL;
		const char **written = NULL;
		for (size_t i = 0; i < out.count && !src; i++)
			if (!out.targets[i].failed && out.targets[i].report.count) {
				src = &out.targets[i].report;
				written = &out.targets[i].written;
			}
		if (!src && have_files_report) {
			src = &files_report;
			written = &out.files_written;
		}
		if (!src) {
			dc_error_set(&err, opts.write_fullchain, "not written: no certificate was captured");
			dc_report_error(&err);
			write_failed = true;
		} else if (dc_tlscheck_write_fullchain(src, opts.write_fullchain, &err) < 0) {
			dc_report_error(&err);
			write_failed = true;
		} else {
			*written = opts.write_fullchain;
		}
	}

	struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
	if (cli->format == DC_FORMAT_JSON)
		dc_output_cert_json(stdout, &out);
	else
		dc_output_cert_text(stdout, &out, &style);

	size_t errors = have_files ? dc_findings_count(&files.findings, DC_SEV_ERROR) : 0;
	if (have_files_report)
		errors += dc_cert_report_errors(&files_report);
	for (size_t i = 0; i < out.count; i++)
		if (!out.targets[i].failed)
			errors += dc_cert_report_errors(&out.targets[i].report) + dc_cert_proxy_problems(&out.targets[i]);
	rc = input_error || write_failed ? DC_EXIT_USAGE : errors || unreachable ? DC_EXIT_PROBLEMS : DC_EXIT_OK;

out_cache:
	for (size_t i = 0; i < out.count; i++)
		if (!out.targets[i].failed)
			dc_cert_report_free(&out.targets[i].report);
	free(out.targets);
	if (have_files_report)
		dc_cert_report_free(&files_report);
	if (have_files)
		dc_certfiles_free(&files);
	dc_aia_cache_free(cache);
	if (input_error)
		rc = DC_EXIT_USAGE;
out_region:
	region_run_free(&rr);
out_args:
	free(args);
	return rc;
}
