/*
 * Helpers for the Prometheus text exposition format, version 0.0.4 (Prometheus'
 * "Exposition formats" document): one HELP and one TYPE line per metric family, then
 * every sample of that family together; label values with backslash, double quote and
 * line feed escaped.
 */
#ifndef DERPCHECK_PROMTEXT_H
#define DERPCHECK_PROMTEXT_H

#include <stdio.h>

#include "derpcheck/util/util.h"

/* The Content-Type of that format (what Prometheus' own client libraries send). */
#define DC_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Several expositions (each region's own, as one renderer writes it) as one: a family
 * keeps its first HELP and TYPE lines and collects the samples of every input, families
 * in the order they first appear. Lines that are neither are kept with the family before.
 */
void dc_prom_merge(const char *const *texts, size_t n, struct dc_buf *out);

/* `,name="value"` (no comma when first), the value escaped. */
void dc_prom_label(struct dc_buf *b, const char *name, const char *value, bool first);

/* "# HELP name help\n# TYPE name type\n". */
void dc_prom_family(struct dc_buf *b, const char *name, const char *type, const char *help);

/* A sample value: integers without a fraction, NaN and ±Inf spelled as the format wants. */
void dc_prom_value(struct dc_buf *b, double v);

#endif
