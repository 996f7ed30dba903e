#include "derpcheck/output/netreport.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"

void dc_netreport_init(struct dc_netreport *r)
{
	memset(r, 0, sizeof(*r));
	r->mapping_varies_by_dest_ip = DC_OPT_UNSET;
	r->upnp = r->pmp = r->pcp = DC_OPT_UNSET;
	r->captive_portal = DC_OPT_UNSET;
	clock_gettime(CLOCK_REALTIME, &r->now);
}

void dc_netreport_free(struct dc_netreport *r)
{
	free(r->latency.items);
	free(r->v4_latency.items);
	free(r->v6_latency.items);
	free(r->v4_counts.items);
	free(r->v6_counts.items);
	memset(r, 0, sizeof(*r));
}

void dc_latency_map_add(struct dc_latency_map *m, int64_t region_id, int64_t ns)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->items[i].region_id == region_id) {
			if (ns < m->items[i].ns)
				m->items[i].ns = ns;
			return;
		}
	m->items = dc_xrealloc(m->items, (m->count + 1) * sizeof(*m->items));
	m->items[m->count].region_id = region_id;
	m->items[m->count].ns = ns;
	m->count++;
}

bool dc_latency_map_get(const struct dc_latency_map *m, int64_t region_id, int64_t *ns)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->items[i].region_id == region_id) {
			if (ns)
				*ns = m->items[i].ns;
			return true;
		}
	return false;
}

void dc_mapping_counts_add(struct dc_mapping_counts *c, const char *addr)
{
	for (size_t i = 0; i < c->count; i++)
		if (strcmp(c->items[i].addr, addr) == 0) {
			c->items[i].count++;
			return;
		}
	c->items = dc_xrealloc(c->items, (c->count + 1) * sizeof(*c->items));
	snprintf(c->items[c->count].addr, sizeof(c->items[c->count].addr), "%s", addr);
	c->items[c->count].count = 1;
	c->count++;
}

/* Go's Duration.String for values rounded to 100 µs: "0s", "850µs", "5.2ms", "1.5s". */
void dc_duration_string(int64_t ns, char *out, size_t n)
{
	int64_t rounded = (ns + 50000) / 100000 * 100000;
	if (rounded == 0) {
		snprintf(out, n, "0s");
		return;
	}
	char num[32];
	const char *unit;
	int64_t whole, frac, frac_digits;
	if (rounded < 1000000) { /* µs */
		whole = rounded / 1000;
		frac = rounded % 1000;
		frac_digits = 3;
		unit = "µs";
	} else if (rounded < 1000000000) {
		whole = rounded / 1000000;
		frac = rounded % 1000000;
		frac_digits = 6;
		unit = "ms";
	} else {
		whole = rounded / 1000000000;
		frac = rounded % 1000000000;
		frac_digits = 9;
		unit = "s";
	}
	int len = snprintf(num, sizeof(num), "%" PRId64, whole);
	if (frac) {
		char digits[16];
		snprintf(digits, sizeof(digits), "%0*" PRId64, (int)frac_digits, frac);
		size_t d = strlen(digits);
		while (d > 0 && digits[d - 1] == '0') /* Go drops trailing zeros */
			digits[--d] = '\0';
		snprintf(num + len, sizeof(num) - (size_t)len, ".%s", digits);
	}
	snprintf(out, n, "%s%s", num, unit);
}

/* Go's layout "2006-01-02 15:04:05.999999999Z07:00" in local time. */
static void format_time(const struct timespec *ts, char *out, size_t n)
{
	struct tm tm;
	localtime_r(&ts->tv_sec, &tm);
	char base[24], frac[12] = "", zone[8] = "Z";
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	if (ts->tv_nsec > 0 && ts->tv_nsec < 1000000000) {
		snprintf(frac, sizeof(frac), ".%09d", (int)ts->tv_nsec);
		size_t d = strlen(frac);
		while (frac[d - 1] == '0') /* Go's .999999999 drops trailing zeros */
			frac[--d] = '\0';
	}
	long off = tm.tm_gmtoff;
	if (off != 0) {
		int minutes = (int)(labs(off) / 60 % (100 * 60));
		snprintf(zone, sizeof(zone), "%c%02d:%02d", off < 0 ? '-' : '+', minutes / 60 % 100, minutes % 60);
	}
	snprintf(out, n, "%s%s%s", base, frac, zone);
}

static const char *optbool_text(enum dc_optbool b)
{
	return b == DC_OPT_TRUE ? "true" : b == DC_OPT_FALSE ? "false" : "";
}

struct latency_row {
	const struct dc_derp_region *region;
	int64_t ns;
	bool measured;
};

static int compare_rows(const void *pa, const void *pb)
{
	const struct latency_row *a = pa, *b = pb;
	if (a->measured != b->measured)
		return a->measured ? -1 : 1;
	if (a->measured && a->ns != b->ns)
		return a->ns < b->ns ? -1 : 1;
	return a->region->id < b->region->id ? -1 : a->region->id > b->region->id;
}

void dc_netreport_print_text(FILE *out, const struct dc_netreport *r, const struct dc_derpmap *map, bool verbose)
{
	char when[64];
	format_time(&r->now, when, sizeof(when));
	fprintf(out, "\nReport:\n");
	fprintf(out, "\t* Time: %s\n", when);
	fprintf(out, "\t* UDP: %s\n", r->udp ? "true" : "false");
	if (r->global_v4[0])
		fprintf(out, "\t* IPv4: yes, %s\n", r->global_v4);
	else
		fprintf(out, "\t* IPv4: (no addr found)\n");
	if (r->global_v6[0])
		fprintf(out, "\t* IPv6: yes, %s\n", r->global_v6);
	else if (r->ipv6)
		fprintf(out, "\t* IPv6: (no addr found)\n");
	else if (r->os_has_ipv6)
		fprintf(out, "\t* IPv6: no, but OS has support\n");
	else
		fprintf(out, "\t* IPv6: no, unavailable in OS\n");
	fprintf(out, "\t* MappingVariesByDestIP: %s\n", optbool_text(r->mapping_varies_by_dest_ip));
	if (!r->portmap_checked) {
		fprintf(out, "\t* PortMapping: not checked\n");
	} else {
		const char *names[3];
		size_t n = 0;
		if (r->upnp == DC_OPT_TRUE)
			names[n++] = "UPnP";
		if (r->pmp == DC_OPT_TRUE)
			names[n++] = "NAT-PMP";
		if (r->pcp == DC_OPT_TRUE)
			names[n++] = "PCP";
		fprintf(out, "\t* PortMapping: ");
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%s", i ? ", " : "", names[i]);
		fprintf(out, "\n");
	}
	if (r->captive_portal != DC_OPT_UNSET)
		fprintf(out, "\t* CaptivePortal: %s\n", optbool_text(r->captive_portal));
	if (r->latency.count == 0) {
		fprintf(out, "\t* Nearest DERP: unknown (no response to latency probes)\n");
		return;
	}
	const struct dc_derp_region *home = r->preferred_derp ? dc_derpmap_region(map, r->preferred_derp) : NULL;
	if (r->preferred_derp == 0)
		fprintf(out, "\t* Nearest DERP: [none]\n");
	else if (!home || home->removed)
		fprintf(out, "\t* Nearest DERP: %" PRId64 " (region not found in map)\n", r->preferred_derp);
	else
		fprintf(out, "\t* Nearest DERP: %s\n", dc_term_safe(home->name));
	fprintf(out, "\t* DERP latency:\n");
	struct latency_row *rows = dc_xcalloc(map->region_count, sizeof(*rows));
	size_t n = 0;
	for (size_t i = 0; i < map->region_count; i++) {
		if (map->regions[i].removed)
			continue;
		rows[n].region = &map->regions[i];
		rows[n].measured = dc_latency_map_get(&r->latency, map->regions[i].id, &rows[n].ns);
		n++;
	}
	qsort(rows, n, sizeof(*rows), compare_rows);
	for (size_t i = 0; i < n; i++) {
		char lat[32] = "";
		if (rows[i].measured)
			dc_duration_string(rows[i].ns, lat, sizeof(lat));
		fprintf(out, "\t\t- %3s: %-7s (", dc_term_safe(rows[i].region->code), lat);
		if (verbose)
			fprintf(out, "derp%" PRId64 ", ", rows[i].region->id);
		fprintf(out, "%s)\n", dc_term_safe(rows[i].region->name));
	}
	free(rows);
}

/* Go sorts map keys as strings: "1", "10", "2". */
static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static cJSON *latency_json(const struct dc_latency_map *m)
{
	cJSON *o = cJSON_CreateObject();
	char **keys = dc_xcalloc(m->count, sizeof(*keys));
	for (size_t i = 0; i < m->count; i++)
		keys[i] = dc_xasprintf("%" PRId64, m->items[i].region_id);
	qsort(keys, m->count, sizeof(*keys), compare_keys);
	for (size_t i = 0; i < m->count; i++) {
		int64_t ns = 0;
		dc_latency_map_get(m, strtoll(keys[i], NULL, 10), &ns);
		cJSON_AddItemToObject(o, keys[i], cJSON_CreateNumber((double)ns));
		free(keys[i]);
	}
	free(keys);
	return o;
}

static cJSON *counts_json(const struct dc_mapping_counts *c)
{
	if (c->count == 0)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	const char **keys = dc_xcalloc(c->count, sizeof(*keys));
	for (size_t i = 0; i < c->count; i++)
		keys[i] = c->items[i].addr;
	qsort(keys, c->count, sizeof(*keys), compare_keys);
	for (size_t i = 0; i < c->count; i++)
		for (size_t k = 0; k < c->count; k++)
			if (strcmp(keys[i], c->items[k].addr) == 0)
				cJSON_AddItemToObject(o, keys[i], cJSON_CreateNumber(c->items[k].count));
	free(keys);
	return o;
}

static cJSON *optbool_json(enum dc_optbool b)
{
	return b == DC_OPT_UNSET ? cJSON_CreateNull() : cJSON_CreateBool(b == DC_OPT_TRUE);
}

cJSON *dc_netreport_json_object(const struct dc_netreport *r)
{
	/* RFC 3339 in UTC with nanoseconds, as Go's time.Time marshals (trailing zeros dropped). */
	struct tm tm;
	gmtime_r(&r->now.tv_sec, &tm);
	char base[32], now[64], frac[16] = "";
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (r->now.tv_nsec) {
		snprintf(frac, sizeof(frac), ".%09ld", r->now.tv_nsec);
		size_t d = strlen(frac);
		while (frac[d - 1] == '0')
			frac[--d] = '\0';
	}
	snprintf(now, sizeof(now), "%s%sZ", base, frac);

	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "Now", now);
	cJSON_AddBoolToObject(o, "UDP", r->udp);
	cJSON_AddBoolToObject(o, "IPv6", r->ipv6);
	cJSON_AddBoolToObject(o, "IPv4", r->ipv4);
	cJSON_AddBoolToObject(o, "IPv6CanSend", r->ipv6_can_send);
	cJSON_AddBoolToObject(o, "IPv4CanSend", r->ipv4_can_send);
	cJSON_AddBoolToObject(o, "OSHasIPv6", r->os_has_ipv6);
	cJSON_AddBoolToObject(o, "ICMPv4", r->icmpv4);
	cJSON_AddItemToObject(o, "MappingVariesByDestIP", optbool_json(r->mapping_varies_by_dest_ip));
	cJSON_AddItemToObject(o, "UPnP", optbool_json(r->upnp));
	cJSON_AddItemToObject(o, "PMP", optbool_json(r->pmp));
	cJSON_AddItemToObject(o, "PCP", optbool_json(r->pcp));
	cJSON_AddNumberToObject(o, "PreferredDERP", (double)r->preferred_derp);
	cJSON_AddItemToObject(o, "RegionLatency", latency_json(&r->latency));
	cJSON_AddItemToObject(o, "RegionV4Latency", latency_json(&r->v4_latency));
	cJSON_AddItemToObject(o, "RegionV6Latency", latency_json(&r->v6_latency));
	cJSON_AddItemToObject(o, "GlobalV4Counters", counts_json(&r->v4_counts));
	cJSON_AddItemToObject(o, "GlobalV6Counters", counts_json(&r->v6_counts));
	cJSON_AddStringToObject(o, "GlobalV4", r->global_v4);
	cJSON_AddStringToObject(o, "GlobalV6", r->global_v6);
	cJSON_AddItemToObject(o, "CaptivePortal", optbool_json(r->captive_portal));
	return o;
}

char *dc_netreport_json(const struct dc_netreport *r, bool one_line)
{
	cJSON *o = dc_netreport_json_object(r);
	char *s = dc_json_text(o, !one_line);
	cJSON_Delete(o);
	char *copy = dc_xstrdup(s ? s : "{}");
	free(s);
	return copy;
}
