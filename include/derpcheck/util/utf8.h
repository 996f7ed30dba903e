/*
 * UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Text from servers and files is checked with these before it is judged or shown.
 */
#ifndef DERPCHECK_UTF8_H
#define DERPCHECK_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The code point starting at p (n > 0 bytes left): its length 1..4, or 0 when the bytes there are not UTF-8. */
size_t dc_utf8_next(const unsigned char *p, size_t n, uint32_t *cp);

/* Whether all n bytes are UTF-8; if not, *bad (may be NULL) is the offset of the first byte that is not. */
bool dc_utf8_valid(const char *s, size_t n, size_t *bad);

/* A copy of n bytes with every byte that is not part of a UTF-8 sequence replaced by U+FFFD, as Go's encoding/json decodes. */
char *dc_utf8_replace_invalid(const char *s, size_t n);

#endif
