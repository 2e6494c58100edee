/*
 * kinesis_put: PutRecord and PutRecords.
 *
 * Loop thread: check the request, decode every Data into one request-owned buffer as log
 * payloads (below), route each record to the open shard whose hash range holds MD5(partition
 * key) or its ExplicitHashKey, and append each shard's records to that shard's log in one call,
 * in request order (so records of one partition key keep their order). The logs' threads: each
 * completion counts down; the last posts the answer back to the loop. Nothing is answered before
 * every touched shard's group commit is durable.
 *
 * A log payload is: version byte 1 | partition key length (u16, little endian) | partition key |
 * data. Readers (GetRecords, consumers) take the key and the data back out of it.
 *
 * A shard that refuses (over its quota, its write queue full, a disk error) fails only its own
 * records: PutRecords answers 200 with those entries carrying ProvisionedThroughputExceeded-
 * Exception (room) or InternalFailure (disk), as Kinesis reports partial failures; PutRecord
 * answers the error itself.
 */
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

struct put_group {
    struct put_ctx *c;
    size_t shard;               /* position in the stream */
    struct streamlog_rec *recs; /* views into c->data, request order */
    size_t n;
    struct streamlog_append app;
    int status;
    uint64_t first_seq;
};

struct put_rec {
    size_t shard;
    size_t group;
    size_t at; /* index within its group */
};

struct put_ctx {
    struct kinesis *k;
    struct http_exchange *ex;
    struct datastream *ds; /* reference held until the answer */
    int batch;
    uint8_t *data;
    struct put_rec *recs;
    size_t n;
    struct streamlog_rec *views;
    struct put_group *groups;
    size_t ngroups;
    atomic_size_t pending;
};

static void put_ctx_free(struct put_ctx *c)
{
    if (!c)
        return;
    hy_free(c->data);
    hy_free(c->recs);
    hy_free(c->views);
    hy_free(c->groups);
    datastream_unref(c->ds);
    hy_free(c);
}

static const char *err_code(int status)
{
    return status == HY_EBUSY || status == HY_EQUOTA ? "ProvisionedThroughputExceededException"
                                                     : "InternalFailure";
}

static void shard_id(struct datastream *ds, size_t pos, char out[32])
{
    struct datastream_shard_info s;
    datastream_shard(ds, pos, &s);
    snprintf(out, 32, "shardId-%012u", (unsigned)s.index);
}

static void put_finish(void *arg)
{
    struct put_ctx *c = arg;
    struct buf out;
    buf_init(&out, 1u << 20);
    int rc = 0;
    uint64_t sid = datastream_id(c->ds);
    if (!c->batch) {
        struct put_group *g = &c->groups[0];
        char id[32];
        shard_id(c->ds, g->shard, id);
        if (g->status) {
            if (g->status == HY_EBUSY || g->status == HY_EQUOTA)
                awsjson_reply_errorf(c->ex, AWSJSON_BAD_REQUEST,
                                     "ProvisionedThroughputExceededException",
                                     "Rate exceeded for shard %s in stream %s under account %s.",
                                     id, datastream_name(c->ds), c->k->account_id);
            else
                awsjson_reply_errorf(c->ex, AWSJSON_SERVER, "InternalFailure",
                                     "Internal Service Failure");
            goto out;
        }
        struct datastream_shard_info s;
        datastream_shard(c->ds, g->shard, &s);
        char seq[KINESIS_SEQ_DIGITS + 1];
        kinesis_codec_seq_format(s.seq_base + g->first_seq, s.index, sid, seq);
        rc = buf_printf(
            &out, "{\"ShardId\":\"%s\",\"SequenceNumber\":\"%s\",\"EncryptionType\":\"NONE\"}", id,
            seq);
    } else {
        size_t failed = 0;
        for (size_t i = 0; i < c->n; i++)
            failed += c->groups[c->recs[i].group].status != 0;
        rc = buf_reserve(&out, 64 + c->n * 120);
        if (!rc)
            rc = buf_printf(&out,
                            "{\"FailedRecordCount\":%zu,\"EncryptionType\":\"NONE\","
                            "\"Records\":[",
                            failed);
        for (size_t i = 0; i < c->n && !rc; i++) {
            struct put_group *g = &c->groups[c->recs[i].group];
            char id[32];
            shard_id(c->ds, g->shard, id);
            if (g->status) {
                const char *code = err_code(g->status);
                if (g->status == HY_EBUSY || g->status == HY_EQUOTA)
                    rc = buf_printf(&out,
                                    "%s{\"ErrorCode\":\"%s\",\"ErrorMessage\":\"Rate exceeded for "
                                    "shard %s in stream %s under account %s.\"}",
                                    i ? "," : "", code, id, datastream_name(c->ds),
                                    c->k->account_id);
                else
                    rc = buf_printf(&out,
                                    "%s{\"ErrorCode\":\"%s\",\"ErrorMessage\":\"Internal "
                                    "Service Failure\"}",
                                    i ? "," : "", code);
                continue;
            }
            struct datastream_shard_info s;
            datastream_shard(c->ds, g->shard, &s);
            char seq[KINESIS_SEQ_DIGITS + 1];
            kinesis_codec_seq_format(s.seq_base + g->first_seq + c->recs[i].at, s.index, sid, seq);
            rc = buf_printf(&out, "%s{\"SequenceNumber\":\"%s\",\"ShardId\":\"%s\"}", i ? "," : "",
                            seq, id);
        }
        if (!rc)
            rc = buf_append_str(&out, "]}");
    }
    if (rc)
        /* Durable but unanswerable: the client retries and may duplicate (at least once). */
        awsjson_reply_errorf(c->ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
    else
        awsjson_reply_json(c->ex, out.data, out.len);
out:
    buf_fini(&out);
    put_ctx_free(c);
}

static void post_finish(struct put_ctx *c)
{
    /* Only the loop may answer, and every exchange must be answered: retry until memory is
     * back. */
    while (http_server_post(http_exchange_server(c->ex), put_finish, c) != 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void group_done(void *arg, int status, uint64_t first_seq)
{
    struct put_group *g = arg;
    g->status = status;
    g->first_seq = first_seq;
    if (status && status != HY_EBUSY)
        LOG_WARN("kinesis", "shard log append failed; records refused", "n=%zu err=%s", g->n,
                 hy_errname(status));
    if (atomic_fetch_sub(&g->c->pending, 1) == 1)
        post_finish(g->c);
}

/* Check one record entry (path prefix p: "" for PutRecord, "records.N.member." for PutRecords),
 * decode it into c->data at *off and route it. 0 or -1 with e set. */
static int take_record(struct put_ctx *c, const cJSON *r, const char *p, size_t i, size_t *off,
                       struct awsjson_err *e)
{
    char path[96];
    snprintf(path, sizeof path, "%sdata", p);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "Data");
    if (!d || cJSON_IsNull(d))
        awsjson_err_validation(e, "null", 4, path, "Member must not be null");
    else if (!cJSON_IsString(d))
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unexpected value type in payload");
    snprintf(path, sizeof path, "%spartitionKey", p);
    const cJSON *pk = kinesis_codec_str(r, "PartitionKey", path, 1, 256, NULL, 1, e);
    snprintf(path, sizeof path, "%sexplicitHashKey", p);
    const cJSON *eh =
        kinesis_codec_str(r, "ExplicitHashKey", path, 0, 4096, "0|([1-9]\\d{0,38})", 0, e);
    if (!c->batch)
        kinesis_codec_str(r, "SequenceNumberForOrdering", "sequenceNumberForOrdering", 0, 4096,
                          "0|([1-9]\\d{0,128})", 0, e);
    if (e->type || e->nvalid || !cJSON_IsString(d) || !pk)
        return -1;
    size_t pkl = strlen(pk->valuestring);
    size_t dl = strlen(d->valuestring);
    uint8_t *at = c->data + *off;
    size_t len = 0;
    if (base64_decode(d->valuestring, dl, at + PAYLOAD_HEAD + pkl, &len)) {
        if (c->batch)
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                            "Base64 encoded value at 'records.%zu.member.data' is malformed",
                            i + 1);
        else
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                            "Base64 encoded value at 'data' is malformed");
        return -1;
    }
    /* Kinesis: a record's data plus its partition key is at most 1 MiB. */
    if (len + pkl > KINESIS_MAX_RECORD_BYTES) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Record %zu is %zu bytes (data plus partition key); the limit is %u "
                        "bytes.",
                        i, len + pkl, KINESIS_MAX_RECORD_BYTES);
        return -1;
    }
    unsigned __int128 key;
    if (eh) {
        if (datastream_u128_parse(eh->valuestring, strlen(eh->valuestring), &key)) {
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                            "[0, 2^128-1]. Specified value was %.64s",
                            eh->valuestring);
            return -1;
        }
    } else {
        key = kinesis_codec_hash(pk->valuestring, pkl);
    }
    at[0] = 1;
    at[1] = (uint8_t)(pkl & 0xff);
    at[2] = (uint8_t)(pkl >> 8);
    memcpy(at + PAYLOAD_HEAD, pk->valuestring, pkl);
    c->views[i].data = at;
    c->views[i].len = PAYLOAD_HEAD + pkl + len;
    c->recs[i].shard = datastream_route(c->ds, key);
    *off += c->views[i].len;
    return 0;
}

static void put(struct kinesis *k, struct http_exchange *ex, const cJSON *root, int batch)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    struct put_ctx *c = NULL;
    const cJSON *list = NULL;
    size_t n = 1, room = 0;
    if (batch) {
        list = cJSON_GetObjectItemCaseSensitive(root, "Records");
        if (!list || cJSON_IsNull(list)) {
            awsjson_err_validation(&e, "null", 4, "records", "Member must not be null");
        } else if (!cJSON_IsArray(list)) {
            awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "SerializationException",
                            "Unexpected value type in payload");
        } else {
            n = (size_t)cJSON_GetArraySize(list);
            if (n < 1 || n > KINESIS_MAX_RECORDS) {
                char v[32];
                int vn = snprintf(v, sizeof v, "%zu", n);
                awsjson_err_validation(&e, v, (size_t)vn, "records",
                                       n < 1 ? "Member must have length greater than or equal to 1"
                                             : "Member must have length less than or equal to 500");
            }
        }
    }
    const char *name = NULL;
    size_t name_len = 0;
    if (e.type || awsjson_err_done(&e) || kinesis_codec_stream_name(root, &name, &name_len, &e))
        goto fail;
    /* Room for every payload: the decoded data is at most 3/4 of its text. */
    for (const cJSON *r = batch ? list->child : root; r; r = batch ? r->next : NULL) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "Data");
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(r, "PartitionKey");
        room += PAYLOAD_HEAD +
                (cJSON_IsString(d) ? BASE64_DECODED_MAX(strlen(d->valuestring)) : 0) +
                (cJSON_IsString(pk) ? strlen(pk->valuestring) : 0);
    }
    struct datastream *ds = NULL;
    if (datastream_get(k->reg, name, name_len, &ds)) {
        /* Checked before the records' contents (their shape was checked above). */
        kinesis_reply_not_found(k, ex, name, name_len);
        awsjson_err_fini(&e);
        return;
    }
    c = hy_calloc(1, sizeof *c);
    if (!c) {
        datastream_unref(ds);
        goto oom;
    }
    c->k = k;
    c->ex = ex;
    c->ds = ds;
    c->batch = batch;
    c->n = n;
    c->data = hy_malloc(room ? room : 1);
    c->recs = hy_calloc(n, sizeof *c->recs);
    c->views = hy_calloc(n, sizeof *c->views);
    c->groups = hy_calloc(datastream_nshards(ds), sizeof *c->groups);
    if (!c->data || !c->recs || !c->views || !c->groups)
        goto oom;
    size_t off = 0, i = 0, total = 0;
    for (const cJSON *r = batch ? list->child : root; r; r = batch ? r->next : NULL, i++) {
        char p[48] = "";
        if (batch)
            snprintf(p, sizeof p, "records.%zu.member.", i + 1);
        if (take_record(c, r, p, i, &off, &e))
            break;
        total += c->views[i].len - PAYLOAD_HEAD;
    }
    if (e.type || awsjson_err_done(&e))
        goto fail;
    /* Kinesis: a PutRecords call carries at most 5 MiB, partition keys included. */
    if (total > KINESIS_MAX_PUT_BYTES) {
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "The total size of the records in a PutRecords request (%zu bytes) "
                        "exceeds the limit of %u bytes (5 MiB).",
                        total, KINESIS_MAX_PUT_BYTES);
        goto fail;
    }
    /* Group by shard, keeping request order within each group: views are laid out per group. */
    size_t nsh = datastream_nshards(ds);
    size_t *gi = hy_calloc(nsh, sizeof *gi);
    struct streamlog_rec *ordered = hy_calloc(n, sizeof *ordered);
    if (!gi || !ordered) {
        hy_free(gi);
        hy_free(ordered);
        goto oom;
    }
    for (size_t s = 0; s < nsh; s++)
        gi[s] = SIZE_MAX;
    for (i = 0; i < n; i++) {
        size_t s = c->recs[i].shard;
        if (gi[s] == SIZE_MAX) {
            gi[s] = c->ngroups;
            c->groups[c->ngroups].shard = s;
            c->groups[c->ngroups].c = c;
            c->ngroups++;
        }
        struct put_group *g = &c->groups[gi[s]];
        c->recs[i].group = gi[s];
        c->recs[i].at = g->n++;
    }
    size_t at = 0;
    for (size_t g = 0; g < c->ngroups; g++) {
        c->groups[g].recs = ordered + at;
        at += c->groups[g].n;
        c->groups[g].n = 0;
    }
    for (i = 0; i < n; i++) {
        struct put_group *g = &c->groups[c->recs[i].group];
        g->recs[g->n++] = c->views[i];
    }
    hy_free(gi);
    hy_free(c->views);
    c->views = ordered;
    atomic_store(&c->pending, c->ngroups + 1);
    int64_t now = hytime_now_ms();
    for (size_t g = 0; g < c->ngroups; g++) {
        struct put_group *pg = &c->groups[g];
        pg->app.recs = pg->recs;
        pg->app.n = pg->n;
        pg->app.arrival_ms = now;
        pg->app.done = group_done;
        pg->app.arg = pg;
        /* Kinesis counts data plus partition key against the shard's rate. */
        uint64_t charge = 0;
        for (size_t r = 0; r < pg->n; r++)
            charge += pg->recs[r].len - PAYLOAD_HEAD;
        int rc = datastream_append(ds, pg->shard, &pg->app, charge);
        if (rc) {
            /* Refused at once (over the shard's rate, the stream's byte cap, or deleted): the
             * callback will not run, so count it down here. */
            pg->status = rc == HY_ECLOSED ? HY_EBUSY : rc;
            atomic_fetch_sub(&c->pending, 1);
        }
    }
    /* The +1 above kept the answer from being posted while groups were still being appended. */
    if (atomic_fetch_sub(&c->pending, 1) == 1)
        post_finish(c);
    awsjson_err_fini(&e);
    return;
oom:
    awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "out of memory");
fail:
    awsjson_reply_err(ex, &e);
    awsjson_err_fini(&e);
    put_ctx_free(c);
}

void kinesis_op_put_record(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                           int64_t start_ns)
{
    put(k, ex, root, 0);
}

void kinesis_op_put_records(struct kinesis *k, struct http_exchange *ex, const cJSON *root,
                            int64_t start_ns)
{
    put(k, ex, root, 1);
}
