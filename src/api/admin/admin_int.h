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

#endif
