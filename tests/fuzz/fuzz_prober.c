/*
 * libFuzzer target for STUN reply dispatch in the prober (src/probe/prober.c), the code
 * between the socket and the results: matching by transaction ID and source, duplicates,
 * late and wrong-source replies, malformed and oversized datagrams, ICMP errors. Three
 * probes to a loopback socket of the harness are transmitted for real; then the input is
 * a list of events fed through dc_prober_feed / dc_prober_feed_icmp:
 *   byte 0: kind (bit 0: ICMP error, else a datagram), which probe (bits 1-2), whether to
 *           stamp that probe's real transaction ID into the datagram (bit 3), and whether
 *           it comes from the probe's destination (bit 4) or another address
 *   bytes 1-2: length (big-endian) of the datagram or ICMP fields that follow
 * Every probe must end in a consistent state.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/probe/prober.h"

static struct dc_endpoint target(void)
{
	/* A socket of ours that never answers: transmissions go somewhere real, quietly. */
	static struct dc_endpoint ep;
	if (!ep.family) {
		struct dc_endpoint lo;
		dc_ip_parse("127.0.0.1", 4, &lo);
		struct dc_error err;
		int fd = dc_udp_open(4, &lo, 0, &err);
		if (fd < 0 || dc_udp_local(fd, &ep) < 0)
			abort();
	}
	return ep;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dc_endpoint dst = target(), lo, other;
	dc_ip_parse("127.0.0.1", 4, &lo);
	dc_ip_parse("192.0.2.7", 4, &other);
	other.port = 3478;
	struct dc_prober_config cfg = {.want4 = true, .bind_addr = &lo};
	struct dc_error err;
	struct dc_prober *p = dc_prober_new(&cfg, &err);
	if (!p)
		abort();
	size_t ids[3];
	for (int i = 0; i < 3; i++) {
		struct dc_probe_spec spec = {.dst = dst, .style = i == 2 ? DC_STUN_STYLE_RFC5389 : DC_STUN_STYLE_TAILSCALE, .tries = 2,
					     .rto_ns = 1000000000u, .timeout_ns = 5000000000u, .group = i == 1 ? 1 : 0};
		ids[i] = dc_prober_add(p, &spec);
	}
	dc_prober_send_due(p);
	size_t off = 0;
	for (int events = 0; events < 64 && off + 3 <= size; events++) {
		uint8_t kind = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		size_t which = ids[((kind >> 1) & 3) % 3];
		if (kind & 1) {
			struct dc_udp_icmp e;
			memset(&e, 0, sizeof(e));
			e.dst = kind & 0x10 ? dst : other;
			if (len >= 4) {
				e.err = data[off];
				e.type = data[off + 1];
				e.code = data[off + 2];
				e.v6 = data[off + 3] & 1;
				e.local = data[off + 3] & 2;
			}
			e.payload_len = len > 4 ? (len - 4 < sizeof(e.payload) ? len - 4 : sizeof(e.payload)) : 0;
			if (e.payload_len)
				memcpy(e.payload, data + off + 4, e.payload_len);
			dc_prober_feed_icmp(p, &e);
		} else {
			uint8_t *pkt = malloc(len ? len : 1);
			memcpy(pkt, data + off, len);
			if ((kind & 8) && len >= 20)
				dc_prober_txid(p, which, pkt + 8);
			dc_prober_feed(p, pkt, len, kind & 0x10 ? &dst : &other, 1000);
			free(pkt);
		}
		off += len;
	}
	for (int i = 0; i < 3; i++) {
		const struct dc_probe_result *r = dc_prober_result(p, ids[i]);
		if (r->status == DC_PROBE_OK && !r->has_mapped)
			abort();
		if (r->has_mapped && r->mapped.family != 4 && r->mapped.family != 6)
			abort();
	}
	dc_prober_stop(p);
	dc_prober_free(p);
	return 0;
}
