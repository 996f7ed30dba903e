#include "derpcheck/input/derpmap.h"
#include "derpcheck/input/yaml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How a JSON value is stored into a Go field. */
enum field_kind { KIND_STRING, KIND_INT, KIND_BOOL, KIND_FLOAT };

struct field_spec {
	const char *name; /* canonical Go/JSON name */
	const char *alt;  /* the camelCase spelling the public API uses, also not worth a warning */
	enum field_kind kind;
	size_t offset;
	/*
	 * The YAML key: yaml.v3 uses the lower-cased Go field name when a struct has no yaml
	 * tags, and tailcfg has none (tailcfg/derpmap.go), so Headscale's keys are these.
	 */
	const char *yaml;
	const char *headscale; /* the config.yaml key the embedded region takes it from, or NULL */
};

#define NODE_FIELD(id, nm, alt, kind, member, yaml, hs) \
	[id] = {nm, alt, kind, offsetof(struct dc_derp_node, member), yaml, hs}
static const struct field_spec node_fields[DC_NODE_NFIELDS] = {
	NODE_FIELD(DC_NODE_NAME, "Name", "name", KIND_STRING, name, "name", "derp.server.region_id"),
	NODE_FIELD(DC_NODE_REGIONID, "RegionID", "regionId", KIND_INT, region_id, "regionid", "derp.server.region_id"),
	NODE_FIELD(DC_NODE_HOSTNAME, "HostName", "hostName", KIND_STRING, host_name, "hostname", "server_url"),
	NODE_FIELD(DC_NODE_CERTNAME, "CertName", "certName", KIND_STRING, cert_name, "certname", NULL),
	NODE_FIELD(DC_NODE_IPV4, "IPv4", "ipv4", KIND_STRING, ipv4, "ipv4", "derp.server.ipv4"),
	NODE_FIELD(DC_NODE_IPV6, "IPv6", "ipv6", KIND_STRING, ipv6, "ipv6", "derp.server.ipv6"),
	NODE_FIELD(DC_NODE_STUNPORT, "STUNPort", "stunPort", KIND_INT, stun_port, "stunport", "derp.server.stun_listen_addr"),
	NODE_FIELD(DC_NODE_STUNONLY, "STUNOnly", "stunOnly", KIND_BOOL, stun_only, "stunonly", NULL),
	NODE_FIELD(DC_NODE_DERPPORT, "DERPPort", "derpPort", KIND_INT, derp_port, "derpport", "server_url"),
	NODE_FIELD(DC_NODE_INSECURE, "InsecureForTests", "insecureForTests", KIND_BOOL, insecure_for_tests, "insecurefortests", NULL),
	NODE_FIELD(DC_NODE_STUNTESTIP, "STUNTestIP", "stunTestIP", KIND_STRING, stun_test_ip, "stuntestip", NULL),
	NODE_FIELD(DC_NODE_CANPORT80, "CanPort80", "canPort80", KIND_BOOL, can_port80, "canport80", NULL),
};

#define REGION_FIELD(id, nm, alt, kind, member, yaml, hs) \
	[id] = {nm, alt, kind, offsetof(struct dc_derp_region, member), yaml, hs}
static const struct field_spec region_fields[DC_REGION_NFIELDS] = {
	REGION_FIELD(DC_REGION_REGIONID, "RegionID", "regionId", KIND_INT, region_id, "regionid", "derp.server.region_id"),
	REGION_FIELD(DC_REGION_CODE, "RegionCode", "regionCode", KIND_STRING, code, "regioncode", "derp.server.region_code"),
	REGION_FIELD(DC_REGION_NAME, "RegionName", "regionName", KIND_STRING, name, "regionname", "derp.server.region_name"),
	REGION_FIELD(DC_REGION_LATITUDE, "Latitude", "latitude", KIND_FLOAT, latitude, "latitude", NULL),
	REGION_FIELD(DC_REGION_LONGITUDE, "Longitude", "longitude", KIND_FLOAT, longitude, "longitude", NULL),
	REGION_FIELD(DC_REGION_AVOID, "Avoid", "avoid", KIND_BOOL, avoid, "avoid", NULL),
	REGION_FIELD(DC_REGION_NOMEASURE, "NoMeasureNoHome", "noMeasureNoHome", KIND_BOOL, no_measure_no_home, "nomeasurenohome", NULL),
	/* Nodes is an array; decoded by hand, listed here for name matching. */
	REGION_FIELD(DC_REGION_NODES, "Nodes", "nodes", KIND_STRING, nodes, "nodes", "derp.server"),
};

enum map_field { MAP_REGIONS, MAP_OMIT, MAP_HOMEPARAMS, MAP_NFIELDS };
static const struct field_spec map_fields[MAP_NFIELDS] = {
	[MAP_REGIONS] = {"Regions", "regions", KIND_STRING, 0, "regions", NULL},
	[MAP_OMIT] = {"omitDefaultRegions", "OmitDefaultRegions", KIND_BOOL, 0, "omitdefaultregions", NULL},
	[MAP_HOMEPARAMS] = {"HomeParams", "homeParams", KIND_STRING, 0, "homeparams", NULL},
};

const char *dc_node_field_name(enum dc_node_field f)
{
	return node_fields[f].name;
}

const char *dc_region_field_name(enum dc_region_field f)
{
	return region_fields[f].name;
}

static const char *spec_key(enum dc_map_dialect d, const struct field_spec *spec)
{
	if (d == DC_DIALECT_YAML)
		return spec->yaml;
	if (d == DC_DIALECT_HEADSCALE && spec->headscale)
		return spec->headscale;
	return spec->name;
}

const char *dc_node_field_key(enum dc_map_dialect d, enum dc_node_field f)
{
	return spec_key(d, &node_fields[f]);
}

const char *dc_region_field_key(enum dc_map_dialect d, enum dc_region_field f)
{
	return spec_key(d, &region_fields[f]);
}

const char *dc_map_regions_key(enum dc_map_dialect d)
{
	return spec_key(d, &map_fields[MAP_REGIONS]);
}

char *dc_field_member(enum dc_map_dialect d, const char *key, const char *value)
{
	if (d == DC_DIALECT_JSON)
		return dc_xasprintf("\"%s\": %s", key, value);
	/* YAML: the last part of a dotted config key, as it is written under its section */
	const char *dot = strrchr(key, '.');
	return dc_xasprintf("%s: %s", dot ? dot + 1 : key, value);
}

struct decoder {
	struct dc_findings *findings;
	enum dc_map_dialect dialect;
};

static bool yaml_dialect(const struct decoder *d)
{
	return d->dialect != DC_DIALECT_JSON;
}

static struct dc_finding *finding(struct decoder *d, enum dc_severity sev, const char *code,
				  const char *path, struct dc_srcpos pos, const char *fmt, ...) DC_PRINTF(6, 7);
static struct dc_finding *finding(struct decoder *d, enum dc_severity sev, const char *code,
				  const char *path, struct dc_srcpos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dc_findings_add(d->findings, sev, code, path, pos, "%s", msg);
}

static char *join_path(const char *base, const char *name)
{
	return *base ? dc_xasprintf("%s.%s", base, name) : dc_xstrdup(name);
}

/* Lower case without '_' and '-': RegionID, region_id and regionId all fold to "regionid". */
static void fold_key(const char *key, char *out, size_t n)
{
	size_t k = 0;
	for (const char *p = key; *p && k + 1 < n; p++)
		if (*p != '_' && *p != '-')
			out[k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	out[k] = '\0';
}

enum match { MATCH_NONE, MATCH_EXACT, MATCH_CASE, MATCH_IGNORED };

static int match_field_json(const struct field_spec *specs, size_t n, const char *key, bool *exact_case);

/*
 * Match a member name against a field table the way the dialect's Go decoder does.
 * encoding/json: an exact match wins, otherwise the first case-insensitive match
 * (MATCH_CASE). yaml.v3: only the exact lower-cased name (structmeta: FieldsMap[key]);
 * a spelling that folds to it is silently ignored by Headscale (MATCH_IGNORED).
 */
static enum match match_field(const struct decoder *d, const struct field_spec *specs, size_t n, const char *key,
			      int *index)
{
	if (yaml_dialect(d)) {
		char folded[64], want[64];
		fold_key(key, folded, sizeof(folded));
		for (size_t i = 0; i < n; i++)
			if (strcmp(specs[i].yaml, key) == 0) {
				*index = (int)i;
				return MATCH_EXACT;
			}
		for (size_t i = 0; i < n; i++) {
			fold_key(specs[i].yaml, want, sizeof(want));
			if (strcmp(want, folded) == 0) {
				*index = (int)i;
				return MATCH_IGNORED;
			}
		}
		return MATCH_NONE;
	}
	bool exact;
	int f = match_field_json(specs, n, key, &exact);
	*index = f;
	return f < 0 ? MATCH_NONE : exact ? MATCH_EXACT : MATCH_CASE;
}

static int match_field_json(const struct field_spec *specs, size_t n, const char *key, bool *exact_case)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(specs[i].name, key) == 0 || strcmp(specs[i].alt, key) == 0) {
			*exact_case = true;
			return (int)i;
		}
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(specs[i].name, key) == 0) {
			*exact_case = false;
			return (int)i;
		}
	return -1;
}

/* Secrets that must never be in a map (protocols.md §4.3 rule 10). */
static bool looks_like_mesh_key(const char *key)
{
	char folded[64];
	size_t n = 0;
	for (const char *p = key; *p && n + 1 < sizeof(folded); p++)
		if (*p != '-' && *p != '_')
			folded[n++] = (char)(*p | 0x20);
	folded[n] = '\0';
	return strcmp(folded, "meshkey") == 0 || strcmp(folded, "meshpsk") == 0;
}

/* Who ignores an unknown field, for messages. */
static const char *reader_name(const struct decoder *d)
{
	return yaml_dialect(d) ? "Headscale" : "Tailscale";
}

static void unknown_field(struct decoder *d, const struct field_spec *specs, size_t n,
			  const char *path, const struct dc_json *m, const char *what)
{
	char *p = join_path(path, m->key);
	if (looks_like_mesh_key(m->key)) {
		struct dc_finding *f = finding(d, DC_SEV_ERROR, "secret-in-map", p, m->key_pos,
					       "\"%s\" looks like derper's mesh key; the map is sent to every client", m->key);
		dc_finding_hint(f, "remove it from the map and rotate the key: derper reads it from --mesh-psk-file, never from the DERP map");
		free(p);
		return;
	}
	const char *names[16];
	for (size_t i = 0; i < n && i < DC_ARRAY_LEN(names); i++)
		names[i] = spec_key(d->dialect, &specs[i]);
	const char *guess = dc_closest(m->key, names, n < DC_ARRAY_LEN(names) ? n : DC_ARRAY_LEN(names));
	struct dc_finding *f = finding(d, DC_SEV_WARNING, "unknown-field", p, m->key_pos,
				       "unknown %s field \"%s\"; %s ignores it", what, m->key, reader_name(d));
	if (guess)
		dc_finding_hint(f, "did you mean \"%s\"?", guess);
	else {
		struct dc_buf b = {0};
		for (size_t i = 0; i < n; i++)
			dc_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
		dc_finding_hint(f, "%s fields are: %s", what, b.data);
		dc_buf_free(&b);
	}
	free(p);
}

static void noncanonical(struct decoder *d, const char *path, const struct dc_json *m, const char *canonical)
{
	char *p = join_path(path, canonical);
	struct dc_finding *f = finding(d, DC_SEV_WARNING, "noncanonical-case", p, m->key_pos,
				       "\"%s\" works (Tailscale matches field names case-insensitively) but is spelled \"%s\"",
				       m->key, canonical);
	dc_finding_hint(f, "write \"%s\" so other tools and readers recognise it", canonical);
	free(p);
}

/*
 * yaml.v3 matches keys exactly: RegionID, HostName or region_id in a derp.paths file are
 * silently ignored by Headscale (headscale#1418), so the field keeps its zero value.
 */
static void ignored_key(struct decoder *d, const char *path, const struct dc_json *m, const char *want)
{
	char *p = join_path(path, m->key);
	struct dc_finding *f = finding(d, DC_SEV_ERROR, "headscale-yaml-key-case", p, m->key_pos,
				       "Headscale ignores \"%s\": its YAML decoder (yaml.v3) matches keys exactly, and this field is \"%s\"",
				       m->key, want);
	bool scalar = m->type != DC_JSON_OBJECT && m->type != DC_JSON_ARRAY && m->text;
	if (scalar && m->style != DC_STYLE_QUOTED)
		dc_finding_hint(f, "write %s: %s", want, m->text);
	else
		dc_finding_hint(f, "rename \"%s\" to %s", m->key, want);
	free(p);
}

/*
 * Keys written twice. encoding/json keeps the last one silently (a warning); yaml.v3
 * refuses any mapping with a repeated key (decode.go: "mapping key already defined"),
 * so Headscale rejects the whole file (an error).
 */
static void duplicate_keys(struct decoder *d, const char *path, const struct dc_json *obj)
{
	bool yaml = yaml_dialect(d);
	for (size_t i = 1; i < obj->count; i++)
		for (size_t j = 0; j < i; j++)
			if (yaml ? strcmp(obj->items[i].key, obj->items[j].key) == 0
				 : strcasecmp(obj->items[i].key, obj->items[j].key) == 0) {
				char *p = join_path(path, obj->items[i].key);
				struct dc_finding *f;
				if (yaml)
					f = finding(d, DC_SEV_ERROR, "yaml-duplicate-key", p, obj->items[i].key_pos,
						    "\"%s\" is also set at %u:%u; Headscale's YAML decoder (yaml.v3) rejects a file with a repeated key",
						    obj->items[i].key, obj->items[j].key_pos.line, obj->items[j].key_pos.col);
				else
					f = finding(d, DC_SEV_WARNING, "duplicate-key", p, obj->items[i].key_pos,
						    "\"%s\" is also set at %u:%u; Tailscale uses only this last one",
						    obj->items[i].key, obj->items[j].key_pos.line, obj->items[j].key_pos.col);
				dc_finding_hint(f, "delete one of the two entries");
				free(p);
				break;
			}
}

static void type_error(struct decoder *d, const char *path, const struct dc_json *v, const char *want)
{
	char found[96];
	if (v->type == DC_JSON_STRING)
		snprintf(found, sizeof(found), "the string \"%.60s\"", v->text);
	else if (v->type == DC_JSON_NUMBER)
		snprintf(found, sizeof(found), "the number %.60s", v->text);
	else if (v->type == DC_JSON_BOOL)
		snprintf(found, sizeof(found), "%s", v->boolean ? "true" : "false");
	else
		snprintf(found, sizeof(found), "%s", v->type == DC_JSON_NULL ? "null" : v->type == DC_JSON_ARRAY ? "an array" : "an object");
	struct dc_finding *f = finding(d, DC_SEV_ERROR, "wrong-type", path, v->pos, "expected %s, found %s", want, found);
	long long ignored;
	const char *rejects = yaml_dialect(d) ? "Headscale's YAML decoder rejects the whole file"
					      : "Tailscale rejects the whole map";
	if (v->type == DC_JSON_STRING && strcmp(want, "an integer") == 0 &&
	    dc_parse_int(v->text, -9223372036854775807LL, 9223372036854775807LL, &ignored) == 0)
		dc_finding_hint(f, "write the number without quotes: %s%s%s", v->text,
				yaml_dialect(d) ? "; a quoted number is a string, and " : "", yaml_dialect(d) ? rejects : "");
	else if (v->type == DC_JSON_STRING && strcmp(want, "true or false") == 0)
		dc_finding_hint(f, "write true or false without quotes%s%s", yaml_dialect(d) ? "; otherwise " : "",
				yaml_dialect(d) ? rejects : "");
	else
		dc_finding_hint(f, "%s when a field has the wrong type; make it %s", rejects, want);
}

/* yaml.v3 reads these as booleans, but only into a bool field (decode.go, YAML 1.1 compatibility). */
static const char *const yaml11_true[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"};
static const char *const yaml11_false[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"};

static int yaml11_bool(const char *s)
{
	for (size_t i = 0; i < DC_ARRAY_LEN(yaml11_true); i++)
		if (strcmp(s, yaml11_true[i]) == 0)
			return 1;
	for (size_t i = 0; i < DC_ARRAY_LEN(yaml11_false); i++)
		if (strcmp(s, yaml11_false[i]) == 0)
			return 0;
	return -1;
}

/*
 * An integer from a YAML plain scalar, as yaml.v3 stores it into a Go int: any !!int
 * that fits, or a !!float truncated toward zero. Spellings that change the value a
 * reader expects (0443 is octal 291, 3478.9 is 3478) are named.
 */
static int decode_int_yaml(struct decoder *d, const char *path, const struct dc_json *v, int64_t *out)
{
	struct dc_yaml_number num;
	if (v->type != DC_JSON_NUMBER || dc_yaml_number(v->text, &num) < 0) {
		type_error(d, path, v, "an integer");
		return -1;
	}
	if (num.is_unsigned || (!num.is_int && !(fabs(num.f) < 9223372036854775808.0))) {
		struct dc_finding *f = finding(d, DC_SEV_ERROR, "out-of-range", path, v->pos,
					       "%s does not fit in Go's int; Headscale's YAML decoder rejects the file", v->text);
		dc_finding_hint(f, "use a value between -9223372036854775808 and 9223372036854775807");
		return -1;
	}
	int64_t value = num.is_int ? num.i : (int64_t)num.f;
	struct dc_finding *f = NULL;
	switch (num.form) {
	case DC_YAML_LEGACY_OCTAL:
		f = finding(d, DC_SEV_ERROR, "yaml-implicit-type", path, v->pos,
			    "%s starts with 0, so YAML reads it as octal: Headscale uses %lld", v->text, (long long)value);
		dc_finding_hint(f, "drop the leading zero if you mean the decimal number");
		break;
	case DC_YAML_HEX:
	case DC_YAML_OCTAL:
	case DC_YAML_BINARY:
		f = finding(d, DC_SEV_WARNING, "yaml-implicit-type", path, v->pos,
			    "%s is read as %lld", v->text, (long long)value);
		dc_finding_hint(f, "write %lld so the file says what Headscale uses", (long long)value);
		break;
	case DC_YAML_FLOAT:
		if ((double)value != num.f) {
			f = finding(d, DC_SEV_ERROR, "yaml-implicit-type", path, v->pos,
				    "%s is not a whole number; Headscale's YAML decoder cuts it to %lld", v->text, (long long)value);
			dc_finding_hint(f, "write the whole number you mean");
		} else {
			f = finding(d, DC_SEV_WARNING, "yaml-implicit-type", path, v->pos,
				    "%s is a YAML float; Headscale reads it as %lld", v->text, (long long)value);
			dc_finding_hint(f, "write %lld", (long long)value);
		}
		break;
	case DC_YAML_DECIMAL:
		break;
	}
	*out = value;
	return 0;
}

/* Go's int: an integer literal (no fraction, no exponent) that fits in 64 bits. */
static int decode_int(struct decoder *d, const char *path, const struct dc_json *v, int64_t *out)
{
	if (yaml_dialect(d))
		return decode_int_yaml(d, path, v, out);
	if (v->type != DC_JSON_NUMBER) {
		type_error(d, path, v, "an integer");
		return -1;
	}
	if (strpbrk(v->text, ".eE")) {
		struct dc_finding *f = finding(d, DC_SEV_ERROR, "not-integer", path, v->pos,
					       "%s is not an integer", v->text);
		dc_finding_hint(f, "write a whole number without a fraction or exponent");
		return -1;
	}
	errno = 0;
	char *end;
	long long x = strtoll(v->text, &end, 10);
	if (errno == ERANGE || *end) {
		struct dc_finding *f = finding(d, DC_SEV_ERROR, "out-of-range", path, v->pos,
					       "%s does not fit in a 64-bit integer", v->text);
		dc_finding_hint(f, "use a value between -9223372036854775808 and 9223372036854775807");
		return -1;
	}
	*out = x;
	return 0;
}

static int decode_bool(struct decoder *d, const char *path, const struct dc_json *v, bool *out)
{
	if (v->type == DC_JSON_BOOL) {
		*out = v->boolean;
		return 0;
	}
	int b = yaml_dialect(d) && v->type == DC_JSON_STRING ? yaml11_bool(v->text) : -1;
	if (b < 0) {
		type_error(d, path, v, "true or false");
		return -1;
	}
	struct dc_finding *f = finding(d, DC_SEV_WARNING, "yaml-implicit-type", path, v->pos,
				       "Headscale reads %s as %s (yaml.v3 accepts YAML 1.1 booleans for a boolean field), but other YAML readers see the string \"%s\"",
				       v->text, b ? "true" : "false", v->text);
	dc_finding_hint(f, "write %s", b ? "true" : "false");
	*out = b == 1;
	return 0;
}

/* The text a string field gets: yaml.v3 stores any scalar's text as written. */
static const char *string_value(const struct decoder *d, const struct dc_json *v)
{
	if (v->type == DC_JSON_STRING)
		return v->text;
	if (yaml_dialect(d) && (v->type == DC_JSON_NUMBER || v->type == DC_JSON_BOOL))
		return v->text;
	return NULL;
}

static int decode_field(struct decoder *d, const struct field_spec *spec, void *base, const char *path,
			const struct dc_json *v)
{
	char *where = (char *)base + spec->offset;
	if (v->type == DC_JSON_NULL) /* Go leaves the field unchanged */
		return 0;
	switch (spec->kind) {
	case KIND_STRING: {
		const char *text = string_value(d, v);
		if (!text) {
			type_error(d, path, v, "a string");
			return -1;
		}
		if (strlen(text) != v->text_len) {
			finding(d, DC_SEV_ERROR, "wrong-type", path, v->pos, "string contains a NUL character (\\u0000)");
			return -1;
		}
		free(*(char **)where);
		*(char **)where = dc_xstrdup(text);
		return 0;
	}
	case KIND_INT:
		return decode_int(d, path, v, (int64_t *)where);
	case KIND_BOOL:
		return decode_bool(d, path, v, (bool *)where);
	case KIND_FLOAT: {
		struct dc_yaml_number num;
		if (v->type != DC_JSON_NUMBER || (yaml_dialect(d) && dc_yaml_number(v->text, &num) < 0)) {
			type_error(d, path, v, "a number");
			return -1;
		}
		*(double *)where = yaml_dialect(d) ? num.f : strtod(v->text, NULL);
		if (!isfinite(*(double *)where)) {
			*(double *)where = 0;
			struct dc_finding *f = finding(d, DC_SEV_ERROR, "out-of-range", path, v->pos,
						       "%s is too large for a 64-bit float", v->text);
			dc_finding_hint(f, "%s; write an ordinary number",
					yaml_dialect(d) ? "Headscale sends a map clients cannot read" : "Tailscale rejects the map");
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

/*
 * Match one member against a field table and report spelling problems. Returns the
 * field index, or -1 when the member is not a field (unknown, or ignored by yaml.v3).
 */
static int member_field(struct decoder *d, const struct field_spec *specs, size_t n, const char *path,
			const struct dc_json *m, const char *what)
{
	int f;
	switch (match_field(d, specs, n, m->key, &f)) {
	case MATCH_NONE:
		unknown_field(d, specs, n, path, m, what);
		return -1;
	case MATCH_IGNORED:
		ignored_key(d, path, m, specs[f].yaml);
		return -1;
	case MATCH_CASE:
		noncanonical(d, path, m, specs[f].name);
		return f;
	case MATCH_EXACT:
		return f;
	}
	return -1;
}

static void free_node(struct dc_derp_node *n);
static void free_region(struct dc_derp_region *r);
static void clone_region(const struct dc_derp_region *src, struct dc_derp_region *dst);

static char *empty_if_null(char *s)
{
	return s ? s : dc_xstrdup("");
}

static void decode_node(struct decoder *d, const char *path, const struct dc_json *v, struct dc_derp_node *n)
{
	n->path = dc_xstrdup(path);
	n->at = v->pos;
	if (v->type != DC_JSON_OBJECT) {
		if (v->type != DC_JSON_NULL)
			type_error(d, path, v, "a node object");
	} else {
		duplicate_keys(d, path, v);
		for (size_t i = 0; i < v->count; i++) {
			const struct dc_json *m = &v->items[i];
			int f = member_field(d, node_fields, DC_NODE_NFIELDS, path, m, "node");
			if (f < 0)
				continue;
			char *p = join_path(path, spec_key(d->dialect, &node_fields[f]));
			if (decode_field(d, &node_fields[f], n, p, m) == 0 && m->type != DC_JSON_NULL) {
				n->present |= 1u << f;
				n->field_at[f] = m->pos;
			}
			free(p);
		}
	}
	n->name = empty_if_null(n->name);
	n->host_name = empty_if_null(n->host_name);
	n->cert_name = empty_if_null(n->cert_name);
	n->ipv4 = empty_if_null(n->ipv4);
	n->ipv6 = empty_if_null(n->ipv6);
	n->stun_test_ip = empty_if_null(n->stun_test_ip);
}

static void decode_region(struct decoder *d, const char *path, const struct dc_json *v, struct dc_derp_region *r)
{
	r->path = dc_xstrdup(path);
	r->at = v->pos;
	r->dialect = d->dialect;
	duplicate_keys(d, path, v);
	for (size_t i = 0; i < v->count; i++) {
		const struct dc_json *m = &v->items[i];
		int f = member_field(d, region_fields, DC_REGION_NFIELDS, path, m, "region");
		if (f < 0)
			continue;
		char *p = join_path(path, spec_key(d->dialect, &region_fields[f]));
		if (f == DC_REGION_NODES) {
			if (m->type == DC_JSON_ARRAY) {
				for (size_t k = 0; k < r->node_count; k++) /* a repeated "Nodes" replaces, as in Go */
					free_node(&r->nodes[k]);
				free(r->nodes);
				r->nodes = dc_xcalloc(m->count, sizeof(*r->nodes));
				r->node_count = m->count;
				for (size_t k = 0; k < m->count; k++) {
					char *np = dc_xasprintf("%s[%zu]", p, k);
					decode_node(d, np, &m->items[k], &r->nodes[k]);
					free(np);
				}
				r->present |= 1u << f;
				r->field_at[f] = m->pos;
			} else if (m->type != DC_JSON_NULL) {
				type_error(d, p, m, "an array of nodes");
			}
		} else if (decode_field(d, &region_fields[f], r, p, m) == 0 && m->type != DC_JSON_NULL) {
			r->present |= 1u << f;
			r->field_at[f] = m->pos;
		}
		free(p);
	}
}

/* Go decodes map[int]... keys with strconv.ParseInt: optional sign, decimal digits. */
static int parse_region_key(const char *key, int64_t *out)
{
	return dc_parse_go_int(key, out);
}

/*
 * A region ID from a YAML key: yaml.v3 decodes map[int] keys like any int, so only a
 * plain number works (a quoted "900" makes it reject the file) and its spelling counts.
 */
static int region_key_yaml(struct decoder *d, const char *path, const struct dc_json *m, int64_t *out)
{
	struct dc_json key = {.type = DC_JSON_STRING, .pos = m->key_pos, .text = m->key,
			      .text_len = strlen(m->key), .style = m->key_style};
	struct dc_yaml_number num;
	if (m->key_style == DC_STYLE_PLAIN && dc_yaml_number(m->key, &num) == 0)
		key.type = DC_JSON_NUMBER;
	if (key.type != DC_JSON_NUMBER) {
		struct dc_finding *f = finding(d, DC_SEV_ERROR, "region-key-not-integer", path, m->key_pos,
					       "region key %s%s%s is not a number to Headscale's YAML decoder, which rejects the file",
					       m->key_style == DC_STYLE_QUOTED ? "\"" : "", m->key,
					       m->key_style == DC_STYLE_QUOTED ? "\"" : "");
		long long ignored;
		if (dc_parse_int(m->key, 1, INT64_MAX, &ignored) == 0)
			dc_finding_hint(f, "write the region ID without quotes: %s:", m->key);
		else
			dc_finding_hint(f, "keys of regions are region IDs, e.g. 900:");
		return -1;
	}
	return decode_int_yaml(d, path, &key, out);
}

static int compare_regions(const void *a, const void *b)
{
	const struct dc_derp_region *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void decode_regions(struct decoder *d, const char *path, const struct dc_json *v, struct dc_derpmap *map)
{
	if (v->type == DC_JSON_NULL)
		return;
	if (v->type != DC_JSON_OBJECT) {
		type_error(d, path, v, "an object of regions keyed by region ID");
		return;
	}
	duplicate_keys(d, path, v);
	/* A second "Regions" adds to the first: Go decodes into the existing map. */
	map->regions = dc_xrealloc(map->regions, (map->region_count + v->count) * sizeof(*map->regions));
	for (size_t i = 0; i < v->count; i++) {
		const struct dc_json *m = &v->items[i];
		char *p = join_path(path, m->key);
		int64_t id;
		if (yaml_dialect(d)) {
			if (region_key_yaml(d, p, m, &id) < 0) {
				free(p);
				continue;
			}
		} else if (parse_region_key(m->key, &id) < 0) {
			struct dc_finding *f = finding(d, DC_SEV_ERROR, "region-key-not-integer", p, m->key_pos,
						       "region key \"%s\" is not a region ID", m->key);
			dc_finding_hint(f, "keys of Regions are region IDs written as strings, e.g. \"900\"");
			free(p);
			continue;
		}
		/* A later duplicate replaces an earlier one, as a Go map would. */
		struct dc_derp_region *r = NULL;
		for (size_t k = 0; k < map->region_count; k++)
			if (map->regions[k].id == id) {
				r = &map->regions[k];
				/* "900" and "0900" are the same key to Go; identical text is reported by duplicate_keys. */
				bool same_text = false;
				for (size_t j = 0; j < i; j++)
					same_text |= strcmp(v->items[j].key, m->key) == 0;
				if (!same_text) {
					struct dc_finding *f = finding(d, DC_SEV_WARNING, "duplicate-key", p, m->key_pos,
								       "region %lld is also defined at %u:%u; %s uses only this last one",
								       (long long)id, r->key_at.line, r->key_at.col, reader_name(d));
					dc_finding_hint(f, "delete one of the two regions");
				}
				free_region(r);
				memset(r, 0, sizeof(*r));
				break;
			}
		if (!r) {
			r = &map->regions[map->region_count++];
			memset(r, 0, sizeof(*r));
		}
		r->id = id;
		r->key_at = m->key_pos;
		r->dialect = d->dialect;
		if (m->type == DC_JSON_NULL) {
			r->removed = true;
			r->path = dc_xstrdup(p);
			r->at = m->pos;
		} else if (m->type == DC_JSON_OBJECT) {
			decode_region(d, p, m, r);
		} else {
			type_error(d, p, m, "a region object or null");
			r->removed = true; /* keep the ID so rules don't report it missing */
			r->path = dc_xstrdup(p);
			r->at = m->pos;
		}
		r->code = empty_if_null(r->code);
		r->name = empty_if_null(r->name);
		free(p);
	}
	qsort(map->regions, map->region_count, sizeof(*map->regions), compare_regions);
}

static void decode_home_params(struct decoder *d, const char *path, const struct dc_json *v, struct dc_derpmap *map)
{
	if (v->type == DC_JSON_NULL)
		return;
	if (v->type != DC_JSON_OBJECT) {
		type_error(d, path, v, "an object");
		return;
	}
	static const struct field_spec hp_fields[] = {{"RegionScore", "regionScore", KIND_FLOAT, 0, "regionscore", NULL}};
	duplicate_keys(d, path, v);
	for (size_t i = 0; i < v->count; i++) {
		const struct dc_json *m = &v->items[i];
		if (member_field(d, hp_fields, 1, path, m, "HomeParams") < 0)
			continue;
		char *sp = join_path(path, spec_key(d->dialect, &hp_fields[0]));
		if (m->type == DC_JSON_OBJECT) {
			map->scores = dc_xrealloc(map->scores, (map->score_count + m->count + 1) * sizeof(*map->scores));
			for (size_t k = 0; k < m->count; k++) {
				const struct dc_json *s = &m->items[k];
				char *p = join_path(sp, s->key);
				int64_t id;
				double score = 0;
				if (yaml_dialect(d) ? region_key_yaml(d, p, s, &id) < 0 : parse_region_key(s->key, &id) < 0) {
					if (!yaml_dialect(d))
						finding(d, DC_SEV_ERROR, "region-key-not-integer", p, s->key_pos,
							"RegionScore key \"%s\" is not a region ID", s->key);
				} else if (s->type == DC_JSON_NULL) {
					/* null leaves the map entry at Go's zero value */
				} else {
					static const struct field_spec score_spec = {"", "", KIND_FLOAT, 0, "", NULL};
					if (decode_field(d, &score_spec, &score, p, s) == 0) {
						struct dc_region_score *rs = &map->scores[map->score_count++];
						rs->region_id = id;
						rs->score = score;
						rs->at = s->pos;
					}
				}
				free(p);
			}
		} else if (m->type != DC_JSON_NULL) {
			type_error(d, sp, m, "an object of region ID to score");
		}
		free(sp);
	}
}

static void decode_map_object(struct decoder *d, const char *path, const struct dc_json *v, struct dc_derpmap *map)
{
	map->at = v->pos;
	duplicate_keys(d, path, v);
	for (size_t i = 0; i < v->count; i++) {
		const struct dc_json *m = &v->items[i];
		int f = member_field(d, map_fields, MAP_NFIELDS, path, m, "DERP map");
		if (f < 0)
			continue;
		char *p = join_path(path, spec_key(d->dialect, &map_fields[f]));
		switch ((enum map_field)f) {
		case MAP_REGIONS:
			map->has_regions = m->type != DC_JSON_NULL;
			decode_regions(d, p, m, map);
			break;
		case MAP_OMIT: {
			bool omit = false;
			if (m->type != DC_JSON_NULL && decode_bool(d, p, m, &omit) == 0) {
				map->omit_default_regions = omit;
				map->omit_at = m->pos;
			}
			break;
		}
		case MAP_HOMEPARAMS:
			decode_home_params(d, p, m, map);
			break;
		case MAP_NFIELDS:
			break;
		}
		free(p);
	}
}

static const struct dc_json *member_ci(const struct dc_json *obj, const char *name)
{
	const struct dc_json *found = NULL;
	for (size_t i = 0; i < obj->count; i++)
		if (strcasecmp(obj->items[i].key, name) == 0)
			found = &obj->items[i]; /* last one wins, as in Go */
	return found;
}

/* Top-level keys of a tailnet policy file (so a policy without derpMap is recognised). */
static const char *const policy_keys[] = {
	"acls", "grants", "groups", "hosts", "tagOwners", "ssh", "nodeAttrs",
	"autoApprovers", "tests", "sshTests", "postures", "ipsets", "randomizeClientPort",
	"disableIPv4", "OneCGNATRoute", "defaultSrcPosture", "attrConfig", "derpMap",
};

/*
 * A Headscale derp.paths file: yaml.Unmarshal into tailcfg.DERPMap (hscontrol/derp/derp.go
 * loadDERPMapFromPath), so the document is the map itself.
 */
static int decode_yaml_map(struct decoder *d, const struct dc_json *root, struct dc_derpmap *map)
{
	map->shape = DC_SHAPE_YAML;
	map->path = dc_xstrdup("");
	if (!root) /* an empty file: a map without regions */
		return 0;
	if (root->type != DC_JSON_OBJECT) {
		struct dc_finding *f = finding(d, DC_SEV_ERROR, "not-a-derpmap", "", root->pos,
					       "expected a mapping with regions:, found %s", dc_json_type_name(root->type));
		dc_finding_hint(f, "a Headscale DERP map file starts with regions: and one entry per region ID, e.g. 900:");
		return -1;
	}
	map->at = root->pos;
	for (size_t i = 0; i < root->count; i++) {
		char folded[64];
		fold_key(root->items[i].key, folded, sizeof(folded));
		if (strcmp(folded, "derpmap") == 0) {
			struct dc_finding *f = finding(d, DC_SEV_ERROR, "not-a-derpmap", root->items[i].key, root->items[i].key_pos,
						       "Headscale reads a derp.paths file as the DERP map itself, so \"%s:\" hides every region in it",
						       root->items[i].key);
			dc_finding_hint(f, "remove the %s: level so the file starts with regions:", root->items[i].key);
			return -1;
		}
	}
	decode_map_object(d, "", root, map);
	return 0;
}

int dc_derpmap_decode_as(const struct dc_json *root, enum dc_map_dialect dialect, struct dc_derpmap *map,
			 struct dc_findings *findings)
{
	if (dialect == DC_DIALECT_JSON)
		return dc_derpmap_decode(root, map, findings);
	struct decoder d = {.findings = findings, .dialect = DC_DIALECT_YAML};
	memset(map, 0, sizeof(*map));
	map->dialect = DC_DIALECT_YAML;
	return decode_yaml_map(&d, root, map);
}

int dc_derpmap_decode(const struct dc_json *root, struct dc_derpmap *map, struct dc_findings *findings)
{
	struct decoder d = {.findings = findings, .dialect = DC_DIALECT_JSON};
	memset(map, 0, sizeof(*map));
	if (root->type != DC_JSON_OBJECT) {
		struct dc_finding *f = finding(&d, DC_SEV_ERROR, "not-a-derpmap", "", root->pos,
					       "expected a JSON object, found %s", dc_json_type_name(root->type));
		dc_finding_hint(f, "give a DERP map ({\"Regions\": ...}) or a policy file with a \"derpMap\" key");
		map->path = dc_xstrdup("");
		return -1;
	}
	const struct dc_json *dm = member_ci(root, "derpMap");
	if (dm) {
		map->shape = DC_SHAPE_POLICY;
		map->path = dc_xstrdup("derpMap");
		if (strcmp(dm->key, "derpMap") != 0 && strcmp(dm->key, "DERPMap") != 0)
			noncanonical(&d, "", dm, "derpMap");
		if (dm->type == DC_JSON_NULL) {
			map->shape = DC_SHAPE_POLICY_NO_MAP;
			return 0;
		}
		if (dm->type != DC_JSON_OBJECT) {
			type_error(&d, "derpMap", dm, "an object");
			return -1;
		}
		decode_map_object(&d, "derpMap", dm, map);
		return 0;
	}
	if (member_ci(root, "Regions")) {
		map->shape = DC_SHAPE_DERPMAP;
		map->path = dc_xstrdup("");
		decode_map_object(&d, "", root, map);
		return 0;
	}
	map->path = dc_xstrdup("");
	for (size_t i = 0; i < root->count; i++)
		for (size_t k = 0; k < DC_ARRAY_LEN(policy_keys); k++)
			if (strcasecmp(root->items[i].key, policy_keys[k]) == 0) {
				map->shape = DC_SHAPE_POLICY_NO_MAP;
				return 0;
			}
	struct dc_finding *f = finding(&d, DC_SEV_ERROR, "not-a-derpmap", "", root->pos,
				       "no \"Regions\" or \"derpMap\" key: this is not a DERP map or a policy file");
	dc_finding_hint(f, "a DERP map looks like {\"Regions\": {\"900\": {...}}}; in a policy file put it under \"derpMap\"");
	return -1;
}

static void free_node(struct dc_derp_node *n)
{
	free(n->name);
	free(n->host_name);
	free(n->cert_name);
	free(n->ipv4);
	free(n->ipv6);
	free(n->stun_test_ip);
	free(n->path);
}

static void free_region(struct dc_derp_region *r)
{
	for (size_t k = 0; k < r->node_count; k++)
		free_node(&r->nodes[k]);
	free(r->nodes);
	free(r->code);
	free(r->name);
	free(r->path);
}

void dc_derpmap_free(struct dc_derpmap *map)
{
	if (!map)
		return;
	for (size_t i = 0; i < map->region_count; i++)
		free_region(&map->regions[i]);
	free(map->regions);
	free(map->scores);
	free(map->path);
	memset(map, 0, sizeof(*map));
}

const struct dc_derp_region *dc_derpmap_region(const struct dc_derpmap *map, int64_t id)
{
	size_t lo = 0, hi = map->region_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (map->regions[mid].id == id)
			return &map->regions[mid];
		if (map->regions[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int dc_node_stun_port(const struct dc_derp_node *n)
{
	/* netcheck treats any negative or too large port as "no STUN here". */
	if (n->stun_port < 0 || n->stun_port > 65535)
		return -1;
	return n->stun_port == 0 ? 3478 : (int)n->stun_port;
}

int dc_node_derp_port(const struct dc_derp_node *n)
{
	return n->derp_port == 0 ? 443 : (int)n->derp_port;
}

bool dc_node_clients_verify(const struct dc_derp_node *n)
{
	if (!n->insecure_for_tests)
		return true;
	/* SetConfigExpectedCert returns early when CertName equals the TLS name. */
	return n->cert_name && *n->cert_name && (!n->host_name || strcmp(n->cert_name, n->host_name) != 0);
}

enum dc_addr_mode dc_node_addr_mode(const char *value, int family)
{
	if (!value || !*value)
		return DC_ADDR_DNS;
	unsigned char buf[16];
	if (family == 4 && inet_pton(AF_INET, value, buf) == 1)
		return DC_ADDR_STATIC;
	if (family == 6 && strchr(value, ':') && !strchr(value, '%') && inet_pton(AF_INET6, value, buf) == 1)
		return DC_ADDR_STATIC;
	return DC_ADDR_DISABLED;
}

void dc_derp_region_free(struct dc_derp_region *r)
{
	free_region(r);
}

void dc_derp_region_clone(const struct dc_derp_region *src, struct dc_derp_region *dst)
{
	clone_region(src, dst);
}

static void clone_region(const struct dc_derp_region *src, struct dc_derp_region *dst)
{
	*dst = *src;
	dst->code = dc_xstrdup(src->code);
	dst->name = dc_xstrdup(src->name);
	dst->path = dc_xstrdup(src->path);
	dst->nodes = dc_xcalloc(src->node_count, sizeof(*dst->nodes));
	for (size_t k = 0; k < src->node_count; k++) {
		const struct dc_derp_node *a = &src->nodes[k];
		struct dc_derp_node *b = &dst->nodes[k];
		*b = *a;
		b->name = dc_xstrdup(a->name);
		b->host_name = dc_xstrdup(a->host_name);
		b->cert_name = dc_xstrdup(a->cert_name);
		b->ipv4 = dc_xstrdup(a->ipv4);
		b->ipv6 = dc_xstrdup(a->ipv6);
		b->stun_test_ip = dc_xstrdup(a->stun_test_ip);
		b->path = dc_xstrdup(a->path);
	}
}

static void push_id(int64_t **list, size_t *n, int64_t id)
{
	*list = dc_xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = id;
}

void dc_derpmap_merge(const struct dc_derpmap *policy, const struct dc_derpmap *defaults,
		      struct dc_derpmap *out, struct dc_merge_summary *s)
{
	memset(out, 0, sizeof(*out));
	memset(s, 0, sizeof(*s));
	out->shape = DC_SHAPE_DERPMAP;
	out->path = dc_xstrdup(policy->path ? policy->path : "");
	out->has_regions = true;

	bool any_custom = false;
	for (size_t i = 0; i < policy->region_count; i++)
		if (!policy->regions[i].removed)
			any_custom = true;
	/* omitDefaultRegions is a no-op unless the policy defines regions of its own. */
	s->defaults_omitted = policy->omit_default_regions && any_custom;

	out->regions = dc_xcalloc(defaults->region_count + policy->region_count, sizeof(*out->regions));
	if (!s->defaults_omitted)
		for (size_t i = 0; i < defaults->region_count; i++) {
			const struct dc_derp_region *def = &defaults->regions[i];
			const struct dc_derp_region *pol = dc_derpmap_region(policy, def->id);
			if (pol && pol->removed) {
				push_id(&s->removed, &s->removed_count, def->id);
				continue;
			}
			if (pol) {
				push_id(&s->replaced, &s->replaced_count, def->id);
				continue;
			}
			clone_region(def, &out->regions[out->region_count++]);
			s->defaults_kept++;
		}
	for (size_t i = 0; i < policy->region_count; i++) {
		const struct dc_derp_region *pol = &policy->regions[i];
		if (pol->removed)
			continue;
		if (!dc_derpmap_region(defaults, pol->id))
			push_id(&s->custom, &s->custom_count, pol->id);
		clone_region(pol, &out->regions[out->region_count++]);
	}
	qsort(out->regions, out->region_count, sizeof(*out->regions), compare_regions);
}

void dc_merge_summary_free(struct dc_merge_summary *s)
{
	free(s->removed);
	free(s->replaced);
	free(s->custom);
	memset(s, 0, sizeof(*s));
}

size_t dc_derpmap_node_count(const struct dc_derpmap *map)
{
	size_t n = 0;
	for (size_t i = 0; i < map->region_count; i++)
		if (!map->regions[i].removed)
			n += map->regions[i].node_count;
	return n;
}
