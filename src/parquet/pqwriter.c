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

/* One staged level entry of a leaf for the current row. */
struct ent {
    int16_t rep, def;
    int64_t i;
    double d;
    __int128 dec;
    const void *p;
    size_t len;
};

/* A leaf column (one per primitive in the schema tree). */
struct col {
    char *name;  /* the leaf's own name */
    char **path; /* path_in_schema */
    size_t npath;
    int max_def, max_rep;
    bool required; /* map keys */
    struct ent *stg;
    size_t nstg, stg_cap;
    struct buf reps; /* repetition levels of the open page, uint32 each */
    size_t page_nrows;
    enum pqwriter_type type;
    int precision, scale;
    int ptype;
    int type_len; /* FIXED_LEN_BYTE_ARRAY width */

    /* the value being committed */
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

/* The schema tree, for shredding values and writing the footer's schema. */
struct xnode {
    char *name;
    enum pqwriter_type type;
    int precision, scale;
    struct xnode *kids;
    size_t nkids;
    size_t leaf, nleaves; /* leaves under this node: [leaf, leaf + nleaves) */
    int rep;              /* list/map: the repetition level of its entries */
    bool required;
};

struct pqwriter {
    struct col *cols; /* leaves */
    size_t ncols;
    struct xnode *tops; /* top-level columns */
    size_t ntops;
    bool *set; /* per top-level column: staged this row */
    struct pqwriter_opts o;
    pqwriter_write_fn fn;
    void *ctx;
    uint64_t off;
    uint64_t rows, rg_rows, nrg;
    size_t rg_bytes;
    struct buf rgs;     /* serialized RowGroup structs */
    struct buf scratch; /* page payload before compression */
    struct buf levels;  /* RLE definition levels */
    struct buf rlev;    /* RLE repetition levels */
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
    /* page_rows counts level entries (values incl. nulls); page_nrows counts rows. */
    const uint32_t *defs = (const uint32_t *)(const void *)c->defs.data;
    const uint32_t *reps = (const uint32_t *)(const void *)c->reps.data;
    buf_reset(&w->levels);
    buf_reset(&w->rlev);
    if (c->max_rep &&
        (rc = rle_encode(&w->rlev, reps, c->page_rows, bit_width((uint32_t)c->max_rep))))
        return rc;
    if ((rc = rle_encode(&w->levels, defs, c->page_rows, bit_width((uint32_t)c->max_def))))
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
        unc = w->rlev.len + w->levels.len + w->scratch.len;
        if ((rc = page_header(w, PAGE_DATA_V2, unc, w->rlev.len + w->levels.len + cn)))
            return rc;
        thrift_init(&t, &w->hdr);
        t.last[0] = 3;
        thrift_struct_begin(&t, 8);
        thrift_i32(&t, 1, (int32_t)c->page_rows);
        thrift_i32(&t, 2, (int32_t)c->page_nulls);
        thrift_i32(&t, 3, (int32_t)c->page_nrows);
        thrift_i32(&t, 4, encoding);
        thrift_i32(&t, 5, (int32_t)w->levels.len);
        thrift_i32(&t, 6, (int32_t)w->rlev.len);
        thrift_bool(&t, 7, w->o.codec != PQWRITER_UNCOMPRESSED);
        thrift_struct_end(&t);
        thrift_stop(&t);
        if ((rc = thrift_err(&t)) || (rc = buf_append(&c->chunk, w->hdr.data, w->hdr.len)) ||
            (rc = buf_append(&c->chunk, w->rlev.data, w->rlev.len)) ||
            (rc = buf_append(&c->chunk, w->levels.data, w->levels.len)) ||
            (rc = buf_append(&c->chunk, cp, cn)))
            return rc;
    } else {
        buf_reset(&w->page);
        uint8_t len4[4];
        if (c->max_rep) {
            le32(len4, (uint32_t)w->rlev.len);
            if ((rc = buf_append(&w->page, len4, 4)) ||
                (rc = buf_append(&w->page, w->rlev.data, w->rlev.len)))
                return rc;
        }
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
    buf_reset(&c->reps);
    buf_reset(&c->vals);
    c->nidx = 0;
    c->page_rows = c->page_nulls = c->page_bytes = c->page_nrows = 0;
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
    thrift_list_begin(t, 3, THRIFT_BINARY, c->npath);
    for (size_t i = 0; i < c->npath; i++)
        thrift_elem_binary(t, c->path[i], strlen(c->path[i]));
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

static void logical_empty(struct thrift_w *t, int16_t id)
{
    thrift_struct_begin(t, 10);
    thrift_struct_begin(t, id);
    thrift_struct_end(t);
    thrift_struct_end(t);
}

static void schema_leaf(const struct col *c, struct thrift_w *t)
{
    thrift_elem_begin(t);
    thrift_i32(t, 1, c->ptype);
    if (c->ptype == PT_FLBA)
        thrift_i32(t, 2, c->type_len);
    thrift_i32(t, 3, c->required ? 0 : 1); /* Hive columns are nullable; map keys are not */
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
        logical_empty(t, 1);
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
        logical_empty(t, 6);
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

static void schema_group(struct thrift_w *t, int repetition, const char *name, size_t nkids,
                         int converted, int16_t logical)
{
    thrift_elem_begin(t);
    thrift_i32(t, 3, repetition);
    thrift_str(t, 4, name);
    thrift_i32(t, 5, (int32_t)nkids);
    if (converted >= 0) {
        thrift_i32(t, 6, converted);
        logical_empty(t, logical);
    }
    thrift_struct_end(t);
}

/* Depth first, as Parquet flattens the schema: LIST is optional group (LIST) { repeated group
 * list { element } }, MAP is optional group (MAP) { repeated group key_value { key; value } }. */
static void schema_node(const struct pqwriter *w, const struct xnode *x, struct thrift_w *t)
{
    switch (x->type) {
    case PQWRITER_STRUCT:
        schema_group(t, 1, x->name, x->nkids, -1, 0);
        for (size_t i = 0; i < x->nkids; i++)
            schema_node(w, &x->kids[i], t);
        break;
    case PQWRITER_LIST:
        schema_group(t, 1, x->name, 1, 3, 3);
        schema_group(t, 2, "list", 1, -1, 0);
        schema_node(w, &x->kids[0], t);
        break;
    case PQWRITER_MAP:
        schema_group(t, 1, x->name, 1, 1, 2);
        schema_group(t, 2, "key_value", 2, -1, 0);
        schema_node(w, &x->kids[0], t);
        schema_node(w, &x->kids[1], t);
        break;
    default:
        schema_leaf(&w->cols[x->leaf], t);
        break;
    }
}

static size_t schema_count(const struct xnode *x)
{
    size_t n = 1;
    if (x->type == PQWRITER_LIST || x->type == PQWRITER_MAP)
        n++;
    for (size_t i = 0; i < x->nkids; i++)
        n += schema_count(&x->kids[i]);
    return n;
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
    size_t nschema = 1;
    for (size_t i = 0; i < w->ntops; i++)
        nschema += schema_count(&w->tops[i]);
    thrift_list_begin(&t, 2, THRIFT_STRUCT, nschema);
    thrift_elem_begin(&t);
    thrift_str(&t, 4, "schema");
    thrift_i32(&t, 5, (int32_t)w->ntops);
    thrift_struct_end(&t);
    for (size_t i = 0; i < w->ntops; i++)
        schema_node(w, &w->tops[i], &t);
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

/* ---- rows: staging and shredding ---- */

static int append_u32(struct buf *b, uint32_t v)
{
    return buf_append(b, &v, sizeof v);
}

static int stage(struct col *c, int rep, int def, const struct ent *v)
{
    if (c->nstg == c->stg_cap) {
        size_t nc = c->stg_cap ? c->stg_cap * 2 : 8;
        struct ent *n = hy_realloc(c->stg, nc * sizeof *n);
        if (!n)
            return HY_ENOMEM;
        c->stg = n;
        c->stg_cap = nc;
    }
    struct ent *e = &c->stg[c->nstg++];
    if (v)
        *e = *v;
    else
        memset(e, 0, sizeof *e);
    e->rep = (int16_t)rep;
    e->def = (int16_t)def;
    return 0;
}

static int stage_nulls(struct pqwriter *w, const struct xnode *x, int rep, int def)
{
    int rc;
    for (size_t i = x->leaf; i < x->leaf + x->nleaves; i++)
        if ((rc = stage(&w->cols[i], rep, def, NULL)))
            return rc;
    return 0;
}

static __int128 pow10_128(int p)
{
    __int128 r = 1;
    while (p-- > 0)
        r *= 10;
    return r;
}

/* Check a primitive value against the leaf's type and fill e. */
static int prim_value(const struct col *c, const struct pqwriter_value *v, struct ent *e)
{
    memset(e, 0, sizeof *e);
    int64_t lo = INT32_MIN, hi = INT32_MAX;
    switch (c->type) {
    case PQWRITER_BOOLEAN:
        if (v->kind != PQWRITER_V_BOOL)
            return HY_EINVAL;
        e->i = v->b;
        return 0;
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
    case PQWRITER_FLOAT:
    case PQWRITER_DOUBLE:
        if (v->kind != PQWRITER_V_DOUBLE)
            return HY_EINVAL;
        e->d = c->type == PQWRITER_FLOAT ? (double)(float)v->d : v->d;
        return 0;
    case PQWRITER_STRING:
    case PQWRITER_BINARY:
        if (v->kind != PQWRITER_V_BYTES || v->len > UINT32_MAX)
            return HY_EINVAL;
        e->p = v->len ? v->p : "";
        e->len = v->len;
        return 0;
    case PQWRITER_DECIMAL: {
        if (v->kind != PQWRITER_V_DECIMAL)
            return HY_EINVAL;
        __int128 lim = pow10_128(c->precision);
        if (v->dec >= lim || v->dec <= -lim)
            return HY_EINVAL;
        e->dec = v->dec;
        return 0;
    }
    default:
        return HY_EINVAL;
    }
    if (v->kind != PQWRITER_V_INT || v->i < lo || v->i > hi)
        return HY_EINVAL;
    e->i = v->i;
    return 0;
}

/* Dremel shredding: rep is the repetition level of the first entry this value produces, def the
 * definition level reached by its parent. */
static int shred(struct pqwriter *w, const struct xnode *x, const struct pqwriter_value *v, int rep,
                 int def)
{
    int rc;
    bool null = !v || v->kind == PQWRITER_V_NULL;
    if (null && x->required)
        return HY_EINVAL; /* a null map key */
    if (null)
        return stage_nulls(w, x, rep, def);
    switch (x->type) {
    case PQWRITER_STRUCT:
        if (v->kind != PQWRITER_V_ITEMS || v->len != x->nkids)
            return HY_EINVAL;
        for (size_t i = 0; i < x->nkids; i++)
            if ((rc = shred(w, &x->kids[i], &v->items[i], rep, def + 1)))
                return rc;
        return 0;
    case PQWRITER_LIST:
    case PQWRITER_MAP: {
        size_t per = x->type == PQWRITER_MAP ? 2 : 1;
        if (v->kind != PQWRITER_V_ITEMS || v->len % per)
            return HY_EINVAL;
        if (!v->len) /* empty: defined at this level, no entries */
            return stage_nulls(w, x, rep, def + 1);
        for (size_t k = 0; k < v->len / per; k++)
            for (size_t j = 0; j < per; j++)
                if ((rc = shred(w, &x->kids[j], &v->items[k * per + j], k ? x->rep : rep, def + 2)))
                    return rc;
        return 0;
    }
    default: {
        struct ent e;
        if ((rc = prim_value(&w->cols[x->leaf], v, &e)))
            return rc;
        return stage(&w->cols[x->leaf], rep, def + (x->required ? 0 : 1), &e);
    }
    }
}

static void unstage(struct pqwriter *w, size_t top)
{
    const struct xnode *x = &w->tops[top];
    for (size_t i = x->leaf; i < x->leaf + x->nleaves; i++)
        w->cols[i].nstg = 0;
    w->set[top] = false;
}

int pqwriter_set_value(struct pqwriter *w, size_t col, const struct pqwriter_value *v)
{
    if (col >= w->ntops)
        return HY_EINVAL;
    unstage(w, col);
    int rc = shred(w, &w->tops[col], v, 0, 0);
    if (rc) {
        unstage(w, col);
        return rc;
    }
    w->set[col] = true;
    return 0;
}

int pqwriter_set_null(struct pqwriter *w, size_t col)
{
    if (col >= w->ntops)
        return HY_EINVAL;
    unstage(w, col);
    return 0;
}

int pqwriter_set_bool(struct pqwriter *w, size_t col, bool v)
{
    struct pqwriter_value x = {.kind = PQWRITER_V_BOOL, .b = v};
    return pqwriter_set_value(w, col, &x);
}

int pqwriter_set_int(struct pqwriter *w, size_t col, int64_t v)
{
    struct pqwriter_value x = {.kind = PQWRITER_V_INT, .i = v};
    return pqwriter_set_value(w, col, &x);
}

int pqwriter_set_double(struct pqwriter *w, size_t col, double v)
{
    struct pqwriter_value x = {.kind = PQWRITER_V_DOUBLE, .d = v};
    return pqwriter_set_value(w, col, &x);
}

int pqwriter_set_bytes(struct pqwriter *w, size_t col, const void *p, size_t len)
{
    struct pqwriter_value x = {.kind = PQWRITER_V_BYTES, .p = p, .len = len};
    return pqwriter_set_value(w, col, &x);
}

int pqwriter_set_decimal(struct pqwriter *w, size_t col, __int128 unscaled)
{
    struct pqwriter_value x = {.kind = PQWRITER_V_DECIMAL, .dec = unscaled};
    return pqwriter_set_value(w, col, &x);
}

/* ---- rows: commit ---- */

static int entry_commit(struct pqwriter *w, struct col *c, const struct ent *e)
{
    int rc;
    if (c->max_rep && (rc = append_u32(&c->reps, (uint32_t)e->rep)))
        return rc;
    if ((rc = append_u32(&c->defs, (uint32_t)e->def)))
        return rc;
    c->page_rows++;
    c->chunk_values++;
    w->rg_bytes += 1;
    if (e->def < c->max_def) {
        c->nulls++;
        c->page_nulls++;
        return 0;
    }
    c->si = e->i;
    c->sd = e->d;
    c->sdec = e->dec;
    c->sp = e->p;
    c->slen = e->len;
    if ((rc = stats_add(c)))
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
    return 0;
}

/* Commit the row's entries of one leaf; pages are cut only between rows. */
static int col_commit(struct pqwriter *w, struct col *c)
{
    int rc;
    for (size_t i = 0; i < c->nstg; i++)
        if ((rc = entry_commit(w, c, &c->stg[i])))
            return rc;
    c->nstg = 0;
    c->page_nrows++;
    /* A dictionary that is full, or that after 1,000 values holds mostly distinct ones, does not
     * pay: this page keeps its indices, later pages of the chunk go PLAIN (and skip hashing). */
    if (c->dict_on &&
        (c->dict_vals.len > DICT_MAX_BYTES ||
         (c->chunk_nonnull >= 1000 && (int64_t)c->ndict * 4 > c->chunk_nonnull * 3))) {
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
    for (size_t i = 0; i < w->ntops; i++)
        if (!w->set[i] && (rc = stage_nulls(w, &w->tops[i], 0, 0)))
            goto fail;
    for (size_t i = 0; i < w->ncols; i++)
        if ((rc = col_commit(w, &w->cols[i])))
            goto fail;
    for (size_t i = 0; i < w->ntops; i++)
        w->set[i] = false;
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
    for (size_t i = 0; i < w->ntops; i++)
        unstage(w, i);
}

/* ---- lifecycle ---- */

static void col_fini(struct col *c)
{
    hy_free(c->name);
    for (size_t i = 0; i < c->npath; i++)
        hy_free(c->path[i]);
    hy_free(c->path);
    hy_free(c->stg);
    buf_fini(&c->defs);
    buf_fini(&c->reps);
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

static void xnode_fini(struct xnode *x)
{
    for (size_t i = 0; i < x->nkids; i++)
        xnode_fini(&x->kids[i]);
    hy_free(x->kids);
    hy_free(x->name);
}

void pqwriter_free(struct pqwriter *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->ncols; i++)
        col_fini(&w->cols[i]);
    hy_free(w->cols);
    for (size_t i = 0; i < w->ntops; i++)
        xnode_fini(&w->tops[i]);
    hy_free(w->tops);
    hy_free(w->set);
    buf_fini(&w->rgs);
    buf_fini(&w->scratch);
    buf_fini(&w->levels);
    buf_fini(&w->rlev);
    buf_fini(&w->comp);
    buf_fini(&w->hdr);
    buf_fini(&w->page);
    buf_fini(&w->rgcols);
    hy_free(w);
}

static int col_setup(struct col *c, const struct pqwriter_column *d, bool dictionary)
{
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
    buf_init(&c->defs, BUF_MAX);
    buf_init(&c->reps, BUF_MAX);
    buf_init(&c->vals, BUF_MAX);
    buf_init(&c->chunk, BUF_MAX);
    buf_init(&c->dict_vals, BUF_MAX);
    buf_init(&c->bmin, STAT_MAX_BYTES + 1);
    buf_init(&c->bmax, STAT_MAX_BYTES + 1);
    c->dict_on = dictionary && c->ptype != PT_BOOLEAN;
    return 0;
}

static size_t leaf_count(const struct pqwriter_column *d, int depth)
{
    if (depth > 32)
        return 0;
    switch (d->type) {
    case PQWRITER_LIST:
        return d->nchildren == 1 ? leaf_count(&d->children[0], depth + 1) : 0;
    case PQWRITER_MAP: {
        if (d->nchildren != 2)
            return 0;
        size_t k = leaf_count(&d->children[0], depth + 1);
        size_t v = leaf_count(&d->children[1], depth + 1);
        return k && v ? k + v : 0;
    }
    case PQWRITER_STRUCT: {
        size_t n = 0;
        for (size_t i = 0; i < d->nchildren; i++) {
            size_t k = leaf_count(&d->children[i], depth + 1);
            if (!k)
                return 0;
            n += k;
        }
        return n;
    }
    default:
        return 1;
    }
}

/* Build the tree node for d at definition level def and repetition level rep, path names so
 * far in path[0..npath). Leaves are numbered in depth-first order. */
static int build(struct pqwriter *w, struct xnode *x, const struct pqwriter_column *d,
                 const char *name, bool required, int def, int rep, const char **path, size_t npath)
{
    int rc;
    x->name = hy_strdup(name);
    if (!x->name)
        return HY_ENOMEM;
    x->type = d->type;
    x->required = required;
    x->leaf = w->ncols;
    path[npath++] = name;
    int mydef = def + (required ? 0 : 1);
    if (d->type == PQWRITER_LIST || d->type == PQWRITER_MAP || d->type == PQWRITER_STRUCT) {
        if (d->type == PQWRITER_STRUCT && !d->nchildren)
            return HY_EINVAL;
        x->kids = hy_calloc(d->nchildren, sizeof *x->kids);
        if (!x->kids)
            return HY_ENOMEM;
        x->nkids = d->nchildren;
        int kdef = mydef, krep = rep;
        if (d->type != PQWRITER_STRUCT) {
            path[npath++] = d->type == PQWRITER_LIST ? "list" : "key_value";
            kdef = mydef + 1; /* the repeated group */
            krep = rep + 1;
            x->rep = krep;
        }
        for (size_t i = 0; i < d->nchildren; i++) {
            const char *kname = d->children[i].name;
            if (d->type == PQWRITER_LIST)
                kname = "element";
            else if (d->type == PQWRITER_MAP)
                kname = i ? "value" : "key";
            if (!kname || !kname[0])
                return HY_EINVAL;
            bool kreq = d->type == PQWRITER_MAP && i == 0;
            if ((rc = build(w, &x->kids[i], &d->children[i], kname, kreq, kdef, krep, path, npath)))
                return rc;
        }
    } else {
        struct col *c = &w->cols[w->ncols++];
        if ((rc = col_setup(c, d, w->o.dictionary)))
            return rc;
        c->max_def = mydef;
        c->max_rep = rep;
        c->required = required;
        c->name = hy_strdup(name);
        c->path = hy_calloc(npath, sizeof *c->path);
        if (!c->name || !c->path)
            return HY_ENOMEM;
        for (size_t i = 0; i < npath; i++) {
            c->path[i] = hy_strdup(path[i]);
            if (!c->path[i])
                return HY_ENOMEM;
            c->npath = i + 1;
        }
    }
    x->nleaves = w->ncols - x->leaf;
    return 0;
}

struct pqwriter *pqwriter_new(const struct pqwriter_column *cols, size_t ncols,
                              const struct pqwriter_opts *opts, pqwriter_write_fn fn, void *ctx)
{
    if (!ncols || !fn)
        return NULL;
    size_t nleaves = 0;
    for (size_t i = 0; i < ncols; i++) {
        size_t k = leaf_count(&cols[i], 0);
        if (!k || !cols[i].name || !cols[i].name[0])
            return NULL;
        nleaves += k;
    }
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
    buf_init(&w->rlev, BUF_MAX);
    buf_init(&w->comp, BUF_MAX);
    buf_init(&w->hdr, BUF_MAX);
    buf_init(&w->page, BUF_MAX);
    buf_init(&w->rgcols, BUF_MAX);
    w->cols = hy_calloc(nleaves, sizeof *w->cols);
    w->tops = hy_calloc(ncols, sizeof *w->tops);
    w->set = hy_calloc(ncols, sizeof *w->set);
    if (!w->cols || !w->tops || !w->set)
        goto fail;
    const char *path[80];
    for (size_t i = 0; i < ncols; i++) {
        w->ntops = i + 1;
        if (build(w, &w->tops[i], &cols[i], cols[i].name, false, 0, 0, path, 0))
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
