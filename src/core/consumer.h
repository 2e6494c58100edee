/*
 * consumer: the contract between a stream's runtime (core/service) and each consumer of its log:
 * delivery today; analytics, replication and secondary destinations next. A consumer reads the
 * log at its own pace from its own durable cursor, kept in its own state file
 * (<data-dir>/streams/<name>/consumers/<consumer>.state); the runtime trims the log below the
 * lowest cursor of all the stream's consumers, so a consumer that falls behind by the quota
 * holds the stream's quota ("Slow down." for producers) rather than losing records.
 *
 * Each consumer provides a const struct consumer_ops; main.c lists them for the service. The
 * runtime calls start, update and stop from control threads (create, UpdateDestination, delete,
 * shutdown), never concurrently for one consumer; the consumer runs on its own thread(s) and
 * calls env->advanced from there.
 */
#ifndef HY_CONSUMER_H
#define HY_CONSUMER_H

#include <stdint.h>

struct cJSON;
struct sink_ops;
struct stream_stats;
struct streamlog;
struct streamlog_append;

/* What the runtime gives a consumer. Borrowed: strings and dest for the duration of the call
 * (copy what you keep); log, stats and the sink until stop returns. */
struct consumer_env {
    const char *stream_name;
    uint64_t version;         /* stream VersionId (+1 per destination update) */
    int64_t create_ms;        /* with the name, the identity of this stream incarnation */
    const struct cJSON *dest; /* the stream's destination document, as persisted (catalog.h) */
    /* The stream's hydrant-only settings object (catalog.h "HydrantSettings"); NULL if none. */
    const struct cJSON *settings;
    struct streamlog *log;
    struct stream_stats *stats;
    const char *state_path; /* this consumer's cursor file (its directory exists) */
    const struct sink_ops *sink;
    void *sink_ctx;
    /* Report that every record below cursor is done with (durably, for this consumer). Any
     * thread; cheap; the runtime trims the log below the lowest cursor. */
    void (*advanced)(void *rt, uint64_t cursor);
    /* Report a failure an operator must see (log damage quarantined...): the service shows
     * details (copied; at most CATALOG_FAILURE_MAX bytes are kept) as the stream's
     * FailureDescription and persists it until acknowledged, replacing an earlier one. Any
     * thread; blocks on the catalog's fsync. May be NULL (then nothing is shown). */
    void (*report_failure)(void *rt, const char *details);
    /* Append to another stream of the service by name (service_append's contract: 0 and
     * a->done is called once, or an error: HY_ENOTFOUND for no such stream, HY_ECLOSED...).
     * Any thread. */
    int (*append_to)(void *rt, const char *stream, struct streamlog_append *a);
    void *rt;
};

struct consumer_ops {
    const char *name; /* [a-z0-9-]+: names the cursor file */
    /* 1 if the consumer runs for a stream with this destination and hydrant-only settings
     * (NULL when none); NULL = always. A consumer whose wants reads settings is stopped and
     * started again (never updated: it has no update op) when service_stream_set_settings
     * changes its entry. */
    int (*wants)(const struct cJSON *dest, const struct cJSON *settings);
    /* Check a destination document it would run for (create, update, --streams): 0, or
     * HY_EINVAL with *reason a static message for the user. NULL = accepts any. Pure. */
    int (*check)(const struct cJSON *dest, const char **reason);
    /* Start at the cursor in env->state_path (created if missing). 0 and *state, or an error. */
    int (*start)(const struct consumer_env *env, void **state);
    /* The destination or version changed (UpdateDestination). 0 or an error (then it applies at
     * the next start). */
    int (*update)(void *state, const struct consumer_env *env);
    /* Current cursor: every record below it is done with. Thread-safe. */
    uint64_t (*cursor)(void *state);
    /* Stop; with flush, first finish everything durable in the log. Frees state and returns
     * the final cursor. */
    uint64_t (*stop)(void *state, int flush);
};

#endif
