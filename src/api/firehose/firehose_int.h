/*
 * firehose_int: private to src/api/firehose/. The front object, the model-driven request
 * validator, and the pure business-rule helpers (destinations, tags, put decoding) that the
 * operation handlers, the unit tests and the fuzz target share. Everything here except the
 * handlers (firehose_op_*) is pure: no sockets, no disk.
 */
#ifndef HY_FIREHOSE_INT_H
#define HY_FIREHOSE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "api/firehose/firehose.h"
#include "api/awsjson/awsjson.h"
#include "base/buf.h"
#include "stream/streamlog.h"

struct cJSON;
struct http_exchange;
struct service;
struct service_stream;

#define FIREHOSE_TARGET_PREFIX "Firehose_20150804."
/* Firehose limits (firehose-reference.md section 1.2). */
#define FIREHOSE_MAX_RECORDS 500
#define FIREHOSE_MAX_RECORD_BYTES 1024000
#define FIREHOSE_MAX_BATCH_BYTES (4u << 20)
#define FIREHOSE_MAX_TAGS 50

struct firehose {
    struct service *svc; /* borrowed */
    char *region;
    char *account_id;
    struct datastream_reg *dreg; /* borrowed; may be NULL */
};

enum firehose_op {
    FIREHOSE_OP_CREATE = 0,
    FIREHOSE_OP_DELETE,
    FIREHOSE_OP_DESCRIBE,
    FIREHOSE_OP_LIST,
    FIREHOSE_OP_LIST_TAGS,
    FIREHOSE_OP_PUT_RECORD,
    FIREHOSE_OP_PUT_RECORD_BATCH,
    FIREHOSE_OP_START_ENCRYPTION,
    FIREHOSE_OP_STOP_ENCRYPTION,
    FIREHOSE_OP_TAG,
    FIREHOSE_OP_UNTAG,
    FIREHOSE_OP_UPDATE,
    FIREHOSE_OP_COUNT
};

/* ---------------------------------------------------------------- validation (firehose_valid.c) */

/* Parse a request body and check it against op's input shape from the service model: JSON
 * types (SerializationException), then length/range/pattern/enum/required constraints
 * (ValidationException, all of them, in Coral's message format). An empty body counts as {}.
 * Returns 0 with *root set (caller frees with cJSON_Delete), or -1 with e set. Pure. */
int firehose_valid_request(enum firehose_op op, const char *body, size_t len, struct cJSON **root,
                           struct awsjson_err *e);
/* Op from an X-Amz-Target value; -1 if the prefix or the name is unknown. */
int firehose_op_from_target(const char *target, size_t len);
const char *firehose_op_name(enum firehose_op op);
/* Firehose's name pattern [a-zA-Z0-9_.-]+ (full match). */
int firehose_valid_name(const char *s, size_t n);
/* Bucket name out of a BucketARN that matched the model's pattern; NULL if none. */
const char *firehose_valid_bucket(const char *bucket_arn);

/* ---------------------------------------------------------------- destinations (firehose_dest.c)
 */

/* Build the normalised destination of a validated CreateDeliveryStream input: checks the
 * business rules (one S3 destination, supported features only, prefixes) and fills defaults.
 * Returns 0 with *dest (cJSON_Delete), or -1 with e set. Pure. */
int firehose_dest_from_create(const struct cJSON *root, struct cJSON **dest, struct awsjson_err *e);
struct service_enc;
/* DeliveryStreamEncryptionConfigurationInput (already validated) into *out (key_arn borrows from
 * in): 0, or -1 with e set (KeyARN missing for, or given with, the key type). */
int firehose_enc_from_input(const struct cJSON *in, struct service_enc *out, struct awsjson_err *e);
/* Apply a validated UpdateDestination input to cur: fields given replace, BufferingHints
 * merge. Returns 0 with *dest (a new tree), or -1 with e set. Pure. */
int firehose_dest_update(const struct cJSON *cur, const struct cJSON *root, struct cJSON **dest,
                         struct awsjson_err *e);
/* Append the "Destinations" array members of DescribeDeliveryStream for dest. */
int firehose_dest_describe(const struct cJSON *dest, struct cJSON *destinations);
/* Reject an unsupported CreateDeliveryStream/UpdateDestination feature by name. */
void firehose_dest_unsupported(struct awsjson_err *e, const char *what);

/* ---------------------------------------------------------------- tags (firehose_tags.c) */

/* Merge a validated Tags list into tags (sorted array of {"Key","Value"}); keys must not start
 * with "aws:" and the result must hold at most FIREHOSE_MAX_TAGS. On -1 (e set) tags is unchanged.
 */
int firehose_tags_add(struct cJSON *tags, const struct cJSON *list, struct awsjson_err *e);
/* Remove the keys of a validated TagKeys list (missing keys are ignored, as AWS does). */
int firehose_tags_remove(struct cJSON *tags, const struct cJSON *keys, struct awsjson_err *e);
/* The ListTagsForDeliveryStream answer for tags: keys after exclusive_start (NULL = from the
 * first), at most limit, plus HasMoreTags. Returns a new object or NULL (HY_ENOMEM). */
struct cJSON *firehose_tags_page(const struct cJSON *tags, const char *exclusive_start, int limit);

/* ---------------------------------------------------------------- puts (firehose_put.c) */

/* Decoded records of a validated PutRecord (batch = 0) or PutRecordBatch input. recs[i] point
 * into data. Free with firehose_put_recs_fini. */
struct firehose_put_recs {
    struct streamlog_rec *recs;
    size_t n;
    uint8_t *data;
    size_t total_len;
};
/* Base64-decode every Data member (strict) and check the batch total (4 MiB). Returns 0, or -1
 * with e set (SerializationException for bad base64, InvalidArgumentException for the total).
 * Any validation error already in e is reported after the decode, as AWS deserialises first. */
int firehose_put_decode(const struct cJSON *root, int batch, struct firehose_put_recs *out,
                        struct awsjson_err *e);
void firehose_put_recs_fini(struct firehose_put_recs *r);
/* The whole general PutRecord(Batch) parse: firehose_valid_request, then firehose_put_decode, with
 * every AWS error. Returns 0 with *root (caller frees with cJSON_Delete), the stream name (borrowed
 * from *root) and *out, or -1 with e set and *root NULL. Pure. */
int firehose_put_parse(int batch, const char *body, size_t len, struct cJSON **root,
                       const char **name, size_t *name_len, struct firehose_put_recs *out,
                       struct awsjson_err *e);
/* Write the 56-char RecordId of (stream_id, seq) to out (no NUL). */
void firehose_put_record_id(uint64_t stream_id, uint64_t seq, char out[56]);

/* ---------------------------------------------------------------- fast put parsing
 * (firehose_fastput.c)
 */

/* Single-pass parse of the common, fully valid PutRecord (batch = 0) / PutRecordBatch body:
 * exactly the members DeliveryStreamName and Record(s), records that are {"Data": base64}, no
 * escapes, every limit met. Data is decoded straight from body into out. Returns 0 with *name
 * (a view into body) and *out (free with firehose_put_recs_fini), or a negative code (HY_EBADMSG:
 * not that shape, HY_ENOMEM) after which the caller runs firehose_put_parse, which gives the exact
 * AWS answer. Whatever it accepts, firehose_put_parse accepts with the same result. Pure. */
int firehose_fastput_parse(int batch, const char *body, size_t len, const char **name,
                           size_t *name_len, struct firehose_put_recs *out);

/* ---------------------------------------------------------------- handlers and replies */

/* ResourceNotFoundException for a stream name, AWS wording. */
void firehose_reply_not_found(struct firehose *a, struct http_exchange *ex, const char *name);
/* Look up a stream (any status) by the DeliveryStreamName member; answers
 * ResourceNotFoundException itself and returns NULL when absent. Release with
 * service_stream_unref. */
struct service_stream *firehose_stream_lookup(struct firehose *a, struct http_exchange *ex,
                                              const struct cJSON *root);
/* The same by name (len bytes, no NUL needed). */
struct service_stream *firehose_stream_lookup_name(struct firehose *a, struct http_exchange *ex,
                                                   const char *name, size_t len);

void firehose_op_create(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_delete(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_describe(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_list(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_update(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_tag(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_untag(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_list_tags(struct firehose *a, struct http_exchange *ex, const struct cJSON *root);
void firehose_op_start_encryption(struct firehose *a, struct http_exchange *ex,
                                  const struct cJSON *root);
void firehose_op_stop_encryption(struct firehose *a, struct http_exchange *ex,
                                 const struct cJSON *root);
/* PutRecord (batch = 0) / PutRecordBatch with the body parsed, validated and decoded (by
 * firehose_fastput_parse or firehose_put_parse): looks up the stream by name and appends recs to
 * its wal; answers asynchronously once durable. Takes ownership of recs (zeroed on return). */
void firehose_op_put(struct firehose *a, struct http_exchange *ex, const char *name,
                     size_t name_len, int batch, struct firehose_put_recs *recs, int64_t start_ns);

#endif
