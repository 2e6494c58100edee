/*
 * sink: the seam between delivery and destinations. A sink streams one object at a time under
 * a key: delivery opens a writer for (bucket, key), appends the object's bytes as it reads them
 * from the log, then commits or aborts. Nothing of the object is buffered by delivery, so a
 * sink decides how the bytes travel: fssink writes a temp file as they come, an S3 sink maps
 * the writer to a multipart upload, an HTTP sink may buffer internally.
 *
 * Contract of every sink:
 *   - Nothing is visible under the key until commit returns 0 (readers see the previous object
 *     or none, never a partial one).
 *   - Commit makes the object durable and visible atomically; if an object already exists under
 *     the key it is replaced as a whole. Writing the same key again is therefore idempotent:
 *     a redelivered batch never adds a duplicate object.
 *   - Abort, or a failed commit, leaves nothing behind (the previous object, if any, stands).
 *   - Commit and abort both end the writer: w is invalid afterwards whatever they return. After
 *     a failed write the writer may only be aborted.
 *
 * Each sink provides a const struct sink_ops; today there is one, fssink_ops (the embedded local
 * bucket store); a table listing them comes with the second sink. Calls block on I/O and are
 * made from delivery threads; a sink's ctx must be thread-safe, a writer is used by one thread.
 */
#ifndef HY_SINK_H
#define HY_SINK_H

#include <stddef.h>
#include <sys/uio.h>

struct sink_ops {
    const char *name;
    /* At start, before any writer opens: clear what a previous process left half-done (temp
     * files). NULL if nothing to do. 0 or a negative error (start-up fails). */
    int (*recover)(void *ctx);
    /* Start an object under bucket/key; on 0 *w is an open writer (end it with commit or
     * abort). Returns 0, HY_EINVAL for a bucket or key the sink cannot store, or a negative
     * error; then nothing was created. */
    int (*open)(void *ctx, const char *bucket, const char *key, void **w);
    /* Append the bytes of iov[0..n) in order. 0 or a negative error (then only abort). */
    int (*write)(void *w, const struct iovec *iov, size_t n);
    /* Make the object durable and visible under its key, replacing any previous one. Ends w.
     * 0, or a negative error with nothing new visible. */
    int (*commit)(void *w);
    /* Drop the object: nothing written through w remains. Ends w. */
    void (*abort)(void *w);
};

#endif
