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
	/* argv[0] is the first argument after the command name; NULL: not implemented yet */
	int (*run)(struct dc_cli *cli, int argc, char **argv);
};

/* Print "derpcheck: WHERE: WHAT" and "hint: ..." on stderr. */
void dc_report_error(const struct dc_error *err);

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

#endif
