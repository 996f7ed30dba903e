/*
 * CPU cost of reading and validating DERP maps: the embedded default map (28 regions)
 * and a generated 1,000-region map. Measures CPU time (CLOCK_PROCESS_CPUTIME_ID) over
 * many iterations and compares the mean with the targets of issue #2.
 *
 *   bench_validate                  the CPU benchmark
 *   bench_validate --write N K FILE write the generated map of N regions of K nodes to
 *                                   FILE (for bench scripts that run the whole derpcheck
 *                                   validate on it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/validate.h"

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One full pass: parse HuJSON, decode, validate against the defaults. */
static size_t validate_once(const char *text, size_t len, const struct dc_derpmap *defaults)
{
	struct dc_map_doc doc;
	memset(&doc, 0, sizeof(doc));
	doc.text.name = (char *)"bench";
	doc.text.text = (char *)text;
	doc.text.len = len;
	dc_map_doc_parse(&doc);
	if (doc.decoded)
		dc_validate(&doc.map, defaults, &doc.findings);
	size_t findings = doc.findings.count;
	dc_derpmap_free(&doc.map);
	dc_findings_free(&doc.findings);
	return findings;
}

static char *generate_map(int regions, int nodes, size_t *len)
{
	struct dc_buf b = {0};
	dc_buf_printf(&b, "{\n  // generated: %d regions, %d nodes each\n  \"Regions\": {\n", regions, nodes);
	for (int r = 0; r < regions; r++) {
		int id = 1000 + r;
		dc_buf_printf(&b, "    \"%d\": {\"RegionID\": %d, \"RegionCode\": \"r%d\", \"RegionName\": \"Region %d\",\n"
				  "      \"Nodes\": [\n", id, id, id, id);
		for (int n = 0; n < nodes; n++)
			dc_buf_printf(&b, "        {\"Name\": \"%d%c\", \"RegionID\": %d, \"HostName\": \"derp%d%c.example.net\", "
					  "\"IPv4\": \"10.%d.%d.%d\", \"IPv6\": \"fd00::%x:%x\", \"STUNPort\": 3478, \"DERPPort\": 443},\n",
				      id, 'a' + n, id, id, 'a' + n, r / 250, r % 250, n + 1, r, n + 1);
		dc_buf_printf(&b, "      ],\n    },\n");
	}
	dc_buf_printf(&b, "  },\n}\n");
	*len = b.len;
	return b.data;
}

static int measure(const char *label, const char *text, size_t len, const struct dc_derpmap *defaults,
		   int iterations, double target_ms)
{
	size_t findings = validate_once(text, len, defaults); /* warm up, and sanity */
	double start = cpu_ms();
	for (int i = 0; i < iterations; i++)
		validate_once(text, len, defaults);
	double mean = (cpu_ms() - start) / iterations;
	int ok = mean < target_ms;
	printf("%-34s %9.3f ms CPU per validation (%d runs, %zu bytes, %zu findings)  target < %g ms: %s\n", label, mean,
	       iterations, len, findings, target_ms, ok ? "ok" : "MISSED");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--write") == 0) {
		size_t len;
		char *text = generate_map(atoi(argv[2]), atoi(argv[3]), &len);
		int rc = bench_write_file(argv[4], text, len);
		free(text);
		return rc;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: bench_validate [--write REGIONS NODES FILE]\n");
		return 2;
	}
	struct dc_derpmap defaults;
	if (dc_map_defaults(&defaults) < 0) {
		fprintf(stderr, "bench: the embedded default map does not decode\n");
		return 2;
	}
	size_t dlen;
	const char *dtext = dc_map_embedded_text(&dlen);
	size_t glen;
	char *gtext = generate_map(1000, 3, &glen);
	int missed = 0;
	missed += measure("default map (28 regions, 87 nodes)", dtext, dlen, &defaults, 2000, 1.0);
	missed += measure("generated map (1000 regions)", gtext, glen, &defaults, 50, 50.0);
	free(gtext);
	dc_derpmap_free(&defaults);
	return missed ? 1 : 0;
}
