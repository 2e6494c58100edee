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
#include "base/hex.h"
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
    /* Keep error answers bounded even for a 1 MB value, cutting between two characters: half a
     * UTF-8 sequence would make the answer undecodable for SDKs. */
    if (value_len > 1024) {
        value_len = 1024;
        while (value_len && ((unsigned char)value[value_len] & 0xC0) == 0x80)
            value_len--;
    }
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

/* ---------------------------------------------------------------- request text */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629, table 3-7 of Unicode), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

/* The 4 hex digits at s as a value, or -1. */
static long hex4(const unsigned char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

#define R_UTF8 "Invalid UTF-8 in the request body"
#define R_CTRL "Illegal unescaped control character in the request body"
#define R_ESCAPE "Unrecognized character escape in a JSON string"
#define R_SURROGATE "Unpaired UTF-16 surrogate escape in a JSON string"

int awsjson_text_check(const char *text, size_t len, struct buf *nuls, const char **reason)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t i = 0, ordinal = 0;
    while (i < len) {
        unsigned char c = t[i];
        if (c != '"') {
            /* Outside strings only JSON whitespace may be a control character. */
            if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                *reason = R_CTRL;
                return HY_EBADMSG;
            }
            size_t k = utf8_seq(t + i, len - i);
            if (!k) {
                *reason = R_UTF8;
                return HY_EBADMSG;
            }
            i += k;
            continue;
        }
        i++;
        size_t dec = 0; /* decoded bytes, as UTF-8 */
        int nul = 0;
        for (;;) {
            if (i >= len)
                return 0; /* unterminated: the parser rejects it */
            c = t[i];
            if (c == '"') {
                i++;
                break;
            }
            if (c < 0x20) {
                *reason = R_CTRL; /* JSON: control characters must be escaped */
                return HY_EBADMSG;
            }
            if (c != '\\') {
                size_t k = utf8_seq(t + i, len - i);
                if (!k) {
                    *reason = R_UTF8;
                    return HY_EBADMSG;
                }
                i += k;
                dec += k;
                continue;
            }
            if (i + 1 >= len)
                return 0;
            unsigned char x = t[i + 1];
            if (x != 'u') {
                if (!memchr("\"\\/bfnrt", x, 8)) {
                    *reason = R_ESCAPE;
                    return HY_EBADMSG;
                }
                i += 2;
                dec++;
                continue;
            }
            long u = len - i >= 6 ? hex4(t + i + 2) : -1;
            if (u < 0) {
                *reason = R_ESCAPE;
                return HY_EBADMSG;
            }
            i += 6;
            if (u >= 0xDC00 && u <= 0xDFFF) {
                *reason = R_SURROGATE;
                return HY_EBADMSG;
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = len - i >= 6 && t[i] == '\\' && t[i + 1] == 'u' ? hex4(t + i + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    *reason = R_SURROGATE;
                    return HY_EBADMSG;
                }
                i += 6;
                dec += 4;
                continue;
            }
            if (u == 0)
                nul = 1;
            dec += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
        }
        if (nul && nuls) {
            struct awsjson_nul_str r = {ordinal, dec};
            int rc = buf_append(nuls, &r, sizeof r);
            if (rc)
                return rc;
        }
        ordinal++;
    }
    return 0;
}

size_t awsjson_utf16_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            k += c >= 0xF0 ? 2 : 1; /* a 4-byte sequence is a surrogate pair in UTF-16 */
    }
    return k;
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
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex_lower[b[i] >> 4];
        out[o++] = hex_lower[b[i] & 15];
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
