/*
 * SHA-1 (FIPS 180-4 §6.1), for one job: the WebSocket handshake's Sec-WebSocket-Accept
 * (RFC 6455 §4.2.2), which is defined with it. Not for anything that needs a secure hash.
 * Kept here rather than taken from OpenSSL so that the WebSocket codec stays pure and
 * does not load the TLS library for a 60-byte digest.
 */
#ifndef DERPCHECK_SHA1_H
#define DERPCHECK_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define DC_SHA1_LEN 20

void dc_sha1(const void *data, size_t n, uint8_t out[DC_SHA1_LEN]);

#endif
