/*
 * codec_int: the registration struct each compressor provides, private to src/pipeline/codec*.c.
 */
#ifndef HY_CODEC_INT_H
#define HY_CODEC_INT_H

#include "pipeline/codec.h"

struct codec_ops {
    const char *name;
    const char *extension;
    /* Allocate the fixed state into c->impl. 0 or HY_ENOMEM. */
    int (*init)(struct codec *c);
    int (*begin)(struct codec *c, const char *entry_name, int64_t mtime_ms);
    int (*write)(struct codec *c, const uint8_t *p, size_t len);
    int (*finish)(struct codec *c);
    void (*fini)(struct codec *c);
};

struct codec {
    const struct codec_ops *ops;
    enum codec_kind kind;
    codec_out_fn out;
    void *arg;
    void *impl;
};

/* Hand len bytes to the object's output callback. */
static inline int codec_emit(struct codec *c, const void *p, size_t len)
{
    return len ? c->out(c->arg, p, len) : 0;
}

extern const struct codec_ops codec_gzip_ops;
extern const struct codec_ops codec_zip_ops;
extern const struct codec_ops codec_snappy_ops;
extern const struct codec_ops codec_hsnappy_ops;
extern const struct codec_ops codec_zstd_ops;

#endif
