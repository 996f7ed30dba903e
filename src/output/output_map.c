#include "derpcheck/output/output_map.h"

#include <inttypes.h>
#include <string.h>

#include "derpcheck/output/term.h"

/* Names and addresses come from the file: through the one sanitiser. */
static void put_safe(FILE *out, const char *s)
{
	fputs(dc_term_safe(s), out);
}

/* "203.0.113.10", "DNS (HostName)" for "", "off" for "none" and anything else. */
static void put_addr(FILE *out, const char *field, const char *value, int family)
{
	fprintf(out, ", %s ", field);
	switch (dc_node_addr_mode(value, family)) {
	case DC_ADDR_STATIC: put_safe(out, value); break;
	case DC_ADDR_DNS: fputs("from DNS", out); break;
	case DC_ADDR_DISABLED: fputs("off", out); break;
	}
}

static void put_node(FILE *out, const struct dc_derp_node *n)
{
	fputs("    node ", out);
	put_safe(out, n->name);
	fputc(' ', out);
	put_safe(out, n->host_name);
	if (DC_NODE_HAS(n, DC_NODE_REGIONID))
		fprintf(out, " (RegionID %" PRId64 ")", n->region_id);
	else
		fputs(" (no RegionID: read as 0)", out);
	put_addr(out, "IPv4", n->ipv4, 4);
	put_addr(out, "IPv6", n->ipv6, 6);
	if (n->stun_only)
		fputs(", STUNOnly", out);
	else
		fprintf(out, ", DERP tcp/%d%s", dc_node_derp_port(n), n->derp_port == 0 ? " (default)" : "");
	if (dc_node_stun_port(n) < 0)
		fputs(", STUN off", out);
	else
		fprintf(out, ", STUN udp/%d%s", dc_node_stun_port(n), n->stun_port == 0 ? " (default)" : "");
	if (n->stun_test_ip && *n->stun_test_ip) {
		fputs(", STUNTestIP ", out);
		put_safe(out, n->stun_test_ip);
	}
	if (n->cert_name && *n->cert_name) {
		fputs(", CertName ", out);
		put_safe(out, n->cert_name);
	}
	if (n->can_port80)
		fputs(", CanPort80", out);
	if (n->insecure_for_tests)
		fputs(", InsecureForTests (certificate checks off)", out);
	fputc('\n', out);
}

void dc_output_derpmap_text(FILE *out, const struct dc_derpmap *map, const struct dc_style *st)
{
	size_t regions = 0, nodes = 0;
	for (size_t i = 0; i < map->region_count; i++)
		if (!map->regions[i].removed) {
			regions++;
			nodes += map->regions[i].node_count;
		}
	fprintf(out, "  %sthe map as clients decode it%s: %zu region%s, %zu node%s\n", dc_paint(st, BOLD), dc_paint(st, RESET),
		regions, regions == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s");
	for (size_t i = 0; i < map->region_count; i++) {
		const struct dc_derp_region *r = &map->regions[i];
		if (r->removed)
			continue;
		fprintf(out, "  region %" PRId64 " ", r->id);
		put_safe(out, r->code && *r->code ? r->code : "(no RegionCode)");
		if (r->name && *r->name) {
			fputs(" \"", out);
			put_safe(out, r->name);
			fputc('"', out);
		}
		if (r->avoid)
			fputs(", Avoid", out);
		if (r->no_measure_no_home)
			fputs(", NoMeasureNoHome", out);
		fprintf(out, ": %zu node%s\n", r->node_count, r->node_count == 1 ? "" : "s");
		for (size_t k = 0; k < r->node_count; k++)
			put_node(out, &r->nodes[k]);
	}
}
