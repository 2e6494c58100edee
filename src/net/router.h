/*
 * router: picks the front for a request from one table, built in main.c. Rows are tried in
 * order; the first that matches gets the request:
 *   ROUTER_PATH_PREFIX    the request path starts with match ("/_hydrant/")
 *   ROUTER_TARGET_PREFIX  an X-Amz-Target header starts with match ("Firehose_20150804.";
 *                         "" matches any request that has the header)
 *   ROUTER_CTYPE_PREFIX   the Content-Type header starts with match ("application/x-amz-json")
 *   ROUTER_ANY            always (the fallback: S3 REST)
 * Adding a front is one row. The table is borrowed and read-only; any loop thread may route.
 */
#ifndef HY_ROUTER_H
#define HY_ROUTER_H

#include <stddef.h>

#include "net/http.h"

enum router_match {
    ROUTER_PATH_PREFIX = 0,
    ROUTER_TARGET_PREFIX,
    ROUTER_ANY,
    ROUTER_CTYPE_PREFIX,
};

struct router_route {
    enum router_match match;
    const char *prefix; /* NULL for ROUTER_ANY */
    http_handler_fn handler;
    void *ud;
};

struct router {
    const struct router_route *routes;
    size_t n;
};

/* The http_handler_fn; ud is a struct router *. A request no row matches gets a plain 404. */
void router_handle(struct http_exchange *ex, const struct http_request *req, void *ud);

#endif
