/*
 * Judging a captured chain (tlscheck.h): the report, the order of the steps
 * (dc_tlscheck_chain), the roles of the certificates, and what to do after the check
 * (disk comparison, --write-fullchain). The steps have modules of their own: AIA
 * (tlsaia.c), one verification pass per kind of client and the finding codes
 * (tlsverify.c), the words (tlsexplain.c); the connection itself is probe/tlsprobe.c.
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
void dc_tlscheck_append_sep(char *out, size_t n, const char *text)
{
	size_t used = strlen(out);
	if (used + 1 < n)
		dc_tlscheck_textf(out + used, n - used, "%s%s", used ? ", " : "", text);
}

bool dc_tlscheck_is_pin(const char *cert_name)
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

struct dc_chain_cert *dc_tlscheck_report_find(struct dc_cert_report *r, X509 *cert)
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

/* cert described at the check's time: the report's copy when it holds cert (describing is costly), else fresh. */
void dc_tlscheck_describe(const struct check *k, X509 *cert, struct dc_cert_info *info)
{
	const struct dc_chain_cert *c = dc_tlscheck_report_find(k->r, cert);
	if (c && c->described_at == k->now)
		*info = c->info;
	else
		dc_cert_describe(cert, k->now, info);
}

const char *dc_tlscheck_go_name(const struct dc_tlscheck_opts *o)
{
	if (o->cert_name && *o->cert_name && !dc_tlscheck_is_pin(o->cert_name))
		return o->cert_name;
	return o->host_name;
}

bool dc_tlscheck_in_stack(STACK_OF(X509) *sk, X509 *cert)
{
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), cert) == 0)
			return true;
	return false;
}

bool dc_tlscheck_on_complete_path(struct check *k, X509 *cert)
{
	return k->complete.path && dc_tlscheck_in_stack(k->complete.path, cert);
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
		else if (dc_tlscheck_on_complete_path(k, c->cert))
			c->role = DC_ROLE_INTERMEDIATE;
		else if (complete || !c->info.is_ca)
			c->role = DC_ROLE_UNRELATED;
		else
			c->role = DC_ROLE_INTERMEDIATE;
	}
}

/* How many certificates besides the leaf one chain may bring to judgement (see below). */
#define DC_CHAIN_JUDGED_MAX 32

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
	/*
	 * A chain is a handful of certificates; a hostile server may send hundreds, and each
	 * is described and offered to eight verification passes. Past DC_CHAIN_JUDGED_MAX the
	 * rest is counted and named, not judged: no client builds a path that long (OpenSSL
	 * stops at depth 100, Go at 100 signature checks), so the verdict stays the same.
	 */
	int total = chain ? sk_X509_num(chain) : 0, judged = 0, left_out = 0;
	for (int i = 0; i < total; i++) {
		X509 *c = sk_X509_value(chain, i);
		if (c == k.leaf)
			continue;
		if (++judged > DC_CHAIN_JUDGED_MAX) {
			left_out++;
			continue;
		}
		dc_tlscheck_add_cert(r, c, origin, i, NULL, k.now);
		bool meta = dc_tls_is_metacert(c);
		sk_X509_push(k.served, c); /* Go pools every other certificate, metacert included */
		if (!meta) {
			k.served_real++;
			sk_X509_push(served_real, c);
		}
	}
	int rc = 0;
	if (left_out)
		dc_tlscheck_issue(r, DC_SEV_WARNING, "chain-too-long", "chain",
				  "the server sends far more certificates than any chain needs",
				  "%s %d certificates; the first %d after the leaf are judged, the other %d are left out "
				  "(a chain is the leaf and one or two intermediates)",
				  from_files ? "the file holds" : "the server sends", total, DC_CHAIN_JUDGED_MAX, left_out);
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
		dc_tlsaia_chase(&k);
	dc_tlsverify_clients(&k);
	dc_tlsverify_fullchain(&k, served_real);
	assign_roles(&k);
	dc_tlsexplain_problems(&k);
	dc_tlsexplain_structure(&k);
	dc_tlsexplain_verdicts(&k);
	r->chain_checked = true;
out:
	for (int c = 0; c < DC_CLIENT_COUNT; c++)
		dc_tlsverify_free(&k.pass[c]);
	dc_tlsverify_free(&k.complete);
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
