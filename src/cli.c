#include "derpcheck/cli.h"


#include <errno.h>
#include "derpcheck/probe/derpconn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/output/term.h"
#include "derpcheck/probe/derpconn.h"
#include "derpcheck/util/file.h"

enum {
	OPT_FORMAT = -100,
	OPT_COLOR,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_HELP,
	OPT_DERP_MAP,
	OPT_CA_FILE,
	OPT_INSECURE,
	OPT_TIMEOUT,
	OPT_IPV4,
	OPT_IPV6,
	OPT_MAP_FORMAT,
	OPT_TRANSPORT,
};

static const struct dc_option global_options[] = {
	{"format", 0, "text|json|json-line|prometheus", OPT_FORMAT, "output format (default text; json-line: netcheck only; prometheus: diagnose only)"},
	{"color", 0, "auto|always|never", OPT_COLOR, "colour text output (default auto: only on a terminal, never with NO_COLOR)"},
	{"verbose", 'v', NULL, OPT_VERBOSE, "say more (the command's --help says what)"},
	{"quiet", 'q', NULL, OPT_QUIET, "print only problems"},
	{"help", 'h', NULL, OPT_HELP, "show help and exit"},
	{0},
};

/* Help order; each maps to its DC_SHARED_* bit in shared_enabled. */
static const struct dc_option shared_options[] = {
	{"derp-map", 0, "FILE|URL|-", OPT_DERP_MAP, "the DERP map, policy file or Headscale config to use (embedded: for the built-in snapshot)"},
	{"map-format", 0, DC_MAP_FORMAT_WORDS, OPT_MAP_FORMAT, "how to read map files (default auto: by file name, then content)"},
	{"ca-file", 0, "FILE", OPT_CA_FILE, "trust the CA certificates in FILE (PEM) instead of the system store"},
	{"insecure", 0, NULL, OPT_INSECURE, "go on through certificates that do not verify; DERP nodes' are still judged (warns)"},
	{"timeout", 0, "DURATION", OPT_TIMEOUT, "give up waiting after DURATION (e.g. 5s, 500ms)"},
	{"ipv4", '4', NULL, OPT_IPV4, "use IPv4 only"},
	{"ipv6", '6', NULL, OPT_IPV6, "use IPv6 only"},
	{"transport", 0, "derp|websocket|auto", OPT_TRANSPORT, "how DERP travels after TLS: Upgrade: DERP as tailscaled (default), WebSocket as browsers, or auto (DERP, then WebSocket when refused)"},
	{0},
};

static bool shared_enabled(const struct dc_command_spec *spec, const struct dc_option *o)
{
	if (!spec)
		return false;
	unsigned bit;
	switch (o->id) {
	case OPT_DERP_MAP: bit = DC_SHARED_DERP_MAP; break;
	case OPT_CA_FILE: bit = DC_SHARED_CA_FILE; break;
	case OPT_INSECURE: bit = DC_SHARED_INSECURE; break;
	case OPT_TIMEOUT: bit = DC_SHARED_TIMEOUT; break;
	case OPT_MAP_FORMAT: bit = DC_SHARED_MAP_FORMAT; break;
	case OPT_TRANSPORT: bit = DC_SHARED_TRANSPORT; break;
	default: bit = DC_SHARED_FAMILY; break;
	}
	return (spec->shared & bit) != 0;
}

void dc_cli_init(struct dc_cli *cli)
{
	memset(cli, 0, sizeof(*cli));
}

/* Every option a command accepts, in help order: its own, shared, global. */
static size_t accepted_options(const struct dc_command_spec *spec, const struct dc_option **out, size_t max)
{
	size_t n = 0;
	if (spec && spec->options)
		for (const struct dc_option *o = spec->options; o->long_name && n < max; o++)
			out[n++] = o;
	for (const struct dc_option *o = shared_options; o->long_name && n < max; o++)
		if (shared_enabled(spec, o))
			out[n++] = o;
	for (const struct dc_option *o = global_options; o->long_name && n < max; o++)
		out[n++] = o;
	return n;
}

static int pick_word(const char *value, const char *const *words, size_t n, const char *flag, int *out,
		     struct dc_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(value, words[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	dc_error_set(err, NULL, "invalid value '%s' for --%s", value, flag);
	const char *guess = dc_closest(value, words, n);
	if (guess)
		dc_error_hint(err, "did you mean --%s %s?", flag, guess);
	else if (n == 2)
		dc_error_hint(err, "use --%s %s or --%s %s", flag, words[0], flag, words[1]);
	else {
		char list[200] = "";
		for (size_t i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i == 0 ? "" : i + 1 < n ? ", " : " or ",
				 words[i]);
		dc_error_hint(err, "use --%s %s", flag, list);
	}
	return -1;
}

static int apply(struct dc_cli *cli, const struct dc_option *o, const char *arg, dc_option_handler handler,
		 void *user, struct dc_error *err)
{
	static const char *const formats[] = {"text", "json", "json-line", "prometheus"};
	static const char *const colors[] = {"auto", "always", "never"};
	int pick;
	switch (o->id) {
	case OPT_FORMAT:
		if (pick_word(arg, formats, DC_ARRAY_LEN(formats), "format", &pick, err) < 0)
			return -1;
		cli->format = (enum dc_format)pick;
		return 0;
	case OPT_COLOR:
		if (pick_word(arg, colors, 3, "color", &pick, err) < 0)
			return -1;
		cli->color_mode = (enum dc_color_mode)pick;
		return 0;
	case OPT_VERBOSE:
		cli->verbose++;
		return 0;
	case OPT_QUIET:
		cli->quiet = true;
		return 0;
	case OPT_HELP:
		cli->help = true;
		return 0;
	case OPT_DERP_MAP:
		cli->derp_map = arg;
		return 0;
	case OPT_MAP_FORMAT: {
		static const char *const map_formats[] = {"auto", "json", "hujson", "yaml", "headscale"};
		if (pick_word(arg, map_formats, DC_ARRAY_LEN(map_formats), "map-format", &pick, err) < 0)
			return -1;
		if (dc_map_format_parse(map_formats[pick], &cli->map_format) < 0)
			return dc_error_set(err, NULL, "internal error: --map-format %s", arg);
		return 0;
	}
	case OPT_CA_FILE: {
		/* OpenSSL and libcurl would block reading a FIFO; a missing file is reported where it is used. */
		struct dc_error ferr;
		if (dc_file_check_regular(arg, &ferr) < 0 && errno == EINVAL) {
			*err = ferr;
			return -1;
		}
		cli->ca_file = arg;
		return 0;
	}
	case OPT_TRANSPORT: {
		static const char *const transports[] = {"derp", "websocket", "auto"};
		enum dc_derp_transport t;
		if (pick_word(arg, transports, DC_ARRAY_LEN(transports), "transport", &pick, err) < 0)
			return -1;
		if (dc_derp_transport_parse(transports[pick], &t) < 0)
			return dc_error_set(err, NULL, "internal error: --transport %s", arg);
		cli->transport = (int)t;
		cli->transport_given = true;
		return 0;
	}
	case OPT_INSECURE:
		cli->insecure = true;
		return 0;
	case OPT_TIMEOUT: {
		long long ms;
		if (dc_parse_duration_ms(arg, 1, 600000, &ms) < 0) {
			dc_error_set(err, NULL, "invalid --timeout '%s'", arg);
			dc_error_hint(err, "give a duration from 1ms to 10m, such as 5s, 1500ms or 2m");
			return -1;
		}
		cli->timeout_ms = (long)ms;
		return 0;
	}
	case OPT_IPV4:
	case OPT_IPV6: {
		int fam = o->id == OPT_IPV4 ? 4 : 6;
		if (cli->family && cli->family != fam) {
			dc_error_set(err, NULL, "-4 and -6 cannot be used together");
			dc_error_hint(err, "leave both out to use IPv4 and IPv6");
			return -1;
		}
		cli->family = fam;
		return 0;
	}
	default:
		if (!handler)
			return dc_error_set(err, NULL, "option --%s is not handled", o->long_name);
		return handler(user, o->id, arg, err);
	}
}

static void unknown_option(const char *given, const struct dc_option **opts, size_t n,
			   const struct dc_command_spec *spec, struct dc_error *err)
{
	const char *names[64];
	char buf[64][40];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 64; i++) {
		snprintf(buf[k], sizeof(buf[k]), "--%s", opts[i]->long_name);
		names[k] = buf[k];
		k++;
	}
	dc_error_set(err, NULL, "unknown option '%s'%s%s%s", given, spec ? " for 'derpcheck " : "",
		     spec ? spec->name : "", spec ? "'" : "");
	char stripped[64];
	snprintf(stripped, sizeof(stripped), "%.*s", (int)strcspn(given, "="), given);
	const char *guess = dc_closest(stripped, names, k);
	if (guess)
		dc_error_hint(err, "did you mean %s?", guess);
	else
		dc_error_hint(err, "see `derpcheck %s%s--help`", spec ? spec->name : "", spec ? " " : "");
}

static const struct dc_option *find_long(const struct dc_option **opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i]->long_name) == len && strncmp(opts[i]->long_name, name, len) == 0)
			return opts[i];
	return NULL;
}

static const struct dc_option *find_short(const struct dc_option **opts, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i]->short_name == c)
			return opts[i];
	return NULL;
}

int dc_cli_parse(struct dc_cli *cli, const struct dc_command_spec *spec, int argc, char **argv,
		 dc_option_handler handler, void *user, char ***args, int *nargs, int *consumed,
		 struct dc_error *err)
{
	const struct dc_option *opts[64];
	size_t n = accepted_options(spec, opts, DC_ARRAY_LEN(opts));
	bool only_args = false;
	int i;
	if (args) {
		*args = dc_xcalloc((size_t)argc + 1, sizeof(char *));
		*nargs = 0;
	}
	for (i = 0; i < argc; i++) {
		char *a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (!spec)
				break; /* the command name */
			(*args)[(*nargs)++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_args = true;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct dc_option *o = find_long(opts, n, name, len);
			if (!o) {
				unknown_option(a, opts, n, spec, err);
				goto fail;
			}
			const char *arg = NULL;
			if (o->arg_name) {
				if (eq)
					arg = eq + 1;
				else if (i + 1 < argc)
					arg = argv[++i];
				else {
					dc_error_set(err, NULL, "--%s needs a value (%s)", o->long_name, o->arg_name);
					goto fail;
				}
			} else if (eq) {
				dc_error_set(err, NULL, "--%s takes no value", o->long_name);
				goto fail;
			}
			if (apply(cli, o, arg, handler, user, err) < 0)
				goto fail;
			continue;
		}
		/* A cluster of short options: -4v, or -t5s / -t 5s for one with a value. */
		for (const char *p = a + 1; *p; p++) {
			const struct dc_option *o = find_short(opts, n, *p);
			if (!o) {
				char given[3] = {'-', *p, '\0'};
				unknown_option(given, opts, n, spec, err);
				goto fail;
			}
			const char *arg = NULL;
			if (o->arg_name) {
				if (p[1])
					arg = p + 1;
				else if (i + 1 < argc)
					arg = argv[++i];
				else {
					dc_error_set(err, NULL, "-%c needs a value (%s)", *p, o->arg_name);
					goto fail;
				}
			}
			if (apply(cli, o, arg, handler, user, err) < 0)
				goto fail;
			if (arg)
				break;
		}
	}
	/* The Prometheus text format exists for monitoring a DERP fleet: only diagnose has it. */
	if (spec && cli->format == DC_FORMAT_PROMETHEUS && !spec->prometheus) {
		dc_error_set(err, NULL, "'derpcheck %s' has no --format prometheus", spec->name);
		dc_error_hint(err, "use --format text or --format json here; --format prometheus is for 'derpcheck diagnose'");
		goto fail;
	}
	if (spec && cli->format == DC_FORMAT_JSON_LINE && !spec->json_line) {
		dc_error_set(err, NULL, "--format json-line is only for netcheck");
		dc_error_hint(err, "use --format json");
		goto fail;
	}
	if (consumed)
		*consumed = i;
	return 0;
fail:
	if (args) {
		free(*args);
		*args = NULL;
		*nargs = 0;
	}
	return -1;
}

bool dc_cli_use_color(const struct dc_cli *cli, FILE *stream)
{
	return dc_term_use_color(cli->color_mode, stream);
}

static void print_option(FILE *out, const struct dc_option *o)
{
	char left[64];
	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->long_name, o->arg_name ? " " : "",
			 o->arg_name ? o->arg_name : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->long_name, o->arg_name ? " " : "",
			 o->arg_name ? o->arg_name : "");
	if (strlen(left) > 26)
		fprintf(out, "  %s\n  %-26s  %s\n", left, "", o->help);
	else
		fprintf(out, "  %-26s  %s\n", left, o->help);
}

/* text after lead, in lines of at most 88 columns, continued under its first word. */
static void print_wrapped(FILE *out, const char *lead, const char *text)
{
	enum { WIDTH = 88 };
	size_t indent = strlen(lead), col = indent;
	fputs(lead, out);
	while (*text) {
		size_t word = strcspn(text, " ");
		if (col > indent && col + 1 + word > WIDTH) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, word, out);
		col += word;
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

void dc_cli_print_global_options(FILE *out)
{
	for (const struct dc_option *o = global_options; o->long_name; o++)
		print_option(out, o);
}

void dc_cli_print_command_help(FILE *out, const struct dc_command_spec *spec)
{
	fprintf(out, "Usage: derpcheck %s [options]%s%s\n\n%s\n", spec->name, spec->args ? " " : "",
		spec->args ? spec->args : "", spec->summary);
	if (spec->description)
		fprintf(out, "\n%s\n", spec->description);
	if (spec->options && spec->options->long_name) {
		fprintf(out, "\nOptions:\n");
		for (const struct dc_option *o = spec->options; o->long_name; o++)
			print_option(out, o);
	}
	if (spec->shared) {
		fprintf(out, "\nNetwork options (same meaning in every command):\n");
		for (const struct dc_option *o = shared_options; o->long_name; o++)
			if (shared_enabled(spec, o))
				print_option(out, o);
	}
	fprintf(out, "\nGlobal options:\n");
	dc_cli_print_global_options(out);
	if (spec->verbose) {
		fprintf(out, "\nWith -v:\n");
		print_wrapped(out, "  ", spec->verbose);
	}
	if (!spec->exit_status[0]) {
		fprintf(out, "\nExit status: 0 healthy, 1 problems found, 2 usage or input error.\n");
		return;
	}
	fprintf(out, "\nExit status:\n");
	static const char *const leads[3] = {"  0  ", "  1  ", "  2  "};
	for (int code = 0; code < 3; code++)
		print_wrapped(out, leads[code], spec->exit_status[code]);
}
