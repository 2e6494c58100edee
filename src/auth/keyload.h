/*
 * keyload: public keys from the two formats identity providers publish: a PEM SubjectPublicKeyInfo
 * (the load balancer's key endpoint, one key per kid) and a JWKS document (OIDC providers: a JSON
 * set of RSA and EC P-256 keys, RFC 7517/7518). OpenSSL does the PEM; the JWKS members are turned
 * into keys with EVP_PKEY_fromdata (OpenSSL has no JWK reader). Pure functions; thread-safe.
 */
#ifndef HY_KEYLOAD_H
#define HY_KEYLOAD_H

#include <stddef.h>

#include <openssl/evp.h>

/* Documents larger than this are refused (a JWKS of a few keys is a few KB). */
#define KEYLOAD_MAX_BYTES 65536

/* One public key from PEM text (not necessarily NUL-terminated). Only EC P-256 and RSA >= 2048
 * bits are returned. Returns 0 and *out (caller frees with EVP_PKEY_free), HY_EBADMSG or
 * HY_E2BIG. */
int keyload_pem(const char *pem, size_t len, EVP_PKEY **out);

/* Called once per usable key of a JWKS; kid is borrowed for the call, key is the callee's to
 * keep (EVP_PKEY_up_ref) or not: keyload frees its reference after the call. */
typedef void (*keyload_jwk_fn)(void *arg, const char *kid, EVP_PKEY *key);
/* Parse {"keys":[...]}: RSA (n, e) and EC P-256 (x, y) keys with a kid; keys whose "use" is not
 * "sig", whose kty/crv is anything else, or whose members do not decode are skipped. Returns the
 * number of keys passed to fn (>= 0), or HY_EBADMSG (not a JWKS) / HY_E2BIG / HY_ENOMEM. */
int keyload_jwks(const char *json, size_t len, keyload_jwk_fn fn, void *arg);

#endif
