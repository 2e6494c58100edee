/*
 * admin: hydrant's own endpoints under /_hydrant/ (not an AWS protocol): GET /_hydrant/health
 * (200 "ok" while the service is ready, else 503), GET /_hydrant/metrics (Prometheus text,
 * admin_metrics.c) and POST /_hydrant/streams/<name>/acknowledge-failure (clears the stream's
 * FailureDescription). Later issues add streams, analytics, console and the rest here, one handler
 * per path in admin.c's table. Served as an http_handler_fn on loop threads.
 */
#ifndef HY_ADMIN_H
#define HY_ADMIN_H

struct admin;
struct buf;
struct http_exchange;
struct http_request;
struct service;

/* A front over svc (borrowed for its life). NULL on allocation failure. */
struct admin *admin_new(struct service *svc);
void admin_free(struct admin *ad);
/* Append another module's Prometheus text to /_hydrant/metrics (the OIDC gate's counters): fn
 * is called on a loop thread per scrape and returns 0 or an error. One hook; call before serving.
 */
void admin_add_metrics(struct admin *ad, int (*fn)(void *ud, struct buf *out), void *ud);
/* The http_handler_fn; ud is the struct admin *. */
void admin_handle(struct http_exchange *ex, const struct http_request *req, void *ud);

#endif
