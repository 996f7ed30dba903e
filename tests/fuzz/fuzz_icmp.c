/*
 * libFuzzer target for the ICMPv4 parser (src/probe/icmp.c): any bytes, as an ICMP socket
 * would deliver them, with and without the IPv4 header in front (raw vs ping sockets).
 * It must never read out of bounds, and what it accepts must be self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/icmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *buf, size_t size, bool with_ip)
{
	struct dc_icmp_msg m;
	struct dc_error err;
	memset(&err, 0, sizeof(err));
	if (dc_icmp_parse(buf, size, with_ip, &m, &err) < 0) {
		if (!err.what[0])
			abort(); /* every failure says why */
		return;
	}
	if (m.has_ip != with_ip || size < DC_ICMP_HEADER_LEN)
		abort();
	if (m.data && (m.data < buf || m.data + m.data_len > buf + size))
		abort(); /* the payload view stays inside the input */
	if (m.quotes_echo && m.type != DC_ICMP_DEST_UNREACH && m.type != DC_ICMP_TIME_EXCEEDED)
		abort();
	if (m.has_ip && (m.ip_src.family != 4 || m.ip_dst.family != 4))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan catches any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check(buf, size, true);
	check(buf, size, false);
	free(buf);
	return 0;
}
