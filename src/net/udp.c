#include "derpcheck/net/udp.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Room for a burst of replies: the kernel charges ~1 KiB per small datagram. */
#define RCVBUF_BYTES (4 * 1024 * 1024)

int dc_udp_open(int family, const struct dc_endpoint *bind_ip, uint16_t port, struct dc_error *err)
{
	int af = family == 4 ? AF_INET : AF_INET6;
	int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dc_error_set(err, NULL, "cannot open an IPv%d UDP socket: %s", family, strerror(errno));
		if (errno == EAFNOSUPPORT)
			dc_error_hint(err, "this system has IPv%d turned off; use -%d for the other family", family,
				      family == 4 ? 6 : 4);
		return -1;
	}
	int one = 1, size = RCVBUF_BYTES;
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Optional features: without them we lose precision or early errors, not correctness. */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (af == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

	struct dc_endpoint local = {.family = family, .port = port};
	if (bind_ip)
		memcpy(local.ip, bind_ip->ip, sizeof(local.ip));
	struct sockaddr_storage ss;
	socklen_t len = dc_endpoint_to_sockaddr(&local, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		char where[DC_ENDPOINT_STRLEN];
		dc_endpoint_format(&local, where, sizeof(where));
		dc_error_set(err, where, "cannot bind a UDP socket: %s", strerror(e));
		if (e == EADDRNOTAVAIL)
			dc_error_hint(err, "--bind-address must be an address of this machine (see 'ip addr')");
		else if (e == EADDRINUSE)
			dc_error_hint(err, "another program uses UDP port %u; pick another --bind-port or 0", port);
		else if (e == EACCES)
			dc_error_hint(err, "ports below 1024 need root or CAP_NET_BIND_SERVICE");
		close(fd);
		return -1;
	}
	return fd;
}

int dc_udp_local(int fd, struct dc_endpoint *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return dc_endpoint_from_sockaddr(out, (struct sockaddr *)&ss, len);
}

uint64_t dc_realtime_to_monotonic(int64_t sec, long nsec)
{
	/*
	 * Pair "now" on both clocks. Reading the wall clock on both sides of the monotonic
	 * one and retrying when we were preempted in between keeps the pairing error to a
	 * few microseconds, even on a busy machine.
	 */
	uint64_t mono = 0;
	int64_t now_real = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct timespec r1, r2;
		clock_gettime(CLOCK_REALTIME, &r1);
		mono = dc_now_ns();
		clock_gettime(CLOCK_REALTIME, &r2);
		int64_t a = (int64_t)r1.tv_sec * 1000000000LL + r1.tv_nsec;
		int64_t b = (int64_t)r2.tv_sec * 1000000000LL + r2.tv_nsec;
		now_real = a + (b - a) / 2;
		if (b - a < 20000)
			break;
	}
	int64_t ts = sec * 1000000000LL + nsec;
	int64_t age = now_real - ts; /* how long the datagram waited in the socket */
	if (age < 0)
		age = 0; /* the wall clock stepped back meanwhile; "just now" is the best guess */
	if ((uint64_t)age > mono)
		return mono;
	return mono - (uint64_t)age;
}

int dc_udp_recv(int fd, uint8_t *buf, size_t cap, struct dc_udp_packet *pkt)
{
	struct sockaddr_storage from;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec)) + 64];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n = recvmsg(fd, &msg, MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	memset(pkt, 0, sizeof(*pkt));
	pkt->wire_len = (size_t)n;
	pkt->len = (size_t)n < cap ? (size_t)n : cap;
	dc_endpoint_from_sockaddr(&pkt->from, (struct sockaddr *)&from, msg.msg_namelen);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			pkt->rx_ns = dc_realtime_to_monotonic(ts.tv_sec, ts.tv_nsec);
			pkt->kernel_ts = true;
		}
	}
	if (!pkt->kernel_ts)
		pkt->rx_ns = dc_now_ns();
	return 1;
}

int dc_udp_send(int fd, const struct dc_endpoint *to, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = dc_endpoint_to_sockaddr(to, &ss);
	ssize_t n = sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

int dc_udp_recv_error(int fd, struct dc_udp_icmp *out)
{
	struct sockaddr_storage dst;
	memset(out, 0, sizeof(*out));
	struct iovec iov = {.iov_base = out->payload, .iov_len = sizeof(out->payload)};
	union {
		char buf[512];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_name = &dst,
		.msg_namelen = sizeof(dst),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n = recvmsg(fd, &msg, MSG_ERRQUEUE);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	out->payload_len = (size_t)n < sizeof(out->payload) ? (size_t)n : sizeof(out->payload);
	dc_endpoint_from_sockaddr(&out->dst, (struct sockaddr *)&dst, msg.msg_namelen);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
		bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
		if (!(v4 || v6) || c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err)))
			continue;
		struct sock_extended_err ee;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		out->err = (int)ee.ee_errno;
		out->type = ee.ee_type;
		out->code = ee.ee_code;
		out->v6 = ee.ee_origin == SO_EE_ORIGIN_ICMP6;
		out->local = ee.ee_origin == SO_EE_ORIGIN_LOCAL;
		/* SO_EE_OFFENDER: the sockaddr right after the extended error. */
		size_t off_len = c->cmsg_len - CMSG_LEN(sizeof(ee));
		if (off_len >= sizeof(struct sockaddr_in)) {
			struct sockaddr_storage ss;
			memset(&ss, 0, sizeof(ss));
			memcpy(&ss, CMSG_DATA(c) + sizeof(ee), off_len < sizeof(ss) ? off_len : sizeof(ss));
			if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
				dc_endpoint_from_sockaddr(&out->offender, (struct sockaddr *)&ss, (socklen_t)off_len);
		}
	}
	return 1;
}

const char *dc_udp_icmp_text(const struct dc_udp_icmp *e)
{
	if (e->local)
		return e->err == EMSGSIZE ? "message too long for the path MTU" : "local error";
	if (!e->v6 && e->type == ICMP_DEST_UNREACH) {
		switch (e->code) {
		case ICMP_NET_UNREACH: return "network unreachable";
		case ICMP_HOST_UNREACH: return "host unreachable";
		case ICMP_PROT_UNREACH: return "protocol unreachable";
		case ICMP_PORT_UNREACH: return "port unreachable";
		case ICMP_FRAG_NEEDED: return "fragmentation needed";
		case ICMP_NET_ANO:
		case ICMP_HOST_ANO:
		case ICMP_PKT_FILTERED: return "administratively prohibited (a firewall rejected it)";
		default: return "destination unreachable";
		}
	}
	if (!e->v6 && e->type == ICMP_TIME_EXCEEDED)
		return "TTL exceeded (routing loop?)";
	if (e->v6 && e->type == ICMP6_DST_UNREACH) {
		switch (e->code) {
		case ICMP6_DST_UNREACH_NOROUTE: return "no route to destination";
		case ICMP6_DST_UNREACH_ADMIN: return "administratively prohibited (a firewall rejected it)";
		case ICMP6_DST_UNREACH_ADDR: return "address unreachable";
		case ICMP6_DST_UNREACH_NOPORT: return "port unreachable";
		default: return "destination unreachable";
		}
	}
	if (e->v6 && e->type == ICMP6_PACKET_TOO_BIG)
		return "packet too big";
	if (e->v6 && e->type == ICMP6_TIME_EXCEEDED)
		return "hop limit exceeded (routing loop?)";
	return "ICMP error";
}

bool dc_udp_icmp_port_closed(const struct dc_udp_icmp *e)
{
	if (e->local)
		return false;
	return e->v6 ? e->type == ICMP6_DST_UNREACH && e->code == ICMP6_DST_UNREACH_NOPORT
		     : e->type == ICMP_DEST_UNREACH && e->code == ICMP_PORT_UNREACH;
}

bool dc_udp_local_toward(const struct dc_endpoint *dst, const struct dc_endpoint *bind_ip, struct dc_endpoint *out)
{
	int fd = socket(dst->family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_storage ss;
	socklen_t len;
	bool ok = true;
	if (bind_ip) {
		len = dc_endpoint_to_sockaddr(bind_ip, &ss);
		ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	}
	len = dc_endpoint_to_sockaddr(dst, &ss);
	ok = ok && connect(fd, (struct sockaddr *)&ss, len) == 0;
	len = sizeof(ss);
	ok = ok && getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	     dc_endpoint_from_sockaddr(out, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}
