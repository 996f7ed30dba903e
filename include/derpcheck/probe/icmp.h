/*
 * ICMPv4 echo latency: netcheck's fallback when UDP is blocked (protocols.md §3.4;
 * Tailscale's netcheck.measureAllICMPLatency and net/ping). One echo request per target,
 * all at once, the node's Name as payload (Tailscale's way of telling replies apart),
 * matched by identifier, sequence number, payload and source address, timed with the
 * kernel's receive timestamp.
 *
 * Socket, in this order: an unprivileged ICMP socket (SOCK_DGRAM, IPPROTO_ICMP), which
 * Linux allows when the caller's group is in net.ipv4.ping_group_range; else a raw
 * socket, which needs root or CAP_NET_RAW. When neither opens, nothing is sent and the
 * run says why (never silently). Tailscale v1.34 uses only the raw socket and treats a
 * permission error as "no result".
 *
 * The parser reads ICMPv4 messages with or without the IPv4 header in front (raw
 * sockets deliver it, ping sockets do not) through the bounded cursor, including the
 * echo quoted inside a destination-unreachable or time-exceeded error. Nothing prints.
 */
#ifndef DERPCHECK_ICMP_H
#define DERPCHECK_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derpcheck/net/netaddr.h"

#define DC_ICMP_ECHO_REPLY 0
#define DC_ICMP_DEST_UNREACH 3
#define DC_ICMP_ECHO_REQUEST 8
#define DC_ICMP_TIME_EXCEEDED 11
#define DC_ICMP_HEADER_LEN 8
#define DC_ICMP_MAX_PAYLOAD 256

/* Tailscale's icmpProbeTimeout: the whole ICMP measurement gets one second. */
#define DC_ICMP_BUDGET_MS 1000

/* One ICMPv4 message as read from the wire. */
struct dc_icmp_msg {
	bool has_ip;                 /* an IPv4 header came first (raw sockets) */
	struct dc_endpoint ip_src, ip_dst;
	uint8_t type, code;
	bool checksum_ok;            /* the ICMP checksum verifies */
	uint16_t id, seq;            /* echo request/reply */
	const uint8_t *data;         /* echo payload, inside the caller's buffer */
	size_t data_len;
	/* destination unreachable / time exceeded: the echo request it quotes */
	bool quotes_echo;
	struct dc_endpoint quoted_dst;
	uint16_t quoted_id, quoted_seq;
};

/*
 * Parse buf (with_ip: starts with an IPv4 header). Returns 0, or -1 with err saying why
 * (truncated, not IPv4, not ICMP, a header length that does not fit).
 */
int dc_icmp_parse(const uint8_t *buf, size_t len, bool with_ip, struct dc_icmp_msg *out, struct dc_error *err);

/* An echo request with its checksum into out; the length, or 0 when it does not fit. */
size_t dc_icmp_echo_request(uint16_t id, uint16_t seq, const void *data, size_t data_len, uint8_t *out, size_t cap);
/* The same bytes with type echo reply: what a responder sends back. */
size_t dc_icmp_echo_reply(uint16_t id, uint16_t seq, const void *data, size_t data_len, uint8_t *out, size_t cap);

/* The Internet checksum (RFC 1071) over n bytes. */
uint16_t dc_icmp_checksum(const uint8_t *b, size_t n);

enum dc_icmp_socket_kind {
	DC_ICMP_SOCKET_NONE,
	DC_ICMP_SOCKET_DGRAM, /* unprivileged ICMP socket (ping_group_range) */
	DC_ICMP_SOCKET_RAW,   /* raw socket (root, CAP_NET_RAW) */
};

struct dc_icmp_target {
	struct dc_endpoint addr;  /* IPv4; the port is ignored */
	const char *payload;      /* sent and expected back (Tailscale: the node's Name) */
	/* results */
	bool sent, ok;
	uint64_t rtt_ns;
	bool kernel_ts;           /* the receive time is the kernel's */
	char error[200];          /* why there is no RTT */
};

struct dc_icmp_run {
	enum dc_icmp_socket_kind socket;
	char skipped[400];        /* why nothing was sent ("" when echoes went out) */
	unsigned received;        /* ICMP messages read */
	unsigned ignored;         /* ... that were not a reply to us */
	bool budget_hit;          /* stopped reading after the datagram budget */
	uint64_t elapsed_ns;
};

/* Options for tests: which socket kinds may be tried (both by default). */
struct dc_icmp_opts {
	bool no_dgram, no_raw;
};

/*
 * Ping every target once and wait until each has answered or failed, or deadline_ns
 * (CLOCK_MONOTONIC). Never fails as a whole: a socket that cannot be opened is
 * run->skipped, a target without reply carries its error.
 */
void dc_icmp_ping(struct dc_icmp_target *t, size_t n, uint64_t deadline_ns, const struct dc_icmp_opts *opts,
		  struct dc_icmp_run *run);

/* "unprivileged ICMP socket", "raw socket", "none". */
const char *dc_icmp_socket_name(enum dc_icmp_socket_kind k);

#endif
