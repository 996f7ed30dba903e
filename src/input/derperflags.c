#include "derpcheck/input/derperflags.h"

#include <stdio.h>
#include <string.h>

/* The flags of derper v1.34.2 (cmd/derper/derper.go), and a few later ones. */
enum kind { K_STRING, K_INT, K_BOOL, K_FLOAT };

struct flag_def {
	const char *name;
	enum kind kind;
	int which;   /* DC_DF_* */
	bool newer;  /* defined only by derpers after 1.34 */
};

static const struct flag_def flag_defs[] = {
	{"dev", K_BOOL, DC_DF_DEV, false},
	{"a", K_STRING, DC_DF_A, false},
	{"http-port", K_INT, DC_DF_HTTP_PORT, false},
	{"stun-port", K_INT, DC_DF_STUN_PORT, false},
	{"c", K_STRING, DC_DF_C, false},
	{"certmode", K_STRING, DC_DF_CERTMODE, false},
	{"certdir", K_STRING, DC_DF_CERTDIR, false},
	{"hostname", K_STRING, DC_DF_HOSTNAME, false},
	{"stun", K_BOOL, DC_DF_STUN, false},
	{"derp", K_BOOL, DC_DF_DERP, false},
	{"mesh-psk-file", K_STRING, DC_DF_MESH_PSK_FILE, false},
	{"mesh-with", K_STRING, DC_DF_MESH_WITH, false},
	{"bootstrap-dns-names", K_STRING, DC_DF_OTHER, false},
	{"unpublished-bootstrap-dns-names", K_STRING, DC_DF_OTHER, false},
	{"verify-clients", K_BOOL, DC_DF_VERIFY_CLIENTS, false},
	{"accept-connection-limit", K_FLOAT, DC_DF_OTHER, false},
	{"accept-connection-burst", K_INT, DC_DF_OTHER, false},
	/* deployments.md §4-§5: flags of later derpers, accepted so a newer image is not misread */
	{"verify-client-url", K_STRING, DC_DF_VERIFY_CLIENT_URL, true},
	{"verify-client-url-fail-open", K_BOOL, DC_DF_OTHER, true},
	{"socket", K_STRING, DC_DF_OTHER, true},
	{"home", K_STRING, DC_DF_OTHER, true},
	{"tcp-keepalive-time", K_STRING, DC_DF_OTHER, true},
	{"tcp-user-timeout", K_STRING, DC_DF_OTHER, true},
	{"tcp-write-timeout", K_STRING, DC_DF_OTHER, true},
	{"acme-eab-kid", K_STRING, DC_DF_OTHER, true},
	{"acme-eab-key", K_STRING, DC_DF_OTHER, true},
	{"acme-email", K_STRING, DC_DF_OTHER, true},
	{"acme-ip-certs", K_BOOL, DC_DF_OTHER, true},
	{"rate-config", K_STRING, DC_DF_OTHER, true},
};

static const struct flag_def *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < DC_ARRAY_LEN(flag_defs); i++)
		if (strlen(flag_defs[i].name) == len && memcmp(flag_defs[i].name, name, len) == 0)
			return &flag_defs[i];
	return NULL;
}

int dc_go_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < DC_ARRAY_LEN(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* strconv.ParseInt(s, 0, 64): sign, 0x/0o/0b prefix or a leading 0 for octal, '_' between digits. */
int dc_go_parse_int(const char *s, long long *out)
{
	const char *p = s;
	bool neg = false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	int base = 10;
	bool prefixed = false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2, prefixed = true;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2, prefixed = true;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2, prefixed = true;
	else if (p[0] == '0' && p[1])
		base = 8, p += 1, prefixed = true;
	if (!*p)
		return -1;
	unsigned long long v = 0, limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
	bool last_digit = prefixed; /* '_' may follow a base prefix (Go's underscoreOK) */
	bool any = false;
	for (; *p; p++) {
		if (*p == '_') {
			if (!last_digit)
				return -1;
			last_digit = false;
			continue;
		}
		int d = digit_value(*p);
		if (d >= base)
			return -1;
		if (v > (limit - (unsigned long long)d) / (unsigned long long)base)
			return -1;
		v = v * (unsigned long long)base + (unsigned long long)d;
		last_digit = true;
		any = true;
	}
	if (!any || !last_digit)
		return -1;
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

/* strconv.ParseFloat, loosely: enough to tell derper would accept the value. */
static int parse_float(const char *s)
{
	if (!*s)
		return -1;
	if (strcmp(s, "Inf") == 0 || strcmp(s, "+Inf") == 0 || strcmp(s, "inf") == 0 || strcmp(s, "+inf") == 0 ||
	    strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0)
		return 0;
	bool digit = false, dot = false, exp = false;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digit = true;
		else if (*p == '.' && !dot && !exp)
			dot = true;
		else if ((*p == 'e' || *p == 'E') && digit && !exp) {
			exp = true;
			digit = false;
			if (p[1] == '+' || p[1] == '-')
				p++;
		} else if (*p != '_')
			return -1;
	}
	return digit ? 0 : -1;
}

int dc_go_split_host_port(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = strrchr(addr, ':');
	if (!colon)
		return -1; /* missing port in address */
	const char *h = addr, *he = colon;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end + 1 != colon)
			return -1;
		h = addr + 1;
		he = end;
		if (memchr(h, '[', (size_t)(he - h)) || strchr(colon + 1, ']'))
			return -1;
	} else {
		if (memchr(addr, ':', (size_t)(colon - addr)) || memchr(addr, '[', (size_t)(colon - addr)) ||
		    memchr(addr, ']', (size_t)(colon - addr)))
			return -1; /* too many colons: an IPv6 address needs brackets */
	}
	if ((size_t)(he - h) >= hn || strlen(colon + 1) >= pn)
		return -1;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	snprintf(port, pn, "%s", colon + 1);
	return 0;
}

bool dc_derper_is_program(const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	return strcmp(base, "derper") == 0;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

static void set_value(struct dc_derper_flags *f, const struct flag_def *d, const char *value, bool bval, long long ival)
{
	switch (d->which) {
	case DC_DF_A: copy(f->addr, sizeof(f->addr), value); break;
	case DC_DF_HTTP_PORT: f->http_port = (int)ival; break;
	case DC_DF_STUN_PORT: f->stun_port = (int)ival; break;
	case DC_DF_STUN: f->stun = bval; break;
	case DC_DF_DERP: f->derp = bval; break;
	case DC_DF_DEV: f->dev = bval; break;
	case DC_DF_VERIFY_CLIENTS: f->verify_clients = bval; break;
	case DC_DF_CERTMODE: copy(f->certmode, sizeof(f->certmode), value); break;
	case DC_DF_CERTDIR: copy(f->certdir, sizeof(f->certdir), value); break;
	case DC_DF_HOSTNAME: copy(f->hostname, sizeof(f->hostname), value); break;
	case DC_DF_C: copy(f->config, sizeof(f->config), value); break;
	case DC_DF_MESH_WITH: copy(f->mesh_with, sizeof(f->mesh_with), value); break;
	case DC_DF_MESH_PSK_FILE: copy(f->mesh_psk_file, sizeof(f->mesh_psk_file), value); break;
	case DC_DF_VERIFY_CLIENT_URL: copy(f->verify_client_url, sizeof(f->verify_client_url), value); break;
	default: break;
	}
}

static void stop_error(struct dc_derper_flags *f, int i, int argc, const char *fmt, const char *a, const char *b)
{
	f->stop = DC_FLAGS_STOP_ERROR;
	f->stop_index = i;
	f->ignored = argc - i - 1;
	snprintf(f->error, sizeof(f->error), fmt, a, b);
}

/* Integers that derper stores in an int (64-bit on every platform derper ships for). */
static int int_value(const char *value, long long *out)
{
	return dc_go_parse_int(value, out);
}

void dc_derper_flags_parse(int argc, char *const *argv, const char *home, const char *xdg_cache,
			   struct dc_derper_flags *f)
{
	memset(f, 0, sizeof(*f));
	copy(f->addr, sizeof(f->addr), ":443");
	f->http_port = 80;
	f->stun_port = 3478;
	f->stun = f->derp = true;
	copy(f->certmode, sizeof(f->certmode), "letsencrypt");
	copy(f->hostname, sizeof(f->hostname), "derp.tailscale.com");
	/* tsweb.DefaultCertDir: filepath.Join(os.UserCacheDir(), "tailscale", "derper-certs") */
	if (xdg_cache && xdg_cache[0] == '/')
		snprintf(f->certdir, sizeof(f->certdir), "%s/tailscale/derper-certs", xdg_cache);
	else if (home && home[0])
		snprintf(f->certdir, sizeof(f->certdir), "%s/.cache/tailscale/derper-certs", home);
	for (size_t k = 0; k < DC_ARRAY_LEN(f->index); k++)
		f->index[k] = -1;
	f->stop = DC_FLAGS_STOP_END;
	f->stop_index = argc;

	bool pending_bool = false; /* the previous flag was a boolean without "=": a value after it is positional */
	const char *pending_name = NULL;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		size_t len = strlen(s);
		if (len < 2 || s[0] != '-') {
			f->stop = DC_FLAGS_STOP_POSITIONAL;
			f->stop_index = i;
			f->ignored = argc - i - 1;
			bool dummy;
			if (pending_bool && dc_go_parse_bool(s, &dummy) == 0)
				copy(f->bad_bool, sizeof(f->bad_bool), pending_name);
			break;
		}
		pending_bool = false;
		int minuses = 1;
		if (s[1] == '-') {
			minuses = 2;
			if (len == 2) {
				f->stop = DC_FLAGS_STOP_DASHDASH;
				f->stop_index = i;
				f->ignored = argc - i - 1;
				break;
			}
		}
		const char *name = s + minuses;
		if (!name[0] || name[0] == '-' || name[0] == '=') {
			stop_error(f, i, argc, "bad flag syntax: %s%s", s, "");
			break;
		}
		const char *eq = strchr(name + 1, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const char *value = eq ? eq + 1 : NULL;
		const struct flag_def *d = find_flag(name, nlen);
		char shown[128];
		snprintf(shown, sizeof(shown), "%.*s", (int)(nlen > 100 ? 100 : nlen), name);
		if (!d) {
			if (strcmp(shown, "help") == 0 || strcmp(shown, "h") == 0)
				stop_error(f, i, argc, "-%s: derper prints its usage and exits%s", shown, "");
			else
				stop_error(f, i, argc, "flag provided but not defined: -%s%s", shown, "");
			break;
		}
		bool bval = false;
		long long ival = 0;
		if (d->kind == K_BOOL) {
			if (!value) {
				bval = true;
				pending_bool = true;
				pending_name = d->name;
			} else if (dc_go_parse_bool(value, &bval) < 0) {
				stop_error(f, i, argc, "invalid boolean value \"%.80s\" for -%s", value, d->name);
				break;
			}
		} else {
			if (!value) {
				if (i + 1 >= argc) {
					stop_error(f, i, argc, "flag needs an argument: -%s%s", d->name, "");
					break;
				}
				value = argv[++i];
			}
			if (d->kind == K_INT && int_value(value, &ival) < 0) {
				stop_error(f, i, argc, "invalid value \"%.80s\" for flag -%s: parse error", value, d->name);
				break;
			}
			if (d->kind == K_FLOAT && parse_float(value) < 0) {
				stop_error(f, i, argc, "invalid value \"%.80s\" for flag -%s: parse error", value, d->name);
				break;
			}
		}
		f->set |= 1u << d->which;
		if (d->which < (int)DC_ARRAY_LEN(f->index))
			f->index[d->which] = eq || d->kind == K_BOOL ? i : i - 1;
		if (d->newer && !strstr(f->newer, d->name)) {
			size_t used = strlen(f->newer);
			snprintf(f->newer + used, sizeof(f->newer) - used, "%s-%s", used ? " " : "", d->name);
		}
		set_value(f, d, value ? value : "", bval, ival);
	}

	/* derper.go main: -dev moves the listener to :3340 */
	if (f->dev)
		copy(f->addr, sizeof(f->addr), ":3340");
	char port[64] = "";
	f->listen_port = -1;
	if (dc_go_split_host_port(f->addr, f->listen_host, sizeof(f->listen_host), port, sizeof(port)) == 0) {
		long long p;
		if (strcmp(port, "https") == 0)
			f->listen_port = 443;
		else if (strcmp(port, "http") == 0)
			f->listen_port = 80;
		else if (port[0] >= '0' && port[0] <= '9' && dc_parse_int(port, 0, 65535, &p) == 0)
			f->listen_port = (int)p;
	} else {
		f->listen_host[0] = '\0';
	}
	/* tsweb.IsProd443 || certMode == "manual" */
	f->serve_tls = strcmp(port, "443") == 0 || strcmp(port, "https") == 0 || strcmp(f->certmode, "manual") == 0;
	if (f->listen_port < 0)
		f->serve_tls = strcmp(f->certmode, "manual") == 0;
	f->http_listener = f->serve_tls && f->http_port > -1;
}
