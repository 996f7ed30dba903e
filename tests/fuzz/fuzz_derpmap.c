/*
 * libFuzzer target: arbitrary bytes through everything `derpcheck validate` does with a
 * map it has read: parse, decode, validate against the defaults, merge, sort and render
 * the findings as text and JSON and the summary. Seeds: tests/fuzz/corpus/derpmap/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output.h"
#include "derpcheck/judge/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded once: the embedded default map never changes. */
static const struct dc_derpmap *defaults(void)
{
	static struct dc_derpmap map;
	static bool ready;
	if (!ready) {
		if (dc_map_defaults(&map) < 0)
			abort(); /* the snapshot itself is broken: nothing else is worth fuzzing */
		ready = true;
	}
	return &map;
}

static FILE *devnull(void)
{
	static FILE *out;
	if (!out && !(out = fopen("/dev/null", "w")))
		abort();
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dc_derpmap *def = defaults();
	FILE *out = devnull();

	struct dc_map_doc doc;
	memset(&doc, 0, sizeof(doc));
	doc.text.source = DC_MAP_SOURCE_FILE;
	doc.text.name = dc_xstrdup("fuzz.hujson");
	doc.text.text = dc_xmalloc(size + 1);
	if (size)
		memcpy(doc.text.text, data, size);
	doc.text.text[size] = '\0';
	doc.text.len = size;
	dc_map_doc_parse(&doc);

	struct dc_derpmap effective;
	struct dc_merge_summary merge;
	bool merged = false;
	if (doc.decoded) {
		dc_validate(&doc.map, def, &doc.findings);
		if (doc.map.shape == DC_SHAPE_POLICY) {
			dc_derpmap_merge(&doc.map, def, &effective, &merge);
			merged = true;
		}
	}
	dc_findings_sort(&doc.findings);

	struct dc_style plain = {.color = false};
	struct dc_style color = {.color = true};
	dc_output_findings_text(out, &doc.findings, &plain);
	dc_output_findings_text(out, &doc.findings, &color);
	dc_output_findings_json(out, &doc.findings);

	struct dc_validate_result res = {
		.doc = &doc,
		.effective = merged ? &effective : doc.decoded && doc.map.shape == DC_SHAPE_DERPMAP ? &doc.map : NULL,
		.merge = merged ? &merge : NULL,
		.defaults = def,
		.errors = dc_findings_count(&doc.findings, DC_SEV_ERROR),
		.warnings = dc_findings_count(&doc.findings, DC_SEV_WARNING),
	};
	dc_output_validate_summary(out, &res, &plain);

	if (merged) {
		dc_derpmap_free(&effective);
		dc_merge_summary_free(&merge);
	}
	dc_map_doc_free(&doc);
	return 0;
}
