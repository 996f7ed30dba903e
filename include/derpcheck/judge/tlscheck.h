/*
 * Why a DERP server's TLS certificate fails, for whom, and the exact fix
 * (tls-diagnosis.md). The served chain is captured with verification off
 * (dc_tls_connect), then judged offline the way four kinds of client judge it:
 *
 *   curl / OpenSSL        system store, security level 2, CN fallback, no AIA
 *   Tailscale Linux/Android  Go's verifier: SAN only, level 1 (SHA-1 out, RSA-1024 in),
 *                         system store then the baked-in Let's Encrypt roots, no AIA;
 *                         no name check for an IP HostName without CertName
 *   Tailscale macOS/iOS/Windows  the platform verifier: as Go, but fetches missing
 *                         intermediates through AIA
 *   browsers              system store, level 2, SAN only, AIA
 *
 * Every problem becomes a finding (docs/json.md) with a plain-language cause and a
 * concrete fix; the report also carries the chain listing, the per-client verdicts and
 * the corrected full chain when one can be built. Core only: nothing is printed.
 */
#ifndef DERPCHECK_TLSCHECK_H
#define DERPCHECK_TLSCHECK_H

#include <openssl/x509.h>
#include <sys/socket.h>
#include <time.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/certinfo.h"
#include "derpcheck/judge/findings.h"
#include "derpcheck/judge/revocation.h"
#include "derpcheck/net/tlsconn.h"

enum dc_client {
	DC_CLIENT_CURL,
	DC_CLIENT_TS_GO,       /* tailscaled on Linux and Android */
	DC_CLIENT_TS_PLATFORM, /* tailscaled on macOS, iOS and Windows */
	DC_CLIENT_BROWSER,
	DC_CLIENT_COUNT
};

/* "curl/OpenSSL", "Tailscale on Linux/Android", ... and the JSON keys ("curl", ...). */
const char *dc_client_label(enum dc_client c);
const char *dc_client_id(enum dc_client c);

struct dc_client_verdict {
	bool checked;        /* false when no certificate could be judged */
	bool ok;
	bool via_aia;        /* ok only because it fetches missing intermediates */
	bool via_baked_root; /* ok only through Tailscale's built-in Let's Encrypt roots */
	const char *code;    /* finding code of the problem it fails on; NULL when ok */
	char says[512];      /* the client's own error text when known, else the reason */
};

enum dc_cert_role {
	DC_ROLE_LEAF,
	DC_ROLE_INTERMEDIATE,
	DC_ROLE_ROOT,       /* self-signed CA */
	DC_ROLE_METACERT,   /* derper's derpkey certificate: not part of the chain */
	DC_ROLE_UNRELATED,  /* sent, but on no path from the leaf */
};
enum dc_cert_origin { DC_ORIGIN_SERVED, DC_ORIGIN_FILE, DC_ORIGIN_AIA };

const char *dc_cert_role_name(enum dc_cert_role role);   /* "leaf", "intermediate", ... */
const char *dc_cert_origin_name(enum dc_cert_origin o); /* "served", "file", "aia" */

struct dc_chain_cert {
	X509 *cert; /* owned reference */
	enum dc_cert_role role;
	enum dc_cert_origin origin;
	int index;      /* position as served or in the file; -1 for fetched ones */
	char url[256];  /* where an AIA certificate came from */
	struct dc_cert_info info;
	time_t described_at; /* the "now" info was computed for */
};

/* One caIssuers fetch: what was asked, and what came back. */
struct dc_aia_fetch {
	char url[256];
	bool ok;
	bool cached;     /* answered from this run's cache, no second request */
	int certs;       /* certificates in the answer */
	char result[256]; /* "DER, 1 certificate" or why it failed */
};

/*
 * Fetch url into body within timeout_ms; 0 or -1 with err. The default (NULL in the
 * options) is an HTTP GET through libcurl (dc_http_get) capped at 64 KiB.
 */
typedef int (*dc_aia_fetch_fn)(void *user, const char *url, long timeout_ms, struct dc_buf *body,
			       struct dc_error *err);

/* Fetched issuers by URL for a whole run, so a URL is requested once. */
struct dc_aia_cache;
struct dc_aia_cache *dc_aia_cache_new(void);
void dc_aia_cache_free(struct dc_aia_cache *cache);

#define DC_AIA_MAX_HOPS 4
#define DC_AIA_MAX_BYTES (64u * 1024u)
#define DC_AIA_FETCH_MS 5000

struct dc_tlscheck_opts {
	const char *host_name;       /* the node's HostName: the TLS name (not sent for an IP) */
	const char *cert_name;       /* DERPNode.CertName (a DNS name or sha256-raw:HEX); NULL if none */
	const char *derper_hostname; /* derper's --hostname when known (local-file mode) */
	const char *certdir;         /* derper's --certdir when known, for the fix text */
	const char *ca_file;         /* replaces the system trust store for every client */
	bool no_aia;                 /* never fetch caIssuers URLs */
	long timeout_ms;             /* the whole check: connect, handshake, Date, AIA (0: 10 s) */
	time_t now;                  /* 0: the real clock (tests pin it) */
	int soon_days;               /* warn when a certificate expires within this; 0: 14 */
	const char *command;         /* the derpcheck command line that reproduces this check */
	struct dc_aia_cache *cache;  /* NULL: nothing is shared between checks */
	dc_aia_fetch_fn fetch;       /* NULL: libcurl */
	void *fetch_user;
	/*
	 * dc_tlscheck_connect only: ask for a stapled OCSP response and check the leaf's
	 * revocation status (judge/revocation.h) into the report's revocation; with
	 * revocation_findings a revoked leaf is also an error finding and an unknown status
	 * a warning (`derpcheck cert`; diagnose makes its own check of it instead).
	 */
	bool revocation;
	bool revocation_findings;
};

/* What the connection itself showed, before any certificate was looked at. */
struct dc_tls_facts {
	bool attempted;
	bool handshake;      /* TLS completed and a chain was captured */
	enum dc_conn_failure failure;
	char peer[INET6_ADDRSTRLEN + 8];
	char sni[256];       /* "" when no name was sent */
	char version[16];
	char cipher[64];
	char alert[64];
	double tcp_ms;
	double tls_ms;
	bool sni_retried;    /* refused with the name, so tried again without one */
	bool no_sni_ok;      /* ... and that handshake completed */
	bool have_date;      /* the server's HTTP Date header was read */
	time_t server_date;
	long long skew_s;    /* server clock minus ours */
	bool plain_http;     /* the port answered plain HTTP */
	char http_status[128];
	bool looks_like_derper; /* the plain HTTP answer is derper's home page */
	char error[512];     /* the handshake failure as derpcheck saw it */
};

struct dc_cert_report {
	char where[300];     /* "127.0.0.1:443" or the certificate file */
	char host_name[256];
	char cert_name[300];
	bool from_files;
	struct dc_tls_facts conn;
	struct dc_chain_cert *certs; /* as served (or in the file), then fetched via AIA */
	size_t count;
	struct dc_aia_fetch fetches[8];
	size_t fetch_count;
	bool chain_checked;
	struct dc_client_verdict clients[DC_CLIENT_COUNT];
	struct dc_findings findings;
	char brief[400];     /* the first error in one line (dc_tlscheck_brief) */
	const char *brief_code;
	STACK_OF(X509) *fullchain; /* leaf + intermediates in order, no root; NULL if none found */
	bool fullchain_differs;    /* it is not what is served */
	bool fullchain_verifies;   /* served as is, Tailscale on Linux would accept it */
	unsigned char *staple;     /* the OCSP response stapled to the handshake (DER, owned); NULL: none */
	size_t staple_len;
	struct dc_revocation revocation; /* attempted only when dc_tlscheck_opts.revocation */
};

/*
 * Connect to addr (TCP, then TLS with SNI opts->host_name unless it is an IP literal),
 * capture the chain, read the server's HTTP Date, and judge. Returns -1 with err only
 * when no TCP connection could be made (nothing to judge); every TLS-level failure
 * (plain HTTP, an alert, a refused name) is a finding in r. r must be freed.
 */
int dc_tlscheck_connect(const struct sockaddr *addr, socklen_t addrlen, const struct dc_tlscheck_opts *opts,
			struct dc_cert_report *r, struct dc_error *err);

/*
 * Judge a captured chain (leaf first; derper's metacert anywhere) or the certificates
 * of a file (from_files). -1 with err only when the trust store cannot be loaded.
 */
int dc_tlscheck_chain(STACK_OF(X509) *chain, bool from_files, const struct dc_tlscheck_opts *opts,
		      struct dc_cert_report *r, struct dc_error *err);

/* The served leaf differs from the file's: renewed on disk, derper not restarted. */
void dc_tlscheck_compare_disk(struct dc_cert_report *served, X509 *disk_leaf, const char *disk_path, time_t now);

/* Write r->fullchain as PEM (atomically, mode 0644). -1 with err when there is none. */
int dc_tlscheck_write_fullchain(const struct dc_cert_report *r, const char *path, struct dc_error *err);

/* Errors among the findings: 0 means every client accepts. */
size_t dc_cert_report_errors(const struct dc_cert_report *r);

void dc_cert_report_init(struct dc_cert_report *r);
void dc_cert_report_free(struct dc_cert_report *r);

/*
 * Parse the Date header of an HTTP response head (IMF-fixdate, RFC 9110 §5.6.7) from
 * buf[0..len); buf need not be NUL-terminated. Returns 0 and *out, or -1.
 */
int dc_http_response_date(const char *buf, size_t len, time_t *out);

/* ---- the short form, for `derpcheck ping` and `diagnose` -------------------------
 *
 * When a DERP connection fails at TLS, those commands print one line of cause and the
 * exact `derpcheck cert` command that explains it in full and writes the fix:
 *
 *   struct dc_tlscheck_call call = {.derp_map = "policy.hujson", .region_id = 900,
 *                                   .host_name = node->host_name, ...};
 *   struct dc_tlscheck_brief b;
 *   dc_tlscheck_brief(&conn, conn_err, chain_or_NULL, &call, &b);
 *   printf("  TLS: %s\n  run `%s`\n", b.cause, b.command);
 *
 * With a chain (the handshake completed but verification failed) it is judged offline
 * (no AIA, no network) with the same rules as `derpcheck cert`; without one, the
 * connection failure in conn / conn_err is classified (plain HTTP, refused TLS name, ...).
 */
struct dc_tlscheck_call {
	const char *derp_map;  /* --derp-map as the user gave it; NULL when not from a map */
	const char *map_format; /* with derp_map: --map-format when it is not auto, else NULL */
	int64_t region_id;     /* with derp_map: the region checked */
	const char *host_name; /* node HostName (the TLS name) */
	const char *cert_name; /* node CertName or NULL */
	const char *addr;      /* "IP:port" dialled, for commands not run from a map */
	const char *ca_file;   /* --ca-file, if any */
};

struct dc_tlscheck_brief {
	const char *code;   /* the finding code (docs/json.md), e.g. "chain-incomplete" */
	char cause[400];    /* one line, no trailing period */
	char command[700];  /* `derpcheck cert ...` with shell-quoted arguments */
};

/* conn, conn_err and chain may each be NULL. Never fails; never touches the network. */
void dc_tlscheck_brief(const struct dc_tls_conn *conn, const struct dc_error *conn_err, STACK_OF(X509) *chain,
		       const struct dc_tlscheck_call *call, struct dc_tlscheck_brief *out);

/* The `derpcheck cert` command line for call (shell-quoted), as in the brief. */
void dc_tlscheck_command(const struct dc_tlscheck_call *call, char *out, size_t n);

/*
 * The call for node n of region region_id: the map and region when the map can be named
 * again (map_spec, from dc_map_spec_for_command: CertName, ports and addresses then come
 * from it), else the address clients dial (the map's IPv4/IPv6, or HostName) with the
 * node's name. addr is room for that address.
 */
void dc_tlscheck_node_call(const struct dc_derp_node *n, int64_t region_id, const char *map_spec, const char *map_format,
			   const char *ca_file, struct dc_tlscheck_call *call, char *addr, size_t naddr);

#endif
