#include "derpcheck/input/mapload.h"

#include "derpcheck/net/http.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char dc_default_derpmap_json[];
extern const unsigned long long dc_default_derpmap_json_size;

const char *dc_map_embedded_text(size_t *len)
{
	if (len)
		*len = (size_t)dc_default_derpmap_json_size;
	return dc_default_derpmap_json;
}

const char *dc_map_source_name(enum dc_map_source source)
{
	switch (source) {
	case DC_MAP_SOURCE_FILE: return "file";
	case DC_MAP_SOURCE_STDIN: return "standard input";
	case DC_MAP_SOURCE_URL: return "URL";
	case DC_MAP_SOURCE_EMBEDDED: return "embedded snapshot of Tailscale's default map (" DC_MAP_EMBEDDED_DATE ")";
	case DC_MAP_SOURCE_LOCALAPI: return "the local tailscaled (LocalAPI)";
	}
	return "?";
}

static int read_stream(FILE *fp, const char *name, struct dc_buf *b, struct dc_error *err)
{
	char chunk[16384];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (b->len + n > DC_MAP_MAX_BYTES) {
			dc_error_set(err, name, "larger than %u bytes; that is not a DERP map", DC_MAP_MAX_BYTES);
			return -1;
		}
		dc_buf_append(b, chunk, n);
	}
	if (ferror(fp))
		return dc_error_set(err, name, "read failed: %s", strerror(errno));
	if (!b->data)
		dc_buf_append(b, "", 0);
	return 0;
}

static int fetch_url(const char *url, const struct dc_fetch_opts *opts, struct dc_buf *out, struct dc_error *err)
{
	struct dc_http_opts http = {.max_bytes = DC_MAP_MAX_BYTES};
	if (opts) {
		http.ca_file = opts->ca_file;
		http.insecure = opts->insecure;
		http.timeout_ms = opts->timeout_ms;
		http.family = opts->family;
	}
	long status;
	if (dc_http_get(url, &http, out, &status, err) < 0) {
		if (strstr(err->what, "larger than"))
			snprintf(err->what, sizeof(err->what), "the response is larger than %u bytes; that is not a DERP map",
				 DC_MAP_MAX_BYTES);
		return -1;
	}
	if (status != 200) {
		dc_buf_free(out);
		dc_error_set(err, url, "the server answered HTTP %ld, not 200", status);
		dc_error_hint(err, "check the URL; a DERP map is served as JSON with status 200");
		return -1;
	}
	return 0;
}

int dc_map_read(const char *spec, const struct dc_fetch_opts *opts, struct dc_map_text *out, struct dc_error *err)
{
	memset(out, 0, sizeof(*out));
	struct dc_buf b = {0};
	out->name = dc_xstrdup(strcmp(spec, DC_MAP_EMBEDDED_SPEC) == 0 ? "embedded:tailscale-default-derpmap.json" : spec);
	if (strcmp(spec, DC_MAP_EMBEDDED_SPEC) == 0) {
		size_t len;
		const char *text = dc_map_embedded_text(&len);
		out->source = DC_MAP_SOURCE_EMBEDDED;
		out->text = dc_xstrndup(text, len);
		out->len = len;
		return 0;
	}
	if (strncasecmp(spec, "http://", 7) == 0 || strncasecmp(spec, "https://", 8) == 0) {
		out->source = DC_MAP_SOURCE_URL;
		if (fetch_url(spec, opts, &b, err) < 0)
			goto fail;
	} else if (strcmp(spec, "-") == 0) {
		out->source = DC_MAP_SOURCE_STDIN;
		if (read_stream(stdin, "standard input", &b, err) < 0)
			goto fail;
	} else {
		out->source = DC_MAP_SOURCE_FILE;
		if (strstr(spec, "://")) {
			dc_error_set(err, spec, "unsupported URL scheme");
			dc_error_hint(err, "give a file, -, an http:// or https:// URL, or %s", DC_MAP_EMBEDDED_SPEC);
			goto fail;
		}
		FILE *fp = fopen(spec, "rb");
		if (!fp) {
			dc_error_set(err, spec, "cannot open: %s", strerror(errno));
			if (errno == ENOENT)
				dc_error_hint(err, "check the path; use - to read the map from standard input");
			goto fail;
		}
		int rc = read_stream(fp, spec, &b, err);
		fclose(fp);
		if (rc < 0)
			goto fail;
	}
	out->text = b.data;
	out->len = b.len;
	return 0;
fail:
	dc_buf_free(&b);
	free(out->name);
	out->name = NULL;
	return -1;
}

void dc_map_text_free(struct dc_map_text *t)
{
	free(t->name);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

void dc_map_doc_parse(struct dc_map_doc *doc)
{
	doc->findings.file = doc->text.name;
	struct dc_error perr;
	struct dc_json *root = dc_hujson_parse(doc->text.text, doc->text.len, &perr);
	if (!root) {
		struct dc_finding *f = dc_findings_add(&doc->findings, DC_SEV_ERROR, "syntax", "", perr.pos, "%s", perr.what);
		if (perr.hint[0]) {
			dc_finding_hint(f, "%s", perr.hint);
		} else if (perr.pos.line == 1 && perr.pos.col == 1 && doc->text.len > 0) {
			/* Not JSON at all: an HTML error page, a log line, the wrong file. */
			size_t n = strcspn(doc->text.text, "\r\n");
			dc_finding_hint(f, "this does not look like JSON at all; it starts with: %.*s",
					(int)(n > 60 ? 60 : n), doc->text.text);
		}
		else
			dc_finding_hint(f, "fix the text at this position (HuJSON allows // and /* */ comments and trailing commas)");
		return;
	}
	doc->parsed = true;
	doc->decoded = dc_derpmap_decode(root, &doc->map, &doc->findings) == 0;
	dc_json_free(root);
}

int dc_map_doc_load(const char *spec, const struct dc_fetch_opts *opts, struct dc_map_doc *doc, struct dc_error *err)
{
	memset(doc, 0, sizeof(*doc));
	if (dc_map_read(spec, opts, &doc->text, err) < 0)
		return -1;
	dc_map_doc_parse(doc);
	return 0;
}

const char *dc_map_spec_for_command(const char *name)
{
	if (!name || !*name || strcmp(name, "-") == 0 || strncmp(name, "localapi:", 9) == 0)
		return NULL;
	return strncmp(name, DC_MAP_EMBEDDED_SPEC, strlen(DC_MAP_EMBEDDED_SPEC)) == 0 ? DC_MAP_EMBEDDED_SPEC : name;
}

void dc_map_validate_hint(const char *name, char *out, size_t n)
{
	const char *spec = dc_map_spec_for_command(name);
	if (!spec) {
		snprintf(out, n, "derpcheck validate FILE");
		return;
	}
	char cmd[PATH_MAX + 64] = "derpcheck validate";
	dc_shell_append(cmd, sizeof(cmd), spec);
	snprintf(out, n, "`%s`", cmd);
}

void dc_map_doc_free(struct dc_map_doc *doc)
{
	dc_derpmap_free(&doc->map);
	dc_findings_free(&doc->findings);
	dc_map_text_free(&doc->text);
}

int dc_map_defaults(struct dc_derpmap *out)
{
	size_t len;
	const char *text = dc_map_embedded_text(&len);
	struct dc_json *root = dc_hujson_parse(text, len, NULL);
	if (!root)
		return -1;
	struct dc_findings f = {0};
	int rc = dc_derpmap_decode(root, out, &f);
	dc_json_free(root);
	dc_findings_free(&f);
	return rc;
}
