#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "pipeline/process.h"

/* Output records joined with '|'. */
static int collect(void *arg, const void *data, size_t len)
{
    struct buf *b = arg;
    int rc = buf_append(b, data, len);
    return rc ? rc : buf_append(b, "|", 1);
}

static int run(const struct process_opts *o, const char *in, size_t len, struct buf *out,
               struct process_error *err)
{
    struct process *p = process_new(o);
    assert_non_null(p);
    buf_reset(out);
    int rc = process_run(p, in, len, collect, out, err);
    process_free(p);
    return rc;
}

static size_t gz(const char *in, unsigned char *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)strlen(in);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

static void test_json_deaggregation_splits_concatenated_values(void **state)
{
    struct process_opts o = {.deagg = PROCESS_DEAGG_JSON};
    struct process_error err = {0};
    struct buf out;
    buf_init(&out, 1 << 16);
    const char *in = " {\"a\":\"}{\\\"\"}\n[1,{\"b\":[]}]\t{}";
    assert_int_equal(run(&o, in, strlen(in), &out, &err), 0);
    assert_string_equal(out.data, "{\"a\":\"}{\\\"\"}|[1,{\"b\":[]}]|{}|");
    static const char *const bad[] = {"{\"a\":1",    "{\"a\":1}x", "{\"a\":1]",
                                      "{\"a\":tru}", "7",          "{\"a\":\"\\"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.type = NULL;
        assert_int_equal(run(&o, bad[i], strlen(bad[i]), &out, &err), HY_EBADMSG);
        assert_int_equal(out.len, 0); /* nothing emitted */
        assert_string_equal(err.type, "processing-failed");
    }
    buf_fini(&out);
}

static void test_json_splitter_answers_at_every_prefix_without_overreading(void **state)
{
    const char *in = "{\"k\":[\"x}\",{\"y\":\"\\\"\"}]}  [2]";
    size_t len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = hy_malloc(cut ? cut : 1);
        memcpy(copy, in, cut);
        size_t at = 0, s, e;
        int rc;
        int n = 0;
        while ((rc = process_json_next(copy, cut, &at, &s, &e)) == 1) {
            assert_true(e <= cut);
            n++;
        }
        assert_true(rc == 0 || rc == HY_EBADMSG);
        if (cut == len)
            assert_int_equal(n, 2);
        hy_free(copy);
    }
}

static void test_delimited_deaggregation_drops_empty_sub_records(void **state)
{
    struct process_opts o = {
        .deagg = PROCESS_DEAGG_DELIMITED, .delimiter = "##", .delimiter_len = 2};
    struct process_error err = {0};
    struct buf out;
    buf_init(&out, 1 << 16);
    assert_int_equal(run(&o, "##a###b####c##", 14, &out, &err), 0);
    assert_string_equal(out.data, "a|#b|c|");
    assert_int_equal(run(&o, "plain", 5, &out, &err), 0);
    assert_string_equal(out.data, "plain|");
    buf_fini(&out);
}

static void test_cloudwatch_logs_payload_yields_its_messages_and_control_yields_none(void **state)
{
    struct process_opts o = {.decompress = 1, .cwl_extract = 1};
    struct process_error err = {0};
    struct buf out;
    unsigned char z[4096];
    buf_init(&out, 1 << 16);
    size_t n = gz("{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"id\":\"1\",\"timestamp\":1,"
                  "\"message\":\"one\"},{\"id\":\"2\",\"timestamp\":2,\"message\":\"two\"}]}",
                  z, sizeof z);
    assert_int_equal(run(&o, (const char *)z, n, &out, &err), 0);
    assert_string_equal(out.data, "one|two|");
    n = gz("{\"messageType\":\"CONTROL_MESSAGE\",\"logEvents\":[{\"id\":\"1\",\"timestamp\":1,"
           "\"message\":\"CWL CONTROL MESSAGE\"}]}",
           z, sizeof z);
    assert_int_equal(run(&o, (const char *)z, n, &out, &err), 0);
    assert_int_equal(out.len, 0);
    n = gz("not json", z, sizeof z);
    assert_int_equal(run(&o, (const char *)z, n, &out, &err), HY_EBADMSG);
    assert_string_equal(err.type, "processing-failed");
    assert_int_equal(run(&o, "raw", 3, &out, &err), HY_EBADMSG);
    assert_string_equal(err.type, "decompression-failed");
    /* With JSON deaggregation after it, a bad message fails the whole payload. */
    o.deagg = PROCESS_DEAGG_JSON;
    n = gz("{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"message\":\"{}{}\"},"
           "{\"message\":\"{\"}]}",
           z, sizeof z);
    assert_int_equal(run(&o, (const char *)z, n, &out, &err), HY_EBADMSG);
    assert_int_equal(out.len, 0);
    buf_fini(&out);
}

static void test_process_new_survives_allocation_failures(void **state)
{
    struct process_opts o = {
        .decompress = 1, .deagg = PROCESS_DEAGG_DELIMITED, .delimiter = "#", .delimiter_len = 1};
    for (unsigned long n = 1; n < 6; n++) {
        hy_mem_fail_at(n);
        struct process *p = process_new(&o);
        hy_mem_fail_at(0);
        process_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_deaggregation_splits_concatenated_values),
        cmocka_unit_test(test_json_splitter_answers_at_every_prefix_without_overreading),
        cmocka_unit_test(test_delimited_deaggregation_drops_empty_sub_records),
        cmocka_unit_test(test_cloudwatch_logs_payload_yields_its_messages_and_control_yields_none),
        cmocka_unit_test(test_process_new_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
