#include "derpcheck/net/http.h"

#include "derpcheck/util/cursor.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <limits.h>
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
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *extra, unsigned n, int timeout_ms, int *numfds);
	CURLMsg *(*multi_info_read)(CURLM *m, int *queued);
	CURLMcode (*multi_cleanup)(CURLM *m);
	time_t (*getdate)(const char *text, const time_t *unused);
};

static struct curl_api loaded;
static bool loaded_ok;
static struct dc_error load_err; /* why libcurl could not be loaded, for every caller */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static const struct curl_api *try_load_curl(struct dc_error *err)
{
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
	RESOLVE(multi_init, "curl_multi_init");
	RESOLVE(multi_add_handle, "curl_multi_add_handle");
	RESOLVE(multi_remove_handle, "curl_multi_remove_handle");
	RESOLVE(multi_perform, "curl_multi_perform");
	RESOLVE(multi_poll, "curl_multi_poll");
	RESOLVE(multi_info_read, "curl_multi_info_read");
	RESOLVE(multi_cleanup, "curl_multi_cleanup");
	RESOLVE(getdate, "curl_getdate");
#undef RESOLVE
	if (loaded.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dc_error_set(err, NULL, "libcurl failed to initialise");
		return NULL;
	}
	return &loaded;
}

static void load_curl_once(void)
{
	dc_error_clear(&load_err);
	loaded_ok = try_load_curl(&load_err) != NULL;
}

/* libcurl, loaded and initialised once per process: threads (diagnose --all, the exporter,
 * diagnose's HTTP checks) may ask for it first at the same time. */
static const struct curl_api *load_curl(struct dc_error *err)
{
	pthread_once(&load_once, load_curl_once);
	if (loaded_ok)
		return &loaded;
	if (err)
		*err = load_err;
	return NULL;
}

/* Response headers kept per request: enough for any sane server, bounded for a hostile one. */
#define HEADERS_MAX (64u * 1024u)

/* The state of one transfer, shared by the easy (one request) and multi (many) paths. */
struct transfer {
	const struct dc_http_request *req;
	struct dc_http_response *resp;
	struct dc_buf *body; /* resp->body, or dc_http_get's caller buffer */
	size_t max;
	bool too_big;
	long timeout_ms;
	uint64_t start_ns;
	char curl_err[CURL_ERROR_SIZE];
	struct curl_slist *header_list;
	struct curl_slist *resolve_list;
	CURL *h;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	size_t n = size * nmemb;
	if (t->body->len + n > t->max) {
		if (t->req->truncate_body) {
			dc_buf_append(t->body, data, t->max - t->body->len);
			return n; /* keep reading so the status and headers stay valid */
		}
		t->too_big = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	dc_buf_append(t->body, data, n);
	return n;
}

/* Called once per header line, status line and blank line included, for every response. */
static size_t on_header(char *data, size_t size, size_t nitems, void *user)
{
	struct transfer *t = user;
	size_t n = size * nitems;
	struct dc_buf *h = &t->resp->headers;
	/* A new status line starts a new response (after a redirect or a 1xx): keep the last. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		h->len = 0;
	if (h->len + n <= HEADERS_MAX)
		dc_buf_append(h, data, n);
	return n;
}

/* `derpcheck cert HOST:PORT [--ca-file F]` for the server of an https:// URL. */
static void cert_command(const char *url, const char *ca_file, char *out, size_t n)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	size_t len = strcspn(host, "/?#");
	char hostport[300];
	bool has_port = len && (host[len - 1] != ']' && memchr(host, ':', len) &&
				(host[0] != '[' || memchr(host, ']', len)));
	snprintf(hostport, sizeof(hostport), "%.*s%s", (int)len, host, has_port ? "" : ":443");
	snprintf(out, n, "derpcheck cert");
	dc_shell_append(out, n, hostport);
	if (ca_file) {
		dc_shell_append(out, n, "--ca-file");
		dc_shell_append(out, n, ca_file);
	}
}

static void explain(struct dc_error *err, CURLcode rc, long timeout_ms, bool unix_socket, int os_errno, const char *url,
		    const char *ca_file)
{
	if (unix_socket) {
		/* No host, port, DNS or TLS here: only the socket file and who listens on it. */
		if (rc == CURLE_OPERATION_TIMEDOUT)
			dc_error_hint(err, "no complete answer within %ld ms; the server behind the socket may be stuck, or raise --timeout", timeout_ms);
		else if (rc == CURLE_COULDNT_CONNECT && os_errno == ENOENT)
			dc_error_hint(err, "there is no socket at this path; check the path");
		else if (rc == CURLE_COULDNT_CONNECT && (os_errno == EACCES || os_errno == EPERM))
			dc_error_hint(err, "this user may not open the socket; check its permissions");
		else if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
			dc_error_hint(err, "the socket file exists but nothing listens on it");
		return;
	}
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	{
		char cmd[PATH_MAX + 400];
		cert_command(url, ca_file, cmd, sizeof(cmd));
		dc_error_hint(err, "the server's certificate did not verify: `%s` explains why%s", cmd,
			      ca_file ? "" : "; a private CA is passed with --ca-file");
	}
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

static enum dc_http_failure failure_kind(CURLcode rc, bool too_big)
{
	if (too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return DC_HTTP_TOO_BIG;
	switch (rc) {
	case CURLE_OK:
		return DC_HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return DC_HTTP_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return DC_HTTP_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return DC_HTTP_TLS;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return DC_HTTP_NOT_HTTP;
	case CURLE_GOT_NOTHING:
		return DC_HTTP_NO_REPLY;
	default:
		return DC_HTTP_OTHER;
	}
}

/* curl_slist_append is not resolved: lists are built by hand, in order, on the heap. */
static struct curl_slist *slist_build(const char *const *lines)
{
	struct curl_slist *head = NULL, **tail = &head;
	for (const char *const *line = lines; line && *line; line++) {
		struct curl_slist *node = dc_xcalloc(1, sizeof(*node));
		node->data = dc_xstrdup(*line);
		*tail = node;
		tail = &node->next;
	}
	return head;
}

static void slist_free(struct curl_slist **list)
{
	while (*list) {
		struct curl_slist *next = (*list)->next;
		free((*list)->data);
		free(*list);
		*list = next;
	}
}

static bool is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0;
}

#define MAX_REDIRECTS 5

/*
 * A transfer that ended on a redirect it may not follow: the last header block is the
 * 3xx, and its Location says where to. Names the refusal; false when this was no redirect.
 */
static bool redirect_refused(const struct transfer *t, CURLcode rc, const char *url, struct dc_error *err)
{
	const struct dc_http_response *resp = t->resp;
	const char *loc;
	size_t n;
	if (rc == CURLE_OK || resp->status < 300 || resp->status > 399 || !dc_http_header(resp, "Location", &loc, &n))
		return false;
	if (rc == CURLE_TOO_MANY_REDIRECTS) {
		dc_error_set(err, url, "the server keeps redirecting: more than %d redirects (the last to %.*s), a redirect loop",
			     MAX_REDIRECTS, (int)(n > 300 ? 300 : n), loc);
		dc_error_hint(err, "give the final URL of the map, or fix the server's redirects");
		return true;
	}
	bool to_http = n >= 7 && strncasecmp(loc, "http://", 7) == 0;
	if (to_http && is_https(url)) {
		dc_error_set(err, url, "the server redirects to %.*s: derpcheck does not follow a redirect from https:// to plain http://, "
			     "where anyone on the path could change the answer", (int)(n > 300 ? 300 : n), loc);
		dc_error_hint(err, "serve the map over https:// at the final URL too, or give that URL yourself if plain http is really meant");
		return true;
	}
	dc_error_set(err, url, "the server redirects to %.*s: derpcheck follows redirects only to https:// (and to http:// from an http:// URL)",
		     (int)(n > 300 ? 300 : n), loc);
	dc_error_hint(err, "a DERP map is served over HTTP(S); check the URL and the server's redirects");
	return true;
}

static int setup(const struct curl_api *curl, struct transfer *t, struct dc_error *err)
{
	static const struct dc_http_opts defaults;
	const struct dc_http_request *req = t->req;
	const struct dc_http_opts *opts = req->opts ? req->opts : &defaults;
	t->resp->date = -1;
	t->h = curl->easy_init();
	if (!t->h)
		return dc_error_set(err, req->url, "libcurl failed to create a handle");
	CURL *h = t->h;
	t->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	t->max = opts->max_bytes ? opts->max_bytes : 1u << 20;
	curl->easy_setopt(h, CURLOPT_URL, req->url);
	if (opts->unix_socket) {
		/* A local daemon: plain HTTP only, and never follow it anywhere else. */
		curl->easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, opts->unix_socket);
		curl->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	} else {
		curl->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	}
	if (!req->no_redirects && !opts->unix_socket) {
		/* Never from https:// down to plain http://: the answer would travel unauthenticated
		 * while the report names the https URL. finish() names a refused redirect. */
		curl->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, is_https(req->url) ? "https" : "http,https");
		curl->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl->easy_setopt(h, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
	}
	if (req->fresh_connection) {
		curl->easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl->easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	}
	curl->easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms);
	curl->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!req->truncate_body)
		curl->easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max);
	curl->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl->easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl->easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl->easy_setopt(h, CURLOPT_ERRORBUFFER, t->curl_err);
	curl->easy_setopt(h, CURLOPT_USERAGENT, "derpcheck/" DERPCHECK_VERSION);
	curl->easy_setopt(h, CURLOPT_PROXY, ""); /* never through an ambient proxy: we report on the direct path */
	if (opts->ca_file)
		curl->easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
	if (opts->insecure) {
		curl->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (opts->family == 4)
		curl->easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
	else if (opts->family == 6)
		curl->easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V6);
	t->header_list = slist_build(req->headers);
	if (t->header_list)
		curl->easy_setopt(h, CURLOPT_HTTPHEADER, t->header_list);
	t->resolve_list = slist_build(req->resolve);
	if (t->resolve_list)
		curl->easy_setopt(h, CURLOPT_RESOLVE, t->resolve_list);
	t->start_ns = dc_now_ns();
	return 0;
}

/* The Date header through curl's own RFC 7231 date parser. */
static void parse_date(const struct curl_api *curl, struct dc_http_response *resp)
{
	const char *v;
	size_t n;
	resp->date = -1;
	if (!dc_http_header(resp, "Date", &v, &n) || n >= 128)
		return;
	char text[128];
	memcpy(text, v, n);
	text[n] = '\0';
	time_t t = curl->getdate(text, NULL);
	if (t != (time_t)-1)
		resp->date = (int64_t)t;
}

/* Turn a finished transfer into the response (and err); frees the handle. */
static int finish(const struct curl_api *curl, struct transfer *t, CURLcode rc, struct dc_error *err)
{
	struct dc_http_response *resp = t->resp;
	const char *unix_socket = t->req->opts ? t->req->opts->unix_socket : NULL;
	/* Errors name the socket for Unix-socket requests: that is what the user can fix. */
	const char *url = unix_socket ? unix_socket : t->req->url;
	resp->elapsed_ns = dc_now_ns() - t->start_ns;
	resp->status = 0;
	long os_errno = 0;
	curl->easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl->easy_getinfo(t->h, CURLINFO_OS_ERRNO, &os_errno);
	resp->os_errno = (int)os_errno;
	curl->easy_cleanup(t->h);
	t->h = NULL;
	slist_free(&t->header_list);
	slist_free(&t->resolve_list);
	if (!resp->headers.data)
		dc_buf_append(&resp->headers, "", 0);
	resp->failure = failure_kind(rc, t->too_big);
	if (resp->failure == DC_HTTP_OK) {
		if (!t->body->data)
			dc_buf_append(t->body, "", 0);
		parse_date(curl, resp);
		dc_error_clear(&resp->error);
		return 0;
	}
	if (resp->failure == DC_HTTP_TOO_BIG)
		dc_error_set(&resp->error, url, "the response is larger than %zu bytes", t->max);
	else if (!unix_socket && redirect_refused(t, rc, url, &resp->error))
		resp->failure = DC_HTTP_OTHER;
	else {
		dc_error_set(&resp->error, url, "fetch failed: %s", t->curl_err[0] ? t->curl_err : curl->easy_strerror(rc));
		explain(&resp->error, rc, t->timeout_ms, unix_socket != NULL, resp->os_errno, url,
			t->req->opts ? t->req->opts->ca_file : NULL);
	}
	if (err)
		*err = resp->error;
	return -1;
}

static const struct curl_api *load_for(const char *url, struct dc_error *err)
{
	const struct curl_api *api = load_curl(err);
	if (!api && url)
		snprintf(err->where, sizeof(err->where), "%s", url);
	return api;
}

int dc_http_fetch(const struct dc_http_request *req, struct dc_http_response *resp, struct dc_error *err)
{
	memset(resp, 0, sizeof(*resp));
	resp->date = -1;
	const struct curl_api *curl = load_for(req->url, err);
	if (!curl) {
		resp->failure = DC_HTTP_OTHER;
		resp->error = *err;
		return -1;
	}
	struct transfer t = {.req = req, .resp = resp, .body = &resp->body};
	if (setup(curl, &t, err) < 0) {
		resp->failure = DC_HTTP_OTHER;
		resp->error = *err;
		return -1;
	}
	return finish(curl, &t, curl->easy_perform(t.h), err);
}

int dc_http_get(const char *url, const struct dc_http_opts *opts, struct dc_buf *body, long *status,
		struct dc_error *err)
{
	*status = 0;
	const struct curl_api *curl = load_for(url, err);
	if (!curl)
		return -1;
	struct dc_http_request req = {.url = url, .opts = opts};
	struct dc_http_response resp = {0};
	struct transfer t = {.req = &req, .resp = &resp, .body = body};
	if (setup(curl, &t, err) < 0)
		return -1;
	int rc = finish(curl, &t, curl->easy_perform(t.h), err);
	*status = resp.status;
	dc_http_response_free(&resp);
	return rc;
}

int dc_http_get_200(const char *url, long timeout_ms, size_t max_bytes, struct dc_buf *body, struct dc_error *err)
{
	struct dc_http_opts o = {.timeout_ms = timeout_ms, .max_bytes = max_bytes};
	long status = 0;
	if (dc_http_get(url, &o, body, &status, err) < 0)
		return -1;
	if (status != 200)
		return dc_error_set(err, url, "HTTP status %ld", status);
	return 0;
}

int dc_http_fetch_all(const struct dc_http_request *reqs, struct dc_http_response *resps, size_t n,
		      struct dc_error *err)
{
	for (size_t i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof(resps[i]));
		resps[i].date = -1;
	}
	if (n == 0)
		return 0;
	const struct curl_api *curl = load_for(NULL, err);
	if (!curl)
		return -1;
	CURLM *multi = curl->multi_init();
	if (!multi)
		return dc_error_set(err, NULL, "libcurl failed to create a multi handle");
	struct transfer *ts = dc_xcalloc(n, sizeof(*ts));
	long longest_ms = 0;
	for (size_t i = 0; i < n; i++) {
		ts[i] = (struct transfer){.req = &reqs[i], .resp = &resps[i], .body = &resps[i].body};
		if (setup(curl, &ts[i], &resps[i].error) < 0) {
			resps[i].failure = DC_HTTP_OTHER;
			continue;
		}
		curl->easy_setopt(ts[i].h, CURLOPT_PRIVATE, (void *)&ts[i]);
		curl->multi_add_handle(multi, ts[i].h);
		if (ts[i].timeout_ms > longest_ms)
			longest_ms = ts[i].timeout_ms;
	}
	/* Each transfer has its own timeout; this outer bound only guards against a stuck loop. */
	uint64_t deadline = dc_now_ns() + (uint64_t)(longest_ms + 1000) * 1000000u;
	int running = 1;
	while (running > 0 && dc_now_ns() < deadline) {
		if (curl->multi_perform(multi, &running) != CURLM_OK)
			break;
		CURLMsg *msg;
		int queued;
		while ((msg = curl->multi_info_read(multi, &queued))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct transfer *t = NULL;
			curl->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			CURLcode rc = msg->data.result;
			curl->multi_remove_handle(multi, msg->easy_handle);
			finish(curl, t, rc, NULL);
		}
		if (running > 0)
			curl->multi_poll(multi, NULL, 0, 100, NULL);
	}
	/* Only after the outer bound: whatever is still running ends as a timeout. */
	for (size_t i = 0; i < n; i++) {
		if (!ts[i].h)
			continue;
		curl->multi_remove_handle(multi, ts[i].h);
		finish(curl, &ts[i], CURLE_OPERATION_TIMEDOUT, NULL);
	}
	curl->multi_cleanup(multi);
	free(ts);
	return 0;
}

bool dc_http_header(const struct dc_http_response *resp, const char *name, const char **value, size_t *len)
{
	*value = NULL;
	*len = 0;
	size_t name_len = strlen(name);
	struct dc_cursor c;
	dc_cursor_init(&c, resp->headers.data, resp->headers.len);
	const uint8_t *line;
	size_t n;
	bool status_line = true;
	while (dc_cursor_line(&c, &line, &n)) {
		if (status_line) {
			status_line = false;
			continue;
		}
		if (n <= name_len || line[name_len] != ':' || strncasecmp((const char *)line, name, name_len) != 0)
			continue;
		const uint8_t *v = line + name_len + 1;
		size_t vn = n - name_len - 1;
		while (vn && (*v == ' ' || *v == '\t')) {
			v++;
			vn--;
		}
		while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
			vn--;
		*value = (const char *)v;
		*len = vn;
		return true;
	}
	return false;
}

void dc_http_response_free(struct dc_http_response *resp)
{
	dc_buf_free(&resp->body);
	dc_buf_free(&resp->headers);
}

int dc_http_init(struct dc_error *err)
{
	return load_curl(err) ? 0 : -1;
}
