#include "derpcheck/probe/stuncheck.h"

#include "derpcheck/net/udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Transmissions per probe; the first retransmission comes after a quarter of the timeout. */
#define TRIES 3

const char *dc_stun_kind_name(enum dc_stun_kind k)
{
	switch (k) {
	case DC_STUN_KIND_UNKNOWN: return "unknown";
	case DC_STUN_KIND_DERPER: return "derper";
	case DC_STUN_KIND_GENERIC: return "generic";
	case DC_STUN_KIND_PLAIN_ONLY: return "plain-only";
	case DC_STUN_KIND_SILENT: return "silent";
	}
	return "?";
}

void dc_stun_report_init(struct dc_stun_report *rep, const struct dc_stun_opts *opts)
{
	memset(rep, 0, sizeof(*rep));
	rep->opts = *opts;
	if (rep->opts.count == 0)
		rep->opts.count = 1;
}

static struct dc_stun_target *new_target(struct dc_stun_report *rep, const char *host, int family, uint16_t port)
{
	rep->targets = dc_xrealloc(rep->targets, (rep->ntargets + 1) * sizeof(*rep->targets));
	struct dc_stun_target *t = &rep->targets[rep->ntargets++];
	memset(t, 0, sizeof(*t));
	t->host = dc_xstrdup(host);
	t->family = family;
	t->port = port;
	t->path = dc_xstrdup("");
	return t;
}

void dc_stun_add_host(struct dc_stun_report *rep, const char *host, uint16_t port)
{
	for (int fam = 4; fam <= 6; fam += 2)
		if (!rep->opts.family || rep->opts.family == fam)
			new_target(rep, host, fam, port);
}

void dc_stun_add_region(struct dc_stun_report *rep, const struct dc_derp_region *region)
{
	rep->region = region;
	for (size_t i = 0; i < region->node_count; i++) {
		const struct dc_derp_node *n = &region->nodes[i];
		int port = dc_node_stun_port(n);
		for (int fam = 4; fam <= 6; fam += 2) {
			if (rep->opts.family && rep->opts.family != fam)
				continue;
			struct dc_stun_target *t = new_target(rep, n->host_name, fam, port < 0 ? 0 : (uint16_t)port);
			t->node = n;
			free(t->path);
			t->path = dc_xstrdup(n->path ? n->path : "");
			if (port < 0) {
				t->skipped = true;
				snprintf(t->skip_reason, sizeof(t->skip_reason), "STUN is off for this node (STUNPort %lld)",
					 (long long)n->stun_port);
			}
		}
	}
}

const struct dc_probe_result *dc_stun_probe(const struct dc_stun_report *rep, const struct dc_stun_target *t, size_t k)
{
	return k < t->nprobes ? dc_prober_result(rep->prober, t->first_probe + k) : NULL;
}

const struct dc_probe_result *dc_stun_cross(const struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	return t->has_cross ? dc_prober_result(rep->prober, t->cross_probe) : NULL;
}

static void set_label(struct dc_stun_target *t)
{
	char ep[DC_ENDPOINT_STRLEN];
	free(t->label);
	if (t->skipped || !t->addr.addr.family) {
		if (t->node)
			t->label = dc_xasprintf("%s (IPv%d)", *t->node->name ? t->node->name : t->host, t->family);
		else
			t->label = dc_xasprintf("%s (IPv%d)", t->host, t->family);
		return;
	}
	dc_endpoint_format(&t->addr.addr, ep, sizeof(ep));
	if (t->node)
		t->label = dc_xasprintf("%s %s", *t->node->name ? t->node->name : t->host, ep);
	else if (t->addr.origin == DC_ORIGIN_DNS)
		t->label = dc_xasprintf("%s %s", t->host, ep);
	else
		t->label = dc_xstrdup(ep);
}

/* Resolve every target at once; drop the families a literal host does not have. */
static void resolve_targets(struct dc_stun_report *rep)
{
	struct dc_resolve_req *reqs = dc_xcalloc(rep->ntargets + 1, sizeof(*reqs));
	for (size_t i = 0; i < rep->ntargets; i++) {
		struct dc_stun_target *t = &rep->targets[i];
		if (t->node)
			dc_resolve_node(&reqs[i], t->node, t->port, t->family);
		else
			dc_resolve_host(&reqs[i], t->host, t->port, t->family);
	}
	uint64_t dns_budget = rep->opts.timeout_ns > 1000000000u ? rep->opts.timeout_ns : 1000000000u;
	dc_resolve_run(reqs, rep->ntargets, dc_now_ns() + dns_budget);
	size_t keep = 0;
	for (size_t i = 0; i < rep->ntargets; i++) {
		struct dc_stun_target *t = &rep->targets[i];
		t->addr = *dc_resolved_family(&reqs[i], t->family);
		if (t->addr.origin == DC_ORIGIN_NOT_WANTED) {
			free(t->host);
			free(t->path);
			continue;
		}
		if (!t->skipped && (t->addr.origin == DC_ORIGIN_DISABLED || t->addr.origin == DC_ORIGIN_FAILED)) {
			t->skipped = true;
			memcpy(t->skip_reason, t->addr.note, sizeof(t->skip_reason));
		}
		set_label(t);
		rep->targets[keep++] = *t;
	}
	rep->ntargets = keep;
	free(reqs);
}

/*
 * Once the main style has answered, a server that also answers the other style does so
 * in about the same time: stop waiting for the cross-check after a few RTTs instead of
 * the full timeout (this keeps a derper check as fast as the answers).
 */
static void on_probe_done(struct dc_prober *p, size_t id, const struct dc_probe_result *r, void *user)
{
	struct dc_stun_report *rep = user;
	if (r->status != DC_PROBE_OK || r->spec.tag >= rep->ntargets)
		return;
	const struct dc_stun_target *t = &rep->targets[r->spec.tag];
	if (!t->has_cross || id == t->cross_probe)
		return;
	const struct dc_probe_result *cross = dc_prober_result(p, t->cross_probe);
	uint64_t patience = 4 * r->rtt_ns > 100000000u ? 4 * r->rtt_ns : 100000000u;
	uint64_t until = (cross->first_sent_ns ? cross->first_sent_ns : dc_now_ns()) + r->rtt_ns + patience;
	if (until < cross->spec.start_ns + cross->spec.timeout_ns)
		dc_prober_set_deadline(p, t->cross_probe, until);
}

static void schedule(struct dc_stun_report *rep, uint64_t t0)
{
	const struct dc_stun_opts *o = &rep->opts;
	enum dc_stun_style other = o->style == DC_STUN_STYLE_TAILSCALE ? DC_STUN_STYLE_RFC5389 : DC_STUN_STYLE_TAILSCALE;
	for (size_t i = 0; i < rep->ntargets; i++) {
		struct dc_stun_target *t = &rep->targets[i];
		if (t->skipped)
			continue;
		struct dc_probe_spec s = {
			.dst = t->addr.addr, .style = o->style, .tries = TRIES, .rto_ns = o->timeout_ns / 4,
			.timeout_ns = o->timeout_ns, .tag = i,
		};
		t->first_probe = dc_prober_count(rep->prober);
		t->nprobes = o->count;
		for (unsigned k = 0; k < o->count; k++) {
			s.start_ns = t0 + k * o->interval_ns;
			dc_prober_add(rep->prober, &s);
		}
		if (!o->no_cross_check) {
			/* One request of the other style, alongside the first: tells derper from the rest. */
			s.style = other;
			s.start_ns = t0;
			t->cross_probe = dc_prober_add(rep->prober, &s);
			t->has_cross = true;
		}
	}
}

/* Targets are often on one host (many ports): ask the kernel once per address. */
struct local_cache {
	bool valid;
	struct dc_endpoint dst, local;
};

static bool local_toward_cached(const struct dc_stun_report *rep, struct local_cache *last, const struct dc_endpoint *dst,
				struct dc_endpoint *out)
{
	if (last->valid && dc_ip_equal(&last->dst, dst)) {
		*out = last->local;
		return true;
	}
	if (!dc_udp_local_toward(dst, rep->opts.bind_addr, out))
		return false;
	last->valid = true;
	last->dst = *dst;
	last->local = *out;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool answered(const struct dc_probe_result *r)
{
	return r && (r->status == DC_PROBE_OK || r->status == DC_PROBE_ERROR_RESPONSE);
}

static void summarise(struct dc_stun_report *rep, struct dc_stun_target *t, struct local_cache *cache)
{
	uint64_t *rtts = dc_xcalloc(t->nprobes + 1, sizeof(*rtts));
	uint64_t sum = 0;
	for (size_t k = 0; k < t->nprobes; k++) {
		const struct dc_probe_result *r = dc_stun_probe(rep, t, k);
		t->sent += r->sent;
		t->trailing_bytes += r->reply_trailing ? 1 : 0;
		if (r->has_software && !t->has_software) {
			t->has_software = true;
			memcpy(t->software, r->software, sizeof(t->software));
		}
		if (r->status != DC_PROBE_OK)
			continue;
		rtts[t->answered++] = r->rtt_ns;
		sum += r->rtt_ns;
		if (!t->has_mapped) {
			t->has_mapped = true;
			t->mapped = r->mapped;
		} else if (!dc_endpoint_equal(&t->mapped, &r->mapped) && !t->mapping_changed) {
			t->mapping_changed = true;
			t->mapped_other = r->mapped;
		}
	}
	if (t->answered) {
		qsort(rtts, t->answered, sizeof(*rtts), cmp_u64);
		t->rtt_min = rtts[0];
		t->rtt_max = rtts[t->answered - 1];
		t->rtt_avg = sum / t->answered;
		t->rtt_median = t->answered % 2 ? rtts[t->answered / 2]
						: (rtts[t->answered / 2 - 1] + rtts[t->answered / 2]) / 2;
	}
	free(rtts);

	const struct dc_probe_result *cross = dc_stun_cross(rep, t);
	struct dc_prober_dest_stats ds;
	dc_prober_dest_stats(rep->prober, &t->addr.addr, &ds);
	t->duplicates = ds.duplicates;
	t->late = ds.late;
	t->wrong_source = ds.wrong_source;
	t->wrong_source_addr = ds.wrong_source_addr;
	t->unknown_txid = ds.unknown_txid;
	t->malformed = ds.malformed;
	memcpy(t->malformed_reason, ds.malformed_reason, sizeof(t->malformed_reason));
	if (cross) {
		t->trailing_bytes += cross->reply_trailing ? 1 : 0;
		if (cross->has_software && !t->has_software) {
			t->has_software = true;
			memcpy(t->software, cross->software, sizeof(t->software));
		}
		/* With --style rfc5389 the answer to the cross-check is where the mapping comes from. */
		if (!t->has_mapped && cross->status == DC_PROBE_OK) {
			t->has_mapped = true;
			t->mapped = cross->mapped;
		}
	}
	bool main_ok = false;
	for (size_t k = 0; k < t->nprobes && !main_ok; k++)
		main_ok = answered(dc_stun_probe(rep, t, k));
	if (cross) {
		bool ts = rep->opts.style == DC_STUN_STYLE_TAILSCALE ? main_ok : answered(cross);
		bool plain = rep->opts.style == DC_STUN_STYLE_TAILSCALE ? answered(cross) : main_ok;
		t->kind = ts && plain ? DC_STUN_KIND_GENERIC
			: ts	      ? DC_STUN_KIND_DERPER
			: plain	      ? DC_STUN_KIND_PLAIN_ONLY
				      : DC_STUN_KIND_SILENT;
		/*
		 * Silence only tells something when the requests got there and nothing came back:
		 * not after ICMP or local errors, nor when broken replies came back.
		 */
		bool noise = ds.wrong_source || ds.unknown_txid || ds.malformed;
		if (t->kind == DC_STUN_KIND_SILENT &&
		    (noise || cross->status == DC_PROBE_UNREACHABLE || cross->status == DC_PROBE_SEND_FAILED))
			t->kind = DC_STUN_KIND_UNKNOWN;
		/* An error response is an answer, but says nothing about being derper. */
		if (t->answered == 0 && t->kind == (rep->opts.style == DC_STUN_STYLE_TAILSCALE ? DC_STUN_KIND_DERPER
											 : DC_STUN_KIND_PLAIN_ONLY))
			t->kind = DC_STUN_KIND_UNKNOWN;
	}
	if (t->has_mapped) {
		t->mapped_class = dc_ip_classify(&t->mapped);
		struct dc_endpoint sock;
		if (local_toward_cached(rep, cache, &t->addr.addr, &t->local) &&
		    dc_prober_local(rep->prober, t->family, &sock) == 0) {
			t->local.port = sock.port;
			t->has_local = true;
			t->nat = !dc_endpoint_equal(&t->local, &t->mapped);
		}
	}
}

/* ---- findings ------------------------------------------------------------------ */

const struct dc_probe_result *dc_stun_worst_failure(const struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	static const enum dc_probe_status order[] = {DC_PROBE_SEND_FAILED, DC_PROBE_UNREACHABLE,
						     DC_PROBE_ERROR_RESPONSE, DC_PROBE_TIMEOUT};
	for (size_t o = 0; o < DC_ARRAY_LEN(order); o++)
		for (size_t k = 0; k < t->nprobes; k++) {
			const struct dc_probe_result *r = dc_stun_probe(rep, t, k);
			if (r->status == order[o])
				return r;
		}
	return dc_stun_probe(rep, t, 0);
}

static void unreachable_finding(struct dc_findings *f, const struct dc_stun_target *t, const struct dc_probe_result *r)
{
	struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-unreachable", t->path, (struct dc_srcpos){0},
					       "%s", r->detail);
	char host[DC_ENDPOINT_STRLEN];
	dc_ip_format(&t->addr.addr, host, sizeof(host));
	if (r->icmp_port_closed && r->icmp_from.family && !dc_ip_equal(&r->icmp_from, &t->addr.addr))
		dc_finding_hint(x, "something on the way (%s, not %s) answers UDP port %u as closed: a firewall that "
				   "rejects; allow UDP %u to the server",
				dc_ip_format(&r->icmp_from, (char[DC_ENDPOINT_STRLEN]){0}, DC_ENDPOINT_STRLEN), host, t->port,
				t->port);
	else if (r->icmp_port_closed)
		dc_finding_hint(x, "UDP reaches %s, but nothing listens on UDP port %u there: start the STUN server "
				   "(derper serves STUN on UDP 3478 unless -stun-port says otherwise) or fix the port%s",
				host, t->port, t->node ? " (STUNPort in the map)" : "");
	else if (strstr(r->detail, "prohibited"))
		dc_finding_hint(x, "a firewall actively rejects UDP to port %u: allow it (Tailscale needs UDP %u to every DERP node)",
				t->port, t->port);
	else
		dc_finding_hint(x, "the network reports it cannot deliver to that address: check routing and firewalls between "
				   "here and the server");
}

static void send_failed_finding(struct dc_findings *f, const struct dc_stun_target *t, const struct dc_probe_result *r)
{
	struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-send-failed", t->path, (struct dc_srcpos){0},
					       "%s", r->detail);
	if (r->sys_errno == EPERM || r->sys_errno == EACCES)
		dc_finding_hint(x, "a firewall rule on this machine rejects outgoing UDP (see 'nft list ruleset' or "
				   "'iptables -S OUTPUT'); Tailscale needs outgoing UDP to port %u",
				t->port);
	else if (r->sys_errno == ENETUNREACH || r->sys_errno == EHOSTUNREACH)
		dc_finding_hint(x, "this machine has no route to the server's IPv%d address (see 'ip -%d route')", t->family,
				t->family);
	else
		dc_finding_hint(x, "check this machine's IPv%d configuration", t->family);
}

static void only_plain_finding(struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	struct dc_finding *x = dc_findings_add(&rep->findings, DC_SEV_ERROR, "stun-only-plain", t->path,
		(struct dc_srcpos){0},
		"the server answers plain RFC 5389 requests but not Tailscale's (SOFTWARE \"tailnode\" + FINGERPRINT): "
		"Tailscale clients get no STUN replies from it");
	dc_finding_hint(x, "this is not derper: some other STUN server listens on UDP %u, or a middlebox filters "
			   "Tailscale's request; run derper there (it serves STUN itself)", t->port);
}

/*
 * others: targets of this run that did answer. Silence means something else when other
 * servers answer (UDP works here; this one is silent) than when none do (UDP may be
 * blocked on this network).
 */
static void no_answer_findings(struct dc_stun_report *rep, const struct dc_stun_target *t, size_t others, size_t probed)
{
	struct dc_findings *f = &rep->findings;
	const struct dc_srcpos nopos = {0};
	char dst[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&t->addr.addr, dst, sizeof(dst));
	bool tailscale = rep->opts.style == DC_STUN_STYLE_TAILSCALE;
	if (!tailscale && t->kind == DC_STUN_KIND_DERPER) {
		struct dc_finding *x = dc_findings_add(f, DC_SEV_WARNING, "stun-only-tailscale", t->path, nopos,
			"the server ignores plain RFC 5389 requests but answers Tailscale's: it behaves like derper");
		dc_finding_hint(x, "derper only answers requests with SOFTWARE \"tailnode\" and a FINGERPRINT, so generic "
				   "STUN clients get silence; Tailscale clients are fine (use --style tailscale, the default)");
		return;
	}
	if (tailscale && t->kind == DC_STUN_KIND_PLAIN_ONLY) {
		only_plain_finding(rep, t);
		return;
	}
	const struct dc_probe_result *r = dc_stun_worst_failure(rep, t);
	if (r->status == DC_PROBE_SEND_FAILED) {
		send_failed_finding(f, t, r);
		return;
	}
	if (r->status == DC_PROBE_UNREACHABLE) {
		unreachable_finding(f, t, r);
		return;
	}
	if (r->status == DC_PROBE_ERROR_RESPONSE) {
		struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-error-response", t->path, nopos,
			"the server answered with STUN error %d%s%s instead of a mapped address", r->error_code,
			r->error_reason[0] ? " " : "", r->error_reason);
		dc_finding_hint(x, "derper never sends STUN errors: another STUN server listens on UDP %u and rejects the "
				   "request (authentication, or an attribute it does not know)", t->port);
		return;
	}
	if (t->wrong_source) {
		char other[DC_ENDPOINT_STRLEN];
		dc_endpoint_format(&t->wrong_source_addr, other, sizeof(other));
		struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-wrong-source", t->path, nopos,
			"%u %s to our requests came from %s instead of %s; derpcheck does not accept them", t->wrong_source,
			t->wrong_source == 1 ? "reply" : "replies", other, dst);
		dc_finding_hint(x, "the server (or a NAT in front of it) answers from another address or port. Tailscale "
				   "matches replies only by transaction ID and would take them, but stateful firewalls drop "
				   "such replies: make the server answer from the address it is asked on (bind it to one "
				   "address, fix DNAT/SNAT rules)");
		return;
	}
	if (t->malformed) {
		const char *why = t->malformed_reason;
		struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-malformed", t->path, nopos,
			"no usable reply: %u undecodable %s: %s", t->malformed, t->malformed == 1 ? "reply" : "replies", why);
		dc_finding_hint(x, "what answers on UDP %u is not a working STUN server, or a middlebox mangles UDP "
				   "(a truncated reply suggests an MTU or DPI problem)", t->port);
		return;
	}
	if (t->unknown_txid) {
		struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-bad-txid", t->path, nopos,
			"the server answered %u %s, but with transaction IDs we never sent", t->unknown_txid,
			t->unknown_txid == 1 ? "time" : "times");
		dc_finding_hint(x, "Tailscale ignores such replies too: the STUN server is broken, or something on the "
				   "path rewrites the replies");
		return;
	}
	struct dc_finding *x = dc_findings_add(f, DC_SEV_ERROR, "stun-no-reply", t->path, nopos,
		"no reply to any of %u requests (%zu %s, retransmissions included, waiting %.1f s each)", t->sent,
		t->nprobes, t->nprobes == 1 ? "probe" : "probes", (double)rep->opts.timeout_ns / 1e9);
	if (others)
		dc_finding_hint(x, "UDP works from here (%zu other %s answered), so this one is silent: its STUN server is "
				   "down, or UDP port %u is filtered on its side (firewall, cloud security group, a NAT "
				   "without port forwarding)",
				others, others == 1 ? "server" : "servers", t->port);
	else if (probed > 1 && t->kind == DC_STUN_KIND_SILENT)
		dc_finding_hint(x, "none of the %zu servers asked answered and no ICMP error came back: outbound UDP is "
				   "probably blocked on this network (or every server is down); the netcheck command "
				   "compares every region of a map",
				probed);
	else if (t->kind == DC_STUN_KIND_SILENT)
		dc_finding_hint(x, "neither Tailscale-style nor plain STUN requests were answered: UDP port %u is blocked "
				   "(firewall, cloud security group, a NAT without port forwarding) or nothing listens "
				   "there and no ICMP error came back",
				t->port);
	else
		dc_finding_hint(x, "UDP port %u is blocked on the way (firewall, cloud security group, a NAT without "
				   "port forwarding) or nothing listens there", t->port);
}

static void inner_mapping_finding(struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	char mapped[DC_ENDPOINT_STRLEN], local[DC_ENDPOINT_STRLEN], dst[DC_ENDPOINT_STRLEN];
	dc_ip_format(&t->mapped, mapped, sizeof(mapped));
	dc_ip_format(&t->local, local, sizeof(local));
	dc_endpoint_format(&t->addr.addr, dst, sizeof(dst));
	enum dc_ip_class dst_class = dc_ip_classify(&t->addr.addr);
	const struct dc_srcpos nopos = {0};
	struct dc_finding *x;
	/* Behind a private server an inner address may be normal; from a public one it never is. */
	if (dst_class == DC_IP_PUBLIC)
		x = dc_findings_add(&rep->findings, DC_SEV_ERROR, "stun-mapped-inner", t->path, nopos,
				    "the server sees this machine as %s, a %s address, although it is a public server and "
				    "this machine's address is %s: Tailscale clients of this server learn an address nobody "
				    "can reach", mapped, dc_ip_class_name(t->mapped_class), local);
	else
		x = dc_findings_add(&rep->findings, DC_SEV_WARNING, "stun-mapped-inner", t->path, nopos,
				    "the server sees this machine as %s, a %s address that is not this machine's (%s): a NAT "
				    "between here and the server rewrote the source",
				    mapped, dc_ip_class_name(t->mapped_class), local);
	switch (t->mapped_class) {
	case DC_IP_DOCKER_BRIDGE:
		dc_finding_hint(x, "the STUN server runs in a Docker container behind Docker's NAT or userland proxy "
				   "(docker-proxy), which replaces every client address with the bridge gateway: run derper "
				   "with host networking (network_mode: host) or set \"userland-proxy\": false in "
				   "/etc/docker/daemon.json");
		break;
	case DC_IP_CGNAT:
		dc_finding_hint(x, "100.64.0.0/10 is both carrier-grade NAT space and Tailscale's own range: if you reached "
				   "the server through Tailscale (its 100.x address or a subnet route), probe its public "
				   "address instead; otherwise the server sits behind a CGNAT and cannot see real addresses");
		break;
	default:
		dc_finding_hint(x, "something in front of the STUN server replaces the source address (a container "
				   "network, a load balancer or proxy doing SNAT, a VPN): let UDP %u reach the server with "
				   "the clients' real addresses",
				t->port);
		break;
	}
}

static void answered_findings(struct dc_stun_report *rep, const struct dc_stun_target *t)
{
	struct dc_findings *f = &rep->findings;
	const struct dc_srcpos nopos = {0};
	char dst[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&t->addr.addr, dst, sizeof(dst));
	struct dc_finding *x;
	if (rep->opts.style == DC_STUN_STYLE_RFC5389 && t->kind == DC_STUN_KIND_PLAIN_ONLY)
		only_plain_finding(rep, t);
	unsigned lost = (unsigned)t->nprobes - t->answered;
	if (lost && t->answered) {
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-loss", t->path, nopos,
				    "%u of %zu probes got no reply (%.0f%% loss, retransmissions included)", lost,
				    t->nprobes, 100.0 * lost / (double)t->nprobes);
		dc_finding_hint(x, "UDP to the server is lossy; Tailscale's own STUN probes will miss too, which delays "
				   "endpoint discovery");
	}
	if (t->wrong_source) {
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-wrong-source", t->path, nopos,
				    "%u %s with our transaction IDs came from another address than %s and %s ignored",
				    t->wrong_source, t->wrong_source == 1 ? "reply" : "replies", dst,
				    t->wrong_source == 1 ? "was" : "were");
		dc_finding_hint(x, "the server or a NAT in front of it sometimes answers from another address or port");
	}
	if (t->malformed) {
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-malformed", t->path, nopos,
				    "%u undecodable %s ignored", t->malformed,
				    t->malformed == 1 ? "reply was" : "replies were");
		dc_finding_hint(x, "the server or something on the path sometimes sends broken STUN");
	}
	if (t->unknown_txid) {
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-bad-txid", t->path, nopos,
				    "%u %s transaction IDs we never sent and %s ignored", t->unknown_txid,
				    t->unknown_txid == 1 ? "reply carried" : "replies carried", t->unknown_txid == 1 ? "was" : "were");
		dc_finding_hint(x, "the server sometimes answers with a wrong transaction ID; Tailscale ignores those too");
	}
	if (t->duplicates) {
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-duplicate-replies", t->path, nopos,
				    "the server sent %u duplicate %s", t->duplicates, t->duplicates == 1 ? "reply" : "replies");
		dc_finding_hint(x, "harmless for Tailscale, which ignores them, but a sign of a misbehaving server or a "
				   "network path that duplicates packets");
	}
	if (t->trailing_bytes) {
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-oversized-reply", t->path, nopos,
				    "%u %s extra bytes after the STUN message (ignored, as Tailscale does)",
				    t->trailing_bytes, t->trailing_bytes == 1 ? "reply carried" : "replies carried");
		dc_finding_hint(x, "the server or a middlebox pads UDP payloads; harmless, but not standard STUN");
	}
	if (t->mapping_changed) {
		char first[DC_ENDPOINT_STRLEN], later[DC_ENDPOINT_STRLEN];
		dc_endpoint_format(&t->mapped, first, sizeof(first));
		dc_endpoint_format(&t->mapped_other, later, sizeof(later));
		x = dc_findings_add(f, DC_SEV_WARNING, "stun-mapping-changed", t->path, nopos,
				    "the mapped address changed during the run (%s, then %s) although every probe left from "
				    "the same socket", first, later);
		dc_finding_hint(x, "the NAT dropped and re-created the mapping, or traffic leaves through several public "
				   "addresses (multi-WAN, load-balanced egress); Tailscale needs a stable mapping for direct "
				   "connections");
	}
}

/* The server reports an address in an inner range that is not ours: something rewrote it. */
static bool inner_mapping(const struct dc_stun_target *t)
{
	bool inner = t->mapped_class != DC_IP_PUBLIC && t->mapped_class != DC_IP_LOOPBACK;
	return t->has_mapped && t->has_local && inner && !dc_ip_equal(&t->mapped, &t->local);
}

/*
 * netcheck's MappingVariesByDestIP, over the IPv4 targets of this run. A server that
 * sees an inner address (Docker in front of it) says nothing about our NAT: left out.
 */
static void mapping_varies_finding(struct dc_stun_report *rep)
{
	const struct dc_stun_target *first = NULL;
	for (size_t i = 0; i < rep->ntargets; i++) {
		const struct dc_stun_target *t = &rep->targets[i];
		if (t->family != 4 || !t->has_mapped || t->skipped || inner_mapping(t))
			continue;
		if (!first) {
			first = t;
			continue;
		}
		if (dc_endpoint_equal(&first->mapped, &t->mapped))
			continue;
		char a[DC_ENDPOINT_STRLEN], b[DC_ENDPOINT_STRLEN], da[DC_ENDPOINT_STRLEN], db[DC_ENDPOINT_STRLEN];
		dc_endpoint_format(&first->mapped, a, sizeof(a));
		dc_endpoint_format(&t->mapped, b, sizeof(b));
		dc_endpoint_format(&first->addr.addr, da, sizeof(da));
		dc_endpoint_format(&t->addr.addr, db, sizeof(db));
		rep->findings.file = "";
		struct dc_finding *x = dc_findings_add(&rep->findings, DC_SEV_WARNING, "stun-mapping-varies", "",
			(struct dc_srcpos){0},
			"the IPv4 mapping varies by destination: %s saw %s, %s saw %s, from the same local socket "
			"(an address-and-port-dependent NAT, \"hard NAT\")", da, a, db, b);
		dc_finding_hint(x, "peers behind such a NAT reach each other directly only if the other side has an easy "
				   "NAT; enable UPnP, NAT-PMP or PCP on the router, or forward a fixed UDP port to this machine");
		return;
	}
}

static void conclude(struct dc_stun_report *rep)
{
	size_t probed = 0, answered = 0, nprobed = 0;
	struct local_cache cache = {0};
	for (size_t i = 0; i < rep->ntargets; i++) {
		struct dc_stun_target *t = &rep->targets[i];
		if (t->skipped)
			continue;
		summarise(rep, t, &cache);
		nprobed++;
		answered += t->answered > 0;
	}
	for (size_t i = 0; i < rep->ntargets; i++) {
		struct dc_stun_target *t = &rep->targets[i];
		rep->findings.file = t->label;
		if (t->skipped) {
			if (t->addr.origin == DC_ORIGIN_FAILED && t->node) {
				struct dc_finding *x = dc_findings_add(&rep->findings, DC_SEV_ERROR, "stun-dns", t->path,
								       (struct dc_srcpos){0}, "%s", t->skip_reason);
				dc_finding_hint(x, "fix the DNS record, or write the address into the node's IPv%d field so "
						   "clients need no DNS",
						t->family);
			}
			continue;
		}
		probed++;
		if (t->answered == 0)
			no_answer_findings(rep, t, answered, nprobed);
		else
			answered_findings(rep, t);
		/* Also when only the cross-check answered (--style rfc5389 against derper). */
		if (inner_mapping(t))
			inner_mapping_finding(rep, t);
	}
	mapping_varies_finding(rep);
	if (rep->region && probed == 0) {
		rep->findings.file = "";
		struct dc_finding *x = dc_findings_add(&rep->findings, DC_SEV_ERROR, "stun-no-target",
			rep->region->path, (struct dc_srcpos){0},
			"region %lld has no node that can be probed with STUN%s", (long long)rep->region->id,
			rep->opts.family ? " over the requested family" : "");
		dc_finding_hint(x, "every node has STUN off (STUNPort -1), no usable address, or a family set to \"none\"; "
				   "a region without STUN never gets a latency and can never be home");
	}
	rep->findings.file = NULL;
}

int dc_stun_run(struct dc_stun_report *rep, struct dc_error *err)
{
	uint64_t start = dc_now_ns();
	resolve_targets(rep);
	bool want[2] = {false, false};
	for (size_t i = 0; i < rep->ntargets; i++)
		if (!rep->targets[i].skipped)
			want[rep->targets[i].family == 6] = true;
	if (want[0] || want[1]) {
		struct dc_prober_config cfg = {
			.want4 = want[0], .want6 = want[1], .bind_addr = rep->opts.bind_addr, .bind_port = rep->opts.bind_port,
		};
		rep->prober = dc_prober_new(&cfg, err);
		if (!rep->prober)
			return -1;
		for (int f = 0; f < 2; f++)
			rep->have_local[f] = dc_prober_local(rep->prober, f ? 6 : 4, &rep->local[f]) == 0;
		uint64_t t0 = dc_now_ns();
		schedule(rep, t0);
		uint64_t deadline = t0 + (rep->opts.count - 1) * rep->opts.interval_ns + rep->opts.timeout_ns + 50000000u;
		if (dc_prober_run(rep->prober, deadline, on_probe_done, rep, err) < 0)
			return -1;
		rep->stats = *dc_prober_stats(rep->prober);
	}
	conclude(rep);
	rep->elapsed_ns = dc_now_ns() - start;
	return 0;
}

const struct dc_stun_target *dc_stun_unresolved_host(const struct dc_stun_report *rep)
{
	/* A host's targets (one per family) are next to each other. */
	for (size_t i = 0; i < rep->ntargets;) {
		size_t k = i;
		bool resolved = false;
		for (; k < rep->ntargets && strcmp(rep->targets[k].host, rep->targets[i].host) == 0 &&
		       rep->targets[k].node == rep->targets[i].node;
		     k++)
			resolved |= rep->targets[k].addr.origin != DC_ORIGIN_FAILED;
		if (!resolved && !rep->targets[i].node)
			return &rep->targets[i];
		i = k;
	}
	return NULL;
}

void dc_stun_report_free(struct dc_stun_report *rep)
{
	for (size_t i = 0; i < rep->ntargets; i++) {
		free(rep->targets[i].label);
		free(rep->targets[i].host);
		free(rep->targets[i].path);
	}
	free(rep->targets);
	dc_prober_free(rep->prober);
	dc_findings_free(&rep->findings);
	memset(rep, 0, sizeof(*rep));
}
