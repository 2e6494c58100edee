#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "pipeline/jqextract.h"

static void test_query_extracts_string_keys_in_order(void **state)
{
    struct jqextract *jx = NULL;
    const char *reason = NULL;
    struct buf keys;
    size_t n = 0;
    buf_init(&keys, 4096);
    assert_int_equal(
        jqextract_new("{customer: .customer, year: (.ts|strftime(\"%Y\"))}", &jx, &reason), 0);
    const char *rec = "{\"customer\":\"c-1\",\"ts\":1764475200}";
    assert_int_equal(jqextract_run(jx, rec, strlen(rec), &keys, &n, &reason), 0);
    assert_int_equal(n, 2);
    assert_string_equal(jqextract_key(keys.data, n, "customer", 8), "c-1");
    assert_string_equal(jqextract_key(keys.data, n, "year", 4), "2025");
    assert_null(jqextract_key(keys.data, n, "nope", 4));
    jqextract_free(jx);
    buf_fini(&keys);
}

static void test_records_that_cannot_be_partitioned_are_refused(void **state)
{
    struct jqextract *jx = NULL;
    const char *reason = NULL;
    struct buf keys;
    size_t n = 0;
    buf_init(&keys, 4096);
    assert_int_equal(jqextract_new("{k: .k}", &jx, &reason), 0);
    static const char *const bad[] = {
        "not json", "{\"k\":1}", "{}", "{\"k\":\"a\"} {\"k\":\"b\"}", "", "{\"k\":[\"a\"]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reason = NULL;
        assert_int_equal(jqextract_run(jx, bad[i], strlen(bad[i]), &keys, &n, &reason), HY_EBADMSG);
        assert_non_null(reason);
        assert_int_equal(keys.len, 0);
    }
    jqextract_free(jx);
    assert_int_equal(jqextract_new(".k", &jx, &reason), 0);
    assert_int_equal(jqextract_run(jx, "{\"k\":\"a\"}", 9, &keys, &n, &reason), HY_EBADMSG);
    jqextract_free(jx);
    assert_int_equal(jqextract_new("error(\"x\")", &jx, &reason), 0);
    assert_int_equal(jqextract_run(jx, "{}", 2, &keys, &n, &reason), HY_EBADMSG);
    jqextract_free(jx);
    assert_int_equal(jqextract_new("empty", &jx, &reason), 0);
    assert_int_equal(jqextract_run(jx, "{}", 2, &keys, &n, &reason), HY_EBADMSG);
    jqextract_free(jx);
    buf_fini(&keys);
}

static void test_invalid_queries_do_not_compile(void **state)
{
    struct jqextract *jx = NULL;
    const char *reason = NULL;
    assert_int_equal(jqextract_new("{k: .k", &jx, &reason), HY_EINVAL);
    assert_non_null(reason);
    assert_int_equal(jqextract_new(".[[[", &jx, &reason), HY_EINVAL);
    assert_int_equal(jqextract_new("nosuchfunction(1)", &jx, &reason), HY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_extracts_string_keys_in_order),
        cmocka_unit_test(test_records_that_cannot_be_partitioned_are_refused),
        cmocka_unit_test(test_invalid_queries_do_not_compile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
