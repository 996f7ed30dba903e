/*
 * `derpcheck server`: one derper deployment checked from the machine it runs on. Three
 * descriptions of the same server are compared — derper's own flags (derperflags.h, as
 * derper reads them), how the container or host publishes its ports (deployment.h), and
 * the DERP map's node (DERPPort, STUNPort, HostName, CanPort80) — and every disagreement
 * is a check with its cause and its fix. With a running derper it also looks at what
 * really listens (listeners.h), probes each port on this machine (STUN through the
 * prober, TLS through tlscheck) and compares the served certificate with the file.
 * Certificates on disk are judged by certfiles.c and tlscheck.c (derper's start-up
 * checks, the chain as clients judge it). Nothing is modified; no traffic leaves the
 * machine unless resolve is set (a DNS lookup of HostName).
 */
#ifndef DERPCHECK_SERVERCONF_H
#define DERPCHECK_SERVERCONF_H

#include <time.h>

#include "derpcheck/input/deployment.h"
#include "derpcheck/input/derperflags.h"
#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/diagnose.h" /* enum dc_check_status */

/* Stable check identifiers (JSON "check"). */
#define DC_SRV_FLAGS "derper-flags"
#define DC_SRV_TLS_MODE "tls-mode"
#define DC_SRV_HOSTNAME "hostname"
#define DC_SRV_DERP_PORT "derp-port"
#define DC_SRV_STUN_PORT "stun-port"
#define DC_SRV_HTTP_PORT "http-port"
#define DC_SRV_NETWORK "network-mode"
#define DC_SRV_CERT "certificate"
#define DC_SRV_VERIFY "verify-clients"
#define DC_SRV_MESH "mesh"
#define DC_SRV_ADDRESSES "addresses"
#define DC_SRV_LISTEN_DERP "listen-derp"
#define DC_SRV_LISTEN_STUN "listen-stun"
#define DC_SRV_LISTEN_HTTP "listen-http"
#define DC_SRV_PROBE_STUN "probe-stun"
#define DC_SRV_PROBE_TLS "probe-tls"

struct dc_server_check {
	const char *id;             /* DC_SRV_* */
	enum dc_check_status status;
	const char *code;           /* finding code (docs/json.md) when not ok; else NULL */
	char summary[500];          /* what was seen, one line */
	char cause[1200];           /* FAIL/WARN: why */
	char fix[1600];             /* FAIL/WARN: what to change; may hold several lines */
};

#define DC_SRV_MAX_CHECKS 40

struct dc_server_opts {
	const struct dc_deployment *file;    /* compose / inspect / systemd; NULL if none */
	const struct dc_deployment *process; /* the running derper; NULL if none */
	const struct dc_derpmap *map;        /* NULL: no map comparisons */
	const char *map_name;                /* --derp-map as given, for messages */
	int64_t region_id;                   /* 0: any region */
	const char *node_name;               /* NULL: the node whose HostName is derper's -hostname */
	const char *proc;                    /* "/proc" */
	const char *ca_file;                 /* trust store for judging the chain (else the system's) */
	long timeout_ms;                     /* per probe (default 2 s) */
	int family;                          /* 0 both, 4, 6 */
	bool resolve;                        /* look HostName up in DNS (traffic to the resolver) */
	time_t now;                          /* 0: the real clock */
};

struct dc_server_report {
	const struct dc_deployment *flags_from; /* whose argv derper's flags were read from */
	bool flags_known;
	struct dc_derper_flags flags;
	const struct dc_derp_node *node;     /* the map's node for this server, or NULL */
	int64_t region_id;
	char node_note[400];                 /* why no node was chosen */
	char cert_path[PATH_MAX];            /* where the certificate was read from ("" if not) */
	char key_path[PATH_MAX];
	bool live;                           /* a running derper was looked at */
	struct dc_server_check checks[DC_SRV_MAX_CHECKS];
	size_t count;
};

/* Never fails: everything that goes wrong is a check's status. */
void dc_server_check_run(const struct dc_server_opts *o, struct dc_server_report *r);

size_t dc_server_count(const struct dc_server_report *r, enum dc_check_status st);

/* 0 healthy; 1 a check failed; 2 derper's flags could not be read (the input is not enough). */
int dc_server_exit_status(const struct dc_server_report *r);

/*
 * The seed's STUN case as a sentence (exposed for tests): host port published for
 * derper's STUN port vs the map's STUNPort, e.g. publish 38893/udp (`38893:38893/udp`)
 * or set STUNPort 3478.
 */
void dc_server_publish_fix(int map_port, int container_port, int published_host_port, bool udp, char *fix, size_t n);

#endif
