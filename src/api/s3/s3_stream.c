/*
 * s3_stream: PutObject and UploadPart bodies too large to buffer (over the HTTP server's body
 * limit) go straight to disk as they arrive (net/http.h, struct http_body_stream): into the
 * object's fssink temp file, or the part's temp file, with the MD5 and the checksum the request
 * names computed on the way. The handler then checks digests and conditions and commits or
 * drops the file. aws-chunked bodies are not streamed (they stay within the body limit).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "api/s3/s3.h"
#include "api/s3/s3_int.h"
#include "base/base64.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/mem.h"
#include "net/http.h"
#include "sink/fssink.h"

static _Atomic unsigned long part_tmp_counter;

struct s3_stream {
    struct http_body_stream base;
    int rc;                  /* first write error */
    struct fssink_writer *w; /* PutObject */
    int fd;                  /* UploadPart: the temp part file */
    char tmp[4096];
    EVP_MD_CTX *md5;
    EVP_MD_CTX *sha; /* sha1 / sha256 when the request names one */
    enum s3_sum alg;
    uLong crc32;
    uint32_t crc32c;
    uint64_t crc64;
    uint64_t len;
};

static int stream_write(struct http_body_stream *base, const char *p, size_t n)
{
    struct s3_stream *s = (struct s3_stream *)base;
    if (s->rc)
        return s->rc;
    EVP_DigestUpdate(s->md5, p, n);
    switch (s->alg) {
    case S3_SUM_CRC32:
        s->crc32 = crc32(s->crc32, (const Bytef *)p, (uInt)n);
        break;
    case S3_SUM_CRC32C:
        s->crc32c = crc32c(s->crc32c, p, n);
        break;
    case S3_SUM_CRC64NVME:
        s->crc64 = s3_chunked_crc64nvme(s->crc64, p, n);
        break;
    case S3_SUM_SHA1:
    case S3_SUM_SHA256:
        EVP_DigestUpdate(s->sha, p, n);
        break;
    case S3_SUM_NONE:
        break;
    }
    s->len += n;
    if (s->w) {
        struct iovec v = {(void *)p, n};
        s->rc = fssink_write(s->w, &v, 1);
    } else {
        size_t done = 0;
        while (done < n) {
            ssize_t k = write(s->fd, p + done, n - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                s->rc = -errno;
                break;
            }
            done += (size_t)k;
        }
    }
    return s->rc;
}

static void stream_free(struct s3_stream *s)
{
    if (s->w)
        fssink_abort(s->w);
    if (s->fd >= 0) {
        close(s->fd);
        unlink(s->tmp);
    }
    EVP_MD_CTX_free(s->md5);
    EVP_MD_CTX_free(s->sha);
    hy_free(s);
}

static void stream_abort(struct http_body_stream *base)
{
    stream_free((struct s3_stream *)base);
}

static int is_json_protocol(const struct http_request *req)
{
    const struct http_header *ct = http_request_header(req, "content-type");
    return http_request_header(req, "x-amz-target") ||
           (ct && ct->value_len >= 22 && strncasecmp(ct->value, "application/x-amz-json", 22) == 0);
}

struct http_body_stream *s3_stream_open(const struct http_request *req, uint64_t len, void *ud)
{
    struct s3 *s3 = ud;
    (void)len;
    if (req->method_len != 3 || memcmp(req->method, "PUT", 3) != 0 || is_json_protocol(req) ||
        (req->path_len >= 10 && memcmp(req->path, "/_hydrant/", 10) == 0) ||
        http_request_header(req, "x-amz-copy-source"))
        return NULL;
    const struct http_header *sha = http_request_header(req, "x-amz-content-sha256");
    const struct http_header *ce = http_request_header(req, "content-encoding");
    if ((sha && sha->value_len > 10 && strncmp(sha->value, "STREAMING-", 10) == 0) ||
        (ce && memmem(ce->value, ce->value_len, "aws-chunked", 11)))
        return NULL;
    const char *qm = memchr(req->path, '?', req->path_len);
    size_t plen = qm ? (size_t)(qm - req->path) : req->path_len;
    struct s3_query q;
    struct s3_target t;
    s3_target_init(&t);
    struct s3_stream *st = NULL;
    const struct http_header *host = http_request_header(req, "host");
    if (s3_query_parse(qm ? qm + 1 : "", qm ? req->path_len - plen - 1 : 0, &q) ||
        s3_target_parse(req->path, plen, host ? host->value : NULL, host ? host->value_len : 0,
                        s3->domain, &t) ||
        !t.bucket.len || !t.key.len || !s3_store_bucket_ok(t.bucket.data, t.bucket.len) ||
        !s3_store_key_ok(t.key.data, t.key.len) || !s3_store_bucket_exists(s3, t.bucket.data))
        goto out;
    enum s3_op op = s3_query_op(req->method, req->method_len, 1, 1, &q, 0);
    if (op != S3_OP_PUT_OBJECT && op != S3_OP_UPLOAD_PART)
        goto out;
    st = hy_calloc(1, sizeof *st);
    if (!st)
        goto out;
    st->fd = -1;
    st->base.write = stream_write;
    st->base.abort = stream_abort;
    st->md5 = EVP_MD_CTX_new();
    if (!st->md5 || EVP_DigestInit_ex(st->md5, EVP_md5(), NULL) != 1)
        goto fail;
    for (size_t i = 0; i < req->num_headers; i++) {
        enum s3_sum a = s3_chunked_sum_alg(req->headers[i].name, req->headers[i].name_len);
        if (a != S3_SUM_NONE)
            st->alg = a;
    }
    if (st->alg == S3_SUM_SHA1 || st->alg == S3_SUM_SHA256) {
        st->sha = EVP_MD_CTX_new();
        if (!st->sha || EVP_DigestInit_ex(
                            st->sha, st->alg == S3_SUM_SHA1 ? EVP_sha1() : EVP_sha256(), NULL) != 1)
            goto fail;
    }
    st->crc32 = crc32(0L, Z_NULL, 0);
    if (op == S3_OP_PUT_OBJECT) {
        if (fssink_open(s3->root, t.bucket.data, t.key.data, &st->w))
            goto fail;
    } else {
        /* The part's temp file sits in its upload's directory (renamed at the end). */
        const struct s3_param *id = s3_query_get(&q, "uploadId");
        const struct s3_param *pn = s3_query_get(&q, "partNumber");
        struct stat sb;
        int n = snprintf(st->tmp, sizeof st->tmp, "%s/" S3_MPU_DIR "/%.*s", s3->root,
                         (int)(id->value_len < 64 ? id->value_len : 64), id->value);
        if (n < 0 || (size_t)n >= sizeof st->tmp || id->value_len != 32 ||
            memchr(id->value, '/', id->value_len) || memchr(id->value, '.', id->value_len) ||
            stat(st->tmp, &sb) != 0 || pn->value_len > 5 ||
            strspn(pn->value, "0123456789") != pn->value_len)
            goto fail;
        unsigned long k = atomic_fetch_add(&part_tmp_counter, 1);
        snprintf(st->tmp + n, sizeof st->tmp - (size_t)n, "/%.*s.tmp.%lu", (int)pn->value_len,
                 pn->value, k);
        st->fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (st->fd < 0)
            goto fail;
    }
    goto out;
fail:
    stream_free(st);
    st = NULL;
out:
    s3_query_fini(&q);
    s3_target_fini(&t);
    return st ? &st->base : NULL;
}

int s3_stream_finish(struct s3_reply *r, struct http_body_stream *base, char etag[33])
{
    struct s3_stream *s = (struct s3_stream *)base;
    if (s->rc) {
        s3_error_errno(r, s->rc);
        return -1;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(s->md5, d, &dl);
    hex_encode(d, 16, etag);
    const struct http_header *md5 = http_request_header(r->req, "content-md5");
    if (md5) {
        uint8_t want[BASE64_DECODED_MAX(64)];
        size_t wl = 0;
        if (md5->value_len > 64 || base64_decode(md5->value, md5->value_len, want, &wl) ||
            wl != 16) {
            s3_error(r, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
            return -1;
        }
        if (memcmp(want, d, 16) != 0) {
            s3_error(r, 400, "BadDigest",
                     "The Content-MD5 you specified did not match what we received.");
            return -1;
        }
    }
    if (s->alg != S3_SUM_NONE) {
        uint8_t raw[32];
        size_t n = 0;
        if (s->alg == S3_SUM_CRC32 || s->alg == S3_SUM_CRC32C) {
            uint32_t c = s->alg == S3_SUM_CRC32 ? (uint32_t)s->crc32 : s->crc32c;
            for (int i = 0; i < 4; i++)
                raw[i] = (uint8_t)(c >> (24 - 8 * i));
            n = 4;
        } else if (s->alg == S3_SUM_CRC64NVME) {
            for (int i = 0; i < 8; i++)
                raw[i] = (uint8_t)(s->crc64 >> (56 - 8 * i));
            n = 8;
        } else {
            unsigned sl = 0;
            EVP_DigestFinal_ex(s->sha, raw, &sl);
            n = sl;
        }
        char got[64];
        size_t gl = base64_encode(raw, n, got);
        for (size_t i = 0; i < r->req->num_headers; i++) {
            const struct http_header *h = &r->req->headers[i];
            if (s3_chunked_sum_alg(h->name, h->name_len) == s->alg &&
                (h->value_len != gl || memcmp(h->value, got, gl) != 0)) {
                s3_error(r, 400, "BadDigest",
                         "The x-amz-checksum header you specified did not "
                         "match what we received.");
                return -1;
            }
        }
    }
    return 0;
}

int s3_stream_commit_object(struct http_body_stream *base, const struct s3_meta *m)
{
    struct s3_stream *s = (struct s3_stream *)base;
    struct buf blob;
    buf_init(&blob, 4 * S3_META_MAX);
    int rc = s3_meta_encode(m, &blob);
    if (!rc)
        rc = fssink_set_xattr(s->w, S3_META_XATTR, blob.data, blob.len);
    buf_fini(&blob);
    struct fssink_writer *w = s->w;
    s->w = NULL;
    if (rc)
        fssink_abort(w);
    else
        rc = fssink_commit(w);
    stream_free(s);
    return rc;
}

int s3_stream_commit_part(struct http_body_stream *base, const char *dst, const char *etag)
{
    struct s3_stream *s = (struct s3_stream *)base;
    char blob[64];
    int bl = snprintf(blob, sizeof blob, "%s\n", etag);
    int rc = 0;
    if (fsetxattr(s->fd, S3_META_XATTR, blob, (size_t)bl, 0) < 0 || fdatasync(s->fd) < 0)
        rc = -errno;
    if (!rc && rename(s->tmp, dst) < 0)
        rc = -errno;
    stream_free(s); /* after a rename the unlink of tmp finds nothing */
    return rc;
}

void s3_stream_drop(struct http_body_stream *base)
{
    stream_free((struct s3_stream *)base);
}
