/*
 * codec_zip: ZIP objects holding one entry (PKWARE APPNOTE 6.3: local header, deflate data, data
 * descriptor, central directory, end record), streamed: the local header goes out before any
 * data with its CRC and sizes zero and general-purpose bit 3 set, and the data descriptor after
 * the data carries them, so nothing of the object is kept. Written here because libzip (the
 * Debian library) builds an archive from seekable sources and writes it at zip_close: it would
 * need the whole object in memory or in a temp file, against the bounded-memory rule.
 *
 * The entry is named by codec_begin's entry_name (delivery passes the object's file name without
 * ".zip") and dated by mtime_ms (the batch's first arrival, UTC), so replays are byte-identical.
 * Sizes stay below 4 GiB (a batch is cut at SizeInMBs <= 128 MiB plus one record): past that
 * the write fails with HY_E2BIG rather than writing ZIP64.
 */
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "base/err.h"
#include "base/mem.h"
#include "pipeline/codec_int.h"

#define OUT_LEN (128u * 1024)
#define NAME_MAX_LEN 1024
#define LEVEL 6
#define FLAGS 0x0808u /* bit 3: sizes in the data descriptor; bit 11: UTF-8 name */

struct zip {
    z_stream zs;
    uint32_t crc;
    uint64_t in_len;
    uint64_t out_len; /* compressed bytes */
    uint16_t dos_time;
    uint16_t dos_date;
    size_t name_len;
    char name[NAME_MAX_LEN];
    unsigned char out[OUT_LEN];
};

static voidpf zalloc_hy(voidpf opaque, uInt items, uInt size)
{
    return hy_calloc(items, size);
}

static void zfree_hy(voidpf opaque, voidpf p)
{
    hy_free(p);
}

static unsigned char *le16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static unsigned char *le32(unsigned char *p, uint32_t v)
{
    p = le16(p, v & 0xffff);
    return le16(p, v >> 16);
}

static int zip_init(struct codec *c)
{
    struct zip *z = hy_calloc(1, sizeof *z);
    if (!z)
        return HY_ENOMEM;
    z->zs.zalloc = zalloc_hy;
    z->zs.zfree = zfree_hy;
    /* -15: raw deflate, as a ZIP entry holds it. */
    if (deflateInit2(&z->zs, LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        hy_free(z);
        return HY_ENOMEM;
    }
    c->impl = z;
    return 0;
}

/* The local header: written at begin, before any data. */
static int zip_begin(struct codec *c, const char *entry_name, int64_t mtime_ms)
{
    struct zip *z = c->impl;
    unsigned char h[30];
    unsigned char *p = h;
    if (deflateReset(&z->zs) != Z_OK)
        return HY_ENOMEM;
    z->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    z->in_len = z->out_len = 0;
    z->name_len = strnlen(entry_name, NAME_MAX_LEN);
    memcpy(z->name, entry_name, z->name_len);
    /* MS-DOS date and time, 2-second resolution, years from 1980. */
    time_t t = (time_t)(mtime_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (tm.tm_year < 80) {
        z->dos_date = (1 << 5) | 1; /* 1980-01-01 */
        z->dos_time = 0;
    } else {
        z->dos_date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
        z->dos_time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
    }
    p = le32(p, 0x04034b50u);
    p = le16(p, 20); /* version needed: 2.0 (deflate) */
    p = le16(p, FLAGS);
    p = le16(p, 8); /* deflate */
    p = le16(p, z->dos_time);
    p = le16(p, z->dos_date);
    p = le32(p, 0); /* crc, sizes: in the data descriptor */
    p = le32(p, 0);
    p = le32(p, 0);
    p = le16(p, (uint32_t)z->name_len);
    p = le16(p, 0); /* extra field length */
    int rc = codec_emit(c, h, sizeof h);
    if (rc == 0)
        rc = codec_emit(c, z->name, z->name_len);
    if (rc == 0)
        z->out_len = 0; /* counts entry data only */
    return rc;
}

static int zip_run(struct codec *c, const uint8_t *p, size_t len, int flush)
{
    struct zip *z = c->impl;
    int zrc;
    z->zs.next_in = (unsigned char *)p;
    z->zs.avail_in = (uInt)len;
    do {
        z->zs.next_out = z->out;
        z->zs.avail_out = OUT_LEN;
        zrc = deflate(&z->zs, flush);
        if (zrc == Z_STREAM_ERROR)
            return HY_EINVAL;
        size_t n = OUT_LEN - z->zs.avail_out;
        z->out_len += n;
        int rc = codec_emit(c, z->out, n);
        if (rc < 0)
            return rc;
    } while (z->zs.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
    return 0;
}

static int zip_write(struct codec *c, const uint8_t *p, size_t len)
{
    struct zip *z = c->impl;
    if (z->in_len + len > 0xffffffffu)
        return HY_E2BIG;
    z->crc = (uint32_t)crc32(z->crc, p, (uInt)len);
    z->in_len += len;
    return zip_run(c, p, len, Z_NO_FLUSH);
}

static int zip_finish(struct codec *c)
{
    struct zip *z = c->impl;
    unsigned char t[16 + 46 + 22];
    unsigned char *p = t;
    int rc = zip_run(c, NULL, 0, Z_FINISH);
    if (rc < 0)
        return rc;
    if (z->out_len > 0xffffffffu)
        return HY_E2BIG;
    uint32_t local_len = 30 + (uint32_t)z->name_len;
    uint32_t cd_offset = local_len + (uint32_t)z->out_len + 16;
    if ((uint64_t)local_len + z->out_len + 16 > 0xffffffffu)
        return HY_E2BIG;
    /* Data descriptor, with its optional signature (what every reader expects). */
    p = le32(p, 0x08074b50u);
    p = le32(p, z->crc);
    p = le32(p, (uint32_t)z->out_len);
    p = le32(p, (uint32_t)z->in_len);
    /* Central directory header. */
    unsigned char *cd = p;
    p = le32(p, 0x02014b50u);
    p = le16(p, (3u << 8) | 20); /* made by: Unix, 2.0 */
    p = le16(p, 20);
    p = le16(p, FLAGS);
    p = le16(p, 8);
    p = le16(p, z->dos_time);
    p = le16(p, z->dos_date);
    p = le32(p, z->crc);
    p = le32(p, (uint32_t)z->out_len);
    p = le32(p, (uint32_t)z->in_len);
    p = le16(p, (uint32_t)z->name_len);
    p = le16(p, 0);              /* extra */
    p = le16(p, 0);              /* comment */
    p = le16(p, 0);              /* disk */
    p = le16(p, 0);              /* internal attributes */
    p = le32(p, 0100644u << 16); /* external: a regular file, rw-r--r-- */
    p = le32(p, 0);              /* local header offset */
    size_t cd_head = (size_t)(p - cd);
    if ((rc = codec_emit(c, t, (size_t)(p - t))) < 0 ||
        (rc = codec_emit(c, z->name, z->name_len)) < 0)
        return rc;
    /* End of central directory. */
    p = t;
    p = le32(p, 0x06054b50u);
    p = le16(p, 0);
    p = le16(p, 0);
    p = le16(p, 1);
    p = le16(p, 1);
    p = le32(p, (uint32_t)(cd_head + z->name_len));
    p = le32(p, cd_offset);
    p = le16(p, 0);
    return codec_emit(c, t, (size_t)(p - t));
}

static void zip_fini(struct codec *c)
{
    struct zip *z = c->impl;
    if (!z)
        return;
    deflateEnd(&z->zs);
    hy_free(z);
}

const struct codec_ops codec_zip_ops = {
    .name = "ZIP",
    .extension = ".zip",
    .init = zip_init,
    .begin = zip_begin,
    .write = zip_write,
    .finish = zip_finish,
    .fini = zip_fini,
};
