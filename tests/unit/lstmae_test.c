/* lstmae: the study's case. Train on rds_cpu_utilization_cc0c53 (labelled anomalies masked), test
 * on rds_cpu_utilization_e47b3b: both labelled anomalies must be found (a flagged row inside each
 * NAB window) with at most one false-positive event (a run of flagged rows outside the windows).
 * Also: determinism, and score >= 0.5 exactly when the 3-sigma rule flags. Data from
 * HYDRANT_NAB_DIR (default /work/shared/nab). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analytics/lstmae.h"
#include "analytics/series.h"
#include "base/err.h"

#define TRAIN "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv"
#define TEST "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv"

static const char *nab_dir(void)
{
    const char *d = getenv("HYDRANT_NAB_DIR");
    return d ? d : "/work/shared/nab";
}

static void load(const char *rel, struct series *s)
{
    char p[4096];
    const char *why;
    size_t line;
    snprintf(p, sizeof p, "%s/data/%s", nab_dir(), rel);
    assert_int_equal(series_read(p, s, &why, &line), 0);
}

/* Training is single-threaded arithmetic: ThreadSanitizer has nothing to check there and makes
 * the study case take minutes, so its build only runs the short determinism test. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

static struct lstmae model;
static struct series train, test;
static double *err;

static int setup(void **state)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/data/%s", nab_dir(), TRAIN);
    if (access(p, R_OK) != 0) {
        print_message("NAB data not found at %s (set HYDRANT_NAB_DIR)\n", nab_dir());
        return -1;
    }
    load(TRAIN, &train);
    load(TEST, &test);
    /* combined_labels.json for the training file: 2014-02-25 07:15:00 and 2014-02-27 00:50:00 */
    unsigned char *mask = calloc(train.n, 1);
    long a = series_find(&train, "2014-02-25 07:15:00"),
         b = series_find(&train, "2014-02-27 00:50:00");
    if (!mask || a < 0 || b < 0)
        return -1;
    mask[a] = mask[b] = 1;
    lstmae_scale(train.value, train.n);
    lstmae_mask(train.value, mask, train.n);
    free(mask);
    if (UNDER_TSAN)
        return 0;
    if (lstmae_train(&model, train.value, train.n, 42) != 0)
        return -1;
    lstmae_scale(test.value, test.n);
    err = calloc(test.n, sizeof *err);
    if (!err)
        return -1;
    lstmae_errors(&model, test.value, test.n, err);
    return 0;
}

static int teardown(void **state)
{
    series_fini(&train);
    series_fini(&test);
    free(err);
    return 0;
}

static void test_lstmae_study_case(void **state)
{
    if (UNDER_TSAN)
        skip();
    long w[2][2] = {
        {series_find(&test, "2014-04-12 22:32:00"), series_find(&test, "2014-04-13 15:12:00")},
        {series_find(&test, "2014-04-18 15:07:00"), series_find(&test, "2014-04-19 07:47:00")}};
    int found[2] = {0, 0};
    size_t fp_events = 0;
    int in_run = 0;
    for (size_t i = 0; i < test.n; i++) {
        int flag = err[i] > model.threshold;
        int win = -1;
        for (int k = 0; k < 2; k++)
            if ((long)i >= w[k][0] && (long)i <= w[k][1])
                win = k;
        if (flag && win >= 0)
            found[win] = 1;
        if (flag && win < 0 && !in_run)
            fp_events++;
        in_run = flag && win < 0;
    }
    print_message("threshold %.4f (train err mean %.4f sd %.4f, last loss %.4f)\n", model.threshold,
                  model.err_mean, model.err_sd, model.last_loss);
    assert_true(found[0]);
    assert_true(found[1]);
    assert_true(fp_events <= 1);
    /* The score is >= 0.5 exactly when the 3-sigma rule flags. */
    for (size_t i = 0; i < test.n; i++) {
        double s = lstmae_score(&model, err[i]);
        assert_true(s >= 0.0 && s <= 1.0);
        assert_int_equal(s >= 0.5, err[i] > model.threshold);
    }
    assert_true(lstmae_score(&model, model.threshold) < 0.5);
    assert_true(lstmae_score(&model, nextafter(model.threshold, 1e300)) >= 0.5);
}

static void test_lstmae_is_deterministic(void **state)
{
    static struct lstmae a, b;
    assert_int_equal(lstmae_train(&a, train.value, 600, 7), 0);
    assert_int_equal(lstmae_train(&b, train.value, 600, 7), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(lstmae_train(&b, train.value, 600, 8), 0);
    assert_memory_not_equal(a.wx, b.wx, sizeof a.wx);
    assert_int_equal(lstmae_train(&b, train.value, LSTMAE_WINDOW - 1, 7), HY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstmae_study_case),
        cmocka_unit_test(test_lstmae_is_deterministic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
