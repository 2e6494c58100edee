/*
 * api_int: private to src/api/. The api object, AWS error shapes, the model-driven request
 * validator, and the pure business-rule helpers (destinations, tags, put decoding) that the
 * operation handlers, the unit tests and the fuzz target share. Everything here except the
 * handlers (api_op_*) is pure: no sockets, no disk.
 */
#ifndef HY_API_INT_H
#define HY_API_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/buf.h"

struct cJSON;
struct catalog;
struct catalog_stream;
struct delivery_target;
struct http_exchange;
struct wal_rec;

#define API_TARGET_PREFIX "Firehose_20150804."
#define API_JSON_CT "application/x-amz-json-1.1"
/* Firehose limits (firehose-reference.md section 1.2). */
#define API_MAX_RECORDS 500
#define API_MAX_RECORD_BYTES 1024000
#define API_MAX_BATCH_BYTES (4u << 20)
#define API_MAX_TAGS 50

struct api {
    char *data_dir;
    char *region;
    char *account_id;
    uint64_t quota_bytes;
    size_t max_streams;
    struct catalog *cat;
    atomic_int ready;
    /* Deletions run on detached threads; shutdown waits for them. */
    pthread_mutex_t del_lock;
    pthread_cond_t del_cond;
    int deleting;
    int shut_down;
};

enum api_op {
    API_OP_CREATE = 0,
    API_OP_DELETE,
    API_OP_DESCRIBE,
    API_OP_LIST,
    API_OP_LIST_TAGS,
    API_OP_PUT_RECORD,
    API_OP_PUT_RECORD_BATCH,
    API_OP_START_ENCRYPTION,
    API_OP_STOP_ENCRYPTION,
    API_OP_TAG,
    API_OP_UNTAG,
    API_OP_UPDATE,
    API_OP_COUNT
};

/* ---------------------------------------------------------------- errors (api_err.c) */

/* An AWS error answer being built. Validation errors accumulate (Coral reports them all); any
 * other error is final and the first one set wins. */
struct api_err {
    int status;       /* HTTP status; 0 while no error */
    const char *type; /* __type, static string; NULL while no error */
    struct buf msg;
    struct buf items; /* validation errors, "; "-joined */
    int nvalid;
};

void api_err_init(struct api_err *e);
void api_err_fini(struct api_err *e);
/* Set a final error unless one is set already. */
void api_err_set(struct api_err *e, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Add one Coral validation error: "Value <v> at '<path>' failed to satisfy constraint: <c>".
 * value is the already-rendered value ("'abc'" or "null"). */
void api_err_validation(struct api_err *e, const char *value, size_t value_len, const char *path,
                        const char *constraint);
/* Turn accumulated validation errors into a ValidationException (if nothing final is set).
 * Returns 1 if e holds an error, else 0. */
int api_err_done(struct api_err *e);
#define API_ERR_BAD_REQUEST 400
#define API_ERR_SERVER 500
#define API_ERR_UNAVAILABLE 503

/* ---------------------------------------------------------------- validation (api_valid.c) */

/* Parse a request body and check it against op's input shape from the service model: JSON
 * types (SerializationException), then length/range/pattern/enum/required constraints
 * (ValidationException, all of them, in Coral's message format). An empty body counts as {}.
 * Returns 0 with *root set (caller frees with cJSON_Delete), or -1 with e set. Pure. */
int api_valid_request(enum api_op op, const char *body, size_t len, struct cJSON **root,
                      struct api_err *e);
/* Op from an X-Amz-Target value; -1 if the prefix or the name is unknown. */
int api_op_from_target(const char *target, size_t len);
const char *api_op_name(enum api_op op);
/* Firehose's name pattern [a-zA-Z0-9_.-]+ (full match). */
int api_valid_name(const char *s, size_t n);
/* Bucket name out of a BucketARN that matched the model's pattern; NULL if none. */
const char *api_valid_bucket(const char *bucket_arn);

/* ---------------------------------------------------------------- destinations (api_dest.c) */

/* Build the normalised destination of a validated CreateDeliveryStream input: checks the
 * business rules (one S3 destination, supported features only, prefixes) and fills defaults.
 * Returns 0 with *dest (cJSON_Delete), or -1 with e set. Pure. */
int api_dest_from_create(const struct cJSON *root, struct cJSON **dest, struct api_err *e);
/* Apply a validated UpdateDestination input to cur: fields given replace, BufferingHints
 * merge. Returns 0 with *dest (a new tree), or -1 with e set. Pure. */
int api_dest_update(const struct cJSON *cur, const struct cJSON *root, struct cJSON **dest,
                    struct api_err *e);
/* Fill t from dest (strings borrowed from dest). */
void api_dest_target(const struct cJSON *dest, const char *stream_name, uint64_t version,
                     int64_t create_ms, struct delivery_target *t);
/* Append the "Destinations" array members of DescribeDeliveryStream for dest. */
int api_dest_describe(const struct cJSON *dest, struct cJSON *destinations);
/* Reject an unsupported CreateDeliveryStream/UpdateDestination feature by name. */
void api_dest_unsupported(struct api_err *e, const char *what);

/* ---------------------------------------------------------------- tags (api_tags.c) */

/* Merge a validated Tags list into tags (sorted array of {"Key","Value"}); keys must not start
 * with "aws:" and the result must hold at most API_MAX_TAGS. On -1 (e set) tags is unchanged. */
int api_tags_add(struct cJSON *tags, const struct cJSON *list, struct api_err *e);
/* Remove the keys of a validated TagKeys list (missing keys are ignored, as AWS does). */
int api_tags_remove(struct cJSON *tags, const struct cJSON *keys, struct api_err *e);
/* The ListTagsForDeliveryStream answer for tags: keys after exclusive_start (NULL = from the
 * first), at most limit, plus HasMoreTags. Returns a new object or NULL (HY_ENOMEM). */
struct cJSON *api_tags_page(const struct cJSON *tags, const char *exclusive_start, int limit);

/* ---------------------------------------------------------------- puts (api_put.c) */

/* Decoded records of a validated PutRecord (batch = 0) or PutRecordBatch input. recs[i] point
 * into data. Free with api_put_recs_fini. */
struct api_put_recs {
    struct wal_rec *recs;
    size_t n;
    uint8_t *data;
    size_t total_len;
};
/* Base64-decode every Data member (strict) and check the batch total (4 MiB). Returns 0, or -1
 * with e set (SerializationException for bad base64, InvalidArgumentException for the total).
 * Any validation error already in e is reported after the decode, as AWS deserialises first. */
int api_put_decode(const struct cJSON *root, int batch, struct api_put_recs *out,
                   struct api_err *e);
void api_put_recs_fini(struct api_put_recs *r);
/* The whole general PutRecord(Batch) parse: api_valid_request, then api_put_decode, with every
 * AWS error. Returns 0 with *root (caller frees with cJSON_Delete), the stream name (borrowed from
 * *root) and *out, or -1 with e set and *root NULL. Pure. */
int api_put_parse(int batch, const char *body, size_t len, struct cJSON **root, const char **name,
                  size_t *name_len, struct api_put_recs *out, struct api_err *e);
/* Write the 56-char RecordId of (stream_id, seq) to out (no NUL). */
void api_put_record_id(uint64_t stream_id, uint64_t seq, char out[56]);

/* ---------------------------------------------------------------- fast put parsing (api_fastput.c)
 */

/* Single-pass parse of the common, fully valid PutRecord (batch = 0) / PutRecordBatch body:
 * exactly the members DeliveryStreamName and Record(s), records that are {"Data": base64}, no
 * escapes, every limit met. Data is decoded straight from body into out. Returns 0 with *name
 * (a view into body) and *out (free with api_put_recs_fini), or a negative code (HY_EBADMSG:
 * not that shape, HY_ENOMEM) after which the caller runs api_put_parse, which gives the exact
 * AWS answer. Whatever it accepts, api_put_parse accepts with the same result. Pure. */
int api_fastput_parse(int batch, const char *body, size_t len, const char **name, size_t *name_len,
                      struct api_put_recs *out);

/* ---------------------------------------------------------------- handlers and replies */

/* Answer 200 with a JSON body (AWS headers added). Loop thread. */
void api_reply_json(struct http_exchange *ex, const char *body, size_t len);
/* Answer 200 with cJSON item printed (and deleted); 500 if printing fails. */
void api_reply_cjson(struct http_exchange *ex, struct cJSON *item);
/* Answer an error. */
void api_reply_err(struct http_exchange *ex, struct api_err *e);
void api_reply_errorf(struct http_exchange *ex, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* ResourceNotFoundException for a stream name, AWS wording. */
void api_reply_not_found(struct api *a, struct http_exchange *ex, const char *name);
/* Write a fresh request id (36-char UUID v4 plus NUL). */
void api_request_id(char out[37]);
/* Look up an ACTIVE-or-not stream by the DeliveryStreamName member; answers
 * ResourceNotFoundException itself and returns NULL when absent. */
struct catalog_stream *api_stream_lookup(struct api *a, struct http_exchange *ex,
                                         const struct cJSON *root);
/* The same by name (len bytes, no NUL needed). */
struct catalog_stream *api_stream_lookup_name(struct api *a, struct http_exchange *ex,
                                              const char *name, size_t len);

/* Runtime of one stream: open its wal and start delivery (api_stream.c). */
int api_stream_start(struct api *a, struct catalog_stream *s);
/* Stop delivery (flush) and close the wal. Returns 0, or HY_EBUSY when acknowledged records
 * were left undelivered (a failing sink); they stay in the log for the next start. */
int api_stream_stop(struct catalog_stream *s);
/* Finish deleting a DELETING stream synchronously: flush delivery, close, remove (at start). */
void api_stream_delete_now(struct api *a, struct catalog_stream *s);

void api_op_create(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_delete(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_describe(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_list(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_update(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_tag(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_untag(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_list_tags(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_start_encryption(struct api *a, struct http_exchange *ex, const struct cJSON *root);
void api_op_stop_encryption(struct api *a, struct http_exchange *ex, const struct cJSON *root);
/* PutRecord (batch = 0) / PutRecordBatch with the body parsed, validated and decoded (by
 * api_fastput_parse or api_put_parse): looks up the stream by name and appends recs to its wal;
 * answers asynchronously once durable. Takes ownership of recs (zeroed on return). */
void api_op_put(struct api *a, struct http_exchange *ex, const char *name, size_t name_len,
                int batch, struct api_put_recs *recs, int64_t start_ns);

/* GET /_hydrant/metrics body (Prometheus text exposition). */
int api_metrics_render(struct api *a, struct buf *out);

#endif
