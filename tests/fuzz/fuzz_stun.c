/*
 * libFuzzer target for the STUN decoder: any bytes, as a reply from a hostile server.
 * It must never read out of bounds, and what it accepts must be self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan catches any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct dc_stun_msg msg;
	struct dc_error err;
	if (dc_stun_parse(buf, size, &msg, &err) == 0) {
		if (!dc_stun_is_stun(buf, size) || msg.length % 4 || DC_STUN_HEADER_LEN + msg.length + msg.trailing != size)
			abort();
		const struct dc_endpoint *e = dc_stun_msg_mapped(&msg);
		if (e && e->family != 4 && e->family != 6)
			abort();
		if (msg.has_error_code && (msg.error_code < 300 || msg.error_code > 699))
			abort();
		if (strlen(msg.software) >= sizeof(msg.software))
			abort();
	} else if (!err.what[0]) {
		abort(); /* every failure says why */
	}
	free(buf);
	return 0;
}
