/*
 * firehose: the Firehose API front (AWS JSON 1.1, target prefix Firehose_20150804, all 12
 * operations), served as an http_handler_fn. It validates each request against the service model
 * (firehose_valid.c), translates it into service calls (core/service.h) and the results into
 * Firehose's answers and exact errors. Wire format and error shapes:
 * ../shared/specs/aws-json-sigv4.md sections 1-2.
 *
 * PutRecord/PutRecordBatch answer only after the records are durable in the stream's log: the
 * handler appends, the log's completion is posted back to the loop thread, which writes the
 * answer. RecordId = 56 lowercase hex chars: 16 of the stream identity, 16 of the record's
 * sequence number, 24 of a mix of both (unique per stream incarnation; the sequence number can
 * be read back from an id).
 *
 * Server-side encryption is not implemented: StartDeliveryStreamEncryption and an encryption
 * input on create answer InvalidArgumentException; StopDeliveryStreamEncryption succeeds (the
 * status is, truthfully, DISABLED).
 *
 * Threads: firehose_handle runs on HTTP loop threads; the rest on the main thread.
 */
#ifndef HY_FIREHOSE_H
#define HY_FIREHOSE_H

#include <stddef.h>
#include <stdint.h>

struct datastream_reg;
struct firehose;
struct http_exchange;
struct http_request;
struct service;

struct firehose_config {
    struct service *svc;         /* required; borrowed for the front's life */
    const char *region;          /* NULL = "us-east-1" */
    const char *account_id;      /* NULL = "000000000000" */
    struct datastream_reg *dreg; /* data streams KinesisStreamAsSource may name; NULL = none */
};

/* 0 and *out, or HY_EINVAL / HY_ENOMEM. */
int firehose_new(const struct firehose_config *cfg, struct firehose **out);
/* The http_handler_fn; ud is the struct firehose *. Answers every request exactly once. */
void firehose_handle(struct http_exchange *ex, const struct http_request *req, void *ud);
/* Apply a --streams file: a JSON array of CreateDeliveryStream inputs, each validated exactly as
 * the API validates it; a missing stream is created, one whose destination differs is updated
 * (UpdateDestination semantics), an equal one is left alone. Returns 0, or a negative error with
 * the API's error type and message (or the file problem) in err. Blocks on disk. */
int firehose_declare(struct firehose *a, const char *path, char *err, size_t err_len);
/* NULL is a no-op. Call after the HTTP server stopped. */
void firehose_free(struct firehose *a);

#endif
