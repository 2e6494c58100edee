/*
 * libFuzzer target: HTTP/1.1 request head and body state machine (src/net/http_parse.c), fed the
 * way a connection feeds it. The first input byte picks the limits and how the rest is cut into
 * deliveries; every feed sees an exact-size copy of the unparsed bytes (so ASan flags any read
 * past len, and the buffer "moves" between calls as a growing read buffer does). Pipelined
 * requests are parsed one after another until an error or the end of input.
 */
#include "base/err.h"
#include "base/hyassert.h"
#include "base/mem.h"
#include "net/http_int.h"

#include <stdint.h>
#include <string.h>

static bool inside(const char *p, size_t n, const char *lo, size_t len)
{
    return p >= lo && n <= len && (size_t)(p - lo) <= len - n;
}

static void check_views(const struct http_parser *p, const char *buf, size_t len, size_t used)
{
    const struct http_request *req = &p->req;
    HY_ASSERT(inside(req->method, req->method_len, buf, used));
    HY_ASSERT(inside(req->path, req->path_len, buf, used));
    HY_ASSERT(req->num_headers <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        HY_ASSERT(inside(h->name, h->name_len, buf, used));
        HY_ASSERT(inside(h->value, h->value_len, buf, used));
    }
    HY_ASSERT(req->body_len <= p->max_body_bytes);
    HY_ASSERT(inside(req->body, req->body_len, buf, used));
    HY_ASSERT(used <= len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++;
    size--;
    size_t max_header = 64 + (size_t)(seed & 7) * 256;
    size_t max_body = (size_t)16 << ((seed >> 3) & 7);
    unsigned rng = seed * 2654435761u + 1;

    char *conn = hy_malloc(size + 1); /* the connection's read buffer */
    if (!conn)
        return 0;
    struct http_parser p;
    http_parse_init(&p, max_header, max_body);
    size_t start = 0, len = 0, src = 0;
    for (;;) {
        if (len == start && src == size)
            break;
        if (src < size) {
            rng = rng * 1103515245u + 12345u;
            size_t step = 1 + (rng >> 16) % 97;
            if (step > size - src)
                step = size - src;
            memcpy(conn + len, data + src, step);
            len += step;
            src += step;
        }
        size_t avail = len - start;
        char *copy = hy_malloc(avail ? avail : 1);
        if (!copy)
            break;
        memcpy(copy, conn + start, avail);
        size_t after = avail;
        ssize_t r = http_parse_feed(&p, copy, &after);
        HY_ASSERT(after <= avail);
        memcpy(conn + start, copy, after);
        len = start + after;
        if (r > 0) {
            HY_ASSERT((size_t)r <= after);
            check_views(&p, copy, after, (size_t)r);
            start += (size_t)r;
            http_parse_reset(&p);
            (void)http_parse_wants_continue(&p, 0);
        } else if (r == HY_EAGAIN) {
            (void)http_parse_wants_continue(&p, after);
            if (src == size) {
                hy_free(copy);
                break;
            }
        } else {
            HY_ASSERT(p.status >= 400 && p.status <= 501 && p.reason);
            hy_free(copy);
            break;
        }
        hy_free(copy);
    }
    hy_free(conn);
    return 0;
}
