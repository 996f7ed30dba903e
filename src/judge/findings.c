#include "derpcheck/judge/findings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* printf into a fresh allocation. */
static char *vformat(const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	size_t size = n > 0 ? (size_t)n + 1 : 1;
	char *out = dc_xmalloc(size);
	out[0] = '\0';
	if (n > 0)
		vsnprintf(out, size, fmt, ap);
	return out;
}

const char *dc_severity_name(enum dc_severity sev)
{
	return sev == DC_SEV_ERROR ? "error" : "warning";
}

struct dc_finding *dc_findings_add(struct dc_findings *f, enum dc_severity sev, const char *code,
				   const char *path, struct dc_srcpos pos, const char *fmt, ...)
{
	if (f->count == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->items = dc_xrealloc(f->items, f->cap * sizeof(*f->items));
	}
	struct dc_finding *x = &f->items[f->count++];
	memset(x, 0, sizeof(*x));
	x->severity = sev;
	x->code = code;
	x->file = dc_xstrdup(f->file ? f->file : "");
	x->path = dc_xstrdup(path ? path : "");
	x->pos = pos;
	x->seq = f->count - 1;
	va_list ap;
	va_start(ap, fmt);
	x->message = vformat(fmt, ap);
	va_end(ap);
	return x;
}

void dc_finding_hint(struct dc_finding *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(x->hint);
	x->hint = vformat(fmt, ap);
	va_end(ap);
}

size_t dc_findings_count(const struct dc_findings *f, enum dc_severity sev)
{
	size_t n = 0;
	for (size_t i = 0; i < f->count; i++)
		n += f->items[i].severity == sev;
	return n;
}

const struct dc_finding *dc_findings_find(const struct dc_findings *f, const char *code)
{
	for (size_t i = 0; code && i < f->count; i++)
		if (strcmp(f->items[i].code, code) == 0)
			return &f->items[i];
	return NULL;
}

bool dc_findings_has(const struct dc_findings *f, const char *code) { return dc_findings_find(f, code) != NULL; }

/* Stable order: file, then position, then insertion order (seq). */
static int compare(const void *pa, const void *pb)
{
	const struct dc_finding *a = pa, *b = pb;
	int c = strcmp(a->file, b->file);
	if (c)
		return c;
	if (a->pos.line != b->pos.line)
		return a->pos.line < b->pos.line ? -1 : 1;
	if (a->pos.col != b->pos.col)
		return a->pos.col < b->pos.col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void dc_findings_sort(struct dc_findings *f)
{
	if (f->count > 1)
		qsort(f->items, f->count, sizeof(*f->items), compare);
}

void dc_findings_free(struct dc_findings *f)
{
	for (size_t i = 0; i < f->count; i++) {
		free(f->items[i].file);
		free(f->items[i].path);
		free(f->items[i].message);
		free(f->items[i].hint);
	}
	free(f->items);
	memset(f, 0, sizeof(*f));
}
