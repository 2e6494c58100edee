/*
 * admin_metrics: GET /_hydrant/metrics in the Prometheus text exposition format (version 0.0.4).
 * Metric names follow Firehose's CloudWatch metrics (firehose-reference.md section 1.13); each
 * family's HELP line names the CloudWatch metric it mirrors. Label: stream="<name>".
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "base/err.h"

#include "api/admin/admin_int.h"
#include "base/buf.h"
#include "base/hytime.h"
#include "base/mem.h"
#include "core/service.h"
#include "core/stats.h"
#include "stream/streamlog.h"

/* A stream being reported, with a reference held while the text is built. */
struct row {
    const char *name;
    struct service_stream *st;
    struct stream_stats *stats;
    struct streamlog_damage_stats damage;
};

struct counter_def {
    const char *name;
    const char *help;
    size_t offset; /* of the _Atomic uint64_t in struct stream_stats */
};

#define COUNTER(n, f, h)                                                                           \
    {                                                                                              \
        n, h, offsetof(struct stream_stats, f)                                                     \
    }

static const struct counter_def counters[] = {
    COUNTER("hydrant_incoming_records_total", incoming_records,
            "Records accepted (Firehose IncomingRecords)."),
    COUNTER("hydrant_incoming_bytes_total", incoming_bytes,
            "Bytes accepted, decoded (Firehose IncomingBytes)."),
    COUNTER("hydrant_incoming_put_requests_total", incoming_put_requests,
            "Successful PutRecord and PutRecordBatch requests (Firehose IncomingPutRequests)."),
    COUNTER("hydrant_throttled_records_total", throttled_records,
            "Records refused with Slow down (Firehose ThrottledRecords)."),
    COUNTER("hydrant_put_record_requests_total", put_record_requests,
            "PutRecord requests (Firehose PutRecord.Requests)."),
    COUNTER("hydrant_put_record_batch_requests_total", put_record_batch_requests,
            "PutRecordBatch requests (Firehose PutRecordBatch.Requests)."),
    COUNTER("hydrant_delivery_to_s3_records_total", delivery_records,
            "Records delivered to objects (Firehose DeliveryToS3.Records)."),
    COUNTER("hydrant_delivery_to_s3_bytes_total", delivery_bytes,
            "Bytes delivered to objects (Firehose DeliveryToS3.Bytes)."),
    COUNTER("hydrant_delivery_to_s3_objects_total", delivery_objects,
            "Objects written (no CloudWatch equivalent)."),
    COUNTER("hydrant_delivery_to_s3_success_total", delivery_success,
            "Successful object writes (Firehose DeliveryToS3.Success, as a count)."),
    COUNTER("hydrant_delivery_to_s3_failures_total", delivery_failures,
            "Failed object writes, retried (no CloudWatch equivalent)."),
    COUNTER("hydrant_delivery_quarantined_spans_total", quarantined_spans,
            "Damaged log spans delivery wrote to corrupted-log error objects."),
    COUNTER("hydrant_delivery_quarantined_bytes_total", quarantined_bytes,
            "Damaged log bytes delivery quarantined (true length; an object shows at most "
            "1 MiB of a span)."),
    COUNTER("hydrant_delivery_error_output_records_total", error_output_records,
            "Records written to the error output (dynamic partitioning failures)."),
    COUNTER("hydrant_delivery_to_redshift_records_total", redshift_records,
            "Rows loaded into PostgreSQL (Firehose DeliveryToRedshift.Records)."),
    COUNTER("hydrant_delivery_to_redshift_bytes_total", redshift_bytes,
            "Bytes of batches loaded into PostgreSQL (Firehose DeliveryToRedshift.Bytes)."),
    COUNTER("hydrant_delivery_to_redshift_success_total", redshift_success,
            "Batches committed to PostgreSQL (Firehose DeliveryToRedshift.Success, as a count)."),
    COUNTER("hydrant_analytics_points_total", analytics_points,
            "Values scored by the stream's live anomaly detector."),
    COUNTER("hydrant_analytics_anomalies_total", analytics_anomalies,
            "Scores at or above the threshold (anomaly events emitted)."),
    COUNTER("hydrant_analytics_parse_failures_total", analytics_parse_failures,
            "Records or JSON values without a usable value (or past the series key cap)."),
    COUNTER("hydrant_analytics_dropped_events_total", analytics_dropped_events,
            "Anomaly events the target stream refused for good (missing, deleted)."),
    COUNTER("hydrant_analytics_webhook_failures_total", analytics_webhook_failures,
            "Anomaly webhook POSTs that failed every try."),
    COUNTER("hydrant_execute_processing_total", lambda_invocations,
            "Lambda processor invocation attempts (Firehose ExecuteProcessing, as a count)."),
    COUNTER("hydrant_execute_processing_failures_total", lambda_failures,
            "Lambda invocation attempts that failed (ExecuteProcessing.Success 0)."),
    COUNTER("hydrant_execute_processing_duration_ms_total", lambda_ms,
            "Time spent in Lambda invocations (Firehose ExecuteProcessing.Duration, summed)."),
    COUNTER("hydrant_succeed_processing_records_total", lambda_ok_records,
            "Records the Lambda function returned Ok or Dropped (Firehose "
            "SucceedProcessing.Records)."),
    COUNTER("hydrant_succeed_processing_bytes_total", lambda_ok_bytes,
            "Bytes of the Ok records the Lambda function returned (SucceedProcessing.Bytes)."),
    COUNTER("hydrant_kinesis_source_expired_records_total", kinesis_source_expired_records,
            "KinesisStreamAsSource: records the data stream's retention removed before the "
            "delivery stream read them."),
};

/* Damage the log itself found (streamlog_damage_stats), counted since the log opened. */
struct damage_def {
    const char *name;
    const char *help;
    size_t offset; /* of the uint64_t in struct streamlog_damage_stats */
};

static const struct damage_def damage_counters[] = {
    {"hydrant_log_damaged_spans_total",
     "Damaged spans found in the stream log since start (bytes that are not the frames written, "
     "with intact frames after them).",
     offsetof(struct streamlog_damage_stats, spans)},
    {"hydrant_log_damaged_bytes_total", "Bytes in those damaged spans.",
     offsetof(struct streamlog_damage_stats, bytes)},
    {"hydrant_log_torn_tail_cuts_total",
     "Torn tails cut from the stream log at start (kept aside in log/damaged/).",
     offsetof(struct streamlog_damage_stats, cuts)},
    {"hydrant_log_torn_tail_cut_bytes_total", "Bytes in those torn tails.",
     offsetof(struct streamlog_damage_stats, cut_bytes)},
};

static uint64_t load(const struct stream_stats *st, size_t off)
{
    const _Atomic uint64_t *p = (const _Atomic uint64_t *)((const char *)st + off);
    return atomic_load_explicit(p, memory_order_relaxed);
}

static int histogram(struct buf *b, const struct row *v, size_t n, const char *name,
                     const char *help, int batch)
{
    int rc = buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct stats_latency *l =
            batch ? &v[i].stats->put_record_batch_latency : &v[i].stats->put_record_latency;
        uint64_t cum = 0;
        for (int k = 0; k <= STATS_LAT_BUCKETS && !rc; k++) {
            cum += atomic_load_explicit(&l->buckets[k], memory_order_relaxed);
            if (k < STATS_LAT_BUCKETS)
                rc = buf_printf(b, "%s_bucket{stream=\"%s\",le=\"%g\"} %" PRIu64 "\n", name,
                                v[i].name, (double)stats_lat_bounds_us[k] / 1e6, cum);
            else
                rc = buf_printf(b, "%s_bucket{stream=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name,
                                v[i].name, cum);
        }
        if (!rc)
            rc = buf_printf(b, "%s_sum{stream=\"%s\"} %.6f\n%s_count{stream=\"%s\"} %" PRIu64 "\n",
                            name, v[i].name,
                            (double)atomic_load_explicit(&l->sum_us, memory_order_relaxed) / 1e6,
                            name, v[i].name, atomic_load_explicit(&l->count, memory_order_relaxed));
    }
    return rc;
}

int admin_metrics_render(struct service *svc, struct buf *out)
{
    char **names = NULL;
    size_t nn = 0, n = 0;
    int rc = service_stream_names(svc, &names, &nn);
    if (rc)
        return rc;
    struct row *v = hy_calloc(nn ? nn : 1, sizeof *v);
    if (!v) {
        service_names_free(names, nn);
        return HY_ENOMEM;
    }
    /* A stream deleted since the names were taken is simply left out. */
    for (size_t i = 0; i < nn; i++)
        if (service_stream_get(svc, names[i], strlen(names[i]), &v[n].st) == 0) {
            v[n].name = names[i];
            v[n].stats = service_stream_stats(v[n].st);
            service_stream_damage(v[n].st, &v[n].damage);
            n++;
        }
    /* Stream names match [a-zA-Z0-9_.-]+, so they need no escaping in label values. */
    for (size_t c = 0; c < sizeof counters / sizeof counters[0] && !rc; c++) {
        rc = buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name,
                        counters[c].help, counters[c].name);
        for (size_t i = 0; i < n && !rc; i++)
            rc = buf_printf(out, "%s{stream=\"%s\"} %" PRIu64 "\n", counters[c].name, v[i].name,
                            load(v[i].stats, counters[c].offset));
    }
    for (size_t c = 0; c < sizeof damage_counters / sizeof damage_counters[0] && !rc; c++) {
        rc = buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", damage_counters[c].name,
                        damage_counters[c].help, damage_counters[c].name);
        for (size_t i = 0; i < n && !rc; i++)
            rc = buf_printf(
                out, "%s{stream=\"%s\"} %" PRIu64 "\n", damage_counters[c].name, v[i].name,
                *(const uint64_t *)((const char *)&v[i].damage + damage_counters[c].offset));
    }
    if (!rc)
        rc = histogram(out, v, n, "hydrant_put_record_latency_seconds",
                       "PutRecord latency until durable (Firehose PutRecord.Latency).", 0);
    if (!rc)
        rc =
            histogram(out, v, n, "hydrant_put_record_batch_latency_seconds",
                      "PutRecordBatch latency until durable (Firehose PutRecordBatch.Latency).", 1);
    if (!rc)
        rc = buf_printf(out,
                        "# HELP hydrant_delivery_to_s3_data_freshness_seconds Age of the oldest "
                        "undelivered record (Firehose DeliveryToS3.DataFreshness).\n"
                        "# TYPE hydrant_delivery_to_s3_data_freshness_seconds gauge\n");
    int64_t now = hytime_now_ms();
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t oldest =
            atomic_load_explicit(&v[i].stats->oldest_undelivered_ms, memory_order_relaxed);
        double age = oldest > 0 && now > oldest ? (double)(now - oldest) / 1000.0 : 0.0;
        rc = buf_printf(out, "hydrant_delivery_to_s3_data_freshness_seconds{stream=\"%s\"} %.3f\n",
                        v[i].name, age);
    }
    if (!rc)
        rc = buf_printf(out, "# HELP hydrant_log_retained_bytes Bytes of the stream's log kept on "
                             "disk: undelivered records plus at most one segment (the quota "
                             "counts these).\n"
                             "# TYPE hydrant_log_retained_bytes gauge\n");
    for (size_t i = 0; i < n && !rc; i++)
        rc = buf_printf(out, "hydrant_log_retained_bytes{stream=\"%s\"} %" PRIu64 "\n", v[i].name,
                        service_stream_log_bytes(v[i].st));
    if (!rc)
        rc = buf_printf(out, "# HELP hydrant_log_parked_appends Puts waiting for room in the "
                             "stream's log (--append-wait-ms; no CloudWatch equivalent).\n"
                             "# TYPE hydrant_log_parked_appends gauge\n");
    for (size_t i = 0; i < n && !rc; i++)
        rc = buf_printf(out, "hydrant_log_parked_appends{stream=\"%s\"} %zu\n", v[i].name,
                        service_stream_parked(v[i].st));
    if (!rc)
        rc = buf_printf(out,
                        "# HELP hydrant_streams Delivery streams in the catalog.\n"
                        "# TYPE hydrant_streams gauge\nhydrant_streams %zu\n",
                        n);
    for (size_t i = 0; i < n; i++)
        service_stream_unref(v[i].st);
    hy_free(v);
    service_names_free(names, nn);
    return rc;
}
