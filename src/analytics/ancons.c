/*
 * ancons: the live analytics consumer (see ancons.h).
 *
 * Checkpoint file (consumers/analytics.state, replaced with fsutil_write_atomic so it is the old
 * or the new one after a crash; native layout, the same build reads it):
 *   "HYAC" | u32 version(1) | u64 cursor | u32 image_len | anmodels image | u32 crc32c of all
 * before The image is the models' state after every record below cursor, so the two always match.
 */
#include "analytics/ancons.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analytics/anjq.h"
#include "analytics/anmodels.h"
#include "analytics/anset.h"
#include "base/buf.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/stats.h"
#include "stream/streamlog.h"

#define SETTINGS_KEY "analytics"
#define CKPT_MAGIC "HYAC"
#define CKPT_VERSION 1u
#define CKPT_MAX (512u << 20)
#define IMAGE_MAX (256u << 20)
#define BATCH_RECORDS 4096
#define BATCH_MS 100
#define IDLE_WAIT_MS 200
#define EVENTS_MAX (64u << 20)
#define APPEND_CHUNK 500
#define APPEND_TRIES 8 /* for "Slow down." and a full quota */
#define HOOK_TRIES 3
#define HOOK_TIMEOUT_MS 2000
#define PATH_MAX_LEN 4096

struct ancons {
    char *stream;
    char *path;
    struct anset set;
    struct anjq *qv, *qk, *qt;
    int fast; /* every path is a plain chain of fields: records parsed by cJSON (anjq.h) */
    struct anmodels *models;
    struct streamlog *log;
    struct streamlog_reader *reader;
    struct stream_stats *stats;
    void (*advanced)(void *rt, uint64_t cursor);
    void (*report_failure)(void *rt, const char *details);
    int (*append_to)(void *rt, const char *stream, struct streamlog_append *a);
    void *rt;
    uint64_t next_seq; /* thread: first record not yet scored */
    _Atomic uint64_t cursor;
    atomic_int stop;
    atomic_int flush;
    int halted; /* thread: a batch could not be stored; no more checkpoints */
    pthread_t thread;
    struct buf events; /* NDJSON of this batch's events */
    struct buf key, ts, ckpt;
    CURL *curl;
    /* append completion */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const cJSON *settings_of(const cJSON *settings)
{
    return cJSON_GetObjectItemCaseSensitive(settings, SETTINGS_KEY);
}

static int wants(const cJSON *dest, const cJSON *settings)
{
    (void)dest;
    return settings_of(settings) != NULL;
}

/* ---------------------------------------------------------------- checkpoint */

static int ckpt_save(struct ancons *a)
{
    struct buf *b = &a->ckpt;
    buf_reset(b);
    uint32_t ver = CKPT_VERSION, ilen = 0, crc;
    uint64_t cur = a->next_seq;
    int rc = buf_append(b, CKPT_MAGIC, 4);
    if (!rc)
        rc = buf_append(b, &ver, 4);
    if (!rc)
        rc = buf_append(b, &cur, 8);
    if (!rc)
        rc = buf_append(b, &ilen, 4);
    size_t at = b->len;
    if (!rc)
        rc = anmodels_save(a->models, b);
    if (!rc) {
        ilen = (uint32_t)(b->len - at);
        memcpy(b->data + at - 4, &ilen, 4);
        crc = crc32c(0, b->data, b->len);
        rc = buf_append(b, &crc, 4);
    }
    if (!rc)
        rc = fsutil_write_atomic(a->path, b->data, b->len);
    return rc;
}

/* Load the checkpoint: 0 with next_seq and models set, HY_ENOTFOUND when there is none, or an
 * error (the file is not usable). */
static int ckpt_load(struct ancons *a)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fsutil_read_all(a->path, &text, &len, CKPT_MAX);
    if (rc == -ENOENT)
        return HY_ENOTFOUND;
    if (rc)
        return rc;
    const unsigned char *p = (const unsigned char *)text;
    uint32_t ver, ilen, crc;
    uint64_t cur;
    rc = HY_ECORRUPT;
    if (len < 24 || memcmp(p, CKPT_MAGIC, 4) != 0)
        goto out;
    memcpy(&crc, p + len - 4, 4);
    if (crc32c(0, p, len - 4) != crc)
        goto out;
    memcpy(&ver, p + 4, 4);
    memcpy(&cur, p + 8, 8);
    memcpy(&ilen, p + 16, 4);
    if (ver != CKPT_VERSION) {
        rc = HY_EVERSION;
        goto out;
    }
    if ((size_t)ilen != len - 24)
        goto out;
    a->next_seq = cur;
    struct anmodels *m = NULL;
    rc = anmodels_load(a->set.ops, a->set.max_keys, p + 20, ilen, &m);
    if (rc == HY_EVERSION || rc == HY_EQUOTA) {
        /* The settings changed the detector or lowered the cap: the cursor stands, the models
         * start afresh. */
        LOG_WARN("analytics", "models reset: the settings changed the detector or the key cap",
                 "stream=%s", a->stream);
        rc = 0;
    } else if (rc == 0) {
        anmodels_free(a->models);
        a->models = m;
    }
out:
    hy_free(text);
    return rc;
}

/* ---------------------------------------------------------------- events */

static void append_done(void *arg, int status, uint64_t first_seq)
{
    (void)first_seq;
    struct ancons *a = arg;
    pthread_mutex_lock(&a->mu);
    a->done = 1;
    a->status = status;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Append recs to the target and wait until they are durable. */
static int append_wait(struct ancons *a, struct streamlog_rec *recs, size_t n)
{
    struct streamlog_append ap;
    memset(&ap, 0, sizeof ap);
    ap.recs = recs;
    ap.n = n;
    ap.arrival_ms = (int64_t)time(NULL) * 1000;
    ap.done = append_done;
    ap.arg = a;
    a->done = 0;
    int rc = a->append_to(a->rt, a->set.target, &ap);
    if (rc)
        return rc;
    pthread_mutex_lock(&a->mu);
    while (!a->done)
        pthread_cond_wait(&a->cv, &a->mu);
    rc = a->status;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* Append m events to the target. A target that is closed (not open yet at start-up, stopping,
 * being deleted) is waited for while the consumer runs; "Slow down." and a full quota are retried
 * a few times. 0 (appended, or dropped: counted, logged and reported, so that analytics never
 * holds the source stream's log and producers hostage to a broken target), or HY_ECLOSED when
 * the consumer is stopping and the target is closed: the batch must not be checkpointed. */
static int emit_chunk(struct ancons *a, struct streamlog_rec *recs, size_t m)
{
    int rc, tries = 0, backoff = 50;
    for (;;) {
        rc = append_wait(a, recs, m);
        if (rc == 0 || rc == HY_ENOTFOUND)
            break;
        if (rc == HY_ECLOSED && atomic_load(&a->stop))
            return HY_ECLOSED;
        if (rc != HY_ECLOSED && rc != HY_EBUSY && rc != HY_EQUOTA)
            break;
        if (rc != HY_ECLOSED && ++tries >= APPEND_TRIES)
            break;
        struct timespec ts = {0, backoff * 1000000L};
        nanosleep(&ts, NULL);
        backoff = backoff < 1000 ? backoff * 2 : 1000;
    }
    if (rc) {
        atomic_fetch_add_explicit(&a->stats->analytics_dropped_events, m, memory_order_relaxed);
        LOG_ERROR("analytics", "target stream refused anomaly events; dropped",
                  "stream=%s target=%s events=%zu err=%s", a->stream, a->set.target, m,
                  hy_errname(rc));
        if (a->report_failure) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "analytics: target stream %s refused anomaly events (%s); they were dropped",
                     a->set.target, hy_strerror(rc));
            a->report_failure(a->rt, msg);
        }
    }
    return 0;
}

/* Append the batch's events (one record each) to the target stream: 0 or HY_ECLOSED (see
 * emit_chunk). */
static int emit(struct ancons *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->events.len; i++)
        n += a->events.data[i] == '\n';
    if (!n)
        return 0;
    struct streamlog_rec *recs = hy_calloc(n, sizeof *recs);
    if (!recs) {
        atomic_fetch_add_explicit(&a->stats->analytics_dropped_events, n, memory_order_relaxed);
        return 0;
    }
    size_t k = 0, start = 0;
    for (size_t i = 0; i < a->events.len; i++)
        if (a->events.data[i] == '\n') {
            recs[k].data = a->events.data + start;
            recs[k++].len = i + 1 - start;
            start = i + 1;
        }
    int rc = 0;
    for (size_t off = 0; off < n && !rc;) {
        size_t m = n - off < APPEND_CHUNK ? n - off : APPEND_CHUNK;
        rc = emit_chunk(a, recs + off, m);
        off += m;
    }
    hy_free(recs);
    return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* POST the batch's events (NDJSON) to the webhook: a few tries, each bounded in time. */
static void hook(struct ancons *a)
{
    if (!a->set.webhook || !a->events.len)
        return;
    if (!a->curl && !(a->curl = curl_easy_init())) {
        atomic_fetch_add_explicit(&a->stats->analytics_webhook_failures, 1, memory_order_relaxed);
        return;
    }
    CURL *c = a->curl;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, a->set.webhook);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->events.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->events.len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)HOOK_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HOOK_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long code = 0;
    CURLcode cc = CURLE_OK;
    for (int t = 0; t < HOOK_TRIES; t++) {
        if (t) {
            struct timespec ts = {0, 100000000L * t};
            nanosleep(&ts, NULL);
        }
        cc = curl_easy_perform(c);
        code = 0;
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (cc == CURLE_OK && code >= 200 && code < 300)
            break;
        if (cc == CURLE_OK && code >= 400 && code < 500 && code != 429)
            break; /* the receiver refuses this request: another try would not help */
    }
    curl_slist_free_all(h);
    if (cc != CURLE_OK || code < 200 || code >= 300) {
        atomic_fetch_add_explicit(&a->stats->analytics_webhook_failures, 1, memory_order_relaxed);
        LOG_WARN("analytics", "webhook POST failed; events stay in the target stream",
                 "stream=%s status=%ld err=%s", a->stream, code,
                 cc == CURLE_OK ? "http" : "transport");
    }
}

/* ---------------------------------------------------------------- scoring */

static int add_event(struct ancons *a, uint64_t seq, int64_t arrival_ms, double value, double score)
{
    struct buf *e = &a->events;
    int rc = buf_append_str(e, "{\"stream\":");
    if (!rc)
        rc = buf_append_json_str(e, a->stream, strlen(a->stream));
    if (!rc)
        rc = buf_append_str(e, ",\"key\":");
    if (!rc)
        rc = a->qk ? buf_append_json_str(e, a->key.data ? a->key.data : "", a->key.len)
                   : buf_append_str(e, "null");
    if (!rc)
        rc = buf_append_str(e, ",\"timestamp\":");
    if (!rc)
        rc = a->ts.len ? buf_append(e, a->ts.data, a->ts.len)
                       : buf_printf(e, "%" PRId64, arrival_ms);
    if (!rc)
        rc = buf_printf(
            e, ",\"value\":%.17g,\"score\":%.17g,\"detector\":\"%s\",\"seq\":%" PRIu64 "}\n", value,
            score, a->set.ops->name, seq);
    return rc;
}

static void score_doc(struct ancons *a, const struct streamlog_record *rec,
                      const struct anjq_doc *doc)
{
    double v, score;
    buf_reset(&a->key);
    buf_reset(&a->ts);
    int rc = anjq_number(a->qv, doc, &v);
    if (!rc && a->qk) {
        rc = anjq_json(a->qk, doc, 1, &a->key);
        if (rc == HY_ENOTFOUND)
            rc = 0; /* no key: the "" series */
    }
    if (!rc && a->qt && anjq_json(a->qt, doc, 0, &a->ts) != 0)
        buf_reset(&a->ts); /* no timestamp: the arrival time */
    if (!rc)
        rc = anmodels_step(a->models, a->key.data ? a->key.data : "", a->key.len, v, &score);
    if (rc) {
        atomic_fetch_add_explicit(&a->stats->analytics_parse_failures, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&a->stats->analytics_points, 1, memory_order_relaxed);
    if (score < a->set.threshold)
        return;
    atomic_fetch_add_explicit(&a->stats->analytics_anomalies, 1, memory_order_relaxed);
    size_t mark = a->events.len;
    if (add_event(a, rec->seq, rec->arrival_ms, v, score)) {
        a->events.len = mark;
        atomic_fetch_add_explicit(&a->stats->analytics_dropped_events, 1, memory_order_relaxed);
    }
}

static void score_record(struct ancons *a, const struct streamlog_record *rec)
{
    struct anjq_parser *p = anjq_parser_new(rec->data, rec->len, a->fast);
    struct anjq_doc *doc = NULL;
    int rc, any = 0;
    if (!p) {
        atomic_fetch_add_explicit(&a->stats->analytics_parse_failures, 1, memory_order_relaxed);
        return;
    }
    while ((rc = anjq_parser_next(p, &doc)) == 1) {
        any = 1;
        score_doc(a, rec, doc);
        anjq_doc_free(doc);
    }
    if (rc < 0 || !any)
        atomic_fetch_add_explicit(&a->stats->analytics_parse_failures, 1, memory_order_relaxed);
    anjq_parser_free(p);
}

/* Open the reader at next_seq; if the log no longer holds it, jump to the durable end (the
 * records in between are lost to analytics, and reported). */
static int position(struct ancons *a)
{
    if (a->reader)
        return 0;
    int rc = streamlog_reader_open(a->log, a->next_seq, &a->reader);
    if (rc == 0)
        return 0;
    uint64_t end = streamlog_durable_next(a->log);
    LOG_ERROR("analytics", "cannot read the log at the cursor; resuming at its end",
              "stream=%s seq=%" PRIu64 " end=%" PRIu64 " err=%s", a->stream, a->next_seq, end,
              hy_errname(rc));
    if (a->report_failure)
        a->report_failure(a->rt, "analytics: the log no longer held the analytics cursor; "
                                 "records in between were not scored");
    a->next_seq = end;
    return streamlog_reader_open(a->log, a->next_seq, &a->reader);
}

/* Score what is durable (up to a batch), emit, checkpoint. Records scored, or an error. */
static int batch(struct ancons *a, int wait_ms)
{
    if (a->halted)
        return HY_ECLOSED;
    int rc = position(a);
    if (rc)
        return rc;
    buf_reset(&a->events);
    int64_t t0 = now_ms();
    int n = 0;
    uint64_t start = a->next_seq;
    struct streamlog_record rec;
    while (n < BATCH_RECORDS) {
        uint64_t durable = streamlog_durable_next(a->log);
        rc = streamlog_reader_next(a->reader, &rec);
        if (rc == 0 && n == 0 && wait_ms > 0 && !atomic_load(&a->stop)) {
            if (streamlog_wait(a->log, a->next_seq, wait_ms) == 1) {
                durable = streamlog_durable_next(a->log);
                rc = streamlog_reader_next(a->reader, &rec);
            }
        }
        if (rc == STREAMLOG_DAMAGED) {
            const struct streamlog_damage *d = streamlog_reader_damage(a->reader);
            LOG_WARN("analytics", "damaged log span skipped", "stream=%s first_seq=%" PRIu64,
                     a->stream, d->first_seq);
            continue;
        }
        if (rc < 0) {
            LOG_ERROR("analytics", "log read failed", "stream=%s seq=%" PRIu64 " err=%s", a->stream,
                      a->next_seq, hy_errname(rc));
            streamlog_reader_close(a->reader);
            a->reader = NULL;
            break;
        }
        if (rc == 0) {
            /* Nothing follows: every seq below durable was returned or does not exist. */
            if (durable > a->next_seq)
                a->next_seq = durable;
            break;
        }
        score_record(a, &rec);
        a->next_seq = rec.seq + 1;
        n++;
        if (now_ms() - t0 >= BATCH_MS)
            break;
    }
    if (a->next_seq == start)
        return 0;
    if (emit(a)) {
        /* Stopping with the target closed (shutdown stops it first): the models moved past
         * records whose events are not stored, so nothing more is checkpointed; the next start
         * scores them again from the last checkpoint. */
        LOG_WARN("analytics",
                 "target closed while stopping; the last batch is scored again at "
                 "the next start",
                 "stream=%s from_seq=%" PRIu64, a->stream, start);
        a->halted = 1;
        return HY_ECLOSED;
    }
    hook(a);
    rc = ckpt_save(a);
    if (rc) {
        LOG_ERROR("analytics", "checkpoint failed; retried with the next batch", "stream=%s err=%s",
                  a->stream, hy_errname(rc));
        return n;
    }
    atomic_store(&a->cursor, a->next_seq);
    a->advanced(a->rt, a->next_seq);
    return n;
}

static void *run(void *arg)
{
    struct ancons *a = arg;
    while (!atomic_load(&a->stop) && !a->halted) {
        int n = batch(a, IDLE_WAIT_MS);
        if (n < 0) {
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (atomic_load(&a->flush))
        while (batch(a, 0) > 0)
            ;
    return NULL;
}

/* ---------------------------------------------------------------- ops */

static void destroy(struct ancons *a)
{
    if (a->reader)
        streamlog_reader_close(a->reader);
    if (a->curl)
        curl_easy_cleanup(a->curl);
    anmodels_free(a->models);
    anjq_free(a->qv);
    anjq_free(a->qk);
    anjq_free(a->qt);
    anset_fini(&a->set);
    buf_fini(&a->events);
    buf_fini(&a->key);
    buf_fini(&a->ts);
    buf_fini(&a->ckpt);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    hy_free(a->stream);
    hy_free(a->path);
    hy_free(a);
}

static int start(const struct consumer_env *env, void **state)
{
    struct ancons *a = hy_calloc(1, sizeof *a);
    if (!a)
        return HY_ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    buf_init(&a->events, EVENTS_MAX);
    buf_init(&a->key, ANMODELS_KEY_MAX * 8);
    buf_init(&a->ts, 4096);
    buf_init(&a->ckpt, CKPT_MAX);
    a->log = env->log;
    a->stats = env->stats;
    a->advanced = env->advanced;
    a->report_failure = env->report_failure;
    a->append_to = env->append_to;
    a->rt = env->rt;
    char err[256];
    int rc = HY_ENOMEM;
    if (!(a->stream = hy_strdup(env->stream_name)) || !(a->path = hy_strdup(env->state_path)))
        goto fail;
    rc = anset_parse(settings_of(env->settings), env->stream_name, &a->set, NULL, err, sizeof err);
    if (rc) {
        LOG_ERROR("analytics", "stored settings are not valid", "stream=%s err=%s",
                  env->stream_name, hy_errname(rc));
        goto fail;
    }
    if ((rc = anjq_compile(a->set.value, &a->qv, err, sizeof err)) ||
        (a->set.key && (rc = anjq_compile(a->set.key, &a->qk, err, sizeof err))) ||
        (a->set.timestamp && (rc = anjq_compile(a->set.timestamp, &a->qt, err, sizeof err))))
        goto fail;
    a->fast =
        anjq_simple(a->qv) && (!a->qk || anjq_simple(a->qk)) && (!a->qt || anjq_simple(a->qt));
    rc = HY_ENOMEM;
    if (!(a->models = anmodels_new(a->set.ops, a->set.max_keys)))
        goto fail;
    rc = ckpt_load(a);
    if (rc == HY_ENOTFOUND || rc == HY_ECORRUPT || rc == HY_EVERSION) {
        if (rc != HY_ENOTFOUND) {
            LOG_ERROR("analytics", "checkpoint unusable; scoring restarts at the log's end",
                      "stream=%s err=%s", a->stream, hy_errname(rc));
            if (a->report_failure)
                a->report_failure(a->rt, "analytics: the checkpoint was unusable; models "
                                         "restarted at the end of the log");
        }
        /* Live detection starts with what arrives from now on; saved at once so a crash
         * before the first batch resumes here. */
        a->next_seq = streamlog_durable_next(a->log);
        rc = ckpt_save(a);
    }
    if (rc)
        goto fail;
    atomic_store(&a->cursor, a->next_seq);
    /* Logged before the thread owns next_seq. */
    LOG_INFO("analytics", "starting", "stream=%s cursor=%" PRIu64 " detector=%s target=%s",
             a->stream, a->next_seq, a->set.ops->name, a->set.target);
    if ((rc = pthread_create(&a->thread, NULL, run, a)) != 0) {
        rc = -rc;
        goto fail;
    }
    *state = a;
    return 0;
fail:
    destroy(a);
    return rc;
}

static uint64_t cursor(void *state)
{
    struct ancons *a = state;
    return atomic_load(&a->cursor);
}

static uint64_t stop(void *state, int flush)
{
    struct ancons *a = state;
    atomic_store(&a->flush, flush);
    atomic_store(&a->stop, 1);
    streamlog_wake(a->log);
    pthread_join(a->thread, NULL);
    uint64_t c = atomic_load(&a->cursor);
    destroy(a);
    return c;
}

const struct consumer_ops analytics_consumer = {
    .name = "analytics",
    .wants = wants,
    .check = NULL,
    .start = start,
    .update = NULL,
    .cursor = cursor,
    .stop = stop,
};
