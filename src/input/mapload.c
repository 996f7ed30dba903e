#include "derpcheck/input/mapload.h"

#include "derpcheck/input/headscale.h"
#include "derpcheck/input/hujson.h"
#include "derpcheck/input/yaml.h"
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

static const char *const format_words[] = {
	[DC_MAP_FORMAT_AUTO] = "auto",
	[DC_MAP_FORMAT_JSON] = "json",
	[DC_MAP_FORMAT_HUJSON] = "hujson",
	[DC_MAP_FORMAT_YAML] = "yaml",
	[DC_MAP_FORMAT_HEADSCALE] = "headscale",
};

const char *dc_map_format_name(enum dc_map_format f)
{
	return (size_t)f < DC_ARRAY_LEN(format_words) ? format_words[f] : "?";
}

int dc_map_format_parse(const char *word, enum dc_map_format *out)
{
	for (size_t i = 0; i < DC_ARRAY_LEN(format_words); i++)
		if (strcmp(word, format_words[i]) == 0) {
			*out = (enum dc_map_format)i;
			return 0;
		}
	return -1;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* AUTO: the file name first, then the first character that is not space (or a BOM). */
static bool looks_like_yaml(const struct dc_map_text *t)
{
	const char *name = t->name ? t->name : "";
	if (t->source == DC_MAP_SOURCE_FILE || t->source == DC_MAP_SOURCE_URL) {
		char base[512];
		snprintf(base, sizeof(base), "%.*s", (int)strcspn(name, "?#"), name);
		if (has_suffix(base, ".yaml") || has_suffix(base, ".yml"))
			return true;
		if (has_suffix(base, ".json") || has_suffix(base, ".hujson") || has_suffix(base, ".jsonc"))
			return false;
	}
	if (t->source == DC_MAP_SOURCE_EMBEDDED || t->source == DC_MAP_SOURCE_LOCALAPI)
		return false;
	size_t i = t->len >= 3 && memcmp(t->text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	while (i < t->len && strchr(" \t\r\n", t->text[i]))
		i++;
	if (i == t->len)
		return false; /* empty: the JSON reader says so */
	const char *p = t->text + i;
	size_t rest = t->len - i;
	/* JSON never starts with a comment '#' or a document marker; YAML often does. */
	if (*p == '#' || (rest >= 3 && memcmp(p, "---", 3) == 0))
		return true;
	/* A first line "key: ..." is a YAML mapping; anything else (an HTML error page) stays JSON's to explain. */
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '"' || *p == '\''))
		return false;
	for (size_t k = 0; k + 1 < rest && p[k] != '\n'; k++)
		if (p[k] == ':' && (p[k + 1] == ' ' || p[k + 1] == '\n' || p[k + 1] == '\r' || p[k + 1] == '\t'))
			return true;
	return rest > 0 && p[rest - 1] == ':';
}

static void syntax_finding(struct dc_map_doc *doc, const struct dc_error *perr, bool yaml)
{
	const char *code = strstr(perr->what, "a tab character") ? "yaml-tab" : "syntax";
	struct dc_finding *f = dc_findings_add(&doc->findings, DC_SEV_ERROR, code, "", perr->pos, "%s", perr->what);
	if (perr->hint[0]) {
		dc_finding_hint(f, "%s", perr->hint);
	} else if (strstr(perr->what, "is not JSON")) {
		dc_finding_hint(f, "strict JSON (--map-format json) has no comments or trailing commas; a policy file is HuJSON (--map-format hujson)");
	} else if (!yaml && perr->pos.line == 1 && perr->pos.col == 1 && doc->text.len > 0) {
		/* Not JSON at all: an HTML error page, a log line, the wrong file. */
		size_t n = strcspn(doc->text.text, "\r\n");
		dc_finding_hint(f, "this does not look like JSON at all; it starts with: %.*s", (int)(n > 60 ? 60 : n),
				doc->text.text);
	} else {
		dc_finding_hint(f, "fix the text at this position (HuJSON allows // and /* */ comments and trailing commas)");
	}
}

/* What the YAML reader noticed, as findings a Headscale user can act on. */
void dc_map_yaml_findings(struct dc_findings *findings, const struct dc_yaml_doc *y)
{
	for (size_t i = 0; i < y->note_count; i++) {
		const struct dc_yaml_note *n = &y->notes[i];
		struct dc_finding *f;
		switch (n->kind) {
		case DC_YAML_NOTE_ALIAS:
			f = dc_findings_add(findings, DC_SEV_WARNING, "yaml-alias", "", n->pos,
					    "*%s repeats the value anchored at %u:%u; Headscale reads a copy of it here, and findings about it point at the anchor",
					    n->name, n->target.line, n->target.col);
			dc_finding_hint(f, "fine if every copy should be the same; write the value out where it must differ");
			break;
		case DC_YAML_NOTE_MERGE:
			f = dc_findings_add(findings, DC_SEV_WARNING, "yaml-alias", "", n->pos,
					    "<< merges in the keys of the mapping at %u:%u that this mapping does not set itself",
					    n->target.line, n->target.col);
			dc_finding_hint(f, "check that the merged keys (a node's name, regionid, hostname) are meant to be shared");
			break;
		case DC_YAML_NOTE_TAG:
			f = dc_findings_add(findings, DC_SEV_WARNING, "yaml-tag", "", n->pos,
					    "explicit YAML tag %s: Headscale's decoder types the value by its field, so the tag only risks a refusal",
					    n->name);
			dc_finding_hint(f, "remove the tag and write the value plainly");
			break;
		case DC_YAML_NOTE_MORE_DOCUMENTS:
			f = dc_findings_add(findings, DC_SEV_WARNING, "yaml-extra-document", "", n->pos,
					    "a second YAML document starts here; Headscale reads only the first, so everything from here on is ignored");
			dc_finding_hint(f, "remove the --- line and merge the documents into one");
			break;
		}
	}
}

static void parse_json(struct dc_map_doc *doc, bool strict)
{
	struct dc_error perr;
	struct dc_json *root = strict ? dc_json_parse_strict(doc->text.text, doc->text.len, &perr)
				      : dc_hujson_parse(doc->text.text, doc->text.len, &perr);
	if (!root) {
		syntax_finding(doc, &perr, false);
		return;
	}
	doc->parsed = true;
	doc->decoded = dc_derpmap_decode(root, &doc->map, &doc->findings) == 0;
	dc_json_free(root);
}

static void parse_yaml(struct dc_map_doc *doc, const struct dc_fetch_opts *opts, enum dc_map_format format)
{
	struct dc_error perr;
	struct dc_yaml_doc y;
	if (dc_yaml_parse(doc->text.text, doc->text.len, &y, &perr) < 0) {
		doc->format = format == DC_MAP_FORMAT_AUTO ? DC_MAP_FORMAT_YAML : format;
		syntax_finding(doc, &perr, true);
		dc_yaml_doc_free(&y);
		return;
	}
	doc->parsed = true;
	bool detected = format == DC_MAP_FORMAT_AUTO;
	if (detected)
		format = dc_headscale_looks_like_config(y.root) ? DC_MAP_FORMAT_HEADSCALE : DC_MAP_FORMAT_YAML;
	doc->format = format;
	dc_map_yaml_findings(&doc->findings, &y);
	if (format == DC_MAP_FORMAT_HEADSCALE) {
		doc->decoded = dc_headscale_load(doc, y.root, opts) == 0;
	} else if (y.root && y.root->type == DC_JSON_OBJECT && !dc_json_member(y.root, "regions") &&
		   !dc_json_member(y.root, "Regions") && detected) {
		struct dc_finding *f = dc_findings_add(&doc->findings, DC_SEV_ERROR, "not-a-derpmap", "", y.root->pos,
						       "no regions: key and none of Headscale's config keys: this is neither a Headscale DERP map nor a Headscale config");
		dc_finding_hint(f, "a Headscale DERP map starts with regions:; a config has derp: and server_url:");
		memset(&doc->map, 0, sizeof(doc->map));
		doc->map.path = dc_xstrdup("");
	} else {
		doc->decoded = dc_derpmap_decode_as(y.root, DC_DIALECT_YAML, &doc->map, &doc->findings) == 0;
	}
	dc_yaml_doc_free(&y);
}

void dc_map_doc_parse(struct dc_map_doc *doc)
{
	/* Text alone: a Headscale config's urls and paths are listed, never fetched or opened. */
	struct dc_fetch_opts alone = {.no_other_sources = true};
	dc_map_doc_parse_with(doc, &alone);
}

void dc_map_doc_parse_with(struct dc_map_doc *doc, const struct dc_fetch_opts *opts)
{
	doc->findings.file = doc->text.name;
	enum dc_map_format format = opts ? opts->format : DC_MAP_FORMAT_AUTO;
	if (format == DC_MAP_FORMAT_AUTO && looks_like_yaml(&doc->text)) {
		parse_yaml(doc, opts, DC_MAP_FORMAT_AUTO);
		return;
	}
	if (format == DC_MAP_FORMAT_YAML || format == DC_MAP_FORMAT_HEADSCALE) {
		parse_yaml(doc, opts, format);
		return;
	}
	doc->format = format == DC_MAP_FORMAT_JSON ? DC_MAP_FORMAT_JSON : DC_MAP_FORMAT_HUJSON;
	parse_json(doc, format == DC_MAP_FORMAT_JSON);
}

const char *dc_map_doc_kind(const struct dc_map_doc *doc)
{
	switch (doc->map.shape) {
	case DC_SHAPE_POLICY: return "policy file";
	case DC_SHAPE_POLICY_NO_MAP: return "policy file without derpMap";
	case DC_SHAPE_YAML: return "Headscale DERP map (YAML)";
	case DC_SHAPE_HEADSCALE: return "Headscale config";
	case DC_SHAPE_DERPMAP: break;
	}
	return "DERP map";
}

char *dc_map_doc_origin(const struct dc_map_doc *doc)
{
	if (doc->headscale)
		return dc_headscale_describe(doc->headscale);
	if (doc->map.shape == DC_SHAPE_YAML)
		return dc_xstrdup("read as a Headscale derp.paths file (yaml.v3: lower-case keys)");
	return NULL;
}

int dc_map_doc_load(const char *spec, const struct dc_fetch_opts *opts, struct dc_map_doc *doc, struct dc_error *err)
{
	memset(doc, 0, sizeof(*doc));
	if (dc_map_read(spec, opts, &doc->text, err) < 0)
		return -1;
	dc_map_doc_parse_with(doc, opts);
	return 0;
}

const char *dc_map_spec_for_command(const char *name)
{
	if (!name || !*name || strcmp(name, "-") == 0 || strncmp(name, "localapi:", 9) == 0)
		return NULL;
	return strncmp(name, DC_MAP_EMBEDDED_SPEC, strlen(DC_MAP_EMBEDDED_SPEC)) == 0 ? DC_MAP_EMBEDDED_SPEC : name;
}

const char *dc_map_format_flag(enum dc_map_format f)
{
	return f == DC_MAP_FORMAT_AUTO ? NULL : dc_map_format_name(f);
}

void dc_map_validate_hint(const char *name, const char *map_format, char *out, size_t n)
{
	const char *spec = dc_map_spec_for_command(name);
	if (!spec) {
		snprintf(out, n, "derpcheck validate FILE");
		return;
	}
	char cmd[PATH_MAX + 64] = "derpcheck validate";
	if (map_format) {
		dc_shell_append(cmd, sizeof(cmd), "--map-format");
		dc_shell_append(cmd, sizeof(cmd), map_format);
	}
	dc_shell_append(cmd, sizeof(cmd), spec);
	snprintf(out, n, "`%s`", cmd);
}

void dc_map_doc_free(struct dc_map_doc *doc)
{
	if (doc->headscale) {
		dc_headscale_free(doc->headscale);
		free(doc->headscale);
		doc->headscale = NULL;
	}
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
