/*
 * stats: per-stream counters behind /_hydrant/metrics, named after Firehose's CloudWatch metrics.
 * The api layer counts ingestion, the delivery consumer counts delivery; the metrics endpoint
 * reads. All fields are atomics updated with relaxed ordering; any thread may touch them.
 */
#ifndef HY_STATS_H
#define HY_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Latency histogram bucket upper bounds in microseconds (le), plus +Inf. */
#define STATS_LAT_BUCKETS 12
extern const uint64_t stats_lat_bounds_us[STATS_LAT_BUCKETS];

struct stats_latency {
    _Atomic uint64_t buckets[STATS_LAT_BUCKETS + 1]; /* last is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

struct stream_stats {
    _Atomic uint64_t incoming_records;             /* IncomingRecords (acknowledged) */
    _Atomic uint64_t incoming_bytes;               /* IncomingBytes */
    _Atomic uint64_t incoming_put_requests;        /* IncomingPutRequests */
    _Atomic uint64_t throttled_records;            /* ThrottledRecords ("Slow down.") */
    _Atomic uint64_t put_record_requests;          /* PutRecord.Requests */
    _Atomic uint64_t put_record_batch_requests;    /* PutRecordBatch.Requests */
    struct stats_latency put_record_latency;       /* PutRecord.Latency */
    struct stats_latency put_record_batch_latency; /* PutRecordBatch.Latency */
    _Atomic uint64_t delivery_records;             /* DeliveryToS3.Records */
    _Atomic uint64_t delivery_bytes;               /* DeliveryToS3.Bytes */
    _Atomic uint64_t delivery_objects;             /* objects written */
    _Atomic uint64_t delivery_success;     /* DeliveryToS3.Success: successful object writes */
    _Atomic uint64_t delivery_failures;    /* failed object writes (retried) */
    _Atomic uint64_t quarantined_spans;    /* damaged log spans written to corrupted-log objects */
    _Atomic uint64_t quarantined_bytes;    /* their damaged bytes (true length) */
    _Atomic uint64_t error_output_records; /* records written to the error output */
    _Atomic uint64_t redshift_records;     /* DeliveryToRedshift.Records (rows loaded) */
    _Atomic uint64_t redshift_bytes;       /* DeliveryToRedshift.Bytes (staged, uncompressed) */
    _Atomic uint64_t redshift_success;     /* DeliveryToRedshift.Success: batches committed */
    _Atomic uint64_t lambda_invocations;   /* ExecuteProcessing attempts (Lambda processor) */
    _Atomic uint64_t lambda_failures;      /* attempts that failed (ExecuteProcessing.Success 0) */
    _Atomic uint64_t lambda_ms;            /* ExecuteProcessing.Duration, summed */
    _Atomic uint64_t lambda_ok_records;    /* SucceedProcessing.Records (Ok and Dropped) */
    _Atomic uint64_t lambda_ok_bytes;      /* SucceedProcessing.Bytes (Ok data) */
    /* KinesisStreamAsSource: records the data stream's retention removed before the delivery
     * stream read them (deliver/kinsrc.h). */
    _Atomic uint64_t kinesis_source_expired_records;
    /* Arrival time (epoch ms) of the oldest record not yet delivered; 0 when none. Gives
     * DeliveryToS3.DataFreshness = now - this. Set by the delivery consumer. */
    _Atomic int64_t oldest_undelivered_ms;
    /* Live analytics (analytics/ancons.c), on the stream whose records are scored. */
    _Atomic uint64_t analytics_points;         /* values scored */
    _Atomic uint64_t analytics_anomalies;      /* scores >= threshold (events emitted) */
    _Atomic uint64_t analytics_parse_failures; /* JSON values with no usable value, over the cap */
    _Atomic uint64_t analytics_dropped_events; /* events the target stream refused for good */
    _Atomic uint64_t analytics_webhook_failures; /* webhook POSTs that failed every try */
};

void stats_latency_observe(struct stats_latency *l, uint64_t us);

#endif
