/* libFuzzer target for dc_http_response_date: an HTTP response head from the network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/tlscheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past size is caught by AddressSanitizer. */
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	time_t t;
	dc_http_response_date(buf, size, &t);
	free(buf);
	return 0;
}
