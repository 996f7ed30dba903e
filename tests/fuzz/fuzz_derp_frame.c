/*
 * libFuzzer target for the DERP frame decoder: the input is a byte stream as a server
 * (or client) would send it after the upgrade. Every frame is split off with the 1 MiB
 * limit and decoded by type; sealed handshake frames are opened with fixed keys and their
 * JSON readers run on the payload, so every bounds check on the way is exercised.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/derp.h"

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_b[32] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
				  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	for (int frames = 0; frames < 10000; frames++) {
		struct dc_derp_frame f;
		size_t used = 0, need = 0;
		struct dc_error err;
		int rc = dc_derp_frame_next(data + off, size - off, DC_DERP_MAX_FRAME, &f, &used, &need, &err);
		if (rc <= 0)
			break;
		if (used < DC_DERP_FRAME_HEADER_LEN || used > size - off || need > used + DC_DERP_MAX_FRAME)
			abort();
		off += used;
		struct dc_derp_msg m;
		if (dc_derp_msg_decode(&f, &m, &err) == 0 && m.type == DC_DERP_RECV_PACKET && m.u.packet.len > DC_DERP_MAX_PACKET)
			abort();
		char *json = NULL;
		size_t n = 0;
		uint8_t pk[32];
		if (f.type == DC_DERP_CLIENT_INFO) {
			if (dc_derp_client_info_open(f.payload, f.len, key_a, pk, &json, &n, &err) == 0) {
				struct dc_derp_client_info_in in;
				dc_derp_client_info_parse(json, n, &in, &err);
			}
			/* The JSON reader on raw bytes too: ClientInfo content is attacker-chosen. */
			struct dc_derp_client_info_in in;
			dc_derp_client_info_parse((const char *)f.payload, f.len, &in, &err);
		} else if (f.type == DC_DERP_SERVER_INFO) {
			if (dc_derp_server_info_open(f.payload, f.len, key_a, key_b, &json, &n, &err) == 0) {
				struct dc_derp_server_info info;
				dc_derp_server_info_parse(json, n, &info, &err);
			}
			struct dc_derp_server_info info;
			dc_derp_server_info_parse((const char *)f.payload, f.len, &info, &err);
		}
		free(json);
	}
	return 0;
}
