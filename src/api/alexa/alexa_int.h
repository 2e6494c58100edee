/*
 * alexa_int: private to src/api/alexa/ (and its unit tests): the request-verification steps of
 * ../shared/specs/alexa-skill.md section 6, each a pure function so tests can drive every
 * rejection case with a test CA, and the intent answers.
 */
#ifndef HY_ALEXA_INT_H
#define HY_ALEXA_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "api/alexa/alexa.h"

/* Amazon's rule for SignatureCertChainUrl (spec 6.1). */
#define ALEXA_CERT_HOST "s3.amazonaws.com"
#define ALEXA_CERT_PATH "/echo.api/"
#define ALEXA_CERT_SAN "echo-api.amazon.com"
#define ALEXA_DEFAULT_TOLERANCE_S 150
#define ALEXA_MAX_TOLERANCE_S 3600
#define ALEXA_CHAIN_MAX_BYTES 65536

/* 6.1: 0 if url (len bytes) passes Amazon's rule after normalising "."/".." segments: https,
 * host s3.amazonaws.com (any case), port absent or 443, path starting with /echo.api/ (case
 * sensitive). When test_prefix is set (tests only) the normalised URL must instead start with
 * it. HY_EBADMSG otherwise. The normalised URL goes to norm (cap bytes, NUL-terminated). */
int alexa_verify_cert_url(const char *url, size_t len, const char *test_prefix, char *norm,
                          size_t cap);
/* 6.2: the PEM chain (signing cert first, then intermediates) verified at now_s against the
 * trust store (ca_file, or the system's when NULL), the signing cert carrying the SAN
 * echo-api.amazon.com. 0 and *key (caller frees with EVP_PKEY_free) and *not_after_s, or
 * HY_EBADMSG with *reason (static). */
int alexa_verify_chain(const char *pem, size_t len, const char *ca_file, int64_t now_s,
                       EVP_PKEY **key, int64_t *not_after_s, const char **reason);
/* 6.3: the base64 signature over body with RSA PKCS#1 v1.5, SHA-256 (sha256 != 0) or SHA-1.
 * 0 or HY_EBADMSG. */
int alexa_verify_signature(EVP_PKEY *key, const char *sig_b64, size_t sig_len, int sha256,
                           const char *body, size_t body_len);
/* 6.4: ISO-8601 UTC timestamp ("2024-05-01T12:00:00Z", fractional seconds allowed) within
 * tolerance_s of now_ms. 0 or HY_EBADMSG. */
int alexa_verify_timestamp(const char *ts, int64_t now_ms, int tolerance_s);

/* Answer a verified request (its parsed body): the response envelope JSON in *out (caller frees
 * with cJSON_free), or HY_EBADMSG (not an envelope) / HY_ENOMEM. */
struct cJSON;
int alexa_answer(struct alexa *ax, const struct cJSON *root, char **out, size_t *out_len);
/* The service the front answers about (borrowed). */
struct service *alexa_service(struct alexa *ax);

#endif
