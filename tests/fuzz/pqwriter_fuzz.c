/* libFuzzer target: the Parquet writer under random schemas (flat and nested up to three levels),
 * options and values. Whatever it writes must be framed ("PAR1" at both ends, a footer length that
 * fits) and the footer and every page header at the offsets the footer names must be well-formed
 * Thrift compact structs, checked by a generic struct walker; allocation failures are injected. */
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "parquet/pqwriter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct in *in, unsigned mod)
{
    if (!in->n || !mod)
        return 0;
    unsigned v = *in->p++ % mod;
    in->n--;
    return v;
}

/* ---- a generic Thrift compact walker ---- */

static int uvar(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

static int skip_value(const uint8_t **p, const uint8_t *end, int ct, int depth);

static int skip_struct(const uint8_t **p, const uint8_t *end, int depth)
{
    if (depth > 32)
        return -1;
    for (;;) {
        if (*p >= end)
            return -1;
        uint8_t h = *(*p)++;
        if (!h)
            return 0;
        uint64_t id;
        if (!(h >> 4) && uvar(p, end, &id))
            return -1;
        int ct = h & 0x0f;
        if (ct == 1 || ct == 2)
            continue;
        if (skip_value(p, end, ct, depth))
            return -1;
    }
}

static int skip_value(const uint8_t **p, const uint8_t *end, int ct, int depth)
{
    uint64_t v;
    switch (ct) {
    case 3:
        if (*p >= end)
            return -1;
        (*p)++;
        return 0;
    case 4:
    case 5:
    case 6:
        return uvar(p, end, &v);
    case 7:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 0;
    case 8:
        if (uvar(p, end, &v) || v > (uint64_t)(end - *p))
            return -1;
        *p += v;
        return 0;
    case 9: {
        if (*p >= end)
            return -1;
        uint8_t h = *(*p)++;
        uint64_t n = h >> 4;
        if (n == 15 && uvar(p, end, &n))
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            if ((h & 0x0f) == 1 || (h & 0x0f) == 2) {
                if (*p >= end)
                    return -1;
                (*p)++;
            } else if (skip_value(p, end, h & 0x0f, depth + 1)) {
                return -1;
            }
        }
        return 0;
    }
    case 12:
        return skip_struct(p, end, depth + 1);
    default:
        return -1;
    }
}

/* ---- schema and values from the input ---- */

static struct pqwriter_column pool[64];
static size_t npool;

static void gen_col(struct in *in, struct pqwriter_column *c, int depth, const char *name)
{
    c->name = name;
    unsigned t = take(in, depth < 3 ? 15 : 12);
    c->type = (enum pqwriter_type)t;
    c->precision = 1 + (int)take(in, 38);
    c->scale = (int)take(in, (unsigned)c->precision + 1);
    c->children = NULL;
    c->nchildren = 0;
    if (c->type == PQWRITER_LIST || c->type == PQWRITER_MAP || c->type == PQWRITER_STRUCT) {
        size_t k = c->type == PQWRITER_LIST ? 1 : c->type == PQWRITER_MAP ? 2 : 1 + take(in, 3);
        if (npool + k > 64) {
            c->type = PQWRITER_INT;
            return;
        }
        struct pqwriter_column *kids = &pool[npool];
        npool += k;
        static const char *names[] = {"a", "b", "c"};
        for (size_t i = 0; i < k; i++)
            gen_col(in, &kids[i], depth + 1, names[i]);
        c->children = kids;
        c->nchildren = k;
    }
}

static struct pqwriter_value vals[256];
static size_t nvals;

static void gen_val(struct in *in, const struct pqwriter_column *c, struct pqwriter_value *v,
                    int depth)
{
    memset(v, 0, sizeof *v);
    unsigned k = take(in, 8);
    if (k == 0)
        return; /* null */
    switch (c->type) {
    case PQWRITER_LIST:
    case PQWRITER_MAP:
    case PQWRITER_STRUCT: {
        size_t per = c->type == PQWRITER_MAP ? 2 : 1;
        size_t n = c->type == PQWRITER_STRUCT ? c->nchildren : per * take(in, 4);
        if (nvals + n > 256)
            return;
        struct pqwriter_value *items = &vals[nvals];
        nvals += n;
        for (size_t i = 0; i < n; i++)
            gen_val(in, c->type == PQWRITER_STRUCT ? &c->children[i] : &c->children[i % per],
                    &items[i], depth + 1);
        v->kind = PQWRITER_V_ITEMS;
        v->items = items;
        v->len = n;
        return;
    }
    default:
        break;
    }
    /* Any scalar kind, so type mismatches are exercised too. */
    v->kind = (enum pqwriter_vkind)(1 + take(in, 5));
    v->b = take(in, 2);
    v->i = (int64_t)((uint64_t)take(in, 256) << (8 * take(in, 8))) - 100;
    v->d = (double)v->i / 3.0;
    v->dec = (__int128)v->i * (take(in, 2) ? 1000000000000LL : 1);
    v->p = "abcdefghijklmnopqrstuvwxyz";
    v->len = take(in, 27);
}

static int to_buf(void *ctx, const void *p, size_t len)
{
    return buf_append(ctx, p, len);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    npool = 0;
    struct pqwriter_column cols[6];
    static const char *names[] = {"c0", "c1", "c2", "c3", "c4", "c5"};
    size_t ncols = 1 + take(&in, 6);
    for (size_t i = 0; i < ncols; i++)
        gen_col(&in, &cols[i], 0, names[i]);
    static const enum pqwriter_codec codecs[] = {PQWRITER_UNCOMPRESSED, PQWRITER_SNAPPY,
                                                 PQWRITER_GZIP, PQWRITER_ZSTD};
    struct pqwriter_opts o = {.block_size = 64 + 64 * take(&in, 16),
                              .page_size = 16 + 16 * take(&in, 16),
                              .codec = codecs[take(&in, 4)],
                              .dictionary = take(&in, 2),
                              .page_version = 1 + (int)take(&in, 2)};
    struct buf b;
    buf_init(&b, 1 << 24);
    if (take(&in, 4) == 0)
        hy_mem_fail_random(50);
    struct pqwriter *w = pqwriter_new(cols, ncols, &o, to_buf, &b);
    int rc = w ? 0 : -1;
    while (!rc && in.n) {
        nvals = 0;
        struct pqwriter_value row[6];
        for (size_t i = 0; i < ncols; i++) {
            gen_val(&in, &cols[i], &row[i], 0);
            pqwriter_set_value(w, i, &row[i]);
        }
        if (take(&in, 16) == 0)
            pqwriter_row_abort(w);
        else
            rc = pqwriter_row_end(w);
    }
    if (!rc)
        rc = pqwriter_finish(w);
    hy_mem_fail_random(0);
    if (!rc) {
        const uint8_t *f = (const uint8_t *)b.data;
        if (b.len < 12 || memcmp(f, "PAR1", 4) || memcmp(f + b.len - 4, "PAR1", 4))
            abort();
        uint32_t flen = rd32(f + b.len - 8);
        if (flen > b.len - 12)
            abort();
        const uint8_t *p = f + b.len - 8 - flen, *end = f + b.len - 8;
        if (skip_struct(&p, end, 0) || p != end)
            abort();
        /* Every page from the first row group's start to the footer parses as a header. */
        const uint8_t *q = f + 4, *fend = f + b.len - 8 - flen;
        while (q < fend) {
            const uint8_t *h = q;
            if (skip_struct(&q, fend, 0))
                abort();
            /* compressed_page_size is field 3: read it by walking the header's first fields. */
            uint64_t v, comp = 0;
            const uint8_t *r = h;
            for (int fld = 0; fld < 3; fld++) {
                r++;
                if (uvar(&r, fend, &v))
                    abort();
                if (fld == 2)
                    comp = v >> 1;
            }
            if (comp > (uint64_t)(fend - q))
                abort();
            q += comp;
        }
    }
    pqwriter_free(w);
    buf_fini(&b);
    return 0;
}
