/*
 * s3_query: query strings, percent coding, bucket/key addressing and the operation table of the
 * S3 front (spec s3-rest-server.md sections 1.2-1.3). Hand-written: the rules are S3's own
 * (sub-resource keys with or without '=', '+' literal in paths but a space in queries, x-id and
 * X-Amz-* ignored), which no URL library in Debian models.
 */
#include <string.h>
#include <strings.h>

#include "api/s3/s3_int.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/mem.h"

int s3_query_decode(const char *in, size_t len, int plus_space, struct buf *out)
{
    size_t old = out->len;
    int rc = buf_reserve(out, len);
    if (rc)
        return rc;
    char *o = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len) {
                buf_truncate(out, old);
                return HY_EBADMSG;
            }
            int a = hex_digit((unsigned char)in[i + 1]), b = hex_digit((unsigned char)in[i + 2]);
            if (a < 0 || b < 0) {
                buf_truncate(out, old);
                return HY_EBADMSG;
            }
            *o++ = (char)(a * 16 + b);
            i += 2;
        } else if (c == '+' && plus_space) {
            *o++ = ' ';
        } else {
            *o++ = c;
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int s3_query_encode(const char *in, size_t len, int keep_slash, struct buf *out)
{
    int rc = buf_reserve(out, len * 3);
    if (rc)
        return rc;
    char *o = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex_upper[c >> 4];
            *o++ = hex_upper[c & 15];
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

void s3_query_fini(struct s3_query *q)
{
    hy_free(q->mem);
    q->mem = NULL;
    q->n = 0;
}

int s3_query_parse(const char *s, size_t len, struct s3_query *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    /* Decoded text is never longer than its source; each name and value gets a NUL. */
    struct buf mem;
    buf_init(&mem, len * 2 + 2 * S3_QUERY_MAX + 16);
    int rc = buf_reserve(&mem, len * 2 + 2 * S3_QUERY_MAX + 8);
    size_t offs[S3_QUERY_MAX][2];
    size_t vlens[S3_QUERY_MAX];
    int hasv[S3_QUERY_MAX];
    size_t n = 0;
    const char *p = s, *end = s + len;
    while (!rc && p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            if (n == S3_QUERY_MAX) {
                rc = HY_E2BIG;
                break;
            }
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *ne = eq ? eq : stop;
            offs[n][0] = mem.len;
            rc = s3_query_decode(p, (size_t)(ne - p), 1, &mem);
            if (!rc)
                rc = buf_append(&mem, "", 1);
            offs[n][1] = mem.len;
            size_t vstart = mem.len;
            if (!rc && eq)
                rc = s3_query_decode(eq + 1, (size_t)(stop - eq - 1), 1, &mem);
            vlens[n] = mem.len - vstart;
            if (!rc)
                rc = buf_append(&mem, "", 1);
            hasv[n] = eq != NULL;
            n++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    if (rc) {
        buf_fini(&mem);
        return rc;
    }
    out->mem = mem.data; /* the buf's storage is ours now; never reallocated again */
    for (size_t i = 0; i < n; i++) {
        out->p[i].name = out->mem + offs[i][0];
        out->p[i].value = out->mem + offs[i][1];
        out->p[i].value_len = vlens[i];
        out->p[i].has_value = hasv[i];
    }
    out->n = n;
    return 0;
}

const struct s3_param *s3_query_get(const struct s3_query *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->p[i].name, name) == 0)
            return &q->p[i];
    return NULL;
}

void s3_target_init(struct s3_target *t)
{
    buf_init(&t->bucket, 255);
    buf_init(&t->key, 3 * S3_KEY_MAX); /* checked against S3_KEY_MAX after decoding */
    t->vhost = 0;
}

void s3_target_fini(struct s3_target *t)
{
    buf_fini(&t->bucket);
    buf_fini(&t->key);
}

int s3_target_parse(const char *path, size_t len, const char *host, size_t host_len,
                    const char *domain, struct s3_target *t)
{
    buf_reset(&t->bucket);
    buf_reset(&t->key);
    t->vhost = 0;
    if (len == 0 || path[0] != '/')
        return HY_EBADMSG;
    /* Host without its port; "<bucket>.<domain>" is virtual-host style. */
    if (host && domain && *domain) {
        size_t hl = host_len;
        if (hl && host[0] != '[') {
            const char *colon = memchr(host, ':', hl);
            if (colon)
                hl = (size_t)(colon - host);
        }
        size_t dl = strlen(domain);
        if (hl > dl + 1 && host[hl - dl - 1] == '.' &&
            strncasecmp(host + hl - dl, domain, dl) == 0 && s3_store_bucket_ok(host, hl - dl - 1)) {
            t->vhost = 1;
            if (buf_append(&t->bucket, host, hl - dl - 1))
                return HY_E2BIG;
            int rc = s3_query_decode(path + 1, len - 1, 0, &t->key);
            return rc;
        }
    }
    const char *p = path + 1, *end = path + len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *be = slash ? slash : end;
    int rc = s3_query_decode(p, (size_t)(be - p), 0, &t->bucket);
    if (rc)
        return rc;
    if (slash)
        rc = s3_query_decode(slash + 1, (size_t)(end - slash - 1), 0, &t->key);
    return rc;
}

static int has(const struct s3_query *q, const char *name)
{
    return s3_query_get(q, name) != NULL;
}

/* Sub-resources S3 has and we do not: answered 501 rather than served as a list or a GET. */
static const char *const unimplemented[] = {
    "acl",
    "cors",
    "policy",
    "lifecycle",
    "versioning",
    "encryption",
    "notification",
    "versions",
    "object-lock",
    "ownershipControls",
    "website",
    "logging",
    "replication",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "publicAccessBlock",
    "requestPayment",
    "retention",
    "legal-hold",
    "attributes",
    "restore",
    "select",
    "torrent",
    "renameObject",
    "policyStatus",
    "intelligent-tiering",
    "session",
};

static int method_is(const char *m, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(m, want, n) == 0;
}

enum s3_op s3_query_op(const char *method, size_t mlen, int has_bucket, int has_key,
                       const struct s3_query *q, int has_copy_source)
{
    int get = method_is(method, mlen, "GET"), head = method_is(method, mlen, "HEAD");
    int put = method_is(method, mlen, "PUT"), post = method_is(method, mlen, "POST");
    int del = method_is(method, mlen, "DELETE");
    for (size_t i = 0; i < sizeof unimplemented / sizeof unimplemented[0]; i++)
        if (has(q, unimplemented[i]))
            return S3_OP_NOT_IMPLEMENTED;
    if (!has_bucket) {
        if (get)
            return S3_OP_LIST_BUCKETS;
        return S3_OP_NONE;
    }
    if (has(q, "tagging")) {
        if (get)
            return S3_OP_GET_TAGGING;
        if (put || del)
            return S3_OP_PUT_TAGGING;
        return S3_OP_NONE;
    }
    if (!has_key) {
        if (put)
            return S3_OP_CREATE_BUCKET;
        if (head)
            return S3_OP_HEAD_BUCKET;
        if (del)
            return S3_OP_DELETE_BUCKET;
        if (post)
            return has(q, "delete") ? S3_OP_DELETE_OBJECTS : S3_OP_NONE;
        if (get) {
            if (has(q, "location"))
                return S3_OP_GET_BUCKET_LOCATION;
            if (has(q, "uploads"))
                return S3_OP_LIST_UPLOADS;
            const struct s3_param *lt = s3_query_get(q, "list-type");
            if (lt && strcmp(lt->value, "2") == 0)
                return S3_OP_LIST_OBJECTS_V2;
            return S3_OP_LIST_OBJECTS;
        }
        return S3_OP_NONE;
    }
    if (put) {
        if (has(q, "partNumber") && has(q, "uploadId"))
            return has_copy_source ? S3_OP_UPLOAD_PART_COPY : S3_OP_UPLOAD_PART;
        return has_copy_source ? S3_OP_COPY_OBJECT : S3_OP_PUT_OBJECT;
    }
    if (post) {
        if (has(q, "uploads"))
            return S3_OP_CREATE_UPLOAD;
        if (has(q, "uploadId"))
            return S3_OP_COMPLETE_UPLOAD;
        return S3_OP_NONE;
    }
    if (get || head) {
        if (has(q, "uploadId"))
            return get ? S3_OP_LIST_PARTS : S3_OP_NONE;
        return get ? S3_OP_GET_OBJECT : S3_OP_HEAD_OBJECT;
    }
    if (del)
        return has(q, "uploadId") ? S3_OP_ABORT_UPLOAD : S3_OP_DELETE_OBJECT;
    return S3_OP_NONE;
}

const char *s3_query_op_name(enum s3_op op)
{
    static const char *const names[] = {
        "None",
        "NotImplemented",
        "ListBuckets",
        "CreateBucket",
        "HeadBucket",
        "DeleteBucket",
        "GetBucketLocation",
        "ListObjectsV2",
        "ListObjects",
        "ListMultipartUploads",
        "DeleteObjects",
        "GetTagging",
        "PutTagging",
        "UploadPart",
        "UploadPartCopy",
        "CopyObject",
        "PutObject",
        "CreateMultipartUpload",
        "CompleteMultipartUpload",
        "ListParts",
        "AbortMultipartUpload",
        "GetObject",
        "HeadObject",
        "DeleteObject",
    };
    return (size_t)op < sizeof names / sizeof names[0] ? names[op] : "None";
}
