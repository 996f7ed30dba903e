/*
 * AIA for the clients that follow it (tls-diagnosis.md §4.B): the caIssuers URLs of the
 * partial chain's top fetched (or taken from the run's cache) until the chain reaches a
 * trusted or self-signed certificate. What is fetched is logged in the report and only
 * ever added as untrusted. Part of judging a chain (tlscheck.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "derpcheck/judge/certfiles.h"
#include "derpcheck/net/http.h"
#include "tlscheck_int.h"

#include "derpcheck/net/ossl.h"

/* ---- AIA ----------------------------------------------------------------------------- */

struct aia_entry {
	char *url;
	STACK_OF(X509) *certs; /* NULL when the fetch failed */
	char result[256];
};

struct dc_aia_cache {
	struct aia_entry *items;
	size_t count;
};

struct dc_aia_cache *dc_aia_cache_new(void)
{
	return dc_xcalloc(1, sizeof(struct dc_aia_cache));
}

void dc_aia_cache_free(struct dc_aia_cache *cache)
{
	dc_ossl_need();
	if (!cache)
		return;
	for (size_t i = 0; i < cache->count; i++) {
		free(cache->items[i].url);
		if (cache->items[i].certs)
			dc_certs_free(cache->items[i].certs);
	}
	free(cache->items);
	free(cache);
}

static int curl_fetch(void *user, const char *url, long timeout_ms, struct dc_buf *body, struct dc_error *err)
{
	(void)user;
	return dc_http_get_200(url, timeout_ms, DC_AIA_MAX_BYTES, body, err);
}

static long remaining_ms(const struct check *k)
{
	uint64_t now = dc_now_ns();
	return now >= k->deadline_ns ? 0 : (long)((k->deadline_ns - now) / 1000000);
}

static void log_fetch(struct dc_cert_report *r, const char *url, bool ok, bool cached, int certs, const char *result)
{
	if (r->fetch_count == DC_ARRAY_LEN(r->fetches))
		return;
	struct dc_aia_fetch *f = &r->fetches[r->fetch_count++];
	dc_tlscheck_textf(f->url, sizeof(f->url), "%s", url);
	f->ok = ok;
	f->cached = cached;
	f->certs = certs;
	dc_tlscheck_textf(f->result, sizeof(f->result), "%s", result);
}

/* The certificates at url: from the cache, or fetched now (and cached, failures too). */
static STACK_OF(X509) *aia_get(struct check *k, const char *url, struct dc_aia_cache *cache)
{
	for (size_t i = 0; i < cache->count; i++)
		if (strcmp(cache->items[i].url, url) == 0) {
			struct aia_entry *e = &cache->items[i];
			log_fetch(k->r, url, e->certs != NULL, true, e->certs ? sk_X509_num(e->certs) : 0, e->result);
			return e->certs;
		}
	cache->items = dc_xrealloc(cache->items, (cache->count + 1) * sizeof(*cache->items));
	struct aia_entry *e = &cache->items[cache->count++];
	memset(e, 0, sizeof(*e));
	e->url = dc_xstrdup(url);
	long budget = remaining_ms(k);
	if (budget > DC_AIA_FETCH_MS)
		budget = DC_AIA_FETCH_MS;
	struct dc_error err;
	dc_error_clear(&err);
	struct dc_buf body = {0};
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
		dc_tlscheck_textf(e->result, sizeof(e->result), "not fetched: only http:// and https:// URLs are followed");
	} else if (budget <= 0) {
		dc_tlscheck_textf(e->result, sizeof(e->result), "not fetched: the time given by --timeout is used up");
	} else {
		dc_aia_fetch_fn fetch = k->o->fetch ? k->o->fetch : curl_fetch;
		if (fetch(k->o->fetch_user, url, budget, &body, &err) < 0) {
			/* libcurl's errors already begin with it (net/http.c). */
			bool said = strncmp(err.what, "fetch failed: ", 14) == 0;
			dc_tlscheck_textf(e->result, sizeof(e->result), "%s%s", said ? "" : "fetch failed: ", err.what);
		} else {
			enum dc_cert_format fmt;
			int n = dc_certs_parse(body.data, body.len, 8, &e->certs, &fmt, &err);
			if (n < 0)
				dc_tlscheck_textf(e->result, sizeof(e->result), "%zu bytes, but %s", body.len, err.what);
			else
				dc_tlscheck_textf(e->result, sizeof(e->result), "%s, %d certificate%s", dc_cert_format_name(fmt), n,
					 n == 1 ? "" : "s");
		}
	}
	dc_buf_free(&body);
	log_fetch(k->r, url, e->certs != NULL, false, e->certs ? sk_X509_num(e->certs) : 0, e->result);
	return e->certs;
}

/*
 * Follow caIssuers URLs from the top of the partial chain until it reaches a trusted or
 * self-signed certificate (tls-diagnosis.md §4.B). What is fetched is only ever added
 * as untrusted, so it must still chain to a root the client has.
 */
void dc_tlsaia_chase(struct check *k)
{
	struct dc_aia_cache *own = NULL, *cache = k->o->cache;
	if (!cache)
		cache = own = dc_aia_cache_new();
	k->aia_tried = true;
	for (int hop = 0; hop < DC_AIA_MAX_HOPS; hop++) {
		struct vparams vp;
		struct vpass v;
		dc_tlsverify_params(k, DC_CLIENT_TS_PLATFORM, k->system, k->with_aia, &vp);
		vp.rule = NAME_NONE;
		dc_tlsverify_run(&vp, &v);
		X509 *top = dc_tlsverify_top(&v);
		if (!top || v.anchored || X509_self_signed(top, 0) == 1) {
			dc_tlsverify_free(&v);
			break;
		}
		X509_up_ref(top);
		dc_tlsverify_free(&v);
		struct dc_cert_info info;
		dc_tlscheck_describe(k, top, &info);
		if (info.aia_count == 0) {
			dc_tlscheck_textf(k->aia_note, sizeof(k->aia_note), "\"%s\" names no caIssuers URL to fetch its issuer from",
				 info.subject);
			X509_free(top);
			break;
		}
		int added = 0;
		for (size_t u = 0; u < info.aia_count; u++) {
			STACK_OF(X509) *got = aia_get(k, info.aia[u], cache);
			for (int i = 0; got && i < sk_X509_num(got); i++) {
				X509 *c = sk_X509_value(got, i);
				if (X509_check_issued(c, top) != X509_V_OK || dc_tlscheck_in_stack(k->with_aia, c) || X509_cmp(c, top) == 0)
					continue;
				X509_up_ref(c);
				sk_X509_push(k->with_aia, c);
				if (!dc_tlscheck_report_find(k->r, c))
					dc_tlscheck_add_cert(k->r, c, DC_ORIGIN_AIA, -1, info.aia[u], k->now);
				added++;
			}
			if (added)
				break;
		}
		if (!added) {
			const struct dc_aia_fetch *last = k->r->fetch_count ? &k->r->fetches[k->r->fetch_count - 1] : NULL;
			dc_tlscheck_textf(k->aia_note, sizeof(k->aia_note), "%s%s%s", last ? last->url : "the caIssuers URL",
				 last ? ": " : "", last && last->ok ? "does not hold the issuer" : last ? last->result : "");
			X509_free(top);
			break;
		}
		X509_free(top);
	}
	dc_aia_cache_free(own);
}
