#include "derpcheck/judge/serverconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "derpcheck/judge/certfiles.h"
#include "derpcheck/judge/tlscheck.h"
#include "derpcheck/probe/listeners.h"
#include "derpcheck/probe/prober.h"

#include "derpcheck/net/ossl.h"

/* derper asks its tailscaled here (paths.DefaultTailscaledSocket on Linux) for -verify-clients. */
#define TAILSCALED_SOCKET "/var/run/tailscale/tailscaled.sock"

struct run {
	const struct dc_server_opts *o;
	struct dc_server_report *r;
	const struct dc_derper_flags *f;
	const struct dc_deployment *files;    /* whose paths derper's files are read through */
	const struct dc_deployment *publish;  /* the container whose publishing counts; NULL: derper's own ports */
	time_t now;
	/* the certificate files, when read */
	bool have_files;
	struct dc_certfiles certfiles;
	char certdir_shown[PATH_MAX];
};

static void textf(char *out, size_t n, const char *fmt, ...) DC_PRINTF(3, 4);
static void textf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

static struct dc_server_check *add(struct run *k, const char *id, enum dc_check_status st, const char *code)
{
	struct dc_server_report *r = k->r;
	static struct dc_server_check overflow;
	if (r->count >= DC_SRV_MAX_CHECKS) {
		memset(&overflow, 0, sizeof(overflow));
		return &overflow;
	}
	struct dc_server_check *c = &r->checks[r->count++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->status = st;
	c->code = st == DC_CHECK_OK || st == DC_CHECK_SKIP ? NULL : code;
	return c;
}

size_t dc_server_count(const struct dc_server_report *r, enum dc_check_status st)
{
	size_t n = 0;
	for (size_t i = 0; i < r->count; i++)
		n += r->checks[i].status == st;
	return n;
}

int dc_server_exit_status(const struct dc_server_report *r)
{
	if (!r->flags_known)
		return 2;
	return dc_server_count(r, DC_CHECK_FAIL) ? 1 : 0;
}

static const char *proto(bool udp)
{
	return udp ? "udp" : "tcp";
}

void dc_server_publish_fix(int map_port, int container_port, int published_host_port, bool udp, char *fix, size_t n)
{
	const char *suffix = udp ? "/udp" : "";
	if (published_host_port > 0)
		textf(fix, n, "publish %d%s (`%d:%d%s`) or set %s %d", map_port, udp ? "/udp" : "/tcp", map_port, container_port,
		      suffix, udp ? "STUNPort" : "DERPPort", published_host_port);
	else
		textf(fix, n, "publish %d%s (`%d:%d%s`)", map_port, udp ? "/udp" : "/tcp", map_port, container_port, suffix);
}

/* ---- derper's flags ------------------------------------------------------------------ */

/* The ignored words after the stop, as "-a :38894 -certmode manual" (shortened). */
static void ignored_words(const struct dc_deployment *d, const struct dc_derper_flags *f, char *out, size_t n)
{
	out[0] = '\0';
	for (int i = f->stop_index + 1; i < d->argc; i++) {
		size_t used = strlen(out);
		if (used + 40 > n) {
			snprintf(out + used, n - used, " ...");
			return;
		}
		snprintf(out + used, n - used, "%s%.60s", used ? " " : "", d->argv[i]);
	}
}

static bool any_flag_after(const struct dc_deployment *d, int from)
{
	for (int i = from; i < d->argc; i++)
		if (d->argv[i][0] == '-' && d->argv[i][1])
			return true;
	return false;
}

static void check_flags(struct run *k)
{
	const struct dc_deployment *d = k->r->flags_from;
	const struct dc_derper_flags *f = k->f;
	struct dc_server_check *c;
	char ign[400];
	ignored_words(d, f, ign, sizeof(ign));
	if (f->stop == DC_FLAGS_STOP_ERROR) {
		c = add(k, DC_SRV_FLAGS, DC_CHECK_FAIL, "derper-flag-error");
		textf(c->summary, sizeof(c->summary), "derper refuses its command line at \"%.100s\"", d->argv[f->stop_index]);
		textf(c->cause, sizeof(c->cause), "derper exits at start-up with: %s", f->error);
		if (strstr(f->error, "not defined"))
			textf(c->fix, sizeof(c->fix), "remove the flag, or run a derper version that has it (derper -h lists its flags)");
		else
			textf(c->fix, sizeof(c->fix), "correct the value (derper -h lists each flag's form)");
		return;
	}
	if (f->stop != DC_FLAGS_STOP_END && any_flag_after(d, f->stop_index + 1)) {
		c = add(k, DC_SRV_FLAGS, DC_CHECK_FAIL, f->bad_bool[0] ? "derper-flag-bool-value" : "derper-flags-ignored");
		textf(c->summary, sizeof(c->summary), "derper stops reading flags at \"%.80s\": %d later argument%s ignored",
		      d->argv[f->stop_index], f->ignored, f->ignored == 1 ? " is" : "s are");
		if (f->bad_bool[0])
			textf(c->cause, sizeof(c->cause),
			      "-%s is a boolean: Go's flag package reads \"-%s %s\" as -%s=true followed by the word \"%s\", which ends "
			      "flag parsing, so derper ignores: %s",
			      f->bad_bool, f->bad_bool, d->argv[f->stop_index], f->bad_bool, d->argv[f->stop_index], ign);
		else
			textf(c->cause, sizeof(c->cause),
			      "Go's flag package stops at the first argument that is not a flag%s, so derper ignores: %s",
			      f->stop == DC_FLAGS_STOP_DASHDASH ? " (here \"--\")" : "", ign);
		if (f->bad_bool[0])
			textf(c->fix, sizeof(c->fix), "write -%s=%s (booleans take their value after '=')", f->bad_bool,
			      d->argv[f->stop_index]);
		else
			textf(c->fix, sizeof(c->fix), "remove \"%.80s\" or move it after the flags", d->argv[f->stop_index]);
		return;
	}
	c = add(k, DC_SRV_FLAGS, DC_CHECK_OK, NULL);
	textf(c->summary, sizeof(c->summary), "%d argument%s, all read as derper reads them%s%s", d->argc,
	      d->argc == 1 ? "" : "s", f->newer[0] ? "; newer than 1.34: " : "", f->newer);
}

/* ---- ports --------------------------------------------------------------------------- */

/* Host ports publishing container port/proto; *other gets one rule of the other protocol. */
static size_t published(const struct dc_deployment *d, int port, bool udp, const struct dc_port_publish **out, size_t max,
			const struct dc_port_publish **other)
{
	size_t n = 0;
	*other = NULL;
	for (size_t i = 0; i < d->port_count; i++) {
		const struct dc_port_publish *p = &d->ports[i];
		if (p->container_port != port)
			continue;
		if (p->udp == udp && n < max)
			out[n++] = p;
		else if (p->udp != udp && !*other)
			*other = p;
	}
	return n;
}

static const struct dc_port_publish *host_rule(const struct dc_deployment *d, int host_port, bool udp)
{
	for (size_t i = 0; i < d->port_count; i++)
		if (d->ports[i].host_port == host_port && d->ports[i].udp == udp)
			return &d->ports[i];
	return NULL;
}

/*
 * One of derper's ports against the publishing and the map. what: "DERP", "STUN",
 * "HTTP"; map_port < 0: the map says nothing; flag: how derper's side is set.
 */
static void check_port(struct run *k, const char *id, const char *what, int listen_port, bool udp, int map_port,
		       const char *map_field, const char *flag)
{
	struct dc_server_check *c;
	const char *pr = proto(udp);
	const char *mismatch_code = udp ? "stun-port-mismatch" : strcmp(what, "DERP") == 0 ? "derp-port-mismatch" : "http-port-mismatch";
	if (!k->publish) {
		if (map_port < 0 || map_port == listen_port) {
			c = add(k, id, DC_CHECK_OK, NULL);
			if (map_port < 0)
				textf(c->summary, sizeof(c->summary), "derper: %s on %s/%d (%s)", what, pr, listen_port, flag);
			else
				textf(c->summary, sizeof(c->summary), "derper %s on %s/%d, the map's %s %d", what, pr, listen_port, map_field,
				      map_port);
			return;
		}
		c = add(k, id, DC_CHECK_FAIL, mismatch_code);
		textf(c->summary, sizeof(c->summary), "derper's %s is %s/%d (%s), the map says %s %d", what, pr, listen_port, flag,
		      map_field, map_port);
		textf(c->cause, sizeof(c->cause), "clients send %s to %s/%d of this machine (the map's %s), where derper does not listen",
		      what, pr, map_port, map_field);
		textf(c->fix, sizeof(c->fix), "set %s %d in the DERP map, or run derper with %s", map_field, listen_port,
		      udp ? "-stun-port" : strcmp(what, "DERP") == 0 ? "-a :PORT" : "-http-port");
		size_t fl = strlen(c->fix);
		if (udp)
			textf(c->fix + fl, sizeof(c->fix) - fl, " %d", map_port);
		else if (strcmp(what, "DERP") == 0) {
			char *colon = strstr(c->fix, ":PORT");
			if (colon)
				textf(colon, sizeof(c->fix) - (size_t)(colon - c->fix), ":%d", map_port);
		} else
			textf(c->fix + fl, sizeof(c->fix) - fl, " %d", map_port);
		return;
	}
	const struct dc_deployment *d = k->publish;
	const struct dc_port_publish *rules[16], *other;
	size_t n = published(d, listen_port, udp, rules, DC_ARRAY_LEN(rules), &other);
	char hosts[200] = "";
	bool map_published = false;
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(hosts);
		if (rules[i]->host_port)
			textf(hosts + used, sizeof(hosts) - used, "%s%d", i ? ", " : "", rules[i]->host_port);
		else
			textf(hosts + used, sizeof(hosts) - used, "%sa port docker picks", i ? ", " : "");
		map_published = map_published || rules[i]->host_port == map_port;
	}
	if (n && (map_port < 0 || map_published)) {
		c = add(k, id, DC_CHECK_OK, NULL);
		if (map_port < 0)
			textf(c->summary, sizeof(c->summary), "container %s/%d (%s) published on host port %s", pr, listen_port, flag,
			      hosts);
		else
			textf(c->summary, sizeof(c->summary), "map %s %d \u2192 host %s/%d \u2192 container %d (%s)", map_field, map_port,
			      pr, map_port, listen_port, flag);
		return;
	}
	if (map_port >= 0) {
		const struct dc_port_publish *elsewhere = host_rule(d, map_port, udp);
		if (elsewhere) {
			c = add(k, id, DC_CHECK_FAIL, mismatch_code);
			textf(c->summary, sizeof(c->summary), "host %s/%d goes to container port %d, but derper's %s is on %d (%s)", pr,
			      map_port, elsewhere->container_port, what, listen_port, flag);
			textf(c->cause, sizeof(c->cause), "\"%s\" forwards the map's %s %d to container port %d, where derper does not listen",
			      elsewhere->text, map_field, map_port, elsewhere->container_port);
			textf(c->fix, sizeof(c->fix), "publish `%d:%d%s` instead, or run derper with %s %d", map_port, listen_port,
			      udp ? "/udp" : "", udp ? "-stun-port" : strcmp(what, "DERP") == 0 ? "-a :" : "-http-port",
			      elsewhere->container_port);
			if (!udp && strcmp(what, "DERP") == 0) {
				char *sp = strstr(c->fix, "-a : ");
				if (sp)
					memmove(sp + 4, sp + 5, strlen(sp + 5) + 1);
			}
			return;
		}
	}
	if (n) {
		/* the seed: 3478:38893/udp while the map says STUNPort 38893 */
		c = add(k, id, DC_CHECK_FAIL, udp ? "stun-port-not-published" : strcmp(what, "DERP") == 0 ? "derp-port-not-published" : "http-port-not-published");
		textf(c->summary, sizeof(c->summary), "the map's %s %d is not published; host %s/%s goes to derper's %d (\"%s\")", map_field,
		      map_port, pr, hosts, listen_port, rules[0]->text);
		textf(c->cause, sizeof(c->cause),
		      "clients send %s to %s/%d (the map's %s), but docker forwards only host port %s to derper's %d: nothing "
		      "answers on %d",
		      what, pr, map_port, map_field, hosts, listen_port, map_port);
		dc_server_publish_fix(map_port, listen_port, rules[0]->host_port, udp, c->fix, sizeof(c->fix));
		return;
	}
	if (other) {
		c = add(k, id, DC_CHECK_FAIL, udp ? "stun-published-tcp" : "derp-published-udp");
		textf(c->summary, sizeof(c->summary), "derper's %s port %d is published as %s only (\"%s\")", what, listen_port,
		      proto(!udp), other->text);
		if (udp)
			textf(c->cause, sizeof(c->cause), "without \"/udp\" docker publishes TCP, but STUN is UDP: no STUN packet reaches derper");
		else
			textf(c->cause, sizeof(c->cause), "\"/udp\" publishes UDP only, but DERP runs over TCP (TLS): no client connection reaches derper");
		int hp = other->host_port ? other->host_port : map_port >= 0 ? map_port : listen_port;
		textf(c->fix, sizeof(c->fix), "write `%d:%d%s`", hp, listen_port, udp ? "/udp" : "");
		return;
	}
	int hp = map_port >= 0 ? map_port : listen_port;
	c = add(k, id, DC_CHECK_FAIL, udp ? "stun-port-not-published" : strcmp(what, "DERP") == 0 ? "derp-port-not-published" : "http-port-not-published");
	textf(c->summary, sizeof(c->summary), "derper's %s port %s/%d (%s) is not published", what, pr, listen_port, flag);
	textf(c->cause, sizeof(c->cause), "no ports: entry forwards a host port to container port %d/%s, so nothing reaches it from outside",
	      listen_port, pr);
	textf(c->fix, sizeof(c->fix), "publish `%d:%d%s`", hp, listen_port, udp ? "/udp" : "");
}

static void check_ports(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	const struct dc_derp_node *node = k->r->node;
	char flag[300];
	struct dc_server_check *c;
	const struct dc_deployment *file = k->o->file;
	if (file && file->ports_ignored) {
		c = add(k, DC_SRV_NETWORK, DC_CHECK_WARN, "ports-ignored-host-network");
		textf(c->summary, sizeof(c->summary), "network_mode: host with %zu ports: entr%s", file->port_count,
		      file->port_count == 1 ? "y" : "ies");
		textf(c->cause, sizeof(c->cause), "with the host's network docker ignores ports:; derper's own ports are the ones that count");
		textf(c->fix, sizeof(c->fix), "remove ports: (or remove network_mode: host to publish them)");
	}
	if (f->listen_port < 0) {
		c = add(k, DC_SRV_DERP_PORT, DC_CHECK_FAIL, "derper-listen-invalid");
		textf(c->summary, sizeof(c->summary), "-a \"%s\" is not a listen address", f->addr);
		textf(c->cause, sizeof(c->cause), "derper exits with: invalid server address (it wants \":port\", \"ip:port\" or \"[ipv6]:port\")");
		textf(c->fix, sizeof(c->fix), "write -a :%d", node ? (int)dc_node_derp_port(node) : 443);
	} else if (!f->derp) {
		bool map_wants = node && !node->stun_only;
		c = add(k, DC_SRV_DERP_PORT, map_wants ? DC_CHECK_FAIL : DC_CHECK_SKIP, "derp-disabled");
		textf(c->summary, sizeof(c->summary), "derper runs with -derp=false: /derp answers 404");
		if (map_wants) {
			textf(c->cause, sizeof(c->cause), "the map's node %s is not STUNOnly, so clients try to relay through it", node->name);
			textf(c->fix, sizeof(c->fix), "remove -derp=false, or set \"STUNOnly\": true on node %s", node->name);
		}
	} else if (node && node->stun_only) {
		c = add(k, DC_SRV_DERP_PORT, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "the map's node %s is STUNOnly: clients do not relay here", node->name);
	} else {
		textf(flag, sizeof(flag), "-a %s", f->addr);
		check_port(k, DC_SRV_DERP_PORT, "DERP", f->listen_port, false, node ? dc_node_derp_port(node) : -1, "DERPPort", flag);
	}

	int map_stun = node ? dc_node_stun_port(node) : -2;
	if (!f->stun) {
		bool map_wants = node && map_stun >= 0;
		c = add(k, DC_SRV_STUN_PORT, map_wants ? DC_CHECK_FAIL : DC_CHECK_SKIP, "stun-disabled");
		textf(c->summary, sizeof(c->summary), "derper runs with -stun=false: no STUN server");
		if (map_wants) {
			textf(c->cause, sizeof(c->cause), "the map gives node %s STUNPort %d, so clients send STUN to it and get no answer",
			      node->name, map_stun);
			textf(c->fix, sizeof(c->fix), "remove -stun=false, or set \"STUNPort\": -1 on node %s", node->name);
		}
	} else if (map_stun == -1) {
		c = add(k, DC_SRV_STUN_PORT, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "the map disables STUN for node %s (STUNPort -1); derper's STUN on udp/%d is unused",
		      node->name, f->stun_port);
	} else {
		textf(flag, sizeof(flag), "-stun-port %d", f->stun_port);
		check_port(k, DC_SRV_STUN_PORT, "STUN", f->stun_port, true, node ? map_stun : -1, "STUNPort", flag);
	}

	if (node && node->can_port80) {
		if (!f->http_listener) {
			c = add(k, DC_SRV_HTTP_PORT, DC_CHECK_FAIL, "http-port-off");
			textf(c->summary, sizeof(c->summary), "the map sets CanPort80, but derper serves no plain HTTP port (%s)",
			      f->http_port < 0 ? "-http-port -1" : "no TLS, so no -http-port listener");
			textf(c->cause, sizeof(c->cause), "clients with CanPort80 try http://%s/ (port 80) when TLS is blocked; nothing answers",
			      node->host_name);
			textf(c->fix, sizeof(c->fix), "run derper with -http-port 80, or remove \"CanPort80\" from node %s", node->name);
		} else {
			textf(flag, sizeof(flag), "-http-port %d", f->http_port);
			check_port(k, DC_SRV_HTTP_PORT, "HTTP", f->http_port, false, 80, "CanPort80 port", flag);
		}
	}
}

/* ---- TLS mode and names -------------------------------------------------------------- */

static void check_tls_mode(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	const struct dc_derp_node *node = k->r->node;
	struct dc_server_check *c;
	if (!f->serve_tls) {
		c = add(k, DC_SRV_TLS_MODE, DC_CHECK_FAIL, "plain-http-port");
		textf(c->summary, sizeof(c->summary), "derper serves plain HTTP on %s (-certmode %s)", f->addr, f->certmode);
		textf(c->cause, sizeof(c->cause),
		      "derper speaks TLS only when -a's port is 443 or with -certmode manual (derper.go serveTLS); clients fail "
		      "with \"tls: first record does not look like a TLS handshake\"");
		textf(c->fix, sizeof(c->fix),
		      "add -certmode manual -certdir DIR -hostname %s with <hostname>.crt/.key in DIR, or listen on :443 for Let's Encrypt",
		      node ? node->host_name : f->hostname);
		return;
	}
	if (strcmp(f->certmode, "manual") != 0 && strcmp(f->certmode, "letsencrypt") != 0) {
		c = add(k, DC_SRV_TLS_MODE, DC_CHECK_WARN, "certmode-unknown");
		textf(c->summary, sizeof(c->summary), "-certmode %s", f->certmode);
		textf(c->cause, sizeof(c->cause), "derper 1.34 knows only manual and letsencrypt (gcp came in 1.94) and exits with \"unsupport cert mode\"");
		textf(c->fix, sizeof(c->fix), "use -certmode manual or -certmode letsencrypt");
		return;
	}
	c = add(k, DC_SRV_TLS_MODE, DC_CHECK_OK, NULL);
	if (strcmp(f->certmode, "manual") == 0)
		textf(c->summary, sizeof(c->summary), "TLS on %s with -certmode manual (certificate read once, at start)", f->addr);
	else
		textf(c->summary, sizeof(c->summary), "TLS on %s with Let's Encrypt (autocert; needs ports 443 or 80 reachable from the internet)",
		      f->addr);
}

static void check_hostname(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	const struct dc_derp_node *node = k->r->node;
	struct dc_server_check *c;
	if (!DC_DF_IS_SET(f, DC_DF_HOSTNAME) && f->serve_tls) {
		c = add(k, DC_SRV_HOSTNAME, DC_CHECK_FAIL, "hostname-default");
		textf(c->summary, sizeof(c->summary), "no -hostname: derper uses derp.tailscale.com");
		textf(c->cause, sizeof(c->cause), "derper accepts TLS only for its -hostname and names its certificate files after it");
		textf(c->fix, sizeof(c->fix), "add -hostname %s", node ? node->host_name : "YOUR.DERP.NAME");
		return;
	}
	if (!node) {
		c = add(k, DC_SRV_HOSTNAME, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "-hostname %s; %s", f->hostname, k->r->node_note);
		return;
	}
	if (f->serve_tls && strcmp(f->hostname, node->host_name) != 0) {
		c = add(k, DC_SRV_HOSTNAME, DC_CHECK_FAIL, "hostname-mismatch");
		textf(c->summary, sizeof(c->summary), "derper's -hostname %s, the map's HostName %s", f->hostname, node->host_name);
		textf(c->cause, sizeof(c->cause),
		      "clients send the map's HostName as the TLS name (SNI); derper refuses every other name (\"cert mismatch with "
		      "hostname\", an internal_error alert)");
		textf(c->fix, sizeof(c->fix), "make them the same: -hostname %s, or \"HostName\": \"%s\"", node->host_name, f->hostname);
		return;
	}
	c = add(k, DC_SRV_HOSTNAME, DC_CHECK_OK, NULL);
	textf(c->summary, sizeof(c->summary), "-hostname %s is the map's HostName (node %s)", f->hostname, node->name);
}

/* ---- certificates on disk ------------------------------------------------------------ */

static void finding_check(struct run *k, const char *id, const struct dc_finding *x, const struct dc_cert_report *rep)
{
	struct dc_server_check *c =
		add(k, id, x->severity == DC_SEV_ERROR ? DC_CHECK_FAIL : DC_CHECK_WARN, x->code);
	const char *nl = strchr(x->message, '\n');
	textf(c->summary, sizeof(c->summary), "%.*s", nl ? (int)(nl - x->message) : (int)strlen(x->message), x->message);
	textf(c->cause, sizeof(c->cause), "%s", x->message);
	textf(c->fix, sizeof(c->fix), "%s", x->hint ? x->hint : "");
	/* the summary is the short form: the first sentence of the message */
	char *semi = strstr(c->summary, "; ");
	if (semi && semi - c->summary > 20)
		*semi = '\0';
	/* tlscheck's one-line form of its first error reads better than the message's start */
	if (rep && rep->brief_code && strcmp(rep->brief_code, x->code) == 0 && rep->brief[0])
		textf(c->summary, sizeof(c->summary), "%s", rep->brief);
}

static void check_certificates(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	const struct dc_derp_node *node = k->r->node;
	struct dc_server_check *c;
	if (!f->serve_tls || strcmp(f->certmode, "manual") != 0)
		return;
	if (!f->certdir[0]) {
		c = add(k, DC_SRV_CERT, DC_CHECK_FAIL, "certdir-missing");
		textf(c->summary, sizeof(c->summary), "no -certdir (and no HOME for derper's default)");
		textf(c->cause, sizeof(c->cause), "derper exits with: can not start cert provider: missing required --certdir flag");
		textf(c->fix, sizeof(c->fix), "add -certdir DIR with %s.crt and %s.key in it", f->hostname, f->hostname);
		return;
	}
	char host_dir[PATH_MAX];
	const struct dc_mount *m = NULL;
	if (!dc_deployment_host_path(k->files, f->certdir, host_dir, sizeof(host_dir), &m)) {
		bool volume = m && m->named_volume;
		c = add(k, DC_SRV_CERT, DC_CHECK_WARN, volume ? "certdir-in-volume" : "certdir-not-mounted");
		textf(c->summary, sizeof(c->summary), "-certdir %s is %s", f->certdir,
		      volume ? "in a named docker volume" : "not mounted from the host: the certificate files cannot be checked");
		if (volume) {
			textf(c->cause, sizeof(c->cause), "the volume \"%s\" holds the files; derpcheck reads host folders only", m->source);
			textf(c->fix, sizeof(c->fix), "run derpcheck server --pid PID while derper runs (it reads the files through /proc), or bind-mount a host folder");
		} else {
			textf(c->cause, sizeof(c->cause), "no volume covers %s, so the files come from the image: renewals on the host never reach derper",
			      f->certdir);
			textf(c->fix, sizeof(c->fix), "mount the host folder holding %s.crt and %s.key: volumes: - ./certs:%s", f->hostname,
			      f->hostname, f->certdir);
		}
		return;
	}
	snprintf(k->certdir_shown, sizeof(k->certdir_shown), "%s", host_dir);
	struct stat st;
	if (stat(host_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		c = add(k, DC_SRV_CERT, DC_CHECK_FAIL, "certdir-not-found");
		textf(c->summary, sizeof(c->summary), "-certdir %s: %s %s", f->certdir, host_dir,
		      stat(host_dir, &st) < 0 ? "does not exist" : "is not a directory");
		textf(c->cause, sizeof(c->cause), "derper reads %s.crt and %s.key from -certdir and exits when they are missing",
		      f->hostname, f->hostname);
		textf(c->fix, sizeof(c->fix), "create %s with the certificate files (acme.sh --fullchain-file/--key-file)", host_dir);
		return;
	}
	struct dc_certfiles_opts fo = {.certdir = host_dir, .hostname = f->hostname, .now = k->now};
	struct dc_error err;
	if (dc_certfiles_check(&fo, &k->certfiles, &err) < 0) {
		c = add(k, DC_SRV_CERT, DC_CHECK_FAIL, "certdir-not-found");
		textf(c->summary, sizeof(c->summary), "%s: %s", err.where, err.what);
		return;
	}
	k->have_files = true;
	snprintf(k->r->cert_path, sizeof(k->r->cert_path), "%s", k->certfiles.cert_path);
	snprintf(k->r->key_path, sizeof(k->r->key_path), "%s", k->certfiles.key_path);
	size_t before = k->r->count;
	for (size_t i = 0; i < k->certfiles.findings.count; i++)
		finding_check(k, DC_SRV_CERT, &k->certfiles.findings.items[i], NULL);
	if (!k->certfiles.chain)
		return;
	/* The chain as clients judge it: the map's HostName is the name they check. */
	struct dc_tlscheck_opts to = {
		.host_name = node ? node->host_name : f->hostname,
		.cert_name = node && node->cert_name && node->cert_name[0] ? node->cert_name : NULL,
		.derper_hostname = f->hostname,
		.certdir = k->certdir_shown,
		.ca_file = k->o->ca_file,
		.no_aia = true, /* no traffic off the machine */
		.now = k->now,
	};
	struct dc_cert_report rep;
	dc_cert_report_init(&rep);
	snprintf(rep.where, sizeof(rep.where), "%.*s", (int)sizeof(rep.where) - 1, k->certfiles.cert_path);
	if (dc_tlscheck_chain(k->certfiles.chain, true, &to, &rep, &err) < 0) {
		c = add(k, DC_SRV_CERT, DC_CHECK_FAIL, "trust-store");
		textf(c->summary, sizeof(c->summary), "%s: %s", err.where, err.what);
		dc_cert_report_free(&rep);
		return;
	}
	for (size_t i = 0; i < rep.findings.count; i++)
		finding_check(k, DC_SRV_CERT, &rep.findings.items[i], &rep);
	/* derper's own start-up check is Go's VerifyHostname(-hostname): only when it differs from HostName */
	if (node && strcmp(node->host_name, f->hostname) != 0) {
		struct dc_cert_report own;
		dc_cert_report_init(&own);
		to.host_name = f->hostname;
		to.cert_name = NULL;
		if (dc_tlscheck_chain(k->certfiles.chain, true, &to, &own, &err) == 0)
			for (size_t i = 0; i < own.findings.count; i++) {
				const char *code = own.findings.items[i].code;
				if (!strcmp(code, "name-mismatch") || !strcmp(code, "wrong-domain") || !strcmp(code, "cn-only") ||
				    !strcmp(code, "ip-san-missing"))
					finding_check(k, DC_SRV_CERT, &own.findings.items[i], &own);
			}
		dc_cert_report_free(&own);
	}
	if (k->r->count == before) {
		c = add(k, DC_SRV_CERT, DC_CHECK_OK, NULL);
		const struct dc_cert_info *leaf = rep.count ? &rep.certs[0].info : NULL;
		int n = sk_X509_num(k->certfiles.chain);
		char until[40] = "";
		if (leaf)
			dc_time_format(leaf->not_after, until, sizeof(until));
		textf(c->summary, sizeof(c->summary), "%s: leaf + %d issuer%s, key matches, valid for %s until %s", k->certfiles.cert_path,
		      n - 1, n == 2 ? "" : "s", to.host_name, until);
	}
	dc_cert_report_free(&rep);
}

/* ---- other deployment facts ---------------------------------------------------------- */

static bool unix_socket_answers(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void check_verify_clients(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	if (!f->verify_clients)
		return;
	struct dc_server_check *c;
	char path[PATH_MAX];
	const struct dc_mount *m = NULL;
	bool container_file = k->files->source == DC_DEPLOY_COMPOSE || k->files->source == DC_DEPLOY_INSPECT;
	bool mapped = dc_deployment_host_path(k->files, TAILSCALED_SOCKET, path, sizeof(path), &m);
	if (!mapped && container_file)
		mapped = dc_deployment_host_path(k->files, "/run/tailscale/tailscaled.sock", path, sizeof(path), &m);
	if (!mapped) {
		c = add(k, DC_SRV_VERIFY, DC_CHECK_FAIL, "verify-clients-no-socket");
		textf(c->summary, sizeof(c->summary), "-verify-clients, but tailscaled's socket is not mounted into the container");
		textf(c->cause, sizeof(c->cause),
		      "derper asks tailscaled at %s whether each client is in the tailnet; without it every client is refused "
		      "after ClientInfo",
		      TAILSCALED_SOCKET);
		textf(c->fix, sizeof(c->fix),
		      "mount it: volumes: - /var/run/tailscale:/var/run/tailscale (tailscaled runs on the host, in the same tailnet), "
		      "or remove -verify-clients");
		return;
	}
	struct stat st;
	bool exists = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
	bool answers = exists && unix_socket_answers(path);
	if (!answers) {
		c = add(k, DC_SRV_VERIFY, DC_CHECK_FAIL, "verify-clients-no-tailscaled");
		textf(c->summary, sizeof(c->summary), "-verify-clients, but %s %s", path,
		      exists ? "does not accept connections" : "does not exist");
		textf(c->cause, sizeof(c->cause),
		      "derper asks tailscaled whether each client is in the tailnet; with no tailscaled it refuses every client after "
		      "ClientInfo");
		textf(c->fix, sizeof(c->fix), "run tailscaled on this machine, logged in to the tailnet, or remove -verify-clients");
		return;
	}
	c = add(k, DC_SRV_VERIFY, DC_CHECK_OK, NULL);
	textf(c->summary, sizeof(c->summary), "-verify-clients: tailscaled answers at %s", path);
}

static void check_mesh(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	struct dc_server_check *c;
	if (!f->mesh_psk_file[0]) {
		if (f->mesh_with[0]) {
			c = add(k, DC_SRV_MESH, DC_CHECK_FAIL, "mesh-key-missing");
			textf(c->summary, sizeof(c->summary), "-mesh-with %s without -mesh-psk-file", f->mesh_with);
			textf(c->cause, sizeof(c->cause), "derper exits with: startMesh: --mesh-with requires --mesh-psk-file");
			textf(c->fix, sizeof(c->fix), "add -mesh-psk-file FILE with the same 64-hex-digit key on every derper of the region");
		}
		return;
	}
	char path[PATH_MAX];
	const struct dc_mount *m = NULL;
	if (!dc_deployment_host_path(k->files, f->mesh_psk_file, path, sizeof(path), &m)) {
		c = add(k, DC_SRV_MESH, DC_CHECK_WARN, "mesh-key-not-mounted");
		textf(c->summary, sizeof(c->summary), "-mesh-psk-file %s is not mounted from the host", f->mesh_psk_file);
		textf(c->cause, sizeof(c->cause), "no volume covers it: the key is baked into the image, or derper exits with \"no such file\"");
		textf(c->fix, sizeof(c->fix), "mount the key file: volumes: - ./derp-mesh.key:%s:ro", f->mesh_psk_file);
		return;
	}
	struct dc_buf b = {0};
	struct dc_error err;
	if (dc_read_small_file(path, 4096, &b, &err) < 0) {
		c = add(k, DC_SRV_MESH, DC_CHECK_FAIL, "mesh-key-missing");
		textf(c->summary, sizeof(c->summary), "-mesh-psk-file %s: %s", path, err.what);
		textf(c->cause, sizeof(c->cause), "derper reads the mesh key at start-up and exits when it cannot");
		textf(c->fix, sizeof(c->fix), "create %s (mode 600) holding the region's 64-hex-digit mesh key (openssl rand -hex 32)", path);
		return;
	}
	/* strings.TrimSpace, then (?i)^[0-9a-f]{64,}$ (derper 1.34); newer derpers want exactly 64 lower-case */
	size_t s = 0, e = b.len;
	while (s < e && isspace((unsigned char)b.data[s]))
		s++;
	while (e > s && isspace((unsigned char)b.data[e - 1]))
		e--;
	size_t hex = 0;
	bool upper = false, other = false;
	for (size_t i = s; i < e; i++) {
		char ch = b.data[i];
		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))
			hex++;
		else if (ch >= 'A' && ch <= 'F')
			hex++, upper = true;
		else
			other = true;
	}
	sodium_memzero(b.data, b.len); /* a secret: not left in freed memory */
	dc_buf_free(&b);
	if (other || hex < 64) {
		c = add(k, DC_SRV_MESH, DC_CHECK_FAIL, "mesh-key-invalid");
		textf(c->summary, sizeof(c->summary), "%s does not hold a mesh key (%zu characters, %s)", path, e - s,
		      other ? "not all hex digits" : "fewer than 64 hex digits");
		textf(c->cause, sizeof(c->cause), "derper exits with: key in %s must contain 64+ hex digits", f->mesh_psk_file);
		textf(c->fix, sizeof(c->fix), "write the region's key as 64 hex digits (openssl rand -hex 32 > %s), the same on every derper", path);
		return;
	}
	if (hex != 64 || upper) {
		c = add(k, DC_SRV_MESH, DC_CHECK_WARN, "mesh-key-format");
		textf(c->summary, sizeof(c->summary), "the mesh key in %s has %zu hex digits%s", path, hex, upper ? ", some upper-case" : "");
		textf(c->cause, sizeof(c->cause), "derper 1.34 accepts it, but derpers from 1.82 on require exactly 64 lower-case hex digits and exit");
		textf(c->fix, sizeof(c->fix), "write it as 64 lower-case hex digits on every derper of the region");
		return;
	}
	c = add(k, DC_SRV_MESH, DC_CHECK_OK, NULL);
	textf(c->summary, sizeof(c->summary), "mesh key file %s holds 64 hex digits%s%s", path, f->mesh_with[0] ? "; meshes with " : "",
	      f->mesh_with);
}

/* This machine's addresses (getifaddrs), as text "10.0.0.5 (eth0), ..." and a list. */
static size_t local_addresses(struct dc_endpoint *out, size_t max, char *text, size_t n)
{
	struct ifaddrs *ifa = NULL;
	size_t k = 0;
	text[0] = '\0';
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *i = ifa; i && k < max; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		struct dc_endpoint e;
		socklen_t len = i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		if (dc_endpoint_from_sockaddr(&e, i->ifa_addr, len) < 0)
			continue;
		out[k++] = e;
		char ip[DC_ENDPOINT_STRLEN];
		size_t used = strlen(text);
		if (used + 80 < n)
			textf(text + used, n - used, "%s%s (%s)", used ? ", " : "", dc_ip_format(&e, ip, sizeof(ip)), i->ifa_name);
	}
	freeifaddrs(ifa);
	return k;
}

static bool in_list(const struct dc_endpoint *list, size_t n, const struct dc_endpoint *e)
{
	for (size_t i = 0; i < n; i++)
		if (dc_ip_equal(&list[i], e))
			return true;
	return false;
}

static void check_addresses(struct run *k)
{
	const struct dc_derp_node *node = k->r->node;
	if (!node)
		return;
	struct dc_endpoint local[64];
	char local_text[800];
	size_t nl = local_addresses(local, DC_ARRAY_LEN(local), local_text, sizeof(local_text));
	const char *fields[2] = {node->ipv4, node->ipv6};
	for (int fam = 4; fam <= 6; fam += 2) {
		const char *v = fields[fam == 4 ? 0 : 1];
		if (dc_node_addr_mode(v, fam) != DC_ADDR_STATIC)
			continue;
		struct dc_endpoint e;
		if (dc_ip_parse(v, fam, &e) < 0)
			continue;
		struct dc_server_check *c;
		if (in_list(local, nl, &e)) {
			c = add(k, DC_SRV_ADDRESSES, DC_CHECK_OK, NULL);
			textf(c->summary, sizeof(c->summary), "the map's IPv%d %s is an address of this machine", fam, v);
		} else {
			c = add(k, DC_SRV_ADDRESSES, DC_CHECK_SKIP, NULL);
			textf(c->summary, sizeof(c->summary),
			      "the map's IPv%d %s is not an address of this machine (a NAT in front forwards to it?); compared with %s",
			      fam, v, local_text[0] ? local_text : "no addresses");
		}
	}
	bool dns = dc_node_addr_mode(node->ipv4, 4) == DC_ADDR_DNS || dc_node_addr_mode(node->ipv6, 6) == DC_ADDR_DNS;
	if (!dns)
		return;
	struct dc_server_check *c;
	if (!k->o->resolve) {
		c = add(k, DC_SRV_ADDRESSES, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "clients find %s in DNS; not looked up (--resolve asks your resolver)", node->host_name);
		return;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(node->host_name, NULL, &hints, &res);
	if (rc != 0) {
		c = add(k, DC_SRV_ADDRESSES, DC_CHECK_FAIL, "hostname-not-resolving");
		textf(c->summary, sizeof(c->summary), "%s does not resolve: %s", node->host_name, gai_strerror(rc));
		textf(c->cause, sizeof(c->cause), "the map leaves IPv4/IPv6 empty, so clients look the name up in DNS and find nothing");
		textf(c->fix, sizeof(c->fix), "add an A (and AAAA) record for %s pointing at this machine's public address", node->host_name);
		return;
	}
	char found[600] = "";
	bool ours = false;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct dc_endpoint e;
		if (dc_endpoint_from_sockaddr(&e, ai->ai_addr, ai->ai_addrlen) < 0)
			continue;
		char ip[DC_ENDPOINT_STRLEN];
		dc_ip_format(&e, ip, sizeof(ip));
		if (strstr(found, ip))
			continue;
		size_t used = strlen(found);
		if (used + 60 < sizeof(found))
			textf(found + used, sizeof(found) - used, "%s%s", used ? ", " : "", ip);
		ours = ours || in_list(local, nl, &e);
	}
	freeaddrinfo(res);
	c = add(k, DC_SRV_ADDRESSES, ours ? DC_CHECK_OK : DC_CHECK_WARN, "hostname-elsewhere");
	textf(c->summary, sizeof(c->summary), "%s resolves to %s%s", node->host_name, found,
	      ours ? ", an address of this machine" : "");
	if (!ours) {
		textf(c->cause, sizeof(c->cause), "none of them is an address of this machine (%s); fine behind a NAT that forwards to it", local_text);
		textf(c->fix, sizeof(c->fix), "point %s at this machine's public address, or put it in the node's \"IPv4\"", node->host_name);
	}
}

/* ---- the running derper -------------------------------------------------------------- */

static void addr_list(const struct dc_socket_entry **e, size_t n, bool owned_only, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (owned_only && !e[i]->owned)
			continue;
		char s[DC_ENDPOINT_STRLEN];
		size_t used = strlen(out);
		if (used + DC_ENDPOINT_STRLEN + 4 < size)
			textf(out + used, size - used, "%s%s", used ? ", " : "", dc_endpoint_format(&e[i]->local, s, sizeof(s)));
	}
}

static bool loopback_only(const struct dc_socket_entry **e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ip = e[i]->local.ip;
		bool lo = e[i]->local.family == 4 ? ip[0] == 127
						  : (memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);
		if (!lo)
			return false;
	}
	return n > 0;
}

static void check_listen(struct run *k, const struct dc_listeners *l, const char *id, const char *what, bool udp, int port,
			 const char *flag)
{
	const struct dc_socket_entry *e[16];
	size_t n = dc_listeners_on(l, udp, port, e, DC_ARRAY_LEN(e));
	size_t owned = 0;
	for (size_t i = 0; i < n; i++)
		owned += e[i]->owned;
	char addrs[400];
	struct dc_server_check *c;
	if (n == 0) {
		c = add(k, id, DC_CHECK_FAIL, "not-listening");
		textf(c->summary, sizeof(c->summary), "nothing listens on %s/%d (%s) in derper's network namespace", proto(udp), port, flag);
		textf(c->cause, sizeof(c->cause), "derper should %s on %s/%d but no socket is bound there (it failed to start that server, or the flags above are not the ones it runs with)",
		      udp ? "answer STUN" : "accept connections", proto(udp), port);
		textf(c->fix, sizeof(c->fix), "look at derper's log for the reason, then restart it");
		return;
	}
	if (l->owner_known && owned == 0) {
		addr_list(e, n, false, addrs, sizeof(addrs));
		c = add(k, id, DC_CHECK_FAIL, "port-taken");
		textf(c->summary, sizeof(c->summary), "%s/%d is bound (%s), but not by derper", proto(udp), port, addrs);
		textf(c->cause, sizeof(c->cause), "another process holds the port derper's %s wants (%s)", what, flag);
		textf(c->fix, sizeof(c->fix), "stop the other process (ss -%snp 'sport = :%d' names it), then restart derper", udp ? "u" : "t", port);
		return;
	}
	addr_list(e, n, l->owner_known, addrs, sizeof(addrs));
	const struct dc_socket_entry *mine[16];
	size_t nm = 0;
	for (size_t i = 0; i < n; i++)
		if (!l->owner_known || e[i]->owned)
			mine[nm++] = e[i];
	if (loopback_only(mine, nm)) {
		c = add(k, id, DC_CHECK_WARN, "loopback-only");
		textf(c->summary, sizeof(c->summary), "derper's %s %s %s only", what, udp ? "is bound to" : "listens on", addrs);
		textf(c->cause, sizeof(c->cause), "a loopback address is reachable from this machine only (fine behind a local proxy)%s",
		      udp || strcmp(what, "HTTP") == 0 ? "; derper binds it to the address of -a" : "");
		textf(c->fix, sizeof(c->fix), "listen on every address: -a :%d (or the public address)", k->f->listen_port);
		return;
	}
	c = add(k, id, DC_CHECK_OK, NULL);
	textf(c->summary, sizeof(c->summary), "derper%s %s %s", l->owner_known ? "" : " (sockets not tied to the process)",
	      udp ? "is bound to" : "listens on", addrs);
}

/* Where a port of derper's is reached from this machine: its own address, or the published one. */
static bool reach(struct run *k, int port, bool udp, struct dc_endpoint *out, char *why, size_t n)
{
	const struct dc_deployment *p = k->o->process;
	int fam = k->o->family == 6 ? 6 : 4;
	memset(out, 0, sizeof(*out));
	const char *host = k->f->listen_host;
	if (p->other_netns && !(k->publish == NULL && k->o->file && k->o->file->host_network)) {
		if (!k->publish) {
			textf(why, n, "derper runs in its own network namespace and no --compose/--inspect tells how its ports are published");
			return false;
		}
		const struct dc_port_publish *rules[4], *other;
		size_t nr = published(k->publish, port, udp, rules, 4, &other);
		if (nr == 0 || rules[0]->host_port == 0) {
			textf(why, n, "%s/%d is not published on a fixed host port", proto(udp), port);
			return false;
		}
		port = rules[0]->host_port;
		host = rules[0]->host_ip;
	}
	if (host[0] && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0) {
		if (dc_ip_parse(host, 0, out) < 0) {
			textf(why, n, "derper listens on \"%s\", which is not an IP address", host);
			return false;
		}
	} else {
		dc_ip_parse(fam == 6 ? "::1" : "127.0.0.1", fam, out);
	}
	out->port = (uint16_t)port;
	return true;
}

static void probe_stun(struct run *k)
{
	struct dc_endpoint dst;
	char why[300];
	struct dc_server_check *c;
	if (!reach(k, k->f->stun_port, true, &dst, why, sizeof(why))) {
		c = add(k, DC_SRV_PROBE_STUN, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "not probed: %s", why);
		return;
	}
	struct dc_error err;
	struct dc_prober_config cfg = {.want4 = dst.family == 4, .want6 = dst.family == 6};
	struct dc_prober *p = dc_prober_new(&cfg, &err);
	char ep[DC_ENDPOINT_STRLEN];
	dc_endpoint_format(&dst, ep, sizeof(ep));
	if (!p) {
		c = add(k, DC_SRV_PROBE_STUN, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "not probed: %s", err.what);
		return;
	}
	uint64_t timeout = (uint64_t)(k->o->timeout_ms > 0 ? k->o->timeout_ms : 2000) * 1000000u;
	struct dc_probe_spec spec = {.dst = dst, .style = DC_STUN_STYLE_TAILSCALE, .tries = 3, .rto_ns = timeout / 4,
				     .timeout_ns = timeout};
	size_t id = dc_prober_add(p, &spec);
	if (dc_prober_run(p, dc_now_ns() + timeout + 100000000u, NULL, NULL, &err) < 0) {
		c = add(k, DC_SRV_PROBE_STUN, DC_CHECK_FAIL, "stun-no-answer");
		textf(c->summary, sizeof(c->summary), "STUN to %s: %s", ep, err.what);
		dc_prober_free(p);
		return;
	}
	const struct dc_probe_result *res = dc_prober_result(p, id);
	if (res->status == DC_PROBE_OK) {
		char mapped[DC_ENDPOINT_STRLEN];
		c = add(k, DC_SRV_PROBE_STUN, DC_CHECK_OK, NULL);
		textf(c->summary, sizeof(c->summary), "STUN binding request to %s answered in %.1fms (mapped %s)", ep,
		      (double)res->rtt_ns / 1e6, dc_endpoint_format(&res->mapped, mapped, sizeof(mapped)));
	} else {
		c = add(k, DC_SRV_PROBE_STUN, DC_CHECK_FAIL, "stun-no-answer");
		textf(c->summary, sizeof(c->summary), "no STUN answer from %s (%u request%s sent): %s", ep, res->sent,
		      res->sent == 1 ? "" : "s", res->detail[0] ? res->detail : dc_probe_status_name(res->status));
		textf(c->cause, sizeof(c->cause), "derper's STUN server does not answer on this machine either, so clients get no answer");
		textf(c->fix, sizeof(c->fix), "check derper's log for \"running STUN server\" and its -stun-port");
	}
	dc_prober_free(p);
}

static void probe_tls(struct run *k)
{
	const struct dc_derper_flags *f = k->f;
	const struct dc_derp_node *node = k->r->node;
	struct dc_endpoint dst;
	char why[300], ep[DC_ENDPOINT_STRLEN];
	struct dc_server_check *c;
	if (!reach(k, f->listen_port, false, &dst, why, sizeof(why))) {
		c = add(k, DC_SRV_PROBE_TLS, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "not probed: %s", why);
		return;
	}
	dc_endpoint_format(&dst, ep, sizeof(ep));
	const char *name = node ? node->host_name : f->hostname;
	struct sockaddr_storage ss;
	socklen_t len = dc_endpoint_to_sockaddr(&dst, &ss);
	struct dc_tlscheck_opts to = {
		.host_name = name,
		.cert_name = node && node->cert_name && node->cert_name[0] ? node->cert_name : NULL,
		.derper_hostname = f->hostname,
		.certdir = k->certdir_shown[0] ? k->certdir_shown : NULL,
		.ca_file = k->o->ca_file,
		.no_aia = true,
		.timeout_ms = k->o->timeout_ms > 0 ? k->o->timeout_ms : 3000,
		.now = k->now,
	};
	struct dc_cert_report rep;
	struct dc_error err;
	dc_cert_report_init(&rep);
	if (dc_tlscheck_connect((struct sockaddr *)&ss, len, &to, &rep, &err) < 0) {
		c = add(k, DC_SRV_PROBE_TLS, DC_CHECK_FAIL, "tls-no-connection");
		textf(c->summary, sizeof(c->summary), "no TCP connection to %s: %s", ep, err.what);
		textf(c->cause, sizeof(c->cause), "derper's DERP port does not accept connections on this machine");
		textf(c->fix, sizeof(c->fix), "%s", err.hint[0] ? err.hint : "check derper's log and -a");
		dc_cert_report_free(&rep);
		return;
	}
	if (!rep.conn.handshake) {
		const struct dc_finding *x = NULL;
		for (size_t i = 0; i < rep.findings.count && !x; i++)
			if (rep.findings.items[i].severity == DC_SEV_ERROR)
				x = &rep.findings.items[i];
		c = add(k, DC_SRV_PROBE_TLS, DC_CHECK_FAIL, x ? x->code : "handshake-failed");
		textf(c->summary, sizeof(c->summary), "TLS to %s with SNI %s failed: %s", ep, name, rep.conn.error[0] ? rep.conn.error : "no handshake");
		textf(c->cause, sizeof(c->cause), "%s", x ? x->message : rep.conn.error);
		textf(c->fix, sizeof(c->fix), "%s", x && x->hint ? x->hint : "");
		dc_cert_report_free(&rep);
		return;
	}
	if (k->have_files && k->certfiles.chain)
		dc_tlscheck_compare_disk(&rep, sk_X509_value(k->certfiles.chain, 0), k->certfiles.cert_path, k->now);
	size_t before = k->r->count;
	for (size_t i = 0; i < rep.findings.count; i++) {
		const struct dc_finding *x = &rep.findings.items[i];
		/* the files' own problems were reported above; what only the live server shows is here */
		if (strcmp(x->code, "served-differs-from-disk") == 0 || (!k->have_files && x->severity == DC_SEV_ERROR))
			finding_check(k, DC_SRV_PROBE_TLS, x, &rep);
	}
	if (k->r->count == before) {
		c = add(k, DC_SRV_PROBE_TLS, DC_CHECK_OK, NULL);
		const char *sha = rep.count ? rep.certs[0].info.sha256 : "";
		textf(c->summary, sizeof(c->summary), "%s handshake with %s (SNI %s); served leaf SHA-256 %.16s\u2026%s", rep.conn.version, ep, name,
		      sha, k->have_files && k->certfiles.chain ? " = the file on disk" : "");
	}
	dc_cert_report_free(&rep);
}

static void check_live(struct run *k)
{
	const struct dc_deployment *p = k->o->process;
	const struct dc_derper_flags *f = k->f;
	struct dc_listeners l;
	struct dc_error err;
	struct dc_server_check *c;
	if (dc_listeners_read(k->o->proc ? k->o->proc : "/proc", p->pid, &l, &err) < 0) {
		c = add(k, DC_SRV_LISTEN_DERP, DC_CHECK_SKIP, NULL);
		textf(c->summary, sizeof(c->summary), "sockets not read: %s: %s", err.where, err.what);
		return;
	}
	char flag[300];
	if (f->listen_port > 0 && f->derp) {
		textf(flag, sizeof(flag), "-a %s", f->addr);
		check_listen(k, &l, DC_SRV_LISTEN_DERP, "DERP", false, f->listen_port, flag);
	}
	if (f->stun) {
		textf(flag, sizeof(flag), "-stun-port %d", f->stun_port);
		check_listen(k, &l, DC_SRV_LISTEN_STUN, "STUN", true, f->stun_port, flag);
	}
	if (f->http_listener) {
		textf(flag, sizeof(flag), "-http-port %d", f->http_port);
		check_listen(k, &l, DC_SRV_LISTEN_HTTP, "HTTP", false, f->http_port, flag);
	}
	dc_listeners_free(&l);
	if (f->stun)
		probe_stun(k);
	if (f->listen_port > 0 && f->serve_tls)
		probe_tls(k);
}

/* ---- the node -------------------------------------------------------------------------- */

static void choose_node(struct run *k)
{
	const struct dc_server_opts *o = k->o;
	struct dc_server_report *r = k->r;
	if (!o->map) {
		snprintf(r->node_note, sizeof(r->node_note), "no --derp-map: the map's ports and names are not compared");
		return;
	}
	const struct dc_derp_node *found = NULL;
	size_t matches = 0;
	for (size_t i = 0; i < o->map->region_count; i++) {
		const struct dc_derp_region *rg = &o->map->regions[i];
		if (rg->removed || (o->region_id && rg->id != o->region_id))
			continue;
		for (size_t j = 0; j < rg->node_count; j++) {
			const struct dc_derp_node *n = &rg->nodes[j];
			bool hit = o->node_name ? n->name && strcmp(n->name, o->node_name) == 0
						: k->f && n->host_name && strcasecmp(n->host_name, k->f->hostname) == 0;
			if (hit) {
				if (!found) {
					found = n;
					r->region_id = rg->id;
				}
				matches++;
			}
		}
	}
	if (!found && !o->node_name && o->region_id) {
		const struct dc_derp_region *rg = dc_derpmap_region(o->map, o->region_id);
		if (rg && rg->node_count == 1) {
			found = &rg->nodes[0];
			r->region_id = rg->id;
			matches = 1;
		}
	}
	r->node = found;
	if (!found) {
		if (o->node_name)
			snprintf(r->node_note, sizeof(r->node_note), "no node named %s in %s", o->node_name, o->map_name);
		else
			snprintf(r->node_note, sizeof(r->node_note), "no node of %s has HostName %s (pick one with --node NAME)",
				 o->map_name, k->f ? k->f->hostname : "?");
	} else if (matches > 1) {
		snprintf(r->node_note, sizeof(r->node_note), "%zu nodes match; the first (%s) is compared (pick one with --node NAME)",
			 matches, found->name);
	}
}

void dc_server_check_run(const struct dc_server_opts *o, struct dc_server_report *r)
{
	dc_ossl_need();
	memset(r, 0, sizeof(*r));
	struct run k = {.o = o, .r = r, .now = o->now ? o->now : time(NULL)};
	const struct dc_deployment *from = o->process ? o->process : o->file;
	if (!from)
		return;
	/* the file's flags when the process's are unknown is not possible: a process always has argv */
	if (o->file && o->file->argv_known && (!o->process || !o->process->argv_known))
		from = o->file;
	r->flags_from = from;
	k.files = o->process ? o->process : o->file;
	if (o->file && (o->file->source == DC_DEPLOY_COMPOSE || o->file->source == DC_DEPLOY_INSPECT) && !o->file->host_network)
		k.publish = o->file;
	if (!from->argv_known) {
		struct dc_server_check *c = add(&k, DC_SRV_FLAGS, DC_CHECK_WARN, "flags-unreadable");
		textf(c->summary, sizeof(c->summary), "derper's flags cannot be read from %s", from->file[0] ? from->file : from->name);
		textf(c->cause, sizeof(c->cause), "%s", from->argv_problem);
		textf(c->fix, sizeof(c->fix),
		      "give the command the container really runs: docker inspect CONTAINER > inspect.json, then derpcheck server "
		      "--inspect inspect.json%s%s (or --pid PID of the running derper)",
		      o->map_name ? " --derp-map " : "", o->map_name ? o->map_name : "");
		choose_node(&k);
		return;
	}
	r->flags_known = true;
	const char *home = dc_deployment_env(from, "HOME");
	if (!home && from->source != DC_DEPLOY_PROCESS)
		home = from->in_container || from->source == DC_DEPLOY_SYSTEMD ? "/root" : NULL;
	dc_derper_flags_parse(from->argc, from->argv, home, dc_deployment_env(from, "XDG_CACHE_HOME"), &r->flags);
	k.f = &r->flags;
	choose_node(&k);
	check_flags(&k);
	if (r->flags.stop == DC_FLAGS_STOP_ERROR)
		return;
	check_tls_mode(&k);
	check_hostname(&k);
	check_ports(&k);
	check_certificates(&k);
	check_verify_clients(&k);
	check_mesh(&k);
	check_addresses(&k);
	if (o->process) {
		r->live = true;
		check_live(&k);
	}
	if (k.have_files)
		dc_certfiles_free(&k.certfiles);
}
