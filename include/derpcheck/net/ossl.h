/*
 * OpenSSL, loaded when TLS is first needed (dlopen of libssl.so.3), not at start-up.
 *
 * Mapping libcrypto costs every derpcheck process about 130 page faults and 5 ms of CPU
 * before main() (its relocations dirty 400 KiB of data), so commands that never touch
 * TLS (netcheck without --check-derp, stun, validate, status) do not load it at all.
 *
 * For the core's .c files only. Include it after any other header: it includes every
 * OpenSSL header the core uses, then turns each OpenSSL function the core calls into a
 * call through dc_ossl, a table filled by dlsym. Rule: every exported function of a module
 * that calls OpenSSL starts with dc_ossl_need() (cheap once loaded). A new OpenSSL call
 * needs its name in DC_OSSL_FUNCTIONS and a #define below; derpcheck is linked without
 * -lssl -lcrypto, so a call left out is a link error, never a silent direct call.
 *
 * Programs linked with OpenSSL themselves (unit tests, test servers, fuzz targets) get
 * the table filled before main().
 */
#ifndef DERPCHECK_OSSL_H
#define DERPCHECK_OSSL_H

#include <stdbool.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DC_OSSL_FUNCTIONS(X) \
	X(SSL_CIPHER_get_name) \
	X(SSL_CTX_ctrl) \
	X(SSL_CTX_free) \
	X(SSL_CTX_new) \
	X(SSL_CTX_set_info_callback) \
	X(SSL_CTX_set_security_level) \
	X(SSL_CTX_set_verify) \
	X(SSL_alert_desc_string_long) \
	X(SSL_connect) \
	X(SSL_ctrl) \
	X(SSL_free) \
	X(SSL_get_current_cipher) \
	X(SSL_get_error) \
	X(SSL_get_ex_data) \
	X(SSL_get_peer_cert_chain) \
	X(SSL_get_version) \
	X(SSL_get0_alpn_selected) \
	X(SSL_set_alpn_protos) \
	X(SSL_new) \
	X(SSL_pending) \
	X(SSL_read) \
	X(SSL_set_ex_data) \
	X(SSL_set_fd) \
	X(SSL_version) \
	X(SSL_write) \
	X(TLS_client_method) \
	X(OPENSSL_init_ssl) \
	X(ASN1_INTEGER_get) \
	X(ASN1_INTEGER_to_BN) \
	X(ASN1_STRING_get0_data) \
	X(ASN1_STRING_length) \
	X(ASN1_TIME_to_tm) \
	X(AUTHORITY_INFO_ACCESS_free) \
	X(BIO_ctrl) \
	X(BIO_free) \
	X(BIO_new) \
	X(BIO_new_mem_buf) \
	X(BIO_s_mem) \
	X(BN_bn2hex) \
	X(BN_free) \
	X(CRYPTO_free) \
	X(CRL_DIST_POINTS_free) \
	X(ERR_clear_error) \
	X(ERR_error_string_n) \
	X(ERR_peek_last_error) \
	X(EVP_PKEY_eq) \
	X(EVP_PKEY_free) \
	X(EVP_PKEY_get_base_id) \
	X(EVP_PKEY_get_bits) \
	X(EVP_PKEY_get_security_bits) \
	X(EVP_PKEY_get_utf8_string_param) \
	X(EVP_sha256) \
	X(GENERAL_NAMES_free) \
	X(OBJ_nid2ln) \
	X(OBJ_nid2sn) \
	X(OBJ_obj2nid) \
	X(OPENSSL_sk_dup) \
	X(OPENSSL_sk_free) \
	X(OPENSSL_sk_new_null) \
	X(OPENSSL_sk_num) \
	X(OPENSSL_sk_pop_free) \
	X(OPENSSL_sk_push) \
	X(OPENSSL_sk_value) \
	X(PEM_read_bio) \
	X(PEM_read_bio_PrivateKey) \
	X(PEM_read_bio_X509) \
	X(PEM_write_X509) \
	X(PEM_write_bio_X509) \
	X(PKCS7_free) \
	X(X509_NAME_ENTRY_get_data) \
	X(X509_NAME_get_entry) \
	X(X509_NAME_get_index_by_NID) \
	X(X509_NAME_get_text_by_NID) \
	X(X509_NAME_oneline) \
	X(X509_NAME_print_ex) \
	X(X509_STORE_CTX_free) \
	X(X509_STORE_CTX_get0_param) \
	X(X509_STORE_CTX_get1_chain) \
	X(X509_STORE_CTX_get_current_cert) \
	X(X509_STORE_CTX_get_error) \
	X(X509_STORE_CTX_get_error_depth) \
	X(X509_STORE_CTX_get_ex_data) \
	X(X509_STORE_CTX_get_num_untrusted) \
	X(X509_STORE_CTX_init) \
	X(X509_STORE_CTX_new) \
	X(X509_STORE_CTX_set_ex_data) \
	X(X509_STORE_CTX_set_verify_cb) \
	X(X509_STORE_add_cert) \
	X(X509_STORE_free) \
	X(X509_STORE_load_file) \
	X(X509_STORE_new) \
	X(X509_STORE_up_ref) \
	X(X509_STORE_set_default_paths) \
	X(X509_VERIFY_PARAM_set1_host) \
	X(X509_VERIFY_PARAM_set1_ip_asc) \
	X(X509_VERIFY_PARAM_set_auth_level) \
	X(X509_VERIFY_PARAM_set_hostflags) \
	X(X509_VERIFY_PARAM_set_purpose) \
	X(X509_VERIFY_PARAM_set_time) \
	X(X509_check_ca) \
	X(X509_check_host) \
	X(X509_check_ip_asc) \
	X(X509_check_issued) \
	X(X509_cmp) \
	X(X509_cmp_current_time) \
	X(X509_cmp_time) \
	X(X509_digest) \
	X(X509_free) \
	X(X509_get0_notAfter) \
	X(X509_get0_authority_key_id) \
	X(X509_get0_notBefore) \
	X(X509_get0_pubkey) \
	X(X509_get0_serialNumber) \
	X(X509_get0_subject_key_id) \
	X(X509_get_ext_d2i) \
	X(X509_get_extended_key_usage) \
	X(X509_get_extension_flags) \
	X(X509_get_issuer_name) \
	X(X509_get_key_usage) \
	X(X509_get_pathlen) \
	X(X509_get_signature_info) \
	X(X509_get_signature_nid) \
	X(X509_get_subject_name) \
	X(X509_self_signed) \
	X(X509_up_ref) \
	X(X509_verify_cert) \
	X(X509_verify_cert_error_string) \
	X(d2i_PKCS7) \
	X(d2i_X509) \
	X(d2i_X509_AUX) \
	X(OCSP_cert_to_id) \
	X(OCSP_REQUEST_new) \
	X(OCSP_REQUEST_free) \
	X(OCSP_request_add0_id) \
	X(i2d_OCSP_REQUEST) \
	X(d2i_OCSP_RESPONSE) \
	X(OCSP_RESPONSE_free) \
	X(OCSP_response_status) \
	X(OCSP_response_status_str) \
	X(OCSP_response_get1_basic) \
	X(OCSP_BASICRESP_free) \
	X(OCSP_basic_verify) \
	X(OCSP_resp_find_status) \
	X(OCSP_crl_reason_str) \
	X(OCSP_CERTID_free) \
	X(X509_get1_ocsp) \
	X(X509_email_free) \
	X(EVP_EncodeBlock) \
	X(X509_STORE_set_flags) \
	X(X509_STORE_get0_param) \
	X(d2i_X509_CRL) \
	X(PEM_read_bio_X509_CRL) \
	X(X509_CRL_free) \
	X(X509_CRL_verify) \
	X(X509_CRL_get_issuer) \
	X(X509_CRL_get0_lastUpdate) \
	X(X509_CRL_get0_nextUpdate) \
	X(X509_CRL_get0_by_serial) \
	X(X509_REVOKED_get0_revocationDate) \
	X(X509_REVOKED_get_ext_d2i) \
	X(ASN1_ENUMERATED_get) \
	X(ASN1_ENUMERATED_free) \
	X(X509_NAME_cmp)

struct dc_ossl_table {
#define DC_OSSL_POINTER(name) __typeof__(name) *name;
	DC_OSSL_FUNCTIONS(DC_OSSL_POINTER)
#undef DC_OSSL_POINTER
};
extern struct dc_ossl_table dc_ossl;

/* Load OpenSSL once (thread-safe). Without libssl3 derpcheck cannot do TLS at all: like an
 * allocation failure, that is reported on stderr and ends the process (exit status 2). */
void dc_ossl_need(void);
/* Whether OpenSSL has been loaded in this process (for tests). */
bool dc_ossl_loaded(void);

/* src/net/ossl.c fills the table: it needs the names themselves. */
#ifndef DC_OSSL_TABLE_ITSELF

#define SSL_CIPHER_get_name (*dc_ossl.SSL_CIPHER_get_name)
#define SSL_CTX_ctrl (*dc_ossl.SSL_CTX_ctrl)
#define SSL_CTX_free (*dc_ossl.SSL_CTX_free)
#define SSL_CTX_new (*dc_ossl.SSL_CTX_new)
#define SSL_CTX_set_info_callback (*dc_ossl.SSL_CTX_set_info_callback)
#define SSL_CTX_set_security_level (*dc_ossl.SSL_CTX_set_security_level)
#define SSL_CTX_set_verify (*dc_ossl.SSL_CTX_set_verify)
#define SSL_alert_desc_string_long (*dc_ossl.SSL_alert_desc_string_long)
#define SSL_connect (*dc_ossl.SSL_connect)
#define SSL_ctrl (*dc_ossl.SSL_ctrl)
#define SSL_free (*dc_ossl.SSL_free)
#define SSL_get_current_cipher (*dc_ossl.SSL_get_current_cipher)
#define SSL_get_error (*dc_ossl.SSL_get_error)
#define SSL_get_ex_data (*dc_ossl.SSL_get_ex_data)
#define SSL_get_peer_cert_chain (*dc_ossl.SSL_get_peer_cert_chain)
#define SSL_get_version (*dc_ossl.SSL_get_version)
#define SSL_get0_alpn_selected (*dc_ossl.SSL_get0_alpn_selected)
#define SSL_set_alpn_protos (*dc_ossl.SSL_set_alpn_protos)
#define SSL_new (*dc_ossl.SSL_new)
#define SSL_pending (*dc_ossl.SSL_pending)
#define SSL_read (*dc_ossl.SSL_read)
#define SSL_set_ex_data (*dc_ossl.SSL_set_ex_data)
#define SSL_set_fd (*dc_ossl.SSL_set_fd)
#define SSL_version (*dc_ossl.SSL_version)
#define SSL_write (*dc_ossl.SSL_write)
#define TLS_client_method (*dc_ossl.TLS_client_method)
#define OPENSSL_init_ssl (*dc_ossl.OPENSSL_init_ssl)
#define ASN1_INTEGER_get (*dc_ossl.ASN1_INTEGER_get)
#define ASN1_INTEGER_to_BN (*dc_ossl.ASN1_INTEGER_to_BN)
#define ASN1_STRING_get0_data (*dc_ossl.ASN1_STRING_get0_data)
#define ASN1_STRING_length (*dc_ossl.ASN1_STRING_length)
#define ASN1_TIME_to_tm (*dc_ossl.ASN1_TIME_to_tm)
#define AUTHORITY_INFO_ACCESS_free (*dc_ossl.AUTHORITY_INFO_ACCESS_free)
#define BIO_ctrl (*dc_ossl.BIO_ctrl)
#define BIO_free (*dc_ossl.BIO_free)
#define BIO_new (*dc_ossl.BIO_new)
#define BIO_new_mem_buf (*dc_ossl.BIO_new_mem_buf)
#define BIO_s_mem (*dc_ossl.BIO_s_mem)
#define BN_bn2hex (*dc_ossl.BN_bn2hex)
#define BN_free (*dc_ossl.BN_free)
#define CRYPTO_free (*dc_ossl.CRYPTO_free)
#define CRL_DIST_POINTS_free (*dc_ossl.CRL_DIST_POINTS_free)
#define ERR_clear_error (*dc_ossl.ERR_clear_error)
#define ERR_error_string_n (*dc_ossl.ERR_error_string_n)
#define ERR_peek_last_error (*dc_ossl.ERR_peek_last_error)
#define EVP_PKEY_eq (*dc_ossl.EVP_PKEY_eq)
#define EVP_PKEY_free (*dc_ossl.EVP_PKEY_free)
#define EVP_PKEY_get_base_id (*dc_ossl.EVP_PKEY_get_base_id)
#define EVP_PKEY_get_bits (*dc_ossl.EVP_PKEY_get_bits)
#define EVP_PKEY_get_security_bits (*dc_ossl.EVP_PKEY_get_security_bits)
#define EVP_PKEY_get_utf8_string_param (*dc_ossl.EVP_PKEY_get_utf8_string_param)
#define EVP_sha256 (*dc_ossl.EVP_sha256)
#define GENERAL_NAMES_free (*dc_ossl.GENERAL_NAMES_free)
#define OBJ_nid2ln (*dc_ossl.OBJ_nid2ln)
#define OBJ_nid2sn (*dc_ossl.OBJ_nid2sn)
#define OBJ_obj2nid (*dc_ossl.OBJ_obj2nid)
#define OPENSSL_sk_dup (*dc_ossl.OPENSSL_sk_dup)
#define OPENSSL_sk_free (*dc_ossl.OPENSSL_sk_free)
#define OPENSSL_sk_new_null (*dc_ossl.OPENSSL_sk_new_null)
#define OPENSSL_sk_num (*dc_ossl.OPENSSL_sk_num)
#define OPENSSL_sk_pop_free (*dc_ossl.OPENSSL_sk_pop_free)
#define OPENSSL_sk_push (*dc_ossl.OPENSSL_sk_push)
#define OPENSSL_sk_value (*dc_ossl.OPENSSL_sk_value)
#define PEM_read_bio (*dc_ossl.PEM_read_bio)
#define PEM_read_bio_PrivateKey (*dc_ossl.PEM_read_bio_PrivateKey)
#define PEM_read_bio_X509 (*dc_ossl.PEM_read_bio_X509)
#define PEM_write_X509 (*dc_ossl.PEM_write_X509)
#define PEM_write_bio_X509 (*dc_ossl.PEM_write_bio_X509)
#define PKCS7_free (*dc_ossl.PKCS7_free)
#define X509_NAME_ENTRY_get_data (*dc_ossl.X509_NAME_ENTRY_get_data)
#define X509_NAME_get_entry (*dc_ossl.X509_NAME_get_entry)
#define X509_NAME_get_index_by_NID (*dc_ossl.X509_NAME_get_index_by_NID)
#define X509_NAME_get_text_by_NID (*dc_ossl.X509_NAME_get_text_by_NID)
#define X509_NAME_oneline (*dc_ossl.X509_NAME_oneline)
#define X509_NAME_print_ex (*dc_ossl.X509_NAME_print_ex)
#define X509_STORE_CTX_free (*dc_ossl.X509_STORE_CTX_free)
#define X509_STORE_CTX_get0_param (*dc_ossl.X509_STORE_CTX_get0_param)
#define X509_STORE_CTX_get1_chain (*dc_ossl.X509_STORE_CTX_get1_chain)
#define X509_STORE_CTX_get_current_cert (*dc_ossl.X509_STORE_CTX_get_current_cert)
#define X509_STORE_CTX_get_error (*dc_ossl.X509_STORE_CTX_get_error)
#define X509_STORE_CTX_get_error_depth (*dc_ossl.X509_STORE_CTX_get_error_depth)
#define X509_STORE_CTX_get_ex_data (*dc_ossl.X509_STORE_CTX_get_ex_data)
#define X509_STORE_CTX_get_num_untrusted (*dc_ossl.X509_STORE_CTX_get_num_untrusted)
#define X509_STORE_CTX_init (*dc_ossl.X509_STORE_CTX_init)
#define X509_STORE_CTX_new (*dc_ossl.X509_STORE_CTX_new)
#define X509_STORE_CTX_set_ex_data (*dc_ossl.X509_STORE_CTX_set_ex_data)
#define X509_STORE_CTX_set_verify_cb (*dc_ossl.X509_STORE_CTX_set_verify_cb)
#define X509_STORE_add_cert (*dc_ossl.X509_STORE_add_cert)
#define X509_STORE_free (*dc_ossl.X509_STORE_free)
#define X509_STORE_load_file (*dc_ossl.X509_STORE_load_file)
#define X509_STORE_new (*dc_ossl.X509_STORE_new)
#define X509_STORE_up_ref (*dc_ossl.X509_STORE_up_ref)
#define X509_STORE_set_default_paths (*dc_ossl.X509_STORE_set_default_paths)
#define X509_VERIFY_PARAM_set1_host (*dc_ossl.X509_VERIFY_PARAM_set1_host)
#define X509_VERIFY_PARAM_set1_ip_asc (*dc_ossl.X509_VERIFY_PARAM_set1_ip_asc)
#define X509_VERIFY_PARAM_set_auth_level (*dc_ossl.X509_VERIFY_PARAM_set_auth_level)
#define X509_VERIFY_PARAM_set_hostflags (*dc_ossl.X509_VERIFY_PARAM_set_hostflags)
#define X509_VERIFY_PARAM_set_purpose (*dc_ossl.X509_VERIFY_PARAM_set_purpose)
#define X509_VERIFY_PARAM_set_time (*dc_ossl.X509_VERIFY_PARAM_set_time)
#define X509_check_ca (*dc_ossl.X509_check_ca)
#define X509_check_host (*dc_ossl.X509_check_host)
#define X509_check_ip_asc (*dc_ossl.X509_check_ip_asc)
#define X509_check_issued (*dc_ossl.X509_check_issued)
#define X509_cmp (*dc_ossl.X509_cmp)
#define X509_cmp_current_time (*dc_ossl.X509_cmp_current_time)
#define X509_cmp_time (*dc_ossl.X509_cmp_time)
#define X509_digest (*dc_ossl.X509_digest)
#define X509_free (*dc_ossl.X509_free)
#define X509_get0_notAfter (*dc_ossl.X509_get0_notAfter)
#define X509_get0_authority_key_id (*dc_ossl.X509_get0_authority_key_id)
#define X509_get0_notBefore (*dc_ossl.X509_get0_notBefore)
#define X509_get0_pubkey (*dc_ossl.X509_get0_pubkey)
#define X509_get0_serialNumber (*dc_ossl.X509_get0_serialNumber)
#define X509_get0_subject_key_id (*dc_ossl.X509_get0_subject_key_id)
#define X509_get_ext_d2i (*dc_ossl.X509_get_ext_d2i)
#define X509_get_extended_key_usage (*dc_ossl.X509_get_extended_key_usage)
#define X509_get_extension_flags (*dc_ossl.X509_get_extension_flags)
#define X509_get_issuer_name (*dc_ossl.X509_get_issuer_name)
#define X509_get_key_usage (*dc_ossl.X509_get_key_usage)
#define X509_get_pathlen (*dc_ossl.X509_get_pathlen)
#define X509_get_signature_info (*dc_ossl.X509_get_signature_info)
#define X509_get_signature_nid (*dc_ossl.X509_get_signature_nid)
#define X509_get_subject_name (*dc_ossl.X509_get_subject_name)
#define X509_self_signed (*dc_ossl.X509_self_signed)
#define X509_up_ref (*dc_ossl.X509_up_ref)
#define X509_verify_cert (*dc_ossl.X509_verify_cert)
#define X509_verify_cert_error_string (*dc_ossl.X509_verify_cert_error_string)
#define d2i_PKCS7 (*dc_ossl.d2i_PKCS7)
#define d2i_X509 (*dc_ossl.d2i_X509)
#define d2i_X509_AUX (*dc_ossl.d2i_X509_AUX)
#define OCSP_cert_to_id (*dc_ossl.OCSP_cert_to_id)
#define OCSP_REQUEST_new (*dc_ossl.OCSP_REQUEST_new)
#define OCSP_REQUEST_free (*dc_ossl.OCSP_REQUEST_free)
#define OCSP_request_add0_id (*dc_ossl.OCSP_request_add0_id)
#define i2d_OCSP_REQUEST (*dc_ossl.i2d_OCSP_REQUEST)
#define d2i_OCSP_RESPONSE (*dc_ossl.d2i_OCSP_RESPONSE)
#define OCSP_RESPONSE_free (*dc_ossl.OCSP_RESPONSE_free)
#define OCSP_response_status (*dc_ossl.OCSP_response_status)
#define OCSP_response_status_str (*dc_ossl.OCSP_response_status_str)
#define OCSP_response_get1_basic (*dc_ossl.OCSP_response_get1_basic)
#define OCSP_BASICRESP_free (*dc_ossl.OCSP_BASICRESP_free)
#define OCSP_basic_verify (*dc_ossl.OCSP_basic_verify)
#define OCSP_resp_find_status (*dc_ossl.OCSP_resp_find_status)
#define OCSP_crl_reason_str (*dc_ossl.OCSP_crl_reason_str)
#define OCSP_CERTID_free (*dc_ossl.OCSP_CERTID_free)
#define X509_get1_ocsp (*dc_ossl.X509_get1_ocsp)
#define X509_email_free (*dc_ossl.X509_email_free)
#define EVP_EncodeBlock (*dc_ossl.EVP_EncodeBlock)
#define X509_STORE_set_flags (*dc_ossl.X509_STORE_set_flags)
#define X509_STORE_get0_param (*dc_ossl.X509_STORE_get0_param)
#define d2i_X509_CRL (*dc_ossl.d2i_X509_CRL)
#define PEM_read_bio_X509_CRL (*dc_ossl.PEM_read_bio_X509_CRL)
#define X509_CRL_free (*dc_ossl.X509_CRL_free)
#define X509_CRL_verify (*dc_ossl.X509_CRL_verify)
#define X509_CRL_get_issuer (*dc_ossl.X509_CRL_get_issuer)
#define X509_CRL_get0_lastUpdate (*dc_ossl.X509_CRL_get0_lastUpdate)
#define X509_CRL_get0_nextUpdate (*dc_ossl.X509_CRL_get0_nextUpdate)
#define X509_CRL_get0_by_serial (*dc_ossl.X509_CRL_get0_by_serial)
#define X509_REVOKED_get0_revocationDate (*dc_ossl.X509_REVOKED_get0_revocationDate)
#define X509_REVOKED_get_ext_d2i (*dc_ossl.X509_REVOKED_get_ext_d2i)
#define ASN1_ENUMERATED_get (*dc_ossl.ASN1_ENUMERATED_get)
#define ASN1_ENUMERATED_free (*dc_ossl.ASN1_ENUMERATED_free)
#define X509_NAME_cmp (*dc_ossl.X509_NAME_cmp)
#endif

#endif
