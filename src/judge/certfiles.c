#include "derpcheck/judge/certfiles.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derpcheck/judge/certinfo.h"
#include "derpcheck/util/file.h"

#include "derpcheck/net/ossl.h"

#define MAX_FILE_BYTES (16u << 20) /* a certificate chain is a few KiB; anything this big is not one */

size_t dc_derper_cert_stem(const char *hostname, char *out, size_t n)
{
	size_t k = 0, dropped = 0;
	for (const char *p = hostname; *p; p++) {
		char c = *p;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (!keep)
			dropped++;
		else if (k + 1 < n)
			out[k++] = c;
	}
	if (n)
		out[k] = '\0';
	return dropped;
}

void dc_certfiles_free(struct dc_certfiles *f)
{
	dc_ossl_need();
	if (f->certs)
		dc_certs_free(f->certs);
	if (f->chain)
		dc_certs_free(f->chain);
	dc_findings_free(&f->findings);
	memset(f, 0, sizeof(*f));
}

static struct dc_finding *add(struct dc_certfiles *f, enum dc_severity sev, const char *code, const char *file,
			      const char *fmt, ...) DC_PRINTF(5, 6);
static struct dc_finding *add(struct dc_certfiles *f, enum dc_severity sev, const char *code, const char *file,
			      const char *fmt, ...)
{
	char message[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	f->findings.file = file;
	return dc_findings_add(&f->findings, sev, code, "", (struct dc_srcpos){0, 0}, "%s", message);
}

/* Certificate-looking files in dir, for "copy or link them as ..." suggestions. */
static void list_candidates(const char *dir, char *out, size_t n)
{
	out[0] = '\0';
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	int found = 0;
	while ((e = readdir(d)) != NULL && found < 8) {
		const char *dot = strrchr(e->d_name, '.');
		if (!dot || e->d_name[0] == '.')
			continue;
		if (strcmp(dot, ".pem") && strcmp(dot, ".crt") && strcmp(dot, ".cer") && strcmp(dot, ".key"))
			continue;
		size_t used = strlen(out);
		snprintf(out + used, n - used, "%s%s", found ? ", " : "", e->d_name);
		found++;
	}
	closedir(d);
}

/*
 * Read a whole file. Missing files, dangling symbolic links and unreadable files are
 * findings named after what derper would print (-1). A FIFO, device or directory, or a
 * file too large to be a certificate, is an input error in err (-2): reading it would
 * hang or never end, for derper as for us.
 */
static int read_file(struct dc_certfiles *f, const char *path, bool is_key, const char *hostname, struct dc_buf *out,
		     struct dc_error *err)
{
	struct stat st, lst;
	if (stat(path, &st) < 0) {
		int e = errno;
		char derper[600];
		snprintf(derper, sizeof(derper), "derper: can not start cert provider: can not load x509 key pair for hostname \"%s\": open %s: %s",
			 hostname ? hostname : "", path, strerror(e));
		if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
			char target[PATH_MAX] = "";
			ssize_t tl = readlink(path, target, sizeof(target) - 1);
			target[tl > 0 ? tl : 0] = '\0';
			struct dc_finding *x = add(f, DC_SEV_ERROR, is_key ? "key-file-dangling-link" : "cert-file-dangling-link", path,
						   "%s is a symbolic link to %s, which does not exist here; derper fails with: %s",
						   path, target, derper);
			dc_finding_hint(x, "certbot's live/ files are relative links into ../../archive/: mount or copy the whole "
					   "/etc/letsencrypt (or copy the files themselves, e.g. cp -L) so the links resolve inside the container");
			return -1;
		}
		if (e == ENOENT) {
			char dir[PATH_MAX], found[400];
			snprintf(dir, sizeof(dir), "%s", path);
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			else
				snprintf(dir, sizeof(dir), ".");
			list_candidates(dir, found, sizeof(found));
			struct dc_finding *x = add(f, DC_SEV_ERROR, is_key ? "key-file-missing" : "cert-file-missing", path,
						   "%s does not exist; derper fails with: %s", path, derper);
			if (found[0])
				dc_finding_hint(x, "the directory has %s: derper reads only <hostname>.crt and <hostname>.key, so copy or link "
						   "the full chain (e.g. fullchain.pem) as %s.crt and the key (e.g. privkey.pem) as %s.key",
						found, hostname ? hostname : "HOSTNAME", hostname ? hostname : "HOSTNAME");
			else
				dc_finding_hint(x, "derper reads exactly <certdir>/<hostname>.crt and .key; install them there (acme.sh --fullchain-file/--key-file, or certbot's fullchain.pem/privkey.pem)");
			return -1;
		}
		add(f, DC_SEV_ERROR, is_key ? "key-file-unreadable" : "cert-file-unreadable", path, "cannot read %s: %s", path, strerror(e));
		return -1;
	}
	struct dc_error oerr;
	int fd = dc_file_open_regular(path, &oerr);
	if (fd < 0 && errno == EINVAL) {
		*err = oerr;
		return -2;
	}
	if (fd < 0) {
		struct dc_finding *x = add(f, DC_SEV_ERROR, is_key ? "key-file-unreadable" : "cert-file-unreadable", path,
					   "cannot read %s: %s", path, strerror(errno));
		dc_finding_hint(x, "derper must be able to read it too: check the owner and mode");
		return -1;
	}
	int rc = dc_file_read_fd(fd, path, MAX_FILE_BYTES, out, err);
	close(fd);
	if (rc < 0) {
		if (errno == EFBIG)
			dc_error_set(err, path, "larger than %u MiB; that is not a certificate or key file", MAX_FILE_BYTES >> 20);
		return -2;
	}
	if (is_key && (st.st_mode & 0077)) {
		struct dc_finding *x = add(f, DC_SEV_WARNING, "key-file-permissions", path,
					   "the private key %s can be read by %s (mode %04o)", path,
					   st.st_mode & 0007 ? "every user" : "its group", (unsigned)(st.st_mode & 07777));
		dc_finding_hint(x, "chmod 600 %s (acme.sh creates it that way; keep the owner that derper runs as)", path);
	}
	return 0;
}

struct pem_scan {
	int certificates;
	int bad_certificates;
	int private_keys;
	bool encrypted_key;
	bool any_pem;
};

static bool is_private_key_block(const char *name)
{
	size_t len = strlen(name);
	return strcmp(name, "PRIVATE KEY") == 0 || (len > 12 && strcmp(name + len - 12, " PRIVATE KEY") == 0);
}

/* Walk the PEM blocks as Go's pem.Decode does; collect certificates in file order. */
static void scan_pem(const struct dc_buf *b, struct pem_scan *s, STACK_OF(X509) *certs)
{
	memset(s, 0, sizeof(*s));
	BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;
		if (PEM_read_bio(bio, &name, &header, &data, &len) != 1)
			break;
		s->any_pem = true;
		if (strcmp(name, PEM_STRING_X509) == 0) {
			const unsigned char *p = data;
			X509 *c = d2i_X509(NULL, &p, len);
			if (c && certs)
				sk_X509_push(certs, c);
			else
				X509_free(c);
			s->certificates++;
			s->bad_certificates += c == NULL;
		} else if (is_private_key_block(name)) {
			s->private_keys++;
			if (strstr(name, "ENCRYPTED") || (header && strstr(header, "ENCRYPTED")))
				s->encrypted_key = true;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(bio);
	ERR_clear_error();
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

static EVP_PKEY *load_key(struct dc_certfiles *f, const struct dc_buf *b, const char *path, const char *cert_path)
{
	struct pem_scan s;
	scan_pem(b, &s, NULL);
	if (s.private_keys == 0) {
		struct dc_finding *x;
		if (s.certificates > 0) {
			x = add(f, DC_SEV_ERROR, "cert-files-swapped", path,
				"%s holds a certificate, not a private key; derper fails with: tls: found a certificate rather than a key "
				"in the PEM for the private key", path);
			dc_finding_hint(x, "swap the two files: the chain goes in %s, the key in %s", cert_path, path);
		} else {
			x = add(f, DC_SEV_ERROR, "key-invalid", path,
				"%s holds no PEM private key; derper fails with: tls: failed to find any PEM data in key input", path);
			dc_finding_hint(x, "install the key in PEM form (-----BEGIN PRIVATE KEY-----); for a DER key: openssl pkey -inform DER -in %s -out %s.pem",
					path, path);
		}
		return NULL;
	}
	if (s.encrypted_key) {
		struct dc_finding *x = add(f, DC_SEV_ERROR, "key-encrypted", path,
					   "the private key in %s is encrypted; derper cannot ask for a passphrase and fails with: tls: "
					   "failed to parse private key", path);
		dc_finding_hint(x, "store it unencrypted (and mode 600): openssl pkey -in %s -out %s.plain, then use that file", path, path);
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!key) {
		struct dc_finding *x = add(f, DC_SEV_ERROR, "key-invalid", path,
					   "the private key in %s cannot be parsed; derper fails with: tls: failed to parse private key", path);
		dc_finding_hint(x, "reinstall the key from the ACME client (acme.sh --key-file, certbot privkey.pem)");
	}
	return key;
}

/* What derper makes of the two files' bytes (rc: 0 read, else not read; a key rc of 1: no key file given). */
static void judge_files(const struct dc_certfiles_opts *o, struct dc_certfiles *f, const struct dc_buf *crt, int crt_rc,
			const struct dc_buf *keyb, int key_rc, bool ip_host)
{
	if (crt_rc == 0) {
		struct pem_scan s;
		f->certs = sk_X509_new_null();
		scan_pem(crt, &s, f->certs);
		if (s.certificates == 0) {
			struct dc_finding *x;
			const unsigned char *p = (const unsigned char *)crt->data;
			X509 *der = crt->len ? d2i_X509(NULL, &p, (long)crt->len) : NULL;
			ERR_clear_error();
			if (s.private_keys) {
				x = add(f, DC_SEV_ERROR, "cert-files-swapped", f->cert_path,
					"%s holds a private key and no certificate; derper fails with: tls: failed to find certificate PEM "
					"data in certificate input, but did find a private key; PEM inputs may have been switched",
					f->cert_path);
				dc_finding_hint(x, "swap the two files: the chain goes in %s, the key in %s", f->cert_path, f->key_path);
			} else {
				x = add(f, DC_SEV_ERROR, "cert-file-not-pem", f->cert_path,
					"%s is %s; derper fails with: tls: failed to find any PEM data in certificate input", f->cert_path,
					der ? "a DER certificate, not PEM" : crt->len ? "not a PEM certificate" : "empty");
				if (der)
					dc_finding_hint(x, "convert it: openssl x509 -inform DER -in %s -out %s (then add the intermediates after it)",
							f->cert_path, f->cert_path);
				else
					dc_finding_hint(x, "install the full chain in PEM form (acme.sh --fullchain-file, certbot fullchain.pem)");
			}
			X509_free(der);
		} else if (s.bad_certificates) {
			struct dc_finding *x = add(f, DC_SEV_ERROR, "cert-file-invalid", f->cert_path,
						   "%d of the %d CERTIFICATE blocks in %s do not parse as certificates", s.bad_certificates,
						   s.certificates, f->cert_path);
			dc_finding_hint(x, "reinstall the chain from the ACME client; a hand-edited file may have lost characters");
		}
		if (s.private_keys && s.certificates) {
			struct dc_finding *x = add(f, DC_SEV_WARNING, "key-in-cert-file", f->cert_path,
						   "%s also holds a private key: derper works, but the certificate file is usually world-readable",
						   f->cert_path);
			dc_finding_hint(x, "keep only certificates in %s; the key belongs in %s (mode 600)", f->cert_path,
					f->key_path[0] ? f->key_path : "<hostname>.key");
		}
	}
	EVP_PKEY *key = key_rc == 0 ? load_key(f, keyb, f->key_path, f->cert_path) : NULL;
	int ncerts = f->certs ? sk_X509_num(f->certs) : 0;
	if (key && ncerts > 0) {
		for (int i = 0; i < ncerts && f->key_cert_index < 0; i++)
			if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(f->certs, i)), key) == 1)
				f->key_cert_index = i;
		ERR_clear_error();
		if (f->key_cert_index > 0) {
			struct dc_cert_info info;
			dc_cert_describe(sk_X509_value(f->certs, f->key_cert_index), o->now ? o->now : time(NULL), &info);
			struct dc_finding *x = add(f, DC_SEV_ERROR, "leaf-not-first", f->cert_path,
						   "derper takes the first certificate of %s as its own, but the key belongs to certificate %d "
						   "(\"%s\"); derper fails with the misleading: tls: private key does not match public key",
						   f->cert_path, f->key_cert_index + 1, info.subject);
			dc_finding_hint(x, "put the leaf first, then its issuers (acme.sh --fullchain-file and certbot fullchain.pem do); "
					   "derpcheck cert ... --write-fullchain FILE writes the file in that order");
		} else if (f->key_cert_index < 0) {
			struct dc_finding *x = add(f, DC_SEV_ERROR, "key-mismatch", f->key_path,
						   "the key in %s belongs to none of the certificates in %s; derper fails with: tls: private key "
						   "does not match public key", f->key_path, f->cert_path);
			dc_finding_hint(x, "install the key issued together with this certificate (the same acme.sh/certbot run: --key-file, privkey.pem)");
		}
	}
	EVP_PKEY_free(key);
	if (ncerts > 0) {
		f->chain = sk_X509_new_null();
		int first = f->key_cert_index > 0 ? f->key_cert_index : 0;
		X509_up_ref(sk_X509_value(f->certs, first));
		sk_X509_push(f->chain, sk_X509_value(f->certs, first));
		for (int i = 0; i < ncerts; i++)
			if (i != first) {
				X509_up_ref(sk_X509_value(f->certs, i));
				sk_X509_push(f->chain, sk_X509_value(f->certs, i));
			}
	}
	/* derper's own start-up check: Go's VerifyHostname(--hostname) on the first certificate. */
	bool name_ok = true;
	if (ncerts > 0 && o->hostname) {
		X509 *first = sk_X509_value(f->certs, 0);
		name_ok = ip_host ? X509_check_ip_asc(first, o->hostname, 0) == 1
				  : X509_check_host(first, o->hostname, 0,
						    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
		ERR_clear_error();
	}
	f->loadable = dc_findings_count(&f->findings, DC_SEV_ERROR) == 0 && ncerts > 0 && name_ok &&
		      (key_rc != 0 || f->key_cert_index == 0);
}

int dc_certfiles_check(const struct dc_certfiles_opts *o, struct dc_certfiles *f, struct dc_error *err)
{
	dc_ossl_need();
	memset(f, 0, sizeof(*f));
	f->key_cert_index = -1;
	char stem[256] = "";
	if (o->hostname)
		dc_derper_cert_stem(o->hostname, stem, sizeof(stem));
	if (o->certdir) {
		struct stat st;
		if (stat(o->certdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			dc_error_set(err, o->certdir, "%s", errno == ENOENT || stat(o->certdir, &st) < 0 ? strerror(errno) : "not a directory");
			dc_error_hint(err, "--certdir is derper's --certdir: the directory holding <hostname>.crt and <hostname>.key");
			return -1;
		}
		if (!stem[0]) {
			dc_error_set(err, NULL, "--hostname \"%s\" has no letters, digits, '-' or '.', so derper could not name its files",
				     o->hostname ? o->hostname : "");
			dc_error_hint(err, "give derper's --hostname, e.g. --hostname derp.example.com");
			return -1;
		}
		snprintf(f->cert_path, sizeof(f->cert_path), "%s/%s.crt", o->certdir, stem);
		snprintf(f->key_path, sizeof(f->key_path), "%s/%s.key", o->certdir, stem);
	}
	if (o->cert_file)
		snprintf(f->cert_path, sizeof(f->cert_path), "%s", o->cert_file);
	if (o->key_file)
		snprintf(f->key_path, sizeof(f->key_path), "%s", o->key_file);
	const char *explicit[] = {o->cert_file, o->key_file};
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		if (explicit[i] && stat(explicit[i], &st) < 0 && lstat(explicit[i], &st) < 0) {
			dc_error_set(err, explicit[i], "%s", strerror(errno));
			dc_error_hint(err, i == 0 ? "--cert-file names derper's <hostname>.crt" : "--key-file names derper's <hostname>.key");
			return -1;
		}
	}
	if (o->hostname && stem[0] && strcmp(stem, o->hostname) != 0 && o->certdir) {
		struct dc_finding *x = add(f, DC_SEV_WARNING, "hostname-chars-stripped", f->cert_path,
					   "derper deletes the characters of --hostname \"%s\" that are not letters, digits, '-' or '.', so "
					   "it reads %s.crt and %s.key", o->hostname, stem, stem);
		dc_finding_hint(x, "name the files %s.crt and %s.key", stem, stem);
	}
	bool ip_host = false;
	unsigned char ipbuf[16];
	if (o->hostname)
		ip_host = inet_pton(AF_INET, o->hostname, ipbuf) == 1 || inet_pton(AF_INET6, o->hostname, ipbuf) == 1;

	struct dc_buf crt = {0}, keyb = {0};
	int crt_rc = f->cert_path[0] ? read_file(f, f->cert_path, false, o->hostname ? stem : NULL, &crt, err) : -1;
	if (crt_rc == -2) {
		dc_buf_free(&crt);
		return -1;
	}
	if (crt_rc < 0 && ip_host && dc_findings_has(&f->findings, "cert-file-missing") && o->certdir) {
		/* An IP --hostname without files: derper makes its own self-signed certificate (v1.82+). */
		dc_findings_free(&f->findings);
		struct dc_finding *x = add(f, DC_SEV_WARNING, "ip-cert-generated", f->cert_path,
					   "%s does not exist: for an IP --hostname derper (1.82+) creates a self-signed certificate there "
					   "and logs the \"CertName\": \"sha256-raw:...\" clients must pin", f->cert_path);
		dc_finding_hint(x, "put that sha256-raw: CertName in the DERP map node; check it afterwards with derpcheck cert");
		dc_buf_free(&crt);
		return 0;
	}
	int key_rc = f->key_path[0] ? read_file(f, f->key_path, true, o->hostname ? stem : NULL, &keyb, err) : 1;
	if (key_rc == -2) {
		dc_buf_free(&crt);
		dc_buf_free(&keyb);
		return -1;
	}

	judge_files(o, f, &crt, crt_rc, &keyb, key_rc, ip_host);
	dc_buf_free(&crt);
	dc_buf_free(&keyb);
	return 0;
}

int dc_certfiles_check_text(const struct dc_certfiles_opts *o, const void *crt, size_t crt_len, const void *key,
			    size_t key_len, struct dc_certfiles *f)
{
	memset(f, 0, sizeof(*f));
	f->key_cert_index = -1;
	snprintf(f->cert_path, sizeof(f->cert_path), "%s", o->cert_file ? o->cert_file : "certificate");
	if (key)
		snprintf(f->key_path, sizeof(f->key_path), "%s", o->key_file ? o->key_file : "key");
	unsigned char ipbuf[16];
	bool ip_host = o->hostname && (inet_pton(AF_INET, o->hostname, ipbuf) == 1 || inet_pton(AF_INET6, o->hostname, ipbuf) == 1);
	struct dc_buf c = {0}, k = {0};
	dc_buf_append(&c, crt, crt_len);
	if (key)
		dc_buf_append(&k, key, key_len);
	judge_files(o, f, &c, 0, &k, key ? 0 : 1, ip_host);
	dc_buf_free(&c);
	dc_buf_free(&k);
	return 0;
}
