/*
 * codec_zstd: ZSTD objects (one zstd frame, content checksum on) with libzstd's streaming API.
 * A hydrant extension: AWS's CompressionFormat has no ZSTD, so it is chosen only through
 * hydrant's own stream options (README "Compression").
 */
#include <zstd.h>

#include "base/err.h"
#include "base/mem.h"
#include "pipeline/codec_int.h"

#define LEVEL 3

struct zs {
    ZSTD_CCtx *cctx;
    size_t out_len;
    void *out;
};

static int zs_init(struct codec *c)
{
    struct zs *z = hy_calloc(1, sizeof *z);
    if (!z)
        return HY_ENOMEM;
    z->out_len = ZSTD_CStreamOutSize();
    z->out = hy_malloc(z->out_len);
    z->cctx = ZSTD_createCCtx();
    if (!z->out || !z->cctx ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1))) {
        ZSTD_freeCCtx(z->cctx);
        hy_free(z->out);
        hy_free(z);
        return HY_ENOMEM;
    }
    c->impl = z;
    return 0;
}

static int zs_begin(struct codec *c, const char *entry_name, int64_t mtime_ms)
{
    struct zs *z = c->impl;
    return ZSTD_isError(ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only)) ? HY_ENOMEM : 0;
}

static int zs_run(struct codec *c, const uint8_t *p, size_t len, ZSTD_EndDirective mode)
{
    struct zs *z = c->impl;
    ZSTD_inBuffer in = {p, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {z->out, z->out_len, 0};
        size_t left = ZSTD_compressStream2(z->cctx, &out, &in, mode);
        if (ZSTD_isError(left))
            return HY_ENOMEM;
        int rc = codec_emit(c, z->out, out.pos);
        if (rc < 0)
            return rc;
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static int zs_write(struct codec *c, const uint8_t *p, size_t len)
{
    return zs_run(c, p, len, ZSTD_e_continue);
}

static int zs_finish(struct codec *c)
{
    return zs_run(c, NULL, 0, ZSTD_e_end);
}

static void zs_fini(struct codec *c)
{
    struct zs *z = c->impl;
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    hy_free(z->out);
    hy_free(z);
}

const struct codec_ops codec_zstd_ops = {
    .name = "ZSTD",
    .extension = ".zst",
    .init = zs_init,
    .begin = zs_begin,
    .write = zs_write,
    .finish = zs_finish,
    .fini = zs_fini,
};
