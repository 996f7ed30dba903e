/*
 * A docker-compose.yml / compose.yaml read through the shared YAML reader (yaml.h): the
 * derper service's command and entrypoint (a string is split like a shell line, a list
 * is taken as is), ports (short syntax "[ip:][host[-range]:]container[-range][/udp]" and
 * the long syntax's target/published/host_ip/protocol), volumes (short "src:dst[:mode]"
 * and long type/source/target; relative host paths start at the compose file's folder),
 * network_mode, environment and working_dir. The compose specification's names are
 * matched exactly, as docker compose does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/deployment.h"
#include "derpcheck/input/yaml.h"

#define COMPOSE_MAX (1u << 20)

static const char *scalar(const struct dc_json *n)
{
	if (!n || n->type == DC_JSON_ARRAY || n->type == DC_JSON_OBJECT || n->type == DC_JSON_NULL)
		return NULL;
	return n->text;
}

static int where(struct dc_error *err, const char *file, const struct dc_json *n, const char *fmt, const char *a)
{
	char at[480];
	if (n)
		snprintf(at, sizeof(at), "%.400s:%u:%u", file, n->pos.line, n->pos.col);
	else
		snprintf(at, sizeof(at), "%.400s", file);
	dc_error_set(err, at, fmt, a);
	return -1;
}

/* command/entrypoint: a list of words, or a string split like a shell line. */
static int words_of(const struct dc_json *n, char **words, int have, int max)
{
	if (!n || n->type == DC_JSON_NULL)
		return have;
	if (n->type == DC_JSON_ARRAY) {
		for (size_t i = 0; i < n->count && have < max; i++) {
			const char *s = scalar(&n->items[i]);
			if (s)
				words[have++] = dc_xstrdup(s);
		}
		return have;
	}
	const char *s = scalar(n);
	if (!s)
		return have;
	char *split[DC_DEPLOY_MAX_ARGS];
	int k = dc_split_words(s, split, DC_DEPLOY_MAX_ARGS);
	if (k < 0)
		return -1;
	for (int i = 0; i < k; i++) {
		if (have < max)
			words[have++] = split[i];
		else
			free(split[i]);
	}
	return have;
}

static void resolve_source(const char *dir, const char *src, char *out, size_t n)
{
	if (src[0] == '/' || !dir[0]) {
		snprintf(out, n, "%s", src);
		return;
	}
	if (src[0] == '~' && src[1] == '/') {
		const char *home = getenv("HOME");
		snprintf(out, n, "%s/%s", home ? home : "~", src + 2);
		return;
	}
	while (src[0] == '.' && src[1] == '/')
		src += 2;
	if (strcmp(src, ".") == 0)
		src = "";
	snprintf(out, n, "%s%s%s", dir, src[0] ? "/" : "", src);
}

static bool is_host_path(const char *s)
{
	return s[0] == '/' || s[0] == '.' || s[0] == '~';
}

static int add_mount(struct dc_deployment *d, const char *dir, const char *src, const char *dst)
{
	if (d->mount_count >= DC_DEPLOY_MAX_MOUNTS)
		return 0;
	struct dc_mount *m = &d->mounts[d->mount_count++];
	m->named_volume = !is_host_path(src);
	if (m->named_volume)
		snprintf(m->source, sizeof(m->source), "%s", src);
	else
		resolve_source(dir, src, m->source, sizeof(m->source));
	snprintf(m->target, sizeof(m->target), "%s", dst);
	return 0;
}

static int read_volumes(struct dc_deployment *d, const struct dc_json *vols, const char *dir, const char *file,
			struct dc_error *err)
{
	if (!vols || vols->type == DC_JSON_NULL)
		return 0;
	if (vols->type != DC_JSON_ARRAY)
		return where(err, file, vols, "volumes: must be a list%s", "");
	for (size_t i = 0; i < vols->count; i++) {
		const struct dc_json *v = &vols->items[i];
		if (v->type == DC_JSON_OBJECT) {
			const char *src = scalar(dc_json_member(v, "source")), *dst = scalar(dc_json_member(v, "target"));
			const char *type = scalar(dc_json_member(v, "type"));
			if (!dst)
				return where(err, file, v, "a volume without target:%s", "");
			if (type && strcmp(type, "bind") != 0 && strcmp(type, "volume") != 0)
				continue; /* tmpfs, npipe: no host files */
			add_mount(d, dir, src ? src : "", dst);
			if (type && strcmp(type, "volume") == 0)
				d->mounts[d->mount_count - 1].named_volume = true;
			continue;
		}
		const char *s = scalar(v);
		if (!s)
			return where(err, file, v, "a volume must be \"SOURCE:TARGET[:MODE]\" or a mapping%s", "");
		char buf[PATH_MAX * 2];
		snprintf(buf, sizeof(buf), "%s", s);
		char *colon = strchr(buf, ':');
		if (!colon)
			continue; /* an anonymous volume: no host files */
		*colon = '\0';
		char *dst = colon + 1, *mode = strchr(dst, ':');
		if (mode)
			*mode = '\0';
		add_mount(d, dir, buf, dst);
	}
	return 0;
}

static int read_ports(struct dc_deployment *d, const struct dc_json *ports, const char *file, struct dc_error *err)
{
	if (!ports || ports->type == DC_JSON_NULL)
		return 0;
	if (ports->type != DC_JSON_ARRAY)
		return where(err, file, ports, "ports: must be a list%s", "");
	for (size_t i = 0; i < ports->count; i++) {
		const struct dc_json *p = &ports->items[i];
		size_t before = d->port_count;
		char spec[200];
		if (p->type == DC_JSON_OBJECT) {
			/* long syntax: target, published, host_ip, protocol */
			const char *target = scalar(dc_json_member(p, "target"));
			const char *pub = scalar(dc_json_member(p, "published"));
			const char *ip = scalar(dc_json_member(p, "host_ip"));
			const char *pr = scalar(dc_json_member(p, "protocol"));
			if (!target)
				return where(err, file, p, "a port mapping without target:%s", "");
			bool v6 = ip && strchr(ip, ':');
			snprintf(spec, sizeof(spec), "%s%s%s%s%s%s%s/%s", ip ? (v6 ? "[" : "") : "", ip ? ip : "",
				 ip ? (v6 ? "]:" : ":") : "", pub ? pub : "", pub || ip ? ":" : "", target, "", pr ? pr : "tcp");
		} else {
			const char *s = scalar(p);
			if (!s)
				return where(err, file, p, "a port must be a string or a mapping%s", "");
			snprintf(spec, sizeof(spec), "%s", s);
		}
		struct dc_error perr;
		if (dc_port_spec_parse(spec, d->ports, DC_DEPLOY_MAX_PORTS, &d->port_count, &perr) < 0) {
			if (d->port_count >= DC_DEPLOY_MAX_PORTS) {
				d->ports_truncated = true;
				return 0;
			}
			return where(err, file, p, "%s", perr.what);
		}
		for (size_t k = before; k < d->port_count; k++) {
			d->ports[k].pos = p->pos;
			if (p->type == DC_JSON_OBJECT)
				snprintf(d->ports[k].text, sizeof(d->ports[k].text), "%.127s", spec);
		}
	}
	return 0;
}

static void read_environment(struct dc_deployment *d, const struct dc_json *env)
{
	if (!env)
		return;
	for (size_t i = 0; i < env->count; i++) {
		const struct dc_json *e = &env->items[i];
		char kv[1024];
		if (env->type == DC_JSON_OBJECT) {
			const char *v = scalar(e);
			snprintf(kv, sizeof(kv), "%s=%s", e->key ? e->key : "", v ? v : "");
		} else if (scalar(e)) {
			snprintf(kv, sizeof(kv), "%s", scalar(e));
		} else {
			continue;
		}
		dc_deployment_add_env(d, kv);
	}
}

/* A service that runs derper: its image or its command says so. */
static bool names_derper(const struct dc_json *svc)
{
	const char *image = scalar(dc_json_member(svc, "image"));
	if (image && strstr(image, "derp"))
		return true;
	const char *names[] = {"command", "entrypoint", "container_name"};
	for (size_t k = 0; k < DC_ARRAY_LEN(names); k++) {
		const struct dc_json *c = dc_json_member(svc, names[k]);
		if (scalar(c) && strstr(scalar(c), "derper"))
			return true;
		for (size_t i = 0; c && c->type == DC_JSON_ARRAY && i < c->count; i++)
			if (scalar(&c->items[i]) && strstr(scalar(&c->items[i]), "derper"))
				return true;
	}
	return false;
}

/* Image variables that hold derper's flags (deployments.md §4): their names, for the message. */
static void env_flag_names(const struct dc_deployment *d, char *out, size_t n)
{
	out[0] = '\0';
	int found = 0;
	for (size_t i = 0; i < d->env_count && found < 5; i++)
		if (strncmp(d->env[i], "DERP_", 5) == 0) {
			size_t used = strlen(out);
			snprintf(out + used, n - used, "%s%.*s", found ? ", " : "", (int)strcspn(d->env[i], "="), d->env[i]);
			found++;
		}
}

int dc_compose_parse(const char *text, size_t len, const char *file, const char *service, struct dc_deployment *d,
		     struct dc_error *err)
{
	snprintf(d->file, sizeof(d->file), "%s", file);
	struct dc_yaml_doc doc = {0};
	if (dc_yaml_parse(text, len, &doc, err) < 0) {
		snprintf(err->where, sizeof(err->where), "%.400s:%u:%u", file, err->pos.line, err->pos.col);
		dc_yaml_doc_free(&doc);
		return -1;
	}
	int rc = -1;
	const struct dc_json *services = doc.root ? dc_json_member(doc.root, "services") : NULL;
	if (!services || services->type != DC_JSON_OBJECT || services->count == 0) {
		where(err, file, doc.root, "no services: mapping%s", "");
		dc_error_hint(err, "give the compose file that runs derper (docker compose config shows the one in use)");
		goto out;
	}
	const struct dc_json *svc = NULL;
	if (service) {
		svc = dc_json_member(services, service);
		if (!svc) {
			char names[300] = "";
			for (size_t i = 0; i < services->count; i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
					 services->items[i].key ? services->items[i].key : "");
			where(err, file, services, "no service named %s", service);
			dc_error_hint(err, "its services are: %s", names);
			goto out;
		}
	} else if (services->count == 1) {
		svc = &services->items[0];
	} else {
		size_t found = 0;
		for (size_t i = 0; i < services->count; i++)
			if (names_derper(&services->items[i])) {
				if (!svc)
					svc = &services->items[i];
				found++;
			}
		if (found != 1) {
			where(err, file, services, found ? "more than one service looks like derper%s" : "no service looks like derper%s", "");
			dc_error_hint(err, "name it with --service NAME");
			goto out;
		}
	}
	if (svc->type != DC_JSON_OBJECT) {
		where(err, file, svc, "service %s is not a mapping", svc->key ? svc->key : "");
		goto out;
	}
	snprintf(d->name, sizeof(d->name), "%s", svc->key ? svc->key : "");
	const char *image = scalar(dc_json_member(svc, "image"));
	snprintf(d->image, sizeof(d->image), "%s", image ? image : "");
	d->in_container = true;
	const char *mode = scalar(dc_json_member(svc, "network_mode"));
	d->host_network = mode && strcmp(mode, "host") == 0;
	const char *wd = scalar(dc_json_member(svc, "working_dir"));
	snprintf(d->workdir, sizeof(d->workdir), "%s", wd ? wd : "");
	read_environment(d, dc_json_member(svc, "environment"));

	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", file);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (read_volumes(d, dc_json_member(svc, "volumes"), dir, file, err) < 0)
		goto out;
	if (read_ports(d, dc_json_member(svc, "ports"), file, err) < 0)
		goto out;
	if (d->host_network && d->port_count) {
		d->ports_ignored = true;
	}

	const struct dc_json *entry = dc_json_member(svc, "entrypoint"), *cmd = dc_json_member(svc, "command");
	char *words[DC_DEPLOY_MAX_ARGS];
	int n = words_of(entry, words, 0, DC_DEPLOY_MAX_ARGS);
	int m = n < 0 ? -1 : words_of(cmd, words, n, DC_DEPLOY_MAX_ARGS);
	if (m < 0) {
		for (int i = 0; i < n; i++)
			free(words[i]);
		where(err, file, cmd ? cmd : entry, "the command has a quote that is not closed%s", "");
		goto out;
	}
	const struct dc_json *at = cmd ? cmd : entry;
	if (at)
		d->argv_pos = at->pos;
	dc_deployment_set_command(d, words, m);
	for (int i = 0; i < m; i++)
		free(words[i]);
	char vars[200];
	env_flag_names(d, vars, sizeof(vars));
	if (!d->argv_known && vars[0]) {
		size_t used = strlen(d->argv_problem);
		snprintf(d->argv_problem + used, sizeof(d->argv_problem) - used,
			 "; the image builds derper's flags from its environment (%s), in a way this file does not show", vars);
	}
	rc = 0;
out:
	dc_yaml_doc_free(&doc);
	return rc;
}

int dc_compose_load(const char *file, const char *service, struct dc_deployment *d, struct dc_error *err)
{
	struct dc_buf b = {0};
	if (dc_read_small_file(file, COMPOSE_MAX, &b, err) < 0)
		return -1;
	int rc = dc_compose_parse(b.data, b.len, file, service, d, err);
	dc_buf_free(&b);
	return rc;
}
