/*
 * `docker inspect CONTAINER` output: what the container really runs (Config.Entrypoint
 * + Config.Cmd, with a `sh -c` script's $VARs expanded from Config.Env as the shell in
 * the container expands them — the images that take DERP_DOMAIN, DERP_ADDR, ... do
 * exactly that), its port bindings (HostConfig.PortBindings, else NetworkSettings.Ports),
 * its mounts and its network mode. Docker writes these names exactly; they are matched
 * exactly.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/deployment.h"

#define INSPECT_MAX (4u * 1024u * 1024u)

static const cJSON *get(const cJSON *o, const char *name)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = get(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Append a JSON array of strings (or one string) to words. */
static int add_words(const cJSON *v, char **words, int n, int max)
{
	if (cJSON_IsString(v)) {
		if (n < max)
			words[n++] = dc_xstrdup(v->valuestring);
		return n;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
		if (cJSON_IsString(e) && n < max)
			words[n++] = dc_xstrdup(e->valuestring);
	return n;
}

static void add_bindings(struct dc_deployment *d, const cJSON *ports)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, ports) {
		/* "3478/udp": [{"HostIp": "", "HostPort": "3478"}] */
		long long cport;
		char key[64];
		snprintf(key, sizeof(key), "%s", p->string ? p->string : "");
		char *slash = strchr(key, '/');
		bool udp = slash && strcmp(slash + 1, "udp") == 0;
		if (slash)
			*slash = '\0';
		if (dc_parse_int(key, 1, 65535, &cport) < 0 || (slash && !udp && strcmp(slash + 1, "tcp") != 0))
			continue;
		const cJSON *b;
		cJSON_ArrayForEach(b, p) {
			if (d->port_count >= DC_DEPLOY_MAX_PORTS) {
				d->ports_truncated = true;
				return;
			}
			const char *hp = str(b, "HostPort"), *hip = str(b, "HostIp");
			long long hport = 0;
			if (hp && hp[0] && dc_parse_int(hp, 0, 65535, &hport) < 0)
				continue;
			struct dc_port_publish *o = &d->ports[d->port_count++];
			memset(o, 0, sizeof(*o));
			snprintf(o->host_ip, sizeof(o->host_ip), "%s", hip ? hip : "");
			o->host_port = (int)hport;
			o->container_port = (int)cport;
			o->udp = udp;
			if (o->host_ip[0])
				snprintf(o->text, sizeof(o->text), "%s:%d -> %d/%s", hip, o->host_port, o->container_port,
					 udp ? "udp" : "tcp");
			else
				snprintf(o->text, sizeof(o->text), "%d -> %d/%s", o->host_port, o->container_port, udp ? "udp" : "tcp");
		}
	}
}

int dc_inspect_parse(const char *text, size_t len, const char *file, struct dc_deployment *d, struct dc_error *err)
{
	snprintf(d->file, sizeof(d->file), "%s", file);
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root) {
		dc_error_set(err, file, "not JSON");
		dc_error_hint(err, "save it with: docker inspect CONTAINER > inspect.json");
		return -1;
	}
	const cJSON *c = root;
	if (cJSON_IsArray(root)) {
		if (cJSON_GetArraySize(root) != 1) {
			dc_error_set(err, file, "holds %d containers; derpcheck reads one", cJSON_GetArraySize(root));
			dc_error_hint(err, "inspect only the derper container: docker inspect derper > inspect.json");
			cJSON_Delete(root);
			return -1;
		}
		c = cJSON_GetArrayItem(root, 0);
	}
	const cJSON *config = get(c, "Config"), *host = get(c, "HostConfig");
	if (!cJSON_IsObject(config)) {
		dc_error_set(err, file, "no \"Config\" object: not the output of docker inspect for a container");
		dc_error_hint(err, "save it with: docker inspect CONTAINER > inspect.json (an image's inspect output is not enough)");
		cJSON_Delete(root);
		return -1;
	}
	const char *name = str(c, "Name");
	snprintf(d->name, sizeof(d->name), "%s", name ? (name[0] == '/' ? name + 1 : name) : "container");
	const char *image = str(config, "Image");
	snprintf(d->image, sizeof(d->image), "%s", image ? image : "");
	const char *wd = str(config, "WorkingDir");
	snprintf(d->workdir, sizeof(d->workdir), "%s", wd && wd[0] ? wd : "/");
	const cJSON *e;
	cJSON_ArrayForEach(e, get(config, "Env"))
		if (cJSON_IsString(e) && strchr(e->valuestring, '='))
			dc_deployment_add_env(d, e->valuestring);
	d->in_container = true;
	const char *mode = str(host, "NetworkMode");
	d->host_network = mode && strcmp(mode, "host") == 0;

	char *words[DC_DEPLOY_MAX_ARGS];
	int n = add_words(get(config, "Entrypoint"), words, 0, DC_DEPLOY_MAX_ARGS);
	n = add_words(get(config, "Cmd"), words, n, DC_DEPLOY_MAX_ARGS);
	/* the shell in the container expands a script's variables from its environment */
	for (int i = 0; i + 1 < n; i++)
		if (strcmp(words[i], "-c") == 0) {
			struct dc_buf b = {0};
			dc_deployment_expand(d, words[i + 1], &b);
			free(words[i + 1]);
			words[i + 1] = dc_xstrdup(b.data);
			dc_buf_free(&b);
			break;
		}
	dc_deployment_set_command(d, words, n);
	for (int i = 0; i < n; i++)
		free(words[i]);

	const cJSON *bindings = get(host, "PortBindings");
	if (!cJSON_IsObject(bindings) || !bindings->child)
		bindings = get(get(c, "NetworkSettings"), "Ports");
	if (!d->host_network)
		add_bindings(d, bindings);
	cJSON_ArrayForEach(e, get(c, "Mounts")) {
		const char *src = str(e, "Source"), *dst = str(e, "Destination"), *type = str(e, "Type");
		if (!src || !dst || d->mount_count >= DC_DEPLOY_MAX_MOUNTS)
			continue;
		struct dc_mount *m = &d->mounts[d->mount_count++];
		snprintf(m->source, sizeof(m->source), "%s", src);
		snprintf(m->target, sizeof(m->target), "%s", dst);
		/* a volume's Source is under /var/lib/docker/volumes: readable as root on this host */
		m->named_volume = type && strcmp(type, "volume") == 0 && src[0] != '/';
	}
	cJSON_Delete(root);
	return 0;
}

int dc_inspect_load(const char *file, struct dc_deployment *d, struct dc_error *err)
{
	struct dc_buf b = {0};
	if (dc_read_small_file(file, INSPECT_MAX, &b, err) < 0)
		return -1;
	int rc = dc_inspect_parse(b.data, b.len, file, d, err);
	dc_buf_free(&b);
	return rc;
}
