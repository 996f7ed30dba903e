#include "derpcheck/net/resolve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
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

static bool resolve_static(struct dc_resolve_req *r, int fam);

bool dc_resolve_static(struct dc_resolve_req *r, int fam)
{
	return resolve_static(r, fam);
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

/*
 * Lookups run on our own threads (one per host and family) and are joined before the run
 * returns, so no resolver thread outlives it. glibc's getaddrinfo_a was used before, but
 * its helper threads linger after the answers and raced with process exit.
 */
struct batch {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	size_t pending; /* lookups still running */
	size_t refs;    /* the caller plus every thread still running */
};

struct lookup {
	struct batch *batch;
	struct dc_resolve_req *req;
	char *name; /* owned: a lookup that outlives the run must not point into reqs */
	int fam;
	int rc;
	struct addrinfo *result;
	bool done;
	bool abandoned; /* the run gave up on it; the thread frees it when it finishes */
	pthread_t thread;
};

static void lookup_free(struct lookup *l)
{
	if (!l)
		return;
	if (l->result)
		freeaddrinfo(l->result);
	free(l->name);
	free(l);
}

static void batch_release(struct batch *b)
{
	pthread_mutex_lock(&b->lock);
	bool last = --b->refs == 0;
	pthread_mutex_unlock(&b->lock);
	if (last) {
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->done_cond);
		free(b);
	}
}

static void *lookup_thread(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = {.ai_family = l->fam == 4 ? AF_INET : AF_INET6, .ai_socktype = SOCK_DGRAM};
	struct addrinfo *result = NULL;
	int rc = getaddrinfo(l->name, NULL, &hints, &result);
	struct batch *b = l->batch;
	pthread_mutex_lock(&b->lock);
	bool abandoned = l->abandoned;
	l->rc = rc;
	l->result = result;
	l->done = true;
	b->pending--;
	pthread_cond_signal(&b->done_cond);
	pthread_mutex_unlock(&b->lock);
	if (abandoned)
		lookup_free(l);
	batch_release(b);
	return NULL;
}

static void take_answer(struct lookup *l, int rc)
{
	struct dc_resolved *out = &l->req->out[l->fam == 6 ? 1 : 0];
	if (rc != 0) {
		out->origin = DC_ORIGIN_FAILED;
		out->gai_error = rc;
		if (rc == EAI_NONAME || rc == EAI_NODATA)
			snprintf(out->note, sizeof(out->note), "DNS has no %s record for %.160s", l->fam == 4 ? "A" : "AAAA",
				 l->req->host);
		else
			snprintf(out->note, sizeof(out->note), "DNS lookup of %.160s (%s) failed: %s", l->req->host,
				 l->fam == 4 ? "A" : "AAAA", gai_strerror(rc));
		return;
	}
	for (struct addrinfo *ai = l->result; ai; ai = ai->ai_next) {
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
	out->gai_error = EAI_NODATA;
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
				l->name = dc_xstrdup(reqs[i].host);
				ls[nl++] = l;
			}
	if (nl == 0) {
		free(ls);
		return;
	}
	struct batch *b = dc_xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&b->done_cond, &attr);
	pthread_condattr_destroy(&attr);
	b->refs = 1;
	for (size_t i = 0; i < nl; i++) {
		ls[i]->batch = b;
		pthread_mutex_lock(&b->lock);
		b->pending++;
		b->refs++;
		pthread_mutex_unlock(&b->lock);
		if (pthread_create(&ls[i]->thread, NULL, lookup_thread, ls[i]) != 0) {
			pthread_mutex_lock(&b->lock);
			b->pending--;
			b->refs--;
			ls[i]->rc = EAI_SYSTEM;
			ls[i]->done = true;
			pthread_mutex_unlock(&b->lock);
			ls[i]->thread = 0;
		}
	}
	struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u), .tv_nsec = (long)(deadline_ns % 1000000000u)};
	pthread_mutex_lock(&b->lock);
	while (b->pending > 0 && dc_now_ns() < deadline_ns)
		if (pthread_cond_timedwait(&b->done_cond, &b->lock, &until) == ETIMEDOUT)
			break;
	/*
	 * Whatever is still running is abandoned: its thread frees it when getaddrinfo
	 * returns, so after the unlock only the copies taken here may be used for it.
	 */
	struct gave_up {
		bool yes;
		pthread_t thread;
		struct dc_resolve_req *req;
		int fam;
	} *gave_up = dc_xcalloc(nl, sizeof(*gave_up));
	for (size_t i = 0; i < nl; i++)
		if (!ls[i]->done) {
			ls[i]->abandoned = true;
			gave_up[i] = (struct gave_up){true, ls[i]->thread, ls[i]->req, ls[i]->fam};
		}
	pthread_mutex_unlock(&b->lock);

	for (size_t i = 0; i < nl; i++) {
		struct lookup *l = ls[i];
		if (gave_up[i].yes) {
			struct dc_resolved *out = &gave_up[i].req->out[gave_up[i].fam == 6 ? 1 : 0];
			out->origin = DC_ORIGIN_FAILED;
			out->gai_error = EAI_AGAIN;
			out->timed_out = true;
			snprintf(out->note, sizeof(out->note), "DNS lookup of %.160s (%s) did not finish in time",
				 gave_up[i].req->host, gave_up[i].fam == 4 ? "A" : "AAAA");
			pthread_detach(gave_up[i].thread);
			continue;
		}
		if (l->thread)
			pthread_join(l->thread, NULL);
		take_answer(l, l->rc);
		lookup_free(l);
	}
	batch_release(b);
	free(gave_up);
	free(ls);
}
