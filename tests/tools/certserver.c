/*
 * A TLS server that serves certificates the way derper does, for the cert tests
 * (tls-diagnosis.md §1.4, §7.5): the whole chain file in file order, then derper's
 * "metacert" (self-signed Ed25519, CN derpkey<64 hex>, serial 2, valid +-30 days), a
 * fatal internal_error alert for a TLS name (SNI) other than --hostname, and an HTTP
 * answer carrying a Date header (optionally off by --date-offset, to test clock skew).
 *
 *   certserver --chain FILE --key FILE [--hostname NAME] [--no-metacert]
 *              [--metacert-age-days N] [--date-offset SECONDS]
 *
 * Listens on 127.0.0.1 (an ephemeral port), prints "listening 127.0.0.1:PORT" when
 * ready, and serves one connection at a time until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *hostname;
static long date_offset;

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* derper: with a DNS --hostname, any other TLS name (or none) gets internal_error. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	(void)arg;
	if (!hostname || is_ip(hostname))
		return SSL_TLSEXT_ERR_OK;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (sni && strcmp(sni, hostname) == 0)
		return SSL_TLSEXT_ERR_OK;
	fprintf(stderr, "certserver: cert mismatch with hostname: \"%s\"\n", sni ? sni : "");
	*alert = SSL_AD_INTERNAL_ERROR;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static X509 *make_metacert(long age_days)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 2); /* the DERP protocol version */
	char cn[80] = "derpkey";
	for (int i = 0; i < 32; i++)
		snprintf(cn + 7 + 2 * i, 3, "%02x", 0xa0 + i);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING, (unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509_gmtime_adj(X509_getm_notBefore(cert), -(30 + age_days) * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(cert), (30 - age_days) * 86400L);
	X509_set_pubkey(cert, key);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	X509_add_ext(cert, bc, -1);
	X509_EXTENSION_free(bc);
	X509_sign(cert, key, NULL);
	EVP_PKEY_free(key);
	return cert;
}

static void answer_http(SSL *ssl)
{
	char buf[4096];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		int n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	time_t t = time(NULL) + date_offset;
	struct tm tm;
	gmtime_r(&t, &tm);
	char date[64], head[256];
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", date);
	SSL_write(ssl, head, n);
}

int main(int argc, char **argv)
{
	const char *chain_file = NULL, *key_file = NULL;
	bool metacert = true;
	long age = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-metacert") == 0) {
			metacert = false;
			continue;
		}
		if (!v) {
			fprintf(stderr, "certserver: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--chain") == 0)
			chain_file = v;
		else if (strcmp(a, "--key") == 0)
			key_file = v;
		else if (strcmp(a, "--hostname") == 0)
			hostname = v;
		else if (strcmp(a, "--metacert-age-days") == 0)
			age = atol(v);
		else if (strcmp(a, "--date-offset") == 0)
			date_offset = atol(v);
		else {
			fprintf(stderr, "certserver: unknown option %s\n", a);
			return 2;
		}
		i++;
	}
	if (!chain_file || !key_file) {
		fprintf(stderr, "usage: certserver --chain FILE --key FILE [--hostname NAME] [--no-metacert] "
				"[--metacert-age-days N] [--date-offset SECONDS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_security_level(ctx, 0); /* serve weak test certificates too */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN); /* send the file as it is, like derper */
	FILE *f = fopen(chain_file, "r");
	if (!f) {
		perror(chain_file);
		return 1;
	}
	X509 *cert;
	bool first = true;
	while ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (first)
			SSL_CTX_use_certificate(ctx, cert);
		else
			SSL_CTX_add1_chain_cert(ctx, cert);
		X509_free(cert);
		first = false;
	}
	fclose(f);
	ERR_clear_error();
	if (first) {
		fprintf(stderr, "certserver: no certificate in %s\n", chain_file);
		return 1;
	}
	if (metacert) {
		X509 *meta = make_metacert(age);
		SSL_CTX_add1_chain_cert(ctx, meta);
		X509_free(meta);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "certserver: %s does not match the first certificate of %s\n", key_file, chain_file);
		return 1;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		perror("certserver: bind");
		return 1;
	}
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("listening 127.0.0.1:%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		struct timeval tv = {.tv_sec = 3};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			answer_http(ssl);
			SSL_shutdown(ssl);
		}
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
	}
}
