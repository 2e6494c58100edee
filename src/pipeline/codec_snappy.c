/*
 * codec_snappy: the two Snappy framings Firehose writes, around libsnappy's block compressor.
 *
 * Snappy (framing format, https://github.com/google/snappy/blob/main/framing_format.txt):
 *
 *     ff 06 00 00 "sNaPpY"                          stream identifier, once
 *     00 <len:3 LE> <masked crc32c:4 LE> <snappy>   compressed chunk, <= 65536 bytes raw
 *     01 <len:3 LE> <masked crc32c:4 LE> <raw>      uncompressed chunk (when smaller)
 *
 *   masked crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8, crc32c over the raw bytes.
 *
 * HADOOP_SNAPPY (Hadoop's BlockCompressorStream, what SnappyCodec reads):
 *
 *     <raw block length:4 BE> <compressed length:4 BE> <snappy>   per block
 *
 *   one compressed chunk per block; blocks hold at most 64 KiB raw, well inside the 256 KiB
 *   buffer Hadoop's decompressor uses by default.
 *
 * libsnappy compresses whole blocks only, and neither framing has a Debian library, so the
 * framings are written here; memory is one raw block plus its worst-case compressed size.
 */
#include <snappy-c.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/mem.h"
#include "pipeline/codec_int.h"

#define BLOCK_LEN 65536u
#define HEAD_LEN 8u /* largest chunk header: Hadoop's two lengths, or type+len+crc */

struct sn {
    int hadoop;
    size_t in_len;
    size_t out_cap;
    uint8_t in[BLOCK_LEN];
    uint8_t *out; /* HEAD_LEN + snappy_max_compressed_length(BLOCK_LEN) */
};

static void put_le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int init_common(struct codec *c, int hadoop)
{
    struct sn *s = hy_calloc(1, sizeof *s);
    if (!s)
        return HY_ENOMEM;
    s->hadoop = hadoop;
    s->out_cap = HEAD_LEN + snappy_max_compressed_length(BLOCK_LEN);
    s->out = hy_malloc(s->out_cap);
    if (!s->out) {
        hy_free(s);
        return HY_ENOMEM;
    }
    c->impl = s;
    return 0;
}

static int sn_init(struct codec *c)
{
    return init_common(c, 0);
}

static int hs_init(struct codec *c)
{
    return init_common(c, 1);
}

static int sn_begin(struct codec *c, const char *entry_name, int64_t mtime_ms)
{
    struct sn *s = c->impl;
    static const uint8_t ident[10] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};
    s->in_len = 0;
    return s->hadoop ? 0 : codec_emit(c, ident, sizeof ident);
}

/* Compress and emit the buffered block. */
static int flush_block(struct codec *c)
{
    struct sn *s = c->impl;
    size_t clen = s->out_cap - HEAD_LEN;
    if (s->in_len == 0)
        return 0;
    if (snappy_compress((const char *)s->in, s->in_len, (char *)s->out + HEAD_LEN, &clen) !=
        SNAPPY_OK)
        return HY_ENOMEM; /* only a too-small output buffer fails, and it is the worst case */
    int rc;
    if (s->hadoop) {
        put_be32(s->out, (uint32_t)s->in_len);
        put_be32(s->out + 4, (uint32_t)clen);
        rc = codec_emit(c, s->out, HEAD_LEN + clen);
    } else {
        uint32_t crc = crc32c(0, s->in, s->in_len);
        uint32_t masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
        if (clen < s->in_len) {
            s->out[0] = 0x00;
            put_le(s->out + 1, (uint32_t)(clen + 4), 3);
            put_le(s->out + 4, masked, 4);
            rc = codec_emit(c, s->out, HEAD_LEN + clen);
        } else {
            uint8_t h[HEAD_LEN];
            h[0] = 0x01;
            put_le(h + 1, (uint32_t)(s->in_len + 4), 3);
            put_le(h + 4, masked, 4);
            rc = codec_emit(c, h, HEAD_LEN);
            if (rc == 0)
                rc = codec_emit(c, s->in, s->in_len);
        }
    }
    s->in_len = 0;
    return rc;
}

static int sn_write(struct codec *c, const uint8_t *p, size_t len)
{
    struct sn *s = c->impl;
    while (len > 0) {
        size_t n = BLOCK_LEN - s->in_len;
        if (n > len)
            n = len;
        memcpy(s->in + s->in_len, p, n);
        s->in_len += n;
        p += n;
        len -= n;
        if (s->in_len == BLOCK_LEN) {
            int rc = flush_block(c);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int sn_finish(struct codec *c)
{
    return flush_block(c);
}

static void sn_fini(struct codec *c)
{
    struct sn *s = c->impl;
    if (!s)
        return;
    hy_free(s->out);
    hy_free(s);
}

const struct codec_ops codec_snappy_ops = {
    .name = "Snappy",
    .extension = ".snappy",
    .init = sn_init,
    .begin = sn_begin,
    .write = sn_write,
    .finish = sn_finish,
    .fini = sn_fini,
};

const struct codec_ops codec_hsnappy_ops = {
    .name = "HADOOP_SNAPPY",
    .extension = ".snappy",
    .init = hs_init,
    .begin = sn_begin,
    .write = sn_write,
    .finish = sn_finish,
    .fini = sn_fini,
};
