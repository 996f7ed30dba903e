/*
 * tailscaled's Status document (`tailscale status --json`, GET /localapi/v0/status;
 * protocols.md §5.5) read into plain structs.
 *
 * The format "has changed between releases and might change more", so the reader is
 * tolerant: field names match case-insensitively (as Go's decoder does), every field
 * is optional, old spellings are understood (TailAddr before TailscaleIPs; no Self,
 * Online or Active in daemons before ~1.8), unknown fields are ignored, and a field of
 * the wrong type is skipped and counted rather than failing the whole document.
 * Hostile input stays cheap: the text size is capped by the caller, lists are capped
 * here (DC_STATUS_MAX_*), and strings longer than DC_STATUS_MAX_STRING are cut.
 */
#ifndef DERPCHECK_STATUS_H
#define DERPCHECK_STATUS_H

#include "derpcheck/util/util.h"

#define DC_STATUS_MAX_PEERS 100000
#define DC_STATUS_MAX_IPS 16      /* Tailscale IPs kept per node */
#define DC_STATUS_MAX_ADDRS 64    /* endpoints kept per node */
#define DC_STATUS_MAX_HEALTH 64   /* health messages kept */
#define DC_STATUS_MAX_USERS 100000
#define DC_STATUS_MAX_STRING 1024 /* bytes kept of any one string */

/* A boolean the document may not carry at all (old daemons). */
enum dc_tristate { DC_UNKNOWN = -1, DC_NO = 0, DC_YES = 1 };

struct dc_peer_status {
	char *key;       /* the Peer map key ("nodekey:<hex>"); "" for Self */
	char *public_key; /* PublicKey */
	char *id;        /* ID, the stable node ID */
	char *host_name; /* HostName: the OS host name */
	char *dns_name;  /* DNSName: MagicDNS FQDN with the trailing dot */
	char *os;
	int64_t user_id;
	char **ips;      /* TailscaleIPs, or the old single TailAddr */
	size_t ip_count;
	char **addrs;    /* Addrs: Self's own endpoints; peers' only from old daemons */
	size_t addr_count;
	bool addrs_reported; /* Addrs was an array (possibly empty), not null or absent */
	char *cur_addr;  /* CurAddr: the direct ip:port in use, "" if none */
	char *relay;     /* Relay: the node's home DERP region code */
	char *peer_relay; /* PeerRelay: "ip:port:vni:N" when a peer relay carries traffic (1.86+) */
	int64_t rx_bytes;
	int64_t tx_bytes;
	/* Unix seconds (UTC); 0 when absent or Go's zero time ("never"). */
	int64_t created;
	int64_t last_write;
	int64_t last_seen;
	int64_t last_handshake;
	int64_t key_expiry;
	enum dc_tristate online;  /* from the control plane */
	enum dc_tristate active;  /* tailscaled sent to it within the last 45 s */
	bool exit_node;           /* our current exit node */
	bool exit_node_option;    /* offers to be an exit node */
	bool expired;             /* its node key has expired */
	bool sharee_node;         /* shared into this tailnet; `tailscale status` hides it */
	bool in_network_map, in_magic_sock, in_engine;
};

struct dc_status_user {
	int64_t id;
	char *login_name;
	char *display_name;
};

struct dc_status {
	char *version;        /* Version: tailscaled's long version */
	char *backend_state;  /* BackendState: "Running", "Stopped", "NeedsLogin", ... ("" if absent) */
	char *auth_url;
	char *magic_dns_suffix; /* CurrentTailnet.MagicDNSSuffix, else MagicDNSSuffix */
	char *tailnet_name;   /* CurrentTailnet.Name */
	enum dc_tristate tun;
	char **health;
	size_t health_count;
	bool have_self;
	struct dc_peer_status self;
	struct dc_peer_status *peers; /* in document order */
	size_t peer_count;
	struct dc_status_user *users;
	size_t user_count;
	/* What the reader skipped: fields of the wrong type, items over the caps. */
	size_t ignored_count;
	char *first_ignored; /* JSON path of the first, e.g. Peer["nodekey:ab…"].RxBytes */
	size_t dropped_count; /* list items over a DC_STATUS_MAX_* cap */
};

/* The largest Status document read (as DC_LOCALAPI_MAX_BYTES). */
#define DC_STATUS_MAX_BYTES (64u * 1024u * 1024u)

/* Read saved `tailscale status --json` output from path ("-" for standard input). */
int dc_status_read_file(const char *path, struct dc_buf *out, struct dc_error *err);

/*
 * Parse a Status document (need not be NUL-terminated). name is what errors call the
 * input (a file name, "-", the socket). Returns 0, or -1 with err when the text is not
 * JSON (err->pos and where = name:line:col) or not a Status document at all.
 */
int dc_status_parse(const char *text, size_t len, const char *name, struct dc_status *st, struct dc_error *err);
void dc_status_free(struct dc_status *st);

/* The login name of a user ID, or NULL. */
const char *dc_status_login_name(const struct dc_status *st, int64_t user_id);

/*
 * RFC 3339 time ("2026-08-22T10:11:12.5+02:00") to Unix seconds. Go's zero time
 * ("0001-01-01T00:00:00Z") and anything before 1970 is 0 ("never"). -1 if malformed.
 */
int dc_parse_rfc3339(const char *text, int64_t *out);

#endif
