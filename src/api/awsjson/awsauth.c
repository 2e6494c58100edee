/*
 * awsauth: verify, authorise, then hand over to the wrapped front.
 */
#include "api/awsjson/awsauth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/awsjson/awsjson.h"
#include "auth/sigv4.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"

struct awsauth {
    struct sigv4_config sv;
    char *region, *service, *account_id;
    http_handler_fn inner;
    void *inner_ud;
    atomic_uint_least64_t by_reason[16]; /* index: reason_index() */
};

struct awsauth *awsauth_new(const struct awsauth_config *cfg)
{
    struct awsauth *a = hy_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->region = cfg->region ? hy_strdup(cfg->region) : NULL;
    a->service = hy_strdup(cfg->service);
    a->account_id = hy_strdup(cfg->account_id ? cfg->account_id : "000000000000");
    if ((cfg->region && !a->region) || !a->service || !a->account_id) {
        awsauth_free(a);
        return NULL;
    }
    a->sv.creds = cfg->creds;
    a->sv.region = a->region;
    a->sv.service = a->service;
    a->sv.skew_s = cfg->skew_s;
    a->inner = cfg->inner;
    a->inner_ud = cfg->inner_ud;
    return a;
}

void awsauth_set_inner_ud(struct awsauth *a, void *ud)
{
    a->inner_ud = ud;
}

void awsauth_free(struct awsauth *a)
{
    if (!a)
        return;
    hy_free(a->region);
    hy_free(a->service);
    hy_free(a->account_id);
    hy_free(a);
}

/* Counter slots: the sigv4 statuses, then the two authorisation refusals. */
#define NSTATUS 11
static const char *const reason_labels[NSTATUS + 2] = {
    "ok",
    "missing",
    "incomplete",
    "unknown_key",
    "bad_token",
    "bad_signature",
    "bad_scope",
    "expired",
    "presign_expired",
    "bad_content_sha256",
    "nomem",
    "operation_not_allowed",
    "stream_not_allowed",
};

static void count(struct awsauth *a, const char *reason)
{
    for (int i = 0; i < NSTATUS + 2; i++)
        if (strcmp(reason_labels[i], reason) == 0)
            atomic_fetch_add(&a->by_reason[i], 1);
}

int awsauth_metrics_render(struct awsauth *a, struct buf *out)
{
    int rc = buf_append_str(out, "# TYPE hydrant_sigv4_requests_total counter\n");
    for (int i = 0; i < NSTATUS + 2 && !rc; i++)
        rc = buf_printf(
            out, "hydrant_sigv4_requests_total{service=\"%s\",result=\"%s\",reason=\"%s\"} %llu\n",
            a->service, i ? "denied" : "ok", reason_labels[i],
            (unsigned long long)atomic_load(&a->by_reason[i]));
    return rc;
}

static void deny(struct awsauth *a, struct http_exchange *ex, int status, const char *type,
                 const char *reason, const char *akid, const char *msg)
{
    char id[37];
    awsjson_request_id(id);
    count(a, reason);
    LOG_INFO("awsauth", "denied", "request_id=%s reason=%s akid=%s type=%s", id, reason,
             akid && *akid ? akid : "-", type);
    struct buf b;
    buf_init(&b, 4096);
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "Content-Type: " AWSJSON_CT "\r\nx-amzn-RequestId: %s\r\nx-amzn-ErrorType: %s\r\n", id,
             type);
    if (buf_printf(&b, "{\"__type\":\"%s\",\"message\":", type) == 0 &&
        buf_append_json_str(&b, msg, strlen(msg)) == 0 && buf_append(&b, "}", 1) == 0)
        http_respond(ex, status, hdr, b.data, b.len);
    else
        http_respond(ex, 500, hdr, "{\"__type\":\"InternalFailure\"}", 28);
    buf_fini(&b);
}

/* The key's id, for logs: from the Authorization header's Credential (best effort). */
static void akid_of(const struct http_request *req, char *out, size_t size)
{
    out[0] = '\0';
    const struct http_header *h = http_request_header(req, "Authorization");
    struct sigv4_auth a;
    const char *why;
    if (h && sigv4_parse_header(h->value, h->value_len, &a, &why) == 0)
        snprintf(out, size, "%s", a.akid);
}

void awsauth_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct awsauth *a = ud;
    struct sigv4_result res;
    enum sigv4_status st = sigv4_verify(&a->sv, req, (int64_t)time(NULL), &res);
    if (st != SIGV4_OK) {
        char akid[130];
        akid_of(req, akid, sizeof akid);
        switch (st) {
        case SIGV4_MISSING:
            deny(a, ex, 403, "MissingAuthenticationTokenException", reason_labels[st], akid,
                 res.message);
            break;
        case SIGV4_INCOMPLETE:
            deny(a, ex, 400, "IncompleteSignatureException", reason_labels[st], akid, res.message);
            break;
        case SIGV4_UNKNOWN_KEY:
        case SIGV4_BAD_TOKEN:
            deny(a, ex, 400, "UnrecognizedClientException", reason_labels[st], akid, res.message);
            break;
        case SIGV4_NOMEM:
            deny(a, ex, 500, "InternalFailure", reason_labels[st], akid, "out of memory");
            break;
        default:
            deny(a, ex, 400, "InvalidSignatureException", reason_labels[st], akid, res.message);
            break;
        }
        return;
    }
    const struct creds_entry *e = res.cred;
    /* Authorisation: the operation from X-Amz-Target, the stream from the body. */
    const struct http_header *t = http_request_header(req, "X-Amz-Target");
    const char *op = t ? memchr(t->value, '.', t->value_len) : NULL;
    size_t op_len = op ? t->value_len - (size_t)(op + 1 - t->value) : 0;
    char what[200];
    if (op && !creds_allows_operation(e, op + 1, op_len)) {
        snprintf(what, sizeof what,
                 "User: arn:aws:iam::%s:user/%s is not authorized to perform: %s:%.*s",
                 a->account_id, e->access_key_id, a->service, (int)op_len, op + 1);
        deny(a, ex, 400, "AccessDeniedException", "operation_not_allowed", e->access_key_id, what);
        return;
    }
    if (e->streams && req->body_len) {
        /* Only keys restricted to streams pay for this parse. */
        cJSON *doc = cJSON_ParseWithLength(req->body, req->body_len);
        const cJSON *n = doc ? cJSON_GetObjectItemCaseSensitive(doc, "DeliveryStreamName") : NULL;
        int denied =
            cJSON_IsString(n) && !creds_allows_stream(e, n->valuestring, strlen(n->valuestring));
        if (denied) {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "User: arn:aws:iam::%s:user/%s is not authorized to perform: %s:%.*s on "
                     "resource: arn:aws:firehose:%s:%s:deliverystream/%.64s",
                     a->account_id, e->access_key_id, a->service, (int)op_len, op ? op + 1 : "",
                     a->region ? a->region : "us-east-1", a->account_id, n->valuestring);
            cJSON_Delete(doc);
            deny(a, ex, 400, "AccessDeniedException", "stream_not_allowed", e->access_key_id, msg);
            return;
        }
        cJSON_Delete(doc);
    }
    atomic_fetch_add(&a->by_reason[0], 1);
    a->inner(ex, req, a->inner_ud);
}
