#include "derpcheck/util/utf8.h"

#include "derpcheck/util/util.h"

size_t dc_utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char b = p[0];
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	size_t len;
	uint32_t min, v;
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2, min = 0x80, v = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3, min = 0x800, v = b & 0x0f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4, min = 0x10000, v = b & 0x07;
	} else {
		return 0; /* a continuation byte, an overlong lead (c0, c1) or beyond U+10FFFF */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool dc_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = dc_utf8_next(p + i, n - i, &cp);
		if (len == 0) {
			if (bad)
				*bad = i;
			return false;
		}
		i += len;
	}
	return true;
}

char *dc_utf8_replace_invalid(const char *s, size_t n)
{
	/* Valid runs are copied at once: JSON output of a large map passes through here whole. */
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	struct dc_buf b = {0};
	size_t run = 0; /* start of the valid run not yet copied */
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = p[i] < 0x80 ? 1 : dc_utf8_next(p + i, n - i, &cp);
		if (len == 0) {
			dc_buf_append(&b, p + run, i - run);
			dc_buf_append(&b, "\xef\xbf\xbd", 3);
			run = ++i;
		} else {
			i += len;
		}
	}
	dc_buf_append(&b, p + run, n - run);
	return b.data;
}
