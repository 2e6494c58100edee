/*
 * s3_stream: PutObject and UploadPart bodies too large to buffer (over the HTTP server's body
 * limit) go straight to disk as they arrive (net/http.h, struct http_body_stream): into the
 * object's fssink temp file, or the part's temp file, with the MD5 and the checksum the request
 * names computed on the way. The handler then checks digests and conditions and commits or
 * drops the file. aws-chunked bodies are decoded on the way (chunk signatures checked as each
 * chunk ends, so a forged chunk stops the writing), their trailer checksum checked at the end.
 * With credentials the head is verified here, before a byte is written, and the body's SHA-256
 * is checked against a signed hex x-amz-content-sha256 at the end.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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
    /* aws-chunked framing, decoded as it arrives (signed chunks checked at each chunk's end) */
    int chunked;
    int cstate; /* CH_* */
    char line[256];
    size_t line_len;
    uint64_t left; /* data bytes left in the current chunk */
    char chunk_sig[65];
    int verify;
    struct sigv4_chunk ck;
    struct s3_chunked_trailer tr;
    int denied;           /* the head failed SigV4: bytes are dropped, nothing is stored */
    EVP_MD_CTX *body_sha; /* SigV4 with a hex x-amz-content-sha256: the body's SHA-256 */
    char want_sha256[65];
};

enum { CH_HEAD, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

/* The object's bytes (decoded): digests, then the file. */
static int store(struct s3_stream *s, const char *p, size_t n)
{
    if (s->verify)
        sigv4_chunk_update(&s->ck, p, n);
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

/* A chunk header line "<hex>[;chunk-signature=<64 hex>]" is complete. */
static int chunk_head(struct s3_stream *s)
{
    const char *l = s->line;
    size_t n = s->line_len, i = 0;
    uint64_t size = 0;
    while (i < n && i < 15 && isxdigit((unsigned char)l[i])) {
        int c = (unsigned char)l[i++];
        size = size * 16 + (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    if (i == 0 || (i < n && l[i] != ';'))
        return HY_EBADMSG;
    if (s->verify) {
        static const char ext[] = ";chunk-signature=";
        if (n - i != sizeof ext - 1 + 64 || strncasecmp(l + i, ext, sizeof ext - 1) != 0)
            return HY_EBADMSG;
        memcpy(s->chunk_sig, l + i + sizeof ext - 1, 64);
    }
    s->left = size;
    if (size)
        s->cstate = CH_DATA;
    else if (s->verify && sigv4_chunk_finish(&s->ck, s->chunk_sig, 64))
        return HY_ECORRUPT; /* the final, empty chunk's signature */
    else
        s->cstate = CH_TRAILER;
    return 0;
}

/* A trailer line: the first x-amz-checksum-* is kept for s3_stream_finish. */
static int chunk_trailer(struct s3_stream *s)
{
    if (s->line_len == 0) {
        s->cstate = CH_DONE;
        return 0;
    }
    const char *colon = memchr(s->line, ':', s->line_len);
    if (!colon)
        return HY_EBADMSG;
    size_t nl = (size_t)(colon - s->line);
    if (!s->tr.name[0] && nl > 15 && nl < sizeof s->tr.name &&
        strncasecmp(s->line, "x-amz-checksum-", 15) == 0) {
        for (size_t k = 0; k < nl; k++)
            s->tr.name[k] = (char)tolower((unsigned char)s->line[k]);
        const char *v = colon + 1;
        size_t vn = s->line_len - nl - 1;
        while (vn && (*v == ' ' || *v == '\t')) {
            v++;
            vn--;
        }
        while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        if (vn >= sizeof s->tr.value)
            return HY_EBADMSG;
        memcpy(s->tr.value, v, vn);
    }
    return 0;
}

/* Decode aws-chunked bytes as they come; any split of the input is fine. */
static int unchunk(struct s3_stream *s, const char *p, size_t n)
{
    while (n && !s->rc) {
        switch (s->cstate) {
        case CH_DATA: {
            size_t k = s->left < n ? (size_t)s->left : n;
            s->rc = store(s, p, k);
            s->left -= k;
            p += k;
            n -= k;
            if (!s->left)
                s->cstate = CH_DATA_END;
            break;
        }
        case CH_HEAD:
        case CH_DATA_END:
        case CH_TRAILER: {
            const char *lf = memchr(p, '\n', n);
            size_t k = lf ? (size_t)(lf - p) + 1 : n;
            if (s->line_len + k > sizeof s->line) {
                s->rc = HY_EBADMSG;
                break;
            }
            memcpy(s->line + s->line_len, p, k);
            s->line_len += k;
            p += k;
            n -= k;
            if (!lf)
                break;
            if (s->line_len < 2 || s->line[s->line_len - 2] != '\r') {
                s->rc = HY_EBADMSG;
                break;
            }
            s->line_len -= 2;
            if (s->cstate == CH_DATA_END) {
                /* The chunk's data ended: an empty line, then its signature decides. */
                if (s->line_len)
                    s->rc = HY_EBADMSG;
                else if (s->verify && sigv4_chunk_finish(&s->ck, s->chunk_sig, 64))
                    s->rc = HY_ECORRUPT;
                else
                    s->cstate = CH_HEAD;
            } else if (s->cstate == CH_HEAD) {
                s->rc = chunk_head(s);
            } else {
                s->rc = chunk_trailer(s);
            }
            s->line_len = 0;
            break;
        }
        default: /* CH_DONE: bytes after the body's end */
            s->rc = HY_EBADMSG;
            break;
        }
    }
    return s->rc;
}

static int stream_write(struct http_body_stream *base, const char *p, size_t n)
{
    struct s3_stream *s = (struct s3_stream *)base;
    if (s->rc || s->denied)
        return s->rc;
    if (s->body_sha)
        EVP_DigestUpdate(s->body_sha, p, n);
    return s->chunked ? unchunk(s, p, n) : store(s, p, n);
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
    EVP_MD_CTX_free(s->body_sha);
    if (s->verify)
        sigv4_chunk_fini(&s->ck);
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
    int chunked = (sha && sha->value_len > 10 && strncmp(sha->value, "STREAMING-", 10) == 0) ||
                  (ce && memmem(ce->value, ce->value_len, "aws-chunked", 11));
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
    st->chunked = chunked;
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
    const struct http_header *trailer = http_request_header(req, "x-amz-trailer");
    if (chunked && trailer) /* the checksum comes after the data: compute what it names */
        st->alg = s3_chunked_sum_alg(trailer->value, trailer->value_len);
    if (st->alg == S3_SUM_SHA1 || st->alg == S3_SUM_SHA256) {
        st->sha = EVP_MD_CTX_new();
        if (!st->sha || EVP_DigestInit_ex(
                            st->sha, st->alg == S3_SUM_SHA1 ? EVP_sha1() : EVP_sha256(), NULL) != 1)
            goto fail;
    }
    st->crc32 = crc32(0L, Z_NULL, 0);
    if (s3->sigv4.creds) {
        /* Verify the head before a byte reaches the disk. A refused request gets a stream that
         * drops its body, so the handler can answer S3's error (it verifies again). */
        struct sigv4_result res;
        if (s3_auth_verify(s3, req, 1, op, t.bucket.data, &res)) {
            st->denied = 1;
            goto out;
        }
        if (res.streaming) {
            if (sigv4_chunk_init(&st->ck, &res))
                goto fail;
            st->verify = 1;
        }
        if (res.content_sha256[0]) {
            memcpy(st->want_sha256, res.content_sha256, sizeof st->want_sha256);
            st->body_sha = EVP_MD_CTX_new();
            if (!st->body_sha || EVP_DigestInit_ex(st->body_sha, EVP_sha256(), NULL) != 1)
                goto fail;
        }
    }
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
    if (s->denied) {
        /* The head failed at open and verified in the handler (a clock edge): refuse. */
        s3_error(r, 403, "AccessDenied", "Access Denied");
        return -1;
    }
    if (s->rc == HY_ECORRUPT) {
        s3_error(r, 403, "SignatureDoesNotMatch",
                 "The request signature we calculated does not match the signature you provided. "
                 "Check your key and signing method.");
        return -1;
    }
    if (s->rc == HY_EBADMSG || (s->chunked && s->cstate != CH_DONE && s->cstate != CH_TRAILER)) {
        s3_error(r, 400, "IncompleteBody", "The aws-chunked body is malformed or incomplete.");
        return -1;
    }
    if (s->rc) {
        s3_error_errno(r, s->rc);
        return -1;
    }
    if (r->auth && r->auth->streaming && !s->verify) {
        s3_error(r, 403, "AccessDenied", "Access Denied"); /* verified here, not at open */
        return -1;
    }
    char dcl[32];
    if (s->chunked && s3_header(r->req, "x-amz-decoded-content-length", dcl, sizeof dcl) &&
        strtoull(dcl, NULL, 10) != s->len) {
        s3_error(r, 400, "IncompleteBody",
                 "You did not provide the number of bytes specified by the "
                 "x-amz-decoded-content-length header.");
        return -1;
    }
    if (r->auth && r->auth->content_sha256[0]) {
        unsigned char h[32];
        char hex[65];
        unsigned hl = 0;
        if (!s->body_sha || EVP_DigestFinal_ex(s->body_sha, h, &hl) != 1 || hl != 32) {
            s3_error(r, 500, "InternalError", "We encountered an internal error.");
            return -1;
        }
        s3_store_hex(h, 32, hex);
        if (strcmp(hex, r->auth->content_sha256) != 0) {
            s3_error(r, 400, "XAmzContentSHA256Mismatch",
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed.");
            return -1;
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(s->md5, d, &dl);
    s3_store_hex(d, 16, etag);
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
        got[gl] = '\0';
        if (s->tr.name[0] && s3_chunked_sum_alg(s->tr.name, strlen(s->tr.name)) == s->alg &&
            strcmp(s->tr.value, got) != 0) {
            s3_error(r, 400, "BadDigest", "The checksum in the trailer did not match the data.");
            return -1;
        }
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
