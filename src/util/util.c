#include "derpcheck/util/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void dc_error_clear(struct dc_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int dc_error_set(struct dc_error *err, const char *where, const char *fmt, ...)
{
	if (!err)
		return -1;
	memset(err, 0, sizeof(*err));
	if (where)
		snprintf(err->where, sizeof(err->where), "%s", where);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->what, sizeof(err->what), fmt, ap);
	va_end(ap);
	return -1;
}

void dc_error_hint(struct dc_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void dc_srcpos_advance(struct dc_srcpos *pos, const char *text, size_t len, size_t i)
{
	unsigned char c = (unsigned char)text[i];
	if (c == '\n' || (c == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
		pos->line++;
		pos->col = 1;
	} else if (c != '\r' && (c & 0xC0) != 0x80) {
		pos->col++;
	}
}

int dc_parse_int(const char *text, long long min, long long max, long long *out)
{
	if (!text || !*text || isspace((unsigned char)*text))
		return -1;
	errno = 0;
	char *end = NULL;
	long long v = strtoll(text, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int dc_parse_duration_ms(const char *text, long long min_ms, long long max_ms, long long *out_ms)
{
	if (!text || !*text)
		return -1;
	/* Plain decimal only: strtod alone would also take "0x10", "1e2" and "inf". */
	size_t digits = strspn(text, "0123456789.");
	if (digits == 0 || strchr(text + digits, '.') || strchr(text, '.') != strrchr(text, '.'))
		return -1;
	errno = 0;
	char *end = NULL;
	double v = strtod(text, &end);
	if (errno || end == text)
		return -1;
	double scale;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		scale = 1000.0;
	else if (strcmp(end, "ms") == 0)
		scale = 1.0;
	else if (strcmp(end, "m") == 0)
		scale = 60000.0;
	else if (strcmp(end, "h") == 0)
		scale = 3600000.0; /* hints name hours ("1s to 24h"): they must parse */
	else
		return -1;
	double ms = v * scale;
	if (!(ms >= (double)min_ms && ms <= (double)max_ms))
		return -1;
	*out_ms = (long long)(ms + 0.5);
	return 0;
}

uint64_t dc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool dc_double_to_int64(double d, int64_t *out)
{
	/* -2^63 is exact as a double; 2^63 is the first value beyond INT64_MAX. NaN fails both. */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d)
		return false;
	*out = (int64_t)d;
	return true;
}

size_t dc_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1; /* names are short; don't spend time on junk */
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
			size_t best = diag + (same ? 0 : 1);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *dc_closest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t wl = strlen(word);
	/* Allow roughly one typo per three characters, at least two. */
	size_t limit = wl / 3 > 2 ? wl / 3 : 2;
	for (size_t i = 0; i < n; i++) {
		/* The distance is at least the difference in length: a candidate that differs by
		 * more than the limit could never be taken, so it is not measured (an unknown
		 * option of 60 characters against every option's name was the CLI's whole cost). */
		size_t cl = strlen(candidates[i]);
		if ((cl > wl ? cl - wl : wl - cl) > limit)
			continue;
		size_t d = dc_edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	if (best && best_d <= limit && best_d < wl)
		return best;
	/* A prefix is also a strong hint ("--form" -> "--format"). */
	for (size_t i = 0; i < n && wl >= 3; i++)
		if (strncasecmp(candidates[i], word, wl) == 0)
			return candidates[i];
	return NULL;
}

static void out_of_memory(size_t n)
{
	fprintf(stderr, "derpcheck: out of memory allocating %zu bytes\n", n);
	abort();
}

void *dc_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

void *dc_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		out_of_memory(count * size);
	return p;
}

void *dc_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory(n);
	return q;
}

char *dc_xstrdup(const char *s)
{
	return dc_xstrndup(s, strlen(s));
}

char *dc_xstrndup(const char *s, size_t n)
{
	char *p = dc_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *dc_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *p = dc_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void dc_buf_append(struct dc_buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = dc_xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void dc_buf_printf(struct dc_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0) {
		dc_buf_append(b, "", 0); /* an empty result is still a string, never NULL */
		return;
	}
	char *tmp = dc_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(tmp, (size_t)n + 1, fmt, ap);
	va_end(ap);
	dc_buf_append(b, tmp, (size_t)n);
	free(tmp);
}

void dc_buf_free(struct dc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void dc_shell_append(char *out, size_t n, const char *arg)
{
	static const char plain_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-[]";
	size_t k = strnlen(out, n);
	if (n == 0 || k + 1 >= n)
		return;
	bool plain = *arg != '\0';
	for (const char *p = arg; *p; p++)
		plain = plain && strchr(plain_chars, *p) != NULL;
	out[k++] = ' ';
	if (plain) {
		for (const char *p = arg; *p && k + 1 < n; p++)
			out[k++] = *p;
		out[k] = '\0';
		return;
	}
	/* 'it'\''s': a quote inside is closed, escaped and reopened. */
	if (k + 1 < n)
		out[k++] = '\'';
	for (const char *p = arg; *p && k + 5 < n; p++) {
		if (*p == '\'') {
			memcpy(out + k, "'\\''", 4);
			k += 4;
		} else {
			out[k++] = *p;
		}
	}
	if (k + 1 < n)
		out[k++] = '\'';
	out[k] = '\0';
}

void dc_textf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

int dc_parse_go_int(const char *text, int64_t *out)
{
	const char *p = text;
	if (*p == '+' || *p == '-')
		p++;
	if (!*p)
		return -1;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}
