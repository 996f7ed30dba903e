#include "derpcheck/probe/derpping.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "derpcheck/util/cursor.h"

/* Relayed payload layout (all ours; DERP never looks inside). Not "TS💬", so never disco. */
#define PKT_MAGIC "dcpg"
#define PKT_PING 1
#define PKT_ECHO 2
#define PKT_WARMUP 3
#define PKT_LOAD 4 /* load mode: counted by B, not echoed */
#define OFF_KIND 4
#define OFF_SEQ 5
#define OFF_RUN 9
#define OFF_SENT 17
#define OFF_BSEEN 25
#define OFF_PAD 33

#define WARMUP_EVERY_NS 20000000u /* resend the first packet every 20 ms until B sees one */
/* Messages handled per connection and pass: a server that floods Pings or Health cannot
 * keep the loop from its sends and timeouts (the STUN prober budgets the same way). */
#define DRAIN_BUDGET 256

#define FLOOD_FIRST_PPS 1000u
#define FLOOD_MAX_PPS 2000000u
#define FLOOD_STEP_NS 500000000u  /* each rate is held for half a second */
#define FLOOD_DRAIN_NS 500000000u /* and stragglers get half a second more */
#define FLOOD_REFINE 3            /* halvings of the gap between the last clean and the first lossy rate */

/* What B has seen of the current load step. */
struct load_step_state {
	uint32_t first_seq; /* this step's packets are first_seq .. first_seq + n - 1 */
	unsigned n;
	uint8_t *seen;      /* bitmap */
	float *delay_ms;    /* one per delivered packet */
	unsigned delivered, duplicates, corrupted, late;
	uint64_t first_send_ns, last_deliver_ns;
};

struct run {
	const struct dc_ping_opts *o;
	struct dc_ping_result *r;
	uint64_t run_id;
	uint8_t *buf; /* one packet */
	bool warm;
	uint64_t first_warmup_ns;
	uint32_t load_seq; /* the last sequence number sent in load mode */
	struct load_step_state step;
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

/* B got a load packet: this step's (counted once), or an earlier step's (late). */
static void load_receipt(struct run *x, const struct parsed *p, uint64_t now)
{
	struct load_step_state *st = &x->step;
	if (!st->n || p->seq < st->first_seq || p->seq - st->first_seq >= st->n) {
		st->late++;
		return;
	}
	uint32_t i = p->seq - st->first_seq;
	if (st->seen[i / 8] & (1u << (i % 8))) {
		st->duplicates++;
		return;
	}
	st->seen[i / 8] |= (uint8_t)(1u << (i % 8));
	st->corrupted += !p->intact;
	st->delay_ms[st->delivered++] = now > p->sent ? (float)((double)(now - p->sent) / 1e6) : 0.0f;
	st->last_deliver_ns = now;
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
	if (p.kind == PKT_LOAD) {
		load_receipt(x, &p, now);
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

/* One message client i received. */
static void dispatch(struct run *x, int i, const struct dc_derp_msg *m, uint64_t now)
{
	struct dc_ping_client *c = &x->r->clients[i];
	switch (m->type) {
	case DC_DERP_RECV_PACKET:
		if (i == 1)
			on_b_packet(x, m, now);
		else
			on_a_packet(x, m, now);
		break;
	case DC_DERP_PONG: on_pong(c, m, now); break;
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

void dc_ping_handle(const struct dc_ping_opts *o, struct dc_ping_result *r, uint64_t run_id, int client,
		    const struct dc_derp_msg *m, uint64_t now)
{
	struct run x = {.o = o, .r = r, .run_id = run_id, .buf = dc_xmalloc(DC_DERP_MAX_PACKET)};
	dispatch(&x, client ? 1 : 0, m, now);
	free(x.buf);
}

/* What client i has for us now, within the budget and until deadline; -1 when its connection failed. */
static int drain(struct run *x, int i, uint64_t deadline)
{
	struct dc_ping_client *c = &x->r->clients[i];
	struct dc_derp_msg m;
	int rc = 0;
	for (int n = 0; n < DRAIN_BUDGET && (n == 0 || dc_now_ns() < deadline); n++) {
		if ((rc = dc_derp_recv(&c->conn, 0, &m, &c->err)) != 1)
			break;
		dispatch(x, i, &m, dc_now_ns());
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
	/* Only a connection with something to read is read: a read that finds nothing costs
	 * system calls between a packet's arrival and its echo. */
	bool ready[2] = {dc_derp_readable_now(&cl[0].conn), dc_derp_readable_now(&cl[1].conn)};
	if (!ready[0] && !ready[1]) {
		/* ppoll: the send schedule and the timeouts keep microseconds, not whole milliseconds. */
		uint64_t now = dc_now_ns(), left = deadline > now ? deadline - now : 0;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
		struct pollfd p[2] = {{.fd = dc_derp_fd(&cl[0].conn), .events = POLLIN},
				      {.fd = dc_derp_fd(&cl[1].conn), .events = POLLIN}};
		if (ppoll(p, 2, &ts, NULL) < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < 2; i++)
			ready[i] = p[i].revents != 0;
	}
	for (int i = 1; i >= 0; i--) /* B first: its echoes leave sooner */
		if (ready[i] && drain(x, i, deadline) < 0)
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

/* Send every packet whose time has come; they leave in one write. */
static int send_due(struct run *x, uint64_t first_ns, uint64_t interval)
{
	const struct dc_ping_opts *o = x->o;
	struct dc_ping_result *r = x->r;
	struct dc_ping_client *a = &r->clients[0], *b = &r->clients[1];
	uint64_t now = dc_now_ns();
	unsigned from = r->sent;
	while (r->sent < o->count && now >= first_ns + (uint64_t)r->sent * interval) {
		uint32_t seq = ++r->sent;
		struct dc_ping_packet *p = &r->packets[seq - 1];
		p->seq = seq;
		p->sent_ns = now;
		build(x, PKT_PING, seq, now);
		dc_derp_queue_packet(&a->conn, b->conn.public_key, x->buf, o->size);
	}
	if (r->sent == from)
		return 0;
	if (dc_derp_flush(&a->conn, now + (uint64_t)o->reply_timeout_ms * 1000000u, &a->err) < 0)
		return fail_client(x, 0, DC_PING_CONN_LOST);
	if (from == 0)
		r->send_span_ns = 0;
	else
		r->send_span_ns = now - r->packets[0].sent_ns;
	return 0;
}

/* The server's own Ping/Pong, half an interval after each packet so the two never meet. */
static int send_server_pings(struct run *x, uint64_t now)
{
	struct dc_ping_result *r = x->r;
	for (int i = 0; i < 2; i++) {
		struct dc_ping_client *c = &r->clients[i];
		if (c->sping_pending)
			continue; /* the server answers one at a time (protocols.md §1.7) */
		send_server_ping(c, now);
		if (dc_derp_flush(&c->conn, now + (uint64_t)x->o->reply_timeout_ms * 1000000u, &c->err) < 0)
			return fail_client(x, i, DC_PING_CONN_LOST);
	}
	return 0;
}

static int exchange(struct run *x)
{
	const struct dc_ping_opts *o = x->o;
	struct dc_ping_result *r = x->r;
	uint64_t interval = (uint64_t)o->interval_ms * 1000000u, timeout = (uint64_t)o->reply_timeout_ms * 1000000u;
	/*
	 * An absolute schedule: packet k leaves at first + k x interval, whatever happened
	 * before; a send that was late (the machine was busy) does not delay the later ones,
	 * and packets already due go out together.
	 */
	uint64_t first = dc_now_ns();
	unsigned spings = 0;       /* server ping rounds done: one per packet */
	unsigned first_open = 0;   /* packets before this one are answered or lost */
	for (;;) {
		if (send_due(x, first, interval) < 0)
			return -1;
		uint64_t now = dc_now_ns();
		bool all_back = r->sent == o->count && first_open == r->sent;
		/* ... or at once when the last packet is back: the run does not wait for them. */
		if (spings < r->sent && (all_back || now >= first + (uint64_t)spings * interval + interval / 2)) {
			if (send_server_pings(x, now) < 0)
				return -1;
			spings++;
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
		if (r->sent == o->count && first_open == r->sent && spings == r->sent)
			break;
		uint64_t wake = UINT64_MAX;
		if (r->sent < o->count)
			wake = first + (uint64_t)r->sent * interval;
		if (spings < r->sent && first + (uint64_t)spings * interval + interval / 2 < wake)
			wake = first + (uint64_t)spings * interval + interval / 2;
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

/* ---- load mode ------------------------------------------------------------------------------ */

static int compare_float(const void *pa, const void *pb)
{
	float a = *(const float *)pa, b = *(const float *)pb;
	return a < b ? -1 : a > b;
}

/*
 * Hold one rate for n packets: packet k leaves at t0 + k / rate (the ones already due leave
 * together, in one write), B counts them, and stragglers get drain_ns after the last send.
 */
static int load_step(struct run *x, unsigned rate, unsigned n, uint64_t drain_ns, struct dc_load_step *out)
{
	const struct dc_ping_opts *o = x->o;
	struct dc_ping_result *r = x->r;
	struct dc_ping_client *a = &r->clients[0], *b = &r->clients[1];
	struct load_step_state *st = &x->step;
	free(st->seen);
	free(st->delay_ms);
	*st = (struct load_step_state){.first_seq = x->load_seq + 1, .n = n, .seen = dc_xcalloc((n + 7) / 8, 1),
				       .delay_ms = dc_xmalloc((size_t)n * sizeof(float))};
	memset(out, 0, sizeof(*out));
	out->rate_pps = rate;
	uint64_t gap = 1000000000u / rate, t0 = dc_now_ns(), last_send = t0;
	uint64_t timeout = (uint64_t)o->reply_timeout_ms * 1000000u;
	st->first_send_ns = t0;
	while (out->sent < n) {
		uint64_t now = dc_now_ns();
		uint64_t due = (now - t0) / gap + 1;
		uint64_t burst = (due < n ? due : n) - (due < out->sent ? due : out->sent);
		if (burst > out->largest_burst)
			out->largest_burst = (unsigned)burst; /* > 1 only when the loop fell behind */
		while (out->sent < n && out->sent < due) {
			build(x, PKT_LOAD, ++x->load_seq, now);
			dc_derp_queue_packet(&a->conn, b->conn.public_key, x->buf, o->size);
			out->sent++;
		}
		last_send = now;
		if (dc_derp_flush(&a->conn, now + timeout, &a->err) < 0)
			return fail_client(x, 0, DC_PING_CONN_LOST);
		if (out->sent < n && pump(x, t0 + (uint64_t)out->sent * gap) < 0)
			return -1;
	}
	while (st->delivered < n && dc_now_ns() < last_send + drain_ns)
		if (pump(x, last_send + drain_ns) < 0)
			return -1;
	out->send_ns = last_send - t0;
	out->delivered = st->delivered;
	out->duplicates = st->duplicates;
	out->corrupted = st->corrupted;
	out->late = st->late;
	out->deliver_ns = st->delivered ? st->last_deliver_ns - t0 : 0;
	out->sent_pps = n > 1 && out->send_ns ? (double)(n - 1) * 1e9 / (double)out->send_ns : 0;
	out->delivered_pps = out->deliver_ns ? (double)st->delivered * 1e9 / (double)out->deliver_ns : 0;
	/* Behind by more than a tenth: what was measured is this machine, not the relay. */
	out->sender_behind = n > 1 && out->send_ns > (uint64_t)((double)(n - 1) * (double)gap * 1.1);
	if (st->delivered) {
		qsort(st->delay_ms, st->delivered, sizeof(float), compare_float);
		double sum = 0;
		for (unsigned i = 0; i < st->delivered; i++)
			sum += st->delay_ms[i];
		out->delay_min_ms = st->delay_ms[0];
		out->delay_max_ms = st->delay_ms[st->delivered - 1];
		out->delay_avg_ms = sum / st->delivered;
		unsigned k = (unsigned)((double)st->delivered * 0.99 + 0.999);
		out->delay_p99_ms = st->delay_ms[(k ? k : 1) - 1];
	}
	st->n = 0; /* what still arrives is late */
	return 0;
}

static struct dc_load_step *next_step(struct dc_load_result *l)
{
	l->steps = dc_xrealloc(l->steps, (l->step_count + 1) * sizeof(*l->steps));
	return &l->steps[l->step_count++];
}

static void note_step(struct dc_load_result *l, const struct dc_load_step *s)
{
	bool lost = s->delivered < s->sent;
	if (lost && (!l->first_loss_pps || s->rate_pps < l->first_loss_pps))
		l->first_loss_pps = s->rate_pps;
	if (!lost && !s->sender_behind && s->delivered_pps > l->highest_clean_pps)
		l->highest_clean_pps = s->delivered_pps;
}

/* --rate: one step of count packets; --flood: double the rate until packets are lost. */
static int load(struct run *x)
{
	const struct dc_ping_opts *o = x->o;
	struct dc_load_result *l = &x->r->load;
	l->ran = true;
	if (!o->flood) {
		struct dc_load_step *s = next_step(l);
		if (load_step(x, o->rate_pps, o->count, (uint64_t)o->reply_timeout_ms * 1000000u, s) < 0)
			return -1;
		note_step(l, s);
		l->sender_limited = s->sender_behind;
		return 0;
	}
	unsigned good = 0, bad = 0;
	for (unsigned rate = FLOOD_FIRST_PPS; rate <= FLOOD_MAX_PPS; rate *= 2) {
		unsigned n = (unsigned)((uint64_t)rate * FLOOD_STEP_NS / 1000000000u);
		struct dc_load_step *s = next_step(l);
		if (load_step(x, rate, n, FLOOD_DRAIN_NS, s) < 0)
			return -1;
		note_step(l, s);
		if (s->delivered < s->sent) {
			bad = rate;
			break;
		}
		if (s->sender_behind) {
			l->sender_limited = true;
			return 0;
		}
		good = rate;
	}
	/* Narrow the limit down between the last clean rate and the first lossy one. */
	for (int i = 0; i < FLOOD_REFINE && good && bad; i++) {
		unsigned rate = good + (bad - good) / 2;
		unsigned n = (unsigned)((uint64_t)rate * FLOOD_STEP_NS / 1000000000u);
		struct dc_load_step *s = next_step(l);
		if (load_step(x, rate, n, FLOOD_DRAIN_NS, s) < 0)
			return -1;
		note_step(l, s);
		if (s->sender_behind) {
			l->sender_limited = true;
			break;
		}
		if (s->delivered < s->sent)
			bad = rate;
		else
			good = rate;
	}
	return 0;
}

struct dialer {
	struct dc_derp_dial_opts opts;
	struct dc_ping_client *c;
	int rc;
};

static void *dial(void *arg)
{
	struct dialer *d = arg;
	d->c->attempted = true;
	d->rc = dc_derp_connect(&d->opts, &d->c->conn, &d->c->err);
	return NULL;
}

static const char *first_derp_node(const struct dc_derp_region *r)
{
	for (size_t i = 0; r && i < r->node_count; i++)
		if (!r->nodes[i].stun_only)
			return r->nodes[i].name;
	return NULL;
}

/* Dial B again, now that A's node is known: on it, or (mesh) anywhere else. */
static void redial_b(struct dialer *b, const char *a_node, bool mesh)
{
	dc_derp_close(&b->c->conn);
	b->opts.node = mesh ? NULL : a_node;
	b->opts.skip_node = mesh ? a_node : NULL;
	dial(b);
}

/*
 * A and B connect at the same time, as Tailscale's client dials each connection on its
 * own: B on A's node, or with mesh on another node of the region. A's node is only known
 * once A is connected, so B starts from the node A is expected to take (the node asked
 * for, or the region's first DERP node) and is dialled again if A ended up elsewhere.
 */
static int connect_both(struct run *x, const struct dc_derp_dial_opts *dial_opts)
{
	const struct dc_ping_opts *o = x->o;
	struct dc_ping_result *r = x->r;
	struct dialer d[2] = {{.opts = *dial_opts, .c = &r->clients[0]}, {.opts = *dial_opts, .c = &r->clients[1]}};
	const char *a_expected = o->node ? o->node : first_derp_node(o->region);
	if (o->mesh) {
		d[1].opts.node = NULL;
		d[1].opts.skip_node = a_expected;
	}
	uint64_t start = dc_now_ns();
	pthread_t b_thread;
	bool b_threaded = pthread_create(&b_thread, NULL, dial, &d[1]) == 0;
	dial(&d[0]);
	if (b_threaded)
		pthread_join(b_thread, NULL);
	else
		dial(&d[1]);
	if (d[0].rc < 0) {
		/* A's failure is the answer; B's attempt, made only alongside, is not reported. */
		dc_derp_close(&r->clients[1].conn);
		memset(&r->clients[1], 0, sizeof(r->clients[1]));
		r->clients[1].name = 'B';
		r->clients[1].conn.tls.fd = -1;
		return fail_client(x, 0, DC_PING_SETUP_FAILED);
	}
	r->clients[0].connected = true;
	const char *a_node = r->clients[0].conn.node->name;
	bool b_misplaced = d[1].rc == 0 && (strcmp(r->clients[1].conn.node->name, a_node) == 0) == o->mesh;
	bool a_moved = !a_expected || strcmp(a_node, a_expected) != 0;
	if (b_misplaced || (d[1].rc < 0 && a_moved))
		redial_b(&d[1], a_node, o->mesh);
	if (d[1].rc < 0)
		return fail_client(x, 1, DC_PING_SETUP_FAILED);
	r->clients[1].connected = true;
	r->connect_ns = dc_now_ns() - start;
	emit(x, DC_PING_EV_CONNECTED, 0, 0);
	emit(x, DC_PING_EV_CONNECTED, 1, 0);
	return 0;
}

int dc_ping_run(const struct dc_ping_opts *o, struct dc_ping_result *r)
{
	memset(r, 0, sizeof(*r));
	r->count = o->count;
	bool load_mode = o->rate_pps || o->flood;
	/* Load mode counts packets per step, not one record each (it sends millions). */
	r->packets = dc_xcalloc(o->count && !load_mode ? o->count : 1, sizeof(*r->packets));
	r->clients[0].name = 'A';
	r->clients[1].name = 'B';
	r->clients[0].conn.tls.fd = r->clients[1].conn.tls.fd = -1;
	/* Room for any packet the relay can deliver, whatever size we send. */
	struct run x = {.o = o, .r = r, .buf = dc_xmalloc(DC_DERP_MAX_PACKET)}; /* pages used only when written */
	randombytes_buf(&x.run_id, sizeof(x.run_id));
	/* Send times are measured, not slept to: wake-ups late by the default 50 us slack
	 * would show as a drifting schedule. Restored on the way out. */
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	int rc = -1;
	/* OpenSSL's own start-up is not part of either client's TLS phase. */
	struct dc_error init_err;
	bool tls_ready = dc_tls_init(&init_err) == 0;
	uint64_t start = dc_now_ns();
	if (!tls_ready) {
		r->clients[0].err = init_err;
		fail_client(&x, 0, DC_PING_SETUP_FAILED);
		goto out;
	}

	struct dc_derp_dial_opts dial_opts = {
		.region = o->region, .node = o->node, .family = o->family, .ca_file = o->ca_file, .insecure = o->insecure,
		.no_fast_start = o->no_fast_start, .timeout_ms = o->connect_timeout_ms, .is_prober = true,
		.transport = o->transport,
		.app_name = "derpcheck",
	};
	if (connect_both(&x, &dial_opts) < 0)
		goto out;
	r->mesh = strcmp(r->clients[0].conn.node->name, r->clients[1].conn.node->name) != 0;
	if (warm_up(&x) < 0)
		goto out;
	if (o->rate_pps || o->flood) {
		if (load(&x) < 0)
			goto out;
		r->stage = DC_PING_DONE;
		bool clean = r->load.step_count && r->load.steps[0].delivered == r->load.steps[0].sent;
		rc = (o->flood ? r->load.highest_clean_pps > 0 : clean) ? 0 : -1;
		goto out;
	}
	if (exchange(&x) < 0)
		goto out;
	r->stage = DC_PING_DONE;
	rc = r->received == r->count ? 0 : -1;
out:
	stats(r);
	r->ok = rc == 0;
	r->elapsed_ns = dc_now_ns() - start;
	if (slack > 0)
		prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
	free(x.step.seen);
	free(x.step.delay_ms);
	free(x.buf);
	return rc;
}

void dc_ping_result_free(struct dc_ping_result *r)
{
	for (int i = 0; i < 2; i++)
		dc_derp_close(&r->clients[i].conn);
	free(r->packets);
	r->packets = NULL;
	free(r->load.steps);
	r->load.steps = NULL;
}
