/*
 * router: first matching row wins (router.h).
 */
#include "net/router.h"

#include <string.h>

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

void router_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    const struct router *r = ud;
    const struct http_header *target = NULL;
    int target_known = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct router_route *rt = &r->routes[i];
        int hit = 0;
        switch (rt->match) {
        case ROUTER_PATH_PREFIX:
            hit = starts_with(req->path, req->path_len, rt->prefix);
            break;
        case ROUTER_TARGET_PREFIX:
            if (!target_known) {
                target = http_request_header(req, "X-Amz-Target");
                target_known = 1;
            }
            hit = target && starts_with(target->value, target->value_len, rt->prefix);
            break;
        case ROUTER_CTYPE_PREFIX: {
            const struct http_header *ct = http_request_header(req, "Content-Type");
            hit = ct && starts_with(ct->value, ct->value_len, rt->prefix);
            break;
        }
        case ROUTER_ANY:
            hit = 1;
            break;
        }
        if (hit) {
            rt->handler(ex, req, rt->ud);
            return;
        }
    }
    http_respond(ex, 404, "Content-Type: text/plain\r\n", "not found\n", 10);
}
