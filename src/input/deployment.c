#include "derpcheck/input/deployment.h"

#include "derpcheck/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/derperflags.h"

void dc_deployment_init(struct dc_deployment *d, enum dc_deploy_source source)
{
	memset(d, 0, sizeof(*d));
	d->source = source;
}

void dc_deployment_free(struct dc_deployment *d)
{
	for (int i = 0; i < d->argc; i++)
		free(d->argv[i]);
	for (size_t i = 0; i < d->env_count; i++)
		free(d->env[i]);
	d->argc = 0;
	d->env_count = 0;
}

bool dc_deployment_add_arg(struct dc_deployment *d, const char *arg)
{
	if (d->argc >= DC_DEPLOY_MAX_ARGS)
		return false;
	d->argv[d->argc++] = dc_xstrdup(arg);
	return true;
}

bool dc_deployment_add_env(struct dc_deployment *d, const char *name_value)
{
	if (d->env_count >= DC_DEPLOY_MAX_ENV)
		return false;
	d->env[d->env_count++] = dc_xstrdup(name_value);
	return true;
}

const char *dc_deployment_env(const struct dc_deployment *d, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;
	for (size_t i = 0; i < d->env_count; i++)
		if (strncmp(d->env[i], name, n) == 0 && d->env[i][n] == '=')
			found = d->env[i] + n + 1; /* the last one wins */
	return found;
}

const char *dc_deploy_source_name(enum dc_deploy_source s)
{
	switch (s) {
	case DC_DEPLOY_PROCESS: return "process";
	case DC_DEPLOY_SYSTEMD: return "systemd";
	case DC_DEPLOY_COMPOSE: return "compose";
	case DC_DEPLOY_INSPECT: return "inspect";
	}
	return "?";
}

int dc_read_small_file(const char *path, size_t max, struct dc_buf *out, struct dc_error *err)
{
	/* Only a regular file: a FIFO or a device named here must not hang us (src/util/file.c). */
	int fd = dc_file_open_regular(path, err);
	if (fd < 0)
		return -1;
	int rc = dc_file_read_fd(fd, path, max, out, err);
	close(fd);
	if (rc < 0) {
		if (errno == EFBIG)
			dc_error_set(err, path, "larger than %zu KiB; not a file derpcheck reads", max >> 10);
		dc_buf_free(out);
	}
	return rc;
}

/* ---- words --------------------------------------------------------------------------- */

int dc_split_words(const char *line, char **words, int max)
{
	int n = 0;
	const char *p = line;
	struct dc_buf w = {0};
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		w.len = 0;
		dc_buf_append(&w, "", 0);
		char quote = 0;
		for (; *p; p++) {
			char c = *p;
			if (quote) {
				if (c == quote) {
					quote = 0;
				} else if (c == '\\' && quote == '"' && p[1]) {
					p++;
					dc_buf_append(&w, p, 1);
				} else {
					dc_buf_append(&w, p, 1);
				}
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
				break;
			if (c == '\'' || c == '"') {
				quote = c;
			} else if (c == '\\' && p[1]) {
				p++;
				dc_buf_append(&w, p, 1);
			} else {
				dc_buf_append(&w, p, 1);
			}
		}
		if (quote) {
			dc_buf_free(&w);
			for (int i = 0; i < n; i++)
				free(words[i]);
			return -1;
		}
		if (n >= max)
			break;
		words[n++] = dc_xstrndup(w.data, w.len);
	}
	dc_buf_free(&w);
	return n;
}

static bool is_shell(const char *w)
{
	const char *base = strrchr(w, '/');
	base = base ? base + 1 : w;
	return strcmp(base, "sh") == 0 || strcmp(base, "bash") == 0 || strcmp(base, "ash") == 0 ||
	       strcmp(base, "dash") == 0 || strcmp(base, "busybox") == 0;
}

/* The variables a command uses, "$A, ${B}" (at most a few), for the message. */
static void list_variables(char *const *words, int n, char *out, size_t size)
{
	out[0] = '\0';
	int found = 0;
	for (int i = 0; i < n && found < 4; i++)
		for (const char *p = strchr(words[i], '$'); p && found < 4; p = strchr(p + 1, '$')) {
			size_t len = 1;
			if (p[1] == '{') {
				const char *end = strchr(p, '}');
				len = end ? (size_t)(end - p) + 1 : strlen(p);
			} else {
				while (p[len] == '_' || (p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= 'a' && p[len] <= 'z') ||
				       (p[len] >= '0' && p[len] <= '9'))
					len++;
			}
			if (len < 2 || len > 60)
				continue;
			size_t used = strlen(out);
			snprintf(out + used, size - used, "%s%.*s", found ? ", " : "", (int)len, p);
			found++;
		}
}

void dc_deployment_set_command(struct dc_deployment *d, char *const *words, int n)
{
	for (int i = 0; i < d->argc; i++)
		free(d->argv[i]);
	d->argc = 0;
	d->argv_known = false;
	d->program[0] = '\0';
	d->argv_problem[0] = '\0';
	if (n == 0) {
		snprintf(d->argv_problem, sizeof(d->argv_problem),
			 "no command is given, so the image's own ENTRYPOINT/CMD runs, which this file does not show");
		return;
	}
	/* sh -c "exec derper ...": look into the script when it is one simple command. */
	if (is_shell(words[0])) {
		for (int i = 1; i + 1 < n; i++)
			if (strcmp(words[i], "-c") == 0) {
				char *inner[DC_DEPLOY_MAX_ARGS];
				int k = dc_split_words(words[i + 1], inner, DC_DEPLOY_MAX_ARGS);
				if (k < 0 || strpbrk(words[i + 1], ";&|<>`\n")) {
					if (k > 0)
						for (int j = 0; j < k; j++)
							free(inner[j]);
					snprintf(d->argv_problem, sizeof(d->argv_problem),
						 "the command is a shell script (%.200s), not one derper command line", words[i + 1]);
					return;
				}
				int skip = k > 0 && strcmp(inner[0], "exec") == 0 ? 1 : 0;
				dc_deployment_set_command(d, inner + skip, k - skip);
				for (int j = 0; j < k; j++)
					free(inner[j]);
				return;
			}
	}
	int start = -1;
	for (int i = 0; i < n && start < 0; i++)
		if (dc_derper_is_program(words[i]))
			start = i;
	if (start < 0 && words[0][0] != '-') {
		snprintf(d->argv_problem, sizeof(d->argv_problem),
			 "the command runs %.200s, not derper itself, so derper's flags are not in it", words[0]);
		return;
	}
	char vars[300];
	list_variables(words, n, vars, sizeof(vars));
	if (vars[0]) {
		snprintf(d->argv_problem, sizeof(d->argv_problem),
			 "the command uses variables (%s), whose values are set where derpcheck cannot see them", vars);
		return;
	}
	if (start >= 0)
		snprintf(d->program, sizeof(d->program), "%s", words[start]);
	for (int i = start + 1; i < n; i++)
		if (!dc_deployment_add_arg(d, words[i]))
			break;
	d->argv_known = true;
}

void dc_deployment_expand(const struct dc_deployment *d, const char *in, struct dc_buf *out)
{
	for (const char *p = in; *p;) {
		if (*p == '$' && (p[1] == '{' || p[1] == '_' || (p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z'))) {
			const char *start = p + 1, *end;
			if (*start == '{') {
				start++;
				end = strchr(start, '}');
				if (!end) {
					dc_buf_append(out, p, strlen(p));
					return;
				}
			} else {
				end = start;
				while (*end == '_' || (*end >= 'A' && *end <= 'Z') || (*end >= 'a' && *end <= 'z') ||
				       (*end >= '0' && *end <= '9'))
					end++;
			}
			char name[128];
			size_t n = (size_t)(end - start);
			const char *value = NULL;
			if (n < sizeof(name)) {
				memcpy(name, start, n);
				name[n] = '\0';
				value = dc_deployment_env(d, name);
			}
			const char *after = *end == '}' ? end + 1 : end;
			if (value)
				dc_buf_append(out, value, strlen(value));
			else
				dc_buf_append(out, p, (size_t)(after - p));
			p = after;
			continue;
		}
		dc_buf_append(out, p, 1);
		p++;
	}
	dc_buf_append(out, "", 0);
}

/* ---- ports --------------------------------------------------------------------------- */

static int port_range(const char *s, size_t len, int *lo, int *hi)
{
	char buf[32];
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *dash = strchr(buf, '-');
	long long a, b;
	if (dash)
		*dash = '\0';
	if (dc_parse_int(buf, 0, 65535, &a) < 0)
		return -1;
	b = a;
	if (dash && dc_parse_int(dash + 1, 0, 65535, &b) < 0)
		return -1;
	if (b < a)
		return -1;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

int dc_port_spec_parse(const char *spec, struct dc_port_publish *out, size_t max, size_t *count, struct dc_error *err)
{
	char s[160];
	if (strlen(spec) >= sizeof(s))
		return dc_error_set(err, NULL, "port \"%.60s...\" is too long", spec);
	snprintf(s, sizeof(s), "%s", spec);
	bool udp = false;
	char *slash = strrchr(s, '/');
	if (slash) {
		if (strcmp(slash + 1, "udp") == 0)
			udp = true;
		else if (strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "sctp") != 0)
			return dc_error_set(err, NULL, "port \"%s\": unknown protocol \"%s\" (tcp or udp)", spec, slash + 1);
		else if (strcmp(slash + 1, "sctp") == 0)
			return 0; /* not DERP's business */
		*slash = '\0';
	}
	char ip[64] = "";
	char *rest = s;
	if (s[0] == '[') {
		char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(ip))
			return dc_error_set(err, NULL, "port \"%s\": the IPv6 address must be [ADDR]:HOST:CONTAINER", spec);
		memcpy(ip, s + 1, (size_t)(end - s - 1));
		ip[end - s - 1] = '\0';
		rest = end + 2;
	}
	/* what is left: [ip:][host:]container, where ip may be empty ("ip::container") */
	char *parts[3];
	int np = 0;
	parts[np++] = rest;
	for (char *p = rest; *p; p++)
		if (*p == ':') {
			if (np == 3)
				return dc_error_set(err, NULL, "port \"%s\" has too many ':' (an IPv6 address needs [brackets])", spec);
			*p = '\0';
			parts[np++] = p + 1;
		}
	const char *host = NULL, *cont = parts[np - 1];
	if (np == 3) {
		if (ip[0])
			return dc_error_set(err, NULL, "port \"%s\" is not [IP:][HOST:]CONTAINER", spec);
		if (strlen(parts[0]) >= sizeof(ip))
			return dc_error_set(err, NULL, "port \"%s\": the address is too long", spec);
		memcpy(ip, parts[0], strlen(parts[0]) + 1);
		host = parts[1];
	} else if (np == 2) {
		host = parts[0];
	}
	int clo, chi, hlo = 0, hhi = 0;
	if (port_range(cont, strlen(cont), &clo, &chi) < 0 || clo == 0)
		return dc_error_set(err, NULL, "port \"%s\": \"%s\" is not a container port or range (1-65535)", spec, cont);
	if (host && host[0]) {
		if (port_range(host, strlen(host), &hlo, &hhi) < 0)
			return dc_error_set(err, NULL, "port \"%s\": \"%s\" is not a host port or range", spec, host);
		if (hhi - hlo != chi - clo && hhi != hlo && chi != clo)
			return dc_error_set(err, NULL, "port \"%s\": the host and container ranges differ in length", spec);
	}
	for (int k = 0; k <= chi - clo; k++) {
		if (*count >= max)
			return dc_error_set(err, NULL, "more than %zu published ports", max);
		struct dc_port_publish *o = &out[(*count)++];
		memset(o, 0, sizeof(*o));
		memcpy(o->host_ip, ip, sizeof(o->host_ip));
		o->container_port = clo + k;
		/* a host range for one container port: docker picks one of them */
		o->host_port = !host || !host[0] ? 0 : hhi - hlo == chi - clo ? hlo + k : chi == clo && hhi != hlo ? 0 : hlo;
		o->udp = udp;
		snprintf(o->text, sizeof(o->text), "%.127s", spec);
	}
	return 0;
}

/* ---- paths --------------------------------------------------------------------------- */

static void join(char *out, size_t n, const char *dir, const char *rel)
{
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if (strcmp(rel, ".") == 0)
		rel = "";
	size_t dl = strlen(dir);
	bool slash = dl && dir[dl - 1] == '/';
	snprintf(out, n, "%s%s%s", dir, slash || !rel[0] ? "" : "/", rel);
}

bool dc_deployment_host_path(const struct dc_deployment *d, const char *path, char *out, size_t n,
			     const struct dc_mount **mount_out)
{
	char abs[PATH_MAX];
	if (mount_out)
		*mount_out = NULL;
	if (path[0] == '/')
		snprintf(abs, sizeof(abs), "%s", path);
	else
		join(abs, sizeof(abs), d->workdir[0] ? d->workdir : "/", path);
	if (d->source == DC_DEPLOY_COMPOSE || d->source == DC_DEPLOY_INSPECT) {
		if (d->host_network && d->mount_count == 0)
			return false;
		const struct dc_mount *best = NULL;
		size_t best_len = 0;
		for (size_t i = 0; i < d->mount_count; i++) {
			const struct dc_mount *m = &d->mounts[i];
			size_t tl = strlen(m->target);
			while (tl > 1 && m->target[tl - 1] == '/')
				tl--;
			if (strncmp(abs, m->target, tl) == 0 && (abs[tl] == '\0' || abs[tl] == '/' || tl == 1) && tl >= best_len) {
				best = m;
				best_len = tl;
			}
		}
		if (!best)
			return false;
		if (mount_out)
			*mount_out = best;
		if (best->named_volume)
			return false;
		const char *rest = abs + best_len;
		while (*rest == '/')
			rest++;
		join(out, n, best->source, rest);
		return true;
	}
	if (d->root[0])
		snprintf(out, n, "%s%s", d->root, abs);
	else
		snprintf(out, n, "%s", abs);
	return true;
}
