/*
 * libFuzzer target for derper's certificate files as `derpcheck cert --certdir` reads
 * them (src/judge/certfiles.c): the input is a certificate file and a key file, split at
 * the first "\n--KEY--\n" (no key file when there is none). PEM blocks in any order and
 * shape, DER, keys of every kind (or encrypted, or swapped with the chain): every input
 * must end in findings, never a fault or a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/judge/certfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n--KEY--\n";
	const uint8_t *key = memmem(data, size, sep, sizeof(sep) - 1);
	size_t crt_len = key ? (size_t)(key - data) : size;
	const uint8_t *key_data = key ? key + sizeof(sep) - 1 : NULL;
	size_t key_len = key ? size - crt_len - (sizeof(sep) - 1) : 0;
	/* Exact-size copies: a read past either file's end is caught by AddressSanitizer. */
	uint8_t *crt = malloc(crt_len ? crt_len : 1), *k = key ? malloc(key_len ? key_len : 1) : NULL;
	memcpy(crt, data, crt_len);
	if (k && key_len)
		memcpy(k, key_data, key_len);
	struct dc_certfiles_opts o = {.hostname = "derp.test", .cert_file = "derp.test.crt", .key_file = "derp.test.key",
				      .now = 1780272000};
	struct dc_certfiles f;
	dc_certfiles_check_text(&o, crt, crt_len, k, key_len, &f);
	if (f.loadable && (!f.chain || sk_X509_num(f.chain) == 0))
		abort(); /* derper starts only with a certificate */
	dc_certfiles_free(&f);
	free(crt);
	free(k);
	return 0;
}
