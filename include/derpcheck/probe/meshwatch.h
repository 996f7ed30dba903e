/*
 * What one DERP node tells a mesh client about its connections (protocols.md §1.6): with
 * the region's mesh key in ClientInfo (meshKey, as derper's own mesh clients send it,
 * cmd/derper/mesh.go), a WatchConns frame makes derper list every client connected to it
 * as PeerPresent frames (derp_server.go addWatcher). A meshed peer's mesh client is such a
 * client, under the peer's server key: so the list says which other nodes mesh into this
 * one. A wrong key (or a node without one) is refused: derper closes the connection on
 * WatchConns ("insufficient permissions").
 *
 * The watch is bounded: the first PeerPresent within the timeout, then until the list
 * has been quiet for DC_MESH_WATCH_QUIET_MS, never longer than the timeout, at most
 * DC_MESH_WATCH_MAX_KEYS keys.
 */
#ifndef DERPCHECK_MESHWATCH_H
#define DERPCHECK_MESHWATCH_H

#include "derpcheck/probe/derpconn.h"

#define DC_MESH_WATCH_QUIET_MS 300
#define DC_MESH_WATCH_MAX_KEYS 4096

enum dc_mesh_watch_result {
	DC_MESH_WATCH_NOT_RUN,
	DC_MESH_WATCH_NO_CONNECTION, /* the DERP connection itself failed (error says why) */
	DC_MESH_WATCH_REFUSED,       /* closed on WatchConns before any PeerPresent: the mesh key was refused */
	DC_MESH_WATCH_SILENT,        /* neither PeerPresent nor a close within the timeout */
	DC_MESH_WATCH_OK,            /* the node listed its clients */
};

/* "not-run", "no-connection", "refused", "silent", "ok". */
const char *dc_mesh_watch_result_name(enum dc_mesh_watch_result r);

struct dc_mesh_watch {
	const struct dc_derp_node *node;
	enum dc_mesh_watch_result result;
	bool have_server_key;
	uint8_t server_key[DC_DERP_KEY_LEN];  /* the node's own key (ServerKey frame) */
	uint8_t own_key[DC_DERP_KEY_LEN];     /* derpcheck's client key: not counted as a peer */
	uint8_t (*present)[DC_DERP_KEY_LEN];  /* keys listed as present, derpcheck's own excluded */
	size_t present_count;
	bool truncated;                       /* more than DC_MESH_WATCH_MAX_KEYS */
	double ms;                            /* from WatchConns to the end of the list */
	char error[400];                      /* NO_CONNECTION / REFUSED / SILENT: what happened */
};

struct dc_mesh_watch_opts {
	const char *mesh_key;   /* as --mesh-psk-file holds it, trimmed */
	const char *ca_file;
	bool insecure;          /* the node has InsecureForTests: connect as its clients do */
	int family;
	long timeout_ms;        /* the connection, and the wait for the list (default 3 s) */
	enum dc_derp_transport transport;
};

/* Watch node of region. Never fails: the outcome is w->result. w must be freed. */
void dc_mesh_watch_node(const struct dc_derp_region *region, const struct dc_derp_node *node,
			const struct dc_mesh_watch_opts *o, struct dc_mesh_watch *w);
void dc_mesh_watch_free(struct dc_mesh_watch *w);

/* Whether w's node listed key as present (the peer's mesh client is connected to it). */
bool dc_mesh_watch_sees(const struct dc_mesh_watch *w, const uint8_t key[DC_DERP_KEY_LEN]);

#endif
