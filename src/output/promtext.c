/* The Prometheus text exposition format (promtext.h). */
#include "derpcheck/output/promtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct family {
	char *name;
	struct dc_buf head;    /* its HELP and TYPE lines */
	struct dc_buf samples;
	size_t head_from;      /* the input its HELP and TYPE lines come from, +1 (0: none yet) */
};

struct families {
	struct family *items;
	size_t count, cap;
};

/* The metric name at the start of a sample line, or after "# HELP " / "# TYPE ". */
static size_t name_len(const char *s, size_t n)
{
	size_t k = 0;
	while (k < n && s[k] != '{' && s[k] != ' ' && s[k] != '\t')
		k++;
	return k;
}

static struct family *family_of(struct families *fs, const char *name, size_t n)
{
	for (size_t i = 0; i < fs->count; i++)
		if (strlen(fs->items[i].name) == n && memcmp(fs->items[i].name, name, n) == 0)
			return &fs->items[i];
	if (fs->count == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->items = dc_xrealloc(fs->items, fs->cap * sizeof(*fs->items));
	}
	struct family *f = &fs->items[fs->count++];
	memset(f, 0, sizeof(*f));
	f->name = dc_xstrndup(name, n);
	return f;
}

void dc_prom_merge(const char *const *texts, size_t n, struct dc_buf *out)
{
	struct families fs = {0};
	for (size_t t = 0; t < n; t++) {
		struct family *cur = NULL;
		for (const char *p = texts[t]; p && *p;) {
			size_t len = strcspn(p, "\n");
			const char *line = p;
			p += len + (p[len] == '\n');
			if (len == 0)
				continue;
			bool help = len > 7 && strncmp(line, "# HELP ", 7) == 0;
			bool type = len > 7 && strncmp(line, "# TYPE ", 7) == 0;
			if (help || type) {
				const char *name = line + 7;
				cur = family_of(&fs, name, name_len(name, len - 7));
				/* The first input that describes a family describes it for all. */
				if (!cur->head_from)
					cur->head_from = t + 1;
				if (cur->head_from == t + 1) {
					dc_buf_append(&cur->head, line, len);
					dc_buf_append(&cur->head, "\n", 1);
				}
				continue;
			}
			if (line[0] != '#')
				cur = family_of(&fs, line, name_len(line, len));
			if (!cur)
				continue;
			dc_buf_append(&cur->samples, line, len);
			dc_buf_append(&cur->samples, "\n", 1);
		}
	}
	for (size_t i = 0; i < fs.count; i++) {
		struct family *f = &fs.items[i];
		if (f->head.len)
			dc_buf_append(out, f->head.data, f->head.len);
		if (f->samples.len)
			dc_buf_append(out, f->samples.data, f->samples.len);
		free(f->name);
		dc_buf_free(&f->head);
		dc_buf_free(&f->samples);
	}
	free(fs.items);
	if (!out->data)
		dc_buf_append(out, "", 0);
}

void dc_prom_label(struct dc_buf *b, const char *name, const char *value, bool first)
{
	dc_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			dc_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			dc_buf_append(b, "\\n", 2);
		else
			dc_buf_append(b, p, 1);
	}
	dc_buf_append(b, "\"", 1);
}

void dc_prom_family(struct dc_buf *b, const char *name, const char *type, const char *help)
{
	dc_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void dc_prom_value(struct dc_buf *b, double v)
{
	if (isnan(v))
		dc_buf_append(b, "NaN", 3);
	else if (isinf(v))
		dc_buf_printf(b, "%sInf", v < 0 ? "-" : "+");
	else if (v == floor(v) && fabs(v) < 1e15)
		dc_buf_printf(b, "%.0f", v);
	else
		dc_buf_printf(b, "%.9g", v);
}
