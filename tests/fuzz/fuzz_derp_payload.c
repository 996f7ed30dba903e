/*
 * libFuzzer target for derpcheck ping's relayed-payload parser and packet handlers
 * (src/probe/derpping.c, dc_ping_handle): DERP frames from the input, decoded as the
 * client decodes them, each delivered to A or B as the exchange would. A packet must be
 * ours (magic, run ID, sequence in range) to count; anything else is counted as
 * unexpected, never trusted. Packets in the input may name the run ID and the keys: the
 * harness fixes them (run ID 0x0102030405060708, A's key 0x11.., B's key 0x22..).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/derp.h"
#include "derpcheck/probe/derpping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct dc_ping_opts o = {.count = 1 + data[0] % 8, .size = DC_PING_MIN_SIZE + data[1] % 64, .reply_timeout_ms = 1000};
	struct dc_ping_result r;
	memset(&r, 0, sizeof(r));
	r.count = o.count;
	r.packets = calloc(o.count, sizeof(*r.packets));
	r.clients[0].conn.tls.fd = r.clients[1].conn.tls.fd = -1;
	r.clients[0].conn.io.fd = r.clients[1].conn.io.fd = -1;
	memset(r.clients[0].conn.public_key, 0x11, 32);
	memset(r.clients[1].conn.public_key, 0x22, 32);
	/* Some pings already sent, one server ping in flight on A. */
	r.sent = o.count / 2 + 1;
	for (unsigned i = 0; i < r.sent; i++) {
		r.packets[i].seq = i + 1;
		r.packets[i].sent_ns = 1000000u * (i + 1);
		r.packets[i].lost = i == 0 && (data[0] & 0x80);
	}
	r.clients[0].sping_pending = true;
	memset(r.clients[0].sping_data, 0x33, 8);
	uint64_t now = 5000000000u;
	size_t off = 2;
	for (int frames = 0; frames < 256 && off < size; frames++) {
		struct dc_derp_frame f;
		size_t used = 0, need = 0;
		/* Every frame goes to B if its first payload byte is odd, else to A. */
		if (dc_derp_frame_next(data + off, size - off, DC_DERP_MAX_FRAME, &f, &used, &need, NULL) <= 0)
			break;
		off += used;
		struct dc_derp_msg m;
		struct dc_error err;
		if (dc_derp_msg_decode(&f, &m, &err) < 0)
			continue;
		int client = f.len && (f.payload[0] & 1);
		dc_ping_handle(&o, &r, 0x0102030405060708ull, client, &m, now);
		now += 1000;
	}
	if (r.received > r.sent || r.duplicates + r.received + r.late + r.unexpected > 256 * 2)
		abort();
	for (unsigned i = 0; i < r.sent; i++)
		if (r.packets[i].replied && r.packets[i].lost)
			abort(); /* a lost packet stays lost */
	dc_buf_free(&r.clients[1].conn.wbuf);
	dc_buf_free(&r.clients[0].conn.wbuf);
	free(r.packets);
	return 0;
}
