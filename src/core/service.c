/*
 * service: construction and ordered shutdown, lookups, and the control plane (create, delete,
 * update, tags, describe, list). The per-stream runtime is service_stream.c.
 */
#include "core/service.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/consumer.h"
#include "core/service_int.h"
#include "deliver/keyname.h"
#include "sink/sink.h"

/* ---------------------------------------------------------------- lookups */

int service_stream_get(struct service *svc, const char *name, size_t len,
                       struct service_stream **out)
{
    struct catalog_stream *cs = catalog_get(svc->cat, name, len);
    if (!cs)
        return HY_ENOTFOUND;
    /* Every entry gets its runtime before the catalog is visible to anyone. */
    HY_ASSERT(cs->runtime);
    *out = cs->runtime;
    return 0;
}

void service_stream_ref(struct service_stream *st)
{
    catalog_stream_ref(st->cs);
}

void service_stream_unref(struct service_stream *st)
{
    if (st)
        catalog_stream_unref(st->cs);
}

void service_set_ready(struct service *svc, int ready)
{
    atomic_store(&svc->ready, ready ? 1 : 0);
}

int service_ready(struct service *svc)
{
    return atomic_load(&svc->ready);
}

size_t service_max_streams(struct service *svc)
{
    return svc->max_streams;
}

/* ---------------------------------------------------------------- create */

int service_dest_check(struct service *svc, const cJSON *dest, const char **reason)
{
    for (size_t i = 0; i < svc->cfg.nconsumers; i++) {
        const struct consumer_ops *ops = svc->cfg.consumers[i];
        if (ops->wants && !ops->wants(dest, NULL))
            continue;
        int rc = ops->check ? ops->check(dest, reason) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int service_stream_create(struct service *svc, const char *name, cJSON *dest, cJSON *tags)
{
    return service_stream_create_enc(svc, name, dest, tags, NULL);
}

int service_stream_create_enc(struct service *svc, const char *name, cJSON *dest, cJSON *tags,
                              const struct service_enc *enc)
{
    int rc = HY_ENOMEM;
    struct catalog_stream *cs = catalog_stream_new(name);
    if (!cs || !dest)
        goto out;
    if (enc) {
        /* The key must exist before the stream does: no record is ever stored in clear. */
        const struct seal_key *key = NULL;
        if ((rc = service_enc_key(svc, enc, &key)) != 0)
            goto out;
        rc = HY_ENOMEM;
        cs->enc_on = 1;
        cs->enc_customer = enc->customer;
        if (enc->customer)
            snprintf(cs->enc_key_arn, sizeof cs->enc_key_arn, "%s", enc->key_arn);
    }
    cs->dest = dest;
    dest = NULL;
    if (tags) {
        cJSON_Delete(cs->tags);
        cs->tags = tags;
        tags = NULL;
    }
    cs->create_ms = cs->update_ms = hytime_now_ms();
    cs->stream_id = keyname_stream_id(name, cs->create_ms);
    struct service_stream *st = service_stream_rt_new(svc, cs);
    if (!st)
        goto out;
    rc = catalog_insert(svc->cat, cs, svc->max_streams);
    if (rc) {
        if (rc != HY_EEXIST && rc != HY_E2BIG)
            LOG_ERROR("service", "catalog insert failed", "stream=%s err=%s", name, hy_errname(rc));
        goto out;
    }
    rc = service_stream_rt_start(st);
    if (rc) {
        catalog_remove(svc->cat, cs);
        goto out;
    }
    catalog_lock(svc->cat);
    service_stream_set_status(st, CATALOG_STATUS_ACTIVE);
    int src = catalog_save(svc->cat, cs);
    catalog_unlock(svc->cat);
    if (src)
        /* The stream works; on restart a CREATING entry is opened like an ACTIVE one. */
        LOG_WARN("service", "could not persist ACTIVE status", "stream=%s err=%s", name,
                 hy_errname(src));
    LOG_INFO("service", "stream created", "stream=%s", name);
out:
    cJSON_Delete(dest);
    cJSON_Delete(tags);
    catalog_stream_unref(cs);
    return rc;
}

/* ---------------------------------------------------------------- delete */

struct delete_job {
    struct service *svc;
    struct service_stream *st;
};

static void delete_run(struct service *svc, struct service_stream *st)
{
    LOG_INFO("service", "stream deleting: delivering what is buffered", "stream=%s", st->cs->name);
    if (service_stream_rt_stop(st)) {
        /* The sink failed during the final flush: removing the directory would drop
         * acknowledged records. Keep the stream DELETING; the next start retries. */
        LOG_ERROR("service", "stream kept in DELETING: not everything was delivered", "stream=%s",
                  st->cs->name);
        return;
    }
    catalog_remove(svc->cat, st->cs);
    LOG_INFO("service", "stream deleted", "stream=%s", st->cs->name);
}

static void *delete_thread(void *arg)
{
    struct delete_job *j = arg;
    struct service *svc = j->svc;
    delete_run(svc, j->st);
    service_stream_unref(j->st);
    hy_free(j);
    pthread_mutex_lock(&svc->del_lock);
    svc->deleting--;
    pthread_cond_broadcast(&svc->del_cond);
    pthread_mutex_unlock(&svc->del_lock);
    return NULL;
}

/* Finish deleting st in the background (or inline if no thread can be had). */
static void delete_start(struct service *svc, struct service_stream *st)
{
    struct delete_job *j = hy_malloc(sizeof *j);
    if (j) {
        j->svc = svc;
        j->st = st;
        service_stream_ref(st);
        pthread_mutex_lock(&svc->del_lock);
        svc->deleting++;
        pthread_mutex_unlock(&svc->del_lock);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, delete_thread, j);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
        pthread_mutex_lock(&svc->del_lock);
        svc->deleting--;
        pthread_mutex_unlock(&svc->del_lock);
        service_stream_unref(st);
        hy_free(j);
    }
    delete_run(svc, st);
}

int service_stream_delete(struct service *svc, struct service_stream *st)
{
    struct catalog_stream *cs = st->cs;
    catalog_lock(svc->cat);
    if (cs->status == CATALOG_STATUS_DELETING) {
        /* Already on its way out: deleting again is a no-op. */
        catalog_unlock(svc->cat);
        return 0;
    }
    if (cs->status == CATALOG_STATUS_CREATING) {
        catalog_unlock(svc->cat);
        return HY_EBUSY;
    }
    service_stream_set_status(st, CATALOG_STATUS_DELETING);
    cs->update_ms = hytime_now_ms();
    int rc = catalog_save(svc->cat, cs);
    catalog_unlock(svc->cat);
    if (rc)
        /* Deletion goes on; after a crash the entry would come back ACTIVE, data intact. */
        LOG_WARN("service", "could not persist DELETING status", "stream=%s err=%s", cs->name,
                 hy_errname(rc));
    delete_start(svc, st);
    return 0;
}

/* ---------------------------------------------------------------- updates */

int service_stream_update_dest(struct service *svc, struct service_stream *st,
                               uint64_t expect_version, service_edit_fn edit, void *arg)
{
    struct catalog_stream *cs = st->cs;
    cJSON *nd = NULL;
    int rc;
    catalog_lock(svc->cat);
    if (cs->status != CATALOG_STATUS_ACTIVE) {
        rc = HY_ECLOSED;
        goto out;
    }
    if (cs->version != expect_version) {
        rc = HY_EVERSION;
        goto out;
    }
    rc = edit(cs->dest, &nd, arg);
    if (rc || !nd)
        goto out;
    cJSON *old = cs->dest;
    int64_t old_ms = cs->update_ms;
    cs->dest = nd;
    cs->version++;
    cs->update_ms = hytime_now_ms();
    rc = catalog_save(svc->cat, cs);
    if (rc) {
        LOG_ERROR("service", "catalog save failed", "stream=%s err=%s", cs->name, hy_errname(rc));
        cs->dest = old;
        cs->version--;
        cs->update_ms = old_ms;
        goto out;
    }
    nd = old;
    service_stream_rt_update(st);
    LOG_INFO("service", "destination updated", "stream=%s version=%" PRIu64, cs->name, cs->version);
out:
    catalog_unlock(svc->cat);
    cJSON_Delete(nd);
    return rc;
}

int service_stream_edit_tags(struct service *svc, struct service_stream *st, service_edit_fn edit,
                             void *arg)
{
    struct catalog_stream *cs = st->cs;
    cJSON *nt = NULL;
    int rc;
    catalog_lock(svc->cat);
    if (cs->status == CATALOG_STATUS_DELETING) {
        rc = HY_ECLOSED;
        goto out;
    }
    rc = edit(cs->tags, &nt, arg);
    if (rc || !nt)
        goto out;
    cJSON *old = cs->tags;
    cs->tags = nt;
    rc = catalog_save(svc->cat, cs);
    if (rc) {
        LOG_ERROR("service", "catalog save failed", "stream=%s err=%s", cs->name, hy_errname(rc));
        cs->tags = old;
        goto out;
    }
    nt = old;
out:
    catalog_unlock(svc->cat);
    cJSON_Delete(nt);
    return rc;
}

int service_stream_set_settings(struct service *svc, struct service_stream *st, const char *key,
                                cJSON *value)
{
    struct catalog_stream *cs = st->cs;
    cJSON *old = NULL, *ns = NULL;
    int rc = 0;
    catalog_lock(svc->cat);
    if (cs->status != CATALOG_STATUS_ACTIVE) {
        rc = HY_ECLOSED;
        goto out;
    }
    if (!value && !cJSON_GetObjectItemCaseSensitive(cs->settings, key)) {
        rc = 1;
        goto out;
    }
    ns = cs->settings ? cJSON_Duplicate(cs->settings, 1) : cJSON_CreateObject();
    if (!ns) {
        rc = HY_ENOMEM;
        goto out;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(ns, key);
    if (value && !cJSON_AddItemToObject(ns, key, value)) {
        rc = HY_ENOMEM;
        goto out;
    }
    value = NULL;
    if (!ns->child) {
        cJSON_Delete(ns);
        ns = NULL;
    }
    old = cs->settings;
    cs->settings = ns;
    rc = catalog_save(svc->cat, cs);
    if (rc) {
        LOG_ERROR("service", "catalog save failed", "stream=%s err=%s", cs->name, hy_errname(rc));
        cs->settings = old;
        old = ns;
    }
    ns = NULL;
out:
    catalog_unlock(svc->cat);
    cJSON_Delete(value);
    cJSON_Delete(ns);
    cJSON_Delete(old);
    if (rc == 0) {
        LOG_INFO("service", "settings changed", "stream=%s key=%s", cs->name, key);
        service_stream_rt_restart(st, key);
    }
    return rc;
}

/* ---------------------------------------------------------------- reads */

int service_stream_describe(struct service *svc, struct service_stream *st,
                            struct service_stream_info *out)
{
    struct catalog_stream *cs = st->cs;
    memset(out, 0, sizeof *out);
    catalog_lock(svc->cat);
    memcpy(out->name, cs->name, sizeof out->name);
    out->status = cs->status;
    out->version = cs->version;
    out->create_ms = cs->create_ms;
    out->update_ms = cs->update_ms;
    out->stream_id = cs->stream_id;
    out->dest = cJSON_Duplicate(cs->dest, 1);
    out->tags = cJSON_Duplicate(cs->tags, 1);
    int nomem = cs->failure && !(out->failure = hy_strdup(cs->failure));
    out->enc_on = cs->enc_on;
    out->enc_customer = cs->enc_customer;
    memcpy(out->enc_key_arn, cs->enc_key_arn, sizeof out->enc_key_arn);
    nomem |= cs->settings && !(out->settings = cJSON_Duplicate(cs->settings, 1));
    catalog_unlock(svc->cat);
    pthread_rwlock_rdlock(&st->put_lock);
    nomem |= st->enc_failure && !(out->enc_failure = hy_strdup(st->enc_failure));
    pthread_rwlock_unlock(&st->put_lock);
    if (!out->dest || !out->tags || nomem) {
        service_stream_info_fini(out);
        return HY_ENOMEM;
    }
    return 0;
}

void service_stream_info_fini(struct service_stream_info *info)
{
    cJSON_Delete(info->dest);
    cJSON_Delete(info->tags);
    cJSON_Delete(info->settings);
    info->settings = NULL;
    hy_free(info->failure);
    hy_free(info->enc_failure);
    info->dest = info->tags = NULL;
    info->failure = info->enc_failure = NULL;
}

int service_stream_ack_failure(struct service *svc, struct service_stream *st)
{
    struct catalog_stream *cs = st->cs;
    int rc = 0;
    catalog_lock(svc->cat);
    char *old = cs->failure;
    if (old) {
        cs->failure = NULL;
        rc = catalog_save(svc->cat, cs);
        if (rc) {
            cs->failure = old;
            old = NULL;
        }
    }
    catalog_unlock(svc->cat);
    if (rc)
        LOG_ERROR("service", "could not persist the acknowledged failure", "stream=%s err=%s",
                  cs->name, hy_errname(rc));
    else if (old)
        LOG_INFO("service", "failure acknowledged", "stream=%s details=%s", cs->name, old);
    int cleared = old != NULL;
    hy_free(old);
    return rc ? rc : cleared;
}

int service_stream_names(struct service *svc, char ***names, size_t *n)
{
    struct catalog_stream **v = NULL;
    size_t count = 0;
    int rc = catalog_snapshot(svc->cat, &v, &count);
    if (rc)
        return rc;
    char **out = hy_calloc(count ? count : 1, sizeof *out);
    for (size_t i = 0; out && i < count; i++) {
        out[i] = hy_strdup(v[i]->name);
        if (!out[i]) {
            service_names_free(out, i);
            out = NULL;
        }
    }
    catalog_snapshot_free(v, count);
    if (!out)
        return HY_ENOMEM;
    *names = out;
    *n = count;
    return 0;
}

void service_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        hy_free(names[i]);
    hy_free(names);
}

/* ---------------------------------------------------------------- lifecycle */

/* Give every loaded entry its runtime, open it, and finish interrupted deletes. */
static int start_streams(struct service *svc)
{
    struct catalog_stream **v = NULL;
    size_t n = 0;
    int rc = catalog_snapshot(svc->cat, &v, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++)
        if (!v[i]->runtime && !service_stream_rt_new(svc, v[i]))
            rc = HY_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        struct catalog_stream *cs = v[i];
        struct service_stream *st = cs->runtime;
        rc = service_stream_rt_start(st);
        if (rc) {
            LOG_ERROR("service", "cannot open stream", "stream=%s err=%s", cs->name,
                      hy_errname(rc));
            break;
        }
        if (cs->status == CATALOG_STATUS_DELETING) {
            delete_run(svc, st);
            continue;
        }
        if (cs->status == CATALOG_STATUS_CREATING) {
            catalog_lock(svc->cat);
            service_stream_set_status(st, CATALOG_STATUS_ACTIVE);
            catalog_save(svc->cat, cs);
            catalog_unlock(svc->cat);
        }
        LOG_INFO("service", "stream opened", "stream=%s version=%" PRIu64, cs->name, cs->version);
    }
    catalog_snapshot_free(v, n);
    return rc;
}

/* Stop every stream's runtime (flush); idempotent. */
static void stop_streams(struct service *svc)
{
    struct catalog_stream **v = NULL;
    size_t n = 0;
    if (!svc->cat || catalog_snapshot(svc->cat, &v, &n))
        return;
    for (size_t i = 0; i < n; i++)
        if (v[i]->runtime)
            /* Everything acknowledged reaches its objects (or stays in the log, logged, if
             * the sink fails now; the next start delivers it). */
            (void)service_stream_rt_stop(v[i]->runtime);
    catalog_snapshot_free(v, n);
}

int service_open(const struct service_config *cfg, struct service **out)
{
    catalog_json_init();
    if (!cfg || !cfg->data_dir || !cfg->data_dir[0] || !cfg->log_backend)
        return HY_EINVAL;
    int rc = HY_ENOMEM;
    struct service *svc = hy_calloc(1, sizeof *svc);
    if (!svc)
        goto fail;
    pthread_mutex_init(&svc->del_lock, NULL);
    pthread_cond_init(&svc->del_cond, NULL);
    svc->cfg = *cfg;
    svc->quota_bytes = cfg->quota_bytes ? cfg->quota_bytes : SERVICE_DEFAULT_QUOTA_BYTES;
    svc->max_streams = cfg->max_streams ? cfg->max_streams : SERVICE_DEFAULT_MAX_STREAMS;
    /* Half-written objects of a previous process: no consumer runs yet, so none is in use. */
    if (cfg->sink && cfg->sink->recover && (rc = cfg->sink->recover(cfg->sink_ctx)) < 0)
        goto fail;
    rc = catalog_open(cfg->data_dir, &svc->cat);
    if (rc)
        goto fail;
    rc = start_streams(svc);
    if (rc)
        goto fail;
    *out = svc;
    return 0;
fail:
    LOG_ERROR("service", "cannot start", "data_dir=%s err=%s", cfg->data_dir, hy_errname(rc));
    service_close(svc);
    return rc;
}

void service_close(struct service *svc)
{
    if (!svc)
        return;
    atomic_store(&svc->ready, 0);
    pthread_mutex_lock(&svc->del_lock);
    while (svc->deleting > 0)
        pthread_cond_wait(&svc->del_cond, &svc->del_lock);
    pthread_mutex_unlock(&svc->del_lock);
    stop_streams(svc);
    catalog_free(svc->cat);
    pthread_cond_destroy(&svc->del_cond);
    pthread_mutex_destroy(&svc->del_lock);
    hy_free(svc);
}
