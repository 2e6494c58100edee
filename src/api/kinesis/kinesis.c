/*
 * kinesis: the front's object, dispatch and the control-plane operations (streams, shards,
 * retention, tags). Records (PutRecord(s), GetShardIterator, GetRecords) are in kinesis_put.c and
 * kinesis_get.c. Every request is parsed once (kinesis_codec_parse) and checked against the
 * model's constraints for the members hydrant reads; unknown members are ignored as AWS does.
 */
#include "api/kinesis/kinesis.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinesis/kinesis_int.h"
#include "base/base64.h"
#include "base/err.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/datastream.h"
#include "net/http.h"

#define LIST_TOKEN_TTL_MS 300000

int kinesis_new(const struct kinesis_config *cfg, struct kinesis **out)
{
    struct kinesis *k = hy_calloc(1, sizeof *k);
    if (!k)
        return HY_ENOMEM;
    k->reg = cfg->reg;
    k->region = hy_strdup(cfg->region ? cfg->region : "us-east-1");
    k->account_id = hy_strdup(cfg->account_id ? cfg->account_id : "000000000000");
    if (!k->region || !k->account_id) {
        kinesis_free(k);
        return HY_ENOMEM;
    }
    *out = k;
    return 0;
}

void kinesis_free(struct kinesis *k)
{
    if (!k)
        return;
    hy_free(k->region);
    hy_free(k->account_id);
    hy_free(k);
}

void kinesis_reply_not_found(struct kinesis *k, struct http_exchange *ex, const char *name,
                             size_t len)
{
    awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceNotFoundException",
                         "Stream %.*s under account %s not found.", (int)len, name, k->account_id);
}

struct datastream *kinesis_lookup(struct kinesis *k, struct http_exchange *ex, const cJSON *root)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    const char *name = NULL;
    size_t len = 0;
    struct datastream *ds = NULL;
    if (kinesis_codec_stream_name(root, &name, &len, &e))
        awsjson_reply_err(ex, &e);
    else if (datastream_get(k->reg, name, len, &ds))
        kinesis_reply_not_found(k, ex, name, len);
    awsjson_err_fini(&e);
    return ds;
}

long kinesis_shard_find(struct datastream *ds, const char *id, size_t len)
{
    /* "shardId-" then the index; Kinesis also accepts the bare zero-padded number. */
    if (len > 8 && memcmp(id, "shardId-", 8) == 0) {
        id += 8;
        len -= 8;
    }
    if (len == 0 || len > 12)
        return -1;
    uint64_t idx = 0;
    for (size_t i = 0; i < len; i++) {
        if (id[i] < '0' || id[i] > '9')
            return -1;
        idx = idx * 10 + (uint64_t)(id[i] - '0');
    }
    size_t n = datastream_nshards(ds);
    for (size_t i = 0; i < n; i++) {
        struct datastream_shard_info s;
        if (datastream_shard(ds, i, &s) == 0 && s.index == idx)
            return (long)i;
    }
    return -1;
}

/* ---------------------------------------------------------------- shapes */

static void arn(struct kinesis *k, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:kinesis:%s:%s:stream/%s", k->region, k->account_id, name);
}

static cJSON *mode_details(enum datastream_mode m)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "StreamMode",
                                      m == DATASTREAM_ON_DEMAND ? "ON_DEMAND" : "PROVISIONED")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int add_item(cJSON *o, const char *k, cJSON *item)
{
    if (!item || !cJSON_AddItemToObject(o, k, item)) {
        cJSON_Delete(item);
        return HY_ENOMEM;
    }
    return 0;
}

static double epoch_s(int64_t ms)
{
    return (double)ms / 1000.0;
}

static cJSON *shard_json(const struct datastream_info *info, const struct datastream_shard_info *s)
{
    char id[32], d1[41], d2[41], seq[KINESIS_SEQ_DIGITS + 1];
    cJSON *o = cJSON_CreateObject();
    cJSON *h = cJSON_CreateObject();
    cJSON *r = cJSON_CreateObject();
    int ok = o && h && r;
    snprintf(id, sizeof id, "shardId-%012" PRIu32, s->index);
    ok = ok && cJSON_AddStringToObject(o, "ShardId", id);
    if (ok && s->parent >= 0) {
        snprintf(id, sizeof id, "shardId-%012" PRId64, s->parent);
        ok = cJSON_AddStringToObject(o, "ParentShardId", id) != NULL;
    }
    if (ok && s->adjacent_parent >= 0) {
        snprintf(id, sizeof id, "shardId-%012" PRId64, s->adjacent_parent);
        ok = cJSON_AddStringToObject(o, "AdjacentParentShardId", id) != NULL;
    }
    datastream_u128_format(s->hash_start, d1);
    datastream_u128_format(s->hash_end, d2);
    ok = ok && cJSON_AddStringToObject(h, "StartingHashKey", d1) &&
         cJSON_AddStringToObject(h, "EndingHashKey", d2);
    kinesis_codec_seq_format(s->seq_base + 1, s->index, info->stream_id, seq);
    ok = ok && cJSON_AddStringToObject(r, "StartingSequenceNumber", seq);
    if (ok && s->end_seq) {
        kinesis_codec_seq_format(s->seq_base + s->end_seq - 1, s->index, info->stream_id, seq);
        ok = cJSON_AddStringToObject(r, "EndingSequenceNumber", seq) != NULL;
    }
    if (ok && !add_item(o, "HashKeyRange", h)) {
        h = NULL;
        if (!add_item(o, "SequenceNumberRange", r))
            return o;
        r = NULL;
    }
    cJSON_Delete(h);
    cJSON_Delete(r);
    cJSON_Delete(o);
    return NULL;
}

static long shard_pos_by_id(const struct datastream_info *info, const char *id)
{
    size_t len = strlen(id);
    if (len > 8 && memcmp(id, "shardId-", 8) == 0) {
        id += 8;
        len -= 8;
    }
    char *end = NULL;
    unsigned long long v = strtoull(id, &end, 10);
    if (!len || end != id + len)
        return -2;
    for (size_t i = 0; i < info->nshards; i++)
        if (info->shards[i].index == v)
            return (long)i;
    return -2;
}

/* ---------------------------------------------------------------- operations */

static void reply_empty(struct http_exchange *ex)
{
    awsjson_reply_json(ex, "{}", 2);
}

/* Answers the validation errors collected in e, if any: 1 when it did. */
static int reply_invalid(struct http_exchange *ex, struct awsjson_err *e)
{
    if (!awsjson_err_done(e))
        return 0;
    awsjson_reply_err(ex, e);
    return 1;
}

/* The stream the request names once its members validated (a reference), or NULL when the
 * validation errors or a missing stream have been answered. */
static struct datastream *lookup_valid(struct kinesis *k, struct http_exchange *ex,
                                       const cJSON *root, struct awsjson_err *e)
{
    return reply_invalid(ex, e) ? NULL : kinesis_lookup(k, ex, root);
}

/* A shard id member (Kinesis' ShardId pattern), required or not. */
static const cJSON *shard_id_arg(const cJSON *root, const char *member, const char *path,
                                 int required, struct awsjson_err *e)
{
    return kinesis_codec_str(root, member, path, 1, 128, "[a-zA-Z0-9_.-]+", required, e);
}

static int tags_from_map(const cJSON *map, cJSON *tags, struct awsjson_err *e);

static void op_create(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                      struct awsjson_err *e)
{
    const cJSON *n = kinesis_codec_str(root, "StreamName", "streamName", 1, DATASTREAM_NAME_MAX,
                                       "[a-zA-Z0-9_.-]+", 1, e);
    const cJSON *sc = kinesis_codec_int(root, "ShardCount", "shardCount", 1, 2147483647.0, 0, e);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "StreamModeDetails");
    const cJSON *mode = NULL;
    if (md && !cJSON_IsNull(md)) {
        if (!cJSON_IsObject(md)) {
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                            "Unexpected value type in payload");
        } else {
            mode = kinesis_codec_str(md, "StreamMode", "streamModeDetails.streamMode", 1, 64, NULL,
                                     1, e);
            if (mode && strcmp(mode->valuestring, "PROVISIONED") != 0 &&
                strcmp(mode->valuestring, "ON_DEMAND") != 0) {
                char v[80];
                int vn = snprintf(v, sizeof v, "'%.64s'", mode->valuestring);
                awsjson_err_validation(e, v, (size_t)vn, "streamModeDetails.streamMode",
                                       "Member must satisfy enum value set: [PROVISIONED, "
                                       "ON_DEMAND]");
            }
        }
    }
    const cJSON *tagmap = cJSON_GetObjectItemCaseSensitive(root, "Tags");
    if (reply_invalid(ex, e))
        return;
    enum datastream_mode m = mode && strcmp(mode->valuestring, "ON_DEMAND") == 0
                                 ? DATASTREAM_ON_DEMAND
                                 : DATASTREAM_PROVISIONED;
    size_t shards;
    if (m == DATASTREAM_ON_DEMAND) {
        if (sc) {
            /* CloudFormation's wording of the service's rule. */
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ValidationException",
                                 "ShardCount is not expected when StreamMode=ON_DEMAND");
            return;
        }
        shards = DATASTREAM_ON_DEMAND_SHARDS;
    } else {
        if (!sc) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "ShardCount is required for a PROVISIONED stream.");
            return;
        }
        shards = (size_t)sc->valuedouble;
    }
    cJSON *tags = cJSON_CreateArray();
    if (!tags || (tagmap && !cJSON_IsNull(tagmap) && tags_from_map(tagmap, tags, e))) {
        cJSON_Delete(tags);
        if (!e->type)
            awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        awsjson_reply_err(ex, e);
        return;
    }
    int rc = datastream_create(k->reg, n->valuestring, shards, m, tags);
    if (rc == 0)
        reply_empty(ex);
    else if (rc == HY_EEXIST)
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                             "Stream %s under account %s already exists.", n->valuestring,
                             k->account_id);
    else if (rc == HY_E2BIG)
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "LimitExceededException",
                             "This request would exceed the shard limit for the account %s in "
                             "%s. Request more shards or reduce the shard count.",
                             k->account_id, k->region);
    else {
        LOG_ERROR("kinesis", "cannot create a data stream", "stream=%s error=%s", n->valuestring,
                  hy_strerror(rc));
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
    }
}

static void op_delete(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                      struct awsjson_err *e)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "EnforceConsumerDeletion");
    if (f && !cJSON_IsNull(f) && !cJSON_IsBool(f)) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "SerializationException",
                             "Unexpected value type in payload");
        return;
    }
    struct datastream *ds = kinesis_lookup(k, ex, root);
    if (!ds)
        return;
    /* No stream consumers exist (enhanced fan-out is not served), so EnforceConsumerDeletion
     * changes nothing. */
    datastream_delete(k->reg, ds);
    datastream_unref(ds);
    reply_empty(ex);
}

static int describe_common(struct kinesis *k, const struct datastream_info *info, cJSON *o)
{
    char a[512];
    arn(k, info->name, a, sizeof a);
    cJSON *em = cJSON_CreateArray();
    cJSON *m = cJSON_CreateObject();
    int rc = add_item(o, "EnhancedMonitoring", em);
    if (!rc && m)
        rc = add_item(m, "ShardLevelMetrics", cJSON_CreateArray());
    else
        rc = HY_ENOMEM;
    if (!rc && !cJSON_AddItemToArray(em, m))
        rc = HY_ENOMEM;
    if (rc)
        cJSON_Delete(m);
    if (!rc && (!cJSON_AddStringToObject(o, "StreamName", info->name) ||
                !cJSON_AddStringToObject(o, "StreamARN", a) ||
                !cJSON_AddStringToObject(
                    o, "StreamStatus", info->status == DATASTREAM_ACTIVE ? "ACTIVE" : "DELETING") ||
                !cJSON_AddNumberToObject(o, "RetentionPeriodHours", info->retention_hours) ||
                !cJSON_AddNumberToObject(o, "StreamCreationTimestamp", epoch_s(info->create_ms)) ||
                !cJSON_AddStringToObject(o, "EncryptionType", "NONE")))
        rc = HY_ENOMEM;
    if (!rc)
        rc = add_item(o, "StreamModeDetails", mode_details(info->mode));
    return rc;
}

static void op_describe(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                        struct awsjson_err *e, int summary)
{
    const cJSON *lim = NULL, *start = NULL;
    if (!summary) {
        lim = kinesis_codec_int(root, "Limit", "limit", 1, 10000, 0, e);
        start = shard_id_arg(root, "ExclusiveStartShardId", "exclusiveStartShardId", 0, e);
    }
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    struct datastream_info info;
    cJSON *out = cJSON_CreateObject();
    cJSON *d = cJSON_CreateObject();
    int rc = datastream_describe(ds, &info);
    datastream_unref(ds);
    if (rc || !out || !d) {
        cJSON_Delete(out);
        cJSON_Delete(d);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        if (!rc)
            datastream_info_fini(&info);
        return;
    }
    rc = describe_common(k, &info, d);
    size_t open = 0;
    for (size_t i = 0; i < info.nshards; i++)
        open += info.shards[i].end_seq == 0;
    if (summary) {
        if (!rc && (!cJSON_AddNumberToObject(d, "OpenShardCount", (double)open) ||
                    !cJSON_AddNumberToObject(d, "ConsumerCount", 0)))
            rc = HY_ENOMEM;
    } else {
        /* Kinesis: Limit defaults to 100 and larger values are capped at 100. */
        size_t limit = lim ? (size_t)lim->valuedouble : 100;
        if (limit > 100)
            limit = 100;
        size_t from = 0;
        if (start) {
            long p = shard_pos_by_id(&info, start->valuestring);
            from = p >= 0 ? (size_t)p + 1 : 0;
            if (p < 0) {
                /* An unknown id: shards sort by id, so start after it in that order. */
                for (from = 0; from < info.nshards; from++) {
                    char id[32];
                    snprintf(id, sizeof id, "shardId-%012" PRIu32, info.shards[from].index);
                    if (strcmp(id, start->valuestring) > 0)
                        break;
                }
            }
        }
        cJSON *arr = cJSON_CreateArray();
        size_t i = from;
        for (; !rc && arr && i < info.nshards && i - from < limit; i++) {
            cJSON *s = shard_json(&info, &info.shards[i]);
            if (!s || !cJSON_AddItemToArray(arr, s)) {
                cJSON_Delete(s);
                rc = HY_ENOMEM;
            }
        }
        if (!rc)
            rc = add_item(d, "Shards", arr);
        else
            cJSON_Delete(arr);
        if (!rc && !cJSON_AddBoolToObject(d, "HasMoreShards", i < info.nshards))
            rc = HY_ENOMEM;
    }
    datastream_info_fini(&info);
    if (!rc)
        rc = add_item(out, summary ? "StreamDescriptionSummary" : "StreamDescription", d);
    else
        cJSON_Delete(d);
    if (rc) {
        cJSON_Delete(out);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    awsjson_reply_cjson(ex, out);
}

static void op_list_streams(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                            struct awsjson_err *e)
{
    const cJSON *lim = kinesis_codec_int(root, "Limit", "limit", 1, 10000, 0, e);
    const cJSON *start =
        kinesis_codec_str(root, "ExclusiveStartStreamName", "exclusiveStartStreamName", 1,
                          DATASTREAM_NAME_MAX, "[a-zA-Z0-9_.-]+", 0, e);
    const cJSON *tok = kinesis_codec_str(root, "NextToken", "nextToken", 1, 1048576, NULL, 0, e);
    if (reply_invalid(ex, e))
        return;
    /* Our NextToken is the last name of the previous page (stream names are not secret). */
    const char *after = tok ? tok->valuestring : start ? start->valuestring : NULL;
    size_t limit = lim ? (size_t)lim->valuedouble : 100;
    if (limit > 100)
        limit = 100;
    char **names = NULL;
    size_t n = 0;
    if (datastream_names(k->reg, &names, &n)) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *sn = cJSON_CreateArray(), *ss = cJSON_CreateArray();
    int rc = out && sn && ss ? 0 : HY_ENOMEM;
    size_t i = 0, taken = 0;
    while (i < n && after && strcmp(names[i], after) <= 0)
        i++;
    const char *last = NULL;
    for (; !rc && i < n && taken < limit; i++) {
        struct datastream *ds = NULL;
        struct datastream_info info;
        if (datastream_get(k->reg, names[i], strlen(names[i]), &ds))
            continue; /* deleted meanwhile */
        int r = datastream_describe(ds, &info);
        datastream_unref(ds);
        if (r) {
            rc = r;
            break;
        }
        char a[512];
        arn(k, info.name, a, sizeof a);
        cJSON *s = cJSON_CreateObject();
        cJSON *nm = cJSON_CreateString(info.name);
        if (!s || !cJSON_AddItemToArray(ss, s)) {
            cJSON_Delete(s);
            rc = HY_ENOMEM;
        }
        if (!nm || !cJSON_AddItemToArray(sn, nm)) {
            cJSON_Delete(nm);
            rc = HY_ENOMEM;
        }
        if (!rc) {
            if (!cJSON_AddStringToObject(s, "StreamName", info.name) ||
                !cJSON_AddStringToObject(s, "StreamARN", a) ||
                !cJSON_AddStringToObject(s, "StreamStatus", "ACTIVE") ||
                add_item(s, "StreamModeDetails", mode_details(info.mode)) ||
                !cJSON_AddNumberToObject(s, "StreamCreationTimestamp", epoch_s(info.create_ms)))
                rc = HY_ENOMEM;
        }
        datastream_info_fini(&info);
        last = names[i];
        taken++;
    }
    int more = i < n;
    if (!rc) {
        rc = add_item(out, "StreamNames", sn);
        sn = NULL;
    }
    if (!rc) {
        rc = add_item(out, "StreamSummaries", ss);
        ss = NULL;
    }
    if (!rc && !cJSON_AddBoolToObject(out, "HasMoreStreams", more))
        rc = HY_ENOMEM;
    if (!rc && more && last && !cJSON_AddStringToObject(out, "NextToken", last))
        rc = HY_ENOMEM;
    datastream_names_free(names, n);
    cJSON_Delete(sn);
    cJSON_Delete(ss);
    if (rc) {
        cJSON_Delete(out);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    awsjson_reply_cjson(ex, out);
}

/* ListShards NextToken: base64 of "<issued ms> <shard position> <stream name>". */
static int list_token_make(const char *name, size_t pos, char *out, size_t outn)
{
    char raw[256];
    int n = snprintf(raw, sizeof raw, "%lld %zu %s", (long long)hytime_now_ms(), pos, name);
    if (n < 0 || (size_t)n >= sizeof raw || BASE64_ENCODED_LEN((size_t)n) + 1 > outn)
        return HY_E2BIG;
    size_t m = base64_encode((const uint8_t *)raw, (size_t)n, out);
    out[m] = '\0';
    return 0;
}

static int list_token_read(const char *tok, long long *issued, size_t *pos, char *name,
                           size_t name_n)
{
    uint8_t raw[300];
    size_t len = 0, tl = strlen(tok);
    if (tl > 380 || base64_decode(tok, tl, raw, &len) || len >= sizeof raw)
        return HY_EBADMSG;
    raw[len] = '\0';
    char *p = (char *)raw, *end = NULL;
    *issued = strtoll(p, &end, 10);
    if (end == p || *end != ' ')
        return HY_EBADMSG;
    p = end + 1;
    *pos = (size_t)strtoull(p, &end, 10);
    if (end == p || *end != ' ' || strlen(end + 1) >= name_n || !end[1])
        return HY_EBADMSG;
    snprintf(name, name_n, "%s", end + 1);
    return 0;
}

static void op_list_shards(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                           struct awsjson_err *e)
{
    const cJSON *tok = kinesis_codec_str(root, "NextToken", "nextToken", 1, 1048576, NULL, 0, e);
    const cJSON *start = shard_id_arg(root, "ExclusiveStartShardId", "exclusiveStartShardId", 0, e);
    const cJSON *maxr = kinesis_codec_int(root, "MaxResults", "maxResults", 1, 10000, 0, e);
    const cJSON *filter = cJSON_GetObjectItemCaseSensitive(root, "ShardFilter");
    const cJSON *ftype = NULL, *fshard = NULL;
    if (cJSON_IsObject(filter)) {
        ftype = kinesis_codec_str(filter, "Type", "shardFilter.type", 1, 64, NULL, 1, e);
        fshard = shard_id_arg(filter, "ShardId", "shardFilter.shardId", 0, e);
    }
    if (reply_invalid(ex, e))
        return;
    int has_name = cJSON_GetObjectItemCaseSensitive(root, "StreamName") ||
                   cJSON_GetObjectItemCaseSensitive(root, "StreamARN");
    char name[DATASTREAM_NAME_MAX + 1];
    size_t from = 0;
    struct datastream *ds = NULL;
    if (tok) {
        /* Kinesis: a NextToken carries the whole query; nothing else may come with it. */
        if (has_name || start || filter) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "NextToken and StreamName cannot be provided together.");
            return;
        }
        long long issued;
        if (list_token_read(tok->valuestring, &issued, &from, name, sizeof name)) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "Invalid NextToken.");
            return;
        }
        if (hytime_now_ms() - issued > LIST_TOKEN_TTL_MS) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ExpiredNextTokenException",
                                 "The timestamp of the NextToken is too old.");
            return;
        }
        if (datastream_get(k->reg, name, strlen(name), &ds)) {
            kinesis_reply_not_found(k, ex, name, strlen(name));
            return;
        }
    } else {
        ds = kinesis_lookup(k, ex, root);
        if (!ds)
            return;
    }
    struct datastream_info info;
    int rc = datastream_describe(ds, &info);
    datastream_unref(ds);
    if (rc) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    const char *after = start ? start->valuestring : NULL;
    int open_only = 0;
    if (ftype) {
        const char *t = ftype->valuestring;
        if (strcmp(t, "AFTER_SHARD_ID") == 0) {
            if (!fshard) {
                datastream_info_fini(&info);
                awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                     "ShardFilter of type AFTER_SHARD_ID needs a ShardId.");
                return;
            }
            after = fshard->valuestring;
        } else if (strcmp(t, "AT_LATEST") == 0) {
            open_only = 1;
        } else if (strcmp(t, "AT_TRIM_HORIZON") != 0 && strcmp(t, "FROM_TRIM_HORIZON") != 0 &&
                   strcmp(t, "AT_TIMESTAMP") != 0 && strcmp(t, "FROM_TIMESTAMP") != 0) {
            datastream_info_fini(&info);
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ValidationException",
                                 "1 validation error detected: Value '%.64s' at 'shardFilter.type' "
                                 "failed to satisfy constraint: Member must satisfy enum value "
                                 "set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, "
                                 "AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]",
                                 t);
            return;
        }
    }
    if (after) {
        for (from = 0; from < info.nshards; from++) {
            char id[32];
            snprintf(id, sizeof id, "shardId-%012" PRIu32, info.shards[from].index);
            if (strcmp(id, after) > 0)
                break;
        }
    }
    /* Kinesis: MaxResults defaults to 1000 and larger values are capped there. */
    size_t limit = maxr ? (size_t)maxr->valuedouble : 1000;
    if (limit > 1000)
        limit = 1000;
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    rc = out && arr ? 0 : HY_ENOMEM;
    size_t i = from, taken = 0;
    for (; !rc && i < info.nshards && taken < limit; i++) {
        if (open_only && info.shards[i].end_seq)
            continue;
        cJSON *s = shard_json(&info, &info.shards[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            rc = HY_ENOMEM;
        }
        taken++;
    }
    if (!rc) {
        rc = add_item(out, "Shards", arr);
        arr = NULL;
    }
    if (!rc && i < info.nshards) {
        char t[400];
        rc = list_token_make(info.name, i, t, sizeof t);
        if (!rc && !cJSON_AddStringToObject(out, "NextToken", t))
            rc = HY_ENOMEM;
    }
    datastream_info_fini(&info);
    cJSON_Delete(arr);
    if (rc) {
        cJSON_Delete(out);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    awsjson_reply_cjson(ex, out);
}

static void op_retention(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                         struct awsjson_err *e, int increase)
{
    const cJSON *h = kinesis_codec_int(root, "RetentionPeriodHours", "retentionPeriodHours",
                                       -2147483648.0, 2147483647.0, 1, e);
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    struct datastream_info info;
    long long want = (long long)h->valuedouble;
    int rc = datastream_describe(ds, &info);
    if (rc) {
        datastream_unref(ds);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    long long cur = info.retention_hours;
    datastream_info_fini(&info);
    /* Kinesis's rules and wording for both calls. */
    if (want > DATASTREAM_RETENTION_MAX_H) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "Maximum allowed retention period is %d hours. Requested retention "
                             "period (%lld hours) is too long.",
                             DATASTREAM_RETENTION_MAX_H, want);
    } else if (want < DATASTREAM_RETENTION_MIN_H) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "Minimum allowed retention period is %d hours. Requested retention "
                             "period (%lld hours) is too short.",
                             DATASTREAM_RETENTION_MIN_H, want);
    } else if (increase && want < cur) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "Requested retention period (%lld hours) for stream %s can not be "
                             "shorter than existing retention period (%lld hours). Use "
                             "DecreaseRetentionPeriod API.",
                             want, info.name, cur);
    } else if (!increase && want > cur) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "Requested retention period (%lld hours) for stream %s can not be "
                             "longer than existing retention period (%lld hours). Use "
                             "IncreaseRetentionPeriod API.",
                             want, info.name, cur);
    } else if ((rc = datastream_set_retention(k->reg, ds, (uint32_t)want)) != 0) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
    } else {
        reply_empty(ex);
    }
    datastream_unref(ds);
}

/* ---------------------------------------------------------------- tags */

static cJSON *tag_find(cJSON *tags, const char *key)
{
    cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const cJSON *kk = cJSON_GetObjectItemCaseSensitive(t, "Key");
        if (cJSON_IsString(kk) && strcmp(kk->valuestring, key) == 0)
            return t;
    }
    return NULL;
}

static int tag_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(cJSON_GetObjectItemCaseSensitive(x, "Key")->valuestring,
                  cJSON_GetObjectItemCaseSensitive(y, "Key")->valuestring);
}

/* Sort tags by key (a new array; the old one is consumed). */
static cJSON *tags_sorted(cJSON *tags)
{
    int n = cJSON_GetArraySize(tags);
    cJSON **v = hy_calloc(n ? (size_t)n : 1, sizeof *v);
    cJSON *out = cJSON_CreateArray();
    if (!v || !out) {
        hy_free(v);
        cJSON_Delete(out);
        cJSON_Delete(tags);
        return NULL;
    }
    for (int i = n - 1; i >= 0; i--)
        v[i] = cJSON_DetachItemFromArray(tags, i);
    qsort(v, (size_t)n, sizeof *v, tag_cmp);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(out, v[i]);
    hy_free(v);
    cJSON_Delete(tags);
    return out;
}

/* Merge a Tags map into tags; Kinesis: keys 1-128, values 0-256 characters, 50 per stream. */
static int tags_from_map(const cJSON *map, cJSON *tags, struct awsjson_err *e)
{
    if (!cJSON_IsObject(map)) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unexpected value type in payload");
        return -1;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, map)
    {
        size_t kl = strlen(t->string);
        if (!cJSON_IsString(t)) {
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                            "Unexpected value type in payload");
            return -1;
        }
        if (kl < 1 || awsjson_utf16_len(t->string, kl) > 128 ||
            awsjson_utf16_len(t->valuestring, strlen(t->valuestring)) > 256) {
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                            "Tag keys must be 1 to 128 characters and values at most 256.");
            return -1;
        }
        cJSON *old = tag_find(tags, t->string);
        if (old) {
            cJSON_ReplaceItemInObject(old, "Value", cJSON_CreateString(t->valuestring));
            continue;
        }
        cJSON *x = cJSON_CreateObject();
        if (!x || !cJSON_AddStringToObject(x, "Key", t->string) ||
            !cJSON_AddStringToObject(x, "Value", t->valuestring) ||
            !cJSON_AddItemToArray(tags, x)) {
            cJSON_Delete(x);
            awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
            return -1;
        }
    }
    if (cJSON_GetArraySize(tags) > KINESIS_MAX_TAGS) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "A stream cannot have more than %d tags.", KINESIS_MAX_TAGS);
        return -1;
    }
    return 0;
}

struct tag_edit {
    const cJSON *arg;
    int add;
    struct awsjson_err *e;
};

static int tag_edit_fn(const cJSON *cur, cJSON **next, void *arg)
{
    struct tag_edit *te = arg;
    cJSON *t = cJSON_Duplicate(cur, 1);
    if (!t)
        return HY_ENOMEM;
    if (te->add) {
        if (tags_from_map(te->arg, t, te->e)) {
            cJSON_Delete(t);
            return HY_EINVAL;
        }
    } else {
        const cJSON *key;
        cJSON_ArrayForEach(key, te->arg)
        {
            cJSON *old = cJSON_IsString(key) ? tag_find(t, key->valuestring) : NULL;
            if (old)
                cJSON_Delete(cJSON_DetachItemViaPointer(t, old));
        }
    }
    *next = tags_sorted(t);
    return *next ? 0 : HY_ENOMEM;
}

static void op_tags_edit(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                         struct awsjson_err *e, int add)
{
    const cJSON *arg = cJSON_GetObjectItemCaseSensitive(root, add ? "Tags" : "TagKeys");
    if (!arg || cJSON_IsNull(arg)) {
        awsjson_err_validation(e, "null", 4, add ? "tags" : "tagKeys", "Member must not be null");
    } else if (add ? !cJSON_IsObject(arg) : !cJSON_IsArray(arg)) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unexpected value type in payload");
    } else if (!add) {
        int n = cJSON_GetArraySize(arg);
        if (n < 1 || n > 50) {
            char v[32];
            int vn = snprintf(v, sizeof v, "%d", n);
            awsjson_err_validation(e, v, (size_t)vn, "tagKeys",
                                   n < 1 ? "Member must have length greater than or equal to 1"
                                         : "Member must have length less than or equal to 50");
        }
    }
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    struct tag_edit te = {arg, add, e};
    int rc = datastream_edit_tags(k->reg, ds, tag_edit_fn, &te);
    datastream_unref(ds);
    if (rc == 0)
        reply_empty(ex);
    else if (e->type)
        awsjson_reply_err(ex, e);
    else
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
}

static void op_list_tags(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                         struct awsjson_err *e)
{
    const cJSON *start =
        kinesis_codec_str(root, "ExclusiveStartTagKey", "exclusiveStartTagKey", 1, 128, NULL, 0, e);
    const cJSON *lim = kinesis_codec_int(root, "Limit", "limit", 1, 50, 0, e);
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    struct datastream_info info;
    int rc = datastream_describe(ds, &info);
    datastream_unref(ds);
    if (rc) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    int limit = lim ? (int)lim->valuedouble : 50;
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    rc = out && arr ? 0 : HY_ENOMEM;
    int taken = 0, more = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, info.tags)
    {
        const char *key = cJSON_GetObjectItemCaseSensitive(t, "Key")->valuestring;
        if (start && strcmp(key, start->valuestring) <= 0)
            continue;
        if (taken == limit) {
            more = 1;
            break;
        }
        cJSON *c = cJSON_Duplicate(t, 1);
        if (!c || !cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(c);
            rc = HY_ENOMEM;
        }
        taken++;
    }
    if (!rc) {
        rc = add_item(out, "Tags", arr);
        arr = NULL;
    }
    if (!rc && !cJSON_AddBoolToObject(out, "HasMoreTags", more))
        rc = HY_ENOMEM;
    cJSON_Delete(arr);
    datastream_info_fini(&info);
    if (rc) {
        cJSON_Delete(out);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    awsjson_reply_cjson(ex, out);
}

/* ---------------------------------------------------------------- resharding */

static void reply_reshard_err(struct kinesis *k, struct http_exchange *ex, int rc,
                              const char *stream, const char *what)
{
    if (rc == HY_ENOTFOUND)
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceNotFoundException",
                             "Shard %s in stream %s under account %s does not exist", what, stream,
                             k->account_id);
    else if (rc == HY_ECLOSED)
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                             "Shard %s in stream %s under account %s has already been merged or "
                             "split, and thus is not eligible for merging or splitting.",
                             what, stream, k->account_id);
    else if (rc == HY_E2BIG)
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "LimitExceededException",
                             "This request would exceed the shard limit for the account %s in %s.",
                             k->account_id, k->region);
    else
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
}

/* Kinesis: resharding is for PROVISIONED streams only. */
static int refuse_on_demand(struct http_exchange *ex, struct datastream *ds, const char *op)
{
    struct datastream_info info;
    if (datastream_describe(ds, &info))
        return 0;
    enum datastream_mode m = info.mode;
    datastream_info_fini(&info);
    if (m != DATASTREAM_ON_DEMAND)
        return 0;
    awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ValidationException",
                         "%s is not supported for streams in ON_DEMAND mode.", op);
    return 1;
}

static void op_split(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                     struct awsjson_err *e)
{
    const cJSON *sh = shard_id_arg(root, "ShardToSplit", "shardToSplit", 1, e);
    const cJSON *key = kinesis_codec_str(root, "NewStartingHashKey", "newStartingHashKey", 0, 4096,
                                         "0|([1-9]\\d{0,38})", 1, e);
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    unsigned __int128 v;
    long pos = kinesis_shard_find(ds, sh->valuestring, strlen(sh->valuestring));
    if (refuse_on_demand(ex, ds, "SplitShard")) {
        /* answered */
    } else if (pos < 0) {
        reply_reshard_err(k, ex, HY_ENOTFOUND, datastream_name(ds), sh->valuestring);
    } else if (datastream_u128_parse(key->valuestring, strlen(key->valuestring), &v)) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "NewStartingHashKey %.64s is not within [0, 2^128-1].",
                             key->valuestring);
    } else {
        int rc = datastream_split(k->reg, ds, (size_t)pos, v);
        if (rc == HY_EINVAL)
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "NewStartingHashKey %s used in SplitShard() on shard %s in "
                                 "stream %s under account %s is not both greater than the "
                                 "shard's StartingHashKey and at most its EndingHashKey.",
                                 key->valuestring, sh->valuestring, datastream_name(ds),
                                 k->account_id);
        else if (rc)
            reply_reshard_err(k, ex, rc, datastream_name(ds), sh->valuestring);
        else
            reply_empty(ex);
    }
    datastream_unref(ds);
}

static void op_merge(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                     struct awsjson_err *e)
{
    const cJSON *a = shard_id_arg(root, "ShardToMerge", "shardToMerge", 1, e);
    const cJSON *b = shard_id_arg(root, "AdjacentShardToMerge", "adjacentShardToMerge", 1, e);
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    long pa = kinesis_shard_find(ds, a->valuestring, strlen(a->valuestring));
    long pb = kinesis_shard_find(ds, b->valuestring, strlen(b->valuestring));
    if (refuse_on_demand(ex, ds, "MergeShards")) {
        /* answered */
    } else if (pa < 0 || pb < 0) {
        reply_reshard_err(k, ex, HY_ENOTFOUND, datastream_name(ds),
                          pa < 0 ? a->valuestring : b->valuestring);
    } else {
        int rc = datastream_merge(k->reg, ds, (size_t)pa, (size_t)pb);
        if (rc == HY_EINVAL)
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "Shards %s and %s in stream %s under account %s are not an "
                                 "adjacent pair of shards eligible for merging",
                                 a->valuestring, b->valuestring, datastream_name(ds),
                                 k->account_id);
        else if (rc)
            reply_reshard_err(k, ex, rc, datastream_name(ds), a->valuestring);
        else
            reply_empty(ex);
    }
    datastream_unref(ds);
}

static void op_update_shard_count(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                                  struct awsjson_err *e)
{
    const cJSON *t =
        kinesis_codec_int(root, "TargetShardCount", "targetShardCount", 1, 2147483647.0, 1, e);
    const cJSON *sc = kinesis_codec_str(root, "ScalingType", "scalingType", 1, 64, NULL, 1, e);
    if (sc && strcmp(sc->valuestring, "UNIFORM_SCALING") != 0) {
        char v[80];
        int vn = snprintf(v, sizeof v, "'%.64s'", sc->valuestring);
        awsjson_err_validation(e, v, (size_t)vn, "scalingType",
                               "Member must satisfy enum value set: [UNIFORM_SCALING]");
    }
    struct datastream *ds = lookup_valid(k, ex, root, e);
    if (!ds)
        return;
    size_t cur = datastream_open_shards(ds);
    size_t want = (size_t)t->valuedouble;
    if (refuse_on_demand(ex, ds, "UpdateShardCount")) {
        /* answered */
    } else if (want > 2 * cur || want < (cur + 1) / 2) {
        /* Kinesis: at most double, at least half of the current count per call. */
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "TargetShardCount %zu for stream %s under account %s must be "
                             "between half and double of the current shard count (%zu).",
                             want, datastream_name(ds), k->account_id, cur);
    } else {
        int rc = datastream_scale(k->reg, ds, want);
        if (rc) {
            reply_reshard_err(k, ex, rc, datastream_name(ds), "-");
        } else {
            char a[512], body[1024];
            arn(k, datastream_name(ds), a, sizeof a);
            int n = snprintf(body, sizeof body,
                             "{\"StreamName\":\"%s\",\"StreamARN\":\"%s\","
                             "\"CurrentShardCount\":%zu,\"TargetShardCount\":%zu}",
                             datastream_name(ds), a, cur, want);
            awsjson_reply_json(ex, body, (size_t)n);
        }
    }
    datastream_unref(ds);
}

/* ---------------------------------------------------------------- dispatch */

static int method_is(const struct http_request *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static int target_is(const char *op, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(op, name, n) == 0;
}

/* Operations of the model hydrant does not serve (enhanced fan-out needs HTTP/2 event streams;
 * the rest are resharding, encryption and account settings not built yet). */
static const char *const unsupported[] = {
    "RegisterStreamConsumer",
    "DeregisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
    "SubscribeToShard",
    "StartStreamEncryption",
    "StopStreamEncryption",
    "UpdateStreamMode",
    "EnableEnhancedMonitoring",
    "DisableEnhancedMonitoring",
    "DescribeLimits",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "UpdateMaxRecordSize",
    "UpdateStreamWarmThroughput",
    "DescribeAccountSettings",
    "UpdateAccountSettings",
};

void kinesis_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct kinesis *k = ud;
    int64_t start_ns = hytime_mono_ns();
    const struct http_header *t = http_request_header(req, "X-Amz-Target");
    if (!method_is(req, "POST") || !t) {
        awsjson_reply_errorf(ex, 404, "NotFoundException", "Not Found");
        return;
    }
    const struct http_header *ct = http_request_header(req, "Content-Type");
    if (ct && ct->value_len >= 20 && memmem(ct->value, ct->value_len, "cbor", 4)) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "SerializationException",
                             "CBOR is not supported by this server: configure the client for "
                             "JSON (Java SDK v1: AWS_CBOR_DISABLE=1; v2: "
                             "-Daws.cborEnabled=false or CBOR_ENABLED=false)");
        return;
    }
    size_t plen = strlen(KINESIS_TARGET_PREFIX);
    /* Cannot fail: the router sends only targets with this prefix here. */
    HY_ASSERT(t->value_len >= plen);
    const char *op = t->value + plen;
    size_t n = t->value_len - plen;
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (kinesis_codec_parse(req->body, req->body_len, &root, &e)) {
        awsjson_reply_err(ex, &e);
        goto out;
    }
    if (target_is(op, n, "PutRecord"))
        kinesis_op_put_record(k, ex, root, start_ns);
    else if (target_is(op, n, "PutRecords"))
        kinesis_op_put_records(k, ex, root, start_ns);
    else if (target_is(op, n, "GetRecords"))
        kinesis_op_get_records(k, ex, root);
    else if (target_is(op, n, "GetShardIterator"))
        kinesis_op_get_shard_iterator(k, ex, root);
    else if (target_is(op, n, "CreateStream"))
        op_create(k, ex, root, &e);
    else if (target_is(op, n, "DeleteStream"))
        op_delete(k, ex, root, &e);
    else if (target_is(op, n, "DescribeStream"))
        op_describe(k, ex, root, &e, 0);
    else if (target_is(op, n, "DescribeStreamSummary"))
        op_describe(k, ex, root, &e, 1);
    else if (target_is(op, n, "ListStreams"))
        op_list_streams(k, ex, root, &e);
    else if (target_is(op, n, "ListShards"))
        op_list_shards(k, ex, root, &e);
    else if (target_is(op, n, "IncreaseStreamRetentionPeriod"))
        op_retention(k, ex, root, &e, 1);
    else if (target_is(op, n, "DecreaseStreamRetentionPeriod"))
        op_retention(k, ex, root, &e, 0);
    else if (target_is(op, n, "AddTagsToStream"))
        op_tags_edit(k, ex, root, &e, 1);
    else if (target_is(op, n, "RemoveTagsFromStream"))
        op_tags_edit(k, ex, root, &e, 0);
    else if (target_is(op, n, "ListTagsForStream"))
        op_list_tags(k, ex, root, &e);
    else if (target_is(op, n, "SplitShard"))
        op_split(k, ex, root, &e);
    else if (target_is(op, n, "MergeShards"))
        op_merge(k, ex, root, &e);
    else if (target_is(op, n, "UpdateShardCount"))
        op_update_shard_count(k, ex, root, &e);
    else {
        for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
            if (target_is(op, n, unsupported[i])) {
                awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                     "%s is not supported by this server (hydrant).",
                                     unsupported[i]);
                goto out;
            }
        }
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "UnknownOperationException", "%s", "");
    }
out:
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}
