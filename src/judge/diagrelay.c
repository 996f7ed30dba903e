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
