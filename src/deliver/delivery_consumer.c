/*
 * delivery_consumer: delivery as a consumer of the stream log (core/consumer.h). Reads the
 * stream's destination document (core/catalog.h: the normalised S3 destination, "Kind",
 * "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints") into a delivery_target.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "core/consumer.h"
#include "deliver/delivery.h"
#include "deliver/keyname.h"

/* Firehose: BufferingHints defaults for S3 (a stored document always has both). */
#define DEFAULT_SIZE_MB 5
#define DEFAULT_INTERVAL_S 300

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

static void target_of(const struct consumer_env *env, struct delivery_target *t)
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
}

/* Firehose's Prefix / ErrorOutputPrefix rules (keyname.h): delivery is what evaluates them. */
static int check(const cJSON *dest, const char **reason)
{
    return keyname_prefixes_validate(str_of(dest, "Prefix"), str_of(dest, "ErrorOutputPrefix"),
                                     reason);
}

static int start(const struct consumer_env *env, void **state)
{
    struct delivery_target t;
    struct delivery *d = NULL;
    target_of(env, &t);
    int rc = delivery_start(env, &t, &d);
    if (rc == 0)
        *state = d;
    return rc;
}

static int update(void *state, const struct consumer_env *env)
{
    struct delivery_target t;
    target_of(env, &t);
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

const struct consumer_ops delivery_consumer = {
    .name = "delivery",
    .wants = NULL,
    .check = check,
    .start = start,
    .update = update,
    .cursor = cursor,
    .stop = stop,
};
