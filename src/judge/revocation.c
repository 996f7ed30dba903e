#include "derpcheck/judge/revocation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/certinfo.h"
#include "derpcheck/net/http.h"
#include "derpcheck/util/util.h"

#include "derpcheck/net/ossl.h"

const char *dc_revocation_status_name(enum dc_revocation_status st)
{
	switch (st) {
	case DC_REVOCATION_GOOD:
		return "good";
	case DC_REVOCATION_REVOKED:
		return "revoked";
	case DC_REVOCATION_UNKNOWN:
		return "unknown";
	case DC_REVOCATION_NOT_CHECKED:
		break;
	}
	return "not-checked";
}

const char *dc_revocation_source_name(enum dc_revocation_source src)
{
	switch (src) {
	case DC_REVSRC_STAPLE:
		return "staple";
	case DC_REVSRC_OCSP:
		return "ocsp";
	case DC_REVSRC_CRL:
		return "crl";
	case DC_REVSRC_NONE:
		break;
	}
	return NULL;
}

static void verdict(struct dc_revocation *out, enum dc_revocation_status st, const char *fmt, ...) DC_PRINTF(3, 4);
static void verdict(struct dc_revocation *out, enum dc_revocation_status st, const char *fmt, ...)
{
	out->status = st;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
}

static int64_t epoch_or_zero(const ASN1_GENERALIZEDTIME *t)
{
	time_t v = t ? dc_asn1_time_epoch(t) : (time_t)-1;
	return v == (time_t)-1 ? 0 : (int64_t)v;
}

/* The last OpenSSL error as text, for a detail that names what failed. */
static void ossl_error(char *out, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, out, n);
	else
		dc_textf(out, n, "no reason given");
	ERR_clear_error();
}

/*
 * Only the issuer is trusted (X509_V_FLAG_PARTIAL_CHAIN lets it anchor without its root),
 * at the caller's clock: OCSP_basic_verify then accepts the issuer's own signature or a
 * delegate the issuer certified for OCSP signing (RFC 6960 §4.2.2.2), nothing else.
 */
static X509_STORE *issuer_store(X509 *issuer, time_t now)
{
	X509_STORE *st = X509_STORE_new();
	if (!st)
		return NULL;
	X509_STORE_add_cert(st, issuer);
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), now);
	return st;
}

static void judge_basic(OCSP_BASICRESP *bs, X509 *leaf, X509 *issuer, time_t now, struct dc_revocation *out)
{
	X509_STORE *st = issuer_store(issuer, now);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	sk_X509_push(untrusted, issuer);
	int ok = st && untrusted ? OCSP_basic_verify(bs, untrusted, st, 0) : -1;
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	if (ok != 1) {
		char why[200];
		ossl_error(why, sizeof(why));
		verdict(out, DC_REVOCATION_UNKNOWN, "the response is not signed by the leaf's issuer or a responder it "
			"delegated to (%s): it proves nothing", why);
		return;
	}
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, leaf, issuer);
	int status = -1, reason = -1;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int found = id ? OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd) : 0;
	OCSP_CERTID_free(id);
	if (found != 1) {
		verdict(out, DC_REVOCATION_UNKNOWN, "the response does not mention this certificate (its serial under this issuer)");
		return;
	}
	out->this_update = epoch_or_zero(thisupd);
	out->next_update = epoch_or_zero(nextupd);
	char a[32], b[32];
	if (out->this_update && out->this_update > (int64_t)now + DC_OCSP_LEEWAY_S) {
		dc_time_format((time_t)out->this_update, a, sizeof(a));
		verdict(out, DC_REVOCATION_UNKNOWN, "the response is not valid yet (thisUpdate %s): the responder's clock or "
			"this machine's is wrong", a);
		return;
	}
	if (out->next_update && out->next_update < (int64_t)now - DC_OCSP_LEEWAY_S) {
		dc_time_format((time_t)out->next_update, a, sizeof(a));
		verdict(out, DC_REVOCATION_UNKNOWN, "the response is stale: its nextUpdate %s has passed", a);
		return;
	}
	dc_time_format((time_t)out->this_update, a, sizeof(a));
	if (out->next_update)
		dc_time_format((time_t)out->next_update, b, sizeof(b));
	else
		dc_textf(b, sizeof(b), "none given");
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		verdict(out, DC_REVOCATION_GOOD, "thisUpdate %s, nextUpdate %s", a, b);
		return;
	case V_OCSP_CERTSTATUS_REVOKED: {
		out->revoked_at = epoch_or_zero(rev);
		out->reason = reason;
		if (reason >= 0)
			dc_textf(out->reason_text, sizeof(out->reason_text), "%s", OCSP_crl_reason_str(reason));
		char when[32];
		dc_time_format((time_t)out->revoked_at, when, sizeof(when));
		verdict(out, DC_REVOCATION_REVOKED, "on %s, reason %s (thisUpdate %s)", when,
			out->reason_text[0] ? out->reason_text : "not given", a);
		return;
	}
	default:
		verdict(out, DC_REVOCATION_UNKNOWN, "the responder does not know this certificate (status \"unknown\", "
			"thisUpdate %s)", a);
		return;
	}
}

/*
 * What judging an OCSP answer and a CRL share: out's previous verdict cleared, and no
 * verdict at all without both certificates (then NOT_CHECKED, saying what cannot be done).
 */
static bool judge_start(X509 *leaf, X509 *issuer, struct dc_revocation *out, const char *cannot)
{
	dc_ossl_need();
	out->reason = -1;
	out->reason_text[0] = 0;
	out->revoked_at = out->this_update = out->next_update = 0;
	if (leaf && issuer)
		return true;
	verdict(out, DC_REVOCATION_NOT_CHECKED, "the leaf's issuer is not known, so %s", cannot);
	return false;
}

void dc_ocsp_judge(const unsigned char *der, size_t len, X509 *leaf, X509 *issuer, time_t now,
		   struct dc_revocation *out)
{
	if (!judge_start(leaf, issuer, out, "no OCSP answer can be matched to it"))
		return;
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = der && len && len <= DC_OCSP_MAX_BYTES ? d2i_OCSP_RESPONSE(NULL, &p, (long)len) : NULL;
	if (!resp) {
		ERR_clear_error();
		verdict(out, DC_REVOCATION_UNKNOWN, "the answer (%zu bytes) is not an OCSP response", len);
		return;
	}
	int rs = OCSP_response_status(resp);
	if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		verdict(out, DC_REVOCATION_UNKNOWN, "the responder gave no verdict: response status \"%s\" (%d)",
			OCSP_response_status_str(rs), rs);
		OCSP_RESPONSE_free(resp);
		return;
	}
	OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
	OCSP_RESPONSE_free(resp);
	if (!bs) {
		ERR_clear_error();
		verdict(out, DC_REVOCATION_UNKNOWN, "the response carries no basic OCSP response");
		return;
	}
	judge_basic(bs, leaf, issuer, now, out);
	OCSP_BASICRESP_free(bs);
}

bool dc_ocsp_responder(X509 *leaf, char *out, size_t n)
{
	dc_ossl_need();
	out[0] = 0;
	STACK_OF(OPENSSL_STRING) *urls = leaf ? X509_get1_ocsp(leaf) : NULL;
	if (urls && sk_OPENSSL_STRING_num(urls) > 0)
		dc_textf(out, n, "%s", sk_OPENSSL_STRING_value(urls, 0));
	X509_email_free(urls);
	return out[0] != 0;
}

int dc_ocsp_get_url(const char *responder, X509 *leaf, X509 *issuer, char **url, struct dc_error *err)
{
	dc_ossl_need();
	*url = NULL;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, leaf, issuer);
	if (!req || !id || !OCSP_request_add0_id(req, id)) {
		OCSP_CERTID_free(id);
		OCSP_REQUEST_free(req);
		ERR_clear_error();
		return dc_error_set(err, responder, "OpenSSL could not build an OCSP request for the leaf");
	}
	unsigned char *der = NULL;
	int dlen = i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req); /* frees id too */
	if (dlen <= 0) {
		ERR_clear_error();
		return dc_error_set(err, responder, "OpenSSL could not encode the OCSP request");
	}
	unsigned char *b64 = dc_xmalloc(((size_t)dlen + 2) / 3 * 4 + 1);
	int blen = EVP_EncodeBlock(b64, der, dlen);
	OPENSSL_free(der);
	struct dc_buf b = {0};
	size_t rl = strlen(responder);
	dc_buf_printf(&b, "%s%s", responder, rl && responder[rl - 1] == '/' ? "" : "/");
	for (int i = 0; i < blen; i++) {
		if (b64[i] == '+')
			dc_buf_printf(&b, "%%2B");
		else if (b64[i] == '/')
			dc_buf_printf(&b, "%%2F");
		else if (b64[i] == '=')
			dc_buf_printf(&b, "%%3D");
		else
			dc_buf_append(&b, &b64[i], 1);
	}
	free(b64);
	*url = b.data;
	return 0;
}

/* ---- CRL (RFC 5280 §5) ------------------------------------------------------------------- */

static bool scheme_ok(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

bool dc_crl_distribution_point(X509 *leaf, char *out, size_t n)
{
	dc_ossl_need();
	out[0] = 0;
	STACK_OF(DIST_POINT) *dps = leaf ? X509_get_ext_d2i(leaf, NID_crl_distribution_points, NULL, NULL) : NULL;
	for (int i = 0; dps && i < sk_DIST_POINT_num(dps) && !out[0]; i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (!dp->distpoint || dp->distpoint->type != 0)
			continue; /* only a full name, not a name relative to the issuer */
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int k = 0; k < sk_GENERAL_NAME_num(names) && !out[0]; k++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, k);
			if (gn->type != GEN_URI)
				continue;
			const unsigned char *d = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
			int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			char url[256];
			if (len <= 0 || (size_t)len >= sizeof(url) || memchr(d, 0, (size_t)len))
				continue;
			memcpy(url, d, (size_t)len);
			url[len] = 0;
			if (scheme_ok(url))
				dc_textf(out, n, "%s", url);
		}
	}
	CRL_DIST_POINTS_free(dps);
	ERR_clear_error();
	return out[0] != 0;
}

static X509_CRL *crl_parse(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (!crl) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	ERR_clear_error();
	return crl;
}

void dc_crl_judge(const unsigned char *data, size_t len, X509 *leaf, X509 *issuer, time_t now,
		  struct dc_revocation *out)
{
	if (!judge_start(leaf, issuer, out, "no CRL can be checked"))
		return;
	X509_CRL *crl = data && len && len <= DC_CRL_MAX_BYTES ? crl_parse(data, len) : NULL;
	if (!crl) {
		verdict(out, DC_REVOCATION_UNKNOWN, "the answer (%zu bytes) is not a CRL", len);
		return;
	}
	char a[32], b[32];
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
		verdict(out, DC_REVOCATION_UNKNOWN, "the CRL is not issued by the leaf's issuer: it proves nothing");
	} else if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
		char why[200];
		ossl_error(why, sizeof(why));
		verdict(out, DC_REVOCATION_UNKNOWN, "the CRL's signature does not verify with the leaf's issuer (%s): it "
			"proves nothing", why);
	} else {
		out->this_update = epoch_or_zero(X509_CRL_get0_lastUpdate(crl));
		out->next_update = epoch_or_zero(X509_CRL_get0_nextUpdate(crl));
		dc_time_format((time_t)out->this_update, a, sizeof(a));
		if (out->next_update)
			dc_time_format((time_t)out->next_update, b, sizeof(b));
		else
			dc_textf(b, sizeof(b), "none given");
		X509_REVOKED *rev = NULL;
		int found = X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(leaf));
		if (out->this_update && out->this_update > (int64_t)now + DC_OCSP_LEEWAY_S) {
			verdict(out, DC_REVOCATION_UNKNOWN, "the CRL is not valid yet (thisUpdate %s): the CA's clock or this "
				"machine's is wrong", a);
		} else if (out->next_update && out->next_update < (int64_t)now - DC_OCSP_LEEWAY_S) {
			verdict(out, DC_REVOCATION_UNKNOWN, "the CRL is stale: its nextUpdate %s has passed", b);
		} else if (found == 1 && rev) {
			out->revoked_at = epoch_or_zero(X509_REVOKED_get0_revocationDate(rev));
			ASN1_ENUMERATED *r = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
			if (r) {
				out->reason = (int)ASN1_ENUMERATED_get(r);
				dc_textf(out->reason_text, sizeof(out->reason_text), "%s", OCSP_crl_reason_str(out->reason));
				ASN1_ENUMERATED_free(r);
			}
			char when[32];
			dc_time_format((time_t)out->revoked_at, when, sizeof(when));
			verdict(out, DC_REVOCATION_REVOKED, "on %s, reason %s (thisUpdate %s)", when,
				out->reason_text[0] ? out->reason_text : "not given", a);
		} else {
			verdict(out, DC_REVOCATION_GOOD, "not on the CRL (thisUpdate %s, nextUpdate %s)", a, b);
		}
	}
	X509_CRL_free(crl);
	ERR_clear_error();
}

/* ---- the whole check ------------------------------------------------------------------------ */

static int curl_fetch(void *user, const char *url, long timeout_ms, struct dc_buf *body, struct dc_error *err)
{
	(void)user;
	return dc_http_get_200(url, timeout_ms, DC_OCSP_MAX_BYTES, body, err);
}

static int curl_fetch_crl(void *user, const char *url, long timeout_ms, struct dc_buf *body, struct dc_error *err)
{
	(void)user;
	return dc_http_get_200(url, timeout_ms, DC_CRL_MAX_BYTES, body, err);
}

static bool decided(const struct dc_revocation *v)
{
	return v->status == DC_REVOCATION_GOOD || v->status == DC_REVOCATION_REVOKED;
}

/* Fetch url with the caller's fetcher (tests) or by_default; out->fetch_ms says how long it took. */
static int fetch_timed(const struct dc_revocation_opts *opts, dc_ocsp_fetch_fn by_default, const char *url,
		       struct dc_buf *body, struct dc_revocation *out, struct dc_error *err)
{
	uint64_t t0 = dc_now_ns();
	dc_ocsp_fetch_fn fetch = opts->fetch ? opts->fetch : by_default;
	int rc = fetch(opts->fetch_user, url, opts->timeout_ms > 0 ? opts->timeout_ms : 5000, body, err);
	out->fetch_ms = (double)(dc_now_ns() - t0) / 1e6;
	return rc;
}

/* Ask the leaf's OCSP responder; out->status and detail say what came of it. */
static void ask_ocsp(X509 *leaf, X509 *issuer, const struct dc_revocation_opts *opts, time_t now, struct dc_revocation *out)
{
	if (!scheme_ok(out->url)) {
		verdict(out, DC_REVOCATION_NOT_CHECKED, "the leaf's OCSP URL is not http:// or https://, so it was not asked");
		return;
	}
	char *get = NULL;
	struct dc_error err;
	dc_error_clear(&err);
	if (dc_ocsp_get_url(out->url, leaf, issuer, &get, &err) < 0) {
		verdict(out, DC_REVOCATION_NOT_CHECKED, "%s", err.what);
		return;
	}
	struct dc_buf body = {0};
	int rc = fetch_timed(opts, curl_fetch, get, &body, out, &err);
	free(get);
	if (rc < 0) {
		verdict(out, DC_REVOCATION_NOT_CHECKED, "the OCSP responder %s gave no answer: %s", out->url, err.what);
	} else {
		out->source = DC_REVSRC_OCSP;
		dc_ocsp_judge((const unsigned char *)body.data, body.len, leaf, issuer, now, out);
	}
	dc_buf_free(&body);
}

/* Fetch and judge the leaf's CRL. */
static void ask_crl(X509 *leaf, X509 *issuer, const struct dc_revocation_opts *opts, time_t now, struct dc_revocation *out)
{
	struct dc_buf body = {0};
	struct dc_error err;
	dc_error_clear(&err);
	int rc = fetch_timed(opts, curl_fetch_crl, out->crl_url, &body, out, &err);
	out->source = DC_REVSRC_NONE;
	if (rc < 0) {
		verdict(out, DC_REVOCATION_NOT_CHECKED, "the CRL at %s could not be fetched: %s", out->crl_url, err.what);
	} else {
		out->source = DC_REVSRC_CRL;
		dc_crl_judge((const unsigned char *)body.data, body.len, leaf, issuer, now, out);
	}
	dc_buf_free(&body);
}

/* detail := detail + "; " + what the earlier source said (so no evidence is hidden). */
static void note_earlier(struct dc_revocation *out, const char *label, const char *said)
{
	if (!said[0])
		return;
	char d[sizeof(out->detail)];
	dc_textf(d, sizeof(d), "%s; %s: %s", out->detail, label, said);
	dc_textf(out->detail, sizeof(out->detail), "%s", d);
}

void dc_revocation_check(X509 *leaf, X509 *issuer, const unsigned char *staple, size_t staple_len,
			 const struct dc_revocation_opts *opts, struct dc_revocation *out)
{
	dc_ossl_need();
	memset(out, 0, sizeof(*out));
	out->attempted = true;
	out->reason = -1;
	out->fetch_ms = -1;
	time_t now = opts->now ? opts->now : time(NULL);
	bool have_url = dc_ocsp_responder(leaf, out->url, sizeof(out->url));
	bool have_crl = dc_crl_distribution_point(leaf, out->crl_url, sizeof(out->crl_url));
	char staple_said[400] = "", ocsp_said[400] = "";
	if (staple && staple_len) {
		out->stapled = true;
		dc_ocsp_judge(staple, staple_len, leaf, issuer, now, out);
		if (decided(out)) {
			out->source = DC_REVSRC_STAPLE;
			return;
		}
		dc_textf(staple_said, sizeof(staple_said), "%s", out->detail);
	}
	if (!have_url && !have_crl) {
		if (out->stapled) {
			out->source = DC_REVSRC_STAPLE;
			verdict(out, DC_REVOCATION_UNKNOWN, "stapled response: %s; the leaf names no OCSP responder or CRL to "
				"ask instead", staple_said);
			return;
		}
		verdict(out, DC_REVOCATION_NOT_CHECKED, "the leaf names no OCSP responder (no AIA OCSP URL) and no CRL "
			"distribution point, and the server staples no OCSP response");
		return;
	}
	if (!issuer) {
		verdict(out, DC_REVOCATION_NOT_CHECKED, "the leaf's issuer was not served, so no OCSP request can be built "
			"and no CRL checked");
		return;
	}
	if (have_url) {
		ask_ocsp(leaf, issuer, opts, now, out);
		if (decided(out) || !have_crl) {
			note_earlier(out, "the stapled response gave none", staple_said);
			return;
		}
		dc_textf(ocsp_said, sizeof(ocsp_said), "%s", out->detail);
	}
	struct dc_revocation after_ocsp = *out;
	ask_crl(leaf, issuer, opts, now, out);
	if (!decided(out) && have_url && after_ocsp.status == DC_REVOCATION_UNKNOWN) {
		/* The responder's answer without a verdict weighs more than a CRL that gave none. */
		char crl_said[400];
		dc_textf(crl_said, sizeof(crl_said), "%s", out->detail);
		*out = after_ocsp;
		note_earlier(out, "the CRL gave none either", crl_said);
	} else {
		note_earlier(out, "the OCSP responder gave none", ocsp_said);
	}
	note_earlier(out, "the stapled response gave none", staple_said);
}
