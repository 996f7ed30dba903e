/*
 * Test driver for the port-mapping module until `derpcheck netcheck` wires it in. It
 * talks to a gateway, so it never picks one silently: name it, or ask for the default
 * route explicitly (the lab runs that inside a network namespace whose default route
 * is the test router).
 *
 *   portmap_probe (--gateway IP [--self IP] | --discover [--route-file PATH])
 *                 [--wait-ms N] [--describe] [--no-multicast]
 *
 * Exit 0 when the probe ran, 1 when it was skipped (gateway range), 2 on errors.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "derpcheck/probe/portmap.h"

static int usage(void)
{
	fprintf(stderr, "usage: portmap_probe (--gateway IP [--self IP] | --discover [--route-file PATH])\n"
			"                     [--wait-ms N] [--describe] [--no-multicast]\n");
	return 2;
}

static const char *ip(struct in_addr a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static const char *ms(uint64_t ns, char *buf, size_t n)
{
	snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
	return buf;
}

static void print_pmp(const struct dc_portmap_result *r)
{
	char a[INET_ADDRSTRLEN], t[32];
	const struct dc_pmp_reply *p = &r->pmp_detail.reply;
	switch (r->pmp_detail.state) {
	case DC_PXP_NOT_SENT:
		printf("NAT-PMP: not sent%s%s\n", r->pmp_detail.send_error[0] ? ": " : "", r->pmp_detail.send_error);
		return;
	case DC_PXP_NO_REPLY:
		printf("NAT-PMP: no reply\n");
		return;
	case DC_PXP_MALFORMED:
		printf("NAT-PMP: malformed reply: %s\n", r->pmp_detail.detail);
		return;
	case DC_PXP_REPLIED:
		break;
	}
	if (r->pmp)
		printf("NAT-PMP: yes, external address %s (epoch %u, %s)\n", ip(p->external, a), p->epoch,
		       ms(r->pmp_detail.rtt_ns, t, sizeof(t)));
	else
		printf("NAT-PMP: no, %s\n", r->pmp_detail.detail);
}

static void print_pcp(const struct dc_portmap_result *r)
{
	char t[32];
	switch (r->pcp_detail.state) {
	case DC_PXP_NOT_SENT:
		printf("PCP: not sent%s%s\n", r->pcp_detail.send_error[0] ? ": " : "", r->pcp_detail.send_error);
		return;
	case DC_PXP_NO_REPLY:
		if (r->pcp_detail.pmp_only_gateway)
			printf("PCP: no, %s\n", r->pcp_detail.detail);
		else
			printf("PCP: no reply\n");
		return;
	case DC_PXP_MALFORMED:
		printf("PCP: malformed reply: %s\n", r->pcp_detail.detail);
		return;
	case DC_PXP_REPLIED:
		break;
	}
	if (r->pcp)
		printf("PCP: yes (epoch %u, %s)\n", r->pcp_detail.reply.epoch, ms(r->pcp_detail.rtt_ns, t, sizeof(t)));
	else
		printf("PCP: no, %s\n", r->pcp_detail.detail);
}

static void print_upnp(const struct dc_portmap_result *r, bool describe)
{
	char a[INET_ADDRSTRLEN];
	if (!r->upnp_detail.sent) {
		printf("UPnP: not sent%s%s\n", r->upnp_detail.send_error[0] ? ": " : "", r->upnp_detail.send_error);
		return;
	}
	if (!r->upnp) {
		printf("UPnP: no IGD answered (%zu SSDP answers)\n", r->upnp_detail.replies);
		return;
	}
	const struct dc_ssdp_reply *s = &r->upnp_detail.igd;
	printf("UPnP: yes, IGD at %s%s, ST %s\n", ip(r->upnp_detail.igd_from, a),
	       r->upnp_detail.igd_not_gateway ? " (not the gateway)" : "", s->st);
	printf("UPnP location: %s\n", s->location);
	if (!describe)
		return;
	if (r->upnp_detail.desc_fetched) {
		const struct dc_igd_desc *d = &r->upnp_detail.desc;
		printf("UPnP device: friendlyName \"%s\", manufacturer \"%s\", modelName \"%s\"\n", d->friendly_name,
		       d->manufacturer, d->model_name);
	} else {
		printf("UPnP device: unknown: %s\n", r->upnp_detail.desc_error);
	}
}

int main(int argc, char **argv)
{
	struct dc_gateway gw = {0};
	const char *route_file = NULL;
	bool discover = false, have_gateway = false;
	struct dc_portmap_opts opts = {0};
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long long n;
		if (strcmp(argv[i], "--discover") == 0) {
			discover = true;
		} else if (strcmp(argv[i], "--describe") == 0) {
			opts.fetch_description = true;
		} else if (strcmp(argv[i], "--no-multicast") == 0) {
			opts.no_multicast = true;
		} else if (strcmp(argv[i], "--gateway") == 0 && v && inet_pton(AF_INET, v, &gw.gateway) == 1) {
			have_gateway = true;
			i++;
		} else if (strcmp(argv[i], "--self") == 0 && v && inet_pton(AF_INET, v, &gw.self) == 1) {
			i++;
		} else if (strcmp(argv[i], "--route-file") == 0 && v) {
			route_file = v;
			i++;
		} else if (strcmp(argv[i], "--wait-ms") == 0 && v && dc_parse_int(v, 1, 10000, &n) == 0) {
			opts.wait_ms = (long)n;
			i++;
		} else {
			return usage();
		}
	}
	if (discover == have_gateway)
		return usage();
	struct dc_error err;
	if (discover && dc_gateway_discover(route_file, &gw, &err) < 0) {
		fprintf(stderr, "portmap_probe: %s%s%s\n", err.where, err.where[0] ? ": " : "", err.what);
		return 2;
	}
	char g[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
	printf("gateway: %s%s%s, this host %s\n", ip(gw.gateway, g), gw.ifname[0] ? " via " : "", gw.ifname,
	       ip(gw.self, s));
	struct dc_portmap_result r;
	if (dc_portmap_probe(&gw, &opts, &r, &err) < 0) {
		fprintf(stderr, "portmap_probe: %s\n", err.what);
		return 2;
	}
	if (!r.probed) {
		printf("PortMapping: \n%s\n", r.skip_reason);
		return 1;
	}
	char summary[64];
	dc_portmap_summary(&r, summary, sizeof(summary));
	printf("PortMapping: %s\n", summary);
	print_upnp(&r, opts.fetch_description);
	print_pmp(&r);
	print_pcp(&r);
	return 0;
}
