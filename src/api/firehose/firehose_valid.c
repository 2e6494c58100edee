/*
 * firehose_valid: request validation driven by tables transcribed from the Firehose service model
 * (botocore data/firehose/2015-08-04/service-2.json): for each operation's input shape, the
 * members with their type, required flag, length/range, pattern and enum.
 *
 * Order follows AWS: the body is deserialised first (wrong JSON types, unparsable text ->
 * SerializationException, the first one wins), then every constraint is checked and all
 * failures are reported together as one ValidationException in Coral's wording, with member
 * paths in lowerCamelCase and list elements as "<list>.<1-based index>.member".
 *
 * Patterns are matched by hand-written functions equivalent to the model's Java regexes (full
 * match). String lengths count UTF-16 code units, as Java's String.length() in Coral does (a
 * character outside the BMP counts 2). One approximation, permissive: in tag patterns every
 * non-ASCII character counts as a letter (\p{L}).
 *
 * Strings are (pointer, length) pairs, checked whole. Before cJSON parses the body,
 * awsjson_text_check rejects invalid UTF-8, raw control characters and unpaired surrogate escapes
 * (SerializationException) and finds the strings whose value holds a NUL (a \u0000 escape), which
 * cJSON decodes in full but whose C string it ends early. For those the true length is put back
 * in the tree: a member name with a NUL is no model member, so the member is dropped (AWS ignores
 * unknown members; left in, cJSON's lookups would take it for the name before the NUL); a string
 * value with a NUL gets its length in valueint (unused by cJSON for strings), which str_len reads.
 * The model check then sees the whole value. A value the model allows with a NUL (".*" patterns
 * such as Prefix) is refused afterwards with InvalidArgumentException, so a request that
 * validates never hands later code a string that a NUL would cut short.
 * Shapes we never accept (Redshift, Splunk ... configurations) are only checked to be objects;
 * the business layer rejects them as not supported.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "api/firehose/firehose_int.h"
#include "base/base64.h"
#include "base/err.h"

/* ---------------------------------------------------------------- patterns */

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int all_in(const char *s, size_t n, const char *extra, int allow_empty)
{
    if (n == 0)
        return allow_empty;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && (c == '\0' || !strchr(extra, c)))
            return 0;
    }
    return 1;
}

int firehose_valid_name(const char *s, size_t n)
{
    return all_in(s, n, "_.-", 0);
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* "arn:" .* <mid> <rest>: tries every occurrence of mid, as the greedy .* would. */
static int arn_match(const char *s, size_t n, const char *mid, int (*rest)(const char *, size_t))
{
    size_t ml = strlen(mid);
    if (n < 4 || memcmp(s, "arn:", 4) != 0)
        return 0;
    for (size_t i = 4; i + ml <= n; i++)
        if (memcmp(s + i, mid, ml) == 0 && rest(s + i + ml, n - i - ml))
            return 1;
    return 0;
}

/* [a-zA-Z_0-9+=,.@\-_/]+ */
static int iam_name(const char *s, size_t n)
{
    return all_in(s, n, "_+=,.@-/", 0);
}

/* \d{12}:role/<iam_name> */
static int role_rest(const char *s, size_t n)
{
    return n > 18 && digits(s, 12) && memcmp(s + 12, ":role/", 6) == 0 && iam_name(s + 18, n - 18);
}

static int pat_role_arn(const char *s, size_t n)
{
    return arn_match(s, n, ":iam::", role_rest);
}

/* [\w\.\-]{1,255} */
static int bucket_rest(const char *s, size_t n)
{
    return n >= 1 && n <= 255 && all_in(s, n, "_.-", 0);
}

static int pat_bucket_arn(const char *s, size_t n)
{
    return arn_match(s, n, ":s3:::", bucket_rest);
}

const char *firehose_valid_bucket(const char *arn)
{
    /* The bucket part cannot contain ':', so it follows the last ":::" . */
    const char *p = strstr(arn, ":s3:::");
    const char *last = NULL;
    while (p) {
        last = p;
        p = strstr(p + 1, ":s3:::");
    }
    return last ? last + 6 : NULL;
}

/* [a-zA-Z0-9\-]+:\d{12}:(key|alias)/<iam_name> */
static int kms_rest(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '-'))
        i++;
    if (i == 0 || n - i < 14 || s[i] != ':' || !digits(s + i + 1, 12) || s[i + 13] != ':')
        return 0;
    i += 14;
    if (n - i > 4 && memcmp(s + i, "key/", 4) == 0)
        return iam_name(s + i + 4, n - i - 4);
    if (n - i > 6 && memcmp(s + i, "alias/", 6) == 0)
        return iam_name(s + i + 6, n - i - 6);
    return 0;
}

static int pat_kms_arn(const char *s, size_t n)
{
    return arn_match(s, n, ":kms:", kms_rest);
}

/* [a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+ */
static int kinesis_rest(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '-'))
        i++;
    if (i == 0 || n - i < 14 || s[i] != ':' || !digits(s + i + 1, 12) || s[i + 13] != ':')
        return 0;
    i += 14;
    return n - i > 7 && memcmp(s + i, "stream/", 7) == 0 &&
           firehose_valid_name(s + i + 7, n - i - 7);
}

static int pat_kinesis_arn(const char *s, size_t n)
{
    return arn_match(s, n, ":kinesis:", kinesis_rest);
}

/* Java's '.' does not match line terminators, so ".*" rejects them. */
static int pat_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r')
            return 0;
    return 1;
}

static int pat_dest_id(const char *s, size_t n)
{
    return all_in(s, n, "-", 0);
}

static int pat_digits(const char *s, size_t n)
{
    return n > 0 && digits(s, n);
}

/* [\p{L}\p{Z}\p{N}_.:\/=+\-@%]* with non-ASCII bytes taken as letters. */
static int tag_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || is_alnum(c))
            continue;
        if (c == '\0' || !strchr(" _.:/=+-@%", c))
            return 0;
    }
    return 1;
}

/* The "aws:" rule of the key pattern is enforced as InvalidArgumentException (firehose_tags.c). */
static int pat_tag(const char *s, size_t n)
{
    return tag_chars(s, n);
}

static int pat_log_group(const char *s, size_t n)
{
    return all_in(s, n, ".-_/#", 1);
}

static int pat_log_stream(const char *s, size_t n)
{
    return !memchr(s, ':', n) && !memchr(s, '*', n);
}

static int pat_file_ext(const char *s, size_t n)
{
    if (n == 0)
        return 1;
    if (s[0] != '.' || n < 2)
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || strchr("!-_.*'()", c)) ||
            c == '\0')
            return 0;
    }
    return 1;
}

static int pat_time_zone(const char *s, size_t n)
{
    return n == 0 || all_in(s, n, "/_", 0);
}

/* ---------------------------------------------------------------- shapes */

enum vkind { VK_STRING, VK_INT, VK_BOOL, VK_OBJECT, VK_LIST, VK_BLOB };

struct vshape;

struct vmember {
    const char *name; /* PascalCase, as on the wire */
    enum vkind kind;
    int required;
    long long min, max; /* length (string, blob, list) or value (int); max < 0: none */
    int (*pattern)(const char *s, size_t n);
    const char *pattern_text;
    const char *const *enums;   /* NULL-terminated */
    const struct vshape *shape; /* VK_OBJECT: members; NULL = any object */
    const struct vmember *elem; /* VK_LIST: element */
};

struct vshape {
    const struct vmember *m;
    size_t n;
};

#define SHAPE(arr)                                                                                 \
    {                                                                                              \
        arr, sizeof arr / sizeof arr[0]                                                            \
    }
#define NONE -1

static const char *const enum_stream_type[] = {"DirectPut", "KinesisStreamAsSource", "MSKAsSource",
                                               "DatabaseAsSource", NULL};
static const char *const enum_compression[] = {"UNCOMPRESSED", "GZIP",          "ZIP",
                                               "Snappy",       "HADOOP_SNAPPY", NULL};
static const char *const enum_no_enc[] = {"NoEncryption", NULL};
static const char *const enum_key_type[] = {"AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK", NULL};
static const char *const enum_backup_mode[] = {"Disabled", "Enabled", NULL};

#define M_NAME                                                                                     \
    {                                                                                              \
        .name = "DeliveryStreamName", .kind = VK_STRING, .required = 1, .min = 1, .max = 64,       \
        .pattern = firehose_valid_name, .pattern_text = "[a-zA-Z0-9_.-]+"                          \
    }
#define M_ANY_OBJECT(n)                                                                            \
    {                                                                                              \
        .name = n, .kind = VK_OBJECT, .max = NONE                                                  \
    }

static const struct vmember buffering_members[] = {
    {.name = "SizeInMBs", .kind = VK_INT, .min = 1, .max = 128},
    {.name = "IntervalInSeconds", .kind = VK_INT, .min = 0, .max = 900},
};
static const struct vshape buffering_shape = SHAPE(buffering_members);

static const struct vmember kms_enc_members[] = {
    {.name = "AWSKMSKeyARN",
     .kind = VK_STRING,
     .required = 1,
     .min = 1,
     .max = 512,
     .pattern = pat_kms_arn,
     .pattern_text = "arn:.*:kms:[a-zA-Z0-9\\-]+:\\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\\-_/]+"},
};
static const struct vshape kms_enc_shape = SHAPE(kms_enc_members);

static const struct vmember enc_members[] = {
    {.name = "NoEncryptionConfig", .kind = VK_STRING, .max = NONE, .enums = enum_no_enc},
    {.name = "KMSEncryptionConfig", .kind = VK_OBJECT, .max = NONE, .shape = &kms_enc_shape},
};
static const struct vshape enc_shape = SHAPE(enc_members);

static const struct vmember cwl_members[] = {
    {.name = "Enabled", .kind = VK_BOOL, .max = NONE},
    {.name = "LogGroupName",
     .kind = VK_STRING,
     .min = 0,
     .max = 512,
     .pattern = pat_log_group,
     .pattern_text = "[\\.\\-_/#A-Za-z0-9]*"},
    {.name = "LogStreamName",
     .kind = VK_STRING,
     .min = 0,
     .max = 512,
     .pattern = pat_log_stream,
     .pattern_text = "[^:*]*"},
};
static const struct vshape cwl_shape = SHAPE(cwl_members);

static const struct vmember any_object_elem = {.name = "member", .kind = VK_OBJECT, .max = NONE};

static const struct vmember processing_members[] = {
    {.name = "Enabled", .kind = VK_BOOL, .max = NONE},
    {.name = "Processors", .kind = VK_LIST, .max = NONE, .elem = &any_object_elem},
};
static const struct vshape processing_shape = SHAPE(processing_members);

static const struct vmember enabled_members[] = {
    {.name = "Enabled", .kind = VK_BOOL, .max = NONE},
};
static const struct vshape enabled_shape = SHAPE(enabled_members);

/* Members shared by S3DestinationConfiguration and S3DestinationUpdate; req marks RoleARN and
 * BucketARN required (configuration) or optional (update). */
#define S3_MEMBERS(req)                                                                            \
    {.name = "RoleARN",                                                                            \
     .kind = VK_STRING,                                                                            \
     .required = req,                                                                              \
     .min = 1,                                                                                     \
     .max = 512,                                                                                   \
     .pattern = pat_role_arn,                                                                      \
     .pattern_text = "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+"},                          \
        {.name = "BucketARN",                                                                      \
         .kind = VK_STRING,                                                                        \
         .required = req,                                                                          \
         .min = 1,                                                                                 \
         .max = 2048,                                                                              \
         .pattern = pat_bucket_arn,                                                                \
         .pattern_text = "arn:.*:s3:::[\\w\\.\\-]{1,255}"},                                        \
        {.name = "Prefix",                                                                         \
         .kind = VK_STRING,                                                                        \
         .min = 0,                                                                                 \
         .max = 1024,                                                                              \
         .pattern = pat_line,                                                                      \
         .pattern_text = ".*"},                                                                    \
        {.name = "ErrorOutputPrefix",                                                              \
         .kind = VK_STRING,                                                                        \
         .min = 0,                                                                                 \
         .max = 1024,                                                                              \
         .pattern = pat_line,                                                                      \
         .pattern_text = ".*"},                                                                    \
        {.name = "BufferingHints", .kind = VK_OBJECT, .max = NONE, .shape = &buffering_shape},     \
        {.name = "CompressionFormat", .kind = VK_STRING, .max = NONE, .enums = enum_compression},  \
        {.name = "EncryptionConfiguration", .kind = VK_OBJECT, .max = NONE, .shape = &enc_shape},  \
    {                                                                                              \
        .name = "CloudWatchLoggingOptions", .kind = VK_OBJECT, .max = NONE, .shape = &cwl_shape    \
    }

static const struct vmember s3_config_members[] = {S3_MEMBERS(1)};
static const struct vshape s3_config_shape = SHAPE(s3_config_members);
static const struct vmember s3_update_members[] = {S3_MEMBERS(0)};
static const struct vshape s3_update_shape = SHAPE(s3_update_members);

#define EXT_MEMBERS(backup_name, backup_shape)                                                     \
    {.name = "ProcessingConfiguration",                                                            \
     .kind = VK_OBJECT,                                                                            \
     .max = NONE,                                                                                  \
     .shape = &processing_shape},                                                                  \
        {.name = "S3BackupMode", .kind = VK_STRING, .max = NONE, .enums = enum_backup_mode},       \
        {.name = backup_name, .kind = VK_OBJECT, .max = NONE, .shape = backup_shape},              \
        {.name = "DataFormatConversionConfiguration",                                              \
         .kind = VK_OBJECT,                                                                        \
         .max = NONE,                                                                              \
         .shape = &enabled_shape},                                                                 \
        {.name = "DynamicPartitioningConfiguration",                                               \
         .kind = VK_OBJECT,                                                                        \
         .max = NONE,                                                                              \
         .shape = &enabled_shape},                                                                 \
        {.name = "FileExtension",                                                                  \
         .kind = VK_STRING,                                                                        \
         .min = 0,                                                                                 \
         .max = 128,                                                                               \
         .pattern = pat_file_ext,                                                                  \
         .pattern_text = "^$|\\.[0-9a-z!\\-_.*'()]+"},                                             \
    {                                                                                              \
        .name = "CustomTimeZone", .kind = VK_STRING, .min = 0, .max = 50,                          \
        .pattern = pat_time_zone, .pattern_text = "^$|[a-zA-Z/_]+"                                 \
    }

static const struct vmember ext_config_members[] = {
    S3_MEMBERS(1), EXT_MEMBERS("S3BackupConfiguration", &s3_config_shape)};
static const struct vshape ext_config_shape = SHAPE(ext_config_members);
static const struct vmember ext_update_members[] = {
    S3_MEMBERS(0), EXT_MEMBERS("S3BackupUpdate", &s3_update_shape)};
static const struct vshape ext_update_shape = SHAPE(ext_update_members);

static const struct vmember tag_members[] = {
    {.name = "Key",
     .kind = VK_STRING,
     .required = 1,
     .min = 1,
     .max = 128,
     .pattern = pat_tag,
     .pattern_text = "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$"},
    {.name = "Value",
     .kind = VK_STRING,
     .min = 0,
     .max = 256,
     .pattern = pat_tag,
     .pattern_text = "^[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$"},
};
static const struct vshape tag_shape = SHAPE(tag_members);
static const struct vmember tag_elem = {
    .name = "member", .kind = VK_OBJECT, .max = NONE, .shape = &tag_shape};
static const struct vmember tag_key_elem = {.name = "member",
                                            .kind = VK_STRING,
                                            .min = 1,
                                            .max = 128,
                                            .pattern = pat_tag,
                                            .pattern_text =
                                                "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$"};

static const struct vmember enc_input_members[] = {
    {.name = "KeyARN",
     .kind = VK_STRING,
     .min = 1,
     .max = 512,
     .pattern = pat_kms_arn,
     .pattern_text = "arn:.*:kms:[a-zA-Z0-9\\-]+:\\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\\-_/]+"},
    {.name = "KeyType", .kind = VK_STRING, .required = 1, .max = NONE, .enums = enum_key_type},
};
static const struct vshape enc_input_shape = SHAPE(enc_input_members);

static const struct vmember direct_put_members[] = {
    {.name = "ThroughputHintInMBs", .kind = VK_INT, .required = 1, .min = 1, .max = 100},
};
static const struct vshape direct_put_shape = SHAPE(direct_put_members);

static const struct vmember kinesis_source_members[] = {
    {.name = "KinesisStreamARN",
     .kind = VK_STRING,
     .required = 1,
     .min = 1,
     .max = 512,
     .pattern = pat_kinesis_arn,
     .pattern_text = "arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+"},
    {.name = "RoleARN",
     .kind = VK_STRING,
     .required = 1,
     .min = 1,
     .max = 512,
     .pattern = pat_role_arn,
     .pattern_text = "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+"},
};
static const struct vshape kinesis_source_shape = SHAPE(kinesis_source_members);

static const struct vmember create_members[] = {
    M_NAME,
    {.name = "DeliveryStreamType", .kind = VK_STRING, .max = NONE, .enums = enum_stream_type},
    {.name = "DirectPutSourceConfiguration",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &direct_put_shape},
    {.name = "KinesisStreamSourceConfiguration",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &kinesis_source_shape},
    {.name = "DeliveryStreamEncryptionConfigurationInput",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &enc_input_shape},
    {.name = "S3DestinationConfiguration",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &s3_config_shape},
    {.name = "ExtendedS3DestinationConfiguration",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &ext_config_shape},
    M_ANY_OBJECT("RedshiftDestinationConfiguration"),
    M_ANY_OBJECT("ElasticsearchDestinationConfiguration"),
    M_ANY_OBJECT("AmazonopensearchserviceDestinationConfiguration"),
    M_ANY_OBJECT("SplunkDestinationConfiguration"),
    M_ANY_OBJECT("HttpEndpointDestinationConfiguration"),
    {.name = "Tags", .kind = VK_LIST, .min = 1, .max = 50, .elem = &tag_elem},
    M_ANY_OBJECT("AmazonOpenSearchServerlessDestinationConfiguration"),
    M_ANY_OBJECT("MSKSourceConfiguration"),
    M_ANY_OBJECT("SnowflakeDestinationConfiguration"),
    M_ANY_OBJECT("IcebergDestinationConfiguration"),
    M_ANY_OBJECT("DatabaseSourceConfiguration"),
};

static const struct vmember delete_members[] = {
    M_NAME,
    {.name = "AllowForceDelete", .kind = VK_BOOL, .max = NONE},
};

static const struct vmember describe_members[] = {
    M_NAME,
    {.name = "Limit", .kind = VK_INT, .min = 1, .max = 10000},
    {.name = "ExclusiveStartDestinationId",
     .kind = VK_STRING,
     .min = 1,
     .max = 100,
     .pattern = pat_dest_id,
     .pattern_text = "[a-zA-Z0-9-]+"},
};

static const struct vmember list_members[] = {
    {.name = "Limit", .kind = VK_INT, .min = 1, .max = 10000},
    {.name = "DeliveryStreamType", .kind = VK_STRING, .max = NONE, .enums = enum_stream_type},
    {.name = "ExclusiveStartDeliveryStreamName",
     .kind = VK_STRING,
     .min = 1,
     .max = 64,
     .pattern = firehose_valid_name,
     .pattern_text = "[a-zA-Z0-9_.-]+"},
};

static const struct vmember list_tags_members[] = {
    M_NAME,
    {.name = "ExclusiveStartTagKey",
     .kind = VK_STRING,
     .min = 1,
     .max = 128,
     .pattern = pat_tag,
     .pattern_text = "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$"},
    {.name = "Limit", .kind = VK_INT, .min = 1, .max = 50},
};

static const struct vmember record_members[] = {
    {.name = "Data", .kind = VK_BLOB, .required = 1, .min = 0, .max = 1024000},
};
static const struct vshape record_shape = SHAPE(record_members);
static const struct vmember record_elem = {
    .name = "member", .kind = VK_OBJECT, .max = NONE, .shape = &record_shape};

static const struct vmember put_members[] = {
    M_NAME,
    {.name = "Record", .kind = VK_OBJECT, .required = 1, .max = NONE, .shape = &record_shape},
};

static const struct vmember put_batch_members[] = {
    M_NAME,
    {.name = "Records", .kind = VK_LIST, .required = 1, .min = 1, .max = 500, .elem = &record_elem},
};

static const struct vmember start_enc_members[] = {
    M_NAME,
    {.name = "DeliveryStreamEncryptionConfigurationInput",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &enc_input_shape},
};

static const struct vmember name_only_members[] = {M_NAME};

static const struct vmember tag_op_members[] = {
    M_NAME,
    {.name = "Tags", .kind = VK_LIST, .required = 1, .min = 1, .max = 50, .elem = &tag_elem},
};

static const struct vmember untag_members[] = {
    M_NAME,
    {.name = "TagKeys", .kind = VK_LIST, .required = 1, .min = 1, .max = 50, .elem = &tag_key_elem},
};

static const struct vmember update_members[] = {
    M_NAME,
    {.name = "CurrentDeliveryStreamVersionId",
     .kind = VK_STRING,
     .required = 1,
     .min = 1,
     .max = 50,
     .pattern = pat_digits,
     .pattern_text = "[0-9]+"},
    {.name = "DestinationId",
     .kind = VK_STRING,
     .required = 1,
     .min = 1,
     .max = 100,
     .pattern = pat_dest_id,
     .pattern_text = "[a-zA-Z0-9-]+"},
    {.name = "S3DestinationUpdate", .kind = VK_OBJECT, .max = NONE, .shape = &s3_update_shape},
    {.name = "ExtendedS3DestinationUpdate",
     .kind = VK_OBJECT,
     .max = NONE,
     .shape = &ext_update_shape},
    M_ANY_OBJECT("RedshiftDestinationUpdate"),
    M_ANY_OBJECT("ElasticsearchDestinationUpdate"),
    M_ANY_OBJECT("AmazonopensearchserviceDestinationUpdate"),
    M_ANY_OBJECT("SplunkDestinationUpdate"),
    M_ANY_OBJECT("HttpEndpointDestinationUpdate"),
    M_ANY_OBJECT("AmazonOpenSearchServerlessDestinationUpdate"),
    M_ANY_OBJECT("SnowflakeDestinationUpdate"),
    M_ANY_OBJECT("IcebergDestinationUpdate"),
};

struct op_def {
    const char *name;
    struct vshape input;
};

static const struct op_def ops[FIREHOSE_OP_COUNT] = {
    [FIREHOSE_OP_CREATE] = {"CreateDeliveryStream", SHAPE(create_members)},
    [FIREHOSE_OP_DELETE] = {"DeleteDeliveryStream", SHAPE(delete_members)},
    [FIREHOSE_OP_DESCRIBE] = {"DescribeDeliveryStream", SHAPE(describe_members)},
    [FIREHOSE_OP_LIST] = {"ListDeliveryStreams", SHAPE(list_members)},
    [FIREHOSE_OP_LIST_TAGS] = {"ListTagsForDeliveryStream", SHAPE(list_tags_members)},
    [FIREHOSE_OP_PUT_RECORD] = {"PutRecord", SHAPE(put_members)},
    [FIREHOSE_OP_PUT_RECORD_BATCH] = {"PutRecordBatch", SHAPE(put_batch_members)},
    [FIREHOSE_OP_START_ENCRYPTION] = {"StartDeliveryStreamEncryption", SHAPE(start_enc_members)},
    [FIREHOSE_OP_STOP_ENCRYPTION] = {"StopDeliveryStreamEncryption", SHAPE(name_only_members)},
    [FIREHOSE_OP_TAG] = {"TagDeliveryStream", SHAPE(tag_op_members)},
    [FIREHOSE_OP_UNTAG] = {"UntagDeliveryStream", SHAPE(untag_members)},
    [FIREHOSE_OP_UPDATE] = {"UpdateDestination", SHAPE(update_members)},
};

const char *firehose_op_name(enum firehose_op op)
{
    return (unsigned)op < FIREHOSE_OP_COUNT ? ops[op].name : "Unknown";
}

int firehose_op_from_target(const char *target, size_t len)
{
    size_t pl = sizeof FIREHOSE_TARGET_PREFIX - 1;
    if (!target || len <= pl || memcmp(target, FIREHOSE_TARGET_PREFIX, pl) != 0)
        return -1;
    for (int i = 0; i < FIREHOSE_OP_COUNT; i++) {
        size_t nl = strlen(ops[i].name);
        if (nl == len - pl && memcmp(target + pl, ops[i].name, nl) == 0)
            return i;
    }
    return -1;
}

/* ---------------------------------------------------------------- walker */

/* A member path, rendered only when an error needs it. */
struct vpath {
    const struct vpath *parent;
    const char *name; /* NULL for a list element */
    size_t index;     /* 1-based, for list elements */
};

static void path_render(const struct vpath *p, struct buf *out)
{
    if (!p)
        return;
    if (p->parent) {
        path_render(p->parent, out);
        buf_append(out, ".", 1);
    }
    if (p->name) {
        /* Coral lower-cases only the first letter: "SizeInMBs" -> "sizeInMBs". */
        char c = p->name[0];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        buf_append(out, &c, 1);
        buf_append_str(out, p->name + 1);
    } else {
        buf_printf(out, "%zu.member", p->index);
    }
}

static void verr(struct awsjson_err *e, const struct vpath *p, const char *value, size_t value_len,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void verr(struct awsjson_err *e, const struct vpath *p, const char *value, size_t value_len,
                 const char *fmt, ...)
{
    struct buf path, c;
    buf_init(&path, 4096);
    buf_init(&c, 4096);
    path_render(p, &path);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&c, fmt, ap);
    va_end(ap);
    awsjson_err_validation(e, value, value_len, path.data ? path.data : "", c.data ? c.data : "");
    buf_fini(&path);
    buf_fini(&c);
}

static void verr_str(struct awsjson_err *e, const struct vpath *p, const char *s, size_t n,
                     const char *constraint)
{
    struct buf v;
    buf_init(&v, 2048);
    buf_append(&v, "'", 1);
    size_t k = n;
    if (k > 1024) {
        /* Cut between two characters (the text is well-formed UTF-8). */
        k = 1024;
        while (k && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
    }
    buf_append(&v, s, k);
    buf_append(&v, "'", 1);
    verr(e, p, v.data ? v.data : "''", v.len, "%s", constraint);
    buf_fini(&v);
}

static void serr(struct awsjson_err *e, const struct vpath *p, const char *expected)
{
    struct buf path;
    buf_init(&path, 4096);
    path_render(p, &path);
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                    "Unexpected JSON type at '%s': expected %s", path.data ? path.data : "",
                    expected);
    buf_fini(&path);
}

/* Bytes of a string node's value: its valueint when the value holds a NUL (set by
 * restore_lengths), else up to its terminator. */
static size_t str_len(const cJSON *v)
{
    return v->valueint > 0 ? (size_t)v->valueint : strlen(v->valuestring);
}

static void check_len(struct awsjson_err *e, const struct vpath *p, const struct vmember *m,
                      long long len, const char *v, size_t vlen, int quoted)
{
    char c[96];
    const char *what = NULL;
    if (len < m->min) {
        snprintf(c, sizeof c, "Member must have length greater than or equal to %lld", m->min);
        what = c;
    } else if (m->max >= 0 && len > m->max) {
        snprintf(c, sizeof c, "Member must have length less than or equal to %lld", m->max);
        what = c;
    }
    if (!what)
        return;
    if (quoted)
        verr_str(e, p, v, vlen, what);
    else
        verr(e, p, v, vlen, "%s", what);
}

static void check_shape(const cJSON *obj, const struct vshape *shape, const struct vpath *parent,
                        struct awsjson_err *e);

static void check_value(const cJSON *v, const struct vmember *m, const struct vpath *p,
                        struct awsjson_err *e)
{
    if (!v || cJSON_IsNull(v)) {
        if (m->required)
            verr(e, p, "null", 4, "Member must not be null");
        return;
    }
    switch (m->kind) {
    case VK_STRING: {
        if (!cJSON_IsString(v)) {
            serr(e, p, "a string");
            return;
        }
        const char *s = v->valuestring;
        size_t n = str_len(v);
        if (m->enums) {
            const char *const *x = m->enums;
            while (*x && (strlen(*x) != n || memcmp(*x, s, n) != 0))
                x++;
            if (!*x) {
                struct buf c;
                buf_init(&c, 1024);
                buf_append_str(&c, "Member must satisfy enum value set: [");
                for (x = m->enums; *x; x++)
                    buf_printf(&c, "%s%s", x == m->enums ? "" : ", ", *x);
                buf_append_str(&c, "]");
                verr_str(e, p, s, n, c.data ? c.data : "");
                buf_fini(&c);
            }
        }
        if (m->pattern && !m->pattern(s, n)) {
            struct buf c;
            buf_init(&c, 1024);
            buf_printf(&c, "Member must satisfy regular expression pattern: %s", m->pattern_text);
            verr_str(e, p, s, n, c.data ? c.data : "");
            buf_fini(&c);
        }
        if (!m->enums)
            check_len(e, p, m, (long long)awsjson_utf16_len(s, n), s, n, 1);
        return;
    }
    case VK_INT: {
        /* Coral reads integers as Java Integer: fractions and overflow do not deserialise. */
        if (!cJSON_IsNumber(v) || v->valuedouble < -2147483648.0 || v->valuedouble > 2147483647.0 ||
            (double)(long long)v->valuedouble != v->valuedouble) {
            serr(e, p, "an integer");
            return;
        }
        long long x = (long long)v->valuedouble;
        char val[32], c[96];
        int vl = snprintf(val, sizeof val, "'%lld'", x);
        if (x < m->min) {
            snprintf(c, sizeof c, "Member must have value greater than or equal to %lld", m->min);
            verr(e, p, val, (size_t)vl, "%s", c);
        } else if (m->max >= 0 && x > m->max) {
            snprintf(c, sizeof c, "Member must have value less than or equal to %lld", m->max);
            verr(e, p, val, (size_t)vl, "%s", c);
        }
        return;
    }
    case VK_BOOL:
        if (!cJSON_IsBool(v))
            serr(e, p, "a boolean");
        return;
    case VK_OBJECT:
        if (!cJSON_IsObject(v)) {
            serr(e, p, "an object");
            return;
        }
        if (m->shape)
            check_shape(v, m->shape, p, e);
        return;
    case VK_LIST: {
        if (!cJSON_IsArray(v)) {
            serr(e, p, "a list");
            return;
        }
        size_t i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v)
        {
            struct vpath ep = {p, NULL, ++i};
            /* A null element is never a value (every model list holds non-null members). */
            if (cJSON_IsNull(x))
                verr(e, &ep, "null", 4, "Member must not be null");
            else
                check_value(x, m->elem, &ep, e);
            if (e->type)
                return;
        }
        if ((long long)i < m->min || (m->max >= 0 && (long long)i > m->max)) {
            char val[48];
            int vl = snprintf(val, sizeof val, "'[%zu elements]'", i);
            check_len(e, p, m, (long long)i, val, (size_t)vl, 0);
        }
        return;
    }
    case VK_BLOB: {
        if (!cJSON_IsString(v)) {
            serr(e, p, "a base64 string");
            return;
        }
        /* The strict decoder (firehose_put_decode) checks every character; here only the length,
         * which gives the decoded size without decoding. */
        size_t n = str_len(v);
        /* A NUL is no base64 character; cJSON's string would end at it. */
        if (n % 4 || v->valueint > 0) {
            struct buf path;
            buf_init(&path, 4096);
            path_render(p, &path);
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                            "Base64 encoded value at '%s' is malformed",
                            path.data ? path.data : "");
            buf_fini(&path);
            return;
        }
        size_t dec = n / 4 * 3;
        if (n && v->valuestring[n - 1] == '=')
            dec--;
        if (n > 1 && v->valuestring[n - 2] == '=')
            dec--;
        if ((long long)dec < m->min || (m->max >= 0 && (long long)dec > m->max)) {
            /* Coral renders blobs as the Java ByteBuffer holding them. */
            char val[96];
            int vl = snprintf(val, sizeof val, "'java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]'",
                              dec, dec);
            check_len(e, p, m, (long long)dec, val, (size_t)vl, 0);
        }
        return;
    }
    }
}

static void check_shape(const cJSON *obj, const struct vshape *shape, const struct vpath *parent,
                        struct awsjson_err *e)
{
    for (size_t i = 0; i < shape->n && !e->type; i++) {
        const struct vmember *m = &shape->m[i];
        struct vpath p = {parent, m->name, 0};
        check_value(cJSON_GetObjectItemCaseSensitive(obj, m->name), m, &p, e);
    }
}

/* ---------------------------------------------------------------- strings holding a NUL */

struct nul_walk {
    const struct awsjson_nul_str *v; /* from awsjson_text_check, in document order */
    size_t n, next;                  /* entries; the first not yet matched */
    size_t ordinal;                  /* string tokens seen so far */
};

/* The decoded length of the next string token if it holds a NUL, else 0. */
static size_t nul_next(struct nul_walk *w)
{
    size_t len = 0;
    if (w->next < w->n && w->v[w->next].ordinal == w->ordinal)
        len = w->v[w->next++].decoded_len;
    w->ordinal++;
    return len;
}

/* Walk the tree in document order, which is the order of the string tokens in the text (cJSON
 * keeps every member, duplicates included, in order): put back the length of values holding a
 * NUL and drop the members whose name holds one. -1 if the value is too long for valueint. */
static int restore_lengths(cJSON *node, struct nul_walk *w)
{
    if (cJSON_IsString(node)) {
        size_t len = nul_next(w);
        if (len > 2147483647u)
            return -1;
        node->valueint = (int)len;
    }
    cJSON *c = node->child;
    while (c) {
        cJSON *next = c->next;
        int drop = c->string && nul_next(w) > 0;
        if (restore_lengths(c, w))
            return -1;
        if (drop)
            cJSON_Delete(cJSON_DetachItemViaPointer(node, c));
        c = next;
    }
    return 0;
}

/* Business rule after the model check: the first string value still holding a NUL (the model
 * allowed it, or the member is not in the model) is refused, since nothing downstream (object
 * keys, ARNs, stream.json) can hold it. path is rendered as the member names on the wire. */
static int refuse_nul(const cJSON *node, struct buf *path, struct awsjson_err *e)
{
    if (cJSON_IsString(node) && node->valueint > 0) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Value at '%s' contains the character U+0000, which cannot be stored",
                        path->data ? path->data : "");
        return 1;
    }
    size_t i = 0, mark = path->len;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        if (c->string)
            buf_printf(path, "%s%s", mark ? "." : "", c->string);
        else
            buf_printf(path, "%s%zu", mark ? "." : "", i + 1);
        if (refuse_nul(c, path, e))
            return 1;
        path->len = mark;
        if (path->data)
            path->data[mark] = '\0';
    }
    return 0;
}

int firehose_valid_request(enum firehose_op op, const char *body, size_t len, cJSON **root,
                           struct awsjson_err *e)
{
    cJSON *o;
    const char *end = NULL;
    const char *why = NULL;
    struct buf nuls;
    /* Bounded by the body: one entry per string token, each at least 2 bytes of text. */
    buf_init(&nuls, (len / 2 + 1) * sizeof(struct awsjson_nul_str));
    int rc = awsjson_text_check(body, len, &nuls, &why);
    if (rc) {
        buf_fini(&nuls);
        if (rc == HY_EBADMSG)
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException", "%s", why);
        else
            awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return -1;
    }
    if (len == 0)
        o = cJSON_CreateObject();
    else
        o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    /* Only whitespace may follow the JSON value. */
    while (o && end && (size_t)(end - body) < len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (o && len && end && (size_t)(end - body) < len) {
        cJSON_Delete(o);
        o = NULL;
    }
    if (o && nuls.len) {
        struct nul_walk w = {(const struct awsjson_nul_str *)(const void *)nuls.data,
                             nuls.len / sizeof(struct awsjson_nul_str), 0, 0};
        if (restore_lengths(o, &w) || w.next != w.n) {
            /* Cannot happen for a text cJSON parsed whole: its strings are the tokens. */
            cJSON_Delete(o);
            o = NULL;
        }
    }
    buf_fini(&nuls);
    if (!o) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unable to parse the request body as JSON");
        return -1;
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "The request body must be a JSON object");
        return -1;
    }
    check_shape(o, &ops[op].input, NULL, e);
    if (!e->type && !e->nvalid) {
        struct buf path;
        buf_init(&path, 8192);
        refuse_nul(o, &path, e);
        buf_fini(&path);
    }
    /* PutRecord(Batch) reports validation errors only after decoding (firehose_put_decode). */
    if (e->type || (op != FIREHOSE_OP_PUT_RECORD && op != FIREHOSE_OP_PUT_RECORD_BATCH &&
                    awsjson_err_done(e))) {
        cJSON_Delete(o);
        return -1;
    }
    *root = o;
    return 0;
}
