/*
 * warehouse: the Redshift-style destination consumer (warehouse.h).
 */
#include "warehouse/warehouse.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/consumer.h"
#include "core/stats.h"
#include "sink/sink.h"
#include "stream/streamlog.h"
#include "warehouse/pgload.h"

#define BATCH_MAX ((size_t)1 << 30)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct wh {
    char *stream, *bucket, *prefix, *error_prefix, *state_path;
    char *user, *password, *table, *columns;
    int64_t create_ms;
    uint64_t size_bytes;
    int interval_s;
    int retry_s;
    struct pgload_target target;
    struct pgload *pg;
    struct streamlog *log;
    struct stream_stats *stats;
    const struct sink_ops *sink;
    void *sink_ctx;
    void (*advanced)(void *rt, uint64_t cursor);
    void *rt;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping, flush;
    _Atomic uint64_t cursor;
    uint64_t intent_end; /* 0 = no batch fixed */
};

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *obj_of(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int int_of(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

int warehouse_is_redshift(const cJSON *dest)
{
    const char *k = str_of(dest, "Kind");
    return k && strcmp(k, "Redshift") == 0;
}

static const char *bucket_of(const char *arn)
{
    const char *last = NULL;
    for (const char *p = arn ? strstr(arn, ":s3:::") : NULL; p; p = strstr(p + 1, ":s3:::"))
        last = p;
    return last ? last + 6 : NULL;
}

static int check(const cJSON *dest, const char **reason)
{
    struct jdbc_url u;
    struct copyopts o;
    char why[160];
    const cJSON *cc = obj_of(dest, "CopyCommand");
    const cJSON *s3 = obj_of(dest, "S3Configuration");
    if (copyopts_jdbc(str_of(dest, "ClusterJDBCURL"), &u, reason))
        return HY_EINVAL;
    if (!str_of(cc, "DataTableName") || !str_of(cc, "DataTableName")[0]) {
        *reason = "CopyCommand.DataTableName is required";
        return HY_EINVAL;
    }
    if (copyopts_parse(str_of(cc, "CopyOptions"), &o, why, sizeof why)) {
        *reason = "CopyCommand.CopyOptions is not supported by hydrant";
        return HY_EINVAL;
    }
    if (o.json && (!str_of(cc, "DataTableColumns") || !str_of(cc, "DataTableColumns")[0])) {
        *reason = "hydrant needs CopyCommand.DataTableColumns with JSON 'auto'";
        return HY_EINVAL;
    }
    const char *b = bucket_of(str_of(s3, "BucketARN"));
    if (!b || !b[0] || b[0] == '.') {
        *reason = "S3Configuration.BucketARN does not name a usable bucket";
        return HY_EINVAL;
    }
    return 0;
}

static int wants(const cJSON *dest, const cJSON *settings)
{
    (void)settings;
    return warehouse_is_redshift(dest);
}

/* Cursor file: "F L\n", L = 0 when no batch is fixed. */
static int save_state(struct wh *w, uint64_t f, uint64_t l)
{
    char s[64];
    int n = snprintf(s, sizeof s, "%" PRIu64 " %" PRIu64 "\n", f, l);
    return fsutil_write_atomic(w->state_path, s, (size_t)n);
}

static int load_state(struct wh *w)
{
    char *s = NULL;
    size_t n = 0;
    int rc = fsutil_read_all(w->state_path, &s, &n, 128);
    uint64_t f = 0, l = 0;
    if (rc < 0) {
        /* A new consumer starts at the first record. */
        atomic_store(&w->cursor, 1);
        w->intent_end = 0;
        return save_state(w, 1, 0);
    }
    int ok = sscanf(s, "%" SCNu64 " %" SCNu64, &f, &l) == 2 && f >= 1 && (l == 0 || l > f);
    hy_free(s);
    if (!ok)
        return HY_ECORRUPT;
    atomic_store(&w->cursor, f);
    w->intent_end = l;
    return 0;
}

/* Wait up to ms or until stopping; 1 if stopping. */
static int pause_ms(struct wh *w, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    if (!w->stopping)
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    int s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static void stop_state(struct wh *w, int *stopping, int *flush)
{
    pthread_mutex_lock(&w->mu);
    *stopping = w->stopping;
    *flush = w->flush;
    pthread_mutex_unlock(&w->mu);
}

/* Collect the batch starting at F into data; sets *end (L) and *nrec. With a fixed intent,
 * exactly the records below it. 0, 1 if stopped with nothing to do, or a negative error. */
static int collect(struct wh *w, uint64_t f, struct buf *data, uint64_t *end, uint64_t *nrec)
{
    struct streamlog_reader *r = NULL;
    int rc = streamlog_reader_open(w->log, f, &r);
    if (rc < 0)
        return rc;
    uint64_t last = 0, limit = w->intent_end;
    int64_t deadline = 0;
    *nrec = 0;
    for (;;) {
        int stopping, flush;
        stop_state(w, &stopping, &flush);
        struct streamlog_record rec;
        rc = streamlog_reader_next(r, &rec);
        if (rc < 0)
            break;
        if (rc == STREAMLOG_DAMAGED)
            continue; /* the damaged span is skipped (delivery quarantines it for S3) */
        if (rc == 1) {
            if (limit && rec.seq >= limit)
                break;
            if (buf_append(data, rec.data, rec.len) ||
                ((rec.len == 0 || rec.data[rec.len - 1] != '\n') && buf_append_str(data, "\n"))) {
                rc = HY_ENOMEM;
                break;
            }
            last = rec.seq;
            if ((*nrec)++ == 0)
                deadline = hytime_mono_ms() + (int64_t)w->interval_s * 1000;
            if (!limit && data->len >= w->size_bytes)
                break;
            continue;
        }
        /* Nothing durable follows yet. */
        if (stopping && (!flush || !limit))
            break;
        if (!limit && *nrec > 0 && hytime_mono_ms() >= deadline)
            break;
        if (limit && streamlog_durable_next(w->log) >= limit) {
            break; /* the rest of the fixed batch was lost (cut): load what is left */
        }
        int64_t wait = *nrec > 0 && !limit ? deadline - hytime_mono_ms() : 200;
        streamlog_wait(w->log, last ? last + 1 : f, (int)(wait < 1 ? 1 : wait > 200 ? 200 : wait));
    }
    streamlog_reader_close(r);
    if (rc < 0)
        return rc;
    if (limit) {
        *end = limit;
        return 0;
    }
    if (*nrec == 0)
        return 1;
    *end = last + 1;
    return 0;
}

static int put_object(struct wh *w, const char *key, const void *data, size_t len)
{
    void *wr = NULL;
    int rc = w->sink->open(w->sink_ctx, w->bucket, key, &wr);
    if (rc < 0)
        return rc;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    rc = w->sink->write(wr, &iov, 1);
    if (rc < 0) {
        w->sink->abort(wr);
        return rc;
    }
    return w->sink->commit(wr);
}

static int gzip_of(const struct buf *in, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return HY_ENOMEM;
    uLong cap = deflateBound(&z, (uLong)in->len);
    int rc = buf_reserve(out, cap);
    if (rc == 0) {
        z.next_in = (Bytef *)in->data;
        z.avail_in = (uInt)in->len;
        z.next_out = (Bytef *)out->data;
        z.avail_out = (uInt)cap;
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : HY_ENOMEM;
        out->len = z.total_out;
    }
    deflateEnd(&z);
    return rc;
}

static void manifest_of(struct wh *w, const char *key, size_t len, struct buf *m)
{
    buf_reset(m);
    buf_append_str(m, "{\"entries\":[{\"url\":");
    char url[2048];
    snprintf(url, sizeof url, "s3://%s/%s", w->bucket, key);
    buf_append_json_str(m, url, strlen(url));
    buf_printf(m, ",\"mandatory\":true,\"meta\":{\"content_length\":%zu}}]}", len);
}

/* Stage, load (with retries), or send the manifest to the error prefix. 0 when the batch is
 * done with (the cursor may move), 1 when stopped before (the intent stays). */
static int deliver(struct wh *w, uint64_t f, uint64_t l, uint64_t nrec, const struct buf *data)
{
    char name[512], key[1024], mkey[1024], url[2048], err[512];
    snprintf(name, sizeof name, "%s-%" PRId64 "-%020" PRIu64 "-%020" PRIu64, w->stream,
             w->create_ms, f, l);
    snprintf(key, sizeof key, "%s%s%s", w->prefix, name, w->target.opts.gzip ? ".gz" : "");
    snprintf(mkey, sizeof mkey, "%smanifests/%s", w->prefix, name);
    snprintf(url, sizeof url, "s3://%s/%s", w->bucket, key);
    struct buf gz, man;
    buf_init(&gz, BATCH_MAX);
    buf_init(&man, 1 << 16);
    const struct buf *staged = data;
    int rc = 0, backoff = BACKOFF_MIN_MS;
    if (w->target.opts.gzip) {
        rc = gzip_of(data, &gz);
        staged = &gz;
    }
    manifest_of(w, key, staged->len, &man);
    while (rc == 0 && (put_object(w, key, staged->data, staged->len) ||
                       put_object(w, mkey, man.data, man.len))) {
        LOG_WARN("warehouse", "staging failed, retrying", "stream=%s key=%s", w->stream, key);
        if (pause_ms(w, backoff)) {
            rc = 1;
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    int64_t give_up = hytime_mono_ms() + (int64_t)w->retry_s * 1000;
    backoff = BACKOFF_MIN_MS;
    while (rc == 0) {
        struct pgload_result res;
        char mid[1100];
        snprintf(mid, sizeof mid, "%s/%s", w->bucket, mkey);
        if (pgload_batch(w->pg, &w->target, mid, url, data->data, data->len, &res, err,
                         sizeof err) == 0) {
            if (!res.already) {
                atomic_fetch_add(&w->stats->redshift_records, res.rows);
                atomic_fetch_add(&w->stats->redshift_bytes, data->len);
            }
            atomic_fetch_add(&w->stats->redshift_success, 1);
            LOG_INFO("warehouse", "batch loaded",
                     "stream=%s manifest=%s rows=%" PRIu64 " errors=%" PRIu64 " replay=%d",
                     w->stream, mkey, res.rows, res.errors, res.already);
            break;
        }
        LOG_WARN("warehouse", err, "stream=%s manifest=%s records=%" PRIu64, w->stream, mkey, nrec);
        int stopping, flush;
        stop_state(w, &stopping, &flush);
        if (stopping) {
            rc = 1;
            break;
        }
        if (hytime_mono_ms() >= give_up) {
            char ekey[1100];
            snprintf(ekey, sizeof ekey, "%serrors/manifests/%s", w->error_prefix, name);
            while (put_object(w, ekey, man.data, man.len)) {
                if (pause_ms(w, BACKOFF_MAX_MS)) {
                    rc = 1;
                    break;
                }
            }
            if (rc == 0)
                LOG_ERROR("warehouse", "retry window over: manifest sent to the error prefix",
                          "stream=%s key=%s", w->stream, ekey);
            break;
        }
        if (pause_ms(w, backoff)) {
            rc = 1;
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    buf_fini(&gz);
    buf_fini(&man);
    return rc;
}

static void *run(void *arg)
{
    struct wh *w = arg;
    struct buf data;
    buf_init(&data, BATCH_MAX);
    for (;;) {
        int stopping, flush;
        stop_state(w, &stopping, &flush);
        uint64_t f = atomic_load(&w->cursor);
        if (stopping && (!flush || (!w->intent_end && streamlog_durable_next(w->log) <= f)))
            break;
        uint64_t l = 0, nrec = 0;
        buf_reset(&data);
        int rc = collect(w, f, &data, &l, &nrec);
        if (rc == 1)
            continue;
        if (rc < 0) {
            LOG_ERROR("warehouse", "reading the log failed", "stream=%s rc=%d", w->stream, rc);
            if (pause_ms(w, BACKOFF_MAX_MS))
                break;
            continue;
        }
        if (!w->intent_end) {
            if (save_state(w, f, l)) {
                if (pause_ms(w, BACKOFF_MAX_MS))
                    break;
                continue;
            }
            w->intent_end = l;
        }
        if (deliver(w, f, l, nrec, &data))
            break;
        while (save_state(w, l, 0))
            if (pause_ms(w, BACKOFF_MAX_MS))
                break;
        w->intent_end = 0;
        atomic_store(&w->cursor, l);
        w->advanced(w->rt, l);
    }
    buf_fini(&data);
    return NULL;
}

static void wh_free(struct wh *w)
{
    hy_free(w->stream);
    hy_free(w->bucket);
    hy_free(w->prefix);
    hy_free(w->error_prefix);
    hy_free(w->state_path);
    hy_free(w->user);
    hy_free(w->password);
    hy_free(w->table);
    hy_free(w->columns);
    pgload_free(w->pg);
    hy_free(w);
}

static char *dup_or_empty(const char *s)
{
    return hy_strdup(s ? s : "");
}

static int start(const struct consumer_env *env, void **state)
{
    const cJSON *d = env->dest, *cc = obj_of(d, "CopyCommand"), *s3 = obj_of(d, "S3Configuration");
    const char *reason = NULL;
    char why[160];
    if (check(d, &reason))
        return HY_EINVAL;
    struct wh *w = hy_calloc(1, sizeof *w);
    if (!w)
        return HY_ENOMEM;
    w->stream = dup_or_empty(env->stream_name);
    w->bucket = dup_or_empty(bucket_of(str_of(s3, "BucketARN")));
    w->prefix = dup_or_empty(str_of(s3, "Prefix"));
    w->error_prefix = dup_or_empty(str_of(s3, "ErrorOutputPrefix"));
    w->state_path = dup_or_empty(env->state_path);
    w->user = dup_or_empty(str_of(d, "Username"));
    w->password = dup_or_empty(str_of(d, "Password"));
    w->table = dup_or_empty(str_of(cc, "DataTableName"));
    w->columns = dup_or_empty(str_of(cc, "DataTableColumns"));
    w->pg = pgload_new();
    if (!w->stream || !w->bucket || !w->prefix || !w->error_prefix || !w->state_path || !w->user ||
        !w->password || !w->table || !w->columns || !w->pg) {
        wh_free(w);
        return HY_ENOMEM;
    }
    copyopts_jdbc(str_of(d, "ClusterJDBCURL"), &w->target.url, &reason);
    copyopts_parse(str_of(cc, "CopyOptions"), &w->target.opts, why, sizeof why);
    w->target.user = w->user;
    w->target.password = w->password;
    w->target.table = w->table;
    w->target.columns = w->columns;
    const cJSON *bh = obj_of(s3, "BufferingHints");
    w->size_bytes = (uint64_t)int_of(bh, "SizeInMBs", 5) << 20;
    w->interval_s = int_of(bh, "IntervalInSeconds", 300);
    w->retry_s = int_of(obj_of(d, "RetryOptions"), "DurationInSeconds", 3600);
    w->create_ms = env->create_ms;
    w->log = env->log;
    w->stats = env->stats;
    w->sink = env->sink;
    w->sink_ctx = env->sink_ctx;
    w->advanced = env->advanced;
    w->rt = env->rt;
    int rc = load_state(w);
    if (rc < 0) {
        wh_free(w);
        return rc;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        wh_free(w);
        return HY_ENOMEM;
    }
    *state = w;
    return 0;
}

static int update(void *state, const struct consumer_env *env)
{
    (void)state;
    (void)env;
    return 0; /* the Firehose front refuses updates of Redshift destinations */
}

static uint64_t cursor(void *state)
{
    struct wh *w = state;
    return atomic_load(&w->cursor);
}

static uint64_t stop(void *state, int flush)
{
    struct wh *w = state;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    w->flush = flush;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    streamlog_wake(w->log);
    pthread_join(w->thread, NULL);
    uint64_t c = atomic_load(&w->cursor);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    wh_free(w);
    return c;
}

const struct consumer_ops warehouse_consumer = {
    .name = "warehouse",
    .wants = wants,
    .check = check,
    .start = start,
    .update = update,
    .cursor = cursor,
    .stop = stop,
};
