/*
 * pqwriter: the Parquet writer (see pqwriter.h and ../shared/specs/parquet-writer.md).
 *
 * Per column and row group we keep: the open page (definition levels one byte per row, then
 * either PLAIN values or dictionary indices), the finished pages of the chunk (header + payload,
 * already compressed), the chunk's dictionary (PLAIN-encoded entries and an open-addressing hash
 * of them) and the chunk's statistics. At a row-group cut the dictionary page and the data pages
 * of each column are written in schema order and a serialized RowGroup is kept for the footer.
 */
#include "parquet/pqwriter.h"

#include <math.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hyassert.h"
#include "base/mem.h"
#include "parquet/thrift.h"

/* Parquet enums (parquet.thrift). */
enum {
    PT_BOOLEAN = 0,
    PT_INT32 = 1,
    PT_INT64 = 2,
    PT_FLOAT = 4,
    PT_DOUBLE = 5,
    PT_BYTE_ARRAY = 6,
    PT_FLBA = 7
};
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICT = 2, PAGE_DATA_V2 = 3 };

#define BUF_MAX ((size_t)1 << 34)
#define DICT_MAX_BYTES ((size_t)1 << 20)
#define STAT_MAX_BYTES 256 /* BYTE_ARRAY min/max longer than this are not written */
#define LIT_MAX 504        /* values per bit-packed run (63 groups), as parquet-mr writes */

struct col {
    char *name;
    enum pqwriter_type type;
    int precision, scale;
    int ptype;
    int type_len; /* FIXED_LEN_BYTE_ARRAY width */

    /* staged value of the current row */
    bool staged;
    int64_t si;
    double sd;
    __int128 sdec;
    const void *sp;
    size_t slen;

    /* open page */
    struct buf defs; /* one byte per row: 1 value, 0 null */
    struct buf vals; /* PLAIN values (not in dictionary mode) */
    uint32_t *idx;   /* dictionary indices (dictionary mode) */
    size_t nidx, idx_cap;
    size_t page_rows, page_nulls, page_bytes;

    /* chunk of the open row group */
    struct buf chunk;
    int64_t chunk_values;
    int64_t chunk_nonnull;
    int64_t chunk_unc; /* uncompressed size of data pages incl. headers */
    bool used_plain, used_dict;

    /* dictionary */
    bool dict_on;
    struct buf dict_vals;
    size_t *doff; /* offset of each entry's key bytes in dict_vals */
    uint32_t *dlen;
    uint32_t ndict, dict_cap;
    uint32_t *slots; /* entry index + 1, 0 = empty */
    uint32_t nslots;

    /* statistics of the chunk */
    int64_t nulls, nans;
    bool has_minmax;
    bool bytes_stats_off;
    int64_t imin, imax;
    double dmin, dmax;
    __int128 decmin, decmax;
    struct buf bmin, bmax;
};

struct pqwriter {
    struct col *cols;
    size_t ncols;
    struct pqwriter_opts o;
    pqwriter_write_fn fn;
    void *ctx;
    uint64_t off;
    uint64_t rows, rg_rows, nrg;
    size_t rg_bytes;
    struct buf rgs;     /* serialized RowGroup structs */
    struct buf scratch; /* page payload before compression */
    struct buf levels;  /* RLE levels */
    struct buf comp;    /* compressed payload */
    struct buf hdr;     /* page header */
    struct buf page;    /* v1 page payload: levels then values */
    struct buf rgcols;  /* serialized ColumnChunks of the row group being written */
    int err;
    bool started, finished;
};

/* ---- small helpers ---- */

static int out_write(struct pqwriter *w, const void *p, size_t n)
{
    if (!n)
        return 0;
    int rc = w->fn(w->ctx, p, n);
    if (rc < 0)
        return rc;
    w->off += n;
    return 0;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int bit_width(uint32_t max)
{
    int b = 0;
    while (max) {
        b++;
        max >>= 1;
    }
    return b;
}

/* ---- RLE / bit-packed hybrid ---- */

static int bitpack(struct buf *b, const uint32_t *v, size_t n, int bw)
{
    size_t groups = (n + 7) / 8;
    int rc = thrift_uvarint(b, (groups << 1) | 1);
    if (rc)
        return rc;
    uint64_t acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < groups * 8; i++) {
        uint64_t x = i < n ? v[i] : 0;
        acc |= x << nbits;
        nbits += bw;
        while (nbits >= 8) {
            uint8_t byte = (uint8_t)acc;
            if ((rc = buf_append(b, &byte, 1)))
                return rc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    return 0;
}

static int rle_run(struct buf *b, uint32_t value, size_t count, int bw)
{
    int rc = thrift_uvarint(b, (uint64_t)count << 1);
    if (rc)
        return rc;
    uint8_t tmp[4];
    le32(tmp, value);
    return buf_append(b, tmp, (size_t)(bw + 7) / 8);
}

/* Encode n values of bit width bw. Runs of 8 or more equal values become RLE runs; literals are
 * kept in multiples of 8 (borrowing from the next run) so padding only ever ends the stream. */
static int rle_encode(struct buf *b, const uint32_t *v, size_t n, int bw)
{
    size_t ls = 0, i = 0;
    int rc = 0;
    if (bw == 0)
        return n ? rle_run(b, 0, n, 0) : 0;
    while (i < n) {
        size_t r = 1;
        while (i + r < n && v[i + r] == v[i])
            r++;
        if (r >= 8) {
            size_t lit = i - ls;
            size_t borrow = (8 - lit % 8) % 8;
            if (lit) {
                if (borrow > r)
                    borrow = r;
                size_t done = 0;
                while (done < lit + borrow) {
                    size_t k = lit + borrow - done;
                    if (k > LIT_MAX)
                        k = LIT_MAX;
                    if ((rc = bitpack(b, v + ls + done, k, bw)))
                        return rc;
                    done += k;
                }
                i += borrow;
                r -= borrow;
            }
            if (r >= 8) {
                if ((rc = rle_run(b, v[i], r, bw)))
                    return rc;
                i += r;
                ls = i;
            } else {
                ls = i;
                i += r;
            }
        } else {
            i += r;
        }
    }
    for (size_t done = ls; done < n;) {
        size_t k = n - done;
        if (k > LIT_MAX)
            k = LIT_MAX;
        if ((rc = bitpack(b, v + done, k, bw)))
            return rc;
        done += k;
    }
    return 0;
}

/* ---- compression ---- */

static int compress_into(struct pqwriter *w, const void *p, size_t n, const void **outp,
                         size_t *outn)
{
    struct buf *c = &w->comp;
    buf_reset(c);
    int rc;
    switch (w->o.codec) {
    case PQWRITER_UNCOMPRESSED:
        *outp = p;
        *outn = n;
        return 0;
    case PQWRITER_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if ((rc = buf_reserve(c, cap)))
            return rc;
        size_t len = cap;
        if (snappy_compress(p, n, c->data, &len) != SNAPPY_OK)
            return HY_EINVAL;
        c->len = len;
        break;
    }
    case PQWRITER_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof z);
        /* Parquet GZIP is an RFC 1952 member: windowBits 15 + 16. */
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            return HY_ENOMEM;
        size_t cap = deflateBound(&z, (uLong)n) + 32;
        if ((rc = buf_reserve(c, cap))) {
            deflateEnd(&z);
            return rc;
        }
        z.next_in = (Bytef *)(uintptr_t)p;
        z.avail_in = (uInt)n;
        z.next_out = (Bytef *)c->data;
        z.avail_out = (uInt)cap;
        int zr = deflate(&z, Z_FINISH);
        c->len = cap - z.avail_out;
        deflateEnd(&z);
        if (zr != Z_STREAM_END)
            return HY_EINVAL;
        break;
    }
    case PQWRITER_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        if ((rc = buf_reserve(c, cap)))
            return rc;
        size_t len = ZSTD_compress(c->data, cap, p, n, 3);
        if (ZSTD_isError(len))
            return HY_EINVAL;
        c->len = len;
        break;
    }
    default:
        return HY_EINVAL;
    }
    c->data[c->len] = 0;
    *outp = c->data;
    *outn = c->len;
    return 0;
}

/* ---- dictionary ---- */

static uint32_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

static int dict_grow(struct col *c)
{
    uint32_t ns = c->nslots ? c->nslots * 2 : 1024;
    uint32_t *s = hy_calloc(ns, sizeof *s);
    if (!s)
        return HY_ENOMEM;
    for (uint32_t e = 0; e < c->ndict; e++) {
        uint32_t h = hash_bytes(c->dict_vals.data + c->doff[e], c->dlen[e]) & (ns - 1);
        while (s[h])
            h = (h + 1) & (ns - 1);
        s[h] = e + 1;
    }
    hy_free(c->slots);
    c->slots = s;
    c->nslots = ns;
    return 0;
}

/* Index of key in the dictionary, adding it when new: the entry's PLAIN form is pre (the length
 * prefix of a byte array, or nothing) followed by the key. */
static int dict_lookup(struct col *c, const void *key, size_t klen, const void *pre, size_t plen,
                       uint32_t *out)
{
    int rc;
    if ((uint64_t)(c->ndict + 1) * 2 > c->nslots && (rc = dict_grow(c)))
        return rc;
    uint32_t h = hash_bytes(key, klen) & (c->nslots - 1);
    while (c->slots[h]) {
        uint32_t e = c->slots[h] - 1;
        if (c->dlen[e] == klen && !memcmp(c->dict_vals.data + c->doff[e], key, klen)) {
            *out = e;
            return 0;
        }
        h = (h + 1) & (c->nslots - 1);
    }
    if (c->ndict == c->dict_cap) {
        uint32_t nc = c->dict_cap ? c->dict_cap * 2 : 256;
        size_t *no = hy_realloc(c->doff, nc * sizeof *no);
        if (!no)
            return HY_ENOMEM;
        c->doff = no;
        uint32_t *nl = hy_realloc(c->dlen, nc * sizeof *nl);
        if (!nl)
            return HY_ENOMEM;
        c->dlen = nl;
        c->dict_cap = nc;
    }
    size_t before = c->dict_vals.len;
    if ((rc = buf_append(&c->dict_vals, pre, plen)))
        return rc;
    if ((rc = buf_append(&c->dict_vals, key, klen))) {
        buf_truncate(&c->dict_vals, before);
        return rc;
    }
    c->doff[c->ndict] = before + plen;
    c->dlen[c->ndict] = (uint32_t)klen;
    c->slots[h] = c->ndict + 1;
    *out = c->ndict++;
    return 0;
}

static void dict_reset(struct col *c)
{
    buf_reset(&c->dict_vals);
    c->ndict = 0;
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof *c->slots);
}

/* ---- statistics ---- */

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r)
        return r;
    return an < bn ? -1 : an > bn;
}

static int stats_add(struct col *c)
{
    int rc;
    switch (c->type) {
    case PQWRITER_FLOAT:
    case PQWRITER_DOUBLE:
        if (isnan(c->sd)) {
            c->nans++;
            return 0;
        }
        if (!c->has_minmax || c->sd < c->dmin)
            c->dmin = c->sd;
        if (!c->has_minmax || c->sd > c->dmax)
            c->dmax = c->sd;
        /* Parquet: a zero min is written as -0.0 and a zero max as +0.0. */
        if (c->dmin == 0)
            c->dmin = -0.0;
        if (c->dmax == 0)
            c->dmax = 0.0;
        break;
    case PQWRITER_STRING:
    case PQWRITER_BINARY:
        if (c->bytes_stats_off)
            return 0;
        if (c->slen > STAT_MAX_BYTES) {
            c->bytes_stats_off = true;
            return 0;
        }
        if (!c->has_minmax || bytes_cmp(c->sp, c->slen, c->bmin.data, c->bmin.len) < 0) {
            buf_reset(&c->bmin);
            if ((rc = buf_append(&c->bmin, c->sp, c->slen)))
                return rc;
        }
        if (!c->has_minmax || bytes_cmp(c->sp, c->slen, c->bmax.data, c->bmax.len) > 0) {
            buf_reset(&c->bmax);
            if ((rc = buf_append(&c->bmax, c->sp, c->slen)))
                return rc;
        }
        break;
    case PQWRITER_DECIMAL:
        if (!c->has_minmax || c->sdec < c->decmin)
            c->decmin = c->sdec;
        if (!c->has_minmax || c->sdec > c->decmax)
            c->decmax = c->sdec;
        break;
    default:
        if (!c->has_minmax || c->si < c->imin)
            c->imin = c->si;
        if (!c->has_minmax || c->si > c->imax)
            c->imax = c->si;
        break;
    }
    c->has_minmax = true;
    return 0;
}

static void stats_reset(struct col *c)
{
    c->nulls = c->nans = 0;
    c->has_minmax = false;
    c->bytes_stats_off = false;
    buf_reset(&c->bmin);
    buf_reset(&c->bmax);
}

/* PLAIN bytes of a non-byte-array value: integer-like, float, double, decimal. */
static size_t plain_fixed(const struct col *c, int64_t i, double d, __int128 dec, uint8_t *out)
{
    switch (c->ptype) {
    case PT_BOOLEAN:
        out[0] = (uint8_t)(i != 0);
        return 1;
    case PT_INT32:
        le32(out, (uint32_t)(c->type == PQWRITER_DECIMAL ? (int64_t)dec : i));
        return 4;
    case PT_INT64:
        le64(out, (uint64_t)(c->type == PQWRITER_DECIMAL ? (int64_t)dec : i));
        return 8;
    case PT_FLOAT: {
        float f = (float)d;
        uint32_t u;
        memcpy(&u, &f, 4);
        le32(out, u);
        return 4;
    }
    case PT_DOUBLE: {
        uint64_t u;
        memcpy(&u, &d, 8);
        le64(out, u);
        return 8;
    }
    case PT_FLBA: {
        /* Big-endian two's complement, type_len bytes. */
        unsigned __int128 u = (unsigned __int128)dec;
        for (int k = c->type_len - 1; k >= 0; k--) {
            out[k] = (uint8_t)u;
            u >>= 8;
        }
        return (size_t)c->type_len;
    }
    }
    /* Cannot happen: byte arrays never come here (ptype is fixed at creation). */
    HY_ASSERT(0);
    return 0;
}

/* ---- pages ---- */

static int page_header(struct pqwriter *w, int type, size_t unc, size_t comp)
{
    struct thrift_w t;
    buf_reset(&w->hdr);
    thrift_init(&t, &w->hdr);
    thrift_i32(&t, 1, type);
    thrift_i32(&t, 2, (int32_t)unc);
    thrift_i32(&t, 3, (int32_t)comp);
    return thrift_err(&t);
}

static int values_section(struct pqwriter *w, struct col *c, struct buf *out, int *encoding)
{
    int rc = 0;
    if (c->dict_on || c->nidx) {
        /* Dictionary indices: one byte of bit width, then the hybrid stream (no length). */
        uint8_t bw = (uint8_t)bit_width(c->ndict ? c->ndict - 1 : 0);
        if (bw == 0)
            bw = 1;
        if ((rc = buf_append(out, &bw, 1)))
            return rc;
        *encoding = ENC_RLE_DICTIONARY;
        c->used_dict = true;
        return rle_encode(out, c->idx, c->nidx, bw);
    }
    *encoding = ENC_PLAIN;
    c->used_plain = true;
    if (c->ptype != PT_BOOLEAN)
        return buf_append(out, c->vals.data, c->vals.len);
    /* PLAIN booleans: one bit per value, LSB first, no run header. */
    uint8_t acc = 0;
    size_t k = 0;
    for (size_t i = 0; i < c->vals.len; i++) {
        acc |= (uint8_t)((c->vals.data[i] & 1) << (i % 8));
        if (i % 8 == 7) {
            if ((rc = buf_append(out, &acc, 1)))
                return rc;
            acc = 0;
        }
        k = i + 1;
    }
    if (k % 8)
        rc = buf_append(out, &acc, 1);
    return rc;
}

static int page_flush(struct pqwriter *w, struct col *c)
{
    int rc, encoding = ENC_PLAIN;
    if (!c->page_rows)
        return 0;
    const uint32_t *defs = (const uint32_t *)(const void *)c->defs.data;
    buf_reset(&w->levels);
    if ((rc = rle_encode(&w->levels, defs, c->page_rows, 1)))
        return rc;
    buf_reset(&w->scratch);
    if ((rc = values_section(w, c, &w->scratch, &encoding)))
        return rc;
    const void *cp;
    size_t cn, unc;
    struct thrift_w t;
    if (w->o.page_version == 2) {
        if ((rc = compress_into(w, w->scratch.data, w->scratch.len, &cp, &cn)))
            return rc;
        unc = w->levels.len + w->scratch.len;
        if ((rc = page_header(w, PAGE_DATA_V2, unc, w->levels.len + cn)))
            return rc;
        thrift_init(&t, &w->hdr);
        t.last[0] = 3;
        thrift_struct_begin(&t, 8);
        thrift_i32(&t, 1, (int32_t)c->page_rows);
        thrift_i32(&t, 2, (int32_t)c->page_nulls);
        thrift_i32(&t, 3, (int32_t)c->page_rows);
        thrift_i32(&t, 4, encoding);
        thrift_i32(&t, 5, (int32_t)w->levels.len);
        thrift_i32(&t, 6, 0);
        thrift_bool(&t, 7, w->o.codec != PQWRITER_UNCOMPRESSED);
        thrift_struct_end(&t);
        thrift_stop(&t);
        if ((rc = thrift_err(&t)) || (rc = buf_append(&c->chunk, w->hdr.data, w->hdr.len)) ||
            (rc = buf_append(&c->chunk, w->levels.data, w->levels.len)) ||
            (rc = buf_append(&c->chunk, cp, cn)))
            return rc;
    } else {
        buf_reset(&w->page);
        uint8_t len4[4];
        le32(len4, (uint32_t)w->levels.len);
        if ((rc = buf_append(&w->page, len4, 4)) ||
            (rc = buf_append(&w->page, w->levels.data, w->levels.len)) ||
            (rc = buf_append(&w->page, w->scratch.data, w->scratch.len)))
            return rc;
        unc = w->page.len;
        if ((rc = compress_into(w, w->page.data, w->page.len, &cp, &cn)))
            return rc;
        if ((rc = page_header(w, PAGE_DATA, unc, cn)))
            return rc;
        thrift_init(&t, &w->hdr);
        t.last[0] = 3;
        thrift_struct_begin(&t, 5);
        thrift_i32(&t, 1, (int32_t)c->page_rows);
        thrift_i32(&t, 2, encoding);
        thrift_i32(&t, 3, ENC_RLE);
        thrift_i32(&t, 4, ENC_RLE);
        thrift_struct_end(&t);
        thrift_stop(&t);
        if ((rc = thrift_err(&t)) || (rc = buf_append(&c->chunk, w->hdr.data, w->hdr.len)) ||
            (rc = buf_append(&c->chunk, cp, cn)))
            return rc;
    }
    c->chunk_unc += (int64_t)(w->hdr.len + unc);
    buf_reset(&c->defs);
    buf_reset(&c->vals);
    c->nidx = 0;
    c->page_rows = c->page_nulls = c->page_bytes = 0;
    /* Where the dictionary does not pay (mostly distinct values), later pages go PLAIN. */
    if (c->dict_on && c->chunk_nonnull >= 64 && (int64_t)c->ndict * 4 > c->chunk_nonnull * 3)
        c->dict_on = false;
    return 0;
}

/* ---- row groups and footer ---- */

static int magic(struct pqwriter *w)
{
    if (w->started)
        return 0;
    w->started = true;
    return out_write(w, "PAR1", 4);
}

static void stats_write(struct col *c, struct thrift_w *t)
{
    thrift_struct_begin(t, 12);
    thrift_i64(t, 3, c->nulls);
    if (c->has_minmax && !c->bytes_stats_off) {
        uint8_t mx[16], mn[16];
        size_t n;
        switch (c->type) {
        case PQWRITER_STRING:
        case PQWRITER_BINARY:
            thrift_binary(t, 5, c->bmax.data, c->bmax.len);
            thrift_binary(t, 6, c->bmin.data, c->bmin.len);
            break;
        default:
            n = plain_fixed(c, c->imax, c->dmax, c->decmax, mx);
            plain_fixed(c, c->imin, c->dmin, c->decmin, mn);
            thrift_binary(t, 5, mx, n);
            thrift_binary(t, 6, mn, n);
            break;
        }
    }
    if (c->type == PQWRITER_FLOAT || c->type == PQWRITER_DOUBLE)
        thrift_i64(t, 9, c->nans);
    thrift_struct_end(t);
}

static int chunk_write(struct pqwriter *w, struct col *c, struct thrift_w *t, int64_t *unc_total)
{
    int rc;
    uint64_t start = w->off;
    int64_t dict_off = -1, unc = c->chunk_unc;
    if ((rc = page_flush(w, c)))
        return rc;
    unc = c->chunk_unc;
    if (c->used_dict) {
        const void *cp;
        size_t cn;
        if ((rc = compress_into(w, c->dict_vals.data, c->dict_vals.len, &cp, &cn)) ||
            (rc = page_header(w, PAGE_DICT, c->dict_vals.len, cn)))
            return rc;
        struct thrift_w ht;
        thrift_init(&ht, &w->hdr);
        ht.last[0] = 3;
        thrift_struct_begin(&ht, 7);
        thrift_i32(&ht, 1, (int32_t)c->ndict);
        thrift_i32(&ht, 2, ENC_PLAIN);
        thrift_struct_end(&ht);
        thrift_stop(&ht);
        dict_off = (int64_t)w->off;
        if ((rc = thrift_err(&ht)) || (rc = out_write(w, w->hdr.data, w->hdr.len)) ||
            (rc = out_write(w, cp, cn)))
            return rc;
        unc += (int64_t)(w->hdr.len + c->dict_vals.len);
    }
    int64_t data_off = (int64_t)w->off;
    if ((rc = out_write(w, c->chunk.data, c->chunk.len)))
        return rc;
    *unc_total += unc;

    thrift_elem_begin(t);
    thrift_i64(t, 2, 0);
    thrift_struct_begin(t, 3);
    thrift_i32(t, 1, c->ptype);
    int encs[3], ne = 0;
    encs[ne++] = ENC_RLE;
    if (c->used_plain || c->used_dict)
        encs[ne++] = ENC_PLAIN;
    if (c->used_dict)
        encs[ne++] = ENC_RLE_DICTIONARY;
    thrift_list_begin(t, 2, THRIFT_I32, (size_t)ne);
    for (int i = 0; i < ne; i++)
        thrift_elem_i32(t, encs[i]);
    thrift_list_begin(t, 3, THRIFT_BINARY, 1);
    thrift_elem_binary(t, c->name, strlen(c->name));
    thrift_i32(t, 4, w->o.codec);
    thrift_i64(t, 5, c->chunk_values);
    thrift_i64(t, 6, unc);
    thrift_i64(t, 7, (int64_t)(w->off - start));
    thrift_i64(t, 9, data_off);
    if (dict_off >= 0)
        thrift_i64(t, 11, dict_off);
    stats_write(c, t);
    thrift_struct_end(t); /* ColumnMetaData */
    thrift_struct_end(t); /* ColumnChunk */

    buf_reset(&c->chunk);
    c->chunk_values = c->chunk_nonnull = c->chunk_unc = 0;
    c->used_plain = c->used_dict = false;
    dict_reset(c);
    c->dict_on = w->o.dictionary && c->ptype != PT_BOOLEAN;
    stats_reset(c);
    return thrift_err(t);
}

static int row_group_flush(struct pqwriter *w)
{
    int rc;
    if (!w->rg_rows)
        return 0;
    if ((rc = magic(w)))
        return rc;
    uint64_t start = w->off;
    int64_t unc = 0;
    struct thrift_w t;
    buf_reset(&w->rgcols);
    thrift_init(&t, &w->rgcols);
    for (size_t i = 0; i < w->ncols; i++)
        if ((rc = chunk_write(w, &w->cols[i], &t, &unc)))
            return rc;
    struct thrift_w rt;
    thrift_init(&rt, &w->rgs);
    thrift_elem_begin(&rt);
    thrift_list_begin(&rt, 1, THRIFT_STRUCT, w->ncols);
    if ((rc = buf_append(&w->rgs, w->rgcols.data, w->rgcols.len)))
        return rc;
    thrift_i64(&rt, 2, unc);
    thrift_i64(&rt, 3, (int64_t)w->rg_rows);
    thrift_i64(&rt, 5, (int64_t)start);
    thrift_i64(&rt, 6, (int64_t)(w->off - start));
    thrift_struct_end(&rt);
    if ((rc = thrift_err(&rt)))
        return rc;
    w->nrg++;
    w->rg_rows = 0;
    w->rg_bytes = 0;
    return 0;
}

static void schema_leaf(const struct col *c, struct thrift_w *t)
{
    thrift_elem_begin(t);
    thrift_i32(t, 1, c->ptype);
    if (c->ptype == PT_FLBA)
        thrift_i32(t, 2, c->type_len);
    thrift_i32(t, 3, 1); /* OPTIONAL: Hive columns are nullable */
    thrift_str(t, 4, c->name);
    switch (c->type) {
    case PQWRITER_TINYINT:
    case PQWRITER_SMALLINT:
        thrift_i32(t, 6, c->type == PQWRITER_TINYINT ? 15 : 16); /* INT_8 / INT_16 */
        thrift_struct_begin(t, 10);
        thrift_struct_begin(t, 10);
        thrift_i8(t, 1, c->type == PQWRITER_TINYINT ? 8 : 16);
        thrift_bool(t, 2, true);
        thrift_struct_end(t);
        thrift_struct_end(t);
        break;
    case PQWRITER_STRING:
        thrift_i32(t, 6, 0); /* UTF8 */
        thrift_struct_begin(t, 10);
        thrift_struct_begin(t, 1);
        thrift_struct_end(t);
        thrift_struct_end(t);
        break;
    case PQWRITER_DECIMAL:
        thrift_i32(t, 6, 5);
        thrift_i32(t, 7, c->scale);
        thrift_i32(t, 8, c->precision);
        thrift_struct_begin(t, 10);
        thrift_struct_begin(t, 5);
        thrift_i32(t, 1, c->scale);
        thrift_i32(t, 2, c->precision);
        thrift_struct_end(t);
        thrift_struct_end(t);
        break;
    case PQWRITER_DATE:
        thrift_i32(t, 6, 6);
        thrift_struct_begin(t, 10);
        thrift_struct_begin(t, 6);
        thrift_struct_end(t);
        thrift_struct_end(t);
        break;
    case PQWRITER_TIMESTAMP:
        thrift_i32(t, 6, 10); /* TIMESTAMP_MICROS */
        thrift_struct_begin(t, 10);
        thrift_struct_begin(t, 8);
        thrift_bool(t, 1, true);
        thrift_struct_begin(t, 2);
        thrift_struct_begin(t, 2); /* MICROS */
        thrift_struct_end(t);
        thrift_struct_end(t);
        thrift_struct_end(t);
        thrift_struct_end(t);
        break;
    default:
        break;
    }
    thrift_struct_end(t);
}

int pqwriter_finish(struct pqwriter *w)
{
    int rc;
    if (w->err)
        return w->err;
    if (w->finished)
        return HY_EINVAL;
    w->finished = true;
    if ((rc = row_group_flush(w)) || (rc = magic(w)))
        goto fail;
    struct buf *m = &w->scratch;
    buf_reset(m);
    struct thrift_w t;
    thrift_init(&t, m);
    thrift_i32(&t, 1, 1);
    thrift_list_begin(&t, 2, THRIFT_STRUCT, w->ncols + 1);
    thrift_elem_begin(&t);
    thrift_str(&t, 4, "schema");
    thrift_i32(&t, 5, (int32_t)w->ncols);
    thrift_struct_end(&t);
    for (size_t i = 0; i < w->ncols; i++)
        schema_leaf(&w->cols[i], &t);
    thrift_i64(&t, 3, (int64_t)w->rows);
    thrift_list_begin(&t, 4, THRIFT_STRUCT, w->nrg);
    if ((rc = thrift_err(&t)) || (rc = buf_append(m, w->rgs.data, w->rgs.len)))
        goto fail;
    thrift_str(&t, 6, "hydrant version 0.1 (build hydrant)");
    thrift_list_begin(&t, 7, THRIFT_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        thrift_elem_begin(&t);
        thrift_struct_begin(&t, 1); /* TypeDefinedOrder */
        thrift_struct_end(&t);
        thrift_struct_end(&t);
    }
    thrift_stop(&t);
    if ((rc = thrift_err(&t)))
        goto fail;
    uint8_t tail[8];
    le32(tail, (uint32_t)m->len);
    memcpy(tail + 4, "PAR1", 4);
    if ((rc = out_write(w, m->data, m->len)) || (rc = out_write(w, tail, 8)))
        goto fail;
    return 0;
fail:
    w->err = rc;
    return rc;
}

/* ---- rows ---- */

static int append_u32(struct buf *b, uint32_t v)
{
    return buf_append(b, &v, sizeof v);
}

static int col_commit(struct pqwriter *w, struct col *c)
{
    int rc;
    if (!c->staged) {
        c->nulls++;
        c->page_nulls++;
        if ((rc = append_u32(&c->defs, 0)))
            return rc;
    } else {
        if ((rc = append_u32(&c->defs, 1)) || (rc = stats_add(c)))
            return rc;
        uint8_t fixed[16];
        const void *key;
        size_t klen, plen;
        if (c->ptype == PT_BYTE_ARRAY) {
            key = c->sp;
            klen = c->slen;
            plen = 4 + klen;
        } else {
            klen = plen = plain_fixed(c, c->si, c->sd, c->sdec, fixed);
            key = fixed;
        }
        if (c->dict_on) {
            uint32_t ix;
            uint8_t len4[4];
            le32(len4, (uint32_t)klen);
            if ((rc = dict_lookup(c, key, klen, len4, c->ptype == PT_BYTE_ARRAY ? 4 : 0, &ix)))
                return rc;
            if (c->nidx == c->idx_cap) {
                size_t nc = c->idx_cap ? c->idx_cap * 2 : 1024;
                uint32_t *ni = hy_realloc(c->idx, nc * sizeof *ni);
                if (!ni)
                    return HY_ENOMEM;
                c->idx = ni;
                c->idx_cap = nc;
            }
            c->idx[c->nidx++] = ix;
        } else if (c->ptype == PT_BYTE_ARRAY) {
            uint8_t len4[4];
            le32(len4, (uint32_t)klen);
            if ((rc = buf_append(&c->vals, len4, 4)) || (rc = buf_append(&c->vals, key, klen)))
                return rc;
        } else if ((rc = buf_append(&c->vals, key, klen))) {
            return rc;
        }
        c->chunk_nonnull++;
        c->page_bytes += plen;
        w->rg_bytes += plen;
    }
    c->page_rows++;
    c->chunk_values++;
    c->staged = false;
    w->rg_bytes += 1;
    if (c->dict_on && c->dict_vals.len > DICT_MAX_BYTES) {
        /* Dictionary full: this page keeps its indices, later pages of the chunk go PLAIN. */
        if ((rc = page_flush(w, c)))
            return rc;
        c->dict_on = false;
    }
    if (c->page_bytes >= w->o.page_size)
        return page_flush(w, c);
    return 0;
}

int pqwriter_row_end(struct pqwriter *w)
{
    int rc;
    if (w->err)
        return w->err;
    if (w->finished)
        return HY_EINVAL;
    for (size_t i = 0; i < w->ncols; i++)
        if ((rc = col_commit(w, &w->cols[i])))
            goto fail;
    w->rows++;
    w->rg_rows++;
    if (w->rg_bytes >= w->o.block_size && (rc = row_group_flush(w)))
        goto fail;
    return 0;
fail:
    w->err = rc;
    return rc;
}

void pqwriter_row_abort(struct pqwriter *w)
{
    for (size_t i = 0; i < w->ncols; i++)
        w->cols[i].staged = false;
}

static struct col *col_get(struct pqwriter *w, size_t col)
{
    return col < w->ncols ? &w->cols[col] : NULL;
}

int pqwriter_set_null(struct pqwriter *w, size_t col)
{
    struct col *c = col_get(w, col);
    if (!c)
        return HY_EINVAL;
    c->staged = false;
    return 0;
}

int pqwriter_set_bool(struct pqwriter *w, size_t col, bool v)
{
    struct col *c = col_get(w, col);
    if (!c || c->type != PQWRITER_BOOLEAN)
        return HY_EINVAL;
    c->si = v;
    c->staged = true;
    return 0;
}

int pqwriter_set_int(struct pqwriter *w, size_t col, int64_t v)
{
    struct col *c = col_get(w, col);
    if (!c)
        return HY_EINVAL;
    int64_t lo = INT32_MIN, hi = INT32_MAX;
    switch (c->type) {
    case PQWRITER_TINYINT:
        lo = INT8_MIN;
        hi = INT8_MAX;
        break;
    case PQWRITER_SMALLINT:
        lo = INT16_MIN;
        hi = INT16_MAX;
        break;
    case PQWRITER_INT:
    case PQWRITER_DATE:
        break;
    case PQWRITER_BIGINT:
    case PQWRITER_TIMESTAMP:
        lo = INT64_MIN;
        hi = INT64_MAX;
        break;
    default:
        return HY_EINVAL;
    }
    if (v < lo || v > hi)
        return HY_EINVAL;
    c->si = v;
    c->staged = true;
    return 0;
}

int pqwriter_set_double(struct pqwriter *w, size_t col, double v)
{
    struct col *c = col_get(w, col);
    if (!c)
        return HY_EINVAL;
    if (c->type == PQWRITER_FLOAT)
        v = (double)(float)v;
    else if (c->type != PQWRITER_DOUBLE)
        return HY_EINVAL;
    c->sd = v;
    c->staged = true;
    return 0;
}

int pqwriter_set_bytes(struct pqwriter *w, size_t col, const void *p, size_t len)
{
    struct col *c = col_get(w, col);
    if (!c || (c->type != PQWRITER_STRING && c->type != PQWRITER_BINARY) || len > UINT32_MAX)
        return HY_EINVAL;
    c->sp = len ? p : "";
    c->slen = len;
    c->staged = true;
    return 0;
}

static __int128 pow10_128(int p)
{
    __int128 r = 1;
    while (p-- > 0)
        r *= 10;
    return r;
}

int pqwriter_set_decimal(struct pqwriter *w, size_t col, __int128 unscaled)
{
    struct col *c = col_get(w, col);
    if (!c || c->type != PQWRITER_DECIMAL)
        return HY_EINVAL;
    __int128 lim = pow10_128(c->precision);
    if (unscaled >= lim || unscaled <= -lim)
        return HY_EINVAL;
    c->sdec = unscaled;
    c->staged = true;
    return 0;
}

/* ---- lifecycle ---- */

static void col_fini(struct col *c)
{
    hy_free(c->name);
    buf_fini(&c->defs);
    buf_fini(&c->vals);
    buf_fini(&c->chunk);
    buf_fini(&c->dict_vals);
    buf_fini(&c->bmin);
    buf_fini(&c->bmax);
    hy_free(c->idx);
    hy_free(c->doff);
    hy_free(c->dlen);
    hy_free(c->slots);
}

void pqwriter_free(struct pqwriter *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->ncols; i++)
        col_fini(&w->cols[i]);
    hy_free(w->cols);
    buf_fini(&w->rgs);
    buf_fini(&w->scratch);
    buf_fini(&w->levels);
    buf_fini(&w->comp);
    buf_fini(&w->hdr);
    buf_fini(&w->page);
    buf_fini(&w->rgcols);
    hy_free(w);
}

static int col_setup(struct col *c, const struct pqwriter_column *d, bool dictionary)
{
    if (!d->name || !d->name[0])
        return HY_EINVAL;
    c->type = d->type;
    switch (d->type) {
    case PQWRITER_BOOLEAN:
        c->ptype = PT_BOOLEAN;
        break;
    case PQWRITER_TINYINT:
    case PQWRITER_SMALLINT:
    case PQWRITER_INT:
    case PQWRITER_DATE:
        c->ptype = PT_INT32;
        break;
    case PQWRITER_BIGINT:
    case PQWRITER_TIMESTAMP:
        c->ptype = PT_INT64;
        break;
    case PQWRITER_FLOAT:
        c->ptype = PT_FLOAT;
        break;
    case PQWRITER_DOUBLE:
        c->ptype = PT_DOUBLE;
        break;
    case PQWRITER_STRING:
    case PQWRITER_BINARY:
        c->ptype = PT_BYTE_ARRAY;
        break;
    case PQWRITER_DECIMAL:
        if (d->precision < 1 || d->precision > 38 || d->scale < 0 || d->scale > d->precision)
            return HY_EINVAL;
        c->precision = d->precision;
        c->scale = d->scale;
        if (d->precision <= 9) {
            c->ptype = PT_INT32;
        } else if (d->precision <= 18) {
            c->ptype = PT_INT64;
        } else {
            /* Smallest width whose signed range holds 10^p - 1. */
            unsigned __int128 need = (unsigned __int128)pow10_128(d->precision) - 1;
            int n = 1;
            while (n < 16 && ((unsigned __int128)1 << (8 * n - 1)) <= need)
                n++;
            c->ptype = PT_FLBA;
            c->type_len = n;
        }
        break;
    default:
        return HY_EINVAL;
    }
    c->name = hy_strdup(d->name);
    if (!c->name)
        return HY_ENOMEM;
    buf_init(&c->defs, BUF_MAX);
    buf_init(&c->vals, BUF_MAX);
    buf_init(&c->chunk, BUF_MAX);
    buf_init(&c->dict_vals, BUF_MAX);
    buf_init(&c->bmin, STAT_MAX_BYTES + 1);
    buf_init(&c->bmax, STAT_MAX_BYTES + 1);
    c->dict_on = dictionary && c->ptype != PT_BOOLEAN;
    return 0;
}

struct pqwriter *pqwriter_new(const struct pqwriter_column *cols, size_t ncols,
                              const struct pqwriter_opts *opts, pqwriter_write_fn fn, void *ctx)
{
    if (!ncols || !fn)
        return NULL;
    struct pqwriter *w = hy_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->o = *opts;
    if (!w->o.block_size)
        w->o.block_size = (size_t)256 << 20;
    if (!w->o.page_size)
        w->o.page_size = (size_t)1 << 20;
    if (w->o.page_version != 2)
        w->o.page_version = 1;
    w->fn = fn;
    w->ctx = ctx;
    buf_init(&w->rgs, BUF_MAX);
    buf_init(&w->scratch, BUF_MAX);
    buf_init(&w->levels, BUF_MAX);
    buf_init(&w->comp, BUF_MAX);
    buf_init(&w->hdr, BUF_MAX);
    buf_init(&w->page, BUF_MAX);
    buf_init(&w->rgcols, BUF_MAX);
    w->cols = hy_calloc(ncols, sizeof *w->cols);
    if (!w->cols)
        goto fail;
    for (size_t i = 0; i < ncols; i++) {
        w->ncols = i + 1;
        if (col_setup(&w->cols[i], &cols[i], opts->dictionary))
            goto fail;
    }
    return w;
fail:
    pqwriter_free(w);
    return NULL;
}

uint64_t pqwriter_rows(const struct pqwriter *w)
{
    return w->rows;
}

uint64_t pqwriter_row_groups(const struct pqwriter *w)
{
    return w->nrg;
}

uint64_t pqwriter_offset(const struct pqwriter *w)
{
    return w->off;
}
