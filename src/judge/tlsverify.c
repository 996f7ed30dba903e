/*
 * One verification pass per kind of client (tlscheck.h lists the four): OpenSSL's verifier
 * set up with each client's name rule, security level, trust store and untrusted pool,
 * every problem at every depth collected; the CertName pin judged as Tailscale does; each
 * problem classified into a finding code; and the path to serve. Nothing is worded here
 * (tlsexplain.c words it).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "derpcheck/judge/certfiles.h"
#include "tlscheck_int.h"

#include "derpcheck/net/ossl.h"

void dc_tlsverify_free(struct vpass *v)
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

void dc_tlsverify_run(const struct vparams *vp, struct vpass *v)
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

X509 *dc_tlsverify_top(const struct vpass *v)
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

void dc_tlsverify_params(const struct check *k, enum dc_client c, X509_STORE *store, STACK_OF(X509) *untrusted,
		       struct vparams *vp)
{
	const struct dc_tlscheck_opts *o = k->o;
	memset(vp, 0, sizeof(*vp));
	vp->store = store;
	vp->leaf = k->leaf;
	vp->untrusted = untrusted;
	vp->now = k->now;
	vp->auth_level = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM ? 1 : 2;
	const char *name = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM ? dc_tlscheck_go_name(o) : o->host_name;
	vp->name = name;
	if (!name || !*name)
		vp->rule = NAME_NONE;
	else if (dc_tlscheck_is_ip(name))
		/* Go sends no SNI for an IP and then checks no name, unless CertName names the IP. */
		vp->rule = (c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM) && name == o->host_name ? NAME_NONE : NAME_IP;
	else
		vp->rule = c == DC_CLIENT_CURL ? NAME_CN_FALLBACK : NAME_SAN_ONLY;
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
void dc_tlsverify_clients(struct check *k)
{
	struct dc_cert_report *r = k->r;
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		struct dc_client_verdict *cv = &r->clients[c];
		bool tailscale = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM;
		bool aia = c == DC_CLIENT_TS_PLATFORM || c == DC_CLIENT_BROWSER;
		cv->checked = true;
		if (tailscale && dc_tlscheck_is_pin(k->o->cert_name)) {
			pin_pass(k, &k->pass[c]);
			cv->ok = vpass_ok(&k->pass[c]);
			continue;
		}
		STACK_OF(X509) *untrusted = aia ? k->with_aia : k->served;
		struct vparams vp;
		dc_tlsverify_params(k, (enum dc_client)c, k->system, untrusted, &vp);
		dc_tlsverify_run(&vp, &k->pass[c]);
		if (!vpass_ok(&k->pass[c]) && tailscale) {
			/* tailscaled tries its baked-in Let's Encrypt roots next, with Go's verifier. */
			struct vpass b;
			dc_tlsverify_params(k, (enum dc_client)c, k->baked, k->served, &vp);
			dc_tlsverify_run(&vp, &b);
			if (vpass_ok(&b)) {
				dc_tlsverify_free(&k->pass[c]);
				k->pass[c] = b;
				cv->via_baked_root = true;
			} else {
				dc_tlsverify_free(&b);
			}
		}
		cv->ok = vpass_ok(&k->pass[c]);
		if (cv->ok && aia && !cv->via_baked_root)
			for (int i = 0; i < sk_X509_num(k->pass[c].path); i++) {
				struct dc_chain_cert *cc = dc_tlscheck_report_find(r, sk_X509_value(k->pass[c].path, i));
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

int dc_tlsverify_code_rank(const char *code)
{
	for (size_t i = 0; i < DC_ARRAY_LEN(code_order); i++)
		if (strcmp(code_order[i], code) == 0)
			return (int)i;
	return (int)DC_ARRAY_LEN(code_order);
}

X509 *dc_tlsverify_fetched_issuer(struct check *k, X509 *cert)
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

bool dc_tlsverify_cn_matches(const struct dc_cert_info *info, const char *name)
{
	return name && strcasecmp(info->common_name, name) == 0;
}

const char *dc_tlsverify_classify(struct check *k, enum dc_client c, const struct problem *p)
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
		X509 *fetched = dc_tlsverify_fetched_issuer(k, top);
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
		const char *name = c == DC_CLIENT_TS_GO || c == DC_CLIENT_TS_PLATFORM ? dc_tlscheck_go_name(k->o) : k->o->host_name;
		if (leaf->info.dns_sans == 0 && leaf->info.ip_sans == 0 && dc_tlsverify_cn_matches(&leaf->info, name))
			return "cn-only";
		if (name && !sans_share_domain(&leaf->info, name) && !dc_tlsverify_cn_matches(&leaf->info, name))
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

const struct problem *dc_tlsverify_deciding_problem(const struct vpass *v, enum dc_client c)
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
void dc_tlsverify_fullchain(struct check *k, STACK_OF(X509) *served_real)
{
	struct vparams vp;
	dc_tlsverify_params(k, DC_CLIENT_TS_PLATFORM, k->system, k->with_aia, &vp);
	vp.rule = NAME_NONE;
	dc_tlsverify_run(&vp, &k->complete);
	if (!k->complete.anchored) {
		struct vpass b;
		vp.store = k->baked;
		dc_tlsverify_run(&vp, &b);
		if (b.anchored) {
			dc_tlsverify_free(&k->complete);
			k->complete = b;
		} else {
			dc_tlsverify_free(&b);
		}
	}
	X509 *top = dc_tlsverify_top(&k->complete);
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
