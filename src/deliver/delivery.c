#include "deliver/delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/slotfile.h"
#include "deliver/keyname.h"
#include "pipeline/codec.h"
#include "pipeline/jqextract.h"
#include "pipeline/process.h"
#include "pipeline/tzone.h"
#include "core/consumer.h"
#include "core/stats.h"
#include "sink/sink.h"
#include "stream/streamlog.h"
#include "transform/lambdafn.h"

/*
 * Cursor state (the consumer's state file, consumers/delivery.state), a slot file (base/slotfile.h:
 * updated in place, one fdatasync per update, a torn update leaves the previous state) holding one
 * of:
 *
 *     {"next_seq":N}
 *     {"next_seq":F,"intent":{"first_seq":F,"bucket":"B","key":"K"}}
 *
 * either of them possibly followed by the last quarantine (see "Damaged spans" below):
 *
 *     ,"quarantine":{"location":S,"offset":O,"bucket":"B","key":"Q"}
 *
 * Every record below next_seq is in a durable object. An intent says "the batch starting at
 * record F goes to B/K"; it names no last record, because a batch is streamed into its object
 * while it is read and its cut is not known when it opens. (Files written before streaming also
 * hold "last_seq" in the intent; it is read as a hint for the replay's cut and otherwise
 * ignored.) Protocol per batch:
 *
 *     open at the first record F: K = key(stream identity, F, F's arrival, current target)
 *     store {next_seq F, intent {F, B, K}}           (before any byte of the object exists)
 *     sink open B/K, write records F.. as they are read, cut by the hints at some L
 *     sink commit                                    (object [F, L] durable and visible at K)
 *     store {next_seq L+1}                           (no intent)
 *     trim the log below L+1
 *
 * If the state holds an intent when a batch opens (found at start, or left by a failed sink
 * attempt), that batch starts at F and uses exactly B/K as stored, never recomputed, whatever
 * the target is now and wherever the new cut falls.
 *
 * Why every record ends up in exactly one visible object. Invariant: every record below
 * next_seq is in exactly one visible object, and records from next_seq on are in no visible
 * object except, while an intent {F, B, K} is pending, in the one at B/K.
 *   - Objects become visible only through commit, and only under a key stored in an intent
 *     first. Keys of different batches differ: K depends on the stream identity and F, and
 *     every batch of a stream incarnation starts at a different F. At most one intent exists
 *     at a time: a new one is stored only after the previous batch's cursor store.
 *   - The intent for F stays in the state until the cursor moves past the batch, so any crash,
 *     stop or sink failure between the intent store and the cursor store ends in a replay of F
 *     to B/K.
 *   - A visible object at B/K can hold [F, L_old] only if the process died (or stopped) after
 *     its commit and before the cursor store. The replay writes [F, L_new] to the same B/K, and
 *     commit replaces the object atomically: [F, L_old] disappears as [F, L_new] appears,
 *     whether L_new is below, at or above L_old. The cursor then moves to L_new + 1; records
 *     after L_new are read again and go to later objects, keyed by later first seqs.
 *   - An aborted writer (sink failure, stop without flush) leaves nothing visible.
 * The intent costs one state write per batch and the cursor one more; both are small fdatasyncs.
 *
 * Damaged spans (streamlog_reader_next answers STREAMLOG_DAMAGED: bytes of the log that are no
 * longer the frames written, seqs that cannot be read). The span's raw bytes and place go to
 * one error object under the error output ("corrupted-log"), and every intact record around it
 * is delivered as usual. Protocol per span, at place (S, O) = (location, byte offset):
 *
 *     commit the open batch, if any                  (the batch is cut before the span)
 *     if the state's quarantine is not (S, O): Q = error key(stream, (S, O), now, target)
 *        and store {next_seq, intent as it is, quarantine {S, O, B, Q}}
 *     sink open B/Q, write the span as JSON, commit (retried with backoff until it works)
 *     with no intent pending: store {next_seq past the span, quarantine ...}
 *     report the failure (FailureDescription) and count it
 *
 * The quarantine entry is durable before the object exists and the cursor passes the span
 * only after the object is committed, so a crash anywhere in between reads the span again
 * (the reader reports it once per pass) and rewrites the same B/Q, never a second object.
 * Cutting the batch first means at most one span is pending at a time, so one entry is enough;
 * the only exception is a span met while a failed batch's intent waits for its first record
 * (the log changed under a retry), where a second span right behind it would replace the entry
 * and a crash then could name the first span's object twice.
 */
#define CURSOR_MAX_LEN SLOTFILE_MAX_PAYLOAD
#define KEY_MAX_LEN 4096
/* Records are copied into this buffer (the reader's view dies at its next read) and handed to
 * the sink when it fills: the only per-batch memory, whatever the size hint. A record larger
 * than the room left goes out with the buffer in one writev, uncopied. */
#define STAGING_LEN (1024u * 1024)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* streamlog_wait cannot see a streamlog_wake that came before it started waiting, so idle waits are
 * kept short: a stop is noticed within this time even if its wake was missed. */
#define IDLE_WAIT_MAX_MS 250
/* Firehose's error output type for this kind of failure (hydrant's own). */
#define ERROR_TYPE_CORRUPTED_LOG "corrupted-log"
/* Dynamic partitioning. Each open partition stages this much before its writer (the sink
 * buffers the rest on disk), so memory per partition is this plus its codec's fixed state. */
#define PART_STAGING_LEN (64u * 1024)
/* Firehose: an evaluated Prefix is at most 512 characters. */
#define PART_PREFIX_MAX 512
/* A partitioned batch is cut when one partition reaches the size hint or the interval passes;
 * this caps the log range one batch holds whatever the number of partitions. */
#define PART_BATCH_MAX_BYTES (128ull << 20)
/* Firehose's error output type and codes for records that cannot be partitioned. */
#define ERROR_TYPE_PARTITIONING "partitioning-failed"
#define ERR_CODE_EXTRACTION "DynamicPartitioning.MetadataExtractionFailed"
#define ERR_CODE_PARTITION_LIMIT "DynamicPartitioning.ActivePartitionsLimitExceeded"
#define ERR_CODE_PREFIX "DynamicPartitioning.PrefixEvaluationFailed"
/* One error record: base64 of the largest record (a decompressed one) plus fields. */
#define ERR_LINE_MAX (PROCESS_MAX_DECOMPRESSED / 3 * 4 + (64u << 10))
/* Raw bytes base64-encoded per sink write: a multiple of 3 whose encoding fills staging. */
#define QUAR_CHUNK_LEN (STAGING_LEN / 4 * 3)

/* Private copy of a delivery_target. */
struct target {
    char *stream_name;
    char *bucket;
    char *prefix;
    char *error_prefix;
    char *extension; /* FileExtension, or the codec's default */
    uint64_t version;
    uint64_t size_bytes;
    int interval_s;
    uint64_t stream_id;
    enum codec_kind codec;
    int append_delimiter;
    int partitioned; /* several objects per batch: dynamic partitioning or processors */
    int dynamic;     /* DynamicPartitioningConfiguration.Enabled */
    struct process_opts process;
    struct tzone *tz; /* CustomTimeZone; NULL = UTC */
    char *jq_query;   /* MetadataExtractionQuery ("" when none) */
    uint32_t max_partitions;
    char *lambda_arn;    /* the Lambda processor's LambdaArn; NULL = none */
    char *backup_bucket; /* source record backup; NULL = off */
    char *backup_prefix;
    char *backup_ext;
    enum codec_kind backup_codec;
    int lambda_retries;
    uint64_t lambda_buffer_bytes;
};

struct delivery {
    char *cursor_path;
    struct slotfile state; /* the cursor state file, open for the consumer's life */
    const struct sink_ops *sink;
    void *sink_ctx;
    struct streamlog *w;
    void (*advanced)(void *rt, uint64_t cursor); /* the runtime trims below the lowest cursor */
    void (*report_failure)(void *rt, const char *details); /* may be NULL */
    void *rt;
    struct stream_stats *stats;
    pthread_t thread;

    pthread_mutex_t mu;         /* guards next_target and wakes backoff sleeps */
    pthread_cond_t cond;        /* CLOCK_MONOTONIC; signalled by delivery_stop */
    struct target *next_target; /* [mu] set by delivery_update, taken at the next batch */
    _Atomic int stop;
    _Atomic int flush;
    _Atomic uint64_t cursor; /* every seq below is delivered */

    /* Consumer thread only. */
    struct target *cur; /* target of the current batch */
    struct streamlog_reader *reader;
    uint64_t read_seq; /* next seq the reader returns */

    /* The pending intent: durable in the state file (or found there at start) and not yet
     * followed by its cursor store. The batch starting at intent_first goes to exactly
     * intent_bucket/intent_key, however many attempts it takes. */
    int has_intent;
    uint64_t intent_first;
    struct buf intent_bucket;
    struct buf intent_key;
    enum codec_kind intent_codec; /* the codec the intent's object is written with */
    /* A partitioned intent names no key: each partition's key is derived from the batch's
     * first seq and the partition's keys, under these prefixes (kept from when the intent was
     * made, so a replay names the same objects whatever the target is now). sealed_last is the
     * batch's last record once its cut is durable (0 = not sealed yet): a replay then reads
     * exactly to it, since partition objects are committed one by one. */
    int intent_partitioned;
    uint64_t sealed_last;
    struct buf intent_prefix;
    struct buf intent_error_prefix;
    struct buf intent_ext;
    /* The source record backup of a partitioned intent (intent_backup set): its own bucket,
     * prefix, extension and codec, kept like the prefixes above. */
    int intent_backup;
    struct buf intent_backup_bucket;
    struct buf intent_backup_prefix;
    struct buf intent_backup_ext;
    enum codec_kind intent_backup_codec;
    int64_t intent_opened_ms; /* monotonic time its batch first opened; 0 = not yet. The
                               * interval counts from here, across failed attempts. */
    uint64_t refill_last;     /* last seq a failed attempt reached: interval cuts of the retry
                               * wait until it gets as far again, so a retry is not cut short */
    int backoff_ms;           /* next sink-failure backoff; reset by a commit */
    int seal_reported;        /* a record that cannot be opened was reported (once per run) */
    uint64_t stored_next;     /* next_seq the state file holds */

    /* The last quarantined span's place and object, durable in the state file before the
     * object is written, so the span met again on a replay goes to the same key. */
    int has_quar;
    uint64_t quar_location;
    uint64_t quar_offset;
    struct buf quar_bucket;
    struct buf quar_key;

    /* The open batch: records batch_first..batch_last streamed into writer. */
    void *writer;        /* NULL when no batch is open */
    struct codec *codec; /* compresses the open batch (kind intent_codec); kept across batches */
    int delimit;         /* the open batch appends a newline to each record */
    int in_batch;        /* a batch is open (a writer, or partitions) */

    /* The open partitioned batch: its partitions (data and error objects), an index over them,
     * the compiled MetadataExtraction query, and scratch buffers. */
    struct part **parts;
    size_t n_parts;
    size_t n_data_parts;
    size_t parts_cap;
    int32_t *part_index; /* open addressing over parts, -1 = empty */
    size_t index_cap;    /* power of two */
    uint64_t max_part_len;
    struct jqextract *jx;
    char *jx_query;                   /* the query jx was compiled from */
    struct process *proc;             /* the current target's processors */
    const struct target *proc_target; /* the target proc was built for */
    struct buf keys;                  /* one record's partition keys */
    struct buf errline;               /* one error record */
    struct buf staging;
    /* The Lambda processor's buffer in the open batch: records (after the built-in processors)
     * waiting for an invocation round, their bytes, and the round's event and response. */
    struct lam_rec *lam;
    size_t n_lam, lam_cap;
    struct buf lam_data;
    struct buf lam_event;
    struct buf lam_resp;
    struct lambdafn_response lam_parsed;
    uint64_t lam_round; /* invocations of the open batch so far: names the next one */
    uint64_t batch_first;
    uint64_t batch_last;
    uint64_t batch_records;
    uint64_t batch_len;      /* object bytes so far, staged ones included */
    int64_t batch_oldest_ms; /* min arrival in batch (wall clock) */
};

/* ---------------------------------------------------------------------------------------------
 * Targets.
 */

static void target_free(struct target *t)
{
    if (!t)
        return;
    hy_free(t->stream_name);
    hy_free(t->bucket);
    hy_free(t->prefix);
    hy_free(t->error_prefix);
    hy_free(t->extension);
    hy_free(t->jq_query);
    hy_free(t->lambda_arn);
    hy_free(t->backup_bucket);
    hy_free(t->backup_prefix);
    hy_free(t->backup_ext);
    hy_free((void *)t->process.delimiter);
    tzone_free(t->tz);
    hy_free(t);
}

static struct target *target_copy(const struct delivery_target *src)
{
    struct target *t = hy_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->stream_name = hy_strdup(src->stream_name ? src->stream_name : "");
    t->bucket = hy_strdup(src->bucket ? src->bucket : "");
    t->prefix = hy_strdup(src->prefix ? src->prefix : "");
    t->error_prefix = hy_strdup(src->error_prefix ? src->error_prefix : "");
    /* The consumer's check refused unknown names; an old catalog entry falls back to none. */
    if (!src->compression || codec_from_name(src->compression, &t->codec) < 0)
        t->codec = CODEC_NONE;
    t->extension =
        hy_strdup(src->file_extension && src->file_extension[0] ? src->file_extension
                                                                : codec_extension(t->codec));
    t->append_delimiter = src->append_delimiter;
    t->dynamic = src->partitioned;
    t->process = src->process;
    t->process.delimiter = NULL;
    if (src->process.delimiter_len) {
        char *dl = hy_malloc(src->process.delimiter_len);
        if (dl)
            memcpy(dl, src->process.delimiter, src->process.delimiter_len);
        t->process.delimiter = dl;
    }
    /* The consumer's check refused unknown zones; an old catalog entry falls back to UTC. */
    int tz_rc = 0;
    if (src->time_zone && src->time_zone[0] && strcmp(src->time_zone, "UTC") != 0 &&
        (tz_rc = tzone_open(src->time_zone, &t->tz)) < 0 && tz_rc != HY_ENOMEM)
        LOG_ERROR("delivery", "CustomTimeZone not usable, using UTC", "stream=%s err=%s",
                  t->stream_name ? t->stream_name : "", hy_errname(tz_rc));
    if (tz_rc == HY_ENOMEM) {
        target_free(t);
        return NULL;
    }
    t->lambda_retries = src->lambda_retries < 0 ? 0 : src->lambda_retries;
    t->lambda_buffer_bytes = src->lambda_buffer_bytes ? src->lambda_buffer_bytes : (1u << 20);
    if (src->lambda_arn && src->lambda_arn[0] && !(t->lambda_arn = hy_strdup(src->lambda_arn))) {
        target_free(t);
        return NULL;
    }
    if (src->backup_bucket && src->backup_bucket[0]) {
        if (!src->backup_compression ||
            codec_from_name(src->backup_compression, &t->backup_codec) < 0)
            t->backup_codec = CODEC_NONE;
        t->backup_bucket = hy_strdup(src->backup_bucket);
        t->backup_prefix = hy_strdup(src->backup_prefix ? src->backup_prefix : "");
        t->backup_ext = hy_strdup(codec_extension(t->backup_codec));
        if (!t->backup_bucket || !t->backup_prefix || !t->backup_ext) {
            target_free(t);
            return NULL;
        }
    }
    t->partitioned = t->dynamic || t->process.decompress || t->process.cwl_extract ||
                     t->process.deagg != PROCESS_DEAGG_NONE || t->lambda_arn || t->backup_bucket;
    t->jq_query = hy_strdup(src->jq_query ? src->jq_query : "");
    t->max_partitions = src->max_partitions ? src->max_partitions : DELIVERY_DEFAULT_PARTITIONS;
    if (!t->stream_name || !t->bucket || !t->prefix || !t->error_prefix || !t->extension ||
        !t->jq_query || (t->process.delimiter_len && !t->process.delimiter)) {
        target_free(t);
        return NULL;
    }
    t->version = src->version;
    /* A zero size hint would cut after every record; Firehose's minimum is 1 MiB. */
    t->size_bytes = src->size_bytes ? src->size_bytes : 1;
    t->interval_s = src->interval_s < 0 ? 0 : src->interval_s;
    t->stream_id = keyname_stream_id(t->stream_name, src->create_ms);
    return t;
}

/* Compile the current target's MetadataExtraction query unless it is compiled already. A query
 * that does not compile (the consumer's check refuses them, so an old catalog entry) leaves jx
 * NULL: every record then goes to the error output. */
static void jx_refresh(struct delivery *d)
{
    const char *reason = NULL;
    if (d->proc_target != d->cur) {
        /* The processors of a new target (NULL on allocation failure: part_append then fails
         * the batch, which is read again after a backoff, and this retries). */
        process_free(d->proc);
        d->proc = process_new(&d->cur->process);
        d->proc_target = d->proc ? d->cur : NULL;
    }
    if (!d->cur->dynamic || (d->jx_query && strcmp(d->jx_query, d->cur->jq_query) == 0))
        return;
    jqextract_free(d->jx);
    d->jx = NULL;
    hy_free(d->jx_query);
    d->jx_query = hy_strdup(d->cur->jq_query);
    /* No query: the keys come from the Lambda function alone (or, without one, every record
     * goes to the error output). */
    if (!d->cur->jq_query[0])
        return;
    if (d->jx_query && jqextract_new(d->cur->jq_query, &d->jx, &reason) < 0)
        LOG_ERROR("delivery",
                  "MetadataExtractionQuery does not compile; records go to the error output",
                  "stream=%s", d->cur->stream_name);
}

/* Called when a batch opens: adopt a pending delivery_update. */
static void target_refresh(struct delivery *d)
{
    pthread_mutex_lock(&d->mu);
    struct target *t = d->next_target;
    d->next_target = NULL;
    pthread_mutex_unlock(&d->mu);
    if (t) {
        target_free(d->cur);
        d->cur = t;
    }
    jx_refresh(d);
}

/* ---------------------------------------------------------------------------------------------
 * Cursor file.
 */

/* Durably store next_seq, with the pending intent when with_intent is set. One fdatasync. */
static int cursor_store(struct delivery *d, uint64_t next_seq, int with_intent)
{
    struct buf b;
    int rc;
    buf_init(&b, CURSOR_MAX_LEN);
    rc = buf_printf(&b, "{\"next_seq\":%" PRIu64, next_seq);
    if (rc == 0 && with_intent) {
        rc = buf_printf(&b, ",\"intent\":{\"first_seq\":%" PRIu64 ",\"bucket\":", d->intent_first);
        if (rc == 0)
            rc = buf_append_json_str(&b, d->intent_bucket.data, d->intent_bucket.len);
        if (rc == 0)
            rc = buf_append_str(&b, ",\"key\":");
        if (rc == 0)
            rc = buf_append_json_str(&b, d->intent_key.data, d->intent_key.len);
        if (rc == 0 && d->intent_codec != CODEC_NONE)
            rc = buf_printf(&b, ",\"codec\":\"%s\"", codec_name(d->intent_codec));
        if (rc == 0 && d->intent_partitioned) {
            rc = buf_append_str(&b, ",\"partitioned\":{\"prefix\":");
            if (rc == 0)
                rc = buf_append_json_str(&b, d->intent_prefix.data, d->intent_prefix.len);
            if (rc == 0)
                rc = buf_append_str(&b, ",\"error_prefix\":");
            if (rc == 0)
                rc = buf_append_json_str(&b, d->intent_error_prefix.data,
                                         d->intent_error_prefix.len);
            if (rc == 0)
                rc = buf_append_str(&b, ",\"ext\":");
            if (rc == 0)
                rc = buf_append_json_str(&b, d->intent_ext.data, d->intent_ext.len);
            if (rc == 0 && d->sealed_last)
                rc = buf_printf(&b, ",\"sealed_last\":%" PRIu64, d->sealed_last);
            if (rc == 0 && d->intent_backup) {
                rc = buf_append_str(&b, ",\"backup\":{\"bucket\":");
                if (rc == 0)
                    rc = buf_append_json_str(&b, d->intent_backup_bucket.data,
                                             d->intent_backup_bucket.len);
                if (rc == 0)
                    rc = buf_append_str(&b, ",\"prefix\":");
                if (rc == 0)
                    rc = buf_append_json_str(&b, d->intent_backup_prefix.data,
                                             d->intent_backup_prefix.len);
                if (rc == 0)
                    rc = buf_append_str(&b, ",\"ext\":");
                if (rc == 0)
                    rc = buf_append_json_str(&b, d->intent_backup_ext.data,
                                             d->intent_backup_ext.len);
                if (rc == 0)
                    rc = buf_printf(&b, ",\"codec\":\"%s\"}", codec_name(d->intent_backup_codec));
            }
            if (rc == 0)
                rc = buf_append_str(&b, "}");
        }
        if (rc == 0)
            rc = buf_append_str(&b, "}");
    }
    if (rc == 0 && d->has_quar) {
        rc = buf_printf(
            &b, ",\"quarantine\":{\"location\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"bucket\":",
            d->quar_location, d->quar_offset);
        if (rc == 0)
            rc = buf_append_json_str(&b, d->quar_bucket.data, d->quar_bucket.len);
        if (rc == 0)
            rc = buf_append_str(&b, ",\"key\":");
        if (rc == 0)
            rc = buf_append_json_str(&b, d->quar_key.data, d->quar_key.len);
        if (rc == 0)
            rc = buf_append_str(&b, "}");
    }
    if (rc == 0)
        rc = buf_append_str(&b, "}\n");
    if (rc == 0)
        rc = slotfile_write(&d->state, b.data, b.len);
    if (rc == 0)
        d->stored_next = next_seq;
    buf_fini(&b);
    return rc;
}

/* A JSON number that is an exact integer >= min (cJSON keeps doubles: exact below 2^53). */
static int json_u64(const cJSON *obj, const char *name, uint64_t min, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return HY_ECORRUPT;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

/* A JSON number that is an exact sequence number. */
static int json_seq(const cJSON *obj, const char *name, uint64_t *out)
{
    return json_u64(obj, name, 1, out);
}

/* Load the cursor state into d: the cursor, and the pending intent if there is one. An empty
 * slot file means a new stream (next_seq 1, no intent). */
static int cursor_load(struct delivery *d)
{
    size_t len;
    uint64_t next_seq = 1;
    cJSON *root = NULL;
    char *text = hy_malloc(SLOTFILE_MAX_PAYLOAD + 1);
    int rc = text ? slotfile_read(&d->state, text, SLOTFILE_MAX_PAYLOAD, &len) : HY_ENOMEM;

    if (rc < 0 || len == 0)
        goto out;
    rc = HY_ECORRUPT;
    root = cJSON_ParseWithLength(text, len);
    if (!root || json_seq(root, "next_seq", &next_seq) < 0)
        goto out;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "intent");
    if (it) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "bucket");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "key");
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(it, "codec");
        uint64_t first, last = 0;
        if (json_seq(it, "first_seq", &first) < 0 || !cJSON_IsString(b) || !cJSON_IsString(k))
            goto out;
        /* The object under the intent's key is written with the codec its name promises, even
         * if the destination's compression changed since (files without it: uncompressed). */
        d->intent_codec = CODEC_NONE;
        if (cn && (!cJSON_IsString(cn) || codec_from_name(cn->valuestring, &d->intent_codec) < 0))
            goto out;
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(it, "partitioned");
        if (pt) {
            const cJSON *pp = cJSON_GetObjectItemCaseSensitive(pt, "prefix");
            const cJSON *ep = cJSON_GetObjectItemCaseSensitive(pt, "error_prefix");
            const cJSON *ex = cJSON_GetObjectItemCaseSensitive(pt, "ext");
            if (!cJSON_IsString(pp) || !cJSON_IsString(ep) || !cJSON_IsString(ex))
                goto out;
            if (cJSON_GetObjectItemCaseSensitive(pt, "sealed_last") &&
                json_seq(pt, "sealed_last", &d->sealed_last) < 0)
                goto out;
            if ((rc = buf_append_str(&d->intent_prefix, pp->valuestring)) < 0 ||
                (rc = buf_append_str(&d->intent_error_prefix, ep->valuestring)) < 0 ||
                (rc = buf_append_str(&d->intent_ext, ex->valuestring)) < 0)
                goto out;
            rc = HY_ECORRUPT;
            const cJSON *bk = cJSON_GetObjectItemCaseSensitive(pt, "backup");
            if (bk) {
                const cJSON *bb = cJSON_GetObjectItemCaseSensitive(bk, "bucket");
                const cJSON *bp = cJSON_GetObjectItemCaseSensitive(bk, "prefix");
                const cJSON *be = cJSON_GetObjectItemCaseSensitive(bk, "ext");
                const cJSON *bc = cJSON_GetObjectItemCaseSensitive(bk, "codec");
                if (!cJSON_IsString(bb) || !cJSON_IsString(bp) || !cJSON_IsString(be) ||
                    !cJSON_IsString(bc) ||
                    codec_from_name(bc->valuestring, &d->intent_backup_codec) < 0)
                    goto out;
                if ((rc = buf_append_str(&d->intent_backup_bucket, bb->valuestring)) < 0 ||
                    (rc = buf_append_str(&d->intent_backup_prefix, bp->valuestring)) < 0 ||
                    (rc = buf_append_str(&d->intent_backup_ext, be->valuestring)) < 0)
                    goto out;
                rc = HY_ECORRUPT;
                d->intent_backup = 1;
            }
            d->intent_partitioned = 1;
        }
        /* Written before streaming: the old attempt's last record, a hint for the replay's cut. */
        if (cJSON_GetObjectItemCaseSensitive(it, "last_seq") &&
            (json_seq(it, "last_seq", &last) < 0 || last < first))
            goto out;
        if ((rc = buf_append_str(&d->intent_bucket, b->valuestring)) < 0 ||
            (rc = buf_append_str(&d->intent_key, k->valuestring)) < 0)
            goto out;
        d->has_intent = 1;
        d->intent_first = first;
        d->refill_last = last;
        next_seq = first; /* the file holds the same value */
    }
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quarantine");
    if (q) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(q, "bucket");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(q, "key");
        if (json_u64(q, "location", 0, &d->quar_location) < 0 ||
            json_u64(q, "offset", 0, &d->quar_offset) < 0 || !cJSON_IsString(b) ||
            !cJSON_IsString(k))
            goto out;
        if ((rc = buf_append_str(&d->quar_bucket, b->valuestring)) < 0 ||
            (rc = buf_append_str(&d->quar_key, k->valuestring)) < 0)
            goto out;
        d->has_quar = 1;
    }
    rc = 0;
out:
    if (rc == 0) {
        atomic_store(&d->cursor, next_seq);
        d->stored_next = next_seq;
    }
    cJSON_Delete(root);
    hy_free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Waiting.
 */

/* Sleep up to ms on the monotonic clock, returning early when delivery_stop is called. */
static void sleep_interruptible(struct delivery *d, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop)) {
        if (pthread_cond_timedwait(&d->cond, &d->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&d->mu);
}

/* One step of a retry loop: wait *backoff_ms (interruptibly) and double it, up to the cap.
 * Returns HY_ECLOSED if the consumer is stopping (then the caller gives up), else 0. */
static int backoff_step(struct delivery *d, int *backoff_ms)
{
    if (atomic_load(&d->stop))
        return HY_ECLOSED;
    sleep_interruptible(d, *backoff_ms);
    if (atomic_load(&d->stop))
        return HY_ECLOSED;
    *backoff_ms = *backoff_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : *backoff_ms * 2;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Reading.
 */

/* (Re)open the reader at d->read_seq, retrying while the log cannot serve it. */
static int reader_position(struct delivery *d)
{
    int backoff_ms = BACKOFF_MIN_MS;
    for (;;) {
        int rc;
        if (d->reader)
            rc = streamlog_reader_seek(d->reader, d->read_seq);
        else
            rc = streamlog_reader_open(d->w, d->read_seq, &d->reader);
        if (rc == 0)
            return 0;
        /* Most likely the log no longer holds read_seq (deleted or trimmed behind the cursor):
         * those records are lost to delivery and an operator must look. */
        LOG_ERROR("delivery", "cannot read the log at the cursor",
                  "stream=%s seq=%" PRIu64 " err=%s", d->cur->stream_name, d->read_seq,
                  hy_errname(rc));
        if (backoff_step(d, &backoff_ms))
            return HY_ECLOSED;
    }
}

/* The reader's next record (1), nothing yet (0), or a damaged span (STREAMLOG_DAMAGED). When
 * none follows, every seq below a durable position taken before a read that found nothing was
 * returned or does not exist (skipped by the log), so read_seq moves up to it. The position is
 * taken only then: it costs the log's lock, which the per-record path must not pay. */
static int next_record(struct delivery *d, struct streamlog_record *rec)
{
    int rc = streamlog_reader_next(d->reader, rec);
    if (rc != 0)
        return rc;
    uint64_t durable = streamlog_durable_next(d->w);
    rc = streamlog_reader_next(d->reader, rec);
    if (rc == 0 && durable > d->read_seq)
        d->read_seq = durable;
    return rc;
}

/* Read the next record, waiting up to wait_ms for one to become durable. 1 with *rec, 0 if
 * none, STREAMLOG_DAMAGED for a damaged span (streamlog_reader_damage; read_seq not yet moved
 * past it), or HY_ECLOSED if stopped while recovering from a read error. */
static int read_next(struct delivery *d, struct streamlog_record *rec, int wait_ms)
{
    int rc = next_record(d, rec);
    if (rc == 0 && wait_ms > 0 && !atomic_load(&d->stop)) {
        if (streamlog_wait(d->w, d->read_seq, wait_ms) == 1)
            rc = next_record(d, rec);
    }
    if (rc < 0) {
        LOG_ERROR("delivery", "log read failed", "stream=%s seq=%" PRIu64 " err=%s",
                  d->cur->stream_name, d->read_seq, hy_errname(rc));
        if ((rc == HY_ENOKEY || rc == HY_ECORRUPT) && !d->seal_reported && d->report_failure) {
            /* Encryption at rest: delivery waits at this record rather than skip it or write
             * anything in its place; the operator must see why. */
            char msg[256];
            snprintf(msg, sizeof msg,
                     "delivery is stopped at record %" PRIu64 ": it is sealed with a key hydrant "
                     "does not have or does not verify (%s); restart hydrant with that key",
                     d->read_seq, hy_strerror(rc));
            d->report_failure(d->rt, msg);
            d->seal_reported = 1;
        }
        sleep_interruptible(d, BACKOFF_MAX_MS / 10);
        if ((rc = reader_position(d)) < 0)
            return rc;
        return 0;
    }
    if (rc == 1) {
        /* Sequence numbers only grow; the log may skip some (damage, or never acknowledged). */
        HY_ASSERT(rec->seq >= d->read_seq);
        d->read_seq = rec->seq + 1;
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Batches.
 */

/* Store the cursor file, retrying on failure (disk trouble) until it works or we stop. */
static int store_with_retry(struct delivery *d, uint64_t next_seq, int with_intent)
{
    int backoff_ms = BACKOFF_MIN_MS;
    for (;;) {
        int rc = cursor_store(d, next_seq, with_intent);
        if (rc == 0)
            return 0;
        LOG_WARN("delivery", "cursor write failed, retrying",
                 "stream=%s next_seq=%" PRIu64 " err=%s", d->cur->stream_name, next_seq,
                 hy_errname(rc));
        if (backoff_step(d, &backoff_ms))
            return HY_ECLOSED;
    }
}

/* Name the batch's object in d->intent_key. A prefix that does not evaluate (a bad catalog
 * entry: the front validates prefixes) falls back to the default prefix, since stalling the
 * stream would be worse; the sink stores any key. Returns 0 or HY_ENOMEM. */
static int batch_key(struct delivery *d, const struct keyname_batch *r)
{
    struct buf *key = &d->intent_key;
    buf_reset(key);
    int rc = keyname_object_key(d->cur->prefix, r, key);
    if (rc == HY_EINVAL || rc == HY_E2BIG) {
        /* The api validates prefixes, so this is a bad catalog entry; deliver anyway. */
        LOG_ERROR("delivery", "bad prefix, using the default", "stream=%s err=%s",
                  d->cur->stream_name, hy_errname(rc));
        buf_reset(key);
        rc = keyname_object_key(NULL, r, key);
    }
    /* The default prefix and a bounded stream name always fit KEY_MAX_LEN: only memory can
     * fail here. */
    HY_ASSERT(rc == 0 || rc == HY_ENOMEM || rc == HY_E2BIG);
    /* Firehose: the file extension follows the suffix (FileExtension or the codec's). */
    if (rc == 0)
        rc = buf_append_str(key, d->cur->extension);
    if (rc == HY_E2BIG) {
        buf_reset(key);
        rc = keyname_object_key(NULL, r, key);
    }
    if (rc == 0) {
        buf_reset(&d->intent_bucket);
        rc = buf_append_str(&d->intent_bucket, d->cur->bucket);
    }
    if (rc == 0)
        d->intent_codec = d->cur->codec;
    return rc;
}

/* A partitioned batch's intent: the bucket and the prefixes its partitions are named under. */
static int intent_partitioned(struct delivery *d)
{
    int rc;
    buf_reset(&d->intent_bucket);
    buf_reset(&d->intent_key);
    buf_reset(&d->intent_prefix);
    buf_reset(&d->intent_error_prefix);
    buf_reset(&d->intent_ext);
    if ((rc = buf_append_str(&d->intent_bucket, d->cur->bucket)) < 0 ||
        (rc = buf_append_str(&d->intent_key, "")) < 0 ||
        (rc = buf_append_str(&d->intent_prefix, d->cur->prefix)) < 0 ||
        (rc = buf_append_str(&d->intent_error_prefix, d->cur->error_prefix)) < 0 ||
        (rc = buf_append_str(&d->intent_ext, d->cur->extension)) < 0)
        return rc;
    d->intent_codec = d->cur->codec;
    d->intent_partitioned = 1;
    d->sealed_last = 0;
    d->intent_backup = 0;
    buf_reset(&d->intent_backup_bucket);
    buf_reset(&d->intent_backup_prefix);
    buf_reset(&d->intent_backup_ext);
    if (d->cur->backup_bucket) {
        if ((rc = buf_append_str(&d->intent_backup_bucket, d->cur->backup_bucket)) < 0 ||
            (rc = buf_append_str(&d->intent_backup_prefix, d->cur->backup_prefix)) < 0 ||
            (rc = buf_append_str(&d->intent_backup_ext, d->cur->backup_ext)) < 0)
            return rc;
        d->intent_backup_codec = d->cur->backup_codec;
        d->intent_backup = 1;
    }
    return 0;
}

/* Fix the key of a new batch starting at rec and store the intent durably. 0, or HY_ECLOSED
 * when stopped first (then there is no intent: the batch is read again from the cursor). */
static int intent_create(struct delivery *d, const struct streamlog_record *rec)
{
    struct keyname_batch r = {
        .stream_name = d->cur->stream_name,
        .version = d->cur->version,
        .stream_id = d->cur->stream_id,
        .first_seq = rec->seq,
        .first_arrival_ms = rec->arrival_ms,
        .utc_offset_s = tzone_offset(d->cur->tz, rec->arrival_ms / 1000),
    };
    int rc;

    while ((rc = d->cur->partitioned ? intent_partitioned(d) : batch_key(d, &r)) < 0) {
        LOG_WARN("delivery", "cannot name object, retrying", "stream=%s first=%" PRIu64 " err=%s",
                 d->cur->stream_name, rec->seq, hy_errname(rc));
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        sleep_interruptible(d, BACKOFF_MAX_MS / 10);
    }
    if (!d->cur->partitioned)
        d->intent_partitioned = 0;
    d->intent_first = rec->seq;
    /* The intent must be durable before any byte of the object exists, or a crash could leave
     * an object the restart does not know to replace under the same key. */
    if ((rc = store_with_retry(d, rec->seq, 1)) < 0)
        return rc;
    d->has_intent = 1;
    d->intent_opened_ms = hytime_mono_ms();
    d->refill_last = 0;
    return 0;
}

/* The codec's output callback: compressed bytes go to the open writer. */
static int sink_out(void *arg, const void *data, size_t len)
{
    struct delivery *d = arg;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return d->sink->write(d->writer, &iov, 1);
}

/* The ZIP entry name for an object key: its file name without ".zip" (written to entry). */
static void zip_entry_name(const char *key, char *entry, size_t entry_len)
{
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    size_t base_len = strlen(base);
    if (base_len > 4 && strcmp(base + base_len - 4, ".zip") == 0)
        base_len -= 4;
    snprintf(entry, entry_len, "%.*s", (int)base_len, base);
}

/* Open the single object of an unpartitioned batch. */
static int single_open(struct delivery *d, const struct streamlog_record *rec)
{
    int rc;
    if (d->codec && codec_kind_of(d->codec) != d->intent_codec) {
        codec_free(d->codec);
        d->codec = NULL;
    }
    if (!d->codec && !(d->codec = codec_new(d->intent_codec)))
        return HY_ENOMEM;
    if ((rc = d->sink->open(d->sink_ctx, d->intent_bucket.data, d->intent_key.data, &d->writer)) <
        0) {
        d->writer = NULL;
        return rc;
    }
    /* A ZIP entry is dated by the batch's first arrival, so a replay writes the same bytes. */
    char entry[1024];
    zip_entry_name(d->intent_key.data, entry, sizeof entry);
    return codec_begin(d->codec, entry, rec->arrival_ms, sink_out, d);
}

/* Open a batch at rec: adopt a pending update, make sure an intent covers it, open the sink
 * writer (partitioned: partitions open as their first records come). 0; HY_ECLOSED when
 * stopped; another negative error is a sink failure. */
static int batch_open(struct delivery *d, const struct streamlog_record *rec)
{
    int rc;
    target_refresh(d);
    if (!d->has_intent && (rc = intent_create(d, rec)) < 0)
        return rc;
    /* A pending intent was found at start or left by a failed attempt; either way the reader
     * was positioned at its first record (or, if that record has since become unreadable, at
     * the next readable one: the batch still goes to the intent's key). */
    HY_ASSERT(rec->seq >= d->intent_first);
    if (d->intent_opened_ms == 0)
        d->intent_opened_ms = hytime_mono_ms();
    /* Set before the sink is asked: while it fails, these records are the oldest waiting. */
    atomic_store_explicit(&d->stats->oldest_undelivered_ms, rec->arrival_ms, memory_order_relaxed);
    d->in_batch = 1; /* from here the caller drops the batch on failure */
    d->delimit = d->cur->append_delimiter;
    d->batch_first = d->batch_last = rec->seq;
    d->batch_records = 0;
    d->batch_len = 0;
    d->max_part_len = 0;
    d->batch_oldest_ms = rec->arrival_ms;
    buf_reset(&d->staging);
    if (d->intent_partitioned)
        return 0;
    return single_open(d, rec);
}

/* Object bytes to the writer: straight to the sink when uncompressed (one writev), else
 * through the codec. 0 or a sink/codec error. */
static int emit(struct delivery *d, const struct iovec *iov, size_t n)
{
    if (codec_kind_of(d->codec) == CODEC_NONE)
        return d->sink->write(d->writer, iov, n);
    for (size_t i = 0; i < n; i++) {
        int rc = codec_write(d->codec, iov[i].iov_base, iov[i].iov_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Partitions (dynamic partitioning). A partitioned batch is the log range [F, L] as for one
 * object, but its records go to one object per partition (the values of the record's
 * MetadataExtraction keys), plus one error object per error type for records that cannot be
 * partitioned. Exactly-once per partition:
 *   - every object key derives from (stream identity, partition keys or error type, F), and
 *     the prefixes are stored in the intent, so a replay of [F, L] names the same objects;
 *   - which records go to which partition depends only on the records, so a replay of [F, L]
 *     puts the same records in each;
 *   - the cut L is stored in the intent ("sealed") before the first partition commits: if a
 *     crash or a failure comes after some partitions committed, the replay reads exactly
 *     [F, L] again and replaces each of them, rather than cutting elsewhere and leaving a
 *     committed partition holding records that a later batch delivers again.
 * The cap on active partitions counts the partitions of one batch; records of a new partition
 * past it go to the error output.
 */

/* part.is_error for the source record backup object (1 is an error object, 0 data). */
#define PART_BACKUP 2
#define PART_BACKUP_ID "source-backup"

struct part {
    uint64_t hash;
    char *id; /* partition keys ("name\0value\0"...) or, for errors, the error type */
    size_t id_len;
    int is_error;
    struct delivery *d;
    void *writer;
    struct codec *codec; /* NULL: written uncompressed */
    struct buf staging;
    struct buf key;
    uint64_t len; /* uncompressed bytes */
    uint64_t records;
};

static uint64_t part_hash(const char *p, size_t len, int is_error)
{
    uint64_t h = is_error ? 0x84222325cbf29ce4ULL : 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static void part_free(struct delivery *d, struct part *p)
{
    if (!p)
        return;
    if (p->writer)
        d->sink->abort(p->writer);
    codec_free(p->codec);
    buf_fini(&p->staging);
    buf_fini(&p->key);
    hy_free(p->id);
    hy_free(p);
}

/* Drop every partition (aborting open writers). */
static void parts_clear(struct delivery *d)
{
    for (size_t i = 0; i < d->n_parts; i++)
        part_free(d, d->parts[i]);
    d->n_parts = 0;
    d->n_data_parts = 0;
    for (size_t i = 0; i < d->index_cap; i++)
        d->part_index[i] = -1;
}

static struct part *part_find(struct delivery *d, const char *id, size_t id_len, int is_error,
                              uint64_t h, size_t *slot)
{
    size_t mask = d->index_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t at = d->part_index[i];
        if (at < 0) {
            *slot = i;
            return NULL;
        }
        struct part *p = d->parts[at];
        if (p->hash == h && p->is_error == is_error && p->id_len == id_len &&
            (id_len == 0 || memcmp(p->id, id, id_len) == 0))
            return p;
    }
}

/* Make room for the partitions of a batch under the current cap (index at most half full). */
static int parts_reserve(struct delivery *d)
{
    size_t want = (size_t)d->cur->max_partitions + 8; /* + the error types */
    if (d->parts_cap >= want)
        return 0;
    size_t cap = 64;
    while (cap < 2 * want)
        cap *= 2;
    struct part **parts = hy_realloc(d->parts, want * sizeof(*parts));
    if (!parts)
        return HY_ENOMEM;
    d->parts = parts;
    int32_t *index = hy_malloc(cap * sizeof(*index));
    if (!index)
        return HY_ENOMEM;
    hy_free(d->part_index);
    d->part_index = index;
    d->index_cap = cap;
    d->parts_cap = want;
    for (size_t i = 0; i < cap; i++)
        d->part_index[i] = -1;
    for (size_t n = 0; n < d->n_parts; n++) {
        size_t slot;
        struct part *p = d->parts[n];
        (void)part_find(d, p->id, p->id_len, p->is_error, p->hash, &slot);
        d->part_index[slot] = (int32_t)n;
    }
    return 0;
}

static int part_out(void *arg, const void *data, size_t len)
{
    struct part *p = arg;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return p->d->sink->write(p->writer, &iov, 1);
}

static int part_emit(struct part *p, const void *data, size_t len)
{
    if (p->codec)
        return codec_write(p->codec, data, len);
    return part_out(p, data, len);
}

/* Append bytes to a partition's object through its staging buffer. */
static int part_write(struct part *p, const void *data, size_t len)
{
    int rc;
    if (p->staging.len + len > PART_STAGING_LEN) {
        if (p->staging.len > 0 && (rc = part_emit(p, p->staging.data, p->staging.len)) < 0)
            return rc;
        buf_reset(&p->staging);
        if (len > PART_STAGING_LEN / 2)
            return part_emit(p, data, len);
    }
    rc = buf_append(&p->staging, data, len);
    HY_ASSERT(rc == 0); /* reserved at PART_STAGING_LEN when the partition opened */
    return 0;
}

/* Name a partition's object in p->key. Data partitions: under the intent's Prefix with the
 * record's keys (HY_ENOTFOUND or HY_E2BIG: the record goes to the error output instead); error
 * objects: under the error output with their type. */
static int part_key(struct delivery *d, struct part *p, const struct streamlog_record *rec,
                    const char *keys, size_t n_keys)
{
    struct keyname_batch r = {
        .stream_name = d->cur->stream_name,
        .version = d->cur->version,
        .stream_id = keyname_derive_id(d->cur->stream_id, p->id, p->id_len),
        .first_seq = d->intent_first,
        .first_arrival_ms = rec->arrival_ms,
        .utc_offset_s = tzone_offset(d->cur->tz, rec->arrival_ms / 1000),
    };
    int rc;
    buf_reset(&p->key);
    if (p->is_error == PART_BACKUP) {
        /* Backup ids are distinct from data and error ids. */
        r.stream_id = keyname_derive_id(r.stream_id, "\2", 1);
        rc = keyname_object_key(d->intent_backup_prefix.data, &r, &p->key);
        if (rc == HY_EINVAL || rc == HY_E2BIG) {
            buf_reset(&p->key);
            rc = keyname_object_key(NULL, &r, &p->key);
        }
        return rc == 0 ? buf_append_str(&p->key, d->intent_backup_ext.data) : rc;
    }
    if (p->is_error) {
        /* Error ids are distinct from every data id (whose keys never hash through twice). */
        r.stream_id = keyname_derive_id(r.stream_id, "\1", 1);
        rc = keyname_error_key(d->intent_prefix.data, d->intent_error_prefix.data, p->id, &r,
                               &p->key);
        if (rc == HY_EINVAL || rc == HY_E2BIG) {
            buf_reset(&p->key);
            rc = keyname_error_key(d->intent_prefix.data, NULL, p->id, &r, &p->key);
        }
        if (rc == HY_EINVAL || rc == HY_E2BIG) {
            buf_reset(&p->key);
            rc = keyname_error_key(NULL, NULL, p->id, &r, &p->key);
        }
        return rc;
    }
    r.part_keys = keys;
    r.n_part_keys = n_keys;
    if ((rc = keyname_prefix_eval(d->intent_prefix.data, &r, NULL, &p->key)) < 0)
        return rc == HY_ENOMEM ? rc : HY_ENOTFOUND;
    if (p->key.len > PART_PREFIX_MAX)
        return HY_E2BIG;
    buf_reset(&p->key);
    if ((rc = keyname_object_key(d->intent_prefix.data, &r, &p->key)) < 0)
        return rc == HY_ENOMEM ? rc : HY_ENOTFOUND;
    return buf_append_str(&p->key, d->intent_ext.data);
}

/* Open a new partition for id (its first record is rec). 0 and *out; HY_ENOTFOUND/HY_E2BIG when
 * its key cannot be named (the record goes to the error output); else a sink error. */
static int part_open(struct delivery *d, const char *id, size_t id_len, int is_error, uint64_t h,
                     size_t slot, const struct streamlog_record *rec, const char *keys,
                     size_t n_keys, struct part **out)
{
    struct part *p = hy_calloc(1, sizeof *p);
    int rc = HY_ENOMEM;
    if (!p)
        return rc;
    p->d = d;
    p->hash = h;
    p->is_error = is_error;
    p->id_len = id_len;
    buf_init(&p->staging, PART_STAGING_LEN);
    buf_init(&p->key, KEY_MAX_LEN);
    if (!(p->id = hy_malloc(id_len + 1)))
        goto fail;
    if (id_len) /* id may be NULL when empty (no partition keys) */
        memcpy(p->id, id, id_len);
    p->id[id_len] = '\0';
    if ((rc = buf_reserve(&p->staging, PART_STAGING_LEN)) < 0)
        goto fail;
    if ((rc = part_key(d, p, rec, keys, n_keys)) < 0)
        goto fail;
    /* Error objects are JSON lines, written uncompressed (hydrant's choice); the backup uses
     * its own configuration's codec. */
    enum codec_kind kind = is_error == PART_BACKUP ? d->intent_backup_codec
                           : is_error              ? CODEC_NONE
                                                   : d->intent_codec;
    if (kind != CODEC_NONE && !(p->codec = codec_new(kind))) {
        rc = HY_ENOMEM;
        goto fail;
    }
    const char *bucket =
        is_error == PART_BACKUP ? d->intent_backup_bucket.data : d->intent_bucket.data;
    if ((rc = d->sink->open(d->sink_ctx, bucket, p->key.data, &p->writer)) < 0) {
        p->writer = NULL;
        goto fail;
    }
    if (p->codec) {
        char entry[1024];
        zip_entry_name(p->key.data, entry, sizeof entry);
        if ((rc = codec_begin(p->codec, entry, rec->arrival_ms, part_out, p)) < 0)
            goto fail;
    }
    d->parts[d->n_parts] = p;
    d->part_index[slot] = (int32_t)d->n_parts;
    d->n_parts++;
    if (!is_error)
        d->n_data_parts++;
    *out = p;
    return 0;
fail:
    part_free(d, p);
    return rc;
}

/* Write data (rec or a record derived from it) as one of Firehose's JSON error records into
 * the error object of type; a Lambda failure (lambda_arn set) names its function and attempts,
 * ending now. */
static int part_error_ex(struct delivery *d, const struct streamlog_record *rec, const void *data,
                         size_t len, const char *type, const char *code, const char *message,
                         int attempts, const char *lambda_arn)
{
    size_t type_len = strlen(type), slot;
    uint64_t h = part_hash(type, type_len, 1);
    struct part *p = part_find(d, type, type_len, 1, h, &slot);
    int rc;
    if (!p && (rc = part_open(d, type, type_len, 1, h, slot, rec, NULL, 0, &p)) < 0)
        return rc; /* error keys always evaluate (fallbacks): only memory or the sink fail */
    struct buf *l = &d->errline;
    buf_reset(l);
    /* Firehose's error record (section 1.5): attemptsMade, arrivalTimestamp, errorCode,
     * errorMessage, attemptEndingTimestamp, rawData. The ending time is the arrival time, so
     * a replay writes the same bytes. */
    rc = buf_printf(l,
                    "{\"attemptsMade\":%d,\"arrivalTimestamp\":%" PRId64
                    ",\"errorCode\":\"%s\",\"errorMessage\":",
                    attempts, rec->arrival_ms, code);
    if (rc == 0)
        rc = buf_append_json_str(l, message, strlen(message));
    if (rc == 0)
        rc = buf_printf(l, ",\"attemptEndingTimestamp\":%" PRId64 ",\"rawData\":\"",
                        lambda_arn ? hytime_now_ms() : rec->arrival_ms);
    if (rc == 0)
        rc = buf_reserve(l, BASE64_ENCODED_LEN(len) + 3);
    if (rc == 0) {
        l->len += base64_encode((const uint8_t *)data, len, l->data + l->len);
        rc = buf_append_str(l, "\"");
    }
    if (rc == 0 && lambda_arn) {
        rc = buf_append_str(l, ",\"lambdaArn\":");
        if (rc == 0)
            rc = buf_append_json_str(l, lambda_arn, strlen(lambda_arn));
    }
    if (rc == 0)
        rc = buf_append_str(l, "}\n");
    if (rc == 0)
        rc = part_write(p, l->data, l->len);
    if (rc == 0) {
        p->len += len;
        p->records++;
    }
    return rc;
}

static int part_error(struct delivery *d, const struct streamlog_record *rec, const void *data,
                      size_t len, const char *type, const char *code, const char *message)
{
    return part_error_ex(d, rec, data, len, type, code, message, 1, NULL);
}

/* Append a Lambda function's partition keys (lk: n "name\0value\0" pairs) to d->keys, each
 * name marked as keyname.h says. */
static int lambda_keys_append(struct delivery *d, const char *lk, size_t n)
{
    static const char mark[1] = {KEYNAME_LAMBDA_MARK};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t kl = strlen(lk) + 1, vl = strlen(lk + kl) + 1;
        rc = buf_append(&d->keys, mark, 1);
        if (rc == 0)
            rc = buf_append(&d->keys, lk, kl + vl);
        lk += kl + vl;
    }
    return rc;
}

/* Route one output record (data, derived from rec) to its partition or to the error output.
 * Without dynamic partitioning every record goes to the one data object (partition ""). With
 * it, the partition is the MetadataExtraction query's keys plus the n_lk keys lk a Lambda
 * function gave the record. */
static int part_route(struct delivery *d, const struct streamlog_record *rec, const void *data,
                      size_t len, const char *lk, size_t n_lk)
{
    size_t n_keys = 0, slot;
    const char *reason = NULL;
    int rc = 0;
    buf_reset(&d->keys);
    if (!d->cur->dynamic) {
        rc = 0;
    } else if (!d->jx && !d->cur->lambda_arn) {
        reason = "MetadataExtractionQuery is missing or not valid";
        rc = HY_EBADMSG;
    } else {
        if (d->jx)
            rc = jqextract_run(d->jx, data, len, &d->keys, &n_keys, &reason);
        if (rc == 0 && n_lk) {
            rc = lambda_keys_append(d, lk, n_lk);
            n_keys += n_lk;
        }
        if (rc == 0 && n_keys == 0) {
            reason = d->jx ? "MetadataExtractionQuery produced no partition keys"
                           : "The Lambda function returned no partition keys";
            rc = HY_EBADMSG;
        }
    }
    if (rc == HY_EBADMSG)
        return part_error(d, rec, data, len, ERROR_TYPE_PARTITIONING, ERR_CODE_EXTRACTION, reason);
    if (rc < 0)
        return part_error(d, rec, data, len, ERROR_TYPE_PARTITIONING, ERR_CODE_EXTRACTION,
                          "Partition keys are too long");
    uint64_t h = part_hash(d->keys.data, d->keys.len, 0);
    struct part *p = part_find(d, d->keys.data, d->keys.len, 0, h, &slot);
    if (!p) {
        if (d->n_data_parts >= d->cur->max_partitions)
            return part_error(d, rec, data, len, ERROR_TYPE_PARTITIONING, ERR_CODE_PARTITION_LIMIT,
                              "The number of active partitions exceeded the limit");
        rc = part_open(d, d->keys.data, d->keys.len, 0, h, slot, rec,
                       d->cur->dynamic ? d->keys.data : NULL, n_keys, &p);
        if (rc == HY_ENOTFOUND)
            return part_error(d, rec, data, len, ERROR_TYPE_PARTITIONING, ERR_CODE_PREFIX,
                              "The prefix references a partition key the record does not have");
        if (rc == HY_E2BIG)
            return part_error(d, rec, data, len, ERROR_TYPE_PARTITIONING, ERR_CODE_PREFIX,
                              "The evaluated prefix is longer than 512 characters");
        if (rc < 0)
            return rc;
    }
    if ((rc = part_write(p, data, len)) < 0)
        return rc;
    if (d->delimit && (rc = part_write(p, "\n", 1)) < 0)
        return rc;
    p->len += len + (d->delimit ? 1 : 0);
    p->records++;
    if (p->len > d->max_part_len)
        d->max_part_len = p->len;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The Lambda processor (transform/lambdafn.h). Records leaving the built-in processors are
 * buffered per batch and sent to the function in rounds of BufferSizeInMBs (and at the batch's
 * cut), each round split into invocations of at most Lambda's 6 MB payload. What comes back is
 * routed like any processed record; failures go to the error output as processing-failed with
 * the function's ARN. All of it happens before the batch is sealed and its objects commit, so a
 * crash replays the batch from its first record and invokes the function again: the objects
 * are replaced under the same keys as long as the function answers the same for the same
 * records (a function whose partition keys change between attempts can leave a partition object
 * of the earlier attempt behind).
 */

/* The stored record, as it is, into the source record backup object. */
static int part_backup(struct delivery *d, const struct streamlog_record *rec)
{
    static const char id[] = PART_BACKUP_ID;
    size_t slot;
    uint64_t h = part_hash(id, sizeof id - 1, 1);
    struct part *p = part_find(d, id, sizeof id - 1, PART_BACKUP, h, &slot);
    int rc;
    if (!p && (rc = part_open(d, id, sizeof id - 1, PART_BACKUP, h, slot, rec, NULL, 0, &p)) < 0)
        return rc;
    if ((rc = part_write(p, rec->data, rec->len)) < 0)
        return rc;
    p->len += rec->len;
    p->records++;
    return 0;
}

struct lam_rec {
    uint64_t seq;
    int64_t arrival_ms;
    size_t off, len; /* in lam_data */
};

#define ERROR_TYPE_PROCESSING "processing-failed"
#define LAMBDA_BACKOFF_MIN_MS 200
/* Event bytes besides the records: ids, the ARN, the region. */
#define LAMBDA_EVENT_OVERHEAD 1024

/* b's bytes at off; an empty buffer may have no memory yet (NULL + 0 is undefined). */
static const char *at_off(const struct buf *b, size_t off)
{
    return b->data ? b->data + off : "";
}

static int lambda_fail(struct delivery *d, const struct lam_rec *lr, const char *code,
                       const char *message, int attempts)
{
    struct streamlog_record r = {.seq = lr->seq,
                                 .arrival_ms = lr->arrival_ms,
                                 .data = (const uint8_t *)at_off(&d->lam_data, lr->off),
                                 .len = lr->len};
    return part_error_ex(d, &r, r.data, r.len, ERROR_TYPE_PROCESSING, code, message, attempts,
                         d->cur->lambda_arn);
}

static const char *item_code(enum lambdafn_status st, const char **message)
{
    switch (st) {
    case LAMBDAFN_MISSING:
        *message = "The Lambda function's response did not include this record's recordId";
        return "Lambda.MissingRecordId";
    case LAMBDAFN_DUPLICATE:
        *message = "The Lambda function's response included this record's recordId more than once";
        return "Lambda.DuplicatedRecordId";
    case LAMBDAFN_INVALID:
        *message = "The Lambda function returned an invalid result, data or partitionKeys for "
                   "this record";
        return "Lambda.InvalidRecord";
    case LAMBDAFN_FAILED:
    case LAMBDAFN_OK:
    case LAMBDAFN_DROPPED:
        break;
    }
    *message = "The Lambda function returned ProcessingFailed for this record";
    return "Lambda.ProcessingFailed";
}

/* Invoke the function for the buffered records [from, to), retrying NumberOfRetries times,
 * and route what it answers. 0; HY_ECLOSED when stopped during a retry wait; else a sink or
 * memory error. */
static int lambda_invoke_range(struct delivery *d, size_t from, size_t to)
{
    struct lambdafn *fn = lambdafn_find(d->cur->lambda_arn);
    uint64_t base = d->lam[from].seq;
    size_t n = to - from;
    char arn[512], inv[64];
    const char *code = NULL, *message = NULL;
    int attempts = 0, backoff_ms = LAMBDA_BACKOFF_MIN_MS, rc;
    snprintf(arn, sizeof arn, "arn:aws:firehose:%s:%s:deliverystream/%s", lambdafn_region(),
             lambdafn_account(), d->cur->stream_name);
    /* The same batch round gets the same id on a replay. */
    snprintf(inv, sizeof inv, "%016" PRIx64 "-%" PRIu64 "-%" PRIu64, d->cur->stream_id,
             d->intent_first, d->lam_round++);
    buf_reset(&d->lam_event);
    rc = lambdafn_event_begin(&d->lam_event, inv, arn, lambdafn_region());
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct lam_rec *lr = &d->lam[from + i];
        rc = lambdafn_event_add(&d->lam_event, i, base, lr->arrival_ms,
                                at_off(&d->lam_data, lr->off), lr->len);
    }
    if (rc == 0)
        rc = lambdafn_event_end(&d->lam_event);
    if (rc < 0)
        return rc == HY_E2BIG ? HY_ENOMEM : rc; /* sized by lambda_flush: only memory */
    for (;;) {
        attempts++;
        int64_t t0 = hytime_mono_ms();
        if (!fn) {
            code = "Lambda.FunctionNotFound";
            message = "The LambdaArn is not mapped to a local function (hydrant --functions)";
            rc = -EIO;
        } else {
            rc = lambdafn_invoke(fn, d->lam_event.data, d->lam_event.len, &d->lam_resp, &code,
                                 &message);
            if (rc == 0)
                rc = lambdafn_response_parse(d->lam_resp.data, d->lam_resp.len, base, n,
                                             &d->lam_parsed, &code, &message);
            if (rc == HY_ENOMEM)
                return rc;
            if (rc == HY_EBADMSG)
                lambdafn_discard(fn);
        }
        atomic_fetch_add_explicit(&d->stats->lambda_invocations, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&d->stats->lambda_ms, (uint64_t)(hytime_mono_ms() - t0),
                                  memory_order_relaxed);
        if (rc == 0)
            break;
        atomic_fetch_add_explicit(&d->stats->lambda_failures, 1, memory_order_relaxed);
        LOG_WARN("delivery", "Lambda invocation failed",
                 "stream=%s first=%" PRIu64 " records=%zu attempt=%d code=%s", d->cur->stream_name,
                 base, n, attempts, code);
        if (attempts > d->cur->lambda_retries) {
            for (size_t i = from; i < to; i++)
                if ((rc = lambda_fail(d, &d->lam[i], code, message, attempts)) < 0)
                    return rc;
            return 0;
        }
        if (backoff_step(d, &backoff_ms))
            return HY_ECLOSED;
    }
    for (size_t i = 0; i < n; i++) {
        const struct lambdafn_item *it = &d->lam_parsed.items[i];
        const struct lam_rec *lr = &d->lam[from + i];
        if (it->status == LAMBDAFN_DROPPED || it->status == LAMBDAFN_OK)
            atomic_fetch_add_explicit(&d->stats->lambda_ok_records, 1, memory_order_relaxed);
        if (it->status == LAMBDAFN_DROPPED)
            continue;
        if (it->status == LAMBDAFN_OK) {
            atomic_fetch_add_explicit(&d->stats->lambda_ok_bytes, it->data_len,
                                      memory_order_relaxed);
            struct streamlog_record r = {.seq = lr->seq, .arrival_ms = lr->arrival_ms};
            rc = part_route(d, &r, at_off(&d->lam_parsed.data, it->data_off), it->data_len,
                            at_off(&d->lam_parsed.keys, it->keys_off), it->n_keys);
        } else {
            code = item_code(it->status, &message);
            rc = lambda_fail(d, lr, code, message, attempts);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Send every buffered record to the function, in invocations within the payload limit. */
static int lambda_flush(struct delivery *d)
{
    size_t i = 0, fixed = LAMBDA_EVENT_OVERHEAD + strlen(d->cur->lambda_arn);
    int rc = 0;
    while (rc == 0 && i < d->n_lam) {
        size_t from = i, bytes = fixed;
        if (bytes + lambdafn_event_record_len(d->lam[i].len) > LAMBDAFN_PAYLOAD_MAX) {
            rc = lambda_fail(d, &d->lam[i], "Lambda.PayloadTooLarge",
                             "The record alone exceeds Lambda's 6 MB invocation payload", 1);
            i++;
            continue;
        }
        while (i < d->n_lam &&
               bytes + lambdafn_event_record_len(d->lam[i].len) <= LAMBDAFN_PAYLOAD_MAX) {
            bytes += lambdafn_event_record_len(d->lam[i].len);
            i++;
        }
        rc = lambda_invoke_range(d, from, i);
    }
    if (rc == 0) {
        d->n_lam = 0;
        buf_reset(&d->lam_data);
    }
    return rc;
}

/* Buffer one processed record for the function; a full buffer is sent. */
static int lambda_add(struct delivery *d, const struct streamlog_record *rec, const void *data,
                      size_t len)
{
    int rc;
    if (d->n_lam == d->lam_cap) {
        size_t cap = d->lam_cap ? d->lam_cap * 2 : 256;
        struct lam_rec *v = hy_realloc(d->lam, cap * sizeof *v);
        if (!v)
            return HY_ENOMEM;
        d->lam = v;
        d->lam_cap = cap;
    }
    if ((rc = buf_append(&d->lam_data, data, len)) < 0)
        return rc;
    d->lam[d->n_lam++] = (struct lam_rec){
        .seq = rec->seq, .arrival_ms = rec->arrival_ms, .off = d->lam_data.len - len, .len = len};
    if (d->lam_data.len >= d->cur->lambda_buffer_bytes)
        return lambda_flush(d);
    return 0;
}

struct route_ctx {
    struct delivery *d;
    const struct streamlog_record *rec;
};

static int route_emit(void *arg, const void *data, size_t len)
{
    struct route_ctx *c = arg;
    if (c->d->cur->lambda_arn)
        return lambda_add(c->d, c->rec, data, len);
    return part_route(c->d, c->rec, data, len, NULL, 0);
}

/* One stored record through the processors (section 1.7 order), then routed. A record a
 * processor cannot handle goes to the error output as it was stored. */
static int part_append(struct delivery *d, const struct streamlog_record *rec)
{
    int rc;
    if (!d->proc)
        return HY_ENOMEM; /* the batch fails and is read again; jx_refresh retries */
    if (d->intent_backup && (rc = part_backup(d, rec)) < 0)
        return rc;
    if (!process_active(d->proc))
        return route_emit(&(struct route_ctx){.d = d, .rec = rec}, rec->data, rec->len);
    struct route_ctx c = {.d = d, .rec = rec};
    struct process_error err = {0};
    rc = process_run(d->proc, rec->data, rec->len, route_emit, &c, &err);
    if (rc == HY_EBADMSG)
        return part_error(d, rec, rec->data, rec->len, err.type, err.code, err.message);
    return rc;
}

/* Finish and commit every partition's object. Sealed first (see above). */
static int parts_commit(struct delivery *d)
{
    int rc;
    if (!d->sealed_last) {
        d->sealed_last = d->batch_last;
        if ((rc = store_with_retry(d, d->intent_first, 1)) < 0)
            return rc;
    }
    for (size_t i = 0; i < d->n_parts; i++) {
        struct part *p = d->parts[i];
        if (!p->writer)
            continue; /* committed by an earlier pass of this loop */
        rc = 0;
        if (p->staging.len > 0)
            rc = part_emit(p, p->staging.data, p->staging.len);
        buf_reset(&p->staging);
        if (rc == 0 && p->codec)
            rc = codec_finish(p->codec);
        if (rc < 0)
            return rc;
        void *w = p->writer;
        p->writer = NULL;
        if ((rc = d->sink->commit(w)) < 0)
            return rc;
        if (p->is_error == 1)
            atomic_fetch_add_explicit(&d->stats->error_output_records, p->records,
                                      memory_order_relaxed);
        else if (p->is_error == 0)
            atomic_fetch_add_explicit(&d->stats->delivery_records, p->records,
                                      memory_order_relaxed);
        atomic_fetch_add_explicit(&d->stats->delivery_objects, 1, memory_order_relaxed);
        LOG_DEBUG("delivery", "partition object written",
                  "stream=%s first=%" PRIu64 " records=%" PRIu64 " key=%s", d->cur->stream_name,
                  d->intent_first, p->records, p->key.data);
    }
    return 0;
}

/* Whether the open batch is cut after its last record. */
static int batch_due(const struct delivery *d);

/* Stream one record (and its delimiter) into the open batch. 0 or a sink error. */
static int batch_append(struct delivery *d, const struct streamlog_record *rec)
{
    int rc;
    size_t delim = d->delimit ? 1 : 0;
    if (d->intent_partitioned) {
        if ((rc = parts_reserve(d)) < 0 || (rc = part_append(d, rec)) < 0)
            return rc;
    } else if (d->staging.len + rec->len + delim > STAGING_LEN) {
        struct iovec iov[3] = {
            {.iov_base = d->staging.data, .iov_len = d->staging.len},
            {.iov_base = (void *)rec->data, .iov_len = rec->len},
            {.iov_base = "\n", .iov_len = delim},
        };
        if ((rc = emit(d, iov, delim ? 3 : 2)) < 0)
            return rc;
        buf_reset(&d->staging);
    } else {
        rc = buf_append(&d->staging, rec->data, rec->len);
        if (rc == 0 && delim)
            rc = buf_append(&d->staging, "\n", 1);
        /* Cannot fail: staging was allocated at STAGING_LEN at start and stays within it. */
        HY_ASSERT(rc == 0);
    }
    if (rec->arrival_ms < d->batch_oldest_ms) {
        d->batch_oldest_ms = rec->arrival_ms;
        atomic_store_explicit(&d->stats->oldest_undelivered_ms, rec->arrival_ms,
                              memory_order_relaxed);
    }
    d->batch_last = rec->seq;
    d->batch_records++;
    d->batch_len += rec->len + delim;
    return 0;
}

/* End the open batch's writers without a visible object (the intent stays). */
static void batch_drop(struct delivery *d)
{
    if (d->writer)
        d->sink->abort(d->writer);
    d->writer = NULL;
    parts_clear(d);
    buf_reset(&d->staging);
    d->n_lam = 0;
    d->lam_round = 0;
    buf_reset(&d->lam_data);
    d->in_batch = 0;
    d->batch_records = 0;
    d->batch_len = 0;
    d->max_part_len = 0;
}

/* Commit the open batch and move the cursor past it. 0; HY_ECLOSED when stopped before the
 * cursor store (the intent replays at the next start); another negative error is a sink
 * failure. */
static int batch_commit(struct delivery *d)
{
    int rc = 0;
    if (d->intent_partitioned) {
        if (d->n_lam && (rc = lambda_flush(d)) < 0)
            return rc;
        if ((rc = parts_commit(d)) < 0)
            return rc; /* the caller drops the rest; the sealed intent replays [F, L] */
    } else {
        if (d->staging.len > 0) {
            struct iovec iov = {.iov_base = d->staging.data, .iov_len = d->staging.len};
            rc = emit(d, &iov, 1);
            buf_reset(&d->staging);
        }
        if (rc == 0)
            rc = codec_finish(d->codec);
        if (rc < 0)
            return rc; /* the caller aborts the writer */
        void *writer = d->writer;
        d->writer = NULL; /* commit ends the writer whatever it returns */
        if ((rc = d->sink->commit(writer)) < 0)
            return rc;
        atomic_fetch_add_explicit(&d->stats->delivery_records, d->batch_records,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&d->stats->delivery_objects, 1, memory_order_relaxed);
    }
    /* The objects of [batch_first, batch_last] are durable and visible. */
    uint64_t next = d->batch_last + 1;
    if ((rc = store_with_retry(d, next, 0)) < 0)
        return rc;
    d->has_intent = 0;
    d->sealed_last = 0;
    d->in_batch = 0;
    d->lam_round = 0;
    parts_clear(d);
    d->intent_opened_ms = 0;
    d->refill_last = 0;
    d->backoff_ms = BACKOFF_MIN_MS;
    atomic_store(&d->cursor, next);
    atomic_fetch_add_explicit(&d->stats->delivery_bytes, d->batch_len, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->stats->delivery_success, 1, memory_order_relaxed);
    atomic_store_explicit(&d->stats->oldest_undelivered_ms, 0, memory_order_relaxed);
    LOG_DEBUG("delivery", "batch written",
              "stream=%s first=%" PRIu64 " last=%" PRIu64 " bytes=%" PRIu64 " key=%s",
              d->cur->stream_name, d->batch_first, d->batch_last, d->batch_len, d->intent_key.data);
    d->batch_records = 0;
    d->batch_len = 0;
    d->max_part_len = 0;
    d->advanced(d->rt, next);
    return 0;
}

/* After a sink failure: drop the attempt, back off, and read the batch again from its first
 * record under the same intent. 0 to go on, or HY_ECLOSED when stopped (the intent stays and
 * replays at the next start). */
static int batch_fail(struct delivery *d, int err)
{
    atomic_fetch_add_explicit(&d->stats->delivery_failures, 1, memory_order_relaxed);
    /* Firehose retries S3 delivery for up to 24 h; we keep the same key forever, since moving
     * on would lose the range. A stop gives up; the intent replays on restart. */
    LOG_WARN("delivery", "object write failed, retrying",
             "stream=%s first=%" PRIu64 " records=%" PRIu64
             " bucket=%s key=%s err=%s backoff_ms=%d",
             d->cur->stream_name, d->intent_first, d->batch_records, d->intent_bucket.data,
             d->intent_key.data, hy_errname(err), d->backoff_ms);
    if (d->batch_records > 0 && d->batch_last > d->refill_last)
        d->refill_last = d->batch_last;
    batch_drop(d);
    if (backoff_step(d, &d->backoff_ms))
        return HY_ECLOSED;
    d->read_seq = d->intent_first;
    return reader_position(d);
}

/* ---------------------------------------------------------------------------------------------
 * Damaged spans (the protocol is at the top of this file).
 */

/* Name the error object of the span at (location, offset) in d->quar_bucket/quar_key. Like
 * batch_key, an error prefix that does not evaluate falls back to Firehose's rule without one,
 * then to the default prefix (the sink stores any key). 0 or HY_ENOMEM. */
static int quarantine_key(struct delivery *d, const struct streamlog_damage *dm)
{
    struct keyname_batch r;
    struct buf *key = &d->quar_key;
    const char *prefixes[3][2] = {
        {d->cur->prefix, d->cur->error_prefix},
        {d->cur->prefix, NULL},
        {NULL, NULL},
    };
    int rc = HY_EINVAL;
    keyname_damage_batch(d->cur->stream_name, d->cur->version, d->cur->stream_id, dm->location,
                         dm->offset, hytime_now_ms(), &r);
    for (size_t i = 0; i < 3 && rc < 0 && rc != HY_ENOMEM; i++) {
        buf_reset(key);
        rc = keyname_error_key(prefixes[i][0], prefixes[i][1], ERROR_TYPE_CORRUPTED_LOG, &r, key);
        if (rc < 0 && rc != HY_ENOMEM)
            LOG_ERROR("delivery", "error prefix not usable for a quarantine, falling back",
                      "stream=%s err=%s", d->cur->stream_name, hy_errname(rc));
    }
    /* The default prefix and a bounded stream name always fit: only memory can fail here. */
    HY_ASSERT(rc == 0 || rc == HY_ENOMEM);
    if (rc == 0) {
        buf_reset(&d->quar_bucket);
        rc = buf_append_str(&d->quar_bucket, d->cur->bucket);
    }
    if (rc == 0) {
        d->quar_location = dm->location;
        d->quar_offset = dm->offset;
        d->has_quar = 1;
    }
    return rc;
}

/* The error object's text: one JSON object on one line, shaped like Firehose's error records
 * (errorCode, errorMessage, rawData in base64) plus the span's place. The raw bytes are
 * streamed, base64-encoded through staging (empty: no batch is open). 0 or a sink error. */
static int quarantine_write(struct delivery *d, const struct streamlog_damage *dm)
{
    struct buf head;
    void *w = NULL;
    int rc;
    buf_init(&head, 8192);
    rc = buf_printf(
        &head,
        "{\"deliveryStreamName\":\"%s\",\"errorCode\":\"CorruptedLog\","
        "\"errorMessage\":\"Damaged bytes in the stream log; the records they held "
        "cannot be read back.\",\"detectedTimestamp\":%" PRId64 ",\"firstSequenceNumber\":%" PRIu64
        ",\"sequenceCount\":%" PRIu64 ",\"location\":%" PRIu64 ",\"offset\":%" PRIu64
        ",\"length\":%" PRIu64 ",\"rawDataLength\":%zu,\"truncated\":%s,\"rawData\":\"",
        d->cur->stream_name, hytime_now_ms(), dm->first_seq, dm->seq_count, dm->location,
        dm->offset, dm->len, dm->data_len, dm->data_len < dm->len ? "true" : "false");
    if (rc < 0)
        goto out;
    if ((rc = d->sink->open(d->sink_ctx, d->quar_bucket.data, d->quar_key.data, &w)) < 0) {
        w = NULL;
        goto out;
    }
    struct iovec iov = {.iov_base = head.data, .iov_len = head.len};
    rc = d->sink->write(w, &iov, 1);
    for (size_t at = 0; rc == 0 && at < dm->data_len; at += QUAR_CHUNK_LEN) {
        size_t n = dm->data_len - at < QUAR_CHUNK_LEN ? dm->data_len - at : QUAR_CHUNK_LEN;
        iov.iov_base = d->staging.data;
        iov.iov_len = base64_encode(dm->data + at, n, (char *)d->staging.data);
        rc = d->sink->write(w, &iov, 1);
    }
    if (rc == 0) {
        iov.iov_base = "\"}\n";
        iov.iov_len = 3;
        rc = d->sink->write(w, &iov, 1);
    }
    if (rc == 0) {
        void *cw = w;
        w = NULL; /* commit ends the writer whatever it returns */
        rc = d->sink->commit(cw);
    }
out:
    if (w)
        d->sink->abort(w);
    buf_fini(&head);
    return rc;
}

/* Quarantine the span dm: make its object's key durable (unless the state already names this
 * span: a replay), write the object, retrying with backoff until it works. 0, or HY_ECLOSED
 * when stopped first (the span is read again at the next start). */
static int quarantine(struct delivery *d, const struct streamlog_damage *dm)
{
    int backoff_ms = BACKOFF_MIN_MS;
    int rc;
    if (!d->has_quar || d->quar_location != dm->location || d->quar_offset != dm->offset) {
        while ((rc = quarantine_key(d, dm)) < 0) {
            LOG_WARN("delivery", "cannot name quarantine object, retrying",
                     "stream=%s first_seq=%" PRIu64 " err=%s", d->cur->stream_name, dm->first_seq,
                     hy_errname(rc));
            if (backoff_step(d, &backoff_ms))
                return HY_ECLOSED;
        }
        /* Durable before any byte of the object exists (as an intent is). */
        if ((rc = store_with_retry(d, d->stored_next, d->has_intent)) < 0)
            return rc;
    }
    while ((rc = quarantine_write(d, dm)) < 0) {
        atomic_fetch_add_explicit(&d->stats->delivery_failures, 1, memory_order_relaxed);
        LOG_WARN("delivery", "quarantine object write failed, retrying",
                 "stream=%s first_seq=%" PRIu64 " seqs=%" PRIu64 " bucket=%s key=%s err=%s "
                 "backoff_ms=%d",
                 d->cur->stream_name, dm->first_seq, dm->seq_count, d->quar_bucket.data,
                 d->quar_key.data, hy_errname(rc), backoff_ms);
        if (backoff_step(d, &backoff_ms))
            return HY_ECLOSED;
    }
    return 0;
}

/* Tell the service (FailureDescription) what was damaged and where it went. */
static void report_damage(struct delivery *d, const struct streamlog_damage *dm)
{
    struct buf b;
    if (!d->report_failure)
        return;
    buf_init(&b, 2048);
    int rc = buf_printf(&b,
                        "The stream log of %s was damaged: %" PRIu64 " bytes at offset %" PRIu64
                        " of log segment %" PRIu64 ", ",
                        d->cur->stream_name, dm->len, dm->offset, dm->location);
    if (rc == 0 && dm->seq_count > 0)
        rc = buf_printf(
            &b, "holding sequence numbers %" PRIu64 " to %" PRIu64 " (%" PRIu64 " records lost)",
            dm->first_seq, dm->first_seq + dm->seq_count - 1, dm->seq_count);
    else if (rc == 0)
        rc = buf_append_str(&b, "no record lost");
    if (rc == 0)
        rc = buf_printf(&b,
                        ". The damaged bytes were quarantined to s3://%s/%s; every intact record "
                        "was delivered. Acknowledge with POST /_hydrant/streams/%s/"
                        "acknowledge-failure.",
                        d->quar_bucket.data, d->quar_key.data, d->cur->stream_name);
    if (rc == 0)
        d->report_failure(d->rt, b.data);
    buf_fini(&b);
}

/* A damaged span of the log: cut the open batch before it, quarantine it, move past it. 0;
 * HY_ECLOSED when stopped; another negative error is a failure of the batch's commit (the
 * caller retries the batch, and the span comes again). */
static int on_damage(struct delivery *d, const struct streamlog_damage *dm)
{
    int rc;
    if (d->in_batch && (rc = batch_commit(d)) < 0)
        return rc;
    if ((rc = quarantine(d, dm)) < 0)
        return rc;
    atomic_fetch_add_explicit(&d->stats->quarantined_spans, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->stats->quarantined_bytes, dm->len, memory_order_relaxed);
    LOG_ERROR("delivery", "damaged log span quarantined",
              "stream=%s first_seq=%" PRIu64 " seqs=%" PRIu64 " location=%" PRIu64
              " offset=%" PRIu64 " bytes=%" PRIu64 " shown=%zu bucket=%s key=%s",
              d->cur->stream_name, dm->first_seq, dm->seq_count, dm->location, dm->offset, dm->len,
              dm->data_len, d->quar_bucket.data, d->quar_key.data);
    report_damage(d, dm);
    if (dm->first_seq + dm->seq_count > d->read_seq)
        d->read_seq = dm->first_seq + dm->seq_count;
    /* With an intent pending, the cursor moves when its batch commits. */
    if (!d->has_intent && d->read_seq > d->stored_next) {
        if ((rc = store_with_retry(d, d->read_seq, 0)) < 0)
            return rc;
        atomic_store(&d->cursor, d->read_seq);
        d->advanced(d->rt, d->read_seq);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The consumer thread.
 */

/* Milliseconds until the open batch is due by the interval hint (0 = due now). */
static int64_t batch_due_in_ms(const struct delivery *d)
{
    /* The interval runs from when the batch first opened. Timing it from the records' arrival
     * would cut every record of a backlog into its own object after a restart. */
    int64_t left = d->intent_opened_ms + (int64_t)d->cur->interval_s * 1000 - hytime_mono_ms();
    return left < 0 ? 0 : left;
}

/* Whether the interval hint cuts the open batch now. A retry after a sink failure keeps the
 * first attempt's open time, so it is due at once: it still reads on to where that attempt got,
 * or the interval would cut it after its first record. */
static int batch_interval_due(const struct delivery *d)
{
    return d->cur->interval_s > 0 && d->batch_last >= d->refill_last && batch_due_in_ms(d) == 0;
}

static int batch_due(const struct delivery *d)
{
    if (d->sealed_last) /* a sealed batch is cut exactly where it was */
        return d->batch_last >= d->sealed_last;
    if (d->intent_partitioned)
        return d->max_part_len + d->lam_data.len >= d->cur->size_bytes ||
               d->batch_len >= PART_BATCH_MAX_BYTES || batch_interval_due(d);
    return d->batch_len >= d->cur->size_bytes || batch_interval_due(d);
}

static void consume(struct delivery *d)
{
    struct streamlog_record rec;
    int rc;

    if (d->has_intent)
        LOG_INFO("delivery", "replaying interrupted object",
                 "stream=%s first=%" PRIu64 " bucket=%s key=%s", d->cur->stream_name,
                 d->intent_first, d->intent_bucket.data, d->intent_key.data);
    d->read_seq = atomic_load(&d->cursor);
    if (reader_position(d) < 0)
        return;

    for (;;) {
        int stopping = atomic_load(&d->stop);
        if (stopping && !atomic_load(&d->flush))
            return; /* the open batch is aborted; its intent replays at the next start */

        int wait_ms = 0;
        if (!stopping) {
            if (!d->in_batch)
                wait_ms = IDLE_WAIT_MAX_MS;
            else if (d->cur->interval_s > 0)
                wait_ms =
                    d->batch_last < d->refill_last ? IDLE_WAIT_MAX_MS : (int)batch_due_in_ms(d);
            if (wait_ms > IDLE_WAIT_MAX_MS)
                wait_ms = IDLE_WAIT_MAX_MS;
        }
        rc = read_next(d, &rec, wait_ms);
        if (rc < 0)
            return;
        if (rc == STREAMLOG_DAMAGED) {
            rc = on_damage(d, streamlog_reader_damage(d->reader));
            if (rc == HY_ECLOSED || (rc < 0 && batch_fail(d, rc) < 0))
                return;
            continue;
        }
        if (rc == 1) {
            rc = 0;
            /* Cut before overflowing, so objects stay within the size hint (a partitioned batch
             * is cut after the record that fills a partition, or where it was sealed). */
            if (d->in_batch && !d->intent_partitioned && d->batch_records > 0 &&
                d->batch_len + rec.len > d->cur->size_bytes)
                rc = batch_commit(d);
            if (rc == 0 && !d->in_batch)
                rc = batch_open(d, &rec);
            if (rc == 0)
                rc = batch_append(d, &rec);
            if (rc == 0 && batch_due(d))
                rc = batch_commit(d);
            if (rc == HY_ECLOSED || (rc < 0 && batch_fail(d, rc) < 0))
                return;
            continue;
        }
        /* Nothing more is durable right now. */
        if (d->in_batch && !(d->sealed_last && d->batch_last < d->sealed_last) &&
            (stopping || d->cur->interval_s == 0 || batch_interval_due(d))) {
            rc = batch_commit(d);
            if (rc == HY_ECLOSED || (rc < 0 && batch_fail(d, rc) < 0))
                return;
            continue;
        }
        /* Idle with seqs passed that no object holds (damaged or skipped by the log): move the
         * cursor over them, so the log can be trimmed and a stop sees everything consumed. */
        if (!d->in_batch && !d->has_intent && d->read_seq > atomic_load(&d->cursor)) {
            if (store_with_retry(d, d->read_seq, 0) < 0)
                return;
            atomic_store(&d->cursor, d->read_seq);
            d->advanced(d->rt, d->read_seq);
        }
        if (stopping)
            return; /* flushed everything durable */
    }
}

static void *delivery_main(void *arg)
{
    struct delivery *d = arg;
    consume(d);
    if (d->in_batch)
        LOG_INFO("delivery", "stopped with records not yet delivered",
                 "stream=%s first=%" PRIu64 " last=%" PRIu64, d->cur->stream_name, d->batch_first,
                 d->batch_last);
    batch_drop(d); /* the sink is used from this thread only */
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Public calls.
 */

static void delivery_free(struct delivery *d)
{
    if (!d)
        return;
    if (d->reader)
        streamlog_reader_close(d->reader);
    target_free(d->cur);
    target_free(d->next_target);
    codec_free(d->codec);
    parts_clear(d);
    hy_free(d->parts);
    hy_free(d->part_index);
    jqextract_free(d->jx);
    hy_free(d->jx_query);
    process_free(d->proc);
    buf_fini(&d->keys);
    buf_fini(&d->errline);
    buf_fini(&d->intent_prefix);
    buf_fini(&d->intent_error_prefix);
    buf_fini(&d->intent_ext);
    buf_fini(&d->intent_backup_bucket);
    buf_fini(&d->intent_backup_prefix);
    buf_fini(&d->intent_backup_ext);
    hy_free(d->lam);
    buf_fini(&d->lam_data);
    buf_fini(&d->lam_event);
    buf_fini(&d->lam_resp);
    lambdafn_response_fini(&d->lam_parsed);
    buf_fini(&d->staging);
    buf_fini(&d->intent_bucket);
    buf_fini(&d->intent_key);
    buf_fini(&d->quar_bucket);
    buf_fini(&d->quar_key);
    slotfile_close(&d->state);
    hy_free(d->cursor_path);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    hy_free(d);
}

int delivery_start(const struct consumer_env *env, const struct delivery_target *t,
                   struct delivery **out)
{
    struct delivery *d = hy_calloc(1, sizeof(*d));
    pthread_condattr_t ca;
    int rc;

    if (!d)
        return HY_ENOMEM;
    d->state.fd = -1; /* not open yet: delivery_free must not close fd 0 */
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    buf_init(&d->intent_bucket, KEY_MAX_LEN);
    buf_init(&d->intent_key, KEY_MAX_LEN);
    buf_init(&d->quar_bucket, KEY_MAX_LEN);
    buf_init(&d->quar_key, KEY_MAX_LEN);
    buf_init(&d->staging, STAGING_LEN);
    buf_init(&d->keys, KEY_MAX_LEN);
    buf_init(&d->errline, ERR_LINE_MAX);
    buf_init(&d->intent_prefix, KEY_MAX_LEN);
    buf_init(&d->intent_error_prefix, KEY_MAX_LEN);
    buf_init(&d->intent_ext, KEY_MAX_LEN);
    buf_init(&d->intent_backup_bucket, KEY_MAX_LEN);
    buf_init(&d->intent_backup_prefix, KEY_MAX_LEN);
    buf_init(&d->intent_backup_ext, KEY_MAX_LEN);
    /* Lambda: a round's records (its size plus one record of up to 16 MiB decompressed) and one
     * invocation's event and answer (6 MB each). */
    buf_init(&d->lam_data, (64u << 20));
    buf_init(&d->lam_event, LAMBDAFN_PAYLOAD_MAX + LAMBDA_EVENT_OVERHEAD);
    buf_init(&d->lam_resp, LAMBDAFN_RESPONSE_MAX);
    lambdafn_response_init(&d->lam_parsed);
    d->sink = env->sink;
    d->sink_ctx = env->sink_ctx;
    d->backoff_ms = BACKOFF_MIN_MS;
    d->w = env->log;
    d->stats = env->stats;
    d->advanced = env->advanced;
    d->report_failure = env->report_failure;
    d->rt = env->rt;
    d->cursor_path = hy_strdup(env->state_path);
    d->cur = target_copy(t);
    rc = HY_ENOMEM;
    if (!d->cursor_path || !d->cur)
        goto fail;
    /* Allocated once here, so streaming a batch never allocates. */
    if ((rc = buf_reserve(&d->staging, STAGING_LEN)) < 0)
        goto fail;

    if ((rc = slotfile_open(&d->state, d->cursor_path)) < 0 || (rc = cursor_load(d)) < 0) {
        LOG_ERROR("delivery", "cannot load cursor", "stream=%s path=%s err=%s", d->cur->stream_name,
                  d->cursor_path, hy_errname(rc));
        goto fail;
    }
    if ((rc = pthread_create(&d->thread, NULL, delivery_main, d)) != 0) {
        rc = -rc;
        goto fail;
    }
    LOG_INFO("delivery", "started", "stream=%s next_seq=%" PRIu64 " bucket=%s sink=%s",
             d->cur->stream_name, atomic_load(&d->cursor), d->cur->bucket, d->sink->name);
    *out = d;
    return 0;
fail:
    delivery_free(d);
    return rc;
}

int delivery_update(struct delivery *d, const struct delivery_target *t)
{
    struct target *nt = target_copy(t);
    if (!nt)
        return HY_ENOMEM;
    pthread_mutex_lock(&d->mu);
    struct target *old = d->next_target;
    d->next_target = nt;
    pthread_mutex_unlock(&d->mu);
    target_free(old);
    return 0;
}

uint64_t delivery_cursor(struct delivery *d)
{
    return atomic_load(&d->cursor);
}

uint64_t delivery_stop(struct delivery *d, int flush)
{
    if (!d)
        return 0;
    atomic_store(&d->flush, flush ? 1 : 0);
    pthread_mutex_lock(&d->mu);
    atomic_store(&d->stop, 1);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
    streamlog_wake(d->w);
    pthread_join(d->thread, NULL);
    uint64_t cursor = atomic_load(&d->cursor);
    LOG_INFO("delivery", "stopped", "stream=%s next_seq=%" PRIu64, d->cur->stream_name, cursor);
    delivery_free(d);
    return cursor;
}
