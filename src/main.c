/*
 * derpcheck: why Tailscale peers do not connect directly, and whether a DERP relay
 * really relays. This file holds the command table and the global options.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "derpcheck/output/term.h"

/* The command table: --help lists it in this order. */
static const struct dc_command commands[] = {
	{&dc_validate_spec, dc_cmd_validate},
	{&dc_netcheck_spec, dc_cmd_netcheck},
	{&dc_ping_spec, dc_cmd_ping},
	{&dc_status_spec, dc_cmd_status},
	{&dc_cert_spec, dc_cmd_cert},
	{&dc_diagnose_spec, dc_cmd_diagnose},
	{&dc_stun_spec, dc_cmd_stun},
	{&dc_server_spec, dc_cmd_server},
	{&dc_exporter_spec, dc_cmd_exporter},
	{&dc_debug_spec, dc_cmd_debug},
};

/* Errors quote servers and files (a status line, an excerpt): shown through the sanitiser. */
void dc_report_error(const struct dc_error *err)
{
	if (err->where[0])
		fprintf(stderr, "derpcheck: %s: %s\n", dc_term_safe(err->where), dc_term_safe(err->what));
	else
		fprintf(stderr, "derpcheck: %s\n", dc_term_safe(err->what));
	if (err->hint[0])
		fprintf(stderr, "  hint: %s\n", dc_term_safe(err->hint));
}

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: derpcheck [global options] COMMAND [options]\n"
		"\n"
		"Tells you why Tailscale or Headscale peers do not connect directly, whether your\n"
		"DERP relay really relays, and exactly what to fix.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < DC_ARRAY_LEN(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].spec->name, commands[i].spec->summary);
	fprintf(out, "  %-10s %s\n", "help", "show help for a command");
	fprintf(out, "\nGlobal options:\n");
	dc_cli_print_global_options(out);
	fprintf(out, "      --version               print the version and exit\n");
	fprintf(out,
		"\nRun 'derpcheck help COMMAND' for the options of a command.\n"
		"Exit status: 0 healthy, 1 problems found, 2 usage or input error.\n");
}

static const struct dc_command *find_command(const char *name)
{
	for (size_t i = 0; i < DC_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].spec->name, name) == 0)
			return &commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	const char *names[DC_ARRAY_LEN(commands) + 1];
	for (size_t i = 0; i < DC_ARRAY_LEN(commands); i++)
		names[i] = commands[i].spec->name;
	names[DC_ARRAY_LEN(commands)] = "help";
	struct dc_error err;
	dc_error_set(&err, NULL, "unknown command '%s'", name);
	const char *guess = dc_closest(name, names, DC_ARRAY_LEN(names));
	if (guess)
		dc_error_hint(&err, "did you mean 'derpcheck %s'?", guess);
	else
		dc_error_hint(&err, "run 'derpcheck --help' to list the commands");
	dc_report_error(&err);
	return DC_EXIT_USAGE;
}

static int help_command(int argc, char **argv)
{
	if (argc == 0) {
		print_usage(stdout);
		return DC_EXIT_OK;
	}
	const struct dc_command *cmd = find_command(argv[0]);
	if (!cmd)
		return unknown_command(argv[0]);
	dc_cli_print_command_help(stdout, cmd->spec);
	return DC_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct dc_cli cli;
	struct dc_error err;
	int used = 0;
	dc_cli_init(&cli);

	/* --version is answered before anything else is set up: start-up time matters. */
	for (int i = 1; i < argc && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "--version") == 0) {
			printf("derpcheck %s\n", DERPCHECK_VERSION);
			return DC_EXIT_OK;
		}
	if (dc_cli_parse(&cli, NULL, argc - 1, argv + 1, NULL, NULL, NULL, NULL, &used, &err) < 0) {
		dc_report_error(&err);
		return DC_EXIT_USAGE;
	}
	int rest = argc - 1 - used;
	char **rest_argv = argv + 1 + used;
	if (rest == 0) {
		if (cli.help) {
			print_usage(stdout);
			return DC_EXIT_OK;
		}
		print_usage(stderr);
		return DC_EXIT_USAGE;
	}
	if (strcmp(rest_argv[0], "help") == 0)
		return help_command(rest - 1, rest_argv + 1);
	const struct dc_command *cmd = find_command(rest_argv[0]);
	if (!cmd)
		return unknown_command(rest_argv[0]);
	return cmd->run(&cli, rest - 1, rest_argv + 1);
}
