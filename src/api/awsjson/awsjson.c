/*
 * awsjson: AWS error answers and replies. Validation errors follow Coral's format, which the AWS
 * JSON services share:
 *     1 validation error detected: Value 'x' at 'deliveryStreamName' failed to satisfy
 *     constraint: Member must have length less than or equal to 64
 *     2 validation errors detected: <error>; <error>
 */
#include "api/awsjson/awsjson.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/err.h"
#include "base/hytime.h"
#include "net/http.h"

#define AWSJSON_MSG_MAX (64u << 10)

void awsjson_err_init(struct awsjson_err *e)
{
    e->status = 0;
    e->type = NULL;
    e->nvalid = 0;
    buf_init(&e->msg, AWSJSON_MSG_MAX);
    buf_init(&e->items, AWSJSON_MSG_MAX);
}

void awsjson_err_fini(struct awsjson_err *e)
{
    buf_fini(&e->msg);
    buf_fini(&e->items);
}

void awsjson_err_set(struct awsjson_err *e, int status, const char *type, const char *fmt, ...)
{
    if (e->type)
        return;
    e->status = status;
    e->type = type;
    buf_reset(&e->msg);
    va_list ap;
    va_start(ap, fmt);
    /* A message that does not fit is cut; the type still tells the client what happened. */
    buf_vprintf(&e->msg, fmt, ap);
    va_end(ap);
}

void awsjson_err_validation(struct awsjson_err *e, const char *value, size_t value_len,
                            const char *path, const char *constraint)
{
    /* Keep error answers bounded even for a 1 MB value. */
    if (value_len > 1024)
        value_len = 1024;
    if (e->nvalid)
        buf_append_str(&e->items, "; ");
    buf_append_str(&e->items, "Value ");
    buf_append(&e->items, value, value_len);
    buf_printf(&e->items, " at '%s' failed to satisfy constraint: %s", path, constraint);
    e->nvalid++;
}

int awsjson_err_done(struct awsjson_err *e)
{
    if (e->type)
        return 1;
    if (!e->nvalid)
        return 0;
    e->status = AWSJSON_BAD_REQUEST;
    e->type = "ValidationException";
    buf_reset(&e->msg);
    buf_printf(&e->msg, "%d validation error%s detected: ", e->nvalid, e->nvalid == 1 ? "" : "s");
    buf_append(&e->msg, e->items.data, e->items.len);
    return 1;
}

/* ---------------------------------------------------------------- replies */

void awsjson_request_id(char out[37])
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

void awsjson_reply_json(struct http_exchange *ex, const char *body, size_t len)
{
    char id[37], hdr[160];
    awsjson_request_id(id);
    snprintf(hdr, sizeof hdr, "Content-Type: " AWSJSON_CT "\r\nx-amzn-RequestId: %s\r\n", id);
    http_respond(ex, 200, hdr, body, len);
}

void awsjson_reply_cjson(struct http_exchange *ex, cJSON *item)
{
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    cJSON_Delete(item);
    if (!text) {
        awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return;
    }
    awsjson_reply_json(ex, text, strlen(text));
    cJSON_free(text);
}

static void reply_error(struct http_exchange *ex, int status, const char *type, const char *msg,
                        size_t msg_len)
{
    char id[37], hdr[256];
    awsjson_request_id(id);
    snprintf(hdr, sizeof hdr,
             "Content-Type: " AWSJSON_CT "\r\nx-amzn-RequestId: %s\r\nx-amzn-ErrorType: %s\r\n", id,
             type);
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

void awsjson_reply_err(struct http_exchange *ex, struct awsjson_err *e)
{
    if (!awsjson_err_done(e))
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "unknown error");
    reply_error(ex, e->status, e->type, e->msg.data ? e->msg.data : "", e->msg.len);
}

void awsjson_reply_errorf(struct http_exchange *ex, int status, const char *type, const char *fmt,
                          ...)
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
