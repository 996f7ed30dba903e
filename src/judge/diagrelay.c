/*
 * diagnose, step 7: the DERP handshake as tailscaled does it, packets relayed between two
 * clients of one node, and the mesh between every pair of nodes that relays.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "derpcheck/input/mapload.h"
#include "diagnose_int.h"

void dc_diag_check_handshake(struct dc_diag_node *dn, const struct dc_derp_region *region, const struct tls_outcome *tls,
			    const struct dc_diag_opts *o, bool *admitted, bool *insecure_used)
{
	struct dc_diag_check *c = dc_diag_node_check(dn, DC_DIAG_HANDSHAKE, DC_PATH_DERP);
	*admitted = false;
	if (!tls->tls_ok) {
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "no TLS connection");
		return;
	}
	/* The certificate is judged above; what lies behind a bad one is still worth knowing. */
	*insecure_used = dn->trust != DC_TRUST_VERIFIED;
	struct dc_derp_dial_opts d = {
		.region = region, .node = dn->node->name, .family = tls->addr.family, .ca_file = o->ca_file,
		.insecure = *insecure_used, .timeout_ms = o->timeout_ms, .app_name = "derpcheck-diagnose",
		.transport = o->transport,
	};
	struct dc_derp_conn conn;
	struct dc_error err;
	int rc = dc_derp_connect(&d, &conn, &err);
	dc_diag_derp_conn_evidence(c, &conn);
	if (rc < 0) {
		c->ms = (double)conn.connect_ns / 1e6;
		SUMMARY(c, "failed at %s: %s", dc_derp_phase_name(conn.phase), dc_derp_failure_name(conn.failure));
		if (conn.failure == DC_DERP_NOT_ADMITTED) {
			dc_diag_set(c, DC_CHECK_FAIL, "derp-not-admitted");
			CAUSE(c, "the server closed the connection after ClientInfo: it does not admit this client");
			FIX(c, "derper runs with --verify-clients and admits only nodes of its own tailnet (run this check "
			       "from one of them, or drop --verify-clients), or it rejects this client version: update derper");
		} else {
			dc_diag_set(c, DC_CHECK_FAIL, "derp-handshake");
			CAUSE(c, "%s", err.what);
			FIX(c, "%s", err.hint[0] ? err.hint : "check that DERPPort reaches derper itself, not a proxy");
			/* The proxy checks above have the evidence and the lines to change: point there. */
			for (size_t k = 0; k < dn->count; k++) {
				const struct dc_diag_check *p = &dn->checks[k];
				if (conn.phase == DC_DERP_PHASE_UPGRADE && p->status == DC_CHECK_FAIL &&
				    (strcmp(p->id, "derp-upgrade") == 0 || strcmp(p->id, "http-derp") == 0 || strcmp(p->id, "proxy") == 0)) {
					FIX(c, "see %s above: it names what refuses the upgrade and the lines to change", p->id);
					break;
				}
			}
		}
		dc_derp_close(&conn);
		return;
	}
	char hex[65];
	dc_derp_key_hex(conn.server_key, hex);
	snprintf(dn->server_key, sizeof(dn->server_key), "nodekey:%s", hex);
	dn->have_server_key = true;
	c->ms = (double)conn.connect_ns / 1e6;
	dn->transport = dc_derp_transport_name(conn.transport);
	snprintf(dn->transport_note, sizeof(dn->transport_note), "%s", conn.auto_note);
	char how[96] = "";
	if (o->transport != DC_DERP_TRANSPORT_DERP) {
		dc_derp_how_text(&conn, o->transport, how + 2, sizeof(how) - 2);
		how[0] = ',', how[1] = ' ';
	}
	if (conn.auto_note[0]) {
		/* Relaying over WebSocket does not help tailscaled, which has only Upgrade: DERP. */
		dc_diag_set(c, DC_CHECK_FAIL, "derp-websocket-only");
		CAUSE(c, "admitted over WebSocket only: %s", conn.auto_note);
		FIX(c, "tailscaled connects with Upgrade: DERP: see derp-upgrade for what refuses it and the lines to change");
	} else {
		dc_diag_set(c, DC_CHECK_OK, NULL);
	}
	SUMMARY(c, "admitted, server key nodekey:%.8s…, protocol %d%s%s", hex, conn.info.version, how,
		dn->trust == DC_TRUST_REJECTED ? " (certificate ignored for this check)"
		: dc_trust_checks_off(dn->trust) ? " (certificate not checked: InsecureForTests, as clients do)"
						 : "");
	*admitted = true;
	dc_derp_close(&conn);
}

void dc_diag_judge_ping(struct dc_diag_check *c, const struct dc_ping_result *pr, unsigned count, const char *what)
{
	bool mesh = strcmp(c->id, DC_DIAG_MESH) == 0;
	dc_diag_ping_evidence(c, pr);
	if (pr->stage == DC_PING_SETUP_FAILED) {
		dc_diag_set(c, DC_CHECK_FAIL, mesh ? "mesh-failed" : "relay-failed");
		SUMMARY(c, "client %c could not connect", pr->failed_client ? 'B' : 'A');
		CAUSE(c, "%s", pr->err.what);
		FIX(c, "%s", pr->err.hint[0] ? pr->err.hint : "see the handshake check");
		return;
	}
	c->ms = pr->received ? pr->avg_ms : -1;
	c->sent = count;
	c->received = pr->received;
	SUMMARY(c, "%s: %u/%u relayed, avg %.1fms", what, pr->received, count, pr->avg_ms);
	if (pr->received == count) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
		return;
	}
	if (pr->received == 0) {
		dc_diag_set(c, DC_CHECK_FAIL, mesh ? "mesh-failed" : "relay-failed");
		SUMMARY(c, "%s: nothing relayed", what);
		if (mesh) {
			CAUSE(c, "both clients were admitted, but nothing sent through one node reached the other");
			FIX(c, "run every derper of the region with the same --mesh-psk-file and list the others in "
			       "--mesh-with, and let them reach each other on DERPPort");
		} else {
			CAUSE(c, "both clients were admitted, but no packet from A reached B");
			FIX(c, "%s", pr->err.hint[0] ? pr->err.hint : "check derper's logs for dropped packets");
		}
		return;
	}
	dc_diag_set(c, DC_CHECK_WARN, mesh ? "mesh-loss" : "relay-loss");
	CAUSE(c, "%u of %u relayed packets were lost", count - pr->received, count);
	FIX(c, "look at derper's load and rate limits, and at loss on the way");
}

/*
 * Every connection to one node must meet the same server key (tailscale debug derp makes
 * five to check this): different keys mean a load balancer spreads clients over several
 * derpers, and two clients on different ones cannot reach each other unless they mesh.
 */
void dc_diag_judge_server_keys(struct dc_diag_check *c, struct dc_diag_node *dn, const struct dc_ping_result *pr,
			      struct dc_proxy_evidence *ev, bool have_ev, enum dc_proxy_kind kind)
{
	struct dc_proxy_evidence own = {0};
	struct dc_proxy_evidence *keys = have_ev ? ev : &own;
	size_t conns = 0;
	for (size_t i = 0; i < keys->nkeys; i++)
		conns += keys->key_hits[i];
	uint8_t k0[DC_DERP_KEY_LEN];
	if (dn->have_server_key && dc_derp_key_parse(dn->server_key, strlen(dn->server_key), k0) == 0) {
		dc_proxy_evidence_add_key(keys, k0);
		conns++;
	}
	for (int k = 0; k < 2; k++)
		if (pr->clients[k].connected) {
			dc_proxy_evidence_add_key(keys, pr->clients[k].conn.server_key);
			conns++;
		}
	dn->server_keys = keys->nkeys;
	if (keys->nkeys <= 1)
		return;
	dc_diag_set(c, DC_CHECK_FAIL, "derp-multiple-keys");
	dc_proxy_keys_text(conns, keys->nkeys, pr->received < pr->count, kind, c->cause, sizeof(c->cause), c->fix, sizeof(c->fix));
}

void dc_diag_ping_between(const struct dc_derp_region *region, const char *node, bool mesh, const struct dc_diag_opts *o,
			 bool insecure, struct dc_ping_result *pr)
{
	struct dc_ping_opts po = {
		.region = region, .node = node, .mesh = mesh, .count = o->ping_count, .interval_ms = 20, .size = 64,
		.reply_timeout_ms = o->timeout_ms, .connect_timeout_ms = o->timeout_ms, .family = o->family,
		.ca_file = o->ca_file, .insecure = insecure, .transport = o->transport,
	};
	memset(pr, 0, sizeof(*pr));
	dc_ping_run(&po, pr);
}

/* ---- load through one node (--load-rate) ------------------------------------------------------- */

#define LOAD_PACKET_SIZE 1200 /* about a WireGuard packet at a 1280 MTU: what relayed traffic is */

/*
 * One second of --load-rate packets/s from A to B through the node (ping's load mode,
 * probe/derpping.h): what arrives, at what rate, and the one-way delay. The spread from
 * the fastest packet to the 99th percentile is time spent in queues (derper's per-client
 * queue, socket buffers). Counted with the map's checks: a measurement, not the verdict.
 */
void dc_diag_check_load(struct dc_diag_node *dn, const struct dc_derp_region *region, const struct dc_diag_opts *o,
		       bool insecure)
{
	struct dc_diag_check *c = dc_diag_node_check(dn, DC_DIAG_RELAY_LOAD, DC_PATH_MAP);
	unsigned rate = o->load_rate_pps;
	struct dc_ping_opts po = {
		.region = region, .node = dn->node->name, .count = rate < 50 ? 50 : rate, .size = LOAD_PACKET_SIZE,
		.rate_pps = rate, .reply_timeout_ms = o->timeout_ms, .connect_timeout_ms = o->timeout_ms,
		.family = o->family, .ca_file = o->ca_file, .insecure = insecure, .transport = o->transport,
	};
	struct dc_ping_result pr;
	memset(&pr, 0, sizeof(pr));
	dc_ping_run(&po, &pr);
	if (!pr.load.step_count || pr.stage == DC_PING_SETUP_FAILED || pr.stage == DC_PING_NOT_RELAYING) {
		dc_diag_set(c, DC_CHECK_WARN, "relay-load-failed");
		SUMMARY(c, "%u packets/s of %d B: no load step ran", rate, LOAD_PACKET_SIZE);
		CAUSE(c, "%s", pr.err.what[0] ? pr.err.what : "the load clients did not get going");
		FIX(c, "%s", pr.err.hint[0] ? pr.err.hint : "see the relay check; try a lower --load-rate");
		dc_ping_result_free(&pr);
		return;
	}
	const struct dc_load_step *s = &pr.load.steps[0];
	dn->load_ran = true;
	dn->load = *s;
	dn->load_size = LOAD_PACKET_SIZE;
	c->sent = s->sent;
	c->received = s->delivered;
	c->ms = s->delivered ? s->delay_avg_ms : -1;
	double mbit = s->delivered_pps * LOAD_PACKET_SIZE * 8 / 1e6;
	unsigned lost = s->sent - s->delivered;
	if (s->delivered)
		SUMMARY(c, "%u of %u packets of %d B delivered at %.0f/s (%.1f Mbit/s), one-way delay min %.2f avg %.2f p99 "
			   "%.2f ms: queuing %.2f ms at p99%s", s->delivered, s->sent, LOAD_PACKET_SIZE, s->delivered_pps, mbit,
			s->delay_min_ms, s->delay_avg_ms, s->delay_p99_ms, s->delay_p99_ms - s->delay_min_ms,
			s->sender_behind ? "; derpcheck could not send faster (the limit is here)" : "");
	else
		SUMMARY(c, "0 of %u packets of %d B delivered at %u/s offered", s->sent, LOAD_PACKET_SIZE, rate);
	if (!lost && !pr.stage) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
	} else {
		dc_diag_set(c, DC_CHECK_WARN, "relay-load-loss");
		if (dc_load_step_stalled(s))
			CAUSE(c, "%u of %u packets were lost at %.0f packets/s offered, but derpcheck itself fell behind and sent "
				 "up to %u packets at once, more than derper's %d-packet send queue per client holds: the losses "
				 "may be that burst's, not the node's (a busy machine stalls derpcheck); run it again on a "
				 "quieter machine",
			      lost, s->sent, s->sent_pps, s->largest_burst, DC_DERP_CLIENT_QUEUE);
		else
			CAUSE(c, "%u of %u packets were lost at %.0f packets/s offered (%.1f Mbit/s): derper drops what overflows a "
				 "client's 32-packet send queue (protocols.md \u00a71.7): the node, its host or its link does not "
				 "keep up with this rate", lost, s->sent, s->sent_pps, s->sent_pps * LOAD_PACKET_SIZE * 8 / 1e6);
		char cmd[900] = "";
		const char *spec = dc_map_spec_for_command(o->map_name);
		if (spec) {
			char id[32];
			snprintf(id, sizeof(id), "%lld", (long long)region->id);
			dc_textf(cmd, sizeof(cmd), "derpcheck ping --flood --node");
			dc_shell_append(cmd, sizeof(cmd), dn->node->name);
			dc_shell_append(cmd, sizeof(cmd), "--derp-map");
			dc_shell_append(cmd, sizeof(cmd), spec);
			if (o->map_format) {
				dc_shell_append(cmd, sizeof(cmd), "--map-format");
				dc_shell_append(cmd, sizeof(cmd), o->map_format);
			}
			if (o->ca_file) {
				dc_shell_append(cmd, sizeof(cmd), "--ca-file");
				dc_shell_append(cmd, sizeof(cmd), o->ca_file);
			}
			dc_shell_append(cmd, sizeof(cmd), id);
		}
		FIX(c, "find the rate it does carry with a lower --load-rate%s%s%s; give derper more CPU or bandwidth if "
		       "clients need more", spec ? " or with `" : "", cmd, spec ? "`" : "");
	}
	dc_ping_result_free(&pr);
}

/* ---- the mesh with the mesh key ---------------------------------------------------------------- */

static void short_key(const uint8_t key[DC_DERP_KEY_LEN], char out[16])
{
	char hex[65];
	dc_derp_key_hex(key, hex);
	snprintf(out, 16, "%.8s\u2026", hex);
}

/* "A does not list B's mesh client: ..." for one direction; the cause and fix texts. */
static void missing_direction(const struct dc_mesh_watch *seer, const struct dc_mesh_watch *peer, char *cause, size_t nc,
			      char *fix, size_t nf)
{
	char k[16];
	short_key(peer->server_key, k);
	dc_textf(cause, nc, "WatchConns on %s lists %zu client%s, none with %s's server key nodekey:%s: %s's derper is not "
		 "connected to %s as a mesh client, so %s cannot forward to clients on %s", seer->node->name, seer->present_count,
		 seer->present_count == 1 ? "" : "s", peer->node->name, k, peer->node->name, seer->node->name, seer->node->name,
		 peer->node->name);
	dc_textf(fix, nf, "run %s's derper with --mesh-with naming %s (%s) and the same --mesh-psk-file, and let it reach %s "
		 "on DERPPort (derper logs mesh(\"%s\") errors)", peer->node->name, seer->node->name, seer->node->host_name,
		 seer->node->name, seer->node->host_name);
}

void dc_diag_mesh_presence_judge(const struct dc_mesh_watch *a, const struct dc_mesh_watch *b, const char *key_file,
				 struct dc_diag_check *c)
{
	char pair[200];
	snprintf(pair, sizeof(pair), "%s \u2194 %s", a->node->name, b->node->name);
	c->pair[0] = a->node->name;
	c->pair[1] = b->node->name;
	const char *file = key_file ? key_file : "the mesh key file";
	bool ra = a->result == DC_MESH_WATCH_REFUSED, rb = b->result == DC_MESH_WATCH_REFUSED;
	if (ra || rb) {
		dc_diag_set(c, DC_CHECK_FAIL, "mesh-key-refused");
		SUMMARY(c, "%s: the mesh key was refused by %s%s%s", pair, ra ? a->node->name : b->node->name,
			ra && rb ? " and " : "", ra && rb ? b->node->name : "");
		CAUSE(c, "%s closed the connection on WatchConns (%s): it runs with another --mesh-psk-file than %s, or "
		      "with none", ra ? a->node->name : b->node->name, ra ? a->error : b->error, file);
		FIX(c, "give every derper of the region -mesh-psk-file with the key in %s (derper compares the text exactly), "
		    "or run derpcheck with the file the derpers use", file);
		return;
	}
	if (a->result != DC_MESH_WATCH_OK || b->result != DC_MESH_WATCH_OK) {
		const struct dc_mesh_watch *x = a->result != DC_MESH_WATCH_OK ? a : b;
		dc_diag_set(c, DC_CHECK_SKIP, NULL);
		SUMMARY(c, "%s: not asked, %s: %s", pair, x->node->name,
			x->result == DC_MESH_WATCH_NOT_RUN ? "STUNOnly" : x->error);
		return;
	}
	bool a_sees_b = dc_mesh_watch_sees(a, b->server_key), b_sees_a = dc_mesh_watch_sees(b, a->server_key);
	if (a_sees_b && b_sees_a) {
		dc_diag_set(c, DC_CHECK_OK, NULL);
		SUMMARY(c, "%s: each lists the other's mesh client (%s: %zu client%s, %s: %zu)", pair, a->node->name,
			a->present_count, a->present_count == 1 ? "" : "s", b->node->name, b->present_count);
		return;
	}
	dc_diag_set(c, DC_CHECK_FAIL, "mesh-split");
	char cause1[350], fix1[350], cause2[350], fix2[350];
	if (!a_sees_b && !b_sees_a) {
		SUMMARY(c, "%s: neither lists the other's mesh client", pair);
		missing_direction(a, b, cause1, sizeof(cause1), fix1, sizeof(fix1));
		missing_direction(b, a, cause2, sizeof(cause2), fix2, sizeof(fix2));
		CAUSE(c, "%s; and %s", cause1, cause2);
		FIX(c, "%s; and %s", fix1, fix2);
		return;
	}
	const struct dc_mesh_watch *seer = a_sees_b ? b : a, *peer = a_sees_b ? a : b;
	SUMMARY(c, "%s: %s does not list %s's mesh client (%s lists %s's)", pair, seer->node->name, peer->node->name,
		peer->node->name, seer->node->name);
	missing_direction(seer, peer, cause1, sizeof(cause1), fix1, sizeof(fix1));
	CAUSE(c, "%s", cause1);
	FIX(c, "%s", fix1);
}

/* Each node watched with the mesh key, then every pair judged (region checks, path map). */
void dc_diag_check_mesh_presence(const struct dc_derp_region *region, struct dc_diag_report *r, const struct dc_diag_opts *o,
				const bool *insecure)
{
	size_t n = r->node_count;
	struct dc_mesh_watch *w = dc_xcalloc(n + 1, sizeof(*w));
	r->mesh_sees = dc_xcalloc(n * n + 1, 1);
	for (size_t i = 0; i < n; i++) {
		w[i].node = r->nodes[i].node;
		if (r->nodes[i].node->stun_only)
			continue;
		struct dc_mesh_watch_opts mo = {
			.mesh_key = o->mesh_key, .ca_file = o->ca_file, .insecure = insecure[i], .family = o->family,
			.timeout_ms = o->timeout_ms, .transport = o->transport,
		};
		dc_mesh_watch_node(region, r->nodes[i].node, &mo, &w[i]);
		r->nodes[i].mesh_watch = w[i].result;
		r->nodes[i].mesh_clients = w[i].present_count;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			r->mesh_sees[i * n + j] = i == j || w[i].result != DC_MESH_WATCH_OK || !w[j].have_server_key
							  ? -1
							  : dc_mesh_watch_sees(&w[i], w[j].server_key);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			if (r->nodes[i].node->stun_only || r->nodes[j].node->stun_only)
				continue;
			struct dc_diag_check *c = dc_diag_add_check(r->region_checks, &r->region_count, DC_DIAG_MESH_PRESENCE, DC_PATH_MAP);
			if (!c)
				break;
			dc_diag_mesh_presence_judge(&w[i], &w[j], o->mesh_key_file, c);
		}
	for (size_t i = 0; i < n; i++)
		dc_mesh_watch_free(&w[i]);
	free(w);
}
