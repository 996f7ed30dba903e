#include "derpcheck/judge/peerpath.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *dc_reason_code(enum dc_reason reason)
{
	switch (reason) {
	case DC_REASON_NONE: return "none";
	case DC_REASON_PEER_OFFLINE: return "peer-offline";
	case DC_REASON_PEER_IDLE: return "peer-idle";
	case DC_REASON_KEY_EXPIRED: return "peer-key-expired";
	case DC_REASON_NO_HANDSHAKE: return "no-handshake";
	case DC_REASON_NO_DERP_HOME: return "peer-no-derp-home";
	case DC_REASON_NO_ENDPOINTS_HERE: return "no-endpoints-here";
	case DC_REASON_OUR_UDP_BLOCKED: return "our-udp-blocked";
	case DC_REASON_PEER_NO_ENDPOINTS: return "peer-no-endpoints";
	case DC_REASON_PEER_UDP_BLOCKED: return "peer-udp-blocked";
	case DC_REASON_HARD_NAT_LIKELY: return "hard-nat-likely";
	case DC_REASON_PEER_UDP_OR_HARD_NAT: return "peer-udp-or-hard-nat";
	case DC_REASON_UNKNOWN: return "unknown";
	case DC_REASON_OUR_HARD_NAT: return "our-hard-nat";
	case DC_REASON_PEER_HARD_NAT_LIKELY: return "peer-hard-nat-likely";
	}
	return "unknown";
}

bool dc_peer_not_direct(const struct dc_peer_view *v)
{
	return v->state == DC_PEER_RELAYED || v->state == DC_PEER_NO_PATH;
}

const char *dc_peer_state_name(enum dc_peer_state state)
{
	switch (state) {
	case DC_PEER_DIRECT: return "direct";
	case DC_PEER_RELAYED: return "relayed";
	case DC_PEER_NO_PATH: return "no-path";
	case DC_PEER_IDLE: return "idle";
	case DC_PEER_OFFLINE: return "offline";
	}
	return "?";
}

const char *dc_path_kind_name(enum dc_path_kind path)
{
	switch (path) {
	case DC_PATH_NONE: return "none";
	case DC_PATH_DIRECT: return "direct";
	case DC_PATH_PEER_RELAY: return "peer-relay";
	case DC_PATH_DERP: return "derp";
	}
	return "none";
}

void dc_format_age(int64_t seconds, char *out, size_t size)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60)
		snprintf(out, size, "%llds", (long long)seconds);
	else if (seconds < 3600)
		snprintf(out, size, "%lldm", (long long)(seconds / 60));
	else if (seconds < 86400)
		snprintf(out, size, "%lldh", (long long)(seconds / 3600));
	else
		snprintf(out, size, "%lldd", (long long)(seconds / 86400));
}

static bool v4_is_public(const unsigned char *a)
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return false; /* "this network", RFC 1918, loopback, multicast and reserved */
	if (a[0] == 100 && (a[1] & 0xC0) == 64)
		return false; /* 100.64.0.0/10: carrier-grade NAT (and Tailscale's own range) */
	if (a[0] == 169 && a[1] == 254)
		return false; /* link-local */
	if (a[0] == 172 && (a[1] & 0xF0) == 16)
		return false;
	if (a[0] == 192 && a[1] == 168)
		return false;
	/* Documentation ranges (192.0.2.0/24, ...) count as public: examples use them. */
	return true;
}

bool dc_endpoint_is_public(const char *endpoint)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *start = endpoint, *end;
	if (*endpoint == '[') {
		start = endpoint + 1;
		end = strchr(start, ']');
	} else {
		end = strrchr(endpoint, ':');
		if (end && strchr(endpoint, ':') != end)
			end = NULL; /* several colons without brackets: not ip:port */
	}
	if (!end || (size_t)(end - start) >= sizeof(host))
		return false;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) == 1)
		return v4_is_public(a);
	if (inet_pton(AF_INET6, host, a) != 1)
		return false;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return v4_is_public(a + 12);
	/* Global unicast is 2000::/3; link-local, ULA, loopback and multicast are not. */
	return (a[0] & 0xE0) == 0x20;
}

/* "phone.tail1234.ts.net." without the tailnet's suffix and the final dot. */
static char *short_name(const struct dc_peer_status *p, const char *suffix)
{
	size_t n = strlen(p->dns_name);
	if (n && p->dns_name[n - 1] == '.')
		n--;
	size_t sn = strlen(suffix);
	if (sn && suffix[sn - 1] == '.')
		sn--;
	if (sn && n > sn + 1 && p->dns_name[n - sn - 1] == '.' && strncasecmp(p->dns_name + n - sn, suffix, sn) == 0)
		n -= sn + 1;
	if (n)
		return dc_xstrndup(p->dns_name, n);
	if (*p->host_name)
		return dc_xstrdup(p->host_name);
	if (p->ip_count)
		return dc_xstrdup(p->ips[0]);
	if (*p->key)
		return dc_xstrndup(p->key, strnlen(p->key, 16));
	return dc_xstrdup("(unnamed)");
}

static struct dc_region_ref region_of(const char *code, const struct dc_derpmap *map)
{
	struct dc_region_ref ref = {.code = code, .name = ""};
	if (!*code || !map)
		return ref;
	for (size_t i = 0; i < map->region_count; i++) {
		const struct dc_derp_region *r = &map->regions[i];
		if (!r->removed && r->code && strcmp(r->code, code) == 0) {
			ref.id = r->id;
			ref.name = r->name ? r->name : "";
			ref.custom = r->id >= 900 && r->id <= 999;
			break;
		}
	}
	return ref;
}

/* "203.0.113.5:7777:vni:12" -> endpoint "203.0.113.5:7777", vni 12. */
static void split_peer_relay(const char *text, char **endpoint, int64_t *vni)
{
	const char *mark = strstr(text, ":vni:");
	long long v;
	*vni = -1;
	if (mark && dc_parse_int(mark + 5, 0, INT64_MAX, &v) == 0) {
		*endpoint = dc_xstrndup(text, (size_t)(mark - text));
		*vni = v;
	} else {
		*endpoint = dc_xstrdup(text);
	}
}

static bool is_hidden(const struct dc_peer_status *p)
{
	/* `tailscale status` hides nodes shared in as sharees and Mullvad exit nodes. */
	size_t n = strlen(p->dns_name);
	static const char mullvad[] = "mullvad.ts.net.";
	size_t m = sizeof(mullvad) - 1;
	return p->sharee_node || (n >= m && strcasecmp(p->dns_name + n - m, mullvad) == 0);
}

static const char *first_public(char *const *addrs, size_t n, size_t *count)
{
	const char *first = NULL;
	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (dc_endpoint_is_public(addrs[i])) {
			if (!first)
				first = addrs[i];
			(*count)++;
		}
	return first;
}

static void set_reason(struct dc_peer_view *v, enum dc_reason reason, char *message, char *fix)
{
	v->reason = reason;
	v->message = message;
	v->fix = fix;
}

static const char hard_nat_fix[] =
	"run `tailscale netcheck` on both machines: \"MappingVariesByDestIP: true\" marks a hard NAT; "
	"give that side NAT-PMP, PCP or UPnP on the router, a port forward of UDP 41641 to the machine "
	"(tailscaled --port=41641), or IPv6 on both sides";

static void explain_not_direct(struct dc_peer_view *v, const struct dc_tailnet_report *r, int64_t now)
{
	const struct dc_peer_status *p = v->st;
	const char *name = v->name;
	char age[16];
	if (p->online == DC_NO) {
		char seen[48] = "";
		if (p->last_seen) {
			dc_format_age(now - p->last_seen, age, sizeof(age));
			snprintf(seen, sizeof(seen), " (last seen %s ago)", age);
		}
		set_reason(v, DC_REASON_PEER_OFFLINE,
			   dc_xasprintf("the control server reports %s offline%s%s", name, seen,
					v->active ? "; traffic to it goes to its last home DERP region" : ""),
			   dc_xasprintf("bring %s online: start Tailscale on it and check its internet connection", name));
		return;
	}
	if (p->expired) {
		set_reason(v, DC_REASON_KEY_EXPIRED,
			   dc_xasprintf("%s's node key has expired, so it cannot connect to anyone", name),
			   dc_xasprintf("re-authenticate %s (tailscale up), or disable key expiry for it in the admin console", name));
		return;
	}
	if (!v->active) {
		set_reason(v, DC_REASON_PEER_IDLE,
			   dc_xasprintf("no traffic to %s in the last %d s; tailscaled only keeps a path while traffic flows, so there is none to judge",
					name, DC_ACTIVE_WINDOW_S),
			   dc_xasprintf("send it traffic (tailscale ping %s), then look at its path again", name));
		return;
	}
	if (p->last_handshake == 0) {
		set_reason(v, DC_REASON_NO_HANDSHAKE,
			   dc_xasprintf("tailscaled is sending to %s, but no WireGuard handshake has completed, not even through DERP",
					name),
			   dc_xasprintf("check that %s is online and its tailscaled runs; `tailscale ping %s` shows whether it answers at all",
					name, name));
		return;
	}
	if (v->path == DC_PATH_NONE) {
		set_reason(v, DC_REASON_NO_DERP_HOME,
			   dc_xasprintf("tailscaled is sending to %s, but has neither a direct path nor a home DERP region for it",
					name),
			   dc_xasprintf("%s is probably connected to no DERP server: run `tailscale netcheck` there and check it reaches the DERP servers on TCP 443",
					name));
		return;
	}
	if (v->path == DC_PATH_PEER_RELAY) {
		set_reason(v, DC_REASON_HARD_NAT_LIKELY,
			   dc_xasprintf("UDP works on both sides (the peer relay carries UDP), yet no direct path formed: the usual cause is a NAT that maps each destination to a new port (hard NAT) on one or both sides"),
			   dc_xasprintf("the peer relay is Tailscale's remedy for this; for a direct path, %s", hard_nat_fix));
		return;
	}
	/* Through DERP: what do the endpoints say? */
	if (r->self_endpoints_reported && r->self_endpoints == 0) {
		set_reason(v, DC_REASON_NO_ENDPOINTS_HERE,
			   dc_xasprintf("this node reports no UDP endpoints at all, so %s has nothing to send to directly", name),
			   dc_xasprintf("check tailscaled's log (journalctl -u tailscaled) for magicsock errors, and run `tailscale netcheck`"));
		return;
	}
	if (r->self_endpoints_reported && r->self_public == 0) {
		set_reason(v, DC_REASON_OUR_UDP_BLOCKED,
			   dc_xasprintf("this node's %zu endpoint%s %s private: STUN found no public address, so outbound UDP is probably blocked on this network",
					r->self_endpoints, r->self_endpoints == 1 ? "" : "s", r->self_endpoints == 1 ? "is" : "are all"),
			   dc_xasprintf("allow outbound UDP from this machine (to the DERP servers' STUN port 3478 and to peers on any port; tailscaled uses 41641); `tailscale netcheck` says \"UDP: false\" while it is blocked"));
		return;
	}
	size_t peer_public = 0;
	const char *peer_example = first_public(p->addrs, p->addr_count, &peer_public);
	if (p->addrs_reported && p->addr_count == 0) {
		set_reason(v, DC_REASON_PEER_NO_ENDPOINTS,
			   dc_xasprintf("%s advertises no endpoints at all, so there is nothing to try directly", name),
			   dc_xasprintf("on %s: check that outbound UDP is allowed and tailscaled runs normally (`tailscale netcheck` there)",
					name));
		return;
	}
	if (p->addrs_reported && peer_public == 0) {
		set_reason(v, DC_REASON_PEER_UDP_BLOCKED,
			   dc_xasprintf("%s advertises only private addresses (%s): its STUN found no public address, so UDP is probably blocked on its network",
					name, p->addrs[0]),
			   dc_xasprintf("on %s: allow outbound UDP; `tailscale netcheck` there says \"UDP: false\" while it is blocked", name));
		return;
	}
	if (r->self_public && p->addrs_reported) {
		set_reason(v, DC_REASON_HARD_NAT_LIKELY,
			   dc_xasprintf("both sides have public UDP endpoints (here %s, %s %s), yet no direct path formed: the usual cause is a NAT that maps each destination to a new port (hard NAT) on one or both sides",
					r->self_public_example, name, peer_example),
			   dc_xasprintf("%s", hard_nat_fix));
		return;
	}
	if (r->self_public) {
		set_reason(v, DC_REASON_PEER_UDP_OR_HARD_NAT,
			   dc_xasprintf("UDP works here (this node has the public endpoint %s); tailscaled does not report %s's endpoints, so either UDP is blocked on %s's network or a NAT maps each destination to a new port (hard NAT) on either side",
					r->self_public_example, name, name),
			   dc_xasprintf("run `tailscale netcheck` on %s (\"UDP: false\" means UDP is blocked there) and on both machines (\"MappingVariesByDestIP: true\" marks a hard NAT: use NAT-PMP, PCP or UPnP, a port forward of UDP 41641, or IPv6)",
					name));
		return;
	}
	set_reason(v, DC_REASON_UNKNOWN,
		   dc_xasprintf("this tailscaled reports the endpoints of neither side, so the status alone cannot tell why"),
		   dc_xasprintf("run `tailscale netcheck` on both machines: \"UDP: false\" means UDP is blocked; \"MappingVariesByDestIP: true\" marks a hard NAT"));
}

static void classify(struct dc_peer_view *v, const struct dc_derpmap *map, int64_t now)
{
	const struct dc_peer_status *p = v->st;
	v->home = region_of(p->relay, map);
	v->relay_vni = -1;
	if (p->active == DC_UNKNOWN) {
		v->active_inferred = true;
		v->active = p->last_handshake && now - p->last_handshake <= DC_INFERRED_ACTIVE_S;
	} else {
		v->active = p->active == DC_YES;
	}
	if (!v->active) {
		v->state = p->online == DC_NO ? DC_PEER_OFFLINE : DC_PEER_IDLE;
		return;
	}
	/* tailscale status: relay only when neither CurAddr nor PeerRelay is set. */
	if (*p->cur_addr) {
		v->path = DC_PATH_DIRECT;
		v->state = DC_PEER_DIRECT;
	} else if (*p->peer_relay) {
		v->path = DC_PATH_PEER_RELAY;
		v->state = DC_PEER_RELAYED;
		split_peer_relay(p->peer_relay, &v->relay_endpoint, &v->relay_vni);
	} else if (*p->relay) {
		v->path = DC_PATH_DERP;
		v->state = DC_PEER_RELAYED;
	} else {
		v->state = DC_PEER_NO_PATH;
	}
}

static int compare_views(const void *pa, const void *pb)
{
	const struct dc_peer_view *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	c = strcmp(a->st->ip_count ? a->st->ips[0] : "", b->st->ip_count ? b->st->ips[0] : "");
	if (c)
		return c;
	return strcmp(a->st->key, b->st->key);
}

static void explain_backend(struct dc_tailnet_report *r)
{
	const struct dc_status *st = r->status;
	const char *state = st->backend_state;
	r->running = strcmp(state, "Running") == 0 || (!*state && st->peer_count > 0);
	if (r->running)
		return;
	if (strcmp(state, "Stopped") == 0) {
		r->state_message = dc_xstrdup("Tailscale is stopped on this node");
		r->state_fix = dc_xstrdup("start it: tailscale up");
	} else if (strcmp(state, "NeedsLogin") == 0) {
		r->state_message = dc_xstrdup("this node is logged out");
		r->state_fix = *st->auth_url ? dc_xasprintf("log in at %s", st->auth_url) : dc_xstrdup("log in: tailscale up");
	} else if (strcmp(state, "NeedsMachineAuth") == 0) {
		r->state_message = dc_xstrdup("this machine is not yet approved by the tailnet admin");
		r->state_fix = dc_xstrdup("approve it in the admin console (Machines)");
	} else if (strcmp(state, "Starting") == 0) {
		r->state_message = dc_xstrdup("tailscaled is still starting");
		r->state_fix = dc_xstrdup("wait a few seconds and look again");
	} else {
		r->state_message = dc_xasprintf("tailscaled is not running a session (BackendState %s)", *state ? state : "missing");
		r->state_fix = dc_xstrdup("bring it up: tailscale up");
	}
}

void dc_tailnet_analyze(const struct dc_status *st, const struct dc_derpmap *map, int64_t now,
			struct dc_tailnet_report *out)
{
	memset(out, 0, sizeof(*out));
	out->status = st;
	explain_backend(out);
	if (st->have_self) {
		out->self_name = short_name(&st->self, st->magic_dns_suffix);
		out->self_home = region_of(st->self.relay, map);
		out->self_endpoints_reported = st->self.addrs_reported;
		out->self_endpoints = st->self.addr_count;
		out->self_public_example = first_public(st->self.addrs, st->self.addr_count, &out->self_public);
	} else {
		out->self_name = dc_xstrdup("");
		out->self_home = region_of("", map);
	}
	out->peers = dc_xcalloc(st->peer_count, sizeof(*out->peers));
	for (size_t i = 0; i < st->peer_count; i++) {
		const struct dc_peer_status *p = &st->peers[i];
		if (is_hidden(p)) {
			out->hidden++;
			continue;
		}
		struct dc_peer_view *v = &out->peers[out->count++];
		v->st = p;
		v->name = short_name(p, st->magic_dns_suffix);
		classify(v, map, now);
		out->activity_inferred |= v->active_inferred;
	}
	qsort(out->peers, out->count, sizeof(*out->peers), compare_views);
	for (size_t i = 0; i < out->count; i++) {
		struct dc_peer_view *v = &out->peers[i];
		if (v->state != DC_PEER_DIRECT)
			explain_not_direct(v, out, now);
		switch (v->state) {
		case DC_PEER_DIRECT: out->direct++; break;
		case DC_PEER_RELAYED:
			out->relayed++;
			if (v->path == DC_PATH_DERP)
				out->derp++;
			else
				out->peer_relay++;
			break;
		case DC_PEER_NO_PATH: out->no_path++; break;
		case DC_PEER_IDLE: out->idle++; break;
		case DC_PEER_OFFLINE: out->offline++; break;
		}
	}
}

void dc_tailnet_report_free(struct dc_tailnet_report *r)
{
	for (size_t i = 0; i < r->count; i++) {
		free(r->peers[i].name);
		free(r->peers[i].relay_endpoint);
		free(r->peers[i].message);
		free(r->peers[i].fix);
	}
	free(r->peers);
	free(r->self_name);
	free(r->state_message);
	free(r->state_fix);
	memset(r, 0, sizeof(*r));
}

static bool matches(const struct dc_peer_view *v, const char *q)
{
	const struct dc_peer_status *p = v->st;
	size_t qn = strlen(q);
	if (strcasecmp(v->name, q) == 0 || strcasecmp(p->host_name, q) == 0 || strcasecmp(p->dns_name, q) == 0)
		return true;
	/* The MagicDNS name without its final dot. */
	size_t dn = strlen(p->dns_name);
	if (dn == qn + 1 && p->dns_name[qn] == '.' && strncasecmp(p->dns_name, q, qn) == 0)
		return true;
	for (size_t i = 0; i < p->ip_count; i++)
		if (strcmp(p->ips[i], q) == 0)
			return true;
	return (*p->key && strcmp(p->key, q) == 0) || (*p->public_key && strcmp(p->public_key, q) == 0) ||
	       (*p->id && strcmp(p->id, q) == 0);
}

const struct dc_peer_view *dc_tailnet_find_peer(const struct dc_tailnet_report *r, const char *query,
						const struct dc_peer_view **second)
{
	const struct dc_peer_view *found = NULL;
	*second = NULL;
	for (size_t i = 0; i < r->count; i++) {
		if (!matches(&r->peers[i], query))
			continue;
		if (!found) {
			found = &r->peers[i];
		} else {
			*second = &r->peers[i];
			break;
		}
	}
	return found;
}

static bool guessed_udp_or_nat(enum dc_reason r)
{
	return r == DC_REASON_OUR_UDP_BLOCKED || r == DC_REASON_HARD_NAT_LIKELY || r == DC_REASON_PEER_UDP_OR_HARD_NAT ||
	       r == DC_REASON_UNKNOWN || r == DC_REASON_NO_ENDPOINTS_HERE;
}

void dc_tailnet_apply_measurement(struct dc_tailnet_report *r, const struct dc_nat_measurement *m)
{
	for (size_t i = 0; i < r->count; i++) {
		struct dc_peer_view *v = &r->peers[i];
		if (!dc_peer_not_direct(v) || !guessed_udp_or_nat(v->reason))
			continue;
		const char *name = v->name;
		free(v->message);
		free(v->fix);
		if (!m->udp && m->udp_detail && *m->udp_detail) {
			/* The evidence says which: no UDP at all, STUN ports closed, STUN on other ports. */
			set_reason(v, DC_REASON_OUR_UDP_BLOCKED,
				   dc_xasprintf("measured: no STUN server answered this machine (%s), so it learns no public endpoint and %s can only be reached through DERP",
						m->udp_detail, name),
				   dc_xasprintf("%s", m->udp_hint && *m->udp_hint ? m->udp_hint
									   : "allow outbound UDP from this machine to the DERP servers' STUN ports and to peers (tailscaled uses 41641)"));
		} else if (!m->udp) {
			set_reason(v, DC_REASON_OUR_UDP_BLOCKED,
				   dc_xasprintf("measured: UDP is blocked on this network (no STUN server answered), so %s can only be reached through DERP",
						name),
				   dc_xasprintf("allow outbound UDP from this machine to the DERP servers' STUN ports and to peers (tailscaled uses 41641)"));
		} else if (m->mapping_varies == 1) {
			set_reason(v, DC_REASON_OUR_HARD_NAT,
				   dc_xasprintf("measured: this machine's NAT maps per destination (hard NAT)%s%s%s, so %s cannot reach the port the STUN servers saw",
						m->detail && *m->detail ? " (" : "", m->detail ? m->detail : "",
						m->detail && *m->detail ? ")" : "", name),
				   dc_xasprintf("enable NAT-PMP, PCP or UPnP on this network's router, forward UDP 41641 to this machine (tailscaled --port=41641), or use IPv6"));
		} else if (m->mapping_varies == 0) {
			set_reason(v, DC_REASON_PEER_HARD_NAT_LIKELY,
				   dc_xasprintf("measured: UDP works here and this machine's NAT keeps one mapping for every destination (%s), so the obstacle is on %s's side: UDP blocked there or a hard NAT",
						m->global_v4 && *m->global_v4 ? m->global_v4 : "no NAT", name),
				   dc_xasprintf("run tailscale netcheck on %s: \"UDP: false\" means UDP is blocked there, \"MappingVariesByDestIP: true\" a hard NAT (fix with NAT-PMP, PCP or UPnP, a port forward of UDP 41641, or IPv6)",
						name));
		} else {
			set_reason(v, DC_REASON_PEER_UDP_OR_HARD_NAT,
				   dc_xasprintf("measured: UDP works here, but only one STUN server address answered, so this machine's NAT mapping could not be classified; either side may have a hard NAT or %s's UDP is blocked",
						name),
				   dc_xasprintf("add a second STUN server to the map (or give derpcheck netcheck --extra-stun HOST), and run tailscale netcheck on %s",
						name));
		}
	}
}
