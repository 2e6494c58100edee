/*
 * fssink: the embedded local bucket store. An object bucket/key lives in the file
 * <s3_root>/<bucket>/<key>; key slashes become directories. A writer streams the object into a
 * temp file in <s3_root>/.tmp (one name per writer, from a process-wide counter), handing every
 * FSSINK_WRITEBACK_LEN bytes to writeback as they come. Commit fsyncs the temp file, renames it
 * over the target and fsyncs the target's directory, so readers see the old object or the new
 * one, never a partial one. A crash leaves at most temp files in <s3_root>/.tmp, which
 * fssink_sweep removes at start; buckets never hold anything but objects. <s3_root> must be one
 * filesystem (the rename does not cross filesystems). Writing the same key again replaces the
 * object.
 *
 * Every S3 key has a file, by a reversible encoding of its '/'-separated segments (so an S3 REST
 * front can list keys back from paths with fssink_path_key). A segment is its own path
 * component, except:
 *
 *     segment                          component(s)
 *     "" (from "//", a leading or      "%"
 *        trailing '/')
 *     "."  ".."                        "%."  "%.."
 *     "%..." (starts with '%')         "%%..."
 *     longer than FSSINK_CHUNK_LEN     "%+<253 bytes>/" repeated while more than 253 bytes are
 *                                      left, then the rest (1-253 bytes) by the rules above
 *
 * e.g. "../a//b/" -> "%../a/%/b/%". A component that starts with '%' is always an escape, so
 * the mapping is injective, and every component is a usable file name (at most NAME_MAX bytes,
 * never "." or ".."), so no key escapes its bucket. Keys without such segments (every key
 * Firehose's default prefix makes) are stored as <bucket>/<key> unchanged. A key holding a NUL
 * has no file. One limit remains: a key that is a directory of another ("a" and "a/b") cannot
 * exist at the same time; opening the second fails with -ENOTDIR or -EISDIR.
 *
 * Thread-safe: each writer has its own temp file and is used by one thread.
 */
#ifndef HY_FSSINK_H
#define HY_FSSINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sink/sink.h"

struct buf;

/* Bytes written between two writeback kicks (sync_file_range): the object reaches the disk in
 * steps of this size instead of in one burst at commit, which would stall the log's fdatasyncs
 * on the same disk. */
#define FSSINK_WRITEBACK_LEN (8u * 1024 * 1024)
/* Where temp files live, under s3_root. */
#define FSSINK_TMP_DIR ".tmp"

struct fssink_writer;

/* sink_ops for the local store; its ctx is the s3_root string (const char *). */
extern const struct sink_ops fssink_ops;

/* Create the parent directories and the temp file for <s3_root>/<bucket>/<key>. Returns 0 and
 * sets *out (end it with fssink_commit or fssink_abort), HY_EINVAL for an unsafe bucket or key,
 * HY_ENOMEM, or -errno; on error no temp file is left. Blocks on disk I/O. */
int fssink_open(const char *s3_root, const char *bucket, const char *key,
                struct fssink_writer **out);
/* Append iov[0..n) to the temp file, resuming after short writes. 0 or -errno (then abort). */
int fssink_write(struct fssink_writer *w, const struct iovec *iov, size_t n);
/* fsync, rename over the target and fsync the directory; frees w. Returns 0 once the object is
 * durable and visible, or -errno with the temp file removed and the previous object untouched
 * (a failed directory fsync may leave the new object visible but not yet durable). */
int fssink_commit(struct fssink_writer *w);
/* Close and remove the temp file; frees w. NULL is a no-op. */
void fssink_abort(struct fssink_writer *w);

/* Set the extended attribute name on the temp file (it travels with the object through the
 * rename: the S3 front keeps an object's metadata there). 0 or -errno. */
int fssink_set_xattr(struct fssink_writer *w, const char *name, const void *value, size_t len);
/* Append len bytes of the file fd from offset off (copy_file_range, falling back to
 * read/write). 0, or -errno / HY_EBADMSG if fd ends early (then abort). */
int fssink_write_from(struct fssink_writer *w, int fd, uint64_t off, uint64_t len);

/* Remove the temp files a previous process left in <s3_root>/.tmp. Call before any writer is
 * open (at start); 0 or -errno. */
int fssink_sweep(const char *s3_root);

/* The escape character of the key encoding, and the payload bytes of a chunk component. */
#define FSSINK_ESCAPE "%"
#define FSSINK_CHUNK_LEN 253 /* NAME_MAX minus "%+" */

/* 0 if bucket names a usable bucket directory (1 to NAME_MAX bytes, no '/', not starting with
 * '.'), else HY_EINVAL. Every key maps to a path, so key only has to be non-NULL. */
int fssink_check_name(const char *bucket, const char *key);
/* Append the relative path (below the bucket directory) of key[0..key_len) to out, encoded as
 * above. 0, HY_EINVAL for a key holding a NUL, or HY_E2BIG/HY_ENOMEM (out then unchanged). */
int fssink_key_path(const char *key, size_t key_len, struct buf *out);
/* The inverse: append the key whose relative path is path[0..path_len) to out. 0, HY_EINVAL if
 * the path is no encoder output (out then unchanged), or HY_E2BIG/HY_ENOMEM. */
int fssink_path_key(const char *path, size_t path_len, struct buf *out);

#endif
