/*
 * keyname: S3 object key naming for delivered batches (firehose-reference.md sections 1.3, 1.4).
 *
 *     key = <evaluated prefix> <stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<id>
 *
 * The prefix may hold expressions !{timestamp:<pattern>}, !{firehose:random-string} and (error
 * prefixes only) !{firehose:error-output-type}. NULL or "" means the default "yyyy/MM/dd/HH/";
 * a prefix without a timestamp expression gets "yyyy/MM/dd/HH/" appended, as Firehose does.
 * Every timestamp (prefix and suffix) is the arrival time of the batch's first (oldest) record, in
 * UTC or the stream's CustomTimeZone (utc_offset_s).
 *
 * Unlike Firehose, nothing here is random: <id> (UUID-shaped) and each "random-string" are hashed
 * from (stream identity, first seq) only, so a batch's key is known when the batch opens (before
 * its cut), distinct batches of one stream incarnation never share a key, and a redelivery after
 * a crash overwrites the object instead of duplicating it (delivery.c explains the protocol).
 *
 * Pure functions over caller memory; thread-safe.
 */
#ifndef HY_KEYNAME_H
#define HY_KEYNAME_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define KEYNAME_ID_LEN 36     /* 8-4-4-4-12 lowercase hex */
#define KEYNAME_RANDOM_LEN 11 /* like Firehose's "046b6c7f-0b" */
#define KEYNAME_PREFIX_MAX 1024
#define KEYNAME_LAMBDA_MARK '\1' /* first byte of a Lambda partition key's name */

/* What names one batch's object: everything known when the batch opens at its first record. */
struct keyname_batch {
    const char *stream_name;
    uint64_t version;         /* stream VersionId */
    uint64_t stream_id;       /* identity of this incarnation (keyname_stream_id) */
    uint64_t first_seq;       /* sequence number of the batch's first record */
    int64_t first_arrival_ms; /* epoch ms the first record arrived */
    /* Dynamic partitioning: the record's partition keys as "name\0value\0" pairs
     * (pipeline/jqextract.h), which !{partitionKeyFromQuery:name} evaluates to; keys from a
     * Lambda function's metadata.partitionKeys are stored with KEYNAME_LAMBDA_MARK before their
     * name and feed !{partitionKeyFromLambda:name}. NULL when dynamic partitioning is off (then
     * those expressions are HY_EINVAL). */
    const char *part_keys;
    size_t n_part_keys;
    /* CustomTimeZone: seconds east of UTC at first_arrival_ms (0 = UTC); every timestamp of
     * the key (prefix and suffix) is local time in that zone. */
    int32_t utc_offset_s;
};

/* Identity of a stream incarnation from its name and creation time (epoch ms; 0 if unknown), so
 * a stream deleted and created again under the same name does not reuse object ids. */
uint64_t keyname_stream_id(const char *stream_name, int64_t create_ms);

/* Write the batch's UUID-shaped id (KEYNAME_ID_LEN chars plus NUL) to out. Deterministic: it
 * depends only on stream_id and first_seq. */
void keyname_batch_id(const struct keyname_batch *r, char out[KEYNAME_ID_LEN + 1]);

/* Append the evaluated prefix to out, including the appended default timestamp when the prefix
 * has none. error_output_type is the value of !{firehose:error-output-type} (NULL for data
 * prefixes, where that expression is HY_EINVAL). Returns 0, HY_EINVAL for a bad prefix, or
 * HY_E2BIG/HY_ENOMEM from out (which then may hold part of the prefix). */
int keyname_prefix_eval(const char *prefix, const struct keyname_batch *r,
                        const char *error_output_type, struct buf *out);

/* Append the full object key for batch r under prefix to out. Errors as keyname_prefix_eval. */
int keyname_object_key(const char *prefix, const struct keyname_batch *r, struct buf *out);

/* Append the full key of an error object: under error_prefix when it is set, else under
 * "<prefix><error_output_type>/" plus the default timestamp (Firehose's rule when
 * ErrorOutputPrefix is null). Errors as keyname_prefix_eval. */
int keyname_error_key(const char *prefix, const char *error_prefix, const char *error_output_type,
                      const struct keyname_batch *r, struct buf *out);

/* Fill *out to name the error object that quarantines a damaged span of a stream's log, found at
 * byte offset of the log's location (for the WAL: the segment's first seq). Its id is hashed from
 * the stream identity and (location, offset) instead of a first record, so the same span always
 * gets the same id and no data object's id. when_ms gives the key's timestamps. Borrows
 * stream_name. Pass the result to keyname_error_key with error type "corrupted-log". */
void keyname_damage_batch(const char *stream_name, uint64_t version, uint64_t stream_id,
                          uint64_t location, uint64_t offset, int64_t when_ms,
                          struct keyname_batch *out);

/* A derived stream identity for the objects of one partition (p = the partition's key bytes) or
 * one error output type of a batch: objects of different partitions starting at the same first
 * seq get different ids, and the same partition of a replayed batch the same id. */
uint64_t keyname_derive_id(uint64_t stream_id, const void *p, size_t len);

/* Check one Prefix (is_error_prefix 0) or ErrorOutputPrefix (1) the way CreateDeliveryStream
 * does. Returns 0, or HY_EINVAL with *reason set to a static message for the API reply. */
int keyname_prefix_validate(const char *prefix, int is_error_prefix, const char **reason);

/* Check a Prefix / ErrorOutputPrefix pair: each as above, and when Prefix has any expression,
 * ErrorOutputPrefix must be set and contain !{firehose:error-output-type}. 0 or HY_EINVAL. */
int keyname_prefixes_validate(const char *prefix, const char *error_prefix, const char **reason);

/* The same with dynamic partitioning on or off: on, !{partitionKeyFromQuery:k} is allowed in
 * Prefix (never in ErrorOutputPrefix) and ErrorOutputPrefix is required. When evaluating, a key
 * the record does not have is HY_ENOTFOUND. */
int keyname_prefixes_validate_dp(const char *prefix, const char *error_prefix, int dynamic,
                                 const char **reason);

#endif
