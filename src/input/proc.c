/*
 * A running derper read from /proc (proc(5)): its argv from cmdline, HOME and
 * XDG_CACHE_HOME from environ (derper's -certdir default; nothing else is kept: the
 * environment may hold secrets), its working directory, and whether it runs in other
 * mount and network namespaces than ours (a container): then its files are read through
 * /proc/PID/root.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/input/deployment.h"
#include "derpcheck/input/derperflags.h"

#define CMDLINE_MAX (128u * 1024u)

int dc_proc_parse_cmdline(const char *buf, size_t len, struct dc_deployment *d, struct dc_error *err)
{
	for (int i = 0; i < d->argc; i++)
		free(d->argv[i]);
	d->argc = 0;
	d->program[0] = '\0';
	if (len == 0)
		return dc_error_set(err, NULL, "the process has no command line (a kernel thread, or it has exited)");
	size_t pos = 0;
	bool first = true;
	while (pos < len) {
		const char *nul = memchr(buf + pos, '\0', len - pos);
		size_t n = nul ? (size_t)(nul - (buf + pos)) : len - pos;
		char *arg = dc_xstrndup(buf + pos, n);
		if (first)
			snprintf(d->program, sizeof(d->program), "%s", arg);
		else if (!dc_deployment_add_arg(d, arg)) {
			free(arg);
			return dc_error_set(err, NULL, "more than %d arguments", DC_DEPLOY_MAX_ARGS);
		}
		free(arg);
		first = false;
		pos += n + 1;
	}
	d->argv_known = true;
	return 0;
}

static int read_proc_file(const char *path, struct dc_buf *out)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && out->len < CMDLINE_MAX)
		dc_buf_append(out, chunk, n);
	fclose(fp);
	if (!out->data)
		dc_buf_append(out, "", 0);
	return 0;
}

static bool is_derper(const char *proc, const char *pid)
{
	char path[PATH_MAX];
	struct dc_buf b = {0};
	bool yes = false;
	/* an exited process (a zombie) has an empty cmdline: not a running derper */
	snprintf(path, sizeof(path), "%s/%s/cmdline", proc, pid);
	bool alive = read_proc_file(path, &b) == 0 && b.len > 0;
	dc_buf_free(&b);
	if (!alive)
		return false;
	snprintf(path, sizeof(path), "%s/%s/comm", proc, pid);
	if (read_proc_file(path, &b) == 0) {
		while (b.len && (b.data[b.len - 1] == '\n'))
			b.data[--b.len] = '\0';
		yes = strcmp(b.data, "derper") == 0;
	}
	dc_buf_free(&b);
	if (yes)
		return true;
	snprintf(path, sizeof(path), "%s/%s/cmdline", proc, pid);
	if (read_proc_file(path, &b) == 0 && b.len)
		yes = dc_derper_is_program(b.data); /* argv[0] ends at the first NUL */
	dc_buf_free(&b);
	return yes;
}

static int compare_pids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

size_t dc_proc_find_derpers(const char *proc, pid_t *pids, size_t max)
{
	DIR *dir = opendir(proc);
	if (!dir)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && n < max) {
		bool numeric = e->d_name[0] != '\0';
		for (const char *p = e->d_name; *p; p++)
			numeric = numeric && isdigit((unsigned char)*p);
		if (!numeric || !is_derper(proc, e->d_name))
			continue;
		long long v;
		if (dc_parse_int(e->d_name, 1, 4194304, &v) == 0 && (pid_t)v != getpid())
			pids[n++] = (pid_t)v;
	}
	closedir(dir);
	qsort(pids, n, sizeof(*pids), compare_pids);
	return n;
}

/* Whether /proc/PID/ns/NAME names another namespace than ours ("mnt:[4026531840]"). */
static bool other_namespace(const char *proc, pid_t pid, const char *name)
{
	char a[PATH_MAX], b[PATH_MAX], ta[128], tb[128];
	snprintf(a, sizeof(a), "%s/%d/ns/%s", proc, (int)pid, name);
	snprintf(b, sizeof(b), "%s/self/ns/%s", proc, name);
	ssize_t la = readlink(a, ta, sizeof(ta) - 1);
	ssize_t lb = readlink(b, tb, sizeof(tb) - 1);
	if (la <= 0 || lb <= 0)
		return false;
	ta[la] = tb[lb] = '\0';
	return strcmp(ta, tb) != 0;
}

int dc_proc_read(const char *proc, pid_t pid, struct dc_deployment *d, struct dc_error *err)
{
	char path[PATH_MAX], where[64];
	snprintf(where, sizeof(where), "pid %d", (int)pid);
	d->pid = pid;
	snprintf(d->name, sizeof(d->name), "%s", where);
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc, (int)pid);
	struct dc_buf b = {0};
	if (read_proc_file(path, &b) < 0) {
		dc_error_set(err, where, "no such process (%s: %s)", path, strerror(errno));
		dc_error_hint(err, "give the PID of a running derper (pgrep -a derper)");
		return -1;
	}
	/* cmdline ends with a NUL: drop it so no empty argument appears */
	size_t len = b.len && b.data[b.len - 1] == '\0' ? b.len - 1 : b.len;
	int rc = dc_proc_parse_cmdline(b.data, len, d, err);
	dc_buf_free(&b);
	if (rc < 0) {
		snprintf(err->where, sizeof(err->where), "%s", where);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%d/environ", proc, (int)pid);
	if (read_proc_file(path, &b) == 0) {
		for (size_t pos = 0; pos < b.len;) {
			const char *s = b.data + pos;
			size_t n = strnlen(s, b.len - pos);
			if ((n > 5 && strncmp(s, "HOME=", 5) == 0) || (n > 15 && strncmp(s, "XDG_CACHE_HOME=", 15) == 0)) {
				char *kv = dc_xstrndup(s, n);
				dc_deployment_add_env(d, kv);
				free(kv);
			}
			pos += n + 1;
		}
	}
	dc_buf_free(&b);
	snprintf(path, sizeof(path), "%s/%d/cwd", proc, (int)pid);
	ssize_t wl = readlink(path, d->workdir, sizeof(d->workdir) - 1);
	d->workdir[wl > 0 ? wl : 0] = '\0';
	if (other_namespace(proc, pid, "mnt")) {
		snprintf(d->root, sizeof(d->root), "%s/%d/root", proc, (int)pid);
		d->in_container = true;
	}
	d->other_netns = other_namespace(proc, pid, "net");
	d->in_container = d->in_container || d->other_netns;
	return 0;
}
