/*
 * kinesis_int: private to src/api/kinesis/. The front object, the pure codecs (sequence numbers,
 * shard iterators, partition-key hashing, request parsing) that handlers, unit tests and fuzz
 * targets share, and the operation handlers.
 *
 * Sequence numbers: 36 decimal digits, "49" | V (20 digits) | shard index (10) | check (4), where
 * V = the shard's SeqBase + the record's log seq and check = stream id mod 10000. Within a shard
 * they grow with the log; a child shard's SeqBase starts above its parents; the shard index and
 * check let AT/AFTER_SEQUENCE_NUMBER refuse numbers from another shard or stream.
 *
 * Shard iterators: base64 (standard alphabet) of: version 1 | stream id (8, LE) | shard index
 * (4) | log seq (8) | issued at, epoch ms (8) | name length (1) | stream name | the first 16
 * bytes of HMAC-SHA256 over everything before it, keyed with the data directory's secret. At
 * most 174 bytes, 232 characters (Kinesis allows 512).
 */
#ifndef HY_KINESIS_INT_H
#define HY_KINESIS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "api/awsjson/awsjson.h"
#include "api/kinesis/kinesis.h"

struct cJSON;
struct datastream;
struct http_exchange;

#define KINESIS_TARGET_PREFIX "Kinesis_20131202."
/* Kinesis limits (kinesis-data-streams.md section 6). */
#define KINESIS_MAX_RECORDS 500
#define KINESIS_MAX_RECORD_BYTES (1u << 20) /* data + partition key */
#define KINESIS_MAX_PUT_BYTES (5u << 20)    /* one PutRecords call, partition keys included */
#define KINESIS_MAX_GET_RECORDS 10000
#define KINESIS_MAX_GET_BYTES (10u << 20)
#define KINESIS_ITERATOR_TTL_MS 300000
#define KINESIS_MAX_TAGS 50
#define KINESIS_SEQ_DIGITS 36
#define KINESIS_ITER_HEAD 30
#define KINESIS_ITER_MAC 16
#define KINESIS_ITER_RAW_MAX (KINESIS_ITER_HEAD + 128 + KINESIS_ITER_MAC)
#define KINESIS_ITER_MAX 232 /* base64 of KINESIS_ITER_RAW_MAX bytes */

struct kinesis {
    struct datastream_reg *reg; /* borrowed */
    char *region;
    char *account_id;
};

/* ---------------------------------------------------------------- codecs (kinesis_codec.c) */

/* Write the sequence number of (seq_base + seq, shard index, stream id) to out (37 bytes). */
void kinesis_codec_seq_format(uint64_t value, uint32_t shard_index, uint64_t stream_id,
                              char out[KINESIS_SEQ_DIGITS + 1]);
/* Parse one: 0 with *value and *shard_index, HY_EBADMSG when it is not one of ours, or HY_EINVAL
 * when it is well formed but from another stream. Pure. */
int kinesis_codec_seq_parse(const char *s, size_t n, uint64_t stream_id, uint64_t *value,
                            uint32_t *shard_index);

struct kinesis_iter {
    char name[129]; /* the stream's */
    uint64_t stream_id;
    uint32_t shard_index;
    uint64_t seq; /* log seq of the next record to read */
    int64_t issued_ms;
};
/* Encode it signed with key (DATASTREAM_KEY_LEN bytes) into out (KINESIS_ITER_MAX + 1, NUL
 * ended). */
void kinesis_codec_iter_encode(const struct kinesis_iter *it, const uint8_t *key,
                               char out[KINESIS_ITER_MAX + 1]);
/* Decode and verify: 0 with *it, or HY_EBADMSG (malformed, or the signature does not match).
 * Expiry is the caller's business. Pure; never reads past n. */
int kinesis_codec_iter_decode(const char *s, size_t n, const uint8_t *key, struct kinesis_iter *it);

/* A partition key's hash key: MD5 of its bytes as an unsigned big-endian 128-bit integer. */
unsigned __int128 kinesis_codec_hash(const char *key, size_t len);

/* A stream name out of StreamName or StreamARN of a request (both may be given: they must agree).
 * 0 with *name (borrowed from root) or -1 with e set. */
int kinesis_codec_stream_name(const struct cJSON *root, const char **name, size_t *len,
                              struct awsjson_err *e);

/* Parse and check a request body: well-formed UTF-8 JSON object without NULs in strings
 * (SerializationException otherwise). Empty body = {}. 0 with *root, or -1 with e set. Pure. */
int kinesis_codec_parse(const char *body, size_t len, struct cJSON **root, struct awsjson_err *e);

/* Model checks, Coral wording (ValidationException accumulates in e). path is the member's
 * camelCase path. Each returns the member (NULL if absent or of the wrong JSON type: then a
 * SerializationException is set). */
const struct cJSON *kinesis_codec_str(const struct cJSON *o, const char *member, const char *path,
                                      size_t min, size_t max, const char *pattern, int required,
                                      struct awsjson_err *e);
const struct cJSON *kinesis_codec_int(const struct cJSON *o, const char *member, const char *path,
                                      double min, double max, int required, struct awsjson_err *e);

/* ---------------------------------------------------------------- handlers */

/* Look a stream up from the request (StreamName or StreamARN); answers the error itself and
 * returns NULL when absent. Release with datastream_unref. */
struct datastream *kinesis_lookup(struct kinesis *k, struct http_exchange *ex,
                                  const struct cJSON *root);
/* ResourceNotFoundException for a stream. */
void kinesis_reply_not_found(struct kinesis *k, struct http_exchange *ex, const char *name,
                             size_t len);
/* Shard position of "shardId-<12 digits>" in ds; -1 if none. */
long kinesis_shard_find(struct datastream *ds, const char *id, size_t len);

void kinesis_op_put_record(struct kinesis *k, struct http_exchange *ex, const struct cJSON *root,
                           int64_t start_ns);
void kinesis_op_put_records(struct kinesis *k, struct http_exchange *ex, const struct cJSON *root,
                            int64_t start_ns);
void kinesis_op_get_shard_iterator(struct kinesis *k, struct http_exchange *ex,
                                   const struct cJSON *root);
void kinesis_op_get_records(struct kinesis *k, struct http_exchange *ex, const struct cJSON *root);

#endif
