/*
 * kinsrc: the KinesisStreamAsSource pump (see kinsrc.h). Hand-written: it joins two of hydrant's
 * own logs; no library has anything to offer here.
 */
#include "deliver/kinsrc.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/consumer.h"
#include "core/datastream.h"
#include "core/stats.h"
#include "stream/streamlog.h"

/* Firehose reads each shard once per second; hydrant polls faster, bounded per batch. */
#define IDLE_WAIT_MS 20
#define BATCH_RECORDS 500
#define BATCH_BYTES (4u << 20)
#define CKPT_MAX_BYTES (1u << 20)

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct datastream_reg *g_reg; /* [g_lock] */

void kinsrc_attach(struct datastream_reg *reg)
{
    pthread_rwlock_wrlock(&g_lock);
    g_reg = reg;
    pthread_rwlock_unlock(&g_lock);
}

void kinsrc_detach(void)
{
    kinsrc_attach(NULL);
}

int kinsrc_arn_name(const char *arn, const char **name, size_t *len)
{
    if (!arn || strncmp(arn, "arn:", 4) != 0 || !strstr(arn, ":kinesis:"))
        return HY_EINVAL;
    const char *p = strstr(arn, ":stream/");
    if (!p || !p[8] || strchr(p + 8, '/') || strlen(p + 8) > DATASTREAM_NAME_MAX)
        return HY_EINVAL;
    *name = p + 8;
    *len = strlen(p + 8);
    return 0;
}

/* ---------------------------------------------------------------- checkpoint */

void kinsrc_ckpt_fini(struct kinsrc_ckpt *c)
{
    hy_free(c->shards);
    memset(c, 0, sizeof *c);
}

struct kinsrc_shard *kinsrc_ckpt_find(struct kinsrc_ckpt *c, uint32_t index)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->shards[i].index == index)
            return &c->shards[i];
    return NULL;
}

struct kinsrc_shard *kinsrc_ckpt_shard(struct kinsrc_ckpt *c, uint32_t index, uint64_t next,
                                       int done)
{
    struct kinsrc_shard *s = kinsrc_ckpt_find(c, index);
    if (s)
        return s;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct kinsrc_shard *v = hy_realloc(c->shards, cap * sizeof *v);
        if (!v)
            return NULL;
        c->shards = v;
        c->cap = cap;
    }
    size_t at = c->n;
    while (at > 0 && c->shards[at - 1].index > index) {
        c->shards[at] = c->shards[at - 1];
        at--;
    }
    c->shards[at] = (struct kinsrc_shard){.index = index, .next = next, .done = done};
    c->n++;
    return &c->shards[at];
}

int kinsrc_ckpt_format(const struct kinsrc_ckpt *c, struct buf *out)
{
    int rc = buf_printf(out, "kinsrc 1\n");
    for (size_t i = 0; rc == 0 && i < c->n; i++)
        rc = buf_printf(out, "shard %" PRIu32 " %" PRIu64 " %d\n", c->shards[i].index,
                        c->shards[i].next, c->shards[i].done);
    if (rc == 0 && c->pending)
        rc = buf_printf(out, "pending %" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                        c->p_shard, c->p_from, c->p_count, c->p_log_first);
    if (rc == 0)
        rc = buf_printf(out, "end\n");
    return rc ? HY_ENOMEM : 0;
}

int kinsrc_ckpt_parse(const char *text, size_t len, struct kinsrc_ckpt *c)
{
    memset(c, 0, sizeof *c);
    char *t = hy_malloc(len + 1);
    if (!t)
        return HY_ENOMEM;
    memcpy(t, text, len);
    t[len] = '\0';
    int rc = HY_EBADMSG, seen_head = 0, seen_end = 0;
    char *save = NULL;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        uint32_t idx;
        uint64_t a, b, d;
        int done;
        char tail;
        /* Numbers are unsigned: sscanf would wrap a minus sign. */
        if (seen_end || strchr(line, '-'))
            goto out;
        if (!seen_head) {
            if (strcmp(line, "kinsrc 1") != 0)
                goto out;
            seen_head = 1;
        } else if (strcmp(line, "end") == 0) {
            seen_end = 1;
        } else if (sscanf(line, "shard %" SCNu32 " %" SCNu64 " %d%c", &idx, &a, &done, &tail) ==
                       3 &&
                   (done == 0 || done == 1) && a >= 1) {
            if (kinsrc_ckpt_find(c, idx))
                goto out;
            if (!kinsrc_ckpt_shard(c, idx, a, done)) {
                rc = HY_ENOMEM;
                goto out;
            }
        } else if (!c->pending &&
                   sscanf(line, "pending %" SCNu32 " %" SCNu64 " %" SCNu64 " %" SCNu64 "%c", &idx,
                          &a, &b, &d, &tail) == 4 &&
                   a >= 1 && b >= 1 && d >= 1) {
            c->pending = 1;
            c->p_shard = idx;
            c->p_from = a;
            c->p_count = b;
            c->p_log_first = d;
        } else {
            goto out;
        }
    }
    /* A pending append names a shard the checkpoint holds. */
    if (seen_end && (!c->pending || kinsrc_ckpt_find(c, c->p_shard)))
        rc = 0;
out:
    hy_free(t);
    if (rc)
        kinsrc_ckpt_fini(c);
    return rc;
}

uint64_t kinsrc_ckpt_resolve(struct kinsrc_ckpt *c, uint64_t landed)
{
    if (!c->pending)
        return 0;
    if (landed > c->p_count)
        landed = c->p_count;
    struct kinsrc_shard *s = kinsrc_ckpt_find(c, c->p_shard);
    if (s)
        s->next = c->p_from + landed;
    c->pending = 0;
    return landed;
}

/* ---------------------------------------------------------------- the pump */

struct pump {
    char *delivery; /* delivery stream name (logs) */
    char *source;   /* data stream name */
    char *state_path;
    int64_t start_ms;
    struct streamlog *log;
    struct stream_stats *stats;
    void (*advanced)(void *rt, uint64_t cursor);
    void *rt;
    struct kinsrc_ckpt ck;
    int have_ckpt; /* ck was loaded or initialised at LATEST */
    pthread_t thread;
    atomic_int stop;
    /* the append in flight */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int app_done;
    int app_status;
    struct buf data; /* the batch's bytes */
    struct streamlog_rec *recs;
    int missing_logged;
};

static int save(struct pump *p)
{
    struct buf b;
    buf_init(&b, CKPT_MAX_BYTES);
    int rc = kinsrc_ckpt_format(&p->ck, &b);
    if (rc == 0)
        rc = fsutil_write_atomic(p->state_path, b.data, b.len);
    buf_fini(&b);
    if (rc)
        LOG_ERROR("kinsrc", "cannot write the checkpoint", "stream=%s err=%s", p->delivery,
                  hy_errname(rc));
    return rc;
}

/* How many records of the pending append the log holds: those readable from its first seq. */
static uint64_t landed_in_log(struct pump *p)
{
    uint64_t first = p->ck.p_log_first;
    if (streamlog_durable_next(p->log) <= first)
        return 0;
    struct streamlog_reader *r = NULL;
    int rc = streamlog_reader_open(p->log, first, &r);
    if (rc) {
        /* Trimmed already: the delivery consumer read them, so they all landed. */
        uint64_t n = streamlog_durable_next(p->log) - first;
        LOG_WARN("kinsrc", "pending append below the retained log; counting by seq",
                 "stream=%s err=%s", p->delivery, hy_errname(rc));
        return n;
    }
    uint64_t n = 0;
    struct streamlog_record rec;
    while (n < p->ck.p_count && (rc = streamlog_reader_next(r, &rec)) != 0) {
        if (rc < 0)
            break;
        if (rc == 1 && rec.seq < first + p->ck.p_count)
            n++;
        else if (rc == 1)
            break;
    }
    streamlog_reader_close(r);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void app_done(void *arg, int status, uint64_t first_seq)
{
    (void)first_seq;
    struct pump *p = arg;
    pthread_mutex_lock(&p->mu);
    p->app_status = status;
    p->app_done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Append the batch (n records in p->recs) read from shard s at from; 0 once durable. */
static int append_batch(struct pump *p, struct kinsrc_shard *s, uint64_t from, size_t n)
{
    uint64_t log_first = streamlog_durable_next(p->log);
    p->ck.pending = 1;
    p->ck.p_shard = s->index;
    p->ck.p_from = from;
    p->ck.p_count = n;
    p->ck.p_log_first = log_first;
    p->advanced(p->rt, log_first);
    if (save(p)) {
        p->ck.pending = 0;
        return HY_EBUSY;
    }
    struct streamlog_append a = {
        .recs = p->recs, .n = n, .arrival_ms = hytime_now_ms(), .done = app_done, .arg = p};
    pthread_mutex_lock(&p->mu);
    p->app_done = 0;
    pthread_mutex_unlock(&p->mu);
    int rc = streamlog_append(p->log, &a);
    if (rc == 0) {
        pthread_mutex_lock(&p->mu);
        while (!p->app_done)
            pthread_cond_wait(&p->cv, &p->mu);
        rc = p->app_status;
        pthread_mutex_unlock(&p->mu);
    }
    kinsrc_ckpt_resolve(&p->ck, rc == 0 ? n : 0);
    if (rc == 0) {
        /* Failing this write only leaves the intent, which the next start resolves. */
        (void)save(p);
        p->advanced(p->rt, streamlog_durable_next(p->log));
    }
    return rc;
}

/* Whether shard info's parents are read to their end (or unknown: expired or before start). */
static int parents_done(struct pump *p, const struct datastream_shard_info *si)
{
    int64_t par[2] = {si->parent, si->adjacent_parent};
    for (int k = 0; k < 2; k++) {
        if (par[k] < 0)
            continue;
        struct kinsrc_shard *ps = kinsrc_ckpt_find(&p->ck, (uint32_t)par[k]);
        if (ps && !ps->done)
            return 0;
    }
    return 1;
}

/* One pass over the shards; returns the records moved (or -1 on a failed append). */
static long pass(struct pump *p, struct datastream *ds)
{
    size_t nsh = datastream_nshards(ds);
    long moved = 0;
    int changed = 0;
    if (!p->have_ckpt) {
        /* First start: LATEST, as Firehose reads a stream from when the delivery stream was
         * created. */
        for (size_t i = 0; i < nsh; i++) {
            struct datastream_shard_info si;
            uint64_t end;
            if (datastream_shard(ds, i, &si))
                continue;
            int closed = datastream_shard_closed(ds, i, &end);
            if (!kinsrc_ckpt_shard(&p->ck, si.index, streamlog_durable_next(datastream_log(ds, i)),
                                   closed))
                return -1;
        }
        p->have_ckpt = 1;
        if (save(p))
            return -1;
    }
    for (size_t i = 0; i < nsh && !atomic_load(&p->stop); i++) {
        struct datastream_shard_info si;
        if (datastream_shard(ds, i, &si))
            continue;
        /* A shard born after the checkpoint began (a child) is read from its start. */
        struct kinsrc_shard *s = kinsrc_ckpt_shard(&p->ck, si.index, 1, 0);
        if (!s)
            return -1;
        if (s->done || !parents_done(p, &si))
            continue;
        uint64_t seq = s->next;
        struct streamlog_reader *r = NULL;
        if (datastream_reader_take(ds, i, &seq, &r))
            continue;
        if (seq > s->next) {
            uint64_t lost = seq - s->next;
            atomic_fetch_add(&p->stats->kinesis_source_expired_records, lost);
            LOG_WARN("kinsrc",
                     "records expired from the data stream before the delivery stream read them",
                     "stream=%s source=%s shard=%" PRIu32 " records=%" PRIu64, p->delivery,
                     p->source, si.index, lost);
            s->next = seq;
            changed = 1;
        }
        buf_reset(&p->data);
        size_t n = 0;
        uint64_t first = 0, last = seq - 1;
        struct streamlog_record rec;
        int rc, bad = 0; /* bad: the reader is past last + 1 (a gap), or failed */
        /* Offsets first (the buffer may move), pointers after. */
        size_t offs[BATCH_RECORDS];
        while (n < BATCH_RECORDS && p->data.len < BATCH_BYTES &&
               (rc = streamlog_reader_next(r, &rec)) != 0) {
            if (rc < 0) {
                bad = 1;
                break;
            }
            if (rc != 1)
                continue; /* damage in the data stream: its reader reports it */
            if (n == 0)
                first = rec.seq;
            /* Seqs are dense within a batch; a gap ends it (the next pass starts there). */
            if (rec.seq != last + 1 && n > 0) {
                bad = 1;
                break;
            }
            /* A data stream record is [1][partition key length, 2 bytes LE][key][data]
             * (api/kinesis); the delivery stream gets the data. Anything else (never written)
             * goes through whole, so that shard seqs and delivery seqs stay one for one. */
            const uint8_t *d = rec.data;
            size_t dl = rec.len;
            if (dl >= 3 && d[0] == 1 && dl >= 3u + (d[1] | ((size_t)d[2] << 8))) {
                size_t skip = 3u + (d[1] | ((size_t)d[2] << 8));
                d += skip;
                dl -= skip;
            }
            offs[n] = p->data.len;
            if (buf_append(&p->data, d, dl)) {
                bad = 1;
                break;
            }
            p->recs[n].len = dl;
            last = rec.seq;
            n++;
        }
        /* A reader left exactly at last + 1 is kept for the next pass. */
        datastream_reader_give(ds, i, r, last + 1, bad);
        if (n == 0) {
            uint64_t end;
            if (datastream_shard_closed(ds, i, &end) && s->next >= end) {
                s->done = 1;
                changed = 1;
            }
            continue;
        }
        for (size_t k = 0; k < n; k++)
            p->recs[k].data = p->data.data + offs[k];
        if (first > s->next) {
            /* Seqs the shard skipped (damage): never readable, reported by the data stream. */
            s->next = first;
        }
        if (append_batch(p, s, first, n))
            return -1;
        changed = 0;
        moved += (long)n;
    }
    if (changed)
        (void)save(p);
    return moved;
}

static void *pump_main(void *arg)
{
    struct pump *p = arg;
    int backoff = IDLE_WAIT_MS;
    while (!atomic_load(&p->stop)) {
        long moved = 0;
        pthread_rwlock_rdlock(&g_lock);
        struct datastream *ds = NULL;
        if (g_reg && datastream_get(g_reg, p->source, strlen(p->source), &ds) == 0) {
            p->missing_logged = 0;
            moved = pass(p, ds);
            datastream_unref(ds);
        } else if (g_reg && !p->missing_logged) {
            LOG_WARN("kinsrc", "source data stream not found; waiting for it",
                     "stream=%s source=%s", p->delivery, p->source);
            p->missing_logged = 1;
        }
        pthread_rwlock_unlock(&g_lock);
        if (moved > 0) {
            backoff = IDLE_WAIT_MS;
            continue;
        }
        /* Idle, or the log refused (full): back off a little, up to a second. */
        sleep_ms(moved < 0 ? backoff : IDLE_WAIT_MS);
        if (moved < 0 && backoff < 1000)
            backoff *= 2;
    }
    return NULL;
}

static int wants(const cJSON *dest, const cJSON *settings)
{
    return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(dest, "Source"));
}

static void pump_free(struct pump *p)
{
    kinsrc_ckpt_fini(&p->ck);
    buf_fini(&p->data);
    hy_free(p->recs);
    hy_free(p->delivery);
    hy_free(p->source);
    hy_free(p->state_path);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    hy_free(p);
}

static int start(const struct consumer_env *env, void **state)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(env->dest, "Source");
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(src, "KinesisStreamARN");
    const char *name;
    size_t len;
    if (!cJSON_IsString(arn) || kinsrc_arn_name(arn->valuestring, &name, &len))
        return HY_EINVAL;
    struct pump *p = hy_calloc(1, sizeof *p);
    if (!p)
        return HY_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    buf_init(&p->data, BATCH_BYTES + (2u << 20));
    p->delivery = hy_strdup(env->stream_name);
    p->source = hy_strndup(name, len);
    p->state_path = hy_strdup(env->state_path);
    p->recs = hy_calloc(BATCH_RECORDS, sizeof *p->recs);
    p->log = env->log;
    p->stats = env->stats;
    p->advanced = env->advanced;
    p->rt = env->rt;
    if (!p->delivery || !p->source || !p->state_path || !p->recs) {
        pump_free(p);
        return HY_ENOMEM;
    }
    char *text = NULL;
    size_t tlen = 0;
    int rc = fsutil_read_all(p->state_path, &text, &tlen, CKPT_MAX_BYTES);
    if (rc == 0 && tlen > 0) {
        rc = kinsrc_ckpt_parse(text, tlen, &p->ck);
        hy_free(text);
        if (rc) {
            LOG_ERROR("kinsrc", "checkpoint unreadable", "stream=%s path=%s err=%s", p->delivery,
                      p->state_path, hy_errname(rc));
            pump_free(p);
            return rc;
        }
        p->have_ckpt = 1;
        if (p->ck.pending) {
            uint64_t landed = kinsrc_ckpt_resolve(&p->ck, landed_in_log(p));
            LOG_INFO("kinsrc", "resolved the append in flight at the crash",
                     "stream=%s shard=%" PRIu32 " landed=%" PRIu64 " of=%" PRIu64, p->delivery,
                     p->ck.p_shard, landed, p->ck.p_count);
            if (save(p)) {
                pump_free(p);
                return HY_EBUSY;
            }
        }
    } else {
        hy_free(text);
    }
    p->advanced(p->rt, streamlog_durable_next(p->log));
    if (pthread_create(&p->thread, NULL, pump_main, p)) {
        pump_free(p);
        return HY_ENOMEM;
    }
    *state = p;
    return 0;
}

static int update(void *state, const struct consumer_env *env)
{
    (void)state;
    (void)env;
    return 0; /* the source never changes after create */
}

static uint64_t cursor(void *state)
{
    struct pump *p = state;
    return streamlog_durable_next(p->log);
}

static uint64_t stop(void *state, int flush)
{
    (void)flush;
    struct pump *p = state;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    uint64_t c = streamlog_durable_next(p->log);
    pump_free(p);
    return c;
}

const struct consumer_ops kinsrc_consumer = {
    .name = "kinesis-source",
    .wants = wants,
    .check = NULL,
    .start = start,
    .update = update,
    .cursor = cursor,
    .stop = stop,
};
