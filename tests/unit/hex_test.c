#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/hex.h"

static void test_hex_encode_is_lower_case_and_terminated(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 1];
    memset(out, 'x', sizeof out);
    hex_encode(in, sizeof in, out);
    assert_string_equal(out, "00017f80abff");
    hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void test_hex_digit_values(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        assert_int_equal(hex_digit(c), want);
    }
    assert_int_equal(hex_digit(-1), -1);
    assert_int_equal(hex_lower[10], 'a');
    assert_int_equal(hex_upper[15], 'F');
}

static void test_hex_decode_round_trips_and_rejects(void **state)
{
    (void)state;
    uint8_t in[256], back[256];
    char text[513];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    hex_encode(in, sizeof in, text);
    assert_int_equal(hex_decode(text, sizeof in, back), 0);
    assert_memory_equal(in, back, sizeof in);
    assert_int_equal(hex_decode("DeAdBeEf", 4, back), 0);
    assert_memory_equal(back, "\xde\xad\xbe\xef", 4);
    assert_int_equal(hex_decode("0g", 1, back), HY_EBADMSG);
    assert_int_equal(hex_decode(" 0", 1, back), HY_EBADMSG);
    assert_int_equal(hex_decode("0-", 1, back), HY_EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode_is_lower_case_and_terminated),
        cmocka_unit_test(test_hex_digit_values),
        cmocka_unit_test(test_hex_decode_round_trips_and_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
