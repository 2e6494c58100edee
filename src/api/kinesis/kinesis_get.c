/*
 * kinesis_get: GetShardIterator and GetRecords. Both run on the loop thread and read the shard's
 * log directly: readers never wait for the disk's other users, and GetRecords never blocks for
 * new records (Kinesis answers an empty list, and clients poll).
 *
 * A shard iterator holds a log seq, resolved when it is issued (LATEST is the log's durable end
 * at that moment, AT_TIMESTAMP the first record that arrived at or after the time). GetRecords
 * reads from max(seq, the retention horizon), skips records retention has expired and damaged
 * spans, and hands the reader back to the stream's small cache positioned at the next seq, so a
 * consumer polling with NextShardIterator does not re-scan its segment on every call.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/kinesis/kinesis_int.h"
#include "base/base64.h"
#include "base/err.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/datastream.h"
#include "net/http.h"
#include "stream/streamlog.h"

#define PAYLOAD_HEAD 3

static void reply_no_shard(struct kinesis *k, struct http_exchange *ex, const char *shard,
                           const char *stream)
{
    awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceNotFoundException",
                         "Shard %s in stream %s under account %s does not exist", shard, stream,
                         k->account_id);
}

/* First log seq at or after seq whose arrival is >= ts_ms; the log's end when none. */
static int seek_time(struct datastream *ds, size_t pos, int64_t ts_ms, uint64_t *out)
{
    uint64_t seq = 1;
    struct streamlog_reader *r = NULL;
    int rc = datastream_reader_take(ds, pos, &seq, &r);
    if (rc)
        return rc;
    uint64_t next = seq;
    for (;;) {
        struct streamlog_record rec;
        rc = streamlog_reader_next(r, &rec);
        if (rc == STREAMLOG_DAMAGED)
            continue;
        if (rc != 1)
            break;
        next = rec.seq + 1;
        if (rec.arrival_ms >= ts_ms) {
            *out = rec.seq;
            datastream_reader_give(ds, pos, r, next, 0);
            return 0;
        }
    }
    datastream_reader_give(ds, pos, r, next, rc < 0);
    if (rc < 0)
        return rc;
    *out = streamlog_durable_next(datastream_log(ds, pos));
    return 0;
}

void kinesis_op_get_shard_iterator(struct kinesis *k, struct http_exchange *ex, const cJSON *root)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    struct datastream *ds = NULL;
    const cJSON *sid =
        kinesis_codec_str(root, "ShardId", "shardId", 1, 128, "[a-zA-Z0-9_.-]+", 1, &e);
    const cJSON *type =
        kinesis_codec_str(root, "ShardIteratorType", "shardIteratorType", 1, 64, NULL, 1, &e);
    const cJSON *sseq = kinesis_codec_str(root, "StartingSequenceNumber", "startingSequenceNumber",
                                          0, 4096, "0|([1-9]\\d{0,128})", 0, &e);
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "Timestamp");
    if (ts && cJSON_IsNull(ts))
        ts = NULL;
    if (ts && !cJSON_IsNumber(ts))
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unexpected value type in payload");
    static const char *const types[] = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                                        "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"};
    int t = -1;
    for (int i = 0; type && i < 5; i++)
        if (strcmp(type->valuestring, types[i]) == 0)
            t = i;
    if (type && t < 0) {
        char v[80];
        int vn = snprintf(v, sizeof v, "'%.64s'", type->valuestring);
        awsjson_err_validation(&e, v, (size_t)vn, "shardIteratorType",
                               "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, "
                               "AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]");
    }
    const char *name = NULL;
    size_t name_len = 0;
    if (e.type || awsjson_err_done(&e) || kinesis_codec_stream_name(root, &name, &name_len, &e)) {
        awsjson_reply_err(ex, &e);
        goto out;
    }
    if (datastream_get(k->reg, name, name_len, &ds)) {
        kinesis_reply_not_found(k, ex, name, name_len);
        goto out;
    }
    const char *sname = datastream_name(ds);
    long pos = kinesis_shard_find(ds, sid->valuestring, strlen(sid->valuestring));
    if (pos < 0) {
        reply_no_shard(k, ex, sid->valuestring, sname);
        goto out;
    }
    struct datastream_shard_info sh;
    datastream_shard(ds, (size_t)pos, &sh);
    int by_seq = t == 0 || t == 1;
    if (by_seq != (sseq != NULL)) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER "
                             "and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                             "StartingSequenceNumber. Request specified %s and %s "
                             "StartingSequenceNumber.",
                             types[t], sseq ? "also a" : "no");
        goto out;
    }
    struct streamlog *log = datastream_log(ds, (size_t)pos);
    uint64_t durable = streamlog_durable_next(log);
    uint64_t seq = 0;
    int64_t now = hytime_now_ms();
    if (t == 2) {
        seq = datastream_horizon(ds, (size_t)pos);
    } else if (t == 3) {
        seq = durable;
    } else if (t == 4) {
        if (!ts) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "Must specify timestampInMillis parameter for iterator of type "
                                 "AT_TIMESTAMP. Current request has no timestamp parameter.");
            goto out;
        }
        double msd = ts->valuedouble * 1000.0;
        int64_t ms = (int64_t)(msd < 0 ? msd - 0.5 : msd + 0.5);
        if (ms > now) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "The timestampInMillis parameter cannot be greater than the "
                                 "currentTimestampInMillis. timestampInMillis: %lld, "
                                 "currentTimestampInMillis: %lld",
                                 (long long)ms, (long long)now);
            goto out;
        }
        int rc = seek_time(ds, (size_t)pos, ms, &seq);
        if (rc) {
            awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
            goto out;
        }
    } else {
        uint64_t v;
        uint32_t idx;
        const char *s = sseq->valuestring;
        int rc = kinesis_codec_seq_parse(s, strlen(s), datastream_id(ds), &v, &idx);
        if (rc == 0 && idx != sh.index) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "Invalid StartingSequenceNumber. It encodes shardId-%012" PRIu32
                                 ", while it was used in a call to a shard with %s",
                                 idx, sid->valuestring);
            goto out;
        }
        if (rc == 0 && v <= sh.seq_base)
            rc = HY_EBADMSG;
        if (rc == 0) {
            seq = v - sh.seq_base + (t == 1);
            if (seq > durable)
                rc = HY_EBADMSG; /* a number this shard has not handed out */
        }
        if (rc) {
            awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                                 "StartingSequenceNumber %s used in GetShardIterator on shard %s "
                                 "in stream %s under account %s is invalid%s.",
                                 s, sid->valuestring, sname, k->account_id,
                                 rc == HY_EINVAL ? " because it did not come from this stream"
                                                 : "");
            goto out;
        }
    }
    struct kinesis_iter it = {
        .stream_id = datastream_id(ds), .shard_index = sh.index, .seq = seq, .issued_ms = now};
    snprintf(it.name, sizeof it.name, "%s", sname);
    char text[KINESIS_ITER_MAX + 1];
    kinesis_codec_iter_encode(&it, datastream_key(k->reg), text);
    char body[KINESIS_ITER_MAX + 32];
    int n = snprintf(body, sizeof body, "{\"ShardIterator\":\"%s\"}", text);
    awsjson_reply_json(ex, body, (size_t)n);
out:
    datastream_unref(ds);
    awsjson_err_fini(&e);
}

static void time_str(char *out, size_t n, int64_t ms)
{
    snprintf(out, n, "%lld.%03d", (long long)(ms / 1000), (int)(ms % 1000));
}

void kinesis_op_get_records(struct kinesis *k, struct http_exchange *ex, const cJSON *root)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    struct datastream *ds = NULL;
    struct buf out;
    buf_init(&out, 16u << 20);
    const cJSON *itj =
        kinesis_codec_str(root, "ShardIterator", "shardIterator", 1, 512, NULL, 1, &e);
    const cJSON *lim = kinesis_codec_int(root, "Limit", "limit", 1, KINESIS_MAX_GET_RECORDS, 0, &e);
    if (e.type || awsjson_err_done(&e)) {
        awsjson_reply_err(ex, &e);
        goto out;
    }
    struct kinesis_iter it;
    const uint8_t *key = datastream_key(k->reg);
    if (kinesis_codec_iter_decode(itj->valuestring, strlen(itj->valuestring), key, &it)) {
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "Invalid ShardIterator.");
        goto out;
    }
    int64_t now = hytime_now_ms();
    if (now - it.issued_ms > KINESIS_ITERATOR_TTL_MS) {
        /* Kinesis: its own type, the one the KCL resets on. */
        time_t a = (time_t)(it.issued_ms / 1000), b = (time_t)(now / 1000);
        struct tm ta, tb;
        char sa[64], sb[64];
        gmtime_r(&a, &ta);
        gmtime_r(&b, &tb);
        strftime(sa, sizeof sa, "%a %b %d %H:%M:%S UTC %Y", &ta);
        strftime(sb, sizeof sb, "%a %b %d %H:%M:%S UTC %Y", &tb);
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ExpiredIteratorException",
                             "Iterator expired. The iterator was created at time %s while right "
                             "now it is %s which is further in the future than the tolerated "
                             "delay of %d milliseconds.",
                             sa, sb, KINESIS_ITERATOR_TTL_MS);
        goto out;
    }
    if (datastream_get(k->reg, it.name, strlen(it.name), &ds) ||
        datastream_id(ds) != it.stream_id) {
        /* Deleted (and maybe created again) since the iterator was issued. */
        kinesis_reply_not_found(k, ex, it.name, strlen(it.name));
        goto out;
    }
    char sid[32];
    snprintf(sid, sizeof sid, "shardId-%012" PRIu32, it.shard_index);
    long pos = kinesis_shard_find(ds, sid, strlen(sid));
    if (pos < 0) {
        reply_no_shard(k, ex, sid, it.name);
        goto out;
    }
    struct datastream_shard_info sh;
    datastream_shard(ds, (size_t)pos, &sh);
    size_t limit = lim ? (size_t)lim->valuedouble : KINESIS_MAX_GET_RECORDS;
    uint64_t seq = it.seq;
    struct streamlog_reader *r = NULL;
    int rc = datastream_reader_take(ds, (size_t)pos, &seq, &r);
    if (rc) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
        goto out;
    }
    int64_t expired = datastream_expired_ms(ds);
    uint64_t next = seq;
    size_t taken = 0, bytes = 0;
    int64_t last_arrival = 0;
    int bad = 0;
    rc = buf_append_str(&out, "{\"Records\":[");
    while (!rc && taken < limit) {
        struct streamlog_record rec;
        int got = streamlog_reader_next(r, &rec);
        if (got == STREAMLOG_DAMAGED)
            continue; /* the log counts and logs damage; readers go on past it */
        if (got < 0) {
            bad = 1;
            if (got != HY_ENOTFOUND)
                LOG_WARN("kinesis", "shard read failed", "stream=%s shard=%s err=%s", it.name, sid,
                         hy_errname(got));
            break;
        }
        if (got == 0)
            break;
        if (rec.arrival_ms < expired || rec.len < PAYLOAD_HEAD || rec.data[0] != 1) {
            next = rec.seq + 1; /* expired by retention, or not a Kinesis payload */
            continue;
        }
        size_t pkl = (size_t)rec.data[1] | ((size_t)rec.data[2] << 8);
        if (PAYLOAD_HEAD + pkl > rec.len) {
            next = rec.seq + 1;
            continue;
        }
        size_t dl = rec.len - PAYLOAD_HEAD - pkl;
        /* Kinesis: at most 10 MiB of data per call (at least one record). */
        if (taken && bytes + dl > KINESIS_MAX_GET_BYTES) {
            bad = 1; /* the reader is past this record: do not cache it */
            break;
        }
        char seqs[KINESIS_SEQ_DIGITS + 1], ts[32];
        kinesis_codec_seq_format(sh.seq_base + rec.seq, sh.index, it.stream_id, seqs);
        time_str(ts, sizeof ts, rec.arrival_ms);
        rc = buf_printf(&out,
                        "%s{\"SequenceNumber\":\"%s\",\"ApproximateArrivalTimestamp\":%s,"
                        "\"PartitionKey\":",
                        taken ? "," : "", seqs, ts);
        if (!rc)
            rc = buf_append_json_str(&out, (const char *)rec.data + PAYLOAD_HEAD, pkl);
        if (!rc)
            rc = buf_append_str(&out, ",\"Data\":\"");
        if (!rc)
            rc = buf_reserve(&out, BASE64_ENCODED_LEN(dl) + 4);
        if (!rc) {
            out.len += base64_encode(rec.data + PAYLOAD_HEAD + pkl, dl, out.data + out.len);
            rc = buf_append_str(&out, "\"}");
        }
        next = rec.seq + 1;
        taken++;
        bytes += dl;
        last_arrival = rec.arrival_ms;
    }
    datastream_reader_give(ds, (size_t)pos, r, next, bad || rc);
    uint64_t durable = streamlog_durable_next(datastream_log(ds, (size_t)pos));
    int64_t behind = next >= durable || !last_arrival ? 0 : now - last_arrival;
    if (behind < 0)
        behind = 0;
    uint64_t end = 0;
    if (!rc && datastream_shard_closed(ds, (size_t)pos, &end) && next >= end) {
        /* Kinesis: the read that reaches the end of a closed shard has no NextShardIterator
         * and names the children, so readers move on to them. */
        rc = buf_append_str(&out, "],\"MillisBehindLatest\":0,\"ChildShards\":[");
        size_t n = datastream_nshards(ds), kids = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            struct datastream_shard_info c;
            if (datastream_shard(ds, i, &c) ||
                (c.parent != (int64_t)sh.index && c.adjacent_parent != (int64_t)sh.index))
                continue;
            char d1[41], d2[41];
            datastream_u128_format(c.hash_start, d1);
            datastream_u128_format(c.hash_end, d2);
            rc = buf_printf(&out, "%s{\"ShardId\":\"shardId-%012" PRIu32 "\",\"ParentShards\":[",
                            kids++ ? "," : "", c.index);
            if (!rc && c.parent >= 0)
                rc = buf_printf(&out, "\"shardId-%012" PRId64 "\"", c.parent);
            if (!rc && c.adjacent_parent >= 0)
                rc = buf_printf(&out, ",\"shardId-%012" PRId64 "\"", c.adjacent_parent);
            if (!rc)
                rc = buf_printf(&out,
                                "],\"HashKeyRange\":{\"StartingHashKey\":\"%s\","
                                "\"EndingHashKey\":\"%s\"}}",
                                d1, d2);
        }
        if (!rc)
            rc = buf_append_str(&out, "]}");
    } else if (!rc) {
        struct kinesis_iter nit = it;
        nit.seq = next;
        nit.issued_ms = now;
        char text[KINESIS_ITER_MAX + 1];
        kinesis_codec_iter_encode(&nit, key, text);
        rc = buf_printf(&out, "],\"NextShardIterator\":\"%s\",\"MillisBehindLatest\":%lld}", text,
                        (long long)behind);
    }
    if (rc) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s", hy_strerror(rc));
        goto out;
    }
    awsjson_reply_json(ex, out.data, out.len);
out:
    buf_fini(&out);
    datastream_unref(ds);
    awsjson_err_fini(&e);
}
