/*
 * delivery: one stream's delivery consumer. A thread reads durable records from the stream's
 * log starting at its cursor, batches them by the buffering hints (size or interval, whichever
 * comes first; interval 0 = as soon as possible), runs the pipeline stages (src/pipeline/: the
 * AppendDelimiterToRecord processor, then the compressor) and streams each batch into one object
 * through a sink writer as its records are read, so memory per stream stays a small staging
 * buffer plus the codec's fixed state whatever the size hint. Exactly-once: when a batch opens at
 * its first record F, its key is fixed and recorded durably as an intent {F, bucket, key} in the
 * state file (consumers/delivery.state) before anything is written; after a crash or a sink failure
 * the batch restarts at F under that exact key, and the cursor moves only after the object is
 * committed (delivery.c has the argument).
 *
 * Object key = prefix (default "YYYY/MM/dd/HH/", UTC, from the first record's arrival) +
 * "<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<id>" + extension (FileExtension, else the codec's
 * default: .gz, .zip, .snappy, .zst), <id> derived from the stream identity and F.
 *
 * The Lambda processor (transform/lambdafn.h) and source record backup run inside a batch, before
 * it is sealed, so they share its exactly-once protocol (delivery.c, "The Lambda processor").
 *
 * Threads: start/update/stop from the service's control threads; the consumer runs on its own
 * thread.
 */
#ifndef HY_DELIVERY_H
#define HY_DELIVERY_H

#include <stdint.h>

#include "pipeline/process.h"

struct consumer_env;
struct consumer_ops;
struct delivery;

/* What delivery needs of a stream's destination; all strings are copied. */
struct delivery_target {
    const char *stream_name;
    uint64_t version;            /* stream VersionId; appears in object names */
    const char *bucket;          /* from BucketARN arn:aws:s3:::NAME */
    const char *prefix;          /* NULL or "" = default YYYY/MM/dd/HH/ */
    const char *error_prefix;    /* may be NULL */
    uint64_t size_bytes;         /* BufferingHints.SizeInMBs * 1 MiB */
    int interval_s;              /* BufferingHints.IntervalInSeconds */
    int64_t create_ms;           /* stream creation time; with the name, the stream's identity in
                                  * object ids (0 if unknown) */
    const char *compression;     /* codec name (pipeline/codec.h); NULL = UNCOMPRESSED */
    const char *file_extension;  /* FileExtension; NULL or "" = the codec's default */
    int append_delimiter;        /* AppendDelimiterToRecord: a newline after each record */
    int partitioned;             /* DynamicPartitioningConfiguration.Enabled */
    const char *jq_query;        /* MetadataExtractionQuery (NULL = none: every record fails) */
    uint32_t max_partitions;     /* active partitions per batch; 0 = the default */
    struct process_opts process; /* the record processors (delimiter copied) */
    const char *time_zone;       /* CustomTimeZone; NULL or "" = UTC */
    /* The Lambda processor (transform/lambdafn.h): NULL = none. */
    const char *lambda_arn;
    int lambda_retries;           /* NumberOfRetries: attempts = 1 + retries */
    uint64_t lambda_buffer_bytes; /* BufferSizeInMBs: records per invocation round */
    /* Source record backup (S3BackupMode Enabled): the stored records, before any processor,
     * also go to objects in this bucket under this prefix. NULL = off. */
    const char *backup_bucket;
    const char *backup_prefix;
    const char *backup_compression; /* codec name; NULL = UNCOMPRESSED */
};

/* Firehose's default cap on active partitions (past it records go to the error output). */
#define DELIVERY_DEFAULT_PARTITIONS 500

/* Start the consumer: cursor file env->state_path (created if missing), records from env->log,
 * objects through env->sink, progress to env->advanced. env's pointers are borrowed until
 * delivery_stop, which must come before the log closes. Returns 0 and sets *out, or a negative
 * error (HY_ECORRUPT: unreadable cursor). */
int delivery_start(const struct consumer_env *env, const struct delivery_target *t,
                   struct delivery **out);
/* Apply a new destination config (UpdateDestination); takes effect from the next batch. */
int delivery_update(struct delivery *d, const struct delivery_target *t);
/* Lowest sequence number not yet delivered (every record below it is in a durable object). */
uint64_t delivery_cursor(struct delivery *d);
/* Stop: with flush != 0, first deliver every durable record regardless of buffering hints (a
 * failing sink is not retried once stop is asked; its intent is replayed at the next start).
 * Without flush an open batch is aborted (nothing of it stays visible) and its intent is replayed
 * at the next start. Joins the thread, frees d, and returns the final cursor: every record below
 * it is delivered. */
uint64_t delivery_stop(struct delivery *d, int flush);

/* Delivery as a consumer of the stream log (delivery_consumer.c): runs for every stream, its
 * target taken from the stream's destination document. */
extern const struct consumer_ops delivery_consumer;

#endif
