/*
 * admin_analytics: /_hydrant/streams/<name>/analytics, a stream's live analytics settings
 * (analytics/anset.h), hydrant-only (never in an AWS shape).
 *   PUT    validate, store with the stream and (re)start detection: 200 {"DeliveryStreamName",
 *          "Analytics": the stored settings, defaults written out}; 400 {"message"} for bad input
 *   GET    200 {"DeliveryStreamName","Analytics"}; 404 when none are set
 *   DELETE 200 {"DeliveryStreamName","Removed":true|false}
 * 404 for an unknown stream, 409 while it is not ACTIVE. Runs on the HTTP loop and blocks on the
 * catalog's fsync and the consumer's restart, as the acknowledge-failure endpoint does.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "analytics/anset.h"
#include "api/admin/admin_int.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "core/service.h"
#include "net/http.h"

#define KEY "analytics"

static void reply(struct http_exchange *ex, int status, const char *body)
{
    http_respond(ex, status, "Content-Type: application/json\r\n", body, strlen(body));
}

static void reply_msg(struct http_exchange *ex, int status, const char *msg)
{
    struct buf b;
    buf_init(&b, 4096);
    if (buf_append_str(&b, "{\"message\":") || buf_append_json_str(&b, msg, strlen(msg)) ||
        buf_append_str(&b, "}\n"))
        reply(ex, 500, "{\"message\":\"out of memory\"}\n");
    else
        reply(ex, status, b.data);
    buf_fini(&b);
}

/* {"DeliveryStreamName":name, field: v} */
static void reply_obj(struct http_exchange *ex, const char *name, const char *field, cJSON *v)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && cJSON_AddStringToObject(o, "DeliveryStreamName", name) &&
        cJSON_AddItemToObject(o, field, v)) {
        v = NULL;
        text = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(v);
    cJSON_Delete(o);
    if (!text) {
        reply(ex, 500, "{\"message\":\"out of memory\"}\n");
        return;
    }
    size_t n = strlen(text);
    http_respond(ex, 200, "Content-Type: application/json\r\n", text, n);
    cJSON_free(text);
}

static void do_put(struct admin *ad, struct http_exchange *ex, const struct http_request *req,
                   struct service_stream *st, const char *name)
{
    cJSON *in = req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!in) {
        reply_msg(ex, 400, "the body must be a JSON object of analytics settings");
        return;
    }
    struct anset s;
    cJSON *norm = NULL;
    char err[512];
    int rc = anset_parse(in, name, &s, &norm, err, sizeof err);
    cJSON_Delete(in);
    if (rc == HY_EINVAL) {
        reply_msg(ex, 400, err);
        return;
    }
    if (rc) {
        reply_msg(ex, 500, hy_strerror(rc));
        return;
    }
    anset_fini(&s);
    cJSON *shown = cJSON_Duplicate(norm, 1);
    rc = service_stream_set_settings(ad->svc, st, KEY, norm);
    if (rc == HY_ECLOSED)
        reply_msg(ex, 409, "the stream is not ACTIVE");
    else if (rc < 0 || !shown)
        reply_msg(ex, 500, "could not store the settings");
    else {
        reply_obj(ex, name, "Analytics", shown);
        shown = NULL;
    }
    cJSON_Delete(shown);
}

static void do_get(struct admin *ad, struct http_exchange *ex, struct service_stream *st,
                   const char *name)
{
    struct service_stream_info info;
    if (service_stream_describe(ad->svc, st, &info)) {
        reply_msg(ex, 500, "out of memory");
        return;
    }
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(info.settings, KEY);
    service_stream_info_fini(&info);
    if (!v) {
        reply_msg(ex, 404, "the stream has no analytics settings");
        return;
    }
    reply_obj(ex, name, "Analytics", v);
}

static void do_delete(struct admin *ad, struct http_exchange *ex, struct service_stream *st,
                      const char *name)
{
    int rc = service_stream_set_settings(ad->svc, st, KEY, NULL);
    if (rc == HY_ECLOSED)
        reply_msg(ex, 409, "the stream is not ACTIVE");
    else if (rc < 0)
        reply_msg(ex, 500, "could not store the settings");
    else
        reply_obj(ex, name, "Removed", cJSON_CreateBool(rc == 0));
}

void admin_analytics(struct admin *ad, struct http_exchange *ex, const struct http_request *req,
                     const char *name, size_t len)
{
    catalog_json_init();
    int put = req->method_len == 3 && memcmp(req->method, "PUT", 3) == 0;
    int get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
    int del = req->method_len == 6 && memcmp(req->method, "DELETE", 6) == 0;
    if (!put && !get && !del) {
        http_respond(ex, 405, "Allow: GET, PUT, DELETE\r\nContent-Type: text/plain\r\n",
                     "method not allowed\n", 19);
        return;
    }
    struct service_stream *st = NULL;
    char nm[CATALOG_NAME_MAX + 1];
    if (len == 0 || len > CATALOG_NAME_MAX || memchr(name, '/', len) ||
        service_stream_get(ad->svc, name, len, &st) < 0) {
        reply_msg(ex, 404, "no such stream");
        return;
    }
    memcpy(nm, name, len);
    nm[len] = '\0';
    if (put)
        do_put(ad, ex, req, st, nm);
    else if (get)
        do_get(ad, ex, st, nm);
    else
        do_delete(ad, ex, st, nm);
    service_stream_unref(st);
}
