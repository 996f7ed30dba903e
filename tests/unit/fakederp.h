/*
 * A scripted DERP server for dc_derp_connect_over (include/derpcheck/probe/derpconn.h):
 * the bytes a server would send, then a tail (nothing, KeepAlive frames, frames of an
 * unknown type, or the end of the stream), endless unless tail_limit ends a flood.
 * Shared by tests/unit/test_derpconn.c and the fuzz target tests/fuzz/fuzz_derp_conn.c.
 * Header-only: each user is one program.
 */
#ifndef DERPCHECK_TEST_FAKEDERP_H
#define DERPCHECK_TEST_FAKEDERP_H

#include <sodium.h>
#include <string.h>

#include "derpcheck/probe/derp.h"
#include "derpcheck/probe/derpconn.h"

enum fake_tail {
	FAKE_END,        /* then the server closes */
	FAKE_SILENT,     /* then nothing, ever (reads would wait) */
	FAKE_KEEPALIVES, /* then KeepAlive frames, as many as are read */
	FAKE_UNKNOWN,    /* then frames of type 0x7f, as many as are read */
};

struct fake_derp {
	struct dc_buf script; /* what the server sends first */
	size_t off;
	enum fake_tail tail;
	uint64_t tail_bytes;  /* produced so far */
	uint64_t tail_limit;  /* a flood ends (the server closes) after this many bytes; 0: never */
	struct dc_buf written; /* what the client sent */
	/* keys: the client's is fixed so the script can seal ServerInfo for it */
	uint8_t client_sk[32], client_pk[32], server_sk[32], server_pk[32];
};

static inline void fake_derp_init(struct fake_derp *f, enum fake_tail tail)
{
	/* The keys are fixed, so their public halves are computed once per program: the fuzz
	 * target creates a server per input, and two Curve25519 multiplications per input
	 * were a sixth of its time. */
	static uint8_t client_sk[32], client_pk[32], server_sk[32], server_pk[32];
	static bool keys_ready;
	if (!keys_ready) {
		if (sodium_init() < 0)
			abort();
		for (int i = 0; i < 32; i++) {
			client_sk[i] = (uint8_t)(i + 1);
			server_sk[i] = (uint8_t)(0x80 + i);
		}
		crypto_scalarmult_base(client_pk, client_sk);
		crypto_scalarmult_base(server_pk, server_sk);
		keys_ready = true;
	}
	memset(f, 0, sizeof(*f));
	f->tail = tail;
	memcpy(f->client_sk, client_sk, 32);
	memcpy(f->client_pk, client_pk, 32);
	memcpy(f->server_sk, server_sk, 32);
	memcpy(f->server_pk, server_pk, 32);
}

static inline void fake_derp_free(struct fake_derp *f)
{
	dc_buf_free(&f->script);
	dc_buf_free(&f->written);
}

/* The answer to GET /derp and ServerKey; ServerInfo follows when admit. */
static inline void fake_derp_handshake(struct fake_derp *f, bool admit)
{
	dc_buf_printf(&f->script, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
				  "Derp-Version: 2\r\n\r\n");
	dc_derp_put_server_key(&f->script, f->server_pk);
	if (admit) {
		static const char json[] = "{\"version\":2}";
		uint8_t nonce[DC_DERP_NONCE_LEN] = {7};
		dc_derp_server_info_seal(&f->script, f->server_sk, f->client_pk, nonce, json, sizeof(json) - 1);
	}
}

static inline long fake_derp_read(void *ctx, void *buf, size_t n)
{
	struct fake_derp *f = ctx;
	uint8_t *out = buf;
	size_t have = f->script.len - f->off;
	if (have) {
		size_t k = have < n ? have : n;
		memcpy(out, f->script.data + f->off, k);
		f->off += k;
		return (long)k;
	}
	switch (f->tail) {
	case FAKE_END: return 0;
	case FAKE_SILENT: return DC_DERP_IO_WANT_READ;
	case FAKE_KEEPALIVES:
	case FAKE_UNKNOWN: {
		if (f->tail_limit && f->tail_bytes >= f->tail_limit)
			return 0; /* the flood is over: the server closes */
		/* Whole frames only: 5-byte KeepAlives, or 8-byte frames of type 0x7f. */
		static const uint8_t ka[5] = {DC_DERP_KEEP_ALIVE, 0, 0, 0, 0};
		static const uint8_t unk[8] = {0x7f, 0, 0, 0, 3, 0xde, 0xad, 0};
		const uint8_t *frame = f->tail == FAKE_KEEPALIVES ? ka : unk;
		size_t flen = f->tail == FAKE_KEEPALIVES ? sizeof(ka) : sizeof(unk), k = 0;
		while (k + flen <= n && k < 16384 && !(f->tail_limit && f->tail_bytes + k >= f->tail_limit)) {
			memcpy(out + k, frame, flen);
			k += flen;
		}
		f->tail_bytes += k;
		return (long)k;
	}
	}
	return -1;
}

static inline int fake_derp_write(void *ctx, const void *buf, size_t n, uint64_t deadline_ns, struct dc_error *err)
{
	(void)deadline_ns, (void)err;
	struct fake_derp *f = ctx;
	if (f->written.len < (1u << 20))
		dc_buf_append(&f->written, buf, n);
	return 0;
}

static inline size_t fake_derp_pending(void *ctx)
{
	struct fake_derp *f = ctx;
	return f->script.len - f->off + (f->tail == FAKE_KEEPALIVES || f->tail == FAKE_UNKNOWN ? 1 : 0);
}

static inline struct dc_derp_io fake_derp_io(struct fake_derp *f)
{
	return (struct dc_derp_io){.read = fake_derp_read, .write = fake_derp_write, .pending = fake_derp_pending,
				   .fd = -1, .ctx = f};
}

#endif
