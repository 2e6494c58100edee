/*
 * firehose_test: the Firehose API's parse/validate layer and its pure business rules, without
 * sockets or disk: exact __type and message for each rule.
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

#define EXT_OK                                                                                     \
    "\"ExtendedS3DestinationConfiguration\":{\"RoleARN\":\"arn:aws:iam::123456789012:role/r\","    \
    "\"BucketARN\":\"arn:aws:s3:::bkt\""

/* Run the pure pipeline of op on body: validation, then the op's business check. Returns 0 if
 * accepted; else fills type/msg. */
static int run(enum firehose_op op, const char *body, char *type, size_t type_len, char *msg,
               size_t msg_len)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    int rc = firehose_valid_request(op, body, strlen(body), &root, &e);
    if (rc == 0 && (op == FIREHOSE_OP_PUT_RECORD || op == FIREHOSE_OP_PUT_RECORD_BATCH)) {
        struct firehose_put_recs r;
        rc = firehose_put_decode(root, op == FIREHOSE_OP_PUT_RECORD_BATCH, &r, &e);
        if (rc == 0)
            firehose_put_recs_fini(&r);
    } else if (rc == 0 && op == FIREHOSE_OP_CREATE) {
        cJSON *d = NULL;
        rc = firehose_dest_from_create(root, &d, &e);
        cJSON_Delete(d);
    }
    if (rc) {
        snprintf(type, type_len, "%s", e.type ? e.type : "(none)");
        snprintf(msg, msg_len, "%s", e.msg.data ? e.msg.data : "");
    }
    cJSON_Delete(root);
    awsjson_err_fini(&e);
    return rc;
}

static void expect_error(enum firehose_op op, const char *body, const char *want_type,
                         const char *want_msg)
{
    char type[64], msg[4096];
    int rc = run(op, body, type, sizeof type, msg, sizeof msg);
    if (rc == 0)
        fail_msg("accepted: %s", body);
    assert_string_equal(type, want_type);
    if (want_msg)
        assert_string_equal(msg, want_msg);
}

static void expect_ok(enum firehose_op op, const char *body)
{
    char type[64], msg[4096];
    if (run(op, body, type, sizeof type, msg, sizeof msg) != 0)
        fail_msg("rejected (%s: %s): %s", type, msg, body);
}

/* ---------------------------------------------------------------- targets and JSON */

static void test_target_maps_every_operation_and_rejects_others(void **state)
{
    const char *ok = "Firehose_20150804.PutRecordBatch";
    assert_int_equal(firehose_op_from_target(ok, strlen(ok)), FIREHOSE_OP_PUT_RECORD_BATCH);
    const char *c = "Firehose_20150804.CreateDeliveryStream";
    assert_int_equal(firehose_op_from_target(c, strlen(c)), FIREHOSE_OP_CREATE);
    const char *bad[] = {"Firehose_20150804.Nope", "Kinesis_20131202.PutRecord",
                         "Firehose_20150804.", "PutRecord", "Firehose_20150804.PutRecordBatchX"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(firehose_op_from_target(bad[i], strlen(bad[i])), -1);
    for (int op = 0; op < FIREHOSE_OP_COUNT; op++) {
        char t[128];
        snprintf(t, sizeof t, "Firehose_20150804.%s", firehose_op_name((enum firehose_op)op));
        assert_int_equal(firehose_op_from_target(t, strlen(t)), op);
    }
}

static void test_unparsable_json_is_a_serialization_error(void **state)
{
    expect_error(FIREHOSE_OP_LIST, "{\"Limit\":", "SerializationException", NULL);
    expect_error(FIREHOSE_OP_LIST, "[]", "SerializationException", NULL);
    expect_error(FIREHOSE_OP_LIST, "{} trailing", "SerializationException", NULL);
    expect_ok(FIREHOSE_OP_LIST, "");
    expect_ok(FIREHOSE_OP_LIST, " {} \n");
}

static void test_wrong_json_types_are_serialization_errors(void **state)
{
    expect_error(FIREHOSE_OP_LIST, "{\"Limit\":\"10\"}", "SerializationException", NULL);
    expect_error(FIREHOSE_OP_LIST, "{\"Limit\":1.5}", "SerializationException", NULL);
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, "{\"DeliveryStreamName\":\"s\",\"Records\":{}}",
                 "SerializationException", NULL);
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH,
                 "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":5}]}",
                 "SerializationException", NULL);
    expect_error(FIREHOSE_OP_DESCRIBE, "{\"DeliveryStreamName\":7}", "SerializationException",
                 NULL);
    expect_error(FIREHOSE_OP_DELETE, "{\"DeliveryStreamName\":\"s\",\"AllowForceDelete\":\"yes\"}",
                 "SerializationException", NULL);
}

/* ---------------------------------------------------------------- names and lengths */

static void test_stream_name_longer_than_64_fails_with_coral_message(void **state)
{
    char body[256], want[512];
    char name[66];
    memset(name, 'x', 65);
    name[65] = '\0';
    snprintf(body, sizeof body, "{\"DeliveryStreamName\":\"%s\"}", name);
    snprintf(want, sizeof want,
             "1 validation error detected: Value '%s' at 'deliveryStreamName' failed to satisfy "
             "constraint: Member must have length less than or equal to 64",
             name);
    expect_error(FIREHOSE_OP_DESCRIBE, body, "ValidationException", want);
}

static void test_stream_name_pattern_and_empty_name_report_both_errors(void **state)
{
    expect_error(FIREHOSE_OP_DESCRIBE, "{\"DeliveryStreamName\":\"a b\"}", "ValidationException",
                 "1 validation error detected: Value 'a b' at 'deliveryStreamName' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: "
                 "[a-zA-Z0-9_.-]+");
    expect_error(FIREHOSE_OP_DESCRIBE, "{\"DeliveryStreamName\":\"\"}", "ValidationException",
                 "2 validation errors detected: Value '' at 'deliveryStreamName' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: "
                 "[a-zA-Z0-9_.-]+; Value '' at 'deliveryStreamName' failed to satisfy "
                 "constraint: Member must have length greater than or equal to 1");
}

static void test_missing_required_member_is_not_null_violation(void **state)
{
    expect_error(FIREHOSE_OP_DESCRIBE, "{}", "ValidationException",
                 "1 validation error detected: Value null at 'deliveryStreamName' failed to "
                 "satisfy constraint: Member must not be null");
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, "{\"DeliveryStreamName\":\"s\"}",
                 "ValidationException",
                 "1 validation error detected: Value null at 'records' failed to satisfy "
                 "constraint: Member must not be null");
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, "{\"DeliveryStreamName\":\"s\",\"Records\":[{}]}",
                 "ValidationException",
                 "1 validation error detected: Value null at 'records.1.member.data' failed to "
                 "satisfy constraint: Member must not be null");
}

static void test_null_list_elements_are_not_null_violations(void **state)
{
    /* Regression (fuzz): a null tag key reached the business layer. */
    expect_error(FIREHOSE_OP_UNTAG, "{\"DeliveryStreamName\":\"s\",\"TagKeys\":[null]}",
                 "ValidationException",
                 "1 validation error detected: Value null at 'tagKeys.1.member' failed to "
                 "satisfy constraint: Member must not be null");
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, "{\"DeliveryStreamName\":\"s\",\"Records\":[null]}",
                 "ValidationException", NULL);
}

static void test_list_limit_range_is_validated(void **state)
{
    expect_error(FIREHOSE_OP_LIST, "{\"Limit\":0}", "ValidationException",
                 "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                 "Member must have value greater than or equal to 1");
    expect_error(FIREHOSE_OP_LIST, "{\"Limit\":10001}", "ValidationException",
                 "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
                 "constraint: Member must have value less than or equal to 10000");
    expect_ok(FIREHOSE_OP_LIST, "{\"Limit\":10000,\"DeliveryStreamType\":\"DirectPut\"}");
}

static void test_enum_values_are_validated(void **state)
{
    expect_error(FIREHOSE_OP_LIST, "{\"DeliveryStreamType\":\"Direct\"}", "ValidationException",
                 "1 validation error detected: Value 'Direct' at 'deliveryStreamType' failed to "
                 "satisfy constraint: Member must satisfy enum value set: [DirectPut, "
                 "KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]");
}

/* ---------------------------------------------------------------- records */

static void test_batch_over_500_records_fails_validation(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_append_str(&b, "{\"DeliveryStreamName\":\"s\",\"Records\":[");
    for (int i = 0; i < 501; i++)
        buf_append_str(&b, i ? ",{\"Data\":\"YQ==\"}" : "{\"Data\":\"YQ==\"}");
    buf_append_str(&b, "]}");
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, b.data, "ValidationException",
                 "1 validation error detected: Value '[501 elements]' at 'records' failed to "
                 "satisfy constraint: Member must have length less than or equal to 500");
    buf_fini(&b);
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, "{\"DeliveryStreamName\":\"s\",\"Records\":[]}",
                 "ValidationException",
                 "1 validation error detected: Value '[0 elements]' at 'records' failed to "
                 "satisfy constraint: Member must have length greater than or equal to 1");
}

/* A batch of n records of size bytes each (decoded), the k-th (1-based) of size big. */
static char *batch_body(int n, size_t size, int k, size_t big)
{
    struct buf b;
    buf_init(&b, 64u << 20);
    buf_append_str(&b, "{\"DeliveryStreamName\":\"s\",\"Records\":[");
    for (int i = 1; i <= n; i++) {
        size_t len = i == k ? big : size;
        uint8_t *raw = hy_calloc(1, len + 1);
        char *enc = hy_malloc(BASE64_ENCODED_LEN(len) + 1);
        size_t el = base64_encode(raw, len, enc);
        buf_append_str(&b, i > 1 ? ",{\"Data\":\"" : "{\"Data\":\"");
        buf_append(&b, enc, el);
        buf_append_str(&b, "\"}");
        hy_free(raw);
        hy_free(enc);
    }
    buf_append_str(&b, "]}");
    return b.data;
}

static void test_record_over_1024000_bytes_fails_with_its_index(void **state)
{
    char *body = batch_body(97, 1, 97, 1024001);
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, body, "ValidationException",
                 "1 validation error detected: Value "
                 "'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at "
                 "'records.97.member.data' failed to satisfy constraint: Member must have length "
                 "less than or equal to 1024000");
    hy_free(body);
    body = batch_body(1, 0, 1, 1024000);
    expect_ok(FIREHOSE_OP_PUT_RECORD_BATCH, body);
    hy_free(body);
}

static void test_batch_total_over_4_mib_is_invalid_argument(void **state)
{
    char *body = batch_body(5, 1000000, 0, 0);
    expect_error(FIREHOSE_OP_PUT_RECORD_BATCH, body, "InvalidArgumentException", NULL);
    hy_free(body);
    body = batch_body(4, 1000000, 0, 0);
    expect_ok(FIREHOSE_OP_PUT_RECORD_BATCH, body);
    hy_free(body);
}

static void test_bad_base64_is_serialization_error_even_with_validation_errors(void **state)
{
    expect_error(
        FIREHOSE_OP_PUT_RECORD_BATCH,
        "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"YQ==\"},{\"Data\":\"Y$==\"}]}",
        "SerializationException", "Base64 encoded value at 'records.2.member.data' is malformed");
    expect_error(FIREHOSE_OP_PUT_RECORD,
                 "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"abc\"}}",
                 "SerializationException", NULL);
    expect_error(FIREHOSE_OP_PUT_RECORD,
                 "{\"DeliveryStreamName\":\"a b\",\"Record\":{\"Data\":\"**==\"}}",
                 "SerializationException", NULL);
}

static void test_put_decode_yields_records_in_order(void **state)
{
    const char *body = "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"aGVsbG8=\"},"
                       "{\"Data\":\"\"},{\"Data\":\"d29ybGQK\"}]}";
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    assert_int_equal(
        firehose_valid_request(FIREHOSE_OP_PUT_RECORD_BATCH, body, strlen(body), &root, &e), 0);
    struct firehose_put_recs r;
    assert_int_equal(firehose_put_decode(root, 1, &r, &e), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.total_len, 11);
    assert_memory_equal(r.recs[0].data, "hello", 5);
    assert_int_equal(r.recs[1].len, 0);
    assert_memory_equal(r.recs[2].data, "world\n", 6);
    firehose_put_recs_fini(&r);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}

static void test_record_ids_are_unique_and_carry_the_sequence(void **state)
{
    char a[57] = {0}, b[57] = {0}, c[57] = {0};
    firehose_put_record_id(0x1234, 1, a);
    firehose_put_record_id(0x1234, 2, b);
    firehose_put_record_id(0x1235, 1, c);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    assert_memory_equal(a, "0000000000001234", 16);
    assert_memory_equal(a + 16, "0000000000000001", 16);
    char again[57] = {0};
    firehose_put_record_id(0x1234, 1, again);
    assert_string_equal(a, again);
}

/* ---------------------------------------------------------------- CreateDeliveryStream */

static void test_create_with_extended_s3_is_accepted_with_defaults(void **state)
{
    const char *body = "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"Prefix\":\"p/\"}}";
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL, *d = NULL;
    assert_int_equal(firehose_valid_request(FIREHOSE_OP_CREATE, body, strlen(body), &root, &e), 0);
    assert_int_equal(firehose_dest_from_create(root, &d, &e), 0);
    /* The stored document carries what the delivery consumer reads, defaults filled in. */
    cJSON *bh = cJSON_GetObjectItem(d, "BufferingHints");
    assert_string_equal(cJSON_GetObjectItem(d, "BucketARN")->valuestring, "arn:aws:s3:::bkt");
    assert_string_equal(cJSON_GetObjectItem(d, "Prefix")->valuestring, "p/");
    assert_null(cJSON_GetObjectItem(d, "ErrorOutputPrefix"));
    assert_int_equal(cJSON_GetObjectItem(bh, "SizeInMBs")->valueint, 5);
    assert_int_equal(cJSON_GetObjectItem(bh, "IntervalInSeconds")->valueint, 300);
    cJSON *dests = cJSON_CreateArray();
    assert_int_equal(firehose_dest_describe(d, dests), 0);
    cJSON *x = cJSON_GetArrayItem(dests, 0);
    cJSON *ext = cJSON_GetObjectItem(x, "ExtendedS3DestinationDescription");
    assert_string_equal(cJSON_GetObjectItem(x, "DestinationId")->valuestring,
                        "destinationId-000000000001");
    assert_string_equal(cJSON_GetObjectItem(ext, "CompressionFormat")->valuestring, "UNCOMPRESSED");
    assert_string_equal(cJSON_GetObjectItem(ext, "S3BackupMode")->valuestring, "Disabled");
    assert_null(cJSON_GetObjectItem(ext, "Kind"));
    assert_non_null(cJSON_GetObjectItem(x, "S3DestinationDescription"));
    cJSON_Delete(dests);
    cJSON_Delete(d);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}

static void test_create_buffering_hints_ranges_are_validated(void **state)
{
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\"," EXT_OK
                 ",\"BufferingHints\":{\"SizeInMBs\":129,\"IntervalInSeconds\":901}}}",
                 "ValidationException",
                 "2 validation errors detected: Value '129' at "
                 "'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy "
                 "constraint: Member must have value less than or equal to 128; Value '901' at "
                 "'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' failed "
                 "to satisfy constraint: Member must have value less than or equal to 900");
    expect_ok(FIREHOSE_OP_CREATE,
              "{\"DeliveryStreamName\":\"s\"," EXT_OK
              ",\"BufferingHints\":{\"SizeInMBs\":1,\"IntervalInSeconds\":0}}}");
}

static void test_create_requires_role_and_bucket_arns_matching_the_model(void **state)
{
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"ExtendedS3DestinationConfiguration\":{"
                 "\"BucketARN\":\"arn:aws:s3:::b\"}}",
                 "ValidationException",
                 "1 validation error detected: Value null at "
                 "'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: "
                 "Member must not be null");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"S3DestinationConfiguration\":{"
                 "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\",\"BucketARN\":\"s3://b\"}}",
                 "ValidationException",
                 "1 validation error detected: Value 's3://b' at "
                 "'s3DestinationConfiguration.bucketARN' failed to satisfy constraint: Member "
                 "must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"S3DestinationConfiguration\":{"
                 "\"RoleARN\":\"arn:aws:iam::12345:role/r\",\"BucketARN\":\"arn:aws:s3:::b\"}}",
                 "ValidationException", NULL);
    expect_error(
        FIREHOSE_OP_CREATE,
        "{\"DeliveryStreamName\":\"s\",\"S3DestinationConfiguration\":{"
        "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\",\"BucketARN\":\"arn:aws:s3:::..\"}}",
        "InvalidArgumentException", NULL);
    expect_ok(FIREHOSE_OP_CREATE, "{\"DeliveryStreamName\":\"s\",\"S3DestinationConfiguration\":{"
                                  "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\","
                                  "\"BucketARN\":\"arn:aws-cn:s3:::my.bucket-1\"}}");
}

static void test_create_refuses_unsupported_features_by_name(void **state)
{
    /* Redshift destinations load into PostgreSQL (warehouse/); an empty one lacks its members. */
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"RedshiftDestinationConfiguration\":{}}",
                 "InvalidArgumentException",
                 "RedshiftDestinationConfiguration needs RoleARN, ClusterJDBCURL, "
                 "CopyCommand.DataTableName and S3Configuration (RoleARN, BucketARN)");
    expect_error(
        FIREHOSE_OP_CREATE, "{\"DeliveryStreamName\":\"s\",\"SplunkDestinationConfiguration\":{}}",
        "InvalidArgumentException", "hydrant does not support SplunkDestinationConfiguration yet");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"DeliveryStreamType\":\"MSKAsSource\"," EXT_OK
                 "}}",
                 "InvalidArgumentException",
                 "hydrant does not support DeliveryStreamType MSKAsSource yet; only DirectPut "
                 "and KinesisStreamAsSource");
    /* KinesisStreamAsSource: its configuration goes with the type, and only with it. */
    expect_error(
        FIREHOSE_OP_CREATE,
        "{\"DeliveryStreamName\":\"s\",\"DeliveryStreamType\":\"KinesisStreamAsSource\"," EXT_OK
        "}}",
        "InvalidArgumentException",
        "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource delivery stream "
        "type.");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"KinesisStreamSourceConfiguration\":{"
                 "\"KinesisStreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/k\","
                 "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\"}," EXT_OK "}}",
                 "InvalidArgumentException",
                 "KinesisStreamSourceConfiguration is only allowed for KinesisStreamAsSource "
                 "delivery stream type.");
    expect_ok(FIREHOSE_OP_CREATE,
              "{\"DeliveryStreamName\":\"s\",\"DeliveryStreamType\":\"KinesisStreamAsSource\","
              "\"KinesisStreamSourceConfiguration\":{"
              "\"KinesisStreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/k\","
              "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\"}," EXT_OK "}}");
    /* The model's ARN pattern, and both members required. */
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"DeliveryStreamType\":\"KinesisStreamAsSource\","
                 "\"KinesisStreamSourceConfiguration\":{"
                 "\"KinesisStreamARN\":\"arn:aws:sqs:us-east-1:123456789012:stream/k\","
                 "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\"}," EXT_OK "}}",
                 "ValidationException", NULL);
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\",\"DeliveryStreamType\":\"KinesisStreamAsSource\","
                 "\"KinesisStreamSourceConfiguration\":{"
                 "\"KinesisStreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/k\"}," EXT_OK
                 "}}",
                 "ValidationException", NULL);
    expect_ok(FIREHOSE_OP_CREATE,
              "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"CompressionFormat\":\"GZIP\"}}");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\"," EXT_OK
                 ",\"DataFormatConversionConfiguration\":{}}}",
                 "InvalidArgumentException", NULL);
    expect_ok(FIREHOSE_OP_CREATE, "{\"DeliveryStreamName\":\"s\"," EXT_OK
                                  ",\"DataFormatConversionConfiguration\":{\"Enabled\":false}}}");
    /* Dynamic partitioning is stored; the delivery consumer's check judges it. */
    expect_ok(FIREHOSE_OP_CREATE, "{\"DeliveryStreamName\":\"s\"," EXT_OK
                                  ",\"DynamicPartitioningConfiguration\":{\"Enabled\":true}}}");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"S3BackupMode\":\"Enabled\"}}",
                 "InvalidArgumentException", NULL);
    /* Encryption at rest is supported: the key checks are the service's (test_encryption). */
    expect_ok(FIREHOSE_OP_CREATE,
              "{\"DeliveryStreamName\":\"s\"," EXT_OK
              "},\"DeliveryStreamEncryptionConfigurationInput\":{\"KeyType\":\"AWS_OWNED_CMK\"}}");
}

static void test_create_needs_exactly_one_destination(void **state)
{
    expect_error(FIREHOSE_OP_CREATE, "{\"DeliveryStreamName\":\"s\"}", "InvalidArgumentException",
                 NULL);
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\"," EXT_OK
                 "},\"S3DestinationConfiguration\":{\"RoleARN\":\"arn:aws:iam::123456789012:"
                 "role/r\",\"BucketARN\":\"arn:aws:s3:::b\"}}",
                 "InvalidArgumentException", NULL);
}

/* Fuzz crash regression: the plain S3 shape has no FileExtension, so the model never checked
 * its type; the destination check then read a string out of an object. */
static void test_plain_s3_ignores_extended_members_of_any_type(void **state)
{
    char type[64], msg[512];
    const char *body =
        "{\"DeliveryStreamName\":\"s\",\"S3DestinationConfiguration\":{"
        "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\",\"BucketARN\":\"arn:aws:s3:::b\","
        "\"FileExtension\":{\"x\":1},\"CustomTimeZone\":7,\"S3BackupMode\":[]}}";
    assert_int_equal(run(FIREHOSE_OP_CREATE, body, type, sizeof type, msg, sizeof msg), 0);
}

/* The expression rules themselves belong to the delivery consumer (service_dest_check; see
 * keyname_test and service_test): the front's own checks let both through. */
static void test_prefix_expressions_are_left_to_the_consumers(void **state)
{
    expect_ok(FIREHOSE_OP_CREATE,
              "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"Prefix\":\"y=!{timestamp:yyyy}/\"}}");
    expect_ok(FIREHOSE_OP_CREATE, "{\"DeliveryStreamName\":\"s\"," EXT_OK
                                  ",\"Prefix\":\"y=!{timestamp:yyyy}/\",\"ErrorOutputPrefix\":"
                                  "\"err/!{firehose:error-output-type}/\"}}");
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"Prefix\":\"a\\nb\"}}",
                 "ValidationException", NULL);
}

/* ---------------------------------------------------------------- UpdateDestination */

static void test_update_merges_buffering_hints_and_replaces_prefix(void **state)
{
    const char *create = "{\"DeliveryStreamName\":\"s\"," EXT_OK
                         ",\"Prefix\":\"old/\",\"BufferingHints\":{\"SizeInMBs\":7,"
                         "\"IntervalInSeconds\":60}}}";
    const char *update = "{\"DeliveryStreamName\":\"s\",\"CurrentDeliveryStreamVersionId\":\"1\","
                         "\"DestinationId\":\"destinationId-000000000001\","
                         "\"ExtendedS3DestinationUpdate\":{\"Prefix\":\"new/\","
                         "\"BufferingHints\":{\"IntervalInSeconds\":0}}}";
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *c = NULL, *u = NULL, *d = NULL, *d2 = NULL;
    assert_int_equal(firehose_valid_request(FIREHOSE_OP_CREATE, create, strlen(create), &c, &e), 0);
    assert_int_equal(firehose_dest_from_create(c, &d, &e), 0);
    assert_int_equal(firehose_valid_request(FIREHOSE_OP_UPDATE, update, strlen(update), &u, &e), 0);
    assert_int_equal(firehose_dest_update(d, u, &d2, &e), 0);
    cJSON *bh = cJSON_GetObjectItem(d2, "BufferingHints");
    assert_string_equal(cJSON_GetObjectItem(d2, "Prefix")->valuestring, "new/");
    assert_int_equal(cJSON_GetObjectItem(bh, "SizeInMBs")->valueint, 7);
    assert_int_equal(cJSON_GetObjectItem(bh, "IntervalInSeconds")->valueint, 0);
    /* The current destination is untouched. */
    assert_string_equal(cJSON_GetObjectItem(d, "Prefix")->valuestring, "old/");
    cJSON_Delete(d2);
    d2 = NULL;
    const char *gz = "{\"DeliveryStreamName\":\"s\",\"CurrentDeliveryStreamVersionId\":\"1\","
                     "\"DestinationId\":\"x\",\"S3DestinationUpdate\":{\"CompressionFormat\":"
                     "\"ZIP\"}}";
    cJSON_Delete(u);
    assert_int_equal(firehose_valid_request(FIREHOSE_OP_UPDATE, gz, strlen(gz), &u, &e), 0);
    /* Compression is merged like any member (delivery compresses). */
    assert_int_equal(firehose_dest_update(d, u, &d2, &e), 0);
    assert_string_equal(cJSON_GetObjectItem(d2, "CompressionFormat")->valuestring, "ZIP");
    cJSON_Delete(d2);
    cJSON_Delete(u);
    cJSON_Delete(c);
    cJSON_Delete(d);
    awsjson_err_fini(&e);
}

static void test_update_version_id_must_be_digits(void **state)
{
    expect_error(FIREHOSE_OP_UPDATE,
                 "{\"DeliveryStreamName\":\"s\",\"CurrentDeliveryStreamVersionId\":\"v1\","
                 "\"DestinationId\":\"destinationId-000000000001\"}",
                 "ValidationException",
                 "1 validation error detected: Value 'v1' at 'currentDeliveryStreamVersionId' "
                 "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                 "[0-9]+");
}

/* ---------------------------------------------------------------- tags */

static cJSON *tags_from(const char *json)
{
    cJSON *t = cJSON_Parse(json);
    assert_non_null(t);
    return t;
}

static void test_tags_stay_sorted_and_values_replace(void **state)
{
    cJSON *tags = cJSON_CreateArray();
    cJSON *in = tags_from("[{\"Key\":\"b\",\"Value\":\"1\"},{\"Key\":\"a\"},{\"Key\":\"c\","
                          "\"Value\":\"3\"},{\"Key\":\"b\",\"Value\":\"2\"}]");
    struct awsjson_err e;
    awsjson_err_init(&e);
    assert_int_equal(firehose_tags_add(tags, in, &e), 0);
    char *s = cJSON_PrintUnformatted(tags);
    assert_string_equal(s, "[{\"Key\":\"a\",\"Value\":\"\"},{\"Key\":\"b\",\"Value\":\"2\"},"
                           "{\"Key\":\"c\",\"Value\":\"3\"}]");
    cJSON_free(s);
    cJSON *keys = tags_from("[\"b\",\"zz\"]");
    assert_int_equal(firehose_tags_remove(tags, keys, &e), 0);
    assert_int_equal(cJSON_GetArraySize(tags), 2);
    cJSON_Delete(keys);
    cJSON_Delete(in);
    cJSON_Delete(tags);
    awsjson_err_fini(&e);
}

static void test_tag_added_between_parsed_tags_is_inserted_in_order(void **state)
{
    /* Regression (fuzz): tags loaded from stream.json are a parsed array. */
    cJSON *tags = tags_from("[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"m\",\"Value\":\"\"}]");
    cJSON *in = tags_from("[{\"Key\":\"k\",\"Value\":\"v\"},{\"Key\":\"0\"}]");
    struct awsjson_err e;
    awsjson_err_init(&e);
    assert_int_equal(firehose_tags_add(tags, in, &e), 0);
    char *s = cJSON_PrintUnformatted(tags);
    assert_string_equal(s, "[{\"Key\":\"0\",\"Value\":\"\"},{\"Key\":\"a\",\"Value\":\"1\"},"
                           "{\"Key\":\"k\",\"Value\":\"v\"},{\"Key\":\"m\",\"Value\":\"\"}]");
    cJSON_free(s);
    cJSON_Delete(in);
    cJSON_Delete(tags);
    awsjson_err_fini(&e);
}

static void test_tag_limit_of_50_and_reserved_prefix(void **state)
{
    cJSON *tags = cJSON_CreateArray();
    struct buf b;
    buf_init(&b, 1 << 16);
    buf_append_str(&b, "[");
    for (int i = 0; i < 50; i++)
        buf_printf(&b, "%s{\"Key\":\"k%02d\"}", i ? "," : "", i);
    buf_append_str(&b, "]");
    cJSON *in = tags_from(b.data);
    struct awsjson_err e;
    awsjson_err_init(&e);
    assert_int_equal(firehose_tags_add(tags, in, &e), 0);
    /* Re-adding an existing key does not count. */
    cJSON *same = tags_from("[{\"Key\":\"k00\",\"Value\":\"v\"}]");
    assert_int_equal(firehose_tags_add(tags, same, &e), 0);
    cJSON *one = tags_from("[{\"Key\":\"new\"}]");
    assert_int_equal(firehose_tags_add(tags, one, &e), -1);
    assert_string_equal(e.type, "LimitExceededException");
    awsjson_err_fini(&e);
    awsjson_err_init(&e);
    cJSON *aws = tags_from("[{\"Key\":\"aws:x\"}]");
    assert_int_equal(firehose_tags_add(tags, aws, &e), -1);
    assert_string_equal(e.type, "InvalidArgumentException");
    assert_int_equal(cJSON_GetArraySize(tags), 50);
    cJSON_Delete(aws);
    cJSON_Delete(one);
    cJSON_Delete(same);
    cJSON_Delete(in);
    cJSON_Delete(tags);
    buf_fini(&b);
    awsjson_err_fini(&e);
}

static void test_tag_key_length_and_characters_are_validated(void **state)
{
    expect_error(FIREHOSE_OP_TAG, "{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"\"}]}",
                 "ValidationException",
                 "1 validation error detected: Value '' at 'tags.1.member.key' failed to satisfy "
                 "constraint: Member must have length greater than or equal to 1");
    expect_error(FIREHOSE_OP_TAG,
                 "{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"a\",\"Value\":\"<\"}]}",
                 "ValidationException", NULL);
    expect_error(FIREHOSE_OP_UNTAG, "{\"DeliveryStreamName\":\"s\",\"TagKeys\":[]}",
                 "ValidationException", NULL);
    expect_ok(FIREHOSE_OP_TAG, "{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"k é:/=+-@%\","
                               "\"Value\":\"\"}]}");
}

static void test_list_tags_pages_by_exclusive_start_key(void **state)
{
    cJSON *tags = tags_from("[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\",\"Value\":\"2\"},"
                            "{\"Key\":\"c\",\"Value\":\"3\"}]");
    cJSON *p = firehose_tags_page(tags, NULL, 2);
    char *s = cJSON_PrintUnformatted(p);
    assert_string_equal(s, "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\",\"Value\":"
                           "\"2\"}],\"HasMoreTags\":true}");
    cJSON_free(s);
    cJSON_Delete(p);
    p = firehose_tags_page(tags, "b", 2);
    s = cJSON_PrintUnformatted(p);
    assert_string_equal(s, "{\"Tags\":[{\"Key\":\"c\",\"Value\":\"3\"}],\"HasMoreTags\":false}");
    cJSON_free(s);
    cJSON_Delete(p);
    cJSON_Delete(tags);
}

static void test_validation_messages_survive_allocation_failures(void **state)
{
    /* Every allocation failing in turn: no crash, no leak (ASan), an error or success. */
    const char *body = "{\"DeliveryStreamName\":\"s\"," EXT_OK
                       ",\"BufferingHints\":{\"SizeInMBs\":0}},\"Tags\":[{\"Key\":\"k\"}]}";
    for (unsigned long n = 1; n < 200; n++) {
        char type[64], msg[256];
        hy_mem_fail_at(n);
        run(FIREHOSE_OP_CREATE, body, type, sizeof type, msg, sizeof msg);
        hy_mem_fail_at(0);
    }
}

/* ---------------------------------------------------------------- NUL and UTF-8 */

/* run() on a body with embedded NULs (strlen would cut it). */
static int run_len(enum firehose_op op, const char *body, size_t len, char *type, char *msg,
                   size_t msg_len, cJSON **out)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    int rc = firehose_valid_request(op, body, len, &root, &e);
    if (rc == 0 && awsjson_err_done(&e))
        rc = -1;
    if (rc) {
        snprintf(type, 64, "%s", e.type ? e.type : "(none)");
        size_t n = e.msg.len < msg_len - 1 ? e.msg.len : msg_len - 1;
        memcpy(msg, e.msg.data ? e.msg.data : "", n);
        msg[n] = '\0';
        msg[msg_len - 1] = (char)n; /* length, for messages holding a NUL */
    }
    if (out)
        *out = root;
    else
        cJSON_Delete(root);
    awsjson_err_fini(&e);
    return rc;
}

static void test_nul_in_a_name_is_a_pattern_violation_for_every_operation(void **state)
{
    static const enum firehose_op ops[] = {FIREHOSE_OP_DELETE,     FIREHOSE_OP_DESCRIBE,
                                           FIREHOSE_OP_PUT_RECORD, FIREHOSE_OP_TAG,
                                           FIREHOSE_OP_LIST_TAGS,  FIREHOSE_OP_STOP_ENCRYPTION};
    static const char body[] =
        "{\"DeliveryStreamName\":\"t1\\u0000zz\",\"Record\":{\"Data\":\"eA==\"},"
        "\"Tags\":[{\"Key\":\"k\",\"Value\":\"v\"}]}";
    static const char want[] = "1 validation error detected: Value 't1\0zz' at "
                               "'deliveryStreamName' failed to satisfy constraint: Member must "
                               "satisfy regular expression pattern: [a-zA-Z0-9_.-]+";
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char type[64], msg[1024];
        assert_int_not_equal(run_len(ops[i], body, strlen(body), type, msg, sizeof msg, NULL), 0);
        assert_string_equal(type, "ValidationException");
        assert_int_equal((unsigned char)msg[sizeof msg - 1], sizeof want - 1);
        assert_memory_equal(msg, want, sizeof want - 1);
    }
}

static void test_nul_in_a_length_checked_value_counts_every_character(void **state)
{
    /* 60 + NUL + 10 = 71 characters: too long, and the pattern fails too. */
    char body[256];
    snprintf(body, sizeof body, "{\"DeliveryStreamName\":\"%060d\\u0000%010d\"}", 0, 0);
    char type[64], msg[1024];
    assert_int_not_equal(
        run_len(FIREHOSE_OP_DESCRIBE, body, strlen(body), type, msg, sizeof msg, NULL), 0);
    assert_string_equal(type, "ValidationException");
    assert_memory_equal(msg, "2 validation errors detected", 28);
}

static void test_member_name_with_nul_is_dropped_as_unknown(void **state)
{
    static const char body[] =
        "{\"DeliveryStreamName\\u0000x\":\"a\",\"DeliveryStreamName\":\"b\"}";
    cJSON *root = NULL;
    char type[64], msg[1024];
    assert_int_equal(
        run_len(FIREHOSE_OP_DESCRIBE, body, strlen(body), type, msg, sizeof msg, &root), 0);
    assert_int_equal(cJSON_GetArraySize(root), 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamName")->valuestring,
                        "b");
    cJSON_Delete(root);
    expect_error(FIREHOSE_OP_DESCRIBE, "{\"DeliveryStreamName\\u0000\":\"a\"}",
                 "ValidationException",
                 "1 validation error detected: Value null at 'deliveryStreamName' failed to "
                 "satisfy constraint: Member must not be null");
}

static void test_value_the_model_allows_with_a_nul_is_refused_by_name(void **state)
{
    expect_error(FIREHOSE_OP_CREATE,
                 "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"Prefix\":\"a\\u0000b/\"}}",
                 "InvalidArgumentException",
                 "Value at 'ExtendedS3DestinationConfiguration.Prefix' contains the character "
                 "U+0000, which cannot be stored");
    /* Unknown members too: nothing that validates may hold a NUL. */
    expect_error(FIREHOSE_OP_DESCRIBE, "{\"DeliveryStreamName\":\"s\",\"X\":[\"\\u0000\"]}",
                 "InvalidArgumentException",
                 "Value at 'X.1' contains the character U+0000, which cannot be stored");
    expect_error(FIREHOSE_OP_PUT_RECORD,
                 "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"eA==\\u0000\"}}",
                 "SerializationException", "Base64 encoded value at 'record.data' is malformed");
}

static void test_invalid_utf8_and_lone_surrogates_are_serialization_errors(void **state)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"k\xff\xfe\",\"Value\":\"v\"}]}",
         "Invalid UTF-8 in the request body"},
        {"{\"DeliveryStreamName\":\"s\xc0\xaf\"}", "Invalid UTF-8 in the request body"},
        {"{\"DeliveryStreamName\":\"s\xed\xa0\x80\"}", "Invalid UTF-8 in the request body"},
        {"{\"DeliveryStreamName\":\"s\xf4\x90\x80\x80\"}", "Invalid UTF-8 in the request body"},
        {"{\"DeliveryStreamName\":\"s\xe2\x82\"}", "Invalid UTF-8 in the request body"},
        {"{\"DeliveryStreamName\":\"s\"}\xff", "Invalid UTF-8 in the request body"},
        {"{\"DeliveryStreamName\":\"s\\ud800\"}",
         "Unpaired UTF-16 surrogate escape in a JSON string"},
        {"{\"DeliveryStreamName\":\"s\\ud800\\u0041\"}",
         "Unpaired UTF-16 surrogate escape in a JSON string"},
        {"{\"DeliveryStreamName\":\"s\\udfff\"}",
         "Unpaired UTF-16 surrogate escape in a JSON string"},
        {"{\"DeliveryStreamName\":\"s\x01\"}",
         "Illegal unescaped control character in the request body"},
        {"{\"DeliveryStreamName\":\"s\\x\"}", "Unrecognized character escape in a JSON string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int op = 0; op < FIREHOSE_OP_COUNT; op++)
            expect_error((enum firehose_op)op, cases[i].body, "SerializationException",
                         cases[i].msg);
    /* A raw NUL byte is a control character, not the end of the text. */
    static const char raw_nul[] = "{\"DeliveryStreamName\":\"t1\0zz\"}";
    char type[64], msg[1024];
    assert_int_not_equal(
        run_len(FIREHOSE_OP_DELETE, raw_nul, sizeof raw_nul - 1, type, msg, sizeof msg, NULL), 0);
    assert_string_equal(type, "SerializationException");
    /* A pair is one character; well-formed multi-byte text is fine. */
    expect_ok(FIREHOSE_OP_TAG,
              "{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"k\","
              "\"Value\":\"\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}]}");
}

static void test_lengths_count_utf16_units(void **state)
{
    struct buf b;
    buf_init(&b, 8192);
    /* 64 four-byte characters are 128 UTF-16 units: a tag key's maximum. */
    buf_append_str(&b, "{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"");
    for (int i = 0; i < 64; i++)
        buf_append_str(&b, "\xf0\x9f\x98\x80");
    buf_append_str(&b, "\",\"Value\":\"v\"}]}");
    expect_ok(FIREHOSE_OP_TAG, b.data);
    buf_reset(&b);
    buf_append_str(&b, "{\"DeliveryStreamName\":\"s\",\"Tags\":[{\"Key\":\"a");
    for (int i = 0; i < 64; i++)
        buf_append_str(&b, "\xf0\x9f\x98\x80");
    buf_append_str(&b, "\",\"Value\":\"v\"}]}");
    char type[64], msg[4096];
    assert_int_not_equal(run(FIREHOSE_OP_TAG, b.data, type, sizeof type, msg, sizeof msg), 0);
    assert_string_equal(type, "ValidationException");
    assert_non_null(strstr(msg, "Member must have length less than or equal to 128"));
    assert_int_equal(awsjson_utf16_len("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 5);
    buf_fini(&b);
}

static void test_long_error_values_are_cut_between_characters(void **state)
{
    /* A 1100-byte prefix of two-byte characters fails the length limit; the echoed value is cut
     * at 1024 bytes without splitting a character. */
    struct buf b;
    buf_init(&b, 8192);
    buf_append_str(&b, "{\"DeliveryStreamName\":\"s\"," EXT_OK ",\"Prefix\":\"x");
    for (int i = 0; i < 1100; i++)
        buf_append_str(&b, "\xc3\xa9");
    buf_append_str(&b, "\"}}");
    char type[64], msg[4096];
    assert_int_not_equal(run(FIREHOSE_OP_CREATE, b.data, type, sizeof type, msg, sizeof msg), 0);
    const char *err = NULL;
    assert_int_equal(awsjson_text_check(msg, strlen(msg), NULL, &err), 0);
    buf_fini(&b);
}

static void test_text_check_reports_nul_strings_in_document_order(void **state)
{
    static const char text[] = "{\"a\\u0000\":[\"x\",\"\\u0000\\u00e9\"],\"b\":\"\\ud83d\\ude00\"}";
    struct buf nuls;
    buf_init(&nuls, 4096);
    const char *why = NULL;
    assert_int_equal(awsjson_text_check(text, sizeof text - 1, &nuls, &why), 0);
    assert_int_equal(nuls.len, 2 * sizeof(struct awsjson_nul_str));
    const struct awsjson_nul_str *v = (const void *)nuls.data;
    assert_int_equal(v[0].ordinal, 0);
    assert_int_equal(v[0].decoded_len, 2);
    assert_int_equal(v[1].ordinal, 2);
    assert_int_equal(v[1].decoded_len, 3);
    buf_fini(&nuls);
    /* Every prefix is judged without reading past it. */
    for (size_t n = 0; n < sizeof text - 1; n++) {
        char *copy = hy_malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, text, n);
        int rc = awsjson_text_check(copy, n, NULL, &why);
        assert_true(rc == 0 || rc == HY_EBADMSG);
        hy_free(copy);
    }
}

int main(void)
{
    catalog_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_in_a_name_is_a_pattern_violation_for_every_operation),
        cmocka_unit_test(test_nul_in_a_length_checked_value_counts_every_character),
        cmocka_unit_test(test_member_name_with_nul_is_dropped_as_unknown),
        cmocka_unit_test(test_value_the_model_allows_with_a_nul_is_refused_by_name),
        cmocka_unit_test(test_invalid_utf8_and_lone_surrogates_are_serialization_errors),
        cmocka_unit_test(test_lengths_count_utf16_units),
        cmocka_unit_test(test_long_error_values_are_cut_between_characters),
        cmocka_unit_test(test_text_check_reports_nul_strings_in_document_order),
        cmocka_unit_test(test_target_maps_every_operation_and_rejects_others),
        cmocka_unit_test(test_unparsable_json_is_a_serialization_error),
        cmocka_unit_test(test_wrong_json_types_are_serialization_errors),
        cmocka_unit_test(test_stream_name_longer_than_64_fails_with_coral_message),
        cmocka_unit_test(test_stream_name_pattern_and_empty_name_report_both_errors),
        cmocka_unit_test(test_missing_required_member_is_not_null_violation),
        cmocka_unit_test(test_null_list_elements_are_not_null_violations),
        cmocka_unit_test(test_list_limit_range_is_validated),
        cmocka_unit_test(test_enum_values_are_validated),
        cmocka_unit_test(test_batch_over_500_records_fails_validation),
        cmocka_unit_test(test_record_over_1024000_bytes_fails_with_its_index),
        cmocka_unit_test(test_batch_total_over_4_mib_is_invalid_argument),
        cmocka_unit_test(test_bad_base64_is_serialization_error_even_with_validation_errors),
        cmocka_unit_test(test_put_decode_yields_records_in_order),
        cmocka_unit_test(test_record_ids_are_unique_and_carry_the_sequence),
        cmocka_unit_test(test_create_with_extended_s3_is_accepted_with_defaults),
        cmocka_unit_test(test_create_buffering_hints_ranges_are_validated),
        cmocka_unit_test(test_create_requires_role_and_bucket_arns_matching_the_model),
        cmocka_unit_test(test_create_refuses_unsupported_features_by_name),
        cmocka_unit_test(test_create_needs_exactly_one_destination),
        cmocka_unit_test(test_plain_s3_ignores_extended_members_of_any_type),
        cmocka_unit_test(test_prefix_expressions_are_left_to_the_consumers),
        cmocka_unit_test(test_update_merges_buffering_hints_and_replaces_prefix),
        cmocka_unit_test(test_update_version_id_must_be_digits),
        cmocka_unit_test(test_tags_stay_sorted_and_values_replace),
        cmocka_unit_test(test_tag_added_between_parsed_tags_is_inserted_in_order),
        cmocka_unit_test(test_tag_limit_of_50_and_reserved_prefix),
        cmocka_unit_test(test_tag_key_length_and_characters_are_validated),
        cmocka_unit_test(test_list_tags_pages_by_exclusive_start_key),
        cmocka_unit_test(test_validation_messages_survive_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
