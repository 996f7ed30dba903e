/*
 * DERP benchmarks against the test DERP server on loopback (bench/bench_derp.sh runs them):
 *
 *   bench_derp echo  PORT CA N [US]    raw TLS echo round trip (derpserver --tls-echo), same
 *                                      TLS code and socket options as the DERP client; with
 *                                      US, one round trip every US microseconds (as ping -i)
 *   bench_derp pong  PORT CA N         DERP Ping/Pong round trip on one connection
 *   bench_derp setup PORT CA N         connection set-up: TCP+TLS+upgrade+handshake
 *   bench_derp flood PORT CA N SIZE SERVER_PID
 *                                      one client pushes N packets to a second client as fast
 *                                      as it can: packets/s, loss, CPU per packet
 *
 * Each prints "name value unit" lines for the script to compare with its targets.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "derpcheck/probe/derpconn.h"

static struct dc_derp_node node = {
	.name = "bench", .host_name = "derp.test", .cert_name = "", .ipv4 = "127.0.0.1", .ipv6 = "none",
	.stun_test_ip = "", .stun_port = -1,
};
static struct dc_derp_region region = {.id = 900, .code = "bench", .name = "", .nodes = &node, .node_count = 1};
static const char *ca_file;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	printf("%s_median_ms %.4f\n%s_mean_ms %.4f\n%s_p90_ms %.4f\n", name, (double)v[n / 2] / 1e6, name, sum / n / 1e6,
	       name, (double)v[n * 9 / 10] / 1e6);
}

static void connect_or_die(struct dc_derp_conn *c)
{
	struct dc_derp_dial_opts o = {.region = &region, .ca_file = ca_file, .timeout_ms = 5000};
	struct dc_error err;
	if (dc_derp_connect(&o, c, &err) < 0) {
		fprintf(stderr, "bench_derp: connect: %s: %s\n", err.where, err.what);
		exit(1);
	}
}

static int bench_echo(int port, size_t n, long pace_us)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	struct dc_tls_opts opts = {.sni = "derp.test", .timeout_ms = 5000};
	struct dc_tls_conn c;
	struct dc_error err;
	if (dc_tls_connect((struct sockaddr *)&sa, sizeof(sa), &opts, &c, &err) < 0) {
		fprintf(stderr, "bench_derp: echo connect: %s\n", err.what);
		return 1;
	}
	uint64_t *rtt = calloc(n, sizeof(*rtt));
	uint8_t msg[13] = {0x12, 0, 0, 0, 8}, back[13]; /* the same 13 bytes as a DERP Ping frame */
	for (size_t i = 0; i < n + 100; i++) {
		if (pace_us > 0) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = pace_us * 1000};
			nanosleep(&ts, NULL);
		}
		uint64_t t0 = dc_now_ns(), deadline = t0 + 2000000000u;
		if (dc_tls_write_all(&c, msg, sizeof(msg), deadline, &err) < 0)
			return 1;
		size_t got = 0;
		while (got < sizeof(back)) {
			long r = dc_tls_read(&c, back + got, sizeof(back) - got, deadline, &err);
			if (r <= 0)
				return 1;
			got += (size_t)r;
		}
		if (i >= 100) /* after a warm-up */
			rtt[i - 100] = dc_now_ns() - t0;
	}
	report(pace_us > 0 ? "tls_echo_paced_rtt" : "tls_echo_rtt", rtt, n);
	dc_tls_close(&c);
	free(rtt);
	return 0;
}

static int bench_pong(size_t n)
{
	struct dc_derp_conn c;
	connect_or_die(&c);
	uint64_t *rtt = calloc(n, sizeof(*rtt));
	for (size_t i = 0; i < n + 100; i++) {
		uint8_t data[8];
		memcpy(data, &i, sizeof(data));
		uint64_t t0 = dc_now_ns(), deadline = t0 + 2000000000u;
		struct dc_error err;
		dc_derp_queue_ping(&c, data);
		if (dc_derp_flush(&c, deadline, &err) < 0)
			return 1;
		struct dc_derp_msg m;
		do {
			if (dc_derp_recv(&c, deadline, &m, &err) != 1)
				return 1;
		} while (m.type != DC_DERP_PONG || memcmp(m.u.ping.data, data, 8) != 0);
		if (i >= 100)
			rtt[i - 100] = dc_now_ns() - t0;
	}
	report("derp_pong_rtt", rtt, n);
	dc_derp_close(&c);
	free(rtt);
	return 0;
}

static int bench_setup(size_t n)
{
	uint64_t *total = calloc(n, sizeof(*total)), *tls = calloc(n, sizeof(*tls)), *hs = calloc(n, sizeof(*hs));
	for (size_t i = 0; i < n + 10; i++) {
		struct dc_derp_conn c;
		connect_or_die(&c);
		if (i >= 10) {
			/* The network phases; certificate checking is local CPU, reported apart. */
			total[i - 10] = c.tcp_ns + c.tls_ns + c.upgrade_ns + c.handshake_ns;
			tls[i - 10] = c.verify_ns;
			hs[i - 10] = c.connect_ns;
		}
		dc_derp_close(&c);
	}
	report("setup_tcp_tls_upgrade_handshake", total, n);
	report("setup_certificate_check", tls, n);
	report("setup_all_including_check", hs, n);
	free(total);
	free(tls);
	free(hs);
	return 0;
}

struct receiver {
	struct dc_derp_conn conn;
	size_t want, got;
	uint64_t last_ns, cpu_ns;
	_Atomic uint64_t sender_done_ns; /* 0 while the sender still sends */
};

/* A relay that drops (derper drops what overflows a client's queue) leaves packets that
 * never come: once the sender is done, a second without any ends the wait. */
#define QUIET_NS 1000000000ull

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *receive(void *arg)
{
	struct receiver *r = arg;
	uint64_t cpu0 = thread_cpu_ns();
	uint64_t give_up = dc_now_ns() + 60ull * 1000000000u; /* a stuck relay */
	r->last_ns = dc_now_ns();
	while (r->got < r->want) {
		uint64_t done = atomic_load(&r->sender_done_ns);
		uint64_t quiet_from = r->last_ns > done ? r->last_ns : done;
		uint64_t now = dc_now_ns();
		if ((done && now >= quiet_from + QUIET_NS) || now >= give_up)
			break;
		struct dc_derp_msg m;
		struct dc_error err;
		int rc = dc_derp_recv(&r->conn, done ? quiet_from + QUIET_NS : now + 100000000u, &m, &err);
		if (rc < 0)
			break;
		if (rc == 1 && m.type == DC_DERP_RECV_PACKET) {
			r->got++;
			r->last_ns = dc_now_ns(); /* the rate is measured to the last packet, not to the wait's end */
		}
	}
	r->cpu_ns = thread_cpu_ns() - cpu0;
	return NULL;
}

/* utime + stime of a process, in nanoseconds (/proc/PID/stat fields 14 and 15). */
static uint64_t process_cpu_ns(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (uint64_t)(ut + st) * (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
}

static int bench_flood(size_t n, size_t size, int server_pid)
{
	struct dc_derp_conn a;
	struct receiver r = {.want = n};
	connect_or_die(&a);
	connect_or_die(&r.conn);
	uint8_t *payload = calloc(1, size);
	memcpy(payload, "dcfl", 4);
	pthread_t t;
	pthread_create(&t, NULL, receive, &r);
	uint64_t server0 = process_cpu_ns(server_pid);
	uint64_t cpu0 = thread_cpu_ns();
	uint64_t start = dc_now_ns();
	size_t sent = 0;
	const size_t batch = 128; /* frames per write: one TLS record of about 12 KiB */
	while (sent < n) {
		for (size_t k = 0; k < batch && sent < n; k++, sent++) {
			memcpy(payload + 4, &sent, sizeof(sent));
			dc_derp_queue_packet(&a, r.conn.public_key, payload, size);
		}
		struct dc_error err;
		if (dc_derp_flush(&a, dc_now_ns() + 10000000000ull, &err) < 0) {
			fprintf(stderr, "bench_derp: send: %s\n", err.what);
			return 1;
		}
	}
	uint64_t send_done = dc_now_ns();
	atomic_store(&r.sender_done_ns, send_done);
	uint64_t sender_cpu = thread_cpu_ns() - cpu0;
	pthread_join(t, NULL);
	uint64_t server_cpu = process_cpu_ns(server_pid) - server0;
	double secs = (double)(r.last_ns - start) / 1e9;
	printf("flood_packets %zu\nflood_bytes_per_packet %zu\n", n, size);
	printf("flood_received %zu\nflood_lost %zu\n", r.got, n - r.got);
	printf("flood_send_rate_pps %.0f\n", (double)n / ((double)(send_done - start) / 1e9));
	printf("flood_delivered_rate_pps %.0f\n", (double)r.got / secs);
	printf("flood_sender_cpu_ns_per_packet %.0f\n", (double)sender_cpu / (double)n);
	printf("flood_receiver_cpu_ns_per_packet %.0f\n", (double)r.cpu_ns / (double)(r.got ? r.got : 1));
	printf("flood_server_cpu_ns_per_packet %.0f\n", (double)server_cpu / (double)(r.got ? r.got : 1));
	dc_derp_close(&a);
	dc_derp_close(&r.conn);
	free(payload);
	return r.got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_derp echo|pong|setup|flood PORT CA_FILE N [INTERVAL_US | SIZE SERVER_PID]\n");
		return 2;
	}
	int port = atoi(argv[2]);
	ca_file = argv[3];
	size_t n = (size_t)atol(argv[4]);
	node.derp_port = port;
	if (strcmp(argv[1], "echo") == 0)
		return bench_echo(port, n, argc > 5 ? atol(argv[5]) : 0);
	if (strcmp(argv[1], "pong") == 0)
		return bench_pong(n);
	if (strcmp(argv[1], "setup") == 0)
		return bench_setup(n);
	if (strcmp(argv[1], "flood") == 0 && argc == 7)
		return bench_flood(n, (size_t)atol(argv[5]), atoi(argv[6]));
	fprintf(stderr, "bench_derp: unknown mode %s\n", argv[1]);
	return 2;
}
