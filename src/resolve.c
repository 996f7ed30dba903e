#include "derpcheck/resolve.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *dc_addr_origin_name(enum dc_addr_origin o)
{
	switch (o) {
	case DC_ORIGIN_UNSET: return "unset";
	case DC_ORIGIN_LITERAL: return "literal";
	case DC_ORIGIN_MAP: return "map";
	case DC_ORIGIN_TEST_IP: return "stun-test-ip";
	case DC_ORIGIN_DNS: return "dns";
	case DC_ORIGIN_DISABLED: return "disabled";
	case DC_ORIGIN_NOT_WANTED: return "not-wanted";
	case DC_ORIGIN_FAILED: return "failed";
	}
	return "?";
}

const struct dc_resolved *dc_resolved_family(const struct dc_resolve_req *req, int family)
{
	return &req->out[family == 6 ? 1 : 0];
}

void dc_resolve_host(struct dc_resolve_req *req, const char *host, uint16_t port, int family)
{
	memset(req, 0, sizeof(*req));
	req->host = host;
	req->port = port;
	req->family = family;
}

void dc_resolve_node(struct dc_resolve_req *req, const struct dc_derp_node *node, uint16_t port, int family)
{
	dc_resolve_host(req, node->host_name, port, family);
	req->map_ipv4 = node->ipv4 ? node->ipv4 : "";
	req->map_ipv6 = node->ipv6 ? node->ipv6 : "";
	req->stun_test_ip = node->stun_test_ip;
}

/* Decide a family without DNS if possible; returns true when DNS is needed. */
static bool resolve_static(struct dc_resolve_req *r, int fam)
{
	struct dc_resolved *out = &r->out[fam == 6 ? 1 : 0];
	struct dc_endpoint lit;
	out->addr.port = r->port;
	if (r->family && r->family != fam) {
		out->origin = DC_ORIGIN_NOT_WANTED;
		snprintf(out->note, sizeof(out->note), "IPv%d not requested (-%d)", fam, r->family);
		return false;
	}
	if (r->stun_test_ip && dc_ip_parse(r->stun_test_ip, fam, &lit) == 0) {
		out->origin = DC_ORIGIN_TEST_IP;
		memcpy(out->addr.ip, lit.ip, sizeof(lit.ip));
		out->addr.family = fam;
		return false;
	}
	if (dc_ip_parse(r->host, 0, &lit) == 0 && !r->map_ipv4) {
		/* A literal on the command line: only its own family exists. */
		if (lit.family != fam) {
			out->origin = DC_ORIGIN_NOT_WANTED;
			snprintf(out->note, sizeof(out->note), "%s is an IPv%d address", r->host, lit.family);
			return false;
		}
		out->origin = DC_ORIGIN_LITERAL;
		memcpy(out->addr.ip, lit.ip, sizeof(lit.ip));
		out->addr.family = fam;
		return false;
	}
	if (r->map_ipv4) {
		const char *field = fam == 4 ? r->map_ipv4 : r->map_ipv6;
		switch (dc_node_addr_mode(field, fam)) {
		case DC_ADDR_STATIC:
			dc_ip_parse(field, fam, &lit);
			out->origin = DC_ORIGIN_MAP;
			memcpy(out->addr.ip, lit.ip, sizeof(lit.ip));
			out->addr.family = fam;
			return false;
		case DC_ADDR_DISABLED:
			out->origin = DC_ORIGIN_DISABLED;
			snprintf(out->note, sizeof(out->note), "IPv%d is \"%.160s\" in the map: Tailscale does not use it", fam,
				 field);
			return false;
		case DC_ADDR_DNS:
			break;
		}
	}
	return true;
}

struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	struct dc_resolve_req *req;
	char *name; /* owned: a lookup that outlives the run must not point into reqs */
	int fam;
};

static void lookup_free(struct lookup *l)
{
	if (!l)
		return;
	if (l->cb.ar_result)
		freeaddrinfo(l->cb.ar_result);
	free(l->name);
	free(l);
}

static void take_answer(struct lookup *l, int rc)
{
	struct dc_resolved *out = &l->req->out[l->fam == 6 ? 1 : 0];
	if (rc != 0) {
		out->origin = DC_ORIGIN_FAILED;
		if (rc == EAI_NONAME || rc == EAI_NODATA)
			snprintf(out->note, sizeof(out->note), "DNS has no %s record for %.160s", l->fam == 4 ? "A" : "AAAA",
				 l->req->host);
		else
			snprintf(out->note, sizeof(out->note), "DNS lookup of %.160s (%s) failed: %s", l->req->host,
				 l->fam == 4 ? "A" : "AAAA", gai_strerror(rc));
		return;
	}
	for (struct addrinfo *ai = l->cb.ar_result; ai; ai = ai->ai_next) {
		struct dc_endpoint e;
		if (dc_endpoint_from_sockaddr(&e, ai->ai_addr, ai->ai_addrlen) == 0 && e.family == l->fam) {
			/* Tailscale takes the first record of the family. */
			out->origin = DC_ORIGIN_DNS;
			memcpy(out->addr.ip, e.ip, sizeof(e.ip));
			out->addr.family = l->fam;
			return;
		}
	}
	out->origin = DC_ORIGIN_FAILED;
	snprintf(out->note, sizeof(out->note), "DNS has no %s record for %.160s", l->fam == 4 ? "A" : "AAAA",
		 l->req->host);
}

void dc_resolve_run(struct dc_resolve_req *reqs, size_t n, uint64_t deadline_ns)
{
	size_t nl = 0;
	struct lookup **ls = dc_xcalloc(2 * n + 1, sizeof(*ls));
	for (size_t i = 0; i < n; i++)
		for (int fam = 4; fam <= 6; fam += 2)
			if (resolve_static(&reqs[i], fam)) {
				struct lookup *l = dc_xcalloc(1, sizeof(*l));
				l->req = &reqs[i];
				l->fam = fam;
				l->hints.ai_family = fam == 4 ? AF_INET : AF_INET6;
				l->hints.ai_socktype = SOCK_DGRAM;
				l->name = dc_xstrdup(reqs[i].host);
				l->cb.ar_name = l->name;
				l->cb.ar_request = &l->hints;
				ls[nl++] = l;
			}
	if (nl == 0) {
		free(ls);
		return;
	}
	struct gaicb **list = dc_xcalloc(nl, sizeof(*list));
	for (size_t i = 0; i < nl; i++)
		list[i] = &ls[i]->cb;
	int rc = getaddrinfo_a(GAI_NOWAIT, list, (int)nl, NULL);
	if (rc != 0) {
		for (size_t i = 0; i < nl; i++)
			take_answer(ls[i], rc);
		for (size_t i = 0; i < nl; i++)
			lookup_free(ls[i]);
		free(list);
		free(ls);
		return;
	}
	for (;;) {
		size_t busy = 0;
		for (size_t i = 0; i < nl; i++)
			if (gai_error(list[i]) == EAI_INPROGRESS)
				busy++;
		uint64_t now = dc_now_ns();
		if (busy == 0 || now >= deadline_ns)
			break;
		uint64_t wait = deadline_ns - now;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u)};
		gai_suspend((const struct gaicb *const *)list, (int)nl, &ts);
	}
	for (size_t i = 0; i < nl; i++) {
		int e = gai_error(list[i]);
		if (e == EAI_INPROGRESS) {
			struct dc_resolved *out = &ls[i]->req->out[ls[i]->fam == 6 ? 1 : 0];
			out->origin = DC_ORIGIN_FAILED;
			snprintf(out->note, sizeof(out->note), "DNS lookup of %.160s (%s) did not finish in time",
				 ls[i]->req->host, ls[i]->fam == 4 ? "A" : "AAAA");
			/*
			 * A lookup glibc cannot cancel keeps running in its thread and still writes
			 * to its request: leave that one allocated (a deliberate, bounded leak).
			 */
			if (gai_cancel(list[i]) != EAI_CANCELED)
				ls[i] = NULL;
			continue;
		}
		take_answer(ls[i], e);
	}
	for (size_t i = 0; i < nl; i++)
		lookup_free(ls[i]);
	free(list);
	free(ls);
}
