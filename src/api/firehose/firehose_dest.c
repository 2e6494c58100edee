/*
 * firehose_dest: the destination business rules of CreateDeliveryStream and UpdateDestination, on
 * inputs the validator already checked for types and model constraints.
 *
 * hydrant delivers to S3-shaped destinations only: ExtendedS3DestinationConfiguration and the
 * deprecated S3DestinationConfiguration both become one normalised destination object, stored
 * in the catalog, which is the ExtendedS3DestinationDescription that DescribeDeliveryStream
 * returns plus "Kind" (the form it was created with). Features not implemented yet are refused
 * with InvalidArgumentException naming them, never accepted and ignored; the exceptions are
 * CloudWatchLoggingOptions and NoEncryption, which are stored and echoed but have no effect.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "api/firehose/firehose_int.h"
#include "base/hytime.h"
#include "core/catalog.h"
#include "warehouse/copyopts.h"

#define DEFAULT_SIZE_MB 5 /* Firehose: BufferingHints defaults for S3 */
#define DEFAULT_INTERVAL_S 300

void firehose_dest_unsupported(struct awsjson_err *e, const char *what)
{
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                    "hydrant does not support %s yet", what);
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNull(v) ? NULL : v;
}

/* A member's text, or NULL when absent or not a string: members the model does not know for
 * this shape are never validated, so their type cannot be assumed. */
static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Enabled flag of an optional feature block; absent_default applies when the block is there
 * without "Enabled". */
static int feature_on(const cJSON *cfg, const char *k, int absent_default)
{
    const cJSON *b = get(cfg, k);
    if (!b)
        return 0;
    const cJSON *en = get(b, "Enabled");
    return en ? cJSON_IsTrue(en) : absent_default;
}

/* Refuse features of an ExtendedS3 configuration or update that hydrant does not have. */
static int check_features(const cJSON *cfg, struct awsjson_err *e)
{
    /* ProcessingConfiguration is stored as given; the delivery consumer's check says which
     * processors it runs. */
    /* Firehose: DataFormatConversionConfiguration.Enabled defaults to true. */
    if (feature_on(cfg, "DataFormatConversionConfiguration", 1)) {
        firehose_dest_unsupported(e, "DataFormatConversionConfiguration (Parquet/ORC conversion)");
        return -1;
    }
    return 0;
}

/* Source record backup (S3BackupMode Enabled): the backup needs its S3 configuration, and once
 * enabled it can never be disabled (Firehose). cur is the stored destination (NULL at create). */
static int check_backup(const cJSON *cur, const cJSON *src, struct awsjson_err *e)
{
    const char *mode = str_of(src, "S3BackupMode");
    int was_on =
        cur && str_of(cur, "S3BackupMode") && strcmp(str_of(cur, "S3BackupMode"), "Enabled") == 0;
    if (was_on && mode && strcmp(mode, "Disabled") == 0) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "S3BackupMode cannot be disabled once it is enabled");
        return -1;
    }
    if (mode && strcmp(mode, "Enabled") == 0 && !was_on &&
        !get(src, cur ? "S3BackupUpdate" : "S3BackupConfiguration")) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "S3BackupMode Enabled requires %s",
                        cur ? "S3BackupUpdate" : "S3BackupConfiguration");
        return -1;
    }
    return 0;
}

/* Rules on the whole (created or merged) destination. */
static int check_dest(const cJSON *d, struct awsjson_err *e)
{
    if (get(get(d, "EncryptionConfiguration"), "KMSEncryptionConfig")) {
        firehose_dest_unsupported(e, "KMSEncryptionConfig (objects are stored unencrypted)");
        return -1;
    }
    const char *arn = str_of(d, "BucketARN");
    const char *bucket = arn ? firehose_valid_bucket(arn) : NULL;
    /* The bucket becomes a directory under <data-dir>/s3; the model's pattern already keeps
     * '/' out, so only names starting with '.' remain: ".", ".." and hidden names, which the
     * store keeps for itself (fssink.h); S3 bucket names start with a letter or digit anyway.
     * Prefixes need no such rule: every key has a file of its own (fssink.h), so the object key
     * is always the Prefix given. */
    if (!bucket || !bucket[0] || bucket[0] == '.') {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "BucketARN %s does not name a usable bucket", arn ? arn : "");
        return -1;
    }
    const cJSON *bk = get(d, "S3BackupDescription");
    const char *bk_arn = str_of(bk, "BucketARN");
    const char *bk_bucket = bk_arn ? firehose_valid_bucket(bk_arn) : NULL;
    if (bk && (!bk_bucket || !bk_bucket[0] || bk_bucket[0] == '.')) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "S3BackupConfiguration BucketARN %s does not name a usable bucket",
                        bk_arn ? bk_arn : "");
        return -1;
    }
    /* Prefix expressions are checked by the consumers that evaluate them (service_dest_check),
     * after this. */
    return 0;
}

static int put_copy(cJSON *d, const cJSON *src, const char *k)
{
    const cJSON *v = get(src, k);
    if (!v)
        return 0;
    cJSON *c = cJSON_Duplicate(v, 1);
    if (!c)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(d, k))
        return cJSON_ReplaceItemInObjectCaseSensitive(d, k, c) ? 0 : (cJSON_Delete(c), -1);
    if (!cJSON_AddItemToObject(d, k, c)) {
        cJSON_Delete(c);
        return -1;
    }
    return 0;
}

/* Replace d[k] with {"Enabled":false} when src has the block (disabled: checked before). */
static int put_disabled(cJSON *d, const cJSON *src, const char *k)
{
    if (!get(src, k))
        return 0;
    cJSON *c = cJSON_CreateObject();
    if (!c || !cJSON_AddFalseToObject(c, "Enabled")) {
        cJSON_Delete(c);
        return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(d, k);
    if (!cJSON_AddItemToObject(d, k, c)) {
        cJSON_Delete(c);
        return -1;
    }
    return 0;
}

static cJSON *dest_defaults(const char *kind);

/* Apply the members given in src (a configuration or an update) onto d. */
/* Merge src's members into d. Only an ExtendedS3 source may carry the extended members: the
 * plain S3 shapes do not have them, so the model never validated them there (AWS ignores
 * unknown members, and so do we). */
static int apply(cJSON *d, const cJSON *src, int extended)
{
    static const char *const plain[] = {"RoleARN",
                                        "BucketARN",
                                        "Prefix",
                                        "ErrorOutputPrefix",
                                        "CompressionFormat",
                                        "EncryptionConfiguration",
                                        "CloudWatchLoggingOptions"};
    static const char *const ext_only[] = {"S3BackupMode", "FileExtension", "CustomTimeZone"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (put_copy(d, src, plain[i]))
            return -1;
    const cJSON *bh = get(src, "BufferingHints");
    cJSON *dbh = cJSON_GetObjectItemCaseSensitive(d, "BufferingHints");
    if (bh && dbh && (put_copy(dbh, bh, "SizeInMBs") || put_copy(dbh, bh, "IntervalInSeconds")))
        return -1;
    if (!extended)
        return 0;
    for (size_t i = 0; i < sizeof ext_only / sizeof ext_only[0]; i++)
        if (put_copy(d, src, ext_only[i]))
            return -1;
    if (put_copy(d, src, "ProcessingConfiguration") ||
        put_disabled(d, src, "DataFormatConversionConfiguration") ||
        put_copy(d, src, "DynamicPartitioningConfiguration"))
        return -1;
    /* The backup's S3 configuration, stored as DescribeDeliveryStream shows it. */
    const cJSON *bk = get(src, "S3BackupConfiguration");
    if (!bk)
        bk = get(src, "S3BackupUpdate");
    if (bk) {
        cJSON *dbk = cJSON_GetObjectItemCaseSensitive(d, "S3BackupDescription");
        if (!dbk) {
            if (!(dbk = dest_defaults(NULL)))
                return -1;
            cJSON_DeleteItemFromObjectCaseSensitive(dbk, "S3BackupMode");
            cJSON_AddItemToObject(d, "S3BackupDescription", dbk);
        }
        if (apply(dbk, bk, 0))
            return -1;
    }
    return 0;
}

static cJSON *dest_defaults(const char *kind)
{
    cJSON *d = cJSON_CreateObject();
    if (!d)
        return NULL;
    cJSON *bh = cJSON_AddObjectToObject(d, "BufferingHints");
    cJSON *enc = cJSON_AddObjectToObject(d, "EncryptionConfiguration");
    cJSON *cwl = cJSON_AddObjectToObject(d, "CloudWatchLoggingOptions");
    if ((kind && !cJSON_AddStringToObject(d, "Kind", kind)) || !bh ||
        !cJSON_AddNumberToObject(bh, "SizeInMBs", DEFAULT_SIZE_MB) ||
        !cJSON_AddNumberToObject(bh, "IntervalInSeconds", DEFAULT_INTERVAL_S) ||
        !cJSON_AddStringToObject(d, "CompressionFormat", "UNCOMPRESSED") || !enc ||
        !cJSON_AddStringToObject(enc, "NoEncryptionConfig", "NoEncryption") || !cwl ||
        !cJSON_AddFalseToObject(cwl, "Enabled") ||
        !cJSON_AddStringToObject(d, "S3BackupMode", "Disabled")) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

static int bad_arg(struct awsjson_err *e, const char *msg)
{
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException", "%s", msg);
    return -1;
}

/* RedshiftDestinationConfiguration (loaded into PostgreSQL by warehouse/): stored as
 * {"Kind":"Redshift", RoleARN, ClusterJDBCURL, CopyCommand, Username, Password, RetryOptions,
 *  S3Configuration (a normalised S3 destination), S3BackupMode, CloudWatchLoggingOptions}. The
 * model is not checked for this shape (firehose_valid.c), so types are checked here. */
static int redshift_from_create(const cJSON *cfg, cJSON **dest, struct awsjson_err *e)
{
    const cJSON *cc = get(cfg, "CopyCommand"), *s3 = get(cfg, "S3Configuration");
    const cJSON *ro = get(cfg, "RetryOptions"), *dur = get(ro, "DurationInSeconds");
    struct jdbc_url url;
    struct copyopts o;
    const char *why = NULL;
    char reason[160];
    if (!str_of(cfg, "RoleARN") || !cJSON_IsObject(cc) || !str_of(cc, "DataTableName") ||
        !str_of(cc, "DataTableName")[0] || !cJSON_IsObject(s3) || !str_of(s3, "RoleARN") ||
        !str_of(s3, "BucketARN"))
        return bad_arg(e, "RedshiftDestinationConfiguration needs RoleARN, ClusterJDBCURL, "
                          "CopyCommand.DataTableName and S3Configuration (RoleARN, BucketARN)");
    if (copyopts_jdbc(str_of(cfg, "ClusterJDBCURL"), &url, &why))
        return bad_arg(e, why);
    if (copyopts_parse(str_of(cc, "CopyOptions"), &o, reason, sizeof reason))
        return bad_arg(e, reason);
    if ((get(cc, "CopyOptions") && !str_of(cc, "CopyOptions")) ||
        (get(cc, "DataTableColumns") && !str_of(cc, "DataTableColumns")) ||
        (get(cfg, "Username") && !str_of(cfg, "Username")) ||
        (get(cfg, "Password") && !str_of(cfg, "Password")))
        return bad_arg(e, "CopyOptions, DataTableColumns, Username and Password must be strings");
    if (o.json && (!str_of(cc, "DataTableColumns") || !str_of(cc, "DataTableColumns")[0]))
        return bad_arg(e, "hydrant needs CopyCommand.DataTableColumns with JSON 'auto'");
    if (ro && (!cJSON_IsNumber(dur) || dur->valuedouble < 0 || dur->valuedouble > 7200))
        return bad_arg(e, "RetryOptions.DurationInSeconds must be 0 to 7200");
    const char *mode = str_of(cfg, "S3BackupMode");
    if (mode && strcmp(mode, "Disabled") != 0) {
        firehose_dest_unsupported(e, "S3BackupMode Enabled for Redshift destinations");
        return -1;
    }
    if (feature_on(cfg, "ProcessingConfiguration", 1)) {
        firehose_dest_unsupported(e, "ProcessingConfiguration for Redshift destinations");
        return -1;
    }
    const char *comp = str_of(s3, "CompressionFormat");
    if (comp && strcmp(comp, "UNCOMPRESSED") != 0 && strcmp(comp, "GZIP") != 0)
        return bad_arg(e, "The compression formats SNAPPY, HADOOP_SNAPPY or ZIP cannot be "
                          "specified in RedshiftDestinationConfiguration.S3Configuration");
    cJSON *s3d = dest_defaults("S3");
    if (!s3d || apply(s3d, s3, 0)) {
        cJSON_Delete(s3d);
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(s3d, "Kind");
    cJSON_DeleteItemFromObjectCaseSensitive(s3d, "S3BackupMode");
    if (check_dest(s3d, e)) {
        cJSON_Delete(s3d);
        return -1;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON *cwl = cJSON_AddObjectToObject(d, "CloudWatchLoggingOptions");
    cJSON *rod = cJSON_AddObjectToObject(d, "RetryOptions");
    int oom = !d || !cwl || !rod || !cJSON_AddStringToObject(d, "Kind", "Redshift") ||
              !cJSON_AddFalseToObject(cwl, "Enabled") ||
              !cJSON_AddNumberToObject(rod, "DurationInSeconds",
                                       dur ? (double)(int)dur->valuedouble : 3600) ||
              !cJSON_AddStringToObject(d, "S3BackupMode", "Disabled");
    static const char *const members[] = {"RoleARN",  "ClusterJDBCURL", "CopyCommand",
                                          "Username", "Password",       "CloudWatchLoggingOptions"};
    for (size_t i = 0; !oom && i < sizeof members / sizeof members[0]; i++)
        oom = put_copy(d, cfg, members[i]) != 0;
    if (!oom) {
        if (cJSON_AddItemToObject(d, "S3Configuration", s3d))
            s3d = NULL;
        else
            oom = 1;
    }
    cJSON_Delete(s3d);
    if (oom) {
        cJSON_Delete(d);
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return -1;
    }
    *dest = d;
    return 0;
}

/* RedshiftDestinationDescription: the stored document without the password. */
static int redshift_describe(const cJSON *dest, cJSON *item)
{
    cJSON *r = cJSON_Duplicate(dest, 1);
    if (!r)
        return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(r, "Kind");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "Password");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "Hydrant");
    cJSON *s3 = cJSON_DetachItemFromObjectCaseSensitive(r, "S3Configuration");
    if (s3 && !cJSON_AddItemToObject(r, "S3DestinationDescription", s3))
        cJSON_Delete(s3);
    if (!cJSON_AddItemToObject(item, "RedshiftDestinationDescription", r)) {
        cJSON_Delete(r);
        return -1;
    }
    return 0;
}

/* Destination members of CreateDeliveryStream other than the two S3 forms. */
static const char *const other_dests[] = {
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
};

/* Common tail of create and update: d is the merged destination (NULL or oom on allocation
 * failure); check it and hand it over, or free it and set e. */
static int finish_dest(cJSON *d, int oom, cJSON **dest, struct awsjson_err *e)
{
    if (oom) {
        cJSON_Delete(d);
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return -1;
    }
    if (check_dest(d, e)) {
        cJSON_Delete(d);
        return -1;
    }
    *dest = d;
    return 0;
}

int firehose_dest_from_create(const cJSON *root, cJSON **dest, struct awsjson_err *e)
{
    const cJSON *type = get(root, "DeliveryStreamType");
    int kinesis = type && strcmp(type->valuestring, "KinesisStreamAsSource") == 0;
    if (type && !kinesis && strcmp(type->valuestring, "DirectPut") != 0) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "hydrant does not support DeliveryStreamType %s yet; only DirectPut and "
                        "KinesisStreamAsSource",
                        type->valuestring);
        return -1;
    }
    const cJSON *ksrc = get(root, "KinesisStreamSourceConfiguration");
    if (!kinesis != !ksrc) {
        /* Firehose: the source configuration goes with its type, and only with it. */
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        kinesis ? "KinesisStreamSourceConfiguration is required for "
                                  "KinesisStreamAsSource delivery stream type."
                                : "KinesisStreamSourceConfiguration is only allowed for "
                                  "KinesisStreamAsSource delivery stream type.");
        return -1;
    }
    static const char *const sources[] = {"MSKSourceConfiguration", "DatabaseSourceConfiguration"};
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        if (get(root, sources[i])) {
            firehose_dest_unsupported(e, sources[i]);
            return -1;
        }
    const cJSON *rs = get(root, "RedshiftDestinationConfiguration");
    if (rs && !get(root, "S3DestinationConfiguration") &&
        !get(root, "ExtendedS3DestinationConfiguration"))
        return redshift_from_create(rs, dest, e);
    for (size_t i = 0; i < sizeof other_dests / sizeof other_dests[0]; i++)
        if (get(root, other_dests[i])) {
            firehose_dest_unsupported(e, other_dests[i]);
            return -1;
        }
    const cJSON *s3 = get(root, "S3DestinationConfiguration");
    const cJSON *ext = get(root, "ExtendedS3DestinationConfiguration");
    if (!s3 == !ext) {
        /* Firehose: exactly one destination per stream. */
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Exactly one destination configuration must be provided "
                        "(ExtendedS3DestinationConfiguration or S3DestinationConfiguration)");
        return -1;
    }
    const cJSON *cfg = ext ? ext : s3;
    if (ext && (check_features(ext, e) || check_backup(NULL, ext, e)))
        return -1;
    cJSON *d = dest_defaults(ext ? "ExtendedS3" : "S3");
    int oom = !d || apply(d, cfg, ext != NULL);
    if (!oom && ksrc) {
        /* The source, kept with the destination (UpdateDestination carries it over). */
        cJSON *src = cJSON_AddObjectToObject(d, "Source");
        oom = !src ||
              !cJSON_AddStringToObject(src, "KinesisStreamARN",
                                       get(ksrc, "KinesisStreamARN")->valuestring) ||
              !cJSON_AddStringToObject(src, "RoleARN", get(ksrc, "RoleARN")->valuestring) ||
              !cJSON_AddNumberToObject(src, "DeliveryStartMs", (double)hytime_now_ms());
    }
    return finish_dest(d, oom, dest, e);
}

static const char *const other_updates[] = {
    "RedshiftDestinationUpdate",
    "ElasticsearchDestinationUpdate",
    "AmazonopensearchserviceDestinationUpdate",
    "SplunkDestinationUpdate",
    "HttpEndpointDestinationUpdate",
    "AmazonOpenSearchServerlessDestinationUpdate",
    "SnowflakeDestinationUpdate",
    "IcebergDestinationUpdate",
};

int firehose_dest_update(const cJSON *cur, const cJSON *root, cJSON **dest, struct awsjson_err *e)
{
    const char *cur_kind = str_of(cur, "Kind");
    if (cur_kind && strcmp(cur_kind, "Redshift") == 0) {
        firehose_dest_unsupported(e, "UpdateDestination of a Redshift destination");
        return -1;
    }
    for (size_t i = 0; i < sizeof other_updates / sizeof other_updates[0]; i++)
        if (get(root, other_updates[i])) {
            firehose_dest_unsupported(e, other_updates[i]);
            return -1;
        }
    const cJSON *s3 = get(root, "S3DestinationUpdate");
    const cJSON *ext = get(root, "ExtendedS3DestinationUpdate");
    if (s3 && ext) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Only one destination update may be provided");
        return -1;
    }
    if (ext && (check_features(ext, e) || check_backup(cur, ext, e)))
        return -1;
    /* Firehose: dynamic partitioning is chosen at creation and never changes. */
    const cJSON *dp = get(ext, "DynamicPartitioningConfiguration");
    if (dp && cJSON_IsTrue(get(dp, "Enabled")) !=
                  cJSON_IsTrue(get(get(cur, "DynamicPartitioningConfiguration"), "Enabled"))) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Dynamic partitioning can only be enabled when the delivery stream is "
                        "created, and cannot be disabled");
        return -1;
    }
    cJSON *d = cJSON_Duplicate(cur, 1);
    int oom = !d;
    if (!oom && ext) {
        cJSON *kind = cJSON_CreateString("ExtendedS3");
        oom = !kind || !cJSON_ReplaceItemInObjectCaseSensitive(d, "Kind", kind);
        if (oom)
            cJSON_Delete(kind);
    }
    if (!oom && (s3 || ext))
        oom = apply(d, ext ? ext : s3, ext != NULL) != 0;
    return finish_dest(d, oom, dest, e);
}

int firehose_dest_describe(const cJSON *dest, cJSON *destinations)
{
    static const char *const s3_members[] = {"RoleARN",
                                             "BucketARN",
                                             "Prefix",
                                             "ErrorOutputPrefix",
                                             "BufferingHints",
                                             "CompressionFormat",
                                             "EncryptionConfiguration",
                                             "CloudWatchLoggingOptions"};
    const char *kind = str_of(dest, "Kind");
    if (kind && strcmp(kind, "Redshift") == 0) {
        cJSON *it = cJSON_CreateObject();
        if (!it || !cJSON_AddStringToObject(it, "DestinationId", CATALOG_DESTINATION_ID) ||
            redshift_describe(dest, it)) {
            cJSON_Delete(it);
            return -1;
        }
        cJSON_AddItemToArray(destinations, it);
        return 0;
    }
    cJSON *item = cJSON_CreateObject();
    cJSON *s3 = cJSON_AddObjectToObject(item, "S3DestinationDescription");
    cJSON *ext = cJSON_Duplicate(dest, 1);
    if (!item || !s3 || !ext ||
        !cJSON_AddStringToObject(item, "DestinationId", CATALOG_DESTINATION_ID))
        goto fail;
    for (size_t i = 0; i < sizeof s3_members / sizeof s3_members[0]; i++)
        if (put_copy(s3, dest, s3_members[i]))
            goto fail;
    cJSON_DeleteItemFromObjectCaseSensitive(ext, "Kind");
    cJSON_DeleteItemFromObjectCaseSensitive(ext, "Hydrant"); /* hydrant's own options */
    cJSON_DeleteItemFromObjectCaseSensitive(ext, "Source");  /* shown as the stream's Source */
    if (!cJSON_AddItemToObject(item, "ExtendedS3DestinationDescription", ext))
        goto fail;
    cJSON_AddItemToArray(destinations, item);
    return 0;
fail:
    cJSON_Delete(ext);
    cJSON_Delete(item);
    return -1;
}
