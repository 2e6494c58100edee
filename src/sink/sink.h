/*
 * sink: the seam between delivery and destinations. A sink writes one object (a list of byte
 * ranges) under a key, idempotently: writing the same key again replaces the object, so a
 * redelivered log range never adds a duplicate. Each sink provides a const struct sink_ops;
 * today there is one, fssink_ops (the embedded local bucket store); a table listing them comes
 * with the second sink.
 * Calls block on I/O and are made from delivery threads; a sink's ctx must be thread-safe.
 */
#ifndef HY_SINK_H
#define HY_SINK_H

#include <stddef.h>
#include <sys/uio.h>

struct sink_object {
    const char *bucket;
    const char *key;
    const struct iovec *iov; /* object bytes, in order */
    size_t iovcnt;
    size_t len; /* total bytes */
};

struct sink_ops {
    const char *name;
    /* Make the object durable under bucket/key; 0 or a negative error (nothing half-visible). */
    int (*put)(void *ctx, const struct sink_object *obj);
};

#endif
