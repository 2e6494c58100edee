/*
 * s3: request dispatch, replies and the bucket and object operations of the S3 front (s3.h).
 * Multipart uploads are in s3_multipart.c. XML is written by hand (s3_xml.c): the shapes are
 * few and fixed, and the escaping rules (S3's, including encoding-type=url) are what matters.
 */
#include "api/s3/s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "api/s3/s3_int.h"
#include "base/base64.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http.h"
#include "sink/fssink.h"

#define PATH_CAP 8192
#define XML_MAX (64u << 20)
#define HDR_MAX (16u << 10)
/* GET answers are built in memory (http.c has no streamed replies): bound one below the HTTP
 * server's largest response. Ranged GETs (aws-cli, s3transfer, DuckDB) stay far below it. */
#define GET_MAX ((uint64_t)240 << 20)
#define LIST_MAX 1000
#define DELETE_MAX 1000

static _Atomic uint64_t request_counter;

int s3_new(const struct s3_config *cfg, struct s3 **out)
{
    struct s3 *s = hy_calloc(1, sizeof *s);
    if (!s)
        return HY_ENOMEM;
    s->root = hy_strdup(cfg->root);
    s->region = hy_strdup(cfg->region ? cfg->region : "us-east-1");
    s->domain = hy_strdup(cfg->domain ? cfg->domain : "localhost");
    if (!s->root || !s->region || !s->domain) {
        s3_free(s);
        return HY_ENOMEM;
    }
    s->sigv4 =
        (struct sigv4_config){.creds = cfg->creds, .region = s->region, .service = "s3", .s3 = 1};
    *out = s;
    return 0;
}

void s3_free(struct s3 *s)
{
    if (!s)
        return;
    hy_free(s->root);
    hy_free(s->region);
    hy_free(s->domain);
    hy_free(s);
}

/* ---- replies ---- */

static int common_headers(struct s3_reply *r, struct buf *h)
{
    return buf_printf(h, "x-amz-request-id: %s\r\nx-amz-id-2: %s\r\nServer: hydrant\r\n",
                      r->request_id, r->request_id);
}

void s3_error(struct s3_reply *r, int status, const char *code, const char *message)
{
    struct buf h, b;
    buf_init(&h, HDR_MAX);
    buf_init(&b, 64 * 1024);
    common_headers(r, &h);
    if (r->head) {
        /* HEAD answers carry no body; botocore takes the status as the code. */
        http_respond(r->ex, status, h.data, NULL, 0);
    } else {
        buf_append_str(&h, "Content-Type: application/xml\r\n");
        buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        s3_xml_elem(&b, "Code", code, strlen(code));
        s3_xml_elem(&b, "Message", message, strlen(message));
        if (r->resource)
            s3_xml_elem(&b, "Resource", r->resource, strlen(r->resource));
        s3_xml_elem(&b, "RequestId", r->request_id, strlen(r->request_id));
        buf_append_str(&b, "</Error>");
        http_respond(r->ex, status, h.data, b.data, b.len);
    }
    buf_fini(&h);
    buf_fini(&b);
}

void s3_reply_xml(struct s3_reply *r, int status, struct buf *b)
{
    struct buf h, out;
    buf_init(&h, HDR_MAX);
    buf_init(&out, XML_MAX + 128);
    common_headers(r, &h);
    buf_append_str(&h, "Content-Type: application/xml\r\n");
    if (buf_append_str(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") ||
        buf_append(&out, b->data ? b->data : "", b->len))
        s3_error(r, 500, "InternalError", "The reply could not be built.");
    else
        http_respond(r->ex, status, h.data, out.data, out.len);
    buf_fini(&h);
    buf_fini(&out);
}

void s3_reply_empty(struct s3_reply *r, int status, const char *extra)
{
    struct buf h;
    buf_init(&h, HDR_MAX);
    common_headers(r, &h);
    if (extra)
        buf_append_str(&h, extra);
    http_respond(r->ex, status, h.data, NULL, 0);
    buf_fini(&h);
}

void s3_error_errno(struct s3_reply *r, int rc)
{
    switch (rc) {
    case -ENOTDIR:
    case -EEXIST:
        s3_error(r, 409, "ObjectParentIsFile",
                 "A key on the path of this key is an object: a key and a key below it (a and "
                 "a/b) cannot both exist here.");
        break;
    case -EISDIR:
        s3_error(r, 409, "ExistingObjectIsDirectory",
                 "Keys below this key exist: a key and a key below it (a and a/b) cannot both "
                 "exist here.");
        break;
    case -ENAMETOOLONG:
    case HY_E2BIG:
        s3_error(r, 400, "KeyTooLongError", "Your key is too long.");
        break;
    case -ENOSPC:
    case -EDQUOT:
        s3_error(r, 503, "ServiceUnavailable", "The disk is full.");
        break;
    case HY_ENOMEM:
        s3_error(r, 503, "SlowDown", "Please reduce your request rate.");
        break;
    default:
        LOG_WARN("s3", "storage error", "error=%s", hy_errname(rc));
        s3_error(r, 500, "InternalError", "We encountered an internal error. Please try again.");
    }
}

int s3_header(const struct http_request *req, const char *name, char *out, size_t cap)
{
    const struct http_header *h = http_request_header(req, name);
    if (!h || cap == 0)
        return 0;
    size_t n = h->value_len < cap - 1 ? h->value_len : cap - 1;
    memcpy(out, h->value, n);
    out[n] = '\0';
    return 1;
}

static int header_is(const struct http_header *h, const char *name)
{
    return strlen(name) == h->name_len && strncasecmp(h->name, name, h->name_len) == 0;
}

/* ---- bodies, checksums, metadata ---- */

static int contains_token(const char *v, size_t n, const char *tok)
{
    size_t k = strlen(tok);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(v + i, tok, k) == 0)
            return 1;
    return 0;
}

int s3_body_get(struct s3_reply *r, struct s3_body *b)
{
    const struct http_request *req = r->req;
    b->data = req->body ? req->body : "";
    b->len = req->body_len;
    buf_init(&b->decoded, req->body_len + 1);
    const struct http_header *sha = http_request_header(req, "x-amz-content-sha256");
    const struct http_header *ce = http_request_header(req, "content-encoding");
    int chunked = (sha && sha->value_len > 10 && strncmp(sha->value, "STREAMING-", 10) == 0) ||
                  (ce && contains_token(ce->value, ce->value_len, "aws-chunked"));
    if (chunked) {
        struct s3_chunked_trailer tr;
        const char *why = "";
        struct sigv4_chunk sig;
        int verify = r->auth && r->auth->streaming;
        if (verify && sigv4_chunk_init(&sig, r->auth)) {
            s3_error(r, 500, "InternalError", "We encountered an internal error.");
            return -1;
        }
        int rc = s3_chunked_decode(b->data, b->len, &b->decoded, &tr, verify ? &sig : NULL, &why);
        if (verify)
            sigv4_chunk_fini(&sig);
        if (rc == HY_ECORRUPT) {
            LOG_INFO("s3auth", "request denied", "request_id=%s reason=bad_chunk_signature akid=%s",
                     r->request_id, r->auth->cred->access_key_id);
            s3_error(r, 403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your key and signing method.");
            return -1;
        }
        if (rc) {
            s3_error(r, 400, "IncompleteBody", why);
            return -1;
        }
        b->data = b->decoded.data ? b->decoded.data : "";
        b->len = b->decoded.len;
        char dl[32];
        if (s3_header(req, "x-amz-decoded-content-length", dl, sizeof dl) &&
            strtoull(dl, NULL, 10) != b->len) {
            s3_error(r, 400, "IncompleteBody",
                     "You did not provide the number of bytes specified by the "
                     "x-amz-decoded-content-length header.");
            return -1;
        }
        if (tr.name[0]) {
            enum s3_sum alg = s3_chunked_sum_alg(tr.name, strlen(tr.name));
            char got[64];
            if (alg != S3_SUM_NONE) {
                s3_chunked_sum_b64(alg, b->data, b->len, got);
                if (strcmp(got, tr.value) != 0) {
                    s3_error(r, 400, "BadDigest",
                             "The checksum in the trailer did not match the data.");
                    return -1;
                }
            }
        }
    }
    /* Flexible checksums in headers: verify each algorithm we know; others pass. */
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        enum s3_sum alg = s3_chunked_sum_alg(h->name, h->name_len);
        if (alg == S3_SUM_NONE)
            continue;
        char got[64];
        size_t gl = s3_chunked_sum_b64(alg, b->data, b->len, got);
        if (gl != h->value_len || memcmp(got, h->value, gl) != 0) {
            s3_error(r, 400, "BadDigest",
                     "The x-amz-checksum header you specified did not match what we received.");
            return -1;
        }
    }
    const struct http_header *md5 = http_request_header(req, "content-md5");
    if (md5) {
        uint8_t d[BASE64_DECODED_MAX(64)];
        size_t dl = 0;
        if (md5->value_len > 64 || base64_decode(md5->value, md5->value_len, d, &dl) || dl != 16) {
            s3_error(r, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
            return -1;
        }
        unsigned char got[16];
        s3_store_md5(b->data, b->len, got);
        if (memcmp(got, d, 16) != 0) {
            s3_error(r, 400, "BadDigest",
                     "The Content-MD5 you specified did not match what we received.");
            return -1;
        }
    }
    return 0;
}

void s3_body_fini(struct s3_body *b)
{
    buf_fini(&b->decoded);
}

/* Headers an object keeps and replays on GET/HEAD. */
static const char *const kept_headers[] = {"Content-Type",     "Content-Disposition",
                                           "Content-Language", "Cache-Control",
                                           "Expires",          "Content-Encoding"};

int s3_meta_from_request(struct s3_reply *r, struct s3_meta *m)
{
    const struct http_request *req = r->req;
    buf_reset(&m->headers);
    int rc = 0;
    for (size_t i = 0; !rc && i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len > 11 && strncasecmp(h->name, "x-amz-meta-", 11) == 0) {
            /* S3 lower-cases user metadata names. */
            rc = buf_append_str(&m->headers, "x-amz-meta-");
            for (size_t k = 11; !rc && k < h->name_len; k++) {
                char c = h->name[k];
                c = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
                rc = buf_append(&m->headers, &c, 1);
            }
            if (!rc)
                rc = buf_printf(&m->headers, ": %.*s\r\n", (int)h->value_len, h->value);
            continue;
        }
        for (size_t k = 0; k < sizeof kept_headers / sizeof kept_headers[0]; k++) {
            if (!header_is(h, kept_headers[k]))
                continue;
            const char *v = h->value;
            size_t vn = h->value_len;
            if (k == 5) {
                /* aws-chunked is framing, not the object's encoding: keep what remains. */
                if (contains_token(v, vn, "aws-chunked")) {
                    const char *comma = memchr(v, ',', vn);
                    if (!comma)
                        break;
                    vn -= (size_t)(comma + 1 - v);
                    v = comma + 1;
                    while (vn && *v == ' ') {
                        v++;
                        vn--;
                    }
                    if (!vn)
                        break;
                }
            }
            rc = buf_printf(&m->headers, "%s: %.*s\r\n", kept_headers[k], (int)vn, v);
        }
    }
    if (rc || m->headers.len > S3_META_MAX) {
        s3_error(r, 400, "MetadataTooLarge",
                 "Your metadata headers exceed the maximum allowed metadata size.");
        return -1;
    }
    return 0;
}

static void make_etag_header(struct buf *h, const char *etag)
{
    buf_printf(h, "ETag: \"%s\"\r\n", etag);
}

/* ---- buckets ---- */

static int64_t bucket_created(const char *path)
{
    struct stat st;
    char v[32];
    ssize_t n = getxattr(path, S3_META_XATTR, v, sizeof v - 1);
    if (n > 0) {
        v[n] = '\0';
        return strtoll(v, NULL, 10);
    }
    return stat(path, &st) == 0 ? (int64_t)st.st_mtime : 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_buckets(struct s3 *s, struct s3_reply *r)
{
    DIR *d = opendir(s->root);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!s3_store_bucket_ok(e->d_name, strlen(e->d_name)))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = hy_realloc(names, cap * sizeof *v);
            if (!v)
                break;
            names = v;
        }
        names[n] = hy_strdup(e->d_name);
        if (names[n])
            n++;
    }
    if (d)
        closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    struct buf b, p;
    buf_init(&b, XML_MAX);
    buf_init(&p, PATH_CAP);
    buf_append_str(&b, "<ListAllMyBucketsResult xmlns=\"" S3_XMLNS "\"><Owner><ID>hydrant</ID>"
                       "<DisplayName>hydrant</DisplayName></Owner><Buckets>");
    for (size_t i = 0; i < n; i++) {
        char t[40];
        buf_reset(&p);
        s3_store_bucket_path(s, names[i], &p);
        s3_xml_time(bucket_created(p.data), t, sizeof t);
        buf_printf(&b, "<Bucket><Name>%s</Name><CreationDate>%s</CreationDate></Bucket>", names[i],
                   t);
        hy_free(names[i]);
    }
    hy_free(names);
    buf_append_str(&b, "</Buckets></ListAllMyBucketsResult>");
    s3_reply_xml(r, 200, &b);
    buf_fini(&b);
    buf_fini(&p);
}

static void create_bucket(struct s3 *s, struct s3_reply *r, const char *bucket)
{
    struct buf p;
    buf_init(&p, PATH_CAP);
    s3_store_bucket_path(s, bucket, &p);
    if (mkdir(p.data, 0755) == 0) {
        char v[32];
        int n = snprintf(v, sizeof v, "%lld", (long long)time(NULL));
        (void)setxattr(p.data, S3_META_XATTR, v, (size_t)n, 0);
        int rc = fsutil_fsync_dir(s->root);
        if (rc)
            s3_error_errno(r, rc);
        else {
            char loc[128];
            snprintf(loc, sizeof loc, "Location: /%s\r\n", bucket);
            s3_reply_empty(r, 200, loc);
        }
    } else if (errno == EEXIST) {
        s3_error(r, 409, "BucketAlreadyOwnedByYou",
                 "Your previous request to create the named bucket succeeded and you already "
                 "own it.");
    } else {
        s3_error_errno(r, -errno);
    }
    buf_fini(&p);
}

static void no_such_bucket(struct s3_reply *r)
{
    s3_error(r, 404, "NoSuchBucket", "The specified bucket does not exist");
}

static void delete_bucket(struct s3 *s, struct s3_reply *r, const char *bucket)
{
    struct buf p;
    buf_init(&p, PATH_CAP);
    s3_store_bucket_path(s, bucket, &p);
    struct s3_keys keys;
    int rc = s3_store_list(s, bucket, "", 0, &keys);
    if (rc == -ENOENT)
        no_such_bucket(r);
    else if (rc)
        s3_error_errno(r, rc);
    else if (keys.n)
        s3_error(r, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    else {
        /* Only empty directories are left (pruned key parents): remove them all. */
        rc = fsutil_remove_tree(p.data);
        if (!rc)
            rc = fsutil_fsync_dir(s->root);
        if (rc)
            s3_error_errno(r, rc);
        else
            s3_reply_empty(r, 204, NULL);
    }
    s3_keys_fini(&keys);
    buf_fini(&p);
}

/* ---- objects ---- */

/* Strip surrounding quotes (and a W/ weak prefix) from an ETag. */
static void etag_bare(const char *in, size_t n, const char **out, size_t *out_len)
{
    if (n >= 2 && in[0] == 'W' && in[1] == '/') {
        in += 2;
        n -= 2;
    }
    if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
        in++;
        n -= 2;
    }
    *out = in;
    *out_len = n;
}

/* Does the comma-separated ETag list in h match etag? ('*' matches any.) */
static int etag_list_match(const char *v, size_t n, const char *etag)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *q = e;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        const char *t;
        size_t tl;
        etag_bare(p, (size_t)(q - p), &t, &tl);
        if ((tl == 1 && t[0] == '*') || (tl == strlen(etag) && memcmp(t, etag, tl) == 0))
            return 1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* GET/HEAD preconditions (spec section 6): 0 to serve, else the status (304 or 412). */
static int check_read_conditions(const struct http_request *req, const char *etag, int64_t mtime)
{
    const struct http_header *im = http_request_header(req, "if-match");
    const struct http_header *inm = http_request_header(req, "if-none-match");
    const struct http_header *ims = http_request_header(req, "if-modified-since");
    const struct http_header *ius = http_request_header(req, "if-unmodified-since");
    int64_t t;
    if (im) {
        if (!etag_list_match(im->value, im->value_len, etag))
            return 412;
    } else if (ius && s3_xml_parse_http_date(ius->value, ius->value_len, &t) == 0 && mtime > t) {
        return 412;
    }
    if (inm) {
        if (etag_list_match(inm->value, inm->value_len, etag))
            return 304;
    } else if (ims && s3_xml_parse_http_date(ims->value, ims->value_len, &t) == 0 && mtime <= t) {
        return 304;
    }
    return 0;
}

/* Parse one "bytes=a-b" / "a-" / "-n" range against size. 1 and [*start, *end] when it applies,
 * 0 to ignore the header (unparsable, several ranges), -1 when unsatisfiable. */
static int parse_range(const char *v, size_t n, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (n < 7 || strncmp(v, "bytes=", 6) != 0 || memchr(v, ',', n))
        return 0;
    const char *p = v + 6, *e = v + n;
    const char *dash = memchr(p, '-', (size_t)(e - p));
    if (!dash)
        return 0;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    for (const char *q = p; q < dash; q++) {
        if (*q < '0' || *q > '9' || a > UINT64_MAX / 20)
            return 0;
        a = a * 10 + (uint64_t)(*q - '0');
        has_a = 1;
    }
    for (const char *q = dash + 1; q < e; q++) {
        if (*q < '0' || *q > '9' || b > UINT64_MAX / 20)
            return 0;
        b = b * 10 + (uint64_t)(*q - '0');
        has_b = 1;
    }
    if (!has_a && !has_b)
        return 0;
    if (!has_a) {
        if (b == 0 || size == 0)
            return -1;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 1;
    }
    if (has_b && b < a)
        return 0;
    if (a >= size)
        return -1;
    *start = a;
    *end = !has_b || b >= size ? size - 1 : b;
    return 1;
}

static int open_object(struct s3 *s, const char *bucket, const char *key, size_t klen, int *fd,
                       struct stat *st)
{
    struct buf p;
    buf_init(&p, PATH_CAP);
    int rc = s3_store_object_path(s, bucket, key, klen, &p);
    if (!rc) {
        *fd = open(p.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0)
            rc = -errno;
        else if (fstat(*fd, st) < 0 || !S_ISREG(st->st_mode)) {
            close(*fd);
            *fd = -1;
            rc = -ENOENT;
        }
    }
    buf_fini(&p);
    return rc;
}

static void no_such_key(struct s3 *s, struct s3_reply *r, const char *bucket)
{
    if (!s3_store_bucket_exists(s, bucket))
        no_such_bucket(r);
    else
        s3_error(r, 404, "NoSuchKey", "The specified key does not exist.");
}

/* Append the stored headers, leaving out those a response-* parameter overrides. */
static void append_stored_headers(struct buf *h, const struct s3_meta *m, const struct s3_query *q)
{
    static const struct {
        const char *param, *header;
    } overrides[] = {
        {"response-content-type", "Content-Type"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-language", "Content-Language"},
        {"response-cache-control", "Cache-Control"},
        {"response-expires", "Expires"},
        {"response-content-encoding", "Content-Encoding"},
    };
    int have_ct = 0;
    const char *p = m->headers.data ? m->headers.data : "", *end = p + m->headers.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl + 1 : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        int skip = 0;
        for (size_t i = 0; colon && i < sizeof overrides / sizeof overrides[0]; i++)
            if ((size_t)(colon - p) == strlen(overrides[i].header) &&
                strncasecmp(p, overrides[i].header, (size_t)(colon - p)) == 0) {
                if (i == 0)
                    have_ct = 1;
                if (s3_query_get(q, overrides[i].param))
                    skip = 1;
            }
        if (!skip)
            buf_append(h, p, (size_t)(le - p));
        p = le;
    }
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const struct s3_param *o = s3_query_get(q, overrides[i].param);
        if (o && !memchr(o->value, '\r', o->value_len) && !memchr(o->value, '\n', o->value_len)) {
            buf_printf(h, "%s: %.*s\r\n", overrides[i].header, (int)o->value_len, o->value);
            if (i == 0)
                have_ct = 1;
        }
    }
    if (!have_ct)
        buf_append_str(h, "Content-Type: binary/octet-stream\r\n");
}

static void get_object(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                       const char *bucket, const char *key, size_t klen)
{
    int fd = -1;
    struct stat st;
    int rc = open_object(s, bucket, key, klen, &fd, &st);
    if (rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP || rc == -EISDIR) {
        no_such_key(s, r, bucket);
        return;
    }
    if (rc) {
        s3_error_errno(r, rc);
        return;
    }
    struct s3_meta m;
    s3_meta_init(&m);
    struct buf h;
    buf_init(&h, HDR_MAX);
    char *data = NULL;
    rc = s3_store_meta_load(fd, &m);
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    common_headers(r, &h);
    char date[40];
    s3_xml_http_date((int64_t)st.st_mtime, date, sizeof date);
    make_etag_header(&h, m.etag);
    buf_printf(&h, "Last-Modified: %s\r\n", date);
    int cond = check_read_conditions(r->req, m.etag, (int64_t)st.st_mtime);
    if (cond == 304) {
        http_respond(r->ex, 304, h.data, NULL, 0);
        goto out;
    }
    if (cond == 412) {
        s3_error(r, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size, start = 0, end = size ? size - 1 : 0;
    int status = 200;
    const struct http_header *range = http_request_header(r->req, "range");
    const struct s3_param *part = s3_query_get(q, "partNumber");
    if (part) {
        if (range) {
            s3_error(r, 400, "InvalidRequest", "Cannot specify both Range header and partNumber.");
            goto out;
        }
        if (strcmp(part->value, "1") != 0) {
            s3_error(r, 416, "InvalidPartNumber", "The requested partnumber is not satisfiable");
            goto out;
        }
        buf_append_str(&h, "x-amz-mp-parts-count: 1\r\n");
    }
    if (range) {
        int pr = parse_range(range->value, range->value_len, size, &start, &end);
        if (pr < 0) {
            buf_reset(&h);
            s3_error(r, 416, "InvalidRange", "The requested range is not satisfiable");
            goto out;
        }
        if (pr > 0) {
            status = 206;
            buf_printf(&h, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)start,
                       (unsigned long long)end, (unsigned long long)size);
        }
    }
    buf_append_str(&h, "Accept-Ranges: bytes\r\n");
    append_stored_headers(&h, &m, q);
    uint64_t len = size ? end - start + 1 : 0;
    if (r->head) {
        http_respond(r->ex, status, h.data, NULL, (size_t)len);
        goto out;
    }
    if (len > GET_MAX) {
        s3_error(r, 501, "NotImplemented",
                 "hydrant answers at most 240 MiB in one GET; use ranged GETs for more.");
        goto out;
    }
    data = hy_malloc(len ? (size_t)len : 1);
    if (!data) {
        s3_error_errno(r, HY_ENOMEM);
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, data + got, (size_t)len - got, (off_t)(start + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != len)
        s3_error(r, 500, "InternalError", "The object changed while it was read.");
    else
        http_respond(r->ex, status, h.data, data, (size_t)len);
out:
    hy_free(data);
    buf_fini(&h);
    s3_meta_fini(&m);
    close(fd);
}

int s3_write_conditions(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                        size_t klen)
{
    const struct http_header *im = http_request_header(r->req, "if-match");
    const struct http_header *inm = http_request_header(r->req, "if-none-match");
    if (!im && !inm)
        return 0;
    int fd = -1;
    struct stat st;
    int exists = open_object(s, bucket, key, klen, &fd, &st) == 0;
    struct s3_meta m;
    s3_meta_init(&m);
    int rc = 0;
    if (exists && s3_store_meta_load(fd, &m))
        m.etag[0] = '\0';
    if (im && !exists) {
        s3_error(r, 404, "NoSuchKey", "The specified key does not exist.");
        rc = -1;
    } else if ((im && !etag_list_match(im->value, im->value_len, m.etag)) ||
               (inm && exists && etag_list_match(inm->value, inm->value_len, m.etag))) {
        s3_error(r, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        rc = -1;
    }
    s3_meta_fini(&m);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Store data under bucket/key with metadata m (whose etag is set): temp file, attribute,
 * rename. 0 or a negative error. */
int s3_object_write(struct s3 *s, const char *bucket, const char *key, const char *data, size_t len,
                    int src_fd, uint64_t src_off, const struct s3_meta *m)
{
    struct fssink_writer *w = NULL;
    int rc = fssink_open(s->root, bucket, key, &w);
    if (rc)
        return rc;
    struct buf blob;
    buf_init(&blob, 4 * S3_META_MAX);
    rc = s3_meta_encode(m, &blob);
    if (!rc)
        rc = fssink_set_xattr(w, S3_META_XATTR, blob.data, blob.len);
    buf_fini(&blob);
    if (!rc && src_fd >= 0)
        rc = fssink_write_from(w, src_fd, src_off, len);
    else if (!rc && len) {
        struct iovec v = {(void *)data, len};
        rc = fssink_write(w, &v, 1);
    }
    if (rc) {
        fssink_abort(w);
        return rc;
    }
    return fssink_commit(w);
}

/* The key as a C string for fssink (keys never hold NUL: checked at dispatch). */
static void put_object(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                       size_t klen)
{
    if (!s3_store_bucket_exists(s, bucket)) {
        no_such_bucket(r);
        return;
    }
    struct s3_body body;
    struct s3_meta m;
    s3_meta_init(&m);
    memset(&body, 0, sizeof body);
    int rc;
    if (r->stream) {
        /* Streamed (over the body limit): the bytes are in the temp file already. */
        if (s3_stream_finish(r, r->stream, m.etag) || s3_meta_from_request(r, &m) ||
            s3_write_conditions(s, r, bucket, key, klen))
            goto out;
        struct http_body_stream *st = r->stream;
        r->stream = NULL;
        rc = s3_stream_commit_object(st, &m);
    } else {
        if (s3_body_get(r, &body) || s3_meta_from_request(r, &m) ||
            s3_write_conditions(s, r, bucket, key, klen))
            goto out;
        unsigned char d[16];
        s3_store_md5(body.data, body.len, d);
        s3_store_hex(d, 16, m.etag);
        rc = s3_object_write(s, bucket, key, body.data, body.len, -1, 0, &m);
    }
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    char h[96];
    snprintf(h, sizeof h, "ETag: \"%s\"\r\n", m.etag);
    s3_reply_empty(r, 200, h);
out:
    s3_body_fini(&body);
    s3_meta_fini(&m);
}

static void delete_object(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                          size_t klen)
{
    if (!s3_store_bucket_exists(s, bucket)) {
        no_such_bucket(r);
        return;
    }
    struct buf p;
    buf_init(&p, PATH_CAP);
    int rc = s3_store_object_path(s, bucket, key, klen, &p);
    if (!rc && unlink(p.data) < 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
        rc = -errno;
    if (!rc)
        s3_store_prune(p.data, strlen(s->root) + 1 + strlen(bucket));
    if (rc)
        s3_error_errno(r, rc);
    else
        s3_reply_empty(r, 204, NULL);
    buf_fini(&p);
}

static void delete_objects(struct s3 *s, struct s3_reply *r, const char *bucket)
{
    if (!s3_store_bucket_exists(s, bucket)) {
        no_such_bucket(r);
        return;
    }
    struct s3_body body;
    struct s3_xml_req x = {0};
    if (s3_body_get(r, &body))
        goto out;
    if (s3_xml_parse_delete(body.data, body.len, &x) || x.n == 0 || x.n > DELETE_MAX) {
        s3_error(r, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema");
        goto out;
    }
    struct buf b, p;
    buf_init(&b, XML_MAX);
    buf_init(&p, PATH_CAP);
    buf_append_str(&b, "<DeleteResult xmlns=\"" S3_XMLNS "\">");
    size_t bdl = strlen(s->root) + 1 + strlen(bucket);
    for (size_t i = 0; i < x.n; i++) {
        const struct s3_xml_item *it = &x.items[i];
        int rc = 0;
        if (!s3_store_key_ok(it->text, it->len))
            rc = HY_EINVAL;
        buf_reset(&p);
        if (!rc)
            rc = s3_store_object_path(s, bucket, it->text, it->len, &p);
        if (!rc && unlink(p.data) < 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
            rc = -errno;
        if (!rc)
            s3_store_prune(p.data, bdl);
        if (rc) {
            buf_append_str(&b, "<Error>");
            s3_xml_elem(&b, "Key", it->text, it->len);
            buf_append_str(&b, rc == HY_EINVAL ? "<Code>InvalidArgument</Code><Message>Invalid "
                                                 "key.</Message></Error>"
                                               : "<Code>InternalError</Code><Message>The object "
                                                 "could not be deleted.</Message></Error>");
        } else if (!x.quiet) {
            buf_append_str(&b, "<Deleted>");
            s3_xml_elem(&b, "Key", it->text, it->len);
            buf_append_str(&b, "</Deleted>");
        }
    }
    buf_append_str(&b, "</DeleteResult>");
    s3_reply_xml(r, 200, &b);
    buf_fini(&b);
    buf_fini(&p);
out:
    s3_xml_req_fini(&x);
    s3_body_fini(&body);
}

void s3_src_close(struct s3_src *src)
{
    if (src->fd >= 0)
        close(src->fd);
    src->fd = -1;
    s3_meta_fini(&src->meta);
    buf_fini(&src->bucket);
    buf_fini(&src->key);
}

int s3_src_open(struct s3 *s, struct s3_reply *r, struct s3_src *src)
{
    src->fd = -1;
    s3_meta_init(&src->meta);
    buf_init(&src->bucket, 255);
    buf_init(&src->key, 3 * S3_KEY_MAX);
    const struct http_header *h = http_request_header(r->req, "x-amz-copy-source");
    const char *v = h->value;
    size_t n = h->value_len;
    const char *qm = memchr(v, '?', n);
    if (qm)
        n = (size_t)(qm - v); /* ?versionId=: one version here */
    if (n && v[0] == '/') {
        v++;
        n--;
    }
    const char *slash = memchr(v, '/', n);
    if (!slash || s3_query_decode(v, (size_t)(slash - v), 0, &src->bucket) ||
        s3_query_decode(slash + 1, n - (size_t)(slash - v) - 1, 0, &src->key) ||
        !s3_store_bucket_ok(src->bucket.data ? src->bucket.data : "", src->bucket.len) ||
        !s3_store_key_ok(src->key.data ? src->key.data : "", src->key.len)) {
        s3_error(r, 400, "InvalidArgument",
                 "Copy Source must mention the source bucket and key: "
                 "sourcebucket/sourcekey");
        s3_src_close(src);
        return -1;
    }
    struct stat st;
    int rc = open_object(s, src->bucket.data, src->key.data, src->key.len, &src->fd, &st);
    if (rc) {
        if (!s3_store_bucket_exists(s, src->bucket.data))
            no_such_bucket(r);
        else
            s3_error(r, 404, "NoSuchKey", "The specified key does not exist.");
        s3_src_close(src);
        return -1;
    }
    src->size = (uint64_t)st.st_size;
    src->mtime = (int64_t)st.st_mtime;
    rc = s3_store_meta_load(src->fd, &src->meta);
    if (rc) {
        s3_error_errno(r, rc);
        s3_src_close(src);
        return -1;
    }
    /* x-amz-copy-source-if-*: the same rules as GET, every failure a 412. */
    const struct http_header *im = http_request_header(r->req, "x-amz-copy-source-if-match");
    const struct http_header *inm = http_request_header(r->req, "x-amz-copy-source-if-none-match");
    const struct http_header *ims =
        http_request_header(r->req, "x-amz-copy-source-if-modified-since");
    const struct http_header *ius =
        http_request_header(r->req, "x-amz-copy-source-if-unmodified-since");
    int64_t t;
    int fail = (im && !etag_list_match(im->value, im->value_len, src->meta.etag)) ||
               (inm && etag_list_match(inm->value, inm->value_len, src->meta.etag)) ||
               (!im && ius && s3_xml_parse_http_date(ius->value, ius->value_len, &t) == 0 &&
                src->mtime > t) ||
               (!inm && ims && s3_xml_parse_http_date(ims->value, ims->value_len, &t) == 0 &&
                src->mtime <= t);
    if (fail) {
        s3_error(r, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        s3_src_close(src);
        return -1;
    }
    return 0;
}

static void copy_object(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                        size_t klen)
{
    if (!s3_store_bucket_exists(s, bucket)) {
        no_such_bucket(r);
        return;
    }
    struct s3_src src;
    if (s3_src_open(s, r, &src))
        return;
    char dir[16] = "";
    s3_header(r->req, "x-amz-metadata-directive", dir, sizeof dir);
    int replace = strcmp(dir, "REPLACE") == 0;
    struct s3_meta m;
    s3_meta_init(&m);
    if (!replace && strcmp(src.bucket.data, bucket) == 0 && src.key.len == klen &&
        memcmp(src.key.data, key, klen) == 0) {
        s3_error(r, 400, "InvalidRequest",
                 "This copy request is illegal because it is trying to copy an object to itself "
                 "without changing the object's metadata, storage class, website redirect "
                 "location or encryption attributes.");
        goto out;
    }
    if (replace) {
        if (s3_meta_from_request(r, &m))
            goto out;
    } else {
        buf_append(&m.headers, src.meta.headers.data ? src.meta.headers.data : "",
                   src.meta.headers.len);
    }
    /* A copy of a multipart object is a single-part object: its ETag is its MD5. */
    if (strchr(src.meta.etag, '-')) {
        int rc = s3_store_md5_fd(src.fd, m.etag);
        if (rc) {
            s3_error_errno(r, rc);
            goto out;
        }
    } else {
        memcpy(m.etag, src.meta.etag, sizeof m.etag);
    }
    if (s3_write_conditions(s, r, bucket, key, klen))
        goto out;
    int rc = s3_object_write(s, bucket, key, NULL, src.size, src.fd, 0, &m);
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    struct buf b;
    buf_init(&b, 4096);
    char t[40];
    s3_xml_time((int64_t)time(NULL), t, sizeof t);
    buf_printf(&b,
               "<CopyObjectResult xmlns=\"" S3_XMLNS "\"><LastModified>%s</LastModified>"
               "<ETag>&quot;%s&quot;</ETag></CopyObjectResult>",
               t, m.etag);
    s3_reply_xml(r, 200, &b);
    buf_fini(&b);
out:
    s3_meta_fini(&m);
    s3_src_close(&src);
}

/* ---- listing ---- */

static int parse_max(const struct s3_param *p, long dflt, long *out)
{
    if (!p) {
        *out = dflt;
        return 0;
    }
    if (p->value_len == 0 || p->value_len > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < p->value_len; i++) {
        if (p->value[i] < '0' || p->value[i] > '9')
            return -1;
        v = v * 10 + (p->value[i] - '0');
    }
    *out = v;
    return 0;
}

/* Append <name>value</name>, url-encoded when enc (encoding-type=url). */
static void elem_enc(struct buf *b, const char *name, const char *v, size_t n, int enc)
{
    if (!enc) {
        s3_xml_elem(b, name, v, n);
        return;
    }
    struct buf e;
    buf_init(&e, 16 * S3_KEY_MAX);
    s3_query_encode(v, n, 1, &e);
    s3_xml_elem(b, name, e.data ? e.data : "", e.len);
    buf_fini(&e);
}

static int key_after(const char *k, size_t kl, const char *m, size_t ml)
{
    size_t n = kl < ml ? kl : ml;
    int c = memcmp(k, m, n);
    return c > 0 || (c == 0 && kl > ml);
}

static void list_objects(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                         const char *bucket, int v2)
{
    const struct s3_param *pp = s3_query_get(q, "prefix");
    const struct s3_param *dp = s3_query_get(q, "delimiter");
    const struct s3_param *ep = s3_query_get(q, "encoding-type");
    const struct s3_param *tok = v2 ? s3_query_get(q, "continuation-token") : NULL;
    const struct s3_param *sa = s3_query_get(q, v2 ? "start-after" : "marker");
    const struct s3_param *fo = s3_query_get(q, "fetch-owner");
    const char *prefix = pp ? pp->value : "";
    size_t plen = pp ? pp->value_len : 0;
    const char *delim = dp && dp->value_len ? dp->value : NULL;
    size_t dlen = delim ? dp->value_len : 0;
    int enc = ep && strcmp(ep->value, "url") == 0;
    int owner = !v2 || (fo && strcmp(fo->value, "true") == 0);
    long max_keys;
    if (ep && !enc) {
        s3_error(r, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
        return;
    }
    if (parse_max(s3_query_get(q, "max-keys"), LIST_MAX, &max_keys)) {
        s3_error(r, 400, "InvalidArgument",
                 "Provided max-keys not an integer or within integer "
                 "range");
        return;
    }
    if (max_keys > LIST_MAX)
        max_keys = LIST_MAX;
    /* Where to start: strictly after the continuation token (base64 of the last key or prefix
     * emitted), else after start-after / marker. */
    struct buf after;
    buf_init(&after, 4 * S3_KEY_MAX);
    if (tok) {
        uint8_t raw[BASE64_DECODED_MAX(4 * S3_KEY_MAX)];
        size_t rl = 0;
        if (tok->value_len > 4 * S3_KEY_MAX ||
            base64_decode(tok->value, tok->value_len, raw, &rl) || rl == 0) {
            s3_error(r, 400, "InvalidArgument", "The continuation token provided is incorrect");
            buf_fini(&after);
            return;
        }
        buf_append(&after, raw, rl);
    } else if (sa) {
        buf_append(&after, sa->value, sa->value_len);
    }
    struct s3_keys keys;
    int rc = s3_store_list(s, bucket, prefix, plen, &keys);
    if (rc) {
        if (rc == -ENOENT || rc == -ENOTDIR)
            no_such_bucket(r);
        else
            s3_error_errno(r, rc);
        buf_fini(&after);
        return;
    }
    struct buf b;
    buf_init(&b, XML_MAX);
    buf_printf(&b, "<ListBucketResult xmlns=\"" S3_XMLNS "\"><Name>%s</Name>", bucket);
    elem_enc(&b, "Prefix", prefix, plen, enc);
    if (delim)
        elem_enc(&b, "Delimiter", delim, dlen, enc);
    if (v2) {
        if (tok)
            s3_xml_elem(&b, "ContinuationToken", tok->value, tok->value_len);
        if (sa)
            elem_enc(&b, "StartAfter", sa->value, sa->value_len, enc);
    } else {
        elem_enc(&b, "Marker", sa ? sa->value : "", sa ? sa->value_len : 0, enc);
    }
    buf_printf(&b, "<MaxKeys>%ld</MaxKeys>", max_keys);
    if (enc)
        buf_append_str(&b, "<EncodingType>url</EncodingType>");
    struct buf contents, prefixes;
    buf_init(&contents, XML_MAX);
    buf_init(&prefixes, XML_MAX);
    long count = 0;
    int truncated = 0;
    const char *last = NULL;
    size_t last_len = 0;
    struct buf p;
    buf_init(&p, PATH_CAP);
    const char *prev_cp = NULL;
    size_t prev_cp_len = 0;
    for (size_t i = 0; i < keys.n; i++) {
        const char *k = keys.v[i].key;
        size_t kl = keys.v[i].len;
        /* The entry this key contributes: itself, or its common prefix. */
        const char *cp = NULL;
        size_t cpl = 0;
        if (delim && kl > plen) {
            const char *hit = memmem(k + plen, kl - plen, delim, dlen);
            if (hit) {
                cp = k;
                cpl = (size_t)(hit - k) + dlen;
            }
        }
        if (cp) {
            if (prev_cp && prev_cp_len == cpl && memcmp(prev_cp, cp, cpl) == 0)
                continue; /* same prefix as the one just emitted */
            if (after.len && !key_after(cp, cpl, after.data, after.len))
                continue;
        } else if (after.len && !key_after(k, kl, after.data, after.len)) {
            continue;
        }
        if (count >= max_keys) {
            truncated = max_keys > 0;
            break;
        }
        count++;
        if (cp) {
            buf_append_str(&prefixes, "<CommonPrefixes>");
            elem_enc(&prefixes, "Prefix", cp, cpl, enc);
            buf_append_str(&prefixes, "</CommonPrefixes>");
            prev_cp = cp;
            prev_cp_len = cpl;
            last = cp;
            last_len = cpl;
            continue;
        }
        last = k;
        last_len = kl;
        int fd = -1;
        struct stat st;
        struct s3_meta m;
        s3_meta_init(&m);
        if (open_object(s, bucket, k, kl, &fd, &st) == 0 && s3_store_meta_load(fd, &m) == 0) {
            char t[40];
            s3_xml_time((int64_t)st.st_mtime, t, sizeof t);
            buf_append_str(&contents, "<Contents>");
            elem_enc(&contents, "Key", k, kl, enc);
            buf_printf(&contents,
                       "<LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                       "<Size>%lld</Size>",
                       t, m.etag, (long long)st.st_size);
            if (owner)
                buf_append_str(&contents, "<Owner><ID>hydrant</ID><DisplayName>hydrant"
                                          "</DisplayName></Owner>");
            buf_append_str(&contents, "<StorageClass>STANDARD</StorageClass></Contents>");
        } else {
            count--; /* deleted meanwhile */
        }
        s3_meta_fini(&m);
        if (fd >= 0)
            close(fd);
    }
    if (v2)
        buf_printf(&b, "<KeyCount>%ld</KeyCount>", count);
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (truncated && last) {
        if (v2) {
            char *t = hy_malloc(BASE64_ENCODED_LEN(last_len) + 1);
            if (t) {
                size_t tl = base64_encode((const uint8_t *)last, last_len, t);
                s3_xml_elem(&b, "NextContinuationToken", t, tl);
                hy_free(t);
            }
        } else {
            elem_enc(&b, "NextMarker", last, last_len, enc);
        }
    }
    buf_append(&b, contents.data ? contents.data : "", contents.len);
    buf_append(&b, prefixes.data ? prefixes.data : "", prefixes.len);
    buf_append_str(&b, "</ListBucketResult>");
    s3_reply_xml(r, 200, &b);
    buf_fini(&p);
    buf_fini(&contents);
    buf_fini(&prefixes);
    buf_fini(&b);
    buf_fini(&after);
    s3_keys_fini(&keys);
}

/* ---- dispatch ---- */

static void dispatch(struct s3 *s, struct s3_reply *r, enum s3_op op, const struct s3_query *q,
                     const char *bucket, const char *key, size_t klen)
{
    switch (op) {
    case S3_OP_NONE:
        s3_error(r, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
        return;
    case S3_OP_NOT_IMPLEMENTED:
        s3_error(r, 501, "NotImplemented",
                 "A header or query you provided implies functionality that is not implemented.");
        return;
    case S3_OP_LIST_BUCKETS:
        list_buckets(s, r);
        return;
    case S3_OP_CREATE_BUCKET:
        create_bucket(s, r, bucket);
        return;
    case S3_OP_DELETE_BUCKET:
        delete_bucket(s, r, bucket);
        return;
    default:
        break;
    }
    if (!s3_store_bucket_exists(s, bucket)) {
        no_such_bucket(r);
        return;
    }
    switch (op) {
    case S3_OP_HEAD_BUCKET: {
        char h[128];
        snprintf(h, sizeof h, "x-amz-bucket-region: %s\r\n", s->region);
        s3_reply_empty(r, 200, h);
        return;
    }
    case S3_OP_GET_BUCKET_LOCATION: {
        struct buf b;
        buf_init(&b, 512);
        buf_append_str(&b, "<LocationConstraint xmlns=\"" S3_XMLNS "\">");
        if (strcmp(s->region, "us-east-1") != 0)
            s3_xml_escape(&b, s->region, strlen(s->region));
        buf_append_str(&b, "</LocationConstraint>");
        s3_reply_xml(r, 200, &b);
        buf_fini(&b);
        return;
    }
    case S3_OP_LIST_OBJECTS_V2:
    case S3_OP_LIST_OBJECTS:
        list_objects(s, r, q, bucket, op == S3_OP_LIST_OBJECTS_V2);
        return;
    case S3_OP_LIST_UPLOADS:
        s3_multipart_list(s, r, q, bucket);
        return;
    case S3_OP_DELETE_OBJECTS:
        delete_objects(s, r, bucket);
        return;
    case S3_OP_GET_TAGGING: {
        struct buf b;
        buf_init(&b, 512);
        buf_append_str(&b, "<Tagging xmlns=\"" S3_XMLNS "\"><TagSet></TagSet></Tagging>");
        s3_reply_xml(r, 200, &b);
        buf_fini(&b);
        return;
    }
    case S3_OP_PUT_TAGGING:
        s3_reply_empty(r, op == S3_OP_PUT_TAGGING && r->req->method[0] == 'D' ? 204 : 200, NULL);
        return;
    case S3_OP_PUT_OBJECT:
        put_object(s, r, bucket, key, klen);
        return;
    case S3_OP_COPY_OBJECT:
        copy_object(s, r, bucket, key, klen);
        return;
    case S3_OP_GET_OBJECT:
    case S3_OP_HEAD_OBJECT:
        get_object(s, r, q, bucket, key, klen);
        return;
    case S3_OP_DELETE_OBJECT:
        delete_object(s, r, bucket, key, klen);
        return;
    case S3_OP_CREATE_UPLOAD:
        s3_multipart_create(s, r, bucket, key, klen);
        return;
    case S3_OP_UPLOAD_PART:
    case S3_OP_UPLOAD_PART_COPY:
        s3_multipart_upload_part(s, r, q, bucket, key, klen, op == S3_OP_UPLOAD_PART_COPY);
        return;
    case S3_OP_COMPLETE_UPLOAD:
        s3_multipart_complete(s, r, q, bucket, key, klen);
        return;
    case S3_OP_LIST_PARTS:
        s3_multipart_list_parts(s, r, q, bucket, key, klen);
        return;
    case S3_OP_ABORT_UPLOAD:
        s3_multipart_abort(s, r, q, bucket, key, klen);
        return;
    default:
        /* Cannot happen: the first switch answered every bucket-less operation. */
        s3_error(r, 500, "InternalError", "Unrouted operation.");
    }
}

void s3_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct s3 *s = ud;
    struct s3_reply r = {.ex = ex, .req = req};
    snprintf(r.request_id, sizeof r.request_id, "%016llX",
             (unsigned long long)atomic_fetch_add(&request_counter, 1) ^ 0x5EED000000000000ULL);
    r.head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
    r.stream = req->stream;
    const char *qm = memchr(req->path, '?', req->path_len);
    size_t plen = qm ? (size_t)(qm - req->path) : req->path_len;
    char resource[512];
    snprintf(resource, sizeof resource, "%.*s", (int)(plen < 500 ? plen : 500), req->path);
    r.resource = resource;
    struct s3_query q;
    struct s3_target t;
    s3_target_init(&t);
    if (s3_query_parse(qm ? qm + 1 : "", qm ? req->path_len - plen - 1 : 0, &q)) {
        s3_error(&r, 400, "InvalidArgument", "The query string could not be parsed.");
        goto out;
    }
    const struct http_header *host = http_request_header(req, "host");
    int rc = s3_target_parse(req->path, plen, host ? host->value : NULL, host ? host->value_len : 0,
                             s->domain, &t);
    if (rc == HY_E2BIG || (rc == 0 && t.key.len > S3_KEY_MAX)) {
        s3_error(&r, 400, "KeyTooLongError", "Your key is too long");
        goto out;
    }
    if (rc) {
        s3_error(&r, 400, "InvalidURI", "Couldn't parse the specified URI.");
        goto out;
    }
    const char *bucket = t.bucket.data ? t.bucket.data : "";
    const char *key = t.key.data ? t.key.data : "";
    int has_copy = http_request_header(req, "x-amz-copy-source") != NULL;
    enum s3_op op =
        s3_query_op(req->method, req->method_len, t.bucket.len > 0, t.key.len > 0, &q, has_copy);
    LOG_DEBUG("s3", "request", "op=%s bucket=%s", s3_query_op_name(op), bucket);
    struct sigv4_result auth;
    if (s->sigv4.creds && s3_auth_check(s, &r, op, bucket, &auth))
        goto out;
    if (t.bucket.len && !s3_store_bucket_ok(bucket, t.bucket.len)) {
        s3_error(&r, 400, "InvalidBucketName", "The specified bucket is not valid.");
        goto out;
    }
    if (t.key.len && !s3_store_key_ok(key, t.key.len)) {
        s3_error(&r, 400, "InvalidArgument", "Object keys must be valid UTF-8 without NUL.");
        goto out;
    }
    dispatch(s, &r, op, &q, bucket, key, t.key.len);
out:
    if (r.stream)
        s3_stream_drop(r.stream); /* answered without using the streamed body */
    s3_query_fini(&q);
    s3_target_fini(&t);
}
