/*
 * What `derpcheck exporter` serves (docs/metrics.md): /metrics in the Prometheus text
 * exposition format 0.0.4 — every series of `diagnose --format prometheus` for every
 * region, then derpcheck's monitoring series (one 0/1 gauge per state, never a fraction
 * standing for a state), the age of each result and a stale flag, and the exporter's own
 * counters; /probe?region=... in the blackbox exporter's shape (probe_success,
 * probe_duration_seconds, then the region's series); and a small HTML status page for
 * people, every text from the map or the network escaped.
 */
#ifndef DERPCHECK_OUTPUT_EXPORTER_H
#define DERPCHECK_OUTPUT_EXPORTER_H

#include "derpcheck/judge/watch.h"
#include "derpcheck/net/httpserver.h"

struct dc_exporter_view {
	uint64_t now_ns;            /* CLOCK_MONOTONIC, for the results' ages */
	int64_t now_unix;           /* for the status page */
	uint64_t interval_ns;
	uint64_t stale_after_ns;    /* a result older than this is stale */
	uint64_t rounds;            /* schedule rounds finished */
	const char *map_desc;       /* "file map.json" */
	const struct dc_httpd_stats *http;
	uint64_t probes_run, probes_refused;
	unsigned probes_running;
};

void dc_output_exporter_metrics(struct dc_buf *out, const struct dc_watch_region *regions, size_t n,
				const struct dc_exporter_view *v);

/* /probe: probe_success (1 when dc_diag_exit_status is 0), probe_duration_seconds, the region's series. */
void dc_output_exporter_probe(struct dc_buf *out, const struct dc_diag_report *r, double duration_s);

/* / : one row per region with its verdicts, the age of the result and the failing checks. */
void dc_output_exporter_status(struct dc_buf *out, const struct dc_watch_region *regions, size_t n,
			       const struct dc_exporter_view *v);

/* Text for HTML: & < > " ' as entities, control characters dropped. */
void dc_html_escape(struct dc_buf *out, const char *text);

#endif
