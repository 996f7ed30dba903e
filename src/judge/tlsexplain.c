/*
 * The words of a judged chain: what each client says (curl's and Go's own error texts),
 * and for each problem a finding with its cause and the exact fix, naming derper's
 * certificate file and the commands to run (tls-diagnosis.md). The verdicts come from
 * tlsverify.c; nothing here verifies.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/bakedroots.h"
#include "derpcheck/judge/certfiles.h"
#include "tlscheck_int.h"

#include "derpcheck/net/ossl.h"

static void name_list_go(const struct dc_cert_info *info, bool ip, char *out, size_t n)
{
	out[0] = '\0';
	char sans[sizeof(info->sans)];
	dc_tlscheck_textf(sans, sizeof(sans), "%s", info->sans);
	for (char *save = NULL, *t = strtok_r(sans, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		const char *prefix = ip ? "IP:" : "DNS:";
		if (strncmp(t, prefix, strlen(prefix)) == 0)
			dc_tlscheck_append_sep(out, n, t + strlen(prefix));
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
	const char *name = dc_tlscheck_go_name(k->o);
	char now[32], when[32];
	dc_time_format_go(k->now, now, sizeof(now));
	switch (p->code) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID: {
		struct dc_cert_info info;
		dc_tlscheck_describe(k, p->cert ? p->cert : k->leaf, &info);
		bool expired = p->code == X509_V_ERR_CERT_HAS_EXPIRED;
		if (dc_tlscheck_is_pin(k->o->cert_name)) {
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
		if (!ip && leaf->dns_sans == 0 && leaf->ip_sans == 0 && dc_tlsverify_cn_matches(leaf, name)) {
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
		dc_tlscheck_describe(k, cert, &info);
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

void dc_tlsexplain_verdicts(struct check *k)
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
		const struct problem *p = dc_tlsverify_deciding_problem(&k->pass[c], (enum dc_client)c);
		if (!p) {
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "rejects");
			continue;
		}
		cv->code = dc_tlsverify_classify(k, (enum dc_client)c, p);
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
		struct dc_chain_cert *c = dc_tlscheck_report_find(k->r, sk_X509_value(k->complete.path, i));
		if (!c || c->origin != DC_ORIGIN_AIA)
			continue;
		char one[600];
		dc_tlscheck_textf(one, sizeof(one), "\"%s\" (from %s)", c->info.subject, c->url);
		dc_tlscheck_append_sep(out, n, one);
	}
}

static void aia_sentence(struct check *k, char *aia, size_t n);

static void explain_chain_incomplete(struct check *k, const struct found *f)
{
	struct dc_cert_report *r = k->r;
	X509 *top = f->p->cert ? f->p->cert : k->leaf;
	struct dc_cert_info info;
	dc_tlscheck_describe(k, top, &info);
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

/* What every explanation starts from: the problem's certificate and the names in the fix. */
struct why {
	struct check *k;
	const struct found *f;
	X509 *cert;              /* the certificate the problem is about (the leaf when OpenSSL names none) */
	struct dc_cert_info info; /* cert, described */
	char path[32];           /* "chain[N]", or "chain" */
	const char *name;        /* the name the first client to meet it checks */
	char crt[PATH_MAX + 64]; /* derper's certificate file */
	char who[200];           /* the clients that meet it, in words */
};

static void explain_chain_incomplete_why(const struct why *w)
{
	explain_chain_incomplete(w->k, w->f);
}

static void explain_wrong_intermediate(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	const struct dc_cert_info *next = r->count > 1 ? &r->certs[1].info : &w->info;
	for (size_t i = 1; i < r->count; i++)
		if (r->certs[i].origin != DC_ORIGIN_AIA && !r->certs[i].info.metacert) {
			next = &r->certs[i].info;
			break;
		}
	char aia[1200];
	aia_sentence(k, aia, sizeof(aia));
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, "chain[1]", "the certificate sent after the leaf is not its issuer (wrong intermediate)",
		  "the certificate sent after the leaf (\"%s\") did not issue it; the leaf's issuer is \"%s\". Clients fail "
		  "exactly as if the intermediate were missing%s", next->subject, r->certs[0].info.issuer, aia);
	fix_fullchain(k, x);
}

static void explain_unknown_issuer(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, "the chain ends at a certificate whose issuer is unknown",
		  "the chain ends at \"%s\", whose issuer \"%s\" is neither sent nor in the trust store: an intermediate is "
		  "missing, or it is a private CA%s%s", w->info.subject, w->info.issuer, k->aia_note[0] ? "; AIA: " : "",
		  k->aia_note);
	dc_finding_hint(x, "if the issuer is an intermediate, serve the full chain as %s and restart derper\n"
			   "if it is your own CA, install its root on every client%s%s%s",
			w->crt, k->o->ca_file ? "" : ", and check against it with: ", k->o->ca_file ? "" : command(k),
			k->o->ca_file ? " (it is not in --ca-file)" : " --ca-file <its root certificate>");
}

static void explain_untrusted_root(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	char brief[400];
	X509 *root = w->f->p->code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ? w->cert : dc_tlsverify_fetched_issuer(k, w->cert);
	struct dc_cert_info ri;
	dc_tlscheck_describe(k, root ? root : w->cert, &ri);
	bool baked = root && dc_baked_roots_contains(root);
	dc_tlscheck_textf(brief, sizeof(brief), "the certificate comes from a CA this machine does not trust (\"%s\")", ri.subject);
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, brief,
		  "the chain leads to the root \"%s\", which the trust store%s%s%s does not have: a private CA, or a root "
		  "too new for it%s",
		  ri.subject, k->o->ca_file ? " (--ca-file " : "", k->o->ca_file ? k->o->ca_file : "",
		  k->o->ca_file ? ")" : "",
		  baked ? ". Tailscale 1.102 and newer accept it through their built-in Let's Encrypt roots; curl and browsers do not yet" : "");
	if (baked)
		dc_finding_hint(x, "serve the chain with the cross-signed root (the ACME client's default chain, not --preferred-chain \"%s\") as %s and restart derper",
				ri.common_name, w->crt);
	else
		dc_finding_hint(x, "use a certificate from a public CA (Let's Encrypt), or install \"%s\" as a trusted root on every client (a browser-only install is not enough):\n"
				   "Linux: copy it to /usr/local/share/ca-certificates/, run update-ca-certificates and restart tailscaled\n"
				   "macOS: System keychain, always trust; Windows: Local Machine, Trusted Root Certification Authorities; Android: user CA (Tailscale 1.98+)\n"
				   "%s%s%s",
				ri.subject, k->o->ca_file ? "--ca-file holds no such root either" : "check the chain against it: ",
				k->o->ca_file ? "" : command(k), k->o->ca_file ? "" : " --ca-file <its root certificate>");
}

static void explain_self_signed(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	bool pinned_ok = dc_tlscheck_is_pin(k->o->cert_name) && r->clients[DC_CLIENT_TS_GO].ok;
	struct dc_finding *x = dc_tlscheck_issue(r, pinned_ok ? DC_SEV_WARNING : DC_SEV_ERROR, w->f->code, w->path, "the certificate is self-signed",
		  "the certificate \"%s\" is self-signed: %s", w->info.subject,
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
			w->info.sha256, w->crt, ip);
}

static void explain_expired(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	char brief[400];
	char when[32];
	dc_time_format(w->info.not_after, when, sizeof(when));
	dc_tlscheck_textf(brief, sizeof(brief), "the certificate expired on %s", when);
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, brief,
		  "the certificate expired on %s, %ld day%s ago%s", when, -w->info.days_left, w->info.days_left == -1 ? "" : "s",
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
}

static void explain_intermediate_expired(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	char brief[400];
	char when[32];
	dc_time_format(w->info.not_after, when, sizeof(when));
	dc_tlscheck_textf(brief, sizeof(brief), "the intermediate certificate \"%s\" expired on %s", w->info.common_name, when);
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, brief,
		  "the intermediate \"%s\" expired on %s; the leaf itself is still valid, which makes curl's \"certificate "
		  "has expired\" misleading", w->info.subject, when);
	dc_finding_hint(x, "install the current chain from the ACME client (acme.sh --fullchain-file, certbot fullchain.pem) "
			   "instead of a hand-made bundle as %s, and restart derper", w->crt);
}

static void explain_not_yet_valid(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	char brief[400];
	char when[32];
	dc_time_format(w->info.not_before, when, sizeof(when));
	char server[400] = "";
	if (r->conn.have_date) {
		char sd[32];
		dc_time_format(r->conn.server_date, sd, sizeof(sd));
		dc_tlscheck_textf(server, sizeof(server), ". The server's clock says %s (%+lld s from this machine's)%s", sd,
			 r->conn.skew_s, r->conn.server_date >= w->info.not_before ? "; by its clock the certificate is valid, so this machine's clock is probably wrong" : "");
	}
	dc_tlscheck_textf(brief, sizeof(brief), "the certificate is not valid until %s: check the clocks", when);
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, brief, "\"%s\" is valid only from %s, %ld day%s from now by this machine's clock%s",
		  w->info.subject, when, (long)((w->info.not_before - k->now) / 86400),
		  (w->info.not_before - k->now) / 86400 == 1 ? "" : "s", server);
	dc_finding_hint(x, "check the clock of this machine and of the clients (timedatectl; turn on NTP with timedatectl set-ntp true); "
			   "if the clocks are right, the certificate was issued with a future start date: reissue it");
}

static void explain_name_mismatch(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	char brief[400];
	const struct dc_cert_info *leaf = &r->certs[0].info;
	bool wildcard = strstr(leaf->sans, "DNS:*.") != NULL;
	bool other = strcmp(w->f->code, "wrong-domain") == 0;
	dc_tlscheck_textf(brief, sizeof(brief), "the certificate is for %s, not %s", leaf->sans[0] ? leaf->sans : leaf->subject, w->name);
	char derper[200] = "";
	if (r->from_files)
		dc_tlscheck_textf(derper, sizeof(derper), ". derper refuses to start with it: cert invalid for hostname \"%s\"", w->name);
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, "chain[0]", brief, "%s %s, not for %s%s%s",
		  other ? "the certificate is for another domain:" : "the certificate is valid for",
		  leaf->sans[0] ? leaf->sans : "no names at all", w->name,
		  other ? (r->from_files ? "" : "; the port serves some other site's certificate")
			: wildcard ? ". A wildcard covers exactly one label: *.example.com matches a.example.com, not example.com or a.b.example.com" : "",
		  derper);
	if (other && r->from_files)
		dc_finding_hint(x, "put the certificate for %s in %s and restart derper", w->name, w->crt);
	else if (other)
		dc_finding_hint(x, "derper serves %s: put the certificate for %s there and restart derper; if another service (a proxy, a web server) answers on this port, point DERPPort at derper",
				w->crt, w->name);
	else
		dc_finding_hint(x, "make the DERP map's HostName, derper's --hostname and a name in the certificate the same: reissue it for %s (acme.sh --issue -d %s), or set \"HostName\" (or \"CertName\") to a name it has",
				w->name, w->name);
}

static void explain_cn_only(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, "chain[0]", "the certificate has no subjectAltName (Common Name only): Tailscale rejects it",
		  "the certificate has no subjectAltName; \"%s\" is only its Common Name. curl accepts that, but Go, Tailscale "
		  "and browsers ignore the Common Name%s", r->certs[0].info.common_name,
		  r->from_files ? "; derper refuses to start with it (cert invalid for hostname)" : "");
	dc_finding_hint(x, "reissue it with a subjectAltName: openssl req ... -addext \"subjectAltName=DNS:%s\" (ACME clients always add one)", w->name);
}

static void explain_ip_san_missing(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	bool tailscale_ok = r->clients[DC_CLIENT_TS_GO].ok;
	struct dc_finding *x = dc_tlscheck_issue(r, tailscale_ok ? DC_SEV_WARNING : DC_SEV_ERROR, w->f->code, "chain[0]",
		  "the certificate has no IP address entry for the IP HostName",
		  "%s is an IP address and the certificate has no IP entry for it (it has %s). Tailscale checks no name for an "
		  "IP HostName, but %s %s", w->name, r->certs[0].info.sans[0] ? r->certs[0].info.sans : "no names", w->who,
		  w->f->clients == (1u << DC_CLIENT_CURL) ? "does" : "do");
	dc_finding_hint(x, "reissue it with \"subjectAltName=IP:%s\", or give the node a DNS HostName with a matching certificate", w->name);
}

static void explain_no_server_auth(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, "the certificate is not for TLS servers (no serverAuth)",
		  "\"%s\" is not for TLS servers: its extended key usage lacks serverAuth", w->info.subject);
	dc_finding_hint(x, "reissue it with extendedKeyUsage=serverAuth (or with no extendedKeyUsage at all)");
}

static void explain_weak_signature(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, "a certificate is signed with SHA-1",
		  "\"%s\" is signed with %s (SHA-1), which OpenSSL, Go and browsers reject", w->info.subject, w->info.signature);
	dc_finding_hint(x, "reissue it signed with SHA-256 (openssl ... -sha256; every ACME CA already does)");
}

static void explain_weak_key(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, "the certificate's key is too small",
		  "the key of \"%s\" is %s: rejected by %s (OpenSSL at security level 2 wants RSA 2048 or more); Go "
		  "and Tailscale still accept it", w->info.subject, w->info.key, w->who);
	dc_finding_hint(x, "reissue it with an EC P-256 key (acme.sh --keylength ec-256) or RSA 2048 or more");
}

static void explain_bad_signature(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, w->path, "a certificate signature does not verify",
		  "the signature on \"%s\" does not verify with its issuer's key: the certificate was altered, or the chain mixes "
		  "two CAs with the same name", w->info.subject);
	dc_finding_hint(x, "reinstall the certificate and chain from the CA as %s and restart derper", w->crt);
}

static void explain_pin_mismatch(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, "chain[0]", "the certificate is not the one CertName pins",
		  "CertName pins %s, but the served certificate's SHA-256 is %s", k->o->cert_name, r->certs[0].info.sha256);
	dc_finding_hint(x, "set \"CertName\": \"sha256-raw:%s\" (lowercase hex, no colons: openssl x509 -in %s -outform DER | sha256sum)",
			r->certs[0].info.sha256, w->crt);
}

static void explain_pin_multiple_certs(const struct why *w)
{
	struct check *k = w->k;
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, "chain", "a sha256-raw: CertName needs exactly one certificate, the server sends more",
		  "with a sha256-raw: CertName Tailscale wants exactly one certificate, but the server sends %zu", k->served_real + 1);
	dc_finding_hint(x, "put only the pinned certificate in %s and restart derper", w->crt);
}

static void explain_no_certificate(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, w->f->code, "chain", "the server presents no certificate",
		  "the server presented no certificate of its own (only derper's key certificate)");
	dc_finding_hint(x, "put the certificate in %s and restart derper", w->crt);
}

static void explain_verify_failed(const struct why *w)
{
	struct dc_cert_report *r = w->k->r;
	struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_ERROR, "verify-failed", w->path, NULL, "\"%s\" does not verify: %s (OpenSSL error %d at depth %d)",
		  w->info.subject, X509_verify_cert_error_string(w->f->p->code), w->f->p->code, w->f->p->depth);
	dc_finding_hint(x, "reinstall the certificate and chain from the CA as %s and restart derper", w->crt);
}

/* Finding codes (tlsverify.c) and who words them; any other code is "verify-failed". */
static const struct {
	const char *code;
	void (*explain)(const struct why *w);
} explainers[] = {
	{"chain-incomplete", explain_chain_incomplete_why},
	{"wrong-intermediate", explain_wrong_intermediate},
	{"unknown-issuer", explain_unknown_issuer},
	{"untrusted-root", explain_untrusted_root},
	{"self-signed", explain_self_signed},
	{"expired", explain_expired},
	{"intermediate-expired", explain_intermediate_expired},
	{"not-yet-valid", explain_not_yet_valid},
	{"name-mismatch", explain_name_mismatch},
	{"wrong-domain", explain_name_mismatch},
	{"cn-only", explain_cn_only},
	{"ip-san-missing", explain_ip_san_missing},
	{"no-server-auth", explain_no_server_auth},
	{"weak-signature", explain_weak_signature},
	{"weak-key", explain_weak_key},
	{"bad-signature", explain_bad_signature},
	{"pin-mismatch", explain_pin_mismatch},
	{"pin-multiple-certs", explain_pin_multiple_certs},
	{"no-certificate", explain_no_certificate},
};

static void explain(struct check *k, const struct found *f)
{
	struct why w = {.k = k, .f = f, .cert = f->p->cert ? f->p->cert : k->leaf};
	struct dc_cert_report *r = k->r;
	struct dc_chain_cert *cc = dc_tlscheck_report_find(r, w.cert);
	dc_tlscheck_describe(k, w.cert, &w.info);
	dc_tlscheck_textf(w.path, sizeof(w.path), "chain");
	if (cc)
		dc_tlscheck_textf(w.path, sizeof(w.path), "chain[%d]", (int)(cc - r->certs));
	w.name = f->first == DC_CLIENT_TS_GO || f->first == DC_CLIENT_TS_PLATFORM ? dc_tlscheck_go_name(k->o) : k->o->host_name;
	crt_path(k, "crt", w.crt, sizeof(w.crt));
	clients_text(f->clients, w.who, sizeof(w.who));
	for (size_t i = 0; i < DC_ARRAY_LEN(explainers); i++)
		if (strcmp(explainers[i].code, f->code) == 0) {
			explainers[i].explain(&w);
			return;
		}
	explain_verify_failed(&w);
}

static int compare_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	return dc_tlsverify_code_rank(x->code) - dc_tlsverify_code_rank(y->code);
}

void dc_tlsexplain_problems(struct check *k)
{
	struct found all[48];
	size_t n = 0;
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		const struct vpass *v = &k->pass[c];
		for (size_t i = 0; i < v->count; i++) {
			const char *code = dc_tlsverify_classify(k, (enum dc_client)c, &v->p[i]);
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
	struct dc_chain_cert *c = dc_tlscheck_report_find(k->r, cert);
	return c && c->origin != DC_ORIGIN_AIA ? c->index : -1;
}

void dc_tlsexplain_structure(struct check *k)
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
		if (c->role == DC_ROLE_ROOT && !dc_tlscheck_is_pin(k->o->cert_name)) {
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
		if (i > 0 && !dc_tlscheck_on_complete_path(k, c->cert))
			continue;
		char path[32], when[32];
		dc_tlscheck_textf(path, sizeof(path), "chain[%zu]", i);
		dc_time_format(c->info.not_after, when, sizeof(when));
		struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_WARNING, "expires-soon", path, NULL, "\"%s\" expires on %s, in %ld day%s",
					     c->info.subject, when, c->info.days_left, c->info.days_left == 1 ? "" : "s");
		dc_finding_hint(x, "renew it now and restart derper (manual certificates are never reloaded); a working ACME renewal replaces it 30 days before expiry");
	}
}
