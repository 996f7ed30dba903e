#include "derpcheck/net/localapi.h"

#include "derpcheck/net/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Where tailscaled puts its socket, by platform (protocols.md §5.1), most common first. */
static const char *const socket_paths[] = {
	DC_LOCALAPI_SOCKET,
	"/var/run/tailscaled.socket",                   /* macOS, open-source tailscaled */
	"/var/packages/Tailscale/var/tailscaled.sock", /* Synology DSM 7 */
	"/var/packages/Tailscale/etc/tailscaled.sock", /* Synology DSM 6 */
	"/tmp/tailscale/tailscaled.sock",               /* QNAP */
	"/perm/tailscaled/tailscaled.sock",             /* gokrazy */
};

const char *dc_localapi_default_socket(void)
{
	struct stat st;
	for (size_t i = 0; i < DC_ARRAY_LEN(socket_paths); i++)
		if (stat(socket_paths[i], &st) == 0 && S_ISSOCK(st.st_mode))
			return socket_paths[i];
	return DC_LOCALAPI_SOCKET;
}

/* The first line of an error body, printable ASCII only, for messages. */
static void body_excerpt(const struct dc_buf *body, char *out, size_t size)
{
	size_t n = 0;
	if (body->data)
		for (const char *p = body->data; *p && *p != '\n' && *p != '\r' && n + 1 < size && n < 120; p++)
			out[n++] = isprint((unsigned char)*p) ? *p : '?';
	out[n] = '\0';
}

/* Returns DC_LOCALAPI_NOT_RUNNING when nothing listens on the socket, else -1. */
static int explain_transport(const struct dc_localapi *api, const char *path, const struct dc_http_response *res,
			     long timeout_ms, size_t max_bytes, struct dc_error *err)
{
	const char *sock = api->socket_path;
	/* libcurl's own words and hint, kept for the cases we cannot say better. */
	char detail[sizeof(err->what)], curl_hint[sizeof(err->hint)];
	snprintf(detail, sizeof(detail), "%s", strncmp(err->what, "fetch failed: ", 14) == 0 ? err->what + 14 : err->what);
	snprintf(curl_hint, sizeof(curl_hint), "%s", err->hint);

	if (res->failure == DC_HTTP_TIMEOUT) {
		dc_error_set(err, sock, "tailscaled did not answer GET %s within %ld ms", path, timeout_ms);
		dc_error_hint(err, "tailscaled may be busy or stuck (see journalctl -u tailscaled); raise --timeout to wait longer");
		return -1;
	}
	if (res->failure == DC_HTTP_TOO_BIG) {
		dc_error_set(err, sock, "the answer to GET %s is larger than derpcheck's limit of %zu bytes", path, max_bytes);
		return -1;
	}
	if (res->failure == DC_HTTP_NO_REPLY) {
		dc_error_set(err, sock, "tailscaled closed the connection without answering GET %s", path);
		dc_error_hint(err, "tailscaled may have crashed or restarted (see journalctl -u tailscaled); try again");
		return -1;
	}
	if (res->failure == DC_HTTP_NOT_HTTP) {
		dc_error_set(err, sock, "the server on this socket does not speak HTTP: %s", detail);
		dc_error_hint(err, "check that --socket names tailscaled's socket");
		return -1;
	}
	switch (res->os_errno) {
	case ENOENT:
	case ENOTDIR:
		dc_error_set(err, sock, "no such socket: tailscaled is not running, or its socket is elsewhere");
		dc_error_hint(err, "start tailscaled (sudo systemctl start tailscaled), or give its socket with --socket PATH; --file FILE reads saved `tailscale status --json` output");
		return DC_LOCALAPI_NOT_RUNNING;
	case EACCES:
	case EPERM:
		dc_error_set(err, sock, "permission denied opening tailscaled's socket");
		dc_error_hint(err, "run derpcheck with sudo, or let your user operate Tailscale: sudo tailscale set --operator=$USER");
		return -1;
	case ECONNREFUSED:
		dc_error_set(err, sock, "tailscaled is not running: the socket exists but nothing accepts connections");
		dc_error_hint(err, "start tailscaled (sudo systemctl start tailscaled); a crashed tailscaled leaves its socket behind");
		return DC_LOCALAPI_NOT_RUNNING;
	default:
		break;
	}
	dc_error_set(err, sock, "GET %s failed: %s", path, detail);
	if (curl_hint[0])
		dc_error_hint(err, "%s", curl_hint);
	else
		dc_error_hint(err, "check that --socket names tailscaled's socket");
	return -1;
}

static void explain_status(const struct dc_localapi *api, const char *path, long status, const struct dc_buf *body,
			   struct dc_error *err)
{
	char excerpt[128];
	body_excerpt(body, excerpt, sizeof(excerpt));
	const char *open = excerpt[0] ? " (" : "", *close = excerpt[0] ? ")" : "";
	switch (status) {
	case 403:
		dc_error_set(err, api->socket_path, "tailscaled refused GET %s: HTTP 403%s%s%s", path, open, excerpt, close);
		if (strcmp(excerpt, "invalid localapi request") == 0) /* its answer to a bad Host, Origin or Referer */
			dc_error_hint(err, "tailscaled rejected the request's headers; please report this derpcheck bug");
		else
			dc_error_hint(err, "run derpcheck with sudo, or let your user operate Tailscale: sudo tailscale set --operator=$USER");
		break;
	case 404:
		dc_error_set(err, api->socket_path, "tailscaled does not serve %s (HTTP 404)", path);
		dc_error_hint(err, "this tailscaled is too old for this request, or --socket is not tailscaled's socket");
		break;
	default:
		dc_error_set(err, api->socket_path, "tailscaled answered GET %s with HTTP %ld%s%s%s", path, status, open, excerpt,
			     close);
		dc_error_hint(err, "see tailscaled's log (journalctl -u tailscaled)");
		break;
	}
}

int dc_localapi_get(const struct dc_localapi *api, const char *endpoint, size_t max_bytes, struct dc_buf *body,
		    struct dc_error *err)
{
	char path[256], url[320];
	snprintf(path, sizeof(path), "/localapi/v0/%s", endpoint);
	snprintf(url, sizeof(url), "http://" DC_LOCALAPI_HOST "%s", path);
	long timeout = api->timeout_ms > 0 ? api->timeout_ms : DC_LOCALAPI_TIMEOUT_MS;
	struct dc_http_opts opts = {
		.timeout_ms = timeout,
		.max_bytes = max_bytes ? max_bytes : 1u << 20,
		.unix_socket = api->socket_path,
	};
	struct dc_http_request req = {.url = url, .opts = &opts};
	struct dc_http_response res;
	if (dc_http_fetch(&req, &res, err) < 0) {
		int rc = explain_transport(api, path, &res, timeout, opts.max_bytes, err);
		dc_http_response_free(&res);
		return rc;
	}
	if (res.status != 200) {
		explain_status(api, path, res.status, &res.body, err);
		dc_http_response_free(&res);
		return -1;
	}
	*body = res.body; /* hand the body over; the rest of the response is freed */
	res.body = (struct dc_buf){0};
	dc_http_response_free(&res);
	return 0;
}

int dc_localapi_status(const struct dc_localapi *api, struct dc_buf *body, struct dc_error *err)
{
	return dc_localapi_get(api, "status", DC_LOCALAPI_MAX_BYTES, body, err);
}

int dc_localapi_derpmap(const struct dc_localapi *api, struct dc_map_doc *doc, struct dc_error *err)
{
	memset(doc, 0, sizeof(*doc));
	struct dc_buf body = {0};
	if (dc_localapi_get(api, "derpmap", DC_MAP_MAX_BYTES, &body, err) < 0)
		return -1;
	doc->text.source = DC_MAP_SOURCE_LOCALAPI;
	doc->text.name = dc_xstrdup("localapi:derpmap");
	doc->text.text = body.data;
	doc->text.len = body.len;
	dc_map_doc_parse(doc);
	return 0;
}
