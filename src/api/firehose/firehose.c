/*
 * api: construction, shutdown, request dispatch and AWS-shaped replies.
 * Dispatch: POST with X-Amz-Target "Firehose_20150804.<Op>" goes to the operation (any other
 * target: UnknownOperationException); GET /_hydrant/health and /_hydrant/metrics are hydrant's;
 * everything else is a 404.
 */
#include "api/firehose/firehose.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "api/firehose/firehose_int.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http.h"
#include "sink/fssink.h"
#include "core/catalog.h"

#define DEFAULT_QUOTA_BYTES (1ull << 30)
#define DEFAULT_MAX_STREAMS 50 /* Firehose: 50 streams per region by default */

void firehose_reply_not_found(struct firehose *a, struct http_exchange *ex, const char *name)
{
    /* Firehose's wording. */
    awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceNotFoundException",
                         "Firehose %s under account %s not found.", name, a->account_id);
}

struct catalog_stream *firehose_stream_lookup_name(struct firehose *a, struct http_exchange *ex,
                                                   const char *name, size_t len)
{
    struct catalog_stream *s = catalog_get(a->cat, name, len);
    if (!s) {
        /* Names are at most 64 characters by now (validated); the copy only adds the NUL. */
        char z[65];
        size_t k = len < sizeof z - 1 ? len : sizeof z - 1;
        memcpy(z, name, k);
        z[k] = '\0';
        firehose_reply_not_found(a, ex, z);
    }
    return s;
}

struct catalog_stream *firehose_stream_lookup(struct firehose *a, struct http_exchange *ex,
                                              const cJSON *root)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamName");
    const char *name = cJSON_IsString(n) ? n->valuestring : "";
    return firehose_stream_lookup_name(a, ex, name, strlen(name));
}

/* ---------------------------------------------------------------- dispatch */

static int path_is(const struct http_request *req, const char *p)
{
    size_t n = req->path_len;
    const char *q = memchr(req->path, '?', n);
    if (q)
        n = (size_t)(q - req->path);
    return n == strlen(p) && memcmp(req->path, p, n) == 0;
}

static int method_is(const struct http_request *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static void reply_text(struct http_exchange *ex, int status, const char *ct, const char *body,
                       size_t len)
{
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Content-Type: %s\r\n", ct);
    http_respond(ex, status, hdr, body, len);
}

static void handle_metrics(struct firehose *a, struct http_exchange *ex)
{
    struct buf b;
    buf_init(&b, 64u << 20);
    if (admin_metrics_render(a, &b) == 0)
        reply_text(ex, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                   b.len);
    else
        reply_text(ex, 500, "text/plain", "metrics unavailable\n", 20);
    buf_fini(&b);
}

/* PutRecord(Batch), the hot path: most bodies are well-formed, and the single-pass scanner takes
 * those without building a tree (cJSON was a fifth of the server's CPU). Whatever it declines
 * goes through cJSON and the model validator, which give AWS's exact error. */
static void handle_put(struct firehose *a, struct http_exchange *ex, const struct http_request *req,
                       int batch, int64_t start_ns)
{
    struct firehose_put_recs recs;
    const char *name = NULL;
    size_t name_len = 0;
    if (firehose_fastput_parse(batch, req->body, req->body_len, &name, &name_len, &recs) == 0) {
        firehose_op_put(a, ex, name, name_len, batch, &recs, start_ns);
        return;
    }
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (firehose_put_parse(batch, req->body, req->body_len, &root, &name, &name_len, &recs, &e))
        awsjson_reply_err(ex, &e);
    else
        firehose_op_put(a, ex, name, name_len, batch, &recs, start_ns);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}

static void dispatch(struct firehose *a, struct http_exchange *ex, enum firehose_op op,
                     const cJSON *root)
{
    switch (op) {
    case FIREHOSE_OP_CREATE:
        firehose_op_create(a, ex, root);
        return;
    case FIREHOSE_OP_DELETE:
        firehose_op_delete(a, ex, root);
        return;
    case FIREHOSE_OP_DESCRIBE:
        firehose_op_describe(a, ex, root);
        return;
    case FIREHOSE_OP_LIST:
        firehose_op_list(a, ex, root);
        return;
    case FIREHOSE_OP_LIST_TAGS:
        firehose_op_list_tags(a, ex, root);
        return;
    case FIREHOSE_OP_START_ENCRYPTION:
        firehose_op_start_encryption(a, ex, root);
        return;
    case FIREHOSE_OP_STOP_ENCRYPTION:
        firehose_op_stop_encryption(a, ex, root);
        return;
    case FIREHOSE_OP_TAG:
        firehose_op_tag(a, ex, root);
        return;
    case FIREHOSE_OP_UNTAG:
        firehose_op_untag(a, ex, root);
        return;
    case FIREHOSE_OP_UPDATE:
        firehose_op_update(a, ex, root);
        return;
    case FIREHOSE_OP_PUT_RECORD:
    case FIREHOSE_OP_PUT_RECORD_BATCH:
    case FIREHOSE_OP_COUNT:
        break;
    }
    /* Cannot happen: op comes from firehose_op_from_target, which returns only table entries, and
     * firehose_handle sends the puts to handle_put. */
    HY_ASSERT(0);
}

void firehose_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct firehose *a = ud;
    int64_t start_ns = hytime_mono_ns();
    if (method_is(req, "GET") || method_is(req, "HEAD")) {
        if (path_is(req, "/_hydrant/health")) {
            if (atomic_load(&a->ready))
                reply_text(ex, 200, "text/plain", "ok\n", 3);
            else
                reply_text(ex, 503, "text/plain", "not ready\n", 10);
            return;
        }
        if (path_is(req, "/_hydrant/metrics")) {
            handle_metrics(a, ex);
            return;
        }
    }
    const struct http_header *t = http_request_header(req, "X-Amz-Target");
    if (!method_is(req, "POST") || (!t && !path_is(req, "/"))) {
        awsjson_reply_errorf(ex, 404, "NotFoundException", "Not Found");
        return;
    }
    int op = t ? firehose_op_from_target(t->value, t->value_len) : -1;
    if (op < 0) {
        /* Standard Coral error for a missing, foreign or unknown X-Amz-Target. */
        awsjson_reply_errorf(ex, 400, "UnknownOperationException", "%s", "");
        return;
    }
    if (op == FIREHOSE_OP_PUT_RECORD || op == FIREHOSE_OP_PUT_RECORD_BATCH) {
        handle_put(a, ex, req, op == FIREHOSE_OP_PUT_RECORD_BATCH, start_ns);
        return;
    }
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (firehose_valid_request((enum firehose_op)op, req->body, req->body_len, &root, &e))
        awsjson_reply_err(ex, &e);
    else
        dispatch(a, ex, (enum firehose_op)op, root);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
}

/* ---------------------------------------------------------------- lifecycle */

void firehose_set_ready(struct firehose *a, int ready)
{
    atomic_store(&a->ready, ready ? 1 : 0);
}

/* Open every loaded stream; finish interrupted deletions. */
static int start_streams(struct firehose *a)
{
    struct catalog_stream **v = NULL;
    size_t n = 0;
    int rc = catalog_snapshot(a->cat, &v, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        struct catalog_stream *s = v[i];
        rc = firehose_stream_start(a, s);
        if (rc) {
            LOG_ERROR("api", "cannot open stream", "stream=%s err=%s", s->name, hy_errname(rc));
            break;
        }
        if (s->status == CATALOG_STATUS_DELETING) {
            firehose_stream_delete_now(a, s);
            continue;
        }
        if (s->status == CATALOG_STATUS_CREATING) {
            catalog_lock(a->cat);
            s->status = CATALOG_STATUS_ACTIVE;
            catalog_save(a->cat, s);
            catalog_unlock(a->cat);
        }
        LOG_INFO("api", "stream opened", "stream=%s version=%" PRIu64, s->name, s->version);
    }
    catalog_snapshot_free(v, n);
    return rc;
}

int firehose_new(const struct firehose_config *cfg, struct firehose **out)
{
    catalog_json_init();
    if (!cfg || !cfg->data_dir || !cfg->data_dir[0])
        return HY_EINVAL;
    int rc = HY_ENOMEM;
    struct buf s3;
    buf_init(&s3, 8192);
    struct firehose *a = hy_calloc(1, sizeof *a);
    if (!a)
        goto fail;
    pthread_mutex_init(&a->del_lock, NULL);
    pthread_cond_init(&a->del_cond, NULL);
    a->data_dir = hy_strdup(cfg->data_dir);
    a->region = hy_strdup(cfg->region ? cfg->region : "us-east-1");
    a->account_id = hy_strdup(cfg->account_id ? cfg->account_id : "000000000000");
    a->quota_bytes = cfg->quota_bytes ? cfg->quota_bytes : DEFAULT_QUOTA_BYTES;
    a->max_streams = cfg->max_streams ? cfg->max_streams : DEFAULT_MAX_STREAMS;
    if (!a->data_dir || !a->region || !a->account_id)
        goto fail;
    rc = buf_printf(&s3, "%s/s3", cfg->data_dir);
    if (!rc)
        rc = fsutil_mkdirs(s3.data, 0755);
    /* Half-written objects of a previous process: no delivery runs yet, so none is in use. */
    if (!rc)
        rc = fssink_sweep(s3.data);
    if (rc)
        goto fail;
    rc = catalog_open(cfg->data_dir, &a->cat);
    if (rc)
        goto fail;
    rc = start_streams(a);
    if (rc)
        goto fail;
    buf_fini(&s3);
    *out = a;
    return 0;
fail:
    LOG_ERROR("api", "cannot start", "data_dir=%s err=%s", cfg->data_dir, hy_errname(rc));
    buf_fini(&s3);
    firehose_free(a);
    return rc;
}

void firehose_shutdown(struct firehose *a)
{
    if (!a || a->shut_down)
        return;
    a->shut_down = 1;
    atomic_store(&a->ready, 0);
    pthread_mutex_lock(&a->del_lock);
    while (a->deleting > 0)
        pthread_cond_wait(&a->del_cond, &a->del_lock);
    pthread_mutex_unlock(&a->del_lock);
    if (!a->cat)
        return;
    struct catalog_stream **v = NULL;
    size_t n = 0;
    if (catalog_snapshot(a->cat, &v, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        struct catalog_stream *s = v[i];
        /* Drain: everything acknowledged reaches its objects (or stays in the log, logged, if
         * the sink fails now; the next start delivers it). */
        (void)firehose_stream_stop(s);
    }
    catalog_snapshot_free(v, n);
}

void firehose_free(struct firehose *a)
{
    if (!a)
        return;
    firehose_shutdown(a);
    catalog_free(a->cat);
    hy_free(a->data_dir);
    hy_free(a->region);
    hy_free(a->account_id);
    pthread_cond_destroy(&a->del_cond);
    pthread_mutex_destroy(&a->del_lock);
    hy_free(a);
}
