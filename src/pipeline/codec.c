/*
 * codec: the table of compressors and the pass-through codec (codec.h). The compressors are
 * Debian libraries (zlib, libsnappy, libzstd); the container formats around them that no
 * Debian library streams with bounded memory (the ZIP entry with a data descriptor, Snappy's
 * framing format, Hadoop's block framing) are written here, in codec_zip.c and codec_snappy.c.
 */
#include "pipeline/codec.h"

#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "pipeline/codec_int.h"

static int none_init(struct codec *c)
{
    return 0;
}

static int none_begin(struct codec *c, const char *entry_name, int64_t mtime_ms)
{
    return 0;
}

static int none_write(struct codec *c, const uint8_t *p, size_t len)
{
    return codec_emit(c, p, len);
}

static int none_finish(struct codec *c)
{
    return 0;
}

static void none_fini(struct codec *c)
{
}

static const struct codec_ops none_ops = {
    .name = "UNCOMPRESSED",
    .extension = "",
    .init = none_init,
    .begin = none_begin,
    .write = none_write,
    .finish = none_finish,
    .fini = none_fini,
};

static const struct codec_ops *ops_of(enum codec_kind kind)
{
    switch (kind) {
    case CODEC_GZIP:
        return &codec_gzip_ops;
    case CODEC_ZIP:
        return &codec_zip_ops;
    case CODEC_SNAPPY:
        return &codec_snappy_ops;
    case CODEC_HADOOP_SNAPPY:
        return &codec_hsnappy_ops;
    case CODEC_ZSTD:
        return &codec_zstd_ops;
    case CODEC_NONE:
        break;
    }
    return &none_ops;
}

int codec_from_name(const char *name, enum codec_kind *out)
{
    static const enum codec_kind all[] = {CODEC_NONE,   CODEC_GZIP,          CODEC_ZIP,
                                          CODEC_SNAPPY, CODEC_HADOOP_SNAPPY, CODEC_ZSTD};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, ops_of(all[i])->name) == 0) {
            *out = all[i];
            return 0;
        }
    return HY_EINVAL;
}

const char *codec_name(enum codec_kind kind)
{
    return ops_of(kind)->name;
}

const char *codec_extension(enum codec_kind kind)
{
    return ops_of(kind)->extension;
}

struct codec *codec_new(enum codec_kind kind)
{
    struct codec *c = hy_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ops = ops_of(kind);
    c->kind = kind;
    if (c->ops->init(c) < 0) {
        hy_free(c);
        return NULL;
    }
    return c;
}

void codec_free(struct codec *c)
{
    if (!c)
        return;
    c->ops->fini(c);
    hy_free(c);
}

enum codec_kind codec_kind_of(const struct codec *c)
{
    return c->kind;
}

int codec_begin(struct codec *c, const char *entry_name, int64_t mtime_ms, codec_out_fn out,
                void *arg)
{
    c->out = out;
    c->arg = arg;
    return c->ops->begin(c, entry_name ? entry_name : "", mtime_ms);
}

int codec_write(struct codec *c, const void *data, size_t len)
{
    return len ? c->ops->write(c, data, len) : 0;
}

int codec_finish(struct codec *c)
{
    return c->ops->finish(c);
}
