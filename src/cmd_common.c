/* Command-layer helpers shared by several commands. */
#include <stdio.h>

#include "commands.h"
#include "derpcheck/localapi.h"
#include "derpcheck/mapchoice.h"

int dc_command_map(const struct dc_cli *cli, struct dc_map_choice *choice)
{
	struct dc_map_choice_opts opts = {
		.spec = cli->derp_map,
		.socket_path = cli->derp_map ? NULL : dc_localapi_default_socket(),
		.localapi_timeout_ms = cli->timeout_ms,
		.try_default_url = true,
		.fetch = {.ca_file = cli->ca_file, .insecure = cli->insecure, .timeout_ms = cli->timeout_ms,
			  .family = cli->family},
	};
	struct dc_error err;
	if (dc_map_choose(&opts, choice, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(choice);
		return -1;
	}
	if (!cli->derp_map && !cli->quiet) {
		char what[600];
		dc_map_choice_describe(choice, what, sizeof(what));
		fprintf(stderr, "derpcheck: no --derp-map given: using %s%s%s%s\n", what, choice->note ? " (" : "",
			choice->note ? choice->note : "", choice->note ? ")" : "");
	}
	return 0;
}
