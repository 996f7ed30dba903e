/*
 * libFuzzer target for the kernel's ancillary data as src/net/udp.c reads it: the
 * receive timestamp (SCM_TIMESTAMPNS) and the ICMP error with its offender address
 * (IP_RECVERR / IPV6_RECVERR), with every length field from the input. The kernel never
 * sends a cmsg_len past the buffer; the parser must not trust it anyway. The ICMP error
 * is then described as the prober describes it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "derpcheck/net/udp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	/* An exact-size, suitably aligned copy: ASan sees any read past the control buffer. */
	struct cmsghdr *control = malloc(size ? size : 1);
	memcpy(control, data, size);
	uint64_t rx = 0;
	(void)dc_udp_rx_time(control, size, &rx);
	struct dc_udp_icmp e;
	memset(&e, 0, sizeof(e));
	dc_udp_icmp_from_control(control, size, &e);
	if (e.offender.family != 0 && e.offender.family != 4 && e.offender.family != 6)
		abort();
	(void)dc_udp_icmp_text(&e);
	free(control);
	return 0;
}
