#include "sink/fssink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/mem.h"

#define PATH_CAP 4096
#define IOV_WINDOW 64 /* iovecs per writev; well under IOV_MAX */

struct fssink_writer {
    int fd;          /* the temp file, open for writing */
    struct buf path; /* <s3_root>/<bucket>/<key> */
    struct buf tmp;  /* the temp file beside it */
    size_t dir_len;  /* path[0..dir_len) is the parent directory */
    uint64_t off;    /* bytes written so far */
    uint64_t kicked; /* bytes already handed to writeback */
};

/* Distinguishes temp files of writers open at the same time, in one thread or several. */
static _Atomic unsigned long temp_counter;

static int fs_open(void *ctx, const char *bucket, const char *key, void **w)
{
    struct fssink_writer *fw = NULL;
    int rc = fssink_open((const char *)ctx, bucket, key, &fw);
    if (rc == 0)
        *w = fw;
    return rc;
}

static int fs_write(void *w, const struct iovec *iov, size_t n)
{
    return fssink_write(w, iov, n);
}

static int fs_commit(void *w)
{
    return fssink_commit(w);
}

static void fs_abort(void *w)
{
    fssink_abort(w);
}

static int fs_recover(void *ctx)
{
    int rc = fsutil_mkdirs(ctx, 0755);
    return rc ? rc : fssink_sweep(ctx);
}

const struct sink_ops fssink_ops = {
    .name = "fs",
    .recover = fs_recover,
    .open = fs_open,
    .write = fs_write,
    .commit = fs_commit,
    .abort = fs_abort,
};

/* A bucket is one directory of s3_root: not empty, ".", ".." or hidden (FSSINK_TMP_DIR is
 * s3_root's own, and S3 bucket names start with a letter or digit anyway), no '/', and short
 * enough to be a file name. */
static int bucket_ok(const char *b)
{
    size_t n = strlen(b);
    return n > 0 && n <= NAME_MAX && b[0] != '.' && !strchr(b, '/');
}

/* Append the path components of one key segment s[0..n) (see fssink.h). */
static int segment_path(const char *s, size_t n, struct buf *out)
{
    int rc = 0;
    /* A segment too long for one file name goes in chunks, each "%+" and FSSINK_CHUNK_LEN bytes;
     * the rest (1 to FSSINK_CHUNK_LEN bytes) follows as a segment of its own. */
    while (!rc && n > FSSINK_CHUNK_LEN) {
        rc = buf_append_str(out, FSSINK_ESCAPE "+");
        if (!rc)
            rc = buf_append(out, s, FSSINK_CHUNK_LEN);
        if (!rc)
            rc = buf_append_str(out, "/");
        s += FSSINK_CHUNK_LEN;
        n -= FSSINK_CHUNK_LEN;
    }
    int escape = n == 0 || s[0] == FSSINK_ESCAPE[0] || (n == 1 && s[0] == '.') ||
                 (n == 2 && s[0] == '.' && s[1] == '.');
    if (!rc && escape)
        rc = buf_append_str(out, FSSINK_ESCAPE);
    if (!rc)
        rc = buf_append(out, s, n);
    return rc;
}

int fssink_key_path(const char *key, size_t key_len, struct buf *out)
{
    size_t old = out->len;
    const char *p = key, *end = key + key_len;
    int rc = 0;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (memchr(p, '\0', n)) {
            rc = HY_EINVAL; /* no file name can hold a NUL */
            break;
        }
        rc = segment_path(p, n, out);
        if (rc || !slash)
            break;
        rc = buf_append_str(out, "/");
        if (rc)
            break;
        p = slash + 1;
    }
    if (rc)
        buf_truncate(out, old);
    return rc;
}

int fssink_path_key(const char *path, size_t path_len, struct buf *out)
{
    size_t old = out->len;
    const char *p = path, *end = path + path_len;
    int rc = 0, chunked = 0;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
        int chunk = n >= 2 && p[0] == FSSINK_ESCAPE[0] && p[1] == '+';
        const char *v = p;
        size_t vn = n;
        if (chunk) {
            v += 2;
            vn -= 2;
            /* Only the encoder's chunks: full length and followed by more. */
            if (vn != FSSINK_CHUNK_LEN || !slash)
                rc = HY_EINVAL;
        } else if (n && p[0] == FSSINK_ESCAPE[0]) {
            v++;
            vn--;
            /* Escaped only when needed, so that every key has exactly one path. */
            int needed = vn == 0 || v[0] == FSSINK_ESCAPE[0] || (vn == 1 && v[0] == '.') ||
                         (vn == 2 && v[0] == '.' && v[1] == '.');
            if (!needed)
                rc = HY_EINVAL;
        } else if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            rc = HY_EINVAL;
        }
        /* A longer segment would have been chunked, and the rest of one is never empty. */
        if (!rc && !chunk && (vn > FSSINK_CHUNK_LEN || (chunked && vn == 0)))
            rc = HY_EINVAL;
        if (!rc)
            rc = buf_append(out, v, vn);
        if (!rc && slash && !chunk)
            rc = buf_append_str(out, "/");
        if (rc || !slash)
            break;
        chunked = chunk;
        p = slash + 1;
    }
    if (rc)
        buf_truncate(out, old);
    return rc;
}

int fssink_sweep(const char *s3_root)
{
    struct buf dir;
    buf_init(&dir, PATH_CAP);
    int rc = buf_printf(&dir, "%s/" FSSINK_TMP_DIR, s3_root);
    if (rc == 0)
        rc = fsutil_remove_tree(dir.data);
    buf_fini(&dir);
    return rc;
}

int fssink_check_name(const char *bucket, const char *key)
{
    if (!bucket || !key || !bucket_ok(bucket))
        return HY_EINVAL;
    return 0;
}

static void writer_free(struct fssink_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    buf_fini(&w->tmp);
    buf_fini(&w->path);
    hy_free(w);
}

int fssink_open(const char *s3_root, const char *bucket, const char *key,
                struct fssink_writer **out)
{
    struct fssink_writer *w = hy_calloc(1, sizeof(*w));
    int rc;

    if (!w)
        return HY_ENOMEM;
    w->fd = -1;
    buf_init(&w->path, PATH_CAP);
    buf_init(&w->tmp, PATH_CAP);
    if ((rc = fssink_check_name(bucket, key)) < 0)
        goto fail;
    if ((rc = buf_printf(&w->path, "%s/%s/", s3_root, bucket)) < 0 ||
        (rc = fssink_key_path(key, strlen(key), &w->path)) < 0)
        goto fail;

    /* The parent directories of the object; the temp file lives in <s3_root>/.tmp (never a
     * bucket: bucket names cannot start with '.'), so a crash leaves nothing inside a bucket and
     * fssink_sweep clears the leftovers at start without walking the buckets. */
    char *slash = strrchr(w->path.data, '/');
    HY_ASSERT(slash); /* cannot fail: the format above put a '/' before the key */
    w->dir_len = (size_t)(slash - w->path.data);
    unsigned long n = atomic_fetch_add_explicit(&temp_counter, 1, memory_order_relaxed);
    if ((rc = buf_printf(&w->tmp, "%s/" FSSINK_TMP_DIR, s3_root)) < 0 ||
        (rc = fsutil_mkdirs(w->tmp.data, 0755)) < 0 ||
        (rc = buf_printf(&w->tmp, "/%lu.%ld", n, (long)gettid())) < 0)
        goto fail;

    *slash = '\0';
    rc = fsutil_mkdirs(w->path.data, 0755);
    *slash = '/';
    if (rc < 0)
        goto fail;

    w->fd = open(w->tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = -errno;
        goto fail;
    }
    *out = w;
    return 0;
fail:
    writer_free(w);
    return rc;
}

int fssink_write(struct fssink_writer *w, const struct iovec *iov, size_t n)
{
    size_t idx = 0, off = 0; /* position: iov[idx] + off */
    while (idx < n) {
        struct iovec win[IOV_WINDOW];
        int cnt = 0;
        for (size_t i = idx; i < n && cnt < IOV_WINDOW; i++) {
            size_t skip = i == idx ? off : 0;
            if (iov[i].iov_len == skip)
                continue;
            win[cnt].iov_base = (char *)iov[i].iov_base + skip;
            win[cnt].iov_len = iov[i].iov_len - skip;
            cnt++;
        }
        if (cnt == 0)
            break; /* only empty iovecs remain */
        ssize_t wr = writev(w->fd, win, cnt);
        if (wr < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        w->off += (uint64_t)wr;
        size_t left = (size_t)wr;
        while (idx < n && left >= iov[idx].iov_len - off) {
            left -= iov[idx].iov_len - off;
            idx++;
            off = 0;
        }
        off += left;
    }
    if (w->off - w->kicked >= FSSINK_WRITEBACK_LEN) {
        /* Start writeback of what this object has dirtied so far without waiting for it, so
         * the disk takes the object in steps while it is written and the fsync at commit finds
         * little left to do. A failure here is only a lost hint: fsync reports real errors. */
        (void)sync_file_range(w->fd, (off_t)w->kicked, (off_t)(w->off - w->kicked),
                              SYNC_FILE_RANGE_WRITE);
        w->kicked = w->off;
    }
    return 0;
}

int fssink_set_xattr(struct fssink_writer *w, const char *name, const void *value, size_t len)
{
    return fsetxattr(w->fd, name, value, len, 0) < 0 ? -errno : 0;
}

int fssink_write_from(struct fssink_writer *w, int fd, uint64_t off, uint64_t len)
{
    while (len) {
        loff_t in_off = (loff_t)off;
        size_t step = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(fd, &in_off, w->fd, NULL, step, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
            /* Another filesystem or no kernel support: copy through a buffer. */
            char tmp[65536];
            n = pread(fd, tmp, step < sizeof tmp ? step : sizeof tmp, (off_t)off);
            if (n > 0) {
                struct iovec v = {tmp, (size_t)n};
                int rc = fssink_write(w, &v, 1);
                if (rc)
                    return rc;
                off += (uint64_t)n;
                len -= (uint64_t)n;
                continue;
            }
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return HY_EBADMSG; /* the source is shorter than it said */
        off += (uint64_t)n;
        len -= (uint64_t)n;
        w->off += (uint64_t)n;
    }
    return 0;
}

int fssink_commit(struct fssink_writer *w)
{
    int rc;
    /* The data must be on disk before the rename makes it visible under the final name. */
    if (fsync(w->fd) < 0) {
        rc = -errno;
        goto fail;
    }
    /* hydrant never reads an object back: its clean pages only crowd out the log's. */
    posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
    rc = close(w->fd);
    w->fd = -1;
    if (rc < 0) {
        rc = -errno;
        goto fail;
    }
    if (rename(w->tmp.data, w->path.data) < 0) {
        rc = -errno;
        goto fail;
    }
    /* The rename itself is durable only once the directory is synced. */
    w->path.data[w->dir_len] = '\0';
    rc = fsutil_fsync_dir(w->path.data);
    writer_free(w);
    return rc;
fail:
    fssink_abort(w);
    return rc;
}

void fssink_abort(struct fssink_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    unlink(w->tmp.data);
    writer_free(w);
}
