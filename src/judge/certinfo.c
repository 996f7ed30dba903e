#include "derpcheck/judge/certinfo.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "derpcheck/net/tlsconn.h"

#include "derpcheck/net/ossl.h"

/* Copy len bytes of untrusted text, replacing anything that is not printable ASCII. */
static void copy_printable(char *out, size_t n, const unsigned char *s, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < n; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[k] = '\0';
}

/* Whether s[0..len) is well-formed UTF-8 (so it can go into JSON and onto a terminal as is). */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 4;
		if (more == 4 || (c & 0xfe) == 0xc0 || i + more >= len + (more ? 0 : 1))
			return false;
		for (size_t k = 1; k <= more; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

static void name_oneline(const X509_NAME *name, char *out, size_t n)
{
	out[0] = '\0';
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	/* Like the openssl CLI, but without escaping UTF-8 into \XX sequences. */
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	if (len > 0) {
		/* Well-formed UTF-8 is kept; control characters and broken sequences become '?'. */
		bool utf8 = valid_utf8((const unsigned char *)data, (size_t)len);
		size_t k = 0;
		for (long i = 0; i < len && k + 1 < n; i++) {
			unsigned char c = (unsigned char)data[i];
			out[k++] = c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8) ? '?' : (char)c;
		}
		out[k] = '\0';
		/* Do not leave half a UTF-8 sequence where the buffer cut it. */
		size_t lead = k;
		while (lead > 0 && ((unsigned char)out[lead - 1] & 0xc0) == 0x80)
			lead--;
		if (lead > 0 && (unsigned char)out[lead - 1] >= 0xc0) {
			unsigned char c = (unsigned char)out[lead - 1];
			size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (k - (lead - 1) < need)
				out[lead - 1] = '\0';
		}
	}
	BIO_free(bio);
}

static void append(char *out, size_t n, const char *text)
{
	size_t used = strlen(out);
	if (used + 1 < n)
		snprintf(out + used, n - used, "%s%s", used ? ", " : "", text);
}

static void describe_sans(X509 *cert, struct dc_cert_info *info)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (!names)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char text[300], value[260];
		if (g->type == GEN_DNS || g->type == GEN_URI || g->type == GEN_EMAIL) {
			const ASN1_STRING *s = g->d.ia5;
			copy_printable(value, sizeof(value), ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
			const char *label = g->type == GEN_DNS ? "DNS" : g->type == GEN_URI ? "URI" : "email";
			snprintf(text, sizeof(text), "%s:%s", label, value);
			info->dns_sans += g->type == GEN_DNS;
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *ip = g->d.iPAddress;
			int len = ASN1_STRING_length(ip);
			char addr[INET6_ADDRSTRLEN] = "?";
			if (len == 4 || len == 16)
				inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), addr, sizeof(addr));
			snprintf(text, sizeof(text), "IP:%s", addr);
			info->ip_sans++;
		} else {
			snprintf(text, sizeof(text), "other");
		}
		append(info->sans, sizeof(info->sans), text);
	}
	GENERAL_NAMES_free(names);
}

static void describe_aia(X509 *cert, struct dc_cert_info *info)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
	if (!aia)
		return;
	for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia) && info->aia_count < DC_CERT_MAX_AIA; i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI)
			continue;
		const ASN1_STRING *uri = ad->location->d.uniformResourceIdentifier;
		copy_printable(info->aia[info->aia_count], sizeof(info->aia[0]), ASN1_STRING_get0_data(uri),
			       (size_t)ASN1_STRING_length(uri));
		info->aia_count++;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
}

static void hex_colons(const unsigned char *b, size_t len, char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < len && k + 4 < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%02X", i ? ":" : "", b[i]);
}

/* Names for the bits that are set, ", "-separated, in a fixed order. */
static void bit_names(uint32_t bits, const uint32_t *flags, const char *const *names, size_t count, char *out,
		      size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < count; i++)
		if (bits & flags[i])
			snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? ", " : "", names[i]);
}

/* The first URI among general names, as printable text. */
static void first_uri(const GENERAL_NAMES *names, char *out, size_t n)
{
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !out[0]; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_URI)
			copy_printable(out, n, ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
				       (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier));
	}
}

/* The extensions people look at when a chain is questioned (RFC 5280 §4.2). */
static void describe_extensions(X509 *cert, uint32_t flags, struct dc_cert_info *info)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex)
		copy_printable(info->serial, sizeof(info->serial), (const unsigned char *)hex, strlen(hex));
	OPENSSL_free(hex);
	BN_free(bn);
	static const uint32_t ku_flags[] = {KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION, KU_KEY_ENCIPHERMENT,
					    KU_DATA_ENCIPHERMENT, KU_KEY_AGREEMENT, KU_KEY_CERT_SIGN, KU_CRL_SIGN};
	static const char *const ku_names[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
					       "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign"};
	if (flags & EXFLAG_KUSAGE)
		bit_names(X509_get_key_usage(cert), ku_flags, ku_names, DC_ARRAY_LEN(ku_flags), info->key_usage,
			  sizeof(info->key_usage));
	static const uint32_t xku_flags[] = {XKU_SSL_SERVER, XKU_SSL_CLIENT, XKU_CODE_SIGN, XKU_SMIME,
					     XKU_OCSP_SIGN, XKU_TIMESTAMP, XKU_ANYEKU};
	static const char *const xku_names[] = {"serverAuth", "clientAuth", "codeSigning", "emailProtection",
						"OCSPSigning", "timeStamping", "anyExtendedKeyUsage"};
	if (flags & EXFLAG_XKUSAGE)
		bit_names(X509_get_extended_key_usage(cert), xku_flags, xku_names, DC_ARRAY_LEN(xku_flags),
			  info->ext_key_usage, sizeof(info->ext_key_usage));
	if (flags & EXFLAG_BCONS) {
		long pathlen = X509_get_pathlen(cert);
		if (!(flags & EXFLAG_CA))
			snprintf(info->basic_constraints, sizeof(info->basic_constraints), "not a CA");
		else if (pathlen >= 0)
			snprintf(info->basic_constraints, sizeof(info->basic_constraints), "CA, pathlen %ld", pathlen);
		else
			snprintf(info->basic_constraints, sizeof(info->basic_constraints), "CA");
	}
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	if (ski)
		hex_colons(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), info->ski, sizeof(info->ski));
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
	if (aki)
		hex_colons(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki), info->aki, sizeof(info->aki));
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia) && !info->ocsp[0]; i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) == NID_ad_OCSP && ad->location->type == GEN_URI)
			copy_printable(info->ocsp, sizeof(info->ocsp), ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier),
				       (size_t)ASN1_STRING_length(ad->location->d.uniformResourceIdentifier));
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	CRL_DIST_POINTS *crls = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	for (int i = 0; crls && i < sk_DIST_POINT_num(crls) && !info->crl[0]; i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(crls, i);
		if (dp->distpoint && dp->distpoint->type == 0)
			first_uri(dp->distpoint->name.fullname, info->crl, sizeof(info->crl));
	}
	CRL_DIST_POINTS_free(crls);
}

static const char *curve_short_name(const char *group)
{
	if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
		return "P-256";
	if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
		return "P-384";
	if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
		return "P-521";
	return group;
}

static void describe_key(X509 *cert, struct dc_cert_info *info)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	if (!key) {
		snprintf(info->key, sizeof(info->key), "unreadable");
		ERR_clear_error();
		return;
	}
	info->key_bits = EVP_PKEY_get_bits(key);
	info->key_security_bits = EVP_PKEY_get_security_bits(key);
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		snprintf(info->key, sizeof(info->key), "RSA %d", info->key_bits);
		break;
	case EVP_PKEY_EC: {
		char group[64] = "";
		size_t len = 0;
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) != 1)
			snprintf(group, sizeof(group), "%d bits", info->key_bits);
		snprintf(info->key, sizeof(info->key), "EC %s", curve_short_name(group));
		break;
	}
	case EVP_PKEY_ED25519:
		snprintf(info->key, sizeof(info->key), "Ed25519");
		break;
	case EVP_PKEY_ED448:
		snprintf(info->key, sizeof(info->key), "Ed448");
		break;
	case EVP_PKEY_DSA:
		snprintf(info->key, sizeof(info->key), "DSA %d", info->key_bits);
		break;
	default:
		snprintf(info->key, sizeof(info->key), "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
		break;
	}
	ERR_clear_error();
}

static void describe_signature(X509 *cert, struct dc_cert_info *info)
{
	int nid = X509_get_signature_nid(cert);
	snprintf(info->signature, sizeof(info->signature), "%s", nid != NID_undef ? OBJ_nid2ln(nid) : "unknown");
	int md = NID_undef, pk = NID_undef, secbits = 0;
	uint32_t flags = 0;
	if (X509_get_signature_info(cert, &md, &pk, &secbits, &flags) == 1)
		info->weak_signature = md == NID_sha1 || md == NID_md5 || md == NID_md5_sha1 || (secbits > 0 && secbits < 80);
	ERR_clear_error();
	const char *hash = md == NID_sha1 ? "SHA1" : md == NID_sha256 ? "SHA256" : md == NID_sha384 ? "SHA384"
			 : md == NID_sha512 ? "SHA512" : md == NID_md5 ? "MD5" : NULL;
	if (pk == NID_rsaEncryption && hash)
		snprintf(info->go_signature, sizeof(info->go_signature), "%s-RSA", hash);
	else if (pk == NID_X9_62_id_ecPublicKey && hash)
		snprintf(info->go_signature, sizeof(info->go_signature), "ECDSA-%s", hash);
	else if (pk == NID_rsassaPss && hash)
		snprintf(info->go_signature, sizeof(info->go_signature), "%s-RSAPSS", hash);
	else if (nid == NID_ED25519)
		snprintf(info->go_signature, sizeof(info->go_signature), "Ed25519");
	else
		snprintf(info->go_signature, sizeof(info->go_signature), "%s", info->signature);
}

time_t dc_asn1_time_epoch(const ASN1_TIME *t)
{
	dc_ossl_need();
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return (time_t)-1;
	return timegm(&tm);
}

void dc_time_format(time_t t, char *out, size_t n)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm)) {
		snprintf(out, n, "unknown");
		return;
	}
	strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void dc_time_format_go(time_t t, char *out, size_t n)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm)) {
		snprintf(out, n, "unknown");
		return;
	}
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dc_cert_describe(X509 *cert, time_t now, struct dc_cert_info *info)
{
	dc_ossl_need();
	memset(info, 0, sizeof(*info));
	name_oneline(X509_get_subject_name(cert), info->subject, sizeof(info->subject));
	name_oneline(X509_get_issuer_name(cert), info->issuer, sizeof(info->issuer));
	X509_NAME *subject = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	if (idx >= 0) {
		const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
		copy_printable(info->common_name, sizeof(info->common_name), ASN1_STRING_get0_data(cn),
			       (size_t)ASN1_STRING_length(cn));
	}
	describe_sans(cert, info);
	info->not_before = dc_asn1_time_epoch(X509_get0_notBefore(cert));
	info->not_after = dc_asn1_time_epoch(X509_get0_notAfter(cert));
	if (info->not_after != (time_t)-1) {
		info->expired = now > info->not_after;
		info->days_left = (long)((info->not_after - now) / 86400);
	}
	info->not_yet_valid = info->not_before != (time_t)-1 && now < info->not_before;
	describe_key(cert, info);
	describe_signature(cert, info);
	dc_tls_cert_sha256_hex(cert, info->sha256);
	/* X509_get_extension_flags caches the decoded extensions; it also sets EXFLAG_INVALID. */
	uint32_t flags = X509_get_extension_flags(cert);
	info->is_ca = X509_check_ca(cert) != 0;
	info->self_signed = X509_self_signed(cert, 0) == 1;
	info->has_eku = (flags & EXFLAG_XKUSAGE) != 0;
	info->server_auth = !info->has_eku || (X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) != 0;
	describe_aia(cert, info);
	describe_extensions(cert, flags, info);
	if (dc_tls_is_metacert(cert)) {
		STACK_OF(X509) *one = sk_X509_new_null();
		uint8_t key[32];
		int version = 0;
		sk_X509_push(one, cert);
		if (dc_tls_find_derpkey(one, key, &version) == 0) {
			info->metacert = true;
			info->derp_version = version;
			for (int i = 0; i < 32; i++)
				snprintf(info->derp_key + 2 * i, 3, "%02x", key[i]);
		}
		sk_X509_free(one);
	}
	ERR_clear_error();
}

const char *dc_cert_format_name(enum dc_cert_format f)
{
	switch (f) {
	case DC_CERT_DER: return "DER";
	case DC_CERT_PEM: return "PEM";
	case DC_CERT_PKCS7: return "PKCS#7";
	}
	return "?";
}

void dc_certs_free(STACK_OF(X509) *certs)
{
	dc_ossl_need();
	sk_X509_pop_free(certs, X509_free); /* OSSL_STACK_OF_X509_free is 3.2+ */
}

static int take_pkcs7(PKCS7 *p7, size_t max, STACK_OF(X509) *out)
{
	if (!p7 || OBJ_obj2nid(p7->type) != NID_pkcs7_signed || !p7->d.sign || !p7->d.sign->cert)
		return 0;
	STACK_OF(X509) *certs = p7->d.sign->cert;
	for (int i = 0; i < sk_X509_num(certs) && (size_t)sk_X509_num(out) < max; i++) {
		X509 *c = sk_X509_value(certs, i);
		X509_up_ref(c);
		sk_X509_push(out, c);
	}
	return sk_X509_num(out);
}

int dc_certs_parse(const void *data, size_t len, size_t max, STACK_OF(X509) **out, enum dc_cert_format *format,
		   struct dc_error *err)
{
	dc_ossl_need();
	*out = NULL;
	if (len == 0 || len > (size_t)INT32_MAX)
		return dc_error_set(err, NULL, len ? "too large to be a certificate" : "empty: no certificate");
	STACK_OF(X509) *certs = sk_X509_new_null();
	enum dc_cert_format fmt = DC_CERT_DER;
	/* DER: a single certificate that uses every byte. */
	const unsigned char *p = data;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (cert && p == (const unsigned char *)data + len) {
		sk_X509_push(certs, cert);
		goto done;
	}
	X509_free(cert);
	/* PKCS#7 in DER (.p7c), as some CAs publish. */
	p = data;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	int n = take_pkcs7(p7, max, certs);
	PKCS7_free(p7);
	if (n > 0) {
		fmt = DC_CERT_PKCS7;
		goto done;
	}
	/* PEM: every CERTIFICATE block in order (other blocks are skipped), or a PKCS7 block. */
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *body = NULL;
		long blen = 0;
		if (PEM_read_bio(bio, &name, &header, &body, &blen) != 1)
			break;
		const unsigned char *q = body;
		if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
		    strcmp(name, PEM_STRING_X509_TRUSTED) == 0) {
			X509 *c = strcmp(name, PEM_STRING_X509_TRUSTED) == 0 ? d2i_X509_AUX(NULL, &q, blen)
									      : d2i_X509(NULL, &q, blen);
			if (c && (size_t)sk_X509_num(certs) < max)
				sk_X509_push(certs, c);
			else
				X509_free(c);
			fmt = DC_CERT_PEM;
		} else if (strcmp(name, PEM_STRING_PKCS7) == 0) {
			PKCS7 *pp = d2i_PKCS7(NULL, &q, blen);
			if (take_pkcs7(pp, max, certs) > 0)
				fmt = DC_CERT_PKCS7;
			PKCS7_free(pp);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(body);
	}
	BIO_free(bio);
done:
	ERR_clear_error();
	if (sk_X509_num(certs) == 0) {
		sk_X509_free(certs);
		return dc_error_set(err, NULL, "not a certificate in DER, PEM or PKCS#7 form");
	}
	*out = certs;
	if (format)
		*format = fmt;
	return sk_X509_num(certs);
}
