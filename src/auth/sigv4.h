/*
 * sigv4: server-side AWS Signature Version 4 verification, for every AWS-protocol front (the
 * Firehose JSON front through awsauth.h today; the S3 REST front calls it directly).
 * Spec: ../shared/specs/aws-json-sigv4.md section 3.
 *
 * Three ways in:
 *   - header auth (Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...)
 *   - presigned query auth (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
 *     -Signature in the query string; S3 presigned URLs)
 *   - aws-chunked bodies (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD): after the
 *     request verifies, struct sigv4_chunk checks each chunk's signature as the chunk arrives,
 *     chained from the seed signature, fed incrementally.
 * Comparison of signatures is constant-time (CRYPTO_memcmp). The canonical request follows the
 * spec: the path encoded once more and normalised for non-S3 services, decoded and re-encoded
 * once for S3; the query decoded and re-encoded, sorted; signed headers trimmed, spaces
 * collapsed, repeats joined with ','.
 *
 * Pure apart from OpenSSL's hashing; thread-safe. The request views are borrowed for the call.
 * Hand-written because no Debian C library verifies SigV4 on the server side (aws-c-auth signs
 * and is not in bookworm).
 */
#ifndef HY_SIGV4_H
#define HY_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "auth/creds.h"
#include "net/http.h"

#define SIGV4_DEFAULT_SKEW_S 900

enum sigv4_status {
    SIGV4_OK = 0,
    SIGV4_MISSING,            /* no Authorization header and no presigned query */
    SIGV4_INCOMPLETE,         /* malformed Authorization / presigned parameters */
    SIGV4_UNKNOWN_KEY,        /* access key id not in the credentials */
    SIGV4_BAD_TOKEN,          /* session token missing or different */
    SIGV4_BAD_SIGNATURE,      /* the computed signature differs */
    SIGV4_BAD_SCOPE,          /* credential scope: date, region or service wrong */
    SIGV4_EXPIRED,            /* X-Amz-Date outside the skew window */
    SIGV4_PRESIGN_EXPIRED,    /* presigned URL past X-Amz-Date + X-Amz-Expires */
    SIGV4_BAD_CONTENT_SHA256, /* x-amz-content-sha256 differs from the body's hash */
    SIGV4_NOMEM,
};
/* How fronts answer a status (only src/api/ builds the error shapes):
 *   status                 JSON protocols (awsauth.h)                 S3 REST (XML <Code>)
 *   MISSING                403 MissingAuthenticationTokenException    403 AccessDenied
 *   INCOMPLETE             400 IncompleteSignatureException           400
 * AuthorizationHeaderMalformed (presigned: 400 AuthorizationQueryParametersError) UNKNOWN_KEY 400
 * UnrecognizedClientException            403 InvalidAccessKeyId BAD_TOKEN              400
 * UnrecognizedClientException            400 InvalidToken BAD_SIGNATURE          400
 * InvalidSignatureException              403 SignatureDoesNotMatch BAD_SCOPE              400
 * InvalidSignatureException              400 AuthorizationHeaderMalformed EXPIRED 400
 * InvalidSignatureException              403 RequestTimeTooSkewed PRESIGN_EXPIRED        (not used)
 * 403 AccessDenied "Request has expired" BAD_CONTENT_SHA256     400 InvalidSignatureException 400
 * XAmzContentSHA256Mismatch NOMEM                  500 InternalFailure                        500
 * InternalError res.message holds AWS's wording for the JSON column; S3 has its own fixed messages.
 */

struct sigv4_config {
    const struct creds *creds;
    const char *region;  /* NULL: any region */
    const char *service; /* "firehose", "s3", "glue" ... */
    int skew_s;          /* 0: SIGV4_DEFAULT_SKEW_S */
    int s3;              /* S3 rules: path encoded once and not normalised; UNSIGNED-PAYLOAD and
                            streaming payloads allowed */
    int body_later;      /* S3: the body is not in req (streamed): a hex x-amz-content-sha256
                            is taken as the payload hash and copied to res->content_sha256 for
                            the caller to check against the body */
};

/* Parsed credential parts, decoded and NUL-terminated (presigned values arrive %-encoded). */
struct sigv4_auth {
    char akid[129];
    char date[9]; /* YYYYMMDD of the scope */
    char region[33];
    char service[33];
    char signed_headers[1024];
    char signature[65]; /* 64 lower-case hex */
    /* Presigned only: */
    char amz_date[17];
    long expires_s;
    char token[2048]; /* X-Amz-Security-Token from the query; "" if absent */
};

struct sigv4_result {
    enum sigv4_status status;
    char message[320];              /* AWS-like text for the error answer; "" when OK */
    const struct creds_entry *cred; /* the signer, when the key was known */
    /* For aws-chunked bodies and checks after the head (valid when status is OK). */
    int streaming;           /* x-amz-content-sha256 was STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    int unsigned_payload;    /* x-amz-content-sha256 was UNSIGNED-PAYLOAD (S3) */
    int unsigned_trailer;    /* STREAMING-UNSIGNED-PAYLOAD-TRAILER (S3): aws-chunked, unsigned */
    int presigned;           /* the signature came in the query string */
    char content_sha256[65]; /* body_later: the hex hash the body must have ("" otherwise) */
    uint8_t signing_key[32];
    char seed_signature[65];
    char amz_date[17];
    char scope[160]; /* date/region/service/aws4_request */
};

/* Parse an Authorization header value. 0, or HY_EBADMSG with *why set (static text that names
 * what is missing, in AWS's words). Never reads past len. */
int sigv4_parse_header(const char *value, size_t len, struct sigv4_auth *out, const char **why);
/* Find and parse the presigned parameters of a raw query string ("a=b&X-Amz-..."). 0,
 * HY_ENOTFOUND (no X-Amz-Algorithm: not presigned), or HY_EBADMSG with *why. */
int sigv4_parse_query(const char *query, size_t len, struct sigv4_auth *out, const char **why);

/* Verify req (header auth or presigned query) at time now (Unix seconds). Fills *res; returns
 * res->status. When the body is not available yet (S3 streaming / UNSIGNED / a given hash), the
 * x-amz-content-sha256 header's value is used as the payload hash and the caller must check the
 * body against it (or verify chunks); otherwise the body's hash is computed here. */
enum sigv4_status sigv4_verify(const struct sigv4_config *cfg, const struct http_request *req,
                               int64_t now, struct sigv4_result *res);

/* The signing key of a secret for date/region/service (spec step 8). */
void sigv4_signing_key(const char *secret, const char *date, size_t date_len, const char *region,
                       size_t region_len, const char *service, size_t service_len, uint8_t out[32]);

/* aws-chunked: one chunk's signature check, fed incrementally. */
struct sigv4_chunk {
    uint8_t key[32];
    char prev[65]; /* previous signature (the seed for the first chunk) */
    char amz_date[17];
    char scope[160];
    void *sha; /* EVP_MD_CTX of the current chunk's data */
};
/* Start from a verified request's result. 0 or HY_ENOMEM. Release with sigv4_chunk_fini. */
int sigv4_chunk_init(struct sigv4_chunk *c, const struct sigv4_result *res);
void sigv4_chunk_fini(struct sigv4_chunk *c);
/* Feed the current chunk's data (any number of calls). */
void sigv4_chunk_update(struct sigv4_chunk *c, const void *data, size_t len);
/* The chunk is complete: does sig_hex (from its "chunk-signature=" extension) match? 0 (and the
 * next chunk chains from it) or HY_EBADMSG. The final zero-length chunk is checked the same way. */
int sigv4_chunk_finish(struct sigv4_chunk *c, const char *sig_hex, size_t sig_len);

#endif
