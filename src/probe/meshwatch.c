#include "derpcheck/probe/meshwatch.h"

#include <stdlib.h>
#include <string.h>

#include "derpcheck/util/util.h"

const char *dc_mesh_watch_result_name(enum dc_mesh_watch_result r)
{
	switch (r) {
	case DC_MESH_WATCH_NO_CONNECTION:
		return "no-connection";
	case DC_MESH_WATCH_REFUSED:
		return "refused";
	case DC_MESH_WATCH_SILENT:
		return "silent";
	case DC_MESH_WATCH_OK:
		return "ok";
	case DC_MESH_WATCH_NOT_RUN:
		break;
	}
	return "not-run";
}

bool dc_mesh_watch_sees(const struct dc_mesh_watch *w, const uint8_t key[DC_DERP_KEY_LEN])
{
	for (size_t i = 0; i < w->present_count; i++)
		if (memcmp(w->present[i], key, DC_DERP_KEY_LEN) == 0)
			return true;
	return false;
}

static void add_present(struct dc_mesh_watch *w, const uint8_t key[DC_DERP_KEY_LEN])
{
	if (memcmp(key, w->own_key, DC_DERP_KEY_LEN) == 0 || dc_mesh_watch_sees(w, key))
		return;
	if (w->present_count >= DC_MESH_WATCH_MAX_KEYS) {
		w->truncated = true;
		return;
	}
	w->present = dc_xrealloc(w->present, (w->present_count + 1) * sizeof(*w->present));
	memcpy(w->present[w->present_count++], key, DC_DERP_KEY_LEN);
}

void dc_mesh_watch_node(const struct dc_derp_region *region, const struct dc_derp_node *node,
			const struct dc_mesh_watch_opts *o, struct dc_mesh_watch *w)
{
	memset(w, 0, sizeof(*w));
	w->node = node;
	long timeout = o->timeout_ms > 0 ? o->timeout_ms : 3000;
	struct dc_derp_dial_opts d = {
		.region = region, .node = node->name, .family = o->family, .ca_file = o->ca_file,
		.insecure = o->insecure, .timeout_ms = timeout, .mesh_key_text = o->mesh_key,
		.transport = o->transport, .app_name = "derpcheck-mesh-watch",
	};
	struct dc_derp_conn c;
	struct dc_error err;
	dc_error_clear(&err);
	if (dc_derp_connect(&d, &c, &err) < 0) {
		w->result = DC_MESH_WATCH_NO_CONNECTION;
		dc_textf(w->error, sizeof(w->error), "%s", err.what);
		dc_derp_close(&c);
		return;
	}
	w->have_server_key = true;
	memcpy(w->server_key, c.server_key, DC_DERP_KEY_LEN);
	memcpy(w->own_key, c.public_key, DC_DERP_KEY_LEN);
	uint64_t start = dc_now_ns();
	uint64_t end = start + (uint64_t)timeout * 1000000u;
	dc_derp_queue_watch_conns(&c);
	if (dc_derp_flush(&c, end, &err) < 0) {
		w->result = DC_MESH_WATCH_REFUSED;
		dc_textf(w->error, sizeof(w->error), "sending WatchConns failed: %s", err.what);
		dc_derp_close(&c);
		return;
	}
	bool listed = false;
	uint64_t quiet_until = end;
	for (;;) {
		uint64_t now = dc_now_ns();
		uint64_t until = quiet_until < end ? quiet_until : end;
		if (now >= until)
			break;
		struct dc_derp_msg m;
		int rc = dc_derp_recv(&c, until, &m, &err);
		if (rc < 0) {
			if (!listed) {
				w->result = DC_MESH_WATCH_REFUSED;
				dc_textf(w->error, sizeof(w->error), "%s after WatchConns, before any PeerPresent", err.what);
			}
			break;
		}
		if (rc == 0) {
			if (dc_derp_readable_now(&c))
				continue; /* the skip budget, not the clock: more is buffered */
			break;
		}
		if (m.type == DC_DERP_PEER_PRESENT) {
			listed = true;
			add_present(w, m.u.peer_present.key);
			quiet_until = dc_now_ns() + (uint64_t)DC_MESH_WATCH_QUIET_MS * 1000000u;
		}
	}
	w->ms = (double)(dc_now_ns() - start) / 1e6;
	if (listed)
		w->result = DC_MESH_WATCH_OK;
	else if (w->result != DC_MESH_WATCH_REFUSED) {
		w->result = DC_MESH_WATCH_SILENT;
		dc_textf(w->error, sizeof(w->error), "no PeerPresent and no close within %ld ms of WatchConns", timeout);
	}
	dc_derp_close(&c);
}

void dc_mesh_watch_free(struct dc_mesh_watch *w)
{
	free(w->present);
	w->present = NULL;
	w->present_count = 0;
}
