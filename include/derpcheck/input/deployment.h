/*
 * How one derper is deployed, whatever described it: a running process (/proc), a
 * systemd unit (ExecStart), a docker-compose service, or `docker inspect` output. Each
 * reader fills the same model — derper's argv, the ports the container publishes, the
 * host folders mounted into it, its network mode — so src/judge/serverconf.c compares
 * the three descriptions of one server (derper's flags, the publishing, the DERP map)
 * without knowing where they came from. Core only: nothing is printed.
 */
#ifndef DERPCHECK_DEPLOYMENT_H
#define DERPCHECK_DEPLOYMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "derpcheck/util/util.h"

enum dc_deploy_source {
	DC_DEPLOY_PROCESS, /* /proc/PID */
	DC_DEPLOY_SYSTEMD, /* a unit file's ExecStart */
	DC_DEPLOY_COMPOSE, /* docker-compose.yml / compose.yaml */
	DC_DEPLOY_INSPECT, /* docker inspect JSON */
};

/* One published port rule: host [ip:]port -> container port, per protocol. */
struct dc_port_publish {
	char host_ip[64];    /* "" = every address */
	int host_port;       /* 0: docker picks one (an ephemeral port) */
	int container_port;
	bool udp;            /* else TCP */
	char text[128];      /* as written ("3478:38893/udp"), for messages */
	struct dc_srcpos pos;
};

/* A host folder or file seen inside the container. */
struct dc_mount {
	char source[PATH_MAX]; /* host path (compose: resolved against the file's folder) */
	char target[PATH_MAX]; /* path inside the container */
	bool named_volume;     /* a docker volume, not a host path: its files are not at source */
};

#define DC_DEPLOY_MAX_ARGS 256
#define DC_DEPLOY_MAX_PORTS 64
#define DC_DEPLOY_MAX_MOUNTS 32
#define DC_DEPLOY_MAX_ENV 64

struct dc_deployment {
	enum dc_deploy_source source;
	char file[PATH_MAX];     /* the file read ("" for a process) */
	char name[256];          /* compose service, container name, unit name, or "pid N" */
	char image[256];         /* the container image, when known */

	/* derper's arguments after its program name; argv_known false when they cannot be read */
	char *argv[DC_DEPLOY_MAX_ARGS];
	int argc;
	bool argv_known;
	char program[PATH_MAX];  /* derper's path as started ("" when only flags are known) */
	char argv_problem[600];  /* why the flags cannot be read (argv_known false) */
	struct dc_srcpos argv_pos; /* where the command is in the file */

	/* the container */
	bool in_container;
	bool host_network;       /* network_mode: host / NetworkMode "host": ports are derper's own */
	bool ports_ignored;      /* ports: written although the network is the host's */
	struct dc_port_publish ports[DC_DEPLOY_MAX_PORTS];
	size_t port_count;
	bool ports_truncated;
	struct dc_mount mounts[DC_DEPLOY_MAX_MOUNTS];
	size_t mount_count;
	char *env[DC_DEPLOY_MAX_ENV]; /* NAME=value */
	size_t env_count;
	char workdir[PATH_MAX];  /* relative paths in derper's flags start here ("" = unknown, "/") */

	/* a process: where its files are seen from here */
	pid_t pid;
	char root[64];           /* "/proc/PID/root" when its mount namespace differs, else "" */
	bool other_netns;        /* its own network namespace (a container's bridge network) */
};

void dc_deployment_init(struct dc_deployment *d, enum dc_deploy_source source);
void dc_deployment_free(struct dc_deployment *d);
/* Append one argument (copied); false when DC_DEPLOY_MAX_ARGS is reached. */
bool dc_deployment_add_arg(struct dc_deployment *d, const char *arg);
bool dc_deployment_add_env(struct dc_deployment *d, const char *name_value);
/* The value of NAME in the environment, or NULL. */
const char *dc_deployment_env(const struct dc_deployment *d, const char *name);

/*
 * Set derper's argv from a container's entrypoint + command (or a unit's ExecStart): the
 * first word naming derper is the program and the words after it are its flags; a shell
 * (sh -c "...") is looked into; words that are only flags are taken as derper's when
 * nothing names another program. Variables ($VAR, ${VAR}) make the flags unreadable:
 * argv_known stays false and argv_problem says why.
 */
void dc_deployment_set_command(struct dc_deployment *d, char *const *words, int n);

/* Replace $NAME and ${NAME} set in d's environment; unknown variables stay as written. */
void dc_deployment_expand(const struct dc_deployment *d, const char *in, struct dc_buf *out);

/*
 * Split a shell-like command line into words (single and double quotes, backslash
 * escapes; systemd's ExecStart rules are the same for this purpose). Returns the count
 * (words are allocated, caller frees each), or -1 when a quote is not closed.
 */
int dc_split_words(const char *line, char **words, int max);

/* Parse one compose `ports:` short-syntax entry ("[ip:][host[-range]:]container[-range][/proto]"). */
int dc_port_spec_parse(const char *spec, struct dc_port_publish *out, size_t max, size_t *count, struct dc_error *err);

/*
 * Map a path inside the container (or the process) to where it can be read from here.
 * For a container: through the mounts (the longest target that is a prefix), or false
 * when no mount covers it. For a process: prefixed with its root when it has its own
 * mount namespace. Relative paths start at workdir. mount_out (may be NULL) gets the
 * mount used.
 */
bool dc_deployment_host_path(const struct dc_deployment *d, const char *path, char *out, size_t n,
			     const struct dc_mount **mount_out);

/* "docker-compose.yml service derper", "pid 1234", ... */
const char *dc_deploy_source_name(enum dc_deploy_source s); /* "process", "systemd", "compose", "inspect" */

/* ---- readers (src/input/proc.c, sysunit.c, dockerinspect.c, compose.c) ---------------- */

/*
 * The derper processes of this machine (a process whose argv[0] or comm is derper):
 * fills pids (at most max), returns how many. proc is "/proc" (tests give a fake tree).
 */
size_t dc_proc_find_derpers(const char *proc, pid_t *pids, size_t max);

/* Read /proc/PID: cmdline, environ (HOME, XDG_CACHE_HOME), cwd, namespaces. */
int dc_proc_read(const char *proc, pid_t pid, struct dc_deployment *d, struct dc_error *err);

/* Parse NUL-separated /proc/PID/cmdline bytes into d's argv (program first). */
int dc_proc_parse_cmdline(const char *buf, size_t len, struct dc_deployment *d, struct dc_error *err);

/* A systemd unit: [Service] ExecStart (the last one), WorkingDirectory, Environment. */
int dc_sysunit_parse(const char *text, size_t len, const char *file, struct dc_deployment *d, struct dc_error *err);
int dc_sysunit_load(const char *file, struct dc_deployment *d, struct dc_error *err);

/* `docker inspect` output (an array of one container, or one object). */
int dc_inspect_parse(const char *text, size_t len, const char *file, struct dc_deployment *d, struct dc_error *err);
int dc_inspect_load(const char *file, struct dc_deployment *d, struct dc_error *err);

/*
 * A compose file: the service named service, or the one whose image or command names
 * derper (the only service when there is one). Relative volume paths are resolved
 * against the file's folder.
 */
int dc_compose_parse(const char *text, size_t len, const char *file, const char *service, struct dc_deployment *d,
		     struct dc_error *err);
int dc_compose_load(const char *file, const char *service, struct dc_deployment *d, struct dc_error *err);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
int dc_read_small_file(const char *path, size_t max, struct dc_buf *out, struct dc_error *err);

#endif
