/*
 * s3sink: delivery to an S3-compatible service (AWS S3, MinIO, moto, another hydrant...). A
 * writer buffers up to S3SINK_PART_LEN bytes; an object that stays below it is sent with one
 * PutObject at commit, a larger one becomes a multipart upload (create at the first full part,
 * one UploadPart per S3SINK_PART_LEN bytes, Complete at commit; abort sends
 * AbortMultipartUpload). So memory per writer is one part, whatever the object size. Requests
 * are signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4, "aws:amz:<region>:s3"); the payload hash
 * is computed here and sent as x-amz-content-sha256, and query strings are written in canonical
 * order, as libcurl 7.88 signs them verbatim (spec s3-rest-server.md section 11).
 *
 * Retries: each request is tried up to S3SINK_ATTEMPTS times on connection errors, timeouts,
 * 5xx, 429, SlowDown, RequestTimeout and a 200 carrying <Error> (Complete), with full-jitter
 * exponential backoff (rand(0,1) x min(100 ms x 2^attempt, 2 s)); past that the commit fails and
 * delivery retries the whole batch under the same key later (its own backoff), so the log keeps
 * every record until its object is confirmed, and a replayed batch replaces its object.
 *
 * Endpoints: --s3-endpoint URL for every bucket, --bucket-endpoint NAME=URL for one (wins);
 * a bucket with neither goes to the local store (fssink) as before. Path style
 * (URL/bucket/key) with --s3-path-style, else virtual-host (bucket.host/key).
 * Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the profile
 * AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials);
 * with none, requests go unsigned.
 *
 * Threads: the sink ctx is read-only after s3sink_new (any delivery thread); a writer belongs
 * to one thread and has its own curl handle.
 */
#ifndef HY_S3SINK_H
#define HY_S3SINK_H

#include <stddef.h>

#include "sink/sink.h"

#define S3SINK_PART_LEN (8u << 20)
#define S3SINK_ATTEMPTS 5

struct s3sink_endpoint {
    const char *bucket; /* NULL: the default endpoint */
    const char *url;    /* "http://host:port" (a path after it is kept as a base) */
};

struct s3sink_config {
    const struct s3sink_endpoint *endpoints; /* copied */
    size_t nendpoints;
    int path_style;
    const char *region;     /* NULL = us-east-1 */
    const char *local_root; /* fssink root for buckets without an endpoint */
};

struct s3sink;

/* sink_ops for remote buckets; its ctx is a struct s3sink *. */
extern const struct sink_ops s3sink_ops;

/* 0 and *out, HY_EINVAL (a URL that is not http(s)://...), HY_ENOMEM. Reads credentials now. */
int s3sink_new(const struct s3sink_config *cfg, struct s3sink **out);
void s3sink_free(struct s3sink *s);
/* Parse "NAME=URL" into e (views into arg, which must outlive e); 0 or HY_EINVAL. */
int s3sink_parse_bucket_endpoint(char *arg, struct s3sink_endpoint *e);

#endif
