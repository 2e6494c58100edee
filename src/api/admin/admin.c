/*
 * admin: the /_hydrant/ endpoints' table and their small handlers.
 */
#include "api/admin/admin.h"

#include <stdio.h>
#include <string.h>

#include "api/admin/admin_int.h"
#include "base/buf.h"
#include "base/mem.h"
#include "core/service.h"
#include "net/http.h"

/* Bound of the metrics text: far above what 5,000 streams need. */
#define METRICS_MAX_BYTES (64u << 20)

static void reply_text(struct http_exchange *ex, int status, const char *ct, const char *body,
                       size_t len)
{
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Content-Type: %s\r\n", ct);
    http_respond(ex, status, hdr, body, len);
}

static void handle_health(struct admin *ad, struct http_exchange *ex)
{
    if (service_ready(ad->svc))
        reply_text(ex, 200, "text/plain", "ok\n", 3);
    else
        reply_text(ex, 503, "text/plain", "not ready\n", 10);
}

static void handle_metrics(struct admin *ad, struct http_exchange *ex)
{
    struct buf b;
    buf_init(&b, METRICS_MAX_BYTES);
    int rc = admin_metrics_render(ad->svc, &b);
    for (int i = 0; i < ad->nextra && !rc; i++)
        rc = ad->extra_metrics[i](ad->extra_ud[i], &b);
    if (rc == 0)
        reply_text(ex, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                   b.len);
    else
        reply_text(ex, 500, "text/plain", "metrics unavailable\n", 20);
    buf_fini(&b);
}

/* POST /_hydrant/streams/<name>/acknowledge-failure: an operator saw the stream's
 * FailureDescription; clear it. 200 {"DeliveryStreamName":...,"Cleared":true|false} (false:
 * none was set), 404 for an unknown stream, 500 if it cannot be persisted. */
static void handle_ack_failure(struct admin *ad, struct http_exchange *ex, const char *name,
                               size_t len)
{
    struct service_stream *st = NULL;
    if (len == 0 || memchr(name, '/', len) || service_stream_get(ad->svc, name, len, &st) < 0) {
        reply_text(ex, 404, "application/json", "{\"message\":\"no such stream\"}\n", 29);
        return;
    }
    int rc = service_stream_ack_failure(ad->svc, st);
    service_stream_unref(st);
    if (rc < 0) {
        reply_text(ex, 500, "application/json",
                   "{\"message\":\"could not persist the acknowledgement\"}\n", 52);
        return;
    }
    char body[160];
    /* The name was found, so it matches [a-zA-Z0-9_.-]{1,64}: no escaping needed. */
    int n = snprintf(body, sizeof body, "{\"DeliveryStreamName\":\"%.*s\",\"Cleared\":%s}\n",
                     (int)len, name, rc == 1 ? "true" : "false");
    reply_text(ex, 200, "application/json", body, (size_t)n);
}

#define STREAMS_PREFIX "/_hydrant/streams/"
#define ACK_SUFFIX "/acknowledge-failure"
#define ANALYTICS_SUFFIX "/analytics"

/* GET (and HEAD) endpoints, by exact path (a query string is ignored). */
static const struct {
    const char *path;
    void (*fn)(struct admin *ad, struct http_exchange *ex);
} routes[] = {
    {"/_hydrant/health", handle_health},
    {"/_hydrant/metrics", handle_metrics},
};

void admin_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct admin *ad = ud;
    size_t n = req->path_len;
    const char *q = memchr(req->path, '?', n);
    if (q)
        n = (size_t)(q - req->path);
    int get = (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
              (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
    size_t pl = sizeof STREAMS_PREFIX - 1, sl = sizeof ACK_SUFFIX - 1;
    if (n > pl + sl && memcmp(req->path, STREAMS_PREFIX, pl) == 0 &&
        memcmp(req->path + n - sl, ACK_SUFFIX, sl) == 0) {
        if (req->method_len != 4 || memcmp(req->method, "POST", 4) != 0) {
            http_respond(ex, 405, "Allow: POST\r\nContent-Type: text/plain\r\n",
                         "method not allowed\n", 19);
            return;
        }
        handle_ack_failure(ad, ex, req->path + pl, n - pl - sl);
        return;
    }
    size_t al = sizeof ANALYTICS_SUFFIX - 1;
    if (n > pl + al && memcmp(req->path, STREAMS_PREFIX, pl) == 0 &&
        memcmp(req->path + n - al, ANALYTICS_SUFFIX, al) == 0) {
        admin_analytics(ad, ex, req, req->path + pl, n - pl - al);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strlen(routes[i].path) != n || memcmp(routes[i].path, req->path, n) != 0)
            continue;
        if (!get) {
            http_respond(ex, 405, "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                         "method not allowed\n", 19);
            return;
        }
        routes[i].fn(ad, ex);
        return;
    }
    reply_text(ex, 404, "text/plain", "not found\n", 10);
}

struct admin *admin_new(struct service *svc)
{
    struct admin *ad = hy_calloc(1, sizeof *ad);
    if (ad)
        ad->svc = svc;
    return ad;
}

void admin_add_metrics(struct admin *ad, int (*fn)(void *ud, struct buf *out), void *ud)
{
    if (ad->nextra == 4)
        return; /* cannot happen: main.c adds at most two */
    ad->extra_metrics[ad->nextra] = fn;
    ad->extra_ud[ad->nextra++] = ud;
}

void admin_free(struct admin *ad)
{
    hy_free(ad);
}
