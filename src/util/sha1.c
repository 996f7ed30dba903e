/* SHA-1 as FIPS 180-4 §6.1 specifies it: 512-bit blocks, 80 rounds, big-endian words. */
#include "derpcheck/util/sha1.h"

#include <string.h>

static uint32_t rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void block(uint32_t h[5], const uint8_t b[64])
{
	uint32_t w[80];
	for (int t = 0; t < 16; t++)
		w[t] = (uint32_t)b[4 * t] << 24 | (uint32_t)b[4 * t + 1] << 16 | (uint32_t)b[4 * t + 2] << 8 | b[4 * t + 3];
	for (int t = 16; t < 80; t++)
		w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
	uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
	for (int t = 0; t < 80; t++) {
		uint32_t f, k;
		if (t < 20)
			f = (bb & c) | (~bb & d), k = 0x5a827999u;
		else if (t < 40)
			f = bb ^ c ^ d, k = 0x6ed9eba1u;
		else if (t < 60)
			f = (bb & c) | (bb & d) | (c & d), k = 0x8f1bbcdcu;
		else
			f = bb ^ c ^ d, k = 0xca62c1d6u;
		uint32_t tmp = rol(a, 5) + f + e + k + w[t];
		e = d;
		d = c;
		c = rol(bb, 30);
		bb = a;
		a = tmp;
	}
	h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e;
}

void dc_sha1(const void *data, size_t n, uint8_t out[DC_SHA1_LEN])
{
	uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
	const uint8_t *p = data;
	size_t left = n;
	for (; left >= 64; p += 64, left -= 64)
		block(h, p);
	/* Padding (§5.1.1): a 1 bit, zeros, then the message length in bits as 64 bits. */
	uint8_t tail[128] = {0};
	memcpy(tail, p, left);
	tail[left] = 0x80;
	size_t tail_len = left + 9 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)n * 8u;
	for (int i = 0; i < 8; i++)
		tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
	block(h, tail);
	if (tail_len == 128)
		block(h, tail + 64);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}
