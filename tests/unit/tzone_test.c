#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "pipeline/tzone.h"

static void test_fixed_and_daylight_saving_zones_give_their_offsets(void **state)
{
    struct tzone *z = NULL;
    assert_int_equal(tzone_open("Asia/Tokyo", &z), 0);
    assert_int_equal(tzone_offset(z, 1764475200), 9 * 3600); /* 2025-11-30 */
    tzone_free(z);
    assert_int_equal(tzone_open("Europe/Berlin", &z), 0);
    assert_int_equal(tzone_offset(z, 1764475200), 3600);     /* winter */
    assert_int_equal(tzone_offset(z, 1751328000), 2 * 3600); /* 2025-07-01, summer */
    /* 2025-03-30 01:00 UTC is the switch: one second before, still +1. */
    assert_int_equal(tzone_offset(z, 1743296400 - 1), 3600);
    assert_int_equal(tzone_offset(z, 1743296400), 7200);
    tzone_free(z);
    assert_int_equal(tzone_open("America/New_York", &z), 0);
    assert_int_equal(tzone_offset(z, 1764475200), -5 * 3600);
    tzone_free(z);
    assert_int_equal(tzone_offset(NULL, 0), 0); /* UTC */
}

static void test_bad_and_unknown_zone_names_are_refused(void **state)
{
    struct tzone *z = NULL;
    assert_int_equal(tzone_open("Mars/Olympus", &z), HY_ENOTFOUND);
    assert_int_equal(tzone_open("../../etc/passwd", &z), HY_EINVAL);
    assert_int_equal(tzone_open("/etc/passwd", &z), HY_EINVAL);
    assert_int_equal(tzone_open("", &z), HY_EINVAL);
    assert_int_equal(tzone_open("Asia", &z), HY_ENOTFOUND); /* a directory */
    assert_int_equal(tzone_open("zone.tab", &z), HY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_and_daylight_saving_zones_give_their_offsets),
        cmocka_unit_test(test_bad_and_unknown_zone_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
