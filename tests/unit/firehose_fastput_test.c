/*
 * firehose_fastput_test: the single-pass PutRecord(Batch) scanner accepts the common valid bodies
 * with exactly the general path's result (firehose_put_parse), and declines every other shape so
 * that the general path can give AWS's answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "api/firehose/firehose_int.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "core/catalog.h"
#include "stream/wal.h"

/* Parse body both ways; the fast path must accept and agree with the general path. */
static void expect_same(int batch, const char *body, size_t len, size_t want_n)
{
    struct firehose_put_recs f, g;
    const char *fname = NULL, *gname = NULL;
    size_t fname_len = 0, gname_len = 0;
    assert_int_equal(firehose_fastput_parse(batch, body, len, &fname, &fname_len, &f), 0);
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    assert_int_equal(firehose_put_parse(batch, body, len, &root, &gname, &gname_len, &g, &e), 0);
    assert_int_equal(fname_len, gname_len);
    assert_memory_equal(fname, gname, fname_len);
    assert_int_equal(f.n, want_n);
    assert_int_equal(f.n, g.n);
    assert_int_equal(f.total_len, g.total_len);
    for (size_t i = 0; i < f.n; i++) {
        assert_int_equal(f.recs[i].len, g.recs[i].len);
        if (f.recs[i].len)
            assert_memory_equal(f.recs[i].data, g.recs[i].data, f.recs[i].len);
    }
    firehose_put_recs_fini(&f);
    firehose_put_recs_fini(&g);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}

static void accept_str(int batch, const char *body, size_t want_n)
{
    expect_same(batch, body, strlen(body), want_n);
}

/* The fast path declines (and leaves nothing allocated). */
static void decline_len(int batch, const char *body, size_t len)
{
    struct firehose_put_recs r;
    const char *name = NULL;
    size_t name_len = 0;
    int rc = firehose_fastput_parse(batch, body, len, &name, &name_len, &r);
    if (rc == 0)
        fail_msg("accepted: %.200s", body);
    assert_int_equal(rc, HY_EBADMSG);
    assert_null(r.recs);
    assert_null(r.data);
}

static void decline(int batch, const char *body)
{
    decline_len(batch, body, strlen(body));
}

/* The general path accepts body (the fast path declined it only to be safe). */
static void general_accepts(int batch, const char *body)
{
    struct firehose_put_recs g;
    const char *name;
    size_t name_len;
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    assert_int_equal(firehose_put_parse(batch, body, strlen(body), &root, &name, &name_len, &g, &e),
                     0);
    firehose_put_recs_fini(&g);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}

/* A batch body of n records of rec_len bytes each (byte values from the index), built in b. */
static void build_batch(struct buf *b, size_t n, size_t rec_len, const char *sep)
{
    buf_init(b, 64u << 20);
    static uint8_t raw[FIREHOSE_MAX_RECORD_BYTES + 16];
    static char enc[BASE64_ENCODED_LEN(sizeof raw)];
    assert_true(rec_len <= sizeof raw);
    assert_int_equal(buf_append_str(b, "{\"DeliveryStreamName\": \"big\", \"Records\": ["), 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < rec_len; k++)
            raw[k] = (uint8_t)(i * 31 + k * 7);
        size_t el = base64_encode(raw, rec_len, enc);
        assert_int_equal(buf_append_str(b, i ? sep : ""), 0);
        assert_int_equal(buf_append_str(b, "{\"Data\": \""), 0);
        assert_int_equal(buf_append(b, enc, el), 0);
        assert_int_equal(buf_append_str(b, "\"}"), 0);
    }
    assert_int_equal(buf_append_str(b, "]}"), 0);
}

/* Records of the given sizes, in one batch body. */
static void build_sizes(struct buf *b, const size_t *sizes, size_t n)
{
    buf_init(b, 64u << 20);
    static uint8_t raw[FIREHOSE_MAX_RECORD_BYTES + 16];
    static char enc[BASE64_ENCODED_LEN(sizeof raw)];
    assert_int_equal(buf_append_str(b, "{\"DeliveryStreamName\":\"big\",\"Records\":["), 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(sizes[i] <= sizeof raw);
        memset(raw, (int)i, sizes[i]);
        size_t el = base64_encode(raw, sizes[i], enc);
        assert_int_equal(buf_append_str(b, i ? ",{\"Data\":\"" : "{\"Data\":\""), 0);
        assert_int_equal(buf_append(b, enc, el), 0);
        assert_int_equal(buf_append_str(b, "\"}"), 0);
    }
    assert_int_equal(buf_append_str(b, "]}"), 0);
}

/* ---------------------------------------------------------------- accepted */

static void test_boto3_style_batch_is_accepted(void **state)
{
    accept_str(1,
               "{\"DeliveryStreamName\": \"s\", \"Records\": [{\"Data\": \"aGVsbG8=\"}, "
               "{\"Data\": \"d29ybGQ=\"}]}",
               2);
}

static void test_compact_batch_is_accepted(void **state)
{
    accept_str(1, "{\"DeliveryStreamName\":\"my-stream_1.x\",\"Records\":[{\"Data\":\"QQ==\"}]}",
               1);
}

static void test_pretty_printed_body_is_accepted(void **state)
{
    accept_str(1,
               "\r\n {\n\t\"DeliveryStreamName\" :\t\"s\" ,\n\t\"Records\" : [ {\n\t\t\"Data\" "
               ": \"QUJD\" } ,\r\n { \"Data\":\"\" } ]\n}\n \t",
               2);
}

static void test_aws_cli_style_put_record_is_accepted(void **state)
{
    accept_str(0, "{\"DeliveryStreamName\": \"s\", \"Record\": {\"Data\": \"aGVsbG8gd29ybGQK\"}}",
               1);
}

static void test_member_order_does_not_matter(void **state)
{
    accept_str(
        1, "{\"Records\":[{\"Data\":\"QQ==\"},{\"Data\":\"QkI=\"}],\"DeliveryStreamName\":\"s\"}",
        2);
    accept_str(0, "{\"Record\":{\"Data\":\"QUJD\"},\"DeliveryStreamName\":\"s\"}", 1);
}

static void test_empty_data_is_an_empty_record(void **state)
{
    accept_str(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"\"}]}", 1);
    accept_str(0, "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"\"}}", 1);
}

static void test_name_of_64_characters_is_accepted(void **state)
{
    char body[256];
    snprintf(body, sizeof body, "{\"DeliveryStreamName\":\"%s\",\"Record\":{\"Data\":\"QQ==\"}}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    accept_str(0, body, 1);
}

static void test_500_records_are_accepted(void **state)
{
    struct buf b;
    build_batch(&b, FIREHOSE_MAX_RECORDS, 1024, ", ");
    expect_same(1, b.data, b.len, FIREHOSE_MAX_RECORDS);
    buf_fini(&b);
}

static void test_max_size_record_is_accepted(void **state)
{
    struct buf b;
    build_batch(&b, 1, FIREHOSE_MAX_RECORD_BYTES, ", ");
    expect_same(1, b.data, b.len, 1);
    buf_fini(&b);
}

static void test_batch_of_exactly_4_mib_is_accepted(void **state)
{
    size_t sizes[] = {FIREHOSE_MAX_RECORD_BYTES, FIREHOSE_MAX_RECORD_BYTES,
                      FIREHOSE_MAX_RECORD_BYTES, FIREHOSE_MAX_RECORD_BYTES,
                      FIREHOSE_MAX_BATCH_BYTES - 4 * FIREHOSE_MAX_RECORD_BYTES};
    struct buf b;
    build_sizes(&b, sizes, 5);
    expect_same(1, b.data, b.len, 5);
    buf_fini(&b);
}

/* ---------------------------------------------------------------- declined */

#define OKREC "{\"Data\":\"QQ==\"}"

static void test_unknown_members_are_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "],\"X\":1}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ==\",\"X\":\"\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"X\":\"\",\"Data\":\"QQ==\"}]}");
    /* Right members, wrong operation. */
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Record\":" OKREC "}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}");
    /* Member names differ only in case. */
    decline(1, "{\"deliveryStreamName\":\"s\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"data\":\"QQ==\"}]}");
}

static void test_escapes_are_declined(void **state)
{
    /* "\/" is a legal JSON escape that the general path decodes to '/', valid base64. */
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QU\\/B\"}]}");
    general_accepts(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QU\\/B\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\\u0061\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\\\"\",\"Records\":[" OKREC "]}");
    decline(1, "{\"D\\u0065liveryStreamName\":\"s\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"D\\u0061ta\":\"QQ==\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ\\\"==\"}]}");
}

static void test_duplicate_members_are_declined(void **state)
{
    decline(1,
            "{\"DeliveryStreamName\":\"s\",\"DeliveryStreamName\":\"t\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "],\"Records\":[" OKREC "]}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":" OKREC ",\"Record\":" OKREC "}");
    decline(1,
            "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ==\",\"Data\":\"QQ==\"}]}");
}

static void test_nulls_are_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":null,\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":null}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[null]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC ",null]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":null}]}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":null}");
    decline(1, "null");
}

static void test_numbers_and_other_types_are_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":1,\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":12}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":true}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[1]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":\"QQ==\"}");
    decline(1, "[]");
    decline(1, "\"s\"");
}

static void test_nesting_is_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":{\"Data\":\"QQ==\"}}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[[" OKREC "]]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":" OKREC "}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":[\"s\"],\"Records\":[" OKREC "]}");
}

static void test_trailing_bytes_are_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}x");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}{}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]},");
    static const char nul[] = "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}\0";
    decline_len(1, nul, sizeof nul - 1);
}

static void test_malformed_json_is_declined(void **state)
{
    decline(1, "");
    decline(1, "{}");
    decline(1, "{\"DeliveryStreamName\":\"s\"}");
    decline(1, "{\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC ",]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "],}");
    decline(1, "{\"DeliveryStreamName\":\"s\"\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC OKREC "]}");
    decline(1, "{\"DeliveryStreamName\" \"s\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s,\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ==}]}");
    /* A byte-order mark and non-JSON whitespace (cJSON skips both). */
    decline(1, "\xef\xbb\xbf{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}");
    decline(1, "{\f\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}");
    /* Fuzz regression: a member name without its ':' must not let the next name start after
     * it (this body was accepted with the second, valid, DeliveryStreamName). */
    decline(1, "{\"DeliveryStreamName\"\t\"Records\":[" OKREC "],\"DeliveryStreamName\":\"s\"}");
    decline(1, "{\"Records\" \"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}");
}

static void test_invalid_base64_is_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ=\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"Q===\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ=a\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"Q-_A\"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QQ== \"}]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC ",{\"Data\":\"QQ==QQ==\"}]}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"====\"}}");
}

static void test_bad_stream_names_are_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":\"\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"a b\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"a/b\",\"Records\":[" OKREC "]}");
    decline(1, "{\"DeliveryStreamName\":\"caf\xc3\xa9\",\"Records\":[" OKREC "]}");
    char body[256];
    snprintf(body, sizeof body, "{\"DeliveryStreamName\":\"%s\",\"Records\":[" OKREC "]}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    decline(1, body);
}

static void test_empty_record_list_is_declined(void **state)
{
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[ ]}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{}]}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":{}}");
}

static void test_501_records_are_declined(void **state)
{
    struct buf b;
    build_batch(&b, FIREHOSE_MAX_RECORDS + 1, 0, ",");
    decline_len(1, b.data, b.len);
    buf_fini(&b);
}

static void test_record_over_1024000_bytes_is_declined(void **state)
{
    struct buf b;
    build_batch(&b, 1, FIREHOSE_MAX_RECORD_BYTES + 1, ",");
    decline_len(1, b.data, b.len);
    buf_fini(&b);
}

static void test_batch_over_4_mib_is_declined(void **state)
{
    size_t sizes[] = {FIREHOSE_MAX_RECORD_BYTES, FIREHOSE_MAX_RECORD_BYTES,
                      FIREHOSE_MAX_RECORD_BYTES, FIREHOSE_MAX_RECORD_BYTES,
                      FIREHOSE_MAX_BATCH_BYTES - 4 * FIREHOSE_MAX_RECORD_BYTES + 1};
    struct buf b;
    build_sizes(&b, sizes, 5);
    decline_len(1, b.data, b.len);
    buf_fini(&b);
}

static void test_allocation_failure_declines_with_enomem(void **state)
{
    static const char body[] = "{\"DeliveryStreamName\":\"s\",\"Records\":[" OKREC "]}";
    for (unsigned long k = 1; k <= 2; k++) {
        struct firehose_put_recs r;
        const char *name;
        size_t name_len;
        hy_mem_fail_at(k);
        int rc = firehose_fastput_parse(1, body, sizeof body - 1, &name, &name_len, &r);
        hy_mem_fail_at(0);
        assert_int_equal(rc, HY_ENOMEM);
        assert_null(r.recs);
        assert_null(r.data);
    }
}

static void test_invalid_utf8_and_nul_escapes_are_declined(void **state)
{
    /* The general path answers SerializationException or ValidationException for these; the
     * scanner accepts ASCII only, so it never disagrees. */
    decline(0, "{\"DeliveryStreamName\":\"s\xff\",\"Record\":{\"Data\":\"eA==\"}}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"eA==\xc3\xa9\"}}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"\xed\xa0\x80\"}]}");
    decline(0, "{\"DeliveryStreamName\":\"s1\\u0000x\",\"Record\":{\"Data\":\"eA==\"}}");
    decline(1, "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"eA==\\u0000\"}]}");
    decline(0, "{\"DeliveryStreamName\":\"s\\ud800\",\"Record\":{\"Data\":\"eA==\"}}");
    decline(0, "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"eA==\"}}\xff");
}

int main(void)
{
    catalog_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_utf8_and_nul_escapes_are_declined),
        cmocka_unit_test(test_boto3_style_batch_is_accepted),
        cmocka_unit_test(test_compact_batch_is_accepted),
        cmocka_unit_test(test_pretty_printed_body_is_accepted),
        cmocka_unit_test(test_aws_cli_style_put_record_is_accepted),
        cmocka_unit_test(test_member_order_does_not_matter),
        cmocka_unit_test(test_empty_data_is_an_empty_record),
        cmocka_unit_test(test_name_of_64_characters_is_accepted),
        cmocka_unit_test(test_500_records_are_accepted),
        cmocka_unit_test(test_max_size_record_is_accepted),
        cmocka_unit_test(test_batch_of_exactly_4_mib_is_accepted),
        cmocka_unit_test(test_unknown_members_are_declined),
        cmocka_unit_test(test_escapes_are_declined),
        cmocka_unit_test(test_duplicate_members_are_declined),
        cmocka_unit_test(test_nulls_are_declined),
        cmocka_unit_test(test_numbers_and_other_types_are_declined),
        cmocka_unit_test(test_nesting_is_declined),
        cmocka_unit_test(test_trailing_bytes_are_declined),
        cmocka_unit_test(test_malformed_json_is_declined),
        cmocka_unit_test(test_invalid_base64_is_declined),
        cmocka_unit_test(test_bad_stream_names_are_declined),
        cmocka_unit_test(test_empty_record_list_is_declined),
        cmocka_unit_test(test_501_records_are_declined),
        cmocka_unit_test(test_record_over_1024000_bytes_is_declined),
        cmocka_unit_test(test_batch_over_4_mib_is_declined),
        cmocka_unit_test(test_allocation_failure_declines_with_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
