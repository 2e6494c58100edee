#include "sink/fssink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"

#define PATH_CAP 4096
#define IOV_WINDOW 64 /* iovecs per writev; well under IOV_MAX */

static int fs_put(void *ctx, const struct sink_object *obj)
{
    return fssink_put((const char *)ctx, obj);
}

const struct sink_ops fssink_ops = {
    .name = "fs",
    .put = fs_put,
};

/* A segment is unsafe if it is empty, "." or "..": the first two would make distinct S3 keys
 * share one file, the last would escape the bucket. One longer than NAME_MAX can never be a
 * file or directory: every put would fail with ENAMETOOLONG, so it is refused here, where
 * callers can still choose another name. */
static int segment_ok(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX)
        return 0;
    if (n == 1 && s[0] == '.')
        return 0;
    if (n == 2 && s[0] == '.' && s[1] == '.')
        return 0;
    return 1;
}

int fssink_check_name(const char *bucket, const char *key)
{
    if (!bucket || !key || strchr(bucket, '/') || !segment_ok(bucket, strlen(bucket)))
        return HY_EINVAL;
    const char *p = key;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!segment_ok(p, n))
            return HY_EINVAL;
        if (!slash)
            break;
        p = slash + 1;
    }
    return 0;
}

/* Write every byte of obj to fd, resuming after short writes. */
static int write_all(int fd, const struct sink_object *obj)
{
    size_t idx = 0, off = 0; /* position: iov[idx] + off */
    while (idx < obj->iovcnt) {
        struct iovec win[IOV_WINDOW];
        int n = 0;
        for (size_t i = idx; i < obj->iovcnt && n < IOV_WINDOW; i++) {
            size_t skip = i == idx ? off : 0;
            if (obj->iov[i].iov_len == skip)
                continue;
            win[n].iov_base = (char *)obj->iov[i].iov_base + skip;
            win[n].iov_len = obj->iov[i].iov_len - skip;
            n++;
        }
        if (n == 0)
            break; /* only empty iovecs remain */
        ssize_t w = writev(fd, win, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        size_t left = (size_t)w;
        while (idx < obj->iovcnt && left >= obj->iov[idx].iov_len - off) {
            left -= obj->iov[idx].iov_len - off;
            idx++;
            off = 0;
        }
        off += left;
    }
    return 0;
}

int fssink_put(const char *s3_root, const struct sink_object *obj)
{
    struct buf path, tmp;
    int fd = -1, rc;

    buf_init(&path, PATH_CAP);
    buf_init(&tmp, PATH_CAP);
    if ((rc = fssink_check_name(obj->bucket, obj->key)) < 0)
        goto out;
    if ((rc = buf_printf(&path, "%s/%s/%s", s3_root, obj->bucket, obj->key)) < 0)
        goto out;

    /* Split into directory and basename to make the parents and name the temp file. */
    char *slash = strrchr(path.data, '/');
    HY_ASSERT(slash); /* cannot fail: the format above put a '/' before the key */
    size_t dir_len = (size_t)(slash - path.data);
    const char *base = slash + 1;
    /* The temp name must fit NAME_MAX like the final one, so a long basename is shortened in
     * it; the thread id alone keeps concurrent puts apart. */
    char suffix[32];
    int suffix_len = snprintf(suffix, sizeof(suffix), ".tmp.%ld", (long)gettid());
    HY_ASSERT(suffix_len > 0 && (size_t)suffix_len < sizeof(suffix)); /* a long has <= 20 digits */
    int base_len = (int)strlen(base);
    if (base_len > NAME_MAX - 1 - suffix_len)
        base_len = NAME_MAX - 1 - suffix_len;
    if ((rc = buf_append(&tmp, path.data, dir_len)) < 0 ||
        (rc = buf_printf(&tmp, "/.%.*s%s", base_len, base, suffix)) < 0)
        goto out;

    *slash = '\0';
    rc = fsutil_mkdirs(path.data, 0755);
    *slash = '/';
    if (rc < 0)
        goto out;

    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = write_all(fd, obj)) < 0)
        goto fail;
    /* The data must be on disk before the rename makes it visible under the final name. */
    if (fsync(fd) < 0) {
        rc = -errno;
        goto fail;
    }
    /* hydrant never reads an object back: its clean pages only crowd out the log's. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    rc = close(fd);
    fd = -1;
    if (rc < 0) {
        rc = -errno;
        goto fail;
    }
    if (rename(tmp.data, path.data) < 0) {
        rc = -errno;
        goto fail;
    }
    /* The rename itself is durable only once the directory is synced. */
    *slash = '\0';
    rc = fsutil_fsync_dir(path.data);
    *slash = '/';
    goto out;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp.data);
out:
    buf_fini(&tmp);
    buf_fini(&path);
    return rc;
}
