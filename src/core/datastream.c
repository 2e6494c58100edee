/*
 * datastream: data streams as sets of shard logs, persisted, retained by time (datastream.h).
 * Streams live in an array sorted by name under the registry lock; each stream has its own lock
 * for its mutable definition (retention, tags) and its reader cache. The shard set only grows
 * (resharding appends children and closes parents), published by a release store of nshards,
 * so shard logs are read without a lock while a reference is held.
 */
#include "core/datastream.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/catalog.h"
#include "stream/streamlog.h"

#define DS_FORMAT 1
#define DS_JSON_MAX (1u << 20)
#define DS_READER_CACHE 4
#define DS_DIR_ESCAPE "@"
/* Shards a stream may ever have (children of resharding included). */
#define DS_SHARD_CAP 1024

struct ds_cached {
    struct streamlog_reader *r;
    uint64_t next_seq;
    uint64_t used; /* LRU stamp */
};

struct ds_shard {
    struct datastream_shard_info info;
    struct streamlog *log;
    _Atomic uint64_t horizon; /* first log seq retention keeps */
    /* Retention thread only: its reader, and the first record it found still young. */
    struct streamlog_reader *ret_reader;
    uint64_t pend_seq; /* 0 = none */
    int64_t pend_arrival;
    struct ds_cached cache[DS_READER_CACHE]; /* under ds->mu */
    /* Closing (resharding): appenders hold close_lock shared over their check and append, the
     * closer takes it exclusively to set closed, then waits for the log to drain; end is the
     * log seq after the last record once known (0 while open or still draining). */
    pthread_rwlock_t close_lock;
    _Atomic int closed;
    _Atomic uint64_t end;
    /* Write-rate buckets (PROVISIONED streams), under rate_mu. */
    pthread_mutex_t rate_mu;
    double tok_bytes, tok_recs;
    int64_t tok_ns; /* last refill, monotonic; 0 = never (full) */
};

struct datastream {
    struct datastream_reg *reg;
    atomic_int refs;
    pthread_mutex_t mu;
    char name[DATASTREAM_NAME_MAX + 1];
    char *dir; /* its directory (renamed away on delete) */
    uint64_t stream_id;
    int64_t create_ms;
    enum datastream_mode mode;
    _Atomic int status;
    _Atomic uint32_t retention_hours;
    cJSON *tags;                /* under mu */
    uint32_t next_index;        /* under reshard_mu */
    pthread_mutex_t reshard_mu; /* one split, merge or scale at a time */
    /* Shards only grow: a slot below nshards never changes once published (release store). */
    struct ds_shard **shards;
    size_t cap;
    _Atomic size_t nshards;
    uint64_t cache_clock; /* under mu */
    int removed;          /* directory renamed away: remove the files when the last ref goes */
};

struct datastream_reg {
    struct datastream_config cfg;
    char *root; /* <data_dir>/datastreams */
    uint8_t key[DATASTREAM_KEY_LEN];
    pthread_mutex_t mu;
    struct datastream **v; /* sorted by name */
    size_t n, cap;
    size_t open_shards;
    uint64_t remove_seq;
    pthread_t thread;
    int thread_started;
    pthread_cond_t cv;
    int stopping;
};

static size_t ds_n(const struct datastream *ds)
{
    return atomic_load_explicit(&ds->nshards, memory_order_acquire);
}

static struct ds_shard *shard_new(void)
{
    struct ds_shard *s = hy_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->rate_mu, NULL);
    pthread_rwlock_init(&s->close_lock, NULL);
    return s;
}

static void shard_free(struct ds_shard *s)
{
    if (!s)
        return;
    for (int k = 0; k < DS_READER_CACHE; k++)
        if (s->cache[k].r)
            streamlog_reader_close(s->cache[k].r);
    if (s->ret_reader)
        streamlog_reader_close(s->ret_reader);
    if (s->log)
        streamlog_close(s->log);
    pthread_mutex_destroy(&s->rate_mu);
    pthread_rwlock_destroy(&s->close_lock);
    hy_free(s);
}

/* ---------------------------------------------------------------- 128-bit decimals */

size_t datastream_u128_format(unsigned __int128 v, char *out)
{
    char tmp[40];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

int datastream_u128_parse(const char *s, size_t n, unsigned __int128 *out)
{
    if (n == 0 || n > 39)
        return HY_EBADMSG;
    unsigned __int128 v = 0, max = ~(unsigned __int128)0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HY_EBADMSG;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return HY_EBADMSG;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------- paths and persistence */

static int stream_dir(const struct datastream_reg *reg, const char *name, struct buf *out)
{
    return buf_printf(out, "%s/%s%s", reg->root, name[0] == '.' ? DS_DIR_ESCAPE : "", name);
}

static int shard_dir(const char *dir, uint32_t index, struct buf *out)
{
    return buf_printf(out, "%s/shards/%012" PRIu32, dir, index);
}

static int add_u128(cJSON *o, const char *k, unsigned __int128 v)
{
    char d[41];
    datastream_u128_format(v, d);
    return cJSON_AddStringToObject(o, k, d) ? 0 : HY_ENOMEM;
}

/* stream.json text of ds (caller holds ds->mu or owns ds alone). */
static int ds_to_json(const struct datastream *ds, size_t nshards, char **out)
{
    int rc = HY_ENOMEM;
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, ds->stream_id);
    cJSON *o = cJSON_CreateObject();
    cJSON *shards = NULL;
    if (!o || !cJSON_AddNumberToObject(o, "Format", DS_FORMAT) ||
        !cJSON_AddStringToObject(o, "StreamName", ds->name) ||
        !cJSON_AddStringToObject(o, "StreamId", hex) ||
        !cJSON_AddNumberToObject(o, "CreateMs", (double)ds->create_ms) ||
        !cJSON_AddStringToObject(o, "Mode",
                                 ds->mode == DATASTREAM_ON_DEMAND ? "ON_DEMAND" : "PROVISIONED") ||
        !cJSON_AddNumberToObject(o, "RetentionHours", (double)ds->retention_hours) ||
        !cJSON_AddNumberToObject(o, "NextShardIndex", (double)ds->next_index))
        goto out;
    cJSON *tags = cJSON_Duplicate(ds->tags, 1);
    if (!tags || !cJSON_AddItemToObject(o, "Tags", tags)) {
        cJSON_Delete(tags);
        goto out;
    }
    shards = cJSON_AddArrayToObject(o, "Shards");
    if (!shards)
        goto out;
    for (size_t i = 0; i < nshards; i++) {
        const struct datastream_shard_info *s = &ds->shards[i]->info;
        uint64_t end = atomic_load(&ds->shards[i]->end);
        cJSON *x = cJSON_CreateObject();
        if (!x || !cJSON_AddItemToArray(shards, x)) {
            cJSON_Delete(x);
            goto out;
        }
        if (!cJSON_AddNumberToObject(x, "Index", s->index) ||
            !cJSON_AddNumberToObject(x, "Parent", (double)s->parent) ||
            !cJSON_AddNumberToObject(x, "AdjacentParent", (double)s->adjacent_parent) ||
            add_u128(x, "HashStart", s->hash_start) || add_u128(x, "HashEnd", s->hash_end) ||
            add_u128(x, "SeqBase", s->seq_base) || add_u128(x, "EndSeq", end))
            goto out;
    }
    *out = cJSON_PrintUnformatted(o);
    rc = *out ? 0 : HY_ENOMEM;
out:
    cJSON_Delete(o);
    return rc;
}

/* Persist ds with its first nshards shards. */
static int ds_save_n(struct datastream *ds, size_t nshards)
{
    char *text = NULL;
    struct buf path;
    buf_init(&path, 8192);
    int rc = ds_to_json(ds, nshards, &text);
    if (!rc)
        rc = buf_printf(&path, "%s/stream.json", ds->dir);
    if (!rc)
        rc = fsutil_write_atomic(path.data, text, strlen(text));
    buf_fini(&path);
    hy_free(text);
    return rc;
}

static int ds_save(struct datastream *ds)
{
    return ds_save_n(ds, ds_n(ds));
}

static int json_u64(const cJSON *o, const char *k, uint64_t *out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    unsigned __int128 v;
    if (!cJSON_IsString(x) || datastream_u128_parse(x->valuestring, strlen(x->valuestring), &v) ||
        v > UINT64_MAX)
        return HY_EBADMSG;
    *out = (uint64_t)v;
    return 0;
}

static int json_num(const cJSON *o, const char *k, double lo, double hi, double *out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x) || x->valuedouble < lo || x->valuedouble > hi)
        return HY_EBADMSG;
    *out = x->valuedouble;
    return 0;
}

static void ds_free(struct datastream *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; ds->shards && i < ds_n(ds); i++)
        shard_free(ds->shards[i]);
    if (ds->removed && ds->dir) {
        int rc = fsutil_remove_tree(ds->dir);
        if (rc)
            LOG_WARN("datastream", "cannot remove a deleted stream's files", "dir=%s error=%s",
                     ds->dir, hy_strerror(rc));
    }
    hy_free(ds->shards);
    pthread_mutex_destroy(&ds->reshard_mu);
    cJSON_Delete(ds->tags);
    hy_free(ds->dir);
    pthread_mutex_destroy(&ds->mu);
    hy_free(ds);
}

static struct datastream *ds_new(struct datastream_reg *reg, const char *name, size_t nshards)
{
    struct datastream *ds = hy_calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    pthread_mutex_init(&ds->mu, NULL);
    pthread_mutex_init(&ds->reshard_mu, NULL);
    ds->reg = reg;
    atomic_init(&ds->refs, 1);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->cap = nshards > DS_SHARD_CAP ? nshards : DS_SHARD_CAP;
    ds->shards = hy_calloc(ds->cap, sizeof *ds->shards);
    int bad = !ds->shards;
    for (size_t i = 0; !bad && i < nshards; i++) {
        ds->shards[i] = shard_new();
        bad = !ds->shards[i];
        if (!bad)
            atomic_store(&ds->nshards, i + 1);
    }
    struct buf d;
    buf_init(&d, 8192);
    if (bad || stream_dir(reg, name, &d)) {
        buf_fini(&d);
        ds_free(ds);
        return NULL;
    }
    ds->dir = d.data; /* the buffer's memory is ours now */
    return ds;
}

/* First retained log seq: the log does not say, so find the lowest seq a reader can open at
 * (readers refuse seqs below the first retained segment) by bisection. */
static uint64_t first_retained(struct streamlog *log)
{
    uint64_t lo = 1, hi = streamlog_durable_next(log);
    struct streamlog_reader *r = NULL;
    if (streamlog_reader_open(log, lo, &r) == 0) {
        streamlog_reader_close(r);
        return lo;
    }
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (streamlog_reader_open(log, mid, &r) == 0) {
            streamlog_reader_close(r);
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return hi;
}

/* Open shard s's log (its directory is created if missing). */
static int shard_open_log(struct datastream *ds, struct ds_shard *s, size_t open_shards)
{
    const struct datastream_config *cfg = &ds->reg->cfg;
    struct streamlog_config lc = {
        .segment_bytes = cfg->segment_size,
        .max_wait_ms = cfg->append_wait_ms,
    };
    if (cfg->stream_cap_bytes) {
        /* The active segment is kept whatever its age, so a shard needs at least two. */
        lc.quota_bytes = cfg->stream_cap_bytes / (open_shards ? open_shards : 1);
        if (lc.quota_bytes < 2 * (uint64_t)cfg->segment_size)
            lc.quota_bytes = 2 * (uint64_t)cfg->segment_size;
    }
    struct buf d;
    buf_init(&d, 8192);
    int rc = shard_dir(ds->dir, s->info.index, &d);
    if (!rc)
        rc = fsutil_mkdirs(d.data, 0755);
    if (!rc)
        rc = streamlog_open(cfg->log_backend, d.data, &lc, &s->log);
    if (!rc)
        atomic_store(&s->horizon, first_retained(s->log));
    buf_fini(&d);
    return rc;
}

static size_t open_count(const struct datastream *ds)
{
    size_t n = 0;
    for (size_t i = 0; i < ds_n(ds); i++)
        n += !atomic_load(&ds->shards[i]->closed);
    return n;
}

static int ds_open_logs(struct datastream *ds)
{
    int rc = 0;
    size_t open = open_count(ds);
    for (size_t i = 0; i < ds_n(ds) && !rc; i++)
        rc = shard_open_log(ds, ds->shards[i], open);
    return rc;
}

static int ds_from_json(struct datastream_reg *reg, const char *text, size_t len,
                        struct datastream **out)
{
    int rc = HY_EBADMSG;
    struct datastream *ds = NULL;
    cJSON *o = cJSON_ParseWithLength(text, len);
    double fmt, cms, ret, next;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "StreamName");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "StreamId");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "Mode");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "Tags");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(o, "Shards");
    if (!cJSON_IsObject(o) || json_num(o, "Format", DS_FORMAT, DS_FORMAT, &fmt) ||
        json_num(o, "CreateMs", 0, 9e15, &cms) ||
        json_num(o, "RetentionHours", DATASTREAM_RETENTION_MIN_H, DATASTREAM_RETENTION_MAX_H,
                 &ret) ||
        json_num(o, "NextShardIndex", 0, 4e9, &next) || !cJSON_IsString(name) ||
        !name->valuestring[0] || strlen(name->valuestring) > DATASTREAM_NAME_MAX ||
        !cJSON_IsString(id) || strlen(id->valuestring) != 16 || !cJSON_IsString(mode) ||
        !cJSON_IsArray(tags) || !cJSON_IsArray(shards) || cJSON_GetArraySize(shards) < 1)
        goto out;
    rc = HY_ENOMEM;
    ds = ds_new(reg, name->valuestring, (size_t)cJSON_GetArraySize(shards));
    if (!ds)
        goto out;
    rc = HY_EBADMSG;
    ds->stream_id = strtoull(id->valuestring, NULL, 16);
    ds->create_ms = (int64_t)cms;
    ds->mode =
        strcmp(mode->valuestring, "ON_DEMAND") == 0 ? DATASTREAM_ON_DEMAND : DATASTREAM_PROVISIONED;
    atomic_init(&ds->retention_hours, (uint32_t)ret);
    ds->next_index = (uint32_t)next;
    size_t i = 0;
    for (const cJSON *x = shards->child; x; x = x->next, i++) {
        struct datastream_shard_info *s = &ds->shards[i]->info;
        double idx, par, adj;
        const cJSON *hs = cJSON_GetObjectItemCaseSensitive(x, "HashStart");
        const cJSON *he = cJSON_GetObjectItemCaseSensitive(x, "HashEnd");
        if (json_num(x, "Index", 0, 4e9, &idx) || json_num(x, "Parent", -1, 4e9, &par) ||
            json_num(x, "AdjacentParent", -1, 4e9, &adj) || !cJSON_IsString(hs) ||
            !cJSON_IsString(he) ||
            datastream_u128_parse(hs->valuestring, strlen(hs->valuestring), &s->hash_start) ||
            datastream_u128_parse(he->valuestring, strlen(he->valuestring), &s->hash_end) ||
            json_u64(x, "SeqBase", &s->seq_base) || json_u64(x, "EndSeq", &s->end_seq))
            goto out;
        atomic_store(&ds->shards[i]->end, s->end_seq);
        atomic_store(&ds->shards[i]->closed, s->end_seq != 0);
        s->index = (uint32_t)idx;
        s->parent = (int64_t)par;
        s->adjacent_parent = (int64_t)adj;
    }
    rc = HY_ENOMEM;
    ds->tags = cJSON_Duplicate(tags, 1);
    if (!ds->tags)
        goto out;
    *out = ds;
    ds = NULL;
    rc = 0;
out:
    ds_free(ds);
    cJSON_Delete(o);
    return rc;
}

/* ---------------------------------------------------------------- registry */

static size_t find_pos(struct datastream_reg *reg, const char *name, size_t len, int *found)
{
    size_t lo = 0, hi = reg->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = reg->v[mid]->name;
        size_t ml = strlen(m);
        int c = memcmp(m, name, ml < len ? ml : len);
        if (c == 0)
            c = ml < len ? -1 : (ml > len ? 1 : 0);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Insert ds (the registry takes the caller's reference). Caller holds reg->mu. */
static int reg_insert(struct datastream_reg *reg, struct datastream *ds)
{
    int found;
    size_t pos = find_pos(reg, ds->name, strlen(ds->name), &found);
    if (found)
        return HY_EEXIST;
    if (reg->n == reg->cap) {
        size_t nc = reg->cap ? reg->cap * 2 : 16;
        struct datastream **nv = hy_realloc(reg->v, nc * sizeof *nv);
        if (!nv)
            return HY_ENOMEM;
        reg->v = nv;
        reg->cap = nc;
    }
    memmove(reg->v + pos + 1, reg->v + pos, (reg->n - pos) * sizeof *reg->v);
    reg->v[pos] = ds;
    reg->n++;
    reg->open_shards += open_count(ds);
    return 0;
}

static int load_key(struct datastream_reg *reg)
{
    struct buf p;
    buf_init(&p, 8192);
    char *data = NULL;
    size_t len = 0;
    int rc = buf_printf(&p, "%s/iterator.key", reg->root);
    if (rc)
        goto out;
    rc = fsutil_read_all(p.data, &data, &len, 64);
    if (rc == 0 && len == DATASTREAM_KEY_LEN) {
        memcpy(reg->key, data, len);
        goto out;
    }
    /* Missing (first start) or unusable: a new key. Iterators handed out before become invalid,
     * which clients handle as they handle expiry (ask for a new one). */
    if (getrandom(reg->key, sizeof reg->key, 0) != (ssize_t)sizeof reg->key) {
        rc = -EIO;
        goto out;
    }
    rc = fsutil_write_atomic(p.data, reg->key, sizeof reg->key);
out:
    hy_free(data);
    buf_fini(&p);
    return rc;
}

static void *retention_main(void *arg);

static int load_all(struct datastream_reg *reg)
{
    DIR *d = opendir(reg->root);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    struct buf p;
    buf_init(&p, 8192);
    while (!rc && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "iterator.key") == 0 || strstr(e->d_name, ".tmp"))
            continue;
        buf_reset(&p);
        if (strncmp(e->d_name, ".deleted-", 9) == 0) {
            /* A delete the last run did not finish. */
            if (!buf_printf(&p, "%s/%s", reg->root, e->d_name))
                fsutil_remove_tree(p.data);
            continue;
        }
        char *text = NULL;
        size_t len = 0;
        if (buf_printf(&p, "%s/%s/stream.json", reg->root, e->d_name)) {
            rc = HY_ENOMEM;
            break;
        }
        int r = fsutil_read_all(p.data, &text, &len, DS_JSON_MAX);
        if (r == -ENOENT) {
            /* A create that crashed before its definition was durable: never acknowledged. */
            buf_reset(&p);
            if (!buf_printf(&p, "%s/%s", reg->root, e->d_name))
                fsutil_remove_tree(p.data);
            continue;
        }
        struct datastream *ds = NULL;
        if (!r)
            r = ds_from_json(reg, text, len, &ds);
        hy_free(text);
        if (!r)
            r = ds_open_logs(ds);
        if (!r)
            r = reg_insert(reg, ds);
        if (r) {
            LOG_ERROR("datastream", "cannot load a data stream; left alone", "dir=%s error=%s",
                      e->d_name, hy_strerror(r));
            ds_free(ds);
            if (r == HY_ENOMEM)
                rc = r;
        }
    }
    buf_fini(&p);
    closedir(d);
    return rc;
}

int datastream_open(const struct datastream_config *cfg, struct datastream_reg **out)
{
    catalog_json_init();
    struct datastream_reg *reg = hy_calloc(1, sizeof *reg);
    if (!reg)
        return HY_ENOMEM;
    reg->cfg = *cfg;
    if (!reg->cfg.max_shards)
        reg->cfg.max_shards = DATASTREAM_DEFAULT_MAX_SHARDS;
    if (reg->cfg.hour_ms <= 0)
        reg->cfg.hour_ms = 3600000;
    if (!reg->cfg.segment_size)
        reg->cfg.segment_size = 8u << 20;
    pthread_mutex_init(&reg->mu, NULL);
    pthread_cond_init(&reg->cv, NULL);
    struct buf r;
    buf_init(&r, 8192);
    int rc = buf_printf(&r, "%s/datastreams", cfg->data_dir);
    reg->root = r.data;
    if (!rc)
        rc = fsutil_mkdirs(reg->root, 0755);
    if (!rc)
        rc = load_key(reg);
    if (!rc)
        rc = load_all(reg);
    if (!rc) {
        rc = -pthread_create(&reg->thread, NULL, retention_main, reg);
        reg->thread_started = rc == 0;
    }
    if (rc) {
        datastream_close(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

void datastream_close(struct datastream_reg *reg)
{
    if (!reg)
        return;
    if (reg->thread_started) {
        pthread_mutex_lock(&reg->mu);
        reg->stopping = 1;
        pthread_cond_signal(&reg->cv);
        pthread_mutex_unlock(&reg->mu);
        pthread_join(reg->thread, NULL);
    }
    for (size_t i = 0; i < reg->n; i++)
        datastream_unref(reg->v[i]);
    hy_free(reg->v);
    hy_free(reg->root);
    pthread_cond_destroy(&reg->cv);
    pthread_mutex_destroy(&reg->mu);
    hy_free(reg);
}

const uint8_t *datastream_key(const struct datastream_reg *reg)
{
    return reg->key;
}

int datastream_create(struct datastream_reg *reg, const char *name, size_t nshards,
                      enum datastream_mode mode, cJSON *tags)
{
    int rc = HY_ENOMEM;
    struct datastream *ds = NULL;
    if (nshards == 0 || nshards > reg->cfg.max_shards) {
        rc = HY_E2BIG;
        goto fail;
    }
    ds = ds_new(reg, name, nshards);
    if (!ds)
        goto fail;
    ds->tags = tags ? tags : cJSON_CreateArray();
    tags = NULL;
    if (!ds->tags)
        goto fail;
    if (getrandom(&ds->stream_id, sizeof ds->stream_id, 0) != (ssize_t)sizeof ds->stream_id) {
        rc = -EIO;
        goto fail;
    }
    ds->create_ms = hytime_now_ms();
    ds->mode = mode;
    atomic_init(&ds->retention_hours, DATASTREAM_RETENTION_MIN_H);
    /* Kinesis: shard i of N covers [i*w, (i+1)*w - 1] with w = floor(2^128 / N); the last one
     * ends at 2^128 - 1. */
    unsigned __int128 max = ~(unsigned __int128)0;
    unsigned __int128 w = max / nshards + ((max % nshards) + 1 == nshards ? 1 : 0);
    for (size_t i = 0; i < nshards; i++) {
        struct datastream_shard_info *s = &ds->shards[i]->info;
        s->index = (uint32_t)i;
        s->parent = s->adjacent_parent = -1;
        s->hash_start = w * i;
        s->hash_end = i + 1 == nshards ? max : w * (i + 1) - 1;
    }
    ds->next_index = (uint32_t)nshards;

    pthread_mutex_lock(&reg->mu);
    int found;
    find_pos(reg, name, strlen(name), &found);
    if (found) {
        rc = HY_EEXIST;
    } else if (reg->open_shards + nshards > reg->cfg.max_shards) {
        rc = HY_E2BIG;
    } else if (mkdir(ds->dir, 0755) != 0) {
        rc = errno == EEXIST ? HY_EEXIST : -errno;
    } else {
        /* The directory exists; the stream exists once stream.json is durable. Shard logs are
         * opened before anything is visible, under the lock (creates are rare). */
        rc = ds_save(ds);
        if (!rc)
            rc = ds_open_logs(ds);
        if (!rc) {
            atomic_fetch_add(&ds->refs, 1);
            rc = reg_insert(reg, ds);
            if (rc)
                atomic_fetch_sub(&ds->refs, 1);
        }
        if (rc) {
            ds->removed = 1; /* ds_free removes the directory */
        }
    }
    pthread_mutex_unlock(&reg->mu);
    if (rc)
        goto fail;
    LOG_INFO("datastream", "data stream created", "stream=%s shards=%zu", name, nshards);
    datastream_unref(ds);
    return 0;
fail:
    cJSON_Delete(tags);
    ds_free(ds);
    return rc;
}

int datastream_get(struct datastream_reg *reg, const char *name, size_t len,
                   struct datastream **out)
{
    int rc = HY_ENOTFOUND;
    pthread_mutex_lock(&reg->mu);
    int found;
    size_t pos = find_pos(reg, name, len, &found);
    if (found) {
        *out = reg->v[pos];
        atomic_fetch_add(&reg->v[pos]->refs, 1);
        rc = 0;
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

void datastream_unref(struct datastream *ds)
{
    if (ds && atomic_fetch_sub(&ds->refs, 1) == 1)
        ds_free(ds);
}

int datastream_delete(struct datastream_reg *reg, struct datastream *ds)
{
    pthread_mutex_lock(&reg->mu);
    int found;
    size_t pos = find_pos(reg, ds->name, strlen(ds->name), &found);
    if (!found || reg->v[pos] != ds) {
        pthread_mutex_unlock(&reg->mu);
        return HY_ENOTFOUND;
    }
    memmove(reg->v + pos, reg->v + pos + 1, (reg->n - pos - 1) * sizeof *reg->v);
    reg->n--;
    reg->open_shards -= open_count(ds);
    atomic_store(&ds->status, DATASTREAM_DELETING);
    /* Rename away first: a crash during the removal leaves a ".deleted-*" entry that the next
     * start removes, never a half stream that would load again. */
    struct buf gone;
    buf_init(&gone, 8192);
    int rc = buf_printf(&gone, "%s/.deleted-%" PRIx64 "-%" PRIu64, reg->root, ds->stream_id,
                        ++reg->remove_seq);
    if (!rc && rename(ds->dir, gone.data) != 0)
        rc = -errno;
    if (!rc)
        rc = fsutil_fsync_dir(reg->root);
    pthread_mutex_unlock(&reg->mu);
    if (rc) {
        LOG_ERROR("datastream", "cannot move a deleted stream's files away", "stream=%s error=%s",
                  ds->name, hy_strerror(rc));
        buf_fini(&gone);
    } else {
        /* The logs keep their open files; the tree goes with the last reference. */
        hy_free(ds->dir);
        ds->dir = gone.data;
        ds->removed = 1;
    }
    LOG_INFO("datastream", "data stream deleted", "stream=%s", ds->name);
    datastream_unref(ds); /* the registry's reference */
    return 0;
}

int datastream_names(struct datastream_reg *reg, char ***names, size_t *n)
{
    pthread_mutex_lock(&reg->mu);
    size_t k = reg->n;
    char **v = hy_calloc(k ? k : 1, sizeof *v);
    int rc = v ? 0 : HY_ENOMEM;
    for (size_t i = 0; i < k && !rc; i++) {
        v[i] = hy_strdup(reg->v[i]->name);
        if (!v[i])
            rc = HY_ENOMEM;
    }
    pthread_mutex_unlock(&reg->mu);
    if (rc) {
        datastream_names_free(v, k);
        return rc;
    }
    *names = v;
    *n = k;
    return 0;
}

void datastream_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        hy_free(names[i]);
    hy_free(names);
}

/* ---------------------------------------------------------------- definition */

int datastream_describe(struct datastream *ds, struct datastream_info *out)
{
    memset(out, 0, sizeof *out);
    size_t n = ds_n(ds);
    out->shards = hy_calloc(n, sizeof *out->shards);
    if (!out->shards)
        return HY_ENOMEM;
    pthread_mutex_lock(&ds->mu);
    out->tags = cJSON_Duplicate(ds->tags, 1);
    pthread_mutex_unlock(&ds->mu);
    if (!out->tags) {
        datastream_info_fini(out);
        return HY_ENOMEM;
    }
    memcpy(out->name, ds->name, sizeof out->name);
    out->stream_id = ds->stream_id;
    out->create_ms = ds->create_ms;
    out->mode = ds->mode;
    out->status = (enum datastream_status)atomic_load(&ds->status);
    out->retention_hours = atomic_load(&ds->retention_hours);
    /* Kinesis: a closed shard whose records have all expired is gone from listings. Only once
     * its parents are gone too, though: readers take a child whose parent is not listed as free
     * to read, and an empty closed shard must not let its children overtake a grandparent that
     * still holds records. A shard's index is its position, and parents come first. */
    uint8_t *gone = hy_calloc(n ? n : 1, 1);
    if (!gone) {
        datastream_info_fini(out);
        return HY_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct datastream_shard_info *si = &ds->shards[i]->info;
        uint64_t end = atomic_load(&ds->shards[i]->end);
        int parents_gone = (si->parent < 0 || (size_t)si->parent >= i || gone[si->parent]) &&
                           (si->adjacent_parent < 0 || (size_t)si->adjacent_parent >= i ||
                            gone[si->adjacent_parent]);
        if (end && atomic_load(&ds->shards[i]->horizon) >= end && parents_gone) {
            gone[i] = 1;
            continue;
        }
        out->shards[k] = *si;
        out->shards[k++].end_seq = end;
    }
    hy_free(gone);
    out->nshards = k;
    return 0;
}

void datastream_info_fini(struct datastream_info *info)
{
    cJSON_Delete(info->tags);
    hy_free(info->shards);
    memset(info, 0, sizeof *info);
}

size_t datastream_nshards(struct datastream *ds)
{
    return ds_n(ds);
}

const char *datastream_name(struct datastream *ds)
{
    return ds->name;
}

uint64_t datastream_id(struct datastream *ds)
{
    return ds->stream_id;
}

int datastream_shard(struct datastream *ds, size_t i, struct datastream_shard_info *out)
{
    if (i >= ds_n(ds))
        return HY_ENOTFOUND;
    *out = ds->shards[i]->info;
    out->end_seq = atomic_load(&ds->shards[i]->end);
    return 0;
}

size_t datastream_route(struct datastream *ds, unsigned __int128 key)
{
    size_t n = ds_n(ds);
    for (size_t i = 0; i < n; i++) {
        const struct datastream_shard_info *s = &ds->shards[i]->info;
        if (!atomic_load(&ds->shards[i]->closed) && key >= s->hash_start && key <= s->hash_end)
            return i;
    }
    /* A shard closed while a split or merge publishes its children: the closed one refuses
     * the append, and the client retries. */
    for (size_t i = 0; i < n; i++) {
        const struct datastream_shard_info *s = &ds->shards[i]->info;
        if (key >= s->hash_start && key <= s->hash_end)
            return i;
    }
    /* Cannot happen: the open shards cover the whole hash space (created so, and resharding
     * keeps it so). */
    HY_ASSERT(0);
    return 0;
}

int datastream_set_retention(struct datastream_reg *reg, struct datastream *ds, uint32_t hours)
{
    pthread_mutex_lock(&ds->mu);
    uint32_t old = atomic_load(&ds->retention_hours);
    atomic_store(&ds->retention_hours, hours);
    int rc = ds_save(ds);
    if (rc)
        atomic_store(&ds->retention_hours, old);
    pthread_mutex_unlock(&ds->mu);
    if (!rc) {
        /* A shorter period may expire records now: let the retention thread look. */
        pthread_mutex_lock(&reg->mu);
        pthread_cond_signal(&reg->cv);
        pthread_mutex_unlock(&reg->mu);
    }
    return rc;
}

int datastream_edit_tags(struct datastream_reg *reg, struct datastream *ds, datastream_edit_fn edit,
                         void *arg)
{
    pthread_mutex_lock(&ds->mu);
    cJSON *next = NULL;
    int rc = edit(ds->tags, &next, arg);
    if (!rc && next) {
        cJSON *old = ds->tags;
        ds->tags = next;
        rc = ds_save(ds);
        if (rc) {
            ds->tags = old;
            cJSON_Delete(next);
        } else {
            cJSON_Delete(old);
        }
    }
    pthread_mutex_unlock(&ds->mu);
    return rc;
}

/* ---------------------------------------------------------------- records */

/* Take n records of bytes from shard s's buckets, or refuse (nothing taken). */
static int rate_take(const struct datastream_config *cfg, struct ds_shard *s, size_t n,
                     uint64_t bytes)
{
    double cap_b = (double)cfg->shard_bytes_per_s, cap_r = (double)cfg->shard_records_per_s;
    int64_t now = hytime_mono_ns();
    int rc = 0;
    pthread_mutex_lock(&s->rate_mu);
    if (!s->tok_ns) {
        s->tok_bytes = cap_b;
        s->tok_recs = cap_r;
    } else {
        double dt = (double)(now - s->tok_ns) / 1e9;
        s->tok_bytes = s->tok_bytes + dt * cap_b > cap_b ? cap_b : s->tok_bytes + dt * cap_b;
        s->tok_recs = s->tok_recs + dt * cap_r > cap_r ? cap_r : s->tok_recs + dt * cap_r;
    }
    s->tok_ns = now;
    if ((cap_b > 0 && (double)bytes > s->tok_bytes) || (cap_r > 0 && (double)n > s->tok_recs)) {
        rc = HY_EBUSY;
    } else {
        s->tok_bytes -= (double)bytes;
        s->tok_recs -= (double)n;
    }
    pthread_mutex_unlock(&s->rate_mu);
    return rc;
}

int datastream_append(struct datastream *ds, size_t i, struct streamlog_append *a,
                      uint64_t rate_bytes)
{
    if (i >= ds_n(ds) || atomic_load(&ds->status) != DATASTREAM_ACTIVE)
        return HY_ECLOSED;
    struct ds_shard *s = ds->shards[i];
    const struct datastream_config *cfg = &ds->reg->cfg;
    int rc = 0;
    pthread_rwlock_rdlock(&s->close_lock);
    if (atomic_load(&s->closed))
        rc = HY_ECLOSED;
    else if (ds->mode == DATASTREAM_PROVISIONED &&
             (cfg->shard_bytes_per_s || cfg->shard_records_per_s))
        rc = rate_take(cfg, s, a->n, rate_bytes);
    if (!rc)
        rc = streamlog_append(s->log, a);
    pthread_rwlock_unlock(&s->close_lock);
    return rc;
}

struct streamlog *datastream_log(struct datastream *ds, size_t i)
{
    return i < ds_n(ds) ? ds->shards[i]->log : NULL;
}

uint64_t datastream_horizon(struct datastream *ds, size_t i)
{
    return i < ds_n(ds) ? atomic_load(&ds->shards[i]->horizon) : 1;
}

int64_t datastream_expired_ms(struct datastream *ds)
{
    return hytime_now_ms() - (int64_t)atomic_load(&ds->retention_hours) * ds->reg->cfg.hour_ms;
}

int datastream_reader_take(struct datastream *ds, size_t i, uint64_t *seqp,
                           struct streamlog_reader **out)
{
    if (i >= ds_n(ds))
        return HY_ENOTFOUND;
    struct ds_shard *s = ds->shards[i];
    uint64_t seq = *seqp;
    uint64_t h = atomic_load(&s->horizon);
    if (seq < h)
        seq = h;
    pthread_mutex_lock(&ds->mu);
    for (int k = 0; k < DS_READER_CACHE; k++) {
        if (s->cache[k].r && s->cache[k].next_seq == seq) {
            *out = s->cache[k].r;
            s->cache[k].r = NULL;
            pthread_mutex_unlock(&ds->mu);
            *seqp = seq;
            return 0;
        }
    }
    pthread_mutex_unlock(&ds->mu);
    int rc = streamlog_reader_open(s->log, seq, out);
    if (rc == HY_ENOTFOUND) {
        /* Trimmed meanwhile: start at what is retained now. */
        seq = first_retained(s->log);
        if (seq < atomic_load(&s->horizon))
            seq = atomic_load(&s->horizon);
        rc = streamlog_reader_open(s->log, seq, out);
    }
    if (!rc)
        *seqp = seq;
    return rc;
}

void datastream_reader_give(struct datastream *ds, size_t i, struct streamlog_reader *r,
                            uint64_t next_seq, int bad)
{
    if (!r)
        return;
    if (bad || i >= ds_n(ds)) {
        streamlog_reader_close(r);
        return;
    }
    struct ds_shard *s = ds->shards[i];
    struct streamlog_reader *evict = NULL;
    pthread_mutex_lock(&ds->mu);
    int slot = -1;
    for (int k = 0; k < DS_READER_CACHE; k++) {
        if (!s->cache[k].r) {
            slot = k;
            break;
        }
        if (slot < 0 || s->cache[k].used < s->cache[slot].used)
            slot = k;
    }
    evict = s->cache[slot].r;
    s->cache[slot].r = r;
    s->cache[slot].next_seq = next_seq;
    s->cache[slot].used = ++ds->cache_clock;
    pthread_mutex_unlock(&ds->mu);
    if (evict)
        streamlog_reader_close(evict);
}

/* ---------------------------------------------------------------- retention */

/* Advance shard s's horizon past every record older than cutoff, then trim the log below it. The
 * retention thread's reader only moves forward; the first young record it meets is remembered
 * (pend_*) instead of read again. */
static void retain_shard(struct datastream *ds, struct ds_shard *s, int64_t cutoff)
{
    uint64_t h = atomic_load(&s->horizon);
    if (s->pend_seq) {
        if (s->pend_arrival >= cutoff)
            return;
        h = s->pend_seq + 1;
        s->pend_seq = 0;
    }
    if (!s->ret_reader && streamlog_reader_open(s->log, h, &s->ret_reader) != 0) {
        s->ret_reader = NULL;
        return;
    }
    for (int budget = 100000; budget > 0; budget--) {
        struct streamlog_record rec;
        int rc = streamlog_reader_next(s->ret_reader, &rec);
        if (rc == STREAMLOG_DAMAGED)
            continue;
        if (rc != 1) {
            if (rc < 0) {
                streamlog_reader_close(s->ret_reader);
                s->ret_reader = NULL;
            }
            break;
        }
        if (rec.arrival_ms >= cutoff) {
            s->pend_seq = rec.seq;
            s->pend_arrival = rec.arrival_ms;
            break;
        }
        h = rec.seq + 1;
    }
    if (h > atomic_load(&s->horizon)) {
        atomic_store(&s->horizon, h);
        int rc = streamlog_trim(s->log, h);
        if (rc)
            LOG_WARN("datastream", "retention trim failed", "stream=%s shard=%" PRIu32 " error=%s",
                     ds->name, s->info.index, hy_strerror(rc));
    }
}

static void *retention_main(void *arg)
{
    struct datastream_reg *reg = arg;
    int64_t tick = reg->cfg.hour_ms / 36; /* 100 s per real hour... */
    if (tick > 1000)
        tick = 1000;
    if (tick < 20)
        tick = 20;
    pthread_mutex_lock(&reg->mu);
    while (!reg->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + tick * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&reg->cv, &reg->mu, &ts);
        if (reg->stopping)
            break;
        size_t n = reg->n;
        struct datastream **v = hy_calloc(n ? n : 1, sizeof *v);
        if (!v)
            continue;
        for (size_t i = 0; i < n; i++) {
            v[i] = reg->v[i];
            atomic_fetch_add(&v[i]->refs, 1);
        }
        pthread_mutex_unlock(&reg->mu);
        for (size_t i = 0; i < n; i++) {
            int64_t cutoff = datastream_expired_ms(v[i]);
            for (size_t k = 0; k < ds_n(v[i]); k++)
                retain_shard(v[i], v[i]->shards[k], cutoff);
            datastream_unref(v[i]);
        }
        hy_free(v);
        pthread_mutex_lock(&reg->mu);
    }
    pthread_mutex_unlock(&reg->mu);
    return NULL;
}

/* ---------------------------------------------------------------- resharding */

/* Stop appends to s and wait until what it accepted is durable; then its end is known. Caller
 * holds reshard_mu. */
static void shard_close(struct ds_shard *s)
{
    pthread_rwlock_wrlock(&s->close_lock);
    atomic_store(&s->closed, 1);
    pthread_rwlock_unlock(&s->close_lock);
    /* Every append that passed the check is in the log's hands now; wait for their answers. */
    while (!streamlog_drain(s->log, 1000))
        LOG_WARN("datastream", "waiting for a closing shard's appends", "shard=%" PRIu32,
                 s->info.index);
    atomic_store(&s->end, streamlog_durable_next(s->log));
}

/* Undo shard_close when the reshard fails before it is persisted. */
static void shard_reopen(struct ds_shard *s)
{
    atomic_store(&s->end, 0);
    atomic_store(&s->closed, 0);
}

/* Children (1 or 2 ranges) of the closed parents p (and q, may be NULL): new shards with the
 * next indexes, opened, persisted with the parents' ends, then published. Caller holds
 * reshard_mu; the parents are closed. On error nothing is published and the caller reopens
 * the parents. */
static int add_children(struct datastream *ds, struct ds_shard *p, struct ds_shard *q,
                        const unsigned __int128 *start, const unsigned __int128 *end, size_t nchild)
{
    size_t n = ds_n(ds);
    if (n + nchild > ds->cap)
        return HY_E2BIG;
    /* Children number above everything their parents ever showed, so positions order across
     * a reshard as they do within a shard. */
    uint64_t base = p->info.seq_base + atomic_load(&p->end);
    if (q && q->info.seq_base + atomic_load(&q->end) > base)
        base = q->info.seq_base + atomic_load(&q->end);
    struct ds_shard *kids[2] = {NULL, NULL};
    int rc = 0;
    size_t open = open_count(ds) + nchild;
    for (size_t k = 0; k < nchild && !rc; k++) {
        kids[k] = shard_new();
        if (!kids[k]) {
            rc = HY_ENOMEM;
            break;
        }
        struct datastream_shard_info *i = &kids[k]->info;
        i->index = ds->next_index + (uint32_t)k;
        i->parent = p->info.index;
        i->adjacent_parent = q ? (int64_t)q->info.index : -1;
        i->hash_start = start[k];
        i->hash_end = end[k];
        i->seq_base = base;
        rc = shard_open_log(ds, kids[k], open);
    }
    if (!rc) {
        /* Persist with the children in their slots, then publish them: nothing is routed to
         * a child that a failed save would take back. */
        for (size_t k = 0; k < nchild; k++)
            ds->shards[n + k] = kids[k];
        ds->next_index += (uint32_t)nchild;
        pthread_mutex_lock(&ds->mu);
        rc = ds_save_n(ds, n + nchild);
        pthread_mutex_unlock(&ds->mu);
        if (rc) {
            ds->next_index -= (uint32_t)nchild;
            for (size_t k = 0; k < nchild; k++)
                ds->shards[n + k] = NULL;
        } else {
            atomic_store_explicit(&ds->nshards, n + nchild, memory_order_release);
        }
    }
    if (rc)
        for (size_t k = 0; k < nchild; k++)
            shard_free(kids[k]);
    return rc;
}

static struct ds_shard *open_shard_at(struct datastream *ds, size_t pos)
{
    if (pos >= ds_n(ds))
        return NULL;
    return ds->shards[pos];
}

static int split_locked(struct datastream_reg *reg, struct datastream *ds, size_t pos,
                        unsigned __int128 key)
{
    struct ds_shard *s = open_shard_at(ds, pos);
    if (!s)
        return HY_ENOTFOUND;
    if (atomic_load(&s->closed))
        return HY_ECLOSED;
    /* Both children must hold at least one key. */
    if (key <= s->info.hash_start || key > s->info.hash_end)
        return HY_EINVAL;
    pthread_mutex_lock(&reg->mu);
    int full = reg->open_shards + 1 > reg->cfg.max_shards;
    if (!full)
        reg->open_shards++;
    pthread_mutex_unlock(&reg->mu);
    if (full)
        return HY_E2BIG;
    shard_close(s);
    unsigned __int128 st[2] = {s->info.hash_start, key}, en[2] = {key - 1, s->info.hash_end};
    int rc = add_children(ds, s, NULL, st, en, 2);
    if (rc) {
        shard_reopen(s);
        pthread_mutex_lock(&reg->mu);
        reg->open_shards--;
        pthread_mutex_unlock(&reg->mu);
    }
    return rc;
}

static int merge_locked(struct datastream_reg *reg, struct datastream *ds, size_t a, size_t b)
{
    struct ds_shard *p = open_shard_at(ds, a), *q = open_shard_at(ds, b);
    if (!p || !q)
        return HY_ENOTFOUND;
    if (atomic_load(&p->closed) || atomic_load(&q->closed))
        return HY_ECLOSED;
    struct ds_shard *lo = p->info.hash_start < q->info.hash_start ? p : q;
    struct ds_shard *hi = lo == p ? q : p;
    if (p == q || lo->info.hash_end + 1 != hi->info.hash_start)
        return HY_EINVAL;
    shard_close(p);
    shard_close(q);
    unsigned __int128 st = lo->info.hash_start, en = hi->info.hash_end;
    int rc = add_children(ds, p, q, &st, &en, 1);
    if (rc) {
        shard_reopen(p);
        shard_reopen(q);
    } else {
        pthread_mutex_lock(&reg->mu);
        reg->open_shards--;
        pthread_mutex_unlock(&reg->mu);
    }
    return rc;
}

int datastream_split(struct datastream_reg *reg, struct datastream *ds, size_t pos,
                     unsigned __int128 key)
{
    pthread_mutex_lock(&ds->reshard_mu);
    int rc = atomic_load(&ds->status) == DATASTREAM_ACTIVE ? split_locked(reg, ds, pos, key)
                                                           : HY_ENOTFOUND;
    pthread_mutex_unlock(&ds->reshard_mu);
    if (!rc)
        LOG_INFO("datastream", "shard split", "stream=%s shard=%zu", ds->name, pos);
    return rc;
}

int datastream_merge(struct datastream_reg *reg, struct datastream *ds, size_t a, size_t b)
{
    pthread_mutex_lock(&ds->reshard_mu);
    int rc =
        atomic_load(&ds->status) == DATASTREAM_ACTIVE ? merge_locked(reg, ds, a, b) : HY_ENOTFOUND;
    pthread_mutex_unlock(&ds->reshard_mu);
    if (!rc)
        LOG_INFO("datastream", "shards merged", "stream=%s a=%zu b=%zu", ds->name, a, b);
    return rc;
}

int datastream_scale(struct datastream_reg *reg, struct datastream *ds, size_t target)
{
    int rc = 0;
    pthread_mutex_lock(&ds->reshard_mu);
    /* Splits of the widest open shard, or merges of the narrowest adjacent pair, one at a time:
     * every child has real parents, and from N to 2N or N/2 the result is uniform. */
    for (int guard = 0; !rc && guard < 100000; guard++) {
        size_t n = ds_n(ds), open = open_count(ds);
        if (open == target)
            break;
        long best = -1, best2 = -1;
        unsigned __int128 bw = 0;
        for (size_t i = 0; i < n; i++) {
            struct ds_shard *s = ds->shards[i];
            if (atomic_load(&s->closed))
                continue;
            unsigned __int128 w = s->info.hash_end - s->info.hash_start;
            if (open < target) {
                if (best < 0 || w > bw) {
                    best = (long)i;
                    bw = w;
                }
                continue;
            }
            for (size_t j = 0; j < n; j++) {
                struct ds_shard *t = ds->shards[j];
                if (j == i || atomic_load(&t->closed) ||
                    s->info.hash_end == ~(unsigned __int128)0 ||
                    s->info.hash_end + 1 != t->info.hash_start)
                    continue;
                unsigned __int128 ww = t->info.hash_end - s->info.hash_start;
                if (best < 0 || ww < bw) {
                    best = (long)i;
                    best2 = (long)j;
                    bw = ww;
                }
            }
        }
        if (best < 0) {
            rc = HY_EINVAL;
        } else if (open < target) {
            struct ds_shard *s = ds->shards[best];
            rc = split_locked(reg, ds, (size_t)best,
                              s->info.hash_start + (s->info.hash_end - s->info.hash_start) / 2 + 1);
        } else {
            rc = merge_locked(reg, ds, (size_t)best, (size_t)best2);
        }
    }
    pthread_mutex_unlock(&ds->reshard_mu);
    LOG_INFO("datastream", "shard count updated", "stream=%s target=%zu error=%s", ds->name, target,
             hy_errname(rc));
    return rc;
}

size_t datastream_open_shards(struct datastream *ds)
{
    return open_count(ds);
}

int datastream_shard_closed(struct datastream *ds, size_t i, uint64_t *end_seq)
{
    if (i >= ds_n(ds))
        return 0;
    uint64_t e = atomic_load(&ds->shards[i]->end);
    if (end_seq)
        *end_seq = e;
    return e != 0;
}
