#include "derpcheck/judge/hscheck.h"

#include "derpcheck/input/mapchoice.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct hcheck {
	const struct dc_headscale *hs;
	const struct dc_hs_config *cfg;
	const struct dc_derpmap *built;
	struct dc_findings *f;
};

static struct dc_finding *add(struct hcheck *c, const char *file, enum dc_severity sev, const char *code,
			      const char *path, struct dc_srcpos pos, const char *fmt, ...) DC_PRINTF(7, 8);
static struct dc_finding *add(struct hcheck *c, const char *file, enum dc_severity sev, const char *code,
			      const char *path, struct dc_srcpos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *saved = c->f->file;
	if (file)
		c->f->file = file;
	struct dc_finding *x = dc_findings_add(c->f, sev, code, path, pos, "%s", msg);
	c->f->file = saved;
	return x;
}

/* The position of a config value, or of the section it belongs in when it is not written. */
static struct dc_srcpos at_or(const struct dc_hs_value *v, struct dc_srcpos fallback)
{
	return v->set ? v->at : fallback;
}

static struct dc_srcpos server_pos(const struct hcheck *c)
{
	if (c->cfg->server_at.line)
		return c->cfg->server_at;
	return c->cfg->derp_at;
}

/* ---- addresses ----------------------------------------------------------------------- */

enum addr_scope { SCOPE_PUBLIC, SCOPE_LOOPBACK, SCOPE_PRIVATE, SCOPE_DOCUMENTATION, SCOPE_UNSPECIFIED };

static enum addr_scope ip_scope(const char *text)
{
	unsigned char a[16];
	char host[128];
	snprintf(host, sizeof(host), "%s", text);
	if (host[0] == '[') { /* [::1] as written in a URL */
		memmove(host, host + 1, strlen(host));
		char *end = strchr(host, ']');
		if (end)
			*end = '\0';
	}
	if (inet_pton(AF_INET, host, a) == 1) {
		uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
		if (v == 0)
			return SCOPE_UNSPECIFIED;
		if (a[0] == 127)
			return SCOPE_LOOPBACK;
		if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
		    (a[0] == 100 && (a[1] & 0xC0) == 64) || (a[0] == 169 && a[1] == 254))
			return SCOPE_PRIVATE;
		/* RFC 5737 documentation ranges, and the 1.2.3.4 of older config-example.yaml */
		if ((a[0] == 192 && a[1] == 0 && a[2] == 2) || (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
		    (a[0] == 203 && a[1] == 0 && a[2] == 113) || v == 0x01020304)
			return SCOPE_DOCUMENTATION;
		return SCOPE_PUBLIC;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char zero[16];
		if (memcmp(a, zero, 15) == 0 && a[15] == 1)
			return SCOPE_LOOPBACK;
		if (memcmp(a, zero, 16) == 0)
			return SCOPE_UNSPECIFIED;
		if ((a[0] & 0xFE) == 0xFC || (a[0] == 0xFE && (a[1] & 0xC0) == 0x80))
			return SCOPE_PRIVATE;
		if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) /* RFC 3849 */
			return SCOPE_DOCUMENTATION;
		return SCOPE_PUBLIC;
	}
	if (strcasecmp(host, "localhost") == 0 || (strlen(host) > 10 && strcasecmp(host + strlen(host) - 10, ".localhost") == 0))
		return SCOPE_LOOPBACK;
	static const char *const local_suffixes[] = {".local", ".lan", ".internal", ".home.arpa"};
	for (size_t i = 0; i < DC_ARRAY_LEN(local_suffixes); i++) {
		size_t n = strlen(host), k = strlen(local_suffixes[i]);
		if (n > k && strcasecmp(host + n - k, local_suffixes[i]) == 0)
			return SCOPE_PRIVATE;
	}
	return SCOPE_PUBLIC;
}

/* ---- the embedded region ------------------------------------------------------------- */

static const struct dc_derp_region *embedded_region(const struct hcheck *c)
{
	if (!c->hs->embedded)
		return NULL;
	return &c->hs->sources[c->hs->embedded_source].map.regions[0];
}

static void check_server_url(struct hcheck *c, const struct dc_derp_region *r)
{
	const struct dc_hs_value *u = &c->cfg->server_url;
	const struct dc_derp_node *n = &r->nodes[0];
	if (strncasecmp(u->string, "http://", 7) == 0) {
		struct dc_finding *x = add(c, NULL, DC_SEV_ERROR, "headscale-server-url-http", "server_url", u->at,
					   "server_url is http://, so the embedded region tells clients to speak TLS to %s port %lld, where Headscale answers plain HTTP; DERP needs TLS",
					   n->host_name, (long long)n->derp_port);
		dc_finding_hint(x, "serve Headscale over HTTPS (tls_letsencrypt_hostname, tls_cert_path, or a TLS reverse proxy) and write server_url: https://%s",
				n->host_name);
	}
	switch (ip_scope(n->host_name)) {
	case SCOPE_LOOPBACK:
	case SCOPE_UNSPECIFIED: {
		struct dc_finding *x = add(c, NULL, DC_SEV_ERROR, "headscale-server-url-loopback", "server_url", u->at,
					   "server_url names %s, so every client is told to reach the embedded DERP server at its own machine",
					   n->host_name);
		dc_finding_hint(x, "write the public name clients reach Headscale at, e.g. server_url: https://headscale.example.com");
		break;
	}
	case SCOPE_PRIVATE: {
		struct dc_finding *x = add(c, NULL, DC_SEV_WARNING, "headscale-server-url-private", "server_url", u->at,
					   "server_url names %s, a private address: only clients inside that network reach the embedded DERP server; remote clients cannot relay through it",
					   n->host_name);
		dc_finding_hint(x, "if clients connect from outside, write the public name or address they reach Headscale at in server_url");
		break;
	}
	default:
		break;
	}
}

static void check_stun(struct hcheck *c, const struct dc_derp_region *r)
{
	const struct dc_hs_value *s = &c->cfg->stun_listen_addr;
	const char *addr = s->string;
	const char *colon = strrchr(addr, ':');
	char host[128];
	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - addr) : (int)strlen(addr), addr);
	enum addr_scope scope = *host ? ip_scope(host) : SCOPE_UNSPECIFIED;
	if (scope == SCOPE_LOOPBACK) {
		struct dc_finding *x = add(c, NULL, DC_SEV_ERROR, "headscale-stun-listen-unreachable", "derp.server.stun_listen_addr",
					   s->at,
					   "STUN listens on %s only, so no client ever gets a STUN answer from region %lld and it can never be measured or chosen as home",
					   host, (long long)r->id);
		dc_finding_hint(x, "listen on every address: stun_listen_addr: \"0.0.0.0:%lld\"", (long long)r->nodes[0].stun_port);
	} else if (r->nodes[0].stun_port == 0) {
		struct dc_finding *x = add(c, NULL, DC_SEV_ERROR, "headscale-stun-listen-unreachable", "derp.server.stun_listen_addr",
					   s->at,
					   "port 0 makes Headscale listen for STUN on a random port, while the map tells clients STUNPort 0, which they read as 3478");
		dc_finding_hint(x, "write stun_listen_addr: \"0.0.0.0:3478\" and open UDP 3478");
	} else if (r->nodes[0].stun_port < 0 || r->nodes[0].stun_port > 65535) {
		struct dc_finding *x = add(c, NULL, DC_SEV_ERROR, "headscale-stun-listen-unreachable", "derp.server.stun_listen_addr",
					   s->at, "%lld is not a UDP port: Headscale cannot listen there and refuses to start",
					   (long long)r->nodes[0].stun_port);
		dc_finding_hint(x, "write stun_listen_addr: \"0.0.0.0:3478\"");
	}
}

static void check_documentation_address(struct hcheck *c, const struct dc_hs_value *v, const char *key, const char *host)
{
	if (!v->set || !v->string || !*v->string || ip_scope(v->string) != SCOPE_DOCUMENTATION)
		return;
	char path[64];
	snprintf(path, sizeof(path), "derp.server.%s", key);
	struct dc_finding *x = add(c, NULL, DC_SEV_ERROR, "headscale-documentation-address", path, v->at,
				   "%s is an example address (from Headscale's documentation): clients dial it instead of looking up %s, and nothing answers there",
				   v->string, host);
	dc_finding_hint(x, "write the server's public %s address, or remove %s: to let clients use DNS",
			strcmp(key, "ipv4") == 0 ? "IPv4" : "IPv6", key);
}

/* Region summaries for "show both": code and the first node's host. */
static void region_brief(const struct dc_derp_region *r, char *out, size_t n)
{
	snprintf(out, n, "\"%s\"%s%s", *r->code ? r->code : "(no code)", r->node_count ? ", node " : ", no nodes",
		 r->node_count ? r->nodes[0].host_name : "");
}

static void check_collisions(struct hcheck *c, const struct dc_derp_region *embedded)
{
	const struct dc_headscale *hs = c->hs;
	for (size_t i = 0; i < hs->replaced_count; i++) {
		const struct dc_hs_replacement *rep = &hs->replaced[i];
		if (rep->winner != hs->embedded_source)
			continue;
		const struct dc_hs_source *loser = &hs->sources[rep->loser];
		const struct dc_derp_region *lost = dc_derpmap_region(&loser->map, rep->id);
		char was[256], now[256];
		if (lost)
			region_brief(lost, was, sizeof(was));
		else
			snprintf(was, sizeof(was), "a region");
		region_brief(embedded, now, sizeof(now));
		struct dc_finding *x = add(
			c, NULL, DC_SEV_ERROR, "headscale-region-collision", "derp.server.region_id",
			at_or(&c->cfg->region_id, server_pos(c)),
			"the embedded region %lld (%s) replaces region %lld of %s:%u:%u (%s); Headscale drops that region without a word",
			(long long)rep->id, now, (long long)rep->id, loser->name, rep->loser_at.line, rep->loser_at.col, was);
		if (loser->kind == DC_HS_PATH)
			dc_finding_hint(x, "give the embedded server its own derp.server.region_id (e.g. %lld), or set automatically_add_embedded_derp_region: false if %s describes it",
					(long long)(rep->id == 999 ? 998 : 999), loser->name);
		else
			dc_finding_hint(x, "pick a derp.server.region_id that %s does not use, e.g. 999", loser->name);
	}
}

/* ---- the sources ---------------------------------------------------------------------- */

static bool has_default_url(const struct dc_headscale *hs)
{
	for (size_t i = 0; i < hs->source_count; i++)
		if (hs->sources[i].kind == DC_HS_URL && strcmp(hs->sources[i].spec, DC_MAP_DEFAULT_URL) == 0)
			return true;
	return false;
}

static void check_omit_default_regions(struct hcheck *c)
{
	const struct dc_headscale *hs = c->hs;
	bool defaults = has_default_url(hs);
	for (size_t i = 0; i < hs->source_count; i++) {
		const struct dc_hs_source *s = &hs->sources[i];
		if (!s->map.omit_default_regions)
			continue;
		const char *key = s->kind == DC_HS_PATH ? "omitdefaultregions" : "omitDefaultRegions";
		struct dc_finding *x;
		if (defaults) {
			x = add(c, s->name, DC_SEV_ERROR, "headscale-omit-default-regions", key, s->map.omit_at,
				"Headscale resets OmitDefaultRegions when it merges its maps, so Tailscale's regions from derp.urls stay in the map");
			dc_finding_hint(x, "remove %s here and set derp.urls: [] in %s to drop Tailscale's regions", key,
					hs->config_name);
		} else {
			x = add(c, s->name, DC_SEV_WARNING, "headscale-omit-default-regions", key, s->map.omit_at,
				"Headscale ignores OmitDefaultRegions (it resets it when it merges its maps); here it changes nothing because derp.urls has no Tailscale map");
			dc_finding_hint(x, "remove %s; derp.urls: [] is what keeps Tailscale's regions out", key);
		}
	}
}

static void check_multi_node(struct hcheck *c)
{
	for (size_t i = 0; i < c->built->region_count; i++) {
		const struct dc_derp_region *r = &c->built->regions[i];
		const struct dc_hs_source *s = dc_headscale_region_source(c->hs, r->id);
		if (!s || s->kind != DC_HS_PATH)
			continue;
		size_t relays = 0;
		for (size_t k = 0; k < r->node_count; k++)
			relays += !r->nodes[k].stun_only;
		if (relays < 2)
			continue;
		struct dc_finding *x = add(
			c, s->name, DC_SEV_WARNING, "headscale-multi-node-region", r->path, r->key_at,
			"Headscale shuffles the %zu nodes of region %lld for its clients (seeded by dns.base_domain), so clients pick different first nodes; unless these derpers mesh, clients on different nodes cannot reach each other through this region",
			relays, (long long)r->id);
		/* The command that checks it reads the same configuration (hints run as printed). */
		const char *spec = dc_map_spec_for_command(c->hs->config_name ? c->hs->config_name : c->f->file);
		char cmd[PATH_MAX + 200] = "derpcheck ping --derp-map";
		dc_shell_append(cmd, sizeof(cmd), spec ? spec : "FILE");
		if (spec && c->f->map_format) {
			dc_shell_append(cmd, sizeof(cmd), "--map-format");
			dc_shell_append(cmd, sizeof(cmd), c->f->map_format);
		}
		if (spec && c->f->ca_file) {
			dc_shell_append(cmd, sizeof(cmd), "--ca-file");
			dc_shell_append(cmd, sizeof(cmd), c->f->ca_file);
		}
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)r->id);
		dc_shell_append(cmd, sizeof(cmd), "--mesh");
		dc_shell_append(cmd, sizeof(cmd), id);
		dc_finding_hint(x, "run every derper of the region with the same --mesh-with list and --mesh-psk-file (check with %s%s%s), or give each node a region of its own",
				spec ? "`" : "", cmd, spec ? "`" : "");
	}
}

void dc_headscale_check(const struct dc_headscale *hs, const struct dc_derpmap *built, struct dc_findings *findings)
{
	struct hcheck c = {.hs = hs, .cfg = &hs->cfg, .built = built, .f = findings};
	const struct dc_hs_config *cfg = &hs->cfg;
	struct dc_srcpos server_at = server_pos(&c);
	if (cfg->enabled.boolean) {
		if (!cfg->stun_listen_addr.string || !*cfg->stun_listen_addr.string) {
			struct dc_finding *x = add(&c, NULL, DC_SEV_ERROR, "headscale-stun-listen-missing", "derp.server.stun_listen_addr",
						   at_or(&cfg->stun_listen_addr, at_or(&cfg->enabled, server_at)),
						   "the embedded DERP server is enabled without stun_listen_addr; Headscale refuses to start (\"derp.server.stun_listen_addr must be set\")");
			dc_finding_hint(x, "add stun_listen_addr: \"0.0.0.0:3478\" under derp: server:, and open UDP 3478");
		}
		if (!cfg->auto_add.boolean && cfg->paths.count == 0) {
			struct dc_finding *x = add(&c, NULL, DC_SEV_ERROR, "headscale-embedded-region-missing",
						   "derp.server.automatically_add_embedded_derp_region", at_or(&cfg->auto_add, server_at),
						   "automatically_add_embedded_derp_region is false and derp.paths is empty: no map describes the embedded server, and Headscale refuses to start");
			dc_finding_hint(x, "set automatically_add_embedded_derp_region: true, or list a YAML file that describes the server in derp.paths");
		}
	}
	const struct dc_derp_region *emb = embedded_region(&c);
	if (emb) {
		check_server_url(&c, emb);
		check_stun(&c, emb);
		check_documentation_address(&c, &cfg->ipv4, "ipv4", emb->nodes[0].host_name);
		check_documentation_address(&c, &cfg->ipv6, "ipv6", emb->nodes[0].host_name);
		check_collisions(&c, emb);
	}
	check_omit_default_regions(&c);
	check_multi_node(&c);
	bool unknown = false; /* a source not read: the map shown may lack regions Headscale has */
	for (size_t i = 0; i < hs->source_count; i++)
		unknown |= hs->sources[i].state == DC_HS_SKIPPED && hs->sources[i].kind == DC_HS_URL;
	if (built->region_count == 0 && !unknown) {
		struct dc_finding *x = add(&c, NULL, DC_SEV_ERROR, "headscale-empty-map", "derp", cfg->derp_at,
					   "these settings give an empty DERP map; Headscale refuses to start (\"initial DERPMap is empty\")");
		dc_finding_hint(x, "keep Tailscale's map in derp.urls, list a YAML map in derp.paths, or enable the embedded server (derp.server.enabled: true)");
	}
}
