/*
 * icmpecho: the test lab's ICMP echo responder. tc netem is not available, so a delay on
 * ICMP echo (netcheck's UDP-blocked fallback measures it) is injected here: with the
 * kernel's own echo replies turned off in the namespace (net.ipv4.icmp_echo_ignore_all=1),
 * this answers echo requests to the addresses given, each after its own delay.
 *
 *   icmpecho ADDR=MS... [--lifetime SEC] [--log-holds]
 *
 * Needs a raw socket (root). Requests are read with the bounded ICMP parser of
 * src/probe/icmp.c; the reply (same identifier, sequence and payload) leaves from a raw
 * socket bound to the address asked, so its source is right. Prints "listening ADDR" per
 * address, then "ready"; with --log-holds "held ADDR MS" per reply (kernel receive
 * timestamp to sendto: the delay plus our scheduling). Serves until SIGTERM/SIGINT or --lifetime
 * seconds (default 120).
 */
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/net/udp.h"
#include "derpcheck/probe/icmp.h"

#define MAX_ADDRS 16
#define MAX_PENDING 1024

struct target {
	struct dc_endpoint addr;
	uint64_t delay_ns;
	int fd; /* raw socket bound to addr, for the replies */
};

struct pending {
	uint64_t due_ns, rx_ns;
	int fd;
	struct dc_endpoint to, from;
	uint8_t data[DC_ICMP_HEADER_LEN + 1500];
	size_t len;
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: icmpecho ADDR=MS... [--lifetime SEC] [--log-holds]\n");
	return 2;
}

static int raw_socket(void)
{
	return socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
}

int main(int argc, char **argv)
{
	struct target t[MAX_ADDRS];
	size_t nt = 0;
	double lifetime = 120;
	bool log_holds = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc) {
			lifetime = strtod(argv[++i], NULL);
			continue;
		}
		if (strcmp(argv[i], "--log-holds") == 0) {
			log_holds = true;
			continue;
		}
		char *eq = strchr(argv[i], '=');
		if (!eq || nt == MAX_ADDRS)
			return usage();
		*eq = '\0';
		char *end;
		double ms = strtod(eq + 1, &end);
		if (dc_ip_parse(argv[i], 4, &t[nt].addr) < 0 || *end || ms < 0 || ms > 60000)
			return usage();
		t[nt].delay_ns = (uint64_t)(ms * 1e6);
		nt++;
	}
	if (!nt || lifetime <= 0)
		return usage();

	int rx = raw_socket();
	if (rx < 0) {
		fprintf(stderr, "icmpecho: raw socket: %s (needs root)\n", strerror(errno));
		return 1;
	}
	int one = 1;
	setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	/* Echo requests only: not our own replies, which loop back on lo. */
	struct icmp_filter filt = {.data = ~(1u << DC_ICMP_ECHO_REQUEST)};
	setsockopt(rx, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt));
	for (size_t i = 0; i < nt; i++) {
		t[i].fd = raw_socket();
		struct sockaddr_storage ss;
		socklen_t sl = dc_endpoint_to_sockaddr(&t[i].addr, &ss);
		char a[DC_ENDPOINT_STRLEN];
		dc_ip_format(&t[i].addr, a, sizeof(a));
		if (t[i].fd < 0 || bind(t[i].fd, (struct sockaddr *)&ss, sl) < 0) {
			fprintf(stderr, "icmpecho: cannot send from %s: %s\n", a, strerror(errno));
			return 1;
		}
		printf("listening %s\n", a);
	}
	printf("ready\n");
	fflush(stdout);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* injected delays should be exact */
	struct pending *q = dc_xcalloc(MAX_PENDING, sizeof(*q));
	size_t nq = 0;
	uint64_t end_ns = dc_now_ns() + (uint64_t)(lifetime * 1e9);
	unsigned long answered = 0, ignored = 0;
	uint8_t buf[1600];
	while (!stopping) {
		uint64_t now = dc_now_ns();
		if (now >= end_ns)
			break;
		/* Send what is due (delays differ per address: scan, the queue is small). */
		uint64_t wake = end_ns;
		for (size_t i = 0; i < nq;) {
			if (q[i].due_ns <= now) {
				dc_udp_send(q[i].fd, &q[i].to, q[i].data, q[i].len);
				if (log_holds) {
					char a[DC_ENDPOINT_STRLEN];
					printf("held %s %.3f\n", dc_ip_format(&q[i].from, a, sizeof(a)),
					       (double)(dc_now_ns() - q[i].rx_ns) / 1e6);
					fflush(stdout);
				}
				answered++;
				q[i] = q[--nq];
				continue;
			}
			if (q[i].due_ns < wake)
				wake = q[i].due_ns;
			i++;
		}
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u)};
		struct pollfd pfd = {.fd = rx, .events = POLLIN};
		int rc = ppoll(&pfd, 1, &ts, NULL);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		struct dc_udp_packet pkt;
		for (int k = 0; k < 256 && dc_udp_recv(rx, buf, sizeof(buf), &pkt) == 1; k++) {
			struct dc_icmp_msg m;
			struct dc_error err;
			if (dc_icmp_parse(buf, pkt.len, true, &m, &err) < 0 || m.type != DC_ICMP_ECHO_REQUEST ||
			    !m.checksum_ok || nq == MAX_PENDING) {
				ignored++;
				continue;
			}
			size_t i = 0;
			while (i < nt && !dc_ip_equal(&t[i].addr, &m.ip_dst))
				i++;
			if (i == nt) {
				ignored++;
				continue;
			}
			struct pending *p = &q[nq];
			p->len = dc_icmp_echo_reply(m.id, m.seq, m.data, m.data_len, p->data, sizeof(p->data));
			if (!p->len) {
				ignored++;
				continue;
			}
			p->rx_ns = pkt.rx_ns;
			p->due_ns = pkt.rx_ns + t[i].delay_ns;
			p->fd = t[i].fd;
			p->to = m.ip_src;
			p->from = t[i].addr;
			nq++;
		}
	}
	fprintf(stderr, "icmpecho: %lu answered, %lu ignored\n", answered, ignored);
	free(q);
	return 0;
}
