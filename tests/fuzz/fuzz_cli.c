/*
 * libFuzzer target for the command line (src/cli.c): the input is argv, split at NUL
 * bytes, parsed with the global options and with every command's table (the command
 * layer's dc_*_spec), as main() does. Values go through the shared range-checked
 * parsers the commands use (integers, durations, HOST:PORT). Usage errors must name
 * themselves; nothing else may happen.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "derpcheck/net/netaddr.h"

/* main.c is not linked in; the command layer's error printer is not used here. */
void dc_report_error(const struct dc_error *err)
{
	(void)err;
}

static int accept_option(void *user, int id, const char *arg, struct dc_error *err)
{
	(void)user, (void)id;
	long long v;
	if (arg) {
		(void)dc_parse_int(arg, -1000000, 1000000, &v);
		(void)dc_parse_duration_ms(arg, 1, 7LL * 24 * 3600 * 1000, &v);
		char *host = NULL;
		int port;
		if (dc_hostport_split(arg, &host, &port, err) == 0)
			free(host);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *argv[64];
	int argc = 0;
	for (char *p = text; argc < 63 && p < text + size; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	static const struct dc_command_spec *const specs[] = {
		NULL, &dc_validate_spec, &dc_netcheck_spec, &dc_ping_spec, &dc_status_spec,
		&dc_cert_spec, &dc_diagnose_spec, &dc_stun_spec, &dc_debug_spec,
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct dc_cli cli;
		dc_cli_init(&cli);
		char **args = NULL;
		int nargs = 0, used = 0;
		struct dc_error err;
		memset(&err, 0, sizeof(err));
		int rc = dc_cli_parse(&cli, specs[i], argc, argv, specs[i] ? accept_option : NULL, NULL,
				      specs[i] ? &args : NULL, specs[i] ? &nargs : NULL, &used, &err);
		if (rc < 0 && !err.what[0])
			abort(); /* a usage error says what is wrong */
		if (rc == 0 && !specs[i] && (used < 0 || used > argc))
			abort();
		if (rc == 0 && specs[i] && (nargs < 0 || nargs > argc))
			abort();
		free(args);
	}
	free(text);
	return 0;
}
