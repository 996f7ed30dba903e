#include "derpcheck/input/headscale.h"

#include "derpcheck/input/hujson.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/input/yaml.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the keys Headscale reads (hscontrol/types/config.go, config-example.yaml) --------- */

enum key_kind { K_STRING, K_BOOL, K_INT, K_LIST, K_SECTION, K_OTHER };

struct key_spec {
	const char *name;
	enum key_kind kind;
	size_t offset; /* into struct dc_hs_config, for what the map is built from */
};

#define CFG(member) offsetof(struct dc_hs_config, member)
#define NO_FIELD ((size_t)-1)

static const struct key_spec server_keys[] = {
	{"enabled", K_BOOL, CFG(enabled)},
	{"region_id", K_INT, CFG(region_id)},
	{"region_code", K_STRING, CFG(region_code)},
	{"region_name", K_STRING, CFG(region_name)},
	{"verify_clients", K_BOOL, CFG(verify_clients)},
	{"stun_listen_addr", K_STRING, CFG(stun_listen_addr)},
	{"private_key_path", K_STRING, CFG(private_key_path)},
	{"automatically_add_embedded_derp_region", K_BOOL, CFG(auto_add)},
	{"ipv4", K_STRING, CFG(ipv4)},
	{"ipv6", K_STRING, CFG(ipv6)},
	{"stun", K_OTHER, NO_FIELD}, /* an old viper default (derp.server.stun.enabled), read by nothing */
};

static const struct key_spec derp_keys[] = {
	{"server", K_SECTION, NO_FIELD},
	{"urls", K_LIST, CFG(urls)},
	{"paths", K_LIST, CFG(paths)},
	{"auto_update_enabled", K_BOOL, CFG(auto_update)},
	{"update_frequency", K_STRING, CFG(update_frequency)},
};

/* Top-level keys of config-example.yaml, current and recent (older ones still accepted). */
static const struct key_spec top_keys[] = {
	{"server_url", K_STRING, CFG(server_url)}, {"listen_addr", K_OTHER, NO_FIELD},
	{"metrics_listen_addr", K_OTHER, NO_FIELD}, {"grpc_listen_addr", K_OTHER, NO_FIELD},
	{"grpc_allow_insecure", K_OTHER, NO_FIELD}, {"noise", K_OTHER, NO_FIELD},
	{"prefixes", K_OTHER, NO_FIELD}, {"derp", K_SECTION, NO_FIELD},
	{"disable_check_updates", K_OTHER, NO_FIELD}, {"ephemeral_node_inactivity_timeout", K_OTHER, NO_FIELD},
	{"node", K_OTHER, NO_FIELD}, {"database", K_OTHER, NO_FIELD}, {"acme_url", K_OTHER, NO_FIELD},
	{"acme_email", K_OTHER, NO_FIELD}, {"tls_letsencrypt_hostname", K_OTHER, NO_FIELD},
	{"tls_letsencrypt_cache_dir", K_OTHER, NO_FIELD}, {"tls_letsencrypt_challenge_type", K_OTHER, NO_FIELD},
	{"tls_letsencrypt_listen", K_OTHER, NO_FIELD}, {"tls_cert_path", K_OTHER, NO_FIELD},
	{"tls_key_path", K_OTHER, NO_FIELD}, {"log", K_OTHER, NO_FIELD}, {"policy", K_OTHER, NO_FIELD},
	{"dns", K_SECTION, NO_FIELD}, {"unix_socket", K_OTHER, NO_FIELD},
	{"unix_socket_permission", K_OTHER, NO_FIELD}, {"logtail", K_OTHER, NO_FIELD},
	{"randomize_client_port", K_OTHER, NO_FIELD}, {"taildrop", K_OTHER, NO_FIELD},
	{"oidc", K_OTHER, NO_FIELD}, {"cli", K_OTHER, NO_FIELD}, {"tuning", K_OTHER, NO_FIELD},
	{"node_update_check_interval", K_OTHER, NO_FIELD}, {"ip_prefixes", K_OTHER, NO_FIELD},
	{"db_type", K_OTHER, NO_FIELD}, {"db_path", K_OTHER, NO_FIELD}, {"db_host", K_OTHER, NO_FIELD},
	{"db_port", K_OTHER, NO_FIELD}, {"db_name", K_OTHER, NO_FIELD}, {"db_user", K_OTHER, NO_FIELD},
	{"db_pass", K_OTHER, NO_FIELD}, {"db_ssl", K_OTHER, NO_FIELD}, {"dns_config", K_OTHER, NO_FIELD},
	{"acl_policy_path", K_OTHER, NO_FIELD},
};

struct section {
	const char *path; /* "", "derp", "derp.server" */
	const struct key_spec *keys;
	size_t count;
};

static const struct section sections[] = {
	{"", top_keys, DC_ARRAY_LEN(top_keys)},
	{"derp", derp_keys, DC_ARRAY_LEN(derp_keys)},
	{"derp.server", server_keys, DC_ARRAY_LEN(server_keys)},
};

struct loader {
	struct dc_map_doc *doc;
	struct dc_headscale *hs;
	const struct dc_fetch_opts *opts;
	struct dc_findings *f;
};

static void lower_copy(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; s[k] && k + 1 < n; k++)
		out[k] = (char)((s[k] >= 'A' && s[k] <= 'Z') ? s[k] + 32 : s[k]);
	out[k] = '\0';
}

/* Lower case without '_' and '-': regionId, region-id and REGION_ID all fold alike. */
static void fold(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; *s && k + 1 < n; s++)
		if (*s != '_' && *s != '-')
			out[k++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
	out[k] = '\0';
}

static char *join(const char *section, const char *key)
{
	return *section ? dc_xasprintf("%s.%s", section, key) : dc_xstrdup(key);
}

/* ---- values, as viper's Get* converts what yaml.v3 decoded (spf13/cast) -------------------- */

/* cast.ToString of a float64: strconv.FormatFloat(f, 'f', -1, 64). */
static char *go_float_string(double f)
{
	if (f == floor(f) && fabs(f) < 1e15)
		return dc_xasprintf("%.0f", f);
	for (int prec = 1; prec <= 17; prec++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%.*g", prec, f);
		if (strtod(buf, NULL) == f)
			return dc_xstrdup(buf);
	}
	return dc_xasprintf("%.17g", f);
}

/* What GetString returns for a scalar node (NULL for a mapping or a list). */
static char *viper_string(const struct dc_json *v)
{
	struct dc_yaml_number num;
	switch (v->type) {
	case DC_JSON_STRING:
		return dc_xstrdup(v->text);
	case DC_JSON_BOOL:
		return dc_xstrdup(v->boolean ? "true" : "false");
	case DC_JSON_NUMBER:
		if (dc_yaml_number(v->text, &num) < 0)
			return dc_xstrdup(v->text);
		if (num.is_unsigned)
			return dc_xasprintf("%llu", (unsigned long long)num.u);
		if (num.is_int)
			return dc_xasprintf("%lld", (long long)num.i);
		return go_float_string(num.f);
	case DC_JSON_NULL:
		return dc_xstrdup("");
	default:
		return NULL;
	}
}

static const char *const parse_bool_true[] = {"1", "t", "T", "TRUE", "true", "True"};
static const char *const parse_bool_false[] = {"0", "f", "F", "FALSE", "false", "False"};
static const char *const yaml11_words[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
					   "n", "N", "no", "No", "NO", "off", "Off", "OFF"};

static bool in_words(const char *s, const char *const *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, w[i]) == 0)
			return true;
	return false;
}

static struct dc_finding *value_finding(struct loader *l, enum dc_severity sev, const char *code, const char *path,
					const struct dc_json *v, const char *fmt, ...) DC_PRINTF(6, 7);
static struct dc_finding *value_finding(struct loader *l, enum dc_severity sev, const char *code, const char *path,
					const struct dc_json *v, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dc_findings_add(l->f, sev, code, path, v->pos, "%s", msg);
}

/* GetBool: cast.ToBool — a string goes through strconv.ParseBool, so "yes" is false. */
static void read_bool(struct loader *l, const char *path, const char *key, const struct dc_json *v, struct dc_hs_value *out)
{
	struct dc_yaml_number num;
	switch (v->type) {
	case DC_JSON_BOOL:
		out->boolean = v->boolean;
		return;
	case DC_JSON_NUMBER:
		out->boolean = dc_yaml_number(v->text, &num) == 0 && num.f != 0;
		return;
	case DC_JSON_STRING:
		if (in_words(v->text, parse_bool_true, DC_ARRAY_LEN(parse_bool_true))) {
			out->boolean = true;
			return;
		}
		if (in_words(v->text, parse_bool_false, DC_ARRAY_LEN(parse_bool_false))) {
			out->boolean = false;
			return;
		}
		out->boolean = false;
		if (in_words(v->text, yaml11_words, DC_ARRAY_LEN(yaml11_words))) {
			struct dc_finding *x = value_finding(
				l, DC_SEV_ERROR, "yaml-implicit-type", path, v,
				"Headscale reads \"%s\" as false: YAML 1.2 (yaml.v3) keeps %s a string, and viper's boolean conversion only knows true/false/1/0",
				v->text, v->text);
			dc_finding_hint(x, "write %s: %s", key,
					in_words(v->text, yaml11_words, 8) ? "true" : "false");
		} else {
			struct dc_finding *x = value_finding(l, DC_SEV_ERROR, "wrong-type", path, v,
							     "expected true or false, found \"%s\"; Headscale reads it as false",
							     v->text);
			dc_finding_hint(x, "write %s: true or %s: false", key, key);
		}
		return;
	default: {
		struct dc_finding *x = value_finding(l, DC_SEV_ERROR, "wrong-type", path, v,
						     "expected true or false, found %s; Headscale reads it as false",
						     v->type == DC_JSON_ARRAY ? "a list" : "a mapping");
		dc_finding_hint(x, "write %s: true or %s: false", key, key);
		out->boolean = false;
		return;
	}
	}
}

/* GetInt: cast.ToInt — numbers (floats truncated), booleans as 1/0, strings via ParseInt(s, 0). */
static void read_int(struct loader *l, const char *path, const char *key, const struct dc_json *v, struct dc_hs_value *out)
{
	struct dc_yaml_number num;
	if (v->type == DC_JSON_BOOL) {
		out->number = v->boolean;
		return;
	}
	if ((v->type == DC_JSON_NUMBER || v->type == DC_JSON_STRING) && dc_yaml_number(v->text, &num) == 0 &&
	    !(v->type == DC_JSON_STRING && (!num.is_int || num.underscores))) {
		if (!num.is_int && !(fabs(num.f) < 9223372036854775808.0)) {
			/* A float beyond int64 (or .nan, .inf): Go's int(float64) of it is up to the CPU;
			 * x86-64 gives the smallest int64, so that is what is kept. */
			out->number = INT64_MIN;
			struct dc_finding *x = value_finding(l, DC_SEV_ERROR, "out-of-range", path, v,
							     "%s does not fit in Go's int; what Headscale reads depends on the CPU "
							     "(-9223372036854775808 on x86-64)", v->text);
			dc_finding_hint(x, "write %s as a whole number between -9223372036854775808 and 9223372036854775807", key);
			return;
		}
		out->number = num.is_int ? (num.is_unsigned ? (int64_t)num.u : num.i) : (int64_t)num.f;
		if (v->type == DC_JSON_NUMBER && num.form != DC_YAML_DECIMAL && (num.form != DC_YAML_FLOAT || num.f != (double)out->number)) {
			struct dc_finding *x = value_finding(l, num.form == DC_YAML_LEGACY_OCTAL || num.form == DC_YAML_FLOAT ? DC_SEV_ERROR : DC_SEV_WARNING,
							     "yaml-implicit-type", path, v, "%s is read as %lld%s", v->text, (long long)out->number,
							     num.form == DC_YAML_LEGACY_OCTAL ? " (a leading 0 makes it octal)" : "");
			dc_finding_hint(x, "write %s: %lld, or the number you mean", key, (long long)out->number);
		}
		return;
	}
	out->number = 0;
	struct dc_finding *x = value_finding(l, DC_SEV_ERROR, "wrong-type", path, v,
					     "expected a whole number, found \"%s\"; Headscale reads it as 0", v->text ? v->text : "a mapping or list");
	dc_finding_hint(x, "write %s: 999 (or the region ID you use)", key);
}

static void read_string(struct loader *l, const char *path, const char *key, const struct dc_json *v, struct dc_hs_value *out)
{
	out->string = viper_string(v);
	if (!out->string) {
		out->string = dc_xstrdup("");
		struct dc_finding *x = value_finding(l, DC_SEV_ERROR, "wrong-type", path, v,
						     "expected a single value, found %s; Headscale reads it as \"\"",
						     v->type == DC_JSON_ARRAY ? "a list" : "a mapping");
		dc_finding_hint(x, "write %s: VALUE on one line", key);
		return;
	}
	/* A plain number or boolean comes back as Go prints it, which is not always what was written. */
	if (v->style == DC_STYLE_PLAIN && v->type != DC_JSON_STRING && v->type != DC_JSON_NULL &&
	    strcmp(out->string, v->text) != 0) {
		struct dc_finding *x = value_finding(l, DC_SEV_WARNING, "yaml-implicit-type", path, v,
						     "%s is a YAML %s, so Headscale reads the text \"%s\"", v->text,
						     v->type == DC_JSON_BOOL ? "boolean" : "number", out->string);
		dc_finding_hint(x, "quote it if you mean the text as written: %s: \"%s\"", key, v->text);
	}
}

/* GetStringSlice: a list of values, or one string split at spaces (strings.Fields). */
static void read_list(struct loader *l, const char *path, const char *key, const struct dc_json *v, struct dc_hs_list *out)
{
	/* The key written again (in another case): the last one is read. */
	for (size_t i = 0; i < out->count; i++) {
		free(out->items[i].text);
		free(out->items[i].string);
	}
	free(out->items);
	out->items = NULL;
	out->count = 0;
	out->set = true;
	out->key_at = v->key_pos;
	if (v->type == DC_JSON_ARRAY) {
		out->items = dc_xcalloc(v->count + 1, sizeof(*out->items));
		for (size_t i = 0; i < v->count; i++) {
			struct dc_hs_value *it = &out->items[out->count++];
			const struct dc_json *e = &v->items[i];
			it->set = true;
			it->at = e->pos;
			it->text = e->text ? dc_xstrdup(e->text) : NULL;
			it->plain = e->style == DC_STYLE_PLAIN;
			char *p = dc_xasprintf("%s[%zu]", path, i);
			read_string(l, p, key, e, it);
			free(p);
		}
		return;
	}
	if (v->type == DC_JSON_STRING) {
		const char *s = v->text;
		while (*s) {
			s += strspn(s, " \t\r\n\v\f");
			size_t n = strcspn(s, " \t\r\n\v\f");
			if (!n)
				break;
			out->items = dc_xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
			struct dc_hs_value *it = &out->items[out->count++];
			memset(it, 0, sizeof(*it));
			it->set = true;
			it->at = v->pos;
			it->text = dc_xstrndup(s, n);
			it->string = dc_xstrndup(s, n);
			s += n;
		}
		return;
	}
	struct dc_finding *x = value_finding(l, DC_SEV_ERROR, "wrong-type", path, v,
					     "expected a list, found %s; Headscale reads no entries",
					     v->type == DC_JSON_OBJECT ? "a mapping" : "a single value");
	dc_finding_hint(x, "write each entry on its own line under %s:, starting with \"- \"", key);
}

static void read_value(struct loader *l, const struct key_spec *k, const char *path, const struct dc_json *m)
{
	if (k->offset == NO_FIELD)
		return;
	if (m->type == DC_JSON_NULL) /* viper treats a null as unset: the default applies */
		return;
	if (k->kind == K_LIST) {
		read_list(l, path, k->name, m, (struct dc_hs_list *)((char *)&l->hs->cfg + k->offset));
		return;
	}
	struct dc_hs_value *out = (struct dc_hs_value *)((char *)&l->hs->cfg + k->offset);
	out->set = true;
	out->key_at = m->key_pos;
	out->at = m->pos;
	out->plain = m->style == DC_STYLE_PLAIN;
	free(out->text);
	out->text = m->text ? dc_xstrdup(m->text) : NULL;
	switch (k->kind) {
	case K_BOOL:
		read_bool(l, path, k->name, m, out);
		break;
	case K_INT:
		read_int(l, path, k->name, m, out);
		break;
	case K_STRING:
		free(out->string);
		read_string(l, path, k->name, m, out);
		break;
	default:
		break;
	}
}

/* ---- key names: viper ignores case, nothing else --------------------------------------- */

static const struct key_spec *find_key(const struct section *s, const char *lower)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->keys[i].name, lower) == 0)
			return &s->keys[i];
	return NULL;
}

/* The full name of a known key that folds like key, in any section (NULL if none). */
static char *known_elsewhere(const char *key, const struct section *here)
{
	char want[96], have[96];
	fold(key, want, sizeof(want));
	for (size_t s = 0; s < DC_ARRAY_LEN(sections); s++) {
		if (&sections[s] == here)
			continue;
		for (size_t i = 0; i < sections[s].count; i++) {
			fold(sections[s].keys[i].name, have, sizeof(have));
			if (strcmp(have, want) == 0 && sections[s].keys[i].kind != K_OTHER)
				return join(sections[s].path, sections[s].keys[i].name);
		}
	}
	return NULL;
}

static void value_hint_text(const struct dc_json *m, char *out, size_t n)
{
	if (m->text && m->type != DC_JSON_ARRAY && m->type != DC_JSON_OBJECT)
		snprintf(out, n, " %s", m->text);
	else
		snprintf(out, n, " ...");
}

/*
 * A key Headscale does not read in this section. Returns true when it was reported.
 * At the top level only likely DERP mistakes are reported: Headscale has many keys we
 * do not track, and a false "unknown key" would teach users to ignore the report.
 */
static void unknown_key(struct loader *l, const struct section *s, const struct dc_json *m)
{
	char f[96], known[96], val[128];
	fold(m->key, f, sizeof(f));
	char *path = join(s->path, m->key);
	value_hint_text(m, val, sizeof(val));
	/* derp.server.verify_clients written another way: verify-clients (derper's flag), verify_client, ... */
	if (strcmp(f, "verifyclients") == 0 || strcmp(f, "verifyclient") == 0) {
		struct dc_finding *x = dc_findings_add(
			l->f, DC_SEV_ERROR, "headscale-verify-clients-spelling", path, m->key_pos,
			"Headscale ignores \"%s\"%s%s: the key is derp.server.verify_clients (default true)", m->key,
			strcmp(s->path, "derp.server") ? " here" : "", strcmp(s->path, "derp.server") ? " (wrong section)" : "");
		dc_finding_hint(x, "write verify_clients:%s under derp: server:", val);
		free(path);
		return;
	}
	for (size_t i = 0; i < s->count; i++) {
		fold(s->keys[i].name, known, sizeof(known));
		if (strcmp(known, f) == 0) {
			struct dc_finding *x = dc_findings_add(
				l->f, DC_SEV_ERROR, "headscale-camelcase-key", path, m->key_pos,
				"Headscale ignores \"%s\": its keys are snake_case, and this one is %s", m->key, s->keys[i].name);
			dc_finding_hint(x, "write %s:%s", s->keys[i].name, val);
			free(path);
			return;
		}
	}
	char *elsewhere = known_elsewhere(m->key, s);
	const char *names[64];
	size_t n = 0;
	for (size_t i = 0; i < s->count && n < DC_ARRAY_LEN(names); i++)
		names[n++] = s->keys[i].name;
	const char *guess = dc_closest(m->key, names, n);
	if (elsewhere) {
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_WARNING, "headscale-unknown-key", path, m->key_pos,
						       "Headscale does not read \"%s\" here: it belongs at %s", m->key, elsewhere);
		dc_finding_hint(x, "move it to %s", elsewhere);
	} else if (guess) {
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_WARNING, "headscale-unknown-key", path, m->key_pos,
						       "unknown key \"%s\"; Headscale ignores it", m->key);
		dc_finding_hint(x, "did you mean %s?", guess);
	} else if (*s->path) {
		struct dc_buf b = {0};
		for (size_t i = 0; i < s->count; i++)
			if (s->keys[i].kind != K_OTHER || strcmp(s->keys[i].name, "stun") != 0)
				dc_buf_printf(&b, "%s%s", b.len ? ", " : "", s->keys[i].name);
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_WARNING, "headscale-unknown-key", path, m->key_pos,
						       "unknown key \"%s\"; Headscale ignores it", m->key);
		dc_finding_hint(x, "the keys of %s are: %s", s->path, b.data);
		dc_buf_free(&b);
	}
	free(elsewhere);
	free(path);
}

/* Keys written twice: yaml.v3 rejects the file; two case spellings viper folds into one key. */
static void duplicate_keys(struct loader *l, const struct section *s, const struct dc_json *obj)
{
	for (size_t i = 1; i < obj->count; i++)
		for (size_t j = 0; j < i; j++) {
			const struct dc_json *a = &obj->items[j], *b = &obj->items[i];
			if (strcasecmp(a->key, b->key) != 0)
				continue;
			char *path = join(s->path, b->key);
			bool same = strcmp(a->key, b->key) == 0;
			struct dc_finding *x = dc_findings_add(
				l->f, same ? DC_SEV_ERROR : DC_SEV_WARNING, same ? "yaml-duplicate-key" : "duplicate-key", path,
				b->key_pos,
				same ? "\"%s\" is also set at %u:%u; Headscale's YAML reader (yaml.v3) rejects the config, and Headscale does not start"
				     : "\"%s\" is also set at %u:%u as \"%s\"; viper ignores case, so only one of them is used",
				b->key, a->key_pos.line, a->key_pos.col, a->key);
			dc_finding_hint(x, "delete one of the two entries");
			free(path);
			break;
		}
}

static void read_section(struct loader *l, const struct section *s, const struct dc_json *obj);

static void read_member(struct loader *l, const struct section *s, const struct dc_json *m)
{
	char lower[96];
	lower_copy(m->key, lower, sizeof(lower));
	const struct key_spec *k = find_key(s, lower);
	if (!k) {
		char f[96];
		fold(m->key, f, sizeof(f));
		if (!*s->path && strcmp(lower, "regions") == 0) {
			struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-unknown-key", m->key, m->key_pos,
							       "a config has no regions: key; this file looks like a DERP map for derp.paths");
			dc_finding_hint(x, "list this file under derp.paths in config.yaml, or read it with --map-format yaml");
			return;
		}
		char *elsewhere = known_elsewhere(m->key, s);
		/* At the top level, report only what is about the DERP map (see unknown_key). */
		if (*s->path || strcmp(f, "derp") == 0 || strcmp(f, "serverurl") == 0 || strstr(f, "verifyclient") ||
		    elsewhere || dc_edit_distance(lower, "server_url") <= 2 || dc_edit_distance(lower, "derp") <= 1)
			unknown_key(l, s, m);
		free(elsewhere);
		return;
	}
	char *path = join(s->path, k->name);
	if (k->kind == K_SECTION) {
		if (strcmp(k->name, "derp") == 0) {
			l->hs->cfg.derp_at = m->key_pos;
			if (m->type == DC_JSON_OBJECT)
				read_section(l, &sections[1], m);
		} else if (strcmp(k->name, "server") == 0) {
			l->hs->cfg.server_at = m->key_pos;
			if (m->type == DC_JSON_OBJECT)
				read_section(l, &sections[2], m);
		} else if (strcmp(k->name, "dns") == 0 && m->type == DC_JSON_OBJECT) {
			for (size_t i = 0; i < m->count; i++)
				if (strcasecmp(m->items[i].key, "base_domain") == 0 && m->items[i].type != DC_JSON_NULL) {
					struct dc_hs_value *bd = &l->hs->cfg.base_domain;
					free(bd->string);
					bd->set = true;
					bd->at = m->items[i].pos;
					bd->string = viper_string(&m->items[i]);
				}
		}
		if (m->type != DC_JSON_OBJECT && m->type != DC_JSON_NULL && strcmp(k->name, "dns") != 0) {
			struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "wrong-type", path, m->pos,
							       "expected a section of keys under %s:, found a single value", k->name);
			dc_finding_hint(x, "indent the keys of %s: by two spaces on the lines below it", k->name);
		}
	} else {
		read_value(l, k, path, m);
	}
	free(path);
}

static void read_section(struct loader *l, const struct section *s, const struct dc_json *obj)
{
	duplicate_keys(l, s, obj);
	for (size_t i = 0; i < obj->count; i++)
		read_member(l, s, &obj->items[i]);
}

bool dc_headscale_looks_like_config(const struct dc_json *root)
{
	if (!root || root->type != DC_JSON_OBJECT)
		return false;
	size_t known = 0;
	for (size_t i = 0; i < root->count; i++) {
		char lower[96];
		lower_copy(root->items[i].key, lower, sizeof(lower));
		if (strcmp(lower, "derp") == 0 || strcmp(lower, "server_url") == 0)
			return true;
		if (strcmp(lower, "regions") == 0)
			return false;
		known += find_key(&sections[0], lower) != NULL;
	}
	return known >= 2;
}

/* ---- the sources ----------------------------------------------------------------------- */

static struct dc_hs_source *add_source(struct dc_headscale *hs, enum dc_hs_source_kind kind, size_t index,
				       const struct dc_hs_value *entry)
{
	hs->sources = dc_xrealloc(hs->sources, (hs->source_count + 1) * sizeof(*hs->sources));
	struct dc_hs_source *s = &hs->sources[hs->source_count++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->index = index;
	if (entry) {
		s->spec = dc_xstrdup(entry->string ? entry->string : "");
		s->at = entry->at;
	}
	s->map.path = dc_xstrdup("");
	return s;
}

static bool is_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* Findings about another file are filed under its name. */
static const char *switch_file(struct loader *l, const char *name)
{
	const char *saved = l->f->file;
	l->f->file = name;
	return saved;
}

static void mark_file(struct dc_derpmap *map, const char *name)
{
	for (size_t i = 0; i < map->region_count; i++)
		map->regions[i].file = name;
}

static void read_url(struct loader *l, size_t i)
{
	const struct dc_hs_value *entry = &l->hs->cfg.urls.items[i];
	struct dc_hs_source *s = add_source(l->hs, DC_HS_URL, i, entry);
	s->name = dc_xstrdup(s->spec);
	char *path = dc_xasprintf("derp.urls[%zu]", i);
	if (!is_url(s->spec)) {
		s->state = DC_HS_SKIPPED;
		s->why = dc_xstrdup("not an http(s) URL");
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-source-misplaced", path, entry->at,
						       "derp.urls lists URLs of JSON DERP maps; \"%s\" is not one, so Headscale cannot fetch it and refuses to start",
						       s->spec);
		dc_finding_hint(x, "move a YAML map file to derp.paths; give maps on the web as https:// URLs");
		free(path);
		return;
	}
	free(path);
	if (l->opts && l->opts->no_other_sources) {
		s->state = DC_HS_SKIPPED;
		s->why = dc_xstrdup("not fetched here");
		return;
	}
	/* Tailscale's default map: the test override, or the snapshot when fetching it is off. */
	const char *fetch = s->spec;
	bool is_default = strcmp(s->spec, DC_MAP_DEFAULT_URL) == 0;
	const char *env = getenv(DC_MAP_DEFAULT_URL_ENV);
	if (is_default && env && !*env) {
		s->state = DC_HS_SNAPSHOT;
		s->why = dc_xasprintf("not fetched: %s is empty", DC_MAP_DEFAULT_URL_ENV);
		dc_derpmap_free(&s->map);
		dc_map_defaults(&s->map);
		mark_file(&s->map, s->name);
		return;
	}
	if (is_default && env && *env)
		fetch = env;
	struct dc_map_text text;
	struct dc_error err;
	struct dc_fetch_opts fo = l->opts ? *l->opts : (struct dc_fetch_opts){0};
	if (dc_map_read(fetch, &fo, &text, &err) < 0) {
		dc_derpmap_free(&s->map);
		if (is_default) {
			s->state = DC_HS_SNAPSHOT;
			s->why = dc_xasprintf("could not be fetched (%s)", err.what);
			dc_map_defaults(&s->map);
			mark_file(&s->map, s->name);
			return;
		}
		s->map.path = dc_xstrdup("");
		s->state = DC_HS_SKIPPED;
		s->why = dc_xstrdup(err.what);
		char *p = dc_xasprintf("derp.urls[%zu]", i);
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_WARNING, "headscale-url-not-fetched", p, entry->at,
						       "derpcheck could not fetch this map (%s), so its regions are missing from the map shown; Headscale refuses to start when it cannot fetch it either",
						       err.what);
		dc_finding_hint(x, "%s", err.hint[0] ? err.hint : "check that the URL answers with a JSON DERP map");
		free(p);
		return;
	}
	if (fetch != s->spec) {
		free(s->name);
		s->name = dc_xstrdup(fetch);
	}
	/* Headscale decodes these with encoding/json into tailcfg.DERPMap: strict JSON, the map itself. */
	const char *saved = switch_file(l, s->name);
	struct dc_error perr;
	struct dc_json *root = dc_json_parse_strict(text.text, text.len, &perr);
	if (!root) {
		s->state = DC_HS_BROKEN;
		s->why = dc_xasprintf("not JSON at %u:%u", perr.pos.line, perr.pos.col);
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "syntax", "", perr.pos, "%s", perr.what);
		dc_finding_hint(x, "Headscale cannot decode this map and refuses to start; serve a JSON DERP map here");
	} else {
		dc_derpmap_free(&s->map);
		dc_derpmap_decode(root, &s->map, l->f);
		if (s->map.shape != DC_SHAPE_DERPMAP) {
			struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "not-a-derpmap", "", root->pos,
							       "Headscale decodes a derp.urls map as the map itself ({\"Regions\": ...}), so it finds no regions in this %s",
							       s->map.shape == DC_SHAPE_POLICY ? "policy file" : "document");
			dc_finding_hint(x, "serve the DERP map itself at this URL, not a policy file");
			dc_derpmap_free(&s->map);
			s->map.path = dc_xstrdup("");
		}
		mark_file(&s->map, s->name);
		dc_json_free(root);
	}
	l->f->file = saved;
	dc_map_text_free(&text);
}

/* The folder of the config file, for relative derp.paths ("" when it has none). */
static char *config_dir(const struct dc_map_doc *doc)
{
	if (doc->text.source != DC_MAP_SOURCE_FILE || !doc->text.name)
		return dc_xstrdup("");
	const char *slash = strrchr(doc->text.name, '/');
	return slash ? dc_xstrndup(doc->text.name, (size_t)(slash - doc->text.name) + 1) : dc_xstrdup("");
}

static void read_path(struct loader *l, size_t i, const char *dir)
{
	const struct dc_hs_value *entry = &l->hs->cfg.paths.items[i];
	struct dc_hs_source *s = add_source(l->hs, DC_HS_PATH, i, entry);
	char *path = dc_xasprintf("derp.paths[%zu]", i);
	if (is_url(s->spec)) {
		s->name = dc_xstrdup(s->spec);
		s->state = DC_HS_SKIPPED;
		s->why = dc_xstrdup("a URL, not a file");
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-source-misplaced", path, entry->at,
						       "derp.paths lists YAML files on this machine; \"%s\" is a URL, which Headscale tries to open as a file and fails",
						       s->spec);
		dc_finding_hint(x, "move it to derp.urls (a JSON DERP map served over HTTP(S))");
		free(path);
		return;
	}
	if (s->spec[0] == '/' || !*dir) {
		s->name = dc_xstrdup(s->spec);
	} else {
		s->name = dc_xasprintf("%s%s", dir, s->spec);
	}
	if (s->spec[0] != '/' && *s->spec) {
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_WARNING, "headscale-relative-path", path, entry->at,
						       "Headscale opens \"%s\" relative to the folder it runs in, not to the config's folder; derpcheck read %s",
						       s->spec, s->name);
		dc_finding_hint(x, "write the absolute path, e.g. /etc/headscale/%s", s->spec);
	}
	if (l->opts && l->opts->no_other_sources) {
		s->state = DC_HS_SKIPPED;
		s->why = dc_xstrdup("not read here");
		free(path);
		return;
	}
	struct dc_map_text text;
	struct dc_error err;
	if (!*s->spec || dc_map_read(s->name, NULL, &text, &err) < 0) {
		s->state = DC_HS_SKIPPED;
		s->why = dc_xasprintf("cannot open: %s", *s->spec ? err.what : "empty path");
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-path-unreadable", path, entry->at,
						       "%s cannot be opened (%s); Headscale fails the same way and refuses to start",
						       *s->spec ? s->name : "an empty path", *s->spec ? err.what : "no file named");
		dc_finding_hint(x, "fix the path, or remove the entry from derp.paths");
		free(path);
		return;
	}
	free(path);
	const char *saved = switch_file(l, s->name);
	struct dc_yaml_doc y;
	struct dc_error perr;
	if (dc_yaml_parse(text.text, text.len, &y, &perr) < 0) {
		s->state = DC_HS_BROKEN;
		s->why = dc_xasprintf("YAML error at %u:%u", perr.pos.line, perr.pos.col);
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, strstr(perr.what, "a tab character") ? "yaml-tab" : "syntax",
						       "", perr.pos, "%s", perr.what);
		dc_finding_hint(x, "%s", perr.hint[0] ? perr.hint : "fix the YAML at this position");
	} else {
		dc_map_yaml_findings(l->f, &y);
		dc_derpmap_free(&s->map);
		dc_derpmap_decode_as(y.root, DC_DIALECT_YAML, &s->map, l->f);
		mark_file(&s->map, s->name);
	}
	dc_yaml_doc_free(&y);
	l->f->file = saved;
	dc_map_text_free(&text);
}

/* ---- the embedded region (derp_server.go GenerateRegion) ----------------------------- */

/* net.SplitHostPort; *port is NULL when it fails (no port, or too many colons). */
static void split_host_port(const char *hostport, char **host, char **port)
{
	*host = NULL;
	*port = NULL;
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');
		if (end && end[1] == ':') {
			*host = dc_xstrndup(hostport + 1, (size_t)(end - hostport - 1));
			*port = dc_xstrdup(end + 2);
		}
		return;
	}
	const char *colon = strchr(hostport, ':');
	if (colon && !strchr(colon + 1, ':')) {
		*host = dc_xstrndup(hostport, (size_t)(colon - hostport));
		*port = dc_xstrdup(colon + 1);
	}
}

/* strconv.Atoi. */
static int go_atoi(const char *s, long long *out)
{
	int64_t v;
	if (dc_parse_go_int(s, &v) < 0)
		return -1;
	*out = v;
	return 0;
}

/* A field of the embedded region taken from a config value: present, at the value's position. */
static void from_value(uint32_t *present, struct dc_srcpos *field_at, unsigned field, const struct dc_hs_value *v)
{
	if (!v->set)
		return;
	*present |= 1u << field;
	field_at[field] = v->at;
}

static void build_embedded(struct loader *l)
{
	struct dc_headscale *hs = l->hs;
	const struct dc_hs_config *c = &hs->cfg;
	if (!c->enabled.boolean || (c->auto_add.set && !c->auto_add.boolean))
		return;
	const char *url = c->server_url.string ? c->server_url.string : "";
	const char *sep = strstr(url, "://");
	if (!sep) {
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-server-url-invalid", "server_url",
						       c->server_url.set ? c->server_url.at : c->derp_at,
						       "server_url \"%s\" has no http:// or https://; Headscale refuses to start, and its DERP region would have no host",
						       url);
		dc_finding_hint(x, "write server_url: https://headscale.example.com (the name clients reach Headscale at)");
		return;
	}
	if (c->stun_listen_addr.string == NULL || !*c->stun_listen_addr.string)
		return; /* Headscale refuses to start: the rules report it (headscale-stun-listen-missing) */
	char *stun_host, *stun_port;
	long long stun = 0;
	split_host_port(c->stun_listen_addr.string, &stun_host, &stun_port);
	if (!stun_port || go_atoi(stun_port, &stun) < 0) {
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-stun-listen-invalid",
						       "derp.server.stun_listen_addr", c->stun_listen_addr.at,
						       "stun_listen_addr \"%s\" is not HOST:PORT; Headscale cannot listen for STUN, and the region it builds is empty (ID 0, no nodes)",
						       c->stun_listen_addr.string);
		dc_finding_hint(x, "write stun_listen_addr: \"0.0.0.0:3478\"");
		free(stun_host);
		free(stun_port);
		return;
	}
	free(stun_host);
	free(stun_port);
	/* url.Parse: the scheme is case-insensitive; the host is up to the path, query or fragment. */
	char scheme[16];
	snprintf(scheme, sizeof(scheme), "%.*s", (int)(sep - url), url);
	for (char *p = scheme; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	char *authority = dc_xstrndup(auth, alen);
	char *at = strrchr(authority, '@');
	char *hostport = dc_xstrdup(at ? at + 1 : authority);
	free(authority);
	char *host, *port;
	long long derp_port;
	split_host_port(hostport, &host, &port);
	if (!port) { /* no port: 443 for https, 80 for anything else (derp_server.go) */
		host = dc_xstrdup(hostport);
		derp_port = strcmp(scheme, "https") == 0 ? 443 : 80;
	} else if (go_atoi(port, &derp_port) < 0) {
		struct dc_finding *x = dc_findings_add(l->f, DC_SEV_ERROR, "headscale-server-url-invalid", "server_url",
						       c->server_url.at,
						       "the port \"%s\" in server_url is not a number; Headscale's embedded region comes out empty (ID 0, no nodes)",
						       port);
		dc_finding_hint(x, "write server_url: %s://%s:443 (or leave the port out)", scheme, host);
		free(host);
		free(port);
		free(hostport);
		return;
	}
	free(port);
	free(hostport);

	struct dc_hs_source *s = add_source(hs, DC_HS_EMBEDDED, 0, NULL);
	s->name = dc_xstrdup(l->f->file ? l->f->file : "");
	s->spec = dc_xstrdup("derp.server");
	s->at = c->server_at;
	hs->embedded = true;
	hs->embedded_source = hs->source_count - 1;

	struct dc_derpmap *m = &s->map;
	m->regions = dc_xcalloc(1, sizeof(*m->regions));
	m->region_count = 1;
	m->has_regions = true;
	struct dc_derp_region *r = &m->regions[0];
	r->id = r->region_id = c->region_id.number;
	r->code = dc_xstrdup(c->region_code.string ? c->region_code.string : "");
	r->name = dc_xstrdup(c->region_name.string ? c->region_name.string : "");
	r->path = dc_xstrdup("derp.server");
	r->dialect = DC_DIALECT_HEADSCALE;
	r->file = s->name;
	r->at = r->key_at = c->server_at;
	if (c->region_id.set)
		r->key_at = c->region_id.at;
	from_value(&r->present, r->field_at, DC_REGION_REGIONID, &c->region_id);
	from_value(&r->present, r->field_at, DC_REGION_CODE, &c->region_code);
	from_value(&r->present, r->field_at, DC_REGION_NAME, &c->region_name);
	r->present |= 1u << DC_REGION_NODES;
	r->field_at[DC_REGION_NODES] = c->server_at;
	r->nodes = dc_xcalloc(1, sizeof(*r->nodes));
	r->node_count = 1;
	struct dc_derp_node *n = &r->nodes[0];
	n->name = dc_xasprintf("%lld", (long long)r->id);
	n->region_id = r->id;
	n->host_name = host;
	n->derp_port = derp_port;
	n->stun_port = stun;
	n->ipv4 = dc_xstrdup(c->ipv4.string ? c->ipv4.string : "");
	n->ipv6 = dc_xstrdup(c->ipv6.string ? c->ipv6.string : "");
	n->cert_name = dc_xstrdup("");
	n->stun_test_ip = dc_xstrdup("");
	n->path = dc_xstrdup("derp.server");
	n->at = c->server_at;
	n->present = 1u << DC_NODE_NAME | 1u << DC_NODE_REGIONID | 1u << DC_NODE_HOSTNAME | 1u << DC_NODE_DERPPORT |
		     1u << DC_NODE_STUNPORT;
	n->field_at[DC_NODE_NAME] = n->field_at[DC_NODE_REGIONID] = c->region_id.set ? c->region_id.at : c->server_at;
	n->field_at[DC_NODE_HOSTNAME] = n->field_at[DC_NODE_DERPPORT] = c->server_url.at;
	n->field_at[DC_NODE_STUNPORT] = c->stun_listen_addr.at;
	from_value(&n->present, n->field_at, DC_NODE_IPV4, &c->ipv4);
	from_value(&n->present, n->field_at, DC_NODE_IPV6, &c->ipv6);
}

/* ---- the merge (derp.go mergeDERPMaps, then app.go's embedded region) ----------------- */

static void add_origin(struct dc_headscale *hs, int64_t id, size_t src)
{
	hs->origin_ids = dc_xrealloc(hs->origin_ids, (hs->origin_count + 1) * sizeof(*hs->origin_ids));
	hs->origin_src = dc_xrealloc(hs->origin_src, (hs->origin_count + 1) * sizeof(*hs->origin_src));
	hs->origin_ids[hs->origin_count] = id;
	hs->origin_src[hs->origin_count++] = src;
}

static size_t *origin_of(struct dc_headscale *hs, int64_t id)
{
	for (size_t i = 0; i < hs->origin_count; i++)
		if (hs->origin_ids[i] == id)
			return &hs->origin_src[i];
	return NULL;
}

static int compare_ids(const void *a, const void *b)
{
	const struct dc_derp_region *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* mergeDERPMaps: regions left null are deleted from the merged map. */
static void drop_removed(struct dc_headscale *hs, struct dc_derpmap *out)
{
	for (size_t k = 0; k < out->region_count;) {
		if (!out->regions[k].removed) {
			k++;
			continue;
		}
		for (size_t i = 0; i < hs->origin_count; i++)
			if (hs->origin_ids[i] == out->regions[k].id) {
				hs->origin_ids[i] = hs->origin_ids[hs->origin_count - 1];
				hs->origin_src[i] = hs->origin_src[--hs->origin_count];
				break;
			}
		dc_derp_region_free(&out->regions[k]);
		out->regions[k] = out->regions[--out->region_count];
	}
}

static void merge_sources(struct dc_headscale *hs, struct dc_derpmap *out)
{
	size_t cap = 0;
	for (size_t s = 0; s < hs->source_count; s++)
		cap += hs->sources[s].map.region_count;
	out->regions = dc_xcalloc(cap + 1, sizeof(*out->regions));
	for (size_t s = 0; s < hs->source_count; s++) {
		const struct dc_derpmap *m = &hs->sources[s].map;
		for (size_t i = 0; i < m->region_count; i++) {
			const struct dc_derp_region *r = &m->regions[i];
			struct dc_derp_region *slot = NULL;
			for (size_t k = 0; k < out->region_count; k++)
				if (out->regions[k].id == r->id)
					slot = &out->regions[k];
			if (slot) {
				size_t *o = origin_of(hs, r->id);
				hs->replaced = dc_xrealloc(hs->replaced, (hs->replaced_count + 1) * sizeof(*hs->replaced));
				hs->replaced[hs->replaced_count++] = (struct dc_hs_replacement){r->id, *o, s, slot->key_at};
				*o = s;
				dc_derp_region_free(slot);
			} else {
				slot = &out->regions[out->region_count++];
				add_origin(hs, r->id, s);
			}
			dc_derp_region_clone(r, slot);
		}
		/* mergeDERPMaps deletes the regions left null before the embedded region is added. */
		if (s + 1 < hs->source_count && hs->sources[s + 1].kind == DC_HS_EMBEDDED)
			drop_removed(hs, out);
	}
	drop_removed(hs, out);
	qsort(out->regions, out->region_count, sizeof(*out->regions), compare_ids);
}

int dc_headscale_load(struct dc_map_doc *doc, const struct dc_json *root, const struct dc_fetch_opts *opts)
{
	struct dc_headscale *hs = dc_xcalloc(1, sizeof(*hs));
	doc->headscale = hs;
	hs->config_name = dc_xstrdup(doc->text.name ? doc->text.name : "");
	struct loader l = {.doc = doc, .hs = hs, .opts = opts, .f = &doc->findings};
	memset(&doc->map, 0, sizeof(doc->map));
	doc->map.shape = DC_SHAPE_HEADSCALE;
	doc->map.dialect = DC_DIALECT_HEADSCALE;
	doc->map.path = dc_xstrdup("");
	if (!root || root->type != DC_JSON_OBJECT) {
		struct dc_srcpos at = root ? root->pos : (struct dc_srcpos){1, 1};
		struct dc_finding *x = dc_findings_add(l.f, DC_SEV_ERROR, "not-a-derpmap", "", at,
						       "expected Headscale's config (a mapping with server_url: and derp:), found %s",
						       root ? dc_json_type_name(root->type) : "an empty document");
		dc_finding_hint(x, "give Headscale's config.yaml, usually /etc/headscale/config.yaml");
		return -1;
	}
	read_section(&l, &sections[0], root);
	/* viper's defaults (config.go LoadConfig) for what the file leaves out. */
	if (!hs->cfg.verify_clients.set)
		hs->cfg.verify_clients.boolean = true;
	if (!hs->cfg.auto_add.set)
		hs->cfg.auto_add.boolean = true;

	char *dir = config_dir(doc);
	for (size_t i = 0; i < hs->cfg.urls.count; i++)
		read_url(&l, i);
	for (size_t i = 0; i < hs->cfg.paths.count; i++)
		read_path(&l, i, dir);
	free(dir);
	build_embedded(&l);

	merge_sources(hs, &doc->map);
	/* mergeDERPMaps builds a fresh map: OmitDefaultRegions is always false. */
	doc->map.omit_default_regions = false;
	doc->map.has_regions = true;
	doc->map.at = hs->cfg.derp_at.line ? hs->cfg.derp_at : root->pos;
	return 0;
}

void dc_headscale_free(struct dc_headscale *hs)
{
	if (!hs)
		return;
	struct dc_hs_value *values[] = {
		&hs->cfg.server_url, &hs->cfg.enabled, &hs->cfg.region_id, &hs->cfg.region_code, &hs->cfg.region_name,
		&hs->cfg.verify_clients, &hs->cfg.stun_listen_addr, &hs->cfg.private_key_path, &hs->cfg.auto_add,
		&hs->cfg.ipv4, &hs->cfg.ipv6, &hs->cfg.auto_update, &hs->cfg.update_frequency, &hs->cfg.base_domain,
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(values); i++) {
		free(values[i]->text);
		free(values[i]->string);
	}
	struct dc_hs_list *lists[] = {&hs->cfg.urls, &hs->cfg.paths};
	for (size_t i = 0; i < DC_ARRAY_LEN(lists); i++) {
		for (size_t k = 0; k < lists[i]->count; k++) {
			free(lists[i]->items[k].text);
			free(lists[i]->items[k].string);
		}
		free(lists[i]->items);
	}
	for (size_t i = 0; i < hs->source_count; i++) {
		struct dc_hs_source *s = &hs->sources[i];
		dc_derpmap_free(&s->map);
		free(s->spec);
		free(s->name);
		free(s->why);
	}
	free(hs->sources);
	free(hs->replaced);
	free(hs->origin_ids);
	free(hs->origin_src);
	free(hs->config_name);
	memset(hs, 0, sizeof(*hs));
}

const struct dc_hs_source *dc_headscale_region_source(const struct dc_headscale *hs, int64_t id)
{
	for (size_t i = 0; i < hs->origin_count; i++)
		if (hs->origin_ids[i] == id)
			return &hs->sources[hs->origin_src[i]];
	return NULL;
}

static void describe_source(struct dc_buf *b, const struct dc_hs_source *s)
{
	switch (s->state) {
	case DC_HS_READ:
		dc_buf_printf(b, "%s (%zu %s)", s->name, s->map.region_count, s->map.region_count == 1 ? "region" : "regions");
		break;
	case DC_HS_SNAPSHOT:
		dc_buf_printf(b, "%s as the embedded snapshot of %s (%s)", s->spec, DC_MAP_EMBEDDED_DATE, s->why);
		break;
	case DC_HS_SKIPPED:
		dc_buf_printf(b, "%s skipped (%s)", s->name ? s->name : s->spec, s->why);
		break;
	case DC_HS_BROKEN:
		dc_buf_printf(b, "%s unusable (%s)", s->name, s->why);
		break;
	}
}

char *dc_headscale_describe(const struct dc_headscale *hs)
{
	struct dc_buf b = {0};
	for (int kind = DC_HS_URL; kind <= DC_HS_PATH; kind++) {
		size_t n = 0;
		dc_buf_printf(&b, "%s%s", kind == DC_HS_URL ? "" : "; ", kind == DC_HS_URL ? "urls " : "paths ");
		for (size_t i = 0; i < hs->source_count; i++)
			if ((int)hs->sources[i].kind == kind) {
				if (n++)
					dc_buf_printf(&b, ", ");
				describe_source(&b, &hs->sources[i]);
			}
		if (!n)
			dc_buf_printf(&b, "none");
	}
	const struct dc_hs_config *c = &hs->cfg;
	if (hs->embedded) {
		const struct dc_derp_region *r = &hs->sources[hs->embedded_source].map.regions[0];
		dc_buf_printf(&b, "; embedded region %lld from server_url", (long long)r->id);
		for (size_t i = 0; i < hs->replaced_count; i++)
			if (hs->replaced[i].winner == hs->embedded_source)
				dc_buf_printf(&b, " (replacing the region from %s)", hs->sources[hs->replaced[i].loser].name);
	} else if (!c->enabled.boolean) {
		dc_buf_printf(&b, "; no embedded region (derp.server.enabled is false)");
	} else if (!c->auto_add.boolean) {
		dc_buf_printf(&b, "; no embedded region (automatically_add_embedded_derp_region is false)");
	} else {
		dc_buf_printf(&b, "; no embedded region (Headscale cannot build it)");
	}
	return b.data;
}
