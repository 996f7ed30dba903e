/* The command layer: each cmd_*.c parses its own options and wires core modules. */
#ifndef DERPCHECK_COMMANDS_H
#define DERPCHECK_COMMANDS_H

#include "derpcheck/cli.h"

/* Exit codes (documented in --help and derpcheck(1)). */
#define DC_EXIT_OK 0
#define DC_EXIT_PROBLEMS 1
#define DC_EXIT_USAGE 2

struct dc_command {
	const struct dc_command_spec *spec;
	/* argv[0] is the first argument after the command name */
	int (*run)(struct dc_cli *cli, int argc, char **argv);
};

/* Print "derpcheck: WHERE: WHAT" and "hint: ..." on stderr. */
void dc_report_error(const struct dc_error *err);

/* dc_command_start's "go on": the command runs (any other value is its exit status). */
#define DC_COMMAND_GO (-1)

/*
 * How every command starts: argv parsed with the command's table (on_option receives the
 * command's own options, user its state). A usage error is printed and DC_EXIT_USAGE
 * returned; --help is printed and DC_EXIT_OK returned. Otherwise DC_COMMAND_GO, with the
 * non-option arguments in *args (the caller frees the array) and their count in *nargs.
 */
int dc_command_start(struct dc_cli *cli, const struct dc_command_spec *spec, int argc, char **argv,
		     dc_option_handler on_option, void *user, char ***args, int *nargs);

/* The shared flags that decide how maps are fetched and read (--ca-file, --map-format, ...). */
struct dc_fetch_opts dc_command_fetch_opts(const struct dc_cli *cli);

/*
 * When the map came from a Headscale config or YAML file, say how it was built on
 * stderr ("derpcheck: DERP map: Headscale config X: urls ..., paths ..., embedded region
 * 999 from server_url"), unless quiet. Other maps say nothing here.
 */
struct dc_map_choice;
void dc_command_map_origin(const struct dc_cli *cli, const struct dc_map_choice *choice);

/*
 * The DERP map for a network command (src/input/mapchoice.c order: --derp-map, the local
 * tailscaled, the default URL, the embedded snapshot). Unless the map was given, says on
 * stderr which one is used and why. Returns -1 after printing the error.
 */
int dc_command_map(const struct dc_cli *cli, struct dc_map_choice *choice);

/*
 * A DERP map named by a plain http:// URL travels unauthenticated: say so on stderr once
 * (spec may be NULL or anything else, then nothing is said).
 */
void dc_command_warn_plain_http(const char *spec);

struct dc_endpoint;
/* --bind-address and --bind-port (stun, netcheck): parsed and explained the same way. */
int dc_command_bind_address(const char *arg, struct dc_endpoint *out, struct dc_error *err);
int dc_command_bind_port(const char *arg, uint16_t *out, struct dc_error *err);
/*
 * --stun-port-guess PORT[,PORT...] (diagnose, netcheck; repeatable): appended to
 * ports[*n], at most max in all, each 1-65535.
 */
int dc_command_stun_port_guess(const char *arg, uint16_t *ports, size_t *n, size_t max, struct dc_error *err);

/* ✓ ✗ and arrows only where the locale's character set is UTF-8 (LC_ALL, LC_CTYPE, LANG). */
bool dc_command_locale_utf8(void);

/* "Now", which DERPCHECK_NOW (Unix seconds) pins for reproducible output. */
int dc_command_now(int64_t *now, struct dc_error *err);

/*
 * The regions a command is asked about (diagnose, exporter): every region of the map
 * (all), else each argument by ID or RegionCode, once each, in the order given. A name
 * that is not in the map is an error whose hint is the whole `derpcheck diagnose` command
 * with the closest region, ready to paste. *out is allocated (free it); -1 with err.
 */
int dc_command_regions(const struct dc_cli *cli, const struct dc_map_choice *maps, char **args, int nargs, bool all,
		       const struct dc_derp_region ***out, size_t *count, struct dc_error *err);

/* --cert-warn-days DAYS (diagnose, exporter): 1 to 3650. */
int dc_command_cert_warn_days(const char *arg, int *out, struct dc_error *err);

/*
 * --mesh-psk-file FILE (diagnose, exporter): the key as derper reads it (whitespace
 * trimmed, 64 or more hex digits: cmd/derper/derper.go), into out (NUL-terminated).
 */
#define DC_MESH_KEY_MAX 512
int dc_command_mesh_psk_file(const char *path, char out[DC_MESH_KEY_MAX + 1], struct dc_error *err);

extern const struct dc_command_spec dc_validate_spec;
int dc_cmd_validate(struct dc_cli *cli, int argc, char **argv);

extern const struct dc_command_spec dc_status_spec;
int dc_cmd_status(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_cert_spec;
int dc_cmd_cert(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_ping_spec;
int dc_cmd_ping(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_stun_spec;
int dc_cmd_stun(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_netcheck_spec;
int dc_cmd_netcheck(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_diagnose_spec;
int dc_cmd_diagnose(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_server_spec;
int dc_cmd_server(struct dc_cli *cli, int argc, char **argv);
extern const struct dc_command_spec dc_exporter_spec;
int dc_cmd_exporter(struct dc_cli *cli, int argc, char **argv);
/* `debug derp REGION`: an alias of diagnose, under tailscale's name */
extern const struct dc_command_spec dc_debug_spec;
int dc_cmd_debug(struct dc_cli *cli, int argc, char **argv);

#endif
