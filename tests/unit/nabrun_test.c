/* nabrun + nabscore on the shared NAB files: the published SHARED scores of NAB's null and
 * windowedGaussian detectors (../shared/nab/README.md) must come out to the hundredth. The data
 * directory is HYDRANT_NAB_DIR, default /work/shared/nab. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analytics/detector.h"
#include "analytics/nabrun.h"
#include "analytics/nabscore.h"

static const char *nab_dir(void)
{
    const char *d = getenv("HYDRANT_NAB_DIR");
    return d ? d : "/work/shared/nab";
}

static void check(const char *name, const double want[NABSCORE_NPROFILES])
{
    struct nabrun r;
    const char *why = NULL;
    assert_int_equal(nabrun_load(nab_dir(), &r, &why), 0);
    assert_int_equal(r.n, 44);
    size_t windows = 0;
    for (size_t i = 0; i < r.n; i++)
        windows += r.f[i].nwin;
    assert_int_equal(windows, 83);
    assert_int_equal(nabrun_detect(&r, detector_find(name)), 0);
    for (size_t p = 0; p < NABSCORE_NPROFILES; p++) {
        struct nabscore_result res;
        assert_int_equal(nabrun_score(&r, &nabscore_profiles[p], &res), 0);
        assert_int_equal(res.windows, 83);
        assert_float_equal(res.score, want[p], 0.005);
    }
    nabrun_fini(&r);
}

static void test_nabrun_null_scores_zero(void **state)
{
    const double want[] = {0.0, 0.0, 0.0};
    check("null", want);
}

static void test_nabrun_windowed_gaussian_matches_published(void **state)
{
    const double want[] = {41.51, 16.53, 51.37};
    check("windowedGaussian", want);
}

static void test_nabrun_missing_tree_is_an_error(void **state)
{
    struct nabrun r;
    const char *why = NULL;
    assert_int_not_equal(nabrun_load("/nonexistent-nab", &r, &why), 0);
    assert_non_null(why);
}

static int need_data(void **state)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/labels/combined_windows.json", nab_dir());
    if (access(p, R_OK) != 0) {
        print_message("NAB data not found at %s (set HYDRANT_NAB_DIR)\n", nab_dir());
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nabrun_null_scores_zero),
        cmocka_unit_test(test_nabrun_windowed_gaussian_matches_published),
        cmocka_unit_test(test_nabrun_missing_tree_is_an_error),
    };
    return cmocka_run_group_tests(tests, need_data, NULL);
}
