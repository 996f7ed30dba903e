/*
 * dc_cli_parse: global options before the command, then each command's own options,
 * the shared network options it enables and the global ones, anywhere on the line.
 * Usage errors say what is wrong and suggest what was probably meant.
 */
#include "testlib.h"

#include <fcntl.h>

#include "derpcheck/cli.h"

/* A small command to parse for: one flag, two options with values. */
enum { OPT_STRICT = 1, OPT_TICK, OPT_NAME };

static const struct dc_option probe_options[] = {
	{"strict", 0, NULL, OPT_STRICT, "treat warnings as errors"},
	{"tick", 't', "DURATION", OPT_TICK, "wait DURATION between probes"},
	{"name", 'n', "NAME", OPT_NAME, "probe only NAME"},
	{0},
};

static const struct dc_command_spec probe_spec = {
	.name = "probe",
	.args = "TARGET...",
	.summary = "probe things",
	.description = "A command that exists only in the unit tests.",
	.shared = DC_SHARED_ALL,
	.options = probe_options,
};

static const struct dc_command_spec plain_spec = {
	.name = "plain",
	.summary = "takes no network options",
	.shared = 0,
	.options = probe_options,
};

static const struct dc_command_spec timeout_only_spec = {
	.name = "waits",
	.summary = "takes only --timeout",
	.shared = DC_SHARED_TIMEOUT,
};

/* What the command's handler was given. */
struct seen {
	bool strict;
	const char *tick;
	const char *name;
	int calls;
	bool fail; /* make the handler reject its option */
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct seen *s = user;
	s->calls++;
	if (s->fail)
		return dc_error_set(err, NULL, "handler rejected option %d", id);
	switch (id) {
	case OPT_STRICT: s->strict = true; break;
	case OPT_TICK: s->tick = arg; break;
	case OPT_NAME: s->name = arg; break;
	default: return dc_error_set(err, NULL, "unexpected option id %d", id);
	}
	return 0;
}

/* One parse of a command line (argv without the program or command name). */
struct parsed {
	struct dc_cli cli;
	struct seen seen;
	char **args;
	int nargs;
	int consumed;
	int rc;
	struct dc_error err;
};

static void parse_with(const struct dc_command_spec *spec, struct parsed *p, int argc, const char **argv)
{
	memset(p, 0, sizeof(*p));
	dc_cli_init(&p->cli);
	p->consumed = -1;
	p->rc = dc_cli_parse(&p->cli, spec, argc, (char **)argv, on_option, &p->seen, spec ? &p->args : NULL,
			     spec ? &p->nargs : NULL, &p->consumed, &p->err);
}

#define PARSE(spec, p, ...)                                                            \
	do {                                                                           \
		static const char *argv_[] = {__VA_ARGS__};                            \
		parse_with((spec), (p), (int)DC_ARRAY_LEN(argv_), argv_);              \
	} while (0)

static void parsed_free(struct parsed *p)
{
	free(p->args);
	p->args = NULL;
}

static void assert_ok(const struct parsed *p)
{
	if (p->rc != 0)
		fail_msg("unexpected usage error: %s (hint: %s)", p->err.what, p->err.hint);
}

static void assert_usage_error(const struct parsed *p, const char *what)
{
	if (p->rc != -1)
		fail_msg("expected a usage error containing \"%s\"", what);
	assert_contains(p->err.what, what);
}

/* ---- global options before the command --------------------------------------------- */

static void test_global_options_stop_at_the_command_name(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(NULL, &p, "--format", "json", "-v", "validate", "--strict", "x.json");
	assert_ok(&p);
	assert_int_equal(p.consumed, 3);
	assert_int_equal(p.cli.format, DC_FORMAT_JSON);
	assert_int_equal(p.cli.verbose, 1);
	assert_int_equal(p.seen.calls, 0);
}

static void test_global_options_alone_are_all_consumed(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(NULL, &p, "-q", "--color=never", "--help");
	assert_ok(&p);
	assert_int_equal(p.consumed, 3);
	assert_true(p.cli.quiet);
	assert_true(p.cli.help);
	assert_int_equal(p.cli.color_mode, DC_COLOR_NEVER);
}

static void test_no_arguments_consumes_nothing(void **state)
{
	(void)state;
	struct dc_cli cli;
	struct dc_error err;
	int consumed = -1;
	dc_cli_init(&cli);
	assert_int_equal(dc_cli_parse(&cli, NULL, 0, NULL, NULL, NULL, NULL, NULL, &consumed, &err), 0);
	assert_int_equal(consumed, 0);
	assert_int_equal(cli.format, DC_FORMAT_TEXT);
	assert_int_equal(cli.color_mode, DC_COLOR_AUTO);
}

static void test_command_options_before_the_command_are_unknown(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(NULL, &p, "--strict", "validate");
	assert_usage_error(&p, "unknown option '--strict'");
	assert_null(strstr(p.err.what, "derpcheck ")); /* no command to name yet */
}

static void test_network_options_before_the_command_are_unknown(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(NULL, &p, "--timeout", "5s", "validate");
	assert_usage_error(&p, "unknown option '--timeout'");
	PARSE(NULL, &p, "-4", "validate");
	assert_usage_error(&p, "unknown option '-4'");
}

static void test_dash_dash_before_the_command_is_consumed(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(NULL, &p, "-v", "--", "-weird-command");
	assert_ok(&p);
	assert_int_equal(p.consumed, 2);
}

/* ---- a command's options ----------------------------------------------------------- */

static void test_long_option_takes_the_next_argument_as_its_value(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--name", "900a", "target");
	assert_ok(&p);
	assert_string_equal(p.seen.name, "900a");
	assert_int_equal(p.nargs, 1);
	assert_string_equal(p.args[0], "target");
	parsed_free(&p);
}

static void test_long_option_value_may_follow_an_equals_sign(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--name=900a", "--tick=", "target");
	assert_ok(&p);
	assert_string_equal(p.seen.name, "900a");
	assert_string_equal(p.seen.tick, "");
	assert_int_equal(p.nargs, 1);
	parsed_free(&p);
}

static void test_short_option_value_may_be_attached_or_separate(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "-t5s", "-n", "900a");
	assert_ok(&p);
	assert_string_equal(p.seen.tick, "5s");
	assert_string_equal(p.seen.name, "900a");
	assert_int_equal(p.nargs, 0);
	parsed_free(&p);
}

static void test_short_flags_cluster_and_the_last_may_take_the_rest_as_its_value(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "-vq4t5s", "x");
	assert_ok(&p);
	assert_int_equal(p.cli.verbose, 1);
	assert_true(p.cli.quiet);
	assert_int_equal(p.cli.family, 4);
	assert_string_equal(p.seen.tick, "5s");
	assert_int_equal(p.nargs, 1);
	parsed_free(&p);
}

static void test_options_may_come_after_positional_arguments(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "a.json", "--strict", "b.json", "-v");
	assert_ok(&p);
	assert_true(p.seen.strict);
	assert_int_equal(p.cli.verbose, 1);
	assert_int_equal(p.nargs, 2);
	assert_string_equal(p.args[0], "a.json");
	assert_string_equal(p.args[1], "b.json");
	assert_null(p.args[2]); /* the array is NULL-terminated */
	parsed_free(&p);
}

static void test_double_dash_ends_the_options(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--", "--strict", "-v", "--");
	assert_ok(&p);
	assert_false(p.seen.strict);
	assert_int_equal(p.cli.verbose, 0);
	assert_int_equal(p.nargs, 3);
	assert_string_equal(p.args[0], "--strict");
	assert_string_equal(p.args[1], "-v");
	assert_string_equal(p.args[2], "--");
	parsed_free(&p);
}

static void test_single_dash_is_a_positional_argument(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "-", "--strict");
	assert_ok(&p);
	assert_int_equal(p.nargs, 1);
	assert_string_equal(p.args[0], "-");
	assert_true(p.seen.strict);
	parsed_free(&p);
}

static void test_option_value_may_start_with_a_dash(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--derp-map", "-", "--name", "--strict");
	assert_ok(&p);
	assert_string_equal(p.cli.derp_map, "-");
	assert_string_equal(p.seen.name, "--strict");
	assert_false(p.seen.strict);
	parsed_free(&p);
}

static void test_command_options_go_to_the_handler(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--strict", "--tick", "1s");
	assert_ok(&p);
	assert_int_equal(p.seen.calls, 2);
	assert_true(p.seen.strict);
	assert_string_equal(p.seen.tick, "1s");
	parsed_free(&p);
}

static void test_handler_error_is_the_parse_error(void **state)
{
	(void)state;
	struct parsed p;
	memset(&p, 0, sizeof(p));
	dc_cli_init(&p.cli);
	p.seen.fail = true;
	const char *argv[] = {"x", "--strict"};
	p.rc = dc_cli_parse(&p.cli, &probe_spec, 2, (char **)argv, on_option, &p.seen, &p.args, &p.nargs, NULL, &p.err);
	assert_usage_error(&p, "handler rejected option 1");
	assert_null(p.args); /* freed on error */
	assert_int_equal(p.nargs, 0);
}

static void test_global_options_are_accepted_after_the_command(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "x", "--format", "json", "-vv", "--verbose", "-h", "--color", "always");
	assert_ok(&p);
	assert_int_equal(p.cli.format, DC_FORMAT_JSON);
	assert_int_equal(p.cli.verbose, 3);
	assert_true(p.cli.help);
	assert_int_equal(p.cli.color_mode, DC_COLOR_ALWAYS);
	parsed_free(&p);
}

/* ---- usage errors --------------------------------------------------------------------- */

static void test_unknown_long_option_suggests_the_closest_one(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--formt", "json");
	assert_usage_error(&p, "unknown option '--formt' for 'derpcheck probe'");
	assert_string_equal(p.err.hint, "did you mean --format?");
	assert_null(p.args);
}

static void test_unknown_option_with_a_value_is_matched_by_its_name(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--stirct=1");
	assert_usage_error(&p, "unknown option '--stirct=1'");
	assert_string_equal(p.err.hint, "did you mean --strict?");
}

static void test_unknown_option_prefix_suggests_the_option(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--insec");
	assert_usage_error(&p, "unknown option '--insec'");
	assert_string_equal(p.err.hint, "did you mean --insecure?");
}

static void test_unknown_option_without_a_close_match_points_to_help(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--xyzzy-plugh");
	assert_usage_error(&p, "unknown option '--xyzzy-plugh'");
	assert_string_equal(p.err.hint, "see `derpcheck probe --help`");
}

static void test_unknown_short_option_is_an_error(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "-vx");
	assert_usage_error(&p, "unknown option '-x'");
}

static void test_option_missing_its_value_is_an_error(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "x", "--name");
	assert_usage_error(&p, "--name needs a value (NAME)");
	PARSE(&probe_spec, &p, "-t");
	assert_usage_error(&p, "-t needs a value (DURATION)");
	PARSE(NULL, &p, "--format");
	assert_usage_error(&p, "--format needs a value (text|json|json-line|prometheus)");
}

static void test_flag_given_a_value_is_an_error(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--strict=yes");
	assert_usage_error(&p, "--strict takes no value");
	assert_false(p.seen.strict);
}

static void test_format_typo_suggests_the_closest_value(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--format", "jsn");
	assert_usage_error(&p, "invalid value 'jsn' for --format");
	assert_string_equal(p.err.hint, "did you mean --format json?");
}

static void test_format_nonsense_lists_the_values(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--format", "bogus");
	assert_usage_error(&p, "invalid value 'bogus' for --format");
	assert_string_equal(p.err.hint, "use --format text, json, json-line or prometheus");
	PARSE(NULL, &p, "--color=sometimes");
	assert_usage_error(&p, "invalid value 'sometimes' for --color");
	assert_string_equal(p.err.hint, "use --color auto, always or never");
}

static void test_json_line_is_only_for_commands_that_allow_it(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--format", "json-line");
	assert_usage_error(&p, "--format json-line is only for netcheck");
	assert_string_equal(p.err.hint, "use --format json");
}

static void test_format_values_are_case_sensitive(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(NULL, &p, "--format", "JSON");
	assert_usage_error(&p, "invalid value 'JSON'");
	assert_string_equal(p.err.hint, "did you mean --format json?");
}

static const struct dc_command_spec prom_spec = {
	.name = "monitor", .summary = "a command with Prometheus output", .prometheus = true,
};

static void test_format_prometheus_only_for_commands_that_have_it(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&prom_spec, &p, "--format", "prometheus");
	assert_ok(&p);
	assert_int_equal(p.cli.format, DC_FORMAT_PROMETHEUS);
	parsed_free(&p);
	PARSE(&probe_spec, &p, "--format", "prometheus");
	assert_usage_error(&p, "'derpcheck probe' has no --format prometheus");
	assert_string_equal(p.err.hint, "use --format text or --format json here; --format prometheus is for 'derpcheck diagnose'");
}

/* ---- shared network options --------------------------------------------------------- */

static void test_shared_options_set_the_cli_fields(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "--derp-map", "embedded:", "--ca-file=ca.pem", "--insecure", "--timeout", "2s", "-6");
	assert_ok(&p);
	assert_string_equal(p.cli.derp_map, "embedded:");
	assert_string_equal(p.cli.ca_file, "ca.pem");
	assert_true(p.cli.insecure);
	assert_int_equal(p.cli.timeout_ms, 2000);
	assert_int_equal(p.cli.family, 6);
	parsed_free(&p);
}

static void test_timeout_accepts_durations(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		long ms;
	} cases[] = {
		{"5s", 5000}, {"500ms", 500}, {"2m", 120000}, {"0.5", 500}, {"3", 3000},
		{"1.5s", 1500}, {"1ms", 1}, {"10m", 600000},
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(cases); i++) {
		struct parsed p;
		const char *argv[] = {"--timeout", cases[i].text};
		parse_with(&probe_spec, &p, 2, argv);
		assert_ok(&p);
		if (p.cli.timeout_ms != cases[i].ms)
			fail_msg("--timeout %s: expected %ld ms, got %ld", cases[i].text, cases[i].ms, p.cli.timeout_ms);
		parsed_free(&p);
	}
}

static void test_timeout_rejects_zero_and_nonsense(void **state)
{
	(void)state;
	static const char *const bad[] = {"0", "0s", "0ms", "abc", "", "-1s", "5h", "5 s", "11m", "s", "0.0001"};
	for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++) {
		struct parsed p;
		const char *argv[] = {"--timeout", bad[i]};
		parse_with(&probe_spec, &p, 2, argv);
		if (p.rc != -1)
			fail_msg("--timeout '%s' was accepted as %ld ms", bad[i], p.cli.timeout_ms);
		assert_contains(p.err.what, "invalid --timeout");
		assert_contains(p.err.hint, "5s");
	}
}

static void test_ipv4_and_ipv6_together_are_rejected(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "-4", "-6");
	assert_usage_error(&p, "-4 and -6 cannot be used together");
	PARSE(&probe_spec, &p, "--ipv6", "x", "--ipv4");
	assert_usage_error(&p, "-4 and -6 cannot be used together");
	PARSE(&probe_spec, &p, "-46");
	assert_usage_error(&p, "-4 and -6 cannot be used together");
}

static void test_repeating_the_same_family_is_fine(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&probe_spec, &p, "-4", "--ipv4");
	assert_ok(&p);
	assert_int_equal(p.cli.family, 4);
	parsed_free(&p);
}

static void test_shared_options_are_unknown_to_a_command_that_does_not_enable_them(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&plain_spec, &p, "--timeout", "5s");
	assert_usage_error(&p, "unknown option '--timeout' for 'derpcheck plain'");
	PARSE(&plain_spec, &p, "--derp-map", "x.json");
	assert_usage_error(&p, "unknown option '--derp-map'");
	PARSE(&plain_spec, &p, "--insecure");
	assert_usage_error(&p, "unknown option '--insecure'");
	PARSE(&plain_spec, &p, "-4");
	assert_usage_error(&p, "unknown option '-4'");
}

static void test_only_the_enabled_shared_options_are_accepted(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&timeout_only_spec, &p, "--timeout", "5s");
	assert_ok(&p);
	assert_int_equal(p.cli.timeout_ms, 5000);
	parsed_free(&p);
	PARSE(&timeout_only_spec, &p, "--ca-file", "ca.pem");
	assert_usage_error(&p, "unknown option '--ca-file'");
	PARSE(&timeout_only_spec, &p, "-6");
	assert_usage_error(&p, "unknown option '-6'");
}

static void test_suggestions_only_name_options_the_command_accepts(void **state)
{
	(void)state;
	struct parsed p;
	PARSE(&plain_spec, &p, "--timeot", "5s");
	assert_usage_error(&p, "unknown option '--timeot'");
	assert_null(strstr(p.err.hint, "--timeout"));
}

/* ---- colour ------------------------------------------------------------------------- */

/* A terminal to test "auto" against; NULL when the system has no pseudo-terminals. */
static FILE *open_terminal(int *master)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY);
	if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0) {
		if (*master >= 0)
			close(*master);
		return NULL;
	}
	const char *name = ptsname(*master);
	FILE *tty = name ? fopen(name, "w") : NULL;
	if (!tty)
		close(*master);
	return tty;
}

struct saved_env {
	char *no_color;
	char *term;
};

static int save_env(void **state)
{
	struct saved_env *s = calloc(1, sizeof(*s));
	const char *v = getenv("NO_COLOR");
	s->no_color = v ? strdup(v) : NULL;
	v = getenv("TERM");
	s->term = v ? strdup(v) : NULL;
	unsetenv("NO_COLOR");
	setenv("TERM", "xterm", 1);
	*state = s;
	return 0;
}

static int restore_env(void **state)
{
	struct saved_env *s = *state;
	if (s->no_color)
		setenv("NO_COLOR", s->no_color, 1);
	else
		unsetenv("NO_COLOR");
	if (s->term)
		setenv("TERM", s->term, 1);
	else
		unsetenv("TERM");
	free(s->no_color);
	free(s->term);
	free(s);
	return 0;
}

static void test_color_always_and_never_win_over_everything(void **state)
{
	(void)state;
	struct dc_cli cli;
	dc_cli_init(&cli);
	FILE *file = tmpfile();
	assert_non_null(file);
	setenv("NO_COLOR", "1", 1);
	cli.color_mode = DC_COLOR_ALWAYS;
	assert_true(dc_cli_use_color(&cli, file));
	unsetenv("NO_COLOR");
	int master;
	FILE *tty = open_terminal(&master);
	cli.color_mode = DC_COLOR_NEVER;
	assert_false(dc_cli_use_color(&cli, file));
	if (tty) {
		assert_false(dc_cli_use_color(&cli, tty));
		fclose(tty);
		close(master);
	}
	fclose(file);
}

static void test_color_auto_is_off_when_not_a_terminal(void **state)
{
	(void)state;
	struct dc_cli cli;
	dc_cli_init(&cli);
	FILE *file = tmpfile();
	assert_non_null(file);
	assert_false(dc_cli_use_color(&cli, file));
	fclose(file);
}

static void test_color_auto_is_on_for_a_terminal(void **state)
{
	(void)state;
	int master;
	FILE *tty = open_terminal(&master);
	if (!tty)
		skip();
	struct dc_cli cli;
	dc_cli_init(&cli);
	assert_true(dc_cli_use_color(&cli, tty));
	fclose(tty);
	close(master);
}

static void test_no_color_disables_auto_colour_on_a_terminal(void **state)
{
	(void)state;
	int master;
	FILE *tty = open_terminal(&master);
	if (!tty)
		skip();
	struct dc_cli cli;
	dc_cli_init(&cli);
	setenv("NO_COLOR", "1", 1);
	assert_false(dc_cli_use_color(&cli, tty));
	setenv("NO_COLOR", "", 1); /* set but empty does not count (no-color.org) */
	assert_true(dc_cli_use_color(&cli, tty));
	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	assert_false(dc_cli_use_color(&cli, tty));
	fclose(tty);
	close(master);
}

/* ---- help --------------------------------------------------------------------------- */

static char *help_for(const struct dc_command_spec *spec)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	dc_cli_print_command_help(out, spec);
	fclose(out);
	return text;
}

static void test_command_help_lists_usage_options_and_enabled_shared_options(void **state)
{
	(void)state;
	char *text = help_for(&probe_spec);
	assert_contains(text, "Usage: derpcheck probe [options] TARGET...\n\nprobe things\n");
	assert_contains(text, "A command that exists only in the unit tests.");
	assert_contains(text, "-t, --tick DURATION");
	assert_contains(text, "    --strict");
	assert_contains(text, "Network options");
	assert_contains(text, "--timeout DURATION");
	assert_contains(text, "-4, --ipv4");
	assert_contains(text, "Global options:");
	assert_contains(text, "--format text|json");
	assert_contains(text, "Exit status: 0 healthy, 1 problems found, 2 usage or input error.");
	free(text);
}

static void test_command_help_leaves_out_shared_options_not_enabled(void **state)
{
	(void)state;
	char *text = help_for(&timeout_only_spec);
	assert_contains(text, "--timeout DURATION");
	assert_null(strstr(text, "--derp-map"));
	assert_null(strstr(text, "--ipv4"));
	assert_null(strstr(text, "\nOptions:")); /* no options of its own */
	free(text);
	text = help_for(&plain_spec);
	assert_null(strstr(text, "Network options"));
	free(text);
}

static void test_global_options_help_lists_every_global_option(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	dc_cli_print_global_options(out);
	fclose(out);
	static const char *const names[] = {"--format", "--color", "-v, --verbose", "-q, --quiet", "-h, --help"};
	for (size_t i = 0; i < DC_ARRAY_LEN(names); i++)
		assert_contains(text, names[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_options_stop_at_the_command_name),
		cmocka_unit_test(test_global_options_alone_are_all_consumed),
		cmocka_unit_test(test_no_arguments_consumes_nothing),
		cmocka_unit_test(test_command_options_before_the_command_are_unknown),
		cmocka_unit_test(test_network_options_before_the_command_are_unknown),
		cmocka_unit_test(test_dash_dash_before_the_command_is_consumed),
		cmocka_unit_test(test_long_option_takes_the_next_argument_as_its_value),
		cmocka_unit_test(test_long_option_value_may_follow_an_equals_sign),
		cmocka_unit_test(test_short_option_value_may_be_attached_or_separate),
		cmocka_unit_test(test_short_flags_cluster_and_the_last_may_take_the_rest_as_its_value),
		cmocka_unit_test(test_options_may_come_after_positional_arguments),
		cmocka_unit_test(test_double_dash_ends_the_options),
		cmocka_unit_test(test_single_dash_is_a_positional_argument),
		cmocka_unit_test(test_option_value_may_start_with_a_dash),
		cmocka_unit_test(test_command_options_go_to_the_handler),
		cmocka_unit_test(test_handler_error_is_the_parse_error),
		cmocka_unit_test(test_global_options_are_accepted_after_the_command),
		cmocka_unit_test(test_unknown_long_option_suggests_the_closest_one),
		cmocka_unit_test(test_unknown_option_with_a_value_is_matched_by_its_name),
		cmocka_unit_test(test_unknown_option_prefix_suggests_the_option),
		cmocka_unit_test(test_unknown_option_without_a_close_match_points_to_help),
		cmocka_unit_test(test_unknown_short_option_is_an_error),
		cmocka_unit_test(test_option_missing_its_value_is_an_error),
		cmocka_unit_test(test_flag_given_a_value_is_an_error),
		cmocka_unit_test(test_format_typo_suggests_the_closest_value),
		cmocka_unit_test(test_format_nonsense_lists_the_values),
		cmocka_unit_test(test_json_line_is_only_for_commands_that_allow_it),
		cmocka_unit_test(test_format_values_are_case_sensitive),
		cmocka_unit_test(test_format_prometheus_only_for_commands_that_have_it),
		cmocka_unit_test(test_shared_options_set_the_cli_fields),
		cmocka_unit_test(test_timeout_accepts_durations),
		cmocka_unit_test(test_timeout_rejects_zero_and_nonsense),
		cmocka_unit_test(test_ipv4_and_ipv6_together_are_rejected),
		cmocka_unit_test(test_repeating_the_same_family_is_fine),
		cmocka_unit_test(test_shared_options_are_unknown_to_a_command_that_does_not_enable_them),
		cmocka_unit_test(test_only_the_enabled_shared_options_are_accepted),
		cmocka_unit_test(test_suggestions_only_name_options_the_command_accepts),
		cmocka_unit_test_setup_teardown(test_color_always_and_never_win_over_everything, save_env, restore_env),
		cmocka_unit_test_setup_teardown(test_color_auto_is_off_when_not_a_terminal, save_env, restore_env),
		cmocka_unit_test_setup_teardown(test_color_auto_is_on_for_a_terminal, save_env, restore_env),
		cmocka_unit_test_setup_teardown(test_no_color_disables_auto_colour_on_a_terminal, save_env, restore_env),
		cmocka_unit_test(test_command_help_lists_usage_options_and_enabled_shared_options),
		cmocka_unit_test(test_command_help_leaves_out_shared_options_not_enabled),
		cmocka_unit_test(test_global_options_help_lists_every_global_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
