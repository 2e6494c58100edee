/*
 * http_parse: the socket-free request state machine (see http_int.h). The head is parsed by
 * picohttpparser; framing rules follow RFC 9112 section 6 (message body length).
 */
#include "net/http_int.h"

#include "base/err.h"
#include "base/hyassert.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

void http_parse_init(struct http_parser *p, size_t max_header_bytes, size_t max_body_bytes)
{
    memset(p, 0, sizeof *p);
    p->max_header_bytes = max_header_bytes;
    p->max_body_bytes = max_body_bytes;
    http_parse_reset(p);
}

void http_parse_reset(struct http_parser *p)
{
    p->stage = HTTP_PARSE_HEAD;
    p->last_len = 0;
    p->head_len = 0;
    p->content_length = 0;
    p->body_len = 0;
    p->keep_alive = false;
    p->expect_continue = false;
    p->body_seen = false;
    p->big = false;
    p->status = 0;
    p->reason = NULL;
    memset(&p->dec, 0, sizeof p->dec);
    /* Trailers must be eaten too, or their bytes would be taken for the next pipelined request. */
    p->dec.d.consume_trailer = 1;
    memset(&p->req, 0, sizeof p->req);
    p->req.headers = p->headers;
}

static ssize_t fail(struct http_parser *p, int status, const char *reason)
{
    p->status = status;
    p->reason = reason;
    return status == 413 || status == 431 ? HY_E2BIG : HY_EBADMSG;
}

static bool name_is(const struct http_header *h, const char *name, size_t len)
{
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

static bool value_is(const char *v, size_t n, const char *want)
{
    size_t len = strlen(want);
    return n == len && strncasecmp(v, want, len) == 0;
}

/* Connection is a comma-separated token list (RFC 9110 section 7.6.1). */
static void scan_connection(const char *v, size_t n, bool *want_close, bool *want_keep)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (value_is(v + start, end - start, "close"))
            *want_close = true;
        else if (value_is(v + start, end - start, "keep-alive"))
            *want_keep = true;
    }
}

/* phr answers -1 both for a malformed head and for one with more than HTTP_MAX_HEADERS fields.
 * RFC 6585 section 5 makes the latter 431, so count the field lines before the blank line (error
 * path only). */
static bool too_many_headers(const char *buf, size_t len)
{
    size_t lines = 0, start = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        size_t end = i > start && buf[i - 1] == '\r' ? i - 1 : i;
        if (end == start)
            break;                          /* the blank line ending the head */
        if (++lines > HTTP_MAX_HEADERS + 1) /* the request line is not a field */
            return true;
        start = i + 1;
    }
    return false;
}

/* Copy phr's views into our header array and work out framing and connection reuse. */
static ssize_t parse_head(struct http_parser *p, char *buf, size_t len)
{
    struct phr_header ph[HTTP_MAX_HEADERS];
    size_t nh = HTTP_MAX_HEADERS;
    const char *method, *path;
    size_t method_len, path_len;
    int minor = -1;

    int r = phr_parse_request(buf, len, &method, &method_len, &path, &path_len, &minor, ph, &nh,
                              p->last_len);
    if (r == -2) {
        if (len > p->max_header_bytes)
            return fail(p, 431, "request header too large");
        p->last_len = len;
        return HY_EAGAIN;
    }
    if (r < 0)
        return too_many_headers(buf, len) ? fail(p, 431, "too many request header fields")
                                          : fail(p, 400, "malformed request head");
    if ((size_t)r > p->max_header_bytes)
        return fail(p, 431, "request header too large");

    p->req.method = method;
    p->req.method_len = method_len;
    p->req.path = path;
    p->req.path_len = path_len;
    p->req.minor_version = minor;
    p->req.num_headers = nh;
    p->req.headers = p->headers;
    for (size_t i = 0; i < nh; i++) {
        p->headers[i].name = ph[i].name;
        p->headers[i].name_len = ph[i].name_len;
        p->headers[i].value = ph[i].value;
        p->headers[i].value_len = ph[i].value_len;
    }
    p->head_len = (size_t)r;
    return r;
}

/* Framing and connection semantics of a freshly parsed head. */
static ssize_t check_head(struct http_parser *p)
{
    bool have_length = false, chunked = false, conn_close = false, conn_keep = false;
    size_t length = 0;

    for (size_t i = 0; i < p->req.num_headers; i++) {
        const struct http_header *h = &p->headers[i];
        /* A continuation line (obsolete folding) comes back from phr with a NULL name. */
        if (!h->name)
            return fail(p, 400, "obsolete header folding");
        if (name_is(h, "content-length", 14)) {
            size_t v = 0;
            bool too_big = false;
            if (h->value_len == 0)
                return fail(p, 400, "invalid Content-Length");
            for (size_t k = 0; k < h->value_len; k++) {
                char c = h->value[k];
                if (c < '0' || c > '9')
                    return fail(p, 400, "invalid Content-Length");
                if (!too_big) {
                    size_t digit = (size_t)(c - '0');
                    /* Stop accumulating once past the limit or size_t, so v cannot wrap (the
                     * limit alone does not bound it when it is near SIZE_MAX). */
                    if (v > (SIZE_MAX - digit) / 10)
                        too_big = true;
                    else
                        v = v * 10 + digit;
                    if (v > p->max_body_bytes && v > p->max_stream_bytes)
                        too_big = true;
                }
            }
            if (too_big)
                return fail(p, 413, "request body too large");
            if (v > p->max_body_bytes)
                p->big = true; /* only a streamed body may be this large */
            /* RFC 9112 6.3: differing repeated lengths are unrecoverable framing errors. */
            if (have_length && v != length)
                return fail(p, 400, "conflicting Content-Length");
            have_length = true;
            length = v;
        } else if (name_is(h, "transfer-encoding", 17)) {
            if (chunked || !value_is(h->value, h->value_len, "chunked"))
                return fail(p, 501, "unsupported Transfer-Encoding");
            chunked = true;
        } else if (name_is(h, "connection", 10)) {
            scan_connection(h->value, h->value_len, &conn_close, &conn_keep);
        } else if (name_is(h, "expect", 6)) {
            if (value_is(h->value, h->value_len, "100-continue"))
                p->expect_continue = true;
        }
    }
    /* RFC 9112 6.1: both framings at once is a smuggling vector; refuse rather than guess. */
    if (have_length && chunked)
        return fail(p, 400, "both Content-Length and Transfer-Encoding");
    /* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing (1.0 peers and
     * intermediaries do not know chunked), so it is refused like the case above. */
    if (chunked && p->req.minor_version < 1)
        return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");

    if (p->req.minor_version >= 1)
        p->keep_alive = !conn_close;
    else
        p->keep_alive = conn_keep && !conn_close;
    if (p->req.minor_version < 1)
        p->expect_continue = false; /* 100 is an HTTP/1.1 status */

    p->content_length = length;
    p->stage = chunked ? HTTP_PARSE_BODY_CHUNKED : HTTP_PARSE_BODY_LENGTH;
    return 0;
}

ssize_t http_parse_feed(struct http_parser *p, char *buf, size_t *len)
{
    bool head_fresh = false;
    size_t consumed;

    if (p->stage == HTTP_PARSE_DONE)
        return fail(p, 500, "parser used after completion");
    if (p->stage == HTTP_PARSE_HEAD) {
        ssize_t r = parse_head(p, buf, *len);
        if (r < 0)
            return r;
        r = check_head(p);
        if (r < 0)
            return r;
        head_fresh = true;
    }

    if (p->stage == HTTP_PARSE_BODY_LENGTH) {
        /* A big body is never buffered: the server streams it (http.c) or refuses it. */
        if (p->big || *len - p->head_len < p->content_length)
            return HY_EAGAIN;
        p->body_len = p->content_length;
        consumed = p->head_len + p->content_length;
    } else {
        HY_ASSERT(p->stage == HTTP_PARSE_BODY_CHUNKED);
        size_t done = p->head_len + p->body_len;
        /* By the invariant in http_int.h every byte before `done` is head or payload. */
        HY_ASSERT(*len >= done);
        size_t n = *len - done;
        if (n == 0)
            return HY_EAGAIN;
        p->body_seen = true;
        ssize_t r = phr_decode_chunked(&p->dec.d, buf + done, &n);
        if (r == -1)
            return fail(p, 400, "malformed chunked body");
        p->body_len += n;
        if (p->body_len > p->max_body_bytes)
            return fail(p, 413, "request body too large");
        if (r == -2) {
            *len = p->head_len + p->body_len;
            /* Refuse a chunk announced too big now instead of after buffering most of it. */
            if (p->dec.d.bytes_left_in_chunk > p->max_body_bytes - p->body_len)
                return fail(p, 413, "request body too large");
            return HY_EAGAIN;
        }
        *len = p->head_len + p->body_len + (size_t)r;
        consumed = p->head_len + p->body_len;
    }

    if (!head_fresh) {
        /* The buffer may have moved since the head was parsed: rebuild the views. The head was
         * complete and valid before, so it parses again to the same length. */
        p->last_len = 0;
        ssize_t r = parse_head(p, buf, p->head_len);
        HY_ASSERT(r == (ssize_t)p->head_len);
    }
    p->req.body = buf + p->head_len;
    p->req.body_len = p->body_len;
    p->stage = HTTP_PARSE_DONE;
    return (ssize_t)consumed;
}

bool http_parse_wants_continue(const struct http_parser *p, size_t len)
{
    if (!p->expect_continue)
        return false;
    if (p->stage == HTTP_PARSE_BODY_LENGTH)
        return p->content_length > 0 && len == p->head_len;
    if (p->stage == HTTP_PARSE_BODY_CHUNKED)
        return !p->body_seen && len == p->head_len;
    return false;
}
