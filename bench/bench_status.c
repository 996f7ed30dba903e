/*
 * CPU cost of `derpcheck status` after the bytes have arrived: read a Status document,
 * classify every peer, render text and JSON. Generated tailnets of 100 and 10,000 peers
 * in tailscaled's LocalAPI format (tab-indented, the fields a 1.86 daemon writes).
 * Targets: instant for a typical tailnet (1,000 peers < 50 ms), and still well under a
 * second for 10,000.
 *
 *   bench_status              measure, compare with the targets, exit 1 if missed
 *   bench_status --write N F  write an N-peer Status document to F (for bench_status.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/output/output_status.h"
#include "derpcheck/judge/peerpath.h"
#include "derpcheck/input/status.h"

#define NOW 1787400000

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A tailnet where a third of the peers are direct, a third relayed, a third idle. */
static char *generate(int peers, size_t *len)
{
	static const char *const codes[] = {"nyc", "fra", "sin", "lhr", "sfo"};
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{\n\t\"Version\": \"1.86.2-bench\",\n\t\"BackendState\": \"Running\",\n"
			  "\t\"MagicDNSSuffix\": \"tail1.ts.net\",\n"
			  "\t\"Self\": {\"HostName\": \"bench\", \"DNSName\": \"bench.tail1.ts.net.\", \"Relay\": \"fra\","
			  " \"Addrs\": [\"203.0.113.7:41641\", \"192.168.1.2:41641\"]},\n\t\"Peer\": {");
	for (int i = 0; i < peers; i++) {
		int kind = i % 3;
		dc_buf_printf(&b,
			      "%s\n\t\t\"nodekey:%064x\": {\n"
			      "\t\t\t\"ID\": \"n%dCNTRL\", \"PublicKey\": \"nodekey:%064x\", \"HostName\": \"host-%d\",\n"
			      "\t\t\t\"DNSName\": \"host-%d.tail1.ts.net.\", \"OS\": \"linux\", \"UserID\": %d,\n"
			      "\t\t\t\"TailscaleIPs\": [\"100.%d.%d.%d\", \"fd7a:115c:a1e0::%x\"],\n"
			      "\t\t\t\"AllowedIPs\": [\"100.%d.%d.%d/32\"], \"Addrs\": null,\n"
			      "\t\t\t\"CurAddr\": \"%s\", \"Relay\": \"%s\", \"PeerRelay\": \"\",\n"
			      "\t\t\t\"RxBytes\": %d, \"TxBytes\": %d, \"Created\": \"2026-01-01T00:00:00Z\",\n"
			      "\t\t\t\"LastWrite\": \"2026-08-22T11:59:59.123456789Z\", \"LastSeen\": \"0001-01-01T00:00:00Z\",\n"
			      "\t\t\t\"LastHandshake\": \"2026-08-22T11:59:%02dZ\", \"Online\": true, \"ExitNode\": false,\n"
			      "\t\t\t\"ExitNodeOption\": false, \"Active\": %s, \"PeerAPIURL\": [\"http://100.64.0.1:39201\"],\n"
			      "\t\t\t\"InNetworkMap\": true, \"InMagicSock\": true, \"InEngine\": true,\n"
			      "\t\t\t\"KeyExpiry\": \"2027-02-18T12:00:00Z\"\n\t\t}",
			      i ? "," : "", i, i, i, i, i, 1000 + i % 7, 64 + (i >> 16) % 64, (i >> 8) & 255, i & 255, i,
			      64 + (i >> 16) % 64, (i >> 8) & 255, i & 255, kind == 0 ? "192.0.2.10:41641" : "",
			      codes[i % 5], i * 37, i * 11, i % 60, kind == 2 ? "false" : "true");
	}
	dc_buf_printf(&b, "\n\t},\n\t\"User\": {\"1000\": {\"ID\": 1000, \"LoginName\": \"alice@example.com\"}}\n}\n");
	*len = b.len;
	return b.data;
}

static void run_once(const char *text, size_t len, const struct dc_derpmap *map, FILE *sink)
{
	struct dc_status st;
	struct dc_error err;
	if (dc_status_parse(text, len, "bench", &st, &err) < 0) {
		fprintf(stderr, "bench_status: %s\n", err.what);
		exit(2);
	}
	struct dc_tailnet_report r;
	dc_tailnet_analyze(&st, map, NOW, &r);
	struct dc_status_context ctx = {.source = DC_STATUS_FROM_FILE, .source_name = "bench",
					.map_source = DC_MAP_SOURCE_EMBEDDED, .map_name = "embedded:", .now = NOW};
	dc_output_status_text(sink, &r, &ctx, NULL);
	dc_output_status_json(sink, &r, &ctx);
	dc_tailnet_report_free(&r);
	dc_status_free(&st);
}

static int measure(int peers, int iterations, double target_ms, const struct dc_derpmap *map, FILE *sink)
{
	size_t len;
	char *text = generate(peers, &len);
	run_once(text, len, map, sink); /* warm up */
	double start = cpu_ms();
	for (int i = 0; i < iterations; i++)
		run_once(text, len, map, sink);
	double mean = (cpu_ms() - start) / iterations;
	bool ok = mean < target_ms;
	printf("%6d peers (%6.2f MiB): read + analyse + text + JSON  mean %8.3f ms CPU  (target < %g ms: %s)\n", peers,
	       (double)len / (1 << 20), mean, target_ms, ok ? "ok" : "MISSED");
	free(text);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--write") == 0) {
		size_t len;
		char *text = generate(atoi(argv[2]), &len);
		int rc = bench_write_file(argv[3], text, len);
		free(text);
		return rc;
	}
	struct dc_derpmap map;
	if (dc_map_defaults(&map) < 0)
		return 2;
	FILE *sink = fopen("/dev/null", "w");
	if (!sink)
		return 2;
	int status = 0;
	status |= measure(100, 200, 5.0, &map, sink);
	status |= measure(1000, 20, 50.0, &map, sink);
	status |= measure(10000, 5, 500.0, &map, sink);
	fclose(sink);
	dc_derpmap_free(&map);
	return status;
}
