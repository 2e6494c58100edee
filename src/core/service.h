/*
 * service: hydrant as a product, below every protocol. It owns the catalog of streams, each
 * stream's runtime (its log and its consumers), the sink the consumers write through, start-up
 * recovery and ordered shutdown. Fronts (the folders of src/api/) translate their protocol into
 * these calls and the HY_E* results back into their protocol's errors; nothing here knows a request
 * format or a status code.
 *
 * A stream's definition is its destination document (a cJSON tree in hydrant's persisted form,
 * core/catalog.h) plus tags; fronts build and validate documents, consumers read them.
 *
 * Lifecycle of a stream: create persists it (CREATING), opens its log, starts every consumer
 * that wants it, and marks it ACTIVE before returning. Delete marks it DELETING (appends are
 * refused from then on) and returns; a background thread lets every consumer finish what is
 * durable, closes the log and removes the stream; a restart finishes an interrupted delete the
 * same way, so no acknowledged record is dropped by a delete. Shutdown waits for deletes, stops
 * every consumer with a final flush and closes every log.
 *
 * Threads: everything is thread-safe; service_open/service_close on the main thread. Calls that
 * persist block on fsync; service_append never blocks.
 */
#ifndef HY_SERVICE_H
#define HY_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/catalog.h"

struct cJSON;
struct consumer_ops;
struct service;
struct service_stream;
struct sink_ops;
struct stream_stats;
struct streamlog_append;
struct streamlog_backend;
struct streamlog_damage_stats;
struct seal_ring;

/* Defaults: a stream's log quota, and the streams allowed (Firehose: 5,000 per Region). */
#define SERVICE_DEFAULT_QUOTA_BYTES (1ull << 30)
#define SERVICE_DEFAULT_MAX_STREAMS 5000

struct service_config {
    const char *data_dir; /* required */
    uint64_t quota_bytes; /* per stream: retained log bytes; 0 = SERVICE_DEFAULT_QUOTA_BYTES */
    size_t max_streams;   /* 0 = SERVICE_DEFAULT_MAX_STREAMS */
    int append_wait_ms;   /* how long an append may wait for room in the log; 0 = 5000 */
    const struct streamlog_backend *log_backend; /* required */
    const struct consumer_ops *const *consumers; /* every stream runs those that want it */
    size_t nconsumers;
    const struct sink_ops *sink; /* what consumers write objects through */
    void *sink_ctx;
    struct seal_ring *ring; /* encryption keys (stream/seal.h); NULL: encryption refused */
};

/* Recover the sink (sink_ops.recover), load the catalog from <data_dir>/streams, open every
 * stream's log and start its consumers, finish deletes interrupted by a crash. Blocks on disk.
 * 0 and *out, or a negative error (-EACCES, -ENOTDIR, HY_ENOMEM...). */
int service_open(const struct service_config *cfg, struct service **out);
/* Ordered shutdown (wait for deletes, flush every consumer, close every log), then free.
 * Call after every front stopped calling in. NULL is a no-op. */
void service_close(struct service *svc);
/* Readiness, for health checks: 1 between main's set_ready(1) and shutdown. */
void service_set_ready(struct service *svc, int ready);
int service_ready(struct service *svc);
/* How many streams may exist (service_stream_create answers HY_E2BIG past it). */
size_t service_max_streams(struct service *svc);

/* A stream by name (len bytes, compared whole). 0 and a new reference in *out, or
 * HY_ENOTFOUND. Release with service_stream_unref. */
int service_stream_get(struct service *svc, const char *name, size_t len,
                       struct service_stream **out);
void service_stream_ref(struct service_stream *st);
void service_stream_unref(struct service_stream *st);

/* Ask every consumer that would run for dest whether it can: 0, or HY_EINVAL with *reason (a
 * static message) from the first that cannot. Fronts call it before create and update. */
int service_dest_check(struct service *svc, const struct cJSON *dest, const char **reason);

/* Create a stream (name: 1 to CATALOG_NAME_MAX bytes, already validated by the front). Takes
 * ownership of dest and tags (tags may be NULL: none) whatever it returns. 0 once ACTIVE;
 * HY_EEXIST, HY_E2BIG (max_streams reached), HY_ENOMEM or a disk error. */
int service_stream_create(struct service *svc, const char *name, struct cJSON *dest,
                          struct cJSON *tags);
/* Start deleting st (see the lifecycle above). 0 (also when already DELETING), HY_EBUSY while
 * it is CREATING. */
int service_stream_delete(struct service *svc, struct service_stream *st);

/* An edit of a document: build *next from cur (a new tree, or NULL for "no change"); 0, or a
 * negative error that the service returns unchanged (the front keeps its details in arg).
 * Runs under the catalog lock: no blocking, no service calls. */
typedef int (*service_edit_fn)(const struct cJSON *cur, struct cJSON **next, void *arg);
/* Replace the destination with edit's result if the stream is ACTIVE and its version is
 * expect_version; the version goes up by one and consumers are told. 0, HY_ECLOSED (not
 * ACTIVE), HY_EVERSION, edit's error, or a disk error (nothing changed). */
int service_stream_update_dest(struct service *svc, struct service_stream *st,
                               uint64_t expect_version, service_edit_fn edit, void *arg);
/* Replace the tags (an array of {"Key","Value"}) with edit's result. 0, HY_ECLOSED (DELETING),
 * edit's error, or a disk error (nothing changed). */
int service_stream_edit_tags(struct service *svc, struct service_stream *st, service_edit_fn edit,
                             void *arg);

/* Set (value: an object, owned whatever happens) or remove (value NULL) the stream's
 * hydrant-only setting named key (a consumer's name, e.g. "analytics"), durably, then stop and
 * start again the consumer of that name so it applies. The value was validated by the front.
 * 0 (1 when removing found none), HY_ECLOSED (not ACTIVE), HY_ENOMEM or a disk error (nothing
 * changed). Blocks while the consumer stops and starts. */
int service_stream_set_settings(struct service *svc, struct service_stream *st, const char *key,
                                struct cJSON *value);

/* A consistent copy of a stream's persisted fields. Free with service_stream_info_fini. */
struct service_stream_info {
    char name[CATALOG_NAME_MAX + 1];
    enum catalog_status status;
    uint64_t version;
    int64_t create_ms;
    int64_t update_ms;
    uint64_t stream_id; /* identity of this incarnation (RecordIds, object ids) */
    struct cJSON *dest; /* owned copy */
    struct cJSON *tags; /* owned copy */
    char *failure;      /* owned copy of FailureDescription.Details; NULL when none */
    /* DeliveryStreamEncryptionConfiguration: persisted choice, and a runtime failure (the
     * key is not available: status ENABLING_FAILED, appends refused) as an owned copy. */
    int enc_on;
    int enc_customer;
    char enc_key_arn[CATALOG_KEY_ARN_MAX + 1];
    char *enc_failure;
    struct cJSON *settings; /* owned copy of the hydrant-only settings; NULL when none */
};
int service_stream_describe(struct service *svc, struct service_stream *st,
                            struct service_stream_info *out);
void service_stream_info_fini(struct service_stream_info *info);
/* Clear st's FailureDescription (an operator acknowledged it), durably. 1 if one was cleared,
 * 0 if none was set, or a disk error (then it stays). */
int service_stream_ack_failure(struct service *svc, struct service_stream *st);
/* Every stream's name, sorted. 0 with *names (free with service_names_free), or HY_ENOMEM. */
int service_stream_names(struct service *svc, char ***names, size_t *n);
void service_names_free(char **names, size_t n);

/* Encryption at rest for a stream's log (stream/seal.h). A choice of key: hydrant's master key
 * (customer 0, AWS_OWNED_CMK) or the --kms-keys key named key_arn (CUSTOMER_MANAGED_CMK). */
struct service_enc {
    int customer;
    const char *key_arn; /* customer keys only; at most CATALOG_KEY_ARN_MAX bytes */
};
/* service_stream_create, with the stream's log sealed from its first record when enc is not
 * NULL. HY_ENOKEY (nothing created) when the key is not available. */
int service_stream_create_enc(struct service *svc, const char *name, struct cJSON *dest,
                              struct cJSON *tags, const struct service_enc *enc);
/* Start sealing st's new records with enc's key (also to switch keys), durably. 0, HY_ENOKEY
 * (no such key), HY_ECLOSED (not ACTIVE), or a disk error (nothing changed). Blocks on fsync. */
int service_enc_start(struct service *svc, struct service_stream *st,
                      const struct service_enc *enc);
/* Store st's new records plain again, durably; records sealed before stay readable with their
 * keys. 0, HY_ECLOSED or a disk error. */
int service_enc_stop(struct service *svc, struct service_stream *st);

/* Append records to st's log (stream/streamlog.h: a->done is called once they are durable, or
 * refused). 0, or an error and done is never called: HY_ECLOSED (not ACTIVE), HY_ENOKEY (its
 * encryption key is not available: nothing is stored in clear instead), HY_EQUOTA,
 * HY_EBUSY ("Slow down."), HY_E2BIG, HY_ENOMEM. */
int service_append(struct service_stream *st, struct streamlog_append *a);
/* 1 when producers may not put into st (its source is a Kinesis data stream: the destination
 * has "Source"; fixed at create). */
int service_stream_no_puts(struct service_stream *st);
/* The stream's identity (stable for the reference's life). */
uint64_t service_stream_id(struct service_stream *st);
/* Counters (borrowed while the reference is held): fronts count ingestion, consumers delivery. */
struct stream_stats *service_stream_stats(struct service_stream *st);
/* Bytes the stream's log retains (0 when it is not open). */
uint64_t service_stream_log_bytes(struct service_stream *st);
/* Appends waiting for room in the stream's log (0 when it is not open). */
size_t service_stream_parked(struct service_stream *st);
/* Damage the stream's log found since it opened (streamlog_damage_stats; zeros when it is not
 * open). */
void service_stream_damage(struct service_stream *st, struct streamlog_damage_stats *out);

#endif
