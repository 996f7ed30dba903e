/*
 * derper's command line read the way derper reads it (cmd/derper/derper.go, v1.34.2, with
 * Go's flag package): `-x` or `--x`, a value as `-x=v` or `-x v`, booleans only as `-x` or
 * `-x=false` (a bare `-stun false` leaves -stun true and "false" becomes the first
 * positional argument, which ends flag parsing: every flag after it is ignored); parsing
 * stops at the first argument that is not a flag, or after `--`. Integers take Go's
 * literal forms (0x1bb, 0o17, 017, 1_000). A flag derper does not define makes it exit.
 * Defaults are derper's: -a :443, -http-port 80, -stun-port 3478, -certmode letsencrypt,
 * -stun and -derp true, -hostname derp.tailscale.com, -certdir $HOME/.cache/tailscale/
 * derper-certs (Go's os.UserCacheDir; XDG_CACHE_HOME wins when set).
 */
#ifndef DERPCHECK_DERPERFLAGS_H
#define DERPCHECK_DERPERFLAGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "derpcheck/util/util.h"

/* What stopped derper's flag parsing early, if anything. */
enum dc_flags_stop {
	DC_FLAGS_STOP_END,        /* every argument was a flag */
	DC_FLAGS_STOP_POSITIONAL, /* a non-flag argument: the rest is ignored */
	DC_FLAGS_STOP_DASHDASH,   /* "--": the rest is ignored */
	DC_FLAGS_STOP_ERROR,      /* derper exits with a usage error (error[] says which) */
};

struct dc_derper_flags {
	/* values after parsing, defaults applied */
	char addr[256];          /* -a */
	char listen_host[256];   /* the host part of -a ("" = every interface) */
	int listen_port;         /* its port (443 for "https", 80 for "http"); -1 when -a does not parse */
	int http_port;           /* -http-port; -1 off */
	int stun_port;           /* -stun-port */
	bool stun, derp, dev, verify_clients;
	char certmode[64];
	char certdir[PATH_MAX];
	char hostname[256];
	char config[PATH_MAX];   /* -c */
	char mesh_with[1024];
	char mesh_psk_file[PATH_MAX];
	char verify_client_url[512]; /* newer derpers (1.62+) */

	/* which were written (bit per flag, DC_DF_* below) */
	unsigned set;
	/* where each written flag is in argv (its name), for messages; -1 when not written */
	int index[32];

	/* what derper concludes from them (derper.go main) */
	bool serve_tls;          /* -a's port is 443/"https", or -certmode manual */
	bool http_listener;      /* -http-port > -1 and serve_tls: the plain HTTP port runs */

	/* how parsing went */
	enum dc_flags_stop stop;
	int stop_index;          /* argv index of the positional / "--" / failing argument */
	int ignored;             /* arguments left unread after the stop */
	char error[300];         /* DC_FLAGS_STOP_ERROR: derper's own message */
	char newer[200];         /* flags only newer derpers know, space-separated ("" if none) */
	char bad_bool[64];       /* the boolean flag written as "-x value" whose value became positional */
};

/* Bits of dc_derper_flags.set, and indexes of .index. */
enum dc_derper_flag {
	DC_DF_A, DC_DF_HTTP_PORT, DC_DF_STUN_PORT, DC_DF_STUN, DC_DF_DERP, DC_DF_DEV, DC_DF_VERIFY_CLIENTS,
	DC_DF_CERTMODE, DC_DF_CERTDIR, DC_DF_HOSTNAME, DC_DF_C, DC_DF_MESH_WITH, DC_DF_MESH_PSK_FILE,
	DC_DF_VERIFY_CLIENT_URL, DC_DF_OTHER, DC_DF_COUNT
};

#define DC_DF_IS_SET(f, which) ((((f)->set) >> (which)) & 1u)

/*
 * Parse argv[0..argc) as derper's flags (argv[0] is the first flag, not the program).
 * home and xdg_cache (either may be NULL) are the process's HOME and XDG_CACHE_HOME for
 * -certdir's default. Never fails: how parsing ended is in out->stop.
 */
void dc_derper_flags_parse(int argc, char *const *argv, const char *home, const char *xdg_cache,
			   struct dc_derper_flags *out);

/* Go's strconv.ParseInt(s, 0, 64) and strconv.ParseBool: 0 and *out, or -1. */
int dc_go_parse_int(const char *s, long long *out);
int dc_go_parse_bool(const char *s, bool *out);

/* Go's net.SplitHostPort for a listen address (":443", "ip:port", "[v6]:port"); 0 or -1. */
int dc_go_split_host_port(const char *addr, char *host, size_t hn, char *port, size_t pn);

/* Whether argv0 names derper (its base name is "derper", or ends in "/derper"). */
bool dc_derper_is_program(const char *argv0);

#endif
