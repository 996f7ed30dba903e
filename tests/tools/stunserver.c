/*
 * stunserver: the test lab's STUN server. By default it behaves like derper: it answers
 * only Tailscale-style binding requests (SOFTWARE "tailnode" + FINGERPRINT) with one
 * XOR-MAPPED-ADDRESS, and is silent to everything else. Misbehaviour on demand lets the
 * tests inject what tc netem cannot here (delay, loss) and what broken servers do.
 *
 *   stunserver [-a ADDR]... [-p PORT] [-n COUNT] [options]
 *
 * Prints "listening ADDR:PORT" for every socket, then "ready", then serves until
 * SIGTERM/SIGINT or --lifetime seconds (default 120, so a leaked server never lingers).
 * With --log-holds it prints "held MS" after every reply: how long the request really
 * waited here, from the kernel's receive timestamp to the moment sendto returned. On a
 * loaded machine that is --delay plus our own scheduling delay, and tests compare a
 * client's RTT with it instead of with --delay alone.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/probe/stun.h"
#include "derpcheck/net/udp.h"

enum answer { ANSWER_TAILSCALE, ANSWER_PLAIN, ANSWER_ANY };

struct options {
	enum answer answer;
	double delay_ms;
	double loss_pct;
	unsigned seed;
	unsigned drop_first;
	unsigned duplicates;
	bool wrong_txid;
	long truncate_to; /* -1: off */
	unsigned oversize;
	bool other_port;
	bool have_mapped;
	struct dc_endpoint mapped;
	bool mapped_port; /* --mapped gave a port too */
	bool v4_as_v6;
	const char *software;
	bool fingerprint;
	int error_code;
	const char *error_reason;
	double lifetime_s;
	bool verbose;
	bool log_holds;
};

struct pending {
	uint64_t due_ns;
	int fd;
	struct dc_endpoint to;
	uint8_t *data;
	size_t len;
	uint64_t rx_ns;
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: stunserver [-a ADDR]... [-p PORT] [-n COUNT] [--answer tailscale|plain|any]\n"
		"       [--delay MS] [--loss PCT] [--seed N] [--drop-first N] [--duplicate N] [--wrong-txid]\n"
		"       [--truncate BYTES] [--oversize BYTES] [--other-port] [--mapped IP[:PORT]] [--v4-as-v6]\n"
		"       [--software TEXT] [--fingerprint] [--error CODE[:REASON]] [--lifetime SEC] [--log-holds] [-v]\n");
	exit(2);
}

static double number(const char *s, double min, double max, const char *flag)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "stunserver: invalid %s '%s'\n", flag, s);
		exit(2);
	}
	return v;
}

static bool should_answer(const struct options *o, const struct dc_stun_msg *m)
{
	if (m->type != DC_STUN_BINDING_REQUEST)
		return false;
	bool ts = dc_stun_is_tailscale_request(m);
	return o->answer == ANSWER_ANY || (o->answer == ANSWER_TAILSCALE && ts) || (o->answer == ANSWER_PLAIN && !ts);
}

int main(int argc, char **argv)
{
	struct options o = {.truncate_to = -1, .lifetime_s = 120, .seed = 1};
	struct dc_endpoint addrs[16];
	size_t naddrs = 0;
	long port = 0, count = 1;
	static const struct option longopts[] = {
		{"answer", required_argument, 0, 'A'}, {"delay", required_argument, 0, 'D'},
		{"loss", required_argument, 0, 'L'}, {"seed", required_argument, 0, 'S'},
		{"drop-first", required_argument, 0, 'F'}, {"duplicate", required_argument, 0, 'U'},
		{"wrong-txid", no_argument, 0, 'W'}, {"truncate", required_argument, 0, 'T'},
		{"oversize", required_argument, 0, 'O'}, {"other-port", no_argument, 0, 'P'},
		{"mapped", required_argument, 0, 'M'}, {"v4-as-v6", no_argument, 0, '6'},
		{"software", required_argument, 0, 'w'}, {"fingerprint", no_argument, 0, 'f'},
		{"error", required_argument, 0, 'E'}, {"lifetime", required_argument, 0, 'l'},
		{"log-holds", no_argument, 0, 'H'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "a:p:n:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (naddrs == 16 || dc_ip_parse(optarg, 0, &addrs[naddrs]) < 0) {
				fprintf(stderr, "stunserver: bad address '%s'\n", optarg);
				return 2;
			}
			naddrs++;
			break;
		case 'p': port = (long)number(optarg, 0, 65535, "-p"); break;
		case 'n': count = (long)number(optarg, 1, 20000, "-n"); break;
		case 'v': o.verbose = true; break;
		case 'H': o.log_holds = true; break;
		case 'A':
			if (strcmp(optarg, "tailscale") == 0)
				o.answer = ANSWER_TAILSCALE;
			else if (strcmp(optarg, "plain") == 0)
				o.answer = ANSWER_PLAIN;
			else if (strcmp(optarg, "any") == 0)
				o.answer = ANSWER_ANY;
			else
				usage();
			break;
		case 'D': o.delay_ms = number(optarg, 0, 60000, "--delay"); break;
		case 'L': o.loss_pct = number(optarg, 0, 100, "--loss"); break;
		case 'S': o.seed = (unsigned)number(optarg, 0, 4e9, "--seed"); break;
		case 'F': o.drop_first = (unsigned)number(optarg, 0, 1e9, "--drop-first"); break;
		case 'U': o.duplicates = (unsigned)number(optarg, 0, 100, "--duplicate"); break;
		case 'W': o.wrong_txid = true; break;
		case 'T': o.truncate_to = (long)number(optarg, 0, 65535, "--truncate"); break;
		case 'O': o.oversize = (unsigned)number(optarg, 0, 65000, "--oversize"); break;
		case 'P': o.other_port = true; break;
		case 'M': {
			char *host;
			int mport;
			struct dc_error err;
			if (dc_hostport_split(optarg, &host, &mport, &err) < 0 || dc_ip_parse(host, 0, &o.mapped) < 0) {
				fprintf(stderr, "stunserver: bad --mapped '%s'\n", optarg);
				return 2;
			}
			free(host);
			o.have_mapped = true;
			o.mapped_port = mport > 0;
			o.mapped.port = mport > 0 ? (uint16_t)mport : 0;
			break;
		}
		case '6': o.v4_as_v6 = true; break;
		case 'w': o.software = optarg; break;
		case 'f': o.fingerprint = true; break;
		case 'E': {
			o.error_code = (int)strtol(optarg, NULL, 10);
			const char *colon = strchr(optarg, ':');
			o.error_reason = colon ? colon + 1 : "";
			if (o.error_code < 300 || o.error_code > 699)
				usage();
			break;
		}
		case 'l': o.lifetime_s = number(optarg, 0.1, 86400, "--lifetime"); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (naddrs == 0) {
		dc_ip_parse("127.0.0.1", 4, &addrs[0]);
		naddrs = 1;
	}

	size_t nsock = naddrs * (size_t)count;
	int *fds = dc_xcalloc(nsock, sizeof(int));
	int *other = dc_xcalloc(naddrs, sizeof(int)); /* --other-port: one per address */
	struct pollfd *pfd = dc_xcalloc(nsock, sizeof(*pfd));
	for (size_t a = 0; a < naddrs; a++) {
		for (long k = 0; k < count; k++) {
			struct dc_error err;
			uint16_t p = port ? (uint16_t)(port + k) : 0;
			int fd = dc_udp_open(addrs[a].family, &addrs[a], p, &err);
			if (fd < 0) {
				fprintf(stderr, "stunserver: %s: %s\n", err.where, err.what);
				return 1;
			}
			struct dc_endpoint local;
			char buf[DC_ENDPOINT_STRLEN];
			dc_udp_local(fd, &local);
			printf("listening %s\n", dc_endpoint_format(&local, buf, sizeof(buf)));
			fds[a * (size_t)count + (size_t)k] = fd;
			pfd[a * (size_t)count + (size_t)k] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
		other[a] = -1;
		if (o.other_port) {
			struct dc_error err;
			other[a] = dc_udp_open(addrs[a].family, &addrs[a], 0, &err);
			if (other[a] < 0) {
				fprintf(stderr, "stunserver: %s: %s\n", err.where, err.what);
				return 1;
			}
		}
	}
	printf("ready\n");
	fflush(stdout);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srand(o.seed);
	/* Injected delays should be exact: do not let the kernel batch our wake-ups. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	struct pending *queue = NULL;
	size_t qhead = 0, qlen = 0, qcap = 0;
	uint64_t end_ns = dc_now_ns() + (uint64_t)(o.lifetime_s * 1e9);
	uint64_t delay_ns = (uint64_t)(o.delay_ms * 1e6);
	unsigned long requests = 0, answered = 0, dropped = 0;
	uint8_t buf[2048];

	while (!stopping) {
		uint64_t now = dc_now_ns();
		if (now >= end_ns)
			break;
		/* Send what is due; delays are constant, so the queue is in due order. */
		while (qhead < qlen && queue[qhead].due_ns <= now) {
			struct pending *q = &queue[qhead++];
			for (unsigned d = 0; d <= o.duplicates; d++)
				dc_udp_send(q->fd, &q->to, q->data, q->len);
			if (o.log_holds) {
				printf("held %.3f\n", (double)(dc_now_ns() - q->rx_ns) / 1e6);
				fflush(stdout);
			}
			free(q->data);
		}
		if (qhead == qlen)
			qhead = qlen = 0;
		uint64_t wake = end_ns;
		if (qhead < qlen && queue[qhead].due_ns < wake)
			wake = queue[qhead].due_ns;
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u)};
		int rc = ppoll(pfd, (nfds_t)nsock, &ts, NULL);
		if (rc < 0 && errno != EINTR) {
			perror("stunserver: ppoll");
			return 1;
		}
		for (size_t i = 0; i < nsock && rc > 0; i++) {
			/*
			 * ICMP errors for replies to clients that are gone queue on the socket's
			 * error queue (dc_udp_open sets IP_RECVERR); unread, they make ppoll return
			 * at once forever and the server spins, delaying every injected reply.
			 */
			if (pfd[i].revents & POLLERR) {
				struct dc_udp_icmp icmp;
				while (dc_udp_recv_error(fds[i], &icmp) == 1)
					;
			}
			if (!(pfd[i].revents & POLLIN))
				continue;
			struct dc_udp_packet pkt;
			while (dc_udp_recv(fds[i], buf, sizeof(buf), &pkt) == 1) {
				struct dc_stun_msg m;
				struct dc_error err = {0};
				if (dc_stun_parse(buf, pkt.len, &m, &err) < 0 || !should_answer(&o, &m)) {
					if (o.verbose)
						fprintf(stderr, "stunserver: ignored %zu bytes: %s\n", pkt.len,
							err.what[0] ? err.what : "not a request we answer");
					continue;
				}
				requests++;
				if (requests <= o.drop_first || (o.loss_pct > 0 && rand() % 10000 < o.loss_pct * 100)) {
					dropped++;
					continue;
				}
				struct dc_endpoint mapped = pkt.from;
				if (o.have_mapped) {
					uint16_t keep = pkt.from.port;
					mapped = o.mapped;
					if (!o.mapped_port)
						mapped.port = keep;
				}
				if (o.wrong_txid)
					m.txid[0] ^= 0xff;
				struct dc_stun_reply_opts ro = {
					.mapped = &mapped, .v4_as_mapped_v6 = o.v4_as_v6, .software = o.software,
					.fingerprint = o.fingerprint, .error_code = o.error_code, .error_reason = o.error_reason,
				};
				uint8_t reply[1024];
				size_t len = dc_stun_reply(m.txid, &ro, reply, sizeof(reply));
				if (o.truncate_to >= 0 && (size_t)o.truncate_to < len)
					len = (size_t)o.truncate_to;
				struct pending q = {
					.due_ns = pkt.rx_ns + delay_ns,
					.rx_ns = pkt.rx_ns,
					.fd = o.other_port ? other[i / (size_t)count] : fds[i],
					.to = pkt.from,
					.len = len + o.oversize,
				};
				q.data = dc_xmalloc(q.len);
				memcpy(q.data, reply, len);
				memset(q.data + len, 0xab, o.oversize);
				if (qlen == qcap) {
					qcap = qcap ? qcap * 2 : 64;
					queue = dc_xrealloc(queue, qcap * sizeof(*queue));
				}
				queue[qlen++] = q;
				answered++;
			}
		}
	}
	for (size_t i = qhead; i < qlen; i++)
		free(queue[i].data);
	free(queue);
	fprintf(stderr, "stunserver: %lu requests, %lu answered, %lu dropped\n", requests, answered, dropped);
	for (size_t i = 0; i < nsock; i++)
		close(fds[i]);
	for (size_t a = 0; a < naddrs; a++)
		if (other[a] >= 0)
			close(other[a]);
	free(fds);
	free(other);
	free(pfd);
	return 0;
}
