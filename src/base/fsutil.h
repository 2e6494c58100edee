/*
 * fsutil: durable file-system steps used by the log, the catalog and the local object store.
 * All calls block on disk I/O; thread-safe (no shared state). Return 0 or -errno.
 */
#ifndef HY_FSUTIL_H
#define HY_FSUTIL_H

#include <stddef.h>

/* Write data to path atomically and durably: path.tmp, fsync, rename, fsync of the directory. */
int fsutil_write_atomic(const char *path, const void *data, size_t len);
/* Read a whole file into a hy_malloc'ed, NUL-terminated buffer (caller frees with hy_free). */
int fsutil_read_all(const char *path, char **out, size_t *out_len, size_t max_len);
/* mkdir -p, each created level fsynced into its parent. */
int fsutil_mkdirs(const char *path, int mode);
/* fsync a directory by path. */
int fsutil_fsync_dir(const char *path);
/* Remove a directory tree (rm -rf); missing is not an error. */
int fsutil_remove_tree(const char *path);

#endif
