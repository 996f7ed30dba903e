/*
 * The Let's Encrypt roots Tailscale bakes into tailscaled (net/bakedroots): ISRG Root X1,
 * X2, YE and YR. tailscaled tries them after the system store fails (tls-diagnosis.md
 * §2.2), so a chain ending at one of them works for Tailscale even on a machine whose
 * trust store lacks it. They rescue a missing root, never a missing intermediate.
 */
#ifndef DERPCHECK_BAKEDROOTS_H
#define DERPCHECK_BAKEDROOTS_H

#include <openssl/x509.h>
#include <stdbool.h>

/* Add the baked roots to store; returns how many were added (4). */
int dc_baked_roots_add(X509_STORE *store);

/* A store holding only them, built once per process; the caller gets a reference (X509_STORE_free). */
X509_STORE *dc_baked_roots_store(void);

/* Whether cert is one of them (same DER). */
bool dc_baked_roots_contains(X509 *cert);

#endif
