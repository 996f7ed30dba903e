#include "derpcheck/output/output_ping.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"

#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/tlscheck.h"

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(rep, sgr) dc_paint((rep)->style, sgr)

/* Like tailscale ping: 0.312ms, 2.31ms, 12.3ms, 123ms. */
static const char *ms_text(double v, char *buf, size_t n)
{
	if (v < 1)
		snprintf(buf, n, "%.3fms", v);
	else if (v < 10)
		snprintf(buf, n, "%.2fms", v);
	else if (v < 100)
		snprintf(buf, n, "%.1fms", v);
	else
		snprintf(buf, n, "%.0fms", v);
	return buf;
}

/* 1s, 500ms, 1.5s: durations the user typed, shown back the same way. */
static const char *duration_text(long ms, char *buf, size_t n)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%lds", ms / 1000);
	else if (ms > 1000)
		snprintf(buf, n, "%gs", (double)ms / 1000.0);
	else
		snprintf(buf, n, "%ldms", ms);
	return buf;
}

static double ns_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static const char *region_code(const struct dc_ping_report *rep)
{
	const struct dc_derp_region *r = rep->region;
	if (r && r->code && *r->code)
		return dc_term_safe(r->code);
	return dc_term_safe(rep->target);
}

/* "node 900a (derp.test)", or just "derp.test" when the node is the host itself. */
static void node_label(const char *node, const char *host, char *out, size_t n)
{
	if (!node || !*node || (host && strcmp(node, host) == 0))
		snprintf(out, n, "%s", host ? dc_term_safe(host) : "?");
	else
		snprintf(out, n, "node %s (%s)", dc_term_safe(node), host && *host ? dc_term_safe(host) : "no HostName");
}

void dc_output_ping_header(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_opts *o = rep->opts;
	char iv[32];
	fprintf(out, "%sDERP %s ", paint(rep, BOLD), o->flood ? "flood of" : o->rate_pps ? "load test of" : "ping to");
	if (rep->host_target)
		fprintf(out, "%s", dc_term_safe(rep->target));
	else
		fprintf(out, "region %lld (%s)", (long long)rep->region->id, region_code(rep));
	if (o->flood)
		fprintf(out, "%s: %zu-byte packets from A to B, from %u packets/s, the rate doubled every half second until the relay drops packets",
			paint(rep, RESET), o->size, 1000u);
	else if (o->rate_pps)
		fprintf(out, "%s: %u %s of %zu bytes from A to B at %u packets/s", paint(rep, RESET), o->count,
			o->count == 1 ? "packet" : "packets", o->size, o->rate_pps);
	else
		fprintf(out, "%s: %u %s of %zu bytes every %s", paint(rep, RESET), o->count, o->count == 1 ? "packet" : "packets",
			o->size, duration_text(o->interval_ms, iv, sizeof(iv)));
	if (o->mesh)
		fprintf(out, ", A and B on different nodes");
	else if (o->node)
		fprintf(out, ", on node %s", dc_term_safe(o->node));
	fprintf(out, "\n");
	if (rep->map_source && (rep->verbose || strcmp(rep->map_source, dc_map_source_name(DC_MAP_SOURCE_EMBEDDED)) == 0))
		fprintf(out, "map: %s (%s)\n", dc_term_safe(rep->map_name), rep->map_source);
}

static void tls_text(const struct dc_derp_conn *c, char *out, size_t n)
{
	const char *v = c->tls_version;
	if (strncmp(v, "TLSv", 4) == 0)
		snprintf(out, n, "TLS %s", v + 4);
	else
		snprintf(out, n, "%s", v);
}

static void print_connected(FILE *out, const struct dc_ping_report *rep, const struct dc_ping_client *c)
{
	const struct dc_derp_conn *k = &c->conn;
	char label[320], tls[32], t[32];
	node_label(k->node->name, k->node->host_name, label, sizeof(label));
	tls_text(k, tls, sizeof(tls));
	char how[64];
	dc_derp_how_text(k, rep->opts->transport, how, sizeof(how));
	fprintf(out, "%c: %s at %s, %s, %s, connected in %s", c->name, label, k->tls.peer, tls, how,
		ms_text(ns_ms(k->connect_ns), t, sizeof(t)));
	if (k->insecure) {
		const char *why = dc_node_clients_verify(k->node) ? "--insecure" : "InsecureForTests";
		if (!k->verified)
			fprintf(out, ", %scertificate not checked (%s)%s", paint(rep, YELLOW), why, paint(rep, RESET));
		else if (k->verdict.ok)
			fprintf(out, ", certificate valid, not required (%s)", why);
		else
			fprintf(out, ", %scertificate FAILS, ignored (%s)%s", paint(rep, RED), why, paint(rep, RESET));
	}
	fprintf(out, "\n");
	if (k->auto_note[0])
		fprintf(out, "%c: WebSocket because the DERP upgrade failed: %s\n", c->name, k->auto_note);
}

void dc_output_ping_event(FILE *out, const struct dc_ping_report *rep, const struct dc_ping_event *ev)
{
	const struct dc_ping_result *r = ev->result;
	const struct dc_ping_client *c = &r->clients[ev->client];
	char t[32];
	switch (ev->kind) {
	case DC_PING_EV_CONNECTED:
		print_connected(out, rep, c);
		break;
	case DC_PING_EV_RELAYING:
		if (strcmp(r->clients[0].conn.node->name, r->clients[1].conn.node->name) != 0 || rep->verbose)
			fprintf(out, "relay: %s forwards to %s (first packet from A reached B after %s)\n",
				dc_term_safe(r->clients[0].conn.node->name), dc_term_safe(r->clients[1].conn.node->name),
				ms_text(r->first_relay_ms, t, sizeof(t)));
		break;
	case DC_PING_EV_REPLY: {
		const struct dc_ping_packet *p = &r->packets[ev->seq - 1];
		fprintf(out, "pong from B via %sDERP(%s)%s in %s (seq %u)%s\n", paint(rep, CYAN), region_code(rep), paint(rep, RESET),
			ms_text(p->rtt_ms, t, sizeof(t)), p->seq, p->corrupted ? ", CORRUPTED" : "");
		break;
	}
	case DC_PING_EV_LOST:
		fprintf(out, "%sno reply for seq %u within %s%s\n", paint(rep, RED), ev->seq,
			duration_text(rep->opts->reply_timeout_ms, t, sizeof(t)), paint(rep, RESET));
		break;
	case DC_PING_EV_HEALTH:
		if (c->conn.health_set)
			fprintf(out, "%c: %sserver health problem:%s %s\n", c->name, paint(rep, YELLOW), paint(rep, RESET), dc_term_safe(c->conn.health));
		else
			fprintf(out, "%c: server health: ok again\n", c->name);
		break;
	case DC_PING_EV_RESTARTING: {
		char a[32], b[32];
		fprintf(out, "%c: server announces a restart: reconnect in %s, keep trying for %s\n", c->name,
			duration_text((long)c->conn.reconnect_ms, a, sizeof(a)), duration_text((long)c->conn.try_for_ms, b, sizeof(b)));
		break;
	}
	case DC_PING_EV_PEER_GONE:
		if (rep->verbose)
			fprintf(out, "%c: the server says a peer is gone\n", c->name);
		break;
	case DC_PING_EV_SERVER_PING:
		if (rep->verbose)
			fprintf(out, "%c: the server pinged; answered with a pong\n", c->name);
		break;
	}
	fflush(out);
}

static void print_phase(FILE *out, bool used, uint64_t ns)
{
	if (used)
		fprintf(out, " %9.3f", ns_ms(ns));
	else
		fprintf(out, " %9s", "-");
}

static void print_phases(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_result *r = rep->result;
	int w = 0;
	char left[2][320];
	for (int i = 0; i < 2; i++) {
		const struct dc_derp_conn *k = &r->clients[i].conn;
		if (!r->clients[i].connected)
			continue;
		snprintf(left[i], sizeof(left[i]), "%c %s %s", r->clients[i].name, dc_term_safe(k->node->name), k->tls.peer);
		int len = (int)strlen(left[i]);
		w = len > w ? len : w;
	}
	fprintf(out, "  %-*s %9s %9s %9s %9s %9s %9s %9s\n", w, "phases (ms)", "dns", "tcp", "tls", "verify", "upgrade",
		"handshake", "total");
	for (int i = 0; i < 2; i++) {
		const struct dc_derp_conn *k = &r->clients[i].conn;
		if (!r->clients[i].connected)
			continue;
		fprintf(out, "  %-*s", w, left[i]);
		print_phase(out, k->dns_used, k->dns_ns);
		print_phase(out, true, k->tcp_ns);
		print_phase(out, true, k->tls_ns);
		print_phase(out, k->verified, k->verify_ns);
		print_phase(out, true, k->upgrade_ns);
		print_phase(out, true, k->handshake_ns);
		print_phase(out, true, k->connect_ns);
		fprintf(out, "\n");
	}
}

static void print_notes(FILE *out, const struct dc_ping_report *rep, const struct dc_ping_client *c)
{
	const struct dc_derp_conn *k = &c->conn;
	if (k->key_mismatch)
		fprintf(out, "%c: %swarning:%s the server key differs between the certificate, the Derp-Public-Key header and the ServerKey frame (a load balancer in front of several derpers?)\n",
			c->name, paint(rep, YELLOW), paint(rep, RESET));
	if (k->info.version != DC_DERP_PROTOCOL_VERSION)
		fprintf(out, "%c: the server speaks DERP protocol version %d (derpcheck speaks %d)\n", c->name, k->info.version,
			DC_DERP_PROTOCOL_VERSION);
	if (k->info.token_bucket_bytes_per_second)
		fprintf(out, "%c: the server asks clients to send at most %" PRId64 " bytes/s (burst %" PRId64 ")\n", c->name,
			k->info.token_bucket_bytes_per_second, k->info.token_bucket_bytes_burst);
	if (k->unknown_frames || k->malformed_frames || (rep->verbose && (k->keep_alives || k->pings_answered))) {
		char parts[4][80];
		size_t n = 0;
		if (k->unknown_frames)
			snprintf(parts[n++], sizeof(parts[0]), "%" PRIu64 " frame%s of unknown type (skipped)", k->unknown_frames,
				 k->unknown_frames == 1 ? "" : "s");
		if (k->malformed_frames)
			snprintf(parts[n++], sizeof(parts[0]), "%" PRIu64 " malformed frame%s (skipped)", k->malformed_frames,
				 k->malformed_frames == 1 ? "" : "s");
		if (k->keep_alives)
			snprintf(parts[n++], sizeof(parts[0]), "%" PRIu64 " KeepAlive", k->keep_alives);
		if (k->pings_answered)
			snprintf(parts[n++], sizeof(parts[0]), "%" PRIu64 " Ping%s (answered)", k->pings_answered,
				 k->pings_answered == 1 ? "" : "s");
		fprintf(out, "%c: the server also sent ", c->name);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", parts[i]);
		fprintf(out, "\n");
	}
	if (k->malformed_frames)
		fprintf(out, "%c: the last malformed frame: %s\n", c->name, dc_term_safe(k->last_malformed));
}

static void print_load_step(FILE *out, const struct dc_ping_report *rep, const struct dc_load_step *s)
{
	unsigned lost = s->sent - s->delivered;
	fprintf(out, "  %9u %9u %9u %s%7u%s %13.0f %8.3f %8.3f%s\n", s->rate_pps, s->sent, s->delivered,
		lost ? paint(rep, RED) : "", lost, lost ? paint(rep, RESET) : "", s->delivered_pps, s->delay_avg_ms,
		s->delay_p99_ms, s->sender_behind ? "  (derpcheck could not send this fast)"
				 : dc_load_step_stalled(s) ? "  (derpcheck stalled: see below)" : "");
}

/* A step in which derpcheck fell behind by more than derper's queue: say so, and what it means for losses. */
static void print_stall(FILE *out, const struct dc_load_step *s)
{
	if (!dc_load_step_stalled(s))
		return;
	fprintf(out, "derpcheck fell behind at %u packets/s and sent up to %u packets at once, more than the %d derper "
		     "queues per client%s\n", s->rate_pps, s->largest_burst, DC_DERP_CLIENT_QUEUE,
		s->delivered < s->sent ? ": the losses at this rate may be that burst's, not the relay's (a busy machine "
					 "stalls derpcheck; run it again on a quieter one)" : "");
}

/* ", 2 duplicates, 1 corrupted, 3 late" for what should not have come. */
static void print_odd_packets(FILE *out, unsigned duplicates, unsigned corrupted, unsigned late)
{
	if (duplicates)
		fprintf(out, ", %u duplicate%s", duplicates, duplicates == 1 ? "" : "s");
	if (corrupted)
		fprintf(out, ", %u corrupted", corrupted);
	if (late)
		fprintf(out, ", %u late", late);
}

/* Each connection's phases, and what else its server did. */
static void print_connections(FILE *out, const struct dc_ping_report *rep)
{
	print_phases(out, rep);
	for (int i = 0; i < 2; i++)
		if (rep->result->clients[i].connected)
			print_notes(out, rep, &rep->result->clients[i]);
}

static void print_load(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_result *r = rep->result;
	const struct dc_load_result *l = &r->load;
	fprintf(out, "\n--- DERP(%s) load statistics (A to B, one way) ---\n", region_code(rep));
	if (!rep->opts->flood && l->step_count) {
		const struct dc_load_step *s = &l->steps[0];
		unsigned lost = s->sent - s->delivered;
		fprintf(out, "%u packets sent in %.1fms (%.0f packets/s)%s\n", s->sent, ns_ms(s->send_ns), s->sent_pps,
			s->sender_behind ? ", slower than asked: derpcheck could not send faster" : "");
		fprintf(out, "%u delivered to B (%.0f packets/s), %s%u lost (%g%%)%s", s->delivered, s->delivered_pps,
			lost ? paint(rep, RED) : "", lost, s->sent ? (double)lost * 100.0 / s->sent : 0, lost ? paint(rep, RESET) : "");
		print_odd_packets(out, s->duplicates, s->corrupted, s->late);
		fprintf(out, "\n");
		if (s->delivered)
			fprintf(out, "one-way delay min/avg/p99/max = %.3f/%.3f/%.3f/%.3f ms\n", s->delay_min_ms, s->delay_avg_ms,
				s->delay_p99_ms, s->delay_max_ms);
		print_stall(out, s);
	} else if (l->step_count) {
		fprintf(out, "  %9s %9s %9s %7s %13s %8s %8s\n", "rate/s", "sent", "delivered", "lost", "delivered/s",
			"avg ms", "p99 ms");
		for (size_t i = 0; i < l->step_count; i++)
			print_load_step(out, rep, &l->steps[i]);
		if (l->highest_clean_pps > 0)
			fprintf(out, "the relay delivered up to %.0f packets/s without loss", l->highest_clean_pps);
		else
			fprintf(out, "%sthe relay lost packets already at %u packets/s%s", paint(rep, RED), l->first_loss_pps,
				paint(rep, RESET));
		if (l->first_loss_pps && l->highest_clean_pps > 0)
			fprintf(out, "; it starts dropping at %u packets/s (derper drops what overflows a client's queue)",
				l->first_loss_pps);
		else if (l->sender_limited)
			fprintf(out, "; derpcheck could not send faster, so the relay's limit is higher");
		fprintf(out, "\n");
		for (size_t i = 0; i < l->step_count; i++)
			print_stall(out, &l->steps[i]);
	}
}

void dc_output_ping_summary(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_result *r = rep->result;
	if (!r->clients[0].connected)
		return;
	if (r->load.ran) {
		print_load(out, rep);
		print_connections(out, rep);
		return;
	}
	fprintf(out, "\n--- DERP(%s) relay statistics ---\n", region_code(rep));
	if (r->sent == 0) {
		/* "0 packets sent, 0% loss" would read like a success: say what stopped it. */
		const struct dc_ping_client *c = &r->clients[r->failed_client];
		if (r->stage == DC_PING_SETUP_FAILED)
			fprintf(out, "no packets sent: client %c could not connect (below)\n", c->name);
		else if (r->stage == DC_PING_NOT_RELAYING)
			fprintf(out, "no packets sent: %s\n", r->mesh ? "the warm-up packets from A never reached B on the other node, so the nodes do not forward to each other (below)"
							     : "the warm-up packets from A never reached B (below)");
		else
			fprintf(out, "no packets sent: client %c lost its connection (below)\n", c->name);
		print_phases(out, rep);
		return;
	}
	double loss = r->sent ? (double)(r->sent - r->received) * 100.0 / r->sent : 0;
	fprintf(out, "%u packets sent, %u received, %s%g%% packet loss%s", r->sent, r->received,
		loss > 0 ? paint(rep, RED) : "", loss, loss > 0 ? paint(rep, RESET) : "");
	print_odd_packets(out, r->duplicates, r->corrupted, r->late);
	if (r->unexpected)
		fprintf(out, ", %u unexpected", r->unexpected);
	fprintf(out, ", time %.0fms\n", ns_ms(r->elapsed_ns));
	if (r->received)
		fprintf(out, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", r->min_ms, r->avg_ms, r->max_ms, r->mdev_ms);
	for (int i = 0; i < 2; i++) {
		const struct dc_ping_client *c = &r->clients[i];
		if (!c->connected)
			continue;
		if (c->sping_received)
			fprintf(out, "server ping %c (node %s) min/avg/max = %.3f/%.3f/%.3f ms, %u of %u answered\n", c->name,
				dc_term_safe(c->conn.node->name), c->sping_min_ms, c->sping_sum_ms / c->sping_received, c->sping_max_ms,
				c->sping_received, c->sping_sent);
		else if (c->sping_sent)
			fprintf(out, "server ping %c (node %s): none of %u answered\n", c->name, dc_term_safe(c->conn.node->name), c->sping_sent);
	}
	print_connections(out, rep);
}

void dc_output_ping_cert_call(const struct dc_ping_report *rep, const struct dc_derp_node *node, const char *addr,
			      struct dc_tlscheck_call *call, char *hostport, size_t n)
{
	*call = (struct dc_tlscheck_call){
		.host_name = node->host_name,
		.cert_name = node->cert_name && node->cert_name[0] ? node->cert_name : NULL,
		.ca_file = rep->ca_file,
	};
	/* From the map, `cert --region` checks what clients check (CertName, ports, addresses). */
	if (!rep->host_target && rep->map_spec) {
		call->derp_map = rep->map_spec;
		call->map_format = rep->map_format;
		call->region_id = rep->region->id;
		return;
	}
	/* Else the certificate where we connected: the map's address with the right name. */
	int family = addr[0] == '[' ? 6 : 4;
	const char *field = family == 4 ? node->ipv4 : node->ipv6;
	bool from_map = dc_node_addr_mode(field, family) == DC_ADDR_STATIC;
	snprintf(hostport, n, "%s:%d", node->host_name, dc_node_derp_port(node));
	call->addr = from_map || !node->host_name[0] ? addr : hostport;
}

static void cert_hint(FILE *out, const struct dc_ping_report *rep, const struct dc_derp_attempt *a,
		      const struct dc_derp_node *node)
{
	struct dc_tlscheck_call call;
	char hostport[300], command[700];
	dc_output_ping_cert_call(rep, node, a->addr, &call, hostport, sizeof(hostport));
	dc_tlscheck_command(&call, command, sizeof(command));
	fprintf(out, "  hint: run `%s` for the whole chain, what each Tailscale client makes of it, and the fix\n",
		dc_term_safe(command));
}

void dc_output_ping_trust(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_result *r = rep->result;
	for (int i = 0; i < 2; i++) {
		const struct dc_trust_verdict *v = &rep->trust[i];
		if (!rep->trust_judged[i] || v->state == DC_TRUST_VERIFIED || v->state == DC_TRUST_UNKNOWN)
			continue;
		const struct dc_derp_conn *k = &r->clients[i].conn;
		/* B on A's node: the same certificate, said once. */
		if (i == 1 && rep->trust_judged[0] && r->clients[0].conn.node == k->node)
			continue;
		char label[320];
		node_label(k->node->name, k->node->host_name, label, sizeof(label));
		fprintf(out, "derpcheck: %s at %s: certificate %s%s%s: %s", label, k->tls.peer, paint(rep, RED),
			dc_trust_name(v->state), paint(rep, RESET), dc_term_safe(v->summary));
		if (v->state == DC_TRUST_REJECTED)
			fprintf(out, " (relayed here only because of --insecure)");
		fprintf(out, "\n  cause: %s\n  fix: %s\n", dc_term_safe(v->cause), dc_term_safe(v->fix));
	}
}

static const struct dc_derp_node *attempt_node(const struct dc_derp_region *r, const struct dc_derp_attempt *a)
{
	for (size_t i = 0; r && i < r->node_count; i++)
		if (strcmp(r->nodes[i].name, a->node) == 0)
			return &r->nodes[i];
	return NULL;
}

static void print_attempt(FILE *out, const struct dc_ping_report *rep, char client, const struct dc_derp_attempt *a)
{
	char label[320];
	node_label(a->node, a->host, label, sizeof(label));
	fprintf(out, "derpcheck: %c: %s%s%s: %s\n", client, label, a->addr[0] ? " at " : "", a->addr, dc_term_safe(a->err.what));
	const struct dc_derp_node *node = attempt_node(rep->region, a);
	if (a->failure == DC_DERP_CERT && node)
		cert_hint(out, rep, a, node);
	else if (a->err.hint[0])
		fprintf(out, "  hint: %s\n", dc_term_safe(a->err.hint));
}

bool dc_ping_websocket_only(const struct dc_ping_result *r)
{
	return r->clients[0].conn.auto_note[0] || r->clients[1].conn.auto_note[0];
}

void dc_output_ping_failure(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_result *r = rep->result;
	if (dc_ping_websocket_only(r)) {
		/* auto relayed, but not the way tailscaled connects: that is a problem found, said so. */
		const struct dc_ping_client *c = r->clients[0].conn.auto_note[0] ? &r->clients[0] : &r->clients[1];
		fprintf(out, "derpcheck: %c: node %s relays only over WebSocket: %s\n", c->name, c->conn.node->name,
			c->conn.auto_note);
		char cmd[900] = "derpcheck diagnose";
		if (rep->map_spec && !rep->host_target) {
			dc_shell_append(cmd, sizeof(cmd), "--derp-map");
			dc_shell_append(cmd, sizeof(cmd), rep->map_spec);
			if (rep->map_format) {
				dc_shell_append(cmd, sizeof(cmd), "--map-format");
				dc_shell_append(cmd, sizeof(cmd), rep->map_format);
			}
			if (rep->ca_file) {
				dc_shell_append(cmd, sizeof(cmd), "--ca-file");
				dc_shell_append(cmd, sizeof(cmd), rep->ca_file);
			}
			char id[32];
			snprintf(id, sizeof(id), "%lld", (long long)rep->region->id);
			dc_shell_append(cmd, sizeof(cmd), id);
			fprintf(out, "  hint: tailscaled connects with Upgrade: DERP only, so it cannot use this node; browser clients can. "
				     "`%s` says what the proxy in front of derper does and the lines to change\n", cmd);
		} else {
			fprintf(out, "  hint: tailscaled connects with Upgrade: DERP only, so it cannot use this node; browser clients can\n");
		}
	}
	switch (r->stage) {
	case DC_PING_DONE:
		return;
	case DC_PING_SETUP_FAILED: {
		const struct dc_ping_client *c = &r->clients[r->failed_client];
		if (c->conn.attempt_count == 0) {
			fprintf(out, "derpcheck: %c: %s\n", c->name, dc_term_safe(r->err.what));
			if (r->err.hint[0])
				fprintf(out, "  hint: %s\n", dc_term_safe(r->err.hint));
			return;
		}
		for (size_t i = 0; i < c->conn.attempt_count; i++)
			print_attempt(out, rep, c->name, &c->conn.attempts[i]);
		return;
	}
	case DC_PING_NOT_RELAYING:
	case DC_PING_CONN_LOST: {
		const struct dc_ping_client *c = &r->clients[r->failed_client];
		if (r->stage == DC_PING_CONN_LOST)
			fprintf(out, "derpcheck: %c: %s%s%s\n", c->name, dc_term_safe(r->err.where), r->err.where[0] ? ": " : "",
				dc_term_safe(r->err.what));
		else
			fprintf(out, "derpcheck: %s\n", dc_term_safe(r->err.what));
		if (r->err.hint[0])
			fprintf(out, "  hint: %s\n", dc_term_safe(r->err.hint));
		return;
	}
	}
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static const char *stage_name(enum dc_ping_stage s)
{
	switch (s) {
	case DC_PING_DONE: return "done";
	case DC_PING_SETUP_FAILED: return "setup-failed";
	case DC_PING_NOT_RELAYING: return "not-relaying";
	case DC_PING_CONN_LOST: return "connection-lost";
	}
	return "?";
}

static void add_ms(cJSON *o, const char *name, bool have, double v)
{
	if (have)
		cJSON_AddNumberToObject(o, name, (double)(int64_t)(v * 1000 + 0.5) / 1000.0);
	else
		cJSON_AddNullToObject(o, name);
}

static void add_str_or_null(cJSON *o, const char *name, const char *s)
{
	if (s && *s)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *attempt_json(const struct dc_derp_attempt *a)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", a->node);
	cJSON_AddStringToObject(o, "host_name", a->host);
	add_str_or_null(o, "address", a->addr);
	cJSON_AddStringToObject(o, "failure", dc_derp_failure_name(a->failure));
	cJSON_AddStringToObject(o, "phase", dc_derp_phase_name(a->phase));
	add_str_or_null(o, "message", a->err.what);
	add_str_or_null(o, "hint", a->err.hint);
	return o;
}

static cJSON *trust_json(const struct dc_trust_verdict *v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "trust", dc_trust_name(v->state));
	add_str_or_null(o, "code", v->code);
	add_str_or_null(o, "summary", v->summary);
	add_str_or_null(o, "cause", v->cause);
	add_str_or_null(o, "fix", v->fix);
	return o;
}

static cJSON *client_json(const struct dc_ping_client *c, const struct dc_trust_verdict *trust)
{
	const struct dc_derp_conn *k = &c->conn;
	cJSON *o = cJSON_CreateObject();
	char name[2] = {c->name, '\0'}, hex[65], typed[80];
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "connected", c->connected);
	cJSON *attempts = cJSON_AddArrayToObject(o, "attempts");
	for (size_t i = 0; i < k->attempt_count; i++)
		cJSON_AddItemToArray(attempts, attempt_json(&k->attempts[i]));
	if (!c->connected)
		return o;
	cJSON_AddStringToObject(o, "node", k->node->name);
	cJSON_AddStringToObject(o, "host_name", k->node->host_name);
	cJSON_AddStringToObject(o, "address", k->tls.peer);
	cJSON_AddNumberToObject(o, "family", k->family);
	cJSON_AddStringToObject(o, "tls_version", k->tls_version);
	cJSON_AddBoolToObject(o, "certificate_checked", k->verified);
	cJSON_AddBoolToObject(o, "certificate_required", !k->insecure);
	cJSON_AddItemToObject(o, "certificate", trust ? trust_json(trust) : cJSON_CreateNull());
	cJSON_AddBoolToObject(o, "metacert", k->metacert);
	cJSON_AddBoolToObject(o, "fast_start", k->fast_start);
	cJSON_AddStringToObject(o, "transport", dc_derp_transport_name(k->transport));
	cJSON_AddItemToObject(o, "transport_fallback", k->auto_note[0] ? cJSON_CreateString(k->auto_note) : cJSON_CreateNull());
	dc_derp_key_hex(k->public_key, hex);
	snprintf(typed, sizeof(typed), "nodekey:%s", hex);
	cJSON_AddStringToObject(o, "public_key", typed);
	dc_derp_key_hex(k->server_key, hex);
	cJSON_AddStringToObject(o, "server_key", hex);
	cJSON_AddNumberToObject(o, "server_version", k->info.version);
	if (k->http_derp_version >= 0)
		cJSON_AddNumberToObject(o, "derp_version_header", k->http_derp_version);
	else
		cJSON_AddNullToObject(o, "derp_version_header");
	cJSON_AddBoolToObject(o, "key_mismatch", k->key_mismatch);
	cJSON_AddNumberToObject(o, "token_bucket_bytes_per_second", (double)k->info.token_bucket_bytes_per_second);
	cJSON_AddNumberToObject(o, "token_bucket_bytes_burst", (double)k->info.token_bucket_bytes_burst);
	cJSON *ph = cJSON_AddObjectToObject(o, "phases_ms");
	add_ms(ph, "dns", k->dns_used, ns_ms(k->dns_ns));
	add_ms(ph, "tcp", true, ns_ms(k->tcp_ns));
	add_ms(ph, "tls", true, ns_ms(k->tls_ns));
	add_ms(ph, "verify", k->verified, ns_ms(k->verify_ns));
	add_ms(ph, "upgrade", true, ns_ms(k->upgrade_ns));
	add_ms(ph, "handshake", true, ns_ms(k->handshake_ns));
	add_ms(ph, "total", true, ns_ms(k->connect_ns));
	cJSON *sp = cJSON_AddObjectToObject(o, "server_ping");
	cJSON_AddNumberToObject(sp, "sent", c->sping_sent);
	cJSON_AddNumberToObject(sp, "received", c->sping_received);
	add_ms(sp, "min_ms", c->sping_received > 0, c->sping_min_ms);
	add_ms(sp, "avg_ms", c->sping_received > 0, c->sping_received ? c->sping_sum_ms / c->sping_received : 0);
	add_ms(sp, "max_ms", c->sping_received > 0, c->sping_max_ms);
	cJSON_AddNumberToObject(o, "keep_alives", (double)k->keep_alives);
	cJSON_AddNumberToObject(o, "server_pings_answered", (double)k->pings_answered);
	cJSON_AddNumberToObject(o, "unknown_frames", (double)k->unknown_frames);
	cJSON_AddNumberToObject(o, "malformed_frames", (double)k->malformed_frames);
	add_str_or_null(o, "health", k->health_set ? k->health : NULL);
	if (k->restarting) {
		cJSON *rs = cJSON_AddObjectToObject(o, "restarting");
		cJSON_AddNumberToObject(rs, "reconnect_in_ms", k->reconnect_ms);
		cJSON_AddNumberToObject(rs, "try_for_ms", k->try_for_ms);
	} else {
		cJSON_AddNullToObject(o, "restarting");
	}
	cJSON_AddNumberToObject(o, "peer_gone", c->peer_gone);
	return o;
}

static cJSON *load_json(const struct dc_ping_opts *o, const struct dc_load_result *l)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "mode", o->flood ? "flood" : "rate");
	cJSON *steps = cJSON_AddArrayToObject(j, "steps");
	for (size_t i = 0; i < l->step_count; i++) {
		const struct dc_load_step *s = &l->steps[i];
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "rate_pps", s->rate_pps);
		cJSON_AddNumberToObject(x, "sent", s->sent);
		cJSON_AddNumberToObject(x, "delivered", s->delivered);
		cJSON_AddNumberToObject(x, "lost", s->sent - s->delivered);
		cJSON_AddNumberToObject(x, "duplicates", s->duplicates);
		cJSON_AddNumberToObject(x, "corrupted", s->corrupted);
		cJSON_AddNumberToObject(x, "late", s->late);
		add_ms(x, "send_ms", true, ns_ms(s->send_ns));
		cJSON_AddNumberToObject(x, "sent_pps", (double)(int64_t)(s->sent_pps + 0.5));
		cJSON_AddNumberToObject(x, "delivered_pps", (double)(int64_t)(s->delivered_pps + 0.5));
		add_ms(x, "delay_min_ms", s->delivered > 0, s->delay_min_ms);
		add_ms(x, "delay_avg_ms", s->delivered > 0, s->delay_avg_ms);
		add_ms(x, "delay_p99_ms", s->delivered > 0, s->delay_p99_ms);
		add_ms(x, "delay_max_ms", s->delivered > 0, s->delay_max_ms);
		cJSON_AddBoolToObject(x, "sender_behind", s->sender_behind);
		cJSON_AddNumberToObject(x, "largest_burst", s->largest_burst);
		cJSON_AddItemToArray(steps, x);
	}
	if (l->highest_clean_pps > 0)
		cJSON_AddNumberToObject(j, "highest_clean_pps", (double)(int64_t)(l->highest_clean_pps + 0.5));
	else
		cJSON_AddNullToObject(j, "highest_clean_pps");
	if (l->first_loss_pps)
		cJSON_AddNumberToObject(j, "first_loss_pps", l->first_loss_pps);
	else
		cJSON_AddNullToObject(j, "first_loss_pps");
	cJSON_AddBoolToObject(j, "sender_limited", l->sender_limited);
	return j;
}

void dc_output_ping_json(FILE *out, const struct dc_ping_report *rep)
{
	const struct dc_ping_result *r = rep->result;
	const struct dc_ping_opts *o = rep->opts;
	cJSON *doc = cJSON_CreateObject();
	cJSON *t = cJSON_AddObjectToObject(doc, "target");
	cJSON_AddStringToObject(t, "given", rep->target);
	if (rep->host_target) {
		cJSON_AddNullToObject(t, "region_id");
	} else {
		cJSON_AddNumberToObject(t, "region_id", (double)rep->region->id);
	}
	cJSON_AddStringToObject(t, "region_code", region_code(rep));
	add_str_or_null(t, "map", rep->map_name);
	add_str_or_null(t, "map_source", rep->map_source);
	cJSON_AddNumberToObject(doc, "count", o->count);
	cJSON_AddNumberToObject(doc, "interval_ms", (double)o->interval_ms);
	cJSON_AddNumberToObject(doc, "size", (double)o->size);
	cJSON_AddNumberToObject(doc, "timeout_ms", (double)o->reply_timeout_ms);
	cJSON_AddBoolToObject(doc, "mesh", r->mesh);
	cJSON_AddBoolToObject(doc, "insecure", o->insecure);
	bool trusted = true;
	for (int i = 0; i < 2; i++)
		trusted = trusted && (!rep->trust_judged[i] || rep->trust[i].state == DC_TRUST_VERIFIED);
	cJSON_AddBoolToObject(doc, "ok", r->ok && trusted);
	cJSON_AddStringToObject(doc, "stage", stage_name(r->stage));
	if (r->stage == DC_PING_DONE) {
		cJSON_AddNullToObject(doc, "error");
	} else {
		cJSON *e = cJSON_AddObjectToObject(doc, "error");
		const struct dc_ping_client *c = &r->clients[r->failed_client];
		char name[2] = {c->name, '\0'};
		cJSON_AddStringToObject(e, "client", name);
		const struct dc_derp_attempt *a = c->conn.attempt_count ? &c->conn.attempts[0] : NULL;
		if (r->stage == DC_PING_SETUP_FAILED && a) {
			cJSON_AddStringToObject(e, "failure", dc_derp_failure_name(a->failure));
			cJSON_AddStringToObject(e, "phase", dc_derp_phase_name(a->phase));
		} else if (r->stage == DC_PING_SETUP_FAILED) {
			cJSON_AddStringToObject(e, "failure", dc_derp_failure_name(c->conn.failure));
			cJSON_AddStringToObject(e, "phase", dc_derp_phase_name(c->conn.phase));
		} else if (r->stage == DC_PING_CONN_LOST) {
			cJSON_AddStringToObject(e, "failure", dc_derp_failure_name(c->conn.failure));
			cJSON_AddStringToObject(e, "phase", "relay");
		} else {
			cJSON_AddStringToObject(e, "failure", "not-relaying");
			cJSON_AddStringToObject(e, "phase", "relay");
		}
		add_str_or_null(e, "where", r->err.where);
		cJSON_AddStringToObject(e, "message", r->err.what);
		add_str_or_null(e, "hint", r->err.hint);
	}
	cJSON *cl = cJSON_AddArrayToObject(doc, "clients");
	for (int i = 0; i < 2; i++)
		if (r->clients[i].attempted)
			cJSON_AddItemToArray(cl, client_json(&r->clients[i], rep->trust_judged[i] ? &rep->trust[i] : NULL));
	cJSON *pk = cJSON_AddArrayToObject(doc, "packets");
	for (unsigned i = 0; i < r->sent; i++) {
		const struct dc_ping_packet *p = &r->packets[i];
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "seq", p->seq);
		cJSON_AddBoolToObject(x, "replied", p->replied);
		add_ms(x, "rtt_ms", p->replied, p->rtt_ms);
		add_ms(x, "there_ms", p->replied, p->there_ms);
		add_ms(x, "back_ms", p->replied, p->back_ms);
		cJSON_AddBoolToObject(x, "corrupted", p->corrupted);
		cJSON_AddItemToArray(pk, x);
	}
	if (r->load.ran)
		cJSON_AddItemToObject(doc, "load", load_json(o, &r->load));
	else
		cJSON_AddNullToObject(doc, "load");
	cJSON *s = cJSON_AddObjectToObject(doc, "summary");
	cJSON_AddNumberToObject(s, "sent", r->sent);
	cJSON_AddNumberToObject(s, "received", r->received);
	cJSON_AddNumberToObject(s, "lost", r->sent - r->received);
	cJSON_AddNumberToObject(s, "loss_percent", r->sent ? (double)(r->sent - r->received) * 100.0 / r->sent : 0);
	cJSON_AddNumberToObject(s, "duplicates", r->duplicates);
	cJSON_AddNumberToObject(s, "corrupted", r->corrupted);
	cJSON_AddNumberToObject(s, "late", r->late);
	cJSON_AddNumberToObject(s, "unexpected", r->unexpected);
	add_ms(s, "min_ms", r->received > 0, r->min_ms);
	add_ms(s, "avg_ms", r->received > 0, r->avg_ms);
	add_ms(s, "max_ms", r->received > 0, r->max_ms);
	add_ms(s, "mdev_ms", r->received > 0, r->mdev_ms);
	add_ms(s, "first_relay_ms", r->stage != DC_PING_SETUP_FAILED && r->stage != DC_PING_NOT_RELAYING, r->first_relay_ms);
	add_ms(s, "connect_ms", r->clients[1].connected, ns_ms(r->connect_ns));
	add_ms(s, "send_span_ms", r->sent > 0, ns_ms(r->send_span_ns));
	add_ms(s, "elapsed_ms", true, ns_ms(r->elapsed_ns));
	char *text = dc_json_text(doc, true);
	fprintf(out, "%s\n", text ? text : "{}");
	free(text);
	cJSON_Delete(doc);
}
