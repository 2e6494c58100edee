/*
 * s3_store: the S3 front's view of the local buckets: name rules, object paths (fssink's
 * reversible key mapping), the metadata attribute, and listing by walking a bucket directory.
 * Listing sorts the keys by unsigned bytes after the walk, because directory order is not S3
 * order ("a-b" < "a/b"); only the directory of the prefix's complete segments is walked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "api/s3/s3_int.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/mem.h"
#include "sink/fssink.h"

#define PATH_CAP 8192

int s3_store_bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
        if (c == '.' && i + 1 < n && b[i + 1] == '.')
            return 0;
    }
    char first = b[0], last = b[n - 1];
    if (first == '.' || first == '-' || last == '.' || last == '-')
        return 0;
    /* Not an IPv4 address: four dot-separated runs of digits. */
    int dots = 0, digits_only = 1;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '.')
            dots++;
        else if (b[i] < '0' || b[i] > '9')
            digits_only = 0;
    }
    if (digits_only && dots == 3)
        return 0;
    static const char *const bad_start[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    static const char *const bad_end[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3"};
    for (size_t i = 0; i < 3; i++)
        if (n >= strlen(bad_start[i]) && memcmp(b, bad_start[i], strlen(bad_start[i])) == 0)
            return 0;
    for (size_t i = 0; i < 4; i++) {
        size_t k = strlen(bad_end[i]);
        if (n >= k && memcmp(b + n - k, bad_end[i], k) == 0)
            return 0;
    }
    return 1;
}

int s3_store_key_ok(const char *key, size_t n)
{
    if (n == 0 || n > S3_KEY_MAX)
        return 0;
    const unsigned char *s = (const unsigned char *)key;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || i + len > n)
            return 0;
        unsigned v = c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
            (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

int s3_store_bucket_path(const struct s3 *s, const char *bucket, struct buf *out)
{
    return buf_printf(out, "%s/%s", s->root, bucket);
}

int s3_store_object_path(const struct s3 *s, const char *bucket, const char *key, size_t klen,
                         struct buf *out)
{
    int rc = buf_printf(out, "%s/%s/", s->root, bucket);
    if (!rc)
        rc = fssink_key_path(key, klen, out);
    return rc;
}

int s3_store_bucket_exists(const struct s3 *s, const char *bucket)
{
    struct buf p;
    buf_init(&p, PATH_CAP);
    struct stat st;
    int ok =
        s3_store_bucket_path(s, bucket, &p) == 0 && stat(p.data, &st) == 0 && S_ISDIR(st.st_mode);
    buf_fini(&p);
    return ok;
}

void s3_meta_init(struct s3_meta *m)
{
    m->etag[0] = '\0';
    buf_init(&m->headers, 2 * S3_META_MAX + 1024);
}

void s3_meta_fini(struct s3_meta *m)
{
    buf_fini(&m->headers);
}

int s3_meta_encode(const struct s3_meta *m, struct buf *out)
{
    int rc = buf_printf(out, "%s\n", m->etag);
    if (!rc && m->headers.len)
        rc = buf_append(out, m->headers.data, m->headers.len);
    return rc;
}

int s3_meta_decode(const char *blob, size_t len, struct s3_meta *m)
{
    const char *nl = memchr(blob, '\n', len);
    if (!nl || (size_t)(nl - blob) >= sizeof m->etag)
        return HY_EBADMSG;
    size_t el = (size_t)(nl - blob);
    memcpy(m->etag, blob, el);
    m->etag[el] = '\0';
    buf_reset(&m->headers);
    return buf_append(&m->headers, nl + 1, len - el - 1);
}

void s3_store_md5(const void *p, size_t n, unsigned char out[16])
{
    unsigned dl = 0;
    unsigned char d[EVP_MAX_MD_SIZE];
    if (EVP_Digest(p, n, d, &dl, EVP_md5(), NULL) != 1)
        memset(d, 0, 16); /* only fails without memory: a wrong ETag, not a crash */
    memcpy(out, d, 16);
}

int s3_store_md5_fd(int fd, char hex[33])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return HY_ENOMEM;
    int rc = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 ? 0 : HY_ENOMEM;
    char *chunk = rc ? NULL : hy_malloc(1 << 20);
    if (!rc && !chunk)
        rc = HY_ENOMEM;
    off_t off = 0;
    while (!rc) {
        ssize_t n = pread(fd, chunk, 1 << 20, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, chunk, (size_t)n);
        off += n;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    if (!rc && EVP_DigestFinal_ex(ctx, d, &dl) != 1)
        rc = HY_ENOMEM;
    if (!rc)
        hex_encode(d, 16, hex);
    hy_free(chunk);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int s3_store_meta_load(int fd, struct s3_meta *m)
{
    char blob[2 * S3_META_MAX + 1024];
    ssize_t n = fgetxattr(fd, S3_META_XATTR, blob, sizeof blob);
    if (n > 0 && s3_meta_decode(blob, (size_t)n, m) == 0)
        return 0;
    /* Written by a stream's delivery (no attribute): the ETag is the MD5, computed once. */
    buf_reset(&m->headers);
    char hex[33];
    int rc = s3_store_md5_fd(fd, hex);
    if (rc)
        return rc;
    memcpy(m->etag, hex, 33);
    struct buf b;
    buf_init(&b, sizeof blob);
    if (s3_meta_encode(m, &b) == 0)
        (void)fsetxattr(fd, S3_META_XATTR, b.data, b.len, 0); /* only a cache: best effort */
    buf_fini(&b);
    return 0;
}

void s3_store_prune(const char *path, size_t bucket_dir_len)
{
    char tmp[PATH_CAP];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return;
    memcpy(tmp, path, n + 1);
    for (;;) {
        char *slash = strrchr(tmp, '/');
        if (!slash || (size_t)(slash - tmp) <= bucket_dir_len)
            return;
        *slash = '\0';
        if (rmdir(tmp) < 0)
            return; /* not empty (or gone): stop */
    }
}

void s3_keys_fini(struct s3_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        hy_free(k->v[i].key);
    hy_free(k->v);
    memset(k, 0, sizeof *k);
}

struct walk {
    struct s3_keys *out;
    const char *prefix;
    size_t plen;
    struct buf rel; /* path below the bucket directory */
    struct buf key;
};

static int keys_push(struct s3_keys *k, const char *key, size_t len)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        struct s3_key *v = hy_realloc(k->v, cap * sizeof *v);
        if (!v)
            return HY_ENOMEM;
        k->v = v;
        k->cap = cap;
    }
    char *c = hy_malloc(len + 1);
    if (!c)
        return HY_ENOMEM;
    memcpy(c, key, len);
    c[len] = '\0';
    k->v[k->n].key = c;
    k->v[k->n].len = len;
    k->n++;
    return 0;
}

static int walk_dir(struct walk *w, int dfd)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t old = w->rel.len;
        if (old)
            rc = buf_append_str(&w->rel, "/");
        if (!rc)
            rc = buf_append_str(&w->rel, e->d_name);
        if (rc)
            break;
        unsigned char type = e->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                rc = walk_dir(w, sub);
        } else if (type == DT_REG) {
            buf_reset(&w->key);
            /* A file name that is no encoder output was not put there by hydrant: skip it. */
            if (fssink_path_key(w->rel.data, w->rel.len, &w->key) == 0 && w->key.len >= w->plen &&
                memcmp(w->key.data, w->prefix, w->plen) == 0)
                rc = keys_push(w->out, w->key.data, w->key.len);
        }
        buf_truncate(&w->rel, old);
    }
    closedir(d);
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    const struct s3_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

int s3_store_list(const struct s3 *s, const char *bucket, const char *prefix, size_t plen,
                  struct s3_keys *out)
{
    memset(out, 0, sizeof *out);
    struct walk w = {.out = out, .prefix = prefix, .plen = plen};
    buf_init(&w.rel, PATH_CAP);
    buf_init(&w.key, 4 * S3_KEY_MAX);
    struct buf dir;
    buf_init(&dir, PATH_CAP);
    int rc = s3_store_bucket_path(s, bucket, &dir);
    int bfd = rc ? -1 : open(dir.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!rc && bfd < 0)
        rc = -errno;
    /* Start at the directory of the prefix's complete segments, when it exists. */
    const char *last = plen ? memrchr(prefix, '/', plen) : NULL;
    if (!rc && last) {
        rc = fssink_key_path(prefix, (size_t)(last - prefix), &w.rel);
        int sub = rc ? -1 : openat(bfd, w.rel.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!rc && sub < 0) {
            rc = 0;
            goto done; /* nothing under that prefix */
        }
        if (!rc)
            rc = walk_dir(&w, sub);
    } else if (!rc) {
        int sub = dup(bfd);
        rc = sub < 0 ? -errno : walk_dir(&w, sub);
    }
    if (!rc && out->n > 1)
        qsort(out->v, out->n, sizeof out->v[0], key_cmp);
done:
    if (bfd >= 0)
        close(bfd);
    buf_fini(&dir);
    buf_fini(&w.rel);
    buf_fini(&w.key);
    if (rc)
        s3_keys_fini(out);
    return rc;
}
