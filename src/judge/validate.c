#include "derpcheck/judge/validate.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/tlscheck.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SAFE_INTEGER 9007199254740991LL /* 2^53 - 1: region IDs travel through JavaScript */
#define CUSTOM_REGION_MIN 900
#define CUSTOM_REGION_MAX 999

struct check {
	const struct dc_derpmap *map;
	const struct dc_derpmap *defaults; /* NULL when unknown */
	struct dc_findings *f;
	/*
	 * The region being judged: its file (a Headscale map's regions come from several
	 * files) and its dialect (fixes name keys as that file spells them).
	 */
	const struct dc_derp_region *region;
	char member_buf[4][256];
	unsigned member_next;
};

static struct dc_finding *add(struct check *c, enum dc_severity sev, const char *code, const char *path,
			      struct dc_srcpos pos, const char *fmt, ...) DC_PRINTF(6, 7);
static struct dc_finding *add(struct check *c, enum dc_severity sev, const char *code, const char *path,
			      struct dc_srcpos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *file = c->f->file;
	if (c->region && c->region->file)
		c->f->file = c->region->file;
	struct dc_finding *x = dc_findings_add(c->f, sev, code, path, pos, "%s", msg);
	c->f->file = file;
	return x;
}

static enum dc_map_dialect dialect(const struct check *c)
{
	return c->region ? c->region->dialect : c->map->dialect;
}

/* A field's key as the current region's file writes it: "RegionID" (JSON) or regionid (YAML). */
static const char *nkey(struct check *c, enum dc_node_field f)
{
	const char *k = dc_node_field_key(dialect(c), f);
	if (dialect(c) != DC_DIALECT_JSON)
		return k;
	char *b = c->member_buf[c->member_next++ % DC_ARRAY_LEN(c->member_buf)];
	snprintf(b, sizeof(c->member_buf[0]), "\"%s\"", k);
	return b;
}

static const char *rkey(struct check *c, enum dc_region_field f)
{
	const char *k = dc_region_field_key(dialect(c), f);
	if (dialect(c) != DC_DIALECT_JSON)
		return k;
	char *b = c->member_buf[c->member_next++ % DC_ARRAY_LEN(c->member_buf)];
	snprintf(b, sizeof(c->member_buf[0]), "\"%s\"", k);
	return b;
}

/* "key": value (JSON) or key: value (YAML); a string value is quoted only in JSON. */
static const char *member(struct check *c, const char *key, bool string, const char *fmt, ...) DC_PRINTF(4, 5);
static const char *member(struct check *c, const char *key, bool string, const char *fmt, ...)
{
	char value[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	char quoted[210];
	snprintf(quoted, sizeof(quoted), string && dialect(c) == DC_DIALECT_JSON ? "\"%s\"" : "%s", value);
	char *m = dc_field_member(dialect(c), key, quoted);
	char *b = c->member_buf[c->member_next++ % DC_ARRAY_LEN(c->member_buf)];
	snprintf(b, sizeof(c->member_buf[0]), "%s", m);
	free(m);
	return b;
}

static const char *nmember(struct check *c, enum dc_node_field f, bool string, const char *value)
{
	return member(c, dc_node_field_key(dialect(c), f), string, "%s", value);
}

/* Path and position of one field of a node, falling back to the node itself. */
struct where {
	char path[512];
	struct dc_srcpos pos;
};

/* A field's path: under its node or region, or (Headscale's embedded region) the config key itself. */
static void field_path(char *out, size_t n, enum dc_map_dialect d, const char *base, const char *key)
{
	if (d == DC_DIALECT_HEADSCALE || !*base)
		snprintf(out, n, "%s", key);
	else
		snprintf(out, n, "%s.%s", base, key);
}

static struct where node_field_in(enum dc_map_dialect d, const struct dc_derp_node *n, enum dc_node_field f)
{
	struct where w;
	field_path(w.path, sizeof(w.path), d, n->path, dc_node_field_key(d, f));
	w.pos = DC_NODE_HAS(n, f) ? n->field_at[f] : n->at;
	if (!DC_NODE_HAS(n, f))
		snprintf(w.path, sizeof(w.path), "%s", n->path);
	return w;
}

#define node_field(n, f) node_field_in(dialect(c), n, f)

static struct where region_field(const struct dc_derp_region *r, enum dc_region_field f)
{
	struct where w;
	if (DC_REGION_HAS(r, f)) {
		field_path(w.path, sizeof(w.path), r->dialect, r->path, dc_region_field_key(r->dialect, f));
		w.pos = r->field_at[f];
	} else {
		snprintf(w.path, sizeof(w.path), "%s", r->path);
		w.pos = r->at;
	}
	return w;
}

static bool is_default_region(const struct check *c, int64_t id)
{
	return c->defaults && dc_derpmap_region(c->defaults, id) != NULL;
}

/* ---- node rules ---------------------------------------------------------------- */

static void check_hostname(struct check *c, const struct dc_derp_node *n)
{
	struct where w = node_field(n, DC_NODE_HOSTNAME);
	const char *h = n->host_name;
	if (!*h) {
		struct dc_finding *x = add(c, DC_SEV_ERROR, "hostname-missing", w.path, w.pos,
					   "node \"%s\" has no HostName; clients cannot dial it or check its certificate",
					   n->name);
		dc_finding_hint(x, "set %s to the DNS name on derper's certificate, e.g. %s", nkey(c, DC_NODE_HOSTNAME),
				nmember(c, DC_NODE_HOSTNAME, true, "derp.example.com"));
		return;
	}
	const char *scheme = strstr(h, "://");
	if (scheme) {
		const char *host = scheme + 3;
		size_t len = strcspn(host, ":/");
		char bare[256];
		snprintf(bare, sizeof(bare), "%.*s", (int)len, host);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "hostname-is-url", w.path, w.pos,
					   "HostName \"%s\" is a URL; Tailscale wants a bare host name", h);
		long long port;
		char portbuf[16];
		if (host[len] == ':' && snprintf(portbuf, sizeof(portbuf), "%.*s", (int)strcspn(host + len + 1, "/"), host + len + 1) &&
		    dc_parse_int(portbuf, 1, 65535, &port) == 0 && port != 443)
			dc_finding_hint(x, "write %s and %s", nmember(c, DC_NODE_HOSTNAME, true, bare),
					nmember(c, DC_NODE_DERPPORT, false, portbuf));
		else
			dc_finding_hint(x, "write %s and put a non-443 port in %s", nmember(c, DC_NODE_HOSTNAME, true, bare),
					nkey(c, DC_NODE_DERPPORT));
		return;
	}
	/* "host:port" (but not an IPv6 literal, which has several colons). */
	const char *colon = strchr(h, ':');
	if (colon && !strchr(colon + 1, ':')) {
		struct dc_finding *x = add(c, DC_SEV_ERROR, "hostname-has-port", w.path, w.pos,
					   "HostName \"%s\" includes a port; Tailscale would look up a host literally named that",
					   h);
		char bare[256];
		snprintf(bare, sizeof(bare), "%.*s", (int)(colon - h), h);
		dc_finding_hint(x, "write %s and %s", nmember(c, DC_NODE_HOSTNAME, true, bare),
				nmember(c, DC_NODE_DERPPORT, false, colon + 1));
		return;
	}
	for (const char *p = h; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (!(isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == ':' || ch >= 0x80)) {
			struct dc_finding *x = add(c, DC_SEV_ERROR, "hostname-invalid", w.path, w.pos,
						   "HostName \"%s\" contains '%c', which no DNS name or IP address has",
						   h, ch);
			dc_finding_hint(x, "use the plain DNS name of the DERP server, e.g. %s",
					nmember(c, DC_NODE_HOSTNAME, true, "derp.example.com"));
			return;
		}
	}
}

/* Text that looks like an attempt at an address (digits, dots, colons, hex). */
static bool looks_numeric(const char *s)
{
	for (; *s; s++)
		if (!(isxdigit((unsigned char)*s) || *s == '.' || *s == ':' || *s == '/' || *s == '%'))
			return false;
	return true;
}

static void check_address(struct check *c, const struct dc_derp_node *n, int family)
{
	enum dc_node_field fld = family == 4 ? DC_NODE_IPV4 : DC_NODE_IPV6;
	const char *v = family == 4 ? n->ipv4 : n->ipv6;
	const char *name = family == 4 ? "IPv4" : "IPv6";
	struct where w = node_field(n, fld);
	if (dc_node_addr_mode(v, family) != DC_ADDR_DISABLED || strcmp(v, "none") == 0)
		return;
	unsigned char buf[16];
	struct dc_finding *x;
	if (family == 4 && inet_pton(AF_INET6, v, buf) == 1) {
		x = add(c, DC_SEV_ERROR, "ip-wrong-family", w.path, w.pos,
			"\"%s\" is an IPv6 address in the IPv4 field; Tailscale treats it as \"IPv4 disabled\"", v);
		dc_finding_hint(x, "move it to %s and put the server's IPv4 address (or %s) in %s", nkey(c, DC_NODE_IPV6),
				dialect(c) == DC_DIALECT_JSON ? "\"none\"" : "none", nkey(c, DC_NODE_IPV4));
	} else if (family == 6 && inet_pton(AF_INET, v, buf) == 1) {
		x = add(c, DC_SEV_ERROR, "ip-wrong-family", w.path, w.pos,
			"\"%s\" is an IPv4 address in the IPv6 field; Tailscale treats it as \"IPv6 disabled\"", v);
		dc_finding_hint(x, "move it to %s and put the server's IPv6 address (or %s) in %s", nkey(c, DC_NODE_IPV4),
				dialect(c) == DC_DIALECT_JSON ? "\"none\"" : "none", nkey(c, DC_NODE_IPV6));
	} else if (looks_numeric(v)) {
		x = add(c, DC_SEV_ERROR, "ip-invalid", w.path, w.pos,
			"\"%s\" is not a valid %s address; Tailscale silently disables %s for this node", v, name, name);
		if (dialect(c) == DC_DIALECT_JSON)
			dc_finding_hint(x, "write the server's %s address (%s), \"none\" to disable %s, or \"\" to use DNS",
					name, family == 4 ? "e.g. \"203.0.113.10\"" : "e.g. \"2001:db8::10\"", name);
		else
			dc_finding_hint(x, "write the server's %s address (e.g. %s), none to disable %s, or leave it empty to use DNS",
					name, nmember(c, fld, true, family == 4 ? "203.0.113.10" : "2001:db8::10"), name);
	} else {
		x = add(c, DC_SEV_WARNING, "ip-disabled-nonstandard", w.path, w.pos,
			"\"%s\" disables %s for this node, but the conventional value is \"none\"", v, name);
		dc_finding_hint(x, "write %s if that is what you mean", nmember(c, fld, true, "none"));
	}
}

static void check_ports(struct check *c, const struct dc_derp_node *n)
{
	if (DC_NODE_HAS(n, DC_NODE_STUNPORT) && (n->stun_port < -1 || n->stun_port > 65535)) {
		struct where w = node_field(n, DC_NODE_STUNPORT);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "port-range", w.path, w.pos,
					   "STUNPort %lld is not a UDP port; clients treat it as \"no STUN on this node\"",
					   (long long)n->stun_port);
		dc_finding_hint(x, "use derper's -stun-port (1-65535), 0 for the default 3478, or -1 to disable STUN");
	}
	if (DC_NODE_HAS(n, DC_NODE_DERPPORT) && (n->derp_port < 0 || n->derp_port > 65535)) {
		struct where w = node_field(n, DC_NODE_DERPPORT);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "port-range", w.path, w.pos,
					   "DERPPort %lld is not a TCP port", (long long)n->derp_port);
		dc_finding_hint(x, "use the port of derper's -a listen address (1-65535), or 0 for 443");
	}
	if (n->stun_only && DC_NODE_HAS(n, DC_NODE_DERPPORT) && n->derp_port != 0) {
		struct where w = node_field(n, DC_NODE_DERPPORT);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "stunonly-with-derpport", w.path, w.pos,
					   "node \"%s\" is STUNOnly, so its DERPPort %lld is never used", n->name,
					   (long long)n->derp_port);
		dc_finding_hint(x, "remove %s, or remove %s if this node also relays traffic", nkey(c, DC_NODE_DERPPORT),
				nkey(c, DC_NODE_STUNONLY));
	}
	if (n->stun_only && dc_node_stun_port(n) < 0) {
		struct where w = node_field(n, DC_NODE_STUNONLY);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "stunonly-without-stun", w.path, w.pos,
					   "node \"%s\" is STUNOnly but has STUN disabled, so clients never use it",
					   n->name);
		dc_finding_hint(x, "set %s to derper's STUN port, or remove the node", nkey(c, DC_NODE_STUNPORT));
	}
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/*
 * `derpcheck cert ...` for node n of region r: the map and region when the map can be
 * read again (so CertName, ports and addresses come from it), else the address clients
 * dial with the node's name.
 */
static void node_cert_command(const struct check *c, const struct dc_derp_region *r, const struct dc_derp_node *n,
			      char *out, size_t len)
{
	struct dc_tlscheck_call call;
	char addr[300];
	dc_tlscheck_node_call(n, r->id, dc_map_spec_for_command(c->f->file), c->f->map_format, c->f->ca_file, &call, addr,
			      sizeof(addr));
	dc_tlscheck_command(&call, out, len);
}

static void check_cert_name(struct check *c, const struct dc_derp_region *r, const struct dc_derp_node *n)
{
	static const char pin[] = "sha256-raw:";
	const char *v = n->cert_name;
	if (strncasecmp(v, pin, sizeof(pin) - 1) != 0)
		return;
	struct where w = node_field(n, DC_NODE_CERTNAME);
	const char *hex = v + sizeof(pin) - 1;
	size_t len = strlen(hex);
	if (strncmp(v, pin, sizeof(pin) - 1) == 0 && len == 64 && is_lower_hex(hex, 64))
		return;
	bool all_hex = len == 64;
	for (size_t i = 0; i < len && all_hex; i++)
		all_hex = isxdigit((unsigned char)hex[i]);
	struct dc_finding *x;
	if (all_hex) {
		char lower[65];
		for (size_t i = 0; i < 64; i++)
			lower[i] = (char)tolower((unsigned char)hex[i]);
		lower[64] = '\0';
		x = add(c, DC_SEV_ERROR, "certname-pin-case", w.path, w.pos,
			"the certificate pin must be lowercase; Tailscale compares it exactly, so this never matches");
		dc_finding_hint(x, "write %s", member(c, dc_node_field_key(dialect(c), DC_NODE_CERTNAME), true, "sha256-raw:%s", lower));
	} else {
		x = add(c, DC_SEV_ERROR, "certname-pin-invalid", w.path, w.pos,
			"\"sha256-raw:\" must be followed by exactly 64 lowercase hex digits, found %zu characters", len);
		char cmd[700];
		node_cert_command(c, r, n, cmd, sizeof(cmd));
		dc_finding_hint(x, "`%s` prints the pin (or: openssl x509 -in CERT -outform DER | sha256sum)", cmd);
	}
}

static void check_node(struct check *c, const struct dc_derp_region *r, size_t idx)
{
	const struct dc_derp_node *n = &r->nodes[idx];
	struct where w;

	if (!*n->name) {
		w = node_field(n, DC_NODE_NAME);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "node-name-missing", w.path, w.pos,
					   "node %zu of region %lld has no Name", idx, (long long)r->id);
		dc_finding_hint(x, "give every node a unique name, conventionally the region ID plus a letter: %s",
				member(c, dc_node_field_key(dialect(c), DC_NODE_NAME), true, "%llda", (long long)r->id));
	}
	if (!DC_NODE_HAS(n, DC_NODE_REGIONID) || n->region_id == 0) {
		w = node_field(n, DC_NODE_REGIONID);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "node-region-id-missing", w.path, w.pos,
					   "node \"%s\" has no RegionID; Tailscale files its latency under region 0, so region %lld is never measured (tailscale#9526)",
					   n->name, (long long)r->id);
		dc_finding_hint(x, "add %s to the node",
				member(c, dc_node_field_key(dialect(c), DC_NODE_REGIONID), false, "%lld", (long long)r->id));
	} else if (n->region_id != r->id) {
		w = node_field(n, DC_NODE_REGIONID);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "node-region-id-mismatch", w.path, w.pos,
					   "node \"%s\" says RegionID %lld but sits in region %lld; its latency is filed under the wrong region (tailscale#9526)",
					   n->name, (long long)n->region_id, (long long)r->id);
		dc_finding_hint(x, "set the node's %s to %lld", nkey(c, DC_NODE_REGIONID), (long long)r->id);
	}
	check_hostname(c, n);
	check_address(c, n, 4);
	check_address(c, n, 6);
	enum dc_addr_mode m4 = dc_node_addr_mode(n->ipv4, 4), m6 = dc_node_addr_mode(n->ipv6, 6);
	if (m4 == DC_ADDR_DISABLED && m6 == DC_ADDR_DISABLED) {
		w = node_field(n, DC_NODE_IPV4);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "node-undialable", n->path, n->at,
					   "node \"%s\" has both IPv4 and IPv6 disabled, so no client can reach it", n->name);
		dc_finding_hint(x, "give the server's address in %s or %s (or %s to use DNS)", nkey(c, DC_NODE_IPV4),
				nkey(c, DC_NODE_IPV6), dialect(c) == DC_DIALECT_JSON ? "\"\"" : "leave it empty");
	} else if (*n->host_name && (m4 == DC_ADDR_DNS || m6 == DC_ADDR_DNS) &&
		   dc_node_addr_mode(n->host_name, 4) != DC_ADDR_STATIC && dc_node_addr_mode(n->host_name, 6) != DC_ADDR_STATIC) {
		/* (an IP literal as HostName needs no DNS) */
		const char *fam = m4 == DC_ADDR_DNS && m6 == DC_ADDR_DNS ? "IPv4 and IPv6" : m4 == DC_ADDR_DNS ? "IPv4" : "IPv6";
		struct dc_finding *x = add(c, DC_SEV_WARNING, "ip-from-dns", n->path, n->at,
					   "node \"%s\" has no static %s, so clients depend on DNS for %s", n->name,
					   fam, n->host_name);
		dc_finding_hint(x, dialect(c) == DC_DIALECT_JSON ? "write the server's address in %s, or \"none\" if it has none"
								  : "write the server's address in %s, or none if it has none",
				nkey(c, m4 == DC_ADDR_DNS ? DC_NODE_IPV4 : DC_NODE_IPV6));
	}
	check_ports(c, n);
	check_cert_name(c, r, n);
	if (n->insecure_for_tests) {
		w = node_field(n, DC_NODE_INSECURE);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "insecure-for-tests", w.path, w.pos,
					   n->stun_only ? "InsecureForTests on STUNOnly node \"%s\" does nothing: clients never "
							  "dial it over TLS"
							: "InsecureForTests turns off certificate checks for every client that uses "
							  "node \"%s\"",
					   n->name);
		char cmd[700];
		node_cert_command(c, r, n, cmd, sizeof(cmd));
		/* Removed while the certificate still fails, every client would refuse the node. */
		if (n->stun_only)
			dc_finding_hint(x, "remove InsecureForTests");
		else
			dc_finding_hint(x, "`%s` shows whether the certificate verifies: if not, fix it first, then remove "
					   "InsecureForTests", cmd);
	}
	if (*n->stun_test_ip) {
		w = node_field(n, DC_NODE_STUNTESTIP);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "stun-test-ip", w.path, w.pos,
					   "STUNTestIP is for Tailscale's own tests; clients send STUN to %s instead of the node",
					   n->stun_test_ip);
		dc_finding_hint(x, "remove %s; put the address in %s or %s", nkey(c, DC_NODE_STUNTESTIP), nkey(c, DC_NODE_IPV4),
				nkey(c, DC_NODE_IPV6));
	}
	if (n->can_port80 && m4 != DC_ADDR_STATIC) {
		w = node_field(n, DC_NODE_CANPORT80);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "canport80-without-ipv4", w.path, w.pos,
					   "CanPort80 is only used when the node has a static IPv4 address");
		dc_finding_hint(x, "add %s, or drop %s", nkey(c, DC_NODE_IPV4), nkey(c, DC_NODE_CANPORT80));
	}
}

/* ---- region rules -------------------------------------------------------------- */

static void check_region(struct check *c, const struct dc_derp_region *r)
{
	struct where w;
	bool policy = c->map->shape == DC_SHAPE_POLICY;

	if (r->id <= 0 || r->id > MAX_SAFE_INTEGER) {
		struct dc_finding *x = add(c, DC_SEV_ERROR, "region-id-range", r->path, r->key_at,
					   "region ID %lld is outside 1..2^53-1", (long long)r->id);
		dc_finding_hint(x, "use an ID from 900 to 999, the range Tailscale reserves for your own regions");
	}
	if (r->removed) {
		if (policy && c->defaults && !is_default_region(c, r->id)) {
			struct dc_finding *x = add(c, DC_SEV_WARNING, "null-region-not-default", r->path, r->at,
						   "\"%lld\": null removes a Tailscale default region, but %lld is not one",
						   (long long)r->id, (long long)r->id);
			dc_finding_hint(x, "delete this line; null only makes sense for default region IDs (1-%lld)",
					c->defaults->region_count ? (long long)c->defaults->regions[c->defaults->region_count - 1].id : 0LL);
		}
		return;
	}
	if (!DC_REGION_HAS(r, DC_REGION_REGIONID) || r->region_id == 0) {
		w = region_field(r, DC_REGION_REGIONID);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "region-id-missing", w.path, w.pos,
					   "region \"%lld\" has no RegionID", (long long)r->id);
		dc_finding_hint(x, "add %s (it must equal the key)",
				member(c, dc_region_field_key(dialect(c), DC_REGION_REGIONID), false, "%lld", (long long)r->id));
	} else if (r->region_id != r->id) {
		w = region_field(r, DC_REGION_REGIONID);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "region-id-mismatch", w.path, w.pos,
					   "region key \"%lld\" but RegionID %lld; clients match regions by both (tailscale netcheck crashed on this before 1.92)",
					   (long long)r->id, (long long)r->region_id);
		dc_finding_hint(x, "make the key and %s the same number", rkey(c, DC_REGION_REGIONID));
	}
	if (policy && r->id > 0 && (r->id < CUSTOM_REGION_MIN || r->id > CUSTOM_REGION_MAX)) {
		if (is_default_region(c, r->id) && !c->map->omit_default_regions) {
			const struct dc_derp_region *def = dc_derpmap_region(c->defaults, r->id);
			struct dc_finding *x = add(c, DC_SEV_WARNING, "region-replaces-default", r->path, r->key_at,
						   "region %lld replaces Tailscale's default region %lld (%s, \"%s\")",
						   (long long)r->id, (long long)r->id, def->code, def->name);
			dc_finding_hint(x, "use an ID from 900 to 999 for your own server; to drop the default region write \"%lld\": null",
					(long long)r->id);
		} else if (!is_default_region(c, r->id)) {
			struct dc_finding *x = add(c, DC_SEV_WARNING, "region-id-not-custom-range", r->path, r->key_at,
						   "region ID %lld is outside 900-999, the range Tailscale reserves for your own regions",
						   (long long)r->id);
			dc_finding_hint(x, "renumber the region (key, RegionID and every node's RegionID) into 900-999");
		}
	}
	if (!*r->code) {
		w = region_field(r, DC_REGION_CODE);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "region-code-missing", w.path, w.pos,
					   "region %lld has no RegionCode; tailscale status and netcheck show an empty name",
					   (long long)r->id);
		dc_finding_hint(x, "add a short code such as %s",
				member(c, dc_region_field_key(dialect(c), DC_REGION_CODE), true, "myvps"));
	}
	if (r->avoid) {
		w = region_field(r, DC_REGION_AVOID);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "avoid-deprecated", w.path, w.pos,
					   "Avoid is deprecated: clients still probe the region and may still pick it as home");
		dc_finding_hint(x, "replace it with %s",
				member(c, dc_region_field_key(dialect(c), DC_REGION_NOMEASURE), false, "true"));
	}
	if (r->node_count == 0) {
		w = region_field(r, DC_REGION_NODES);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "region-no-nodes", w.path, w.pos,
					   "region %lld has no nodes, so clients can neither measure nor use it",
					   (long long)r->id);
		if (dialect(c) == DC_DIALECT_JSON)
			dc_finding_hint(x, "add a node: {\"Name\": \"%llda\", \"RegionID\": %lld, \"HostName\": \"derp.example.com\"}",
					(long long)r->id, (long long)r->id);
		else
			dc_finding_hint(x, "add a node: - {name: %llda, regionid: %lld, hostname: derp.example.com}",
					(long long)r->id, (long long)r->id);
		return;
	}
	bool any_derp = false, any_stun = false;
	for (size_t i = 0; i < r->node_count; i++) {
		check_node(c, r, i);
		any_derp |= !r->nodes[i].stun_only;
		any_stun |= dc_node_stun_port(&r->nodes[i]) >= 0;
	}
	if (!any_derp) {
		w = region_field(r, DC_REGION_NODES);
		struct dc_finding *x = add(c, DC_SEV_ERROR, "region-stun-only", w.path, w.pos,
					   "every node of region %lld is STUNOnly, so nothing in it can relay traffic",
					   (long long)r->id);
		dc_finding_hint(x, "remove %s from the node that runs derper", nkey(c, DC_NODE_STUNONLY));
	}
	if (!any_stun && !r->no_measure_no_home) {
		w = region_field(r, DC_REGION_NODES);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "region-no-stun", w.path, w.pos,
					   "no node of region %lld answers STUN, so clients with working UDP never measure it and never pick it as home",
					   (long long)r->id);
		dc_finding_hint(x, "enable STUN on a node (%s for 3478, or derper's -stun-port)",
				nmember(c, DC_NODE_STUNPORT, false, "0"));
	}
}

/* ---- map-wide rules ------------------------------------------------------------ */

/*
 * Duplicates are found by sorting (key, document order) and comparing neighbours, so a
 * map with thousands of nodes stays fast; each later copy is reported against the first.
 */
struct keyed {
	const char *key;
	size_t order;
	const struct dc_derp_region *region;
	const struct dc_derp_node *node;
	enum dc_node_field field;
};

static int compare_keyed_icase(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = strcasecmp(a->key, b->key);
	return c ? c : (a->order < b->order ? -1 : a->order > b->order);
}

static int compare_keyed(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);
	return c ? c : (a->order < b->order ? -1 : a->order > b->order);
}

typedef void (*duplicate_fn)(struct check *c, const struct keyed *dup, const struct keyed *first);

static void report_duplicates(struct check *c, struct keyed *items, size_t n, bool icase, duplicate_fn report)
{
	int (*cmp)(const void *, const void *) = icase ? compare_keyed_icase : compare_keyed;
	qsort(items, n, sizeof(*items), cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && (icase ? strcasecmp(items[i].key, items[j].key) : strcmp(items[i].key, items[j].key)) == 0)
			report(c, &items[j++], &items[i]);
		i = j;
	}
}

static void duplicate_code(struct check *c, const struct keyed *dup, const struct keyed *first)
{
	c->region = dup->region;
	const struct dc_derp_region *r = dup->region;
	struct where w = region_field(r, DC_REGION_CODE);
	struct dc_finding *x = add(c, DC_SEV_WARNING, "region-code-duplicate", w.path, w.pos,
				   "RegionCode \"%s\" is also used by region %lld; `tailscale debug derp %s` and reports cannot tell them apart",
				   r->code, (long long)first->region->id, r->code);
	dc_finding_hint(x, "give each region its own RegionCode");
}

static void duplicate_name(struct check *c, const struct keyed *dup, const struct keyed *first)
{
	c->region = dup->region;
	const struct dc_derp_node *n = dup->node;
	struct where w = node_field(n, DC_NODE_NAME);
	size_t index = (size_t)(n - dup->region->nodes);
	struct dc_finding *x = add(c, DC_SEV_ERROR, "node-name-duplicate", w.path, w.pos,
				   "node name \"%s\" is already used by a node of region %lld; names must be unique across the whole map",
				   n->name, (long long)first->region->id);
	dc_finding_hint(x, "rename this node, e.g. \"%lld%c\" (region ID plus a letter)", (long long)dup->region->id,
			(char)('a' + (index % 26)));
}

static void duplicate_address(struct check *c, const struct keyed *dup, const struct keyed *first)
{
	c->region = dup->region;
	if (dup->node == first->node)
		return;
	struct where w = node_field(dup->node, dup->field);
	struct dc_finding *x = add(c, DC_SEV_WARNING, "ip-duplicate", w.path, w.pos,
				   "node \"%s\" shares address %s with node \"%s\"; each DERP server needs its own address",
				   dup->node->name, dup->key, first->node->name);
	dc_finding_hint(x, "check for a copy-paste mistake; one derper per IP address");
}

static void check_duplicates(struct check *c)
{
	const struct dc_derpmap *m = c->map;
	size_t nodes = dc_derpmap_node_count(m);
	struct keyed *codes = dc_xcalloc(m->region_count, sizeof(*codes));
	struct keyed *names = dc_xcalloc(nodes, sizeof(*names));
	struct keyed *addrs = dc_xcalloc(nodes * 2, sizeof(*addrs));
	size_t ncodes = 0, nnames = 0, naddrs = 0, order = 0;
	for (size_t i = 0; i < m->region_count; i++) {
		const struct dc_derp_region *r = &m->regions[i];
		if (r->removed)
			continue;
		if (*r->code)
			codes[ncodes++] = (struct keyed){r->code, order++, r, NULL, DC_NODE_NAME};
		for (size_t k = 0; k < r->node_count; k++) {
			const struct dc_derp_node *n = &r->nodes[k];
			if (*n->name)
				names[nnames++] = (struct keyed){n->name, order++, r, n, DC_NODE_NAME};
			if (dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_STATIC)
				addrs[naddrs++] = (struct keyed){n->ipv4, order++, r, n, DC_NODE_IPV4};
			if (dc_node_addr_mode(n->ipv6, 6) == DC_ADDR_STATIC)
				addrs[naddrs++] = (struct keyed){n->ipv6, order++, r, n, DC_NODE_IPV6};
		}
	}
	report_duplicates(c, codes, ncodes, true, duplicate_code);
	report_duplicates(c, names, nnames, false, duplicate_name);
	report_duplicates(c, addrs, naddrs, false, duplicate_address);
	free(codes);
	free(names);
	free(addrs);
}

static void check_whole_map(struct check *c)
{
	const struct dc_derpmap *m = c->map;
	if (m->shape == DC_SHAPE_DERPMAP && !m->has_regions) {
		struct dc_finding *x = add(c, DC_SEV_ERROR, "regions-missing", m->path, m->at,
					   "the DERP map has no \"Regions\"");
		dc_finding_hint(x, "add %s", dialect(c) == DC_DIALECT_JSON ? "\"Regions\": {\"900\": {...}}" : "regions: with 900: under it");
	}
	if (m->shape != DC_SHAPE_POLICY)
		goto single;
	bool any_custom = false;
	for (size_t i = 0; i < m->region_count; i++)
		any_custom |= !m->regions[i].removed;
	if (m->omit_default_regions && !any_custom) {
		char path[512];
		snprintf(path, sizeof(path), "%s.omitDefaultRegions", m->path);
		struct dc_finding *x = add(c, DC_SEV_WARNING, "omit-defaults-without-regions", path, m->omit_at,
					   "omitDefaultRegions has no effect without regions of your own; clients keep Tailscale's defaults");
		dc_finding_hint(x, "define your regions under \"Regions\", or remove omitDefaultRegions");
	}
single:;
	/* The regions clients end up with. */
	size_t usable = 0;
	int64_t last = 0;
	if (m->shape == DC_SHAPE_POLICY && c->defaults) {
		struct dc_derpmap merged;
		struct dc_merge_summary s;
		dc_derpmap_merge(m, c->defaults, &merged, &s);
		usable = merged.region_count;
		if (usable)
			last = merged.regions[0].id;
		dc_derpmap_free(&merged);
		dc_merge_summary_free(&s);
	} else if (m->shape == DC_SHAPE_POLICY || m->shape == DC_SHAPE_DERPMAP || m->shape == DC_SHAPE_HEADSCALE) {
		for (size_t i = 0; i < m->region_count; i++)
			if (!m->regions[i].removed) {
				usable++;
				last = m->regions[i].id;
			}
	}
	if (usable == 1 && (m->shape == DC_SHAPE_DERPMAP || m->shape == DC_SHAPE_HEADSCALE || c->defaults)) {
		const struct dc_derp_region *r = dc_derpmap_region(m, last);
		c->region = r;
		struct dc_finding *x = add(c, DC_SEV_WARNING, "single-region", r ? r->path : m->path, r ? r->at : m->at,
					   "clients get a single DERP region; if it goes down, peers that cannot connect directly lose each other");
		if (m->shape == DC_SHAPE_HEADSCALE)
			dc_finding_hint(x, "add a second region on another host, or keep Tailscale's default map in derp.urls");
		else
			dc_finding_hint(x, "add a second region on another host, or keep Tailscale's default regions (omitDefaultRegions false)");
		c->region = NULL;
	}
	for (size_t i = 0; i < m->score_count; i++) {
		const struct dc_region_score *s = &m->scores[i];
		if (!dc_derpmap_region(m, s->region_id) && !is_default_region(c, s->region_id)) {
			char path[512];
			snprintf(path, sizeof(path), "%s%sHomeParams.RegionScore.%lld", m->path, *m->path ? "." : "",
				 (long long)s->region_id);
			struct dc_finding *x = add(c, DC_SEV_WARNING, "score-unknown-region", path, s->at,
						   "RegionScore names region %lld, which is not in the map", (long long)s->region_id);
			dc_finding_hint(x, "remove the score or fix the region ID");
		}
	}
}

void dc_validate(const struct dc_derpmap *map, const struct dc_derpmap *defaults, struct dc_findings *findings)
{
	struct check c = {.map = map, .defaults = defaults, .f = findings};
	if (map->shape == DC_SHAPE_POLICY_NO_MAP)
		return;
	for (size_t i = 0; i < map->region_count; i++) {
		c.region = &map->regions[i];
		check_region(&c, &map->regions[i]);
	}
	c.region = NULL;
	check_duplicates(&c);
	check_whole_map(&c);
}
