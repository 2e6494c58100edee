/*
 * codec_check: independent readers for the objects pipeline/codec.c writes, shared by the codec
 * unit test and fuzz target (test code, header-only). Each decodes a whole object with the
 * Debian libraries (zlib, libsnappy, libzstd) and checks the container: ZIP headers and the data
 * descriptor against the central directory, Snappy chunk CRCs, Hadoop block lengths.
 */
#ifndef HY_CODEC_CHECK_H
#define HY_CODEC_CHECK_H

#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/crc32c.h"
#include "pipeline/codec.h"

struct cc_out {
    uint8_t *data;
    size_t len, cap;
};

static int cc_put(struct cc_out *o, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *d = realloc(o->data, cap); /* test code: plain realloc */
        if (!d)
            return -1;
        o->data = d;
        o->cap = cap;
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
    return 0;
}

static uint32_t cc_le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t cc_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int cc_inflate(const uint8_t *in, size_t len, int window_bits, struct cc_out *o,
                      size_t *used)
{
    z_stream zs;
    uint8_t buf[65536];
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, window_bits) != Z_OK)
        return -1;
    zs.next_in = (uint8_t *)in;
    zs.avail_in = (uInt)len;
    int zrc;
    do {
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_STREAM_END)
            break;
        if (cc_put(o, buf, sizeof buf - zs.avail_out))
            zrc = Z_MEM_ERROR;
    } while (zrc == Z_OK);
    if (used)
        *used = len - zs.avail_in;
    inflateEnd(&zs);
    return zrc == Z_STREAM_END && (used || zs.avail_in == 0) ? 0 : -1;
}

static int cc_zip(const uint8_t *p, size_t len, struct cc_out *o, char *name, size_t name_cap)
{
    if (len < 30 + 16 + 46 + 22 || cc_le(p, 4) != 0x04034b50u || cc_le(p + 8, 2) != 8)
        return -1;
    size_t nlen = cc_le(p + 26, 2), xlen = cc_le(p + 28, 2);
    if (30 + nlen + xlen > len || nlen >= name_cap)
        return -1;
    memcpy(name, p + 30, nlen);
    name[nlen] = 0;
    size_t used = 0, at = 30 + nlen + xlen;
    if (cc_inflate(p + at, len - at, -15, o, &used))
        return -1;
    at += used;
    if (at + 16 > len || cc_le(p + at, 4) != 0x08074b50u)
        return -1;
    uint32_t crc = cc_le(p + at + 4, 4), csize = cc_le(p + at + 8, 4),
             usize = cc_le(p + at + 12, 4);
    if (crc != (uint32_t)crc32(0, o->data ? o->data : (const uint8_t *)"", (uInt)o->len) ||
        csize != used || usize != o->len)
        return -1;
    size_t cd = at + 16;
    if (cd + 46 + nlen + 22 != len || cc_le(p + cd, 4) != 0x02014b50u ||
        cc_le(p + cd + 16, 4) != crc || cc_le(p + cd + 20, 4) != csize ||
        cc_le(p + cd + 24, 4) != usize || memcmp(p + cd + 46, name, nlen) != 0)
        return -1;
    const uint8_t *e = p + cd + 46 + nlen;
    return cc_le(e, 4) == 0x06054b50u && cc_le(e + 10, 2) == 1 && cc_le(e + 12, 4) == 46 + nlen &&
                   cc_le(e + 16, 4) == cd
               ? 0
               : -1;
}

static int cc_snappy_framed(const uint8_t *p, size_t len, struct cc_out *o)
{
    static const uint8_t ident[10] = {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y'};
    static char buf[65536];
    if (len < 10 || memcmp(p, ident, 10) != 0)
        return -1;
    for (size_t at = 10; at < len;) {
        if (at + 4 > len)
            return -1;
        size_t clen = cc_le(p + at + 1, 3);
        uint8_t type = p[at];
        at += 4;
        if (clen < 4 || at + clen > len)
            return -1;
        uint32_t masked = cc_le(p + at, 4);
        size_t ulen = sizeof buf;
        const char *raw;
        if (type == 0) {
            if (snappy_uncompressed_length((const char *)p + at + 4, clen - 4, &ulen) !=
                    SNAPPY_OK ||
                ulen > sizeof buf ||
                snappy_uncompress((const char *)p + at + 4, clen - 4, buf, &ulen) != SNAPPY_OK)
                return -1;
            raw = buf;
        } else if (type == 1) {
            ulen = clen - 4;
            if (ulen > 65536)
                return -1;
            raw = (const char *)p + at + 4;
        } else {
            return -1;
        }
        uint32_t crc = crc32c(0, raw, ulen);
        if ((((crc >> 15) | (crc << 17)) + 0xa282ead8u) != masked || cc_put(o, raw, ulen))
            return -1;
        at += clen;
    }
    return 0;
}

static int cc_hadoop_snappy(const uint8_t *p, size_t len, struct cc_out *o)
{
    static char buf[65536];
    for (size_t at = 0; at < len;) {
        if (at + 8 > len)
            return -1;
        size_t raw = cc_be32(p + at), clen = cc_be32(p + at + 4);
        at += 8;
        size_t ulen = sizeof buf;
        if (raw > sizeof buf || at + clen > len ||
            snappy_uncompress((const char *)p + at, clen, buf, &ulen) != SNAPPY_OK || ulen != raw ||
            cc_put(o, buf, ulen))
            return -1;
        at += clen;
    }
    return 0;
}

static int cc_zstd(const uint8_t *p, size_t len, struct cc_out *o)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    uint8_t buf[65536];
    ZSTD_inBuffer in = {p, len, 0};
    size_t rc = 1;
    while (dc && in.pos < in.size) {
        ZSTD_outBuffer out = {buf, sizeof buf, 0};
        rc = ZSTD_decompressStream(dc, &out, &in);
        if (ZSTD_isError(rc) || cc_put(o, buf, out.pos)) {
            rc = 1;
            break;
        }
    }
    ZSTD_freeDCtx(dc);
    return rc == 0 ? 0 : -1;
}

/* Decode a whole object of kind into o (caller frees o->data with free). 0 if valid. */
static int codec_check_decode(enum codec_kind kind, const uint8_t *p, size_t len, struct cc_out *o)
{
    char name[1100];
    switch (kind) {
    case CODEC_NONE:
        return cc_put(o, p, len);
    case CODEC_GZIP:
        return cc_inflate(p, len, 15 + 16, o, NULL);
    case CODEC_ZIP:
        return cc_zip(p, len, o, name, sizeof name);
    case CODEC_SNAPPY:
        return cc_snappy_framed(p, len, o);
    case CODEC_HADOOP_SNAPPY:
        return cc_hadoop_snappy(p, len, o);
    case CODEC_ZSTD:
        return cc_zstd(p, len, o);
    }
    return -1;
}

#endif
