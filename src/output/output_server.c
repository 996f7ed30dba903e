#include "derpcheck/output/output_server.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(v, sgr) dc_paint(&(v)->style, sgr)

/* Print s (one line of it), spelling arrows in ASCII outside a UTF-8 locale. */
static void put_line(FILE *out, const char *s, const struct dc_server_view *v)
{
	static const struct {
		const char *utf8, *ascii;
	} translit[] = {{"\u2192", "->"}, {"\u2194", "<->"}, {"\u2026", "..."}, {"\u2014", "--"}, {"\u2713", "ok"}, {"\u2717", "x"}};
	while (*s) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x80 || v->utf8) {
			fputc(c, out);
			s++;
			continue;
		}
		size_t k;
		for (k = 0; k < DC_ARRAY_LEN(translit); k++) {
			size_t n = strlen(translit[k].utf8);
			if (strncmp(s, translit[k].utf8, n) == 0) {
				fputs(translit[k].ascii, out);
				s += n;
				break;
			}
		}
		if (k == DC_ARRAY_LEN(translit)) {
			fputc('?', out);
			s++;
			while ((*s & 0xc0) == 0x80)
				s++;
		}
	}
}

/*
 * Text from files and processes goes to the terminal through here, one line at a time
 * through the one sanitiser (dc_term_safe_n: no escape sequence from a compose file
 * reaches the terminal); indent follows each newline (multi-line fixes).
 */
static void put_text(FILE *out, const char *s, const struct dc_server_view *v, const char *indent)
{
	for (;;) {
		size_t n = strcspn(s, "\n");
		put_line(out, dc_term_safe_n(s, n), v);
		if (!s[n])
			return;
		fputc('\n', out);
		fputs(indent, out);
		s += n + 1;
	}
}

static void mark(FILE *out, enum dc_check_status st, const struct dc_server_view *v)
{
	static const char *const utf8[] = {"\u2713", "!", "\u2717", "-"};
	static const char *const ascii[] = {"ok  ", "warn", "FAIL", "skip"};
	static const char *const colors[] = {GREEN, YELLOW, RED, DIM};
	fprintf(out, "%s%s%s", paint(v, colors[st]), v->utf8 ? utf8[st] : ascii[st], paint(v, RESET));
}

static void check_line(FILE *out, const struct dc_server_check *c, const struct dc_server_view *v)
{
	if (v->style.quiet && (c->status == DC_CHECK_OK || c->status == DC_CHECK_SKIP))
		return;
	fputs("  ", out);
	mark(out, c->status, v);
	fprintf(out, " %-15s ", c->id);
	put_text(out, c->summary, v, "");
	fputc('\n', out);
	if (c->status != DC_CHECK_FAIL && c->status != DC_CHECK_WARN)
		return;
	const char *pad = v->utf8 ? "    " : "       ";
	char indent[32];
	snprintf(indent, sizeof(indent), "%s       ", pad);
	if (c->cause[0]) {
		fprintf(out, "%scause: ", pad);
		put_text(out, c->cause, v, indent);
		fputc('\n', out);
	}
	if (c->fix[0]) {
		fprintf(out, "%sfix:   ", pad);
		put_text(out, c->fix, v, indent);
		fputc('\n', out);
	}
}

static void source_line(FILE *out, const struct dc_deployment *d, const struct dc_server_view *v)
{
	switch (d->source) {
	case DC_DEPLOY_PROCESS:
		fprintf(out, "running derper: pid %d%s\n", (int)d->pid,
			d->in_container ? " (in a container: its own namespaces)" : "");
		break;
	case DC_DEPLOY_SYSTEMD:
		fputs("systemd unit: ", out);
		put_text(out, d->file, v, "");
		fputc('\n', out);
		break;
	case DC_DEPLOY_COMPOSE:
	case DC_DEPLOY_INSPECT:
		fputs(d->source == DC_DEPLOY_COMPOSE ? "compose file: " : "docker inspect: ", out);
		put_text(out, d->file, v, "");
		fputs(d->source == DC_DEPLOY_COMPOSE ? ", service " : ", container ", out);
		put_text(out, d->name, v, "");
		if (d->image[0]) {
			fputs(" (image ", out);
			put_text(out, d->image, v, "");
			fputc(')', out);
		}
		fputc('\n', out);
		if (d->host_network)
			fputs("  network: the host's (network_mode: host)\n", out);
		else if (d->port_count) {
			fputs("  ports:", out);
			for (size_t i = 0; i < d->port_count; i++) {
				if (i && strcmp(d->ports[i].text, d->ports[i - 1].text) == 0)
					continue;
				fputs(i ? ", " : " ", out);
				put_text(out, d->ports[i].text, v, "");
			}
			fputc('\n', out);
		}
		for (size_t i = 0; i < d->mount_count; i++) {
			fputs(i ? ", " : "  mounts: ", out);
			put_text(out, d->mounts[i].source, v, "");
			put_text(out, " \u2192 ", v, "");
			put_text(out, d->mounts[i].target, v, "");
			if (i + 1 == d->mount_count)
				fputc('\n', out);
		}
		break;
	}
}

static void command_line(FILE *out, const struct dc_deployment *d, const struct dc_server_view *v)
{
	if (!d->argv_known)
		return;
	fputs("  derper", out);
	for (int i = 0; i < d->argc; i++) {
		fputc(' ', out);
		put_text(out, d->argv[i], v, "");
	}
	fputc('\n', out);
}

/* -v: derper's flags as derper.go reads them, each with its value and where it came from. */
static void flags_block(FILE *out, const struct dc_server_report *r, const struct dc_server_view *v)
{
	const struct dc_derper_flags *f = &r->flags;
	char port[16], stun_port[16];
	snprintf(port, sizeof(port), "%d", f->http_port);
	snprintf(stun_port, sizeof(stun_port), "%d", f->stun_port);
	const struct {
		const char *name;
		enum dc_derper_flag which;
		const char *value;
	} rows[] = {
		{"-a", DC_DF_A, f->addr},
		{"-hostname", DC_DF_HOSTNAME, f->hostname},
		{"-certmode", DC_DF_CERTMODE, f->certmode},
		{"-certdir", DC_DF_CERTDIR, f->certdir},
		{"-http-port", DC_DF_HTTP_PORT, port},
		{"-stun", DC_DF_STUN, f->stun ? "true" : "false"},
		{"-stun-port", DC_DF_STUN_PORT, stun_port},
		{"-derp", DC_DF_DERP, f->derp ? "true" : "false"},
		{"-dev", DC_DF_DEV, f->dev ? "true" : "false"},
		{"-verify-clients", DC_DF_VERIFY_CLIENTS, f->verify_clients ? "true" : "false"},
		{"-verify-client-url", DC_DF_VERIFY_CLIENT_URL, f->verify_client_url},
		{"-c", DC_DF_C, f->config},
		{"-mesh-with", DC_DF_MESH_WITH, f->mesh_with},
		{"-mesh-psk-file", DC_DF_MESH_PSK_FILE, f->mesh_psk_file},
	};
	fputs("derper's flags as derper reads them:\n", out);
	for (size_t i = 0; i < DC_ARRAY_LEN(rows); i++) {
		fprintf(out, "  %-19s ", rows[i].name);
		put_text(out, rows[i].value[0] ? rows[i].value : "\"\"", v, "");
		fprintf(out, " %s(%s)%s\n", paint(v, DIM), DC_DF_IS_SET(f, rows[i].which) ? "written" : "default",
			paint(v, RESET));
	}
	fprintf(out, "  so: %s on ", f->serve_tls ? "TLS" : "plain HTTP (no TLS)");
	put_text(out, f->addr, v, "");
	fprintf(out, "%s\n", f->http_listener ? ", and plain HTTP on -http-port" : "");
	fputc('\n', out);
}

void dc_output_server_text(FILE *out, const struct dc_server_report *r, const struct dc_server_view *v)
{
	const struct dc_server_opts *o = v->opts;
	if (!v->style.quiet) {
		fputs(paint(v, BOLD), out);
		fputs("derper deployment", out);
		fputs(paint(v, RESET), out);
		fputc('\n', out);
		if (o->file) {
			source_line(out, o->file, v);
			if (!o->process)
				command_line(out, o->file, v);
		}
		if (o->process) {
			source_line(out, o->process, v);
			command_line(out, o->process, v);
		}
		if (r->node) {
			const struct dc_derp_node *n = r->node;
			fputs("DERP map: ", out);
			put_text(out, v->map_name ? v->map_name : "", v, "");
			fprintf(out, ", region %lld node ", (long long)r->region_id);
			put_text(out, n->name ? n->name : "?", v, "");
			fputs(" (", out);
			put_text(out, n->host_name ? n->host_name : "", v, "");
			fputs("): ", out);
			if (n->stun_only)
				fputs("STUNOnly, ", out);
			else
				fprintf(out, "DERPPort %d, ", dc_node_derp_port(n));
			if (dc_node_stun_port(n) < 0)
				fputs("STUN off", out);
			else
				fprintf(out, "STUNPort %d", dc_node_stun_port(n));
			if (n->can_port80)
				fputs(", CanPort80", out);
			fputc('\n', out);
			if (r->node_note[0]) {
				fputs("  note: ", out);
				put_text(out, r->node_note, v, "");
				fputc('\n', out);
			}
		} else if (r->node_note[0]) {
			fputs("DERP map: ", out);
			put_text(out, r->node_note, v, "");
			fputc('\n', out);
		}
		fputc('\n', out);
		if (v->verbose && r->flags_known)
			flags_block(out, r, v);
	}
	for (size_t i = 0; i < r->count; i++)
		check_line(out, &r->checks[i], v);
	size_t fails = dc_server_count(r, DC_CHECK_FAIL), warns = dc_server_count(r, DC_CHECK_WARN);
	if (v->style.quiet && !fails && !warns)
		return;
	if (!v->style.quiet)
		fputc('\n', out);
	if (!r->flags_known)
		fprintf(out, "%sincomplete%s: derper's flags could not be read (%zu problem%s, %zu warning%s in what could be checked)\n",
			paint(v, YELLOW), paint(v, RESET), fails, fails == 1 ? "" : "s", warns, warns == 1 ? "" : "s");
	else if (fails || warns)
		fprintf(out, "%s%zu problem%s%s, %zu warning%s%s\n", fails ? paint(v, RED) : paint(v, YELLOW), fails,
			fails == 1 ? "" : "s", paint(v, RESET), warns, warns == 1 ? "" : "s",
			r->live ? "" : " (configuration only: no running derper was looked at)");
	else
		fprintf(out, "%sno problems found%s%s\n", paint(v, GREEN), paint(v, RESET),
			r->live ? "" : " (configuration only: no running derper was looked at)");
}

/* ---- JSON ----------------------------------------------------------------------------- */

static cJSON *str_or_null(const char *s)
{
	return s && s[0] ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *json_deployment(const struct dc_deployment *d)
{
	if (!d)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", dc_deploy_source_name(d->source));
	cJSON_AddItemToObject(o, "file", str_or_null(d->file));
	cJSON_AddItemToObject(o, "name", str_or_null(d->name));
	cJSON_AddItemToObject(o, "image", str_or_null(d->image));
	cJSON_AddItemToObject(o, "pid", d->source == DC_DEPLOY_PROCESS ? cJSON_CreateNumber(d->pid) : cJSON_CreateNull());
	cJSON_AddBoolToObject(o, "in_container", d->in_container);
	cJSON_AddBoolToObject(o, "host_network", d->host_network);
	if (d->argv_known) {
		cJSON *args = cJSON_AddArrayToObject(o, "args");
		for (int i = 0; i < d->argc; i++)
			cJSON_AddItemToArray(args, cJSON_CreateString(d->argv[i]));
	} else {
		cJSON_AddNullToObject(o, "args");
	}
	cJSON_AddItemToObject(o, "args_problem", str_or_null(d->argv_known ? NULL : d->argv_problem));
	cJSON *ports = cJSON_AddArrayToObject(o, "ports");
	for (size_t i = 0; i < d->port_count; i++) {
		const struct dc_port_publish *p = &d->ports[i];
		cJSON *x = cJSON_CreateObject();
		cJSON_AddItemToObject(x, "host_ip", str_or_null(p->host_ip));
		cJSON_AddNumberToObject(x, "host_port", p->host_port);
		cJSON_AddNumberToObject(x, "container_port", p->container_port);
		cJSON_AddStringToObject(x, "protocol", p->udp ? "udp" : "tcp");
		cJSON_AddStringToObject(x, "spec", p->text);
		cJSON_AddItemToArray(ports, x);
	}
	cJSON *mounts = cJSON_AddArrayToObject(o, "mounts");
	for (size_t i = 0; i < d->mount_count; i++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "source", d->mounts[i].source);
		cJSON_AddStringToObject(x, "target", d->mounts[i].target);
		cJSON_AddItemToArray(mounts, x);
	}
	return o;
}

static cJSON *json_flags(const struct dc_server_report *r)
{
	if (!r->flags_known)
		return cJSON_CreateNull();
	const struct dc_derper_flags *f = &r->flags;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "addr", f->addr);
	cJSON_AddNumberToObject(o, "listen_port", f->listen_port);
	cJSON_AddNumberToObject(o, "stun_port", f->stun_port);
	cJSON_AddNumberToObject(o, "http_port", f->http_port);
	cJSON_AddBoolToObject(o, "stun", f->stun);
	cJSON_AddBoolToObject(o, "derp", f->derp);
	cJSON_AddStringToObject(o, "certmode", f->certmode);
	cJSON_AddStringToObject(o, "certdir", f->certdir);
	cJSON_AddStringToObject(o, "hostname", f->hostname);
	cJSON_AddBoolToObject(o, "verify_clients", f->verify_clients);
	cJSON_AddItemToObject(o, "mesh_with", str_or_null(f->mesh_with));
	cJSON_AddItemToObject(o, "mesh_psk_file", str_or_null(f->mesh_psk_file));
	cJSON_AddBoolToObject(o, "serve_tls", f->serve_tls);
	return o;
}

void dc_output_server_json(FILE *out, const struct dc_server_report *r, const struct dc_server_view *v)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddBoolToObject(root, "ok", dc_server_exit_status(r) == 0);
	cJSON_AddItemToObject(root, "source", json_deployment(v->opts->file));
	cJSON_AddItemToObject(root, "process", json_deployment(v->opts->process));
	cJSON_AddItemToObject(root, "flags", json_flags(r));
	cJSON_AddItemToObject(root, "map", str_or_null(v->map_name));
	if (r->node) {
		const struct dc_derp_node *n = r->node;
		cJSON *o = cJSON_AddObjectToObject(root, "node");
		cJSON_AddNumberToObject(o, "region", (double)r->region_id);
		cJSON_AddItemToObject(o, "name", str_or_null(n->name));
		cJSON_AddItemToObject(o, "host_name", str_or_null(n->host_name));
		cJSON_AddNumberToObject(o, "derp_port", dc_node_derp_port(n));
		cJSON_AddNumberToObject(o, "stun_port", dc_node_stun_port(n));
		cJSON_AddBoolToObject(o, "can_port80", n->can_port80);
	} else {
		cJSON_AddNullToObject(root, "node");
	}
	cJSON_AddItemToObject(root, "node_note", str_or_null(r->node_note));
	cJSON_AddItemToObject(root, "cert_file", str_or_null(r->cert_path));
	cJSON_AddItemToObject(root, "key_file", str_or_null(r->key_path));
	cJSON_AddBoolToObject(root, "live", r->live);
	cJSON *counts = cJSON_AddObjectToObject(root, "counts");
	for (int st = DC_CHECK_OK; st <= DC_CHECK_SKIP; st++)
		cJSON_AddNumberToObject(counts, dc_check_status_name((enum dc_check_status)st),
					(double)dc_server_count(r, (enum dc_check_status)st));
	cJSON *checks = cJSON_AddArrayToObject(root, "checks");
	for (size_t i = 0; i < r->count; i++) {
		const struct dc_server_check *c = &r->checks[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "check", c->id);
		cJSON_AddStringToObject(o, "status", dc_check_status_name(c->status));
		cJSON_AddItemToObject(o, "code", str_or_null(c->code));
		cJSON_AddStringToObject(o, "summary", c->summary);
		cJSON_AddItemToObject(o, "cause", str_or_null(c->cause));
		cJSON_AddItemToObject(o, "fix", str_or_null(c->fix));
		cJSON_AddItemToArray(checks, o);
	}
	char *s = dc_json_text(root, true);
	fputs(s ? s : "null", out);
	fputc('\n', out);
	free(s);
	cJSON_Delete(root);
}
