/*
 * libFuzzer target for the exporter's HTTP request parser (src/net/httpserver.c): a request
 * head from anyone who can reach --listen, then the query parameters of what it accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/net/httpserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past size is caught by AddressSanitizer. */
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct dc_httpd_request req;
	size_t head;
	const char *why;
	int rc = dc_httpd_parse(buf, size, &req, &head, &why);
	if (rc == DC_HTTPD_PARSE_OK) {
		if (head == 0 || head > size || strlen(req.path) > DC_HTTPD_MAX_TARGET || req.path[0] != '/')
			abort();
		char value[128];
		dc_httpd_query_param(req.query, "region", value, sizeof(value));
		dc_httpd_query_param(req.query, "", value, 1);
	} else if (rc != DC_HTTPD_PARSE_MORE && (rc < 400 || rc > 599 || !why || !why[0])) {
		abort();
	}
	free(buf);
	return 0;
}
