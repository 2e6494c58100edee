#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32c.h"

static void test_crc32c_matches_standard_check_value(void **state)
{
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
}

/* RFC 3720 (iSCSI) appendix B.4 vectors. */
static void test_crc32c_matches_iscsi_vectors(void **state)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    assert_int_equal(crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_crc32c_is_incremental_at_every_split(void **state)
{
    uint8_t buf[100];
    for (int i = 0; i < 100; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = crc32c(0, buf, sizeof buf);
    for (size_t k = 0; k <= sizeof buf; k++)
        assert_int_equal(crc32c(crc32c(0, buf, k), buf + k, sizeof buf - k), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_matches_standard_check_value),
        cmocka_unit_test(test_crc32c_matches_iscsi_vectors),
        cmocka_unit_test(test_crc32c_is_incremental_at_every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
