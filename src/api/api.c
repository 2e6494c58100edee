/*
 * api: construction, shutdown, request dispatch and AWS-shaped replies.
 * Dispatch: POST with X-Amz-Target "Firehose_20150804.<Op>" goes to the operation (any other
 * target: UnknownOperationException); GET /_hydrant/health and /_hydrant/metrics are hydrant's;
 * everything else is a 404.
 */
#include "api/api.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "api/api_int.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http.h"
#include "sink/fssink.h"
#include "stream/catalog.h"

#define DEFAULT_QUOTA_BYTES (1ull << 30)
#define DEFAULT_MAX_STREAMS 50 /* Firehose: 50 streams per region by default */

/* ---------------------------------------------------------------- replies */

void api_request_id(char out[37])
{
    /* Request ids only need to be unique, not secret: a per-thread xorshift seeded once from
     * getrandom keeps this off the syscall path. */
    static _Thread_local uint64_t state;
    if (!state) {
        if (getrandom(&state, sizeof state, 0) != sizeof state || !state)
            state = (uint64_t)hytime_mono_ns() | 1;
    }
    uint8_t b[16];
    for (int i = 0; i < 16; i += 8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        memcpy(b + i, &state, 8);
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char h[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = h[b[i] >> 4];
        out[o++] = h[b[i] & 15];
    }
    out[o] = '\0';
}

void api_reply_json(struct http_exchange *ex, const char *body, size_t len)
{
    char id[37], hdr[160];
    api_request_id(id);
    snprintf(hdr, sizeof hdr, "Content-Type: " API_JSON_CT "\r\nx-amzn-RequestId: %s\r\n", id);
    http_respond(ex, 200, hdr, body, len);
}

void api_reply_cjson(struct http_exchange *ex, cJSON *item)
{
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    cJSON_Delete(item);
    if (!text) {
        api_reply_errorf(ex, API_ERR_SERVER, "InternalFailure", "out of memory");
        return;
    }
    api_reply_json(ex, text, strlen(text));
    cJSON_free(text);
}

static void reply_error(struct http_exchange *ex, int status, const char *type, const char *msg,
                        size_t msg_len)
{
    char id[37], hdr[256];
    api_request_id(id);
    snprintf(hdr, sizeof hdr,
             "Content-Type: " API_JSON_CT "\r\nx-amzn-RequestId: %s\r\nx-amzn-ErrorType: %s\r\n",
             id, type);
    struct buf b;
    buf_init(&b, 256u << 10);
    int rc = buf_append_str(&b, "{\"__type\":");
    if (!rc)
        rc = buf_append_json_str(&b, type, strlen(type));
    if (!rc)
        rc = buf_append_str(&b, ",\"message\":");
    if (!rc)
        rc = buf_append_json_str(&b, msg, msg_len);
    if (!rc)
        rc = buf_append(&b, "}", 1);
    if (rc) {
        static const char fallback[] = "{\"__type\":\"InternalFailure\"}";
        http_respond(ex, 500, hdr, fallback, sizeof fallback - 1);
    } else {
        http_respond(ex, status, hdr, b.data, b.len);
    }
    buf_fini(&b);
}

void api_reply_err(struct http_exchange *ex, struct api_err *e)
{
    if (!api_err_done(e))
        api_err_set(e, API_ERR_SERVER, "InternalFailure", "unknown error");
    reply_error(ex, e->status, e->type, e->msg.data ? e->msg.data : "", e->msg.len);
}

void api_reply_errorf(struct http_exchange *ex, int status, const char *type, const char *fmt, ...)
{
    struct buf m;
    buf_init(&m, 64u << 10);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&m, fmt, ap);
    va_end(ap);
    reply_error(ex, status, type, m.data ? m.data : "", m.len);
    buf_fini(&m);
}

void api_reply_not_found(struct api *a, struct http_exchange *ex, const char *name)
{
    /* Firehose's wording. */
    api_reply_errorf(ex, API_ERR_BAD_REQUEST, "ResourceNotFoundException",
                     "Firehose %s under account %s not found.", name, a->account_id);
}

struct catalog_stream *api_stream_lookup_name(struct api *a, struct http_exchange *ex,
                                              const char *name, size_t len)
{
    struct catalog_stream *s = catalog_get(a->cat, name, len);
    if (!s) {
        /* Names are at most 64 characters by now (validated); the copy only adds the NUL. */
        char z[65];
        size_t k = len < sizeof z - 1 ? len : sizeof z - 1;
        memcpy(z, name, k);
        z[k] = '\0';
        api_reply_not_found(a, ex, z);
    }
    return s;
}

struct catalog_stream *api_stream_lookup(struct api *a, struct http_exchange *ex, const cJSON *root)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamName");
    const char *name = cJSON_IsString(n) ? n->valuestring : "";
    return api_stream_lookup_name(a, ex, name, strlen(name));
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

static void handle_metrics(struct api *a, struct http_exchange *ex)
{
    struct buf b;
    buf_init(&b, 64u << 20);
    if (api_metrics_render(a, &b) == 0)
        reply_text(ex, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                   b.len);
    else
        reply_text(ex, 500, "text/plain", "metrics unavailable\n", 20);
    buf_fini(&b);
}

/* PutRecord(Batch), the hot path: most bodies are well-formed, and the single-pass scanner takes
 * those without building a tree (cJSON was a fifth of the server's CPU). Whatever it declines
 * goes through cJSON and the model validator, which give AWS's exact error. */
static void handle_put(struct api *a, struct http_exchange *ex, const struct http_request *req,
                       int batch, int64_t start_ns)
{
    struct api_put_recs recs;
    const char *name = NULL;
    size_t name_len = 0;
    if (api_fastput_parse(batch, req->body, req->body_len, &name, &name_len, &recs) == 0) {
        api_op_put(a, ex, name, name_len, batch, &recs, start_ns);
        return;
    }
    struct api_err e;
    api_err_init(&e);
    cJSON *root = NULL;
    if (api_put_parse(batch, req->body, req->body_len, &root, &name, &name_len, &recs, &e))
        api_reply_err(ex, &e);
    else
        api_op_put(a, ex, name, name_len, batch, &recs, start_ns);
    cJSON_Delete(root);
    api_err_fini(&e);
}

static void dispatch(struct api *a, struct http_exchange *ex, enum api_op op, const cJSON *root)
{
    switch (op) {
    case API_OP_CREATE:
        api_op_create(a, ex, root);
        return;
    case API_OP_DELETE:
        api_op_delete(a, ex, root);
        return;
    case API_OP_DESCRIBE:
        api_op_describe(a, ex, root);
        return;
    case API_OP_LIST:
        api_op_list(a, ex, root);
        return;
    case API_OP_LIST_TAGS:
        api_op_list_tags(a, ex, root);
        return;
    case API_OP_START_ENCRYPTION:
        api_op_start_encryption(a, ex, root);
        return;
    case API_OP_STOP_ENCRYPTION:
        api_op_stop_encryption(a, ex, root);
        return;
    case API_OP_TAG:
        api_op_tag(a, ex, root);
        return;
    case API_OP_UNTAG:
        api_op_untag(a, ex, root);
        return;
    case API_OP_UPDATE:
        api_op_update(a, ex, root);
        return;
    case API_OP_PUT_RECORD:
    case API_OP_PUT_RECORD_BATCH:
    case API_OP_COUNT:
        break;
    }
    /* Cannot happen: op comes from api_op_from_target, which returns only table entries, and
     * api_handle sends the puts to handle_put. */
    HY_ASSERT(0);
}

void api_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct api *a = ud;
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
        reply_error(ex, 404, "NotFoundException", "Not Found", 9);
        return;
    }
    int op = t ? api_op_from_target(t->value, t->value_len) : -1;
    if (op < 0) {
        /* Standard Coral error for a missing, foreign or unknown X-Amz-Target. */
        reply_error(ex, 400, "UnknownOperationException", "", 0);
        return;
    }
    if (op == API_OP_PUT_RECORD || op == API_OP_PUT_RECORD_BATCH) {
        handle_put(a, ex, req, op == API_OP_PUT_RECORD_BATCH, start_ns);
        return;
    }
    struct api_err e;
    api_err_init(&e);
    cJSON *root = NULL;
    if (api_valid_request((enum api_op)op, req->body, req->body_len, &root, &e))
        api_reply_err(ex, &e);
    else
        dispatch(a, ex, (enum api_op)op, root);
    cJSON_Delete(root);
    api_err_fini(&e);
}

/* ---------------------------------------------------------------- lifecycle */

void api_set_ready(struct api *a, int ready)
{
    atomic_store(&a->ready, ready ? 1 : 0);
}

/* Open every loaded stream; finish interrupted deletions. */
static int start_streams(struct api *a)
{
    struct catalog_stream **v = NULL;
    size_t n = 0;
    int rc = catalog_snapshot(a->cat, &v, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        struct catalog_stream *s = v[i];
        rc = api_stream_start(a, s);
        if (rc) {
            LOG_ERROR("api", "cannot open stream", "stream=%s err=%s", s->name, hy_errname(rc));
            break;
        }
        if (s->status == CATALOG_STATUS_DELETING) {
            api_stream_delete_now(a, s);
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

int api_new(const struct api_config *cfg, struct api **out)
{
    catalog_json_init();
    if (!cfg || !cfg->data_dir || !cfg->data_dir[0])
        return HY_EINVAL;
    int rc = HY_ENOMEM;
    struct buf s3;
    buf_init(&s3, 8192);
    struct api *a = hy_calloc(1, sizeof *a);
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
    api_free(a);
    return rc;
}

void api_shutdown(struct api *a)
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
        (void)api_stream_stop(s);
    }
    catalog_snapshot_free(v, n);
}

void api_free(struct api *a)
{
    if (!a)
        return;
    api_shutdown(a);
    catalog_free(a->cat);
    hy_free(a->data_dir);
    hy_free(a->region);
    hy_free(a->account_id);
    pthread_cond_destroy(&a->del_cond);
    pthread_mutex_destroy(&a->del_lock);
    hy_free(a);
}
