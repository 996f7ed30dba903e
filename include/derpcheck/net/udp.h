/*
 * Non-blocking UDP sockets with what a prober needs from the kernel: receive timestamps
 * (SO_TIMESTAMPNS, converted to CLOCK_MONOTONIC so they compare with dc_now_ns), ICMP
 * errors through the error queue (IP_RECVERR), and a receive buffer big enough for a
 * burst of thousands of replies. Used by the prober and by the test servers.
 */
#ifndef DERPCHECK_UDP_H
#define DERPCHECK_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derpcheck/net/netaddr.h"

/*
 * Open and bind a UDP socket of family (4 or 6; IPv6 sockets are IPv6-only). bind_ip
 * NULL binds the wildcard address. Returns the fd, or -1 with err naming the address.
 */
int dc_udp_open(int family, const struct dc_endpoint *bind_ip, uint16_t port, struct dc_error *err);

/* The address a socket is bound to. */
int dc_udp_local(int fd, struct dc_endpoint *out);

/*
 * This host's address toward dst (from bind_ip when given), as the kernel's routing would
 * pick it: a connected UDP socket is asked, no packet is sent.
 */
bool dc_udp_local_toward(const struct dc_endpoint *dst, const struct dc_endpoint *bind_ip, struct dc_endpoint *out);

struct dc_udp_packet {
	size_t len;       /* bytes stored in the buffer */
	size_t wire_len;  /* bytes the datagram had (> len when it did not fit) */
	struct dc_endpoint from;
	uint64_t rx_ns;   /* CLOCK_MONOTONIC arrival time */
	bool kernel_ts;   /* rx_ns comes from the kernel, not from after the system call */
};

/* 1: a datagram was read; 0: none waiting; -1: error (errno set). */
int dc_udp_recv(int fd, uint8_t *buf, size_t cap, struct dc_udp_packet *pkt);

/* 0 when sent; otherwise -errno (-EAGAIN when the send buffer is full). */
int dc_udp_send(int fd, const struct dc_endpoint *to, const void *buf, size_t len);

/* An ICMP error (or local error) the kernel queued for a datagram we sent. */
struct dc_udp_icmp {
	struct dc_endpoint dst;      /* where the failed datagram was going */
	struct dc_endpoint offender; /* who reported it (family 0 when unknown) */
	int err;                     /* errno equivalent, e.g. ECONNREFUSED */
	bool local;                  /* raised by this host, not by an ICMP message */
	uint8_t type, code;          /* ICMP / ICMPv6 type and code */
	bool v6;
	uint8_t payload[64];         /* the start of the datagram that failed */
	size_t payload_len;
};

/* 1: an error was dequeued; 0: queue empty; -1: failure. */
int dc_udp_recv_error(int fd, struct dc_udp_icmp *out);

/* "port unreachable", "host unreachable", ... for an ICMP error. */
const char *dc_udp_icmp_text(const struct dc_udp_icmp *e);

/*
 * An ICMP (v4 type 3 code 3, v6 type 1 code 4) port unreachable: the datagram reached a
 * host that has nothing listening on the port (or a firewall that answers as if). Proof
 * that UDP got through to the offender, unlike silence.
 */
bool dc_udp_icmp_port_closed(const struct dc_udp_icmp *e);

/* Convert a CLOCK_REALTIME kernel timestamp to CLOCK_MONOTONIC nanoseconds. */
uint64_t dc_realtime_to_monotonic(int64_t sec, long nsec);

#endif
