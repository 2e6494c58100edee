/*
 * s3_multipart: multipart uploads (spec s3-rest-server.md section 2). An upload is the directory
 * <root>/.mpu/<upload id>/ holding "info" (bucket, then the key; the object's future metadata in
 * its extended attribute) and one file per part, named by its number, with the part's MD5 in
 * the attribute. Parts are fsynced before their 200; Complete streams the listed parts into a
 * fssink writer (copy_file_range) and gives the object S3's ETag: the MD5 of the parts' raw
 * MD5s, "-", the part count. Uploads survive restarts until completed or aborted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "api/s3/s3_int.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "net/http.h"
#include "sink/fssink.h"

#define PATH_CAP 8192
#define PART_MAX 10000
#define PART_MIN_SIZE (5u << 20) /* S3: every part but the last */
#define XML_MAX (64u << 20)

struct upload {
    char id[33];
    struct buf dir; /* <root>/.mpu/<id> */
    struct s3_meta meta;
    struct buf bucket;
    struct buf key;
    int64_t initiated;
};

static void upload_init(struct upload *u)
{
    u->id[0] = '\0';
    buf_init(&u->dir, PATH_CAP);
    s3_meta_init(&u->meta);
    buf_init(&u->bucket, 256);
    buf_init(&u->key, S3_KEY_MAX + 1);
    u->initiated = 0;
}

static void upload_fini(struct upload *u)
{
    buf_fini(&u->dir);
    s3_meta_fini(&u->meta);
    buf_fini(&u->bucket);
    buf_fini(&u->key);
}

static int id_ok(const char *id, size_t n)
{
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

/* Load upload id; 0, or -ENOENT when there is none (or it is malformed). */
static int upload_load(struct s3 *s, const char *id, size_t idlen, struct upload *u)
{
    if (!id_ok(id, idlen))
        return -ENOENT;
    memcpy(u->id, id, 32);
    u->id[32] = '\0';
    buf_reset(&u->dir);
    int rc = buf_printf(&u->dir, "%s/" S3_MPU_DIR "/%s", s->root, u->id);
    struct buf info;
    buf_init(&info, PATH_CAP);
    if (!rc)
        rc = buf_printf(&info, "%s/info", u->dir.data);
    char *data = NULL;
    size_t len = 0;
    if (!rc)
        rc = fsutil_read_all(info.data, &data, &len, 2 * S3_KEY_MAX + 512);
    const char *nl = rc ? NULL : memchr(data, '\n', len);
    if (!rc && !nl)
        rc = -ENOENT;
    if (!rc) {
        buf_reset(&u->bucket);
        buf_reset(&u->key);
        rc = buf_append(&u->bucket, data, (size_t)(nl - data));
        if (!rc)
            rc = buf_append(&u->key, nl + 1, len - (size_t)(nl + 1 - data));
    }
    if (!rc) {
        char blob[2 * S3_META_MAX + 1024];
        ssize_t n = getxattr(info.data, S3_META_XATTR, blob, sizeof blob);
        if (n > 0)
            s3_meta_decode(blob, (size_t)n, &u->meta);
        struct stat st;
        if (stat(info.data, &st) == 0)
            u->initiated = (int64_t)st.st_mtime;
    }
    hy_free(data);
    buf_fini(&info);
    return rc == -ENOTDIR ? -ENOENT : rc;
}

/* Load the upload named by ?uploadId= and check it belongs to bucket/key; on failure answers
 * NoSuchUpload and returns nonzero. */
static int upload_get(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                      const char *bucket, const char *key, size_t klen, struct upload *u)
{
    const struct s3_param *p = s3_query_get(q, "uploadId");
    int rc = p ? upload_load(s, p->value, p->value_len, u) : -ENOENT;
    if (rc == 0 && (strcmp(u->bucket.data, bucket) != 0 || u->key.len != klen ||
                    memcmp(u->key.data, key, klen) != 0))
        rc = -ENOENT;
    if (rc == -ENOENT) {
        s3_error(r, 404, "NoSuchUpload",
                 "The specified upload does not exist. The upload ID may be invalid, or the "
                 "upload may have been aborted or completed.");
        return -1;
    }
    if (rc) {
        s3_error_errno(r, rc);
        return -1;
    }
    return 0;
}

void s3_multipart_create(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                         size_t klen)
{
    struct upload u;
    upload_init(&u);
    struct buf info, blob;
    buf_init(&info, PATH_CAP);
    buf_init(&blob, 4 * S3_META_MAX);
    if (s3_meta_from_request(r, &u.meta))
        goto out;
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        s3_error_errno(r, -EIO);
        goto out;
    }
    hex_encode(rnd, 16, u.id);
    int rc = buf_printf(&u.dir, "%s/" S3_MPU_DIR "/%s", s->root, u.id);
    if (!rc)
        rc = fsutil_mkdirs(u.dir.data, 0755);
    if (!rc)
        rc = buf_printf(&info, "%s/info", u.dir.data);
    struct buf content;
    buf_init(&content, 2 * S3_KEY_MAX + 512);
    if (!rc)
        rc = buf_printf(&content, "%s\n", bucket);
    if (!rc)
        rc = buf_append(&content, key, klen);
    if (!rc)
        rc = fsutil_write_atomic(info.data, content.data, content.len);
    buf_fini(&content);
    if (!rc)
        rc = s3_meta_encode(&u.meta, &blob);
    if (!rc && setxattr(info.data, S3_META_XATTR, blob.data, blob.len, 0) < 0)
        rc = -errno;
    if (rc) {
        if (u.dir.len)
            fsutil_remove_tree(u.dir.data);
        s3_error_errno(r, rc);
        goto out;
    }
    struct buf b;
    buf_init(&b, 8 * S3_KEY_MAX);
    buf_printf(&b, "<InitiateMultipartUploadResult xmlns=\"" S3_XMLNS "\"><Bucket>%s</Bucket>",
               bucket);
    s3_xml_elem(&b, "Key", key, klen);
    buf_printf(&b, "<UploadId>%s</UploadId></InitiateMultipartUploadResult>", u.id);
    s3_reply_xml(r, 200, &b);
    buf_fini(&b);
out:
    buf_fini(&info);
    buf_fini(&blob);
    upload_fini(&u);
}

static int part_number(const struct s3_query *q, long *out)
{
    const struct s3_param *p = s3_query_get(q, "partNumber");
    if (!p || p->value_len == 0 || p->value_len > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < p->value_len; i++) {
        if (p->value[i] < '0' || p->value[i] > '9')
            return -1;
        v = v * 10 + (p->value[i] - '0');
    }
    if (v < 1 || v > PART_MAX)
        return -1;
    *out = v;
    return 0;
}

/* Write one part file durably: temp name, attribute, fsync, rename. */
static int write_part(struct upload *u, long n, const char *data, size_t len, int src_fd,
                      uint64_t src_off, const char *etag)
{
    char tmp[PATH_CAP], dst[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s/%ld.tmp", u->dir.data, n);
    snprintf(dst, sizeof dst, "%s/%ld", u->dir.data, n);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (src_fd >= 0) {
        uint64_t left = len;
        loff_t off = (loff_t)src_off;
        while (!rc && left) {
            ssize_t k = copy_file_range(src_fd, &off, fd, NULL, left, 0);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                rc = k < 0 ? -errno : HY_EBADMSG;
            else
                left -= (uint64_t)k;
        }
    } else {
        size_t done = 0;
        while (!rc && done < len) {
            ssize_t k = write(fd, data + done, len - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                rc = -errno;
            else
                done += (size_t)k;
        }
    }
    char blob[64];
    int bl = snprintf(blob, sizeof blob, "%s\n", etag);
    if (!rc && fsetxattr(fd, S3_META_XATTR, blob, (size_t)bl, 0) < 0)
        rc = -errno;
    if (!rc && fdatasync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, dst) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* UploadPartCopy: len bytes of src_fd from start into part n, through a 1 MiB buffer (the MD5
 * needs the bytes anyway), then as write_part. */
static int copy_part(struct upload *u, long n, int src_fd, uint64_t start, uint64_t len,
                     char etag[33])
{
    char tmp[PATH_CAP], dst[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s/%ld.tmp", u->dir.data, n);
    snprintf(dst, sizeof dst, "%s/%ld", u->dir.data, n);
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    char *chunk = hy_malloc(1 << 20);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = !md5 || !chunk ? HY_ENOMEM : fd < 0 ? -errno : 0;
    if (!rc && EVP_DigestInit_ex(md5, EVP_md5(), NULL) != 1)
        rc = HY_ENOMEM;
    while (!rc && len) {
        size_t want = len < (1u << 20) ? (size_t)len : (1u << 20);
        ssize_t k = pread(src_fd, chunk, want, (off_t)start);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : HY_EBADMSG;
            break;
        }
        EVP_DigestUpdate(md5, chunk, (size_t)k);
        for (ssize_t done = 0; !rc && done < k;) {
            ssize_t w = write(fd, chunk + done, (size_t)(k - done));
            if (w < 0 && errno != EINTR)
                rc = -errno;
            else if (w > 0)
                done += w;
        }
        start += (uint64_t)k;
        len -= (uint64_t)k;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    if (!rc && EVP_DigestFinal_ex(md5, d, &dl) != 1)
        rc = HY_ENOMEM;
    if (!rc)
        hex_encode(d, 16, etag);
    char blob[64];
    int bl = snprintf(blob, sizeof blob, "%s\n", etag);
    if (!rc && (fsetxattr(fd, S3_META_XATTR, blob, (size_t)bl, 0) < 0 || fdatasync(fd) < 0))
        rc = -errno;
    if (fd >= 0 && close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, dst) < 0)
        rc = -errno;
    if (rc && fd >= 0)
        unlink(tmp);
    EVP_MD_CTX_free(md5);
    hy_free(chunk);
    return rc;
}

/* "bytes=a-b" of x-amz-copy-source-range; 0 or -1. */
static int copy_range(const char *v, uint64_t size, uint64_t *start, uint64_t *len)
{
    unsigned long long a, b;
    char extra;
    if (sscanf(v, "bytes=%llu-%llu%c", &a, &b, &extra) != 2 || b < a || b >= size)
        return -1;
    *start = a;
    *len = b - a + 1;
    return 0;
}

void s3_multipart_upload_part(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                              const char *bucket, const char *key, size_t klen, int copy)
{
    struct upload u;
    upload_init(&u);
    struct s3_body body;
    int have_body = 0;
    struct s3_src src;
    int have_src = 0;
    long n;
    if (upload_get(s, r, q, bucket, key, klen, &u))
        goto out;
    if (part_number(q, &n)) {
        s3_error(r, 400, "InvalidArgument",
                 "Part number must be an integer between 1 and 10000, inclusive");
        goto out;
    }
    char etag[33];
    int rc;
    if (copy) {
        if (s3_src_open(s, r, &src))
            goto out;
        have_src = 1;
        uint64_t start = 0, len = src.size;
        char range[128];
        if (s3_header(r->req, "x-amz-copy-source-range", range, sizeof range) &&
            copy_range(range, src.size, &start, &len)) {
            s3_error(r, 400, "InvalidArgument", "The x-amz-copy-source-range value is invalid.");
            goto out;
        }
        rc = copy_part(&u, n, src.fd, start, len, etag);
        if (rc) {
            s3_error_errno(r, rc);
            goto out;
        }
        struct buf b;
        buf_init(&b, 1024);
        char t[40];
        s3_xml_time((int64_t)time(NULL), t, sizeof t);
        buf_printf(&b,
                   "<CopyPartResult xmlns=\"" S3_XMLNS "\"><LastModified>%s</LastModified>"
                   "<ETag>&quot;%s&quot;</ETag></CopyPartResult>",
                   t, etag);
        s3_reply_xml(r, 200, &b);
        buf_fini(&b);
        goto out;
    }
    if (r->stream) {
        if (s3_stream_finish(r, r->stream, etag))
            goto out;
        char dst[PATH_CAP];
        snprintf(dst, sizeof dst, "%s/%ld", u.dir.data, n);
        struct http_body_stream *st = r->stream;
        r->stream = NULL;
        rc = s3_stream_commit_part(st, dst, etag);
    } else {
        if (s3_body_get(r, &body)) {
            have_body = 1;
            goto out;
        }
        have_body = 1;
        unsigned char d[16];
        s3_store_md5(body.data, body.len, d);
        hex_encode(d, 16, etag);
        rc = write_part(&u, n, body.data, body.len, -1, 0, etag);
    }
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    char h[96];
    snprintf(h, sizeof h, "ETag: \"%s\"\r\n", etag);
    s3_reply_empty(r, 200, h);
out:
    if (have_body)
        s3_body_fini(&body);
    if (have_src)
        s3_src_close(&src);
    upload_fini(&u);
}

struct part {
    long num;
    uint64_t size;
    int64_t mtime;
    char etag[33];
};

static int part_cmp(const void *a, const void *b)
{
    const struct part *x = a, *y = b;
    return x->num < y->num ? -1 : x->num > y->num;
}

/* Every stored part of u, sorted by number. */
static int parts_load(struct upload *u, struct part **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(u->dir.data);
    if (!d)
        return -errno;
    struct part *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        char *end = NULL;
        long num = strtol(e->d_name, &end, 10);
        if (!end || *end || num < 1 || num > PART_MAX || e->d_name[0] == '0')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct part *nv = hy_realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = HY_ENOMEM;
                break;
            }
            v = nv;
        }
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        char blob[64];
        ssize_t bl = fgetxattr(fd, S3_META_XATTR, blob, sizeof blob - 1);
        if (fstat(fd, &st) == 0 && bl >= 33 && blob[32] == '\n') {
            v[n].num = num;
            v[n].size = (uint64_t)st.st_size;
            v[n].mtime = (int64_t)st.st_mtime;
            memcpy(v[n].etag, blob, 32);
            v[n].etag[32] = '\0';
            n++;
        }
        close(fd);
    }
    closedir(d);
    if (rc) {
        hy_free(v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, part_cmp);
    *out = v;
    *count = n;
    return 0;
}

void s3_multipart_list_parts(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                             const char *bucket, const char *key, size_t klen)
{
    struct upload u;
    upload_init(&u);
    struct part *parts = NULL;
    size_t np = 0;
    if (upload_get(s, r, q, bucket, key, klen, &u))
        goto out;
    int rc = parts_load(&u, &parts, &np);
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    long max = 1000, marker = 0;
    const struct s3_param *mp = s3_query_get(q, "max-parts");
    const struct s3_param *pm = s3_query_get(q, "part-number-marker");
    if (mp)
        max = strtol(mp->value, NULL, 10);
    if (pm)
        marker = strtol(pm->value, NULL, 10);
    if (max < 0 || max > 1000)
        max = 1000;
    struct buf b;
    buf_init(&b, XML_MAX);
    buf_printf(&b, "<ListPartsResult xmlns=\"" S3_XMLNS "\"><Bucket>%s</Bucket>", bucket);
    s3_xml_elem(&b, "Key", key, klen);
    buf_printf(&b,
               "<UploadId>%s</UploadId><Initiator><ID>hydrant</ID><DisplayName>hydrant"
               "</DisplayName></Initiator><Owner><ID>hydrant</ID><DisplayName>hydrant"
               "</DisplayName></Owner><StorageClass>STANDARD</StorageClass>"
               "<PartNumberMarker>%ld</PartNumberMarker>",
               u.id, marker);
    struct buf items;
    buf_init(&items, XML_MAX);
    long shown = 0, next = 0;
    int truncated = 0;
    for (size_t i = 0; i < np; i++) {
        if (parts[i].num <= marker)
            continue;
        if (shown == max) {
            truncated = 1;
            break;
        }
        char t[40];
        s3_xml_time(parts[i].mtime, t, sizeof t);
        buf_printf(&items,
                   "<Part><PartNumber>%ld</PartNumber><LastModified>%s</LastModified>"
                   "<ETag>&quot;%s&quot;</ETag><Size>%llu</Size></Part>",
                   parts[i].num, t, parts[i].etag, (unsigned long long)parts[i].size);
        next = parts[i].num;
        shown++;
    }
    buf_printf(&b,
               "<NextPartNumberMarker>%ld</NextPartNumberMarker><MaxParts>%ld</MaxParts>"
               "<IsTruncated>%s</IsTruncated>",
               next, max, truncated ? "true" : "false");
    buf_append(&b, items.data ? items.data : "", items.len);
    buf_append_str(&b, "</ListPartsResult>");
    s3_reply_xml(r, 200, &b);
    buf_fini(&items);
    buf_fini(&b);
out:
    hy_free(parts);
    upload_fini(&u);
}

static void invalid_part(struct s3_reply *r)
{
    s3_error(r, 400, "InvalidPart",
             "One or more of the specified parts could not be found. The part may not have been "
             "uploaded, or the specified entity tag may not match the part's entity tag.");
}

void s3_multipart_complete(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                           const char *bucket, const char *key, size_t klen)
{
    struct upload u;
    upload_init(&u);
    struct part *parts = NULL;
    size_t np = 0;
    struct s3_body body;
    int have_body = 0;
    struct s3_xml_req x = {0};
    int *fds = NULL;
    size_t nfds = 0;
    if (upload_get(s, r, q, bucket, key, klen, &u))
        goto out;
    have_body = 1;
    if (s3_body_get(r, &body))
        goto out;
    if (s3_xml_parse_complete(body.data, body.len, &x) || x.n == 0) {
        s3_error(r, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema");
        goto out;
    }
    int rc = parts_load(&u, &parts, &np);
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    /* Check the list: ascending numbers, each part stored with the given ETag (quotes or not),
     * every part but the last at least 5 MiB. */
    struct part **chosen = hy_calloc(x.n, sizeof *chosen);
    if (!chosen) {
        s3_error_errno(r, HY_ENOMEM);
        goto out;
    }
    int bad = 0;
    for (size_t i = 0; !bad && i < x.n; i++) {
        long num = x.items[i].num;
        if (num < 1 || (i > 0 && num <= x.items[i - 1].num)) {
            bad = 1;
            s3_error(r, 400, "InvalidPartOrder",
                     "The list of parts was not in ascending order. The parts list must be "
                     "specified in order by part number.");
            break;
        }
        struct part key_part = {.num = num};
        struct part *p = bsearch(&key_part, parts, np, sizeof *parts, part_cmp);
        const char *et = x.items[i].text;
        size_t el = x.items[i].len;
        if (el >= 2 && et[0] == '"' && et[el - 1] == '"') {
            et++;
            el -= 2;
        }
        if (!p || el != 32 || memcmp(et, p->etag, 32) != 0) {
            bad = 1;
            invalid_part(r);
            break;
        }
        chosen[i] = p;
    }
    for (size_t i = 0; !bad && i + 1 < x.n; i++)
        if (chosen[i]->size < PART_MIN_SIZE) {
            bad = 1;
            s3_error(r, 400, "EntityTooSmall",
                     "Your proposed upload is smaller than the minimum allowed object size.");
        }
    if (bad || s3_write_conditions(s, r, bucket, key, klen)) {
        hy_free(chosen);
        goto out;
    }
    /* md5 of the raw part md5s, then "-<count>". */
    unsigned char *raw = hy_malloc(16 * x.n);
    if (!raw) {
        hy_free(chosen);
        s3_error_errno(r, HY_ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < x.n; i++)
        for (int k = 0; k < 16; k++) {
            unsigned v = 0;
            sscanf(chosen[i]->etag + 2 * k, "%2x", &v);
            raw[16 * i + (size_t)k] = (unsigned char)v;
        }
    unsigned char d[16];
    s3_store_md5(raw, 16 * x.n, d);
    hy_free(raw);
    hex_encode(d, 16, u.meta.etag);
    snprintf(u.meta.etag + 32, sizeof u.meta.etag - 32, "-%zu", x.n);

    struct fssink_writer *w = NULL;
    rc = fssink_open(s->root, bucket, key, &w);
    struct buf blob;
    buf_init(&blob, 4 * S3_META_MAX);
    if (!rc)
        rc = s3_meta_encode(&u.meta, &blob);
    if (!rc)
        rc = fssink_set_xattr(w, S3_META_XATTR, blob.data, blob.len);
    buf_fini(&blob);
    for (size_t i = 0; !rc && i < x.n; i++) {
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/%ld", u.dir.data, chosen[i]->num);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        rc = fssink_write_from(w, fd, 0, chosen[i]->size);
        close(fd);
    }
    hy_free(chosen);
    if (rc) {
        fssink_abort(w);
        s3_error_errno(r, rc);
        goto out;
    }
    rc = fssink_commit(w);
    if (rc) {
        s3_error_errno(r, rc);
        goto out;
    }
    fsutil_remove_tree(u.dir.data);
    struct buf b;
    buf_init(&b, 16 * S3_KEY_MAX);
    buf_printf(&b, "<CompleteMultipartUploadResult xmlns=\"" S3_XMLNS "\"><Location>");
    struct buf loc;
    buf_init(&loc, 8 * S3_KEY_MAX);
    buf_printf(&loc, "/%s/", bucket);
    s3_query_encode(key, klen, 1, &loc);
    s3_xml_escape(&b, loc.data, loc.len);
    buf_fini(&loc);
    buf_printf(&b, "</Location><Bucket>%s</Bucket>", bucket);
    s3_xml_elem(&b, "Key", key, klen);
    buf_printf(&b, "<ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>", u.meta.etag);
    s3_reply_xml(r, 200, &b);
    buf_fini(&b);
out:
    (void)fds;
    (void)nfds;
    s3_xml_req_fini(&x);
    if (have_body)
        s3_body_fini(&body);
    hy_free(parts);
    upload_fini(&u);
}

void s3_multipart_abort(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                        const char *bucket, const char *key, size_t klen)
{
    struct upload u;
    upload_init(&u);
    if (upload_get(s, r, q, bucket, key, klen, &u) == 0) {
        int rc = fsutil_remove_tree(u.dir.data);
        if (rc)
            s3_error_errno(r, rc);
        else
            s3_reply_empty(r, 204, NULL);
    }
    upload_fini(&u);
}

struct listed {
    char id[33];
    char *key;
    size_t klen;
    int64_t initiated;
};

static int listed_cmp(const void *a, const void *b)
{
    const struct listed *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->initiated < y->initiated ? -1 : x->initiated > y->initiated;
}

void s3_multipart_list(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                       const char *bucket)
{
    const struct s3_param *pp = s3_query_get(q, "prefix");
    const char *prefix = pp ? pp->value : "";
    size_t plen = pp ? pp->value_len : 0;
    struct buf dir;
    buf_init(&dir, PATH_CAP);
    buf_printf(&dir, "%s/" S3_MPU_DIR, s->root);
    struct listed *v = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir.data);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        struct upload u;
        upload_init(&u);
        if (upload_load(s, e->d_name, strlen(e->d_name), &u) == 0 &&
            strcmp(u.bucket.data, bucket) == 0 && u.key.len >= plen &&
            memcmp(u.key.data, prefix, plen) == 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                struct listed *nv = hy_realloc(v, cap * sizeof *nv);
                if (nv)
                    v = nv;
                else
                    cap = n;
            }
            char *k = n < cap ? hy_malloc(u.key.len + 1) : NULL;
            if (k) {
                memcpy(k, u.key.data, u.key.len + 1);
                memcpy(v[n].id, u.id, 33);
                v[n].key = k;
                v[n].klen = u.key.len;
                v[n].initiated = u.initiated;
                n++;
            }
        }
        upload_fini(&u);
    }
    if (d)
        closedir(d);
    if (n > 1)
        qsort(v, n, sizeof *v, listed_cmp);
    struct buf b;
    buf_init(&b, XML_MAX);
    buf_printf(&b,
               "<ListMultipartUploadsResult xmlns=\"" S3_XMLNS "\"><Bucket>%s</Bucket>"
               "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>",
               bucket);
    s3_xml_elem(&b, "Prefix", prefix, plen);
    buf_printf(&b, "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>");
    for (size_t i = 0; i < n; i++) {
        char t[40];
        s3_xml_time(v[i].initiated, t, sizeof t);
        buf_append_str(&b, "<Upload>");
        s3_xml_elem(&b, "Key", v[i].key, v[i].klen);
        buf_printf(&b,
                   "<UploadId>%s</UploadId><Initiator><ID>hydrant</ID><DisplayName>hydrant"
                   "</DisplayName></Initiator><Owner><ID>hydrant</ID><DisplayName>hydrant"
                   "</DisplayName></Owner><StorageClass>STANDARD</StorageClass>"
                   "<Initiated>%s</Initiated></Upload>",
                   v[i].id, t);
        hy_free(v[i].key);
    }
    hy_free(v);
    buf_append_str(&b, "</ListMultipartUploadsResult>");
    s3_reply_xml(r, 200, &b);
    buf_fini(&b);
    buf_fini(&dir);
}
