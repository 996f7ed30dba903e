/*
 * derper's command line from a systemd unit (systemd.service(5), systemd.syntax(7)):
 * the [Service] section's ExecStart (an empty ExecStart= resets the list; the last one
 * counts), its prefixes (@ - : + ! !!), backslash line continuations, comments, quoted
 * words, WorkingDirectory= and Environment= (used to expand $VAR and ${VAR}; a variable
 * set elsewhere, e.g. in an EnvironmentFile=, leaves the flags unreadable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/deployment.h"

#define UNIT_MAX (256u * 1024u)

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int dc_sysunit_parse(const char *text, size_t len, const char *file, struct dc_deployment *d, struct dc_error *err)
{
	if (memchr(text, '\0', len))
		return dc_error_set(err, file, "not a text file (it holds NUL bytes)");
	snprintf(d->file, sizeof(d->file), "%s", file);
	const char *base = strrchr(file, '/');
	snprintf(d->name, sizeof(d->name), "%s", base ? base + 1 : file);
	char *copy = dc_xstrndup(text, len);
	char *exec = NULL;
	unsigned exec_line = 0, line_no = 0;
	bool in_service = false;
	struct dc_buf logical = {0};
	dc_buf_append(&logical, "", 0);
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line_no++;
		char *t = trim(line);
		size_t tl = strlen(t);
		if (tl && t[tl - 1] == '\\') {
			t[tl - 1] = ' ';
			dc_buf_append(&logical, t, tl);
			continue;
		}
		dc_buf_append(&logical, t, tl);
		char *l = trim(logical.data);
		if (l[0] == '#' || l[0] == ';' || !l[0]) {
			logical.len = 0;
			logical.data[0] = '\0';
			continue;
		}
		if (l[0] == '[') {
			in_service = strncmp(l, "[Service]", 9) == 0;
		} else if (in_service) {
			char *eq = strchr(l, '=');
			if (eq) {
				*eq = '\0';
				char *key = trim(l), *value = trim(eq + 1);
				if (strcmp(key, "ExecStart") == 0) {
					free(exec);
					exec = value[0] ? dc_xstrdup(value) : NULL;
					exec_line = line_no;
				} else if (strcmp(key, "WorkingDirectory") == 0) {
					snprintf(d->workdir, sizeof(d->workdir), "%s", value[0] == '-' ? value + 1 : value);
				} else if (strcmp(key, "Environment") == 0) {
					char *words[32];
					int n = dc_split_words(value, words, 32);
					for (int i = 0; i < n; i++) {
						if (strchr(words[i], '='))
							dc_deployment_add_env(d, words[i]);
						free(words[i]);
					}
				}
			}
		}
		logical.len = 0;
		logical.data[0] = '\0';
	}
	dc_buf_free(&logical);
	free(copy);
	if (!exec) {
		dc_error_set(err, file, "no ExecStart= in a [Service] section");
		dc_error_hint(err, "give derper's unit file (systemctl cat derper shows it and where it is)");
		return -1;
	}
	d->argv_pos = (struct dc_srcpos){exec_line, 1};
	/* prefixes: "@" (argv[0] follows), "-" ":" "+" "!" "!!" */
	char *p = exec;
	bool at = false;
	while (*p == '@' || *p == '-' || *p == ':' || *p == '+' || *p == '!') {
		at = at || *p == '@';
		p++;
	}
	struct dc_buf expanded = {0};
	dc_deployment_expand(d, p, &expanded);
	dc_buf_append(&expanded, "", 0);
	char *words[DC_DEPLOY_MAX_ARGS];
	int n = dc_split_words(expanded.data, words, DC_DEPLOY_MAX_ARGS);
	dc_buf_free(&expanded);
	free(exec);
	if (n < 0) {
		dc_error_set(err, file, "line %u: ExecStart= has a quote that is not closed", exec_line);
		return -1;
	}
	if (at && n >= 2) {
		/* "@/usr/bin/derper derper -a ...": the second word is only argv[0] */
		free(words[1]);
		memmove(words + 1, words + 2, (size_t)(n - 2) * sizeof(*words));
		n--;
	}
	dc_deployment_set_command(d, words, n);
	if (!d->argv_known && strstr(d->argv_problem, "variables"))
		snprintf(d->argv_problem + strlen(d->argv_problem), sizeof(d->argv_problem) - strlen(d->argv_problem),
			 " (an EnvironmentFile= or a drop-in)");
	for (int i = 0; i < n; i++)
		free(words[i]);
	return 0;
}

int dc_sysunit_load(const char *file, struct dc_deployment *d, struct dc_error *err)
{
	struct dc_buf b = {0};
	if (dc_read_small_file(file, UNIT_MAX, &b, err) < 0)
		return -1;
	int rc = dc_sysunit_parse(b.data, b.len, file, d, err);
	dc_buf_free(&b);
	return rc;
}
