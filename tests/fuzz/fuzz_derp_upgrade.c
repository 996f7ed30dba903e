/*
 * libFuzzer target for the parser of the answer to GET /derp (HTTP/1.1 101, or any other
 * status with headers). Checks that it never reads past the input and that a complete
 * header is never longer than the input or the 8 KiB bound.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/derp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes, so that ASan sees any over-read. */
	uint8_t *copy = malloc(size ? size : 1);
	if (size)
		memcpy(copy, data, size);
	struct dc_derp_upgrade u;
	struct dc_error err;
	int rc = dc_derp_upgrade_parse(copy, size, &u, &err);
	if (rc == 1 && (u.header_len > size || u.header_len > DC_DERP_UPGRADE_MAX || u.status < 100 || u.status > 999))
		abort();
	if (rc == 1 && (strlen(u.reason) >= sizeof(u.reason) || strlen(u.upgrade) >= sizeof(u.upgrade)))
		abort();
	/* Incremental arrival must agree with the whole: a prefix is never "complete" earlier. */
	if (rc == 1 && u.header_len > 0) {
		struct dc_derp_upgrade v;
		if (dc_derp_upgrade_parse(copy, u.header_len - 1, &v, &err) == 1)
			abort();
	}
	free(copy);
	return 0;
}
