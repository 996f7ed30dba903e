/*
 * Every wire parser of the port-mapping probe on the same input: NAT-PMP and PCP
 * replies, SSDP answers, IGD device descriptions and /proc/net/route text. The parsers
 * must never read past the input, whatever it holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/probe/portmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dc_error err;
	struct dc_pmp_reply pmp;
	if (dc_pmp_parse(data, size, &pmp, &err) == 0)
		(void)dc_pmp_reply_usable(&pmp);
	struct dc_pcp_reply pcp;
	if (dc_pcp_parse(data, size, &pcp, &err) == 0)
		(void)dc_pcp_reply_usable(&pcp);
	struct dc_ssdp_reply ssdp;
	dc_ssdp_parse(data, size, &ssdp, &err);
	/* Text parsers get an exact-size copy so ASan catches any read past the end. */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	struct dc_igd_desc desc;
	dc_igd_desc_parse(text, size, &desc, &err);
	struct dc_gateway gw;
	dc_route_parse_default(text, size, &gw, &err);
	free(text);
	return 0;
}
