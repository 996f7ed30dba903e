#include "derpcheck/input/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- numbers, as gopkg.in/yaml.v3 resolve.go reads plain scalars ------------------------ */

/* Go's strconv.ParseUint(s, 0, 64) (base prefixes 0x 0o 0b, and a leading 0 for octal). */
static int go_parse_uint(const char *s, uint64_t *out, enum dc_yaml_number_form *form)
{
	size_t n = strlen(s);
	unsigned base = 10;
	*form = DC_YAML_DECIMAL;
	if (n == 0)
		return -1;
	if (s[0] == '0') {
		char c = n >= 3 ? (char)(s[1] | 0x20) : 0;
		if (c == 'b') {
			base = 2, s += 2, *form = DC_YAML_BINARY;
		} else if (c == 'o') {
			base = 8, s += 2, *form = DC_YAML_OCTAL;
		} else if (c == 'x') {
			base = 16, s += 2, *form = DC_YAML_HEX;
		} else {
			base = 8, s += 1;
			if (*s)
				*form = DC_YAML_LEGACY_OCTAL;
		}
	}
	uint64_t v = 0;
	for (; *s; s++) {
		unsigned d;
		char c = *s;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			d = (unsigned)((c | 0x20) - 'a' + 10);
		else
			return -1;
		if (d >= base)
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -1; /* out of range: yaml.v3 then tries a float */
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* yaml.v3's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_style_float(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	} else {
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9')
				s++;
		}
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* strtod as Go's ParseFloat: an overflow is an error (underflow to 0 is not). */
static int parse_float(const char *s, double *out)
{
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end)
		return -1;
	if (errno == ERANGE && isinf(v))
		return -1;
	*out = v;
	return 0;
}

static const char *const infinities[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
static const char *const neg_infinities[] = {"-.inf", "-.Inf", "-.INF"};
static const char *const nans[] = {".nan", ".NaN", ".NAN"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

int dc_yaml_number(const char *text, struct dc_yaml_number *out)
{
	memset(out, 0, sizeof(*out));
	if (in_list(text, infinities, DC_ARRAY_LEN(infinities)) || in_list(text, neg_infinities, DC_ARRAY_LEN(neg_infinities)) ||
	    in_list(text, nans, DC_ARRAY_LEN(nans))) {
		out->form = DC_YAML_FLOAT;
		out->f = in_list(text, nans, DC_ARRAY_LEN(nans)) ? NAN : text[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	char c = text[0];
	if (c == '.') { /* yaml.v3: a leading '.' goes straight to ParseFloat */
		out->form = DC_YAML_FLOAT;
		return parse_float(text, &out->f);
	}
	if (!(c == '+' || c == '-' || (c >= '0' && c <= '9')))
		return -1;
	/* A plain scalar is at most a line; anything longer is not a number worth typing. */
	char plain[128];
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '_') {
			out->underscores = true;
			continue;
		}
		if (n + 1 >= sizeof(plain))
			return -1;
		plain[n++] = *p;
	}
	plain[n] = '\0';
	/* strconv.ParseInt(plain, 0, 64): an optional sign, then ParseUint. */
	const char *digits = plain;
	bool neg = false;
	if (*digits == '+' || *digits == '-')
		neg = *digits++ == '-';
	uint64_t u;
	if (go_parse_uint(digits, &u, &out->form) == 0) {
		if (neg ? u <= (uint64_t)INT64_MAX + 1 : u <= (uint64_t)INT64_MAX) {
			out->is_int = true;
			out->i = neg ? (int64_t)(0 - u) : (int64_t)u;
			out->f = (double)out->i;
			return 0;
		}
		/* strconv.ParseUint(plain, 0, 64) takes no sign: only unsigned values beyond int64. */
		if (!neg && digits == plain) {
			out->is_int = out->is_unsigned = true;
			out->u = u;
			out->f = (double)u;
			return 0;
		}
	}
	if (yaml_style_float(plain) && parse_float(plain, &out->f) == 0) {
		out->form = DC_YAML_FLOAT;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

/* YYYY-M-D, optionally followed by a time: yaml.v3 reads these as timestamps (strings here). */
static bool looks_like_timestamp(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (s[4] != '-')
		return false;
	const char *p = s + 5;
	int k = 0;
	while (*p >= '0' && *p <= '9' && k < 3)
		p++, k++;
	if (k == 0 || k > 2 || *p != '-')
		return false;
	p++;
	k = 0;
	while (*p >= '0' && *p <= '9' && k < 3)
		p++, k++;
	return k >= 1 && k <= 2 && (*p == '\0' || *p == 'T' || *p == 't' || *p == ' ');
}

static const char *const yaml_true[] = {"true", "True", "TRUE"};
static const char *const yaml_false[] = {"false", "False", "FALSE"};
static const char *const yaml_null[] = {"", "~", "null", "Null", "NULL"};

/* Type a plain, untagged scalar the way yaml.v3's resolve() does. */
static void resolve_plain(struct dc_json *v)
{
	const char *s = v->text;
	struct dc_yaml_number num;
	if (in_list(s, yaml_null, DC_ARRAY_LEN(yaml_null))) {
		v->type = DC_JSON_NULL;
	} else if (in_list(s, yaml_true, DC_ARRAY_LEN(yaml_true)) || in_list(s, yaml_false, DC_ARRAY_LEN(yaml_false))) {
		v->type = DC_JSON_BOOL;
		v->boolean = s[0] == 't' || s[0] == 'T';
	} else if (!looks_like_timestamp(s) && dc_yaml_number(s, &num) == 0) {
		v->type = DC_JSON_NUMBER;
	} else {
		v->type = DC_JSON_STRING;
	}
}

/* ---- the tree builder ---------------------------------------------------------------- */

struct anchor {
	char *name;
	struct dc_json node; /* a private copy, taken when the anchored node was complete */
};

struct builder {
	yaml_parser_t parser;
	const char *text;
	size_t len;
	struct dc_error *err;
	struct anchor *anchors;
	size_t anchor_count;
	size_t nodes; /* every node built or copied, against DC_YAML_MAX_NODES */
	struct dc_yaml_doc *doc;
};

static struct dc_srcpos mark_pos(yaml_mark_t m)
{
	struct dc_srcpos p = {(uint32_t)(m.line + 1), (uint32_t)(m.column + 1)};
	return p;
}

static int fail_at(struct builder *b, struct dc_srcpos pos, const char *fmt, ...) DC_PRINTF(3, 4);
static int fail_at(struct builder *b, struct dc_srcpos pos, const char *fmt, ...)
{
	if (b->err->what[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->err->what, sizeof(b->err->what), fmt, ap);
		va_end(ap);
		b->err->pos = pos;
	}
	return -1;
}

/* The byte at a libyaml mark (lines end at \n, \r\n, \r, NEL, LS or PS; columns count characters). */
static int byte_at(const struct builder *b, struct dc_srcpos pos)
{
	const unsigned char *p = (const unsigned char *)b->text;
	size_t i = 0, n = b->len;
	if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	uint32_t line = 1, col = 1;
	while (i < n) {
		if (line == pos.line && col == pos.col)
			return p[i];
		size_t brk = 0;
		if (p[i] == '\r')
			brk = i + 1 < n && p[i + 1] == '\n' ? 2 : 1;
		else if (p[i] == '\n')
			brk = 1;
		else if (i + 1 < n && p[i] == 0xC2 && p[i + 1] == 0x85)
			brk = 2;
		else if (i + 2 < n && p[i] == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
			brk = 3;
		if (brk) {
			if (line == pos.line)
				return -1;
			i += brk;
			line++;
			col = 1;
			continue;
		}
		i++;
		while (i < n && (p[i] & 0xC0) == 0x80)
			i++;
		col++;
	}
	return -1;
}

/* libyaml's error, in words a user can act on. */
static int parser_failed(struct builder *b)
{
	yaml_parser_t *p = &b->parser;
	struct dc_srcpos at = mark_pos(p->problem_mark);
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->error == YAML_MEMORY_ERROR)
		return fail_at(b, at, "out of memory while reading YAML");
	if (byte_at(b, at) == '\t' || strstr(problem, "tab")) {
		fail_at(b, at, "a tab character indents this line; YAML allows only spaces for indentation");
		dc_error_hint(b->err, "replace the tab at %u:%u with spaces (YAML readers, Go's yaml.v3 included, reject the whole file)",
			      at.line, at.col);
		return -1;
	}
	if (p->context)
		fail_at(b, at, "%s (%s at %u:%u)", problem, p->context, (unsigned)p->context_mark.line + 1,
			(unsigned)p->context_mark.column + 1);
	else
		fail_at(b, at, "%s", problem);
	if (strstr(problem, "mapping values are not allowed"))
		dc_error_hint(b->err, "a value that contains ': ' must be quoted; otherwise check this line's indentation");
	else if (strstr(problem, "did not find expected key") || strstr(problem, "did not find expected '-'"))
		dc_error_hint(b->err, "line this up with the keys (or '- ' items) above it: YAML nesting is indentation");
	else if (strstr(problem, "could not find expected ':'"))
		dc_error_hint(b->err, "add ': ' after the key, or quote the text if it is a value");
	else if (strstr(problem, "control characters"))
		dc_error_hint(b->err, "the file holds a byte that is not text here; save it as UTF-8 text");
	else
		dc_error_hint(b->err, "fix the YAML at this position");
	return -1;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return parser_failed(b);
	return 0;
}

static int count_node(struct builder *b, struct dc_srcpos pos)
{
	if (++b->nodes > DC_YAML_MAX_NODES)
		return fail_at(b, pos, "the document expands to more than %u values (aliases repeating aliases?)",
			       DC_YAML_MAX_NODES);
	return 0;
}

static void add_note(struct builder *b, enum dc_yaml_note_kind kind, struct dc_srcpos pos, struct dc_srcpos target,
		     const char *name)
{
	struct dc_yaml_doc *d = b->doc;
	d->notes = dc_xrealloc(d->notes, (d->note_count + 1) * sizeof(*d->notes));
	d->notes[d->note_count++] = (struct dc_yaml_note){kind, pos, target, name ? dc_xstrdup(name) : NULL};
}

/* A deep copy that counts against the node budget (alias expansion). */
static int copy_node(struct builder *b, const struct dc_json *src, struct dc_json *dst)
{
	*dst = *src;
	dst->key = src->key ? dc_xstrdup(src->key) : NULL;
	dst->text = src->text ? dc_xstrndup(src->text, src->text_len) : NULL;
	dst->items = NULL;
	dst->count = 0;
	if (count_node(b, src->pos) < 0)
		return -1;
	if (src->count) {
		dst->items = dc_xcalloc(src->count, sizeof(*dst->items));
		for (size_t i = 0; i < src->count; i++) {
			if (copy_node(b, &src->items[i], &dst->items[i]) < 0) {
				dst->count = i + 1;
				return -1;
			}
		}
		dst->count = src->count;
	}
	return 0;
}

static const struct anchor *find_anchor(const struct builder *b, const char *name)
{
	for (size_t i = b->anchor_count; i-- > 0;) /* a redefined anchor: the latest one counts */
		if (strcmp(b->anchors[i].name, name) == 0)
			return &b->anchors[i];
	return NULL;
}

static void remember_anchor(struct builder *b, const char *name, const struct dc_json *node)
{
	b->anchors = dc_xrealloc(b->anchors, (b->anchor_count + 1) * sizeof(*b->anchors));
	struct anchor *a = &b->anchors[b->anchor_count++];
	a->name = dc_xstrdup(name);
	/* The copy is not counted: only what ends up in the tree is. */
	size_t saved = b->nodes;
	copy_node(b, node, &a->node);
	b->nodes = saved;
	free(a->node.key);
	a->node.key = NULL;
}

static void push_item(struct dc_json *parent, size_t *cap)
{
	if (parent->count == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		parent->items = dc_xrealloc(parent->items, *cap * sizeof(*parent->items));
	}
	memset(&parent->items[parent->count++], 0, sizeof(*parent->items));
}

static int read_node(struct builder *b, yaml_event_t *ev, struct dc_json *out, int depth);

static bool is_str_tag(const char *tag)
{
	return tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!!str") == 0);
}

static void read_scalar(struct builder *b, yaml_event_t *ev, struct dc_json *out)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	out->text = dc_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
	out->text_len = ev->data.scalar.length;
	bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.style != YAML_ANY_SCALAR_STYLE;
	/* yaml.v3's indicatedString(): quoted or block style without a tag, or !!str. */
	if (is_str_tag(tag) || (quoted && (!tag || strcmp(tag, "!") == 0))) {
		out->type = DC_JSON_STRING;
		out->style = DC_STYLE_QUOTED;
	} else {
		out->style = DC_STYLE_PLAIN;
		if (tag && strncmp(tag, "tag:yaml.org,2002:", 18) != 0 && strcmp(tag, "!") != 0)
			out->type = DC_JSON_STRING; /* a tag yaml.v3 cannot resolve: the text as is */
		else
			resolve_plain(out);
	}
	if (tag && !is_str_tag(tag) && strcmp(tag, "!") != 0)
		add_note(b, DC_YAML_NOTE_TAG, out->pos, out->pos, tag);
}

/* `<<: *a` or `<<: [*a, *b]`: members the mapping does not set itself, earlier sources first. */
static int apply_merge(struct builder *b, struct dc_json *map, size_t *cap, const struct dc_json *src,
		       struct dc_srcpos at)
{
	const struct dc_json *sources = src;
	size_t n = 1;
	if (src->type == DC_JSON_ARRAY) {
		sources = src->items;
		n = src->count;
	}
	for (size_t s = 0; s < n; s++) {
		const struct dc_json *m = &sources[s];
		if (m->type != DC_JSON_OBJECT)
			return fail_at(b, m->pos, "a << merge needs a mapping or a list of mappings, found %s",
				       m->type == DC_JSON_ARRAY ? "a list" : "a single value");
		add_note(b, DC_YAML_NOTE_MERGE, at, m->pos, NULL);
		for (size_t i = 0; i < m->count; i++) {
			bool present = false;
			for (size_t k = 0; k < map->count && !present; k++)
				present = strcmp(map->items[k].key, m->items[i].key) == 0;
			if (present)
				continue;
			push_item(map, cap);
			if (copy_node(b, &m->items[i], &map->items[map->count - 1]) < 0)
				return -1;
		}
	}
	return 0;
}

static int read_mapping(struct builder *b, struct dc_json *out, int depth)
{
	size_t cap = 0;
	struct dc_json *merges = NULL;
	size_t merge_count = 0;
	struct dc_srcpos *merge_at = NULL;
	int rc = -1;
	out->type = DC_JSON_OBJECT;
	for (;;) {
		yaml_event_t ev;
		if (next_event(b, &ev) < 0)
			goto done;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		struct dc_json key = {0};
		struct dc_srcpos key_at = mark_pos(ev.start_mark);
		if (read_node(b, &ev, &key, depth + 1) < 0) {
			dc_json_clear(&key);
			goto done;
		}
		if (key.type == DC_JSON_ARRAY || key.type == DC_JSON_OBJECT) {
			dc_json_clear(&key);
			fail_at(b, key_at, "a mapping key must be a single value, not a %s",
				key.type == DC_JSON_ARRAY ? "list" : "mapping");
			dc_error_hint(b->err, "write a plain key such as name: value");
			goto done;
		}
		yaml_event_t vev;
		if (next_event(b, &vev) < 0) {
			dc_json_clear(&key);
			goto done;
		}
		if (key.style == DC_STYLE_PLAIN && strcmp(key.text, "<<") == 0) {
			merges = dc_xrealloc(merges, (merge_count + 1) * sizeof(*merges));
			merge_at = dc_xrealloc(merge_at, (merge_count + 1) * sizeof(*merge_at));
			memset(&merges[merge_count], 0, sizeof(*merges));
			merge_at[merge_count] = key_at;
			int r = read_node(b, &vev, &merges[merge_count++], depth + 1);
			dc_json_clear(&key);
			if (r < 0)
				goto done;
			continue;
		}
		push_item(out, &cap);
		struct dc_json *m = &out->items[out->count - 1];
		int r = read_node(b, &vev, m, depth + 1);
		m->key = key.text;
		m->key_pos = key.pos;
		m->key_style = key.style;
		key.text = NULL;
		dc_json_clear(&key);
		if (r < 0)
			goto done;
	}
	/* yaml.v3 applies merges after the mapping's own keys, which therefore win. */
	for (size_t i = 0; i < merge_count; i++)
		if (apply_merge(b, out, &cap, &merges[i], merge_at[i]) < 0)
			goto done;
	rc = 0;
done:
	for (size_t i = 0; i < merge_count; i++)
		dc_json_clear(&merges[i]);
	free(merges);
	free(merge_at);
	return rc;
}

static int read_sequence(struct builder *b, struct dc_json *out, int depth)
{
	size_t cap = 0;
	out->type = DC_JSON_ARRAY;
	for (;;) {
		yaml_event_t ev;
		if (next_event(b, &ev) < 0)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		push_item(out, &cap);
		if (read_node(b, &ev, &out->items[out->count - 1], depth + 1) < 0)
			return -1;
	}
}

/* Build the node ev starts (ev is consumed). */
static int read_node(struct builder *b, yaml_event_t *ev, struct dc_json *out, int depth)
{
	int rc = -1;
	out->pos = mark_pos(ev->start_mark);
	const char *anchor = NULL;
	if (depth >= DC_YAML_MAX_DEPTH) {
		fail_at(b, out->pos, "nesting deeper than %d levels", DC_YAML_MAX_DEPTH);
		goto done;
	}
	if (count_node(b, out->pos) < 0)
		goto done;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		read_scalar(b, ev, out);
		rc = 0;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		if (ev->data.sequence_start.tag)
			add_note(b, DC_YAML_NOTE_TAG, out->pos, out->pos, (const char *)ev->data.sequence_start.tag);
		rc = read_sequence(b, out, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		if (ev->data.mapping_start.tag)
			add_note(b, DC_YAML_NOTE_TAG, out->pos, out->pos, (const char *)ev->data.mapping_start.tag);
		rc = read_mapping(b, out, depth);
		break;
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		const struct anchor *a = find_anchor(b, name);
		if (!a) {
			/* Also an alias inside the node it names: that anchor is not complete yet. */
			fail_at(b, out->pos, "*%s refers to no anchor &%s defined before it", name, name);
			dc_error_hint(b->err, "define &%s on a value above this line, or write the value here", name);
			break;
		}
		struct dc_srcpos alias_at = out->pos;
		b->nodes--; /* copy_node counts the top node itself */
		rc = copy_node(b, &a->node, out);
		if (rc == 0)
			add_note(b, DC_YAML_NOTE_ALIAS, alias_at, a->node.pos, name);
		break;
	}
	default:
		fail_at(b, out->pos, "unexpected YAML event %d", (int)ev->type);
		break;
	}
	if (rc == 0 && anchor)
		remember_anchor(b, anchor, out);
done:
	yaml_event_delete(ev);
	return rc;
}

void dc_yaml_doc_free(struct dc_yaml_doc *doc)
{
	if (!doc)
		return;
	dc_json_free(doc->root);
	for (size_t i = 0; i < doc->note_count; i++)
		free(doc->notes[i].name);
	free(doc->notes);
	memset(doc, 0, sizeof(*doc));
}

int dc_yaml_parse(const char *text, size_t len, struct dc_yaml_doc *doc, struct dc_error *err)
{
	struct dc_error local;
	if (!err)
		err = &local;
	dc_error_clear(err);
	memset(doc, 0, sizeof(*doc));
	if (len > DC_YAML_MAX_SIZE) {
		dc_error_set(err, NULL, "input is %zu bytes; the limit is %u", len, DC_YAML_MAX_SIZE);
		err->pos = (struct dc_srcpos){1, 1};
		return -1;
	}
	struct builder b = {.text = text, .len = len, .err = err, .doc = doc};
	if (!yaml_parser_initialize(&b.parser)) {
		dc_error_set(err, NULL, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
	int rc = -1;
	yaml_event_t ev;
	/* STREAM-START, then DOCUMENT-START or (an empty stream) STREAM-END. */
	if (next_event(&b, &ev) < 0)
		goto out;
	yaml_event_delete(&ev);
	if (next_event(&b, &ev) < 0)
		goto out;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		rc = 0;
		goto out;
	}
	yaml_event_delete(&ev);
	if (next_event(&b, &ev) < 0)
		goto out;
	doc->root = dc_xcalloc(1, sizeof(*doc->root));
	if (read_node(&b, &ev, doc->root, 0) < 0)
		goto out;
	/* An empty document is one null scalar: no content, as yaml.v3 sees it. */
	if (doc->root->type == DC_JSON_NULL && doc->root->style == DC_STYLE_PLAIN && !*doc->root->text) {
		dc_json_free(doc->root);
		doc->root = NULL;
	}
	if (next_event(&b, &ev) < 0) /* DOCUMENT-END */
		goto out;
	yaml_event_delete(&ev);
	/* Go's yaml.Unmarshal reads the first document only; what follows is never decoded. */
	if (yaml_parser_parse(&b.parser, &ev)) {
		if (ev.type == YAML_DOCUMENT_START_EVENT)
			add_note(&b, DC_YAML_NOTE_MORE_DOCUMENTS, mark_pos(ev.start_mark), mark_pos(ev.start_mark), NULL);
		yaml_event_delete(&ev);
	} else {
		add_note(&b, DC_YAML_NOTE_MORE_DOCUMENTS, mark_pos(b.parser.problem_mark), mark_pos(b.parser.problem_mark), NULL);
	}
	rc = 0;
out:
	yaml_parser_delete(&b.parser);
	for (size_t i = 0; i < b.anchor_count; i++) {
		free(b.anchors[i].name);
		dc_json_clear(&b.anchors[i].node);
	}
	free(b.anchors);
	if (rc < 0) {
		dc_json_free(doc->root);
		doc->root = NULL;
	}
	return rc;
}
