#include "deliver/delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/slotfile.h"
#include "deliver/keyname.h"
#include "sink/fssink.h"
#include "stream/stats.h"
#include "stream/wal.h"

/*
 * Cursor state <state_dir>/delivery.state, a slot file (base/slotfile.h: updated in place, one
 * fdatasync per update, a torn update leaves the previous state) holding one of:
 *
 *     {"next_seq":N}
 *     {"next_seq":N,"intent":{"first_seq":F,"last_seq":L,"bucket":"B","key":"K"}}
 *
 * Every record below next_seq is in a durable object. An intent says "records F..L are being
 * written to B/K": after a crash they are written there again before anything else, so the
 * object is complete exactly once whatever moment the process died. Protocol per batch:
 * store intent -> put object -> store next_seq = L+1 without intent -> trim the log.
 */
#define CURSOR_FILE "delivery.state"
#define CURSOR_MAX_LEN SLOTFILE_MAX_PAYLOAD
#define KEY_MAX_LEN 4096
/* Largest record we expect beyond the size hint (Firehose caps records at 1,000 KiB; the wal
 * at 16 MiB). Bounds the batch buffer. */
#define RECORD_SLACK_LEN (16u * 1024 * 1024 + 1024)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* wal_wait cannot see a wal_wake that came before it started waiting, so idle waits are kept
 * short: a stop is noticed within this time even if its wake was missed. */
#define IDLE_WAIT_MAX_MS 250

/* Private copy of a delivery_target. */
struct target {
    char *stream_name;
    char *bucket;
    char *prefix;
    char *error_prefix;
    uint64_t version;
    uint64_t size_bytes;
    int interval_s;
    uint64_t stream_id;
};

struct intent {
    uint64_t first_seq;
    uint64_t last_seq;
    char *bucket;
    char *key;
};

struct delivery {
    char *cursor_path;
    struct slotfile state; /* the cursor state file, open for the consumer's life */
    char *s3_root;
    struct wal *w;
    struct stream_stats *stats;
    pthread_t thread;

    pthread_mutex_t mu;         /* guards next_target and wakes backoff sleeps */
    pthread_cond_t cond;        /* CLOCK_MONOTONIC; signalled by delivery_stop */
    struct target *next_target; /* [mu] set by delivery_update, taken at the next batch */
    _Atomic int stop;
    _Atomic int flush;
    _Atomic uint64_t cursor; /* every seq below is delivered */

    /* Consumer thread only. */
    struct target *cur;         /* target of the batch being built */
    struct intent start_intent; /* intent found in the cursor file at start */
    struct wal_reader *reader;
    uint64_t read_seq; /* next seq the reader returns */
    struct buf batch;  /* record bytes, concatenated as sent */
    uint64_t batch_first;
    uint64_t batch_last;
    uint64_t batch_records;
    int64_t batch_oldest_ms; /* min arrival in batch (wall clock) */
    int64_t batch_opened_ms; /* monotonic time the batch got its first record */
    struct buf key;
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
    if (!t->stream_name || !t->bucket || !t->prefix || !t->error_prefix) {
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
        /* The batch is empty here, so its cap can follow the new size hint. */
        buf_fini(&d->batch);
        buf_init(&d->batch, d->cur->size_bytes + RECORD_SLACK_LEN);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Cursor file.
 */

static void intent_fini(struct intent *in)
{
    hy_free(in->bucket);
    hy_free(in->key);
    memset(in, 0, sizeof(*in));
}

static int cursor_store(struct delivery *d, uint64_t next_seq, const struct intent *in)
{
    struct buf b;
    int rc;
    buf_init(&b, CURSOR_MAX_LEN);
    rc = buf_printf(&b, "{\"next_seq\":%" PRIu64, next_seq);
    if (rc == 0 && in) {
        rc = buf_printf(
            &b, ",\"intent\":{\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"bucket\":",
            in->first_seq, in->last_seq);
        if (rc == 0)
            rc = buf_append_json_str(&b, in->bucket, strlen(in->bucket));
        if (rc == 0)
            rc = buf_append_str(&b, ",\"key\":");
        if (rc == 0)
            rc = buf_append_json_str(&b, in->key, strlen(in->key));
        if (rc == 0)
            rc = buf_append_str(&b, "}");
    }
    if (rc == 0)
        rc = buf_append_str(&b, "}\n");
    if (rc == 0)
        rc = slotfile_write(&d->state, b.data, b.len);
    buf_fini(&b);
    return rc;
}

/* A JSON number that is an exact sequence number (cJSON keeps doubles: exact below 2^53). */
static int json_seq(const cJSON *obj, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return HY_ECORRUPT;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

/* Load the cursor state; an empty slot file means a new stream (next_seq 1, no intent). */
static int cursor_load(struct slotfile *sf, uint64_t *next_seq, struct intent *in)
{
    size_t len;
    cJSON *root = NULL;
    char *text = hy_malloc(SLOTFILE_MAX_PAYLOAD + 1);
    int rc = text ? slotfile_read(sf, text, SLOTFILE_MAX_PAYLOAD, &len) : HY_ENOMEM;

    memset(in, 0, sizeof(*in));
    if (rc == 0 && len == 0) {
        *next_seq = 1;
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = HY_ECORRUPT;
    root = cJSON_ParseWithLength(text, len);
    if (!root || json_seq(root, "next_seq", next_seq) < 0)
        goto out;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "intent");
    if (it) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "bucket");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "key");
        if (json_seq(it, "first_seq", &in->first_seq) < 0 ||
            json_seq(it, "last_seq", &in->last_seq) < 0 || in->last_seq < in->first_seq ||
            !cJSON_IsString(b) || !cJSON_IsString(k))
            goto out;
        in->bucket = hy_strdup(b->valuestring);
        in->key = hy_strdup(k->valuestring);
        if (!in->bucket || !in->key) {
            intent_fini(in);
            rc = HY_ENOMEM;
            goto out;
        }
    }
    rc = 0;
out:
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

static int next_backoff(int ms)
{
    return ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : ms * 2;
}

/* ---------------------------------------------------------------------------------------------
 * Writing one object.
 */

/* Write in->bucket/in->key from the batch bytes, retrying until it succeeds. Returns 0 once the
 * object is durable, or HY_ECLOSED if delivery stops first (the intent stays for replay). */
static int put_with_retry(struct delivery *d, const struct intent *in)
{
    struct iovec iov = {.iov_base = d->batch.data, .iov_len = d->batch.len};
    struct sink_object obj = {
        .bucket = in->bucket,
        .key = in->key,
        .iov = &iov,
        .iovcnt = 1,
        .len = d->batch.len,
    };
    int backoff_ms = BACKOFF_MIN_MS;
    for (;;) {
        int rc = fssink_put(d->s3_root, &obj);
        if (rc == 0)
            return 0;
        atomic_fetch_add_explicit(&d->stats->delivery_failures, 1, memory_order_relaxed);
        /* Firehose retries S3 delivery for up to 24 h; we keep the same key forever, since
         * moving on would lose the range. A stop gives up; the intent replays on restart. */
        LOG_WARN("delivery", "object write failed, retrying",
                 "stream=%s first=%" PRIu64 " last=%" PRIu64
                 " bucket=%s key=%s err=%s backoff_ms=%d",
                 d->cur->stream_name, in->first_seq, in->last_seq, in->bucket, in->key,
                 hy_errname(rc), backoff_ms);
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        sleep_interruptible(d, backoff_ms);
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        backoff_ms = next_backoff(backoff_ms);
    }
}

/* Store the cursor file, retrying on failure (disk trouble) until it works or we stop. */
static int store_with_retry(struct delivery *d, uint64_t next_seq, const struct intent *in)
{
    int backoff_ms = BACKOFF_MIN_MS;
    for (;;) {
        int rc = cursor_store(d, next_seq, in);
        if (rc == 0)
            return 0;
        LOG_WARN("delivery", "cursor write failed, retrying",
                 "stream=%s next_seq=%" PRIu64 " err=%s", d->cur->stream_name, next_seq,
                 hy_errname(rc));
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        sleep_interruptible(d, backoff_ms);
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        backoff_ms = next_backoff(backoff_ms);
    }
}

/* The object for in is durable: move the cursor past it and let the log go. */
static int commit_range(struct delivery *d, const struct intent *in, uint64_t records)
{
    int rc = store_with_retry(d, in->last_seq + 1, NULL);
    if (rc < 0)
        return rc;
    atomic_store(&d->cursor, in->last_seq + 1);
    atomic_fetch_add_explicit(&d->stats->delivery_records, records, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->stats->delivery_bytes, d->batch.len, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->stats->delivery_objects, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->stats->delivery_success, 1, memory_order_relaxed);
    rc = wal_trim(d->w, in->last_seq + 1);
    if (rc < 0) /* Not fatal: the segments go at the next trim. */
        LOG_WARN("delivery", "log trim failed", "stream=%s below=%" PRIu64 " err=%s",
                 d->cur->stream_name, in->last_seq + 1, hy_errname(rc));
    return 0;
}

static void batch_reset(struct delivery *d)
{
    buf_reset(&d->batch);
    d->batch_records = 0;
    d->batch_first = d->batch_last = 0;
    d->batch_oldest_ms = 0;
    atomic_store_explicit(&d->stats->oldest_undelivered_ms, 0, memory_order_relaxed);
}

/* Name the batch's object in d->key. A prefix that cannot be used falls back to the default
 * prefix, since stalling the stream would be worse; returns 0 or HY_ENOMEM. */
static int batch_key(struct delivery *d, const struct keyname_range *r)
{
    buf_reset(&d->key);
    int rc = keyname_object_key(d->cur->prefix, r, &d->key);
    if (rc == HY_EINVAL || rc == HY_E2BIG) {
        /* The api validates prefixes, so this is a bad catalog entry; deliver anyway. */
        LOG_ERROR("delivery", "bad prefix, using the default", "stream=%s err=%s",
                  d->cur->stream_name, hy_errname(rc));
        buf_reset(&d->key);
        rc = keyname_object_key(NULL, r, &d->key);
    }
    if (rc == 0 && fssink_check_name(d->cur->bucket, d->key.data) < 0) {
        /* A prefix such as "a//b/" is a valid S3 key but has no file of its own; retrying it
         * forever would stall the stream, so such objects take the default prefix. */
        LOG_ERROR("delivery", "key not storable locally, using the default prefix",
                  "stream=%s bucket=%s key=%s", d->cur->stream_name, d->cur->bucket, d->key.data);
        buf_reset(&d->key);
        rc = keyname_object_key(NULL, r, &d->key);
    }
    /* The default prefix and a bounded stream name always fit KEY_MAX_LEN: only memory can
     * fail here. */
    HY_ASSERT(rc == 0 || rc == HY_ENOMEM);
    return rc;
}

/* Deliver the current batch as one object. 0, or HY_ECLOSED when stopped first. */
static int batch_deliver(struct delivery *d)
{
    struct keyname_range r = {
        .stream_name = d->cur->stream_name,
        .version = d->cur->version,
        .stream_id = d->cur->stream_id,
        .first_seq = d->batch_first,
        .last_seq = d->batch_last,
        .oldest_arrival_ms = d->batch_oldest_ms,
    };
    int rc;

    while ((rc = batch_key(d, &r)) < 0) {
        LOG_WARN("delivery", "cannot name object, retrying",
                 "stream=%s first=%" PRIu64 " last=%" PRIu64 " err=%s", d->cur->stream_name,
                 r.first_seq, r.last_seq, hy_errname(rc));
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        sleep_interruptible(d, BACKOFF_MAX_MS / 10);
    }
    struct intent in = {
        .first_seq = d->batch_first,
        .last_seq = d->batch_last,
        .bucket = d->cur->bucket,
        .key = d->key.data,
    };
    /* The intent must be durable before the object exists, or a crash could leave an object
     * the restart does not know to rewrite under the same key. */
    if ((rc = store_with_retry(d, d->batch_first, &in)) < 0)
        return rc;
    if ((rc = put_with_retry(d, &in)) < 0)
        return rc;
    if ((rc = commit_range(d, &in, d->batch_records)) < 0)
        return rc;
    LOG_DEBUG("delivery", "object written",
              "stream=%s first=%" PRIu64 " last=%" PRIu64 " bytes=%zu key=%s", d->cur->stream_name,
              in.first_seq, in.last_seq, d->batch.len, in.key);
    batch_reset(d);
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
            rc = wal_reader_seek(d->reader, d->read_seq);
        else
            rc = wal_reader_open(d->w, d->read_seq, &d->reader);
        if (rc == 0)
            return 0;
        /* Most likely the log no longer holds read_seq (deleted or trimmed behind the cursor):
         * those records are lost to delivery and an operator must look. */
        LOG_ERROR("delivery", "cannot read the log at the cursor",
                  "stream=%s seq=%" PRIu64 " err=%s", d->cur->stream_name, d->read_seq,
                  hy_errname(rc));
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        sleep_interruptible(d, backoff_ms);
        if (atomic_load(&d->stop))
            return HY_ECLOSED;
        backoff_ms = next_backoff(backoff_ms);
    }
}

/* Read the next record, waiting up to wait_ms for one to become durable. 1 with *rec, 0 if
 * none, or HY_ECLOSED if stopped while recovering from a read error. */
static int read_next(struct delivery *d, struct wal_record *rec, int wait_ms)
{
    int rc = wal_reader_next(d->reader, rec);
    if (rc == 0 && wait_ms > 0 && !atomic_load(&d->stop)) {
        if (wal_wait(d->w, d->read_seq, wait_ms) == 1)
            rc = wal_reader_next(d->reader, rec);
    }
    if (rc < 0) {
        LOG_ERROR("delivery", "log read failed", "stream=%s seq=%" PRIu64 " err=%s",
                  d->cur->stream_name, d->read_seq, hy_errname(rc));
        sleep_interruptible(d, BACKOFF_MAX_MS / 10);
        if ((rc = reader_position(d)) < 0)
            return rc;
        return 0;
    }
    if (rc == 1) {
        /* The wal hands out dense sequence numbers; anything else is a wal bug. */
        HY_ASSERT(rec->seq == d->read_seq);
        d->read_seq++;
    }
    return rc;
}

/* Add a record to the batch (the batch was cut first if the record would overflow it). */
static int batch_add(struct delivery *d, const struct wal_record *rec)
{
    if (d->batch_records == 0) {
        target_refresh(d);
        d->batch_first = rec->seq;
        d->batch_oldest_ms = rec->arrival_ms;
        d->batch_opened_ms = hytime_mono_ms();
        atomic_store_explicit(&d->stats->oldest_undelivered_ms, rec->arrival_ms,
                              memory_order_relaxed);
    } else if (rec->arrival_ms < d->batch_oldest_ms) {
        d->batch_oldest_ms = rec->arrival_ms;
        atomic_store_explicit(&d->stats->oldest_undelivered_ms, rec->arrival_ms,
                              memory_order_relaxed);
    }
    int rc = buf_append(&d->batch, rec->data, rec->len);
    if (rc < 0)
        return rc;
    d->batch_last = rec->seq;
    d->batch_records++;
    return 0;
}

/* Replay the intent found at start: records first..last go to exactly bucket/key again. */
static int replay_intent(struct delivery *d)
{
    struct intent *in = &d->start_intent;
    struct wal_record rec;
    int rc;

    LOG_INFO("delivery", "replaying interrupted object",
             "stream=%s first=%" PRIu64 " last=%" PRIu64 " bucket=%s key=%s", d->cur->stream_name,
             in->first_seq, in->last_seq, in->bucket, in->key);
    d->read_seq = in->first_seq;
    if ((rc = reader_position(d)) < 0)
        return rc;
    while (d->read_seq <= in->last_seq) {
        rc = read_next(d, &rec, IDLE_WAIT_MAX_MS);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (atomic_load(&d->stop))
                return HY_ECLOSED;
            continue; /* these records were durable before the crash; wait for recovery */
        }
        /* Replay ignores hints: the object must hold exactly the recorded range, so the batch
         * buffer was made unbounded for it (delivery_start). */
        if (d->batch_records == 0) {
            d->batch_first = rec.seq;
            d->batch_oldest_ms = rec.arrival_ms;
            atomic_store_explicit(&d->stats->oldest_undelivered_ms, rec.arrival_ms,
                                  memory_order_relaxed);
        }
        if ((rc = buf_append(&d->batch, rec.data, rec.len)) < 0)
            return rc;
        d->batch_last = rec.seq;
        d->batch_records++;
    }
    if ((rc = put_with_retry(d, in)) < 0)
        return rc;
    if ((rc = commit_range(d, in, d->batch_records)) < 0)
        return rc;
    batch_reset(d);
    buf_fini(&d->batch);
    buf_init(&d->batch, d->cur->size_bytes + RECORD_SLACK_LEN);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The consumer thread.
 */

/* Milliseconds until the open batch is due by the interval hint (0 = due now). */
static int64_t batch_due_in_ms(const struct delivery *d)
{
    /* The interval runs from when the batch opened. Timing it from the records' arrival would
     * cut every record of a backlog into its own object after a restart. */
    int64_t left = d->batch_opened_ms + (int64_t)d->cur->interval_s * 1000 - hytime_mono_ms();
    return left < 0 ? 0 : left;
}

static void consume(struct delivery *d)
{
    struct wal_record rec;
    int rc;

    if (d->start_intent.key) {
        /* Only a stop or a lack of memory ends a replay early; memory may come back. */
        while ((rc = replay_intent(d)) < 0 && !atomic_load(&d->stop)) {
            LOG_WARN("delivery", "replay failed, retrying",
                     "stream=%s first=%" PRIu64 " last=%" PRIu64 " err=%s", d->cur->stream_name,
                     d->start_intent.first_seq, d->start_intent.last_seq, hy_errname(rc));
            buf_reset(&d->batch);
            d->batch_records = 0;
            sleep_interruptible(d, BACKOFF_MAX_MS / 10);
        }
        intent_fini(&d->start_intent);
        if (rc < 0)
            return;
    }
    d->read_seq = atomic_load(&d->cursor);
    if (reader_position(d) < 0)
        return;

    for (;;) {
        int stopping = atomic_load(&d->stop);
        if (stopping && !atomic_load(&d->flush))
            return; /* the open batch is redelivered from the cursor next time */

        int wait_ms = 0;
        if (!stopping) {
            if (d->batch_records == 0)
                wait_ms = IDLE_WAIT_MAX_MS;
            else if (d->cur->interval_s > 0)
                wait_ms = (int)batch_due_in_ms(d);
            if (wait_ms > IDLE_WAIT_MAX_MS)
                wait_ms = IDLE_WAIT_MAX_MS;
        }
        rc = read_next(d, &rec, wait_ms);
        if (rc < 0)
            return;
        if (rc == 1) {
            /* Cut before overflowing, so objects stay within the size hint. */
            if (d->batch_records > 0 && d->batch.len + rec.len > d->cur->size_bytes &&
                batch_deliver(d) < 0)
                return;
            if ((rc = batch_add(d, &rec)) < 0) {
                /* Cannot be HY_E2BIG: the batch is cut before it outgrows size + one record,
                 * and the wal's records are smaller than RECORD_SLACK_LEN. */
                HY_ASSERT(rc != HY_E2BIG);
                LOG_WARN("delivery", "no memory for the batch, retrying",
                         "stream=%s seq=%" PRIu64 " len=%zu err=%s", d->cur->stream_name, rec.seq,
                         rec.len, hy_errname(rc));
                sleep_interruptible(d, BACKOFF_MAX_MS / 10);
                d->read_seq = rec.seq; /* read it again */
                if (reader_position(d) < 0)
                    return;
                continue;
            }
            if (d->batch.len >= d->cur->size_bytes ||
                (d->cur->interval_s > 0 && batch_due_in_ms(d) == 0)) {
                if (batch_deliver(d) < 0)
                    return;
            }
            continue;
        }
        /* Nothing more is durable right now. */
        if (d->batch_records > 0 &&
            (stopping || d->cur->interval_s == 0 || batch_due_in_ms(d) == 0)) {
            if (batch_deliver(d) < 0)
                return;
            continue;
        }
        if (stopping)
            return; /* flushed everything durable */
    }
}

static void *delivery_main(void *arg)
{
    struct delivery *d = arg;
    consume(d);
    if (d->batch_records > 0)
        LOG_INFO("delivery", "stopped with records not yet delivered",
                 "stream=%s first=%" PRIu64 " last=%" PRIu64, d->cur->stream_name, d->batch_first,
                 d->batch_last);
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
        wal_reader_close(d->reader);
    intent_fini(&d->start_intent);
    target_free(d->cur);
    target_free(d->next_target);
    buf_fini(&d->batch);
    buf_fini(&d->key);
    slotfile_close(&d->state);
    hy_free(d->cursor_path);
    hy_free(d->s3_root);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    hy_free(d);
}

int delivery_start(const char *state_dir, const char *s3_root, struct wal *w,
                   struct stream_stats *stats, const struct delivery_target *t,
                   struct delivery **out)
{
    struct delivery *d = hy_calloc(1, sizeof(*d));
    struct buf path;
    pthread_condattr_t ca;
    uint64_t next_seq;
    int rc;

    if (!d)
        return HY_ENOMEM;
    d->state.fd = -1; /* not open yet: delivery_free must not close fd 0 */
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    buf_init(&d->key, KEY_MAX_LEN);
    d->w = w;
    d->stats = stats;

    buf_init(&path, 4096);
    rc = buf_printf(&path, "%s/%s", state_dir, CURSOR_FILE);
    d->cursor_path = rc == 0 ? hy_strdup(path.data) : NULL;
    buf_fini(&path);
    d->s3_root = hy_strdup(s3_root);
    d->cur = target_copy(t);
    if (rc < 0 || !d->cursor_path || !d->s3_root || !d->cur) {
        rc = rc < 0 ? rc : HY_ENOMEM;
        goto fail;
    }

    if ((rc = fsutil_mkdirs(state_dir, 0755)) < 0)
        goto fail;
    if ((rc = slotfile_open(&d->state, d->cursor_path)) < 0 ||
        (rc = cursor_load(&d->state, &next_seq, &d->start_intent)) < 0) {
        LOG_ERROR("delivery", "cannot load cursor", "stream=%s path=%s err=%s", d->cur->stream_name,
                  d->cursor_path, hy_errname(rc));
        goto fail;
    }
    /* Replay needs the intent's full range in memory whatever today's size hint is. */
    buf_init(&d->batch, d->start_intent.key ? SIZE_MAX - 1 : d->cur->size_bytes + RECORD_SLACK_LEN);
    if (d->start_intent.key)
        next_seq = d->start_intent.first_seq; /* the file holds the same value */
    atomic_store(&d->cursor, next_seq);
    if ((rc = pthread_create(&d->thread, NULL, delivery_main, d)) != 0) {
        rc = -rc;
        goto fail;
    }
    LOG_INFO("delivery", "started", "stream=%s next_seq=%" PRIu64 " bucket=%s", d->cur->stream_name,
             next_seq, d->cur->bucket);
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
    wal_wake(d->w);
    pthread_join(d->thread, NULL);
    uint64_t cursor = atomic_load(&d->cursor);
    LOG_INFO("delivery", "stopped", "stream=%s next_seq=%" PRIu64, d->cur->stream_name, cursor);
    delivery_free(d);
    return cursor;
}
