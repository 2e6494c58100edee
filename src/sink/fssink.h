/*
 * fssink: the embedded local bucket store. An object bucket/key lives in the file
 * <s3_root>/<bucket>/<key>; key slashes become directories. A put writes a temp file
 * ".<basename>.tmp.<tid>" beside the target (basename shortened to keep it within NAME_MAX), fsyncs
 * it, renames it over the target and fsyncs the directory, so readers see the old object or the new
 * one, never a partial one, and a crash leaves at most a stray temp file (names starting with '.'
 * and containing ".tmp." are never objects; listings should skip them). Writing the same key again
 * replaces the object.
 *
 * Keys that could escape the bucket or collide in a filesystem ("..", ".", empty segments,
 * a leading or trailing '/') or that no filesystem can hold (a segment over NAME_MAX) are
 * refused. Thread-safe: each put uses its own temp file.
 */
#ifndef HY_FSSINK_H
#define HY_FSSINK_H

#include "sink/sink.h"

/* sink_ops for the local store; its ctx is the s3_root string (const char *). */
extern const struct sink_ops fssink_ops;

/* Durably write obj to <s3_root>/<bucket>/<key>, replacing any existing object. Blocks on disk
 * I/O. Returns 0, HY_EINVAL for an unsafe bucket or key, or -errno; on error no temp file is
 * left and the previous object, if any, is untouched. */
int fssink_put(const char *s3_root, const struct sink_object *obj);

/* 0 if bucket and key are safe to map to a path (no unsafe or empty segment, none longer than
 * NAME_MAX), else HY_EINVAL. */
int fssink_check_name(const char *bucket, const char *key);

#endif
