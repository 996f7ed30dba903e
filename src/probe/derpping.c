#include "derpcheck/probe/derpping.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "derpcheck/util/cursor.h"

/* Relayed payload layout (all ours; DERP never looks inside). Not "TS💬", so never disco. */
#define PKT_MAGIC "dcpg"
#define PKT_PING 1
#define PKT_ECHO 2
#define PKT_WARMUP 3
#define OFF_KIND 4
#define OFF_SEQ 5
#define OFF_RUN 9
#define OFF_SENT 17
#define OFF_BSEEN 25
#define OFF_PAD 33

#define WARMUP_EVERY_NS 20000000u /* resend the first packet every 20 ms until B sees one */

struct run {
	const struct dc_ping_opts *o;
	struct dc_ping_result *r;
	uint64_t run_id;
	uint8_t *buf; /* one packet */
	bool warm;
	uint64_t first_warmup_ns;
};

static void emit(struct run *x, enum dc_ping_event_kind kind, int client, uint32_t seq)
{
	if (!x->o->on_event)
		return;
	struct dc_ping_event ev = {.kind = kind, .client = client, .seq = seq, .result = x->r};
	x->o->on_event(x->o->user, &ev);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void build(struct run *x, uint8_t kind, uint32_t seq, uint64_t now)
{
	struct dc_writer w;
	dc_writer_init(&w, x->buf, x->o->size);
	dc_writer_bytes(&w, PKT_MAGIC, 4);
	dc_writer_u8(&w, kind);
	dc_writer_be32(&w, seq);
	dc_writer_be64(&w, x->run_id);
	dc_writer_be64(&w, now);
	dc_writer_be64(&w, 0);
	for (size_t i = OFF_PAD; i < x->o->size; i++)
		x->buf[i] = (uint8_t)(seq + i);
}

/* Our packet of this run: kind, seq and the two timestamps. */
struct parsed {
	uint8_t kind;
	uint32_t seq;
	uint64_t sent, bseen;
	bool intact;
};

static bool parse(const struct run *x, const uint8_t *p, size_t n, struct parsed *out)
{
	struct dc_cursor c;
	dc_cursor_init(&c, p, n);
	const uint8_t *magic;
	uint64_t run;
	if (!dc_cursor_view(&c, 4, &magic) || memcmp(magic, PKT_MAGIC, 4) != 0 || !dc_cursor_u8(&c, &out->kind) ||
	    !dc_cursor_be32(&c, &out->seq) || !dc_cursor_be64(&c, &run) || !dc_cursor_be64(&c, &out->sent) ||
	    !dc_cursor_be64(&c, &out->bseen) || run != x->run_id)
		return false;
	out->intact = n == x->o->size;
	for (size_t i = OFF_PAD; i < n && out->intact; i++)
		out->intact = p[i] == (uint8_t)(out->seq + i);
	return true;
}

static int fail_client(struct run *x, int client, enum dc_ping_stage stage)
{
	x->r->stage = stage;
	x->r->failed_client = client;
	x->r->err = x->r->clients[client].err;
	return -1;
}

static void send_server_ping(struct dc_ping_client *c, uint64_t now)
{
	randombytes_buf(c->sping_data, sizeof(c->sping_data));
	dc_derp_queue_ping(&c->conn, c->sping_data);
	c->sping_pending = true;
	c->sping_at = now;
	c->sping_sent++;
}

/* B got a packet: echo pings, note warm-ups. */
static void on_b_packet(struct run *x, const struct dc_derp_msg *m, uint64_t now)
{
	struct dc_ping_client *a = &x->r->clients[0], *b = &x->r->clients[1];
	struct parsed p;
	if (memcmp(m->u.packet.key, a->conn.public_key, DC_DERP_KEY_LEN) != 0 || !parse(x, m->u.packet.data, m->u.packet.len, &p)) {
		x->r->unexpected++;
		return;
	}
	if (p.kind == PKT_WARMUP) {
		if (!x->warm) {
			x->warm = true;
			x->r->first_relay_ms = ms(now - x->first_warmup_ns);
			emit(x, DC_PING_EV_RELAYING, 1, 0);
		}
		return;
	}
	if (p.kind != PKT_PING)
		return;
	/* Echo the same bytes; the kind and B's receive time change. */
	uint8_t *echo = x->buf;
	memcpy(echo, m->u.packet.data, m->u.packet.len);
	struct dc_writer w;
	dc_writer_init(&w, echo + OFF_KIND, 1);
	dc_writer_u8(&w, PKT_ECHO);
	dc_writer_init(&w, echo + OFF_BSEEN, 8);
	dc_writer_be64(&w, now);
	dc_derp_queue_packet(&b->conn, a->conn.public_key, echo, m->u.packet.len);
}

static void on_a_packet(struct run *x, const struct dc_derp_msg *m, uint64_t now)
{
	struct dc_ping_client *b = &x->r->clients[1];
	struct dc_ping_result *r = x->r;
	struct parsed p;
	if (memcmp(m->u.packet.key, b->conn.public_key, DC_DERP_KEY_LEN) != 0 || !parse(x, m->u.packet.data, m->u.packet.len, &p) ||
	    p.kind != PKT_ECHO || p.seq == 0 || p.seq > r->sent) {
		r->unexpected++;
		return;
	}
	struct dc_ping_packet *pk = &r->packets[p.seq - 1];
	if (pk->replied) {
		r->duplicates++;
		return;
	}
	if (pk->lost) {
		r->late++; /* after its timeout: stays lost, as ping(8) counts it */
		return;
	}
	pk->replied = true;
	pk->corrupted = !p.intact || p.sent != pk->sent_ns;
	r->corrupted += pk->corrupted;
	pk->rtt_ms = ms(now - pk->sent_ns);
	if (p.bseen >= pk->sent_ns && p.bseen <= now) {
		pk->there_ms = ms(p.bseen - pk->sent_ns);
		pk->back_ms = ms(now - p.bseen);
	}
	r->received++;
	emit(x, DC_PING_EV_REPLY, 0, p.seq);
}

static void on_pong(struct dc_ping_client *c, const struct dc_derp_msg *m, uint64_t now)
{
	if (!c->sping_pending || memcmp(m->u.ping.data, c->sping_data, 8) != 0)
		return;
	c->sping_pending = false;
	double rtt = ms(now - c->sping_at);
	if (c->sping_received == 0 || rtt < c->sping_min_ms)
		c->sping_min_ms = rtt;
	if (rtt > c->sping_max_ms)
		c->sping_max_ms = rtt;
	c->sping_sum_ms += rtt;
	c->sping_received++;
}

/* Everything client i has for us now; -1 when its connection failed. */
static int drain(struct run *x, int i)
{
	struct dc_ping_client *c = &x->r->clients[i];
	struct dc_derp_msg m;
	int rc;
	while ((rc = dc_derp_recv(&c->conn, 0, &m, &c->err)) == 1) {
		uint64_t now = dc_now_ns();
		switch (m.type) {
		case DC_DERP_RECV_PACKET:
			if (i == 1)
				on_b_packet(x, &m, now);
			else
				on_a_packet(x, &m, now);
			break;
		case DC_DERP_PONG: on_pong(c, &m, now); break;
		case DC_DERP_PEER_GONE:
			c->peer_gone++;
			emit(x, DC_PING_EV_PEER_GONE, i, 0);
			break;
		case DC_DERP_HEALTH: emit(x, DC_PING_EV_HEALTH, i, 0); break;
		case DC_DERP_RESTARTING: emit(x, DC_PING_EV_RESTARTING, i, 0); break;
		case DC_DERP_PING: emit(x, DC_PING_EV_SERVER_PING, i, 0); break;
		default: break;
		}
	}
	if (rc < 0)
		return -1;
	/* B's echoes go out as soon as they are made. */
	if (c->conn.wbuf.len && dc_derp_flush(&c->conn, dc_now_ns() + 2000000000u, &c->err) < 0)
		return -1;
	return 0;
}

/* Wait for either connection until deadline; then drain both. */
static int pump(struct run *x, uint64_t deadline)
{
	struct dc_ping_client *cl = x->r->clients;
	if (!dc_derp_readable_now(&cl[0].conn) && !dc_derp_readable_now(&cl[1].conn)) {
		/* ppoll: the send schedule and the timeouts keep microseconds, not whole milliseconds. */
		uint64_t now = dc_now_ns(), left = deadline > now ? deadline - now : 0;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
		struct pollfd p[2] = {{.fd = dc_derp_fd(&cl[0].conn), .events = POLLIN},
				      {.fd = dc_derp_fd(&cl[1].conn), .events = POLLIN}};
		if (ppoll(p, 2, &ts, NULL) < 0 && errno != EINTR)
			return -1;
	}
	for (int i = 1; i >= 0; i--) /* B first: its echoes leave sooner */
		if (drain(x, i) < 0)
			return fail_client(x, i, DC_PING_CONN_LOST);
	return 0;
}

static int warm_up(struct run *x)
{
	struct dc_ping_client *a = &x->r->clients[0], *b = &x->r->clients[1];
	uint64_t start = dc_now_ns();
	uint64_t deadline = start + (uint64_t)x->o->reply_timeout_ms * 1000000u;
	uint64_t next = start;
	x->first_warmup_ns = start;
	while (!x->warm) {
		uint64_t now = dc_now_ns();
		if (now >= deadline)
			break;
		if (now >= next) {
			build(x, PKT_WARMUP, 0, now);
			dc_derp_queue_packet(&a->conn, b->conn.public_key, x->buf, x->o->size);
			if (dc_derp_flush(&a->conn, deadline, &a->err) < 0)
				return fail_client(x, 0, DC_PING_CONN_LOST);
			next = now + WARMUP_EVERY_NS;
		}
		if (pump(x, next < deadline ? next : deadline) < 0)
			return -1;
	}
	if (x->warm)
		return 0;
	struct dc_ping_result *r = x->r;
	r->stage = DC_PING_NOT_RELAYING;
	r->failed_client = 1;
	const char *na = a->conn.node->name, *nb = b->conn.node->name;
	if (strcmp(na, nb) != 0) {
		dc_error_set(&r->err, NULL, "packets from A on node %s never reached B on node %s within %ld ms: the nodes do not forward to each other",
			     na, nb, x->o->reply_timeout_ms);
		dc_error_hint(&r->err, "meshed derpers need the same mesh key (--mesh-psk-file) and must dial each other (--mesh-with); check their logs for mesh errors");
	} else {
		dc_error_set(&r->err, NULL, "node %s admitted both clients, but no packet from A reached B within %ld ms: it does not relay",
			     na, x->o->reply_timeout_ms);
		dc_error_hint(&r->err, "derper logs why it drops packets; a server that accepts clients but never relays is broken or not derper");
	}
	return -1;
}

static void stats(struct dc_ping_result *r)
{
	double sum = 0, sum2 = 0;
	unsigned n = 0;
	for (unsigned i = 0; i < r->sent; i++) {
		const struct dc_ping_packet *p = &r->packets[i];
		if (!p->replied)
			continue;
		if (n == 0 || p->rtt_ms < r->min_ms)
			r->min_ms = p->rtt_ms;
		if (p->rtt_ms > r->max_ms)
			r->max_ms = p->rtt_ms;
		sum += p->rtt_ms;
		sum2 += p->rtt_ms * p->rtt_ms;
		n++;
	}
	if (n) {
		r->avg_ms = sum / n;
		double var = sum2 / n - r->avg_ms * r->avg_ms; /* as ping(8) computes mdev */
		r->mdev_ms = var > 0 ? sqrt(var) : 0;
	}
}

static int exchange(struct run *x)
{
	const struct dc_ping_opts *o = x->o;
	struct dc_ping_result *r = x->r;
	struct dc_ping_client *a = &r->clients[0], *b = &r->clients[1];
	uint64_t interval = (uint64_t)o->interval_ms * 1000000u, timeout = (uint64_t)o->reply_timeout_ms * 1000000u;
	uint64_t next_send = dc_now_ns();
	unsigned first_open = 0; /* packets before this one are answered or lost */
	for (;;) {
		uint64_t now = dc_now_ns();
		if (r->sent < o->count && now >= next_send) {
			uint32_t seq = ++r->sent;
			struct dc_ping_packet *p = &r->packets[seq - 1];
			p->seq = seq;
			for (int i = 0; i < 2; i++)
				if (!r->clients[i].sping_pending)
					send_server_ping(&r->clients[i], now);
			p->sent_ns = dc_now_ns();
			build(x, PKT_PING, seq, p->sent_ns);
			dc_derp_queue_packet(&a->conn, b->conn.public_key, x->buf, o->size);
			if (dc_derp_flush(&a->conn, p->sent_ns + timeout, &a->err) < 0)
				return fail_client(x, 0, DC_PING_CONN_LOST);
			if (dc_derp_flush(&b->conn, p->sent_ns + timeout, &b->err) < 0)
				return fail_client(x, 1, DC_PING_CONN_LOST);
			/* A fixed schedule, as ping(8) keeps: late sends do not push the later ones back. */
			next_send += interval;
			if (next_send < p->sent_ns)
				next_send = p->sent_ns;
		}
		/* Packets leave in order, so they expire in order: only the oldest open ones matter. */
		now = dc_now_ns();
		for (unsigned i = first_open; i < r->sent && r->packets[i].sent_ns + timeout <= now; i++) {
			struct dc_ping_packet *p = &r->packets[i];
			if (!p->replied && !p->lost) {
				p->lost = true;
				r->lost++;
				emit(x, DC_PING_EV_LOST, 0, p->seq);
			}
		}
		while (first_open < r->sent && (r->packets[first_open].replied || r->packets[first_open].lost))
			first_open++;
		for (int i = 0; i < 2; i++) {
			struct dc_ping_client *c = &r->clients[i];
			if (c->sping_pending && now >= c->sping_at + timeout)
				c->sping_pending = false; /* unanswered: stays counted as sent */
		}
		if (r->sent == o->count && first_open == r->sent)
			break;
		uint64_t wake = r->sent < o->count ? next_send : UINT64_MAX;
		if (first_open < r->sent && r->packets[first_open].sent_ns + timeout < wake)
			wake = r->packets[first_open].sent_ns + timeout;
		if (pump(x, wake) < 0)
			return -1;
	}
	/* Let server pings still in flight finish (microseconds on a healthy server), within their timeout. */
	for (;;) {
		uint64_t now = dc_now_ns(), until = 0;
		for (int i = 0; i < 2; i++) {
			struct dc_ping_client *c = &r->clients[i];
			if (c->sping_pending && now >= c->sping_at + timeout)
				c->sping_pending = false;
			if (c->sping_pending && c->sping_at + timeout > until)
				until = c->sping_at + timeout;
		}
		if (!until)
			return 0;
		if (pump(x, until) < 0)
			return -1;
	}
}

int dc_ping_run(const struct dc_ping_opts *o, struct dc_ping_result *r)
{
	memset(r, 0, sizeof(*r));
	r->count = o->count;
	r->packets = dc_xcalloc(o->count ? o->count : 1, sizeof(*r->packets));
	r->clients[0].name = 'A';
	r->clients[1].name = 'B';
	r->clients[0].conn.tls.fd = r->clients[1].conn.tls.fd = -1;
	/* Room for any packet the relay can deliver, whatever size we send. */
	struct run x = {.o = o, .r = r, .buf = dc_xcalloc(1, DC_DERP_MAX_PACKET)};
	randombytes_buf(&x.run_id, sizeof(x.run_id));
	uint64_t start = dc_now_ns();
	int rc = -1;

	struct dc_derp_dial_opts dial = {
		.region = o->region, .node = o->node, .family = o->family, .ca_file = o->ca_file, .insecure = o->insecure,
		.no_fast_start = o->no_fast_start, .timeout_ms = o->connect_timeout_ms, .is_prober = true,
		.transport = o->transport,
		.app_name = "derpcheck",
	};
	for (int i = 0; i < 2; i++) {
		struct dc_ping_client *c = &r->clients[i];
		if (i == 1) {
			/* B on A's node, or with mesh on any other node of the region. */
			const char *a_node = r->clients[0].conn.node->name;
			dial.node = o->mesh ? NULL : a_node;
			dial.skip_node = o->mesh ? a_node : NULL;
		}
		c->attempted = true;
		if (dc_derp_connect(&dial, &c->conn, &c->err) < 0) {
			fail_client(&x, i, DC_PING_SETUP_FAILED);
			goto out;
		}
		c->connected = true;
		emit(&x, DC_PING_EV_CONNECTED, i, 0);
	}
	r->mesh = strcmp(r->clients[0].conn.node->name, r->clients[1].conn.node->name) != 0;
	if (warm_up(&x) < 0 || exchange(&x) < 0)
		goto out;
	r->stage = DC_PING_DONE;
	rc = r->received == r->count ? 0 : -1;
out:
	stats(r);
	r->elapsed_ns = dc_now_ns() - start;
	free(x.buf);
	return rc;
}

void dc_ping_result_free(struct dc_ping_result *r)
{
	for (int i = 0; i < 2; i++)
		dc_derp_close(&r->clients[i].conn);
	free(r->packets);
	r->packets = NULL;
}
