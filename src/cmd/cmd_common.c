/* Command-layer helpers shared by several commands. */
#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "derpcheck/net/localapi.h"
#include "derpcheck/input/effective.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/net/netaddr.h"
#include "derpcheck/output/term.h"
#include "derpcheck/util/file.h"

int dc_command_start(struct dc_cli *cli, const struct dc_command_spec *spec, int argc, char **argv,
		     dc_option_handler on_option, void *user, char ***args, int *nargs)
{
	struct dc_error err;
	if (dc_cli_parse(cli, spec, argc, argv, on_option, user, args, nargs, NULL, &err) < 0) {
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	if (cli->help) {
		dc_cli_print_command_help(stdout, spec);
		free(*args);
		*args = NULL;
		return DC_EXIT_OK;
	}
	return DC_COMMAND_GO;
}

void dc_command_warn_plain_http(const char *spec)
{
	if (spec && strncasecmp(spec, "http://", 7) == 0)
		fprintf(stderr, "derpcheck: warning: %s is fetched over plain http://: anyone on the path can change the map; "
				"serve it over https://\n", dc_term_safe(spec));
}

struct dc_fetch_opts dc_command_fetch_opts(const struct dc_cli *cli)
{
	struct dc_fetch_opts f = {.ca_file = cli->ca_file, .insecure = cli->insecure, .timeout_ms = cli->timeout_ms,
				  .family = cli->family, .format = cli->map_format};
	return f;
}

void dc_command_map_origin(const struct dc_cli *cli, const struct dc_map_choice *choice)
{
	if (cli->quiet || !choice->have_doc)
		return;
	char *origin = dc_map_doc_origin(&choice->doc);
	if (origin) {
		char what[600];
		dc_map_choice_describe(choice, what, sizeof(what));
		fprintf(stderr, "derpcheck: DERP map: %s: %s\n", what, origin);
	}
	free(origin);
}

int dc_command_map(const struct dc_cli *cli, struct dc_map_choice *choice)
{
	dc_command_warn_plain_http(cli->derp_map);
	struct dc_map_choice_opts opts = {
		.spec = cli->derp_map,
		.socket_path = cli->derp_map ? NULL : dc_localapi_default_socket(),
		.localapi_timeout_ms = cli->timeout_ms,
		.try_default_url = true,
		.fetch = dc_command_fetch_opts(cli),
	};
	struct dc_error err;
	if (dc_map_choose(&opts, choice, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(choice);
		return -1;
	}
	dc_command_map_origin(cli, choice);
	if (!cli->derp_map && !cli->quiet) {
		char what[600];
		dc_map_choice_describe(choice, what, sizeof(what));
		fprintf(stderr, "derpcheck: no --derp-map given: using %s%s%s%s\n", dc_term_safe(what), choice->note ? " (" : "",
			dc_term_safe(choice->note), choice->note ? ")" : "");
	}
	return 0;
}

int dc_command_bind_address(const char *arg, struct dc_endpoint *out, struct dc_error *err)
{
	if (dc_ip_parse(arg, 0, out) < 0) {
		dc_error_set(err, NULL, "invalid --bind-address '%s'", arg);
		dc_error_hint(err, "give an IPv4 or IPv6 address of this machine, without a port (see --bind-port)");
		return -1;
	}
	return 0;
}

int dc_command_bind_port(const char *arg, uint16_t *out, struct dc_error *err)
{
	long long v;
	if (dc_parse_int(arg, 0, 65535, &v) < 0) {
		dc_error_set(err, NULL, "invalid --bind-port '%s'", arg);
		dc_error_hint(err, "give a UDP port from 0 (any) to 65535");
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

int dc_command_stun_port_guess(const char *arg, uint16_t *ports, size_t *n, size_t max, struct dc_error *err)
{
	const char *p = arg;
	do {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char one[16];
		long long v;
		if (len == 0 || len >= sizeof(one) || (memcpy(one, p, len), one[len] = '\0', dc_parse_int(one, 1, 65535, &v) < 0)) {
			dc_error_set(err, NULL, "invalid --stun-port-guess '%s'", arg);
			dc_error_hint(err, "give UDP ports from 1 to 65535, separated by commas (e.g. 3479,40000)");
			return -1;
		}
		if (*n >= max) {
			dc_error_set(err, NULL, "at most %zu --stun-port-guess ports", max);
			return -1;
		}
		ports[(*n)++] = (uint16_t)v;
		p = comma ? comma + 1 : NULL;
	} while (p);
	return 0;
}

int dc_command_now(int64_t *now, struct dc_error *err)
{
	const char *pin = getenv("DERPCHECK_NOW");
	long long v;
	if (!pin || !*pin) {
		*now = (int64_t)time(NULL);
		return 0;
	}
	if (dc_parse_int(pin, 0, INT64_MAX, &v) < 0) {
		dc_error_set(err, NULL, "invalid DERPCHECK_NOW '%s'", pin);
		dc_error_hint(err, "give Unix seconds (date +%%s), or unset it");
		return -1;
	}
	*now = v;
	return 0;
}

bool dc_command_locale_utf8(void)
{
	const char *prev = setlocale(LC_CTYPE, "");
	bool utf8 = prev && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	setlocale(LC_CTYPE, "C");
	return utf8;
}

/* REGION by ID or RegionCode; a near miss gets the whole command back, ready to paste. */
static const struct dc_derp_region *find_region(const struct dc_cli *cli, const struct dc_map_choice *maps,
						const char *arg, struct dc_error *err)
{
	const char *guess;
	const struct dc_derp_region *region = dc_region_find(maps->map, arg, maps->name, NULL, &guess, err);
	if (!region && guess && cli->derp_map && dc_map_spec_for_command(cli->derp_map)) {
		/* The whole command, so that it can be pasted (diagnose takes REGION, not --region). */
		char cmd[800] = "derpcheck diagnose";
		dc_shell_append(cmd, sizeof(cmd), "--derp-map");
		dc_shell_append(cmd, sizeof(cmd), cli->derp_map);
		if (dc_map_format_flag(cli->map_format)) {
			dc_shell_append(cmd, sizeof(cmd), "--map-format");
			dc_shell_append(cmd, sizeof(cmd), dc_map_format_flag(cli->map_format));
		}
		if (cli->ca_file) {
			dc_shell_append(cmd, sizeof(cmd), "--ca-file");
			dc_shell_append(cmd, sizeof(cmd), cli->ca_file);
		}
		dc_shell_append(cmd, sizeof(cmd), guess);
		dc_error_hint(err, "did you mean `%s`?", cmd);
	}
	return region;
}

int dc_command_regions(const struct dc_cli *cli, const struct dc_map_choice *maps, char **args, int nargs, bool all,
		       const struct dc_derp_region ***out, size_t *count, struct dc_error *err)
{
	const struct dc_derp_region **items = dc_xcalloc(maps->map->region_count + (size_t)nargs + 1, sizeof(*items));
	size_t n = 0;
	if (all)
		for (size_t i = 0; i < maps->map->region_count; i++)
			items[n++] = &maps->map->regions[i];
	for (int k = 0; k < nargs; k++) {
		const struct dc_derp_region *region = find_region(cli, maps, args[k], err);
		if (!region) {
			free(items);
			return -1;
		}
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen = seen || items[i] == region;
		if (!seen)
			items[n++] = region;
	}
	*out = items;
	*count = n;
	return 0;
}

int dc_command_cert_warn_days(const char *arg, int *out, struct dc_error *err)
{
	long long v;
	if (dc_parse_int(arg, 1, 3650, &v) < 0) {
		dc_error_set(err, NULL, "invalid --cert-warn-days '%s'", arg);
		dc_error_hint(err, "give a number of days from 1 to 3650");
		return -1;
	}
	*out = (int)v;
	return 0;
}

int dc_command_mesh_psk_file(const char *path, char out[DC_MESH_KEY_MAX + 1], struct dc_error *err)
{
	int fd = dc_file_open_regular(path, err);
	if (fd < 0)
		return -1;
	struct dc_buf b = {0};
	int rc = dc_file_read_fd(fd, path, 4096, &b, err);
	close(fd);
	if (rc < 0) {
		dc_buf_free(&b);
		return -1;
	}
	const char *p = b.data ? b.data : "";
	size_t len = b.len;
	while (len && strchr(" \t\r\n\v\f", *p)) {
		p++;
		len--;
	}
	while (len && strchr(" \t\r\n\v\f", p[len - 1]))
		len--;
	bool hex = len >= 64 && len <= DC_MESH_KEY_MAX;
	for (size_t i = 0; hex && i < len; i++)
		hex = strchr("0123456789abcdefABCDEF", p[i]) != NULL;
	if (!hex) {
		dc_buf_free(&b);
		dc_error_set(err, path, "not a mesh key: derper wants 64 or more hex digits (up to %d here)", DC_MESH_KEY_MAX);
		dc_error_hint(err, "give the file derper reads with -mesh-psk-file");
		return -1;
	}
	memcpy(out, p, len);
	out[len] = '\0';
	dc_buf_free(&b);
	return 0;
}
