/*
 * Judging a captured chain (tlscheck.h): one verification pass per kind of client,
 * AIA chasing for the clients that do it, each OpenSSL problem classified into a
 * finding with its cause and fix, the chain to serve, and what to do after the check
 * (disk comparison, --write-fullchain). The connection itself is tlsprobe.c.
 */
#include "derpcheck/judge/tlscheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derpcheck/judge/bakedroots.h"
#include "derpcheck/judge/certfiles.h"
#include "derpcheck/net/http.h"
#include "derpcheck/util/file.h"
#include "tlscheck_int.h"

#include "derpcheck/net/ossl.h"

void dc_tlscheck_textf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

/* ---- names ------------------------------------------------------------------------ */

const char *dc_client_label(enum dc_client c)
{
	switch (c) {
	case DC_CLIENT_CURL: return "curl/OpenSSL";
	case DC_CLIENT_TS_GO: return "Tailscale on Linux/Android";
	case DC_CLIENT_TS_PLATFORM: return "Tailscale on macOS/iOS/Windows";
	case DC_CLIENT_BROWSER: return "browsers";
	default: return "?";
	}
}

const char *dc_client_id(enum dc_client c)
{
	switch (c) {
	case DC_CLIENT_CURL: return "curl";
	case DC_CLIENT_TS_GO: return "tailscale-linux-android";
	case DC_CLIENT_TS_PLATFORM: return "tailscale-macos-ios-windows";
	case DC_CLIENT_BROWSER: return "browsers";
	default: return "?";
	}
}

const char *dc_cert_role_name(enum dc_cert_role role)
{
	switch (role) {
	case DC_ROLE_LEAF: return "leaf";
	case DC_ROLE_INTERMEDIATE: return "intermediate";
	case DC_ROLE_ROOT: return "root";
	case DC_ROLE_METACERT: return "derper-metacert";
	case DC_ROLE_UNRELATED: return "unrelated";
	}
	return "?";
}

const char *dc_cert_origin_name(enum dc_cert_origin o)
{
	switch (o) {
	case DC_ORIGIN_SERVED: return "served";
	case DC_ORIGIN_FILE: return "file";
	case DC_ORIGIN_AIA: return "aia";
	}
	return "?";
}

bool dc_tlscheck_is_ip(const char *s)
{
	unsigned char buf[16];
	return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* Append text to a ", "-separated list in out. */
static void append_sep(char *out, size_t n, const char *text)
{
	size_t used = strlen(out);
	if (used + 1 < n)
		dc_tlscheck_textf(out + used, n - used, "%s%s", used ? ", " : "", text);
}

static bool is_pin(const char *cert_name)
{
	return cert_name && strncmp(cert_name, "sha256-raw:", 11) == 0;
}

/* ---- report ------------------------------------------------------------------------ */

void dc_cert_report_init(struct dc_cert_report *r)
{
	memset(r, 0, sizeof(*r));
}

void dc_cert_report_free(struct dc_cert_report *r)
{
	dc_ossl_need();
	for (size_t i = 0; i < r->count; i++)
		X509_free(r->certs[i].cert);
	free(r->certs);
	dc_findings_free(&r->findings);
	if (r->fullchain)
		dc_certs_free(r->fullchain);
	free(r->staple);
	memset(r, 0, sizeof(*r));
}

size_t dc_cert_report_errors(const struct dc_cert_report *r)
{
	return dc_findings_count(&r->findings, DC_SEV_ERROR);
}

struct dc_chain_cert *dc_tlscheck_add_cert(struct dc_cert_report *r, X509 *cert, enum dc_cert_origin origin,
					     int index, const char *url, time_t now)
{
	dc_ossl_need();
	r->certs = dc_xrealloc(r->certs, (r->count + 1) * sizeof(*r->certs));
	struct dc_chain_cert *c = &r->certs[r->count++];
	memset(c, 0, sizeof(*c));
	X509_up_ref(cert);
	c->cert = cert;
	c->origin = origin;
	c->index = index;
	dc_tlscheck_textf(c->url, sizeof(c->url), "%s", url ? url : "");
	dc_cert_describe(cert, now, &c->info);
	c->described_at = now;
	return c;
}

static struct dc_chain_cert *report_find(struct dc_cert_report *r, X509 *cert)
{
	for (size_t i = 0; i < r->count; i++)
		if (X509_cmp(r->certs[i].cert, cert) == 0)
			return &r->certs[i];
	return NULL;
}

/*
 * Add a finding. The first error's brief (one line for ping/diagnose) is kept; text
 * after a newline in hint is rendered as further indented lines.
 */
struct dc_finding *dc_tlscheck_issue(struct dc_cert_report *r, enum dc_severity sev, const char *code, const char *path,
				     const char *brief, const char *fmt, ...)
{
	char message[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	r->findings.file = r->where;
	struct dc_finding *f = dc_findings_add(&r->findings, sev, code, path, (struct dc_srcpos){0, 0}, "%s", message);
	if (sev == DC_SEV_ERROR && !r->brief_code) {
		r->brief_code = code;
		dc_tlscheck_textf(r->brief, sizeof(r->brief), "%s", brief ? brief : message);
	}
	return f;
}

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

/* ---- one verification pass ----------------------------------------------------------- */

struct problem {
	int code;
	int depth;
	X509 *cert; /* owned reference, may be NULL */
};

struct vpass {
	struct problem p[24];
	size_t count;
	STACK_OF(X509) *path; /* the chain OpenSSL built, leaf first (owned) */
	bool anchored;        /* its top came from the trust store */
	bool ran;
};

enum name_rule {
	NAME_NONE,        /* no name check (Go with an IP HostName and no CertName) */
	NAME_SAN_ONLY,    /* Go, browsers: the Common Name is never looked at */
	NAME_CN_FALLBACK, /* OpenSSL/curl: CN when there is no DNS SAN */
	NAME_IP,          /* an IP SAN must match */
};

struct vparams {
	X509_STORE *store;
	X509 *leaf;
	STACK_OF(X509) *untrusted;
	int auth_level; /* 2: OpenSSL's default (no SHA-1, RSA >= 2048), 1: Go (no SHA-1) */
	const char *name;
	enum name_rule rule;
	time_t now;
};

static void vpass_free(struct vpass *v)
{
	for (size_t i = 0; i < v->count; i++)
		X509_free(v->p[i].cert);
	if (v->path)
		dc_certs_free(v->path);
	memset(v, 0, sizeof(*v));
}

static void vpass_add(struct vpass *v, int code, int depth, X509 *cert)
{
	for (size_t i = 0; i < v->count; i++) /* OpenSSL may report one error twice */
		if (v->p[i].code == code && v->p[i].depth == depth)
			return;
	if (v->count == DC_ARRAY_LEN(v->p))
		return;
	if (cert)
		X509_up_ref(cert);
	v->p[v->count++] = (struct problem){code, depth, cert};
}

static int vpass_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok) {
		struct vpass *v = X509_STORE_CTX_get_app_data(ctx);
		vpass_add(v, X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_error_depth(ctx),
			  X509_STORE_CTX_get_current_cert(ctx));
	}
	return 1; /* continue: every problem at every depth, not only the first */
}

static void vpass_run(const struct vparams *vp, struct vpass *v)
{
	memset(v, 0, sizeof(*v));
	v->ran = true;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, vp->store, vp->leaf, vp->untrusted) != 1) {
		X509_STORE_CTX_free(ctx);
		vpass_add(v, X509_V_ERR_UNSPECIFIED, 0, NULL);
		return;
	}
	X509_STORE_CTX_set_app_data(ctx, v);
	X509_STORE_CTX_set_verify_cb(ctx, vpass_cb);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set_auth_level(param, vp->auth_level);
	X509_VERIFY_PARAM_set_time(param, vp->now);
	unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
	switch (vp->rule) {
	case NAME_NONE:
		break;
	case NAME_SAN_ONLY:
		X509_VERIFY_PARAM_set_hostflags(param, flags | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
		X509_VERIFY_PARAM_set1_host(param, vp->name, 0);
		break;
	case NAME_CN_FALLBACK:
		X509_VERIFY_PARAM_set_hostflags(param, flags);
		X509_VERIFY_PARAM_set1_host(param, vp->name, 0);
		break;
	case NAME_IP:
		X509_VERIFY_PARAM_set1_ip_asc(param, vp->name);
		break;
	}
	X509_verify_cert(ctx);
	v->path = X509_STORE_CTX_get1_chain(ctx);
	int n = v->path ? sk_X509_num(v->path) : 0;
	v->anchored = n > 0 && X509_STORE_CTX_get_num_untrusted(ctx) < n;
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
}

static bool vpass_ok(const struct vpass *v)
{
	return v->ran && v->count == 0;
}

static X509 *vpass_top(const struct vpass *v)
{
	int n = v->path ? sk_X509_num(v->path) : 0;
	return n ? sk_X509_value(v->path, n - 1) : NULL;
}

static bool is_issuer_missing(int code)
{
	return code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

static bool is_trust_problem(int code)
{
	return is_issuer_missing(code) || code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	       code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
}

/* ---- the check ----------------------------------------------------------------------- */

struct check {
	const struct dc_tlscheck_opts *o;
	struct dc_cert_report *r;
	time_t now;
	uint64_t deadline_ns;
	X509 *leaf;
	STACK_OF(X509) *served;    /* every served certificate after the leaf (metacert too) */
	STACK_OF(X509) *with_aia;  /* served plus everything fetched */
	X509_STORE *system;
	X509_STORE *baked;
	size_t served_real;        /* served certificates that are not the metacert */
	struct vpass pass[DC_CLIENT_COUNT]; /* the decisive pass per client */
	struct vpass complete;     /* Go rules, everything fetched: the path to serve */
	bool aia_tried;
	char aia_note[300];        /* why AIA did not complete the chain */
};

/* cert described at the check's time: the report's copy when it holds cert (describing is costly), else fresh. */
static void describe(const struct check *k, X509 *cert, struct dc_cert_info *info)
{
	const struct dc_chain_cert *c = report_find(k->r, cert);
	if (c && c->described_at == k->now)
		*info = c->info;
	else
		dc_cert_describe(cert, k->now, info);
}

static const char *go_name(const struct dc_tlscheck_opts *o)
{
	if (o->cert_name && *o->cert_name && !is_pin(o->cert_name))
		return o->cert_name;
	return o->host_name;
}

static void params_for(const struct check *k, enum dc_client c, X509_STORE *store, STACK_OF(X509) *untrusted,
		       struct vparams *vp)
{
	const struct dc_tlscheck_opts *o = k->o;
	memset(vp, 0, sizeof(*vp));
	vp->store = store;
	vp->leaf = k->leaf;
	vp->untrusted = untrusted;
	vp->now = k->now;
	vp->auth_level = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM ? 1 : 2;
	const char *name = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM ? go_name(o) : o->host_name;
	vp->name = name;
	if (!name || !*name)
		vp->rule = NAME_NONE;
	else if (dc_tlscheck_is_ip(name))
		/* Go sends no SNI for an IP and then checks no name, unless CertName names the IP. */
		vp->rule = (c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM) && name == o->host_name ? NAME_NONE : NAME_IP;
	else
		vp->rule = c == DC_CLIENT_CURL ? NAME_CN_FALLBACK : NAME_SAN_ONLY;
}

static long remaining_ms(const struct check *k)
{
	uint64_t now = dc_now_ns();
	return now >= k->deadline_ns ? 0 : (long)((k->deadline_ns - now) / 1000000);
}

static bool in_stack(STACK_OF(X509) *sk, X509 *cert)
{
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), cert) == 0)
			return true;
	return false;
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
static void chase_aia(struct check *k)
{
	struct dc_aia_cache *own = NULL, *cache = k->o->cache;
	if (!cache)
		cache = own = dc_aia_cache_new();
	k->aia_tried = true;
	for (int hop = 0; hop < DC_AIA_MAX_HOPS; hop++) {
		struct vparams vp;
		struct vpass v;
		params_for(k, DC_CLIENT_TS_PLATFORM, k->system, k->with_aia, &vp);
		vp.rule = NAME_NONE;
		vpass_run(&vp, &v);
		X509 *top = vpass_top(&v);
		if (!top || v.anchored || X509_self_signed(top, 0) == 1) {
			vpass_free(&v);
			break;
		}
		X509_up_ref(top);
		vpass_free(&v);
		struct dc_cert_info info;
		describe(k, top, &info);
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
				if (X509_check_issued(c, top) != X509_V_OK || in_stack(k->with_aia, c) || X509_cmp(c, top) == 0)
					continue;
				X509_up_ref(c);
				sk_X509_push(k->with_aia, c);
				if (!report_find(k->r, c))
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

/*
 * CertName "sha256-raw:HEX" (tls-diagnosis.md §2.4): exactly one certificate besides the
 * metacert, its DER hash equal to HEX, valid now, and carrying the TLS name if one is
 * sent. The same rules as dc_tls_verify, judged at the check's time.
 */
static void pin_pass(struct check *k, struct vpass *v)
{
	memset(v, 0, sizeof(*v));
	v->ran = true;
	char hex[65];
	dc_tls_cert_sha256_hex(k->leaf, hex);
	if (k->served_real > 0)
		vpass_add(v, DC_TLS_ERR_PIN_MULTIPLE, 0, NULL);
	if (strcmp(hex, k->o->cert_name + 11) != 0)
		vpass_add(v, DC_TLS_ERR_PIN_MISMATCH, 0, NULL);
	if (X509_cmp_time(X509_get0_notAfter(k->leaf), &k->now) < 0)
		vpass_add(v, X509_V_ERR_CERT_HAS_EXPIRED, 0, k->leaf);
	if (X509_cmp_time(X509_get0_notBefore(k->leaf), &k->now) > 0)
		vpass_add(v, X509_V_ERR_CERT_NOT_YET_VALID, 0, k->leaf);
	const char *host = k->o->host_name;
	if (host && *host && !dc_tlscheck_is_ip(host) &&
	    X509_check_host(k->leaf, host, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
		vpass_add(v, X509_V_ERR_HOSTNAME_MISMATCH, 0, k->leaf);
	ERR_clear_error();
}

/* Run the passes that decide each client's verdict. */
static void judge_clients(struct check *k)
{
	struct dc_cert_report *r = k->r;
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		struct dc_client_verdict *cv = &r->clients[c];
		bool tailscale = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM;
		bool aia = c == DC_CLIENT_TS_PLATFORM || c == DC_CLIENT_BROWSER;
		cv->checked = true;
		if (tailscale && is_pin(k->o->cert_name)) {
			pin_pass(k, &k->pass[c]);
			cv->ok = vpass_ok(&k->pass[c]);
			continue;
		}
		STACK_OF(X509) *untrusted = aia ? k->with_aia : k->served;
		struct vparams vp;
		params_for(k, (enum dc_client)c, k->system, untrusted, &vp);
		vpass_run(&vp, &k->pass[c]);
		if (!vpass_ok(&k->pass[c]) && tailscale) {
			/* tailscaled tries its baked-in Let's Encrypt roots next, with Go's verifier. */
			struct vpass b;
			params_for(k, (enum dc_client)c, k->baked, k->served, &vp);
			vpass_run(&vp, &b);
			if (vpass_ok(&b)) {
				vpass_free(&k->pass[c]);
				k->pass[c] = b;
				cv->via_baked_root = true;
			} else {
				vpass_free(&b);
			}
		}
		cv->ok = vpass_ok(&k->pass[c]);
		if (cv->ok && aia && !cv->via_baked_root)
			for (int i = 0; i < sk_X509_num(k->pass[c].path); i++) {
				struct dc_chain_cert *cc = report_find(r, sk_X509_value(k->pass[c].path, i));
				if (cc && cc->origin == DC_ORIGIN_AIA)
					cv->via_aia = true;
			}
	}
}

/* ---- classifying problems into findings --------------------------------------------- */

/* Finding codes in report order: the first error is the brief. */
static const char *const code_order[] = {
	"plain-http", "sni-refused", "tls-version", "tls-alert", "handshake-closed", "handshake-timeout",
	"handshake-rejected", "handshake-failed", "no-certificate", "pin-mismatch", "pin-multiple-certs", "self-signed", "chain-incomplete",
	"wrong-intermediate", "unknown-issuer", "untrusted-root", "expired", "intermediate-expired", "not-yet-valid",
	"wrong-domain", "name-mismatch", "cn-only", "ip-san-missing", "no-server-auth", "weak-signature", "weak-key",
	"bad-signature", "verify-failed", "served-differs-from-disk",
};

static int code_rank(const char *code)
{
	for (size_t i = 0; i < DC_ARRAY_LEN(code_order); i++)
		if (strcmp(code_order[i], code) == 0)
			return (int)i;
	return (int)DC_ARRAY_LEN(code_order);
}

static X509 *fetched_issuer(struct check *k, X509 *cert)
{
	for (size_t i = 0; i < k->r->count; i++) {
		struct dc_chain_cert *c = &k->r->certs[i];
		if (c->origin == DC_ORIGIN_AIA && X509_check_issued(c->cert, cert) == X509_V_OK)
			return c->cert;
	}
	return NULL;
}

static bool served_issuer_of(struct check *k, X509 *cert)
{
	for (int i = 0; i < sk_X509_num(k->served); i++) {
		X509 *c = sk_X509_value(k->served, i);
		if (X509_cmp(c, cert) != 0 && X509_check_issued(c, cert) == X509_V_OK)
			return true;
	}
	return false;
}

/* The registrable-looking suffix of a DNS name: its last two labels. */
static const char *domain_of(const char *name)
{
	const char *last = strrchr(name, '.');
	if (!last || last == name)
		return name;
	const char *p = last - 1;
	while (p > name && *p != '.')
		p--;
	return *p == '.' ? p + 1 : p;
}

static bool sans_share_domain(const struct dc_cert_info *info, const char *name)
{
	const char *dom = domain_of(name);
	size_t dl = strlen(dom);
	char sans[sizeof(info->sans)];
	dc_tlscheck_textf(sans, sizeof(sans), "%s", info->sans);
	for (char *save = NULL, *t = strtok_r(sans, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (strncmp(t, "DNS:", 4) != 0)
			continue;
		const char *v = t + 4;
		size_t vl = strlen(v);
		if (vl >= dl && strcasecmp(v + vl - dl, dom) == 0 && (vl == dl || v[vl - dl - 1] == '.'))
			return true;
	}
	return false;
}

static bool cn_matches(const struct dc_cert_info *info, const char *name)
{
	return name && strcasecmp(info->common_name, name) == 0;
}

static const char *classify(struct check *k, enum dc_client c, const struct problem *p)
{
	switch (p->code) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "self-signed";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "untrusted-root";
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return NULL; /* follows 20 for a lone leaf; 20 tells the story */
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: {
		X509 *top = p->cert ? p->cert : k->leaf;
		if (p->depth == 0 && k->served_real > 0 && !served_issuer_of(k, top))
			return "wrong-intermediate";
		X509 *fetched = fetched_issuer(k, top);
		if (fetched)
			return X509_self_signed(fetched, 0) == 1 ? "untrusted-root" : "chain-incomplete";
		return p->depth == 0 ? "chain-incomplete" : "unknown-issuer";
	}
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return p->depth == 0 ? "expired" : "intermediate-expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "not-yet-valid";
	case X509_V_ERR_HOSTNAME_MISMATCH: {
		struct dc_chain_cert *leaf = &k->r->certs[0];
		const char *name = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM ? go_name(k->o) : k->o->host_name;
		if (leaf->info.dns_sans == 0 && leaf->info.ip_sans == 0 && cn_matches(&leaf->info, name))
			return "cn-only";
		if (name && !sans_share_domain(&leaf->info, name) && !cn_matches(&leaf->info, name))
			return "wrong-domain";
		return "name-mismatch";
	}
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "ip-san-missing";
	case X509_V_ERR_INVALID_PURPOSE:
		return "no-server-auth";
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
		return "weak-key";
	case X509_V_ERR_CA_MD_TOO_WEAK:
		return "weak-signature";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
		return "bad-signature";
	case DC_TLS_ERR_PIN_MISMATCH:
		return "pin-mismatch";
	case DC_TLS_ERR_PIN_MULTIPLE:
		return "pin-multiple-certs";
	case DC_TLS_ERR_NO_CERT:
		return "no-certificate";
	default:
		return "verify-failed";
	}
}

/* Go's order: the leaf's validity, then the name, then the chain, then key usage. */
static int go_rank(const struct problem *p)
{
	if ((p->code == X509_V_ERR_CERT_HAS_EXPIRED || p->code == X509_V_ERR_CERT_NOT_YET_VALID) && p->depth == 0)
		return 0;
	if (p->code == X509_V_ERR_HOSTNAME_MISMATCH || p->code == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return 1;
	if (p->code == X509_V_ERR_INVALID_PURPOSE)
		return 3;
	return 2;
}

static const struct problem *deciding_problem(const struct vpass *v, enum dc_client c)
{
	const struct problem *best = NULL;
	for (size_t i = 0; i < v->count; i++) {
		const struct problem *p = &v->p[i];
		if (p->code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE && v->count > 1)
			continue;
		if (c == DC_CLIENT_CURL) /* OpenSSL stops at the first error it meets */
			return p;
		if (!best || go_rank(p) < go_rank(best))
			best = p;
	}
	return best;
}

static void name_list_go(const struct dc_cert_info *info, bool ip, char *out, size_t n)
{
	out[0] = '\0';
	char sans[sizeof(info->sans)];
	dc_tlscheck_textf(sans, sizeof(sans), "%s", info->sans);
	for (char *save = NULL, *t = strtok_r(sans, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		const char *prefix = ip ? "IP:" : "DNS:";
		if (strncmp(t, prefix, strlen(prefix)) == 0)
			append_sep(out, n, t + strlen(prefix));
	}
}

static void issuer_cn(X509 *cert, char *out, size_t n)
{
	out[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_issuer_name(cert), NID_commonName, out, (int)n);
	ERR_clear_error();
}

/* What curl prints for its first problem (curl 7.88 with OpenSSL 3). */
static void curl_says(struct check *k, const struct problem *p, char *out, size_t n)
{
	const struct dc_cert_info *leaf = &k->r->certs[0].info;
	if (p->code == X509_V_ERR_HOSTNAME_MISMATCH || p->code == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		if (leaf->dns_sans || leaf->ip_sans)
			dc_tlscheck_textf(out, n, "curl: (60) SSL: no alternative certificate subject name matches target host name '%s'",
				 k->o->host_name);
		else
			dc_tlscheck_textf(out, n, "curl: (60) SSL: certificate subject name '%s' does not match target host name '%s'",
				 leaf->common_name, k->o->host_name);
		return;
	}
	dc_tlscheck_textf(out, n, "curl: (60) SSL certificate problem: %s", X509_verify_cert_error_string(p->code));
}

/* What tailscaled logs: Go's crypto/x509 error text, bare (no "tls: " prefix). */
static void go_says(struct check *k, const struct problem *p, char *out, size_t n)
{
	const struct dc_cert_info *leaf = &k->r->certs[0].info;
	const char *name = go_name(k->o);
	char now[32], when[32];
	dc_time_format_go(k->now, now, sizeof(now));
	switch (p->code) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID: {
		struct dc_cert_info info;
		describe(k, p->cert ? p->cert : k->leaf, &info);
		bool expired = p->code == X509_V_ERR_CERT_HAS_EXPIRED;
		if (is_pin(k->o->cert_name)) {
			dc_tlscheck_textf(out, n, expired ? "cert expired" : "cert not yet valid; is your clock correct?");
			return;
		}
		dc_time_format_go(expired ? info.not_after : info.not_before, when, sizeof(when));
		dc_tlscheck_textf(out, n, "x509: certificate has expired or is not yet valid: current time %s is %s %s", now,
			 expired ? "after" : "before", when);
		return;
	}
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH: {
		bool ip = dc_tlscheck_is_ip(name);
		char valid[512];
		if (!ip && leaf->dns_sans == 0 && leaf->ip_sans == 0 && cn_matches(leaf, name)) {
			dc_tlscheck_textf(out, n, "x509: certificate relies on legacy Common Name field, use SANs instead");
			return;
		}
		if (ip && leaf->ip_sans == 0) {
			dc_tlscheck_textf(out, n, "x509: cannot validate certificate for %s because it doesn't contain any IP SANs", name);
			return;
		}
		name_list_go(leaf, ip, valid, sizeof(valid));
		if (!valid[0])
			dc_tlscheck_textf(out, n, "x509: certificate is not valid for any names, but wanted to match %s", name);
		else
			dc_tlscheck_textf(out, n, "x509: certificate is valid for %s, not %s", valid, name);
		return;
	}
	case X509_V_ERR_INVALID_PURPOSE:
		dc_tlscheck_textf(out, n, "x509: certificate specifies an incompatible key usage");
		return;
	case X509_V_ERR_CA_MD_TOO_WEAK: {
		struct dc_cert_info info;
		char cn[128];
		X509 *cert = p->cert ? p->cert : k->leaf;
		describe(k, cert, &info);
		issuer_cn(cert, cn, sizeof(cn));
		dc_tlscheck_textf(out, n,
			 "x509: certificate signed by unknown authority (possibly because of \"x509: cannot verify signature: "
			 "insecure algorithm %s\" while trying to verify candidate authority certificate \"%s\")",
			 info.go_signature, cn);
		return;
	}
	case DC_TLS_ERR_PIN_MISMATCH:
		dc_tlscheck_textf(out, n, "cert hash does not match expected cert hash");
		return;
	case DC_TLS_ERR_PIN_MULTIPLE:
		dc_tlscheck_textf(out, n, "unexpected multiple certs presented");
		return;
	case DC_TLS_ERR_NO_CERT:
		dc_tlscheck_textf(out, n, "expected cert not presented");
		return;
	default:
		dc_tlscheck_textf(out, n, "x509: certificate signed by unknown authority");
		return;
	}
}

/* The cause in a few words, for clients whose exact error text we do not reproduce. */
static const char *reason_text(const char *code)
{
	static const struct {
		const char *code, *text;
	} reasons[] = {
		{"chain-incomplete", "the intermediate certificate is missing"},
		{"wrong-intermediate", "the certificate sent after the leaf did not issue it"},
		{"unknown-issuer", "the chain ends at a certificate whose issuer it does not have"},
		{"untrusted-root", "the chain ends at a root it does not trust"},
		{"self-signed", "the certificate is self-signed"},
		{"expired", "the certificate has expired"},
		{"intermediate-expired", "an intermediate certificate has expired"},
		{"not-yet-valid", "a certificate is not valid yet"},
		{"wrong-domain", "the certificate is for another domain"},
		{"name-mismatch", "the certificate does not cover the name"},
		{"cn-only", "the name is only in the Common Name, which it ignores"},
		{"ip-san-missing", "the certificate has no IP address entry for the address"},
		{"no-server-auth", "the certificate is not for TLS servers (no serverAuth)"},
		{"weak-signature", "a certificate is signed with SHA-1"},
		{"weak-key", "the key is too small"},
		{"bad-signature", "a signature does not verify"},
		{"pin-mismatch", "the certificate is not the one CertName pins"},
		{"pin-multiple-certs", "a sha256-raw: pin wants exactly one certificate"},
		{"no-certificate", "no certificate was presented"},
	};
	for (size_t i = 0; i < DC_ARRAY_LEN(reasons); i++)
		if (strcmp(reasons[i].code, code) == 0)
			return reasons[i].text;
	return "the certificate does not verify";
}

static void fill_verdicts(struct check *k)
{
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		struct dc_client_verdict *cv = &k->r->clients[c];
		if (cv->ok) {
			cv->code = NULL;
			if (cv->via_aia)
				dc_tlscheck_textf(cv->says, sizeof(cv->says), "accepts: fetches the missing intermediate through AIA");
			else if (cv->via_baked_root)
				dc_tlscheck_textf(cv->says, sizeof(cv->says), "accepts through Tailscale's built-in Let's Encrypt roots");
			else
				dc_tlscheck_textf(cv->says, sizeof(cv->says), "accepts");
			continue;
		}
		const struct problem *p = deciding_problem(&k->pass[c], (enum dc_client)c);
		if (!p) {
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "rejects");
			continue;
		}
		cv->code = classify(k, (enum dc_client)c, p);
		if (!cv->code)
			cv->code = "chain-incomplete";
		if (c == DC_CLIENT_CURL)
			curl_says(k, p, cv->says, sizeof(cv->says));
		else if (c == DC_CLIENT_TS_GO)
			go_says(k, p, cv->says, sizeof(cv->says));
		else if (k->o->no_aia && strcmp(cv->code, "chain-incomplete") == 0)
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "rejects unless it fetches the missing intermediate (not tried%s)",
					  k->r->from_files ? ": AIA is not followed for files" : ": --no-aia");
		else
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "rejects: %s", reason_text(cv->code));
	}
}

/* ---- explanations and fixes ----------------------------------------------------------- */

struct found {
	const char *code;
	unsigned clients; /* bit per enum dc_client */
	const struct problem *p;
	enum dc_client first;
};

static const char *derper_name(const struct check *k)
{
	if (k->o->derper_hostname && *k->o->derper_hostname)
		return k->o->derper_hostname;
	return k->o->host_name && *k->o->host_name ? k->o->host_name : "HOSTNAME";
}

static void crt_path(const struct check *k, const char *ext, char *out, size_t n)
{
	char stem[256];
	dc_derper_cert_stem(derper_name(k), stem, sizeof(stem));
	dc_tlscheck_textf(out, n, "%s/%s.%s", k->o->certdir ? k->o->certdir : "<certdir>", stem, ext);
}

static const char *command(const struct check *k)
{
	return k->o->command ? k->o->command : "derpcheck cert";
}

/* "curl/OpenSSL", "curl/OpenSSL and browsers", "A, B and C". */
static void clients_text(unsigned mask, char *out, size_t n)
{
	int total = 0, done = 0;
	for (int c = 0; c < DC_CLIENT_COUNT; c++)
		total += (mask >> c) & 1u;
	out[0] = '\0';
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		if (!(mask & (1u << c)))
			continue;
		size_t used = strlen(out);
		const char *sep = done == 0 ? "" : done == total - 1 ? " and " : ", ";
		dc_tlscheck_textf(out + used, n - used, "%s%s", sep, dc_client_label((enum dc_client)c));
		done++;
	}
}

static void fix_fullchain(struct check *k, struct dc_finding *f)
{
	char crt[PATH_MAX + 64], key[PATH_MAX + 64], stem[256];
	crt_path(k, "crt", crt, sizeof(crt));
	crt_path(k, "key", key, sizeof(key));
	dc_derper_cert_stem(derper_name(k), stem, sizeof(stem));
	struct dc_buf b = {0};
	dc_buf_printf(&b, "serve the full chain, leaf first, as %s and restart derper (it reads manual certificates only at start-up):\n", crt);
	dc_buf_printf(&b, "acme.sh: acme.sh --install-cert -d %s --fullchain-file %s --key-file %s --reloadcmd \"docker restart derper\" (--cert-file installs the leaf alone)\n",
		      derper_name(k), crt, key);
	dc_buf_printf(&b, "certbot: use /etc/letsencrypt/live/%s/fullchain.pem as %s.crt, not cert.pem\n", derper_name(k), stem);
	if (k->r->fullchain)
		dc_buf_printf(&b, "or let derpcheck write it: `%s --write-fullchain %s.crt`\n", command(k), stem);
	dc_buf_printf(&b, "then remove InsecureForTests from the DERP map if it was set to work around this");
	dc_finding_hint(f, "%s", b.data);
	dc_buf_free(&b);
}

/* The certificates fetched through AIA that the completed path uses, for the message. */
static void fetched_on_path(struct check *k, char *out, size_t n)
{
	out[0] = '\0';
	for (int i = 0; k->complete.path && i < sk_X509_num(k->complete.path); i++) {
		struct dc_chain_cert *c = report_find(k->r, sk_X509_value(k->complete.path, i));
		if (!c || c->origin != DC_ORIGIN_AIA)
			continue;
		char one[600];
		dc_tlscheck_textf(one, sizeof(one), "\"%s\" (from %s)", c->info.subject, c->url);
		append_sep(out, n, one);
	}
}

static void aia_sentence(struct check *k, char *aia, size_t n);

static void explain_chain_incomplete(struct check *k, const struct found *f)
{
	struct dc_cert_report *r = k->r;
	X509 *top = f->p->cert ? f->p->cert : k->leaf;
	struct dc_cert_info info;
	describe(k, top, &info);
	char what[700], aia[1200];
	/* Files on disk (derpcheck server, cert --cert-file) are what derper will serve, not what it served. */
	if (f->p->depth == 0 && r->from_files)
		dc_tlscheck_textf(what, sizeof(what), "the certificate file holds the certificate without the intermediate that "
			 "issued it (\"%s\"), and derper serves the file as it is", info.issuer);
	else if (f->p->depth == 0)
		dc_tlscheck_textf(what, sizeof(what), "the server sends its certificate without the intermediate that issued it (\"%s\")",
			 info.issuer);
	else
		dc_tlscheck_textf(what, sizeof(what), "the chain stops at \"%s\" without the certificate that issued it (\"%s\")",
			 info.subject, info.issuer);
	aia_sentence(k, aia, sizeof(aia));
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, "chain-incomplete", "chain",
				     r->from_files ? "the certificate file lacks its intermediate certificate: curl and Tailscale on "
						     "Linux/Android reject the chain derper serves from it"
						   : "the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain",
				     "%s%s", what, aia);
	fix_fullchain(k, x);
}

/* What AIA showed: the missing certificates and whether they complete the chain. */
static void aia_sentence(struct check *k, char *aia, size_t n)
{
	struct dc_cert_report *r = k->r;
	char fetched[1000];
	fetched_on_path(k, fetched, sizeof(fetched));
	bool platform_ok = r->clients[DC_CLIENT_TS_PLATFORM].via_aia || r->clients[DC_CLIENT_BROWSER].via_aia;
	if (fetched[0] && platform_ok)
		dc_tlscheck_textf(aia, n,
			 ". Browsers and Tailscale on macOS/iOS/Windows fetch it from the AIA URL in the certificate, so it works "
			 "there; curl and Tailscale on Linux/Android never fetch it and fail. Missing: %s; with %s the chain "
			 "verifies", fetched, strstr(fetched, "), \"") ? "them" : "it");
	else if (fetched[0])
		dc_tlscheck_textf(aia, n, ". Missing: %s (fetched through AIA)", fetched);
	else if (k->o->no_aia)
		dc_tlscheck_textf(aia, n, ". AIA was not followed (%s), so whether clients that fetch it succeed is unknown",
				  r->from_files ? "not for files" : "--no-aia");
	else if (k->aia_note[0])
		dc_tlscheck_textf(aia, n, ". Not even clients that follow AIA can complete it: %s", k->aia_note);
	else
		aia[0] = '\0';
}

static void explain(struct check *k, const struct found *f)
{
	struct dc_cert_report *r = k->r;
	X509 *cert = f->p->cert ? f->p->cert : k->leaf;
	struct dc_chain_cert *cc = report_find(r, cert);
	struct dc_cert_info info;
	describe(k, cert, &info);
	char path[32] = "chain";
	if (cc)
		dc_tlscheck_textf(path, sizeof(path), "chain[%d]", (int)(cc - r->certs));
	const char *name = f->first == DC_CLIENT_TS_GO || f->first == DC_CLIENT_TS_PLATFORM ? go_name(k->o) : k->o->host_name;
	char brief[400], when[32], crt[PATH_MAX + 64], who[200];
	crt_path(k, "crt", crt, sizeof(crt));
	clients_text(f->clients, who, sizeof(who));
	struct dc_finding *x;
	const char *code = f->code;

	if (strcmp(code, "chain-incomplete") == 0) {
		explain_chain_incomplete(k, f);
	} else if (strcmp(code, "wrong-intermediate") == 0) {
		const struct dc_cert_info *next = r->count > 1 ? &r->certs[1].info : &info;
		for (size_t i = 1; i < r->count; i++)
			if (r->certs[i].origin != DC_ORIGIN_AIA && !r->certs[i].info.metacert) {
				next = &r->certs[i].info;
				break;
			}
		char aia[1200];
		aia_sentence(k, aia, sizeof(aia));
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, "chain[1]", "the certificate sent after the leaf is not its issuer (wrong intermediate)",
			  "the certificate sent after the leaf (\"%s\") did not issue it; the leaf's issuer is \"%s\". Clients fail "
			  "exactly as if the intermediate were missing%s", next->subject, r->certs[0].info.issuer, aia);
		fix_fullchain(k, x);
	} else if (strcmp(code, "unknown-issuer") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, "the chain ends at a certificate whose issuer is unknown",
			  "the chain ends at \"%s\", whose issuer \"%s\" is neither sent nor in the trust store: an intermediate is "
			  "missing, or it is a private CA%s%s", info.subject, info.issuer, k->aia_note[0] ? "; AIA: " : "",
			  k->aia_note);
		dc_finding_hint(x, "if the issuer is an intermediate, serve the full chain as %s and restart derper\n"
				   "if it is your own CA, install its root on every client%s%s%s",
				crt, k->o->ca_file ? "" : ", and check against it with: ", k->o->ca_file ? "" : command(k),
				k->o->ca_file ? " (it is not in --ca-file)" : " --ca-file <its root certificate>");
	} else if (strcmp(code, "untrusted-root") == 0) {
		X509 *root = f->p->code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ? cert : fetched_issuer(k, cert);
		struct dc_cert_info ri;
		describe(k, root ? root : cert, &ri);
		bool baked = root && dc_baked_roots_contains(root);
		dc_tlscheck_textf(brief, sizeof(brief), "the certificate comes from a CA this machine does not trust (\"%s\")", ri.subject);
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, brief,
			  "the chain leads to the root \"%s\", which the trust store%s%s%s does not have: a private CA, or a root "
			  "too new for it%s",
			  ri.subject, k->o->ca_file ? " (--ca-file " : "", k->o->ca_file ? k->o->ca_file : "",
			  k->o->ca_file ? ")" : "",
			  baked ? ". Tailscale 1.102 and newer accept it through their built-in Let's Encrypt roots; curl and browsers do not yet" : "");
		if (baked)
			dc_finding_hint(x, "serve the chain with the cross-signed root (the ACME client's default chain, not --preferred-chain \"%s\") as %s and restart derper",
					ri.common_name, crt);
		else
			dc_finding_hint(x, "use a certificate from a public CA (Let's Encrypt), or install \"%s\" as a trusted root on every client (a browser-only install is not enough):\n"
					   "Linux: copy it to /usr/local/share/ca-certificates/, run update-ca-certificates and restart tailscaled\n"
					   "macOS: System keychain, always trust; Windows: Local Machine, Trusted Root Certification Authorities; Android: user CA (Tailscale 1.98+)\n"
					   "%s%s%s",
					ri.subject, k->o->ca_file ? "--ca-file holds no such root either" : "check the chain against it: ",
					k->o->ca_file ? "" : command(k), k->o->ca_file ? "" : " --ca-file <its root certificate>");
	} else if (strcmp(code, "self-signed") == 0) {
		bool pinned_ok = is_pin(k->o->cert_name) && r->clients[DC_CLIENT_TS_GO].ok;
		x = dc_tlscheck_issue(r, pinned_ok ? DC_SEV_WARNING : DC_SEV_ERROR, code, path, "the certificate is self-signed",
			  "the certificate \"%s\" is self-signed: %s", info.subject,
			  pinned_ok ? "Tailscale accepts it through the sha256-raw: CertName pin, but curl and browsers trust it only if told to"
				    : "no client trusts it unless told to");
		/*
		 * Clients send no TLS name for an IP HostName, and derper refuses a ClientHello
		 * without its --hostname unless that is an IP itself (1.78+; tls-diagnosis.md §1.4).
		 */
		const char *ip = k->o->host_name && dc_tlscheck_is_ip(k->o->host_name) ? k->o->host_name : "<the node's IP address>";
		dc_finding_hint(x, "get a certificate from a public CA: derper --certmode=letsencrypt on port 443, or acme.sh/certbot with --certmode=manual\n"
				   "or, for a node whose HostName is an IP address, pin it in the DERP map: \"CertName\": \"sha256-raw:%s\" "
				   "(Tailscale 1.84+; %s must hold only this certificate), and run derper with --hostname=%s (the same IP as "
				   "HostName: clients send no TLS name to an IP, which derper 1.78+ accepts only then; 1.82+ also makes the "
				   "self-signed certificate itself)\n"
				   "or install it as a trusted root on every client",
				info.sha256, crt, ip);
	} else if (strcmp(code, "expired") == 0) {
		dc_time_format(info.not_after, when, sizeof(when));
		dc_tlscheck_textf(brief, sizeof(brief), "the certificate expired on %s", when);
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, brief,
			  "the certificate expired on %s, %ld day%s ago%s", when, -info.days_left, info.days_left == -1 ? "" : "s",
			  r->from_files ? "" : ". If the file on disk was renewed, derper still serves the old one from memory: "
					       "it reads manual certificates only at start-up");
		/* With --certdir the served and stored leaves were compared already (served-differs-from-disk). */
		bool compare = !r->from_files && !k->o->certdir;
		char disk[400] = "";
		if (compare)
			dc_tlscheck_textf(disk, sizeof(disk), " --certdir <derper's certdir> --hostname %s", derper_name(k));
		dc_finding_hint(x, "renew it and restart derper; make renewals restart it: acme.sh --reloadcmd \"docker restart derper\", "
				   "certbot --deploy-hook \"systemctl restart derper\"%s%s%s",
				compare ? "\ncompare with the file on disk: " : "", compare ? command(k) : "", disk);
	} else if (strcmp(code, "intermediate-expired") == 0) {
		dc_time_format(info.not_after, when, sizeof(when));
		dc_tlscheck_textf(brief, sizeof(brief), "the intermediate certificate \"%s\" expired on %s", info.common_name, when);
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, brief,
			  "the intermediate \"%s\" expired on %s; the leaf itself is still valid, which makes curl's \"certificate "
			  "has expired\" misleading", info.subject, when);
		dc_finding_hint(x, "install the current chain from the ACME client (acme.sh --fullchain-file, certbot fullchain.pem) "
				   "instead of a hand-made bundle as %s, and restart derper", crt);
	} else if (strcmp(code, "not-yet-valid") == 0) {
		dc_time_format(info.not_before, when, sizeof(when));
		char server[400] = "";
		if (r->conn.have_date) {
			char sd[32];
			dc_time_format(r->conn.server_date, sd, sizeof(sd));
			dc_tlscheck_textf(server, sizeof(server), ". The server's clock says %s (%+lld s from this machine's)%s", sd,
				 r->conn.skew_s, r->conn.server_date >= info.not_before ? "; by its clock the certificate is valid, so this machine's clock is probably wrong" : "");
		}
		dc_tlscheck_textf(brief, sizeof(brief), "the certificate is not valid until %s: check the clocks", when);
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, brief, "\"%s\" is valid only from %s, %ld day%s from now by this machine's clock%s",
			  info.subject, when, (long)((info.not_before - k->now) / 86400),
			  (info.not_before - k->now) / 86400 == 1 ? "" : "s", server);
		dc_finding_hint(x, "check the clock of this machine and of the clients (timedatectl; turn on NTP with timedatectl set-ntp true); "
				   "if the clocks are right, the certificate was issued with a future start date: reissue it");
	} else if (strcmp(code, "name-mismatch") == 0 || strcmp(code, "wrong-domain") == 0) {
		const struct dc_cert_info *leaf = &r->certs[0].info;
		bool wildcard = strstr(leaf->sans, "DNS:*.") != NULL;
		bool other = strcmp(code, "wrong-domain") == 0;
		dc_tlscheck_textf(brief, sizeof(brief), "the certificate is for %s, not %s", leaf->sans[0] ? leaf->sans : leaf->subject, name);
		char derper[200] = "";
		if (r->from_files)
			dc_tlscheck_textf(derper, sizeof(derper), ". derper refuses to start with it: cert invalid for hostname \"%s\"", name);
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, "chain[0]", brief, "%s %s, not for %s%s%s",
			  other ? "the certificate is for another domain:" : "the certificate is valid for",
			  leaf->sans[0] ? leaf->sans : "no names at all", name,
			  other ? (r->from_files ? "" : "; the port serves some other site's certificate")
				: wildcard ? ". A wildcard covers exactly one label: *.example.com matches a.example.com, not example.com or a.b.example.com" : "",
			  derper);
		if (other && r->from_files)
			dc_finding_hint(x, "put the certificate for %s in %s and restart derper", name, crt);
		else if (other)
			dc_finding_hint(x, "derper serves %s: put the certificate for %s there and restart derper; if another service (a proxy, a web server) answers on this port, point DERPPort at derper",
					crt, name);
		else
			dc_finding_hint(x, "make the DERP map's HostName, derper's --hostname and a name in the certificate the same: reissue it for %s (acme.sh --issue -d %s), or set \"HostName\" (or \"CertName\") to a name it has",
					name, name);
	} else if (strcmp(code, "cn-only") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, "chain[0]", "the certificate has no subjectAltName (Common Name only): Tailscale rejects it",
			  "the certificate has no subjectAltName; \"%s\" is only its Common Name. curl accepts that, but Go, Tailscale "
			  "and browsers ignore the Common Name%s", r->certs[0].info.common_name,
			  r->from_files ? "; derper refuses to start with it (cert invalid for hostname)" : "");
		dc_finding_hint(x, "reissue it with a subjectAltName: openssl req ... -addext \"subjectAltName=DNS:%s\" (ACME clients always add one)", name);
	} else if (strcmp(code, "ip-san-missing") == 0) {
		bool tailscale_ok = r->clients[DC_CLIENT_TS_GO].ok;
		x = dc_tlscheck_issue(r, tailscale_ok ? DC_SEV_WARNING : DC_SEV_ERROR, code, "chain[0]",
			  "the certificate has no IP address entry for the IP HostName",
			  "%s is an IP address and the certificate has no IP entry for it (it has %s). Tailscale checks no name for an "
			  "IP HostName, but %s %s", name, r->certs[0].info.sans[0] ? r->certs[0].info.sans : "no names", who,
			  f->clients == (1u << DC_CLIENT_CURL) ? "does" : "do");
		dc_finding_hint(x, "reissue it with \"subjectAltName=IP:%s\", or give the node a DNS HostName with a matching certificate", name);
	} else if (strcmp(code, "no-server-auth") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, "the certificate is not for TLS servers (no serverAuth)",
			  "\"%s\" is not for TLS servers: its extended key usage lacks serverAuth", info.subject);
		dc_finding_hint(x, "reissue it with extendedKeyUsage=serverAuth (or with no extendedKeyUsage at all)");
	} else if (strcmp(code, "weak-signature") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, "a certificate is signed with SHA-1",
			  "\"%s\" is signed with %s (SHA-1), which OpenSSL, Go and browsers reject", info.subject, info.signature);
		dc_finding_hint(x, "reissue it signed with SHA-256 (openssl ... -sha256; every ACME CA already does)");
	} else if (strcmp(code, "weak-key") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, "the certificate's key is too small",
			  "the key of \"%s\" is %s: rejected by %s (OpenSSL at security level 2 wants RSA 2048 or more); Go "
			  "and Tailscale still accept it", info.subject, info.key, who);
		dc_finding_hint(x, "reissue it with an EC P-256 key (acme.sh --keylength ec-256) or RSA 2048 or more");
	} else if (strcmp(code, "bad-signature") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, path, "a certificate signature does not verify",
			  "the signature on \"%s\" does not verify with its issuer's key: the certificate was altered, or the chain mixes "
			  "two CAs with the same name", info.subject);
		dc_finding_hint(x, "reinstall the certificate and chain from the CA as %s and restart derper", crt);
	} else if (strcmp(code, "pin-mismatch") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, "chain[0]", "the certificate is not the one CertName pins",
			  "CertName pins %s, but the served certificate's SHA-256 is %s", k->o->cert_name, r->certs[0].info.sha256);
		dc_finding_hint(x, "set \"CertName\": \"sha256-raw:%s\" (lowercase hex, no colons: openssl x509 -in %s -outform DER | sha256sum)",
				r->certs[0].info.sha256, crt);
	} else if (strcmp(code, "pin-multiple-certs") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, "chain", "a sha256-raw: CertName needs exactly one certificate, the server sends more",
			  "with a sha256-raw: CertName Tailscale wants exactly one certificate, but the server sends %zu", k->served_real + 1);
		dc_finding_hint(x, "put only the pinned certificate in %s and restart derper", crt);
	} else if (strcmp(code, "no-certificate") == 0) {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, code, "chain", "the server presents no certificate",
			  "the server presented no certificate of its own (only derper's key certificate)");
		dc_finding_hint(x, "put the certificate in %s and restart derper", crt);
	} else {
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, "verify-failed", path, NULL, "\"%s\" does not verify: %s (OpenSSL error %d at depth %d)",
			  info.subject, X509_verify_cert_error_string(f->p->code), f->p->code, f->p->depth);
		dc_finding_hint(x, "reinstall the certificate and chain from the CA as %s and restart derper", crt);
	}
}

static int compare_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	return code_rank(x->code) - code_rank(y->code);
}

static void add_problem_findings(struct check *k)
{
	struct found all[48];
	size_t n = 0;
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		const struct vpass *v = &k->pass[c];
		for (size_t i = 0; i < v->count; i++) {
			const char *code = classify(k, (enum dc_client)c, &v->p[i]);
			if (!code)
				continue;
			size_t j;
			for (j = 0; j < n && strcmp(all[j].code, code) != 0; j++)
				;
			if (j < n) {
				all[j].clients |= 1u << c;
			} else if (n < DC_ARRAY_LEN(all)) {
				all[n++] = (struct found){code, 1u << c, &v->p[i], (enum dc_client)c};
			}
		}
	}
	/* A lone leaf gives curl 20 (issuer missing), which Tailscale's passes share. */
	qsort(all, n, sizeof(all[0]), compare_found);
	for (size_t i = 0; i < n; i++)
		explain(k, &all[i]);
}

static int path_index_of(struct check *k, X509 *cert)
{
	struct dc_chain_cert *c = report_find(k->r, cert);
	return c && c->origin != DC_ORIGIN_AIA ? c->index : -1;
}

static bool on_complete_path(struct check *k, X509 *cert)
{
	return k->complete.path && in_stack(k->complete.path, cert);
}

static void add_structure_findings(struct check *k)
{
	struct dc_cert_report *r = k->r;
	char crt[PATH_MAX + 64];
	crt_path(k, "crt", crt, sizeof(crt));
	/* Order: served certificates on the path must follow the leaf in path order. */
	int last = 0;
	bool out_of_order = false;
	for (int i = 1; k->complete.path && i < sk_X509_num(k->complete.path); i++) {
		int idx = path_index_of(k, sk_X509_value(k->complete.path, i));
		if (idx < 0)
			continue;
		if (idx < last)
			out_of_order = true;
		last = idx;
	}
	if (out_of_order) {
		struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_WARNING, "chain-order", "chain", NULL,
					     "the chain is %s out of order (each certificate should be followed by its issuer); "
					     "OpenSSL, Go and browsers sort it out, old clients do not",
					     r->from_files ? "stored" : "served");
		char stem[256];
		dc_derper_cert_stem(derper_name(k), stem, sizeof(stem));
		dc_finding_hint(x, "write it leaf first, then each issuer in turn: `%s --write-fullchain %s.crt`", command(k), stem);
	}
	bool wrong_intermediate = dc_findings_has(&r->findings, "wrong-intermediate");
	for (size_t i = 1; i < r->count; i++) {
		struct dc_chain_cert *c = &r->certs[i];
		char path[32];
		dc_tlscheck_textf(path, sizeof(path), "chain[%zu]", i);
		if (c->origin == DC_ORIGIN_AIA || c->info.metacert)
			continue;
		if (c->role == DC_ROLE_ROOT && !is_pin(k->o->cert_name)) {
			struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_WARNING, "chain-sends-root", path, NULL,
						     "the chain includes the root \"%s\": clients must already have it, so sending it only "
						     "adds bytes (and an untrusted one cannot help)", c->info.subject);
			dc_finding_hint(x, "leave the root out of %s", crt);
		} else if (c->role == DC_ROLE_UNRELATED && !wrong_intermediate) {
			struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_WARNING, "chain-extra-cert", path, NULL,
						     "\"%s\" is on no path from the leaf to a root; clients ignore it", c->info.subject);
			dc_finding_hint(x, "remove it from %s", crt);
		}
	}
	int soon = k->o->soon_days > 0 ? k->o->soon_days : 14;
	for (size_t i = 0; i < r->count; i++) {
		struct dc_chain_cert *c = &r->certs[i];
		if (c->info.metacert || c->info.expired || c->info.not_yet_valid || c->info.days_left >= soon)
			continue;
		if (i > 0 && !on_complete_path(k, c->cert))
			continue;
		char path[32], when[32];
		dc_tlscheck_textf(path, sizeof(path), "chain[%zu]", i);
		dc_time_format(c->info.not_after, when, sizeof(when));
		struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_WARNING, "expires-soon", path, NULL, "\"%s\" expires on %s, in %ld day%s",
					     c->info.subject, when, c->info.days_left, c->info.days_left == 1 ? "" : "s");
		dc_finding_hint(x, "renew it now and restart derper (manual certificates are never reloaded); a working ACME renewal replaces it 30 days before expiry");
	}
}

static void assign_roles(struct check *k)
{
	bool complete = k->r->fullchain != NULL;
	for (size_t i = 0; i < k->r->count; i++) {
		struct dc_chain_cert *c = &k->r->certs[i];
		if (c->info.metacert)
			c->role = DC_ROLE_METACERT;
		else if (c->cert == k->leaf || X509_cmp(c->cert, k->leaf) == 0)
			c->role = DC_ROLE_LEAF;
		else if (c->info.self_signed && c->info.is_ca)
			c->role = DC_ROLE_ROOT;
		else if (on_complete_path(k, c->cert))
			c->role = DC_ROLE_INTERMEDIATE;
		else if (complete || !c->info.is_ca)
			c->role = DC_ROLE_UNRELATED;
		else
			c->role = DC_ROLE_INTERMEDIATE;
	}
}

static bool same_certs(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	if (sk_X509_num(a) != sk_X509_num(b))
		return false;
	for (int i = 0; i < sk_X509_num(a); i++)
		if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
			return false;
	return true;
}

/* The path to serve: Go's rules over everything known, system store then baked roots. */
static void build_fullchain(struct check *k, STACK_OF(X509) *served_real)
{
	struct vparams vp;
	params_for(k, DC_CLIENT_TS_PLATFORM, k->system, k->with_aia, &vp);
	vp.rule = NAME_NONE;
	vpass_run(&vp, &k->complete);
	if (!k->complete.anchored) {
		struct vpass b;
		vp.store = k->baked;
		vpass_run(&vp, &b);
		if (b.anchored) {
			vpass_free(&k->complete);
			k->complete = b;
		} else {
			vpass_free(&b);
		}
	}
	X509 *top = vpass_top(&k->complete);
	if (!top)
		return;
	bool top_root = X509_self_signed(top, 0) == 1;
	if (!k->complete.anchored && !top_root)
		return; /* the path stops at a certificate whose issuer nobody has */
	int n = sk_X509_num(k->complete.path);
	int keep = n > 1 ? n - 1 : 1; /* the anchor (or a self-signed root) is never served */
	STACK_OF(X509) *chain = sk_X509_new_null();
	for (int i = 0; i < keep; i++) {
		X509 *c = sk_X509_value(k->complete.path, i);
		X509_up_ref(c);
		sk_X509_push(chain, c);
	}
	k->r->fullchain = chain;
	k->r->fullchain_differs = !same_certs(chain, served_real);
	k->r->fullchain_verifies = true;
	for (size_t i = 0; i < k->complete.count; i++)
		if (is_trust_problem(k->complete.p[i].code))
			k->r->fullchain_verifies = false;
}

int dc_tlscheck_chain(STACK_OF(X509) *chain, bool from_files, const struct dc_tlscheck_opts *o, struct dc_cert_report *r,
		      struct dc_error *err)
{
	dc_ossl_need();
	struct check k = {.o = o, .r = r};
	k.now = o->now ? o->now : time(NULL);
	k.deadline_ns = dc_now_ns() + (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : 10000) * 1000000u;
	r->from_files = from_files;
	dc_tlscheck_textf(r->host_name, sizeof(r->host_name), "%s", o->host_name ? o->host_name : "");
	dc_tlscheck_textf(r->cert_name, sizeof(r->cert_name), "%s", o->cert_name ? o->cert_name : "");
	k.served = sk_X509_new_null();
	STACK_OF(X509) *served_real = sk_X509_new_null();
	enum dc_cert_origin origin = from_files ? DC_ORIGIN_FILE : DC_ORIGIN_SERVED;
	/* The leaf is the first certificate that is not derper's metacert; list it first. */
	for (int i = 0; chain && i < sk_X509_num(chain) && !k.leaf; i++)
		if (!dc_tls_is_metacert(sk_X509_value(chain, i))) {
			k.leaf = sk_X509_value(chain, i);
			dc_tlscheck_add_cert(r, k.leaf, origin, i, NULL, k.now);
			sk_X509_push(served_real, k.leaf);
		}
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		if (c == k.leaf)
			continue;
		dc_tlscheck_add_cert(r, c, origin, i, NULL, k.now);
		bool meta = dc_tls_is_metacert(c);
		sk_X509_push(k.served, c); /* Go pools every other certificate, metacert included */
		if (!meta) {
			k.served_real++;
			sk_X509_push(served_real, c);
		}
	}
	int rc = 0;
	if (!k.leaf) {
		r->chain_checked = true;
		dc_tlscheck_issue(r, DC_SEV_ERROR, "no-certificate", "chain", "the server presents no certificate",
		      "the server presented no certificate of its own%s", r->count ? " (only derper's key certificate)" : "");
		for (int c = 0; c < DC_CLIENT_COUNT; c++) {
			r->clients[c] = (struct dc_client_verdict){.checked = true, .code = "no-certificate"};
			dc_tlscheck_textf(r->clients[c].says, sizeof(r->clients[c].says), c == DC_CLIENT_TS_GO ? "expected cert not presented"
												 : "rejects: no certificate was presented");
		}
		goto out;
	}
	k.system = dc_tls_trust_store(o->ca_file, err);
	if (!k.system) {
		rc = -1;
		goto out;
	}
	k.baked = dc_baked_roots_store();
	k.with_aia = sk_X509_dup(k.served);
	for (int i = 0; i < sk_X509_num(k.with_aia); i++)
		X509_up_ref(sk_X509_value(k.with_aia, i));
	if (!o->no_aia)
		chase_aia(&k);
	judge_clients(&k);
	build_fullchain(&k, served_real);
	assign_roles(&k);
	add_problem_findings(&k);
	add_structure_findings(&k);
	fill_verdicts(&k);
	r->chain_checked = true;
out:
	for (int c = 0; c < DC_CLIENT_COUNT; c++)
		vpass_free(&k.pass[c]);
	vpass_free(&k.complete);
	if (k.with_aia)
		dc_certs_free(k.with_aia);
	sk_X509_free(k.served);
	sk_X509_free(served_real);
	X509_STORE_free(k.system);
	X509_STORE_free(k.baked);
	return rc;
}

/* ---- after the check ----------------------------------------------------------------- */

void dc_tlscheck_compare_disk(struct dc_cert_report *r, X509 *disk_leaf, const char *disk_path, time_t now)
{
	dc_ossl_need();
	if (!r->count || !disk_leaf || r->certs[0].role != DC_ROLE_LEAF)
		return;
	if (X509_cmp(r->certs[0].cert, disk_leaf) == 0)
		return;
	struct dc_cert_info disk;
	dc_cert_describe(disk_leaf, now ? now : time(NULL), &disk);
	const struct dc_cert_info *served = &r->certs[0].info;
	char sa[32], da[32];
	dc_time_format(served->not_after, sa, sizeof(sa));
	dc_time_format(disk.not_after, da, sizeof(da));
	bool renewed = disk.not_after > served->not_after;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, "served-differs-from-disk", "chain[0]",
				     renewed ? "derper serves an older certificate than the one on disk: restart derper"
					     : "derper serves a different certificate than the one on disk",
				     "the server sends a different certificate than %s holds: served SHA-256 %.16s... valid until %s, "
				     "on disk %.16s... valid until %s.%s",
				     disk_path, served->sha256, sa, disk.sha256, da,
				     renewed ? " The file was renewed, but derper still serves the old certificate: it reads manual "
					       "certificates only at start-up"
					     : " derper reads another file, or another server answers on this port");
	if (renewed)
		dc_finding_hint(x, "restart derper (docker restart derper, or systemctl restart derper), and make renewals restart it: "
				   "acme.sh --reloadcmd \"docker restart derper\", certbot --deploy-hook \"systemctl restart derper\"");
	else
		dc_finding_hint(x, "check derper's --certdir and --hostname, and that this port reaches that derper");
}

int dc_tlscheck_write_fullchain(const struct dc_cert_report *r, const char *path, struct dc_error *err)
{
	dc_ossl_need();
	if (!r->fullchain) {
		dc_error_set(err, path, "not written: no complete chain could be built for %s", r->where);
		dc_error_hint(err, "the leaf's issuer could not be found or fetched; take the chain from your CA (acme.sh: fullchain.cer, certbot: fullchain.pem)");
		return -1;
	}
	/* PEM in memory first, then one safe replace (src/util/file.c): no partial file, no link followed. */
	BIO *mem = BIO_new(BIO_s_mem());
	bool ok = mem != NULL;
	for (int i = 0; ok && i < sk_X509_num(r->fullchain); i++)
		ok = PEM_write_bio_X509(mem, sk_X509_value(r->fullchain, i)) == 1;
	char *pem = NULL;
	long len = ok ? BIO_get_mem_data(mem, &pem) : 0;
	int rc = ok && len > 0 ? dc_file_write_atomic(path, pem, (size_t)len, 0644, err) /* a certificate is public */
			       : dc_error_set(err, path, "cannot write: the chain could not be encoded as PEM");
	BIO_free(mem);
	ERR_clear_error();
	return rc;
}

