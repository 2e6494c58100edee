/*
 * awsauth: SigV4 in front of an AWS JSON-protocol front (Firehose today, Glue next). A request
 * reaches the wrapped handler only when its signature verifies (auth/sigv4.h) and its access key
 * may perform the operation (X-Amz-Target) on the stream (DeliveryStreamName, when the key's
 * "Streams" list restricts it). Otherwise it is answered with the error AWS's JSON services give:
 *   no Authorization            403 MissingAuthenticationTokenException
 *   malformed Authorization     400 IncompleteSignatureException
 *   unknown key / bad token     400 UnrecognizedClientException
 *   wrong signature, scope, date window, content hash
 *                               400 InvalidSignatureException
 *   operation or stream not allowed to the key
 *                               400 AccessDeniedException
 * and a JSON log line (mod awsauth) with the request id, reason and key id.
 *
 * Threads: awsauth_handle runs on loop threads; the struct is read-only after awsauth_new.
 */
#ifndef HY_AWSAUTH_H
#define HY_AWSAUTH_H

#include "auth/creds.h"
#include "net/http.h"

struct buf;

struct awsauth_config {
    const struct creds *creds; /* borrowed for the awsauth's life */
    const char *region;        /* scope region required (NULL: any) */
    const char *service;       /* "firehose" */
    const char *account_id;    /* shown in AccessDenied messages */
    int skew_s;                /* 0: 15 min */
    http_handler_fn inner;
    void *inner_ud;
};

/* NULL on allocation failure. Strings are copied. */
struct awsauth *awsauth_new(const struct awsauth_config *cfg);
void awsauth_free(struct awsauth *a);
/* Set the wrapped handler's ud (when the front is created after its guard). Before serving. */
void awsauth_set_inner_ud(struct awsauth *a, void *ud);
/* Prometheus text: hydrant_sigv4_requests_total{service,result,reason}. 0 or HY_E2BIG/ENOMEM. */
int awsauth_metrics_render(struct awsauth *a, struct buf *out);
/* The http_handler_fn; ud is the struct awsauth *. */
void awsauth_handle(struct http_exchange *ex, const struct http_request *req, void *ud);

#endif
