/*
 * libFuzzer target for HTTP response headers as derpcheck reads them from libcurl
 * (dc_http_header over the last header block) and for the captive-portal judge that
 * decides on them (dc_captive_read_response, dc_captive_judge): the first two bytes are
 * the status code, the rest the header block as received (status line first). The same
 * bytes are also read as the raw head the DERP latency check and derpcheck cert parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/tlscheck.h"
#include "derpcheck/net/http.h"
#include "derpcheck/probe/captive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct dc_http_response r;
	memset(&r, 0, sizeof(r));
	r.status = (long)(data[0] << 8 | data[1]) % 1000;
	r.date = -1;
	dc_buf_append(&r.headers, data + 2, size - 2);
	static const char *const names[] = {"Location", "X-Tailscale-Response", "Date", "Content-Type", "Server", "", "X"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v;
		size_t n;
		if (dc_http_header(&r, names[i], &v, &n) &&
		    (v < r.headers.data || v + n > r.headers.data + r.headers.len || memchr(v, '\n', n)))
			abort(); /* a value lies within one line of the block */
	}
	struct dc_captive_endpoint ep = {.url = "http://127.0.0.1/generate_204", .host = "127.0.0.1", .challenge = true};
	struct dc_captive_probe p;
	dc_captive_read_response(&ep, &r, &p);
	ep.challenge = false;
	dc_captive_read_response(&ep, &r, &p);
	for (const char *s = p.response; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort(); /* kept printable, as documented */
	time_t t;
	dc_http_response_date(r.headers.data, r.headers.len, &t);
	dc_http_response_free(&r);
	return 0;
}
