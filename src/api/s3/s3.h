/*
 * s3: the S3 REST front over the local buckets that the embedded store (sink/fssink.h) fills.
 * Served as an http_handler_fn, as the router's fallback: a request with no X-Amz-Target, no
 * AWS JSON content type and not under /_hydrant/ is S3. Path-style (/bucket/key) and
 * virtual-host (Host: bucket.<domain>) addressing; XML replies and S3's XML errors. Wire
 * reference: ../shared/specs/s3-rest-server.md.
 *
 * Storage: an object is the file fssink maps its key to, <root>/<bucket>/<path>, so objects that
 * streams deliver are listed and served at once. Its metadata (ETag, Content-Type and the other
 * stored headers, x-amz-meta-*) is a small text blob in the extended attribute "user.hydrant.s3"
 * of the file: it is written on the temp file before the rename, so it travels atomically with
 * the bytes and survives restarts. Objects written by delivery carry none; their ETag (MD5) is
 * computed on first read and cached in the attribute (a replacing rename brings a new inode, so
 * a cached ETag never outlives its bytes). Multipart uploads live in <root>/.mpu/<upload id>/.
 *
 * Bodies up to the HTTP server's body limit (8 MiB by default) arrive whole; larger PutObject and
 * UploadPart bodies with a Content-Length stream to disk as they arrive (s3_stream.c). GET
 * answers are built in memory, at most 240 MiB (ranged GETs, which aws-cli uses above 8 MiB,
 * keep that small).
 * With creds, SigV4 is verified first (s3_auth.c); without, the front is open. File I/O runs
 * on the loop thread.
 *
 * Threads: s3_handle runs on any HTTP loop thread; the struct is read-only after s3_new.
 */
#ifndef HY_S3_H
#define HY_S3_H

#include <stdint.h>

struct creds;
struct http_exchange;
struct http_request;

struct s3_config {
    const char *root;          /* <data-dir>/s3; borrowed for the front's life */
    const char *region;        /* NULL = "us-east-1" */
    const char *domain;        /* virtual-host domain; NULL = "localhost" */
    const struct creds *creds; /* NULL: open; else every request must carry a valid SigV4
                                  signature (s3_auth.c); borrowed for the front's life */
};

struct s3;

/* 0 and *out, or HY_ENOMEM. Caller frees with s3_free. */
int s3_new(const struct s3_config *cfg, struct s3 **out);
/* The http_handler_fn; ud is the struct s3 *. Answers every request exactly once; blocks on
 * local disk I/O. */
void s3_handle(struct http_exchange *ex, const struct http_request *req, void *ud);
/* NULL is a no-op. */
void s3_free(struct s3 *s);

struct http_body_stream;
/* The http_stream_fn (net/http.h) for bodies over the HTTP body limit: a stream to the object's
 * or part's temp file for an S3 PutObject / UploadPart into an existing bucket (or upload),
 * NULL for anything else (the server answers 413). ud is the struct s3 *. Loop thread. */
struct http_body_stream *s3_stream_open(const struct http_request *req, uint64_t len, void *ud);

#endif
