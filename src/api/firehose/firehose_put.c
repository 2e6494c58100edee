/*
 * firehose_put: PutRecord and PutRecordBatch, the hot path.
 *
 * Loop thread: parse, validate and decode every Data into one request-owned buffer, either in one
 * pass (firehose_fastput.c, the common valid body) or through cJSON and the model validator
 * (firehose_put_parse: everything else, with AWS's exact errors); then append the records to the
 * stream's log in one call (the decoded buffer lives until the log is done: an append that waits
 * for room is copied only when admitted). The log's thread: the callback only posts the
 * completion back to the loop. Loop thread again: write the
 * answer and count the metrics. Nothing is acknowledged before the group commit's fdatasync
 * (DESIGN.md, "Durable ack").
 *
 * A log write error (disk full...) becomes, like AWS's partial failure, HTTP 200 with every
 * entry {"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."} for
 * PutRecordBatch, and a 503 ServiceUnavailableException for PutRecord.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "api/firehose/firehose_int.h"
#include "base/base64.h"
#include "base/err.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http.h"
#include "core/service.h"
#include "core/stats.h"
#include "stream/streamlog.h"

/* ---------------------------------------------------------------- decoding (pure) */

void firehose_put_recs_fini(struct firehose_put_recs *r)
{
    hy_free(r->recs);
    hy_free(r->data);
    memset(r, 0, sizeof *r);
}

static const cJSON *data_of(const cJSON *rec)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "Data");
    return cJSON_IsString(d) ? d : NULL;
}

int firehose_put_decode(const cJSON *root, int batch, struct firehose_put_recs *out,
                        struct awsjson_err *e)
{
    memset(out, 0, sizeof *out);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, batch ? "Records" : "Record");
    const cJSON *first = NULL;
    size_t n = 0, room = 0;
    if (batch && cJSON_IsArray(list)) {
        first = list->child;
    } else if (!batch && cJSON_IsObject(list)) {
        first = list;
    }
    for (const cJSON *r = first; r; r = batch ? r->next : NULL) {
        const cJSON *d = data_of(r);
        if (d)
            room += BASE64_DECODED_MAX(strlen(d->valuestring));
        n++;
    }
    out->recs = hy_calloc(n ? n : 1, sizeof *out->recs);
    out->data = hy_malloc(room ? room : 1);
    if (!out->recs || !out->data) {
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        goto fail;
    }
    size_t i = 0, off = 0;
    for (const cJSON *r = first; r; r = batch ? r->next : NULL, i++) {
        const cJSON *d = data_of(r);
        size_t len = 0;
        if (d && base64_decode(d->valuestring, strlen(d->valuestring), out->data + off, &len)) {
            if (batch)
                awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                                "Base64 encoded value at 'records.%zu.member.data' is malformed",
                                i + 1);
            else
                awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                                "Base64 encoded value at 'record.data' is malformed");
            goto fail;
        }
        out->recs[i].data = out->data + off;
        out->recs[i].len = len;
        off += len;
    }
    out->n = n;
    out->total_len = off;
    /* Validation errors are reported only now: AWS deserialises (base64) before validating. */
    if (awsjson_err_done(e))
        goto fail;
    /* Firehose: at most 4 MiB per PutRecordBatch call. */
    if (off > FIREHOSE_MAX_BATCH_BYTES) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "The total size of the records in a PutRecordBatch request (%zu bytes) "
                        "exceeds the limit of %u bytes (4 MiB)",
                        off, FIREHOSE_MAX_BATCH_BYTES);
        goto fail;
    }
    return 0;
fail:
    firehose_put_recs_fini(out);
    return -1;
}

int firehose_put_parse(int batch, const char *body, size_t len, cJSON **root, const char **name,
                       size_t *name_len, struct firehose_put_recs *out, struct awsjson_err *e)
{
    *root = NULL;
    enum firehose_op op = batch ? FIREHOSE_OP_PUT_RECORD_BATCH : FIREHOSE_OP_PUT_RECORD;
    cJSON *o = NULL;
    if (firehose_valid_request(op, body, len, &o, e) || firehose_put_decode(o, batch, out, e)) {
        cJSON_Delete(o);
        return -1;
    }
    /* Validation passed, so the member is a 1-64 character name. */
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "DeliveryStreamName");
    *name = cJSON_IsString(n) ? n->valuestring : "";
    *name_len = strlen(*name);
    *root = o;
    return 0;
}

/* splitmix64 finaliser: cheap, well mixed. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void hex(uint64_t v, int digits, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = h[v & 15];
        v >>= 4;
    }
}

void firehose_put_record_id(uint64_t stream_id, uint64_t seq, char out[56])
{
    uint64_t m1 = mix64(stream_id ^ mix64(seq));
    uint64_t m2 = mix64(m1 ^ seq);
    hex(stream_id, 16, out);
    hex(seq, 16, out + 16);
    hex(m1, 16, out + 32);
    hex(m2 >> 32, 8, out + 48);
}

/* ---------------------------------------------------------------- the handler */

struct put_ctx {
    struct http_exchange *ex;
    struct service_stream *st;     /* reference held until the answer */
    struct firehose_put_recs recs; /* decoded records, kept while the append waits for room */
    size_t n;                      /* records */
    size_t total_len;              /* their bytes */
    struct streamlog_append app;
    uint64_t first_seq;
    int batch;
    int status; /* from the log */
    int64_t start_ns;
};

static void reply_slow_down(struct http_exchange *ex)
{
    awsjson_reply_errorf(ex, AWSJSON_UNAVAILABLE, "ServiceUnavailableException", "Slow down.");
}

static void put_ctx_free(struct put_ctx *c)
{
    firehose_put_recs_fini(&c->recs);
    service_stream_unref(c->st);
    hy_free(c);
}

static void put_finish(void *arg)
{
    struct put_ctx *c = arg;
    struct stream_stats *st = service_stream_stats(c->st);
    size_t n = c->n;
    struct buf out;
    buf_init(&out, 1u << 20);
    int rc = 0;
    if (c->status) {
        atomic_fetch_add_explicit(&st->throttled_records, n, memory_order_relaxed);
        /* A refusal after waiting for room is load, not trouble: the client retries. */
        if (c->status != HY_EBUSY)
            LOG_WARN("firehose", "log append failed; records refused", "n=%zu err=%s", n,
                     hy_errname(c->status));
        if (!c->batch) {
            reply_slow_down(c->ex);
            goto out;
        }
        rc = buf_printf(&out, "{\"FailedPutCount\":%zu,\"Encrypted\":false,\"RequestResponses\":[",
                        n);
        for (size_t i = 0; i < n && !rc; i++)
            rc = buf_append_str(&out, i ? ",{\"ErrorCode\":\"ServiceUnavailableException\","
                                          "\"ErrorMessage\":\"Slow down.\"}"
                                        : "{\"ErrorCode\":\"ServiceUnavailableException\","
                                          "\"ErrorMessage\":\"Slow down.\"}");
        if (!rc)
            rc = buf_append_str(&out, "]}");
    } else {
        char id[56];
        uint64_t sid = service_stream_id(c->st);
        if (!c->batch) {
            firehose_put_record_id(sid, c->first_seq, id);
            rc = buf_append_str(&out, "{\"RecordId\":\"");
            if (!rc)
                rc = buf_append(&out, id, sizeof id);
            if (!rc)
                rc = buf_append_str(&out, "\",\"Encrypted\":false}");
        } else {
            rc = buf_reserve(&out, 64 + n * 72);
            if (!rc)
                rc = buf_append_str(&out, "{\"FailedPutCount\":0,\"Encrypted\":false,"
                                          "\"RequestResponses\":[");
            for (size_t i = 0; i < n && !rc; i++) {
                firehose_put_record_id(sid, c->first_seq + i, id);
                rc = buf_append_str(&out, i ? ",{\"RecordId\":\"" : "{\"RecordId\":\"");
                if (!rc)
                    rc = buf_append(&out, id, sizeof id);
                if (!rc)
                    rc = buf_append(&out, "\"}", 2);
            }
            if (!rc)
                rc = buf_append_str(&out, "]}");
        }
        atomic_fetch_add_explicit(&st->incoming_records, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->incoming_bytes, c->total_len, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->incoming_put_requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(c->batch ? &st->put_record_batch_requests
                                           : &st->put_record_requests,
                                  1, memory_order_relaxed);
        int64_t us = (hytime_mono_ns() - c->start_ns) / 1000;
        stats_latency_observe(c->batch ? &st->put_record_batch_latency : &st->put_record_latency,
                              us > 0 ? (uint64_t)us : 0);
    }
    if (rc)
        /* The records are durable but the answer could not be built: the client retries and
         * may duplicate, which Firehose's at-least-once contract allows. */
        awsjson_reply_errorf(c->ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
    else
        awsjson_reply_json(c->ex, out.data, out.len);
out:
    buf_fini(&out);
    put_ctx_free(c);
}

/* The log's thread: hand the completion to the loop thread. */
static void put_done(void *arg, int status, uint64_t first_seq)
{
    struct put_ctx *c = arg;
    c->status = status;
    c->first_seq = first_seq;
    /* Posting fails only on allocation failure; the exchange must still be answered exactly
     * once and only the loop may answer, so retry until memory is back. */
    while (http_server_post(http_exchange_server(c->ex), put_finish, c) != 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

void firehose_op_put(struct firehose *a, struct http_exchange *ex, const char *name,
                     size_t name_len, int batch, struct firehose_put_recs *recs_in,
                     int64_t start_ns)
{
    /* Take the records over: the context frees them once the log is done with them. */
    struct firehose_put_recs recs = *recs_in;
    memset(recs_in, 0, sizeof *recs_in);
    /* The lookup comes after decoding (AWS order: deserialise, validate, then the stream), so a
     * malformed or oversized request is rejected whether or not the stream exists. */
    struct service_stream *st = firehose_stream_lookup_name(a, ex, name, name_len);
    if (!st) {
        firehose_put_recs_fini(&recs);
        return;
    }
    if (service_stream_no_puts(st)) {
        firehose_put_recs_fini(&recs);
        service_stream_unref(st);
        /* Firehose's wording. */
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                             "This operation is not permitted on KinesisStreamAsSource delivery "
                             "stream type.");
        return;
    }
    struct put_ctx *c = hy_calloc(1, sizeof *c);
    if (!c) {
        firehose_put_recs_fini(&recs);
        service_stream_unref(st);
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    c->ex = ex;
    c->st = st;
    c->recs = recs;
    c->n = recs.n;
    c->total_len = recs.total_len;
    c->batch = batch;
    c->start_ns = start_ns;
    c->app.recs = c->recs.recs;
    c->app.n = c->recs.n;
    c->app.arrival_ms = hytime_now_ms();
    c->app.done = put_done;
    c->app.arg = c;
    int rc = service_append(st, &c->app);
    if (rc == 0) {
        /* put_finish answers, on this thread, so c is still ours here. Records the log copied
         * already need not wait for the fsync in memory. */
        if (!c->app.parked)
            firehose_put_recs_fini(&c->recs);
        return;
    }
    if (rc == HY_EQUOTA || rc == HY_EBUSY) {
        /* Firehose: over the limit, the caller is told to slow down and retry. */
        atomic_fetch_add_explicit(&service_stream_stats(st)->throttled_records, c->n,
                                  memory_order_relaxed);
        reply_slow_down(ex);
    } else if (rc == HY_ENOKEY) {
        /* Firehose: puts fail this way while the stream's KMS key is unusable. */
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "InvalidKMSResourceException",
                             "The stream's encryption key is not available; see "
                             "DeliveryStreamEncryptionConfiguration in DescribeDeliveryStream.");
    } else if (rc == HY_ECLOSED) {
        /* Being deleted: for producers the stream is gone. Names are at most 64 bytes. */
        char z[65];
        size_t k = name_len < sizeof z - 1 ? name_len : sizeof z - 1;
        memcpy(z, name, k);
        z[k] = '\0';
        firehose_reply_not_found(a, ex, z);
    } else {
        LOG_ERROR("firehose", "log append failed", "err=%s", hy_errname(rc));
        reply_slow_down(ex);
    }
    put_ctx_free(c);
}
