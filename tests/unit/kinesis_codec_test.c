/* Unit tests for src/api/kinesis/kinesis_codec.c: sequence numbers, signed iterators, hashing,
 * request parsing and the model checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "api/kinesis/kinesis_int.h"
#include "base/err.h"
#include "core/catalog.h"
#include "core/datastream.h"

static const uint8_t key[DATASTREAM_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static void test_sequence_numbers_order_and_name_their_shard(void **state)
{
    char a[KINESIS_SEQ_DIGITS + 1], b[KINESIS_SEQ_DIGITS + 1];
    kinesis_codec_seq_format(9, 3, 123456, a);
    kinesis_codec_seq_format(10, 3, 123456, b);
    assert_int_equal(strlen(a), KINESIS_SEQ_DIGITS);
    assert_true(strcmp(a, b) < 0); /* same width: text order is number order */
    uint64_t v;
    uint32_t idx;
    assert_int_equal(kinesis_codec_seq_parse(b, strlen(b), 123456, &v, &idx), 0);
    assert_int_equal(v, 10);
    assert_int_equal(idx, 3);
    assert_int_equal(kinesis_codec_seq_parse(b, strlen(b), 123457, &v, &idx), HY_EINVAL);
    assert_int_equal(kinesis_codec_seq_parse("12345", 5, 123456, &v, &idx), HY_EBADMSG);
    b[5] = 'x';
    assert_int_equal(kinesis_codec_seq_parse(b, strlen(b), 123456, &v, &idx), HY_EBADMSG);
    kinesis_codec_seq_format(UINT64_MAX, UINT32_MAX, UINT64_MAX, a);
    assert_int_equal(kinesis_codec_seq_parse(a, strlen(a), UINT64_MAX, &v, &idx), 0);
    assert_true(v == UINT64_MAX && idx == UINT32_MAX);
}

static void test_iterators_round_trip_and_refuse_every_change(void **state)
{
    struct kinesis_iter it = {.stream_id = 0x1122334455667788ull,
                              .shard_index = 7,
                              .seq = 123456789,
                              .issued_ms = 1700000000123};
    snprintf(it.name, sizeof it.name, "%s", "orders.v2");
    char text[KINESIS_ITER_MAX + 1];
    kinesis_codec_iter_encode(&it, key, text);
    size_t n = strlen(text);
    assert_true(n <= KINESIS_ITER_MAX);
    struct kinesis_iter back;
    assert_int_equal(kinesis_codec_iter_decode(text, n, key, &back), 0);
    assert_string_equal(back.name, "orders.v2");
    assert_true(back.stream_id == it.stream_id && back.shard_index == 7 && back.seq == 123456789 &&
                back.issued_ms == it.issued_ms);
    /* Every character changed to every other base64 character is refused. */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    for (size_t i = 0; i < n; i++) {
        char saved = text[i];
        for (const char *c = alpha; *c; c++) {
            if (*c == saved)
                continue;
            text[i] = *c;
            assert_int_equal(kinesis_codec_iter_decode(text, n, key, &back), HY_EBADMSG);
        }
        text[i] = saved;
    }
    /* Truncated, extended, or under another key. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kinesis_codec_iter_decode(text, i, key, &back), HY_EBADMSG);
    uint8_t other[DATASTREAM_KEY_LEN];
    memcpy(other, key, sizeof other);
    other[31] ^= 1;
    assert_int_equal(kinesis_codec_iter_decode(text, n, other, &back), HY_EBADMSG);
    char longer[KINESIS_ITER_MAX + 8];
    snprintf(longer, sizeof longer, "%sAAAA", text);
    assert_int_equal(kinesis_codec_iter_decode(longer, strlen(longer), key, &back), HY_EBADMSG);
}

static void test_partition_keys_hash_with_md5(void **state)
{
    /* MD5("") = d41d8cd98f00b204e9800998ecf8427e. */
    unsigned __int128 h = kinesis_codec_hash("", 0);
    char d[41];
    datastream_u128_format(h, d);
    assert_string_equal(d, "281949768489412648962353822266799178366");
    assert_true(kinesis_codec_hash("a", 1) != h);
}

static int stream_name(const char *json, char *out)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *o = NULL;
    int rc = kinesis_codec_parse(json, strlen(json), &o, &e);
    const char *n = NULL;
    size_t len = 0;
    if (!rc)
        rc = kinesis_codec_stream_name(o, &n, &len, &e);
    if (!rc)
        snprintf(out, 200, "%.*s", (int)len, n);
    else
        snprintf(out, 200, "%s", e.type);
    cJSON_Delete(o);
    awsjson_err_fini(&e);
    return rc;
}

static void test_stream_names_come_from_name_or_arn(void **state)
{
    char out[200];
    assert_int_equal(stream_name("{\"StreamName\":\"s1\"}", out), 0);
    assert_string_equal(out, "s1");
    assert_int_equal(
        stream_name("{\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/s2\"}", out),
        0);
    assert_string_equal(out, "s2");
    assert_int_equal(stream_name("{\"StreamName\":\"s1\",\"StreamARN\":\"arn:aws:kinesis:us-east-"
                                 "1:123456789012:stream/s2\"}",
                                 out),
                     -1);
    assert_string_equal(out, "InvalidArgumentException");
    assert_int_equal(stream_name("{}", out), -1);
    assert_string_equal(out, "InvalidArgumentException");
    assert_int_equal(stream_name("{\"StreamName\":\"bad name\"}", out), -1);
    assert_string_equal(out, "ValidationException");
    assert_int_equal(stream_name("{\"StreamARN\":\"arn:aws:kinesis:x:12345:stream/s\"}", out), -1);
    assert_string_equal(out, "ValidationException");
    assert_int_equal(stream_name("{\"StreamName\":5}", out), -1);
    assert_string_equal(out, "SerializationException");
    assert_int_equal(stream_name("[1]", out), -1);
    assert_string_equal(out, "SerializationException");
    assert_int_equal(stream_name("{\"StreamName\":\"a\\u0000b\"}", out), -1);
    assert_string_equal(out, "InvalidArgumentException");
    assert_int_equal(stream_name("{\"StreamName\":\"\xff\"}", out), -1);
    assert_string_equal(out, "SerializationException");
}

static void test_integer_members_are_checked_against_the_model(void **state)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *o = cJSON_Parse("{\"Limit\":0,\"Other\":1.5}");
    assert_non_null(kinesis_codec_int(o, "Limit", "limit", 1, 10000, 0, &e));
    assert_int_equal(awsjson_err_done(&e), 1);
    assert_string_equal(e.type, "ValidationException");
    assert_non_null(strstr(e.msg.data, "Value '0' at 'limit' failed to satisfy constraint"));
    awsjson_err_fini(&e);
    awsjson_err_init(&e);
    assert_null(kinesis_codec_int(o, "Other", "other", 1, 10, 0, &e));
    assert_string_equal(e.type, "SerializationException");
    awsjson_err_fini(&e);
    cJSON_Delete(o);
}

int main(void)
{
    catalog_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_numbers_order_and_name_their_shard),
        cmocka_unit_test(test_iterators_round_trip_and_refuse_every_change),
        cmocka_unit_test(test_partition_keys_hash_with_md5),
        cmocka_unit_test(test_stream_names_come_from_name_or_arn),
        cmocka_unit_test(test_integer_members_are_checked_against_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
