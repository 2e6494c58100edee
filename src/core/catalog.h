/*
 * catalog: the set of delivery streams, persisted and looked up by name.
 *
 * Each stream is one directory <data-dir>/streams/<name>/ holding stream.json (written with
 * fsutil_write_atomic, so a crash leaves the old or the new version, never a torn one) next to
 * the stream's log/ and its consumers' cursor files. stream.json:
 *
 *     {"Format":1, "DeliveryStreamName":"clicks", "DeliveryStreamType":"DirectPut",
 *      "VersionId":"1", "CreateTimestampMs":1700000000000, "LastUpdateTimestampMs":...,
 *      "DeliveryStreamStatus":"ACTIVE", "StreamId":"<16 hex>",
 *      "DestinationId":"destinationId-000000000001",
 *      "DeliveryStreamEncryptionConfiguration":{"Status":"DISABLED"},   or, while encryption
 *          is on, {"Status":"ENABLED","KeyType":"AWS_OWNED_CMK"|"CUSTOMER_MANAGED_CMK",
 *          "KeyARN":"..." (customer keys only)}
 *      "Tags":[{"Key":"k","Value":"v"}, ...],          sorted by key
 *      "Destination":{"Kind":"ExtendedS3", "RoleARN":..., "BucketARN":..., ...},
 *      "FailureDescription":{"Type":"UNKNOWN_ERROR","Details":"..."},  only while one is set
 *      "HydrantSettings":{"analytics":{...}}}    hydrant-only settings by consumer, when any
 *
 * The catalog is persistence plus lookup: it owns struct catalog_stream objects (refcounted),
 * but never opens logs or starts consumers; the service (core/service.h) wires the runtime.
 * Deleting renames the directory to a hidden ".deleted-*" name first, so a crash half-way through
 * the removal never leaves a half-stream that would be loaded again.
 *
 * Threads: every call is thread-safe. Persisted fields of a stream are guarded by the catalog
 * lock (catalog_lock/catalog_unlock); the runtime is the service's business.
 */
#ifndef HY_CATALOG_H
#define HY_CATALOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct buf;
struct catalog;

/* Firehose: DeliveryStreamStatus values hydrant uses (CREATING_FAILED/DELETING_FAILED are
 * never entered: a stream whose log cannot be opened is not created). */
enum catalog_status {
    CATALOG_STATUS_CREATING = 0,
    CATALOG_STATUS_ACTIVE,
    CATALOG_STATUS_DELETING,
};

/* Firehose uses this id for a stream's only destination. */
#define CATALOG_DESTINATION_ID "destinationId-000000000001"
#define CATALOG_NAME_MAX 64
/* Firehose DeliveryStreamFailureType for failures hydrant reports (log damage). */
#define CATALOG_FAILURE_TYPE "UNKNOWN_ERROR"
/* Firehose: AWSKMSKeyARN is at most 512 characters. */
#define CATALOG_KEY_ARN_MAX 512
/* Bound of a FailureDescription's Details (bytes, excluding the NUL). */
#define CATALOG_FAILURE_MAX 2048

struct catalog_stream {
    /* Persisted; read and written under the catalog lock. */
    char name[CATALOG_NAME_MAX + 1];
    uint64_t version;  /* VersionId, starts at 1, +1 per UpdateDestination */
    int64_t create_ms; /* CreateTimestamp, epoch ms */
    int64_t update_ms; /* LastUpdateTimestamp, epoch ms */
    enum catalog_status status;
    uint64_t stream_id; /* identity of this incarnation (keyname_stream_id) */
    struct cJSON *dest; /* destination config incl. "Kind"; owned, never NULL once saved */
    struct cJSON *tags; /* array of {"Key","Value"}, sorted by key; owned, never NULL */
    /* FailureDescription.Details (Type CATALOG_FAILURE_TYPE) reported by a consumer and kept
     * until an operator acknowledges it; owned, NULL when none. */
    char *failure;
    /* Encryption at rest (DeliveryStreamEncryptionConfiguration): on or off, and with which
     * key: hydrant's master key (AWS_OWNED_CMK) or the customer key named by enc_key_arn. */
    int enc_on;
    int enc_customer;
    char enc_key_arn[CATALOG_KEY_ARN_MAX + 1];
    /* hydrant-only settings (never in an AWS shape), an object keyed by consumer name, e.g.
     * {"analytics":{...}}; owned, NULL when none. Consumers read them (consumer.h). */
    struct cJSON *settings;

    /* Runtime, owned by the service (core/service.c): its log and consumers. Set before the
     * stream can be looked up; runtime_free (if set) runs when the last reference goes. */
    void *runtime;
    void (*runtime_free)(void *runtime);
    atomic_int refs;
};

/* Open the catalog in data_dir: creates <data_dir>/streams if needed and loads every stream.json
 * (entries that cannot be read are logged and skipped, their files left alone). Blocks on disk.
 * Returns 0 and sets *out (free with catalog_free), or a negative error (-EACCES, -ENOTDIR...). */
int catalog_open(const char *data_dir, struct catalog **out);
/* Drop the catalog's references to its streams and free it. Runtime fields must be closed. */
void catalog_free(struct catalog *c);
/* A new stream object: refs 1, status CREATING, version 1, empty tags, no dest.
 * NULL if the name is longer than CATALOG_NAME_MAX or on allocation failure. */
struct catalog_stream *catalog_stream_new(const char *name);
void catalog_stream_ref(struct catalog_stream *s);
/* Release a reference; the last one frees the object (and, through runtime_free, its runtime,
 * which the service stops first). */
void catalog_stream_unref(struct catalog_stream *s);

void catalog_lock(struct catalog *c);
void catalog_unlock(struct catalog *c);

/* Persist s and add it (the catalog takes its own reference). Returns 0, HY_EEXIST if the name
 * is taken (or its directory exists), HY_E2BIG if max_streams are already there, or a disk
 * error. Takes the lock itself; blocks on fsync. */
int catalog_insert(struct catalog *c, struct catalog_stream *s, size_t max_streams);
/* Rewrite s's stream.json from its fields. Caller holds the catalog lock. 0 or an error. */
int catalog_save(struct catalog *c, struct catalog_stream *s);
/* Look a stream up by name. Returns a new reference (release with catalog_stream_unref) or
 * NULL. */
struct catalog_stream *catalog_get(struct catalog *c, const char *name, size_t name_len);
/* Forget s and remove its directory (renamed away first, then deleted). Returns 0 or an error;
 * s is forgotten even if the removal fails (logged). Takes the lock itself. */
int catalog_remove(struct catalog *c, struct catalog_stream *s);
/* Every stream, sorted by name, each with a new reference. Free with catalog_snapshot_free.
 * Returns 0 or HY_ENOMEM. */
int catalog_snapshot(struct catalog *c, struct catalog_stream ***out, size_t *n);
void catalog_snapshot_free(struct catalog_stream **v, size_t n);

/* Append "<data_dir>/streams/<name>" (+ "/" + leaf when leaf is not NULL) to out. */
int catalog_stream_path(const struct catalog *c, const char *name, const char *leaf,
                        struct buf *out);

/* Serialise the persisted fields as stream.json text (caller holds the lock if s is shared). */
int catalog_stream_to_json(const struct catalog_stream *s, struct buf *out);
/* Parse stream.json text into a new stream object (refs 1). Returns 0, HY_EBADMSG for anything
 * malformed, or HY_ENOMEM. */
int catalog_stream_from_json(const char *text, size_t len, struct catalog_stream **out);
/* Route cJSON's allocations through hy_malloc/hy_free (cJSON_InitHooks), once per process;
 * thread-safe (pthread_once). catalog_open calls it; the api calls it before parsing. */
void catalog_json_init(void);
/* "CREATING"/"ACTIVE"/"DELETING". */
const char *catalog_status_name(enum catalog_status st);

#endif
