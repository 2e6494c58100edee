/* anmodels: per-key models, the key cap, and checkpoints: save at any row, load, continue, and
 * every later score equals the uninterrupted run's (the kill -9 promise of live detection). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/anmodels.h"
#include "base/buf.h"
#include "base/err.h"

#define N 3000
static const char *keys[] = {"host-a", "host-b", "host-c"};

static double value_at(size_t i)
{
    size_t k = i % 3;
    double v = 50 + 10 * sin((double)i / 40.0 + (double)k) + (double)((i * 7919) % 13) / 13.0;
    if (i >= 2001 && i <= 2003) /* one spike per key: 2001 % 3 == 0 */
        v += 200;
    return v;
}

static void run(struct anmodels *m, size_t from, size_t to, double *out)
{
    for (size_t i = from; i < to; i++) {
        const char *k = keys[i % 3];
        assert_int_equal(anmodels_step(m, k, strlen(k), value_at(i), &out[i]), 0);
    }
}

static void test_anmodels_checkpoint_resumes_identically(void **state)
{
    static double full[N], resumed[N];
    const struct detector_ops *ops = detector_find(NULL);
    struct anmodels *m = anmodels_new(ops, 8);
    assert_non_null(m);
    run(m, 0, N, full);
    assert_int_equal(anmodels_count(m), 3);
    assert_true(full[2001] >= 0.9 && full[2002] >= 0.9 && full[2003] >= 0.9);
    anmodels_free(m);

    size_t cuts[] = {0, 1, 1234, 2002};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        struct buf img;
        buf_init(&img, 16u << 20);
        m = anmodels_new(ops, 8);
        run(m, 0, cuts[c], resumed);
        assert_int_equal(anmodels_save(m, &img), 0);
        anmodels_free(m);
        struct anmodels *back = NULL;
        assert_int_equal(anmodels_load(ops, 8, img.data, img.len, &back), 0);
        run(back, cuts[c], N, resumed);
        assert_memory_equal(full + cuts[c], resumed + cuts[c], (N - cuts[c]) * sizeof *full);
        anmodels_free(back);
        buf_fini(&img);
    }
}

static void test_anmodels_rejects_bad_images(void **state)
{
    const struct detector_ops *ops = detector_find(NULL);
    struct anmodels *m = anmodels_new(ops, 8), *back = NULL;
    static double out[N];
    run(m, 0, 100, out);
    struct buf img;
    buf_init(&img, 16u << 20);
    assert_int_equal(anmodels_save(m, &img), 0);
    /* every truncation and a flipped byte anywhere: corrupt */
    size_t at[] = {0, 3, 9, 20, img.len / 2, img.len - 5, img.len - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        img.data[at[i]] ^= 0x40;
        assert_int_equal(anmodels_load(ops, 8, img.data, img.len, &back), HY_ECORRUPT);
        img.data[at[i]] ^= 0x40;
        assert_int_equal(anmodels_load(ops, 8, img.data, at[i], &back), HY_ECORRUPT);
    }
    assert_null(back);
    /* another detector, or fewer keys allowed */
    assert_int_equal(anmodels_load(&dwgauss_ops, 8, img.data, img.len, &back), HY_EVERSION);
    assert_int_equal(anmodels_load(ops, 2, img.data, img.len, &back), HY_EQUOTA);
    /* a full buffer leaves it unchanged */
    struct buf small;
    buf_init(&small, 100);
    assert_int_equal(anmodels_save(m, &small), HY_E2BIG);
    assert_int_equal(small.len, 0);
    buf_fini(&small);
    buf_fini(&img);
    anmodels_free(m);
}

static void test_anmodels_key_cap_and_long_keys(void **state)
{
    struct anmodels *m = anmodels_new(detector_find(NULL), 2);
    double s;
    char big[ANMODELS_KEY_MAX + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(anmodels_step(m, "a", 1, 1.0, &s), 0);
    assert_int_equal(anmodels_step(m, "", 0, 1.0, &s), 0); /* the empty key is a key */
    assert_int_equal(anmodels_step(m, "c", 1, 1.0, &s), HY_EQUOTA);
    assert_int_equal(anmodels_step(m, "a", 1, 2.0, &s), 0);
    assert_int_equal(anmodels_step(m, big, sizeof big, 1.0, &s), HY_E2BIG);
    assert_int_equal(anmodels_count(m), 2);
    anmodels_free(m);
    anmodels_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anmodels_checkpoint_resumes_identically),
        cmocka_unit_test(test_anmodels_rejects_bad_images),
        cmocka_unit_test(test_anmodels_key_cap_and_long_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
