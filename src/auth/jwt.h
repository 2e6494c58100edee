/*
 * jwt: a JWS compact-serialisation parser and signature check for the OIDC gate (oidc.h), written
 * for load-balancer tokens (../shared/specs/alb-oidc-jwt.md sections 2-4) and OIDC ID tokens.
 *
 * Hand-written because no Debian C library fits: libjwt (not in bookworm's main at a usable
 * version) and the nginx JWT modules reject the load balancer's padded base64url segments, and
 * the signature must be checked over the segments exactly as sent, '=' included. Decoding is
 * lenient on purpose (spec section 3): the URL-safe alphabet plus '+' '/', zero to two '=' only at
 * a segment's end. Signatures: ES256 (raw R||S, 64 bytes, turned into DER for OpenSSL) and RS256;
 * nothing else is accepted, whatever the header says.
 *
 * Pure functions apart from OpenSSL; thread-safe. A parsed struct jwt owns its cJSON trees and
 * borrows the token text (the signing input is a view into it).
 */
#ifndef HY_JWT_H
#define HY_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

/* Tokens longer than this are refused before any decoding (the ALB caps claims at ~11 KB). */
#define JWT_MAX_TOKEN_LEN 16384
#define JWT_MAX_SIG_LEN 512

enum jwt_alg { JWT_ALG_NONE_OR_OTHER = 0, JWT_ALG_ES256, JWT_ALG_RS256 };

struct jwt {
    const char *signing_input; /* view: "seg1.seg2" as received */
    size_t signing_input_len;
    cJSON *header; /* owned */
    cJSON *payload;
    enum jwt_alg alg;
    const char *alg_text; /* borrowed from header; NULL if absent */
    const char *kid;      /* borrowed from header; NULL if absent or not a string */
    uint8_t sig[JWT_MAX_SIG_LEN];
    size_t sig_len;
};

/* Lenient base64url decode (spec section 3). out needs room for (len / 4 + 1) * 3 bytes.
 * Returns 0 and sets *out_len, or HY_EBADMSG. */
int jwt_b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len);
/* Split and decode tok[0..len): exactly three non-empty segments, JSON objects for header and
 * payload, a decodable signature. Returns 0 (call jwt_fini after), HY_E2BIG (too long) or
 * HY_EBADMSG with *why set to a short reason (static text). On error out needs no jwt_fini. */
int jwt_parse(const char *tok, size_t len, struct jwt *out, const char **why);
void jwt_fini(struct jwt *t);
/* Check the signature with key for the token's algorithm (ES256 needs an EC P-256 key and a
 * 64-byte signature, RS256 an RSA key). Returns 0 if valid, HY_EBADMSG if not, HY_EINVAL when the
 * key does not fit the algorithm, HY_ENOMEM. */
int jwt_verify(const struct jwt *t, EVP_PKEY *key);
/* A time claim as whole seconds: a JSON number or a numeric string (the ALB's docs show exp as a
 * string). Returns 0, HY_ENOTFOUND (absent) or HY_EBADMSG (not numeric). */
int jwt_claim_time(const cJSON *obj, const char *name, int64_t *out);
/* A string claim, or NULL when absent or not a string (borrowed from obj). */
const char *jwt_claim_str(const cJSON *obj, const char *name);

#endif
