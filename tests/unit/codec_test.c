#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fuzz/codec_check.h"
#include "base/err.h"
#include "base/mem.h"
#include "pipeline/codec.h"

static const enum codec_kind all_kinds[] = {CODEC_NONE,   CODEC_GZIP,          CODEC_ZIP,
                                            CODEC_SNAPPY, CODEC_HADOOP_SNAPPY, CODEC_ZSTD};

static int collect(void *arg, const void *data, size_t len)
{
    return cc_put(arg, data, len);
}

/* Mixed input: compressible text, then pseudo-random bytes (incompressible chunks). */
static uint8_t *sample(size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        if ((i / 70000) % 2 == 0) {
            p[i] = (uint8_t)("{\"k\":\"value\",\"n\":42}\n"[i % 22]);
        } else {
            x = x * 1103515245u + 12345u;
            p[i] = (uint8_t)(x >> 16);
        }
    }
    return p;
}

/* Compress in with c, feeding pieces of varying size; the object goes to o. */
static void encode(struct codec *c, const uint8_t *in, size_t len, struct cc_out *o)
{
    assert_int_equal(codec_begin(c, "stream-1-2026-11-30-04-00-00-abc", 1764475200000, collect, o),
                     0);
    size_t at = 0, step = 1;
    while (at < len) {
        size_t n = len - at < step ? len - at : step;
        assert_int_equal(codec_write(c, in + at, n), 0);
        at += n;
        step = step * 7 % 100003 + 1;
    }
    assert_int_equal(codec_finish(c), 0);
}

static void test_codec_round_trips_every_kind_at_several_sizes(void **state)
{
    static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 300001};
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        struct codec *c = codec_new(all_kinds[k]);
        assert_non_null(c);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint8_t *in = sample(sizes[s]);
            struct cc_out obj = {0}, back = {0};
            encode(c, in, sizes[s], &obj); /* the same codec is reused for every object */
            int rc = codec_check_decode(all_kinds[k], obj.data, obj.len, &back);
            if (rc != 0 || back.len != sizes[s] || (sizes[s] && memcmp(back.data, in, sizes[s])))
                fail_msg("%s: %zu bytes do not round trip", codec_name(all_kinds[k]), sizes[s]);
            free(obj.data);
            free(back.data);
            free(in);
        }
        codec_free(c);
    }
}

static void test_codec_output_is_deterministic(void **state)
{
    uint8_t *in = sample(200000);
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        struct codec *a = codec_new(all_kinds[k]), *b = codec_new(all_kinds[k]);
        struct cc_out x = {0}, y = {0};
        encode(a, in, 200000, &x);
        encode(b, in, 200000, &y);
        assert_int_equal(x.len, y.len);
        assert_memory_equal(x.data, y.data, x.len);
        free(x.data);
        free(y.data);
        codec_free(a);
        codec_free(b);
    }
    free(in);
}

static void test_codec_names_and_default_extensions_follow_firehose(void **state)
{
    static const char *const names[] = {"UNCOMPRESSED", "GZIP",          "ZIP",
                                        "Snappy",       "HADOOP_SNAPPY", "ZSTD"};
    static const char *const exts[] = {"", ".gz", ".zip", ".snappy", ".snappy", ".zst"};
    for (size_t k = 0; k < 6; k++) {
        enum codec_kind kind;
        assert_int_equal(codec_from_name(names[k], &kind), 0);
        assert_int_equal(kind, all_kinds[k]);
        assert_string_equal(codec_name(kind), names[k]);
        assert_string_equal(codec_extension(kind), exts[k]);
    }
    enum codec_kind kind;
    assert_int_equal(codec_from_name("gzip", &kind), HY_EINVAL);
    assert_int_equal(codec_from_name("SNAPPY", &kind), HY_EINVAL);
    assert_int_equal(codec_from_name(NULL, &kind), HY_EINVAL);
}

static void test_zip_entry_is_named_by_begin(void **state)
{
    struct codec *c = codec_new(CODEC_ZIP);
    struct cc_out obj = {0}, back = {0};
    char name[64];
    encode(c, (const uint8_t *)"hello", 5, &obj);
    assert_int_equal(cc_zip(obj.data, obj.len, &back, name, sizeof name), 0);
    assert_string_equal(name, "stream-1-2026-11-30-04-00-00-abc");
    free(obj.data);
    free(back.data);
    codec_free(c);
}

static int failing_out(void *arg, const void *data, size_t len)
{
    return -5; /* -EIO */
}

static void test_codec_reports_output_errors(void **state)
{
    uint8_t *in = sample(300000);
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        struct codec *c = codec_new(all_kinds[k]);
        int rc = codec_begin(c, "x", 0, failing_out, NULL);
        if (rc == 0)
            rc = codec_write(c, in, 300000);
        if (rc == 0)
            rc = codec_finish(c);
        assert_int_equal(rc, -5);
        codec_free(c);
    }
    free(in);
}

static void test_codec_new_survives_allocation_failures(void **state)
{
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        for (unsigned long n = 1; n < 20; n++) {
            hy_mem_fail_at(n);
            struct codec *c = codec_new(all_kinds[k]);
            hy_mem_fail_at(0);
            codec_free(c);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trips_every_kind_at_several_sizes),
        cmocka_unit_test(test_codec_output_is_deterministic),
        cmocka_unit_test(test_codec_names_and_default_extensions_follow_firehose),
        cmocka_unit_test(test_zip_entry_is_named_by_begin),
        cmocka_unit_test(test_codec_reports_output_errors),
        cmocka_unit_test(test_codec_new_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
