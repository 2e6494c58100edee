/*
 * service_stream: one stream's runtime. Opens the stream's log, starts its consumers each with
 * its own cursor file under consumers/, trims the log below the lowest cursor, gates appends on
 * the stream's status, and stops everything in order (drain appends, flush consumers, close the
 * log).
 *
 * Locking: put_lock is held shared by appends across "status is ACTIVE and the log is open" and
 * the append itself; status flips and detaching the log take it exclusively, so no append can
 * land in a log that is closing. Persisted fields belong to the catalog lock.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/consumer.h"
#include "core/service_int.h"
#include "stream/streamlog.h"

#define PATH_BYTES 8192
#define CONSUMERS_DIR "consumers"
/* Where the delivery cursor lived before consumers had a folder of their own. */
#define LEGACY_DELIVERY_STATE "delivery.state"
/* How long a stop waits for appends already accepted to become durable. */
#define DRAIN_TIMEOUT_MS 60000

static void rt_free(void *p)
{
    struct service_stream *st = p;
    if (!st)
        return;
    /* The runtime is stopped before the catalog lets go of the stream. */
    HY_ASSERT(!st->log);
    pthread_rwlock_destroy(&st->put_lock);
    hy_free(st->enc_failure);
    pthread_mutex_destroy(&st->cons_lock);
    hy_free(st->cons);
    hy_free(st);
}

struct service_stream *service_stream_rt_new(struct service *svc, struct catalog_stream *cs)
{
    struct service_stream *st = hy_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->svc = svc;
    st->cs = cs;
    st->no_puts = cs->dest && cJSON_GetObjectItemCaseSensitive(cs->dest, "Source") != NULL;
    pthread_rwlock_init(&st->put_lock, NULL);
    pthread_mutex_init(&st->cons_lock, NULL);
    cs->runtime = st;
    cs->runtime_free = rt_free;
    return st;
}

/* A consumer moved: trim the log below the lowest cursor of every running consumer. */
static void advanced(void *arg, uint64_t cursor)
{
    struct service_consumer *c = arg;
    struct service_stream *st = c->st;
    atomic_store(&c->cursor, cursor);
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < st->ncons; i++) {
        uint64_t v = atomic_load(&st->cons[i].cursor);
        if (v < min)
            min = v;
    }
    if (min == UINT64_MAX || min <= 1)
        return;
    int rc = streamlog_trim(st->log, min);
    if (rc < 0) /* Not fatal: the segments go at the next trim. */
        LOG_WARN("service", "log trim failed", "stream=%s below=%" PRIu64 " err=%s", st->cs->name,
                 min, hy_errname(rc));
}

/* A consumer reports a failure: it becomes the stream's FailureDescription, persisted. */
static void report_failure(void *arg, const char *details)
{
    struct service_consumer *c = arg;
    struct service_stream *st = c->st;
    struct catalog_stream *cs = st->cs;
    size_t len = strnlen(details, CATALOG_FAILURE_MAX);
    char *copy = hy_malloc(len + 1);
    int rc = HY_ENOMEM;
    if (copy) {
        memcpy(copy, details, len);
        copy[len] = '\0';
        catalog_lock(st->svc->cat);
        char *old = cs->failure;
        cs->failure = copy;
        /* Shown at once; if it cannot be persisted it still shows until the next restart. */
        rc = catalog_save(st->svc->cat, cs);
        catalog_unlock(st->svc->cat);
        hy_free(old);
    }
    if (rc)
        LOG_ERROR("service", "could not persist a failure description", "stream=%s err=%s",
                  cs->name, hy_errname(rc));
}

/* Move a cursor file written before consumers/ existed into place, durably. */
static int migrate_legacy_cursor(const char *stream_dir, const char *consumers_dir)
{
    char from[PATH_BYTES], to[PATH_BYTES];
    int n1 = snprintf(from, sizeof from, "%s/%s", stream_dir, LEGACY_DELIVERY_STATE);
    int n2 = snprintf(to, sizeof to, "%s/delivery.state", consumers_dir);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof from || (size_t)n2 >= sizeof to)
        return -ENAMETOOLONG;
    if (access(from, F_OK) != 0 || access(to, F_OK) == 0)
        return 0;
    if (rename(from, to) < 0)
        return -errno;
    int rc = fsutil_fsync_dir(consumers_dir);
    if (!rc)
        rc = fsutil_fsync_dir(stream_dir);
    LOG_INFO("service", "delivery cursor moved to consumers/", "path=%s", to);
    return rc;
}

/* A consumer appends to another stream of the service. */
static int append_to(void *arg, const char *stream, struct streamlog_append *a)
{
    struct service_consumer *c = arg;
    struct service_stream *target = NULL;
    int rc = service_stream_get(c->st->svc, stream, strlen(stream), &target);
    if (rc)
        return rc;
    rc = service_append(target, a);
    service_stream_unref(target);
    return rc;
}

static void fill_env(struct service_stream *st, struct service_consumer *c, const char *path,
                     struct consumer_env *env)
{
    struct catalog_stream *cs = st->cs;
    memset(env, 0, sizeof *env);
    env->stream_name = cs->name;
    env->version = cs->version;
    env->create_ms = cs->create_ms;
    env->dest = cs->dest;
    env->settings = cs->settings;
    env->append_to = append_to;
    env->log = st->log;
    env->stats = &st->stats;
    env->state_path = path;
    env->sink = st->svc->cfg.sink;
    env->sink_ctx = st->svc->cfg.sink_ctx;
    env->advanced = advanced;
    env->report_failure = report_failure;
    env->rt = c;
}

/* Stop the consumers started so far (with flush) and return the lowest final cursor. */
static uint64_t stop_consumers(struct service_stream *st, int flush)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = st->ncons; i > 0; i--) {
        struct service_consumer *c = &st->cons[i - 1];
        if (!c->state) /* stopped by a settings change */
            continue;
        uint64_t cur = c->ops->stop(c->state, flush);
        c->state = NULL;
        if (cur < min)
            min = cur;
    }
    st->ncons = 0;
    return min;
}

int service_stream_rt_start(struct service_stream *st)
{
    struct service *svc = st->svc;
    struct catalog_stream *cs = st->cs;
    struct buf dir, logdir, cdir, path;
    buf_init(&dir, PATH_BYTES);
    buf_init(&logdir, PATH_BYTES);
    buf_init(&cdir, PATH_BYTES);
    buf_init(&path, PATH_BYTES);
    struct streamlog *log = NULL;
    int rc = catalog_stream_path(svc->cat, cs->name, NULL, &dir);
    if (!rc)
        rc = catalog_stream_path(svc->cat, cs->name, "log", &logdir);
    if (!rc)
        rc = catalog_stream_path(svc->cat, cs->name, CONSUMERS_DIR, &cdir);
    if (!rc)
        rc = fsutil_mkdirs(cdir.data, 0755);
    if (!rc)
        rc = migrate_legacy_cursor(dir.data, cdir.data);
    if (rc)
        goto fail;
    struct streamlog_config lc = {
        .quota_bytes = svc->quota_bytes,
        .max_wait_ms = svc->cfg.append_wait_ms,
    };
    /* The quota counts log bytes retained on disk, and the active segment is only deleted
     * once a later one exists, so it can hold delivered bytes. Keeping segments at most an
     * eighth of the quota bounds that slack, and a small quota can never be filled by
     * delivered data alone. */
    uint64_t eighth = svc->quota_bytes / 8;
    if (eighth < (64u << 20))
        lc.segment_bytes = eighth > (1u << 20) ? (size_t)eighth : (1u << 20);
    lc.ring = svc->cfg.ring;
    rc = streamlog_open(svc->cfg.log_backend, logdir.data, &lc, &log);
    if (rc)
        goto fail;
    pthread_rwlock_wrlock(&st->put_lock);
    st->log = log;
    service_enc_apply(st);
    pthread_rwlock_unlock(&st->put_lock);
    st->cons = hy_calloc(svc->cfg.nconsumers ? svc->cfg.nconsumers : 1, sizeof *st->cons);
    if (!st->cons) {
        rc = HY_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < svc->cfg.nconsumers; i++) {
        const struct consumer_ops *ops = svc->cfg.consumers[i];
        if (ops->wants && !ops->wants(cs->dest, cs->settings))
            continue;
        struct service_consumer *c = &st->cons[st->ncons];
        c->st = st;
        c->ops = ops;
        /* Holds the trim back until the consumer has said where it is. */
        atomic_store(&c->cursor, 0);
        st->ncons++;
        buf_reset(&path);
        struct consumer_env env;
        rc = buf_printf(&path, "%s/%s.state", cdir.data, ops->name);
        if (!rc) {
            fill_env(st, c, path.data, &env);
            rc = ops->start(&env, &c->state);
        }
        if (rc) {
            st->ncons--;
            LOG_ERROR("service", "consumer did not start", "stream=%s consumer=%s err=%s", cs->name,
                      ops->name, hy_errname(rc));
            goto fail;
        }
        atomic_store(&c->cursor, ops->cursor(c->state));
    }
    goto out;
fail:
    LOG_ERROR("service", "stream start failed", "stream=%s err=%s", cs->name, hy_errname(rc));
    stop_consumers(st, 0);
    hy_free(st->cons);
    st->cons = NULL;
    if (log)
        streamlog_close(log);
    st->log = NULL;
out:
    buf_fini(&path);
    buf_fini(&cdir);
    buf_fini(&logdir);
    buf_fini(&dir);
    return rc;
}

int service_stream_rt_stop(struct service_stream *st)
{
    /* Detach under the exclusive lock: a later append finds no log and is refused, and none
     * is inside streamlog_append while the log drains and closes. */
    pthread_rwlock_wrlock(&st->put_lock);
    struct streamlog *log = st->log;
    st->closing = 1;
    pthread_rwlock_unlock(&st->put_lock);
    if (!log)
        return 0;
    /* Appends already accepted (parked ones too) become durable first, so the flush below
     * delivers them: an acknowledged record is never left behind. */
    if (!streamlog_drain(log, DRAIN_TIMEOUT_MS))
        LOG_WARN("service", "appends not durable before the final flush", "stream=%s",
                 st->cs->name);
    uint64_t durable = streamlog_durable_next(log);
    pthread_mutex_lock(&st->cons_lock);
    int had = st->ncons > 0;
    uint64_t done = stop_consumers(st, 1);
    pthread_mutex_unlock(&st->cons_lock);
    pthread_rwlock_wrlock(&st->put_lock);
    st->log = NULL;
    pthread_rwlock_unlock(&st->put_lock);
    streamlog_close(log);
    if (had && done < durable) {
        LOG_WARN("service", "stream stopped with records not yet consumed; they stay in its log",
                 "stream=%s lowest_cursor=%" PRIu64 " durable_next=%" PRIu64, st->cs->name, done,
                 durable);
        return HY_EBUSY;
    }
    return 0;
}

void service_stream_rt_restart(struct service_stream *st, const char *name)
{
    struct service *svc = st->svc;
    struct catalog_stream *cs = st->cs;
    const struct consumer_ops *ops = NULL;
    for (size_t i = 0; i < svc->cfg.nconsumers && !ops; i++)
        if (strcmp(svc->cfg.consumers[i]->name, name) == 0)
            ops = svc->cfg.consumers[i];
    if (!ops)
        return;
    pthread_mutex_lock(&st->cons_lock);
    struct service_consumer *c = NULL;
    for (size_t i = 0; i < st->ncons && !c; i++)
        if (st->cons[i].ops == ops)
            c = &st->cons[i];
    if (c && c->state) {
        ops->stop(c->state, 0);
        c->state = NULL;
        atomic_store(&c->cursor, UINT64_MAX); /* holds no trim back while stopped */
    }
    pthread_rwlock_rdlock(&st->put_lock);
    int open = st->log && !st->closing && st->cons;
    pthread_rwlock_unlock(&st->put_lock);
    /* Copies: a later settings change may replace the catalog's trees during start. */
    catalog_lock(svc->cat);
    cJSON *dest = cJSON_Duplicate(cs->dest, 1);
    cJSON *settings = cs->settings ? cJSON_Duplicate(cs->settings, 1) : NULL;
    int nomem = !dest || (cs->settings && !settings);
    int want = open && !nomem && (!ops->wants || ops->wants(dest, settings));
    catalog_unlock(svc->cat);
    struct buf path;
    buf_init(&path, PATH_BYTES);
    int rc = 0;
    if (want) {
        if (!c) {
            c = &st->cons[st->ncons];
            c->st = st;
            c->ops = ops;
            atomic_store(&c->cursor, 0);
            st->ncons++;
        }
        atomic_store(&c->cursor, 0);
        rc = catalog_stream_path(svc->cat, cs->name, CONSUMERS_DIR, &path);
        if (!rc)
            rc = buf_printf(&path, "/%s.state", ops->name);
        if (!rc) {
            struct consumer_env env;
            fill_env(st, c, path.data, &env);
            env.dest = dest;
            env.settings = settings;
            void *state = NULL;
            rc = ops->start(&env, &state);
            if (!rc) {
                c->state = state;
                atomic_store(&c->cursor, ops->cursor(state));
            }
        }
        if (rc) {
            atomic_store(&c->cursor, UINT64_MAX);
            LOG_ERROR("service", "consumer did not start after a settings change",
                      "stream=%s consumer=%s err=%s", cs->name, ops->name, hy_errname(rc));
        }
    }
    pthread_mutex_unlock(&st->cons_lock);
    buf_fini(&path);
    cJSON_Delete(dest);
    cJSON_Delete(settings);
}

void service_stream_rt_update(struct service_stream *st)
{
    for (size_t i = 0; i < st->ncons; i++) {
        struct service_consumer *c = &st->cons[i];
        /* Settings-driven consumers have no update op and may be restarting: skip them
         * before touching their state. */
        if (!c->ops->update || !c->state)
            continue;
        struct consumer_env env;
        fill_env(st, c, "", &env);
        int rc = c->ops->update(c->state, &env);
        if (rc)
            LOG_ERROR("service", "consumer update failed; applies after restart",
                      "stream=%s consumer=%s err=%s", st->cs->name, c->ops->name, hy_errname(rc));
    }
}

int service_append(struct service_stream *st, struct streamlog_append *a)
{
    int rc = HY_ECLOSED;
    pthread_rwlock_rdlock(&st->put_lock);
    if (st->cs->status == CATALOG_STATUS_ACTIVE && st->log && !st->closing)
        rc = st->enc_failure ? HY_ENOKEY : streamlog_append(st->log, a);
    pthread_rwlock_unlock(&st->put_lock);
    return rc;
}

int service_stream_no_puts(struct service_stream *st)
{
    return st->no_puts;
}

uint64_t service_stream_log_bytes(struct service_stream *st)
{
    uint64_t v = 0;
    pthread_rwlock_rdlock(&st->put_lock);
    if (st->log)
        v = streamlog_retained_bytes(st->log);
    pthread_rwlock_unlock(&st->put_lock);
    return v;
}

size_t service_stream_parked(struct service_stream *st)
{
    size_t v = 0;
    pthread_rwlock_rdlock(&st->put_lock);
    if (st->log)
        v = streamlog_parked(st->log);
    pthread_rwlock_unlock(&st->put_lock);
    return v;
}

void service_stream_damage(struct service_stream *st, struct streamlog_damage_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&st->put_lock);
    if (st->log)
        streamlog_damage_stats(st->log, out);
    pthread_rwlock_unlock(&st->put_lock);
}

uint64_t service_stream_id(struct service_stream *st)
{
    return st->cs->stream_id;
}

struct stream_stats *service_stream_stats(struct service_stream *st)
{
    return &st->stats;
}

void service_stream_set_status(struct service_stream *st, enum catalog_status status)
{
    pthread_rwlock_wrlock(&st->put_lock);
    st->cs->status = status;
    pthread_rwlock_unlock(&st->put_lock);
}
