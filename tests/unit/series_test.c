/* series: NAB CSV parsing, good and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/series.h"
#include "base/err.h"

static int parse(const char *text, struct series *s, size_t *line)
{
    const char *why = NULL;
    return series_parse(text, strlen(text), s, &why, line);
}

static void test_series_parses_rows_and_finds_timestamps(void **state)
{
    struct series s;
    size_t line;
    const char *t = "timestamp,value\r\n2014-02-14 14:30:00,6.456\r\n2014-02-14 14:35:00,-1e3\n"
                    "2014-02-14 14:35:00,7\n";
    assert_int_equal(parse(t, &s, &line), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ts[0], "2014-02-14 14:30:00");
    assert_float_equal(s.value[0], 6.456, 0);
    assert_float_equal(s.value[1], -1000.0, 0);
    assert_int_equal(series_find(&s, "2014-02-14 14:35:00.000000"), 1);
    assert_int_equal(series_find(&s, "2014-02-14 14:40:00.000000"), -1);
    series_fini(&s);
}

static void test_series_rejects_bad_input(void **state)
{
    struct series s;
    size_t line = 0;
    assert_int_equal(parse("", &s, &line), HY_EBADMSG);
    assert_int_equal(parse("time,val\n", &s, &line), HY_EBADMSG);
    assert_int_equal(parse("timestamp,value\nx,1\n\nx,2\n", &s, &line), HY_EBADMSG);
    assert_int_equal(line, 3);
    assert_int_equal(parse("timestamp,value\nx,abc\n", &s, &line), HY_EBADMSG);
    assert_int_equal(parse("timestamp,value\nx,nan\n", &s, &line), HY_EBADMSG);
    assert_int_equal(parse("timestamp,value\nx,1.5x\n", &s, &line), HY_EBADMSG);
    assert_int_equal(parse("timestamp,value\n,1\n", &s, &line), HY_EBADMSG);
    assert_int_equal(parse("timestamp,value\nnocomma\n", &s, &line), HY_EBADMSG);
    assert_int_equal(line, 2);
    assert_int_equal(parse("timestamp,value\n", &s, &line), 0);
    assert_int_equal(s.n, 0);
    series_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_parses_rows_and_finds_timestamps),
        cmocka_unit_test(test_series_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
