/*
 * libFuzzer target: arbitrary bytes through everything derpcheck does with YAML: the
 * reader (libyaml into the positioned tree, aliases, merges), then the document read
 * three ways — as a Headscale derp.paths map, as a Headscale config.yaml (its urls and
 * paths are listed, never fetched or opened: no_other_sources) and auto-detected — each
 * validated with the map rules and the Headscale rules, findings rendered as text and
 * JSON with the summary. Seeds: tests/fuzz/corpus/yaml/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/headscale.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/input/yaml.h"
#include "derpcheck/judge/hscheck.h"
#include "derpcheck/judge/validate.h"
#include "derpcheck/output/output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull(void)
{
	static FILE *out;
	if (!out && !(out = fopen("/dev/null", "w")))
		abort();
	return out;
}

static void read_as(const uint8_t *data, size_t size, enum dc_map_format format)
{
	FILE *out = devnull();
	struct dc_map_doc doc;
	memset(&doc, 0, sizeof(doc));
	doc.text.source = DC_MAP_SOURCE_FILE;
	doc.text.name = dc_xstrdup("fuzz/config.yaml");
	doc.text.text = dc_xmalloc(size + 1);
	if (size)
		memcpy(doc.text.text, data, size);
	doc.text.text[size] = '\0';
	doc.text.len = size;
	struct dc_fetch_opts opts = {.format = format, .no_other_sources = true};
	dc_map_doc_parse_with(&doc, &opts);
	if (doc.decoded) {
		dc_validate(&doc.map, NULL, &doc.findings);
		if (doc.headscale)
			dc_headscale_check(doc.headscale, &doc.map, &doc.findings);
	}
	dc_findings_sort(&doc.findings);
	struct dc_style plain = {.color = false};
	dc_output_findings_text(out, &doc.findings, &plain);
	dc_output_findings_json(out, &doc.findings);
	struct dc_validate_result res = {
		.doc = &doc,
		.effective = doc.decoded && doc.map.shape != DC_SHAPE_POLICY ? &doc.map : NULL,
		.errors = dc_findings_count(&doc.findings, DC_SEV_ERROR),
		.warnings = dc_findings_count(&doc.findings, DC_SEV_WARNING),
	};
	dc_output_validate_summary(out, &res, &plain);
	char *origin = dc_map_doc_origin(&doc);
	free(origin);
	dc_map_doc_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The reader alone, with every number spelling resolved the yaml.v3 way. */
	struct dc_yaml_doc y;
	struct dc_error err;
	if (dc_yaml_parse((const char *)data, size, &y, &err) == 0 && y.root) {
		struct dc_yaml_number n;
		for (size_t i = 0; i < y.root->count; i++)
			if (y.root->items[i].text)
				(void)dc_yaml_number(y.root->items[i].text, &n);
	}
	dc_yaml_doc_free(&y);
	read_as(data, size, DC_MAP_FORMAT_YAML);
	read_as(data, size, DC_MAP_FORMAT_HEADSCALE);
	read_as(data, size, DC_MAP_FORMAT_AUTO);
	return 0;
}
