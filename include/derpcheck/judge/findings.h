/*
 * The report model: a finding is one problem or observation with a stable code, the
 * JSON path and text position it is about, a plain-language message and a concrete fix.
 * Core modules add findings; only the output module renders them.
 */
#ifndef DERPCHECK_FINDINGS_H
#define DERPCHECK_FINDINGS_H

#include "derpcheck/util/util.h"

enum dc_severity {
	DC_SEV_ERROR,
	DC_SEV_WARNING,
};

struct dc_finding {
	enum dc_severity severity;
	const char *code; /* stable identifier, e.g. "region-id-mismatch" (docs/json.md) */
	char *file;       /* the source the finding is about (file name, URL, "-") */
	char *path;       /* JSON path, e.g. derpMap.Regions.900.Nodes[0].DERPPort */
	struct dc_srcpos pos; /* 0:0 when the finding has no single position */
	char *message;
	char *hint; /* may be NULL */
	size_t seq; /* insertion order, keeps sorting stable */
};

struct dc_findings {
	struct dc_finding *items;
	size_t count;
	size_t cap;
	const char *file; /* applied to findings added from now on */
	const char *ca_file; /* --ca-file as given, for the derpcheck commands hints print; may be NULL */
	const char *map_format; /* --map-format when not auto, for the same commands; may be NULL */
};

struct dc_finding *dc_findings_add(struct dc_findings *f, enum dc_severity sev, const char *code,
				   const char *path, struct dc_srcpos pos, const char *fmt, ...)
	DC_PRINTF(6, 7);
void dc_finding_hint(struct dc_finding *finding, const char *fmt, ...) DC_PRINTF(2, 3);
size_t dc_findings_count(const struct dc_findings *f, enum dc_severity sev);
/* The first finding with CODE (NULL when there is none, or CODE is NULL). */
const struct dc_finding *dc_findings_find(const struct dc_findings *f, const char *code);
bool dc_findings_has(const struct dc_findings *f, const char *code);
/* Order by file, then position, keeping insertion order for ties (stable output). */
void dc_findings_sort(struct dc_findings *f);
void dc_findings_free(struct dc_findings *f);

const char *dc_severity_name(enum dc_severity sev);

#endif
