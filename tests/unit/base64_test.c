#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"
#include "base/err.h"

static void check_decode(const char *in, const char *want, size_t want_len)
{
    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(base64_decode(in, strlen(in), out, &n), 0);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
}

static void test_base64_decodes_rfc4648_vectors(void **state)
{
    check_decode("", "", 0);
    check_decode("Zg==", "f", 1);
    check_decode("Zm8=", "fo", 2);
    check_decode("Zm9v", "foo", 3);
    check_decode("Zm9vYg==", "foob", 4);
    check_decode("Zm9vYmE=", "fooba", 5);
    check_decode("Zm9vYmFy", "foobar", 6);
    check_decode("+/+/", "\xfb\xff\xbf", 3);
}

static void test_base64_rejects_invalid_input(void **state)
{
    static const char *const bad[] = {
        "Zg=",  "Zg",   "Z",        "Zm9vY", "Zm9v!A==", "Zm 9v", "Zm9v\n",
        "=Zm9", "Z===", "Zg==Zg==", "Zm9-",  "Zm9_",     "Zg=a",  "====",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[64];
        size_t n = 0;
        assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out, &n), HY_EBADMSG);
    }
}

static void test_base64_round_trips_every_length_and_byte(void **state)
{
    uint8_t in[300];
    char enc[BASE64_ENCODED_LEN(300)];
    uint8_t dec[BASE64_DECODED_MAX(sizeof enc)];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t e = base64_encode(in, len, enc);
        assert_int_equal(e, BASE64_ENCODED_LEN(len));
        size_t d = 0;
        assert_int_equal(base64_decode(enc, e, dec, &d), 0);
        assert_int_equal(d, len);
        assert_memory_equal(dec, in, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_decodes_rfc4648_vectors),
        cmocka_unit_test(test_base64_rejects_invalid_input),
        cmocka_unit_test(test_base64_round_trips_every_length_and_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
