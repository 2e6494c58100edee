/*
 * admin_int: private to src/api/admin/.
 */
#ifndef HY_ADMIN_INT_H
#define HY_ADMIN_INT_H

#include "api/admin/admin.h"

struct buf;

struct admin {
    struct service *svc;
    int (*extra_metrics[4])(void *ud, struct buf *out); /* admin_add_metrics */
    void *extra_ud[4];
    int nextra;
};

/* The /_hydrant/metrics body (Prometheus text exposition 0.0.4). 0 or HY_ENOMEM / HY_E2BIG. */
int admin_metrics_render(struct service *svc, struct buf *out);

/* /_hydrant/streams/<name>/analytics (admin_analytics.c); name is len bytes of the path. */
struct http_exchange;
struct http_request;
void admin_analytics(struct admin *ad, struct http_exchange *ex, const struct http_request *req,
                     const char *name, size_t len);

#endif
