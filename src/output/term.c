#include "derpcheck/output/term.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/util/utf8.h"

const char *dc_paint(const struct dc_style *st, const char *sgr)
{
	return st && st->color ? sgr : "";
}

bool dc_term_use_color(enum dc_color_mode mode, FILE *stream)
{
	if (mode == DC_COLOR_ALWAYS)
		return true;
	if (mode == DC_COLOR_NEVER)
		return false;
	const char *no_color = getenv("NO_COLOR"); /* https://no-color.org: set and non-empty */
	if (no_color && *no_color)
		return false;
	const char *term = getenv("TERM");
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return isatty(fileno(stream)) == 1;
}

/* Code points a terminal acts on instead of showing: C1 controls, DEL, bidi controls (Trojan Source). */
static bool acts_on_terminal(uint32_t cp)
{
	return cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void dc_term_escape(struct dc_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		/* Copy a run of plain printable ASCII at once. */
		size_t run = i;
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f)
			run++;
		if (run > i) {
			dc_buf_append(out, p + i, run - i);
			i = run;
			continue;
		}
		uint32_t cp;
		size_t len = dc_utf8_next(p + i, n - i, &cp);
		if (len == 0) {
			dc_buf_printf(out, "\\x%02x", p[i]);
			i++;
		} else if (cp == '\n') {
			dc_buf_append(out, "\\n", 2);
			i++;
		} else if (cp == '\t') {
			dc_buf_append(out, "\\t", 2);
			i++;
		} else if (cp == '\r') {
			dc_buf_append(out, "\\r", 2);
			i++;
		} else if (cp < 0x20 || cp == 0x7f) {
			dc_buf_printf(out, "\\x%02x", (unsigned)cp);
			i++;
		} else if (acts_on_terminal(cp)) {
			dc_buf_printf(out, "\\u%04x", (unsigned)cp);
			i += len;
		} else {
			dc_buf_append(out, p + i, len);
			i += len;
		}
	}
	if (!out->data)
		dc_buf_append(out, "", 0);
}

#define SAFE_SLOTS 16

/*
 * Each thread keeps its last SAFE_SLOTS results (callers use several in one printf).
 * They belong to a pthread key, not to _Thread_local variables, so that a thread's
 * buffers are freed when it ends: the exporter starts a thread per /probe, and
 * thread-local arrays would leak 16 buffers with each.
 */
struct safe_slots {
	char *text[SAFE_SLOTS];
	unsigned next;
};

static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_free(void *p)
{
	struct safe_slots *s = p;
	for (unsigned i = 0; i < SAFE_SLOTS; i++)
		free(s->text[i]);
	free(s);
}

/* The main thread's slots are freed at exit too (pthread destructors do not run for it). */
static void main_slots_free(void)
{
	void *p = pthread_getspecific(slots_key);
	if (p) {
		pthread_setspecific(slots_key, NULL);
		slots_free(p);
	}
}

static void slots_init(void)
{
	pthread_key_create(&slots_key, slots_free);
	atexit(main_slots_free);
}

const char *dc_term_safe_n(const char *s, size_t n)
{
	if (!s)
		return "";
	pthread_once(&slots_once, slots_init);
	struct safe_slots *sl = pthread_getspecific(slots_key);
	if (!sl) {
		sl = dc_xcalloc(1, sizeof(*sl));
		pthread_setspecific(slots_key, sl);
	}
	struct dc_buf b = {0};
	dc_term_escape(&b, s, n);
	unsigned k = sl->next++ % SAFE_SLOTS;
	free(sl->text[k]);
	sl->text[k] = b.data;
	return b.data;
}

const char *dc_term_safe(const char *s)
{
	return s ? dc_term_safe_n(s, strlen(s)) : "";
}

char *dc_json_clean(const char *s, size_t n)
{
	/*
	 * One pass; runs that need no change are copied at once (the whole text of a large map
	 * passes through here). Invalid bytes become U+FFFD, as Go's encoding/json reads them;
	 * outside ASCII, cJSON's output is inside a string, where \u escapes are valid.
	 */
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	struct dc_buf b = {0};
	size_t run = 0; /* start of the run not yet copied */
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x7f) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = dc_utf8_next(p + i, n - i, &cp);
		if (len != 0 && !acts_on_terminal(cp)) {
			i += len;
			continue;
		}
		dc_buf_append(&b, p + run, i - run);
		if (len == 0)
			dc_buf_append(&b, "\xef\xbf\xbd", 3);
		else
			dc_buf_printf(&b, "\\u%04x", (unsigned)cp);
		i += len ? len : 1;
		run = i;
	}
	dc_buf_append(&b, p + run, n - run);
	return b.data;
}

char *dc_json_text(const cJSON *doc, bool formatted)
{
	char *raw = formatted ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
	if (!raw)
		return NULL;
	char *clean = dc_json_clean(raw, strlen(raw));
	cJSON_free(raw);
	return clean;
}
