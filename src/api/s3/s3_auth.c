/*
 * s3_auth: SigV4 in front of the S3 REST front when --credentials is given (auth/sigv4.h does
 * the cryptography; this file owns S3's side): which requests must be signed, the per-key
 * "Buckets" and "Operations" ("s3:<OperationName>", e.g. "s3:GetObject") of auth/creds.h, and
 * S3's XML error codes for each refusal:
 *   no signature                         403 AccessDenied
 *   malformed Authorization / scope      400 AuthorizationHeaderMalformed
 *   malformed presigned parameters       400 AuthorizationQueryParametersError
 *   unknown access key                   403 InvalidAccessKeyId
 *   session token missing or wrong       400 InvalidToken
 *   wrong signature (or chunk signature) 403 SignatureDoesNotMatch
 *   X-Amz-Date outside the skew window   403 RequestTimeTooSkewed
 *   presigned URL past its expiry        403 AccessDenied "Request has expired"
 *   x-amz-content-sha256 != the body     400 XAmzContentSHA256Mismatch
 *   bucket or operation not allowed      403 AccessDenied
 * Each refusal is logged (mod s3auth) with the request id, reason and key id.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/s3/s3_int.h"
#include "base/log.h"

static const char *const reasons[] = {
    "ok",        "missing", "incomplete",      "unknown_key",        "bad_token", "bad_signature",
    "bad_scope", "expired", "presign_expired", "bad_content_sha256", "nomem",
};

static void deny(struct s3_reply *r, int status, const char *code, const char *reason,
                 const char *akid, const char *msg)
{
    LOG_INFO("s3auth", "request denied", "request_id=%s reason=%s akid=%s code=%s", r->request_id,
             reason, akid && *akid ? akid : "-", code);
    s3_error(r, status, code, msg);
}

/* Signature Version 2 (Authorization: AWS ..., or ?AWSAccessKeyId=...&Signature=...), which
 * S3 refuses in every region opened since 2014: named as such instead of "missing". */
static int sigv2(const struct http_request *req)
{
    const struct http_header *a = http_request_header(req, "authorization");
    if (a && a->value_len > 4 && memcmp(a->value, "AWS ", 4) == 0)
        return 1;
    const char *q = memchr(req->path, '?', req->path_len);
    if (!q)
        return 0;
    size_t n = req->path_len - (size_t)(q - req->path);
    return memmem(q, n, "AWSAccessKeyId=", 15) && memmem(q, n, "Signature=", 10);
}

void s3_auth_refuse(struct s3_reply *r, const struct sigv4_result *res)
{
    enum sigv4_status st = res->status;
    const char *reason = (size_t)st < sizeof reasons / sizeof reasons[0] ? reasons[st] : "other";
    const char *akid = res->cred ? res->cred->access_key_id : NULL;
    switch (st) {
    case SIGV4_OK:
        break;
    case SIGV4_MISSING:
        if (sigv2(r->req))
            deny(r, 400, "InvalidRequest", "sigv2", akid,
                 "The authorization mechanism you have provided is not supported. Please use "
                 "AWS4-HMAC-SHA256.");
        else
            deny(r, 403, "AccessDenied", reason, akid, "Access Denied");
        break;
    case SIGV4_INCOMPLETE:
    case SIGV4_BAD_SCOPE:
        if (res->presigned)
            deny(r, 400, "AuthorizationQueryParametersError", reason, akid, res->message);
        else
            deny(r, 400, "AuthorizationHeaderMalformed", reason, akid, res->message);
        break;
    case SIGV4_UNKNOWN_KEY:
        deny(r, 403, "InvalidAccessKeyId", reason, akid,
             "The AWS Access Key Id you provided does not exist in our records.");
        break;
    case SIGV4_BAD_TOKEN:
        deny(r, 400, "InvalidToken", reason, akid,
             "The provided token is malformed or otherwise invalid.");
        break;
    case SIGV4_BAD_SIGNATURE:
        deny(r, 403, "SignatureDoesNotMatch", reason, akid,
             "The request signature we calculated does not match the signature you provided. "
             "Check your key and signing method.");
        break;
    case SIGV4_EXPIRED:
        deny(r, 403, "RequestTimeTooSkewed", reason, akid,
             "The difference between the request time and the current time is too large.");
        break;
    case SIGV4_PRESIGN_EXPIRED:
        deny(r, 403, "AccessDenied", reason, akid, "Request has expired");
        break;
    case SIGV4_BAD_CONTENT_SHA256:
        deny(r, 400, "XAmzContentSHA256Mismatch", reason, akid,
             "The provided 'x-amz-content-sha256' header does not match what was computed.");
        break;
    case SIGV4_NOMEM:
        deny(r, 500, "InternalError", reason, akid, "We encountered an internal error.");
        break;
    }
}

/* The bucket named by x-amz-copy-source ("[/]bucket/key[?versionId=]", %-encoded) into out. */
static int copy_source_bucket(const struct http_request *req, char *out, size_t cap)
{
    char v[2048];
    if (!s3_header(req, "x-amz-copy-source", v, sizeof v))
        return 0;
    const char *p = v[0] == '/' ? v + 1 : v;
    size_t n = strcspn(p, "/?");
    struct buf b;
    buf_init(&b, cap - 1);
    int rc = s3_query_decode(p, n, 0, &b);
    if (!rc)
        snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
    buf_fini(&b);
    return rc ? -1 : 1;
}

const char *s3_auth_authorize(const struct creds_entry *e, const struct http_request *req,
                              enum s3_op op, const char *bucket)
{
    char name[64];
    snprintf(name, sizeof name, "s3:%s", s3_query_op_name(op));
    if (!creds_allows_operation(e, name, strlen(name)))
        return "operation_not_allowed";
    if (*bucket && !creds_allows_bucket(e, bucket, strlen(bucket)))
        return "bucket_not_allowed";
    char src[256];
    int c = copy_source_bucket(req, src, sizeof src);
    if (c < 0 || (c > 0 && !creds_allows_bucket(e, src, strlen(src))))
        return "bucket_not_allowed";
    return NULL;
}

int s3_auth_verify(const struct s3 *s, const struct http_request *req, int body_later,
                   enum s3_op op, const char *bucket, struct sigv4_result *res)
{
    struct sigv4_config cfg = s->sigv4;
    cfg.body_later = body_later;
    if (sigv4_verify(&cfg, req, (int64_t)time(NULL), res) != SIGV4_OK)
        return -1;
    return s3_auth_authorize(res->cred, req, op, bucket) ? -1 : 0;
}

int s3_auth_check(const struct s3 *s, struct s3_reply *r, enum s3_op op, const char *bucket,
                  struct sigv4_result *res)
{
    struct sigv4_config cfg = s->sigv4;
    cfg.body_later = r->stream != NULL;
    if (sigv4_verify(&cfg, r->req, (int64_t)time(NULL), res) != SIGV4_OK) {
        s3_auth_refuse(r, res);
        return -1;
    }
    const char *why = s3_auth_authorize(res->cred, r->req, op, bucket);
    if (why) {
        deny(r, 403, "AccessDenied", why, res->cred->access_key_id, "Access Denied");
        return -1;
    }
    r->auth = res;
    return 0;
}
