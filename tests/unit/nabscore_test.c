/* nabscore: NAB scoring on cases worked out by hand (100-row files: probation 15 rows). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/nabscore.h"

#define N 100
/* sigma(-1) = 2/(1+e^-5) - 1 and sigma(-0.5) = 2/(1+e^-2.5) - 1, worked by hand. */
#define SIG_M1 0.9866142981514305
#define SIG_MHALF 0.8482836399575131

static const struct nabscore_profile *std_p = &nabscore_profiles[0];

static struct nabscore_file one_file(double *score, size_t *win, size_t nwin)
{
    struct nabscore_file f = {.n = N, .score = score, .nwin = nwin, .win = win};
    return f;
}

static void test_nabscore_probation_is_15_percent_capped_at_750(void **state)
{
    assert_int_equal(nabscore_probation(100), 15);
    assert_int_equal(nabscore_probation(4032), 604);
    assert_int_equal(nabscore_probation(5000), 750);
    assert_int_equal(nabscore_probation(22695), 750);
}

static void test_nabscore_perfect_scores_100(void **state)
{
    double s[N] = {0};
    size_t w[2] = {50, 59};
    s[50] = 1.0;
    struct nabscore_file f = one_file(s, w, 1);
    struct nabscore_result r;
    for (size_t p = 0; p < NABSCORE_NPROFILES; p++) {
        assert_int_equal(nabscore_optimize(&f, 1, &nabscore_profiles[p], &r), 0);
        assert_float_equal(r.raw, 1.0, 1e-12);
        assert_float_equal(r.score, 100.0, 1e-9);
        assert_int_equal(r.tp, 1);
        assert_int_equal(r.fp, 0);
    }
}

static void test_nabscore_null_scores_0(void **state)
{
    double s[N];
    size_t w[4] = {30, 39, 70, 79};
    for (size_t i = 0; i < N; i++)
        s[i] = 0.5;
    struct nabscore_file f = one_file(s, w, 2);
    struct nabscore_result r;
    assert_int_equal(nabscore_optimize(&f, 1, std_p, &r), 0);
    assert_float_equal(r.threshold, 1.1, 0);
    assert_float_equal(r.raw, -2.0, 1e-12);
    assert_float_equal(r.score, 0.0, 1e-12);
    assert_int_equal(nabscore_optimize(&f, 1, &nabscore_profiles[2], &r), 0);
    assert_float_equal(r.raw_null, -4.0, 0);
    assert_float_equal(r.raw_perfect, 2.0, 0);
    assert_float_equal(r.score, 0.0, 1e-12);
}

static void test_nabscore_detection_mid_window(void **state)
{
    /* Row 55 in [50,59]: y = -(59-55+1)/10 = -0.5, worth sigma(-0.5)/sigma(-1) = 0.859792. */
    double s[N] = {0};
    size_t w[2] = {50, 59};
    s[55] = 1.0;
    s[57] = 1.0; /* later detections in the same window are neither rewarded nor penalised */
    struct nabscore_file f = one_file(s, w, 1);
    struct nabscore_result r;
    assert_int_equal(nabscore_at(&f, 1, std_p, 1.0, &r), 0);
    double worth = SIG_MHALF / SIG_M1;
    assert_float_equal(worth, 0.859792, 1e-6);
    assert_float_equal(r.raw, worth, 1e-12);
    assert_float_equal(r.score, 100.0 * (worth + 1.0) / 2.0, 1e-9);
    assert_int_equal(r.tp, 1);
    assert_int_equal(r.fp, 0);
}

static void test_nabscore_false_positives(void **state)
{
    double s[N] = {0};
    size_t w[2] = {50, 59};
    s[50] = 1.0;
    s[30] = 1.0; /* before any window: full A_FP, -0.11 */
    s[60] = 1.0; /* one row after the window: y = 1/9, sigma = 2/(1+e^(5/9)) - 1 = -0.270847 */
    s[99] = 1.0; /* 40 rows after, y = 40/9 >= 3: full A_FP */
    struct nabscore_file f = one_file(s, w, 1);
    struct nabscore_result r;
    assert_int_equal(nabscore_at(&f, 1, std_p, 1.0, &r), 0);
    double near = 0.11 * (2.0 / (1.0 + exp(5.0 / 9.0)) - 1.0);
    assert_float_equal(near, -0.11 * 0.270847, 1e-6);
    assert_float_equal(r.raw, 1.0 - 0.11 + near - 0.11, 1e-12);
    assert_int_equal(r.fp, 3);
    /* reward_low_FP_rate doubles the cost */
    assert_int_equal(nabscore_at(&f, 1, &nabscore_profiles[1], 1.0, &r), 0);
    assert_float_equal(r.raw, 1.0 - 0.22 + 2 * near - 0.22, 1e-12);
}

static void test_nabscore_probationary_period_is_ignored(void **state)
{
    double s[N] = {0};
    size_t w[4] = {5, 9, 50, 59}; /* the first window lies inside the probationary period */
    s[7] = 1.0;
    s[14] = 1.0; /* last probationary row: not a false positive */
    s[15] = 0.5; /* first scored row: a false positive at threshold 0.5 */
    struct nabscore_file f = one_file(s, w, 2);
    struct nabscore_result r;
    assert_int_equal(nabscore_at(&f, 1, std_p, 1.0, &r), 0);
    assert_int_equal(r.windows, 1);
    assert_float_equal(r.raw, -1.0, 1e-12);
    assert_int_equal(r.fp, 0);
    assert_float_equal(r.score, 0.0, 1e-12);
    assert_int_equal(nabscore_at(&f, 1, std_p, 0.5, &r), 0);
    assert_int_equal(r.fp, 1);
    /* row 15 is 6 rows past the window [5,9] of width 5: y = 6/4 = 1.5 */
    assert_float_equal(r.raw, -1.0 + 0.11 * (2.0 / (1.0 + exp(7.5)) - 1.0), 1e-12);
}

static void test_nabscore_optimiser_picks_best_threshold_across_files(void **state)
{
    double a[N] = {0}, b[N] = {0};
    size_t wa[2] = {50, 59}, wb[2] = {20, 29};
    a[50] = 0.9; /* found at 0.9 */
    a[95] = 0.8; /* a false positive at 0.8, 36/9 >= 3 widths past the window: full cost */
    b[20] = 0.7; /* found at 0.7: worth 1 - 0.11 of the false positive above it */
    b[90] = 0.6; /* another false positive */
    struct nabscore_file f[2] = {one_file(a, wa, 1), one_file(b, wb, 1)};
    struct nabscore_result r;
    assert_int_equal(nabscore_optimize(f, 2, std_p, &r), 0);
    assert_float_equal(r.threshold, 0.7, 0);
    assert_float_equal(r.raw, 2.0 - 0.11, 1e-12);
    assert_int_equal(r.tp, 2);
    assert_int_equal(r.fp, 1);
    assert_float_equal(r.score, 100.0 * (2.0 - 0.11 + 2.0) / 4.0, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nabscore_probation_is_15_percent_capped_at_750),
        cmocka_unit_test(test_nabscore_perfect_scores_100),
        cmocka_unit_test(test_nabscore_null_scores_0),
        cmocka_unit_test(test_nabscore_detection_mid_window),
        cmocka_unit_test(test_nabscore_false_positives),
        cmocka_unit_test(test_nabscore_probationary_period_is_ignored),
        cmocka_unit_test(test_nabscore_optimiser_picks_best_threshold_across_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
