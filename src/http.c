#include "derpcheck/http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The few libcurl entry points we use, resolved with dlsym on first use. */
struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
};

static const struct curl_api *load_curl(struct dc_error *err)
{
	static struct curl_api loaded;
	static bool ready;
	if (ready)
		return &loaded;
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		dc_error_set(err, NULL, "cannot load libcurl: %s", dlerror());
		dc_error_hint(err, "install it: apt-get install libcurl4");
		return NULL;
	}
	/* POSIX dlsym returns void *; converting it to a function pointer is the documented idiom. */
#define RESOLVE(field, symbol)                                                              \
	do {                                                                                \
		*(void **)(&loaded.field) = dlsym(lib, symbol);                              \
		if (!loaded.field) {                                                        \
			dc_error_set(err, NULL, "libcurl lacks %s; it is too old", symbol); \
			dc_error_hint(err, "install libcurl 7.85 or newer");                 \
			return NULL;                                                        \
		}                                                                           \
	} while (0)
	RESOLVE(global_init, "curl_global_init");
	RESOLVE(easy_init, "curl_easy_init");
	RESOLVE(easy_setopt, "curl_easy_setopt");
	RESOLVE(easy_perform, "curl_easy_perform");
	RESOLVE(easy_getinfo, "curl_easy_getinfo");
	RESOLVE(easy_cleanup, "curl_easy_cleanup");
	RESOLVE(easy_strerror, "curl_easy_strerror");
#undef RESOLVE
	if (loaded.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dc_error_set(err, NULL, "libcurl failed to initialise");
		return NULL;
	}
	ready = true;
	return &loaded;
}

struct sink {
	struct dc_buf *body;
	size_t max;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct sink *s = user;
	size_t n = size * nmemb;
	if (s->body->len + n > s->max) {
		s->too_big = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	dc_buf_append(s->body, data, n);
	return n;
}

static void explain(struct dc_error *err, CURLcode rc, long timeout_ms, bool unix_socket, int os_errno)
{
	if (unix_socket) {
		/* No host, port, DNS or TLS here: only the socket file and who listens on it. */
		switch (rc) {
		case CURLE_OPERATION_TIMEDOUT:
			dc_error_hint(err, "no complete answer within %ld ms; the server behind the socket may be stuck, or raise --timeout", timeout_ms);
			break;
		case CURLE_COULDNT_CONNECT:
			if (os_errno == ENOENT)
				dc_error_hint(err, "there is no socket at this path; check the path");
			else if (os_errno == EACCES || os_errno == EPERM)
				dc_error_hint(err, "this user may not open the socket; check its permissions");
			else if (os_errno == ECONNREFUSED)
				dc_error_hint(err, "the socket file exists but nothing listens on it");
			break;
		default:
			break;
		}
		return;
	}
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		dc_error_hint(err, "the server's certificate did not verify; run `derpcheck cert` on it, or pass the issuing CA with --ca-file");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		dc_error_hint(err, "no complete answer within %ld ms; check the address or raise --timeout", timeout_ms);
		break;
	case CURLE_COULDNT_CONNECT:
		dc_error_hint(err, "nothing accepted the connection; check the host, the port and the firewall");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		dc_error_hint(err, "the host name did not resolve; check the spelling and DNS");
		break;
	case CURLE_SSL_CONNECT_ERROR:
		dc_error_hint(err, "the TLS handshake failed; is this port really serving HTTPS?");
		break;
	default:
		break;
	}
}

int dc_http_fetch(const char *url, const struct dc_http_opts *opts, struct dc_buf *body,
		  struct dc_http_result *res, struct dc_error *err)
{
	memset(res, 0, sizeof(*res));
	/* Errors name the socket for Unix-socket requests: that is what the user can fix. */
	const char *where = opts->unix_socket ? opts->unix_socket : url;
	const struct curl_api *api = load_curl(err);
	if (!api) {
		snprintf(err->where, sizeof(err->where), "%s", where);
		return -1;
	}
	const struct curl_api curl = *api;
	CURL *h = curl.easy_init();
	if (!h)
		return dc_error_set(err, where, "libcurl failed to create a handle");
	long timeout = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	struct sink sink = {.body = body, .max = opts->max_bytes ? opts->max_bytes : 1u << 20};
	char curl_err[CURL_ERROR_SIZE] = "";
	curl.easy_setopt(h, CURLOPT_URL, url);
	if (opts->unix_socket) {
		/* A local daemon: plain HTTP only, and never follow it anywhere else. */
		curl.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, opts->unix_socket);
		curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
		curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	} else {
		curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl.easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	}
	curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
	curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink.max);
	curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl.easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl.easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl.easy_setopt(h, CURLOPT_USERAGENT, "derpcheck/" DERPCHECK_VERSION);
	curl.easy_setopt(h, CURLOPT_PROXY, ""); /* never through an ambient proxy: we report on the direct path */
	if (opts->ca_file)
		curl.easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
	if (opts->insecure) {
		curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (opts->family == 4)
		curl.easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
	else if (opts->family == 6)
		curl.easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V6);

	CURLcode rc = curl.easy_perform(h);
	long os_errno = 0;
	curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	curl.easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	curl.easy_cleanup(h);
	if (rc == CURLE_OK) {
		if (!body->data)
			dc_buf_append(body, "", 0);
		return 0;
	}
	res->os_errno = (int)os_errno;
	res->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	res->too_big = sink.too_big || rc == CURLE_FILESIZE_EXCEEDED;
	res->not_http = rc == CURLE_WEIRD_SERVER_REPLY || (rc == CURLE_UNSUPPORTED_PROTOCOL && res->status == 0);
	res->no_reply = rc == CURLE_GOT_NOTHING;
	if (res->too_big)
		return dc_error_set(err, where, "the response is larger than %zu bytes", sink.max);
	dc_error_set(err, where, "fetch failed: %s", curl_err[0] ? curl_err : curl.easy_strerror(rc));
	explain(err, rc, timeout, opts->unix_socket != NULL, res->os_errno);
	return -1;
}

int dc_http_get(const char *url, const struct dc_http_opts *opts, struct dc_buf *body, long *status,
		struct dc_error *err)
{
	struct dc_http_result res;
	int rc = dc_http_fetch(url, opts, body, &res, err);
	*status = res.status;
	return rc;
}
