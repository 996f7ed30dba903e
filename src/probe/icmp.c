/*
 * ICMPv4 echo latency for netcheck's UDP-blocked fallback (see include/derpcheck/probe/icmp.h).
 */
#include "derpcheck/probe/icmp.h"

#include <errno.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "derpcheck/net/udp.h"
#include "derpcheck/util/cursor.h"

/* Datagrams read per poll wake-up, and in all (per target, plus slack for strangers). */
#define RECV_PER_PASS 64
#define RECV_PER_TARGET 32
#define RECV_SLACK 256
#define MAX_TARGETS 4096

uint16_t dc_icmp_checksum(const uint8_t *b, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t echo(uint8_t type, uint16_t id, uint16_t seq, const void *data, size_t data_len, uint8_t *out, size_t cap)
{
	struct dc_writer w;
	dc_writer_init(&w, out, cap);
	dc_writer_u8(&w, type);
	dc_writer_u8(&w, 0);
	dc_writer_be16(&w, 0); /* checksum, filled in below */
	dc_writer_be16(&w, id);
	dc_writer_be16(&w, seq);
	dc_writer_bytes(&w, data, data_len);
	if (!w.ok)
		return 0;
	dc_writer_put_be16_at(&w, 2, dc_icmp_checksum(out, w.off));
	return w.off;
}

size_t dc_icmp_echo_request(uint16_t id, uint16_t seq, const void *data, size_t data_len, uint8_t *out, size_t cap)
{
	return echo(DC_ICMP_ECHO_REQUEST, id, seq, data, data_len, out, cap);
}

size_t dc_icmp_echo_reply(uint16_t id, uint16_t seq, const void *data, size_t data_len, uint8_t *out, size_t cap)
{
	return echo(DC_ICMP_ECHO_REPLY, id, seq, data, data_len, out, cap);
}

/* An IPv4 header: RFC 791 §3.1. On success c is at the payload, bounded by Total Length. */
static int ipv4_header(struct dc_cursor *c, struct dc_endpoint *src, struct dc_endpoint *dst, uint8_t *proto,
		       struct dc_cursor *payload, bool quoted, struct dc_error *err)
{
	uint8_t vihl, tos, ttl;
	uint16_t total, ident, frag, csum;
	uint8_t s[4], d[4];
	size_t start = c->off;
	dc_cursor_u8(c, &vihl);
	dc_cursor_u8(c, &tos);
	dc_cursor_be16(c, &total);
	dc_cursor_be16(c, &ident);
	dc_cursor_be16(c, &frag);
	dc_cursor_u8(c, &ttl);
	dc_cursor_u8(c, proto);
	dc_cursor_be16(c, &csum);
	dc_cursor_bytes(c, s, 4);
	dc_cursor_bytes(c, d, 4);
	if (!c->ok) {
		dc_error_set(err, NULL, "%sIPv4 header cut short", quoted ? "quoted " : "");
		return -1;
	}
	if (vihl >> 4 != 4) {
		dc_error_set(err, NULL, "%sIP version %u, not 4", quoted ? "quoted " : "", vihl >> 4);
		return -1;
	}
	size_t ihl = (size_t)(vihl & 15) * 4;
	if (ihl < 20 || !dc_cursor_skip(c, ihl - 20)) {
		dc_error_set(err, NULL, "%sIPv4 header length %zu does not fit", quoted ? "quoted " : "", ihl);
		return -1;
	}
	*src = (struct dc_endpoint){.family = 4};
	*dst = (struct dc_endpoint){.family = 4};
	memcpy(src->ip, s, 4);
	memcpy(dst->ip, d, 4);
	/* A quoted datagram keeps its original Total Length but only its first bytes. */
	size_t left = dc_cursor_left(c);
	size_t body = quoted || total < ihl ? left : total - ihl;
	if (!quoted && (total < ihl || body > left)) {
		dc_error_set(err, NULL, "IPv4 total length %u does not fit the %zu bytes read", total, start + ihl + left);
		return -1;
	}
	return dc_cursor_sub(c, body < left ? body : left, payload) ? 0 : -1;
}

int dc_icmp_parse(const uint8_t *buf, size_t len, bool with_ip, struct dc_icmp_msg *m, struct dc_error *err)
{
	memset(m, 0, sizeof(*m));
	struct dc_cursor c, icmp;
	dc_cursor_init(&c, buf, len);
	if (with_ip) {
		uint8_t proto = 0;
		if (ipv4_header(&c, &m->ip_src, &m->ip_dst, &proto, &icmp, false, err) < 0)
			return -1;
		if (proto != 1) {
			dc_error_set(err, NULL, "IP protocol %u, not ICMP", proto);
			return -1;
		}
		m->has_ip = true;
	} else {
		icmp = c;
	}
	const uint8_t *start = icmp.p + icmp.off;
	size_t icmp_len = dc_cursor_left(&icmp);
	uint16_t csum;
	dc_cursor_u8(&icmp, &m->type);
	dc_cursor_u8(&icmp, &m->code);
	dc_cursor_be16(&icmp, &csum);
	if (!icmp.ok || icmp_len < DC_ICMP_HEADER_LEN) {
		dc_error_set(err, NULL, "ICMP message of %zu bytes, shorter than its 8-byte header", icmp_len);
		return -1;
	}
	m->checksum_ok = dc_icmp_checksum(start, icmp_len) == 0;
	if (m->type == DC_ICMP_ECHO_REPLY || m->type == DC_ICMP_ECHO_REQUEST) {
		dc_cursor_be16(&icmp, &m->id);
		dc_cursor_be16(&icmp, &m->seq);
		m->data = dc_cursor_rest(&icmp, &m->data_len);
		return 0;
	}
	if (m->type != DC_ICMP_DEST_UNREACH && m->type != DC_ICMP_TIME_EXCEEDED)
		return 0;
	/* RFC 792: four unused bytes, then the IP header and first 8 bytes of what failed. */
	struct dc_cursor quoted;
	struct dc_endpoint qsrc;
	uint8_t qproto = 0;
	struct dc_error qerr;
	dc_cursor_skip(&icmp, 4);
	if (ipv4_header(&icmp, &qsrc, &m->quoted_dst, &qproto, &quoted, true, &qerr) < 0 || qproto != 1)
		return 0; /* an error about something else: nothing of ours to match */
	uint8_t qtype, qcode;
	uint16_t qcsum;
	dc_cursor_u8(&quoted, &qtype);
	dc_cursor_u8(&quoted, &qcode);
	dc_cursor_be16(&quoted, &qcsum);
	dc_cursor_be16(&quoted, &m->quoted_id);
	dc_cursor_be16(&quoted, &m->quoted_seq);
	m->quotes_echo = quoted.ok && qtype == DC_ICMP_ECHO_REQUEST;
	return 0;
}

const char *dc_icmp_socket_name(enum dc_icmp_socket_kind k)
{
	switch (k) {
	case DC_ICMP_SOCKET_DGRAM: return "unprivileged ICMP socket";
	case DC_ICMP_SOCKET_RAW: return "raw socket";
	case DC_ICMP_SOCKET_NONE: break;
	}
	return "none";
}

/* "1 0" from /proc, or "unknown". */
static void ping_group_range(char *buf, size_t n)
{
	snprintf(buf, n, "unknown");
	FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");
	if (!f)
		return;
	unsigned long lo, hi;
	if (fscanf(f, "%lu %lu", &lo, &hi) == 2)
		snprintf(buf, n, "%lu %lu", lo, hi);
	fclose(f);
}

static int open_socket(const struct dc_icmp_opts *o, struct dc_icmp_run *run)
{
	int dgram_err = 0, raw_err = 0, fd = -1;
	if (!o->no_dgram) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
		if (fd >= 0) {
			run->socket = DC_ICMP_SOCKET_DGRAM;
			return fd;
		}
		dgram_err = errno;
	}
	if (!o->no_raw) {
		fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
		if (fd >= 0) {
			run->socket = DC_ICMP_SOCKET_RAW;
			return fd;
		}
		raw_err = errno;
	}
	char range[64], dgram[200] = "not tried", raw[160] = "not tried";
	ping_group_range(range, sizeof(range));
	if (dgram_err == EACCES || dgram_err == EPERM)
		snprintf(dgram, sizeof(dgram),
			 "not allowed: none of this process's groups (e.g. %u) is in net.ipv4.ping_group_range \"%s\"",
			 (unsigned)getegid(), range);
	else if (dgram_err)
		snprintf(dgram, sizeof(dgram), "%s", strerror(dgram_err));
	if (raw_err == EPERM || raw_err == EACCES)
		snprintf(raw, sizeof(raw), "need root or CAP_NET_RAW");
	else if (raw_err)
		snprintf(raw, sizeof(raw), "%s", strerror(raw_err));
	snprintf(run->skipped, sizeof(run->skipped), "no ICMP socket: unprivileged ICMP sockets: %.190s; raw sockets: %.150s",
		 dgram, raw);
	return -1;
}

/* This socket's echo identifier: the kernel's for a ping socket, ours for a raw one. */
static int echo_id(int fd, enum dc_icmp_socket_kind kind, uint16_t *id)
{
	if (kind == DC_ICMP_SOCKET_RAW) {
		if (getrandom(id, sizeof(*id), 0) != (ssize_t)sizeof(*id))
			*id = (uint16_t)getpid();
		/* Only replies and the errors that may quote our requests; never other echo requests. */
		struct icmp_filter filt = {
			.data = ~((1u << DC_ICMP_ECHO_REPLY) | (1u << DC_ICMP_DEST_UNREACH) | (1u << DC_ICMP_TIME_EXCEEDED)),
		};
		setsockopt(fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt));
		return 0;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	*id = ntohs(sa.sin_port);
	return 0;
}

struct pinger {
	struct dc_icmp_target *t;
	size_t n, open;
	uint64_t *sent_ns;
	uint16_t id;
	enum dc_icmp_socket_kind kind;
	struct dc_icmp_run *run;
};

static struct dc_icmp_target *target_for(struct pinger *pg, uint16_t seq)
{
	if (seq == 0 || seq > pg->n)
		return NULL;
	struct dc_icmp_target *t = &pg->t[seq - 1];
	return t->sent && !t->ok && !t->error[0] ? t : NULL;
}

static void on_message(struct pinger *pg, const uint8_t *buf, const struct dc_udp_packet *pkt)
{
	struct dc_icmp_msg m;
	struct dc_error err;
	pg->run->received++;
	bool raw = pg->kind == DC_ICMP_SOCKET_RAW;
	if (dc_icmp_parse(buf, pkt->len, raw, &m, &err) < 0 || !m.checksum_ok) {
		pg->run->ignored++;
		return;
	}
	if (m.type == DC_ICMP_ECHO_REPLY) {
		struct dc_icmp_target *t = m.id == pg->id ? target_for(pg, m.seq) : NULL;
		const char *payload = t && t->payload ? t->payload : "";
		size_t plen = strnlen(payload, DC_ICMP_MAX_PAYLOAD);
		/* Tailscale matches identifier, sequence and payload; we also want the address asked. */
		if (!t || !dc_ip_equal(&pkt->from, &t->addr) || m.data_len != plen || memcmp(m.data, payload, plen) != 0) {
			pg->run->ignored++;
			return;
		}
		size_t i = (size_t)(t - pg->t);
		t->ok = true;
		t->kernel_ts = pkt->kernel_ts;
		t->rtt_ns = pkt->rx_ns > pg->sent_ns[i] ? pkt->rx_ns - pg->sent_ns[i] : 0;
		pg->open--;
		return;
	}
	/* A raw socket sees the ICMP errors about our requests as ordinary messages. */
	struct dc_icmp_target *t = m.quotes_echo && m.quoted_id == pg->id ? target_for(pg, m.quoted_seq) : NULL;
	if (!t || !dc_ip_equal(&m.quoted_dst, &t->addr)) {
		pg->run->ignored++;
		return;
	}
	char from[DC_ENDPOINT_STRLEN];
	struct dc_udp_icmp e = {.type = m.type, .code = m.code};
	snprintf(t->error, sizeof(t->error), "ICMP %s from %s", dc_udp_icmp_text(&e),
		 dc_ip_format(&pkt->from, from, sizeof(from)));
	pg->open--;
}

/* A ping socket reports errors about our requests on its error queue (IP_RECVERR). */
static void on_queued_error(struct pinger *pg, const struct dc_udp_icmp *e)
{
	struct dc_icmp_msg m;
	struct dc_error err;
	if (dc_icmp_parse(e->payload, e->payload_len, false, &m, &err) < 0 || m.type != DC_ICMP_ECHO_REQUEST) {
		pg->run->ignored++;
		return;
	}
	struct dc_icmp_target *t = target_for(pg, m.seq);
	if (!t || !dc_ip_equal(&e->dst, &t->addr)) {
		pg->run->ignored++;
		return;
	}
	char from[DC_ENDPOINT_STRLEN] = "this host";
	if (e->offender.family)
		dc_ip_format(&e->offender, from, sizeof(from));
	snprintf(t->error, sizeof(t->error), "ICMP %s from %s", dc_udp_icmp_text(e), from);
	pg->open--;
}

void dc_icmp_ping(struct dc_icmp_target *t, size_t n, uint64_t deadline_ns, const struct dc_icmp_opts *opts,
		  struct dc_icmp_run *run)
{
	static const struct dc_icmp_opts defaults;
	memset(run, 0, sizeof(*run));
	uint64_t start = dc_now_ns();
	for (size_t i = 0; i < n; i++) {
		t[i].sent = t[i].ok = t[i].kernel_ts = false;
		t[i].rtt_ns = 0;
		t[i].error[0] = '\0';
	}
	if (n > MAX_TARGETS) {
		for (size_t i = MAX_TARGETS; i < n; i++)
			snprintf(t[i].error, sizeof(t[i].error), "not sent: more than %d targets", MAX_TARGETS);
		n = MAX_TARGETS;
	}
	if (n == 0)
		return;
	int fd = open_socket(opts ? opts : &defaults, run);
	struct pinger pg = {.t = t, .n = n, .kind = run->socket, .run = run};
	if (fd >= 0 && echo_id(fd, run->socket, &pg.id) < 0) {
		snprintf(run->skipped, sizeof(run->skipped), "the ICMP socket could not be bound: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		for (size_t i = 0; i < n; i++)
			snprintf(t[i].error, sizeof(t[i].error), "not sent: %.180s", run->skipped);
		run->socket = DC_ICMP_SOCKET_NONE;
		run->elapsed_ns = dc_now_ns() - start;
		return;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	pg.sent_ns = dc_xcalloc(n, sizeof(*pg.sent_ns));
	for (size_t i = 0; i < n; i++) {
		uint8_t req[DC_ICMP_HEADER_LEN + DC_ICMP_MAX_PAYLOAD];
		const char *payload = t[i].payload ? t[i].payload : "";
		size_t len = dc_icmp_echo_request(pg.id, (uint16_t)(i + 1), payload, strnlen(payload, DC_ICMP_MAX_PAYLOAD),
						  req, sizeof(req));
		struct dc_endpoint dst = t[i].addr;
		dst.port = 0;
		if (dst.family != 4) {
			snprintf(t[i].error, sizeof(t[i].error), "not sent: ICMP echo is measured over IPv4 only");
			continue;
		}
		pg.sent_ns[i] = dc_now_ns();
		int rc = dc_udp_send(fd, &dst, req, len);
		if (rc < 0) {
			snprintf(t[i].error, sizeof(t[i].error), "sending failed: %s", strerror(-rc));
			continue;
		}
		t[i].sent = true;
		pg.open++;
	}
	size_t budget = RECV_SLACK + RECV_PER_TARGET * n;
	uint8_t buf[1500];
	while (pg.open > 0) {
		uint64_t now = dc_now_ns();
		if (now >= deadline_ns)
			break;
		if (run->received >= budget) {
			run->budget_hit = true;
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int ms = (int)((deadline_ns - now + 999999u) / 1000000u);
		int rc = poll(&pfd, 1, ms);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		if (pfd.revents & POLLERR) {
			struct dc_udp_icmp e;
			for (int k = 0; k < RECV_PER_PASS && dc_udp_recv_error(fd, &e) == 1; k++)
				on_queued_error(&pg, &e);
		}
		struct dc_udp_packet pkt;
		for (int k = 0; k < RECV_PER_PASS && pg.open > 0 && run->received < budget &&
				dc_udp_recv(fd, buf, sizeof(buf), &pkt) == 1;
		     k++)
			on_message(&pg, buf, &pkt);
	}
	double waited = (double)(dc_now_ns() - start) / 1e6;
	for (size_t i = 0; i < n; i++)
		if (t[i].sent && !t[i].ok && !t[i].error[0])
			snprintf(t[i].error, sizeof(t[i].error), "no echo reply within %.0fms%s", waited,
				 run->budget_hit ? " (stopped: too many unrelated ICMP messages)" : "");
	free(pg.sent_ns);
	close(fd);
	run->elapsed_ns = dc_now_ns() - start;
}
