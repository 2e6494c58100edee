/*
 * firehose_stream: the control plane (CreateDeliveryStream, DeleteDeliveryStream,
 * DescribeDeliveryStream, ListDeliveryStreams, UpdateDestination) and each stream's runtime
 * wiring: its wal and its delivery consumer.
 *
 * Lifecycle. Create persists the entry (CREATING), opens the wal, starts delivery, then marks
 * it ACTIVE before answering, so clients never wait on CREATING. Delete marks DELETING
 * (persisted, and puts are refused from that moment), answers at once, and a background
 * thread delivers everything already acknowledged (delivery_stop with flush), closes the wal and
 * removes the directory; only then is the name free. A restart finds a DELETING entry and
 * finishes the job the same way, so an acknowledged record is never dropped by a delete.
 *
 * The status field is written under both the catalog lock and the stream's put_lock (exclusive),
 * so a put, holding put_lock shared, sees a stable status.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/firehose/firehose_int.h"
#include "base/err.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "deliver/delivery.h"
#include "deliver/keyname.h"
#include "core/catalog.h"
#include "stream/wal.h"

#define PATH_BYTES 8192

/* ---------------------------------------------------------------- runtime */

int firehose_stream_start(struct firehose *a, struct catalog_stream *s)
{
    struct buf logdir, statedir, s3root;
    buf_init(&logdir, PATH_BYTES);
    buf_init(&statedir, PATH_BYTES);
    buf_init(&s3root, PATH_BYTES);
    struct wal *w = NULL;
    struct delivery *d = NULL;
    int rc = catalog_stream_path(a->cat, s->name, "log", &logdir);
    if (!rc)
        rc = catalog_stream_path(a->cat, s->name, NULL, &statedir);
    if (!rc)
        rc = buf_printf(&s3root, "%s/s3", a->data_dir);
    if (rc)
        goto fail;
    struct wal_config wc;
    wal_config_default(&wc);
    wc.quota_bytes = a->quota_bytes;
    /* The quota counts log bytes retained on disk, and the active segment is only deleted
     * once a later one exists, so it can hold delivered bytes. Keeping segments at most an
     * eighth of the quota bounds that slack, and a small quota can never be filled by
     * delivered data alone. */
    if (wc.quota_bytes && wc.segment_bytes > wc.quota_bytes / 8)
        wc.segment_bytes = wc.quota_bytes / 8 > (1u << 20) ? wc.quota_bytes / 8 : (1u << 20);
    rc = wal_open(logdir.data, &wc, &w);
    if (rc)
        goto fail;
    struct delivery_target t;
    firehose_dest_target(s->dest, s->name, s->version, s->create_ms, &t);
    rc = delivery_start(statedir.data, s3root.data, w, &s->stats, &t, &d);
    if (rc)
        goto fail;
    s->wal = w;
    s->delivery = d;
    goto out;
fail:
    LOG_ERROR("api", "stream start failed", "stream=%s err=%s", s->name, hy_errname(rc));
    if (w)
        wal_close(w);
out:
    buf_fini(&s3root);
    buf_fini(&statedir);
    buf_fini(&logdir);
    return rc;
}

int firehose_stream_stop(struct catalog_stream *s)
{
    /* Detach under the exclusive put lock: a put that comes later finds no wal and is
     * refused, and none is inside wal_append while the wal closes. */
    pthread_rwlock_wrlock(&s->put_lock);
    struct delivery *d = s->delivery;
    struct wal *w = s->wal;
    s->delivery = NULL;
    s->wal = NULL;
    pthread_rwlock_unlock(&s->put_lock);
    /* Appends already accepted become durable within a group commit; wait for them so the
     * flush below delivers them too (an acknowledged record is never left behind). */
    uint64_t next = atomic_load(&s->appended_next);
    if (w && next > 0 && !wal_wait(w, next - 1, 60000))
        LOG_WARN("api", "appends not durable before the final flush", "stream=%s next_seq=%llu",
                 s->name, (unsigned long long)next);
    /* Delivery first: with flush it drains every durable record into objects, and it reads
     * the wal, which must stay open until it is done. */
    uint64_t delivered = d ? delivery_stop(d, 1) : 0;
    if (w)
        wal_close(w);
    if (d && next > delivered) {
        LOG_WARN("api", "stream stopped with records not yet delivered; they stay in its log",
                 "stream=%s next_undelivered=%llu appended_next=%llu", s->name,
                 (unsigned long long)delivered, (unsigned long long)next);
        return HY_EBUSY;
    }
    return 0;
}

static void set_status(struct catalog_stream *s, enum catalog_status st)
{
    pthread_rwlock_wrlock(&s->put_lock);
    s->status = st;
    pthread_rwlock_unlock(&s->put_lock);
}

/* ---------------------------------------------------------------- helpers */

static const char *name_of(const cJSON *root)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamName");
    return cJSON_IsString(n) ? n->valuestring : "";
}

static int add_arn(struct firehose *a, cJSON *o, const char *name)
{
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:firehose:%s:%s:deliverystream/%s", a->region, a->account_id,
             name);
    return cJSON_AddStringToObject(o, "DeliveryStreamARN", arn) ? 0 : -1;
}

/* ---------------------------------------------------------------- CreateDeliveryStream */

void firehose_op_create(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    struct catalog_stream *s = NULL;
    cJSON *dest = NULL;
    const char *name = name_of(root);
    if (firehose_dest_from_create(root, &dest, &e))
        goto reply;
    s = catalog_stream_new(name);
    if (!s) {
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        goto reply;
    }
    s->dest = dest;
    dest = NULL;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "Tags");
    if (cJSON_IsArray(tags) && firehose_tags_add(s->tags, tags, &e))
        goto reply;
    s->create_ms = s->update_ms = hytime_now_ms();
    s->stream_id = keyname_stream_id(name, s->create_ms);
    int rc = catalog_insert(a->cat, s, a->max_streams);
    if (rc == HY_EEXIST) {
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                        "Firehose %s under account %s already exists.", name, a->account_id);
        goto reply;
    }
    if (rc == HY_E2BIG) {
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "LimitExceededException",
                        "You have already reached the limit of %zu Firehose streams in account %s.",
                        a->max_streams, a->account_id);
        goto reply;
    }
    if (rc) {
        LOG_ERROR("api", "catalog insert failed", "stream=%s err=%s", name, hy_errname(rc));
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "could not persist the stream");
        goto reply;
    }
    rc = firehose_stream_start(a, s);
    if (rc) {
        catalog_remove(a->cat, s);
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure",
                        "could not open the stream's log: %s", hy_strerror(rc));
        goto reply;
    }
    catalog_lock(a->cat);
    set_status(s, CATALOG_STATUS_ACTIVE);
    rc = catalog_save(a->cat, s);
    catalog_unlock(a->cat);
    if (rc)
        /* The stream works; on restart a CREATING entry is opened like an ACTIVE one. */
        LOG_WARN("api", "could not persist ACTIVE status", "stream=%s err=%s", name,
                 hy_errname(rc));
    LOG_INFO("api", "stream created", "stream=%s", name);
reply:
    if (e.type) {
        awsjson_reply_err(ex, &e);
    } else {
        cJSON *o = cJSON_CreateObject();
        if (o && add_arn(a, o, name)) {
            cJSON_Delete(o);
            o = NULL;
        }
        awsjson_reply_cjson(ex, o);
    }
    cJSON_Delete(dest);
    catalog_stream_unref(s);
    awsjson_err_fini(&e);
}

/* ---------------------------------------------------------------- DeleteDeliveryStream */

struct delete_job {
    struct firehose *a;
    struct catalog_stream *s;
};

static void delete_run(struct firehose *a, struct catalog_stream *s)
{
    LOG_INFO("api", "stream deleting: delivering what is buffered", "stream=%s", s->name);
    if (firehose_stream_stop(s)) {
        /* The sink failed during the final flush: removing the directory would drop
         * acknowledged records. Keep the stream DELETING; the next start retries. */
        LOG_ERROR("api", "stream kept in DELETING: not everything was delivered", "stream=%s",
                  s->name);
        return;
    }
    catalog_remove(a->cat, s);
    LOG_INFO("api", "stream deleted", "stream=%s", s->name);
}

static void *delete_thread(void *arg)
{
    struct delete_job *j = arg;
    delete_run(j->a, j->s);
    catalog_stream_unref(j->s);
    pthread_mutex_lock(&j->a->del_lock);
    j->a->deleting--;
    pthread_cond_broadcast(&j->a->del_cond);
    pthread_mutex_unlock(&j->a->del_lock);
    hy_free(j);
    return NULL;
}

/* Finish deleting s in the background (or inline if no thread can be had). */
static void delete_start(struct firehose *a, struct catalog_stream *s)
{
    struct delete_job *j = hy_malloc(sizeof *j);
    if (j) {
        j->a = a;
        j->s = s;
        catalog_stream_ref(s);
        pthread_mutex_lock(&a->del_lock);
        a->deleting++;
        pthread_mutex_unlock(&a->del_lock);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, delete_thread, j);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
        pthread_mutex_lock(&a->del_lock);
        a->deleting--;
        pthread_mutex_unlock(&a->del_lock);
        catalog_stream_unref(s);
        hy_free(j);
    }
    delete_run(a, s);
}

void firehose_op_delete(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct catalog_stream *s = firehose_stream_lookup(a, ex, root);
    if (!s)
        return;
    catalog_lock(a->cat);
    if (s->status == CATALOG_STATUS_DELETING) {
        /* Already on its way out: deleting again is a no-op. */
        catalog_unlock(a->cat);
        catalog_stream_unref(s);
        awsjson_reply_json(ex, "{}", 2);
        return;
    }
    if (s->status == CATALOG_STATUS_CREATING) {
        /* Firehose: a stream in CREATING cannot be deleted. */
        catalog_unlock(a->cat);
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                             "Firehose %s is being created; try again later.", s->name);
        catalog_stream_unref(s);
        return;
    }
    set_status(s, CATALOG_STATUS_DELETING);
    s->update_ms = hytime_now_ms();
    int rc = catalog_save(a->cat, s);
    catalog_unlock(a->cat);
    if (rc)
        /* Deletion goes on; after a crash the entry would come back ACTIVE, data intact. */
        LOG_WARN("api", "could not persist DELETING status", "stream=%s err=%s", s->name,
                 hy_errname(rc));
    delete_start(a, s);
    catalog_stream_unref(s);
    awsjson_reply_json(ex, "{}", 2);
}

void firehose_stream_delete_now(struct firehose *a, struct catalog_stream *s)
{
    delete_run(a, s);
}

/* ---------------------------------------------------------------- DescribeDeliveryStream */

void firehose_op_describe(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct catalog_stream *s = firehose_stream_lookup(a, ex, root);
    if (!s)
        return;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartDestinationId");
    char ver[32];
    cJSON *out = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(out, "DeliveryStreamDescription");
    catalog_lock(a->cat);
    snprintf(ver, sizeof ver, "%" PRIu64, s->version);
    cJSON *enc = NULL, *dests = NULL;
    int ok = d && !!cJSON_AddStringToObject(d, "DeliveryStreamName", s->name) &&
             !add_arn(a, d, s->name) &&
             cJSON_AddStringToObject(d, "DeliveryStreamStatus", catalog_status_name(s->status)) &&
             (enc = cJSON_AddObjectToObject(d, "DeliveryStreamEncryptionConfiguration")) &&
             cJSON_AddStringToObject(enc, "Status", "DISABLED") &&
             cJSON_AddStringToObject(d, "DeliveryStreamType", "DirectPut") &&
             cJSON_AddStringToObject(d, "VersionId", ver) &&
             cJSON_AddNumberToObject(d, "CreateTimestamp", (double)s->create_ms / 1000.0) &&
             cJSON_AddNumberToObject(d, "LastUpdateTimestamp", (double)s->update_ms / 1000.0) &&
             (dests = cJSON_AddArrayToObject(d, "Destinations"));
    /* One destination; paging past it (ExclusiveStartDestinationId = its id) gives none. */
    if (ok && !(cJSON_IsString(start) && strcmp(start->valuestring, CATALOG_DESTINATION_ID) == 0))
        ok = firehose_dest_describe(s->dest, dests) == 0;
    catalog_unlock(a->cat);
    if (ok)
        ok = !!cJSON_AddFalseToObject(d, "HasMoreDestinations");
    catalog_stream_unref(s);
    if (!ok) {
        cJSON_Delete(out);
        out = NULL;
    }
    awsjson_reply_cjson(ex, out);
}

/* ---------------------------------------------------------------- ListDeliveryStreams */

void firehose_op_list(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "Limit");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamType");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartDeliveryStreamName");
    /* Firehose: Limit defaults to 10. */
    int limit = cJSON_IsNumber(lim) ? lim->valueint : 10;
    /* Every hydrant stream is DirectPut. */
    int none = cJSON_IsString(type) && strcmp(type->valuestring, "DirectPut") != 0;
    struct catalog_stream **v = NULL;
    size_t n = 0;
    if (catalog_snapshot(a->cat, &v, &n)) {
        awsjson_reply_cjson(ex, NULL);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(out, "DeliveryStreamNames");
    int ok = names != NULL, count = 0, more = 0;
    for (size_t i = 0; ok && !none && i < n; i++) {
        if (cJSON_IsString(start) && strcmp(v[i]->name, start->valuestring) <= 0)
            continue;
        if (count == limit) {
            more = 1;
            break;
        }
        cJSON *x = cJSON_CreateString(v[i]->name);
        ok = x != NULL;
        if (ok)
            cJSON_AddItemToArray(names, x);
        count++;
    }
    catalog_snapshot_free(v, n);
    if (ok)
        ok = !!cJSON_AddBoolToObject(out, "HasMoreDeliveryStreams", more);
    if (!ok) {
        cJSON_Delete(out);
        out = NULL;
    }
    awsjson_reply_cjson(ex, out);
}

/* ---------------------------------------------------------------- UpdateDestination */

void firehose_op_update(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct catalog_stream *s = firehose_stream_lookup(a, ex, root);
    if (!s)
        return;
    struct awsjson_err e;
    awsjson_err_init(&e);
    const char *want =
        cJSON_GetObjectItemCaseSensitive(root, "CurrentDeliveryStreamVersionId")->valuestring;
    const char *dest_id = cJSON_GetObjectItemCaseSensitive(root, "DestinationId")->valuestring;
    char ver[32];
    cJSON *nd = NULL;
    catalog_lock(a->cat);
    snprintf(ver, sizeof ver, "%" PRIu64, s->version);
    /* Leading zeros would name the same number, but AWS compares the id as given. */
    if (s->status != CATALOG_STATUS_ACTIVE) {
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                        "Firehose %s is not ACTIVE (status %s).", s->name,
                        catalog_status_name(s->status));
    } else if (strcmp(want, ver) != 0) {
        /* Firehose: optimistic concurrency on VersionId. */
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ConcurrentModificationException",
                        "Cannot update Firehose %s: the current version id is %s but the request "
                        "specified %s.",
                        s->name, ver, want);
    } else if (strcmp(dest_id, CATALOG_DESTINATION_ID) != 0) {
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Destination %s not found in Firehose %s; its destination is %s.", dest_id,
                        s->name, CATALOG_DESTINATION_ID);
    } else if (firehose_dest_update(s->dest, root, &nd, &e) == 0) {
        cJSON *old = s->dest;
        int64_t old_ms = s->update_ms;
        s->dest = nd;
        s->version++;
        s->update_ms = hytime_now_ms();
        int rc = catalog_save(a->cat, s);
        if (rc) {
            s->dest = old;
            s->version--;
            s->update_ms = old_ms;
            LOG_ERROR("api", "catalog save failed", "stream=%s err=%s", s->name, hy_errname(rc));
            awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "could not persist the update");
        } else {
            nd = old;
            struct delivery_target t;
            firehose_dest_target(s->dest, s->name, s->version, s->create_ms, &t);
            rc = s->delivery ? delivery_update(s->delivery, &t) : 0;
            if (rc)
                LOG_ERROR("api", "delivery update failed; applies after restart",
                          "stream=%s err=%s", s->name, hy_errname(rc));
            LOG_INFO("api", "destination updated", "stream=%s version=%" PRIu64, s->name,
                     s->version);
        }
    }
    catalog_unlock(a->cat);
    cJSON_Delete(nd);
    if (e.type)
        awsjson_reply_err(ex, &e);
    else
        awsjson_reply_json(ex, "{}", 2);
    awsjson_err_fini(&e);
    catalog_stream_unref(s);
}
