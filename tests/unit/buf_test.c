#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

static void test_buf_append_past_max_fails_and_leaves_buffer_unchanged(void **state)
{
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "12345", 5), 0);
    assert_int_equal(buf_append(&b, "6789", 4), HY_E2BIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(buf_append(&b, "678", 3), 0);
    assert_string_equal(b.data, "12345678");
    buf_fini(&b);
}

static void test_buf_allocation_failure_gives_enomem_unchanged(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append(&b, "ab", 2), 0);
    hy_mem_fail_at(1);
    assert_int_equal(buf_reserve(&b, 100000), HY_ENOMEM);
    assert_string_equal(b.data, "ab");
    hy_mem_fail_at(0);
    buf_fini(&b);
}

static void test_buf_printf_and_json_escape(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_int_equal(buf_append_json_str(&b, "a\"b\\c\n\x01", 7), 0);
    assert_string_equal(b.data, "42-x\"a\\\"b\\\\c\\n\\u0001\"");
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%s", big), 0);
    assert_int_equal(b.len, 999);
    assert_string_equal(b.data + 990, "zzzzzzzzz");
    buf_fini(&b);
}

static void test_buf_truncate_drops_the_tail_and_keeps_the_nul(void **state)
{
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_append_str(&b, "abc/def"), 0);
    buf_truncate(&b, 3);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    buf_truncate(&b, 10); /* longer than the content: unchanged */
    assert_string_equal(b.data, "abc");
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_past_max_fails_and_leaves_buffer_unchanged),
        cmocka_unit_test(test_buf_truncate_drops_the_tail_and_keeps_the_nul),
        cmocka_unit_test(test_buf_allocation_failure_gives_enomem_unchanged),
        cmocka_unit_test(test_buf_printf_and_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
