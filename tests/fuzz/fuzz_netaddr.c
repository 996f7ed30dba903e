/*
 * libFuzzer target for addresses as users and maps write them (src/net/netaddr.c):
 * HOST[:PORT] splitting (brackets, bare IPv6, ports), literal parsing for each family,
 * then formatting and classifying what was accepted. What parses must format and parse
 * back to the same address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/net/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *host = NULL;
	int port;
	struct dc_error err;
	if (dc_hostport_split(text, &host, &port, &err) == 0) {
		if (port < -1 || port > 65535)
			abort();
		free(host);
	}
	for (int family = 0; family <= 6; family += family == 0 ? 4 : 2) {
		struct dc_endpoint e;
		if (dc_ip_parse(text, family, &e) < 0)
			continue;
		char buf[DC_ENDPOINT_STRLEN];
		dc_ip_format(&e, buf, sizeof(buf));
		struct dc_endpoint back;
		if (dc_ip_parse(buf, 0, &back) < 0 || !dc_ip_equal(&e, &back))
			abort();
		e.port = 3478;
		dc_endpoint_format(&e, buf, sizeof(buf));
		(void)dc_ip_class_name(dc_ip_classify(&e));
		(void)dc_ip_class_key(dc_ip_classify(&e));
		dc_endpoint_unmap(&e); /* sockaddr conversions always unmap ::ffff:a.b.c.d */
		struct sockaddr_storage ss;
		socklen_t len = dc_endpoint_to_sockaddr(&e, &ss);
		if (dc_endpoint_from_sockaddr(&back, (struct sockaddr *)&ss, len) < 0 || !dc_endpoint_equal(&e, &back))
			abort();
	}
	free(text);
	return 0;
}
