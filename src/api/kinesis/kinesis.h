/*
 * kinesis: the Kinesis Data Streams front (AWS JSON 1.1, X-Amz-Target prefix
 * "Kinesis_20131202."), served as an http_handler_fn over the data streams of core/datastream.h.
 * Wire rules, shapes and errors: ../shared/specs/kinesis-data-streams.md.
 *
 * PutRecord/PutRecords answer only once the records are durable in their shards' logs (the same
 * group commit as Firehose puts). Shard iterators are opaque: the position plus an HMAC-SHA256
 * with the data directory's key, so a changed byte is refused ("Invalid ShardIterator."), and an
 * issue time, so an iterator older than 5 minutes is refused (ExpiredIteratorException).
 * Requests in CBOR (application/x-amz-cbor-1.1, the Java SDKs' default) get a JSON error that
 * says how to turn CBOR off; enhanced fan-out operations answer that they are not supported.
 *
 * Threads: kinesis_handle runs on HTTP loop threads; new/free on the main thread.
 */
#ifndef HY_KINESIS_H
#define HY_KINESIS_H

struct datastream_reg;
struct http_exchange;
struct http_request;
struct kinesis;

struct kinesis_config {
    struct datastream_reg *reg; /* required; borrowed for the front's life */
    const char *region;         /* NULL = "us-east-1" */
    const char *account_id;     /* NULL = "000000000000" */
};

/* 0 and *out, or HY_ENOMEM. */
int kinesis_new(const struct kinesis_config *cfg, struct kinesis **out);
/* The http_handler_fn; ud is the struct kinesis *. Answers every request exactly once. */
void kinesis_handle(struct http_exchange *ex, const struct http_request *req, void *ud);
/* NULL is a no-op. Call after the HTTP server stopped. */
void kinesis_free(struct kinesis *k);

#endif
