/*
 * pqwriter tests: file framing, argument checks, row abort, allocation failures. With
 * PQWRITER_TEST_OUT=<dir> the reader matrix also writes one file per codec x page version x
 * dictionary setting plus expect.json, which tests/integration/test_parquet.py reads back with
 * DuckDB and hyparquet (independent readers) through tests/integration/js/pqcheck.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "parquet/pqwriter.h"

static int to_buf(void *ctx, const void *p, size_t len)
{
    return buf_append(ctx, p, len);
}

static uint32_t rd32(const char *p)
{
    const uint8_t *u = (const uint8_t *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static const struct pqwriter_column one_int[] = {{.name = "n", .type = PQWRITER_INT}};

static void test_pqwriter_empty_file_has_magic_and_footer(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    struct pqwriter_opts o = {0};
    struct pqwriter *w = pqwriter_new(one_int, 1, &o, to_buf, &b);
    assert_non_null(w);
    assert_int_equal(pqwriter_finish(w), 0);
    assert_true(b.len > 12);
    assert_memory_equal(b.data, "PAR1", 4);
    assert_memory_equal(b.data + b.len - 4, "PAR1", 4);
    assert_int_equal(rd32(b.data + b.len - 8), b.len - 12);
    /* FileMetaData starts with version 1: field 1 i32 zigzag(1). */
    assert_memory_equal(b.data + 4, "\x15\x02", 2);
    assert_int_equal(pqwriter_finish(w), HY_EINVAL);
    pqwriter_free(w);
    buf_fini(&b);
}

static void test_pqwriter_setters_check_type_and_range(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    const struct pqwriter_column cols[] = {
        {.name = "t", .type = PQWRITER_TINYINT},
        {.name = "d", .type = PQWRITER_DECIMAL, .precision = 3, .scale = 1},
        {.name = "s", .type = PQWRITER_STRING},
    };
    struct pqwriter_opts o = {0};
    struct pqwriter *w = pqwriter_new(cols, 3, &o, to_buf, &b);
    assert_non_null(w);
    assert_int_equal(pqwriter_set_int(w, 0, 128), HY_EINVAL);
    assert_int_equal(pqwriter_set_int(w, 0, -128), 0);
    assert_int_equal(pqwriter_set_decimal(w, 1, 1000), HY_EINVAL);
    assert_int_equal(pqwriter_set_decimal(w, 1, -999), 0);
    assert_int_equal(pqwriter_set_int(w, 2, 1), HY_EINVAL);
    assert_int_equal(pqwriter_set_bytes(w, 0, "x", 1), HY_EINVAL);
    assert_int_equal(pqwriter_set_bool(w, 3, true), HY_EINVAL);
    pqwriter_row_abort(w);
    assert_int_equal(pqwriter_row_end(w), 0);
    assert_int_equal(pqwriter_rows(w), 1);
    assert_int_equal(pqwriter_finish(w), 0);
    pqwriter_free(w);
    buf_fini(&b);
}

static void test_pqwriter_rejects_bad_columns(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    struct pqwriter_opts o = {0};
    const struct pqwriter_column bad[] = {{.name = "d", .type = PQWRITER_DECIMAL, .precision = 39}};
    assert_null(pqwriter_new(bad, 1, &o, to_buf, &b));
    const struct pqwriter_column noname[] = {{.name = "", .type = PQWRITER_INT}};
    assert_null(pqwriter_new(noname, 1, &o, to_buf, &b));
    assert_null(pqwriter_new(one_int, 0, &o, to_buf, &b));
    buf_fini(&b);
}

static void test_pqwriter_cuts_row_groups_at_block_size(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 24);
    struct pqwriter_opts o = {.block_size = 4096, .page_size = 512, .dictionary = true};
    struct pqwriter *w = pqwriter_new(one_int, 1, &o, to_buf, &b);
    assert_non_null(w);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(pqwriter_set_int(w, 0, i), 0);
        assert_int_equal(pqwriter_row_end(w), 0);
    }
    assert_int_equal(pqwriter_finish(w), 0);
    /* 5 plain bytes per row (value + level estimate): about 820 rows per group. */
    assert_true(pqwriter_row_groups(w) >= 10);
    assert_true(pqwriter_row_groups(w) <= 14);
    pqwriter_free(w);
    buf_fini(&b);
}

static int fail_write(void *ctx, const void *p, size_t len)
{
    return -5;
}

static void test_pqwriter_write_error_is_sticky(void **state)
{
    struct pqwriter_opts o = {.block_size = 64};
    struct pqwriter *w = pqwriter_new(one_int, 1, &o, fail_write, NULL);
    assert_non_null(w);
    int rc = 0;
    for (int i = 0; i < 100 && !rc; i++) {
        pqwriter_set_int(w, 0, i);
        rc = pqwriter_row_end(w);
    }
    assert_int_equal(rc, -5);
    assert_int_equal(pqwriter_row_end(w), -5);
    assert_int_equal(pqwriter_finish(w), -5);
    pqwriter_free(w);
}

/* ---- the reader matrix ---- */

static const struct pqwriter_column all_cols[] = {
    {.name = "b", .type = PQWRITER_BOOLEAN},
    {.name = "t", .type = PQWRITER_TINYINT},
    {.name = "s", .type = PQWRITER_SMALLINT},
    {.name = "i", .type = PQWRITER_INT},
    {.name = "l", .type = PQWRITER_BIGINT},
    {.name = "f", .type = PQWRITER_FLOAT},
    {.name = "d", .type = PQWRITER_DOUBLE},
    {.name = "d7", .type = PQWRITER_DECIMAL, .precision = 7, .scale = 2},
    {.name = "d18", .type = PQWRITER_DECIMAL, .precision = 18, .scale = 4},
    {.name = "d38", .type = PQWRITER_DECIMAL, .precision = 38, .scale = 10},
    {.name = "str", .type = PQWRITER_STRING},
    {.name = "bin", .type = PQWRITER_BINARY},
    {.name = "dt", .type = PQWRITER_DATE},
    {.name = "ts", .type = PQWRITER_TIMESTAMP},
    {.name = "low", .type = PQWRITER_STRING},
};
#define NCOLS (sizeof all_cols / sizeof all_cols[0])
#define NROWS 3000

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 17;
}

static void dec_str(struct buf *e, __int128 v, int scale)
{
    char digits[64];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    while (n <= scale)
        digits[n++] = '0';
    buf_append_str(e, "\"");
    if (neg)
        buf_append_str(e, "-");
    for (int k = n - 1; k >= 0; k--) {
        buf_append(e, &digits[k], 1);
        if (k == scale && scale > 0)
            buf_append_str(e, ".");
    }
    buf_append_str(e, "\"");
}

static void dbl_str(struct buf *e, double v)
{
    if (isnan(v)) {
        buf_append_str(e, "\"NaN\"");
        return;
    }
    uint64_t u;
    memcpy(&u, &v, 8);
    buf_printf(e, "\"%016llx\"", (unsigned long long)u);
}

static __int128 dec_limit(int p)
{
    __int128 r = 1;
    while (p--)
        r *= 10;
    return r - 1;
}

/* Row r's value of column c into the writer and its expected form into e. */
static void gen_value(struct pqwriter *w, struct buf *e, size_t c, int r)
{
    uint64_t x = rnd();
    if (r > 12 && x % 7 == 0) {
        buf_append_str(e, "null");
        return;
    }
    if (r == 12) { /* a row of nulls everywhere */
        buf_append_str(e, "null");
        return;
    }
    int64_t iv = (int64_t)(x >> 3);
    switch (c) {
    case 0:
        pqwriter_set_bool(w, c, x & 8);
        buf_append_str(e, (x & 8) ? "true" : "false");
        return;
    case 1:
        iv = r == 0 ? INT8_MIN : r == 1 ? INT8_MAX : (int8_t)iv;
        break;
    case 2:
        iv = r == 0 ? INT16_MIN : r == 1 ? INT16_MAX : (int16_t)iv;
        break;
    case 3:
        iv = r == 0 ? INT32_MIN : r == 1 ? INT32_MAX : (int32_t)iv;
        break;
    case 4:
        iv = r == 0 ? INT64_MIN : r == 1 ? INT64_MAX : (int64_t)(x * 2654435761u) - (1LL << 40);
        break;
    case 5:
    case 6: {
        static const double specials[] = {NAN,   -0.0,   0.0,    INFINITY, -INFINITY,
                                          1e308, 5e-324, 3.4e38, -1.5,     1e-45};
        double d = r < 10 ? specials[r] : ((double)(int64_t)x - 1e15) / 1234.5;
        if (c == 5)
            d = (double)(float)d;
        pqwriter_set_double(w, c, d);
        dbl_str(e, d);
        return;
    }
    case 7:
    case 8:
    case 9: {
        int p = all_cols[c].precision;
        __int128 lim = dec_limit(p);
        __int128 v = r == 0 ? -lim : r == 1 ? lim : ((__int128)x * (__int128)rnd() * 977) % lim;
        if (x & 16)
            v = -v;
        pqwriter_set_decimal(w, c, v);
        dec_str(e, v, all_cols[c].scale);
        return;
    }
    case 10: {
        static char s[400]; /* borrowed by the writer until row end */
        size_t n;
        if (r == 0) {
            n = 0;
        } else if (r == 1) {
            memcpy(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 q\"\\", 13);
            n = 13;
        } else if (r == 2) {
            memset(s, 'z', 300);
            n = 300;
        } else {
            n = (size_t)snprintf(s, sizeof s, "v%llu", (unsigned long long)(x % 100000));
        }
        pqwriter_set_bytes(w, c, s, n);
        buf_append_json_str(e, s, n);
        return;
    }
    case 11: {
        static uint8_t s[16];
        size_t n = x % 9;
        for (size_t k = 0; k < n; k++)
            s[k] = (uint8_t)(rnd() >> 5);
        if (r == 0)
            n = 0;
        pqwriter_set_bytes(w, c, s, n);
        buf_append_str(e, "\"");
        for (size_t k = 0; k < n; k++)
            buf_printf(e, "%02x", s[k]);
        buf_append_str(e, "\"");
        return;
    }
    case 12:
        iv = r == 0 ? -719162 : r == 1 ? 2932896 : (int64_t)(x % 40000) - 10000;
        break;
    case 13:
        iv = r == 0   ? -62135596800000000LL
             : r == 1 ? -1
             : r == 2 ? 253402300799999999LL
                      : (int64_t)(x % 4000000000000000ULL);
        break;
    case 14: {
        static const char *words[] = {"alpha", "beta", "gamma", "delta", ""};
        const char *s = words[x % 5];
        pqwriter_set_bytes(w, c, s, strlen(s));
        buf_append_json_str(e, s, strlen(s));
        return;
    }
    }
    pqwriter_set_int(w, c, iv);
    buf_printf(e, "\"%lld\"", (long long)iv);
}

/* ---- nested: lists, maps, structs ---- */

static const struct pqwriter_column n_tags_el[] = {{.name = "element", .type = PQWRITER_STRING}};
static const struct pqwriter_column n_m_kv[] = {{.name = "key", .type = PQWRITER_STRING},
                                                {.name = "value", .type = PQWRITER_INT}};
static const struct pqwriter_column n_st_b_el[] = {{.name = "element", .type = PQWRITER_DOUBLE}};
static const struct pqwriter_column n_st_c[] = {{.name = "x", .type = PQWRITER_STRING}};
static const struct pqwriter_column n_st[] = {
    {.name = "a", .type = PQWRITER_INT},
    {.name = "b", .type = PQWRITER_LIST, .children = n_st_b_el, .nchildren = 1},
    {.name = "c", .type = PQWRITER_STRUCT, .children = n_st_c, .nchildren = 1},
};
static const struct pqwriter_column n_ll_in[] = {{.name = "element", .type = PQWRITER_BIGINT}};
static const struct pqwriter_column n_ll_el[] = {
    {.name = "element", .type = PQWRITER_LIST, .children = n_ll_in, .nchildren = 1}};
static const struct pqwriter_column nested_cols[] = {
    {.name = "id", .type = PQWRITER_INT},
    {.name = "tags", .type = PQWRITER_LIST, .children = n_tags_el, .nchildren = 1},
    {.name = "m", .type = PQWRITER_MAP, .children = n_m_kv, .nchildren = 2},
    {.name = "st", .type = PQWRITER_STRUCT, .children = n_st, .nchildren = 3},
    {.name = "ll", .type = PQWRITER_LIST, .children = n_ll_el, .nchildren = 1},
};
#define NNESTED (sizeof nested_cols / sizeof nested_cols[0])

static const char *words5[] = {"red", "green", "", "blue", "cyan"};

/* Row r of the nested table into w (values borrowed from static storage until row end) and its
 * expected JSON into e. Each list-like value is null, empty, or holds nulls now and then. */
static void gen_nested(struct pqwriter *w, struct buf *e, int r)
{
    static struct pqwriter_value items[64], inner[64], st[3], stc[1], ll[8], lli[64];
    size_t ni = 0;
    pqwriter_set_int(w, 0, r);
    buf_printf(e, "[%d,", r);
    /* tags */
    uint64_t x = rnd();
    if (x % 5 == 0) {
        buf_append_str(e, "null,");
    } else {
        size_t n = x % 5 == 1 ? 0 : (size_t)(x >> 8) % 6;
        size_t first = ni;
        buf_append_str(e, "[");
        for (size_t k = 0; k < n; k++) {
            struct pqwriter_value *v = &items[ni++];
            uint64_t y = rnd();
            if (y % 4 == 0) {
                *v = (struct pqwriter_value){.kind = PQWRITER_V_NULL};
                buf_append_str(e, k ? ",null" : "null");
            } else {
                const char *s = words5[y % 5];
                *v = (struct pqwriter_value){.kind = PQWRITER_V_BYTES, .p = s, .len = strlen(s)};
                buf_printf(e, "%s\"%s\"", k ? "," : "", s);
            }
        }
        buf_append_str(e, "],");
        struct pqwriter_value l = {.kind = PQWRITER_V_ITEMS, .items = items + first, .len = n};
        assert_int_equal(pqwriter_set_value(w, 1, &l), 0);
    }
    /* m: keys k0..k3 distinct, values sometimes null */
    x = rnd();
    if (x % 6 == 0) {
        buf_append_str(e, "null,");
    } else {
        size_t n = x % 6 == 1 ? 0 : (size_t)(x >> 8) % 4;
        size_t first = ni;
        static const char *keys[] = {"k0", "k1", "k2", "k3"};
        buf_append_str(e, "[");
        for (size_t k = 0; k < n; k++) {
            uint64_t y = rnd();
            items[ni++] = (struct pqwriter_value){.kind = PQWRITER_V_BYTES, .p = keys[k], .len = 2};
            if (y % 3 == 0) {
                items[ni++] = (struct pqwriter_value){.kind = PQWRITER_V_NULL};
                buf_printf(e, "%s[\"%s\",null]", k ? "," : "", keys[k]);
            } else {
                int32_t val = (int32_t)((y >> 4) % 2000000) - 1000000;
                items[ni++] = (struct pqwriter_value){.kind = PQWRITER_V_INT, .i = val};
                buf_printf(e, "%s[\"%s\",%d]", k ? "," : "", keys[k], val);
            }
        }
        buf_append_str(e, "],");
        struct pqwriter_value m = {.kind = PQWRITER_V_ITEMS, .items = items + first, .len = 2 * n};
        assert_int_equal(pqwriter_set_value(w, 2, &m), 0);
    }
    /* st: struct<a:int, b:array<double>, c:struct<x:string>> */
    x = rnd();
    if (x % 7 == 0) {
        buf_append_str(e, "null,");
    } else {
        buf_append_str(e, "{");
        if (x & 8) {
            st[0] = (struct pqwriter_value){.kind = PQWRITER_V_INT, .i = (int32_t)(x >> 20)};
            buf_printf(e, "\"a\":%d,", (int32_t)(x >> 20));
        } else {
            st[0] = (struct pqwriter_value){.kind = PQWRITER_V_NULL};
            buf_append_str(e, "\"a\":null,");
        }
        size_t n = (x >> 4) % 4;
        if (n == 3) {
            st[1] = (struct pqwriter_value){.kind = PQWRITER_V_NULL};
            buf_append_str(e, "\"b\":null,");
        } else {
            buf_append_str(e, "\"b\":[");
            for (size_t k = 0; k < n; k++) {
                double d = ((double)(int64_t)(rnd() % 2000001) - 1e6) / 8;
                inner[k] = (struct pqwriter_value){.kind = PQWRITER_V_DOUBLE, .d = d};
                buf_printf(e, "%s%.17g", k ? "," : "", d);
            }
            buf_append_str(e, "],");
            st[1] = (struct pqwriter_value){.kind = PQWRITER_V_ITEMS, .items = inner, .len = n};
        }
        if (x & 64) {
            st[2] = (struct pqwriter_value){.kind = PQWRITER_V_NULL};
            buf_append_str(e, "\"c\":null}");
        } else {
            const char *s = words5[(x >> 12) % 5];
            stc[0] =
                (x & 128)
                    ? (struct pqwriter_value){.kind = PQWRITER_V_NULL}
                    : (struct pqwriter_value){.kind = PQWRITER_V_BYTES, .p = s, .len = strlen(s)};
            st[2] = (struct pqwriter_value){.kind = PQWRITER_V_ITEMS, .items = stc, .len = 1};
            if (x & 128)
                buf_append_str(e, "\"c\":{\"x\":null}}");
            else
                buf_printf(e, "\"c\":{\"x\":\"%s\"}}", s);
        }
        buf_append_str(e, ",");
        struct pqwriter_value s3 = {.kind = PQWRITER_V_ITEMS, .items = st, .len = 3};
        assert_int_equal(pqwriter_set_value(w, 3, &s3), 0);
    }
    /* ll: array<array<bigint>> with null and empty inner lists */
    x = rnd();
    if (x % 5 == 0) {
        buf_append_str(e, "null]");
        return;
    }
    size_t n = (x >> 3) % 5, used = 0;
    buf_append_str(e, "[");
    for (size_t k = 0; k < n; k++) {
        uint64_t y = rnd();
        if (k)
            buf_append_str(e, ",");
        if (y % 4 == 0) {
            ll[k] = (struct pqwriter_value){.kind = PQWRITER_V_NULL};
            buf_append_str(e, "null");
            continue;
        }
        size_t m = (y >> 3) % 4;
        buf_append_str(e, "[");
        for (size_t j = 0; j < m; j++) {
            int64_t v = (int64_t)(rnd() % 1000000) - 500000;
            lli[used + j] = (struct pqwriter_value){.kind = PQWRITER_V_INT, .i = v};
            buf_printf(e, "%s%lld", j ? "," : "", (long long)v);
        }
        buf_append_str(e, "]");
        ll[k] = (struct pqwriter_value){.kind = PQWRITER_V_ITEMS, .items = lli + used, .len = m};
        used += m;
    }
    buf_append_str(e, "]]");
    struct pqwriter_value l = {.kind = PQWRITER_V_ITEMS, .items = ll, .len = n};
    assert_int_equal(pqwriter_set_value(w, 4, &l), 0);
}

static void test_pqwriter_nested_values_are_checked(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    struct pqwriter_opts o = {0};
    struct pqwriter *w = pqwriter_new(nested_cols, NNESTED, &o, to_buf, &b);
    assert_non_null(w);
    struct pqwriter_value kv[2] = {{.kind = PQWRITER_V_NULL}, {.kind = PQWRITER_V_INT, .i = 1}};
    struct pqwriter_value m = {.kind = PQWRITER_V_ITEMS, .items = kv, .len = 2};
    assert_int_equal(pqwriter_set_value(w, 2, &m), HY_EINVAL); /* null map key */
    m.len = 1;
    assert_int_equal(pqwriter_set_value(w, 2, &m), HY_EINVAL); /* odd entry count */
    struct pqwriter_value s1 = {.kind = PQWRITER_V_ITEMS, .items = kv, .len = 2};
    assert_int_equal(pqwriter_set_value(w, 3, &s1), HY_EINVAL); /* wrong field count */
    struct pqwriter_value bad = {.kind = PQWRITER_V_BYTES, .p = "x", .len = 1};
    struct pqwriter_value l = {.kind = PQWRITER_V_ITEMS, .items = &bad, .len = 1};
    assert_int_equal(pqwriter_set_value(w, 4, &l), HY_EINVAL); /* element not a list */
    assert_int_equal(pqwriter_row_end(w), 0);
    assert_int_equal(pqwriter_finish(w), 0);
    pqwriter_free(w);
    buf_fini(&b);
}

static int to_file(void *ctx, const void *p, size_t len);

static void write_nested(const char *dir, const char *name, const struct pqwriter_opts *o)
{
    struct buf e, mem;
    buf_init(&e, 1 << 26);
    buf_init(&mem, 1 << 26);
    char path[512];
    FILE *f = NULL;
    if (dir) {
        snprintf(path, sizeof path, "%s/nested-%s.parquet", dir, name);
        f = fopen(path, "wb");
        assert_non_null(f);
    }
    struct pqwriter *w = f ? pqwriter_new(nested_cols, NNESTED, o, to_file, f)
                           : pqwriter_new(nested_cols, NNESTED, o, to_buf, &mem);
    assert_non_null(w);
    rng_state = 7;
    buf_append_str(&e, "[");
    for (int r = 0; r < 2000; r++) {
        buf_append_str(&e, r ? ",\n" : "\n");
        gen_nested(w, &e, r);
        assert_int_equal(pqwriter_row_end(w), 0);
    }
    buf_append_str(&e, "]\n");
    assert_int_equal(pqwriter_finish(w), 0);
    assert_true(pqwriter_row_groups(w) > 1);
    pqwriter_free(w);
    if (f) {
        assert_int_equal(fclose(f), 0);
        snprintf(path, sizeof path, "%s/nested.expect.json", dir);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(e.data, 1, e.len, f), e.len);
        assert_int_equal(fclose(f), 0);
    }
    buf_fini(&e);
    buf_fini(&mem);
}

static int to_file(void *ctx, const void *p, size_t len)
{
    return fwrite(p, 1, len, ctx) == len ? 0 : -5;
}

static void test_pqwriter_reader_matrix(void **state)
{
    const char *dir = getenv("PQWRITER_TEST_OUT");
    static const enum pqwriter_codec codecs[] = {PQWRITER_UNCOMPRESSED, PQWRITER_SNAPPY,
                                                 PQWRITER_GZIP, PQWRITER_ZSTD};
    static const char *cname[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"};
    for (int ci = 0; ci < 4; ci++)
        for (int v = 1; v <= 2; v++)
            for (int dict = 0; dict <= 1; dict++) {
                struct buf e;
                buf_init(&e, 1 << 26);
                char path[512];
                FILE *f = NULL;
                if (dir) {
                    snprintf(path, sizeof path, "%s/%s-v%d-%s.parquet", dir, cname[ci], v,
                             dict ? "dict" : "plain");
                    f = fopen(path, "wb");
                    assert_non_null(f);
                }
                struct buf mem;
                buf_init(&mem, 1 << 26);
                struct pqwriter_opts o = {.block_size = 64 << 10,
                                          .page_size = 4096,
                                          .codec = codecs[ci],
                                          .dictionary = dict,
                                          .page_version = v};
                struct pqwriter *w = f ? pqwriter_new(all_cols, NCOLS, &o, to_file, f)
                                       : pqwriter_new(all_cols, NCOLS, &o, to_buf, &mem);
                assert_non_null(w);
                rng_state = 42;
                buf_append_str(&e, "[");
                for (int r = 0; r < NROWS; r++) {
                    buf_append_str(&e, r ? ",\n[" : "\n[");
                    for (size_t c = 0; c < NCOLS; c++) {
                        if (c)
                            buf_append_str(&e, ",");
                        gen_value(w, &e, c, r);
                    }
                    buf_append_str(&e, "]");
                    assert_int_equal(pqwriter_row_end(w), 0);
                }
                buf_append_str(&e, "]\n");
                assert_int_equal(pqwriter_finish(w), 0);
                assert_true(pqwriter_row_groups(w) > 1);
                pqwriter_free(w);
                buf_fini(&mem);
                if (f) {
                    assert_int_equal(fclose(f), 0);
                    snprintf(path, sizeof path, "%s/expect.json", dir);
                    f = fopen(path, "wb");
                    assert_non_null(f);
                    assert_int_equal(fwrite(e.data, 1, e.len, f), e.len);
                    assert_int_equal(fclose(f), 0);
                }
                buf_fini(&e);
                char name[64];
                snprintf(name, sizeof name, "%s-v%d-%s", cname[ci], v, dict ? "dict" : "plain");
                o.block_size = 16 << 10;
                o.page_size = 1024;
                write_nested(dir, name, &o);
            }
}

static void test_pqwriter_allocation_failures_give_enomem(void **state)
{
    struct pqwriter_opts o = {.block_size = 8 << 10,
                              .page_size = 512,
                              .dictionary = true,
                              .codec = PQWRITER_GZIP,
                              .page_version = 2};
    bool done = false;
    for (unsigned long n = 1; n < 20000 && !done; n++) {
        struct buf b;
        buf_init(&b, 1 << 24);
        hy_mem_fail_at(n);
        struct pqwriter *w = pqwriter_new(all_cols, NCOLS, &o, to_buf, &b);
        int rc = w ? 0 : HY_ENOMEM;
        rng_state = 42;
        struct buf e;
        buf_init(&e, 1 << 24);
        for (int r = 0; r < 300 && !rc; r++) {
            for (size_t c = 0; c < NCOLS; c++)
                gen_value(w, &e, c, r);
            rc = pqwriter_row_end(w);
        }
        if (!rc)
            rc = pqwriter_finish(w);
        hy_mem_fail_at(0);
        if (!rc)
            done = true;
        else
            assert_true(rc == HY_ENOMEM || rc == HY_E2BIG);
        pqwriter_free(w);
        buf_fini(&e);
        buf_fini(&b);
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pqwriter_empty_file_has_magic_and_footer),
        cmocka_unit_test(test_pqwriter_setters_check_type_and_range),
        cmocka_unit_test(test_pqwriter_rejects_bad_columns),
        cmocka_unit_test(test_pqwriter_cuts_row_groups_at_block_size),
        cmocka_unit_test(test_pqwriter_write_error_is_sticky),
        cmocka_unit_test(test_pqwriter_nested_values_are_checked),
        cmocka_unit_test(test_pqwriter_reader_matrix),
        cmocka_unit_test(test_pqwriter_allocation_failures_give_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
