/*
 * The netcheck report: the fields of Tailscale's netcheck.Report (protocols.md §3.3),
 * rendered exactly as `tailscale netcheck` prints them (text, json, json-line), so that
 * scripts written for it keep working. Probing fills this struct; nothing here probes.
 */
#ifndef DERPCHECK_NETREPORT_H
#define DERPCHECK_NETREPORT_H

#include <stdio.h>
#include <time.h>

#include "derpcheck/input/derpmap.h"

/* Go's opt.Bool: unset (JSON null), false or true. */
enum dc_optbool { DC_OPT_UNSET = -1, DC_OPT_FALSE = 0, DC_OPT_TRUE = 1 };

/* region ID -> latency in nanoseconds (Go's map[int]time.Duration). */
struct dc_latency_map {
	struct {
		int64_t region_id;
		int64_t ns;
	} *items;
	size_t count;
};

/* "ip:port" -> number of replies that reported it (Go's map[netip.AddrPort]int). */
struct dc_mapping_counts {
	struct {
		char addr[64];
		int count;
	} *items;
	size_t count;
};

struct dc_netreport {
	struct timespec now; /* CLOCK_REALTIME when the report was stored */
	bool udp;
	bool ipv6;
	bool ipv4;
	bool ipv6_can_send;
	bool ipv4_can_send;
	bool os_has_ipv6;
	bool icmpv4;
	enum dc_optbool mapping_varies_by_dest_ip;
	enum dc_optbool upnp;
	enum dc_optbool pmp;
	enum dc_optbool pcp;
	bool portmap_checked; /* false: "PortMapping: not checked" */
	int64_t preferred_derp; /* 0 = none */
	struct dc_latency_map latency;
	struct dc_latency_map v4_latency;
	struct dc_latency_map v6_latency;
	struct dc_mapping_counts v4_counts; /* JSON null when empty */
	struct dc_mapping_counts v6_counts;
	char global_v4[64];
	char global_v6[80];
	enum dc_optbool captive_portal;
};

void dc_netreport_init(struct dc_netreport *r);
void dc_netreport_free(struct dc_netreport *r);

/* Keep the minimum per region, as netcheck does across probes. */
void dc_latency_map_add(struct dc_latency_map *m, int64_t region_id, int64_t ns);
bool dc_latency_map_get(const struct dc_latency_map *m, int64_t region_id, int64_t *ns);
void dc_mapping_counts_add(struct dc_mapping_counts *c, const char *addr);

/* Go's time.Duration.String() for a latency rounded to 0.1 ms ("5.2ms", "1.2s", "0s"). */
void dc_duration_string(int64_t ns, char *out, size_t n);

/*
 * The text block of `tailscale netcheck` (a blank line, "Report:", TAB-indented lines).
 * map supplies region codes and names; verbose adds "derp<ID>, " as Tailscale does.
 */
void dc_netreport_print_text(FILE *out, const struct dc_netreport *r, const struct dc_derpmap *map, bool verbose);

/* The JSON document, Go field order, map keys sorted as strings; one_line for json-line. */
char *dc_netreport_json(const struct dc_netreport *r, bool one_line);
/* The same document as a cJSON object (callers add their own keys after Tailscale's). */
struct cJSON;
struct cJSON *dc_netreport_json_object(const struct dc_netreport *r);

#endif
