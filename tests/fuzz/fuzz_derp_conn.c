/*
 * libFuzzer target for the DERP connection state machine (src/probe/derpconn.c) over a
 * scripted stream (tests/unit/fakederp.h), where the flood faults of issue #13 lived: the
 * answer to GET /derp, the handshake and the receive loop, fed any bytes.
 *
 * The first byte picks the shape: bit 0 clear, the input is the whole stream the server
 * sends (the upgrade answer included); set, a correct 101 and ServerKey come first, then
 * the input as frames, where each frame of type ServerInfo (0x03) is sealed for the
 * client by the harness, so the handshake can complete and the receive loop run. Bit 1
 * asks for fast start (as with derper's meta certificate); bits 2-3 set mean a flood
 * follows the input (KeepAlive frames, or unknown ones with bit 4), else the end of the
 * stream. The flood is FLOOD_BYTES long, then the server closes: long enough to spend the
 * receive loop's skip budget several times over (DC_DERP_SKIP_BUDGET frames), short enough
 * that an input costs a fraction of a millisecond; an endless flood ended only by the 1 ms
 * deadline made a quarter of all inputs cost a millisecond each. Endless floods, and
 * silence (which can only be waited for), are left to tests/unit/test_derpconn.c. The
 * connection must end, and its receive loop return, within the deadline and the budget.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fakederp.h"

enum { FLOOD_BYTES = 4 * DC_DERP_SKIP_BUDGET * 8 }; /* 4 budgets of 8-byte unknown frames, 6.4 of KeepAlives */

static struct dc_derp_node node = {.name = "900a", .host_name = "derp.test", .ipv4 = "127.0.0.1", .ipv6 = "none"};

/* Copy frames from the input, sealing every ServerInfo frame's payload for the client. */
static void script_frames(struct fake_derp *f, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off + 5 <= n) {
		uint8_t type = p[off];
		size_t len = (size_t)p[off + 1] << 24 | (size_t)p[off + 2] << 16 | (size_t)p[off + 3] << 8 | p[off + 4];
		off += 5;
		if (len > n - off)
			len = n - off; /* the tail as the last frame, with its length as written */
		if (type == DC_DERP_SERVER_INFO) {
			uint8_t nonce[DC_DERP_NONCE_LEN] = {0};
			dc_derp_server_info_seal(&f->script, f->server_sk, f->client_pk, nonce, p + off, len);
		} else {
			dc_derp_put_frame(&f->script, type, p + off, len, NULL, 0);
		}
		off += len;
	}
	dc_buf_append(&f->script, p + off, n - off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	struct fake_derp f;
	fake_derp_init(&f, (mode & 0x0c) != 0x0c ? FAKE_END : mode & 0x10 ? FAKE_UNKNOWN : FAKE_KEEPALIVES);
	f.tail_limit = FLOOD_BYTES;
	bool fast = mode & 2;
	if (mode & 1) {
		if (!fast) {
			dc_buf_printf(&f.script, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n");
			dc_derp_put_server_key(&f.script, f.server_pk);
		}
		script_frames(&f, data + 1, size - 1);
	} else {
		dc_buf_append(&f.script, data + 1, size - 1);
	}
	if (!f.script.data)
		dc_buf_append(&f.script, "", 0);
	/* A short deadline: a flood before ServerInfo lasts until it. */
	struct dc_derp_dial_opts o = {.timeout_ms = 1, .private_key = f.client_sk, .no_fast_start = !fast};
	struct dc_derp_io io = fake_derp_io(&f);
	struct dc_derp_conn c;
	struct dc_error err;
	uint64_t t0 = dc_now_ns();
	if (dc_derp_connect_over(&o, &node, &io, "fuzz:443", fast ? f.server_pk : NULL, &c, &err) == 0) {
		struct dc_derp_msg m;
		for (int i = 0; i < 64; i++)
			if (dc_derp_recv(&c, 0, &m, &err) < 0)
				break;
		(void)dc_derp_readable_now(&c);
	} else if (!err.what[0]) {
		abort(); /* every failure is named */
	}
	/* 1 ms for the connection, 64 receives that never wait: anything far beyond is a hang. */
	if (dc_now_ns() - t0 > 2000000000u)
		abort();
	dc_derp_close(&c);
	fake_derp_free(&f);
	return 0;
}
