#include "derpcheck/input/mapchoice.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/net/localapi.h"

static void add_note(struct dc_map_choice *c, const char *fmt, ...) DC_PRINTF(2, 3);
static void add_note(struct dc_map_choice *c, const char *fmt, ...)
{
	char line[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	char *joined = c->note ? dc_xasprintf("%s; %s", c->note, line) : dc_xstrdup(line);
	free(c->note);
	c->note = joined;
}

/* The first error finding, for "cannot use this map: ..." messages. */
static const char *first_error(const struct dc_map_doc *doc)
{
	for (size_t i = 0; i < doc->findings.count; i++)
		if (doc->findings.items[i].severity == DC_SEV_ERROR)
			return doc->findings.items[i].message;
	return NULL;
}

/* Make doc the chosen map: merged with the defaults when it is a policy file. */
static void adopt(struct dc_map_choice *c)
{
	c->source = c->doc.text.source;
	free(c->name);
	c->name = dc_xstrdup(c->doc.text.name);
	if (c->doc.map.shape == DC_SHAPE_POLICY) {
		dc_derpmap_merge(&c->doc.map, &c->defaults, &c->merged, &c->merge);
		c->have_merged = true;
		c->map = &c->merged;
	} else if (c->doc.map.shape == DC_SHAPE_POLICY_NO_MAP) {
		c->map = &c->defaults;
		add_note(c, "the policy file has no derpMap, so clients use Tailscale's default regions");
	} else {
		c->map = &c->doc.map;
	}
}

static void drop_doc(struct dc_map_choice *c)
{
	if (c->have_doc)
		dc_map_doc_free(&c->doc);
	c->have_doc = false;
}

static bool usable(const struct dc_map_doc *doc)
{
	return doc->decoded && !first_error(doc) &&
	       (doc->map.shape != DC_SHAPE_DERPMAP || doc->map.region_count > 0);
}

int dc_map_choose(const struct dc_map_choice_opts *opts, struct dc_map_choice *c, struct dc_error *err)
{
	memset(c, 0, sizeof(*c));
	if (dc_map_defaults(&c->defaults) < 0)
		return dc_error_set(err, NULL, "internal error: the embedded default DERP map does not decode");

	if (opts->spec) {
		if (dc_map_doc_load(opts->spec, &opts->fetch, &c->doc, err) < 0)
			return -1;
		c->have_doc = true;
		const char *why = first_error(&c->doc);
		if (why || !c->doc.decoded) {
			dc_error_set(err, c->doc.text.name, "cannot use this DERP map: %s", why ? why : "no DERP map in it");
			char cmd[PATH_MAX + 64];
			dc_map_validate_hint(opts->spec, dc_map_format_flag(opts->fetch.format), cmd, sizeof(cmd));
			dc_error_hint(err, "see every problem and its fix with %s", cmd);
			return -1;
		}
		adopt(c);
		return 0;
	}

	if (opts->socket_path) {
		struct dc_localapi api = {.socket_path = opts->socket_path, .timeout_ms = opts->localapi_timeout_ms};
		struct dc_error e;
		if (dc_localapi_derpmap(&api, &c->doc, &e) < 0) {
			add_note(c, "tailscaled's own map was not available: %s", e.what);
		} else {
			c->have_doc = true;
			if (usable(&c->doc)) {
				adopt(c);
				return 0;
			}
			add_note(c, "tailscaled's own map did not decode");
			drop_doc(c);
		}
	}

	const char *url = getenv(DC_MAP_DEFAULT_URL_ENV);
	if (!url)
		url = DC_MAP_DEFAULT_URL;
	if (opts->try_default_url && *url) {
		struct dc_error e;
		if (dc_map_doc_load(url, &opts->fetch, &c->doc, &e) < 0) {
			add_note(c, "the default map could not be fetched (%s)", e.what);
		} else {
			c->have_doc = true;
			if (usable(&c->doc)) {
				adopt(c);
				return 0;
			}
			add_note(c, "the default map from %s is not usable", url);
			drop_doc(c);
		}
	}

	c->map = &c->defaults;
	c->source = DC_MAP_SOURCE_EMBEDDED;
	c->name = dc_xstrdup(DC_MAP_EMBEDDED_SPEC);
	return 0;
}

void dc_map_choice_free(struct dc_map_choice *c)
{
	if (c->have_merged) {
		dc_derpmap_free(&c->merged);
		dc_merge_summary_free(&c->merge);
	}
	drop_doc(c);
	dc_derpmap_free(&c->defaults);
	free(c->name);
	free(c->note);
	memset(c, 0, sizeof(*c));
}

void dc_map_choice_describe(const struct dc_map_choice *c, char *out, size_t n)
{
	switch (c->source) {
	case DC_MAP_SOURCE_LOCALAPI:
		snprintf(out, n, "%s", dc_map_source_name(c->source));
		break;
	case DC_MAP_SOURCE_EMBEDDED:
		snprintf(out, n, "%s", dc_map_source_name(c->source));
		break;
	default:
		if (c->have_doc && c->doc.map.shape == DC_SHAPE_HEADSCALE)
			snprintf(out, n, "Headscale config %s", c->name);
		else if (c->have_doc && c->doc.map.shape == DC_SHAPE_YAML)
			snprintf(out, n, "Headscale DERP map %s", c->name);
		else
			snprintf(out, n, "%s %s", dc_map_source_name(c->source), c->name);
		break;
	}
}
