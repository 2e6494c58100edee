#include "base/fsutil.h"

#include "base/err.h"
#include "base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsutil_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

static int parent_of(const char *path, char *out, size_t outsz)
{
    size_t n = strlen(path);
    if (n >= outsz)
        return -ENAMETOOLONG;
    memcpy(out, path, n + 1);
    char *slash = strrchr(out, '/');
    if (!slash) {
        out[0] = '.';
        out[1] = '\0';
    } else if (slash == out) {
        out[1] = '\0';
    } else {
        *slash = '\0';
    }
    return 0;
}

int fsutil_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    int rc = parent_of(path, dir, sizeof dir);
    if (rc)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd)) {
        rc = -errno;
        goto fail;
    }
    if (close(fd)) {
        fd = -1;
        rc = -errno;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path)) {
        rc = -errno;
        goto fail;
    }
    return fsutil_fsync_dir(dir);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

int fsutil_read_all(const char *path, char **out, size_t *out_len, size_t max_len)
{
    int rc = 0;
    char *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st)) {
        rc = -errno;
        goto fail;
    }
    if ((size_t)st.st_size > max_len) {
        rc = HY_E2BIG;
        goto fail;
    }
    data = hy_malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = HY_ENOMEM;
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    data[got] = '\0';
    close(fd);
    *out = data;
    *out_len = got;
    return 0;
fail:
    hy_free(data);
    close(fd);
    return rc;
}

int fsutil_mkdirs(const char *path, int mode)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, (mode_t)mode) == 0) {
            /* Make the new entry durable in its parent. */
            char parent[PATH_MAX];
            if (parent_of(p, parent, sizeof parent) == 0)
                fsutil_fsync_dir(parent);
        } else if (errno != EEXIST) {
            return -errno;
        } else {
            struct stat st;
            if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
                return -ENOTDIR;
        }
        p[i] = saved;
    }
    return 0;
}

int fsutil_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR)
            return unlink(path) ? -errno : 0;
        return -errno;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof child) {
            rc = -ENAMETOOLONG;
            continue;
        }
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
            int r = fsutil_remove_tree(child);
            if (r)
                rc = r;
        } else if (unlink(child) && errno != ENOENT) {
            rc = -errno;
        }
    }
    closedir(d);
    if (rmdir(path) && errno != ENOENT)
        rc = -errno;
    return rc;
}
