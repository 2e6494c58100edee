/*
 * delivery_consumer: delivery as a consumer of the stream log (core/consumer.h). Reads the
 * stream's destination document (core/catalog.h: the normalised S3 destination, "Kind",
 * "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat",
 * "FileExtension", "ProcessingConfiguration", and hydrant's own options under "Hydrant", which
 * the Firehose front never shows) into a delivery_target, and checks the destination documents
 * the fronts accept against what delivery can run.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/err.h"
#include "core/consumer.h"
#include "deliver/delivery.h"
#include "deliver/keyname.h"
#include "pipeline/codec.h"
#include "pipeline/jqextract.h"
#include "pipeline/tzone.h"
#include "transform/lambdafn.h"
#include "warehouse/warehouse.h"

/* Firehose: BufferingHints defaults for S3 (a stored document always has both). */
#define DEFAULT_SIZE_MB 5
#define DEFAULT_INTERVAL_S 300
/* Firehose: the Lambda processor's defaults. */
#define LAMBDA_DEFAULT_RETRIES 3
#define LAMBDA_DEFAULT_BUFFER_MB 1.0

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int int_of(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* The bucket of arn:aws:s3:::NAME (the part after the last ":s3:::"); NULL if none. */
static const char *bucket_of(const char *arn)
{
    const char *last = NULL;
    for (const char *p = arn ? strstr(arn, ":s3:::") : NULL; p; p = strstr(p + 1, ":s3:::"))
        last = p;
    return last ? last + 6 : NULL;
}

/* Whether the enabled ProcessingConfiguration holds processor type. */
static int has_processor(const cJSON *dest, const char *type)
{
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(dest, "ProcessingConfiguration");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(pc, "Enabled");
    if (!pc || (en && !cJSON_IsTrue(en)))
        return 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pc, "Processors"))
    {
        const char *t = str_of(p, "Type");
        if (t && strcmp(t, type) == 0)
            return 1;
    }
    return 0;
}

/* The enabled ProcessingConfiguration's first processor of type, or NULL. */
static const cJSON *processor_of(const cJSON *dest, const char *type)
{
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(dest, "ProcessingConfiguration");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(pc, "Enabled");
    const cJSON *p;
    if (!pc || (en && !cJSON_IsTrue(en)))
        return NULL;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pc, "Processors"))
    {
        const char *t = str_of(p, "Type");
        if (t && strcmp(t, type) == 0)
            return p;
    }
    return NULL;
}

/* The value of a processor's parameter, or NULL. */
static const char *param_of(const cJSON *proc, const char *name)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(proc, "Parameters"))
    {
        const char *n = str_of(p, "ParameterName");
        if (n && strcmp(n, name) == 0)
            return str_of(p, "ParameterValue");
    }
    return NULL;
}

static int partitioning_on(const cJSON *dest)
{
    const cJSON *dp = cJSON_GetObjectItemCaseSensitive(dest, "DynamicPartitioningConfiguration");
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dp, "Enabled"));
}

/* The codec: hydrant's own option (ZSTD) wins over the AWS CompressionFormat. */
static const char *compression_of(const cJSON *dest)
{
    const char *own =
        str_of(cJSON_GetObjectItemCaseSensitive(dest, "Hydrant"), "CompressionFormat");
    return own ? own : str_of(dest, "CompressionFormat");
}

#define DELIMITER_MAX 1024 /* decoded RecordDeAggregation Delimiter, bytes */

/* The processors that turn one record into others (process.h), from the stored document;
 * delim receives the decoded Delimiter. Invalid parameters were refused by check. */
static void process_of(const cJSON *dest, struct process_opts *o, char delim[DELIMITER_MAX + 3])
{
    const cJSON *p;
    memset(o, 0, sizeof *o);
    o->decompress = processor_of(dest, "Decompression") != NULL;
    p = processor_of(dest, "CloudWatchLogProcessing");
    const char *dme = param_of(p, "DataMessageExtraction");
    o->cwl_extract = p && dme && strcmp(dme, "true") == 0;
    p = processor_of(dest, "RecordDeAggregation");
    const char *type = param_of(p, "SubRecordType");
    if (type && strcmp(type, "JSON") == 0) {
        o->deagg = PROCESS_DEAGG_JSON;
    } else if (type && strcmp(type, "DELIMITED") == 0) {
        const char *b64 = param_of(p, "Delimiter");
        size_t n = 0;
        if (b64 && strlen(b64) <= (DELIMITER_MAX / 3) * 4 &&
            base64_decode(b64, strlen(b64), (uint8_t *)delim, &n) == 0 && n > 0) {
            o->deagg = PROCESS_DEAGG_DELIMITED;
            o->delimiter = delim;
            o->delimiter_len = n;
        }
    }
}

static void target_of(const struct consumer_env *env, struct delivery_target *t,
                      char delim[DELIMITER_MAX + 3])
{
    const cJSON *bh = cJSON_GetObjectItemCaseSensitive(env->dest, "BufferingHints");
    memset(t, 0, sizeof *t);
    t->stream_name = env->stream_name;
    t->version = env->version;
    t->create_ms = env->create_ms;
    t->bucket = bucket_of(str_of(env->dest, "BucketARN"));
    t->prefix = str_of(env->dest, "Prefix");
    t->error_prefix = str_of(env->dest, "ErrorOutputPrefix");
    t->size_bytes = (uint64_t)int_of(bh, "SizeInMBs", DEFAULT_SIZE_MB) << 20;
    t->interval_s = int_of(bh, "IntervalInSeconds", DEFAULT_INTERVAL_S);
    t->compression = compression_of(env->dest);
    t->file_extension = str_of(env->dest, "FileExtension");
    t->append_delimiter = has_processor(env->dest, "AppendDelimiterToRecord");
    t->partitioned = partitioning_on(env->dest);
    t->jq_query =
        param_of(processor_of(env->dest, "MetadataExtraction"), "MetadataExtractionQuery");
    process_of(env->dest, &t->process, delim);
    t->time_zone = str_of(env->dest, "CustomTimeZone");
    t->max_partitions = (uint32_t)int_of(cJSON_GetObjectItemCaseSensitive(env->dest, "Hydrant"),
                                         "MaxActivePartitions", DELIVERY_DEFAULT_PARTITIONS);
    const char *bmode = str_of(env->dest, "S3BackupMode");
    const cJSON *bk = cJSON_GetObjectItemCaseSensitive(env->dest, "S3BackupDescription");
    if (bmode && strcmp(bmode, "Enabled") == 0 && bk) {
        t->backup_bucket = bucket_of(str_of(bk, "BucketARN"));
        t->backup_prefix = str_of(bk, "Prefix");
        t->backup_compression = str_of(bk, "CompressionFormat");
    }
    const cJSON *lp = processor_of(env->dest, "Lambda");
    if (lp) {
        const char *r = param_of(lp, "NumberOfRetries");
        const char *b = param_of(lp, "BufferSizeInMBs");
        t->lambda_arn = param_of(lp, "LambdaArn");
        t->lambda_retries = r ? (int)strtol(r, NULL, 10) : LAMBDA_DEFAULT_RETRIES;
        t->lambda_buffer_bytes =
            (uint64_t)((b ? strtod(b, NULL) : LAMBDA_DEFAULT_BUFFER_MB) * (1 << 20));
    }
}

/* A decimal parameter value within [lo, hi] (whole when whole is set). */
static int number_in(const char *v, double lo, double hi, int whole)
{
    char *end = NULL;
    if (!v || !v[0])
        return 0;
    double x = strtod(v, &end);
    return *end == '\0' && x >= lo && x <= hi && (!whole || x == (double)(long)x);
}

/* Firehose's Lambda processor parameters (firehose-reference.md 1.6). */
static int check_lambda(const cJSON *p, const char **reason)
{
    const char *arn = param_of(p, "LambdaArn");
    if (!arn || !arn[0]) {
        *reason = "Lambda processor requires the LambdaArn parameter";
        return HY_EINVAL;
    }
    if (!lambdafn_find(arn)) {
        *reason = "LambdaArn is not mapped to a local function: add it (or its function name) to "
                  "the file given to hydrant --functions";
        return HY_EINVAL;
    }
    const char *r = param_of(p, "NumberOfRetries");
    if (r && !number_in(r, 0, 300, 1)) {
        *reason = "NumberOfRetries must be a whole number from 0 to 300";
        return HY_EINVAL;
    }
    const char *b = param_of(p, "BufferSizeInMBs");
    if (b && !number_in(b, 0.2, 3, 0)) {
        *reason = "BufferSizeInMBs must be from 0.2 to 3";
        return HY_EINVAL;
    }
    const char *i = param_of(p, "BufferIntervalInSeconds");
    if (i && !number_in(i, 60, 900, 1)) {
        *reason = "BufferIntervalInSeconds must be a whole number from 60 to 900";
        return HY_EINVAL;
    }
    return 0;
}

/* Processors delivery runs; the rest are refused by name rather than accepted and ignored. */
static int check_processors(const cJSON *dest, const char **reason)
{
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(dest, "ProcessingConfiguration");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(pc, "Enabled");
    if (!pc || (en && !cJSON_IsTrue(en)))
        return 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pc, "Processors"))
    {
        const char *t = str_of(p, "Type");
        if (!t) {
            *reason = "Processor Type is required";
            return HY_EINVAL;
        }
        if (strcmp(t, "MetadataExtraction") == 0) {
            if (!partitioning_on(dest)) {
                *reason =
                    "MetadataExtraction processor requires Dynamic Partitioning to be enabled";
                return HY_EINVAL;
            }
            const char *q = param_of(p, "MetadataExtractionQuery");
            const char *engine = param_of(p, "JsonParsingEngine");
            struct jqextract *jx = NULL;
            if (!q || !engine) {
                *reason = "MetadataExtraction processor requires the MetadataExtractionQuery and "
                          "JsonParsingEngine parameters";
                return HY_EINVAL;
            }
            if (strcmp(engine, "JQ-1.6") != 0) {
                *reason = "JsonParsingEngine must be JQ-1.6";
                return HY_EINVAL;
            }
            int rc = jqextract_new(q, &jx, reason);
            jqextract_free(jx);
            if (rc < 0) {
                if (rc == HY_ENOMEM)
                    *reason = "out of memory";
                return HY_EINVAL;
            }
            continue;
        }
        if (strcmp(t, "RecordDeAggregation") == 0) {
            const char *type = param_of(p, "SubRecordType");
            const char *b64 = param_of(p, "Delimiter");
            if (!type || (strcmp(type, "JSON") != 0 && strcmp(type, "DELIMITED") != 0)) {
                *reason = "RecordDeAggregation processor requires SubRecordType JSON or DELIMITED";
                return HY_EINVAL;
            }
            if (strcmp(type, "DELIMITED") == 0) {
                uint8_t tmp[DELIMITER_MAX + 3];
                size_t n = 0;
                if (!b64 || strlen(b64) > (DELIMITER_MAX / 3) * 4 ||
                    base64_decode(b64, strlen(b64), tmp, &n) < 0 || n == 0) {
                    *reason = "RecordDeAggregation with SubRecordType DELIMITED requires a "
                              "base64-encoded Delimiter";
                    return HY_EINVAL;
                }
            }
            continue;
        }
        if (strcmp(t, "Decompression") == 0) {
            const char *f = param_of(p, "CompressionFormat");
            if (f && strcmp(f, "GZIP") != 0) {
                *reason = "Decompression processor supports CompressionFormat GZIP only";
                return HY_EINVAL;
            }
            continue;
        }
        if (strcmp(t, "CloudWatchLogProcessing") == 0) {
            const char *dme = param_of(p, "DataMessageExtraction");
            if (dme && strcmp(dme, "true") != 0 && strcmp(dme, "false") != 0) {
                *reason = "DataMessageExtraction must be true or false";
                return HY_EINVAL;
            }
            if (!processor_of(dest, "Decompression")) {
                *reason = "CloudWatchLogProcessing processor requires a Decompression processor";
                return HY_EINVAL;
            }
            continue;
        }
        if (strcmp(t, "AppendDelimiterToRecord") == 0) {
            /* Firehose: AppendDelimiterToRecord takes no parameters. */
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(p, "Parameters");
            if (cJSON_GetArraySize(params) > 0) {
                *reason = "AppendDelimiterToRecord processor does not take any parameters";
                return HY_EINVAL;
            }
            continue;
        }
        if (strcmp(t, "Lambda") == 0) {
            int rc = check_lambda(p, reason);
            if (rc < 0)
                return rc;
            continue;
        }
        *reason = "Unknown processor type";
        return HY_EINVAL;
    }
    return 0;
}

/* Firehose's Prefix / ErrorOutputPrefix rules (keyname.h): delivery is what evaluates them;
 * then the codec and the processors delivery must be able to run. */
static int check(const cJSON *dest, const char **reason)
{
    enum codec_kind k;
    const char *comp = compression_of(dest);
    if (comp && codec_from_name(comp, &k) < 0) {
        *reason = "Unknown CompressionFormat";
        return HY_EINVAL;
    }
    int dynamic = partitioning_on(dest);
    int rc = keyname_prefixes_validate_dp(str_of(dest, "Prefix"), str_of(dest, "ErrorOutputPrefix"),
                                          dynamic, reason);
    if (rc == 0)
        rc = check_processors(dest, reason);
    if (rc == 0 && dynamic && !processor_of(dest, "MetadataExtraction") &&
        !processor_of(dest, "Lambda")) {
        *reason = "Dynamic Partitioning requires a MetadataExtraction or Lambda processor";
        return HY_EINVAL;
    }
    const char *prefix = str_of(dest, "Prefix");
    if (rc == 0 && dynamic && prefix && strstr(prefix, "!{partitionKeyFromLambda:") &&
        !processor_of(dest, "Lambda")) {
        *reason = "!{partitionKeyFromLambda:...} in Prefix requires a Lambda processor";
        return HY_EINVAL;
    }
    if (rc == 0 && dynamic && prefix && strstr(prefix, "!{partitionKeyFromQuery:") &&
        !processor_of(dest, "MetadataExtraction")) {
        *reason = "!{partitionKeyFromQuery:...} in Prefix requires a MetadataExtraction processor";
        return HY_EINVAL;
    }
    const cJSON *bk = cJSON_GetObjectItemCaseSensitive(dest, "S3BackupDescription");
    const char *bcomp = str_of(bk, "CompressionFormat");
    if (rc == 0 && bk &&
        (rc = keyname_prefixes_validate(str_of(bk, "Prefix"), str_of(bk, "ErrorOutputPrefix"),
                                        reason)) < 0)
        return rc;
    if (rc == 0 && bcomp && codec_from_name(bcomp, &k) < 0) {
        *reason = "Unknown S3BackupConfiguration CompressionFormat";
        return HY_EINVAL;
    }
    const char *tz = str_of(dest, "CustomTimeZone");
    if (rc == 0 && tz && tz[0] && strcmp(tz, "UTC") != 0) {
        struct tzone *z = NULL;
        int zrc = tzone_open(tz, &z);
        tzone_free(z);
        if (zrc < 0) {
            *reason = zrc == HY_ENOMEM ? "out of memory"
                                       : "CustomTimeZone is not a valid IANA time zone name";
            return HY_EINVAL;
        }
    }
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(dest, "Hydrant");
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(own, "MaxActivePartitions");
    if (rc == 0 && cap &&
        (!cJSON_IsNumber(cap) || cap->valuedouble < 1 || cap->valuedouble > 100000 ||
         cap->valuedouble != (double)(int)cap->valuedouble)) {
        *reason = "MaxActivePartitions must be a whole number from 1 to 100000";
        return HY_EINVAL;
    }
    return rc;
}

static int start(const struct consumer_env *env, void **state)
{
    struct delivery_target t;
    struct delivery *d = NULL;
    char delim[DELIMITER_MAX + 3];
    target_of(env, &t, delim);
    int rc = delivery_start(env, &t, &d);
    if (rc == 0)
        *state = d;
    return rc;
}

static int update(void *state, const struct consumer_env *env)
{
    struct delivery_target t;
    char delim[DELIMITER_MAX + 3];
    target_of(env, &t, delim);
    return delivery_update(state, &t);
}

static uint64_t cursor(void *state)
{
    return delivery_cursor(state);
}

static uint64_t stop(void *state, int flush)
{
    return delivery_stop(state, flush);
}

/* Every stream but the Redshift ones (warehouse/ stages and loads those itself). */
static int wants(const cJSON *dest, const cJSON *settings)
{
    (void)settings;
    return !warehouse_is_redshift(dest);
}

const struct consumer_ops delivery_consumer = {
    .name = "delivery",
    .wants = wants,
    .check = check,
    .start = start,
    .update = update,
    .cursor = cursor,
    .stop = stop,
};
