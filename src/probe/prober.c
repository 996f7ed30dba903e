#include "derpcheck/probe/prober.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/util/cursor.h"
#include "derpcheck/net/udp.h"

#define NONE UINT32_MAX
#define NEVER UINT64_MAX
/* Large enough for any UDP datagram: an oversized reply is then seen whole, not cut. */
#define RECV_BUF (64 * 1024)
/*
 * Every probe that is due is sent in the same pass (Tailscale starts each probe of its
 * plan at once, one goroutine each): a cap per pass let early replies end the run before
 * most of a large map's probes had left. Replies that arrive meanwhile are read off the
 * socket every DRAIN_EVERY sends, so the kernel's buffer never drops them, and handed to
 * the caller once the pass is over.
 */
#define DRAIN_EVERY 256
#define RECV_BUDGET 512
/* Groups with ids below this are indexed (netcheck numbers its probe sets 1..n); others
 * are found by a scan. */
#define GROUP_INDEX_MAX (1u << 20)
#define EAGAIN_RETRY_NS 1000000u

struct attempt {
	uint8_t txid[DC_STUN_TXID_LEN];
	uint32_t probe;
	uint32_t try_no; /* 1-based */
	uint64_t sent_ns;
};

struct probe {
	struct dc_probe_result r;
	uint64_t next_ns;      /* the timer that is armed for this probe */
	uint64_t next_send_ns; /* NEVER when no transmission is left */
	uint64_t deadline_ns;
	uint64_t interval_ns;
	uint32_t dest;
	uint32_t prev_open, next_open; /* open probes to the same destination */
	uint32_t next_in_group;        /* the next probe of the same group (indexed groups) */
};

struct dest {
	struct dc_endpoint ep;
	uint32_t open_head;
	struct dc_prober_dest_stats st;
};

struct timer {
	uint64_t when;
	uint32_t probe;
};

struct dc_prober {
	int fd[2]; /* [0] IPv4, [1] IPv6; -1 when closed */
	char family_error[2][256];
	struct dc_endpoint local[2];

	struct probe *probes;
	size_t nprobes, cap_probes;
	size_t open;

	struct attempt *attempts;
	size_t nattempts, cap_attempts;
	uint32_t *txid_slots; /* attempt index + 1; 0 = empty */
	size_t txid_cap;

	struct dest *dests;
	size_t ndests, cap_dests;
	uint32_t *dest_slots;
	size_t dest_cap;

	struct timer *heap;
	size_t nheap, cap_heap;

	size_t *done_queue;
	size_t ndone, cap_done;

	uint32_t *group_heads; /* group id -> last probe added to it + 1; 0: none */
	size_t cap_groups;
	unsigned wakes_due;    /* dc_prober_wake_at times reached, not yet delivered */
	unsigned wakes_armed;  /* dc_prober_wake_at times not reached yet: the run waits for them too */

	uint8_t random_pool[1024];
	size_t random_left;

	bool stop;
	struct dc_prober_stats stats;
	uint8_t buf[RECV_BUF];
};

const char *dc_probe_status_name(enum dc_probe_status s)
{
	switch (s) {
	case DC_PROBE_WAITING: return "waiting";
	case DC_PROBE_INFLIGHT: return "in-flight";
	case DC_PROBE_OK: return "ok";
	case DC_PROBE_ERROR_RESPONSE: return "error-response";
	case DC_PROBE_TIMEOUT: return "timeout";
	case DC_PROBE_UNREACHABLE: return "unreachable";
	case DC_PROBE_SEND_FAILED: return "send-failed";
	case DC_PROBE_CANCELLED: return "cancelled";
	}
	return "?";
}

/* Copy text, cut to fit. */
static void set_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int fam_index(int family)
{
	return family == 6 ? 1 : 0;
}

static bool is_open(const struct probe *pr)
{
	return pr->r.status == DC_PROBE_WAITING || pr->r.status == DC_PROBE_INFLIGHT;
}

/* ---- growable arrays and hash tables ------------------------------------------ */

static void *grow(void *array, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return array;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	*cap = n;
	return dc_xrealloc(array, n * elem);
}

static uint64_t hash_bytes(const uint8_t *b, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static size_t txid_find_slot(const struct dc_prober *p, const uint8_t *txid)
{
	size_t mask = p->txid_cap - 1;
	size_t i = (size_t)hash_bytes(txid, DC_STUN_TXID_LEN) & mask;
	while (p->txid_slots[i] && memcmp(p->attempts[p->txid_slots[i] - 1].txid, txid, DC_STUN_TXID_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

static void txid_rehash(struct dc_prober *p, size_t cap)
{
	free(p->txid_slots);
	p->txid_cap = cap;
	p->txid_slots = dc_xcalloc(cap, sizeof(*p->txid_slots));
	for (size_t a = 0; a < p->nattempts; a++)
		p->txid_slots[txid_find_slot(p, p->attempts[a].txid)] = (uint32_t)a + 1;
}

static struct attempt *txid_lookup(const struct dc_prober *p, const uint8_t *txid)
{
	if (!p->txid_cap)
		return NULL;
	uint32_t s = p->txid_slots[txid_find_slot(p, txid)];
	return s ? &p->attempts[s - 1] : NULL;
}

static uint64_t hash_endpoint(const struct dc_endpoint *e)
{
	uint8_t key[19];
	key[0] = (uint8_t)e->family;
	memcpy(key + 1, e->ip, 16);
	key[17] = (uint8_t)(e->port >> 8);
	key[18] = (uint8_t)e->port;
	return hash_bytes(key, sizeof(key));
}

static size_t dest_find_slot(const struct dc_prober *p, const struct dc_endpoint *e)
{
	size_t mask = p->dest_cap - 1;
	size_t i = (size_t)hash_endpoint(e) & mask;
	while (p->dest_slots[i] && !dc_endpoint_equal(&p->dests[p->dest_slots[i] - 1].ep, e))
		i = (i + 1) & mask;
	return i;
}

static void dest_rehash(struct dc_prober *p, size_t cap)
{
	free(p->dest_slots);
	p->dest_cap = cap;
	p->dest_slots = dc_xcalloc(cap, sizeof(*p->dest_slots));
	for (size_t d = 0; d < p->ndests; d++)
		p->dest_slots[dest_find_slot(p, &p->dests[d].ep)] = (uint32_t)d + 1;
}

static struct dest *dest_lookup(const struct dc_prober *p, const struct dc_endpoint *e)
{
	if (!p->dest_cap)
		return NULL;
	uint32_t s = p->dest_slots[dest_find_slot(p, e)];
	return s ? &p->dests[s - 1] : NULL;
}

static uint32_t dest_get(struct dc_prober *p, const struct dc_endpoint *e)
{
	struct dest *d = dest_lookup(p, e);
	if (d)
		return (uint32_t)(d - p->dests);
	p->dests = grow(p->dests, &p->cap_dests, p->ndests + 1, sizeof(*p->dests));
	p->dests[p->ndests] = (struct dest){.ep = *e, .open_head = NONE};
	p->ndests++;
	if (p->ndests * 2 > p->dest_cap)
		dest_rehash(p, p->dest_cap ? p->dest_cap * 2 : 64);
	else
		p->dest_slots[dest_find_slot(p, e)] = (uint32_t)p->ndests;
	return (uint32_t)(p->ndests - 1);
}

static void open_link(struct dc_prober *p, uint32_t idx)
{
	struct probe *pr = &p->probes[idx];
	struct dest *d = &p->dests[pr->dest];
	pr->prev_open = NONE;
	pr->next_open = d->open_head;
	if (d->open_head != NONE)
		p->probes[d->open_head].prev_open = idx;
	d->open_head = idx;
}

static void open_unlink(struct dc_prober *p, uint32_t idx)
{
	struct probe *pr = &p->probes[idx];
	if (pr->prev_open != NONE)
		p->probes[pr->prev_open].next_open = pr->next_open;
	else
		p->dests[pr->dest].open_head = pr->next_open;
	if (pr->next_open != NONE)
		p->probes[pr->next_open].prev_open = pr->prev_open;
	pr->prev_open = pr->next_open = NONE;
}

/* ---- timers: a binary min-heap; entries whose time no longer matches are stale ---- */

static void heap_push(struct dc_prober *p, uint64_t when, uint32_t probe)
{
	p->heap = grow(p->heap, &p->cap_heap, p->nheap + 1, sizeof(*p->heap));
	size_t i = p->nheap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (p->heap[parent].when <= when)
			break;
		p->heap[i] = p->heap[parent];
		i = parent;
	}
	p->heap[i] = (struct timer){when, probe};
}

static struct timer heap_pop(struct dc_prober *p)
{
	struct timer top = p->heap[0];
	struct timer last = p->heap[--p->nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= p->nheap)
			break;
		if (c + 1 < p->nheap && p->heap[c + 1].when < p->heap[c].when)
			c++;
		if (last.when <= p->heap[c].when)
			break;
		p->heap[i] = p->heap[c];
		i = c;
	}
	if (p->nheap)
		p->heap[i] = last;
	return top;
}

static void arm(struct dc_prober *p, uint32_t idx)
{
	struct probe *pr = &p->probes[idx];
	uint64_t when = pr->next_send_ns < pr->deadline_ns ? pr->next_send_ns : pr->deadline_ns;
	pr->next_ns = when;
	heap_push(p, when, idx);
}

/* ---- life cycle ------------------------------------------------------------------ */

static void random_txid(struct dc_prober *p, uint8_t *out)
{
	if (p->random_left < DC_STUN_TXID_LEN) {
		size_t got = 0;
		while (got < sizeof(p->random_pool)) {
			ssize_t n = getrandom(p->random_pool + got, sizeof(p->random_pool) - got, 0);
			if (n < 0 && errno != EINTR) {
				/* No kernel randomness: still unique per run, just guessable. */
				for (size_t i = got; i < sizeof(p->random_pool); i++)
					p->random_pool[i] = (uint8_t)(hash_bytes((uint8_t *)&i, sizeof(i)) ^ dc_now_ns());
				break;
			}
			if (n > 0)
				got += (size_t)n;
		}
		p->random_left = sizeof(p->random_pool);
	}
	memcpy(out, p->random_pool + sizeof(p->random_pool) - p->random_left, DC_STUN_TXID_LEN);
	p->random_left -= DC_STUN_TXID_LEN;
}

static void finish(struct dc_prober *p, uint32_t idx, enum dc_probe_status status)
{
	struct probe *pr = &p->probes[idx];
	if (!is_open(pr))
		return;
	pr->r.status = status;
	pr->next_ns = NEVER;
	open_unlink(p, idx);
	p->open--;
	p->done_queue = grow(p->done_queue, &p->cap_done, p->ndone + 1, sizeof(*p->done_queue));
	p->done_queue[p->ndone++] = idx;
	if (status == DC_PROBE_OK && pr->r.spec.group)
		dc_prober_cancel_group(p, pr->r.spec.group);
}

static void describe_timeout(struct dc_prober *p, struct probe *pr)
{
	(void)p;
	struct dc_probe_result *r = &pr->r;
	char dst[DC_ENDPOINT_STRLEN], other[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&r->spec.dst, dst, sizeof(dst));
	if (r->wrong_source) {
		dc_endpoint_format(&r->wrong_source_addr, other, sizeof(other));
		snprintf(r->detail, sizeof(r->detail), "%u %s with our transaction ID came from %s, not from %s",
			 r->wrong_source, r->wrong_source == 1 ? "reply" : "replies", other, dst);
	} else if (r->malformed) {
		snprintf(r->detail, sizeof(r->detail), "no usable reply; %u undecodable from %s meanwhile: %s", r->malformed,
			 dst, r->malformed_reason);
	} else if (r->unknown_txid) {
		snprintf(r->detail, sizeof(r->detail),
			 "no matching reply; %u from %s meanwhile with transaction IDs we never sent", r->unknown_txid, dst);
	} else {
		snprintf(r->detail, sizeof(r->detail), "no reply from %s to %u %s in %.1f s", dst, r->sent,
			 r->sent == 1 ? "request" : "requests", (double)r->spec.timeout_ns / 1e9);
	}
}

static void describe_send_error(struct probe *pr, int e)
{
	char dst[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&pr->r.spec.dst, dst, sizeof(dst));
	pr->r.sys_errno = e;
	const char *why = "";
	if (e == EPERM || e == EACCES)
		why = " (a firewall rule on this host rejects outgoing UDP)";
	else if (e == ENETUNREACH)
		why = " (no route to that network)";
	else if (e == EHOSTUNREACH)
		why = " (no route to that host)";
	else if (e == EADDRNOTAVAIL || e == EINVAL)
		why = " (the bound address cannot reach it)";
	snprintf(pr->r.detail, sizeof(pr->r.detail), "sending to %s failed: %s%s", dst, strerror(e), why);
}

static void drain_errors(struct dc_prober *p, int fi);

static void transmit(struct dc_prober *p, uint32_t idx, uint64_t now)
{
	struct probe *pr = &p->probes[idx];
	int fi = fam_index(pr->r.spec.dst.family);
	if (p->fd[fi] < 0) {
		set_text(pr->r.detail, sizeof(pr->r.detail), p->family_error[fi]);
		finish(p, idx, DC_PROBE_SEND_FAILED);
		return;
	}
	struct attempt a = {.probe = idx, .try_no = pr->r.sent + 1};
	random_txid(p, a.txid);
	uint8_t req[DC_STUN_TAILSCALE_REQUEST_LEN];
	size_t len = dc_stun_request(pr->r.spec.style, a.txid, req, sizeof(req));
	a.sent_ns = dc_now_ns();
	int rc = dc_udp_send(p->fd[fi], &pr->r.spec.dst, req, len);
	if (rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH || rc == -EHOSTDOWN) {
		/*
		 * An ICMP error for an earlier datagram is reported by the next system call on
		 * the socket, whatever its destination: read the error queue, then retry once.
		 */
		drain_errors(p, fi);
		pr = &p->probes[idx];
		if (!is_open(pr))
			return;
		a.sent_ns = dc_now_ns();
		rc = dc_udp_send(p->fd[fi], &pr->r.spec.dst, req, len);
	}
	if (rc == -EAGAIN || rc == -ENOBUFS) {
		pr->next_send_ns = now + EAGAIN_RETRY_NS; /* the socket buffer is full: not a try */
		arm(p, idx);
		return;
	}
	if (rc < 0) {
		p->stats.send_errors++;
		describe_send_error(pr, -rc);
		finish(p, idx, DC_PROBE_SEND_FAILED);
		return;
	}
	if (!p->stats.sent)
		p->stats.first_send_ns = a.sent_ns;
	p->stats.sent++;
	p->attempts = grow(p->attempts, &p->cap_attempts, p->nattempts + 1, sizeof(*p->attempts));
	p->attempts[p->nattempts++] = a;
	if (p->nattempts * 2 > p->txid_cap)
		txid_rehash(p, p->txid_cap ? p->txid_cap * 2 : 256);
	else
		p->txid_slots[txid_find_slot(p, a.txid)] = (uint32_t)p->nattempts;
	if (pr->r.sent == 0)
		pr->r.first_sent_ns = a.sent_ns;
	pr->r.sent++;
	pr->r.status = DC_PROBE_INFLIGHT;
	if (pr->r.sent < pr->r.spec.tries) {
		pr->next_send_ns = now + pr->interval_ns;
		pr->interval_ns *= 2; /* RFC 5389 §7.2.1: the retransmission interval doubles */
	} else {
		pr->next_send_ns = NEVER;
	}
	arm(p, idx);
}

static void on_timer(struct dc_prober *p, uint32_t idx, uint64_t now)
{
	struct probe *pr = &p->probes[idx];
	if (!is_open(pr))
		return;
	if (now >= pr->deadline_ns) {
		describe_timeout(p, pr);
		finish(p, idx, DC_PROBE_TIMEOUT);
		return;
	}
	if (now >= pr->next_send_ns)
		transmit(p, idx, now);
	else
		arm(p, idx);
}

/* ---- receiving ------------------------------------------------------------------- */

/* Something from a destination that cannot be tied to one transmission. */
static void note_from_dest(struct dc_prober *p, const struct dc_endpoint *from, bool unknown_txid, const char *reason)
{
	struct dest *d = dest_lookup(p, from);
	if (!d)
		return;
	if (unknown_txid) {
		d->st.unknown_txid++;
	} else {
		d->st.malformed++;
		set_text(d->st.malformed_reason, sizeof(d->st.malformed_reason), reason);
	}
	for (uint32_t i = d->open_head; i != NONE; i = p->probes[i].next_open) {
		struct dc_probe_result *r = &p->probes[i].r;
		if (unknown_txid) {
			r->unknown_txid++;
		} else {
			r->malformed++;
			set_text(r->malformed_reason, sizeof(r->malformed_reason), reason);
		}
	}
}

static void accept_reply(struct dc_prober *p, const struct attempt *a, const struct dc_stun_msg *m,
			 const struct dc_udp_packet *pkt)
{
	struct probe *pr = &p->probes[a->probe];
	struct dc_probe_result *r = &pr->r;
	r->answered_try = a->try_no;
	r->sent_ns = a->sent_ns;
	r->recv_ns = pkt->rx_ns;
	r->kernel_timestamp = pkt->kernel_ts;
	/* A kernel timestamp before the send can only come from clock trouble. */
	r->rtt_ns = pkt->rx_ns > a->sent_ns ? pkt->rx_ns - a->sent_ns : 0;
	r->reply_len = pkt->len;
	r->reply_trailing = m->trailing;
	r->unknown_required = m->unknown_required_count;
	r->has_software = m->has_software;
	memcpy(r->software, m->software, sizeof(r->software));
	p->stats.accepted++;
	if (m->cls == DC_STUN_CLASS_ERROR) {
		r->error_code = m->has_error_code ? m->error_code : 0;
		memcpy(r->error_reason, m->error_reason, sizeof(r->error_reason));
		snprintf(r->detail, sizeof(r->detail), "STUN error %d%s%s", r->error_code, r->error_reason[0] ? " " : "",
			 r->error_reason);
		finish(p, a->probe, DC_PROBE_ERROR_RESPONSE);
		return;
	}
	r->has_mapped = true;
	r->mapped = *dc_stun_msg_mapped(m);
	r->mapped_from_xor = m->has_xor_mapped;
	finish(p, a->probe, DC_PROBE_OK);
}

static void handle_packet(struct dc_prober *p, const uint8_t *buf, const struct dc_udp_packet *pkt)
{
	struct dc_stun_msg m;
	struct dc_error perr;
	p->stats.received++;
	if (pkt->wire_len > pkt->len) {
		p->stats.oversized++;
		char why[96];
		snprintf(why, sizeof(why), "a %zu-byte datagram, larger than any STUN reply we accept (%d bytes)",
			 pkt->wire_len, RECV_BUF);
		note_from_dest(p, &pkt->from, false, why);
		return;
	}
	bool parsed = dc_stun_parse(buf, pkt->len, &m, &perr) == 0;
	if (!dc_stun_is_stun(buf, pkt->len)) {
		p->stats.not_stun++;
		note_from_dest(p, &pkt->from, false, perr.what);
		return;
	}
	if (parsed && (m.cls == DC_STUN_CLASS_REQUEST || m.cls == DC_STUN_CLASS_INDICATION)) {
		p->stats.requests++;
		return;
	}
	const struct attempt *a = txid_lookup(p, m.txid);
	if (!a) {
		p->stats.unknown_txid++;
		note_from_dest(p, &pkt->from, parsed, perr.what);
		return;
	}
	struct probe *pr = &p->probes[a->probe];
	struct dc_probe_result *r = &pr->r;
	struct dc_prober_dest_stats *ds = &p->dests[pr->dest].st;
	if (!dc_endpoint_equal(&pkt->from, &r->spec.dst)) {
		p->stats.wrong_source++;
		r->wrong_source++;
		r->wrong_source_addr = pkt->from;
		ds->wrong_source++;
		ds->wrong_source_addr = pkt->from;
		return;
	}
	if (!is_open(pr)) {
		if (r->status == DC_PROBE_OK || r->status == DC_PROBE_ERROR_RESPONSE) {
			p->stats.duplicates++;
			r->duplicates++;
			ds->duplicates++;
		} else {
			p->stats.late++;
			r->late++;
			ds->late++;
		}
		return;
	}
	if (parsed && m.cls == DC_STUN_CLASS_SUCCESS && !dc_stun_msg_mapped(&m)) {
		parsed = false;
		snprintf(perr.what, sizeof(perr.what),
			 "a success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS");
	}
	if (!parsed) {
		p->stats.malformed++;
		r->malformed++;
		set_text(r->malformed_reason, sizeof(r->malformed_reason), perr.what);
		ds->malformed++;
		set_text(ds->malformed_reason, sizeof(ds->malformed_reason), perr.what);
		return;
	}
	accept_reply(p, a, &m, pkt);
}

static void unreachable(struct dc_prober *p, uint32_t idx, const struct dc_udp_icmp *e)
{
	struct probe *pr = &p->probes[idx];
	char from[DC_ENDPOINT_STRLEN] = "the network";
	if (!is_open(pr))
		return;
	if (e->offender.family)
		dc_ip_format(&e->offender, from, sizeof(from));
	pr->r.sys_errno = e->err;
	pr->r.icmp_from = e->offender;
	pr->r.icmp_type = e->type;
	pr->r.icmp_code = e->code;
	pr->r.icmp_v6 = e->v6;
	pr->r.icmp_local = e->local;
	pr->r.icmp_port_closed = dc_udp_icmp_port_closed(e);
	if (e->local)
		snprintf(pr->r.detail, sizeof(pr->r.detail), "%s: %s", dc_udp_icmp_text(e), strerror(e->err));
	else
		snprintf(pr->r.detail, sizeof(pr->r.detail), "ICMP%s %s from %s", e->v6 ? "v6" : "", dc_udp_icmp_text(e),
			 from);
	finish(p, idx, DC_PROBE_UNREACHABLE);
}

static void handle_icmp(struct dc_prober *p, const struct dc_udp_icmp *e)
{
	p->stats.icmp_errors++;
	/* The error quotes the start of our datagram: its transaction ID names the probe. */
	struct dc_cursor c;
	const uint8_t *txid;
	dc_cursor_init(&c, e->payload, e->payload_len);
	if (dc_stun_is_stun(e->payload, e->payload_len) && dc_cursor_skip(&c, 8) &&
	    dc_cursor_view(&c, DC_STUN_TXID_LEN, &txid)) {
		const struct attempt *a = txid_lookup(p, txid);
		if (a && dc_endpoint_equal(&p->probes[a->probe].r.spec.dst, &e->dst)) {
			unreachable(p, a->probe, e);
			return;
		}
	}
	/* Otherwise it concerns every probe open to that destination. */
	struct dest *d = dest_lookup(p, &e->dst);
	uint32_t i = d ? d->open_head : NONE;
	while (i != NONE) {
		uint32_t next = p->probes[i].next_open;
		unreachable(p, i, e);
		i = next;
	}
}

static void drain_errors(struct dc_prober *p, int fi)
{
	struct dc_udp_icmp e;
	for (int n = 0; n < RECV_BUDGET && dc_udp_recv_error(p->fd[fi], &e) == 1; n++)
		handle_icmp(p, &e);
}

static void drain_socket(struct dc_prober *p, int fi)
{
	struct dc_udp_packet pkt;
	for (int n = 0; n < RECV_BUDGET; n++) {
		int rc = dc_udp_recv(p->fd[fi], p->buf, sizeof(p->buf), &pkt);
		if (rc == 0)
			return;
		if (rc < 0) {
			/* A pending ICMP error is reported here too; the error queue says which. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH || errno == EHOSTDOWN) {
				drain_errors(p, fi);
				continue;
			}
			return;
		}
		handle_packet(p, p->buf, &pkt);
	}
}

/* ---- public API ------------------------------------------------------------------ */

struct dc_prober *dc_prober_new(const struct dc_prober_config *cfg, struct dc_error *err)
{
	struct dc_prober *p = dc_xcalloc(1, sizeof(*p));
	p->fd[0] = p->fd[1] = -1;
	bool want[2] = {cfg->want4, cfg->want6};
	if (cfg->bind_addr) {
		int only = cfg->bind_addr->family;
		for (int f = 0; f < 2; f++)
			if (want[f] && only != (f ? 6 : 4))
				snprintf(p->family_error[f], sizeof(p->family_error[f]),
					 "no IPv%d socket: --bind-address is an IPv%d address", f ? 6 : 4, only);
		want[0] = want[0] && only == 4;
		want[1] = want[1] && only == 6;
	}
	bool any = false;
	struct dc_error ferr;
	for (int f = 0; f < 2; f++) {
		if (!want[f]) {
			if (!p->family_error[f][0])
				snprintf(p->family_error[f], sizeof(p->family_error[f]), "IPv%d is not in use", f ? 6 : 4);
			continue;
		}
		p->fd[f] = dc_udp_open(f ? 6 : 4, cfg->bind_addr, cfg->bind_port, &ferr);
		if (p->fd[f] < 0) {
			if (cfg->bind_addr || cfg->bind_port) {
				*err = ferr; /* the user asked for this address: not getting it is fatal */
				dc_prober_free(p);
				return NULL;
			}
			set_text(p->family_error[f], sizeof(p->family_error[f]), ferr.what);
			continue;
		}
		dc_udp_local(p->fd[f], &p->local[f]);
		any = true;
	}
	if (!any && (cfg->want4 || cfg->want6)) {
		dc_error_set(err, NULL, "no UDP socket could be opened: %s",
			     p->family_error[cfg->want4 ? 0 : 1]);
		dc_prober_free(p);
		return NULL;
	}
	return p;
}

void dc_prober_free(struct dc_prober *p)
{
	if (!p)
		return;
	for (int f = 0; f < 2; f++)
		if (p->fd[f] >= 0)
			close(p->fd[f]);
	free(p->probes);
	free(p->attempts);
	free(p->txid_slots);
	free(p->dests);
	free(p->dest_slots);
	free(p->heap);
	free(p->done_queue);
	free(p->group_heads);
	free(p);
}

const char *dc_prober_family_error(const struct dc_prober *p, int family)
{
	int f = fam_index(family);
	return p->fd[f] >= 0 ? NULL : p->family_error[f];
}

int dc_prober_local(const struct dc_prober *p, int family, struct dc_endpoint *out)
{
	int f = fam_index(family);
	if (p->fd[f] < 0)
		return -1;
	*out = p->local[f];
	return 0;
}

size_t dc_prober_add(struct dc_prober *p, const struct dc_probe_spec *spec)
{
	p->probes = grow(p->probes, &p->cap_probes, p->nprobes + 1, sizeof(*p->probes));
	uint32_t idx = (uint32_t)p->nprobes++;
	struct probe *pr = &p->probes[idx];
	memset(pr, 0, sizeof(*pr));
	pr->r.spec = *spec;
	if (pr->r.spec.tries == 0)
		pr->r.spec.tries = 1;
	if (pr->r.spec.start_ns == 0)
		pr->r.spec.start_ns = dc_now_ns();
	pr->r.status = DC_PROBE_WAITING;
	pr->interval_ns = spec->rto_ns ? spec->rto_ns : spec->timeout_ns;
	pr->next_send_ns = pr->r.spec.start_ns;
	pr->deadline_ns = pr->r.spec.start_ns + spec->timeout_ns;
	pr->dest = dest_get(p, &spec->dst);
	pr->next_in_group = NONE;
	unsigned g = pr->r.spec.group;
	if (g && g < GROUP_INDEX_MAX) {
		if (g >= p->cap_groups) {
			size_t old = p->cap_groups, cap = old ? old : 64;
			while (cap <= g)
				cap *= 2;
			p->group_heads = dc_xrealloc(p->group_heads, cap * sizeof(*p->group_heads));
			memset(p->group_heads + old, 0, (cap - old) * sizeof(*p->group_heads));
			p->cap_groups = cap;
		}
		pr->next_in_group = p->group_heads[g] ? p->group_heads[g] - 1 : NONE;
		p->group_heads[g] = idx + 1;
	}
	open_link(p, idx);
	p->open++;
	if (p->open > p->stats.peak_inflight)
		p->stats.peak_inflight = p->open;
	arm(p, idx);
	return idx;
}

/* Grow an array to hold need elements and write the part up to need now, so the page
 * faults fall here and not in the middle of a burst of sends. */
static void *reserve(void *array, size_t used, size_t *cap, size_t need, size_t elem)
{
	if (need == used)
		return array;
	array = grow(array, cap, need, elem);
	memset((char *)array + used * elem, 0, (need - used) * elem);
	return array;
}

void dc_prober_reserve(struct dc_prober *p, size_t probes)
{
	p->probes = reserve(p->probes, p->nprobes, &p->cap_probes, p->nprobes + probes, sizeof(*p->probes));
	p->attempts = reserve(p->attempts, p->nattempts, &p->cap_attempts, p->nattempts + probes, sizeof(*p->attempts));
	p->heap = reserve(p->heap, p->nheap, &p->cap_heap, p->nheap + probes, sizeof(*p->heap));
	p->done_queue = reserve(p->done_queue, p->ndone, &p->cap_done, p->ndone + probes, sizeof(*p->done_queue));
	if ((p->nattempts + probes) * 2 > p->txid_cap) {
		size_t cap = p->txid_cap ? p->txid_cap : 256;
		while (cap < (p->nattempts + probes) * 2)
			cap *= 2;
		txid_rehash(p, cap);
	}
}

size_t dc_prober_count(const struct dc_prober *p)
{
	return p->nprobes;
}

void dc_prober_cancel(struct dc_prober *p, size_t id)
{
	if (id < p->nprobes && is_open(&p->probes[id])) {
		snprintf(p->probes[id].r.detail, sizeof(p->probes[id].r.detail), "cancelled");
		finish(p, (uint32_t)id, DC_PROBE_CANCELLED);
	}
}

static void cancel_in_group(struct dc_prober *p, uint32_t i)
{
	if (is_open(&p->probes[i])) {
		snprintf(p->probes[i].r.detail, sizeof(p->probes[i].r.detail), "another probe of its group answered first");
		finish(p, i, DC_PROBE_CANCELLED);
	}
}

void dc_prober_cancel_group(struct dc_prober *p, unsigned group)
{
	if (group && group < GROUP_INDEX_MAX) {
		/* finish() cancels groups too, but only on success: this walk is not re-entered */
		for (uint32_t i = group < p->cap_groups && p->group_heads[group] ? p->group_heads[group] - 1 : NONE; i != NONE;
		     i = p->probes[i].next_in_group)
			cancel_in_group(p, i);
		return;
	}
	for (size_t i = 0; i < p->nprobes; i++)
		if (p->probes[i].r.spec.group == group)
			cancel_in_group(p, (uint32_t)i);
}

void dc_prober_set_deadline(struct dc_prober *p, size_t id, uint64_t deadline_ns)
{
	if (id >= p->nprobes || !is_open(&p->probes[id]))
		return;
	struct probe *pr = &p->probes[id];
	if (deadline_ns < pr->deadline_ns)
		pr->r.cut_short = true;
	pr->deadline_ns = deadline_ns;
	pr->r.spec.timeout_ns = deadline_ns > pr->r.spec.start_ns ? deadline_ns - pr->r.spec.start_ns : 0;
	arm(p, (uint32_t)id);
}

void dc_prober_wake_at(struct dc_prober *p, uint64_t when)
{
	heap_push(p, when, NONE);
	p->wakes_armed++;
}

void dc_prober_stop(struct dc_prober *p)
{
	p->stop = true;
}

static void deliver(struct dc_prober *p, dc_probe_done_fn done, void *user)
{
	/* Callbacks may add, cancel or stop; completions they cause are delivered too. */
	for (; p->wakes_due; p->wakes_due--)
		if (done)
			done(p, DC_PROBER_WAKE, NULL, user);
	for (size_t i = 0; i < p->ndone; i++)
		if (done)
			done(p, p->done_queue[i], &p->probes[p->done_queue[i]].r, user);
	p->ndone = 0;
}

static void end_all(struct dc_prober *p, bool deadline)
{
	for (size_t i = 0; i < p->nprobes; i++) {
		struct probe *pr = &p->probes[i];
		if (!is_open(pr))
			continue;
		if (deadline && pr->r.status == DC_PROBE_INFLIGHT) {
			describe_timeout(p, pr);
			finish(p, (uint32_t)i, DC_PROBE_TIMEOUT);
		} else {
			set_text(pr->r.detail, sizeof(pr->r.detail), deadline ? "the run ended before it was sent" : "stopped");
			finish(p, (uint32_t)i, DC_PROBE_CANCELLED);
		}
	}
}

/* The timers that are due: transmissions and timeouts, all of them (see DRAIN_EVERY). */
static unsigned fire_due(struct dc_prober *p, uint64_t now)
{
	unsigned fired = 0;
	while (p->nheap && p->heap[0].when <= now) {
		struct timer t = heap_pop(p);
		if (t.probe == NONE) {
			p->wakes_due++;
			p->wakes_armed--;
			continue;
		}
		if (p->probes[t.probe].next_ns != t.when)
			continue; /* stale: re-armed or finished since */
		on_timer(p, t.probe, now);
		if (++fired % DRAIN_EVERY == 0)
			for (int f = 0; f < 2; f++)
				if (p->fd[f] >= 0)
					drain_socket(p, f);
	}
	return fired;
}

int dc_prober_run(struct dc_prober *p, uint64_t deadline_ns, dc_probe_done_fn done, void *user, struct dc_error *err)
{
	p->stop = false;
	/* A wake-up the caller asked for may add probes: the run is not over before it. */
	while ((p->open > 0 || p->wakes_armed > 0) && !p->stop) {
		uint64_t now = dc_now_ns();
		if (now >= deadline_ns) {
			end_all(p, true);
			break;
		}
		fire_due(p, now);
		deliver(p, done, user);
		if ((p->open == 0 && p->wakes_armed == 0) || p->stop)
			break;

		uint64_t wake = deadline_ns;
		if (p->nheap && p->heap[0].when < wake)
			wake = p->heap[0].when;
		now = dc_now_ns();
		uint64_t wait = wake <= now ? 0 : wake - now;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u)};
		struct pollfd pfd[2];
		int fam[2], n = 0;
		for (int f = 0; f < 2; f++)
			if (p->fd[f] >= 0) {
				pfd[n] = (struct pollfd){.fd = p->fd[f], .events = POLLIN};
				fam[n++] = f;
			}
		int rc = ppoll(pfd, (nfds_t)n, &ts, NULL);
		if (rc < 0 && errno != EINTR) {
			dc_error_set(err, NULL, "waiting for STUN replies failed: %s", strerror(errno));
			return -1;
		}
		for (int k = 0; k < n && rc > 0; k++) {
			if (pfd[k].revents & POLLERR)
				drain_errors(p, fam[k]);
			if (pfd[k].revents & POLLIN)
				drain_socket(p, fam[k]);
		}
		deliver(p, done, user);
	}
	if (p->open > 0)
		end_all(p, false);
	deliver(p, done, user);
	return 0;
}

void dc_prober_send_due(struct dc_prober *p)
{
	fire_due(p, dc_now_ns());
}

int dc_prober_txid(const struct dc_prober *p, size_t id, uint8_t txid[DC_STUN_TXID_LEN])
{
	for (size_t i = p->nattempts; i-- > 0;)
		if (p->attempts[i].probe == id) {
			memcpy(txid, p->attempts[i].txid, DC_STUN_TXID_LEN);
			return 0;
		}
	return -1;
}

void dc_prober_feed(struct dc_prober *p, const uint8_t *data, size_t len, const struct dc_endpoint *from, uint64_t rx_ns)
{
	struct dc_udp_packet pkt = {.len = len < sizeof(p->buf) ? len : sizeof(p->buf), .wire_len = len, .from = *from,
				    .rx_ns = rx_ns};
	memcpy(p->buf, data, pkt.len);
	handle_packet(p, p->buf, &pkt);
}

void dc_prober_feed_icmp(struct dc_prober *p, const struct dc_udp_icmp *e)
{
	handle_icmp(p, e);
}

const struct dc_probe_result *dc_prober_result(const struct dc_prober *p, size_t id)
{
	return id < p->nprobes ? &p->probes[id].r : NULL;
}

const struct dc_prober_stats *dc_prober_stats(const struct dc_prober *p)
{
	return &p->stats;
}

int dc_prober_dest_stats(const struct dc_prober *p, const struct dc_endpoint *dst, struct dc_prober_dest_stats *out)
{
	const struct dest *d = dest_lookup(p, dst);
	memset(out, 0, sizeof(*out));
	if (!d)
		return -1;
	*out = d->st;
	return 0;
}
