/* Unit tests for src/deliver/keyname.c: object keys, prefix expressions, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "deliver/keyname.h"

/* 2026-11-24T18:05:09.123Z, a Tuesday. */
#define T_NOV 1795543509123LL
/* 2026-03-05T04:06:07.089Z, a Thursday: every field has a single digit. */
#define T_MAR 1772683567089LL
/* 2018-08-27T03:04:05Z */
#define T_2018 1535339045000LL

/* Filled from the first run; see test_batch_id_is_pinned_so_upgrades_keep_redelivery_idempotent. */
#define PINNED_ID "c8f1df79-5049-8135-bbf4-db34fb1eb0ac"
#define PINNED_RANDOM "b681f3fe-a5"
#define PINNED_STREAM_ID 0x64af7844dff497b0ULL

static struct keyname_batch batch_at(int64_t ms)
{
    struct keyname_batch r = {
        .stream_name = "s1",
        .version = 1,
        .stream_id = 42,
        .first_seq = 1,
        .first_arrival_ms = ms,
    };
    return r;
}

/* Evaluate the full key and return it in b (caller finalises). */
static int key_of(const char *prefix, const struct keyname_batch *r, struct buf *b)
{
    buf_init(b, 4096);
    return keyname_object_key(prefix, r, b);
}

static void assert_key(const char *prefix, const struct keyname_batch *r, const char *want_prefix)
{
    struct buf b, want;
    char id[KEYNAME_ID_LEN + 1];
    assert_int_equal(key_of(prefix, r, &b), 0);
    keyname_batch_id(r, id);
    buf_init(&want, 4096);
    assert_int_equal(buf_printf(&want, "%s%s-%llu-", want_prefix, r->stream_name,
                                (unsigned long long)r->version),
                     0);
    assert_true(b.len > want.len);
    assert_memory_equal(b.data, want.data, want.len);
    /* Suffix: yyyy-MM-dd-HH-mm-ss-<id>, 20 + 36 chars. */
    assert_int_equal(b.len - want.len, 20 + KEYNAME_ID_LEN);
    assert_string_equal(b.data + want.len + 20, id);
    buf_fini(&b);
    buf_fini(&want);
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_default_prefix_is_utc_hour_path_of_oldest_arrival(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    struct buf b;
    assert_int_equal(key_of(NULL, &r, &b), 0);
    char id[KEYNAME_ID_LEN + 1];
    keyname_batch_id(&r, id);
    char want[128];
    snprintf(want, sizeof(want), "2026/11/24/18/s1-1-2026-11-24-18-05-09-%s", id);
    assert_string_equal(b.data, want);
    buf_fini(&b);
    assert_key("", &r, "2026/11/24/18/");
}

static void test_plain_prefix_gets_default_timestamp_appended(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    assert_key("logs/", &r, "logs/2026/11/24/18/");
    /* Firehose concatenates; it adds no slash of its own. */
    assert_key("myFirehosePrefix", &r, "myFirehosePrefix2026/11/24/18/");
}

static void test_suffix_has_stream_version_and_zero_padded_time(void **state)
{
    struct keyname_batch r = batch_at(T_MAR);
    r.stream_name = "my-delivery-stream";
    r.version = 17;
    struct buf b;
    assert_int_equal(key_of("x/", &r, &b), 0);
    const char *want = "x/2026/03/05/04/my-delivery-stream-17-2026-03-05-04-06-07-";
    assert_memory_equal(b.data, want, strlen(want));
    buf_fini(&b);
}

static void test_timestamp_expressions_replace_the_default_path(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    assert_key("year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/", &r,
               "year=2026/month=11/day=24/");
    assert_key("!{timestamp:yyyy/MM/dd/HH/mm/ss}/", &r, "2026/11/24/18/05/09/");
}

static void test_quoted_literals_are_copied_verbatim(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    assert_key("!{timestamp:'year='yyyy'/month='MM}/", &r, "year=2026/month=11/");
    assert_key("!{timestamp:''yyyy''}/", &r, "'2026'/");
    assert_key("!{timestamp:'it''s 'yy}/", &r, "it's 26/");
    /* A '}' inside quotes does not end the expression. */
    assert_key("!{timestamp:'{x}'yyyy}/", &r, "{x}2026/");
}

static void test_short_and_text_fields_follow_datetimeformatter(void **state)
{
    struct keyname_batch r = batch_at(T_MAR);
    assert_key("!{timestamp:yy-M-d-H-m-s.SSS}/", &r, "26-3-5-4-6-7.089/");
    assert_key("!{timestamp:EEE MMM MMMM EEEE}/", &r, "Thu Mar March Thursday/");
    assert_key("!{timestamp:uuuu-S-SSSSSS}/", &r, "2026-0-089000/");
}

static void test_all_timestamps_in_a_prefix_use_one_instant(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    assert_key("a=!{timestamp:HH}/b=!{timestamp:HH}/", &r, "a=18/b=18/");
}

static void test_batch_id_is_a_lowercase_uuid(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    char id[KEYNAME_ID_LEN + 1];
    keyname_batch_id(&r, id);
    assert_int_equal(strlen(id), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(id[i], '-');
        else
            assert_true(is_lower_hex(id[i]));
    }
    assert_int_equal(id[14], '8');               /* version 8 */
    assert_true(strchr("89ab", id[19]) != NULL); /* variant 10xx */
}

static void test_id_depends_only_on_stream_identity_and_first_seq(void **state)
{
    /* A batch is named when it opens, before its cut is known: the id must not depend on
     * anything else, or a replay after a crash could not reproduce it. */
    struct keyname_batch r = batch_at(T_NOV), o;
    char a[KEYNAME_ID_LEN + 1], b[KEYNAME_ID_LEN + 1];
    keyname_batch_id(&r, a);
    keyname_batch_id(&r, b);
    assert_string_equal(a, b);

    o = r;
    o.first_arrival_ms = T_MAR;
    o.version = 7;
    o.stream_name = "other";
    keyname_batch_id(&o, b);
    assert_string_equal(a, b);

    o = r;
    o.first_seq = 2;
    keyname_batch_id(&o, b);
    assert_string_not_equal(a, b);
    o = r;
    o.stream_id = 43;
    keyname_batch_id(&o, b);
    assert_string_not_equal(a, b);
    /* Neighbouring first seqs of one stream, as consecutive batches have, never collide. */
    for (uint64_t seq = 1; seq < 2000; seq++) {
        char x[KEYNAME_ID_LEN + 1], y[KEYNAME_ID_LEN + 1];
        o = r;
        o.first_seq = seq;
        keyname_batch_id(&o, x);
        o.first_seq = seq + 1;
        keyname_batch_id(&o, y);
        assert_string_not_equal(x, y);
    }
}

static void test_batch_id_is_pinned_so_upgrades_keep_redelivery_idempotent(void **state)
{
    /* If this fails, the hash changed and one batch would be named differently by two builds.
     * Intents store the whole key, so a replay is still exact, but anything that derives names
     * (tools, tests, a batch opened again by an older build) would not be. Re-pin deliberately:
     * the last re-pin came when the last seq left the hash. */
    struct keyname_batch r = batch_at(T_NOV);
    char id[KEYNAME_ID_LEN + 1];
    struct buf b;
    keyname_batch_id(&r, id);
    assert_string_equal(id, PINNED_ID);
    assert_true(keyname_stream_id("s1", 0) == PINNED_STREAM_ID);
    assert_int_equal(key_of("!{firehose:random-string}/", &r, &b), 0);
    assert_memory_equal(b.data, PINNED_RANDOM "/", KEYNAME_RANDOM_LEN + 1);
    buf_fini(&b);
}

static void test_stream_id_depends_on_name_and_creation_time(void **state)
{
    uint64_t a = keyname_stream_id("s1", 1000);
    assert_true(a == keyname_stream_id("s1", 1000));
    assert_true(a != keyname_stream_id("s1", 1001));
    assert_true(a != keyname_stream_id("s2", 1000));
}

static void test_random_string_is_eleven_chars_and_deterministic_per_occurrence(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    struct buf a, b;
    assert_int_equal(key_of("!{firehose:random-string}/!{firehose:random-string}/", &r, &a), 0);
    assert_int_equal(key_of("!{firehose:random-string}/!{firehose:random-string}/", &r, &b), 0);
    assert_string_equal(a.data, b.data);
    /* "xxxxxxxx-xx/yyyyyyyy-yy/" then the default timestamp, since there was none. */
    for (int i = 0; i < 11; i++) {
        if (i == 8) {
            assert_int_equal(a.data[i], '-');
            assert_int_equal(a.data[12 + i], '-');
        } else {
            assert_true(is_lower_hex(a.data[i]));
            assert_true(is_lower_hex(a.data[12 + i]));
        }
    }
    assert_int_equal(a.data[11], '/');
    assert_memory_not_equal(a.data, a.data + 12, 11);
    assert_memory_equal(a.data + 24, "2026/11/24/18/s1-1-", 19);
    buf_fini(&b);

    r.first_seq = 5;
    assert_int_equal(key_of("!{firehose:random-string}/!{firehose:random-string}/", &r, &b), 0);
    assert_memory_not_equal(a.data, b.data, 11);
    buf_fini(&a);
    buf_fini(&b);
}

static void test_error_output_type_is_rejected_in_a_data_prefix(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    struct buf b;
    assert_int_equal(key_of("e/!{firehose:error-output-type}/", &r, &b), HY_EINVAL);
    buf_fini(&b);
}

static void test_error_key_uses_error_prefix_with_its_type(void **state)
{
    struct keyname_batch r = batch_at(T_2018);
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(keyname_error_key("data/!{timestamp:yyyy}/",
                                       "err/!{firehose:error-output-type}/!{timestamp:yyyy}/",
                                       "processing-failed", &r, &b),
                     0);
    const char *want = "err/processing-failed/2018/s1-1-2018-08-27-03-04-05-";
    assert_memory_equal(b.data, want, strlen(want));
    buf_fini(&b);
}

static void test_error_key_without_error_prefix_nests_type_under_prefix(void **state)
{
    struct keyname_batch r = batch_at(T_2018);
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(keyname_error_key("myFirehosePrefix/", NULL, "processing-failed", &r, &b), 0);
    const char *want = "myFirehosePrefix/processing-failed/2018/08/27/03/s1-1-2018-08-27-";
    assert_memory_equal(b.data, want, strlen(want));
    buf_fini(&b);
}

static void test_damage_key_depends_only_on_the_span_place_and_is_never_a_data_key(void **state)
{
    /* A quarantined span is named from its place in the log, so a replay that meets it again
     * writes the same object; and it must not land on a data object's key. */
    struct keyname_batch a, b, data = batch_at(T_2018);
    char ia[KEYNAME_ID_LEN + 1], ib[KEYNAME_ID_LEN + 1];
    struct buf ka, kb;
    buf_init(&ka, 4096);
    buf_init(&kb, 4096);
    keyname_damage_batch("s1", 1, data.stream_id, 1, 4096, T_2018, &a);
    keyname_damage_batch("s1", 1, data.stream_id, 1, 4096, T_2018, &b);
    assert_int_equal(keyname_error_key(NULL, NULL, "corrupted-log", &a, &ka), 0);
    assert_int_equal(keyname_error_key(NULL, NULL, "corrupted-log", &b, &kb), 0);
    assert_string_equal(ka.data, kb.data);
    const char *want = "corrupted-log/2018/08/27/03/s1-1-2018-08-27-03-04-05-";
    assert_memory_equal(ka.data, want, strlen(want));
    buf_reset(&kb);
    assert_int_equal(
        keyname_error_key("p/", "e/!{firehose:error-output-type}/", "corrupted-log", &a, &kb), 0);
    want = "e/corrupted-log/2018/08/27/03/s1-1-2018-08-27-03-04-05-";
    assert_memory_equal(kb.data, want, strlen(want));

    /* Another offset, another segment or another stream: another id. */
    keyname_batch_id(&a, ia);
    keyname_damage_batch("s1", 1, data.stream_id, 1, 4097, T_2018, &b);
    keyname_batch_id(&b, ib);
    assert_string_not_equal(ia, ib);
    keyname_damage_batch("s1", 1, data.stream_id, 2, 4096, T_2018, &b);
    keyname_batch_id(&b, ib);
    assert_string_not_equal(ia, ib);
    keyname_damage_batch("s1", 1, data.stream_id + 1, 1, 4096, T_2018, &b);
    keyname_batch_id(&b, ib);
    assert_string_not_equal(ia, ib);
    /* Never the id of a data batch starting at a nearby seq (ErrorOutputPrefix may equal
     * Prefix when it has no expression). */
    for (uint64_t seq = 1; seq < 5000; seq++) {
        data.first_seq = seq;
        keyname_batch_id(&data, ib);
        keyname_damage_batch("s1", 1, data.stream_id, 1, seq, T_2018, &b);
        keyname_batch_id(&b, ia);
        assert_string_not_equal(ia, ib);
    }
    buf_fini(&ka);
    buf_fini(&kb);
}

static void test_key_longer_than_buffer_cap_fails_with_e2big(void **state)
{
    struct keyname_batch r = batch_at(T_NOV);
    struct buf b;
    buf_init(&b, 40);
    assert_int_equal(keyname_object_key("logs/", &r, &b), HY_E2BIG);
    buf_fini(&b);
}

static void expect_invalid(const char *prefix, int is_error, const char *reason_part)
{
    const char *reason = NULL;
    assert_int_equal(keyname_prefix_validate(prefix, is_error, &reason), HY_EINVAL);
    assert_non_null(reason);
    if (!strstr(reason, reason_part))
        fail_msg("prefix \"%s\": reason \"%s\" lacks \"%s\"", prefix, reason, reason_part);
}

static void test_valid_prefixes_pass_validation(void **state)
{
    const char *reason = NULL;
    const char *ok[] = {
        NULL,
        "",
        "logs/",
        "!{timestamp:yyyy}/",
        "year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
        "!{timestamp:'y='yyyy'/'}",
        "a!b{c}/",
        "!{firehose:random-string}/",
        "trailing!",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (keyname_prefix_validate(ok[i], 0, &reason) != 0)
            fail_msg("prefix \"%s\" rejected: %s", ok[i] ? ok[i] : "(null)", reason);
    }
    assert_int_equal(keyname_prefix_validate("e/!{firehose:error-output-type}/", 1, &reason), 0);
}

static void test_bang_brace_must_start_a_known_expression(void **state)
{
    expect_invalid("a/!{/b", 0, "may only start an expression");
    expect_invalid("a/!{}/b", 0, "may only start an expression");
    expect_invalid("!{:yyyy}", 0, "may only start an expression");
    expect_invalid("!{timestamp:yyyy", 0, "closing");
    expect_invalid("!{time:yyyy}", 0, "namespace");
    expect_invalid("!{firehose:uuid}", 0, "firehose expression");
}

static void test_partition_key_namespaces_need_dynamic_partitioning(void **state)
{
    const char *msg = "Dynamic Partitioning Namespaces can only be part of a prefix expression "
                      "when Dynamic Partitioning is enabled";
    expect_invalid("c=!{partitionKeyFromQuery:customer_id}/", 0, msg);
    expect_invalid("c=!{partitionKeyFromLambda:customer_id}/", 0, msg);
    expect_invalid("c=!{partitionKeyFromQuery:customer_id}/", 1, msg);
}

static void test_error_output_type_is_allowed_only_in_error_prefix(void **state)
{
    expect_invalid("x/!{firehose:error-output-type}/", 0, "ErrorOutputPrefix");
}

static void test_bad_timestamp_patterns_are_rejected(void **state)
{
    expect_invalid("!{timestamp:}", 0, "pattern");
    expect_invalid("!{timestamp:yyyyQ}", 0, "Unsupported");
    expect_invalid("!{timestamp:ddd}", 0, "Unsupported");
    expect_invalid("!{timestamp:'open}", 0, "closing");
    expect_invalid("!{timestamp:yyyy[MM]}", 0, "Unsupported");
}

static void test_prefix_over_1024_chars_is_rejected(void **state)
{
    char big[1100];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_invalid(big, 0, "1024");
    big[1024] = '\0';
    assert_int_equal(keyname_prefix_validate(big, 0, NULL), 0);
}

static void test_prefix_with_expressions_requires_error_prefix_with_type(void **state)
{
    const char *reason = NULL;
    assert_int_equal(keyname_prefixes_validate("logs/", NULL, &reason), 0);
    assert_int_equal(keyname_prefixes_validate(NULL, NULL, &reason), 0);
    assert_int_equal(keyname_prefixes_validate("!{timestamp:yyyy}/", NULL, &reason), HY_EINVAL);
    assert_non_null(strstr(reason, "required"));
    assert_int_equal(keyname_prefixes_validate("!{timestamp:yyyy}/", "err/", &reason), HY_EINVAL);
    assert_non_null(strstr(reason, "error-output-type"));
    assert_int_equal(keyname_prefixes_validate("!{timestamp:yyyy}/",
                                               "e/!{firehose:error-output-type}/", &reason),
                     0);
    assert_int_equal(keyname_prefixes_validate("x/!{firehose:error-output-type}/",
                                               "e/!{firehose:error-output-type}/", &reason),
                     HY_EINVAL);
}

static void test_partition_keys_evaluate_only_with_dynamic_partitioning(void **state)
{
    const char *reason = NULL;
    const char *p = "customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/";
    const char *e = "err/!{firehose:error-output-type}/";
    assert_int_equal(keyname_prefixes_validate(p, e, &reason), HY_EINVAL);
    assert_string_equal(reason, "Dynamic Partitioning Namespaces can only be part of a prefix "
                                "expression when Dynamic Partitioning is enabled");
    assert_int_equal(keyname_prefixes_validate_dp(p, e, 1, &reason), 0);
    assert_int_equal(keyname_prefixes_validate_dp(p, NULL, 1, &reason), HY_EINVAL);
    assert_int_equal(keyname_prefixes_validate_dp("logs/", NULL, 1, &reason), HY_EINVAL);
    assert_int_equal(
        keyname_prefixes_validate_dp(p, "e/!{partitionKeyFromQuery:customer}/", 1, &reason),
        HY_EINVAL);
    assert_int_equal(keyname_prefixes_validate_dp("!{partitionKeyFromLambda:x}/", e, 1, &reason),
                     0);

    static const char keys[] = "customer\0acme\0";
    struct keyname_batch r = {.stream_name = "s",
                              .version = 1,
                              .stream_id = 7,
                              .first_seq = 1,
                              .first_arrival_ms = 1764475200000,
                              .part_keys = keys,
                              .n_part_keys = 1};
    struct buf out;
    buf_init(&out, 4096);
    assert_int_equal(keyname_prefix_eval(p, &r, NULL, &out), 0);
    assert_string_equal(out.data, "customer=acme/2025/");
    buf_reset(&out);
    assert_int_equal(keyname_prefix_eval("!{partitionKeyFromQuery:other}/", &r, NULL, &out),
                     HY_ENOTFOUND);
    /* Lambda keys are marked, so a query key of the same name is a different key. */
    static const char both[] = "k\0q\0\1k\0l\0";
    r.part_keys = both;
    r.n_part_keys = 2;
    buf_reset(&out);
    assert_int_equal(
        keyname_prefix_eval(
            "!{partitionKeyFromQuery:k}/!{partitionKeyFromLambda:k}/!{timestamp:yyyy}/", &r, NULL,
            &out),
        0);
    assert_string_equal(out.data, "q/l/2025/");
    buf_reset(&out);
    r.part_keys = keys;
    r.n_part_keys = 1;
    assert_int_equal(keyname_prefix_eval("!{partitionKeyFromLambda:customer}/", &r, NULL, &out),
                     HY_ENOTFOUND);
    /* Distinct partitions of one batch get distinct ids; the same partition the same one. */
    uint64_t a = keyname_derive_id(7, "customer\0acme\0", 14);
    assert_int_equal(a, keyname_derive_id(7, "customer\0acme\0", 14));
    assert_true(a != keyname_derive_id(7, "customer\0acmf\0", 14));
    assert_true(a != keyname_derive_id(8, "customer\0acme\0", 14));
    buf_fini(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_prefix_is_utc_hour_path_of_oldest_arrival),
        cmocka_unit_test(test_partition_keys_evaluate_only_with_dynamic_partitioning),
        cmocka_unit_test(test_plain_prefix_gets_default_timestamp_appended),
        cmocka_unit_test(test_suffix_has_stream_version_and_zero_padded_time),
        cmocka_unit_test(test_timestamp_expressions_replace_the_default_path),
        cmocka_unit_test(test_quoted_literals_are_copied_verbatim),
        cmocka_unit_test(test_short_and_text_fields_follow_datetimeformatter),
        cmocka_unit_test(test_all_timestamps_in_a_prefix_use_one_instant),
        cmocka_unit_test(test_batch_id_is_a_lowercase_uuid),
        cmocka_unit_test(test_id_depends_only_on_stream_identity_and_first_seq),
        cmocka_unit_test(test_batch_id_is_pinned_so_upgrades_keep_redelivery_idempotent),
        cmocka_unit_test(test_stream_id_depends_on_name_and_creation_time),
        cmocka_unit_test(test_random_string_is_eleven_chars_and_deterministic_per_occurrence),
        cmocka_unit_test(test_error_output_type_is_rejected_in_a_data_prefix),
        cmocka_unit_test(test_error_key_uses_error_prefix_with_its_type),
        cmocka_unit_test(test_error_key_without_error_prefix_nests_type_under_prefix),
        cmocka_unit_test(test_damage_key_depends_only_on_the_span_place_and_is_never_a_data_key),
        cmocka_unit_test(test_key_longer_than_buffer_cap_fails_with_e2big),
        cmocka_unit_test(test_valid_prefixes_pass_validation),
        cmocka_unit_test(test_bang_brace_must_start_a_known_expression),
        cmocka_unit_test(test_partition_key_namespaces_need_dynamic_partitioning),
        cmocka_unit_test(test_error_output_type_is_allowed_only_in_error_prefix),
        cmocka_unit_test(test_bad_timestamp_patterns_are_rejected),
        cmocka_unit_test(test_prefix_over_1024_chars_is_rejected),
        cmocka_unit_test(test_prefix_with_expressions_requires_error_prefix_with_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
