/*
 * firehose: the front's object, lookups, request dispatch and the --streams declaration.
 * Dispatch: POST with X-Amz-Target "Firehose_20150804.<Op>" goes to the operation (any other or
 * no target: UnknownOperationException); anything but POST is a 404. The router (net/router.h)
 * sends hydrant's own paths elsewhere before this front sees them.
 */
#include "api/firehose/firehose.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analytics/anset.h"
#include "api/firehose/firehose_int.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/service.h"
#include "net/http.h"

/* A --streams file is read whole; bigger than any sensible declaration. */
#define DECLARE_MAX_BYTES (16u << 20)

void firehose_reply_not_found(struct firehose *a, struct http_exchange *ex, const char *name)
{
    /* Firehose's wording. */
    awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceNotFoundException",
                         "Firehose %s under account %s not found.", name, a->account_id);
}

struct service_stream *firehose_stream_lookup_name(struct firehose *a, struct http_exchange *ex,
                                                   const char *name, size_t len)
{
    struct service_stream *st = NULL;
    if (service_stream_get(a->svc, name, len, &st)) {
        /* Names are at most 64 characters by now (validated); the copy only adds the NUL. */
        char z[65];
        size_t k = len < sizeof z - 1 ? len : sizeof z - 1;
        memcpy(z, name, k);
        z[k] = '\0';
        firehose_reply_not_found(a, ex, z);
        return NULL;
    }
    return st;
}

struct service_stream *firehose_stream_lookup(struct firehose *a, struct http_exchange *ex,
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

/* ---------------------------------------------------------------- --streams */

/* hydrant's own field of a --streams entry, and where it is stored (HydrantSettings). */
#define DECLARE_ANALYTICS_KEY "analytics"

/* The declared destination replaces the stored one whole. */
static int declare_edit(const cJSON *cur, cJSON **next, void *arg)
{
    *next = cJSON_Duplicate(arg, 1);
    return *next ? 0 : HY_ENOMEM;
}

/* hydrant's own stream options, beside the CreateDeliveryStream members of a --streams entry:
 * "HydrantOptions": {"CompressionFormat": "ZSTD"}. They are stored in the destination document
 * as "Hydrant" (which DescribeDeliveryStream never shows) and checked by the consumers. Returns
 * 0, or -1 with e set. */
static int declare_options(const cJSON *own, cJSON *dest, struct awsjson_err *e)
{
    if (!own)
        return 0;
    const cJSON *m;
    if (!cJSON_IsObject(own))
        goto bad;
    cJSON_ArrayForEach(m, own)
    {
        if (!(strcmp(m->string, "CompressionFormat") == 0 && cJSON_IsString(m)) &&
            !(strcmp(m->string, "MaxActivePartitions") == 0 && cJSON_IsNumber(m)))
            goto bad;
    }
    cJSON *c = cJSON_Duplicate(own, 1);
    if (!c || !cJSON_AddItemToObject(dest, "Hydrant", c)) {
        cJSON_Delete(c);
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return -1;
    }
    return 0;
bad:
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                    "HydrantOptions takes only \"CompressionFormat\" (a string) and "
                    "\"MaxActivePartitions\" (a number)");
    return -1;
}

/* The entry's hydrant-only "HydrantAnalytics" (analytics/anset.h) applied to the stream: set
 * when it differs from the stored settings, removed when the entry has none. */
static int declare_analytics(struct firehose *a, struct service_stream *st, cJSON *norm)
{
    struct service_stream_info info;
    int rc = service_stream_describe(a->svc, st, &info);
    if (rc) {
        cJSON_Delete(norm);
        return rc;
    }
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(info.settings, DECLARE_ANALYTICS_KEY);
    if ((!cur && !norm) || (cur && norm && cJSON_Compare(cur, norm, 1)))
        cJSON_Delete(norm);
    else
        rc = service_stream_set_settings(a->svc, st, DECLARE_ANALYTICS_KEY, norm);
    service_stream_info_fini(&info);
    return rc < 0 ? rc : 0;
}

/* One CreateDeliveryStream input (plus hydrant's own "HydrantOptions" and
 * "HydrantAnalytics"): validate as the API does, then create or
 * update. */
static int declare_one(struct firehose *a, const cJSON *item, size_t idx, char *err, size_t err_len)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL, *dest = NULL, *tags = NULL, *norm = NULL;
    struct service_stream *st = NULL;
    /* The AWS shape is validated without hydrant's own fields. */
    cJSON *input = cJSON_Duplicate(item, 1);
    cJSON *own = input ? cJSON_DetachItemFromObjectCaseSensitive(input, "HydrantOptions") : NULL;
    cJSON *an = input ? cJSON_DetachItemFromObjectCaseSensitive(input, "HydrantAnalytics") : NULL;
    char *text = input ? cJSON_PrintUnformatted(input) : NULL;
    const char *name = "";
    int rc = HY_ENOMEM;
    if (!text)
        goto out;
    rc = HY_EINVAL;
    const char *reason = NULL;
    if (firehose_valid_request(FIREHOSE_OP_CREATE, text, strlen(text), &root, &e) ||
        firehose_dest_from_create(root, &dest, &e) || declare_options(own, dest, &e))
        goto out;
    if (service_dest_check(a->svc, dest, &reason)) {
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "InvalidArgumentException", "%s",
                        reason ? reason : "Invalid destination");
        goto out;
    }
    const cJSON *enc_in =
        cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamEncryptionConfigurationInput");
    struct service_enc enc;
    if (enc_in && firehose_enc_from_input(enc_in, &enc, &e))
        goto out;
    /* Validated: a required 1-64 character string. */
    name = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamName")->valuestring;
    if (an) {
        struct anset set;
        char why[512];
        rc = anset_parse(an, name, &set, &norm, why, sizeof why);
        if (rc) {
            snprintf(err, err_len, "--streams entry %zu (%s): HydrantAnalytics: %s", idx, name,
                     rc == HY_EINVAL ? why : hy_strerror(rc));
            cJSON_Delete(an);
            an = NULL;
            rc = HY_EINVAL;
            goto done;
        }
        anset_fini(&set);
    }
    if (service_stream_get(a->svc, name, strlen(name), &st) == HY_ENOTFOUND) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "Tags");
        tags = cJSON_CreateArray();
        rc = HY_ENOMEM;
        if (!tags)
            goto out;
        rc = HY_EINVAL;
        if (cJSON_IsArray(list) && firehose_tags_add(tags, list, &e))
            goto out;
        rc = service_stream_create_enc(a->svc, name, dest, tags, enc_in ? &enc : NULL);
        dest = tags = NULL;
        if (rc == 0)
            LOG_INFO("firehose", "declared stream created", "stream=%s", name);
        if (rc == 0 && norm && service_stream_get(a->svc, name, strlen(name), &st) == 0) {
            rc = declare_analytics(a, st, norm);
            norm = NULL;
        }
        goto out;
    }
    struct service_stream_info info;
    rc = service_stream_describe(a->svc, st, &info);
    if (rc)
        goto out;
    if (!cJSON_Compare(info.dest, dest, 1)) {
        rc = service_stream_update_dest(a->svc, st, info.version, declare_edit, dest);
        if (rc == 0)
            LOG_INFO("firehose", "declared stream updated", "stream=%s", name);
    }
    /* A declared key the stream does not use yet is started; without a declaration the
     * stream's encryption is left as the API set it. */
    if (rc == 0 && enc_in &&
        !(info.enc_on && info.enc_customer == enc.customer &&
          (!enc.customer || strcmp(info.enc_key_arn, enc.key_arn) == 0))) {
        rc = service_enc_start(a->svc, st, &enc);
        if (rc == 0)
            LOG_INFO("firehose", "declared stream encryption started", "stream=%s", name);
    }
    service_stream_info_fini(&info);
    if (rc == 0) {
        rc = declare_analytics(a, st, norm);
        norm = NULL;
    }
out:
    if (rc && awsjson_err_done(&e))
        snprintf(err, err_len, "--streams entry %zu: %s: %s", idx, e.type,
                 e.msg.data ? e.msg.data : "");
    else if (rc)
        snprintf(err, err_len, "--streams entry %zu (%s): %s", idx, name, hy_strerror(rc));
done:
    service_stream_unref(st);
    cJSON_Delete(an);
    cJSON_Delete(norm);
    cJSON_free(text);
    cJSON_Delete(input);
    cJSON_Delete(own);
    cJSON_Delete(root);
    cJSON_Delete(dest);
    cJSON_Delete(tags);
    awsjson_err_fini(&e);
    return rc;
}

int firehose_declare(struct firehose *a, const char *path, char *err, size_t err_len)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fsutil_read_all(path, &text, &len, DECLARE_MAX_BYTES);
    if (rc) {
        snprintf(err, err_len, "cannot read %s: %s", path, hy_strerror(rc));
        return rc;
    }
    /* The file is parsed once here and each entry re-validated from its printed form, so text
     * the API would refuse (invalid UTF-8, a NUL that would cut a string short) must be refused
     * before cJSON sees it. */
    struct buf nuls;
    buf_init(&nuls, 1u << 20);
    const char *reason = NULL;
    rc = awsjson_text_check(text, len, &nuls, &reason);
    if (rc == 0 && nuls.len > 0) {
        rc = HY_EBADMSG;
        reason = "a string holds U+0000, which no stream name or destination field can store";
    }
    buf_fini(&nuls);
    if (rc) {
        snprintf(err, err_len, "%s: %s", path, reason ? reason : hy_strerror(rc));
        hy_free(text);
        return rc;
    }
    cJSON *list = cJSON_ParseWithLength(text, len);
    hy_free(text);
    if (!cJSON_IsArray(list)) {
        snprintf(err, err_len, "%s: not a JSON array of CreateDeliveryStream inputs", path);
        cJSON_Delete(list);
        return HY_EBADMSG;
    }
    size_t i = 0;
    rc = 0;
    for (const cJSON *item = list->child; item && !rc; item = item->next, i++) {
        if (!cJSON_IsObject(item)) {
            snprintf(err, err_len, "--streams entry %zu: not a JSON object", i);
            rc = HY_EBADMSG;
            break;
        }
        rc = declare_one(a, item, i, err, err_len);
    }
    cJSON_Delete(list);
    return rc;
}

/* ---------------------------------------------------------------- lifecycle */

int firehose_new(const struct firehose_config *cfg, struct firehose **out)
{
    catalog_json_init();
    if (!cfg || !cfg->svc)
        return HY_EINVAL;
    struct firehose *a = hy_calloc(1, sizeof *a);
    if (!a)
        return HY_ENOMEM;
    a->svc = cfg->svc;
    a->region = hy_strdup(cfg->region ? cfg->region : "us-east-1");
    a->account_id = hy_strdup(cfg->account_id ? cfg->account_id : "000000000000");
    a->dreg = cfg->dreg;
    if (!a->region || !a->account_id) {
        firehose_free(a);
        return HY_ENOMEM;
    }
    *out = a;
    return 0;
}

void firehose_free(struct firehose *a)
{
    if (!a)
        return;
    hy_free(a->region);
    hy_free(a->account_id);
    hy_free(a);
}
