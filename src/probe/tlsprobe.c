/*
 * The connection side of `derpcheck cert` (tlscheck.h): TCP and TLS as Tailscale dials,
 * what the port did when the handshake failed (plain HTTP, a refused TLS name, an old
 * TLS version), the server's HTTP Date for clock skew, and the one-line brief that
 * `ping` and `diagnose` print. Judging the captured chain is tlscheck.c's job.
 */
#include "derpcheck/judge/tlscheck.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "judge/tlscheck_int.h"

#include "derpcheck/net/ossl.h"

/* ---- the connection ------------------------------------------------------------------- */

int dc_http_response_date(const char *buf, size_t len, time_t *out)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	size_t pos = 0;
	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		pos += llen + 1;
		if (llen && line[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break; /* end of the header block */
		if (llen < 5 || strncasecmp(line, "date:", 5) != 0)
			continue;
		char value[64];
		size_t v = 5;
		while (v < llen && (line[v] == ' ' || line[v] == '\t'))
			v++;
		if (llen - v >= sizeof(value))
			return -1;
		memcpy(value, line + v, llen - v);
		value[llen - v] = '\0';
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		char wday[4], mon[4], zone[4];
		int day, year, hh, mm, ss;
		if (sscanf(value, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3s", wday, &day, mon, &year, &hh, &mm, &ss, zone) != 8 ||
		    strcmp(zone, "GMT") != 0)
			return -1;
		int m = -1;
		for (int i = 0; i < 12; i++)
			if (strcmp(mon, months[i]) == 0)
				m = i;
		if (m < 0 || day < 1 || day > 31 || year < 1970 || hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0)
			return -1;
		struct tm tm = {.tm_year = year - 1900, .tm_mon = m, .tm_mday = day, .tm_hour = hh, .tm_min = mm, .tm_sec = ss};
		*out = timegm(&tm);
		return 0;
	}
	return -1;
}

static uint64_t min_deadline(uint64_t deadline, uint64_t ms)
{
	uint64_t cap = dc_now_ns() + ms * 1000000u;
	return cap < deadline ? cap : deadline;
}

static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = dc_now_ns();
		if (now >= deadline_ns)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000));
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc > 0;
	}
}

/* Read the HTTP Date of derper's /derp/probe on the TLS connection (tls-diagnosis.md §4.H). */
static void read_server_date(struct dc_tls_conn *conn, const char *host, uint64_t deadline, time_t now,
			     struct dc_tls_facts *f)
{
	char req[600];
	dc_tlscheck_textf(req, sizeof(req), "GET /derp/probe HTTP/1.1\r\nHost: %s\r\nUser-Agent: derpcheck/%s\r\nConnection: close\r\n\r\n",
		 host, DERPCHECK_VERSION);
	uint64_t dl = min_deadline(deadline, 2000);
	struct dc_error e;
	if (dc_tls_write_all(conn, req, strlen(req), dl, &e) < 0)
		return;
	char buf[8192];
	size_t len = 0;
	while (len < sizeof(buf)) {
		long n = dc_tls_read(conn, buf + len, sizeof(buf) - len, dl, &e);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memmem(buf, len, "\r\n\r\n", 4))
			break;
	}
	ERR_clear_error();
	if (dc_http_response_date(buf, len, &f->server_date) == 0) {
		f->have_date = true;
		f->skew_s = (long long)(f->server_date - now);
	}
}

/* After "not TLS": ask the port for plain HTTP and see whether derper answers (§4.P). */
static void probe_plain_http(const struct sockaddr *addr, socklen_t addrlen, const char *host, uint64_t deadline,
			     time_t now, struct dc_tls_facts *f)
{
	uint64_t dl = min_deadline(deadline, 3000);
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, addr, addrlen) < 0 && errno != EINPROGRESS)
		goto out;
	if (wait_fd(fd, POLLOUT, dl) <= 0)
		goto out;
	char req[600];
	int rl = snprintf(req, sizeof(req), "GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: derpcheck/%s\r\n\r\n", host, DERPCHECK_VERSION);
	if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl)
		goto out;
	char buf[16384];
	size_t len = 0;
	while (len < sizeof(buf) - 1 && wait_fd(fd, POLLIN, dl) > 0) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (len < 8 || strncmp(buf, "HTTP/1.", 7) != 0)
		goto out;
	f->plain_http = true;
	size_t sl = 0;
	while (sl < len && sl + 1 < sizeof(f->http_status) && buf[sl] != '\r' && buf[sl] != '\n')
		sl++;
	for (size_t i = 0; i < sl; i++)
		f->http_status[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
	f->http_status[sl] = '\0';
	f->looks_like_derper = memmem(buf, len, "<h1>DERP</h1>", 13) != NULL;
	if (!f->have_date && dc_http_response_date(buf, len, &f->server_date) == 0) {
		f->have_date = true;
		f->skew_s = (long long)(f->server_date - now);
	}
out:
	close(fd);
}

static void all_clients_fail(struct dc_cert_report *r, const char *code, const char *curl, const char *go, const char *why)
{
	for (int c = 0; c < DC_CLIENT_COUNT; c++) {
		struct dc_client_verdict *cv = &r->clients[c];
		*cv = (struct dc_client_verdict){.checked = true, .code = code};
		if (c == DC_CLIENT_CURL && curl)
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "%s", curl);
		else if (c == DC_CLIENT_TS_GO && go)
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "%s", go);
		else
			dc_tlscheck_textf(cv->says, sizeof(cv->says), "rejects: %s", why);
	}
}

static bool sni_alert(const char *alert)
{
	return strstr(alert, "internal error") || strstr(alert, "unrecognized name");
}

static void capture(struct dc_tls_conn *conn, struct dc_tls_facts *f, STACK_OF(X509) **chain)
{
	dc_ossl_need();
	f->handshake = true;
	dc_tlscheck_textf(f->version, sizeof(f->version), "%s", SSL_get_version(conn->ssl));
	const SSL_CIPHER *cipher = SSL_get_current_cipher(conn->ssl);
	dc_tlscheck_textf(f->cipher, sizeof(f->cipher), "%s", cipher ? SSL_CIPHER_get_name(cipher) : "");
	f->tcp_ms = (double)conn->tcp_ns / 1e6;
	f->tls_ms = (double)conn->tls_ns / 1e6;
	STACK_OF(X509) *peer = dc_tls_peer_chain(conn);
	*chain = sk_X509_new_null();
	for (int i = 0; peer && i < sk_X509_num(peer); i++) {
		X509_up_ref(sk_X509_value(peer, i));
		sk_X509_push(*chain, sk_X509_value(peer, i));
	}
}

static const char *derper_hint_name(const struct dc_tlscheck_opts *o)
{
	return o->derper_hostname && *o->derper_hostname ? o->derper_hostname : NULL;
}

/* A handshake that did not complete: say what the port did instead. */
static void explain_handshake_failure(const struct sockaddr *addr, socklen_t addrlen, const struct dc_tlscheck_opts *o,
				      struct dc_cert_report *r, struct dc_tls_conn *conn, const struct dc_error *cerr,
				      uint64_t deadline, time_t now)
{
	struct dc_tls_facts *f = &r->conn;
	const char *host = o->host_name && *o->host_name ? o->host_name : "";
	struct dc_finding *x;
	char brief[400];
	switch (conn->failure) {
	case DC_CONN_NOT_TLS: {
		probe_plain_http(addr, addrlen, *host ? host : r->conn.peer, deadline, now, f);
		char seen[300] = "";
		if (f->plain_http)
			dc_tlscheck_textf(seen, sizeof(seen), " It answers plain HTTP (\"%s\")%s.", f->http_status,
				 f->looks_like_derper ? ", and the page is derper's home page: derper runs here without TLS" : "");
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, "plain-http", "connection",
			  "the port speaks plain HTTP, not TLS (derper's letsencrypt mode serves TLS only on port 443)",
			  "%s does not speak TLS: the first record does not look like a TLS handshake.%s derper serves TLS only "
			  "when it listens on port 443 or runs with --certmode=manual; with the default --certmode=letsencrypt on "
			  "another port (-a :PORT) it serves plain HTTP",
			  r->conn.peer, seen);
		dc_finding_hint(x, "either let derper listen on :443 inside the container (-a :443; publish it as any outside port), "
				   "or use --certmode=manual with %s/%s.crt and .key (any port); or fix the port mapping or the node's DERPPort",
				o->certdir ? o->certdir : "<certdir>", host[0] && !dc_tlscheck_is_ip(host) ? host : "HOSTNAME");
		all_clients_fail(r, "plain-http", "curl: (35) error:0A00010B:SSL routines::wrong version number",
				 "tls: first record does not look like a TLS handshake", "the port does not speak TLS");
		return;
	}
	case DC_CONN_TLS_ALERT:
		if (sni_alert(conn->alert)) {
			const char *expected = derper_hint_name(o);
			char sent[300];
			if (f->sni[0])
				dc_tlscheck_textf(sent, sizeof(sent), "the TLS name (SNI) \"%s\"", f->sni);
			else
				dc_tlscheck_textf(sent, sizeof(sent), "a connection without a TLS name (SNI; none is sent for an IP address)");
			char without[700] = "";
			if (f->sni_retried)
				dc_tlscheck_textf(without, sizeof(without), f->no_sni_ok ? " Without a name it completes the handshake%s%s%s."
										: " It refuses a connection without a name too.",
					 r->count ? " and serves a certificate for " : "",
					 r->count ? (r->certs[0].info.sans[0] ? r->certs[0].info.sans : r->certs[0].info.subject) : "",
					 r->count ? ": that is probably derper's --hostname" : "");
			if (f->sni[0])
				dc_tlscheck_textf(brief, sizeof(brief), "the server refused the TLS name \"%s\" (alert \"%s\"): the DERP map's HostName must equal derper's --hostname",
				      f->sni, conn->alert);
			else
				dc_tlscheck_textf(brief, sizeof(brief), "the server refuses connections without a TLS name (alert \"%s\"): give its --hostname",
				      conn->alert);
			x = dc_tlscheck_issue(r, DC_SEV_ERROR, "sni-refused", "connection", brief,
				  "the server refused %s with the TLS alert \"%s\": derper accepts only the name given as its --hostname, "
				  "compared exactly (case too), and logs 'cert mismatch with hostname: \"%s\"'.%s%s%s%s",
				  sent, conn->alert, f->sni, without, expected ? " derper's --hostname is \"" : "", expected ? expected : "",
				  expected ? "\"" : "");
			dc_finding_hint(x, "make the node's HostName exactly derper's --hostname%s%s%s (derpcheck: --servername NAME); "
					   "to test by hand: curl --resolve %s:PORT:IP https://%s:PORT/",
					expected ? " (\"" : "", expected ? expected : "", expected ? "\")" : "",
					expected ? expected : "HOSTNAME", expected ? expected : "HOSTNAME");
			char curl[200], go[120];
			dc_tlscheck_textf(curl, sizeof(curl), "curl: (35) error:0A000438:SSL routines::tlsv1 alert %s", conn->alert);
			dc_tlscheck_textf(go, sizeof(go), "remote error: tls: %s", conn->alert);
			all_clients_fail(r, "sni-refused", curl, go, "the server refuses the TLS name");
			return;
		}
		if (strstr(conn->alert, "protocol version")) {
			x = dc_tlscheck_issue(r, DC_SEV_ERROR, "tls-version", "connection", "the server offers no TLS version Tailscale speaks (1.2 or newer)",
				  "the server answered the handshake with alert \"%s\": it offers no TLS version from 1.2 up, which "
				  "derper itself always supports", conn->alert);
			dc_finding_hint(x, "whatever terminates TLS on this port (a proxy, an old server) must offer TLS 1.2 or 1.3; or let derper itself listen here");
			all_clients_fail(r, "tls-version", NULL, "remote error: tls: protocol version not supported", "no common TLS version");
			return;
		}
		dc_tlscheck_textf(brief, sizeof(brief), "the server aborted the TLS handshake with alert \"%s\"", conn->alert);
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, "tls-alert", "connection", brief, "%s: %s", cerr->what, cerr->hint[0] ? cerr->hint : "");
		dc_finding_hint(x, "look at the server's log for the handshake error; derper logs \"http: TLS handshake error from ...\"");
		all_clients_fail(r, "tls-alert", NULL, NULL, "the server aborts the handshake");
		return;
	case DC_CONN_CLOSED:
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, "handshake-closed", "connection", "the server closed the connection during the TLS handshake",
			  "the server accepted TCP but closed the connection during the TLS handshake: another service or a proxy holds "
			  "the port, or the server refuses this TLS name");
		dc_finding_hint(x, "check what listens on the port (ss -ltnp on the server) and derper's log");
		all_clients_fail(r, "handshake-closed", NULL, NULL, "the connection is closed during the handshake");
		return;
	case DC_CONN_TIMEOUT:
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, "handshake-timeout", "connection", "the TLS handshake never finished",
			  "TCP connected, but the TLS handshake did not finish within the time allowed: something other than a TLS "
			  "server holds the port, or it is overloaded");
		dc_finding_hint(x, "check what listens on the port; raise --timeout if the server is just slow");
		all_clients_fail(r, "handshake-timeout", NULL, NULL, "the handshake never finishes");
		return;
	case DC_CONN_TLS_FAILED:
		if (conn->alert_sent[0]) {
			/* OpenSSL refused the server's handshake itself: not the server's alert, and not its log. */
			x = dc_tlscheck_issue(r, DC_SEV_ERROR, "handshake-rejected", "connection", NULL, "%s", cerr->what);
			dc_finding_hint(x, "%s", cerr->hint[0] ? cerr->hint : "the server's handshake is malformed: fix what it serves");
			all_clients_fail(r, "handshake-rejected", NULL, NULL, "the client refuses the server's handshake");
			return;
		}
		/* fall through */
	default: {
		bool version = strstr(cerr->what, "unsupported protocol") || strstr(cerr->what, "protocol version") ||
			       strstr(cerr->what, "no protocols available");
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, version ? "tls-version" : "handshake-failed", "connection",
			  version ? "the server offers no TLS version Tailscale speaks (1.2 or newer)" : NULL, "%s", cerr->what);
		dc_finding_hint(x, version ? "whatever terminates TLS on this port must offer TLS 1.2 or 1.3"
					   : "look at the server's log for the handshake error");
		all_clients_fail(r, version ? "tls-version" : "handshake-failed", NULL, NULL, "the handshake fails");
		return;
	}
	}
}

/* The certificate that issued leaf, among those served or fetched; NULL when none did. */
static X509 *issuer_of(const struct dc_cert_report *r, X509 *leaf)
{
	for (size_t i = 0; i < r->count; i++) {
		X509 *c = r->certs[i].cert;
		if (c != leaf && !r->certs[i].info.metacert && X509_check_issued(c, leaf) == X509_V_OK)
			return c;
	}
	return NULL;
}

/* The leaf's revocation status (judge/revocation.h), and with revocation_findings what it means. */
static void check_revocation(const struct dc_tlscheck_opts *o, struct dc_cert_report *r, uint64_t deadline, time_t now)
{
	if (!r->count || r->certs[0].role != DC_ROLE_LEAF)
		return;
	X509 *leaf = r->certs[0].cert;
	long left = (long)((deadline > dc_now_ns() ? deadline - dc_now_ns() : 0) / 1000000);
	struct dc_revocation_opts ro = {.now = now, .timeout_ms = left > 0 ? left : 1};
	struct dc_revocation *v = &r->revocation;
	dc_revocation_check(leaf, issuer_of(r, leaf), r->staple, r->staple_len, &ro, v);
	if (!o->revocation_findings)
		return;
	const char *cmd = o->command ? o->command : "derpcheck cert";
	struct dc_finding *x;
	if (v->status == DC_REVOCATION_REVOKED) {
		char when[32];
		dc_time_format((time_t)v->revoked_at, when, sizeof(when));
		x = dc_tlscheck_issue(r, DC_SEV_ERROR, "cert-revoked", "chain[0]", "the served certificate is revoked",
				      "the served certificate (CN \"%s\") was revoked by its CA on %s, reason %s (%s%s)",
				      r->certs[0].info.common_name, when, v->reason_text[0] ? v->reason_text : "not given",
				      v->source == DC_REVSRC_STAPLE ? "the server's own stapled OCSP response"
				      : v->source == DC_REVSRC_CRL   ? "on the CRL at "
								     : "OCSP responder ",
				      v->source == DC_REVSRC_STAPLE ? "" : v->source == DC_REVSRC_CRL ? v->crl_url : v->url);
		dc_finding_hint(x, "get a new certificate (and a new key if the reason is keyCompromise), install it, restart "
				   "derper, then run `%s` again; Tailscale on Linux does not check revocation and still "
				   "connects, but macOS, iOS, Windows clients and browsers may refuse it", cmd);
	} else if (v->status == DC_REVOCATION_UNKNOWN) {
		x = dc_tlscheck_issue(r, DC_SEV_WARNING, "revocation-unknown", "chain[0]", NULL,
				      "the revocation status of the served certificate is unknown: %s", v->detail);
		dc_finding_hint(x, "ask the CA why its revocation service (%s) has no verdict for this certificate; a client "
				   "that insists on one may refuse the connection",
				v->source == DC_REVSRC_CRL ? v->crl_url : v->url[0] ? v->url : "the stapled response");
	}
}

int dc_tlscheck_connect(const struct sockaddr *addr, socklen_t addrlen, const struct dc_tlscheck_opts *o,
			struct dc_cert_report *r, struct dc_error *err)
{
	dc_ossl_need();
	struct dc_tls_facts *f = &r->conn;
	time_t now = o->now ? o->now : time(NULL);
	uint64_t deadline = dc_now_ns() + (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : 10000) * 1000000u;
	dc_sockaddr_format(addr, f->peer, sizeof(f->peer));
	if (!r->where[0])
		dc_tlscheck_textf(r->where, sizeof(r->where), "%s", f->peer);
	dc_tlscheck_textf(r->host_name, sizeof(r->host_name), "%s", o->host_name ? o->host_name : "");
	dc_tlscheck_textf(r->cert_name, sizeof(r->cert_name), "%s", o->cert_name ? o->cert_name : "");
	f->attempted = true;
	const char *host = o->host_name && *o->host_name ? o->host_name : NULL;
	if (host && !dc_tlscheck_is_ip(host))
		dc_tlscheck_textf(f->sni, sizeof(f->sni), "%s", host);

	struct dc_tls_opts to = {.sni = host, .timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000,
				 .ocsp_status = o->revocation};
	struct dc_tls_conn conn;
	struct dc_error cerr;
	dc_error_clear(&cerr);
	STACK_OF(X509) *chain = NULL;
	if (dc_tls_connect(addr, addrlen, &to, &conn, &cerr) < 0) {
		f->failure = conn.failure;
		dc_tlscheck_textf(f->alert, sizeof(f->alert), "%s", conn.alert);
		dc_tlscheck_textf(f->error, sizeof(f->error), "%s", cerr.what);
		if (conn.tcp_ns == 0) {
			/* Nothing answered at TCP: there is no server to judge. */
			*err = cerr;
			return -1;
		}
		if (conn.failure == DC_CONN_TLS_ALERT && sni_alert(conn.alert) && f->sni[0]) {
			/* Does it answer without a name? Then its certificate tells derper's --hostname. */
			struct dc_tls_conn again;
			struct dc_error e2;
			long left = (long)((deadline - dc_now_ns()) / 1000000);
			struct dc_tls_opts no_sni = {.sni = NULL, .timeout_ms = left > 0 ? left : 1};
			f->sni_retried = true;
			if (left > 0 && dc_tls_connect(addr, addrlen, &no_sni, &again, &e2) == 0) {
				STACK_OF(X509) *other = NULL;
				f->no_sni_ok = true;
				capture(&again, f, &other);
				f->handshake = false;
				for (int i = 0; i < sk_X509_num(other); i++)
					dc_tlscheck_add_cert(r, sk_X509_value(other, i), DC_ORIGIN_SERVED, i, NULL, now);
				dc_certs_free(other);
				dc_tls_close(&again);
			}
		}
		explain_handshake_failure(addr, addrlen, o, r, &conn, &cerr, deadline, now);
		for (size_t i = 0; i < r->count; i++)
			r->certs[i].role = r->certs[i].info.metacert ? DC_ROLE_METACERT : i == 0 ? DC_ROLE_LEAF : DC_ROLE_INTERMEDIATE;
		return 0;
	}
	capture(&conn, f, &chain);
	if (o->revocation) {
		const unsigned char *staple;
		size_t n = dc_tls_ocsp_staple(&conn, &staple);
		if (n && n <= DC_OCSP_MAX_BYTES) {
			r->staple = dc_xmalloc(n);
			memcpy(r->staple, staple, n);
			r->staple_len = n;
		}
	}
	read_server_date(&conn, host && !dc_tlscheck_is_ip(host) ? host : f->peer, deadline, now, f);
	dc_tls_close(&conn);

	struct dc_tlscheck_opts rest = *o;
	long left = (long)((deadline > dc_now_ns() ? deadline - dc_now_ns() : 0) / 1000000);
	rest.timeout_ms = left > 0 ? left : 1;
	rest.now = now;
	int rc = dc_tlscheck_chain(chain, false, &rest, r, err);
	dc_certs_free(chain);
	if (rc < 0)
		return -1;
	if (f->have_date && (f->skew_s > 300 || f->skew_s < -300)) {
		char sd[32];
		dc_time_format(f->server_date, sd, sizeof(sd));
		struct dc_finding *x = dc_tlscheck_issue(r, DC_SEV_WARNING, "clock-skew", "connection", NULL,
					     "the server's clock (HTTP Date: %s) differs from this machine's by %+lld s", sd, f->skew_s);
		dc_finding_hint(x, "a certificate looks expired or not yet valid to any machine whose clock is wrong: turn on NTP where the clock is off (timedatectl set-ntp true)");
	}
	if (o->revocation)
		check_revocation(o, r, deadline, now);
	return 0;
}

/* ---- the short form --------------------------------------------------------------------- */

static void add_arg(char *out, size_t n, const char *arg)
{
	dc_shell_append(out, n, arg);
}

void dc_tlscheck_command(const struct dc_tlscheck_call *call, char *out, size_t n)
{
	dc_tlscheck_textf(out, n, "derpcheck cert");
	if (call->derp_map) {
		char id[32];
		dc_tlscheck_textf(id, sizeof(id), "%lld", (long long)call->region_id);
		add_arg(out, n, "--derp-map");
		add_arg(out, n, call->derp_map);
		if (call->map_format) {
			add_arg(out, n, "--map-format");
			add_arg(out, n, call->map_format);
		}
		add_arg(out, n, "--region");
		add_arg(out, n, id);
	} else {
		bool name = call->host_name && *call->host_name && !dc_tlscheck_is_ip(call->host_name);
		if (name && call->addr && *call->addr) {
			add_arg(out, n, "--servername");
			add_arg(out, n, call->host_name);
			add_arg(out, n, call->addr);
		} else {
			add_arg(out, n, call->addr && *call->addr ? call->addr : call->host_name ? call->host_name : "HOST");
		}
	}
	if (call->ca_file) {
		add_arg(out, n, "--ca-file");
		add_arg(out, n, call->ca_file);
	}
}

void dc_tlscheck_node_call(const struct dc_derp_node *n, int64_t region_id, const char *map_spec, const char *map_format,
			   const char *ca_file, struct dc_tlscheck_call *call, char *addr, size_t naddr)
{
	*call = (struct dc_tlscheck_call){
		.derp_map = map_spec, .map_format = map_spec ? map_format : NULL, .region_id = region_id,
		.host_name = n->host_name, .cert_name = n->cert_name && *n->cert_name ? n->cert_name : NULL, .ca_file = ca_file,
	};
	if (map_spec)
		return;
	int port = dc_node_derp_port(n);
	if (dc_node_addr_mode(n->ipv4, 4) == DC_ADDR_STATIC)
		dc_tlscheck_textf(addr, naddr, "%s:%d", n->ipv4, port);
	else if (dc_node_addr_mode(n->ipv6, 6) == DC_ADDR_STATIC)
		dc_tlscheck_textf(addr, naddr, "[%s]:%d", n->ipv6, port);
	else
		dc_tlscheck_textf(addr, naddr, "%s:%d", n->host_name ? n->host_name : "", port);
	call->addr = addr;
}

void dc_tlscheck_brief(const struct dc_tls_conn *conn, const struct dc_error *conn_err, STACK_OF(X509) *chain,
		       const struct dc_tlscheck_call *call, struct dc_tlscheck_brief *out)
{
	dc_ossl_need();
	memset(out, 0, sizeof(*out));
	dc_tlscheck_command(call, out->command, sizeof(out->command));
	if (chain) {
		struct dc_tlscheck_opts o = {
			.host_name = call->host_name, .cert_name = call->cert_name, .ca_file = call->ca_file,
			.no_aia = true, .command = out->command,
		};
		struct dc_cert_report r;
		struct dc_error err;
		dc_cert_report_init(&r);
		if (dc_tlscheck_chain(chain, false, &o, &r, &err) < 0) {
			out->code = "verify-failed";
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "%s: %s", err.where, err.what);
		} else if (r.brief_code) {
			out->code = r.brief_code;
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "%s", r.brief);
		} else {
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "the certificate verifies for every client; the failure is elsewhere");
		}
		dc_cert_report_free(&r);
		return;
	}
	const char *what = conn_err && conn_err->what[0] ? conn_err->what : "the connection failed";
	if (!conn) {
		dc_tlscheck_textf(out->cause, sizeof(out->cause), "%s", what);
		return;
	}
	switch (conn->failure) {
	case DC_CONN_NOT_TLS:
		out->code = "plain-http";
		dc_tlscheck_textf(out->cause, sizeof(out->cause), "the port speaks plain HTTP, not TLS (derper's letsencrypt mode serves TLS only on port 443)");
		break;
	case DC_CONN_TLS_ALERT:
		if (sni_alert(conn->alert)) {
			out->code = "sni-refused";
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "the server refused the TLS name \"%s\" (alert \"%s\"): the DERP map's HostName must equal derper's --hostname",
				 call->host_name ? call->host_name : "", conn->alert);
		} else if (strstr(conn->alert, "protocol version")) {
			out->code = "tls-version";
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "the server offers no TLS version Tailscale speaks (1.2 or newer)");
		} else {
			out->code = "tls-alert";
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "the server aborted the TLS handshake with alert \"%s\"", conn->alert);
		}
		break;
	case DC_CONN_CLOSED:
		out->code = "handshake-closed";
		dc_tlscheck_textf(out->cause, sizeof(out->cause), "the server closed the connection during the TLS handshake");
		break;
	case DC_CONN_TIMEOUT:
		if (conn->tcp_ns) {
			out->code = "handshake-timeout";
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "the TLS handshake never finished");
		} else {
			dc_tlscheck_textf(out->cause, sizeof(out->cause), "%s", what);
		}
		break;
	case DC_CONN_TLS_FAILED:
		out->code = conn->alert_sent[0] ? "handshake-rejected" : "handshake-failed";
		dc_tlscheck_textf(out->cause, sizeof(out->cause), "%s", what);
		break;
	default:
		dc_tlscheck_textf(out->cause, sizeof(out->cause), "%s", what);
		break;
	}
}
