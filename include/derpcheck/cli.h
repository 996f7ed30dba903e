/*
 * The one command-line vocabulary: global options, the shared network options every
 * network command takes with the same meaning, and a parser that also knows each
 * command's own options, so unknown flags get a did-you-mean and --help is generated
 * from the same tables that parse.
 */
#ifndef DERPCHECK_CLI_H
#define DERPCHECK_CLI_H

#include <stdio.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/util/util.h"

enum dc_format { DC_FORMAT_TEXT, DC_FORMAT_JSON, DC_FORMAT_JSON_LINE, DC_FORMAT_PROMETHEUS };
enum dc_color_mode { DC_COLOR_AUTO, DC_COLOR_ALWAYS, DC_COLOR_NEVER };

/* Shared network options a command accepts (bit set in dc_command_spec.shared). */
#define DC_SHARED_DERP_MAP (1u << 0)
#define DC_SHARED_CA_FILE (1u << 1)
#define DC_SHARED_INSECURE (1u << 2)
#define DC_SHARED_TIMEOUT (1u << 3)
#define DC_SHARED_FAMILY (1u << 4) /* -4 / -6 */
#define DC_SHARED_MAP_FORMAT (1u << 5) /* --map-format: how map files are read */
#define DC_SHARED_ALL 0x3fu
/* --transport derp|websocket|auto: commands that make DERP connections (not in ALL) */
#define DC_SHARED_TRANSPORT (1u << 6)

struct dc_cli {
	/* global */
	enum dc_format format;
	enum dc_color_mode color_mode;
	int verbose;
	bool quiet;
	bool help;
	/* shared network options */
	const char *derp_map;
	const char *ca_file;
	bool insecure;
	long timeout_ms; /* 0: the command's default */
	int family;      /* 0 both, 4 or 6 */
	enum dc_map_format map_format; /* --map-format (default auto) */
	int transport;   /* --transport: an enum dc_derp_transport (default derp, as tailscaled) */
	bool transport_given;
};

struct dc_option {
	const char *long_name; /* without the leading "--" */
	char short_name;       /* 0 if none */
	const char *arg_name;  /* NULL for a flag */
	int id;                /* passed to the command's handler */
	const char *help;
};

struct dc_command_spec {
	const char *name;
	const char *args;    /* e.g. "FILE|URL|- ..." */
	const char *summary; /* one line */
	const char *description; /* a short paragraph for --help, may be NULL */
	unsigned shared;     /* DC_SHARED_* */
	bool prometheus;     /* accepts --format prometheus (other commands reject it) */
	const struct dc_option *options; /* terminated by {0} */
	bool json_line;      /* accepts --format json-line (one compact JSON line per report) */
	/*
	 * What exit status 0, 1 and 2 mean for this command, one sentence each: --help prints
	 * them, and derpcheck(1) EXIT STATUS and the README say the same words
	 * (tests/integration/exit_codes.sh holds all three to the code).
	 */
	const char *exit_status[3];
	/* What -v adds for this command, one sentence (--help "With -v:", derpcheck(1), README). */
	const char *verbose;
};

typedef int (*dc_option_handler)(void *user, int id, const char *arg, struct dc_error *err);

void dc_cli_init(struct dc_cli *cli);

/*
 * Parse argv[0..argc) (argv[0] is the first argument, not the program). With spec NULL
 * only global options are accepted and parsing stops at the first non-option (the
 * command); *consumed tells how many arguments were used. Otherwise options may appear
 * anywhere and non-options are collected into args (caller frees the array).
 * Returns 0, or -1 with err describing the usage error.
 */
int dc_cli_parse(struct dc_cli *cli, const struct dc_command_spec *spec, int argc, char **argv,
		 dc_option_handler handler, void *user, char ***args, int *nargs, int *consumed,
		 struct dc_error *err);

/* Whether to colour a stream: --color, NO_COLOR, TERM=dumb and isatty. */
bool dc_cli_use_color(const struct dc_cli *cli, FILE *stream);

/* Per-command --help, generated from the spec and the shared tables. */
void dc_cli_print_command_help(FILE *out, const struct dc_command_spec *spec);
/* The global options block of the top-level --help. */
void dc_cli_print_global_options(FILE *out);

#endif
