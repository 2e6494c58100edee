/* Unit tests for src/warehouse/copyopts.c (JDBC URLs, CopyOptions) and the JSON 'auto' line
 * builder of src/warehouse/pgload.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "warehouse/copyopts.h"
#include "warehouse/pgload.h"

static void test_jdbc_urls(void **st)
{
    (void)st;
    struct jdbc_url u;
    const char *why = NULL;
    assert_int_equal(copyopts_jdbc("jdbc:redshift://cluster.example.com:5439/dev", &u, &why), 0);
    assert_string_equal(u.host, "cluster.example.com");
    assert_int_equal(u.port, 5439);
    assert_string_equal(u.db, "dev");
    assert_int_equal(copyopts_jdbc("jdbc:postgresql://127.0.0.1/warehouse?ssl=false", &u, &why), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 5432);
    assert_string_equal(u.db, "warehouse");
    assert_int_equal(copyopts_jdbc("JDBC:REDSHIFT://h/db", &u, &why), 0);
    assert_int_equal(u.port, 5439);
    static const char *const bad[] = {
        NULL,
        "",
        "jdbc:mysql://h:3306/db",
        "jdbc:redshift://",
        "jdbc:redshift://h:5439",
        "jdbc:redshift://h:5439/",
        "jdbc:redshift://h:0/db",
        "jdbc:redshift://h:65536/db",
        "jdbc:redshift://h:-1/db",
        "jdbc:redshift://h:x/db",
        "jdbc:redshift://h h/db",
        "jdbc:redshift://h;x=1/db",
        "postgresql://h/db",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(copyopts_jdbc(bad[i], &u, &why), -1);
        assert_non_null(why);
    }
}

static void test_copy_options_accepted(void **st)
{
    (void)st;
    struct copyopts o;
    char why[160];
    assert_int_equal(copyopts_parse(NULL, &o, why, sizeof why), 0);
    assert_false(o.csv || o.json || o.gzip || o.delim || o.quote || o.has_null);
    assert_int_equal(copyopts_parse("csv delimiter as ';' NULL AS '\\N' IGNOREHEADER 2 QUOTE "
                                    "'''' gzip",
                                    &o, why, sizeof why),
                     0);
    assert_true(o.csv && o.gzip);
    assert_int_equal(o.delim, ';');
    assert_int_equal(o.quote, '\'');
    assert_true(o.has_null);
    assert_string_equal(o.null_as, "\\N");
    assert_int_equal(o.ignore_header, 2);
    assert_int_equal(copyopts_parse("JSON 'auto'", &o, why, sizeof why), 0);
    assert_true(o.json);
    assert_int_equal(copyopts_parse("  json as 'AUTO'  GZIP ", &o, why, sizeof why), 0);
    assert_true(o.json && o.gzip);
    assert_int_equal(copyopts_parse("DELIMITER '|' NULL ''", &o, why, sizeof why), 0);
    assert_true(o.has_null);
    assert_string_equal(o.null_as, "");
}

static void test_copy_options_refused(void **st)
{
    (void)st;
    static const struct {
        const char *opts, *word;
    } bad[] = {
        {"CSV TIMEFORMAT 'auto'", "TIMEFORMAT"},
        {"MANIFEST", "MANIFEST"},
        {"BZIP2", "BZIP2"},
        {"CSV JSON 'auto'", "JSON"},
        {"JSON 's3://b/paths'", "JSON"},
        {"JSON", "JSON"},
        {"DELIMITER ',,'", "DELIMITER"},
        {"DELIMITER x", "DELIMITER"},
        {"DELIMITER", "DELIMITER"},
        {"QUOTE '\"'", "QUOTE"},
        {"CSV DELIMITER '\"' QUOTE '\"'", "differ"},
        {"NULL AS 'unterminated", "NULL AS"},
        {"CSV 'unterminated", "unterminated"},
        {"IGNOREHEADER -1", "IGNOREHEADER"},
        {"IGNOREHEADER '1'", "IGNOREHEADER"},
        {"IGNOREHEADER 1x", "IGNOREHEADER"},
        {"JSON 'auto' DELIMITER ','", "JSON"},
        {"'stray'", "stray"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct copyopts o;
        char why[160] = "";
        assert_int_equal(copyopts_parse(bad[i].opts, &o, why, sizeof why), -1);
        if (!strstr(why, bad[i].word))
            fail_msg("%s: reason '%s' does not name %s", bad[i].opts, why, bad[i].word);
    }
}

static void test_json_line_maps_by_key(void **st)
{
    (void)st;
    struct buf b;
    buf_init(&b, 1 << 20);
    const char *j =
        "{\"ID\":7,\"name\":\"a \\\"q\\\", b\",\"ok\":false,\"n\":null,\"o\":{\"k\":[1]}}";
    assert_int_equal(pgload_json_line(j, strlen(j), " id, name ,ok,n,o,missing", &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(b.data, "7,\"a \"\"q\"\", b\",false,,\"{\"\"k\"\":[1]}\",");
    buf_reset(&b);
    assert_int_equal(pgload_json_line("[1]", 3, "a", &b), -1);
    assert_int_equal(pgload_json_line("{\"a\":", 5, "a", &b), -1);
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jdbc_urls),
        cmocka_unit_test(test_copy_options_accepted),
        cmocka_unit_test(test_copy_options_refused),
        cmocka_unit_test(test_json_line_maps_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
