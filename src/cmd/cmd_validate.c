/* derpcheck validate: check DERP maps and policy files the way Tailscale reads them. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output.h"
#include "derpcheck/output/output_map.h"
#include "derpcheck/judge/hscheck.h"
#include "derpcheck/judge/validate.h"

enum { OPT_STRICT = 1 };

static const struct dc_option validate_options[] = {
	{"strict", 0, NULL, OPT_STRICT, "treat warnings as errors (exit 1 on any finding)"},
	{0},
};

const struct dc_command_spec dc_validate_spec = {
	.name = "validate",
	.args = "FILE|URL|-|embedded: ...",
	.summary = "check a DERP map, policy file or Headscale config the way Tailscale and Headscale read it",
	.description =
		"Reads HuJSON (comments and trailing commas allowed): a bare DERP map, a policy\n"
		"file with a \"derpMap\" key, or the control plane's JSON; and Headscale's YAML: a\n"
		"derp.paths map, or config.yaml, whose derp: section builds the map its clients get.\n"
		"Each problem is printed as FILE:LINE:COL: error|warning: path: message, followed by\n"
		"a hint.",
	.shared = DC_SHARED_MAP_FORMAT | DC_SHARED_CA_FILE | DC_SHARED_INSECURE | DC_SHARED_TIMEOUT | DC_SHARED_FAMILY,
	.options = validate_options,
	.verbose = "each input's DERP map as decoded, after its summary: every region and node with the values Tailscale uses (default ports filled in); the file read, on standard error",
	.exit_status = {
		"every input was read and none has an error (warnings are allowed, unless --strict)",
		"an input has an error (with --strict, any finding)",
		"a usage error, or an input that cannot be read or fetched (the other inputs are still checked)",
	},
};

struct validate_opts {
	bool strict;
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	(void)arg;
	(void)err;
	struct validate_opts *o = user;
	if (id == OPT_STRICT)
		o->strict = true;
	return 0;
}

/* Move one input's findings into the combined list used for JSON output. */
static void collect(struct dc_findings *all, struct dc_findings *one)
{
	for (size_t i = 0; i < one->count; i++) {
		if (all->count == all->cap) {
			all->cap = all->cap ? all->cap * 2 : 16;
			all->items = dc_xrealloc(all->items, all->cap * sizeof(*all->items));
		}
		all->items[all->count++] = one->items[i];
	}
	free(one->items);
	memset(one, 0, sizeof(*one));
}

int dc_cmd_validate(struct dc_cli *cli, int argc, char **argv)
{
	struct validate_opts opts = {0};
	struct dc_error err;
	char **inputs;
	int ninputs;
	int start = dc_command_start(cli, &dc_validate_spec, argc, argv, on_option, &opts, &inputs, &ninputs);
	if (start != DC_COMMAND_GO)
		return start;
	if (ninputs == 0) {
		dc_error_set(&err, NULL, "validate needs a FILE, URL or - to check");
		dc_error_hint(&err, "e.g. derpcheck validate policy.hujson (use embedded: for the built-in default map)");
		dc_report_error(&err);
		free(inputs);
		return DC_EXIT_USAGE;
	}
	if (cli->insecure)
		fprintf(stderr, "derpcheck: warning: --insecure: TLS certificates are not checked when fetching maps (like InsecureForTests); anyone on the path could serve a forged map\n");

	struct dc_derpmap defaults;
	if (dc_map_defaults(&defaults) < 0) {
		fprintf(stderr, "derpcheck: internal error: the embedded default DERP map does not decode\n");
		return DC_EXIT_USAGE;
	}
	struct dc_fetch_opts fetch = dc_command_fetch_opts(cli);
	struct dc_style style = {.color = dc_cli_use_color(cli, stdout), .quiet = cli->quiet};
	struct dc_findings all = {0};
	bool input_error = false, problems = false;

	for (int i = 0; i < ninputs; i++) {
		struct dc_map_doc doc;
		if (cli->verbose)
			fprintf(stderr, "derpcheck: reading %s\n", inputs[i]);
		dc_command_warn_plain_http(inputs[i]);
		if (dc_map_doc_load(inputs[i], &fetch, &doc, &err) < 0) {
			dc_report_error(&err);
			input_error = true;
			continue;
		}
		struct dc_derpmap effective = {0};
		struct dc_merge_summary merge = {0};
		bool have_effective = false;
		if (doc.decoded) {
			doc.findings.ca_file = cli->ca_file;
			doc.findings.map_format = dc_map_format_flag(cli->map_format);
			dc_validate(&doc.map, &defaults, &doc.findings);
			if (doc.headscale)
				dc_headscale_check(doc.headscale, &doc.map, &doc.findings);
			if (doc.map.shape == DC_SHAPE_POLICY) {
				dc_derpmap_merge(&doc.map, &defaults, &effective, &merge);
				have_effective = true;
			}
		}
		if (opts.strict)
			for (size_t k = 0; k < doc.findings.count; k++)
				doc.findings.items[k].severity = DC_SEV_ERROR;
		dc_findings_sort(&doc.findings);
		struct dc_validate_result res = {
			.doc = &doc,
			.effective = have_effective ? &effective
				     : doc.decoded && (doc.map.shape == DC_SHAPE_DERPMAP || doc.map.shape == DC_SHAPE_YAML ||
						       doc.map.shape == DC_SHAPE_HEADSCALE)
					     ? &doc.map
					     : NULL,
			.merge = have_effective ? &merge : NULL,
			.defaults = &defaults,
			.errors = dc_findings_count(&doc.findings, DC_SEV_ERROR),
			.warnings = dc_findings_count(&doc.findings, DC_SEV_WARNING),
		};
		problems |= res.errors > 0;
		if (cli->format == DC_FORMAT_TEXT) {
			dc_output_findings_text(stdout, &doc.findings, &style);
			dc_output_validate_summary(stdout, &res, &style);
			if (cli->verbose && res.effective)
				dc_output_derpmap_text(stdout, res.effective, &style);
		}
		collect(&all, &doc.findings);
		if (have_effective) {
			dc_derpmap_free(&effective);
			dc_merge_summary_free(&merge);
		}
		dc_map_doc_free(&doc);
	}
	if (cli->format == DC_FORMAT_JSON)
		dc_output_findings_json(stdout, &all);
	dc_findings_free(&all);
	dc_derpmap_free(&defaults);
	free(inputs);
	if (input_error)
		return DC_EXIT_USAGE;
	return problems ? DC_EXIT_PROBLEMS : DC_EXIT_OK;
}
