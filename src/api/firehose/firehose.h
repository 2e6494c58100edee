/*
 * api: the Firehose API (AWS JSON 1.1, target prefix Firehose_20150804, all 12 operations) and
 * hydrant's own /_hydrant/health and /_hydrant/metrics endpoints, served as an http_handler_fn.
 * Wire format and error shapes: ../shared/specs/aws-json-sigv4.md sections 1-2.
 *
 * The api owns the stream catalog (src/stream/catalog.h) and wires each stream's runtime: its
 * log (wal at <data-dir>/streams/<name>/log) and its delivery consumer (state in
 * <data-dir>/streams/<name>, objects under <data-dir>/s3/<bucket>/). A stream is ACTIVE as soon
 * as CreateDeliveryStream returns: the log and the consumer are opened before the answer, so
 * hydrant never shows CREATING.
 *
 * PutRecord/PutRecordBatch answer only after the records are durable in the log (group commit):
 * the handler appends, the wal's committer thread posts the completion back to the loop thread,
 * which writes the answer. RecordId = 56 lowercase hex chars: 16 of the stream identity, 16 of
 * the record's sequence number, 24 of a mix of both (so ids are unique per incarnation and the
 * sequence number can be read back from an id).
 *
 * Server-side encryption is not implemented: StartDeliveryStreamEncryption and an encryption
 * input on create answer InvalidArgumentException; StopDeliveryStreamEncryption succeeds (the
 * status is, truthfully, DISABLED).
 *
 * Threads: firehose_handle runs on HTTP loop threads; firehose_new/firehose_shutdown/firehose_free
 * on the main thread; firehose_set_ready from any thread.
 */
#ifndef HY_FIREHOSE_H
#define HY_FIREHOSE_H

#include <stddef.h>
#include <stdint.h>

struct firehose;
struct http_exchange;
struct http_request;

struct firehose_config {
    const char *data_dir;   /* required */
    const char *region;     /* NULL = "us-east-1" */
    const char *account_id; /* NULL = "000000000000" */
    uint64_t quota_bytes;   /* per-stream undelivered log bytes; 0 = 1 GiB */
    size_t max_streams;     /* LimitExceededException past it; 0 = 50 (Firehose's default) */
};

/* Load the catalog from <data_dir>/streams, open every stream's log and start its delivery
 * (finishing deletions interrupted by a crash). Blocks on disk. Returns 0 and sets *out, or a
 * negative error (-EACCES, -ENOTDIR, HY_ENOMEM...) when the data dir is unusable. */
int firehose_new(const struct firehose_config *cfg, struct firehose **out);
/* The http_handler_fn; ud is the struct firehose *. Answers every request exactly once. */
void firehose_handle(struct http_exchange *ex, const struct http_request *req, void *ud);
/* /_hydrant/health answers 200 "ok" only while ready != 0, else 503. Thread-safe. */
void firehose_set_ready(struct firehose *a, int ready);
/* Wait for background deletions, stop every delivery with flush (everything durable gets
 * delivered), close the logs. Blocks. Call after the HTTP server stopped. */
void firehose_shutdown(struct firehose *a);
/* Free (calls firehose_shutdown if it was not called). firehose_free(NULL) is a no-op. */
void firehose_free(struct firehose *a);

#endif
